//! The only module that speaks SQL.
//!
//! Everything above it sees two narrow traits: [`Reader`] for queries inside a read
//! transaction and [`Writer`] for the inserts of one write transaction. Each write appends its
//! audit row itself, so no caller can forget it. A later PostgreSQL store implements the same
//! traits and runs the same test suite (`tests/store_suite.rs`).

pub mod audit;
mod rows;
pub mod sqlite;

use crate::domain::dose::RatePoint;
use crate::domain::entry::{CourseId, Entry, EntryData, EntryId, PatientId, Version};
use crate::domain::marks::Mark;
use crate::domain::outcome::Score;
use crate::domain::protocol::Protocol;
pub use crate::domain::record::{Course, NewPatient, Patient, PatientVersion, Staff};
use crate::domain::time::Instant;

pub use sqlite::Db;

impl StoreError {
    /// Another connection holds the write lock longer than this connection waits.
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Sql(rusqlite::Error::SqliteFailure(e, _))
            if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
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

/// The newest entry, void and patient ids: what "has anything been added since?" compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Marks {
    pub entry: i64,
    pub void: i64,
    pub patient: i64,
    pub patient_version: i64,
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
    /// Every version of every entry of the patient, voids attached.
    fn entries_of(&self, patient: PatientId) -> Result<Vec<Entry>, StoreError>;
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
    fn entry(&self, id: EntryId) -> Result<Option<Entry>, StoreError>;
    fn entry_superseded_by(&self, id: EntryId) -> Result<Option<EntryId>, StoreError>;
    fn audit_rows(&self) -> Result<Vec<AuditRow>, StoreError>;
    fn audit_head(&self) -> Result<Option<(i64, String)>, StoreError>;
    /// (patient id, study id, day offset) of every pseudonymised patient.
    fn pseudonyms(&self) -> Result<Vec<(PatientId, String, i64)>, StoreError>;
    /// (patient id, second offset) of every patient with a secret offset below a day.
    fn pseudonym_times(&self) -> Result<Vec<(PatientId, i64)>, StoreError>;
    /// (key, canonical content) of every row of an audited table.
    fn table_rows(&self, table: &str) -> Result<Vec<(String, String)>, StoreError>;
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
    fn insert_course(
        &mut self,
        patient: PatientId,
        protocol_id: i64,
    ) -> Result<CourseId, StoreError>;
    fn insert_entry(&mut self, e: &NewEntry) -> Result<EntryId, StoreError>;
    fn insert_void(&mut self, entry: EntryId, reason: &str) -> Result<(), StoreError>;
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

/// The tables whose every row is mirrored in the audit log, with their key column.
pub const AUDITED_TABLES: &[(&str, &str)] = &[
    ("staff", "id"),
    ("protocol", "id"),
    ("patient", "id"),
    ("course", "id"),
    ("entry", "id"),
    ("void", "id"),
    ("pseudonym", "patient_id"),
    ("patient_version", "id"),
    ("pseudonym_time", "patient_id"),
];
