//! The only module that speaks SQL.
//!
//! Everything above it sees the [`Store`] interface (open, read, write) and two narrow traits:
//! [`Reader`] for queries inside a read transaction and [`Writer`] for the inserts of one write
//! transaction. Each write appends its audit row itself, so no caller can forget it. Two
//! backends implement them: an SQLite file (the embedded default) and a PostgreSQL server (a
//! hospital's). [`Db`] is whichever of them a [`Location`] names; the same test suite runs on
//! both (`tests/store_suite.rs`).

pub mod audit;
pub mod copy;
mod location;
pub mod pg_schema;
pub mod pg_tls;
mod pg_watch;
pub mod postgres;
mod rows;
pub mod schema;
pub mod sqlite;

use crate::domain::dose::RatePoint;
use crate::domain::entry::{CourseId, Entry, EntryData, EntryId, PatientId, Version};
use crate::domain::marks::Mark;
use crate::domain::outcome::Score;
use crate::domain::protocol::{Protocol, ProtocolVersion};
pub use crate::domain::record::{Course, NewPatient, Patient, PatientVersion, Staff};
use crate::domain::time::Instant;

pub use location::Location;
pub use rows::Value;

/// What every backend offers: a record opened at a [`Location`], read in one consistent
/// transaction, written in one serialised transaction that appends its own audit rows.
pub trait Store: Sized {
    /// Opens an existing record, migrating an older schema. A record that does not exist is
    /// an error: only [`Store::create`] makes one, so a mistyped location never silently
    /// starts an empty record.
    fn open(at: &Location) -> Result<Self, StoreError>;
    /// Makes a new, empty record (what `titrate init` does); refuses one that exists.
    fn create(at: &Location) -> Result<Self, StoreError>;
    /// A consistent read of the record.
    fn read<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&dyn Reader) -> Result<T, E>,
    ) -> Result<T, E>;
    /// One write transaction, serialised against every other writer from its start, so the
    /// checks `f` makes still hold when it commits; on any error nothing of it is stored.
    fn write<T, E: From<StoreError>>(
        &mut self,
        actor: &str,
        now: Instant,
        f: impl FnOnce(&mut dyn Writer) -> Result<T, E>,
    ) -> Result<T, E>;
    /// Changes whenever anyone commits: the cheap "has anything changed?" that lets a
    /// screen refresh without re-reading the record.
    fn data_version(&mut self) -> Result<i64, StoreError>;
    /// How long a write waits for another writer before it gives up as busy.
    fn set_busy_timeout(&mut self, d: std::time::Duration) -> Result<(), StoreError>;
}

/// Told when anyone commits, so that a terminal re-reads at once rather than at its next tick.
/// A backend that can push (PostgreSQL's LISTEN/NOTIFY) sets it; the terminal still polls
/// `data_version` on every tick, so a lost notification only delays a refresh.
#[derive(Clone, Debug, Default)]
pub struct Watch(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Watch {
    /// Whether something was committed since the last call.
    pub fn changed(&self) -> bool {
        self.0.swap(false, std::sync::atomic::Ordering::SeqCst)
    }

    pub fn tell(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether anyone but the backend still looks at it.
    pub fn watched(&self) -> bool {
        std::sync::Arc::strong_count(&self.0) > 1
    }
}

/// The record, on whichever backend its location names.
pub enum Db {
    Sqlite(sqlite::SqliteDb),
    /// Boxed: one connection with its statement cache, opened once per terminal.
    Postgres(Box<postgres::PgDb>),
}

impl Db {
    /// Opens the record at `at` (a file path or a `postgresql://` URL).
    pub fn open(at: impl Into<Location>) -> Result<Db, StoreError> {
        <Db as Store>::open(&at.into())
    }

    pub fn create(at: impl Into<Location>) -> Result<Db, StoreError> {
        <Db as Store>::create(&at.into())
    }

    /// Opens the record only to read it (`titrate check`, `audit verify` of a changed
    /// schema): no migration, nothing written.
    pub fn open_read_only(at: impl Into<Location>) -> Result<Db, StoreError> {
        match at.into() {
            Location::File(p) => Ok(Db::Sqlite(sqlite::SqliteDb::open_read_only(&p)?)),
            Location::Server(url) => Ok(Db::Postgres(Box::new(postgres::PgDb::connect_read_only(
                &url,
            )?))),
        }
    }

    /// A private copy in `dir` of a file a writer was stopped in the middle of writing, as
    /// the next writer will see it (rolled back); the file itself stays as it is.
    pub fn rolled_back_copy(
        path: &std::path::Path,
        dir: &std::path::Path,
    ) -> Result<Db, StoreError> {
        Ok(Db::Sqlite(sqlite::rolled_back_copy(path, dir)?))
    }

    /// A record that lives only as long as this value (tests, previews).
    pub fn open_in_memory() -> Result<Db, StoreError> {
        Ok(Db::Sqlite(sqlite::SqliteDb::open_in_memory()?))
    }

    /// The PostgreSQL store underneath, for tests that play someone with psql.
    pub fn postgres(&mut self) -> Option<&mut postgres::PgDb> {
        match self {
            Db::Postgres(p) => Some(p.as_mut()),
            Db::Sqlite(_) => None,
        }
    }

    /// The SQLite store underneath, for tests and benchmarks that play someone with the
    /// sqlite3 shell.
    pub fn sqlite(&self) -> Option<&sqlite::SqliteDb> {
        match self {
            Db::Sqlite(s) => Some(s),
            Db::Postgres(_) => None,
        }
    }

    /// Where this record is.
    pub fn location(&self) -> Location {
        match self {
            Db::Sqlite(s) => s
                .path()
                .map_or_else(|| Location::File(":memory:".into()), Location::from),
            Db::Postgres(p) => Location::Server(p.url().to_string()),
        }
    }

    /// What a file written beside this record may never replace.
    pub fn protected(&self) -> crate::fsout::Protected {
        match self {
            Db::Sqlite(s) => s.protected(),
            Db::Postgres(_) => crate::fsout::Protected::none(),
        }
    }

    /// The backend's own check of its storage, each problem a line ("ok" when sound).
    pub fn integrity_check(&mut self) -> Result<Vec<String>, StoreError> {
        match self {
            Db::Sqlite(s) => s.integrity_check(),
            Db::Postgres(p) => p.integrity_check(),
        }
    }

    /// A push of every commit, where the backend has one (an SQLite file has none: its
    /// `data_version` is a read of shared memory, cheap enough for every tick).
    pub fn watch(&mut self) -> Option<Watch> {
        match self {
            Db::Sqlite(_) => None,
            Db::Postgres(p) => Some(p.watch()),
        }
    }

    /// What the record is, in `check`'s verdict: "file" or "database".
    pub fn kind_word(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "file",
            Db::Postgres(_) => "database",
        }
    }

    /// What `integrity_check` is called in `titrate check`'s answer.
    pub fn integrity_label(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "SQLite integrity check",
            Db::Postgres(_) => "PostgreSQL read of every table",
        }
    }

    /// The whole record, one consistent state, into `pending`'s temporary file.
    pub fn copy_into(&self, pending: &crate::fsout::Pending) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(s) => s.copy_into(pending),
            Db::Postgres(p) => Err(StoreError::Open {
                path: p.shown().to_string(),
                why: "a PostgreSQL record is backed up by the server's own tools (pg_dump, base backups), not copied into a file".into(),
            }),
        }
    }
}

/// The interface's calls, on `Db` itself so that callers need not import [`Store`].
impl Db {
    pub fn read<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&dyn Reader) -> Result<T, E>,
    ) -> Result<T, E> {
        match self {
            Db::Sqlite(s) => Store::read(s, f),
            Db::Postgres(s) => Store::read(s.as_mut(), f),
        }
    }

    pub fn write<T, E: From<StoreError>>(
        &mut self,
        actor: &str,
        now: Instant,
        f: impl FnOnce(&mut dyn Writer) -> Result<T, E>,
    ) -> Result<T, E> {
        match self {
            Db::Sqlite(s) => Store::write(s, actor, now, f),
            Db::Postgres(s) => Store::write(s.as_mut(), actor, now, f),
        }
    }

    /// A write that is known to begin with the reads `ahead` names. The server store sends
    /// them with the write's first round trip, under the audit head's lock, and answers
    /// them from there (until the write's first change); the file store reads as `write`.
    pub fn write_ahead<T, E: From<StoreError>>(
        &mut self,
        actor: &str,
        now: Instant,
        ahead: &ReadAhead,
        f: impl FnOnce(&mut dyn Writer) -> Result<T, E>,
    ) -> Result<T, E> {
        match self {
            Db::Sqlite(s) => Store::write(s, actor, now, f),
            Db::Postgres(s) => s.write_ahead(actor, now, ahead, f),
        }
    }

    pub fn data_version(&mut self) -> Result<i64, StoreError> {
        match self {
            Db::Sqlite(s) => Store::data_version(s),
            Db::Postgres(s) => Store::data_version(s.as_mut()),
        }
    }

    pub fn set_busy_timeout(&mut self, d: std::time::Duration) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(s) => Store::set_busy_timeout(s, d),
            Db::Postgres(s) => Store::set_busy_timeout(s.as_mut(), d),
        }
    }

    /// For the data generator only: a generated record needs no durability on every
    /// transaction.
    pub fn bulk_load_mode(&mut self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(s) => s.bulk_load_mode(),
            Db::Postgres(p) => p.bulk_load_mode(),
        }
    }

    /// Back to the record's durability after a bulk load.
    pub fn finish_bulk_load(&mut self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(s) => s.finish_bulk_load(),
            Db::Postgres(p) => p.finish_bulk_load(),
        }
    }
}

impl Store for Db {
    fn open(at: &Location) -> Result<Db, StoreError> {
        match at {
            Location::File(p) => Ok(Db::Sqlite(sqlite::SqliteDb::open_file(p)?)),
            Location::Server(url) => Ok(Db::Postgres(Box::new(postgres::PgDb::connect(url)?))),
        }
    }

    fn create(at: &Location) -> Result<Db, StoreError> {
        match at {
            Location::File(p) => Ok(Db::Sqlite(sqlite::SqliteDb::create_file(p)?)),
            Location::Server(url) => Ok(Db::Postgres(Box::new(postgres::PgDb::create(url)?))),
        }
    }

    fn read<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&dyn Reader) -> Result<T, E>,
    ) -> Result<T, E> {
        Db::read(self, f)
    }

    fn write<T, E: From<StoreError>>(
        &mut self,
        actor: &str,
        now: Instant,
        f: impl FnOnce(&mut dyn Writer) -> Result<T, E>,
    ) -> Result<T, E> {
        Db::write(self, actor, now, f)
    }

    fn data_version(&mut self) -> Result<i64, StoreError> {
        Db::data_version(self)
    }

    fn set_busy_timeout(&mut self, d: std::time::Duration) -> Result<(), StoreError> {
        Db::set_busy_timeout(self, d)
    }
}

impl StoreError {
    /// Another connection holds the write lock longer than this connection waits (or, on a
    /// server, the transaction lost a race and may simply be tried again).
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Busy(_))
    }

    /// The server does not answer (or takes no writes): the terminal says it is reconnecting.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer holds the record; nothing was written and the same write may be tried
    /// again.
    #[error("the record is busy at another terminal ({0}); nothing was written: try again")]
    Busy(String),
    /// The disk under the database is full; nothing was written.
    #[error("database error: the disk is full")]
    DiskFull,
    /// The database (or its folder, or the server) takes no writes.
    #[error("database error: {0}")]
    ReadOnly(String),
    /// No (writable) database server answers, or the connection to it was lost.
    #[error("no writable database server could be reached: {0}")]
    Unavailable(String),
    /// The connection to the server was lost while a write was being committed, and no
    /// writable server answered in time to tell whether it was saved. Never retried: the
    /// same entry entered again could be there twice.
    #[error(
        "the connection to the database server was lost while the write was being committed, and the record could not be looked at since ({0}): it is not known whether it was saved; look at the record before entering it again"
    )]
    OutcomeUnknown(String),
    /// Any other failure the database reported, in its own words.
    #[error("database error: {0}")]
    Database(String),
    #[error("cannot open the database {path}: {why}")]
    Open { path: String, why: String },
    #[error(transparent)]
    File(#[from] crate::fsout::FileError),
    #[error(
        "the database was written by a newer titrate (schema version {found}; this titrate knows up to {known}); it was not touched: use the newer titrate"
    )]
    TooNew { found: i64, known: i64 },
    #[error("the database is damaged: {0}")]
    Corrupt(String),
    #[error("MRN {0} already belongs to another patient")]
    DuplicateMrn(String),
    #[error("staff id {0} already exists")]
    DuplicateStaff(String),
    #[error("{0} holds an unfinished transaction (a writer was stopped mid-write)")]
    HotJournal(String),
    #[error("entry {0} was changed at the same moment at another terminal; look again and retry")]
    Conflict(EntryId),
    #[error(
        "patient {patient}'s details were corrected at the same moment at another terminal (version {version} exists already); look again and retry"
    )]
    PatientConflict { patient: PatientId, version: u32 },
    #[error(
        "the letter advice of course {course} was changed at the same moment at another terminal; look again and retry"
    )]
    AdviceConflict { course: CourseId },
    #[error(
        "the database schema was changed behind titrate's back: {0}; nothing was written: run `titrate check` and keep the database as it is for investigation"
    )]
    SchemaChanged(String),
}

/// A correction of a patient's details, as validated by the domain: every detail as it now
/// stands, and which version it is (the one it corrects plus one).
#[derive(Clone, Debug, PartialEq)]
pub struct NewPatientVersion {
    pub patient_id: PatientId,
    pub version: u32,
    pub data: NewPatient,
    pub reason: String,
}

/// A new version of an entry, as validated by the domain; the store adds id and audit.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEntry {
    pub patient_id: PatientId,
    pub course_id: Option<CourseId>,
    pub happened_at: Instant,
    pub late: bool,
    pub supersedes: Option<EntryId>,
    pub amend_reason: Option<String>,
    pub data: EntryData,
}

/// The letter's own words for one course, as stored: who is responsible for the course and
/// the advice to the referring physician. The newest for a course is the one a letter uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LetterAdvice {
    pub id: i64,
    pub patient_id: PatientId,
    pub course_id: CourseId,
    pub supersedes: Option<i64>,
    pub responsible: String,
    pub advice: String,
    pub recorded_at: Instant,
    pub recorded_by: String,
}

/// A new advice, validated by the ward operation; the store adds id, time and actor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLetterAdvice {
    pub patient_id: PatientId,
    pub course_id: CourseId,
    /// The advice this one replaces: the course's newest, or None for its first.
    pub supersedes: Option<i64>,
    pub responsible: String,
    pub advice: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub tbl: Option<String>,
    pub row_key: Option<String>,
    pub content: String,
    pub prev_hash: String,
    pub hash: String,
}

/// One step of [`Reader::compare_table`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Compared {
    /// A row of the table: its key and canonical content, and (seq, content) of the latest
    /// audit row of its key, if there is one.
    Row {
        key: String,
        content: String,
        logged: Option<(i64, String)>,
    },
    /// A key the audit log holds for the table that no row of it has, with the seq of its
    /// latest audit row.
    Missing { key: String, seq: i64 },
}

/// The newest entry, void and patient ids: what "has anything been added since?" compares.
/// And the audit head's seq, which follows commit order where ids do not (on PostgreSQL a
/// smaller id can commit after a larger one was seen): a backend whose ids may commit out of
/// order reads what is new from the audit rows after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Marks {
    pub audit: i64,
    pub entry: i64,
    pub void: i64,
    pub patient: i64,
    pub patient_version: i64,
}

/// Reads a write makes before its first change, named so that a server store can send them
/// with the write's lock (one round trip for all of them, instead of one each). Only a
/// saving of time: a read the write then makes is answered from them exactly when it is one
/// of them, and the write's first change forgets them.
#[derive(Clone, Debug, Default)]
pub struct ReadAhead {
    /// `Reader::staff` of this id (the signed-in account's re-read).
    pub staff: Option<String>,
    /// `Reader::patient_by_mrn` of this MRN, and of that patient `courses_of` and
    /// `course_bounds_of`.
    pub patient_mrn: Option<String>,
    /// With `patient_mrn`: also `rate_versions_of` each of that patient's courses.
    pub rates: bool,
}

/// Queries, always inside one transaction so that a screen or report sees one state.
pub trait Reader {
    fn staff(&self, id: &str) -> Result<Option<Staff>, StoreError>;
    fn staff_list(&self) -> Result<Vec<Staff>, StoreError>;
    /// Patient reads give the details as they now stand (after every correction).
    /// By the current MRN only: a former MRN finds nobody here (see `mrn_owner`).
    fn patient_by_mrn(&self, mrn: &str) -> Result<Option<Patient>, StoreError>;
    fn patient(&self, id: PatientId) -> Result<Option<Patient>, StoreError>;
    fn patients(&self) -> Result<Vec<Patient>, StoreError>;
    /// Every version of the patient's details, oldest first; version 0 is the patient row.
    fn patient_versions(&self, patient: PatientId) -> Result<Vec<PatientVersion>, StoreError>;
    /// The patient whose current or former MRN this is.
    fn mrn_owner(&self, mrn: &str) -> Result<Option<PatientId>, StoreError>;
    /// Patients who may be on the ward screen: a course without an end, or one that ended at
    /// or after `ended_since`. Voided ends do not count (the course runs again); superseded
    /// versions of an end do, so this is a superset and the domain decides exactly.
    /// Grows with the ward, not with twenty years of record.
    fn ward_patients(&self, ended_since: Instant) -> Result<Vec<Patient>, StoreError>;
    fn marks(&self) -> Result<Marks, StoreError>;
    /// Patients with an entry, void or record newer than `seen`.
    fn changed_patients(&self, seen: &Marks) -> Result<Vec<PatientId>, StoreError>;
    /// Oldest first.
    fn courses_of(&self, patient: PatientId) -> Result<Vec<Course>, StoreError>;
    fn all_courses(&self) -> Result<Vec<Course>, StoreError>;
    /// Every protocol any course ran under.
    fn protocols(&self) -> Result<Vec<Protocol>, StoreError>;
    /// Every stored protocol version with its approval, oldest first.
    fn protocol_versions(&self) -> Result<Vec<ProtocolVersion>, StoreError>;
    /// Every version of every entry of the patient, voids attached.
    fn entries_of(&self, patient: PatientId) -> Result<Vec<Entry>, StoreError>;
    /// `entries_of` for several patients, as one read where a round trip costs (the ward's
    /// first read): each patient's entries in the order `entries_of` gives them.
    fn entries_of_patients(
        &self,
        patients: &[PatientId],
    ) -> Result<std::collections::HashMap<PatientId, Vec<Entry>>, StoreError> {
        patients
            .iter()
            .map(|p| Ok((*p, self.entries_of(*p)?)))
            .collect()
    }
    /// Every version of every course's start, end and success report, from the outcome
    /// index alone.
    fn outcome_marks(&self) -> Result<Vec<Mark>, StoreError>;
    /// Every version of each window's patient's pain scores inside the window, from the
    /// score index alone. A score inside two windows comes twice.
    fn scores_in(&self, windows: &[ScoreWindow]) -> Result<Vec<(PatientId, Score)>, StoreError>;
    /// The ids of every entry version that is superseded by a correction or voided: what
    /// an effective read leaves out.
    fn retired_entries(&self) -> Result<std::collections::HashSet<EntryId>, StoreError>;
    /// Every version of every entry of one course.
    fn entries_of_course(&self, course: CourseId) -> Result<Vec<Entry>, StoreError>;
    /// Every version of one course's rates, read from the entry_course index alone: what a
    /// new rate is checked against, once `entry::effective` has kept the current ones.
    fn rate_versions_of(&self, course: CourseId) -> Result<Vec<Version<RatePoint>>, StoreError>;
    /// Every version of one patient's course starts and ends.
    fn course_bounds_of(&self, patient: PatientId) -> Result<Vec<Entry>, StoreError>;
    /// The course-start and course-end entries (every version, with voids) of every course
    /// of every patient: what the one-patient-per-bed rule reads. One lookup per course.
    fn all_course_bounds(&self) -> Result<Vec<Entry>, StoreError>;
    fn entry(&self, id: EntryId) -> Result<Option<Entry>, StoreError>;
    fn entry_superseded_by(&self, id: EntryId) -> Result<Option<EntryId>, StoreError>;
    /// Every advice written for the course's letter, oldest first.
    fn letter_advice(&self, course: CourseId) -> Result<Vec<LetterAdvice>, StoreError>;
    /// Every audit row, oldest first, each given to `f` as it is read: what the chain check
    /// walks, in memory that does not grow with the log.
    fn each_audit_row(
        &self,
        f: &mut dyn FnMut(AuditRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// The whole audit log, oldest first (for a look at a few rows; `each_audit_row` walks
    /// all of them without holding them).
    fn audit_rows(&self) -> Result<Vec<AuditRow>, StoreError> {
        let mut out = Vec::new();
        self.each_audit_row(&mut |row| {
            out.push(row);
            Ok(())
        })?;
        Ok(out)
    }
    fn audit_head(&self) -> Result<Option<(i64, String)>, StoreError>;
    /// (patient id, study id, day offset) of every pseudonymised patient.
    fn pseudonyms(&self) -> Result<Vec<(PatientId, String, i64)>, StoreError>;
    /// (patient id, second offset) of every patient with a secret offset below a day.
    fn pseudonym_times(&self) -> Result<Vec<(PatientId, i64)>, StoreError>;
    /// (key, canonical content) of every row of an audited table.
    fn table_rows(&self, table: &str) -> Result<Vec<(String, String)>, StoreError>;
    /// Every row of an audited table beside the latest audit row of its key, and every key
    /// the log holds for the table that no row has, each given to `f` as the server or file
    /// pairs them (the keys matched as text: a row's key as `table_rows` gives it, the audit
    /// row's `row_key`); nothing is held. What `audit::verify` compares. The order is the
    /// backend's; a table that is not there (or has no key column) has no rows, so every key
    /// logged for it is `Compared::Missing`.
    fn compare_table(
        &self,
        table: &str,
        f: &mut dyn FnMut(Compared) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// Every way the stored schema (and its version number) differs from what titrate's
    /// migrations create, each object named.
    fn schema_differences(&self) -> Result<Vec<SchemaProblem>, StoreError>;
    /// (table, key, column) of every stored text value that is not valid UTF-8, in every
    /// table titrate created.
    fn invalid_text(&self) -> Result<Vec<(String, String, String)>, StoreError>;
    /// Every row of one of the tables [`copy::tables`] lists, `columns` of it exactly as
    /// stored (a secret as it is, not its digest), in key order, each given to `f`: what
    /// `titrate migrate` copies. Returns how many rows there were.
    fn raw_rows(
        &self,
        table: &Audited,
        f: &mut dyn FnMut(&[Value]) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError>;
}

/// A schema object added, dropped or changed, or a version number that does not match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchemaProblem {
    Object(schema::Difference),
    /// `PRAGMA user_version` says `found`, the objects are those of version `holds`.
    Version {
        found: i64,
        holds: i64,
    },
}

/// A stretch of one patient's time, both ends included.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreWindow {
    pub patient: PatientId,
    pub from: Instant,
    pub to: Instant,
}

/// The inserts of one write transaction, made by `actor` at `now`. Each adds its audit row.
pub trait Writer: Reader {
    fn actor(&self) -> &str;
    fn now(&self) -> Instant;
    /// Who records what follows, and when. Only for writing records whose recording is
    /// known from elsewhere (the data generator; an import): the ward's operations never
    /// call it, so their entries carry the signed-in person and the server's clock.
    fn set_clock(&mut self, actor: &str, now: Instant);
    fn insert_staff(&mut self, staff: &Staff, action: &str) -> Result<(), StoreError>;
    fn update_staff(&mut self, staff: &Staff, action: &str) -> Result<(), StoreError>;
    /// Refuses an MRN that is any patient's current or former MRN.
    fn insert_patient(&mut self, p: &NewPatient) -> Result<PatientId, StoreError>;
    /// Refuses an MRN that is another patient's current or former MRN, and a version that
    /// exists already (`PatientConflict`).
    fn insert_patient_version(&mut self, v: &NewPatientVersion) -> Result<i64, StoreError>;
    /// The id of this exact protocol, stored on first use.
    fn protocol_id(&mut self, p: &Protocol) -> Result<i64, StoreError>;
    /// Approves a stored version for new courses, by the actor, now.
    fn insert_protocol_approval(&mut self, protocol_id: i64) -> Result<(), StoreError>;
    fn insert_course(
        &mut self,
        patient: PatientId,
        protocol_id: i64,
    ) -> Result<CourseId, StoreError>;
    fn insert_entry(&mut self, e: &NewEntry) -> Result<EntryId, StoreError>;
    fn insert_void(&mut self, entry: EntryId, reason: &str) -> Result<(), StoreError>;
    /// Refuses an advice that supersedes one another advice superseded already, or one that
    /// is not the course's newest (`AdviceConflict`).
    fn insert_letter_advice(&mut self, a: &NewLetterAdvice) -> Result<i64, StoreError>;
    fn insert_pseudonym(
        &mut self,
        patient: PatientId,
        study_id: &str,
        day_offset: i64,
    ) -> Result<(), StoreError>;
    fn insert_pseudonym_time(
        &mut self,
        patient: PatientId,
        second_offset: i64,
    ) -> Result<(), StoreError>;
    /// An event with no row of its own (a failed sign-in, a denied permission).
    fn audit_event(&mut self, action: &str, content: &serde_json::Value) -> Result<(), StoreError>;
}

/// How a column's value is written in the canonical content. The content is formatted from
/// the declared type, never from what SQLite happens to hold, so that another backend writes
/// the same bytes for the same row: integers as JSON integers, reals as JSON numbers
/// (shortest form that reads back, "70.0" for a whole number), text as JSON strings. A stored
/// value of another kind (SQLite lets any column hold anything) is written as
/// `{"stored_as":KIND,"value":...}`, which no correct row can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    Integer,
    Real,
    Text,
    /// Text kept out of the audit log (which staff may read): only its sha256 is written,
    /// under the name `<column>_sha256`.
    Secret,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    /// Added by a migration after the table was created. Such a column is part of the
    /// canonical content only when it is not NULL: the rows written before it existed hold
    /// NULL in it and keep the content their audit rows recorded, while any value put into
    /// it later is covered. So a column added later must be nullable with no DEFAULT (the
    /// old rows must read NULL); a value meaning "not set" that is not NULL would make every
    /// old row differ from its audit row.
    pub later: bool,
}

pub const fn int(name: &'static str) -> Column {
    Column {
        name,
        ty: ColumnType::Integer,
        later: false,
    }
}
pub const fn real(name: &'static str) -> Column {
    Column {
        name,
        ty: ColumnType::Real,
        later: false,
    }
}
pub const fn text(name: &'static str) -> Column {
    Column {
        name,
        ty: ColumnType::Text,
        later: false,
    }
}
pub const fn secret(name: &'static str) -> Column {
    Column {
        name,
        ty: ColumnType::Secret,
        later: false,
    }
}
impl Column {
    pub const fn later(self) -> Column {
        Column {
            later: true,
            ..self
        }
    }
}

/// A table whose every row is mirrored in the audit log: its key column and the columns of
/// its canonical content (all of them: `store::tests` checks this list against the schema).
#[derive(Clone, Copy, Debug)]
pub struct Audited {
    pub table: &'static str,
    pub key: &'static str,
    pub columns: &'static [Column],
}

const fn audited(table: &'static str, key: &'static str, columns: &'static [Column]) -> Audited {
    Audited {
        table,
        key,
        columns,
    }
}

/// The tables whose every row is mirrored in the audit log, with their key and canonical
/// columns: the one place that says what the audit covers. A new audited table is one line
/// here; a column added to one by a migration is listed with `.later()`.
#[rustfmt::skip]
pub const AUDITED_TABLES: &[Audited] = &[
    audited("staff", "id", &[text("id"), text("name"), text("role"), secret("pin_hash"), int("active"), int("failed_pins"), int("locked"), text("created_at"), text("created_by")]),
    audited("protocol", "id", &[int("id"), text("name"), text("digest"), text("snapshot"), text("created_at"), text("created_by")]),
    audited("patient", "id", &[int("id"), text("mrn"), text("name"), text("birth_date"), text("sex"), real("weight_kg"), text("crps_type"), text("crps_onset"), text("limb"), text("created_at"), text("created_by")]),
    audited("course", "id", &[int("id"), int("patient_id"), int("protocol_id"), text("created_at"), text("created_by")]),
    audited("entry", "id", &[int("id"), int("patient_id"), int("course_id"), text("kind"), int("supersedes"), text("amend_reason"), text("happened_at"), text("recorded_at"), text("recorded_by"), int("late"), int("rate_centi"), int("confirmed"), text("confirm_reason"), int("score"), text("timepoint"), text("effect"), text("detail"), text("severity"), text("action"), int("successful"), text("end_reason"), text("bed")]),
    audited("void", "id", &[int("id"), int("entry_id"), text("reason"), text("voided_at"), text("voided_by")]),
    audited("pseudonym", "patient_id", &[int("patient_id"), text("study_id"), int("day_offset"), text("created_at"), text("created_by")]),
    audited("patient_version", "id", &[int("id"), int("patient_id"), int("version"), text("mrn"), text("name"), text("birth_date"), text("sex"), real("weight_kg"), text("crps_type"), text("crps_onset"), text("limb"), text("reason"), text("recorded_at"), text("recorded_by")]),
    audited("protocol_approval", "id", &[int("id"), int("protocol_id"), text("approved_at"), text("approved_by")]),
    audited("pseudonym_time", "patient_id", &[int("patient_id"), int("second_offset"), text("created_at"), text("created_by")]),
    audited("letter_advice", "id", &[int("id"), int("patient_id"), int("course_id"), int("supersedes"), text("responsible_staff_id"), text("advice"), text("recorded_at"), text("recorded_by")]),
];

/// The audited tables: [`AUDITED_TABLES`], or in a unit test the list a test put in its place
/// (to play a later migration that adds a column).
pub fn audited_tables() -> &'static [Audited] {
    #[cfg(test)]
    if let Some(t) = test_hook::TABLES.with(|t| *t.borrow()) {
        return t;
    }
    AUDITED_TABLES
}

pub fn audited_table(table: &str) -> Option<&'static Audited> {
    audited_tables().iter().find(|a| a.table == table)
}

/// For unit tests that play a later version of titrate on this thread: one more migration
/// and the audited-table list that goes with it.
#[cfg(test)]
pub(crate) mod test_hook {
    use std::cell::RefCell;
    thread_local! {
        pub static MIGRATION: RefCell<Option<(i64, String)>> = const { RefCell::new(None) };
        pub static TABLES: RefCell<Option<&'static [super::Audited]>> = const { RefCell::new(None) };
    }
}

#[cfg(test)]
mod tests;
