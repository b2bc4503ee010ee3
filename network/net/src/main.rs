//! `vmledger-net`: see the library's documentation and `vmledger-net --help`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use vmledger_net::{cli, say};

/// The repository: VMLEDGER_ROOT, else the first folder up from here holding `versions.env`.
fn repository() -> Option<PathBuf> {
    if let Some(root) = std::env::var_os("VMLEDGER_ROOT") {
        return Some(PathBuf::from(root));
    }
    let start = std::env::current_dir().ok()?;
    start.ancestors().find(|dir| dir.join("versions.env").is_file()).map(Path::to_path_buf)
}

fn main() -> ExitCode {
    let Some(root) = repository() else {
        say("error: cannot find the vmledger repository (run from inside it, or set VMLEDGER_ROOT)");
        return ExitCode::from(2);
    };
    match cli::run(&root) {
        Ok(code) => ExitCode::from(code),
        // A reader that stopped early (`status --json | head`) is not a failure.
        Err(error)
            if error.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(error) => {
            say(&format!("error: {error:#}"));
            ExitCode::from(1)
        }
    }
}
