//! Database capture speed against the clients an operator would otherwise use:
//!
//! - `SHOW FULL PROCESSLIST` with 500 connected clients: casefile vs `mariadb -t -e … > file`
//! - `pg_stat_activity` with 500 connected clients: casefile vs `psql -c … > file`
//! - a 100,000-row query on each: casefile vs the same clients
//!
//! Each run is a whole process (connect, query, write a new file), best of several runs; the two
//! tools' runs alternate, so a slow phase of this shared machine hits both alike.
//! casefile writes the aligned table *and* the JSON-lines copy; the clients write one table.
//! Run: `cargo bench --bench db_bench` (release). Starts its own MariaDB and PostgreSQL.
//! Both tools write into a temp dir under `CASEFILE_BENCH_DIR` (default: the system temp dir).
//! A capture creates two folders and several files, so on a file system busy with deletions
//! (ext4 right after large builds) its fixed cost grows; `CASEFILE_BENCH_DIR=/dev/shm` takes
//! the disk out of the comparison.
// A bench reports its figures to the person running it; nothing captured is printed.
#![allow(clippy::print_stdout, clippy::print_stderr)]
#[path = "../tests/support/mod.rs"]
mod support;

use sqlx::{ConnectOptions, Connection};
use std::{
    fs::File,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const RUNS: usize = 9;
const CLIENTS: usize = 500;

/// The best time of each of two commands over `runs` alternating runs.
fn best_of_alternating(
    runs: usize,
    mut first: impl FnMut() -> Duration,
    mut second: impl FnMut() -> Duration,
) -> (Duration, Duration) {
    let (mut a, mut b) = (Duration::MAX, Duration::MAX);
    for _ in 0..runs {
        a = a.min(first());
        b = b.min(second());
    }
    (a, b)
}

fn timed(cmd: &mut Command, out: &Path) -> Duration {
    let file = File::create(out).expect("output file");
    let start = Instant::now();
    let status = cmd
        .stdout(Stdio::from(file))
        .stderr(Stdio::null())
        .status()
        .expect("run");
    let took = start.elapsed();
    assert!(status.success(), "{cmd:?} failed");
    took
}

/// One capture into a new snapshot in `dir`. Snapshots accumulate there, as a responder's do:
/// nothing is deleted while timing, since a burst of deletions makes ext4 slower to allocate
/// the next files for a while, which would charge the tool that creates more files.
fn casefile(url: &str, sql: &str, dir: &Path) -> Duration {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_casefile"));
    cmd.args([
        "capture",
        "--target",
        url,
        "--query",
        sql,
        "--out",
        &dir.display().to_string(),
        "--timeout",
        "60s",
    ])
    .env("XDG_CONFIG_HOME", dir.join("cfg"))
    .env_remove("CASEFILE_CONFIG");
    timed(&mut cmd, &dir.with_file_name("casefile-stdout"))
}

fn report(name: &str, ours: Duration, theirs: Duration, tool: &str, bytes: u64) {
    println!(
        "{name:<44} casefile {:>8.1} ms   {tool:<8} {:>8.1} ms   ratio {:.2}x   ({} KiB table)",
        ours.as_secs_f64() * 1e3,
        theirs.as_secs_f64() * 1e3,
        ours.as_secs_f64() / theirs.as_secs_f64(),
        bytes / 1024
    );
}

fn table_bytes(dir: &Path) -> u64 {
    walk(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "out"))
        .map(|p| p.metadata().map(|m| m.len()).unwrap_or(0))
        .sum::<u64>()
        / snapshots(dir).max(1)
}

/// Snapshot folders in `dir`.
fn snapshots(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("manifest.json").is_file())
        .count() as u64
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path))
        } else {
            found.push(path)
        }
    }
    found
}

#[tokio::main]
async fn main() {
    let work = match std::env::var_os("CASEFILE_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("temp dir");
    let maria = support::mariadb::MariaDb::start();
    let pg = support::postgres::Postgres::start();

    // 500 idle clients on each server.
    let mut my_clients = Vec::new();
    let mut pg_clients = Vec::new();
    for _ in 0..CLIENTS {
        let my = sqlx::mysql::MySqlConnectOptions::new()
            .host("127.0.0.1")
            .port(maria.port)
            .username("root");
        my_clients.push(my.connect().await.expect("mariadb client"));
        let p = sqlx::postgres::PgConnectOptions::new_without_pgpass()
            .host("127.0.0.1")
            .port(pg.port)
            .username("postgres")
            .database("postgres");
        pg_clients.push(p.connect().await.expect("postgres client"));
    }
    println!("{CLIENTS} clients connected to each server; best of {RUNS} runs\n");

    let my_url = maria.url("root");
    let pg_url = pg.url("postgres", "postgres");
    let socket = maria.socket();
    let mariadb = |sql: &str| {
        let mut cmd = Command::new("mariadb");
        cmd.args([
            "--no-defaults",
            "-uroot",
            "-h127.0.0.1",
            &format!("-P{}", maria.port),
            "-t",
            "-e",
            sql,
        ]);
        cmd
    };
    let psql = |sql: &str| {
        let mut cmd = Command::new("psql");
        cmd.args([
            "-X",
            "-h",
            "127.0.0.1",
            "-p",
            &pg.port.to_string(),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            sql,
        ]);
        cmd
    };
    let _ = socket;
    let cases: Vec<(&str, String, String, &str)> = vec![
        ("SHOW FULL PROCESSLIST (500 clients)", my_url.clone(), "SHOW FULL PROCESSLIST".into(), "mariadb"),
        ("100k rows (MariaDB)", my_url.clone(), "SELECT seq, seq * 2 AS twice, CONCAT('row-', seq) AS label, NOW() AS at FROM app.seq_1_to_100000".into(), "mariadb"),
        ("pg_stat_activity (500 clients)", pg_url.clone(), "SELECT * FROM pg_stat_activity".into(), "psql"),
        ("100k rows (PostgreSQL)", pg_url.clone(), "SELECT g, g * 2 AS twice, 'row-' || g AS label, now() AS at FROM generate_series(1, 100000) g".into(), "psql"),
    ];
    for (case, (name, url, sql, tool)) in cases.into_iter().enumerate() {
        let dir = work.path().join(format!("casefile-{case}"));
        // The client writes a new file each run too, as `mariadb … > file` would.
        let mut run = 0;
        let (ours, theirs) = best_of_alternating(
            RUNS,
            || casefile(&url, &sql, &dir),
            || {
                let mut cmd = if tool == "mariadb" {
                    mariadb(&sql)
                } else {
                    psql(&sql)
                };
                run += 1;
                timed(
                    &mut cmd,
                    &work.path().join(format!("client-{case}-{run}.out")),
                )
            },
        );
        let bytes = table_bytes(&dir);
        report(name, ours, theirs, tool, bytes);
    }
    for c in my_clients {
        let _ = c.close().await;
    }
    for c in pg_clients {
        let _ = c.close().await;
    }
}
