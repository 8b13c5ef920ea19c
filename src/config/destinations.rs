//! `[destinations]`: where exports go by default (S3, PagerDuty), and their check.
use super::AtFn;
use crate::model::HumanDuration;
use crate::secret::SecretRef;
use crate::source_error::SourceError;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Where exports go by default (used by the export commands).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destinations {
    /// `s3://bucket/prefix/`
    #[serde(default)]
    pub s3: Option<String>,
    /// The `From` email PagerDuty requires on notes.
    #[serde(default)]
    pub pagerduty_from: Option<String>,
    /// Secret holding the PagerDuty REST API token.
    #[serde(default)]
    pub pagerduty_token_secret: Option<String>,
    #[serde(default)]
    pub pagerduty_api_url: Option<String>,
    /// S3 upload settings (export); command-line flags override them.
    #[serde(default)]
    pub s3_profile: Option<String>,
    #[serde(default)]
    pub s3_region: Option<String>,
    #[serde(default)]
    pub s3_endpoint_url: Option<String>,
    /// Path-style addressing; default: on when an endpoint URL is set.
    #[serde(default)]
    pub s3_path_style: Option<bool>,
    #[serde(default)]
    pub s3_storage_class: Option<String>,
    /// `AES256` or `aws:kms` (with `s3_sse_kms_key_id`).
    #[serde(default)]
    pub s3_sse: Option<String>,
    #[serde(default)]
    pub s3_sse_kms_key_id: Option<String>,
    /// How long presigned links stay valid (e.g. "24h"; at most 7 days).
    #[serde(default)]
    pub presign_expiry: Option<HumanDuration>,
}

/// The PagerDuty token secret, when named, must be defined under `[secrets]`.
pub(super) fn validate_destinations(
    destinations: &Destinations,
    secrets: &BTreeMap<String, SecretRef>,
    at: &AtFn<'_>,
) -> Result<(), SourceError> {
    if let Some(secret) = &destinations.pagerduty_token_secret
        && !secrets.contains_key(secret)
    {
        return Err(at(
            None,
            format!("destinations.pagerduty_token_secret names `{secret}`, which is not defined"),
        )
        .with_hint(format!("add [secrets.{secret}]")));
    }
    Ok(())
}
