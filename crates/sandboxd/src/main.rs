//! The standalone `sandboxd` binary: `sandboxd __agent` runs the in-sandbox agent (the
//! sandbox launcher execs this binary inside the sandbox); anything else is the `e2b-local`
//! command line (`sandboxd serve`, `sandboxd status`, …).

use sandboxd::cli::{self, CliContext};
use sandboxd::sandbox::AgentLauncher;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("__agent") {
        sandboxd::agent::main();
    }
    let agent = match std::env::current_exe() {
        Ok(exe) => AgentLauncher::Executable(exe),
        Err(e) => {
            eprintln!("sandboxd: cannot find its own executable: {e}");
            std::process::exit(1);
        }
    };
    std::process::exit(cli::main(
        args,
        CliContext {
            python: None,
            agent,
        },
    ));
}
