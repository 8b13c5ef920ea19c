//! The preset library: every built-in file is valid, and each broken file in the corpus is
//! rejected with file:line:col and the expected message.
mod support;

use casefile::preset::{PresetLibrary, PresetOrigin, load_file};
use std::path::Path;
use support::cli::{Sandbox, stderr, stdout};

#[test]
fn every_built_in_preset_is_valid_and_embedded() {
    let library = PresetLibrary::load(None);
    assert!(library.problems.is_empty(), "{:?}", library.problems);
    let mut on_disk: Vec<String> = std::fs::read_dir("presets")
        .expect("presets dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| p.file_stem().expect("stem").to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let embedded: Vec<String> = library.presets.keys().cloned().collect();
    assert_eq!(embedded, on_disk);
    for required in [
        "linux-triage",
        "net-and-files",
        "logs",
        "jvm",
        "python",
        "pcap",
        "mysql",
        "postgres",
        "sqlite",
        "bpftrace",
    ] {
        assert!(
            library.presets.contains_key(required),
            "missing built-in preset {required}"
        );
    }
    // bpftrace traces the kernel: every step is time-boxed, intrusive (confirmed before it runs)
    // and needs root.
    let bpftrace = &library.presets["bpftrace"];
    assert!(
        bpftrace.steps.iter().all(|s| s.intrusive
            && s.sudo
            && s.requires.iter().any(|r| r == "bpftrace")
            && s.action.text().contains("timeout -s INT")),
        "bpftrace steps must be time-boxed, intrusive and sudo"
    );
    let pcap = &library.presets["pcap"];
    assert!(
        pcap.steps.iter().any(|s| s.intrusive),
        "tcpdump is intrusive"
    );
}

#[test]
fn broken_presets_name_file_line_column_and_the_problem() {
    let dir = Path::new("tests/fixtures/bad-presets");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).expect("corpus") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .expect("first line says what to expect");
        let err = load_file(&path, PresetOrigin::User(path.clone()))
            .expect_err("broken preset must be rejected");
        let shown = err.to_string();
        let (position, message) = expect
            .split_once(": ")
            .unwrap_or((expect.trim_end_matches(':'), ""));
        assert!(
            shown.starts_with(&format!("{}:{position}: ", path.display())),
            "{}: got `{shown}`, expected position {position}",
            path.display()
        );
        assert!(
            shown.contains(message),
            "{}: got `{shown}`, expected `{message}`",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 15, "corpus has {checked} files");
}

#[test]
fn presets_check_and_list_from_the_command_line() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&[
        "presets",
        "check",
        "presets/linux-triage.toml",
        "tests/fixtures/bad-presets/unknown-key.toml",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stdout(&output).contains("presets/linux-triage.toml: ok"),
        "{}",
        stdout(&output)
    );
    assert!(
        stderr(&output)
            .contains("tests/fixtures/bad-presets/unknown-key.toml:7:1: unknown field `timout`"),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("hint:"), "{}", stderr(&output));

    // A user preset overrides the built-in of the same name; a broken one is reported, not hidden.
    let user = sandbox.path().join("config/casefile/presets");
    std::fs::create_dir_all(&user).expect("dir");
    std::fs::write(user.join("logs.toml"), "name = \"logs\"\ndescription = \"mine\"\ntarget = \"shell\"\n[[steps]]\nname = \"a\"\ncommand = \"true\"\n").expect("write");
    std::fs::write(user.join("broken.toml"), "name = \"broken\"\n").expect("write");
    let output = sandbox.run(&["presets", "list"]);
    let text = stdout(&output);
    assert!(
        text.lines()
            .any(|l| l.starts_with("logs ") && l.contains("user") && l.ends_with("mine")),
        "{text}"
    );
    assert!(
        stderr(&output).contains("broken.toml:1:1: missing field `description`"),
        "{}",
        stderr(&output)
    );
    let show = sandbox.run(&["presets", "show", "jvm"]);
    assert!(
        stdout(&show).contains("pid: a whole number (required)"),
        "{}",
        stdout(&show)
    );
}
