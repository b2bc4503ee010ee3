//! Each member's relay (BASICS' cloud gateway; the SDK's [`vmledger_client::relay`]): started by
//! `up` as `vmledger-net relay ORG` (this program, so the relay is always the build the network
//! tool's wrapper just made), stopped by `down` through its PID file, its status served on the
//! layout's relay port and shown by `status` with its lag in blocks.
//!
//! It acts as the member's `relay` identity through the member's own proxy: the federation's events
//! and clouds on `federation`, Leave and Arrival on the member's local channel.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use vmledger_client::events::StartAt;
use vmledger_client::relay::{Outcome, Record, Relay, RelayObserver, RelayOptions, RelayStatus, serve_status};
use vmledger_client::{Members, VmLedger};
use vmledger_contract::model::Migration;

use crate::layout::{CHAINCODE, FEDERATION, Node, Paths, local_channel};
use crate::net::Net;
use crate::process;
use crate::settings::Settings;

/// The application identity the relay acts as (members.json `apiKeys`).
const IDENTITY: &str = "relay";
/// Records in flight at once.
const WINDOW: usize = 32;

/// One JSON line per thing the relay does, on stdout (its log).
struct Log;

#[allow(clippy::print_stdout)]
fn line(mut value: serde_json::Value) {
    if let Some(fields) = value.as_object_mut() {
        fields.insert("time".into(), crate::now_rfc3339().into());
    }
    println!("{value}");
}

impl RelayObserver for Log {
    fn recorded(&self, record: Record, migration: &Migration, outcome: &Outcome) {
        line(
            serde_json::json!({"record": record, "migrationId": migration.id, "vmId": migration.vm_id, "result": outcome}),
        );
    }
    fn retrying(&self, what: &str, error: &vmledger_client::Error) {
        line(serde_json::json!({"retrying": what, "error": error.to_string(), "code": error.code()}));
    }
    fn following(&self, from: &StartAt) {
        line(serde_json::json!({"following": FEDERATION, "from": format!("{from:?}")}));
    }
    fn stream_broke(&self, error: &vmledger_client::Error) {
        line(serde_json::json!({"streamBroke": error.to_string()}));
    }
}

/// Runs member `org`'s relay in the foreground until SIGTERM or SIGINT (what `up` starts).
pub fn run(paths: &Paths, settings: &Settings, org: &str) -> Result<()> {
    let member = settings.find(org)?;
    let n = member.n;
    let members = Members::load(paths.members())?;
    let gateway = members
        .member(org)?
        .gateway(IDENTITY)?
        // The relay retries itself, forever; the SDK's own retries stay for stale reads.
        .commit_status_timeout(Duration::from_secs(60))
        .connect()?;
    let federation = VmLedger::new(gateway.network(FEDERATION).contract(CHAINCODE));
    let local = VmLedger::new(gateway.network(local_channel(org)).contract(CHAINCODE));
    let options = RelayOptions {
        member: org.to_owned(),
        msp_id: member.msp_id(),
        state_dir: paths.relay_state(org),
        window: WINDOW,
        tick: Duration::from_secs(1),
    };
    let address = format!("{}:{}", settings.host(n), settings.ports(n).relay());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(&address).await.with_context(|| format!("listening on {address}"))?;
        let relay = Relay::new(options, federation, local, Arc::new(Log));
        let status = relay.status();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let server = tokio::spawn(serve_status(listener, status, stopped(stop_rx.clone())));
        line(serde_json::json!({"listening": format!("http://{address}"), "member": org}));
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let signal = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        let outcome = relay.run(signal).await;
        let _ = stop_tx.send(true);
        let _ = server.await;
        outcome.map_err(anyhow::Error::from)?;
        line(serde_json::json!({"stopped": org}));
        anyhow::Ok(())
    })
}

/// What a relay runs: this program. A rebuilt network tool restarts the relays on the next `up`.
fn label() -> Result<String> {
    use sha2::{Digest, Sha256};
    let exe = std::env::current_exe().context("this program's path")?;
    Ok(hex::encode(Sha256::digest(std::fs::read(&exe).with_context(|| format!("reading {}", exe.display()))?)))
}

/// Starts member `n`'s relay (restarting it when this program changed).
pub fn start(net: &Net, n: u8) -> Result<()> {
    let node = Node::Relay(n);
    let name = node.to_string();
    let org = format!("org{n}");
    let label = label()?;
    let label_file = net.paths.relay_state(&org).join("label");
    if process::is_running(&net.paths, &name) && std::fs::read_to_string(&label_file).ok().as_deref() != Some(&label) {
        crate::say(&format!("{name}: the network tool was rebuilt: restarting it"));
        process::stop(&net.paths, &name)?;
    }
    if !process::is_running(&net.paths, &name) {
        let exe = std::env::current_exe().context("this program's path")?;
        let mut command = process::clean_command(exe);
        command
            .current_dir(&net.root)
            .env("VMLEDGER_ROOT", &net.root)
            .arg("--run")
            .arg(&net.paths.run)
            .args(["relay", &org]);
        process::start(&net.paths, &name, net.host(n), &net.ports(n).of_node(node), command)?;
        crate::files::write(&label_file, label.as_bytes())?;
    }
    Ok(())
}

/// The URL of member `n`'s relay status endpoint.
pub fn url(net: &Net, n: u8) -> String {
    format!("http://{}", net.address(n, net.ports(n).relay()))
}

pub fn wait(net: &Net, n: u8) -> Result<()> {
    let health = format!("{}/healthz", url(net, n));
    process::wait_until(&net.paths, &Node::Relay(n).to_string(), "/healthz", net.timeout, || net.http_ok(&health))
}

/// Member `n`'s relay status, when it answers.
pub fn status(net: &Net, n: u8) -> Option<RelayStatus> {
    crate::net::http_get(&format!("{}/status", url(net, n))).and_then(|body| serde_json::from_str(&body).ok())
}
