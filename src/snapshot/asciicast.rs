//! One asciinema v2 cast per stream, built from the journal's timestamped chunk index, so a
//! capture can be replayed with its original timing in any asciinema player.
//!
//! Format: a JSON header line, then one `[seconds, "o", "text"]` line per chunk. Output is what
//! the target wrote (already redacted on disk); stdout and stderr both become `o` events, as on a
//! terminal. Bare `\n` becomes `\r\n` (a pty would have done that), and a UTF-8 character split
//! across two chunks is kept whole.
use super::JOURNAL_FILE;
use super::Snapshot;
use super::confined::{entry_label, open_stream_file, read_range};
use super::journal::{Fd, JournalEvent, read_journal};
use serde_json::json;
use std::{
    collections::BTreeMap,
    fs::File,
    io::{self, BufWriter, Write},
    path::{Path, PathBuf},
};

/// Terminal size written in the header; players scale or scroll as needed.
const WIDTH: u32 = 160;
const HEIGHT: u32 = 48;

/// Writes `out_dir/STREAM-ID.cast` for every stream that started; returns the files written.
/// Blocking: run it off the async runtime.
pub fn write_casts(snapshot: &Snapshot, out_dir: &Path) -> io::Result<Vec<PathBuf>> {
    super::private::create_private_dir_all(out_dir)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", out_dir.display())))?;
    let journal_path = snapshot.dir.join(JOURNAL_FILE);
    let events = read_journal(&journal_path)?;
    let mut starts: BTreeMap<usize, u64> = BTreeMap::new();
    let mut chunks: BTreeMap<usize, Vec<(u64, Fd, u64, u64)>> = BTreeMap::new();
    for event in events {
        match event {
            JournalEvent::Start { t, s } => {
                starts.entry(s).or_insert(t);
            }
            JournalEvent::Chunk { t, s, fd, off, len } => {
                chunks.entry(s).or_default().push((t, fd, off, len))
            }
            _ => {}
        }
    }
    let capture_start = humantime::parse_rfc3339(&snapshot.manifest.started_at)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let mut written = Vec::new();
    for (index, start) in starts {
        let Some(stream) = snapshot.manifest.streams.get(index) else {
            continue;
        };
        let path = out_dir.join(format!("{}.cast", stream.spec.id));
        let title = format!(
            "{} {}/{} ({})",
            stream.target_name, stream.spec.preset, stream.spec.step, snapshot.manifest.id
        );
        let header = json!({
            "version": 2,
            "width": WIDTH,
            "height": HEIGHT,
            "timestamp": capture_start + start / 1_000_000,
            "title": title,
            "env": {"TERM": "xterm-256color", "SHELL": "/bin/sh"},
        });
        let file = super::private::create_private_file(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let mut out = BufWriter::new(file);
        writeln!(out, "{header}")?;
        let mut sources = [
            (
                Fd::Out,
                open_optional(
                    &snapshot.dir,
                    &stream.result.stdout.path,
                    &entry_label(index, &stream.spec.id, "stdout"),
                )?,
                Vec::new(),
            ),
            (
                Fd::Err,
                open_optional(
                    &snapshot.dir,
                    &stream.result.stderr.path,
                    &entry_label(index, &stream.spec.id, "stderr"),
                )?,
                Vec::new(),
            ),
        ];
        let mut previous_cr = [false, false];
        for (t, fd, off, len) in chunks.remove(&index).unwrap_or_default() {
            let slot = if fd == Fd::Out { 0 } else { 1 };
            let (_, file, carry) = &mut sources[slot];
            let Some(file) = file.as_mut() else { continue };
            let mut bytes = std::mem::take(carry);
            // The length comes from the journal: read what the file holds, never more.
            bytes.extend_from_slice(&read_range(file, off, len)?);
            let complete = utf8_complete_prefix(&bytes);
            *carry = bytes.split_off(complete);
            if bytes.is_empty() {
                continue;
            }
            let text = to_terminal_text(&bytes, &mut previous_cr[slot]);
            let seconds = t.saturating_sub(start) as f64 / 1_000_000.0;
            writeln!(out, "{}", json!([seconds, "o", text]))?;
        }
        for (_, _, carry) in &sources {
            if !carry.is_empty() {
                let mut cr = false;
                let end = stream
                    .result
                    .duration_ms
                    .map_or(0.0, |ms| ms as f64 / 1000.0);
                writeln!(
                    out,
                    "{}",
                    json!([end, "o", to_terminal_text(carry, &mut cr)])
                )?;
            }
        }
        out.flush()?;
        written.push(path);
    }
    Ok(written)
}

/// Opens a stream file confined to the snapshot folder; a missing one is `None`.
fn open_optional(dir: &Path, rel: &str, entry: &str) -> io::Result<Option<File>> {
    match open_stream_file(dir, rel, entry) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.is_missing() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Length of `bytes` without a trailing, incomplete UTF-8 sequence (at most 3 bytes held back).
fn utf8_complete_prefix(bytes: &[u8]) -> usize {
    match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        // Invalid (not merely cut) bytes stay: they decode lossily.
        Err(_) => {
            let tail = bytes.len().saturating_sub(3);
            (tail..bytes.len())
                .find(|&i| {
                    std::str::from_utf8(&bytes[i..])
                        .is_err_and(|e| e.error_len().is_none() && e.valid_up_to() == 0)
                })
                .unwrap_or(bytes.len())
        }
    }
}

/// Decodes lossily and turns bare `\n` into `\r\n`; `previous_cr` carries a `\r` across chunks.
fn to_terminal_text(bytes: &[u8], previous_cr: &mut bool) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    for c in text.chars() {
        if c == '\n' && !*previous_cr {
            out.push('\r');
        }
        *previous_cr = c == '\r';
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_split_characters_whole_and_adds_carriage_returns() {
        let euro = "€".as_bytes();
        let first = [b"a\n".as_slice(), &euro[..1]].concat();
        assert_eq!(utf8_complete_prefix(&first), 2);
        assert_eq!(utf8_complete_prefix(b"ok\xff"), 3);
        let mut cr = false;
        assert_eq!(to_terminal_text(b"x\ny\r\nz\r", &mut cr), "x\r\ny\r\nz\r");
        assert_eq!(to_terminal_text(b"\n", &mut cr), "\n");
    }
}
