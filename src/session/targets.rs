//! One target resolution for every front end: casefile.toml's inventory, `local`, inline URLs,
//! and the Hosts of ~/.ssh/config (marked with that source).
use crate::config::Config;
use crate::model::Target;
use crate::ssh::SshConfig;

/// The `source` of targets that come from ~/.ssh/config (as `ssh_config_target` marks them).
pub const SSH_CONFIG_SOURCE: &str = "~/.ssh/config";

/// Every target an operator can pick: `local`, the inventory, then each ~/.ssh/config Host the
/// inventory does not already name.
pub fn available_targets(config: &Config, ssh_config: &SshConfig) -> Vec<Target> {
    let mut targets = config.all_targets();
    for host in &ssh_config.hosts {
        if !targets.iter().any(|t| &t.name == host) {
            targets.push(crate::ssh::resolve::ssh_config_target(host));
        }
    }
    targets
}

/// Resolves `--target` arguments: inventory names, `tag:TAG`, `local`, inline URLs, and
/// ~/.ssh/config Hosts.
pub fn select_targets(
    config: &Config,
    ssh_config: &SshConfig,
    selectors: &[String],
) -> Result<Vec<Target>, String> {
    let mut targets = Vec::new();
    for selector in selectors {
        match config.select_targets(selector) {
            Ok(found) => targets.extend(found),
            Err(_) if ssh_config.hosts.iter().any(|h| h == selector) => {
                targets.push(crate::ssh::resolve::ssh_config_target(selector))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_config_hosts_are_offered_and_selected_with_their_source() {
        let config = Config::parse(
            "casefile.toml",
            "[targets.web1]\nurl = \"ssh://ops@web1\"\n",
        )
        .expect("config");
        let ssh_config = SshConfig::parse(
            "ssh_config",
            "Host web1\n HostName 10.0.0.1\nHost bastion\n HostName 10.0.0.2\nHost *.internal\n User ops\n",
        );
        let all = available_targets(&config, &ssh_config);
        let named: Vec<(&str, &str)> = all
            .iter()
            .map(|t| (t.name.as_str(), t.source.as_str()))
            .collect();
        assert_eq!(
            named,
            vec![
                ("local", "built-in"),
                ("web1", "casefile.toml"),
                ("bastion", "~/.ssh/config")
            ],
            "the inventory wins over a Host of the same name; patterns are not hosts"
        );
        let picked = select_targets(
            &config,
            &ssh_config,
            &["bastion".to_string(), "web1".to_string()],
        )
        .expect("both resolve");
        assert_eq!(picked[0].source, SSH_CONFIG_SOURCE);
        assert_eq!(picked[1].source, "casefile.toml");
        let err = select_targets(&config, &ssh_config, &["nope".to_string()]).expect_err("unknown");
        assert!(err.contains("no target named `nope`"), "{err}");
    }
}
