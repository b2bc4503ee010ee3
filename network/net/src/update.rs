//! Channel configuration updates, the way a Fabric consortium changes itself: fetch the channel's
//! current configuration, change it, compute the update, collect the signatures its modification
//! policies require (MAJORITY of the members' admins here), and submit it. The orderers check the
//! signatures against the policies: an update short of them is refused and changes nothing.
//!
//! An update travels as a file (a signed `common.Envelope`), so members on different machines can
//! each sign it in turn.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::configtx::{Channel, orderer_dir_name, orderer_endpoint};
use crate::files;
use crate::layout::Node;
use crate::net::Net;
use crate::process::clean_command;

/// A change to the federation channel's membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Add member `n`'s organisation to the Application and Orderer groups.
    AddOrg(u8),
    /// Add member `n`'s federation orderers to the consenters.
    AddConsenters(u8),
    /// Remove member `n`: its organisation from both groups and its orderers from the consenters.
    Remove(u8),
}

impl Change {
    pub fn describe(&self) -> String {
        match self {
            Change::AddOrg(n) => format!("add Org{n}MSP to the federation"),
            Change::AddConsenters(n) => format!("make Org{n}MSP's orderers consenters of the federation"),
            Change::Remove(n) => format!("remove Org{n}MSP from the federation"),
        }
    }
}

fn configtxlator(net: &Net, args: &[&str]) -> std::process::Command {
    let mut command = clean_command(net.tool("configtxlator"));
    command.args(args);
    command
}

fn scratch(net: &Net) -> Result<PathBuf> {
    let dir = net.paths.channels().join(crate::layout::FEDERATION).join("updates");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn decode(net: &Net, file: &Path, kind: &str) -> Result<Value> {
    let input = file.display().to_string();
    let json = net.run(
        None,
        &format!("configtxlator proto_decode {kind}"),
        &mut configtxlator(net, &["proto_decode", "--input", &input, "--type", kind]),
    )?;
    serde_json::from_str(&json).context("configtxlator's JSON")
}

fn encode(net: &Net, value: &Value, kind: &str, out: &Path) -> Result<()> {
    let json = out.with_extension("json");
    files::write_json(&json, value)?;
    let (input, output) = (json.display().to_string(), out.display().to_string());
    net.run(
        None,
        &format!("configtxlator proto_encode {kind}"),
        &mut configtxlator(net, &["proto_encode", "--input", &input, "--type", kind, "--output", &output]),
    )?;
    Ok(())
}

/// The channel's current configuration (`common.Config` as JSON), fetched by member `by`'s admin
/// from one of its orderers.
pub fn current_config(net: &Net, by: u8) -> Result<Value> {
    let block = scratch(net)?.join(format!("config-org{by}.block"));
    let orderer = Node::Orderer(by, 0);
    let mut fetch = net.peer_cli(by);
    fetch
        .args(["channel", "fetch", "config"])
        .arg(&block)
        .args(["-c", crate::layout::FEDERATION])
        .args(net.orderer_flags(by, orderer));
    net.run(Some(orderer), "peer channel fetch config", &mut fetch)?;
    let decoded = decode(net, &block, "common.Block")?;
    Ok(decoded["data"]["data"][0]["payload"]["data"]["config"].clone())
}

/// The latest config block itself (what a joining orderer starts from).
pub fn latest_config_block(net: &Net, by: u8) -> Result<PathBuf> {
    let block = scratch(net)?.join("latest-config.block");
    let orderer = Node::Orderer(by, 0);
    let mut fetch = net.peer_cli(by);
    fetch
        .args(["channel", "fetch", "config"])
        .arg(&block)
        .args(["-c", crate::layout::FEDERATION])
        .args(net.orderer_flags(by, orderer));
    net.run(Some(orderer), "peer channel fetch config", &mut fetch)?;
    Ok(block)
}

/// The configuration's sequence number: it grows by one with every update that commits.
pub fn sequence(config: &Value) -> u64 {
    config["sequence"].as_str().and_then(|s| s.parse().ok()).or_else(|| config["sequence"].as_u64()).unwrap_or(0)
}

/// A PEM file as configtxlator renders bytes fields: standard base64.
fn pem_base64(path: &Path) -> Result<String> {
    use base64::Engine;
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(pem))
}

/// Raft consenter entries of member `n`'s federation orderers, as the channel config holds them.
fn raft_consenters(net: &Net, n: u8) -> Result<Vec<Value>> {
    (0..net.settings.orderers_per_member)
        .map(|k| {
            let node = Node::Orderer(n, k);
            let (cert, _, _) = net.node_tls(n, &orderer_dir_name(node));
            let endpoint = orderer_endpoint(net, node);
            let (host, port) = endpoint.rsplit_once(':').context("orderer endpoint")?;
            let cert = pem_base64(&cert)?;
            Ok(json!({"host": host, "port": port.parse::<u32>()?, "client_tls_cert": cert, "server_tls_cert": cert}))
        })
        .collect()
}

/// The configuration after `change`.
pub fn apply(net: &Net, config: &Value, change: Change) -> Result<Value> {
    if !net.settings.is_raft() && !matches!(change, Change::AddOrg(_)) {
        bail!(
            "changing the consenters of a BFT channel is not supported by this tool yet (its block validation policy is derived from them)"
        );
    }
    let mut updated = config.clone();
    let groups = &mut updated["channel_group"]["groups"];
    match change {
        Change::AddOrg(n) => {
            let msp = format!("Org{n}MSP");
            if groups["Application"]["groups"].get(&msp).is_some() {
                bail!("{msp} is already a member of the federation");
            }
            let (application, orderer) = crate::configtx::org_groups(net, n, Channel::Federation)?;
            groups["Application"]["groups"][&msp] = application;
            groups["Orderer"]["groups"][&msp] = orderer;
        }
        Change::AddConsenters(n) => {
            let consenters = &mut groups["Orderer"]["values"]["ConsensusType"]["value"]["metadata"]["consenters"];
            let list = consenters.as_array_mut().context("the channel has no Raft consenters")?;
            for consenter in raft_consenters(net, n)? {
                if !list.iter().any(|c| c["host"] == consenter["host"] && c["port"] == consenter["port"]) {
                    list.push(consenter);
                }
            }
        }
        Change::Remove(n) => {
            let msp = format!("Org{n}MSP");
            for group in ["Application", "Orderer"] {
                let orgs = groups[group]["groups"].as_object_mut().context("channel groups")?;
                if orgs.remove(&msp).is_none() {
                    bail!("{msp} is not in the federation's {group} group");
                }
            }
            let ours: Vec<Value> = raft_consenters(net, n)?;
            let consenters = &mut groups["Orderer"]["values"]["ConsensusType"]["value"]["metadata"]["consenters"];
            if let Some(list) = consenters.as_array_mut() {
                list.retain(|c| !ours.iter().any(|o| o["host"] == c["host"] && o["port"] == c["port"]));
                if list.is_empty() {
                    bail!("removing Org{n}MSP would leave the federation without consenters");
                }
            }
        }
    }
    Ok(updated)
}

/// Computes the update from `original` to `updated` and writes it as an unsigned envelope.
pub fn propose(net: &Net, original: &Value, updated: &Value, out: &Path) -> Result<()> {
    let dir = scratch(net)?;
    let (original_pb, updated_pb, update_pb) = (dir.join("original.pb"), dir.join("updated.pb"), dir.join("update.pb"));
    encode(net, original, "common.Config", &original_pb)?;
    encode(net, updated, "common.Config", &updated_pb)?;
    let (o, u, d) =
        (original_pb.display().to_string(), updated_pb.display().to_string(), update_pb.display().to_string());
    let channel = crate::layout::FEDERATION;
    let mut compute = configtxlator(
        net,
        &["compute_update", "--channel_id", channel, "--original", &o, "--updated", &u, "--output", &d],
    );
    net.run(None, "configtxlator compute_update", &mut compute)?;
    let update = decode(net, &update_pb, "common.ConfigUpdate")?;
    let envelope = json!({
        "payload": {
            "header": {"channel_header": {"channel_id": channel, "type": 2}},
            "data": {"config_update": update},
        }
    });
    encode(net, &envelope, "common.Envelope", out)
}

/// Adds member `n`'s admin signature to the update in `file`.
pub fn sign(net: &Net, file: &Path, n: u8) -> Result<()> {
    let mut command = net.peer_cli(n);
    command.args(["channel", "signconfigtx", "-f"]).arg(file);
    net.run(Some(Node::Peer(n)), &format!("peer channel signconfigtx (Org{n}MSP's admin)"), &mut command)?;
    Ok(())
}

/// Submits the update in `file` as member `n`'s admin (who signs it too). Fails, naming the policy,
/// when the signatures do not satisfy it; the channel is then unchanged.
pub fn submit(net: &Net, file: &Path, n: u8) -> Result<()> {
    let orderer = Node::Orderer(n, 0);
    let mut command = net.peer_cli(n);
    command
        .args(["channel", "update", "-f"])
        .arg(file)
        .args(["-c", crate::layout::FEDERATION])
        .args(net.orderer_flags(n, orderer));
    net.run(None, &format!("peer channel update (submitted by Org{n}MSP's admin)"), &mut command)?;
    Ok(())
}

/// The signers whose admins must sign for a majority of `members`: the first ⌊m/2⌋ + 1.
pub fn majority(members: &[u8]) -> &[u8] {
    &members[..members.len() / 2 + 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_majority_is_more_than_half() {
        assert_eq!(majority(&[1, 2]), &[1, 2]);
        assert_eq!(majority(&[1, 2, 3]), &[1, 2]);
        assert_eq!(majority(&[1, 2, 3, 4]), &[1, 2, 3]);
    }
}
