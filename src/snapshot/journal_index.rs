//! `journal.idx`: the journal's events in fixed-size binary records, written beside
//! `journal.jsonl` as the capture runs and sealed when it finishes, so replay opens a capture of a
//! million chunks without parsing a million JSON lines.
//!
//! ```text
//! header  32 bytes: magic "CFJIDX\0\x01", journal length when sealed (u64::MAX: not sealed),
//!                   record count, reserved (0)
//! record  32 bytes: t, off, len (u64), stream (u32), kind (u8: 1 start, 2 chunk, 3 end,
//!                   4 finish), fd (u8: 0 out, 1 err), 2 zero bytes; all little-endian
//! ```
//! The file is a cache, never the truth: it is used only when it is sealed and its recorded
//! journal length is the journal's length now; otherwise (a crash, an older casefile, an edited
//! or damaged file) replay reads the journal. Like everything in a snapshot it is untrusted input:
//! opened through the confined opener, its size checked against its header before anything is
//! allocated, and every record checked (a bad one rejects the whole file).
use super::journal::{Fd, JournalEvent};
use std::{
    fs::File,
    io::{self, Read, Write},
    os::unix::fs::FileExt,
    path::Path,
};

pub const INDEX_FILE: &str = "journal.idx";
const MAGIC: [u8; 8] = *b"CFJIDX\0\x01";
const HEADER: usize = 32;
pub const RECORD: usize = 32;
const UNSEALED: u64 = u64::MAX;
/// The shortest journal line an indexed event can have (`{"ev":"finish","t":0}` and its newline):
/// an index may not claim more records than its journal could hold.
const MIN_LINE: u64 = 22;
/// Records are written out in blocks of this size.
const FLUSH_AT: usize = 64 << 10;

/// One indexed event, as replay needs it (an `end` event's result lives in the journal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexEvent {
    Start {
        t: u64,
        s: usize,
    },
    Chunk {
        t: u64,
        s: usize,
        fd: Fd,
        off: u64,
        len: u64,
    },
    End {
        t: u64,
        s: usize,
    },
    Finish {
        t: u64,
    },
}

impl IndexEvent {
    /// The indexed part of a journal event (`begin` is not indexed).
    pub fn of(event: &JournalEvent) -> Option<IndexEvent> {
        Some(match *event {
            JournalEvent::Begin { .. } => return None,
            JournalEvent::Start { t, s } => IndexEvent::Start { t, s },
            JournalEvent::Chunk { t, s, fd, off, len } => IndexEvent::Chunk { t, s, fd, off, len },
            JournalEvent::End { t, s, .. } => IndexEvent::End { t, s },
            JournalEvent::Finish { t } => IndexEvent::Finish { t },
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let (kind, t, s, fd, off, len) = match *self {
            IndexEvent::Start { t, s } => (1u8, t, s, Fd::Out, 0, 0),
            IndexEvent::Chunk { t, s, fd, off, len } => (2, t, s, fd, off, len),
            IndexEvent::End { t, s } => (3, t, s, Fd::Out, 0, 0),
            IndexEvent::Finish { t } => (4, t, 0, Fd::Out, 0, 0),
        };
        out.extend_from_slice(&t.to_le_bytes());
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        // A stream number past u32 cannot be a real stream; recorded as one no snapshot has.
        out.extend_from_slice(&u32::try_from(s).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(&[kind, fd as u8, 0, 0]);
    }

    /// One record, or `None` if it is not one this format writes.
    fn decode(record: &[u8]) -> Option<IndexEvent> {
        let u64_at = |at: usize| {
            record
                .get(at..at + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
        };
        let t = u64_at(0)?;
        let off = u64_at(8)?;
        let len = u64_at(16)?;
        let s = record
            .get(24..28)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)? as usize;
        let (kind, fd, pad) = (*record.get(28)?, *record.get(29)?, record.get(30..32)?);
        if pad != [0, 0] {
            return None;
        }
        let plain = off == 0 && len == 0 && fd == 0;
        match kind {
            1 if plain => Some(IndexEvent::Start { t, s }),
            2 => {
                let fd = match fd {
                    0 => Fd::Out,
                    1 => Fd::Err,
                    _ => return None,
                };
                off.checked_add(len)?;
                Some(IndexEvent::Chunk { t, s, fd, off, len })
            }
            3 if plain => Some(IndexEvent::End { t, s }),
            4 if plain && s == 0 => Some(IndexEvent::Finish { t }),
            _ => None,
        }
    }
}

/// Appends records while the capture runs (buffered: the file is a cache, the journal the truth).
#[derive(Debug)]
pub struct IndexWriter {
    file: File,
    buffer: Vec<u8>,
    count: u64,
}

impl IndexWriter {
    /// Creates `path` (0600, new) with an unsealed header.
    pub fn create(path: &Path) -> io::Result<IndexWriter> {
        let mut file = super::private::create_new_private_file_positioned(path)?;
        file.write_all(&header(UNSEALED, 0))?;
        Ok(IndexWriter {
            file,
            buffer: Vec::with_capacity(FLUSH_AT),
            count: 0,
        })
    }

    pub fn push(&mut self, event: &JournalEvent) -> io::Result<()> {
        if let Some(event) = IndexEvent::of(event) {
            event.encode(&mut self.buffer);
            self.count += 1;
            if self.buffer.len() >= FLUSH_AT {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.write_all(&self.buffer)?;
        self.buffer.clear();
        Ok(())
    }

    /// Writes the last records and the header that makes the file valid for a journal of
    /// `journal_len` bytes.
    pub fn seal(mut self, journal_len: u64) -> io::Result<()> {
        self.flush()?;
        self.file.write_all_at(&header(journal_len, self.count), 0)
    }
}

fn header(journal_len: u64, count: u64) -> [u8; HEADER] {
    let mut header = [0u8; HEADER];
    header[..8].copy_from_slice(&MAGIC);
    header[8..16].copy_from_slice(&journal_len.to_le_bytes());
    header[16..24].copy_from_slice(&count.to_le_bytes());
    header
}

/// Why `journal.idx` was not used (replay then reads the journal).
#[derive(Debug, thiserror::Error)]
pub enum IndexRejected {
    #[error("no journal.idx")]
    Missing,
    #[error("journal.idx: {0}")]
    Refused(String),
    #[error("journal.idx was not sealed (the capture did not finish) or is out of date")]
    Stale,
    #[error("journal.idx is damaged: {0}")]
    Damaged(String),
}

/// Reads `dir/journal.idx` if it is sealed for the journal `dir/journal.jsonl` as it is now,
/// handing each event to `visit`. On an error part of the file may have been visited: the
/// caller throws away what it built and reads the journal instead.
pub fn load(dir: &Path, mut visit: impl FnMut(IndexEvent)) -> Result<(), IndexRejected> {
    use super::confined::open_stream_file;
    let open = |name: &str| match open_stream_file(dir, name, name) {
        Ok(file) => Ok(file),
        Err(e) if e.is_missing() => Err(IndexRejected::Missing),
        Err(e) => Err(IndexRejected::Refused(e.to_string())),
    };
    let file = open(INDEX_FILE)?;
    let journal_len = open(super::JOURNAL_FILE)?
        .metadata()
        .map_err(|e| IndexRejected::Refused(e.to_string()))?
        .len();
    let size = file
        .metadata()
        .map_err(|e| IndexRejected::Refused(e.to_string()))?
        .len();
    let mut head = [0u8; HEADER];
    file.read_exact_at(&mut head, 0)
        .map_err(|_| IndexRejected::Damaged(format!("{size} bytes is shorter than its header")))?;
    let field = |at: usize| u64::from_le_bytes(head[at..at + 8].try_into().unwrap_or([0; 8]));
    if head[..8] != MAGIC || field(24) != 0 {
        return Err(IndexRejected::Damaged(
            "not a casefile journal index".into(),
        ));
    }
    if field(8) != journal_len {
        return Err(IndexRejected::Stale);
    }
    let count = field(16);
    if count > journal_len / MIN_LINE {
        return Err(IndexRejected::Damaged(format!(
            "{count} records cannot come from a journal of {journal_len} bytes"
        )));
    }
    // count ≤ 2^64/22, so this cannot overflow.
    let expected = HEADER as u64 + count * RECORD as u64;
    if size != expected {
        return Err(IndexRejected::Damaged(format!(
            "{size} bytes, but its header says {count} records ({expected} bytes)"
        )));
    }
    // Read in blocks: memory stays flat whatever the size.
    let mut reader = io::BufReader::with_capacity(256 << 10, &file);
    let mut skip = [0u8; HEADER];
    reader
        .read_exact(&mut skip)
        .map_err(|e| IndexRejected::Damaged(e.to_string()))?;
    let mut block = vec![0u8; 2048 * RECORD];
    let mut left = count;
    while left > 0 {
        let n = left.min(2048) as usize;
        let bytes = &mut block[..n * RECORD];
        reader
            .read_exact(bytes)
            .map_err(|e| IndexRejected::Damaged(e.to_string()))?;
        for (i, record) in bytes.chunks_exact(RECORD).enumerate() {
            let event = IndexEvent::decode(record).ok_or_else(|| {
                IndexRejected::Damaged(format!(
                    "record {} is not one casefile writes",
                    count - left + i as u64
                ))
            })?;
            visit(event);
        }
        left -= n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event() -> impl Strategy<Value = IndexEvent> {
        let fd = prop_oneof![Just(Fd::Out), Just(Fd::Err)];
        prop_oneof![
            (any::<u64>(), 0usize..u32::MAX as usize).prop_map(|(t, s)| IndexEvent::Start { t, s }),
            (
                any::<u64>(),
                0usize..u32::MAX as usize,
                fd,
                any::<u64>(),
                any::<u64>()
            )
                .prop_map(|(t, s, fd, off, len)| IndexEvent::Chunk {
                    t,
                    s,
                    fd,
                    off,
                    len: len.min(u64::MAX - off)
                }),
            (any::<u64>(), 0usize..u32::MAX as usize).prop_map(|(t, s)| IndexEvent::End { t, s }),
            any::<u64>().prop_map(|t| IndexEvent::Finish { t }),
        ]
    }

    proptest! {
        #[test]
        fn records_round_trip(event in event()) {
            let mut bytes = Vec::new();
            event.encode(&mut bytes);
            prop_assert_eq!(bytes.len(), RECORD);
            prop_assert_eq!(IndexEvent::decode(&bytes), Some(event));
        }

        /// Any 32 bytes decode to nothing, or to an event that encodes back to the same bytes:
        /// there is no second spelling of an event, and no chunk whose end passes 2^64.
        #[test]
        fn any_record_decodes_to_nothing_or_to_itself(bytes in prop::collection::vec(any::<u8>(), RECORD)) {
            if let Some(event) = IndexEvent::decode(&bytes) {
                let mut again = Vec::new();
                event.encode(&mut again);
                prop_assert_eq!(again, bytes);
                if let IndexEvent::Chunk { off, len, .. } = event {
                    prop_assert!(off.checked_add(len).is_some());
                }
            }
        }
    }
}
