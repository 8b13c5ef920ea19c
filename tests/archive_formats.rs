//! Archive formats: the default `.tar.gz` is written as several gzip members (compressed in
//! parallel) that GNU tar and casefile's own unpack read whole; `--format tar.zst` writes a
//! `.tar.zst` that `tar --zstd` and casefile read; unpack's refusals hold for both.
mod support;

use serde_json::Value;
use std::{
    io::Write,
    path::{Path, PathBuf},
    process::Command,
};
use support::cli::{Sandbox, all_files, stderr, stdout};

/// A snapshot large enough (≈ 16 MB of text) to span several gzip members.
fn capture(sandbox: &Sandbox) -> PathBuf {
    let output = sandbox.run(&[
        "capture",
        "--json",
        "--out",
        &sandbox.captures().display().to_string(),
        "--run",
        "seq 1 2000000",
        "--run",
        "head -c 3000000 /dev/urandom | base64 -w 0",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("capture json");
    PathBuf::from(summary["snapshot"].as_str().expect("snapshot path"))
}

fn export(sandbox: &Sandbox, snapshot: &Path, out: &Path, extra: &[&str]) -> Value {
    let output = sandbox
        .command()
        .arg("export")
        .arg(snapshot)
        .args(["--to", &format!("file:{}", out.display()), "--json"])
        .args(extra)
        .output()
        .expect("export");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).expect("json")
}

/// Extracts `archive` with GNU tar (`flags` picks the decompressor) and compares every file.
fn assert_tar_extracts_the_snapshot(
    sandbox: &Sandbox,
    archive: &Path,
    flags: &[&str],
    snapshot: &Path,
) {
    let extracted = sandbox.path().join(format!("x-{}", flags.join("")));
    std::fs::create_dir_all(&extracted).expect("dir");
    let tar = Command::new("tar")
        .args(flags)
        .arg(archive)
        .arg("-C")
        .arg(&extracted)
        .output()
        .expect("tar");
    assert!(
        tar.status.success(),
        "{}",
        String::from_utf8_lossy(&tar.stderr)
    );
    let id = snapshot.file_name().expect("id");
    let original = all_files(snapshot);
    assert_eq!(original.len(), all_files(&extracted.join(id)).len());
    for (path, bytes) in &original {
        let relative = path.strip_prefix(snapshot).expect("relative");
        let copy = std::fs::read(extracted.join(id).join(relative)).expect("extracted");
        assert!(&copy == bytes, "{} differs", relative.display());
    }
}

/// `casefile show ARCHIVE` unpacks it and verifies every file's SHA-256.
fn assert_show_verifies(sandbox: &Sandbox, archive: &Path) {
    let show = sandbox.run(&["show", &archive.display().to_string()]);
    let text = stdout(&show);
    assert_eq!(show.status.code(), Some(0), "{text}{}", stderr(&show));
    assert!(
        text.contains("recorded files match their SHA-256"),
        "{text}"
    );
}

fn gzip_members(bytes: &[u8]) -> usize {
    // Each member starts with the magic, CM=8 and the fixed header casefile writes (mtime 0).
    bytes
        .windows(8)
        .filter(|w| w[..4] == [0x1f, 0x8b, 8, 0] && w[4..8] == [0, 0, 0, 0])
        .count()
}

#[test]
fn tar_gz_in_parallel_members_is_read_by_gnu_tar_and_by_casefile() {
    let sandbox = Sandbox::new();
    let snapshot = capture(&sandbox);
    let out = sandbox.path().join("out");
    let report = export(&sandbox, &snapshot, &out, &[]);
    let id = snapshot
        .file_name()
        .expect("id")
        .to_string_lossy()
        .into_owned();
    let archive = out.join(format!("{id}.tar.gz"));
    assert!(
        report["archive"]["bytes"].as_u64().is_some_and(|b| b > 0),
        "{report}"
    );
    let bytes = std::fs::read(&archive).expect("archive");
    assert!(
        gzip_members(&bytes) >= 4,
        "{} members",
        gzip_members(&bytes)
    );
    assert_tar_extracts_the_snapshot(&sandbox, &archive, &["-xzf"], &snapshot);
    assert_show_verifies(&sandbox, &archive);
    // About gzip's own ratio on this input (independent members cost a fraction of a percent).
    let gzip = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -cf - -C {} {id} | gzip -6 | wc -c",
            snapshot.parent().expect("parent").display()
        ))
        .output()
        .expect("gzip");
    let gzip_size: f64 = String::from_utf8_lossy(&gzip.stdout)
        .trim()
        .parse()
        .expect("size");
    let ratio = bytes.len() as f64 / gzip_size;
    assert!(
        ratio < 1.02,
        "casefile's archive is {ratio:.3}× gzip -6's size"
    );
}

#[test]
fn tar_zst_is_written_on_request_and_read_by_tar_and_by_casefile() {
    let sandbox = Sandbox::new();
    let snapshot = capture(&sandbox);
    let out = sandbox.path().join("out");
    let report = export(&sandbox, &snapshot, &out, &["--format", "tar.zst"]);
    let id = snapshot
        .file_name()
        .expect("id")
        .to_string_lossy()
        .into_owned();
    let archive = out.join(format!("{id}.tar.zst"));
    assert!(archive.exists(), "{report}");
    assert!(out.join(format!("{id}.tar.zst.sha256")).exists());
    assert!(!out.join(format!("{id}.tar.gz")).exists());
    let check = Command::new("sha256sum")
        .args(["-c", &format!("{id}.tar.zst.sha256")])
        .current_dir(&out)
        .output()
        .expect("sha256sum");
    assert!(check.status.success());
    if Command::new("zstd").arg("--version").output().is_ok() {
        assert_tar_extracts_the_snapshot(&sandbox, &archive, &["--zstd", "-xf"], &snapshot);
    }
    assert_show_verifies(&sandbox, &archive);
}

#[test]
fn an_unknown_format_is_a_usage_error() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["export", "x", "--to", "file:/tmp/x", "--format", "zip"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("tar.zst"), "{}", stderr(&output));
}

#[test]
fn a_zstd_archive_climbing_out_is_refused_like_a_gzip_one() {
    let sandbox = Sandbox::new();
    let archive = sandbox.path().join("evil.tar.zst");
    let file = std::fs::File::create(&archive).expect("create");
    let mut tar = tar::Builder::new(zstd::stream::write::Encoder::new(file, 3).expect("zstd"));
    let name = b"../escaped.txt";
    let mut header = tar::Header::new_old();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_size(4);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    tar.append(&header, &b"evil"[..]).expect("append");
    tar.into_inner()
        .expect("tar")
        .finish()
        .expect("zstd")
        .flush()
        .expect("flush");
    let show = sandbox.run(&["show", &archive.display().to_string()]);
    assert_ne!(show.status.code(), Some(0));
    assert!(
        stderr(&show).contains("refusing to unpack entry \"../escaped.txt\""),
        "{}",
        stderr(&show)
    );
    assert!(!sandbox.path().join("escaped.txt").exists());
}
