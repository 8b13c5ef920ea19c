//! SQL templates: each `{{name}}` must stand where the server reads a value, and it is filled
//! with a literal the server parses as data.
//!
//! Steps run as plain SQL text (the text protocol: `SHOW …`, several statements, every value as
//! text), so there are no bind parameters; instead the value becomes one literal that no byte
//! inside can end: `E'…'` with `\` and `'` doubled on PostgreSQL (an escape string reads the same
//! whatever `standard_conforming_strings` says), `'…'` with `\` and `'` doubled on MySQL/MariaDB
//! (with or without `NO_BACKSLASH_ESCAPES` the literal ends where casefile ends it), `'…'` with
//! `'` doubled on SQLite; an `int` parameter is bare digits.
//!
//! A placeholder inside a string, quoted identifier or comment of the template would make the
//! value's own quotes end the template's: [`analyze`] refuses it, and anything that the servers
//! could read two ways (a backslash before a closing quote, MySQL's `/*! … */`).
use super::ParamKind;
use crate::model::TargetKind;
use std::collections::BTreeMap;
use std::ops::Range;

/// A placeholder where a value may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub range: Range<usize>,
    pub name: String,
}

/// A template the server could read so that a value becomes SQL text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({hint})")]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
    pub hint: String,
}

/// Characters that may not touch a placeholder: they would glue the literal to a prefix
/// (`x'…'`, `E'…'`, `N'…'`, `_utf8'…'`) or to a neighbouring token.
fn glues(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, b'_' | b'$' | b'\'' | b'"' | b'`' | b'\\' | b'&' | b'@')
}

/// Where each placeholder of a query sits, for the SQL dialect of `target`.
pub fn analyze(template: &str, target: TargetKind) -> Result<Vec<Site>, TemplateError> {
    let s = template.as_bytes();
    let mysql = target == TargetKind::Mysql;
    let postgres = target == TargetKind::Postgres;
    let has_placeholders = template.contains("{{");
    let mut sites = Vec::new();
    let mut i = 0;
    let err = |offset: usize, message: String, hint: &str| TemplateError {
        offset,
        message,
        hint: hint.to_string(),
    };
    while i < s.len() {
        if let Some((end, name)) = placeholder_at(template, i) {
            let before = i.checked_sub(1).map(|b| s[b]);
            let after = s.get(end).copied();
            if before.is_some_and(glues) || after.is_some_and(glues) {
                return Err(err(
                    i,
                    format!(
                        "`{{{{{name}}}}}` touches the text next to it, which would change how its literal is read"
                    ),
                    "put a space or an operator between the placeholder and its neighbours",
                ));
            }
            sites.push(Site {
                range: i..end,
                name,
            });
            i = end;
            continue;
        }
        let c = s[i];
        let quote = match c {
            b'\'' | b'"' => Some(c),
            b'`' if !postgres => Some(c),
            // SQLite also quotes identifiers in brackets (no escapes inside).
            b'[' if target == TargetKind::Sqlite => Some(b']'),
            _ => None,
        };
        if let Some(q) = quote {
            // Backslash escapes: MySQL strings, and PostgreSQL escape strings (which might be
            // any string under standard_conforming_strings = off); SQLite has none.
            let backslashes = !matches!(q, b'`' | b']') && target != TargetKind::Sqlite;
            let what = match (q, target) {
                (b'\'', _) | (b'"', TargetKind::Mysql) => "a quoted string",
                _ => "a quoted identifier",
            };
            i += 1;
            loop {
                if i >= s.len() {
                    break;
                }
                if let Some((_, name)) = placeholder_at(template, i) {
                    return Err(in_text(i, &name, what));
                }
                let b = s[i];
                if backslashes && b == b'\\' {
                    if s.get(i + 1) == Some(&q) && has_placeholders {
                        return Err(err(
                            i,
                            "a backslash before a quote: servers read this string two ways (with and without backslash escapes)".to_string(),
                            "write the quote doubled ('') instead of \\'",
                        ));
                    }
                    i += 2;
                    continue;
                }
                if b == q {
                    if q != b']' && s.get(i + 1) == Some(&q) {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
            continue;
        }
        // Comments.
        let line_comment = (c == b'-'
            && s.get(i + 1) == Some(&b'-')
            && (!mysql
                || s.get(i + 2)
                    .is_none_or(|n| n.is_ascii_whitespace() || n.is_ascii_control())))
            || (mysql && c == b'#');
        if line_comment {
            while i < s.len() && s[i] != b'\n' {
                if let Some((_, name)) = placeholder_at(template, i) {
                    return Err(in_text(i, &name, "a comment"));
                }
                i += 1;
            }
            continue;
        }
        if c == b'/' && s.get(i + 1) == Some(&b'*') {
            if mysql && has_placeholders && matches!(s.get(i + 2), Some(b'!' | b'M')) {
                return Err(err(
                    i,
                    "MySQL runs the text of /*! … */ comments, which makes the query ambiguous"
                        .into(),
                    "remove the executable comment from a query with parameters",
                ));
            }
            let mut depth = 0usize;
            while i < s.len() {
                if s[i..].starts_with(b"/*") && (depth == 0 || postgres) {
                    depth += 1;
                    i += 2;
                } else if s[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else if let Some((_, name)) = placeholder_at(template, i) {
                    return Err(in_text(i, &name, "a comment"));
                } else {
                    i += 1;
                }
            }
            continue;
        }
        // PostgreSQL dollar quoting: $tag$ … $tag$.
        if postgres && c == b'$' && !i.checked_sub(1).is_some_and(|b| is_ident(s[b])) {
            let tag_len = s[i + 1..]
                .iter()
                .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_')
                .count();
            let tag_ok = s.get(i + 1 + tag_len) == Some(&b'$')
                && s.get(i + 1)
                    .is_none_or(|b| !b.is_ascii_digit() || tag_len == 0);
            if tag_ok {
                let tag = &template[i..i + tag_len + 2];
                let body = i + tag.len();
                let end = template[body..].find(tag).map_or(s.len(), |e| body + e);
                for (p, _) in template[body..end].match_indices("{{") {
                    if let Some((_, name)) = placeholder_at(template, body + p) {
                        return Err(in_text(body + p, &name, "a dollar-quoted string"));
                    }
                }
                i = (end + tag.len()).min(s.len());
                continue;
            }
        }
        i += 1;
    }
    Ok(sites)
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

fn in_text(offset: usize, name: &str, what: &str) -> TemplateError {
    TemplateError {
        offset,
        message: format!(
            "`{{{{{name}}}}}` is inside {what}: its value would become part of the SQL text"
        ),
        hint: "write the placeholder on its own, e.g. WHERE user = {{name}}: casefile passes it as a literal; for a pattern use CONCAT('%', {{name}}, '%') or '%' || {{name}} || '%'".to_string(),
    }
}

/// `{{name}}` at byte `i`: its end and trimmed name.
fn placeholder_at(template: &str, i: usize) -> Option<(usize, String)> {
    let rest = template.get(i..)?;
    let inner = rest.strip_prefix("{{")?;
    let len = inner.find("}}")?;
    Some((i + 2 + len + 2, inner[..len].trim().to_string()))
}

/// The query with every placeholder replaced by its value as a literal.
pub fn render(
    template: &str,
    values: &BTreeMap<String, String>,
    kinds: &BTreeMap<&str, ParamKind>,
    target: TargetKind,
) -> Result<String, String> {
    let sites = analyze(template, target).map_err(|e| e.to_string())?;
    let mut out = String::with_capacity(template.len());
    let mut last = 0;
    for site in sites {
        let value = values
            .get(&site.name)
            .ok_or_else(|| format!("no value for parameter `{}`", site.name))?;
        let kind = kinds.get(site.name.as_str()).copied().unwrap_or_default();
        out.push_str(&template[last..site.range.start]);
        out.push_str(&literal(value, kind, target)?);
        last = site.range.end;
    }
    out.push_str(&template[last..]);
    Ok(out)
}

/// One value as a literal of `target`'s SQL.
pub fn literal(value: &str, kind: ParamKind, target: TargetKind) -> Result<String, String> {
    if value.contains('\0') {
        return Err("a value cannot hold a NUL byte".into());
    }
    if kind == ParamKind::Int && !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(value.to_string());
    }
    Ok(match target {
        TargetKind::Postgres => format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''")),
        TargetKind::Mysql => format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''")),
        TargetKind::Sqlite | TargetKind::Shell => format!("'{}'", value.replace('\'', "''")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(template: &str, target: TargetKind) -> String {
        analyze(template, target).expect_err("refused").message
    }

    #[test]
    fn placeholders_in_text_are_refused() {
        let pg = TargetKind::Postgres;
        let my = TargetKind::Mysql;
        assert!(refused("SELECT '{{p}}'", pg).contains("quoted string"));
        assert!(refused("SELECT 'a {{p}} b'", TargetKind::Sqlite).contains("quoted string"));
        assert!(refused("SELECT \"{{p}}\"", my).contains("quoted string"));
        assert!(refused("SELECT \"{{p}}\"", pg).contains("identifier"));
        assert!(refused("SELECT 1 -- {{p}}", pg).contains("comment"));
        assert!(refused("SELECT 1 # {{p}}", my).contains("comment"));
        assert!(refused("SELECT 1 /* {{p}} */", my).contains("comment"));
        assert!(refused("SELECT $$ {{p}} $$", pg).contains("dollar"));
        assert!(refused("SELECT $t$ {{p}} $t$", pg).contains("dollar"));
        assert!(refused("SELECT 'a\\'' , {{p}}", my).contains("backslash"));
        assert!(refused("SELECT /*! {{p}} */ 1", my).contains("/*!"));
        assert!(refused("SELECT x{{p}}", my).contains("touches"));
        assert!(refused("SELECT [ {{p}} ]", TargetKind::Sqlite).contains("identifier"));
        // MySQL: `--'` is not a comment, so the quote opens a string spanning the newline.
        assert!(refused("SELECT 1 --'\n{{p}} '", my).contains("quoted string"));
    }

    #[test]
    fn placeholders_as_values_are_accepted_and_quoted() {
        let values = BTreeMap::from([("p".to_string(), r"a\'b".to_string())]);
        let kinds = BTreeMap::from([("p", ParamKind::Text)]);
        let sql = "SELECT {{p}} AS v -- it's fine";
        assert_eq!(
            render(sql, &values, &kinds, TargetKind::Postgres).expect("pg"),
            r"SELECT E'a\\''b' AS v -- it's fine"
        );
        assert_eq!(
            render(sql, &values, &kinds, TargetKind::Mysql).expect("my"),
            r"SELECT 'a\\''b' AS v -- it's fine"
        );
        assert_eq!(
            render(sql, &values, &kinds, TargetKind::Sqlite).expect("lite"),
            r"SELECT 'a\''b' AS v -- it's fine"
        );
        assert_eq!(
            literal("42", ParamKind::Int, TargetKind::Mysql),
            Ok("42".into())
        );
    }
}
