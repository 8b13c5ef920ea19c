//! The TUI's last gate before the terminal: a ratatui backend wrapper that passes every cell
//! through the one sanitiser ([`crate::sanitize::needs_escape`]) before it is drawn.
//!
//! Panes already sanitise captured bytes, and ratatui drops C0/C1 controls from strings, but
//! other text reaches cells too (incident titles from PagerDuty, manifest fields in replay,
//! preset descriptions), and ratatui keeps bidi and invisible formatting characters. Checking
//! at the backend covers every widget, present and future, in one place. A cell holding such a
//! character is drawn as `�` of the same width, so the columns after it stay where they were.
use crate::sanitize::needs_escape;
use ratatui::backend::{Backend, ClearType, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use unicode_width::UnicodeWidthStr;

/// Wraps a backend; see the module comment.
#[derive(Debug)]
pub struct InertBackend<B>(pub B);

/// `cell` without the characters that must not reach a terminal, or `None` when it is fine as
/// it is. ratatui appends zero-width characters to the cell before them, so a flagged
/// character is usually dropped from beside a visible one; a cell left with nothing visible
/// becomes `�` of the same width, so the columns after it stay where they were.
fn inert(cell: &Cell) -> Option<Cell> {
    let symbol = cell.symbol();
    if !symbol.chars().any(needs_escape) {
        return None;
    }
    let kept: String = symbol.chars().filter(|&c| !needs_escape(c)).collect();
    let mut fixed = cell.clone();
    if kept.is_empty() || kept.width() != symbol.width() {
        fixed.set_symbol(&"�".repeat(symbol.width().max(1)));
    } else {
        fixed.set_symbol(&kept);
    }
    Some(fixed)
}

impl<B: Backend> Backend for InertBackend<B> {
    type Error = B::Error;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let cells: Vec<(u16, u16, &Cell)> = content.collect();
        let fixed: Vec<Option<Cell>> = cells.iter().map(|(_, _, c)| inert(c)).collect();
        self.0.draw(
            cells
                .iter()
                .zip(&fixed)
                .map(|(&(x, y, cell), fix)| (x, y, fix.as_ref().unwrap_or(cell))),
        )
    }

    fn append_lines(&mut self, n: u16) -> Result<(), Self::Error> {
        self.0.append_lines(n)
    }

    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.0.hide_cursor()
    }

    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.0.show_cursor()
    }

    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.0.get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.0.set_cursor_position(position)
    }

    fn clear(&mut self) -> Result<(), Self::Error> {
        self.0.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.0.clear_region(clear_type)
    }

    fn size(&self) -> Result<Size, Self::Error> {
        self.0.size()
    }

    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.0.window_size()
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::CrosstermBackend;
    use ratatui::layout::Rect;
    use ratatui::text::Line;
    use ratatui::{Terminal, TerminalOptions, Viewport};

    /// Text that ratatui itself would pass on: bidi overrides, zero-width and invisible
    /// characters, as an incident title or a manifest field could hold them.
    #[test]
    fn bidi_and_invisible_characters_never_reach_the_terminal() {
        let hostile =
            "title \u{202e}gpj.exe\u{202c} zero\u{200b}width \u{2066}iso\u{2069} wide界x\u{feff}y";
        let mut out = Vec::new();
        {
            let backend = InertBackend(CrosstermBackend::new(&mut out));
            let mut terminal = Terminal::with_options(
                backend,
                TerminalOptions {
                    viewport: Viewport::Fixed(Rect::new(0, 0, 60, 2)),
                },
            )
            .expect("terminal");
            terminal
                .draw(|frame| frame.render_widget(Line::raw(hostile), frame.area()))
                .expect("draw");
        }
        let text = String::from_utf8_lossy(&out);
        for c in text.chars() {
            assert!(
                !needs_escape(c) || c == '\u{1b}',
                "{c:?} reached the terminal: {text:?}"
            );
        }
        assert!(
            text.contains("title gpj.exe")
                && text.contains("zerowidth iso")
                && text.contains("界")
                && text.contains("xy"),
            "visible text is kept: {text:?}"
        );
    }

    #[test]
    fn flagged_characters_are_dropped_or_shown_as_a_placeholder() {
        let symbol_of = |text: &str| {
            let mut cell = Cell::default();
            cell.set_symbol(text);
            inert(&cell).map(|c| c.symbol().to_string())
        };
        assert_eq!(symbol_of("界"), None, "clean cells pass as they are");
        assert_eq!(symbol_of("a\u{200b}"), Some("a".into()));
        assert_eq!(symbol_of("\u{202e}"), Some("�".into()));
        assert_eq!(symbol_of("\u{7}"), Some("�".into()));
    }
}
