//! The app's side of the fleet views: it owns the fold jobs and runs the diffs and
//! comparisons the Run and Replay screens ask for, off the loop (`tui::fleet_jobs`), then hands
//! the results back to the screen that asked.
use super::{App, AppEvent, Screen};
use crate::incidents::scan_captures;
use crate::tui::action::Effect;
use crate::tui::fleet_jobs::{
    self, DiffSide, FleetEvent, FleetScreen, FoldJob, FoldSource, LiveCapture,
};
use crate::tui::widgets::fleet_view::{FleetView, View};
use std::sync::Arc;

/// One fold job per screen.
#[derive(Debug, Default)]
pub struct FoldJobs {
    run: Option<FoldJob>,
    replay: Option<FoldJob>,
}

impl App {
    fn fleet_screen(&self) -> FleetScreen {
        if self.screen == Screen::Replay {
            FleetScreen::Replay
        } else {
            FleetScreen::Run
        }
    }

    fn fleet_view(&mut self, screen: FleetScreen) -> Option<&mut FleetView> {
        match screen {
            FleetScreen::Run => self.run.as_mut().map(|r| &mut r.fleet),
            FleetScreen::Replay => self.replay.as_mut().map(|r| &mut r.fleet),
        }
    }

    /// (Re)starts folding the screen's streams (the previous job stops).
    pub(super) fn start_fold(&mut self, screen: FleetScreen, shape: bool) {
        let tx = self.tx.clone();
        match screen {
            FleetScreen::Run => {
                let Some(run) = self.run.as_ref() else { return };
                let source = FoldSource::Live {
                    captures: run
                        .captures
                        .iter()
                        .map(|c| LiveCapture {
                            plan: c.plan.clone(),
                            live: Arc::clone(&c.live),
                            dir: c.dir.clone(),
                        })
                        .collect(),
                    panes: run.panes.iter().map(|p| (p.capture, p.stream)).collect(),
                };
                let matrix = run.fleet.overview.matrix.clone();
                self.fold_jobs.run = None;
                self.fold_jobs.run =
                    Some(fleet_jobs::spawn_fold(source, matrix, shape, screen, tx));
            }
            FleetScreen::Replay => {
                let Some(replay) = self.replay.as_ref() else {
                    return;
                };
                let source = FoldSource::Snapshot {
                    dir: replay.player.dir.clone(),
                    manifest: Box::new(replay.player.manifest.clone()),
                };
                let matrix = replay.fleet.overview.matrix.clone();
                self.fold_jobs.replay = None;
                self.fold_jobs.replay =
                    Some(fleet_jobs::spawn_fold(source, matrix, shape, screen, tx));
            }
        }
    }

    /// The two sides of a diff of streams `a` and `b` on the current screen.
    fn diff_sides(&self, a: usize, b: usize) -> Option<(DiffSide, DiffSide)> {
        match self.fleet_screen() {
            FleetScreen::Run => {
                let run = self.run.as_ref()?;
                let side = |pane: usize| {
                    let p = run.panes.get(pane)?;
                    let c = run.captures.get(p.capture)?;
                    Some(DiffSide::live(&c.plan, &c.live, &c.dir, p.stream))
                };
                Some((side(a)?, side(b)?))
            }
            FleetScreen::Replay => {
                let player = &self.replay.as_ref()?.player;
                Some((
                    DiffSide::saved(&player.dir, &player.manifest, a)?,
                    DiffSide::saved(&player.dir, &player.manifest, b)?,
                ))
            }
        }
    }

    pub(super) fn fleet_effect(&mut self, effect: Effect) {
        let tx = self.tx.clone();
        let screen = self.fleet_screen();
        match effect {
            Effect::OpenDiff { a, b } => {
                let Some((left, right)) = self.diff_sides(a, b) else {
                    return;
                };
                // "(49 like it)" when the left side stands for its group.
                let note = self
                    .fleet_view(screen)
                    .and_then(|f| {
                        let fold = f.overview.fold.as_ref()?;
                        let col = f.overview.matrix.place(a)?.1;
                        let (_, group) = fold.group(col, a)?;
                        (group.streams.len() > 1 && f.overview.marked != Some(a))
                            .then(|| format!(" ({} like it)", group.streams.len()))
                    })
                    .unwrap_or_default();
                spawn_diff(tx, screen, move || fleet_jobs::diff(&left, &right, &note));
            }
            Effect::OpenBaselineDiff { stream } => {
                let Some(replay) = self.replay.as_ref() else {
                    return;
                };
                let Some(compare) = replay.fleet.overview.compare.clone() else {
                    return;
                };
                let Some(old_index) = compare.old_of(stream) else {
                    return;
                };
                let Some(right) =
                    DiffSide::saved(&replay.player.dir, &replay.player.manifest, stream)
                else {
                    return;
                };
                spawn_diff(tx, screen, move || {
                    let old = crate::snapshot::Snapshot::open(&compare.dir)
                        .map_err(|e| format!("{}: {e}", compare.dir.display()))?;
                    let left = DiffSide::saved(&old.dir, &old.manifest, old_index)
                        .ok_or_else(|| format!("{}: no stream {old_index}", compare.baseline))?;
                    fleet_jobs::diff(&left, &right, &format!(" (in {})", compare.baseline))
                });
            }
            Effect::Refold { shape } => {
                self.message = Some(if shape {
                    "folding by shape (numbers, ids, times masked)…".into()
                } else {
                    "folding identical outputs…".into()
                });
                self.start_fold(screen, shape);
            }
            Effect::PickBaseline => {
                let dir = self.config.capture_dir.clone();
                tokio::spawn(async move {
                    let found = tokio::task::spawn_blocking(move || scan_captures(&dir, 50))
                        .await
                        .unwrap_or_default();
                    let _ = tx.send(AppEvent::Fleet(FleetEvent::Baselines(found))).await;
                });
            }
            Effect::CompareWith(old) => {
                let Some(replay) = self.replay.as_ref() else {
                    return;
                };
                let new = replay.player.dir.clone();
                let shape = replay.fleet.shape;
                self.message = Some(format!("comparing with {}…", old.display()));
                tokio::spawn(async move {
                    let result = tokio::task::spawn_blocking(move || {
                        fleet_jobs::compare(&old, &new, shape).map(Box::new)
                    })
                    .await
                    .unwrap_or_else(|e| Err(format!("comparing failed: {e}")));
                    let _ = tx.send(AppEvent::Fleet(FleetEvent::Compared(result))).await;
                });
            }
            _ => {}
        }
    }

    pub(super) fn on_fleet_event(&mut self, event: FleetEvent) {
        match event {
            FleetEvent::Folded { screen, fold } => {
                if let Some(view) = self.fleet_view(screen) {
                    view.overview.set_fold(fold);
                }
            }
            FleetEvent::DiffReady { screen, result } => match result {
                Ok(diff) => {
                    if let Some(view) = self.fleet_view(screen)
                        && view.view == View::Diff
                    {
                        view.show_diff(*diff);
                    }
                }
                Err(e) => {
                    if let Some(view) = self.fleet_view(screen) {
                        view.view = View::Overview;
                    }
                    self.message = Some(format!("error: cannot diff: {e}"));
                }
            },
            FleetEvent::Baselines(found) => {
                let effect = self
                    .replay
                    .as_mut()
                    .and_then(|replay| replay.offer_baselines(found));
                if let Some(effect) = effect {
                    self.apply(effect);
                }
            }
            FleetEvent::Compared(result) => match result {
                Ok(view) => {
                    self.message = Some(view.summary());
                    if let Some(replay) = self.replay.as_mut() {
                        replay.fleet.overview.compare = Some(Arc::from(view));
                        replay.fleet.view = View::Overview;
                    }
                }
                Err(e) => self.message = Some(format!("error: cannot compare: {e}")),
            },
        }
    }
}

/// Runs a diff on a blocking thread and sends the view to the screen that asked.
fn spawn_diff(
    tx: tokio::sync::mpsc::Sender<AppEvent>,
    screen: FleetScreen,
    work: impl FnOnce() -> Result<crate::tui::widgets::diff::DiffView, String> + Send + 'static,
) {
    tokio::spawn(async move {
        let result = tokio::task::spawn_blocking(move || work().map(Box::new))
            .await
            .unwrap_or_else(|e| Err(format!("the diff failed: {e}")));
        let _ = tx
            .send(AppEvent::Fleet(FleetEvent::DiffReady { screen, result }))
            .await;
    });
}
