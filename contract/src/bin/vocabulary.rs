//! Writes the contract's vocabulary (functions, events, codes, exit codes and the JSON Schemas of
//! every input, output and payload) as JSON: to the file named by the one argument, or to stdout.
//! `scripts/build-wasm` runs it into `contract/chaincode/wasm/vocabulary.json`.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let text = match serde_json::to_string_pretty(&vmledger_contract::schema::document()) {
        Ok(text) => text + "\n",
        Err(e) => return fail(&format!("cannot encode the vocabulary: {e}")),
    };
    let written = match std::env::args_os().nth(1) {
        Some(path) => std::fs::write(&path, text),
        None => std::io::stdout().write_all(text.as_bytes()),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("cannot write the vocabulary: {e}")),
    }
}

#[allow(clippy::print_stderr)] // a binary's one error line
fn fail(message: &str) -> ExitCode {
    eprintln!("vmledger-vocabulary: {message}");
    ExitCode::FAILURE
}
