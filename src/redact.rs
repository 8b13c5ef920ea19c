//! Redaction of secrets before bytes reach disk: values casefile resolved (registered) and
//! common patterns (AWS keys, `password=…`, `IDENTIFIED BY '…'`, bearer and PagerDuty tokens,
//! passwords in URLs). Works on streams: a secret split across two chunks is still caught.
use aho_corasick::AhoCorasick;
use regex::bytes::{Matches, Regex, RegexBuilder};
use std::sync::{Arc, OnceLock};

/// What replaces a secret.
pub const MARK: &[u8] = b"[REDACTED]";

/// Patterns as (regex, length of the leading part to keep). The kept part names the secret
/// (`password=`) so the reader still sees what was there.
const PATTERNS: &[&str] = &[
    // AWS access key ids.
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    // key=value and key: value forms of passwords, secrets and tokens (PagerDuty's `Token token=`).
    r#"(?i)(?:password|passwd|secret|secret_access_key|api_key|apikey|access_token|auth_token|token)["']?\s*[=:]\s*["']?[^\s"'&,;]{1,200}"#,
    // MySQL account statements.
    r"(?i)identified\s+(?:with\s+\S{1,64}\s+)?by\s+(?:password\s+)?'[^'\n]{0,200}'",
    // HTTP bearer tokens.
    r"(?i)bearer\s+[A-Za-z0-9._~+/=-]{8,400}",
    // Passwords in URLs: scheme://user:password@host.
    r"(?i)[a-z][a-z0-9+.-]{0,20}://[^:/\s@]{1,100}:[^@\s/]{1,200}@",
];

/// Literals at least one of which (ignoring ASCII case) is in every pattern match: a fast SIMD
/// scan for them lets almost all output skip the regex. Keep in step with `PATTERNS`.
const ANCHORS: &[&str] = &[
    "akia",
    "asia",
    "password",
    "passwd",
    "secret",
    "api_key",
    "apikey",
    "token",
    "identified",
    "bearer",
    "://",
];

/// How far a single match can reach; a stream holds back at most this much of a partial line.
const LONGEST_PATTERN_MATCH: usize = 640;

/// The anchor search: SIMD (Teddy) where the CPU and pattern count allow, else an automaton.
#[derive(Debug)]
enum Anchors {
    Packed(aho_corasick::packed::Searcher),
    Automaton(AhoCorasick),
}

/// The shared redaction rules of one capture.
#[derive(Debug)]
pub struct Redactor {
    anchors: Anchors,
    /// The registered secrets and every pattern as one alternation, compiled on first use:
    /// compiling costs milliseconds (a tenth of a short capture) and most output never gets
    /// past the anchor scan.
    any_source: String,
    any: OnceLock<Regex>,
    /// Each pattern alone, to tell which one matched; compiled on first use too.
    patterns: OnceLock<Vec<Regex>>,
    secrets: Vec<Vec<u8>>,
    hold: usize,
}

impl Redactor {
    /// Builds the rules; `secrets` are values resolved at run time (shorter than 4 bytes are ignored,
    /// since redacting them would shred ordinary output).
    pub fn new(secrets: &[String]) -> Arc<Redactor> {
        let secrets: Vec<Vec<u8>> = secrets
            .iter()
            .filter(|s| s.len() >= 4)
            .map(|s| s.as_bytes().to_vec())
            .collect();
        let mut alternatives: Vec<String> = secrets
            .iter()
            .map(|s| regex::escape(&String::from_utf8_lossy(s)))
            .collect();
        alternatives.extend(PATTERNS.iter().map(|p| format!("(?:{p})")));
        let longest_secret = secrets.iter().map(Vec::len).max().unwrap_or(0);
        // Lower-case anchors searched in a lower-cased copy: case-insensitive, yet the searcher can
        // use its SIMD (Teddy) prefilter, which `ascii_case_insensitive` would rule out.
        let mut anchors: Vec<Vec<u8>> = ANCHORS.iter().map(|a| a.as_bytes().to_vec()).collect();
        anchors.extend(secrets.iter().map(|s| s.to_ascii_lowercase()));
        let anchors = match aho_corasick::packed::Config::new()
            .builder()
            .extend(&anchors)
            .build()
        {
            Some(teddy) => Anchors::Packed(teddy),
            None => Anchors::Automaton(
                AhoCorasick::new(&anchors)
                    .unwrap_or_else(|e| panic!("redaction anchors are invalid: {e}")),
            ),
        };
        Arc::new(Redactor {
            anchors,
            any_source: alternatives.join("|"),
            any: OnceLock::new(),
            patterns: OnceLock::new(),
            secrets,
            hold: LONGEST_PATTERN_MATCH.max(longest_secret + 64),
        })
    }

    /// The alternation of every secret and pattern.
    fn any(&self) -> &Regex {
        self.any.get_or_init(|| compile(&self.any_source))
    }

    /// The built-in patterns, one regex each (indexes as in `PATTERNS`).
    fn patterns(&self) -> &[Regex] {
        self.patterns
            .get_or_init(|| PATTERNS.iter().map(|p| compile(p)).collect())
    }

    /// A redactor with only the built-in patterns.
    pub fn patterns_only() -> Arc<Redactor> {
        Redactor::new(&[])
    }

    /// Redacts a whole text (commands recorded in the manifest); returns it and the match count.
    pub fn redact_text(&self, text: &str) -> (String, u64) {
        let mut out = Vec::with_capacity(text.len());
        let count = self.redact_into(text.as_bytes(), &mut out);
        (String::from_utf8_lossy(&out).into_owned(), count)
    }

    /// Every match in `input`; the regex runs only when an anchor literal is present.
    fn find_iter<'r, 'h>(
        &'r self,
        input: &'h [u8],
    ) -> impl Iterator<Item = regex::bytes::Match<'h>> + use<'r, 'h> {
        let matches: Option<Matches<'r, 'h>> =
            self.may_match(input).then(|| self.any().find_iter(input));
        matches.into_iter().flatten()
    }

    /// True when some anchor occurs in `input`, ignoring ASCII case.
    fn may_match(&self, input: &[u8]) -> bool {
        thread_local! {
            static LOWERED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        LOWERED.with(|lowered| {
            let mut lowered = lowered.borrow_mut();
            lowered.clear();
            lowered.extend(input.iter().map(u8::to_ascii_lowercase));
            match &self.anchors {
                Anchors::Packed(teddy) => teddy.find(lowered.as_slice()).is_some(),
                Anchors::Automaton(automaton) => automaton.is_match(lowered.as_slice()),
            }
        })
    }

    /// Appends `input` to `out` with every match replaced; returns how many were replaced.
    fn redact_into(&self, input: &[u8], out: &mut Vec<u8>) -> u64 {
        let mut last = 0;
        let mut count = 0;
        for m in self.find_iter(input) {
            out.extend_from_slice(&input[last..m.start()]);
            self.replace_match(m.as_bytes(), out);
            last = m.end();
            count += 1;
        }
        out.extend_from_slice(&input[last..]);
        count
    }

    /// Writes a match with its secret replaced, keeping the parts that name it (`password=`,
    /// `Bearer `, the quotes of `IDENTIFIED BY '…'`, the `@` of a URL).
    fn replace_match(&self, matched: &[u8], out: &mut Vec<u8>) {
        let (prefix, suffix) = self.kept_parts(matched);
        out.extend_from_slice(&matched[..prefix]);
        out.extend_from_slice(MARK);
        out.extend_from_slice(&matched[matched.len() - suffix..]);
    }

    /// Lengths of the leading and trailing parts of a match to keep.
    fn kept_parts(&self, matched: &[u8]) -> (usize, usize) {
        if self.secrets.iter().any(|s| s == matched) {
            return (0, 0);
        }
        let Some(index) = self.patterns().iter().position(|p| p.is_match(matched)) else {
            return (0, 0);
        };
        let suffix = match index {
            2 | 4 => 1,
            _ => 0,
        };
        let keep = match index {
            1 => matched
                .iter()
                .position(|&b| b == b'=' || b == b':')
                .map(|i| {
                    i + 1
                        + matched[i + 1..]
                            .iter()
                            .take_while(|b| b.is_ascii_whitespace() || **b == b'"' || **b == b'\'')
                            .count()
                }),
            2 => matched.iter().position(|&b| b == b'\'').map(|i| i + 1),
            3 => matched
                .iter()
                .position(|b| b.is_ascii_whitespace())
                .map(|i| {
                    i + matched[i..]
                        .iter()
                        .take_while(|b| b.is_ascii_whitespace())
                        .count()
                }),
            4 => matched[..matched.len() - 1]
                .iter()
                .rposition(|&b| b == b':')
                .map(|i| i + 1),
            _ => None,
        };
        let prefix = keep.unwrap_or(0).min(matched.len() - suffix);
        (prefix, suffix)
    }

    /// The first match in `bytes` that redaction would still change: a secret left in the clear.
    /// Text that is already redacted (`password=[REDACTED]`) matches the patterns but is no
    /// finding. Export uses this to re-check packed bytes before anything leaves the machine.
    pub fn find_unredacted(&self, bytes: &[u8]) -> Option<std::ops::Range<usize>> {
        let mut replaced = Vec::new();
        for m in self.any().find_iter(bytes) {
            replaced.clear();
            self.replace_match(m.as_bytes(), &mut replaced);
            if replaced != m.as_bytes() {
                return Some(m.range());
            }
        }
        None
    }

    /// The longest match these rules can make; a scanner of long data overlaps its windows by this.
    pub fn max_match_len(&self) -> usize {
        self.hold
    }

    pub fn stream(self: &Arc<Self>) -> StreamRedactor {
        StreamRedactor {
            rules: Arc::clone(self),
            carry: Vec::new(),
            redactions: 0,
        }
    }
}

/// Compiles one of the redaction regexes (escaped secrets and the built-in patterns, so a
/// failure is a bug in `PATTERNS`).
fn compile(pattern: &str) -> Regex {
    RegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(64 << 20)
        .build()
        .unwrap_or_else(|e| panic!("built-in redaction pattern is invalid: {e}"))
}

/// Per-stream redaction state: holds back an unfinished line (at most a bounded tail) so that a
/// secret split across chunks is seen whole. Complete lines pass through at once.
#[derive(Debug)]
pub struct StreamRedactor {
    rules: Arc<Redactor>,
    carry: Vec<u8>,
    pub redactions: u64,
}

impl StreamRedactor {
    /// Feeds a chunk; appends what is safe to emit now to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let owned;
        let buffer: &[u8] = if self.carry.is_empty() {
            chunk
        } else {
            self.carry.extend_from_slice(chunk);
            owned = std::mem::take(&mut self.carry);
            &owned
        };
        let after_newline = memchr::memrchr(b'\n', buffer).map_or(0, |i| i + 1);
        let mut cut = after_newline.max(buffer.len().saturating_sub(self.rules.hold));
        let mut last = 0;
        for m in self.rules.find_iter(buffer) {
            if m.end() > cut {
                if m.start() < cut {
                    cut = m.start();
                }
                break;
            }
            out.extend_from_slice(&buffer[last..m.start()]);
            self.rules.replace_match(m.as_bytes(), out);
            last = m.end();
            self.redactions += 1;
        }
        out.extend_from_slice(&buffer[last..cut]);
        self.carry.extend_from_slice(&buffer[cut..]);
    }

    /// Flushes what is held back at end of stream.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let carry = std::mem::take(&mut self.carry);
        self.redactions += self.rules.redact_into(&carry, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact_chunks(rules: &Arc<Redactor>, chunks: &[&[u8]]) -> (String, u64) {
        let mut stream = rules.stream();
        let mut out = Vec::new();
        for chunk in chunks {
            stream.push(chunk, &mut out);
        }
        stream.finish(&mut out);
        (
            String::from_utf8_lossy(&out).into_owned(),
            stream.redactions,
        )
    }

    #[test]
    fn every_regex_compiles_lazily_and_once() {
        let rules = Redactor::new(&["s3cr3t.(with)+regex|chars".to_string()]);
        assert!(rules.any.get().is_none() && rules.patterns.get().is_none());
        // Output without any anchor never compiles them.
        let (text, n) = rules.redact_text("nothing to see here\n");
        assert_eq!((text.as_str(), n), ("nothing to see here\n", 0));
        assert!(rules.any.get().is_none());
        assert_eq!(rules.patterns().len(), PATTERNS.len());
        let (text, n) = rules.redact_text("x s3cr3t.(with)+regex|chars y");
        assert_eq!((text.as_str(), n), ("x [REDACTED] y", 1));
        assert!(rules.any.get().is_some());
    }

    #[test]
    fn redacts_patterns_and_keeps_their_names() {
        let rules = Redactor::patterns_only();
        let (text, n) = rules.redact_text(
            "key AKIAIOSFODNN7EXAMPLE password=hunter2 x\nCREATE USER a IDENTIFIED BY 's3cret';\n\
             Authorization: Bearer abcdefghijklmnop\nAuthorization: Token token=y_NbAkKc66ryYTWUXYEu\n\
             mysql://app:pa55word@db:3306/x",
        );
        assert_eq!(n, 6, "{text}");
        for secret in [
            "AKIAIOSFODNN7EXAMPLE",
            "hunter2",
            "s3cret",
            "abcdefghijklmnop",
            "y_NbAkKc66ryYTWUXYEu",
            "pa55word",
        ] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(text.contains("password=[REDACTED] x"), "{text}");
        assert!(text.contains("IDENTIFIED BY '[REDACTED]';"), "{text}");
        assert!(text.contains("Bearer [REDACTED]"), "{text}");
        assert!(text.contains("mysql://app:[REDACTED]@db"), "{text}");
    }

    #[test]
    fn each_pattern_is_found_on_its_own_through_the_anchor_scan() {
        let rules = Redactor::new(&["Zq9-registered-xyz".to_string()]);
        for line in [
            "AKIAIOSFODNN7EXAMPLE",
            "ASIAIOSFODNN7EXAMPLE",
            "PASSWORD: x1",
            "passwd=x1",
            "client_secret=x1",
            "apikey: x1",
            "API_KEY=x1",
            "auth_token=x1",
            "create user identified by 'x1'",
            "BEARER abcdefgh12",
            "postgres://u:x1@h",
            "Zq9-registered-xyz",
        ] {
            let (text, n) = rules.redact_text(line);
            assert_eq!(n, 1, "{line} → {text}");
            assert!(
                !text.contains("x1") && !text.contains("Zq9") && !text.contains("EXAMPLE"),
                "{line} → {text}"
            );
        }
    }

    #[test]
    fn catches_a_registered_secret_split_across_chunks() {
        let rules = Redactor::new(&["correct-horse-battery".to_string()]);
        let (text, n) = redact_chunks(
            &rules,
            &[b"line one\nthe value is correct-hor", b"se-battery, ok\n"],
        );
        assert_eq!(text, "line one\nthe value is [REDACTED], ok\n");
        assert_eq!(n, 1);
        // Every split point of a pattern secret, too.
        let input = b"a\nexport AWS=AKIAIOSFODNN7EXAMPLE done\n";
        for split in 0..input.len() {
            let (text, n) = redact_chunks(&rules, &[&input[..split], &input[split..]]);
            assert_eq!(text, "a\nexport AWS=[REDACTED] done\n", "split at {split}");
            assert_eq!(n, 1);
        }
    }

    #[test]
    fn complete_lines_pass_through_without_delay() {
        let rules = Redactor::patterns_only();
        let mut stream = rules.stream();
        let mut out = Vec::new();
        stream.push(b"procs 1\nprocs 2\npartial", &mut out);
        assert_eq!(out, b"procs 1\nprocs 2\n");
        let long_line = vec![b'x'; 10_000];
        stream.push(&long_line, &mut out);
        assert!(
            out.len() > 9_000,
            "a long line is emitted except a bounded tail"
        );
    }
}
