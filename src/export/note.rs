//! The incident note: a short summary a responder can read in PagerDuty's timeline — what was
//! captured where, what failed, and a few notable findings read from the captured files (the
//! longest-running query, the top CPU process) — plus where the full snapshot lives.
//! It names the snapshot id, which is how a re-export finds its earlier note and does not repeat it.
use crate::snapshot::{Manifest, StreamRecord, StreamStatus};
use std::{io::Read, path::Path};

/// How much of a stream file is read to look for findings.
const FINDINGS_READ_LIMIT: u64 = 256 << 10;
const MAX_LISTED: usize = 5;
const MAX_QUERY_CHARS: usize = 160;

/// The marker a note carries, and that a re-export looks for.
pub fn marker(snapshot_id: &str) -> String {
    format!("casefile snapshot {snapshot_id}")
}

/// The summary part of the note (no links). `dir` is the snapshot folder.
pub fn summary(manifest: &Manifest, dir: &Path) -> String {
    let mut lines = Vec::new();
    let incident = manifest
        .incident
        .as_ref()
        .map(|i| format!(" for {}", i.id))
        .unwrap_or_default();
    lines.push(format!(
        "{}{incident}, by {} at {}",
        marker(&manifest.id),
        manifest.operator,
        manifest.started_at
    ));
    lines.push(format!(
        "Targets: {}",
        capped(
            manifest
                .targets
                .iter()
                .map(|t| format!("{} ({})", t.name, t.spec.to_url()))
        )
    ));
    let mut presets: Vec<&str> = manifest
        .streams
        .iter()
        .map(|s| s.spec.preset.as_str())
        .collect();
    presets.sort_unstable();
    presets.dedup();
    lines.push(format!(
        "Presets: {}",
        capped(presets.iter().map(|p| p.to_string()))
    ));
    let done = manifest
        .streams
        .iter()
        .filter(|s| s.result.status.ran_to_end())
        .count();
    let failures: Vec<&StreamRecord> = manifest.failures().collect();
    lines.push(format!(
        "Streams: {} ({done} ran to the end, {} did not)",
        manifest.streams.len(),
        failures.len()
    ));
    if !failures.is_empty() {
        lines.push(format!(
            "Failed/timed out: {}",
            capped(failures.iter().map(|s| {
                let reason = if s.result.status == StreamStatus::TimedOut {
                    "timed out".to_string()
                } else {
                    s.result.status.label().to_string()
                };
                format!(
                    "{} {}/{} ({reason})",
                    s.target_name, s.spec.preset, s.spec.step
                )
            }))
        ));
    }
    let findings = findings(manifest, dir);
    if !findings.is_empty() {
        lines.push("Notable:".into());
        lines.extend(findings.into_iter().map(|f| format!("- {f}")));
    }
    lines.join("\n")
}

/// "a, b, c (+4 more)".
fn capped(items: impl Iterator<Item = String>) -> String {
    let all: Vec<String> = items.collect();
    if all.is_empty() {
        return "none".into();
    }
    let mut text = all
        .iter()
        .take(MAX_LISTED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if all.len() > MAX_LISTED {
        text.push_str(&format!(" (+{} more)", all.len() - MAX_LISTED));
    }
    text
}

/// A few facts worth a responder's attention.
pub fn findings(manifest: &Manifest, dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(slowest) = manifest
        .streams
        .iter()
        .filter(|s| s.result.duration_ms.is_some())
        .max_by_key(|s| s.result.duration_ms)
    {
        let ms = slowest.result.duration_ms.unwrap_or(0);
        if ms >= 1000 {
            found.push(format!(
                "slowest step: {} {}/{} {:.1}s",
                slowest.target_name,
                slowest.spec.preset,
                slowest.spec.step,
                ms as f64 / 1000.0
            ));
        }
    }
    let mut longest_query: Option<(f64, String, String)> = None;
    for stream in &manifest.streams {
        let Some(text) = read_head(dir, &stream.result.stdout.path) else {
            continue;
        };
        if let Some((pid, cpu, command)) = top_cpu(&text) {
            found.push(format!(
                "top CPU on {}: pid {pid} at {cpu}% {}",
                stream.target_name,
                shorten(&command, 80)
            ));
        }
        if let Some((secs, query)) = longest_running_query(&text)
            && longest_query
                .as_ref()
                .is_none_or(|(best, _, _)| secs > *best)
        {
            longest_query = Some((secs, query, stream.target_name.clone()));
        }
    }
    if let Some((secs, query, target)) = longest_query {
        found.push(format!(
            "longest-running query on {target}: {secs:.0}s: {}",
            shorten(&query, MAX_QUERY_CHARS)
        ));
    }
    found
}

/// The start of a stream file, opened confined to the snapshot folder.
fn read_head(dir: &Path, rel: &str) -> Option<String> {
    let mut bytes = Vec::new();
    crate::snapshot::confined::open_stream_file(dir, rel, rel)
        .ok()?
        .take(FINDINGS_READ_LIMIT)
        .read_to_end(&mut bytes)
        .ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn shorten(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        format!("{}…", flat.chars().take(max).collect::<String>())
    }
}

/// The first process of `ps … --sort=-%cpu` output: (pid, %cpu, command).
fn top_cpu(text: &str) -> Option<(String, String, String)> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split_whitespace().collect();
    let pid = header.iter().position(|h| *h == "PID")?;
    let cpu = header.iter().position(|h| *h == "%CPU")?;
    let command = header
        .iter()
        .position(|h| matches!(*h, "COMMAND" | "ARGS" | "CMD"))?;
    if command + 1 != header.len() {
        return None;
    }
    let row = lines.next()?;
    let fields: Vec<&str> = row.split_whitespace().collect();
    if fields.len() <= command {
        return None;
    }
    Some((
        fields[pid].to_string(),
        fields[cpu].to_string(),
        fields[command..].join(" "),
    ))
}

/// The longest-running statement in a processlist-like table (`col | col` rows, as casefile's
/// database targets write them, or tab-separated): MySQL's `Time`/`Info` or `command_secs`/`query`,
/// PostgreSQL's `running_for`/`query`.
fn longest_running_query(text: &str) -> Option<(f64, String)> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header_line = lines.next()?;
    let separator = if header_line.contains('|') {
        '|'
    } else if header_line.contains('\t') {
        '\t'
    } else {
        return None;
    };
    let header: Vec<String> = header_line
        .split(separator)
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let time = header.iter().position(|h| {
        matches!(
            h.as_str(),
            "time" | "command_secs" | "running_for" | "duration"
        )
    })?;
    let query = header
        .iter()
        .position(|h| matches!(h.as_str(), "info" | "query"))?;
    let mut best: Option<(f64, String)> = None;
    for line in lines {
        if line.trim_start().starts_with('-') || line.starts_with('(') {
            continue;
        }
        let fields: Vec<&str> = line.split(separator).map(str::trim).collect();
        let (Some(t), Some(q)) = (fields.get(time), fields.get(query)) else {
            continue;
        };
        if q.is_empty()
            || q.eq_ignore_ascii_case("null")
            || q.to_ascii_lowercase().starts_with("show ")
        {
            continue;
        }
        let Some(secs) = parse_seconds(t) else {
            continue;
        };
        if best.as_ref().is_none_or(|(b, _)| secs > *b) {
            best = Some((secs, q.to_string()));
        }
    }
    best
}

/// Seconds from `42`, `42.5`, `01:02:03.5` or `2 days 01:02:03`.
fn parse_seconds(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(n) = text.parse::<f64>() {
        return Some(n);
    }
    let (days, clock) = match text.split_once(" day") {
        Some((d, rest)) => (
            d.trim().parse::<f64>().ok()?,
            rest.trim_start_matches('s').trim(),
        ),
        None => (0.0, text),
    };
    let mut secs = 0.0;
    for part in clock.split(':') {
        secs = secs * 60.0 + part.trim().parse::<f64>().ok()?;
    }
    Some(days * 86_400.0 + secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_top_cpu_and_longest_query() {
        let ps = "    PID    PPID USER     %CPU %MEM   RSS    VSZ NLWP     ELAPSED STAT COMMAND\n 4242 1 mysql 187.5 12.0 1 1 20 01:00 Sl /usr/sbin/mysqld --basedir=/usr\n 1 0 root 0.1 0 1 1 1 9 Ss init\n";
        assert_eq!(
            top_cpu(ps),
            Some((
                "4242".into(),
                "187.5".into(),
                "/usr/sbin/mysqld --basedir=/usr".into()
            ))
        );
        let mysql = " Id | User | Host | db | Command | Time | State | Info\n----+------\n 7 | app | h | x | Query | 3 | s | SELECT 1\n 9 | app | h | x | Query | 345 | s | UPDATE orders SET x = 1\n 10 | app | h | x | Sleep | 999 | | NULL\n(3 rows)\n";
        assert_eq!(
            longest_running_query(mysql),
            Some((345.0, "UPDATE orders SET x = 1".into()))
        );
        let pg = " pid | state | running_for | query\n-----\n 5 | active | 00:10:02.5 | select pg_sleep(900)\n 6 | active | 1 day 00:00:01 | vacuum full big\n";
        assert_eq!(
            longest_running_query(pg),
            Some((86_401.0, "vacuum full big".into()))
        );
    }
}
