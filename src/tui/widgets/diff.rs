//! The diff view: two streams of one step, side by side or unified, removed lines in the
//! theme's error colour and added ones in its ok colour. The line diff is computed off the UI
//! loop (by the `fleet` diff, see `tui::fleet_jobs`); the text arrives here already sanitised,
//! one terminal-safe string per line, so drawing only copies the visible rows.
use crate::tui::action::Cmd;
use crate::tui::theme::Theme;
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::Style,
    text::{Line, Span},
};

/// What happened to a line between the two sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Same,
    /// Only in the left (reference) side.
    Removed,
    /// Only in the right side.
    Added,
}

/// Two streams' difference, ready to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffView {
    /// What each side is (`web-01 · linux/uptime (49 like it)`), sanitised.
    pub left: String,
    pub right: String,
    /// Every line once, in unified order, sanitised.
    lines: Vec<(Tag, String)>,
    /// Side by side: (left line, right line) indices into `lines`.
    pairs: Vec<(Option<u32>, Option<u32>)>,
    pub removed: usize,
    pub added: usize,
    /// An input was longer than what was compared (the files have it all).
    pub truncated: bool,
    pub side_by_side: bool,
    /// First row shown.
    pub scroll: usize,
    /// Rows of the last draw (a page).
    page: usize,
}

impl DiffView {
    /// From the diff's lines in unified order (text already sanitised).
    pub fn new(left: String, right: String, lines: Vec<(Tag, String)>) -> DiffView {
        let mut pairs = Vec::with_capacity(lines.len());
        // Side by side: a run of removed lines faces the run of added lines after it.
        let mut i = 0;
        while i < lines.len() {
            match lines[i].0 {
                Tag::Same => {
                    pairs.push((Some(i as u32), Some(i as u32)));
                    i += 1;
                }
                _ => {
                    let start = i;
                    while i < lines.len() && lines[i].0 == Tag::Removed {
                        i += 1;
                    }
                    let removed: Vec<u32> = (start as u32..i as u32).collect();
                    let added_start = i;
                    while i < lines.len() && lines[i].0 == Tag::Added {
                        i += 1;
                    }
                    let added: Vec<u32> = (added_start as u32..i as u32).collect();
                    for k in 0..removed.len().max(added.len()) {
                        pairs.push((removed.get(k).copied(), added.get(k).copied()));
                    }
                }
            }
        }
        let removed = lines.iter().filter(|l| l.0 == Tag::Removed).count();
        let added = lines.iter().filter(|l| l.0 == Tag::Added).count();
        DiffView {
            left,
            right,
            lines,
            pairs,
            removed,
            added,
            truncated: false,
            side_by_side: true,
            scroll: 0,
            page: 10,
        }
    }

    fn rows(&self) -> usize {
        if self.side_by_side {
            self.pairs.len()
        } else {
            self.lines.len()
        }
    }

    /// Tag of a row (side by side: changed when either side changed).
    fn row_changed(&self, row: usize) -> bool {
        if self.side_by_side {
            self.pairs.get(row).is_some_and(|(a, b)| {
                a != b || a.is_some_and(|a| self.lines[a as usize].0 != Tag::Same)
            })
        } else {
            self.lines.get(row).is_some_and(|l| l.0 != Tag::Same)
        }
    }

    /// Scrolling, the layout switch and jumps between changes; false when not a diff command.
    pub fn command(&mut self, cmd: Cmd) -> bool {
        let max = self.rows().saturating_sub(1);
        match cmd {
            Cmd::Up => self.scroll = self.scroll.saturating_sub(1),
            Cmd::Down => self.scroll = (self.scroll + 1).min(max),
            Cmd::PageUp => self.scroll = self.scroll.saturating_sub(self.page),
            Cmd::PageDown => self.scroll = (self.scroll + self.page).min(max),
            Cmd::Top => self.scroll = 0,
            Cmd::Bottom => self.scroll = max.saturating_sub(self.page.saturating_sub(1)),
            Cmd::DiffLayout | Cmd::Toggle => {
                // Keep the same line at the top across layouts.
                let line = self.top_line();
                self.side_by_side = !self.side_by_side;
                self.scroll = self.row_of_line(line);
            }
            Cmd::NextMatch => self.jump(true),
            Cmd::PrevMatch => self.jump(false),
            _ => return false,
        }
        true
    }

    fn top_line(&self) -> usize {
        if self.side_by_side {
            self.pairs
                .get(self.scroll)
                .and_then(|(a, b)| a.or(*b))
                .unwrap_or(0) as usize
        } else {
            self.scroll
        }
    }

    fn row_of_line(&self, line: usize) -> usize {
        if self.side_by_side {
            self.pairs
                .iter()
                .position(|(a, b)| a.or(*b).is_some_and(|l| l as usize >= line))
                .unwrap_or(0)
        } else {
            line
        }
    }

    /// Moves to the start of the next (or previous) block of changes.
    fn jump(&mut self, forward: bool) {
        let rows = self.rows();
        let mut r = self.scroll;
        if forward {
            // Leave the current block, then find the next one.
            while r < rows && self.row_changed(r) {
                r += 1;
            }
            while r < rows && !self.row_changed(r) {
                r += 1;
            }
            if r < rows {
                self.scroll = r;
            }
        } else {
            while r > 0 && self.row_changed(r - 1) {
                r -= 1;
            }
            while r > 0 && !self.row_changed(r - 1) {
                r -= 1;
            }
            while r > 0 && self.row_changed(r - 1) {
                r -= 1;
            }
            self.scroll = r;
        }
    }

    /// The first change, at the top (where the view opens).
    pub fn to_first_change(&mut self) {
        self.scroll = 0;
        if !self.row_changed(0) {
            self.jump(true);
        }
        self.scroll = self.scroll.saturating_sub(2);
    }

    pub fn render(&mut self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        if area.height < 3 {
            return;
        }
        let layout = if self.side_by_side {
            "side by side"
        } else {
            "unified"
        };
        // Counts first: they matter most and stay visible on a narrow terminal.
        let mut head = vec![
            Span::styled(" diff ", theme.key),
            Span::styled(
                format!(
                    " {} removed · {} added · {layout}{} ",
                    self.removed,
                    self.added,
                    if self.truncated {
                        " · compared the first part only"
                    } else {
                        ""
                    }
                ),
                theme.muted,
            ),
        ];
        if self.removed == 0 && self.added == 0 {
            head.push(Span::styled("identical ", theme.ok));
        }
        head.push(Span::styled(format!(" − {} ", self.left), theme.error));
        head.push(Span::styled(format!(" + {} ", self.right), theme.ok));
        buf.set_line(area.x, area.y, &Line::from(head), area.width);
        let body = Rect::new(area.x, area.y + 1, area.width, area.height - 1);
        self.page = body.height as usize;
        self.scroll = self.scroll.min(self.rows().saturating_sub(1));
        let style_of = |tag: Tag| -> (Style, &'static str) {
            match tag {
                Tag::Same => (theme.text(), " "),
                Tag::Removed => (theme.error, "-"),
                Tag::Added => (theme.ok, "+"),
            }
        };
        if self.side_by_side {
            let half = body.width.saturating_sub(1) / 2;
            let sep_x = body.x + half;
            for (row, (a, b)) in self
                .pairs
                .iter()
                .skip(self.scroll)
                .take(body.height as usize)
                .enumerate()
            {
                let y = body.y + row as u16;
                for (side, x, width) in [(a, body.x, half), (b, sep_x + 1, body.width - half - 1)] {
                    if let Some(i) = side {
                        let (tag, text) = &self.lines[*i as usize];
                        let (style, sign) = style_of(*tag);
                        buf.set_string(x, y, sign, style);
                        buf.set_stringn(x + 1, y, text, width.saturating_sub(1) as usize, style);
                    }
                }
                buf.set_string(sep_x, y, "│", theme.border);
            }
        } else {
            for (row, (tag, text)) in self
                .lines
                .iter()
                .skip(self.scroll)
                .take(body.height as usize)
                .enumerate()
            {
                let y = body.y + row as u16;
                let (style, sign) = style_of(*tag);
                buf.set_string(body.x, y, sign, style);
                buf.set_stringn(
                    body.x + 1,
                    y,
                    text,
                    body.width.saturating_sub(1) as usize,
                    style,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> DiffView {
        let l = |tag, s: &str| (tag, s.to_string());
        DiffView::new(
            "a".into(),
            "b".into(),
            vec![
                l(Tag::Same, "one"),
                l(Tag::Removed, "two"),
                l(Tag::Removed, "three"),
                l(Tag::Added, "2"),
                l(Tag::Same, "four"),
                l(Tag::Same, "five"),
                l(Tag::Added, "six"),
            ],
        )
    }

    #[test]
    fn side_by_side_pairs_removed_with_added() {
        let v = view();
        assert_eq!((v.removed, v.added), (2, 2));
        assert_eq!(
            v.pairs,
            vec![
                (Some(0), Some(0)),
                (Some(1), Some(3)),
                (Some(2), None),
                (Some(4), Some(4)),
                (Some(5), Some(5)),
                (None, Some(6)),
            ]
        );
    }

    #[test]
    fn jumps_between_changes_in_both_layouts() {
        let mut v = view();
        v.command(Cmd::NextMatch);
        assert_eq!(v.scroll, 1);
        v.command(Cmd::NextMatch);
        assert_eq!(v.scroll, 5, "the next block, past the unchanged rows");
        v.command(Cmd::PrevMatch);
        assert_eq!(v.scroll, 1);
        v.command(Cmd::DiffLayout);
        assert!(!v.side_by_side);
        assert_eq!(v.scroll, 1, "same line on top");
        v.command(Cmd::NextMatch);
        assert_eq!(v.scroll, 6);
        v.command(Cmd::Top);
        v.to_first_change();
        assert_eq!(v.scroll, 0);
    }
}
