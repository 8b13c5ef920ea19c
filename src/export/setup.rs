//! Export setup shared by every front end (no command-line types here): S3 options from the
//! front end's overrides and casefile.toml, the PagerDuty client, and the token registered for
//! the redaction re-check. Resolving the token may run a secret command: the TUI calls
//! [`prepare_export`] on a blocking thread.
use super::{Destination, ExportRequest};
use crate::config::Config;
use crate::model::{ByteSize, HumanDuration};
use crate::pagerduty::{PagerDuty, PagerDutySettings};
use crate::s3::{MIN_PART_SIZE, S3Options};
use crate::snapshot::compress::ArchiveFormat;
use std::{path::PathBuf, time::Duration};

/// S3 settings a front end sets itself (the CLI's flags); `None` = casefile.toml's
/// `[destinations]`, then the defaults. `Default` = nothing overridden.
#[derive(Debug, Clone, Default)]
pub struct S3Overrides {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub path_style: Option<bool>,
    pub sse: Option<String>,
    pub sse_kms_key_id: Option<String>,
    pub storage_class: Option<String>,
    pub expires_in: Option<HumanDuration>,
    pub multipart_threshold: Option<ByteSize>,
    pub part_size: Option<ByteSize>,
    pub upload_concurrency: Option<usize>,
    pub max_attempts: Option<u32>,
}

/// What the operator asked to export, where.
#[derive(Debug, Clone)]
pub struct ExportChoice {
    pub snapshot: PathBuf,
    pub destinations: Vec<Destination>,
    pub incident: Option<String>,
    pub asciicast: Option<PathBuf>,
    pub gzip_level: u32,
    pub format: ArchiveFormat,
}

/// Everything `export::export` needs besides the config.
pub struct ExportSetup {
    pub request: ExportRequest,
    /// Set when the choice names an incident.
    pub pagerduty: Option<PagerDuty>,
    /// The PagerDuty token: registered with the redaction re-check.
    pub extra_secrets: Vec<String>,
}

/// Builds the request, the S3 options and (for a note) the PagerDuty client.
pub fn prepare_export(
    config: &Config,
    choice: ExportChoice,
    overrides: &S3Overrides,
) -> Result<ExportSetup, String> {
    let s3 = s3_options(config, overrides)?;
    let mut extra_secrets = Vec::new();
    let pagerduty = match &choice.incident {
        None => None,
        Some(_) => {
            let settings = PagerDutySettings::from_config(config).map_err(|e| e.to_string())?;
            extra_secrets.push(settings.token.expose().to_string());
            Some(PagerDuty::new(&settings).map_err(|e| e.to_string())?)
        }
    };
    Ok(ExportSetup {
        request: ExportRequest {
            snapshot: choice.snapshot,
            destinations: choice.destinations,
            incident: choice.incident,
            asciicast: choice.asciicast,
            s3,
            gzip_level: choice.gzip_level,
            format: choice.format,
        },
        pagerduty,
        extra_secrets,
    })
}

/// S3 options: flags, then casefile.toml's `[destinations]`, then defaults.
pub fn s3_options(config: &Config, args: &S3Overrides) -> Result<S3Options, String> {
    let d = &config.destinations;
    let defaults = S3Options::default();
    let expiry = args
        .expires_in
        .or(d.presign_expiry)
        .map_or(defaults.presign_expiry, |h| h.0);
    if expiry > Duration::from_secs(7 * 24 * 3600) || expiry.is_zero() {
        return Err(
            "the presigned link expiry must be between 1s and 7 days (SigV4's limit)".into(),
        );
    }
    let part_size = args.part_size.map_or(defaults.part_size, |b| b.0);
    if part_size < MIN_PART_SIZE {
        return Err("--part-size must be at least 5MiB (S3's minimum)".into());
    }
    Ok(S3Options {
        profile: args.profile.clone().or_else(|| d.s3_profile.clone()),
        region: args.region.clone().or_else(|| d.s3_region.clone()),
        endpoint_url: args
            .endpoint_url
            .clone()
            .or_else(|| d.s3_endpoint_url.clone()),
        path_style: args.path_style.or(d.s3_path_style),
        multipart_threshold: args
            .multipart_threshold
            .map_or(defaults.multipart_threshold, |b| b.0),
        part_size,
        concurrency: args
            .upload_concurrency
            .unwrap_or(defaults.concurrency)
            .max(1),
        max_attempts: args.max_attempts.unwrap_or(defaults.max_attempts).max(1),
        sse: args.sse.clone().or_else(|| d.s3_sse.clone()),
        sse_kms_key_id: args
            .sse_kms_key_id
            .clone()
            .or_else(|| d.s3_sse_kms_key_id.clone()),
        storage_class: args
            .storage_class
            .clone()
            .or_else(|| d.s3_storage_class.clone()),
        presign_expiry: expiry,
    })
}
