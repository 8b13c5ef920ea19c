//! Caps and timeouts stop the work, against real processes, a real sshd and real database
//! servers: a stream at its byte cap is cut and its process stopped (locally and over SSH);
//! `fetch` copies regular files only and stops at its cap; a database step against a frozen
//! (SIGSTOPped) server ends within its timeout plus a small grace; a huge timeout is no panic.
//! Each test measures the elapsed time and asserts a generous upper bound.
#![allow(clippy::print_stderr)] // elapsed times go to the test log, for the note
mod support;

use casefile::snapshot::{Manifest, StreamStatus};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::cli::{Sandbox, stderr};
use support::sshd::{SshKeys, Sshd, pgrep};

fn latest(out_dir: &Path) -> (PathBuf, Manifest) {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out_dir)
        .expect("captures")
        .map(|e| e.expect("entry").path())
        .collect();
    dirs.sort();
    let dir = dirs.pop().expect("a snapshot");
    let manifest = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("read"))
        .expect("manifest");
    (dir, manifest)
}

/// Waits up to 3 s for no process to match `pattern`.
fn gone(pattern: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    while !pgrep(pattern).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    pgrep(pattern).is_empty()
}

/// An SSH target the sandbox can log into as `casefile-test`.
struct SshTarget {
    _keys: SshKeys,
    sshd: Sshd,
    home: tempfile::TempDir,
}

impl SshTarget {
    fn start() -> SshTarget {
        let keys = SshKeys::generate();
        let sshd = Sshd::start(&keys);
        let home = tempfile::tempdir().expect("home");
        sshd.trust_from(home.path(), &keys);
        SshTarget {
            _keys: keys,
            sshd,
            home,
        }
    }

    fn capture(&self, sandbox: &Sandbox, args: &[&str]) -> (std::process::Output, Duration) {
        let started = Instant::now();
        let output = sandbox
            .command()
            .env("HOME", self.home.path())
            .env_remove("SSH_AUTH_SOCK")
            .args(["capture", "--out"])
            .arg(sandbox.captures())
            .args(["--target", &self.sshd.url("casefile-test")])
            .args(args)
            .output()
            .expect("run casefile");
        (output, started.elapsed())
    }
}

fn assert_capped_and_stopped(manifest: &Manifest, elapsed: Duration, tag: &str) {
    eprintln!("{tag}: the capped capture took {elapsed:?}");
    let result = &manifest.streams[0].result;
    assert_eq!(result.status, StreamStatus::Exited, "{result:?}");
    assert!(result.truncated, "{result:?}");
    assert!(!result.timed_out, "{result:?}");
    assert_eq!(result.stdout.bytes, 1 << 20, "{result:?}");
    assert!(
        result.reason.as_deref().is_some_and(|r| r.contains("cap")),
        "{result:?}"
    );
    // Stopped at the cap, not at the 60 s timeout.
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    assert!(gone(tag), "the step's process outlived its cap");
}

#[test]
fn a_local_stream_at_its_cap_is_cut_and_its_process_group_stopped() {
    let sandbox = Sandbox::new();
    let tag = "casefile-cap-local-4711";
    // The step ignores SIGTERM and leaves a child: the group is killed all the same.
    let started = Instant::now();
    let output = sandbox.run(&[
        "capture",
        "--out",
        sandbox.captures().to_str().expect("utf8"),
        "--timeout",
        "60s",
        "--max-bytes",
        "1MiB",
        "--run",
        &format!("trap '' TERM; (sleep 4711 &); cat /dev/zero # {tag}"),
    ]);
    let elapsed = started.elapsed();
    let (_, manifest) = latest(&sandbox.captures());
    assert_capped_and_stopped(&manifest, elapsed, tag);
    assert!(gone("sleep 4711"), "a child of the step survived");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn an_ssh_stream_at_its_cap_is_cut_and_its_remote_process_stopped() {
    let target = SshTarget::start();
    let sandbox = Sandbox::new();
    let tag = "casefile-cap-ssh-4712";
    let (output, elapsed) = target.capture(
        &sandbox,
        &[
            "--timeout",
            "60s",
            "--max-bytes",
            "1MiB",
            "--run",
            &format!("cat /dev/zero # {tag}"),
        ],
    );
    let (_, manifest) = latest(&sandbox.captures());
    assert_capped_and_stopped(&manifest, elapsed, tag);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

/// A user preset that fetches `{{path}}` with a 1 MiB cap.
fn fetch_sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().join("config/casefile/presets");
    std::fs::create_dir_all(&dir).expect("preset dir");
    std::fs::write(
        dir.join("grab.toml"),
        r#"name = "grab"
description = "Fetches one file"
target = "shell"
[params.path]
kind = "path"
[[steps]]
name = "grab"
command = "echo ready"
fetch = "{{path}}"
max_bytes = "1MiB"
timeout = "20s"
"#,
    )
    .expect("preset");
    sandbox
}

/// A FIFO nobody writes to (opening it for reading would wait forever).
fn fifo(dir: &Path) -> PathBuf {
    let path = dir.join("pipe");
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o666)).expect("mkfifo");
    path
}

fn big_file(dir: &Path) -> PathBuf {
    let path = dir.join("big.bin");
    std::fs::write(&path, vec![7u8; 3 << 20]).expect("big file");
    path
}

/// Fetches each path with `capture`; non-regular files fail at once, a big file stops at the cap.
fn fetch_checks(capture: impl Fn(&Sandbox, &str) -> (std::process::Output, Duration)) {
    use std::os::unix::fs::PermissionsExt;
    let files = tempfile::tempdir().expect("files");
    std::fs::set_permissions(files.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let pipe = fifo(files.path());
    let big = big_file(files.path());
    std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    for path in [
        "/dev/zero".to_string(),
        "/dev/urandom".to_string(),
        pipe.display().to_string(),
        files.path().display().to_string(),
    ] {
        let sandbox = fetch_sandbox();
        let (_, elapsed) = capture(&sandbox, &path);
        let (_, manifest) = latest(&sandbox.captures());
        let result = &manifest.streams[0].result;
        assert_eq!(result.status, StreamStatus::Failed, "{path}: {result:?}");
        assert!(
            result
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("not a regular file")),
            "{path}: {result:?}"
        );
        assert!(
            elapsed < Duration::from_secs(10),
            "{path}: took {elapsed:?}"
        );
    }
    let sandbox = fetch_sandbox();
    let (_, elapsed) = capture(&sandbox, &big.display().to_string());
    let (dir, manifest) = latest(&sandbox.captures());
    let result = &manifest.streams[0].result;
    assert!(result.truncated, "{result:?}");
    assert_eq!(result.status, StreamStatus::Exited, "{result:?}");
    let artifact = result.artifact.as_ref().expect("artifact");
    assert_eq!(artifact.bytes, 1 << 20);
    assert_eq!(
        std::fs::metadata(dir.join(&artifact.path))
            .expect("artifact file")
            .len(),
        1 << 20
    );
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

#[test]
fn local_fetch_refuses_devices_fifos_and_directories_and_stops_at_its_cap() {
    fetch_checks(|sandbox, path| {
        let started = Instant::now();
        let output = sandbox.run(&[
            "capture",
            "--out",
            sandbox.captures().to_str().expect("utf8"),
            "--preset",
            "grab",
            "--param",
            &format!("path={path}"),
        ]);
        (output, started.elapsed())
    });
}

#[test]
fn ssh_fetch_refuses_devices_fifos_and_directories_and_stops_at_its_cap() {
    let target = SshTarget::start();
    fetch_checks(|sandbox, path| {
        target.capture(
            sandbox,
            &["--preset", "grab", "--param", &format!("path={path}")],
        )
    });
}

/// Every process of a server: the one whose command line names `dir`, and its children.
fn server_pids(root: Pid) -> Vec<Pid> {
    let mut pids = vec![root];
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // The parent pid is the 2nd field after the `(comm)`.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<i32>().ok());
        if ppid == Some(root.as_raw()) {
            pids.push(Pid::from_raw(pid));
        }
    }
    pids
}

fn signal_all(pids: &[Pid], signal: Signal) {
    for &pid in pids {
        let _ = kill(pid, signal);
    }
}

/// Runs a long statement with a 4 s timeout; the server is frozen 1 s in (or before the
/// capture connects, when `before` is set). The step must end within 4 s + 2 s (+ slack).
async fn frozen_server_case(url: &str, sql: &str, root: Pid, before: bool) {
    use support::dbcapture::{capture, step, target};
    let timeout = Duration::from_secs(4);
    if before {
        signal_all(&server_pids(root), Signal::SIGSTOP);
    } else {
        // Listed at freeze time: the backend serving the capture exists by then.
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            signal_all(&server_pids(root), Signal::SIGSTOP);
        });
    }
    let started = Instant::now();
    let out = capture(target(url), None, vec![step("frozen", sql, timeout)]).await;
    let elapsed = started.elapsed();
    let state = std::fs::read_to_string(format!("/proc/{root}/stat")).unwrap_or_default();
    let frozen = state
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('T'));
    signal_all(&server_pids(root), Signal::SIGCONT);
    assert!(frozen, "the server was not frozen during the step: {state}");
    eprintln!(
        "frozen server {url} ({}): a {timeout:?} step ended after {elapsed:?}: {}",
        if before {
            "before connecting"
        } else {
            "mid-statement"
        },
        out.stderr(0).trim()
    );
    let result = &out.manifest.streams[0].result;
    assert_eq!(
        result.status,
        StreamStatus::TimedOut,
        "{result:?} {}",
        out.stderr(0)
    );
    assert!(
        elapsed < timeout + Duration::from_secs(2) + Duration::from_millis(1500),
        "a {timeout:?} step against a frozen server took {elapsed:?}: {}",
        out.stderr(0)
    );
}

fn pid_in(file: &Path) -> Pid {
    let text = std::fs::read_to_string(file).expect("pid file");
    Pid::from_raw(
        text.lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .expect("pid"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_db_step_against_a_frozen_mariadb_ends_within_its_timeout_plus_grace() {
    let db = support::mariadb::MariaDb::start();
    let root = pid_in(&db.dir().join("pid"));
    frozen_server_case(&db.url("root"), "SELECT SLEEP(30)", root, false).await;
    frozen_server_case(&db.url("root"), "SELECT 1", root, true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_db_step_against_a_frozen_postgres_ends_within_its_timeout_plus_grace() {
    let db = support::postgres::Postgres::start();
    let root = pid_in(&db.dir().join("data/postmaster.pid"));
    let url = db.url("postgres", "postgres");
    frozen_server_case(&url, "SELECT pg_sleep(30)", root, false).await;
    frozen_server_case(&url, "SELECT 1", root, true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_timeout_is_no_panic_in_a_worker() {
    use casefile::capture::{CaptureControl, Engine, Limits, LiveView};
    use casefile::model::{CapturePlan, StepAction, StreamSpec, Target};
    use casefile::redact::Redactor;
    use casefile::snapshot::SnapshotWriter;
    use std::sync::Arc;
    let spec = StreamSpec::new(
        "01-huge",
        0,
        "adhoc",
        "huge",
        StepAction::Command("echo fine".into()),
        Duration::MAX,
    );
    let plan = CapturePlan {
        incident: None,
        targets: vec![Target::local()],
        streams: vec![spec],
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let writer = SnapshotWriter::create(
        tmp.path(),
        &plan,
        Redactor::patterns_only(),
        "test@host".into(),
    )
    .expect("writer");
    let manifest = Engine {
        limits: Limits::new(Some(1), None),
    }
    .run(
        &plan,
        Arc::clone(&writer),
        Arc::new(LiveView::new(1, 10, 1 << 16)),
        &CaptureControl::new(1),
        None,
    )
    .await
    .expect("run");
    let result = &manifest.streams[0].result;
    assert_eq!(result.status, StreamStatus::Exited, "{result:?}");
    assert_eq!(result.exit_code, Some(0));

    // The same on a database target (SQLite: no server needed).
    let db = tmp.path().join("x.db");
    std::fs::write(&db, b"").expect("empty database file");
    let out = support::dbcapture::capture(
        support::dbcapture::target(&format!("sqlite:{}", db.display())),
        None,
        vec![support::dbcapture::step("huge", "SELECT 1", Duration::MAX)],
    )
    .await;
    assert_eq!(
        out.manifest.streams[0].result.status,
        StreamStatus::Exited,
        "{}",
        out.stderr(0)
    );
}
