//! casefile: capture the debug state of hosts and databases during an incident.
#[macro_use]
pub mod output; // outln!/errln!: every line to stdout/stderr, sanitised; quiet on a closed pipe
pub mod autorun; // a runbook run without a person: plan, session, engine, export
pub mod capture; // the engine: runs a plan's streams concurrently into a snapshot
pub mod cli; // headless commands: capture, presets, targets, show
pub mod config; // casefile.toml: inventory, secrets, destinations, directories
pub mod doctor; // casefile doctor: checks a setup before the incident
pub mod exit; // exit statuses shared by the front ends
pub mod export; // export: archive, S3 upload, incident note, asciicast
pub mod fleet; // a fleet at once: folding identical outputs, shape masking, host ranges, diffs
pub mod incidents; // incident sources (PagerDuty, incidents.toml) and recent captures
pub mod logging; // one tracing subscriber; every log line is redacted
pub mod model; // plain data: targets, plans, sizes, durations
pub mod pagerduty; // PagerDuty REST client: incidents and notes (export and the incident picker)
pub mod planner; // operator's choices → CapturePlan
pub mod preset; // preset parsing, validation, parameters, library
pub mod redact; // secret redaction before bytes reach disk
pub mod runbook; // incident → runbook → plan request: matching and ties
pub mod s3; // S3 upload (multipart, parallel parts) and presigned links
pub mod sanitize; // the one sanitiser for every byte that reaches a terminal
pub mod secret; // secret references resolved at run time
pub mod session; // prepare a capture for any front end: secrets, SSH, runners, redactor, writer, warnings
pub mod snapshot; // the on-disk snapshot: writer, reader, manifest, journal
pub mod source_error; // file:line:col errors for user-written files
pub mod ssh;
pub mod tui;
pub mod watch; // casefile watch: PagerDuty webhooks (signature, de-dup, queue) and poll mode // the interactive TUI: incidents → plan → live panes → export, replay, preset editor // SSH hosts: ~/.ssh/config, known_hosts, authentication, connections
