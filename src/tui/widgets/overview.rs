//! The overview of a fleet on the Run and Replay screens: a matrix of targets (rows) × steps
//! (columns), each cell a status glyph in the theme's colours and the stream's size. Filters
//! (problems only, a tag, a step, text in the output), a cursor moved by keys or the mouse, a
//! mark for diffs, and the folded groups of the cursor's step with the odd ones out highlighted.
//!
//! Drawing costs what is visible: statuses come from a cache re-read only for streams that can
//! still change, filters are recomputed only when they or a status change (into vectors that
//! keep their capacity), and only the visible rows and columns are drawn.
pub mod cells; // status glyphs, the status cache, compact sizes
pub mod compare; // changed / unchanged / new / missing against an earlier capture
pub mod groups; // folded groups per step and their panel
pub mod matrix; // targets × steps → stream
pub mod search; // text in the output, scanned a budget at a time

use crate::tui::action::Cmd;
use crate::tui::theme::Theme;
use cells::{CellState, CompactSize, StatusCache};
use compare::{CompareView, Compared};
use crossterm::event::{KeyCode, KeyEvent};
use groups::FoldView;
use matrix::Matrix;
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::Style,
    text::{Line, Span},
};
use search::TextSearch;
use std::sync::Arc;

/// What the screen must do after an overview command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverviewEvent {
    /// Open this stream's pane, zoomed.
    Open(usize),
    /// Show the diff of stream `a` (the reference) against stream `b`.
    Diff { a: usize, b: usize },
    /// Show the diff of a stream against the earlier capture's same target and step.
    BaselineDiff(usize),
    /// A line for the status bar.
    Message(String),
}

/// Cursor, scroll, filters and mark of the overview.
#[derive(Debug, Clone)]
pub struct OverviewState {
    pub matrix: Matrix,
    pub cache: StatusCache,
    /// Cursor: an index into the visible rows and columns.
    pub row: usize,
    pub col: usize,
    top: usize,
    left: usize,
    pub problems: bool,
    /// Index into `matrix.tags`.
    pub tag: Option<usize>,
    /// A matrix column: only that step is shown.
    pub step: Option<usize>,
    pub search: Option<TextSearch>,
    /// The text filter being typed.
    pub typing: Option<String>,
    pub fold: Option<Arc<FoldView>>,
    /// The comparison with an earlier capture (replay's "compare with…").
    pub compare: Option<Arc<CompareView>>,
    /// A stream marked to diff against another.
    pub marked: Option<usize>,
    visible_rows: Vec<u32>,
    visible_cols: Vec<u32>,
    dirty: bool,
    /// Where the matrix (headers included) was last drawn, for the mouse.
    pub area: Rect,
    name_width: u16,
    col_width: u16,
}

/// Columns of the target names, at most.
const MAX_NAME: usize = 24;

impl OverviewState {
    pub fn new(matrix: Matrix) -> OverviewState {
        let name_width = matrix
            .rows
            .iter()
            .map(|r| r.name.chars().count())
            .max()
            .unwrap_or(6)
            .clamp(6, MAX_NAME) as u16;
        let col_width = matrix
            .cols
            .iter()
            .map(|c| c.label.chars().count() + 1)
            .max()
            .unwrap_or(8)
            .clamp(8, 14) as u16;
        let mut state = OverviewState {
            cache: StatusCache::new(matrix.streams()),
            matrix,
            row: 0,
            col: 0,
            top: 0,
            left: 0,
            problems: false,
            tag: None,
            step: None,
            search: None,
            typing: None,
            fold: None,
            compare: None,
            marked: None,
            visible_rows: Vec::new(),
            visible_cols: Vec::new(),
            dirty: true,
            area: Rect::default(),
            name_width,
            col_width,
        };
        state.apply_filters();
        state
    }

    /// Where the first step column starts in an area (after the target names and a gap).
    fn columns_x(&self, area: Rect) -> u16 {
        area.x + self.name_width.min(area.width / 3) + 2
    }

    /// Re-reads the streams that can still change; filters follow when a status changed.
    pub fn refresh(&mut self, read: &mut dyn FnMut(usize) -> CellState) {
        if self.cache.refresh(read) && self.problems {
            self.dirty = true;
        }
        self.apply_filters();
    }

    /// New folded groups (from the fold job).
    pub fn set_fold(&mut self, fold: Arc<FoldView>) {
        self.fold = Some(fold);
        self.apply_filters();
    }

    pub fn text_mode(&self) -> bool {
        self.typing.is_some()
    }

    /// True while the text search has streams left to scan.
    pub fn searching(&self) -> bool {
        self.search.as_ref().is_some_and(|s| !s.complete())
    }

    /// Any filter on.
    pub fn filtered(&self) -> bool {
        self.problems || self.tag.is_some() || self.step.is_some() || self.search.is_some()
    }

    /// Runs the text search a budget further; `holds(stream, matcher)` scans one stream.
    pub fn scan(
        &mut self,
        again: bool,
        holds: &mut dyn FnMut(usize, &aho_corasick::AhoCorasick) -> bool,
    ) {
        if let Some(search) = self.search.as_mut()
            && search.step(search::SCAN_BUDGET, again, holds)
        {
            self.dirty = true;
        }
        self.apply_filters();
    }

    /// Marks the filters for recomputation (the text search was restarted, a re-run…).
    pub fn touch(&mut self) {
        self.dirty = true;
    }

    fn row_shown(&self, row: usize) -> bool {
        let m = &self.matrix;
        if let Some(tag) = self.tag
            && !m.rows[row].tags.contains(&(tag as u16))
        {
            return false;
        }
        let mut any = false;
        for &col in &self.visible_cols {
            let Some(stream) = m.stream(row, col as usize) else {
                continue;
            };
            if self.problems && !self.cache.get(stream).status.problem() {
                continue;
            }
            if let Some(search) = &self.search
                && !search.matches.get(stream).copied().unwrap_or(false)
            {
                continue;
            }
            any = true;
            break;
        }
        any
    }

    /// Recomputes the visible rows and columns (reusing their vectors) and keeps the cursor
    /// on the same stream when it is still shown.
    pub fn apply_filters(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let keep = self.cursor_stream();
        self.visible_cols.clear();
        match self.step {
            Some(col) => self.visible_cols.push(col as u32),
            None => self.visible_cols.extend(0..self.matrix.cols.len() as u32),
        }
        let mut rows = std::mem::take(&mut self.visible_rows);
        rows.clear();
        rows.extend((0..self.matrix.rows.len() as u32).filter(|r| self.row_shown(*r as usize)));
        self.visible_rows = rows;
        if let Some((row, col)) = keep.and_then(|s| self.matrix.place(s)) {
            if let Some(r) = self.visible_rows.iter().position(|r| *r as usize == row) {
                self.row = r;
            }
            if let Some(c) = self.visible_cols.iter().position(|c| *c as usize == col) {
                self.col = c;
            }
        }
        self.row = self.row.min(self.visible_rows.len().saturating_sub(1));
        self.col = self.col.min(self.visible_cols.len().saturating_sub(1));
    }

    /// Targets shown by the filters.
    pub fn shown_rows(&self) -> usize {
        self.visible_rows.len()
    }

    /// Matrix (row, column) under the cursor.
    pub fn cursor(&self) -> Option<(usize, usize)> {
        Some((
            *self.visible_rows.get(self.row)? as usize,
            *self.visible_cols.get(self.col)? as usize,
        ))
    }

    pub fn cursor_stream(&self) -> Option<usize> {
        self.cursor().and_then(|(r, c)| self.matrix.stream(r, c))
    }

    /// Puts the cursor on a stream (clearing filters that hide it).
    pub fn select_stream(&mut self, stream: usize) {
        let Some((row, col)) = self.matrix.place(stream) else {
            return;
        };
        self.apply_filters();
        if !self.visible_rows.contains(&(row as u32)) || !self.visible_cols.contains(&(col as u32))
        {
            self.problems = false;
            self.tag = None;
            self.step = None;
            self.search = None;
            self.dirty = true;
            self.apply_filters();
        }
        if let Some(r) = self.visible_rows.iter().position(|r| *r as usize == row) {
            self.row = r;
        }
        if let Some(c) = self.visible_cols.iter().position(|c| *c as usize == col) {
            self.col = c;
        }
    }

    fn page(&self) -> usize {
        (self.area.height as usize).saturating_sub(1).max(1)
    }

    /// Handles an overview command; `None` when the command is not the overview's.
    pub fn command(&mut self, cmd: Cmd) -> Option<Option<OverviewEvent>> {
        self.apply_filters();
        let rows = self.visible_rows.len();
        let cols = self.visible_cols.len();
        let page = self.page();
        match cmd {
            Cmd::Up => self.row = self.row.saturating_sub(1),
            Cmd::Down => self.row = (self.row + 1).min(rows.saturating_sub(1)),
            Cmd::PageUp => self.row = self.row.saturating_sub(page),
            Cmd::PageDown => self.row = (self.row + page).min(rows.saturating_sub(1)),
            Cmd::Top => self.row = 0,
            Cmd::Bottom => self.row = rows.saturating_sub(1),
            Cmd::Left | Cmd::PrevFocus => self.col = self.col.saturating_sub(1),
            Cmd::Right | Cmd::NextFocus => self.col = (self.col + 1).min(cols.saturating_sub(1)),
            Cmd::Zoom | Cmd::Select => {
                return Some(match self.cursor_stream() {
                    Some(stream) => Some(OverviewEvent::Open(stream)),
                    None => Some(OverviewEvent::Message(
                        "this step does not run on this target".into(),
                    )),
                });
            }
            Cmd::ProblemsOnly => {
                self.problems = !self.problems;
                self.dirty = true;
            }
            Cmd::TagFilter => {
                if self.matrix.tags.is_empty() {
                    return Some(Some(OverviewEvent::Message("no target has tags".into())));
                }
                self.tag = match self.tag {
                    None => Some(0),
                    Some(t) if t + 1 < self.matrix.tags.len() => Some(t + 1),
                    Some(_) => None,
                };
                self.dirty = true;
            }
            Cmd::StepFilter => {
                self.step = match self.step {
                    Some(_) => None,
                    None => self.cursor().map(|(_, c)| c),
                };
                self.dirty = true;
            }
            Cmd::Search => self.typing = Some(String::new()),
            Cmd::Mark => {
                let stream = self.cursor_stream()?;
                self.marked = if self.marked == Some(stream) {
                    None
                } else {
                    Some(stream)
                };
            }
            Cmd::Diff => return Some(Some(self.diff_pair())),
            _ => return None,
        }
        Some(None)
    }

    /// The diff for the cursor: against the marked stream when there is one (same step), else
    /// the cursor's stream against its step's largest group.
    fn diff_pair(&self) -> OverviewEvent {
        let Some(b) = self.cursor_stream() else {
            return OverviewEvent::Message("no stream here".into());
        };
        let col = self.matrix.place(b).map(|p| p.1).unwrap_or(0);
        if let Some(compare) = &self.compare
            && self.marked.is_none()
        {
            return match compare.get(b) {
                Some(Compared::Changed) => OverviewEvent::BaselineDiff(b),
                Some(Compared::Unchanged) => {
                    OverviewEvent::Message(format!("unchanged since {}", compare.baseline))
                }
                _ => OverviewEvent::Message(format!("not in {}", compare.baseline)),
            };
        }
        if let Some(a) = self.marked.filter(|a| *a != b) {
            if self.matrix.place(a).map(|p| p.1) != Some(col) {
                return OverviewEvent::Message(
                    "the marked stream is another step: diff compares two streams of one step"
                        .into(),
                );
            }
            return OverviewEvent::Diff { a, b };
        }
        let Some(fold) = &self.fold else {
            return OverviewEvent::Message(
                "not folded yet: m marks a stream, then d on another diffs them".into(),
            );
        };
        match fold.largest(col) {
            Some(largest) if !largest.streams.contains(&(b as u32)) => OverviewEvent::Diff {
                a: largest.streams[0] as usize,
                b,
            },
            Some(_) => OverviewEvent::Message(
                "this stream is in its step's largest group: m marks it, d on another diffs".into(),
            ),
            None => OverviewEvent::Message("this step has no finished streams yet".into()),
        }
    }

    /// A key while the text filter is typed.
    pub fn key(&mut self, key: KeyEvent) {
        let Some(query) = self.typing.as_mut() else {
            return;
        };
        match key.code {
            KeyCode::Esc => self.typing = None,
            KeyCode::Enter => {
                let query = self.typing.take().unwrap_or_default();
                self.search = if query.is_empty() {
                    None
                } else {
                    Some(TextSearch::new(&query, self.matrix.streams()))
                };
                self.dirty = true;
            }
            KeyCode::Backspace => {
                query.pop();
            }
            KeyCode::Char(c) => query.push(c),
            _ => {}
        }
        self.apply_filters();
    }

    /// Esc: closes what is open, innermost first; false when there was nothing to close.
    pub fn back(&mut self) -> bool {
        if self.marked.take().is_some() {
            return true;
        }
        if self.filtered() {
            self.problems = false;
            self.tag = None;
            self.step = None;
            self.search = None;
            self.dirty = true;
            self.apply_filters();
            return true;
        }
        false
    }

    /// A click: moves the cursor; a click on the cursor's cell opens it.
    pub fn click(&mut self, column: u16, row: u16) -> Option<OverviewEvent> {
        let a = self.area;
        if !a.contains((column, row).into()) || row == a.y {
            return None;
        }
        let r = self.top + (row - a.y - 1) as usize;
        let x0 = self.columns_x(a);
        if r >= self.visible_rows.len() {
            return None;
        }
        let c = if column < x0 {
            self.col
        } else {
            self.left + ((column - x0) / self.col_width) as usize
        };
        if c >= self.visible_cols.len() {
            return None;
        }
        if (r, c) == (self.row, self.col) {
            return self.cursor_stream().map(OverviewEvent::Open);
        }
        self.row = r;
        self.col = c;
        None
    }

    /// The mouse wheel: moves the cursor by rows.
    pub fn wheel(&mut self, lines: i32) {
        let rows = self.visible_rows.len();
        self.row =
            (self.row as i64 + lines as i64 * 3).clamp(0, rows.saturating_sub(1) as i64) as usize;
    }

    /// Draws the info line, the matrix and the groups panel of the cursor's step.
    pub fn render(&mut self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        self.apply_filters();
        if area.height < 3 || area.width < 20 {
            return;
        }
        let cursor_col = self.cursor().map(|(_, c)| c);
        let groups = cursor_col
            .and_then(|c| self.fold.as_ref()?.steps.get(c))
            .map(|s| s.groups.len())
            .unwrap_or(0);
        let panel = if groups > 0 && area.height >= 14 {
            groups::panel_height(groups)
        } else {
            0
        };
        let info = Rect::new(area.x, area.y, area.width, 1);
        let matrix = Rect::new(area.x, area.y + 1, area.width, area.height - 1 - panel);
        self.area = matrix;
        self.render_info(info, buf, theme);
        self.render_matrix(matrix, buf, theme);
        if panel > 0
            && let (Some(fold), Some(col)) = (self.fold.as_ref(), cursor_col)
        {
            let rect = Rect::new(area.x, matrix.bottom(), area.width, panel);
            groups::render_panel(
                fold,
                col,
                &self.matrix.step_name(col),
                self.cursor_stream(),
                rect,
                buf,
                theme,
            );
        }
    }

    fn render_info(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let mut spans: Vec<Span> = Vec::new();
        if let Some(query) = &self.typing {
            spans.push(Span::styled(" text in the output: ", theme.accent));
            spans.push(Span::styled(format!("{query}▏"), theme.input));
            buf.set_line(area.x, area.y, &Line::from(spans), area.width);
            return;
        }
        match (self.cursor(), self.cursor_stream()) {
            (Some((row, col)), Some(stream)) => {
                let cell = self.cache.get(stream);
                spans.push(Span::styled(
                    format!(
                        " {} · {} ",
                        crate::sanitize::text(&self.matrix.rows[row].name),
                        crate::sanitize::text(&self.matrix.step_name(col))
                    ),
                    theme.title,
                ));
                spans.push(Span::styled(
                    format!("{} {} ", cell.status.glyph(), cell.status.label()),
                    cell.status.style(theme),
                ));
                spans.push(Span::styled(
                    format!("{} ", crate::model::size::human_bytes(cell.bytes)),
                    theme.muted,
                ));
                if let Some(fold) = &self.fold
                    && let Some((g, group)) = fold.group(col, stream)
                {
                    let total = fold.steps.get(col).map(|s| s.groups.len()).unwrap_or(0);
                    let text = format!("· group {}/{total} of {} ", g + 1, group.streams.len());
                    spans.push(Span::styled(text, theme.muted));
                    if group.outlier {
                        spans.push(Span::styled(" odd one out ", theme.error_line));
                        spans.push(Span::raw(" "));
                    }
                }
                if self.marked == Some(stream) {
                    spans.push(Span::styled("· marked ", theme.checked));
                }
                if let Some(compare) = &self.compare {
                    let change = compare.get(stream).unwrap_or(Compared::New);
                    let mut text = format!("· {} ", change.label());
                    if let Some(differs) = compare.differs.get(stream).filter(|d| !d.is_empty()) {
                        text = format!("· changed: {} ", differs.join(", "));
                    }
                    spans.push(Span::styled(text, change.style(theme)));
                }
            }
            _ => spans.push(Span::styled(" no stream here ", theme.muted)),
        }
        let mut filters: Vec<String> = Vec::new();
        if self.problems {
            filters.push("problems".into());
        }
        if let Some(tag) = self.tag.and_then(|t| self.matrix.tags.get(t)) {
            filters.push(format!("tag {}", crate::sanitize::text(tag)));
        }
        if let Some(col) = self.step {
            filters.push(format!("step {}", self.matrix.cols[col].label));
        }
        if let Some(search) = &self.search {
            let state = if search.complete() {
                format!("{} found", search.matched())
            } else {
                format!("searching {}/{}", search.scanned(), self.matrix.streams())
            };
            filters.push(format!("/{} {state}", crate::sanitize::text(&search.query)));
        }
        let shown = format!(
            " {}/{} targets ",
            self.visible_rows.len(),
            self.matrix.rows.len()
        );
        let right = |filters: &[String]| {
            if filters.is_empty() {
                shown.clone()
            } else {
                format!(" [{}]{shown}", filters.join(" · "))
            }
        };
        let line = Line::from(spans);
        let left = line.width() as u16;
        buf.set_line(area.x, area.y, &line, area.width);
        // The right end takes what the cursor's description leaves: the comparison's summary
        // first goes (the footer shows it too), then the filters.
        let mut with_compare = filters.clone();
        if let Some(compare) = &self.compare {
            with_compare.push(compare.summary());
        }
        let fits = |text: &String| (text.chars().count() as u16) < area.width.saturating_sub(left);
        let text = [right(&with_compare), right(&filters), shown.clone()]
            .into_iter()
            .find(fits);
        if let Some(text) = text {
            let width = text.chars().count() as u16;
            buf.set_string(
                area.right() - width,
                area.y,
                &text,
                if self.filtered() {
                    theme.accent
                } else {
                    theme.muted
                },
            );
        }
    }

    fn render_matrix(&mut self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let name_w = self.name_width.min(area.width / 3);
        let x0 = self.columns_x(area);
        let col_w = self.col_width;
        let cols_fit = ((area.right().saturating_sub(x0)) / col_w).max(1) as usize;
        let rows_fit = (area.height as usize).saturating_sub(1).max(1);
        // Scroll so the cursor stays visible.
        if self.row < self.top {
            self.top = self.row;
        } else if self.row >= self.top + rows_fit {
            self.top = self.row + 1 - rows_fit;
        }
        if self.col < self.left {
            self.left = self.col;
        } else if self.col >= self.left + cols_fit {
            self.left = self.col + 1 - cols_fit;
        }
        // Header: the steps.
        let more_left = if self.left > 0 { "◂" } else { " " };
        buf.set_string(area.x, area.y, more_left, theme.muted);
        buf.set_stringn(area.x + 1, area.y, "target", name_w as usize, theme.header);
        let last_col = (self.left + cols_fit).min(self.visible_cols.len());
        for (i, &col) in self.visible_cols[self.left..last_col].iter().enumerate() {
            let x = x0 + i as u16 * col_w;
            let style = if self.left + i == self.col {
                theme.accent
            } else {
                theme.header
            };
            let label = &self.matrix.cols[col as usize].label;
            buf.set_stringn(x, area.y, label, col_w as usize - 1, style);
        }
        if last_col < self.visible_cols.len() {
            buf.set_string(area.right() - 1, area.y, "▸", theme.muted);
        }
        if self.visible_rows.is_empty() {
            let text = if self.searching() {
                " searching…"
            } else {
                " no target matches the filters (esc clears them)"
            };
            buf.set_string(area.x, area.y + 1, text, theme.muted);
            return;
        }
        let fold = self.fold.as_deref();
        let last_row = (self.top + rows_fit).min(self.visible_rows.len());
        for (i, &row) in self.visible_rows[self.top..last_row].iter().enumerate() {
            let y = area.y + 1 + i as u16;
            let row = row as usize;
            let focused_row = self.top + i == self.row;
            let name_style = if focused_row {
                theme.accent
            } else {
                theme.text()
            };
            buf.set_stringn(
                area.x + 1,
                y,
                &self.matrix.rows[row].name,
                name_w as usize,
                name_style,
            );
            for (j, &col) in self.visible_cols[self.left..last_col].iter().enumerate() {
                let Some(stream) = self.matrix.stream(row, col as usize) else {
                    continue;
                };
                let x = x0 + j as u16 * col_w;
                let cell = self.cache.get(stream);
                let matched = self
                    .search
                    .as_ref()
                    .is_some_and(|s| s.matches.get(stream).copied().unwrap_or(false));
                let odd = fold.is_some_and(|f| f.is_outlier(stream));
                let size_style = if matched {
                    theme.search_match
                } else {
                    theme.muted
                };
                buf.set_string(x, y, cell.status.glyph(), cell.status.style(theme));
                match self
                    .compare
                    .as_ref()
                    .map(|c| c.get(stream).unwrap_or(Compared::New))
                {
                    Some(change) => buf.set_stringn(
                        x + 2,
                        y,
                        change.word(),
                        col_w as usize - 3,
                        change.style(theme),
                    ),
                    None => buf.set_stringn(
                        x + 2,
                        y,
                        CompactSize::new(cell.bytes).as_str(),
                        col_w as usize - 3,
                        size_style,
                    ),
                };
                let cell_rect = Rect::new(x, y, col_w - 1, 1).intersection(area);
                if odd {
                    buf.set_style(cell_rect, bg_only(theme.error_line));
                }
                if self.marked == Some(stream) {
                    buf.set_string(x + col_w - 1, y, "◂", theme.checked);
                }
                if focused_row && self.left + j == self.col {
                    buf.set_style(cell_rect, theme.selected);
                }
            }
        }
    }
}

/// A highlight that keeps the cell's foreground (its status colour) and adds a background.
fn bg_only(style: Style) -> Style {
    Style { fg: None, ..style }
}

#[cfg(test)]
mod tests {
    use super::cells::CellStatus;
    use super::groups::{GroupView, StepGroups};
    use super::matrix::StreamKey;
    use super::*;
    use crate::model::Target;

    /// 6 targets (t0…t5; even ones tagged `even`) × steps a, b, c.
    fn state() -> OverviewState {
        let targets: Vec<Target> = (0..6)
            .map(|i| {
                let mut t = Target::local();
                t.name = format!("t{i}");
                if i % 2 == 0 {
                    t.tags = vec!["even".into()];
                }
                t
            })
            .collect();
        let keys: Vec<(usize, &str)> = (0..6)
            .flat_map(|t| ["a", "b", "c"].into_iter().map(move |s| (t, s)))
            .collect();
        let matrix = Matrix::build(
            &targets,
            keys.iter().map(|(t, s)| StreamKey {
                target: *t,
                preset: "p",
                step: s,
            }),
        );
        let mut o = OverviewState::new(matrix);
        // Stream 3k+j is target k, step j. t1/b failed, t4/c exited 1, t5 still runs.
        o.refresh(&mut |s| CellState {
            status: match s {
                4 => CellStatus::Failed,
                14 => CellStatus::NonZero,
                15..=17 => CellStatus::Running,
                _ => CellStatus::Ok,
            },
            bytes: s as u64 * 100,
        });
        o.area = Rect::new(0, 1, 80, 20);
        o
    }

    fn rows(o: &mut OverviewState) -> Vec<String> {
        o.apply_filters();
        o.visible_rows
            .iter()
            .map(|r| o.matrix.rows[*r as usize].name.clone())
            .collect()
    }

    #[test]
    fn keys_move_the_cursor_and_enter_opens_its_stream() {
        let mut o = state();
        assert_eq!(o.cursor_stream(), Some(0));
        o.command(Cmd::Down);
        o.command(Cmd::Right);
        assert_eq!(o.cursor_stream(), Some(4), "t1 / b");
        assert_eq!(o.command(Cmd::Zoom), Some(Some(OverviewEvent::Open(4))));
        o.command(Cmd::Bottom);
        o.command(Cmd::Right);
        o.command(Cmd::Right);
        assert_eq!(o.cursor_stream(), Some(17), "clamped at the last cell");
        o.command(Cmd::Top);
        assert_eq!(o.cursor(), Some((0, 2)));
        assert_eq!(o.command(Cmd::Quit), None, "not an overview command");
    }

    #[test]
    fn filters_problems_tag_step_and_back_clears_them() {
        let mut o = state();
        o.command(Cmd::Down);
        o.command(Cmd::Right);
        o.command(Cmd::ProblemsOnly);
        assert_eq!(rows(&mut o), ["t1", "t4"]);
        assert_eq!(o.cursor_stream(), Some(4), "the cursor stays on its stream");
        o.command(Cmd::TagFilter);
        assert_eq!(rows(&mut o), ["t4"], "problems and tag `even`");
        o.command(Cmd::TagFilter);
        assert_eq!(o.tag, None, "one tag: the next press turns it off");
        o.command(Cmd::ProblemsOnly);
        o.command(Cmd::StepFilter);
        assert_eq!(o.step, Some(1));
        o.command(Cmd::Right);
        assert_eq!(o.cursor().map(|c| c.1), Some(1), "one column shown");
        assert!(o.back());
        assert!(!o.filtered());
        assert!(!o.back(), "nothing left to close");
        assert_eq!(rows(&mut o).len(), 6);
    }

    #[test]
    fn problems_follow_statuses_as_they_change() {
        let mut o = state();
        o.command(Cmd::ProblemsOnly);
        assert_eq!(rows(&mut o), ["t1", "t4"]);
        o.refresh(&mut |s| CellState {
            status: if s == 16 {
                CellStatus::TimedOut
            } else {
                CellStatus::Ok
            },
            bytes: 0,
        });
        assert_eq!(rows(&mut o), ["t1", "t4", "t5"]);
    }

    #[test]
    fn text_filter_is_typed_then_scanned_incrementally() {
        let mut o = state();
        o.command(Cmd::Search);
        assert!(o.text_mode());
        for c in "FAULT".chars() {
            o.key(KeyEvent::from(KeyCode::Char(c)));
        }
        o.key(KeyEvent::from(KeyCode::Enter));
        assert!(!o.text_mode());
        assert!(o.searching());
        let outputs: Vec<&[u8]> = (0..18)
            .map(|s| {
                if s == 7 || s == 11 {
                    &b"segfault"[..]
                } else {
                    b"fine"
                }
            })
            .collect();
        o.scan(false, &mut |s, m| m.is_match(outputs[s]));
        assert!(!o.searching());
        assert_eq!(rows(&mut o), ["t2", "t3"]);
        assert!(o.back());
        assert_eq!(rows(&mut o).len(), 6);
    }

    #[test]
    fn diff_uses_the_mark_else_the_largest_group() {
        let mut o = state();
        assert!(matches!(
            o.command(Cmd::Diff),
            Some(Some(OverviewEvent::Message(_)))
        ));
        // Step a: t0..t4 alike, t5 the odd one out.
        let mut fold = FoldView {
            steps: vec![StepGroups {
                groups: vec![
                    GroupView {
                        streams: vec![0, 3, 6, 9, 12],
                        targets: "t[0-4]".into(),
                        bytes: 10,
                        outlier: false,
                    },
                    GroupView {
                        streams: vec![15],
                        targets: "t5".into(),
                        bytes: 12,
                        outlier: true,
                    },
                ],
            }],
            ..Default::default()
        };
        fold.index(18);
        o.set_fold(Arc::new(fold));
        o.command(Cmd::Bottom);
        assert_eq!(
            o.command(Cmd::Diff),
            Some(Some(OverviewEvent::Diff { a: 0, b: 15 })),
            "the outlier against the majority's first stream"
        );
        o.command(Cmd::Mark);
        assert_eq!(o.marked, Some(15));
        o.command(Cmd::Up);
        assert_eq!(
            o.command(Cmd::Diff),
            Some(Some(OverviewEvent::Diff { a: 15, b: 12 }))
        );
        o.command(Cmd::Right);
        assert!(
            matches!(o.command(Cmd::Diff), Some(Some(OverviewEvent::Message(m))) if m.contains("another step"))
        );
    }

    #[test]
    fn clicks_move_then_open() {
        let mut o = state();
        let mut buf = Buffer::empty(Rect::new(0, 0, 80, 21));
        o.render(Rect::new(0, 0, 80, 21), &mut buf, &Theme::dark());
        // Row 2 of the matrix (t2), second column (b).
        let x = o.columns_x(o.area) + o.col_width + 1;
        let y = o.area.y + 3;
        assert_eq!(o.click(x, y), None);
        assert_eq!(o.cursor_stream(), Some(7));
        assert_eq!(o.click(x, y), Some(OverviewEvent::Open(7)));
        assert_eq!(o.click(x, o.area.y), None, "the header row");
    }
}
