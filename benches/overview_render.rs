//! Overview frame time (release: `cargo bench --bench overview_render --features demo`).
//!
//! 7,000 streams (500 SSH hosts × 14 steps, the scale) on the Run screen at 200×60,
//! drawn through the app's real draw path (`App::draw`: header, screen, footer) on the real
//! crossterm backend writing to a sink, with new output arriving between frames. Measured:
//! - the overview once most streams have ended (the usual state while reading it);
//! - the overview while every stream still runs (the status cache re-reads all of them);
//! - with the text filter scanning and the problems filter on;
//! - the pane grid of the same app as the anchor (the view that existed before the overview).
//!
//! Goal: ≤ 2 ms per overview frame.
// A bench reports its figures to the person running it.
#![allow(clippy::print_stdout, clippy::print_stderr)]
use casefile::snapshot::journal::Fd;
use casefile::tui::action::{Action, Cmd};
use casefile::tui::app::{App, Input};
use casefile::tui::demo::{demo_fleet_app_with, demo_fleet_plan_sized};
use casefile::tui::theme::Theme;
use casefile::tui::widgets::fleet_view::View;
use ratatui::{Terminal, TerminalOptions, Viewport, backend::CrosstermBackend, layout::Rect};
use std::time::{Duration, Instant};

const WIDTH: u16 = 200;
const HEIGHT: u16 = 60;
/// 498 web hosts + 2 database hosts = 500 targets × 14 steps (+2 processlists) = 7,002 streams.
const WEB: usize = 498;
const STEPS: usize = 14;
const FRAMES: u32 = 300;

fn sink_terminal() -> Terminal<CrosstermBackend<std::io::Sink>> {
    Terminal::with_options(
        CrosstermBackend::new(std::io::sink()),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, WIDTH, HEIGHT)),
        },
    )
    .expect("terminal")
}

/// Mean frame time of `app` on a sink terminal, a line arriving in a few streams between frames
/// (every frame really changes), best of three runs (the machine is shared).
fn frame_time(app: &mut App) -> Duration {
    let mut terminal = sink_terminal();
    app.draw(&mut terminal).expect("draw");
    let live = app
        .run
        .as_ref()
        .map(|r| std::sync::Arc::clone(&r.captures[0].live))
        .expect("run screen");
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        for frame in 0..FRAMES {
            for s in (frame as usize % 50..live.streams.len()).step_by(700) {
                live.streams[s]
                    .ring()
                    .push(Fd::Out, format!("line {frame}\n").as_bytes());
            }
            app.draw(&mut terminal).expect("draw");
        }
        best = best.min(start.elapsed() / FRAMES);
    }
    best
}

fn ms(d: Duration) -> String {
    format!("{:>7.3} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let streams = demo_fleet_plan_sized(WEB, STEPS).streams.len();
    println!(
        "== overview frame time, Run screen {WIDTH}×{HEIGHT}, {streams} streams (500 hosts × {STEPS} steps), crossterm backend to a sink"
    );
    let mut ended = demo_fleet_app_with(Theme::dark(), WEB, STEPS, false);
    let overview = frame_time(&mut ended);
    assert_eq!(
        ended.run.as_ref().map(|r| r.fleet.view),
        Some(View::Overview),
        "the overview is the default at this size"
    );
    let mut running = demo_fleet_app_with(Theme::dark(), WEB, STEPS, true);
    let overview_running = frame_time(&mut running);
    let mut filtered = demo_fleet_app_with(Theme::dark(), WEB, STEPS, false);
    // The first draw picks the overview (the size is known then).
    filtered.draw(&mut sink_terminal()).expect("draw");
    filtered.dispatch(Action::Cmd(Cmd::ProblemsOnly));
    filtered.dispatch(Action::Cmd(Cmd::Search));
    for c in "segfault".chars() {
        filtered.dispatch(Action::Key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Char(c),
        )));
    }
    filtered.dispatch(Action::Key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Enter,
    )));
    // The text filter scans on the loop's ticks; measure drawing once it has found its rows.
    while filtered
        .run
        .as_ref()
        .is_some_and(|r| r.fleet.overview.searching())
    {
        filtered.step(Input::Tick);
    }
    let overview_filtered = frame_time(&mut filtered);
    let mut grid = demo_fleet_app_with(Theme::dark(), WEB, STEPS, false);
    grid.draw(&mut sink_terminal()).expect("draw");
    grid.dispatch(Action::Cmd(Cmd::Overview));
    let grid_time = frame_time(&mut grid);
    assert_eq!(grid.run.as_ref().map(|r| r.fleet.view), Some(View::Grid));
    println!("  overview, most streams ended      : {}", ms(overview));
    println!(
        "  overview, every stream running    : {}",
        ms(overview_running)
    );
    println!(
        "  overview, problems + text filter  : {}",
        ms(overview_filtered)
    );
    println!("  pane grid of the same app (anchor): {}", ms(grid_time));
    println!(
        "  ratio overview/grid: {:.2}× · goal ≤ 2 ms: {} (worst case {})",
        overview.as_secs_f64() / grid_time.as_secs_f64(),
        if overview_running.max(overview).max(overview_filtered) <= Duration::from_millis(2) {
            "met"
        } else {
            "NOT met"
        },
        ms(overview_running.max(overview).max(overview_filtered)).trim()
    );
}
