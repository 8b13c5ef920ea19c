//! The secrets a capture needs: those of its targets, of the SSH hosts and jump hosts they go
//! through, and those always redacted. Resolved once (a secret command may take seconds:
//! callers run this off any UI loop) and registered with the redactor.
use crate::config::Config;
use crate::model::CapturePlan;
use crate::redact::Redactor;
use crate::secret::SecretValue;
use std::{collections::BTreeMap, sync::Arc};

/// Resolves the secrets this plan needs (and those always redacted) and builds the redactor;
/// also returns the resolved values by secret name, for database runners' passwords.
pub fn redactor_for(
    config: &Config,
    plan: &CapturePlan,
) -> Result<(Arc<Redactor>, BTreeMap<String, SecretValue>), String> {
    let mut names: Vec<&str> = plan
        .targets
        .iter()
        .filter_map(|t| t.password_secret.as_deref())
        .collect();
    names.extend(
        config
            .secrets
            .iter()
            .filter(|(_, s)| s.always_redact)
            .map(|(n, _)| n.as_str()),
    );
    names.extend(
        plan.targets
            .iter()
            .filter_map(|t| config.ssh.get(&t.name))
            .filter_map(|o| o.passphrase_secret.as_deref()),
    );
    for target in &plan.targets {
        if let Some(jump) = config.ssh.get(&target.name).and_then(|o| o.jump.as_deref()) {
            jump_secret_names(config, jump, 0, &mut names);
        }
        // A database's `via` host authenticates like a jump host.
        if let Some(via) = via_of(target) {
            jump_secret_names(config, via, 0, &mut names);
        }
    }
    names.sort_unstable();
    names.dedup();
    let mut values = Vec::new();
    let mut resolved = BTreeMap::new();
    for name in names {
        let reference = config
            .secrets
            .get(name)
            .ok_or_else(|| format!("secret `{name}` is not defined"))?;
        let value = reference.resolve(name)?;
        values.push(value.expose().to_string());
        resolved.insert(name.to_string(), value);
    }
    Ok((Redactor::new(&values), resolved))
}

/// Secrets of the jump hosts in `chain` (comma-separated hops that name casefile.toml targets),
/// and of their own jump hosts: they authenticate the hop, so they are resolved and redacted too.
fn jump_secret_names<'c>(config: &'c Config, chain: &str, depth: usize, names: &mut Vec<&'c str>) {
    if depth > crate::ssh::MAX_JUMPS {
        return;
    }
    for hop in chain.split(',').map(str::trim) {
        if let Some(target) = config.targets.iter().find(|t| t.name == hop) {
            names.extend(target.password_secret.as_deref());
        }
        if let Some(options) = config.ssh.get(hop) {
            names.extend(options.password_secret.as_deref());
            names.extend(options.passphrase_secret.as_deref());
            if let Some(next) = options.jump.as_deref() {
                jump_secret_names(config, next, depth + 1, names);
            }
        }
    }
}

/// The SSH host a database target is reached through, if any.
pub(super) fn via_of(target: &crate::model::Target) -> Option<&str> {
    match &target.spec {
        crate::model::TargetSpec::Mysql(a) | crate::model::TargetSpec::Postgres(a) => {
            a.via.as_deref()
        }
        _ => None,
    }
}
