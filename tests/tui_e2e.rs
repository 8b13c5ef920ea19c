//! The TUI end to end, as a person uses it: the real binary in tmux, keys sent, the screen read.
mod support;

use casefile::snapshot::{CaptureState, Snapshot, StreamStatus};
use std::time::Duration;
use support::{cli::Sandbox, tmux::Tmux};

const WAIT: Duration = Duration::from_secs(20);

fn only_snapshot(sandbox: &Sandbox) -> std::path::PathBuf {
    let captures = sandbox.path().join("data/casefile/captures");
    let mut dirs: Vec<_> = std::fs::read_dir(&captures)
        .expect("captures dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(
        dirs.len(),
        1,
        "one snapshot in {}: {dirs:?}",
        captures.display()
    );
    dirs.remove(0)
}

/// incidents (ad hoc) → plan (local target, ad-hoc command) → run → output in a pane → quit;
/// then the snapshot it wrote is replayed.
#[test]
fn ad_hoc_capture_then_replay() {
    let sandbox = Sandbox::new();
    let tui = Tmux::start(&sandbox, &[], 140, 42);
    tui.wait_for(
        &["Incidents", "no incident (ad hoc)", "Recent captures"],
        WAIT,
    );
    tui.keys(&["Enter"]);
    tui.wait_for(&["Targets 1/1", "local", "Presets"], WAIT);
    tui.keys(&["c"]);
    // Output with escape sequences that try to clear the screen, set the title and the clipboard.
    tui.type_text(r"printf 'hello from casefile\n'; sleep 0.3; printf '\033]0;pwned\007\033]52;c;ZXZpbA==\007\033[2J'; echo; echo to-stderr >&2; sleep 0.3; echo bye");
    let screen = tui.wait_for(&["Preview · 1 streams on 1 targets", "adhoc/run"], WAIT);
    assert!(
        screen.contains("$ printf 'hello from casefile"),
        "the preview shows the command:\n{screen}"
    );
    tui.keys(&["Enter"]);
    let screen = tui.wait_for(
        &[
            "01 local · adhoc/run",
            "hello from casefile",
            "bye",
            "✓ exit 0",
            "finished",
        ],
        WAIT,
    );
    assert!(
        screen.contains("␛]0;pwned␇␛]52;c;ZXZpbA==␇␛[2J"),
        "escape sequences are shown, not obeyed:\n{screen}"
    );
    assert!(
        screen.contains("to-stderr"),
        "stderr is shown too:\n{screen}"
    );
    assert!(screen.contains("✓ 1 ok"), "summary bar:\n{screen}");
    assert!(
        screen
            .lines()
            .next()
            .is_some_and(|l| l.contains("casefile") && l.contains("Run")),
        "header intact after a clear-screen sequence:\n{screen}"
    );
    assert_ne!(
        tui.display("#{pane_title}"),
        "pwned",
        "the stream could not set the terminal title"
    );
    assert!(
        !tui.display("#{buffer_sample}").contains("evil"),
        "the stream could not write the clipboard"
    );
    tui.keys(&["q"]);
    tui.wait_for(&["EXITED:0"], WAIT);

    let dir = only_snapshot(&sandbox);
    let snapshot = Snapshot::open(&dir).expect("snapshot");
    let m = &snapshot.manifest;
    assert_eq!(m.state, CaptureState::Complete);
    assert!(m.incident.is_none());
    assert_eq!(m.streams.len(), 1);
    assert_eq!(m.streams[0].result.status, StreamStatus::Exited);
    assert_eq!(m.streams[0].result.exit_code, Some(0));
    let stdout = std::fs::read(dir.join(&m.streams[0].result.stdout.path)).expect("stdout file");
    assert!(stdout.starts_with(b"hello from casefile\n"));
    assert!(
        stdout.windows(7).any(|w| w == b"\x1b]0;pwn"),
        "raw bytes are kept on disk"
    );
    drop(tui);

    // Replay it: the output comes back with its timing, and the end shows the final status.
    let replay = Tmux::start(&sandbox, &["replay", &dir.display().to_string()], 140, 42);
    let screen = replay.wait_for(
        &["Replay", "01 local · adhoc/run", "hello from casefile"],
        WAIT,
    );
    assert!(
        screen.contains("▶ playing") || screen.contains("⏸ paused"),
        "{screen}"
    );
    replay.keys(&["e"]);
    let screen = replay.wait_for(&["bye", "✓ exit 0", "⏸ paused"], WAIT);
    assert!(screen.contains("␛]0;pwned␇"), "{screen}");
    replay.keys(&["+", "+"]);
    replay.wait_for(&["4×"], WAIT);
    replay.keys(&["/"]);
    replay.type_text("hello");
    replay.keys(&["Enter"]);
    replay.wait_for(&["/hello"], WAIT).to_string();
    replay.keys(&["q"]);
    replay.wait_for(&["EXITED:0"], WAIT);
}

/// Quitting while a capture runs asks first, then cancels and finalises the snapshot.
#[test]
fn quit_during_capture_asks_and_finalises() {
    let sandbox = Sandbox::new();
    let tui = Tmux::start(&sandbox, &[], 120, 40);
    tui.wait_for(&["no incident (ad hoc)"], WAIT);
    tui.keys(&["Enter"]);
    tui.wait_for(&["Targets"], WAIT);
    tui.keys(&["c"]);
    tui.type_text("echo started; sleep 60; echo never");
    tui.keys(&["Enter"]);
    tui.wait_for(&["started", "● running"], WAIT);
    tui.keys(&["q"]);
    tui.wait_for(&["A capture is running", "finalise the snapshot"], WAIT);
    tui.keys(&["n"]);
    let screen = tui.screen();
    assert!(
        !screen.contains("A capture is running"),
        "n closes the dialog:\n{screen}"
    );
    tui.keys(&["q"]);
    tui.wait_for(&["A capture is running"], WAIT);
    tui.keys(&["y"]);
    tui.wait_for(&["EXITED:0"], WAIT);
    let snapshot = Snapshot::open(&only_snapshot(&sandbox)).expect("snapshot");
    assert_eq!(
        snapshot.manifest.state,
        CaptureState::Cancelled,
        "finalised, not interrupted"
    );
    assert!(!snapshot.recovered);
    assert_eq!(
        snapshot.manifest.streams[0].result.status,
        StreamStatus::Cancelled
    );
}

/// A terminal too small for the layout shows a message; growing it brings the screen back.
#[test]
fn too_small_then_resized() {
    let sandbox = Sandbox::new();
    let tui = Tmux::start(&sandbox, &[], 50, 10);
    tui.wait_for(&["Terminal too small", "50×10"], WAIT);
    tui.resize(120, 40);
    tui.wait_for(&["Incidents", "no incident (ad hoc)"], WAIT);
    tui.keys(&["q"]);
    tui.wait_for(&["EXITED:0"], WAIT);
}

/// The pid of `parent`'s child process named `name`, from /proc.
fn child_pid(parent: u32, name: &str) -> Option<i32> {
    std::fs::read_dir("/proc")
        .ok()?
        .filter_map(Result::ok)
        .find_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let (comm, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
            let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == parent && comm == name).then_some(pid)
        })
}

/// A SIGTERM (or the terminal closing) stops the streams and finalises the snapshot.
#[test]
fn sigterm_during_capture_finalises() {
    let sandbox = Sandbox::new();
    let tui = Tmux::start(&sandbox, &[], 120, 40);
    tui.wait_for(&["no incident (ad hoc)"], WAIT);
    tui.keys(&["Enter"]);
    tui.wait_for(&["Targets"], WAIT);
    tui.keys(&["c"]);
    tui.type_text("echo started; sleep 60");
    tui.keys(&["Enter"]);
    tui.wait_for(&["started", "● running"], WAIT);
    let shell: u32 = tui.display("#{pane_pid}").parse().expect("pane pid");
    let pid = child_pid(shell, "casefile").expect("casefile runs in the pane");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("kill");
    tui.wait_for(&["EXITED:0"], WAIT);
    let snapshot = Snapshot::open(&only_snapshot(&sandbox)).expect("snapshot");
    assert_eq!(snapshot.manifest.state, CaptureState::Cancelled);
    assert_eq!(
        snapshot.manifest.streams[0].result.status,
        StreamStatus::Cancelled
    );
}
