//! Run: the live pane grid of a capture, one pane per stream, with a summary bar; or, for a
//! fleet, the overview matrix of targets × steps (the default when the grid cannot show every
//! pane at a readable size) and the diff view. Streams write to disk and into their bounded
//! ring; this screen only reads the rings (and the statuses that can still change) when it draws.
use crate::capture::LiveView;
use crate::model::CapturePlan;
use crate::snapshot::CaptureState;
use crate::tui::action::{Action, Cmd, Effect};
use crate::tui::theme::Theme;
use crate::tui::widgets::fleet_view::{FleetView, View};
use crate::tui::widgets::overview::{
    cells::{CellState, CellStatus},
    matrix::{Matrix, StreamKey},
    search::ring_holds,
};
use crate::tui::widgets::pane::{
    PaneGrid, PaneInfo, PaneStatus, RingExtent, render_grid, ring_len,
};
use crossterm::event::KeyCode;
use ratatui::{
    buffer::Buffer,
    layout::{Constraint, Layout, Rect},
    text::{Line, Span},
};
use std::{path::PathBuf, sync::Arc, time::Instant};

/// One capture shown by the screen (the first one, plus one per re-run).
#[derive(Debug, Clone)]
pub struct RunCapture {
    pub plan: CapturePlan,
    pub live: Arc<LiveView>,
    pub dir: PathBuf,
    /// `None` while the engine runs; the final state once the snapshot is finalised.
    pub state: Option<CaptureState>,
}

/// Which capture and stream a pane shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaneRef {
    pub capture: usize,
    pub stream: usize,
}

/// State of the run screen.
#[derive(Debug, Clone)]
pub struct RunState {
    pub captures: Vec<RunCapture>,
    pub panes: Vec<PaneRef>,
    pub grid: PaneGrid,
    /// Elapsed times are measured to this instant (set by the app each frame; fixed in tests).
    pub now: Instant,
    /// Overview, diff, and which of them (or the grid) is shown.
    pub fleet: FleetView,
}

/// Counts for the summary bar.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub queued: usize,
    pub running: usize,
    pub ok: usize,
    pub failed: usize,
}

impl RunState {
    pub const COMMANDS: &'static [Cmd] = &[
        Cmd::Right,
        Cmd::Zoom,
        Cmd::Follow,
        Cmd::Search,
        Cmd::NextMatch,
        Cmd::Cancel,
        Cmd::CancelAll,
        Cmd::Rerun,
        Cmd::Export,
        Cmd::Up,
        Cmd::PageUp,
        Cmd::Bottom,
        Cmd::Overview,
        Cmd::ProblemsOnly,
        Cmd::TagFilter,
        Cmd::StepFilter,
        Cmd::Mark,
        Cmd::Diff,
        Cmd::DiffLayout,
        Cmd::FoldMode,
    ];

    /// The footer's keys while the pane grid is shown.
    pub const GRID_FOOTER: &'static [Cmd] = &[
        Cmd::Right,
        Cmd::Zoom,
        Cmd::Overview,
        Cmd::Follow,
        Cmd::Search,
        Cmd::Cancel,
        Cmd::Export,
    ];

    pub fn new(capture: RunCapture) -> RunState {
        let panes: Vec<PaneRef> = (0..capture.plan.streams.len())
            .map(|stream| PaneRef { capture: 0, stream })
            .collect();
        let plan = &capture.plan;
        let matrix = Matrix::build(
            &plan.targets,
            plan.streams.iter().map(|s| StreamKey {
                target: s.target,
                preset: &s.preset,
                step: &s.step,
            }),
        );
        let mut state = RunState {
            grid: PaneGrid::new(panes.len()),
            panes,
            captures: vec![capture],
            now: Instant::now(),
            fleet: FleetView::new(matrix),
        };
        state.refresh_cells();
        state
    }

    /// Re-reads the statuses of streams that can still change (no allocation for those).
    pub fn refresh_cells(&mut self) {
        let (captures, panes) = (&self.captures, &self.panes);
        self.fleet.overview.refresh(&mut |pane| {
            let Some(live) = panes
                .get(pane)
                .and_then(|p| captures.get(p.capture).map(|c| &c.live.streams[p.stream]))
            else {
                return CellState::default();
            };
            let (status, _, result) = live.status();
            CellState {
                status: CellStatus::from_status(status, result.as_ref()),
                bytes: live.ring().total_bytes,
            }
        });
    }

    /// Runs the overview's text search a time budget further (on the loop's ticks).
    fn scan(&mut self) {
        let again = self.running();
        let (captures, panes) = (&self.captures, &self.panes);
        self.fleet.overview.scan(again, &mut |pane, matcher| {
            panes
                .get(pane)
                .and_then(|p| captures.get(p.capture).map(|c| &c.live.streams[p.stream]))
                .is_some_and(|live| ring_holds(&live.ring(), matcher))
        });
    }

    /// True while something changes on its own: streams run, or the text search scans.
    pub fn animating(&self) -> bool {
        self.running() || self.fleet.overview.searching()
    }

    /// A re-run of one pane's stream: the pane now shows the new capture.
    pub fn add_rerun(&mut self, pane: usize, capture: RunCapture) {
        self.captures.push(capture);
        if let Some(p) = self.panes.get_mut(pane) {
            *p = PaneRef {
                capture: self.captures.len() - 1,
                stream: 0,
            };
        }
        if let Some(v) = self.grid.views.get_mut(pane) {
            *v = Default::default();
        }
        self.fleet.overview.cache.invalidate(pane);
        self.fleet.overview.touch();
    }

    pub fn running(&self) -> bool {
        self.captures.iter().any(|c| c.state.is_none())
    }

    pub fn text_mode(&self) -> bool {
        self.grid.search.editing || self.fleet.text_mode()
    }

    fn pane_status(&self, pane: PaneRef) -> (PaneStatus, u64) {
        let Some(capture) = self.captures.get(pane.capture) else {
            return (PaneStatus::Queued, 0);
        };
        let live = &capture.live.streams[pane.stream];
        let (status, started, result) = live.status();
        let elapsed = started.map(|s| self.now.saturating_duration_since(s));
        let bytes = live.ring().total_bytes;
        (
            PaneStatus::from_parts(status, elapsed, result.as_ref()),
            bytes,
        )
    }

    /// Counts from the status cache (a frame over 7,000 streams reads only those still moving).
    pub fn summary(&mut self) -> Summary {
        self.refresh_cells();
        let cache = &self.fleet.overview.cache;
        let failed = cache.count(CellStatus::NonZero)
            + cache.count(CellStatus::Failed)
            + cache.count(CellStatus::TimedOut)
            + cache.count(CellStatus::Cancelled);
        let queued = cache.count(CellStatus::Queued);
        let running = cache.count(CellStatus::Running);
        Summary {
            queued,
            running,
            failed,
            ok: cache.len() - queued - running - failed,
        }
    }

    fn extent(&self, pane: usize) -> RingExtent {
        self.panes
            .get(pane)
            .and_then(|p| {
                self.captures
                    .get(p.capture)
                    .map(|c| c.live.streams[p.stream].ring())
            })
            .map(|ring| (ring.dropped_lines, ring_len(&ring)))
            .unwrap_or((0, 0))
    }

    fn find(&mut self, older: bool) -> bool {
        let Some(pane) = self.panes.get(self.grid.focus).copied() else {
            return false;
        };
        let Some(capture) = self.captures.get(pane.capture) else {
            return false;
        };
        let live = Arc::clone(&capture.live);
        let ring = live.streams[pane.stream].ring();
        self.grid.find(&ring, older)
    }

    fn focused_label(&self) -> String {
        self.panes
            .get(self.grid.focus)
            .and_then(|p| self.captures.get(p.capture).map(|c| (c, p.stream)))
            .map(|(c, s)| {
                let spec = &c.plan.streams[s];
                format!(
                    "{} {}/{}",
                    c.plan.targets[spec.target].name, spec.preset, spec.step
                )
            })
            .unwrap_or_default()
    }

    pub fn update(&mut self, action: Action) -> Option<Effect> {
        match action {
            Action::Key(key) if self.fleet.text_mode() => {
                self.fleet.key(key);
                None
            }
            Action::Tick(_) => {
                self.scan();
                None
            }
            Action::Click { column, row } if self.fleet.view != View::Grid => {
                let grid = &mut self.grid;
                self.fleet.click(column, row, grid).flatten()
            }
            Action::Scroll { lines, .. } if self.fleet.wheel(lines) => None,
            Action::Key(key) if self.grid.search.editing => {
                match key.code {
                    KeyCode::Esc => {
                        self.grid.search = Default::default();
                    }
                    KeyCode::Enter => {
                        self.grid.search.editing = false;
                        if !self.find(true) {
                            return Some(Effect::Message(format!(
                                "`{}` not found in this pane",
                                self.grid.search.query
                            )));
                        }
                    }
                    KeyCode::Backspace => {
                        self.grid.search.query.pop();
                    }
                    KeyCode::Char(c) => self.grid.search.query.push(c),
                    _ => {}
                }
                None
            }
            Action::Key(_) => None,
            Action::Click { column, row } => {
                self.grid.click(column, row);
                None
            }
            Action::Scroll { column, row, lines } => {
                let extents: Vec<RingExtent> =
                    (0..self.panes.len()).map(|i| self.extent(i)).collect();
                self.grid.wheel(column, row, lines, &|i| {
                    extents.get(i).copied().unwrap_or((0, 0))
                });
                None
            }
            Action::Cmd(cmd) => self.command(cmd),
        }
    }

    fn command(&mut self, cmd: Cmd) -> Option<Effect> {
        if let Some(effect) = self.fleet.command(cmd, &mut self.grid) {
            return effect;
        }
        let focus = self.grid.focus;
        let pane = self.panes.get(focus).copied()?;
        match cmd {
            Cmd::Search => {
                self.grid.search = crate::tui::widgets::pane::Search {
                    query: String::new(),
                    editing: true,
                };
                None
            }
            Cmd::NextMatch | Cmd::PrevMatch => {
                if !self.find(cmd == Cmd::NextMatch) {
                    return Some(Effect::Message("no more matches".into()));
                }
                None
            }
            Cmd::Cancel => {
                let (status, _) = self.pane_status(pane);
                if status.finished() {
                    return Some(Effect::Message("this stream has already ended".into()));
                }
                Some(Effect::Confirm {
                    message: format!(
                        "Cancel {}? Its output so far is kept.",
                        self.focused_label()
                    ),
                    then: Box::new(Effect::CancelStream {
                        capture: pane.capture,
                        stream: pane.stream,
                    }),
                })
            }
            Cmd::CancelAll => {
                if !self.running() {
                    return Some(Effect::Message("nothing is running".into()));
                }
                Some(Effect::Confirm {
                    message: "Cancel every stream still running? The snapshot keeps what ran."
                        .into(),
                    then: Box::new(Effect::CancelAll),
                })
            }
            Cmd::Rerun => {
                let (status, _) = self.pane_status(pane);
                if !status.finished() {
                    Some(Effect::Message("the stream is still running".into()))
                } else if !status.failed() {
                    Some(Effect::Message("only failed streams are re-run".into()))
                } else {
                    Some(Effect::Rerun { pane: focus })
                }
            }
            Cmd::Export => {
                if self.running() {
                    Some(Effect::Message(
                        "the capture is still running: wait for it, or cancel (X)".into(),
                    ))
                } else {
                    Some(Effect::OpenExport)
                }
            }
            Cmd::Back if self.grid.zoom => {
                self.grid.zoom = false;
                None
            }
            Cmd::Back if !self.grid.search.query.is_empty() => {
                self.grid.search = Default::default();
                None
            }
            Cmd::Back if self.running() => Some(Effect::Message(
                "a capture is running: X cancels it, q quits (asks first)".into(),
            )),
            Cmd::Back => Some(Effect::Home),
            Cmd::Quit => Some(Effect::Quit),
            other => {
                let extents: Vec<RingExtent> =
                    (0..self.panes.len()).map(|i| self.extent(i)).collect();
                self.grid
                    .update(other, &|i| extents.get(i).copied().unwrap_or((0, 0)));
                None
            }
        }
    }

    /// Header context: the snapshot folder(s).
    pub fn context(&self) -> String {
        let first = self
            .captures
            .first()
            .map(|c| c.dir.display().to_string())
            .unwrap_or_default();
        match self.captures.len() {
            0 | 1 => format!("snapshot {first}"),
            n => format!("snapshot {first} (+{} re-run)", n - 1),
        }
    }

    pub fn render(&mut self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let search_height = u16::from(self.grid.search.editing);
        let [grid_area, search_area, summary_area] = Layout::vertical([
            Constraint::Fill(1),
            Constraint::Length(search_height),
            Constraint::Length(1),
        ])
        .areas(area);
        self.grid.area = grid_area;
        self.refresh_cells();
        if !self.fleet.render(grid_area, buf, theme) {
            self.render_grid(grid_area, buf, theme);
        }
        self.render_bar(search_area, summary_area, buf, theme);
    }

    fn render_grid(&self, grid_area: Rect, buf: &mut Buffer, theme: &Theme) {
        let this = self;
        render_grid(&this.grid, grid_area, buf, theme, &mut |index, draw| {
            let Some(&pane) = this.panes.get(index) else {
                return;
            };
            let Some(capture) = this.captures.get(pane.capture) else {
                return;
            };
            let spec = &capture.plan.streams[pane.stream];
            let (status, bytes) = this.pane_status(pane);
            let ring = capture.live.streams[pane.stream].ring();
            let rerun = if pane.capture > 0 { " (re-run)" } else { "" };
            let title = format!(
                "{:02} {} · {}/{}{rerun}",
                index + 1,
                capture.plan.targets[spec.target].name,
                spec.preset,
                spec.step
            );
            draw(&PaneInfo {
                title,
                status,
                bytes,
                ring: &ring,
            });
        });
    }

    fn render_bar(
        &mut self,
        search_area: Rect,
        summary_area: Rect,
        buf: &mut Buffer,
        theme: &Theme,
    ) {
        if self.grid.search.editing {
            let line = Line::from(vec![
                Span::styled(" search: ", theme.accent),
                Span::styled(format!("{}▏", self.grid.search.query), theme.input),
            ]);
            buf.set_line(search_area.x, search_area.y, &line, search_area.width);
        }
        let s = self.summary();
        buf.set_style(summary_area, theme.status_bar);
        let state = if self.running() {
            Span::styled(" capturing ", theme.key)
        } else {
            match self.captures.first().and_then(|c| c.state) {
                Some(CaptureState::Cancelled) => {
                    Span::styled(" cancelled ", theme.status_bar.patch(theme.warn))
                }
                _ => Span::styled(" finished ", theme.status_bar.patch(theme.ok)),
            }
        };
        let mut spans = vec![
            state,
            Span::styled(
                format!(" ● {} running ", s.running),
                theme.status_bar.patch(theme.running),
            ),
            Span::styled(format!(" ✓ {} ok ", s.ok), theme.status_bar.patch(theme.ok)),
            Span::styled(
                format!(" ✗ {} failed ", s.failed),
                theme.status_bar.patch(if s.failed > 0 {
                    theme.error
                } else {
                    theme.muted
                }),
            ),
        ];
        if s.queued > 0 {
            spans.push(Span::styled(
                format!(" ◌ {} queued ", s.queued),
                theme.status_bar.patch(theme.queued),
            ));
        }
        if !self.grid.search.query.is_empty() && !self.grid.search.editing {
            spans.push(Span::styled(
                format!(" /{} ", self.grid.search.query),
                theme.status_bar.patch(theme.accent),
            ));
        }
        buf.set_line(
            summary_area.x,
            summary_area.y,
            &Line::from(spans),
            summary_area.width,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::demo::{demo_live, demo_plan};

    fn state() -> RunState {
        let plan = demo_plan();
        let live = demo_live(&plan);
        let mut s = RunState::new(RunCapture {
            plan,
            live,
            dir: PathBuf::from("/x"),
            state: None,
        });
        s.grid.area = Rect::new(0, 0, 120, 36);
        s
    }

    #[test]
    fn cancel_asks_rerun_only_failed_and_export_waits() {
        let mut s = state();
        assert_eq!(
            s.summary(),
            Summary {
                queued: 1,
                running: 2,
                ok: 1,
                failed: 3
            }
        );
        // Pane 1 runs: cancel asks, re-run refuses.
        assert!(
            matches!(s.update(Action::Cmd(Cmd::Cancel)), Some(Effect::Confirm { then, .. }) if matches!(*then, Effect::CancelStream { capture: 0, stream: 0 }))
        );
        assert!(
            matches!(s.update(Action::Cmd(Cmd::Rerun)), Some(Effect::Message(m)) if m.contains("still running"))
        );
        assert!(
            matches!(s.update(Action::Cmd(Cmd::Export)), Some(Effect::Message(_))),
            "export waits for the capture"
        );
        // Pane 2 exited 0: not re-run. Pane 6 failed: re-run.
        s.update(Action::Cmd(Cmd::Right));
        assert!(
            matches!(s.update(Action::Cmd(Cmd::Rerun)), Some(Effect::Message(m)) if m.contains("only failed"))
        );
        for _ in 0..4 {
            s.update(Action::Cmd(Cmd::Right));
        }
        assert_eq!(s.grid.focus, 5);
        assert!(matches!(
            s.update(Action::Cmd(Cmd::Rerun)),
            Some(Effect::Rerun { pane: 5 })
        ));
        assert!(
            matches!(s.update(Action::Cmd(Cmd::Back)), Some(Effect::Message(_))),
            "esc does not leave a running capture"
        );
        s.captures[0].state = Some(CaptureState::Complete);
        assert!(matches!(
            s.update(Action::Cmd(Cmd::Export)),
            Some(Effect::OpenExport)
        ));
    }

    #[test]
    fn search_typed_in_the_footer_finds_a_line() {
        let mut s = state();
        s.update(Action::Cmd(Cmd::Right));
        s.update(Action::Cmd(Cmd::Search));
        assert!(s.text_mode());
        for c in "segfault".chars() {
            s.update(Action::Key(crossterm::event::KeyEvent::new(
                KeyCode::Char(c),
                crossterm::event::KeyModifiers::NONE,
            )));
        }
        let effect = s.update(Action::Key(crossterm::event::KeyEvent::new(
            KeyCode::Enter,
            crossterm::event::KeyModifiers::NONE,
        )));
        assert!(effect.is_none(), "found: {effect:?}");
        assert!(!s.grid.views[1].follow, "the view holds on the match");
        assert_eq!(s.grid.views[1].mark, Some(0));
        assert!(
            matches!(
                s.update(Action::Cmd(Cmd::NextMatch)),
                Some(Effect::Message(_))
            ),
            "no older match"
        );
    }
}
