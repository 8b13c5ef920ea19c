//! Runbooks from the command line: `casefile runbooks list|check`, and a headless
//! `casefile capture --incident ID` that fetches the incident from PagerDuty (Prism serving the
//! official API description), applies its runbook, uploads to S3 (s3s-fs in process, SigV4
//! checked) and posts the note.
mod support;

use serde_json::Value;
use support::cli::{Sandbox, stderr, stdout};
use support::prism::Prism;
use support::s3::{self as s3, ACCESS_KEY, S3sFs, SECRET_KEY};

const TOKEN: &str = "y_NbAkKc66ryYTWUXYEu";
const BUCKET: &str = "evidence";

fn config(prism: &str, extra: &str) -> String {
    format!(
        r#"
[destinations]
s3 = "s3://{BUCKET}/casefile/"
pagerduty_api_url = "{prism}"
pagerduty_from = "responder@example.com"

[[runbooks]]
name = "anything"
runs = ["echo catch-all"]

[[runbooks]]
name = "mail"
service = "My Mail Service"
title = "(?i)on fire"
runs = ["echo mail-evidence", "uname -s"]
export = ["s3", "incident"]
{extra}"#
    )
}

fn with_s3(sandbox: &Sandbox, endpoint: &str) -> std::process::Command {
    let mut cmd = sandbox.command();
    cmd.env("PAGERDUTY_TOKEN", TOKEN)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("AWS_SESSION_TOKEN");
    cmd
}

#[test]
fn runbooks_list_shows_criteria_and_check_names_the_bad_line() {
    let sandbox = Sandbox::new();
    sandbox.write_config(&config(
        "http://127.0.0.1:9",
        "\n[[runbooks]]\nname = \"db\"\npresets = [\"no-such-preset\"]\ntargets = [\"nowhere\"]\n",
    ));
    let output = sandbox.run(&["runbooks", "list"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("service=My Mail Service title=/(?i)on fire/"),
        "{text}"
    );
    assert!(text.contains("any incident"), "{text}");
    assert!(text.contains("s3,incident"), "{text}");
    let output = sandbox.run(&["runbooks", "check"]);
    assert_eq!(output.status.code(), Some(2));
    let errors = stderr(&output);
    assert!(
        errors.contains("casefile.toml:20:12: runbook `db`:") && errors.contains("no-such-preset"),
        "{errors}"
    );
    assert!(errors.contains(":21:12: runbook `db`:"), "{errors}");
}

#[tokio::test(flavor = "multi_thread")]
async fn capture_incident_applies_its_runbook_then_uploads_and_notes() {
    let prism = Prism::start();
    let server = S3sFs::start();
    server.create_bucket(BUCKET);
    let sandbox = Sandbox::new();
    sandbox.write_config(&config(&prism.url(), ""));
    let out = sandbox.captures();
    let output = with_s3(&sandbox, &server.endpoint())
        .args(["capture", "--incident", "PT4KHLK", "--json", "--out"])
        .arg(&out)
        .output()
        .expect("run");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        stderr(&output),
        prism.log()
    );
    let summary: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(
        summary["runbook"], "mail",
        "service + title beat the catch-all"
    );
    assert_eq!(summary["streams"], 2);
    assert_eq!(summary["export"]["note"]["incident"], "PT4KHLK");
    assert_eq!(summary["export"]["note"]["created"], true);
    let key = summary["export"]["s3"][0]["key"]
        .as_str()
        .expect("uploaded")
        .to_string();
    let client = s3::client(&server.endpoint(), ACCESS_KEY, SECRET_KEY).await;
    assert!(s3::list_keys(&client, BUCKET).await.contains(&key));
    let snapshot = std::path::PathBuf::from(summary["snapshot"].as_str().expect("path"));
    let manifest = std::fs::read_to_string(snapshot.join("manifest.json")).expect("manifest");
    assert!(manifest.contains("PT4KHLK") && manifest.contains("echo mail-evidence"));
    assert!(!prism.log().contains("Violation"), "{}", prism.log());
    assert!(!stderr(&output).contains(TOKEN) && !stdout(&output).contains(TOKEN));
}

#[test]
fn runbook_by_name_runs_without_pagerduty_and_refuses_extra_targets() {
    let sandbox = Sandbox::new();
    sandbox.write_config(&config("http://127.0.0.1:9", ""));
    let out = sandbox.captures();
    let output = sandbox
        .command()
        .env_remove("PAGERDUTY_TOKEN")
        .args(["capture", "--runbook", "anything", "--json", "--out"])
        .arg(&out)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(summary["runbook"], "anything");
    assert!(summary["export"].is_null());
    let output = sandbox.run(&["capture", "--runbook", "anything", "--run", "true"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--runbook picks the targets"));
    let output = sandbox.run(&["capture", "--runbook", "nope"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("runbooks: anything, mail"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_shipped_example_runbooks_pass_the_check() {
    let sandbox = Sandbox::new();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/runbooks.toml");
    let output = sandbox
        .command()
        .arg("--config")
        .arg(&example)
        .args(["runbooks", "check"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("3 runbook(s) ok"));
    let output = sandbox
        .command()
        .arg("--config")
        .arg(&example)
        .args(["runbooks", "list"])
        .output()
        .expect("run");
    let text = stdout(&output);
    for name in ["orders-db", "api-python-hang", "web"] {
        assert!(text.contains(name), "{text}");
    }
}
