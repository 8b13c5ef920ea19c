//! Test harness shared by the integration tests: the casefile binary, temp dirs, and the real
//! servers (one file per server kind) started on free loopback ports and stopped on drop.
#![allow(dead_code)]
pub mod certs;
pub mod cli;
pub mod dbcapture;
pub mod dbserver;
pub mod fleet;
pub mod mariadb;
pub mod postgres;
pub mod prism;
pub mod pty;
pub mod s3;
pub mod sshd;
pub mod tmux;
