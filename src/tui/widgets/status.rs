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
        for &cmd in self.commands.iter().chain([Cmd::Help, Cmd::Quit].iter()) {
            let label = self.keymap.label(self.scope, cmd);
            if label == "-" {
                continue;
            }
            spans.push(Span::styled(format!(" {label} "), self.theme.key));
            spans.push(Span::styled(
                format!(" {} ", cmd.name().replace('_', " ")),
                self.theme.status_bar,
            ));
        }
        if let Some(message) = self.message {
            let style = if message.starts_with("error")
                || message.contains("cannot")
                || message.contains("failed")
            {
                self.theme.status_bar.patch(self.theme.error)
            } else {
                self.theme.status_bar.patch(self.theme.accent)
            };
            spans.push(Span::styled(format!(" │ {message}"), style));
        }
        buf.set_line(area.x, area.y, &Line::from(spans), area.width);
    }
}
