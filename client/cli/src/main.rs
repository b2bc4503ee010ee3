//! `vmledger`: the command line of a federation member (see `vmledger --help` and client/README.md).

fn main() -> std::process::ExitCode {
    vmledger_cli::main()
}
