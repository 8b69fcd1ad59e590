use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use titrate::cli::Cli;
use titrate::config::Config;
use titrate::demo;
use titrate::domain::values::printable;
use titrate::run::{EXIT_REFUSED, db_path, run};
use titrate::store::Db;
use titrate::tui::{self, app::App};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cfg = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            say(&format!(
                "titrate: configuration error, not starting: {}",
                printable(&e.to_string())
            ));
            return ExitCode::from(EXIT_REFUSED);
        }
    };
    if cli.command.is_none() {
        return match terminal(&cli, cfg) {
            // Ended by a signal: the conventional status, so a supervisor can tell.
            Ok(Some(sig)) => ExitCode::from(u8::try_from(128 + sig).unwrap_or(1)),
            Ok(None) => ExitCode::SUCCESS,
            Err(e) => {
                say(&format!("titrate: {}", printable(&format!("{e:#}"))));
                ExitCode::from(EXIT_REFUSED)
            }
        };
    }
    match run(&cli, &cfg) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            say(&format!("titrate: {}", printable(&e.to_string())));
            ExitCode::from(EXIT_REFUSED)
        }
    }
}

/// A message on stderr. Not `eprintln!`: that panics when stderr is a terminal that has
/// gone away (a dropped SSH connection), and a panic there would abort.
fn say(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// The ward terminal on the configured database (created on first use, when it walks the
/// user through the first admin), or on a fresh demo ward.
fn terminal(cli: &Cli, cfg: Config) -> anyhow::Result<Option<i32>> {
    let now = chrono::Utc::now();
    let (db, hint) = if cli.demo {
        let path = std::env::temp_dir().join(format!(
            "titrate-demo-{}.db",
            now.format("%Y%m%d-%H%M%S-%f")
        ));
        let db = demo::create(&path, &cfg, now).context("creating the demo ward")?;
        let hint = format!(
            "Demo ward: sign in as {} with PIN {} (nurse: {} / {}). Demo database: {}",
            demo::DEMO_USER,
            demo::DEMO_PIN,
            demo::DEMO_NURSE,
            demo::DEMO_NURSE_PIN,
            path.display()
        );
        (db, Some(hint))
    } else {
        let path = db_path(cli, &cfg);
        let db = if path.exists() {
            Db::open(&path)
        } else {
            Db::create(&path)
        };
        (
            db.with_context(|| format!("opening {}", path.display()))?,
            None,
        )
    };
    let mut app = App::new(cfg, db, now);
    app.demo_hint = hint;
    tui::run(app)
}
