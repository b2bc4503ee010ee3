//! Members joining and leaving a running federation.
//!
//! A new member first stands up on its own: its CA, identities, nodes and its local chain
//! (`prepare`). It then joins the federation channel through two configuration updates, each signed
//! by a majority of the existing members' admins (the channel's `MAJORITY Admins` policies): the
//! first adds its organisation (its MSP, anchor peer and orderer endpoints), after which its
//! orderers replicate the chain as followers; the second makes them consenters. Its peer joins from
//! the genesis block and catches up; it approves the chaincode definition; its proxy starts.
//!
//! Leaving is one update removing the organisation and its consenters; its processes stop, and
//! everything it did stays on the others' ledgers.

use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::configtx::Channel;
use crate::layout::{FEDERATION, Node};
use crate::net::Net;
use crate::settings::Standing;
use crate::update::{self, Change};
use crate::{ca, chaincode, nodes, outputs, process, services, up};

/// Stands member `n` up on its own: CA, identities, orderers, peer, chaincode server and its local
/// chain. It is not in the federation yet.
pub fn prepare(net: &Net, n: u8) -> Result<()> {
    ca::start(net, n)?;
    ca::enroll_member(net, n)?;
    let local = Channel::Local(n);
    let block = crate::configtx::genesis_block(net, local)?;
    for node in up::orderer_nodes(net, n) {
        nodes::start_orderer(net, node)?;
    }
    nodes::start_peer(net, n)?;
    let lorderer = Node::LocalOrderer(n);
    nodes::wait_healthy(net, lorderer)?;
    nodes::join_orderer(net, lorderer, &local.name(), &block)?;
    process::wait_until(&net.paths, &lorderer.to_string(), "a leader for its local chain", net.timeout, || {
        nodes::has_leader(net, &[lorderer], &local.name(), false)
    })?;
    nodes::wait_healthy(net, Node::Peer(n))?;
    nodes::join_peer(net, n, local, &block)?;
    let label = chaincode::label(net)?;
    let id = chaincode::install(net, &label, n)?;
    chaincode::define(net, local, &label, &|_| id.clone(), chaincode::Collections::Current)?;
    Ok(())
}

/// Proposes `change`, has `signers` sign it, and submits it as the first signer. Returns the
/// configuration sequence it produced.
pub fn change_federation(net: &Net, change: Change, signers: &[u8]) -> Result<u64> {
    let first = *signers.first().context("no signer")?;
    let before = update::current_config(net, first)?;
    let after = update::apply(net, &before, change)?;
    let file = net.paths.channels().join(FEDERATION).join("updates").join("proposal.pb");
    update::propose(net, &before, &after, &file)?;
    for &n in signers {
        update::sign(net, &file, n)?;
    }
    update::submit(net, &file, first)?;
    let target = update::sequence(&before) + 1;
    let deadline = std::time::Instant::now() + net.timeout;
    loop {
        let now = update::sequence(&update::current_config(net, first)?);
        if now >= target {
            crate::say(&format!("{} (config sequence {now})", change.describe()));
            return Ok(now);
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "the update to {} was accepted but not committed within {} s",
                change.describe(),
                net.timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Completes member `n`'s join (it was prepared): both updates signed by `signers`, its orderers
/// and peer in the federation, the chaincode approved, its proxy ready.
pub fn join(net: &Net, n: u8, signers: &[u8]) -> Result<()> {
    change_federation(net, Change::AddOrg(n), signers)?;
    let block = update::latest_config_block(net, signers[0])?;
    let orderers: Vec<Node> = (0..net.settings.orderers_per_member).map(|k| Node::Orderer(n, k)).collect();
    for &node in &orderers {
        nodes::wait_healthy(net, node)?;
        nodes::join_orderer(net, node, FEDERATION, &block)?;
    }
    change_federation(net, Change::AddConsenters(n), signers)?;
    for &node in &orderers {
        process::wait_until(&net.paths, &node.to_string(), "consenter on the federation", net.timeout, || {
            nodes::orderer_channel(net, node, FEDERATION)
                .is_some_and(|c| c["status"] == "active" && c["consensusRelation"] == "consenter")
        })?;
    }
    // The peer joins from the genesis block and replays the chain from the orderers.
    let genesis = net.paths.channels().join(FEDERATION).join("genesis.block");
    nodes::join_peer(net, n, Channel::Federation, &genesis)?;
    // Until it has replayed the update that added its organisation, its own peer does not know it.
    let target = nodes::height(net, signers[0], FEDERATION).context("the federation's height")?;
    process::wait_until(
        &net.paths,
        &Node::Peer(n).to_string(),
        &format!("the federation's {target} blocks"),
        net.timeout,
        || nodes::height(net, n, FEDERATION).is_some_and(|h| h >= target),
    )
}

/// After the join: the chaincode approved by the newcomer, everyone seeing everyone, outputs and
/// the newcomer's proxy.
pub fn settle(net: &Net, n: u8) -> Result<()> {
    let label = chaincode::label(net)?;
    let id = chaincode::install(net, &label, n)?;
    chaincode::define(net, Channel::Federation, &label, &|_| id.clone(), chaincode::Collections::Committed)?;
    let others = net.members().count().saturating_sub(1);
    up::each_member(net, |m| {
        process::wait_until(
            &net.paths,
            &Node::Peer(m).to_string(),
            "gossip view of every other peer",
            net.timeout,
            || nodes::peers_known(net, m, FEDERATION) >= others,
        )
    })?;
    for channel in Channel::of_member(n) {
        process::wait_until(&net.paths, &Node::Chaincode(n).to_string(), "an answer to Ping", net.timeout, || {
            chaincode::answers_ping(net, n, &channel.name())
        })?;
    }
    outputs::write_all(net)?;
    services::start_proxy(net, n)?;
    services::wait_proxy(net, n)?;
    crate::relay::start(net, n)?;
    crate::relay::wait(net, n)
}

/// Member `n` leaves: the update removing it signed by every active member (it signs its own
/// removal), its processes stopped.
pub fn leave(net: &Net, n: u8) -> Result<()> {
    let active: Vec<u8> = net.members().map(|m| m.n).collect();
    if !active.contains(&n) {
        bail!("org{n} is not an active member");
    }
    if active.len() < 2 {
        bail!("org{n} is the last member: `vmledger-net clean` removes the whole network");
    }
    // Submitted by a member that stays, so the orderer it talks to remains in the channel.
    let mut signers: Vec<u8> = active.iter().copied().filter(|&m| m != n).collect();
    signers.push(n);
    change_federation(net, Change::Remove(n), &signers)?;
    let mut nodes = vec![Node::Proxy(n), Node::Relay(n), Node::Chaincode(n), Node::Peer(n)];
    nodes.extend(up::orderer_nodes(net, n));
    nodes.push(Node::Ca(n));
    for node in nodes {
        process::stop(&net.paths, &node.to_string())?;
    }
    Ok(())
}

/// After a member left: the federation's chaincode definition without it in the policies of its
/// pairs' collections. Fabric refuses to approve a definition whose collection policies name an
/// organisation outside the channel, so until this upgrade no member could join.
pub fn drop_from_collections(net: &Net) -> Result<()> {
    let label = chaincode::label(net)?;
    let mut ids = std::collections::BTreeMap::new();
    for member in net.members() {
        ids.insert(member.n, chaincode::install(net, &label, member.n)?);
    }
    let id_of = |m: u8| ids.get(&m).cloned().unwrap_or_default();
    chaincode::define(net, Channel::Federation, &label, &id_of, chaincode::Collections::Current)?;
    Ok(())
}

/// Marks member `n`'s standing in the saved settings.
pub fn set_standing(net: &mut Net, n: u8, standing: Standing) -> Result<()> {
    let member = net.settings.members.iter_mut().find(|m| m.n == n).context("no such member")?;
    member.standing = standing;
    net.settings.save(&net.paths.settings())
}
