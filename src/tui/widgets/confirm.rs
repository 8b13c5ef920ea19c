//! A yes/no question drawn over the screen.
use super::centered;
use crate::tui::theme::Theme;
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    text::{Line, Span},
    widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget, Wrap},
};

pub struct ConfirmDialog<'a> {
    pub message: &'a str,
    pub theme: &'a Theme,
}

impl Widget for ConfirmDialog<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let width = (self.message.chars().count() as u16 + 6).clamp(30, 70);
        let lines = (self.message.chars().count() as u16 / (width - 4)) + 1;
        let rect = centered(area, width, lines + 5);
        Clear.render(rect, buf);
        let block = Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Double)
            .border_style(self.theme.warn)
            .style(self.theme.dialog)
            .title(Span::styled(" confirm ", self.theme.warn));
        let text = vec![
            Line::from(Span::styled(self.message.to_string(), self.theme.dialog)),
            Line::default(),
            Line::from(vec![
                Span::styled(" y ", self.theme.key),
                Span::styled(" yes    ", self.theme.dialog),
                Span::styled(" n ", self.theme.key),
                Span::styled(" no ", self.theme.dialog),
            ])
            .centered(),
        ];
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .block(block)
            .render(rect, buf);
    }
}
