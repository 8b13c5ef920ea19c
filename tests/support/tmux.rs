//! Drives the real `casefile` binary in a detached tmux session, as a person at a terminal
//! would: send keys, read the screen. The tmux server has its own socket in a temp dir and is
//! killed on drop.
use super::cli::Sandbox;
use std::{
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

pub struct Tmux {
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmux {
    /// Starts `casefile ARGS` in a `width`×`height` session with the sandbox's XDG dirs. When it
    /// exits the pane prints `EXITED:<code>` and stays open so the test can read it.
    pub fn start(sandbox: &Sandbox, args: &[&str], width: u16, height: u16) -> Tmux {
        Tmux::start_with_env(sandbox, &[], args, width, height)
    }

    /// Like [`Tmux::start`], with extra environment variables (`NAME`, `value`; values must not
    /// need shell quoting).
    pub fn start_with_env(
        sandbox: &Sandbox,
        vars: &[(&str, &str)],
        args: &[&str],
        width: u16,
        height: u16,
    ) -> Tmux {
        let dir = tempfile::tempdir().expect("tmux dir");
        let socket = dir.path().join("sock");
        let root = sandbox.path().display().to_string();
        let extra: String = vars.iter().map(|(k, v)| format!("{k}={v} ")).collect();
        let command = format!(
            "env HOME={root} XDG_CONFIG_HOME={root}/config XDG_DATA_HOME={root}/data XDG_STATE_HOME={root}/state CASEFILE_CONFIG= {extra}{} {}; echo EXITED:$?; sleep 600",
            env!("CARGO_BIN_EXE_casefile"),
            args.join(" ")
        );
        let status = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args([
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                &command,
            ])
            .status()
            .expect("tmux is installed (scripts/setup/tui.sh)");
        assert!(status.success(), "tmux new-session failed");
        let tmux = Tmux { socket, _dir: dir };
        // Let the app enter raw mode before typing.
        std::thread::sleep(Duration::from_millis(500));
        tmux
    }

    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-S").arg(&self.socket);
        cmd
    }

    /// Sends tmux key names (`Enter`, `Tab`, `q`, `C-c`).
    pub fn keys(&self, keys: &[&str]) {
        let status = self
            .tmux()
            .args(["send-keys", "-t", "t"])
            .args(keys)
            .status()
            .expect("send-keys");
        assert!(status.success());
        std::thread::sleep(Duration::from_millis(150));
    }

    /// Types text literally.
    pub fn type_text(&self, text: &str) {
        let status = self
            .tmux()
            .args(["send-keys", "-t", "t", "-l", text])
            .status()
            .expect("send-keys");
        assert!(status.success());
        std::thread::sleep(Duration::from_millis(150));
    }

    /// Resizes the window (the app gets a resize event).
    pub fn resize(&self, width: u16, height: u16) {
        let status = self
            .tmux()
            .args([
                "resize-window",
                "-t",
                "t",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
            ])
            .status()
            .expect("resize-window");
        assert!(status.success());
    }

    /// The visible screen as text.
    pub fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The visible screen with its colours as SGR escape sequences (`capture-pane -e`).
    pub fn screen_with_colours(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-e", "-t", "t"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A tmux format value of the pane, e.g. `#{pane_title}`.
    pub fn display(&self, format: &str) -> String {
        let out = self
            .tmux()
            .args(["display-message", "-p", "-t", "t", format])
            .output()
            .expect("display-message");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Waits until every needle is on screen; panics with the screen after `timeout`.
    pub fn wait_for(&self, needles: &[&str], timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if needles.iter().all(|n| screen.contains(n)) {
                return screen;
            }
            if start.elapsed() > timeout {
                panic!("timed out waiting for {needles:?}; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}
