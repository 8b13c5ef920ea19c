//! Opens a snapshot folder, including one whose writer was killed mid-capture.
//!
//! A snapshot is data: every file its manifest names is checked when it is opened (relative,
//! inside the folder, a regular file; see `confined`), and read only through the confined opener.
use super::confined::{self, ConfinedDir, ConfinedError, entry_label, open_stream_file};
use super::journal::{JournalEvent, read_journal};
use super::manifest::{CaptureState, Manifest, StreamStatus};
use super::{JOURNAL_FILE, MANIFEST_FILE};
use sha2::{Digest, Sha256};
use std::{
    fs::File,
    io::{self, Read},
    path::{Path, PathBuf},
};

/// An opened snapshot.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// True when the manifest was rebuilt from the journal because the writer never finished.
    pub recovered: bool,
}

/// Whether a stream file still matches the SHA-256 in the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyResult {
    Matches,
    Differs {
        expected: String,
        actual: String,
    },
    Missing,
    /// No hash was recorded (stream interrupted or never run).
    NotRecorded,
}

impl Snapshot {
    /// Opens `path` (a snapshot folder or its manifest.json).
    pub fn open(path: &Path) -> io::Result<Snapshot> {
        let dir = if path.is_file() {
            path.parent().unwrap_or(Path::new(".")).to_path_buf()
        } else {
            path.to_path_buf()
        };
        let manifest_path = dir.join(MANIFEST_FILE);
        let text = read_manifest_bytes(&dir).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "{}: {e} (is this a casefile snapshot folder?)",
                    manifest_path.display()
                ),
            )
        })?;
        let mut manifest: Manifest = serde_json::from_slice(&text).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}:{}:{}: {e}",
                    manifest_path.display(),
                    e.line(),
                    e.column()
                ),
            )
        })?;
        check_paths(&dir, &manifest)?;
        let recovered = manifest.state == CaptureState::Running;
        if recovered {
            recover_from_journal(&dir, &mut manifest)?;
        }
        Ok(Snapshot {
            dir,
            manifest,
            recovered,
        })
    }

    /// Compares every stream file that has a recorded hash with its content now.
    pub fn verify(&self) -> Vec<(usize, &'static str, VerifyResult)> {
        let mut results = Vec::new();
        let mut folder = ConfinedDir::open(&self.dir).ok();
        let mut buffer = Vec::new();
        for (index, stream) in self.manifest.streams.iter().enumerate() {
            let outputs = [
                ("stdout", Some(&stream.result.stdout)),
                ("stderr", Some(&stream.result.stderr)),
                ("artifact", stream.result.artifact.as_ref()),
                ("data", stream.result.data.as_ref()),
            ];
            for (label, record) in outputs
                .into_iter()
                .filter_map(|(label, record)| record.map(|r| (label, r)))
            {
                let entry = entry_label(index, &stream.spec.id, label);
                let verdict = match &record.sha256 {
                    None => VerifyResult::NotRecorded,
                    Some(expected) => match folder
                        .as_mut()
                        .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
                        .and_then(|f| f.open_file(&record.path, &entry).map_err(io::Error::from))
                        .and_then(|file| sha256_with(file, &mut buffer))
                    {
                        Err(_) => VerifyResult::Missing,
                        Ok(actual) if &actual == expected => VerifyResult::Matches,
                        Ok(actual) => VerifyResult::Differs {
                            expected: expected.clone(),
                            actual,
                        },
                    },
                };
                results.push((index, label, verdict));
            }
        }
        results
    }
}

/// A writer that died leaves the manifest at its last periodic write; the journal holds the truth.
fn recover_from_journal(dir: &Path, manifest: &mut Manifest) -> io::Result<()> {
    let journal = dir.join(JOURNAL_FILE);
    let events = if journal.exists() {
        read_journal(&journal)?
    } else {
        Vec::new()
    };
    let mut finished = false;
    for event in events {
        match event {
            JournalEvent::Start { s, .. } => {
                if let Some(stream) = manifest.streams.get_mut(s) {
                    stream.result.status = StreamStatus::Running;
                }
            }
            JournalEvent::End { s, result, .. } => {
                if let Some(stream) = manifest.streams.get_mut(s) {
                    stream.result = *result;
                }
            }
            JournalEvent::Finish { .. } => finished = true,
            JournalEvent::Begin { .. } | JournalEvent::Chunk { .. } => {}
        }
    }
    for stream in &mut manifest.streams {
        if stream.result.status == StreamStatus::Running {
            stream.result.status = StreamStatus::Interrupted;
            stream.result.reason =
                Some("casefile stopped while this stream ran; output up to then is kept".into());
            for output in [
                Some(&mut stream.result.stdout),
                Some(&mut stream.result.stderr),
                stream.result.data.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                output.bytes = confined::stream_file_size(dir, &output.path, "")
                    .ok()
                    .flatten()
                    .unwrap_or(0);
                output.received_bytes = output.received_bytes.max(output.bytes);
            }
        } else if stream.result.status == StreamStatus::Queued {
            stream.result.status = StreamStatus::Interrupted;
            stream.result.reason = Some("never started: casefile stopped first".into());
        }
    }
    manifest.state = if finished {
        CaptureState::Complete
    } else {
        CaptureState::Interrupted
    };
    Ok(())
}

/// Largest manifest read; one stream takes about 1 KiB, so this is far above any real capture.
pub const MAX_MANIFEST_BYTES: u64 = 256 << 20;

/// Reads and parses `dir/manifest.json` as it is on disk (no journal recovery, no path
/// checks): bounded and confined like every read of a snapshot. For listings.
pub fn read_manifest(dir: &Path) -> io::Result<Manifest> {
    let bytes = read_manifest_bytes(dir)?;
    serde_json::from_slice(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Reads manifest.json (a regular file, not a link), refusing one larger than the bound before
/// allocating for it.
fn read_manifest_bytes(dir: &Path) -> io::Result<Vec<u8>> {
    let mut file = open_stream_file(dir, MANIFEST_FILE, MANIFEST_FILE)?;
    let size = file.metadata()?.len();
    if size > MAX_MANIFEST_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{size} bytes is larger than any manifest casefile writes ({MAX_MANIFEST_BYTES} at most)"
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    (&mut file)
        .take(MAX_MANIFEST_BYTES)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Refuses a manifest that names a file outside the folder, or anything but a regular file
/// (a missing file is fine: an interrupted capture may not have made it).
fn check_paths(dir: &Path, manifest: &Manifest) -> io::Result<()> {
    let mut folder = ConfinedDir::open(dir)?;
    for (index, stream) in manifest.streams.iter().enumerate() {
        let result = &stream.result;
        let outputs = [
            ("stdout", Some(&result.stdout)),
            ("stderr", Some(&result.stderr)),
            ("data", result.data.as_ref()),
            ("artifact", result.artifact.as_ref()),
        ];
        for (label, record) in outputs {
            let Some(record) = record.filter(|r| !r.path.is_empty()) else {
                continue;
            };
            let entry = entry_label(index, &stream.spec.id, label);
            match folder.open_file(&record.path, &entry) {
                Ok(_) => {}
                Err(e) if e.is_missing() => {}
                Err(e @ ConfinedError::Refused { .. }) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: {e}", dir.display()),
                    ));
                }
                // Unreadable (permissions, I/O): reported where the file is read (`show`'s
                // integrity check), not a reason to refuse the whole snapshot.
                Err(_) => {}
            }
        }
    }
    Ok(())
}

/// A temporary folder an archive was unpacked into: 0700, removed on drop and on a signal.
pub type UnpackedDir = super::cleanup::TempArea;

/// A snapshot opened from its folder, or from an exported `*.tar.gz` unpacked into a temporary
/// folder that is removed when this value is dropped.
#[derive(Debug)]
pub struct OpenedSnapshot {
    pub snapshot: Snapshot,
    /// Where an archive was unpacked; `None` for a folder.
    pub unpacked: Option<UnpackedDir>,
}

/// Opens a snapshot folder, its manifest.json, or an archive written by `casefile export`
/// (checked against its `.sha256` sidecar when present), unpacking within the process-wide
/// limits ([`super::archive::UnpackLimits::current`]). Blocking.
pub fn open_folder_or_archive(path: &Path) -> io::Result<OpenedSnapshot> {
    open_folder_or_archive_with(path, &super::archive::UnpackLimits::current())
}

/// As [`open_folder_or_archive`], with explicit unpack limits.
pub fn open_folder_or_archive_with(
    path: &Path,
    limits: &super::archive::UnpackLimits,
) -> io::Result<OpenedSnapshot> {
    if !super::archive::is_archive(path) {
        return Snapshot::open(path).map(|snapshot| OpenedSnapshot {
            snapshot,
            unpacked: None,
        });
    }
    let temp = super::private::private_tempdir("casefile-unpacked-")?;
    let dir = super::archive::unpack_with(path, temp.path(), limits).map_err(|e| {
        let kind = match &e {
            super::archive::ArchiveError::Io { source, .. } => source.kind(),
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e.to_string())
    })?;
    Ok(OpenedSnapshot {
        snapshot: Snapshot::open(&dir)?,
        unpacked: Some(temp),
    })
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    sha256_reader(File::open(path)?)
}

/// SHA-256 of everything `file` holds, hex.
pub fn sha256_reader(file: File) -> io::Result<String> {
    sha256_with(file, &mut Vec::new())
}

/// [`sha256_reader`] with a buffer the caller keeps: hashing thousands of small files must not
/// allocate and zero 256 KiB for each.
fn sha256_with(mut file: File, buffer: &mut Vec<u8>) -> io::Result<String> {
    let mut hasher = Sha256::new();
    buffer.resize(256 << 10, 0);
    loop {
        let n = file.read(buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
