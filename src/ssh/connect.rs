//! One authenticated SSH connection to a host (directly or through its jump hosts), checked
//! against known_hosts before anything is sent, with keepalives and a connect timeout; and the
//! capture-wide pool of them, which also bounds handshakes in flight.
use super::auth::authenticate;
use super::known_hosts::{self, HostKeyVerdict};
use super::resolve::SshEndpoint;
use russh::client::{self, Handle, Handler};
use russh::keys::PublicKeyOrCertificate;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Semaphore;

/// Handshakes (key exchange and login) in flight at once across all hosts, by default.
pub const DEFAULT_HANDSHAKES: usize = 32;
/// Longest a handshake holds its slot while the host has not sent a byte (see
/// [`JumpPool::in_handshake_slot`]): a host that drops packets or never answers takes its
/// whole connect timeout, and must not hold up others that long.
const HANDSHAKE_SLOT: Duration = Duration::from_secs(3);
/// Per-channel flow-control window: OpenSSH's own (2 MiB), which fills a loopback or LAN link.
/// More does harm on the host being debugged: its sshd buffers up to a window of output per
/// channel, and growing and zeroing that buffer cost it CPU. With 16 MiB, a 1 GiB stream took
/// sshd ~1.5 CPU-seconds more and ran at 0.6-0.8x the speed of `ssh`, and varied run to run.
const WINDOW_SIZE: u32 = 2 << 20;
/// Largest SSH packet russh sends or accepts (OpenSSH's own is 32 KiB; 64 KiB halves per-packet work).
const MAX_PACKET: u32 = 65535;
/// Bytes read from the socket at once (a few maximum-size packets).
const READ_BUFFER: usize = 256 << 10;
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

/// Every SSH connection of a capture (hosts, jump hosts, `via` hosts), each made once and shared:
/// a fleet behind one bastion opens one connection to it (a bastion's sshd drops bursts of new
/// connections, `MaxStartups`). It also bounds handshakes in flight across all hosts.
#[derive(Debug, Clone)]
pub struct JumpPool {
    connections: Arc<Mutex<HashMap<String, SharedConnection>>>,
    /// When each endpoint's handshake got its slot: time queued for a slot is not time spent
    /// connecting (see [`JumpPool::handshake_started`]).
    started: Arc<Mutex<HashMap<String, tokio::time::Instant>>>,
    /// Key exchanges and logins at once: they are CPU work on both sides, so hundreds at once
    /// only slow each other down.
    handshakes: Arc<Semaphore>,
}

type SharedConnection = Arc<tokio::sync::OnceCell<Result<Arc<Connection>, String>>>;

impl Default for JumpPool {
    fn default() -> JumpPool {
        JumpPool::new(DEFAULT_HANDSHAKES)
    }
}

impl JumpPool {
    /// A pool allowing `handshakes` key exchanges and logins in flight at once (at least 1).
    pub fn new(handshakes: usize) -> JumpPool {
        JumpPool {
            connections: Arc::default(),
            started: Arc::default(),
            handshakes: Arc::new(Semaphore::new(handshakes.max(1))),
        }
    }

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

    /// When the handshake to `endpoint` got its slot (`None`: not yet, or never tried). A big
    /// fleet queues for slots; a step's timeout bounds connecting from this moment on.
    pub fn handshake_started(&self, endpoint: &SshEndpoint) -> Option<tokio::time::Instant> {
        self.started
            .lock()
            .ok()
            .and_then(|m| m.get(&endpoint.describe()).copied())
    }

    /// Runs `work` (reaching a host, key exchange and login) in a handshake slot. The slot is
    /// given back after [`HANDSHAKE_SLOT`] even if `work` goes on: a host that drops packets or
    /// is slow to answer costs no CPU here, and must not hold up the handshakes of others.
    /// `key` is the endpoint's [`SshEndpoint::describe`].
    /// `heard` turns true once the host has sent a byte: from then on it is alive, and a slow
    /// handshake is slow for CPU (what the slots ration), so it keeps its slot.
    async fn in_handshake_slot<F: Future>(
        &self,
        key: String,
        heard: &AtomicBool,
        work: F,
    ) -> F::Output {
        let mut permit = self.handshakes.acquire().await.ok();
        if let Ok(mut started) = self.started.lock() {
            started.insert(key, tokio::time::Instant::now());
        }
        let mut work = std::pin::pin!(work);
        tokio::select! {
            out = &mut work => out,
            _ = tokio::time::sleep(HANDSHAKE_SLOT) => {
                if !heard.load(Ordering::Relaxed) {
                    permit.take();
                }
                work.await
            }
        }
    }
}

/// Connects and logs in to `endpoint` (through its jump hosts), within its connect timeout per
/// hop, in a handshake slot (see [`JumpPool::in_handshake_slot`]). The slot covers reaching the
/// host too: an sshd counts a connection against `MaxStartups` from the moment it accepts it.
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
    let heard = Arc::new(AtomicBool::new(false));
    let login = async {
        let reached = async {
            let transport = transport(&endpoint, jump.as_deref()).await?;
            let transport: Transport = Box::new(Heard {
                inner: transport,
                heard: Arc::clone(&heard),
            });
            handshake(Arc::clone(&endpoint), transport).await
        };
        let mut handle = tokio::time::timeout(limit, reached).await.map_err(|_| {
            format!(
                "{}: no SSH handshake within {} (the host is unreachable, or it accepted the connection but never spoke SSH)",
                endpoint.describe(),
                secs(limit)
            )
        })??;
        match tokio::time::timeout(limit, authenticate(&mut handle, &endpoint)).await {
            Ok(Ok(())) => Ok(handle),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!(
                "{}: authentication did not finish within {}",
                endpoint.describe(),
                secs(limit)
            )),
        }
    };
    let handle = jumps
        .in_handshake_slot(endpoint.describe(), &heard, login)
        .await?;
    Ok(Connection {
        handle,
        endpoint,
        _jump: jump,
    })
}

/// A byte stream to the host's sshd: a TCP connection, or a tunnel through `jump`.
type Transport = Box<dyn TransportStream>;
trait TransportStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> TransportStream for T {}

/// A transport that notes when the host first sends a byte (see [`JumpPool::in_handshake_slot`]).
struct Heard {
    inner: Transport,
    heard: Arc<AtomicBool>,
}

impl AsyncRead for Heard {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.heard.store(true, Ordering::Relaxed);
        }
        poll
    }
}

impl AsyncWrite for Heard {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Reaches the host: TCP to it, or a `direct-tcpip` channel through `jump`.
async fn transport(endpoint: &SshEndpoint, jump: Option<&Connection>) -> Result<Transport, String> {
    match jump {
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
            Ok(Box::new(channel.into_stream()))
        }
        None => {
            let socket = tokio::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port))
                .await
                .map_err(|e| format!("{}: cannot connect: {e}", endpoint.describe()))?;
            let _ = socket.set_nodelay(true);
            Ok(Box::new(socket))
        }
    }
}

/// Key exchange and the host key check over `transport`.
async fn handshake(
    endpoint: Arc<SshEndpoint>,
    transport: Transport,
) -> Result<Handle<Client>, String> {
    let verdict = Arc::new(Mutex::new(None));
    let handler = Client {
        host: endpoint.host.clone(),
        port: endpoint.port,
        endpoint: Arc::clone(&endpoint),
        verdict: Arc::clone(&verdict),
    };
    let config = russh_config(&endpoint);
    // russh reads each packet with two exact reads (length, then body); a read buffer turns
    // those into one socket read per buffer-full instead of two per packet.
    let transport = tokio::io::BufReader::with_capacity(READ_BUFFER, transport);
    let result = client::connect_stream(config, transport, handler).await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Instant;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn handshakes_in_flight_are_bounded_and_a_stalled_one_gives_its_slot_back() {
        let pool = JumpPool::new(3);
        let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let works: Vec<_> = (0..12)
            .map(|_| {
                let (pool, now, peak) = (pool.clone(), Arc::clone(&now), Arc::clone(&peak));
                tokio::spawn(async move {
                    pool.in_handshake_slot("a".into(), &AtomicBool::new(false), async {
                        peak.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(40)).await;
                        now.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                })
            })
            .collect();
        for work in works {
            work.await.expect("work");
        }
        assert_eq!(
            peak.load(Ordering::SeqCst),
            3,
            "at most 3 at once, and 3 used"
        );

        let one = JumpPool::new(1);
        let stalled = {
            let one = one.clone();
            tokio::spawn(async move {
                one.in_handshake_slot(
                    "stalled".into(),
                    &AtomicBool::new(false),
                    tokio::time::sleep(Duration::from_secs(60)),
                )
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        one.in_handshake_slot("next".into(), &AtomicBool::new(false), async {})
            .await;
        let waited = started.elapsed();
        assert!(
            waited >= HANDSHAKE_SLOT - Duration::from_millis(100)
                && waited < HANDSHAKE_SLOT + Duration::from_secs(2),
            "the next handshake waited for the stalled one's slot, not for its end: {waited:?}"
        );
        stalled.abort();

        // A host that answered keeps its slot however slow its handshake (that is CPU).
        let heard = Arc::new(AtomicBool::new(true));
        let slow = {
            let (one, heard) = (one.clone(), Arc::clone(&heard));
            tokio::spawn(async move {
                one.in_handshake_slot("slow".into(), &heard, async {
                    tokio::time::sleep(HANDSHAKE_SLOT + Duration::from_millis(500)).await
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        one.in_handshake_slot("after".into(), &AtomicBool::new(false), async {})
            .await;
        assert!(
            started.elapsed() >= HANDSHAKE_SLOT + Duration::from_millis(400),
            "the slow but answering host kept its slot: {:?}",
            started.elapsed()
        );
        slow.await.expect("slow");
    }
}
