//! `[[runbooks]]`: which incidents get which capture plan. Each runbook is checked here (name,
//! criteria, regex, export list, parameters); what needs other files (preset names, targets that
//! may be ~/.ssh/config Hosts) is checked by `casefile runbooks check` with the places kept here.
use super::{AtFn, Destinations};
use crate::source_error::SourceError;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRunbook {
    name: Spanned<String>,
    /// The incident's service: its name (PagerDuty's `summary`) or its id.
    #[serde(default)]
    service: Option<Spanned<String>>,
    /// `high` or `low`.
    #[serde(default)]
    urgency: Option<Spanned<String>>,
    /// The priority's name, e.g. `P1`.
    #[serde(default)]
    priority: Option<Spanned<String>>,
    /// A regular expression searched in the incident's title.
    #[serde(default)]
    title: Option<Spanned<String>>,
    #[serde(default)]
    targets: Vec<Spanned<String>>,
    #[serde(default)]
    presets: Vec<Spanned<String>>,
    #[serde(default)]
    params: BTreeMap<String, Spanned<String>>,
    /// Ad-hoc shell commands and SQL, as `--run` and `--query`.
    #[serde(default)]
    runs: Vec<String>,
    #[serde(default)]
    queries: Vec<String>,
    #[serde(default)]
    export: Vec<Spanned<String>>,
    #[serde(default)]
    allow_intrusive: bool,
}

/// Where the result of a runbook goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunbookExport {
    /// `destinations.s3`.
    S3,
    /// A note on the incident (with the S3 link when uploaded).
    Incident,
}

/// A place in casefile.toml (for errors found after parsing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl Place {
    pub fn error(&self, message: impl Into<String>) -> SourceError {
        SourceError {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
            message: message.into(),
            hint: None,
        }
    }
}

/// A checked runbook. Criteria that are `None` match any incident.
#[derive(Debug, Clone)]
pub struct Runbook {
    pub name: String,
    pub service: Option<String>,
    pub urgency: Option<String>,
    pub priority: Option<String>,
    pub title: Option<regex::Regex>,
    /// Target selectors (names, `tag:…`, ~/.ssh/config Hosts, URLs) with where each is written.
    pub targets: Vec<(String, Place)>,
    pub presets: Vec<(String, Place)>,
    pub params: BTreeMap<String, String>,
    pub runs: Vec<String>,
    pub queries: Vec<String>,
    pub export: Vec<RunbookExport>,
    pub allow_intrusive: bool,
    /// Where `[[runbooks]]` starts (its `name`).
    pub place: Place,
}

const URGENCIES: [&str; 2] = ["high", "low"];

/// Checks every runbook in file order (the order breaks ties, see `crate::runbook`).
pub(super) fn validate_runbooks(
    raw: Vec<RawRunbook>,
    destinations: &Destinations,
    file: &str,
    text: &str,
    at: &AtFn<'_>,
) -> Result<Vec<Runbook>, SourceError> {
    let place = |span: std::ops::Range<usize>| {
        let (line, column) = crate::source_error::line_col(text, span.start);
        Place {
            file: file.to_string(),
            line,
            column,
        }
    };
    let mut runbooks: Vec<Runbook> = Vec::new();
    for raw in raw {
        let name = raw.name.get_ref().trim().to_string();
        if name.is_empty() {
            return Err(at(Some(raw.name.span()), "a runbook needs a name".into())
                .with_hint("e.g. name = \"mail\""));
        }
        if runbooks.iter().any(|r| r.name == name) {
            return Err(at(
                Some(raw.name.span()),
                format!("two runbooks are named `{name}`"),
            )
            .with_hint("give each runbook its own name: `--runbook NAME` picks one by it"));
        }
        if let Some(urgency) = &raw.urgency
            && !URGENCIES.contains(&urgency.get_ref().as_str())
        {
            return Err(at(
                Some(urgency.span()),
                format!(
                    "runbook `{name}`: urgency `{}` is not high or low",
                    urgency.get_ref()
                ),
            )
            .with_hint("urgency = \"high\" or \"low\""));
        }
        let title = match &raw.title {
            None => None,
            Some(pattern) => Some(regex::Regex::new(pattern.get_ref()).map_err(|e| {
                at(
                    Some(pattern.span()),
                    format!("runbook `{name}`: title is not a regular expression: {e}"),
                )
                .with_hint("e.g. title = \"(?i)disk|inode\"")
            })?),
        };
        if raw.presets.is_empty() && raw.runs.is_empty() && raw.queries.is_empty() {
            return Err(at(
                Some(raw.name.span()),
                format!("runbook `{name}` captures nothing"),
            )
            .with_hint(
                "add presets = [\"linux-triage\"], runs = [\"CMD\"] or queries = [\"SQL\"]",
            ));
        }
        let export = validate_export(&name, &raw.export, destinations, at)?;
        runbooks.push(Runbook {
            service: raw.service.map(|s| s.into_inner()),
            urgency: raw.urgency.map(|u| u.into_inner()),
            priority: raw.priority.map(|p| p.into_inner()),
            title,
            targets: raw
                .targets
                .into_iter()
                .map(|t| {
                    let p = place(t.span());
                    (t.into_inner(), p)
                })
                .collect(),
            presets: raw
                .presets
                .into_iter()
                .map(|t| {
                    let p = place(t.span());
                    (t.into_inner(), p)
                })
                .collect(),
            params: raw
                .params
                .into_iter()
                .map(|(k, v)| (k, v.into_inner()))
                .collect(),
            runs: raw.runs,
            queries: raw.queries,
            export,
            allow_intrusive: raw.allow_intrusive,
            place: place(raw.name.span()),
            name,
        });
    }
    Ok(runbooks)
}

/// `export = ["s3", "incident"]`; `s3` needs `destinations.s3`.
fn validate_export(
    name: &str,
    raw: &[Spanned<String>],
    destinations: &Destinations,
    at: &AtFn<'_>,
) -> Result<Vec<RunbookExport>, SourceError> {
    let mut export = Vec::new();
    for item in raw {
        let kind = match item.get_ref().as_str() {
            "s3" => RunbookExport::S3,
            "incident" => RunbookExport::Incident,
            other => {
                return Err(at(
                    Some(item.span()),
                    format!("runbook `{name}`: unknown export `{other}`"),
                )
                .with_hint("export takes \"s3\" and/or \"incident\""));
            }
        };
        if kind == RunbookExport::S3 && destinations.s3.is_none() {
            return Err(at(
                Some(item.span()),
                format!("runbook `{name}` exports to s3, but destinations.s3 is not set"),
            )
            .with_hint("add [destinations] s3 = \"s3://bucket/prefix/\""));
        }
        if !export.contains(&kind) {
            export.push(kind);
        }
    }
    Ok(export)
}
