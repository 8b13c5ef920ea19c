//! `[keys.SCREEN] command = "key" | ["key", …]`: TUI key overrides. The names and keys are
//! checked by the TUI's keymap (the config layer knows no screens); this keeps where each was
//! written, so its errors name file:line:col like every other config error.
use crate::source_error::{SourceError, line_col};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// One key or several, as written under `[keys.SCREEN]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum KeyList {
    One(String),
    Many(Vec<String>),
}

pub(super) type RawKeys = BTreeMap<Spanned<String>, BTreeMap<Spanned<String>, Spanned<KeyList>>>;

/// Where each `[keys]` screen table and binding was written (1-based line and column).
#[derive(Debug, Clone, Default)]
pub struct KeyPlaces {
    file: String,
    screens: BTreeMap<String, (usize, usize)>,
    bindings: BTreeMap<(String, String), (usize, usize)>,
}

impl KeyPlaces {
    /// An error at `[keys.SCREEN]` (or at its `command = …` line when `command` is given).
    pub fn error(&self, screen: &str, command: Option<&str>, message: String) -> SourceError {
        let place = command
            .and_then(|c| self.bindings.get(&(screen.to_string(), c.to_string())))
            .or_else(|| self.screens.get(screen))
            .copied()
            .unwrap_or((1, 1));
        SourceError {
            file: self.file.clone(),
            line: place.0,
            column: place.1,
            message,
            hint: None,
        }
    }
}

/// Screen → command → keys, plus where each was written.
pub(super) fn validate_keys(
    raw: RawKeys,
    file: &str,
    text: &str,
) -> (BTreeMap<String, BTreeMap<String, Vec<String>>>, KeyPlaces) {
    let mut places = KeyPlaces {
        file: file.to_string(),
        ..KeyPlaces::default()
    };
    let mut keys = BTreeMap::new();
    for (screen, bindings) in raw {
        let screen_name = screen.get_ref().clone();
        places
            .screens
            .insert(screen_name.clone(), line_col(text, screen.span().start));
        let mut table = BTreeMap::new();
        for (command, list) in bindings {
            places.bindings.insert(
                (screen_name.clone(), command.get_ref().clone()),
                line_col(text, command.span().start),
            );
            let list = match list.into_inner() {
                KeyList::One(k) => vec![k],
                KeyList::Many(ks) => ks,
            };
            table.insert(command.into_inner(), list);
        }
        keys.insert(screen_name, table);
    }
    (keys, places)
}
