//! Demo data: every screen filled with a plausible incident, built with the real state types,
//! engine live view and snapshot writer. Used by the screen snapshot tests, the screenshot
//! generator (`examples/screenshots.rs`) and the render benchmark, so all three show exactly
//! what the app draws.
use super::app::{App, Screen};
use super::keymap::Keymap;
use super::screens::{
    editor::EditorState,
    export::ExportState,
    plan::{PlanDefaults, PlanState},
    replay::ReplayState,
    run::{RunCapture, RunState},
};
use super::theme::Theme;
use crate::capture::LiveView;
use crate::config::Config;
use crate::incidents::{IncidentRow, RecentCapture, parse_incidents};
use crate::model::{CapturePlan, Incident, StepAction, StreamSpec, Target};
use crate::preset::PresetLibrary;
use crate::redact::Redactor;
use crate::snapshot::journal::{Fd, JournalEvent, read_journal};
use crate::snapshot::manifest::{OutputRecord, StreamResult};
use crate::snapshot::{CaptureState, JOURNAL_FILE, Snapshot, SnapshotWriter, StreamStatus};
use std::{
    io,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

/// Where the demo pretends its snapshots live (shown in headers; stable across machines).
pub const DEMO_CAPTURE_DIR: &str = "/home/ops/.local/share/casefile/captures";
pub const DEMO_SNAPSHOT_ID: &str = "20261125T131502-pt4khlk";

const INCIDENTS: &str = r#"
[[incidents]]
id = "PT4KHLK"
title = "The server is on fire."
status = "triggered"
urgency = "high"
service = "checkout-api"
created_at = "2026-11-25T13:02:00Z"

[[incidents]]
id = "Q3RZ81M"
title = "p99 latency above 2s on orders-db replicas"
status = "acknowledged"
urgency = "high"
service = "orders-db"
created_at = "2026-11-25T11:40:00Z"

[[incidents]]
id = "PX0A7TB"
title = "Disk 91% full on web-2 /var"
status = "triggered"
urgency = "low"
service = "web-frontend"
created_at = "2026-11-24T22:15:00Z"
"#;

const CONFIG: &str = r#"
[targets.web-1]
url = "ssh://ops@web-1.prod:22"
tags = ["web", "prod"]
[targets.web-2]
url = "ssh://ops@web-2.prod:22"
tags = ["web", "prod"]
[targets.orders-db]
url = "mysql://monitor@db-1.prod:3306/orders"
tags = ["db", "prod"]
[targets.billing-pg]
url = "postgres://monitor@pg-1.prod:5432/billing"
tags = ["db"]
"#;

/// The demo's config: four targets with tags, fixed directories.
pub fn demo_config() -> Config {
    let mut config = Config::parse("casefile.toml", CONFIG).unwrap_or_else(|_| Config::defaults());
    config.capture_dir = PathBuf::from(DEMO_CAPTURE_DIR);
    config.preset_dir = Some(PathBuf::from("/home/ops/.config/casefile/presets"));
    config
}

/// The demo's "now": ages in the incidents list are measured to it.
pub fn demo_now() -> SystemTime {
    humantime::parse_rfc3339("2026-11-25T13:20:00Z").unwrap_or(SystemTime::UNIX_EPOCH)
}

pub fn demo_incidents() -> Vec<IncidentRow> {
    parse_incidents("incidents.toml", INCIDENTS).unwrap_or_default()
}

fn recent_captures() -> Vec<RecentCapture> {
    let capture = |id: &str, incident: Option<&str>, state, streams, failed| RecentCapture {
        dir: PathBuf::from(DEMO_CAPTURE_DIR).join(id),
        id: id.to_string(),
        incident: incident.map(str::to_string),
        started_at: String::new(),
        state,
        streams,
        failed,
    };
    vec![
        capture(
            DEMO_SNAPSHOT_ID,
            Some("PT4KHLK"),
            CaptureState::Complete,
            7,
            2,
        ),
        capture(
            "20261125T094011-q3rz81m",
            Some("Q3RZ81M"),
            CaptureState::Complete,
            24,
            0,
        ),
        capture("20261124T221930-adhoc", None, CaptureState::Cancelled, 3, 1),
    ]
}

fn spec(id: usize, target: usize, preset: &str, step: &str, action: StepAction) -> StreamSpec {
    StreamSpec::new(
        format!("{:02}-{preset}-{step}", id + 1),
        target,
        preset,
        step,
        action,
        Duration::from_secs(30),
    )
}

/// The demo capture plan: two web hosts and a database.
pub fn demo_plan() -> CapturePlan {
    let config = demo_config();
    let targets: Vec<Target> = ["web-1", "web-2", "orders-db"]
        .iter()
        .filter_map(|n| config.targets.iter().find(|t| t.name == *n).cloned())
        .collect();
    let cmd = |s: &str| StepAction::Command(s.into());
    let sql = |s: &str| StepAction::Query(s.into());
    CapturePlan {
        incident: Some(Incident {
            id: crate::model::IncidentId::new("PT4KHLK").expect("a valid id"),
            title: Some("The server is on fire.".into()),
            source: Some("pagerduty".into()),
        }),
        targets,
        streams: vec![
            spec(
                0,
                0,
                "linux-triage",
                "top-cpu",
                cmd("ps -eo pid,pcpu,pmem,comm --sort=-pcpu | head -40"),
            ),
            spec(1, 0, "linux-triage", "dmesg", cmd("dmesg -T | tail -200")),
            spec(
                2,
                1,
                "linux-triage",
                "top-cpu",
                cmd("ps -eo pid,pcpu,pmem,comm --sort=-pcpu | head -40"),
            ),
            spec(3, 1, "linux-triage", "disk-space", cmd("df -hP")),
            spec(4, 2, "mysql", "processlist", sql("SHOW FULL PROCESSLIST")),
            spec(
                5,
                2,
                "mysql",
                "innodb-status",
                sql("SHOW ENGINE INNODB STATUS"),
            ),
            spec(6, 2, "mysql", "replication", sql("SHOW REPLICA STATUS")),
        ],
    }
}

fn result(
    status: StreamStatus,
    exit_code: Option<i32>,
    ms: u64,
    reason: Option<&str>,
) -> StreamResult {
    StreamResult {
        status,
        started_at: None,
        ended_at: None,
        duration_ms: Some(ms),
        exit_code,
        signal: None,
        timed_out: status == StreamStatus::TimedOut,
        truncated: false,
        reason: reason.map(str::to_string),
        stdout: OutputRecord::default(),
        stderr: OutputRecord::default(),
        data: None,
        artifact: None,
        redactions: 0,
    }
}

/// What each demo stream printed: (stdout, stderr).
fn demo_output(stream: usize) -> (String, String) {
    let ps = |seed: u32| {
        let mut text = String::from("    PID %CPU %MEM COMMAND\n");
        let procs = [
            "java",
            "nginx",
            "node",
            "postgres",
            "gunicorn",
            "redis-server",
            "sshd",
            "systemd-journal",
            "kworker/2:1",
            "containerd",
        ];
        for (i, p) in procs.iter().enumerate() {
            let pid = 1000 + (seed * 37 + i as u32 * 911) % 30000;
            let cpu = 97.0 / (i as f32 + 1.0) + seed as f32 * 0.3;
            text.push_str(&format!(
                "{pid:>7} {cpu:>4.1} {:>4.1} {p}\n",
                12.0 / (i as f32 + 1.5)
            ));
        }
        text
    };
    match stream {
        0 => (ps(1), String::new()),
        1 => (
            "[Wed Nov 25 13:01:12 2026] nginx[2211]: segfault at 0 ip 00007f3a sp 00007ffd error 4\n[Wed Nov 25 13:01:40 2026] TCP: request_sock_TCP: Possible SYN flooding on port 443.\n[Wed Nov 25 13:02:03 2026] Out of memory: Killed process 4412 (java) total-vm:8123456kB\n\x1b]0;owned title\x07\x1b[2J\x1b[Hcaptured escape codes are shown, never obeyed\n[Wed Nov 25 13:02:05 2026] oom_reaper: reaped process 4412 (java)\n".into(),
            String::new(),
        ),
        2 => (ps(7), String::new()),
        3 => (
            "Filesystem      Size  Used Avail Use% Mounted on\n/dev/nvme0n1p1   40G   36G  3.6G  91% /\n/dev/nvme1n1    200G  182G   18G  92% /var\ntmpfs           7.8G  1.2M  7.8G   1% /run\n".into(),
            "df: /mnt/nfs-archive: Stale file handle\n".into(),
        ),
        4 => (
            "Id\tUser\tHost\tdb\tCommand\tTime\tState\tInfo\n88121\tapp\t10.0.3.17:51234\torders\tQuery\t41\tSending data\tSELECT o.* FROM orders o JOIN items i …\n88122\tapp\t10.0.3.18:40022\torders\tQuery\t39\tWaiting for table metadata lock\tALTER TABLE items ADD COLUMN …\n88130\tapp\t10.0.3.17:51300\torders\tSleep\t2\t\tNULL\n".into(),
            String::new(),
        ),
        _ => (String::new(), String::new()),
    }
}

/// A live view as it stands mid-capture: running, finished, failed and queued streams.
pub fn demo_live(plan: &CapturePlan) -> Arc<LiveView> {
    let live = Arc::new(LiveView::new(plan.streams.len(), 20_000, 4 << 20));
    for (i, stream) in live.streams.iter().enumerate() {
        let (out, err) = demo_output(i);
        stream.ring().push(Fd::Out, out.as_bytes());
        stream.ring().push(Fd::Err, err.as_bytes());
        let (status, res) = match i {
            0 | 2 => (StreamStatus::Running, None),
            1 => (
                StreamStatus::Exited,
                Some(result(StreamStatus::Exited, Some(0), 842, None)),
            ),
            3 => (
                StreamStatus::Exited,
                Some(result(StreamStatus::Exited, Some(1), 120, None)),
            ),
            4 => (
                StreamStatus::TimedOut,
                Some(result(
                    StreamStatus::TimedOut,
                    None,
                    30_000,
                    Some("the step ran past its timeout and was stopped"),
                )),
            ),
            5 => (
                StreamStatus::Failed,
                Some(result(
                    StreamStatus::Failed,
                    None,
                    12,
                    Some("db-1.prod:3306: connection refused"),
                )),
            ),
            _ => (StreamStatus::Queued, None),
        };
        stream.set_status(status, res);
    }
    live
}

/// A snapshot written by the real writer, with the journal's times made fixed (so replay
/// renders the same on every run). Returns its folder under `parent`.
pub fn write_demo_snapshot(parent: &Path) -> io::Result<PathBuf> {
    let plan = demo_plan();
    let writer = SnapshotWriter::create(parent, &plan, Redactor::new(&[]), "ops@bastion-1".into())?;
    let mut outcomes = Vec::new();
    for i in 0..plan.streams.len() {
        let (mut out, mut err) = writer.stream_started(i)?;
        let (o, e) = demo_output(i);
        for line in o.split_inclusive('\n') {
            out.write_chunk(line.as_bytes())?;
        }
        err.write_chunk(e.as_bytes())?;
        let (stdout, _, _) = out.finish()?;
        let (stderr, _, _) = err.finish()?;
        let mut r = match i {
            3 => result(StreamStatus::Exited, Some(1), 120, None),
            4 => result(
                StreamStatus::TimedOut,
                None,
                30_000,
                Some("the step ran past its timeout and was stopped"),
            ),
            5 => result(
                StreamStatus::Failed,
                None,
                12,
                Some("db-1.prod:3306: connection refused"),
            ),
            _ => result(StreamStatus::Exited, Some(0), 800 + i as u64 * 150, None),
        };
        r.stdout = stdout;
        r.stderr = stderr;
        outcomes.push(r.clone());
        writer.stream_ended(i, r)?;
    }
    writer.finish(CaptureState::Complete)?;
    let dir = writer.dir().to_path_buf();
    // Fixed timing: stream i starts at i×0.4 s and its chunks follow 0.3 s apart.
    let journal = dir.join(JOURNAL_FILE);
    let events = read_journal(&journal)?;
    let mut chunk_index = vec![0u64; plan.streams.len()];
    let mut text = String::new();
    for event in events {
        let event = match event {
            JournalEvent::Start { s, .. } => JournalEvent::Start {
                t: s as u64 * 400_000,
                s,
            },
            JournalEvent::Chunk {
                s, fd, off, len, ..
            } => {
                chunk_index[s] += 1;
                JournalEvent::Chunk {
                    t: s as u64 * 400_000 + chunk_index[s] * 300_000,
                    s,
                    fd,
                    off,
                    len,
                }
            }
            JournalEvent::End { s, result, .. } => JournalEvent::End {
                t: s as u64 * 400_000 + (chunk_index[s] + 1) * 300_000,
                s,
                result,
            },
            JournalEvent::Finish { .. } => JournalEvent::Finish { t: 6_000_000 },
            other => other,
        };
        text.push_str(&serde_json::to_string(&event).map_err(io::Error::other)?);
        text.push('\n');
    }
    std::fs::write(&journal, text)?;
    Ok(dir)
}

/// An app showing `screen` with demo data. `scratch` holds the replay/export snapshot.
pub fn demo_app(screen: Screen, theme: Theme, scratch: &Path) -> io::Result<App> {
    let config = demo_config();
    let (mut app, _rx) = App::new(config.clone(), theme, Keymap::default());
    app.incidents
        .loaded(demo_incidents(), vec![], recent_captures());
    app.incidents.now = demo_now();
    app.incidents.selected = 1;
    let library = Arc::new(PresetLibrary::load(None));
    let plan_state = {
        let defaults = PlanDefaults {
            timeout: config.timeout,
            max_bytes: config.max_bytes,
        };
        let mut p = PlanState::new(
            demo_plan().incident,
            config.all_targets(),
            library,
            defaults,
        );
        use super::action::{Action, Cmd};
        for cmd in [
            Cmd::Toggle,
            Cmd::Down,
            Cmd::Down,
            Cmd::Down,
            Cmd::SelectTag,
            Cmd::NextFocus,
            // Presets are listed by name: bpftrace, jvm, linux-triage, logs, mysql, …
            Cmd::Down,
            Cmd::Down,
            Cmd::Toggle,
            Cmd::Down,
            Cmd::Down,
            Cmd::Toggle,
        ] {
            p.update(Action::Cmd(cmd));
        }
        p.command = "ss -s && ss -tanp state established | head -50".into();
        p.update(Action::Cmd(Cmd::Up));
        p
    };
    app.plan = Some(plan_state);
    let plan = demo_plan();
    let now = Instant::now();
    let live = demo_live(&plan);
    let mut run = RunState::new(RunCapture {
        plan,
        live,
        dir: PathBuf::from(DEMO_CAPTURE_DIR).join(DEMO_SNAPSHOT_ID),
        state: None,
    });
    // Elapsed times as 12.3 s into the capture.
    run.now = now + Duration::from_millis(12_300);
    run.grid.focus = 1;
    app.run = Some(run);
    let dir = write_demo_snapshot(scratch)?;
    let snapshot = Snapshot::open(&dir)?;
    let shown_dir = PathBuf::from(DEMO_CAPTURE_DIR).join(DEMO_SNAPSHOT_ID);
    app.export = Some(demo_export(shown_dir.clone(), snapshot.manifest, &config));
    let mut replay = ReplayState::open(&dir).map_err(io::Error::other)?;
    replay.seek(1_900_000);
    replay.playing = true;
    replay.speed_index = 2;
    replay.source = shown_dir;
    app.replay = Some(replay);
    let mut editor = EditorState::new(config.preset_dir.clone());
    editor.open_named("linux-triage");
    if let Some(editing) = editor.editing.as_mut() {
        // Show validation as you type: an unknown key on line 17.
        editing
            .textarea
            .move_cursor(ratatui_textarea::CursorMove::Jump(16, 0));
        editing.textarea.insert_str("timout = \"5s\"");
        editing.textarea.insert_newline();
        editing.validate();
    }
    app.editor = Some(editor);
    app.screen = screen;
    Ok(app)
}

/// The Export screen mid-export: the archive written, S3 uploading, the note waiting.
fn demo_export(dir: PathBuf, manifest: crate::snapshot::Manifest, config: &Config) -> ExportState {
    use super::screens::export::DestinationState;
    let mut config = config.clone();
    config.destinations.s3 = Some("s3://incident-evidence/casefile/".into());
    config.destinations.pagerduty_token_secret = Some("pagerduty".into());
    let mut export = ExportState::new(dir, Some(manifest), &config);
    export.destinations[1].state = DestinationState::Done {
        link: format!("{DEMO_CAPTURE_DIR}/{DEMO_SNAPSHOT_ID}.tar.gz"),
    };
    export.destinations[2].state = DestinationState::InProgress;
    export.running = true;
    export.elapsed = Duration::from_millis(4_200);
    export.uploaded = 48 << 20;
    export.progress = Some(format!(
        "uploading s3://incident-evidence/casefile/{DEMO_SNAPSHOT_ID}/{DEMO_SNAPSHOT_ID}.tar.gz (96.0 MiB)"
    ));
    export
}

/// Steps of the demo fleet (the first five in the screenshots, all 14 in the benchmark).
const FLEET_STEPS: [&str; 14] = [
    "uptime",
    "kernel",
    "disk-space",
    "top-cpu",
    "dmesg",
    "memory",
    "sockets",
    "nginx-errors",
    "journal",
    "io-stat",
    "net-stat",
    "ntp",
    "mounts",
    "limits",
];

/// The demo fleet's plan: `web01`…`web48` (tag web) and `db01`, `db02` (tag db) × 5
/// linux-triage steps, plus the processlist on the database hosts (a step only some rows have).
pub fn demo_fleet_plan() -> CapturePlan {
    demo_fleet_plan_sized(48, 5)
}

/// `web` web hosts (plus two database hosts) × `steps` steps (at most 14).
pub fn demo_fleet_plan_sized(web: usize, steps: usize) -> CapturePlan {
    let host = |name: String, tag: &str| Target {
        spec: crate::model::TargetSpec::Ssh {
            user: Some("ops".into()),
            host: format!("{name}.prod"),
            port: None,
        },
        name,
        tags: vec![tag.to_string(), "prod".into()],
        source: "casefile.toml".into(),
        password_secret: None,
    };
    let mut targets: Vec<Target> = (1..=web)
        .map(|i| host(format!("web{i:02}"), "web"))
        .collect();
    targets.extend((1..=2).map(|i| host(format!("db{i:02}"), "db")));
    let mut streams = Vec::new();
    for (t, target) in targets.iter().enumerate() {
        for step in FLEET_STEPS.iter().take(steps) {
            let n = streams.len();
            streams.push(spec(
                n,
                t,
                "linux-triage",
                step,
                StepAction::Command(step.to_string()),
            ));
        }
        if target.name.starts_with("db") {
            let n = streams.len();
            streams.push(spec(
                n,
                t,
                "mysql",
                "processlist",
                StepAction::Query("SHOW FULL PROCESSLIST".into()),
            ));
        }
    }
    CapturePlan {
        incident: demo_plan().incident,
        targets,
        streams,
    }
}

/// What a fleet stream printed: the same on every host, except the odd ones out (web07 runs an
/// older kernel, web23's disk is full).
pub fn demo_fleet_output(host: &str, step: &str) -> String {
    match step {
        "uptime" => " 13:02:11 up 41 days,  3:12,  0 users,  load average: 0.42, 0.40, 0.38\n".into(),
        "kernel" if host == "web07" => {
            "Linux 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64 GNU/Linux\n".into()
        }
        "kernel" => {
            "Linux 6.1.0-27-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.115-1 (2024-11-01) x86_64 GNU/Linux\n".into()
        }
        "disk-space" => {
            let var = if host == "web23" { "97%" } else { "41%" };
            format!(
                "Filesystem      Size  Used Avail Use% Mounted on\n/dev/nvme0n1p1   40G   14G   24G  37% /\n/dev/nvme1n1    200G   82G  118G  {var} /var\ntmpfs           7.8G  1.2M  7.8G   1% /run\n"
            )
        }
        "top-cpu" => "    PID %CPU %MEM COMMAND\n   2211 12.0  3.1 nginx\n   4412  8.5 22.0 java\n".into(),
        "dmesg" if host == "web07" => {
            "[Wed Nov 25 13:01:12 2026] nginx[2211]: segfault at 0 ip 00007f3a sp 00007ffd error 4\n".into()
        }
        "dmesg" => String::new(),
        "processlist" => "Id\tUser\tHost\tdb\tCommand\tTime\tState\tInfo\n".into(),
        other => format!("{other}: nothing unusual\n"),
    }
}

/// The fleet's live view mid-capture: most streams done, web07's dmesg exited 1, web31's
/// top-cpu timed out, web44 could not connect, the last hosts still running or queued.
pub fn demo_fleet_live(plan: &CapturePlan, all_running: bool) -> Arc<LiveView> {
    let live = Arc::new(LiveView::new(plan.streams.len(), 2_000, 1 << 20));
    for (i, (stream, spec)) in live.streams.iter().zip(&plan.streams).enumerate() {
        let host = plan.targets[spec.target].name.as_str();
        let (status, res) = match (host, spec.step.as_str()) {
            _ if all_running => (StreamStatus::Running, None),
            ("web44", _) => (
                StreamStatus::Failed,
                Some(result(
                    StreamStatus::Failed,
                    None,
                    3,
                    Some("web44.prod:22: connection refused"),
                )),
            ),
            ("web31", "top-cpu") => (
                StreamStatus::TimedOut,
                Some(result(
                    StreamStatus::TimedOut,
                    None,
                    30_000,
                    Some("the step ran past its timeout and was stopped"),
                )),
            ),
            ("web07", "dmesg") => (
                StreamStatus::Exited,
                Some(result(StreamStatus::Exited, Some(1), 40, None)),
            ),
            ("db02", _) => (StreamStatus::Queued, None),
            ("db01", _) if i % 2 == 0 => (StreamStatus::Running, None),
            _ => (
                StreamStatus::Exited,
                Some(result(StreamStatus::Exited, Some(0), 120, None)),
            ),
        };
        let output = demo_fleet_output(host, &spec.step);
        if status != StreamStatus::Queued && status != StreamStatus::Failed {
            stream.ring().push(Fd::Out, output.as_bytes());
        }
        // Recorded sizes and hashes, as the writer settles them (folding reads no file then).
        let res = res.map(|mut r| {
            let printed = if status == StreamStatus::Failed {
                ""
            } else {
                output.as_str()
            };
            r.stdout.bytes = printed.len() as u64;
            r.stdout.sha256 = Some(sha256_hex(printed.as_bytes()));
            r.stderr.sha256 = Some(sha256_hex(b""));
            r
        });
        stream.set_status(status, res);
    }
    live
}

/// An app on the Run screen showing the demo fleet (the overview, chosen by size at the
/// first draw).
pub fn demo_fleet_app(theme: Theme) -> App {
    demo_fleet_app_with(theme, 48, 5, false)
}

/// The demo fleet app with `web` web hosts × `steps` steps; with `all_running`, every stream
/// still runs (the benchmark's worst case).
pub fn demo_fleet_app_with(theme: Theme, web: usize, steps: usize, all_running: bool) -> App {
    let config = demo_config();
    let (mut app, _rx) = App::new(config, theme, Keymap::default());
    let plan = demo_fleet_plan_sized(web, steps);
    let live = demo_fleet_live(&plan, all_running);
    let mut run = RunState::new(RunCapture {
        plan,
        live,
        dir: PathBuf::from(DEMO_CAPTURE_DIR).join("20261125T131502-fleet"),
        state: None,
    });
    run.now = Instant::now() + Duration::from_millis(9_400);
    app.run = Some(run);
    app.screen = Screen::Run;
    app
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Which fleet screenshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetShot {
    /// The overview, folded: web07's and web23's odd cells highlighted.
    Overview,
    /// The cursor on web07's kernel: the step's groups below the matrix.
    Folded,
    /// web23's disk space against the majority's.
    Diff,
}

/// The demo fleet folded exactly, as the fold job leaves it once these streams have ended.
pub fn demo_fleet_folded(theme: Theme) -> App {
    use crate::tui::fleet_jobs::{fold_finished, fold_view};
    let mut app = demo_fleet_app(theme);
    if let Some(run) = app.run.as_mut() {
        let capture = &run.captures[0];
        let mut folder = crate::fleet::Folder::new();
        let mut pending: Vec<usize> = (0..capture.plan.streams.len()).collect();
        let source = |i: usize| Some((&capture.plan, &*capture.live, capture.dir.as_path(), i));
        fold_finished(
            &source,
            crate::fleet::FoldMode::Exact,
            &mut folder,
            &mut pending,
        );
        let view = fold_view(&folder, &run.fleet.overview.matrix, false);
        run.fleet.overview.set_fold(Arc::new(view));
        run.fleet.view = super::widgets::fleet_view::View::Overview;
    }
    app
}

/// The demo fleet as one of the screenshots shows it.
pub fn demo_fleet_shot(shot: FleetShot, theme: Theme) -> App {
    use super::action::{Action, Cmd};
    let mut app = demo_fleet_folded(theme);
    if shot == FleetShot::Overview {
        return app;
    }
    // Folded: web07's kernel (row 7, column 2). Diff: web23's disk space (row 23, column 3).
    let (row, col) = if shot == FleetShot::Folded {
        (7, 2)
    } else {
        (23, 3)
    };
    for _ in 1..row {
        app.dispatch(Action::Cmd(Cmd::Down));
    }
    for _ in 1..col {
        app.dispatch(Action::Cmd(Cmd::Right));
    }
    if shot == FleetShot::Diff
        && let Some(run) = app.run.as_mut()
    {
        let options = crate::fleet::DiffOptions {
            context: usize::MAX,
            ..Default::default()
        };
        let old = demo_fleet_output("web01", "disk-space");
        let new = demo_fleet_output("web23", "disk-space");
        let stdout = crate::fleet::diff_streams(old.as_bytes(), new.as_bytes(), &options);
        let stderr = crate::fleet::diff_streams(b"", b"", &options);
        let like_it = run
            .fleet
            .overview
            .fold
            .as_ref()
            .and_then(|f| f.largest(2))
            .map(|g| g.streams.len())
            .unwrap_or(0);
        let view = crate::tui::fleet_jobs::diff_view(
            format!("web01 · linux-triage/disk-space · exit 0 ({like_it} like it)"),
            "web23 · linux-triage/disk-space · exit 0".into(),
            &stdout,
            &stderr,
        );
        run.fleet.show_diff(view);
    }
    app
}
