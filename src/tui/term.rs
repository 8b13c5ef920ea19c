//! The terminal: entering and leaving raw mode on every exit path (panics included).
//! Captured bytes are made inert by the one sanitiser, `crate::sanitize::cells`.
use crossterm::{
    cursor,
    event::{DisableMouseCapture, EnableMouseCapture},
    execute,
    terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode},
};
use ratatui::{Terminal, backend::CrosstermBackend};
use std::io::{self, Stdout};

/// Every cell passes the one sanitiser on its way out (see `inert_backend`).
pub type Tui = Terminal<super::inert_backend::InertBackend<CrosstermBackend<Stdout>>>;

/// Raw mode, alternate screen, mouse; installs a panic hook that restores first.
pub fn init() -> io::Result<Tui> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
    enable_raw_mode()?;
    let mut stdout = io::stdout();
    if let Err(e) = execute!(
        stdout,
        EnterAlternateScreen,
        EnableMouseCapture,
        cursor::Hide
    ) {
        restore();
        return Err(e);
    }
    Terminal::new(super::inert_backend::InertBackend(CrosstermBackend::new(
        stdout,
    )))
    .inspect_err(|_| restore())
}

/// Leaves raw mode and the alternate screen; safe to call more than once.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        cursor::Show
    );
}

/// Restores the terminal when dropped, so an early return or `?` cannot leave it raw.
pub struct RestoreGuard;

impl Drop for RestoreGuard {
    fn drop(&mut self) {
        restore();
    }
}
