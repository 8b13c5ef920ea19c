//! An SSH host as a target: ONE connection per host, made by the first stream that needs it and
//! shared by all the host's streams, a channel per step (the engine runs a few at once per host;
//! a server that allows fewer makes the others wait, see [`SshRunner::open_channel`]). Output chunks go to the snapshot as they
//! arrive. A timeout or cancel stops the remote process itself, not just the channel: each step
//! runs under a small `sh` wrapper that, on SIGTERM (sent with the SSH `signal` request), signals
//! its whole process group, waits up to a second and then kills it. The same happens when the
//! channel's stdin reaches EOF (casefile sends EOF to stop a step, and sshd closes it when the
//! connection drops), because sshd refuses `signal` requests for root logins (no privilege
//! separation after authentication), which is exactly where incident captures often run.
use super::runner::{RunOutcome, StreamIo};
use crate::model::{StepAction, StreamSpec};
use crate::snapshot::journal::Fd;
use crate::ssh::{Connection, JumpPool, SshEndpoint};
use futures::FutureExt;
use russh::client;
use russh::{Channel, ChannelMsg, Sig};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, OnceCell};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

/// How long after SIGTERM the step gets to end before the channel is abandoned.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// How long a control message (EOF, signal, close) may wait for room on a stuck connection.
const SEND_LIMIT: Duration = Duration::from_secs(1);
/// How often a stream queued for its host's handshake checks whether the handshake began.
const QUEUED_CHECK: Duration = Duration::from_millis(100);
/// How often a channel refused by a server at its session limit is asked for again, at most.
const CHANNEL_RETRY: Duration = Duration::from_millis(200);
/// How long output may keep coming after the step's exit status (a background child holding
/// the pipe) before the step's process group is stopped.
const LINGER_AFTER_EXIT: Duration = Duration::from_secs(2);

/// Runs shell steps on one SSH host.
pub struct SshRunner {
    endpoint: Arc<SshEndpoint>,
    connection: OnceCell<Result<Arc<Connection>, String>>,
    jumps: JumpPool,
    /// Channels opened on the connection, and a wake-up when one closes: see [`SshRunner::open_channel`].
    channels: Arc<ChannelCount>,
}

/// How many channels a host ever opened; waiters learn when one closes.
#[derive(Debug, Default)]
struct ChannelCount {
    ever: AtomicUsize,
    closed: Notify,
}

/// An open channel; dropping it wakes the streams waiting for one of the host's channels to close.
struct OpenChannel(Arc<ChannelCount>);

impl Drop for OpenChannel {
    fn drop(&mut self) {
        self.0.closed.notify_waiters();
    }
}

impl std::fmt::Debug for SshRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshRunner")
            .field("endpoint", &self.endpoint.describe())
            .finish_non_exhaustive()
    }
}

/// Where a channel's stdout goes.
#[derive(Debug, Clone, Copy)]
enum Sink {
    Stdout,
    /// The step's fetched file (`fetch = "PATH"`).
    Artifact,
}

enum Stop {
    TimedOut,
    Cancelled,
    /// The output (or the fetched file) reached its cap: nothing more would be kept.
    Capped,
}

/// The exit status of the fetch wrapper when the path is not a regular file.
const NOT_REGULAR: i32 = 86;

impl SshRunner {
    /// A runner for `endpoint`; `jumps` is the capture's connection pool (shared bastions, and
    /// the limit on handshakes in flight).
    pub fn new(endpoint: SshEndpoint, jumps: JumpPool) -> SshRunner {
        SshRunner {
            endpoint: Arc::new(endpoint),
            connection: OnceCell::new(),
            jumps,
            channels: Arc::default(),
        }
    }

    pub fn endpoint(&self) -> &SshEndpoint {
        &self.endpoint
    }

    /// The host's connection, made once; a failure is remembered so every stream of the host
    /// fails at once with the same reason instead of retrying. It comes from the capture's pool,
    /// so a host that is also a jump host or a database's `via` host is connected to only once.
    async fn connection(&self) -> Result<Arc<Connection>, String> {
        self.connection
            .get_or_init(|| self.jumps.get(&self.endpoint))
            .await
            .clone()
    }

    /// Connects (once for all the host's streams), giving up `limit` after the handshake got
    /// its slot: time queued behind other hosts' handshakes does not count, so a big fleet's
    /// last hosts are not timed out for waiting their turn. A failure to connect is not reported
    /// here but by [`SshRunner::run`], which finds it remembered.
    pub async fn ready(&self, limit: Duration) -> Result<(), String> {
        let mut connecting = std::pin::pin!(self.connection());
        loop {
            let started = self.jumps.handshake_started(&self.endpoint);
            let check_at = match started {
                Some(at) => at
                    .checked_add(limit)
                    .unwrap_or_else(|| super::deadline::after(limit)),
                None => Instant::now() + QUEUED_CHECK,
            };
            tokio::select! {
                _ = &mut connecting => return Ok(()),
                _ = sleep_until(check_at) => {
                    if started.is_some() {
                        return Err(still_connecting(&self.endpoint));
                    }
                }
            }
        }
    }

    /// Opens a session channel. A server that allows fewer sessions per connection
    /// (`MaxSessions`) than the per-host limit refuses the extra ones: such a stream waits for
    /// another channel of this host to close and tries again (its caller bounds the wait by the
    /// step's deadline). Refused when no channel was ever opened is an error.
    async fn open_channel(
        &self,
        connection: &Connection,
    ) -> Result<(Channel<client::Msg>, OpenChannel), russh::Error> {
        loop {
            let mut closed = std::pin::pin!(self.channels.closed.notified());
            closed.as_mut().enable();
            match connection.handle.channel_open_session().await {
                Ok(channel) => {
                    self.channels.ever.fetch_add(1, Ordering::SeqCst);
                    return Ok((channel, OpenChannel(Arc::clone(&self.channels))));
                }
                // If the server has run sessions on this connection, it is at its limit: wait
                // for one of ours to close (one just closed may not be freed on the server's side
                // yet, hence the retry). The wait also lets the channels opened alongside this one
                // report success; a server that has let none open refuses sessions altogether.
                Err(e @ russh::Error::ChannelOpenFailure(_)) => {
                    let _ = tokio::time::timeout(CHANNEL_RETRY, closed).await;
                    if self.channels.ever.load(Ordering::SeqCst) == 0 {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub async fn run(
        &self,
        spec: &StreamSpec,
        io: &mut StreamIo<'_>,
        cancel: &CancellationToken,
    ) -> RunOutcome {
        let StepAction::Command(command) = &spec.action else {
            return failed("a query cannot run on a shell target");
        };
        let deadline = super::deadline::after(spec.timeout);
        let cap = spec.max_bytes.unwrap_or(u64::MAX);
        let connection = tokio::select! {
            c = self.connection() => match c {
                Ok(c) => c,
                Err(e) => return failed(e),
            },
            _ = sleep_until(deadline) => return RunOutcome { timed_out: true, error: Some(still_connecting(&self.endpoint)), ..Default::default() },
            _ = cancel.cancelled() => return RunOutcome { cancelled: true, ..Default::default() },
        };
        let script = super::local::shell_script(command, &spec.requires);
        let sudo = spec.sudo && self.endpoint.user != "root";
        let mut outcome = self
            .exec(
                &connection,
                &remote_command(&script, sudo),
                deadline,
                io,
                cancel,
                (Sink::Stdout, cap),
            )
            .await;
        let ran_to_end = outcome.error.is_none()
            && !outcome.timed_out
            && !outcome.cancelled
            && !outcome.truncated;
        if let (Some(path), true) = (&spec.fetch, ran_to_end) {
            let fetched = self
                .exec(
                    &connection,
                    &fetch_command(path),
                    deadline,
                    io,
                    cancel,
                    (Sink::Artifact, cap),
                )
                .await;
            outcome.timed_out = fetched.timed_out;
            outcome.cancelled = fetched.cancelled;
            outcome.truncated = fetched.truncated;
            outcome.error = fetched.error.or_else(|| match fetched.exit_code {
                _ if fetched.truncated => None,
                Some(0) => None,
                Some(NOT_REGULAR) => Some(format!(
                    "fetching {path} failed: it is not a regular file on the host; fetch copies regular files only"
                )),
                code => Some(format!(
                    "fetching {path} failed (exit {}; see stderr)",
                    code.map(|c| c.to_string())
                        .unwrap_or_else(|| "unknown".into())
                )),
            });
        }
        outcome
    }

    /// Runs one remote command on its own channel; stdout goes to `out` (the stream's stdout, or
    /// its artifact). The step is stopped when its output, or an artifact past `cap` bytes, is full.
    async fn exec(
        &self,
        connection: &Connection,
        command: &str,
        deadline: Instant,
        io: &mut StreamIo<'_>,
        cancel: &CancellationToken,
        (out, cap): (Sink, u64),
    ) -> RunOutcome {
        let who = self.endpoint.describe();
        let opened = tokio::select! {
            ch = self.open_channel(connection) => ch.map_err(|e| format!("{who}: cannot open a channel: {e}")),
            _ = sleep_until(deadline) => return RunOutcome { timed_out: true, ..Default::default() },
            _ = cancel.cancelled() => return RunOutcome { cancelled: true, ..Default::default() },
        };
        let (mut channel, _open) = match opened {
            Ok(ch) => ch,
            Err(e) => return failed(e),
        };
        if let Err(e) = channel.exec(true, command.as_bytes()).await {
            return failed(format!("{who}: cannot start the command: {e}"));
        }
        // No EOF on stdin here: the wrapper's watcher takes EOF as "stop the step".
        let mut outcome = RunOutcome::default();
        let mut exited = false;
        let mut linger_until: Option<Instant> = None;
        let mut stop: Option<Stop> = None;
        let mut artifact_bytes = 0u64;
        let mut inbox = Inbox::default();
        loop {
            let stop_at = linger_until.map_or(deadline, |l| l.min(deadline));
            tokio::select! {
                received = inbox.next(&mut channel) => match received {
                    Received::Closed => break,
                    received => {
                        if let (Sink::Artifact, Received::Output { ext: None, pieces }) = (out, &received) {
                            artifact_bytes += pieces.iter().map(|p| p.len() as u64).sum::<u64>();
                        }
                        if let Err(e) = handle(received, io, out, &mut outcome, &mut exited) {
                            outcome.error = Some(e);
                            break;
                        }
                        if io.output_full() || artifact_bytes > cap {
                            stop = Some(Stop::Capped);
                            break;
                        }
                        if exited && linger_until.is_none() {
                            linger_until = Some(Instant::now() + LINGER_AFTER_EXIT);
                        }
                    }
                },
                _ = sleep_until(stop_at) => {
                    if !exited { stop = Some(Stop::TimedOut); }
                    break;
                }
                _ = cancel.cancelled() => {
                    stop = Some(Stop::Cancelled);
                    break;
                }
            }
        }
        if outcome.error.is_none()
            && (stop.is_some() || (exited && linger_until.is_some_and(|l| Instant::now() >= l)))
        {
            // Stop the remote process group, keep what it prints while dying, and its exit signal.
            let _ = tokio::time::timeout(SEND_LIMIT, channel.eof()).await;
            let _ = tokio::time::timeout(SEND_LIMIT, channel.signal(Sig::TERM)).await;
            let grace = Instant::now() + STOP_GRACE;
            loop {
                tokio::select! {
                    received = inbox.next(&mut channel) => match received {
                        Received::Closed => break,
                        received => { if handle(received, io, out, &mut outcome, &mut exited).is_err() { break } }
                    },
                    _ = sleep_until(grace) => {
                        // After the step exited, only something it left behind holds the channel: not an error.
                        if stop.is_some() {
                            outcome.error.get_or_insert_with(|| format!("{who}: the step did not end within {}s of SIGTERM; it may still run there", STOP_GRACE.as_secs()));
                        }
                        break;
                    }
                }
            }
        }
        match stop {
            Some(Stop::TimedOut) => outcome.timed_out = true,
            Some(Stop::Cancelled) => outcome.cancelled = true,
            Some(Stop::Capped) => outcome.truncated = true,
            None => {}
        }
        if !exited && stop.is_none() && outcome.error.is_none() {
            outcome.error = Some(format!(
                "{who}: the connection closed before the step reported how it ended"
            ));
        }
        let _ = tokio::time::timeout(SEND_LIMIT, channel.close()).await;
        outcome
    }
}

/// Most output bytes [`Inbox::next`] joins into one chunk (unless one packet is bigger): many
/// SSH packets' writes, journal entries and hand-offs become one, and memory stays bounded.
/// Measured on a 1 GiB stream, 64 KiB chunks ran at 0.7x the speed of 1 MiB ones.
const JOIN_MAX: usize = 1 << 20;

/// A channel's messages as the stream takes them: output already queued behind the first piece
/// (same stdout or stderr) is joined into one chunk, since it has arrived; nothing waits for more.
#[derive(Default)]
struct Inbox {
    /// The message that ended the last join, handled next (`Some(None)`: the channel closed).
    held: Option<Option<ChannelMsg>>,
    pieces: Vec<bytes::Bytes>,
}

/// What [`Inbox::next`] got.
enum Received<'a> {
    /// Output bytes: stdout (`ext: None`) or an extended stream (1 is stderr), in order.
    Output {
        ext: Option<u32>,
        pieces: &'a [bytes::Bytes],
    },
    Other(ChannelMsg),
    /// The channel closed (or the connection went away).
    Closed,
}

impl Inbox {
    /// The next message. Cancel-safe: the only await is the channel's own receive; joining takes
    /// only what is queued already.
    async fn next(&mut self, channel: &mut Channel<client::Msg>) -> Received<'_> {
        let first = match self.held.take() {
            Some(held) => held,
            None => channel.wait().await,
        };
        let (ext, first) = match first {
            None | Some(ChannelMsg::Close) => return Received::Closed,
            Some(ChannelMsg::Data { data }) => (None, data),
            Some(ChannelMsg::ExtendedData { data, ext }) => (Some(ext), data),
            Some(other) => return Received::Other(other),
        };
        self.pieces.clear();
        let mut joined = first.len();
        self.pieces.push(first);
        while joined < JOIN_MAX {
            let Some(queued) = channel.wait().now_or_never() else {
                break;
            };
            match queued {
                Some(ChannelMsg::Data { data })
                    if ext.is_none() && joined + data.len() <= JOIN_MAX =>
                {
                    joined += data.len();
                    self.pieces.push(data);
                }
                Some(ChannelMsg::ExtendedData { data, ext: e })
                    if ext == Some(e) && joined + data.len() <= JOIN_MAX =>
                {
                    joined += data.len();
                    self.pieces.push(data);
                }
                other => {
                    self.held = Some(other);
                    break;
                }
            }
        }
        Received::Output {
            ext,
            pieces: &self.pieces,
        }
    }
}

/// Applies what the channel delivered to the stream.
fn handle(
    received: Received<'_>,
    io: &mut StreamIo<'_>,
    out: Sink,
    outcome: &mut RunOutcome,
    exited: &mut bool,
) -> Result<(), String> {
    let written = match received {
        Received::Output { ext: None, pieces } => match out {
            Sink::Stdout => io.chunks(Fd::Out, pieces),
            Sink::Artifact => pieces.iter().try_for_each(|p| io.artifact_chunk(p)),
        },
        Received::Output {
            ext: Some(1),
            pieces,
        } => io.chunks(Fd::Err, pieces),
        Received::Output { .. } | Received::Closed => Ok(()),
        Received::Other(ChannelMsg::ExitStatus { exit_status }) => {
            outcome.exit_code = Some(exit_status as i32);
            *exited = true;
            Ok(())
        }
        Received::Other(ChannelMsg::ExitSignal { signal_name, .. }) => {
            outcome.signal = Some(signal_number(&signal_name));
            *exited = true;
            Ok(())
        }
        Received::Other(ChannelMsg::Failure) => {
            return Err("the server refused to run the command (exec request failed)".into());
        }
        Received::Other(_) => Ok(()),
    };
    written.map_err(|e| format!("cannot write to the snapshot: {e}"))
}

fn still_connecting(endpoint: &SshEndpoint) -> String {
    format!(
        "{}: still connecting when the step's timeout ran out",
        endpoint.describe()
    )
}

fn failed(reason: impl Into<String>) -> RunOutcome {
    RunOutcome {
        error: Some(reason.into()),
        ..Default::default()
    }
}

/// The Linux number of an SSH signal name (as in the manifest's `signal`).
fn signal_number(sig: &Sig) -> i32 {
    let name = match sig {
        Sig::ABRT => "ABRT",
        Sig::ALRM => "ALRM",
        Sig::FPE => "FPE",
        Sig::HUP => "HUP",
        Sig::ILL => "ILL",
        Sig::INT => "INT",
        Sig::KILL => "KILL",
        Sig::PIPE => "PIPE",
        Sig::QUIT => "QUIT",
        Sig::SEGV => "SEGV",
        Sig::TERM => "TERM",
        Sig::USR1 => "USR1",
        Sig::Custom(name) => name.as_str(),
    };
    format!("SIG{name}")
        .parse::<nix::sys::signal::Signal>()
        .map(|s| s as i32)
        .unwrap_or(-1)
}

/// Quotes `text` for a POSIX shell.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The remote command line: `/bin/sh` runs a wrapper that starts the step in the background of its
/// own process group (sshd makes every session a new session and group; the step's stdin is
/// /dev/null) and waits for it. A watcher reads the channel's stdin: EOF (or a line) means stop.
/// Stopping (also on SIGTERM/INT/HUP, e.g. a `signal` request) sends SIGTERM to the whole group,
/// gives it up to a second, then SIGKILLs the group: nothing the step started survives. When the
/// step exits by itself, whatever it left running in the background gets SIGTERM (as the local
/// runner kills the step's group).
/// A step killed by a signal is re-raised so the manifest records the signal, not 128+n.
pub fn remote_command(script: &str, sudo: bool) -> String {
    let run = if sudo {
        r#"sudo -n /bin/sh -c "$1""#
    } else {
        r#"/bin/sh -c "$1""#
    };
    let wrapper = format!(
        r#"stop() {{ trap "" TERM INT HUP; kill -TERM 0 2>/dev/null; i=0; while kill -0 $p 2>/dev/null && [ $i -lt 10 ]; do sleep 0.1; i=$((i+1)); done; kill -KILL 0; }}
exec 3<&0
{run} </dev/null 3<&- &
p=$!
{{ read -r _ <&3; stop; }} &
w=$!
trap stop TERM INT HUP
wait $p
st=$?
kill $w 2>/dev/null
trap "" TERM INT HUP; kill -TERM 0 2>/dev/null
if [ $st -gt 128 ] && [ $st -lt 160 ]; then trap - TERM INT HUP; kill -$((st-128)) $$; fi
exit $st"#
    );
    format!(
        "exec /bin/sh -c {} casefile-step {}",
        shell_quote(&wrapper),
        shell_quote(script)
    )
}

/// Streams a remote file's bytes to stdout, binary-safe (`cat` on the exec channel), under the
/// same wrapper as steps so a timeout, cancel or the cap stops it too. Anything but a regular
/// file (a FIFO, `/dev/zero`, a directory) is refused with [`NOT_REGULAR`].
fn fetch_command(path: &str) -> String {
    let path = shell_quote(path);
    remote_command(
        &format!(
            "if [ -f {path} ]; then exec cat -- {path}; fi\necho \"casefile: \"{path}\" is not a regular file; fetch copies regular files only\" >&2\nexit {NOT_REGULAR}"
        ),
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert!(remote_command("echo 'x'", true).contains("sudo -n"));
        assert_eq!(signal_number(&Sig::KILL), 9);
        assert_eq!(signal_number(&Sig::Custom("USR2".into())), 12);
    }
}
