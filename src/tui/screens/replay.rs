//! Replay: a saved snapshot played back in the same pane grid with its original timing, from
//! the journal's timestamped chunk index. Play/pause, speed 0.5×–16×, seek, jump to the end,
//! search. The journal index and seeking live in the snapshot layer (`snapshot::player`); this
//! screen keeps one ring per pane and draws them. A fleet's snapshot opens on the overview
//! matrix (see `widgets::fleet_view`), and "compare with…" (`c`) sets it against an earlier
//! capture: per target and step changed, unchanged, new or missing, with the diff.
use crate::capture::OutputRing;
use crate::snapshot::StreamStatus;
use crate::snapshot::player::{Feed, Player};
use crate::tui::action::{Action, Cmd, Effect};
use crate::tui::theme::Theme;
use crate::tui::widgets::fleet_view::{FleetView, View};
use crate::tui::widgets::overview::{
    cells::{CellState, CellStatus},
    compare::BaselinePicker,
    matrix::{Matrix, StreamKey},
    search::ring_holds,
};
use crate::tui::widgets::pane::{
    PaneGrid, PaneInfo, PaneStatus, RingExtent, Search, render_grid, ring_len,
};
use crossterm::event::KeyCode;
use ratatui::{
    buffer::Buffer,
    layout::{Constraint, Layout, Rect},
    text::{Line, Span},
};
use std::{path::PathBuf, time::Duration};

/// Playback speeds offered.
pub const SPEEDS: [f64; 6] = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0];
/// A seek step.
const SEEK_STEP_US: u64 = 5_000_000;
/// Lines kept per pane.
const RING_LINES: usize = 20_000;
const RING_BYTES: usize = 4 << 20;

/// State of the replay screen: the snapshot layer's [`Player`] plus one ring per pane.
#[derive(Debug)]
pub struct ReplayState {
    pub player: Player,
    /// What the header shows (the folder, or the archive opened).
    pub source: PathBuf,
    rings: Vec<OutputRing>,
    pub speed_index: usize,
    pub playing: bool,
    pub grid: PaneGrid,
    timeline_area: Rect,
    /// Overview, diff, and which of them (or the grid) is shown.
    pub fleet: FleetView,
    /// "Compare with…" open: the captures offered.
    pub picker: Option<BaselinePicker>,
}

impl ReplayState {
    pub const COMMANDS: &'static [Cmd] = &[
        Cmd::PlayPause,
        Cmd::Faster,
        Cmd::Slower,
        Cmd::SeekBack,
        Cmd::SeekForward,
        Cmd::JumpEnd,
        Cmd::Restart,
        Cmd::Right,
        Cmd::Zoom,
        Cmd::Search,
        Cmd::NextMatch,
        Cmd::Overview,
        Cmd::ProblemsOnly,
        Cmd::TagFilter,
        Cmd::StepFilter,
        Cmd::Mark,
        Cmd::Diff,
        Cmd::DiffLayout,
        Cmd::FoldMode,
        Cmd::Compare,
    ];

    /// The footer's keys while the pane grid is shown.
    pub const GRID_FOOTER: &'static [Cmd] = &[
        Cmd::PlayPause,
        Cmd::Faster,
        Cmd::Slower,
        Cmd::SeekForward,
        Cmd::Search,
        Cmd::Overview,
    ];

    pub fn footer(&self) -> &'static [Cmd] {
        self.fleet.footer(Self::GRID_FOOTER)
    }

    /// True while playback moves or the overview's text search scans.
    pub fn animating(&self) -> bool {
        self.playing || self.fleet.overview.searching()
    }

    /// Opens a snapshot folder (or its manifest.json, or an exported archive) and starts playing
    /// from the beginning. Blocking (an archive is unpacked): the app opens the [`Player`] off
    /// its loop and calls [`ReplayState::new`].
    pub fn open(path: &std::path::Path) -> Result<ReplayState, String> {
        Player::open(path)
            .map(ReplayState::new)
            .map_err(|e| e.to_string())
    }

    /// Starts playing an opened snapshot from the beginning.
    pub fn new(player: Player) -> ReplayState {
        let n = player.manifest.streams.len();
        let matrix = Matrix::build(
            &player.manifest.targets,
            player.manifest.streams.iter().map(|s| StreamKey {
                target: s.spec.target,
                preset: &s.spec.preset,
                step: &s.spec.step,
            }),
        );
        let mut state = ReplayState {
            fleet: FleetView::new(matrix),
            picker: None,
            source: player.source.clone(),
            player,
            rings: (0..n)
                .map(|_| OutputRing::new(RING_LINES, RING_BYTES))
                .collect(),
            speed_index: 1,
            playing: true,
            grid: PaneGrid::new(n),
            timeline_area: Rect::default(),
        };
        state.seek(0);
        state
    }

    pub fn speed(&self) -> f64 {
        SPEEDS[self.speed_index]
    }

    pub fn text_mode(&self) -> bool {
        self.grid.search.editing || self.fleet.text_mode()
    }

    fn pos(&self) -> u64 {
        self.player.pos()
    }

    fn duration(&self) -> u64 {
        self.player.duration()
    }

    /// Moves playback to `pos`, loading what the panes show at that moment.
    pub fn seek(&mut self, pos: u64) {
        // Going back can un-finish streams: every cell is read again.
        if pos < self.pos() {
            self.fleet.overview.cache.invalidate_all();
            self.fleet.overview.touch();
        }
        if let Some(search) = self.fleet.overview.search.as_mut() {
            search.restart();
        }
        let rings = &mut self.rings;
        self.player.seek(pos, &mut |feed| match feed {
            Feed::Reset => {
                for ring in rings.iter_mut() {
                    *ring = OutputRing::new(RING_LINES, RING_BYTES);
                }
            }
            Feed::Bytes { stream, fd, bytes } => {
                if let Some(ring) = rings.get_mut(stream) {
                    ring.push(fd, bytes);
                }
            }
        });
    }

    fn status(&self, stream: usize) -> PaneStatus {
        let result = &self.player.manifest.streams[stream].result;
        let pos = self.pos();
        match self.player.index.times(stream) {
            (_, Some(end)) if end <= pos => {
                PaneStatus::from_parts(result.status, None, Some(result))
            }
            (Some(start), _) if start <= pos => PaneStatus::Running {
                elapsed: Duration::from_micros(pos - start),
            },
            (None, None) if result.status.is_final() => {
                PaneStatus::from_parts(result.status, None, Some(result))
            }
            (None, Some(_)) if result.status == StreamStatus::Skipped => {
                PaneStatus::from_parts(result.status, None, Some(result))
            }
            _ => PaneStatus::Queued,
        }
    }

    /// Re-reads the cells that can still change at the current position.
    pub fn refresh_cells(&mut self) {
        let (player, rings) = (&self.player, &self.rings);
        self.fleet
            .overview
            .refresh(&mut |stream| cell_at(player, rings, stream));
    }

    fn scan(&mut self) {
        let again = self.playing;
        let rings = &self.rings;
        self.fleet.overview.scan(again, &mut |stream, matcher| {
            rings.get(stream).is_some_and(|r| ring_holds(r, matcher))
        });
    }

    fn extent(&self, pane: usize) -> RingExtent {
        self.rings
            .get(pane)
            .map(|r| (r.dropped_lines, ring_len(r)))
            .unwrap_or((0, 0))
    }

    pub fn update(&mut self, action: Action) -> Option<Effect> {
        match action {
            Action::Tick(dt) => {
                if self.playing {
                    let step = (dt.as_micros() as f64 * self.speed()) as u64;
                    let target = self.pos().saturating_add(step.max(1));
                    if target >= self.duration() {
                        self.playing = false;
                    }
                    self.seek(target);
                }
                self.scan();
                None
            }
            Action::Key(key) if self.fleet.text_mode() => {
                self.fleet.key(key);
                None
            }
            Action::Click { column, row } if self.fleet.view != View::Grid => {
                let grid = &mut self.grid;
                self.fleet.click(column, row, grid).flatten()
            }
            Action::Scroll { lines, .. } if self.fleet.wheel(lines) => None,
            Action::Key(key) if self.grid.search.editing => {
                match key.code {
                    KeyCode::Esc => self.grid.search = Search::default(),
                    KeyCode::Enter => {
                        self.grid.search.editing = false;
                        let focus = self.grid.focus;
                        if let Some(ring) = self.rings.get(focus)
                            && !self.grid.find(ring, true)
                        {
                            return Some(Effect::Message(format!(
                                "`{}` not found in this pane (so far)",
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
                let t = self.timeline_area;
                if t.width > 0 && row == t.y && column >= t.x && column < t.x + t.width {
                    let fraction = (column - t.x) as f64 / t.width.max(1) as f64;
                    self.seek((self.duration() as f64 * fraction) as u64);
                } else {
                    self.grid.click(column, row);
                }
                None
            }
            Action::Scroll { column, row, lines } => {
                let extents: Vec<RingExtent> =
                    (0..self.rings.len()).map(|i| self.extent(i)).collect();
                self.grid.wheel(column, row, lines, &|i| {
                    extents.get(i).copied().unwrap_or((0, 0))
                });
                None
            }
            Action::Cmd(cmd) => self.command(cmd),
        }
    }

    /// The captures found for "compare with…" (this one left out).
    pub fn offer_baselines(
        &mut self,
        mut found: Vec<crate::incidents::RecentCapture>,
    ) -> Option<Effect> {
        let own = &self.player.manifest.id;
        found.retain(|c| &c.id != own);
        if found.is_empty() {
            return Some(Effect::Message(
                "no other capture in the capture dir to compare with".into(),
            ));
        }
        self.picker = Some(BaselinePicker {
            captures: found,
            selected: 0,
        });
        None
    }

    fn picker_command(&mut self, cmd: Cmd) -> Option<Effect> {
        let picker = self.picker.as_mut()?;
        let last = picker.captures.len().saturating_sub(1);
        match cmd {
            Cmd::Up => picker.selected = picker.selected.saturating_sub(1),
            Cmd::Down => picker.selected = (picker.selected + 1).min(last),
            Cmd::Top => picker.selected = 0,
            Cmd::Bottom => picker.selected = last,
            Cmd::Zoom | Cmd::Select => {
                let dir = picker.captures.get(picker.selected)?.dir.clone();
                self.picker = None;
                return Some(Effect::CompareWith(dir));
            }
            Cmd::Back | Cmd::Compare => self.picker = None,
            Cmd::Quit => return Some(Effect::Quit),
            _ => {}
        }
        None
    }

    fn command(&mut self, cmd: Cmd) -> Option<Effect> {
        if self.picker.is_some() {
            return self.picker_command(cmd);
        }
        if cmd == Cmd::Compare {
            if self.fleet.overview.compare.take().is_some() {
                return Some(Effect::Message("comparison cleared".into()));
            }
            return Some(Effect::PickBaseline);
        }
        if let Some(effect) = self.fleet.command(cmd, &mut self.grid) {
            return effect;
        }
        match cmd {
            Cmd::PlayPause => {
                if !self.playing && self.pos() >= self.duration() {
                    self.seek(0);
                }
                self.playing = !self.playing;
            }
            Cmd::Faster => self.speed_index = (self.speed_index + 1).min(SPEEDS.len() - 1),
            Cmd::Slower => self.speed_index = self.speed_index.saturating_sub(1),
            Cmd::SeekForward => self.seek(self.pos().saturating_add(SEEK_STEP_US)),
            Cmd::SeekBack => self.seek(self.pos().saturating_sub(SEEK_STEP_US)),
            Cmd::JumpEnd => {
                self.seek(self.duration());
                self.playing = false;
            }
            Cmd::Restart => {
                self.seek(0);
                self.playing = true;
            }
            Cmd::Search => {
                self.grid.search = Search {
                    query: String::new(),
                    editing: true,
                }
            }
            Cmd::NextMatch | Cmd::PrevMatch => {
                let focus = self.grid.focus;
                let found = self
                    .rings
                    .get(focus)
                    .is_some_and(|ring| self.grid.find(ring, cmd == Cmd::NextMatch));
                if !found {
                    return Some(Effect::Message("no more matches".into()));
                }
            }
            Cmd::Back if self.grid.zoom => self.grid.zoom = false,
            Cmd::Back => return Some(Effect::Home),
            Cmd::Quit => return Some(Effect::Quit),
            other => {
                let extents: Vec<RingExtent> =
                    (0..self.rings.len()).map(|i| self.extent(i)).collect();
                self.grid
                    .update(other, &|i| extents.get(i).copied().unwrap_or((0, 0)));
            }
        }
        None
    }

    pub fn context(&self) -> String {
        format!("replay {}", self.source.display())
    }

    pub fn render(&mut self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let search_height = u16::from(self.grid.search.editing);
        let [grid_area, search_area, bar_area] = Layout::vertical([
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
        self.render_bar(search_area, bar_area, buf, theme);
    }

    fn render_grid(&self, grid_area: Rect, buf: &mut Buffer, theme: &Theme) {
        let this = self;
        render_grid(&this.grid, grid_area, buf, theme, &mut |index, draw| {
            let Some(record) = this.player.manifest.streams.get(index) else {
                return;
            };
            let title = format!(
                "{:02} {} · {}/{}",
                index + 1,
                record.target_name,
                record.spec.preset,
                record.spec.step
            );
            let ring = &this.rings[index];
            draw(&PaneInfo {
                title,
                status: this.status(index),
                bytes: ring.total_bytes,
                ring,
            });
        });
    }

    fn render_bar(&mut self, search_area: Rect, bar_area: Rect, buf: &mut Buffer, theme: &Theme) {
        if self.grid.search.editing {
            let line = Line::from(vec![
                Span::styled(" search: ", theme.accent),
                Span::styled(format!("{}▏", self.grid.search.query), theme.input),
            ]);
            buf.set_line(search_area.x, search_area.y, &line, search_area.width);
        }
        buf.set_style(bar_area, theme.status_bar);
        let state = if self.playing {
            Span::styled(" ▶ playing ", theme.key)
        } else {
            Span::styled(" ⏸ paused ", theme.status_bar.patch(theme.warn))
        };
        let clock = format!(" {} / {} ", clock(self.pos()), clock(self.duration()));
        let speed = format!(" {}× ", self.speed());
        let search = if self.grid.search.query.is_empty() || self.grid.search.editing {
            String::new()
        } else {
            format!(" /{} ", self.grid.search.query)
        };
        let used = 11 + clock.chars().count() + speed.chars().count() + search.chars().count() + 1;
        let width = (bar_area.width as usize).saturating_sub(used);
        let filled = if self.duration() == 0 {
            width
        } else {
            (width as u128 * self.pos() as u128 / self.duration() as u128) as usize
        };
        let line = Line::from(vec![
            state,
            Span::styled(speed, theme.status_bar.patch(theme.accent)),
            Span::styled(clock, theme.status_bar),
            Span::styled(search, theme.status_bar.patch(theme.accent)),
            Span::styled(
                "━".repeat(filled),
                theme.status_bar.patch(theme.timeline_fill),
            ),
            Span::styled(
                "─".repeat(width - filled.min(width)),
                theme.status_bar.patch(theme.timeline),
            ),
        ]);
        buf.set_line(bar_area.x, bar_area.y, &line, bar_area.width);
        self.timeline_area = Rect::new(bar_area.x + used as u16 - 1, bar_area.y, width as u16, 1);
        if let Some(picker) = &self.picker {
            picker.render(
                search_area.union(bar_area).union(self.grid.area),
                buf,
                theme,
            );
        }
    }
}

/// A stream's cell at the player's position: what had happened by then, and the bytes shown.
fn cell_at(player: &Player, rings: &[OutputRing], stream: usize) -> CellState {
    let Some(record) = player.manifest.streams.get(stream) else {
        return CellState::default();
    };
    let result = &record.result;
    let pos = player.pos();
    let finished = CellStatus::from_status(result.status, Some(result));
    let status = match player.index.times(stream) {
        (_, Some(end)) if end <= pos => finished,
        (Some(start), _) if start <= pos => CellStatus::Running,
        (None, None) if result.status.is_final() => finished,
        (None, Some(_)) if result.status == StreamStatus::Skipped => finished,
        _ => CellStatus::Queued,
    };
    CellState {
        status,
        bytes: rings.get(stream).map(|r| r.total_bytes).unwrap_or(0),
    }
}

/// `mm:ss.mmm`.
fn clock(us: u64) -> String {
    let ms = us / 1000;
    format!(
        "{:02}:{:02}.{:03}",
        ms / 60_000,
        (ms / 1000) % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plays_with_original_timing_seeks_and_changes_speed() {
        let dir = tempfile::tempdir().expect("tmp");
        let snapshot = crate::tui::demo::write_demo_snapshot(dir.path()).expect("snapshot");
        let mut r = ReplayState::open(&snapshot).expect("open");
        assert_eq!(r.duration(), 6_000_000);
        assert_eq!(r.pos(), 0);
        assert!(
            matches!(r.status(0), PaneStatus::Running { .. }),
            "stream 0 starts at t=0"
        );
        assert!(matches!(r.status(6), PaneStatus::Queued));
        assert_eq!(r.rings[0].total_bytes, 0, "nothing printed at t=0");
        // 0.35 s at 1×: the first chunk (t=0.3 s) has arrived, the second (0.6 s) not yet.
        r.update(Action::Tick(Duration::from_millis(350)));
        assert_eq!(r.rings[0].lines.len(), 1);
        r.update(Action::Cmd(Cmd::Faster));
        r.update(Action::Cmd(Cmd::Faster));
        assert_eq!(r.speed(), 4.0);
        r.update(Action::Tick(Duration::from_millis(100)));
        assert_eq!(r.pos(), 750_000, "4× speed");
        r.update(Action::Cmd(Cmd::JumpEnd));
        assert!(!r.playing);
        assert!(matches!(
            r.status(3),
            PaneStatus::Done {
                exit_code: Some(1),
                ..
            }
        ));
        assert!(matches!(
            r.status(5),
            PaneStatus::Other {
                status: StreamStatus::Failed,
                ..
            }
        ));
        let at_end = r.rings[0].lines.len();
        r.update(Action::Cmd(Cmd::SeekBack));
        assert_eq!(r.pos(), 1_000_000);
        assert!(
            r.rings[0].lines.len() < at_end,
            "seeking back rebuilds the panes"
        );
        r.update(Action::Cmd(Cmd::Restart));
        assert_eq!((r.pos(), r.rings[1].total_bytes), (0, 0));
        for _ in 0..10 {
            r.update(Action::Cmd(Cmd::Slower));
        }
        assert_eq!(r.speed(), 0.5);
        r.update(Action::Cmd(Cmd::PlayPause));
        assert!(!r.playing);
        r.update(Action::Cmd(Cmd::PlayPause));
        assert!(r.playing);
    }
}
