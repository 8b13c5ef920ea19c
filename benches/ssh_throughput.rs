//! Throughput: one stream over SSH from a real sshd on loopback into a snapshot, vs
//! `ssh host 'PRODUCER' > file`.
//!
//!     scripts/setup/ssh.sh && cargo bench --bench ssh_throughput
//!     CASEFILE_BENCH_BYTES=256M CASEFILE_BENCH_INPUTS=zero cargo bench --bench ssh_throughput
//!
//! Method, as for `local_throughput`:
//! - casefile (`casefile capture -t ssh://casefile-test@127.0.0.1:PORT --run 'PRODUCER'`) and
//!   OpenSSH's `ssh` (same user, key and known_hosts) **alternate**, 3 runs each
//!   (`CASEFILE_BENCH_RUNS`), and the **best** of each is compared.
//! - Every run writes a **new** file or snapshot folder and the deletion is **outside** the
//!   timing. (The README's earlier 1.13–1.22× came from an `ssh … > file` that overwrote its
//!   previous 1 GiB file each round, so the anchor paid the kernel's freeing of that file, and
//!   from medians; measured like this, casefile was at 0.63–0.67×.)
//! - One sshd, logging in as `casefile-test` (shell /bin/sh: no start-up files on either side).
//! - Wall time and peak RSS of each client, measured in a fresh measuring process per run.
//! - Inputs (`CASEFILE_BENCH_INPUTS`, default `zero,random,base64`): `head -c SIZE /dev/zero`
//!   on the host, or `cat` of a file made before the timing (random bytes; base64 folded at
//!   4000 columns), read by the host's user.
//!
//! Goal: ratio ≥ 1.0× (casefile at least as fast as `ssh > file`), casefile peak RSS < 50 MiB.
// A bench reports its figures to the person running it; nothing captured is printed.
#![allow(clippy::print_stdout, clippy::print_stderr)]
#[path = "support/measure.rs"]
mod measure;
#[path = "../tests/support/sshd.rs"]
#[allow(dead_code)]
mod sshd;

use measure::{measure, parse_size, quote};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

fn main() {
    measure::measuring_mode();
    let size = parse_size(&std::env::var("CASEFILE_BENCH_BYTES").unwrap_or_else(|_| "1G".into()));
    let runs: usize = std::env::var("CASEFILE_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let inputs =
        std::env::var("CASEFILE_BENCH_INPUTS").unwrap_or_else(|_| "zero,random,base64".into());
    let keys = sshd::SshKeys::generate();
    let server = sshd::Sshd::start_on(&keys, &["127.0.0.1"], "LogLevel ERROR\n");
    let home = tempfile::tempdir_in(
        std::env::var("CASEFILE_BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into()),
    )
    .expect("home");
    // The host's user reads the input files.
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let ssh_dir = home.path().join(".ssh");
    std::fs::create_dir_all(&ssh_dir).expect(".ssh");
    std::fs::copy(keys.user_key(), ssh_dir.join("id_ed25519")).expect("identity");
    std::fs::write(
        ssh_dir.join("known_hosts"),
        server.known_hosts_lines(&keys.host_public()),
    )
    .expect("known_hosts");
    let url = server.url("casefile-test");
    let port = server.port.to_string();
    let h = home.path().display().to_string();

    println!(
        "one stream over SSH (loopback sshd) into a snapshot vs ssh host 'PRODUCER' > new file ({:.0} MiB per run, best of {runs}, alternating)",
        size as f64 / (1 << 20) as f64
    );
    println!(
        "  {:<8} {:>10} {:>12} {:>8}  {:>14} {:>14}",
        "input", "ssh", "casefile", "ratio", "ssh RSS", "casefile RSS"
    );
    for input in inputs.split(',') {
        let file = home.path().join(format!("input.{input}"));
        let make = |script: String| {
            let status = std::process::Command::new("sh")
                .args(["-c", &script])
                .status()
                .expect("sh");
            assert!(status.success(), "{script}");
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))
                .expect("chmod input");
        };
        let f = quote(&file.display().to_string());
        let producer = match input {
            "zero" => format!("head -c {size} /dev/zero"),
            "random" => {
                make(format!("head -c {size} /dev/urandom > {f}"));
                format!("cat {f}")
            }
            "base64" => {
                make(format!(
                    "head -c {} /dev/urandom | base64 -w 0 | fold -w 4000 > {f}",
                    size / 4 * 3
                ));
                format!("cat {f}")
            }
            other => panic!("unknown input {other}: use zero, random or base64"),
        };
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        let (mut our_rss, mut their_rss) = (0i64, 0i64);
        for run in 0..runs {
            let out = home.path().join(format!("out-{run}"));
            let (time, rss) = measure(&format!(
                "HOME={h} XDG_CONFIG_HOME={h}/config XDG_DATA_HOME={h}/data exec {bin} capture --out {out} --timeout 10m -t {url} --run {p} 2>/dev/null",
                bin = env!("CARGO_BIN_EXE_casefile"),
                out = out.display(),
                p = quote(&producer),
            ));
            ours.push(time);
            our_rss = our_rss.max(rss);
            let written = walk_size(&out);
            assert!(written >= size, "casefile wrote {written} bytes");
            std::fs::remove_dir_all(&out).expect("clean up snapshot");

            let plain = home.path().join(format!("ssh-{run}.out"));
            let (time, rss) = measure(&format!(
                "exec ssh -o BatchMode=yes -o UserKnownHostsFile={h}/.ssh/known_hosts -i {h}/.ssh/id_ed25519 -p {port} casefile-test@127.0.0.1 {p} > {plain}",
                p = quote(&producer),
                plain = plain.display(),
            ));
            theirs.push(time);
            their_rss = their_rss.max(rss);
            assert!(std::fs::metadata(&plain).expect("ssh output").len() >= size * 99 / 100);
            std::fs::remove_file(&plain).expect("clean up file");
        }
        let best = |v: &[Duration]| v.iter().min().copied().unwrap_or_default();
        let (ours, theirs) = (best(&ours), best(&theirs));
        println!(
            "  {input:<8} {:>8.3} s {:>10.3} s {:>7.2}x  {:>10.1} MiB {:>10.1} MiB",
            theirs.as_secs_f64(),
            ours.as_secs_f64(),
            theirs.as_secs_f64() / ours.as_secs_f64(),
            their_rss as f64 / 1024.0,
            our_rss as f64 / 1024.0,
        );
        let _ = std::fs::remove_file(&file);
    }
    println!("  ratio = ssh time / casefile time (goal >= 1.0x); casefile RSS goal < 50 MiB");
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
