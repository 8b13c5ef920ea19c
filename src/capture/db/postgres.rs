//! PostgreSQL sessions: simple-query protocol (`raw_sql`), so every value arrives as text
//! (arrays as `{…}`, `bytea` as `\x…`, intervals and INET as psql shows them).
use super::reader::{Item, Reading};
use super::sink::Sink;
use super::statement::ServerSession;
use super::table::{Cell, ColClass, Column};
use super::{CONNECT_TIMEOUT, DbError, DbErrorKind, LOCK_WAIT, QueryEnd};
use crate::model::{DbAddress, TlsMode};
use crate::secret::SecretValue;
use futures::stream::BoxStream;
use sqlx::postgres::{
    PgColumn, PgConnectOptions, PgConnection, PgDatabaseError, PgQueryResult, PgRow, PgSslMode,
};
use sqlx::{
    AssertSqlSafe, Column as _, ConnectOptions, Connection, Executor, Row, SqlSafeStr, Statement,
    TypeInfo, ValueRef, raw_sql,
};
use std::time::Duration;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

/// The server's port when the target names none.
pub const DEFAULT_PORT: u16 = 5432;

/// How to reach one PostgreSQL server (the password inside is never printed).
#[derive(Clone)]
pub struct PgConnect {
    options: PgConnectOptions,
    user: String,
    place: String,
}

impl PgConnect {
    pub fn new(
        address: &DbAddress,
        password: Option<SecretValue>,
        _label: &str,
    ) -> Result<PgConnect, String> {
        let user = address
            .user
            .clone()
            .unwrap_or_else(super::mysql::default_user);
        let port = address.port.unwrap_or(DEFAULT_PORT);
        let mut options = PgConnectOptions::new_without_pgpass()
            .host(&address.host)
            .port(port)
            .username(&user)
            // Only a secret reference gives a password: PGPASSWORD in the environment is ignored.
            .password(password.as_ref().map(|p| p.expose()).unwrap_or_default())
            .application_name("casefile")
            .statement_cache_capacity(16)
            // sqlx would log statements (slow ones as warnings) with their literals: secrets.
            .disable_statement_logging()
            .ssl_mode(match address.tls {
                None | Some(TlsMode::Prefer) => PgSslMode::Prefer,
                Some(TlsMode::Disable) => PgSslMode::Disable,
                Some(TlsMode::Require) => PgSslMode::Require,
                Some(TlsMode::VerifyCa) => PgSslMode::VerifyCa,
                Some(TlsMode::VerifyFull) => PgSslMode::VerifyFull,
            })
            .options([
                ("default_transaction_read_only", "on".to_string()),
                ("lock_timeout", format!("{}ms", LOCK_WAIT.as_millis())),
                ("idle_in_transaction_session_timeout", "60s".to_string()),
            ])
            .database(address.database.as_deref().unwrap_or("postgres"));
        if let Some(ca) = &address.tls_ca {
            options = options.ssl_root_cert(ca);
        }
        if let (Some(cert), Some(key)) = (&address.tls_cert, &address.tls_key) {
            options = options.ssl_client_cert(cert).ssl_client_key(key);
        }
        let place = match &address.socket {
            // Through a forward: the socket is casefile's own; name the server and the hop.
            Some(socket) if address.via.is_some() => {
                options = options.socket(socket);
                format!(
                    "{}:{port} via {}",
                    address.host,
                    address.via.as_deref().unwrap_or_default()
                )
            }
            Some(socket) => {
                options = options.socket(socket);
                format!("socket {socket} (port {port})")
            }
            None => format!("{}:{port}", address.host),
        };
        Ok(PgConnect {
            options,
            user,
            place,
        })
    }

    /// Opens a capture session (read-only by default for every transaction) and learns its pid.
    pub async fn open(&self) -> Result<PgSession, String> {
        let mut conn = self.connect().await?;
        let setup = raw_sql(
            "SELECT pg_backend_pid(), \
             (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) \
             OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER')",
        )
        .fetch_one(&mut conn);
        let row = match timeout(CONNECT_TIMEOUT, setup).await {
            Ok(Ok(row)) => row,
            Ok(Err(e)) => {
                return Err(format!(
                    "setting up the session failed: {}",
                    describe_error(&e)
                ));
            }
            Err(_) => {
                return Err(format!(
                    "the server at {} accepted the connection but did not answer within {}s",
                    self.place,
                    CONNECT_TIMEOUT.as_secs()
                ));
            }
        };
        let pid = text(&row, 0)
            .and_then(|t| t.parse::<i32>().ok())
            .unwrap_or(0);
        let sees_all = text(&row, 1).as_deref() == Some("t");
        Ok(PgSession {
            conn: Some(conn),
            pid,
            sees_all,
            connect: self.clone(),
        })
    }

    async fn connect(&self) -> Result<PgConnection, String> {
        match timeout(CONNECT_TIMEOUT, self.options.connect()).await {
            Err(_) => Err(format!(
                "no answer from {} within {}s: the server may be overloaded, or the address is wrong",
                self.place,
                CONNECT_TIMEOUT.as_secs()
            )),
            Ok(Err(e)) => Err(connect_error(&e, &self.user, &self.place)),
            Ok(Ok(conn)) => Ok(conn),
        }
    }
}

fn connect_error(e: &sqlx::Error, user: &str, place: &str) -> String {
    match e {
        sqlx::Error::Database(db) => {
            let code = db
                .try_downcast_ref::<PgDatabaseError>()
                .map(|p| p.code().to_string())
                .unwrap_or_default();
            match code.as_str() {
                "28P01" => format!(
                    "password authentication failed for user `{user}` at {place}: check the target's password_secret ({})",
                    db.message()
                ),
                "28000" => format!(
                    "the server at {place} does not let user `{user}` in (pg_hba.conf): {}",
                    db.message()
                ),
                "3D000" => format!("the database does not exist at {place}: {}", db.message()),
                "53300" => format!(
                    "the server at {place} refuses new connections (too many clients): {}",
                    db.message()
                ),
                "57P03" => format!(
                    "the server at {place} is not accepting connections now (starting up or shutting down): {}",
                    db.message()
                ),
                _ => format!(
                    "the server at {place} refused the connection: {}",
                    db.message()
                ),
            }
        }
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!("connection refused at {place}: is the server running and listening there?")
        }
        sqlx::Error::Io(io) => format!("cannot reach {place}: {io}"),
        sqlx::Error::Tls(tls) => format!("TLS with {place} failed: {tls}"),
        other => format!("cannot connect to {place}: {other}"),
    }
}

/// `ERROR 42P01: relation "pg_stat_statements" does not exist` (+ detail and hint lines).
fn describe_error(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => match db.try_downcast_ref::<PgDatabaseError>() {
            Some(p) => {
                let mut text = format!("ERROR {}: {}", p.code(), p.message());
                if let Some(detail) = p.detail() {
                    text.push_str(&format!("\nDETAIL: {detail}"));
                }
                if let Some(hint) = p.hint() {
                    text.push_str(&format!("\nHINT: {hint}"));
                }
                text
            }
            None => db.message().to_string(),
        },
        other => other.to_string(),
    }
}

fn classify(e: &sqlx::Error) -> Option<DbError> {
    let sqlx::Error::Database(db) = e else {
        return None;
    };
    let code = db
        .try_downcast_ref::<PgDatabaseError>()
        .map(|p| p.code().to_string())
        .unwrap_or_default();
    let kind = match code.as_str() {
        "42501" => DbErrorKind::Privilege(role_named(db.message())),
        // undefined table, function, object, schema; an extension not preloaded.
        "42P01" | "42883" | "42704" | "3F000" | "58P01" => DbErrorKind::Missing,
        "55000" if db.message().contains("shared_preload_libraries") => DbErrorKind::Missing,
        "57014" => DbErrorKind::Timeout,
        "25006" => DbErrorKind::ReadOnly,
        _ => DbErrorKind::Other,
    };
    Some(DbError {
        message: describe_error(e),
        kind,
    })
}

/// A predefined role named in a permission error, e.g. `pg_read_all_stats`.
fn role_named(message: &str) -> Option<String> {
    let start = message.find("pg_")?;
    let name: String = message[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    Some(name)
}

fn text(row: &PgRow, index: usize) -> Option<String> {
    let value = row.try_get_raw(index).ok()?;
    if value.is_null() {
        return None;
    }
    value.as_str().ok().map(str::to_string)
}

/// How a PostgreSQL type is shown.
pub(crate) fn class_of(type_name: &str) -> ColClass {
    match type_name {
        "INT2" | "INT4" | "INT8" | "OID" | "XID" | "XID8" | "CID" => ColClass::Integer,
        "NUMERIC" => ColClass::Decimal,
        "FLOAT4" | "FLOAT8" => ColClass::Float,
        "BOOL" => ColClass::Bool,
        "JSON" | "JSONB" => ColClass::Json,
        "BYTEA" => ColClass::Bytes,
        _ => ColClass::Text,
    }
}

fn column_of(column: &PgColumn) -> Column {
    let type_name = column.type_info().name();
    Column {
        name: column.name().to_string(),
        type_name: type_name.to_string(),
        class: class_of(type_name),
    }
}

fn columns_of(row: &PgRow) -> Vec<Column> {
    row.columns().iter().map(column_of).collect()
}

fn cells_of<'r>(row: &'r PgRow, out: &mut Vec<Cell<'r>>) {
    for (i, column) in row.columns().iter().enumerate() {
        let cell = match row.try_get_raw(i) {
            Ok(value) if value.is_null() => Cell::Null,
            Ok(value) => match value.as_bytes() {
                Ok(bytes) if column.type_info().name() == "BYTEA" => {
                    match bytes.strip_prefix(b"\\x").map(hex::decode) {
                        Some(Ok(decoded)) => Cell::Bytes(decoded),
                        _ => Cell::Text(bytes),
                    }
                }
                Ok(bytes) => Cell::Text(bytes),
                Err(_) => Cell::Text(b"<undecodable>"),
            },
            Err(_) => Cell::Text(b"<undecodable>"),
        };
        out.push(cell);
    }
}

/// An open capture session on one server.
pub struct PgSession {
    /// `None` once the session broke; the runner then opens a new one.
    conn: Option<PgConnection>,
    pid: i32,
    /// Superuser or member of pg_read_all_stats: sees every session's query text.
    sees_all: bool,
    connect: PgConnect,
}

impl PgSession {
    pub fn is_broken(&self) -> bool {
        self.conn.is_none()
    }

    pub fn visibility_note(&self, sql: &str) -> Option<String> {
        let lower = sql.to_ascii_lowercase();
        (!self.sees_all && (lower.contains("pg_stat_activity") || lower.contains("pg_stat_statements"))).then(|| {
            format!(
                "the account `{}` is neither superuser nor a member of pg_read_all_stats: other users' queries show as <insufficient privilege> (GRANT pg_read_all_stats TO …)",
                self.connect.user
            )
        })
    }

    pub async fn close(self) {
        if let Some(conn) = self.conn {
            let _ = timeout(Duration::from_secs(2), conn.close()).await;
        }
    }

    /// Runs one step's SQL: server-side `statement_timeout`, client deadline with a server-side cancel.
    pub async fn run_query(
        &mut self,
        sql: &str,
        limit: Duration,
        sink: &mut Sink<'_, '_>,
        cancel: &CancellationToken,
    ) -> QueryEnd {
        let Some(conn) = self.conn.as_mut() else {
            return QueryEnd::Broken("the session is closed".into());
        };
        let set_timeout = format!(
            "SET statement_timeout = {}",
            limit.as_millis().clamp(1, i32::MAX as u128)
        );
        if let Err(e) = raw_sql(AssertSqlSafe(set_timeout))
            .execute(&mut *conn)
            .await
        {
            return self.fail(e);
        }
        super::statement::run(self, sql, limit, sink, cancel).await
    }
}

impl ServerSession for PgSession {
    type Conn = PgConnection;
    type Done = PgQueryResult;
    type Row = PgRow;

    fn conn(&mut self) -> &mut Option<PgConnection> {
        &mut self.conn
    }

    fn fetch(conn: &mut PgConnection, sql: String) -> BoxStream<'_, Item<PgQueryResult, PgRow>> {
        raw_sql(AssertSqlSafe(sql)).fetch_many(conn)
    }

    fn columns_of(row: &PgRow) -> Vec<Column> {
        columns_of(row)
    }

    fn cells_of<'r>(row: &'r PgRow, out: &mut Vec<Cell<'r>>) {
        cells_of(row, out)
    }

    fn fail(&mut self, e: sqlx::Error) -> QueryEnd {
        let classified = classify(&e);
        super::query_failure(&mut self.conn, e, classified)
    }

    /// Headers for a result without rows (from preparing the statement, which does not run it).
    async fn empty_result(&mut self, sql: &str, sink: &mut Sink<'_, '_>) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let columns = match timeout(
            CONNECT_TIMEOUT,
            conn.prepare(AssertSqlSafe(sql.to_string()).into_sql_str()),
        )
        .await
        {
            Ok(Ok(statement)) => statement
                .columns()
                .iter()
                .map(column_of)
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        };
        sink.empty_result(columns);
    }

    /// Cancels the running statement from a second connection (`pg_cancel_backend`), reads what
    /// it still sends, then checks this session answers; a session that does not is dropped.
    async fn stop_on_server(
        &mut self,
        reading: Reading<PgConnection, PgQueryResult, PgRow>,
    ) -> String {
        let cancelled = match self.connect.connect().await {
            Ok(mut other) => {
                let sql = format!("SELECT pg_cancel_backend({})", self.pid);
                let result = timeout(
                    CONNECT_TIMEOUT,
                    raw_sql(AssertSqlSafe(sql)).fetch_one(&mut other),
                )
                .await;
                let _ = timeout(Duration::from_secs(2), other.close()).await;
                match result {
                    Ok(Ok(row)) if text(&row, 0).as_deref() == Some("t") => Ok(()),
                    Ok(Ok(_)) => Err("pg_cancel_backend found nothing to cancel".to_string()),
                    Ok(Err(e)) => Err(describe_error(&e)),
                    Err(_) => Err("pg_cancel_backend got no answer".into()),
                }
            }
            Err(e) => Err(e),
        };
        self.conn = reading.drain_then_finish(super::CANCEL_GRACE).await;
        let settled = super::settle(&mut self.conn).await;
        super::stop_outcome(
            &format!("pg_cancel_backend({})", self.pid),
            cancelled,
            settled,
        )
    }
}
