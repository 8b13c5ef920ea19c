//! Renders a ratatui buffer to SVG with its real colours, so the screenshots in `screenshots/`
//! come from the app's own drawing code rather than being drawn by hand.
use ratatui::{buffer::Buffer, style::Color, style::Modifier};

const CELL_W: f32 = 8.4;
const CELL_H: f32 = 17.0;
const FONT_SIZE: f32 = 14.0;

fn hex(color: Color, fallback: &str) -> String {
    let named = |i: u8| -> &'static str {
        [
            "#000000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
            "#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff",
        ][i as usize % 16]
    };
    match color {
        Color::Rgb(r, g, b) => format!("#{r:02x}{g:02x}{b:02x}"),
        Color::Reset => fallback.to_string(),
        Color::Black => named(0).into(),
        Color::Red => named(1).into(),
        Color::Green => named(2).into(),
        Color::Yellow => named(3).into(),
        Color::Blue => named(4).into(),
        Color::Magenta => named(5).into(),
        Color::Cyan => named(6).into(),
        Color::Gray => named(7).into(),
        Color::DarkGray => named(8).into(),
        Color::LightRed => named(9).into(),
        Color::LightGreen => named(10).into(),
        Color::LightYellow => named(11).into(),
        Color::LightBlue => named(12).into(),
        Color::LightMagenta => named(13).into(),
        Color::LightCyan => named(14).into(),
        Color::White => named(15).into(),
        Color::Indexed(i) if i < 16 => named(i).into(),
        Color::Indexed(_) => fallback.to_string(),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The buffer as an SVG document; `default_fg`/`default_bg` stand in for `Color::Reset`.
pub fn buffer_to_svg(buffer: &Buffer, default_fg: Color, default_bg: Color) -> String {
    let area = buffer.area;
    let (width, height) = (area.width as f32 * CELL_W, area.height as f32 * CELL_H);
    let bg_default = hex(default_bg, "#000000");
    let fg_default = hex(default_fg, "#ffffff");
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"'DejaVu Sans Mono','Menlo','Consolas',monospace\" font-size=\"{FONT_SIZE}\">\n<rect width=\"100%\" height=\"100%\" fill=\"{bg_default}\"/>\n"
    );
    for y in 0..area.height {
        // Background runs.
        let mut x = 0;
        while x < area.width {
            let cell = &buffer[(area.x + x, area.y + y)];
            let (fg, bg) = if cell.modifier.contains(Modifier::REVERSED) {
                (cell.bg, cell.fg)
            } else {
                (cell.fg, cell.bg)
            };
            let _ = fg;
            let color = hex(bg, &bg_default);
            let start = x;
            while x < area.width {
                let c = &buffer[(area.x + x, area.y + y)];
                let b = if c.modifier.contains(Modifier::REVERSED) {
                    c.fg
                } else {
                    c.bg
                };
                if hex(b, &bg_default) != color {
                    break;
                }
                x += 1;
            }
            if color != bg_default {
                out.push_str(&format!(
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{CELL_H}\" fill=\"{color}\"/>\n",
                    start as f32 * CELL_W,
                    y as f32 * CELL_H,
                    (x - start) as f32 * CELL_W
                ));
            }
        }
        // Text, one element per cell with a visible symbol so wide and narrow glyphs stay on the grid.
        for x in 0..area.width {
            let cell = &buffer[(area.x + x, area.y + y)];
            let symbol = cell.symbol();
            if symbol.trim().is_empty() {
                continue;
            }
            let fg = if cell.modifier.contains(Modifier::REVERSED) {
                cell.bg
            } else {
                cell.fg
            };
            let mut attrs = format!("fill=\"{}\"", hex(fg, &fg_default));
            if cell.modifier.contains(Modifier::BOLD) {
                attrs.push_str(" font-weight=\"bold\"");
            }
            if cell.modifier.contains(Modifier::ITALIC) {
                attrs.push_str(" font-style=\"italic\"");
            }
            if cell.modifier.contains(Modifier::UNDERLINED) {
                attrs.push_str(" text-decoration=\"underline\"");
            }
            out.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" {attrs} xml:space=\"preserve\">{}</text>\n",
                x as f32 * CELL_W,
                y as f32 * CELL_H + CELL_H * 0.78,
                escape(symbol)
            ));
        }
    }
    out.push_str("</svg>\n");
    out
}
