//! Export: where the snapshot is and where it can go. The local folder always exists; S3, the
//! incident note and the archive appear here when the export module is wired in.
use crate::model::size::human_bytes;
use crate::snapshot::{CaptureState, Manifest};
use crate::tui::action::{Action, Cmd, Effect};
use crate::tui::theme::Theme;
use ratatui::{
    buffer::Buffer,
    layout::{Constraint, Layout, Rect},
    text::{Line, Span},
    widgets::{Block, BorderType, Borders, Paragraph, Widget, Wrap},
};
use std::path::PathBuf;

/// One place a snapshot can be exported to, and how far that got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub name: String,
    pub state: DestinationState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestinationState {
    Done { link: String },
    NotConfigured { hint: String },
    InProgress { percent: u8 },
    Failed { reason: String },
}

/// State of the export screen.
#[derive(Debug, Clone)]
pub struct ExportState {
    pub dir: PathBuf,
    pub manifest: Option<Manifest>,
    pub destinations: Vec<Destination>,
    pub cursor: usize,
}

impl ExportState {
    pub const COMMANDS: &'static [Cmd] = &[Cmd::Up, Cmd::Down, Cmd::Back];

    /// The export module replaces `destinations` with its own list (wiring point for the lead).
    pub fn new(dir: PathBuf, manifest: Option<Manifest>) -> ExportState {
        let destinations = vec![
            Destination {
                name: "Local folder".into(),
                state: DestinationState::Done {
                    link: dir.display().to_string(),
                },
            },
            Destination {
                name: "S3/PagerDuty export".into(),
                state: DestinationState::NotConfigured {
                    hint: "not configured (arrives with the export module)".into(),
                },
            },
        ];
        ExportState {
            dir,
            manifest,
            destinations,
            cursor: 0,
        }
    }

    pub fn update(&mut self, action: Action) -> Option<Effect> {
        match action {
            Action::Cmd(Cmd::Up) => self.cursor = self.cursor.saturating_sub(1),
            Action::Cmd(Cmd::Down) => {
                self.cursor = (self.cursor + 1).min(self.destinations.len().saturating_sub(1))
            }
            Action::Cmd(Cmd::Back) => return Some(Effect::Back),
            Action::Cmd(Cmd::Quit) => return Some(Effect::Quit),
            _ => {}
        }
        None
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let [summary_area, dest_area] =
            Layout::vertical([Constraint::Length(9), Constraint::Fill(1)]).areas(area);
        let mut lines = vec![Line::from(vec![
            Span::styled(" folder    ", theme.muted),
            Span::styled(self.dir.display().to_string(), theme.accent),
        ])];
        if let Some(m) = &self.manifest {
            let bytes: u64 = m
                .streams
                .iter()
                .map(|s| s.result.stdout.bytes + s.result.stderr.bytes)
                .sum();
            let failed = m.failures().count();
            let state = match m.state {
                CaptureState::Complete => Span::styled("complete", theme.ok),
                CaptureState::Cancelled => Span::styled("cancelled", theme.warn),
                CaptureState::Running => Span::styled("running", theme.running),
                CaptureState::Interrupted => Span::styled("interrupted", theme.error),
            };
            lines.push(Line::from(vec![
                Span::styled(" state     ", theme.muted),
                state,
            ]));
            lines.push(Line::from(vec![
                Span::styled(" incident  ", theme.muted),
                Span::styled(
                    m.incident
                        .as_ref()
                        .map(|i| format!("{} {}", i.id, i.title.as_deref().unwrap_or("")))
                        .unwrap_or_else(|| "none (ad hoc)".into()),
                    theme.text(),
                ),
            ]));
            lines.push(Line::from(vec![
                Span::styled(" streams   ", theme.muted),
                Span::styled(
                    format!("{} ({} did not run to the end)", m.streams.len(), failed),
                    if failed > 0 { theme.warn } else { theme.text() },
                ),
            ]));
            lines.push(Line::from(vec![
                Span::styled(" size      ", theme.muted),
                Span::styled(human_bytes(bytes), theme.text()),
            ]));
            lines.push(Line::from(vec![
                Span::styled(" operator  ", theme.muted),
                Span::styled(m.operator.clone(), theme.text()),
            ]));
            lines.push(Line::from(vec![
                Span::styled(" check     ", theme.muted),
                Span::styled(
                    format!("casefile show {}", self.dir.display()),
                    theme.text(),
                ),
            ]));
        }
        let block = Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Rounded)
            .border_style(theme.border)
            .title(Span::styled(" Snapshot ", theme.title));
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block)
            .render(summary_area, buf);

        let lines: Vec<Line> = self
            .destinations
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let (icon, text, style) = match &d.state {
                    DestinationState::Done { link } => ("✓", link.clone(), theme.ok),
                    DestinationState::NotConfigured { hint } => ("○", hint.clone(), theme.muted),
                    DestinationState::InProgress { percent } => {
                        ("●", format!("{percent}%"), theme.running)
                    }
                    DestinationState::Failed { reason } => ("✗", reason.clone(), theme.error),
                };
                let line = Line::from(vec![
                    Span::styled(format!(" {icon} "), style),
                    Span::styled(format!("{:<22}", d.name), theme.text()),
                    Span::styled(text, style),
                ]);
                if i == self.cursor {
                    crate::tui::widgets::selected_line(line, theme.selected)
                } else {
                    line
                }
            })
            .collect();
        let block = Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Rounded)
            .border_style(theme.border_focus)
            .title(Span::styled(" Destinations ", theme.accent));
        Paragraph::new(lines).block(block).render(dest_area, buf);
    }
}
