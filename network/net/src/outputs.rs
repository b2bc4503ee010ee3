//! What the network writes for the programs that use it, all derived from the settings and the
//! layout: `members.json` (the SDK, CLI and tests), each member's proxy configuration, `network.json`
//! (the peer-CLI tests), Fabric connection profiles (Caliper, Explorer, the gateway samples) and a
//! Prometheus scrape configuration for every operations endpoint.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{Value, json};

use crate::ca::{APPLICATION_IDENTITIES, identity_files};
use crate::configtx::{Channel, orderer_endpoint};
use crate::files;
use crate::layout::{CHAINCODE, DOMAIN, FEDERATION, Node, local_channel};
use crate::net::Net;
use crate::nodes::operations_url;

/// The cloud each member runs in the demo federation (fixtures/federation.json).
fn cloud_hint(n: u8) -> String {
    format!("cloud-{}", char::from(b'a' + n - 1))
}

/// API keys per member and identity: made once, kept across `down`/`up` (`keys.json`).
fn api_keys(net: &Net) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let path = net.paths.keys();
    let mut keys: BTreeMap<String, BTreeMap<String, String>> = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)?,
        Err(_) => BTreeMap::new(),
    };
    for member in net.members() {
        let of_member = keys.entry(member.org()).or_default();
        for identity in APPLICATION_IDENTITIES {
            if !of_member.contains_key(identity) {
                of_member.insert(identity.to_owned(), crate::ca::random_secret()?);
            }
        }
    }
    files::write_json(&path, &keys)?;
    Ok(keys)
}

fn peer_ref(net: &Net, n: u8) -> Value {
    json!({
        "endpoint": net.address(n, net.ports(n).peer()),
        "hostAlias": format!("peer0.org{n}.{DOMAIN}"),
        "tlsRootCert": net.org(n).ca_cert(),
    })
}

fn identities(net: &Net, n: u8) -> Result<Value> {
    let org = net.org(n);
    let mut out = serde_json::Map::new();
    for identity in APPLICATION_IDENTITIES {
        let (cert, key) = identity_files(&org, identity)?;
        out.insert(identity.to_owned(), json!({"cert": cert, "key": key}));
    }
    Ok(Value::Object(out))
}

/// Writes every output file.
pub fn write_all(net: &Net) -> Result<()> {
    let keys = api_keys(net)?;
    let mut members = Vec::new();
    for member in net.members() {
        let n = member.n;
        let org = member.org();
        let member_keys = &keys[&org];
        let identities = identities(net, n)?;
        let proxy_url = format!("http://{}", net.address(n, net.ports(n).proxy()));
        members.push(json!({
            "org": org,
            "mspId": member.msp_id(),
            "cloudHint": cloud_hint(n),
            "localChannel": local_channel(&org),
            "peer": peer_ref(net, n),
            "proxy": {"url": proxy_url},
            "relay": {"url": crate::relay::url(net, n)},
            "apiKeys": member_keys,
            "identities": identities,
        }));
        let api_keys: Vec<Value> = APPLICATION_IDENTITIES
            .iter()
            .map(|identity| json!({"key": member_keys[*identity], "identity": identity}))
            .collect();
        files::write_json(
            &net.paths.proxy_config(&org),
            &json!({
                "listen": {"host": net.host(n), "port": net.ports(n).proxy()},
                "mspId": member.msp_id(),
                "peer": peer_ref(net, n),
                "identities": identities,
                "apiKeys": api_keys,
                "defaults": {"channel": FEDERATION, "chaincode": CHAINCODE},
                "limits": {
                    "bodyBytes": 1_048_576, "inFlight": 512, "endorseMs": 15000, "submitMs": 5000,
                    "commitMs": 60000, "evaluateMs": 5000,
                },
            }),
        )?;
        files::write_json(&net.paths.profile(&org), &connection_profile(net, n))?;
    }
    files::write_json(
        &net.paths.members(),
        &json!({"channel": FEDERATION, "chaincode": CHAINCODE, "members": members}),
    )?;
    files::write_json(&net.paths.network(), &network_description(net))?;
    files::write_json(&net.paths.prometheus(), &prometheus(net))
}

/// Orderers, peers and admin identities, for tests that drive Fabric with its own CLI.
fn network_description(net: &Net) -> Value {
    let orderers: Vec<Value> = Channel::all(net)
        .iter()
        .flat_map(|c| c.orderers(net).into_iter().map(move |o| (c.name(), o)))
        .map(|(channel, node)| {
            let n = node.member();
            json!({
                "name": node.to_string(),
                "channel": channel,
                "mspId": format!("Org{n}MSP"),
                "endpoint": orderer_endpoint(net, node),
                "tlsCa": net.org(n).ca_cert(),
                "operations": operations_url(net, node),
            })
        })
        .collect();
    let peers: Vec<Value> = net
        .members()
        .map(|m| {
            let n = m.n;
            let org = net.org(n);
            json!({
                "org": m.org(),
                "mspId": m.msp_id(),
                "endpoint": net.address(n, net.ports(n).peer()),
                "hostAlias": format!("peer0.org{n}.{DOMAIN}"),
                "tlsRootCert": org.ca_cert(),
                "operations": operations_url(net, Node::Peer(n)),
                "chaincodeServer": net.address(n, net.ports(n).chaincode()),
                "localChannel": local_channel(&m.org()),
                "adminMsp": org.user_msp("admin"),
                // The peer's own signing identity: tests sign endorsements with it, as its member can.
                "nodeMsp": org.node("peer0").join("msp"),
                "identities": APPLICATION_IDENTITIES.iter().map(|i| (i.to_string(), org.user_msp(i))).collect::<BTreeMap<_, _>>(),
            })
        })
        .collect();
    json!({
        "channel": FEDERATION,
        "chaincode": CHAINCODE,
        "fabric": net.settings.fabric,
        "consensus": net.settings.consensus,
        "fabricCfgPath": net.paths.fabric_config(),
        "orderers": orderers,
        "peers": peers,
    })
}

/// A Fabric common connection profile (version 1.0) for member `n`: its organisation, CA and
/// every member's peer on the federation channel.
fn connection_profile(net: &Net, n: u8) -> Value {
    let mut organizations = serde_json::Map::new();
    let mut peers = serde_json::Map::new();
    let mut cas = serde_json::Map::new();
    for member in net.members() {
        let m = member.n;
        let peer_name = format!("peer0.org{m}.{DOMAIN}");
        let ca_name = format!("ca.org{m}.{DOMAIN}");
        organizations.insert(
            member.msp_id(),
            json!({"mspid": member.msp_id(), "peers": [peer_name], "certificateAuthorities": [ca_name]}),
        );
        peers.insert(
            peer_name.clone(),
            json!({
                "url": format!("grpcs://{}", net.address(m, net.ports(m).peer())),
                "tlsCACerts": {"path": net.org(m).ca_cert()},
                "grpcOptions": {"ssl-target-name-override": peer_name, "hostnameOverride": peer_name},
            }),
        );
        cas.insert(
            ca_name,
            json!({
                "url": format!("https://{}", net.address(m, net.ports(m).ca())),
                "caName": format!("ca-org{m}"),
                "tlsCACerts": {"path": net.org(m).ca_cert()},
                "httpOptions": {"verify": true},
            }),
        );
    }
    let channel_peers: serde_json::Map<String, Value> = peers
        .keys()
        .map(|p| {
            (
                p.clone(),
                json!({"endorsingPeer": true, "chaincodeQuery": true, "ledgerQuery": true, "eventSource": true}),
            )
        })
        .collect();
    json!({
        "name": format!("vmledger-org{n}"),
        "version": "1.0.0",
        "client": {"organization": format!("Org{n}MSP"), "connection": {"timeout": {"peer": {"endorser": "30"}}}},
        "channels": {FEDERATION: {"peers": channel_peers}},
        "organizations": organizations,
        "peers": peers,
        "certificateAuthorities": cas,
    })
}

/// Prometheus scrape jobs for every operations endpoint, labelled by member.
fn prometheus(net: &Net) -> Value {
    let mut jobs: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for member in net.members() {
        let n = member.n;
        let mut nodes = vec![
            (Node::Peer(n), "fabric-peers"),
            (Node::Ca(n), "fabric-cas"),
            (Node::LocalOrderer(n), "fabric-orderers"),
        ];
        nodes.extend((0..net.settings.orderers_per_member).map(|k| (Node::Orderer(n, k), "fabric-orderers")));
        nodes.push((Node::Proxy(n), "vmledger-proxies"));
        nodes.push((Node::Relay(n), "vmledger-relays"));
        for (node, job) in nodes {
            if let Some(port) = net.ports(n).operations(node) {
                jobs.entry(job).or_default().push(json!({
                    "targets": [net.address(n, port)],
                    "labels": {"member": member.org(), "node": node.to_string()},
                }));
            }
        }
    }
    json!({
        "global": {"scrape_interval": "5s"},
        "scrape_configs": jobs.into_iter().map(|(job, targets)| json!({"job_name": job, "static_configs": targets})).collect::<Vec<_>>(),
    })
}
