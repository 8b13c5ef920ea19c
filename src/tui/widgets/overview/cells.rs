//! What one cell of the overview shows: a stream's status as a glyph in the theme's colour, and
//! its size. The statuses are cached per stream and re-read only while a stream can still
//! change, so a frame over 7,000 streams reads a few locks, not 7,000, once most have ended.
use crate::snapshot::StreamStatus;
use crate::snapshot::manifest::StreamResult;
use crate::tui::theme::Theme;
use ratatui::style::Style;

/// The statuses a cell distinguishes (the list, plus cancelled/interrupted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CellStatus {
    #[default]
    Queued,
    Running,
    Ok,
    NonZero,
    Failed,
    TimedOut,
    NotAvailable,
    Skipped,
    Cancelled,
}

impl CellStatus {
    /// From a stream's status and, once it ended, its result (exit code).
    pub fn from_status(status: StreamStatus, result: Option<&StreamResult>) -> CellStatus {
        match status {
            StreamStatus::Queued => CellStatus::Queued,
            StreamStatus::Running => CellStatus::Running,
            StreamStatus::Exited => match result.and_then(|r| r.exit_code) {
                Some(0) => CellStatus::Ok,
                Some(_) => CellStatus::NonZero,
                // Ended by a signal: not a clean exit.
                None if result.and_then(|r| r.signal).is_some() => CellStatus::NonZero,
                None => CellStatus::Ok,
            },
            StreamStatus::NotAvailable => CellStatus::NotAvailable,
            StreamStatus::Skipped => CellStatus::Skipped,
            StreamStatus::Failed => CellStatus::Failed,
            StreamStatus::TimedOut => CellStatus::TimedOut,
            StreamStatus::Cancelled | StreamStatus::Interrupted => CellStatus::Cancelled,
        }
    }

    /// Glyph drawn in the cell (one column wide).
    pub fn glyph(self) -> &'static str {
        match self {
            CellStatus::Queued => "◌",
            CellStatus::Running => "●",
            CellStatus::Ok => "✓",
            CellStatus::NonZero => "✗",
            CellStatus::Failed => "✖",
            CellStatus::TimedOut => "◷",
            CellStatus::NotAvailable => "∅",
            CellStatus::Skipped => "⊘",
            CellStatus::Cancelled => "⊗",
        }
    }

    /// Words for the legend and the cursor line.
    pub fn label(self) -> &'static str {
        match self {
            CellStatus::Queued => "queued",
            CellStatus::Running => "running",
            CellStatus::Ok => "ok",
            CellStatus::NonZero => "non-zero exit",
            CellStatus::Failed => "failed",
            CellStatus::TimedOut => "timed out",
            CellStatus::NotAvailable => "not available",
            CellStatus::Skipped => "skipped",
            CellStatus::Cancelled => "cancelled",
        }
    }

    pub fn style(self, theme: &Theme) -> Style {
        match self {
            CellStatus::Queued => theme.queued,
            CellStatus::Running => theme.running,
            CellStatus::Ok => theme.ok,
            CellStatus::NonZero => theme.warn,
            CellStatus::Failed | CellStatus::TimedOut => theme.error,
            CellStatus::NotAvailable | CellStatus::Skipped => theme.muted,
            CellStatus::Cancelled => theme.warn,
        }
    }

    /// Failed, timed out or a non-zero exit: what the "problems only" filter keeps.
    pub fn problem(self) -> bool {
        matches!(
            self,
            CellStatus::Failed | CellStatus::TimedOut | CellStatus::NonZero
        )
    }

    /// Will not change any more (the cache stops re-reading it).
    pub fn is_final(self) -> bool {
        !matches!(self, CellStatus::Queued | CellStatus::Running)
    }

    pub const ALL: [CellStatus; 9] = [
        CellStatus::Queued,
        CellStatus::Running,
        CellStatus::Ok,
        CellStatus::NonZero,
        CellStatus::Failed,
        CellStatus::TimedOut,
        CellStatus::NotAvailable,
        CellStatus::Skipped,
        CellStatus::Cancelled,
    ];
}

/// A stream as its cell shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CellState {
    pub status: CellStatus,
    pub bytes: u64,
}

/// Per-stream cell states plus the list of streams that can still change. [`StatusCache::refresh`]
/// re-reads only those; counts per status are kept up to date for the summary bar.
#[derive(Debug, Clone, Default)]
pub struct StatusCache {
    cells: Vec<CellState>,
    /// Streams whose cell is not final yet (re-read on every refresh).
    pending: Vec<u32>,
    counts: [usize; CellStatus::ALL.len()],
}

impl StatusCache {
    pub fn new(streams: usize) -> StatusCache {
        StatusCache {
            cells: vec![CellState::default(); streams],
            pending: (0..streams as u32).collect(),
            counts: {
                let mut c = [0; CellStatus::ALL.len()];
                c[CellStatus::Queued as usize] = streams;
                c
            },
        }
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    pub fn get(&self, stream: usize) -> CellState {
        self.cells.get(stream).copied().unwrap_or_default()
    }

    /// Streams of each status.
    pub fn count(&self, status: CellStatus) -> usize {
        self.counts[status as usize]
    }

    fn set(&mut self, stream: usize, state: CellState) -> bool {
        let Some(cell) = self.cells.get_mut(stream) else {
            return false;
        };
        if *cell == state {
            return false;
        }
        self.counts[cell.status as usize] -= 1;
        self.counts[state.status as usize] += 1;
        *cell = state;
        true
    }

    /// Re-reads every stream that can still change; true when a cell changed. No allocation.
    pub fn refresh(&mut self, read: &mut dyn FnMut(usize) -> CellState) -> bool {
        let mut changed = false;
        let mut i = 0;
        while i < self.pending.len() {
            let stream = self.pending[i] as usize;
            let state = read(stream);
            changed |= self.set(stream, state);
            if state.status.is_final() {
                self.pending.swap_remove(i);
            } else {
                i += 1;
            }
        }
        changed
    }

    /// Makes `stream` re-read (a re-run restarts it).
    pub fn invalidate(&mut self, stream: usize) {
        if stream < self.cells.len() && !self.pending.contains(&(stream as u32)) {
            self.pending.push(stream as u32);
        }
    }

    /// Makes every stream re-read (replay seeked back).
    pub fn invalidate_all(&mut self) {
        self.pending.clear();
        self.pending.extend(0..self.cells.len() as u32);
    }
}

/// A size in at most 5 columns (`0B`, `842B`, `1.2K`, `36K`, `4.0M`), written into a stack
/// buffer: the cells of a frame allocate nothing.
#[derive(Debug, Clone, Copy)]
pub struct CompactSize {
    buf: [u8; 8],
    len: usize,
}

impl CompactSize {
    pub fn new(bytes: u64) -> CompactSize {
        use std::fmt::Write;
        let mut out = CompactSize {
            buf: [0; 8],
            len: 0,
        };
        let units = ["K", "M", "G", "T", "P", "E"];
        if bytes < 1000 {
            let _ = write!(out, "{bytes}B");
            return out;
        }
        let mut value = bytes as f64 / 1024.0;
        let mut unit = 0;
        while value >= 999.5 && unit + 1 < units.len() {
            value /= 1024.0;
            unit += 1;
        }
        if value < 9.95 {
            let _ = write!(out, "{value:.1}{}", units[unit]);
        } else {
            let _ = write!(out, "{:.0}{}", value, units[unit]);
        }
        out
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for CompactSize {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_sizes_fit_five_columns() {
        for (bytes, text) in [
            (0, "0B"),
            (842, "842B"),
            (999, "999B"),
            (1000, "1.0K"),
            (1234, "1.2K"),
            (36 * 1024, "36K"),
            (1023 * 1024, "1.0M"),
            (4 << 20, "4.0M"),
            (u64::MAX, "16E"),
        ] {
            assert_eq!(CompactSize::new(bytes).as_str(), text, "{bytes}");
        }
        for bytes in (0..64).map(|s| 1u64 << s).chain([999_999, 10_239, 10_240]) {
            assert!(CompactSize::new(bytes).as_str().len() <= 5, "{bytes}");
        }
    }

    #[test]
    fn cache_rereads_only_what_can_change_and_counts() {
        let mut cache = StatusCache::new(3);
        let mut reads = 0;
        let mut states = [CellStatus::Ok, CellStatus::Running, CellStatus::Failed];
        let read = |s: usize, states: &[CellStatus; 3], reads: &mut usize| {
            *reads += 1;
            CellState {
                status: states[s],
                bytes: s as u64,
            }
        };
        assert!(cache.refresh(&mut |s| read(s, &states, &mut reads)));
        assert_eq!(reads, 3);
        assert_eq!(cache.count(CellStatus::Queued), 0);
        assert_eq!(cache.count(CellStatus::Failed), 1);
        reads = 0;
        states[1] = CellStatus::NonZero;
        assert!(cache.refresh(&mut |s| read(s, &states, &mut reads)));
        assert_eq!(reads, 1, "only the running stream is read again");
        assert_eq!(cache.count(CellStatus::NonZero), 1);
        reads = 0;
        assert!(!cache.refresh(&mut |s| read(s, &states, &mut reads)));
        assert_eq!(reads, 0, "everything is final");
        cache.invalidate(2);
        states[2] = CellStatus::Running;
        assert!(cache.refresh(&mut |s| read(s, &states, &mut reads)));
        assert_eq!(cache.get(2).status, CellStatus::Running);
    }
}
