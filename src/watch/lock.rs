//! Several watchers (for availability, or one per region) never capture the same incident
//! twice: before a capture, each creates `PREFIX/locks/INCIDENT` in `destinations.s3` with
//! `If-None-Match: *` (S3 conditional writes). The store decides who created it first; the
//! others get 412 and skip.
//!
//! The lock lasts as long as the local cooldown (`[watch] cooldown`): after that the incident
//! may be captured again (a re-trigger), as on a single watcher. A stale lock is taken over with
//! `If-Match: ETAG` of the lock that was read, so of several watchers that find it stale the
//! store again lets exactly one through. Its age is the store's `Last-Modified`, so watchers'
//! clocks need not agree with each other (only roughly with the store's).
//!
//! If the store cannot be reached the capture runs anyway (evidence first; a duplicate snapshot
//! is cheaper than none) and the log says so.
use crate::config::Config;
use crate::s3::{S3Location, S3Uploader};
use aws_sdk_s3::Client;
use std::time::{Duration, SystemTime};

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

/// Claims `incident` for this watcher through `destinations.s3` (see the module docs).
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
    let lock = Lock {
        client: uploader.client(),
        location: &location,
        lasts: config.watch.cooldown,
    };
    lock.claim(incident, holder).await
}

/// One store's incident locks.
pub struct Lock<'a> {
    pub client: &'a Client,
    pub location: &'a S3Location,
    /// A lock older than this is stale and may be taken over.
    pub lasts: Duration,
}

/// The condition a lock write is made under.
enum Unless {
    /// `If-None-Match: *`: only if there is no lock.
    Exists,
    /// `If-Match: ETAG`: only if the lock is still the stale one that was read.
    Changed(String),
}

impl Lock<'_> {
    pub async fn claim(&self, incident: &str, holder: &str) -> Claim {
        let key = lock_key(self.location, incident);
        match self.write(&key, incident, holder, Unless::Exists).await {
            Err(Some(outcome)) => return outcome,
            Ok(()) => return Claim::Won,
            Err(None) => {}
        }
        let head = self
            .client
            .head_object()
            .bucket(&self.location.bucket)
            .key(&key)
            .send()
            .await;
        let head = match head {
            Ok(h) => h,
            Err(e) => return Claim::Unknown(describe(&e)),
        };
        let modified = head
            .last_modified()
            .and_then(|t| SystemTime::try_from(*t).ok());
        let age = modified.and_then(|m| SystemTime::now().duration_since(m).ok());
        let (Some(age), Some(etag)) = (age, head.e_tag()) else {
            return Claim::HeldElsewhere;
        };
        if age < self.lasts {
            return Claim::HeldElsewhere;
        }
        match self
            .write(&key, incident, holder, Unless::Changed(etag.to_string()))
            .await
        {
            Ok(()) => Claim::Won,
            Err(Some(outcome)) => outcome,
            Err(None) => Claim::HeldElsewhere,
        }
    }

    /// Writes the lock under `condition`: `Err(None)` when the condition failed (412, or 409
    /// for a concurrent conditional write on AWS), `Err(Some(Unknown))` for any other error.
    async fn write(
        &self,
        key: &str,
        incident: &str,
        holder: &str,
        condition: Unless,
    ) -> Result<(), Option<Claim>> {
        let body = serde_json::json!({ "incident": incident, "holder": holder }).to_string();
        let request = self
            .client
            .put_object()
            .bucket(&self.location.bucket)
            .key(key)
            .content_type("application/json")
            .body(body.into_bytes().into());
        let request = match condition {
            Unless::Exists => request.if_none_match("*"),
            Unless::Changed(etag) => request.if_match(etag),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                if matches!(status, Some(412) | Some(409)) {
                    Err(None)
                } else {
                    Err(Some(Claim::Unknown(describe(&e))))
                }
            }
        }
    }
}

fn describe<E: std::error::Error + 'static, R: std::fmt::Debug>(
    e: &aws_sdk_s3::error::SdkError<E, R>,
) -> String {
    format!("{}", aws_sdk_s3::error::DisplayErrorContext(e))
}
