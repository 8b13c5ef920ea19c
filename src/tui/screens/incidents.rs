//! Incidents: pick what the capture is for (an incident, or "no incident (ad hoc)"), or open a
//! recent capture in replay. The rows come from `crate::incidents` (listed by the app, off its
//! loop); this screen only shows and filters them.
use crate::incidents::{IncidentRow, RecentCapture};
use crate::model::Incident;
use crate::runbook::IncidentFacts;
use crate::snapshot::CaptureState;
use crate::tui::action::{Action, Cmd, Effect, PickedIncident};
use crate::tui::theme::Theme;
use crossterm::event::KeyCode;
use ratatui::{
    buffer::Buffer,
    layout::{Constraint, Layout, Rect},
    text::{Line, Span},
    widgets::{Block, BorderType, Borders, Cell, Row, Table, Widget},
};
use std::time::SystemTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Panel {
    #[default]
    Incidents,
    Captures,
}

/// State of the incidents screen.
#[derive(Debug, Clone)]
pub struct IncidentsState {
    pub rows: Vec<IncidentRow>,
    pub errors: Vec<String>,
    pub loading: bool,
    pub filter: String,
    pub filtering: bool,
    pub panel: Panel,
    /// 0 is "no incident (ad hoc)"; then the filtered rows.
    pub selected: usize,
    pub captures: Vec<RecentCapture>,
    pub capture_selected: usize,
    /// Ages are computed against this (set when rows load; fixed in tests).
    pub now: SystemTime,
    /// Names of the sources asked (shown in the panel title), e.g. `PagerDuty`.
    pub sources: Vec<String>,
}

impl Default for IncidentsState {
    fn default() -> Self {
        IncidentsState {
            rows: Vec::new(),
            errors: Vec::new(),
            loading: true,
            filter: String::new(),
            filtering: false,
            panel: Panel::Incidents,
            selected: 0,
            captures: Vec::new(),
            capture_selected: 0,
            now: SystemTime::now(),
            sources: Vec::new(),
        }
    }
}

impl IncidentsState {
    pub const COMMANDS: &'static [Cmd] = &[
        Cmd::Select,
        Cmd::Filter,
        Cmd::NextFocus,
        Cmd::Refresh,
        Cmd::Editor,
        Cmd::Up,
        Cmd::Down,
    ];

    /// Rows matching the filter (title, id, service, status; case-insensitive).
    pub fn visible(&self) -> Vec<&IncidentRow> {
        let filter = self.filter.to_lowercase();
        self.rows
            .iter()
            .filter(|r| {
                filter.is_empty()
                    || [r.id.as_str(), &r.title, &r.service, &r.status, &r.urgency]
                        .iter()
                        .any(|f| f.to_lowercase().contains(&filter))
            })
            .collect()
    }

    pub fn text_mode(&self) -> bool {
        self.filtering
    }

    pub fn loaded(
        &mut self,
        rows: Vec<IncidentRow>,
        errors: Vec<String>,
        captures: Vec<RecentCapture>,
    ) {
        self.rows = rows;
        self.errors = errors;
        self.captures = captures;
        self.loading = false;
        self.now = SystemTime::now();
        self.clamp();
    }

    fn clamp(&mut self) {
        self.selected = self.selected.min(self.visible().len());
        self.capture_selected = self
            .capture_selected
            .min(self.captures.len().saturating_sub(1));
    }

    pub fn update(&mut self, action: Action) -> Option<Effect> {
        match action {
            Action::Key(key) if self.filtering => {
                match key.code {
                    KeyCode::Esc => {
                        self.filter.clear();
                        self.filtering = false;
                    }
                    KeyCode::Enter | KeyCode::Down => self.filtering = false,
                    KeyCode::Backspace => {
                        self.filter.pop();
                    }
                    KeyCode::Char(c) => self.filter.push(c),
                    _ => {}
                }
                self.selected = if self.filter.is_empty() {
                    0
                } else {
                    usize::from(!self.visible().is_empty())
                };
                self.clamp();
                None
            }
            Action::Cmd(cmd) => self.command(cmd),
            Action::Click { .. } | Action::Scroll { .. } | Action::Tick(_) | Action::Key(_) => None,
        }
    }

    fn command(&mut self, cmd: Cmd) -> Option<Effect> {
        let count = match self.panel {
            Panel::Incidents => self.visible().len() + 1,
            Panel::Captures => self.captures.len(),
        };
        let sel = match self.panel {
            Panel::Incidents => &mut self.selected,
            Panel::Captures => &mut self.capture_selected,
        };
        match cmd {
            Cmd::Up => *sel = sel.saturating_sub(1),
            Cmd::Down => *sel = (*sel + 1).min(count.saturating_sub(1)),
            Cmd::Top => *sel = 0,
            Cmd::Bottom => *sel = count.saturating_sub(1),
            Cmd::PageUp => *sel = sel.saturating_sub(10),
            Cmd::PageDown => *sel = (*sel + 10).min(count.saturating_sub(1)),
            Cmd::NextFocus | Cmd::PrevFocus | Cmd::Left | Cmd::Right => {
                self.panel = if self.panel == Panel::Incidents && !self.captures.is_empty() {
                    Panel::Captures
                } else {
                    Panel::Incidents
                };
            }
            Cmd::Filter => {
                self.panel = Panel::Incidents;
                self.filtering = true;
            }
            Cmd::Refresh => {
                self.loading = true;
                return Some(Effect::LoadIncidents);
            }
            Cmd::Editor => return Some(Effect::OpenEditor),
            Cmd::Back if !self.filter.is_empty() => self.filter.clear(),
            Cmd::Select => {
                return match self.panel {
                    Panel::Incidents if self.selected == 0 => Some(Effect::OpenPlan(None)),
                    Panel::Incidents => self.visible().get(self.selected - 1).map(|r| {
                        Effect::OpenPlan(Some(PickedIncident {
                            incident: Incident {
                                id: r.id.clone(),
                                title: Some(r.title.clone()),
                                source: Some(r.source.clone()),
                            },
                            facts: IncidentFacts::from_row(r),
                        }))
                    }),
                    Panel::Captures => self
                        .captures
                        .get(self.capture_selected)
                        .map(|c| Effect::OpenReplay(c.dir.clone())),
                };
            }
            Cmd::Quit => return Some(Effect::Quit),
            _ => {}
        }
        None
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let captures_height = (self.captures.len() as u16 + 3).clamp(4, area.height / 2);
        let [top, bottom] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(captures_height)])
                .areas(area);
        self.render_incidents(top, buf, theme);
        self.render_captures(bottom, buf, theme);
    }

    fn block<'a>(&self, title: &'a str, focused: bool, theme: &Theme) -> Block<'a> {
        Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Rounded)
            .border_style(if focused {
                theme.border_focus
            } else {
                theme.border
            })
            .title(Span::styled(
                format!(" {title} "),
                if focused { theme.accent } else { theme.title },
            ))
    }

    fn render_incidents(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let focused = self.panel == Panel::Incidents;
        let title = if self.sources.is_empty() {
            "Incidents".to_string()
        } else {
            format!("Incidents · {}", self.sources.join(", "))
        };
        let mut block = self.block(&title, focused, theme);
        let filter_text = if self.filtering || !self.filter.is_empty() {
            Line::from(vec![
                Span::styled(" filter: ", theme.muted),
                Span::styled(
                    format!("{}{}", self.filter, if self.filtering { "▏" } else { "" }),
                    theme.input,
                ),
            ])
        } else {
            Line::from(Span::styled(" / to filter ", theme.muted))
        };
        block = block.title(filter_text.right_aligned());
        if self.loading {
            block = block.title_bottom(Span::styled(" loading… ", theme.muted));
        }
        for error in &self.errors {
            block = block.title_bottom(Span::styled(format!(" {error} "), theme.error));
        }
        let visible = self.visible();
        let mut rows = vec![Row::new(vec![
            Cell::from(Span::styled("◆", theme.accent)),
            Cell::from(Span::styled("ad hoc", theme.accent)),
            Cell::from(""),
            Cell::from(""),
            Cell::from(""),
            Cell::from(Line::from(vec![
                Span::styled("no incident (ad hoc)", theme.accent),
                Span::styled(" · capture now", theme.muted),
            ])),
        ])];
        for row in &visible {
            let status_style = match row.status.as_str() {
                "triggered" => theme.error,
                "acknowledged" => theme.warn,
                _ => theme.ok,
            };
            let urgency_style = if row.urgency == "high" {
                theme.error
            } else {
                theme.muted
            };
            rows.push(Row::new(vec![
                Cell::from(Span::styled("●", status_style)),
                Cell::from(Span::styled(row.id.to_string(), theme.text())),
                Cell::from(Span::styled(row.status.clone(), status_style)),
                Cell::from(Span::styled(row.urgency.clone(), urgency_style)),
                Cell::from(Span::styled(
                    format!(
                        "{:>5} {}",
                        age(row.created_at.as_deref(), self.now),
                        row.service
                    ),
                    theme.muted,
                )),
                Cell::from(Span::styled(row.title.clone(), theme.text())),
            ]));
        }
        if visible.is_empty() && !self.loading {
            let hint = if self.rows.is_empty() && self.sources.iter().any(|s| s == "PagerDuty") {
                "no open incidents on PagerDuty (r to refresh)"
            } else if self.rows.is_empty() {
                "no incidents: add them to ~/.config/casefile/incidents.toml or configure PagerDuty"
            } else {
                "no incident matches the filter"
            };
            // In the TITLE column: the ID column is too narrow for a sentence.
            let mut cells = vec![Cell::from(""); 5];
            cells.push(Cell::from(Span::styled(hint, theme.muted)));
            rows.push(Row::new(cells));
        }
        let header = Row::new(
            ["", "ID", "STATUS", "URGENCY", "  AGE SERVICE", "TITLE"]
                .map(|h| Cell::from(Span::styled(h, theme.header))),
        );
        let inner_height = area.height.saturating_sub(3) as usize;
        let offset = self.selected.saturating_sub(inner_height.saturating_sub(1));
        let selected = self.selected - offset;
        let rows: Vec<Row> = rows.into_iter().skip(offset).collect();
        let id_width = visible
            .iter()
            .map(|r| r.id.chars().count())
            .max()
            .unwrap_or(6)
            .clamp(6, 16) as u16;
        let widths = [
            Constraint::Length(1),
            Constraint::Length(id_width),
            Constraint::Length(12),
            Constraint::Length(7),
            Constraint::Length(22),
            Constraint::Fill(1),
        ];
        let inner = block.inner(area);
        Table::new(rows, widths)
            .header(header)
            .column_spacing(1)
            .block(block)
            .render(area, buf);
        if focused {
            // One uniform style over the whole selected row (cells keep their colours otherwise).
            let y = inner.y + 1 + selected as u16;
            if y < inner.bottom() {
                buf.set_style(Rect::new(inner.x, y, inner.width, 1), theme.selected);
            }
        }
    }

    fn render_captures(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let focused = self.panel == Panel::Captures;
        let block = self.block("Recent captures · enter to replay", focused, theme);
        let mut rows = Vec::new();
        for c in &self.captures {
            let (state, style) = match c.state {
                CaptureState::Complete if c.failed == 0 => ("complete".to_string(), theme.ok),
                CaptureState::Complete => (format!("{} failed", c.failed), theme.warn),
                CaptureState::Cancelled => ("cancelled".into(), theme.warn),
                CaptureState::Running => ("running".into(), theme.running),
                CaptureState::Interrupted => ("interrupted".into(), theme.error),
            };
            let row = Row::new(vec![
                Cell::from(Span::styled(c.id.clone(), theme.text())),
                Cell::from(Span::styled(
                    c.incident.clone().unwrap_or_else(|| "ad hoc".into()),
                    theme.muted,
                )),
                Cell::from(Span::styled(format!("{} streams", c.streams), theme.muted)),
                Cell::from(Span::styled(state, style)),
            ]);
            rows.push(row);
        }
        if rows.is_empty() {
            rows.push(Row::new(vec![Cell::from(Span::styled(
                "no captures yet",
                theme.muted,
            ))]));
        }
        let inner_height = area.height.saturating_sub(2) as usize;
        let offset = self
            .capture_selected
            .saturating_sub(inner_height.saturating_sub(1));
        let rows: Vec<Row> = rows.into_iter().skip(offset).collect();
        let widths = [
            Constraint::Length(34),
            Constraint::Length(14),
            Constraint::Length(11),
            Constraint::Fill(1),
        ];
        let inner = block.inner(area);
        Table::new(rows, widths)
            .column_spacing(2)
            .block(block)
            .render(area, buf);
        if focused && !self.captures.is_empty() {
            let y = inner.y + (self.capture_selected - offset) as u16;
            if y < inner.bottom() {
                buf.set_style(Rect::new(inner.x, y, inner.width, 1), theme.selected);
            }
        }
    }
}

/// `5m`, `3h`, `2d` since an RFC 3339 time; `-` when unknown.
pub fn age(created_at: Option<&str>, now: SystemTime) -> String {
    let Some(then) = created_at.and_then(|t| humantime::parse_rfc3339_weak(t).ok()) else {
        return "-".into();
    };
    let secs = now.duration_since(then).map(|d| d.as_secs()).unwrap_or(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::parse_incidents;
    use crossterm::event::{KeyEvent, KeyModifiers};

    pub fn sample_rows() -> Vec<IncidentRow> {
        parse_incidents(
            "incidents.toml",
            r#"
[[incidents]]
id = "PT4KHLK"
title = "The server is on fire."
status = "triggered"
urgency = "high"
service = "checkout-api"
created_at = "2026-11-25T13:10:00Z"

[[incidents]]
id = "Q1W2E3"
title = "Replication lag on orders-db"
status = "acknowledged"
urgency = "low"
service = "orders-db"
created_at = "2026-11-25T09:00:00Z"
"#,
        )
        .expect("valid incidents file")
    }

    fn key(c: char) -> Action {
        Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
    }

    #[test]
    fn ad_hoc_is_always_first_and_filter_narrows() {
        let mut s = IncidentsState::default();
        s.loaded(sample_rows(), vec![], vec![]);
        assert!(matches!(
            s.update(Action::Cmd(Cmd::Select)),
            Some(Effect::OpenPlan(None))
        ));
        s.update(Action::Cmd(Cmd::Filter));
        assert!(s.text_mode());
        for c in "orders".chars() {
            s.update(key(c));
        }
        assert_eq!(s.visible().len(), 1);
        assert_eq!(s.selected, 1, "first match selected");
        s.update(Action::Key(KeyEvent::new(
            KeyCode::Enter,
            KeyModifiers::NONE,
        )));
        assert!(!s.text_mode());
        match s.update(Action::Cmd(Cmd::Select)) {
            Some(Effect::OpenPlan(Some(picked))) => assert_eq!(picked.incident.id, "Q1W2E3"),
            other => panic!("expected an incident, got {other:?}"),
        }
    }

    #[test]
    fn the_empty_state_hint_is_shown_whole() {
        let mut state = IncidentsState::default();
        state.loaded(Vec::new(), Vec::new(), Vec::new());
        let area = Rect::new(0, 0, 140, 12);
        let mut buf = Buffer::empty(area);
        state.render(area, &mut buf, &Theme::dark());
        let text: String = buf.content().iter().map(|c| c.symbol()).collect();
        assert!(
            text.contains("no incidents: add them to ~/.config/casefile/incidents.toml"),
            "{text}"
        );
    }

    #[test]
    fn age_counts_from_the_creation_time() {
        assert_eq!(
            age(
                Some("2026-11-25T13:10:00Z"),
                humantime::parse_rfc3339("2026-11-25T14:10:00Z").expect("time")
            ),
            "1h"
        );
    }
}
