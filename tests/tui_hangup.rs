//! A TUI whose terminal goes away quits, and does not stay behind spinning on the dead
//! terminal (crossterm's reader never reports it). Here its session leader, `sh`, ignores
//! SIGHUP (as `trap '' HUP`, some wrappers and `nohup`-style launchers do); casefile then
//! learns of the hang-up from the signal the kernel sends its process group, or, failing
//! that, from polling its terminal (`tui::hangup`, whose own test closes a pseudo-terminal).
mod support;

use std::process::Command;
use std::time::{Duration, Instant};
use support::cli::Sandbox;
use support::pty::Terminal;

/// The pid of the running casefile whose command line holds `needle`.
fn casefile_pid(needle: &str) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline);
            (text.contains("casefile") && text.contains(needle) && !text.contains("trap"))
                .then_some(pid)
        })
}

/// Running or sleeping (a zombie, or no such process, has quit).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit(')')
                .next()
                .map(|rest| rest.trim_start().to_string())
        })
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

#[test]
fn a_terminal_that_hangs_up_without_a_sighup_still_stops_the_tui() {
    let sandbox = Sandbox::new();
    let config = sandbox.write_config("");
    let bin = env!("CARGO_BIN_EXE_casefile");
    // `sh` leads the terminal's session and ignores SIGHUP; casefile is its child.
    let script = format!(
        "stty cols 120 rows 40; trap '' HUP; '{bin}' --config '{}'; true",
        config.display()
    );
    let mut terminal = Terminal::start(&script, sandbox.path());
    terminal.wait_for("ncident");
    let config_path = config.display().to_string();
    let pid = casefile_pid(&config_path).expect("the TUI's process");

    // The terminal goes away: its master side closes with `script`.
    terminal.hang_up();

    let deadline = Instant::now() + Duration::from_secs(15);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let still_running = alive(pid);
    if still_running {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    assert!(
        !still_running,
        "casefile (pid {pid}) was still running 15 s after its terminal hung up"
    );
}
