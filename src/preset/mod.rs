//! Presets: named, reviewed lists of capture steps for one kind of target.
//!
//! `parse` turns a TOML file into a validated [`Preset`] (errors carry file:line:col and a hint),
//! `params` fills `{{name}}` placeholders with values passed as data (`shell`, `sql`), and `library` merges built-ins with user files.
mod library;
mod params;
mod parse;
pub mod shell;
pub mod sql;

pub use library::{PresetLibrary, PresetOrigin, load_file};
pub use params::{ParamDef, ParamKind, fill_template, placeholders};
pub use parse::parse_preset;

use crate::model::{StepAction, TargetKind};
use std::{collections::BTreeMap, time::Duration};

/// Timeout of a step that does not set one.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// Output cap of a preset step that does not set one.
pub const DEFAULT_STEP_MAX_BYTES: u64 = 64 << 20;

/// A validated preset.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    pub name: String,
    pub description: String,
    pub target: TargetKind,
    pub params: BTreeMap<String, ParamDef>,
    pub steps: Vec<PresetStep>,
    pub origin: PresetOrigin,
}

/// One step of a preset, with its command or query still holding `{{placeholders}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct PresetStep {
    pub name: String,
    pub description: Option<String>,
    pub action: StepAction,
    pub timeout: Duration,
    pub max_bytes: u64,
    pub requires: Vec<String>,
    pub sudo: bool,
    pub intrusive: bool,
    /// Database steps: row cap per query (`None` = the runner's default).
    pub max_rows: Option<u64>,
    /// Sampling: run the step several times.
    pub repeat: Option<crate::model::Repeat>,
    /// A file on the target that the command produces, copied into the snapshot afterwards.
    pub fetch: Option<String>,
}

impl Preset {
    /// Resolves parameter values: given ones win, then defaults; every value is checked against its kind.
    pub fn resolve_params(
        &self,
        given: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, String> {
        let mut values = BTreeMap::new();
        for (name, def) in &self.params {
            let value = match (given.get(name), &def.default) {
                (Some(v), _) => v.clone(),
                (None, Some(d)) => d.clone(),
                (None, None) => {
                    return Err(format!(
                        "preset `{}` needs parameter `{name}` ({}): pass --param {name}=VALUE",
                        self.name,
                        def.description.as_deref().unwrap_or(def.kind.describe())
                    ));
                }
            };
            def.kind
                .check(&value)
                .map_err(|e| format!("preset `{}`, parameter `{name}`: {e}", self.name))?;
            values.insert(name.clone(), value);
        }
        Ok(values)
    }

    /// The step's `fetch` path with parameters filled in as plain text (it is quoted when used).
    pub fn render_fetch(
        &self,
        step: &PresetStep,
        values: &BTreeMap<String, String>,
    ) -> Option<String> {
        // One pass, so a value that looks like `{{other}}` stays as it is.
        step.fetch.as_ref().map(|path| {
            let mut out = String::with_capacity(path.len());
            let mut last = 0;
            for (offset, name) in placeholders(path) {
                let Some(len) = path[offset..].find("}}") else {
                    break;
                };
                out.push_str(&path[last..offset]);
                match values.get(name) {
                    Some(value) => out.push_str(value),
                    None => out.push_str(&path[offset..offset + len + 2]),
                }
                last = offset + len + 2;
            }
            out.push_str(&path[last..]);
            out
        })
    }

    /// The step's command or query with parameters filled in for this target kind.
    pub fn render_step(
        &self,
        step: &PresetStep,
        values: &BTreeMap<String, String>,
        kind: TargetKind,
    ) -> Result<StepAction, String> {
        let kinds: BTreeMap<&str, ParamKind> = self
            .params
            .iter()
            .map(|(n, d)| (n.as_str(), d.kind))
            .collect();
        Ok(match &step.action {
            StepAction::Command(t) => StepAction::Command(fill_template(t, values, &kinds, kind)?),
            StepAction::Query(t) => StepAction::Query(fill_template(t, values, &kinds, kind)?),
        })
    }
}
