//! Runs the real `casefile` binary with an isolated home, config and capture dir.
use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// An isolated environment: XDG dirs under a temp dir, so tests never see the user's config.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn captures(&self) -> PathBuf {
        self.dir.path().join("captures")
    }

    /// A `casefile` command with XDG dirs inside the sandbox.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_casefile"));
        cmd.env("XDG_CONFIG_HOME", self.path().join("config"))
            .env("XDG_DATA_HOME", self.path().join("data"))
            .env("HOME", self.path())
            .env_remove("CASEFILE_CONFIG");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run casefile")
    }

    /// Captures `command` on the local target and exports the snapshot to `file:<sandbox>/out`
    /// with the real binary; returns the `.tar.gz` archive's path.
    pub fn exported_archive(&self, command: &str) -> PathBuf {
        let output = self.run(&[
            "capture",
            "--json",
            "--out",
            &self.captures().display().to_string(),
            "--run",
            command,
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
        let snapshot = summary["snapshot"].as_str().expect("snapshot").to_string();
        let out = self.path().join("out");
        let export = self.run(&[
            "export",
            &snapshot,
            "--to",
            &format!("file:{}", out.display()),
        ]);
        assert_eq!(export.status.code(), Some(0), "{}", stderr(&export));
        std::fs::read_dir(&out)
            .expect("out")
            .map(|e| e.expect("entry").path())
            .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
            .expect("archive")
    }

    /// Writes `casefile.toml` where casefile looks for it by default.
    pub fn write_config(&self, text: &str) -> PathBuf {
        let dir = self.path().join("config").join("casefile");
        std::fs::create_dir_all(&dir).expect("config dir");
        let path = dir.join("casefile.toml");
        std::fs::write(&path, text).expect("write config");
        path
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every byte of every file under `dir`, for "this never appears anywhere" checks.
pub fn all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read file");
                found.push((path, bytes));
            }
        }
    }
    found
}
