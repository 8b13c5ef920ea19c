//! Export benchmark, side by side with what a user would otherwise run:
//! 1. packing a 1 GiB snapshot: casefile's archive (redaction re-check + gzip -6) vs `tar -czf`;
//!    also a compressible (text) snapshot, where the size comparison matters;
//! 2. uploading the 1 GiB archive to the same local S3-compatible server (s3s-fs, in this
//!    process, checking SigV4): casefile's uploader vs `aws s3 cp` (awscli from .tools/venv).
//!
//! Run: `bash scripts/setup/export.sh && cargo bench --bench export_s3`
//! (`CASEFILE_BENCH_MIB=256` for a smaller snapshot, `CASEFILE_BENCH_ROUNDS=1` for one round). Prints times, throughputs and ratios.
// A bench reports its figures to the person running it; nothing captured is printed.
#![allow(clippy::print_stdout, clippy::print_stderr)]
#[path = "../tests/support/s3.rs"]
#[allow(dead_code)]
mod s3_support;

use casefile::redact::Redactor;
use casefile::s3::{S3Options, S3Uploader};
use casefile::snapshot::{Snapshot, archive};
use s3_support::{ACCESS_KEY, S3sFs, SECRET_KEY};
use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

const BUCKET: &str = "bench";

/// Rounds per measurement (best is kept); `CASEFILE_BENCH_ROUNDS`, default 2.
fn rounds() -> usize {
    std::env::var("CASEFILE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
        .max(1)
}

fn mib() -> u64 {
    std::env::var("CASEFILE_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

/// Captures `commands` with the release binary into `out`; returns the snapshot folder.
fn capture(out: &Path, commands: &[String]) -> PathBuf {
    let mut command = Command::new(env!("CARGO_BIN_EXE_casefile"));
    command
        .args(["capture", "--json", "--timeout", "30m", "--out"])
        .arg(out);
    for c in commands {
        command.args(["--run", c]);
    }
    let output = command
        .env_remove("CASEFILE_CONFIG")
        .output()
        .expect("run casefile capture");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    PathBuf::from(summary["snapshot"].as_str().expect("path"))
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Packs with casefile and with `tar -czf`; prints time and size of each.
fn compare_packing(label: &str, snapshot_dir: &Path, work: &Path) -> PathBuf {
    let snapshot = Snapshot::open(snapshot_dir).expect("open snapshot");
    let redactor = Redactor::patterns_only();
    let input: u64 = archive::snapshot_files(snapshot_dir)
        .expect("files")
        .iter()
        .map(|f| {
            std::fs::metadata(snapshot_dir.join(f))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum();
    let ours_dir = work.join(format!("ours-{label}"));
    let mut best_ours = Duration::MAX;
    let mut packed = None;
    for _ in 0..rounds() {
        let _ = std::fs::remove_dir_all(&ours_dir);
        let started = Instant::now();
        let result = archive::pack(&snapshot, &ours_dir, &redactor, 6).expect("pack");
        best_ours = best_ours.min(started.elapsed());
        packed = Some(result);
    }
    let packed = packed.expect("packed");
    let tar_file = work.join(format!("tar-{label}.tar.gz"));
    let parent = snapshot_dir.parent().expect("parent");
    let name = snapshot_dir.file_name().expect("name");
    let mut best_tar = Duration::MAX;
    for _ in 0..rounds() {
        let _ = std::fs::remove_file(&tar_file);
        let started = Instant::now();
        let status = Command::new("tar")
            .arg("-czf")
            .arg(&tar_file)
            .arg("-C")
            .arg(parent)
            .arg(name)
            .status()
            .expect("run tar");
        best_tar = best_tar.min(started.elapsed());
        assert!(status.success());
    }
    let tar_size = std::fs::metadata(&tar_file).expect("tar size").len();
    let _ = std::fs::remove_file(&tar_file);
    println!(
        "pack {label:<5} input {:>6.0} MiB | casefile {:>6.2}s {:>6.1} MiB/s -> {:>8.1} MiB | tar -czf {:>6.2}s {:>6.1} MiB/s -> {:>8.1} MiB | speed ratio {:.2}x, size ratio {:.3}",
        input as f64 / 1048576.0,
        seconds(best_ours),
        input as f64 / 1048576.0 / seconds(best_ours),
        packed.bytes as f64 / 1048576.0,
        seconds(best_tar),
        input as f64 / 1048576.0 / seconds(best_tar),
        tar_size as f64 / 1048576.0,
        seconds(best_tar) / seconds(best_ours),
        packed.bytes as f64 / tar_size as f64,
    );
    packed.path
}

fn main() {
    let aws = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/venv/bin/aws");
    assert!(
        aws.exists(),
        "{} is missing: run scripts/setup/export.sh",
        aws.display()
    );
    let work = tempfile::Builder::new()
        .prefix("casefile-bench-")
        .tempdir_in(std::env::temp_dir())
        .expect("temp dir");
    let size_mib = mib();
    println!(
        "export benchmark: {size_mib} MiB snapshot, best of {} rounds each",
        rounds()
    );

    // 1. Packing. Incompressible (core dumps, pcaps) and text (ps, logs, query output).
    let streams = 8;
    let per_stream = size_mib * 1024 * 1024 / streams;
    let random: Vec<String> = (0..streams)
        .map(|_| format!("head -c {per_stream} /dev/urandom"))
        .collect();
    let random_snapshot = capture(&work.path().join("captures-random"), &random);
    let archive_path = compare_packing("bin", &random_snapshot, work.path());
    let text_lines = size_mib * 1024 * 1024 / 4 / 60;
    let text = format!(
        "awk 'BEGIN {{ srand(7); for (i = 0; i < {text_lines}; i++) printf \"%7d %5.1f %5.1f postgres: app orders 10.0.%d.%d(%d) SELECT waiting\\n\", i, rand()*100, rand()*10, i%255, i%7, 40000+i%20000 }}'"
    );
    let text_snapshot = capture(&work.path().join("captures-text"), &vec![text; 4]);
    compare_packing("text", &text_snapshot, work.path());

    // 2. Upload the archive to the same server with both tools.
    let server = S3sFs::start();
    server.create_bucket(BUCKET);
    let bytes = std::fs::metadata(&archive_path).expect("archive").len();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let uploader = runtime.block_on(async {
        let sdk = s3_support::sdk_config(&server.endpoint(), ACCESS_KEY, SECRET_KEY).await;
        S3Uploader::new(&sdk, S3Options::default()).expect("uploader")
    });
    let mut best_ours = Duration::MAX;
    let mut best_aws = Duration::MAX;
    for round in 0..rounds() {
        let key = format!("casefile/{round}.tar.gz");
        let started = Instant::now();
        let done = runtime
            .block_on(uploader.upload_file(
                &archive_path,
                BUCKET,
                &key,
                &format!("round-{round}"),
                "application/gzip",
            ))
            .expect("casefile upload");
        best_ours = best_ours.min(started.elapsed());
        assert_eq!(done.bytes, bytes);

        let started = Instant::now();
        let status = Command::new(&aws)
            .args([
                "s3",
                "cp",
                "--only-show-errors",
                "--endpoint-url",
                &server.endpoint(),
            ])
            .arg(&archive_path)
            .arg(format!("s3://{BUCKET}/aws/{round}.tar.gz"))
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .status()
            .expect("run aws s3 cp");
        best_aws = best_aws.min(started.elapsed());
        assert!(status.success(), "aws s3 cp failed");
    }
    let mib_total = bytes as f64 / 1048576.0;
    println!(
        "upload {mib_total:.0} MiB | casefile {:.2}s {:.1} MiB/s | aws s3 cp {:.2}s {:.1} MiB/s | throughput ratio casefile/aws {:.2}x",
        seconds(best_ours),
        mib_total / seconds(best_ours),
        seconds(best_aws),
        mib_total / seconds(best_aws),
        seconds(best_aws) / seconds(best_ours),
    );
}
