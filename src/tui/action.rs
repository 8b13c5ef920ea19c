//! What the operator asked for (`Action`, produced by the keymap and mouse) and what the app must
//! do about it (`Effect`, returned by a screen's pure `update`).
use crate::model::Incident;
use crate::planner::PlanRequest;
use crossterm::event::KeyEvent;
use std::path::PathBuf;
use std::time::Duration;

/// A named command that keys are bound to; the names are what `[keys]` in the config uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cmd {
    Quit,
    Help,
    Back,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextFocus,
    PrevFocus,
    Select,
    Toggle,
    Filter,
    Refresh,
    Editor,
    Start,
    SelectTag,
    SelectAll,
    AdHoc,
    AllowIntrusive,
    Zoom,
    Follow,
    Search,
    NextMatch,
    PrevMatch,
    Cancel,
    CancelAll,
    Rerun,
    Export,
    PlayPause,
    Faster,
    Slower,
    SeekForward,
    SeekBack,
    JumpEnd,
    Restart,
    New,
    Duplicate,
    Save,
    Overview,
    ProblemsOnly,
    TagFilter,
    StepFilter,
    Mark,
    Diff,
    DiffLayout,
    FoldMode,
    Compare,
}

impl Cmd {
    /// Every command with its config name and a help line.
    pub const ALL: &'static [(Cmd, &'static str, &'static str)] = &[
        (Cmd::Quit, "quit", "quit (asks first while a capture runs)"),
        (Cmd::Help, "help", "show or hide this help"),
        (Cmd::Back, "back", "back / close"),
        (Cmd::Up, "up", "move up / scroll up"),
        (Cmd::Down, "down", "move down / scroll down"),
        (Cmd::Left, "left", "previous pane or column"),
        (Cmd::Right, "right", "next pane or column"),
        (Cmd::PageUp, "page_up", "page up"),
        (Cmd::PageDown, "page_down", "page down"),
        (Cmd::Top, "top", "go to the top"),
        (Cmd::Bottom, "bottom", "go to the bottom (and follow)"),
        (Cmd::NextFocus, "next_focus", "next panel"),
        (Cmd::PrevFocus, "prev_focus", "previous panel"),
        (Cmd::Select, "select", "open / confirm"),
        (Cmd::Toggle, "toggle", "select or unselect"),
        (Cmd::Filter, "filter", "filter as you type"),
        (Cmd::Refresh, "refresh", "reload"),
        (Cmd::Editor, "editor", "open the preset editor"),
        (Cmd::Start, "start", "start the capture"),
        (
            Cmd::SelectTag,
            "select_tag",
            "select every target with this target's tags",
        ),
        (Cmd::SelectAll, "select_all", "select all shown / none"),
        (Cmd::AdHoc, "adhoc", "edit the ad-hoc command"),
        (
            Cmd::AllowIntrusive,
            "allow_intrusive",
            "allow intrusive steps (asks first)",
        ),
        (Cmd::Zoom, "zoom", "zoom the focused pane"),
        (Cmd::Follow, "follow", "follow output / pause"),
        (Cmd::Search, "search", "search in the focused pane"),
        (Cmd::NextMatch, "next_match", "next (older) match"),
        (Cmd::PrevMatch, "prev_match", "previous (newer) match"),
        (Cmd::Cancel, "cancel", "cancel the focused stream"),
        (Cmd::CancelAll, "cancel_all", "cancel every stream"),
        (
            Cmd::Rerun,
            "rerun",
            "re-run the focused stream if it failed",
        ),
        (Cmd::Export, "export", "export the snapshot"),
        (Cmd::PlayPause, "play_pause", "play / pause"),
        (Cmd::Faster, "faster", "faster (up to 16×)"),
        (Cmd::Slower, "slower", "slower (down to 0.5×)"),
        (Cmd::SeekForward, "seek_forward", "seek forward 5 s"),
        (Cmd::SeekBack, "seek_back", "seek back 5 s"),
        (Cmd::JumpEnd, "jump_end", "jump to the end"),
        (Cmd::Restart, "restart", "back to the start"),
        (Cmd::New, "new", "new preset from a template"),
        (Cmd::Duplicate, "duplicate", "duplicate into a user preset"),
        (Cmd::Save, "save", "save"),
        (Cmd::Overview, "overview", "overview matrix ↔ pane grid"),
        (
            Cmd::ProblemsOnly,
            "problems",
            "problems only: failed, timed out, exit ≠ 0",
        ),
        (
            Cmd::TagFilter,
            "tag_filter",
            "only the next tag's targets (then all)",
        ),
        (
            Cmd::StepFilter,
            "step_filter",
            "only this step / every step",
        ),
        (Cmd::Mark, "mark", "mark a stream to diff against"),
        (
            Cmd::Diff,
            "diff",
            "diff vs the mark, else vs the step majority",
        ),
        (
            Cmd::DiffLayout,
            "diff_layout",
            "diff: side by side ↔ unified",
        ),
        (
            Cmd::FoldMode,
            "fold_mode",
            "fold exact ↔ by shape (numbers, ids masked)",
        ),
        (Cmd::Compare, "compare", "compare with an earlier capture…"),
    ];

    pub fn name(self) -> &'static str {
        Cmd::ALL
            .iter()
            .find(|(c, _, _)| *c == self)
            .map(|(_, n, _)| *n)
            .unwrap_or("?")
    }

    pub fn help(self) -> &'static str {
        Cmd::ALL
            .iter()
            .find(|(c, _, _)| *c == self)
            .map(|(_, _, h)| *h)
            .unwrap_or("")
    }

    pub fn from_name(name: &str) -> Option<Cmd> {
        Cmd::ALL
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(c, _, _)| *c)
    }
}

/// Input to a screen's `update`.
#[derive(Debug, Clone)]
pub enum Action {
    Cmd(Cmd),
    /// A key while a text field has focus (filter, command line, search, editor).
    Key(KeyEvent),
    /// Left click at a terminal cell.
    Click {
        column: u16,
        row: u16,
    },
    /// Mouse wheel: negative is up.
    Scroll {
        column: u16,
        row: u16,
        lines: i32,
    },
    /// Time passed (elapsed counters, replay playback).
    Tick(Duration),
}

/// An incident chosen on the Incidents screen: what the snapshot records, and what runbooks
/// match on (service, urgency, priority, title).
#[derive(Debug, Clone, PartialEq)]
pub struct PickedIncident {
    pub incident: Incident,
    pub facts: crate::runbook::IncidentFacts,
}

/// Something only the app can do (start tasks, touch files, switch screens).
#[derive(Debug, Clone)]
pub enum Effect {
    /// Quit; the app asks first while a capture runs.
    Quit,
    /// Quit without asking (the operator already confirmed).
    ForceQuit,
    /// Cancel every capture, wait for the snapshots to be finalised, then quit.
    StopAndQuit,
    /// Back to the incidents screen.
    Home,
    /// Open Plan, for an incident (with what runbooks match on) or ad hoc (`None`).
    OpenPlan(Option<PickedIncident>),
    StartCapture(Box<PlanRequest>),
    CancelStream {
        capture: usize,
        stream: usize,
    },
    CancelAll,
    Rerun {
        pane: usize,
    },
    OpenReplay(PathBuf),
    OpenEditor,
    OpenExport,
    /// Run an export chosen on the Export screen.
    RunExport(crate::tui::screens::export::ExportJob),
    LoadIncidents,
    SavePreset {
        path: PathBuf,
        text: String,
    },
    /// Ask the operator; run `then` on yes.
    Confirm {
        message: String,
        then: Box<Effect>,
    },
    /// A line in the status bar.
    Message(String),
    /// Back to the screen before the current one.
    Back,
    /// The operator confirmed running intrusive steps (plan screen).
    AllowIntrusive,
    /// Discard the editor's unsaved text and leave it.
    DiscardEdit,
    /// Load two streams of the current screen's capture and show their diff (off the loop).
    OpenDiff {
        a: usize,
        b: usize,
    },
    /// Fold the current screen's streams again, by shape (`true`) or exactly.
    Refold {
        shape: bool,
    },
    /// List recent captures to compare the replayed one with.
    PickBaseline,
    /// Compare the replayed capture with this earlier one (off the loop).
    CompareWith(PathBuf),
    /// Diff one stream of the replayed capture against the baseline's same target and step.
    OpenBaselineDiff {
        stream: usize,
    },
}
