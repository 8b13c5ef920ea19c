//! The export re-check of JSON that casefile writes itself (`manifest.json`), field by field.
//!
//! Read as free text, the manifest's `"password_secret": "pw"` looks like `secret: pw`, a leaked
//! password, and the export was refused. Yet `pw` is the NAME of a secret reference in the config,
//! never its value. So the check follows the document's structure: each field is checked as
//! `key: value` (a `"password": "hunter2"` field is still a finding), except the fields that name
//! secret references, whose value is checked alone (a registered secret value there is still a
//! finding). Strings are checked decoded, so JSON escaping cannot hide a secret.
use super::Redactor;
use serde_json::Value;

/// Fields whose value names a secret reference in the config (`[secrets.NAME]`), not a secret.
pub const REFERENCE_FIELDS: &[&str] = &["password_secret", "passphrase_secret"];

/// A secret reference name: what a TOML key in `[secrets.NAME]` can be, short.
fn is_reference_name(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

impl Redactor {
    /// Checks a JSON document field by field (see the module doc). Returns the path of the first
    /// field holding an unredacted secret (`targets[0].password_secret`), `Ok(None)` when clean,
    /// and an error when `bytes` is not JSON (the caller then checks it as text).
    pub fn find_unredacted_json(&self, bytes: &[u8]) -> Result<Option<String>, serde_json::Error> {
        let document: Value = serde_json::from_slice(bytes)?;
        Ok(self.check_value(&document, &mut String::new()))
    }

    fn check_value(&self, value: &Value, path: &mut String) -> Option<String> {
        match value {
            Value::Object(fields) => {
                for (key, value) in fields {
                    let mark = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                    let finding = self.check_field(key, value, path);
                    if finding.is_some() {
                        return finding;
                    }
                    path.truncate(mark);
                }
                None
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    let mark = path.len();
                    path.push_str(&format!("[{index}]"));
                    let finding = self.check_value(item, path);
                    if finding.is_some() {
                        return finding;
                    }
                    path.truncate(mark);
                }
                None
            }
            scalar => self.check_text(&scalar_text(scalar), path),
        }
    }

    /// One `key: value` member of an object.
    fn check_field(&self, key: &str, value: &Value, path: &mut String) -> Option<String> {
        if let Some(finding) = self.check_text(key, path) {
            return Some(finding);
        }
        match value {
            Value::Object(_) | Value::Array(_) => self.check_value(value, path),
            Value::String(name) if REFERENCE_FIELDS.contains(&key) && is_reference_name(name) => {
                self.check_text(name, path)
            }
            scalar => self.check_text(&format!("{key}: {}", scalar_text(scalar)), path),
        }
    }

    fn check_text(&self, text: &str, path: &str) -> Option<String> {
        self.find_unredacted(text.as_bytes()).map(|_| {
            if path.is_empty() {
                "(the document)".to_string()
            } else {
                path.to_string()
            }
        })
    }
}

/// A scalar as text: strings decoded, numbers and booleans as written.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_names_pass_and_secret_values_are_found_by_field() {
        let rules = Redactor::new(&["Registered-Value-42".to_string()]);
        let clean = br#"{"targets":[{"name":"db","password_secret":"pw"}],"reason":"Access denied (using password: YES)"}"#;
        assert_eq!(rules.find_unredacted_json(clean).expect("json"), None);
        let registered = br#"{"targets":[{"name":"db","password_secret":"Registered-Value-42"}]}"#;
        assert_eq!(
            rules.find_unredacted_json(registered).expect("json"),
            Some("targets[0].password_secret".to_string())
        );
        let pattern = br#"{"streams":[{"params":{"password":"hunter2"}}]}"#;
        assert_eq!(
            rules.find_unredacted_json(pattern).expect("json"),
            Some("streams[0].params.password".to_string())
        );
        // A reference field holding something that is no name is checked with its key.
        let odd = br#"{"password_secret":"hunter2 and more"}"#;
        assert!(rules.find_unredacted_json(odd).expect("json").is_some());
        // Escaping does not hide a secret.
        let escaped = br#"{"command":"echo Registered\u002dValue-42"}"#;
        assert_eq!(
            rules.find_unredacted_json(escaped).expect("json"),
            Some("command".to_string())
        );
        assert!(rules.find_unredacted_json(b"not json").is_err());
    }
}
