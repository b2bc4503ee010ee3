//! The `vmledger` command line: a thin layer over the SDK. One file per subcommand; exit codes in
//! [`exit`]; output conventions in [`output`].

use std::process::ExitCode;

use clap::Parser;

mod agent;
mod args;
mod bench;
mod cloud;
mod context;
mod events;
mod exit;
mod hash;
mod history;
mod host;
mod migrate;
mod migrate_run;
mod output;
mod usage;
mod vm;
mod when;

use args::{Cli, Command};
use context::Ctx;
use output::Output;

pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Output { json: cli.json, quiet: cli.quiet };
    let ctx = Ctx { connection: cli.connection, out };
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
        Command::Usage(a) => usage::run(ctx, a).await,
        Command::Events(a) => events::run(ctx, a).await,
        Command::Hash(a) => hash::run(ctx, a).await,
        Command::Agent(a) => agent::run(ctx, a).await,
        Command::Bench(c) => bench::run(ctx, c).await,
    }
}

/// Prints the error once, with its chain, on stderr (and as JSON on stdout with --json), and
/// returns its exit code.
#[allow(clippy::print_stderr)]
fn report(error: &anyhow::Error, out: Output) -> ExitCode {
    let code = exit::code_of(error);
    eprintln!("vmledger: error: {error:#}");
    let already_shown = error.chain().any(|c| c.is::<exit::Verdict>());
    if out.json && !already_shown {
        let sdk = error.chain().find_map(|c| c.downcast_ref::<vmledger_client::Error>());
        let document = serde_json::json!({
            "error": format!("{error:#}"),
            "exitCode": code,
            "code": sdk.map(vmledger_client::Error::code),
            "txId": sdk.and_then(vmledger_client::Error::tx_id),
            "contractError": sdk.and_then(vmledger_client::Error::contract_error).map(vmledger_contract::ContractError::to_wire),
        });
        let _ = out.json_line(&document);
    }
    exit::exit(code)
}
