//! `up --faults`: each member's peer reaches the federation's orderers through the member's own
//! toxiproxy (`toxiproxy.orgN`), one link per orderer, so that a fault can cut the member off from
//! ordering and give it back (`vmledger-net cut` / `mend`) while every process keeps running.
//!
//! The peer dials the links through Fabric's orderer address overrides (`peer.deliveryclient.
//! addressOverrides` in its own `core.yaml`), which both its block delivery and its gateway's
//! submissions honour; TLS passes through the proxy untouched. The orderers' Raft traffic among
//! themselves and the member's local chain do not go through it.

use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;

use crate::configtx::{Channel, orderer_dir_name, orderer_endpoint};
use crate::layout::Node;
use crate::net::Net;
use crate::{files, process};

/// Every federation orderer member `n`'s peer may reach: (name, where the link listens, the orderer).
fn links(net: &Net, n: u8) -> Vec<(Node, String, String)> {
    net.settings
        .present()
        .flat_map(|m| Channel::Federation.orderers_of(net, m.n))
        .map(|node| {
            let Node::Orderer(m, k) = node else { unreachable!("federation orderers only") };
            (node, net.address(n, net.ports(n).toxiproxy_orderer(m, k)), orderer_endpoint(net, node))
        })
        .collect()
}

/// Starts member `n`'s toxiproxy with a link to every federation orderer (restarting it when the
/// federation's orderers changed), and waits for its API.
///
/// # Errors
/// When it cannot be started or does not answer.
pub fn start(net: &Net, n: u8) -> Result<()> {
    let node = Node::Toxiproxy(n);
    let name = node.to_string();
    let config = net.paths.toxiproxy_config(&format!("org{n}"));
    let proxies: Vec<_> = links(net, n)
        .into_iter()
        .map(|(orderer, listen, upstream)| {
            json!({"name": orderer.to_string(), "listen": listen, "upstream": upstream, "enabled": true})
        })
        .collect();
    let text = serde_json::to_string_pretty(&proxies)?;
    if std::fs::read_to_string(&config).ok().as_deref() != Some(text.as_str()) {
        files::write(&config, text.as_bytes())?;
        process::stop(&net.paths, &name)?;
    }
    if !process::is_running(&net.paths, &name) {
        let mut command = process::clean_command(net.tool("toxiproxy-server"));
        command
            .arg("-host")
            .arg(net.host(n))
            .arg("-port")
            .arg(net.ports(n).toxiproxy().to_string())
            .arg("-config")
            .arg(&config);
        process::start(&net.paths, &name, net.host(n), &net.ports(n).of_node(node), command)?;
    }
    let version = format!("http://{}/version", net.address(n, net.ports(n).toxiproxy()));
    process::wait_until(&net.paths, &name, "/version", net.timeout, || net.http_ok(&version))
}

/// The folder of member `n`'s peer's `core.yaml`: the shared one, with its orderers overridden by
/// the member's toxiproxy links (a list in YAML, which no environment variable can set).
///
/// # Errors
/// When the shared `core.yaml` cannot be read or the peer's written.
pub fn peer_config(net: &Net, n: u8) -> Result<std::path::PathBuf> {
    let shared = net.paths.fabric_config().join("core.yaml");
    let mut core: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(&shared).with_context(|| format!("reading {}", shared.display()))?,
    )?;
    let overrides: Vec<serde_yaml_ng::Value> = links(net, n)
        .into_iter()
        .map(|(orderer, listen, upstream)| {
            let tls = crate::layout::tls(&net.org(orderer.member()).node(&orderer_dir_name(orderer)));
            serde_yaml_ng::to_value(json!({"from": upstream, "to": listen, "caCertsFile": tls.2}))
        })
        .collect::<Result<_, _>>()?;
    core.get_mut("peer")
        .and_then(|p| p.get_mut("deliveryclient"))
        .and_then(serde_yaml_ng::Value::as_mapping_mut)
        .context("Fabric's sample core.yaml has no peer.deliveryclient")?
        .insert("addressOverrides".into(), serde_yaml_ng::Value::Sequence(overrides));
    let dir = net.paths.peer_config(Node::Peer(n));
    files::write(&dir.join("core.yaml"), serde_yaml_ng::to_string(&core)?.as_bytes())?;
    Ok(dir)
}

/// Enables (`mend`) or disables (`cut`) every link of member `n`'s peer to the federation's
/// orderers. Disabling closes the open connections and refuses new ones.
///
/// # Errors
/// When the network was made without `--faults`, or the toxiproxy does not answer.
pub fn links_enabled(net: &Net, n: u8, enabled: bool) -> Result<()> {
    anyhow::ensure!(net.settings.faults, "this network was made without `up --faults`: no links to cut");
    let api = format!("http://{}", net.address(n, net.ports(n).toxiproxy()));
    let agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(5))).build().new_agent();
    for (orderer, _, _) in links(net, n) {
        let url = format!("{api}/proxies/{orderer}");
        agent
            .post(&url)
            .send_json(json!({"enabled": enabled}))
            .with_context(|| format!("toxiproxy.org{n}: POST {url}"))?;
    }
    Ok(())
}
