//! SQLite files: opened read-only (`SQLITE_OPEN_READONLY` plus `query_only`), never created,
//! with a short busy timeout; a progress handler stops a statement at its deadline (SQLite
//! runs in-process, so "on the server" means inside this process's SQLite engine).
use super::sink::Sink;
use super::table::{Cell, ColClass, Column};
use super::{CLIENT_SLACK, DbError, DbErrorKind, LOCK_WAIT, PumpEnd, QueryEnd, pump};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{
    AssertSqlSafe, Column as _, ConnectOptions, Connection, Row, TypeInfo, ValueRef, raw_sql,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

/// SQLite virtual-machine steps between checks of the deadline.
const PROGRESS_STEPS: i32 = 10_000;

/// How to open one SQLite file.
#[derive(Clone)]
pub struct SqliteConnect {
    path: String,
}

impl SqliteConnect {
    pub fn new(path: &str, _label: &str) -> SqliteConnect {
        SqliteConnect {
            path: path.to_string(),
        }
    }

    pub async fn open(&self) -> Result<SqliteSession, String> {
        match tokio::fs::metadata(&self.path).await {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Err(format!("{} is not a file", self.path)),
            Err(e) => return Err(format!("cannot open {}: {e}", self.path)),
        }
        let options = SqliteConnectOptions::new()
            .filename(&self.path)
            .read_only(true)
            .create_if_missing(false)
            .busy_timeout(LOCK_WAIT)
            .pragma("query_only", "ON")
            .statement_cache_capacity(16)
            // sqlx would log statements (slow ones as warnings) with their literals: secrets.
            .disable_statement_logging();
        let conn = match timeout(super::CONNECT_TIMEOUT, options.connect()).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(format!("cannot open {} read-only: {e}", self.path)),
            Err(_) => {
                return Err(format!(
                    "opening {} took longer than {}s (locked?)",
                    self.path,
                    super::CONNECT_TIMEOUT.as_secs()
                ));
            }
        };
        Ok(SqliteSession {
            conn: Some(conn),
            stop: Arc::new(AtomicBool::new(false)),
        })
    }
}

fn classify(e: &sqlx::Error) -> Option<DbError> {
    let sqlx::Error::Database(db) = e else {
        return None;
    };
    let message = db.message();
    let kind = if message.contains("no such table")
        || message.contains("no such function")
        || message.contains("no such module")
    {
        DbErrorKind::Missing
    } else if message.contains("interrupted") {
        DbErrorKind::Timeout
    } else if message.contains("readonly") || message.contains("query_only") {
        DbErrorKind::ReadOnly
    } else {
        DbErrorKind::Other
    };
    Some(DbError {
        message: format!("Error: {message}"),
        kind,
    })
}

fn columns_of(row: &SqliteRow) -> Vec<Column> {
    row.columns()
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let declared = column.type_info().name();
            let type_name = if declared == "NULL" {
                row.try_get_raw(i)
                    .map(|v| v.type_info().name().to_string())
                    .unwrap_or_default()
            } else {
                declared.to_string()
            };
            // Values carry their own storage class in SQLite; the cells decide how they show.
            Column {
                name: column.name().to_string(),
                type_name,
                class: ColClass::Text,
            }
        })
        .collect()
}

fn cells_of<'r>(row: &'r SqliteRow, out: &mut Vec<Cell<'r>>) {
    for i in 0..row.len() {
        let kind = match row.try_get_raw(i) {
            Ok(value) if value.is_null() => None,
            Ok(value) => Some(value.type_info().name().to_string()),
            Err(_) => None,
        };
        let cell = match kind.as_deref() {
            None => Cell::Null,
            Some("INTEGER") => row
                .try_get_unchecked::<i64, _>(i)
                .map(Cell::Int)
                .unwrap_or(Cell::Null),
            Some("REAL") => row
                .try_get_unchecked::<f64, _>(i)
                .map(Cell::Float)
                .unwrap_or(Cell::Null),
            Some("BLOB") => row
                .try_get_unchecked::<Vec<u8>, _>(i)
                .map(Cell::Bytes)
                .unwrap_or(Cell::Null),
            Some(_) => row
                .try_get_unchecked::<&[u8], _>(i)
                .map(Cell::Text)
                .unwrap_or(Cell::Null),
        };
        out.push(cell);
    }
}

/// An open read-only SQLite connection.
pub struct SqliteSession {
    conn: Option<SqliteConnection>,
    /// Set to stop the running statement at its next progress check.
    stop: Arc<AtomicBool>,
}

impl SqliteSession {
    /// The open connection, for a look at its settings (`probe`).
    pub(super) fn connection(&mut self) -> Option<&mut SqliteConnection> {
        self.conn.as_mut()
    }

    pub fn is_broken(&self) -> bool {
        self.conn.is_none()
    }

    pub async fn close(self) {
        if let Some(conn) = self.conn {
            let _ = timeout(Duration::from_secs(2), conn.close()).await;
        }
    }

    pub async fn run_query(
        &mut self,
        sql: &str,
        limit: Duration,
        sink: &mut Sink<'_, '_>,
        cancel: &CancellationToken,
    ) -> QueryEnd {
        let Some(conn) = self.conn.as_mut() else {
            return QueryEnd::Broken("the connection is closed".into());
        };
        self.stop.store(false, Ordering::SeqCst);
        let stop = Arc::clone(&self.stop);
        let engine_deadline = crate::capture::deadline::std_after(limit);
        match conn.lock_handle().await {
            Ok(mut handle) => handle.set_progress_handler(PROGRESS_STEPS, move || {
                !stop.load(Ordering::Relaxed) && std::time::Instant::now() < engine_deadline
            }),
            Err(e) => return QueryEnd::Broken(format!("the SQLite worker failed: {e}")),
        }
        let deadline = crate::capture::deadline::after(limit.saturating_add(CLIENT_SLACK));
        let mut stream = raw_sql(AssertSqlSafe(sql.to_string())).fetch_many(&mut *conn);
        let end = pump(&mut stream, sink, deadline, cancel, columns_of, cells_of).await;
        drop(stream);
        match end {
            PumpEnd::Finished { rows: 0, .. } => {
                self.empty_result(sql, sink).await;
                QueryEnd::Done
            }
            PumpEnd::Finished { .. } => QueryEnd::Done,
            PumpEnd::Error(e) => match classify(&e) {
                Some(error) => QueryEnd::Failed(error),
                None => {
                    self.conn = None;
                    QueryEnd::Broken(format!("SQLite failed: {e}"))
                }
            },
            PumpEnd::Capped => {
                self.stop_running().await;
                QueryEnd::Done
            }
            PumpEnd::Cancelled => {
                self.stop_running().await;
                QueryEnd::Cancelled
            }
            PumpEnd::Deadline => {
                self.stop_running().await;
                QueryEnd::TimedOut(format!(
                    "the statement ran past the step's timeout of {}s and was interrupted",
                    super::seconds(limit)
                ))
            }
        }
    }

    /// Headers for a result without rows (preparing does not run the statement).
    async fn empty_result(&mut self, sql: &str, sink: &mut Sink<'_, '_>) {
        use sqlx::{Executor, SqlSafeStr, Statement};
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let columns = match timeout(
            super::CONNECT_TIMEOUT,
            conn.prepare(AssertSqlSafe(sql.to_string()).into_sql_str()),
        )
        .await
        {
            Ok(Ok(statement)) => statement
                .columns()
                .iter()
                .map(|c| Column {
                    name: c.name().to_string(),
                    type_name: c.type_info().name().to_string(),
                    class: ColClass::Text,
                })
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        };
        sink.empty_result(columns);
    }

    /// Interrupts the running statement and checks the connection still answers.
    async fn stop_running(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        super::settle(&mut self.conn).await;
    }
}
