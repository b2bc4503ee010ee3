//! The command line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use crate::layout::Paths;
use crate::net::Net;
use crate::settings::{Consensus, Member, Settings, Standing, check_duration};
use crate::update::{self, Change};
use crate::{membership, outputs, up, verbs};

/// vmledger-net: a real Hyperledger Fabric federation on this machine, as plain processes.
///
/// Each member has its own CA, peer, orderer(s) on the federation channel, local-chain orderer,
/// chaincode server, gateway REST proxy and relay (Leave and Arrival on its local chain). Everything generated lives in the run folder
/// (network/run): keys, ledgers, logs (logs/<process>.log), PID files, and what clients read
/// (members.json, network.json, profiles/, monitoring/prometheus.yml).
#[derive(Debug, Parser)]
#[command(name = "vmledger-net", max_term_width = 100)]
struct Cli {
    /// The run folder [default: network/run of the repository].
    #[arg(long, global = true, env = "VMLEDGER_NET_RUN", value_name = "DIR")]
    run: Option<PathBuf>,

    /// Seconds to wait for each health condition.
    #[arg(long, global = true, env = "VMLEDGER_NET_TIMEOUT", default_value_t = 90)]
    timeout: u64,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the network on first use, start what is not running, upgrade the chaincode when it
    /// changed, and wait until everything is healthy. Options only apply to a new network.
    #[command(
        after_help = "Examples:\n  vmledger-net up\n  vmledger-net up --orgs 4 --consensus bft\n  vmledger-net up --orgs 2 --orderers-per-member 2 --consensus bft"
    )]
    Up(UpArgs),
    /// Stop every process (by its PID file); ledgers stay.
    Down,
    /// Every process with its PID, memory and endpoints; exit 3 if any is stopped.
    Status {
        /// One JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Print a process's log (peer0.org1, orderer0.org2, ca.org1, ccaas.org1, proxy.org2, …).
    Logs {
        name: String,
        /// Keep printing what is appended.
        #[arg(short, long)]
        follow: bool,
        /// Only the last N lines.
        #[arg(short = 'n', long, value_name = "N")]
        lines: Option<usize>,
    },
    /// Print the environment for Fabric's peer CLI as a member's admin (`eval "$(vmledger-net env org1)"`).
    Env { org: String },
    /// `down`, then remove the run folder (keys, ledgers, logs).
    Clean,
    /// A new member joins the running federation: its CA, identities, nodes and local chain, then
    /// the channel updates adding it, signed by the existing members' admins.
    #[command(
        after_help = "Examples:\n  vmledger-net join                 # the next member (org3 on a 2-member network)\n  vmledger-net join org3            # finish the join of a member `org add` prepared"
    )]
    Join {
        /// A member prepared with `org add`; default: a new one.
        org: Option<String>,
        /// The address its nodes listen on and advertise.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
    },
    /// A member leaves: the update removing it, signed by every member's admin; its processes stop,
    /// its history stays on the ledger.
    Leave { org: String },
    /// Members' own steps (for a member on its own machine).
    #[command(subcommand)]
    Org(OrgCommand),
    /// Federation channel updates, one step at a time: propose, sign (each admin), submit.
    #[command(subcommand)]
    Update(UpdateCommand),
    /// Send a signal to one of the network's processes (faults: KILL, STOP, CONT; TERM stops it).
    /// `up` restarts what is not running.
    #[command(
        after_help = "Examples:\n  vmledger-net signal orderer0.org2 KILL\n  vmledger-net signal peer0.org1 STOP && sleep 10 && vmledger-net signal peer0.org1 CONT"
    )]
    Signal {
        name: String,
        #[arg(value_parser = ["TERM", "KILL", "STOP", "CONT"])]
        signal: String,
    },
    /// Cut a member's peer off from the federation's orderers (a network made with `up --faults`):
    /// its toxiproxy closes every link and refuses new ones until `mend`.
    #[command(after_help = "Example:\n  vmledger-net cut org2 && sleep 10 && vmledger-net mend org2")]
    Cut { org: String },
    /// Give a member's peer its links to the federation's orderers back (after `cut`).
    Mend { org: String },
    /// Run a member's relay in the foreground (what `up` starts; its log is logs/relay.orgN.log).
    #[command(hide = true)]
    Relay { org: String },
    /// Enroll one more application identity from a member's CA; prints its MSP folder.
    #[command(after_help = "Example:\n  vmledger-net identity org1 alice --role operator")]
    Identity {
        org: String,
        name: String,
        /// Its vmledger role (the certificate attribute vmledger.role).
        #[arg(long, value_parser = vmledger_contract::auth::ROLES)]
        role: String,
        /// The certificate subject's names, as fabric-ca-client's --csr.names takes them.
        #[arg(long, value_name = "NAMES")]
        subject: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Stand up the next member on its own (CA, identities, nodes, local chain), not yet in the
    /// federation; prints its name.
    Add {
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
    },
}

#[derive(Debug, Subcommand)]
enum UpdateCommand {
    /// Write the unsigned update for a change of membership.
    Propose {
        #[arg(value_enum)]
        change: ChangeKind,
        /// The member concerned.
        org: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Add a member's admin signature to an update.
    Sign {
        file: PathBuf,
        #[arg(long = "as", value_name = "ORG")]
        org: String,
    },
    /// Submit an update as a member's admin; refused unless its signatures satisfy the channel's
    /// policies (a majority of the members' admins).
    Submit {
        file: PathBuf,
        #[arg(long = "as", value_name = "ORG")]
        org: String,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ChangeKind {
    AddOrg,
    AddConsenters,
    Remove,
}

#[derive(Debug, clap::Args)]
struct UpArgs {
    /// Members of a new network.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=9))]
    orgs: u8,
    /// Federation orderers each member runs.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
    orderers_per_member: u8,
    /// Consensus of the federation channel (local chains use Raft).
    #[arg(long, value_enum, default_value_t = Consensus::Raft)]
    consensus: Consensus,
    /// The orderers' BatchTimeout (BFT: RequestBatchMaxInterval).
    #[arg(long, default_value = "50ms")]
    batch_timeout: String,
    #[arg(long, default_value_t = 500)]
    max_message_count: u32,
    /// First port of the layout: member n uses base + 100 (n - 1) .. + 99.
    #[arg(long, env = "VMLEDGER_NET_BASE_PORT", default_value_t = 7000)]
    base_port: u16,
    /// The address every node listens on and advertises.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Route each member's peer to the federation's orderers through its own toxiproxy, so that
    /// `vmledger-net cut ORG` can cut it off (the fault suite, scripts/faults).
    #[arg(long)]
    faults: bool,
}

/// Records the next member (standing `joining`) in the settings; returns its number.
fn add_member(net: &mut Net, host: &str) -> Result<u8> {
    let n = net.settings.next_member()?;
    net.settings.members.push(Member { n, host: host.to_owned(), standing: Standing::Joining });
    net.settings.save(&net.paths.settings())?;
    crate::say(&format!("org{n} (Org{n}MSP) stands up on its own: CA, identities, nodes, local chain"));
    Ok(n)
}

fn fabric_release(root: &Path) -> String {
    std::fs::read_to_string(root.join(".tools/fabric.version"))
        .ok()
        .and_then(|text| text.lines().nth(1).map(str::to_owned))
        .unwrap_or_default()
}

/// Runs the command; answers the process's exit code.
pub fn run(root: &Path) -> Result<u8> {
    let cli = Cli::parse();
    let run = cli.run.clone().unwrap_or_else(|| root.join("network/run"));
    let paths = Paths::new(run);
    let timeout = Duration::from_secs(cli.timeout);
    let load = |paths: &Paths| Settings::load(&paths.settings());
    let net_of = |settings: Settings| Net {
        root: root.to_owned(),
        paths: paths.clone(),
        bin: root.join(".tools/bin"),
        settings,
        timeout,
    };
    match cli.command {
        Command::Up(args) => {
            let _lock = verbs::lock(&paths)?;
            let installed = fabric_release(root);
            let settings = match load(&paths)? {
                Some(existing) => {
                    if !installed.is_empty() && installed != existing.fabric {
                        bail!(
                            "this network was created with Fabric {} but {installed} is installed: run `vmledger-net clean`",
                            existing.fabric
                        );
                    }
                    if args.faults && !existing.faults {
                        bail!("this network was created without --faults: run `vmledger-net clean` first");
                    }
                    existing
                }
                None => {
                    check_duration(&args.batch_timeout)?;
                    let settings = Settings {
                        fabric: installed,
                        consensus: args.consensus,
                        orderers_per_member: args.orderers_per_member,
                        batch_timeout: args.batch_timeout,
                        max_message_count: args.max_message_count,
                        base_port: args.base_port,
                        members: (1..=args.orgs)
                            .map(|n| Member { n, host: args.host.clone(), standing: Standing::Active })
                            .collect(),
                        faults: args.faults,
                    };
                    settings.check()?;
                    crate::say(&format!(
                        "creating a new network: {} members, {} federation orderer(s) each ({:?}), BatchTimeout {}, MaxMessageCount {}, Fabric {}",
                        args.orgs,
                        settings.orderers_per_member,
                        settings.consensus,
                        settings.batch_timeout,
                        settings.max_message_count,
                        settings.fabric
                    ));
                    std::fs::create_dir_all(&paths.run).context("creating the run folder")?;
                    settings.save(&paths.settings())?;
                    settings
                }
            };
            let net = net_of(settings);
            net.check_tools()?;
            up::up(&net)?;
            Ok(0)
        }
        Command::Down => {
            verbs::down(&paths)?;
            Ok(0)
        }
        Command::Status { json } => {
            let Some(settings) = load(&paths)? else {
                crate::say("no network (run `vmledger-net up`)");
                return Ok(3);
            };
            verbs::status(&net_of(settings), json)
        }
        Command::Logs { name, follow, lines } => verbs::logs(&paths, &name, follow, lines),
        Command::Env { org } => {
            let settings = load(&paths)?.context("no network (run `vmledger-net up`)")?;
            verbs::env(&net_of(settings), &org)
        }
        Command::Clean => {
            verbs::clean(&paths)?;
            Ok(0)
        }
        Command::Join { org, host } => {
            let _lock = verbs::lock(&paths)?;
            let mut net = net_of(load(&paths)?.context("no network (run `vmledger-net up`)")?);
            net.check_tools()?;
            let signers: Vec<u8> = net.members().map(|m| m.n).collect();
            let n = match org {
                Some(org) => {
                    let member = net.settings.find(&org)?;
                    if member.standing != Standing::Joining {
                        bail!("{org} is not joining (prepare it with `vmledger-net org add`)");
                    }
                    member.n
                }
                None => add_member(&mut net, &host)?,
            };
            membership::prepare(&net, n)?;
            membership::join(&net, n, &signers)?;
            membership::set_standing(&mut net, n, Standing::Active)?;
            membership::settle(&net, n)?;
            crate::say(&format!("org{n} joined the federation; clients read {}", crate::shown(&net.paths.members())));
            Ok(0)
        }
        Command::Leave { org } => {
            let _lock = verbs::lock(&paths)?;
            let mut net = net_of(load(&paths)?.context("no network")?);
            let n = net.settings.find(&org)?.n;
            membership::leave(&net, n)?;
            membership::set_standing(&mut net, n, Standing::Left)?;
            membership::drop_from_collections(&net)?;
            outputs::write_all(&net)?;
            crate::say(&format!("org{n} left the federation; its history stays on the ledger"));
            Ok(0)
        }
        Command::Org(OrgCommand::Add { host }) => {
            let _lock = verbs::lock(&paths)?;
            let mut net = net_of(load(&paths)?.context("no network (run `vmledger-net up`)")?);
            net.check_tools()?;
            let n = add_member(&mut net, &host)?;
            membership::prepare(&net, n)?;
            use std::io::Write;
            writeln!(std::io::stdout(), "org{n}")?;
            Ok(0)
        }
        Command::Relay { org } => {
            let settings = load(&paths)?.context("no network (run `vmledger-net up`)")?;
            crate::relay::run(&paths, &settings, &org)?;
            Ok(0)
        }
        Command::Signal { name, signal } => {
            if crate::layout::Node::parse(&name).is_none() {
                bail!("no process `{name}` (names look like peer0.org1, orderer0.org2, ca.org1, proxy.org1)");
            }
            let signal: nix::sys::signal::Signal = format!("SIG{signal}").parse().context("signal")?;
            let pid = crate::process::signal_named(&paths, &name, signal)?;
            crate::say(&format!("sent {signal} to {name} (pid {pid})"));
            Ok(0)
        }
        Command::Cut { org } => {
            let net = net_of(load(&paths)?.context("no network (run `vmledger-net up`)")?);
            crate::faults::links_enabled(&net, net.settings.find(&org)?.n, false)?;
            crate::say(&format!("{org} is cut off from the federation's orderers"));
            Ok(0)
        }
        Command::Mend { org } => {
            let net = net_of(load(&paths)?.context("no network (run `vmledger-net up`)")?);
            crate::faults::links_enabled(&net, net.settings.find(&org)?.n, true)?;
            crate::say(&format!("{org} reaches the federation's orderers again"));
            Ok(0)
        }
        Command::Identity { org, name, role, subject } => {
            let net = net_of(load(&paths)?.context("no network (run `vmledger-net up`)")?);
            let n = net.settings.find(&org)?.n;
            let role = crate::ca::APPLICATION_IDENTITIES.into_iter().find(|r| *r == role).context("role")?;
            let msp = crate::ca::enroll_extra(&net, n, &name, role, subject.as_deref())?;
            use std::io::Write;
            writeln!(std::io::stdout(), "{}", msp.display())?;
            Ok(0)
        }
        Command::Update(command) => {
            let net = net_of(load(&paths)?.context("no network")?);
            match command {
                UpdateCommand::Propose { change, org, out } => {
                    let n = net.settings.find(&org)?.n;
                    let change = match change {
                        ChangeKind::AddOrg => Change::AddOrg(n),
                        ChangeKind::AddConsenters => Change::AddConsenters(n),
                        ChangeKind::Remove => Change::Remove(n),
                    };
                    let by = net.members().map(|m| m.n).find(|&m| m != n).context("no other member")?;
                    let before = update::current_config(&net, by)?;
                    let after = update::apply(&net, &before, change)?;
                    update::propose(&net, &before, &after, &out)?;
                    crate::say(&format!(
                        "proposed: {} ({}); each admin signs it with `update sign`",
                        change.describe(),
                        crate::shown(&out)
                    ));
                }
                UpdateCommand::Sign { file, org } => update::sign(&net, &file, net.settings.find(&org)?.n)?,
                UpdateCommand::Submit { file, org } => update::submit(&net, &file, net.settings.find(&org)?.n)?,
            }
            Ok(0)
        }
    }
}
