//! `casefile replay` in a real terminal (tmux): an archive over `--max-unpack` is refused with
//! the limit on screen and leaves no temp folder; a hostile snapshot (a stream file that is a
//! symlink to /etc/passwd) is refused naming the manifest entry and nothing of /etc/passwd shows.
mod support;

use serde_json::Value;
use std::{fs, path::PathBuf, time::Duration};
use support::cli::{Sandbox, stderr};
use support::tmux::Tmux;

fn exported_archive(sandbox: &Sandbox) -> PathBuf {
    let output = sandbox.run(&[
        "capture",
        "--json",
        "--out",
        &sandbox.captures().display().to_string(),
        "--run",
        "seq 1 50000",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("json");
    let snapshot = summary["snapshot"].as_str().expect("snapshot").to_string();
    let out = sandbox.path().join("out");
    let export = sandbox.run(&[
        "export",
        &snapshot,
        "--to",
        &format!("file:{}", out.display()),
    ]);
    assert_eq!(export.status.code(), Some(0), "{}", stderr(&export));
    fs::read_dir(&out)
        .expect("out")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .expect("archive")
}

#[test]
fn replay_refuses_an_archive_over_the_unpack_limit() {
    let sandbox = Sandbox::new();
    let archive = exported_archive(&sandbox);
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
