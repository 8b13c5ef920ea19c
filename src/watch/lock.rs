//! Several watchers (for availability, or one per region) never capture the same incident
//! twice: before a capture, each creates `PREFIX/locks/INCIDENT` in `destinations.s3` with
//! `If-None-Match: *` (S3 conditional writes). The store decides who created it first; the
//! others get 412 and skip. The lock is kept: one capture per incident across the fleet.
//! If the store cannot be reached the capture runs anyway (evidence first; a duplicate snapshot
//! is cheaper than none) and the log says so.
use crate::config::Config;
use crate::s3::{S3Location, S3Uploader};

/// What the store said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This watcher created the lock (or no `destinations.s3`: nothing to coordinate through).
    Won,
    /// Another watcher holds it.
    HeldElsewhere,
    /// The store could not be asked; the capture runs.
    Unknown(String),
}

/// The lock object's key for an incident.
pub fn lock_key(location: &S3Location, incident: &str) -> String {
    location.key(&format!("locks/{incident}"))
}

pub async fn claim(config: &Config, incident: &str, holder: &str) -> Claim {
    let Some(url) = &config.destinations.s3 else {
        return Claim::Won;
    };
    let location = match S3Location::parse(url) {
        Ok(l) => l,
        Err(e) => return Claim::Unknown(e),
    };
    let options = match crate::export::setup::s3_options(
        config,
        &crate::export::setup::S3Overrides::default(),
    ) {
        Ok(o) => o,
        Err(e) => return Claim::Unknown(e),
    };
    let uploader = match S3Uploader::from_env(options).await {
        Ok(u) => u,
        Err(e) => return Claim::Unknown(e.to_string()),
    };
    let body = serde_json::json!({ "incident": incident, "holder": holder }).to_string();
    let result = uploader
        .client()
        .put_object()
        .bucket(&location.bucket)
        .key(lock_key(&location, incident))
        .if_none_match("*")
        .content_type("application/json")
        .body(body.into_bytes().into())
        .send()
        .await;
    match result {
        Ok(_) => Claim::Won,
        Err(e) => {
            // 412: it exists. 409: a concurrent conditional write is in flight (AWS) - also taken.
            let status = e.raw_response().map(|r| r.status().as_u16());
            if matches!(status, Some(412) | Some(409)) {
                Claim::HeldElsewhere
            } else {
                Claim::Unknown(format!("{}", aws_sdk_s3::error::DisplayErrorContext(&e)))
            }
        }
    }
}
