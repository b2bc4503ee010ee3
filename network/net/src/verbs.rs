//! The small verbs: down, status, logs, env, clean, and the run folder's lock.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nix::fcntl::{Flock, FlockArg};
use serde_json::json;

use crate::layout::{Node, Paths};
use crate::net::Net;
use crate::nodes::operations_url;
use crate::process;

/// Holds the run folder's lock: one `up` (or join, leave) at a time.
pub fn lock(paths: &Paths) -> Result<Flock<File>> {
    std::fs::create_dir_all(&paths.run)?;
    let file = File::create(paths.lock())?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock)
        .map_err(|_| anyhow::anyhow!("another vmledger-net is working on {}", crate::shown(&paths.run)))
}

/// Stops every process that has a PID file: services first, then chaincode servers, peers,
/// orderers and CAs.
pub fn down(paths: &Paths) -> Result<()> {
    let mut names = process::recorded(paths);
    names.sort_by_key(|name| std::cmp::Reverse(Node::parse(name).map_or(9, |n| n.rank())));
    let mut stopped = 0;
    for name in names {
        if process::stop(paths, &name)? {
            stopped += 1;
        }
    }
    crate::say(&format!("stopped {stopped} process(es); ledgers kept in {}", crate::shown(&paths.run.join("data"))));
    Ok(())
}

fn endpoint(net: &Net, node: Node) -> String {
    let n = node.member();
    let ports = net.ports(n);
    let main = match node {
        Node::Ca(_) => format!("https://{}", net.address(n, ports.ca())),
        Node::Orderer(_, k) => net.address(n, ports.orderer(k)),
        Node::LocalOrderer(_) => net.address(n, ports.local_orderer()),
        Node::Peer(_) => net.address(n, ports.peer()),
        Node::Chaincode(_) => net.address(n, ports.chaincode()),
        Node::Proxy(_) => format!("http://{}", net.address(n, ports.proxy())),
        Node::Relay(_) => format!("http://{}", net.address(n, ports.relay())),
        Node::Toxiproxy(_) => format!("http://{}", net.address(n, ports.toxiproxy())),
    };
    match (node, operations_url(net, node)) {
        (Node::Proxy(_) | Node::Relay(_) | Node::Chaincode(_) | Node::Toxiproxy(_), _) | (_, None) => main,
        (_, Some(ops)) => format!("{main} ops {ops}"),
    }
}

pub fn status(net: &Net, as_json: bool) -> Result<u8> {
    let nodes = crate::up::all_nodes(net);
    let mut rows = Vec::new();
    let (mut down, mut total) = (0, 0);
    for node in &nodes {
        let name = node.to_string();
        let running = process::running(&net.paths, &name);
        if let Some(r) = running {
            total += r.rss_mib;
        } else {
            down += 1;
        }
        let relay = match node {
            Node::Relay(n) if running.is_some() => crate::relay::status(net, *n),
            _ => None,
        };
        let mut shown_endpoint = endpoint(net, *node);
        if let Some(r) = &relay {
            let lag = r.lag_blocks.map_or_else(|| "?".to_owned(), |l| l.to_string());
            shown_endpoint.push_str(&format!(
                "  lag {lag} block(s), {} leave(s), {} arrival(s)",
                r.counts.leaves, r.counts.arrivals
            ));
        }
        rows.push(json!({
            "name": name,
            "member": format!("org{}", node.member()),
            "pid": running.map(|r| r.pid),
            "state": if running.is_some() { "running" } else { "stopped" },
            "rssMib": running.map(|r| r.rss_mib),
            "endpoint": endpoint(net, *node),
            "shown": shown_endpoint,
            "relay": relay,
        }));
    }
    let chaincode = std::fs::read_to_string(net.paths.chaincode().join("label")).unwrap_or_default();
    if as_json {
        let document = json!({
            "settings": net.settings,
            "processes": rows,
            "totalRssMib": total,
            "stopped": down,
            "chaincode": chaincode.trim(),
        });
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &document)?;
        writeln!(out)?;
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{:<15} {:<8} {:<8} {:>7}  ENDPOINT", "PROCESS", "PID", "STATE", "RSS_MiB")?;
        for row in &rows {
            writeln!(
                out,
                "{:<15} {:<8} {:<8} {:>7}  {}",
                row["name"].as_str().unwrap_or_default(),
                row["pid"].as_i64().map_or("-".into(), |p| p.to_string()),
                row["state"].as_str().unwrap_or_default(),
                row["rssMib"].as_u64().map_or("-".into(), |r| r.to_string()),
                row["shown"].as_str().unwrap_or_default()
            )?;
        }
        writeln!(out, "{:<15} {:<8} {:<8} {:>7}", "total", "", "", total)?;
        let s = &net.settings;
        writeln!(
            out,
            "settings: {} members, {} federation orderer(s) each, {:?}, BatchTimeout {}, MaxMessageCount {}, Fabric {}",
            s.active().count(),
            s.orderers_per_member,
            s.consensus,
            s.batch_timeout,
            s.max_message_count,
            s.fabric
        )?;
    }
    Ok(if down == 0 { 0 } else { 3 })
}

pub fn logs(paths: &Paths, name: &str, follow: bool, lines: Option<usize>) -> Result<u8> {
    if Node::parse(name).is_none() && name != "cli" {
        bail!(
            "no process `{name}` (names look like peer0.org1, orderer0.org2, lorderer.org1, ca.org1, ccaas.org1, proxy.org1, relay.org1, or cli)"
        );
    }
    let path = paths.log(name);
    let mut file = File::open(&path).with_context(|| format!("no log at {}", crate::shown(&path)))?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    let shown: Vec<&str> = text.lines().collect();
    let from = lines.map_or(0, |n| shown.len().saturating_sub(n));
    let mut out = std::io::stdout().lock();
    for line in &shown[from..] {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    if follow {
        let mut position = file.stream_position()?;
        loop {
            std::thread::sleep(Duration::from_millis(250));
            let len = std::fs::metadata(&path).map_or(position, |m| m.len());
            if len < position {
                position = 0; // the log was replaced
            }
            if len > position {
                file.seek(SeekFrom::Start(position))?;
                let mut more = Vec::new();
                file.read_to_end(&mut more)?;
                position += more.len() as u64;
                out.write_all(&more)?;
                out.flush()?;
            }
        }
    }
    Ok(0)
}

/// `export` lines for Fabric's peer CLI as member `org`'s admin, against its own peer and orderer.
pub fn env(net: &Net, org: &str) -> Result<u8> {
    let member = net.settings.find(org)?;
    let n = member.n;
    let (_, _, tls_ca) = crate::layout::tls(&net.org(n).node("peer0"));
    let orderer = crate::configtx::orderer_endpoint(net, Node::Orderer(n, 0));
    let vars = [
        ("FABRIC_CFG_PATH", net.paths.fabric_config().display().to_string()),
        ("PATH", format!("{}:$PATH", net.bin.display())),
        ("CORE_PEER_LOCALMSPID", member.msp_id()),
        ("CORE_PEER_MSPCONFIGPATH", net.admin_msp(n).display().to_string()),
        ("CORE_PEER_ADDRESS", net.address(n, net.ports(n).peer())),
        ("CORE_PEER_TLS_ENABLED", "true".into()),
        ("CORE_PEER_TLS_ROOTCERT_FILE", tls_ca.display().to_string()),
        ("ORDERER_ADDRESS", orderer),
        ("ORDERER_CA", net.org(n).ca_cert().display().to_string()),
    ];
    let mut out = std::io::stdout().lock();
    for (key, value) in vars {
        if key == "PATH" {
            writeln!(out, "export {key}=\"{value}\"")?;
        } else {
            writeln!(out, "export {key}='{value}'")?;
        }
    }
    Ok(0)
}

pub fn clean(paths: &Paths) -> Result<()> {
    if !paths.run.exists() {
        crate::say("nothing to clean");
        return Ok(());
    }
    let _lock = lock(paths)?;
    down(paths)?;
    // Only a folder this tool made: it holds net.json, or nothing but what `up` starts with.
    let ours = paths.settings().is_file() || paths.pids().is_dir() || paths.logs().is_dir();
    if !ours {
        bail!("refusing to remove {}: it is not a vmledger-net run folder", crate::shown(&paths.run));
    }
    std::fs::remove_dir_all(&paths.run).with_context(|| format!("removing {}", crate::shown(&paths.run)))?;
    crate::say(&format!("removed {}", crate::shown(&paths.run)));
    Ok(())
}
