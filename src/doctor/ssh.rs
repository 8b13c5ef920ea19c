//! The SSH check: every SSH target of the inventory is reachable, presents a host key that is
//! already in known_hosts, and accepts the login, through the capture's own connect code
//! (`ssh::connect`: jump hosts, agent, identity files, password and passphrase secrets).
//! Unlike a capture with `--accept-new` (or `StrictHostKeyChecking accept-new` in
//! ~/.ssh/config), the doctor never records a new host key: it says how to add it instead.
use super::secrets::Resolved;
use super::{Check, Kind, seconds};
use crate::config::Config;
use crate::model::{Target, TargetSpec};
use crate::ssh::{SshConfig, SshContext};
use std::{sync::Arc, time::Duration};

/// The SSH settings every SSH check (and every database `via`) shares: the inventory, the
/// resolved secrets, no `--accept-new`, and the doctor's timeout as the connect timeout.
pub fn context(
    config: &Config,
    ssh_config: SshConfig,
    resolved: &Resolved,
    timeout: Duration,
) -> SshContext {
    let mut ssh = SshContext::new(ssh_config);
    ssh.accept_new = false;
    // Databases' `via` hosts and jump hosts included: the doctor never records a key.
    ssh.refuse_new_host_keys = true;
    ssh.options = config.ssh.clone();
    ssh.inventory = config.targets.clone();
    ssh.connect_timeout = Some(timeout);
    for name in config.secrets.keys() {
        if let Some(value) = resolved.value(name) {
            ssh.secrets.insert(name.clone(), value.clone());
        }
    }
    ssh
}

/// The SSH targets of the inventory, in file order.
pub fn targets(config: &Config) -> Vec<&Target> {
    config
        .targets
        .iter()
        .filter(|t| matches!(t.spec, TargetSpec::Ssh { .. }))
        .collect()
}

/// Connects and logs in to `target`, then disconnects.
pub async fn check(target: &Target, ssh: &SshContext, timeout: Duration) -> Check {
    let name = target.name.clone();
    let endpoint = match crate::ssh::resolve::resolve(target, ssh) {
        Ok(endpoint) => endpoint,
        Err(e) => {
            return Check::fail(
                Kind::Ssh,
                name,
                e,
                "fix the target's SSH settings (casefile.toml or ~/.ssh/config) or the secret it names",
            );
        }
    };
    let who = endpoint.describe();
    let connecting = crate::ssh::connect(Arc::new(endpoint), ssh.jumps.clone());
    // Each hop has the timeout; the whole chain gets one more on top, so a stuck jump host ends too.
    match tokio::time::timeout(timeout.saturating_mul(2), connecting).await {
        Ok(Ok(connection)) => {
            let _ = connection
                .handle
                .disconnect(russh::Disconnect::ByApplication, "casefile doctor", "en")
                .await;
            Check::ok(
                Kind::Ssh,
                name,
                format!("{who}: reachable, host key known, logged in"),
            )
        }
        Ok(Err(e)) => {
            let fix = fix_for(&e, target);
            Check::fail(Kind::Ssh, name, e, fix)
        }
        Err(_) => Check::fail(
            Kind::Ssh,
            name,
            format!(
                "{who}: no login within {}",
                seconds(timeout.saturating_mul(2))
            ),
            "check that the host is up and reachable from here (firewall, VPN, jump host)",
        ),
    }
}

/// What to do, from the kind of failure the connect code reported.
fn fix_for(error: &str, target: &Target) -> String {
    let (host, port) = match &target.spec {
        TargetSpec::Ssh { host, port, .. } => (host.as_str(), port.unwrap_or(22)),
        _ => ("HOST", 22),
    };
    if error.contains("not in known_hosts") {
        format!(
            "check the fingerprint out of band, then add the key: ssh-keyscan -p {port} {host} >> ~/.ssh/known_hosts (compare `ssh-keygen -lf` with the fingerprint above), or run one capture with --accept-new"
        )
    } else if error.contains("HOST KEY CHANGED") {
        format!(
            "find out why the key changed; if the host was reinstalled, ssh-keygen -R '[{host}]:{port}' and add the new key after verifying it"
        )
    } else if error.contains("authentication failed") {
        "load a key into ssh-agent, set identity_file, or set password_secret on the target".into()
    } else if error.contains("secret") {
        "fix the secret reference (see the secrets checks)".into()
    } else {
        format!(
            "check that sshd runs on {host}:{port} and is reachable from here (host, port, firewall, jump host)"
        )
    }
}
