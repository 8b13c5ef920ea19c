//! What a UI can follow while a capture runs: per stream a bounded ring of recent lines and the
//! current status. Memory is capped whatever the output size and the number of streams: the
//! rings of a view share one budget (the full output is on disk).
use crate::snapshot::journal::Fd;
use crate::snapshot::manifest::{StreamResult, StreamStatus};
use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};
use tokio::sync::Notify;

/// One line of output as written to disk (redacted); not yet sanitised for a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveLine {
    pub fd: Fd,
    pub bytes: Vec<u8>,
}

/// Recent lines of one stream, bounded in lines and bytes, and (in a [`LiveView`]) by its part of
/// the view's shared [`MemoryBudget`]; counts what it had to drop.
#[derive(Debug)]
pub struct OutputRing {
    pub lines: VecDeque<LiveLine>,
    partial: [Vec<u8>; 2],
    /// Bytes of the complete lines (what `max_bytes` bounds).
    bytes: usize,
    /// Heap the complete lines take: their buffers plus an allocator header each.
    line_heap: usize,
    max_lines: usize,
    max_bytes: usize,
    /// The longest line kept; longer lines are cut (the file has them whole).
    line_cap: usize,
    /// Lines dropped from the front to stay within bounds.
    pub dropped_lines: u64,
    /// Every byte this stream has written, stdout and stderr.
    pub total_bytes: u64,
    /// The shared budget and this ring's place in it; the heap last reported there.
    account: Option<(Arc<MemoryBudget>, usize)>,
    charged: usize,
}

/// The longest single line kept in memory; longer lines are cut (the file has them whole).
const MAX_LINE_BYTES: usize = 16 << 10;
/// The shortest line cap a tight budget may impose.
const MIN_LINE_BYTES: usize = 1 << 10;
/// What a heap allocation costs beyond its bytes (glibc's chunk header, rounded up).
const ALLOC_OVERHEAD: usize = 16;

impl OutputRing {
    /// A ring of its own, bounded by `max_lines` and `max_bytes` only (replay keeps one per
    /// stream it shows).
    pub fn new(max_lines: usize, max_bytes: usize) -> OutputRing {
        OutputRing {
            lines: VecDeque::new(),
            partial: [Vec::new(), Vec::new()],
            bytes: 0,
            line_heap: 0,
            max_lines: max_lines.max(1),
            max_bytes: max_bytes.max(1),
            line_cap: MAX_LINE_BYTES,
            dropped_lines: 0,
            total_bytes: 0,
            account: None,
            charged: 0,
        }
    }

    /// A ring whose heap counts against `budget` as stream `index` (see [`MemoryBudget`]).
    pub fn in_budget(
        max_lines: usize,
        max_bytes: usize,
        budget: &Arc<MemoryBudget>,
        index: usize,
    ) -> OutputRing {
        let mut ring = OutputRing::new(max_lines, max_bytes);
        ring.line_cap = budget.line_cap;
        ring.account = (index < budget.sizes.len()).then(|| (Arc::clone(budget), index));
        ring
    }

    pub fn push(&mut self, fd: Fd, data: &[u8]) {
        self.total_bytes += data.len() as u64;
        let slot = fd as usize;
        let cap = self.line_cap;
        let mut rest = self.skip_doomed_lines(fd, data);
        while let Some(newline) = memchr::memchr(b'\n', rest) {
            let partial = &mut self.partial[slot];
            let room = cap.saturating_sub(partial.len());
            partial.extend_from_slice(&rest[..newline.min(room)]);
            let line = std::mem::take(partial);
            self.push_line(LiveLine { fd, bytes: line });
            rest = &rest[newline + 1..];
        }
        let partial = &mut self.partial[slot];
        let room = cap.saturating_sub(partial.len());
        partial.extend_from_slice(&rest[..rest.len().min(room)]);
        self.report();
    }

    /// A chunk with more complete lines than the ring holds: all but its last `max_lines` lines
    /// would be pushed and dropped again. Counts them as dropped without allocating them (a
    /// 1 MiB chunk of log text is ~10,000 lines) and returns the rest of the chunk; the ring
    /// ends exactly as if each had been pushed.
    fn skip_doomed_lines<'a>(&mut self, fd: Fd, data: &'a [u8]) -> &'a [u8] {
        // Past the newline that ends the last doomed line: the (max_lines + 1)-th from the end.
        let Some(start) = memchr::memrchr_iter(b'\n', data)
            .nth(self.max_lines)
            .map(|newline| newline + 1)
        else {
            return data;
        };
        let skipped = memchr::memchr_iter(b'\n', &data[..start]).count() as u64;
        self.dropped_lines += skipped;
        // The first doomed line began with the unfinished one: it goes with it.
        drop(std::mem::take(&mut self.partial[fd as usize]));
        &data[start..]
    }

    /// The unfinished last line of each output, for display.
    pub fn partial(&self, fd: Fd) -> &[u8] {
        &self.partial[fd as usize]
    }

    /// The heap this ring holds: line buffers, the queue of lines, unfinished lines.
    pub fn heap_bytes(&self) -> usize {
        let partial: usize = self
            .partial
            .iter()
            .filter(|p| p.capacity() > 0)
            .map(|p| p.capacity() + ALLOC_OVERHEAD)
            .sum();
        self.line_heap + self.lines.capacity() * std::mem::size_of::<LiveLine>() + partial
    }

    fn push_line(&mut self, line: LiveLine) {
        self.bytes += line.bytes.len();
        self.line_heap += line_heap(&line);
        self.lines.push_back(line);
        while self.lines.len() > self.max_lines || self.bytes > self.max_bytes {
            if !self.drop_oldest() {
                break;
            }
        }
    }

    fn drop_oldest(&mut self) -> bool {
        let Some(old) = self.lines.pop_front() else {
            return false;
        };
        self.bytes -= old.bytes.len();
        self.line_heap -= line_heap(&old);
        self.dropped_lines += 1;
        true
    }

    /// Drops the oldest lines until the ring's heap is at most `level` bytes (or it has no
    /// complete lines left); returns the bytes freed.
    pub fn shrink_to(&mut self, level: usize) -> usize {
        let before = self.heap_bytes();
        // Counted as if the queue were compact: it is made so below.
        let compact = |r: &OutputRing| {
            r.heap_bytes() - (r.lines.capacity() - r.lines.len()) * std::mem::size_of::<LiveLine>()
        };
        let mut dropped = false;
        while compact(self) > level && self.drop_oldest() {
            dropped = true;
        }
        if dropped {
            self.lines.shrink_to_fit();
        }
        self.report();
        before.saturating_sub(self.heap_bytes())
    }

    /// Tells the shared budget what this ring holds now.
    fn report(&mut self) {
        let Some((budget, index)) = &self.account else {
            return;
        };
        let heap = self.heap_bytes();
        if heap != self.charged {
            budget.sizes[*index].store(heap, Ordering::Relaxed);
            if heap > self.charged {
                budget
                    .used
                    .fetch_add(heap - self.charged, Ordering::Relaxed);
            } else {
                budget
                    .used
                    .fetch_sub(self.charged - heap, Ordering::Relaxed);
            }
            self.charged = heap;
        }
    }

    /// True if this ring counts against a budget that is exceeded.
    fn over_budget(&self) -> bool {
        self.account
            .as_ref()
            .is_some_and(|(budget, _)| budget.over())
    }
}

impl Drop for OutputRing {
    fn drop(&mut self) {
        if let Some((budget, index)) = &self.account {
            budget.sizes[*index].store(0, Ordering::Relaxed);
            budget.used.fetch_sub(self.charged, Ordering::Relaxed);
        }
    }
}

fn line_heap(line: &LiveLine) -> usize {
    match line.bytes.capacity() {
        0 => 0,
        cap => cap + ALLOC_OVERHEAD,
    }
}

/// One memory budget shared by every ring of a live view: 7,000 streams at a few MiB of
/// scrollback each would not fit, and most streams print little. A ring may grow while the
/// view is within budget; when a push takes the view over it, the largest rings are cut back to
/// a common level (water-filling) until the view uses at most 7/8 of the budget, so big outputs
/// keep the most and small ones are left alone. Everything stays on disk anyway.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    used: AtomicUsize,
    /// Heap of each ring, by stream.
    sizes: Box<[AtomicUsize]>,
    /// The longest line a ring keeps: an eighth of an even share, within 1–16 KiB, so
    /// unfinished lines (two per ring, which cannot be dropped) never eat the budget.
    line_cap: usize,
    /// One trim at a time.
    trimming: Mutex<()>,
}

/// The live views' memory budget when none is configured.
pub const DEFAULT_LIVE_MEMORY: usize = 256 << 20;

impl MemoryBudget {
    /// A budget of `limit` bytes for `streams` rings.
    pub fn new(limit: usize, streams: usize) -> Arc<MemoryBudget> {
        let share = limit / streams.max(1);
        Arc::new(MemoryBudget {
            limit: limit.max(1),
            used: AtomicUsize::new(0),
            sizes: (0..streams).map(|_| AtomicUsize::new(0)).collect(),
            line_cap: (share / 8).clamp(MIN_LINE_BYTES, MAX_LINE_BYTES),
            trimming: Mutex::new(()),
        })
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Heap held by all rings now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn over(&self) -> bool {
        self.used() > self.limit
    }

    /// The level to cut rings down to so that the view falls to 7/8 of the budget: the largest
    /// `level` with `sum(max(0, size - level)) >= used - 7/8 limit`. `None` when within budget.
    fn level(&self) -> Option<usize> {
        let used = self.used();
        if used <= self.limit {
            return None;
        }
        let need = used - (self.limit - self.limit / 8);
        let mut sizes: Vec<usize> = self
            .sizes
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .filter(|&s| s > 0)
            .collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        let mut above = 0usize;
        for (k, &size) in sizes.iter().enumerate() {
            // Cutting the k largest to `size` frees `above - k * size`.
            if above.saturating_sub(k * size) >= need {
                return Some((above - need) / k);
            }
            above += size;
        }
        Some(above.saturating_sub(need) / sizes.len().max(1))
    }

    /// Cuts rings (each locked on its own, never two at once) until the view is within budget.
    fn trim(&self, streams: &[StreamLive]) {
        let _one = self.trimming.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(level) = self.level() {
            let mut freed = 0;
            for (index, stream) in streams.iter().enumerate() {
                if self.sizes.get(index).map(|s| s.load(Ordering::Relaxed)) > Some(level) {
                    freed += stream.ring().shrink_to(level);
                }
            }
            if freed == 0 {
                // Only unfinished lines are left: nothing more can go.
                break;
            }
        }
    }
}

/// Cuts rings that a caller owns outright (replay's) down to `budget`, as a live view does.
pub fn trim_owned(rings: &mut [OutputRing], budget: &MemoryBudget) {
    while let Some(level) = budget.level() {
        let freed: usize = rings.iter_mut().map(|r| r.shrink_to(level)).sum();
        if freed == 0 {
            break;
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
/// redraw only when something happened. All rings share one [`MemoryBudget`].
#[derive(Debug)]
pub struct LiveView {
    pub streams: Vec<StreamLive>,
    pub changed: Notify,
    budget: Arc<MemoryBudget>,
}

impl LiveView {
    /// Rings of at most `max_lines` and `max_bytes` each, within [`DEFAULT_LIVE_MEMORY`] together.
    pub fn new(stream_count: usize, max_lines: usize, max_bytes: usize) -> LiveView {
        LiveView::with_budget(stream_count, max_lines, max_bytes, None)
    }

    /// Rings of at most `max_lines` and `max_bytes` each, within `budget` bytes together
    /// (`None`: [`DEFAULT_LIVE_MEMORY`]; casefile.toml's `live_memory`).
    pub fn with_budget(
        stream_count: usize,
        max_lines: usize,
        max_bytes: usize,
        budget: Option<u64>,
    ) -> LiveView {
        let budget = budget.map_or(DEFAULT_LIVE_MEMORY, |b| {
            usize::try_from(b).unwrap_or(usize::MAX)
        });
        let budget = MemoryBudget::new(budget, stream_count);
        LiveView {
            streams: (0..stream_count)
                .map(|index| StreamLive {
                    ring: Mutex::new(OutputRing::in_budget(max_lines, max_bytes, &budget, index)),
                    status: Mutex::new((StreamStatus::Queued, None, None)),
                })
                .collect(),
            changed: Notify::new(),
            budget,
        }
    }

    /// Appends a chunk of stream `stream`'s output and keeps the view within its budget.
    pub fn push(&self, stream: usize, fd: Fd, data: &[u8]) {
        let Some(live) = self.streams.get(stream) else {
            return;
        };
        let over = {
            let mut ring = live.ring();
            ring.push(fd, data);
            ring.over_budget()
        };
        if over {
            self.budget.trim(&self.streams);
        }
    }

    /// The budget all rings share.
    pub fn budget(&self) -> &MemoryBudget {
        &self.budget
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

    /// A view's heap as its rings report it, and as counted ring by ring.
    fn heap(view: &LiveView) -> (usize, usize) {
        let counted = view.streams.iter().map(|s| s.ring().heap_bytes()).sum();
        (view.budget().used(), counted)
    }

    #[test]
    fn seven_thousand_streams_writing_at_once_stay_within_one_budget() {
        const STREAMS: usize = 7_000;
        const THREADS: usize = 8;
        const BUDGET: usize = 32 << 20;
        let view = LiveView::with_budget(STREAMS, 20_000, 4 << 20, Some(BUDGET as u64));
        let peak = AtomicUsize::new(0);
        let written = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let (view, peak, written) = (&view, &peak, &written);
                scope.spawn(move || {
                    for round in 0..24usize {
                        for stream in (t..STREAMS).step_by(THREADS) {
                            // A line of 0..2999 bytes and a short one per chunk: ~7,000 x 24
                            // x 1.5 KiB written, 7 times the budget.
                            let len = (stream * 31 + round * 977) % 3000;
                            let mut chunk = vec![b'a' + (round % 26) as u8; len];
                            chunk.push(b'\n');
                            chunk.extend_from_slice(format!("{stream}:{round}\n").as_bytes());
                            view.push(stream, Fd::Out, &chunk);
                            written.fetch_add(chunk.len(), Ordering::Relaxed);
                            peak.fetch_max(view.budget().used(), Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert!(
            written.into_inner() > 5 * BUDGET,
            "the test writes far more than the budget"
        );
        let (used, counted) = heap(&view);
        assert_eq!(used, counted, "what rings report is what they hold");
        assert!(used <= BUDGET, "{used} bytes held, budget {BUDGET}");
        // While threads push, each may be one chunk past the budget before it trims.
        let slack = THREADS * (2 * MAX_LINE_BYTES + 4096);
        assert!(peak.into_inner() <= BUDGET + slack);
        for (stream, live) in view.streams.iter().enumerate() {
            let ring = live.ring();
            let last = ring.lines.back().map(|l| l.bytes.clone());
            assert_eq!(
                last,
                Some(format!("{stream}:23").into_bytes()),
                "stream {stream} keeps its newest line"
            );
            assert!(
                ring.dropped_lines > 0,
                "stream {stream} had to give up old lines"
            );
        }
    }

    #[test]
    fn a_big_output_keeps_what_small_ones_leave_unused() {
        const BUDGET: usize = 1 << 20;
        let view = LiveView::with_budget(100, 1_000_000, 64 << 20, Some(BUDGET as u64));
        for stream in 1..100 {
            view.push(stream, Fd::Out, &b"0123456789abcdef\n".repeat(64));
        }
        for _ in 0..4096 {
            view.push(0, Fd::Out, &[b'x'; 1023]);
            view.push(0, Fd::Out, b"\n");
            let (used, _) = heap(&view);
            assert!(used <= BUDGET, "within budget after every push: {used}");
        }
        let big = view.streams[0].ring().heap_bytes();
        assert!(
            big > BUDGET / 2,
            "the big stream keeps most of the budget: {big}"
        );
        for stream in 1..100 {
            let ring = view.streams[stream].ring();
            assert_eq!(
                (ring.dropped_lines, ring.lines.len()),
                (0, 64),
                "small stream {stream} keeps every line"
            );
        }
    }

    #[test]
    fn dropped_rings_give_their_memory_back_and_long_lines_are_cut() {
        let budget = MemoryBudget::new(1 << 20, 1_000);
        assert_eq!(
            budget.line_cap, MIN_LINE_BYTES,
            "a tight share cuts long lines"
        );
        let mut ring = OutputRing::in_budget(100, 1 << 20, &budget, 7);
        ring.push(Fd::Err, &[b'y'; 100_000]);
        ring.push(Fd::Err, b"\n");
        assert_eq!(ring.lines[0].bytes.len(), MIN_LINE_BYTES);
        assert_eq!(ring.total_bytes, 100_001);
        assert_eq!(budget.used(), ring.heap_bytes());
        assert!(budget.used() > MIN_LINE_BYTES);
        drop(ring);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn rings_a_caller_owns_are_trimmed_to_the_budget_too() {
        let budget = MemoryBudget::new(256 << 10, 4);
        let mut rings: Vec<OutputRing> = (0..4)
            .map(|i| OutputRing::in_budget(1_000_000, 64 << 20, &budget, i))
            .collect();
        for (i, ring) in rings.iter_mut().enumerate() {
            for _ in 0..(i + 1) * 200 {
                ring.push(Fd::Out, &[b'z'; 511]);
                ring.push(Fd::Out, b"\n");
            }
        }
        assert!(budget.used() > budget.limit());
        trim_owned(&mut rings, &budget);
        let held: usize = rings.iter().map(OutputRing::heap_bytes).sum();
        assert_eq!(held, budget.used());
        assert!(held <= budget.limit() - budget.limit() / 8);
        assert!(rings[3].heap_bytes() >= rings[0].heap_bytes());
    }

    proptest::proptest! {
        /// Any mix of chunks, newlines and streams: after every push the view is within its
        /// budget, its accounting matches what the rings hold, and no line is lost uncounted.
        #[test]
        fn any_pushes_keep_the_budget_and_count_every_line(
            pushes in proptest::collection::vec(
                (0usize..40, proptest::bool::ANY, 0usize..6000, 0usize..4), 1..300)
        ) {
            const BUDGET: usize = 2 << 20;
            let view = LiveView::with_budget(40, 500, 256 << 10, Some(BUDGET as u64));
            let mut lines = [0u64; 40];
            for (stream, err, len, newlines) in pushes {
                let fd = if err { Fd::Err } else { Fd::Out };
                let mut chunk = vec![b'q'; len];
                for n in 0..newlines {
                    let at = (len * (n + 1)) / (newlines + 1);
                    chunk.insert(at, b'\n');
                }
                lines[stream] += newlines as u64;
                view.push(stream, fd, &chunk);
                let (used, counted) = heap(&view);
                proptest::prop_assert_eq!(used, counted);
                proptest::prop_assert!(used <= BUDGET, "{} > {}", used, BUDGET);
            }
            for (stream, live) in view.streams.iter().enumerate() {
                let ring = live.ring();
                proptest::prop_assert_eq!(ring.lines.len() as u64 + ring.dropped_lines, lines[stream]);
            }
        }

        /// A chunk with more lines than the ring keeps skips the doomed ones without pushing
        /// them: the ring ends exactly as if every line had been pushed one by one.
        #[test]
        fn skipping_doomed_lines_leaves_the_ring_as_pushing_each_would(
            chunks in proptest::collection::vec(
                (proptest::bool::ANY, proptest::collection::vec(
                    proptest::prop_oneof![3 => proptest::num::u8::ANY, 1 => proptest::strategy::Just(b'\n')],
                    0..400)),
                1..30),
            max_lines in 1usize..12,
            max_bytes in 1usize..300,
        ) {
            let mut whole = OutputRing::new(max_lines, max_bytes);
            let mut piecewise = OutputRing::new(max_lines, max_bytes);
            for (err, chunk) in &chunks {
                let fd = if *err { Fd::Err } else { Fd::Out };
                whole.push(fd, chunk);
                // At most one newline per push: never more lines than the ring keeps.
                for piece in chunk.split_inclusive(|b| *b == b'\n') {
                    piecewise.push(fd, piece);
                }
                proptest::prop_assert_eq!(&whole.lines, &piecewise.lines);
                proptest::prop_assert_eq!(whole.dropped_lines, piecewise.dropped_lines);
                proptest::prop_assert_eq!(whole.total_bytes, piecewise.total_bytes);
                proptest::prop_assert_eq!(whole.partial(Fd::Out), piecewise.partial(Fd::Out));
                proptest::prop_assert_eq!(whole.partial(Fd::Err), piecewise.partial(Fd::Err));
            }
        }
    }
}
