//! Opens a snapshot folder, including one whose writer was killed mid-capture.
use super::journal::{JournalEvent, read_journal};
use super::manifest::{CaptureState, Manifest, StreamStatus};
use super::{JOURNAL_FILE, MANIFEST_FILE};
use sha2::{Digest, Sha256};
use std::{
    fs::{self, File},
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
        let text = fs::read(&manifest_path).map_err(|e| {
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
                let verdict = match &record.sha256 {
                    None => VerifyResult::NotRecorded,
                    Some(expected) => match sha256_file(&self.dir.join(&record.path)) {
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
                output.bytes = fs::metadata(dir.join(&output.path))
                    .map(|m| m.len())
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

/// A snapshot opened from its folder, or from an exported `*.tar.gz` unpacked into a temporary
/// folder that is removed when this value is dropped.
#[derive(Debug)]
pub struct OpenedSnapshot {
    pub snapshot: Snapshot,
    /// Where an archive was unpacked; `None` for a folder.
    pub unpacked: Option<tempfile::TempDir>,
}

/// Opens a snapshot folder, its manifest.json, or an archive written by `casefile export`
/// (checked against its `.sha256` sidecar when present). Blocking.
pub fn open_folder_or_archive(path: &Path) -> io::Result<OpenedSnapshot> {
    if !super::archive::is_archive(path) {
        return Snapshot::open(path).map(|snapshot| OpenedSnapshot {
            snapshot,
            unpacked: None,
        });
    }
    let temp = tempfile::Builder::new()
        .prefix("casefile-unpacked-")
        .tempdir()?;
    let dir = super::archive::unpack(path, temp.path()).map_err(io::Error::other)?;
    Ok(OpenedSnapshot {
        snapshot: Snapshot::open(&dir)?,
        unpacked: Some(temp),
    })
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 << 10];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
