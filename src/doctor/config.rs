//! The config check: casefile.toml parses (an error names file:line:col and a fix) and every
//! `via` names an SSH target or a Host of ~/.ssh/config. Everything else needs the config, so
//! when this fails nothing else runs.
use super::{Check, Kind};
use crate::config::Config;
use crate::ssh::SshConfig;
use std::path::Path;

/// The config check and, when it passed, what the other checks need.
pub struct Loaded {
    pub check: Check,
    pub config: Option<Config>,
    pub ssh_config: SshConfig,
}

pub fn check(explicit: Option<&Path>) -> Loaded {
    let ssh_config = SshConfig::load_default();
    let place = Config::locate(explicit)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "(no config file)".into());
    let config = match Config::load(explicit) {
        Ok(config) => config,
        Err(e) => {
            return Loaded {
                check: failed(place, &e),
                config: None,
                ssh_config,
            };
        }
    };
    if let Err(e) = config.check_via(|name| ssh_config.knows_host(name)) {
        return Loaded {
            check: failed(place, &e),
            config: None,
            ssh_config,
        };
    }
    let detail = match &config.file {
        Some(_) => format!(
            "parses: {} target{}, {} secret{}, {} runbook{}",
            config.targets.len(),
            plural(config.targets.len()),
            config.secrets.len(),
            plural(config.secrets.len()),
            config.runbooks.len(),
            plural(config.runbooks.len()),
        ),
        None => "no config file: defaults only (the local target, built-in presets)".into(),
    };
    Loaded {
        check: Check::ok(Kind::Config, place, detail),
        config: Some(config),
        ssh_config,
    }
}

/// `file:line:col: message`, and the error's hint (or "edit file:line") as the fix.
fn failed(place: String, e: &crate::source_error::SourceError) -> Check {
    Check::fail(
        Kind::Config,
        place,
        format!("{}:{}:{}: {}", e.file, e.line, e.column, e.message),
        e.hint
            .clone()
            .unwrap_or_else(|| format!("edit {}:{}", e.file, e.line)),
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
