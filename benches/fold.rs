//! Folding benchmark: `casefile show --group`'s work on a 500-host × 14-step capture (7,000
//! streams of up to 64 KiB: `uptime`, `uname`, `ps aux`, `df`, log tails, config dumps), in
//! exact and shape mode, against what a user would otherwise run on the same files:
//!
//! - exact: `sha256sum` over every stream file, then `sort | uniq -c` (one pipeline);
//! - exact, as text: pdsh's `dshbak -c` on each step's `host: line` output (clush -b's
//!   equivalent; `scripts/setup/fleet.sh` installs it);
//! - shape: `sed -E 's/[0-9]+/#/g' | dshbak -c` per step (numbers masked, then folded).
//!
//! casefile's exact mode normally reads no stream file (the manifest records each output's
//! SHA-256 as it is written); "exact, hashing" also hashes every file, for a like-for-like
//! comparison with `sha256sum`. The masker alone is also measured on realistic text and on its
//! worst cases (colon runs, short digit words, base64), against `sed -E 's/[0-9]+/#/g'`.
//!
//! Ratios are anchor time / casefile time (> 1: casefile is faster). Best of
//! `CASEFILE_BENCH_ROUNDS` (default 3) rounds, warm page cache.
//!
//! Run: `nice -n 10 cargo bench --bench fold`
// A bench reports its figures to the person running it; nothing captured is printed.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use casefile::fleet::shape;
use casefile::fleet::{FoldMode, Folder};
use casefile::model::{StepAction, StreamSpec, Target, TargetSpec};
use casefile::snapshot::manifest::StreamResult;
use casefile::snapshot::{
    CaptureState, Manifest, OutputRecord, Snapshot, StreamRecord, StreamStatus,
};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const HOSTS: usize = 500;
const STEPS: usize = 14;
const MAX_BYTES: usize = 64 << 10;

/// A small deterministic generator (xorshift64*), so every run folds the same bytes.
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

const COMMANDS: [&str; 12] = [
    "/usr/sbin/sshd -D",
    "/lib/systemd/systemd-journald",
    "nginx: worker process",
    "/usr/bin/containerd",
    "postgres: checkpointer",
    "/usr/sbin/cron -f",
    "[kworker/0:1-events]",
    "/usr/bin/python3 /opt/app/worker.py --queue orders",
    "java -Xmx4g -jar /opt/search/search.jar",
    "/usr/sbin/rsyslogd -n -iNONE",
    "node /srv/web/server.js",
    "/usr/local/bin/node_exporter",
];

fn uptime(rng: &mut Rng) -> Vec<u8> {
    format!(
        " {:02}:{:02}:{:02} up {} days, {:2}:{:02},  {} users,  load average: {}.{:02}, {}.{:02}, {}.{:02}\n",
        rng.below(24), rng.below(60), rng.below(60), rng.below(400), rng.below(24), rng.below(60),
        rng.below(5), rng.below(8), rng.below(100), rng.below(8), rng.below(100), rng.below(8), rng.below(100)
    )
    .into_bytes()
}

/// `ps aux`: the same processes on every host, with their own pids, CPU, memory and times.
fn ps(rng: &mut Rng) -> Vec<u8> {
    let mut out =
        b"USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n".to_vec();
    for (i, command) in COMMANDS.iter().cycle().take(240).enumerate() {
        let _ = writeln!(
            out,
            "{:<10} {:>6} {:>4}.{} {:>4}.{} {:>6} {:>5} ?        Ss   Nov{:02}   {}:{:02} {command}",
            if i % 3 == 0 { "root" } else { "www-data" },
            1 + rng.below(400_000),
            rng.below(100),
            rng.below(10),
            rng.below(30),
            rng.below(10),
            rng.below(9_000_000),
            rng.below(900_000),
            1 + rng.below(28),
            rng.below(600),
            rng.below(60)
        );
    }
    out
}

fn df(rng: &mut Rng) -> Vec<u8> {
    let mut out = b"Filesystem      Size  Used Avail Use% Mounted on\n".to_vec();
    for (fs, mount) in [
        ("/dev/vda1", "/"),
        ("tmpfs", "/run"),
        ("/dev/vdb1", "/var/lib/data"),
    ] {
        let _ = writeln!(
            out,
            "{fs:<15} {:>4}G {:>4}G {:>4}G {:>3}% {mount}",
            50 + rng.below(200),
            rng.below(50),
            rng.below(150),
            rng.below(100)
        );
    }
    out
}

/// A log tail: timestamps, levels, paths, request ids, upstream addresses, up to 64 KiB.
fn log(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAX_BYTES);
    let len = MAX_BYTES / 2 + rng.below((MAX_BYTES / 2) as u64) as usize;
    while out.len() < len - 300 {
        let _ = writeln!(
            out,
            "2026-11-28T08:{:02}:{:02}.{:03}Z INFO orders-api[{}]: GET /api/v1/orders/{} status=200 took={}ms request_id={:016x} upstream=10.0.{}.{}:8080",
            rng.below(60),
            rng.below(60),
            rng.below(1000),
            1000 + rng.below(64),
            rng.below(100_000),
            rng.below(900),
            rng.next(),
            rng.below(256),
            rng.below(256)
        );
    }
    out
}

/// A configuration dump: the same on every host but a few.
fn config(step: usize, odd: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..600 {
        let _ = writeln!(
            out,
            "net.core.setting_{step}_{i} = {}",
            if odd && i == 300 { 1 } else { 0 }
        );
    }
    out
}

fn uname(odd: bool) -> Vec<u8> {
    let kernel = if odd {
        "6.1.0-25-amd64"
    } else {
        "6.1.0-28-amd64"
    };
    format!("Linux web {kernel} #1 SMP PREEMPT_DYNAMIC Debian x86_64 GNU/Linux\n").into_bytes()
}

/// Output of `step` on `host`.
fn output(step: usize, host: usize, rng: &mut Rng) -> Vec<u8> {
    let odd = host % 97 == 13;
    match step % 7 {
        0 => uptime(rng),
        1 => uname(odd),
        2 => ps(rng),
        3 => df(rng),
        4 => log(rng),
        5 => config(step, odd),
        _ => config(step, false),
    }
}

fn record(
    index: usize,
    host: usize,
    step: usize,
    path: String,
    bytes: &[u8],
    hashed: bool,
) -> StreamRecord {
    StreamRecord {
        spec: StreamSpec::new(
            format!("{index:04}"),
            host,
            "linux-triage",
            format!("step-{step:02}"),
            StepAction::Command("true".into()),
            Duration::from_secs(30),
        ),
        target_name: format!("web{:03}", host + 1),
        result: StreamResult {
            status: StreamStatus::Exited,
            started_at: None,
            ended_at: None,
            duration_ms: Some(10),
            exit_code: Some(0),
            signal: None,
            timed_out: false,
            truncated: false,
            reason: None,
            stdout: OutputRecord {
                path,
                bytes: bytes.len() as u64,
                received_bytes: bytes.len() as u64,
                sha256: hashed.then(|| hex::encode(Sha256::digest(bytes))),
            },
            stderr: OutputRecord {
                path: String::new(),
                bytes: 0,
                received_bytes: 0,
                sha256: hashed.then(|| hex::encode(Sha256::digest(b""))),
            },
            data: None,
            artifact: None,
            redactions: 0,
        },
    }
}

/// Writes the snapshot (manifest with recorded hashes), per-step `host: line` files for
/// dshbak, and returns the manifest without hashes (the "hash every file" variant).
fn generate(dir: &Path, steps_dir: &Path) -> (Manifest, u64) {
    std::fs::create_dir_all(dir.join("streams")).expect("streams");
    std::fs::create_dir_all(steps_dir).expect("steps");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut streams = Vec::new();
    let mut unhashed = Vec::new();
    let mut total = 0u64;
    for step in 0..STEPS {
        let mut lines = std::io::BufWriter::new(
            std::fs::File::create(steps_dir.join(format!("step-{step:02}.txt")))
                .expect("step file"),
        );
        for host in 0..HOSTS {
            let index = streams.len();
            let bytes = output(step, host, &mut rng);
            total += bytes.len() as u64;
            let path = format!("streams/{index:04}.out");
            std::fs::write(dir.join(&path), &bytes).expect("stream");
            for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let _ = write!(lines, "web{:03}: ", host + 1);
                lines.write_all(line).expect("line");
                lines.write_all(b"\n").expect("line");
            }
            streams.push(record(index, host, step, path.clone(), &bytes, true));
            unhashed.push(record(index, host, step, path, &bytes, false));
        }
    }
    let targets: Vec<Target> = (0..HOSTS)
        .map(|h| Target {
            name: format!("web{:03}", h + 1),
            spec: TargetSpec::parse_url(&format!("ssh://ops@10.0.{}.{}", h / 250, h % 250 + 1))
                .expect("url"),
            tags: vec![],
            source: "bench".into(),
            password_secret: None,
        })
        .collect();
    let manifest = |streams| Manifest {
        schema_version: casefile::snapshot::SCHEMA_VERSION,
        casefile_version: "bench".into(),
        id: "fold-bench".into(),
        incident: None,
        operator: "bench@localhost".into(),
        started_at: "2026-11-28T08:00:00Z".into(),
        ended_at: Some("2026-11-28T08:00:10Z".into()),
        state: CaptureState::Complete,
        targets: targets.clone(),
        streams,
    };
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec(&manifest(streams)).expect("json"),
    )
    .expect("manifest");
    (manifest(unhashed), total)
}

fn best(rounds: usize, mut f: impl FnMut() -> Duration) -> Duration {
    (0..rounds).map(|_| f()).min().unwrap_or_default()
}

fn timed(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

fn shell(script: &str, dir: &Path) -> Duration {
    timed(|| {
        let status = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .stdout(Stdio::null())
            .status()
            .expect("sh");
        assert!(status.success(), "{script} failed");
    })
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn mib_s(bytes: u64, time: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / time.as_secs_f64()
}

fn main() {
    let rounds = std::env::var("CASEFILE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3usize)
        .max(1);
    let root = tempfile::tempdir().expect("temp");
    let dir = root.path().join("snapshot");
    let steps_dir = root.path().join("steps");
    let (unhashed, total) = generate(&dir, &steps_dir);
    println!(
        "fold: {} streams ({HOSTS} hosts x {STEPS} steps), {:.0} MiB, best of {rounds}",
        HOSTS * STEPS,
        total as f64 / (1 << 20) as f64
    );

    let mut groups = (0, 0, 0);
    let exact = best(rounds, || {
        timed(|| {
            let snapshot = Snapshot::open(&dir).expect("open");
            let folder = Folder::fold_snapshot(FoldMode::Exact, &snapshot.dir, &snapshot.manifest)
                .expect("fold");
            groups.0 = folder.steps().iter().map(|s| s.groups().count()).sum();
        })
    });
    let hashing = best(rounds, || {
        timed(|| {
            let folder = Folder::fold_snapshot(FoldMode::Exact, &dir, &unhashed).expect("fold");
            groups.1 = folder.steps().iter().map(|s| s.groups().count()).sum();
        })
    });
    let shaped = best(rounds, || {
        timed(|| {
            let snapshot = Snapshot::open(&dir).expect("open");
            let folder = Folder::fold_snapshot(FoldMode::Shape, &snapshot.dir, &snapshot.manifest)
                .expect("fold");
            groups.2 = folder.steps().iter().map(|s| s.groups().count()).sum();
        })
    });
    assert_eq!(groups.0, groups.1, "hashing or not, the same groups");
    let sha = best(rounds, || {
        shell(
            "find streams -name '*.out' -print0 | xargs -0 sha256sum | sort | uniq -c -w64 | sort -rn",
            &dir,
        )
    });
    println!(
        "  groups: exact {}, shape {} (over {STEPS} steps)",
        groups.0, groups.2
    );
    println!(
        "  casefile exact (recorded hashes)   {:>8.1} ms",
        exact.as_secs_f64() * 1e3
    );
    println!(
        "  casefile exact (hashing each file) {:>8.1} ms  {:>7.0} MiB/s",
        hashing.as_secs_f64() * 1e3,
        mib_s(total, hashing)
    );
    println!(
        "  casefile shape                     {:>8.1} ms  {:>7.0} MiB/s",
        shaped.as_secs_f64() * 1e3,
        mib_s(total, shaped)
    );
    println!(
        "  sha256sum | sort | uniq -c         {:>8.1} ms",
        sha.as_secs_f64() * 1e3
    );
    println!(
        "  ratio sha256sum / casefile exact (recorded) {:>6.1}x",
        sha.as_secs_f64() / exact.as_secs_f64()
    );
    println!(
        "  ratio sha256sum / casefile exact (hashing)  {:>6.1}x",
        sha.as_secs_f64() / hashing.as_secs_f64()
    );
    if have("dshbak") {
        let per_step = |filter: &str| {
            let script: String = (0..STEPS)
                .map(|s| format!("{filter} steps/step-{s:02}.txt | dshbak -c >/dev/null\n"))
                .collect();
            script
        };
        let exact_script = per_step("cat");
        let shape_script = per_step("sed -E 's/[0-9]+/#/g'");
        let dshbak = best(rounds, || shell(&exact_script, root.path()));
        let dshbak_shape = best(rounds, || shell(&shape_script, root.path()));
        println!(
            "  dshbak -c (per step)               {:>8.1} ms",
            dshbak.as_secs_f64() * 1e3
        );
        println!(
            "  sed digits | dshbak -c (per step)  {:>8.1} ms",
            dshbak_shape.as_secs_f64() * 1e3
        );
        println!(
            "  ratio dshbak -c / casefile exact (recorded) {:>6.1}x",
            dshbak.as_secs_f64() / exact.as_secs_f64()
        );
        println!(
            "  ratio dshbak -c / casefile exact (hashing)  {:>6.1}x",
            dshbak.as_secs_f64() / hashing.as_secs_f64()
        );
        println!(
            "  ratio sed|dshbak -c / casefile shape        {:>6.1}x",
            dshbak_shape.as_secs_f64() / shaped.as_secs_f64()
        );
    } else {
        println!("  dshbak not installed (scripts/setup/fleet.sh): its anchors are skipped");
    }

    // The masker alone, on realistic text and on its worst cases, against sed.
    println!("masker alone (MiB/s; ratio = casefile / sed -E 's/[0-9]+/#/g'):");
    let mut rng = Rng(7);
    let mut realistic = Vec::new();
    while realistic.len() < 16 << 20 {
        realistic.extend(log(&mut rng));
        realistic.extend(ps(&mut rng));
    }
    let mut base64 = Vec::new();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    while base64.len() < 16 << 20 {
        for _ in 0..4000 {
            base64.push(alphabet[rng.below(64) as usize]);
        }
        base64.push(b'\n');
    }
    let inputs: [(&str, Vec<u8>); 5] = [
        ("logs + ps", realistic),
        ("base64, 4000-char lines", base64),
        (
            "colon runs 1:1:1:…x",
            b"1:".repeat(8 << 20).into_iter().chain(*b"x\n").collect(),
        ),
        (
            "short digit words a1 b2",
            b"a1 b2 c3 d4 ".repeat(16 << 20 >> 4),
        ),
        (
            "hex-ish words",
            b"deadbeef01 0xff 1b4e28ba-2fa1-11d2-883f-0016d3cca427 fe80::1 ".repeat(1 << 18),
        ),
    ];
    for (name, input) in inputs {
        let mut sink = 0usize;
        let masked = best(rounds, || {
            timed(|| {
                shape::mask(&input, &mut |piece: &[u8]| sink += piece.len());
            })
        });
        let file = root.path().join("mask-input");
        std::fs::write(&file, &input).expect("write");
        let sed = best(rounds, || {
            shell("sed -E 's/[0-9]+/#/g' mask-input >/dev/null", root.path())
        });
        println!(
            "  {name:<26} casefile {:>7.0}  sed {:>6.0}  ratio {:>5.1}x",
            mib_s(input.len() as u64, masked),
            mib_s(input.len() as u64, sed),
            sed.as_secs_f64() / masked.as_secs_f64()
        );
        std::hint::black_box(sink);
    }
}
