//! Benchmark: one 1 GiB local stream into a snapshot vs the shell writing the same bytes to a file.
//!
//! Run: `cargo bench --bench local_throughput` (optionally `CASEFILE_BENCH_BYTES=256M`, `CASEFILE_BENCH_RUNS=5`).
//! Prints each tool's median wall time, the throughput ratio (goal ≥ 0.5×, aim 0.8×) and casefile's peak RSS
//! (goal < 50 MiB whatever the output size).
// A bench reports its figures to the person running it; nothing captured is printed.
#![allow(clippy::print_stdout, clippy::print_stderr)]
use nix::sys::resource::{UsageWho, getrusage};
use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn timed(mut command: Command) -> Duration {
    let start = Instant::now();
    let status = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run");
    let elapsed = start.elapsed();
    assert!(status.success(), "{command:?} failed: {status}");
    elapsed
}

fn main() {
    let size = std::env::var("CASEFILE_BENCH_BYTES").unwrap_or_else(|_| "1G".into());
    let runs: usize = std::env::var("CASEFILE_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let work =
        tempfile::tempdir_in(std::env::var("CASEFILE_BENCH_DIR").unwrap_or_else(|_| "/tmp".into()))
            .expect("temp dir");
    let casefile = env!("CARGO_BIN_EXE_casefile");
    let producer = format!("head -c {size} /dev/zero");

    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for run in 0..runs {
        // casefile first, so RUSAGE_CHILDREN's peak is casefile's own (its `head` child is tiny).
        let out = work.path().join(format!("snapshots-{run}"));
        let mut cmd = Command::new(casefile);
        cmd.args(["capture", "--run", &producer, "--timeout", "10m", "--out"])
            .arg(&out);
        cmd.env("XDG_CONFIG_HOME", work.path().join("no-config"));
        ours.push(timed(cmd));
        std::fs::remove_dir_all(&out).expect("clean up snapshot");

        let file = work.path().join("plain.out");
        let mut sh = Command::new("sh");
        sh.args(["-c", &format!("{producer} > {}", shell_path(&file))]);
        theirs.push(timed(sh));
        std::fs::remove_file(&file).expect("clean up file");
    }
    let peak_kib = getrusage(UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage")
        .max_rss();
    let (ours, theirs) = (median(ours), median(theirs));
    println!("bytes per run:               {size}");
    println!(
        "sh -c '{producer} > file':    {:>8.3} s (median of {runs})",
        theirs.as_secs_f64()
    );
    println!(
        "casefile capture --run:      {:>8.3} s (median of {runs})",
        ours.as_secs_f64()
    );
    println!(
        "throughput ratio casefile/sh: {:.2}x  (goal >= 0.5x, aim 0.8x)",
        theirs.as_secs_f64() / ours.as_secs_f64()
    );
    println!(
        "casefile peak RSS:           {:.1} MiB (goal < 50 MiB)",
        peak_kib as f64 / 1024.0
    );
}

fn shell_path(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}
