//! The capture session under the real TUI, in tmux: setup warnings and secret-command errors
//! show in the app's own areas (never written over the panes), and a slow secret command
//! does not freeze the screen.
mod support;

use std::time::{Duration, Instant};
use support::{cli::Sandbox, tmux::Tmux};

const WAIT: Duration = Duration::from_secs(30);

/// A `Match` block in ~/.ssh/config and an SSH target whose password comes from a failing
/// vault command: the capture does not start, the ssh_config warning is on the notice line
/// above the footer, the command's stderr is in the footer's error, and nothing else is on
/// the screen.
#[test]
fn ssh_config_warnings_and_a_failing_secret_command_stay_in_the_tuis_own_areas() {
    let sandbox = Sandbox::new();
    let ssh_dir = sandbox.path().join(".ssh");
    std::fs::create_dir_all(&ssh_dir).expect(".ssh");
    std::fs::write(
        ssh_dir.join("config"),
        "Match host *.internal\n  User deploy\nHost jump\n  HostName 127.0.0.1\n",
    )
    .expect("ssh config");
    sandbox.write_config(
        r#"
[secrets.vault]
command = "echo 'vault: permission denied' >&2; exit 2"

[targets.web1]
url = "ssh://ops@127.0.0.1:1"
password_secret = "vault"
"#,
    );
    let tui = Tmux::start(&sandbox, &[], 140, 40);
    tui.wait_for(&["no incident (ad hoc)"], WAIT);
    tui.keys(&["Enter"]);
    tui.wait_for(&["Targets", "web1"], WAIT);
    // Select web1 (local is selected already), then an ad-hoc command, Enter starts.
    tui.keys(&["Down", "Space", "c"]);
    tui.type_text("uptime");
    tui.wait_for(&["Preview · 2 streams on 2 targets"], WAIT);
    tui.keys(&["Enter"]);
    let screen = tui.wait_for(&["cannot start", "permission denied", "Match"], WAIT);
    let lines: Vec<&str> = screen.lines().collect();
    assert_eq!(lines.len(), 40, "{screen}");
    let footer = lines[39];
    let notice = lines[38];
    assert!(
        footer.contains("cannot start: secret `vault`: its command failed (exit status: 2): vault: permission denied"),
        "the error, with the command's stderr, is in the footer:\n{screen}"
    );
    assert!(
        notice.contains("⚠ warning:") && notice.contains(":1: `Match` blocks are not supported"),
        "the ssh_config warning is on the notice line:\n{screen}"
    );
    assert!(
        lines[0].starts_with(" casefile"),
        "the header is intact:\n{screen}"
    );
    assert_eq!(
        screen.matches("permission denied").count(),
        1,
        "the stderr is not painted anywhere else:\n{screen}"
    );
    assert_eq!(
        screen.matches("Match").count(),
        1,
        "the warning is shown once, in its area:\n{screen}"
    );
    assert!(
        !screen.contains("casefile: warning"),
        "nothing printed behind ratatui's back:\n{screen}"
    );
    // Nothing was captured: no snapshot folder.
    let captures = sandbox.captures();
    let snapshots = std::fs::read_dir(&captures).map(|d| d.count()).unwrap_or(0);
    assert_eq!(snapshots, 0, "no snapshot for a capture that did not start");
    // Esc leaves the command box (alone: Esc followed at once by q reads as Alt-q), q quits.
    tui.keys(&["Escape"]);
    std::thread::sleep(Duration::from_millis(300));
    tui.keys(&["q"]);
    tui.wait_for(&["EXITED:0"], WAIT);
}

/// A secret command that takes 5 s (a vault CLI fetching a token): while it runs, typed keys
/// still reach the screen; when it ends the capture runs.
#[test]
fn a_slow_secret_command_does_not_freeze_the_tui() {
    let sandbox = Sandbox::new();
    sandbox.write_config(
        r#"
[secrets.api_key]
command = "sleep 5; echo s3cr3t-value"
always_redact = true
"#,
    );
    let tui = Tmux::start(&sandbox, &[], 140, 40);
    tui.wait_for(&["no incident (ad hoc)"], WAIT);
    tui.keys(&["Enter"]);
    tui.wait_for(&["Targets", "local"], WAIT);
    tui.keys(&["c"]);
    tui.type_text("echo slow-secret-done");
    tui.wait_for(&["Preview · 1 streams on 1 targets"], WAIT);
    tui.keys(&["Enter"]);
    let started = Instant::now();
    tui.wait_for(&["preparing the capture"], Duration::from_secs(3));
    // The secret command is still sleeping: keys are answered at once.
    tui.type_text(" typed-while-waiting");
    tui.wait_for(&["typed-while-waiting"], Duration::from_secs(3));
    let answered = started.elapsed();
    assert!(
        answered < Duration::from_secs(4),
        "keys answered {answered:?} after starting, while the 5 s secret command runs"
    );
    let screen = tui.wait_for(&["slow-secret-done", "✓ exit 0", "finished"], WAIT);
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "the capture waited for the secret ({:?}):\n{screen}",
        started.elapsed()
    );
    assert!(!screen.contains("s3cr3t-value"), "{screen}");
    tui.keys(&["q"]);
    tui.wait_for(&["EXITED:0"], WAIT);
}
