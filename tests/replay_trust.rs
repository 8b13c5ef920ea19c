//! `casefile replay` in a real terminal (tmux): an archive over `--max-unpack` is refused with
//! the limit on screen and leaves no temp folder; a hostile snapshot (a stream file that is a
//! symlink to /etc/passwd) is refused naming the manifest entry and nothing of /etc/passwd shows.
mod support;

use std::{fs, path::PathBuf, time::Duration};
use support::cli::Sandbox;
use support::tmux::Tmux;

#[test]
fn replay_refuses_an_archive_over_the_unpack_limit() {
    let sandbox = Sandbox::new();
    let archive = sandbox.exported_archive("seq 1 50000");
    let tmp = sandbox.path().join("tmp");
    fs::create_dir_all(&tmp).expect("tmp");
    let tmux = Tmux::start_with_env(
        &sandbox,
        &[("TMPDIR", &tmp.display().to_string())],
        &[
            "replay",
            &archive.display().to_string(),
            "--max-unpack",
            "1KiB",
        ],
        250,
        30,
    );
    tmux.wait_for(
        &["refusing to unpack", "more than 1.0 KiB"],
        Duration::from_secs(20),
    );
    let left: Vec<_> = fs::read_dir(&tmp).expect("tmp").collect();
    assert!(left.is_empty(), "temp folders left: {left:?}");
}

#[test]
fn replay_refuses_a_stream_file_that_links_out() {
    let sandbox = Sandbox::new();
    let source =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/snapshots/symlink-out");
    let snapshot = sandbox.path().join("symlink-out");
    let copied = std::process::Command::new("cp")
        .arg("-r")
        .arg(&source)
        .arg(&snapshot)
        .status()
        .expect("cp");
    assert!(copied.success());
    std::os::unix::fs::symlink(
        "/etc/passwd",
        snapshot.join("streams/01-local-adhoc-run.out"),
    )
    .expect("symlink");
    let tmux = Tmux::start(
        &sandbox,
        &["replay", &snapshot.display().to_string()],
        250,
        30,
    );
    let screen = tmux.wait_for(
        &[
            "stdout.path",
            "is refused: it is (or goes through) a symbolic link",
        ],
        Duration::from_secs(20),
    );
    assert!(!screen.contains("root:x:0:0"), "{screen}");
}

/// SIGTERM while replay holds an unpacked archive: the TUI's own shutdown runs (exit 0, the
/// terminal restored) and the temp folder is still removed. The temp-folder cleanup thread must
/// not end the process under the TUI (it did, with status 143, before the TUI told it that it
/// handles these signals itself).
#[test]
fn sigterm_during_replay_of_an_archive_quits_cleanly_and_removes_the_temp_folder() {
    let sandbox = Sandbox::new();
    let archive = sandbox.exported_archive("seq 1 50000");
    let tmp = sandbox.path().join("tmp");
    fs::create_dir_all(&tmp).expect("tmp");
    let tmux = Tmux::start_with_env(
        &sandbox,
        &[("TMPDIR", &tmp.display().to_string())],
        &["replay", &archive.display().to_string()],
        200,
        40,
    );
    tmux.wait_for(&["Replay"], Duration::from_secs(20));
    let unpacked: Vec<_> = fs::read_dir(&tmp).expect("tmp").collect();
    assert!(!unpacked.is_empty(), "the archive is unpacked under TMPDIR");
    let killed = std::process::Command::new("pkill")
        // Anchored at the binary: the tmux shell's own command line holds the same words.
        .args([
            "-TERM",
            "-f",
            &format!("^{} replay ", env!("CARGO_BIN_EXE_casefile")),
        ])
        .status()
        .expect("pkill");
    assert!(killed.success(), "casefile replay was running");
    tmux.wait_for(&["EXITED:0"], Duration::from_secs(20));
    let left: Vec<_> = fs::read_dir(&tmp).expect("tmp").collect();
    assert!(left.is_empty(), "temp folders left: {left:?}");
}
