//! Shape mode: masks the tokens that differ between healthy hosts for no interesting reason
//! (numbers, hex ids, UUIDs, MAC and IPv6 addresses, times, the digits of IPv4 addresses and
//! timestamps), so that `uptime`, `ps` or `df` outputs of a fleet fold together.
//!
//! A hand-written scanner rather than regular expressions: it looks at each byte once (plus a
//! bounded look-ahead at the start of a word), so it runs at line rate on any input, base64
//! and binary included, and never backtracks. Kept spans are handed out as slices of the input,
//! so masking allocates nothing.
//!
//! The rules, applied at the start of each word (a maximal run of ASCII letters and digits):
//! 1. a UUID (`8-4-4-4-12` hex groups) is one token;
//! 2. decimal groups, or hex groups of at most 4 characters, joined by at least two `:` with a digit somewhere
//!    (IPv6, MAC, `12:34:56`) are one token;
//! 3. `0x` followed by hex digits is one token;
//! 4. a word of 6 or more hex digits with at least one digit and one letter (a container id, a
//!    commit) is one token;
//! 5. otherwise each run of decimal digits is one token (`web01` → `web#`, `4.5G` → `#.#G`).
//!
//! Each token becomes [`MARK`], a byte that never occurs in UTF-8 text, so a masked number does
//! not fold with a literal `#`.
use sha2::{Digest as _, Sha256};

/// What a masked token becomes in the masked byte stream.
pub const MARK: &[u8] = &[0xFF];

/// How [`render`] shows [`MARK`] to a person.
pub const MARK_SHOWN: char = '#';

/// Masks `input`, handing `sink` the pieces in order: spans of `input` kept as they are, and
/// [`MARK`] for each volatile token.
pub fn mask(input: &[u8], sink: &mut impl FnMut(&[u8])) {
    let n = input.len();
    let mut i = 0;
    // Start of the span not yet handed to `sink`.
    let mut kept = 0;
    // A colon-hex run that failed rule 2 fails again from any later word inside it: skipping
    // those checks keeps the scan linear on `1:1:1:…x`.
    let mut no_colon_hex_before = 0;
    while i < n {
        if !input[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        let word = Word::scan(input, start);
        let end = start + word.len;
        let token_end = whole_token(input, start, &word, &mut no_colon_hex_before);
        if let Some(token_end) = token_end {
            emit(sink, &input[kept..start]);
            sink(MARK);
            kept = token_end;
            i = token_end;
            continue;
        }
        if word.digits > 0 {
            let mut j = start;
            while j < end {
                if input[j].is_ascii_digit() {
                    let run = j;
                    while j < end && input[j].is_ascii_digit() {
                        j += 1;
                    }
                    emit(sink, &input[kept..run]);
                    sink(MARK);
                    kept = j;
                } else {
                    j += 1;
                }
            }
        }
        i = end;
    }
    emit(sink, &input[kept..]);
}

fn emit(sink: &mut impl FnMut(&[u8]), span: &[u8]) {
    if !span.is_empty() {
        sink(span);
    }
}

/// One word's length and what it is made of, from a single pass.
struct Word {
    len: usize,
    digits: usize,
    hex_letters: usize,
    /// Letters that are not hex digits.
    other_letters: usize,
}

impl Word {
    fn scan(input: &[u8], start: usize) -> Word {
        let mut word = Word {
            len: 0,
            digits: 0,
            hex_letters: 0,
            other_letters: 0,
        };
        for &b in &input[start..] {
            match b {
                b'0'..=b'9' => word.digits += 1,
                b'a'..=b'f' | b'A'..=b'F' => word.hex_letters += 1,
                b'g'..=b'z' | b'G'..=b'Z' => word.other_letters += 1,
                _ => break,
            }
            word.len += 1;
        }
        word
    }

    fn all_hex(&self) -> bool {
        self.other_letters == 0
    }
}

/// Rules 1–4: the end of a token that starts at `start` and is masked whole, if any.
fn whole_token(
    input: &[u8],
    start: usize,
    word: &Word,
    no_colon_hex_before: &mut usize,
) -> Option<usize> {
    let end = start + word.len;
    let next = input.get(end).copied();
    if word.all_hex()
        && word.len == 8
        && next == Some(b'-')
        && let Some(token_end) = uuid(input, start)
    {
        return Some(token_end);
    }
    if word.all_hex() && word.len <= 4 && next == Some(b':') && start >= *no_colon_hex_before {
        match colon_hex(input, start) {
            Ok(token_end) => return Some(token_end),
            Err(run_end) => *no_colon_hex_before = run_end,
        }
    }
    let bytes = &input[start..end];
    if word.len > 2
        && bytes[0] == b'0'
        && matches!(bytes[1], b'x' | b'X')
        && bytes[2..].iter().all(u8::is_ascii_hexdigit)
    {
        return Some(end);
    }
    if word.all_hex() && word.len >= 6 && word.digits > 0 && word.hex_letters > 0 {
        return Some(end);
    }
    None
}

/// Rule 1: `8-4-4-4-12` hex groups ending at a word boundary.
fn uuid(input: &[u8], start: usize) -> Option<usize> {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let mut at = start;
    for (index, len) in GROUPS.into_iter().enumerate() {
        if index > 0 {
            if input.get(at) != Some(&b'-') {
                return None;
            }
            at += 1;
        }
        let group = input.get(at..at + len)?;
        if !group.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        at += len;
    }
    match input.get(at) {
        Some(b) if b.is_ascii_alphanumeric() => None,
        _ => Some(at),
    }
}

/// Rule 2: decimal groups or hex groups of at most 4 characters joined by `:` (at least two), with a digit, not
/// followed by a letter or digit. `Err` carries where the run ended, for the skip.
fn colon_hex(input: &[u8], start: usize) -> Result<usize, usize> {
    let mut at = start;
    let mut colons = 0;
    let mut digits = 0;
    let mut group = 0;
    let mut group_letters = false;
    let mut last_hex = start;
    while let Some(&b) = input.get(at) {
        if b == b':' {
            colons += 1;
            group = 0;
            group_letters = false;
        } else if b.is_ascii_hexdigit() {
            group += 1;
            if b.is_ascii_digit() {
                digits += 1;
            } else {
                group_letters = true;
            }
            // A decimal group may be any length (`1:2:123456`); a hex one is at most 4.
            if group > 4 && group_letters {
                break;
            }
            last_hex = at + 1;
        } else {
            break;
        }
        at += 1;
    }
    let run_end = at;
    let boundary_ok = !input.get(at).is_some_and(u8::is_ascii_alphanumeric);
    // Trailing colons are punctuation (`12:34: up`), not part of the token.
    let token_colons = colons - input[last_hex..run_end].len();
    if boundary_ok && token_colons >= 2 && digits > 0 {
        Ok(last_hex)
    } else {
        Err(run_end)
    }
}

/// The masked form of `input` as text, with [`MARK_SHOWN`] for each token (for people and
/// tests; folding hashes the masked bytes instead).
pub fn render(input: &[u8]) -> String {
    let mut out = Vec::with_capacity(input.len());
    mask(input, &mut |piece: &[u8]| {
        if piece == MARK {
            out.push(MARK_SHOWN as u8);
        } else {
            out.extend_from_slice(piece);
        }
    });
    String::from_utf8_lossy(&out).into_owned()
}

/// SHA-256 of the masked form of a stream fed in chunks of any size.
///
/// Input is masked a block at a time, cut after the last newline (or else the last space or
/// tab) so that a token is never split across two blocks; only a line longer than the block
/// with no space in it can be cut inside a token.
#[derive(Debug, Clone, Default)]
pub struct ShapeHasher {
    pending: Vec<u8>,
    hasher: Sha256,
}

/// How much input [`ShapeHasher`] gathers before masking.
const BLOCK: usize = 64 << 10;

impl ShapeHasher {
    pub fn new() -> ShapeHasher {
        ShapeHasher::default()
    }

    pub fn update(&mut self, data: &[u8]) {
        self.pending.extend_from_slice(data);
        if self.pending.len() < BLOCK {
            return;
        }
        let cut = memchr::memrchr(b'\n', &self.pending)
            .or_else(|| memchr::memrchr2(b' ', b'\t', &self.pending))
            .map_or(self.pending.len(), |at| at + 1);
        let hasher = &mut self.hasher;
        mask(&self.pending[..cut], &mut |piece: &[u8]| {
            hasher.update(piece)
        });
        self.pending.drain(..cut);
    }

    pub fn finish(mut self) -> [u8; 32] {
        let hasher = &mut self.hasher;
        mask(&self.pending, &mut |piece: &[u8]| hasher.update(piece));
        self.hasher.finalize().into()
    }
}

/// SHA-256 of the masked form of `input`.
pub fn shape_digest(input: &[u8]) -> [u8; 32] {
    let mut hasher = ShapeHasher::new();
    hasher.update(input);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn volatile_tokens_are_masked() {
        let cases = [
            (
                " 08:31:40 up 3 days,  4:05,  2 users,  load average: 0.52, 0.58, 0.59",
                " # up # days,  #:#,  # users,  load average: #.#, #.#, #.#",
            ),
            (
                "root  1234  0.0  0.1 /usr/sbin/sshd -D",
                "root  #  #.#  #.# /usr/sbin/sshd -D",
            ),
            ("addr 10.0.0.17 port 22", "addr #.#.#.# port #"),
            ("id 1b4e28ba-2fa1-11d2-883f-0016d3cca427 ok", "id # ok"),
            (
                "mac 00:1a:2b:3c:4d:5e ip fe80::1c2b:3cff:fe4d:5e6f",
                "mac # ip #",
            ),
            ("container 3f2a9c1bde77 at 0x7ffd1234", "container # at #"),
            ("2026-11-28T08:31:40Z web01 sda1", "#-#-#T#:#:#Z web# sda#"),
            ("key: value, ab:cd:ef", "key: value, ab:cd:ef"),
            ("12:34: up", "#:#: up"),
        ];
        for (input, want) in cases {
            assert_eq!(render(input.as_bytes()), want, "{input}");
        }
    }

    #[test]
    fn chunked_hashing_matches_whole() {
        let text: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("line {i} pid {} 0x{i:x} word\n", i * 7).into_bytes())
            .collect();
        let mut hasher = ShapeHasher::new();
        for chunk in text.chunks(4097) {
            hasher.update(chunk);
        }
        assert_eq!(hasher.finish(), shape_digest(&text));
    }

    #[test]
    fn long_colon_runs_stay_linear_and_mask_nothing_wrong() {
        let mut input = b"1:".repeat(200_000);
        input.push(b'x');
        // One failed look-ahead, then plain digit runs.
        let shown = render(&input);
        assert!(shown.starts_with("#:#:#:"), "{}", &shown[..20]);
        assert!(shown.ends_with(":x"));
    }

    /// Text made of words and numbers with separators: the shapes the property tests vary.
    fn pieces() -> impl Strategy<Value = Vec<(String, u64)>> {
        prop::collection::vec(("[a-z]{1,8}[ ,:/=\n.-]{1,2}", any::<u64>()), 1..40)
    }

    fn join(pieces: &[(String, u64)], numbers: impl Fn(usize, u64) -> u64) -> String {
        pieces
            .iter()
            .enumerate()
            .map(|(i, (word, n))| format!("{word}{} ", numbers(i, *n)))
            .collect()
    }

    proptest! {
        /// Two outputs that differ only in their numbers fold together.
        #[test]
        fn outputs_differing_only_in_numbers_fold(
            pieces in pieces(),
            other in prop::collection::vec(any::<u64>(), 40),
        ) {
            let a = join(&pieces, |_, n| n);
            let b = join(&pieces, |i, _| other[i]);
            prop_assert_eq!(shape_digest(a.as_bytes()), shape_digest(b.as_bytes()));
        }

        /// Outputs that differ in a word do not.
        #[test]
        fn outputs_differing_in_a_word_do_not_fold(
            pieces in pieces(),
            at in any::<prop::sample::Index>(),
            word in "[g-z]{1,8}",
        ) {
            let a = join(&pieces, |_, n| n);
            let mut changed = pieces.clone();
            let i = at.index(changed.len());
            let old_word: String = changed[i].0.chars().filter(char::is_ascii_lowercase).collect();
            prop_assume!(old_word != word);
            let separator: String = changed[i].0.chars().filter(|c| !c.is_ascii_lowercase()).collect();
            changed[i].0 = format!("{word}{separator}");
            let b = join(&changed, |_, n| n);
            prop_assert_ne!(shape_digest(a.as_bytes()), shape_digest(b.as_bytes()));
        }

        /// Any bytes: masking never panics, and chunking never changes the digest of text
        /// made of lines.
        #[test]
        fn any_bytes_mask_and_chunk_alike(
            lines in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..400),
            chunk in 1usize..5000,
        ) {
            let input: Vec<u8> = lines
                .iter()
                .flat_map(|l| l.iter().copied().filter(|b| *b != b'\n').chain([b'\n']))
                .collect();
            let mut hasher = ShapeHasher::new();
            for piece in input.chunks(chunk) {
                hasher.update(piece);
            }
            prop_assert_eq!(hasher.finish(), shape_digest(&input));
        }
    }
}
