//! `casefile show SNAPSHOT --group` (each step's identical outputs folded, like `clush -b`)
//! and `casefile diff OLD NEW` (a capture against an earlier one). The folding and comparing
//! are in [`crate::fleet`]; this file only prints, every line through the sanitiser.
use super::{UnpackArgs, usage_error};
use crate::exit::{EXIT_DIFFERENT, EXIT_USAGE};
use crate::fleet::diff::{DiffOptions, StreamRef, diff_outputs};
use crate::fleet::read::{Output, read_capped};
use crate::fleet::{
    Baseline, Change, FoldMode, Folder, Group, OutlierRule, StepGroups, compress_to_string,
};
use crate::output::{Paint, out_painted};
use crate::snapshot::{OpenedSnapshot, Snapshot, StreamRecord, StreamStatus};
use clap::{Args, ValueEnum};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Most bytes of a group's representative output `show --group` prints.
const SHOWN_BYTES: u64 = 4 << 20;

fn mode(shape: bool) -> FoldMode {
    if shape {
        FoldMode::Shape
    } else {
        FoldMode::Exact
    }
}

fn mode_name(mode: FoldMode) -> &'static str {
    match mode {
        FoldMode::Exact => "exact",
        FoldMode::Shape => "shape",
    }
}

/// Opens a snapshot folder, manifest or archive, or says why not (exit 2).
fn open(path: &Path) -> Result<OpenedSnapshot, ExitCode> {
    crate::snapshot::open_folder_or_archive(path).map_err(usage_error)
}

/// How a stream ended, when that is not a plain exit 0: `exit 3`, `timed out`, `failed: …`.
fn outcome(stream: &StreamRecord) -> Option<String> {
    let result = &stream.result;
    let mut text = match (result.status, result.exit_code, result.signal) {
        (StreamStatus::Exited, Some(0), _) => return None,
        (StreamStatus::Exited, Some(code), _) => format!("exit {code}"),
        (StreamStatus::Exited, None, Some(signal)) => format!("killed by signal {signal}"),
        (status, _, _) => status.label().to_string(),
    };
    if let Some(reason) = &result.reason {
        text.push_str(": ");
        text.push_str(&crate::sanitize::line(reason));
    }
    if result.truncated {
        text.push_str(" (truncated)");
    }
    Some(text)
}

/// `casefile show SNAPSHOT --group [--shape] [--json] [--outlier-size N]`.
pub fn show_groups(path: &Path, json: bool, shape: bool, outlier_size: usize) -> ExitCode {
    let opened = match open(path) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let snapshot = &opened.snapshot;
    let mode = mode(shape);
    let folder = match Folder::fold_snapshot(mode, &snapshot.dir, &snapshot.manifest) {
        Ok(folder) => folder,
        Err(e) => return usage_error(e),
    };
    let rule = OutlierRule {
        max_streams: outlier_size,
        ..OutlierRule::default()
    };
    if json {
        let value = groups_json(snapshot, &folder, mode, rule);
        outln!("{}", crate::sanitize::json(&value.to_string()));
        return ExitCode::SUCCESS;
    }
    let shown = if opened.unpacked.is_some() {
        path
    } else {
        snapshot.dir.as_path()
    };
    outln!("snapshot   {}", shown.display());
    outln!(
        "folding    {} (streams alike when their outcome and output are)",
        mode_name(mode)
    );
    let mut failed = false;
    for step in folder.steps() {
        outln!();
        let groups = step.groups().count();
        outln!(
            "=== {}/{}: {} stream{}, {} group{} ===",
            crate::sanitize::line(&step.preset),
            crate::sanitize::line(&step.step),
            step.total(),
            plural(step.total()),
            groups,
            plural(groups)
        );
        for group in step.groups() {
            if let Err(e) = print_group(snapshot, step, group, rule) {
                errln!("casefile: {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(EXIT_USAGE)
    } else {
        ExitCode::SUCCESS
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One group as `clush -b` prints it: a rule, the targets compressed with their count, a rule,
/// then the representative output once.
fn print_group(
    snapshot: &Snapshot,
    step: &StepGroups,
    group: &Group,
    rule: OutlierRule,
) -> Result<(), crate::fleet::read::ReadError> {
    let Some(index) = group.representative() else {
        return Ok(());
    };
    let stream = &snapshot.manifest.streams[index];
    let mut title = format!(
        "{} ({})",
        crate::sanitize::line(&compress_to_string(&group.targets)),
        group.len()
    );
    if step.is_outlier(group.id, rule) {
        title.push_str("  OUTLIER");
    }
    if let Some(outcome) = outcome(stream) {
        title.push_str("  ");
        title.push_str(&outcome);
    }
    outln!("---------------");
    outln!("{title}");
    outln!("---------------");
    for output in [Output::Stdout, Output::Stderr] {
        let (bytes, more) = read_capped(&snapshot.dir, index, stream, output, SHOWN_BYTES)?;
        if bytes.is_empty() {
            continue;
        }
        if output == Output::Stderr {
            outln!("[stderr]");
        }
        let text = crate::sanitize::bytes(&bytes);
        for line in text.strip_suffix('\n').unwrap_or(&text).split('\n') {
            outln!("{line}");
        }
        if more {
            outln!(
                "[… {} bytes in all: see {}]",
                output.record(stream).bytes,
                crate::sanitize::line(&output.record(stream).path)
            );
        }
    }
    Ok(())
}

/// `{"snapshot":…,"mode":…,"steps":[{"preset","step","streams","groups":[{"targets",
/// "folded","streams","bytes","sha256","outlier",…}]}]}`, largest group first.
fn groups_json(
    snapshot: &Snapshot,
    folder: &Folder,
    mode: FoldMode,
    rule: OutlierRule,
) -> serde_json::Value {
    let streams = &snapshot.manifest.streams;
    let steps: Vec<serde_json::Value> = folder
        .steps()
        .iter()
        .map(|step| {
            let groups: Vec<serde_json::Value> = step
                .groups()
                .map(|group| {
                    let first = group.representative().map(|i| &streams[i].result);
                    serde_json::json!({
                        "targets": group.targets,
                        "folded": compress_to_string(&group.targets),
                        "streams": group.streams.iter().map(|&i| &streams[i].spec.id).collect::<Vec<_>>(),
                        "bytes": group.bytes,
                        "sha256": group.sha256,
                        "outlier": step.is_outlier(group.id, rule),
                        "status": first.map(|r| r.status),
                        "exit_code": first.and_then(|r| r.exit_code),
                    })
                })
                .collect();
            serde_json::json!({
                "preset": step.preset,
                "step": step.step,
                "streams": step.total(),
                "groups": groups,
            })
        })
        .collect();
    serde_json::json!({
        "snapshot": snapshot.dir.display().to_string(),
        "id": snapshot.manifest.id,
        "mode": mode_name(mode),
        "steps": steps,
    })
}

/// When `casefile diff` colours its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier capture (folder, manifest.json or archive), e.g. a healthy day's run
    pub old: PathBuf,
    /// The capture to compare with it
    pub new: PathBuf,
    /// Print the comparison as JSON
    #[arg(long)]
    pub json: bool,
    /// Compare outputs with numbers, hex ids, UUIDs, addresses and times masked
    #[arg(long)]
    pub shape: bool,
    /// Unchanged lines shown around each change
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub context: usize,
    /// Colour the diff
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    #[command(flatten)]
    pub unpack: UnpackArgs,
}

/// `casefile diff OLD NEW`: exit 0 when every stream is unchanged, 1 when something changed,
/// appeared or went missing (as diff(1)), 2 when a capture cannot be read.
pub fn diff(args: DiffArgs) -> ExitCode {
    args.unpack.apply();
    let (old, new) = match (open(&args.old), open(&args.new)) {
        (Ok(old), Ok(new)) => (old, new),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let (old, new) = (&old.snapshot, &new.snapshot);
    let mode = mode(args.shape);
    let baseline = match Baseline::compare(old, new, mode) {
        Ok(baseline) => baseline,
        Err(e) => return usage_error(e),
    };
    let options = DiffOptions {
        context: args.context,
        ..DiffOptions::default()
    };
    let result = if args.json {
        print_json(old, new, &baseline, mode, &options)
    } else {
        let color = match args.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        print_text(old, new, &baseline, &options, color)
    };
    match result {
        Err(e) => usage_error(e),
        Ok(()) if baseline.is_same() => ExitCode::SUCCESS,
        Ok(()) => ExitCode::from(EXIT_DIFFERENT),
    }
}

/// The stream of a change on each side.
fn sides<'a>(
    old: &'a Snapshot,
    new: &'a Snapshot,
    change: &crate::fleet::StreamChange,
) -> Option<(StreamRef<'a>, StreamRef<'a>)> {
    let (o, n) = (change.old?, change.new?);
    Some((
        StreamRef {
            dir: &old.dir,
            index: o,
            record: &old.manifest.streams[o],
        },
        StreamRef {
            dir: &new.dir,
            index: n,
            record: &new.manifest.streams[n],
        },
    ))
}

/// The outputs that differ for a changed stream, with their diffs.
fn output_diffs(
    old: &Snapshot,
    new: &Snapshot,
    change: &crate::fleet::StreamChange,
    options: &DiffOptions,
) -> Result<Vec<(Output, crate::fleet::StreamDiff)>, crate::fleet::read::ReadError> {
    let Some((a, b)) = sides(old, new, change) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for output in [Output::Stdout, Output::Stderr] {
        if change.differs.contains(&output.label()) {
            out.push((output, diff_outputs(a, b, output, options)?));
        }
    }
    Ok(out)
}

fn print_text(
    old: &Snapshot,
    new: &Snapshot,
    baseline: &Baseline,
    options: &DiffOptions,
    color: bool,
) -> Result<(), crate::fleet::read::ReadError> {
    let paint = |paint: Paint, text: &str| {
        if color {
            out_painted(paint, format_args!("{text}"));
        } else {
            outln!("{text}");
        }
    };
    use crate::sanitize::line;
    outln!("old  {} ({})", old.dir.display(), line(&old.manifest.id));
    outln!("new  {} ({})", new.dir.display(), line(&new.manifest.id));
    if !baseline.is_same() {
        outln!();
    }
    for change in baseline
        .streams
        .iter()
        .filter(|c| c.change != Change::Unchanged)
    {
        let what = if change.differs.is_empty() {
            String::new()
        } else {
            format!("  ({})", change.differs.join(", "))
        };
        outln!(
            "{:<9}  {}  {}/{}{what}",
            change.change.label(),
            line(&change.target),
            line(&change.preset),
            line(&change.step)
        );
    }
    for change in baseline
        .streams
        .iter()
        .filter(|c| c.change == Change::Changed)
    {
        let Some((a, b)) = sides(old, new, change) else {
            continue;
        };
        if change
            .differs
            .iter()
            .any(|d| !matches!(*d, "stdout" | "stderr"))
        {
            let said = |s: &StreamRecord| outcome(s).unwrap_or_else(|| "exit 0".into());
            outln!();
            paint(
                Paint::Bold,
                &format!(
                    "=== {} {}/{} outcome: {} → {} ===",
                    line(&change.target),
                    line(&change.preset),
                    line(&change.step),
                    said(a.record),
                    said(b.record)
                ),
            );
        }
        for (output, diff) in output_diffs(old, new, change, options)? {
            outln!();
            paint(
                Paint::Bold,
                &format!(
                    "=== {} {}/{} {} ===",
                    line(&change.target),
                    line(&change.preset),
                    line(&change.step),
                    output.label()
                ),
            );
            let labels = (
                format!("{}/{}", old.dir.display(), output.record(a.record).path),
                format!("{}/{}", new.dir.display(), output.record(b.record).path),
            );
            for text in diff.unified(&labels.0, &labels.1) {
                let paint_as = match text.as_bytes().first() {
                    _ if text.starts_with("---") || text.starts_with("+++") => Paint::Bold,
                    Some(b'@') => Paint::Cyan,
                    Some(b'-') => Paint::Red,
                    Some(b'+') => Paint::Green,
                    _ => {
                        outln!("{}", line(&text));
                        continue;
                    }
                };
                paint(paint_as, &line(&text));
            }
            if diff.truncated {
                outln!(
                    "[only the first {} bytes of each side were compared]",
                    options.max_bytes
                );
            }
        }
    }
    outln!();
    outln!(
        "{} changed, {} unchanged, {} new, {} missing",
        baseline.count(Change::Changed),
        baseline.count(Change::Unchanged),
        baseline.count(Change::New),
        baseline.count(Change::Missing)
    );
    Ok(())
}

fn print_json(
    old: &Snapshot,
    new: &Snapshot,
    baseline: &Baseline,
    mode: FoldMode,
    options: &DiffOptions,
) -> Result<(), crate::fleet::read::ReadError> {
    let mut streams = Vec::new();
    for change in &baseline.streams {
        let mut diffs = serde_json::Map::new();
        for (output, diff) in output_diffs(old, new, change, options)? {
            let (a, b) =
                sides(old, new, change).map_or((String::new(), String::new()), |(a, b)| {
                    (
                        output.record(a.record).path.clone(),
                        output.record(b.record).path.clone(),
                    )
                });
            diffs.insert(
                output.label().to_string(),
                serde_json::json!({
                    "added": diff.added,
                    "removed": diff.removed,
                    "truncated": diff.truncated,
                    "unified": diff.unified(&format!("old/{a}"), &format!("new/{b}")),
                }),
            );
        }
        streams.push(serde_json::json!({
            "target": change.target,
            "preset": change.preset,
            "step": change.step,
            "change": change.change,
            "differs": change.differs,
            "old_stream": change.old.map(|i| &old.manifest.streams[i].spec.id),
            "new_stream": change.new.map(|i| &new.manifest.streams[i].spec.id),
            "diff": diffs,
        }));
    }
    let value = serde_json::json!({
        "old": {"snapshot": old.dir.display().to_string(), "id": old.manifest.id},
        "new": {"snapshot": new.dir.display().to_string(), "id": new.manifest.id},
        "mode": mode_name(mode),
        "summary": {
            "changed": baseline.count(Change::Changed),
            "unchanged": baseline.count(Change::Unchanged),
            "new": baseline.count(Change::New),
            "missing": baseline.count(Change::Missing),
        },
        "streams": streams,
    });
    outln!("{}", crate::sanitize::json(&value.to_string()));
    Ok(())
}
