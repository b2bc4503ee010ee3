//! `vmledger`: the command line of a federation member (see `vmledger --help` and client/README.md).

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
