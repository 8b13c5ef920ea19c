//! A look at a database target without running a step (`casefile doctor`): open a session
//! exactly as a capture does (through its `via` host, with the same read-only settings), then
//! ask the engine whether that session really is read-only, in the terms the capture relies on:
//!
//! - MySQL/MariaDB: the capture sends `SET SESSION TRANSACTION READ ONLY` after login, so every
//!   transaction of the session refuses writes to non-temporary tables; the engine reports it
//!   as `@@SESSION.transaction_read_only` (MySQL 8, MariaDB 11.1+) or `@@SESSION.tx_read_only`
//!   (older MariaDB and MySQL) = 1.
//! - PostgreSQL: the capture logs in with `default_transaction_read_only=on` (a startup option,
//!   so no role or database setting overrides it); the engine reports `transaction_read_only`
//!   = `on`.
//! - SQLite: the capture opens the file read-only (`SQLITE_OPEN_READONLY`) with
//!   `PRAGMA query_only = ON`; the engine reports `PRAGMA query_only` = 1.
//!
//! Asking, rather than trusting the settings were sent, catches what sits between casefile and
//! the server and drops session settings (a pooler in transaction mode, a proxy).
use super::statement::ServerSession;
use super::{DbRunner, Session};
use sqlx::{AssertSqlSafe, Row, raw_sql};

/// What the engine said about the session casefile opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCheck {
    /// The engine reports the session read-only.
    pub read_only: bool,
    /// The setting and its value as the engine reported them, e.g. `transaction_read_only = 1`.
    pub evidence: String,
}

impl DbRunner {
    /// Opens a capture session (connecting through `via` if set), reads back its read-only
    /// state, and closes it. `Err` says why the login or the question failed.
    pub async fn check_session(&self) -> Result<SessionCheck, String> {
        let mut session = self.open().await?;
        let found = read_only_state(&mut session).await;
        session.close().await;
        found
    }
}

async fn read_only_state(session: &mut Session) -> Result<SessionCheck, String> {
    match session {
        Session::Mysql(s) => {
            let conn = ServerSession::conn(s)
                .as_mut()
                .ok_or("the session closed right after login")?;
            let mut last_error = String::new();
            // The first name is MySQL 8's and MariaDB 11.1's; the second is older MariaDB's.
            for variable in ["transaction_read_only", "tx_read_only"] {
                let sql = format!("SELECT @@SESSION.{variable}");
                match raw_sql(AssertSqlSafe(sql)).fetch_one(&mut *conn).await {
                    Ok(row) => {
                        let value = row
                            .try_get_unchecked::<Option<&[u8]>, _>(0)
                            .ok()
                            .flatten()
                            .map(|b| String::from_utf8_lossy(b).trim().to_string())
                            .unwrap_or_default();
                        return Ok(SessionCheck {
                            read_only: value == "1",
                            evidence: format!("{variable} = {value}"),
                        });
                    }
                    Err(e) => last_error = e.to_string(),
                }
            }
            Err(format!(
                "cannot read the session's read-only state: {last_error}"
            ))
        }
        Session::Postgres(s) => {
            let conn = ServerSession::conn(s)
                .as_mut()
                .ok_or("the session closed right after login")?;
            let row = raw_sql("SHOW transaction_read_only")
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| format!("cannot read the session's read-only state: {e}"))?;
            let value = row
                .try_get_unchecked::<Option<String>, _>(0)
                .ok()
                .flatten()
                .unwrap_or_default();
            Ok(SessionCheck {
                read_only: value == "on",
                evidence: format!("transaction_read_only = {value}"),
            })
        }
        Session::Sqlite(s) => {
            let conn = s
                .connection()
                .ok_or("the connection closed right after opening")?;
            let row = raw_sql("PRAGMA query_only")
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| format!("cannot read PRAGMA query_only: {e}"))?;
            let value = row.try_get_unchecked::<i64, _>(0).unwrap_or(0);
            Ok(SessionCheck {
                read_only: value == 1,
                evidence: format!("query_only = {value}, opened read-only"),
            })
        }
    }
}
