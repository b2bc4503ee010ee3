//! The member's own services in front of Fabric: its gateway REST proxy.

use anyhow::{Context, Result};

use crate::layout::Node;
use crate::net::Net;
use crate::process;

/// Starts member `n`'s gateway REST proxy (network/proxy) and waits for `/readyz`.
pub fn start_proxy(net: &Net, n: u8) -> Result<()> {
    let node = Node::Proxy(n);
    let name = node.to_string();
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
    }
    Ok(())
}

pub fn wait_proxy(net: &Net, n: u8) -> Result<()> {
    let url = format!("http://{}/readyz", net.address(n, net.ports(n).proxy()));
    process::wait_until(&net.paths, &Node::Proxy(n).to_string(), "/readyz", net.timeout, || net.http_ok(&url))
}
