//! Export of a snapshot: pack it (redaction re-checked), write it to a folder and/or upload it to
//! S3 with its SHA-256 and manifest beside it, write asciinema casts, and post a note on the
//! PagerDuty incident with the link. Upload happens before the note, so the note can carry the link.
//!
//! Idempotent: the S3 keys derive from the snapshot id (`PREFIX/ID/ID.tar.gz`), an identical
//! object already there is not sent again, and an existing note naming the snapshot id is not
//! repeated. A re-run after a partial failure finishes what is missing.
pub mod note;
pub mod setup; // S3 options, PagerDuty client, token registration: one setup for every front end

use crate::config::Config;
use crate::pagerduty::{PagerDuty, PagerDutyError};
use crate::redact::Redactor;
use crate::s3::{S3Error, S3Location, S3Options, S3Uploader, UploadedObject};
use crate::snapshot::archive::{self, ArchiveError, PackedArchive};
use crate::snapshot::{MANIFEST_FILE, Snapshot, asciicast};
use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

/// Where `--to` sends the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    S3(S3Location),
    Dir(PathBuf),
}

impl Destination {
    /// `s3://bucket/prefix/` or `file:DIR`.
    pub fn parse(text: &str) -> Result<Destination, String> {
        if text.starts_with("s3://") {
            return S3Location::parse(text).map(Destination::S3);
        }
        if let Some(dir) = text.strip_prefix("file:") {
            let dir = dir.strip_prefix("//").unwrap_or(dir);
            if dir.is_empty() {
                return Err("`file:` needs a folder, e.g. file:/tmp/exports".into());
            }
            return Ok(Destination::Dir(PathBuf::from(dir)));
        }
        Err(format!(
            "`{text}` is not a destination; use s3://bucket/prefix/ or file:DIR"
        ))
    }
}

/// What to export where.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub snapshot: PathBuf,
    pub destinations: Vec<Destination>,
    /// PagerDuty incident to post the note on.
    pub incident: Option<String>,
    /// Folder for asciinema casts.
    pub asciicast: Option<PathBuf>,
    pub s3: S3Options,
    /// gzip level 0–9.
    pub gzip_level: u32,
}

/// Why an export failed; what succeeded before the failure is in the error's report.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot open the snapshot {path}: {source}")]
    Snapshot {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error(transparent)]
    PagerDuty(#[from] PagerDutyError),
    #[error("{0}")]
    Other(String),
}

/// An S3 upload of the three objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Export {
    pub archive: UploadedObject,
    pub sha256_key: String,
    pub manifest_key: String,
    pub presigned_url: String,
}

/// The note on the incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteOutcome {
    Created {
        incident: String,
        note_id: Option<String>,
    },
    /// A note naming this snapshot was there already.
    AlreadyPresent {
        incident: String,
        note_id: Option<String>,
    },
}

/// What an export did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    pub snapshot_id: String,
    pub archive: Option<PackedArchive>,
    /// Archives written by `file:` destinations.
    pub files: Vec<PathBuf>,
    pub s3: Vec<S3Export>,
    pub note: Option<NoteOutcome>,
    pub casts: Vec<PathBuf>,
    /// Things the operator should know (a secret that could not be resolved for the re-check).
    pub warnings: Vec<String>,
}

/// Keys of the three objects for a snapshot under a location.
pub fn s3_keys(location: &S3Location, snapshot_id: &str) -> (String, String, String) {
    let archive = location.key(&format!(
        "{snapshot_id}/{}",
        archive::archive_name(snapshot_id)
    ));
    (
        archive.clone(),
        format!("{archive}.sha256"),
        location.key(&format!("{snapshot_id}/{MANIFEST_FILE}")),
    )
}

/// Resolves every secret the config knows (so the re-check covers them all); one that cannot be
/// resolved now is reported, not fatal: the capture already redacted what it knew.
fn redactor_for_export(
    config: &Config,
    extra: &[String],
    warnings: &mut Vec<String>,
) -> Arc<Redactor> {
    let mut values: Vec<String> = extra.to_vec();
    for (name, reference) in &config.secrets {
        match reference.resolve(name) {
            Ok(value) => values.push(value.expose().to_string()),
            Err(e) => warnings.push(format!("redaction re-check without secret `{name}`: {e}")),
        }
    }
    Redactor::new(&values)
}

/// Runs an export. `pagerduty` is needed when the request names an incident; `s3` may be given
/// (tests, the TUI), else one is built from the standard AWS chain with `request.s3`.
/// `progress` gets one line per step.
pub async fn export(
    config: &Config,
    request: &ExportRequest,
    pagerduty: Option<&PagerDuty>,
    s3: Option<&S3Uploader>,
    extra_secrets: &[String],
    progress: &(dyn Fn(&str) + Sync),
) -> Result<ExportReport, (ExportReport, ExportError)> {
    let mut report = ExportReport::default();
    match run(
        config,
        request,
        pagerduty,
        s3,
        extra_secrets,
        progress,
        &mut report,
    )
    .await
    {
        Ok(()) => Ok(report),
        Err(e) => Err((report, e)),
    }
}

async fn run(
    config: &Config,
    request: &ExportRequest,
    pagerduty: Option<&PagerDuty>,
    s3: Option<&S3Uploader>,
    extra_secrets: &[String],
    progress: &(dyn Fn(&str) + Sync),
    report: &mut ExportReport,
) -> Result<(), ExportError> {
    let path = request.snapshot.clone();
    let snapshot = blocking(move || Snapshot::open(&path))
        .await?
        .map_err(|source| ExportError::Snapshot {
            path: request.snapshot.clone(),
            source,
        })?;
    let id = snapshot.manifest.id.clone();
    report.snapshot_id = id.clone();
    if request.incident.is_some() && pagerduty.is_none() {
        return Err(ExportError::Other(
            "an incident note needs a PagerDuty client".into(),
        ));
    }
    let redactor = redactor_for_export(config, extra_secrets, &mut report.warnings);

    // Built before packing, so that bad S3 settings fail fast.
    let needs_s3 = request
        .destinations
        .iter()
        .any(|d| matches!(d, Destination::S3(_)));
    let built_uploader = match (s3, needs_s3) {
        (None, true) => Some(S3Uploader::from_env(request.s3.clone()).await?),
        _ => None,
    };
    let mut s3_links = Vec::new();
    if !request.destinations.is_empty() {
        let first_dir = request.destinations.iter().find_map(|d| match d {
            Destination::Dir(dir) => Some(dir.clone()),
            Destination::S3(_) => None,
        });
        // With no file: destination the archive is packed in a temporary folder, removed after.
        let temp = match &first_dir {
            Some(_) => None,
            None => Some(
                crate::snapshot::private::private_tempdir("casefile-export-").map_err(|e| {
                    ExportError::Other(format!("cannot create a temporary folder: {e}"))
                })?,
            ),
        };
        let pack_dir = first_dir
            .clone()
            .or_else(|| temp.as_ref().map(|t| t.path().to_path_buf()))
            .unwrap_or_default();
        progress(&format!("packing {id} (checking redaction on every byte)"));
        let (snap, rules, level, dir) = (
            snapshot.clone(),
            Arc::clone(&redactor),
            request.gzip_level,
            pack_dir.clone(),
        );
        let packed = blocking(move || archive::pack(&snap, &dir, &rules, level)).await??;
        progress(&format!(
            "packed {} files into {} ({} bytes, sha256 {})",
            packed.files,
            packed.path.display(),
            packed.bytes,
            packed.sha256
        ));
        let manifest_path = snapshot.dir.join(MANIFEST_FILE);
        {
            let (path, rules) = (manifest_path.clone(), Arc::clone(&redactor));
            blocking(move || archive::scan_file(&path, &rules)).await??;
        }
        for destination in &request.destinations {
            match destination {
                Destination::Dir(dir) => {
                    if Some(dir) != first_dir.as_ref() {
                        copy_archive(&packed, dir).await?;
                    }
                    report
                        .files
                        .push(dir.join(packed.path.file_name().unwrap_or_default()));
                }
                Destination::S3(location) => {
                    let uploader = match (s3, &built_uploader) {
                        (Some(u), _) | (None, Some(u)) => u,
                        (None, None) => return Err(ExportError::Other("no S3 uploader".into())),
                    };
                    let done =
                        upload(uploader, location, &packed, &manifest_path, &id, progress).await?;
                    s3_links.push((
                        done.archive.url(),
                        done.presigned_url.clone(),
                        packed.sha256.clone(),
                    ));
                    report.s3.push(done);
                }
            }
        }
        report.archive = Some(packed);
        drop(temp);
    }

    if let Some(dir) = &request.asciicast {
        let (snap, dir) = (snapshot.clone(), dir.clone());
        report.casts = blocking(move || asciicast::write_casts(&snap, &dir))
            .await?
            .map_err(|e| ExportError::Other(format!("writing asciicast files: {e}")))?;
        progress(&format!("wrote {} asciicast file(s)", report.casts.len()));
    }

    if let (Some(incident), Some(client)) = (&request.incident, pagerduty) {
        let marker = note::marker(&id);
        progress(&format!("checking notes on incident {incident}"));
        let existing = client.list_notes(incident).await?;
        if let Some(found) = existing.iter().find(|n| n.content.contains(&marker)) {
            progress(&format!(
                "incident {incident} already has a note for {id}; not adding another"
            ));
            report.note = Some(NoteOutcome::AlreadyPresent {
                incident: incident.clone(),
                note_id: found.id.clone(),
            });
        } else {
            let content = note_content(&snapshot, &redactor, &s3_links, request.s3.presign_expiry);
            let created = client.create_note(incident, &content).await?;
            progress(&format!("added a note to incident {incident}"));
            report.note = Some(NoteOutcome::Created {
                incident: incident.clone(),
                note_id: created.id,
            });
        }
    }
    Ok(())
}

/// The note: the summary (redacted again, since it quotes captured output) and the links.
pub fn note_content(
    snapshot: &Snapshot,
    redactor: &Redactor,
    links: &[(String, String, String)],
    expiry: std::time::Duration,
) -> String {
    let (mut text, _) = redactor.redact_text(&note::summary(&snapshot.manifest, &snapshot.dir));
    for (url, presigned, sha256) in links {
        text.push_str(&format!("\nSnapshot: {url} (sha256 {sha256})"));
        // Not redacted: a presigned link carries a key id and signature by design, and is the point of the note.
        text.push_str(&format!(
            "\nDownload (link valid {}): {presigned}",
            humantime::format_duration(expiry)
        ));
    }
    text
}

async fn upload(
    uploader: &S3Uploader,
    location: &S3Location,
    packed: &PackedArchive,
    manifest_path: &Path,
    id: &str,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<S3Export, ExportError> {
    let (archive_key, sha256_key, manifest_key) = s3_keys(location, id);
    let bucket = &location.bucket;
    uploader.abort_stale(bucket, &archive_key).await;
    progress(&format!(
        "uploading s3://{bucket}/{archive_key} ({} bytes)",
        packed.bytes
    ));
    let archive = uploader
        .upload_file(
            &packed.path,
            bucket,
            &archive_key,
            &packed.sha256,
            "application/gzip",
        )
        .await?;
    if archive.already_present {
        progress(&format!(
            "s3://{bucket}/{archive_key} is already there with the same SHA-256; not sent again"
        ));
    }
    let sha_hash = crate::snapshot::reader::sha256_file(&packed.sha256_path)
        .map_err(|e| ExportError::Other(format!("{}: {e}", packed.sha256_path.display())))?;
    uploader
        .upload_file(
            &packed.sha256_path,
            bucket,
            &sha256_key,
            &sha_hash,
            "text/plain",
        )
        .await?;
    let manifest_hash = crate::snapshot::reader::sha256_file(manifest_path)
        .map_err(|e| ExportError::Other(format!("{}: {e}", manifest_path.display())))?;
    uploader
        .upload_file(
            manifest_path,
            bucket,
            &manifest_key,
            &manifest_hash,
            "application/json",
        )
        .await?;
    let presigned_url = uploader.presign_get(bucket, &archive_key).await?;
    progress(&format!("uploaded s3://{bucket}/{archive_key}"));
    Ok(S3Export {
        archive,
        sha256_key,
        manifest_key,
        presigned_url,
    })
}

async fn copy_archive(packed: &PackedArchive, dir: &Path) -> Result<(), ExportError> {
    let io = |e: std::io::Error| {
        ExportError::Other(format!("copying the archive to {}: {e}", dir.display()))
    };
    crate::snapshot::private::create_private_dir_all(dir).map_err(io)?;
    for file in [&packed.path, &packed.sha256_path] {
        tokio::fs::copy(file, dir.join(file.file_name().unwrap_or_default()))
            .await
            .map_err(io)?;
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ExportError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ExportError::Other(format!("export task failed: {e}")))
}
