//! `[watch]`: settings of `casefile watch` (the PagerDuty webhook receiver and poller).
use super::AtFn;
use super::paths::expand_home;
use crate::model::HumanDuration;
use crate::secret::SecretRef;
use crate::source_error::SourceError;
use serde::Deserialize;
use std::{collections::BTreeMap, path::PathBuf, time::Duration};
use toml::Spanned;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWatch {
    #[serde(default)]
    webhook_secret: Option<Spanned<String>>,
    #[serde(default)]
    events: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    cooldown: Option<HumanDuration>,
    #[serde(default)]
    queue: Option<Spanned<usize>>,
    #[serde(default)]
    concurrency: Option<Spanned<usize>>,
    #[serde(default)]
    state_dir: Option<String>,
    #[serde(default)]
    tls_cert: Option<Spanned<String>>,
    #[serde(default)]
    tls_key: Option<Spanned<String>>,
}

/// The watcher's settings, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchSettings {
    /// Name of the secret (under `[secrets]`) holding the webhook signing secret.
    pub webhook_secret: Option<String>,
    /// Event types that start a capture (never `incident.annotated`).
    pub events: Vec<String>,
    /// At most one capture per incident within this time.
    pub cooldown: Duration,
    /// Accepted captures waiting to run, at most.
    pub queue: usize,
    /// Captures running at once.
    pub concurrency: usize,
    /// Where the de-duplication state lives (default: the XDG state dir).
    pub state_dir: Option<PathBuf>,
    /// PEM certificate chain and private key: the listener speaks HTTPS itself.
    pub tls: Option<TlsFiles>,
}

/// A certificate chain and its private key, PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The event casefile's own note produces: acting on it would loop.
pub const NEVER_ACT_ON: &str = "incident.annotated";

impl Default for WatchSettings {
    fn default() -> Self {
        WatchSettings {
            webhook_secret: None,
            events: vec!["incident.triggered".into()],
            cooldown: Duration::from_secs(30 * 60),
            queue: 64,
            concurrency: 2,
            state_dir: None,
            tls: None,
        }
    }
}

pub(super) fn validate_watch(
    raw: RawWatch,
    secrets: &BTreeMap<String, SecretRef>,
    at: &AtFn<'_>,
) -> Result<WatchSettings, SourceError> {
    let mut settings = WatchSettings::default();
    if let Some(name) = raw.webhook_secret {
        if !secrets.contains_key(name.get_ref()) {
            return Err(at(
                Some(name.span()),
                format!(
                    "watch.webhook_secret names `{}`, which is not defined",
                    name.get_ref()
                ),
            )
            .with_hint(format!(
                "add [secrets.{}] with env, file or command",
                name.get_ref()
            )));
        }
        settings.webhook_secret = Some(name.into_inner());
    }
    if let Some(events) = raw.events {
        let mut list = Vec::new();
        for event in events {
            if event.get_ref() == NEVER_ACT_ON {
                return Err(at(
                    Some(event.span()),
                    "watch.events cannot hold incident.annotated: casefile's own note produces it"
                        .into(),
                )
                .with_hint("remove it; e.g. events = [\"incident.triggered\"]"));
            }
            if !event.get_ref().starts_with("incident.") {
                return Err(at(
                    Some(event.span()),
                    format!(
                        "watch.events: `{}` is not an incident event",
                        event.get_ref()
                    ),
                )
                .with_hint(
                    "e.g. \"incident.triggered\", \"incident.escalated\", \"incident.reopened\"",
                ));
            }
            list.push(event.into_inner());
        }
        settings.events = list;
    }
    if let Some(cooldown) = raw.cooldown {
        settings.cooldown = cooldown.0;
    }
    for (value, field, target) in [
        (raw.queue, "queue", &mut settings.queue),
        (raw.concurrency, "concurrency", &mut settings.concurrency),
    ] {
        if let Some(value) = value {
            if *value.get_ref() == 0 {
                return Err(at(
                    Some(value.span()),
                    format!("watch.{field} must be at least 1"),
                ));
            }
            *target = value.into_inner();
        }
    }
    settings.state_dir = raw.state_dir.map(|d| expand_home(&d));
    settings.tls = match (raw.tls_cert, raw.tls_key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: expand_home(cert.get_ref()),
            key: expand_home(key.get_ref()),
        }),
        (Some(one), None) | (None, Some(one)) => {
            return Err(at(
                Some(one.span()),
                "watch.tls_cert and watch.tls_key go together".into(),
            )
            .with_hint("set both (PEM files), or neither to listen in plain HTTP behind a proxy"));
        }
    };
    Ok(settings)
}
