//! PostgreSQL targets against a real PostgreSQL 15 started by the harness.
mod support;

use casefile::snapshot::StreamStatus;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::dbcapture::{capture, step, target};
use support::postgres::{PASSWORD, Postgres};

const T: Duration = Duration::from_secs(20);

fn wait_for_activity(pg: &Postgres, marker: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if pg
            .sql("SELECT query FROM pg_stat_activity")
            .contains(marker)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{marker} never showed up in pg_stat_activity");
}

#[tokio::test(flavor = "multi_thread")]
async fn activity_shows_a_concurrent_sleep_with_its_text() {
    let pg = Postgres::shared();
    let marker = "casefile-pg-marker";
    let mut sleeper = pg
        .psql("app")
        .args(["-c", &format!("SELECT pg_sleep(30), '{marker}'")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("psql");
    wait_for_activity(pg, marker);
    let sql = "SELECT pid, usename, state, now() - query_start AS running_for, query FROM pg_stat_activity WHERE state <> 'idle' AND pid <> pg_backend_pid() ORDER BY query_start";
    let out = capture(
        target(&pg.url("casefile", "postgres")),
        Some(PASSWORD),
        vec![step("activity", sql, T)],
    )
    .await;
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert_eq!(
        out.manifest.streams[0].result.status,
        StreamStatus::Exited,
        "{}",
        out.stderr(0)
    );
    let text = out.stdout(0);
    let header = text.lines().next().unwrap_or_default();
    assert!(
        ["pid", "usename", "state", "running_for", "query"]
            .iter()
            .all(|c| header.contains(c)),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no sleeping query in:\n{text}"));
    assert!(
        line.contains("SELECT pg_sleep(30)") && line.contains("| active "),
        "{line}"
    );
    assert!(
        !out.stderr(0).contains("pg_read_all_stats"),
        "casefile is a member of pg_read_all_stats"
    );
    let rows = out.json_rows(0);
    assert!(
        rows.iter()
            .any(|r| r["query"].as_str().is_some_and(|q| q.contains(marker)) && r["pid"].is_i64()),
        "{rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_type_renders_as_expected() {
    let pg = Postgres::shared();
    let sql = r#"SELECT 1::int4 AS id, (-32768)::int2 AS small, 9223372036854775807::int8 AS big,
        12345678901234567890.0123456789::numeric AS num, 1.5::float4 AS f4, 'NaN'::float8 AS nan,
        true AS yes, false AS no, DATE '2024-02-29' AS d, TIMESTAMPTZ '2024-02-29 23:59:58.123456+00' AS ts,
        TIME '13:14:15' AS t, INTERVAL '1 day 02:03:04.5' AS iv, 'héllo 世界 🦀' AS txt, '\x00ff10deadbeef'::bytea AS bin,
        '{"a": [1, 2]}'::jsonb AS js, '192.168.0.1/24'::inet AS ip, ARRAY[1,2,3] AS arr, ARRAY['a b', NULL] AS tarr,
        NULL::text AS nothing, 'NULL' AS word, E'line1\nline2\tTab\\back\x1b[31mred' AS messy
      UNION ALL SELECT 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"#;
    let out = capture(
        target(&pg.url("postgres", "app")),
        None,
        vec![step("types", sql, T)],
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
    for expected in [
        "| -32768 |",
        "| 9223372036854775807 |",
        "| 12345678901234567890.0123456789 |",
        " 1.5 |",
        " NaN |",
        "| t ",
        "| f ",
        "| 2024-02-29 |",
        "| 2024-02-29 23:59:58.123456+00 |",
        "| 13:14:15 |",
        "| 1 day 02:03:04.5 |",
        "| héllo 世界 🦀 |",
        "| 0x00ff10deadbeef (7 bytes) |",
        "| {\"a\": [1, 2]} ",
        "| 192.168.0.1/24 |",
        "| {1,2,3} ",
        "| {\"a b\",NULL} |",
        "| NULL ",
        "| 'NULL' |",
        "| line1\\nline2\\tTab\\\\back\\u{001b}[31mred",
    ] {
        assert!(one.contains(expected), "row 1 lacks {expected:?}:\n{one}");
    }
    let rows = out.json_rows(0);
    let r1 = &rows[1];
    assert_eq!(r1["big"].as_i64(), Some(i64::MAX));
    assert!(
        out.jsonl(0)
            .contains("\"num\":12345678901234567890.0123456789,"),
        "{}",
        out.jsonl(0)
    );
    assert_eq!(
        (r1["yes"].as_bool(), r1["no"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(r1["nan"], "NaN");
    assert_eq!(r1["bin"], "0x00ff10deadbeef");
    assert_eq!(r1["js"]["a"][1], 2);
    assert_eq!(r1["arr"], "{1,2,3}");
    assert!(r1["nothing"].is_null() && r1["word"] == "NULL");
    assert_eq!(r1["messy"], "line1\nline2\tTab\\back\u{1b}[31mred");
    let types: Vec<&str> = rows[0]["_columns"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|c| c["type"].as_str())
        .collect();
    assert_eq!(&types[..4], ["INT4", "INT2", "INT8", "NUMERIC"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_through_a_capture_session_are_refused() {
    let pg = Postgres::shared();
    pg.sql("CREATE TABLE IF NOT EXISTS guarded (v int); DELETE FROM guarded;");
    let out = capture(
        target(&pg.url("postgres", "postgres")),
        None,
        vec![
            step("insert", "INSERT INTO guarded VALUES (1)", T),
            step("ddl", "CREATE TABLE sneaky (v int)", T),
        ],
    )
    .await;
    for stream in 0..2 {
        let result = &out.manifest.streams[stream].result;
        assert_eq!(
            (result.status, result.exit_code),
            (StreamStatus::Exited, Some(1)),
            "{}",
            out.stderr(stream)
        );
        assert!(
            out.stderr(stream).contains("25006") && out.stderr(stream).contains("read-only"),
            "{}",
            out.stderr(stream)
        );
    }
    assert_eq!(pg.sql("SELECT count(*) FROM guarded").trim(), "0");
    assert_eq!(
        pg.sql("SELECT count(*) FROM pg_class WHERE relname = 'sneaky'")
            .trim(),
        "0"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_query_past_its_timeout_is_stopped_on_the_server() {
    let pg = Postgres::shared();
    let marker = "casefile-pg-timeout";
    let out = capture(
        target(&pg.url("casefile", "postgres")),
        Some(PASSWORD),
        vec![
            step(
                "slow",
                &format!("SELECT pg_sleep(30), '{marker}'"),
                Duration::from_secs(2),
            ),
            step("after", "SELECT 42 AS answer", T),
        ],
    )
    .await;
    let result = &out.manifest.streams[0].result;
    assert_eq!(result.status, StreamStatus::TimedOut, "{}", out.stderr(0));
    assert!(out.stderr(0).contains("57014"), "{}", out.stderr(0));
    let active = pg.sql("SELECT query FROM pg_stat_activity WHERE state = 'active'");
    assert!(
        !active.contains(marker),
        "still running on the server:\n{active}"
    );
    assert!(
        out.stdout(1).contains("42"),
        "the session is usable afterwards: {}",
        out.stderr(1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_and_unreachable_server_give_clear_errors() {
    let pg = Postgres::shared();
    let out = capture(
        target(&pg.url("casefile", "postgres")),
        Some("wrong-password"),
        vec![step("a", "SELECT 1", T)],
    )
    .await;
    let reason = out.manifest.streams[0]
        .result
        .reason
        .clone()
        .unwrap_or_default();
    assert_eq!(out.manifest.streams[0].result.status, StreamStatus::Failed);
    assert!(
        reason.contains("password authentication failed for user `casefile`")
            && reason.contains("password_secret"),
        "{reason}"
    );
    let port = support::dbserver::free_port();
    let out = capture(
        target(&format!("postgres://postgres@127.0.0.1:{port}/postgres")),
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
        reason.contains(&format!("connection refused at 127.0.0.1:{port}")),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_password_never_reaches_the_snapshot() {
    let pg = Postgres::shared();
    let out = capture(
        target(&pg.url("casefile", "postgres")),
        Some(PASSWORD),
        vec![
            step("echo", &format!("SELECT '{PASSWORD}' AS leaked"), T),
            step("bad", &format!("SELECT * FROM \"{PASSWORD}\""), T),
        ],
    )
    .await;
    assert!(out.stdout(0).contains("[REDACTED]"), "{}", out.stdout(0));
    for (path, bytes) in support::cli::all_files(&out.dir) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(PASSWORD),
            "{} holds the password",
            path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_extension_and_privileges_are_said_plainly() {
    let pg = Postgres::shared();
    let out = capture(
        target(&pg.url("weak", "postgres")),
        Some(PASSWORD),
        vec![
            step(
                "statements",
                "SELECT query, calls FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 5",
                T,
            ),
            step("activity", "SELECT pid, query FROM pg_stat_activity", T),
            step("privileged", "SELECT pg_read_file('postgresql.conf')", T),
        ],
    )
    .await;
    let statements = &out.manifest.streams[0].result;
    assert_eq!(
        statements.status,
        StreamStatus::NotAvailable,
        "{}",
        out.stderr(0)
    );
    assert!(
        statements
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("pg_stat_statements"),
        "{:?}",
        statements.reason
    );
    assert!(
        out.stderr(1).contains("pg_read_all_stats"),
        "{}",
        out.stderr(1)
    );
    let privileged = &out.manifest.streams[2].result;
    assert_eq!(privileged.status, StreamStatus::Failed);
    assert!(
        privileged
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("permission denied"),
        "{:?}",
        privileged.reason
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_results_show_their_columns() {
    let pg = Postgres::shared();
    let out = capture(
        target(&pg.url("postgres", "postgres")),
        None,
        vec![step(
            "empty",
            "SELECT pid, usename FROM pg_stat_replication",
            T,
        )],
    )
    .await;
    assert_eq!(
        out.stdout(0),
        " pid | usename\n-----+---------\n(0 rows)\n\n"
    );
}

#[test]
fn cli_runs_the_postgres_preset_end_to_end() {
    let pg = Postgres::shared();
    let sandbox = support::cli::Sandbox::new();
    let out = sandbox.run(&[
        "capture",
        "--target",
        &pg.url("postgres", "postgres"),
        "--preset",
        "postgres",
        "--out",
        &sandbox.captures().display().to_string(),
        "--json",
    ]);
    let stderr = support::cli::stderr(&out);
    let summary: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let streams = summary["streams"].as_array().expect("streams");
    assert!(streams.len() >= 10, "{summary}");
    for s in streams {
        let status = s["status"].as_str().unwrap_or_default();
        assert!(
            matches!(status, "exited" | "not_available"),
            "{s} failed:\n{stderr}"
        );
        if s["id"]
            .as_str()
            .unwrap_or_default()
            .contains("top-statements")
        {
            assert_eq!(
                status, "not_available",
                "pg_stat_statements is not created in this database"
            );
        }
    }
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

/// With `statement_timeout` switched off by the step itself, only the client deadline stops the
/// statement: `pg_cancel_backend` from a second connection, then what the statement still sends
/// is read, so the same session (same backend pid) runs the next step.
#[tokio::test(flavor = "multi_thread")]
async fn the_session_survives_a_cancel_at_the_client_deadline() {
    let pg = Postgres::shared();
    let marker = "casefile-pg-deadline-7d1";
    let out = capture(
        target(&pg.url("casefile", "postgres")),
        Some(PASSWORD),
        vec![
            step("before", "SELECT pg_backend_pid() AS pid", T),
            step(
                "slow",
                &format!("SET statement_timeout = 0; SELECT pg_sleep(30), '{marker}'"),
                Duration::from_secs(1),
            ),
            step("after", "SELECT pg_backend_pid() AS pid", T),
        ],
    )
    .await;
    assert_eq!(
        out.manifest.streams[1].result.status,
        StreamStatus::TimedOut,
        "{}",
        out.stderr(1)
    );
    let err = out.stderr(1);
    assert!(
        err.contains("stopped on the server (pg_cancel_backend("),
        "{err}"
    );
    let active = pg.sql("SELECT query FROM pg_stat_activity WHERE state = 'active'");
    assert!(
        !active.contains(marker),
        "still running on the server:\n{active}"
    );
    let pid = |s: usize| out.json_rows(s)[1]["pid"].as_u64().expect("pid");
    assert_eq!(pid(0), pid(2), "the session was kept: {}", out.stderr(2));
}
