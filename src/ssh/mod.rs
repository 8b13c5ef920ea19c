//! SSH hosts as capture targets: where a host is and how to reach it (`resolve`, from
//! casefile.toml and `~/.ssh/config`), its host key (`known_hosts`), logging in (`auth`) and the
//! connection itself (`connect`). Running steps over the connection lives in `capture::ssh`.
pub mod auth;
pub mod connect;
pub mod known_hosts;
pub mod resolve;
pub mod ssh_config;

pub use connect::{Connection, JumpPool, connect};
pub use known_hosts::{HostKeyVerdict, UnknownHostPolicy};
pub use resolve::{MAX_JUMPS, SshContext, SshEndpoint, SshTargetOptions};
pub use ssh_config::SshConfig;
