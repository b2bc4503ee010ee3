//! `vmledger completion SHELL`: the completion script of `clap_complete` for the command line as
//! declared in `args` (so it never falls behind).

use clap::CommandFactory;

use crate::args::{Cli, CompletionArgs};

pub(crate) fn run(args: CompletionArgs) -> anyhow::Result<()> {
    clap_complete::generate(args.shell, &mut Cli::command(), "vmledger", &mut std::io::stdout());
    Ok(())
}
