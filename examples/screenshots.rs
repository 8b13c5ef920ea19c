//! Regenerates `screenshots/*.svg` from the app's own rendering: each main screen is drawn with
//! the demo data on a `TestBackend` and the buffer is written as SVG in the theme's colours.
//!
//!     cargo run --example screenshots            # or scripts/screenshots.sh
// A developer tool: prints the paths of the screenshots it wrote.
#![allow(clippy::print_stdout, clippy::print_stderr)]
use casefile::tui::{
    app::{App, Screen},
    demo::{FleetShot, demo_app, demo_fleet_shot},
    svg::buffer_to_svg,
    theme::Theme,
};
use ratatui::{Terminal, backend::TestBackend};
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    std::fs::create_dir_all(&out)?;
    let scratch = tempfile_dir()?;
    let shots: &[(&str, Screen, &str, bool)] = &[
        ("incidents", Screen::Incidents, "dark", false),
        ("plan", Screen::Plan, "dark", false),
        ("run", Screen::Run, "dark", false),
        ("run-help", Screen::Run, "dark", true),
        ("export", Screen::Export, "dark", false),
        ("replay", Screen::Replay, "dark", false),
        ("editor", Screen::Editor, "dark", false),
        ("run-light", Screen::Run, "light", false),
        ("run-high-contrast", Screen::Run, "high-contrast", false),
    ];
    for (name, screen, theme_name, help) in shots {
        let theme = Theme::builtin(theme_name)?;
        let mut app = demo_app(*screen, theme.clone(), &scratch)?;
        app.help = *help;
        write_shot(&out, name, &mut app, &theme)?;
    }
    // The fleet views: 50 hosts × 5 steps on the overview, a folded step, a diff.
    let fleet: &[(&str, FleetShot)] = &[
        ("fleet-overview", FleetShot::Overview),
        ("fleet-folded", FleetShot::Folded),
        ("fleet-diff", FleetShot::Diff),
    ];
    for (name, shot) in fleet {
        let theme = Theme::dark();
        let mut app = demo_fleet_shot(*shot, theme.clone());
        write_shot(&out, name, &mut app, &theme)?;
    }
    std::fs::remove_dir_all(&scratch)?;
    Ok(())
}

/// Draws `app` at 120×40 and writes it as `out/NAME.svg`.
fn write_shot(
    out: &Path,
    name: &str,
    app: &mut App,
    theme: &Theme,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut terminal = Terminal::new(TestBackend::new(120, 40))?;
    // Twice: the first frame picks the view for the size (the overview for a fleet).
    terminal.draw(|frame| app.render(frame))?;
    terminal.draw(|frame| app.render(frame))?;
    let svg = buffer_to_svg(
        terminal.backend().buffer(),
        theme.base.fg.unwrap_or_default(),
        theme.base.bg.unwrap_or_default(),
    );
    let path = out.join(format!("{name}.svg"));
    std::fs::write(&path, svg)?;
    println!("{}", path.display());
    Ok(())
}

/// A scratch folder for the demo snapshot (the example has no dev-dependency on tempfile).
fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("casefile-screenshots-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
