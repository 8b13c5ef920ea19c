//! A TUI whose terminal goes away quits, and does not stay behind spinning on the dead
//! terminal (crossterm's reader never reports it). Here its session leader, `sh`, ignores
//! SIGHUP (as `trap '' HUP`, some wrappers and `nohup`-style launchers do); casefile then
//! learns of the hang-up from the signal the kernel sends its process group, or, failing
//! that, from polling its terminal (`tui::hangup`, whose own test closes a pseudo-terminal).
mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::cli::Sandbox;

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
    let mut terminal = Command::new("script")
        .args(["-q", "-c", &script, "/dev/null"])
        .env("HOME", sandbox.path())
        .env("XDG_CONFIG_HOME", sandbox.path().join("config"))
        .env("XDG_DATA_HOME", sandbox.path().join("data"))
        .env("XDG_STATE_HOME", sandbox.path().join("state"))
        .env("TERM", "xterm-256color")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script (util-linux)");
    let mut output = terminal.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    let mut buffer = [0u8; 65536];
    while !String::from_utf8_lossy(&seen).contains("ncident") {
        let n = output.read(&mut buffer).expect("read the terminal");
        assert!(
            n > 0,
            "the TUI ended early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buffer[..n]);
    }
    let config_path = config.display().to_string();
    let pid = casefile_pid(&config_path).expect("the TUI's process");

    // The terminal goes away: its master side closes with `script`.
    let _ = terminal.kill();
    drop(output);
    let _ = terminal.wait();

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
