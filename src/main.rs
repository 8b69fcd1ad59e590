use std::process::ExitCode;

use clap::Parser;

use titrate::cli::Cli;
use titrate::config::Config;
use titrate::run::{EXIT_REFUSED, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cfg = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "titrate: configuration error, not starting: {}",
                titrate::domain::values::printable(&e.to_string())
            );
            return ExitCode::from(EXIT_REFUSED);
        }
    };
    if cli.command.is_none() {
        // The ward terminal (TUI) is not built yet; show what the command line offers.
        use clap::CommandFactory;
        let _ = Cli::command().print_help();
        return ExitCode::SUCCESS;
    }
    match run(&cli, &cfg) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!(
                "titrate: {}",
                titrate::domain::values::printable(&e.to_string())
            );
            ExitCode::from(EXIT_REFUSED)
        }
    }
}
