//! The local machine as a target: steps run as `/bin/sh -c` in their own process group, so a
//! timeout, a cancel or output reaching its cap kills the step and everything it started.
//! A `fetch` copies a regular file only (never a FIFO or device), within the step's deadline,
//! cap and cancellation.
use super::runner::{RunOutcome, StreamIo};
use crate::model::{StepAction, StreamSpec};
use crate::snapshot::journal::Fd;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

/// How long a step's process group gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(1);
/// How long output may keep coming after the step's shell exited (a background child holding
/// the pipe) before the group is killed.
const LINGER_AFTER_EXIT: Duration = Duration::from_secs(2);
const READ_BUFFER: usize = 1 << 20;
/// Pipe capacity asked of the kernel (its default is 64 KiB): fewer, larger reads for bulky steps.
const PIPE_CAPACITY: i32 = 1 << 20;

/// Runs shell steps on this machine.
#[derive(Debug, Default)]
pub struct LocalRunner {
    is_root: bool,
}

impl LocalRunner {
    pub fn new() -> LocalRunner {
        LocalRunner {
            is_root: nix::unistd::geteuid().is_root(),
        }
    }

    pub async fn run(
        &self,
        spec: &StreamSpec,
        io: &mut StreamIo<'_>,
        cancel: &CancellationToken,
    ) -> RunOutcome {
        let StepAction::Command(command) = &spec.action else {
            return RunOutcome {
                error: Some("a query cannot run on a shell target".into()),
                ..Default::default()
            };
        };
        let deadline = super::deadline::after(spec.timeout);
        let script = shell_script(command, &spec.requires);
        let mut cmd = if spec.sudo && !self.is_root {
            let mut c = Command::new("sudo");
            c.args(["-n", "/bin/sh", "-c", &script]);
            c
        } else {
            let mut c = Command::new("/bin/sh");
            c.args(["-c", &script]);
            c
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                return RunOutcome {
                    error: Some(format!("cannot start /bin/sh: {e}")),
                    ..Default::default()
                };
            }
        };
        let pgid = child.id().map(|id| Pid::from_raw(id as i32));
        widen_pipe(child.stdout.as_ref());
        widen_pipe(child.stderr.as_ref());
        let mut outcome = pump(&mut child, pgid, deadline, io, cancel).await;
        // Whatever happened, nothing of this step outlives it.
        if let Some(pgid) = pgid {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
        if let Some(path) = spec.fetch.as_deref().filter(|_| {
            outcome.error.is_none()
                && !outcome.timed_out
                && !outcome.cancelled
                && !outcome.truncated
        }) {
            let cap = spec.max_bytes.unwrap_or(u64::MAX);
            match copy_artifact(path, cap, deadline, io, cancel).await {
                Ok(Copied::Whole) => {}
                Ok(Copied::Capped) => outcome.truncated = true,
                Ok(Copied::TimedOut) => outcome.timed_out = true,
                Ok(Copied::Cancelled) => outcome.cancelled = true,
                Err(e) => outcome.error = Some(format!("fetching {path} failed: {e}")),
            }
        }
        outcome
    }
}

/// Best effort: an unprivileged process may be capped below `PIPE_CAPACITY`, which only costs speed.
fn widen_pipe<P: std::os::fd::AsFd>(pipe: Option<&P>) {
    if let Some(pipe) = pipe {
        let _ = nix::fcntl::fcntl(pipe, nix::fcntl::FcntlArg::F_SETPIPE_SZ(PIPE_CAPACITY));
    }
}

/// How a fetch ended.
#[derive(Debug, PartialEq, Eq)]
enum Copied {
    Whole,
    /// More than `max_bytes`: the artifact holds the first `max_bytes` and reading stopped.
    Capped,
    TimedOut,
    Cancelled,
}

/// Opens `path` for a fetch: without blocking (a FIFO would wait for a writer forever) and only
/// if it is a regular file (`/dev/zero`, a FIFO or a directory never ends or never starts).
fn open_regular(path: &str) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(std::io::Error::other(format!(
            "it is not a regular file ({}); fetch copies regular files only",
            describe_kind(&kind)
        )));
    }
    Ok(file)
}

fn describe_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a plain file"
    }
}

/// Copies a step's `fetch` file into the snapshot: at most `cap` bytes (one more is read to
/// know it was cut), until `deadline`, or until cancelled.
async fn copy_artifact(
    path: &str,
    cap: u64,
    deadline: Instant,
    io: &mut StreamIo<'_>,
    cancel: &CancellationToken,
) -> std::io::Result<Copied> {
    let mut file = tokio::fs::File::from_std(open_regular(path)?);
    let mut buf = vec![0u8; READ_BUFFER];
    let mut copied = 0u64;
    loop {
        let read = tokio::select! {
            read = file.read(&mut buf) => read?,
            _ = sleep_until(deadline) => return Ok(Copied::TimedOut),
            _ = cancel.cancelled() => return Ok(Copied::Cancelled),
        };
        if read == 0 {
            return Ok(Copied::Whole);
        }
        io.artifact_chunk(&buf[..read])?;
        copied += read as u64;
        if copied > cap {
            return Ok(Copied::Capped);
        }
    }
}

/// Prefixes a check for each required tool: a missing one exits 127 ("not available").
pub fn shell_script(command: &str, requires: &[String]) -> String {
    let mut script = String::new();
    for tool in requires {
        script.push_str(&format!(
            "command -v {tool} >/dev/null 2>&1 || {{ echo 'casefile: {tool} is not installed on this host' >&2; exit 127; }}\n"
        ));
    }
    script.push_str(command);
    script
}

/// Moves output from the child's pipes to the stream until it ends, times out or is cancelled.
async fn pump(
    child: &mut Child,
    pgid: Option<Pid>,
    deadline: Instant,
    io: &mut StreamIo<'_>,
    cancel: &CancellationToken,
) -> RunOutcome {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let mut out_buf = vec![0u8; READ_BUFFER];
    let mut err_buf = vec![0u8; READ_BUFFER];
    let mut linger_until: Option<Instant> = None;
    let mut exit: Option<ExitStatus> = None;
    let mut outcome = RunOutcome::default();

    loop {
        if exit.is_some() && stdout.is_none() && stderr.is_none() {
            break;
        }
        let stop_at = linger_until.map_or(deadline, |l| l.min(deadline));
        tokio::select! {
            read = read_some(&mut stdout, &mut out_buf) => {
                if let Err(e) = forward(read, &mut stdout, &out_buf, Fd::Out, io) {
                    outcome.error = Some(e);
                    break;
                }
                if io.output_full() {
                    outcome.truncated = true;
                    break;
                }
            }
            read = read_some(&mut stderr, &mut err_buf) => {
                if let Err(e) = forward(read, &mut stderr, &err_buf, Fd::Err, io) {
                    outcome.error = Some(e);
                    break;
                }
                if io.output_full() {
                    outcome.truncated = true;
                    break;
                }
            }
            status = child.wait(), if exit.is_none() => {
                match status {
                    Ok(status) => exit = Some(status),
                    Err(e) => { outcome.error = Some(format!("waiting for the step failed: {e}")); break; }
                }
                linger_until = Some(Instant::now() + LINGER_AFTER_EXIT);
            }
            _ = sleep_until(stop_at) => {
                // Past the deadline while still running: a timeout. After exit: only a lingering child.
                outcome.timed_out = exit.is_none();
                break;
            }
            _ = cancel.cancelled() => {
                outcome.cancelled = true;
                break;
            }
        }
    }

    if exit.is_none() {
        if let Some(pgid) = pgid {
            let _ = killpg(pgid, Signal::SIGTERM);
        }
        exit = match tokio::time::timeout(KILL_GRACE, child.wait()).await {
            Ok(Ok(status)) => Some(status),
            _ => {
                if let Some(pgid) = pgid {
                    let _ = killpg(pgid, Signal::SIGKILL);
                }
                child.wait().await.ok()
            }
        };
        // Keep what the step printed while dying.
        let drain_until = Instant::now() + Duration::from_millis(200);
        while stdout.is_some() || stderr.is_some() {
            tokio::select! {
                read = read_some(&mut stdout, &mut out_buf) => { if forward(read, &mut stdout, &out_buf, Fd::Out, io).is_err() { break } }
                read = read_some(&mut stderr, &mut err_buf) => { if forward(read, &mut stderr, &err_buf, Fd::Err, io).is_err() { break } }
                _ = sleep_until(drain_until) => break,
            }
        }
    }
    if let Some(status) = exit {
        outcome.exit_code = status.code();
        outcome.signal = status.signal();
    }
    outcome
}

/// Reads from a pipe that may already be closed (then never completes, so `select!` ignores it).
async fn read_some<R: AsyncReadExt + Unpin>(
    pipe: &mut Option<R>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    match pipe {
        Some(p) => p.read(buf).await,
        None => std::future::pending().await,
    }
}

/// Hands a read result to the stream; closes the pipe slot at EOF.
fn forward<R>(
    read: std::io::Result<usize>,
    pipe: &mut Option<R>,
    buf: &[u8],
    fd: Fd,
    io: &mut StreamIo<'_>,
) -> Result<(), String> {
    match read {
        Ok(0) | Err(_) => {
            *pipe = None;
            Ok(())
        }
        Ok(n) => io
            .chunk(fd, &buf[..n])
            .map_err(|e| format!("cannot write to the snapshot: {e}")),
    }
}
