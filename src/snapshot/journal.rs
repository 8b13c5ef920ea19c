//! `journal.jsonl`: one JSON object per line, appended as things happen. Chunks are indexed
//! (stream, fd, offset, length, time) rather than copied, so replay can reproduce the original
//! timing while the bytes live once, in the stream files.
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
#[derive(Debug)]
pub struct JournalWriter {
    file: Mutex<File>,
    epoch: Instant,
}

impl JournalWriter {
    pub fn create(path: &Path) -> io::Result<JournalWriter> {
        let file = super::private::create_new_private_file(path)?;
        Ok(JournalWriter {
            file: Mutex::new(file),
            epoch: Instant::now(),
        })
    }

    /// Microseconds since the journal was created.
    pub fn now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// A line that did not fit (full disk) is cut off again, so the next line starts clean.
    pub fn append(&self, event: &JournalEvent) -> io::Result<()> {
        let mut line = serde_json::to_vec(event).map_err(io::Error::other)?;
        line.push(b'\n');
        let mut file = self
            .file
            .lock()
            .map_err(|_| io::Error::other("journal lock poisoned"))?;
        let before = file.metadata().map(|m| m.len());
        let written = file.write_all(&line);
        if written.is_err()
            && let Ok(len) = before
        {
            let _ = file.set_len(len);
        }
        written
    }
}

/// Longest journal line read; the longest real one is an `end` event, a few KiB.
pub const MAX_LINE: usize = 4 << 20;

/// Reads every complete line; a torn line (crash or full disk mid-write) is skipped, not an
/// error. Nothing read is trusted: a line longer than [`MAX_LINE`] and a chunk whose end does
/// not fit in 64 bits are refused with the line number, before anything is allocated for them.
pub fn read_journal(path: &Path) -> io::Result<Vec<JournalEvent>> {
    // Confined like every file a snapshot names: a link or FIFO in its place is refused.
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = super::confined::open_stream_file(dir, &name, &name)
        .map_err(io::Error::from)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    read_journal_from(BufReader::new(file), &path.display().to_string())
}

/// [`read_journal`] over any reader; `name` is used in error messages.
pub fn read_journal_from(mut reader: impl BufRead, name: &str) -> io::Result<Vec<JournalEvent>> {
    let invalid = |number: usize, message: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{name}:{number}: {message}"),
        )
    };
    let mut events = Vec::new();
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
        match serde_json::from_slice::<JournalEvent>(&line) {
            Ok(JournalEvent::Chunk { off, len, .. }) if off.checked_add(len).is_none() => {
                return Err(invalid(
                    number,
                    format!(
                        "chunk at offset {off} with length {len} ends past 2^64; the journal is damaged"
                    ),
                ));
            }
            Ok(event) => events.push(event),
            Err(e) if e.is_eof() => continue,
            Err(e) => return Err(invalid(number, e.to_string())),
        }
    }
    Ok(events)
}
