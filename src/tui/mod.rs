//! The interactive TUI that `casefile` (no subcommand) opens: incidents → plan → live panes →
//! export, plus replay and the preset editor. It drives the same engine and snapshot writer as
//! the headless CLI; nothing under the engine knows about ratatui.
pub mod action; // Action (input) and Effect (what the app must do)
pub mod app; // the event loop, screens, capture tasks
#[cfg(any(test, feature = "demo"))]
pub mod demo; // demo data for screen snapshots and screenshots (not in the shipped binary)
pub mod export_job; // runs an export from the Export screen in the background
pub mod fleet_jobs; // folding, diffs and baselines off the loop for the fleet views
pub mod hangup; // noticing a terminal that went away when no SIGHUP came
pub mod inert_backend; // every cell passes the sanitiser before it reaches the terminal
pub mod keymap; // per-screen key tables, overridable in [keys]
pub mod screens; // one file per screen
#[cfg(feature = "demo")]
pub mod svg; // buffer → SVG, for screenshots generated from the app's own rendering
pub mod term; // terminal init/restore
pub mod theme; // themes/*.toml with per-field user overrides
pub mod widgets; // pane grid, header/footer, help overlay, confirm dialog

#[cfg(test)]
mod snapshot_tests;

use crate::config::Config;
use app::{App, Start};
use keymap::Keymap;
use std::{path::PathBuf, process::ExitCode};
use theme::Theme;

/// `$XDG_CONFIG_HOME/casefile/theme.toml`: single-field overrides applied to any theme.
pub fn user_theme_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("casefile").join("theme.toml"))
}

/// The theme from `--theme`, else the config's `theme`, else dark; plus the user's overrides.
pub fn load_theme(config: &Config, flag: Option<&str>) -> Result<Theme, String> {
    let name = flag.or(config.theme.as_deref()).unwrap_or("dark");
    Theme::load(name, user_theme_path().as_deref())
}

/// Sends tracing output to `$XDG_STATE_HOME/casefile/casefile.log` (never to the screen),
/// redacted and private (see `crate::logging`).
fn init_logging() -> Option<PathBuf> {
    crate::logging::init(crate::logging::Sink::Tui)
}

/// Runs the TUI until the operator quits. Exit 0 on a normal quit, 2 when it cannot start.
pub async fn run(config: Config, theme_flag: Option<String>, start: Start) -> ExitCode {
    let theme = match load_theme(&config, theme_flag.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            errln!("casefile: {e}");
            return ExitCode::from(crate::exit::EXIT_USAGE);
        }
    };
    let keymap = match Keymap::from_config(&config) {
        Ok(k) => k,
        Err(e) => {
            errln!("casefile: {e}");
            return ExitCode::from(crate::exit::EXIT_USAGE);
        }
    };
    let log = init_logging();
    tracing::info!(log = ?log, "casefile TUI starting");
    let (mut app, rx) = App::new(config, theme, keymap);
    let mut terminal = match term::init() {
        Ok(t) => t,
        Err(e) => {
            errln!(
                "casefile: cannot use this terminal: {e} (the headless commands work without one: casefile capture --help)"
            );
            return ExitCode::from(crate::exit::EXIT_USAGE);
        }
    };
    let _guard = term::RestoreGuard;
    app.start(start);
    let result = app::run_loop(&mut terminal, app, rx).await;
    term::restore();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            errln!("casefile: the terminal failed: {e}");
            ExitCode::from(crate::exit::EXIT_INCOMPLETE)
        }
    }
}
