//! The `convscope` binary: the window when run without a subcommand, the CLI otherwise.

use clap::Parser;
use convscope::cli::{self, Cli};

fn main() {
    convscope::engine::keep_freed_memory();
    let args = Cli::parse();
    match &args.command {
        Some(cmd) => {
            let out = cli::run(cmd);
            print!("{}", out.stdout);
            eprint!("{}", out.stderr);
            std::process::exit(out.code);
        }
        None => {
            // The window, on the last design (or the bundled example), or on a file given
            // on the command line.
            #[cfg(feature = "gui")]
            if let Err(e) = convscope::app::run(args.files.clone()) {
                eprintln!("error: cannot open the window: {e}");
                std::process::exit(2);
            }
            #[cfg(not(feature = "gui"))]
            {
                eprintln!(
                    "error: this build has no window (built without the `gui` feature); see `convscope --help`"
                );
                std::process::exit(2);
            }
        }
    }
}
