//! What reaches the operator's terminal, through the real binary: hostile text from a manifest,
//! a preset, the inventory or the command line is shown as visible escapes, never obeyed, and a
//! closed pipe ends the output quietly.
mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use support::cli::{Sandbox, stderr, stdout};

/// OSC 0 (title), OSC 52 (clipboard), CSI 2J (clear), BEL, CR, and C1 CSI (U+009B), plus a
/// bidi override: each would act on a terminal if printed raw.
const HOSTILE: &str =
    "a\u{1b}]0;TITLE\u{7}b\u{1b}]52;c;ZXZpbA==\u{7}c\u{1b}[2Jd\re\u{9b}31mf\u{202e}g";

/// Bytes a terminal would obey: C0 other than newline and tab, DEL, and UTF-8 encoded C1 or
/// bidi overrides.
fn assert_inert(what: &str, bytes: &[u8]) {
    for (i, &b) in bytes.iter().enumerate() {
        assert!(
            !(b < 0x20 && b != b'\n' && b != b'\t' || b == 0x7f),
            "{what}: control byte {b:#04x} at {i} in {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    let text = String::from_utf8_lossy(bytes);
    assert!(
        !text
            .chars()
            .any(|c| ('\u{80}'..='\u{9f}').contains(&c) || c == '\u{202e}'),
        "{what}: C1 or bidi control in {text:?}"
    );
}

/// A one-stream snapshot whose operator and stream reason are [`HOSTILE`].
fn hostile_snapshot(sandbox: &Sandbox) -> PathBuf {
    let out = sandbox.path().join("snaps");
    let output = sandbox.run(&[
        "capture",
        "--run",
        "echo hi",
        "--incident",
        "INC1",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let dir = PathBuf::from(stdout(&output).trim());
    let path = dir.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read manifest")).expect("json");
    manifest["operator"] = HOSTILE.into();
    manifest["streams"][0]["status"] = "failed".into();
    manifest["streams"][0]["reason"] = HOSTILE.into();
    // A newline in a one-line field must not forge a line of the report.
    manifest["started_at"] =
        "2026-01-01\nintegrity  all 99 recorded files match their SHA-256".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).expect("json")).expect("write");
    dir
}

#[test]
fn show_prints_hostile_manifest_fields_as_visible_escapes() {
    let sandbox = Sandbox::new();
    let dir = hostile_snapshot(&sandbox);
    let output = sandbox.run(&["show", dir.to_str().expect("utf8")]);
    assert_inert("show stdout", &output.stdout);
    assert_inert("show stderr", &output.stderr);
    let shown = stdout(&output);
    let visible = r"a\e]0;TITLE\x07b\e]52;c;ZXZpbA==\x07c\e[2Jd\re\u{9b}31mf\u{202e}g";
    assert!(
        shown.contains(&format!("operator   {visible}")),
        "operator shown escaped: {shown}"
    );
    assert!(shown.contains(&format!("    {visible}")), "reason: {shown}");
    assert!(
        shown.contains(r"started    2026-01-01\nintegrity  all 99")
            && !shown.contains("\nintegrity  all 99"),
        "a field stays on its line: {shown}"
    );

    // --json stays valid JSON that decodes back to the very same text.
    let output = sandbox.run(&["show", "--json", dir.to_str().expect("utf8")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_inert("show --json", &output.stdout);
    let back: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid json");
    assert_eq!(back["operator"], HOSTILE);
    assert_eq!(back["streams"][0]["reason"], HOSTILE);

    // An incident id is checked wherever it comes from: a manifest holding a hostile one is
    // refused with its location, and the message is inert too.
    let path = dir.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read manifest")).expect("json");
    manifest["incident"]["id"] = HOSTILE.into();
    std::fs::write(&path, serde_json::to_vec(&manifest).expect("json")).expect("write");
    let output = sandbox.run(&["show", dir.to_str().expect("utf8")]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_inert("show stderr", &output.stderr);
    assert!(
        stderr(&output).contains("manifest.json:1:")
            && stderr(&output).contains("an incident id cannot hold the character U+001B"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_incident_id_with_control_characters_is_a_usage_error() {
    let sandbox = Sandbox::new();
    let snapshot = hostile_snapshot(&sandbox);
    let snapshot = snapshot.to_str().expect("utf8");
    for (id, named) in [
        ("\u{1b}]0;X\u{7}", "U+001B"),
        ("INC\u{9b}2J", "U+009B"),
        ("INC\u{202e}1", "U+202E"),
        ("INC 1", "a space"),
        ("", "cannot be empty"),
    ] {
        for args in [
            vec!["capture", "--run", "true", "--incident", &id],
            vec!["export", snapshot, "--incident", &id],
        ] {
            let output = sandbox.run(&args);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{args:?}: {}",
                stderr(&output)
            );
            assert_inert(&format!("{args:?}"), &output.stderr);
            assert!(
                stderr(&output).contains(named),
                "{args:?}: {}",
                stderr(&output)
            );
        }
    }
    let snapshots = std::fs::read_dir(sandbox.path().join("snaps"))
        .expect("snaps")
        .count();
    assert_eq!(snapshots, 1, "no capture ran besides the fixture");
    assert!(!sandbox.captures().exists(), "nothing was captured");
}

#[test]
fn presets_targets_and_errors_print_hostile_text_inert() {
    let sandbox = Sandbox::new();
    let toml_hostile = "a\\u001b]0;TITLE\\u0007b\\u001b[2Jc\\rd\\u009be\\u202ef";
    sandbox.write_config(&format!(
        "[targets.web1]\nurl = \"ssh://web1.example\"\ntags = [\"{toml_hostile}\"]\n"
    ));
    let presets = sandbox.path().join("config/casefile/presets");
    std::fs::create_dir_all(&presets).expect("preset dir");
    std::fs::write(
        presets.join("evil.toml"),
        format!(
            "name = \"evil\"\ndescription = \"{toml_hostile}\"\ntarget = \"shell\"\n\n\
             [[steps]]\nname = \"s\"\ncommand = \"echo '{toml_hostile}'\"\n"
        ),
    )
    .expect("write preset");

    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["targets".into(), "list".into()], r"\e]0;TITLE\x07"),
        (vec!["presets".into(), "list".into()], r"\e[2Jc\rd"),
        (
            vec!["presets".into(), "show".into(), "evil".into()],
            r"\u{9b}e\u{202e}f",
        ),
        // clap echoes a bad value back; the URL parser and the planner echo what they refuse.
        (
            vec![
                "capture".into(),
                "--run".into(),
                "true".into(),
                "--timeout".into(),
                HOSTILE.into(),
            ],
            // clap drops escape sequences from the value it echoes; the rest is escaped.
            r"d\re\u{9b}31mf\u{202e}g",
        ),
        (
            vec![
                "capture".into(),
                "--target".into(),
                format!("ssh://{HOSTILE}"),
                "--run".into(),
                "true".into(),
            ],
            r"\e]0;TITLE\x07",
        ),
        (
            vec!["capture".into(), "--preset".into(), HOSTILE.into()],
            r"\e]0;TITLE\x07",
        ),
    ];
    for (args, visible) in cases {
        let output = sandbox
            .command()
            .args(&args)
            .output()
            .expect("run casefile");
        assert_inert(&format!("{args:?} stdout"), &output.stdout);
        assert_inert(&format!("{args:?} stderr"), &output.stderr);
        let all = format!("{}{}", stdout(&output), stderr(&output));
        assert!(all.contains(visible), "{args:?}: `{visible}` in {all}");
    }
}

/// Runs casefile with its stdout connected to a pipe whose read end is already closed, as
/// after `| true` or once `| head -1` has its line: every write gets EPIPE.
fn run_into_closed_pipe(sandbox: &Sandbox, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let output = sandbox
        .command()
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run casefile");
    assert!(
        !stderr(&output).contains("Broken pipe") && !stderr(&output).contains("panicked"),
        "{args:?}: a closed pipe is not reported: {}",
        stderr(&output)
    );
    output
}

#[test]
fn a_closed_stdout_ends_quietly_and_a_capture_still_finishes() {
    let sandbox = Sandbox::new();
    for args in [
        &["targets", "list"][..],
        &["presets", "list"],
        &["presets", "show", "linux-triage"],
        &["--help"],
    ] {
        let output = run_into_closed_pipe(&sandbox, args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            stderr(&output)
        );
    }

    let out = sandbox.path().join("snaps");
    let output = run_into_closed_pipe(
        &sandbox,
        &[
            "capture",
            "--json",
            "--run",
            "echo hi",
            "--out",
            out.to_str().expect("utf8"),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let snapshot = only_snapshot(&out);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(snapshot.join("manifest.json")).expect("manifest"))
            .expect("json");
    assert_eq!(manifest["state"], "complete", "{manifest}");
}

#[test]
fn head_takes_its_line_and_casefile_exits_cleanly() {
    let sandbox = Sandbox::new();
    let bin = env!("CARGO_BIN_EXE_casefile");
    for args in ["targets list", "presets show linux-triage", "presets list"] {
        let script = format!("set -o pipefail; '{bin}' {args} | head -1");
        let mut child = Command::new("bash")
            .args(["-c", &script])
            .envs(
                sandbox
                    .command()
                    .get_envs()
                    .filter_map(|(k, v)| Some((k, v?))),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bash");
        let mut out = String::new();
        let mut err = String::new();
        child
            .stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut out)
            .expect("read");
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .expect("read");
        let status = child.wait().expect("wait");
        assert_eq!(status.code(), Some(0), "{args}: {err}");
        assert_eq!(out.lines().count(), 1, "{args}: {out}");
        assert!(err.is_empty(), "{args}: nothing on stderr: {err}");
    }
}

fn only_snapshot(out: &Path) -> PathBuf {
    let mut dirs: Vec<_> = std::fs::read_dir(out)
        .expect("captures")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.remove(0)
}

/// True while a process whose command line starts with `pattern` runs.
fn running(pattern: &str) -> bool {
    std::process::Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .expect("pgrep")
        .status
        .success()
}

#[test]
fn sighup_finishes_the_snapshot_and_stops_the_steps_like_sigterm() {
    let sandbox = Sandbox::new();
    let out = sandbox.path().join("snaps");
    // Not `exec`: the sleep is a grandchild of casefile, as in most real steps.
    let child = sandbox
        .command()
        .args(["capture", "--out", out.to_str().expect("utf8"), "--json"])
        .args(["--run", "echo begun; sleep 100.125; echo never"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn casefile");
    let started = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(25));
        running("^sleep 100.125")
    });
    assert!(started, "the step started");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid")),
        nix::sys::signal::Signal::SIGHUP,
    )
    .expect("SIGHUP");
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("interrupted"),
        "{}",
        stderr(&output)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json summary");
    assert_eq!(summary["streams"][0]["status"], "cancelled");

    let dir = only_snapshot(&out);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest"))
            .expect("json");
    assert_eq!(manifest["state"], "cancelled", "{manifest}");
    assert!(manifest["ended_at"].is_string(), "{manifest}");
    assert_eq!(manifest["streams"][0]["status"], "cancelled");
    assert_eq!(
        manifest["streams"][0]["stdout"]["bytes"], 6,
        "`begun\\n` kept"
    );
    assert!(!dir.join("manifest.json.tmp").exists());
    let gone = (0..40).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(25));
        !running("^sleep 100.125")
    });
    assert!(gone, "the step's processes were stopped with casefile");
}

#[test]
fn zero_and_absurd_values_are_usage_errors_and_files_say_where() {
    let sandbox = Sandbox::new();
    let cases: &[(&[&str], &str)] = &[
        (&["--timeout", "0"], "is zero"),
        (&["--timeout", "0ms"], "is zero"),
        (&["--timeout", "400d"], "longer than a year"),
        (&["--timeout", "99999999999999999999"], "longer than a year"),
        (
            &["--timeout", "99999999999999999999999999h"],
            "longer than a year",
        ),
        (&["--max-bytes", "0"], "is zero"),
        (&["--max-bytes", "0KiB"], "is zero"),
        (
            &["--target", "ssh://web\u{1b}]0;X\u{7}1"],
            "the host holds the character U+001B",
        ),
        (
            &["--target", "mysql://u@db/app\u{202e}x"],
            "the database holds the character U+202E",
        ),
        (&["--concurrency", "0"], "at least 1"),
        (
            &["--target", "ssh://web1:0"],
            "port `0` is not a number from 1 to 65535",
        ),
        (
            &["--target", "ssh://web1:65536"],
            "is not a number from 1 to 65535",
        ),
        (&["--target", "mysql://u@db:0/app"], "port `0`"),
        (&["--target", "postgres://u@db:0/app"], "port `0`"),
    ];
    for (args, expected) in cases {
        let output = sandbox
            .command()
            .args(["capture", "--run", "true"])
            .args(*args)
            .output()
            .expect("run casefile");
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: expected `{expected}` in {}",
            stderr(&output)
        );
    }
    assert!(!sandbox.captures().exists(), "nothing ran");

    // The same rules in casefile.toml and presets, with file:line:col.
    let config = sandbox.write_config("concurrency = 4\ntimeout = \"0s\"\n");
    let output = sandbox.run(&["capture", "--run", "true"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let expected = format!("{}:2:11: a duration of `0s` is zero", config.display());
    assert!(stderr(&output).contains(&expected), "{}", stderr(&output));
    sandbox.write_config("max_bytes = 0\n");
    let output = sandbox.run(&["capture", "--run", "true"]);
    assert!(
        stderr(&output).contains("casefile.toml:1:13: a size of 0 is zero"),
        "{}",
        stderr(&output)
    );
    sandbox.write_config("[targets.db]\nurl = \"mysql://u@db:0/app\"\n");
    let output = sandbox.run(&["targets", "list"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("port `0`"), "{}", stderr(&output));

    sandbox.write_config("");
    let preset = sandbox.path().join("long.toml");
    std::fs::write(
        &preset,
        "name = \"long\"\ndescription = \"d\"\ntarget = \"shell\"\n\n[[steps]]\nname = \"s\"\n\
         command = \"true\"\ntimeout = \"400d\"\n",
    )
    .expect("write preset");
    let output = sandbox.run(&["presets", "check", preset.to_str().expect("utf8")]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("long.toml:8:11")
            && stderr(&output).contains("longer than a year"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_full_disk_behind_stdout_is_said_once_and_is_exit_1() {
    let sandbox = Sandbox::new();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let output = sandbox
        .command()
        .args(["presets", "list"])
        .stdout(full)
        .output()
        .expect("run casefile");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert_eq!(
        err.matches("cannot write to stdout").count(),
        1,
        "said once: {err}"
    );
    assert!(err.contains("No space left on device"), "{err}");
}

/// casefile ignores SIGPIPE for itself (so a closed pipe is an error it can handle), but its
/// steps get the default back: `yes | head -1` in a step ends at once, with no complaint.
#[test]
fn steps_keep_the_default_sigpipe() {
    let sandbox = Sandbox::new();
    let out = sandbox.path().join("snaps");
    let output = sandbox.run(&[
        "capture",
        "--out",
        out.to_str().expect("utf8"),
        "--timeout",
        "20s",
        "--run",
        "yes | head -1; seq 100000000 | head -2",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let streams = only_snapshot(&out).join("streams");
    let read = |suffix: &str| {
        let file = std::fs::read_dir(&streams)
            .expect("streams")
            .map(|e| e.expect("entry").path())
            .find(|p| p.to_string_lossy().ends_with(suffix))
            .expect("stream file");
        std::fs::read_to_string(file).expect("read")
    };
    assert_eq!(read(".out"), "y\n1\n2\n");
    assert_eq!(read(".err"), "", "no `Broken pipe` from the step's tools");
}
