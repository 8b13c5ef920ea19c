//! Writes a snapshot while the capture runs: every chunk reaches the stream file and the journal
//! the moment it arrives (no user-space buffering), so a crash loses nothing already received.
use super::diskfull::DiskGuard;
use super::hashing::StreamHasher;
use super::journal::{Fd, JournalEvent, JournalWriter};
use super::manifest::{
    CaptureState, Manifest, OutputRecord, StreamRecord, StreamResult, StreamStatus,
};
use super::private::{create_private_dir, create_private_dir_all, create_private_file};
use super::{JOURNAL_FILE, MANIFEST_FILE, SCHEMA_VERSION, STREAMS_DIR};
use crate::model::{CapturePlan, StepAction};
use crate::redact::{Redactor, StreamRedactor};
use std::{
    fs::{self, File},
    io::{self, Write},
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime},
};

/// How often, at most, the manifest is rewritten while streams start and end.
const MANIFEST_MIN_INTERVAL: Duration = Duration::from_millis(250);
/// Room kept free for the last journal lines and the final manifest (see `diskfull`).
const RESERVE_BASE: usize = 64 << 10;
const RESERVE_PER_STREAM: usize = 4 << 10;
const RESERVE_MAX: usize = 8 << 20;

/// RFC 3339 UTC time with milliseconds, as used throughout the manifest.
pub fn timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

struct ManifestState {
    manifest: Manifest,
    last_written: Option<Instant>,
}

/// The snapshot being written. Shared by every stream task of a capture.
pub struct SnapshotWriter {
    dir: PathBuf,
    journal: Arc<JournalWriter>,
    state: Mutex<ManifestState>,
    redactor: Arc<Redactor>,
    disk: Arc<DiskGuard>,
}

impl std::fmt::Debug for SnapshotWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotWriter")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl SnapshotWriter {
    /// Creates `parent/<UTC time>-<incident or adhoc>/` with its manifest and journal.
    pub fn create(
        parent: &Path,
        plan: &CapturePlan,
        redactor: Arc<Redactor>,
        operator: String,
    ) -> io::Result<Arc<SnapshotWriter>> {
        create_private_dir_all(parent).map_err(|e| with_path(e, parent))?;
        let started = SystemTime::now();
        let label = plan
            .incident
            .as_ref()
            .map(|i| crate::model::plan::slug(&i.id))
            .unwrap_or_else(|| "adhoc".into());
        let stamp = humantime::format_rfc3339_seconds(started)
            .to_string()
            .replace([':', '-'], "");
        let (id, dir) = unique_dir(parent, &format!("{}-{label}", stamp.trim_end_matches('Z')))?;
        create_private_dir(&dir.join(STREAMS_DIR)).map_err(|e| with_path(e, &dir))?;
        let reserve = (RESERVE_BASE + RESERVE_PER_STREAM * plan.streams.len()).min(RESERVE_MAX);
        let disk = Arc::new(DiskGuard::with_reserve(&dir, reserve));
        let journal = Arc::new(JournalWriter::create(&dir.join(JOURNAL_FILE))?);
        journal.append(&JournalEvent::Begin {
            started_at: timestamp(started),
            schema_version: SCHEMA_VERSION,
        })?;

        let streams = plan
            .streams
            .iter()
            .map(|spec| {
                let mut spec = spec.clone();
                let (text, redactions) = redactor.redact_text(spec.action.text());
                spec.action = match spec.action {
                    StepAction::Command(_) => StepAction::Command(text),
                    StepAction::Query(_) => StepAction::Query(text),
                };
                let output = |ext: &str| OutputRecord {
                    path: format!("{STREAMS_DIR}/{}.{ext}", spec.id),
                    ..Default::default()
                };
                let result = StreamResult {
                    status: if spec.skip_reason.is_some() {
                        StreamStatus::Skipped
                    } else {
                        StreamStatus::Queued
                    },
                    reason: spec.skip_reason.clone(),
                    started_at: None,
                    ended_at: None,
                    duration_ms: None,
                    exit_code: None,
                    signal: None,
                    timed_out: false,
                    truncated: false,
                    stdout: output("out"),
                    stderr: output("err"),
                    data: None,
                    artifact: None,
                    redactions,
                };
                StreamRecord {
                    target_name: plan.targets[spec.target].name.clone(),
                    spec,
                    result,
                }
            })
            .collect();
        // Free text in the manifest (an incident title such as "DB password: …", an operator
        // name) is redacted like the output, so the export's re-check never refuses it.
        let incident = plan.incident.clone().map(|mut incident| {
            for text in [&mut incident.title, &mut incident.source]
                .into_iter()
                .flatten()
            {
                *text = redactor.redact_text(text).0;
            }
            incident
        });
        let operator = redactor.redact_text(&operator).0;
        let manifest = Manifest {
            schema_version: SCHEMA_VERSION,
            casefile_version: env!("CARGO_PKG_VERSION").to_string(),
            id,
            incident,
            operator,
            started_at: timestamp(started),
            ended_at: None,
            state: CaptureState::Running,
            targets: plan.targets.clone(),
            streams,
        };
        let writer = SnapshotWriter {
            dir,
            journal,
            state: Mutex::new(ManifestState {
                manifest,
                last_written: None,
            }),
            redactor,
            disk,
        };
        writer.write_manifest(true)?;
        Ok(Arc::new(writer))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Opens the stream's two output files and records its start.
    pub fn stream_started(&self, stream: usize) -> io::Result<(OutputFile, OutputFile)> {
        let (out_path, err_path, cap) = self.with_manifest(|m| {
            let record = &mut m.streams[stream];
            record.result.status = StreamStatus::Running;
            record.result.started_at = Some(timestamp(SystemTime::now()));
            (
                record.result.stdout.path.clone(),
                record.result.stderr.path.clone(),
                record.spec.max_bytes,
            )
        })?;
        self.append(&JournalEvent::Start {
            t: self.journal.now(),
            s: stream,
        })?;
        let open = |rel: String, fd| -> io::Result<OutputFile> {
            let path = self.dir.join(&rel);
            let file = create_private_file(&path).map_err(|e| with_path(e, &path))?;
            Ok(OutputFile {
                file,
                relative_path: rel,
                stream,
                fd,
                hasher: StreamHasher::new(),
                unhashed: 0,
                written: 0,
                received: 0,
                cap,
                truncated: false,
                redactor: self.redactor.stream(),
                journal: Some(Arc::clone(&self.journal)),
                scratch: Vec::with_capacity(64 << 10),
                disk: Arc::clone(&self.disk),
            })
        };
        Ok((open(out_path, Fd::Out)?, open(err_path, Fd::Err)?))
    }

    /// Opens the stream's machine-readable copy, `streams/ID.EXT` (e.g. `jsonl`), and records
    /// its path. It is redacted, capped and hashed like stdout, but not journaled: replay follows
    /// the text outputs, and recovery after a crash takes its size from the file.
    pub fn data_started(&self, stream: usize, ext: &str) -> io::Result<OutputFile> {
        let (rel, cap) = self.with_manifest(|m| {
            let record = &mut m.streams[stream];
            let rel = format!("{STREAMS_DIR}/{}.{ext}", record.spec.id);
            record.result.data = Some(OutputRecord {
                path: rel.clone(),
                ..Default::default()
            });
            (rel, record.spec.max_bytes)
        })?;
        let path = self.dir.join(&rel);
        let file = create_private_file(&path).map_err(|e| with_path(e, &path))?;
        Ok(OutputFile {
            file,
            relative_path: rel,
            stream,
            fd: Fd::Out,
            hasher: StreamHasher::new(),
            unhashed: 0,
            written: 0,
            received: 0,
            cap,
            truncated: false,
            redactor: self.redactor.stream(),
            journal: None,
            scratch: Vec::with_capacity(64 << 10),
            disk: Arc::clone(&self.disk),
        })
    }

    /// Redacts a result's `reason` (error texts can quote secrets, e.g. a server error that
    /// echoes the SQL), counting the replacements; call before the result is shown or stored.
    pub fn redact_result(&self, result: &mut StreamResult) {
        if let Some(reason) = &result.reason {
            let (text, count) = self.redactor.redact_text(reason);
            if count > 0 {
                result.reason = Some(text);
                result.redactions += count;
            }
        }
    }

    /// Opens `streams/ID.artifact` for a step that fetches a file; capped at the step's `max_bytes`.
    pub fn artifact_file(&self, stream: usize) -> io::Result<super::artifact::ArtifactFile> {
        let (id, cap) = self.with_manifest(|m| {
            (
                m.streams[stream].spec.id.clone(),
                m.streams[stream].spec.max_bytes,
            )
        })?;
        let rel = format!("{STREAMS_DIR}/{id}.artifact");
        let path = self.dir.join(&rel);
        let file = create_private_file(&path).map_err(|e| with_path(e, &path))?;
        Ok(super::artifact::ArtifactFile::new(
            file,
            rel,
            cap,
            Arc::clone(&self.disk),
        ))
    }

    /// Records a stream's final result (also for streams that never started, e.g. cancelled in the queue).
    pub fn stream_ended(&self, stream: usize, mut result: StreamResult) -> io::Result<()> {
        let previous_redactions = self.with_manifest(|m| m.streams[stream].result.redactions)?;
        result.redactions += previous_redactions;
        self.settle_result(stream, &mut result)?;
        self.append(&JournalEvent::End {
            t: self.journal.now(),
            s: stream,
            result: Box::new(result.clone()),
        })?;
        self.with_manifest(|m| m.streams[stream].result = result)?;
        self.write_manifest(false)
    }

    /// Marks the capture complete (or cancelled) and writes the final manifest.
    pub fn finish(&self, state: CaptureState) -> io::Result<Manifest> {
        self.append(&JournalEvent::Finish {
            t: self.journal.now(),
        })?;
        self.with_manifest(|m| {
            m.state = state;
            m.ended_at = Some(timestamp(SystemTime::now()));
        })?;
        self.write_manifest(true)?;
        // Only a faster replay depends on it: a failure here costs nothing else.
        if let Err(e) = self.journal.seal() {
            tracing::debug!(error = %e, "journal.idx not sealed; replay will read the journal");
        }
        self.disk.release();
        self.with_manifest(|m| m.clone())
    }

    /// Completes a result from what the writer knows: the start time and output paths recorded
    /// when the stream started, and, for an output that never finished (a write failed, the disk
    /// filled), the bytes that are on disk. Idempotent; the engine calls it before reporting the
    /// result, so progress lines and `show` agree with the disk.
    pub fn settle_result(&self, stream: usize, result: &mut StreamResult) -> io::Result<()> {
        let previous = self.with_manifest(|m| m.streams[stream].result.clone())?;
        if result.started_at.is_none() {
            result.started_at = previous.started_at;
        }
        if result.stdout.path.is_empty() {
            result.stdout.path = previous.stdout.path;
        }
        if result.stderr.path.is_empty() {
            result.stderr.path = previous.stderr.path;
        }
        if result.data.is_none() {
            result.data = previous.data;
        }
        self.count_bytes_on_disk(result);
        Ok(())
    }

    fn count_bytes_on_disk(&self, result: &mut StreamResult) {
        for output in [
            Some(&mut result.stdout),
            Some(&mut result.stderr),
            result.data.as_mut(),
            result.artifact.as_mut(),
        ]
        .into_iter()
        .flatten()
        .filter(|o| o.sha256.is_none() && !o.path.is_empty())
        {
            if let Ok(meta) = fs::symlink_metadata(self.dir.join(&output.path))
                && meta.is_file()
            {
                output.bytes = meta.size();
                output.received_bytes = output.received_bytes.max(output.bytes);
            }
        }
    }

    /// Appends to the journal; on a full disk the reserve is freed for this line and the rest.
    fn append(&self, event: &JournalEvent) -> io::Result<()> {
        match self.journal.append(event) {
            Err(e) if super::diskfull::is_disk_full(&e) => {
                self.disk.on_error(e, JOURNAL_FILE);
                self.journal.append(event)
            }
            other => other,
        }
    }

    /// A copy of the manifest as it stands.
    pub fn manifest(&self) -> io::Result<Manifest> {
        self.with_manifest(|m| m.clone())
    }

    fn with_manifest<T>(&self, f: impl FnOnce(&mut Manifest) -> T) -> io::Result<T> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| io::Error::other("manifest lock poisoned"))?;
        Ok(f(&mut state.manifest))
    }

    /// Rewrites manifest.json atomically (temp file + rename); throttled unless `force`.
    fn write_manifest(&self, force: bool) -> io::Result<()> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| io::Error::other("manifest lock poisoned"))?;
        if !force
            && state
                .last_written
                .is_some_and(|t| t.elapsed() < MANIFEST_MIN_INTERVAL)
        {
            return Ok(());
        }
        let json = serde_json::to_vec_pretty(&state.manifest).map_err(io::Error::other)?;
        let tmp = self.dir.join(format!("{MANIFEST_FILE}.tmp"));
        let mut written = self.replace_manifest(&tmp, &json);
        if let Err(e) = &written
            && super::diskfull::is_disk_full(e)
        {
            // The reserve exists for this write: free it and try once more.
            self.disk.release();
            written = self.replace_manifest(&tmp, &json);
        }
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(with_path(e, &tmp));
        }
        state.last_written = Some(Instant::now());
        Ok(())
    }

    /// Writes the manifest to `tmp` (0600) and renames it over manifest.json.
    fn replace_manifest(&self, tmp: &Path, json: &[u8]) -> io::Result<()> {
        super::private::write_private(tmp, json)?;
        fs::rename(tmp, self.dir.join(MANIFEST_FILE))
    }
}

fn unique_dir(parent: &Path, base: &str) -> io::Result<(String, PathBuf)> {
    for attempt in 1..1000 {
        let id = if attempt == 1 {
            base.to_string()
        } else {
            format!("{base}-{attempt}")
        };
        let dir = parent.join(&id);
        match create_private_dir(&dir) {
            Ok(()) => return Ok((id, dir)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(with_path(e, &dir)),
        }
    }
    Err(io::Error::other(format!(
        "too many snapshots named {base} in {}",
        parent.display()
    )))
}

fn with_path(err: io::Error, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

/// One output (stdout or stderr) of a running stream: redacts, caps, hashes, writes, journals.
pub struct OutputFile {
    file: File,
    relative_path: String,
    stream: usize,
    fd: Fd,
    hasher: StreamHasher,
    /// The first `unhashed` bytes of `scratch` are the last chunk written, not hashed yet: the
    /// caller shows them live first, then the next call hands the buffer to the hasher (which
    /// runs on its own thread for a bulky output) and continues with a recycled one.
    unhashed: usize,
    written: u64,
    received: u64,
    cap: Option<u64>,
    truncated: bool,
    redactor: StreamRedactor,
    /// `None` for outputs that are not journaled (the machine-readable copy).
    journal: Option<Arc<JournalWriter>>,
    scratch: Vec<u8>,
    disk: Arc<DiskGuard>,
}

impl OutputFile {
    /// Takes a chunk as it arrived from the target; returns the bytes that were written
    /// (redacted, within the cap) so a live view can show exactly what is on disk.
    pub fn write_chunk(&mut self, data: &[u8]) -> io::Result<&[u8]> {
        self.write_chunks(&[data])
    }

    /// Takes pieces that arrived back to back (SSH packets already queued) as one chunk: one
    /// write, one journal entry, one hand-off to the hasher and the live view for all of them,
    /// where each packet on its own paid for all four.
    pub fn write_chunks<B: AsRef<[u8]>>(&mut self, pieces: &[B]) -> io::Result<&[u8]> {
        self.received += pieces.iter().map(|p| p.as_ref().len() as u64).sum::<u64>();
        self.hash_written();
        if self.truncated {
            // Past the cap nothing more is written, so it is only counted: a capped step's
            // remaining output (an SSH window, a pipe) drains within the stop grace instead
            // of going through redaction for nothing.
            return Ok(&self.scratch[..0]);
        }
        // Room for all of it at once: growing by doubling would leave a 1 MiB chunk in a 2 MiB
        // buffer, and the hasher keeps a few such buffers in flight.
        let incoming: usize = pieces.iter().map(|p| p.as_ref().len()).sum();
        self.scratch
            .reserve_exact(incoming + self.redactor.held_back());
        for piece in pieces {
            self.redactor.push(piece.as_ref(), &mut self.scratch);
        }
        self.store_scratch()
    }

    /// Flushes what redaction held back; returns the last bytes written.
    pub fn flush_tail(&mut self) -> io::Result<&[u8]> {
        self.hash_written();
        self.redactor.finish(&mut self.scratch);
        self.store_scratch()
    }

    /// Hands the last chunk written to the hasher; leaves `scratch` empty.
    fn hash_written(&mut self) {
        let mut buffer = std::mem::take(&mut self.scratch);
        buffer.truncate(self.unhashed);
        self.unhashed = 0;
        self.scratch = self.hasher.update(buffer);
    }

    fn store_scratch(&mut self) -> io::Result<&[u8]> {
        let mut len = self.scratch.len();
        if let Some(cap) = self.cap {
            let room = cap.saturating_sub(self.written) as usize;
            if len > room {
                len = room;
                self.truncated = true;
            }
        }
        if len > 0 {
            let data = &self.scratch[..len];
            if self.disk.is_full() {
                return Err(self.disk.refusal(&self.relative_path));
            }
            self.file
                .write_all(data)
                .map_err(|e| self.disk.on_error(e, &self.relative_path))?;
            self.unhashed = len;
            if let Some(journal) = &self.journal {
                journal
                    .append(&JournalEvent::Chunk {
                        t: journal.now(),
                        s: self.stream,
                        fd: self.fd,
                        off: self.written,
                        len: len as u64,
                    })
                    .map_err(|e| self.disk.on_error(e, JOURNAL_FILE))?;
            }
            self.written += len as u64;
        }
        Ok(&self.scratch[..len])
    }

    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Closes the file: its record (with SHA-256), the redactions made, and whether the cap cut it.
    pub fn finish(mut self) -> io::Result<(OutputRecord, u64, bool)> {
        self.flush_tail()?;
        self.hash_written();
        self.file.flush()?;
        let record = OutputRecord {
            path: self.relative_path,
            bytes: self.written,
            received_bytes: self.received,
            sha256: self.hasher.finish(),
        };
        Ok((record, self.redactor.redactions, self.truncated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CapturePlan, StreamSpec, Target};
    use proptest::prelude::*;

    fn one_stream_plan() -> CapturePlan {
        CapturePlan {
            incident: None,
            targets: vec![Target::local()],
            streams: vec![StreamSpec::new(
                "01-local-cat",
                0,
                "adhoc",
                "cat",
                StepAction::Command("cat".into()),
                Duration::from_secs(5),
            )],
        }
    }

    /// Writes `pieces` through a fresh snapshot (joined per `groups`: how many pieces each
    /// `write_chunks` call takes); the file's bytes and the output's record.
    fn write_grouped(pieces: &[Vec<u8>], groups: &[usize]) -> (Vec<u8>, OutputRecord, u64) {
        let dir = tempfile::tempdir().expect("tempdir");
        let redactor = crate::redact::Redactor::new(&["hunter2-s3cr3t".to_string()]);
        let writer = SnapshotWriter::create(dir.path(), &one_stream_plan(), redactor, "op".into())
            .expect("writer");
        let (mut out, _err) = writer.stream_started(0).expect("started");
        let mut rest = pieces;
        for &group in groups.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (now, later) = rest.split_at(group.clamp(1, rest.len()));
            out.write_chunks(now).expect("chunks");
            rest = later;
        }
        let (record, redactions, _) = out.finish().expect("finish");
        let bytes = std::fs::read(writer.dir().join(&record.path)).expect("read");
        (bytes, record, redactions)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        /// Joining pieces that arrived back to back changes nothing on disk: the same bytes,
        /// redactions (a secret split across pieces included) and hash as one piece per call.
        #[test]
        fn joined_pieces_store_what_separate_pieces_store(
            text in prop::collection::vec(prop_oneof![
                Just(b"hunter2-s3cr3t".to_vec()),
                Just(b"password=abc123\n".to_vec()),
                Just(b"\n".to_vec()),
                prop::collection::vec(any::<u8>(), 0..200),
            ], 1..40),
            cuts in prop::collection::vec(1usize..40, 1..20),
            groups in prop::collection::vec(1usize..6, 1..5),
        ) {
            let whole: Vec<u8> = text.concat();
            let mut pieces = Vec::new();
            let mut at = 0;
            for cut in cuts.iter().cycle() {
                if at >= whole.len() {
                    break;
                }
                let end = (at + cut).min(whole.len());
                pieces.push(whole[at..end].to_vec());
                at = end;
            }
            let separate = write_grouped(&pieces, &[1]);
            let joined = write_grouped(&pieces, &groups);
            prop_assert_eq!(&joined.0, &separate.0);
            prop_assert_eq!(&joined.1.sha256, &separate.1.sha256);
            prop_assert_eq!(joined.1.bytes, separate.1.bytes);
            prop_assert_eq!(joined.1.received_bytes, whole.len() as u64);
            prop_assert_eq!(joined.2, separate.2);
            prop_assert!(!joined.0.windows(14).any(|w| w == b"hunter2-s3cr3t"));
        }
    }
}
