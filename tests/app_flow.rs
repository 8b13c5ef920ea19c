//! The whole app without a terminal: `App::step` with injected inputs, drawn on ratatui's
//! TestBackend. Incidents arrive, one is picked, the Plan offers the ~/.ssh/config hosts too,
//! an ad-hoc step runs as a real local capture (prepared off the loop, engine, snapshot on
//! disk), and the snapshot is exported to a folder from the Export screen.
use casefile::config::Config;
use casefile::incidents::parse_incidents;
use casefile::snapshot::Snapshot;
use casefile::ssh::SshConfig;
use casefile::tui::app::{App, AppEvent, Input, Screen};
use casefile::tui::keymap::Keymap;
use casefile::tui::theme::Theme;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::{Terminal, backend::TestBackend};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(30);

struct Harness {
    app: App,
    rx: mpsc::Receiver<AppEvent>,
    terminal: Terminal<TestBackend>,
}

impl Harness {
    fn screen(&self) -> String {
        let buffer = self.terminal.backend().buffer();
        let width = buffer.area.width as usize;
        buffer
            .content
            .chunks(width)
            .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn step(&mut self, input: Input) {
        if self.app.step(input) {
            self.app.draw(&mut self.terminal).expect("draw");
        }
    }

    fn key(&mut self, code: KeyCode) {
        self.step(Input::Terminal(Event::Key(KeyEvent::new(
            code,
            KeyModifiers::NONE,
        ))));
    }

    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    /// Feeds background results, wakes and ticks to the app until the screen shows every needle.
    async fn wait_for(&mut self, needles: &[&str]) -> String {
        let deadline = Instant::now() + WAIT;
        let wake = Arc::clone(&self.app.wake);
        loop {
            let screen = self.screen();
            if needles.iter().all(|n| screen.contains(n)) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {needles:?}; the screen shows:\n{screen}"
            );
            let input = tokio::select! {
                Some(event) = self.rx.recv() => Input::App(Box::new(event)),
                _ = wake.notified() => Input::Wake,
                _ = tokio::time::sleep(Duration::from_millis(50)) => Input::Tick,
            };
            self.step(input);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn incidents_plan_local_capture_and_export_to_a_folder() {
    let home = tempfile::tempdir().expect("tempdir");
    let captures = home.path().join("captures");
    let config = Config::parse(
        "casefile.toml",
        &format!(
            "capture_dir = \"{}\"\npreset_dir = \"{}\"\n",
            captures.display(),
            home.path().join("presets").display()
        ),
    )
    .expect("config");
    let (app, rx) = App::new(config, Theme::dark(), Keymap::default());
    let mut h = Harness {
        app,
        rx,
        terminal: Terminal::new(TestBackend::new(120, 40)).expect("terminal"),
    };

    // Incidents arrive (as the PagerDuty or incidents.toml source would deliver them), and
    // ~/.ssh/config is read.
    let rows = parse_incidents(
        "incidents.toml",
        "[[incidents]]\nid = \"PT4KHLK\"\ntitle = \"The server is on fire.\"\nservice = \"checkout-api\"\n",
    )
    .expect("incidents");
    h.step(Input::App(Box::new(AppEvent::IncidentsLoaded {
        rows,
        errors: vec![],
        captures: vec![],
    })));
    h.step(Input::App(Box::new(AppEvent::SshConfigLoaded(Arc::new(
        SshConfig::parse("ssh_config", "Host bastion\n  HostName 10.0.0.2\n"),
    )))));
    h.wait_for(&["PT4KHLK", "The server is on fire.", "no incident (ad hoc)"])
        .await;

    // Pick the incident: the Plan lists local and the ssh_config host, marked with its source.
    h.key(KeyCode::Down);
    h.key(KeyCode::Enter);
    assert_eq!(h.app.screen, Screen::Plan);
    h.wait_for(&[
        "Targets",
        "PT4KHLK",
        "bastion       shell    ~/.ssh/config ssh://",
    ])
    .await;

    // An ad-hoc step on the local target, started: prepared off the loop, then run for real.
    h.key(KeyCode::Char('c'));
    h.type_text("echo evidence-line-42");
    h.wait_for(&["Preview · 1 streams on 1 targets"]).await;
    h.key(KeyCode::Enter);
    let screen = h
        .wait_for(&["evidence-line-42", "✓ exit 0", "finished"])
        .await;
    assert_eq!(h.app.screen, Screen::Run, "{screen}");
    let snapshot_dir = h.app.run.as_ref().expect("run").captures[0].dir.clone();
    assert!(snapshot_dir.starts_with(&captures), "{snapshot_dir:?}");

    // Export to a folder: the archive is written beside the snapshot.
    h.key(KeyCode::Char('e'));
    h.wait_for(&["Destinations", "Archive (tar.gz)", "Local folder"])
        .await;
    h.key(KeyCode::Char('e'));
    h.wait_for(&["exported in"]).await;
    let manifest = Snapshot::open(&snapshot_dir).expect("snapshot").manifest;
    assert_eq!(
        manifest.incident.as_ref().map(|i| i.id.to_string()),
        Some("PT4KHLK".to_string())
    );
    let archive = captures.join(format!("{}.tar.gz", manifest.id));
    assert!(
        archive.is_file(),
        "the archive is in the folder: {archive:?}"
    );
    let stdout = std::fs::read(snapshot_dir.join(&manifest.streams[0].result.stdout.path))
        .expect("stdout file");
    assert_eq!(stdout, b"evidence-line-42\n");
    assert!(
        h.app.notices.is_empty(),
        "no setup warnings for a local capture"
    );

    h.key(KeyCode::Char('q'));
    assert!(h.app.should_quit);
}

/// The loop the TUI and the render benchmark run (`drive`): a capture started headless runs to
/// its end through the app's own loop, which draws and then returns.
#[tokio::test(flavor = "multi_thread")]
async fn the_real_loop_runs_a_capture_and_returns_when_it_ends() {
    use casefile::model::{CapturePlan, StepAction, StreamSpec, Target};
    use casefile::tui::app::drive;
    let home = tempfile::tempdir().expect("tempdir");
    let mut config = Config::defaults();
    config.capture_dir = home.path().join("captures");
    let (mut app, mut rx) = App::new(config, Theme::dark(), Keymap::default());
    app.quit_when_captures_end = true;
    let plan = CapturePlan {
        incident: None,
        targets: vec![Target::local()],
        streams: (0..4)
            .map(|i| {
                StreamSpec::new(
                    format!("{:02}-local-loop", i + 1),
                    0,
                    "adhoc",
                    format!("s{i}"),
                    StepAction::Command(format!(
                        "for n in 1 2 3; do echo line-$n; done; echo pane-{i}"
                    )),
                    Duration::from_secs(10),
                )
            })
            .collect(),
    };
    app.start_capture(plan, None);
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
    let frames = tokio::time::timeout(
        WAIT,
        drive(&mut terminal, &mut app, &mut rx, futures::stream::pending()),
    )
    .await
    .expect("the loop returns once the capture has ended")
    .expect("loop");
    assert!(frames >= 1, "it drew");
    let run = app.run.as_ref().expect("run screen");
    assert!(!run.running());
    let manifest = Snapshot::open(&run.captures[0].dir)
        .expect("snapshot")
        .manifest;
    assert_eq!(manifest.streams.len(), 4);
    assert!(
        manifest
            .streams
            .iter()
            .all(|s| s.result.exit_code == Some(0))
    );
}

/// Quitting while a capture is being prepared (a slow vault command) asks first, then waits for
/// the setup and closes the snapshot folder it made as interrupted; nothing runs.
#[tokio::test(flavor = "multi_thread")]
async fn quitting_while_a_capture_is_prepared_closes_its_snapshot() {
    use casefile::model::{CapturePlan, StepAction, StreamSpec, Target};
    let home = tempfile::tempdir().expect("tempdir");
    let captures = home.path().join("captures");
    let config = Config::parse(
        "casefile.toml",
        &format!(
            "capture_dir = \"{}\"\n[secrets.vault]\ncommand = \"sleep 1; echo token\"\nalways_redact = true\n",
            captures.display()
        ),
    )
    .expect("config");
    let (app, rx) = App::new(config, Theme::dark(), Keymap::default());
    let mut h = Harness {
        app,
        rx,
        terminal: Terminal::new(TestBackend::new(120, 40)).expect("terminal"),
    };
    h.app.start_capture(
        CapturePlan {
            incident: None,
            targets: vec![Target::local()],
            streams: vec![StreamSpec::new(
                "01-local-never",
                0,
                "adhoc",
                "never",
                StepAction::Command("echo should-not-run".into()),
                Duration::from_secs(10),
            )],
        },
        None,
    );
    h.key(KeyCode::Char('q'));
    assert!(h.app.confirm.is_some(), "quitting during setup asks first");
    h.key(KeyCode::Char('y'));
    assert!(!h.app.should_quit, "waits for the setup");
    let deadline = Instant::now() + WAIT;
    while !h.app.should_quit {
        assert!(Instant::now() < deadline, "setup never returned");
        let event = tokio::time::timeout(WAIT, h.rx.recv())
            .await
            .expect("an app event")
            .expect("channel open");
        h.step(Input::App(Box::new(event)));
    }
    assert!(h.app.run.is_none(), "nothing started");
    let dirs: Vec<_> = std::fs::read_dir(&captures)
        .expect("captures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let manifest = Snapshot::open(&dirs[0]).expect("snapshot").manifest;
    assert_eq!(
        manifest.state,
        casefile::snapshot::CaptureState::Interrupted
    );
}
