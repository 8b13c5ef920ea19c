//! Plain data shared by every layer: no I/O here.
pub mod duration;
pub mod incident;
pub mod plan;
pub mod size;
pub mod target;

pub use duration::HumanDuration;
pub use incident::{Incident, IncidentId};
pub use plan::{CapturePlan, Repeat, StepAction, StreamSpec};
pub use size::ByteSize;
pub use target::{DbAddress, SshTargetOptions, Target, TargetKind, TargetSpec, TlsMode};

/// A value written either as a bare number or as text with a unit (`512` or `"4MiB"`, `30` or `"30s"`).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(u64),
    Text(String),
}
