//! The context every step works in: where things are, the settings, and the Fabric tools (peer CLI,
//! osnadmin, configtxgen, configtxlator, fabric-ca-client) run as a given member's admin. Every tool
//! run is logged to `logs/cli.log`; a failed one is reported with what it said.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::layout::{Node, OrgPaths, Paths, Ports, signcert, tls};
use crate::process::{clean_command, failure};
use crate::settings::{Member, Settings};

/// The Fabric executables the network needs, all under `.tools/bin` (scripts/install).
pub const TOOLS: [&str; 8] = [
    "peer",
    "orderer",
    "configtxgen",
    "configtxlator",
    "osnadmin",
    "fabric-ca-server",
    "fabric-ca-client",
    "cryptogen",
];

pub struct Net {
    /// The repository.
    pub root: PathBuf,
    pub paths: Paths,
    pub bin: PathBuf,
    pub settings: Settings,
    /// Seconds to wait for each health condition.
    pub timeout: Duration,
}

impl Net {
    pub fn org(&self, n: u8) -> OrgPaths {
        self.paths.org(&format!("org{n}"))
    }

    pub fn ports(&self, n: u8) -> Ports {
        self.settings.ports(n)
    }

    pub fn host(&self, n: u8) -> &str {
        self.settings.host(n)
    }

    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.settings.active()
    }

    pub fn tool(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }

    /// `host:port` of a member's node.
    pub fn address(&self, n: u8, port: u16) -> String {
        format!("{}:{port}", self.host(n))
    }

    /// The admin MSP of member `n`: the identity that signs channel and chaincode changes.
    pub fn admin_msp(&self, n: u8) -> PathBuf {
        self.org(n).user_msp("admin")
    }

    /// The peer CLI, as member `n`'s admin, against its own peer.
    pub fn peer_cli(&self, n: u8) -> Command {
        let org = self.org(n);
        let (_, _, tls_ca) = tls(&org.node("peer0"));
        let mut command = clean_command(self.tool("peer"));
        command
            .env("FABRIC_CFG_PATH", self.paths.fabric_config())
            .env("FABRIC_LOGGING_SPEC", "warning")
            .env("CORE_PEER_LOCALMSPID", format!("Org{n}MSP"))
            .env("CORE_PEER_MSPCONFIGPATH", self.admin_msp(n))
            .env("CORE_PEER_ADDRESS", self.address(n, self.ports(n).peer()))
            .env("CORE_PEER_TLS_ENABLED", "true")
            .env("CORE_PEER_TLS_ROOTCERT_FILE", tls_ca);
        command
    }

    /// The orderer flags of the peer CLI (`-o … --tls --cafile …`) for one of member `n`'s orderers.
    pub fn orderer_flags(&self, n: u8, node: Node) -> Vec<String> {
        let port = match node {
            Node::Orderer(_, k) => self.ports(n).orderer(k),
            _ => self.ports(n).local_orderer(),
        };
        vec![
            "-o".into(),
            self.address(n, port),
            "--tls".into(),
            "--cafile".into(),
            self.org(n).ca_cert().display().to_string(),
        ]
    }

    /// osnadmin against an orderer's admin endpoint, with its member's admin TLS client certificate.
    pub fn osnadmin(&self, node: Node, args: &[&str]) -> Command {
        let n = node.member();
        let ports = self.ports(n);
        let admin_port = match node {
            Node::Orderer(_, k) => ports.orderer_admin(k),
            _ => ports.local_orderer_admin(),
        };
        let admin_tls = self.org(n).dir.join("users").join("admin").join("tls");
        let mut command = clean_command(self.tool("osnadmin"));
        command.args(args).args([
            "-o",
            &self.address(n, admin_port),
            "--ca-file",
            &self.org(n).ca_cert().display().to_string(),
            "--client-cert",
            &admin_tls.join("client.crt").display().to_string(),
            "--client-key",
            &admin_tls.join("client.key").display().to_string(),
        ]);
        command
    }

    /// Runs a tool for a step of `node`; its output is logged and returned; on failure the error
    /// names the step, shows what the tool said and the end of the node's log.
    pub fn run(&self, node: Option<Node>, what: &str, command: &mut Command) -> Result<String> {
        let output = command.output().with_context(|| format!("{what}: cannot run {:?}", command.get_program()))?;
        let mut said = String::from_utf8_lossy(&output.stdout).into_owned();
        said.push_str(&String::from_utf8_lossy(&output.stderr));
        let verdict = if output.status.success() { "" } else { "FAILED " };
        let entry = format!("=== {} {verdict}{what}\n{said}\n", crate::now_rfc3339());
        append(&self.paths.logs().join("cli.log"), &entry);
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        let tail: Vec<&str> = said.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
        let message = format!("{what} failed:\n{}", tail.join("\n"));
        Err(match node {
            Some(node) => failure(&self.paths, &node.to_string(), &message),
            None => anyhow::anyhow!(message),
        })
    }

    /// Runs a tool that may fail harmlessly; returns whether it succeeded and what it said.
    pub fn try_run(&self, what: &str, command: &mut Command) -> (bool, String) {
        match command.output() {
            Ok(output) => {
                let mut said = String::from_utf8_lossy(&output.stdout).into_owned();
                said.push_str(&String::from_utf8_lossy(&output.stderr));
                let verdict = if output.status.success() { "" } else { "(failed) " };
                append(
                    &self.paths.logs().join("cli.log"),
                    &format!("=== {} {verdict}{what}\n{said}\n", crate::now_rfc3339()),
                );
                (output.status.success(), said)
            }
            Err(e) => (false, e.to_string()),
        }
    }

    /// A node's TLS certificate and key, and its MSP's signing certificate.
    pub fn node_tls(&self, n: u8, name: &str) -> (PathBuf, PathBuf, PathBuf) {
        tls(&self.org(n).node(name))
    }

    pub fn node_signcert(&self, n: u8, name: &str) -> PathBuf {
        signcert(&self.org(n).node(name).join("msp"))
    }

    /// GET over plain HTTP on an operations endpoint: whether it answers 2xx.
    pub fn http_ok(&self, url: &str) -> bool {
        http_get(url).is_some()
    }

    pub fn check_tools(&self) -> Result<()> {
        for tool in TOOLS {
            if !self.tool(tool).is_file() {
                bail!("{} is missing: run scripts/install", crate::shown(&self.tool(tool)));
            }
        }
        if self.settings.faults && !self.tool("toxiproxy-server").is_file() {
            bail!(
                "{} is missing (up --faults needs it): run scripts/install",
                crate::shown(&self.tool("toxiproxy-server"))
            );
        }
        for file in ["core.yaml", "orderer.yaml"] {
            if !self.root.join(".tools/fabric-config").join(file).is_file() {
                bail!("Fabric's sample {file} is missing from .tools/fabric-config: run scripts/install");
            }
        }
        Ok(())
    }
}

/// The body of a GET, when it answers 2xx within 2 s.
pub fn http_get(url: &str) -> Option<String> {
    let agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(2))).build().new_agent();
    let mut response = agent.get(url).call().ok()?;
    response.body_mut().read_to_string().ok()
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = file.write_all(text.as_bytes());
    }
}

/// Arguments for a command, from displayable parts.
pub fn args<I, S>(parts: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    parts.into_iter().map(|p| p.as_ref().to_string_lossy().into_owned()).collect()
}
