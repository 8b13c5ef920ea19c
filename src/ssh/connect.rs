//! One authenticated SSH connection to a host (directly or through its jump hosts), checked
//! against known_hosts before anything is sent, with keepalives and a connect timeout.
use super::auth::authenticate;
use super::known_hosts::{self, HostKeyVerdict};
use super::resolve::SshEndpoint;
use russh::client::{self, Handle, Handler};
use russh::keys::PublicKeyOrCertificate;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Per-channel flow-control window: large enough that one stream fills a loopback or LAN link.
const WINDOW_SIZE: u32 = 16 << 20;
/// Largest SSH packet russh sends or accepts (OpenSSH's own is 32 KiB; 64 KiB halves per-packet work).
const MAX_PACKET: u32 = 65535;
/// AES-GCM first: CPUs with AES-NI run it several times faster than ChaCha20-Poly1305, and bulk
/// output (a heap dump, a pcap) is where the cipher shows.
const CIPHERS: &[russh::cipher::Name] = &[
    russh::cipher::AES_256_GCM,
    russh::cipher::AES_128_GCM,
    russh::cipher::CHACHA20_POLY1305,
    russh::cipher::AES_256_CTR,
    russh::cipher::AES_192_CTR,
    russh::cipher::AES_128_CTR,
];

/// The russh callbacks: host key policy, with the verdict kept for the error message.
pub struct Client {
    host: String,
    port: u16,
    endpoint: Arc<SshEndpoint>,
    verdict: Arc<Mutex<Option<HostKeyVerdict>>>,
}

impl Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let verdict = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => known_hosts::check(
                &self.host,
                self.port,
                key,
                &self.endpoint.known_hosts,
                self.endpoint.unknown_hosts,
            ),
            PublicKeyOrCertificate::Certificate(_) => HostKeyVerdict::Error(
                "the server presented a host certificate; casefile checks plain host keys only"
                    .into(),
            ),
        };
        let accepted = verdict.accepted();
        if let Ok(mut slot) = self.verdict.lock() {
            *slot = Some(verdict);
        }
        Ok(accepted)
    }
}

/// An open, authenticated connection; channels are opened on it per step.
pub struct Connection {
    pub handle: Handle<Client>,
    pub endpoint: Arc<SshEndpoint>,
    /// Kept alive as long as this connection: the tunnel runs over it.
    _jump: Option<Arc<Connection>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("endpoint", &self.endpoint.describe())
            .finish_non_exhaustive()
    }
}

fn russh_config(endpoint: &SshEndpoint) -> Arc<client::Config> {
    Arc::new(client::Config {
        window_size: WINDOW_SIZE,
        maximum_packet_size: MAX_PACKET,
        keepalive_interval: Some(endpoint.keepalive),
        keepalive_max: 3,
        nodelay: true,
        preferred: russh::Preferred {
            cipher: std::borrow::Cow::Borrowed(CIPHERS),
            ..russh::Preferred::DEFAULT
        },
        ..client::Config::default()
    })
}

/// Connections to jump hosts and `via` hosts, shared by every host and database behind them: a
/// fleet behind one bastion opens one connection to it (a bastion's sshd drops bursts of new
/// connections, `MaxStartups`).
#[derive(Debug, Clone, Default)]
pub struct JumpPool {
    connections: Arc<Mutex<HashMap<String, SharedConnection>>>,
}

type SharedConnection = Arc<tokio::sync::OnceCell<Result<Arc<Connection>, String>>>;

impl JumpPool {
    /// The connection to `endpoint`, made once per capture (a failure is remembered too).
    pub async fn get(&self, endpoint: &SshEndpoint) -> Result<Arc<Connection>, String> {
        let cell = {
            let mut map = self
                .connections
                .lock()
                .map_err(|_| "jump pool lock poisoned".to_string())?;
            Arc::clone(map.entry(endpoint.describe()).or_default())
        };
        cell.get_or_init(|| async {
            Box::pin(connect(Arc::new(endpoint.clone()), self.clone()))
                .await
                .map(Arc::new)
        })
        .await
        .clone()
    }
}

/// Connects and logs in to `endpoint` (through its jump hosts), within its connect timeout per hop.
pub async fn connect(endpoint: Arc<SshEndpoint>, jumps: JumpPool) -> Result<Connection, String> {
    let jump = match &endpoint.jump {
        Some(jump) => Some(
            jumps
                .get(jump)
                .await
                .map_err(|e| format!("jump host {}: {e}", jump.describe()))?,
        ),
        None => None,
    };
    let limit = endpoint.connect_timeout;
    match tokio::time::timeout(limit, handshake(Arc::clone(&endpoint), jump.as_deref())).await {
        Ok(Ok(mut handle)) => {
            match tokio::time::timeout(limit, authenticate(&mut handle, &endpoint)).await {
                Ok(Ok(())) => Ok(Connection {
                    handle,
                    endpoint,
                    _jump: jump,
                }),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(format!(
                    "{}: authentication did not finish within {}",
                    endpoint.describe(),
                    secs(limit)
                )),
            }
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!(
            "{}: no SSH handshake within {} (the host is unreachable, or it accepted the connection but never spoke SSH)",
            endpoint.describe(),
            secs(limit)
        )),
    }
}

/// TCP (or a tunnel through `jump`) plus key exchange and the host key check.
async fn handshake(
    endpoint: Arc<SshEndpoint>,
    jump: Option<&Connection>,
) -> Result<Handle<Client>, String> {
    let verdict = Arc::new(Mutex::new(None));
    let handler = Client {
        host: endpoint.host.clone(),
        port: endpoint.port,
        endpoint: Arc::clone(&endpoint),
        verdict: Arc::clone(&verdict),
    };
    let config = russh_config(&endpoint);
    let result = match jump {
        Some(jump) => {
            let channel = jump
                .handle
                .channel_open_direct_tcpip(
                    endpoint.host.clone(),
                    u32::from(endpoint.port),
                    "127.0.0.1",
                    0,
                )
                .await
                .map_err(|e| {
                    format!(
                        "{}: the jump host {} could not open a tunnel: {e}",
                        endpoint.describe(),
                        jump.endpoint.describe()
                    )
                })?;
            client::connect_stream(config, channel.into_stream(), handler).await
        }
        None => {
            let socket = tokio::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port))
                .await
                .map_err(|e| format!("{}: cannot connect: {e}", endpoint.describe()))?;
            let _ = socket.set_nodelay(true);
            client::connect_stream(config, socket, handler).await
        }
    };
    result.map_err(|e| {
        let verdict = verdict.lock().ok().and_then(|v| v.clone());
        match verdict {
            Some(v) if !v.accepted() => v.explain(&endpoint.host, endpoint.port),
            _ => format!("{}: SSH handshake failed: {e}", endpoint.describe()),
        }
    })
}

fn secs(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}
