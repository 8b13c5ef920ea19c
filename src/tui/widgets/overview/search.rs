//! "By text in the output": which streams hold a text, found a few streams at a time on the
//! loop's ticks (a time budget per tick), so typing a query over 7,000 streams never holds up a
//! frame. While a capture runs the scan starts over after each pass, so new output is found.
use crate::capture::OutputRing;
use crate::snapshot::journal::Fd;
use aho_corasick::AhoCorasick;
use std::time::{Duration, Instant};

/// Time a tick may spend scanning (a frame is 16 ms; this leaves most of it to drawing).
pub const SCAN_BUDGET: Duration = Duration::from_millis(4);

#[derive(Debug, Clone)]
pub struct TextSearch {
    pub query: String,
    matcher: Option<AhoCorasick>,
    /// Per stream: holds the text (as of its last scan).
    pub matches: Vec<bool>,
    /// Next stream to scan in the current pass.
    next: usize,
    /// Completed passes over every stream.
    pub passes: u32,
}

impl TextSearch {
    /// Case-insensitive (ASCII) search for `query` over `streams` streams.
    pub fn new(query: &str, streams: usize) -> TextSearch {
        let matcher = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build([query])
            .ok();
        TextSearch {
            query: query.to_string(),
            matcher,
            matches: vec![false; streams],
            next: 0,
            passes: 0,
        }
    }

    /// True once every stream has been scanned at least once.
    pub fn complete(&self) -> bool {
        self.passes > 0 || self.matcher.is_none()
    }

    /// Streams scanned so far in the first pass (for "searching 1200/7000").
    pub fn scanned(&self) -> usize {
        if self.complete() {
            self.matches.len()
        } else {
            self.next
        }
    }

    pub fn matched(&self) -> usize {
        self.matches.iter().filter(|m| **m).count()
    }

    /// Starts a new pass (the output changed under it: replay seeked).
    pub fn restart(&mut self) {
        self.next = 0;
    }

    /// Scans streams until `budget` is used; `holds(stream, matcher)` says whether a stream's
    /// output contains the text. With `again`, a finished pass starts over (output still
    /// arrives). True when a stream's match changed.
    pub fn step(
        &mut self,
        budget: Duration,
        again: bool,
        holds: &mut dyn FnMut(usize, &AhoCorasick) -> bool,
    ) -> bool {
        let Some(matcher) = self.matcher.as_ref() else {
            return false;
        };
        let start = Instant::now();
        let mut changed = false;
        let n = self.matches.len();
        if self.next >= n {
            if !again {
                return false;
            }
            self.next = 0;
        }
        while self.next < n {
            let found = holds(self.next, matcher);
            changed |= self.matches[self.next] != found;
            self.matches[self.next] = found;
            self.next += 1;
            if self.next.is_multiple_of(16) && start.elapsed() >= budget {
                break;
            }
        }
        if self.next >= n {
            self.passes += 1;
        }
        changed
    }
}

/// Whether any line of a ring (complete or partial) contains the matcher's text.
pub fn ring_holds(ring: &OutputRing, matcher: &AhoCorasick) -> bool {
    ring.lines.iter().any(|l| matcher.is_match(&l.bytes[..]))
        || [Fd::Out, Fd::Err]
            .iter()
            .any(|fd| matcher.is_match(ring.partial(*fd)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_streams_a_budget_at_a_time() {
        let rings: Vec<OutputRing> = (0..100)
            .map(|i| {
                let mut r = OutputRing::new(100, 1 << 20);
                r.push(Fd::Out, format!("line {i}\n").as_bytes());
                if i % 10 == 3 {
                    r.push(Fd::Err, b"Segmentation FAULT");
                }
                r
            })
            .collect();
        let mut search = TextSearch::new("fault", rings.len());
        assert!(!search.complete());
        // A zero budget still makes progress (16 streams per check).
        search.step(Duration::ZERO, false, &mut |s, m| ring_holds(&rings[s], m));
        assert_eq!(search.scanned(), 16);
        while !search.complete() {
            search.step(Duration::ZERO, false, &mut |s, m| ring_holds(&rings[s], m));
        }
        assert_eq!(search.matched(), 10, "case-insensitive, partial lines too");
        assert!(search.matches[13] && !search.matches[14]);
        assert!(
            !search.step(SCAN_BUDGET, false, &mut |_, _| true),
            "a finished search does not rescan unless asked"
        );
        assert!(search.step(SCAN_BUDGET, true, &mut |_, _| true));
        assert_eq!(search.matched(), 100);
    }
}
