//! Database targets (MySQL/MariaDB, PostgreSQL, SQLite) over sqlx, built to be safe on a
//! struggling production server:
//!
//! - one connection per target, shared by its streams one step at a time (the engine runs
//!   streams concurrently; [`DbRunner`] serialises them on a mutex);
//! - a read-only session, short lock waits, and a server-side statement timeout per step;
//! - a client-side deadline that cancels the statement *on the server* from a second
//!   connection (dropping a future does not stop a query), then checks the session is usable;
//! - a row cap per query and the stream's byte cap stop reading early (and cancel the rest);
//! - a connect timeout, and a failed connection is not retried by every queued step.
//!
//! Results are written as an aligned table on stdout and JSON lines in the `.jsonl` copy
//! (see [`table`]). Errors go to stderr in the server's words, plus a plain hint for missing
//! privileges; a missing table or extension makes the stream "not available".
pub mod mysql;
pub mod postgres;
pub mod probe;
pub mod reader;
pub mod sink;
pub mod sqlite;
pub mod statement;
pub mod table;
pub mod via;

use crate::capture::runner::{RunOutcome, StreamIo};
use crate::model::{StepAction, StreamSpec, Target, TargetSpec};
use crate::secret::SecretValue;
use crate::snapshot::journal::Fd;
use sink::Sink;
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long connecting may take before the target is reported unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Lock waits (metadata/row locks, PostgreSQL `lock_timeout`): a capture never queues behind DDL.
pub const LOCK_WAIT: Duration = Duration::from_secs(3);
/// Rows read per query when the step sets no `max_rows`.
pub const DEFAULT_MAX_ROWS: u64 = 1_000_000;
/// After a server-side cancel, how long the session gets to settle (within [`STOP_BUDGET`]).
pub const CANCEL_GRACE: Duration = Duration::from_secs(1);
/// The client deadline is this much later than the server-side statement timeout, so the
/// server normally stops the statement itself.
pub const CLIENT_SLACK: Duration = Duration::from_millis(400);
/// Everything after the client deadline (cancel on the server from a second connection, read
/// what the statement still sends, check the session): a frozen server cannot stretch it.
/// Past it the session is dropped and the next step reconnects.
pub const STOP_BUDGET: Duration = Duration::from_millis(1200);
/// The last resort: a step's sample (connect included) ends by its timeout plus this, whatever
/// the server does. Slightly more than the two above, so their clearer messages win normally.
pub const HARD_GRACE: Duration = Duration::from_millis(1900);

/// Why a query ended.
#[derive(Debug)]
pub enum QueryEnd {
    /// Every row read (or the row/byte cap reached, see the sink).
    Done,
    /// The server refused or failed the statement.
    Failed(DbError),
    /// Past the step's timeout; `detail` says how it was stopped.
    TimedOut(String),
    Cancelled,
    /// The session is unusable (lost connection, protocol error); it will be reopened.
    Broken(String),
}

/// A statement error, already classified.
#[derive(Debug, Clone)]
pub struct DbError {
    /// The server's words, e.g. `ERROR 1227 (42000): Access denied; you need …`.
    pub message: String,
    pub kind: DbErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbErrorKind {
    /// The account lacks a privilege; the string names it when known (`PROCESS`).
    Privilege(Option<String>),
    /// A table, view, function or extension the statement reads does not exist.
    Missing,
    /// The server stopped the statement at its timeout.
    Timeout,
    /// A write refused by the read-only session.
    ReadOnly,
    Other,
}

/// An open session of one kind.
pub enum Session {
    Mysql(mysql::MysqlSession),
    Postgres(postgres::PgSession),
    Sqlite(sqlite::SqliteSession),
}

impl Session {
    async fn run_query(
        &mut self,
        sql: &str,
        timeout: Duration,
        sink: &mut Sink<'_, '_>,
        cancel: &CancellationToken,
    ) -> QueryEnd {
        match self {
            Session::Mysql(s) => s.run_query(sql, timeout, sink, cancel).await,
            Session::Postgres(s) => s.run_query(sql, timeout, sink, cancel).await,
            Session::Sqlite(s) => s.run_query(sql, timeout, sink, cancel).await,
        }
    }

    fn is_broken(&self) -> bool {
        match self {
            Session::Mysql(s) => s.is_broken(),
            Session::Postgres(s) => s.is_broken(),
            Session::Sqlite(s) => s.is_broken(),
        }
    }

    /// A note for stderr when the account cannot see what this query is meant to show.
    fn visibility_note(&self, sql: &str) -> Option<String> {
        match self {
            Session::Mysql(s) => s.visibility_note(sql),
            Session::Postgres(s) => s.visibility_note(sql),
            Session::Sqlite(_) => None,
        }
    }

    async fn close(self) {
        match self {
            Session::Mysql(s) => s.close().await,
            Session::Postgres(s) => s.close().await,
            Session::Sqlite(s) => s.close().await,
        }
    }
}

/// How to connect to one database target.
#[derive(Clone)]
pub enum ConnectSpec {
    Mysql(mysql::MysqlConnect),
    Postgres(postgres::PgConnect),
    Sqlite(sqlite::SqliteConnect),
}

impl ConnectSpec {
    async fn open(&self) -> Result<Session, String> {
        match self {
            ConnectSpec::Mysql(c) => c.open().await.map(Session::Mysql),
            ConnectSpec::Postgres(c) => c.open().await.map(Session::Postgres),
            ConnectSpec::Sqlite(c) => c.open().await.map(Session::Sqlite),
        }
    }
}

enum Slot {
    NotConnected,
    Open(Box<Session>),
    /// Connecting failed; later steps report the same error instead of hammering the server.
    Failed(String),
}

/// Runs query steps on one database target over one shared session.
pub struct DbRunner {
    target: String,
    connect: ConnectSpec,
    /// The SSH host and forward the server is reached through (`via`), if any.
    via: Option<via::Via>,
    slot: Mutex<Slot>,
}

impl std::fmt::Debug for DbRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Connect options hold the password: never print them.
        f.debug_struct("DbRunner")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl DbRunner {
    /// A runner for a database target; connects on the first step. `ssh` resolves a `via` host.
    pub fn new(
        target: &Target,
        password: Option<SecretValue>,
        ssh: &crate::ssh::SshContext,
    ) -> Result<DbRunner, String> {
        let via_name = match &target.spec {
            TargetSpec::Mysql(a) | TargetSpec::Postgres(a) => a.via.as_deref(),
            _ => None,
        };
        let label = format!(
            "target `{}` ({}{})",
            target.name,
            target.spec.to_url(),
            via_name.map(|v| format!(" via {v}")).unwrap_or_default()
        );
        let (connect, via) = match &target.spec {
            TargetSpec::Mysql(address) => {
                let port = address.port.unwrap_or(mysql::DEFAULT_PORT);
                let (address, via) = through_via(address, port, "mysql.sock".into(), ssh)?;
                let connect = mysql::MysqlConnect::new(&address, password, &label)?;
                (ConnectSpec::Mysql(connect), via)
            }
            TargetSpec::Postgres(address) => {
                let port = address.port.unwrap_or(postgres::DEFAULT_PORT);
                // libpq's socket naming: the client is given the directory.
                let (mut address, via) =
                    through_via(address, port, format!(".s.PGSQL.{port}"), ssh)?;
                if let Some(via) = &via {
                    address.socket = Some(via.dir().display().to_string());
                }
                let connect = postgres::PgConnect::new(&address, password, &label)?;
                (ConnectSpec::Postgres(connect), via)
            }
            TargetSpec::Sqlite { path } => (
                ConnectSpec::Sqlite(sqlite::SqliteConnect::new(path, &label)),
                None,
            ),
            _ => return Err(format!("{label} is not a database target")),
        };
        Ok(DbRunner {
            target: label,
            connect,
            via,
            slot: Mutex::new(Slot::NotConnected),
        })
    }

    /// Runs one query step (every sample of it) on the shared session.
    pub async fn run(
        &self,
        spec: &StreamSpec,
        io: &mut StreamIo<'_>,
        cancel: &CancellationToken,
    ) -> RunOutcome {
        let StepAction::Query(sql) = &spec.action else {
            return RunOutcome {
                error: Some("a shell command cannot run on a database target".into()),
                ..Default::default()
            };
        };
        // Steps of one target run one after another on its single session.
        let mut slot = tokio::select! {
            slot = self.slot.lock() => slot,
            _ = cancel.cancelled() => return RunOutcome { cancelled: true, ..Default::default() },
        };
        let samples = spec.repeat.map_or(1, |r| r.samples.max(1));
        let every = spec.repeat.map_or(Duration::ZERO, |r| r.every);
        let mut sink = Sink::new(io, spec.max_rows.unwrap_or(DEFAULT_MAX_ROWS));
        let mut outcome = RunOutcome::default();
        for sample in 1..=samples {
            let started = Instant::now();
            let sample_deadline = crate::capture::deadline::after(spec.timeout);
            let at = crate::snapshot::writer::timestamp(SystemTime::now());
            if samples > 1 {
                sink.text(&format!("-- sample {sample}/{samples} at {at}\n"));
                sink.set_meta(vec![("_sample", sample.into()), ("_at", at.into())]);
            }
            // Connecting and the query share the step's timeout; the hard limit holds even when
            // a frozen server stops answering in a place nothing else bounds.
            let bounded = tokio::time::timeout_at(
                crate::capture::deadline::after(spec.timeout.saturating_add(HARD_GRACE)),
                async {
                    let session = match self.session(&mut slot, cancel).await {
                        Ok(Some(session)) => session,
                        Ok(None) => return Err(None),
                        Err(message) => return Err(Some(message)),
                    };
                    if let Some(note) = session.visibility_note(sql) {
                        sink.stderr(&format!("casefile: {note}\n"));
                    }
                    let limit = sample_deadline
                        .saturating_duration_since(Instant::now())
                        .max(Duration::from_millis(1));
                    Ok(session.run_query(sql, limit, &mut sink, cancel).await)
                },
            )
            .await;
            let end = match bounded {
                Ok(Ok(end)) => end,
                Ok(Err(None)) => {
                    outcome.cancelled = true;
                    break;
                }
                Ok(Err(Some(message))) => {
                    sink.stderr(&format!("casefile: {message}\n"));
                    outcome.error = Some(message);
                    break;
                }
                Err(_) => {
                    // Dropping the session closes its socket; the next step reconnects.
                    *slot = Slot::NotConnected;
                    QueryEnd::TimedOut(format!(
                        "{}: the server did not answer within the step's timeout of {}s (plus {}s to stop); the session was closed",
                        self.target,
                        seconds(spec.timeout),
                        seconds(HARD_GRACE)
                    ))
                }
            };
            let stop = apply_end(end, &mut sink, &mut outcome);
            if matches!(&*slot, Slot::Open(session) if session.is_broken()) {
                // Reopened by the next step or sample.
                if let Slot::Open(session) = std::mem::replace(&mut *slot, Slot::NotConnected) {
                    session.close().await;
                }
            }
            if let Some(e) = sink.write_error() {
                outcome.error = Some(format!("cannot write to the snapshot: {e}"));
                break;
            }
            if stop || sample == samples {
                break;
            }
            // The next sample starts `every` after this one started, or now if this one ran long.
            tokio::select! {
                _ = tokio::time::sleep_until(started + every) => {}
                _ = cancel.cancelled() => {
                    outcome.cancelled = true;
                    break;
                }
            }
        }
        sink.finish();
        if let Some(e) = sink.write_error() {
            outcome
                .error
                .get_or_insert(format!("cannot write to the snapshot: {e}"));
        }
        outcome.truncated |= sink.capped();
        outcome
    }

    /// The open session, connecting first if needed. `Ok(None)` = cancelled while connecting.
    async fn session<'s>(
        &self,
        slot: &'s mut Slot,
        cancel: &CancellationToken,
    ) -> Result<Option<&'s mut Session>, String> {
        if let Slot::Failed(message) = slot {
            return Err(message.clone());
        }
        if matches!(slot, Slot::NotConnected) {
            let opened = tokio::select! {
                opened = self.open() => opened,
                _ = cancel.cancelled() => return Ok(None),
            };
            match opened {
                Ok(session) => *slot = Slot::Open(Box::new(session)),
                Err(message) => {
                    let message = format!("{}: {message}", self.target);
                    *slot = Slot::Failed(message.clone());
                    return Err(message);
                }
            }
        }
        match slot {
            Slot::Open(session) => Ok(Some(session)),
            _ => Err(format!("{}: no session", self.target)),
        }
    }
}

impl DbRunner {
    /// Opens a session, through the `via` forward when there is one. When the forward could not
    /// reach the server, its reason replaces the client's (which only saw the socket close).
    async fn open(&self) -> Result<Session, String> {
        if let Some(via) = &self.via {
            via.ensure().await?;
        }
        self.connect.open().await.map_err(|e| {
            self.via
                .as_ref()
                .and_then(via::Via::take_error)
                .unwrap_or(e)
        })
    }
}

/// The address the client connects to: with `via`, the forward's socket (the host name stays,
/// for TLS checks and messages), and the forward itself, not started yet.
fn through_via(
    address: &crate::model::DbAddress,
    port: u16,
    socket_name: String,
    ssh: &crate::ssh::SshContext,
) -> Result<(crate::model::DbAddress, Option<via::Via>), String> {
    let Some(name) = &address.via else {
        return Ok((address.clone(), None));
    };
    let via = via::Via::new(name, &address.host, port, &socket_name, ssh)?;
    let mut address = address.clone();
    address.socket = Some(via.socket().display().to_string());
    Ok((address, Some(via)))
}

/// Folds how a query ended into the stream's outcome; true when later samples must not run.
fn apply_end(end: QueryEnd, sink: &mut Sink<'_, '_>, outcome: &mut RunOutcome) -> bool {
    match end {
        QueryEnd::Done => {
            outcome.exit_code.get_or_insert(0);
            false
        }
        QueryEnd::Failed(error) => {
            sink.stderr(&format!("{}\n", error.message));
            match &error.kind {
                DbErrorKind::Privilege(privilege) => {
                    let need = privilege
                        .as_deref()
                        .map(|p| format!(" ({p})"))
                        .unwrap_or_default();
                    let text = format!(
                        "permission denied: the account lacks a privilege this query needs{need}; grant it or use an account that has it: {}",
                        error.message
                    );
                    sink.stderr(&format!("casefile: {text}\n"));
                    outcome.error = Some(text);
                    true
                }
                DbErrorKind::Missing => {
                    outcome.not_available = Some(format!(
                        "not available on this server (a table, view, function or extension is missing): {}",
                        error.message
                    ));
                    true
                }
                DbErrorKind::Timeout => {
                    sink.stderr(
                        "casefile: the server stopped the statement at the step's timeout\n",
                    );
                    outcome.timed_out = true;
                    true
                }
                DbErrorKind::ReadOnly => {
                    sink.stderr("casefile: refused: capture sessions are read-only\n");
                    outcome.exit_code = Some(1);
                    false
                }
                DbErrorKind::Other => {
                    outcome.exit_code = Some(1);
                    false
                }
            }
        }
        QueryEnd::TimedOut(detail) => {
            sink.stderr(&format!("casefile: {detail}\n"));
            outcome.timed_out = true;
            true
        }
        QueryEnd::Cancelled => {
            outcome.cancelled = true;
            true
        }
        QueryEnd::Broken(message) => {
            sink.stderr(&format!("casefile: {message}\n"));
            outcome.error = Some(format!("lost the session: {message}"));
            true
        }
    }
}

/// What a stream of rows did, for the backends' shared read loop.
#[derive(Debug)]
pub enum PumpEnd {
    Finished {
        rows: u64,
        statements: u64,
    },
    Error(sqlx::Error),
    Deadline,
    Cancelled,
    /// The row or byte cap was reached: the rest of the result is not wanted.
    Capped,
}

/// Reads a `fetch_many` stream into the sink until it ends, fails, hits the deadline or cap,
/// or is cancelled. Each statement's rows become one table.
pub async fn pump<'s, Q, R>(
    stream: &mut futures::stream::BoxStream<'s, Result<sqlx::Either<Q, R>, sqlx::Error>>,
    sink: &mut Sink<'_, '_>,
    deadline: Instant,
    cancel: &CancellationToken,
    columns_of: fn(&R) -> Vec<table::Column>,
    cells_of: for<'r> fn(&'r R, &mut Vec<table::Cell<'r>>),
) -> PumpEnd {
    use futures::StreamExt;
    let mut rows = 0u64;
    let mut statements = 0u64;
    let mut in_result = false;
    // One cell buffer for every row (a row's cells borrow the row, so it is emptied in between).
    let mut spare_cells: Vec<table::Cell<'static>> = Vec::new();
    // Made once, not per row: a new timer and waiter for every row showed in profiles.
    let expired = tokio::time::sleep_until(deadline);
    let cancelled = cancel.cancelled();
    tokio::pin!(expired, cancelled);
    loop {
        let item = tokio::select! {
            biased;
            _ = &mut cancelled => return PumpEnd::Cancelled,
            _ = &mut expired => return PumpEnd::Deadline,
            item = stream.next() => item,
        };
        match item {
            None => break,
            Some(Err(e)) => {
                if in_result {
                    sink.end_result(None);
                }
                return PumpEnd::Error(e);
            }
            Some(Ok(sqlx::Either::Left(_done))) => {
                statements += 1;
                if in_result {
                    sink.end_result(None);
                    in_result = false;
                }
            }
            Some(Ok(sqlx::Either::Right(row))) => {
                if !in_result {
                    sink.begin_result(columns_of(&row));
                    in_result = true;
                }
                let mut cells = recycle(std::mem::take(&mut spare_cells));
                cells_of(&row, &mut cells);
                rows += 1;
                if !sink.row(&cells) {
                    sink.end_result(Some(sink.cap_note()));
                    return PumpEnd::Capped;
                }
                spare_cells = recycle(cells);
            }
        }
    }
    if in_result {
        sink.end_result(None);
    }
    PumpEnd::Finished { rows, statements }
}

/// An emptied vector with its allocation kept, for cells of another lifetime: collecting an
/// empty vector into a type of the same layout reuses the buffer.
fn recycle<'a, 'b>(mut cells: Vec<table::Cell<'a>>) -> Vec<table::Cell<'b>> {
    cells.clear();
    cells.into_iter().map(|_| table::Cell::Null).collect()
}

/// After a stop on the server (KILL QUERY, pg_cancel_backend): the session must answer a ping
/// within [`CANCEL_GRACE`]; one that does not is closed (a later step reconnects). Returns
/// whether it settled.
pub(crate) async fn settle<C: sqlx::Connection>(conn: &mut Option<C>) -> bool {
    let settled = match conn.as_mut() {
        Some(c) => matches!(
            tokio::time::timeout(CANCEL_GRACE, c.ping()).await,
            Ok(Ok(()))
        ),
        None => false,
    };
    if !settled && let Some(c) = conn.take() {
        let _ = tokio::time::timeout(Duration::from_secs(2), c.close_hard()).await;
    }
    settled
}

/// The stream's reason after a stop on the server; `request` names what was sent
/// (`KILL QUERY 12`, `pg_cancel_backend(345)`).
pub(crate) fn stop_outcome(request: &str, sent: Result<(), String>, settled: bool) -> String {
    match (sent, settled) {
        (Ok(()), true) => format!("stopped on the server ({request})"),
        (Ok(()), false) => format!("{request} sent; the session did not settle and was closed"),
        (Err(e), true) => {
            format!("stopping it on the server failed ({e}), yet the session settled")
        }
        (Err(e), false) => {
            format!("stopping it on the server failed ({e}); the capture connection was closed")
        }
    }
}

/// A query error: one [`DbError`] classified by the driver fails the step; anything else means
/// the connection is gone (dropped, so the next step reconnects).
pub(crate) fn query_failure<C>(
    conn: &mut Option<C>,
    e: sqlx::Error,
    classified: Option<DbError>,
) -> QueryEnd {
    match classified {
        Some(error) => QueryEnd::Failed(error),
        None => {
            *conn = None;
            QueryEnd::Broken(format!("the connection failed: {e}"))
        }
    }
}

/// Writes a stderr line for a stream; write errors surface later through the sink.
pub(crate) fn stderr_line(io: &mut StreamIo<'_>, text: &str) -> std::io::Result<()> {
    io.chunk(Fd::Err, text.as_bytes())
}

/// The seconds form used by MariaDB's `max_statement_time`.
pub(crate) fn seconds(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}
