//! `casefile completions` and `casefile man` run the real binary: the scripts parse in their
//! shell, the man page renders, and neither needs (or reads) a config file.
use std::process::Command;

fn casefile(args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("dir");
    // A broken config must not matter: these commands never load it.
    let config = dir.path().join("casefile.toml");
    std::fs::write(&config, "this is [not toml").expect("config");
    let output = Command::new(env!("CARGO_BIN_EXE_casefile"))
        .args(args)
        .env("CASEFILE_CONFIG", &config)
        .output()
        .expect("run casefile");
    assert!(
        output.status.success(),
        "casefile {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// Runs `shell -n` (parse only) on `script`; true when the shell accepts it.
fn parses_in(shell: &str, script: &str) -> Option<bool> {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("script");
    std::fs::write(&path, script).expect("write");
    let status = Command::new(shell).arg("-n").arg(&path).status().ok()?;
    Some(status.success())
}

#[test]
fn bash_completion_parses_and_completes_capture_and_its_preset_flag() {
    let script = casefile(&["completions", "bash"]);
    assert!(script.contains("capture"), "{script}");
    assert!(script.contains("--preset"), "{script}");
    assert!(script.contains("complete -F"), "registers with `complete`");
    assert!(
        !script.contains("\\e"),
        "the sanitiser left the script as it is"
    );
    assert_eq!(parses_in("bash", &script), Some(true), "bash -n accepts it");
}

#[test]
fn zsh_and_fish_completions_are_printed() {
    let zsh = casefile(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef casefile"), "{zsh}");
    assert!(zsh.contains("--preset"));
    if let Some(ok) = parses_in("zsh", &zsh) {
        assert!(ok, "zsh -n accepts it");
    }
    let fish = casefile(&["completions", "fish"]);
    assert!(fish.contains("complete -c casefile"), "{fish}");
    assert!(fish.contains("-l preset"), "{fish}");
}

#[test]
fn man_page_is_roff_with_every_subcommand() {
    let page = casefile(&["man"]);
    assert!(page.contains(".TH casefile 1"), "{page}");
    for sub in [
        "CAPTURE",
        "SHOW",
        "EXPORT",
        "REPLAY",
        "PRESETS CHECK",
        "TARGETS LIST",
    ] {
        assert!(page.contains(&format!(".SH \"CASEFILE {sub}\"")), "{sub}");
    }
    // Only roff text: no control characters besides newlines.
    assert!(!page.chars().any(|c| c.is_control() && c != '\n'));
    // groff (when installed) renders it without warnings.
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("casefile.1");
    std::fs::write(&path, &page).expect("write");
    if let Ok(out) = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(&path)
        .output()
    {
        assert!(out.status.success());
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_casefile"))
        .args(["completions", "powershell-9000"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("bash"));
}
