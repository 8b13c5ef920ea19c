//! The TUI with PagerDuty and S3 configured, end to end in tmux: incidents listed from Prism
//! (PagerDuty's official API description, `--errors`), capture for one of them, export from the
//! Export screen to a local archive, S3 (s3s-fs in process, SigV4 checked) and a note on the
//! incident; then the exported archive is replayed and shown.
mod support;

use casefile::snapshot::Snapshot;
use std::time::Duration;
use support::{
    cli::{Sandbox, stderr, stdout},
    prism::Prism,
    s3::{ACCESS_KEY, S3sFs, SECRET_KEY},
    tmux::Tmux,
};

const WAIT: Duration = Duration::from_secs(30);
const TOKEN: &str = "y_NbAkKc66ryYTWUXYEu";

fn only_snapshot(sandbox: &Sandbox) -> std::path::PathBuf {
    let captures = sandbox.path().join("data/casefile/captures");
    let dirs: Vec<_> = std::fs::read_dir(&captures)
        .expect("captures dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "one snapshot folder: {dirs:?}");
    dirs[0].clone()
}

#[test]
fn pagerduty_incident_capture_and_export_from_the_tui() {
    let prism = Prism::start();
    let s3 = S3sFs::start();
    s3.create_bucket("evidence");
    let sandbox = Sandbox::new();
    sandbox.write_config(&format!(
        r#"
[secrets.pagerduty]
env = "CASEFILE_TEST_PD_TOKEN"

[destinations]
s3 = "s3://evidence/caps/"
pagerduty_api_url = "{}"
pagerduty_token_secret = "pagerduty"
pagerduty_from = "responder@example.com"
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
    let tui = Tmux::start_with_env(&sandbox, &vars, &[], 140, 42);
    // Prism answers with the spec's example incident.
    let screen = tui.wait_for(
        &[
            "Incidents · PagerDuty",
            "PT4KHLK",
            "The server is on fire.",
            "no incident (ad hoc)",
        ],
        WAIT,
    );
    assert!(
        screen.contains("triggered")
            || screen.contains("acknowledged")
            || screen.contains("resolved"),
        "{screen}"
    );
    tui.keys(&["Down", "Enter"]);
    tui.wait_for(&["Targets", "Presets", "PT4KHLK"], WAIT);
    tui.keys(&["c"]);
    tui.type_text("echo evidence-line-42");
    tui.wait_for(&["Preview · 1 streams on 1 targets"], WAIT);
    tui.keys(&["Enter"]);
    tui.wait_for(&["evidence-line-42", "✓ exit 0", "finished"], WAIT);

    tui.keys(&["e"]);
    let screen = tui.wait_for(
        &[
            "Destinations",
            "Archive (tar.gz)",
            "Enter: upload to s3://evidence/caps/",
            "Enter: add a summary note to incident PT4KHLK",
        ],
        WAIT,
    );
    assert!(screen.contains("Local folder"), "{screen}");
    // `e`: every ready destination at once (archive, S3, then the note carrying the link).
    tui.keys(&["e"]);
    let screen = tui.wait_for(&["note added to incident PT4KHLK", "exported in"], WAIT);
    let dir = only_snapshot(&sandbox);
    let id = dir.file_name().expect("id").to_string_lossy().into_owned();
    assert!(
        screen.contains(&format!("s3://evidence/caps/{id}/{id}.tar.gz")),
        "the object URL is shown:\n{screen}"
    );
    assert!(
        screen.contains("download"),
        "the presigned link is listed:\n{screen}"
    );
    tui.keys(&["q"]);
    tui.wait_for(&["EXITED:0"], WAIT);

    // What the screen claims is real: the archive beside the snapshot, the object in the bucket
    // with the same bytes, the note accepted by the spec.
    let archive = dir.with_file_name(format!("{id}.tar.gz"));
    let local = std::fs::read(&archive).expect("archive beside the snapshot");
    let stored = std::fs::read(
        s3.root
            .path()
            .join("evidence/caps")
            .join(&id)
            .join(format!("{id}.tar.gz")),
    )
    .expect("object in the bucket");
    assert!(local == stored, "the uploaded object is the archive");
    let log = prism.log();
    assert!(
        log.to_lowercase().contains("post /incidents/pt4khlk/notes"),
        "the note was posted:\n{log}"
    );
    assert!(!log.contains("Violation"), "Prism found violations:\n{log}");
    let manifest = Snapshot::open(&dir).expect("snapshot").manifest;
    assert_eq!(
        manifest.incident.as_ref().map(|i| i.id.as_str()),
        Some("PT4KHLK")
    );
    for file in support::cli::all_files(&dir) {
        assert!(
            !file.1.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "the token is in {}",
            file.0.display()
        );
    }

    // The exported archive opens directly: `show` verifies it, `replay` plays it.
    let shown = sandbox.run(&["show", &archive.display().to_string()]);
    assert_eq!(shown.status.code(), Some(0), "{}", stderr(&shown));
    assert!(stdout(&shown).contains("PT4KHLK"), "{}", stdout(&shown));
    assert!(stdout(&shown).contains(&archive.display().to_string()));
    let replay = Tmux::start(
        &sandbox,
        &["replay", &archive.display().to_string()],
        140,
        42,
    );
    replay.keys(&["e"]);
    let screen = replay.wait_for(&["Replay", "evidence-line-42", "✓ exit 0"], WAIT);
    assert!(screen.contains(&format!("{id}.tar.gz")), "{screen}");
    replay.keys(&["q"]);
    replay.wait_for(&["EXITED:0"], WAIT);

    // A damaged download is refused by name, not half-shown.
    let damaged = sandbox.path().join("damaged");
    std::fs::create_dir_all(&damaged).expect("dir");
    let copy = damaged.join(format!("{id}.tar.gz"));
    std::fs::write(&copy, &local[..local.len() / 2]).expect("truncated copy");
    std::fs::copy(
        archive.with_file_name(format!("{id}.tar.gz.sha256")),
        damaged.join(format!("{id}.tar.gz.sha256")),
    )
    .expect("sidecar");
    let refused = sandbox.run(&["show", &copy.display().to_string()]);
    assert_eq!(refused.status.code(), Some(2), "{}", stdout(&refused));
    assert!(
        stderr(&refused).contains("does not match"),
        "{}",
        stderr(&refused)
    );
}
