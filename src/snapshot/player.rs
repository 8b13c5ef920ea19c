//! Playback of a snapshot with its original timing: the journal's chunk index (which bytes of
//! which stream file arrived when), seeking, and reading those bytes back. A front end feeds
//! what [`Player::seek`] hands out into its panes; nothing here draws.
//!
//! Seeking backwards (or far forwards) rebuilds from the tail of each file up to the new
//! position, so a seek costs the same whatever the snapshot size.
use super::journal::{Fd, JournalEvent};
use super::journal_index::{IndexEvent, IndexRejected};
use super::{JOURNAL_FILE, Manifest};
use std::{
    fs::File,
    path::{Path, PathBuf},
};

/// Per stream and output, how much of the file a rebuild loads.
pub const TAIL_BYTES: u64 = 256 << 10;
/// Moving forward by more than this many bytes at once rebuilds from the tail instead.
pub const REBUILD_BYTES: u64 = 1 << 20;

/// Why a snapshot cannot be played.
#[derive(Debug, thiserror::Error)]
pub enum PlayerError {
    #[error("cannot open the snapshot: {0}")]
    Open(std::io::Error),
    #[error("cannot read the journal: {0}")]
    Journal(std::io::Error),
}

/// Where the index came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexSource {
    /// The sealed `journal.idx` written with the capture.
    Cache,
    /// `journal.jsonl`, read line by line (older casefile, a capture that did not finish, or a
    /// `journal.idx` that did not check out).
    Journal,
}

/// One journal chunk: `len` bytes at `off` of a stream's stdout or stderr, arrived at `t` µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRef {
    pub t: u64,
    pub stream: usize,
    pub fd: Fd,
    pub off: u64,
    pub len: u64,
}

/// The journal as a time-ordered chunk list plus each stream's start and end time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalIndex {
    chunks: Vec<ChunkRef>,
    starts: Vec<Option<u64>>,
    ends: Vec<Option<u64>>,
    /// Microseconds from the first to the last journal event.
    pub duration: u64,
}

impl JournalIndex {
    /// Indexes `events` of a snapshot with `streams` streams (events of other streams are
    /// ignored: a damaged journal never indexes out of bounds).
    pub fn build(events: impl IntoIterator<Item = JournalEvent>, streams: usize) -> JournalIndex {
        let mut index = JournalIndex::empty(streams);
        for event in events {
            if let Some(event) = IndexEvent::of(&event) {
                index.add(event);
            }
        }
        index.finish()
    }

    /// The index of the snapshot in `dir`: from its sealed `journal.idx` when that is valid for
    /// the journal (a capture of this version that finished), else from `journal.jsonl`.
    pub fn open(dir: &Path, streams: usize) -> std::io::Result<(JournalIndex, IndexSource)> {
        let mut index = JournalIndex::empty(streams);
        match super::journal_index::load(dir, |event| index.add(event)) {
            Ok(()) => return Ok((index.finish(), IndexSource::Cache)),
            Err(IndexRejected::Missing) => {}
            Err(e) => tracing::debug!(reason = %e, "replay reads the journal instead"),
        }
        let mut index = JournalIndex::empty(streams);
        let journal = dir.join(JOURNAL_FILE);
        if journal.exists() {
            super::journal::visit_journal(&journal, |event| {
                if let Some(event) = IndexEvent::of(&event) {
                    index.add(event);
                }
            })?;
        }
        Ok((index.finish(), IndexSource::Journal))
    }

    fn empty(streams: usize) -> JournalIndex {
        JournalIndex {
            chunks: Vec::new(),
            starts: vec![None; streams],
            ends: vec![None; streams],
            duration: 0,
        }
    }

    fn add(&mut self, event: IndexEvent) {
        let streams = self.starts.len();
        let t = match event {
            IndexEvent::Chunk { t, s, fd, off, len } if s < streams => {
                self.chunks.push(ChunkRef {
                    t,
                    stream: s,
                    fd,
                    off,
                    len,
                });
                t
            }
            IndexEvent::Start { t, s } if s < streams => {
                self.starts[s] = Some(t);
                t
            }
            IndexEvent::End { t, s } if s < streams => {
                self.ends[s] = Some(t);
                t
            }
            IndexEvent::Finish { t } => t,
            _ => return,
        };
        self.duration = self.duration.max(t);
    }

    fn finish(mut self) -> JournalIndex {
        // Chunks of different streams are appended by different tasks: keep them in time order
        // (a stable sort, nearly free on the nearly sorted list the journal gives).
        if !self.chunks.is_sorted_by_key(|c| c.t) {
            self.chunks.sort_by_key(|c| c.t);
        }
        self
    }

    /// When `stream` started and ended (µs), as far as the journal knows.
    pub fn times(&self, stream: usize) -> (Option<u64>, Option<u64>) {
        (
            self.starts.get(stream).copied().flatten(),
            self.ends.get(stream).copied().flatten(),
        )
    }

    /// Chunks arrived at or before `pos`: `chunks()[..arrived_by(pos)]`.
    pub fn arrived_by(&self, pos: u64) -> usize {
        self.chunks.partition_point(|c| c.t <= pos)
    }

    pub fn chunks(&self) -> &[ChunkRef] {
        &self.chunks
    }

    /// Bytes of the chunks after the first `applied` that arrived by `pos`.
    pub fn pending_bytes(&self, applied: usize, pos: u64) -> u64 {
        self.chunks[applied.min(self.chunks.len())..]
            .iter()
            .take_while(|c| c.t <= pos)
            .fold(0u64, |sum, c| sum.saturating_add(c.len))
    }

    /// What a rebuild at `pos` reads: each arrived chunk that overlaps the last `tail` bytes of
    /// its stream output, with the offset to read from.
    pub fn tail_reads(&self, pos: u64, tail: u64) -> Vec<(ChunkRef, u64)> {
        let end = self.arrived_by(pos);
        let mut last_end: Vec<[u64; 2]> = vec![[0; 2]; self.starts.len()];
        for c in &self.chunks[..end] {
            last_end[c.stream][c.fd as usize] = c.off.saturating_add(c.len);
        }
        self.chunks[..end]
            .iter()
            .filter_map(|c| {
                let from = last_end[c.stream][c.fd as usize].saturating_sub(tail);
                (c.off.saturating_add(c.len) > from).then_some((*c, from))
            })
            .collect()
    }
}

/// A run of bytes of one stream output that a rebuild hands out in one piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub stream: usize,
    pub fd: Fd,
    pub from: u64,
    pub to: u64,
}

impl JournalIndex {
    /// What a rebuild at `pos` reads, as [`JournalIndex::tail_reads`], with the chunks of each
    /// stream together and neighbouring chunks of the same output merged: one read per run
    /// instead of one per line (a rebuild of 16 line-at-a-time streams reads ~140,000 chunks).
    /// Within a stream, stdout and stderr keep their order of arrival.
    pub fn rebuild_spans(&self, pos: u64, tail: u64) -> Vec<Span> {
        let mut reads = self.tail_reads(pos, tail);
        reads.sort_by_key(|(c, _)| c.stream);
        let mut spans: Vec<Span> = Vec::new();
        for (c, from) in reads {
            let from = from.max(c.off);
            let to = c.off.saturating_add(c.len);
            match spans.last_mut() {
                Some(last) if last.stream == c.stream && last.fd == c.fd && last.to == from => {
                    last.to = to;
                }
                _ => spans.push(Span {
                    stream: c.stream,
                    fd: c.fd,
                    from,
                    to,
                }),
            }
        }
        spans
    }
}

/// What the panes must do to show the new position.
#[derive(Debug, PartialEq, Eq)]
pub enum Feed<'a> {
    /// Forget everything shown: what follows is the state at the new position.
    Reset,
    /// Append these bytes to a stream's output.
    Bytes {
        stream: usize,
        fd: Fd,
        bytes: &'a [u8],
    },
}

/// An opened snapshot being played: its folder, manifest, journal index and position.
#[derive(Debug)]
pub struct Player {
    /// The folder the stream files are read from.
    pub dir: PathBuf,
    /// What the operator opened (the folder, or the archive).
    pub source: PathBuf,
    pub manifest: Manifest,
    pub index: JournalIndex,
    index_source: IndexSource,
    pos: u64,
    applied: usize,
    files: Vec<[Option<File>; 2]>,
    /// The temporary folder an archive was unpacked into; removed with the player.
    _unpacked: Option<super::reader::UnpackedDir>,
}

impl Player {
    /// Opens a snapshot folder (or its manifest.json, or an exported archive, which is
    /// unpacked) and indexes its journal. Blocking: front ends call it off their loop.
    pub fn open(path: &Path) -> Result<Player, PlayerError> {
        let opened = super::open_folder_or_archive(path).map_err(PlayerError::Open)?;
        let unpacked = opened.unpacked;
        let snapshot = opened.snapshot;
        let n = snapshot.manifest.streams.len();
        let (index, index_source) =
            JournalIndex::open(&snapshot.dir, n).map_err(PlayerError::Journal)?;
        Ok(Player {
            source: if unpacked.is_some() {
                path.to_path_buf()
            } else {
                snapshot.dir.clone()
            },
            dir: snapshot.dir,
            manifest: snapshot.manifest,
            index,
            index_source,
            pos: 0,
            applied: 0,
            files: (0..n).map(|_| [None, None]).collect(),
            _unpacked: unpacked,
        })
    }

    /// Whether the index came from `journal.idx` or from reading the journal.
    pub fn index_source(&self) -> IndexSource {
        self.index_source
    }

    /// Playback position, microseconds.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    pub fn duration(&self) -> u64 {
        self.index.duration
    }

    /// Moves to `pos` (capped at the end) and hands `feed` what changes: the chunks that
    /// arrived since, or a [`Feed::Reset`] and the tails up to `pos`.
    pub fn seek(&mut self, pos: u64, feed: &mut dyn FnMut(Feed<'_>)) {
        let pos = pos.min(self.index.duration);
        let pending = self.index.pending_bytes(self.applied, pos);
        if pos < self.pos || pending > REBUILD_BYTES || (pos == 0 && self.applied == 0) {
            feed(Feed::Reset);
            for span in self.index.rebuild_spans(pos, TAIL_BYTES) {
                let bytes = self.read_span(span.stream, span.fd, span.from, span.to);
                feed(Feed::Bytes {
                    stream: span.stream,
                    fd: span.fd,
                    bytes: &bytes,
                });
            }
            self.applied = self.index.arrived_by(pos);
        } else {
            while let Some(&c) = self.index.chunks.get(self.applied).filter(|c| c.t <= pos) {
                let bytes = self.read_span(c.stream, c.fd, c.off, c.off.saturating_add(c.len));
                feed(Feed::Bytes {
                    stream: c.stream,
                    fd: c.fd,
                    bytes: &bytes,
                });
                self.applied += 1;
            }
        }
        self.pos = pos;
    }

    /// Bytes `from..to` of a stream's stdout or stderr file (fewer if the file is shorter,
    /// empty if it is unreadable).
    fn read_span(&mut self, stream: usize, fd: Fd, from: u64, to: u64) -> Vec<u8> {
        let Some(slot) = self.files.get_mut(stream).map(|f| &mut f[fd as usize]) else {
            return Vec::new();
        };
        if slot.is_none() {
            let record = &self.manifest.streams[stream].result;
            let rel = if fd == Fd::Out {
                &record.stdout.path
            } else {
                &record.stderr.path
            };
            // Confined to the snapshot folder: never a path elsewhere, a link, a FIFO or a device.
            *slot = super::confined::open_stream_file(&self.dir, rel, rel).ok();
        }
        let Some(file) = slot.as_ref() else {
            return Vec::new();
        };
        super::confined::read_range(file, from, to.saturating_sub(from)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(t: u64, s: usize, off: u64, len: u64) -> JournalEvent {
        JournalEvent::Chunk {
            t,
            s,
            fd: Fd::Out,
            off,
            len,
        }
    }

    #[test]
    fn the_index_orders_chunks_by_time_and_ignores_unknown_streams() {
        let index = JournalIndex::build(
            [
                JournalEvent::Start { t: 0, s: 0 },
                JournalEvent::Start { t: 10, s: 1 },
                chunk(300, 1, 0, 5),
                chunk(200, 0, 0, 4),
                chunk(250, 7, 0, 9),
                JournalEvent::Finish { t: 900 },
            ],
            2,
        );
        let times: Vec<u64> = index.chunks().iter().map(|c| c.t).collect();
        assert_eq!(times, vec![200, 300], "stream 7 does not exist");
        assert_eq!(index.duration, 900);
        assert_eq!(index.times(1), (Some(10), None));
        assert_eq!(index.times(5), (None, None));
        assert_eq!(index.arrived_by(250), 1);
        assert_eq!(index.pending_bytes(0, 1000), 9);
        assert_eq!(index.pending_bytes(1, 1000), 5);
    }

    #[test]
    fn a_rebuild_reads_only_the_tail_of_each_output() {
        // Stream 0: three 100-byte chunks; with a 150-byte tail only the last two are read,
        // the middle one from its last 50 bytes.
        let index = JournalIndex::build(
            [
                chunk(1, 0, 0, 100),
                chunk(2, 0, 100, 100),
                chunk(3, 0, 200, 100),
            ],
            1,
        );
        let reads: Vec<(u64, u64)> = index
            .tail_reads(10, 150)
            .iter()
            .map(|(c, from)| (c.off, *from))
            .collect();
        assert_eq!(reads, vec![(100, 150), (200, 150)]);
        // At t=2 the output ends at byte 200.
        let reads: Vec<(u64, u64)> = index
            .tail_reads(2, 150)
            .iter()
            .map(|(c, from)| (c.off, *from))
            .collect();
        assert_eq!(reads, vec![(0, 50), (100, 50)]);
    }

    #[test]
    fn a_rebuild_merges_neighbouring_chunks_per_stream_and_keeps_out_and_err_in_order() {
        let err = |t, s, off, len| JournalEvent::Chunk {
            t,
            s,
            fd: Fd::Err,
            off,
            len,
        };
        let index = JournalIndex::build(
            [
                chunk(1, 0, 0, 10),
                chunk(2, 1, 0, 5),
                chunk(3, 0, 10, 10),
                err(4, 0, 0, 3),
                chunk(5, 0, 20, 10),
                chunk(6, 1, 5, 5),
            ],
            2,
        );
        let spans: Vec<(usize, Fd, u64, u64)> = index
            .rebuild_spans(10, 1000)
            .iter()
            .map(|s| (s.stream, s.fd, s.from, s.to))
            .collect();
        assert_eq!(
            spans,
            vec![
                (0, Fd::Out, 0, 20),
                (0, Fd::Err, 0, 3),
                (0, Fd::Out, 20, 30),
                (1, Fd::Out, 0, 10),
            ]
        );
        // With a 15-byte tail, stream 0's stdout starts at byte 15 (its end is 30).
        let first = index.rebuild_spans(10, 15)[0];
        assert_eq!((first.from, first.to), (15, 20));
    }

    /// A snapshot written by the real writer, played back: the bytes handed out are the
    /// stream's output, whether reached by playing forward or by a rebuild after a seek back.
    #[test]
    fn plays_a_written_snapshot_forward_and_after_seeking_back() {
        use crate::model::{CapturePlan, StepAction, StreamSpec, Target};
        use crate::snapshot::{CaptureState, SnapshotWriter, StreamStatus};
        let dir = tempfile::tempdir().expect("tempdir");
        let plan = CapturePlan {
            incident: None,
            targets: vec![Target::local()],
            streams: vec![StreamSpec::new(
                "01-local-echo",
                0,
                "adhoc",
                "echo",
                StepAction::Command("echo".into()),
                std::time::Duration::from_secs(5),
            )],
        };
        let writer = SnapshotWriter::create(
            dir.path(),
            &plan,
            crate::redact::Redactor::new(&[]),
            "op".into(),
        )
        .expect("writer");
        let (mut out, err) = writer.stream_started(0).expect("started");
        out.write_chunk(b"one\n").expect("chunk");
        std::thread::sleep(std::time::Duration::from_millis(20));
        out.write_chunk(b"two\n").expect("chunk");
        let (stdout, _, _) = out.finish().expect("stdout");
        let (stderr, _, _) = err.finish().expect("stderr");
        let result = crate::snapshot::manifest::StreamResult {
            status: StreamStatus::Exited,
            started_at: None,
            ended_at: None,
            duration_ms: Some(20),
            exit_code: Some(0),
            signal: None,
            timed_out: false,
            truncated: false,
            reason: None,
            stdout,
            stderr,
            data: None,
            artifact: None,
            redactions: 0,
        };
        writer.stream_ended(0, result).expect("ended");
        writer.finish(CaptureState::Complete).expect("finish");

        let mut player = Player::open(writer.dir()).expect("open");
        assert_eq!(player.index_source(), IndexSource::Cache);
        let from_journal = JournalIndex::build(
            crate::snapshot::journal::read_journal(&writer.dir().join(JOURNAL_FILE))
                .expect("journal"),
            1,
        );
        assert_eq!(
            player.index, from_journal,
            "journal.idx says what the journal says"
        );
        let mut shown = Vec::new();
        let mut resets = 0;
        let mut collect = |feed: Feed<'_>| match feed {
            Feed::Reset => {
                resets += 1;
                shown.clear();
            }
            Feed::Bytes { stream, fd, bytes } => {
                assert_eq!((stream, fd), (0, Fd::Out));
                shown.extend_from_slice(bytes);
            }
        };
        let end = player.duration();
        assert!(end >= 20_000, "the chunks are 20 ms apart: {end}");
        player.seek(0, &mut collect);
        player.seek(end, &mut collect);
        player.seek(end / 2, &mut collect);
        player.seek(end, &mut collect);
        assert_eq!(shown, b"one\ntwo\n");
        assert_eq!(
            resets, 2,
            "opening at 0 and the seek back rebuild; forward plays on"
        );
        assert_eq!(player.pos(), end);
        player.seek(u64::MAX, &mut |_| {});
        assert_eq!(player.pos(), end, "a seek past the end stops at the end");
    }
}
