//! The engine on the local target: parallelism, the concurrency limit, timeouts that kill the
//! whole process group, cancellation, output caps, stdout/stderr separation, "not available".
use casefile::capture::{CaptureControl, Engine, Limits, LiveView};
use casefile::model::{CapturePlan, StepAction, StreamSpec, Target};
use casefile::redact::Redactor;
use casefile::snapshot::journal::{JournalEvent, read_journal};
use casefile::snapshot::{Manifest, SnapshotWriter, StreamStatus};
use std::{sync::Arc, time::Duration};

fn stream(id: &str, command: &str, timeout: Duration) -> StreamSpec {
    StreamSpec::new(
        id,
        0,
        "adhoc",
        id,
        StepAction::Command(command.into()),
        timeout,
    )
}

fn plan(streams: Vec<StreamSpec>) -> CapturePlan {
    CapturePlan {
        incident: None,
        targets: vec![Target::local()],
        streams,
    }
}

struct Run {
    manifest: Manifest,
    dir: std::path::PathBuf,
    _tmp: tempfile::TempDir,
}

async fn run_with(
    plan: CapturePlan,
    concurrency: usize,
    control: Option<CaptureControl>,
    before: impl FnOnce(&CaptureControl),
) -> Run {
    let tmp = tempfile::tempdir().expect("tmp");
    let writer = SnapshotWriter::create(
        tmp.path(),
        &plan,
        Redactor::patterns_only(),
        "test@host".into(),
    )
    .expect("writer");
    let live = Arc::new(LiveView::new(plan.streams.len(), 100, 1 << 20));
    let control = control.unwrap_or_else(|| CaptureControl::new(plan.streams.len()));
    before(&control);
    let manifest = Engine {
        limits: Limits::new(Some(concurrency), None),
    }
    .run(&plan, Arc::clone(&writer), live, &control, None)
    .await
    .expect("run");
    Run {
        manifest,
        dir: writer.dir().to_path_buf(),
        _tmp: tmp,
    }
}

async fn run(plan: CapturePlan, concurrency: usize) -> Run {
    run_with(plan, concurrency, None, |_| {}).await
}

fn read(run: &Run, rel: &str) -> String {
    String::from_utf8_lossy(&std::fs::read(run.dir.join(rel)).expect("stream file")).into_owned()
}

/// (start time, end time) of each stream from the journal, in microseconds.
fn spans(run: &Run) -> Vec<(u64, u64)> {
    let events = read_journal(&run.dir.join("journal.jsonl")).expect("journal");
    let mut spans = vec![(0, 0); run.manifest.streams.len()];
    for e in events {
        match e {
            JournalEvent::Start { t, s } => spans[s].0 = t,
            JournalEvent::End { t, s, .. } => spans[s].1 = t,
            _ => {}
        }
    }
    spans
}

#[tokio::test]
async fn streams_run_in_parallel_and_respect_the_limit() {
    let streams = (0..4)
        .map(|i| {
            stream(
                &format!("s{i}"),
                "sleep 0.5; echo done",
                Duration::from_secs(20),
            )
        })
        .collect::<Vec<_>>();
    let parallel = run(plan(streams.clone()), 4).await;
    let spans = spans(&parallel);
    let first_end = spans.iter().map(|s| s.1).min().expect("ends");
    assert!(
        spans.iter().all(|s| s.0 < first_end),
        "all four started before any ended: {spans:?}"
    );

    let serial = run(plan(streams), 1).await;
    let mut spans = self::spans(&serial);
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "with concurrency 1 a stream starts only after the previous ended: {spans:?}"
        );
    }
    assert!(
        serial
            .manifest
            .streams
            .iter()
            .all(|s| s.result.status == StreamStatus::Exited)
    );
}

#[tokio::test]
async fn stdout_and_stderr_are_kept_apart_with_exit_codes_and_signals() {
    let run = run(
        plan(vec![
            stream(
                "mixed",
                "echo to-out; echo to-err >&2; exit 7",
                Duration::from_secs(10),
            ),
            stream("signalled", "kill -TERM $$", Duration::from_secs(10)),
        ]),
        4,
    )
    .await;
    let mixed = &run.manifest.streams[0];
    assert_eq!(read(&run, &mixed.result.stdout.path), "to-out\n");
    assert_eq!(read(&run, &mixed.result.stderr.path), "to-err\n");
    assert_eq!(
        (mixed.result.status, mixed.result.exit_code),
        (StreamStatus::Exited, Some(7))
    );
    let signalled = &run.manifest.streams[1];
    assert_eq!(
        (signalled.result.exit_code, signalled.result.signal),
        (None, Some(15))
    );
}

/// Running (a zombie awaiting its reaper counts as dead: it has been killed).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            stat.rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next())
                != Some("Z")
        }
    }
}

#[tokio::test]
async fn a_timeout_kills_the_step_and_its_grandchildren() {
    let tmp = tempfile::tempdir().expect("tmp");
    let pidfile = tmp.path().join("grandchild.pid");
    let command = format!(
        "echo before; sh -c 'sleep 300 & echo $! > {}; wait'; echo never",
        pidfile.display()
    );
    let run = run(
        plan(vec![stream("hung", &command, Duration::from_millis(800))]),
        1,
    )
    .await;
    let record = &run.manifest.streams[0];
    assert_eq!(record.result.status, StreamStatus::TimedOut);
    assert!(record.result.timed_out);
    assert_eq!(
        read(&run, &record.result.stdout.path),
        "before\n",
        "output before the timeout is kept"
    );
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .expect("pidfile")
        .trim()
        .parse()
        .expect("pid");
    // The kill is synchronous with the end of the stream; allow the kernel a moment to reap.
    for _ in 0..50 {
        if !alive(pid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!alive(pid), "grandchild sleep {pid} survived the timeout");
}

#[tokio::test]
async fn cancelling_one_stream_keeps_its_output_and_the_others_finish() {
    let streams = vec![
        stream(
            "cancelled",
            "echo partial; sleep 30",
            Duration::from_secs(60),
        ),
        stream(
            "normal",
            "sleep 0.5; echo complete",
            Duration::from_secs(60),
        ),
    ];
    let control = CaptureControl::new(2);
    let token = control.streams[0].clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel();
    });
    let run = run_with(plan(streams), 4, Some(control), |_| {}).await;
    let cancelled = &run.manifest.streams[0];
    assert_eq!(cancelled.result.status, StreamStatus::Cancelled);
    assert_eq!(read(&run, &cancelled.result.stdout.path), "partial\n");
    let normal = &run.manifest.streams[1];
    assert_eq!(normal.result.status, StreamStatus::Exited);
    assert_eq!(read(&run, &normal.result.stdout.path), "complete\n");
}

#[tokio::test]
async fn cancelling_everything_marks_the_capture_cancelled() {
    let streams = (0..3)
        .map(|i| stream(&format!("s{i}"), "sleep 30", Duration::from_secs(60)))
        .collect();
    let run = run_with(plan(streams), 1, None, |control| {
        let control = control.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            control.cancel_all();
        });
    })
    .await;
    assert_eq!(
        run.manifest.state,
        casefile::snapshot::CaptureState::Cancelled
    );
    assert!(
        run.manifest
            .streams
            .iter()
            .all(|s| s.result.status == StreamStatus::Cancelled),
        "{:?}",
        run.manifest
            .streams
            .iter()
            .map(|s| s.result.status)
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn the_output_cap_truncates_the_file_and_stops_the_step() {
    let mut capped = stream(
        "capped",
        "head -c 1000000 /dev/zero | tr '\\0' 'x'",
        Duration::from_secs(20),
    );
    capped.max_bytes = Some(1000);
    let run = run(plan(vec![capped]), 1).await;
    let record = &run.manifest.streams[0];
    assert_eq!(record.result.status, StreamStatus::Exited);
    assert!(record.result.truncated);
    assert_eq!(record.result.stdout.bytes, 1000);
    // The step is stopped at the cap: far from all of its million bytes were read.
    assert!(record.result.stdout.received_bytes >= 1000);
    assert!(record.result.reason.is_some(), "{:?}", record.result);
    assert_eq!(
        std::fs::metadata(run.dir.join(&record.result.stdout.path))
            .expect("file")
            .len(),
        1000
    );
}

#[tokio::test]
async fn a_missing_tool_is_not_available_rather_than_failed() {
    let mut needs_tool = stream(
        "needs",
        "casefile-no-such-tool --version",
        Duration::from_secs(10),
    );
    needs_tool.requires = vec!["casefile-no-such-tool".into()];
    let run = run(
        plan(vec![
            needs_tool,
            stream(
                "plain-missing",
                "casefile-no-such-tool",
                Duration::from_secs(10),
            ),
        ]),
        2,
    )
    .await;
    for record in &run.manifest.streams {
        assert_eq!(
            record.result.status,
            StreamStatus::NotAvailable,
            "{}",
            record.spec.id
        );
    }
    assert!(
        read(&run, &run.manifest.streams[0].result.stderr.path)
            .contains("casefile-no-such-tool is not installed")
    );
}

#[tokio::test]
async fn skipped_streams_never_run() {
    let tmp = tempfile::tempdir().expect("tmp");
    let marker = tmp.path().join("ran");
    let mut intrusive = stream(
        "gdb",
        &format!("touch {}", marker.display()),
        Duration::from_secs(10),
    );
    intrusive.intrusive = true;
    intrusive.skip_reason = Some("intrusive".into());
    let run = run(plan(vec![intrusive]), 1).await;
    assert_eq!(run.manifest.streams[0].result.status, StreamStatus::Skipped);
    assert!(!marker.exists());
}
