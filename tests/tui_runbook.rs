//! Runbooks in the TUI, in tmux: picking a PagerDuty incident (Prism, PagerDuty's official API
//! description) whose service matches a runbook opens Plan with the runbook's targets, presets
//! and ad-hoc step already chosen and its name shown; the capture then reaches S3 (s3s-fs) and
//! the incident's note in five keystrokes from launch.
mod support;

use casefile::snapshot::Snapshot;
use std::time::Duration;
use support::{
    cli::Sandbox,
    prism::Prism,
    s3::{ACCESS_KEY, S3sFs, SECRET_KEY},
    tmux::Tmux,
};

const WAIT: Duration = Duration::from_secs(60);
const TOKEN: &str = "y_NbAkKc66ryYTWUXYEu";

#[test]
fn an_incident_that_matches_a_runbook_reaches_s3_and_its_note_in_five_keystrokes() {
    let prism = Prism::start();
    let s3 = S3sFs::start();
    s3.create_bucket("evidence");
    let sandbox = Sandbox::new();
    // Prism's example incident (PT4KHLK) belongs to "My Mail Service"; the catch-all written
    // first must lose to the more specific `mail` runbook.
    sandbox.write_config(&format!(
        r#"
[secrets.pagerduty]
env = "CASEFILE_TEST_PD_TOKEN"

[destinations]
s3 = "s3://evidence/caps/"
pagerduty_api_url = "{}"
pagerduty_token_secret = "pagerduty"
pagerduty_from = "responder@example.com"

[[runbooks]]
name = "catch-all"
targets = ["local"]
runs = ["echo wrong-runbook"]

[[runbooks]]
name = "mail"
service = "My Mail Service"
targets = ["local"]
presets = ["linux-triage"]
runs = ["echo runbook-evidence-7"]
export = ["s3", "incident"]
"#,
        prism.url()
    ));
    let endpoint = s3.endpoint();
    let vars = [
        ("CASEFILE_TEST_PD_TOKEN", TOKEN),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let tui = Tmux::start_with_env(&sandbox, &vars, &[], 160, 45);
    tui.wait_for(&["Incidents · PagerDuty", "PT4KHLK"], WAIT);

    let mut keystrokes = 0;
    let mut press = |key: &str| {
        keystrokes += 1;
        tui.keys(&[key]);
    };
    press("Down");
    press("Enter");
    let plan = tui.wait_for(&["runbook mail", "Preview ·", "linux-triage"], WAIT);
    assert!(plan.contains("Targets 1/"), "one target chosen:\n{plan}");
    assert!(
        plan.contains("echo runbook-evidence-7"),
        "the runbook's ad-hoc step is in the plan:\n{plan}"
    );
    assert!(!plan.contains("wrong-runbook"), "{plan}");
    press("s");
    tui.wait_for(&["finished"], WAIT);
    press("e");
    tui.wait_for(&["e runbook mail: S3 + Incident note"], WAIT);
    press("e");
    tui.wait_for(&["note added to incident PT4KHLK"], WAIT);
    assert_eq!(keystrokes, 5, "launch to the note on the incident");
    tui.keys(&["q"]);
    tui.wait_for(&["EXITED:0"], WAIT);

    // What the screen claims is real: the object in the bucket, the note accepted by the spec,
    // the runbook's step captured.
    let captures = sandbox.path().join("data/casefile/captures");
    let dir = std::fs::read_dir(&captures)
        .expect("captures dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.is_dir())
        .expect("a snapshot folder");
    let id = dir.file_name().expect("id").to_string_lossy().into_owned();
    let object = s3
        .root
        .path()
        .join("evidence/caps")
        .join(&id)
        .join(format!("{id}.tar.gz"));
    assert!(object.is_file(), "the archive is in the bucket: {object:?}");
    let log = prism.log();
    assert!(
        log.to_lowercase().contains("post /incidents/pt4khlk/notes"),
        "the note was posted:\n{log}"
    );
    assert!(!log.contains("Violation"), "Prism found violations:\n{log}");
    let snapshot = Snapshot::open(&dir).expect("snapshot");
    assert_eq!(
        snapshot.manifest.incident.as_ref().map(|i| i.id.as_str()),
        Some("PT4KHLK")
    );
    let streams = &snapshot.manifest.streams;
    assert!(
        streams.iter().any(|s| s.spec.preset == "adhoc"
            && s.result.stdout.bytes == "runbook-evidence-7\n".len() as u64),
        "the runbook's ad-hoc step ran"
    );
    assert!(
        streams.iter().any(|s| s.spec.preset == "linux-triage"),
        "linux-triage ran"
    );
}
