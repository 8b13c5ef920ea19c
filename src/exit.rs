//! Exit statuses shared by every front end (CLI, export, TUI), so none of them imports another
//! to learn what a number means. Success is `ExitCode::SUCCESS` (0).

/// Some stream failed, timed out or was cancelled, or an export failed part-way: what was
/// captured or uploaded is kept, and the output says what is missing.
pub const EXIT_INCOMPLETE: u8 = 1;
/// Usage or configuration error: nothing ran.
pub const EXIT_USAGE: u8 = 2;
/// `casefile diff`: the two captures differ (as diff(1) says it).
pub const EXIT_DIFFERENT: u8 = 1;
