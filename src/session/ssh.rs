//! The SSH side of a capture: ~/.ssh/config, casefile.toml's SSH options, and the secrets of
//! the SSH hosts (and jump hosts) a plan connects to.
use super::secrets::via_of;
use crate::config::Config;
use crate::model::CapturePlan;

/// The SSH settings of this capture: ~/.ssh/config, casefile.toml's SSH options, the secrets
/// SSH targets (and the jump hosts they name) use, and `--accept-new`.
/// Its ~/.ssh/config warnings are added to `warnings` when the capture uses SSH at all.
pub fn ssh_context(
    config: &Config,
    plan: &CapturePlan,
    ssh_config: crate::ssh::SshConfig,
    accept_new: bool,
    warnings: &mut Vec<String>,
) -> Result<crate::ssh::SshContext, String> {
    let hosts = ssh_hosts_of(config, plan);
    if !hosts.is_empty() {
        warnings.extend(ssh_config.warnings.iter().cloned());
    }
    let mut ssh = crate::ssh::SshContext::new(ssh_config);
    ssh.accept_new = accept_new;
    ssh.jumps =
        crate::ssh::JumpPool::new(config.handshakes.unwrap_or(crate::ssh::DEFAULT_HANDSHAKES));
    ssh.options = config.ssh.clone();
    ssh.inventory = config.targets.clone();
    for name in &hosts {
        let Some(options) = config.ssh.get(name) else {
            continue;
        };
        for secret in [&options.password_secret, &options.passphrase_secret]
            .into_iter()
            .flatten()
        {
            let reference = config
                .secrets
                .get(secret)
                .ok_or_else(|| format!("secret `{secret}` is not defined"))?;
            ssh.secrets
                .insert(secret.clone(), reference.resolve(secret)?);
        }
    }
    Ok(ssh)
}

/// The SSH hosts a capture may connect to: its SSH targets, the hosts its databases are
/// reached `via`, and (transitively) the inventory jump hosts of both: their secrets are
/// resolved for the SSH context.
fn ssh_hosts_of(config: &Config, plan: &CapturePlan) -> Vec<String> {
    use crate::model::TargetSpec;
    let mut names: Vec<String> = Vec::new();
    for target in &plan.targets {
        let name = match &target.spec {
            TargetSpec::Ssh { .. } => Some(target.name.clone()),
            _ => via_of(target).map(str::to_string),
        };
        if let Some(name) = name.filter(|n| !names.contains(n)) {
            names.push(name);
        }
    }
    let mut index = 0;
    while index < names.len() {
        if let Some(jump) = config.ssh.get(&names[index]).and_then(|o| o.jump.clone()) {
            for hop in jump.split(',').map(str::trim) {
                if config.ssh.contains_key(hop) && !names.iter().any(|n| n == hop) {
                    names.push(hop.to_string());
                }
            }
        }
        index += 1;
    }
    names
}
