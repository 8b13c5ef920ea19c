//! `journal.jsonl`: one JSON object per line, appended as things happen. Chunks are indexed
//! (stream, fd, offset, length, time) rather than copied, so replay can reproduce the original
//! timing while the bytes live once, in the stream files.
use super::journal_index::IndexWriter;
use super::manifest::StreamResult;
use serde::{Deserialize, Serialize};
use std::{
    fs::File,
    io::{self, BufRead, BufReader, Read, Write},
    path::Path,
    sync::Mutex,
    time::Instant,
};

/// Which output of a stream a chunk belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fd {
    Out,
    Err,
}

/// One journal line. `t` is microseconds since the capture started; `s` the stream index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum JournalEvent {
    Begin {
        started_at: String,
        schema_version: u32,
    },
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
        result: Box<StreamResult>,
    },
    Finish {
        t: u64,
    },
}

/// Appends events; each is one `write` of a whole line, so a crash leaves at most one torn line.
/// The same events go, buffered, to `journal.idx` (see `journal_index`), sealed by [`JournalWriter::seal`].
#[derive(Debug)]
pub struct JournalWriter {
    files: Mutex<Files>,
    epoch: Instant,
}

#[derive(Debug)]
struct Files {
    journal: File,
    /// Bytes of whole lines written (no `fstat` per event to know where a torn line starts).
    len: u64,
    /// `None` once writing it failed (a full disk): replay then reads the journal.
    index: Option<IndexWriter>,
}

impl JournalWriter {
    /// Creates `path` and, beside it, `journal.idx` (best effort: the journal alone is a
    /// complete snapshot).
    pub fn create(path: &Path) -> io::Result<JournalWriter> {
        let journal = super::private::create_new_private_file(path)?;
        let index =
            IndexWriter::create(&path.with_file_name(super::journal_index::INDEX_FILE)).ok();
        Ok(JournalWriter {
            files: Mutex::new(Files {
                journal,
                len: 0,
                index,
            }),
            epoch: Instant::now(),
        })
    }

    /// Microseconds since the journal was created.
    pub fn now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn files(&self) -> io::Result<std::sync::MutexGuard<'_, Files>> {
        self.files
            .lock()
            .map_err(|_| io::Error::other("journal lock poisoned"))
    }

    /// A line that did not fit (full disk) is cut off again, so the next line starts clean.
    pub fn append(&self, event: &JournalEvent) -> io::Result<()> {
        let mut line = serde_json::to_vec(event).map_err(io::Error::other)?;
        line.push(b'\n');
        let mut files = self.files()?;
        let written = files.journal.write_all(&line);
        if written.is_err() {
            let len = files.len;
            let _ = files.journal.set_len(len);
        }
        written?;
        files.len += line.len() as u64;
        // Same order as the journal's lines; a failure only costs replay its shortcut.
        if let Some(index) = files.index.as_mut()
            && index.push(event).is_err()
        {
            files.index = None;
        }
        Ok(())
    }

    /// Makes `journal.idx` valid for the journal as it is now; call after the last event.
    pub fn seal(&self) -> io::Result<()> {
        let mut files = self.files()?;
        let len = files.journal.metadata()?.len();
        match files.index.take() {
            Some(index) => index.seal(len),
            None => Ok(()),
        }
    }
}

/// Longest journal line read; the longest real one is an `end` event, a few KiB.
pub const MAX_LINE: usize = 4 << 20;

/// Reads every complete line; a torn line (crash or full disk mid-write) is skipped, not an
/// error. Nothing read is trusted: a line longer than [`MAX_LINE`] and a chunk whose end does
/// not fit in 64 bits are refused with the line number, before anything is allocated for them.
pub fn read_journal(path: &Path) -> io::Result<Vec<JournalEvent>> {
    let file = open_confined(path)?;
    read_journal_from(BufReader::new(file), &path.display().to_string())
}

/// [`read_journal`] over any reader; `name` is used in error messages.
pub fn read_journal_from(reader: impl BufRead, name: &str) -> io::Result<Vec<JournalEvent>> {
    let mut events = Vec::new();
    for_each_event(reader, name, |event| events.push(event))?;
    Ok(events)
}

/// Opens `dir/journal.jsonl` through the confined opener and hands each event to `visit`,
/// without keeping them (replay's fallback index over a journal of a million chunks).
pub fn visit_journal(path: &Path, visit: impl FnMut(JournalEvent)) -> io::Result<()> {
    let file = open_confined(path)?;
    for_each_event(
        BufReader::with_capacity(256 << 10, file),
        &path.display().to_string(),
        visit,
    )
}

/// Opens a journal file like every file a snapshot names: a link or FIFO in its place is refused.
fn open_confined(path: &Path) -> io::Result<File> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    super::confined::open_stream_file(dir, &name, &name)
        .map_err(io::Error::from)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Reads every complete line of `reader` into events, as [`read_journal`] describes.
fn for_each_event(
    mut reader: impl BufRead,
    name: &str,
    mut visit: impl FnMut(JournalEvent),
) -> io::Result<()> {
    let invalid = |number: usize, message: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{name}:{number}: {message}"),
        )
    };
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        number += 1;
        let read = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if read == 0 {
            break;
        }
        if line.len() > MAX_LINE {
            return Err(invalid(
                number,
                format!("line longer than {MAX_LINE} bytes; the journal is damaged"),
            ));
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if line.is_empty() {
            continue;
        }
        // Chunk lines are nearly all of a big journal: read the writer's exact form directly
        // (a tenth of serde's cost), anything else through serde.
        let parsed = match parse_chunk_line(&line) {
            Some(event) => Ok(event),
            None => serde_json::from_slice::<JournalEvent>(&line),
        };
        match parsed {
            Ok(JournalEvent::Chunk { off, len, .. }) if off.checked_add(len).is_none() => {
                return Err(invalid(
                    number,
                    format!(
                        "chunk at offset {off} with length {len} ends past 2^64; the journal is damaged"
                    ),
                ));
            }
            Ok(event) => visit(event),
            Err(e) if e.is_eof() => continue,
            Err(e) => return Err(invalid(number, e.to_string())),
        }
    }
    Ok(())
}

/// A chunk line exactly as [`JournalWriter`] writes it
/// (`{"ev":"chunk","t":1,"s":0,"fd":"out","off":0,"len":4}`), or `None` for any other
/// spelling, which serde then reads (so both paths agree on every line this accepts).
pub fn parse_chunk_line(line: &[u8]) -> Option<JournalEvent> {
    let rest = line.strip_prefix(b"{\"ev\":\"chunk\",\"t\":")?;
    let (t, rest) = json_u64(rest)?;
    let (s, rest) = json_u64(rest.strip_prefix(b",\"s\":")?)?;
    let (fd, rest) = if let Some(rest) = rest.strip_prefix(b",\"fd\":\"out\",\"off\":") {
        (Fd::Out, rest)
    } else {
        (Fd::Err, rest.strip_prefix(b",\"fd\":\"err\",\"off\":")?)
    };
    let (off, rest) = json_u64(rest)?;
    let (len, rest) = json_u64(rest.strip_prefix(b",\"len\":")?)?;
    (rest == b"}").then_some(JournalEvent::Chunk {
        t,
        s: usize::try_from(s).ok()?,
        fd,
        off,
        len,
    })
}

/// A JSON unsigned integer at the start of `bytes` (no sign, no leading zero, no overflow).
fn json_u64(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || (digits > 1 && bytes[0] == b'0') {
        return None;
    }
    let mut value: u64 = 0;
    for &b in &bytes[..digits] {
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some((value, &bytes[digits..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fd_of(err: bool) -> Fd {
        if err { Fd::Err } else { Fd::Out }
    }

    proptest! {
        /// The fast path reads every chunk line the writer produces exactly as serde does.
        #[test]
        fn the_fast_path_reads_what_the_writer_writes(t: u64, s in 0usize..1 << 40, err: bool, off: u64, len: u64) {
            let event = JournalEvent::Chunk { t, s, fd: fd_of(err), off, len };
            let line = serde_json::to_vec(&event).expect("serialise");
            prop_assert_eq!(parse_chunk_line(&line), Some(event));
        }

        /// Whatever it is given, the fast path never disagrees with serde: it accepts a line
        /// only when serde reads the same event from it.
        #[test]
        fn the_fast_path_never_disagrees_with_serde(
            t: u64, s in 0usize..1000, err: bool, off: u64, len: u64,
            at in 0usize..80, byte in prop::sample::select(b"0123456789{}\",:-+ .eE\n\\xabcdefghijklmnopqrstuvwxyz".to_vec()),
            cut in 0usize..80,
        ) {
            let event = JournalEvent::Chunk { t, s, fd: fd_of(err), off, len };
            let mut line = serde_json::to_vec(&event).expect("serialise");
            if at < line.len() {
                line[at] = byte;
            } else {
                line.push(byte);
            }
            line.truncate(line.len().saturating_sub(cut % 3));
            if let Some(fast) = parse_chunk_line(&line) {
                let slow = serde_json::from_slice::<JournalEvent>(&line).ok();
                prop_assert_eq!(Some(fast), slow);
            }
        }
    }

    #[test]
    fn odd_spellings_go_through_serde() {
        for line in [
            &br#"{"ev":"chunk","t":01,"s":0,"fd":"out","off":0,"len":4}"#[..],
            br#"{"ev":"chunk","t":18446744073709551616,"s":0,"fd":"out","off":0,"len":4}"#,
            br#"{"ev":"chunk", "t":1,"s":0,"fd":"out","off":0,"len":4}"#,
            br#"{"ev":"chunk","t":1,"s":0,"fd":"out","off":0,"len":4} "#,
            br#"{"ev":"chunk","t":1,"s":0,"fd":"in","off":0,"len":4}"#,
        ] {
            assert_eq!(
                parse_chunk_line(line),
                None,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        let spaced = br#"{"ev":"chunk", "t":1,"s":0,"fd":"err","off":2,"len":4}"#;
        let events = read_journal_from(&spaced[..], "j").expect("serde reads it");
        assert_eq!(
            events,
            vec![JournalEvent::Chunk {
                t: 1,
                s: 0,
                fd: Fd::Err,
                off: 2,
                len: 4
            }]
        );
    }
}
