//! Reads a statement's results on a thread of its own, so that receiving and decoding rows (sqlx)
//! runs on one core while the sink formats, hashes and writes them on another. On a large
//! result this is most of the difference to the `mariadb` client, which does one thing at a time.
//!
//! The thread owns the connection while it reads and hands it back when the result ends or the
//! reader is dropped (deadline, cancel, row cap): the caller then stops the statement on the
//! server and checks the session, as it would have done with the stream in hand.
use futures::StreamExt;
use futures::stream::BoxStream;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// What `fetch_many` yields: a statement's end or one of its rows.
pub type Item<Q, R> = Result<sqlx::Either<Q, R>, sqlx::Error>;

/// Rows handed over at once when they are already there: one channel message per row would cost
/// more than the row. Fewer are sent as soon as the server makes the reader wait.
const BATCH: usize = 256;
/// Batches in flight: bounds the memory held when writing is slower than the server.
const IN_FLIGHT: usize = 4;

/// A statement being read on its own thread.
pub struct Reading<C, Q, R> {
    /// The statement's ends and rows, in order.
    pub results: BoxStream<'static, Item<Q, R>>,
    thread: JoinHandle<C>,
}

impl<C, Q, R> Reading<C, Q, R> {
    /// Stops reading and takes the connection back (`None` if the reading thread panicked).
    pub async fn finish(self) -> Option<C> {
        drop(self.results);
        self.thread.await.ok()
    }

    /// After the server was asked to stop the statement: reads what it still sends (rows, then
    /// the error saying it was stopped) for up to `grace`, so the connection comes back between
    /// statements, ready for the next step, rather than in the middle of a result.
    pub async fn drain_then_finish(mut self, grace: Duration) -> Option<C> {
        let _ = tokio::time::timeout(grace, async {
            while self.results.next().await.is_some() {}
        })
        .await;
        self.finish().await
    }
}

/// Starts reading `sql` on `conn` with `fetch` on a thread of its own.
pub fn read_on_own_thread<C, Q, R>(
    conn: C,
    sql: String,
    fetch: for<'c> fn(&'c mut C, String) -> BoxStream<'c, Item<Q, R>>,
) -> Reading<C, Q, R>
where
    C: Send + 'static,
    Q: Send + 'static,
    R: Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Vec<Item<Q, R>>>(IN_FLIGHT);
    // A thread of its own, not a task: a task woken by the sink's task would run on the same
    // worker (tokio's LIFO slot) and the two would take turns instead of running side by side.
    let runtime = tokio::runtime::Handle::current();
    let task = tokio::task::spawn_blocking(move || runtime.block_on(read(conn, sql, fetch, tx)));
    let results = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|batch| (batch, rx))
    })
    .flat_map(futures::stream::iter)
    .boxed();
    Reading {
        results,
        thread: task,
    }
}

/// Sends `sql`'s results to `tx` in batches until they end or the receiver is gone.
async fn read<C, Q, R>(
    mut conn: C,
    sql: String,
    fetch: for<'c> fn(&'c mut C, String) -> BoxStream<'c, Item<Q, R>>,
    tx: mpsc::Sender<Vec<Item<Q, R>>>,
) -> C {
    {
        let mut batches = fetch(&mut conn, sql).ready_chunks(BATCH);
        loop {
            let batch = tokio::select! {
                biased;
                // The reader was dropped while the server had nothing to send.
                _ = tx.closed() => break,
                batch = batches.next() => batch,
            };
            let Some(batch) = batch else { break };
            if tx.send(batch).await.is_err() {
                break;
            }
        }
    }
    conn
}
