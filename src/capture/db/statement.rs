//! One statement on a MySQL/MariaDB or PostgreSQL session, the part both drivers share: its
//! results are read on their own thread ([`super::reader`]) into the sink, and a statement that
//! must end early (deadline, cancel, row or byte cap) is stopped on the server, since dropping
//! the client's side does not stop it there.
use super::reader::{Item, Reading, read_on_own_thread};
use super::sink::Sink;
use super::table::{Cell, Column};
use super::{CLIENT_SLACK, PumpEnd, QueryEnd, STOP_BUDGET, pump, seconds};
use futures::stream::BoxStream;
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What a driver's session provides to [`run`].
pub(crate) trait ServerSession {
    type Conn: Send + 'static;
    /// A statement's end (`MySqlQueryResult`, `PgQueryResult`).
    type Done: Send + 'static;
    type Row: Send + 'static;

    /// The session's connection; `None` once it broke (the next step reconnects).
    fn conn(&mut self) -> &mut Option<Self::Conn>;
    /// Runs `sql` with the text protocol: every statement's rows and end, as they come.
    fn fetch(conn: &mut Self::Conn, sql: String) -> BoxStream<'_, Item<Self::Done, Self::Row>>;
    fn columns_of(row: &Self::Row) -> Vec<Column>;
    fn cells_of<'r>(row: &'r Self::Row, out: &mut Vec<Cell<'r>>);
    /// A statement error, classified; an unclassified one drops the connection.
    fn fail(&mut self, e: sqlx::Error) -> QueryEnd;
    /// Column headers for a statement that returned no rows.
    fn empty_result(
        &mut self,
        sql: &str,
        sink: &mut Sink<'_, '_>,
    ) -> impl Future<Output = ()> + Send;
    /// Stops the statement on the server from a second connection, takes the connection back
    /// from `reading` and checks it answers; says what happened.
    fn stop_on_server(
        &mut self,
        reading: Reading<Self::Conn, Self::Done, Self::Row>,
    ) -> impl Future<Output = String> + Send;
}

/// Runs `sql` (its server-side timeout already set) until it ends, the client deadline of
/// `limit` plus [`CLIENT_SLACK`] passes, `cancel` fires or the sink wants no more rows.
pub(crate) async fn run<S: ServerSession>(
    session: &mut S,
    sql: &str,
    limit: Duration,
    sink: &mut Sink<'_, '_>,
    cancel: &CancellationToken,
) -> QueryEnd {
    let deadline = crate::capture::deadline::after(limit.saturating_add(CLIENT_SLACK));
    let Some(conn) = session.conn().take() else {
        return QueryEnd::Broken("the session is closed".into());
    };
    let mut reading = read_on_own_thread(conn, sql.to_string(), S::fetch);
    let end = pump(
        &mut reading.results,
        sink,
        deadline,
        cancel,
        S::columns_of,
        S::cells_of,
    )
    .await;
    // A panic on the reading thread loses the session (`None`: the next step reconnects).
    let stopped = match end {
        // Bounded: a frozen server answers neither the cancel nor the check. Past the budget
        // the reading (and with it the connection) is dropped; the next step reconnects.
        PumpEnd::Capped | PumpEnd::Cancelled | PumpEnd::Deadline => {
            match tokio::time::timeout(STOP_BUDGET, session.stop_on_server(reading)).await {
                Ok(stopped) => stopped,
                Err(_) => format!(
                    "the server did not answer the stop within {}s; the session was closed",
                    seconds(STOP_BUDGET)
                ),
            }
        }
        _ => {
            *session.conn() = reading.finish().await;
            String::new()
        }
    };
    match end {
        PumpEnd::Finished { rows: 0, .. } => {
            session.empty_result(sql, sink).await;
            QueryEnd::Done
        }
        PumpEnd::Finished { .. } => QueryEnd::Done,
        PumpEnd::Error(e) => session.fail(e),
        PumpEnd::Capped => QueryEnd::Done,
        PumpEnd::Cancelled => QueryEnd::Cancelled,
        PumpEnd::Deadline => QueryEnd::TimedOut(format!(
            "the statement ran past the step's timeout of {}s; {stopped}",
            seconds(limit)
        )),
    }
}
