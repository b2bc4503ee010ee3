//! The vmledger chaincode as a service: one chaincode server per member (serving every channel its
//! peer is on), one CCaaS package per member (the server's address differs), and the chaincode
//! definition on each channel, approved by each of the channel's members and committed.
//!
//! The label names what the servers run (the wasm contract and its Node host), so a change of either
//! is a new package and a new definition, upgraded by the next `up`.
//!
//! On the federation the definition also carries the private data collections: one per pair of
//! members (`terms-org1-org2`, named by the contract), where two clouds keep the prices of their
//! service terms. The definition's version is the label plus a hash of the collections, so a member
//! joining (new pairs) changes the version and the next `define` upgrades it at the next sequence.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::configtx::Channel;
use crate::files;
use crate::layout::{CHAINCODE, Node};
use crate::net::Net;
use crate::process;

/// The chaincode host package (`contract/chaincode`, or VMLEDGER_CHAINCODE_DIR).
pub fn host_dir(net: &Net) -> PathBuf {
    std::env::var_os("VMLEDGER_CHAINCODE_DIR").map_or_else(|| net.root.join("contract/chaincode"), PathBuf::from)
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>, keep: &dyn Fn(&Path) -> bool) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out, keep);
        } else if keep(&path) {
            out.push(path);
        }
    }
}

/// `vmledger_<12 hex of SHA-256 over the wasm and the host's sources>`.
pub fn label(net: &Net) -> Result<String> {
    let dir = host_dir(net);
    let mut inputs = Vec::new();
    files_under(&dir.join("wasm"), &mut inputs, &|p| p.extension().is_some_and(|e| e == "wasm"));
    if inputs.is_empty() {
        bail!("no chaincode wasm in {}/wasm: run scripts/install (it runs scripts/build-wasm)", crate::shown(&dir));
    }
    files_under(&dir.join("lib"), &mut inputs, &|p| p.extension().is_some_and(|e| e == "js"));
    inputs.push(dir.join("index.js"));
    inputs.push(dir.join("package-lock.json"));
    inputs.sort();
    let mut hash = Sha256::new();
    for input in &inputs {
        hash.update(std::fs::read(input).with_context(|| format!("reading {}", input.display()))?);
    }
    Ok(format!("{CHAINCODE}_{}", &hex::encode(hash.finalize())[..12]))
}

/// A tar.gz with fixed metadata, so the same inputs always give the same bytes (and package id).
fn tar_gz(entries: &[(&str, &[u8])]) -> Result<Vec<u8>> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut archive = tar::Builder::new(encoder);
    for (name, bytes) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_cksum();
        archive.append_data(&mut header, name, *bytes)?;
    }
    let mut encoder = archive.into_inner()?;
    encoder.flush()?;
    Ok(encoder.finish()?)
}

/// Member `n`'s CCaaS package: `metadata.json` (type ccaas) and `code.tar.gz` holding the
/// `connection.json` its peer dials.
pub fn package(net: &Net, label: &str, n: u8) -> Result<PathBuf> {
    let path = net.paths.chaincode().join(label).join(format!("org{n}.tar.gz"));
    if path.is_file() {
        return Ok(path);
    }
    let connection = json!({
        "address": net.address(n, net.ports(n).chaincode()),
        "dial_timeout": "10s",
        "tls_required": false,
    });
    let code = tar_gz(&[("connection.json", serde_json::to_vec(&connection)?.as_slice())])?;
    let metadata = serde_json::to_vec(&json!({"type": "ccaas", "label": label}))?;
    let package = tar_gz(&[("metadata.json", metadata.as_slice()), ("code.tar.gz", code.as_slice())])?;
    files::write(&path, &package)?;
    Ok(path)
}

fn package_id(label: &str, package: &Path) -> Result<String> {
    Ok(format!("{label}:{}", hex::encode(Sha256::digest(std::fs::read(package)?))))
}

fn pkgid_file(net: &Net, n: u8) -> PathBuf {
    net.paths.chaincode().join(format!("ccaas.org{n}.pkgid"))
}

/// Starts member `n`'s chaincode server for `package_id` (restarting it if it runs another).
pub fn start_server(net: &Net, n: u8, package_id: &str) -> Result<()> {
    let node = Node::Chaincode(n);
    let name = node.to_string();
    let current = std::fs::read_to_string(pkgid_file(net, n)).unwrap_or_default();
    if process::is_running(&net.paths, &name) {
        if current.trim() == package_id {
            return Ok(());
        }
        process::stop(&net.paths, &name)?;
    }
    let dir = host_dir(net);
    let shim = dir.join("node_modules/.bin/fabric-chaincode-node");
    if !shim.is_file() {
        bail!("{name}: {} is missing: run scripts/install", crate::shown(&shim));
    }
    let node_bin = process::which("node").context("node is not on PATH")?;
    let host = net.host(n).to_owned();
    let address = net.address(n, net.ports(n).chaincode());
    // A clean environment: fabric-shim reads every CORE_* variable as an option.
    let mut command = process::clean_command(node_bin);
    command.current_dir(&dir).arg(&shim).args([
        "server",
        "--chaincode-address",
        &address,
        "--chaincode-id",
        package_id,
    ]);
    process::start(&net.paths, &name, &host, &[net.ports(n).chaincode()], command)?;
    files::write(&pkgid_file(net, n), package_id.as_bytes())
}

/// Installs the package on member `n`'s peer (once) and makes sure its server runs it.
pub fn install(net: &Net, label: &str, n: u8) -> Result<String> {
    let package = package(net, label, n)?;
    let id = package_id(label, &package)?;
    let mut query = net.peer_cli(n);
    query.args(["lifecycle", "chaincode", "queryinstalled", "-O", "json"]);
    let installed = net.try_run(&format!("queryinstalled (org{n})"), &mut query).1;
    if !installed.contains(&id) {
        let mut command = net.peer_cli(n);
        command.args(["lifecycle", "chaincode", "install"]).arg(&package);
        net.run(Some(Node::Peer(n)), &format!("chaincode install (org{n})"), &mut command)?;
    }
    start_server(net, n, &id)?;
    Ok(id)
}

/// Which private data collections a definition carries (see [`define`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collections {
    Current,
    Committed,
}

/// The private data collections of the chaincode on `channel`: on the federation one per pair of
/// members that ever joined it, readable and writable by the pair's members only, endorsed by both.
/// A member that left stays in its pairs' names (Fabric refuses to drop a committed collection) but
/// not in their policies (nor may a policy name a member outside the channel). Local channels have
/// one member and no collections.
pub fn collections(net: &Net, channel: Channel) -> Value {
    if channel != Channel::Federation {
        return json!([]);
    }
    pair_collections(&net.settings.members)
}

fn pair_collections(members: &[crate::settings::Member]) -> Value {
    let ever: Vec<&crate::settings::Member> =
        members.iter().filter(|m| m.standing != crate::settings::Standing::Joining).collect();
    let mut out = Vec::new();
    for (i, a) in ever.iter().enumerate() {
        for b in &ever[i + 1..] {
            let mut present: Vec<String> = [a, b].iter().filter(|m| m.is_active()).map(|m| m.msp_id()).collect();
            if present.is_empty() {
                // Both left: the collection must stay and its policy name a member of the channel.
                // No transaction can write it any more (neither party can submit); the member named
                // reads only what its own peer holds of it, which is nothing.
                let Some(keeper) = members.iter().find(|m| m.is_active()) else { continue };
                present.push(keeper.msp_id());
            }
            let members = present.iter().map(|m| format!("'{m}.member'")).collect::<Vec<_>>().join(",");
            let peers = present.iter().map(|m| format!("'{m}.peer'")).collect::<Vec<_>>().join(",");
            out.push(json!({
                "name": vmledger_contract::terms::collection(&a.msp_id(), &b.msp_id()),
                "policy": format!("OR({members})"),
                "requiredPeerCount": 0,
                "maxPeerCount": 1,
                "blockToLive": 0,
                "memberOnlyRead": true,
                "memberOnlyWrite": true,
                "endorsementPolicy": {"signaturePolicy": format!("AND({peers})")},
            }));
        }
    }
    Value::Array(out)
}

/// The definition's version: the package label, plus 8 hex of the collections' SHA-256 when there
/// are any (a changed collection configuration is a new definition, at the next sequence).
fn definition_version(label: &str, collections: &Value) -> String {
    match collections.as_array() {
        Some(list) if !list.is_empty() => {
            let hash = Sha256::digest(collections.to_string().as_bytes());
            format!("{label}.{}", &hex::encode(hash)[..8])
        }
        _ => label.to_owned(),
    }
}

/// The committed definition on `channel` (as member `n` sees it), if any.
fn committed(net: &Net, n: u8, channel: &str) -> Result<Option<Value>> {
    let deadline = std::time::Instant::now() + net.timeout;
    loop {
        let mut command = net.peer_cli(n);
        command.args(["lifecycle", "chaincode", "querycommitted", "-C", channel, "-n", CHAINCODE, "-O", "json"]);
        let (ok, said) = net.try_run(&format!("querycommitted {channel}"), &mut command);
        if ok {
            return Ok(Some(serde_json::from_str(said.get(said.find('{').unwrap_or(0)..).unwrap_or("{}"))?));
        }
        if said.contains("not defined") || said.contains("not found") {
            return Ok(None);
        }
        if std::time::Instant::now() > deadline {
            bail!("peer0.org{n}: lifecycle querycommitted on {channel} failed: {said}");
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// An orderer of `channel` run by member `n` (for the peer CLI's -o).
fn orderer_of(net: &Net, channel: Channel, n: u8) -> Node {
    channel.orderers(net).into_iter().find(|o| o.member() == n).unwrap_or(Node::LocalOrderer(n))
}

/// Brings the chaincode definition on `channel` to `label`: each member of the channel approves it
/// with its own package id, then it is committed with every member's endorsement. Returns whether
/// anything changed.
///
/// `Collections::Current` defines the collections of the members as they are now;
/// `Collections::Committed` keeps those last defined (a member joining approves the definition as it
/// is: upgrading it then would invalidate, as MVCC_READ_CONFLICT, the transactions in flight during
/// the join; its pairs' collections come with the next `up`).
pub fn define(
    net: &Net,
    channel: Channel,
    label: &str,
    package_ids: &dyn Fn(u8) -> String,
    which: Collections,
) -> Result<bool> {
    let name = channel.name();
    let members = channel.members(net);
    let first = members[0];
    let collections_file = net.paths.chaincode().join(format!("collections.{name}.json"));
    let committed_collections = std::fs::read(&collections_file).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let collections = match (which, committed_collections) {
        (Collections::Committed, Some(committed)) => committed,
        _ => collections(net, channel),
    };
    files::write(&collections_file, serde_json::to_string_pretty(&collections)?.as_bytes())?;
    let with_collections = |command: &mut std::process::Command| {
        if collections.as_array().is_some_and(|c| !c.is_empty()) {
            command.arg("--collections-config").arg(&collections_file);
        }
    };
    let version = definition_version(label, &collections);
    let label = version.as_str();
    let (current, mut sequence) = match committed(net, first, &name)? {
        Some(def) => (def["version"].as_str().unwrap_or_default().to_owned(), def["sequence"].as_u64().unwrap_or(0)),
        None => (String::new(), 0),
    };
    if current == label && members.iter().all(|&n| approved(net, n, &name, label, sequence)) {
        return Ok(false);
    }
    if current != label {
        sequence += 1;
        if current.is_empty() {
            crate::say(&format!("deploying chaincode {label} on {name} (sequence {sequence})"));
        } else {
            crate::say(&format!("upgrading chaincode on {name}: {current} -> {label} (sequence {sequence})"));
        }
    }
    for &n in &members {
        if approved(net, n, &name, label, sequence) {
            continue;
        }
        let orderer = orderer_of(net, channel, n);
        let mut command = net.peer_cli(n);
        command
            .args(["lifecycle", "chaincode", "approveformyorg"])
            .args(net.orderer_flags(n, orderer))
            .args(["-C", &name, "-n", CHAINCODE, "-v", label, "--package-id", &package_ids(n)])
            .args(["--sequence", &sequence.to_string(), "--waitForEventTimeout", "60s"]);
        with_collections(&mut command);
        net.run(Some(Node::Peer(n)), &format!("approveformyorg {name} (org{n})"), &mut command)?;
    }
    if current != label {
        let orderer = orderer_of(net, channel, first);
        let mut command = net.peer_cli(first);
        command.args(["lifecycle", "chaincode", "commit"]).args(net.orderer_flags(first, orderer));
        command.args(["-C", &name, "-n", CHAINCODE, "-v", label, "--sequence", &sequence.to_string()]);
        for &n in &members {
            command
                .arg("--peerAddresses")
                .arg(net.address(n, net.ports(n).peer()))
                .arg("--tlsRootCertFiles")
                .arg(net.org(n).ca_cert());
        }
        command.args(["--waitForEventTimeout", "60s"]);
        with_collections(&mut command);
        net.run(Some(Node::Peer(first)), &format!("chaincode commit {name}"), &mut command)?;
    }
    Ok(true)
}

/// Whether member `n` approved `label` at `sequence` on `channel`.
fn approved(net: &Net, n: u8, channel: &str, label: &str, sequence: u64) -> bool {
    if sequence == 0 {
        return false;
    }
    let mut command = net.peer_cli(n);
    command.args(["lifecycle", "chaincode", "queryapproved", "-C", channel, "-n", CHAINCODE]).args([
        "--sequence",
        &sequence.to_string(),
        "-O",
        "json",
    ]);
    let (ok, said) = net.try_run(&format!("queryapproved {channel} (org{n})"), &mut command);
    ok && said.contains(&format!("\"version\": \"{label}\""))
}

/// Whether member `n`'s peer answers an evaluated `Ping` on `channel` (as its operator: the
/// contract answers the members' application identities only).
pub fn answers_ping(net: &Net, n: u8, channel: &str) -> bool {
    let mut command = net.peer_cli(n);
    command.env("CORE_PEER_MSPCONFIGPATH", net.org(n).user_msp(vmledger_contract::auth::OPERATOR_ROLE));
    command.args(["chaincode", "query", "-C", channel, "-n", CHAINCODE, "-c", r#"{"Args":["Ping","{}"]}"#]);
    net.try_run(&format!("Ping on {channel} (peer0.org{n})"), &mut command).0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Member, Standing};

    fn members(standings: &[Standing]) -> Vec<Member> {
        standings
            .iter()
            .enumerate()
            .map(|(i, s)| Member { n: u8::try_from(i + 1).unwrap_or(0), host: "127.0.0.1".into(), standing: *s })
            .collect()
    }

    #[test]
    fn one_collection_per_pair_private_to_it_and_endorsed_by_both() {
        let all = pair_collections(&members(&[Standing::Active; 3]));
        let names: Vec<&str> = all.as_array().into_iter().flatten().filter_map(|c| c["name"].as_str()).collect();
        assert_eq!(names, ["terms-org1-org2", "terms-org1-org3", "terms-org2-org3"]);
        assert_eq!(all[0]["policy"], "OR('Org1MSP.member','Org2MSP.member')");
        assert_eq!(all[0]["endorsementPolicy"]["signaturePolicy"], "AND('Org1MSP.peer','Org2MSP.peer')");
        assert_eq!((all[0]["memberOnlyRead"].as_bool(), all[0]["memberOnlyWrite"].as_bool()), (Some(true), Some(true)));
    }

    #[test]
    fn a_member_that_left_keeps_its_pairs_names_but_leaves_their_policies() {
        let after =
            pair_collections(&members(&[Standing::Active, Standing::Active, Standing::Left, Standing::Joining]));
        let names: Vec<&str> = after.as_array().into_iter().flatten().filter_map(|c| c["name"].as_str()).collect();
        assert_eq!(names, ["terms-org1-org2", "terms-org1-org3", "terms-org2-org3"], "org4 is not in yet");
        assert_eq!(after[1]["policy"], "OR('Org1MSP.member')");
        let both_left =
            pair_collections(&members(&[Standing::Active, Standing::Active, Standing::Left, Standing::Left]));
        let kept = both_left.as_array().into_iter().flatten().find(|c| c["name"] == "terms-org3-org4");
        assert_eq!(
            kept.map(|c| c["policy"].clone()),
            Some(json!("OR('Org1MSP.member')")),
            "a committed collection stays"
        );
        let before = pair_collections(&members(&[Standing::Active; 3]));
        assert_ne!(definition_version("vmledger_x", &after), definition_version("vmledger_x", &before));
        assert_eq!(definition_version("vmledger_x", &json!([])), "vmledger_x");
    }
}
