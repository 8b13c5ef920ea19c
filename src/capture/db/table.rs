//! Result sets as text: an aligned table with column names for people (the stream's stdout) and
//! JSON lines for programs (the stream's `.jsonl` copy).
//!
//! Rows stream: the table aligns on the first [`ALIGN_ROWS`] rows, then prints each row as it
//! comes, widening a column (and repeating the header) when a later value is wider. Values never
//! break the layout: control characters, newlines and invalid UTF-8 are escaped, and SQL NULL is
//! shown as `NULL` while a text that reads `NULL` is shown quoted (`'NULL'`).
use std::fmt::Write as _;
use unicode_width::UnicodeWidthStr;

/// Rows read before the column widths are fixed.
pub const ALIGN_ROWS: usize = 500;
/// Buffered text before the widths are fixed anyway (very wide rows).
const ALIGN_BYTES: usize = 4 << 20;
/// Columns are padded to at most this width; longer values run past their column.
pub const MAX_PAD_WIDTH: usize = 100;
/// Bytes of a binary value shown in the table (the JSON copy has all of them).
pub const BLOB_PREVIEW_BYTES: usize = 32;

/// How a column's values are shown and typed in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColClass {
    Integer,
    Decimal,
    Float,
    Bool,
    Json,
    /// Binary data: a hex preview with the length in the table, full hex in JSON.
    Bytes,
    Text,
}

impl ColClass {
    fn numeric(self) -> bool {
        matches!(
            self,
            ColClass::Integer | ColClass::Decimal | ColClass::Float
        )
    }
}

/// A result column: its name, the server's type name, and how to show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub type_name: String,
    pub class: ColClass,
}

/// One value as the driver handed it over.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Null,
    /// The server's text form (text protocol); its column's class says how to read it.
    Text(&'a [u8]),
    /// Raw bytes (decoded `bytea`, SQLite blobs).
    Bytes(Vec<u8>),
    Int(i64),
    Float(f64),
}

/// A value rendered for the table: escaped text that may still hold `\n` (vertical layout
/// shows those as line breaks; the grid shows them as `\n`).
#[derive(Debug, Clone, Default)]
struct Shown {
    text: String,
    right: bool,
    /// Cells the grid form takes (computed once; the grid reads it for every row).
    width: usize,
    /// Holds a line break, which the grid shows as `\n` (known once, not searched per use).
    multiline: bool,
}

impl Shown {
    /// Text and the facts the grid needs about it.
    fn new(text: String, right: bool) -> Shown {
        let mut shown = Shown {
            text,
            right,
            ..Shown::default()
        };
        shown.measure();
        shown
    }

    /// Works out `multiline` and `width` from the text.
    fn measure(&mut self) {
        self.multiline = memchr::memchr(b'\n', self.text.as_bytes()).is_some();
        self.width = if self.multiline {
            cell_width(&self.text.replace('\n', "\\n"))
        } else {
            cell_width(&self.text)
        };
    }

    /// The single-line form used in the grid.
    fn grid_text(&self) -> std::borrow::Cow<'_, str> {
        if self.multiline {
            std::borrow::Cow::Owned(self.text.replace('\n', "\\n"))
        } else {
            std::borrow::Cow::Borrowed(&self.text)
        }
    }
}

/// Escapes one value for a terminal or a text file: keeps printable text and `\n`, escapes
/// the rest (`\t`, `\r`, `\\`, other control and format characters, invalid UTF-8 bytes).
pub fn escape_text(bytes: &[u8], out: &mut String) {
    // Fast path for the common case (printable ASCII, no backslash): nothing to escape.
    if bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\')
    {
        // All ASCII, so valid UTF-8.
        out.push_str(std::str::from_utf8(bytes).unwrap_or_default());
        return;
    }
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push('\n'),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() || is_invisible_format(c) => {
                    let _ = write!(out, "\\u{{{:04x}}}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
}

/// Unicode format characters that can reorder or hide text (bidi overrides, zero-width joiners).
fn is_invisible_format(c: char) -> bool {
    matches!(c as u32, 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f | 0xfeff)
}

/// `0x0001ff… (1234 bytes)`.
pub fn blob_preview(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(BLOB_PREVIEW_BYTES)];
    let more = if bytes.len() > shown.len() { "…" } else { "" };
    let unit = if bytes.len() == 1 { "byte" } else { "bytes" };
    format!("0x{}{more} ({} {unit})", hex::encode(shown), bytes.len())
}

/// True when `text` would read as the NULL marker (or as an already-quoted one).
fn reads_as_null(text: &str) -> bool {
    // Checked for every cell: most values end in neither `l` nor a quote.
    if !text.ends_with(['l', 'L', '\'']) {
        return false;
    }
    text.trim_matches('\'').eq_ignore_ascii_case("null") && !text.is_empty()
}

/// Renders `cell` into `shown`, reusing its buffer (one allocation per column, not per cell).
fn show_into(cell: &Cell<'_>, class: ColClass, shown: &mut Shown) {
    let text = &mut shown.text;
    text.clear();
    shown.right = false;
    match cell {
        Cell::Null => text.push_str("NULL"),
        Cell::Bytes(bytes) => text.push_str(&blob_preview(bytes)),
        Cell::Text(bytes) if class == ColClass::Bytes => text.push_str(&blob_preview(bytes)),
        Cell::Text(bytes) => {
            escape_text(bytes, text);
            if reads_as_null(text) {
                *text = format!("'{text}'");
            }
            shown.right = class.numeric();
        }
        Cell::Int(v) => {
            let _ = write!(text, "{v}");
            shown.right = true;
        }
        Cell::Float(v) => {
            let _ = write!(text, "{v:?}");
            shown.right = true;
        }
    }
    shown.measure();
}

/// Is `text` a JSON number as written (so it can go into JSON unchanged, keeping every digit)?
fn is_json_number(text: &[u8]) -> bool {
    let mut i = 0;
    let n = text.len();
    if i < n && text[i] == b'-' {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < n && text[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let int_start = i;
    if digits(&mut i) == 0 || (text[int_start] == b'0' && i - int_start > 1) {
        return false;
    }
    if i < n && text[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if i < n && (text[i] == b'e' || text[i] == b'E') {
        i += 1;
        if i < n && (text[i] == b'+' || text[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == n
}

/// A JSON string of `bytes`, invalid UTF-8 replaced (validation alone is the fast path).
fn json_text(bytes: &[u8], out: &mut Vec<u8>) {
    // Most values are printable ASCII without a quote or backslash: nothing to validate or escape.
    if bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => json_string(text, out),
        Err(_) => json_string(&String::from_utf8_lossy(bytes), out),
    }
}

fn json_string(text: &str, out: &mut Vec<u8>) {
    // Serializing a &str cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// Appends one value as JSON: numbers stay numbers (every digit kept), booleans and JSON
/// documents stay typed, binary becomes a `0x…` hex string, NULL is `null`.
pub fn write_json_value(cell: &Cell<'_>, class: ColClass, out: &mut Vec<u8>) {
    match cell {
        Cell::Null => out.extend_from_slice(b"null"),
        Cell::Int(v) => {
            let _ = write!(Utf8Vec(out), "{v}");
        }
        Cell::Float(v) if v.is_finite() => {
            let _ = write!(Utf8Vec(out), "{v:?}");
        }
        Cell::Float(v) => json_string(&v.to_string(), out),
        Cell::Bytes(bytes) => json_string(&format!("0x{}", hex::encode(bytes)), out),
        Cell::Text(bytes) => match class {
            ColClass::Bytes => json_string(&format!("0x{}", hex::encode(bytes)), out),
            ColClass::Integer | ColClass::Decimal | ColClass::Float if is_json_number(bytes) => {
                out.extend_from_slice(bytes)
            }
            ColClass::Bool => match *bytes {
                b"t" | b"true" | b"1" => out.extend_from_slice(b"true"),
                b"f" | b"false" | b"0" => out.extend_from_slice(b"false"),
                _ => json_string(&String::from_utf8_lossy(bytes), out),
            },
            ColClass::Json => match serde_json::from_slice::<serde_json::Value>(bytes) {
                Ok(value) => {
                    let _ = serde_json::to_writer(&mut *out, &value);
                }
                Err(_) => json_string(&String::from_utf8_lossy(bytes), out),
            },
            _ => json_text(bytes, out),
        },
    }
}

/// `fmt::Write` into a byte vector.
struct Utf8Vec<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Utf8Vec<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Writes the JSON-lines copy of result sets: per result set a `{"_columns":[…]}` line, then
/// one object per row keyed by column name (duplicate names get `_2`, `_3`, …).
#[derive(Debug)]
pub struct JsonLines {
    keys: Vec<String>,
    classes: Vec<ColClass>,
}

impl JsonLines {
    /// Starts a result set; `meta` is extra members for the header line (sample, time, statement).
    pub fn begin(
        columns: &[Column],
        meta: &[(&str, serde_json::Value)],
        out: &mut Vec<u8>,
    ) -> JsonLines {
        let mut keys: Vec<String> = Vec::with_capacity(columns.len());
        for column in columns {
            let mut key = column.name.clone();
            let mut n = 1;
            while keys.contains(&key) {
                n += 1;
                key = format!("{}_{n}", column.name);
            }
            keys.push(key);
        }
        let described: Vec<serde_json::Value> = columns
            .iter()
            .zip(&keys)
            .map(|(c, key)| serde_json::json!({"name": c.name, "key": key, "type": c.type_name}))
            .collect();
        out.extend_from_slice(b"{\"_columns\":");
        let _ = serde_json::to_writer(&mut *out, &described);
        for (name, value) in meta {
            out.push(b',');
            json_string(name, out);
            out.push(b':');
            let _ = serde_json::to_writer(&mut *out, value);
        }
        out.extend_from_slice(b"}\n");
        let mut encoded = Vec::with_capacity(keys.len());
        for key in &keys {
            let mut k = Vec::new();
            json_string(key, &mut k);
            encoded.push(String::from_utf8_lossy(&k).into_owned());
        }
        JsonLines {
            keys: encoded,
            classes: columns.iter().map(|c| c.class).collect(),
        }
    }

    /// Appends one row as a JSON object line.
    pub fn row(&self, cells: &[Cell<'_>], out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(
                self.keys
                    .get(i)
                    .map_or(b"\"?\"".as_slice(), |k| k.as_bytes()),
            );
            out.push(b':');
            write_json_value(
                cell,
                self.classes.get(i).copied().unwrap_or(ColClass::Text),
                out,
            );
        }
        out.extend_from_slice(b"}\n");
    }
}

/// Writes one result set as an aligned text table, streaming.
#[derive(Debug)]
pub struct TableWriter {
    columns: Vec<Column>,
    widths: Vec<usize>,
    /// Rows held until the widths are fixed.
    pending: Vec<Vec<Shown>>,
    /// The row being written once aligned, reused so cells do not allocate.
    scratch: Vec<Shown>,
    pending_bytes: usize,
    aligned: bool,
    rows: u64,
}

impl TableWriter {
    pub fn new(columns: Vec<Column>) -> TableWriter {
        let widths = columns
            .iter()
            .map(|c| Shown::new(c.name.clone(), false).width.min(MAX_PAD_WIDTH))
            .collect();
        TableWriter {
            columns,
            widths,
            pending: Vec::new(),
            scratch: Vec::new(),
            pending_bytes: 0,
            aligned: false,
            rows: 0,
        }
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Adds a row; text that is ready goes to `out`.
    pub fn push(&mut self, cells: &[Cell<'_>], out: &mut String) {
        let mut shown = std::mem::take(&mut self.scratch);
        shown.resize_with(cells.len(), Shown::default);
        for (i, (cell, slot)) in cells.iter().zip(shown.iter_mut()).enumerate() {
            let class = self.columns.get(i).map_or(ColClass::Text, |c| c.class);
            show_into(cell, class, slot);
        }
        self.rows += 1;
        if self.aligned {
            let mut widened = false;
            for (i, cell) in shown.iter().enumerate() {
                let width = cell.width.min(MAX_PAD_WIDTH);
                if let Some(w) = self.widths.get_mut(i).filter(|w| width > **w) {
                    *w = width;
                    widened = true;
                }
            }
            if widened {
                self.header(out);
            }
            self.grid_row(&shown, out);
            self.scratch = shown;
            return;
        }
        self.pending_bytes += shown.iter().map(|s| s.text.len()).sum::<usize>();
        self.pending.push(shown);
        if self.pending.len() >= ALIGN_ROWS || self.pending_bytes >= ALIGN_BYTES {
            self.flush_pending(out);
        }
    }

    /// Ends the result set with its footer (`(3 rows)` plus `note`, e.g. a row-cap message).
    pub fn finish(mut self, note: Option<&str>, out: &mut String) {
        if !self.aligned {
            // A single row with multi-line text (SHOW ENGINE INNODB STATUS) reads better vertically;
            // more rows stay a grid, their line breaks shown as `\n`.
            let multiline = self.pending.len() == 1
                && self.pending.iter().flatten().any(|s| s.text.contains('\n'));
            if multiline {
                self.vertical(out);
            } else {
                self.flush_pending(out);
            }
        }
        if !self.aligned && self.pending.is_empty() && self.rows == 0 {
            self.header(out);
        }
        let unit = if self.rows == 1 { "row" } else { "rows" };
        match note {
            Some(note) => {
                let _ = writeln!(out, "({} {unit}; {note})", self.rows);
            }
            None => {
                let _ = writeln!(out, "({} {unit})", self.rows);
            }
        }
        out.push('\n');
    }

    fn flush_pending(&mut self, out: &mut String) {
        for row in &self.pending {
            for (i, cell) in row.iter().enumerate() {
                let width = cell.width.min(MAX_PAD_WIDTH);
                if let Some(w) = self.widths.get_mut(i) {
                    *w = (*w).max(width);
                }
            }
        }
        self.header(out);
        self.aligned = true;
        let pending = std::mem::take(&mut self.pending);
        for row in &pending {
            self.grid_row(row, out);
        }
        self.pending_bytes = 0;
    }

    fn header(&mut self, out: &mut String) {
        let names: Vec<Shown> = self
            .columns
            .iter()
            .map(|c| Shown::new(c.name.clone(), false))
            .collect();
        self.grid_row(&names, out);
        for (i, w) in self.widths.iter().enumerate() {
            if i > 0 {
                out.push('+');
            }
            out.extend(std::iter::repeat_n('-', w + 2));
        }
        out.push('\n');
        self.aligned = true;
    }

    fn grid_row(&self, cells: &[Shown], out: &mut String) {
        for (i, cell) in cells.iter().enumerate() {
            let text = cell.grid_text();
            let width = self.widths.get(i).copied().unwrap_or(0);
            let pad = width.saturating_sub(cell.width);
            out.push_str(if i > 0 { "| " } else { " " });
            let last = i + 1 == cells.len();
            if cell.right {
                out.extend(std::iter::repeat_n(' ', pad));
                out.push_str(&text);
            } else {
                out.push_str(&text);
                if !last {
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            if !last {
                out.push(' ');
            }
        }
        out.push('\n');
    }

    /// One block per row, `name: value`, multi-line values kept as lines (like `\G`): used for
    /// a single row holding multi-line text (SHOW ENGINE INNODB STATUS).
    fn vertical(&mut self, out: &mut String) {
        let name_width = self
            .columns
            .iter()
            .map(|c| c.name.width())
            .max()
            .unwrap_or(0);
        let pending = std::mem::take(&mut self.pending);
        for (n, row) in pending.iter().enumerate() {
            let _ = writeln!(
                out,
                "*************************** {}. row ***************************",
                n + 1
            );
            for (column, cell) in self.columns.iter().zip(row) {
                let _ = write!(out, "{:>name_width$}: ", column.name);
                let mut lines = cell.text.split('\n');
                out.push_str(lines.next().unwrap_or_default());
                out.push('\n');
                for line in lines {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        self.aligned = true;
    }
}

/// Display width in terminal cells; escaped ASCII (the usual case) is one cell per byte.
fn cell_width(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        text.width()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, class: ColClass) -> Column {
        Column {
            name: name.into(),
            type_name: "T".into(),
            class,
        }
    }

    #[test]
    fn aligns_escapes_and_marks_null() {
        let mut table = TableWriter::new(vec![
            col("id", ColClass::Integer),
            col("note", ColClass::Text),
        ]);
        let mut out = String::new();
        table.push(&[Cell::Text(b"7"), Cell::Null], &mut out);
        table.push(&[Cell::Text(b"1234"), Cell::Text(b"NULL")], &mut out);
        table.push(
            &[Cell::Text(b"5"), Cell::Text(b"a\tb\x1b[31m\xff")],
            &mut out,
        );
        assert!(out.is_empty(), "rows are held until aligned: {out}");
        table.finish(None, &mut out);
        let expected = " id   | note\n------+----------------------\n    7 | NULL\n 1234 | 'NULL'\n    5 | a\\tb\\u{001b}[31m\\xff\n(3 rows)\n\n";
        assert_eq!(out, expected);
    }

    #[test]
    fn empty_result_still_shows_columns() {
        let table = TableWriter::new(vec![col("a", ColClass::Text), col("b", ColClass::Text)]);
        let mut out = String::new();
        table.finish(None, &mut out);
        assert_eq!(out, " a | b\n---+---\n(0 rows)\n\n");
    }

    #[test]
    fn widens_after_alignment_and_repeats_the_header() {
        let mut table = TableWriter::new(vec![col("v", ColClass::Text)]);
        let mut out = String::new();
        for _ in 0..ALIGN_ROWS {
            table.push(&[Cell::Text(b"x")], &mut out);
        }
        assert!(out.starts_with(" v\n---\n x\n"));
        out.clear();
        table.push(&[Cell::Text(b"wider")], &mut out);
        assert_eq!(out, " v\n-------\n wider\n");
    }

    #[test]
    fn multiline_short_results_print_vertically() {
        let mut table = TableWriter::new(vec![
            col("Type", ColClass::Text),
            col("Status", ColClass::Text),
        ]);
        let mut out = String::new();
        table.push(
            &[Cell::Text(b"InnoDB"), Cell::Text(b"line one\nline two")],
            &mut out,
        );
        table.finish(None, &mut out);
        assert!(
            out.contains("  Type: InnoDB\nStatus: line one\nline two\n"),
            "{out}"
        );
    }

    #[test]
    fn json_keeps_types() {
        let columns = vec![
            col("n", ColClass::Decimal),
            col("n", ColClass::Bool),
            col("j", ColClass::Json),
            col("b", ColClass::Bytes),
            col("t", ColClass::Text),
            col("x", ColClass::Float),
        ];
        let mut out = Vec::new();
        let lines = JsonLines::begin(&columns, &[], &mut out);
        out.clear();
        lines.row(
            &[
                Cell::Text(b"12345678901234567890.000001"),
                Cell::Text(b"t"),
                Cell::Text(br#"{"a": [1]}"#),
                Cell::Text(b"\x00\xff"),
                Cell::Null,
                Cell::Text(b"NaN"),
            ],
            &mut out,
        );
        assert_eq!(
            String::from_utf8_lossy(&out),
            "{\"n\":12345678901234567890.000001,\"n_2\":true,\"j\":{\"a\":[1]},\"b\":\"0x00ff\",\"t\":null,\"x\":\"NaN\"}\n"
        );
        assert!(!is_json_number(b"01") && !is_json_number(b"1.") && is_json_number(b"-0.5e+3"));
    }

    #[test]
    fn json_text_fast_path_writes_what_serde_writes() {
        for text in [
            "",
            "plain text 123",
            "q\"uote",
            "back\\slash",
            "tab\t",
            "\u{7f}",
            "é ü",
            "\u{1b}[31m",
        ] {
            let mut ours = Vec::new();
            json_text(text.as_bytes(), &mut ours);
            assert_eq!(ours, serde_json::to_vec(text).expect("json"), "{text:?}");
        }
    }

    #[test]
    fn blob_preview_shows_length() {
        assert_eq!(blob_preview(&[0, 1, 255]), "0x0001ff (3 bytes)");
        assert!(blob_preview(&[7; 100]).ends_with("… (100 bytes)"));
    }
}
