//! `casefile doctor`: checks a setup before the incident, not during it. Each check is one
//! line of the report, `ok`, `fail` (with what to do) or `skip` (nothing to check), one file per
//! kind:
//!
//! - [`config`]: casefile.toml parses (errors name file:line:col) and every `via` is known;
//! - [`secrets`]: every secret reference resolves (values are never shown);
//! - [`ssh`]: every SSH target is reachable, its host key is already known (new keys are never
//!   accepted here) and logging in works, over the capture's own connect code;
//! - [`db`]: every database target accepts the login and its session is read-only, opened the
//!   way a capture opens it;
//! - [`s3`]: the S3 destination takes a small test object, which is then removed;
//! - [`pagerduty`]: the PagerDuty token can list incidents;
//! - [`capture_dir`]: the capture folder is writable and private (0700).
//!
//! Network checks run concurrently, at most [`DEFAULT_CONCURRENCY`] at once, each within the
//! timeout. Nothing here prints: the front end formats the [`Report`]. Every text in it has
//! the resolved secret values taken out ([`Report::scrub`]), whatever a server echoed back.
mod capture_dir;
mod config;
mod db;
mod pagerduty;
mod s3;
mod scrub;
mod secrets;
mod ssh;

use futures::{FutureExt, StreamExt, future::BoxFuture};
use serde::Serialize;
use std::{path::PathBuf, time::Duration};

/// Network checks at once.
pub const DEFAULT_CONCURRENCY: usize = 16;
/// How long one network check may take (connect, login, the question asked).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Fail,
    /// Nothing to check (e.g. no S3 destination configured), or an earlier check failed.
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// The kinds of check, as `--only` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Config,
    Secrets,
    Ssh,
    Db,
    S3,
    Pagerduty,
    CaptureDir,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Config,
        Kind::Secrets,
        Kind::Ssh,
        Kind::Db,
        Kind::S3,
        Kind::Pagerduty,
        Kind::CaptureDir,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Config => "config",
            Kind::Secrets => "secrets",
            Kind::Ssh => "ssh",
            Kind::Db => "db",
            Kind::S3 => "s3",
            Kind::Pagerduty => "pagerduty",
            Kind::CaptureDir => "capture_dir",
        }
    }

    /// A name as written after `--only` (`capture-dir` and `capture_dir` both work).
    pub fn parse(text: &str) -> Result<Kind, String> {
        let wanted = text.trim().replace('-', "_").to_ascii_lowercase();
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == wanted)
            .ok_or_else(|| {
                format!(
                    "`{text}` is not a doctor check; use {}",
                    Kind::ALL.map(Kind::as_str).join(", ")
                )
            })
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    #[serde(rename = "name")]
    pub kind: Kind,
    /// What was checked: a target or secret name, the S3 URL, the API URL, the folder.
    pub target: String,
    pub status: Status,
    /// What was found, in words.
    pub detail: String,
    /// What to do about a failure.
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(kind: Kind, target: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            kind,
            target: target.into(),
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn fail(
        kind: Kind,
        target: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            kind,
            target: target.into(),
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn skip(kind: Kind, target: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            kind,
            target: target.into(),
            status: Status::Skip,
            detail: detail.into(),
            fix: None,
        }
    }
}

/// What the front end asked for.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// `--config` (else `CASEFILE_CONFIG`, else the default place).
    pub config: Option<PathBuf>,
    /// The kinds to run; empty = all. The config is always read (everything else needs it).
    pub only: Vec<Kind>,
    pub timeout: Duration,
    pub concurrency: usize,
}

impl Default for DoctorOptions {
    fn default() -> Self {
        DoctorOptions {
            config: None,
            only: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

impl DoctorOptions {
    fn wants(&self, kind: Kind) -> bool {
        self.only.is_empty() || self.only.contains(&kind)
    }
}

/// Every check, in a fixed order: config, secrets, SSH, databases, S3, PagerDuty, capture dir.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    /// True when some check failed (the command then exits 1).
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// Replaces every resolved secret value in every text with `[REDACTED]`: a server may echo
    /// what it was sent, and the report goes to a terminal or a CI log.
    fn scrub(&mut self, values: &[String]) {
        for check in &mut self.checks {
            check.target = scrub::scrub(&check.target, values);
            check.detail = scrub::scrub(&check.detail, values);
            if let Some(fix) = &mut check.fix {
                *fix = scrub::scrub(fix, values);
            }
        }
    }
}

/// Runs the checks `options` asks for.
pub async fn run(options: &DoctorOptions) -> Report {
    let mut report = Report::default();
    let loaded = config::check(options.config.as_deref());
    report.checks.push(loaded.check);
    let Some(config) = loaded.config else {
        return report;
    };
    let resolved = secrets::resolve_all(&config).await;
    if options.wants(Kind::Secrets) {
        report.checks.extend(secrets::checks(&config, &resolved));
    }
    let ssh = ssh::context(&config, loaded.ssh_config, &resolved, options.timeout);
    let mut pending: Vec<BoxFuture<'_, Check>> = Vec::new();
    if options.wants(Kind::Ssh) {
        for target in ssh::targets(&config) {
            pending.push(ssh::check(target, &ssh, options.timeout).boxed());
        }
    }
    if options.wants(Kind::Db) {
        for target in db::targets(&config) {
            pending.push(db::check(target, &resolved, &ssh, options.timeout).boxed());
        }
    }
    if options.wants(Kind::S3) {
        pending.push(s3::check(&config, options.timeout).boxed());
    }
    if options.wants(Kind::Pagerduty) {
        pending.push(pagerduty::check(&config, options.timeout).boxed());
    }
    let checks: Vec<Check> = futures::stream::iter(pending)
        .buffered(options.concurrency.max(1))
        .collect()
        .await;
    report.checks.extend(checks);
    if options.wants(Kind::CaptureDir) {
        report.checks.push(capture_dir::check(&config.capture_dir));
    }
    report.scrub(&resolved.values());
    report
}

/// `1.5s`-style text for messages.
fn seconds(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_parse_and_unknown_ones_list_the_choices() {
        assert_eq!(Kind::parse("capture-dir"), Ok(Kind::CaptureDir));
        assert_eq!(Kind::parse(" SSH "), Ok(Kind::Ssh));
        let err = Kind::parse("dns").expect_err("unknown");
        assert!(err.contains("ssh, db, s3"), "{err}");
    }

    #[test]
    fn scrub_takes_every_secret_value_out_of_every_field() {
        let mut report = Report {
            checks: vec![Check::fail(
                Kind::Db,
                "orders hunter2-pw",
                "server said: bad password hunter2-pw",
                "try hunter2-pw again",
            )],
        };
        report.scrub(&["hunter2-pw".to_string(), "x".to_string()]);
        let text = serde_json::to_string(&report).expect("json");
        assert!(!text.contains("hunter2-pw"), "{text}");
        assert!(text.contains("[REDACTED]"), "{text}");
        assert!(report.failed());
    }
}
