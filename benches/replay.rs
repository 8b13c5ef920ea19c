//! Replay benchmark (release: `cargo bench --bench replay`): how long the TUI takes to show the
//! first frame of a snapshot, and to show its end after a jump there, for the two shapes that
//! matter:
//!
//! 1. **1 GiB in large chunks**: one stream, 1 MiB chunks of log text (1,024 journal chunks).
//! 2. **1,000,000 small chunks**: 16 streams printing one line per chunk, interleaved
//!    (62,500 lines each; a 60 MB journal).
//!
//! Both snapshots are written by the real `SnapshotWriter` (so the journal and `journal.idx`
//! are what a capture leaves), then opened through the app itself: `Effect::OpenReplay` (the
//! player opens off the loop, as in the TUI), the `ReplayOpened` event, and one frame drawn on a
//! 200×60 `TestBackend` — that is the first frame. The seek is `JumpEnd` plus the next frame.
//! Each figure is the median of 5 runs (page cache warm: the files were just written).
//! The same is measured with `journal.idx` removed (a snapshot from an older casefile, or one
//! whose capture was killed): replay then reads the journal.
//!
//! Anchors, what a responder would otherwise run on the same folder: `tail -n 50` of every
//! stream file (the end of each output), and `cat journal.jsonl > /dev/null` (reading the
//! journal once). Ratios are the anchor's time over casefile's (above 1: casefile is faster).
//!
//! `CASEFILE_BENCH_QUICK=1` writes 64 MiB and 100,000 chunks instead (for `scripts/bench`);
//! `CASEFILE_BENCH_MIB` and `CASEFILE_BENCH_LINES` (lines per stream) set the sizes.
// A bench reports its figures to the person running it; nothing captured is printed.
#![allow(clippy::print_stdout, clippy::print_stderr)]
use casefile::config::Config;
use casefile::model::{CapturePlan, StepAction, StreamSpec, Target};
use casefile::snapshot::journal_index::INDEX_FILE;
use casefile::snapshot::manifest::StreamResult;
use casefile::snapshot::{CaptureState, SnapshotWriter, StreamStatus};
use casefile::tui::action::{Action, Cmd, Effect};
use casefile::tui::app::{App, AppEvent, Input, Screen};
use casefile::tui::keymap::Keymap;
use casefile::tui::theme::Theme;
use ratatui::{Terminal, backend::TestBackend};
use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const ROUNDS: usize = 5;
const FIRST_FRAME_GOAL: Duration = Duration::from_millis(200);
const SEEK_GOAL: Duration = Duration::from_millis(50);

fn plan(streams: usize) -> CapturePlan {
    CapturePlan {
        incident: None,
        targets: vec![Target::local()],
        streams: (0..streams)
            .map(|i| {
                StreamSpec::new(
                    format!("{:02}-local-bench", i + 1),
                    0,
                    "adhoc",
                    format!("s{i}"),
                    StepAction::Command("bench".into()),
                    Duration::from_secs(120),
                )
            })
            .collect(),
    }
}

fn line(stream: usize, i: usize) -> String {
    format!(
        "{stream:02} {i:>7} 2026-11-25T13:02:03Z worker[{:02}]: request handled in {:03}ms status=200\n",
        i % 64,
        i % 997
    )
}

/// Writes a snapshot of `streams` streams; `chunks(stream, i)` gives stream's i-th chunk, or
/// None when it is done. Chunks are written round-robin, as concurrent streams arrive.
fn write(
    parent: &Path,
    streams: usize,
    chunks: &dyn Fn(usize, usize) -> Option<Vec<u8>>,
) -> PathBuf {
    let writer = SnapshotWriter::create(
        parent,
        &plan(streams),
        casefile::redact::Redactor::new(&[]),
        "bench".into(),
    )
    .expect("writer");
    let mut files: Vec<_> = (0..streams)
        .map(|s| Some(writer.stream_started(s).expect("start")))
        .collect();
    let mut i = 0;
    while files.iter().any(Option::is_some) {
        for (s, slot) in files.iter_mut().enumerate() {
            let Some((out, _)) = slot.as_mut() else {
                continue;
            };
            match chunks(s, i) {
                Some(bytes) => {
                    out.write_chunk(&bytes).expect("chunk");
                }
                None => {
                    let (out, err) = slot.take().expect("open");
                    let (stdout, _, _) = out.finish().expect("stdout");
                    let (stderr, _, _) = err.finish().expect("stderr");
                    let result = StreamResult {
                        status: StreamStatus::Exited,
                        started_at: None,
                        ended_at: None,
                        duration_ms: Some(1),
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
            }
        }
        i += 1;
    }
    writer.finish(CaptureState::Complete).expect("finish");
    writer.dir().to_path_buf()
}

/// First frame and seek to the end, through the app (one run).
async fn replay_once(dir: &Path) -> (Duration, Duration, String) {
    let (mut app, mut rx) = App::new(Config::defaults(), Theme::dark(), Keymap::default());
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    let started = Instant::now();
    app.apply(Effect::OpenReplay(dir.to_path_buf()));
    loop {
        let event = rx.recv().await.expect("the app answers");
        let opened = matches!(event, AppEvent::ReplayOpened(_));
        app.step(Input::App(Box::new(event)));
        if opened {
            break;
        }
    }
    assert!(app.screen == Screen::Replay, "the snapshot opened");
    app.draw(&mut terminal).expect("draw");
    let first = started.elapsed();
    let started = Instant::now();
    app.dispatch(Action::Cmd(Cmd::JumpEnd));
    app.draw(&mut terminal).expect("draw");
    let seek = started.elapsed();
    let screen: String = terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    (first, seek, screen)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn shell(script: &str, dir: &Path) -> Duration {
    let started = Instant::now();
    let status = Command::new("sh")
        .args(["-c", script])
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .expect("sh");
    assert!(status.success(), "{script}");
    started.elapsed()
}

fn ms(d: Duration) -> String {
    format!("{:8.1} ms", d.as_secs_f64() * 1000.0)
}

fn measure(runtime: &tokio::runtime::Runtime, name: &str, dir: &Path, last_line: &str) {
    let journal = std::fs::metadata(dir.join("journal.jsonl")).map_or(0, |m| m.len());
    let index = std::fs::metadata(dir.join(INDEX_FILE)).map_or(0, |m| m.len());
    println!(
        "{name}: journal {:.1} MB, journal.idx {:.1} MB",
        journal as f64 / 1e6,
        index as f64 / 1e6
    );
    let run = |label: &str| {
        let (mut firsts, mut seeks) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let (first, seek, screen) = runtime.block_on(replay_once(dir));
            assert!(
                screen.contains(&last_line[..16]),
                "the end of the output is on screen after the jump"
            );
            firsts.push(first);
            seeks.push(seek);
        }
        let (first, seek) = (median(firsts), median(seeks));
        println!(
            "  {label:<28} first frame {}  seek to end {}   (goals <= {} ms, <= {} ms: {})",
            ms(first),
            ms(seek),
            FIRST_FRAME_GOAL.as_millis(),
            SEEK_GOAL.as_millis(),
            if first <= FIRST_FRAME_GOAL && seek <= SEEK_GOAL {
                "met"
            } else {
                "MISSED"
            }
        );
        (first, seek)
    };
    let (first, seek) = run("with journal.idx");
    let hidden = dir.join("journal.idx.hidden");
    std::fs::rename(dir.join(INDEX_FILE), &hidden).expect("hide index");
    run("journal only (older snapshot)");
    std::fs::rename(&hidden, dir.join(INDEX_FILE)).expect("restore index");

    let tail = median(
        (0..ROUNDS)
            .map(|_| shell("for f in streams/*.out; do tail -n 50 \"$f\"; done", dir))
            .collect(),
    );
    let cat = median(
        (0..ROUNDS)
            .map(|_| shell("cat journal.jsonl > /dev/null", dir))
            .collect(),
    );
    println!(
        "  anchors: tail -n 50 of every stream {}, cat journal.jsonl {}",
        ms(tail),
        ms(cat)
    );
    println!(
        "  ratio (anchor / casefile): first frame {:.2}x tail, {:.2}x cat; seek {:.2}x tail, {:.2}x cat",
        tail.as_secs_f64() / first.as_secs_f64(),
        cat.as_secs_f64() / first.as_secs_f64(),
        tail.as_secs_f64() / seek.as_secs_f64(),
        cat.as_secs_f64() / seek.as_secs_f64(),
    );
}

fn main() {
    let quick = std::env::var_os("CASEFILE_BENCH_QUICK").is_some();
    let (mib, lines_per_stream) = if quick { (64, 6_250) } else { (1024, 62_500) };
    let number = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (mib, lines_per_stream) = (
        number("CASEFILE_BENCH_MIB", mib),
        number("CASEFILE_BENCH_LINES", lines_per_stream),
    );
    let work = tempfile::tempdir_in(
        std::env::var("CASEFILE_BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into()),
    )
    .expect("temp dir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    // 1 MiB of log lines, written `mib` times.
    let mut block = Vec::with_capacity(1 << 20);
    let mut n = 0;
    while block.len() < (1 << 20) - 200 {
        block.extend_from_slice(line(0, n).as_bytes());
        n += 1;
    }
    let last_big = line(0, n - 1);
    let started = Instant::now();
    let big = write(&work.path().join("big"), 1, &|_, i| {
        (i < mib).then(|| block.clone())
    });
    eprintln!(
        "wrote {mib} MiB in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let _guard = runtime.enter();
    measure(
        &runtime,
        &format!("{mib} MiB in 1 MiB chunks"),
        &big,
        &last_big,
    );
    std::fs::remove_dir_all(&big).expect("clean up");

    let started = Instant::now();
    let small = write(&work.path().join("small"), 16, &|s, i| {
        (i < lines_per_stream).then(|| line(s, i).into_bytes())
    });
    eprintln!(
        "wrote {} chunks in {:.1} s",
        16 * lines_per_stream,
        started.elapsed().as_secs_f64()
    );
    measure(
        &runtime,
        &format!("{} one-line chunks from 16 streams", 16 * lines_per_stream),
        &small,
        &line(0, lines_per_stream - 1),
    );
}
