//! The `convscope` binary: the window when run without a subcommand, the CLI otherwise.

use clap::Parser;
use convscope::cli::{self, Cli};

fn main() {
    let args = Cli::parse();
    match &args.command {
        Some(cmd) => {
            let out = cli::run(cmd);
            print!("{}", out.stdout);
            eprint!("{}", out.stderr);
            std::process::exit(out.code);
        }
        None => {
            // Until the window lands: the summary of the bundled example design.
            let text = include_str!("../assets/stridednet.json");
            match convscope::io::config::from_json_str(text) {
                Ok(net) => print!("{}", cli::summary_table(&net, &net.analyze())),
                Err(e) => {
                    eprintln!("error: bundled example: {e}");
                    std::process::exit(2);
                }
            }
        }
    }
}
