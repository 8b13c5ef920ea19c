//! A local forward over an SSH connection, like `ssh -L`: every connection accepted on a Unix
//! socket becomes a `direct-tcpip` channel to `host:port` *as the SSH host sees it* (its DNS, its
//! network), and bytes are copied both ways. Database targets with `via` connect through it.
//!
//! A Unix socket in a private (0700) temp dir, not a loopback TCP port: no other local user can
//! ride the tunnel, and the database client keeps the server's real host name for TLS checks
//! (sqlx verifies the certificate against `host`, and `socket` only says where to connect).
use super::connect::Connection;
use russh::ChannelOpenFailure;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::{JoinHandle, JoinSet};

/// A running forward; dropping it stops accepting and closes every tunnelled connection.
pub struct Forward {
    socket: PathBuf,
    task: JoinHandle<()>,
    /// Why the last channel could not be opened, for the client's error message (the client
    /// itself only sees its connection close).
    last_error: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for Forward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forward")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

impl Forward {
    /// Listens on `socket` (its directory must exist and be private) and forwards each
    /// connection to `host:port` through `connection`. Needs a Tokio runtime.
    pub fn start(
        connection: Arc<Connection>,
        socket: &Path,
        host: &str,
        port: u16,
    ) -> std::io::Result<Forward> {
        let listener = UnixListener::bind(socket)?;
        let last_error = Arc::new(Mutex::new(None));
        let task = tokio::spawn(accept_loop(
            listener,
            connection,
            host.to_string(),
            port,
            Arc::clone(&last_error),
        ));
        Ok(Forward {
            socket: socket.to_path_buf(),
            task,
            last_error,
        })
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The reason the last tunnel could not be opened, once (cleared by reading it).
    pub fn take_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|mut e| e.take())
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        // Aborting the loop drops its JoinSet, which aborts every copy task.
        self.task.abort();
        let _ = std::fs::remove_file(&self.socket);
    }
}

async fn accept_loop(
    listener: UnixListener,
    connection: Arc<Connection>,
    host: String,
    port: u16,
    last_error: Arc<Mutex<Option<String>>>,
) {
    let mut tunnels = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((local, _)) => {
                    let (connection, host, last_error) =
                        (Arc::clone(&connection), host.clone(), Arc::clone(&last_error));
                    tunnels.spawn(async move {
                        tunnel(local, &connection, &host, port, &last_error).await;
                    });
                }
                Err(e) => {
                    tracing::warn!("forward to {host}:{port}: accept failed: {e}");
                    return;
                }
            },
            // Reap finished tunnels so the set does not grow over a long capture.
            Some(_) = tunnels.join_next(), if !tunnels.is_empty() => {}
        }
    }
}

/// One connection: opens the channel, then copies until either side closes. A failure to open
/// is recorded *before* the local end closes, so the client's error path finds it.
async fn tunnel(
    mut local: UnixStream,
    connection: &Connection,
    host: &str,
    port: u16,
    last_error: &Mutex<Option<String>>,
) {
    let opened = connection
        .handle
        .channel_open_direct_tcpip(host, u32::from(port), "127.0.0.1", 0)
        .await;
    let channel = match opened {
        Ok(channel) => channel,
        Err(e) => {
            if let Ok(mut slot) = last_error.lock() {
                *slot = Some(open_error(&e, host, port));
            }
            drop(local);
            return;
        }
    };
    let mut remote = channel.into_stream();
    // Either side closing ends the tunnel; an error here is the connection ending, not news.
    let _ = tokio::io::copy_bidirectional(&mut local, &mut remote).await;
}

/// Why `direct-tcpip` to `host:port` failed, in the operator's terms.
fn open_error(e: &russh::Error, host: &str, port: u16) -> String {
    match e {
        russh::Error::ChannelOpenFailure(ChannelOpenFailure::ConnectFailed) => format!(
            "the SSH host could not reach {host}:{port} (channel open failed: connect failed): is the database listening there, and can that host resolve and reach it?"
        ),
        russh::Error::ChannelOpenFailure(ChannelOpenFailure::AdministrativelyProhibited) => {
            format!(
                "the SSH host refused to forward to {host}:{port} (channel open failed: administratively prohibited): its sshd needs AllowTcpForwarding yes (and PermitOpen allowing it)"
            )
        }
        russh::Error::ChannelOpenFailure(other) => format!(
            "the SSH host could not open a tunnel to {host}:{port} (channel open failed: {other:?})"
        ),
        russh::Error::SendError | russh::Error::Disconnect => {
            format!("the SSH connection is closed, so no tunnel to {host}:{port} could be opened")
        }
        other => format!("could not open a tunnel to {host}:{port}: {other}"),
    }
}
