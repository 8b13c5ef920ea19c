//! Preset parameters: their kinds (checked before use) and `{{name}}` substitution, which passes
//! values as data (shell variables, SQL literals) so a parameter can never inject a command.
use crate::model::TargetKind;
use serde::Deserialize;
use std::collections::BTreeMap;

/// What values a parameter accepts; checked before substitution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    /// Digits only (pids, ports, counts, seconds); inserted bare into SQL.
    Int,
    /// `[A-Za-z0-9_.@:-]+` (interface, unit, user names).
    Word,
    /// A file path: no newline or NUL.
    Path,
    /// Any single line of text.
    #[default]
    Text,
}

impl ParamKind {
    pub fn describe(self) -> &'static str {
        match self {
            ParamKind::Int => "a whole number",
            ParamKind::Word => "a word of letters, digits, _ . @ : -",
            ParamKind::Path => "a file path (not starting with -)",
            ParamKind::Text => "one line of text",
        }
    }

    pub fn check(self, value: &str) -> Result<(), String> {
        let ok = match self {
            ParamKind::Int => !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()),
            ParamKind::Word => {
                !value.is_empty()
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.@:-".contains(&b))
            }
            // A leading `-` would read as an option of the command (write ./-name instead).
            ParamKind::Path => {
                !value.is_empty() && !value.starts_with('-') && !value.contains(['\n', '\r', '\0'])
            }
            ParamKind::Text => !value.contains(['\n', '\r', '\0']),
        };
        if ok {
            Ok(())
        } else {
            Err(format!("`{value}` is not {}", self.describe()))
        }
    }
}

/// A declared parameter of a preset.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamDef {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub kind: ParamKind,
    #[serde(default)]
    pub default: Option<String>,
}

/// Every `{{name}}` in a template, with its byte offset.
pub fn placeholders(template: &str) -> Vec<(usize, &str)> {
    let mut found = Vec::new();
    let mut rest = template;
    let mut base = 0;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        found.push((base + start, rest[start + 2..start + 2 + len].trim()));
        base += start + 2 + len + 2;
        rest = &template[base..];
    }
    found
}

/// Fills a step's template for `target`: values go in as data (see [`super::shell`] and
/// [`super::sql`]); an error if the template puts a placeholder where it would be code.
pub fn fill_template(
    template: &str,
    values: &BTreeMap<String, String>,
    kinds: &BTreeMap<&str, ParamKind>,
    target: TargetKind,
) -> Result<String, String> {
    match target {
        TargetKind::Shell => super::shell::render(template, values),
        _ => super::sql::render(template, values, kinds, target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(template: &str, value: &str, kind: ParamKind, target: TargetKind) -> String {
        let values = BTreeMap::from([("p".to_string(), value.to_string())]);
        let kinds = BTreeMap::from([("p", kind)]);
        fill_template(template, &values, &kinds, target).expect("fill")
    }

    #[test]
    fn shell_values_cannot_escape_their_quotes() {
        let evil = "x'; touch /tmp/pwned; echo '";
        let cmd = fill("tail -n 5 {{p}}", evil, ParamKind::Text, TargetKind::Shell);
        assert_eq!(
            cmd,
            concat!(
                r"CF_PARAM_p='x'\''; touch /tmp/pwned; echo '\'''",
                "\ntail -n 5 \"$CF_PARAM_p\""
            )
        );
        let out = std::process::Command::new("sh")
            .args([
                "-c",
                &fill(
                    "printf %s {{ p }}",
                    evil,
                    ParamKind::Text,
                    TargetKind::Shell,
                ),
            ])
            .output()
            .expect("sh");
        assert_eq!(String::from_utf8_lossy(&out.stdout), evil);
    }

    #[test]
    fn sql_values_are_literals() {
        assert_eq!(
            fill("SELECT {{p}}", "42", ParamKind::Int, TargetKind::Postgres),
            "SELECT 42"
        );
        assert_eq!(
            fill("SELECT {{p}}", "a'b", ParamKind::Text, TargetKind::Postgres),
            "SELECT E'a''b'"
        );
        assert_eq!(
            fill("SELECT {{p}}", r"a\'", ParamKind::Text, TargetKind::Mysql),
            r"SELECT 'a\\'''"
        );
    }

    #[test]
    fn kinds_reject_bad_values() {
        assert!(ParamKind::Int.check("12").is_ok());
        assert!(ParamKind::Int.check("1; rm").is_err());
        assert!(ParamKind::Word.check("eth0").is_ok());
        assert!(ParamKind::Word.check("a b").is_err());
        assert!(ParamKind::Path.check("/a\nb").is_err());
        assert!(ParamKind::Path.check("-rf").is_err());
        assert_eq!(placeholders("a {{x}} b {{ y }}"), vec![(2, "x"), (10, "y")]);
    }
}
