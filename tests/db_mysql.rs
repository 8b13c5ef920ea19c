//! MySQL/MariaDB targets against a real MariaDB started by the harness.
mod support;

use casefile::snapshot::StreamStatus;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::dbcapture::{capture, repeated, step, target};
use support::mariadb::{MariaDb, PASSWORD};

const T: Duration = Duration::from_secs(20);

fn wait_for_in_processlist(db: &MariaDb, marker: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if db
            .sql("SELECT INFO FROM information_schema.PROCESSLIST")
            .contains(marker)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{marker} never showed up in the processlist");
}

#[tokio::test(flavor = "multi_thread")]
async fn processlist_shows_a_concurrent_sleep_with_its_text() {
    let db = MariaDb::shared();
    let marker = "casefile-benchmark-marker";
    let mut sleeper = db
        .client()
        .args(["-e", &format!("SELECT SLEEP(30), '{marker}'")])
        .stdout(Stdio::null())
        .spawn()
        .expect("client");
    wait_for_in_processlist(db, marker);
    let out = capture(
        target(&db.url("casefile")),
        Some(PASSWORD),
        vec![step("processlist", "SHOW FULL PROCESSLIST", T)],
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
    for column in [
        "Id", "User", "Host", "db", "Command", "Time", "State", "Info",
    ] {
        assert!(header.contains(column), "header lacks {column}: {header}");
    }
    let line = text
        .lines()
        .find(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no sleeping query in:\n{text}"));
    assert!(
        line.contains("SELECT SLEEP(30)") && line.contains("Query"),
        "{line}"
    );
    let rows = out.json_rows(0);
    assert!(
        rows[0]["_columns"].is_array(),
        "first JSON line describes the columns"
    );
    assert!(
        rows.iter()
            .any(|r| r["Info"].as_str().is_some_and(|i| i.contains(marker)) && r["Id"].is_u64()),
        "{rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_type_renders_as_expected() {
    let db = MariaDb::shared();
    db.sql(
        "CREATE TABLE IF NOT EXISTS app.types (
           id INT PRIMARY KEY, ti TINYINT, ub BIGINT UNSIGNED, de DECIMAL(30,10), fl FLOAT, du DOUBLE,
           d DATE, dt DATETIME(6), t TIME, y YEAR, vc VARCHAR(64) CHARACTER SET utf8mb4, l1 VARCHAR(16) CHARACTER SET latin1,
           bl BLOB, j JSON, bi BIT(8), en ENUM('small','large'), tx TEXT) ;
         DELETE FROM app.types;
         INSERT INTO app.types VALUES
           (1, -128, 18446744073709551615, 12345678901234567890.0123456789, 1.5, 2.25e-10,
            '2024-02-29', '2024-02-29 23:59:58.123456', '-838:59:59', 2155, 'héllo 世界 🦀', 'café',
            0x00FF10DEADBEEF, '{\"a\": [1, 2]}', b'10100101', 'large', 'line1\nline2\tTab\r\\\\back\x1b[31mred'),
           (2, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'NULL', NULL, NULL, NULL, NULL, NULL, '');",
    );
    let out = capture(
        target(&db.url("root")),
        None,
        vec![step("types", "SELECT * FROM app.types ORDER BY id", T)],
    )
    .await;
    let text = out.stdout(0);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with(" id | ti   | ub "), "{text}");
    let one = lines
        .iter()
        .find(|l| l.starts_with("  1 |"))
        .unwrap_or_else(|| panic!("{text}"));
    for expected in [
        "| -128 |",
        "| 18446744073709551615 |",
        "| 12345678901234567890.0123456789 |",
        " 1.5 |",
        "| 0.000000000225 |",
        "| 2024-02-29 |",
        "| 2024-02-29 23:59:58.123456 |",
        "| -838:59:59 |",
        "| 2155 |",
        "| héllo 世界 🦀 ",
        "| café ",
        "| 0x00ff10deadbeef (7 bytes) ",
        "{\"a\": [1, 2]}",
        "| 0xa5 (1 byte) ",
        "| large ",
        "| line1\\nline2\\tTab\\r\\\\back\\u{001b}[31mred",
    ] {
        assert!(one.contains(expected), "row 1 lacks {expected:?}:\n{one}");
    }
    let two = lines
        .iter()
        .find(|l| l.starts_with("  2 |"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        two.contains("| NULL ") && two.contains("| 'NULL' "),
        "NULL and the string 'NULL' differ: {two}"
    );
    assert!(!text.contains('\x1b'), "no raw escape reaches the table");
    assert!(text.contains("(2 rows)"), "{text}");
    // The grid is aligned: header and rows have their separators at the same columns.
    let bars = |l: &str| -> Vec<usize> {
        l.chars()
            .scan(0usize, |w, c| {
                let at = *w;
                *w += unicode_width(c);
                Some((at, c))
            })
            .filter(|(_, c)| *c == '|')
            .map(|(at, _)| at)
            .collect()
    };
    assert_eq!(bars(lines[0]).len(), 16);
    assert_eq!(bars(lines[0]), bars(two), "{text}");
    assert_eq!(
        bars(lines[0]),
        bars(one),
        "wide characters keep the grid aligned:\n{text}"
    );

    let rows = out.json_rows(0);
    let types: Vec<&str> = rows[0]["_columns"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|c| c["type"].as_str())
        .collect();
    assert_eq!(
        &types[..4],
        ["INT", "TINYINT", "BIGINT UNSIGNED", "DECIMAL"]
    );
    let r1 = &rows[1];
    assert_eq!(r1["ub"].as_u64(), Some(u64::MAX));
    assert!(
        out.jsonl(0)
            .contains("\"de\":12345678901234567890.0123456789,"),
        "decimals keep every digit: {}",
        out.jsonl(0)
    );
    assert_eq!(r1["bl"], "0x00ff10deadbeef");
    assert_eq!(r1["vc"], "héllo 世界 🦀");
    assert_eq!(r1["tx"], "line1\nline2\tTab\r\\back\u{1b}[31mred");
    let r2 = &rows[2];
    assert!(r2["ti"].is_null() && r2["vc"] == "NULL", "{r2}");
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_through_a_capture_session_are_refused() {
    let db = MariaDb::shared();
    db.sql(
        "CREATE TABLE IF NOT EXISTS app.guarded (v INT) ENGINE=InnoDB; DELETE FROM app.guarded;",
    );
    let out = capture(
        target(&db.url("casefile")),
        Some(PASSWORD),
        vec![
            step("insert", "INSERT INTO app.guarded VALUES (1)", T),
            step(
                "update",
                "UPDATE mysql.global_priv SET Priv = '{}' WHERE User = 'weak'",
                T,
            ),
            step("ddl", "CREATE TABLE app.sneaky (v INT)", T),
        ],
    )
    .await;
    for stream in 0..3 {
        let result = &out.manifest.streams[stream].result;
        assert_eq!(
            (result.status, result.exit_code),
            (StreamStatus::Exited, Some(1)),
            "{}",
            out.stderr(stream)
        );
        assert!(
            out.stderr(stream).contains("read-only"),
            "{}",
            out.stderr(stream)
        );
    }
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM app.guarded")
            .trim()
            .lines()
            .last(),
        Some("0")
    );
    assert!(
        !db.sql("SHOW TABLES FROM app").contains("sneaky"),
        "DDL was refused too"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_query_past_its_timeout_is_stopped_on_the_server() {
    let db = MariaDb::shared();
    let marker = "/* casefile-timeout-marker */";
    let started = Instant::now();
    let out = capture(
        target(&db.url("casefile")),
        Some(PASSWORD),
        vec![
            step(
                "slow",
                &format!("SELECT SLEEP(30) {marker}"),
                Duration::from_secs(2),
            ),
            step("after", "SELECT 42 AS answer", T),
        ],
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    let result = &out.manifest.streams[0].result;
    assert_eq!(result.status, StreamStatus::TimedOut, "{}", out.stderr(0));
    assert!(result.timed_out);
    assert!(out.stderr(0).contains("timeout"), "{}", out.stderr(0));
    let list = db.sql("SELECT INFO FROM information_schema.PROCESSLIST");
    assert!(
        !list.contains(marker),
        "the query still runs on the server:\n{list}"
    );
    // The shared session is usable afterwards.
    assert_eq!(out.manifest.streams[1].result.status, StreamStatus::Exited);
    assert!(out.stdout(1).contains("42"), "{}", out.stdout(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn steps_share_one_read_only_session() {
    let db = MariaDb::shared();
    let out = capture(
        target(&db.url("casefile")),
        Some(PASSWORD),
        vec![
            step(
                "a",
                "SELECT CONNECTION_ID() AS id, @@session.tx_read_only AS ro",
                T,
            ),
            step("b", "SELECT CONNECTION_ID() AS id", T),
        ],
    )
    .await;
    assert_eq!(
        out.manifest.streams[0].result.status,
        StreamStatus::Exited,
        "{} {}",
        out.stdout(0),
        out.stderr(0)
    );
    let id = |s: usize| out.json_rows(s)[1]["id"].as_u64().expect("id");
    assert_eq!(id(0), id(1), "one connection per target");
    assert_eq!(out.json_rows(0)[1]["ro"].as_i64(), Some(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_and_unreachable_server_give_clear_errors() {
    let db = MariaDb::shared();
    let out = capture(
        target(&db.url("casefile")),
        Some("not-the-password"),
        vec![step("a", "SELECT 1", T), step("b", "SELECT 2", T)],
    )
    .await;
    for stream in 0..2 {
        let result = &out.manifest.streams[stream].result;
        assert_eq!(result.status, StreamStatus::Failed);
        let reason = result.reason.as_deref().unwrap_or_default();
        assert!(
            reason.contains("access denied for user `casefile`")
                && reason.contains("password_secret"),
            "{reason}"
        );
    }
    let port = support::dbserver::free_port();
    let out = capture(
        target(&format!("mysql://root@127.0.0.1:{port}/")),
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
    let db = MariaDb::shared();
    let out = capture(
        target(&db.url("casefile")),
        Some(PASSWORD),
        vec![
            step(
                "echo",
                &format!("SELECT '{PASSWORD}' AS leaked, CONCAT('x', '{PASSWORD}') AS again"),
                T,
            ),
            step("processlist", "SHOW FULL PROCESSLIST", T),
        ],
    )
    .await;
    assert_eq!(
        out.manifest.streams[0].result.status,
        StreamStatus::Exited,
        "{}",
        out.stderr(0)
    );
    assert!(out.stdout(0).contains("[REDACTED]"), "{}", out.stdout(0));
    for (path, bytes) in support::cli::all_files(&out.dir) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(PASSWORD),
            "{} holds the password",
            path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_privileges_and_relations_are_said_plainly() {
    let db = MariaDb::shared();
    let out = capture(
        target(&db.url("weak")),
        Some(PASSWORD),
        vec![
            step("innodb", "SHOW ENGINE INNODB STATUS", T),
            step("processlist", "SHOW FULL PROCESSLIST", T),
            step(
                "locks",
                "SELECT * FROM performance_schema.data_lock_waits",
                T,
            ),
        ],
    )
    .await;
    let innodb = &out.manifest.streams[0].result;
    assert_eq!(innodb.status, StreamStatus::Failed);
    let reason = innodb.reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("permission denied") && reason.contains("PROCESS"),
        "{reason}"
    );
    assert!(
        out.stderr(1).contains("lacks the PROCESS privilege"),
        "{}",
        out.stderr(1)
    );
    let locks = &out.manifest.streams[2].result;
    assert_eq!(
        locks.status,
        StreamStatus::NotAvailable,
        "{}",
        out.stderr(2)
    );
    assert!(
        locks
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("doesn't exist"),
        "{:?}",
        locks.reason
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_results_show_their_columns_and_row_caps_stop_reading() {
    let db = MariaDb::shared();
    db.sql("CREATE TABLE IF NOT EXISTS app.empty (alpha INT, beta TEXT)");
    let mut capped = step("capped", "SELECT seq FROM app.seq_1_to_100000", T);
    capped.max_rows = Some(10);
    let out = capture(
        target(&db.url("root")),
        None,
        vec![
            step("empty", "SELECT * FROM app.empty", T),
            step("replica", "SHOW SLAVE STATUS", T),
            capped,
            step("after", "SELECT 'still fine' AS s", T),
        ],
    )
    .await;
    assert_eq!(out.stdout(0), " alpha | beta\n-------+------\n(0 rows)\n\n");
    assert!(
        out.stdout(1).contains("Slave_IO_State") && out.stdout(1).contains("(0 rows)"),
        "{}{} {:?}",
        out.stdout(1),
        out.stderr(1),
        out.manifest.streams[1].result
    );
    let text = out.stdout(2);
    assert!(
        text.contains("(10 rows; stopped at the row cap of 10 rows)"),
        "{text} {} {:?}",
        out.stderr(2),
        out.manifest.streams[2].result
    );
    assert!(out.manifest.streams[2].result.truncated);
    assert!(out.stdout(3).contains("still fine"), "{}", out.stderr(3));
}

#[tokio::test(flavor = "multi_thread")]
async fn sampling_repeats_with_timestamps_and_never_overlaps() {
    let db = MariaDb::shared();
    let spec = repeated(
        step("status", "SELECT NOW(6) AS at, SLEEP(0.3) AS slept", T),
        Duration::from_millis(500),
        3,
    );
    let started = Instant::now();
    let out = capture(target(&db.url("root")), None, vec![spec]).await;
    let text = out.stdout(0);
    for n in 1..=3 {
        assert!(text.contains(&format!("-- sample {n}/3 at 20")), "{text}");
    }
    assert!(
        started.elapsed() >= Duration::from_millis(1300),
        "3 samples 500 ms apart take at least 1.3 s"
    );
    let ats: Vec<String> = out
        .json_rows(0)
        .iter()
        .filter_map(|r| r["at"].as_str().map(str::to_string))
        .collect();
    assert_eq!(ats.len(), 3, "{ats:?}");
    let headers: Vec<u64> = out
        .json_rows(0)
        .iter()
        .filter_map(|r| r["_sample"].as_u64())
        .collect();
    assert_eq!(headers, [1, 2, 3]);
}

#[test]
fn cli_runs_the_mysql_preset_end_to_end() {
    let db = MariaDb::shared();
    let sandbox = support::cli::Sandbox::new();
    let out = sandbox.run(&[
        "capture",
        "--target",
        &db.url("root"),
        "--preset",
        "mysql",
        "--out",
        &sandbox.captures().display().to_string(),
        "--json",
    ]);
    let stderr = support::cli::stderr(&out);
    let summary: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let streams = summary["streams"].as_array().expect("streams");
    assert!(streams.len() >= 8, "{summary}");
    for s in streams {
        let status = s["status"].as_str().unwrap_or_default();
        assert!(
            matches!(status, "exited" | "not_available"),
            "{s} failed:\n{stderr}"
        );
    }
    let dir = std::path::PathBuf::from(summary["snapshot"].as_str().expect("snapshot"));
    let processlist = std::fs::read_dir(dir.join("streams"))
        .expect("streams dir")
        .filter_map(Result::ok)
        .find(|e| {
            e.file_name().to_string_lossy().contains("processlist")
                && e.file_name().to_string_lossy().ends_with(".out")
        })
        .expect("a processlist stream");
    let text = std::fs::read_to_string(processlist.path()).expect("read");
    assert!(
        text.contains("SHOW FULL PROCESSLIST") || text.contains("Info"),
        "{text}"
    );
    let _ = Command::new("true").status();
}

/// Terminal width of a character (wide CJK and emoji take two cells).
fn unicode_width(c: char) -> usize {
    if matches!(c as u32, 0x1100..=0x115f | 0x2e80..=0xa4cf | 0xac00..=0xd7a3 | 0xf900..=0xfaff | 0xfe30..=0xfe4f | 0xff00..=0xff60 | 0xffe0..=0xffe6 | 0x1f300..=0x1faff | 0x20000..=0x3fffd)
    {
        2
    } else {
        1
    }
}

#[test]
fn cli_takes_the_password_from_a_secret_reference_and_never_shows_it() {
    let db = MariaDb::shared();
    let sandbox = support::cli::Sandbox::new();
    let secret_file = sandbox.path().join("db-password");
    std::fs::write(&secret_file, format!("{PASSWORD}\n")).expect("secret file");
    sandbox.write_config(&format!(
        "[secrets.orders]\nfile = \"{}\"\n[targets.orders]\nurl = \"mysql://casefile@127.0.0.1:{}/app\"\npassword_secret = \"orders\"\ntls = \"prefer\"\n",
        secret_file.display(),
        db.port
    ));
    let out = sandbox.run(&[
        "capture",
        "--target",
        "orders",
        "--query",
        "SHOW FULL PROCESSLIST",
        "--query",
        &format!("SELECT '{PASSWORD}' AS pw"),
        "--out",
        &sandbox.captures().display().to_string(),
    ]);
    let stderr = support::cli::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains(PASSWORD) && !support::cli::stdout(&out).contains(PASSWORD));
    let files = support::cli::all_files(&sandbox.captures());
    assert!(
        files
            .iter()
            .any(|(p, _)| p.extension().is_some_and(|e| e == "jsonl")),
        "a JSON-lines copy is written"
    );
    for (path, bytes) in files {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(PASSWORD),
            "{} holds the password",
            path.display()
        );
    }
}

/// Rows are read on a thread of their own and handed over in batches: a result of many
/// batches (and a second statement's result) must arrive whole and in order in both files,
/// a row cap past several batches must stop reading, and the session must stay usable.
/// A single-threaded runtime on purpose: the reader must not depend on a second worker.
#[tokio::test(flavor = "current_thread")]
async fn large_results_arrive_whole_and_in_order_through_the_reader() {
    let db = MariaDb::shared();
    let mut capped = step("capped", "SELECT seq FROM app.seq_1_to_100000", T);
    capped.max_rows = Some(3000);
    let out = capture(
        target(&db.url("root")),
        None,
        vec![
            step(
                "big",
                "SELECT seq FROM app.seq_1_to_20000; SELECT seq * 2 AS twice FROM app.seq_1_to_700",
                T,
            ),
            capped,
            step("after", "SELECT 'still fine' AS s", T),
        ],
    )
    .await;
    let rows = out.json_rows(0);
    let seqs: Vec<u64> = rows.iter().filter_map(|r| r["seq"].as_u64()).collect();
    assert_eq!(seqs, (1..=20_000).collect::<Vec<u64>>());
    let twice: Vec<u64> = rows.iter().filter_map(|r| r["twice"].as_u64()).collect();
    assert_eq!(twice, (1..=700).map(|n| n * 2).collect::<Vec<u64>>());
    let text = out.stdout(0);
    assert!(
        text.contains(" 19999\n 20000\n(20000 rows)\n"),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
    assert!(text.contains(" 1400\n(700 rows)\n"), "{}", out.stderr(0));
    assert_eq!(
        text.lines()
            .filter(|l| l.trim().parse::<u64>().is_ok())
            .count(),
        20_700
    );

    let capped_text = out.stdout(1);
    assert!(
        capped_text.contains(" 3000\n(3000 rows; stopped at the row cap of 3000 rows)"),
        "{} {}",
        &capped_text[capped_text.len().saturating_sub(300)..],
        out.stderr(1)
    );
    let capped_rows = out.json_rows(1);
    assert_eq!(
        capped_rows.iter().filter(|r| r["seq"].is_u64()).count(),
        3000
    );
    assert!(out.stdout(2).contains("still fine"), "{}", out.stderr(2));
}

/// With the server-side timeout switched off, only the client deadline stops the statement:
/// `KILL QUERY` from a second connection, then what the statement still sends is read, so the
/// same session (same connection id) runs the next step instead of a new one.
#[tokio::test(flavor = "multi_thread")]
async fn the_session_survives_a_kill_at_the_client_deadline() {
    let db = MariaDb::shared();
    let marker = "deadline-kill-marker-41c";
    let started = Instant::now();
    let out = capture(
        target(&db.url("root")),
        None,
        vec![
            step("before", "SELECT CONNECTION_ID() AS id", T),
            step(
                "slow",
                &format!("SET STATEMENT max_statement_time = 0 FOR SELECT SLEEP(30) AS s, '{marker}' AS m"),
                Duration::from_secs(1),
            ),
            step("after", "SELECT CONNECTION_ID() AS id", T),
        ],
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        out.manifest.streams[1].result.status,
        StreamStatus::TimedOut
    );
    let err = out.stderr(1);
    assert!(err.contains("stopped on the server (KILL QUERY"), "{err}");
    let list = db.sql("SELECT INFO FROM information_schema.PROCESSLIST");
    assert!(!list.contains(marker), "still running:\n{list}");
    let id = |s: usize| out.json_rows(s)[1]["id"].as_u64().expect("id");
    assert_eq!(id(0), id(2), "the session was kept: {}", out.stderr(2));
}
