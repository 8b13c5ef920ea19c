//! Preset editor: list built-in and user presets; edit one in a text area validated as you type
//! (`preset::parse_preset`; the error's line is highlighted and its message shown); save to the
//! user preset dir; new from a template; duplicate a built-in.
use crate::preset::{PresetOrigin, parse_preset};
use crate::source_error::SourceError;
use crate::tui::action::{Action, Cmd, Effect};
use crate::tui::theme::Theme;
use crossterm::event::{KeyCode, KeyModifiers};
use ratatui::{
    buffer::Buffer,
    layout::{Constraint, Layout, Rect},
    style::Style,
    text::{Line, Span},
    widgets::{Block, BorderType, Borders, Paragraph, Widget, Wrap},
};
use ratatui_textarea::TextArea;
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/builtin_presets.rs"));

/// What `n` starts from.
pub const TEMPLATE: &str = r#"name = "my-preset"
description = "What this captures and when to use it, in one line"
target = "shell"        # shell, mysql, postgres or sqlite

[params.pid]
description = "Process id to look at"
kind = "int"            # int, word, path or text
default = "1"

[[steps]]
name = "status"
description = "Kernel view of the process"
command = "cat /proc/{{pid}}/status"
timeout = "5s"
max_bytes = "64KiB"
"#;

/// A preset in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetEntry {
    pub name: String,
    pub builtin: bool,
    pub path: Option<PathBuf>,
    pub text: String,
}

/// The preset being edited.
#[derive(Debug, Clone)]
pub struct Editing {
    pub textarea: TextArea<'static>,
    pub original: String,
    /// The latest validation error, if the text does not parse.
    pub error: Option<SourceError>,
    /// Name of the preset as parsed (where it will be saved).
    pub name: Option<String>,
}

impl Editing {
    fn new(text: &str) -> Editing {
        let mut textarea = TextArea::new(text.lines().map(str::to_string).collect());
        textarea.set_tab_length(2);
        let mut editing = Editing {
            textarea,
            original: text.to_string(),
            error: None,
            name: None,
        };
        editing.validate();
        editing
    }

    pub fn text(&self) -> String {
        let mut text = self.textarea.lines().join("\n");
        text.push('\n');
        text
    }

    pub fn modified(&self) -> bool {
        self.text().trim_end() != self.original.trim_end()
    }

    /// Parses the text as it stands.
    pub fn validate(&mut self) {
        let text = self.text();
        // No `.toml` in the name: the file is saved under the preset's own name, so the
        // parser's "file name matches the preset name" check does not apply while editing.
        match parse_preset(
            "(editor)",
            &text,
            PresetOrigin::File(PathBuf::from("(editor)")),
        ) {
            Ok(p) => {
                self.error = None;
                self.name = Some(p.name);
            }
            Err(e) => {
                self.error = Some(e);
                self.name = None;
            }
        }
    }
}

/// State of the editor screen.
#[derive(Debug, Clone)]
pub struct EditorState {
    pub entries: Vec<PresetEntry>,
    pub cursor: usize,
    pub user_dir: Option<PathBuf>,
    pub editing: Option<Editing>,
}

/// Built-ins plus the `*.toml` files of the user dir (a user file shadows a built-in).
pub fn load_entries(user_dir: Option<&Path>) -> Vec<PresetEntry> {
    let mut entries: Vec<PresetEntry> = BUILTIN_PRESETS
        .iter()
        .map(|(file, text)| PresetEntry {
            name: file.trim_end_matches(".toml").to_string(),
            builtin: true,
            path: None,
            text: text.to_string(),
        })
        .collect();
    if let Some(dir) = user_dir
        && let Ok(read) = std::fs::read_dir(dir)
    {
        let mut paths: Vec<PathBuf> = read
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            entries.retain(|e| e.name != name);
            entries.push(PresetEntry {
                name,
                builtin: false,
                path: Some(path),
                text,
            });
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries
}

/// `text` with its `name = "…"` line set to `name`.
pub fn rename(text: &str, name: &str) -> String {
    let mut done = false;
    text.lines()
        .map(|line| {
            if !done && line.trim_start().starts_with("name") && line.contains('=') {
                done = true;
                format!("name = \"{name}\"")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

impl EditorState {
    pub const COMMANDS: &'static [Cmd] =
        &[Cmd::Select, Cmd::New, Cmd::Duplicate, Cmd::Save, Cmd::Back];

    pub fn new(user_dir: Option<PathBuf>) -> EditorState {
        EditorState {
            entries: load_entries(user_dir.as_deref()),
            cursor: 0,
            user_dir,
            editing: None,
        }
    }

    /// Opens `name` for editing, or a new preset with that name from the template.
    pub fn open_named(&mut self, name: &str) {
        if let Some(i) = self.entries.iter().position(|e| e.name == name) {
            self.cursor = i;
            self.editing = Some(Editing::new(&self.entries[i].text));
        } else {
            self.editing = Some(Editing::new(&rename(TEMPLATE, name)));
        }
    }

    pub fn reload(&mut self) {
        self.entries = load_entries(self.user_dir.as_deref());
        self.cursor = self.cursor.min(self.entries.len().saturating_sub(1));
    }

    pub fn text_mode(&self) -> bool {
        self.editing.is_some()
    }

    fn save(&self) -> Option<Effect> {
        let editing = self.editing.as_ref()?;
        if let Some(e) = &editing.error {
            return Some(Effect::Message(format!(
                "cannot save: line {}: {}",
                e.line, e.message
            )));
        }
        let Some(dir) = &self.user_dir else {
            return Some(Effect::Message(
                "cannot save: no user preset dir (set preset_dir in casefile.toml)".into(),
            ));
        };
        let name = editing.name.clone()?;
        Some(Effect::SavePreset {
            path: dir.join(format!("{name}.toml")),
            text: editing.text(),
        })
    }

    /// The operator saved: the saved text is the new baseline.
    pub fn saved(&mut self) {
        if let Some(editing) = self.editing.as_mut() {
            editing.original = editing.text();
        }
        self.reload();
    }

    pub fn update(&mut self, action: Action) -> Option<Effect> {
        if let Some(editing) = self.editing.as_mut() {
            let Action::Key(key) = action else {
                return None;
            };
            if key.code == KeyCode::Char('s') && key.modifiers.contains(KeyModifiers::CONTROL) {
                return self.save();
            }
            if key.code == KeyCode::Esc {
                if editing.modified() {
                    return Some(Effect::Confirm {
                        message: "Discard the unsaved changes to this preset?".into(),
                        then: Box::new(Effect::DiscardEdit),
                    });
                }
                self.editing = None;
                return None;
            }
            if editing.textarea.input(key) {
                editing.validate();
            }
            return None;
        }
        let Action::Cmd(cmd) = action else {
            return None;
        };
        let last = self.entries.len().saturating_sub(1);
        match cmd {
            Cmd::Up => self.cursor = self.cursor.saturating_sub(1),
            Cmd::Down => self.cursor = (self.cursor + 1).min(last),
            Cmd::Top => self.cursor = 0,
            Cmd::Bottom => self.cursor = last,
            Cmd::PageUp => self.cursor = self.cursor.saturating_sub(10),
            Cmd::PageDown => self.cursor = (self.cursor + 10).min(last),
            Cmd::Select => {
                if let Some(entry) = self.entries.get(self.cursor) {
                    self.editing = Some(Editing::new(&entry.text));
                }
            }
            Cmd::New => self.editing = Some(Editing::new(TEMPLATE)),
            Cmd::Duplicate => {
                let entry = self.entries.get(self.cursor)?;
                let mut name = format!("{}-copy", entry.name);
                let mut n = 2;
                while self.entries.iter().any(|e| e.name == name) {
                    name = format!("{}-copy{n}", entry.name);
                    n += 1;
                }
                let text = rename(&entry.text, &name);
                let mut editing = Editing::new(&text);
                editing.original = String::new();
                self.editing = Some(editing);
                return Some(Effect::Message(format!(
                    "duplicated `{}` as `{name}`: ^S saves it to your preset dir",
                    entry.name
                )));
            }
            Cmd::Back => return Some(Effect::Back),
            Cmd::Quit => return Some(Effect::Quit),
            _ => {}
        }
        None
    }

    /// Discards the edit in progress.
    pub fn discard(&mut self) {
        self.editing = None;
    }

    pub fn context(&self) -> String {
        match (&self.editing, &self.user_dir) {
            (Some(e), Some(dir)) => format!(
                "{} → {}",
                e.name.as_deref().unwrap_or("(invalid)"),
                dir.display()
            ),
            (_, Some(dir)) => format!("user presets in {}", dir.display()),
            _ => String::new(),
        }
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let [list_area, edit_area] = Layout::horizontal([
            Constraint::Length(30.min(area.width / 3)),
            Constraint::Fill(1),
        ])
        .areas(area);
        let focused_list = self.editing.is_none();
        let block = Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Rounded)
            .border_style(if focused_list {
                theme.border_focus
            } else {
                theme.border
            })
            .title(Span::styled(
                " Presets ",
                if focused_list {
                    theme.accent
                } else {
                    theme.title
                },
            ));
        let height = list_area.height.saturating_sub(2) as usize;
        let offset = self.cursor.saturating_sub(height.saturating_sub(1));
        let lines: Vec<Line> = self
            .entries
            .iter()
            .enumerate()
            .skip(offset)
            .take(height)
            .map(|(i, e)| {
                let origin = if e.builtin {
                    Span::styled(" built-in", theme.muted)
                } else {
                    Span::styled(" user", theme.accent)
                };
                let line = Line::from(vec![
                    Span::styled(format!(" {:<18}", e.name), theme.text()),
                    origin,
                ]);
                if i == self.cursor {
                    let style = if focused_list {
                        theme.selected
                    } else {
                        theme.selected.patch(theme.muted)
                    };
                    crate::tui::widgets::selected_line(line, style)
                } else {
                    line
                }
            })
            .collect();
        Paragraph::new(lines).block(block).render(list_area, buf);

        let Some(editing) = &self.editing else {
            let block = Block::default()
                .borders(Borders::ALL)
                .border_type(BorderType::Rounded)
                .border_style(theme.border)
                .title(Span::styled(" Preview ", theme.title));
            let text = self
                .entries
                .get(self.cursor)
                .map(|e| e.text.clone())
                .unwrap_or_default();
            let lines: Vec<Line> = text
                .lines()
                .map(|l| Line::from(Span::styled(l.to_string(), theme.muted)))
                .collect();
            Paragraph::new(lines).block(block).render(edit_area, buf);
            return;
        };
        let message_height = if editing.error.is_some() { 4 } else { 3 };
        let [text_area, message_area] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(message_height)])
                .areas(edit_area);
        let title = match &editing.name {
            Some(name) => format!(
                " {name}.toml{} ",
                if editing.modified() { " ●" } else { "" }
            ),
            None => " (invalid) ".to_string(),
        };
        let block = Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Rounded)
            .border_style(theme.border_focus)
            .title(Span::styled(title, theme.accent));
        let inner = block.inner(text_area);
        block.render(text_area, buf);
        let mut textarea = editing.textarea.clone();
        textarea.set_style(theme.text());
        textarea.set_line_number_style(theme.gutter);
        textarea.set_cursor_line_style(Style::default());
        textarea.set_cursor_style(theme.selected);
        (&textarea).render(inner, buf);
        if let Some(error) = &editing.error {
            let (top, _) = textarea.scroll_offset();
            let row = (error.line as i64 - 1) - top as i64;
            if row >= 0 && (row as u16) < inner.height {
                let line_rect = Rect::new(inner.x, inner.y + row as u16, inner.width, 1);
                buf.set_style(line_rect, theme.error_line);
            }
        }
        let (text, style, title) = match &editing.error {
            Some(e) => (
                format!(
                    "line {}, column {}: {}{}",
                    e.line,
                    e.column,
                    e.message,
                    e.hint
                        .as_ref()
                        .map(|h| format!("\nhint: {h}"))
                        .unwrap_or_default()
                ),
                theme.error,
                " ✗ invalid ",
            ),
            None => (
                "valid · ^S saves to the user preset dir · esc closes".to_string(),
                theme.ok,
                " ✓ valid ",
            ),
        };
        let block = Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Rounded)
            .border_style(style)
            .title(Span::styled(title, style));
        Paragraph::new(text)
            .style(style)
            .wrap(Wrap { trim: false })
            .block(block)
            .render(message_area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEvent;

    fn key(code: KeyCode) -> Action {
        Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn validates_as_you_type_and_saves_to_the_user_dir() {
        let mut s = EditorState::new(Some(PathBuf::from("/tmp/presets")));
        assert!(
            s.entries
                .iter()
                .any(|e| e.name == "linux-triage" && e.builtin)
        );
        s.update(Action::Cmd(Cmd::New));
        let editing = s.editing.as_ref().expect("editing");
        assert!(
            editing.error.is_none(),
            "template is valid: {:?}",
            editing.error
        );
        // Break line 3: `target = "shell"` → `target = "shellx"`.
        let ta = &mut s.editing.as_mut().expect("editing").textarea;
        ta.move_cursor(ratatui_textarea::CursorMove::Jump(2, 15));
        s.update(key(KeyCode::Char('x')));
        let error = s
            .editing
            .as_ref()
            .and_then(|e| e.error.clone())
            .expect("now invalid");
        assert_eq!(error.line, 3, "{error}");
        assert!(
            matches!(s.update(Action::Key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL))), Some(Effect::Message(m)) if m.contains("line 3"))
        );
        s.update(key(KeyCode::Backspace));
        assert!(s.editing.as_ref().expect("editing").error.is_none());
        match s.update(Action::Key(KeyEvent::new(
            KeyCode::Char('s'),
            KeyModifiers::CONTROL,
        ))) {
            Some(Effect::SavePreset { path, text }) => {
                assert_eq!(path, PathBuf::from("/tmp/presets/my-preset.toml"));
                assert!(text.contains("target = \"shell\""));
            }
            other => panic!("expected save, got {other:?}"),
        }
    }

    #[test]
    fn duplicate_renames_and_esc_asks_before_discarding() {
        let mut s = EditorState::new(None);
        s.cursor = s
            .entries
            .iter()
            .position(|e| e.name == "logs")
            .expect("logs preset");
        assert!(matches!(
            s.update(Action::Cmd(Cmd::Duplicate)),
            Some(Effect::Message(_))
        ));
        assert_eq!(
            s.editing.as_ref().and_then(|e| e.name.clone()).as_deref(),
            Some("logs-copy")
        );
        assert!(matches!(
            s.update(key(KeyCode::Esc)),
            Some(Effect::Confirm { .. })
        ));
        assert!(
            matches!(s.update(Action::Key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL))), Some(Effect::Message(m)) if m.contains("no user preset dir"))
        );
    }
}
