//! Throughput: one 1 GiB stream (`head -c 1G /dev/zero` on a real sshd over loopback) into the
//! snapshot, vs `ssh host 'head -c 1G /dev/zero' > file`. Wall time (median of 3) and peak RSS of
//! each client (getrusage RUSAGE_CHILDREN in a fresh measuring process per run).
//!
//!     scripts/setup/ssh.sh && cargo bench --bench ssh_throughput
// A bench reports its figures to the person running it; nothing captured is printed.
#![allow(clippy::print_stdout, clippy::print_stderr)]
#[path = "../tests/support/sshd.rs"]
#[allow(dead_code)]
mod sshd;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROUNDS: usize = 3;
const GIB: u64 = 1 << 30;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Measuring mode: run the command, print its peak RSS in KiB (so sshd etc. never count).
    if args.get(1).map(String::as_str) == Some("--measure") {
        let status = Command::new(&args[2])
            .args(&args[3..])
            .stdout(Stdio::null())
            .status()
            .expect("spawn");
        assert!(status.success(), "{} failed", args[2]);
        let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
            .expect("getrusage");
        println!("{}", usage.max_rss());
        return;
    }
    let keys = sshd::SshKeys::generate();
    let server = sshd::Sshd::start_on(&keys, &["127.0.0.1"], "LogLevel ERROR\n");
    let home = tempfile::tempdir().expect("home");
    let ssh_dir = home.path().join(".ssh");
    std::fs::create_dir_all(&ssh_dir).expect(".ssh");
    std::fs::copy(keys.user_key(), ssh_dir.join("id_ed25519")).expect("identity");
    std::fs::write(
        ssh_dir.join("known_hosts"),
        server.known_hosts_lines(&keys.host_public()),
    )
    .expect("known_hosts");
    let out = home.path().join("out");
    let file = home.path().join("ssh-out.bin");
    let url = server.url("casefile-test");
    let port = server.port.to_string();

    let casefile = || {
        let _ = std::fs::remove_dir_all(&out);
        let cmd = format!(
            "HOME={home} XDG_CONFIG_HOME={home}/config XDG_DATA_HOME={home}/data exec {bin} capture --out {out} --timeout 10m -t {url} --run 'head -c 1G /dev/zero' 2>/dev/null",
            home = home.path().display(),
            bin = env!("CARGO_BIN_EXE_casefile"),
            out = out.display(),
        );
        let result = measure(&cmd);
        let written: u64 = walk_size(&out);
        assert!(written >= GIB, "casefile wrote {written} bytes");
        result
    };
    let openssh = || {
        let cmd = format!(
            "exec ssh -o BatchMode=yes -o UserKnownHostsFile={home}/.ssh/known_hosts -i {home}/.ssh/id_ed25519 -p {port} casefile-test@127.0.0.1 'head -c 1G /dev/zero' > {file}",
            home = home.path().display(),
            file = file.display(),
        );
        let result = measure(&cmd);
        assert_eq!(std::fs::metadata(&file).expect("ssh output").len(), GIB);
        result
    };
    let (mut c, mut o) = (vec![], vec![]);
    for _ in 0..ROUNDS {
        c.push(casefile());
        o.push(openssh());
    }
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_dir_all(&out);
    let (ct, crss) = (
        median(c.iter().map(|r| r.0).collect()),
        c.iter().map(|r| r.1).max().unwrap_or(0),
    );
    let (ot, orss) = (
        median(o.iter().map(|r| r.0).collect()),
        o.iter().map(|r| r.1).max().unwrap_or(0),
    );
    let mib = |t: Duration| GIB as f64 / (1 << 20) as f64 / t.as_secs_f64();
    println!("throughput: 1 GiB from `head -c 1G /dev/zero` over SSH to disk (median of {ROUNDS})");
    println!(
        "  casefile   {:>7.2} s  {:>7.1} MiB/s  peak RSS {:>6.1} MiB",
        ct.as_secs_f64(),
        mib(ct),
        crss as f64 / 1024.0
    );
    println!(
        "  ssh > file {:>7.2} s  {:>7.1} MiB/s  peak RSS {:>6.1} MiB",
        ot.as_secs_f64(),
        mib(ot),
        orss as f64 / 1024.0
    );
    println!(
        "  throughput ratio casefile/ssh {:.2}x  (goal >= 0.8x); casefile RSS goal < 64 MiB",
        mib(ct) / mib(ot)
    );
}

/// Runs `sh -c script` under a fresh copy of this binary in measuring mode: (wall time, peak RSS KiB).
fn measure(script: &str) -> (Duration, i64) {
    let started = Instant::now();
    let me = std::env::current_exe().expect("current exe");
    let output = Command::new(me)
        .args(["--measure", "/bin/sh", "-c", script])
        .output()
        .expect("measure");
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rss = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("rss");
    (elapsed, rss)
}

fn walk_size(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            total += if path.is_dir() {
                walk_size(&path)
            } else {
                entry.metadata().map(|m| m.len()).unwrap_or(0)
            };
        }
    }
    total
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
