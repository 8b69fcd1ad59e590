//! The command line: clap definitions, and the edge where typed text becomes domain values.

use std::path::PathBuf;

use chrono_tz::Tz;
use clap::{Args, Parser, Subcommand};

use crate::domain::entry::EntryId;
use crate::domain::rate::Rate;
use crate::domain::time::{Instant, parse_date, parse_time_at};
use crate::domain::values::{self, Nrs, ValueError};
use crate::ward::WardError;

#[derive(Debug, Parser)]
#[command(
    name = "titrate",
    version,
    about = "Ward terminal for the 7-day intravenous S-ketamine infusion (CRPS)",
    long_about = "Ward terminal for the 7-day intravenous low-dose S-ketamine infusion for Complex Regional Pain Syndrome.\n\
                  Entry commands sign in with --user (or TITRATE_USER) and the PIN from TITRATE_PIN or a prompt.\n\
                  TIME is a local time like 14:05 (the latest 14:05 that has passed) or 2026-03-01 14:05, in the ward's time zone; a time with its offset (2026-03-01T14:05:00+01:00) works too."
)]
pub struct Cli {
    /// Database file, or a PostgreSQL server as postgresql://… (default: database.url or
    /// database.path in config.toml)
    #[arg(long, env = "TITRATE_DB", global = true, value_name = "PATH|URL")]
    pub db: Option<String>,
    /// Configuration file (default: ./config.toml, else the built-in defaults)
    #[arg(long, env = "TITRATE_CONFIG", global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Staff id to sign in as
    #[arg(long, env = "TITRATE_USER", global = true, value_name = "ID")]
    pub user: Option<String>,
    /// Open a seeded demo ward in a new temporary database, removed when titrate quits
    #[arg(long)]
    pub demo: bool,
    /// With --demo: keep the demo database when titrate quits
    #[arg(long, requires = "demo")]
    pub keep: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the database and its first admin (PIN from TITRATE_NEW_PIN or a prompt)
    Init {
        #[arg(long, value_name = "ID")]
        admin: String,
        #[arg(long)]
        name: String,
    },
    /// Staff accounts (admin)
    #[command(subcommand)]
    Staff(StaffCmd),
    /// Your own PIN
    #[command(subcommand)]
    Pin(PinCmd),
    /// When every admin is locked out: make an account a working admin again. Needs no PIN,
    /// only the right to write the database file (its owner or root)
    RecoverAdmin(RecoverArgs),
    /// Patients
    #[command(subcommand)]
    Patient(PatientCmd),
    /// Start or end a course (physician)
    #[command(subcommand)]
    Course(CourseCmd),
    /// Record a rate change, a pause (0) or the hourly check (same rate)
    Dose(DoseArgs),
    /// Record a pain score (NRS 0-10)
    Nrs(NrsArgs),
    /// Record a side effect
    SideEffect(SideEffectArgs),
    /// Record whether the treatment was reported successful (physician)
    Success(SuccessArgs),
    /// Correct an entry: a new version that points at the old one
    Amend(AmendArgs),
    /// Mark an entry as entered in error
    Void {
        #[arg(value_name = "ENTRY_ID", allow_hyphen_values = true)]
        id: String,
        #[arg(long)]
        reason: String,
        /// Confirm a soft limit a later rate passes once this rate is gone (needs
        /// --confirm-reason; kept with the void)
        #[arg(long)]
        confirm: bool,
        #[arg(long, value_name = "TEXT")]
        confirm_reason: Option<String>,
    },
    /// Every entry of a patient, with versions, late and voided marks
    History {
        #[arg(long)]
        mrn: String,
    },
    /// The patient's latest course
    Status {
        #[arg(long)]
        mrn: String,
        #[arg(long)]
        json: bool,
    },
    /// A course's discharge summary as Markdown or PDF
    Summary {
        #[arg(long)]
        mrn: String,
        /// The course (default: the patient's latest)
        #[arg(long, allow_hyphen_values = true)]
        course: Option<String>,
        /// markdown or pdf
        #[arg(long)]
        format: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Allow a summary of a running course, marked DRAFT on every page
        #[arg(long)]
        draft: bool,
        /// Replace an existing file (never the database, its -wal/-shm, or any database)
        #[arg(long)]
        force: bool,
        /// Advice to the referring physician, stored with the course (physician); without
        /// it the letter prints the advice stored last
        #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
        advice: Option<String>,
        /// Staff id of the physician responsible for the course, stored with the advice
        /// (default: the one stored, else you)
        #[arg(long, value_name = "STAFF_ID", requires = "advice")]
        responsible: Option<String>,
    },
    /// Research export: events, courses, codebook and data quality as CSV (physician)
    Export {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Study ids instead of names and MRNs, age instead of birth date, dates shifted
        #[arg(long)]
        pseudonymize: bool,
        /// Replace the four CSV files if the folder holds them already
        #[arg(long)]
        force: bool,
    },
    /// The study's cohort table
    Cohort {
        #[arg(long)]
        json: bool,
        /// text, markdown or json
        #[arg(long, default_value = "text")]
        format: String,
        /// Courses started on or after this date (YYYY-MM-DD)
        #[arg(long)]
        from: Option<String>,
        /// Courses started on or before this date (YYYY-MM-DD)
        #[arg(long)]
        to: Option<String>,
    },
    /// The shift handover of the whole ward now: one block per bed (any signed-in staff)
    Handover {
        /// markdown or pdf
        #[arg(long, default_value = "markdown")]
        format: String,
        /// Write to this file (required for pdf; markdown goes to stdout without it)
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Hours looked back (side effects) and ahead (what falls due), 1 to 72
        #[arg(long, default_value = "8", allow_hyphen_values = true)]
        hours: String,
        /// Replace an existing file (never the database, its -wal/-shm, or any database)
        #[arg(long)]
        force: bool,
    },
    /// Protocol versions: list and show them; approve the one in config.toml (admin)
    #[command(subcommand)]
    Protocol(ProtocolCmd),
    /// The audit trail
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Copy the database with SQLite's online backup while others keep writing, then check
    /// the copy
    Backup {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Replace an existing file (never the database, its -wal/-shm, or any database)
        #[arg(long)]
        force: bool,
    },
    /// Generate a realistic database (for benchmarks and trials) at --db; refuses an existing file unless --force (never a database)
    Demo {
        #[arg(long, default_value_t = 100)]
        courses: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Replace an existing file (never the database, its -wal/-shm, or any database)
        #[arg(long)]
        force: bool,
    },
    /// Check any database file or server: its storage, its schema and the audit chain;
    /// changes nothing
    Check {
        /// The file to check (default: the configured database)
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// The SQL a hospital's DBA runs once, as a superuser, before `titrate init` on a
    /// PostgreSQL server: the owner role, the application role and its grants
    PgSetup {
        /// Print the SQL (nothing is run: the DBA reads it and runs it with psql)
        #[arg(long)]
        print: bool,
        /// The role that owns titrate's tables (runs `init` and upgrades)
        #[arg(long, default_value = "titrate_owner")]
        owner: String,
        /// The role the ward terminals and commands sign in to the server with
        #[arg(long, default_value = "titrate_app")]
        app: String,
        /// The database
        #[arg(long, default_value = "titrate")]
        database: String,
    },
    /// Copy the whole record of the database file (--db) into an empty PostgreSQL database:
    /// every row and audit row, in one transaction (all of it or nothing)
    Migrate {
        /// The PostgreSQL database to copy into (postgresql://…)
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum StaffCmd {
    /// Add an account (PIN from TITRATE_NEW_PIN or a prompt)
    Add {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: String,
    },
    /// Unlock an account after too many wrong PINs
    Unlock {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// List accounts
    List,
    /// Deactivate an account: it can no longer sign in; its entries keep its name
    Deactivate {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Let a deactivated account sign in again
    Reactivate {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Change an account's role
    Role {
        #[arg(value_name = "ID")]
        id: String,
        /// nurse, physician or admin
        #[arg(long)]
        role: String,
    },
    /// Give an account a new PIN (from TITRATE_NEW_PIN or a prompt); clears its lock
    ResetPin {
        #[arg(value_name = "ID")]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PinCmd {
    /// Change your own PIN: the current one from TITRATE_PIN (or a prompt), the new one from
    /// TITRATE_NEW_PIN (or a prompt)
    Change,
}

#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// The account to make a working admin again (created if it does not exist)
    #[arg(long, value_name = "ID")]
    pub id: String,
    /// Name of a new account
    #[arg(long)]
    pub name: Option<String>,
    /// Set a new PIN (from TITRATE_NEW_PIN or a prompt); always for a new or non-admin account
    #[arg(long)]
    pub new_pin: bool,
}

#[derive(Debug, Subcommand)]
pub enum PatientCmd {
    Add(PatientArgs),
    /// Correct a patient's details: a new version with who, when and why (the old values
    /// stay in history and in the summary's corrections)
    Amend(PatientAmendArgs),
}

#[derive(Debug, Args)]
pub struct PatientAmendArgs {
    /// The patient's current MRN
    #[arg(long)]
    pub mrn: String,
    /// Why the details are corrected
    #[arg(long)]
    pub reason: String,
    #[arg(long)]
    pub new_mrn: Option<String>,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub birth_date: Option<String>,
    #[arg(long)]
    pub sex: Option<String>,
    #[arg(long, value_name = "KG", allow_hyphen_values = true)]
    pub weight_kg: Option<String>,
    #[arg(long, value_name = "1|2")]
    pub crps_type: Option<String>,
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub crps_onset: Option<String>,
    #[arg(long)]
    pub limb: Option<String>,
}

#[derive(Debug, Args)]
pub struct PatientArgs {
    #[arg(long)]
    pub mrn: String,
    #[arg(long)]
    pub name: String,
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub birth_date: String,
    #[arg(long)]
    pub sex: String,
    #[arg(long, value_name = "KG", allow_hyphen_values = true)]
    pub weight_kg: Option<String>,
    #[arg(long, value_name = "1|2")]
    pub crps_type: Option<String>,
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub crps_onset: Option<String>,
    #[arg(long)]
    pub limb: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum CourseCmd {
    Start {
        #[arg(long)]
        mrn: String,
        #[arg(long, value_name = "TIME")]
        at: String,
        #[arg(long)]
        bed: Option<String>,
    },
    End {
        #[arg(long)]
        mrn: String,
        #[arg(long, value_name = "TIME")]
        at: String,
        #[arg(long, default_value = "completed")]
        reason: String,
    },
}

#[derive(Debug, Args)]
pub struct DoseArgs {
    #[arg(long)]
    pub mrn: String,
    #[arg(long, value_name = "MG_PER_H", allow_hyphen_values = true)]
    pub rate: String,
    #[arg(long, value_name = "TIME")]
    pub at: String,
    /// Record a step past a soft limit (needs --reason)
    #[arg(long)]
    pub confirm: bool,
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct NrsArgs {
    #[arg(long)]
    pub mrn: String,
    #[arg(long, value_name = "0-10", allow_hyphen_values = true)]
    pub score: String,
    #[arg(long, value_name = "TIME")]
    pub at: String,
    #[arg(long, value_name = "t0|t1|t2")]
    pub timepoint: Option<String>,
}

#[derive(Debug, Args)]
pub struct SideEffectArgs {
    #[arg(long)]
    pub mrn: String,
    #[arg(long)]
    pub kind: String,
    #[arg(long)]
    pub severity: String,
    #[arg(long, value_name = "TIME")]
    pub at: String,
    /// none, rate-lowered, paused, stopped, medication-given
    #[arg(long, default_value = "none")]
    pub action: String,
    /// Description (required for kind "other")
    #[arg(long)]
    pub detail: Option<String>,
    /// The new rate in mg/h, recorded with the side effect in one step: required for
    /// rate-lowered (below the current rate), paused and stopped (0)
    #[arg(long)]
    pub rate: Option<String>,
}

#[derive(Debug, Args)]
pub struct SuccessArgs {
    #[arg(long)]
    pub mrn: String,
    #[arg(long, value_name = "t1|t2")]
    pub timepoint: String,
    #[arg(long, value_name = "yes|no")]
    pub value: String,
    #[arg(long, value_name = "TIME")]
    pub at: String,
}

#[derive(Debug, Args)]
pub struct AmendArgs {
    #[arg(value_name = "ENTRY_ID", allow_hyphen_values = true)]
    pub id: String,
    #[arg(long)]
    pub reason: String,
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub rate: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub score: Option<String>,
    #[arg(long)]
    pub timepoint: Option<String>,
    #[arg(long)]
    pub kind: Option<String>,
    #[arg(long)]
    pub detail: Option<String>,
    #[arg(long)]
    pub severity: Option<String>,
    #[arg(long)]
    pub action: Option<String>,
    #[arg(long, value_name = "yes|no")]
    pub value: Option<String>,
    #[arg(long)]
    pub end_reason: Option<String>,
    #[arg(long)]
    pub bed: Option<String>,
    /// Confirm a soft limit the corrected rate passes (needs --confirm-reason); a
    /// confirmation of the corrected version does not carry over
    #[arg(long)]
    pub confirm: bool,
    /// Why the soft limit is passed (kept with the rate, like dose --reason)
    #[arg(long, value_name = "TEXT")]
    pub confirm_reason: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ProtocolCmd {
    /// Every version, who approved it and when, and the courses under it
    List,
    /// One version: every field, its approval and the courses that run under it
    Show {
        #[arg(value_name = "ID", allow_hyphen_values = true)]
        id: String,
    },
    /// Show how the protocol in config.toml differs from the version in use, then approve
    /// it for new courses (admin; asks, unless --digest or --yes is given)
    Approve {
        /// Approve only if config.toml still holds this version (the digest shown, at
        /// least 12 hex digits)
        #[arg(long, value_name = "HEX")]
        digest: Option<String>,
        /// Approve the version shown without asking
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Recompute the hash chain and compare every record with it
    Verify,
}

/// Text to domain values, with the domain's own error messages.
pub struct Edge {
    pub zone: Tz,
    /// What "now" is for a time typed as HH:MM alone.
    pub now: Instant,
}

impl Edge {
    pub fn time(&self, s: &str) -> Result<Instant, WardError> {
        Ok(parse_time_at(s, self.zone, self.now)?)
    }

    pub fn date(s: &str) -> Result<chrono::NaiveDate, WardError> {
        Ok(parse_date(s)?)
    }

    pub fn rate(s: &str) -> Result<Rate, WardError> {
        Ok(s.parse::<Rate>()?)
    }

    pub fn nrs(s: &str) -> Result<Nrs, WardError> {
        Ok(s.parse::<Nrs>()?)
    }

    pub fn entry_id(s: &str) -> Result<EntryId, WardError> {
        let t = s.trim();
        match t.parse::<EntryId>() {
            Ok(id) if id > 0 && t.chars().all(|c| c.is_ascii_digit()) => Ok(id),
            _ => Err(WardError::BadEntryId(t.chars().take(40).collect())),
        }
    }

    pub fn choice<T: std::str::FromStr<Err = ValueError>>(s: &str) -> Result<T, WardError> {
        Ok(s.parse::<T>()?)
    }

    pub fn text(what: &'static str, s: &str, max: usize) -> Result<String, WardError> {
        Ok(values::text(what, s, max)?)
    }

    pub fn opt_text(
        what: &'static str,
        s: &Option<String>,
        max: usize,
    ) -> Result<Option<String>, WardError> {
        s.as_deref().map(|v| Edge::text(what, v, max)).transpose()
    }
}
