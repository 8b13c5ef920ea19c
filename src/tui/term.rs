//! The terminal: entering and leaving raw mode on every exit path (panics included), and
//! sanitising captured bytes so nothing a stream prints can drive the operator's terminal.
use crossterm::{
    cursor,
    event::{DisableMouseCapture, EnableMouseCapture},
    execute,
    terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode},
};
use ratatui::{Terminal, backend::CrosstermBackend};
use std::io::{self, Stdout};

pub type Tui = Terminal<CrosstermBackend<Stdout>>;

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
    Terminal::new(CrosstermBackend::new(stdout)).inspect_err(|_| restore())
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

/// Width a tab expands to in a pane.
const TAB_WIDTH: usize = 4;

/// Turns captured bytes into text that is safe to put in terminal cells: invalid UTF-8 becomes
/// U+FFFD, and every control character (C0, DEL, C1, ESC starting CSI/OSC sequences) and
/// bidi override is replaced by a visible placeholder, so the sequence is shown, never obeyed.
pub fn sanitize(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut column = 0usize;
    for c in text.chars() {
        match c {
            '\t' => {
                let pad = TAB_WIDTH - column % TAB_WIDTH;
                out.extend(std::iter::repeat_n(' ', pad));
                column += pad;
                continue;
            }
            // C0 controls and DEL → the Unicode "control pictures" (␛ ␇ ␍ …).
            '\u{0}'..='\u{1f}' => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('?')),
            '\u{7f}' => out.push('␡'),
            // C1 controls (a single-byte CSI/OSC on some terminals) and bidi/format controls
            // that could reorder or hide what is shown.
            '\u{80}'..='\u{9f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}' => out.push('�'),
            c => out.push(c),
        }
        column += 1;
    }
    out
}

/// True for characters [`sanitize`] produced as placeholders (drawn in the placeholder style).
pub fn is_placeholder(c: char) -> bool {
    matches!(c, '\u{2400}'..='\u{241f}' | '␡' | '�')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_bytes_become_visible_text() {
        let hostile = b"a\x1b[2J\x1b[H\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x1b\\b\r\x9b31m\xff\xfe\tz\x7f\xe2\x80\xae";
        let clean = sanitize(hostile);
        assert!(!clean.chars().any(|c| c.is_control()), "{clean:?}");
        assert!(
            clean.starts_with("a␛[2J␛[H␛]0;pwned␇␛]52;c;ZXZpbA==␛\\b␍"),
            "{clean:?}"
        );
        assert!(clean.contains("��"), "invalid UTF-8 is replaced: {clean:?}");
        assert!(
            clean.ends_with(" z␡�"),
            "tab expanded, DEL and RLO shown: {clean:?}"
        );
    }
}
