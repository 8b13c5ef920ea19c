//! Runs a plan: one task per stream, each with its own timeout and cancellation token. A stream
//! waits for its target to be ready (an SSH host connected), then for a slot on that target (an
//! SSH host runs a few channels at once), then for one of the global slots (file descriptors):
//! a slow or dead host only ever holds its own slots, so it never holds back the others.
//! Results go to the snapshot; a failing stream never stops the others.
use super::limits::Limits;
use super::live::LiveView;
use super::runner::{RunOutcome, StreamIo, TargetRunner};
use crate::model::CapturePlan;
use crate::snapshot::manifest::{CaptureState, Manifest, OutputRecord, StreamResult, StreamStatus};
use crate::snapshot::writer::{SnapshotWriter, timestamp};
use std::{
    sync::Arc,
    time::{Instant, SystemTime},
};
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

/// Lifecycle changes, for progress output. Bulk output never goes through here.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Started {
        stream: usize,
    },
    Ended {
        stream: usize,
        result: Box<StreamResult>,
    },
}

/// Cancels all streams or one. Cancelled streams keep the output they produced.
#[derive(Debug, Clone)]
pub struct CaptureControl {
    pub all: CancellationToken,
    pub streams: Vec<CancellationToken>,
}

impl CaptureControl {
    pub fn new(stream_count: usize) -> CaptureControl {
        let all = CancellationToken::new();
        let streams = (0..stream_count).map(|_| all.child_token()).collect();
        CaptureControl { all, streams }
    }

    pub fn cancel_all(&self) {
        self.all.cancel();
    }

    pub fn cancel(&self, stream: usize) {
        if let Some(token) = self.streams.get(stream) {
            token.cancel();
        }
    }
}

/// Runs capture plans.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    pub limits: Limits,
}

impl Engine {
    /// Runs every stream of `plan` into `writer`; returns the final manifest.
    /// Targets whose runner cannot be made fail their streams with the reason.
    pub async fn run(
        &self,
        plan: &CapturePlan,
        writer: Arc<SnapshotWriter>,
        live: Arc<LiveView>,
        control: &CaptureControl,
        events: Option<mpsc::Sender<StreamEvent>>,
    ) -> std::io::Result<Manifest> {
        let runners = plan.targets.iter().map(TargetRunner::for_target).collect();
        self.run_with_runners(plan, runners, writer, live, control, events)
            .await
    }

    /// As [`Engine::run`], with one runner (or why there is none) per plan target, in order, made
    /// by the caller with its settings (SSH inventory, `--accept-new`, database passwords from secrets).
    pub async fn run_with_runners(
        &self,
        plan: &CapturePlan,
        runners: Vec<Result<TargetRunner, String>>,
        writer: Arc<SnapshotWriter>,
        live: Arc<LiveView>,
        control: &CaptureControl,
        events: Option<mpsc::Sender<StreamEvent>>,
    ) -> std::io::Result<Manifest> {
        let runners: Vec<Arc<Result<TargetRunner, String>>> =
            runners.into_iter().map(Arc::new).collect();
        let global = Arc::new(Semaphore::new(self.limits.total.max(1)));
        let per_target: Vec<Arc<Semaphore>> = plan
            .targets
            .iter()
            .map(|t| Arc::new(Semaphore::new(self.limits.per_target(t).max(1))))
            .collect();
        let mut tasks = tokio::task::JoinSet::new();
        // Which stream each task runs, so a task that panics still ends its stream.
        let mut stream_of = std::collections::HashMap::new();
        for (index, spec) in plan.streams.iter().enumerate() {
            if spec.skip_reason.is_some() {
                live.streams[index].set_status(StreamStatus::Skipped, None);
                continue;
            }
            let spec = spec.clone();
            let runner = Arc::clone(&runners[spec.target]);
            let (writer, live, events, global, own) = (
                Arc::clone(&writer),
                Arc::clone(&live),
                events.clone(),
                Arc::clone(&global),
                Arc::clone(&per_target[spec.target]),
            );
            let cancel = control.streams[index].clone();
            let task = tasks.spawn(async move {
                let turn = tokio::select! {
                    turn = wait_turn(&runner, &spec, own, global) => turn,
                    _ = cancel.cancelled() => Err(not_run(StreamStatus::Cancelled, "cancelled before it started")),
                };
                let result = match turn {
                    Ok(_slots) => {
                        run_one(index, &spec, &runner, &writer, &live, &cancel, events.as_ref()).await
                    }
                    Err(ended) => Ok(ended),
                };
                let mut result = result.unwrap_or_else(|e| {
                    let mut failed = not_run(StreamStatus::Failed, "");
                    failed.reason = Some(format!("snapshot write failed: {e}"));
                    failed
                });
                writer.redact_result(&mut result);
                let _ = writer.settle_result(index, &mut result);
                if let Err(e) = writer.stream_ended(index, result.clone()) {
                    tracing::error!(stream = %spec.id, "cannot record the end of the stream in the snapshot: {e}");
                }
                live.streams[index].set_status(result.status, Some(result.clone()));
                live.changed.notify_one();
                if let Some(events) = events {
                    let _ = events.send(StreamEvent::Ended { stream: index, result: Box::new(result) }).await;
                }
            });
            stream_of.insert(task.id(), index);
        }
        while let Some(joined) = tasks.join_next_with_id().await {
            if let Err(e) = joined {
                tracing::error!("a stream task failed: {e}");
                let Some(&index) = stream_of.get(&e.id()) else {
                    continue;
                };
                // Never leave a stream `running` in a finished manifest.
                let mut failed = not_run(StreamStatus::Failed, "");
                failed.reason = Some(format!("casefile failed while running this stream: {e}"));
                if let Err(e) = writer.stream_ended(index, failed.clone()) {
                    tracing::error!("cannot record the end of the stream in the snapshot: {e}");
                }
                live.streams[index].set_status(failed.status, Some(failed));
                live.changed.notify_one();
            }
        }
        let state = if control.all.is_cancelled() {
            CaptureState::Cancelled
        } else {
            CaptureState::Complete
        };
        writer.finish(state)
    }
}

/// Waits for the stream's turn: its target ready (an SSH host connected, within the step's
/// timeout of its handshake starting), then a slot on that target, then a global one, in that
/// order, so a stream waiting for a busy, slow or unreachable host holds nothing others need.
async fn wait_turn(
    runner: &Result<TargetRunner, String>,
    spec: &crate::model::StreamSpec,
    own: Arc<Semaphore>,
    global: Arc<Semaphore>,
) -> Result<(OwnedSemaphorePermit, OwnedSemaphorePermit), StreamResult> {
    if let Ok(runner) = runner
        && let Err(reason) = runner.ready(spec.timeout).await
    {
        let mut timed_out = not_run(StreamStatus::TimedOut, &reason);
        timed_out.timed_out = true;
        return Err(timed_out);
    }
    let stopped = |_: AcquireError| not_run(StreamStatus::Failed, "the capture stopped");
    let own = own.acquire_owned().await.map_err(stopped)?;
    let global = global.acquire_owned().await.map_err(stopped)?;
    Ok((own, global))
}

fn not_run(status: StreamStatus, reason: &str) -> StreamResult {
    StreamResult {
        status,
        started_at: None,
        ended_at: Some(timestamp(SystemTime::now())),
        duration_ms: None,
        exit_code: None,
        signal: None,
        timed_out: false,
        truncated: false,
        reason: (!reason.is_empty()).then(|| reason.to_string()),
        stdout: OutputRecord::default(),
        stderr: OutputRecord::default(),
        data: None,
        artifact: None,
        redactions: 0,
    }
}

async fn run_one(
    index: usize,
    spec: &crate::model::StreamSpec,
    runner: &Result<TargetRunner, String>,
    writer: &SnapshotWriter,
    live: &LiveView,
    cancel: &tokio_util::sync::CancellationToken,
    events: Option<&mpsc::Sender<StreamEvent>>,
) -> std::io::Result<StreamResult> {
    let runner = match runner {
        Ok(runner) => runner,
        Err(reason) => return Ok(not_run(StreamStatus::Failed, reason)),
    };
    let (stdout, stderr) = writer.stream_started(index)?;
    live.streams[index].set_status(StreamStatus::Running, None);
    live.changed.notify_one();
    if let Some(events) = events {
        let _ = events.send(StreamEvent::Started { stream: index }).await;
    }
    let started = Instant::now();
    let data = match spec.action {
        crate::model::StepAction::Query(_) => Some(writer.data_started(index, "jsonl")?),
        crate::model::StepAction::Command(_) => None,
    };
    let artifact = match spec.fetch {
        Some(_) => Some(writer.artifact_file(index)?),
        None => None,
    };
    let mut io = StreamIo {
        stdout,
        stderr,
        data,
        live,
        stream: index,
        artifact,
    };
    let outcome = runner.run(spec, &mut io, cancel).await;
    let StreamIo {
        stdout,
        stderr,
        data,
        artifact,
        ..
    } = io;
    let (stdout, out_redactions, out_truncated) = stdout.finish()?;
    let (stderr, err_redactions, err_truncated) = stderr.finish()?;
    let (data, data_redactions, data_truncated) = match data {
        Some(data) => {
            let (record, redactions, truncated) = data.finish()?;
            (Some(record), redactions, truncated)
        }
        None => (None, 0, false),
    };
    let (artifact, artifact_truncated) = match artifact {
        Some(file) => file.finish().map(|(record, cut)| (Some(record), cut))?,
        None => (None, false),
    };
    let truncated =
        out_truncated || err_truncated || data_truncated || artifact_truncated || outcome.truncated;
    let (status, reason) = classify(&outcome);
    Ok(StreamResult {
        status,
        started_at: None,
        ended_at: Some(timestamp(SystemTime::now())),
        duration_ms: Some(started.elapsed().as_millis() as u64),
        exit_code: outcome.exit_code,
        signal: outcome.signal,
        timed_out: outcome.timed_out,
        truncated,
        reason,
        stdout,
        stderr,
        data,
        artifact,
        redactions: out_redactions + err_redactions + data_redactions,
    })
}

/// Maps how a run ended to the manifest's status. Exit 127 is the shell's "command not found".
fn classify(outcome: &RunOutcome) -> (StreamStatus, Option<String>) {
    if let Some(error) = &outcome.error {
        return (StreamStatus::Failed, Some(error.clone()));
    }
    if outcome.timed_out {
        return (
            StreamStatus::TimedOut,
            Some("the step ran past its timeout and was stopped".into()),
        );
    }
    if outcome.cancelled {
        return (
            StreamStatus::Cancelled,
            Some("cancelled by the operator".into()),
        );
    }
    if let Some(reason) = &outcome.not_available {
        return (StreamStatus::NotAvailable, Some(reason.clone()));
    }
    if outcome.exit_code == Some(127) {
        return (
            StreamStatus::NotAvailable,
            Some("a tool this step needs is not installed (exit 127; see stderr)".into()),
        );
    }
    if outcome.truncated {
        return (
            StreamStatus::Exited,
            Some("the output reached the step's cap (max_bytes or max_rows); the step was stopped there".into()),
        );
    }
    (StreamStatus::Exited, None)
}
