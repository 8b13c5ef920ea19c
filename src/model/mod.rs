//! Plain data shared by every layer: no I/O here.
pub mod duration;
pub mod incident;
pub mod plan;
pub mod size;
pub mod target;

pub use duration::HumanDuration;
pub use incident::Incident;
pub use plan::{CapturePlan, Repeat, StepAction, StreamSpec};
pub use size::ByteSize;
pub use target::{DbAddress, Target, TargetKind, TargetSpec, TlsMode};
