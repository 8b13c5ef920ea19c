//! Background work of the fleet views, so that no frame waits for it: folding streams into
//! groups as they finish (a thread per capture, polling the live view), loading and diffing two
//! streams, and comparing the replayed capture with an earlier one. The folding, the diff and
//! the comparison are the `fleet` module's (the same as `casefile show --group` and `casefile
//! diff`); this module turns their results into what the widgets draw and sends them to the
//! app's loop as [`AppEvent`]s.
use super::app::AppEvent;
use super::widgets::diff::{DiffView, Tag};
use super::widgets::overview::compare::{CompareView, Compared};
use super::widgets::overview::groups::{FoldView, GroupView, StepGroups};
use super::widgets::overview::matrix::Matrix;
use crate::capture::LiveView;
use crate::fleet::diff::{DiffOptions, LineKind, StreamDiff, StreamRef, diff_outputs};
use crate::fleet::read::Output;
use crate::fleet::{Baseline, Change, FoldItem, FoldMode, Folder, OutlierRule, compress_to_string};
use crate::model::CapturePlan;
use crate::snapshot::manifest::StreamResult;
use crate::snapshot::{Manifest, Snapshot, StreamRecord, StreamStatus};
use std::path::{Path, PathBuf};
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};
use std::time::Duration;
use tokio::sync::mpsc;

/// How often the live folder looks for newly finished streams.
const FOLD_POLL: Duration = Duration::from_millis(250);
/// Bytes of each side a diff compares (the files keep everything).
const DIFF_BYTES: u64 = 1 << 20;
/// Characters kept per diff line (a 1 MiB line is cut for display).
const DIFF_LINE_CHARS: usize = 2_000;

/// Which screen a result is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetScreen {
    Run,
    Replay,
}

/// Results of the fleet views' background work, delivered to the loop.
#[derive(Debug)]
pub enum FleetEvent {
    Folded {
        screen: FleetScreen,
        fold: Arc<FoldView>,
    },
    DiffReady {
        screen: FleetScreen,
        result: Result<Box<DiffView>, String>,
    },
    /// Recent captures to compare the replayed one with.
    Baselines(Vec<crate::incidents::RecentCapture>),
    Compared(Result<Box<CompareView>, String>),
}

/// What is folded: a running capture (its live view and snapshot folder) or a saved snapshot.
pub enum FoldSource {
    /// The Run screen: its captures (the first, then one per re-run) and, per overview stream
    /// (pane), the capture and stream it shows now, so a re-run folds its new result.
    Live {
        captures: Vec<LiveCapture>,
        panes: Vec<(usize, usize)>,
    },
    Snapshot {
        dir: PathBuf,
        manifest: Box<Manifest>,
    },
}

/// A capture the Run screen shows, as the fold job needs it.
#[derive(Debug)]
pub struct LiveCapture {
    pub plan: CapturePlan,
    pub live: Arc<LiveView>,
    pub dir: PathBuf,
}

/// Where overview stream `i` lives now: its capture's plan, live view and folder, and its
/// index in that capture.
pub type StreamSource<'a> = (&'a CapturePlan, &'a LiveView, &'a Path, usize);

/// A running fold job; stops when dropped (or replaced).
#[derive(Debug)]
pub struct FoldJob {
    stop: Arc<AtomicBool>,
}

impl Drop for FoldJob {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

pub fn mode_of(shape: bool) -> FoldMode {
    if shape {
        FoldMode::Shape
    } else {
        FoldMode::Exact
    }
}

/// Starts folding on its own thread; each change is sent as [`AppEvent::Folded`].
pub fn spawn_fold(
    source: FoldSource,
    matrix: Matrix,
    shape: bool,
    screen: FleetScreen,
    tx: mpsc::Sender<AppEvent>,
) -> FoldJob {
    let stop = Arc::new(AtomicBool::new(false));
    let job = FoldJob {
        stop: Arc::clone(&stop),
    };
    let spawned = std::thread::Builder::new()
        .name("casefile-fold".into())
        .spawn(move || {
            let mode = mode_of(shape);
            let send = |folder: &Folder| {
                let view = fold_view(folder, &matrix, shape);
                tx.blocking_send(AppEvent::Fleet(FleetEvent::Folded {
                    screen,
                    fold: Arc::new(view),
                }))
                .is_ok()
            };
            match source {
                FoldSource::Snapshot { dir, manifest } => {
                    match Folder::fold_snapshot(mode, &dir, &manifest) {
                        Ok(folder) => {
                            send(&folder);
                        }
                        Err(e) => tracing::warn!(error = %e, "folding the snapshot failed"),
                    }
                }
                FoldSource::Live { captures, panes } => {
                    let source = |i: usize| {
                        let (capture, stream) = *panes.get(i)?;
                        let c = captures.get(capture)?;
                        Some((&c.plan, &*c.live, c.dir.as_path(), stream))
                    };
                    fold_live(&source, panes.len(), mode, &stop, &send)
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the fold thread");
    }
    job
}

/// Polls the live view, folding each stream once it has ended (its files are complete then),
/// and sends the groups after each round that folded something. Ends when every stream is
/// folded or the job is stopped.
fn fold_live<'a>(
    source: &dyn Fn(usize) -> Option<StreamSource<'a>>,
    streams: usize,
    mode: FoldMode,
    stop: &AtomicBool,
    send: &dyn Fn(&Folder) -> bool,
) {
    let mut folder = Folder::new();
    let mut pending: Vec<usize> = (0..streams).collect();
    while !pending.is_empty() && !stop.load(Ordering::Relaxed) {
        let folded = fold_finished(source, mode, &mut folder, &mut pending);
        if folded && !send(&folder) {
            return;
        }
        if !pending.is_empty() {
            std::thread::sleep(FOLD_POLL);
        }
    }
}

/// Folds the `pending` streams that have ended (removing them from `pending`); true when
/// something was folded. Blocking (shape mode reads the files).
pub fn fold_finished<'a>(
    source: &dyn Fn(usize) -> Option<StreamSource<'a>>,
    mode: FoldMode,
    folder: &mut Folder,
    pending: &mut Vec<usize>,
) -> bool {
    let mut folded = false;
    pending.retain(|&i| {
        // A stream the screen no longer has is dropped from the job.
        let Some((plan, live, dir, stream)) = source(i) else {
            return false;
        };
        let Some(live_stream) = live.streams.get(stream) else {
            return false;
        };
        let (status, _, result) = live_stream.status();
        let Some(result) = result.filter(|_| status.is_final()) else {
            return true;
        };
        let record = record_of(plan, stream, result);
        match FoldItem::from_record(mode, dir, i, &record) {
            Ok(item) => {
                folder.add(item);
                folded = true;
            }
            Err(e) => tracing::warn!(error = %e, "folding a stream failed"),
        }
        false
    });
    folded
}

/// A live stream as the snapshot will record it (the engine settles paths and hashes before
/// it reports the end).
fn record_of(plan: &CapturePlan, index: usize, result: StreamResult) -> StreamRecord {
    let spec = plan.streams[index].clone();
    StreamRecord {
        target_name: plan.targets[spec.target].name.clone(),
        spec,
        result,
    }
}

/// The folder's groups per overview column, outliers marked (singletons smaller than the
/// largest group: [`OutlierRule::default`]).
pub fn fold_view(folder: &Folder, matrix: &Matrix, shape: bool) -> FoldView {
    let rule = OutlierRule::default();
    let steps = matrix
        .cols
        .iter()
        .map(|col| StepGroups {
            groups: folder
                .step(&col.preset, &col.step)
                .map(|step| {
                    step.groups()
                        .map(|g| GroupView {
                            streams: g.streams.iter().map(|s| *s as u32).collect(),
                            targets: compress_to_string(&g.targets),
                            bytes: g.bytes,
                            outlier: step.is_outlier(g.id, rule),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    let mut view = FoldView {
        shape,
        steps,
        ..FoldView::default()
    };
    view.index(matrix.streams());
    view
}

/// One side of a diff: the snapshot folder and the stream as recorded.
pub struct DiffSide {
    pub dir: PathBuf,
    pub index: usize,
    pub record: StreamRecord,
    /// What the header shows for it.
    pub label: String,
}

impl DiffSide {
    /// A stream of a running capture (its plan, live result if ended, and folder).
    pub fn live(plan: &CapturePlan, live: &LiveView, dir: &Path, index: usize) -> DiffSide {
        let (status, _, result) = live.streams[index].status();
        let result = result.unwrap_or_else(|| running_result(plan, index, status));
        let record = record_of(plan, index, result);
        DiffSide {
            dir: dir.to_path_buf(),
            index,
            label: label(&record),
            record,
        }
    }

    /// A stream of a saved snapshot.
    pub fn saved(dir: &Path, manifest: &Manifest, index: usize) -> Option<DiffSide> {
        let record = manifest.streams.get(index)?.clone();
        Some(DiffSide {
            dir: dir.to_path_buf(),
            index,
            label: label(&record),
            record,
        })
    }
}

/// A running stream's result so far: its files as the writer names them.
fn running_result(plan: &CapturePlan, index: usize, status: StreamStatus) -> StreamResult {
    let id = &plan.streams[index].id;
    let file = |ext: &str| crate::snapshot::OutputRecord {
        path: format!("{}/{id}.{ext}", crate::snapshot::STREAMS_DIR),
        ..Default::default()
    };
    StreamResult {
        status,
        started_at: None,
        ended_at: None,
        duration_ms: None,
        exit_code: None,
        signal: None,
        timed_out: false,
        truncated: false,
        reason: None,
        stdout: file("stdout"),
        stderr: file("stderr"),
        data: None,
        artifact: None,
        redactions: 0,
    }
}

/// `web07 · linux-triage/kernel · exit 0`, sanitised.
fn label(record: &StreamRecord) -> String {
    let r = &record.result;
    let outcome = match (r.status, r.exit_code) {
        (StreamStatus::Exited, Some(code)) => format!("exit {code}"),
        (status, _) => status.label().to_string(),
    };
    crate::sanitize::text(&format!(
        "{} · {}/{} · {outcome}",
        record.target_name, record.spec.preset, record.spec.step
    ))
    .into_owned()
}

/// Reads and diffs both outputs (stdout, then stderr when it differs) of two streams. Blocking.
pub fn diff(a: &DiffSide, b: &DiffSide, left_note: &str) -> Result<DiffView, String> {
    let options = DiffOptions {
        context: usize::MAX,
        max_bytes: DIFF_BYTES,
        ..DiffOptions::default()
    };
    let old = StreamRef {
        dir: &a.dir,
        index: a.index,
        record: &a.record,
    };
    let new = StreamRef {
        dir: &b.dir,
        index: b.index,
        record: &b.record,
    };
    let stdout = diff_outputs(old, new, Output::Stdout, &options).map_err(|e| e.to_string())?;
    let stderr = diff_outputs(old, new, Output::Stderr, &options).map_err(|e| e.to_string())?;
    Ok(diff_view(
        format!("{}{left_note}", a.label),
        b.label.clone(),
        &stdout,
        &stderr,
    ))
}

/// The view of two outputs' diffs: stdout, then stderr when it differs.
pub fn diff_view(
    left: String,
    right: String,
    stdout: &StreamDiff,
    stderr: &StreamDiff,
) -> DiffView {
    let mut lines = Vec::new();
    push_lines(&mut lines, stdout);
    if !stderr.is_identical() {
        lines.push((Tag::Same, "── stderr ──".to_string()));
        push_lines(&mut lines, stderr);
    }
    let mut view = DiffView::new(left, right, lines);
    view.truncated = stdout.truncated || stderr.truncated;
    view
}

/// The diff's lines for the view: sanitised for the terminal, cut to a displayable length.
fn push_lines(out: &mut Vec<(Tag, String)>, diff: &StreamDiff) {
    for hunk in &diff.hunks {
        for line in &hunk.lines {
            let tag = match line.kind {
                LineKind::Same => Tag::Same,
                LineKind::Removed => Tag::Removed,
                LineKind::Added => Tag::Added,
            };
            let cut: String = line.text.chars().take(DIFF_LINE_CHARS).collect();
            out.push((tag, crate::sanitize::cells(cut.as_bytes())));
        }
    }
}

/// Compares the replayed snapshot (`new`) with an earlier one. Blocking.
pub fn compare(old_dir: &Path, new_dir: &Path, shape: bool) -> Result<CompareView, String> {
    let old = Snapshot::open(old_dir).map_err(|e| format!("{}: {e}", old_dir.display()))?;
    let new = Snapshot::open(new_dir).map_err(|e| format!("{}: {e}", new_dir.display()))?;
    let baseline = Baseline::compare(&old, &new, mode_of(shape)).map_err(|e| e.to_string())?;
    let n = new.manifest.streams.len();
    let mut view = CompareView {
        baseline: old.manifest.id.clone(),
        dir: old.dir.clone(),
        streams: vec![None; n],
        differs: vec![Vec::new(); n],
        missing: Vec::new(),
    };
    for change in baseline.streams {
        let compared = match change.change {
            Change::Changed => Compared::Changed,
            Change::Unchanged => Compared::Unchanged,
            Change::New => Compared::New,
            Change::Missing => {
                view.missing.push(
                    crate::sanitize::text(&format!(
                        "{} · {}/{}",
                        change.target, change.preset, change.step
                    ))
                    .into_owned(),
                );
                continue;
            }
        };
        if let Some(i) = change.new.filter(|i| *i < n) {
            view.streams[i] = Some((compared, change.old));
            view.differs[i] = change.differs;
        }
    }
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::OutlierRule;

    /// A re-run pane folds from the capture it shows now: pointing web07's odd `kernel` cell at
    /// a result like the majority's (what a re-run that came back normal records) clears the
    /// outlier, while the same fold without the re-run still flags it.
    #[test]
    fn a_rerun_pane_folds_from_the_capture_it_shows_now() {
        let app = crate::tui::demo::demo_fleet_app(crate::tui::theme::Theme::dark());
        let run = app.run.as_ref().expect("the demo fleet runs");
        let capture = &run.captures[0];
        let find = |host: &str| {
            capture
                .plan
                .streams
                .iter()
                .position(|s| s.step == "kernel" && capture.plan.targets[s.target].name == host)
                .expect("a kernel stream")
        };
        let (odd, normal) = (find("web07"), find("web01"));
        let outlier_after = |rerun: bool| {
            let source = |i: usize| {
                let stream = if rerun && i == odd { normal } else { i };
                Some((&capture.plan, &*capture.live, capture.dir.as_path(), stream))
            };
            let mut folder = Folder::new();
            let mut pending: Vec<usize> = (0..capture.plan.streams.len()).collect();
            fold_finished(&source, FoldMode::Exact, &mut folder, &mut pending);
            assert!(folder.place(odd).is_some(), "the pane was folded");
            folder.is_outlier(odd, OutlierRule::default())
        };
        assert!(outlier_after(false), "web07's kernel is the odd one out");
        assert!(
            !outlier_after(true),
            "after its re-run it folds with the majority"
        );
    }
}
