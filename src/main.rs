use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use titrate::cli::Cli;
use titrate::config::Config;
use titrate::demo;
use titrate::domain::values::printable;
use titrate::run::{EXIT_REFUSED, db_location, run};
use titrate::store::{Db, Location};
use titrate::strings;
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
        use std::io::IsTerminal;
        // Checked before anything is opened or created: without a terminal the screen
        // cannot be drawn, and a script that ran this by mistake should learn why at once.
        if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
            say(strings::NO_TERMINAL);
            return ExitCode::from(EXIT_REFUSED);
        }
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
    let mut demo_file = None;
    // A database made here, at the user's yes: left without a first admin, it goes again,
    // so that nobody later becomes its admin by walking up to the terminal.
    let mut created = None;
    let (db, hint) = if cli.demo {
        let path = std::env::temp_dir().join(format!(
            "titrate-demo-{}.db",
            now.format("%Y%m%d-%H%M%S-%f")
        ));
        let db = demo::create(&path, &cfg, now).context("creating the demo ward")?;
        if !cli.keep {
            demo_file = Some(path.clone());
        }
        let hint = titrate::strings::demo_hint(
            (demo::DEMO_USER, demo::DEMO_PIN),
            (demo::DEMO_NURSE, demo::DEMO_NURSE_PIN),
            (demo::DEMO_DOCTOR, demo::DEMO_DOCTOR_PIN),
            &path.display().to_string(),
        );
        (db, Some(hint))
    } else {
        match db_location(cli, &cfg) {
            // A server's record is made by `titrate init` (its DBA set it up first): the
            // terminal only opens it.
            at @ Location::Server(_) => (
                Db::open(&at).with_context(|| format!("opening {}", at.shown()))?,
                None,
            ),
            Location::File(path) => {
                let db = if std::fs::symlink_metadata(&path).is_ok() {
                    Db::open(&path)
                } else {
                    // A mistyped --db must not look like an empty ward: a new database is
                    // made only when the person at the terminal says so.
                    if !confirm_new_database(&path)? {
                        return Ok(None);
                    }
                    created = Some(path.clone());
                    Db::create(&path)
                };
                (
                    db.with_context(|| format!("opening {}", path.display()))?,
                    None,
                )
            }
        }
    };
    let mut app = App::new(cfg, db, now);
    app.demo_hint = hint;
    let ended = tui::run(app);
    // The demo ward is made up, but it is still a file of "patients" nobody asked to keep.
    let unfinished = created.filter(|p| {
        Db::open_read_only(p)
            .and_then(|mut db| db.read(|r| r.staff_list()))
            .is_ok_and(|staff| staff.is_empty())
    });
    if let Some(path) = demo_file.or(unfinished) {
        titrate::fsout::remove_database(&path);
    }
    ended
}

/// Asks, on the terminal and before the screen takes it over, whether to make a new
/// database at `path`. Only "yes" creates it.
fn confirm_new_database(path: &std::path::Path) -> anyhow::Result<bool> {
    use std::io::{BufRead, Write};
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    if !folder.is_dir() {
        anyhow::bail!(
            "{}",
            strings::no_such_folder(&printable(&path.display().to_string()))
        );
    }
    let mut out = std::io::stdout();
    write!(
        out,
        "{}",
        strings::ask_new_database(&printable(&path.display().to_string()))
    )?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    let yes = answer.trim().eq_ignore_ascii_case("yes");
    if !yes {
        let _ = writeln!(out, "{}", strings::NEW_DATABASE_DECLINED);
    }
    Ok(yes)
}
