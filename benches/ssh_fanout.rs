//! Fan-out at fleet scale: 3 short commands on 500 hosts (127.0.0.1 … 127.0.1.250: 32 real sshds
//! sharing a host key, 16 addresses each, `MaxStartups`/`MaxSessions` raised), casefile vs OpenSSH
//! `ssh` in parallel (a shell loop: `ssh host 'cmds' &` per host, then `wait`; same key, known_hosts
//! with StrictHostKeyChecking, ControlMaster off) vs `parallel-ssh -p 500`. Median of the rounds
//! after a warm-up. Then the peak RSS (`/usr/bin/time -f %M`) of a headless capture of 500 hosts ×
//! linux-triage (14 steps: 7,000 streams), and of the TUI running the same plan (driven in tmux,
//! VmHWM read from /proc).
//!
//!     scripts/setup/ssh.sh && cargo bench --bench ssh_fanout
//!     CASEFILE_BENCH_HOSTS=50 CASEFILE_BENCH_ROUNDS=5 cargo bench --bench ssh_fanout
// A bench reports its figures to the person running it; nothing captured is printed.
#![allow(clippy::print_stdout, clippy::print_stderr)]
#[path = "../tests/support/sshd.rs"]
#[allow(dead_code)]
mod sshd;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const COMMANDS: [&str; 3] = ["uptime", "uname -a", "df -h /"];
/// Addresses per sshd (more ListenAddress lines than this are refused by sshd).
const PER_SSHD: usize = 16;
/// The test sshds: no per-connection debug log, room for a whole fleet of unauthenticated
/// connections and channels at once.
const SSHD_EXTRA: &str = "LogLevel ERROR\nMaxStartups 1000:30:1000\nMaxSessions 100\n";

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A fleet of loopback hosts and a home that trusts them.
struct Fleet {
    _servers: Vec<sshd::Sshd>,
    /// sshd reads the host key and authorized_keys from here on every connection.
    _keys: sshd::SshKeys,
    hosts: Vec<(String, u16)>,
    home: tempfile::TempDir,
}

impl Fleet {
    fn start(count: usize) -> Fleet {
        let keys = sshd::SshKeys::generate();
        let addresses: Vec<String> = (0..count)
            .map(|i| format!("127.0.{}.{}", i / 250, i % 250 + 1))
            .collect();
        let servers: Vec<sshd::Sshd> = addresses
            .chunks(PER_SSHD)
            .map(|chunk| {
                let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                sshd::Sshd::start_on(&keys, &refs, SSHD_EXTRA)
            })
            .collect();
        let hosts: Vec<(String, u16)> = servers
            .iter()
            .flat_map(|s| s.addresses.iter().map(move |a| (a.clone(), s.port)))
            .collect();
        let home = tempfile::tempdir().expect("home");
        let ssh_dir = home.path().join(".ssh");
        std::fs::create_dir_all(&ssh_dir).expect(".ssh");
        std::fs::copy(keys.user_key(), ssh_dir.join("id_ed25519")).expect("identity");
        let known_hosts: String = servers
            .iter()
            .map(|s| s.known_hosts_lines(&keys.host_public()))
            .collect();
        std::fs::write(ssh_dir.join("known_hosts"), known_hosts).expect("known_hosts");
        // The same fleet as an inventory (for the TUI): every host tagged `fleet`.
        let config: String = hosts
            .iter()
            .enumerate()
            .map(|(i, (a, p))| {
                format!(
                    "[targets.web{:03}]\nurl = \"ssh://casefile-test@{a}:{p}\"\ntags = [\"fleet\"]\n",
                    i + 1
                )
            })
            .collect();
        let config_dir = home.path().join("config/casefile");
        std::fs::create_dir_all(&config_dir).expect("config dir");
        std::fs::write(config_dir.join("casefile.toml"), config).expect("casefile.toml");
        Fleet {
            _servers: servers,
            _keys: keys,
            hosts,
            home,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.home.path().join(rel)
    }

    /// `casefile capture` on every host, with the sandbox's HOME and XDG dirs.
    fn casefile(&self, out: &Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_casefile"));
        cmd.env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("CASEFILE_CONFIG")
            .args(["capture", "--out"])
            .arg(out)
            .args(["-t", "tag:fleet"]);
        cmd
    }

    /// OpenSSH options shared by `ssh` and `parallel-ssh`: the fleet's key and known_hosts
    /// (OpenSSH takes ~/.ssh from the passwd entry, not $HOME), no connection sharing.
    fn ssh_opts(&self) -> Vec<String> {
        [
            "BatchMode=yes".to_string(),
            format!(
                "UserKnownHostsFile={}",
                self.path(".ssh/known_hosts").display()
            ),
            "StrictHostKeyChecking=yes".into(),
            "ControlMaster=no".into(),
            "ControlPath=none".into(),
        ]
        .into_iter()
        .flat_map(|o| ["-o".to_string(), o])
        .chain([
            "-i".to_string(),
            self.path(".ssh/id_ed25519").display().to_string(),
        ])
        .collect()
    }
}

fn main() {
    let hosts = setting("CASEFILE_BENCH_HOSTS", 500);
    let rounds = setting("CASEFILE_BENCH_ROUNDS", 3).max(1);
    // The client side needs a descriptor or two per host (ssh's sockets, pssh's pipes).
    let _ = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).and_then(
        |(_, hard)| {
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard)
        },
    );
    let fleet = Fleet::start(hosts);
    let script = COMMANDS.join("; ");

    let casefile = || {
        let out = fleet.path("out");
        let mut cmd = fleet.casefile(&out);
        for c in COMMANDS {
            cmd.args(["--run", c]);
        }
        let elapsed = run(cmd, "casefile");
        let _ = std::fs::remove_dir_all(&out);
        elapsed
    };
    let hosts_file = fleet.path("hosts");
    std::fs::write(
        &hosts_file,
        fleet
            .hosts
            .iter()
            .map(|(a, p)| format!("casefile-test@{a}:{p}\n"))
            .collect::<String>(),
    )
    .expect("hosts");
    let openssh = || {
        // What a responder types: a loop of `ssh … &`, then wait for each; the exit status
        // counts the hosts where ssh failed.
        let list: String = fleet
            .hosts
            .iter()
            .map(|(a, p)| format!("{a}:{p} "))
            .collect();
        let shell = format!(
            "fail=0; pids=; for h in {list}; do ssh {opts} -p ${{h#*:}} casefile-test@${{h%:*}} '{script}' >/dev/null 2>&1 & pids=\"$pids $!\"; done; \
             for p in $pids; do wait $p || fail=$((fail+1)); done; exit $fail",
            opts = fleet.ssh_opts().join(" "),
        );
        let mut cmd = Command::new("sh");
        cmd.env("HOME", fleet.home.path())
            .env_remove("SSH_AUTH_SOCK")
            .args(["-c", &shell]);
        run(cmd, "ssh in parallel")
    };
    let pssh = || {
        let mut cmd = Command::new("parallel-ssh");
        cmd.env("HOME", fleet.home.path())
            .env_remove("SSH_AUTH_SOCK")
            .arg("-h")
            .arg(&hosts_file)
            .args(["-p", &hosts.to_string(), "-t", "0", "-o"])
            .arg(fleet.path("pssh-out"));
        for opt in fleet.ssh_opts() {
            cmd.arg("-X").arg(opt);
        }
        cmd.arg(&script);
        run(cmd, "parallel-ssh")
    };

    // Warm-up: page cache, sshd's first forks.
    casefile();
    openssh();
    let (mut c, mut o, mut p) = (vec![], vec![], vec![]);
    for _ in 0..rounds {
        c.push(casefile());
        o.push(openssh());
        p.push(pssh());
    }
    let (c, o, p) = (median(c), median(o), median(p));
    println!(
        "fan-out: {} commands on {hosts} hosts (median of {rounds})",
        COMMANDS.len()
    );
    println!(
        "  casefile (1 connection/host, 3 channels)   {:>8.3} s",
        c.as_secs_f64()
    );
    println!(
        "  ssh in parallel (shell loop, & + wait)     {:>8.3} s",
        o.as_secs_f64()
    );
    println!(
        "  parallel-ssh -p {hosts:<4}                       {:>8.3} s",
        p.as_secs_f64()
    );
    println!(
        "  ratio casefile/ssh          {:.2}x  (goal <= 0.5x)",
        c.as_secs_f64() / o.as_secs_f64()
    );
    println!(
        "  ratio casefile/parallel-ssh {:.2}x",
        c.as_secs_f64() / p.as_secs_f64()
    );

    let (rss, took, summary) = headless_peak_rss(&fleet);
    println!(
        "headless capture, {hosts} hosts x linux-triage ({}): peak RSS {:.1} MiB in {:.1} s (goal <= 300 MiB)",
        summary,
        rss as f64 / 1024.0,
        took.as_secs_f64()
    );
    match tui_peak_rss(&fleet) {
        Ok((rss, took)) => println!(
            "TUI capture, {hosts} hosts x linux-triage: peak RSS {:.1} MiB in {:.1} s (goal <= 300 MiB)",
            rss as f64 / 1024.0,
            took.as_secs_f64()
        ),
        Err(e) => println!("TUI capture: not measured ({e})"),
    }
}

/// Peak RSS (KiB) and wall time of `casefile capture --preset linux-triage` on the whole fleet,
/// and how its streams ended.
fn headless_peak_rss(fleet: &Fleet) -> (u64, Duration, String) {
    let out = fleet.path("rss-out");
    let time_file = fleet.path("time.txt");
    let mut cmd = Command::new("/usr/bin/time");
    cmd.args(["-f", "%M", "-o"]).arg(&time_file);
    let inner = fleet.casefile(&out);
    cmd.arg(inner.get_program()).args(inner.get_args());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.args(["--preset", "linux-triage"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let started = Instant::now();
    let status = cmd.status().expect("/usr/bin/time (package time)");
    let took = started.elapsed();
    // 1: some streams failed (a tool missing on the host is "not available", not a failure).
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "headless capture: {status}"
    );
    let rss = std::fs::read_to_string(&time_file)
        .expect("time output")
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("peak RSS in KiB");
    let summary = summarize(&out);
    let _ = std::fs::remove_dir_all(&out);
    (rss, took, summary)
}

/// "N streams: X exited, Y not available, …" from the snapshot under `out`.
fn summarize(out: &Path) -> String {
    let Some(dir) = std::fs::read_dir(out)
        .ok()
        .and_then(|d| d.filter_map(Result::ok).map(|e| e.path()).max())
    else {
        return "no snapshot".into();
    };
    let Ok(manifest) = std::fs::read(dir.join("manifest.json")) else {
        return "no manifest".into();
    };
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).expect("manifest json");
    let streams = manifest["streams"].as_array().cloned().unwrap_or_default();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for s in &streams {
        let status = s["status"].as_str().unwrap_or("?").to_string();
        *counts.entry(status).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    format!("{} streams: {}", streams.len(), parts.join(", "))
}

/// Peak RSS (KiB) of the TUI running linux-triage on every host: started in tmux, the fleet
/// selected by tag, the preset picked, the capture started; VmHWM read when it has finished.
fn tui_peak_rss(fleet: &Fleet) -> Result<(u64, Duration), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let socket = dir.path().join("sock");
    let tmux = |args: &[&str]| -> Result<String, String> {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args(args)
            .output()
            .map_err(|e| format!("tmux: {e}"))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let home = fleet.home.path().display().to_string();
    let command = format!(
        "env HOME={home} XDG_CONFIG_HOME={home}/config XDG_DATA_HOME={home}/tui-data XDG_STATE_HOME={home}/state CASEFILE_CONFIG= SSH_AUTH_SOCK= {}; sleep 600",
        env!("CARGO_BIN_EXE_casefile")
    );
    tmux(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "200",
        "-y",
        "60",
        &command,
    ])?;
    let result = drive_tui(&tmux);
    let _ = tmux(&["kill-server"]);
    let _ = std::fs::remove_dir_all(fleet.path("tui-data"));
    result
}

fn drive_tui(tmux: &dyn Fn(&[&str]) -> Result<String, String>) -> Result<(u64, Duration), String> {
    let screen = || tmux(&["capture-pane", "-p", "-t", "t"]);
    let wait_for = |text: &str, limit: Duration| -> Result<String, String> {
        let deadline = Instant::now() + limit;
        loop {
            let s = screen()?;
            if s.contains(text) {
                return Ok(s);
            }
            if Instant::now() > deadline {
                return Err(format!("the TUI never showed {text:?}; screen:\n{s}"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let keys = |keys: &[&str]| -> Result<(), String> {
        for key in keys {
            tmux(&["send-keys", "-t", "t", key])?;
            std::thread::sleep(Duration::from_millis(150));
        }
        Ok(())
    };
    wait_for("Recent captures", Duration::from_secs(20))?;
    keys(&["Enter"])?;
    wait_for("Presets", Duration::from_secs(20))?;
    // Targets: `local` is selected by default; unselect it, select every `fleet` host by tag.
    keys(&["Space", "Down", "t", "Tab", "/"])?;
    tmux(&["send-keys", "-t", "t", "-l", "linux-triage"])?;
    keys(&["Enter", "Space"])?;
    let plan = wait_for("streams on", Duration::from_secs(20))?;
    keys(&["s"])?;
    let started = Instant::now();
    let pane_pid = tmux(&["display", "-p", "-t", "t", "#{pane_pid}"])?;
    let pid = Command::new("pgrep")
        .args(["-P", pane_pid.trim(), "-x", "casefile"])
        .output()
        .map_err(|e| e.to_string())?;
    let pid = String::from_utf8_lossy(&pid.stdout).trim().to_string();
    if pid.is_empty() {
        return Err(format!(
            "no casefile process under the pane; plan was:\n{plan}"
        ));
    }
    wait_for("finished", Duration::from_secs(600))?;
    let took = started.elapsed();
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or("no VmHWM")?;
    Ok((hwm, took))
}

fn run(mut cmd: Command, what: &str) -> Duration {
    let started = Instant::now();
    let output = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "{what} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
