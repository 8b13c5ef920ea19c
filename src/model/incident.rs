//! The incident a capture belongs to.
use serde::{Deserialize, Serialize};

/// An incident as recorded in a snapshot; only the id is required (ad-hoc captures have none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}
