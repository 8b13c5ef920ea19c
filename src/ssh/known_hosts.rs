//! Host key policy, as OpenSSH applies it: a key recorded in known_hosts (hashed entries too)
//! is accepted; an unknown host is refused unless the operator said `--accept-new` (then it is
//! learned); a changed key is always refused, loudly, with the file and line to look at.
use russh::keys::{
    HashAlg, PublicKey, check_known_hosts_path, known_hosts::learn_known_hosts_path,
};
use std::path::PathBuf;

/// What to do with a host that is not in any known_hosts file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownHostPolicy {
    Refuse,
    /// Learn it into the first known_hosts file (`--accept-new`, or `StrictHostKeyChecking accept-new`).
    AcceptNew,
}

/// The decision for one server key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyVerdict {
    Known,
    Learned {
        file: PathBuf,
    },
    Unknown {
        fingerprint: String,
    },
    Changed {
        fingerprint: String,
        file: PathBuf,
        line: usize,
    },
    /// A known_hosts file could not be read or written.
    Error(String),
}

impl HostKeyVerdict {
    pub fn accepted(&self) -> bool {
        matches!(self, HostKeyVerdict::Known | HostKeyVerdict::Learned { .. })
    }

    /// The reason a refused host's streams fail with.
    pub fn explain(&self, host: &str, port: u16) -> String {
        match self {
            HostKeyVerdict::Known | HostKeyVerdict::Learned { .. } => String::new(),
            HostKeyVerdict::Unknown { fingerprint } => format!(
                "host key of [{host}]:{port} is not in known_hosts ({fingerprint}); nothing was run. \
                 Check the fingerprint out of band, then rerun with --accept-new to record it"
            ),
            HostKeyVerdict::Changed {
                fingerprint,
                file,
                line,
            } => format!(
                "HOST KEY CHANGED for [{host}]:{port}: the server now presents {fingerprint}, which differs from \
                 {}:{line}. This may be a man-in-the-middle attack; nothing was run on this host. \
                 If the host was legitimately reinstalled, remove that line (ssh-keygen -R) and verify the new key",
                file.display()
            ),
            HostKeyVerdict::Error(e) => {
                format!("cannot check the host key of [{host}]:{port}: {e}")
            }
        }
    }
}

/// `SHA256:…` as `ssh-keygen -l` prints it, with the algorithm.
pub fn fingerprint(key: &PublicKey) -> String {
    format!(
        "{} key {}",
        key.algorithm().as_str(),
        key.fingerprint(HashAlg::Sha256)
    )
}

/// Checks `key` for `host:port` against `files` (the first is where new keys are learned).
pub fn check(
    host: &str,
    port: u16,
    key: &PublicKey,
    files: &[PathBuf],
    policy: UnknownHostPolicy,
) -> HostKeyVerdict {
    for file in files {
        match check_known_hosts_path(host, port, key, file) {
            Ok(true) => return HostKeyVerdict::Known,
            Ok(false) => {}
            Err(russh::keys::Error::KeyChanged { line }) => {
                return HostKeyVerdict::Changed {
                    fingerprint: fingerprint(key),
                    file: file.clone(),
                    line,
                };
            }
            Err(e) => return HostKeyVerdict::Error(format!("{}: {e}", file.display())),
        }
    }
    match (policy, files.first()) {
        (UnknownHostPolicy::AcceptNew, Some(file)) => {
            match learn_known_hosts_path(host, port, key, file) {
                Ok(()) => HostKeyVerdict::Learned { file: file.clone() },
                Err(e) => HostKeyVerdict::Error(format!(
                    "cannot record the key in {}: {e}",
                    file.display()
                )),
            }
        }
        _ => HostKeyVerdict::Unknown {
            fingerprint: fingerprint(key),
        },
    }
}
