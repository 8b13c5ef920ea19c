//! What a UI can follow while a capture runs: per stream a bounded ring of recent lines and the
//! current status. Memory is capped whatever the output size (the full output is on disk).
use crate::snapshot::journal::Fd;
use crate::snapshot::manifest::{StreamResult, StreamStatus};
use std::{
    collections::VecDeque,
    sync::{Mutex, MutexGuard},
    time::Instant,
};
use tokio::sync::Notify;

/// One line of output as written to disk (redacted); not yet sanitised for a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveLine {
    pub fd: Fd,
    pub bytes: Vec<u8>,
}

/// Recent lines of one stream, bounded in lines and bytes; counts what it had to drop.
#[derive(Debug)]
pub struct OutputRing {
    pub lines: VecDeque<LiveLine>,
    partial: [Vec<u8>; 2],
    bytes: usize,
    max_lines: usize,
    max_bytes: usize,
    /// Lines dropped from the front to stay within bounds.
    pub dropped_lines: u64,
    /// Every byte this stream has written, stdout and stderr.
    pub total_bytes: u64,
}

/// The longest single line kept in memory; longer lines are cut (the file has them whole).
const MAX_LINE_BYTES: usize = 16 << 10;

impl OutputRing {
    pub fn new(max_lines: usize, max_bytes: usize) -> OutputRing {
        OutputRing {
            lines: VecDeque::new(),
            partial: [Vec::new(), Vec::new()],
            bytes: 0,
            max_lines: max_lines.max(1),
            max_bytes: max_bytes.max(1),
            dropped_lines: 0,
            total_bytes: 0,
        }
    }

    pub fn push(&mut self, fd: Fd, data: &[u8]) {
        self.total_bytes += data.len() as u64;
        let slot = fd as usize;
        let mut rest = data;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            let partial = &mut self.partial[slot];
            let room = MAX_LINE_BYTES.saturating_sub(partial.len());
            partial.extend_from_slice(&rest[..newline.min(room)]);
            let line = std::mem::take(partial);
            self.push_line(LiveLine { fd, bytes: line });
            rest = &rest[newline + 1..];
        }
        let partial = &mut self.partial[slot];
        let room = MAX_LINE_BYTES.saturating_sub(partial.len());
        partial.extend_from_slice(&rest[..rest.len().min(room)]);
    }

    /// The unfinished last line of each output, for display.
    pub fn partial(&self, fd: Fd) -> &[u8] {
        &self.partial[fd as usize]
    }

    fn push_line(&mut self, line: LiveLine) {
        self.bytes += line.bytes.len();
        self.lines.push_back(line);
        while self.lines.len() > self.max_lines || self.bytes > self.max_bytes {
            let Some(old) = self.lines.pop_front() else {
                break;
            };
            self.bytes -= old.bytes.len();
            self.dropped_lines += 1;
        }
    }
}

/// Live state of one stream.
#[derive(Debug)]
pub struct StreamLive {
    ring: Mutex<OutputRing>,
    status: Mutex<(StreamStatus, Option<Instant>, Option<StreamResult>)>,
}

impl StreamLive {
    pub fn ring(&self) -> MutexGuard<'_, OutputRing> {
        self.ring
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Status, when it started running, and the final result once ended.
    pub fn status(&self) -> (StreamStatus, Option<Instant>, Option<StreamResult>) {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn set_status(&self, status: StreamStatus, result: Option<StreamResult>) {
        let mut guard = self.status.lock().unwrap_or_else(|p| p.into_inner());
        let started = if status == StreamStatus::Running {
            Some(Instant::now())
        } else {
            guard.1
        };
        *guard = (status, started, result);
    }
}

/// Live state of every stream of a capture, plus a `Notify` poked on any change so a UI can
/// redraw only when something happened.
#[derive(Debug)]
pub struct LiveView {
    pub streams: Vec<StreamLive>,
    pub changed: Notify,
}

impl LiveView {
    pub fn new(stream_count: usize, max_lines: usize, max_bytes: usize) -> LiveView {
        LiveView {
            streams: (0..stream_count)
                .map(|_| StreamLive {
                    ring: Mutex::new(OutputRing::new(max_lines, max_bytes)),
                    status: Mutex::new((StreamStatus::Queued, None, None)),
                })
                .collect(),
            changed: Notify::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_stays_bounded_and_counts_drops() {
        let mut ring = OutputRing::new(3, 1 << 20);
        ring.push(Fd::Out, b"a\nb\nc\nd\npart");
        assert_eq!(ring.lines.len(), 3);
        assert_eq!(ring.dropped_lines, 1);
        assert_eq!(ring.lines[0].bytes, b"b");
        assert_eq!(ring.partial(Fd::Out), b"part");
        ring.push(Fd::Out, b"ial\n");
        assert_eq!(
            ring.lines.back().map(|l| l.bytes.as_slice()),
            Some(&b"partial"[..])
        );
        let mut by_bytes = OutputRing::new(1000, 10);
        by_bytes.push(Fd::Err, &vec![b'x'; 100_000]);
        by_bytes.push(Fd::Err, b"\n");
        by_bytes.push(Fd::Err, b"0123\n4567\n");
        assert!(by_bytes.lines.iter().map(|l| l.bytes.len()).sum::<usize>() <= 10);
    }
}
