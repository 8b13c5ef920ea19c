//! Per-screen keymaps: a table from key to [`Cmd`], looked up by screen then globally.
//! Overridable in casefile.toml: `[keys.run] zoom = "z"` or `zoom = ["z", "enter"]`
//! (sections: global, incidents, plan, run, export, replay, editor).
use super::action::Cmd;
use crate::source_error::SourceError;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::BTreeMap;

/// Which table a key is looked up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Global,
    Incidents,
    Plan,
    Run,
    Export,
    Replay,
    Editor,
}

impl Scope {
    pub const ALL: [Scope; 7] = [
        Scope::Global,
        Scope::Incidents,
        Scope::Plan,
        Scope::Run,
        Scope::Export,
        Scope::Replay,
        Scope::Editor,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Incidents => "incidents",
            Scope::Plan => "plan",
            Scope::Run => "run",
            Scope::Export => "export",
            Scope::Replay => "replay",
            Scope::Editor => "editor",
        }
    }
}

/// A key with modifiers, comparable regardless of how the terminal reported shift on letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyCombo {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

impl KeyCombo {
    pub fn from_event(event: &KeyEvent) -> KeyCombo {
        let code = event.code;
        KeyCombo {
            code,
            ctrl: event.modifiers.contains(KeyModifiers::CONTROL),
            alt: event.modifiers.contains(KeyModifiers::ALT),
        }
    }

    /// Parses `q`, `G`, `?`, `ctrl-c`, `alt-x`, `enter`, `esc`, `tab`, `backtab`, `space`,
    /// `up`, `pgdn`, `home`, `f5`…
    pub fn parse(text: &str) -> Result<KeyCombo, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = text.trim();
        loop {
            let lower = rest.to_ascii_lowercase();
            if rest.len() > 1 && (lower.starts_with("ctrl-") || lower.starts_with("ctrl+")) {
                ctrl = true;
                rest = &rest[5..];
            } else if rest.len() > 1 && (lower.starts_with("alt-") || lower.starts_with("alt+")) {
                alt = true;
                rest = &rest[4..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCode::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" => KeyCode::Tab,
                "backtab" | "shift-tab" => KeyCode::BackTab,
                "space" => KeyCode::Char(' '),
                "backspace" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "pgup" | "pageup" => KeyCode::PageUp,
                "pgdn" | "pagedown" => KeyCode::PageDown,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                f if f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                    KeyCode::F(f[1..].parse().unwrap_or(1))
                }
                _ => {
                    return Err(format!(
                        "`{text}` is not a key (examples: q, G, ctrl-c, enter, pgdn, f5)"
                    ));
                }
            },
        };
        Ok(KeyCombo { code, ctrl, alt })
    }

    /// How the key is shown in help and the footer.
    pub fn label(&self) -> String {
        let key = match self.code {
            KeyCode::Char(' ') => "space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "enter".into(),
            KeyCode::Esc => "esc".into(),
            KeyCode::Tab => "tab".into(),
            KeyCode::BackTab => "S-tab".into(),
            KeyCode::Backspace => "bksp".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "pgup".into(),
            KeyCode::PageDown => "pgdn".into(),
            KeyCode::Home => "home".into(),
            KeyCode::End => "end".into(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}").to_lowercase(),
        };
        match (self.ctrl, self.alt) {
            (true, _) => format!("^{}", key.to_uppercase()),
            (_, true) => format!("M-{key}"),
            _ => key,
        }
    }
}

/// Key tables per scope.
#[derive(Debug, Clone)]
pub struct Keymap {
    tables: BTreeMap<Scope, Vec<(KeyCombo, Cmd)>>,
}

fn defaults() -> Vec<(Scope, &'static str, Cmd)> {
    use Cmd::*;
    use Scope::*;
    let mut d = vec![
        (Global, "q", Quit),
        (Global, "ctrl-c", Quit),
        (Global, "?", Help),
        (Global, "esc", Back),
        (Global, "k", Up),
        (Global, "up", Up),
        (Global, "j", Down),
        (Global, "down", Down),
        (Global, "pgup", PageUp),
        (Global, "ctrl-u", PageUp),
        (Global, "pgdn", PageDown),
        (Global, "ctrl-d", PageDown),
        (Global, "g", Top),
        (Global, "home", Top),
        (Global, "G", Bottom),
        (Global, "end", Bottom),
        (Global, "tab", NextFocus),
        (Global, "backtab", PrevFocus),
        (Global, "enter", Select),
    ];
    d.extend([
        (Incidents, "/", Filter),
        (Incidents, "r", Refresh),
        (Incidents, "e", Cmd::Editor),
        (Incidents, "h", Left),
        (Incidents, "left", Left),
        (Incidents, "l", Right),
        (Incidents, "right", Right),
        (Plan, "space", Toggle),
        (Plan, "/", Filter),
        (Plan, "s", Start),
        (Plan, "ctrl-s", Start),
        (Plan, "f5", Start),
        (Plan, "t", SelectTag),
        (Plan, "a", SelectAll),
        (Plan, "c", AdHoc),
        (Plan, "i", AllowIntrusive),
        (Plan, "h", Left),
        (Plan, "left", Left),
        (Plan, "l", Right),
        (Plan, "right", Right),
        (Run, "h", Left),
        (Run, "left", Left),
        (Run, "l", Right),
        (Run, "right", Right),
        (Run, "z", Zoom),
        (Run, "enter", Zoom),
        (Run, "f", Follow),
        (Run, "space", Follow),
        (Run, "/", Search),
        (Run, "n", NextMatch),
        (Run, "N", PrevMatch),
        (Run, "x", Cancel),
        (Run, "X", CancelAll),
        (Run, "R", Rerun),
        (Run, "e", Cmd::Export),
        (Run, "o", Overview),
        (Run, "!", ProblemsOnly),
        (Run, "t", TagFilter),
        (Run, "s", StepFilter),
        (Run, "m", Mark),
        (Run, "d", Diff),
        (Run, "u", DiffLayout),
        (Run, "F", FoldMode),
        (Scope::Export, "e", Cmd::Export),
        (Replay, "h", Left),
        (Replay, "left", Left),
        (Replay, "l", Right),
        (Replay, "right", Right),
        (Replay, "z", Zoom),
        (Replay, "enter", Zoom),
        (Replay, "f", Follow),
        (Replay, "space", PlayPause),
        (Replay, "p", PlayPause),
        (Replay, "+", Faster),
        (Replay, "=", Faster),
        (Replay, "-", Slower),
        (Replay, "]", SeekForward),
        (Replay, ".", SeekForward),
        (Replay, "[", SeekBack),
        (Replay, ",", SeekBack),
        (Replay, "e", JumpEnd),
        (Replay, "0", Restart),
        (Replay, "/", Search),
        (Replay, "n", NextMatch),
        (Replay, "N", PrevMatch),
        (Replay, "o", Overview),
        (Replay, "!", ProblemsOnly),
        (Replay, "t", TagFilter),
        (Replay, "s", StepFilter),
        (Replay, "m", Mark),
        (Replay, "d", Diff),
        (Replay, "u", DiffLayout),
        (Replay, "F", FoldMode),
        (Replay, "c", Compare),
        (Scope::Editor, "n", New),
        (Scope::Editor, "d", Duplicate),
        (Scope::Editor, "ctrl-s", Save),
        (Scope::Editor, "/", Filter),
    ]);
    d
}

impl Default for Keymap {
    fn default() -> Self {
        let mut tables: BTreeMap<Scope, Vec<(KeyCombo, Cmd)>> = BTreeMap::new();
        for (scope, key, cmd) in defaults() {
            if let Ok(combo) = KeyCombo::parse(key) {
                tables.entry(scope).or_default().push((combo, cmd));
            }
        }
        Keymap { tables }
    }
}

/// A `[keys]` entry the keymap cannot use: which screen table and command, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct KeyOverrideError {
    pub screen: String,
    pub command: Option<String>,
    pub message: String,
}

impl Keymap {
    /// The keymap from casefile.toml's `[keys]`; errors name the file, line and column.
    pub fn from_config(config: &crate::config::Config) -> Result<Keymap, SourceError> {
        Keymap::with_overrides(&config.keys).map_err(|e| {
            config
                .key_places
                .error(&e.screen, e.command.as_deref(), e.to_string())
        })
    }

    /// Defaults with the config's `[keys.SCOPE] command = "key" | ["key", …]` applied: a command
    /// named there loses its default keys in that scope and gets the given ones.
    pub fn with_overrides(
        overrides: &BTreeMap<String, BTreeMap<String, Vec<String>>>,
    ) -> Result<Keymap, KeyOverrideError> {
        let mut map = Keymap::default();
        for (scope_name, bindings) in overrides {
            let error = |command: Option<&String>, message: String| KeyOverrideError {
                screen: scope_name.clone(),
                command: command.cloned(),
                message,
            };
            let scope = Scope::ALL
                .into_iter()
                .find(|s| s.name() == scope_name)
                .ok_or_else(|| error(None, format!("[keys.{scope_name}]: no such screen (use one of global, incidents, plan, run, export, replay, editor)")))?;
            for (cmd_name, keys) in bindings {
                let cmd = Cmd::from_name(cmd_name).ok_or_else(|| {
                    let names: Vec<&str> = Cmd::ALL.iter().map(|(_, n, _)| *n).collect();
                    error(
                        Some(cmd_name),
                        format!(
                            "[keys.{scope_name}] {cmd_name}: no such command (known: {})",
                            names.join(", ")
                        ),
                    )
                })?;
                let table = map.tables.entry(scope).or_default();
                table.retain(|(_, c)| *c != cmd);
                for key in keys {
                    let combo = KeyCombo::parse(key).map_err(|e| {
                        error(
                            Some(cmd_name),
                            format!("[keys.{scope_name}] {cmd_name}: {e}"),
                        )
                    })?;
                    table.retain(|(k, _)| *k != combo);
                    table.insert(0, (combo, cmd));
                }
            }
        }
        Ok(map)
    }

    /// The command for `event` on a screen: the screen's table first, then the global one.
    pub fn lookup(&self, scope: Scope, event: &KeyEvent) -> Option<Cmd> {
        let combo = KeyCombo::from_event(event);
        [scope, Scope::Global]
            .iter()
            .filter_map(|s| self.tables.get(s))
            .find_map(|t| t.iter().find(|(k, _)| *k == combo).map(|(_, c)| *c))
    }

    /// The keys bound to `cmd` on a screen, for help and the footer.
    pub fn keys_for(&self, scope: Scope, cmd: Cmd) -> Vec<KeyCombo> {
        let mut keys: Vec<KeyCombo> = Vec::new();
        for s in [scope, Scope::Global] {
            for (k, c) in self.tables.get(&s).into_iter().flatten() {
                // A key the screen rebinds is not the global command's any more.
                if *c == cmd && self.lookup_combo(scope, k) == Some(cmd) && !keys.contains(k) {
                    keys.push(*k);
                }
            }
        }
        keys
    }

    fn lookup_combo(&self, scope: Scope, combo: &KeyCombo) -> Option<Cmd> {
        [scope, Scope::Global]
            .iter()
            .filter_map(|s| self.tables.get(s))
            .find_map(|t| t.iter().find(|(k, _)| k == combo).map(|(_, c)| *c))
    }

    /// `"q"` style label of the first key for `cmd`, or `"?"` when unbound.
    pub fn label(&self, scope: Scope, cmd: Cmd) -> String {
        self.keys_for(scope, cmd)
            .first()
            .map(KeyCombo::label)
            .unwrap_or_else(|| "-".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn screen_keys_win_over_global_and_config_overrides() {
        let map = Keymap::default();
        assert_eq!(
            map.lookup(Scope::Run, &key(KeyCode::Enter)),
            Some(Cmd::Zoom)
        );
        assert_eq!(
            map.lookup(Scope::Plan, &key(KeyCode::Enter)),
            Some(Cmd::Select)
        );
        assert_eq!(
            map.lookup(
                Scope::Run,
                &KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)
            ),
            Some(Cmd::Quit)
        );
        let overrides = BTreeMap::from([(
            "run".to_string(),
            BTreeMap::from([("zoom".to_string(), vec!["Z".to_string()])]),
        )]);
        let map = Keymap::with_overrides(&overrides).expect("valid");
        assert_eq!(
            map.lookup(Scope::Run, &key(KeyCode::Char('Z'))),
            Some(Cmd::Zoom)
        );
        assert_eq!(map.lookup(Scope::Run, &key(KeyCode::Char('z'))), None);
        assert_eq!(
            map.lookup(Scope::Run, &key(KeyCode::Enter)),
            Some(Cmd::Select),
            "zoom lost enter; global select remains"
        );
        let bad = BTreeMap::from([(
            "run".to_string(),
            BTreeMap::from([("zoomm".to_string(), vec!["Z".to_string()])]),
        )]);
        assert!(
            Keymap::with_overrides(&bad)
                .expect_err("unknown command")
                .to_string()
                .contains("no such command")
        );
        assert!(KeyCombo::parse("hyper-q").is_err());
        assert_eq!(KeyCombo::parse("ctrl-s").expect("parse").label(), "^S");
    }

    #[test]
    fn a_bad_key_in_the_config_names_its_line_and_column() {
        let config = crate::config::Config::parse(
            "casefile.toml",
            "[keys.run]\nzoom = \"z\"\nfollow = \"hyper-q\"\n",
        )
        .expect("parses");
        let err = Keymap::from_config(&config).expect_err("bad key");
        assert!(
            err.to_string()
                .starts_with("casefile.toml:3:1: [keys.run] follow:"),
            "{err}"
        );
        let config = crate::config::Config::parse(
            "casefile.toml",
            "[keys.run]\nzoom = \"z\"\n\n[keys.plann]\nstart = \"s\"\n",
        )
        .expect("parses");
        let err = Keymap::from_config(&config).expect_err("bad screen");
        assert_eq!((err.line, err.column), (4, 7), "{err}");
        assert!(err.to_string().contains("no such screen"), "{err}");
    }
}
