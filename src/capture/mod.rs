//! The capture engine: runs a plan's streams concurrently into a snapshot.
pub mod db;
pub mod deadline;
pub mod engine;
pub mod live;
pub mod local;
pub mod runner;
pub mod ssh;

pub use engine::{CaptureControl, Engine, StreamEvent};
pub use live::{LiveLine, LiveView, OutputRing, StreamLive};
pub use runner::{RunOutcome, StreamIo, TargetRunner};
