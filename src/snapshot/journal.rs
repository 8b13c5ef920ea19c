//! `journal.jsonl`: one JSON object per line, appended as things happen. Chunks are indexed
//! (stream, fd, offset, length, time) rather than copied, so replay can reproduce the original
//! timing while the bytes live once, in the stream files.
use super::manifest::StreamResult;
use serde::{Deserialize, Serialize};
use std::{
    fs::File,
    io::{self, BufRead, BufReader, Write},
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
        let file = File::options().create_new(true).append(true).open(path)?;
        Ok(JournalWriter {
            file: Mutex::new(file),
            epoch: Instant::now(),
        })
    }

    /// Microseconds since the journal was created.
    pub fn now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    pub fn append(&self, event: &JournalEvent) -> io::Result<()> {
        let mut line = serde_json::to_vec(event).map_err(io::Error::other)?;
        line.push(b'\n');
        let mut file = self
            .file
            .lock()
            .map_err(|_| io::Error::other("journal lock poisoned"))?;
        file.write_all(&line)
    }
}

/// Reads every complete line; a torn last line (crash mid-write) is skipped, not an error.
pub fn read_journal(path: &Path) -> io::Result<Vec<JournalEvent>> {
    let reader = BufReader::new(File::open(path)?);
    let mut events = Vec::new();
    for (number, line) in reader.split(b'\n').enumerate() {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<JournalEvent>(&line) {
            Ok(event) => events.push(event),
            Err(e) if e.is_eof() => break,
            Err(e) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}:{}: {e}", path.display(), number + 1),
                ));
            }
        }
    }
    Ok(events)
}
