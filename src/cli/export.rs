//! `casefile export SNAPSHOT --to s3://bucket/prefix/ | --to file:DIR | --incident ID | --asciicast DIR`.
//! Exit codes: 0 everything asked for was done; 1 the export failed part-way (what succeeded is
//! printed, and running the same command again finishes the rest); 2 usage or configuration error.
use crate::config::Config;
use crate::exit::{EXIT_INCOMPLETE, EXIT_USAGE};
use crate::export::setup::{ExportChoice, ExportSetup, S3Overrides, prepare_export};
use crate::export::{Destination, ExportReport, NoteOutcome, export};
use crate::model::{ByteSize, HumanDuration};
use clap::Args;
use std::{path::PathBuf, process::ExitCode};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Snapshot folder (or its manifest.json)
    pub snapshot: PathBuf,
    /// Where the archive goes: s3://bucket/prefix/ or file:DIR (repeatable; default destinations.s3)
    #[arg(long = "to", value_name = "DEST")]
    pub to: Vec<String>,
    /// PagerDuty incident id: post a summary note (with the S3 link when uploaded)
    #[arg(long, value_name = "ID")]
    pub incident: Option<crate::model::IncidentId>,
    /// Write one asciinema v2 cast per stream into this folder
    #[arg(long, value_name = "DIR")]
    pub asciicast: Option<PathBuf>,
    /// AWS profile (default: AWS_PROFILE, then `default`)
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS region (default: the standard chain; us-east-1 when none)
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// S3-compatible endpoint (default: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL)
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Path-style addressing (default: true with a custom endpoint)
    #[arg(long, value_name = "BOOL")]
    pub path_style: Option<bool>,
    /// Server-side encryption: AES256 or aws:kms
    #[arg(long, value_name = "ALG")]
    pub sse: Option<String>,
    /// KMS key for --sse aws:kms
    #[arg(long, value_name = "KEY")]
    pub sse_kms_key_id: Option<String>,
    /// Storage class, e.g. STANDARD_IA
    #[arg(long, value_name = "CLASS")]
    pub storage_class: Option<String>,
    /// Validity of the presigned link (default 7d, the SigV4 maximum)
    #[arg(long, value_name = "DURATION")]
    pub expires_in: Option<HumanDuration>,
    /// Files at least this big upload in parts (default 16MiB)
    #[arg(long, value_name = "SIZE")]
    pub multipart_threshold: Option<ByteSize>,
    /// Part size (default 16MiB, minimum 5MiB)
    #[arg(long, value_name = "SIZE")]
    pub part_size: Option<ByteSize>,
    /// Parts uploaded at once (default 8)
    #[arg(long, value_name = "N")]
    pub upload_concurrency: Option<usize>,
    /// Attempts per S3 request, with exponential backoff (default 4)
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<u32>,
    /// gzip level 0-9 (default 6, as gzip)
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub gzip_level: u32,
    /// Print a machine-readable summary on stdout
    #[arg(long)]
    pub json: bool,
}

fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    errln!("casefile: {message}");
    ExitCode::from(EXIT_USAGE)
}

impl ExportArgs {
    /// The S3 flags given (none: casefile.toml, then defaults).
    fn s3_overrides(&self) -> S3Overrides {
        S3Overrides {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            path_style: self.path_style,
            sse: self.sse.clone(),
            sse_kms_key_id: self.sse_kms_key_id.clone(),
            storage_class: self.storage_class.clone(),
            expires_in: self.expires_in,
            multipart_threshold: self.multipart_threshold,
            part_size: self.part_size,
            upload_concurrency: self.upload_concurrency,
            max_attempts: self.max_attempts,
        }
    }
}

/// Runs `casefile export`.
pub async fn run(config: &Config, args: ExportArgs) -> ExitCode {
    if let Err(e) = crate::snapshot::Snapshot::open(&args.snapshot) {
        return usage_error(format!("cannot open the snapshot: {e}"));
    }
    let mut targets = args.to.clone();
    if targets.is_empty()
        && let Some(default) = &config.destinations.s3
    {
        targets.push(default.clone());
    }
    let mut destinations = Vec::new();
    for text in &targets {
        match Destination::parse(text) {
            Ok(d) => destinations.push(d),
            Err(e) => return usage_error(e),
        }
    }
    if destinations.is_empty() && args.incident.is_none() && args.asciicast.is_none() {
        return usage_error(
            "nothing to export to: give --to s3://bucket/prefix/, --to file:DIR, --incident ID or --asciicast DIR",
        );
    }
    if args.gzip_level > 9 {
        return usage_error("--gzip-level must be 0-9");
    }
    let setup = match prepare_export(
        config,
        ExportChoice {
            snapshot: args.snapshot.clone(),
            destinations,
            incident: args.incident.as_ref().map(|id| id.to_string()),
            asciicast: args.asciicast.clone(),
            gzip_level: args.gzip_level,
        },
        &args.s3_overrides(),
    ) {
        Ok(setup) => setup,
        Err(e) => return usage_error(e),
    };
    let ExportSetup {
        request,
        pagerduty,
        extra_secrets,
    } = setup;
    let progress = |line: &str| errln!("casefile: {line}");
    let result = export(
        config,
        &request,
        pagerduty.as_ref(),
        None,
        &extra_secrets,
        &progress,
    )
    .await;
    let (report, error) = match result {
        Ok(report) => (report, None),
        Err((report, error)) => (report, Some(error)),
    };
    for warning in &report.warnings {
        errln!("casefile: warning: {warning}");
    }
    if args.json {
        let json = report_json(&report, error.as_ref().map(|e| e.to_string())).to_string();
        outln!("{}", crate::sanitize::json(&json));
    } else {
        print_report(&report);
    }
    match error {
        None => ExitCode::SUCCESS,
        Some(e) => {
            errln!("casefile: export failed: {e}");
            ExitCode::from(EXIT_INCOMPLETE)
        }
    }
}

fn print_report(report: &ExportReport) {
    for file in &report.files {
        outln!("{}", file.display());
    }
    for s3 in &report.s3 {
        outln!("{}", s3.archive.url());
        outln!("{}", s3.presigned_url);
    }
    match &report.note {
        Some(NoteOutcome::Created { incident, .. }) => {
            outln!("note added to incident {incident}")
        }
        Some(NoteOutcome::AlreadyPresent { incident, .. }) => {
            outln!("note already on incident {incident}")
        }
        None => {}
    }
    for cast in &report.casts {
        outln!("{}", cast.display());
    }
}

/// The `--json` summary.
pub fn report_json(report: &ExportReport, error: Option<String>) -> serde_json::Value {
    serde_json::json!({
        "snapshot_id": report.snapshot_id,
        "archive": report.archive.as_ref().map(|a| serde_json::json!({
            "sha256": a.sha256, "bytes": a.bytes, "files": a.files, "input_bytes": a.input_bytes,
        })),
        "files": report.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        "s3": report.s3.iter().map(|s| serde_json::json!({
            "url": s.archive.url(),
            "bucket": s.archive.bucket,
            "key": s.archive.key,
            "sha256_key": s.sha256_key,
            "manifest_key": s.manifest_key,
            "bytes": s.archive.bytes,
            "parts": s.archive.parts,
            "already_present": s.archive.already_present,
            "presigned_url": s.presigned_url,
        })).collect::<Vec<_>>(),
        "note": report.note.as_ref().map(|n| match n {
            NoteOutcome::Created { incident, note_id } => serde_json::json!({"incident": incident, "id": note_id, "created": true}),
            NoteOutcome::AlreadyPresent { incident, note_id } => serde_json::json!({"incident": incident, "id": note_id, "created": false}),
        }),
        "casts": report.casts.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        "warnings": report.warnings,
        "error": error,
    })
}
