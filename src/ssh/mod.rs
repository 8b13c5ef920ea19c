//! SSH hosts as capture targets: where a host is and how to reach it (`resolve`, from
//! casefile.toml and `~/.ssh/config`), its host key (`known_hosts`), logging in (`auth`) and the
//! connection itself (`connect`), and local forwards over it (`forward`, for databases reached
//! `via` a host). Running steps over the connection lives in `capture::ssh`.
pub mod auth;
pub mod connect;
pub mod forward;
pub mod known_hosts;
pub mod resolve;
pub mod ssh_config;

pub use connect::{Connection, DEFAULT_HANDSHAKES, JumpPool, connect};
pub use forward::Forward;
pub use known_hosts::{HostKeyVerdict, UnknownHostPolicy};
pub use resolve::{MAX_JUMPS, SshContext, SshEndpoint, SshTargetOptions};
pub use ssh_config::SshConfig;
