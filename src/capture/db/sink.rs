//! Where a query step's results go: the table text to stdout and JSON lines to the `.jsonl`
//! copy, in batches (a write per row would cost more than the query), flushed at least every
//! [`FLUSH_INTERVAL`] so a live view keeps up. Applies the row cap and notices the byte cap.
use super::table::{Cell, Column, JsonLines, TableWriter};
use crate::capture::runner::StreamIo;
use crate::snapshot::journal::Fd;
use std::time::{Duration, Instant};

const FLUSH_BYTES: usize = 64 << 10;
const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// A stream's result writer; see the module docs.
pub struct Sink<'a, 'b> {
    io: &'a mut StreamIo<'b>,
    max_rows: u64,
    text: String,
    data: Vec<u8>,
    table: Option<TableWriter>,
    json: Option<JsonLines>,
    meta: Vec<(&'static str, serde_json::Value)>,
    rows_in_result: u64,
    results: u64,
    capped: Option<String>,
    error: Option<std::io::Error>,
    last_flush: Instant,
}

impl<'a, 'b> Sink<'a, 'b> {
    pub fn new(io: &'a mut StreamIo<'b>, max_rows: u64) -> Sink<'a, 'b> {
        Sink {
            io,
            max_rows: max_rows.max(1),
            text: String::with_capacity(FLUSH_BYTES * 2),
            data: Vec::with_capacity(FLUSH_BYTES * 2),
            table: None,
            json: None,
            meta: Vec::new(),
            rows_in_result: 0,
            results: 0,
            capped: None,
            error: None,
            last_flush: Instant::now(),
        }
    }

    /// Extra members for the JSON header line of the following result sets (sample number, time).
    pub fn set_meta(&mut self, meta: Vec<(&'static str, serde_json::Value)>) {
        self.meta = meta;
    }

    /// Plain text for stdout (sample headers, notes).
    pub fn text(&mut self, text: &str) {
        self.text.push_str(text);
        self.maybe_flush();
    }

    /// A line for stderr (errors, hints); written at once.
    pub fn stderr(&mut self, text: &str) {
        self.flush();
        if let Err(e) = super::stderr_line(self.io, text) {
            self.error.get_or_insert(e);
        }
    }

    /// Starts a result set with these columns.
    pub fn begin_result(&mut self, columns: Vec<Column>) {
        self.results += 1;
        let mut meta: Vec<(&str, serde_json::Value)> =
            self.meta.iter().map(|(k, v)| (*k, v.clone())).collect();
        if self.results > 1 {
            meta.push(("_result", self.results.into()));
        }
        self.json = Some(JsonLines::begin(&columns, &meta, &mut self.data));
        self.table = Some(TableWriter::new(columns));
        self.rows_in_result = 0;
    }

    /// A statement that returned no rows: its column header (when the columns are known) and
    /// `(0 rows)`, or `(no rows)` for a statement without a result set.
    pub fn empty_result(&mut self, columns: Vec<Column>) {
        if columns.is_empty() {
            self.text("(no rows)\n\n");
        } else {
            self.begin_result(columns);
            self.end_result(None);
        }
    }

    /// Adds a row; false when no more rows are wanted (row cap or byte cap reached).
    pub fn row(&mut self, cells: &[Cell<'_>]) -> bool {
        if self.rows_in_result >= self.max_rows {
            self.capped = Some(format!("stopped at the row cap of {} rows", self.max_rows));
            return false;
        }
        self.rows_in_result += 1;
        if let Some(table) = &mut self.table {
            table.push(cells, &mut self.text);
        }
        if let Some(json) = &self.json {
            json.row(cells, &mut self.data);
        }
        // Reading the clock per row shows in profiles; every 64th row is often enough.
        if self.rows_in_result.is_multiple_of(64)
            || self.text.len() >= FLUSH_BYTES
            || self.data.len() >= FLUSH_BYTES
        {
            self.maybe_flush();
        }
        if self.io.stdout_full() {
            self.capped = Some("stopped: the step's output cap was reached".into());
            return false;
        }
        self.error.is_none()
    }

    /// Why reading stopped early, for the table footer.
    pub fn cap_note(&self) -> String {
        self.capped
            .clone()
            .unwrap_or_else(|| "stopped early".into())
    }

    /// Ends the current result set (footer with the row count and `note`).
    pub fn end_result(&mut self, note: Option<String>) {
        if let Some(table) = self.table.take() {
            table.finish(note.as_deref(), &mut self.text);
        }
        self.json = None;
        self.maybe_flush();
    }

    /// Rows of the current result set so far.
    pub fn rows_in_result(&self) -> u64 {
        self.rows_in_result
    }

    pub fn capped(&self) -> bool {
        self.capped.is_some()
    }

    /// The first write error, if any (the snapshot disk is full, …).
    pub fn write_error(&self) -> Option<&std::io::Error> {
        self.error.as_ref()
    }

    fn maybe_flush(&mut self) {
        if self.text.len() >= FLUSH_BYTES
            || self.data.len() >= FLUSH_BYTES
            || self.last_flush.elapsed() >= FLUSH_INTERVAL
        {
            self.flush();
        }
    }

    /// Writes what is pending to the snapshot.
    pub fn flush(&mut self) {
        self.last_flush = Instant::now();
        if !self.text.is_empty() {
            if let Err(e) = self.io.chunk(Fd::Out, self.text.as_bytes()) {
                self.error.get_or_insert(e);
            }
            self.text.clear();
        }
        if !self.data.is_empty() {
            if let Err(e) = self.io.data_chunk(&self.data) {
                self.error.get_or_insert(e);
            }
            self.data.clear();
        }
    }

    /// Ends any open result set and writes everything out.
    pub fn finish(&mut self) {
        if self.table.is_some() {
            self.end_result(None);
        }
        self.flush();
    }
}
