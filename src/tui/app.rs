//! The app: owns the screens, the capture tasks and their cancellation, and the event loop.
//!
//! The loop waits on terminal input (`EventStream`), a `Notify` poked by the live views, an app
//! channel (incidents loaded, capture finished, preset saved) and a tick while something moves;
//! it draws only when something changed, at most [`FRAME`] apart.
mod fleet; // the fleet views' background work: folding, diffs, "compare with…"

use super::action::{Action, Cmd, Effect};
use super::keymap::{Keymap, Scope};
use super::screens::{
    ScreenState,
    editor::EditorState,
    export::{ExportOutcome, ExportState},
    incidents::IncidentsState,
    plan::{PlanDefaults, PlanState, RunbookChoice},
    replay::ReplayState,
    run::{RunCapture, RunState},
};
use super::theme::Theme;
use super::widgets::{
    centered,
    confirm::ConfirmDialog,
    help::HelpOverlay,
    status::{Footer, Header},
};
use crate::capture::{CaptureControl, Engine, LiveView};
use crate::config::Config;
use crate::incidents::{
    IncidentRow, IncidentSource, RecentCapture, incident_sources, scan_captures,
};
use crate::model::CapturePlan;
use crate::planner::build_plan;
use crate::preset::PresetLibrary;
use crate::runbook::IncidentFacts;
use crate::session::{self, CaptureOptions, PreparedCapture, SessionError, SetupFailed};
use crate::snapshot::player::Player;
use crate::snapshot::{CaptureState, Manifest, Snapshot};
use crate::ssh::SshConfig;
use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEventKind,
};
use futures::StreamExt;
use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    text::{Line, Span},
    widgets::{Paragraph, Widget, Wrap},
};
use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::{Notify, mpsc};

/// Minimum time between two frames (~60 fps).
pub const FRAME: Duration = Duration::from_millis(16);
/// How often elapsed counters and replay advance while something moves.
const TICK: Duration = Duration::from_millis(50);
/// How often the TUI checks that its terminal is still there (one `poll` call).
const HANGUP_CHECK: Duration = Duration::from_secs(1);
/// Smallest terminal the screens are laid out for.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;
/// Setup warnings shown at once above the footer.
const NOTICE_LINES: usize = 3;
/// Lines and bytes each live pane keeps in memory (the files hold everything).
const LIVE_LINES: usize = 20_000;
const LIVE_BYTES: usize = 4 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Incidents,
    Plan,
    Run,
    Export,
    Replay,
    Editor,
}

impl Screen {
    fn scope(self) -> Scope {
        match self {
            Screen::Incidents => Scope::Incidents,
            Screen::Plan => Scope::Plan,
            Screen::Run => Scope::Run,
            Screen::Export => Scope::Export,
            Screen::Replay => Scope::Replay,
            Screen::Editor => Scope::Editor,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Screen::Incidents => "Incidents",
            Screen::Plan => "Plan",
            Screen::Run => "Run",
            Screen::Export => "Export",
            Screen::Replay => "Replay",
            Screen::Editor => "Preset editor",
        }
    }
}

/// Results of background work, delivered to the loop.
#[derive(Debug)]
pub enum AppEvent {
    IncidentsLoaded {
        rows: Vec<IncidentRow>,
        errors: Vec<String>,
        captures: Vec<RecentCapture>,
    },
    /// A capture's setup ended (see [`App::start_capture`]).
    CapturePrepared {
        rerun_pane: Option<usize>,
        result: Box<Result<PreparedCapture, SetupFailed>>,
    },
    CaptureFinished {
        capture: usize,
        result: Result<Manifest, String>,
    },
    /// ~/.ssh/config was read (its Hosts are offered on the Plan screen).
    SshConfigLoaded(Arc<SshConfig>),
    /// The snapshot to export was read off the loop (`None`: it could not be opened).
    ExportOpened {
        dir: PathBuf,
        manifest: Option<Box<Manifest>>,
    },
    /// A snapshot to replay was opened (an archive unpacked) off the loop.
    ReplayOpened(Result<Box<Player>, String>),
    PresetSaved(Result<PathBuf, String>),
    /// A step of the running export.
    ExportProgress(String),
    /// Bytes of the archive the store has acknowledged.
    ExportUploaded(u64),
    ExportFinished(ExportOutcome),
    /// Folded groups, a diff or a comparison for the fleet views.
    Fleet(super::fleet_jobs::FleetEvent),
}

/// Where the app opens.
#[derive(Debug, Clone)]
pub enum Start {
    Home,
    Replay(PathBuf),
    EditPreset(String),
}

pub struct App {
    pub config: Config,
    pub theme: Theme,
    pub keymap: Keymap,
    library: Arc<PresetLibrary>,
    pub screen: Screen,
    history: Vec<Screen>,
    pub incidents: IncidentsState,
    pub plan: Option<PlanState>,
    pub run: Option<RunState>,
    pub export: Option<ExportState>,
    pub replay: Option<ReplayState>,
    pub editor: Option<EditorState>,
    pub help: bool,
    pub confirm: Option<(String, Effect)>,
    pub message: Option<String>,
    /// ~/.ssh/config, read once off the loop at start (its Hosts join the Plan's targets).
    ssh_config: Option<Arc<SshConfig>>,
    /// The runbook of the capture on the Run screen: Export sends where it says.
    runbook: Option<RunbookChoice>,
    /// Warnings of the last capture setup, shown above the footer (never printed).
    pub notices: Vec<String>,
    /// A capture setup is running on a blocking thread.
    preparing: bool,
    /// Quit once no capture runs (headless driving: the render benchmark, whole-app tests).
    pub quit_when_captures_end: bool,
    /// Made once: the PagerDuty source resolves its token on its first listing and keeps it.
    sources: Option<Vec<Arc<dyn IncidentSource>>>,
    controls: Vec<CaptureControl>,
    forwarders: Vec<tokio::task::JoinHandle<()>>,
    /// Quit once every capture has been finalised.
    quitting: bool,
    pub should_quit: bool,
    tx: mpsc::Sender<AppEvent>,
    pub wake: Arc<Notify>,
    last_tick: Instant,
    /// The fold jobs of the run and replay screens (stopped when replaced or dropped).
    fold_jobs: fleet::FoldJobs,
}

impl App {
    pub fn new(config: Config, theme: Theme, keymap: Keymap) -> (App, mpsc::Receiver<AppEvent>) {
        let (tx, rx) = mpsc::channel(64);
        let library = Arc::new(PresetLibrary::load(config.preset_dir.as_deref()));
        let mut app = App {
            config,
            theme,
            keymap,
            library,
            screen: Screen::Incidents,
            history: Vec::new(),
            incidents: IncidentsState::default(),
            plan: None,
            run: None,
            export: None,
            replay: None,
            editor: None,
            help: false,
            confirm: None,
            message: None,
            sources: None,
            ssh_config: None,
            runbook: None,
            notices: Vec::new(),
            preparing: false,
            quit_when_captures_end: false,
            controls: Vec::new(),
            forwarders: Vec::new(),
            quitting: false,
            should_quit: false,
            tx,
            wake: Arc::new(Notify::new()),
            last_tick: Instant::now(),
            fold_jobs: fleet::FoldJobs::default(),
        };
        if let Some(problem) = app.library.problems.first() {
            app.message = Some(format!(
                "error: preset skipped: {}",
                problem.to_string().lines().next().unwrap_or("")
            ));
        }
        (app, rx)
    }

    /// Opens the first screen (loading incidents in the background when it is the home screen).
    pub fn start(&mut self, start: Start) {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            if let Ok(ssh_config) = tokio::task::spawn_blocking(SshConfig::load_default).await {
                let _ = tx
                    .send(AppEvent::SshConfigLoaded(Arc::new(ssh_config)))
                    .await;
            }
        });
        match start {
            Start::Home => self.apply(Effect::LoadIncidents),
            Start::Replay(path) => {
                // The incidents screen is underneath: Back (or a snapshot that cannot be
                // opened) lands there.
                self.apply(Effect::LoadIncidents);
                self.apply(Effect::OpenReplay(path));
            }
            Start::EditPreset(name) => {
                let mut editor = EditorState::new(self.config.preset_dir.clone());
                editor.open_named(&name);
                self.editor = Some(editor);
                self.screen = Screen::Editor;
            }
        }
    }

    /// The active screen's state (none when its state is missing, which `goto` prevents).
    fn active(&self) -> Option<&dyn ScreenState> {
        match self.screen {
            Screen::Incidents => Some(&self.incidents),
            Screen::Plan => self.plan.as_ref().map(|s| s as &dyn ScreenState),
            Screen::Run => self.run.as_ref().map(|s| s as &dyn ScreenState),
            Screen::Export => self.export.as_ref().map(|s| s as &dyn ScreenState),
            Screen::Replay => self.replay.as_ref().map(|s| s as &dyn ScreenState),
            Screen::Editor => self.editor.as_ref().map(|s| s as &dyn ScreenState),
        }
    }

    fn active_mut(&mut self) -> Option<&mut dyn ScreenState> {
        match self.screen {
            Screen::Incidents => Some(&mut self.incidents),
            Screen::Plan => self.plan.as_mut().map(|s| s as &mut dyn ScreenState),
            Screen::Run => self.run.as_mut().map(|s| s as &mut dyn ScreenState),
            Screen::Export => self.export.as_mut().map(|s| s as &mut dyn ScreenState),
            Screen::Replay => self.replay.as_mut().map(|s| s as &mut dyn ScreenState),
            Screen::Editor => self.editor.as_mut().map(|s| s as &mut dyn ScreenState),
        }
    }

    fn text_mode(&self) -> bool {
        self.active().is_some_and(ScreenState::text_mode)
    }

    /// True while something changes on its own (elapsed counters, playback).
    pub fn animating(&self) -> bool {
        self.active().is_some_and(ScreenState::animating)
    }

    /// Advances time-driven state.
    pub fn tick(&mut self) {
        let now = Instant::now();
        let dt = now
            .duration_since(self.last_tick)
            .min(Duration::from_millis(250));
        self.last_tick = now;
        if let Some(run) = self.run.as_mut() {
            run.now = now;
            if self.screen == Screen::Run {
                run.update(Action::Tick(dt));
            }
        }
        if self.screen == Screen::Replay
            && let Some(replay) = self.replay.as_mut()
        {
            replay.update(Action::Tick(dt));
        }
        if let Some(export) = self.export.as_mut() {
            export.update(Action::Tick(dt));
        }
    }

    /// Handles one terminal event.
    pub fn on_event(&mut self, event: Event) {
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => self.on_key(key),
            Event::Mouse(mouse) => {
                let action = match mouse.kind {
                    MouseEventKind::Down(MouseButton::Left) => Action::Click {
                        column: mouse.column,
                        row: mouse.row,
                    },
                    MouseEventKind::ScrollUp => Action::Scroll {
                        column: mouse.column,
                        row: mouse.row,
                        lines: -1,
                    },
                    MouseEventKind::ScrollDown => Action::Scroll {
                        column: mouse.column,
                        row: mouse.row,
                        lines: 1,
                    },
                    _ => return,
                };
                if self.confirm.is_none() && !self.help {
                    self.dispatch(action);
                }
            }
            _ => {}
        }
    }

    fn on_key(&mut self, key: KeyEvent) {
        if let Some((message, then)) = self.confirm.take() {
            match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => self.apply(then),
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {}
                _ => self.confirm = Some((message, then)),
            }
            return;
        }
        if self.help {
            self.help = false;
            return;
        }
        self.message = None;
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        let action = if ctrl_c {
            Action::Cmd(Cmd::Quit)
        } else if self.text_mode() {
            Action::Key(key)
        } else {
            match self.keymap.lookup(self.screen.scope(), &key) {
                Some(Cmd::Help) => {
                    self.help = true;
                    return;
                }
                Some(cmd) => Action::Cmd(cmd),
                None => return,
            }
        };
        self.dispatch(action);
    }

    /// Sends an action to the current screen and carries out its effect.
    pub fn dispatch(&mut self, action: Action) {
        if let Some(effect) = self.active_mut().and_then(|s| s.handle(action)) {
            self.apply(effect);
        }
    }

    fn goto(&mut self, screen: Screen) {
        if self.screen != screen {
            self.history.push(self.screen);
            self.screen = screen;
        }
    }

    fn capturing(&self) -> bool {
        self.run.as_ref().is_some_and(RunState::running)
    }

    /// Carries out an effect.
    pub fn apply(&mut self, effect: Effect) {
        tracing::debug!(?effect, "effect");
        match effect {
            Effect::Quit if self.capturing() || self.preparing => {
                self.confirm = Some((
                    "A capture is running. Stop every stream, finalise the snapshot and quit?"
                        .into(),
                    Effect::StopAndQuit,
                ));
            }
            Effect::Quit if self.export.as_ref().is_some_and(|e| e.running) => {
                self.confirm = Some((
                    "An export is running. Quit anyway? (running the export again finishes it)"
                        .into(),
                    Effect::ForceQuit,
                ));
            }
            Effect::Quit | Effect::ForceQuit => self.should_quit = true,
            Effect::StopAndQuit => {
                self.quitting = true;
                self.controls.iter().for_each(CaptureControl::cancel_all);
                self.message = Some("stopping streams and finalising the snapshot…".into());
                // A capture being prepared is finalised (as interrupted) when its setup returns.
                if !self.capturing() && !self.preparing {
                    self.should_quit = true;
                }
            }
            Effect::Home => {
                self.history.clear();
                self.screen = Screen::Incidents;
                self.apply(Effect::LoadIncidents);
            }
            Effect::Back => {
                self.screen = self.history.pop().unwrap_or(Screen::Incidents);
                if self.screen == Screen::Incidents {
                    self.apply(Effect::LoadIncidents);
                }
            }
            Effect::OpenPlan(picked) => {
                let defaults = PlanDefaults {
                    timeout: self.config.timeout,
                    max_bytes: self.config.max_bytes,
                };
                let targets = match &self.ssh_config {
                    Some(ssh_config) => session::available_targets(&self.config, ssh_config),
                    None => self.config.all_targets(),
                };
                let (incident, facts) = match picked {
                    Some(p) => (Some(p.incident), Some(p.facts)),
                    None => (None, None),
                };
                let mut plan =
                    PlanState::new(incident, targets, Arc::clone(&self.library), defaults);
                if let Some(facts) = facts {
                    self.preselect_runbook(&mut plan, &facts);
                }
                self.plan = Some(plan);
                self.goto(Screen::Plan);
            }
            Effect::StartCapture(request) => match build_plan(&request, &self.library) {
                Ok(plan) => {
                    self.runbook = self.plan.as_ref().and_then(|p| p.runbook.clone());
                    self.start_capture(plan, None)
                }
                Err(e) => self.message = Some(format!("cannot start: {e}")),
            },
            Effect::Rerun { pane } => self.rerun(pane),
            Effect::CancelStream { capture, stream } => {
                if let Some(control) = self.controls.get(capture) {
                    control.cancel(stream);
                }
            }
            Effect::CancelAll => self.controls.iter().for_each(CaptureControl::cancel_all),
            Effect::OpenReplay(path) => {
                // Opening may unpack an archive: off the loop.
                self.message = Some(format!("opening {}…", path.display()));
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let result = tokio::task::spawn_blocking(move || {
                        Player::open(&path).map(Box::new).map_err(|e| e.to_string())
                    })
                    .await
                    .unwrap_or_else(|e| Err(format!("opening the snapshot failed: {e}")));
                    let _ = tx.send(AppEvent::ReplayOpened(result)).await;
                });
            }
            Effect::OpenEditor => {
                self.editor = Some(EditorState::new(self.config.preset_dir.clone()));
                self.goto(Screen::Editor);
            }
            Effect::OpenExport => {
                let Some(dir) = self
                    .run
                    .as_ref()
                    .and_then(|r| r.captures.first())
                    .map(|c| c.dir.clone())
                else {
                    return;
                };
                if self.export.as_ref().is_some_and(|e| e.dir == dir) {
                    self.goto(Screen::Export);
                    return;
                }
                // Opening the snapshot reads (maybe recovers) it: off the loop.
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let open_dir = dir.clone();
                    let manifest = tokio::task::spawn_blocking(move || {
                        Snapshot::open(&open_dir).ok().map(|s| s.manifest)
                    })
                    .await
                    .ok()
                    .flatten();
                    let _ = tx
                        .send(AppEvent::ExportOpened {
                            dir,
                            manifest: manifest.map(Box::new),
                        })
                        .await;
                });
            }
            Effect::RunExport(job) => {
                super::export_job::spawn(self.config.clone(), job, self.tx.clone())
            }
            Effect::LoadIncidents => self.load_incidents(),
            Effect::SavePreset { path, text } => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let result = async {
                        if let Some(dir) = path.parent() {
                            tokio::fs::create_dir_all(dir)
                                .await
                                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                        }
                        tokio::fs::write(&path, text)
                            .await
                            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                        Ok(path)
                    }
                    .await;
                    let _ = tx.send(AppEvent::PresetSaved(result)).await;
                });
            }
            Effect::Confirm { message, then } => self.confirm = Some((message, *then)),
            Effect::Message(message) => self.message = Some(message),
            Effect::AllowIntrusive => {
                if let Some(plan) = self.plan.as_mut() {
                    plan.set_allow_intrusive(true);
                }
            }
            Effect::DiscardEdit => {
                if let Some(editor) = self.editor.as_mut() {
                    editor.discard();
                }
            }
            effect @ (Effect::OpenDiff { .. }
            | Effect::Refold { .. }
            | Effect::PickBaseline
            | Effect::CompareWith(_)
            | Effect::OpenBaselineDiff { .. }) => self.fleet_effect(effect),
        }
    }

    /// Preselects the plan from the runbook `facts` match (see `crate::runbook` for ties). A
    /// runbook that cannot be applied (an unknown target) leaves the plan empty and says why.
    fn preselect_runbook(&mut self, plan: &mut PlanState, facts: &IncidentFacts) {
        let Some(runbook) = crate::runbook::select(&self.config.runbooks, facts) else {
            return;
        };
        // ~/.ssh/config is read at start-up off the loop; a pick that comes first reads it here.
        let ssh_config = match &self.ssh_config {
            Some(loaded) => Arc::clone(loaded),
            None => Arc::new(SshConfig::load_default()),
        };
        match crate::runbook::plan_request(runbook, Some(facts), &self.config, &ssh_config) {
            Ok(request) => plan.apply_runbook(&runbook.name, runbook.export.clone(), request),
            Err(e) => self.message = Some(format!("runbook `{}` not applied: {e}", runbook.name)),
        }
    }

    fn load_incidents(&mut self) {
        self.incidents.loading = true;
        let sources = self
            .sources
            .get_or_insert_with(|| incident_sources(&self.config))
            .clone();
        self.incidents.sources = sources.iter().map(|s| s.name().to_string()).collect();
        let capture_dir = self.config.capture_dir.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let mut rows = Vec::new();
            let mut errors = Vec::new();
            for source in sources {
                match source.list().await {
                    Ok(found) => rows.extend(found),
                    Err(e) => errors.push(format!("{}: {e}", source.name())),
                }
            }
            let captures = tokio::task::spawn_blocking(move || scan_captures(&capture_dir, 50))
                .await
                .unwrap_or_default();
            let _ = tx
                .send(AppEvent::IncidentsLoaded {
                    rows,
                    errors,
                    captures,
                })
                .await;
        });
    }

    fn rerun(&mut self, pane: usize) {
        let Some(run) = self.run.as_ref() else { return };
        let Some(&pref) = run.panes.get(pane) else {
            return;
        };
        let Some(capture) = run.captures.get(pref.capture) else {
            return;
        };
        let mut spec = capture.plan.streams[pref.stream].clone();
        let target = capture.plan.targets[spec.target].clone();
        spec.target = 0;
        spec.skip_reason = None;
        let plan = CapturePlan {
            incident: capture.plan.incident.clone(),
            targets: vec![target],
            streams: vec![spec],
        };
        self.start_capture(plan, Some(pane));
    }

    /// Prepares the capture (secrets, ~/.ssh/config, snapshot folder) on a blocking thread: a
    /// slow secret command never freezes the screen. [`AppEvent::CapturePrepared`] brings the
    /// result and its warnings back.
    pub fn start_capture(&mut self, plan: CapturePlan, rerun_pane: Option<usize>) {
        if self.preparing {
            self.message = Some("a capture is being prepared; wait for it".into());
            return;
        }
        self.preparing = true;
        self.message = Some("preparing the capture (secrets, SSH settings)…".into());
        let config = self.config.clone();
        let options = CaptureOptions {
            out_dir: self.config.capture_dir.clone(),
            accept_new: false,
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let result = tokio::task::spawn_blocking(move || {
                session::prepare(&config, plan, SshConfig::load_default(), &options)
            })
            .await
            .unwrap_or_else(|e| {
                Err(SetupFailed {
                    error: SessionError::Setup(format!("preparing the capture failed: {e}")),
                    warnings: Vec::new(),
                })
            });
            let _ = tx
                .send(AppEvent::CapturePrepared {
                    rerun_pane,
                    result: Box::new(result),
                })
                .await;
        });
    }

    /// Shows setup warnings in the app's notice area (and the log file), never on the terminal.
    fn notice(&mut self, warnings: Vec<String>) {
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        self.notices = warnings;
    }

    /// Spawns the engine on a prepared capture; the run screen follows its live view.
    fn launch_capture(&mut self, prepared: PreparedCapture, rerun_pane: Option<usize>) {
        let PreparedCapture {
            plan,
            runners,
            writer,
            warnings,
        } = prepared;
        self.notice(warnings);
        let dir = writer.dir().to_path_buf();
        tracing::info!(snapshot = %dir.display(), streams = plan.streams.len(), "capture started");
        let live = Arc::new(LiveView::with_budget(
            plan.streams.len(),
            LIVE_LINES,
            LIVE_BYTES,
            self.config.live_memory,
        ));
        let control = CaptureControl::new(plan.streams.len());
        let capture_index = self.controls.len();
        self.controls.push(control.clone());
        let wake = Arc::clone(&self.wake);
        let forward_live = Arc::clone(&live);
        self.forwarders.push(tokio::spawn(async move {
            loop {
                forward_live.changed.notified().await;
                wake.notify_one();
            }
        }));
        let engine = Engine {
            limits: crate::capture::Limits::new(self.config.concurrency, self.config.per_host),
        };
        let engine_plan = plan.clone();
        let engine_live = Arc::clone(&live);
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let result = engine
                .run_with_runners(&engine_plan, runners, writer, engine_live, &control, None)
                .await
                .map_err(|e| format!("finishing the snapshot failed: {e}"));
            let _ = tx
                .send(AppEvent::CaptureFinished {
                    capture: capture_index,
                    result,
                })
                .await;
        });
        let capture = RunCapture {
            plan,
            live,
            dir,
            state: None,
        };
        match (rerun_pane, self.run.as_mut()) {
            (Some(pane), Some(run)) => {
                run.add_rerun(pane, capture);
                // The overview's groups follow the pane to its new result.
                let shape = run.fleet.shape;
                self.start_fold(super::fleet_jobs::FleetScreen::Run, shape);
            }
            _ => {
                self.run = Some(RunState::new(capture));
                self.start_fold(super::fleet_jobs::FleetScreen::Run, false);
            }
        }
        self.goto(Screen::Run);
    }

    /// Handles a background result.
    pub fn on_app_event(&mut self, event: AppEvent) {
        match event {
            AppEvent::IncidentsLoaded {
                rows,
                errors,
                captures,
            } => self.incidents.loaded(rows, errors, captures),
            AppEvent::CapturePrepared { rerun_pane, result } => {
                self.preparing = false;
                match *result {
                    Ok(prepared) if self.quitting => {
                        // Quit was confirmed while the setup ran: nothing starts, and the
                        // snapshot folder it made is closed as interrupted.
                        if let Err(e) = prepared.writer.finish(CaptureState::Interrupted) {
                            tracing::error!(error = %e, "finishing an unstarted snapshot failed");
                        }
                        if !self.capturing() {
                            self.should_quit = true;
                        }
                    }
                    Ok(prepared) => {
                        self.message = None;
                        self.launch_capture(prepared, rerun_pane);
                    }
                    Err(failed) => {
                        tracing::error!(error = %failed.error, "capture setup failed");
                        self.notice(failed.warnings);
                        self.message = Some(format!("cannot start: {}", failed.error));
                        if self.quitting && !self.capturing() {
                            self.should_quit = true;
                        }
                    }
                }
            }
            AppEvent::SshConfigLoaded(ssh_config) => self.ssh_config = Some(ssh_config),
            AppEvent::ExportOpened { dir, manifest } => {
                let mut export = ExportState::new(dir, manifest.map(|m| *m), &self.config);
                if let Some(runbook) = &self.runbook {
                    export.preselect_runbook(&runbook.name, &runbook.export);
                }
                self.export = Some(export);
                self.goto(Screen::Export);
            }
            AppEvent::ReplayOpened(result) => match result {
                Ok(player) => {
                    self.message = None;
                    self.replay = Some(ReplayState::new(*player));
                    self.start_fold(super::fleet_jobs::FleetScreen::Replay, false);
                    self.goto(Screen::Replay);
                }
                Err(e) => self.message = Some(format!("error: {e}")),
            },
            AppEvent::CaptureFinished { capture, result } => {
                if let Some(handle) = self.forwarders.get(capture) {
                    handle.abort();
                }
                let state = match &result {
                    Ok(m) => m.state,
                    Err(e) => {
                        tracing::error!(error = %e, "capture failed");
                        self.message = Some(format!("error: {e}"));
                        CaptureState::Interrupted
                    }
                };
                if let Some(run) = self.run.as_mut() {
                    if let Some(c) = run.captures.get_mut(capture) {
                        c.state = Some(state);
                    }
                    if !run.running() && result.is_ok() && !self.quitting {
                        self.message = Some(format!(
                            "capture finished · e to export · snapshot {}",
                            run.captures[capture].dir.display()
                        ));
                    }
                }
                if (self.quitting || self.quit_when_captures_end) && !self.capturing() {
                    self.should_quit = true;
                }
            }
            AppEvent::PresetSaved(result) => match result {
                Ok(path) => {
                    self.message = Some(format!("saved {}", path.display()));
                    self.library = Arc::new(PresetLibrary::load(self.config.preset_dir.as_deref()));
                    if let Some(editor) = self.editor.as_mut() {
                        editor.saved();
                    }
                }
                Err(e) => self.message = Some(format!("error: {e}")),
            },
            AppEvent::ExportProgress(line) => {
                if let Some(export) = self.export.as_mut() {
                    export.on_progress(line);
                }
            }
            AppEvent::ExportUploaded(bytes) => {
                if let Some(export) = self.export.as_mut() {
                    export.on_uploaded(bytes);
                }
            }
            AppEvent::Fleet(event) => self.on_fleet_event(event),
            AppEvent::ExportFinished(outcome) => {
                if let Some(e) = &outcome.error {
                    tracing::error!(error = %e, "export failed");
                }
                if let Some(export) = self.export.as_mut() {
                    export.finished(outcome);
                }
            }
        }
    }

    /// The newest setup warnings, one per line (sanitised: they may quote a user's files).
    fn render_notices(&self, area: Rect, buf: &mut ratatui::buffer::Buffer, theme: &Theme) {
        if area.height == 0 {
            return;
        }
        let hidden = self.notices.len().saturating_sub(NOTICE_LINES);
        let lines: Vec<Line> = self
            .notices
            .iter()
            .take(NOTICE_LINES)
            .enumerate()
            .map(|(i, notice)| {
                let more = if hidden > 0 && i + 1 == NOTICE_LINES {
                    format!(" (+{hidden} more in the log)")
                } else {
                    String::new()
                };
                Line::from(vec![
                    Span::styled(" ⚠ warning: ", theme.warn),
                    Span::styled(
                        format!("{}{more}", crate::sanitize::text(notice)),
                        theme.base,
                    ),
                ])
            })
            .collect();
        Paragraph::new(lines).render(area, buf);
    }

    /// Draws the whole screen.
    pub fn render(&mut self, frame: &mut Frame) {
        let area = frame.area();
        let theme = self.theme.clone();
        let buf = frame.buffer_mut();
        buf.set_style(area, theme.base);
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            let text = vec![
                Line::from(Span::styled("Terminal too small", theme.error)),
                Line::from(Span::styled(
                    format!(
                        "casefile needs {MIN_WIDTH}×{MIN_HEIGHT}; this one is {}×{}",
                        area.width, area.height
                    ),
                    theme.base,
                )),
                Line::from(Span::styled(
                    "enlarge the window, or q to quit",
                    theme.muted,
                )),
            ];
            let rect = centered(area, area.width, 3);
            Paragraph::new(text)
                .centered()
                .wrap(Wrap { trim: true })
                .render(rect, buf);
            return;
        }
        let [header, body, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .areas(area);
        let context = self
            .active()
            .map(|s| s.header_context(&self.config))
            .unwrap_or_default();
        Header {
            screen: self.screen.title(),
            context: &context,
            theme: &theme,
        }
        .render(header, buf);
        // Setup warnings get their own lines above the footer (at most NOTICE_LINES).
        let notice_lines = self.notices.len().min(NOTICE_LINES) as u16;
        let [body, notices] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(notice_lines)]).areas(body);
        self.render_notices(notices, buf, &theme);
        if let Some(screen) = self.active_mut() {
            screen.draw(body, buf, &theme);
        }
        let scope = self.screen.scope();
        let (footer_commands, commands) = self
            .active()
            .map(|s| (s.footer_commands(), s.commands()))
            .unwrap_or((&[], &[]));
        Footer {
            scope,
            commands: footer_commands,
            keymap: &self.keymap,
            message: self.message.as_deref(),
            theme: &theme,
        }
        .render(footer, buf);
        if self.help {
            HelpOverlay {
                title: self.screen.title(),
                scope,
                commands,
                keymap: &self.keymap,
                theme: &theme,
            }
            .render(area, buf);
        }
        if let Some((message, _)) = &self.confirm {
            ConfirmDialog {
                message,
                theme: &theme,
            }
            .render(area, buf);
        }
    }
}

/// One thing the loop hands to [`App::step`].
#[derive(Debug)]
pub enum Input {
    /// A key, mouse or resize event from the terminal.
    Terminal(Event),
    /// A result of background work (boxed: some results are large).
    App(Box<AppEvent>),
    /// A live view changed (a stream printed something).
    Wake,
    /// The tick while something moves.
    Tick,
    /// SIGTERM or SIGHUP: stop the capture, finalise the snapshot and quit.
    Stop,
}

impl App {
    /// Handles one input; true when the screen must be redrawn. The real loop
    /// ([`run_loop`]) and the tests (TestBackend, injected inputs) drive the app through this.
    pub fn step(&mut self, input: Input) -> bool {
        match input {
            Input::Terminal(event) => self.on_event(event),
            Input::App(event) => self.on_app_event(*event),
            Input::Wake => {}
            Input::Tick => {
                if !self.animating() {
                    self.last_tick = Instant::now();
                    return false;
                }
                self.tick();
            }
            Input::Stop => self.apply(Effect::StopAndQuit),
        }
        true
    }

    /// Draws one frame on any ratatui backend (the terminal, or TestBackend in tests).
    pub fn draw<B: ratatui::backend::Backend>(
        &mut self,
        terminal: &mut ratatui::Terminal<B>,
    ) -> Result<(), B::Error> {
        terminal.draw(|frame| self.render(frame))?;
        Ok(())
    }
}

/// Runs the app on a real terminal until the operator quits. Terminal events and the signals
/// that stop a capture (SIGTERM, SIGHUP) become [`Input`]s for [`drive`].
pub async fn run_loop(
    terminal: &mut super::term::Tui,
    mut app: App,
    mut rx: mpsc::Receiver<AppEvent>,
) -> std::io::Result<()> {
    // A terminal closing (SIGHUP) or a kill (SIGTERM) stops the capture and finalises the
    // snapshot like a confirmed quit, instead of leaving streams and the terminal behind.
    use tokio::signal::unix::{SignalKind, signal};
    // Temp folders (an unpacked archive in replay, an export's pack) are still removed on a
    // signal, but the cleanup thread must not end the process under the TUI's own shutdown
    // (which restores the terminal and finalises the snapshot).
    // Registered before the cleanup thread stands down for the app: a signal in between
    // would otherwise reach neither.
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    crate::snapshot::cleanup::app_handles_signals();
    // SIGHUP reaches only the terminal's session leader; see `hangup`.
    let tty = super::hangup::TerminalWatch::open();
    let signals = async_stream(move |tx| async move {
        let mut check = tokio::time::interval(HANGUP_CHECK);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut hung_up = false;
        loop {
            tokio::select! {
                _ = sigterm.recv() => tracing::info!("SIGTERM: stopping streams and finalising the snapshot"),
                _ = sighup.recv() => tracing::info!("SIGHUP: stopping streams and finalising the snapshot"),
                _ = check.tick(), if !hung_up => {
                    if !tty.hung_up() {
                        continue;
                    }
                    hung_up = true;
                    tracing::info!("the terminal hung up (no SIGHUP came): stopping streams and finalising the snapshot");
                }
            }
            if tx.send(Ok(Input::Stop)).await.is_err() {
                return;
            }
        }
    });
    let terminal_events = crossterm::event::EventStream::new().map(|event| {
        event
            .inspect_err(|e| tracing::error!(error = %e, "terminal input failed"))
            .map(Input::Terminal)
    });
    // The terminal going away (input closed) stops like a hang-up.
    let terminal_events = terminal_events.chain(futures::stream::iter([Ok(Input::Stop)]));
    let inputs = futures::stream::select(terminal_events, signals);
    drive(terminal, &mut app, &mut rx, inputs).await.map(|_| ())
}

/// A stream fed by a task (signals have no stream of their own here).
fn async_stream<F, Fut>(body: F) -> impl futures::Stream<Item = std::io::Result<Input>> + Unpin
where
    F: FnOnce(mpsc::Sender<std::io::Result<Input>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(body(tx));
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|i| (i, rx)) }).boxed()
}

/// The app's loop on any backend: waits for the next input (from `inputs`, background work on
/// `rx`, a live view's wake, or the tick), steps the app, and draws when a step made it dirty,
/// at most one frame per [`FRAME`]. Returns the number of frames drawn once the app quits or
/// `inputs` ends. The TUI, the whole-app tests and the render benchmark all run this.
pub async fn drive<B: ratatui::backend::Backend>(
    terminal: &mut ratatui::Terminal<B>,
    app: &mut App,
    rx: &mut mpsc::Receiver<AppEvent>,
    mut inputs: impl futures::Stream<Item = std::io::Result<Input>> + Unpin,
) -> std::io::Result<u64> {
    let wake = Arc::clone(&app.wake);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_draw: Option<Instant> = None;
    let mut dirty = true;
    let mut frames = 0;
    loop {
        if app.should_quit {
            break;
        }
        let since = last_draw.map(|t| t.elapsed()).unwrap_or(FRAME);
        if dirty && since >= FRAME {
            app.draw(terminal)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            frames += 1;
            last_draw = Some(Instant::now());
            dirty = false;
        }
        let wait = if dirty {
            FRAME.saturating_sub(since)
        } else {
            Duration::from_secs(3600)
        };
        let input = tokio::select! {
            input = inputs.next() => match input {
                Some(input) => input?,
                None => break,
            },
            _ = wake.notified() => Input::Wake,
            Some(event) = rx.recv() => Input::App(Box::new(event)),
            _ = tick.tick() => Input::Tick,
            _ = tokio::time::sleep(wait), if dirty => continue,
        };
        dirty |= app.step(input);
    }
    Ok(frames)
}
