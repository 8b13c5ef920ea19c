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
        if std::fs::read_to_string(&file).is_ok_and(|t| t.contains("second-line")) {
            stream_file = Some((snapshot_dir, file));
            break;
        }
    }
    let (snapshot_dir, file) = stream_file.expect("output reached disk while the step ran");
    assert!(
        child.try_wait().expect("poll").is_none(),
        "casefile still running"
    );
    child.kill().expect("SIGKILL casefile");
    child.wait().expect("reap");
    // The orphaned step (its own process group) is cleaned up by the test, not left running.
    let _ = std::process::Command::new("pkill")
        .args(["-f", "sleep 37.5"])
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
