//! Default folders and `~/` expansion for paths written in casefile.toml.
use std::path::PathBuf;

/// `$XDG_DATA_HOME/casefile/captures`, or `./casefile-captures` when there is no home.
pub fn default_capture_dir() -> PathBuf {
    dirs::data_dir()
        .map(|d| d.join("casefile").join("captures"))
        .unwrap_or_else(|| PathBuf::from("casefile-captures"))
}

pub(super) fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}
