//! The secrets check: every `[secrets.NAME]` resolves now (env set, file readable, command
//! succeeds within its timeout) to a non-empty value. The report names the source, never the
//! value. The values are kept for the other checks (database and SSH passwords) and to scrub
//! the report.
use super::{Check, Kind};
use crate::config::Config;
use crate::secret::{SecretError, SecretRef, SecretValue};
use std::collections::BTreeMap;

/// Every secret of the config, resolved (or why not).
#[derive(Debug, Default)]
pub struct Resolved {
    pub by_name: BTreeMap<String, Result<SecretValue, SecretError>>,
}

impl Resolved {
    pub fn value(&self, name: &str) -> Option<&SecretValue> {
        self.by_name.get(name).and_then(|r| r.as_ref().ok())
    }

    /// The error to report for a secret a target needs, if it did not resolve.
    pub fn error(&self, name: &str) -> Option<String> {
        match self.by_name.get(name) {
            Some(Ok(_)) => None,
            Some(Err(e)) => Some(e.to_string()),
            None => Some(format!("secret `{name}` is not defined")),
        }
    }

    /// Every value to keep out of the report: the resolved secrets, plus the credentials other
    /// checks read from the environment.
    pub fn values(&self) -> Vec<String> {
        let mut values: Vec<String> = self
            .by_name
            .values()
            .filter_map(|r| r.as_ref().ok())
            .map(|v| v.expose().to_string())
            .collect();
        for var in [
            crate::pagerduty::TOKEN_ENV,
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ] {
            values.extend(SecretValue::from_env(var).map(|v| v.expose().to_string()));
        }
        values
    }
}

/// Resolves every secret, each on a blocking thread (a command secret may take seconds), all
/// at once.
pub async fn resolve_all(config: &Config) -> Resolved {
    let jobs = config.secrets.iter().map(|(name, reference)| {
        let (name, reference) = (name.clone(), reference.clone());
        async move {
            let task_name = name.clone();
            let result = tokio::task::spawn_blocking(move || reference.resolve(&task_name))
                .await
                .unwrap_or_else(|e| {
                    Err(SecretError::Spawn {
                        name: name.clone(),
                        reason: e.to_string(),
                    })
                });
            (name, result)
        }
    });
    Resolved {
        by_name: futures::future::join_all(jobs).await.into_iter().collect(),
    }
}

/// One check per secret.
pub fn checks(config: &Config, resolved: &Resolved) -> Vec<Check> {
    config
        .secrets
        .iter()
        .map(|(name, reference)| match resolved.by_name.get(name) {
            Some(Ok(_)) => Check::ok(
                Kind::Secrets,
                name,
                format!("resolves ({})", source(reference)),
            ),
            Some(Err(e)) => Check::fail(Kind::Secrets, name, e.to_string(), fix(e)),
            None => Check::skip(Kind::Secrets, name, "not resolved"),
        })
        .collect()
}

/// Where a secret comes from, without its value.
fn source(reference: &SecretRef) -> String {
    if let Some(var) = &reference.env {
        format!("environment variable {var}")
    } else if let Some(path) = &reference.file {
        format!("file {path}")
    } else if reference.command.is_some() {
        "command".into()
    } else {
        "no source".into()
    }
}

fn fix(error: &SecretError) -> String {
    match error {
        SecretError::EnvUnset { var, .. } => {
            format!(
                "export {var} in the environment casefile runs in (or use a file or command secret)"
            )
        }
        SecretError::File { path, .. } => {
            format!("create {path} (readable by you, e.g. mode 0600) or fix the path")
        }
        SecretError::Spawn { .. } | SecretError::CommandFailed { .. } => {
            "run the secret's command by hand and fix what it says (logged in to the vault?)".into()
        }
        SecretError::TimedOut { .. } => {
            "log in to the vault first, or raise the secret's timeout".into()
        }
        SecretError::InvalidUtf8 { .. } => "make the command print the secret as text".into(),
        SecretError::Empty { .. } => "put the value where the reference points".into(),
        SecretError::NoSource { .. } => "give the secret one of env, file or command".into(),
    }
}
