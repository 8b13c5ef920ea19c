//! The header (app name, screen, context) and the footer (main keys and the latest message).
use crate::tui::action::Cmd;
use crate::tui::keymap::{Keymap, Scope};
use crate::tui::theme::Theme;
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    text::{Line, Span},
    widgets::Widget,
};

/// Top line: `casefile › Screen   context…`.
pub struct Header<'a> {
    pub screen: &'a str,
    pub context: &'a str,
    pub theme: &'a Theme,
}

impl Widget for Header<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        buf.set_style(area, self.theme.status_bar);
        let line = Line::from(vec![
            Span::styled(" casefile ", self.theme.key),
            Span::styled(
                format!(" › {} ", self.screen),
                self.theme.status_bar.patch(self.theme.title),
            ),
            Span::styled(format!(" {}", self.context), self.theme.status_bar),
        ]);
        buf.set_line(area.x, area.y, &line, area.width);
    }
}

/// Bottom line: the screen's main keys, then a message (errors in the error style).
pub struct Footer<'a> {
    pub scope: Scope,
    pub commands: &'a [Cmd],
    pub keymap: &'a Keymap,
    pub message: Option<&'a str>,
    pub theme: &'a Theme,
}

impl Widget for Footer<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        buf.set_style(area, self.theme.status_bar);
        let mut spans = Vec::new();
        // The latest message first: it is what the operator needs to read now.
        if let Some(message) = self.message {
            let style = if message.starts_with("error")
                || message.contains("cannot")
                || message.contains("failed")
            {
                self.theme.status_bar.patch(self.theme.error)
            } else {
                self.theme.status_bar.patch(self.theme.accent)
            };
            spans.push(Span::styled(format!(" {message} "), style));
            spans.push(Span::styled("│", self.theme.status_bar));
        }
        for &cmd in self.commands.iter().chain([Cmd::Help, Cmd::Quit].iter()) {
            let label = self.keymap.label(self.scope, cmd);
            if label == "-" {
                continue;
            }
            spans.push(Span::styled(format!(" {label} "), self.theme.key));
            spans.push(Span::styled(
                format!(" {} ", footer_name(cmd)),
                self.theme.status_bar,
            ));
        }
        buf.set_line(area.x, area.y, &Line::from(spans), area.width);
    }
}

/// Short footer label of a command.
fn footer_name(cmd: Cmd) -> &'static str {
    match cmd {
        Cmd::Select => "open",
        Cmd::NextFocus => "panel",
        Cmd::Right => "next pane",
        Cmd::Follow => "follow",
        Cmd::CancelAll => "cancel all",
        Cmd::PlayPause => "play/pause",
        Cmd::SeekBack => "-5s",
        Cmd::SeekForward => "+5s",
        Cmd::JumpEnd => "end",
        Cmd::AdHoc => "command",
        Cmd::Toggle => "select",
        Cmd::SelectTag => "tag",
        Cmd::AllowIntrusive => "intrusive",
        Cmd::Overview => "overview/grid",
        Cmd::ProblemsOnly => "problems",
        Cmd::TagFilter => "tag",
        Cmd::StepFilter => "step",
        Cmd::DiffLayout => "layout",
        Cmd::NextMatch => "next change",
        Cmd::Search => "search",
        other => other.name(),
    }
}
