//! The capture session: everything between a plan and the engine, shared by every front end.
//! [`prepare`] resolves the secrets and the SSH settings (~/.ssh/config, casefile.toml), makes
//! the runners, the redactor and the snapshot writer, and returns warnings as data: the CLI
//! prints them on stderr, the TUI shows them in its own area. It blocks (secret commands,
//! ssh_config): the TUI runs it on a blocking thread.
mod runners;
mod secrets;
mod ssh;
mod targets;

pub use runners::runners_for;
pub use secrets::redactor_for;
pub use ssh::ssh_context;
pub use targets::{SSH_CONFIG_SOURCE, available_targets, select_targets};

use crate::capture::TargetRunner;
use crate::config::Config;
use crate::model::CapturePlan;
use crate::snapshot::SnapshotWriter;
use std::{path::PathBuf, sync::Arc};

/// What the front end chose beyond the plan.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// The folder the snapshot folder is created in.
    pub out_dir: PathBuf,
    /// SSH: record the host key of hosts not yet in known_hosts.
    pub accept_new: bool,
}

/// The engine's runner list: one per plan target.
pub type Runners = Vec<Result<TargetRunner, String>>;

/// A capture ready for the engine.
pub struct PreparedCapture {
    pub plan: CapturePlan,
    /// One per plan target, every one usable (the engine's runner list).
    pub runners: Runners,
    pub writer: Arc<SnapshotWriter>,
    /// Things the operator should know (e.g. ~/.ssh/config lines casefile ignores).
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for PreparedCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedCapture")
            .field("streams", &self.plan.streams.len())
            .field("dir", &self.writer.dir())
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

/// Why a capture could not be set up. Nothing ran.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// A secret, an SSH setting or a target that cannot be used.
    #[error("{0}")]
    Setup(String),
    #[error("cannot create the snapshot: {0}")]
    Snapshot(std::io::Error),
}

/// A failed [`prepare`], with the warnings gathered before it failed (they may say why).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct SetupFailed {
    pub error: SessionError,
    pub warnings: Vec<String>,
}

/// Prepares `plan` for the engine: SSH context, secrets and redactor, runners, then the
/// snapshot folder (created last, so a setup error leaves nothing on disk).
pub fn prepare(
    config: &Config,
    plan: CapturePlan,
    ssh_config: crate::ssh::SshConfig,
    options: &CaptureOptions,
) -> Result<PreparedCapture, SetupFailed> {
    let mut warnings = Vec::new();
    let result = prepare_inner(config, &plan, ssh_config, options, &mut warnings);
    match result {
        Ok((runners, writer)) => Ok(PreparedCapture {
            plan,
            runners,
            writer,
            warnings,
        }),
        Err(error) => Err(SetupFailed { error, warnings }),
    }
}

fn prepare_inner(
    config: &Config,
    plan: &CapturePlan,
    ssh_config: crate::ssh::SshConfig,
    options: &CaptureOptions,
    warnings: &mut Vec<String>,
) -> Result<(Runners, Arc<SnapshotWriter>), SessionError> {
    let ssh = ssh_context(config, plan, ssh_config, options.accept_new, warnings)
        .map_err(SessionError::Setup)?;
    let (redactor, secrets) = redactor_for(config, plan).map_err(SessionError::Setup)?;
    let runners = runners_for(plan, &secrets, &ssh);
    if let Some(Err(e)) = runners.iter().find(|r| r.is_err()) {
        return Err(SessionError::Setup(e.clone()));
    }
    let writer = SnapshotWriter::create(&options.out_dir, plan, redactor, operator())
        .map_err(SessionError::Snapshot)?;
    Ok((runners, writer))
}

/// `user@host` of whoever runs casefile.
pub fn operator() -> String {
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into());
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{user}@{host}")
}
