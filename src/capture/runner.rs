//! The seam where target kinds plug in: one `TargetRunner` per target, shared by its streams
//! (an SSH host keeps one connection; a database one session). Adding a kind adds a variant and a file.
use super::db::DbRunner;
use super::live::LiveView;
use super::local::LocalRunner;
use super::ssh::SshRunner;
use crate::model::{StreamSpec, Target, TargetSpec};
use crate::secret::SecretValue;
use crate::snapshot::OutputFile;
use crate::snapshot::artifact::ArtifactFile;
use crate::snapshot::journal::Fd;
use std::io;
use tokio_util::sync::CancellationToken;

/// How a stream's run ended, before it is turned into a manifest status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOutcome {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub cancelled: bool,
    /// The stream could not run, or broke off (spawn error, lost connection, write error).
    pub error: Option<String>,
    /// What the step reads does not exist on this target (a missing table, view or extension):
    /// the stream is "not available", with this reason.
    pub not_available: Option<String>,
    /// The runner stopped the step early because its output reached a cap (`max_bytes`,
    /// a database row cap): the output is cut, nothing went wrong.
    pub truncated: bool,
}

/// Where a runner puts a stream's output: the snapshot files first, then the live view.
pub struct StreamIo<'a> {
    pub stdout: OutputFile,
    pub stderr: OutputFile,
    /// The machine-readable copy (database steps: JSON lines), written to disk only.
    pub data: Option<OutputFile>,
    /// The capture's live view, and this stream's place in it.
    pub live: &'a LiveView,
    pub stream: usize,
    /// The file a `fetch` step copies from its target (not redacted, not shown live).
    pub artifact: Option<ArtifactFile>,
}

impl StreamIo<'_> {
    /// Stores a chunk (disk first) and shows it live.
    pub fn chunk(&mut self, fd: Fd, data: &[u8]) -> io::Result<()> {
        self.chunks(fd, &[data])
    }

    /// Stores pieces that arrived back to back as one chunk (see [`OutputFile::write_chunks`]).
    pub fn chunks<B: AsRef<[u8]>>(&mut self, fd: Fd, pieces: &[B]) -> io::Result<()> {
        let file = match fd {
            Fd::Out => &mut self.stdout,
            Fd::Err => &mut self.stderr,
        };
        let written = file.write_chunks(pieces)?;
        if !written.is_empty() {
            self.live.push(self.stream, fd, written);
            self.live.changed.notify_one();
        }
        Ok(())
    }

    /// Stores bytes of the machine-readable copy (not shown live); a no-op without one.
    pub fn data_chunk(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.data {
            Some(file) => file.write_chunk(data).map(|_| ()),
            None => Ok(()),
        }
    }

    /// True once the text output reached its cap: a runner can stop producing more.
    pub fn stdout_full(&self) -> bool {
        self.stdout.truncated()
    }

    /// True once stdout or stderr reached its cap: whatever the step prints next is dropped,
    /// so the runner stops the step instead of letting it burn CPU until its timeout.
    pub fn output_full(&self) -> bool {
        self.stdout.truncated() || self.stderr.truncated()
    }

    /// Stores bytes of the fetched file; an error if the step has no `fetch`.
    pub fn artifact_chunk(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.artifact {
            Some(file) => file.write(data),
            None => Err(io::Error::other(
                "this step has no fetch, so it has no artifact file",
            )),
        }
    }
}

/// Runs steps on one target.
#[derive(Debug)]
pub enum TargetRunner {
    Local(LocalRunner),
    Mysql(DbRunner),
    Postgres(DbRunner),
    Sqlite(DbRunner),
    Ssh(SshRunner),
}

impl TargetRunner {
    /// A runner for `target`, or why this build cannot capture from it.
    /// SSH targets (and databases `via` an SSH host) get `~/.ssh/config` and default settings;
    /// see [`TargetRunner::for_target_in`].
    pub fn for_target(target: &Target) -> Result<TargetRunner, String> {
        TargetRunner::for_target_in(target, &default_ssh_context(target))
    }

    /// A runner for `target`, with the capture's SSH settings (inventory, secrets, `--accept-new`).
    pub fn for_target_in(
        target: &Target,
        ssh: &crate::ssh::SshContext,
    ) -> Result<TargetRunner, String> {
        match &target.spec {
            TargetSpec::Local => Ok(TargetRunner::Local(LocalRunner::new())),
            TargetSpec::Mysql(_) | TargetSpec::Postgres(_) | TargetSpec::Sqlite { .. } => {
                TargetRunner::for_database_in(target, None, ssh)
            }
            TargetSpec::Ssh { .. } => {
                let endpoint = crate::ssh::resolve::resolve(target, ssh)?;
                Ok(TargetRunner::Ssh(SshRunner::new(
                    endpoint,
                    ssh.jumps.clone(),
                )))
            }
        }
    }

    /// A database runner; `password` comes from the target's `password_secret`, resolved by the
    /// caller (and registered with the redactor). It connects on the first step. A `via` host is
    /// looked up in `~/.ssh/config` only; see [`TargetRunner::for_database_in`].
    pub fn for_database(
        target: &Target,
        password: Option<SecretValue>,
    ) -> Result<TargetRunner, String> {
        TargetRunner::for_database_in(target, password, &default_ssh_context(target))
    }

    /// As [`TargetRunner::for_database`], resolving a `via` host with the capture's SSH settings.
    pub fn for_database_in(
        target: &Target,
        password: Option<SecretValue>,
        ssh: &crate::ssh::SshContext,
    ) -> Result<TargetRunner, String> {
        let runner = DbRunner::new(target, password, ssh)?;
        Ok(match &target.spec {
            TargetSpec::Mysql(_) => TargetRunner::Mysql(runner),
            TargetSpec::Postgres(_) => TargetRunner::Postgres(runner),
            _ => TargetRunner::Sqlite(runner),
        })
    }

    /// Waits until the target can take streams; the reason if it could not within `limit` (the
    /// step's timeout) of starting to connect. An SSH host connects here (a failure is kept for
    /// its streams to report), so the engine gives a host its stream slots once it is connected:
    /// the streams of a host that never answers all wait at once, and end together.
    pub async fn ready(&self, limit: std::time::Duration) -> Result<(), String> {
        match self {
            TargetRunner::Ssh(ssh) => ssh.ready(limit).await,
            _ => Ok(()),
        }
    }

    /// Runs one stream to its end, timeout or cancellation.
    pub async fn run(
        &self,
        spec: &StreamSpec,
        io: &mut StreamIo<'_>,
        cancel: &CancellationToken,
    ) -> RunOutcome {
        match self {
            TargetRunner::Local(local) => local.run(spec, io, cancel).await,
            TargetRunner::Mysql(db) | TargetRunner::Postgres(db) | TargetRunner::Sqlite(db) => {
                db.run(spec, io, cancel).await
            }
            TargetRunner::Ssh(ssh) => ssh.run(spec, io, cancel).await,
        }
    }
}

/// SSH settings without a capture's inventory: `~/.ssh/config` is read only for targets that
/// may connect over SSH (it can be slow with many Includes).
fn default_ssh_context(target: &Target) -> crate::ssh::SshContext {
    let uses_ssh = match &target.spec {
        TargetSpec::Ssh { .. } => true,
        TargetSpec::Mysql(a) | TargetSpec::Postgres(a) => a.via.is_some(),
        _ => false,
    };
    crate::ssh::SshContext::new(if uses_ssh {
        crate::ssh::SshConfig::load_default()
    } else {
        crate::ssh::SshConfig::default()
    })
}
