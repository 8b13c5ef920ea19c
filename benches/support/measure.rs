//! Shared by the throughput benches: runs a shell script in a fresh copy of the bench binary
//! ("measuring mode"), so its wall time and peak RSS are those of the script's processes alone
//! (getrusage RUSAGE_CHILDREN of a process that ran nothing else).
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// When the bench was started as `BENCH --measure PROGRAM ARGS…`: runs it, prints its peak RSS
/// in KiB and exits. Call first thing in `main`.
pub fn measuring_mode() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some("--measure") {
        return;
    }
    let status = Command::new(&args[2])
        .args(&args[3..])
        .stdout(Stdio::null())
        .status()
        .expect("spawn");
    assert!(status.success(), "{} failed", args[2]);
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage");
    println!("{}", usage.max_rss());
    std::process::exit(0);
}

/// Runs `sh -c script` under a fresh measuring process: (wall time, peak RSS in KiB).
pub fn measure(script: &str) -> (Duration, i64) {
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

/// Quotes `text` for a POSIX shell.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Parses `1G`, `256M`, `64K` or a plain byte count.
pub fn parse_size(text: &str) -> u64 {
    let (digits, unit) = text.split_at(text.trim_end_matches(['K', 'M', 'G']).len());
    let n: u64 = digits.parse().expect("a size such as 1G or 256M");
    n << match unit {
        "K" => 10,
        "M" => 20,
        "G" => 30,
        _ => 0,
    }
}
