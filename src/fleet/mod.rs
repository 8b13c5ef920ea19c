//! A fleet at once: the same step run on many targets, folded and compared.
//!
//! - [`fold`]: for each step (preset + step), streams whose output is identical form one group,
//!   largest first; [`fold::Folder`] is incremental, so a live view feeds it streams as they
//!   finish. Groups under a threshold are the odd ones out ([`fold::OutlierRule`]).
//! - [`key`]: what "identical" means for a stream (its outcome plus the SHA-256 of its stdout,
//!   stderr and reason), in exact mode (the hashes the manifest records) or in shape mode
//!   ([`shape`]: volatile tokens such as numbers, hex ids, UUIDs and addresses masked).
//! - [`hostlist`]: target sets compressed like clush/pdsh (`web[01-06,08-50]`) and expanded back.
//! - [`diff`]: a line diff of two streams (an outlier against its majority, or one target in two
//!   captures); [`baseline`] compares two captures per target and step.
//!
//! Nothing here draws or prints: the CLI (`casefile show --group`, `casefile diff`) and the TUI
//! render what these return, through the sanitiser. Everything read from a snapshot goes
//! through the confined opener ([`crate::snapshot::confined`]).
pub mod baseline;
pub mod diff;
pub mod fold;
pub mod hostlist;
pub mod key;
pub mod read;
pub mod shape;

pub use baseline::{Baseline, Change, StreamChange};
pub use diff::{DiffLine, DiffOptions, LineKind, StreamDiff, diff_streams};
pub use fold::{Folder, Group, OutlierRule, StepGroups, Update};
pub use hostlist::{compress, compress_to_string, expand};
pub use key::{FoldError, FoldItem, FoldKey, FoldMode};
