//! The headless command line: `capture`, `presets`, `targets`, `show`, `diff`.
//! Exit codes: 0 every stream ran to its end; 1 some stream failed, timed out or was cancelled
//! (the snapshot is still written); 2 usage or configuration error (nothing ran).
use crate::capture::{CaptureControl, Engine, Limits, LiveView, StreamEvent};
use crate::config::Config;
use crate::model::{ByteSize, CapturePlan, HumanDuration, Incident, size::human_bytes};
use crate::planner::{PlanRequest, build_plan};
use crate::preset::{PresetLibrary, PresetOrigin, load_file};
use crate::snapshot::{Manifest, StreamStatus, VerifyResult};
use clap::{Args, Parser, Subcommand};
use std::{collections::BTreeMap, path::PathBuf, process::ExitCode, sync::Arc};

use crate::exit::{EXIT_INCOMPLETE, EXIT_USAGE};

pub mod completions; // `casefile completions SHELL` and `casefile man`, from the clap definition
pub mod doctor; // `casefile doctor`: check the setup before an incident
pub mod export; // `casefile export`: its flags, then export::setup and export::export
pub mod fleet; // `casefile show --group` and `casefile diff`: folded steps, a capture against a baseline
mod runbook_capture;
mod runbooks;
mod watch;

#[derive(Debug, Parser)]
#[command(
    name = "casefile",
    version,
    about = "Capture the debug state of hosts and databases during an incident"
)]
pub struct Cli {
    /// Configuration file (default: $CASEFILE_CONFIG, then ~/.config/casefile/casefile.toml)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// TUI theme: dark, light, high-contrast, or a theme file (default: config `theme`, then dark)
    #[arg(long, global = true, value_name = "NAME|FILE")]
    pub theme: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run presets and ad-hoc steps on targets now, into a new snapshot
    Capture(CaptureArgs),
    /// List, show and check presets
    #[command(subcommand)]
    Presets(PresetsCommand),
    /// List targets from the inventory
    #[command(subcommand)]
    Targets(TargetsCommand),
    /// Summarise a snapshot and verify its files against their SHA-256
    Show {
        /// Snapshot folder, its manifest.json, or an archive from `casefile export` (ID.tar.gz)
        snapshot: PathBuf,
        /// Print the manifest as JSON instead (with --group: the groups)
        #[arg(long)]
        json: bool,
        /// Fold each step's identical outputs, like `clush -b`: targets compressed, output once
        #[arg(long)]
        group: bool,
        /// With --group: mask numbers, hex ids, UUIDs, addresses and times before comparing
        #[arg(long, requires = "group")]
        shape: bool,
        /// With --group: groups of at most N streams, smaller than the step's largest, are outliers
        #[arg(long, value_name = "N", default_value_t = 1, requires = "group")]
        outlier_size: usize,
        #[command(flatten)]
        unpack: UnpackArgs,
    },
    /// Compare a capture with an earlier one: per target and step, changed, unchanged, new or missing
    Diff(fleet::DiffArgs),
    /// Replay a snapshot in the TUI with its original timing
    Replay {
        /// Snapshot folder, its manifest.json, or an archive from `casefile export` (ID.tar.gz)
        path: PathBuf,
        #[command(flatten)]
        unpack: UnpackArgs,
    },
    /// Edit a preset in the TUI (a new one from a template if NAME does not exist)
    EditPreset { name: String },
    /// Export a snapshot: archive to S3 or a folder, a note on the PagerDuty incident, asciinema casts
    Export(export::ExportArgs),
    /// Print a shell completion script (bash, zsh, fish); see the README for where to put it
    Completions { shell: completions::Shell },
    /// Print the man page (roff); `casefile man > casefile.1`
    Man,
    /// List and check the runbooks of casefile.toml (incident → targets, presets, export)
    #[command(subcommand)]
    Runbooks(runbooks::RunbooksCommand),
    /// Capture when PagerDuty's webhooks (or polling) report an incident, by its runbook
    Watch(watch::WatchArgs),
    /// Check the setup before an incident: config, secrets, SSH, databases, S3, PagerDuty, capture dir
    Doctor(doctor::DoctorArgs),
}

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// Target: inventory name, tag:TAG, local, or ssh://… mysql://… postgres://… sqlite:PATH (repeatable; default local)
    #[arg(short, long = "target", value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Preset to run (repeatable); see `casefile presets list`
    #[arg(short, long = "preset", value_name = "NAME")]
    pub presets: Vec<String>,
    /// Preset parameter (repeatable)
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Ad-hoc shell command for shell targets (repeatable)
    #[arg(long = "run", value_name = "CMD")]
    pub runs: Vec<String>,
    /// Ad-hoc SQL for database targets (repeatable)
    #[arg(long = "query", value_name = "SQL")]
    pub queries: Vec<String>,
    /// Incident id to record in the snapshot
    #[arg(long, value_name = "ID")]
    pub incident: Option<crate::model::IncidentId>,
    /// Folder to put the snapshot folder in (default: ~/.local/share/casefile/captures)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Per-step timeout; overrides presets' own (e.g. 10s, 2m)
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<HumanDuration>,
    /// Streams running at once in total (default: as many as open files allow)
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub concurrency: Option<usize>,
    /// Streams at once on one SSH host: channels on its one connection (default 8)
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub per_host: Option<usize>,
    /// SSH handshakes in flight at once, across all hosts (default 32)
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub handshakes: Option<usize>,
    /// Output cap per ad-hoc stream (e.g. 100MiB; default unlimited)
    #[arg(long, value_name = "SIZE")]
    pub max_bytes: Option<ByteSize>,
    /// Run steps marked intrusive (gdb, heap dumps, tcpdump); otherwise they are skipped
    #[arg(long)]
    pub allow_intrusive: bool,
    /// Print a machine-readable summary on stdout
    #[arg(long)]
    pub json: bool,
    /// SSH: record the host key of hosts not yet in known_hosts (a changed key is always refused)
    #[arg(long)]
    pub accept_new: bool,
    /// Run this runbook (instead of targets and presets); with --incident and no targets or
    /// presets, the incident's runbook is found from PagerDuty
    #[arg(long, value_name = "NAME")]
    pub runbook: Option<String>,
}

/// Limits on unpacking an archive (a hostile one could fill the disk).
#[derive(Debug, Args)]
pub struct UnpackArgs {
    /// Most bytes an archive may unpack to (default 4GiB)
    #[arg(long, value_name = "SIZE")]
    pub max_unpack: Option<ByteSize>,
    /// Most entries an archive may hold (default 100000)
    #[arg(long, value_name = "N")]
    pub max_unpack_entries: Option<u64>,
}

impl UnpackArgs {
    /// Makes these the limits of every unpack in this process.
    fn apply(&self) {
        let default = crate::snapshot::archive::UnpackLimits::DEFAULT;
        crate::snapshot::archive::UnpackLimits::set_current(
            crate::snapshot::archive::UnpackLimits {
                max_bytes: self.max_unpack.map_or(default.max_bytes, |s| s.0),
                max_entries: self.max_unpack_entries.unwrap_or(default.max_entries),
            },
        );
    }
}

#[derive(Debug, Subcommand)]
pub enum PresetsCommand {
    /// Every preset with its target kind and origin
    List,
    /// One preset's parameters and steps
    Show { name: String },
    /// Validate preset files; errors name file:line:col
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TargetsCommand {
    /// Every target with its kind, address, tags and where it is defined
    List,
}

fn parse_param(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))
}

/// `config` with the capture's limits from the command line (which win over the file's).
fn with_limits(config: &Config, args: &CaptureArgs) -> Config {
    let mut config = config.clone();
    config.concurrency = args.concurrency.or(config.concurrency);
    config.per_host = args.per_host.or(config.per_host);
    config.handshakes = args.handshakes.or(config.handshakes);
    config
}

/// A count that must be at least 1 (`--concurrency 0` would run nothing and wait for ever).
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("`{text}` is not a whole number of at least 1")),
    }
}

fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    errln!("casefile: {message}");
    ExitCode::from(EXIT_USAGE)
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> ExitCode {
    // Generated from the clap definition alone: no config needed.
    match cli.command {
        Some(Command::Completions { shell }) => return completions::run_completions(shell),
        Some(Command::Man) => return completions::run_man(),
        // Reads the config itself: a config that does not parse is one of its checks.
        Some(Command::Doctor(args)) => return doctor::run(cli.config.as_deref(), &args).await,
        _ => {}
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => return usage_error(e),
    };
    // A `via` may name a Host of ~/.ssh/config, so it is checked once that is read.
    if matches!(
        cli.command,
        None | Some(Command::Capture(_)) | Some(Command::Targets(_)) | Some(Command::Watch(_))
    ) && let Err(e) = {
        let ssh_config = crate::ssh::SshConfig::load_default();
        config.check_via(|name| ssh_config.knows_host(name))
    } {
        return usage_error(e);
    }
    match cli.command {
        None => crate::tui::run(config, cli.theme, crate::tui::app::Start::Home).await,
        Some(Command::Replay { path, unpack }) => {
            unpack.apply();
            crate::tui::run(config, cli.theme, crate::tui::app::Start::Replay(path)).await
        }
        Some(Command::EditPreset { name }) => {
            crate::tui::run(config, cli.theme, crate::tui::app::Start::EditPreset(name)).await
        }
        Some(Command::Capture(args)) => capture(&config, args).await,
        Some(Command::Presets(cmd)) => presets(&config, cmd),
        Some(Command::Targets(TargetsCommand::List)) => {
            let ssh_config = crate::ssh::SshConfig::load_default();
            for warning in &ssh_config.warnings {
                errln!("casefile: warning: {warning}");
            }
            let targets = crate::session::available_targets(&config, &ssh_config);
            outln!(
                "{:<20} {:<9} {:<44} {:<16} SOURCE",
                "NAME",
                "KIND",
                "ADDRESS",
                "TAGS"
            );
            for t in targets {
                outln!(
                    "{:<20} {:<9} {:<44} {:<16} {}",
                    t.name,
                    t.kind(),
                    address(&t.spec),
                    t.tags.join(","),
                    t.source
                );
            }
            ExitCode::SUCCESS
        }
        Some(Command::Show {
            snapshot,
            json,
            group,
            shape,
            outlier_size,
            unpack,
        }) => {
            unpack.apply();
            if group {
                fleet::show_groups(&snapshot, json, shape, outlier_size)
            } else {
                show(&snapshot, json)
            }
        }
        Some(Command::Diff(args)) => fleet::diff(args),
        Some(Command::Export(args)) => export::run(&config, args).await,
        Some(Command::Completions { .. } | Command::Man) => ExitCode::SUCCESS, // handled above
        Some(Command::Runbooks(cmd)) => runbooks::run(&config, cmd),
        Some(Command::Watch(args)) => watch::run(config, args).await,
        Some(Command::Doctor(_)) => ExitCode::SUCCESS, // handled above
    }
}

/// A target's URL, plus `via HOST` for a database reached through an SSH host.
fn address(spec: &crate::model::TargetSpec) -> String {
    match spec {
        crate::model::TargetSpec::Mysql(a) | crate::model::TargetSpec::Postgres(a) => {
            match &a.via {
                Some(via) => format!("{} via {via}", spec.to_url()),
                None => spec.to_url(),
            }
        }
        _ => spec.to_url(),
    }
}

fn load_library(config: &Config) -> PresetLibrary {
    let library = PresetLibrary::load(config.preset_dir.as_deref());
    for problem in &library.problems {
        errln!("casefile: warning: preset file skipped: {problem}");
    }
    library
}

fn presets(config: &Config, command: PresetsCommand) -> ExitCode {
    match command {
        PresetsCommand::List => {
            let library = load_library(config);
            outln!(
                "{:<16} {:<9} {:>5}  {:<10} DESCRIPTION",
                "NAME",
                "TARGET",
                "STEPS",
                "ORIGIN"
            );
            for p in library.presets.values() {
                let origin = if p.origin == PresetOrigin::Builtin {
                    "built-in".to_string()
                } else {
                    "user".to_string()
                };
                outln!(
                    "{:<16} {:<9} {:>5}  {:<10} {}",
                    p.name,
                    p.target,
                    p.steps.len(),
                    origin,
                    p.description
                );
            }
            ExitCode::SUCCESS
        }
        PresetsCommand::Show { name } => {
            let library = load_library(config);
            let preset = match library.get(&name) {
                Ok(p) => p,
                Err(e) => return usage_error(e),
            };
            outln!(
                "{} ({} targets, {})\n  {}",
                preset.name,
                preset.target,
                preset.origin,
                preset.description
            );
            if !preset.params.is_empty() {
                outln!("parameters:");
                for (name, def) in &preset.params {
                    let default = def
                        .default
                        .as_deref()
                        .map(|d| format!(" (default {d:?})"))
                        .unwrap_or_else(|| " (required)".into());
                    outln!(
                        "  {name}: {}{default}  {}",
                        def.kind.describe(),
                        def.description.as_deref().unwrap_or("")
                    );
                }
            }
            outln!("steps:");
            for step in &preset.steps {
                let mut flags = vec![format!(
                    "timeout {}",
                    humantime::format_duration(step.timeout)
                )];
                if step.sudo {
                    flags.push("sudo".into());
                }
                if step.intrusive {
                    flags.push("INTRUSIVE".into());
                }
                if !step.requires.is_empty() {
                    flags.push(format!("needs {}", step.requires.join(",")));
                }
                outln!("  {} [{}]", step.name, flags.join(", "));
                for line in step.action.text().lines() {
                    outln!("      {line}");
                }
            }
            ExitCode::SUCCESS
        }
        PresetsCommand::Check { files } => {
            let mut failed = false;
            for file in files {
                match load_file(&file, PresetOrigin::File(file.clone())) {
                    Ok(p) => outln!(
                        "{}: ok ({} preset `{}`, {} steps)",
                        file.display(),
                        p.target,
                        p.name,
                        p.steps.len()
                    ),
                    Err(e) => {
                        failed = true;
                        errln!("{e}");
                    }
                }
            }
            if failed {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

async fn capture(config: &Config, args: CaptureArgs) -> ExitCode {
    let config = &with_limits(config, &args);
    if runbook_capture::applies(config, &args) {
        return runbook_capture::run(config, args).await;
    }
    // Parsing every preset is a noticeable part of a one-query capture; only presets need it.
    let library = if args.presets.is_empty() {
        PresetLibrary::default()
    } else {
        load_library(config)
    };
    let ssh_config = crate::ssh::SshConfig::load_default();
    let targets = match crate::session::select_targets(config, &ssh_config, &args.targets) {
        Ok(targets) => targets,
        Err(e) => return usage_error(e),
    };
    let request = PlanRequest {
        incident: args.incident.map(Incident::with_id),
        targets,
        presets: args.presets,
        params: args.params.into_iter().collect::<BTreeMap<_, _>>(),
        runs: args.runs,
        queries: args.queries,
        timeout: args.timeout.map(|t| t.0).unwrap_or(config.timeout),
        override_timeouts: args.timeout.is_some(),
        max_bytes: args.max_bytes.map(|b| b.0).or(config.max_bytes),
        allow_intrusive: args.allow_intrusive,
    };
    let plan = match build_plan(&request, &library) {
        Ok(plan) => plan,
        Err(e) => return usage_error(e),
    };
    let options = crate::session::CaptureOptions {
        out_dir: args.out.unwrap_or_else(|| config.capture_dir.clone()),
        accept_new: args.accept_new,
    };
    let prepared = crate::session::prepare(config, plan, ssh_config, &options);
    let warnings = match &prepared {
        Ok(p) => &p.warnings,
        Err(failed) => &failed.warnings,
    };
    for warning in warnings {
        errln!("casefile: warning: {warning}");
    }
    let crate::session::PreparedCapture {
        plan,
        runners,
        writer,
        ..
    } = match prepared {
        Ok(p) => p,
        Err(failed) => return usage_error(failed.error),
    };
    errln!(
        "casefile: capturing {} streams into {}",
        plan.streams.len(),
        writer.dir().display()
    );
    for (index, spec) in plan.streams.iter().enumerate() {
        if let Some(reason) = &spec.skip_reason {
            errln!("{}  skipped: {reason}", progress_label(&plan, index));
        }
    }
    // Nothing headless shows the panes: a small view (its budget bounds it as well).
    let live = Arc::new(LiveView::new(plan.streams.len(), 16, 4 << 10));
    let control = CaptureControl::new(plan.streams.len());
    let (events_tx, mut events_rx) = tokio::sync::mpsc::channel(256);
    let engine = Engine {
        limits: Limits::new(config.concurrency, config.per_host),
    };
    let printer_plan = plan.clone();
    let printer = tokio::spawn(async move {
        while let Some(event) = events_rx.recv().await {
            match event {
                StreamEvent::Started { stream } => {
                    errln!("{}  running", progress_label(&printer_plan, stream))
                }
                StreamEvent::Ended { stream, result } => {
                    let detail = match result.status {
                        StreamStatus::Exited => match (result.exit_code, result.signal) {
                            (Some(code), _) => format!("done, exit {code}"),
                            (None, Some(sig)) => format!("done, killed by signal {sig}"),
                            _ => "done".into(),
                        },
                        other => format!(
                            "{}{}",
                            other.label(),
                            result
                                .reason
                                .as_deref()
                                .map(|r| format!(": {}", crate::sanitize::line(r)))
                                .unwrap_or_default()
                        ),
                    };
                    let size = human_bytes(result.stdout.bytes + result.stderr.bytes);
                    let seconds = result
                        .duration_ms
                        .map(|ms| format!(", {:.2}s", ms as f64 / 1000.0))
                        .unwrap_or_default();
                    let truncated = if result.truncated { ", TRUNCATED" } else { "" };
                    errln!(
                        "{}  {detail} ({size}{seconds}{truncated})",
                        progress_label(&printer_plan, stream)
                    );
                }
            }
        }
    });
    let ctrl_c_control = control.clone();
    let interrupt = wait_for_interrupt();
    let ctrl_c = tokio::spawn(async move {
        interrupt.await;
        errln!("casefile: interrupted: stopping every stream and finishing the snapshot");
        ctrl_c_control.cancel_all();
    });
    let result = engine
        .run_with_runners(
            &plan,
            runners,
            Arc::clone(&writer),
            live,
            &control,
            Some(events_tx),
        )
        .await;
    ctrl_c.abort();
    let _ = printer.await;
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            errln!("casefile: finishing the snapshot failed: {e}");
            return ExitCode::from(EXIT_INCOMPLETE);
        }
    };
    let incomplete = manifest.failures().count();
    if args.json {
        outln!(
            "{}",
            crate::sanitize::json(&summary_json(writer.dir(), &manifest).to_string())
        );
    } else {
        outln!("{}", writer.dir().display());
    }
    if incomplete > 0 {
        errln!(
            "casefile: {incomplete} of {} streams did not run to the end; the snapshot keeps what they produced",
            manifest.streams.len()
        );
        ExitCode::from(EXIT_INCOMPLETE)
    } else {
        ExitCode::SUCCESS
    }
}

/// Ctrl-C, SIGTERM (automation stopping us) or SIGHUP (the terminal or SSH session went away):
/// each stops the streams and finishes the snapshot, so no step is left running on its own.
/// The handlers are installed before this returns.
fn wait_for_interrupt() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    let hangup = signal(SignalKind::hangup());
    async move {
        match (interrupt, terminate, hangup) {
            (Ok(mut int), Ok(mut term), Ok(mut hup)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                    _ = hup.recv() => {}
                }
            }
            _ => std::future::pending().await,
        }
    }
}

fn progress_label(plan: &CapturePlan, stream: usize) -> String {
    let spec = &plan.streams[stream];
    let width = plan.streams.len().to_string().len();
    format!(
        "[{:>width$}/{}] {} {}/{}",
        stream + 1,
        plan.streams.len(),
        plan.target_of(spec).name,
        spec.preset,
        spec.step
    )
}

/// The `--json` summary: where the snapshot is and how each stream ended.
pub fn summary_json(dir: &std::path::Path, manifest: &Manifest) -> serde_json::Value {
    serde_json::json!({
        "snapshot": dir.display().to_string(),
        "id": manifest.id,
        "state": manifest.state,
        "incident": manifest.incident.as_ref().map(|i| i.id.clone()),
        "streams": manifest.streams.iter().map(|s| serde_json::json!({
            "id": s.spec.id,
            "target": s.target_name,
            "preset": s.spec.preset,
            "step": s.spec.step,
            "status": s.result.status,
            "exit_code": s.result.exit_code,
            "signal": s.result.signal,
            "timed_out": s.result.timed_out,
            "truncated": s.result.truncated,
            "stdout_bytes": s.result.stdout.bytes,
            "stderr_bytes": s.result.stderr.bytes,
            "duration_ms": s.result.duration_ms,
            "reason": s.result.reason,
        })).collect::<Vec<_>>(),
    })
}

fn show(path: &std::path::Path, json: bool) -> ExitCode {
    // An archive is unpacked to a temporary folder for as long as `opened` lives.
    let opened = match crate::snapshot::open_folder_or_archive(path) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let snapshot = &opened.snapshot;
    let m = &snapshot.manifest;
    if json {
        match serde_json::to_string_pretty(m) {
            Ok(text) => outln!("{}", crate::sanitize::json(&text)),
            Err(e) => return usage_error(e),
        }
        return ExitCode::SUCCESS;
    }
    let shown = if opened.unpacked.is_some() {
        path
    } else {
        snapshot.dir.as_path()
    };
    outln!("snapshot   {}", shown.display());
    outln!(
        "incident   {}",
        m.incident
            .as_ref()
            .map(|i| i.id.as_str())
            .unwrap_or("none (ad hoc)")
    );
    // Manifest fields are one line each, whatever the file holds (see sanitize::line).
    use crate::sanitize::line;
    outln!("operator   {}", line(&m.operator));
    outln!("started    {}", line(&m.started_at));
    outln!("ended      {}", line(m.ended_at.as_deref().unwrap_or("-")));
    let state = format!("{:?}", m.state).to_lowercase();
    outln!(
        "state      {state}{}",
        if snapshot.recovered {
            " (rebuilt from the journal: casefile stopped before finishing)"
        } else {
            ""
        }
    );
    outln!(
        "targets    {}",
        m.targets
            .iter()
            .map(|t| format!("{} ({})", line(&t.name), line(&t.spec.to_url())))
            .collect::<Vec<_>>()
            .join(", ")
    );
    outln!();
    outln!(
        "{:<44} {:<16} {:>7} {:>10} {:>10} {:>9}  FLAGS",
        "STREAM",
        "STATUS",
        "EXIT",
        "STDOUT",
        "STDERR",
        "SECONDS"
    );
    let verify = snapshot.verify();
    let mut mismatches = 0;
    for (index, s) in m.streams.iter().enumerate() {
        let exit = match (s.result.exit_code, s.result.signal) {
            (Some(c), _) => c.to_string(),
            (None, Some(sig)) => format!("sig{sig}"),
            _ => "-".into(),
        };
        let mut flags = Vec::new();
        if s.result.timed_out {
            flags.push("timed-out".to_string());
        }
        if s.result.truncated {
            flags.push("truncated".to_string());
        }
        if s.result.redactions > 0 {
            flags.push(format!("redacted:{}", s.result.redactions));
        }
        // `verify` lists the streams in order: this stream's entries are one run of it (a
        // filter over all of them for each stream was quadratic: seconds for 7,000 streams).
        let from = verify.partition_point(|(i, _, _)| *i < index);
        let to = verify.partition_point(|(i, _, _)| *i <= index);
        for (_, label, verdict) in &verify[from..to] {
            match verdict {
                VerifyResult::Differs { .. } => {
                    mismatches += 1;
                    flags.push(format!("{label}-SHA256-MISMATCH"));
                }
                VerifyResult::Missing => {
                    mismatches += 1;
                    flags.push(format!("{label}-MISSING"));
                }
                _ => {}
            }
        }
        let seconds = s
            .result
            .duration_ms
            .map(|ms| format!("{:.2}", ms as f64 / 1000.0))
            .unwrap_or_else(|| "-".into());
        outln!(
            "{:<44} {:<16} {:>7} {:>10} {:>10} {:>9}  {}",
            line(&s.spec.id),
            s.result.status.label(),
            exit,
            human_bytes(s.result.stdout.bytes),
            human_bytes(s.result.stderr.bytes),
            seconds,
            flags.join(" ")
        );
        if let Some(reason) =
            s.result.reason.as_deref().filter(|_| {
                !s.result.status.ran_to_end() || s.result.status == StreamStatus::Skipped
            })
        {
            outln!("    {}", line(reason));
        }
    }
    let hashed = verify
        .iter()
        .filter(|(_, _, v)| *v != VerifyResult::NotRecorded)
        .count();
    let redactions: u64 = m.streams.iter().map(|s| s.result.redactions).sum();
    outln!();
    outln!("redactions {redactions}");
    if mismatches == 0 {
        outln!("integrity  all {hashed} recorded files match their SHA-256");
        ExitCode::SUCCESS
    } else {
        outln!("integrity  {mismatches} file(s) DO NOT match the manifest");
        ExitCode::from(EXIT_INCOMPLETE)
    }
}
