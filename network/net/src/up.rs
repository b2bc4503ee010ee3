//! `up`: creates the network on first use, starts whatever of it is not running, brings the
//! chaincode up to date, and waits until every part is healthy. A second `up` changes nothing.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

use crate::chaincode;
use crate::configtx::Channel;
use crate::layout::Node;
use crate::net::Net;
use crate::nodes::{self, has_leader};
use crate::{ca, files, outputs, process, relay, services};

/// Runs `step` for every active member at once (each on its own thread); the first error wins.
pub fn each_member(net: &Net, step: impl Fn(u8) -> Result<()> + Sync) -> Result<()> {
    let members: Vec<u8> = net.members().map(|m| m.n).collect();
    std::thread::scope(|scope| {
        let step = &step;
        let handles: Vec<_> = members.iter().map(|&n| scope.spawn(move || step(n))).collect();
        handles.into_iter().try_for_each(|h| h.join().map_err(|_| anyhow!("a bring-up thread panicked"))?)
    })
}

fn mark(t0: Instant, what: &str) {
    if std::env::var_os("VMLEDGER_NET_TRACE").is_some() {
        crate::say(&format!("+{} ms {what}", t0.elapsed().as_millis()));
    }
}

/// The Docker endpoint of Fabric's sample core.yaml. Chaincode runs as a service here, and a set
/// endpoint makes the peer's health check ping a Docker daemon that does not exist. An empty
/// environment variable cannot unset it (Fabric's configuration ignores empty variables).
const SAMPLE_DOCKER_ENDPOINT: &str = "\n  endpoint: unix:///var/run/docker.sock\n";

/// Fabric's sample core.yaml and orderer.yaml, under the run folder (everything else is set by
/// environment variables per process), core.yaml without its Docker endpoint.
fn write_fabric_config(net: &Net) -> Result<()> {
    let from = net.root.join(".tools/fabric-config");
    let dir = net.paths.fabric_config();
    if !dir.join("orderer.yaml").is_file() {
        files::copy(&from.join("orderer.yaml"), &dir.join("orderer.yaml"))?;
    }
    if !dir.join("core.yaml").is_file() {
        let sample = std::fs::read_to_string(from.join("core.yaml"))?;
        anyhow::ensure!(
            sample.matches(SAMPLE_DOCKER_ENDPOINT).count() == 1,
            "Fabric's sample core.yaml no longer has exactly one `{}`: update network/net/src/up.rs",
            SAMPLE_DOCKER_ENDPOINT.trim()
        );
        files::write(&dir.join("core.yaml"), sample.replace(SAMPLE_DOCKER_ENDPOINT, "\n  endpoint:\n").as_bytes())?;
    }
    Ok(())
}

/// Starts the orderers of `channel` (if needed), joins them and waits for a leader. A restarted
/// orderer now and then replays its Raft log without its own voter configuration and never
/// campaigns (seen on Fabric 2.5); a second start replays it whole: restart once.
fn order(net: &Net, channel: Channel) -> Result<()> {
    let name = channel.name();
    let orderers = channel.orderers(net);
    let block = crate::configtx::genesis_block(net, channel)?;
    for &node in &orderers {
        nodes::wait_healthy(net, node)?;
        nodes::join_orderer(net, node, &name, &block)?;
    }
    let bft = channel.consensus(net) == crate::settings::Consensus::Bft;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !has_leader(net, &orderers, &name, bft) {
        if Instant::now() > deadline {
            crate::say(&format!("no leader for {name} after 20 s: restarting its orderers once"));
            for &node in &orderers {
                process::stop(&net.paths, &node.to_string())?;
                nodes::start_orderer(net, node)?;
                nodes::wait_healthy(net, node)?;
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let first = orderers[0].to_string();
    process::wait_until(&net.paths, &first, &format!("a leader for {name}"), net.timeout, || {
        has_leader(net, &orderers, &name, bft)
    })
}

pub fn up(net: &Net) -> Result<()> {
    let t0 = Instant::now();
    let before: Vec<Node> =
        all_nodes(net).into_iter().filter(|n| !process::is_running(&net.paths, &n.to_string())).collect();
    write_fabric_config(net)?;

    // Each member's CA and identities (created once, kept).
    each_member(net, |n| {
        ca::start(net, n)?;
        ca::enroll_member(net, n)
    })?;
    mark(t0, "CAs up, identities enrolled");

    for channel in Channel::all(net) {
        crate::configtx::genesis_block(net, channel)?;
    }
    for member in net.members() {
        for node in orderer_nodes(net, member.n) {
            nodes::start_orderer(net, node)?;
        }
        if net.settings.faults {
            crate::faults::start(net, member.n)?;
        }
        nodes::start_peer(net, member.n)?;
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = Channel::all(net).into_iter().map(|c| scope.spawn(move || order(net, c))).collect();
        handles.into_iter().try_for_each(|h| h.join().map_err(|_| anyhow!("an ordering thread panicked"))?)
    })?;
    mark(t0, "orderers joined, leaders elected");

    each_member(net, |n| {
        nodes::wait_healthy(net, Node::Peer(n))?;
        for channel in Channel::of_member(n) {
            nodes::join_peer(net, n, channel, &net.paths.channels().join(channel.name()).join("genesis.block"))?;
        }
        Ok(())
    })?;
    mark(t0, "peers joined");

    let label = chaincode::label(net)?;
    let mut package_ids = std::collections::BTreeMap::new();
    for member in net.members() {
        package_ids.insert(member.n, chaincode::install(net, &label, member.n)?);
    }
    let ids = |n: u8| package_ids.get(&n).cloned().unwrap_or_default();
    let mut changed = false;
    for channel in Channel::all(net) {
        changed |= chaincode::define(net, channel, &label, &ids, chaincode::Collections::Current)?;
    }
    files::write(&net.paths.chaincode().join("label"), label.as_bytes())?;
    mark(t0, "chaincode defined");

    let others = net.members().count().saturating_sub(1);
    each_member(net, |n| {
        let peer = Node::Peer(n).to_string();
        process::wait_until(
            &net.paths,
            &peer,
            &format!("gossip view of the {others} other peer(s)"),
            net.timeout,
            || nodes::peers_known(net, n, crate::layout::FEDERATION) >= others,
        )?;
        for channel in Channel::of_member(n) {
            let server = Node::Chaincode(n).to_string();
            let what = format!("an answer to Ping on {} through {peer}", channel.name());
            process::wait_until(&net.paths, &server, &what, net.timeout, || {
                chaincode::answers_ping(net, n, &channel.name())
            })?;
        }
        Ok(())
    })?;
    mark(t0, "peers see each other, chaincode answers");

    outputs::write_all(net)?;
    for member in net.members() {
        services::start_proxy(net, member.n)?;
    }
    each_member(net, |n| services::wait_proxy(net, n))?;
    mark(t0, "proxies ready");
    for member in net.members() {
        relay::start(net, member.n)?;
    }
    each_member(net, |n| relay::wait(net, n))?;
    mark(t0, "relays following the federation");

    let members = net.members().count();
    let orderers = members * usize::from(net.settings.orderers_per_member);
    if before.is_empty() && !changed {
        crate::say(&format!("already up ({members} members); clients read {}", crate::shown(&net.paths.members())));
    } else {
        crate::say(&format!(
            "ready in {:.1} s: {members} members, {orderers} federation orderer(s) ({:?}), Fabric {}, chaincode {label}; clients read {}",
            t0.elapsed().as_secs_f64(),
            net.settings.consensus,
            net.settings.fabric,
            crate::shown(&net.paths.members())
        ));
    }
    Ok(())
}

/// The orderers member `n` runs: its federation orderers and its local-chain orderer.
pub fn orderer_nodes(net: &Net, n: u8) -> Vec<Node> {
    let mut nodes: Vec<Node> = (0..net.settings.orderers_per_member).map(|k| Node::Orderer(n, k)).collect();
    nodes.push(Node::LocalOrderer(n));
    nodes
}

/// Every process of the members present (active or joining), in start order.
pub fn all_nodes(net: &Net) -> Vec<Node> {
    let mut all = Vec::new();
    for member in net.settings.present() {
        let n = member.n;
        all.push(Node::Ca(n));
        all.extend(orderer_nodes(net, n));
        if net.settings.faults {
            all.push(Node::Toxiproxy(n));
        }
        all.extend([Node::Peer(n), Node::Chaincode(n), Node::Proxy(n), Node::Relay(n)]);
    }
    all.sort_by_key(|node| (node.rank(), *node));
    all
}
