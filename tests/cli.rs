//! The headless CLI end to end: the real binary, an isolated home, the local machine as target.
mod support;

use casefile::snapshot::{Snapshot, StreamStatus};
use support::cli::{Sandbox, stderr, stdout};

#[test]
fn linux_triage_runs_with_no_config_and_prints_the_snapshot_path() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["capture", "--preset", "linux-triage", "--json"]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json summary");
    let dir = summary["snapshot"].as_str().expect("snapshot path");
    assert!(
        dir.starts_with(
            sandbox
                .path()
                .join("data/casefile/captures")
                .to_str()
                .expect("utf8")
        ),
        "{dir}"
    );
    let streams = summary["streams"].as_array().expect("streams");
    assert!(
        streams.len() >= 10,
        "linux-triage has its steps: {}",
        streams.len()
    );
    let top = streams
        .iter()
        .find(|s| s["step"] == "top-cpu")
        .expect("top-cpu stream");
    assert_eq!(top["status"], "exited");
    assert!(top["stdout_bytes"].as_u64().expect("bytes") > 100);
    let progress = stderr(&output);
    assert!(
        progress.contains("linux-triage/top-cpu  running"),
        "{progress}"
    );
    assert!(
        progress.contains("linux-triage/top-cpu  done, exit 0"),
        "{progress}"
    );

    let snapshot = Snapshot::open(std::path::Path::new(dir)).expect("open");
    let top = snapshot
        .manifest
        .streams
        .iter()
        .find(|s| s.spec.step == "top-cpu")
        .expect("top-cpu");
    let text = std::fs::read_to_string(snapshot.dir.join(&top.result.stdout.path)).expect("stdout");
    assert!(text.contains("PID") && text.contains("%CPU"), "{text}");
}

#[test]
fn adhoc_steps_out_dir_incident_and_show() {
    let sandbox = Sandbox::new();
    let out = sandbox.path().join("elsewhere");
    let output = sandbox.run(&[
        "capture",
        "--run",
        "echo hello-from-run",
        "--run",
        "echo oops >&2; exit 4",
        "--incident",
        "PT4KHLK",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "a command's own exit status is data: {}",
        stderr(&output)
    );
    let dir = stdout(&output).trim().to_string();
    assert!(
        dir.starts_with(out.to_str().expect("utf8")) && dir.ends_with("-pt4khlk"),
        "{dir}"
    );
    let show = sandbox.run(&["show", &dir]);
    let text = stdout(&show);
    assert_eq!(show.status.code(), Some(0), "{text}");
    assert!(text.contains("incident   PT4KHLK"), "{text}");
    assert!(
        text.contains("01-local-adhoc-run-1") && text.contains("02-local-adhoc-run-2"),
        "{text}"
    );
    assert!(
        text.contains("all 4 recorded files match their SHA-256"),
        "{text}"
    );

    // Tampering with a file is detected.
    let snapshot = Snapshot::open(std::path::Path::new(&dir)).expect("open");
    std::fs::write(
        snapshot
            .dir
            .join(&snapshot.manifest.streams[0].result.stdout.path),
        "edited\n",
    )
    .expect("tamper");
    let show = sandbox.run(&["show", &dir]);
    assert_eq!(show.status.code(), Some(1));
    assert!(
        stdout(&show).contains("stdout-SHA256-MISMATCH"),
        "{}",
        stdout(&show)
    );
}

#[test]
fn a_timeout_is_exit_1_and_the_snapshot_is_still_written() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&[
        "capture",
        "--run",
        "echo started; sleep 20",
        "--timeout",
        "500ms",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(summary["streams"][0]["status"], "timed_out");
    assert!(stderr(&output).contains("timed out"), "{}", stderr(&output));
    let snapshot = Snapshot::open(std::path::Path::new(
        summary["snapshot"].as_str().expect("path"),
    ))
    .expect("open");
    assert_eq!(
        snapshot.manifest.streams[0].result.status,
        StreamStatus::TimedOut
    );
    assert_eq!(
        snapshot.manifest.streams[0].result.stdout.bytes,
        "started\n".len() as u64
    );
}

#[test]
fn usage_errors_are_exit_2_and_run_nothing() {
    let sandbox = Sandbox::new();
    let cases: &[(&[&str], &str)] = &[
        (&["capture"], "nothing to capture"),
        (
            &["capture", "--preset", "no-such-preset"],
            "no preset named `no-such-preset`",
        ),
        (
            &["capture", "--target", "web9", "--run", "true"],
            "no target named `web9`",
        ),
        (
            &[
                "capture",
                "--target",
                "mysql://root@127.0.0.1:3306/x?tls=maybe",
                "--query",
                "SELECT 1",
            ],
            "TLS mode `maybe`",
        ),
        (
            &["capture", "--preset", "mysql"],
            "preset `mysql` is for mysql targets",
        ),
        (&["capture", "--preset", "jvm"], "needs parameter `pid`"),
        (
            &["capture", "--preset", "jvm", "--param", "pid=1;reboot"],
            "is not a whole number",
        ),
        (
            &["capture", "--preset", "logs", "--param", "nope=1"],
            "none of the selected presets has a parameter `nope`",
        ),
        (
            &["capture", "--run", "true", "--timeout", "5 fortnights"],
            "not a duration",
        ),
        (
            &[
                "capture",
                "--target",
                "mysql://root:hunter2@db/x",
                "--query",
                "SELECT 1",
            ],
            "password_secret",
        ),
    ];
    for (args, expected) in cases {
        let output = sandbox.run(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: expected `{expected}` in: {}",
            stderr(&output)
        );
        assert!(
            !stderr(&output).contains("hunter2"),
            "the password is never echoed back"
        );
    }
    assert!(
        !sandbox.captures().exists() && !sandbox.path().join("data").exists(),
        "nothing was captured"
    );
}

#[test]
fn intrusive_steps_are_skipped_unless_allowed() {
    let sandbox = Sandbox::new();
    let presets = sandbox.path().join("config/casefile/presets");
    std::fs::create_dir_all(&presets).expect("preset dir");
    let marker = sandbox.path().join("intrusive-ran");
    std::fs::write(
        presets.join("poke.toml"),
        format!(
            "name = \"poke\"\ndescription = \"test\"\ntarget = \"shell\"\n[[steps]]\nname = \"safe\"\ncommand = \"echo safe\"\n\
             [[steps]]\nname = \"heavy\"\ncommand = \"touch {}\"\nintrusive = true\n",
            marker.display()
        ),
    )
    .expect("preset");
    let output = sandbox.run(&["capture", "--preset", "poke", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!marker.exists(), "intrusive step ran without confirmation");
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(summary["streams"][1]["status"], "skipped");
    assert!(stderr(&output).contains("--allow-intrusive"));
    let output = sandbox.run(&["capture", "--preset", "poke", "--allow-intrusive"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(marker.exists(), "confirmed intrusive step ran");
}

#[test]
fn targets_come_from_the_config_with_tags_and_sources() {
    let sandbox = Sandbox::new();
    let config = sandbox.write_config(
        "[secrets.db]\nenv = \"DB_PW\"\n[targets.web1]\nurl = \"ssh://ops@web1:22\"\ntags = [\"web\"]\n\
         [targets.orders]\nurl = \"postgres://app@db1:5432/orders\"\npassword_secret = \"db\"\ntags = [\"db\"]\n",
    );
    let output = sandbox.run(&["targets", "list"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        text.contains("local") && text.contains("built-in"),
        "{text}"
    );
    assert!(
        text.contains("web1")
            && text.contains("ssh://ops@web1:22")
            && text.contains(config.to_str().expect("utf8")),
        "{text}"
    );
    assert!(
        text.contains("orders") && text.contains("postgres") && text.contains("db"),
        "{text}"
    );

    sandbox.write_config("[targets.web1]\nurl = \"ssh://ops@web1\"\nport = 22\n");
    let output = sandbox.run(&["targets", "list"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("casefile.toml:3:1: unknown field `port`"),
        "{}",
        stderr(&output)
    );
}
