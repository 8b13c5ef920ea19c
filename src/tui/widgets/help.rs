//! The `?` overlay: every key of the current screen, from the live keymap (so overrides show).
use super::centered;
use crate::tui::action::Cmd;
use crate::tui::keymap::{Keymap, Scope};
use crate::tui::theme::Theme;
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    text::{Line, Span},
    widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget},
};

pub struct HelpOverlay<'a> {
    pub title: &'a str,
    pub scope: Scope,
    pub commands: &'a [Cmd],
    pub keymap: &'a Keymap,
    pub theme: &'a Theme,
}

impl Widget for HelpOverlay<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let mut lines = Vec::new();
        for &cmd in self
            .commands
            .iter()
            .chain([Cmd::Help, Cmd::Back, Cmd::Quit].iter())
        {
            let keys = self.keymap.keys_for(self.scope, cmd);
            if keys.is_empty() {
                continue;
            }
            let keys: Vec<String> = keys.iter().map(|k| k.label()).collect();
            lines.push(Line::from(vec![
                Span::styled(format!(" {:<16}", keys.join(" ")), self.theme.accent),
                Span::styled(cmd.help().to_string(), self.theme.dialog),
            ]));
        }
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            " keys can be changed in casefile.toml under [keys.<screen>]",
            self.theme.muted,
        )));
        let height = lines.len() as u16 + 2;
        let rect = centered(area, 64, height);
        Clear.render(rect, buf);
        let block = Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Rounded)
            .border_style(self.theme.border_focus)
            .style(self.theme.dialog)
            .title(Span::styled(
                format!(" keys · {} ", self.title),
                self.theme.title,
            ));
        Paragraph::new(lines).block(block).render(rect, buf);
    }
}
