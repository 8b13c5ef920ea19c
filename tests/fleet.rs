//! A fleet at once, against real sshds: 50 hosts on 127.0.0.1 … 127.0.0.50 (4 sshds sharing a
//! host key), one of which (127.0.0.17, `web17`) answers differently. `casefile show --group`
//! folds each step like `clush -b`; `casefile diff` compares two captures of the fleet where one
//! host changed in between; hostile snapshots are refused with a clear error.
mod support;

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Output;
use support::cli::{Sandbox, stderr, stdout};
use support::fleet::SshFleet;

const HOSTS: usize = 50;
const ODD: usize = 17;
const CHANGED: usize = 23;

/// Steps: `run-1` differs on 127.0.0.17 only; `run-2` names the address (50 different
/// outputs, one shape); `run-3` prints a per-host state file when there is one.
fn steps(state: &Path) -> [String; 3] {
    [
        format!(
            "set -- $SSH_CONNECTION; if [ \"$3\" = 127.0.0.{ODD} ]; then echo 'eth0: link down'; else echo 'eth0: link up'; fi; echo 'mtu 1500'"
        ),
        "set -- $SSH_CONNECTION; echo \"served by $3 on port $4\"; echo 'uptime 42 days'"
            .to_string(),
        format!(
            "set -- $SSH_CONNECTION; cat {}/$3 2>/dev/null || echo healthy",
            state.display()
        ),
    ]
}

struct Fleet {
    _hosts: SshFleet,
    sandbox: Sandbox,
    state: tempfile::TempDir,
}

impl Fleet {
    fn start() -> Fleet {
        let hosts = SshFleet::start(HOSTS);
        let sandbox = Sandbox::new();
        hosts.trust_from(sandbox.path());
        sandbox.write_config(&hosts.targets_toml("casefile-test", "fleet"));
        let state = tempfile::tempdir().expect("state dir");
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(state.path(), std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
        Fleet {
            _hosts: hosts,
            sandbox,
            state,
        }
    }

    /// Captures the three steps on every host; returns the snapshot folder.
    fn capture(&self, out: &str) -> PathBuf {
        let out_dir = self.sandbox.path().join(out);
        let mut args: Vec<String> = vec![
            "capture".into(),
            "--json".into(),
            "--out".into(),
            out_dir.display().to_string(),
            "-t".into(),
            "tag:fleet".into(),
        ];
        for step in steps(self.state.path()) {
            args.push("--run".into());
            args.push(step);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = self.run(&refs);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
        PathBuf::from(summary["snapshot"].as_str().expect("snapshot"))
    }

    fn run(&self, args: &[&str]) -> Output {
        self.sandbox
            .command()
            .env_remove("SSH_AUTH_SOCK")
            .args(args)
            .output()
            .expect("run casefile")
    }

    fn json(&self, args: &[&str]) -> (Option<i32>, serde_json::Value) {
        let output = self.run(args);
        let value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&output), stderr(&output)));
        (output.status.code(), value)
    }
}

fn step<'a>(groups: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    groups["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {groups}"))
}

fn sizes(step: &serde_json::Value) -> Vec<usize> {
    step["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["targets"].as_array().expect("targets").len())
        .collect()
}

#[test]
fn a_fleet_folds_per_step_and_a_changed_host_stands_out_in_the_diff() {
    let fleet = Fleet::start();
    let first = fleet.capture("first");
    let first_arg = first.display().to_string();

    // Text, like clush -b: the 49 alike under one compressed set, the odd one on its own.
    let output = fleet.run(&["show", &first_arg, "--group"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("=== adhoc/run-1: 50 streams, 2 groups ==="),
        "{text}"
    );
    assert!(text.contains("\nweb[01-16,18-50] (49)\n"), "{text}");
    assert!(text.contains("\nweb17 (1)  OUTLIER\n"), "{text}");
    assert_eq!(
        text.matches("eth0: link up").count(),
        1,
        "shown once: {text}"
    );
    assert_eq!(text.matches("eth0: link down").count(), 1, "{text}");
    assert!(
        text.contains("=== adhoc/run-2: 50 streams, 50 groups ==="),
        "{text}"
    );

    // JSON: largest group first, targets, streams, bytes, sha256 of the shown output.
    let (code, groups) = fleet.json(&["show", &first_arg, "--group", "--json"]);
    assert_eq!(code, Some(0));
    assert_eq!(groups["steps"].as_array().expect("steps").len(), 3);
    let odd_step = step(&groups, "run-1");
    assert_eq!(odd_step["preset"], "adhoc");
    assert_eq!(sizes(odd_step), vec![49, 1]);
    let majority = &odd_step["groups"][0];
    let outlier = &odd_step["groups"][1];
    assert_eq!(outlier["targets"], serde_json::json!(["web17"]));
    assert_eq!(outlier["outlier"], true);
    assert_eq!(majority["outlier"], false);
    assert_eq!(majority["folded"], "web[01-16,18-50]");
    assert!(
        !majority["targets"]
            .as_array()
            .expect("targets")
            .contains(&serde_json::json!("web17"))
    );
    assert_eq!(majority["streams"].as_array().expect("streams").len(), 49);
    let content = b"eth0: link up\nmtu 1500\n";
    assert_eq!(majority["bytes"], content.len());
    assert_eq!(majority["sha256"], hex::encode(Sha256::digest(content)));
    let (_, strict) = fleet.json(&[
        "show",
        &first_arg,
        "--group",
        "--json",
        "--outlier-size",
        "0",
    ]);
    assert_eq!(
        step(&strict, "run-1")["groups"][1]["outlier"],
        false,
        "no group is that small"
    );
    // Every output differs exactly, so no group stands out; by shape they are one.
    let named = step(&groups, "run-2");
    assert_eq!(sizes(named), vec![1; HOSTS]);
    assert!(
        named["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .all(|g| g["outlier"] == false)
    );
    let (_, shaped) = fleet.json(&["show", &first_arg, "--group", "--shape", "--json"]);
    assert_eq!(shaped["mode"], "shape");
    assert_eq!(sizes(step(&shaped, "run-2")), vec![HOSTS]);
    assert_eq!(
        sizes(step(&shaped, "run-1")),
        vec![49, 1],
        "a word still differs"
    );

    // Host 23 changes between the captures; its state holds a terminal escape as well.
    std::fs::write(
        fleet.state.path().join(format!("127.0.0.{CHANGED}")),
        "disk full\x1b]0;pwned\x07\n",
    )
    .expect("state");
    let second = fleet.capture("second");
    let second_arg = second.display().to_string();
    let (code, report) = fleet.json(&["diff", &first_arg, &second_arg, "--json"]);
    assert_eq!(code, Some(1), "differences exit 1, as diff(1)");
    assert_eq!(
        report["summary"],
        serde_json::json!({"changed": 1, "unchanged": 3 * HOSTS - 1, "new": 0, "missing": 0})
    );
    let changed: Vec<&serde_json::Value> = report["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .filter(|s| s["change"] != "unchanged")
        .collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["target"], "web23");
    assert_eq!(changed[0]["step"], "run-3");
    assert_eq!(changed[0]["differs"], serde_json::json!(["stdout"]));
    let unified: Vec<&str> = changed[0]["diff"]["stdout"]["unified"]
        .as_array()
        .expect("unified")
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    assert!(unified.contains(&"-healthy"), "{unified:?}");
    assert!(
        unified.contains(&"+disk full\x1b]0;pwned\x07"),
        "JSON keeps the bytes (escaped as JSON): {unified:?}"
    );

    // Text without a terminal: no colour, the escape shown, not sent.
    let output = fleet.run(&["diff", &first_arg, &second_arg]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("changed    web23  adhoc/run-3  (stdout)"),
        "{text}"
    );
    assert!(
        text.contains("\n-healthy\n+disk full\\e]0;pwned\\x07\n"),
        "{text}"
    );
    assert!(
        text.contains("1 changed, 149 unchanged, 0 new, 0 missing"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "{text:?}");
    // With colour: only our SGR codes reach the terminal, the captured escape stays inert.
    let output = fleet.run(&["diff", &first_arg, &second_arg, "--color", "always"]);
    let text = stdout(&output);
    assert!(text.contains("\x1b[31m-healthy\x1b[0m"), "{text:?}");
    assert!(
        text.contains("\x1b[32m+disk full\\e]0;pwned\\x07\x1b[0m"),
        "{text:?}"
    );
    for (at, _) in text.match_indices('\x1b') {
        let code: String = text[at + 1..].chars().take_while(|c| *c != 'm').collect();
        assert!(
            ["[0", "[1", "[31", "[32", "[36"].contains(&code.as_str()),
            "unexpected escape {code:?} in {text:?}"
        );
    }
    // The same capture against itself: nothing changed, exit 0.
    let output = fleet.run(&["diff", &first_arg, &first_arg]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("0 changed, 150 unchanged, 0 new, 0 missing"));

    // Fewer hosts the second time: the others are missing, not changed.
    let partial = {
        let out_dir = fleet.sandbox.path().join("partial");
        let steps = steps(fleet.state.path());
        let output = fleet.run(&[
            "capture",
            "--json",
            "--out",
            out_dir.to_str().expect("utf8"),
            "-t",
            "web01",
            "-t",
            "web23",
            "--run",
            &steps[0],
            "--run",
            &steps[1],
            "--run",
            &steps[2],
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
        summary["snapshot"].as_str().expect("snapshot").to_string()
    };
    let (_, report) = fleet.json(&["diff", &first_arg, &partial, "--json"]);
    assert_eq!(
        report["summary"],
        serde_json::json!({"changed": 1, "unchanged": 5, "new": 0, "missing": 3 * (HOSTS - 2)})
    );
}

/// A snapshot is data: a manifest naming a file outside its folder, a link, or broken JSON is
/// refused by `show --group` and `diff` with an error that says where, and nothing outside the
/// folder is printed.
#[test]
fn hostile_snapshots_are_refused_with_a_clear_error() {
    let sandbox = Sandbox::new();
    let captures = sandbox.captures();
    let capture = |command: &str| -> PathBuf {
        let output = sandbox.run(&[
            "capture",
            "--json",
            "--out",
            captures.to_str().expect("utf8"),
            "--run",
            command,
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
        PathBuf::from(summary["snapshot"].as_str().expect("snapshot"))
    };
    let good = capture("echo fine");
    let outside = sandbox.path().join("outside-secret");
    std::fs::write(&outside, "SECRET-OUTSIDE\n").expect("outside");

    let edit = |name: &str, change: &dyn Fn(&mut serde_json::Value, &Path)| -> PathBuf {
        let dir = sandbox.path().join(name);
        std::fs::create_dir_all(dir.join("streams")).expect("dir");
        for entry in std::fs::read_dir(good.join("streams")).expect("streams") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), dir.join("streams").join(entry.file_name())).expect("copy");
        }
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(good.join("manifest.json")).expect("manifest"))
                .expect("json");
        change(&mut manifest, &dir);
        std::fs::write(dir.join("manifest.json"), manifest.to_string()).expect("write");
        dir
    };
    let escaping = edit("escaping", &|m, _| {
        m["streams"][0]["stdout"]["path"] = serde_json::json!("../outside-secret");
    });
    let linked = edit("linked", &|m, dir| {
        let path = m["streams"][0]["stdout"]["path"]
            .as_str()
            .expect("path")
            .to_string();
        std::fs::remove_file(dir.join(&path)).expect("rm");
        std::os::unix::fs::symlink(&outside, dir.join(&path)).expect("link");
    });
    for bad in [&escaping, &linked] {
        for args in [
            vec!["show", bad.to_str().expect("utf8"), "--group"],
            vec![
                "show",
                bad.to_str().expect("utf8"),
                "--group",
                "--shape",
                "--json",
            ],
            vec![
                "diff",
                good.to_str().expect("utf8"),
                bad.to_str().expect("utf8"),
            ],
        ] {
            let output = sandbox.run(&args);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{args:?}: {}",
                stdout(&output)
            );
            let err = stderr(&output);
            assert!(err.contains("manifest.json streams[0]"), "{args:?}: {err}");
            assert!(err.contains("refused"), "{err}");
            assert!(!stdout(&output).contains("SECRET-OUTSIDE"));
        }
    }
    let broken = sandbox.path().join("broken");
    std::fs::create_dir_all(&broken).expect("dir");
    std::fs::write(
        broken.join("manifest.json"),
        "{\n  \"schema_version\": 1,\n  \"id\": \"x\" oops\n}\n",
    )
    .expect("write");
    let output = sandbox.run(&["show", broken.to_str().expect("utf8"), "--group"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("manifest.json:3:13: expected `,` or `}`"),
        "file:line:col: {err}"
    );
    let output = sandbox.run(&[
        "diff",
        broken.to_str().expect("utf8"),
        good.to_str().expect("utf8"),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("manifest.json:3:13"));
    // The good one still groups: one stream, one group, shown.
    let output = sandbox.run(&["show", good.to_str().expect("utf8"), "--group"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("\nlocal (1)\n---------------\nfine\n"),
        "{}",
        stdout(&output)
    );
}
