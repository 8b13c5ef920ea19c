//! Preset TOML → validated [`Preset`], with every error located at file:line:col.
use super::{
    DEFAULT_STEP_MAX_BYTES, DEFAULT_STEP_TIMEOUT, ParamDef, ParamKind, Preset, PresetOrigin,
    PresetStep, placeholders,
};
use crate::model::{ByteSize, HumanDuration, Repeat, StepAction, TargetKind};
use crate::source_error::SourceError;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPreset {
    name: Spanned<String>,
    description: String,
    target: TargetKind,
    #[serde(default)]
    params: BTreeMap<Spanned<String>, RawParam>,
    steps: Spanned<Vec<Spanned<RawStep>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    kind: ParamKind,
    #[serde(default)]
    default: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Spanned<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    command: Option<Spanned<String>>,
    #[serde(default)]
    query: Option<Spanned<String>>,
    #[serde(default)]
    timeout: Option<Spanned<HumanDuration>>,
    #[serde(default)]
    max_bytes: Option<ByteSize>,
    #[serde(default)]
    requires: Vec<Spanned<String>>,
    #[serde(default)]
    sudo: bool,
    #[serde(default)]
    intrusive: bool,
    /// A file the command leaves on the target, copied into the snapshot (shell presets only).
    #[serde(default)]
    fetch: Option<Spanned<String>>,
    #[serde(default)]
    max_rows: Option<Spanned<u64>>,
    #[serde(default)]
    repeat: Option<Spanned<RawRepeat>>,
}

/// `repeat = { every = "5s", samples = 3 }`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRepeat {
    every: HumanDuration,
    samples: u32,
}

fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Parses and validates one preset file. `file` is the name used in messages.
pub fn parse_preset(file: &str, source: &str, origin: PresetOrigin) -> Result<Preset, SourceError> {
    let raw: RawPreset =
        toml::from_str(source).map_err(|e| SourceError::from_toml(file, source, &e))?;
    let err =
        |span: std::ops::Range<usize>, msg: String| SourceError::at(file, source, Some(span), msg);

    if !is_slug(raw.name.get_ref()) {
        return Err(err(
            raw.name.span(),
            format!(
                "preset name `{}` must be lowercase letters, digits and -",
                raw.name.get_ref()
            ),
        )
        .with_hint("e.g. name = \"linux-triage\""));
    }
    let stem = file
        .rsplit('/')
        .next()
        .and_then(|f| f.strip_suffix(".toml"));
    if let Some(stem) = stem
        && stem != raw.name.get_ref()
    {
        return Err(err(
            raw.name.span(),
            format!(
                "preset `{}` is in a file named `{stem}.toml`",
                raw.name.get_ref()
            ),
        )
        .with_hint(format!(
            "rename the file to `{}.toml` or set name = \"{stem}\"",
            raw.name.get_ref()
        )));
    }
    if raw.description.trim().is_empty() {
        return Err(SourceError::at(file, source, None, "description is empty")
            .with_hint("say in one line what the preset captures and when to use it"));
    }

    let mut params = BTreeMap::new();
    for (name, def) in raw.params {
        let valid = name
            .get_ref()
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase())
            && name
                .get_ref()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(err(
                name.span(),
                format!(
                    "parameter name `{}` must be lowercase letters, digits and _",
                    name.get_ref()
                ),
            ));
        }
        if let Some(default) = &def.default
            && let Err(e) = def.kind.check(default.get_ref())
        {
            return Err(err(
                default.span(),
                format!("default of parameter `{}`: {e}", name.get_ref()),
            )
            .with_hint("fix the default or change the parameter's kind"));
        }
        let def = ParamDef {
            description: def.description,
            kind: def.kind,
            default: def.default.map(Spanned::into_inner),
        };
        params.insert(name.into_inner(), def);
    }

    if raw.steps.get_ref().is_empty() {
        return Err(
            err(raw.steps.span(), "a preset needs at least one step".into())
                .with_hint("add a [[steps]] table with a name and a command or query"),
        );
    }
    let mut seen = BTreeSet::new();
    let mut steps = Vec::new();
    for step in raw.steps.into_inner() {
        let step_span = step.span();
        let step = step.into_inner();
        let name = step.name.get_ref();
        if !is_slug(name) {
            return Err(err(
                step.name.span(),
                format!("step name `{name}` must be lowercase letters, digits and -"),
            ));
        }
        if !seen.insert(name.clone()) {
            return Err(
                err(step.name.span(), format!("step `{name}` appears twice"))
                    .with_hint("give each step its own name"),
            );
        }
        let action = match (step.command, step.query, raw.target) {
            (Some(c), None, TargetKind::Shell) => {
                (StepAction::Command(c.get_ref().clone()), c.span())
            }
            (None, Some(q), kind) if kind.is_database() => {
                (StepAction::Query(q.get_ref().clone()), q.span())
            }
            (Some(c), None, kind) => {
                return Err(err(
                    c.span(),
                    format!("step `{name}` has a command, but this preset's target is {kind}"),
                )
                .with_hint("database presets use query = \"…\""));
            }
            (None, Some(q), _) => {
                return Err(err(q.span(), format!("step `{name}` has a query, but this preset's target is shell"))
                    .with_hint("shell presets use command = \"…\"; set target = \"mysql\", \"postgres\" or \"sqlite\" for SQL"));
            }
            (Some(_), Some(q), _) => {
                return Err(err(
                    q.span(),
                    format!("step `{name}` has both a command and a query"),
                )
                .with_hint("keep one"));
            }
            (None, None, _) => {
                return Err(err(
                    step_span,
                    format!("step `{name}` has neither a command nor a query"),
                )
                .with_hint(if raw.target == TargetKind::Shell {
                    "add command = \"…\""
                } else {
                    "add query = \"…\""
                }));
            }
        };
        let (action, text_span) = action;
        if action.text().trim().is_empty() {
            return Err(err(
                text_span,
                format!(
                    "step `{name}` has an empty {}",
                    if raw.target == TargetKind::Shell {
                        "command"
                    } else {
                        "query"
                    }
                ),
            ));
        }
        for (offset, placeholder) in placeholders(action.text()) {
            let here = locate_in(source, &text_span, action.text(), offset);
            if !params.contains_key(placeholder) {
                let known: Vec<_> = params.keys().map(String::as_str).collect();
                return Err(err(here, format!("step `{name}` uses `{{{{{placeholder}}}}}`, which is not a parameter of this preset"))
                    .with_hint(if known.is_empty() { format!("declare it: [params.{placeholder}]") } else { format!("declared parameters: {}", known.join(", ")) }));
            }
        }
        if let Err(e) = check_template(action.text(), raw.target) {
            let here = locate_offset(source, &text_span, action.text(), e.0);
            return Err(err(here, format!("step `{name}`: {}", e.1)).with_hint(e.2));
        }
        let timeout = match step.timeout {
            Some(t) if t.get_ref().0.is_zero() => {
                return Err(err(t.span(), format!("step `{name}` has a zero timeout"))
                    .with_hint("use e.g. timeout = \"10s\""));
            }
            Some(t) => t.get_ref().0,
            None => DEFAULT_STEP_TIMEOUT,
        };
        let mut requires = Vec::new();
        for tool in step.requires {
            if !ParamKind::Word
                .check(tool.get_ref())
                .is_ok_and(|()| !tool.get_ref().contains(['@', ':']))
            {
                return Err(err(
                    tool.span(),
                    format!("`{}` is not a tool name", tool.get_ref()),
                )
                .with_hint("requires lists program names found on PATH, e.g. [\"mpstat\"]"));
            }
            requires.push(tool.into_inner());
        }
        let max_rows = match step.max_rows {
            Some(rows) if raw.target == TargetKind::Shell => {
                return Err(err(
                    rows.span(),
                    format!("step `{name}`: max_rows is for database steps"),
                )
                .with_hint("use max_bytes to cap a command's output"));
            }
            Some(rows) if *rows.get_ref() == 0 => {
                return Err(err(rows.span(), format!("step `{name}` has max_rows = 0"))
                    .with_hint("e.g. max_rows = 10000"));
            }
            other => other.map(Spanned::into_inner),
        };
        let repeat = match step.repeat {
            Some(r) => {
                let span = r.span();
                let r = r.into_inner();
                if r.samples == 0 || r.samples > 10_000 {
                    return Err(err(
                        span,
                        format!(
                            "step `{name}`: repeat needs 1 to 10000 samples, not {}",
                            r.samples
                        ),
                    )
                    .with_hint("e.g. repeat = { every = \"5s\", samples = 3 }"));
                }
                if r.every.0.is_zero() {
                    return Err(err(
                        span,
                        format!("step `{name}`: repeat every must be more than zero"),
                    )
                    .with_hint("e.g. repeat = { every = \"5s\", samples = 3 }"));
                }
                Some(Repeat {
                    every: r.every.0,
                    samples: r.samples,
                })
            }
            None => None,
        };
        let fetch = match step.fetch {
            Some(f) if raw.target != TargetKind::Shell => {
                return Err(err(
                    f.span(),
                    format!("step `{name}` has fetch, which only shell presets support"),
                ));
            }
            Some(f) if !f.get_ref().starts_with('/') && !f.get_ref().starts_with("{{") => {
                return Err(err(
                    f.span(),
                    format!("step `{name}`: fetch needs an absolute path on the target"),
                )
                .with_hint("e.g. fetch = \"/tmp/casefile.pcap\" or fetch = \"{{path}}\""));
            }
            Some(f) => {
                for (_, placeholder) in placeholders(f.get_ref()) {
                    if !params.contains_key(placeholder) {
                        return Err(err(
                            f.span(),
                            format!(
                                "step `{name}`: fetch uses `{{{{{placeholder}}}}}`, which is not a parameter of this preset"
                            ),
                        ));
                    }
                }
                Some(f.into_inner())
            }
            None => None,
        };
        steps.push(PresetStep {
            max_rows,
            repeat,
            fetch,
            name: step.name.into_inner(),
            description: step.description,
            action,
            timeout,
            max_bytes: step
                .max_bytes
                .map(|b| b.0)
                .unwrap_or(DEFAULT_STEP_MAX_BYTES),
            requires,
            sudo: step.sudo,
            intrusive: step.intrusive,
        });
    }
    Ok(Preset {
        name: raw.name.into_inner(),
        description: raw.description,
        target: raw.target,
        params,
        steps,
        origin,
    })
}

/// Refuses a template that would let a parameter's value be read as code: (offset, message, hint).
fn check_template(text: &str, target: TargetKind) -> Result<(), (usize, String, String)> {
    match target {
        TargetKind::Shell => super::shell::analyze(text)
            .map(|_| ())
            .map_err(|e| (e.offset, e.message, e.hint)),
        _ => super::sql::analyze(text, target)
            .map(|_| ())
            .map_err(|e| (e.offset, e.message, e.hint)),
    }
}

/// Maps a byte offset inside a string value back to the source. Exact for literal strings
/// ('…', '''…''') and for basic strings without escapes before the offset; otherwise the
/// text at the offset is looked up in the value's span, and failing that the string's start.
fn locate_offset(
    source: &str,
    span: &std::ops::Range<usize>,
    value: &str,
    offset: usize,
) -> std::ops::Range<usize> {
    let Some(raw) = source.get(span.clone()) else {
        return span.clone();
    };
    for opener in ["'''", "\"\"\"", "'", "\""] {
        if let Some(body) = raw.strip_prefix(opener) {
            let skip = opener.len() + usize::from(opener.len() == 3 && body.starts_with('\n'));
            let body = &raw[skip..];
            if body.get(..offset) == value.get(..offset) && body.is_char_boundary(offset) {
                return span.start + skip + offset..span.start + skip + offset;
            }
            break;
        }
    }
    let needle: String = value.get(offset..).unwrap_or("").chars().take(12).collect();
    if !needle.is_empty()
        && let Some(i) = raw.find(&needle)
    {
        return span.start + i..span.start + i + needle.len();
    }
    span.clone()
}

/// Maps an offset inside a string value back to the source, by finding the same text in the
/// value's source span (exact for plain strings; the string's start otherwise).
fn locate_in(
    source: &str,
    span: &std::ops::Range<usize>,
    value: &str,
    offset: usize,
) -> std::ops::Range<usize> {
    let end = value[offset..]
        .find("}}")
        .map(|e| offset + e + 2)
        .unwrap_or(value.len());
    let needle = &value[offset..end];
    source
        .get(span.clone())
        .and_then(|raw| raw.find(needle))
        .map(|i| span.start + i..span.start + i + needle.len())
        .unwrap_or_else(|| span.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLED: &str = "name = \"s\"\ndescription = \"d\"\ntarget = \"mysql\"\n[[steps]]\nname = \"status\"\nquery = \"SHOW GLOBAL STATUS\"\nmax_rows = 500\nrepeat = { every = \"5s\", samples = 3 }\n";

    #[test]
    fn repeat_and_max_rows_are_parsed_and_checked() {
        let preset = parse_preset("s.toml", SAMPLED, PresetOrigin::Builtin).expect("valid");
        let step = &preset.steps[0];
        assert_eq!(
            step.repeat,
            Some(Repeat {
                every: std::time::Duration::from_secs(5),
                samples: 3
            })
        );
        assert_eq!(step.max_rows, Some(500));
        let zero = SAMPLED.replace("samples = 3", "samples = 0");
        let err = parse_preset("s.toml", &zero, PresetOrigin::Builtin).expect_err("zero samples");
        assert_eq!(err.line, 8, "{err}");
        let shell = "name = \"s\"\ndescription = \"d\"\ntarget = \"shell\"\n[[steps]]\nname = \"a\"\ncommand = \"true\"\nmax_rows = 5\n";
        let err =
            parse_preset("s.toml", shell, PresetOrigin::Builtin).expect_err("max_rows on shell");
        assert!(
            err.to_string().contains("max_rows is for database steps"),
            "{err}"
        );
    }
}
