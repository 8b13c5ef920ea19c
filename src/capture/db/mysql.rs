//! MySQL and MariaDB sessions: text protocol (`raw_sql`), so every value arrives as the
//! server's text whatever its type, and `SHOW …` statements work like any query.
use super::reader::{Item, Reading};
use super::sink::Sink;
use super::statement::ServerSession;
use super::table::{Cell, ColClass, Column};
use super::{CONNECT_TIMEOUT, DbError, DbErrorKind, LOCK_WAIT, QueryEnd, seconds};
use crate::model::{DbAddress, TlsMode};
use crate::secret::SecretValue;
use futures::stream::BoxStream;
use sqlx::mysql::{
    MySqlColumn, MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlQueryResult,
    MySqlRow, MySqlSslMode,
};
use sqlx::{
    AssertSqlSafe, Column as _, ConnectOptions, Connection, Executor, Row, SqlSafeStr, Statement,
    TypeInfo, raw_sql,
};
use std::time::Duration;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

/// The server's port when the target names none.
pub const DEFAULT_PORT: u16 = 3306;

/// How to reach one MySQL/MariaDB server (the password inside is never printed).
#[derive(Clone)]
pub struct MysqlConnect {
    options: MySqlConnectOptions,
    user: String,
    place: String,
    /// A client certificate is configured (else "access denied" may mean one is required).
    has_client_cert: bool,
}

impl MysqlConnect {
    pub fn new(
        address: &DbAddress,
        password: Option<SecretValue>,
        _label: &str,
    ) -> Result<MysqlConnect, String> {
        let user = address.user.clone().unwrap_or_else(default_user);
        let port = address.port.unwrap_or(DEFAULT_PORT);
        let mut options = MySqlConnectOptions::new()
            .host(&address.host)
            .port(port)
            .username(&user)
            // Leave the server's sql_mode alone: operators' queries must mean what they mean in the mysql client.
            .pipes_as_concat(false)
            .no_engine_substitution(false)
            .statement_cache_capacity(16)
            // sqlx would log statements (slow ones as warnings) with their literals: secrets.
            .disable_statement_logging()
            .ssl_mode(match address.tls {
                None | Some(TlsMode::Prefer) => MySqlSslMode::Preferred,
                Some(TlsMode::Disable) => MySqlSslMode::Disabled,
                Some(TlsMode::Require) => MySqlSslMode::Required,
                Some(TlsMode::VerifyCa) => MySqlSslMode::VerifyCa,
                Some(TlsMode::VerifyFull) => MySqlSslMode::VerifyIdentity,
            });
        if let Some(password) = &password {
            options = options.password(password.expose());
        }
        if let Some(database) = &address.database {
            options = options.database(database);
        }
        if let Some(ca) = &address.tls_ca {
            options = options.ssl_ca(ca);
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
                format!("socket {socket}")
            }
            None => format!("{}:{port}", address.host),
        };
        Ok(MysqlConnect {
            options,
            user,
            place,
            has_client_cert: address.tls_cert.is_some(),
        })
    }

    /// Opens a capture session: read-only, short lock waits; learns its connection id.
    pub async fn open(&self) -> Result<MysqlSession, String> {
        let mut conn = self.connect().await?;
        let setup = async {
            raw_sql("SET SESSION TRANSACTION READ ONLY")
                .execute(&mut conn)
                .await?;
            let wait = LOCK_WAIT.as_secs().max(1);
            raw_sql(AssertSqlSafe(format!(
                "SET SESSION lock_wait_timeout = {wait}"
            )))
            .execute(&mut conn)
            .await?;
            // Absent when InnoDB is disabled: not worth failing over.
            let _ = raw_sql(AssertSqlSafe(format!(
                "SET SESSION innodb_lock_wait_timeout = {wait}"
            )))
            .execute(&mut conn)
            .await;
            let row = raw_sql("SELECT CONNECTION_ID(), VERSION()")
                .fetch_one(&mut conn)
                .await?;
            let id = text(&row, 0)
                .and_then(|t| t.parse::<u64>().ok())
                .unwrap_or(0);
            let version = text(&row, 1).unwrap_or_default();
            let grants = raw_sql("SHOW GRANTS")
                .fetch_all(&mut conn)
                .await
                .unwrap_or_default();
            let has_process = grants.iter().filter_map(|g| text(g, 0)).any(|g| {
                let g = g.to_ascii_uppercase();
                g.contains(" ON *.* ") && (g.contains("ALL PRIVILEGES") || g.contains("PROCESS"))
            });
            Ok::<_, sqlx::Error>((id, version, has_process))
        };
        let (id, version, has_process) = match timeout(CONNECT_TIMEOUT, setup).await {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                return Err(format!(
                    "setting up the read-only session failed: {}",
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
        Ok(MysqlSession {
            conn: Some(conn),
            id,
            mariadb: version.contains("MariaDB"),
            has_process,
            connect: self.clone(),
        })
    }

    async fn connect(&self) -> Result<MySqlConnection, String> {
        match timeout(CONNECT_TIMEOUT, self.options.connect()).await {
            Err(_) => Err(format!(
                "no answer from {} within {}s: the server may be overloaded, or the address is wrong",
                self.place,
                CONNECT_TIMEOUT.as_secs()
            )),
            Ok(Err(e)) => Err(connect_error(&e, self)),
            Ok(Ok(conn)) => Ok(conn),
        }
    }
}

/// The login name, as the mysql client defaults to it.
pub(crate) fn default_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| "root".into())
}

/// A connection error in plain words (never holding the password).
fn connect_error(e: &sqlx::Error, connect: &MysqlConnect) -> String {
    let (user, place) = (&connect.user, &connect.place);
    match e {
        sqlx::Error::Database(db) => {
            let number = db
                .try_downcast_ref::<MySqlDatabaseError>()
                .map(|m| m.number())
                .unwrap_or(0);
            match number {
                1045 => format!(
                    "access denied for user `{user}` at {place}: wrong password or user (check the target's password_secret), or the account may not connect from this host{} ({})",
                    if connect.has_client_cert {
                        ""
                    } else {
                        ", or it requires a client certificate (tls_cert and tls_key)"
                    },
                    db.message()
                ),
                1044 | 1049 => format!("cannot use the database at {place}: {}", db.message()),
                1040 | 1203 => format!(
                    "the server at {place} refuses new connections (too many connections): {}",
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

/// A statement error in the mysql client's words: `ERROR 1146 (42S02): Table … doesn't exist`.
fn describe_error(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => match db.try_downcast_ref::<MySqlDatabaseError>() {
            Some(m) => format!(
                "ERROR {} ({}): {}",
                m.number(),
                m.code().unwrap_or("HY000"),
                m.message()
            ),
            None => db.message().to_string(),
        },
        other => other.to_string(),
    }
}

/// Sorts a statement error: privilege, missing object, timeout, read-only refusal, other.
fn classify(e: &sqlx::Error) -> Option<DbError> {
    let sqlx::Error::Database(db) = e else {
        return None;
    };
    let number = db
        .try_downcast_ref::<MySqlDatabaseError>()
        .map(|m| m.number())
        .unwrap_or(0);
    let kind = match number {
        1227 | 1142 | 1143 | 1044 | 1045 | 1370 => {
            DbErrorKind::Privilege(privilege_named(db.message()))
        }
        1146 | 1109 | 1049 | 1305 | 1193 | 1286 => DbErrorKind::Missing,
        1969 | 3024 | 1317 | 1028 => DbErrorKind::Timeout,
        1792 | 1290 | 1836 => DbErrorKind::ReadOnly,
        _ => DbErrorKind::Other,
    };
    Some(DbError {
        message: describe_error(e),
        kind,
    })
}

/// `…you need (at least one of) the PROCESS privilege(s)…` → `PROCESS`.
pub(crate) fn privilege_named(message: &str) -> Option<String> {
    let end = message.find(" privilege")?;
    let start = message[..end].rfind("the ")? + 4;
    let name = message[start..end].trim();
    (!name.is_empty() && name.len() < 64).then(|| name.to_string())
}

/// One column's text value (`None` for NULL or a decoding problem).
fn text(row: &MySqlRow, index: usize) -> Option<String> {
    row.try_get_unchecked::<Option<&[u8]>, _>(index)
        .ok()
        .flatten()
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

/// How a MySQL type is shown.
pub(crate) fn class_of(type_name: &str) -> ColClass {
    match type_name {
        "BOOLEAN" | "YEAR" => ColClass::Integer,
        t if t.contains("INT") => ColClass::Integer,
        "DECIMAL" => ColClass::Decimal,
        "FLOAT" | "DOUBLE" => ColClass::Float,
        "JSON" => ColClass::Json,
        "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BIT"
        | "GEOMETRY" => ColClass::Bytes,
        _ => ColClass::Text,
    }
}

fn column_of(column: &MySqlColumn) -> Column {
    let info = column.type_info();
    let mut type_name = info.name().to_string();
    // sqlx names text with a binary (`_bin`) collation BLOB/VARBINARY; only the `binary`
    // charset is really bytes.
    if <str as sqlx::Type<sqlx::MySql>>::compatible(info) {
        type_name = match type_name.as_str() {
            "BINARY" => "CHAR".into(),
            "VARBINARY" => "VARCHAR".into(),
            other => other.replace("BLOB", "TEXT"),
        };
    }
    Column {
        name: column.name().to_string(),
        class: class_of(&type_name),
        type_name,
    }
}

fn columns_of(row: &MySqlRow) -> Vec<Column> {
    row.columns().iter().map(column_of).collect()
}

fn cells_of<'r>(row: &'r MySqlRow, out: &mut Vec<Cell<'r>>) {
    for i in 0..row.len() {
        out.push(match row.try_get_unchecked::<Option<&[u8]>, _>(i) {
            Ok(Some(bytes)) => Cell::Text(bytes),
            Ok(None) => Cell::Null,
            Err(_) => Cell::Text(b"<undecodable>"),
        });
    }
}

/// An open capture session on one server.
pub struct MysqlSession {
    /// `None` once the session broke; the runner then opens a new one.
    conn: Option<MySqlConnection>,
    id: u64,
    mariadb: bool,
    has_process: bool,
    connect: MysqlConnect,
}

impl MysqlSession {
    pub fn is_broken(&self) -> bool {
        self.conn.is_none()
    }

    pub fn visibility_note(&self, sql: &str) -> Option<String> {
        let lower = sql.to_ascii_lowercase();
        (!self.has_process && (lower.contains("processlist") || lower.contains("innodb")))
            .then(|| format!("the account `{}` lacks the PROCESS privilege: other accounts' sessions are not listed and InnoDB status is refused (GRANT PROCESS ON *.* TO …)", self.connect.user))
    }

    pub async fn close(self) {
        if let Some(conn) = self.conn {
            let _ = timeout(Duration::from_secs(2), conn.close()).await;
        }
    }

    /// Runs one step's SQL: server-side timeout, client deadline with a server-side kill.
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
        let set_timeout = if self.mariadb {
            // MariaDB's ceiling for the variable is a year.
            let limit = limit.min(Duration::from_secs(31_536_000));
            format!("SET SESSION max_statement_time = {}", seconds(limit))
        } else {
            format!(
                "SET SESSION MAX_EXECUTION_TIME = {}",
                limit.as_millis().min(u32::MAX as u128)
            )
        };
        if let Err(e) = raw_sql(AssertSqlSafe(set_timeout))
            .execute(&mut *conn)
            .await
        {
            return self.fail(e);
        }
        super::statement::run(self, sql, limit, sink, cancel).await
    }
}

impl ServerSession for MysqlSession {
    type Conn = MySqlConnection;
    type Done = MySqlQueryResult;
    type Row = MySqlRow;

    fn conn(&mut self) -> &mut Option<MySqlConnection> {
        &mut self.conn
    }

    fn fetch(
        conn: &mut MySqlConnection,
        sql: String,
    ) -> BoxStream<'_, Item<MySqlQueryResult, MySqlRow>> {
        raw_sql(AssertSqlSafe(sql)).fetch_many(conn)
    }

    fn columns_of(row: &MySqlRow) -> Vec<Column> {
        columns_of(row)
    }

    fn cells_of<'r>(row: &'r MySqlRow, out: &mut Vec<Cell<'r>>) {
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

    /// Kills the running statement from a second connection (`KILL QUERY`), reads what it still
    /// sends, then checks this session answers; a session that does not is dropped. Returns what
    /// happened, in words.
    async fn stop_on_server(
        &mut self,
        reading: Reading<MySqlConnection, MySqlQueryResult, MySqlRow>,
    ) -> String {
        let killed = match self.connect.connect().await {
            Ok(mut other) => {
                let sql = format!("KILL QUERY {}", self.id);
                let result = timeout(
                    CONNECT_TIMEOUT,
                    raw_sql(AssertSqlSafe(sql)).execute(&mut other),
                )
                .await;
                let _ = timeout(Duration::from_secs(2), other.close()).await;
                match result {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(describe_error(&e)),
                    Err(_) => Err("KILL QUERY got no answer".into()),
                }
            }
            Err(e) => Err(e),
        };
        self.conn = reading.drain_then_finish(super::CANCEL_GRACE).await;
        let settled = super::settle(&mut self.conn).await;
        super::stop_outcome(&format!("KILL QUERY {}", self.id), killed, settled)
    }
}
