//! SQLite targets on database files the test makes.
mod support;

use casefile::snapshot::StreamStatus;
use std::time::{Duration, Instant};
use support::dbcapture::{capture, step, target};

const T: Duration = Duration::from_secs(20);

/// A database file with a table of every storage class, made with sqlx (read-write).
async fn make_db(dir: &std::path::Path) -> std::path::PathBuf {
    use sqlx::{ConnectOptions, Executor};
    let path = dir.join("app.db");
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .connect()
        .await
        .expect("create db");
    conn.execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL, data BLOB, note TEXT);
         INSERT INTO items VALUES (1, 'héllo 世界', 2.5, x'00ff10', NULL), (2, 'NULL', -1e300, NULL, 'tab\there');
         CREATE TABLE empty (a INTEGER, b TEXT);",
    )
    .await
    .expect("fill db");
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn values_render_and_writes_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = make_db(dir.path()).await;
    let url = format!("sqlite:{}", path.display());
    let out = capture(
        target(&url),
        None,
        vec![
            step("items", "SELECT * FROM items ORDER BY id", T),
            step("write", "INSERT INTO items (id) VALUES (3)", T),
            step("missing", "SELECT * FROM nope", T),
            step("empty", "SELECT a, b FROM empty", T),
        ],
    )
    .await;
    let text = out.stdout(0);
    assert_eq!(
        out.manifest.streams[0].result.status,
        StreamStatus::Exited,
        "{}",
        out.stderr(0)
    );
    let one = text
        .lines()
        .find(|l| l.starts_with("  1 |"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        one.contains("| héllo 世界 |")
            && one.contains("|    2.5 |")
            && text.contains("-1e300")
            && one.contains("| 0x00ff10 (3 bytes) |")
            && one.ends_with("| NULL"),
        "{one}"
    );
    let two = text
        .lines()
        .find(|l| l.starts_with("  2 |"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        two.contains("| 'NULL' ") && two.contains("tab\\there"),
        "{two}"
    );
    let rows = out.json_rows(0);
    assert_eq!(rows[1]["price"].as_f64(), Some(2.5));
    assert_eq!(rows[1]["data"], "0x00ff10");
    assert!(rows[1]["note"].is_null() && rows[2]["name"] == "NULL");
    let write = &out.manifest.streams[1].result;
    assert_eq!(write.exit_code, Some(1), "{}", out.stderr(1));
    assert!(
        out.stderr(1).contains("readonly") || out.stderr(1).contains("read-only"),
        "{}",
        out.stderr(1)
    );
    assert_eq!(
        out.manifest.streams[2].result.status,
        StreamStatus::NotAvailable
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runaway_query_is_interrupted_at_its_timeout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = make_db(dir.path()).await;
    let started = Instant::now();
    let endless =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    let out = capture(
        target(&format!("sqlite:{}", path.display())),
        None,
        vec![
            step("endless", endless, Duration::from_secs(1)),
            step("after", "SELECT 7 AS n", T),
        ],
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        out.manifest.streams[0].result.status,
        StreamStatus::TimedOut,
        "{}",
        out.stderr(0)
    );
    assert!(out.stdout(1).contains('7'), "{}", out.stderr(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_file_is_a_clear_error_and_never_created() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("absent.db");
    let out = capture(
        target(&format!("sqlite:{}", path.display())),
        None,
        vec![step("a", "SELECT 1", T)],
    )
    .await;
    let reason = out.manifest.streams[0]
        .result
        .reason
        .clone()
        .unwrap_or_default();
    assert!(
        reason.contains("cannot open") && reason.contains("absent.db"),
        "{reason}"
    );
    assert!(!path.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_runs_the_sqlite_preset_end_to_end() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = make_db(dir.path()).await;
    let sandbox = support::cli::Sandbox::new();
    let out = sandbox.run(&[
        "capture",
        "--target",
        &format!("sqlite:{}", path.display()),
        "--preset",
        "sqlite",
        "--out",
        &sandbox.captures().display().to_string(),
        "--json",
    ]);
    let stderr = support::cli::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("summary");
    let snapshot = std::path::PathBuf::from(summary["snapshot"].as_str().expect("snapshot"));
    let integrity = std::fs::read_dir(snapshot.join("streams"))
        .expect("streams")
        .filter_map(Result::ok)
        .find(|e| {
            e.file_name().to_string_lossy().contains("integrity-check")
                && e.file_name().to_string_lossy().ends_with(".out")
        })
        .expect("integrity stream");
    let text = std::fs::read_to_string(integrity.path()).expect("read");
    assert!(
        text.contains("integrity_check") && text.contains(" ok"),
        "{text}"
    );
}
