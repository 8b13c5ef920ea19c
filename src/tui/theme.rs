//! Themes: every colour the TUI draws comes from a [`Theme`] field, loaded from `themes/*.toml`
//! (built in) and optionally overridden field by field by a user file.
//!
//! A user theme is a TOML file with the same keys; `inherits = "dark"` picks the base
//! (default: dark) and each key present replaces only the properties it sets.
use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use std::path::Path;

/// Built-in themes: (name, TOML text).
pub const BUILTIN_THEMES: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

/// One style as written in a theme file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStyle {
    fg: Option<String>,
    bg: Option<String>,
    bold: Option<bool>,
    italic: Option<bool>,
    underlined: Option<bool>,
    reversed: Option<bool>,
    dim: Option<bool>,
}

impl RawStyle {
    /// `other`'s properties win where it sets them.
    fn merged(&self, other: &RawStyle) -> RawStyle {
        RawStyle {
            fg: other.fg.clone().or_else(|| self.fg.clone()),
            bg: other.bg.clone().or_else(|| self.bg.clone()),
            bold: other.bold.or(self.bold),
            italic: other.italic.or(self.italic),
            underlined: other.underlined.or(self.underlined),
            reversed: other.reversed.or(self.reversed),
            dim: other.dim.or(self.dim),
        }
    }

    fn to_style(&self, field: &str) -> Result<Style, String> {
        let mut style = Style::default();
        if let Some(fg) = &self.fg {
            style = style.fg(parse_color(fg).map_err(|e| format!("{field}.fg: {e}"))?);
        }
        if let Some(bg) = &self.bg {
            style = style.bg(parse_color(bg).map_err(|e| format!("{field}.bg: {e}"))?);
        }
        for (flag, modifier) in [
            (self.bold, Modifier::BOLD),
            (self.italic, Modifier::ITALIC),
            (self.underlined, Modifier::UNDERLINED),
            (self.reversed, Modifier::REVERSED),
            (self.dim, Modifier::DIM),
        ] {
            if flag == Some(true) {
                style = style.add_modifier(modifier);
            }
        }
        Ok(style)
    }
}

/// `#rrggbb`, a colour name (`red`, `lightblue`, `reset`…) or an ANSI index `0`–`255`.
pub fn parse_color(text: &str) -> Result<Color, String> {
    let text = text.trim();
    if let Some(hex) = text.strip_prefix('#') {
        if hex.len() == 6
            && let Ok(v) = u32::from_str_radix(hex, 16)
        {
            return Ok(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
        }
        return Err(format!("`{text}` is not a #rrggbb colour"));
    }
    if let Ok(index) = text.parse::<u8>() {
        return Ok(Color::Indexed(index));
    }
    text.parse::<Color>()
        .map_err(|_| format!("`{text}` is not a colour (use #rrggbb, a name like `red`, or 0-255)"))
}

macro_rules! theme_fields {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// Resolved styles, one per role. Widgets take these; nothing else picks colours.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Theme {
            pub name: String,
            $($(#[$doc])* pub $name: Style,)*
        }

        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RawTheme {
            inherits: Option<String>,
            $($name: Option<RawStyle>,)*
        }

        impl RawTheme {
            fn merged(&self, over: &RawTheme) -> RawTheme {
                RawTheme {
                    inherits: self.inherits.clone(),
                    $($name: match (&self.$name, &over.$name) {
                        (Some(a), Some(b)) => Some(a.merged(b)),
                        (a, b) => b.clone().or_else(|| a.clone()),
                    },)*
                }
            }

            fn resolve(&self, name: &str) -> Result<Theme, String> {
                Ok(Theme {
                    name: name.to_string(),
                    $($name: self.$name.as_ref().map(|s| s.to_style(stringify!($name))).transpose()?.unwrap_or_default(),)*
                })
            }
        }
    };
}

theme_fields! {
    /// Background and default text of the whole screen.
    base, muted, border, border_focus, title, accent,
    /// The highlighted row of a list.
    selected, checked, header, ok, warn, error, running, queued,
    /// Lines a stream wrote to stderr.
    stderr,
    /// Visible stand-ins for control characters in captured output.
    placeholder,
    search_match, status_bar, key, dialog,
    /// The line of a preset with a validation error.
    error_line, gutter, timeline, timeline_fill, input,
}

fn parse_raw(name: &str, text: &str) -> Result<RawTheme, String> {
    toml::from_str(text).map_err(|e| format!("theme {name}: {}", e.message().trim()))
}

fn builtin_raw(name: &str) -> Option<Result<RawTheme, String>> {
    BUILTIN_THEMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, text)| parse_raw(n, text))
}

impl Theme {
    /// Default text colour without a background, for spans drawn over other styles.
    pub fn text(&self) -> Style {
        Style {
            bg: None,
            ..self.base
        }
    }

    /// A built-in theme by name (`dark`, `light`, `high-contrast`).
    pub fn builtin(name: &str) -> Result<Theme, String> {
        let raw = builtin_raw(name).ok_or_else(|| {
            let names: Vec<&str> = BUILTIN_THEMES.iter().map(|(n, _)| *n).collect();
            format!(
                "no theme named `{name}` (built in: {}; or give a .toml path)",
                names.join(", ")
            )
        })??;
        raw.resolve(name)
    }

    /// The dark theme; the fallback when nothing else loads.
    pub fn dark() -> Theme {
        Theme::builtin("dark").unwrap_or_else(|_| {
            RawTheme::default()
                .resolve("dark")
                .unwrap_or_else(|_| unreachable_theme())
        })
    }

    /// Loads `name_or_path` (a built-in name or a theme file), then applies `user_overrides`
    /// (a file whose fields replace single fields) if it exists.
    pub fn load(name_or_path: &str, user_overrides: Option<&Path>) -> Result<Theme, String> {
        let (mut raw, name) = if let Some(raw) = builtin_raw(name_or_path) {
            (raw?, name_or_path.to_string())
        } else {
            let path = Path::new(name_or_path);
            if !path.exists() && !name_or_path.contains(['/', '.']) {
                // Meant a built-in name: say which exist.
                return Theme::builtin(name_or_path);
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("theme file {}: {e}", path.display()))?;
            let file = parse_raw(name_or_path, &text)?;
            let base_name = file.inherits.clone().unwrap_or_else(|| "dark".into());
            let base = builtin_raw(&base_name).ok_or_else(|| {
                format!(
                    "theme file {}: inherits unknown theme `{base_name}`",
                    path.display()
                )
            })??;
            (base.merged(&file), name_or_path.to_string())
        };
        if let Some(path) = user_overrides.filter(|p| p.exists()) {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("theme file {}: {e}", path.display()))?;
            let over = parse_raw(&path.display().to_string(), &text)?;
            if let Some(base_name) = &over.inherits
                && base_name != &name
            {
                raw = builtin_raw(base_name).ok_or_else(|| {
                    format!("{}: inherits unknown theme `{base_name}`", path.display())
                })??;
            }
            raw = raw.merged(&over);
        }
        raw.resolve(&name)
    }
}

/// Only reachable if the embedded dark theme stopped parsing; keeps the app drawable.
fn unreachable_theme() -> Theme {
    Theme {
        name: "plain".into(),
        base: Style::default(),
        muted: Style::default(),
        border: Style::default(),
        border_focus: Style::default(),
        title: Style::default(),
        accent: Style::default(),
        selected: Style::default().add_modifier(Modifier::REVERSED),
        checked: Style::default(),
        header: Style::default(),
        ok: Style::default(),
        warn: Style::default(),
        error: Style::default(),
        running: Style::default(),
        queued: Style::default(),
        stderr: Style::default(),
        placeholder: Style::default(),
        search_match: Style::default().add_modifier(Modifier::REVERSED),
        status_bar: Style::default(),
        key: Style::default(),
        dialog: Style::default(),
        error_line: Style::default(),
        gutter: Style::default(),
        timeline: Style::default(),
        timeline_fill: Style::default(),
        input: Style::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_theme_parses_and_sets_every_field() {
        for (name, _) in BUILTIN_THEMES {
            let theme = Theme::builtin(name).expect("builtin theme parses");
            assert!(theme.base.bg.is_some(), "{name} sets a background");
            assert!(theme.error.fg.is_some(), "{name} sets error");
            assert!(theme.selected.bg.is_some(), "{name} sets selected");
        }
    }

    #[test]
    fn user_file_overrides_single_fields() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("theme.toml");
        std::fs::write(&path, "error = { fg = \"#010203\" }\n").expect("write");
        let dark = Theme::dark();
        let theme = Theme::load("dark", Some(&path)).expect("load");
        assert_eq!(theme.error.fg, Some(Color::Rgb(1, 2, 3)));
        assert!(
            theme.error.add_modifier.contains(Modifier::BOLD),
            "bold kept from dark"
        );
        assert_eq!(theme.base, dark.base, "other fields untouched");
        std::fs::write(&path, "inherits = \"light\"\nbase = { fg = \"red\" }\n").expect("write");
        let theme = Theme::load(&path.display().to_string(), None).expect("load file");
        assert_eq!(theme.base.fg, Some(Color::Red));
        assert_eq!(
            theme.base.bg,
            Theme::builtin("light").expect("light").base.bg
        );
        std::fs::write(&path, "nope = 1\n").expect("write");
        assert!(Theme::load(&path.display().to_string(), None).is_err());
    }
}
