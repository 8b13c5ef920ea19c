//! How many streams may run at once, and where. A fleet must not queue behind a global count:
//! each target gets its own limit (an SSH host: channels on its one connection), and the only
//! global ceiling is the one the process can afford in file descriptors. Handshakes have their
//! own global limit, in [`crate::ssh::JumpPool`].
use crate::model::{Target, TargetSpec};
use std::sync::OnceLock;

/// Streams at once on one SSH host: channels on its one connection. Stock sshd allows 10
/// sessions per connection (`MaxSessions`); 8 keeps room and runs a 14-step preset in two waves.
pub const DEFAULT_PER_HOST: usize = 8;
/// Streams at once on the local machine (processes beside casefile's own): the old global default.
pub const LOCAL_PER_TARGET: usize = 64;
/// Streams at once on one database: its runner has one session and runs steps one after another,
/// so a second stream would only wait there (shown running, its timeout ticking, files open).
pub const DATABASE_PER_TARGET: usize = 1;
/// File descriptors one running stream may hold: stdout, stderr, a data or artifact file, and
/// a local process's pipes.
const FDS_PER_STREAM: u64 = 4;
/// Descriptors kept for everything else: sockets to hosts, the journal, the terminal, logs.
const FDS_RESERVED: u64 = 256;
/// The automatic global ceiling never goes beyond this, whatever the descriptor limit.
const MAX_AUTO_CONCURRENCY: u64 = 16_384;

/// The limits an [`crate::capture::Engine`] runs a plan with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Streams running at once in total: a ceiling for file descriptors, not a queue for fleets.
    pub total: usize,
    /// Streams at once on one SSH host.
    pub per_host: usize,
}

impl Limits {
    /// `total` (`None`: as many as file descriptors allow) and `per_host` (`None`:
    /// [`DEFAULT_PER_HOST`]), each at least 1.
    pub fn new(total: Option<usize>, per_host: Option<usize>) -> Limits {
        Limits {
            total: total.unwrap_or_else(auto_concurrency).max(1),
            per_host: per_host.unwrap_or(DEFAULT_PER_HOST).max(1),
        }
    }

    /// Streams at once on `target`.
    pub fn per_target(&self, target: &Target) -> usize {
        match target.spec {
            TargetSpec::Ssh { .. } => self.per_host,
            TargetSpec::Local => LOCAL_PER_TARGET,
            TargetSpec::Mysql(_) | TargetSpec::Postgres(_) | TargetSpec::Sqlite { .. } => {
                DATABASE_PER_TARGET
            }
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::new(None, None)
    }
}

/// The global ceiling when none is set: what the descriptor limit (raised, see
/// [`raise_fd_limit`]) leaves after a reserve, at [`FDS_PER_STREAM`] each.
pub fn auto_concurrency() -> usize {
    let fds = raise_fd_limit();
    let streams = fds.saturating_sub(FDS_RESERVED) / FDS_PER_STREAM;
    streams.clamp(16, MAX_AUTO_CONCURRENCY) as usize
}

/// Raises the soft limit on open files to the hard limit (once per process) and returns the
/// limit in force. Shells default to a soft limit of 1024 while the hard one is often far
/// higher; a capture of hundreds of hosts needs thousands of descriptors.
pub fn raise_fd_limit() -> u64 {
    static LIMIT: OnceLock<u64> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        use nix::sys::resource::{Resource, getrlimit, setrlimit};
        let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
            return 1024;
        };
        if hard > soft && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
            tracing::debug!(from = soft, to = hard, "raised the open-files limit");
            return hard;
        }
        soft
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleets_get_a_limit_per_host_and_databases_one_stream() {
        let limits = Limits::new(Some(100), Some(3));
        let ssh = Target {
            name: "web1".into(),
            spec: TargetSpec::Ssh {
                user: None,
                host: "web1".into(),
                port: None,
            },
            tags: vec![],
            source: "inline".into(),
            password_secret: None,
        };
        assert_eq!(limits.per_target(&ssh), 3);
        assert_eq!(limits.per_target(&Target::local()), LOCAL_PER_TARGET);
        assert_eq!(
            Limits::new(Some(0), Some(0)),
            Limits {
                total: 1,
                per_host: 1
            }
        );
        assert_eq!(Limits::new(Some(5), None).per_host, DEFAULT_PER_HOST);
    }

    #[test]
    fn the_automatic_ceiling_follows_the_descriptor_limit() {
        let fds = raise_fd_limit();
        let (soft, _) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .expect("getrlimit");
        assert_eq!(soft, fds, "the soft limit is the one reported");
        let auto = auto_concurrency() as u64;
        assert!(auto >= 16);
        assert!(
            auto * FDS_PER_STREAM + FDS_RESERVED <= fds.max(16 * FDS_PER_STREAM + FDS_RESERVED)
        );
    }
}
