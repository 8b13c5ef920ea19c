//! Folded output per step, as the overview shows it: the groups of identical (or same-shape)
//! outputs, largest first, each with its targets compressed (`web[01-06,08-50]`), and which
//! streams are the odd ones out. Built off the UI loop (see `tui::fleet_jobs`) from the
//! `fleet` folder; the overview only reads it.
use super::cells::CompactSize;
use crate::tui::theme::Theme;
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    text::{Line, Span},
    widgets::{Block, BorderType, Borders, Widget},
};

/// Not in any group yet (still running, or not folded yet).
pub const UNGROUPED: u32 = u32::MAX;

/// Streams of one step with the same output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupView {
    /// Stream indices, in target order.
    pub streams: Vec<u32>,
    /// The targets, compressed (`web[01-06,08-50]`).
    pub targets: String,
    /// Output size of the group's representative stream.
    pub bytes: u64,
    /// A group under the outlier threshold (a singleton, typically).
    pub outlier: bool,
}

/// The groups of one step (one overview column), largest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepGroups {
    pub groups: Vec<GroupView>,
}

/// Every step's groups, and per stream its group and whether it is an odd one out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FoldView {
    /// Shape mode: volatile tokens (numbers, ids, times) were masked before comparing.
    pub shape: bool,
    /// Indexed by overview column.
    pub steps: Vec<StepGroups>,
    /// Per stream: its group's index in its step, or [`UNGROUPED`].
    pub group_of: Vec<u32>,
    /// Per stream: in an outlier group.
    pub outlier: Vec<bool>,
    /// Streams folded so far.
    pub folded: usize,
}

impl FoldView {
    /// Fills `group_of`/`outlier` from `steps`, for `streams` streams (`column` gives each
    /// group's column: its index in `steps`).
    pub fn index(&mut self, streams: usize) {
        self.group_of = vec![UNGROUPED; streams];
        self.outlier = vec![false; streams];
        self.folded = 0;
        for step in &self.steps {
            for (g, group) in step.groups.iter().enumerate() {
                for &s in &group.streams {
                    if let Some(slot) = self.group_of.get_mut(s as usize) {
                        *slot = g as u32;
                        self.outlier[s as usize] = group.outlier;
                        self.folded += 1;
                    }
                }
            }
        }
    }

    pub fn is_outlier(&self, stream: usize) -> bool {
        self.outlier.get(stream).copied().unwrap_or(false)
    }

    pub fn group(&self, col: usize, stream: usize) -> Option<(usize, &GroupView)> {
        let g = *self.group_of.get(stream)? as usize;
        self.steps.get(col)?.groups.get(g).map(|group| (g, group))
    }

    /// The largest group of a step (the majority an outlier is compared with).
    pub fn largest(&self, col: usize) -> Option<&GroupView> {
        self.steps.get(col)?.groups.first()
    }
}

/// Rows the groups panel wants for a step with `groups` groups (border included).
pub fn panel_height(groups: usize) -> u16 {
    (groups.min(6) as u16) + 2
}

/// The groups panel of one step: its groups, the one holding the cursor's stream highlighted.
pub fn render_panel(
    fold: &FoldView,
    col: usize,
    title: &str,
    cursor_stream: Option<usize>,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) {
    let Some(step) = fold.steps.get(col) else {
        return;
    };
    let odd = step.groups.iter().filter(|g| g.outlier).count();
    let mode = if fold.shape { "shape" } else { "exact" };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(theme.border)
        .title(Line::from(vec![
            Span::styled(format!(" groups · {title} "), theme.title),
            Span::styled(
                format!(
                    "· {mode} · {} group{} · {odd} odd ",
                    step.groups.len(),
                    if step.groups.len() == 1 { "" } else { "s" }
                ),
                theme.muted,
            ),
        ]));
    let inner = block.inner(area);
    block.render(area, buf);
    let current = cursor_stream.and_then(|s| fold.group_of.get(s)).copied();
    // Keep the cursor's group in view when there are more groups than rows.
    let rows = inner.height as usize;
    let first = match current {
        Some(g) if g != UNGROUPED && g as usize >= rows => g as usize + 1 - rows,
        _ => 0,
    };
    for (row, (g, group)) in step
        .groups
        .iter()
        .enumerate()
        .skip(first)
        .take(rows)
        .enumerate()
    {
        let y = inner.y + row as u16;
        let marker = if group.outlier {
            Span::styled("◆", theme.search_match)
        } else {
            Span::styled(" ", theme.text())
        };
        let count = group.streams.len();
        let line = Line::from(vec![
            marker,
            Span::styled(format!(" {count:>5} "), theme.accent),
            Span::styled(
                format!("{:>5} ", CompactSize::new(group.bytes).as_str()),
                theme.muted,
            ),
            Span::styled(
                crate::sanitize::text(&group.targets).into_owned(),
                if group.outlier {
                    theme.warn
                } else {
                    theme.text()
                },
            ),
        ]);
        buf.set_line(inner.x, y, &line, inner.width);
        if current == Some(g as u32) {
            buf.set_style(
                Rect::new(inner.x + 1, y, inner.width - 1, 1),
                theme.selected,
            );
        }
    }
}
