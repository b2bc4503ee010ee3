//! Each member's own certificate authority (Fabric CA), and every identity of the member enrolled
//! from it: its nodes (peer, orderers), its channel admin, and the application identities whose
//! vmledger role is a certificate attribute (`vmledger.role`), never a subject field.
//!
//! One CA per member signs both identity and TLS certificates (the `tls` signing profile), so the
//! member's single root certificate is its root of trust everywhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::json;

use crate::files;
use crate::layout::{DOMAIN, Node, OrgPaths};
use crate::net::Net;
use crate::process;

/// The certificate attribute that carries an application identity's vmledger role.
pub const ROLE_ATTRIBUTE: &str = "vmledger.role";

/// What an identity is for: its Fabric node type (NodeOU) and, for application identities, the
/// vmledger role the contract reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Peer,
    Orderer,
    /// The channel admin (NodeOU `admin`): signs channel updates and chaincode definitions, used
    /// by this tool only, never by a proxy.
    Admin,
    /// An application identity (NodeOU `client`) with a vmledger role.
    Client(&'static str),
}

impl Kind {
    fn node_type(self) -> &'static str {
        match self {
            Kind::Peer => "peer",
            Kind::Orderer => "orderer",
            Kind::Admin => "admin",
            Kind::Client(_) => "client",
        }
    }
}

/// The application identities every member has, one per role of the contract, named after it:
/// `manager` registers clouds and hosts and sets regulations; `operator` runs migrations;
/// `relay` writes Leave and Arrival on the member's local chain.
pub const APPLICATION_IDENTITIES: [&str; 3] = vmledger_contract::auth::ROLES;

/// The nodes of a member that hold an identity: `peer0`, `lorderer`, `orderer0…`.
pub fn node_names(net: &Net) -> Vec<(String, Kind)> {
    let mut names = vec![("peer0".to_owned(), Kind::Peer), ("lorderer".to_owned(), Kind::Orderer)];
    names.extend((0..net.settings.orderers_per_member).map(|k| (format!("orderer{k}"), Kind::Orderer)));
    names
}

fn registrar_secret(org: &OrgPaths) -> Result<String> {
    let path = org.dir.join("registrar.secret");
    if let Ok(secret) = std::fs::read_to_string(&path) {
        return Ok(secret.trim().to_owned());
    }
    let secret = random_secret()?;
    files::write(&path, secret.as_bytes())?;
    Ok(secret)
}

/// 24 random bytes as hex, from the kernel.
pub fn random_secret() -> Result<String> {
    let mut bytes = [0u8; 24];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// Starts member `n`'s CA (initialising it the first time) and waits until it answers.
pub fn start(net: &Net, n: u8) -> Result<()> {
    let node = Node::Ca(n);
    let name = node.to_string();
    if process::is_running(&net.paths, &name) {
        return Ok(());
    }
    let org = net.org(n);
    let ports = net.ports(n);
    let host = net.host(n).to_owned();
    let secret = registrar_secret(&org)?;
    std::fs::create_dir_all(org.ca_home())?;
    let hosts = format!("{host},localhost,ca.org{n}.{DOMAIN}");
    let mut command = process::clean_command(net.tool("fabric-ca-server"));
    command.args([
        "start",
        "--home",
        &org.ca_home().display().to_string(),
        "-b",
        &format!("registrar:{secret}"),
        "--ca.name",
        &format!("ca-org{n}"),
        "--csr.cn",
        &format!("ca.org{n}.{DOMAIN}"),
        "--csr.hosts",
        &hosts,
        "--address",
        &host,
        "--port",
        &ports.ca().to_string(),
        "--tls.enabled",
    ]);
    // The operations endpoint has no flag, only its configuration key.
    command
        .env("FABRIC_CA_SERVER_OPERATIONS_LISTENADDRESS", net.address(n, ports.ca_operations()))
        .env("FABRIC_CA_SERVER_METRICS_PROVIDER", "prometheus");
    process::start(&net.paths, &name, &host, &ports.of_node(node), command)?;
    let health = format!("http://{}/healthz", net.address(n, ports.ca_operations()));
    process::wait_until(&net.paths, &name, "operations /healthz", net.timeout, || net.http_ok(&health))?;
    process::wait_until(&net.paths, &name, "its root certificate", net.timeout, || org.ca_cert().is_file())
}

fn ca_url(net: &Net, n: u8, credentials: Option<(&str, &str)>) -> String {
    let address = net.address(n, net.ports(n).ca());
    match credentials {
        Some((user, secret)) => format!("https://{user}:{secret}@{address}"),
        None => format!("https://{address}"),
    }
}

/// `fabric-ca-client VERB … --tls.certfiles <the member's root>` (the flags go after the verb).
fn ca_client(net: &Net, n: u8, home: &Path, verb: &str, args: &[&str]) -> Command {
    let mut command = process::clean_command(net.tool("fabric-ca-client"));
    command
        .env("FABRIC_CA_CLIENT_HOME", home)
        .arg(verb)
        .args(args)
        .args(["--tls.certfiles", &net.org(n).ca_cert().display().to_string()]);
    command
}

fn ensure_registrar(net: &Net, n: u8) -> Result<()> {
    let org = net.org(n);
    if org.registrar().join("msp/signcerts/cert.pem").is_file() {
        return Ok(());
    }
    let secret = registrar_secret(&org)?;
    let mut command =
        ca_client(net, n, &org.registrar(), "enroll", &["-u", &ca_url(net, n, Some(("registrar", &secret)))]);
    net.run(Some(Node::Ca(n)), &format!("enroll the registrar of org{n}"), &mut command)?;
    Ok(())
}

/// Registers `name` (idempotent) and enrolls it into `dir` (`msp/`, and `tls/` when `tls_hosts`
/// is given: a TLS certificate for those hosts, from the `tls` profile). `subject` is the CSR's
/// names (`O=Org1MSP` when none).
fn enroll(
    net: &Net,
    n: u8,
    name: &str,
    kind: Kind,
    dir: &Path,
    tls_hosts: Option<&str>,
    subject: Option<&str>,
) -> Result<()> {
    let org = net.org(n);
    let msp = dir.join("msp");
    let (tls_cert, tls_key, tls_ca) = tls_files(kind, dir);
    if msp.join("signcerts/cert.pem").is_file() && (tls_hosts.is_none() || tls_cert.is_file()) {
        return Ok(());
    }
    let secret = random_secret()?;
    let url = ca_url(net, n, None);
    let mut args = vec!["-u", &url, "--id.name", name, "--id.secret", &secret, "--id.type", kind.node_type()];
    let attrs;
    if let Kind::Client(role) = kind {
        attrs = format!("{ROLE_ATTRIBUTE}={role}:ecert");
        args.extend(["--id.attrs", &attrs]);
    }
    let mut register = ca_client(net, n, &org.registrar(), "register", &args);
    let (registered, said) = net.try_run(&format!("register {name} with ca.org{n}"), &mut register);
    if !registered {
        // Registered by an earlier run that stopped before enrolling: give it a new secret.
        anyhow::ensure!(said.contains("already registered"), "register {name} with ca.org{n} failed: {said}");
        let mut modify =
            ca_client(net, n, &org.registrar(), "identity", &["modify", name, "-u", &url, "--secret", &secret]);
        net.run(Some(Node::Ca(n)), &format!("reset the secret of {name} at ca.org{n}"), &mut modify)?;
    }

    let scratch = dir.join(".ca-client");
    let url = ca_url(net, n, Some((name, &secret)));
    let _ = std::fs::remove_dir_all(&msp);
    let msp_dir = msp.display().to_string();
    let names = subject.map_or_else(|| format!("O=Org{n}MSP"), str::to_owned);
    let mut identity =
        ca_client(net, n, &scratch, "enroll", &["-u", &url, "--mspdir", &msp_dir, "--csr.names", &names]);
    net.run(Some(Node::Ca(n)), &format!("enroll {name} of org{n}"), &mut identity)?;
    finish_msp(net, n, &msp)?;

    if let Some(hosts) = tls_hosts {
        let tls_msp = scratch.join("tls-msp");
        let _ = std::fs::remove_dir_all(&tls_msp);
        let tls_dir = tls_msp.display().to_string();
        let mut tls = ca_client(
            net,
            n,
            &scratch,
            "enroll",
            &["-u", &url, "--enrollment.profile", "tls", "--csr.hosts", hosts, "--mspdir", &tls_dir],
        );
        net.run(Some(Node::Ca(n)), &format!("enroll {name}'s TLS certificate"), &mut tls)?;
        files::copy(&tls_msp.join("signcerts/cert.pem"), &tls_cert)?;
        files::copy(&files::only_file(&tls_msp.join("keystore"))?, &tls_key)?;
        files::copy(&org.ca_cert(), &tls_ca)?;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

/// Where an identity's TLS certificate, key and root go: nodes serve (`server.*`), users are
/// clients of mutual TLS (`client.*`, e.g. osnadmin).
fn tls_files(kind: Kind, dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    match kind {
        Kind::Peer | Kind::Orderer => crate::layout::tls(dir),
        Kind::Admin | Kind::Client(_) => {
            let tls = dir.join("tls");
            (tls.join("client.crt"), tls.join("client.key"), tls.join("ca.crt"))
        }
    }
}

/// NodeOUs: the certificate's OU says whether it is a client, peer, admin or orderer.
fn node_ous() -> serde_json::Value {
    let ou = |unit: &str| json!({"Certificate": "cacerts/ca.pem", "OrganizationalUnitIdentifier": unit});
    json!({"NodeOUs": {
        "Enable": true,
        "ClientOUIdentifier": ou("client"),
        "PeerOUIdentifier": ou("peer"),
        "AdminOUIdentifier": ou("admin"),
        "OrdererOUIdentifier": ou("orderer"),
    }})
}

/// Gives an enrolled MSP folder its CA under a fixed name, its TLS root and the NodeOU rules.
fn finish_msp(net: &Net, n: u8, msp: &Path) -> Result<()> {
    let org = net.org(n);
    for sub in ["cacerts", "tlscacerts"] {
        let dir = msp.join(sub);
        let _ = std::fs::remove_dir_all(&dir);
        files::copy(&org.ca_cert(), &dir.join("ca.pem"))?;
    }
    files::write_json(&msp.join("config.yaml"), &node_ous())
}

/// Member `n`'s whole identity material: the org MSP, its nodes, its admin and application
/// identities. Idempotent: what exists is kept.
pub fn enroll_member(net: &Net, n: u8) -> Result<()> {
    ensure_registrar(net, n)?;
    let org = net.org(n);
    // The public MSP of the organisation: its root, its TLS root, its NodeOU rules.
    finish_msp(net, n, &org.msp())?;
    let host = net.host(n).to_owned();
    for (name, kind) in node_names(net) {
        let hosts = format!("{host},localhost,{name}.org{n}.{DOMAIN}");
        enroll(net, n, &name, kind, &org.node(&name), Some(&hosts), None)?;
    }
    let admin_dir = org.dir.join("users").join("admin");
    enroll(net, n, "admin", Kind::Admin, &admin_dir, Some(&host), None)?;
    for role in APPLICATION_IDENTITIES {
        enroll(net, n, role, Kind::Client(role), &org.dir.join("users").join(role), None, None)?;
    }
    Ok(())
}

/// Registers and enrolls one more application identity of member `n` with `role`, its subject
/// names as given (any text its holder asks for: the role is in the attribute, not there).
/// Returns its MSP folder.
pub fn enroll_extra(net: &Net, n: u8, name: &str, role: &'static str, subject: Option<&str>) -> Result<PathBuf> {
    let dir = net.org(n).dir.join("users").join(name);
    enroll(net, n, name, Kind::Client(role), &dir, None, subject)?;
    Ok(dir.join("msp"))
}

/// An identity's certificate and private key files (what a proxy or the SDK signs with).
pub fn identity_files(org: &OrgPaths, user: &str) -> Result<(PathBuf, PathBuf)> {
    let msp = org.user_msp(user);
    let key = files::only_file(&msp.join("keystore")).with_context(|| format!("the key of {user}"))?;
    Ok((crate::layout::signcert(&msp), key))
}
