//! Start-up benchmark (release: `cargo bench --bench startup`):
//!
//! 1. **TUI first frame with 500 targets.** The real binary in a pseudo-terminal (`script -q`,
//!    200×60), with a `casefile.toml` of 500 SSH targets: the time from starting the process to
//!    the first frame's text arriving on the terminal (process start, config, `~/.ssh/config`,
//!    theme, terminal set-up and the first draw). Also with no config, to show what the targets
//!    cost. Goal ≤ 100 ms.
//! 2. **`casefile show` of a 7,000-stream snapshot** (written by the real `SnapshotWriter`: one
//!    small output per stream), stdout to /dev/null: reads the manifest, checks every path,
//!    verifies every SHA-256 and prints 7,000 lines. Goal ≤ 300 ms. The anchor is listing the
//!    same streams with `jq -r '.streams[] | [.spec.id, .result.status] | @tsv' manifest.json`
//!    (which checks nothing); the ratio is jq's time over casefile's.
//!
//! Each figure is the median of 7 runs.
// A bench reports its figures to the person running it; nothing captured is printed.
#![allow(clippy::print_stdout, clippy::print_stderr)]
#[path = "../tests/support/pty.rs"]
mod pty;

use casefile::model::{CapturePlan, StepAction, StreamSpec, Target};
use casefile::snapshot::manifest::StreamResult;
use casefile::snapshot::{CaptureState, SnapshotWriter, StreamStatus};
use pty::Terminal;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 7;
const BIN: &str = env!("CARGO_BIN_EXE_casefile");

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Starts the TUI in a pseudo-terminal and returns how long until `marker` is on it.
fn tui_first_frame(home: &Path, config: Option<&Path>, marker: &str) -> Duration {
    let config = config.map_or(String::new(), |c| format!(" --config '{}'", c.display()));
    let started = Instant::now();
    let mut terminal = Terminal::start(&format!("stty cols 200 rows 60; exec {BIN}{config}"), home);
    terminal.wait_for(marker);
    let elapsed = started.elapsed();
    // Closing the terminal hangs the TUI up, which quits on SIGHUP.
    terminal.hang_up();
    elapsed
}

fn spec(i: usize) -> StreamSpec {
    StreamSpec::new(
        format!("{:04}-web{:03}-linux-triage-step{}", i + 1, i / 14, i % 14),
        0,
        "linux-triage",
        format!("step{}", i % 14),
        StepAction::Command("uptime".into()),
        Duration::from_secs(30),
    )
}

/// A finished snapshot of `streams` streams, one line of output each.
fn snapshot(parent: &Path, streams: usize) -> std::path::PathBuf {
    let plan = CapturePlan {
        incident: None,
        targets: vec![Target::local()],
        streams: (0..streams).map(spec).collect(),
    };
    let writer = SnapshotWriter::create(
        parent,
        &plan,
        casefile::redact::Redactor::new(&[]),
        "bench".into(),
    )
    .expect("writer");
    for s in 0..streams {
        let (mut out, err) = writer.stream_started(s).expect("start");
        out.write_chunk(
            format!(" 09:41:07 up 12 days,  3:04,  load average: 0.{s:02}, 0.10, 0.05\n")
                .as_bytes(),
        )
        .expect("chunk");
        let (stdout, _, _) = out.finish().expect("stdout");
        let (stderr, _, _) = err.finish().expect("stderr");
        let result = StreamResult {
            status: StreamStatus::Exited,
            started_at: None,
            ended_at: None,
            duration_ms: Some(12),
            exit_code: Some(0),
            signal: None,
            timed_out: false,
            truncated: false,
            reason: None,
            stdout,
            stderr,
            data: None,
            artifact: None,
            redactions: 0,
        };
        writer.stream_ended(s, result).expect("end");
    }
    writer.finish(CaptureState::Complete).expect("finish");
    writer.dir().to_path_buf()
}

fn timed(command: &mut Command) -> Duration {
    let started = Instant::now();
    let status = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run");
    let elapsed = started.elapsed();
    assert!(status.success(), "{command:?}: {status}");
    elapsed
}

fn main() {
    let work = tempfile::tempdir().expect("work");
    let home = work.path();
    std::fs::create_dir_all(home.join(".ssh")).expect(".ssh");

    // 1. TUI first frame.
    let config = home.join("casefile.toml");
    let mut text = format!("capture_dir = \"{}\"\n", home.join("captures").display());
    for i in 0..500 {
        text.push_str(&format!(
            "\n[targets.web{i:03}]\nurl = \"ssh://deploy@10.0.{}.{}:22\"\ntags = [\"web\", \"prod\", \"rack{}\"]\n",
            i / 250,
            i % 250 + 1,
            i % 20
        ));
    }
    std::fs::write(&config, text).expect("config");
    let marker = std::env::var("CASEFILE_BENCH_MARKER").unwrap_or_else(|_| "ncident".into());
    let bare = median(
        (0..RUNS)
            .map(|_| tui_first_frame(home, None, &marker))
            .collect(),
    );
    let targets = median(
        (0..RUNS)
            .map(|_| tui_first_frame(home, Some(&config), &marker))
            .collect(),
    );
    println!("TUI first frame (real binary in a 200x60 pseudo-terminal, median of {RUNS})");
    println!("  no config            {:>7.1} ms", ms(bare));
    println!(
        "  500 SSH targets      {:>7.1} ms   (goal <= 100 ms: {})",
        ms(targets),
        if targets <= Duration::from_millis(100) {
            "met"
        } else {
            "MISSED"
        }
    );

    // 2. `casefile show` of 7,000 streams.
    let started = Instant::now();
    let dir = snapshot(&home.join("captures"), 7000);
    eprintln!(
        "wrote a 7,000-stream snapshot in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let show = median(
        (0..RUNS)
            .map(|_| {
                timed(
                    Command::new(BIN)
                        .args(["--config", &config.display().to_string(), "show"])
                        .arg(&dir),
                )
            })
            .collect(),
    );
    let jq = median(
        (0..RUNS)
            .map(|_| {
                timed(
                    Command::new("jq")
                        .args(["-r", ".streams[] | [.spec.id, .result.status] | @tsv"])
                        .arg(dir.join("manifest.json")),
                )
            })
            .collect(),
    );
    println!("casefile show of a 7,000-stream snapshot (median of {RUNS})");
    println!(
        "  casefile show        {:>7.1} ms   (goal <= 300 ms: {})",
        ms(show),
        if show <= Duration::from_millis(300) {
            "met"
        } else {
            "MISSED"
        }
    );
    println!("  jq listing           {:>7.1} ms", ms(jq));
    println!(
        "  ratio jq/casefile show {:.2}x (above 1: casefile is faster, and it verifies every hash)",
        jq.as_secs_f64() / show.as_secs_f64()
    );
    // For profiling `show` by hand: keep the folder instead of deleting it.
    if std::env::var_os("CASEFILE_BENCH_KEEP").is_some() {
        eprintln!("kept {}", dir.display());
        let _ = work.keep();
    }
}
