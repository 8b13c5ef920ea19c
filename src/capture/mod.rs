//! The capture engine: runs a plan's streams concurrently (limits per target, see [`limits`])
//! into a snapshot.
pub mod db;
pub mod deadline;
pub mod engine;
pub mod limits;
pub mod live;
pub mod local;
pub mod runner;
pub mod ssh;

pub use engine::{CaptureControl, Engine, StreamEvent};
pub use limits::Limits;
pub use live::{LiveLine, LiveView, MemoryBudget, OutputRing, StreamLive};
pub use runner::{RunOutcome, StreamIo, TargetRunner};
