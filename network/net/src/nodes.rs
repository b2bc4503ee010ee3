//! Orderer and peer processes: their environment over Fabric's sample `orderer.yaml` and
//! `core.yaml`, their health, and joining them to channels (osnadmin for orderers, the peer CLI
//! for peers).

use std::process::Command;

use anyhow::Result;

use crate::configtx::{Channel, orderer_dir_name};
use crate::layout::{DOMAIN, Node};
use crate::net::Net;
use crate::process;

fn orderer_ports(net: &Net, node: Node) -> (u16, u16, u16) {
    let ports = net.ports(node.member());
    match node {
        Node::Orderer(_, k) => (ports.orderer(k), ports.orderer_admin(k), ports.orderer_operations(k)),
        _ => (ports.local_orderer(), ports.local_orderer_admin(), ports.local_orderer_operations()),
    }
}

/// The operations URL of a node (`/healthz`, `/metrics`).
pub fn operations_url(net: &Net, node: Node) -> Option<String> {
    let n = node.member();
    net.ports(n).operations(node).map(|port| format!("http://{}", net.address(n, port)))
}

pub fn start_orderer(net: &Net, node: Node) -> Result<()> {
    let name = node.to_string();
    if process::is_running(&net.paths, &name) {
        return Ok(());
    }
    let n = node.member();
    let host = net.host(n).to_owned();
    let dir = net.org(n).node(&orderer_dir_name(node));
    let (cert, key, ca) = crate::layout::tls(&dir);
    let (port, admin, operations) = orderer_ports(net, node);
    let data = net.paths.data(node);
    std::fs::create_dir_all(&data)?;
    let roots = format!("[{}]", ca.display());
    let mut command = process::clean_command(net.tool("orderer"));
    command
        .env("FABRIC_CFG_PATH", net.paths.fabric_config())
        .env("FABRIC_LOGGING_SPEC", "grpc=error:info")
        .env("ORDERER_GENERAL_LISTENADDRESS", &host)
        .env("ORDERER_GENERAL_LISTENPORT", port.to_string())
        .env("ORDERER_GENERAL_LOCALMSPID", format!("Org{n}MSP"))
        .env("ORDERER_GENERAL_LOCALMSPDIR", dir.join("msp"))
        .env("ORDERER_GENERAL_TLS_ENABLED", "true")
        .env("ORDERER_GENERAL_TLS_PRIVATEKEY", &key)
        .env("ORDERER_GENERAL_TLS_CERTIFICATE", &cert)
        .env("ORDERER_GENERAL_TLS_ROOTCAS", &roots)
        .env("ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE", &cert)
        .env("ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY", &key)
        .env("ORDERER_GENERAL_CLUSTER_ROOTCAS", &roots)
        .env("ORDERER_GENERAL_BOOTSTRAPMETHOD", "none")
        .env("ORDERER_CHANNELPARTICIPATION_ENABLED", "true")
        .env("ORDERER_ADMIN_LISTENADDRESS", format!("{host}:{admin}"))
        .env("ORDERER_ADMIN_TLS_ENABLED", "true")
        .env("ORDERER_ADMIN_TLS_CERTIFICATE", &cert)
        .env("ORDERER_ADMIN_TLS_PRIVATEKEY", &key)
        .env("ORDERER_ADMIN_TLS_ROOTCAS", &roots)
        .env("ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED", "true")
        .env("ORDERER_ADMIN_TLS_CLIENTROOTCAS", &roots)
        .env("ORDERER_OPERATIONS_LISTENADDRESS", format!("{host}:{operations}"))
        .env("ORDERER_METRICS_PROVIDER", "prometheus")
        .env("ORDERER_FILELEDGER_LOCATION", data.join("ledger"))
        .env("ORDERER_CONSENSUS_WALDIR", data.join("consensus/wal"))
        .env("ORDERER_CONSENSUS_SNAPDIR", data.join("consensus/snapshot"));
    process::start(&net.paths, &name, &host, &[port, admin, operations], command)?;
    Ok(())
}

pub fn start_peer(net: &Net, n: u8) -> Result<()> {
    let node = Node::Peer(n);
    let name = node.to_string();
    if process::is_running(&net.paths, &name) {
        return Ok(());
    }
    let host = net.host(n).to_owned();
    let ports = net.ports(n);
    let dir = net.org(n).node("peer0");
    let (cert, key, ca) = crate::layout::tls(&dir);
    let data = net.paths.data(node);
    std::fs::create_dir_all(&data)?;
    let address = net.address(n, ports.peer());
    let builder = serde_json::json!([{"name": "vmledger-ccaas", "path": net.root.join("network/builder")}]);
    let config = if net.settings.faults { crate::faults::peer_config(net, n)? } else { net.paths.fabric_config() };
    let mut command = process::clean_command(net.tool("peer"));
    command
        .args(["node", "start"])
        .env("FABRIC_CFG_PATH", config)
        .env("FABRIC_LOGGING_SPEC", "grpc=error:info")
        .env("CORE_PEER_ID", format!("peer0.org{n}.{DOMAIN}"))
        .env("CORE_PEER_ADDRESS", &address)
        .env("CORE_PEER_LISTENADDRESS", &address)
        .env("CORE_PEER_CHAINCODEADDRESS", net.address(n, ports.peer_chaincode()))
        .env("CORE_PEER_CHAINCODELISTENADDRESS", net.address(n, ports.peer_chaincode()))
        .env("CORE_PEER_GOSSIP_BOOTSTRAP", &address)
        .env("CORE_PEER_GOSSIP_EXTERNALENDPOINT", &address)
        .env("CORE_PEER_GOSSIP_USELEADERELECTION", "false")
        .env("CORE_PEER_GOSSIP_ORGLEADER", "true")
        // Short gossip intervals: the first cross-org probe may race the other peer's channel join,
        // and the default retry comes only 25 s later (FABRIC-NOTES, pitfall 3).
        .env("CORE_PEER_GOSSIP_RECONNECTINTERVAL", "2s")
        .env("CORE_PEER_GOSSIP_MEMBERSHIPTRACKERINTERVAL", "1s")
        .env("CORE_PEER_GOSSIP_PUBLISHSTATEINFOINTERVAL", "1s")
        .env("CORE_PEER_GOSSIP_REQUESTSTATEINFOINTERVAL", "1s")
        .env("CORE_PEER_GOSSIP_ALIVETIMEINTERVAL", "2s")
        .env("CORE_PEER_GOSSIP_ALIVEEXPIRATIONTIMEOUT", "10s")
        // A transaction that writes into this member's implicit collection without its peer's
        // endorsement is invalid (the member's creation markers, contract/src/anchor.rs): its private
        // data is nowhere, and pulling it would hold every block behind it for pullRetryThreshold
        // (60 s). Invalid transactions' private data is never needed.
        .env("CORE_PEER_GOSSIP_PVTDATA_SKIPPULLINGINVALIDTRANSACTIONSDURINGCOMMIT", "true")
        .env("CORE_PEER_LOCALMSPID", format!("Org{n}MSP"))
        .env("CORE_PEER_MSPCONFIGPATH", dir.join("msp"))
        .env("CORE_PEER_TLS_ENABLED", "true")
        .env("CORE_PEER_TLS_CERT_FILE", &cert)
        .env("CORE_PEER_TLS_KEY_FILE", &key)
        .env("CORE_PEER_TLS_ROOTCERT_FILE", &ca)
        .env("CORE_PEER_FILESYSTEMPATH", &data)
        .env("CORE_LEDGER_SNAPSHOTS_ROOTDIR", data.join("snapshots"))
        .env("CORE_OPERATIONS_LISTENADDRESS", net.address(n, ports.peer_operations()))
        .env("CORE_METRICS_PROVIDER", "prometheus")
        .env("CORE_CHAINCODE_EXTERNALBUILDERS", builder.to_string());
    process::start(&net.paths, &name, &host, &ports.of_node(node), command)?;
    Ok(())
}

pub fn wait_healthy(net: &Net, node: Node) -> Result<()> {
    let url = operations_url(net, node).map(|u| format!("{u}/healthz")).unwrap_or_default();
    process::wait_until(&net.paths, &node.to_string(), "operations /healthz", net.timeout, || net.http_ok(&url))
}

/// Whether an orderer already keeps the channel's ledger (joined before).
fn orderer_has(net: &Net, node: Node, channel: &str) -> bool {
    net.paths.data(node).join("ledger/chains").join(channel).is_dir()
}

fn osnadmin_list(net: &Net, node: Node, channel: Option<&str>) -> (bool, String) {
    let mut args = vec!["channel", "list"];
    if let Some(channel) = channel {
        args.extend(["--channelID", channel]);
    }
    net.try_run(&format!("osnadmin channel list ({node})"), &mut net.osnadmin(node, &args))
}

/// Joins an orderer to a channel with `block` (the genesis block, or the latest config block for
/// an orderer that joins a running channel).
pub fn join_orderer(net: &Net, node: Node, channel: &str, block: &std::path::Path) -> Result<()> {
    if orderer_has(net, node, channel) {
        return Ok(());
    }
    let name = node.to_string();
    process::wait_until(&net.paths, &name, "its admin endpoint", net.timeout, || {
        osnadmin_list(net, node, None).1.contains("Status: ")
    })?;
    if osnadmin_list(net, node, Some(channel)).1.contains(&format!("\"name\": \"{channel}\"")) {
        return Ok(());
    }
    let block = block.display().to_string();
    let mut command = net.osnadmin(node, &["channel", "join", "--channelID", channel, "--config-block", &block]);
    net.run(Some(node), &format!("osnadmin channel join {channel} ({name})"), &mut command)?;
    Ok(())
}

/// The orderer's view of a channel (osnadmin's JSON): status and consensus relation.
pub fn orderer_channel(net: &Net, node: Node, channel: &str) -> Option<serde_json::Value> {
    let (ok, said) = osnadmin_list(net, node, Some(channel));
    if !ok {
        return None;
    }
    let body = said.get(said.find('{')?..)?;
    serde_json::from_str(body).ok()
}

/// Some consenter of `channel` leads it (Raft) or the channel is active on a quorum (BFT): until
/// then every submission is refused with SERVICE_UNAVAILABLE.
pub fn has_leader(net: &Net, orderers: &[Node], channel: &str, bft: bool) -> bool {
    if bft {
        let active = orderers
            .iter()
            .filter(|&&o| {
                orderer_channel(net, o, channel)
                    .is_some_and(|c| c["status"] == "active" && c["consensusRelation"] == "consenter")
            })
            .count();
        // 2f + 1 of 3f + 1.
        return active * 3 > orderers.len() * 2;
    }
    let needle = format!("consensus_etcdraft_is_leader{{channel=\"{channel}\"}} 1");
    orderers.iter().any(|&o| {
        operations_url(net, o)
            .and_then(|u| crate::net::http_get(&format!("{u}/metrics")))
            .is_some_and(|m| m.lines().any(|l| l.starts_with(&needle)))
    })
}

/// Whether the peer keeps the channel's ledger (asking the peer can fail while it starts).
pub fn peer_joined(net: &Net, n: u8, channel: &str) -> bool {
    net.paths.data(Node::Peer(n)).join("ledgersData/chains/chains").join(channel).is_dir()
}

pub fn join_peer(net: &Net, n: u8, channel: Channel, block: &std::path::Path) -> Result<()> {
    let name = channel.name();
    if peer_joined(net, n, &name) {
        return Ok(());
    }
    let mut command: Command = net.peer_cli(n);
    command.args(["channel", "join", "-b"]).arg(block);
    let (ok, said) = net.try_run(&format!("peer channel join {name} (peer0.org{n})"), &mut command);
    if !ok && !said.contains("already exists") {
        return Err(process::failure(
            &net.paths,
            &Node::Peer(n).to_string(),
            &format!("peer channel join {name} failed:\n{said}"),
        ));
    }
    Ok(())
}

/// How many other peers member `n`'s peer knows on `channel` (gossip membership).
pub fn peers_known(net: &Net, n: u8, channel: &str) -> usize {
    let url = operations_url(net, Node::Peer(n)).unwrap_or_default();
    let needle = format!("channel=\"{channel}\"");
    crate::net::http_get(&format!("{url}/metrics"))
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("gossip_membership_total_peers_known") && l.contains(&needle))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0, |v| v as usize)
}

/// The height of member `n`'s copy of `channel` (`peer channel getinfo`), if it answers.
pub fn height(net: &Net, n: u8, channel: &str) -> Option<u64> {
    let mut command = net.peer_cli(n);
    command.args(["channel", "getinfo", "-c", channel]);
    let (ok, said) = net.try_run(&format!("peer channel getinfo {channel} (peer0.org{n})"), &mut command);
    let info: serde_json::Value = serde_json::from_str(said.get(said.find('{')?..)?.trim()).ok()?;
    ok.then(|| info["height"].as_u64()).flatten()
}
