//! Redaction throughput, side by side with what a responder would otherwise run to scrub output:
//! `sed -E` with two rules (`password=…`, `token=…`), on the same bytes. casefile applies all its
//! rules (anchors, then the regex on a window around each anchor) through the streaming
//! redactor in 64 KiB chunks, as a capture does. Three inputs:
//! - base64 (the stress case for anything that scans text: long runs of letters and digits);
//! - a `ps -eo … args` listing (command lines, some with ` -u` that wake the regex);
//! - access-log lines (no anchors: the SIMD scan alone).
//!
//! Run: `cargo bench --bench redact` (`CASEFILE_BENCH_MIB=64` for larger inputs, default 16).
// A bench reports its figures to the person running it; nothing captured is printed.
#![allow(clippy::print_stdout, clippy::print_stderr)]
use casefile::redact::Redactor;
use std::{
    io::Write,
    process::{Command, Stdio},
    time::Instant,
};

fn mib() -> usize {
    std::env::var("CASEFILE_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
}

/// A small deterministic generator (xorshift), so every run scans the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn base64(size: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(size);
    while out.len() < size {
        for _ in 0..4000 {
            out.push(ALPHABET[(rng.next() % 64) as usize]);
        }
        out.push(b'\n');
    }
    out
}

fn ps_listing(size: usize) -> Vec<u8> {
    let commands = [
        "/usr/sbin/mariadbd --no-defaults --datadir=/var/lib/mysql --port=3306",
        "/usr/bin/python3 -u /opt/worker/main.py --queue orders",
        "sshd: casefile-test [priv]",
        "/usr/lib/jvm/bin/java -Xmx4g -jar /srv/app.jar --spring.profiles.active=prod",
        "sort -u /tmp/ids.txt",
        "[kworker/0:1-events]",
        "/lib/systemd/systemd --user",
        "postgres: 15/main: checkpointer",
    ];
    let mut out = Vec::with_capacity(size);
    let mut pid = 1;
    while out.len() < size {
        for command in commands {
            writeln!(
                out,
                "{pid:>7} {:>7} root      0.{} 0.1  12345 123456   4 01:02:03 Ss   {command}",
                pid / 2,
                pid % 10
            )
            .expect("write");
            pid += 1;
        }
    }
    out
}

fn access_log(size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size);
    let mut i = 0u64;
    while out.len() < size {
        writeln!(
            out,
            "2026-11-28T06:{:02}:{:02}Z INFO request id={i} path=/api/v1/orders/{} status=200 duration_ms={} user-agent=Mozilla/5.0",
            i / 60 % 60,
            i % 60,
            i * 7 % 100_000,
            i % 97
        )
        .expect("write");
        i += 1;
    }
    out
}

/// MiB/s of the streaming redactor over `data`, best of three.
fn casefile_rate(data: &[u8]) -> f64 {
    let rules = Redactor::new(&["Registered-secret-1".to_string()]);
    let mut best = f64::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let mut stream = rules.stream();
        let mut out = Vec::with_capacity(data.len());
        for chunk in data.chunks(64 << 10) {
            stream.push(chunk, &mut out);
        }
        stream.finish(&mut out);
        best = best.min(started.elapsed().as_secs_f64());
        std::hint::black_box(out);
    }
    data.len() as f64 / (1 << 20) as f64 / best
}

/// MiB/s of `sed -E` with two rules over `data` (through a pipe, output discarded), best of three.
fn sed_rate(data: &[u8]) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let mut child = Command::new("sed")
            .env("LC_ALL", "C")
            .args(["-E", "s/(password|token)=[^ ]*/\\1=[REDACTED]/g"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("run sed");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(data).expect("feed sed");
        drop(stdin);
        assert!(child.wait().expect("sed").success());
        best = best.min(started.elapsed().as_secs_f64());
    }
    data.len() as f64 / (1 << 20) as f64 / best
}

fn main() {
    let size = mib() << 20;
    println!("redaction throughput, {} MiB per input (best of 3)", mib());
    for (name, data) in [
        ("base64", base64(size)),
        ("ps listing", ps_listing(size)),
        ("access log", access_log(size)),
    ] {
        let ours = casefile_rate(&data);
        let sed = sed_rate(&data);
        println!(
            "{name:>11}: casefile {ours:>7.0} MiB/s, sed -E (2 rules) {sed:>6.0} MiB/s, ratio {:.2}",
            ours / sed
        );
    }
}
