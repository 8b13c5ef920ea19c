//! A capture plan: every (target, step) pair that will run, with parameters already filled in.
use super::{Incident, Target, TargetKind};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What a step does on its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepAction {
    /// A `/bin/sh -c` command line for shell targets.
    Command(String),
    /// SQL for database targets.
    Query(String),
}

impl StepAction {
    pub fn text(&self) -> &str {
        match self {
            StepAction::Command(text) | StepAction::Query(text) => text,
        }
    }

    /// The kind of target this action can run on (`None` = any database).
    pub fn runs_on(&self, kind: TargetKind) -> bool {
        match self {
            StepAction::Command(_) => kind == TargetKind::Shell,
            StepAction::Query(_) => kind.is_database(),
        }
    }
}

/// One stream: a step on a target. Its output goes to its own files in the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSpec {
    /// File-safe unique id, e.g. `03-local-linux-triage-top-cpu`.
    pub id: String,
    /// Index into `CapturePlan::targets`.
    pub target: usize,
    /// Preset name, or `adhoc` for `--run`/`--query` steps.
    pub preset: String,
    pub step: String,
    pub action: StepAction,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    #[serde(with = "duration_ms", rename = "timeout_ms")]
    pub timeout: Duration,
    /// Output cap per stream (stdout and stderr each); `None` = unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    #[serde(default)]
    pub sudo: bool,
    #[serde(default)]
    pub intrusive: bool,
    /// Database steps: stop reading a result after this many rows (`None` = the runner's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows: Option<u64>,
    /// Run the step several times, spaced out (pt-stalk style sampling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<Repeat>,
    /// A file on the target to copy into the snapshot after the command (`fetch = "PATH"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch: Option<String>,
    /// Set when the stream is planned but must not run (e.g. intrusive without confirmation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
}

impl StreamSpec {
    /// A stream that runs `action` once, uncapped, without sudo, sampling or fetch; set any of
    /// those with struct update syntax (`StreamSpec { max_bytes: Some(n), ..StreamSpec::new(…) }`).
    pub fn new(
        id: impl Into<String>,
        target: usize,
        preset: impl Into<String>,
        step: impl Into<String>,
        action: StepAction,
        timeout: Duration,
    ) -> StreamSpec {
        StreamSpec {
            id: id.into(),
            target,
            preset: preset.into(),
            step: step.into(),
            action,
            requires: vec![],
            timeout,
            max_bytes: None,
            sudo: false,
            intrusive: false,
            max_rows: None,
            repeat: None,
            fetch: None,
            skip_reason: None,
        }
    }
}

/// Sampling: `samples` runs, each starting `every` after the previous one started (or right
/// after it ended, when a run takes longer): samples never overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repeat {
    #[serde(with = "duration_ms", rename = "every_ms")]
    pub every: Duration,
    pub samples: u32,
}

/// Targets × steps, ready for the engine. The same plan gives the same snapshot from TUI or CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturePlan {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<Incident>,
    pub targets: Vec<Target>,
    pub streams: Vec<StreamSpec>,
}

impl CapturePlan {
    pub fn target_of(&self, stream: &StreamSpec) -> &Target {
        &self.targets[stream.target]
    }
}

/// Turns anything into a short file-name-safe slug: `web-1.prod` → `web-1.prod`, `a b/c` → `a-b-c`.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    let mut slug: String = trimmed.chars().take(48).collect();
    if slug.is_empty() || slug.starts_with('.') {
        slug.insert(0, 'x');
    }
    slug
}

mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slugs_are_file_safe() {
        assert_eq!(slug("Top CPU / mem"), "top-cpu-mem");
        assert_eq!(slug("../../etc"), "x..-..-etc");
        assert_eq!(slug(""), "x");
    }
}
