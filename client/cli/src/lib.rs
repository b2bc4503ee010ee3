//! # vmledger-cli
//!
//! `vmledger`, the command line of a federation member: it parses, calls the SDK
//! (`vmledger_client`) or the benchmark suite (`vmledger_bench`), and prints. Nothing else lives
//! here: clap types in `args`, one file per subcommand in `commands`, the connection (flags,
//! environment, config file, members.json) in `context`, exit codes in `exit`, output formats in
//! `output`.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

mod args;
mod commands;
mod context;
mod exit;
mod input;
mod output;
mod progress;
mod when;

use args::{Cli, Command};
use commands::{
    agent, apply, bench, cloud, completion, context as contexts, events, hash, history, host, migrate, place, tx,
    usage, vm,
};
use context::Ctx;
use output::Output;

/// Runs `vmledger` with the process's arguments; returns its exit code.
pub fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let format = if cli.json { output::Format::Json } else { cli.output };
    let out = Output { format, quiet: cli.quiet };
    let given = args::given_on_command_line(&cli.connection, &matches);
    let ctx = Ctx { connection: cli.connection, given, out };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return report(&anyhow::Error::new(e).context("starting the async runtime"), out),
    };
    match runtime.block_on(run(&ctx, cli.command)) {
        Ok(()) => exit::exit(exit::OK),
        Err(error) => report(&error, out),
    }
}

async fn run(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Cloud(c) => cloud::run(ctx, c).await,
        Command::Host(c) => host::run(ctx, c).await,
        Command::Vm(c) => vm::run(ctx, c).await,
        Command::Migrate(c) => migrate::run(ctx, c).await,
        Command::History(c) => history::run(ctx, c).await,
        Command::Place(a) => place::run(ctx, a).await,
        Command::Usage(a) => usage::run(ctx, a).await,
        Command::Events(a) => events::run(ctx, a).await,
        Command::Tx(a) => tx::run(ctx, a).await,
        Command::Hash(a) => hash::run(ctx, a).await,
        Command::Agent(a) => agent::run(ctx, a).await,
        Command::Bench(c) => bench::run(ctx, c).await,
        Command::Apply(a) => apply::run(ctx, a).await,
        Command::Context(c) => contexts::run(ctx, c),
        Command::Completion(a) => completion::run(a),
        Command::Terms(c) => commands::terms::run(ctx, c).await,
        Command::Claim(c) => commands::claim::run(ctx, c).await,
    }
}

/// Prints the error once, with its chain, on stderr (and as a document on stdout with `-o
/// json|ndjson|yaml`), and returns its exit code.
#[allow(clippy::print_stderr)]
fn report(error: &anyhow::Error, out: Output) -> ExitCode {
    let code = exit::code_of(error);
    eprintln!("vmledger: error: {error:#}");
    let already_shown = error.chain().any(|c| c.is::<exit::Verdict>());
    if matches!(out.format, output::Format::Json | output::Format::Ndjson | output::Format::Yaml) && !already_shown {
        let sdk = exit::sdk_error(error);
        let document = serde_json::json!({
            "error": format!("{error:#}"),
            "exitCode": code,
            "code": sdk.map(vmledger_client::Error::code),
            "txId": sdk.and_then(vmledger_client::Error::tx_id),
            "contractError": sdk.and_then(vmledger_client::Error::contract_error).map(vmledger_contract::ContractError::to_wire),
        });
        let _ = out.show(&document, String::new);
    }
    exit::exit(code)
}
