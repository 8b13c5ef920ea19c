//! `casefile watch --listen ADDR:PORT [--poll 30s]`: the long-running receiver (src/watch/).
use super::usage_error;
use crate::config::Config;
use crate::model::HumanDuration;
use clap::Args;
use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Address and port for PagerDuty's webhooks (POST /webhook, GET /health)
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Also (or only) list triggered incidents through the REST API this often (e.g. 30s)
    #[arg(long, value_name = "DURATION")]
    pub poll: Option<HumanDuration>,
    /// Folder to put snapshot folders in (default: capture_dir)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// PEM certificate chain: serve HTTPS directly (with --tls-key; default: [watch] tls_cert)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert (default: [watch] tls_key)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Folder of the de-duplication state (default: [watch] state_dir, then ~/.local/state/casefile)
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

pub async fn run(config: Config, args: WatchArgs) -> ExitCode {
    if args.poll.is_some_and(|p| p.0.is_zero()) {
        return usage_error("--poll must be longer than 0s");
    }
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::config::TlsFiles { cert, key }),
        _ => config.watch.tls.clone(),
    };
    let options = crate::watch::WatchOptions {
        listen: args.listen,
        tls,
        poll: args.poll.map(|p| p.0),
        out_dir: args.out.unwrap_or_else(|| config.capture_dir.clone()),
        state_dir: args
            .state_dir
            .or_else(|| config.watch.state_dir.clone())
            .unwrap_or_else(crate::watch::default_state_dir),
    };
    match crate::watch::run(config, options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => usage_error(e),
    }
}
