//! "Compare with…": the replayed capture against an earlier one, per target and step. The
//! comparison is made off the UI loop (`tui::fleet_jobs`, with the `fleet` baseline); the
//! overview shows each cell's change instead of its size and lists what is missing.
use crate::tui::theme::Theme;
use ratatui::style::Style;
use std::path::PathBuf;

/// How a stream of the replayed capture compares with the earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compared {
    Unchanged,
    Changed,
    /// Not in the earlier capture.
    New,
}

impl Compared {
    /// The word a cell shows (at most 4 columns).
    pub fn word(self) -> &'static str {
        match self {
            Compared::Unchanged => "same",
            Compared::Changed => "chg",
            Compared::New => "new",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Compared::Unchanged => "unchanged",
            Compared::Changed => "changed",
            Compared::New => "new",
        }
    }

    pub fn style(self, theme: &Theme) -> Style {
        match self {
            Compared::Unchanged => theme.muted,
            Compared::Changed => theme.warn,
            Compared::New => theme.ok,
        }
    }
}

/// The comparison with an earlier capture.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompareView {
    /// The earlier capture's id (folder name).
    pub baseline: String,
    /// Its folder (diffs read the old stream there).
    pub dir: PathBuf,
    /// Per stream of the replayed capture: its change and the old stream's index.
    pub streams: Vec<Option<(Compared, Option<usize>)>>,
    /// What differs, per changed stream (`stdout`, `exit code`…).
    pub differs: Vec<Vec<&'static str>>,
    /// `target · preset/step` of streams only the earlier capture has.
    pub missing: Vec<String>,
}

impl CompareView {
    pub fn get(&self, stream: usize) -> Option<Compared> {
        self.streams.get(stream).copied().flatten().map(|(c, _)| c)
    }

    /// The old stream matched with `stream`.
    pub fn old_of(&self, stream: usize) -> Option<usize> {
        self.streams
            .get(stream)
            .copied()
            .flatten()
            .and_then(|(_, o)| o)
    }

    pub fn count(&self, change: Compared) -> usize {
        self.streams
            .iter()
            .filter(|s| s.map(|(c, _)| c) == Some(change))
            .count()
    }

    /// `compared with ID: 2 changed · 40 unchanged · 1 new · 1 missing`.
    pub fn summary(&self) -> String {
        format!(
            "compared with {}: {} changed · {} unchanged · {} new · {} missing",
            self.baseline,
            self.count(Compared::Changed),
            self.count(Compared::Unchanged),
            self.count(Compared::New),
            self.missing.len()
        )
    }
}

/// "Compare with…": the recent captures offered, one selected.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselinePicker {
    pub captures: Vec<crate::incidents::RecentCapture>,
    pub selected: usize,
}

impl BaselinePicker {
    /// A centred list over `area`: id, incident, streams and failures of each capture.
    pub fn render(
        &self,
        area: ratatui::layout::Rect,
        buf: &mut ratatui::buffer::Buffer,
        theme: &Theme,
    ) {
        use ratatui::text::{Line, Span};
        use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget};
        let height = (self.captures.len() as u16 + 2)
            .min(area.height.saturating_sub(2))
            .max(3);
        let rect = crate::tui::widgets::centered(area, 76, height);
        let rows = rect.height.saturating_sub(2) as usize;
        let first = (self.selected + 1).saturating_sub(rows);
        let lines: Vec<Line> = self
            .captures
            .iter()
            .enumerate()
            .skip(first)
            .take(rows)
            .map(|(i, c)| {
                let line = Line::from(vec![
                    Span::styled(
                        format!(" {:<34}", crate::sanitize::text(&c.id)),
                        theme.text(),
                    ),
                    Span::styled(
                        format!(
                            "{:<10}",
                            crate::sanitize::text(c.incident.as_deref().unwrap_or("ad hoc"))
                        ),
                        theme.muted,
                    ),
                    Span::styled(
                        format!("{} streams, {} failed", c.streams, c.failed),
                        theme.muted,
                    ),
                ]);
                if i == self.selected {
                    crate::tui::widgets::selected_line(line, theme.selected)
                } else {
                    line
                }
            })
            .collect();
        Clear.render(rect, buf);
        Paragraph::new(lines)
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_type(BorderType::Rounded)
                    .border_style(theme.border_focus)
                    .style(theme.dialog)
                    .title(Span::styled(
                        " compare with… (enter picks, esc closes) ",
                        theme.title,
                    )),
            )
            .render(rect, buf);
    }
}
