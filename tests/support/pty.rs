//! A program on a pseudo-terminal, as a person runs the TUI: `script` (util-linux) gives the shell
//! command a terminal whose output we read. Killing `script` closes the terminal (a hang-up).
use std::io::Read;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

/// A shell command running on its own terminal.
pub struct Terminal {
    pub script: Child,
    pub output: ChildStdout,
    /// Everything the terminal printed so far.
    pub seen: Vec<u8>,
}

impl Terminal {
    /// Runs `shell` (e.g. `stty cols 120 rows 40; exec casefile`) with `home` as HOME and the
    /// XDG folders under it, so no user's config or captures are touched.
    pub fn start(shell: &str, home: &Path) -> Terminal {
        let mut script = Command::new("script")
            .args(["-q", "-c", shell, "/dev/null"])
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_STATE_HOME", home.join("state"))
            .env("TERM", "xterm-256color")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("script (util-linux)");
        let output = script.stdout.take().expect("stdout");
        Terminal {
            script,
            output,
            seen: Vec::new(),
        }
    }

    /// Reads until the terminal has shown `marker`; panics with what it showed if it ends first.
    pub fn wait_for(&mut self, marker: &str) {
        let mut buffer = [0u8; 65536];
        while !self
            .seen
            .windows(marker.len())
            .any(|w| w == marker.as_bytes())
        {
            let n = self.output.read(&mut buffer).expect("read the terminal");
            assert!(
                n > 0,
                "the program ended before showing {marker:?}: {}",
                String::from_utf8_lossy(&self.seen)
            );
            self.seen.extend_from_slice(&buffer[..n]);
        }
    }

    /// Closes the terminal (the program gets a hang-up) and reaps `script`.
    pub fn hang_up(mut self) {
        let _ = self.script.kill();
        drop(self.output);
        let _ = self.script.wait();
    }
}
