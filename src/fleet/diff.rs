//! A line diff of two streams: an outlier against its step's majority, or one target's step in
//! two captures. Uses `similar` (Myers with a deadline, so a huge input cannot stall a caller,
//! then a coarser diff).
//!
//! The result is data, not text for a terminal: [`DiffLine::text`] is the captured line decoded
//! lossily and is NOT sanitised. A view passes it through [`crate::sanitize`] (`cells` in the
//! TUI, `text`/`line` when printing) and adds its colours after that.
use super::read::{self, Output, ReadError};
use crate::snapshot::StreamRecord;
use similar::{ChangeTag, TextDiff};
use std::path::Path;
use std::time::Duration;

/// How much to compare and show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffOptions {
    /// Unchanged lines kept around each change (`usize::MAX`: the whole text, for a side by
    /// side view).
    pub context: usize,
    /// Bytes read from each side at most; beyond that [`StreamDiff::truncated`] is set.
    pub max_bytes: u64,
    /// After this long the diff settles for a coarser (still correct) answer.
    pub timeout: Duration,
}

impl Default for DiffOptions {
    fn default() -> DiffOptions {
        DiffOptions {
            context: 3,
            max_bytes: 8 << 20,
            timeout: Duration::from_secs(2),
        }
    }
}

/// What a line of a diff is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// In both (context).
    Same,
    /// Only in the old (left) stream.
    Removed,
    /// Only in the new (right) stream.
    Added,
}

impl LineKind {
    /// The unified-diff prefix: ` `, `-`, `+`.
    pub fn sign(self) -> char {
        match self {
            LineKind::Same => ' ',
            LineKind::Removed => '-',
            LineKind::Added => '+',
        }
    }
}

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub kind: LineKind,
    /// 1-based line number in the old stream (none for an added line).
    pub old_line: Option<usize>,
    /// 1-based line number in the new stream (none for a removed line).
    pub new_line: Option<usize>,
    /// The line without its newline, decoded lossily; not sanitised (see the module doc).
    pub text: String,
}

/// Changed lines with their context, as a unified diff's `@@ -a,b +c,d @@` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    pub old_start: usize,
    pub old_len: usize,
    pub new_start: usize,
    pub new_len: usize,
    pub lines: Vec<DiffLine>,
}

impl Hunk {
    /// `@@ -1,3 +1,4 @@`
    pub fn header(&self) -> String {
        format!(
            "@@ -{},{} +{},{} @@",
            self.old_start, self.old_len, self.new_start, self.new_len
        )
    }
}

/// The diff of two streams.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamDiff {
    pub hunks: Vec<Hunk>,
    pub added: usize,
    pub removed: usize,
    /// A side was longer than [`DiffOptions::max_bytes`]; only its start was compared.
    pub truncated: bool,
}

impl StreamDiff {
    /// True when the compared bytes are line for line the same.
    pub fn is_identical(&self) -> bool {
        self.added == 0 && self.removed == 0
    }

    /// The unified diff as lines (headers, `@@` lines, `±` lines), not sanitised.
    pub fn unified(&self, old_label: &str, new_label: &str) -> Vec<String> {
        let mut out = Vec::new();
        if self.is_identical() {
            return out;
        }
        out.push(format!("--- {old_label}"));
        out.push(format!("+++ {new_label}"));
        for hunk in &self.hunks {
            out.push(hunk.header());
            for line in &hunk.lines {
                out.push(format!("{}{}", line.kind.sign(), line.text));
            }
        }
        out
    }
}

/// Diffs two byte streams line by line.
pub fn diff_streams(old: &[u8], new: &[u8], options: &DiffOptions) -> StreamDiff {
    let cap = usize::try_from(options.max_bytes).unwrap_or(usize::MAX);
    let truncated = old.len() > cap || new.len() > cap;
    let old = String::from_utf8_lossy(&old[..old.len().min(cap)]);
    let new = String::from_utf8_lossy(&new[..new.len().min(cap)]);
    let diff = TextDiff::configure()
        .timeout(options.timeout)
        .diff_lines(old.as_ref(), new.as_ref());
    let mut result = StreamDiff {
        truncated,
        ..StreamDiff::default()
    };
    // `similar` doubles the context internally: keep it far from overflowing.
    let context = options.context.min(usize::MAX / 4);
    for group in diff.grouped_ops(context) {
        if group.iter().all(|op| op.tag() == similar::DiffTag::Equal) {
            continue;
        }
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let (old_range, new_range) = (
            first.old_range().start..last.old_range().end,
            first.new_range().start..last.new_range().end,
        );
        let mut hunk = Hunk {
            // As diff(1): a range of length 0 starts at the line before it.
            old_start: old_range.start + usize::from(!old_range.is_empty()),
            old_len: old_range.len(),
            new_start: new_range.start + usize::from(!new_range.is_empty()),
            new_len: new_range.len(),
            lines: Vec::new(),
        };
        for op in &group {
            for change in diff.iter_changes(op) {
                let kind = match change.tag() {
                    ChangeTag::Equal => LineKind::Same,
                    ChangeTag::Delete => {
                        result.removed += 1;
                        LineKind::Removed
                    }
                    ChangeTag::Insert => {
                        result.added += 1;
                        LineKind::Added
                    }
                };
                let text = change.value();
                hunk.lines.push(DiffLine {
                    kind,
                    old_line: change.old_index().map(|i| i + 1),
                    new_line: change.new_index().map(|i| i + 1),
                    text: text.strip_suffix('\n').unwrap_or(text).to_string(),
                });
            }
        }
        result.hunks.push(hunk);
    }
    result
}

/// A stream inside an opened snapshot.
#[derive(Debug, Clone, Copy)]
pub struct StreamRef<'a> {
    /// The snapshot folder.
    pub dir: &'a Path,
    /// The stream's index in the manifest.
    pub index: usize,
    pub record: &'a StreamRecord,
}

/// Diffs one output (stdout or stderr) of two streams, reading each through the confined
/// opener and no more than `options.max_bytes` of it. Blocking.
pub fn diff_outputs(
    old: StreamRef<'_>,
    new: StreamRef<'_>,
    output: Output,
    options: &DiffOptions,
) -> Result<StreamDiff, ReadError> {
    let (old_bytes, old_more) =
        read::read_capped(old.dir, old.index, old.record, output, options.max_bytes)?;
    let (new_bytes, new_more) =
        read::read_capped(new.dir, new.index, new.record, output, options.max_bytes)?;
    let mut diff = diff_streams(&old_bytes, &new_bytes, options);
    diff.truncated |= old_more || new_more;
    Ok(diff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_changed_line_is_one_removal_and_one_addition_with_context() {
        let old = b"a\nb\nc\nd\ne\nf\ng\nh\n";
        let new = b"a\nb\nc\nd\nE\nf\ng\nh\n";
        let diff = diff_streams(old, new, &DiffOptions::default());
        assert_eq!((diff.removed, diff.added), (1, 1));
        assert_eq!(
            diff.unified("old", "new"),
            vec![
                "--- old",
                "+++ new",
                "@@ -2,7 +2,7 @@",
                " b",
                " c",
                " d",
                "-e",
                "+E",
                " f",
                " g",
                " h"
            ]
        );
        let same = diff_streams(old, old, &DiffOptions::default());
        assert!(same.is_identical() && same.unified("a", "b").is_empty());
    }

    #[test]
    fn long_inputs_are_capped_and_say_so() {
        let options = DiffOptions {
            max_bytes: 4,
            ..DiffOptions::default()
        };
        let diff = diff_streams(b"ab\ncd\n", b"ab\ncd\nef\n", &options);
        assert!(diff.truncated && diff.is_identical());
    }

    proptest! {
        /// Applying the diff's lines rebuilds both sides (whole-text context).
        #[test]
        fn the_diff_rebuilds_both_sides(
            old in prop::collection::vec("[abc]{0,2}", 0..30),
            new in prop::collection::vec("[abc]{0,2}", 0..30),
        ) {
            let old_text: String = old.iter().map(|l| format!("{l}\n")).collect();
            let new_text: String = new.iter().map(|l| format!("{l}\n")).collect();
            let options = DiffOptions { context: usize::MAX, ..DiffOptions::default() };
            let diff = diff_streams(old_text.as_bytes(), new_text.as_bytes(), &options);
            let lines = || diff.hunks.iter().flat_map(|h| h.lines.iter());
            let rebuilt_old: Vec<&str> = lines().filter(|l| l.kind != LineKind::Added).map(|l| l.text.as_str()).collect();
            let rebuilt_new: Vec<&str> = lines().filter(|l| l.kind != LineKind::Removed).map(|l| l.text.as_str()).collect();
            if !diff.is_identical() {
                prop_assert_eq!(rebuilt_old, old.iter().map(String::as_str).collect::<Vec<_>>());
                prop_assert_eq!(rebuilt_new, new.iter().map(String::as_str).collect::<Vec<_>>());
            }
            prop_assert_eq!(diff.is_identical(), old == new);
        }
    }
}
