//! The S3 check: the export destination (`destinations.s3`, with the export's settings and the
//! standard AWS credential chain) accepts a small object under its prefix,
//! `PREFIX/doctor/<random>`, which is then deleted: also when something after the write failed,
//! and also when the write's answer was lost (it may have landed).
use super::{Check, Kind, seconds};
use crate::config::Config;
use crate::s3::{S3Error, S3Location, S3Uploader};
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

pub async fn check(config: &Config, timeout: Duration) -> Check {
    let Some(url) = &config.destinations.s3 else {
        return Check::skip(
            Kind::S3,
            "destinations.s3",
            "no S3 destination configured (exports go to --to only)",
        );
    };
    let location = match S3Location::parse(url) {
        Ok(location) => location,
        Err(e) => {
            return Check::fail(
                Kind::S3,
                url,
                e,
                "set destinations.s3 = \"s3://bucket/prefix/\"",
            );
        }
    };
    let mut options = match crate::export::setup::s3_options(
        config,
        &crate::export::setup::S3Overrides::default(),
    ) {
        Ok(options) => options,
        Err(e) => return Check::fail(Kind::S3, url, e, "fix [destinations] in casefile.toml"),
    };
    // One attempt: a doctor reports, it does not ride out a flaky store.
    options.max_attempts = 1;
    let key = location.key(&format!("doctor/{}", random_name()));
    let target = format!("s3://{}/{key}", location.bucket);
    match tokio::time::timeout(timeout, probe(options, &location.bucket, &key)).await {
        Ok(Ok(())) => Check::ok(
            Kind::S3,
            location.to_string(),
            format!("wrote and deleted {target}"),
        ),
        Ok(Err(e)) => {
            let fix = fix_for(&e);
            Check::fail(Kind::S3, location.to_string(), e, fix)
        }
        Err(_) => Check::fail(
            Kind::S3,
            location.to_string(),
            format!("no answer within {}", seconds(timeout)),
            "check the endpoint (destinations.s3_endpoint_url, AWS_ENDPOINT_URL) and the network",
        ),
    }
}

/// Writes the probe object and deletes it; the delete runs whatever the write answered, except
/// when S3 itself refused the write (then there is nothing to delete, and trying would only
/// repeat the refusal).
async fn probe(options: crate::s3::S3Options, bucket: &str, key: &str) -> Result<(), String> {
    let uploader = S3Uploader::from_env(options)
        .await
        .map_err(|e| e.to_string())?;
    let written = uploader
        .put_bytes(
            bucket,
            key,
            b"casefile doctor: a test object, deleted at once\n",
        )
        .await;
    let refused =
        matches!(&written, Err(S3Error::Request { message, .. }) if looks_refused(message));
    let deleted = if refused {
        Ok(())
    } else {
        uploader.delete(bucket, key).await
    };
    match (written, deleted) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(e), _) => Err(format!("cannot write a test object: {e}")),
        (Ok(()), Err(e)) => Err(format!(
            "wrote the test object but cannot delete it (remove s3://{bucket}/{key} by hand): {e}"
        )),
    }
}

/// A service error code in the message (`NoSuchBucket: …`): S3 answered, nothing was stored.
fn looks_refused(message: &str) -> bool {
    message
        .split(':')
        .next()
        .is_some_and(|code| !code.is_empty() && !code.contains(' '))
}

fn fix_for(error: &str) -> String {
    if error.contains("NoSuchBucket") {
        "create the bucket or fix destinations.s3".into()
    } else if error.contains("SignatureDoesNotMatch") || error.contains("InvalidAccessKeyId") {
        "fix the credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or destinations.s3_profile".into()
    } else if error.contains("AccessDenied") {
        "grant s3:PutObject and s3:DeleteObject on the prefix to these credentials".into()
    } else if error.contains("no credentials") || error.contains("no AWS credentials") {
        "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or destinations.s3_profile".into()
    } else if error.contains("cannot delete") {
        "grant s3:DeleteObject on the prefix, and remove the test object by hand".into()
    } else {
        "check the endpoint, region and network (destinations.s3_*)".into()
    }
}

/// 16 hex digits from the process's random hasher seed: enough that two doctors never meet.
fn random_name() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_code_means_refused_and_a_lost_answer_does_not() {
        assert!(looks_refused(
            "NoSuchBucket: The specified bucket does not exist"
        ));
        assert!(!looks_refused(
            "dispatch failure: io error: connection refused"
        ));
        assert_ne!(random_name(), random_name());
    }
}
