//! A database reached through an SSH host (`via = "NAME"`): the SSH connection (shared with every
//! other target using that host, through the capture's [`JumpPool`]) and a local forward over it,
//! both made on the first connect and kept as long as the runner. The database client then
//! connects to the forward's Unix socket, the capture session and the cancel connection alike.
use crate::ssh::{Forward, JumpPool, SshContext, SshEndpoint};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The way to one database server through one SSH host.
pub struct Via {
    /// The name as written in casefile.toml, for messages.
    name: String,
    bastion: Arc<SshEndpoint>,
    jumps: JumpPool,
    /// The database address as the SSH host sees it.
    host: String,
    port: u16,
    /// Private (0700) directory holding the forward's socket; removed with the runner.
    dir: tempfile::TempDir,
    socket: PathBuf,
    /// Made once; a failure is remembered so every step reports it instead of retrying.
    forward: OnceCell<Result<Forward, String>>,
}

impl std::fmt::Debug for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Via")
            .field("name", &self.name)
            .field("bastion", &self.bastion.describe())
            .finish_non_exhaustive()
    }
}

impl Via {
    /// Resolves the SSH host `name` and prepares a socket path called `socket_name`; connects
    /// nothing yet.
    pub fn new(
        name: &str,
        host: &str,
        port: u16,
        socket_name: &str,
        ssh: &SshContext,
    ) -> Result<Via, String> {
        let bastion = crate::ssh::resolve::resolve_via(name, ssh)?;
        let dir = tempfile::Builder::new()
            .prefix("casefile-via-")
            .tempdir()
            .map_err(|e| format!("via {name}: cannot make a directory for the forward: {e}"))?;
        let socket = dir.path().join(socket_name);
        Ok(Via {
            name: name.to_string(),
            bastion: Arc::new(bastion),
            jumps: ssh.jumps.clone(),
            host: host.to_string(),
            port,
            dir,
            socket,
            forward: OnceCell::new(),
        })
    }

    /// The directory the socket is in (PostgreSQL clients are given the directory).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The forward's socket (MySQL clients are given the file).
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Connects to the SSH host (or reuses the capture's connection to it) and starts the
    /// forward, once. Errors name the hop: `via NAME: …`.
    pub async fn ensure(&self) -> Result<(), String> {
        let made = self
            .forward
            .get_or_init(|| async {
                let connection = self.jumps.get(&self.bastion).await?;
                Forward::start(connection, &self.socket, &self.host, self.port)
                    .map_err(|e| format!("cannot listen on {}: {e}", self.socket.display()))
            })
            .await;
        made.as_ref()
            .map(|_| ())
            .map_err(|e| format!("via {}: {e}", self.name))
    }

    /// Why the last tunnel could not be opened (`via NAME: the SSH host could not reach …`).
    pub fn take_error(&self) -> Option<String> {
        match self.forward.get() {
            Some(Ok(forward)) => forward
                .take_error()
                .map(|e| format!("via {}: {e}", self.name)),
            _ => None,
        }
    }
}
