//! `vmledger-net`: a real Hyperledger Fabric federation for vmledger, as plain processes.
//!
//! Each member is its own organisation: its own Fabric CA, peer, federation orderer(s), local-chain
//! orderer, chaincode server, gateway REST proxy and relay (Leave and Arrival on its local chain). The federation channel is ordered by every
//! member's orderers (Raft, or SmartBFT); each member's local channel by its own. Members join and
//! leave a running network through channel updates signed by the existing members' admins.
//!
//! Everything it makes lives in the run folder (`network/run`, or `--run`): see [`layout`].

pub mod ca;
pub mod chaincode;
pub mod cli;
pub mod configtx;
pub mod faults;
pub mod files;
pub mod layout;
pub mod membership;
pub mod net;
pub mod nodes;
pub mod outputs;
pub mod process;
pub mod relay;
pub mod services;
pub mod settings;
pub mod up;
pub mod update;
pub mod verbs;

use std::path::Path;

/// A line on stderr, prefixed with the tool's name.
#[allow(clippy::print_stderr)]
pub fn say(message: &str) {
    eprintln!("vmledger-net: {message}");
}

/// A path as shown to a person: relative to the current folder when it is under it.
pub fn shown(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
