//! The one layout of a vmledger network: every process, port and path, derived from the settings.
//! Nothing else in the tool (or in the files it writes for clients) computes a port or a path.
//!
//! Ports: member `n` (1-based) owns the block `base + 100 (n - 1) .. + 99`:
//!
//! | offset | process | what |
//! | --- | --- | --- |
//! | +0, +1, +2 | `peer0.orgN` | gRPC, chaincode listener, operations (`/healthz`, `/metrics`) |
//! | +10 + 3k, +11 + 3k, +12 + 3k | `ordererK.orgN` (k < 3) | gRPC, admin (osnadmin), operations |
//! | +20, +21, +22 | `lorderer.orgN` | the member's local-chain orderer: gRPC, admin, operations |
//! | +30, +31 | `ca.orgN` | Fabric CA (TLS), operations |
//! | +40 | `ccaas.orgN` | chaincode server (the peer dials it) |
//! | +50 | `proxy.orgN` | gateway REST proxy |
//! | +60 | `relay.orgN` | the Leave/Arrival relay's status endpoint |
//! | +70, +71 + i | `toxiproxy.orgN` | (`up --faults`) its API; its link to federation orderer i |

use std::fmt;
use std::path::{Path, PathBuf};

/// The DNS-style domain of every node name (TLS certificates carry `peer0.org1.vmledger.local` too).
pub const DOMAIN: &str = "vmledger.local";
/// The chaincode every channel runs (the contract's own name for itself).
pub use vmledger_contract::vocabulary::CHAINCODE;
/// The channel every member keeps: inter-cloud migrations (BASICS' consortium chain).
pub use vmledger_contract::vocabulary::FEDERATION_CHANNEL as FEDERATION;
/// The most orderers one member may run on the federation channel.
pub const MAX_ORDERERS_PER_MEMBER: u8 = 3;
/// Members one network (one port block each) can hold.
pub const MAX_MEMBERS: u8 = 9;

/// The local chain of member `org` (BASICS: each cloud's own chain), joined by its peer only. A
/// member's org name is its namespace (`org1`, MSP `Org1MSP`).
pub fn local_channel(org: &str) -> String {
    vmledger_contract::vocabulary::local_channel(org)
}

/// A process of the network, by member (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node {
    Ca(u8),
    /// A federation orderer: member, index.
    Orderer(u8, u8),
    /// The orderer of the member's local chain.
    LocalOrderer(u8),
    Peer(u8),
    Chaincode(u8),
    Proxy(u8),
    Relay(u8),
    /// (`up --faults`) The TCP proxy the member's peer reaches the federation's orderers through.
    Toxiproxy(u8),
}

impl Node {
    pub fn member(&self) -> u8 {
        match *self {
            Node::Ca(n)
            | Node::Orderer(n, _)
            | Node::LocalOrderer(n)
            | Node::Peer(n)
            | Node::Chaincode(n)
            | Node::Proxy(n)
            | Node::Relay(n)
            | Node::Toxiproxy(n) => n,
        }
    }

    /// The order processes start in (and stop in reverse): CA, orderers (and the links to them), peer,
    /// chaincode, proxy, relay.
    pub fn rank(&self) -> u8 {
        match self {
            Node::Ca(_) => 0,
            Node::Orderer(..) | Node::LocalOrderer(_) | Node::Toxiproxy(_) => 1,
            Node::Peer(_) => 2,
            Node::Chaincode(_) => 3,
            Node::Proxy(_) => 4,
            Node::Relay(_) => 5,
        }
    }

    /// Parses a name as [`fmt::Display`] writes it (`peer0.org1`, `orderer1.org2`, `ca.org3`…).
    pub fn parse(name: &str) -> Option<Node> {
        let (kind, org) = name.split_once('.')?;
        let n: u8 = org.strip_prefix("org")?.parse().ok().filter(|n| (1..=MAX_MEMBERS).contains(n))?;
        Some(match kind {
            "ca" => Node::Ca(n),
            "lorderer" => Node::LocalOrderer(n),
            "peer0" => Node::Peer(n),
            "ccaas" => Node::Chaincode(n),
            "proxy" => Node::Proxy(n),
            "relay" => Node::Relay(n),
            "toxiproxy" => Node::Toxiproxy(n),
            _ => {
                let k: u8 = kind.strip_prefix("orderer")?.parse().ok()?;
                (k < MAX_ORDERERS_PER_MEMBER).then_some(Node::Orderer(n, k))?
            }
        })
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Ca(n) => write!(f, "ca.org{n}"),
            Node::Orderer(n, k) => write!(f, "orderer{k}.org{n}"),
            Node::LocalOrderer(n) => write!(f, "lorderer.org{n}"),
            Node::Peer(n) => write!(f, "peer0.org{n}"),
            Node::Chaincode(n) => write!(f, "ccaas.org{n}"),
            Node::Proxy(n) => write!(f, "proxy.org{n}"),
            Node::Relay(n) => write!(f, "relay.org{n}"),
            Node::Toxiproxy(n) => write!(f, "toxiproxy.org{n}"),
        }
    }
}

/// The ports of one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    block: u16,
}

impl Ports {
    pub fn of(base: u16, member: u8) -> Ports {
        Ports { block: base + 100 * (u16::from(member) - 1) }
    }

    pub fn peer(&self) -> u16 {
        self.block
    }
    pub fn peer_chaincode(&self) -> u16 {
        self.block + 1
    }
    pub fn peer_operations(&self) -> u16 {
        self.block + 2
    }
    pub fn orderer(&self, k: u8) -> u16 {
        self.block + 10 + 3 * u16::from(k)
    }
    pub fn orderer_admin(&self, k: u8) -> u16 {
        self.orderer(k) + 1
    }
    pub fn orderer_operations(&self, k: u8) -> u16 {
        self.orderer(k) + 2
    }
    pub fn local_orderer(&self) -> u16 {
        self.block + 20
    }
    pub fn local_orderer_admin(&self) -> u16 {
        self.block + 21
    }
    pub fn local_orderer_operations(&self) -> u16 {
        self.block + 22
    }
    pub fn ca(&self) -> u16 {
        self.block + 30
    }
    pub fn ca_operations(&self) -> u16 {
        self.block + 31
    }
    pub fn chaincode(&self) -> u16 {
        self.block + 40
    }
    pub fn proxy(&self) -> u16 {
        self.block + 50
    }
    pub fn relay(&self) -> u16 {
        self.block + 60
    }
    /// The API of the member's toxiproxy (`up --faults`).
    pub fn toxiproxy(&self) -> u16 {
        self.block + 70
    }
    /// Where the member's toxiproxy listens for federation orderer `ordererK.orgM`: one port per
    /// orderer the network may have, so a member joining later changes no one else's.
    pub fn toxiproxy_orderer(&self, m: u8, k: u8) -> u16 {
        self.toxiproxy() + 1 + u16::from(MAX_ORDERERS_PER_MEMBER) * (u16::from(m) - 1) + u16::from(k)
    }

    /// Every port `node` listens on (checked free before it starts).
    pub fn of_node(&self, node: Node) -> Vec<u16> {
        match node {
            Node::Ca(_) => vec![self.ca(), self.ca_operations()],
            Node::Orderer(_, k) => vec![self.orderer(k), self.orderer_admin(k), self.orderer_operations(k)],
            Node::LocalOrderer(_) => {
                vec![self.local_orderer(), self.local_orderer_admin(), self.local_orderer_operations()]
            }
            Node::Peer(_) => vec![self.peer(), self.peer_chaincode(), self.peer_operations()],
            Node::Chaincode(_) => vec![self.chaincode()],
            Node::Proxy(_) => vec![self.proxy()],
            Node::Relay(_) => vec![self.relay()],
            Node::Toxiproxy(_) => {
                let mut ports = vec![self.toxiproxy()];
                for m in 1..=MAX_MEMBERS {
                    ports.extend((0..MAX_ORDERERS_PER_MEMBER).map(|k| self.toxiproxy_orderer(m, k)));
                }
                ports
            }
        }
    }

    /// The operations (health and metrics) port of a node, if it has one.
    pub fn operations(&self, node: Node) -> Option<u16> {
        match node {
            Node::Ca(_) => Some(self.ca_operations()),
            Node::Orderer(_, k) => Some(self.orderer_operations(k)),
            Node::LocalOrderer(_) => Some(self.local_orderer_operations()),
            Node::Peer(_) => Some(self.peer_operations()),
            Node::Proxy(_) => Some(self.proxy()),
            Node::Relay(_) => Some(self.relay()),
            Node::Chaincode(_) | Node::Toxiproxy(_) => None,
        }
    }
}

/// Paths under the run folder (`network/run`): everything generated, never committed.
#[derive(Debug, Clone)]
pub struct Paths {
    pub run: PathBuf,
}

impl Paths {
    pub fn new(run: impl Into<PathBuf>) -> Paths {
        Paths { run: run.into() }
    }

    pub fn settings(&self) -> PathBuf {
        self.run.join("net.json")
    }
    pub fn lock(&self) -> PathBuf {
        self.run.join(".lock")
    }
    pub fn logs(&self) -> PathBuf {
        self.run.join("logs")
    }
    pub fn log(&self, name: &str) -> PathBuf {
        self.logs().join(format!("{name}.log"))
    }
    pub fn pids(&self) -> PathBuf {
        self.run.join("pids")
    }
    pub fn pid(&self, name: &str) -> PathBuf {
        self.pids().join(format!("{name}.pid"))
    }
    pub fn data(&self, node: Node) -> PathBuf {
        self.run.join("data").join(node.to_string())
    }
    /// `core.yaml` and `orderer.yaml` (Fabric's sample files; everything else is set by environment).
    pub fn fabric_config(&self) -> PathBuf {
        self.run.join("config")
    }
    pub fn channels(&self) -> PathBuf {
        self.run.join("channels")
    }
    pub fn chaincode(&self) -> PathBuf {
        self.run.join("chaincode")
    }
    pub fn proxy_config(&self, org: &str) -> PathBuf {
        self.run.join("proxy").join(format!("{org}.json"))
    }
    /// (`up --faults`) A member's toxiproxy configuration: its links to the federation's orderers.
    pub fn toxiproxy_config(&self, org: &str) -> PathBuf {
        self.run.join("toxiproxy").join(format!("{org}.json"))
    }
    /// (`up --faults`) A peer's own `core.yaml` folder: the shared one with its orderer overrides.
    pub fn peer_config(&self, node: Node) -> PathBuf {
        self.fabric_config().join(node.to_string())
    }
    pub fn relay_state(&self, org: &str) -> PathBuf {
        self.run.join("relay").join(org)
    }
    pub fn members(&self) -> PathBuf {
        self.run.join("members.json")
    }
    pub fn network(&self) -> PathBuf {
        self.run.join("network.json")
    }
    pub fn keys(&self) -> PathBuf {
        self.run.join("keys.json")
    }
    pub fn profile(&self, org: &str) -> PathBuf {
        self.run.join("profiles").join(format!("{org}.json"))
    }
    pub fn prometheus(&self) -> PathBuf {
        self.run.join("monitoring").join("prometheus.yml")
    }
    pub fn org(&self, org: &str) -> OrgPaths {
        OrgPaths { dir: self.run.join("orgs").join(org) }
    }
}

/// One member's folder: what would live on that member's own machine.
#[derive(Debug, Clone)]
pub struct OrgPaths {
    pub dir: PathBuf,
}

impl OrgPaths {
    /// The CA server's home (its key, certificate and database).
    pub fn ca_home(&self) -> PathBuf {
        self.dir.join("ca")
    }
    /// The CA's root certificate: the org's root of trust, for identities and TLS alike.
    pub fn ca_cert(&self) -> PathBuf {
        self.ca_home().join("ca-cert.pem")
    }
    /// The CA registrar's client home (enrolled bootstrap identity).
    pub fn registrar(&self) -> PathBuf {
        self.dir.join("registrar")
    }
    /// The organisation's public MSP: what the channel configuration carries.
    pub fn msp(&self) -> PathBuf {
        self.dir.join("msp")
    }
    /// A node's own MSP and TLS material (`peer0`, `orderer0`, `lorderer`).
    pub fn node(&self, name: &str) -> PathBuf {
        self.dir.join("nodes").join(name)
    }
    /// A user's MSP (`admin`, `manager`, `operator`, `relay`).
    pub fn user_msp(&self, name: &str) -> PathBuf {
        self.dir.join("users").join(name).join("msp")
    }
    /// The organisation definition handed to the other members when it joins.
    pub fn definition(&self) -> PathBuf {
        self.dir.join("definition.json")
    }
}

/// A node's certificate and key inside its folder (as fabric-ca-client writes them).
pub fn signcert(msp: &Path) -> PathBuf {
    msp.join("signcerts").join("cert.pem")
}

/// The TLS material of a node: `tls/server.crt`, `tls/server.key`, `tls/ca.crt`.
pub fn tls(node_dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let tls = node_dir.join("tls");
    (tls.join("server.crt"), tls.join("server.key"), tls.join("ca.crt"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_name_parses_back() {
        for n in 1..=MAX_MEMBERS {
            for node in [
                Node::Ca(n),
                Node::Orderer(n, 0),
                Node::Orderer(n, 2),
                Node::LocalOrderer(n),
                Node::Peer(n),
                Node::Chaincode(n),
                Node::Proxy(n),
                Node::Relay(n),
                Node::Toxiproxy(n),
            ] {
                assert_eq!(Node::parse(&node.to_string()), Some(node), "{node}");
            }
        }
        for bad in ["peer1.org1", "orderer3.org1", "ca.org0", "ca.org10", "proxy", "x.org1"] {
            assert_eq!(Node::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn no_two_nodes_share_a_port() {
        let mut seen = std::collections::BTreeMap::new();
        for n in 1..=MAX_MEMBERS {
            let ports = Ports::of(7000, n);
            let mut nodes = vec![
                Node::Ca(n),
                Node::LocalOrderer(n),
                Node::Peer(n),
                Node::Chaincode(n),
                Node::Proxy(n),
                Node::Relay(n),
                Node::Toxiproxy(n),
            ];
            nodes.extend((0..MAX_ORDERERS_PER_MEMBER).map(|k| Node::Orderer(n, k)));
            for node in nodes {
                for port in ports.of_node(node) {
                    if let Some(other) = seen.insert(port, node) {
                        panic!("{node} and {other} both use port {port}");
                    }
                }
            }
        }
    }
}
