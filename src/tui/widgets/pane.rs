//! The pane grid shared by the run and replay screens: one pane per stream with its status,
//! focus, zoom, scrolling with follow/pause, and search. Only the visible lines of a pane are
//! sanitised and drawn, so a frame costs the same with 100 lines of scrollback or 100 000.
use crate::capture::OutputRing;
use crate::model::size::human_bytes;
use crate::sanitize::{cells as sanitize, is_placeholder};
use crate::snapshot::StreamStatus;
use crate::snapshot::journal::Fd;
use crate::tui::action::Cmd;
use crate::tui::theme::Theme;
use ratatui::{
    buffer::Buffer,
    layout::{Constraint, Layout, Rect},
    style::Style,
    text::{Line, Span},
    widgets::{Block, BorderType, Borders, Widget},
};
use std::time::Duration;

/// What a pane shows in its title bar.
#[derive(Debug, Clone, PartialEq)]
pub enum PaneStatus {
    Queued,
    Running {
        elapsed: Duration,
    },
    Done {
        exit_code: Option<i32>,
        signal: Option<i32>,
        elapsed: Option<Duration>,
    },
    Other {
        status: StreamStatus,
        reason: Option<String>,
    },
}

impl PaneStatus {
    /// From a stream's status, its elapsed time and final result.
    pub fn from_parts(
        status: StreamStatus,
        elapsed: Option<Duration>,
        result: Option<&crate::snapshot::manifest::StreamResult>,
    ) -> PaneStatus {
        match status {
            StreamStatus::Queued => PaneStatus::Queued,
            StreamStatus::Running => PaneStatus::Running {
                elapsed: elapsed.unwrap_or_default(),
            },
            StreamStatus::Exited => PaneStatus::Done {
                exit_code: result.and_then(|r| r.exit_code),
                signal: result.and_then(|r| r.signal),
                elapsed: result
                    .and_then(|r| r.duration_ms)
                    .map(Duration::from_millis)
                    .or(elapsed),
            },
            other => PaneStatus::Other {
                status: other,
                reason: result.and_then(|r| r.reason.clone()),
            },
        }
    }

    /// Short text and its theme style.
    pub fn label(&self, theme: &Theme) -> (String, Style) {
        match self {
            PaneStatus::Queued => ("◌ queued".into(), theme.queued),
            PaneStatus::Running { elapsed } => {
                (format!("● running {}", seconds(*elapsed)), theme.running)
            }
            PaneStatus::Done {
                exit_code: Some(0),
                elapsed,
                ..
            } => (
                format!(
                    "✓ exit 0{}",
                    elapsed
                        .map(|e| format!(" · {}", seconds(e)))
                        .unwrap_or_default()
                ),
                theme.ok,
            ),
            PaneStatus::Done {
                exit_code: Some(code),
                ..
            } => (format!("✗ exit {code}"), theme.warn),
            PaneStatus::Done {
                signal: Some(sig), ..
            } => (format!("✗ signal {sig}"), theme.warn),
            PaneStatus::Done { .. } => ("✓ done".into(), theme.ok),
            PaneStatus::Other { status, reason } => {
                let style = match status {
                    StreamStatus::Skipped
                    | StreamStatus::Cancelled
                    | StreamStatus::NotAvailable => theme.warn,
                    _ => theme.error,
                };
                let icon = match status {
                    StreamStatus::TimedOut => "◷",
                    StreamStatus::Skipped => "⊘",
                    _ => "✗",
                };
                let text = match reason {
                    Some(r) if *status == StreamStatus::Failed => format!("{icon} failed: {r}"),
                    _ => format!("{icon} {}", status.label()),
                };
                (text, style)
            }
        }
    }

    pub fn failed(&self) -> bool {
        matches!(self, PaneStatus::Other { status, .. } if !status.ran_to_end())
            || matches!(self, PaneStatus::Done { exit_code: Some(c), .. } if *c != 0)
    }

    pub fn finished(&self) -> bool {
        !matches!(self, PaneStatus::Queued | PaneStatus::Running { .. })
    }
}

fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// Everything a pane needs to draw, borrowed from the screen's data.
pub struct PaneInfo<'a> {
    pub title: String,
    pub status: PaneStatus,
    pub bytes: u64,
    pub ring: &'a OutputRing,
}

/// Number of display lines in a ring: complete lines plus unfinished last lines.
pub fn ring_len(ring: &OutputRing) -> usize {
    ring.lines.len()
        + usize::from(!ring.partial(Fd::Out).is_empty())
        + usize::from(!ring.partial(Fd::Err).is_empty())
}

fn ring_line(ring: &OutputRing, index: usize) -> Option<(Fd, &[u8])> {
    if let Some(line) = ring.lines.get(index) {
        return Some((line.fd, &line.bytes));
    }
    let mut extra = index - ring.lines.len();
    for fd in [Fd::Out, Fd::Err] {
        let partial = ring.partial(fd);
        if !partial.is_empty() {
            if extra == 0 {
                return Some((fd, partial));
            }
            extra -= 1;
        }
    }
    None
}

/// Scroll state of one pane. Following sticks to the newest line; paused keeps the same lines
/// on screen (an absolute line number) while output continues to arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaneView {
    pub follow: bool,
    /// Absolute number (counting dropped lines) of the line just below the view, when paused.
    pub bottom: u64,
    /// Absolute number of the line the last search jumped to; the next search starts there.
    pub mark: Option<u64>,
}

impl Default for PaneView {
    fn default() -> Self {
        PaneView {
            follow: true,
            bottom: 0,
            mark: None,
        }
    }
}

/// Search typed into the footer: `editing` while being typed, then applied to the focused pane.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    pub query: String,
    pub editing: bool,
}

/// Line counts of a pane's ring, which scrolling needs: (dropped lines, lines held).
pub type RingExtent = (u64, usize);

/// Focus, zoom, per-pane scroll and search of a grid of panes.
#[derive(Debug, Clone, Default)]
pub struct PaneGrid {
    pub focus: usize,
    pub zoom: bool,
    pub views: Vec<PaneView>,
    pub search: Search,
    /// The area the grid was last laid out in, for mouse hits and page sizes.
    pub area: Rect,
}

const MIN_PANE_WIDTH: u16 = 44;
const MIN_PANE_HEIGHT: u16 = 5;

impl PaneGrid {
    pub fn new(panes: usize) -> PaneGrid {
        PaneGrid {
            views: vec![PaneView::default(); panes],
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.views.len()
    }

    /// Panes the grid shows at a readable size in `area` (the overview is the default above).
    pub fn capacity(area: Rect) -> usize {
        let cols = (area.width / MIN_PANE_WIDTH).clamp(1, 4) as usize;
        let rows = (area.height / MIN_PANE_HEIGHT).max(1) as usize;
        cols * rows
    }

    pub fn is_empty(&self) -> bool {
        self.views.is_empty()
    }

    /// Where each visible pane goes: every pane when they fit, else the rows around the focus.
    pub fn layout(&self, area: Rect) -> Vec<(usize, Rect)> {
        let n = self.views.len();
        if n == 0 || area.width == 0 || area.height == 0 {
            return Vec::new();
        }
        if self.zoom {
            return vec![(self.focus.min(n - 1), area)];
        }
        let cols = ((area.width / MIN_PANE_WIDTH).max(1) as usize)
            .min(n)
            .min(4);
        let rows_total = n.div_ceil(cols);
        let rows_visible = ((area.height / MIN_PANE_HEIGHT).max(1) as usize).min(rows_total);
        let focus_row = self.focus / cols;
        let first_row = if focus_row < rows_visible {
            0
        } else {
            focus_row + 1 - rows_visible
        };
        let row_rects = Layout::vertical(vec![Constraint::Fill(1); rows_visible]).split(area);
        let mut out = Vec::new();
        for (r, row_rect) in row_rects.iter().enumerate() {
            let row = first_row + r;
            let in_row = (n - row * cols).min(cols);
            let col_rects = Layout::horizontal(vec![Constraint::Fill(1); cols]).split(*row_rect);
            for (c, rect) in col_rects.iter().enumerate().take(in_row) {
                out.push((row * cols + c, *rect));
            }
        }
        out
    }

    /// Rows of output the focused pane shows (inside its border).
    fn page(&self) -> usize {
        self.layout(self.area)
            .iter()
            .find(|(i, _)| *i == self.focus)
            .map(|(_, r)| r.height.saturating_sub(2) as usize)
            .unwrap_or(10)
            .max(1)
    }

    fn scroll(&mut self, pane: usize, lines: i64, extent: RingExtent) {
        let page = self.page() as u64;
        let Some(view) = self.views.get_mut(pane) else {
            return;
        };
        let (dropped, len) = extent;
        let end = dropped + len as u64;
        let top_limit = (dropped + page).min(end);
        let current = if view.follow {
            end
        } else {
            view.bottom.clamp(top_limit, end)
        };
        let target = (current as i64 + lines).clamp(top_limit as i64, end as i64) as u64;
        view.follow = target >= end;
        view.bottom = target;
    }

    /// Handles grid commands; `extent(i)` gives pane i's ring extent. Returns false if not a grid command.
    pub fn update(&mut self, cmd: Cmd, extent: &dyn Fn(usize) -> RingExtent) -> bool {
        let n = self.views.len();
        if n == 0 {
            return false;
        }
        let focus = self.focus;
        let page = self.page() as i64;
        match cmd {
            Cmd::Right | Cmd::NextFocus => self.focus = (focus + 1) % n,
            Cmd::Left | Cmd::PrevFocus => self.focus = (focus + n - 1) % n,
            Cmd::Up => self.scroll(focus, -1, extent(focus)),
            Cmd::Down => self.scroll(focus, 1, extent(focus)),
            Cmd::PageUp => self.scroll(focus, -page, extent(focus)),
            Cmd::PageDown => self.scroll(focus, page, extent(focus)),
            Cmd::Top => self.scroll(focus, i64::MIN / 4, extent(focus)),
            Cmd::Bottom => self.views[focus].follow = true,
            Cmd::Zoom => self.zoom = !self.zoom,
            Cmd::Follow => {
                let (dropped, len) = extent(focus);
                let view = &mut self.views[focus];
                view.follow = !view.follow;
                if !view.follow {
                    view.bottom = dropped + len as u64;
                }
            }
            _ => return false,
        }
        true
    }

    /// Focus the pane under a click.
    pub fn click(&mut self, column: u16, row: u16) -> bool {
        let hit = self
            .layout(self.area)
            .into_iter()
            .find(|(_, r)| r.contains((column, row).into()));
        if let Some((index, _)) = hit {
            self.focus = index;
            return true;
        }
        false
    }

    /// Scroll the pane under the mouse wheel.
    pub fn wheel(
        &mut self,
        column: u16,
        row: u16,
        lines: i32,
        extent: &dyn Fn(usize) -> RingExtent,
    ) {
        if let Some((index, _)) = self
            .layout(self.area)
            .into_iter()
            .find(|(_, r)| r.contains((column, row).into()))
        {
            self.scroll(index, lines as i64 * 3, extent(index));
        }
    }

    /// Jumps the focused pane to the next match of the search, looking older (`older`) or newer.
    pub fn find(&mut self, ring: &OutputRing, older: bool) -> bool {
        let query = self.search.query.to_lowercase();
        if query.is_empty() {
            return false;
        }
        let page = self.page() as u64;
        let len = ring_len(ring);
        let dropped = ring.dropped_lines;
        let Some(view) = self.views.get_mut(self.focus) else {
            return false;
        };
        let end = dropped + len as u64;
        let bottom = if view.follow {
            end
        } else {
            view.bottom.min(end)
        };
        // Start from the last match, else from the last visible line.
        let current = view
            .mark
            .filter(|m| *m >= dropped && *m < end)
            .unwrap_or(bottom.saturating_sub(1))
            .saturating_sub(dropped) as usize;
        let matches = |i: usize| {
            ring_line(ring, i).is_some_and(|(_, b)| sanitize(b).to_lowercase().contains(&query))
        };
        let found = if older {
            (0..current.min(len)).rev().find(|&i| matches(i))
        } else {
            (current + 1..len).find(|&i| matches(i))
        };
        let Some(i) = found else { return false };
        let target = (dropped + i as u64 + 1 + page / 2)
            .min(end)
            .max(dropped + page.min(len as u64));
        view.follow = false;
        view.bottom = target;
        view.mark = Some(dropped + i as u64);
        true
    }
}

/// Lends pane i's data to a drawing callback (the data may sit behind a lock).
pub type PaneSource<'s> = &'s mut dyn FnMut(usize, &mut dyn FnMut(&PaneInfo<'_>));

/// Draws the grid; `info(i)` gives pane i's data.
pub fn render_grid(
    grid: &PaneGrid,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
    info: PaneSource<'_>,
) {
    for (index, rect) in grid.layout(area) {
        let view = grid.views.get(index).copied().unwrap_or_default();
        let focused = index == grid.focus;
        let query = if grid.search.query.is_empty() {
            None
        } else {
            Some(grid.search.query.as_str())
        };
        info(index, &mut |pane| {
            render_pane(pane, view, focused, query, rect, buf, theme)
        });
    }
}

/// Draws one pane: a bordered box with title and status, and the visible lines.
pub fn render_pane(
    pane: &PaneInfo<'_>,
    view: PaneView,
    focused: bool,
    query: Option<&str>,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) {
    let (full_status, status_style) = pane.status.label(theme);
    // The status shares the top border with the title: keep it to about half the pane.
    let room = (area.width as usize / 2).saturating_sub(10).max(8);
    let status_text = if full_status.chars().count() > room {
        format!(
            "{}…",
            full_status.chars().take(room - 1).collect::<String>()
        )
    } else {
        full_status.clone()
    };
    let border_style = if focused {
        theme.border_focus
    } else {
        theme.border
    };
    let len = ring_len(pane.ring);
    let dropped = pane.ring.dropped_lines;
    let end = dropped + len as u64;
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Rounded
        })
        .border_style(border_style)
        .title(Line::from(Span::styled(
            format!(" {} ", pane.title),
            if focused { theme.accent } else { theme.title },
        )))
        .title(
            Line::from(vec![
                Span::styled(format!(" {status_text} "), status_style),
                Span::styled(format!("{} ", human_bytes(pane.bytes)), theme.muted),
            ])
            .right_aligned(),
        );
    if !view.follow {
        let behind = end.saturating_sub(view.bottom);
        block = block.title_bottom(
            Line::from(Span::styled(
                format!(" ⏸ paused · {behind} newer lines "),
                theme.warn,
            ))
            .right_aligned(),
        );
    }
    if dropped > 0 && focused {
        block = block.title_bottom(Line::from(Span::styled(
            format!(" {dropped} older lines on disk "),
            theme.muted,
        )));
    }
    let inner = block.inner(area);
    block.render(area, buf);
    let height = inner.height as usize;
    if height == 0 || inner.width == 0 {
        return;
    }
    // A stream that ended without output: say why in the body, wrapped, where there is room.
    if len == 0
        && pane.status.finished()
        && let PaneStatus::Other {
            reason: Some(reason),
            ..
        } = &pane.status
    {
        ratatui::widgets::Paragraph::new(Line::from(Span::styled(reason.clone(), status_style)))
            .wrap(ratatui::widgets::Wrap { trim: true })
            .render(inner, buf);
        return;
    }
    let bottom = if view.follow {
        end
    } else {
        view.bottom.clamp((dropped + height as u64).min(end), end)
    };
    let top = bottom.saturating_sub(height as u64).max(dropped);
    let query_lower = query.map(str::to_lowercase);
    for (row, abs) in (top..bottom).enumerate() {
        let Some((fd, bytes)) = ring_line(pane.ring, (abs - dropped) as usize) else {
            break;
        };
        let base = if fd == Fd::Err {
            theme.stderr
        } else {
            theme.text()
        };
        let line = styled_line(
            bytes,
            inner.width as usize,
            base,
            theme,
            query_lower.as_deref(),
        );
        buf.set_line(inner.x, inner.y + row as u16, &line, inner.width);
    }
}

/// One output line as styled spans: placeholders and search matches stand out.
fn styled_line<'a>(
    bytes: &[u8],
    width: usize,
    base: Style,
    theme: &Theme,
    query: Option<&str>,
) -> Line<'a> {
    // Never sanitise more than can be shown (a 16 KiB line costs the same as a short one).
    let limit = bytes.len().min(width.saturating_mul(4) + 16);
    let text: String = sanitize(&bytes[..limit]).chars().take(width).collect();
    let mut marks = vec![0u8; text.len()];
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        let lower = text.to_lowercase();
        if lower.len() == text.len() {
            let mut from = 0;
            while let Some(pos) = lower[from..].find(q) {
                let start = from + pos;
                marks[start..start + q.len()].fill(2);
                from = start + q.len().max(1);
            }
        }
    }
    for (i, c) in text.char_indices() {
        if is_placeholder(c) && marks[i] == 0 {
            marks[i..i + c.len_utf8()].fill(1);
        }
    }
    let mut spans = Vec::new();
    let mut start = 0;
    let style_of = |m: u8| match m {
        1 => theme.placeholder,
        2 => theme.search_match,
        _ => base,
    };
    for (i, _) in text
        .char_indices()
        .skip(1)
        .chain(std::iter::once((text.len(), ' ')))
    {
        if i == text.len() || marks[i] != marks[start] {
            spans.push(Span::styled(
                text[start..i].to_string(),
                style_of(marks.get(start).copied().unwrap_or(0)),
            ));
            start = i;
        }
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(lines: usize) -> OutputRing {
        let mut ring = OutputRing::new(100_000, 64 << 20);
        for i in 0..lines {
            ring.push(Fd::Out, format!("line {i}\n").as_bytes());
        }
        ring
    }

    #[test]
    fn pause_keeps_lines_and_follow_returns_to_the_end() {
        let mut grid = PaneGrid::new(2);
        grid.area = Rect::new(0, 0, 100, 22);
        let ring = ring(100);
        let ext = |_: usize| (ring.dropped_lines, ring_len(&ring));
        assert!(grid.update(Cmd::PageUp, &ext));
        assert!(!grid.views[0].follow);
        let paused_at = grid.views[0].bottom;
        assert!(paused_at < 100);
        grid.update(Cmd::Top, &ext);
        assert_eq!(
            grid.views[0].bottom, 20,
            "top shows the first page (20 rows inside the border)"
        );
        grid.update(Cmd::Bottom, &ext);
        assert!(grid.views[0].follow);
        grid.update(Cmd::Right, &ext);
        assert_eq!(grid.focus, 1);
        grid.update(Cmd::Right, &ext);
        assert_eq!(grid.focus, 0, "focus wraps");
        grid.update(Cmd::Zoom, &ext);
        assert_eq!(grid.layout(grid.area), vec![(0, grid.area)]);
    }

    #[test]
    fn search_jumps_to_older_matches() {
        let mut grid = PaneGrid::new(1);
        grid.area = Rect::new(0, 0, 60, 12);
        let ring = ring(200);
        grid.search.query = "line 42".into();
        assert!(grid.find(&ring, true));
        let bottom = grid.views[0].bottom;
        assert!(
            (43..=43 + 10).contains(&bottom),
            "line 42 is visible: bottom {bottom}"
        );
        assert!(!grid.find(&ring, true), "no older match");
        grid.search.query = "nope".into();
        assert!(!grid.find(&ring, false));
    }

    #[test]
    fn layout_keeps_the_focused_pane_visible() {
        let mut grid = PaneGrid::new(16);
        let area = Rect::new(0, 0, 80, 20);
        grid.focus = 15;
        let layout = grid.layout(area);
        assert!(layout.iter().any(|(i, _)| *i == 15));
        assert!(layout.iter().all(|(_, r)| r.height >= MIN_PANE_HEIGHT));
        grid.area = area;
        let (_, rect) = layout[0];
        assert!(grid.click(rect.x + 1, rect.y + 1));
        assert_eq!(grid.focus, layout[0].0);
    }
}
