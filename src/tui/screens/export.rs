//! Export: where the snapshot is and where it can go. The local folder always exists; a local
//! archive, S3 (`destinations.s3`) and a note on the PagerDuty incident run from here with their
//! progress and resulting links (the work itself is `crate::export`, run by the app).
use crate::config::{Config, RunbookExport};
use crate::export::{ExportReport, NoteOutcome};
use crate::incidents::pagerduty_configured;
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
use std::time::Duration;

/// What a destination is, so the app knows what to run for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestinationKind {
    /// The snapshot folder itself (always there).
    Folder,
    /// `ID.tar.gz` + `.sha256` written into `dir`.
    Archive { dir: PathBuf },
    /// Upload under `s3://bucket/prefix/`.
    S3 { url: String },
    /// A note on this PagerDuty incident.
    Note { incident: String },
}

/// One place a snapshot can be exported to, and how far that got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub name: String,
    pub kind: DestinationKind,
    pub state: DestinationState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestinationState {
    Done {
        link: String,
    },
    /// Configured; Enter exports to it.
    Ready {
        detail: String,
    },
    NotConfigured {
        hint: String,
    },
    InProgress,
    Failed {
        reason: String,
    },
}

impl Destination {
    /// Whether Enter / `e` can (re-)run it: exports are idempotent, so a done one may run again.
    fn actionable(&self) -> bool {
        !matches!(self.kind, DestinationKind::Folder)
            && matches!(
                self.state,
                DestinationState::Ready { .. }
                    | DestinationState::Failed { .. }
                    | DestinationState::Done { .. }
            )
    }
}

/// One export run: the chosen destinations together. S3 goes before the note, so the note
/// carries the link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportJob {
    pub snapshot: PathBuf,
    pub archive_dir: Option<PathBuf>,
    pub s3: Option<String>,
    pub incident: Option<String>,
}

/// How an export run ended: the report of what was done, and the error that stopped it.
#[derive(Debug, Clone, Default)]
pub struct ExportOutcome {
    pub report: ExportReport,
    pub error: Option<String>,
}

/// State of the export screen.
#[derive(Debug, Clone)]
pub struct ExportState {
    pub dir: PathBuf,
    pub manifest: Option<Manifest>,
    pub destinations: Vec<Destination>,
    pub cursor: usize,
    /// An export is running (one at a time).
    pub running: bool,
    /// The export's latest step, or how it ended.
    pub progress: Option<String>,
    /// Archive bytes the store has acknowledged during this run.
    pub uploaded: u64,
    /// Time since the run started (advanced by ticks).
    pub elapsed: Duration,
    /// Links an operator copies: presigned URL, object URLs, archive path.
    pub links: Vec<(String, String)>,
    /// The runbook whose `export` list `e` sends to (instead of every ready destination).
    pub runbook: Option<RunbookExports>,
}

/// A runbook's choice of destinations, as indices into [`ExportState::destinations`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunbookExports {
    pub name: String,
    pub destinations: Vec<usize>,
}

impl ExportState {
    pub const COMMANDS: &'static [Cmd] = &[Cmd::Select, Cmd::Export, Cmd::Up, Cmd::Down, Cmd::Back];

    /// Destinations for the snapshot in `dir`, configured from `config` (S3 from
    /// `destinations.s3`, the note from the PagerDuty token and the snapshot's incident).
    pub fn new(dir: PathBuf, manifest: Option<Manifest>, config: &Config) -> ExportState {
        let archive_dir = dir
            .parent()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        let archive_detail = match &manifest {
            Some(m) => format!(
                "Enter: pack {}",
                archive_dir
                    .join(crate::snapshot::archive::archive_name(&m.id))
                    .display()
            ),
            None => format!("Enter: pack into {}", archive_dir.display()),
        };
        let s3_state = match &config.destinations.s3 {
            Some(url) => match crate::export::Destination::parse(url) {
                Ok(_) => DestinationState::Ready {
                    detail: format!("Enter: upload to {url}"),
                },
                Err(e) => DestinationState::NotConfigured {
                    hint: format!("destinations.s3: {e}"),
                },
            },
            None => DestinationState::NotConfigured {
                hint:
                    "not configured: set destinations.s3 = \"s3://bucket/prefix/\" in casefile.toml"
                        .into(),
            },
        };
        let incident = manifest
            .as_ref()
            .and_then(|m| m.incident.as_ref())
            .map(|i| i.id.to_string());
        let note_state = match (&incident, pagerduty_configured(config)) {
            (None, _) => DestinationState::NotConfigured {
                hint: "ad-hoc capture: no incident to add a note to".into(),
            },
            (Some(_), false) => DestinationState::NotConfigured {
                hint: "not configured: set PAGERDUTY_TOKEN or destinations.pagerduty_token_secret"
                    .into(),
            },
            (Some(id), true) => DestinationState::Ready {
                detail: format!("Enter: add a summary note to incident {id}"),
            },
        };
        let destinations = vec![
            Destination {
                name: "Local folder".into(),
                kind: DestinationKind::Folder,
                state: DestinationState::Done {
                    link: dir.display().to_string(),
                },
            },
            Destination {
                name: "Archive (tar.gz)".into(),
                kind: DestinationKind::Archive { dir: archive_dir },
                state: DestinationState::Ready {
                    detail: archive_detail,
                },
            },
            Destination {
                name: "S3".into(),
                kind: DestinationKind::S3 {
                    url: config.destinations.s3.clone().unwrap_or_default(),
                },
                state: s3_state,
            },
            Destination {
                name: "Incident note".into(),
                kind: DestinationKind::Note {
                    incident: incident.unwrap_or_default(),
                },
                state: note_state,
            },
        ];
        ExportState {
            dir,
            manifest,
            destinations,
            cursor: 1,
            running: false,
            progress: None,
            uploaded: 0,
            elapsed: Duration::ZERO,
            links: Vec::new(),
            runbook: None,
        }
    }

    /// Makes `e` send to what runbook `name` lists (S3, the incident note), with the cursor on
    /// the first of them. A runbook with no `export` list changes nothing.
    pub fn preselect_runbook(&mut self, name: &str, export: &[RunbookExport]) {
        let destinations: Vec<usize> = self
            .destinations
            .iter()
            .enumerate()
            .filter(|(_, d)| {
                export.iter().any(|e| {
                    matches!(
                        (e, &d.kind),
                        (RunbookExport::S3, DestinationKind::S3 { .. })
                            | (RunbookExport::Incident, DestinationKind::Note { .. })
                    )
                })
            })
            .map(|(i, _)| i)
            .collect();
        if let Some(&first) = destinations.first() {
            self.cursor = first;
            self.runbook = Some(RunbookExports {
                name: name.to_string(),
                destinations,
            });
        }
    }

    pub fn update(&mut self, action: Action) -> Option<Effect> {
        match action {
            Action::Cmd(Cmd::Up) => self.cursor = self.cursor.saturating_sub(1),
            Action::Cmd(Cmd::Down) => {
                self.cursor = (self.cursor + 1).min(self.destinations.len().saturating_sub(1))
            }
            Action::Cmd(Cmd::Select) => return self.start(&[self.cursor]),
            Action::Cmd(Cmd::Export) if self.runbook.is_some() => {
                let chosen = self
                    .runbook
                    .as_ref()
                    .map(|r| r.destinations.clone())
                    .unwrap_or_default();
                return self.start(&chosen);
            }
            Action::Cmd(Cmd::Export) => {
                let all: Vec<usize> = (0..self.destinations.len())
                    .filter(|&i| {
                        matches!(
                            self.destinations[i].state,
                            DestinationState::Ready { .. } | DestinationState::Failed { .. }
                        )
                    })
                    .collect();
                if all.is_empty() && !self.running {
                    return Some(Effect::Message(
                        "nothing left to export: every configured destination is done".into(),
                    ));
                }
                return self.start(&all);
            }
            Action::Cmd(Cmd::Back) => return Some(Effect::Back),
            Action::Cmd(Cmd::Quit) => return Some(Effect::Quit),
            Action::Tick(dt) if self.running => self.elapsed += dt,
            _ => {}
        }
        None
    }

    /// Marks the chosen destinations in progress and asks the app to run them. A note brings the
    /// S3 upload along when S3 is configured, so the note can carry the link (the upload is
    /// skipped when the same object is already there).
    fn start(&mut self, chosen: &[usize]) -> Option<Effect> {
        if self.running {
            return Some(Effect::Message(
                "an export is running; wait for it to finish".into(),
            ));
        }
        let mut chosen: Vec<usize> = chosen
            .iter()
            .copied()
            .filter(|&i| {
                self.destinations
                    .get(i)
                    .is_some_and(Destination::actionable)
            })
            .collect();
        if chosen.is_empty() {
            return match self.destinations.get(self.cursor).map(|d| &d.state) {
                Some(DestinationState::NotConfigured { hint }) => {
                    Some(Effect::Message(hint.clone()))
                }
                _ => None,
            };
        }
        let wants_note = chosen
            .iter()
            .any(|&i| matches!(self.destinations[i].kind, DestinationKind::Note { .. }));
        if wants_note
            && let Some(s3) = self
                .destinations
                .iter()
                .position(|d| matches!(d.kind, DestinationKind::S3 { .. }) && d.actionable())
            && !chosen.contains(&s3)
        {
            chosen.push(s3);
        }
        let mut job = ExportJob {
            snapshot: self.dir.clone(),
            ..ExportJob::default()
        };
        for &i in &chosen {
            let destination = &mut self.destinations[i];
            match &destination.kind {
                DestinationKind::Folder => continue,
                DestinationKind::Archive { dir } => job.archive_dir = Some(dir.clone()),
                DestinationKind::S3 { url } => job.s3 = Some(url.clone()),
                DestinationKind::Note { incident } => job.incident = Some(incident.clone()),
            }
            destination.state = DestinationState::InProgress;
        }
        self.running = true;
        self.uploaded = 0;
        self.elapsed = Duration::ZERO;
        self.progress = Some("starting".into());
        Some(Effect::RunExport(job))
    }

    /// A progress line from the running export.
    pub fn on_progress(&mut self, line: String) {
        if self.running {
            self.progress = Some(line);
        }
    }

    /// Bytes the store has acknowledged so far.
    pub fn on_uploaded(&mut self, bytes: u64) {
        if self.running {
            self.uploaded = bytes;
        }
    }

    /// The export ended: each destination it ran shows its link, or the error that stopped it.
    pub fn finished(&mut self, outcome: ExportOutcome) {
        let ExportOutcome { report, error } = outcome;
        for destination in &mut self.destinations {
            if destination.state != DestinationState::InProgress {
                continue;
            }
            let done = match &destination.kind {
                DestinationKind::Folder => None,
                DestinationKind::Archive { .. } => {
                    report.files.first().map(|f| f.display().to_string())
                }
                DestinationKind::S3 { .. } => report.s3.first().map(|s| {
                    if s.archive.already_present {
                        format!("{} (already there, not sent again)", s.archive.url())
                    } else {
                        s.archive.url()
                    }
                }),
                DestinationKind::Note { .. } => report.note.as_ref().map(|n| match n {
                    NoteOutcome::Created { incident, .. } => {
                        format!("note added to incident {incident}")
                    }
                    NoteOutcome::AlreadyPresent { incident, .. } => {
                        format!("incident {incident} already has a note for this snapshot")
                    }
                }),
            };
            destination.state = match (done, &error) {
                (Some(link), _) => DestinationState::Done { link },
                (None, Some(e)) => DestinationState::Failed { reason: e.clone() },
                (None, None) => DestinationState::Failed {
                    reason: "not done (see the log)".into(),
                },
            };
        }
        self.links.clear();
        for file in &report.files {
            self.links
                .push(("archive".into(), file.display().to_string()));
        }
        for s3 in &report.s3 {
            self.links.push(("object".into(), s3.archive.url()));
            self.links
                .push(("download".into(), s3.presigned_url.clone()));
        }
        self.running = false;
        self.progress = Some(match (&error, report.warnings.first()) {
            (Some(e), _) => format!("export failed: {e} (Enter retries; finished parts are kept)"),
            (None, Some(w)) => format!("exported, with a warning: {w}"),
            (None, None) => format!("exported in {:.1} s", self.elapsed.as_secs_f64()),
        });
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let [summary_area, dest_area, progress_area] = Layout::vertical([
            Constraint::Length(9),
            Constraint::Length(self.destinations.len() as u16 + 2),
            Constraint::Fill(1),
        ])
        .areas(area);
        self.render_summary(summary_area, buf, theme);
        self.render_destinations(dest_area, buf, theme);
        self.render_progress(progress_area, buf, theme);
    }

    fn render_summary(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
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
            let field = |name: &'static str, value: Span<'static>| {
                Line::from(vec![Span::styled(name, theme.muted), value])
            };
            lines.push(field(" state     ", state));
            lines.push(field(
                " incident  ",
                Span::styled(
                    m.incident
                        .as_ref()
                        .map(|i| format!("{} {}", i.id, i.title.as_deref().unwrap_or("")))
                        .unwrap_or_else(|| "none (ad hoc)".into()),
                    theme.text(),
                ),
            ));
            lines.push(field(
                " streams   ",
                Span::styled(
                    format!("{} ({} did not run to the end)", m.streams.len(), failed),
                    if failed > 0 { theme.warn } else { theme.text() },
                ),
            ));
            lines.push(field(
                " size      ",
                Span::styled(human_bytes(bytes), theme.text()),
            ));
            lines.push(field(
                " operator  ",
                Span::styled(m.operator.clone(), theme.text()),
            ));
            lines.push(field(
                " check     ",
                Span::styled(
                    format!("casefile show {}", self.dir.display()),
                    theme.text(),
                ),
            ));
        }
        let block = Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Rounded)
            .border_style(theme.border)
            .title(Span::styled(" Snapshot ", theme.title));
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block)
            .render(area, buf);
    }

    /// What Enter and `e` do here; `e` follows the runbook when there is one.
    fn export_hint(&self) -> String {
        match &self.runbook {
            None => " Enter export selected · e export all ".into(),
            Some(r) => {
                let names: Vec<&str> = r
                    .destinations
                    .iter()
                    .filter_map(|&i| self.destinations.get(i))
                    .map(|d| d.name.as_str())
                    .collect();
                format!(
                    " Enter export selected · e runbook {}: {} ",
                    r.name,
                    names.join(" + ")
                )
            }
        }
    }

    fn render_destinations(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let spinner = SPINNER[(self.elapsed.as_millis() / 120) as usize % SPINNER.len()];
        let lines: Vec<Line> = self
            .destinations
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let (icon, text, style) = match &d.state {
                    DestinationState::Done { link } => ("✓", link.clone(), theme.ok),
                    DestinationState::Ready { detail } => ("○", detail.clone(), theme.text()),
                    DestinationState::NotConfigured { hint } => ("·", hint.clone(), theme.muted),
                    DestinationState::InProgress => (spinner, "working…".into(), theme.running),
                    DestinationState::Failed { reason } => ("✗", reason.clone(), theme.error),
                };
                let line = Line::from(vec![
                    Span::styled(format!(" {icon} "), style),
                    Span::styled(format!("{:<18}", d.name), theme.text()),
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
            .title(Span::styled(" Destinations ", theme.accent))
            .title(Line::from(Span::styled(self.export_hint(), theme.muted)).right_aligned());
        Paragraph::new(lines).block(block).render(area, buf);
    }

    fn render_progress(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let mut lines = Vec::new();
        if let Some(progress) = &self.progress {
            let style = if progress.starts_with("export failed") {
                theme.error
            } else if self.running {
                theme.running
            } else {
                theme.ok
            };
            let mut spans = vec![Span::styled(format!(" {progress}"), style)];
            if self.running {
                spans.push(Span::styled(
                    format!(
                        " · {:.1} s{}",
                        self.elapsed.as_secs_f64(),
                        if self.uploaded > 0 {
                            format!(" · {} uploaded", human_bytes(self.uploaded))
                        } else {
                            String::new()
                        }
                    ),
                    theme.muted,
                ));
            }
            lines.push(Line::from(spans));
        }
        for (label, link) in &self.links {
            lines.push(Line::from(vec![
                Span::styled(format!(" {label:<9}"), theme.muted),
                Span::styled(link.clone(), theme.accent),
            ]));
        }
        if lines.is_empty() {
            lines.push(Line::from(Span::styled(
                " Exports re-check redaction on every byte; re-running one finishes what is missing.",
                theme.muted,
            )));
        }
        let block = Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Rounded)
            .border_style(theme.border)
            .title(Span::styled(" Progress and links ", theme.title));
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block)
            .render(area, buf);
    }
}

const SPINNER: [&str; 8] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::S3Export;
    use crate::s3::UploadedObject;

    fn config_with(s3: Option<&str>, token_secret: bool) -> Config {
        let mut config = Config::defaults();
        config.destinations.s3 = s3.map(str::to_string);
        if token_secret {
            config.destinations.pagerduty_token_secret = Some("pd".into());
        }
        config
    }

    fn manifest_with_incident(id: Option<&str>) -> Manifest {
        Manifest {
            schema_version: 1,
            casefile_version: "test".into(),
            id: "20261125T100000Z-abcd".into(),
            incident: id.map(|id| crate::model::Incident {
                id: id.parse().expect("a valid id"),
                title: Some("db down".into()),
                source: Some("pagerduty".into()),
            }),
            operator: "oncall@host".into(),
            started_at: "2026-11-25T10:00:00Z".into(),
            ended_at: None,
            state: CaptureState::Complete,
            targets: Vec::new(),
            streams: Vec::new(),
        }
    }

    fn state(s3: Option<&str>, token: bool, incident: Option<&str>) -> ExportState {
        ExportState::new(
            PathBuf::from("/caps/20261125T100000Z-abcd"),
            Some(manifest_with_incident(incident)),
            &config_with(s3, token),
        )
    }

    #[test]
    fn destinations_follow_the_config() {
        let s = state(None, false, None);
        assert!(matches!(
            s.destinations[0].state,
            DestinationState::Done { .. }
        ));
        assert!(matches!(
            s.destinations[1].state,
            DestinationState::Ready { .. }
        ));
        assert!(matches!(
            &s.destinations[2].state,
            DestinationState::NotConfigured { hint } if hint.contains("destinations.s3")
        ));
        assert!(matches!(
            &s.destinations[3].state,
            DestinationState::NotConfigured { hint } if hint.contains("ad-hoc")
        ));
        let s = state(Some("s3://bucket/caps/"), true, Some("PT4KHLK"));
        assert!(matches!(
            s.destinations[2].state,
            DestinationState::Ready { .. }
        ));
        assert!(matches!(
            &s.destinations[3].state,
            DestinationState::Ready { detail } if detail.contains("PT4KHLK")
        ));
        let s = state(Some("http://not-s3"), false, Some("PT4KHLK"));
        assert!(matches!(
            s.destinations[2].state,
            DestinationState::NotConfigured { .. }
        ));
    }

    #[test]
    fn enter_on_the_note_brings_the_s3_upload_along() {
        let mut s = state(Some("s3://bucket/caps/"), true, Some("PT4KHLK"));
        s.cursor = 3;
        let Some(Effect::RunExport(job)) = s.update(Action::Cmd(Cmd::Select)) else {
            panic!("expected an export job");
        };
        assert_eq!(job.incident.as_deref(), Some("PT4KHLK"));
        assert_eq!(job.s3.as_deref(), Some("s3://bucket/caps/"));
        assert_eq!(job.archive_dir, None);
        assert!(s.running);
        assert_eq!(s.destinations[2].state, DestinationState::InProgress);
        // A second request while running is refused with a message.
        assert!(matches!(
            s.update(Action::Cmd(Cmd::Export)),
            Some(Effect::Message(_))
        ));
    }

    #[test]
    fn e_sends_where_the_runbook_says_and_no_further() {
        let mut s = state(Some("s3://bucket/caps/"), true, Some("PT4KHLK"));
        s.preselect_runbook("mail", &[RunbookExport::S3, RunbookExport::Incident]);
        assert_eq!(
            s.cursor, 2,
            "the cursor starts on the runbook's first destination"
        );
        assert_eq!(
            s.export_hint(),
            " Enter export selected · e runbook mail: S3 + Incident note "
        );
        let Some(Effect::RunExport(job)) = s.update(Action::Cmd(Cmd::Export)) else {
            panic!("expected an export job");
        };
        assert_eq!(job.s3.as_deref(), Some("s3://bucket/caps/"));
        assert_eq!(job.incident.as_deref(), Some("PT4KHLK"));
        assert_eq!(
            job.archive_dir, None,
            "the runbook did not ask for a local archive"
        );

        // A runbook that only uploads leaves the note alone.
        let mut s = state(Some("s3://bucket/caps/"), true, Some("PT4KHLK"));
        s.preselect_runbook("upload-only", &[RunbookExport::S3]);
        let Some(Effect::RunExport(job)) = s.update(Action::Cmd(Cmd::Export)) else {
            panic!("expected an export job");
        };
        assert_eq!((job.s3.is_some(), job.incident), (true, None));

        // No export list: `e` keeps sending to every ready destination.
        let mut s = state(Some("s3://bucket/caps/"), true, Some("PT4KHLK"));
        s.preselect_runbook("none", &[]);
        assert_eq!(s.runbook, None);
        let Some(Effect::RunExport(job)) = s.update(Action::Cmd(Cmd::Export)) else {
            panic!("expected an export job");
        };
        assert!(job.archive_dir.is_some() && job.s3.is_some() && job.incident.is_some());
    }

    #[test]
    fn not_configured_destination_explains_itself() {
        let mut s = state(None, false, None);
        s.cursor = 2;
        match s.update(Action::Cmd(Cmd::Select)) {
            Some(Effect::Message(m)) => assert!(m.contains("destinations.s3"), "{m}"),
            other => panic!("expected a hint, got {other:?}"),
        }
        assert!(!s.running);
    }

    #[test]
    fn finish_shows_links_and_failures() {
        let mut s = state(Some("s3://bucket/caps/"), true, Some("PT4KHLK"));
        let Some(Effect::RunExport(job)) = s.update(Action::Cmd(Cmd::Export)) else {
            panic!("expected an export job");
        };
        assert!(job.archive_dir.is_some() && job.s3.is_some() && job.incident.is_some());
        s.on_progress("uploading".into());
        s.on_uploaded(5 << 20);
        assert_eq!(s.uploaded, 5 << 20);
        let report = ExportReport {
            snapshot_id: "20261125T100000Z-abcd".into(),
            files: vec![PathBuf::from("/caps/20261125T100000Z-abcd.tar.gz")],
            s3: vec![S3Export {
                archive: UploadedObject {
                    bucket: "bucket".into(),
                    key: "caps/x.tar.gz".into(),
                    bytes: 10,
                    parts: 1,
                    already_present: false,
                },
                sha256_key: "caps/x.tar.gz.sha256".into(),
                manifest_key: "caps/manifest.json".into(),
                presigned_url: "http://127.0.0.1/presigned".into(),
            }],
            ..ExportReport::default()
        };
        s.finished(ExportOutcome {
            report,
            error: Some("PagerDuty POST answered 401".into()),
        });
        assert!(!s.running);
        assert!(
            matches!(&s.destinations[1].state, DestinationState::Done { link } if link.ends_with(".tar.gz"))
        );
        assert!(
            matches!(&s.destinations[2].state, DestinationState::Done { link } if link == "s3://bucket/caps/x.tar.gz")
        );
        assert!(
            matches!(&s.destinations[3].state, DestinationState::Failed { reason } if reason.contains("401"))
        );
        assert!(
            s.links
                .iter()
                .any(|(_, l)| l == "http://127.0.0.1/presigned")
        );
        // `e` now retries only what failed.
        let Some(Effect::RunExport(job)) = s.update(Action::Cmd(Cmd::Export)) else {
            panic!("expected a retry");
        };
        assert!(job.incident.is_some() && job.archive_dir.is_none());
    }
}
