//! A snapshot is data, never a path to elsewhere. Each folder under tests/fixtures/snapshots/ is
//! a snapshot an attacker could hand a responder; the real binary must refuse it with a message
//! naming the manifest entry (`show`, `export --to file:`, `export --asciicast`), never copy a
//! file from outside, never hang on a FIFO or a device, and never panic on a journal length.
//! Replay runs only in a terminal, so its reads are checked through the snapshot layer it uses.
mod support;

use casefile::snapshot::{Snapshot, confined, journal::read_journal};
use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};
use support::cli::{Sandbox, all_files, stderr, stdout};

/// Copies a fixture into the sandbox and lets the test add what git cannot hold.
fn fixture(sandbox: &Sandbox, name: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/snapshots")
        .join(name);
    let dest = sandbox.path().join(name);
    let status = Command::new("cp")
        .args(["-r"])
        .arg(&source)
        .arg(&dest)
        .status()
        .expect("cp");
    assert!(status.success());
    dest
}

/// Runs casefile under `timeout`, so a hang fails the test instead of stalling it.
fn casefile(sandbox: &Sandbox, args: &[&str]) -> Output {
    let output = Command::new("timeout")
        .arg("20")
        .arg(env!("CARGO_BIN_EXE_casefile"))
        .args(args)
        .env("XDG_CONFIG_HOME", sandbox.path().join("config"))
        .env("XDG_DATA_HOME", sandbox.path().join("data"))
        .env("HOME", sandbox.path())
        .env("TMPDIR", sandbox.path())
        .output()
        .expect("run casefile");
    assert_ne!(output.status.code(), Some(124), "casefile hung: {args:?}");
    assert_ne!(
        output.status.code(),
        Some(101),
        "casefile panicked: {}",
        stderr(&output)
    );
    output
}

/// `show`, `export --to file:` and `export --asciicast` all refuse, naming the entry and why;
/// nothing from outside the snapshot lands in the export folders.
fn assert_refused_everywhere(sandbox: &Sandbox, snapshot: &Path, why: &str) {
    let dir = snapshot.display().to_string();
    let entry = "manifest.json streams[0] (\"01-local-adhoc-run\") stdout.path";
    let show = casefile(sandbox, &["show", &dir]);
    assert_eq!(show.status.code(), Some(2), "show: {}", stdout(&show));
    for text in [
        entry,
        why,
        "a snapshot may only name regular files inside its own folder",
    ] {
        assert!(
            stderr(&show).contains(text),
            "show must say {text:?}: {}",
            stderr(&show)
        );
    }
    let out = sandbox.path().join("exported");
    let casts = sandbox.path().join("casts");
    for args in [
        vec!["export", &dir, "--to", &format!("file:{}", out.display())],
        vec!["export", &dir, "--asciicast", &casts.display().to_string()],
    ] {
        let args: Vec<&str> = args.iter().map(|s| s.as_ref()).collect();
        let export = casefile(sandbox, &args);
        assert_ne!(export.status.code(), Some(0), "{args:?} must fail");
        assert!(
            stderr(&export).contains(entry),
            "{args:?}: {}",
            stderr(&export)
        );
        assert!(
            stderr(&export).contains(why),
            "{args:?}: {}",
            stderr(&export)
        );
    }
    let passwd = fs::read("/etc/passwd").expect("passwd");
    for folder in [&out, &casts] {
        if folder.exists() {
            for (path, bytes) in all_files(folder) {
                assert!(
                    !bytes
                        .windows(16)
                        .any(|w| passwd.windows(16).any(|p| p == w)),
                    "{} holds bytes of /etc/passwd",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn an_absolute_path_is_refused() {
    let sandbox = Sandbox::new();
    let snapshot = fixture(&sandbox, "absolute-path");
    assert_refused_everywhere(&sandbox, &snapshot, "it is an absolute path");
}

#[test]
fn a_path_climbing_out_with_dot_dot_is_refused() {
    let sandbox = Sandbox::new();
    let snapshot = fixture(&sandbox, "parent-path");
    assert_refused_everywhere(&sandbox, &snapshot, "it climbs out with `..`");
}

#[test]
fn a_device_path_is_refused_without_reading_it() {
    let sandbox = Sandbox::new();
    let snapshot = fixture(&sandbox, "device-path");
    assert_refused_everywhere(&sandbox, &snapshot, "it is an absolute path");
}

#[test]
fn a_fifo_in_place_of_a_stream_file_is_refused_without_hanging() {
    let sandbox = Sandbox::new();
    let snapshot = fixture(&sandbox, "fifo");
    let fifo = snapshot.join("streams/01-local-adhoc-run.out");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    assert_refused_everywhere(&sandbox, &snapshot, "it is a FIFO, not a regular file");
}

#[test]
fn a_symlink_out_of_the_snapshot_is_refused() {
    let sandbox = Sandbox::new();
    let snapshot = fixture(&sandbox, "symlink-out");
    std::os::unix::fs::symlink(
        "/etc/passwd",
        snapshot.join("streams/01-local-adhoc-run.out"),
    )
    .expect("symlink");
    assert_refused_everywhere(&sandbox, &snapshot, "symbolic link");
}

#[test]
fn a_folder_symlinked_out_of_the_snapshot_is_refused() {
    let sandbox = Sandbox::new();
    let snapshot = fixture(&sandbox, "symlink-folder");
    std::os::unix::fs::symlink("/etc", snapshot.join("linked")).expect("symlink");
    assert_refused_everywhere(&sandbox, &snapshot, "symbolic link");
}

/// A chunk length of 2^64-1 from offset 0 fits in 64 bits: every reader takes what the file
/// holds ("hello\n"), allocating no more, and nothing panics.
#[test]
fn a_chunk_length_of_2_pow_64_minus_1_reads_what_the_file_holds() {
    let sandbox = Sandbox::new();
    let snapshot_dir = fixture(&sandbox, "huge-chunk-length");
    let dir = snapshot_dir.display().to_string();
    let show = casefile(&sandbox, &["show", &dir]);
    assert_eq!(show.status.code(), Some(0), "{}", stderr(&show));

    let casts = sandbox.path().join("casts");
    let export = casefile(
        &sandbox,
        &["export", &dir, "--asciicast", &casts.display().to_string()],
    );
    assert_eq!(export.status.code(), Some(0), "{}", stderr(&export));
    let cast = fs::read_to_string(casts.join("01-local-adhoc-run.cast")).expect("cast");
    assert!(cast.contains(r#""o","hello\r\n"]"#), "{cast}");

    // Replay's reads: the journal, then the chunk through the confined opener.
    let snapshot = Snapshot::open(&snapshot_dir).expect("opens");
    let events = read_journal(&snapshot.dir.join("journal.jsonl")).expect("journal");
    let (off, len) = events
        .iter()
        .find_map(|e| match e {
            casefile::snapshot::journal::JournalEvent::Chunk { off, len, .. } => Some((*off, *len)),
            _ => None,
        })
        .expect("a chunk");
    assert_eq!(len, u64::MAX);
    let file = confined::open_stream_file(
        &snapshot.dir,
        &snapshot.manifest.streams[0].result.stdout.path,
        "stdout",
    )
    .expect("stream file");
    assert_eq!(
        confined::read_range(&file, off, len).expect("read"),
        b"hello\n"
    );
}

/// A chunk whose end does not fit in 64 bits is a damaged journal: refused with its line.
#[test]
fn a_chunk_running_past_2_pow_64_is_refused_with_its_line() {
    let sandbox = Sandbox::new();
    let snapshot_dir = fixture(&sandbox, "overflowing-chunk");
    let casts = sandbox.path().join("casts");
    let export = casefile(
        &sandbox,
        &[
            "export",
            &snapshot_dir.display().to_string(),
            "--asciicast",
            &casts.display().to_string(),
        ],
    );
    assert_ne!(export.status.code(), Some(0));
    assert!(
        stderr(&export).contains(
            "journal.jsonl:3: chunk at offset 7 with length 18446744073709551615 ends past 2^64"
        ),
        "{}",
        stderr(&export)
    );
    let error = read_journal(&snapshot_dir.join("journal.jsonl")).expect_err("refused");
    assert!(error.to_string().contains("journal.jsonl:3:"), "{error}");
}

/// A journal that is a FIFO or a link is refused like a stream file (recovery reads it).
#[test]
fn a_journal_that_is_a_fifo_or_a_link_is_refused() {
    let sandbox = Sandbox::new();
    let snapshot_dir = fixture(&sandbox, "huge-chunk-length");
    let journal = snapshot_dir.join("journal.jsonl");
    fs::remove_file(&journal).expect("rm");
    let made = Command::new("mkfifo")
        .arg(&journal)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let error = read_journal(&journal).expect_err("a FIFO");
    assert!(error.to_string().contains("FIFO"), "{error}");
    fs::remove_file(&journal).expect("rm");
    std::os::unix::fs::symlink("/dev/zero", &journal).expect("symlink");
    let error = read_journal(&journal).expect_err("a link");
    assert!(error.to_string().contains("symbolic link"), "{error}");
}
