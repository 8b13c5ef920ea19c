//! Fan-out: 3 short commands on 50 hosts (127.0.0.1 … 127.0.0.50, served by 4 real sshds sharing a
//! host key), casefile vs OpenSSH `ssh` run in parallel (one session per host running the three
//! commands) vs `parallel-ssh` (pssh) at the same parallelism. Median of 5 rounds after a warm-up.
//!
//!     scripts/setup/ssh.sh && cargo bench --bench ssh_fanout
// A bench reports its figures to the person running it; nothing captured is printed.
#![allow(clippy::print_stdout, clippy::print_stderr)]
#[path = "../tests/support/sshd.rs"]
#[allow(dead_code)]
mod sshd;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const HOSTS: usize = 50;
const COMMANDS: [&str; 3] = ["uptime", "uname -a", "df -h /"];
const ROUNDS: usize = 5;

fn main() {
    let keys = sshd::SshKeys::generate();
    let addresses: Vec<String> = (1..=HOSTS).map(|i| format!("127.0.0.{i}")).collect();
    let servers: Vec<sshd::Sshd> = addresses
        .chunks(16)
        .map(|chunk| {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            sshd::Sshd::start_on(&keys, &refs, "LogLevel ERROR\n")
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
    let hosts_file = home.path().join("hosts");
    std::fs::write(
        &hosts_file,
        hosts
            .iter()
            .map(|(a, p)| format!("casefile-test@{a}:{p}\n"))
            .collect::<String>(),
    )
    .expect("hosts");
    let out = home.path().join("out");

    let casefile = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_casefile"));
        cmd.env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("CASEFILE_CONFIG")
            .args(["capture", "--out"])
            .arg(&out)
            .args(["--concurrency", &(HOSTS * COMMANDS.len()).to_string()]);
        for (a, p) in &hosts {
            cmd.args(["-t", &format!("ssh://casefile-test@{a}:{p}")]);
        }
        for c in COMMANDS {
            cmd.args(["--run", c]);
        }
        run(cmd, "casefile")
    };
    let script = COMMANDS.join("; ");
    let ssh_opts = |home: &Path| {
        vec![
            "-o".to_string(),
            "BatchMode=yes".into(),
            "-o".into(),
            format!(
                "UserKnownHostsFile={}",
                home.join(".ssh/known_hosts").display()
            ),
            "-o".into(),
            "StrictHostKeyChecking=yes".into(),
            "-i".into(),
            home.join(".ssh/id_ed25519").display().to_string(),
        ]
    };
    let openssh = || {
        let started = Instant::now();
        let children: Vec<_> = hosts
            .iter()
            .map(|(a, p)| {
                Command::new("ssh")
                    .env("HOME", home.path())
                    .env_remove("SSH_AUTH_SOCK")
                    .args(ssh_opts(home.path()))
                    .args(["-p", &p.to_string(), &format!("casefile-test@{a}"), &script])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("ssh")
            })
            .collect();
        for mut child in children {
            assert!(child.wait().expect("wait ssh").success(), "ssh failed");
        }
        started.elapsed()
    };
    let pssh = || {
        let mut cmd = Command::new("parallel-ssh");
        cmd.env("HOME", home.path())
            .env_remove("SSH_AUTH_SOCK")
            .arg("-h")
            .arg(&hosts_file)
            .args(["-p", &HOSTS.to_string(), "-o"])
            .arg(home.path().join("pssh-out"));
        for opt in ssh_opts(home.path()) {
            cmd.arg("-X").arg(opt);
        }
        cmd.arg(&script);
        run(cmd, "parallel-ssh")
    };

    // Warm-up: page cache, sshd's first forks.
    casefile();
    openssh();
    pssh();
    let (mut c, mut o, mut p) = (vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        c.push(casefile());
        o.push(openssh());
        p.push(pssh());
    }
    let (c, o, p) = (median(c), median(o), median(p));
    println!(
        "fan-out: {} commands on {HOSTS} hosts (median of {ROUNDS})",
        COMMANDS.len()
    );
    println!(
        "  casefile (1 connection/host, 3 channels)   {:>8.3} s",
        c.as_secs_f64()
    );
    println!(
        "  ssh in parallel (1 session/host)           {:>8.3} s",
        o.as_secs_f64()
    );
    println!(
        "  parallel-ssh -p {HOSTS}                        {:>8.3} s",
        p.as_secs_f64()
    );
    println!(
        "  ratio casefile/ssh          {:.2}x  (goal <= 0.5x)",
        c.as_secs_f64() / o.as_secs_f64()
    );
    println!(
        "  ratio casefile/parallel-ssh {:.2}x  (goal <= 0.5x)",
        c.as_secs_f64() / p.as_secs_f64()
    );
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
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
