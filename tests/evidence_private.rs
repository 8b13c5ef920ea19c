//! Evidence is private whatever the umask. Under umask 000, a real capture (local target), its
//! archive and sidecar, its asciinema casts and an unpacked copy hold only 0700 folders and
//! 0600 files; and another local user (`casefile-test`) cannot read any of them, even after
//! the folders around them are opened up.
mod support;

use serde_json::Value;
use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Command,
};
use support::cli::{Sandbox, stderr};

/// Every path under `dir` (itself included) with its permission bits.
fn modes(dir: &Path) -> Vec<(PathBuf, bool, u32)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        let meta = fs::symlink_metadata(&next).expect("stat");
        found.push((
            next.clone(),
            meta.is_dir(),
            meta.permissions().mode() & 0o7777,
        ));
        if meta.is_dir() {
            for entry in fs::read_dir(&next).expect("read dir") {
                stack.push(entry.expect("entry").path());
            }
        }
    }
    found
}

fn assert_private(dir: &Path) -> usize {
    let found = modes(dir);
    for (path, is_dir, mode) in &found {
        let want = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{} is {mode:o}, not {want:o}", path.display());
    }
    found.len()
}

/// `cat FILE` as the other local user; true when it could read it.
fn other_user_can_read(file: &Path) -> bool {
    Command::new("setpriv")
        .args([
            "--reuid",
            "casefile-test",
            "--regid",
            "casefile-test",
            "--clear-groups",
        ])
        .arg("cat")
        .arg(file)
        .output()
        .expect("setpriv")
        .status
        .success()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    modes(dir)
        .into_iter()
        .filter(|(_, is_dir, _)| !is_dir)
        .map(|(p, _, _)| p)
        .collect()
}

#[test]
fn everything_casefile_writes_is_private_under_umask_000() {
    // Children (the casefile runs) inherit the umask; so does the in-process unpack below.
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let sandbox = Sandbox::new();
    // The sandbox itself is open to everyone, so only casefile's own modes protect the evidence.
    fs::set_permissions(sandbox.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let captures = sandbox.captures();
    let output = sandbox.run(&[
        "capture",
        "--json",
        "--out",
        &captures.display().to_string(),
        "--run",
        "echo the evidence; echo on stderr >&2",
        "--run",
        "seq 1 1000",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("json");
    let snapshot = PathBuf::from(summary["snapshot"].as_str().expect("snapshot"));
    assert_eq!(
        fs::metadata(&captures).expect("stat").permissions().mode() & 0o777,
        0o700,
        "the captures folder casefile made"
    );
    let snapshot_entries = assert_private(&snapshot);
    assert!(
        snapshot_entries >= 7,
        "manifest, journal, streams/ and four stream files"
    );

    let out = sandbox.path().join("exports");
    let copy = sandbox.path().join("copies/second");
    let casts = sandbox.path().join("casts");
    let export = sandbox.run(&[
        "export",
        &snapshot.display().to_string(),
        "--to",
        &format!("file:{}", out.display()),
        "--to",
        &format!("file:{}", copy.display()),
        "--asciicast",
        &casts.display().to_string(),
    ]);
    assert_eq!(export.status.code(), Some(0), "{}", stderr(&export));
    assert_eq!(assert_private(&out), 3, "folder, archive, sidecar");
    assert_eq!(
        assert_private(&sandbox.path().join("copies")),
        4,
        "folders made for the copy, archive, sidecar"
    );
    assert_eq!(assert_private(&casts), 3, "folder and two casts");

    let archive = files(&out)
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .expect("archive");
    let opened = casefile::snapshot::open_folder_or_archive(&archive).expect("unpack");
    let unpacked = opened
        .unpacked
        .as_ref()
        .expect("a temp folder")
        .path()
        .to_path_buf();
    assert!(
        assert_private(&unpacked) >= 8,
        "temp folder, snapshot folder and its files"
    );

    // Another local user reads none of it: not through the folders, and not even when the
    // folders are opened up (then the files' own 0600 holds).
    let all: Vec<PathBuf> = [&snapshot, &out, &copy, &casts, &unpacked]
        .into_iter()
        .flat_map(|d| files(d))
        .collect();
    assert!(all.len() >= 15);
    let public = sandbox.path().join("public.txt");
    fs::write(&public, "anyone may read this").expect("write");
    fs::set_permissions(&public, fs::Permissions::from_mode(0o644)).expect("chmod");
    assert!(other_user_can_read(&public), "the check itself works");
    for file in &all {
        assert!(
            !other_user_can_read(file),
            "{} is readable by another user",
            file.display()
        );
    }
    for dir in [&snapshot, &out, &copy, &casts, &unpacked] {
        for (path, is_dir, _) in modes(dir) {
            if is_dir {
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
            }
        }
    }
    for file in &all {
        assert!(
            !other_user_can_read(file),
            "{} is readable by another user",
            file.display()
        );
    }
    drop(opened);
    assert!(
        !unpacked.exists(),
        "the unpack folder is removed with the snapshot"
    );
}
