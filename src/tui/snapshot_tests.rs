//! Every screen rendered on a `TestBackend` at 120×40 and 80×24 with the demo data, compared
//! with the committed snapshots in `src/tui/snapshots/` (review changes with `cargo insta review`
//! or accept them with `INSTA_UPDATE=always`).
use super::app::{App, Screen};
use super::demo::demo_app;
use super::theme::Theme;
use crate::tui::action::{Action, Cmd};
use ratatui::{Terminal, backend::TestBackend, style::Color};

fn draw(app: &mut App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal.draw(|frame| app.render(frame)).expect("draw");
    terminal
}

fn app(screen: Screen, scratch: &tempfile::TempDir) -> App {
    demo_app(screen, Theme::dark(), scratch.path()).expect("demo app")
}

macro_rules! screen_snapshots {
    ($($name:ident => $screen:expr),* $(,)?) => {$(
        #[test]
        fn $name() {
            let scratch = tempfile::tempdir().expect("tmp");
            for (w, h) in [(120, 40), (80, 24)] {
                let mut app = app($screen, &scratch);
                let terminal = draw(&mut app, w, h);
                insta::assert_snapshot!(format!("{}_{w}x{h}", stringify!($name)), terminal.backend());
            }
        }
    )*};
}

screen_snapshots! {
    incidents => Screen::Incidents,
    plan => Screen::Plan,
    run => Screen::Run,
    export => Screen::Export,
    replay => Screen::Replay,
    editor => Screen::Editor,
}

#[test]
fn run_zoomed_with_help_and_confirm() {
    let scratch = tempfile::tempdir().expect("tmp");
    let mut app = app(Screen::Run, &scratch);
    app.dispatch(Action::Cmd(Cmd::Zoom));
    insta::assert_snapshot!("run_zoomed_120x40", draw(&mut app, 120, 40).backend());
    app.help = true;
    insta::assert_snapshot!("run_help_120x40", draw(&mut app, 120, 40).backend());
    app.help = false;
    app.dispatch(Action::Cmd(Cmd::CancelAll));
    assert!(app.confirm.is_some(), "cancel all asks first");
    insta::assert_snapshot!("run_confirm_80x24", draw(&mut app, 80, 24).backend());
}

#[test]
fn too_small_terminal_shows_a_message() {
    let scratch = tempfile::tempdir().expect("tmp");
    let mut app = app(Screen::Run, &scratch);
    let terminal = draw(&mut app, 50, 12);
    insta::assert_snapshot!("too_small_50x12", terminal.backend());
}

#[test]
fn colours_come_from_the_theme() {
    let scratch = tempfile::tempdir().expect("tmp");
    for name in ["dark", "light", "high-contrast"] {
        let theme = Theme::builtin(name).expect("theme");
        let mut app = demo_app(Screen::Run, theme.clone(), scratch.path()).expect("demo");
        let terminal = draw(&mut app, 120, 40);
        let buffer = terminal.backend().buffer();
        // The header's first cell uses the key style, the body the base background.
        assert_eq!(
            buffer[(1, 0)].bg,
            theme.key.bg.unwrap_or(Color::Reset),
            "{name}"
        );
        assert_eq!(
            buffer[(60, 20)].bg,
            theme.base.bg.unwrap_or(Color::Reset),
            "{name}"
        );
        for cell in buffer.content() {
            let allowed = |c: Color| c == Color::Reset || matches!(c, Color::Rgb(..));
            assert!(
                allowed(cell.fg) && allowed(cell.bg),
                "{name}: colour {:?}/{:?} not from the theme",
                cell.fg,
                cell.bg
            );
        }
    }
}

/// Hostile output rendered through the real crossterm backend: the bytes sent to the terminal
/// carry no OSC (title, clipboard), no screen clear and no BEL from the stream.
#[test]
fn hostile_output_cannot_drive_the_terminal() {
    use crate::snapshot::journal::Fd;
    let scratch = tempfile::tempdir().expect("tmp");
    let mut app = app(Screen::Run, &scratch);
    let hostile: &[u8] = b"\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\x1b[2J\x1b[H\x1b[31;1mred\x1b[0m\x1bc\x9b2J\xff\xfe\r\x08\x08\x08over\x1bP+q\x1b\\\n";
    if let Some(run) = app.run.as_mut() {
        let live = std::sync::Arc::clone(&run.captures[0].live);
        live.streams[1].ring().push(Fd::Out, hostile);
        live.streams[1].ring().push(Fd::Err, hostile);
    }
    let mut out = Vec::new();
    {
        let backend = ratatui::backend::CrosstermBackend::new(&mut out);
        let mut terminal = Terminal::with_options(
            backend,
            ratatui::TerminalOptions {
                viewport: ratatui::Viewport::Fixed(ratatui::layout::Rect::new(0, 0, 120, 40)),
            },
        )
        .expect("terminal");
        terminal.draw(|frame| app.render(frame)).expect("draw");
    }
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("pwned") && text.contains('␛') && text.contains('␇'),
        "the sequence is shown as text"
    );
    for forbidden in [
        "\x1b]", "\x07", "\x1b[2J", "\x1bc", "\x1bP", "\u{9b}", "\r", "\x08",
    ] {
        assert!(
            !text.contains(forbidden),
            "terminal output contains {forbidden:?}"
        );
    }
}

#[test]
fn editor_highlights_the_error_line() {
    let scratch = tempfile::tempdir().expect("tmp");
    let theme = Theme::dark();
    let mut app = app(Screen::Editor, &scratch);
    let terminal = draw(&mut app, 120, 40);
    let buffer = terminal.backend().buffer();
    let row = (0..40u16)
        .find(|&y| {
            (0..120u16)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect::<String>()
                .contains("timout")
        })
        .expect("the broken line is on screen");
    let x = (0..120u16)
        .find(|&x| buffer[(x, row)].symbol() == "t" && buffer[(x + 1, row)].symbol() == "i")
        .expect("line text");
    assert_eq!(
        buffer[(x, row)].bg,
        theme.error_line.bg.expect("error_line bg"),
        "error line highlighted"
    );
    let other = row + 1;
    assert_ne!(
        buffer[(x, other)].bg,
        theme.error_line.bg.expect("bg"),
        "only that line"
    );
}

/// The fleet overview: 50 hosts × 5 steps opens on the matrix (more streams than the grid
/// shows at a readable size); filters, Enter (zoomed pane) and Esc (back) as a user sees them.
#[test]
fn fleet_overview() {
    use super::demo::demo_fleet_app;
    use super::widgets::fleet_view::View;
    for (w, h) in [(120, 40), (80, 24)] {
        let mut app = demo_fleet_app(Theme::dark());
        insta::assert_snapshot!(
            format!("fleet_overview_{w}x{h}"),
            draw(&mut app, w, h).backend()
        );
    }
    let mut app = demo_fleet_app(Theme::dark());
    draw(&mut app, 120, 40);
    let view = |app: &App| app.run.as_ref().map(|r| r.fleet.view);
    assert_eq!(view(&app), Some(View::Overview));
    app.dispatch(Action::Cmd(Cmd::ProblemsOnly));
    insta::assert_snapshot!("fleet_problems_120x40", draw(&mut app, 120, 40).backend());
    // Down to web31 (the second problem row), right to top-cpu, Enter: its pane, zoomed.
    app.dispatch(Action::Cmd(Cmd::Down));
    for _ in 0..3 {
        app.dispatch(Action::Cmd(Cmd::Right));
    }
    app.dispatch(Action::Cmd(Cmd::Zoom));
    assert_eq!(view(&app), Some(View::Grid));
    let screen = draw(&mut app, 120, 40);
    let text = screen.backend().to_string();
    assert!(text.contains("web31 · linux-triage/top-cpu"), "{text}");
    assert!(text.contains("timed out"), "{text}");
    app.dispatch(Action::Cmd(Cmd::Back));
    assert_eq!(view(&app), Some(View::Overview), "esc comes back");
    app.dispatch(Action::Cmd(Cmd::Overview));
    assert_eq!(view(&app), Some(View::Grid), "o: the pane grid");
    app.dispatch(Action::Cmd(Cmd::Overview));
    assert_eq!(view(&app), Some(View::Overview));
    app.help = true;
    insta::assert_snapshot!("fleet_help_120x40", draw(&mut app, 120, 40).backend());
}

/// Glyphs in the theme's status colours, the cursor in the selected style.
#[test]
fn overview_cells_use_the_theme() {
    use super::demo::demo_fleet_app;
    for name in ["dark", "light", "high-contrast"] {
        let theme = Theme::builtin(name).expect("theme");
        let mut app = demo_fleet_app(theme.clone());
        let terminal = draw(&mut app, 120, 40);
        let buffer = terminal.backend().buffer();
        // The matrix rows: below the info line and the step headers, above the bars.
        let find = |glyph: &str| {
            (3..38u16)
                .flat_map(|y| (0..120u16).map(move |x| (x, y)))
                .filter(|&(x, y)| buffer[(x, y)].symbol() == glyph)
                .collect::<Vec<_>>()
        };
        let ok = find("✓");
        assert!(ok.len() > 50, "{name}: most cells are ok");
        // The first cell is under the cursor; the others keep their status colour.
        assert!(
            ok[1..]
                .iter()
                .all(|&p| buffer[p].fg == theme.ok.fg.unwrap_or(Color::Reset)),
            "{name}"
        );
        let timed_out = find("◷");
        assert_eq!(timed_out.len(), 1, "{name}: web31's top-cpu timed out");
        assert_eq!(
            buffer[timed_out[0]].fg,
            theme.error.fg.unwrap_or(Color::Reset)
        );
        let non_zero = find("✗");
        assert_eq!(non_zero.len(), 1, "{name}: web07's dmesg exited 1");
        assert_eq!(
            buffer[non_zero[0]].fg,
            theme.warn.fg.unwrap_or(Color::Reset)
        );
        let cursor = ok[0];
        assert_eq!(
            buffer[cursor].bg,
            theme.selected.bg.unwrap_or(Color::Reset),
            "{name}"
        );
    }
}

/// A folded step (the groups of web07's kernel below the matrix) and the diff of web07
/// against the majority; the odd cells carry the highlight background.
#[test]
fn fleet_folded_step_and_diff() {
    use super::demo::{FleetShot, demo_fleet_shot};
    let theme = Theme::dark();
    let mut app = demo_fleet_shot(FleetShot::Overview, theme.clone());
    let terminal = draw(&mut app, 120, 40);
    let buffer = terminal.backend().buffer();
    let text = terminal.backend().to_string();
    let row_of = |name: &str| {
        text.lines()
            .position(|l| l.contains(&format!(" {name} ")))
            .unwrap_or_else(|| panic!("{name} on screen:\n{text}")) as u16
    };
    let highlight = theme.error_line.bg.expect("error_line bg");
    let highlighted = |y: u16| {
        (0..120u16)
            .filter(|&x| buffer[(x, y)].bg == highlight)
            .count()
    };
    assert!(
        highlighted(row_of("web07")) > 0,
        "web07's odd cells:\n{text}"
    );
    assert!(highlighted(row_of("web23")) > 0, "web23's disk:\n{text}");
    assert_eq!(highlighted(row_of("web05")), 0, "web05 is like the others");
    let mut app = demo_fleet_shot(FleetShot::Folded, theme.clone());
    insta::assert_snapshot!("fleet_folded_120x40", draw(&mut app, 120, 40).backend());
    let mut app = demo_fleet_shot(FleetShot::Diff, theme);
    insta::assert_snapshot!("fleet_diff_120x40", draw(&mut app, 120, 40).backend());
    app.dispatch(Action::Cmd(Cmd::DiffLayout));
    insta::assert_snapshot!("fleet_diff_unified_80x24", draw(&mut app, 80, 24).backend());
}
