//! Mutual TLS: a client certificate (`tls_cert` + `tls_key`) for servers that require one,
//! against a real PostgreSQL (`hostssl … cert` in pg_hba.conf) and a real MariaDB
//! (`REQUIRE SUBJECT`), both with certificates made by openssl for the test.
mod support;

use casefile::snapshot::StreamStatus;
use std::path::Path;
use std::time::Duration;
use support::dbcapture::{capture, step, target};
use support::mariadb::MariaDb;
use support::postgres::Postgres;

const T: Duration = Duration::from_secs(20);

/// `?tls=verify-full&tls_ca=…` plus the client certificate when `with_cert`.
fn tls_query(dir: &Path, with_cert: bool) -> String {
    let mut query = format!("tls=verify-full&tls_ca={}", dir.join("ca.pem").display());
    if with_cert {
        query.push_str(&format!(
            "&tls_cert={}&tls_key={}",
            dir.join("client.crt").display(),
            dir.join("client.key").display()
        ));
    }
    query
}

/// Runs `sql` on `base` (a URL without query) with the client certificate from `dir`, which
/// must succeed, and without it, which must be refused: the first row, and the refusal.
async fn with_and_without_cert(base: &str, dir: &Path, sql: &str) -> (serde_json::Value, String) {
    let url = |with_cert| format!("{base}?{}", tls_query(dir, with_cert));
    let out = capture(target(&url(true)), None, vec![step("tls", sql, T)]).await;
    assert_eq!(
        out.manifest.streams[0].result.status,
        StreamStatus::Exited,
        "{}",
        out.stderr(0)
    );
    let row = out.json_rows(0)[1].clone();
    let out = capture(target(&url(false)), None, vec![step("tls", sql, T)]).await;
    let result = &out.manifest.streams[0].result;
    assert_ne!(result.status, StreamStatus::Exited);
    (row, result.reason.clone().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_accepts_the_client_certificate_and_refuses_without_it() {
    let pg = Postgres::start_with(
        "-c ssl=on -c ssl_cert_file=../server.crt -c ssl_key_file=../server.key -c ssl_ca_file=../ca.pem",
        |dir| {
            support::certs::make_certs(dir, "certuser");
            // certuser may log in only with a certificate whose CN is its name.
            std::fs::write(
                dir.join("data").join("pg_hba.conf"),
                "local all all trust\nhost all postgres 127.0.0.1/32 trust\n\
                 hostssl all certuser 127.0.0.1/32 cert\nhost all all 127.0.0.1/32 scram-sha-256\n",
            )
            .expect("pg_hba.conf");
        },
    );
    pg.sql("CREATE ROLE certuser LOGIN");
    let (row, reason) = with_and_without_cert(
        &format!("postgres://certuser@localhost:{}/postgres", pg.port),
        pg.dir(),
        "SELECT ssl, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    )
    .await;
    assert_eq!(row["ssl"], serde_json::json!(true), "{row}");
    assert_eq!(row["client_dn"], serde_json::json!("/CN=certuser"), "{row}");
    assert!(
        reason.contains("connection requires a valid client certificate"),
        "the refusal names the missing certificate: {reason}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mariadb_accepts_the_client_certificate_and_refuses_without_it() {
    let db = MariaDb::start_with(
        "--ssl-ca={dir}/ca.pem --ssl-cert={dir}/server.crt --ssl-key={dir}/server.key",
        |dir| support::certs::make_certs(dir, "certuser"),
    );
    db.sql("CREATE USER 'certuser'@'%' REQUIRE SUBJECT '/CN=certuser'; GRANT SELECT ON *.* TO 'certuser'@'%';");
    let (row, reason) = with_and_without_cert(
        &format!("mysql://certuser@localhost:{}/", db.port),
        db.dir(),
        "SELECT CURRENT_USER() AS who, VARIABLE_VALUE AS cipher FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'SSL_CIPHER'",
    )
    .await;
    assert_eq!(row["who"], serde_json::json!("certuser@%"), "{row}");
    assert!(
        row["cipher"].as_str().is_some_and(|c| !c.is_empty()),
        "{row}"
    );
    assert!(
        reason.contains("access denied for user `certuser`")
            && reason.contains("requires a client certificate (tls_cert and tls_key)"),
        "{reason}"
    );
}
