//! A capture killed with SIGKILL leaves a snapshot that opens, with everything received so far.
mod support;

use casefile::snapshot::{CaptureState, Snapshot, StreamStatus};
use std::{process::Stdio, time::Duration};
use support::cli::{Sandbox, stdout};

#[test]
fn kill_9_mid_capture_leaves_a_readable_snapshot() {
    let sandbox = Sandbox::new();
    let out = sandbox.captures();
    let mut child = sandbox
        .command()
        .args(["capture", "--out", out.to_str().expect("utf8")])
        .args([
            "--run",
            "echo first-line; echo second-line; exec sleep 37.5",
        ])
        .args(["--run", "echo quick"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn casefile");

    // Wait until the first output is on disk while the step is still running: writes are incremental.
    let mut stream_file = None;
    for _ in 0..200 {
        std::thread::sleep(Duration::from_millis(25));
        let Some(snapshot_dir) = std::fs::read_dir(&out)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(Result::ok)
            .map(|e| e.path())
        else {
            continue;
        };
        let file = snapshot_dir.join("streams/01-local-adhoc-run-1.out");
        let quick_ended = std::fs::read_to_string(snapshot_dir.join("journal.jsonl"))
            .is_ok_and(|j| j.contains(r#""ev":"end","t":"#));
        if quick_ended && std::fs::read_to_string(&file).is_ok_and(|t| t.contains("second-line")) {
            stream_file = Some((snapshot_dir, file));
            break;
        }
    }
    let (snapshot_dir, file) =
        stream_file.expect("output reached disk while the step ran, and the quick step ended");
    assert!(
        child.try_wait().expect("poll").is_none(),
        "casefile still running"
    );
    child.kill().expect("SIGKILL casefile");
    child.wait().expect("reap");
    // The orphaned step (its own process group) is cleaned up by the test, not left running.
    let _ = std::process::Command::new("pkill")
        .args(["-f", "^sleep 37.5"])
        .status();

    let snapshot = Snapshot::open(&snapshot_dir).expect("a killed capture opens");
    assert!(snapshot.recovered);
    assert_eq!(snapshot.manifest.state, CaptureState::Interrupted);
    let interrupted = &snapshot.manifest.streams[0];
    assert_eq!(interrupted.result.status, StreamStatus::Interrupted);
    assert_eq!(
        interrupted.result.stdout.bytes,
        "first-line\nsecond-line\n".len() as u64
    );
    assert_eq!(
        std::fs::read_to_string(&file).expect("stream"),
        "first-line\nsecond-line\n"
    );
    let quick = &snapshot.manifest.streams[1];
    assert_eq!(
        quick.result.status,
        StreamStatus::Exited,
        "the finished stream keeps its result from the journal"
    );

    let show = sandbox.run(&["show", snapshot_dir.to_str().expect("utf8")]);
    let text = stdout(&show);
    assert_eq!(show.status.code(), Some(0), "{text}");
    assert!(
        text.contains("interrupted") && text.contains("rebuilt from the journal"),
        "{text}"
    );
}

#[test]
fn sigterm_stops_the_steps_and_finishes_the_snapshot() {
    let sandbox = Sandbox::new();
    let out = sandbox.captures();
    let child = sandbox
        .command()
        .args(["capture", "--out", out.to_str().expect("utf8"), "--json"])
        .args(["--run", "echo begun; exec sleep 41.5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn casefile");
    let mut running = false;
    for _ in 0..200 {
        std::thread::sleep(Duration::from_millis(25));
        let status = std::process::Command::new("pgrep")
            .args(["-f", "^sleep 41.5"])
            .output()
            .expect("pgrep");
        if status.status.success() {
            running = true;
            break;
        }
    }
    assert!(running, "the step started");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let output = child.wait_with_output().expect("wait");
    assert_eq!(
        output.status.code(),
        Some(1),
        "cancelled streams make exit 1"
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json summary");
    assert_eq!(summary["state"], "cancelled");
    assert_eq!(summary["streams"][0]["status"], "cancelled");
    assert_eq!(summary["streams"][0]["stdout_bytes"], 6);
    let left = std::process::Command::new("pgrep")
        .args(["-f", "^sleep 41.5"])
        .output()
        .expect("pgrep");
    assert!(
        !left.status.success(),
        "the step's process was stopped with casefile"
    );
}
