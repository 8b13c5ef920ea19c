//! Shared plumbing for the database servers the tests start: free ports, and a watchdog that
//! stops a server when the test process ends (a server shared through a `static` is never
//! dropped, so the watchdog is what cleans it up; a dropped handle stops it at once).
use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("local addr")
        .port()
}

/// A server process under a watchdog shell: when this test process exits (or the handle is
/// dropped) the server gets `stop_signal`, then SIGKILL after 10 s.
pub struct Watched {
    child: Child,
}

impl Watched {
    /// `command` is a shell command line that runs the server in the foreground.
    /// `cleanup` is removed once the server stopped (a `static` server's temp dir is never dropped).
    pub fn start(
        command: &str,
        stop_signal: &str,
        log: &std::path::Path,
        cleanup: &std::path::Path,
    ) -> Watched {
        let me = std::process::id();
        let script = format!(
            "{command} >>'{log}' 2>&1 &\n\
             srv=$!\n\
             trap 'kill -{stop_signal} $srv 2>/dev/null; exit 0' TERM\n\
             while kill -0 {me} 2>/dev/null && kill -0 $srv 2>/dev/null; do sleep 0.3; done\n\
             kill -{stop_signal} $srv 2>/dev/null\n\
             for i in $(seq 1 100); do kill -0 $srv 2>/dev/null || break; sleep 0.1; done\n\
             kill -KILL $srv 2>/dev/null\n\
             sleep 0.2; rm -rf '{cleanup}'\n",
            log = log.display(),
            cleanup = cleanup.display()
        );
        let child = Command::new("/bin/sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server watchdog");
        Watched { child }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Runs `check` until it succeeds or `limit` passes; panics with `what` and the log then.
pub fn wait_until(
    what: &str,
    limit: Duration,
    log: &std::path::Path,
    mut check: impl FnMut() -> bool,
) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let tail = std::fs::read_to_string(log).unwrap_or_default();
    panic!("{what} did not come up within {limit:?}; log:\n{tail}");
}

/// Runs a command, panicking with its output when it fails.
pub fn run(cmd: &mut Command) -> String {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        output.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
