//! Widgets shared by the screens.
pub mod confirm; // yes/no dialog
pub mod diff; // two streams side by side or unified
pub mod fleet_view; // grid ↔ overview ↔ diff on the run and replay screens
pub mod help; // `?` overlay listing the current screen's keys
pub mod overview; // targets × steps matrix with filters and folded groups
pub mod pane; // the pane grid of the run and replay screens
pub mod status; // header and footer bars

use ratatui::layout::Rect;

/// A `width`×`height` rectangle centred in `area` (clamped to it).
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    )
}

/// A list row drawn as selected: one uniform style over the whole row width.
pub fn selected_line(
    line: ratatui::text::Line<'_>,
    style: ratatui::style::Style,
) -> ratatui::text::Line<'static> {
    let mut spans: Vec<ratatui::text::Span<'static>> = line
        .spans
        .into_iter()
        .map(|span| ratatui::text::Span::styled(span.content.into_owned(), style))
        .collect();
    // Padding past any pane width: the paragraph cuts it at the border.
    spans.push(ratatui::text::Span::styled(" ".repeat(512), style));
    ratatui::text::Line::from(spans)
}
