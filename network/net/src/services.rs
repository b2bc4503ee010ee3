//! The member's own services in front of Fabric: its gateway REST proxy.

use anyhow::{Context, Result};

use crate::layout::Node;
use crate::net::Net;
use crate::process;

/// What a proxy runs: its sources, its dependencies' lock, the contract's vocabulary it loads and its
/// configuration. A change of any of them restarts it on the next `up`.
fn proxy_label(net: &Net, n: u8) -> Result<String> {
    use sha2::{Digest, Sha256};
    let proxy = net.root.join("network/proxy");
    let mut inputs: Vec<std::path::PathBuf> = std::fs::read_dir(proxy.join("src"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "js"))
        .collect();
    inputs.sort();
    inputs.push(proxy.join("package-lock.json"));
    inputs.push(net.root.join("contract/chaincode/wasm/vocabulary.json"));
    inputs.push(net.paths.proxy_config(&format!("org{n}")));
    let mut hash = Sha256::new();
    for input in inputs {
        hash.update(std::fs::read(&input).with_context(|| format!("reading {}", input.display()))?);
    }
    Ok(hex::encode(hash.finalize()))
}

/// Starts member `n`'s gateway REST proxy (network/proxy), restarting it when what it runs changed.
pub fn start_proxy(net: &Net, n: u8) -> Result<()> {
    let node = Node::Proxy(n);
    let name = node.to_string();
    let label = proxy_label(net, n)?;
    let label_file = net.paths.proxy_config(&format!("org{n}")).with_extension("label");
    if process::is_running(&net.paths, &name) && std::fs::read_to_string(&label_file).ok().as_deref() != Some(&label) {
        crate::say(&format!("{name}: its code or configuration changed: restarting it"));
        process::stop(&net.paths, &name)?;
    }
    if !process::is_running(&net.paths, &name) {
        let main = net.root.join("network/proxy/src/server.js");
        anyhow::ensure!(
            net.root.join("network/proxy/node_modules").is_dir(),
            "{name}: network/proxy/node_modules is missing: run scripts/install"
        );
        let node_bin = process::which("node").context("node is not on PATH")?;
        let mut command = process::clean_command(node_bin);
        command.current_dir(&net.root).arg(main).arg("--config").arg(net.paths.proxy_config(&format!("org{n}")));
        process::start(&net.paths, &name, net.host(n), &net.ports(n).of_node(node), command)?;
        crate::files::write(&label_file, label.as_bytes())?;
    }
    Ok(())
}

pub fn wait_proxy(net: &Net, n: u8) -> Result<()> {
    let url = format!("http://{}/readyz", net.address(n, net.ports(n).proxy()));
    process::wait_until(&net.paths, &Node::Proxy(n).to_string(), "/readyz", net.timeout, || net.http_ok(&url))
}
