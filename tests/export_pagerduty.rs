//! The PagerDuty client against Prism serving PagerDuty's official API description with
//! `--errors` (every request validated: auth scheme, headers, body), and the export's incident
//! note. Only what Prism cannot do — a 429 with rate-limit headers, notes that round-trip and the
//! duplicate check — uses `StubPagerDuty`, a stub marked as such in tests/support/prism.rs.
mod support;

use casefile::pagerduty::{IncidentFilter, IncidentStatus, PagerDuty, PagerDutySettings};
use casefile::secret::SecretValue;
use serde_json::Value;
use std::{path::PathBuf, time::Instant};
use support::cli::{Sandbox, stderr, stdout};
use support::prism::{Prism, StubPagerDuty};
use support::s3::{self as s3, ACCESS_KEY, S3sFs, SECRET_KEY};

const TOKEN: &str = "y_NbAkKc66ryYTWUXYEu";
const FROM: &str = "responder@example.com";

fn client(url: &str) -> PagerDuty {
    PagerDuty::new(&PagerDutySettings {
        api_url: url.to_string(),
        token: SecretValue::new(TOKEN.into()),
        from: Some(FROM.into()),
    })
    .expect("client")
}

fn capture(sandbox: &Sandbox, runs: &[&str]) -> PathBuf {
    let mut args = vec![
        "capture".to_string(),
        "--json".into(),
        "--timeout".into(),
        "3s".into(),
        "--out".into(),
        sandbox.captures().display().to_string(),
    ];
    for run in runs {
        args.push("--run".into());
        args.push(run.to_string());
    }
    let output = sandbox.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        output.status.code() == Some(0) || output.status.code() == Some(1),
        "{}",
        stderr(&output)
    );
    let summary: Value = serde_json::from_slice(&output.stdout).expect("capture json");
    PathBuf::from(summary["snapshot"].as_str().expect("snapshot path"))
}

#[tokio::test(flavor = "multi_thread")]
async fn prism_accepts_list_get_and_create_note_from_our_client() {
    let prism = Prism::start();
    let pd = client(&prism.url());
    let filter = IncidentFilter {
        statuses: vec![IncidentStatus::Triggered, IncidentStatus::Acknowledged],
        service_ids: vec!["PIJ90N7".into()],
        team_ids: vec!["PQ9K7I8".into()],
        limit: 10,
        offset: 0,
    };
    let page = pd
        .list_incidents(&filter)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", prism.log()));
    assert_eq!(page.incidents[0].id, "PT4KHLK");
    assert_eq!(
        page.incidents[0].title.as_deref(),
        Some("The server is on fire.")
    );
    assert_eq!(
        page.incidents[0].service.as_ref().map(|s| s.id.as_str()),
        Some("PIJ90N7")
    );
    let all = pd
        .list_all_incidents(&IncidentFilter::default(), 50)
        .await
        .expect("paginated list");
    assert!(!all.is_empty());

    let incident = pd
        .get_incident("PT4KHLK")
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", prism.log()));
    assert_eq!(incident.id, "PT4KHLK");
    let notes = pd
        .list_notes("PT4KHLK")
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", prism.log()));
    assert_eq!(notes[0].content, "Firefighters are on the scene.");
    let note = pd
        .create_note("PT4KHLK", "casefile snapshot test: summary")
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", prism.log()));
    assert!(!note.content.is_empty());
    let log = prism.log();
    assert!(
        !log.contains("Violation"),
        "Prism found contract violations:\n{log}"
    );

    // Prism really validates: the same request without our headers is refused.
    let bare = reqwest::Client::new()
        .get(format!("{}/incidents", prism.url()))
        .send()
        .await
        .expect("bare request");
    assert!(
        bare.status().is_client_error(),
        "Prism accepted a request without auth: {}",
        bare.status()
    );
    // And a write without `From` is refused by our client before it is sent.
    let no_from = PagerDuty::new(&PagerDutySettings {
        api_url: prism.url(),
        token: SecretValue::new(TOKEN.into()),
        from: None,
    })
    .expect("client");
    assert!(
        no_from
            .create_note("PT4KHLK", "x")
            .await
            .expect_err("needs From")
            .to_string()
            .contains("PAGERDUTY_FROM")
    );
}

#[test]
fn export_posts_a_note_that_prism_accepts_and_the_token_is_never_printed() {
    let prism = Prism::start();
    let sandbox = Sandbox::new();
    let snapshot = capture(&sandbox, &["echo ok"]);
    let output = sandbox
        .command()
        .env("PAGERDUTY_TOKEN", TOKEN)
        .env("PAGERDUTY_FROM", FROM)
        .env("PAGERDUTY_API_URL", prism.url())
        .args([
            "export",
            &snapshot.display().to_string(),
            "--incident",
            "PT4KHLK",
            "--json",
        ])
        .output()
        .expect("export");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        stderr(&output),
        prism.log()
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(report["note"]["created"], true);
    assert_eq!(report["note"]["incident"], "PT4KHLK");
    assert!(!stdout(&output).contains(TOKEN) && !stderr(&output).contains(TOKEN));
    assert!(!prism.log().contains("Violation"), "{}", prism.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn stub_a_429_is_retried_after_its_ratelimit_reset() {
    let stub = StubPagerDuty::start().await;
    stub.rate_limit(2, "1");
    let started = Instant::now();
    let page = client(&stub.url())
        .list_incidents(&IncidentFilter::default())
        .await
        .expect("retried until success");
    let elapsed = started.elapsed();
    assert_eq!(page.incidents[0].id, "PSTUB01");
    assert_eq!(stub.requests().len(), 3, "two 429s then the answer");
    assert!(
        elapsed.as_secs_f64() >= 1.9,
        "waited only {elapsed:?}; ratelimit-reset said 1s twice"
    );
    assert!(elapsed.as_secs_f64() < 10.0, "waited {elapsed:?}");
    let request = &stub.requests()[0];
    assert_eq!(
        request.header("authorization"),
        Some(format!("Token token={TOKEN}").as_str())
    );
    assert_eq!(request.header("accept"), Some("application/json"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert!(
        request.path.contains("statuses%5B%5D=triggered")
            && request.path.contains("statuses%5B%5D=acknowledged"),
        "{}",
        request.path
    );

    // Never-ending 429s give up with a clear error.
    stub.rate_limit(100, "0");
    let mut pd = client(&stub.url());
    pd.max_attempts = 3;
    let err = pd
        .list_notes("PSTUB01")
        .await
        .expect_err("gives up")
        .to_string();
    assert!(err.contains("rate limited after 3 attempts"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stub_upload_then_note_with_the_link_and_no_duplicate_on_re_export() {
    let stub = StubPagerDuty::start().await;
    let server = S3sFs::start();
    server.create_bucket("incidents");
    let sandbox = Sandbox::new();
    let snapshot = capture(
        &sandbox,
        &[
            "ps -eo pid,ppid,user,%cpu,%mem,rss,vsz,nlwp,etime,stat,args --sort=-%cpu | head -n 5",
            "echo failing step >&2; sleep 0.1; false",
            "sleep 1.2",
            "sleep 30",
        ],
    );
    let id = snapshot
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let run = || {
        sandbox
            .command()
            .env("PAGERDUTY_TOKEN", TOKEN)
            .env("PAGERDUTY_FROM", FROM)
            .env("PAGERDUTY_API_URL", stub.url())
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", server.endpoint())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args([
                "export",
                &snapshot.display().to_string(),
                "--to",
                "s3://incidents/pd/",
                "--incident",
                "PSTUB01",
                "--json",
            ])
            .output()
            .expect("export")
    };
    let first = run();
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let report: Value = serde_json::from_slice(&first.stdout).expect("json");
    assert_eq!(report["note"]["created"], true);
    let notes = stub.notes();
    assert_eq!(notes.len(), 1);
    let note = &notes[0];
    assert!(note.contains(&format!("casefile snapshot {id}")), "{note}");
    assert!(
        note.contains(&format!("s3://incidents/pd/{id}/{id}.tar.gz")),
        "{note}"
    );
    assert!(
        note.contains(report["s3"][0]["presigned_url"].as_str().expect("link")),
        "{note}"
    );
    assert!(note.contains("Targets: local"), "{note}");
    assert!(note.contains("top CPU on local: pid"), "{note}");
    assert!(
        note.contains("Streams: 4 (3 ran to the end, 1 did not)"),
        "{note}"
    );
    assert!(
        note.contains("Failed/timed out: local adhoc/run-4 (timed out)"),
        "{note}"
    );
    assert!(note.lines().count() <= 12, "kept short: {note}");
    // The note is posted after the upload: the archive is in the bucket.
    let client = s3::client(&server.endpoint(), ACCESS_KEY, SECRET_KEY).await;
    assert!(
        s3::list_keys(&client, "incidents")
            .await
            .contains(&format!("pd/{id}/{id}.tar.gz"))
    );
    let post = stub
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .expect("a POST");
    assert_eq!(post.header("from"), Some(FROM));
    assert_eq!(post.header("content-type"), Some("application/json"));

    let second = run();
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let report: Value = serde_json::from_slice(&second.stdout).expect("json");
    assert_eq!(report["note"]["created"], false, "{report}");
    assert_eq!(report["s3"][0]["already_present"], true);
    assert_eq!(stub.notes().len(), 1, "no duplicate note");
    for output in [&first, &second] {
        assert!(!stdout(output).contains(TOKEN) && !stderr(output).contains(TOKEN));
    }
}

/// The TUI's incidents screen source: open incidents from Prism as rows; an API it cannot reach
/// is an error message (shown in the screen), not a panic.
#[tokio::test(flavor = "multi_thread")]
async fn incidents_screen_source_lists_prism_incidents_and_reports_errors() {
    use casefile::incidents::{IncidentSource, PagerDutyIncidents};
    let prism = Prism::start();
    let source = PagerDutyIncidents {
        client: client(&prism.url()),
        max: 50,
    };
    let rows = source
        .list()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", prism.log()));
    assert_eq!(rows[0].id, "PT4KHLK");
    assert_eq!(rows[0].title, "The server is on fire.");
    assert_eq!(rows[0].source, "pagerduty");
    assert!(!rows[0].status.is_empty());
    let log = prism.log();
    assert!(!log.contains("Violation"), "{log}");

    let unreachable = PagerDutyIncidents {
        client: client(&format!("http://127.0.0.1:{}", support::sshd::free_port())),
        max: 50,
    };
    let error = unreachable.list().await.expect_err("nothing listens there");
    assert!(error.contains("cannot reach"), "{error}");
}
