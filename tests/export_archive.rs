//! `casefile export --to file:DIR` and `--asciicast DIR`: the archive is one tar.gz that GNU tar
//! extracts to the snapshot's files, its SHA-256 sidecar checks with `sha256sum -c`, packing is
//! deterministic, a snapshot holding an unredacted secret is refused, and the casts follow the
//! journal's timing.
mod support;

use serde_json::Value;
use std::{path::PathBuf, process::Command};
use support::cli::{Sandbox, all_files, stderr};

fn capture(sandbox: &Sandbox, runs: &[&str]) -> PathBuf {
    let mut args = vec![
        "capture".to_string(),
        "--json".into(),
        "--out".into(),
        sandbox.captures().display().to_string(),
    ];
    for run in runs {
        args.push("--run".into());
        args.push(run.to_string());
    }
    let output = sandbox.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("capture json");
    PathBuf::from(summary["snapshot"].as_str().expect("snapshot path"))
}

/// Id of the first stream, as recorded in the manifest.
fn first_stream_id(snapshot: &std::path::Path) -> String {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(snapshot.join("manifest.json")).expect("manifest"))
            .expect("json");
    manifest["streams"][0]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

fn export(sandbox: &Sandbox, args: &[&str]) -> std::process::Output {
    sandbox
        .command()
        .arg("export")
        .args(args)
        .output()
        .expect("run export")
}

#[test]
fn gnu_tar_extracts_the_archive_and_sha256sum_checks_the_sidecar() {
    let sandbox = Sandbox::new();
    let snapshot = capture(
        &sandbox,
        &["seq 1 20000", "echo to stderr >&2; printf 'no newline'"],
    );
    let id = snapshot
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let out = sandbox.path().join("out");
    let output = export(
        &sandbox,
        &[
            &snapshot.display().to_string(),
            "--to",
            &format!("file:{}", out.display()),
            "--json",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("json");
    let archive = out.join(format!("{id}.tar.gz"));
    assert!(archive.exists());

    let check = Command::new("sha256sum")
        .args(["-c", &format!("{id}.tar.gz.sha256")])
        .current_dir(&out)
        .output()
        .expect("sha256sum");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let extracted = sandbox.path().join("extracted");
    std::fs::create_dir_all(&extracted).expect("dir");
    let tar = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(&extracted)
        .output()
        .expect("tar");
    assert!(
        tar.status.success(),
        "{}",
        String::from_utf8_lossy(&tar.stderr)
    );
    // Every file of the snapshot, byte for byte, under a folder named by the snapshot id.
    let original = all_files(&snapshot);
    let unpacked = all_files(&extracted.join(&id));
    assert_eq!(original.len(), unpacked.len());
    assert_eq!(
        report["archive"]["files"].as_u64(),
        Some(original.len() as u64)
    );
    for (path, bytes) in &original {
        let relative = path.strip_prefix(&snapshot).expect("relative");
        let copy = std::fs::read(extracted.join(&id).join(relative)).expect("extracted file");
        assert!(&copy == bytes, "{} differs", relative.display());
    }
    // The same snapshot packs to the same bytes: same hash on re-export.
    let again = sandbox.path().join("again");
    let output = export(
        &sandbox,
        &[
            &snapshot.display().to_string(),
            "--to",
            &format!("file:{}", again.display()),
            "--json",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let second: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(second["archive"]["sha256"], report["archive"]["sha256"]);
}

#[test]
fn a_snapshot_with_an_unredacted_secret_is_refused_and_no_archive_is_left() {
    let sandbox = Sandbox::new();
    let snapshot = capture(&sandbox, &["echo password=hunter22 is redacted at capture"]);
    let out = sandbox.path().join("out");
    // Redacted at capture time: exports fine.
    let ok = export(
        &sandbox,
        &[
            &snapshot.display().to_string(),
            "--to",
            &format!("file:{}", out.display()),
        ],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    // A file added after capture, holding an AWS key id, deep in a large file.
    let mut leaky = "harmless line\n".repeat(200_000).into_bytes();
    leaky.extend_from_slice(b"aws AKIAIOSFODNN7EXAMPLE\n");
    std::fs::write(snapshot.join("streams/notes.txt"), leaky).expect("plant");
    let refused_dir = sandbox.path().join("refused");
    let refused = export(
        &sandbox,
        &[
            &snapshot.display().to_string(),
            "--to",
            &format!("file:{}", refused_dir.display()),
        ],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let err = stderr(&refused);
    assert!(
        err.contains("refusing to export")
            && err.contains("streams/notes.txt")
            && err.contains("byte 2800004"),
        "{err}"
    );
    assert!(!err.contains("AKIAIOSFODNN7EXAMPLE"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&refused_dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "nothing may be left behind: {left:?}");
    // A registered secret (not a pattern) is caught too.
    std::fs::remove_file(snapshot.join("streams/notes.txt")).expect("remove");
    std::fs::write(
        snapshot.join("streams/notes.txt"),
        "value plain-Secret-Value-777\n",
    )
    .expect("plant");
    sandbox.write_config("[secrets.vault]\nenv = \"CASEFILE_TEST_VAULT\"\n");
    let refused = sandbox
        .command()
        .env("CASEFILE_TEST_VAULT", "plain-Secret-Value-777")
        .args([
            "export",
            &snapshot.display().to_string(),
            "--to",
            &format!("file:{}", refused_dir.display()),
        ])
        .output()
        .expect("export");
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("refusing to export"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn asciicast_files_replay_the_output_with_its_timing() {
    let sandbox = Sandbox::new();
    let snapshot = capture(
        &sandbox,
        &[
            "printf 'first\\n'; sleep 0.5; printf 'second €\\n'",
            "echo quick",
        ],
    );
    let casts = sandbox.path().join("casts");
    let output = export(
        &sandbox,
        &[
            &snapshot.display().to_string(),
            "--asciicast",
            &casts.display().to_string(),
            "--json",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(report["casts"].as_array().map(Vec::len), Some(2));
    let text = std::fs::read_to_string(casts.join(format!("{}.cast", first_stream_id(&snapshot))))
        .expect("cast");
    let mut lines = text.lines();
    let header: Value = serde_json::from_str(lines.next().expect("header")).expect("header json");
    assert_eq!(header["version"], 2);
    assert!(header["width"].as_u64().expect("width") >= 80);
    assert!(header["title"].as_str().expect("title").contains("adhoc"));
    let events: Vec<Value> = lines
        .map(|l| serde_json::from_str(l).expect("event json"))
        .collect();
    assert!(events.len() >= 2, "{text}");
    let times: Vec<f64> = events
        .iter()
        .map(|e| e[0].as_f64().expect("time"))
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "times go forward: {times:?}"
    );
    assert!(
        times[times.len() - 1] - times[0] >= 0.4,
        "the 0.5 s pause is kept: {times:?}"
    );
    let replayed: String = events
        .iter()
        .map(|e| e[2].as_str().expect("text"))
        .collect();
    assert_eq!(replayed, "first\r\nsecond €\r\n");
    assert!(events.iter().all(|e| e[1] == "o"));
}
