//! TUI benchmarks (release: `cargo bench --bench tui_render`).
//!
//! 1. Frame time of the run screen with 16 panes × 100 000 lines of scrollback, drawn through
//!    the real crossterm backend (escape sequences generated, written to a sink). Compared with
//!    the same grid holding 100 lines (the cost must not grow with scrollback) and with the
//!    naive approach of handing a pane's whole scrollback to a `Paragraph`.
//! 2. CPU used while 16 streams each print ~10 000 lines/s: the real engine (disk first, then
//!    the rings) plus the app's own loop (`tui::app::drive`: wake on change, at most one frame
//!    per 16 ms), on a sink terminal.
//!    Compared side by side with what an operator would otherwise do: the same 16 commands in
//!    16 tmux panes (tmux server CPU).
// A bench reports its figures to the person running it; nothing captured is printed.
#![allow(clippy::print_stdout, clippy::print_stderr)]
use casefile::capture::LiveView;
use casefile::config::Config;
use casefile::model::{CapturePlan, StepAction, StreamSpec, Target};
use casefile::snapshot::journal::Fd;
use casefile::tui::app::{App, Screen, drive};
use casefile::tui::keymap::Keymap;
use casefile::tui::screens::run::{RunCapture, RunState};
use casefile::tui::theme::Theme;
use ratatui::{
    Terminal, TerminalOptions, Viewport,
    backend::CrosstermBackend,
    layout::Rect,
    text::Line,
    widgets::{Paragraph, Widget},
};
use std::{
    path::PathBuf,
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

const PANES: usize = 16;
const WIDTH: u16 = 200;
const HEIGHT: u16 = 60;
/// Seconds each producer prints for in the CPU benchmark.
const PRODUCE_SECONDS: u32 = 5;

fn line(stream: usize, i: usize) -> String {
    format!(
        "{stream:02} {i:>7} 2026-11-25T13:02:03Z worker[{:02}]: request handled in {:03}ms status=200 path=/api/v1/orders\n",
        i % 64,
        i % 997
    )
}

fn plan(streams: usize, command: &str) -> CapturePlan {
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
                    StepAction::Command(command.into()),
                    Duration::from_secs(120),
                )
            })
            .collect(),
    }
}

fn app_with(live: Arc<LiveView>, plan: CapturePlan) -> App {
    let (mut app, _rx) = App::new(Config::defaults(), Theme::dark(), Keymap::default());
    app.run = Some(RunState::new(RunCapture {
        plan,
        live,
        dir: PathBuf::from("/tmp/bench"),
        state: None,
    }));
    app.screen = Screen::Run;
    app
}

fn sink_terminal() -> Terminal<CrosstermBackend<std::io::Sink>> {
    Terminal::with_options(
        CrosstermBackend::new(std::io::sink()),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, WIDTH, HEIGHT)),
        },
    )
    .expect("terminal")
}

/// Mean frame time of the run screen with `lines` of scrollback per pane, new output between frames.
fn frame_time(lines: usize, frames: usize) -> Duration {
    let live = Arc::new(LiveView::new(PANES, lines.max(1), 64 << 20));
    for (s, stream) in live.streams.iter().enumerate() {
        let mut ring = stream.ring();
        for i in 0..lines {
            ring.push(Fd::Out, line(s, i).as_bytes());
        }
    }
    let mut app = app_with(Arc::clone(&live), plan(PANES, "true"));
    let mut terminal = sink_terminal();
    app.draw(&mut terminal).expect("draw");
    let start = Instant::now();
    for frame in 0..frames {
        // New lines arrive between frames, as during a capture, so every frame really changes.
        for (s, stream) in live.streams.iter().enumerate() {
            stream
                .ring()
                .push(Fd::Out, line(s, lines + frame).as_bytes());
        }
        app.draw(&mut terminal).expect("draw");
    }
    start.elapsed() / frames as u32
}

/// The naive alternative: a Paragraph built from a pane's whole scrollback, scrolled to the end.
fn naive_frame_time(lines: usize, frames: usize) -> Duration {
    let text: Vec<String> = (0..lines)
        .map(|i| line(0, i).trim_end().to_string())
        .collect();
    let mut buf = ratatui::buffer::Buffer::empty(Rect::new(0, 0, WIDTH / 4, HEIGHT / 4));
    let start = Instant::now();
    for _ in 0..frames {
        for _pane in 0..PANES {
            let lines: Vec<Line> = text.iter().map(|t| Line::raw(t.as_str())).collect();
            let scroll = (lines.len() as u16).saturating_sub(HEIGHT / 4);
            Paragraph::new(lines)
                .scroll((scroll, 0))
                .render(buf.area, &mut buf);
        }
    }
    start.elapsed() / frames as u32
}

fn cpu_self() -> Duration {
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .expect("getrusage");
    let tv =
        |t: nix::sys::time::TimeVal| Duration::new(t.tv_sec() as u64, t.tv_usec() as u32 * 1000);
    tv(usage.user_time()) + tv(usage.system_time())
}

/// Lines each producer prints per 20 ms tick (10 000 lines/s).
const LINES_PER_TICK: usize = 200;

/// A producer: this benchmark binary re-run with `--produce`, so the load is the same for
/// casefile and tmux and does not depend on awk or on forking a `sleep` per tick.
fn producer() -> String {
    let exe = std::env::current_exe().expect("current exe");
    format!("{} --produce", exe.display())
}

/// Prints `LINES_PER_TICK` lines every 20 ms for `PRODUCE_SECONDS`, on a fixed schedule.
fn produce() {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let start = Instant::now();
    let ticks = PRODUCE_SECONDS as usize * 50;
    for tick in 0..ticks {
        let mut chunk = String::with_capacity(LINES_PER_TICK * 90);
        for i in 0..LINES_PER_TICK {
            chunk.push_str(&line(tick % 100, tick * LINES_PER_TICK + i));
        }
        if out
            .write_all(chunk.as_bytes())
            .and_then(|_| out.flush())
            .is_err()
        {
            return;
        }
        let next = start + Duration::from_millis(20 * (tick as u64 + 1));
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

/// True while any producer process is still running.
fn producers_running() -> bool {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries.filter_map(Result::ok).any(|e| {
                std::fs::read(e.path().join("cmdline"))
                    .is_ok_and(|c| c.windows(9).any(|w| w == b"--produce") && !c.starts_with(b"sh"))
            })
        })
        .unwrap_or(false)
}

/// CPU of this process (engine + snapshot writer + app drawing) while 16 producers run.
fn casefile_cpu() -> (Duration, Duration, u64, usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = std::env::temp_dir().join(format!("casefile-bench-{}", std::process::id()));
        let plan = plan(PANES, &producer());
        let mut config = Config::defaults();
        config.capture_dir = dir.clone();
        config.concurrency = Some(PANES);
        let (mut app, mut rx) = App::new(config, Theme::dark(), Keymap::default());
        app.quit_when_captures_end = true;
        let mut terminal = sink_terminal();
        let cpu_before = cpu_self();
        let start = Instant::now();
        // The app's own loop: capture setup, engine, wake on change, at most one frame per
        // FRAME; it returns when the capture has ended.
        app.start_capture(plan, None);
        let frames = drive(&mut terminal, &mut app, &mut rx, futures::stream::pending())
            .await
            .expect("app loop");
        let wall = start.elapsed();
        let cpu = cpu_self() - cpu_before;
        let snapshot = app
            .run
            .as_ref()
            .and_then(|r| r.captures.first())
            .map(|c| c.dir.clone())
            .expect("a capture ran");
        let manifest = casefile::snapshot::Snapshot::open(&snapshot)
            .expect("snapshot")
            .manifest;
        let bytes: u64 = manifest.streams.iter().map(|s| s.result.stdout.bytes).sum();
        let _ = std::fs::remove_dir_all(&dir);
        (cpu, wall, bytes, frames as usize)
    })
}

/// CPU of a tmux server while the same 16 producers run in 16 panes of a 200×60 window.
fn tmux_cpu() -> Option<(Duration, Duration)> {
    let dir = std::env::temp_dir().join(format!("casefile-bench-tmux-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let sock = dir.join("sock");
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .arg("-S")
            .arg(&sock)
            .args(args)
            .output()
    };
    let cmd = format!("{}; sleep 600", producer());
    let hold = "sleep 600";
    tmux(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "b",
        "-x",
        &WIDTH.to_string(),
        "-y",
        &HEIGHT.to_string(),
        hold,
    ])
    .ok()?;
    for _ in 1..PANES {
        tmux(&["split-window", "-t", "b", hold]).ok()?;
        tmux(&["select-layout", "-t", "b", "tiled"]).ok()?;
    }
    let pid: u32 = String::from_utf8_lossy(
        &tmux(&["display-message", "-p", "-t", "b", "#{pid}"])
            .ok()?
            .stdout,
    )
    .trim()
    .parse()
    .ok()?;
    let ticks = || -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
    };
    let before = ticks()?;
    let start = Instant::now();
    let panes = String::from_utf8_lossy(
        &tmux(&["list-panes", "-t", "b", "-F", "#{pane_id}"])
            .ok()?
            .stdout,
    )
    .to_string();
    for pane in panes.lines() {
        tmux(&["respawn-pane", "-k", "-t", pane, &cmd]).ok()?;
    }
    std::thread::sleep(Duration::from_secs(1));
    while producers_running() {
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let tmux draw what is left.
    std::thread::sleep(Duration::from_millis(300));
    let wall = start.elapsed();
    let after = ticks()?;
    let _ = tmux(&["kill-server"]);
    let _ = std::fs::remove_dir_all(&dir);
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as u64;
    Some((Duration::from_millis((after - before) * 1000 / hz), wall))
}

fn main() {
    if std::env::args().any(|a| a == "--produce") {
        produce();
        return;
    }
    println!(
        "== frame time, run screen {WIDTH}×{HEIGHT}, {PANES} panes, crossterm backend to a sink"
    );
    // Interleaved, best of three: the machine is shared, the minimum is the least disturbed.
    let mut big = Duration::MAX;
    let mut small = Duration::MAX;
    for _ in 0..3 {
        small = small.min(frame_time(100, 200));
        big = big.min(frame_time(100_000, 200));
    }
    let naive = naive_frame_time(100_000, 3);
    println!(
        "  100 000 lines/pane : {:>8.3} ms/frame  ({:.0} fps possible)",
        big.as_secs_f64() * 1e3,
        1.0 / big.as_secs_f64()
    );
    println!(
        "      100 lines/pane : {:>8.3} ms/frame",
        small.as_secs_f64() * 1e3
    );
    println!(
        "  naive Paragraph of the whole scrollback: {:>8.1} ms/frame",
        naive.as_secs_f64() * 1e3
    );
    println!(
        "  ratio 100k/100 lines        : {:.2}× (1.0 = independent of scrollback)",
        big.as_secs_f64() / small.as_secs_f64()
    );
    println!(
        "  ratio naive/casefile at 100k: {:.0}× faster",
        naive.as_secs_f64() / big.as_secs_f64()
    );
    println!(
        "  frame budget at 60 fps (16.7 ms) used: {:.1}%",
        big.as_secs_f64() / 0.016_67 * 100.0
    );

    println!("== CPU while {PANES} streams print ~10k lines/s each for {PRODUCE_SECONDS}s");
    let (cpu, wall, bytes, frames) = casefile_cpu();
    let lines = bytes / line(0, 0).len() as u64;
    let expected = (PANES * LINES_PER_TICK * 50 * PRODUCE_SECONDS as usize) as u64;
    println!("  lines captured: {lines} of {expected}");
    println!(
        "  casefile (engine + snapshot on disk + drawing): {:.2} s CPU over {:.2} s = {:.1}% of one core; {} frames ({:.0} fps); {:.0} lines/s in total",
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        cpu.as_secs_f64() / wall.as_secs_f64() * 100.0,
        frames,
        frames as f64 / wall.as_secs_f64(),
        lines as f64 / wall.as_secs_f64()
    );
    match tmux_cpu() {
        Some((tmux_cpu, tmux_wall)) => {
            println!(
                "  tmux, 16 panes (display only, nothing kept): {:.2} s CPU over {:.2} s = {:.1}% of one core",
                tmux_cpu.as_secs_f64(),
                tmux_wall.as_secs_f64(),
                tmux_cpu.as_secs_f64() / tmux_wall.as_secs_f64() * 100.0
            );
            println!(
                "  ratio casefile/tmux CPU: {:.2}×",
                cpu.as_secs_f64() / tmux_cpu.as_secs_f64().max(1e-3)
            );
        }
        None => {
            println!("  tmux not available: comparison skipped (scripts/setup/tui.sh installs it)")
        }
    }
}
