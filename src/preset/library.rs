//! The preset library: built-ins embedded from `presets/`, overridden by name from the user's dir.
use super::{Preset, parse_preset};
use crate::source_error::SourceError;
use std::{
    collections::BTreeMap,
    fmt, fs,
    path::{Path, PathBuf},
};

include!(concat!(env!("OUT_DIR"), "/builtin_presets.rs"));

/// Where a preset came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresetOrigin {
    Builtin,
    User(PathBuf),
    /// A file checked with `presets check`, not part of the library.
    File(PathBuf),
}

impl fmt::Display for PresetOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PresetOrigin::Builtin => f.write_str("built-in"),
            PresetOrigin::User(p) | PresetOrigin::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// All presets available to a capture, by name.
#[derive(Debug, Default)]
pub struct PresetLibrary {
    pub presets: BTreeMap<String, Preset>,
    /// User files that failed to parse: reported, never silently dropped.
    pub problems: Vec<SourceError>,
}

impl PresetLibrary {
    /// Built-ins, then every `*.toml` in `user_dir` (a user preset replaces a built-in of the same name).
    pub fn load(user_dir: Option<&Path>) -> PresetLibrary {
        let mut library = PresetLibrary::default();
        for (file, text) in BUILTIN_PRESETS {
            match parse_preset(&format!("presets/{file}"), text, PresetOrigin::Builtin) {
                Ok(p) => {
                    library.presets.insert(p.name.clone(), p);
                }
                Err(e) => library.problems.push(e),
            }
        }
        let Some(dir) = user_dir else { return library };
        let Ok(entries) = fs::read_dir(dir) else {
            return library;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        files.retain(|p| p.extension().is_some_and(|e| e == "toml"));
        files.sort();
        for path in files {
            match load_file(&path, PresetOrigin::User(path.clone())) {
                Ok(p) => {
                    library.presets.insert(p.name.clone(), p);
                }
                Err(e) => library.problems.push(e),
            }
        }
        library
    }

    pub fn get(&self, name: &str) -> Result<&Preset, String> {
        self.presets.get(name).ok_or_else(|| {
            let names: Vec<_> = self.presets.keys().map(String::as_str).collect();
            let broken = self
                .problems
                .iter()
                .find(|p| p.file.ends_with(&format!("/{name}.toml")))
                .map(|p| format!("\n{p}"))
                .unwrap_or_default();
            format!(
                "no preset named `{name}`; available: {}{broken}",
                names.join(", ")
            )
        })
    }
}

/// Reads and parses one preset file from disk.
pub fn load_file(path: &Path, origin: PresetOrigin) -> Result<Preset, SourceError> {
    let name = path.display().to_string();
    let text = fs::read_to_string(path)
        .map_err(|e| SourceError::at(&name, "", None, format!("cannot read preset: {e}")))?;
    parse_preset(&name, &text, origin)
}
