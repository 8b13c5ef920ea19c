//! Benchmark: one local stream into a snapshot vs the shell writing the same bytes to a file.
//!
//!     cargo bench --bench local_throughput
//!     CASEFILE_BENCH_BYTES=256M CASEFILE_BENCH_INPUTS=zero,log cargo bench --bench local_throughput
//!
//! Method (the same for every input):
//! - The anchor is `sh -c 'PRODUCER > file'` into a **new** file; casefile is
//!   `casefile capture --run 'PRODUCER' --out NEW_DIR` (process start, redaction, SHA-256, the
//!   journal, `journal.idx` and the manifest included).
//! - casefile and sh **alternate**, 3 runs each (`CASEFILE_BENCH_RUNS`); the **best** of each
//!   is compared (the least disturbed by the other engineers' builds on this shared machine).
//! - Every run writes a new file, and **deleting it is outside the timing**: freeing 1 GiB of
//!   page cache and blocks takes the kernel ~0.3 s, and an anchor that overwrites its previous
//!   output pays that inside its own time (that is how an earlier figure read 0.55×).
//! - Each run is timed in a fresh measuring process, whose `RUSAGE_CHILDREN` peak RSS is that of
//!   casefile alone (its `head`/`cat` child is smaller).
//! - Inputs (`CASEFILE_BENCH_INPUTS`, default all): `zero` (`head -c SIZE /dev/zero`), and
//!   files read with `cat`, made before the timing: `random` (`/dev/urandom`), `base64`
//!   (`/dev/urandom | base64 -w 0 | fold -w 4000`: the redactor's stress case) and `log` (access
//!   log lines, JSON log lines and `key=value` lines, one in 50 with a credential to redact).
//!
//! Prints each input's best times, the throughput ratio casefile/sh (goal ≥ 0.6×, stretch 0.8×)
//! and casefile's peak RSS (goal < 50 MiB whatever the output size).
// A bench reports its figures to the person running it; nothing captured is printed.
#![allow(clippy::print_stdout, clippy::print_stderr)]
#[path = "support/measure.rs"]
mod measure;

use measure::{measure, parse_size, quote};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Writes `size` bytes of mixed log text to `path`.
fn write_log(path: &Path, size: u64) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("log input"));
    let mut written = 0u64;
    let mut i = 0u64;
    while written < size {
        let line = match i % 50 {
            0 => format!(
                "2026-11-28T09:{:02}:{:02}Z app[{}]: connecting with password={:08x}\n",
                i / 60 % 60,
                i % 60,
                i % 97,
                i
            ),
            n if n % 3 == 0 => format!(
                "{{\"ts\":\"2026-11-28T09:{:02}:{:02}.{:03}Z\",\"level\":\"info\",\"msg\":\"request done\",\"path\":\"/api/v1/orders/{}\",\"status\":200,\"ms\":{}}}\n",
                i / 60 % 60,
                i % 60,
                i % 1000,
                i,
                i % 997
            ),
            n if n % 3 == 1 => format!(
                "10.0.{}.{} - - [28/Nov/2026:09:{:02}:{:02} +0000] \"GET /static/app.{:x}.js HTTP/1.1\" 200 {} \"-\" \"Mozilla/5.0\"\n",
                i % 256,
                i % 199,
                i / 60 % 60,
                i % 60,
                i,
                i % 50_000
            ),
            _ => format!(
                "worker={} queue=orders depth={} lag_ms={} state=ok\n",
                i % 16,
                i % 1000,
                i % 37
            ),
        };
        out.write_all(line.as_bytes()).expect("write log input");
        written += line.len() as u64;
        i += 1;
    }
    out.flush().expect("flush log input");
}

/// The producer command for `input`, making its input file in `work` first.
fn producer(input: &str, size: u64, work: &Path) -> String {
    let file = work.join(format!("input.{input}"));
    let make = |script: String| {
        let status = std::process::Command::new("sh")
            .args(["-c", &script])
            .status()
            .expect("sh");
        assert!(status.success(), "{script}");
    };
    match input {
        "zero" => return format!("head -c {size} /dev/zero"),
        "random" => make(format!(
            "head -c {size} /dev/urandom > {}",
            quote(&file.display().to_string())
        )),
        "base64" => make(format!(
            "head -c {} /dev/urandom | base64 -w 0 | fold -w 4000 > {}",
            size / 4 * 3,
            quote(&file.display().to_string())
        )),
        "log" => write_log(&file, size),
        other => panic!("unknown input {other}: use zero, random, base64 or log"),
    }
    format!("cat {}", quote(&file.display().to_string()))
}

fn main() {
    measure::measuring_mode();
    let size = parse_size(&std::env::var("CASEFILE_BENCH_BYTES").unwrap_or_else(|_| "1G".into()));
    let runs: usize = std::env::var("CASEFILE_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let inputs =
        std::env::var("CASEFILE_BENCH_INPUTS").unwrap_or_else(|_| "zero,random,base64,log".into());
    let work =
        tempfile::tempdir_in(std::env::var("CASEFILE_BENCH_DIR").unwrap_or_else(|_| "/tmp".into()))
            .expect("temp dir");
    let casefile = env!("CARGO_BIN_EXE_casefile");
    let config = work.path().join("no-config");

    println!(
        "local stream into a snapshot vs sh -c 'PRODUCER > new file' ({:.0} MiB per run, best of {runs}, alternating)",
        size as f64 / (1 << 20) as f64
    );
    println!(
        "  {:<8} {:>10} {:>12} {:>8}  {:>16}",
        "input", "sh", "casefile", "ratio", "casefile RSS"
    );
    for input in inputs.split(',') {
        let producer = producer(input, size, work.path());
        let mut ours: Vec<Duration> = Vec::new();
        let mut theirs: Vec<Duration> = Vec::new();
        let mut rss = 0i64;
        for run in 0..runs {
            let out = work.path().join(format!("snapshots-{run}"));
            let (time, peak) = measure(&format!(
                "XDG_CONFIG_HOME={} exec {casefile} capture --run {} --timeout 10m --out {} 2>/dev/null",
                quote(&config.display().to_string()),
                quote(&producer),
                quote(&out.display().to_string()),
            ));
            ours.push(time);
            rss = rss.max(peak);
            std::fs::remove_dir_all(&out).expect("clean up snapshot");

            let file = work.path().join(format!("plain-{run}.out"));
            let (time, _) = measure(&format!(
                "{producer} > {}",
                quote(&file.display().to_string())
            ));
            theirs.push(time);
            std::fs::remove_file(&file).expect("clean up file");
        }
        let best = |v: &[Duration]| v.iter().min().copied().unwrap_or_default();
        let (ours, theirs) = (best(&ours), best(&theirs));
        println!(
            "  {input:<8} {:>8.3} s {:>10.3} s {:>7.2}x  {:>12.1} MiB",
            theirs.as_secs_f64(),
            ours.as_secs_f64(),
            theirs.as_secs_f64() / ours.as_secs_f64(),
            rss as f64 / 1024.0
        );
        let _ = std::fs::remove_file(work.path().join(format!("input.{input}")));
    }
    println!("  ratio = sh time / casefile time (goal >= 0.6x, stretch 0.8x); RSS goal < 50 MiB");
}
