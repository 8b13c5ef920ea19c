//! What the Run and Replay screens share for fleets: the choice between the pane grid, the
//! overview matrix and the diff view, and the keys that move between them. Enter on a cell
//! opens its pane zoomed and Esc comes back; `o` toggles overview ↔ grid; `d` asks the app for
//! a diff (loaded and computed off the loop) and shows it when it arrives.
use super::diff::DiffView;
use super::overview::{OverviewEvent, OverviewState, matrix::Matrix};
use super::pane::PaneGrid;
use crate::tui::action::{Cmd, Effect};
use crate::tui::theme::Theme;
use crossterm::event::KeyEvent;
use ratatui::{buffer::Buffer, layout::Rect};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Grid,
    Overview,
    Diff,
}

#[derive(Debug, Clone)]
pub struct FleetView {
    pub view: View,
    pub overview: OverviewState,
    /// The diff shown (`None` while it loads).
    pub diff: Option<DiffView>,
    /// The zoomed pane was opened from the overview: Esc goes back there.
    from_overview: bool,
    /// The default view has been chosen (at the first draw, when the size is known).
    chosen: bool,
    /// Fold by shape (volatile tokens masked) instead of exactly.
    pub shape: bool,
}

impl FleetView {
    pub fn new(matrix: Matrix) -> FleetView {
        FleetView {
            view: View::Grid,
            overview: OverviewState::new(matrix),
            diff: None,
            from_overview: false,
            chosen: false,
            shape: false,
        }
    }

    pub fn text_mode(&self) -> bool {
        self.view == View::Overview && self.overview.text_mode()
    }

    pub fn key(&mut self, key: KeyEvent) {
        self.overview.key(key);
    }

    /// At the first draw: the overview when the grid cannot show every pane at a readable size.
    pub fn choose(&mut self, area: Rect) {
        if !self.chosen {
            self.chosen = true;
            // Only from the initial grid: a view picked before the first draw stays.
            if self.view == View::Grid && self.overview.matrix.streams() > PaneGrid::capacity(area)
            {
                self.view = View::Overview;
            }
        }
    }

    /// The diff arrived from the app.
    pub fn show_diff(&mut self, mut diff: DiffView) {
        diff.to_first_change();
        self.diff = Some(diff);
        self.view = View::Diff;
    }

    fn open(&mut self, stream: usize, grid: &mut PaneGrid) {
        grid.focus = stream.min(grid.len().saturating_sub(1));
        grid.zoom = true;
        self.from_overview = true;
        self.view = View::Grid;
    }

    fn event(&mut self, event: OverviewEvent, grid: &mut PaneGrid) -> Option<Effect> {
        match event {
            OverviewEvent::Open(stream) => {
                self.open(stream, grid);
                None
            }
            OverviewEvent::Diff { a, b } => {
                self.diff = None;
                self.view = View::Diff;
                Some(Effect::OpenDiff { a, b })
            }
            OverviewEvent::BaselineDiff(stream) => {
                self.diff = None;
                self.view = View::Diff;
                Some(Effect::OpenBaselineDiff { stream })
            }
            OverviewEvent::Message(m) => Some(Effect::Message(m)),
        }
    }

    /// A command for the fleet views: `None` when the screen should handle it itself (with
    /// `grid.focus` on the overview's cursor, so cancel or re-run act on the cell shown).
    pub fn command(&mut self, cmd: Cmd, grid: &mut PaneGrid) -> Option<Option<Effect>> {
        if cmd == Cmd::FoldMode {
            self.shape = !self.shape;
            return Some(Some(Effect::Refold { shape: self.shape }));
        }
        match self.view {
            View::Diff => match cmd {
                Cmd::Back | Cmd::Overview => {
                    self.view = View::Overview;
                    Some(None)
                }
                _ if self.diff.as_mut().is_some_and(|d| d.command(cmd)) => Some(None),
                _ => None,
            },
            View::Overview => match cmd {
                Cmd::Overview => {
                    if let Some(stream) = self.overview.cursor_stream() {
                        grid.focus = stream.min(grid.len().saturating_sub(1));
                    }
                    grid.zoom = false;
                    self.view = View::Grid;
                    Some(None)
                }
                Cmd::Back if self.overview.back() => Some(None),
                // Pane-only commands mean nothing here.
                Cmd::Follow | Cmd::NextMatch | Cmd::PrevMatch | Cmd::DiffLayout => Some(None),
                _ => match self.overview.command(cmd) {
                    Some(None) => Some(None),
                    Some(Some(event)) => Some(self.event(event, grid)),
                    None => {
                        if let Some(stream) = self.overview.cursor_stream() {
                            grid.focus = stream.min(grid.len().saturating_sub(1));
                        }
                        None
                    }
                },
            },
            View::Grid => match cmd {
                Cmd::Overview => {
                    self.overview.select_stream(grid.focus);
                    grid.zoom = false;
                    self.from_overview = false;
                    self.view = View::Overview;
                    Some(None)
                }
                Cmd::Back if grid.zoom && self.from_overview => {
                    grid.zoom = false;
                    self.from_overview = false;
                    self.overview.select_stream(grid.focus);
                    self.view = View::Overview;
                    Some(None)
                }
                Cmd::Mark | Cmd::Diff => {
                    self.overview.select_stream(grid.focus);
                    match self.overview.command(cmd) {
                        Some(Some(event)) => Some(self.event(event, grid)),
                        _ => Some(None),
                    }
                }
                _ => None,
            },
        }
    }

    /// A click in the overview: `None` when the overview is not shown.
    pub fn click(&mut self, column: u16, row: u16, grid: &mut PaneGrid) -> Option<Option<Effect>> {
        if self.view != View::Overview {
            return (self.view == View::Diff).then_some(None);
        }
        Some(
            self.overview
                .click(column, row)
                .and_then(|event| self.event(event, grid)),
        )
    }

    /// The wheel in the overview or the diff: `false` when the grid is shown.
    pub fn wheel(&mut self, lines: i32) -> bool {
        match self.view {
            View::Grid => false,
            View::Overview => {
                self.overview.wheel(lines);
                true
            }
            View::Diff => {
                if let Some(diff) = self.diff.as_mut() {
                    let cmd = if lines < 0 { Cmd::Up } else { Cmd::Down };
                    for _ in 0..lines.unsigned_abs() * 3 {
                        diff.command(cmd);
                    }
                }
                true
            }
        }
    }

    /// Draws the overview or the diff; `false` when the screen draws its pane grid.
    pub fn render(&mut self, area: Rect, buf: &mut Buffer, theme: &Theme) -> bool {
        self.choose(area);
        match self.view {
            View::Grid => false,
            View::Overview => {
                self.overview.render(area, buf, theme);
                true
            }
            View::Diff => {
                match self.diff.as_mut() {
                    Some(diff) => diff.render(area, buf, theme),
                    None => buf.set_string(area.x + 1, area.y, "loading the diff…", theme.muted),
                }
                true
            }
        }
    }

    /// Footer keys for the view shown (`grid` is the screen's own list).
    pub fn footer(&self, grid: &'static [Cmd]) -> &'static [Cmd] {
        match self.view {
            View::Grid => grid,
            View::Overview => &[
                Cmd::Zoom,
                Cmd::Overview,
                Cmd::ProblemsOnly,
                Cmd::TagFilter,
                Cmd::StepFilter,
                Cmd::Search,
                Cmd::Diff,
            ],
            View::Diff => &[Cmd::DiffLayout, Cmd::NextMatch, Cmd::Back],
        }
    }
}
