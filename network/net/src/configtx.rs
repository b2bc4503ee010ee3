//! Channel configuration as configtxgen reads it (`configtx.yaml`, written as JSON, which YAML
//! reads as it is): the federation channel, each member's local channel, and a member's
//! organisation definition for joining.
//!
//! Each member appears twice in a channel: in the Application group (its peers endorse, its clients
//! write) and in the Orderer group (its orderers order and sign blocks). The two carry different
//! policies, so an orderer identity can sign blocks but not submit transactions, and a client can
//! submit but not sign blocks.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::files;
use crate::layout::{FEDERATION, Node, local_channel};
use crate::net::Net;
use crate::process::clean_command;
use crate::settings::Consensus;

/// Which channel a configuration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Every active member; ordered by every member's orderers.
    Federation,
    /// One member's own chain, ordered by its own local orderer.
    Local(u8),
}

impl Channel {
    pub fn name(&self) -> String {
        match self {
            Channel::Federation => FEDERATION.to_owned(),
            Channel::Local(n) => local_channel(&format!("org{n}")),
        }
    }

    /// The members of the channel (their numbers).
    pub fn members(&self, net: &Net) -> Vec<u8> {
        match self {
            Channel::Federation => net.members().map(|m| m.n).collect(),
            Channel::Local(n) => vec![*n],
        }
    }

    /// The orderer nodes that order the channel.
    pub fn orderers(&self, net: &Net) -> Vec<Node> {
        self.members(net).into_iter().flat_map(|n| self.orderers_of(net, n)).collect()
    }

    /// The orderer nodes member `n` runs for the channel (also before it is a member).
    pub fn orderers_of(&self, net: &Net, n: u8) -> Vec<Node> {
        match self {
            Channel::Federation => (0..net.settings.orderers_per_member).map(|k| Node::Orderer(n, k)).collect(),
            Channel::Local(_) => vec![Node::LocalOrderer(n)],
        }
    }

    pub fn consensus(&self, net: &Net) -> Consensus {
        match self {
            Channel::Federation => net.settings.consensus,
            // A member's own chain: crash-fault tolerance is all one operator needs.
            Channel::Local(_) => Consensus::Raft,
        }
    }

    /// Every channel of the network.
    pub fn all(net: &Net) -> Vec<Channel> {
        let mut channels = vec![Channel::Federation];
        channels.extend(net.members().map(|m| Channel::Local(m.n)));
        channels
    }

    /// The channels member `n`'s peer joins.
    pub fn of_member(n: u8) -> [Channel; 2] {
        [Channel::Federation, Channel::Local(n)]
    }
}

fn signature(rule: String) -> Value {
    json!({"Type": "Signature", "Rule": rule})
}

fn implicit(rule: &str) -> Value {
    json!({"Type": "ImplicitMeta", "Rule": rule})
}

/// The member as an application organisation: its peers endorse, its admins and clients write.
pub fn application_org(net: &Net, n: u8) -> Value {
    let msp = format!("Org{n}MSP");
    let role = |roles: &[&str]| {
        signature(format!("OR({})", roles.iter().map(|r| format!("'{msp}.{r}'")).collect::<Vec<_>>().join(", ")))
    };
    json!({
        "Name": msp, "ID": msp, "MSPDir": net.org(n).msp(),
        "Policies": {
            "Readers": role(&["admin", "peer", "client"]),
            "Writers": role(&["admin", "client"]),
            "Admins": role(&["admin"]),
            "Endorsement": role(&["peer"]),
        },
        "AnchorPeers": [{"Host": net.host(n), "Port": net.ports(n).peer()}],
    })
}

/// The member as an ordering organisation of `channel`: its orderers sign blocks (Writers, for
/// BlockValidation), everyone in it may read, its admins administer.
pub fn orderer_org(net: &Net, n: u8, channel: Channel) -> Value {
    let msp = format!("Org{n}MSP");
    let endpoints: Vec<String> =
        channel.orderers_of(net, n).into_iter().map(|node| orderer_endpoint(net, node)).collect();
    json!({
        "Name": msp, "ID": msp, "MSPDir": net.org(n).msp(),
        "Policies": {
            "Readers": signature(format!("OR('{msp}.member')")),
            "Writers": signature(format!("OR('{msp}.orderer')")),
            "Admins": signature(format!("OR('{msp}.admin')")),
        },
        "OrdererEndpoints": endpoints,
    })
}

/// `host:port` clients and peers use for an orderer.
pub fn orderer_endpoint(net: &Net, node: Node) -> String {
    let n = node.member();
    match node {
        Node::Orderer(_, k) => net.address(n, net.ports(n).orderer(k)),
        _ => net.address(n, net.ports(n).local_orderer()),
    }
}

/// The folder name of an orderer node's identity (`orderer0`, `lorderer`).
pub fn orderer_dir_name(node: Node) -> String {
    match node {
        Node::Orderer(_, k) => format!("orderer{k}"),
        _ => "lorderer".to_owned(),
    }
}

/// A consenter entry (Raft: address and TLS certificates; BFT: also an id, the MSP and identity).
pub fn consenter(net: &Net, node: Node, bft_id: Option<u32>) -> Value {
    let n = node.member();
    let name = orderer_dir_name(node);
    let (cert, _, _) = net.node_tls(n, &name);
    let (host, port) =
        orderer_endpoint(net, node).rsplit_once(':').map(|(h, p)| (h.to_owned(), p.to_owned())).unwrap_or_default();
    let port: u16 = port.parse().unwrap_or_default();
    match bft_id {
        None => json!({"Host": host, "Port": port, "ClientTLSCert": cert, "ServerTLSCert": cert}),
        Some(id) => json!({
            "ID": id, "Host": host, "Port": port, "MSPID": format!("Org{n}MSP"),
            "Identity": net.node_signcert(n, &name), "ClientTLSCert": cert, "ServerTLSCert": cert,
        }),
    }
}

/// The BFT consenter id of a federation orderer: stable across joins and leaves.
pub fn bft_id(node: Node) -> u32 {
    match node {
        Node::Orderer(n, k) => u32::from(n) * 10 + u32::from(k) + 1,
        _ => 0,
    }
}

/// The whole configtx document of `channel`, one profile named after it.
pub fn document(net: &Net, channel: Channel) -> Value {
    let members = channel.members(net);
    let fabric3 = net.settings.fabric.starts_with('3');
    let capabilities = json!({
        "Channel": if fabric3 { json!({"V3_0": true}) } else { json!({"V2_0": true}) },
        "Orderer": {"V2_0": true},
        "Application": {"V2_5": true},
    });
    let admins_policies = json!({
        "Readers": implicit("ANY Readers"),
        "Writers": implicit("ANY Writers"),
        "Admins": implicit("MAJORITY Admins"),
    });
    let mut orderer = json!({
        "BatchTimeout": net.settings.batch_timeout,
        "BatchSize": {
            "MaxMessageCount": net.settings.max_message_count,
            "AbsoluteMaxBytes": "10 MB",
            "PreferredMaxBytes": "2 MB",
        },
        "Organizations": members.iter().map(|&n| orderer_org(net, n, channel)).collect::<Vec<_>>(),
        "Policies": {
            "Readers": implicit("ANY Readers"),
            "Writers": implicit("ANY Writers"),
            "Admins": implicit("MAJORITY Admins"),
            "BlockValidation": implicit("ANY Writers"),
        },
        "Capabilities": capabilities["Orderer"],
    });
    let orderers = channel.orderers(net);
    match channel.consensus(net) {
        Consensus::Raft => {
            orderer["OrdererType"] = json!("etcdraft");
            orderer["EtcdRaft"] = json!({
                "Consenters": orderers.iter().map(|&o| consenter(net, o, None)).collect::<Vec<_>>(),
                "Options": {
                    "TickInterval": "250ms", "ElectionTick": 10, "HeartbeatTick": 1,
                    "MaxInflightBlocks": 5, "SnapshotIntervalSize": "16 MB",
                },
            });
        }
        Consensus::Bft => {
            orderer["OrdererType"] = json!("BFT");
            orderer["ConsenterMapping"] =
                json!(orderers.iter().map(|&o| consenter(net, o, Some(bft_id(o)))).collect::<Vec<_>>());
            // BFT batches by RequestBatchMaxInterval rather than BatchTimeout: keep them equal.
            orderer["SmartBFT"] = json!({
                "RequestBatchMaxInterval": net.settings.batch_timeout,
                "RequestBatchMaxCount": net.settings.max_message_count,
                "RequestForwardTimeout": "2s",
                "RequestComplainTimeout": "20s",
                "RequestAutoRemoveTimeout": "3m0s",
                "ViewChangeResendInterval": "5s",
                "ViewChangeTimeout": "20s",
                "LeaderHeartbeatTimeout": "1m0s",
                "LeaderHeartbeatCount": 10,
                "CollectTimeout": "1s",
                "IncomingMessageBufferSize": 200,
                "RequestPoolSize": 100000,
            });
        }
    }
    let application = json!({
        "Organizations": members.iter().map(|&n| application_org(net, n)).collect::<Vec<_>>(),
        "Policies": {
            "Readers": implicit("ANY Readers"),
            "Writers": implicit("ANY Writers"),
            "Admins": implicit("MAJORITY Admins"),
            "LifecycleEndorsement": implicit("MAJORITY Endorsement"),
            "Endorsement": implicit("MAJORITY Endorsement"),
        },
        "Capabilities": capabilities["Application"],
    });
    json!({
        "Profiles": {
            channel.name(): {
                "Policies": admins_policies,
                "Capabilities": capabilities["Channel"],
                "Orderer": orderer,
                "Application": application,
            }
        }
    })
}

fn configtxgen(net: &Net, dir: &Path) -> Command {
    let mut command = clean_command(net.tool("configtxgen"));
    command.env("FABRIC_LOGGING_SPEC", "warning").args(["-configPath", &dir.display().to_string()]);
    command
}

/// Writes the channel's configtx and makes its genesis block (once); returns the block's path.
pub fn genesis_block(net: &Net, channel: Channel) -> Result<PathBuf> {
    let dir = net.paths.channels().join(channel.name());
    let block = dir.join("genesis.block");
    if block.is_file() {
        return Ok(block);
    }
    files::write_json(&dir.join("configtx.yaml"), &document(net, channel))?;
    let mut command = configtxgen(net, &dir);
    command.args(["-profile", &channel.name(), "-channelID", &channel.name(), "-outputBlock"]).arg(&block);
    net.run(None, &format!("configtxgen: genesis block of {}", channel.name()), &mut command)?;
    Ok(block)
}

/// Member `n`'s organisation definition for `channel`: its Application and Orderer groups as
/// configtxgen prints them (JSON of the config groups), what the other members add on its join.
pub fn org_groups(net: &Net, n: u8, channel: Channel) -> Result<(Value, Value)> {
    let dir = net.org(n).dir.join("definition");
    let msp = format!("Org{n}MSP");
    let mut groups = Vec::new();
    for (flavour, org) in [("application", application_org(net, n)), ("orderer", orderer_org(net, n, channel))] {
        let sub = dir.join(flavour);
        let capabilities = document(net, channel)["Profiles"][channel.name()]["Capabilities"].clone();
        files::write_json(
            &sub.join("configtx.yaml"),
            &json!({"Organizations": [org], "Capabilities": {"Channel": capabilities}}),
        )?;
        let mut command = configtxgen(net, &sub);
        command.args(["-printOrg", &msp]);
        let printed = net.run(None, &format!("configtxgen -printOrg {msp} ({flavour})"), &mut command)?;
        groups.push(serde_json::from_str::<Value>(&printed).with_context(|| format!("configtxgen -printOrg {msp}"))?);
    }
    let orderer = groups.pop().unwrap_or_default();
    let application = groups.pop().unwrap_or_default();
    Ok((application, orderer))
}
