//! The command line, as clap types. Behaviour lives in one file per subcommand.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use vmledger_client::agent::AgentLimits;
use vmledger_client::image::Rate;
use vmledger_contract::placement::{Availability, Strategy};

use crate::output::Format;
use crate::when::When;

/// vmledger: VM migrations between federated clouds, recorded on a Hyperledger Fabric ledger.
///
/// Connect with --network-file/--member/--as (the running network's members.json), or with
/// --proxy-url/--api-key, or a context of the config file ($XDG_CONFIG_HOME/vmledger/config.toml,
/// else ~/.config/vmledger/config.toml; `vmledger context set`). Precedence: flags, then their
/// VMLEDGER_* environment variables, then the context, then the file's top-level keys, then
/// members.json.
///
/// Exit codes: 0 done; 1 failure; 2 usage error (also the contract's INVALID_ARGUMENT); 3 denied
/// (POLICY_DENIED, CAPACITY_EXCEEDED, UNAUTHORIZED, or `migrate check` not permitted); 4 rejected
/// (the image's hash did not match: committed as a rejected migration); 5 network unreachable or
/// unavailable (also timeouts); 6 not authenticated (API key refused); 7 not found; 8 conflict
/// (ALREADY_EXISTS, CONFLICT, or committed invalid).
#[derive(Debug, Parser)]
#[command(name = "vmledger", version, propagate_version = true, max_term_width = 100, after_help = TOP_EXAMPLES)]
pub(crate) struct Cli {
    /// Output format of the results on stdout: table (for people), json (one document; streams one
    /// per line), yaml, csv (a header, then one row per item), ndjson (one item per line).
    #[arg(short = 'o', long = "output", alias = "format", global = true, value_enum, default_value_t)]
    pub(crate) output: Format,

    /// The same as `-o json`.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    /// No progress bars on stderr.
    #[arg(long, short = 'q', global = true)]
    pub(crate) quiet: bool,

    #[command(flatten)]
    pub(crate) connection: Connection,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Connection")]
pub(crate) struct Connection {
    /// TOML config file with named contexts [default: $XDG_CONFIG_HOME/vmledger/config.toml].
    #[arg(long, global = true, env = "VMLEDGER_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// The context of the config file to use [default: its current_context].
    #[arg(long, global = true, env = "VMLEDGER_CONTEXT", value_name = "NAME")]
    pub(crate) context: Option<String>,

    /// The network's members.json [default: network/run/members.json when --member is given].
    #[arg(long, global = true, env = "VMLEDGER_NETWORK_FILE", value_name = "FILE")]
    pub(crate) network_file: Option<PathBuf>,

    /// The member to act for: org name (org1) or MSP id (Org1MSP).
    #[arg(long, global = true, env = "VMLEDGER_MEMBER", value_name = "ORG")]
    pub(crate) member: Option<String>,

    /// The member's identity to act as: manager, operator or relay [default: manager].
    #[arg(long = "as", global = true, env = "VMLEDGER_AS", value_name = "IDENTITY")]
    pub(crate) identity: Option<String>,

    /// Base URL of the member's gateway REST proxy.
    #[arg(long, global = true, env = "VMLEDGER_PROXY_URL", value_name = "URL")]
    pub(crate) proxy_url: Option<String>,

    /// API key for the proxy.
    #[arg(long, global = true, env = "VMLEDGER_API_KEY", hide_env_values = true, value_name = "KEY")]
    pub(crate) api_key: Option<String>,

    /// Channel [default: federation].
    #[arg(long, global = true, env = "VMLEDGER_CHANNEL")]
    pub(crate) channel: Option<String>,

    /// Chaincode [default: vmledger].
    #[arg(long, global = true, env = "VMLEDGER_CHAINCODE")]
    pub(crate) chaincode: Option<String>,

    /// Seconds to wait for a transaction's commit.
    #[arg(long, global = true, env = "VMLEDGER_COMMIT_TIMEOUT", value_name = "SECS")]
    pub(crate) commit_timeout: Option<u64>,

    /// Seconds to work at learning the outcome of a write whose answer did not come (looking it up,
    /// sending it again with the same idempotency key) before exiting 9 with its transaction id.
    #[arg(long, global = true, env = "VMLEDGER_RESOLVE_TIMEOUT", value_name = "SECS")]
    pub(crate) resolve_timeout: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Register and show clouds.
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  vmledger --member org1 cloud register --id cloud-a --name \"Cloud A\"\n  vmledger --member org1 cloud show cloud-a -o yaml"
    )]
    Cloud(CloudCommand),
    /// Register, update, show and list hosts.
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  vmledger --member org1 host list --cloud cloud-a\n  vmledger --member org1 host update a-tokyo-1 --cpu 64"
    )]
    Host(HostCommand),
    /// Register and show VMs; set a VM's regulation.
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  vmledger --member org1 vm show vm-003\n  vmledger --member org1 vm regulation set vm-003 --countries JP,GB"
    )]
    Vm(VmCommand),
    /// Check, start, confirm, cancel a migration, or run one whole (hash, indicate, transfer, confirm).
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  vmledger --member org1 migrate check --vm vm-003 --to-host b-frankfurt-1\n  vmledger --member org1 migrate run --vm vm-003 --to-host b-london-1 --image vm.raw --to-agent http://127.0.0.1:7301"
    )]
    Migrate(MigrateCommand),
    /// Migrations of a VM or of a cloud, by time range, page by page.
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  vmledger --member org2 history cloud cloud-b --from -1w\n  vmledger --member org2 history vm vm-003 --residencies"
    )]
    History(HistoryCommand),
    /// Where a VM should go: the federation's eligible hosts ranked by a strategy, and every other
    /// host with its reasons (the contract's PlaceVm; exit 3 when no host is eligible).
    #[command(
        after_help = "Examples:\n  vmledger --member org1 place vm-003\n  vmledger --member org1 place vm-003 --strategy round-robin --limit 3 --min-reputation 900 -o json"
    )]
    Place(PlaceArgs),
    /// What a cloud hosted over a period: the billing report.
    #[command(
        after_help = "Examples:\n  vmledger --member org2 usage --cloud cloud-b --from -1d\n  vmledger --member org2 usage --cloud cloud-b --from 2026-11-01 --to 2026-12-01 -o csv > november.csv"
    )]
    Usage(UsageArgs),
    /// Live feed of the contract's events.
    #[command(
        after_help = "Examples:\n  vmledger --member org1 events --from-block 0 --count 5\n  vmledger --member org1 events --name MigrationConfirmed,MigrationRejected -o ndjson"
    )]
    Events(EventsArgs),
    /// A transaction by id: committed (valid), committed invalid, pending, or not known; its block,
    /// validation code, function and result.
    #[command(
        after_help = "Exit codes: 0 committed valid, 8 committed invalid, 9 sent but not committed yet, 7 not known.\n\nExamples:\n  vmledger --member org1 tx 3f1c…e9\n  vmledger --member org2 tx 3f1c…e9 -o json"
    )]
    Tx(TxArgs),
    /// SHA-256 of a VM image (raw or qcow2, any size).
    #[command(
        after_help = "Examples:\n  vmledger hash fixtures/images/vm-003.raw\n  vmledger -q hash vm.qcow2        # \"<sha256>  <file>\", like sha256sum"
    )]
    Hash(HashArgs),
    /// The destination agent: receives images over HTTP, hashes them, confirms or rejects on the ledger.
    #[command(
        after_help = "Examples:\n  vmledger --member org2 --as operator agent --listen 127.0.0.1:7301 --dir /srv/landing\n  vmledger --member org2 --as operator -o json agent --listen 127.0.0.1:0 --dir /tmp/landing"
    )]
    Agent(AgentArgs),
    /// The benchmark suite: latency against Fabric's floor, throughput, whole migrations, hashing.
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  vmledger --member org1 bench run --smoke --suite latency,hash --hash-file vm.raw --out results/smoke\n  vmledger bench summary --out results"
    )]
    Bench(BenchCommand),
    /// Register a federation from a file (clouds, hosts, VMs, regulations), idempotently.
    #[command(
        after_help = "Examples:\n  vmledger --network-file network/run/members.json apply -f fixtures/federation.json\n  vmledger apply -f fixtures/federation.json --dry-run -o json"
    )]
    Apply(ApplyArgs),
    /// Named connection settings in the config file: list, show, use, set.
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  vmledger context set org1 --network-file network/run/members.json --member org1 --as manager --use\n  vmledger context list\n  vmledger --context org2 history cloud cloud-b"
    )]
    Context(ContextCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Examples:\n  vmledger completion bash > ~/.local/share/bash-completion/completions/vmledger\n  vmledger completion zsh > \"${fpath[1]}/_vmledger\"\n  vmledger completion fish > ~/.config/fish/completions/vmledger.fish"
    )]
    Completion(CompletionArgs),
    /// Service terms between two clouds: propose (prices private to the pair), accept, show.
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  vmledger --member org1 terms propose --id org1.t1 --from-cloud org1.cloud-a --to-cloud org2.cloud-b --availability-bp 9990 --max-downtime-ms 500 --currency EUR --cpu-core-hour 17000 --memory-gib-hour 4000 --network-mbps-hour 7 --io-mbps-hour 1 --fixed-credit 10000 --credit-per-downtime-second 1000 --credit-per-basis-point 500 --max-credit 50000\n  vmledger --member org2 terms accept org1.t1\n  vmledger --member org3 terms show org1.t1"
    )]
    Terms(TermsCommand),
    /// Violation claims under agreed terms: file, dispute, accept, show.
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  vmledger --member org1 claim file --id org1.c1 --terms org1.t1 --migration <id> --downtime-ms 2500 --evidence oracle-17\n  vmledger --member org2 claim dispute org1.c1 --measured 450 --reason \"our QMP log says 450 ms\"\n  vmledger --member org2 claim accept org1.c1"
    )]
    Claim(ClaimCommand),
}

const TOP_EXAMPLES: &str = "Examples:
  vmledger --member org1 host list --cloud cloud-b
  vmledger context set org1 --network-file network/run/members.json --member org1 --use
  vmledger migrate check --vm vm-003 --to-host b-frankfurt-1
  vmledger --member org2 history cloud cloud-b --from -1w -o csv
  vmledger completion bash > ~/.local/share/bash-completion/completions/vmledger";

/// The connection values given as flags on this command line (not from the environment).
pub(crate) fn given_on_command_line(c: &Connection, matches: &clap::ArgMatches) -> Connection {
    let flag = |id: &str| {
        // Global arguments are propagated to the subcommand that ran; ask where it was given.
        let mut m = matches;
        loop {
            if m.value_source(id) == Some(clap::parser::ValueSource::CommandLine) {
                return true;
            }
            match m.subcommand() {
                Some((_, sub)) => m = sub,
                None => return false,
            }
        }
    };
    let keep = |id: &str, v: &Option<String>| if flag(id) { v.clone() } else { None };
    Connection {
        config: c.config.clone(),
        context: c.context.clone(),
        network_file: if flag("network_file") { c.network_file.clone() } else { None },
        member: keep("member", &c.member),
        identity: keep("identity", &c.identity),
        proxy_url: keep("proxy_url", &c.proxy_url),
        api_key: keep("api_key", &c.api_key),
        channel: keep("channel", &c.channel),
        chaincode: keep("chaincode", &c.chaincode),
        commit_timeout: if flag("commit_timeout") { c.commit_timeout } else { None },
        resolve_timeout: if flag("resolve_timeout") { c.resolve_timeout } else { None },
    }
}

// ---- apply, context, completion ------------------------------------------------------------------

#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// The federation file (fixtures/federation.json's format).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// Only print the plan: what would be registered, updated, skipped or is in conflict.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ContextCommand {
    /// The contexts of the config file (the current one marked).
    #[command(after_help = "Examples:\n  vmledger context list")]
    List,
    /// A context's settings and the connection they give [default: the context in use].
    #[command(after_help = "Examples:\n  vmledger context show org1")]
    Show { name: Option<String> },
    /// Make a context the current one.
    #[command(after_help = "Examples:\n  vmledger context use org2")]
    Use { name: String },
    /// Create or change a context from the connection flags given here (--member, --as,
    /// --network-file, --proxy-url, --api-key, --channel, --chaincode, --commit-timeout).
    #[command(
        after_help = "Examples:\n  vmledger context set org1 --network-file network/run/members.json --member org1 --as manager --use\n  vmledger context set remote --proxy-url http://10.0.0.5:7101 --api-key KEY"
    )]
    Set {
        name: String,
        /// Make it the current context too.
        #[arg(long = "use")]
        make_current: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct CompletionArgs {
    /// The shell.
    pub(crate) shell: clap_complete::Shell,
}

// ---- clouds ------------------------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub(crate) enum CloudCommand {
    /// Register a cloud, bound to the calling member (needs the manager identity).
    #[command(
        after_help = "Examples:\n  vmledger --member org1 cloud register --id cloud-a --name \"Cloud A\"\n  vmledger --member org2 cloud register --id cloud-b --name \"Cloud B\" --currency EUR --cpu-core-hour 30000 --memory-gib-hour 4000 --network-mbps-hour 120 --io-mbps-hour 60"
    )]
    Register(CloudRegister),
    /// Show a cloud.
    #[command(after_help = "Examples:\n  vmledger --member org1 cloud show cloud-b")]
    Show { id: String },
    /// How a cloud's migrations ended (confirmed, rejected, declined, expired; as destination and as
    /// source), its mean time to confirm and its score, with the migrations behind each figure.
    #[command(
        after_help = "Examples:\n  vmledger --member org1 cloud reputation org2.cloud-b\n  vmledger --member org1 cloud reputation org2.cloud-b --from -90d -o json"
    )]
    Reputation(CloudReputation),
}

#[derive(Debug, Args)]
pub(crate) struct CloudReputation {
    pub(crate) id: String,
    /// Start (inclusive): RFC 3339, a date, `now`, or relative (-2h, -7d) [default: 30 days before --to].
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) from: Option<When>,
    /// End (exclusive) [default: now].
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) to: Option<When>,
}

#[derive(Debug, Args)]
pub(crate) struct CloudRegister {
    #[arg(long)]
    pub(crate) id: String,
    #[arg(long)]
    pub(crate) name: String,
    /// Currency of the prices (prices are integers in micro-units of it).
    #[arg(long, requires_all = ["cpu_core_hour", "memory_gib_hour", "network_mbps_hour", "io_mbps_hour"])]
    pub(crate) currency: Option<String>,
    #[arg(long, requires = "currency", value_name = "MICRO")]
    pub(crate) cpu_core_hour: Option<u64>,
    #[arg(long, requires = "currency", value_name = "MICRO")]
    pub(crate) memory_gib_hour: Option<u64>,
    #[arg(long, requires = "currency", value_name = "MICRO")]
    pub(crate) network_mbps_hour: Option<u64>,
    #[arg(long, requires = "currency", value_name = "MICRO")]
    pub(crate) io_mbps_hour: Option<u64>,
}

// ---- hosts -------------------------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub(crate) enum HostCommand {
    /// Register a host of one of the member's clouds (needs the manager identity).
    #[command(
        after_help = "Examples:\n  vmledger --member org1 host register --id a-tokyo-1 --cloud cloud-a --country JP --org CompanyA --cpu 32 --memory-mib 131072 --network-mbps 10000 --io-mbps 4000"
    )]
    Register(HostRegister),
    /// Change a host's country, organisations or capacity (needs the manager identity).
    #[command(
        after_help = "Examples:\n  vmledger --member org1 host update a-tokyo-1 --cpu 64 --org CompanyA,CompanyB"
    )]
    Update(HostUpdate),
    /// Show a host.
    #[command(after_help = "Examples:\n  vmledger --member org1 host show b-london-1 -o json")]
    Show { id: String },
    /// List the hosts of a cloud.
    #[command(
        after_help = "Examples:\n  vmledger --member org1 host list --cloud cloud-b\n  vmledger --member org1 host list --cloud cloud-b --all -o csv"
    )]
    List(HostList),
    /// Report a host up, draining or down (needs the manager identity); recorded only when it changes.
    #[command(
        after_help = "Examples:\n  vmledger --member org2 --as manager host availability org2.b-london-1 draining --reason \"retiring\"\n  vmledger --member org2 --as manager host availability org2.b-london-1 up --utilization 35"
    )]
    Availability(HostAvailability),
}

#[derive(Debug, Args)]
pub(crate) struct HostAvailability {
    pub(crate) id: String,
    /// `up`, `draining` (keeps what it has, takes nothing new) or `down`.
    #[arg(value_parser = parse_availability)]
    pub(crate) availability: Availability,
    /// The host's utilisation as the cloud measures it, 0-100.
    #[arg(long, value_name = "PERCENT")]
    pub(crate) utilization: Option<u8>,
    #[arg(long)]
    pub(crate) reason: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ResourceArgs {
    /// CPU cores.
    #[arg(long)]
    pub(crate) cpu: Option<u64>,
    #[arg(long, value_name = "MIB")]
    pub(crate) memory_mib: Option<u64>,
    #[arg(long, value_name = "MBPS")]
    pub(crate) network_mbps: Option<u64>,
    #[arg(long, value_name = "MBPS")]
    pub(crate) io_mbps: Option<u64>,
}

#[derive(Debug, Args)]
pub(crate) struct HostRegister {
    #[arg(long)]
    pub(crate) id: String,
    #[arg(long)]
    pub(crate) cloud: String,
    /// ISO 3166-1 alpha-2 country code.
    #[arg(long)]
    pub(crate) country: String,
    /// Organisations managing the host (repeat, or separate with commas).
    #[arg(long = "org", required = true, value_delimiter = ',')]
    pub(crate) organizations: Vec<String>,
    #[command(flatten)]
    pub(crate) capacity: ResourceArgs,
}

#[derive(Debug, Args)]
pub(crate) struct HostUpdate {
    pub(crate) id: String,
    #[arg(long)]
    pub(crate) country: Option<String>,
    #[arg(long = "org", value_delimiter = ',')]
    pub(crate) organizations: Vec<String>,
    /// New capacity; resources not given keep their current value.
    #[command(flatten)]
    pub(crate) capacity: ResourceArgs,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct PageArgs {
    /// Items per page.
    #[arg(long)]
    pub(crate) page_size: Option<u32>,
    /// Continue from the bookmark a previous page printed.
    #[arg(long)]
    pub(crate) bookmark: Option<String>,
    /// Follow bookmarks to the end.
    #[arg(long, conflicts_with = "bookmark")]
    pub(crate) all: bool,
}

#[derive(Debug, Args)]
pub(crate) struct HostList {
    #[arg(long)]
    pub(crate) cloud: String,
    #[command(flatten)]
    pub(crate) page: PageArgs,
}

// ---- VMs ---------------------------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub(crate) enum VmCommand {
    /// Register a VM on a host of its own cloud.
    #[command(
        after_help = "Examples:\n  vmledger --member org1 --as operator vm register --id vm-1 --cloud cloud-a --host a-tokyo-1 --cpu 2 --memory-mib 4096 --network-mbps 100 --io-mbps 200 --image vm.raw --countries JP,GB --organizations CompanyA,CompanyB"
    )]
    Register(VmRegister),
    /// Show a VM.
    #[command(after_help = "Examples:\n  vmledger --member org1 vm show vm-003")]
    Show { id: String },
    /// A VM's regulation (where its data may go).
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  vmledger --member org1 vm regulation set vm-003 --countries JP,GB --organizations All"
    )]
    Regulation(RegulationCommand),
}

#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct ImageRef {
    /// The image file, hashed here.
    #[arg(long, value_name = "FILE")]
    pub(crate) image: Option<PathBuf>,
    /// The image's SHA-256, already known.
    #[arg(long, value_name = "HEX")]
    pub(crate) image_hash: Option<String>,
}

/// A migration's transfer key (64 hex characters): the source draws it, the Indication records
/// only its hash, it travels with the image, the destination confirms with it.
#[derive(Debug, Clone, Args)]
pub(crate) struct KeyArg {
    #[arg(long, value_name = "HEX", env = "VMLEDGER_TRANSFER_KEY", hide_env_values = true)]
    pub(crate) transfer_key: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct RegulationArgs {
    /// Countries the VM may run in: `All`, or ISO codes separated by commas.
    #[arg(long, default_value = "All")]
    pub(crate) countries: String,
    /// Organisations that may manage its host: `All`, or names separated by commas.
    #[arg(long, default_value = "All")]
    pub(crate) organizations: String,
}

#[derive(Debug, Args)]
pub(crate) struct VmRegister {
    #[arg(long)]
    pub(crate) id: String,
    #[arg(long)]
    pub(crate) cloud: String,
    #[arg(long)]
    pub(crate) host: String,
    #[command(flatten)]
    pub(crate) requirements: ResourceArgs,
    #[command(flatten)]
    pub(crate) image: ImageRef,
    #[command(flatten)]
    pub(crate) regulation: RegulationArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RegulationCommand {
    /// Replace the VM's regulation (needs the manager identity of its operator).
    #[command(
        after_help = "Examples:\n  vmledger --member org1 vm regulation set vm-003 --countries JP,GB --organizations CompanyA,CompanyB"
    )]
    Set {
        vm: String,
        #[command(flatten)]
        regulation: RegulationArgs,
    },
}

// ---- migrations --------------------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub(crate) enum MigrateCommand {
    /// Would a migration be permitted? Lists every rule it breaks (exit 3 when denied).
    #[command(
        after_help = "Examples:\n  vmledger --member org1 migrate check --vm vm-003 --to-host b-frankfurt-1    # exit 3 when denied"
    )]
    Check(MigrateCheck),
    /// Record the Indication (`Migrate`): the image's hash and the destination host.
    #[command(
        after_help = "Examples:\n  vmledger --member org1 migrate start --vm vm-003 --to-host b-london-1 --image vm.raw --no-wait"
    )]
    Start(MigrateStart),
    /// Show a migration.
    #[command(after_help = "Examples:\n  vmledger --member org2 migrate show 3f1c…")]
    Show { id: String },
    /// Confirm an arrival with the hash of what arrived (as the destination member); exit 4 when the
    /// hash differs (committed as a rejected migration).
    #[command(
        after_help = "Examples:\n  vmledger --member org2 --as operator migrate confirm 3f1c… --image /srv/landing/3f1c….img    # exit 4 when rejected"
    )]
    Confirm(MigrateConfirm),
    /// Withdraw an Indication (as the VM's operator).
    #[command(
        after_help = "Examples:\n  vmledger --member org1 migrate cancel 3f1c… --reason \"maintenance window moved\""
    )]
    Cancel {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Refuse an Indication as its destination (no tamper evidence).
    #[command(
        after_help = "Examples:\n  vmledger --member org2 migrate decline 3f1c… --reason \"host in maintenance\""
    )]
    Decline {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// End an Indication past its deadline (its source or destination).
    #[command(after_help = "Examples:\n  vmledger --member org1 migrate expire 3f1c…")]
    Expire { id: String },
    /// Send an indicated migration's image to its destination (folder or agent).
    #[command(
        after_help = "Examples:\n  vmledger --member org1 migrate send 3f1c… --image vm.raw --to-agent http://127.0.0.1:7301 --rate-limit 124.8Mbit"
    )]
    Send(MigrateSend),
    /// The whole migration: hash, indicate, transfer while the Indication commits, let the
    /// destination hash and confirm; then a timing report.
    #[command(
        after_help = "Examples:\n  vmledger --member org1 --as operator migrate run --vm vm-003 --to-host b-london-1 --image vm.raw --to-agent http://127.0.0.1:7301 --rate-limit 124.8Mbit\n  vmledger --member org1 migrate run --vm vm-003 --to-host b-london-1 --image vm.raw --to-dir /tmp/landing --dest-member org2 -o json"
    )]
    Run(MigrateRun),
}

#[derive(Debug, Args)]
pub(crate) struct MigrateCheck {
    #[arg(long)]
    pub(crate) vm: String,
    #[arg(long, value_name = "HOST")]
    pub(crate) to_host: String,
    #[arg(long, value_name = "HEX")]
    pub(crate) image_hash: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct TxArgs {
    /// The transaction id (64 hex digits), e.g. a migration's id.
    #[arg(value_name = "TX_ID")]
    pub(crate) id: String,
}

#[derive(Debug, Args)]
pub(crate) struct MigrateStart {
    #[arg(long)]
    pub(crate) vm: String,
    #[arg(long, value_name = "HOST")]
    pub(crate) to_host: String,
    #[command(flatten)]
    pub(crate) image: ImageRef,
    /// The image's HMAC under the transfer key, with --image-hash (computed here with --image).
    #[arg(long, value_name = "HEX", requires = "image_hash")]
    pub(crate) keyed_digest: Option<String>,
    /// The migration's transfer key [default: a new random one, printed with the answer].
    #[command(flatten)]
    pub(crate) key: KeyArg,
    /// Reserve the destination this long (seconds) [default: the contract's, 3600].
    #[arg(long, value_name = "SECS")]
    pub(crate) ttl: Option<u32>,
    /// Return once the orderer accepted the Indication, without waiting for its commit.
    #[arg(long)]
    pub(crate) no_wait: bool,
    /// The Indication's idempotency key: the same key again (after an outcome not seen, exit 9)
    /// finds the same migration instead of making a second one. A fresh key when absent.
    #[arg(long, value_name = "KEY")]
    pub(crate) idempotency_key: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct MigrateConfirm {
    pub(crate) id: String,
    /// What arrived, hashed (and HMAC'd under the transfer key) here.
    #[arg(long, value_name = "FILE", required_unless_present = "observed_hash", conflicts_with = "observed_hash")]
    pub(crate) image: Option<PathBuf>,
    /// The hash of what arrived, already known (with --keyed-digest).
    #[arg(long, value_name = "HEX", requires = "keyed_digest")]
    pub(crate) observed_hash: Option<String>,
    /// The HMAC of what arrived under the transfer key, already known.
    #[arg(long, value_name = "HEX")]
    pub(crate) keyed_digest: Option<String>,
    /// The transfer key that came with the image.
    #[command(flatten)]
    pub(crate) key: KeyArg,
}

#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct Destination {
    /// Copy the image into this folder (the destination's landing area).
    #[arg(long, value_name = "DIR")]
    pub(crate) to_dir: Option<PathBuf>,
    /// Upload the image to this destination agent (`vmledger agent`).
    #[arg(long, value_name = "URL")]
    pub(crate) to_agent: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct MigrateSend {
    pub(crate) id: String,
    #[arg(long, value_name = "FILE")]
    pub(crate) image: PathBuf,
    /// The migration's transfer key (as `migrate start` printed it): the agent's upload token.
    #[command(flatten)]
    pub(crate) key: KeyArg,
    #[command(flatten)]
    pub(crate) destination: Destination,
    /// Cap the transfer rate, e.g. 124.8Mbit (BlockchainBus' inter-cloud rate) or 10MB/s.
    #[arg(long, value_name = "RATE")]
    pub(crate) rate_limit: Option<Rate>,
}

#[derive(Debug, Args)]
pub(crate) struct MigrateRun {
    /// The VM to move.
    #[arg(long)]
    pub(crate) vm: String,
    /// The destination host.
    #[arg(long, value_name = "HOST", required_unless_present = "auto", conflicts_with = "auto")]
    pub(crate) to_host: Option<String>,
    /// Let placement pick the destination: the first host `vmledger place` ranks.
    #[arg(long)]
    pub(crate) auto: bool,
    /// With --auto: how placement ranks the hosts.
    #[arg(long, value_name = "STRATEGY", requires = "auto", value_parser = parse_strategy, default_value = "least-loaded")]
    pub(crate) strategy: Strategy,
    /// The VM's image (raw or qcow2): hashed, then sent.
    #[arg(long, value_name = "FILE", required_unless_present = "live")]
    pub(crate) image: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) destination: Destination,
    /// Cap the transfer rate, e.g. 124.8Mbit (BlockchainBus' inter-cloud rate) or 10MB/s.
    #[arg(long, value_name = "RATE")]
    pub(crate) rate_limit: Option<Rate>,
    /// The Indication's idempotency key (see `migrate start --idempotency-key`).
    #[arg(long, value_name = "KEY")]
    pub(crate) idempotency_key: Option<String>,
    /// Live-migrate the running guest behind --qmp to the destination agent (--to-agent): the
    /// destination resumes it only once the ledger confirmed the stream's hash.
    #[arg(long, requires_all = ["qmp", "to_agent"], conflicts_with_all = ["image", "to_dir"])]
    pub(crate) live: bool,
    /// With --live: the source QEMU's QMP socket.
    #[arg(long, value_name = "SOCKET", requires = "live")]
    pub(crate) qmp: Option<PathBuf>,
    /// With --live: switch to post-copy after the first pass (the guest still waits for the
    /// ledger at the destination: a bounded total, a longer pause).
    #[arg(long, requires = "live")]
    pub(crate) postcopy: bool,
    /// With --live: QEMU's downtime-limit, in ms [default: QEMU's, 300].
    #[arg(long, value_name = "MS", requires = "live")]
    pub(crate) downtime_limit: Option<u64>,
    /// With --live: seconds to wait for the destination's Confirmation before cancelling.
    #[arg(long, value_name = "SECS", default_value_t = 60, requires = "live")]
    pub(crate) decision_timeout: u64,
    /// Test hook: flip the live stream's byte at this offset after hashing it (a corrupting link).
    #[arg(long, value_name = "OFFSET", requires = "live", hide = true)]
    pub(crate) test_corrupt_byte_at: Option<u64>,
    /// With --to-dir: the destination member who hashes and confirms (same network file).
    #[arg(long, value_name = "ORG", conflicts_with = "to_agent")]
    pub(crate) dest_member: Option<String>,
    /// With --to-dir: the destination member's identity [default: user].
    #[arg(long, value_name = "IDENTITY", conflicts_with = "to_agent")]
    pub(crate) dest_as: Option<String>,
    /// With --to-dir: the destination member's proxy, instead of --dest-member.
    #[arg(long, value_name = "URL", conflicts_with_all = ["to_agent", "dest_member"])]
    pub(crate) dest_proxy_url: Option<String>,
    #[arg(
        long,
        value_name = "KEY",
        env = "VMLEDGER_DEST_API_KEY",
        hide_env_values = true,
        conflicts_with = "to_agent"
    )]
    pub(crate) dest_api_key: Option<String>,
}

// ---- history, usage, events --------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub(crate) enum HistoryCommand {
    /// Migrations of a VM (with --residencies: its stays on hosts and regulation changes too).
    #[command(
        after_help = "Examples:\n  vmledger --member org1 history vm vm-003 --residencies\n  vmledger --member org1 history vm vm-003 --all -o csv"
    )]
    Vm {
        id: String,
        #[command(flatten)]
        period: Period,
        #[command(flatten)]
        page: PageArgs,
        /// Also show where the VM stayed, from when to when, and its regulation changes.
        #[arg(long)]
        residencies: bool,
    },
    /// Migrations from or to a cloud.
    #[command(
        after_help = "Examples:\n  vmledger --member org2 history cloud cloud-b --from -1w --to now\n  vmledger --member org2 history cloud cloud-b --from 2026-11-01 --all -o ndjson | jq .status"
    )]
    Cloud {
        id: String,
        #[command(flatten)]
        period: Period,
        #[command(flatten)]
        page: PageArgs,
    },
}

#[derive(Debug, Clone, Args)]
pub(crate) struct Period {
    /// Start (inclusive): RFC 3339, a date (2025-01-31), `now`, or relative (-2h, -30m, -7d).
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) from: Option<When>,
    /// End (exclusive), same forms.
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) to: Option<When>,
}

#[derive(Debug, Args)]
pub(crate) struct UsageArgs {
    /// The cloud that hosted (who bills).
    #[arg(long)]
    pub(crate) cloud: String,
    /// Start (inclusive): RFC 3339, a date, `now`, or relative (-2h, -7d).
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) from: When,
    /// End (exclusive) [default: now].
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) to: Option<When>,
}

#[derive(Debug, Args)]
pub(crate) struct PlaceArgs {
    pub(crate) vm: String,
    /// round-robin, least-loaded, hash or best-fit.
    #[arg(long, value_name = "STRATEGY", value_parser = parse_strategy, default_value = "least-loaded")]
    pub(crate) strategy: Strategy,
    /// Show at most this many ranked hosts.
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<u32>,
    /// Leave out clouds whose reputation score (per mille, `cloud reputation`) is lower or unknown.
    #[arg(long, value_name = "SCORE")]
    pub(crate) min_reputation: Option<u32>,
}

/// A wire name of the contract's (`round-robin`, `down`, …) as its type: the names are the contract's.
fn parse_wire<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|e| e.to_string())
}

fn parse_strategy(s: &str) -> Result<Strategy, String> {
    parse_wire(s)
}

fn parse_availability(s: &str) -> Result<Availability, String> {
    parse_wire(s)
}

#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    /// Start with this block (replays history); default: from the next block.
    #[arg(long, value_name = "BLOCK", conflicts_with = "after")]
    pub(crate) from_block: Option<u64>,
    /// Resume after this event id (`block:index`, as printed).
    #[arg(long, value_name = "ID")]
    pub(crate) after: Option<String>,
    /// Only events with these names (repeat, or separate with commas).
    #[arg(long = "name", value_delimiter = ',')]
    pub(crate) names: Vec<String>,
    /// Only events about this VM.
    #[arg(long)]
    pub(crate) vm: Option<String>,
    /// Stop after this many events.
    #[arg(long)]
    pub(crate) count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub(crate) duration: Option<u64>,
}

#[derive(Debug, Args)]
pub(crate) struct HashArgs {
    pub(crate) file: PathBuf,
    /// Also the HMAC under this transfer key.
    #[command(flatten)]
    pub(crate) key: KeyArg,
}

#[derive(Debug, Args)]
pub(crate) struct AgentArgs {
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:7301")]
    pub(crate) listen: SocketAddr,
    /// Where received images land.
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: PathBuf,
    /// Seconds an upload waits, before its body is read, for its Indication to reach this
    /// member's peer.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub(crate) lookup_timeout: u64,
    /// Connections open at once; more are closed when accepted.
    #[arg(long, default_value_t = AgentLimits::default().max_connections, value_name = "N")]
    pub(crate) max_connections: usize,
    /// Image uploads at once; more are answered 503 with Retry-After.
    #[arg(long, default_value_t = AgentLimits::default().max_uploads, value_name = "N")]
    pub(crate) max_uploads: usize,
    /// The largest image stored, in bytes; a larger declared length is refused before a byte is read.
    #[arg(long, default_value_t = AgentLimits::default().max_image_bytes, value_name = "BYTES")]
    pub(crate) max_image_bytes: u64,
    /// Seconds an upload may go without a byte; then what arrived is kept for a resume.
    #[arg(long, default_value_t = AgentLimits::default().idle_timeout.as_secs(), value_name = "SECS")]
    pub(crate) idle_timeout: u64,
    /// Seconds one upload request may take; then what arrived is kept for a resume.
    #[arg(long, default_value_t = AgentLimits::default().upload_timeout.as_secs(), value_name = "SECS")]
    pub(crate) upload_timeout: u64,
    /// Seconds a client may take to send a request's head.
    #[arg(long, default_value_t = AgentLimits::default().header_timeout.as_secs(), value_name = "SECS")]
    pub(crate) header_timeout: u64,
    /// The largest request head, in bytes (at least 8192).
    #[arg(long, default_value_t = AgentLimits::default().max_header_bytes, value_name = "BYTES")]
    pub(crate) max_header_bytes: usize,
    /// Take live migrations too: the guest's kernel (its memory and vCPUs come from the ledger).
    #[arg(long, value_name = "FILE", requires = "live_initrd")]
    pub(crate) live_kernel: Option<PathBuf>,
    /// The guest's initramfs, for live migrations.
    #[arg(long, value_name = "FILE", requires = "live_kernel")]
    pub(crate) live_initrd: Option<PathBuf>,
    /// The guest's kernel command line (need not match the source's).
    #[arg(long, value_name = "TEXT", default_value = "console=ttyS0 quiet panic=-1", requires = "live_kernel")]
    pub(crate) live_append: String,
    /// QEMU's machine type; pin a versioned one (pc-i440fx-7.2) across QEMU versions.
    #[arg(long, value_name = "TYPE", default_value = "pc", requires = "live_kernel")]
    pub(crate) live_machine: String,
    /// The QEMU binary for destination guests.
    #[arg(long, value_name = "PROGRAM", default_value = "qemu-system-x86_64", requires = "live_kernel")]
    pub(crate) qemu: PathBuf,
    /// Let sources switch to post-copy (needs userfaultfd on this host).
    #[arg(long, requires = "live_kernel")]
    pub(crate) allow_postcopy: bool,
    /// This agent's member's MSP id: it takes only migrations into this member's clouds [default:
    /// the member's, from the network file].
    #[arg(long, value_name = "MSPID")]
    pub(crate) msp_id: Option<String>,
}

// ---- bench ---------------------------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Run the suite (or parts of it) on the running network and write a report.
    #[command(
        after_help = "Examples:\n  vmledger --member org1 bench run --smoke --suite latency,hash --hash-file vm.raw --out results/smoke --tag smoke\n  scripts/bench    # the whole suite on a fresh network"
    )]
    Run(Box<BenchRun>),
    /// Write SUMMARY.md (and the cross-report plots) from every report in a folder.
    #[command(after_help = "Examples:\n  vmledger bench summary --out results    # SUMMARY.md and SUMMARY.html")]
    Summary {
        /// The results folder.
        #[arg(long, default_value = "results")]
        out: PathBuf,
    },
}

#[derive(Debug, Args)]
pub(crate) struct BenchRun {
    /// A handful of transactions only (5 Ping, 3 migrations, one hash), then check the figures.
    #[arg(long)]
    pub(crate) smoke: bool,
    /// Parts to run.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "latency,hash,transfer,throughput")]
    pub(crate) suite: Vec<BenchPart>,
    /// Results folder.
    #[arg(long, default_value = "results")]
    pub(crate) out: PathBuf,
    /// Name of this report (files `<tag>.json`, `<tag>-*.csv`, `<tag>-*.svg`).
    #[arg(long, default_value = "bench")]
    pub(crate) tag: String,
    /// The source member (operator of the benchmark's VMs).
    #[arg(long, default_value = "org1")]
    pub(crate) source: String,
    /// The destination member.
    #[arg(long, default_value = "org2")]
    pub(crate) destination: String,
    /// Sequential operations per latency round.
    #[arg(long, default_value_t = 40)]
    pub(crate) latency_count: u64,
    /// Closed-loop rounds: operations in flight.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64")]
    pub(crate) in_flight: Vec<usize>,
    /// Open-loop rounds: offered migrations per second (also the BASICS rates).
    #[arg(long, value_delimiter = ',', default_value = "5,10,20,40,60,80")]
    pub(crate) rates: Vec<f64>,
    /// The chains part: offered local migrations per second (BASICS Fig. 6–7).
    #[arg(long, value_delimiter = ',', default_value = "1,2,5,10,20,40")]
    pub(crate) local_rates: Vec<f64>,
    /// The chains part: offered inter-cloud migrations per second (BASICS Fig. 8).
    #[arg(long, value_delimiter = ',', default_value = "0.25,0.5,1,2,5,10")]
    pub(crate) inter_rates: Vec<f64>,
    /// Seconds per throughput round (closed or open).
    #[arg(long, default_value_t = 12)]
    pub(crate) round_seconds: u64,
    /// VM images for the transfer part (made by fixtures/make-image).
    #[arg(long = "image", value_name = "FILE")]
    pub(crate) images: Vec<PathBuf>,
    /// Transfer rate caps.
    #[arg(long, value_delimiter = ',', default_value = "124.8Mbit,1Gbit")]
    pub(crate) transfer_rates: Vec<String>,
    /// Repetitions of each transfer (images of 512 MiB or more at under 200 Mbit/s run once).
    #[arg(long, default_value_t = 3)]
    pub(crate) transfer_reps: u32,
    /// The file for the hashing part.
    #[arg(long, value_name = "FILE")]
    pub(crate) hash_file: Option<PathBuf>,
    /// Repetitions of the hashing part.
    #[arg(long, default_value_t = 5)]
    pub(crate) hash_reps: u32,
    /// PID files of the network's processes.
    #[arg(long, default_value = "network/run/pids")]
    pub(crate) pids: PathBuf,
    /// The network's settings file (`MAX_MESSAGE_COUNT`, `BATCH_TIMEOUT`), recorded in the report.
    #[arg(long, default_value = "network/run/net.env")]
    pub(crate) net_env: PathBuf,
}

/// The parts of the benchmark suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum BenchPart {
    Latency,
    Hash,
    Transfer,
    Throughput,
    Basics,
    /// BASICS' delay on the local chains and the federation.
    Chains,
}

// ---- service terms and claims -------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub(crate) enum TermsCommand {
    /// Propose terms from one of the member's clouds to another member's (needs the manager identity).
    Propose(TermsPropose),
    /// Accept terms proposed to one of the member's clouds: reads the prices on the member's own
    /// peer, checks them against the recorded hash, and signs that hash (needs the manager identity).
    Accept { id: String },
    /// Show terms: the public part and the prices' hash; the prices too for the two parties.
    Show { id: String },
}

#[derive(Debug, Args)]
pub(crate) struct TermsPropose {
    /// In the member's namespace (`org1.<name>`).
    #[arg(long)]
    pub(crate) id: String,
    /// The source cloud (the member's own).
    #[arg(long)]
    pub(crate) from_cloud: String,
    /// The destination cloud (another member's).
    #[arg(long)]
    pub(crate) to_cloud: String,
    /// Terms for this migration only (default: every migration between the two clouds).
    #[arg(long)]
    pub(crate) migration: Option<String>,
    /// Availability target in basis points (9990 = 99.90 %).
    #[arg(long, value_name = "BP")]
    pub(crate) availability_bp: u32,
    #[arg(long, value_name = "MS")]
    pub(crate) max_downtime_ms: u64,
    /// Currency of the prices and credits (integers in micro-units of it).
    #[arg(long)]
    pub(crate) currency: String,
    #[arg(long, value_name = "MICRO")]
    pub(crate) cpu_core_hour: u64,
    #[arg(long, value_name = "MICRO")]
    pub(crate) memory_gib_hour: u64,
    #[arg(long, value_name = "MICRO")]
    pub(crate) network_mbps_hour: u64,
    #[arg(long, value_name = "MICRO")]
    pub(crate) io_mbps_hour: u64,
    #[arg(long, value_name = "MICRO", default_value_t = 0)]
    pub(crate) fixed_credit: u64,
    #[arg(long, value_name = "MICRO", default_value_t = 0)]
    pub(crate) credit_per_downtime_second: u64,
    #[arg(long, value_name = "MICRO", default_value_t = 0)]
    pub(crate) credit_per_basis_point: u64,
    #[arg(long, value_name = "MICRO")]
    pub(crate) max_credit: u64,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ClaimCommand {
    /// Claim a violation of agreed terms by the other party (needs the manager identity).
    File(ClaimFile),
    /// Dispute a claim against the member's cloud, with its own measurement.
    Dispute(ClaimDispute),
    /// Accept a claim against the member's cloud: its credit is due.
    Accept { id: String },
    /// Show a claim.
    Show { id: String },
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("measurement").required(true).args(["downtime_ms", "availability_bp"]))]
pub(crate) struct ClaimFile {
    /// In the member's namespace (`org1.<name>`).
    #[arg(long)]
    pub(crate) id: String,
    #[arg(long)]
    pub(crate) terms: String,
    /// The migration measured (a downtime claim needs one, unless the terms name it).
    #[arg(long)]
    pub(crate) migration: Option<String>,
    /// Measured downtime of the migration.
    #[arg(long, value_name = "MS")]
    pub(crate) downtime_ms: Option<u64>,
    /// Measured availability, in basis points.
    #[arg(long, value_name = "BP")]
    pub(crate) availability_bp: Option<u64>,
    /// References to the evidence (repeat, or separate with commas).
    #[arg(long, value_delimiter = ',')]
    pub(crate) evidence: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ClaimDispute {
    pub(crate) id: String,
    /// The accused's own measurement, in the claim's unit.
    #[arg(long)]
    pub(crate) measured: u64,
    #[arg(long)]
    pub(crate) reason: String,
    #[arg(long, value_delimiter = ',')]
    pub(crate) evidence: Vec<String>,
}
