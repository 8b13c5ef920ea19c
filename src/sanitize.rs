//! The one sanitiser for every byte that reaches a terminal.
//!
//! Captured output, manifest fields, URLs and error messages may hold escape sequences (OSC 0
//! sets the title, OSC 52 writes the clipboard, CSI 2J clears the screen), a carriage return
//! that hides what came before it, C1 controls that some terminals obey as CSI, or bidi and
//! invisible formatting characters that reorder or hide text. [`needs_escape`] decides, in one
//! place, which characters are never sent to a terminal as they are; the renderings below show
//! them as visible text instead:
//! - [`text`] / [`bytes`] for printed lines: `\e`, `\x07`, `\r`, `\u{202e}`, `\xff` for bytes
//!   that are not UTF-8. Newline and tab are kept, so a multi-line message stays readable.
//! - [`cells`] for TUI cells: one visible placeholder per character (control pictures such as
//!   `␛`, `␍`), so columns stay aligned, and tabs expanded.
use std::borrow::Cow;
use std::fmt::Write as _;

/// True for a character that must never reach a terminal as it is: C0 controls (ESC, BEL,
/// CR, …), DEL, C1 controls, and the bidi/invisible formatting characters that can reorder or
/// hide what the operator reads. Newline and tab are included: callers decide whether to keep
/// them.
pub fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{ad}' // soft hyphen: invisible
            | '\u{61c}' // Arabic letter mark (bidi)
            | '\u{180e}' // Mongolian vowel separator: invisible
            | '\u{200b}'..='\u{200f}' // zero-width characters, LRM/RLM
            | '\u{2028}'..='\u{202e}' // line/paragraph separators, bidi embeddings and overrides
            | '\u{2060}'..='\u{206f}' // word joiner, invisible operators, bidi isolates
            | '\u{feff}' // zero-width no-break space / BOM
            | '\u{fff9}'..='\u{fffb}' // interlinear annotation
    )
}

/// The visible escape for a character [`needs_escape`] flags: `\e`, `\r`, `\x07`, `\u{202e}`.
fn push_escape(out: &mut String, c: char) {
    match c {
        '\u{1b}' => out.push_str("\\e"),
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\u{0}'..='\u{7f}' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        _ => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// Text that is safe to print: every character [`needs_escape`] flags is shown as a visible
/// escape, except newline and tab, which are kept so multi-line messages stay readable.
/// Borrows when there is nothing to escape (the common case).
pub fn text(s: &str) -> Cow<'_, str> {
    let keep = |c: char| c == '\n' || c == '\t' || !needs_escape(c);
    if s.chars().all(keep) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    push_text(&mut out, s);
    Cow::Owned(out)
}

/// Like [`text`] for a field that is one line by nature (an operator, a reason, a stream id
/// read from a manifest): newline and tab are escaped too, so a field cannot forge extra lines
/// of the report around it (a fake `integrity  all files match`).
pub fn line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if needs_escape(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn push_text(out: &mut String, s: &str) {
    for c in s.chars() {
        if c == '\n' || c == '\t' || !needs_escape(c) {
            out.push(c);
        } else {
            push_escape(out, c);
        }
    }
}

/// Like [`text`] for raw bytes: bytes that are not UTF-8 are shown as `\xNN`.
pub fn bytes(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for chunk in raw.utf8_chunks() {
        push_text(&mut out, chunk.valid());
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// JSON text (from `serde_json`) made inert while staying valid JSON: characters that
/// [`needs_escape`] flags can only sit inside strings there (serde already escapes C0 in
/// strings), so they become `\uXXXX` escapes that any JSON reader decodes back. Newline and tab
/// are kept: outside strings they are pretty-printing whitespace.
pub fn json(s: &str) -> Cow<'_, str> {
    let keep = |c: char| c == '\n' || c == '\t' || !needs_escape(c);
    if s.chars().all(keep) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if keep(c) {
            out.push(c);
        } else {
            // Every flagged character is in the Basic Multilingual Plane: one \uXXXX each.
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
    }
    Cow::Owned(out)
}

/// Width a tab expands to in a TUI pane.
const TAB_WIDTH: usize = 4;

/// Captured bytes as text for terminal cells (one line of a TUI pane): invalid UTF-8 becomes
/// U+FFFD, tabs are expanded, and every character [`needs_escape`] flags becomes one visible
/// placeholder (a control picture such as `␛` or `␍`, `␡` for DEL, `�` for the rest), so
/// a sequence is shown, never obeyed, and each character still takes one cell.
pub fn cells(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len());
    let mut column = 0usize;
    for c in text.chars() {
        match c {
            '\t' => {
                let pad = TAB_WIDTH - column % TAB_WIDTH;
                out.extend(std::iter::repeat_n(' ', pad));
                column += pad;
                continue;
            }
            '\u{0}'..='\u{1f}' => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('?')),
            '\u{7f}' => out.push('␡'),
            c if needs_escape(c) => out.push('�'),
            c => out.push(c),
        }
        column += 1;
    }
    out
}

/// True for characters [`cells`] produced as placeholders (drawn in the placeholder style).
pub fn is_placeholder(c: char) -> bool {
    matches!(c, '\u{2400}'..='\u{241f}' | '␡' | '�')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HOSTILE: &[u8] = b"a\x1b[2J\x1b[H\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x1b\\b\r\x9b31m\xff\xfe\tz\x7f\xe2\x80\xae";

    #[test]
    fn hostile_bytes_become_visible_cells() {
        let clean = cells(HOSTILE);
        assert!(!clean.chars().any(|c| c.is_control()), "{clean:?}");
        assert!(
            clean.starts_with("a␛[2J␛[H␛]0;pwned␇␛]52;c;ZXZpbA==␛\\b␍"),
            "{clean:?}"
        );
        assert!(clean.contains("��"), "invalid UTF-8 is replaced: {clean:?}");
        assert!(
            clean.ends_with(" z␡�"),
            "tab expanded, DEL and RLO shown: {clean:?}"
        );
    }

    #[test]
    fn hostile_bytes_become_visible_escapes() {
        assert_eq!(
            bytes(HOSTILE),
            "a\\e[2J\\e[H\\e]0;pwned\\x07\\e]52;c;ZXZpbA==\\e\\b\\r\\x9b31m\\xff\\xfe\tz\\x7f\\u{202e}"
        );
        assert_eq!(text("x\u{9b}2J\u{200b}\r\n"), "x\\u{9b}2J\\u{200b}\\r\n");
        assert!(matches!(text("plain\ttext\n"), Cow::Borrowed(_)));
        assert_eq!(
            line("root\nintegrity  all 3 match\t\u{1b}[2J"),
            "root\\nintegrity  all 3 match\\t\\e[2J"
        );
        assert!(matches!(line("root@vm"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_stays_valid_and_inert() {
        let value = serde_json::json!({"operator": "x\u{1b}]0;t\u{7}\u{9b}2J\u{202e}\r"});
        let shown = json(&serde_json::to_string_pretty(&value).unwrap_or_default()).into_owned();
        assert_inert(&shown);
        let back: serde_json::Value = serde_json::from_str(&shown).unwrap_or_default();
        assert_eq!(back, value);
    }

    /// A byte that a terminal could obey: C0 except the kept newline and tab, DEL, or the
    /// UTF-8 encoding of a C1 control or a bidi/invisible character.
    fn assert_inert(out: &str) {
        for c in out.chars() {
            assert!(
                c == '\n' || c == '\t' || !needs_escape(c),
                "{c:?} reached the output in {out:?}"
            );
        }
        assert!(
            !out.bytes()
                .any(|b| b < 0x20 && b != b'\n' && b != b'\t' || b == 0x7f),
            "{out:?}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn no_control_byte_survives_bytes(raw in proptest::collection::vec(any::<u8>(), 0..256)) {
            assert_inert(&bytes(&raw));
        }

        #[test]
        fn no_control_char_survives_text(s in "\\PC*|[\\x00-\\x{a0}\\x{200b}-\\x{206f}\\x{feff}]*") {
            assert_inert(&text(&s));
            let c = cells(s.as_bytes());
            prop_assert!(c.chars().all(|c| !needs_escape(c)), "{:?}", c);
        }

        #[test]
        fn json_round_trips_and_is_inert(s in "\\PC*|[\\x00-\\x{a0}\\x{200b}-\\x{206f}\\x{feff}]*") {
            let value = serde_json::json!({ "field": s, "list": [s.clone()] });
            for text in [value.to_string(), serde_json::to_string_pretty(&value).unwrap_or_default()] {
                let shown = json(&text).into_owned();
                assert_inert(&shown);
                let back: serde_json::Value = serde_json::from_str(&shown).unwrap_or_default();
                prop_assert_eq!(&back, &value);
            }
        }

        #[test]
        fn a_line_stays_one_line(s in "\\PC*|[\\x00-\\x{a0}\\x{200b}-\\x{206f}\\x{feff}]*") {
            let shown = line(&s);
            assert_inert(&shown);
            prop_assert!(!shown.contains(['\n', '\t']), "{:?}", shown);
        }

        #[test]
        fn any_char_is_escaped_or_kept(c in any::<char>()) {
            let shown = text(&c.to_string()).into_owned();
            assert_inert(&shown);
            if !needs_escape(c) || c == '\n' || c == '\t' {
                prop_assert_eq!(shown, c.to_string());
            }
        }
    }
}
