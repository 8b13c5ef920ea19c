//! The incident a capture belongs to.
use serde::{Deserialize, Serialize};
use std::fmt;

/// An incident as recorded in a snapshot; only the id is required (ad-hoc captures have none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: IncidentId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Incident {
    /// An incident known only by its id (`--incident`, an id typed in the TUI).
    pub fn with_id(id: IncidentId) -> Incident {
        Incident {
            id,
            title: None,
            source: None,
        }
    }
}

/// Longest incident id accepted (PagerDuty ids are 7 characters; ticket keys are short too).
pub const MAX_INCIDENT_ID_CHARS: usize = 128;

/// An incident id: it names snapshot folders, goes into manifests and notes, and is printed, so
/// it is checked once here, wherever it comes from (`--incident`, incidents.toml, PagerDuty, a
/// manifest): 1 to 128 letters, digits and `- _ . : # / @ +`. No spaces, no control, bidi or
/// invisible characters, so an id can never drive a terminal or hide what it says.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IncidentId(String);

/// Why a text is not an incident id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentIdError {
    #[error("an incident id cannot be empty")]
    Empty,
    #[error("an incident id has at most {MAX_INCIDENT_ID_CHARS} characters")]
    TooLong,
    #[error(
        "an incident id cannot hold {0} (use letters, digits and - _ . : # / @ +, e.g. PT4KHLK or INC-1234)"
    )]
    BadChar(String),
}

impl IncidentId {
    /// Checks `text` and wraps it.
    pub fn new(text: impl Into<String>) -> Result<IncidentId, IncidentIdError> {
        let text = text.into();
        if text.is_empty() {
            return Err(IncidentIdError::Empty);
        }
        if text.chars().count() > MAX_INCIDENT_ID_CHARS {
            return Err(IncidentIdError::TooLong);
        }
        if let Some(bad) = text
            .chars()
            .find(|&c| !(c.is_alphanumeric() || "-_.:#/@+".contains(c)))
        {
            // Named by code point: the character itself may be invisible or an escape.
            let shown = if bad == ' ' {
                "a space".to_string()
            } else {
                format!("the character U+{:04X}", bad as u32)
            };
            return Err(IncidentIdError::BadChar(shown));
        }
        Ok(IncidentId(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for IncidentId {
    type Err = IncidentIdError;
    fn from_str(text: &str) -> Result<IncidentId, IncidentIdError> {
        IncidentId::new(text)
    }
}

impl TryFrom<String> for IncidentId {
    type Error = IncidentIdError;
    fn try_from(text: String) -> Result<IncidentId, IncidentIdError> {
        IncidentId::new(text)
    }
}

impl From<IncidentId> for String {
    fn from(id: IncidentId) -> String {
        id.0
    }
}

impl std::ops::Deref for IncidentId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for IncidentId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for IncidentId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for IncidentId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ordinary_ids_are_accepted() {
        for id in [
            "PT4KHLK",
            "INC-1234",
            "ops/2024#17",
            "sev1:db.primary",
            "Q0RIJJZL24RC6W",
        ] {
            assert_eq!(IncidentId::new(id).map(String::from), Ok(id.to_string()));
        }
    }

    #[test]
    fn control_bidi_space_and_empty_are_refused() {
        for (id, expected) in [
            ("\u{1b}]0;X\u{7}", "U+001B"),
            ("INC\r1", "U+000D"),
            ("INC\u{9b}2J", "U+009B"),
            ("INC\u{202e}1", "U+202E"),
            ("INC\u{200b}1", "U+200B"),
            ("INC 1", "a space"),
        ] {
            let e = IncidentId::new(id).expect_err(id);
            assert!(e.to_string().contains(expected), "{id:?}: {e}");
        }
        assert_eq!(IncidentId::new(""), Err(IncidentIdError::Empty));
        assert_eq!(
            IncidentId::new("x".repeat(129)),
            Err(IncidentIdError::TooLong)
        );
    }

    #[test]
    fn a_manifest_with_a_bad_id_does_not_deserialize() {
        let bad: Result<Incident, _> = serde_json::from_str(r#"{"id":"a\u001b]0;X\u0007"}"#);
        assert!(bad.is_err());
        let good: Incident = serde_json::from_str(r#"{"id":"PT4KHLK"}"#).expect("valid");
        assert_eq!(good.id, "PT4KHLK");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn an_accepted_id_has_no_control_or_format_char(s in "\\PC{0,8}|[\\x00-\\x{a0}\\x{200b}-\\x{206f}]{0,8}") {
            if let Ok(id) = IncidentId::new(s.clone()) {
                prop_assert!(!id.chars().any(|c| c.is_control() || c.is_whitespace()
                    || ('\u{200b}'..='\u{206f}').contains(&c)), "{:?}", s);
            }
        }
    }
}
