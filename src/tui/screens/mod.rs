//! One file per screen: plain state, a pure `update(&mut self, Action) -> Option<Effect>`, and a
//! `render` that borrows the state. [`ScreenState`] is what the app sees of the active one.
pub mod editor; // preset editor
pub mod export; // snapshot destinations
pub mod incidents; // incident picker and recent captures
pub mod plan; // targets × presets → preview → start
pub mod replay; // saved snapshot played back
pub mod run; // live pane grid

use crate::config::Config;
use crate::tui::action::{Action, Cmd, Effect};
use crate::tui::theme::Theme;
use ratatui::{buffer::Buffer, layout::Rect};

/// What the app needs from the active screen: one trait instead of a `match` on the screen in
/// every app method. Each implementation forwards to the screen's own inherent methods.
pub trait ScreenState {
    /// Pure state update; the returned effect is carried out by the app.
    fn handle(&mut self, action: Action) -> Option<Effect>;
    /// Draws the screen's body.
    fn draw(&mut self, area: Rect, buf: &mut Buffer, theme: &Theme);
    /// True while typed keys are text (a filter, a search, the editor), not commands.
    fn text_mode(&self) -> bool {
        false
    }
    /// Every command of the screen (the help overlay).
    fn commands(&self) -> &'static [Cmd];
    /// The few keys the footer shows.
    fn footer_commands(&self) -> &'static [Cmd];
    /// True while the screen changes on its own (elapsed counters, playback, upload progress).
    fn animating(&self) -> bool {
        false
    }
    /// The header's right-hand text.
    fn header_context(&self, config: &Config) -> String;
}

impl ScreenState for incidents::IncidentsState {
    fn handle(&mut self, action: Action) -> Option<Effect> {
        self.update(action)
    }
    fn draw(&mut self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        self.render(area, buf, theme)
    }
    fn text_mode(&self) -> bool {
        incidents::IncidentsState::text_mode(self)
    }
    fn commands(&self) -> &'static [Cmd] {
        Self::COMMANDS
    }
    fn footer_commands(&self) -> &'static [Cmd] {
        &[Cmd::Select, Cmd::Filter, Cmd::NextFocus, Cmd::Editor]
    }
    fn header_context(&self, config: &Config) -> String {
        format!("captures in {}", config.capture_dir.display())
    }
}

impl ScreenState for plan::PlanState {
    fn handle(&mut self, action: Action) -> Option<Effect> {
        self.update(action)
    }
    fn draw(&mut self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        self.render(area, buf, theme)
    }
    fn text_mode(&self) -> bool {
        plan::PlanState::text_mode(self)
    }
    fn commands(&self) -> &'static [Cmd] {
        Self::COMMANDS
    }
    fn footer_commands(&self) -> &'static [Cmd] {
        &[
            Cmd::Toggle,
            Cmd::NextFocus,
            Cmd::AdHoc,
            Cmd::Start,
            Cmd::Back,
        ]
    }
    fn header_context(&self, _: &Config) -> String {
        let incident = match self.incident.as_ref() {
            Some(i) => format!("incident {} {}", i.id, i.title.as_deref().unwrap_or("")),
            None => "no incident (ad hoc)".into(),
        };
        match &self.runbook {
            Some(r) => format!("{incident} · runbook {}", r.name),
            None => incident,
        }
    }
}

impl ScreenState for run::RunState {
    fn handle(&mut self, action: Action) -> Option<Effect> {
        self.update(action)
    }
    fn draw(&mut self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        self.render(area, buf, theme)
    }
    fn text_mode(&self) -> bool {
        run::RunState::text_mode(self)
    }
    fn commands(&self) -> &'static [Cmd] {
        Self::COMMANDS
    }
    fn footer_commands(&self) -> &'static [Cmd] {
        self.fleet.footer(Self::GRID_FOOTER)
    }
    fn animating(&self) -> bool {
        run::RunState::animating(self)
    }
    fn header_context(&self, _: &Config) -> String {
        self.context()
    }
}

impl ScreenState for export::ExportState {
    fn handle(&mut self, action: Action) -> Option<Effect> {
        self.update(action)
    }
    fn draw(&mut self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        self.render(area, buf, theme)
    }
    fn commands(&self) -> &'static [Cmd] {
        Self::COMMANDS
    }
    fn footer_commands(&self) -> &'static [Cmd] {
        &[Cmd::Select, Cmd::Export, Cmd::Back]
    }
    fn animating(&self) -> bool {
        self.running
    }
    fn header_context(&self, _: &Config) -> String {
        self.dir.display().to_string()
    }
}

impl ScreenState for replay::ReplayState {
    fn handle(&mut self, action: Action) -> Option<Effect> {
        self.update(action)
    }
    fn draw(&mut self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        self.render(area, buf, theme)
    }
    fn text_mode(&self) -> bool {
        replay::ReplayState::text_mode(self)
    }
    fn commands(&self) -> &'static [Cmd] {
        Self::COMMANDS
    }
    fn footer_commands(&self) -> &'static [Cmd] {
        replay::ReplayState::footer(self)
    }
    fn animating(&self) -> bool {
        replay::ReplayState::animating(self)
    }
    fn header_context(&self, _: &Config) -> String {
        self.context()
    }
}

impl ScreenState for editor::EditorState {
    fn handle(&mut self, action: Action) -> Option<Effect> {
        self.update(action)
    }
    fn draw(&mut self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        self.render(area, buf, theme)
    }
    fn text_mode(&self) -> bool {
        editor::EditorState::text_mode(self)
    }
    fn commands(&self) -> &'static [Cmd] {
        Self::COMMANDS
    }
    fn footer_commands(&self) -> &'static [Cmd] {
        if self.editing.is_some() {
            &[Cmd::Save, Cmd::Back]
        } else {
            &[Cmd::Select, Cmd::New, Cmd::Duplicate]
        }
    }
    fn header_context(&self, _: &Config) -> String {
        self.context()
    }
}
