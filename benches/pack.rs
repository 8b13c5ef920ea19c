//! Packing benchmark: `casefile export`'s archive step against `tar -czf` on the same snapshot,
//! one snapshot per kind of realistic input: log text, base64 (certificates, tokens, dumps),
//! JSON lines (`journalctl -o json`), and incompressible binary (core dumps, pcaps).
//!
//! For each kind it reports, as ratios:
//! - **speed**: `tar -czf` time / casefile's tar.gz time (≥ 1.0 means casefile is as fast);
//! - **size**: casefile's archive / tar's archive (≤ 1.0 means as small or smaller);
//! - the same two for `--format tar.zst`;
//! - the **redaction re-check alone** (every byte scanned, nothing compressed or written), in
//!   MiB/s, so it is never the hidden bottleneck of a slow pack.
//!
//! How the anchor is timed, in its favour: each run writes a new file, the previous output is
//! deleted outside the timing, casefile and tar alternate round by round, and the best round of
//! each is kept. casefile also fsyncs its archive (evidence must be on disk before it is
//! uploaded); tar does not, and that is left in casefile's time.
//!
//! Run: `nice -n 10 cargo bench --bench pack` (`CASEFILE_BENCH_MIB=64` per kind by default,
//! `CASEFILE_BENCH_ROUNDS=3`).
// A bench reports its figures to the person running it; nothing captured is printed.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use casefile::redact::Redactor;
use casefile::snapshot::compress::ArchiveFormat;
use casefile::snapshot::{Snapshot, archive};
use std::{
    io::Write,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .max(1)
}

/// A small deterministic generator (xorshift64*), so every run packs the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const LEVELS: [&str; 4] = ["INFO", "INFO", "WARN", "ERROR"];
const PATHS: [&str; 5] = [
    "/api/v1/orders",
    "/api/v1/orders/42/items",
    "/healthz",
    "/api/v1/users/me",
    "/static/app.js",
];

/// Application and access log lines: timestamps, levels, paths, ids, latencies.
fn log_text(rng: &mut Rng, bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 256);
    let mut t = 1_700_000_000u64;
    while out.len() < bytes {
        t += rng.below(3);
        let _ = writeln!(
            out,
            "2026-11-28T{:02}:{:02}:{:02}.{:03}Z {} orders-api[{}]: {} {} status={} took={}ms request_id={:016x} user={} upstream=10.0.{}.{}:8080",
            (t / 3600) % 24,
            (t / 60) % 60,
            t % 60,
            rng.below(1000),
            LEVELS[rng.below(4) as usize],
            1000 + rng.below(64),
            if rng.below(5) == 0 { "POST" } else { "GET" },
            PATHS[rng.below(5) as usize],
            [200, 200, 200, 201, 404, 500][rng.below(6) as usize],
            rng.below(900),
            rng.next(),
            rng.below(100_000),
            rng.below(255),
            rng.below(255),
        );
    }
    out
}

/// `journalctl -o json`-like lines.
fn json_lines(rng: &mut Rng, bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 512);
    let mut t = 1_764_000_000_000_000u64;
    while out.len() < bytes {
        t += rng.below(5_000_000);
        let _ = writeln!(
            out,
            r#"{{"__REALTIME_TIMESTAMP":"{t}","_HOSTNAME":"db-{:02}","PRIORITY":"{}","_SYSTEMD_UNIT":"postgresql.service","_PID":"{}","MESSAGE":"duration: {}.{:03} ms  statement: SELECT * FROM orders WHERE id = {}","_BOOT_ID":"{:016x}{:016x}"}}"#,
            rng.below(12),
            rng.below(7),
            2000 + rng.below(3000),
            rng.below(2000),
            rng.below(1000),
            rng.below(10_000_000),
            rng.next(),
            rng.next(),
        );
    }
    out
}

fn random_bytes(rng: &mut Rng, bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 8);
    while out.len() < bytes {
        out.extend_from_slice(&rng.next().to_le_bytes());
    }
    out.truncate(bytes);
    out
}

/// Base64 of random bytes in 4000-column lines (the issue's stress case:
/// `head -c 16M /dev/urandom | base64 -w 0 | fold -w 4000`).
fn base64_text(rng: &mut Rng, bytes: usize) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let raw = random_bytes(rng, bytes / 4 * 3);
    let mut out = Vec::with_capacity(bytes + bytes / 4000 + 4);
    let mut column = 0;
    for group in raw.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]);
            column += 1;
            if column == 4000 {
                out.push(b'\n');
                column = 0;
            }
        }
    }
    out
}

/// A snapshot folder made by the real binary (`casefile capture --run true`), with `content`
/// added as one more stream file: the generated bytes are packed as they are, without going
/// through the live redactor first (that is the capture bench's job).
fn snapshot_with(work: &Path, kind: &str, content: &[u8]) -> PathBuf {
    let out = work.join(format!("captures-{kind}"));
    let output = Command::new(env!("CARGO_BIN_EXE_casefile"))
        .args(["capture", "--json", "--run", "true", "--out"])
        .arg(&out)
        .env_remove("CASEFILE_CONFIG")
        .output()
        .expect("run casefile capture");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let dir = PathBuf::from(summary["snapshot"].as_str().expect("path"));
    std::fs::write(
        dir.join("streams").join(format!("bench-{kind}.out")),
        content,
    )
    .expect("write stream");
    dir
}

/// Makes `n` bytes of one kind of input.
type Generator = fn(&mut Rng, usize) -> Vec<u8>;

fn mib_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1048576.0 / d.as_secs_f64()
}

struct Row {
    kind: &'static str,
    input: u64,
    gz: Duration,
    gz_bytes: u64,
    zst: Duration,
    zst_bytes: u64,
    tar: Duration,
    tar_bytes: u64,
    scan: Duration,
}

fn measure(kind: &'static str, dir: &Path, work: &Path, rounds: u64) -> Row {
    let snapshot = Snapshot::open(dir).expect("open snapshot");
    let redactor = Redactor::patterns_only();
    let files = archive::snapshot_files(dir).expect("files");
    let input: u64 = files
        .iter()
        .map(|f| std::fs::metadata(dir.join(f)).map_or(0, |m| m.len()))
        .sum();
    let ours = work.join(format!("ours-{kind}"));
    let tar_file = work.join(format!("tar-{kind}.tar.gz"));
    let (parent, name) = (
        dir.parent().expect("parent"),
        dir.file_name().expect("name"),
    );
    let best = |slot: &mut Duration, started: Instant| *slot = (*slot).min(started.elapsed());
    let (mut gz, mut zst, mut tar, mut scan) =
        (Duration::MAX, Duration::MAX, Duration::MAX, Duration::MAX);
    let (mut gz_bytes, mut zst_bytes) = (0, 0);
    for _ in 0..rounds {
        let _ = std::fs::remove_dir_all(&ours);
        let started = Instant::now();
        let packed = archive::pack_as(&snapshot, &ours, &redactor, 6, ArchiveFormat::TarGz)
            .expect("pack tar.gz");
        best(&mut gz, started);
        gz_bytes = packed.bytes;

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
        best(&mut tar, started);
        assert!(status.success());

        let _ = std::fs::remove_dir_all(&ours);
        let started = Instant::now();
        let packed = archive::pack_as(&snapshot, &ours, &redactor, 6, ArchiveFormat::TarZst)
            .expect("pack tar.zst");
        best(&mut zst, started);
        zst_bytes = packed.bytes;

        let started = Instant::now();
        for f in &files {
            archive::scan_file(&dir.join(f), &redactor).expect("re-check");
        }
        best(&mut scan, started);
    }
    let tar_bytes = std::fs::metadata(&tar_file).expect("tar size").len();
    let _ = std::fs::remove_file(&tar_file);
    let _ = std::fs::remove_dir_all(&ours);
    Row {
        kind,
        input,
        gz,
        gz_bytes,
        zst,
        zst_bytes,
        tar,
        tar_bytes,
        scan,
    }
}

fn main() {
    let mib = env_or("CASEFILE_BENCH_MIB", 64);
    let rounds = env_or("CASEFILE_BENCH_ROUNDS", 3);
    let bytes = (mib << 20) as usize;
    let work = tempfile::Builder::new()
        .prefix("casefile-bench-pack-")
        .tempdir_in(std::env::temp_dir())
        .expect("temp dir");
    println!(
        "pack benchmark: {mib} MiB per kind, best of {rounds} alternating rounds, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let kinds: [(&'static str, Generator); 4] = [
        ("log", log_text),
        ("base64", base64_text),
        ("json", json_lines),
        ("binary", random_bytes),
    ];
    println!(
        "{:<7} {:>7} | {:>10} {:>10} | {:>10} {:>10} | {:>12}",
        "input", "MiB", "gz speed", "gz size", "zst speed", "zst size", "re-check"
    );
    println!(
        "{:<7} {:>7} | {:>10} {:>10} | {:>10} {:>10} | {:>12}",
        "", "", "vs tar", "vs tar", "vs tar", "vs tar", "MiB/s"
    );
    for (kind, generate) in kinds {
        let dir = snapshot_with(work.path(), kind, &generate(&mut rng, bytes));
        let row = measure(kind, &dir, work.path(), rounds);
        println!(
            "{:<7} {:>7.0} | {:>9.2}x {:>10.3} | {:>9.2}x {:>10.3} | {:>12.0}",
            row.kind,
            row.input as f64 / 1048576.0,
            row.tar.as_secs_f64() / row.gz.as_secs_f64(),
            row.gz_bytes as f64 / row.tar_bytes as f64,
            row.tar.as_secs_f64() / row.zst.as_secs_f64(),
            row.zst_bytes as f64 / row.tar_bytes as f64,
            mib_per_s(row.input, row.scan),
        );
        eprintln!(
            "  {kind}: casefile gz {:.2}s, zst {:.2}s, tar -czf {:.2}s, re-check {:.2}s",
            row.gz.as_secs_f64(),
            row.zst.as_secs_f64(),
            row.tar.as_secs_f64(),
            row.scan.as_secs_f64()
        );
        let _ = std::fs::remove_dir_all(dir.parent().expect("captures"));
    }
}
