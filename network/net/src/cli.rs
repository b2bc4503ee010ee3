//! The command line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use crate::layout::Paths;
use crate::net::Net;
use crate::settings::{Consensus, Member, Settings, Standing, check_duration};
use crate::{up, verbs};

/// vmledger-net: a real Hyperledger Fabric federation on this machine, as plain processes.
///
/// Each member has its own CA, peer, orderer(s) on the federation channel, local-chain orderer,
/// chaincode server and gateway REST proxy. Everything generated lives in the run folder
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
    #[arg(long, default_value_t = 7000)]
    base_port: u16,
    /// The address every node listens on and advertises.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
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
    }
}
