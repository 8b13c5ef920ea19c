//! Redaction of secrets before bytes reach disk, logs or an export: values casefile resolved
//! (registered) and common patterns (AWS keys, `password=…`, `MYSQL_PWD=…`, `IDENTIFIED BY '…'`,
//! `Authorization:` and `x-api-key:` headers, bearer, PagerDuty, GitHub and Slack tokens,
//! `curl -u user:pass`, passwords in URLs, PEM private key blocks). Works on streams: a secret
//! split across chunks is still caught.
//!
//! Design: a SIMD scan for anchor literals lets almost all output skip the regex; the regex (every
//! secret and pattern as one alternation) runs only on a window around each anchor found, so its
//! cost follows the anchors, not the size of the output. A PEM private key
//! block can be longer than any window, so its body is dropped by a small state machine instead:
//! everything from the `BEGIN` line to the `END` line, at most `PEM_BODY_MAX` bytes (whatever is
//! between them: line prefixes, quotes, escaped line breaks).
mod json;

use aho_corasick::AhoCorasick;
use regex::bytes::{Captures, Regex, RegexBuilder};
use std::sync::{Arc, Mutex, OnceLock};

pub use json::REFERENCE_FIELDS;

/// What replaces a secret.
pub const MARK: &[u8] = b"[REDACTED]";

/// Patterns; when capture group 1 (or a later one) takes part, only that group is the secret and
/// the rest of the match is kept, so the reader still sees what was there (`password=`,
/// `Authorization: Basic `, the quotes of `IDENTIFIED BY '…'`, the `@` of a URL). Without a group
/// the whole match is the secret. Redacting already redacted text changes nothing (the export
/// re-check relies on that).
const PATTERNS: &[&str] = &[
    // AWS access key ids.
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    // key=value and key: value forms of passwords, secrets and tokens (PagerDuty's `Token token=`,
    // `PGPASSWORD=`, `MYSQL_PWD=`, `x-api-key:`).
    r#"(?i)(?:password|passwd|mysql_pwd|secret|secret_access_key|api[_-]?key|access_token|auth_token|token)["']?\s*[=:]\s*["']?([^\s"'&,;]{1,200})"#,
    // MySQL account statements.
    r"(?i)identified\s+(?:with\s+\S{1,64}\s+)?by\s+(?:password\s+)?'([^'\n]{0,200})'",
    // HTTP bearer tokens.
    r"(?i)bearer\s+([A-Za-z0-9._~+/=-]{8,400})",
    // Passwords in URLs: scheme://user:password@host. The scheme is left out of the pattern (it
    // is kept anyway): a counted run that may start at any letter makes the regex's automaton
    // blow up on base64 and similar text.
    r"://[^:/\s@]{1,100}:([^@\s/]{1,200})@",
    // The Authorization header (any scheme; the scheme word is kept), to the end of the line.
    r#"(?i)authorization["']?\s*[:=]\s*["']?(?:[A-Za-z][A-Za-z0-9-]{0,30}[ \t]+)?([^\s"'][^\r\n"']{0,600})"#,
    // GitHub tokens (classic and fine-grained).
    r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})",
    // Slack tokens.
    r"\bxox[abposre]-[A-Za-z0-9-]{10,250}",
    // curl's `-u user:password` / `--user user:password` (a numeric `uid:gid`, as docker's `-u`
    // takes, is not a password). User and password are printable ASCII: binary output holding
    // `\n-u` would otherwise match through random bytes.
    r#"(?:^|[ \t\r\n])(?:-u[ \t]*|--user[ \t=][ \t]*)["']?(?:[!-~&&[^:"']]{0,100}[!-~&&[^:"'0-9]][!-~&&[^:"']]{0,100}:([!-~&&[^"']]{1,200})|[0-9]{1,40}:([!-~&&[^"']]{0,100}[!-~&&[^"'0-9]][!-~&&[^"']]{0,100}))"#,
];

/// Text that looks like a pattern match but says nothing secret: MySQL's access-denied message.
/// Listed before the patterns, it takes their place where it matches.
const BENIGN: &[&str] = &[r"\(using password: (?:YES|NO)\)"];

/// The first line of a PEM private key block; its body is dropped up to the `END` line.
const PEM_BEGIN: &str = r"-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY-----";
const PEM_END: &str = r"-----END[A-Z0-9 ]{0,40} PRIVATE KEY-----";
/// Longest `PEM_END` match: a body held back at the end of a chunk keeps this much.
const PEM_END_MAX: usize = 72;
/// Most bytes dropped after a `BEGIN … PRIVATE KEY` line with no `END` line (an RSA 8192 key is
/// about 6.3 KiB; room for a prefix on every line). Output goes on being recorded after it.
const PEM_BODY_MAX: usize = 16 << 10;

/// Literals at least one of which (ignoring ASCII case) is in every pattern match, at most
/// `LOOKBACK` bytes after its start: a fast SIMD scan for them lets almost all output skip the
/// regex. Keep in step with `PATTERNS`, `BENIGN` and `PEM_BEGIN`.
const ANCHORS: &[&str] = &[
    "akia",
    "asia",
    "password",
    "passwd",
    "mysql_pwd",
    "secret",
    "api_key",
    "api-key",
    "apikey",
    "token",
    "identified",
    "bearer",
    "://",
    "authorization",
    "gho_",
    "ghp_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "xoxa-",
    "xoxb-",
    "xoxe-",
    "xoxo-",
    "xoxp-",
    "xoxr-",
    "xoxs-",
    // curl's `-u` after a space (as the pattern wants): a 2-byte anchor would slow the SIMD scan
    // down on all output. A buffer that starts with `-u` is checked too (`anchor_at_or_after`).
    " -u",
    "\t-u",
    "\n-u",
    "\r-u",
    "--user",
    "private key",
];

/// How far a single match can reach; a stream holds back at most this much of a partial line.
const LONGEST_PATTERN_MATCH: usize = 720;

/// How far before its anchor a match can start (`-----BEGIN … PRIVATE KEY-----`: 51 bytes).
const LOOKBACK: usize = 64;

/// The anchor search: SIMD (Teddy) where the CPU and pattern count allow, else an automaton.
#[derive(Debug)]
enum Anchors {
    Packed(aho_corasick::packed::Searcher),
    Automaton(AhoCorasick),
}

/// What one match of the alternation is.
enum Found<'m> {
    /// A registered secret: replaced whole.
    Secret,
    /// Benign text (see `BENIGN`): kept, except registered secrets inside it.
    Benign,
    /// The first line of a PEM private key: kept, its body is dropped.
    PemBegin,
    /// A built-in pattern; the captures tell which part is the secret.
    Pattern(Option<Captures<'m>>),
}

/// Where the search for the next match stands: matches start at or after `at`, and anchors
/// are looked for from `anchor_from` on.
struct Cursor {
    at: usize,
    anchor_from: usize,
}

/// A lower-cased copy of `input` in a reused buffer (anchors are searched in it).
fn lowered(input: &[u8]) -> Vec<u8> {
    let mut buffer = LOWERED.with(|cell| cell.take());
    buffer.clear();
    buffer.extend(input.iter().map(u8::to_ascii_lowercase));
    buffer
}

/// Returns the buffer of [`lowered`] for reuse.
fn give_back(buffer: Vec<u8>) {
    LOWERED.with(|cell| cell.replace(buffer));
}

thread_local! {
    static LOWERED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The compiled regexes, built on first use.
#[derive(Debug)]
struct Compiled {
    /// Every secret, benign phrase and pattern as one alternation.
    any: Regex,
    benign: Regex,
    pem_begin: Regex,
    pem_end: Regex,
    /// Each pattern alone, anchored, to tell which part of a match is the secret.
    patterns: Vec<Regex>,
}

/// The shared redaction rules of one capture.
#[derive(Debug)]
pub struct Redactor {
    anchors: Anchors,
    /// The alternation's source; compiling costs milliseconds (a tenth of a short capture) and
    /// most output never gets past the anchor scan, so it is compiled on first use.
    any_source: String,
    compiled: OnceLock<Compiled>,
    secrets: Vec<Vec<u8>>,
    hold: usize,
}

impl Redactor {
    /// Builds the rules; `secrets` are values resolved at run time (shorter than 4 bytes are ignored,
    /// since redacting them would shred ordinary output). The secrets are also remembered for
    /// log lines (see [`for_logs`]): whatever a capture redacts, its log redacts too.
    pub fn new(secrets: &[String]) -> Arc<Redactor> {
        let secrets: Vec<Vec<u8>> = secrets
            .iter()
            .filter(|s| s.len() >= 4)
            .map(|s| s.as_bytes().to_vec())
            .collect();
        remember_for_logs(&secrets);
        Arc::new(Redactor::build(secrets))
    }

    fn build(secrets: Vec<Vec<u8>>) -> Redactor {
        let mut alternatives: Vec<String> = secrets
            .iter()
            .map(|s| regex::escape(&String::from_utf8_lossy(s)))
            .collect();
        alternatives.extend(BENIGN.iter().map(|p| format!("(?:{p})")));
        alternatives.extend(PATTERNS.iter().map(|p| format!("(?:{p})")));
        alternatives.push(format!("(?:{PEM_BEGIN})"));
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
        Redactor {
            anchors,
            any_source: alternatives.join("|"),
            compiled: OnceLock::new(),
            secrets,
            hold: LONGEST_PATTERN_MATCH.max(longest_secret + 64),
        }
    }

    fn compiled(&self) -> &Compiled {
        self.compiled.get_or_init(|| Compiled {
            any: compile(&self.any_source),
            benign: compile(&format!("^(?:{})$", BENIGN.join("|"))),
            pem_begin: compile(&format!("^{PEM_BEGIN}$")),
            pem_end: compile(PEM_END),
            patterns: PATTERNS
                .iter()
                .map(|p| compile(&format!("^(?:{p})$")))
                .collect(),
        })
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

    /// Appends `input` to `out` with every secret replaced; returns how many were replaced.
    pub fn redact_into(&self, input: &[u8], out: &mut Vec<u8>) -> u64 {
        self.scan(&mut None, input, true, out).1
    }

    /// The first anchor at or after `from` (a position in the buffer; `lowered` is the buffer
    /// from `base` on, in lower case), ignoring ASCII case.
    fn anchor_at_or_after(
        &self,
        buffer: &[u8],
        base: usize,
        lowered: &[u8],
        from: usize,
    ) -> Option<usize> {
        // `^-u` (curl's flag at the very start) has no space before it to anchor on.
        if from == 0 && base == 0 && buffer.starts_with(b"-u") {
            return Some(0);
        }
        let span = from.saturating_sub(base).min(lowered.len())..lowered.len();
        let found = match &self.anchors {
            Anchors::Packed(teddy) => teddy.find_in(lowered, span.into()).map(|m| m.start()),
            Anchors::Automaton(automaton) => automaton
                .find(aho_corasick::Input::new(lowered).span(span))
                .map(|m| m.start()),
        };
        found.map(|at| at + base)
    }

    /// The next match at or after `cursor.at` whose anchor starts before `anchors_end`. The
    /// regex runs only on a window around each anchor hit (`LOOKBACK` before it, `hold` after):
    /// its cost follows the anchors found, not the size of the buffer. A window's match is taken
    /// only when it starts at or before the hit (so it lies whole in the window); otherwise a
    /// later hit's window finds it.
    fn next_match(
        &self,
        buffer: &[u8],
        base: usize,
        lowered: &[u8],
        cursor: &mut Cursor,
        anchors_end: usize,
    ) -> Option<std::ops::Range<usize>> {
        loop {
            let hit = self.anchor_at_or_after(buffer, base, lowered, cursor.anchor_from)?;
            if hit >= anchors_end {
                return None;
            }
            let any = &self.compiled().any;
            let start = cursor.at.max(hit.saturating_sub(LOOKBACK));
            let end = (hit + self.hold).min(buffer.len());
            let mut found = any.find_at(&buffer[..end], start).map(|m| m.range());
            // Only a match longer than `hold` (runs of whitespace) can reach the window's end.
            if found.as_ref().is_some_and(|m| m.end == end) && end < buffer.len() {
                found = any.find_at(buffer, start).map(|m| m.range());
            }
            match found {
                Some(m) if m.start <= hit => {
                    cursor.at = m.end.max(m.start + 1);
                    cursor.anchor_from = cursor.at;
                    return Some(m);
                }
                _ => cursor.anchor_from = hit + 1,
            }
        }
    }

    /// What a match of the alternation is.
    fn classify<'m>(&self, matched: &'m [u8]) -> Found<'m> {
        if self.secrets.iter().any(|s| s == matched) {
            return Found::Secret;
        }
        let compiled = self.compiled();
        if compiled.benign.is_match(matched) {
            return Found::Benign;
        }
        if compiled.pem_begin.is_match(matched) {
            return Found::PemBegin;
        }
        Found::Pattern(compiled.patterns.iter().find_map(|p| p.captures(matched)))
    }

    /// Writes a match with its secret replaced; returns false when nothing was replaced
    /// (benign text, or text already redacted).
    fn replace_match(&self, found: &Found<'_>, matched: &[u8], out: &mut Vec<u8>) -> bool {
        let start = out.len();
        match found {
            Found::Secret => out.extend_from_slice(MARK),
            Found::Benign => self.replace_secrets_in(matched, out),
            Found::PemBegin => {
                self.replace_secrets_in(matched, out);
                out.extend_from_slice(MARK);
            }
            // The kept parts may hold a registered secret (`http://SECRET:pw@host`).
            Found::Pattern(captures) => {
                let secret = captures
                    .as_ref()
                    .and_then(|c| c.iter().skip(1).flatten().next())
                    .map_or(0..matched.len(), |g| g.range());
                self.replace_secrets_in(&matched[..secret.start], out);
                out.extend_from_slice(MARK);
                self.replace_secrets_in(&matched[secret.end..], out);
            }
        }
        out[start..] != *matched
    }

    /// Copies `text` with every registered secret in it replaced (for the short parts of a match
    /// that are kept).
    fn replace_secrets_in(&self, text: &[u8], out: &mut Vec<u8>) {
        let mut at = 0;
        while at < text.len() {
            match self
                .secrets
                .iter()
                .find(|s| text[at..].starts_with(s.as_slice()))
            {
                Some(secret) => {
                    out.extend_from_slice(MARK);
                    at += secret.len();
                }
                None => {
                    out.push(text[at]);
                    at += 1;
                }
            }
        }
    }

    /// Redacts `buffer` into `out`, starting in or out of a PEM body (`pem`: bytes of the body
    /// dropped so far, updated). Unless
    /// `at_end`, stops before anything a later chunk could still change (a partial line, a match
    /// that reaches the end) and returns where it stopped; returns the count of secrets replaced.
    fn scan(
        &self,
        pem: &mut Option<usize>,
        buffer: &[u8],
        at_end: bool,
        out: &mut Vec<u8>,
    ) -> (usize, u64) {
        let mut pos = 0;
        let mut count = 0;
        loop {
            if let Some(dropped) = *pem {
                match self.pem_body_end(&buffer[pos..], dropped, at_end) {
                    Some(body) => {
                        pos += body;
                        *pem = None;
                    }
                    // Keep what could be the start of the END line.
                    None => {
                        let keep = PEM_END_MAX.min(buffer.len() - pos);
                        *pem = Some(dropped + buffer.len() - keep - pos);
                        return (buffer.len() - keep, count);
                    }
                }
            }
            let mut cut = if at_end {
                buffer.len()
            } else {
                let after_newline = memchr::memrchr(b'\n', buffer).map_or(0, |i| i + 1);
                after_newline
                    .max(buffer.len().saturating_sub(self.hold))
                    .max(pos)
            };
            let mut last = pos;
            let lowered = lowered(&buffer[pos..]);
            let mut cursor = Cursor {
                at: pos,
                anchor_from: pos,
            };
            while let Some(m) = self.next_match(buffer, pos, &lowered, &mut cursor, cut + LOOKBACK)
            {
                if m.end > cut {
                    cut = cut.min(m.start).max(last);
                    break;
                }
                out.extend_from_slice(&buffer[last..m.start]);
                let matched = &buffer[m.clone()];
                let found = self.classify(matched);
                if self.replace_match(&found, matched, out) {
                    count += 1;
                }
                last = m.end;
                if matches!(found, Found::PemBegin) {
                    *pem = Some(0);
                    break;
                }
            }
            give_back(lowered);
            if pem.is_some() {
                pos = last;
                continue;
            }
            out.extend_from_slice(&buffer[last..cut]);
            return (cut, count);
        }
    }

    /// Length of the PEM body at the start of `rest`, of which `dropped` bytes came before:
    /// up to the END line, or to `PEM_BODY_MAX`. None when the body may go on past `rest`
    /// (never `at_end`).
    fn pem_body_end(&self, rest: &[u8], dropped: usize, at_end: bool) -> Option<usize> {
        let left = PEM_BODY_MAX.saturating_sub(dropped);
        let window = &rest[..rest.len().min(left + PEM_END_MAX)];
        match self.compiled().pem_end.find(window) {
            Some(end) if end.start() <= left => Some(end.start()),
            _ if at_end || rest.len() >= left + PEM_END_MAX => Some(left.min(rest.len())),
            _ => None,
        }
    }

    /// The first match in `bytes` that redaction would still change: a secret left in the clear.
    /// Text that is already redacted (`password=[REDACTED]`) matches the patterns but is no
    /// finding. Export uses this to re-check packed bytes before anything leaves the machine.
    pub fn find_unredacted(&self, bytes: &[u8]) -> Option<std::ops::Range<usize>> {
        let mut replaced = Vec::new();
        let lowered = lowered(bytes);
        let mut cursor = Cursor {
            at: 0,
            anchor_from: 0,
        };
        let mut finding = None;
        while let Some(m) = self.next_match(bytes, 0, &lowered, &mut cursor, usize::MAX) {
            let matched = &bytes[m.clone()];
            let found = self.classify(matched);
            if let Found::PemBegin = found {
                // A redacted block goes on with the mark (or the END line) right away.
                let body = &bytes[m.end..];
                let skipped = pem_blank_prefix(body);
                if body
                    .get(skipped)
                    .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
                {
                    finding = Some(m.start..m.end + skipped + 1);
                    break;
                }
                continue;
            }
            replaced.clear();
            if self.replace_match(&found, matched, &mut replaced) {
                finding = Some(m);
                break;
            }
        }
        give_back(lowered);
        finding
    }

    /// The longest match these rules can make; a scanner of long data overlaps its windows by this.
    pub fn max_match_len(&self) -> usize {
        self.hold
    }

    pub fn stream(self: &Arc<Self>) -> StreamRedactor {
        StreamRedactor {
            rules: Arc::clone(self),
            carry: Vec::new(),
            pem: None,
            redactions: 0,
        }
    }
}

/// Length of the whitespace and escaped line breaks (`\n`, `\r`) at the start of `bytes`.
fn pem_blank_prefix(bytes: &[u8]) -> usize {
    let mut i = 0;
    loop {
        match bytes.get(i..) {
            Some([b' ' | b'\t' | b'\r' | b'\n', ..]) => i += 1,
            Some([b'\\', b'n' | b'r', ..]) => i += 2,
            _ => return i,
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

/// Secrets of every redactor built in this process, for log lines.
static LOG_SECRETS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// The rules for log lines, rebuilt when a secret is added.
static LOG_RULES: Mutex<Option<Arc<Redactor>>> = Mutex::new(None);

fn remember_for_logs(secrets: &[Vec<u8>]) {
    let mut known = LOG_SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    let before = known.len();
    for secret in secrets {
        if !known.contains(secret) {
            known.push(secret.clone());
        }
    }
    if known.len() != before {
        *LOG_RULES.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// The rules for log lines: the built-in patterns and every secret any redactor of this
/// process was built with (so a secret resolved for a capture never reaches its log).
pub fn for_logs() -> Arc<Redactor> {
    let mut rules = LOG_RULES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(rules) = rules.as_ref() {
        return Arc::clone(rules);
    }
    let secrets = LOG_SECRETS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let built = Arc::new(Redactor::build(secrets));
    *rules = Some(Arc::clone(&built));
    built
}

/// How much of a chunk [`StreamRedactor::push`] copies behind held-back bytes (far more than
/// the longest match, so what stays held back after it lies inside the chunk).
const JOIN_BYTES: usize = 8 << 10;

/// Per-stream redaction state: holds back an unfinished line (at most a bounded tail) so that a
/// secret split across chunks is seen whole. Complete lines pass through at once.
#[derive(Debug)]
pub struct StreamRedactor {
    rules: Arc<Redactor>,
    carry: Vec<u8>,
    /// Inside a PEM private key body: bytes dropped so far (dropped until its END line).
    pem: Option<usize>,
    pub redactions: u64,
}

impl StreamRedactor {
    /// Feeds a chunk; appends what is safe to emit now to `out`.
    ///
    /// Held-back bytes are joined with only the first [`JOIN_BYTES`] (or four times the longest
    /// match) of a big chunk: when what
    /// that leaves held back lies inside the chunk, the rest of the chunk is scanned where it
    /// is, uncopied. That is exactly feeding the chunk in two pieces, which the scan is built
    /// for; output without line breaks (binary, `/dev/zero`) always holds bytes back, and
    /// copying every chunk behind them cost a copy of the whole stream.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let carried = self.carry.len();
        let join = JOIN_BYTES.max(4 * self.rules.hold);
        if carried > 0 && chunk.len() > join {
            self.carry.extend_from_slice(&chunk[..join]);
            let mut joined = std::mem::take(&mut self.carry);
            let (done, count) = self.rules.scan(&mut self.pem, &joined, false, out);
            self.redactions += count;
            if done >= carried {
                joined.clear();
                self.carry = joined;
                self.push(&chunk[done - carried..], out);
            } else {
                joined.drain(..done);
                joined.extend_from_slice(&chunk[join..]);
                self.carry = joined;
                self.push(&[], out);
            }
            return;
        }
        let owned;
        let buffer: &[u8] = if self.carry.is_empty() {
            chunk
        } else {
            self.carry.extend_from_slice(chunk);
            owned = std::mem::take(&mut self.carry);
            &owned
        };
        let (done, count) = self.rules.scan(&mut self.pem, buffer, false, out);
        self.redactions += count;
        self.carry.extend_from_slice(&buffer[done..]);
    }

    /// Bytes held back from earlier chunks (an unfinished line's tail), emitted with later ones.
    pub fn held_back(&self) -> usize {
        self.carry.len()
    }

    /// Flushes what is held back at end of stream.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let carry = std::mem::take(&mut self.carry);
        let (_, count) = self.rules.scan(&mut self.pem, &carry, true, out);
        self.redactions += count;
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
        assert!(rules.compiled.get().is_none());
        // Output without any anchor never compiles them.
        let (text, n) = rules.redact_text("nothing to see here\n");
        assert_eq!((text.as_str(), n), ("nothing to see here\n", 0));
        assert!(rules.compiled.get().is_none());
        let (text, n) = rules.redact_text("x s3cr3t.(with)+regex|chars y");
        assert_eq!((text.as_str(), n), ("x [REDACTED] y", 1));
        assert!(rules.compiled.get().is_some());
        assert_eq!(rules.compiled().patterns.len(), PATTERNS.len());
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
            "MYSQL_PWD=x1",
            "X-Api-Key: x1",
            "authorization: x1",
            "ghp_x1x1x1x1x1x1x1x1x1x1x1x1x1x1x1x1x1x1",
            "github_pat_x1x1x1x1x1x1x1x1x1x1x1",
            "xoxp-x1x1x1x1x1x1",
            "curl -u ops:x1",
            "-u ops:x1",
            "\t--user=ops:x1",
            "-----BEGIN EC PRIVATE KEY-----x1",
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

    #[test]
    fn a_pem_block_without_end_drops_at_most_the_body_limit() {
        let rules = Redactor::patterns_only();
        let mut text = b"-----BEGIN PRIVATE KEY-----".to_vec();
        text.extend(std::iter::repeat_n(b'A', PEM_BODY_MAX));
        text.extend_from_slice(b"|recorded again\n");
        let expected = "-----BEGIN PRIVATE KEY-----[REDACTED]|recorded again\n";
        let (whole, n) = rules.redact_text(&String::from_utf8_lossy(&text));
        assert_eq!((whole.as_str(), n), (expected, 1));
        for size in [1, 7, 4096] {
            let chunks: Vec<&[u8]> = text.chunks(size).collect();
            assert_eq!(
                redact_chunks(&rules, &chunks).0,
                expected,
                "chunks of {size}"
            );
        }
    }

    /// What the windowed search must equal: the alternation run over the whole text.
    fn whole_text_reference(rules: &Redactor, text: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut last = 0;
        for m in rules.compiled().any.find_iter(text) {
            out.extend_from_slice(&text[last..m.start()]);
            let found = rules.classify(m.as_bytes());
            rules.replace_match(&found, m.as_bytes(), &mut out);
            last = m.end();
        }
        out.extend_from_slice(&text[last..]);
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

        /// Dense, overlapping and adjacent candidates: running the regex only around anchors
        /// finds exactly what running it over everything finds.
        #[test]
        fn windows_around_anchors_find_what_the_whole_text_regex_finds(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                "password=", "Password: ", "token=", "secret", "AKIA", "ABCDEFGHIJ0123456789",
                "://", "u:", "@h", " -u ", "-u", "a:b", "1000:1000", "Bearer ", "xoxb-",
                "ghp_", "0123456789abcdefghij", "Authorization: ", "x-api-key: ", "MYSQL_PWD=",
                "identified by '", "'", "(using password: NO)", "Reg-Secret-9", "\n", " ", "\t",
                "x", "curl", "--user=", "\"", ",", "=",
            ]), 0..80),
        ) {
            static RULES: OnceLock<Arc<Redactor>> = OnceLock::new();
            let rules = RULES.get_or_init(|| Redactor::new(&["Reg-Secret-9".to_string()]));
            let text = pieces.concat();
            let (redacted, _) = rules.redact_text(&text);
            let reference = whole_text_reference(rules, text.as_bytes());
            proptest::prop_assert_eq!(redacted, String::from_utf8_lossy(&reference).into_owned());
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

        /// Chunks bigger than `JOIN_BYTES` behind held-back bytes are scanned in two pieces
        /// without copying: the output is the same as feeding the stream in small chunks.
        #[test]
        fn big_chunks_after_held_back_bytes_redact_like_small_ones(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                "password=hunter2 ", "token=abc ", "AKIAABCDEFGHIJKLMNOP ", "Bearer eyJhbGciOi ",
                "Reg-Secret-9", "\n", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n",
                "\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}", " ", "://u:pw@h ",
            ]), 0..200),
            repeat in 1usize..40,
            first in 1usize..2000,
            big in (JOIN_BYTES + 1)..(12 * JOIN_BYTES),
        ) {
            static RULES: OnceLock<Arc<Redactor>> = OnceLock::new();
            let rules = RULES.get_or_init(|| Redactor::new(&["Reg-Secret-9".to_string()]));
            let text = pieces.concat().repeat(repeat);
            let bytes = text.as_bytes();
            let first = first.min(bytes.len());
            // A small chunk (so bytes are held back), then big ones.
            let mut chunks = vec![&bytes[..first]];
            chunks.extend(bytes[first..].chunks(big));
            let (streamed, n) = redact_chunks(rules, &chunks);
            let small: Vec<&[u8]> = bytes.chunks(JOIN_BYTES).collect();
            let (reference, m) = redact_chunks(rules, &small);
            proptest::prop_assert_eq!(n, m);
            proptest::prop_assert!(streamed == reference, "outputs differ");
        }
    }
}
