//! Runs one parsed command: open the store, sign in, call the ward operation, print.

use chrono::Utc;

use crate::cli::{
    AmendArgs, AuditCmd, Cli, Command, CourseCmd, Edge, PatientCmd, PinCmd, ProtocolCmd,
    RecoverArgs, StaffCmd,
};
use crate::config::Config;
use crate::domain::patient::{PatientChanges, PatientText};
use crate::domain::record::Staff;
use crate::domain::values::{Action, EndReason, Role, Severity, Timepoint, YesNo};
use crate::report::{self, cohort, history, pdf, status, summary};
use crate::store::{Db, Location, audit};
use crate::strings;
use crate::ward::access::{self, StaffChange, authorize};
use crate::ward::entries::{Amendment, Session, SideEffectInput};
use crate::ward::letters::{self, Base};
use crate::ward::{Saved, WardError, load_all, load_record};

/// Exit status of a refused command; clap uses 2 for usage errors.
pub const EXIT_REFUSED: u8 = 1;
/// Exit status of `audit verify` on a broken chain.
pub const EXIT_BROKEN: u8 = 3;
/// Exit status when the reader of the output went away (`titrate cohort | head`): the one a
/// shell shows for a process ended by SIGPIPE.
pub const EXIT_CLOSED_PIPE: i32 = 141;

/// Standard output, as every command writes it. A reader that went away ends the process
/// quietly with [`EXIT_CLOSED_PIPE`] (`println!` would panic). Any other failure to write (a
/// full disk under `> file`) is said on stderr and ends the process as refused, so a
/// truncated file never comes with status 0. Only ever reached after what a command saved
/// was committed: the output reports it, it is not part of it.
fn emit(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_fmt(args).and_then(|()| o.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(EXIT_CLOSED_PIPE);
        }
        let _ = writeln!(std::io::stderr(), "{}: {e}", strings::OUTPUT_FAILED);
        std::process::exit(i32::from(EXIT_REFUSED));
    }
}

/// `print!` through [`emit`].
macro_rules! out {
    ($($t:tt)*) => { emit(format_args!($($t)*)) };
}

/// `println!` through [`emit`].
macro_rules! outln {
    () => { emit(format_args!("\n")) };
    ($($t:tt)*) => { emit(format_args!("{}\n", format_args!($($t)*))) };
}

/// Where the record is: `--db` / `TITRATE_DB`, else config.toml's `database.url` or
/// `database.path`.
pub fn db_location(cli: &Cli, cfg: &Config) -> Location {
    cli.db
        .as_deref()
        .map_or_else(|| cfg.db.clone(), Location::parse)
}

fn pin_from_env_or_prompt(var: &str, prompt: &str) -> Result<String, WardError> {
    if let Ok(p) = std::env::var(var) {
        return Ok(p);
    }
    rpassword::prompt_password(prompt).map_err(|_| WardError::NoPin)
}

fn new_pin(id: &str) -> Result<String, WardError> {
    if let Ok(p) = std::env::var("TITRATE_NEW_PIN") {
        return Ok(p);
    }
    let a = rpassword::prompt_password(format!("New PIN for {id} (4-12 digits): "))
        .map_err(|_| WardError::NoNewPin)?;
    let b = rpassword::prompt_password("Repeat the PIN: ").map_err(|_| WardError::NoNewPin)?;
    if a != b {
        return Err(WardError::PinsDiffer);
    }
    Ok(a)
}

fn sign_in(db: &mut Db, cfg: &Config, cli: &Cli) -> Result<Staff, WardError> {
    let user = cli.user.as_deref().ok_or(WardError::NoUser)?;
    let pin = pin_from_env_or_prompt("TITRATE_PIN", &format!("PIN for {user}: "))?;
    access::sign_in(db, cfg, user, &pin, Utc::now())
}

fn print_saved(s: &Saved) {
    outln!("entry {} saved: {}", s.id, s.summary);
    for w in &s.warnings {
        outln!("warning: {w}");
    }
}

/// Runs the command; Ok carries the exit status for outcomes that are not errors.
pub fn run(cli: &Cli, cfg: &Config) -> Result<u8, WardError> {
    let Some(command) = &cli.command else {
        return Ok(0);
    };
    if let Command::PgSetup {
        print,
        owner,
        app,
        database,
    } = command
    {
        return pg_setup(*print, owner, app, database);
    }
    let at = db_location(cli, cfg);
    if let Command::Init { admin, name } = command {
        match &at {
            Location::Server(_) => {
                let pin = new_pin(admin)?;
                drop(access::init(
                    at.clone(),
                    admin,
                    name,
                    &pin,
                    &cfg.protocol,
                    Utc::now(),
                )?);
            }
            Location::File(path) => {
                if path.exists() {
                    return Err(WardError::AlreadyExists(path.display().to_string()));
                }
                let pin = new_pin(admin)?;
                // Made at a temporary name beside it and moved into place only when whole.
                let pending = crate::fsout::prepare(path, false, &crate::fsout::Protected::none())?;
                drop(access::init(
                    pending.temp_path(),
                    admin,
                    name,
                    &pin,
                    &cfg.protocol,
                    Utc::now(),
                )?);
                pending.commit()?;
            }
        }
        outln!(
            "database {} created; admin {} can sign in",
            at.shown(),
            admin.to_ascii_uppercase()
        );
        outln!(
            "protocol \"{}\" in {} (digest {}…) approved for new courses",
            cfg.protocol.name,
            cfg.source,
            crate::ward::protocols::short(&cfg.protocol.digest())
        );
        return Ok(0);
    }
    let path = match &at {
        Location::File(p) => p.clone(),
        Location::Server(_) => return run_on_server(cli, cfg, command, &at),
    };
    if let Command::Demo {
        courses,
        seed,
        force,
    } = command
    {
        let started = std::time::Instant::now();
        // Generated at a temporary name beside it (created exclusively by `Db::create`),
        // closed, then moved into place: a killed run never leaves a half record at `path`.
        let pending = crate::fsout::prepare(&path, *force, &crate::fsout::Protected::none())?;
        pending.probe()?;
        let g = crate::generate::generate(&pending.temp_path(), cfg, *courses, *seed, Utc::now())
            .map_err(|e| match e {
            // A full disk while generating is said as one.
            WardError::Store(
                s @ (crate::store::StoreError::DiskFull | crate::store::StoreError::ReadOnly(_)),
            ) => WardError::File(pending.store_error(&s)),
            e => e,
        })?;
        pending.commit()?;
        outln!(
            "{} courses of {} patients, {} entries written to {} in {:.1} s (staff N1-N3 nurses, P1-P2 physicians, PIN 1234; GEN admin, PIN 0000)",
            g.courses,
            g.patients,
            g.entries,
            path.display(),
            started.elapsed().as_secs_f64()
        );
        return Ok(0);
    }
    if let Command::Check { file } = command {
        return check_file(&file.clone().unwrap_or(path));
    }
    if let Command::RecoverAdmin(a) = command {
        return recover_admin(&path, a);
    }
    if let Command::Migrate { to } = command {
        return migrate(&path, to, cli, cfg);
    }
    if let Command::Audit(AuditCmd::Verify) = command {
        // A file whose schema was changed is not migrated (that would write to it): it is
        // verified as it is, through a read-only connection.
        let mut db = match Db::open(&path) {
            Err(crate::store::StoreError::SchemaChanged(_)) => Db::open_read_only(&path)?,
            other => other?,
        };
        return audit_verify(&mut db);
    }
    let mut db = Db::open(&path)?;
    if let Command::Backup { .. } | Command::Pin(_) = command {
        return run_on(db, cli, cfg, command);
    }
    run_signed_in(&mut db, cli, cfg, command)
}

/// The commands that need no file of their own, on a PostgreSQL server.
fn run_on_server(
    cli: &Cli,
    cfg: &Config,
    command: &Command,
    at: &Location,
) -> Result<u8, WardError> {
    match command {
        Command::Demo { .. } | Command::RecoverAdmin(_) => Err(WardError::NotOnServer(at.shown())),
        Command::Migrate { .. } => Err(WardError::MigrateFromServer(at.shown())),
        Command::Check { file: Some(file) } => check_file(file),
        Command::Check { file: None } => {
            let mut db = Db::open_read_only(at)?;
            Ok(check(&mut db, &at.shown()))
        }
        Command::Audit(AuditCmd::Verify) => {
            let mut db = match Db::open(at) {
                Err(crate::store::StoreError::SchemaChanged(_)) => Db::open_read_only(at)?,
                other => other?,
            };
            audit_verify(&mut db)
        }
        _ => {
            let db = Db::open(at)?;
            run_on(db, cli, cfg, command)
        }
    }
}

/// Backup and PIN change, which sign in their own way, then every signed-in command.
fn run_on(mut db: Db, cli: &Cli, cfg: &Config, command: &Command) -> Result<u8, WardError> {
    if let Command::Backup { file, force } = command {
        // A backup holds every patient's record: it is attributable like an export.
        let who = sign_in(&mut db, cfg, cli)?;
        let now = Utc::now();
        authorize(&mut db, &who, crate::domain::rules::Permission::Export, now)?;
        // Refused targets are refused before anything is recorded.
        let pending = crate::fsout::prepare(file, *force, &db.protected())?;
        let target = file.display().to_string();
        db.write(&who.id, now, |w| {
            w.audit_event("backup", &serde_json::json!({ "file": target }))
        })?;
        db.copy_into(&pending)?;
        pending.commit()?;
        outln!("backup written to {}", file.display());
        let mut copy = Db::open_read_only(file)?;
        return Ok(check(&mut copy, &file.display().to_string()));
    }
    if let Command::Pin(PinCmd::Change) = command {
        // The current PIN signs in and is checked again by the change itself, which
        // counts a wrong one as sign-in does (the ward terminal asks for it the same way).
        let user = cli.user.as_deref().ok_or(WardError::NoUser)?;
        let current = pin_from_env_or_prompt("TITRATE_PIN", &format!("PIN for {user}: "))?;
        let now = Utc::now();
        let who = access::sign_in(&mut db, cfg, user, &current, now)?;
        let pin = new_pin(&who.id)?;
        access::change_own_pin(&mut db, cfg, &who, &current, &pin, now)?;
        outln!("PIN of {} changed", who.id);
        return Ok(0);
    }
    run_signed_in(&mut db, cli, cfg, command)
}

fn run_signed_in(db: &mut Db, cli: &Cli, cfg: &Config, command: &Command) -> Result<u8, WardError> {
    // "14:05" on the command line is the latest 14:05 that is not in the future.
    let edge = Edge {
        zone: cfg.timezone,
        now: Utc::now(),
    };
    let who = sign_in(db, cfg, cli)?;
    let now = Utc::now();
    let mut session = Session {
        db,
        cfg,
        who: &who,
        now,
        expect: None,
    };
    match command {
        Command::Init { .. }
        | Command::Audit(_)
        | Command::Backup { .. }
        | Command::Check { .. }
        | Command::RecoverAdmin(_)
        | Command::Migrate { .. }
        | Command::PgSetup { .. }
        | Command::Demo { .. } => Ok(0),
        Command::Staff(cmd) => staff(session.db, &who, cmd),
        Command::Protocol(cmd) => protocol(session.db, cfg, &who, cmd, now),
        // Handled before the sign-in above.
        Command::Pin(PinCmd::Change) => Ok(0),
        Command::Patient(PatientCmd::Add(a)) => {
            let p = PatientText {
                mrn: &a.mrn,
                name: &a.name,
                birth_date: &a.birth_date,
                sex: &a.sex,
                weight_kg: a.weight_kg.as_deref(),
                crps_type: a.crps_type.as_deref(),
                crps_onset: a.crps_onset.as_deref(),
                limb: a.limb.as_deref(),
            }
            .parse()?;
            let id = session.add_patient(&p)?;
            outln!("patient {id} saved: MRN {}", p.mrn);
            Ok(0)
        }
        Command::Patient(PatientCmd::Amend(a)) => {
            let changes = PatientChanges {
                mrn: a.new_mrn.as_deref(),
                name: a.name.as_deref(),
                birth_date: a.birth_date.as_deref(),
                sex: a.sex.as_deref(),
                weight_kg: a.weight_kg.as_deref(),
                crps_type: a.crps_type.as_deref(),
                crps_onset: a.crps_onset.as_deref(),
                limb: a.limb.as_deref(),
            };
            let c = session.amend_patient(&a.mrn, &a.reason, &changes)?;
            outln!(
                "patient {} corrected (version {}) saved: MRN {}: {}",
                c.patient_id,
                c.version,
                c.mrn,
                c.changes
            );
            Ok(0)
        }
        Command::Course(CourseCmd::Start { mrn, at, bed }) => {
            let at = edge.time(at)?;
            let bed = Edge::opt_text("bed", bed, crate::domain::course_rules::BED_MAX)?;
            print_saved(&session.start_course(mrn, at, bed)?);
            Ok(0)
        }
        Command::Course(CourseCmd::End { mrn, at, reason }) => {
            let at = edge.time(at)?;
            let reason = Edge::choice::<EndReason>(reason)?;
            print_saved(&session.end_course(mrn, at, reason)?);
            Ok(0)
        }
        Command::Dose(a) => {
            let rate = Edge::rate(&a.rate)?;
            let at = edge.time(&a.at)?;
            let confirm = match (a.confirm, &a.reason) {
                (true, Some(r)) => Some(Edge::text("reason", r, 500)?),
                (true, None) => return Err(WardError::ConfirmNeedsReason),
                (false, Some(_)) => return Err(WardError::ReasonWithoutConfirm),
                (false, None) => None,
            };
            let saved = session.record_rate(&a.mrn, at, rate, confirm);
            match saved {
                Err(WardError::Rule(e @ crate::domain::rules::RuleError::NeedsConfirmation(_))) => {
                    Err(WardError::NeedsConfirmationCli(e.to_string()))
                }
                other => {
                    print_saved(&other?);
                    Ok(0)
                }
            }
        }
        Command::Nrs(a) => {
            let score = Edge::nrs(&a.score)?;
            let at = edge.time(&a.at)?;
            let tp = a
                .timepoint
                .as_deref()
                .map(Edge::choice::<Timepoint>)
                .transpose()?;
            print_saved(&session.record_nrs(&a.mrn, at, score, tp)?);
            Ok(0)
        }
        Command::SideEffect(a) => {
            let input = SideEffectInput {
                effect: a.kind.trim().to_ascii_lowercase(),
                detail: Edge::opt_text("detail", &a.detail, 500)?,
                severity: Edge::choice::<Severity>(&a.severity)?,
                action: Edge::choice::<Action>(&a.action)?,
            };
            let at = edge.time(&a.at)?;
            let saved = match a.rate.as_deref().map(Edge::rate).transpose()? {
                Some(rate) => session.record_side_effect_with_rate(&a.mrn, at, input, rate)?,
                None => session.record_side_effect(&a.mrn, at, input)?,
            };
            print_saved(&saved);
            Ok(0)
        }
        Command::Success(a) => {
            let tp = Edge::choice::<Timepoint>(&a.timepoint)?;
            let value = Edge::choice::<YesNo>(&a.value)?;
            let at = edge.time(&a.at)?;
            print_saved(&session.record_success(&a.mrn, at, tp, value.as_bool())?);
            Ok(0)
        }
        Command::Amend(a) => {
            let id = Edge::entry_id(&a.id)?;
            let amendment = amendment(&edge, a)?;
            match session.amend(id, &a.reason, &amendment) {
                Err(WardError::Rule(e @ crate::domain::rules::RuleError::NeedsConfirmation(_))) => {
                    Err(WardError::AmendNeedsConfirmationCli(e.to_string()))
                }
                other => {
                    print_saved(&other?);
                    Ok(0)
                }
            }
        }
        Command::Void {
            id,
            reason,
            confirm,
            confirm_reason,
        } => {
            let id = Edge::entry_id(id)?;
            let confirm = match (confirm, confirm_reason) {
                (true, Some(r)) => Some(Edge::text("confirm reason", r, 500)?),
                (true, None) => return Err(WardError::AmendConfirmNeedsReason),
                (false, Some(_)) => return Err(WardError::AmendReasonWithoutConfirm),
                (false, None) => None,
            };
            let s = session.void_confirmed(id, reason, confirm)?;
            outln!("entry {} voided (entered in error)", s.id);
            Ok(0)
        }
        Command::History { mrn } => {
            let rec = session.db.read(|r| load_record(r, mrn))?;
            out!("{}", history::text(&rec, cfg.timezone));
            Ok(0)
        }
        Command::Status { mrn, json } => {
            let rec = session.db.read(|r| load_record(r, mrn))?;
            let s = status::status(&rec, now, cfg.timezone)
                .ok_or_else(|| WardError::NoCourseFor(mrn.clone()))?;
            if *json {
                outln!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
            } else {
                out!("{}", status::text(&s));
            }
            Ok(0)
        }
        Command::Summary {
            mrn,
            course,
            format,
            out,
            draft,
            force,
            advice,
            responsible,
        } => {
            // Refused before the summary is built.
            crate::fsout::prepare(out, *force, &session.db.protected())?;
            let course = course.as_deref().map(Edge::entry_id).transpose()?;
            if !matches!(format.as_str(), "markdown" | "md" | "pdf") {
                return Err(WardError::BadFormat {
                    given: format.chars().take(20).collect(),
                    allowed: "markdown or pdf",
                });
            }
            let rec = session.db.read(|r| load_record(r, mrn))?;
            let req = summary::Request {
                course,
                draft: *draft,
                hospital: &cfg.hospital,
                ward: &cfg.ward_name,
                zone: cfg.timezone,
                generated_by: &format!("{} ({})", who.name, who.id),
                now,
            };
            // Built before the advice is stored: a letter that cannot be made stores nothing.
            let s = summary::build(&rec, &req)?;
            if let Some(text) = advice {
                let saved = session.save_letter_advice(
                    mrn,
                    Some(s.course_id),
                    text,
                    responsible.as_deref(),
                    Base::Newest,
                )?;
                outln!(
                    "{}",
                    crate::strings::advice_saved(saved.course_id, &saved.responsible)
                );
            }
            let letter = session
                .db
                .read(|r| letters::letter_of(r, s.course_id, cfg.timezone))?;
            let s = s.with_letter(letter);
            let bytes = match format.as_str() {
                "markdown" | "md" => summary::markdown(&s).into_bytes(),
                "pdf" => pdf::render(&s)?,
                other => {
                    return Err(WardError::BadFormat {
                        given: other.chars().take(20).collect(),
                        allowed: "markdown or pdf",
                    });
                }
            };
            crate::fsout::write(out, &bytes, *force, &session.db.protected())?;
            outln!(
                "summary of course {} written to {}{}",
                s.course_id,
                out.display(),
                if s.draft { " (DRAFT)" } else { "" }
            );
            Ok(0)
        }
        Command::Handover {
            format,
            out,
            hours,
            force,
        } => {
            use crate::report::handover;
            let hours = hours
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|h| (handover::HOURS_MIN..=handover::HOURS_MAX).contains(h))
                .ok_or_else(|| WardError::HandoverHours(hours.chars().take(20).collect()))?;
            let pdf_wanted = match format.as_str() {
                "markdown" | "md" => false,
                "pdf" => true,
                other => {
                    return Err(WardError::BadFormat {
                        given: other.chars().take(20).collect(),
                        allowed: "markdown or pdf",
                    });
                }
            };
            if pdf_wanted && out.is_none() {
                return Err(WardError::HandoverPdfNeedsOut);
            }
            if let Some(out) = out {
                // Refused before the handover is built.
                crate::fsout::prepare(out, *force, &session.db.protected())?;
            }
            let records = session.db.read(load_all)?;
            let h = handover::build(&records, now, hours, cfg.timezone);
            let by = format!("{} ({})", who.name, who.id);
            let bytes = if pdf_wanted {
                crate::report::handover_pdf::render(&h, &cfg.ward_name, &by)?
            } else {
                handover::markdown(&h, &cfg.ward_name, &by).into_bytes()
            };
            match out {
                Some(out) => {
                    crate::fsout::write(out, &bytes, *force, &session.db.protected())?;
                    outln!(
                        "handover of {} course(s) written to {}",
                        h.blocks.len(),
                        out.display()
                    );
                }
                None => out!("{}", String::from_utf8_lossy(&bytes)),
            }
            Ok(0)
        }
        Command::Export {
            out,
            pseudonymize,
            force,
        } => {
            let pseudo = if *pseudonymize {
                Some(crate::ward::research::pseudonymisation(
                    session.db,
                    &who,
                    &cfg.side_effect_kinds,
                    now,
                )?)
            } else {
                authorize(
                    session.db,
                    &who,
                    crate::domain::rules::Permission::Export,
                    now,
                )?;
                None
            };
            let records = session.db.read(load_all)?;
            let files = crate::report::export::export(&records, pseudo.as_ref(), now);
            let files = [
                ("events.csv", &files.events),
                ("courses.csv", &files.courses),
                ("codebook.csv", &files.codebook),
                ("data_quality.csv", &files.data_quality),
            ];
            crate::fsout::folder(out)?;
            // Every target checked and every temporary file written before any is moved into
            // place: a refusal or a full disk leaves the folder as it was.
            let protect = session.db.protected();
            let mut pending = Vec::new();
            for (name, _) in &files {
                pending.push(crate::fsout::prepare(&out.join(name), *force, &protect)?);
            }
            for (p, (_, text)) in pending.iter().zip(&files) {
                p.write_temp(text.as_bytes())?;
            }
            for p in pending {
                p.commit()?;
            }
            let running = records
                .iter()
                .filter(|r| *pseudonymize && crate::report::export::left_out_while_running(r))
                .count();
            outln!(
                "export of {} patients written to {}{}",
                records.len() - running,
                out.display(),
                match (*pseudonymize, running) {
                    (false, _) => String::new(),
                    (true, 0) => " (pseudonymised)".to_string(),
                    (true, n) => format!(
                        " (pseudonymised; {n} with a running course left out until it has ended)"
                    ),
                }
            );
            Ok(0)
        }
        Command::Cohort {
            json,
            format,
            from,
            to,
        } => {
            let range = cohort::Range::new(
                from.as_deref().map(Edge::date).transpose()?,
                to.as_deref().map(Edge::date).transpose()?,
            )
            .map_err(|e| WardError::EmptyRange {
                from: e.from.to_string(),
                to: e.to.to_string(),
            })?;
            let format = if *json { "json" } else { format.as_str() };
            if !matches!(format, "text" | "markdown" | "json") {
                return Err(WardError::BadFormat {
                    given: format.chars().take(20).collect(),
                    allowed: "text, markdown or json",
                });
            }
            let records = session.db.read(crate::ward::load_outcomes)?;
            let c = cohort::cohort(&records, range, cfg.timezone);
            match format {
                "json" => outln!("{}", serde_json::to_string_pretty(&c).unwrap_or_default()),
                "markdown" => out!("{}", cohort::table(&c, true)),
                _ => out!("{}", cohort::table(&c, false)),
            }
            Ok(0)
        }
    }
}

/// `titrate pg-setup --print`: the SQL a DBA runs once as a superuser. Nothing is run:
/// without --print it says so and what to do.
fn pg_setup(print: bool, owner: &str, app: &str, database: &str) -> Result<u8, WardError> {
    let owner = sql_name("the owner role", owner)?;
    let app = sql_name("the application role", app)?;
    let database = sql_name("the database", database)?;
    if owner == app {
        return Err(WardError::PgSetupSameRoles(app.to_string()));
    }
    if !print {
        return Err(WardError::PgSetupPrintOnly);
    }
    out!(
        "{}",
        crate::store::postgres::setup_sql(owner, app, database)
    );
    Ok(0)
}

/// A role or database name the printed SQL may use as it is: lower case (so that a URL's
/// `user=` and psql's unquoted names mean the same role), not one of PostgreSQL's own.
fn sql_name<'a>(what: &'static str, given: &'a str) -> Result<&'a str, WardError> {
    let first_ok = given
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = given
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if first_ok && rest_ok && given.len() <= 63 && !given.starts_with("pg_") {
        Ok(given)
    } else {
        Err(WardError::BadSqlName {
            what,
            given: given.chars().take(70).collect(),
        })
    }
}

/// `titrate migrate --to URL`: the whole record of the file, copied into an empty PostgreSQL
/// database. Only an admin may (it carries every patient's record and every PIN hash); the
/// copy is recorded in the file's audit log before it is made, naming the target without
/// its password, so the copy carries that row too. The target is checked to be empty
/// before that row is written: a refused target leaves the file as it was.
fn migrate(path: &std::path::Path, to: &str, cli: &Cli, cfg: &Config) -> Result<u8, WardError> {
    let target_at = Location::parse(to);
    let Location::Server(url) = &target_at else {
        return Err(WardError::MigrateNeedsServer(
            to.chars().take(200).collect(),
        ));
    };
    let mut db = Db::open(path)?;
    let who = sign_in(&mut db, cfg, cli)?;
    let now = Utc::now();
    authorize(
        &mut db,
        &who,
        crate::domain::rules::Permission::Migrate,
        now,
    )?;
    // A record whose chain is already broken would arrive broken, and every check of the
    // server would then name what was wrong in the file: it is mended (or kept for
    // investigation) where it is.
    let verified = db.read(|r| audit::verify(r))?;
    if !verified.is_sound() {
        return Err(WardError::MigrateBrokenSource(verified.problems.len()));
    }
    let target = crate::store::copy::Target::connect(url)?;
    let shown = target_at.shown();
    db.write(&who.id, now, |w| {
        w.audit_event("migrate", &serde_json::json!({ "to": shown }))
    })?;
    let started = std::time::Instant::now();
    let copied = target.copy_from(&mut db)?;
    outln!(
        "{} copied to {shown} in {:.1} s: {} rows in {} tables and {} audit rows, in one transaction",
        path.display(),
        started.elapsed().as_secs_f64(),
        copied.rows(),
        copied.tables.len() - 1,
        copied.audit_rows(),
    );
    outln!(
        "audit head {} {}; check the copy with `titrate check --db URL`",
        copied.head.0,
        copied.head.1
    );
    outln!(
        "entries made in {} from now on are not on the server: point every terminal at the server (TITRATE_DB or database.url) and keep the file as it is",
        path.display()
    );
    Ok(0)
}

/// `audit verify`: the schema, every text value, the chain and every audited row.
fn audit_verify(db: &mut Db) -> Result<u8, WardError> {
    let v = db.read(|r| audit::verify(r))?;
    if v.is_sound() {
        outln!(
            "audit chain sound: {} rows, every record matches its audit row",
            v.rows
        );
        outln!("head hash {}", v.head_hash);
        return Ok(0);
    }
    outln!("audit chain BROKEN: {} problem(s)", v.problems.len());
    for p in &v.problems {
        outln!("  {p}");
    }
    Ok(EXIT_BROKEN)
}

/// A new private folder under the system's temporary folder: an unpredictable name,
/// created exclusively (an existing folder of that name, someone else's, is never used).
fn tempdir_private() -> std::io::Result<std::path::PathBuf> {
    crate::fsout::private_temp_dir()
}

/// The backend's own integrity check, the schema and the audit chain, said plainly; the exit status says it too.
/// `check` of a database file, also one whose writer was stopped mid-write.
fn check_file(target: &std::path::Path) -> Result<u8, WardError> {
    match Db::open_read_only(target) {
        Ok(mut db) => Ok(check(&mut db, &target.display().to_string())),
        Err(crate::store::StoreError::HotJournal(_)) => {
            // Checked as the next writer will see it: after rollback, on a copy.
            outln!(
                "{} holds an unfinished transaction (a writer was stopped mid-write); checking it as it will be after rollback, on a private copy:",
                target.display()
            );
            let dir = tempdir_private()
                .map_err(|e| WardError::Io("a temporary folder".into(), e.to_string()))?;
            let result = Db::rolled_back_copy(target, &dir)
                .map(|mut db| check(&mut db, &target.display().to_string()));
            let _ = std::fs::remove_dir_all(&dir);
            Ok(result?)
        }
        Err(e) => Err(e.into()),
    }
}

fn check(db: &mut Db, shown: &str) -> u8 {
    let integrity = db.integrity_check().unwrap_or_else(|e| vec![e.to_string()]);
    let integrity_ok = integrity.len() == 1 && integrity[0] == "ok";
    let verification = db.read(|r| audit::verify(r));
    outln!("{shown}");
    let label = db.integrity_label();
    if integrity_ok {
        outln!("  {label}: ok");
    } else {
        outln!("  {label}: FAILED");
        for line in integrity.iter().take(20) {
            outln!("    {line}");
        }
    }
    let audit_ok = match &verification {
        Ok(v) => {
            let (schema, rest): (Vec<_>, Vec<_>) = v
                .problems
                .iter()
                .partition(|p| matches!(p, audit::Problem::Schema(_)));
            let (text, chain): (Vec<_>, Vec<_>) = rest
                .into_iter()
                .partition(|p| matches!(p, audit::Problem::InvalidText { .. }));
            check_section(
                "schema",
                "exactly as titrate's migrations create it",
                &schema,
            );
            check_section("text", "every text value is valid UTF-8", &text);
            if chain.is_empty() {
                outln!(
                    "  audit chain: sound, {} rows, head hash {}",
                    v.rows,
                    v.head_hash
                );
            } else {
                check_section("audit chain", "", &chain);
            }
            v.is_sound()
        }
        Err(e) => {
            outln!("  audit chain: could not be read: {e}");
            false
        }
    };
    if integrity_ok && audit_ok {
        outln!(
            "sound: the {} is intact and every record matches its audit trail",
            db.kind_word()
        );
        0
    } else {
        outln!(
            "NOT SOUND: do not use this {} as the record; keep it for investigation",
            db.kind_word()
        );
        EXIT_BROKEN
    }
}

/// One part of `check`'s answer: `ok` when nothing was found, else each problem.
fn check_section(what: &str, ok: &str, problems: &[&audit::Problem]) {
    if problems.is_empty() {
        outln!("  {what}: {ok}");
        return;
    }
    outln!("  {what}: BROKEN");
    for p in problems {
        outln!("    {p}");
    }
}

fn staff(db: &mut Db, who: &Staff, cmd: &StaffCmd) -> Result<u8, WardError> {
    let now = Utc::now();
    match cmd {
        StaffCmd::Add { id, name, role } => {
            let role = Edge::choice::<Role>(role)?;
            authorize(db, who, crate::domain::rules::Permission::ManageStaff, now)?;
            let pin = new_pin(id)?;
            let id = access::staff_add(db, who, id, name, role, &pin, now)?;
            outln!("staff {id} saved ({role})");
        }
        StaffCmd::Unlock { id } => {
            let id = access::staff_unlock(db, who, id, now)?;
            outln!("staff {id} unlocked");
        }
        StaffCmd::List => {
            authorize(db, who, crate::domain::rules::Permission::ManageStaff, now)?;
            out!("{}", report::staff::table(&db.read(|r| r.staff_list())?));
        }
        StaffCmd::Deactivate { id } => {
            let s = access::change_staff(db, who, id, StaffChange::Deactivate, now)?;
            outln!("staff {} deactivated: can no longer sign in", s.id);
        }
        StaffCmd::Reactivate { id } => {
            let s = access::change_staff(db, who, id, StaffChange::Reactivate, now)?;
            outln!("staff {} reactivated", s.id);
        }
        StaffCmd::Role { id, role } => {
            let role = Edge::choice::<Role>(role)?;
            let s = access::change_staff(db, who, id, StaffChange::Role(role), now)?;
            outln!("staff {} is now {}", s.id, s.role);
        }
        StaffCmd::ResetPin { id } => {
            let id = crate::domain::values::staff_id(id)?;
            // Refused before the prompt: a nurse is not asked for a PIN she cannot set.
            authorize(db, who, crate::domain::rules::Permission::ManageStaff, now)?;
            let pin = crate::domain::values::pin(&new_pin(&id)?)?;
            let hash = access::hash_pin(&pin)?;
            let s = access::change_staff(db, who, &id, StaffChange::ResetPin(hash), now)?;
            outln!("staff {} has a new PIN (unlocked)", s.id);
        }
    }
    Ok(0)
}

fn protocol(
    db: &mut Db,
    cfg: &Config,
    who: &Staff,
    cmd: &ProtocolCmd,
    now: chrono::DateTime<Utc>,
) -> Result<u8, WardError> {
    use crate::ward::protocols;
    let zone = cfg.timezone;
    match cmd {
        ProtocolCmd::List => {
            let (versions, courses) =
                db.read(|r| Ok::<_, WardError>((r.protocol_versions()?, r.all_courses()?)))?;
            out!(
                "{}",
                report::protocols::list(&versions, &courses, &cfg.protocol, &cfg.source, zone)
            );
        }
        ProtocolCmd::Show { id } => {
            let (v, courses, patients) = db.read(|r| {
                Ok::<_, WardError>((protocols::version(r, id)?, r.all_courses()?, r.patients()?))
            })?;
            out!("{}", report::protocols::show(&v, &courses, &patients, zone));
        }
        ProtocolCmd::Approve { digest, yes } => {
            let plan = match protocols::plan(db, who, cfg, now) {
                Err(e @ WardError::ProtocolApprovedAlready { .. }) => {
                    outln!("{e}");
                    return Ok(0);
                }
                other => other?,
            };
            out!("{}", report::protocols::plan(&plan, zone));
            match digest {
                Some(d) => plan.check_digest(d)?,
                None if *yes => {}
                None => confirm_approval(&plan)?,
            }
            let id = match protocols::approve(db, who, &plan, now) {
                Err(e @ WardError::ProtocolApprovedAlready { .. }) => {
                    outln!("{e}");
                    return Ok(0);
                }
                other => other?,
            };
            outln!(
                "protocol \"{}\" approved as version {id} by {} at {}; new courses start under it",
                plan.protocol.name,
                who.id,
                crate::domain::time::local_text(now, zone)
            );
        }
    }
    Ok(0)
}

/// Asks at the terminal; without one, the approval needs --digest (or --yes).
fn confirm_approval(plan: &crate::ward::protocols::Plan) -> Result<(), WardError> {
    use std::io::{BufRead, IsTerminal, Write};
    let short = crate::ward::protocols::short(&plan.digest).to_string();
    let refused = || WardError::ApprovalNotConfirmed {
        digest: short.clone(),
    };
    if !std::io::stdin().is_terminal() {
        return Err(refused());
    }
    out!("Approve this version for new courses? Type yes: ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|_| refused())?;
    if answer.trim().eq_ignore_ascii_case("yes") {
        Ok(())
    } else {
        Err(refused())
    }
}

/// `titrate recover-admin`: no sign-in; the caller must be able to write the file.
fn recover_admin(path: &std::path::Path, a: &RecoverArgs) -> Result<u8, WardError> {
    let os = access::os_writer_of(path)?;
    let cannot = |e: WardError| match e {
        // SQLite says "readonly" also when the folder refuses the -wal and -shm files.
        WardError::Store(s) if is_read_only(&s) || s.to_string().contains("readonly") => {
            WardError::RecoverCannotWrite {
                path: path.display().to_string(),
                why: "the file or its folder is read-only for this process".into(),
            }
        }
        other => other,
    };
    let mut db = Db::open(path).map_err(|e| cannot(e.into()))?;
    let id = crate::domain::values::staff_id(&a.id)?;
    let exists = db.read(|r| r.staff(&id))?;
    if exists.is_none() && a.name.is_none() {
        return Err(WardError::RecoverNeedsName(id));
    }
    let wants_pin = a.new_pin
        || std::env::var_os("TITRATE_NEW_PIN").is_some()
        || !exists.as_ref().is_some_and(|s| s.role == Role::Admin);
    let pin = if wants_pin { Some(new_pin(&id)?) } else { None };
    let r = access::Recovery {
        id: &id,
        name: a.name.as_deref(),
        pin: pin.as_deref(),
    };
    let done = access::recover_admin(&mut db, &os, &r, Utc::now()).map_err(cannot)?;
    outln!(
        "{} recovered as a working admin ({}), recorded in the audit log as {}",
        done.id,
        done.done.join(", "),
        os.actor()
    );
    Ok(0)
}

fn is_read_only(e: &crate::store::StoreError) -> bool {
    matches!(e, crate::store::StoreError::ReadOnly(_))
}

fn amendment(edge: &Edge, a: &AmendArgs) -> Result<Amendment, WardError> {
    Ok(Amendment {
        at: a.at.as_deref().map(|t| edge.time(t)).transpose()?,
        rate: a.rate.as_deref().map(Edge::rate).transpose()?,
        score: a.score.as_deref().map(Edge::nrs).transpose()?,
        timepoint: a
            .timepoint
            .as_deref()
            .map(Edge::choice::<Timepoint>)
            .transpose()?,
        effect: a.kind.as_ref().map(|k| k.trim().to_ascii_lowercase()),
        detail: Edge::opt_text("detail", &a.detail, 500)?,
        severity: a
            .severity
            .as_deref()
            .map(Edge::choice::<Severity>)
            .transpose()?,
        action: a
            .action
            .as_deref()
            .map(Edge::choice::<Action>)
            .transpose()?,
        successful: a
            .value
            .as_deref()
            .map(Edge::choice::<YesNo>)
            .transpose()?
            .map(YesNo::as_bool),
        end_reason: a
            .end_reason
            .as_deref()
            .map(Edge::choice::<EndReason>)
            .transpose()?,
        bed: Edge::opt_text("bed", &a.bed, crate::domain::course_rules::BED_MAX)?,
        confirm: match (a.confirm, &a.confirm_reason) {
            (true, Some(r)) => Some(Edge::text("confirm reason", r, 500)?),
            (true, None) => return Err(WardError::AmendConfirmNeedsReason),
            (false, Some(_)) => return Err(WardError::AmendReasonWithoutConfirm),
            (false, None) => None,
        },
    })
}
