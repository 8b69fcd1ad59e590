use crate::domain::entry::EntryId;
use crate::domain::rate::RateError;
use crate::domain::rules::RuleError;
use crate::domain::time::TimeError;
use crate::domain::values::{Role, ValueError};
use crate::store::StoreError;

/// Every refusal an operation can give, worded for the person at the terminal.
#[derive(Debug, thiserror::Error)]
pub enum WardError {
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error(transparent)]
    Time(#[from] TimeError),
    #[error(transparent)]
    Rate(#[from] RateError),
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no patient with MRN {0}")]
    UnknownMrn(String),
    #[error("MRN {old} was changed to {new} on {on} ({why}); use MRN {new}")]
    MrnChanged {
        old: String,
        new: String,
        on: String,
        why: String,
    },
    #[error(
        "nothing to correct: give the corrected detail, e.g. --weight-kg, --name, --birth-date or --new-mrn"
    )]
    NothingToAmendPatient,
    #[error("the correction changes nothing: MRN {0} already holds these details")]
    PatientUnchanged(String),
    #[error("\"{0}\" is not an entry id: give the number that history shows, e.g. 1234")]
    BadEntryId(String),
    #[error("--confirm needs --reason: say why the soft limit is passed")]
    ConfirmNeedsReason,
    #[error("--reason is only given with --confirm")]
    ReasonWithoutConfirm,
    #[error("a database already exists at {0}; `titrate init` only creates a new one")]
    AlreadyExists(String),
    #[error(
        "this command works on a database file, and {0} is a PostgreSQL server: give a file with --db (on the server, the hospital's DBA makes backups and restores)"
    )]
    NotOnServer(String),
    #[error(
        "the file's audit trail is not sound ({0} problems: see `titrate check`): it is not copied, so that the server never starts from a broken record; nothing was written"
    )]
    MigrateBrokenSource(usize),
    #[error(
        "`titrate migrate` copies a database file into PostgreSQL, and --db names the server {0}: give the file to copy with --db FILE"
    )]
    MigrateFromServer(String),
    #[error(
        "--to {0} is not a PostgreSQL database: give the empty database to copy into as a URL, postgresql://USER@HOST/DATABASE"
    )]
    MigrateNeedsServer(String),
    #[error(
        "{what} \"{given}\" is not a plain SQL name: use lower-case letters a-z, digits and _, starting with a letter or _, at most 63 characters, not starting with pg_"
    )]
    BadSqlName { what: &'static str, given: String },
    #[error(
        "`titrate pg-setup` only prints SQL and runs nothing: `titrate pg-setup --print > setup.sql`, read it, then run it once as a PostgreSQL superuser with `psql -v ON_ERROR_STOP=1 -f setup.sql`"
    )]
    PgSetupPrintOnly,
    #[error(
        "the owner role and the application role are both \"{0}\": they must be two roles, so that the one the terminals sign in with owns nothing and can drop no trigger"
    )]
    PgSetupSameRoles(String),
    #[error("this database has staff already; an admin adds accounts with `titrate staff add`")]
    HasStaff,
    #[error("the two PINs differ; nothing was saved")]
    PinsDiffer,
    #[error("{0}; add --confirm --reason TEXT")]
    NeedsConfirmationCli(String),
    #[error(
        "{0}; add --confirm --confirm-reason TEXT (a confirmation of the corrected version does not carry over)"
    )]
    AmendNeedsConfirmationCli(String),
    #[error(
        "--confirm needs --confirm-reason: say why the soft limit is passed (--reason is why the entry is corrected)"
    )]
    AmendConfirmNeedsReason,
    #[error("--confirm-reason is only given with --confirm")]
    AmendReasonWithoutConfirm,
    #[error(
        "{0} is not an active physician: name the staff id of a physician whose account is active"
    )]
    NotAPhysician(String),
    #[error(
        "name the responsible physician (--responsible STAFF_ID, or the field in the form): no physician is recorded for this course yet"
    )]
    NoResponsible,
    #[error(
        "the advice to the referring physician of course {course} was changed since you opened it, by {by} on {at}: it now reads \"{now}\"; look again and save once more"
    )]
    AdviceChanged {
        course: i64,
        by: String,
        at: String,
        now: String,
    },
    #[error("MRN {0} has no course")]
    NoCourseFor(String),
    #[error(
        "--hours \"{0}\" is not allowed: give a whole number of hours from 1 to 72, like --hours 8"
    )]
    HandoverHours(String),
    #[error(
        "a PDF handover needs a file: add --out FILE (Markdown without --out goes to the screen)"
    )]
    HandoverPdfNeedsOut,
    #[error("format \"{given}\" is not known: use {allowed}")]
    BadFormat {
        given: String,
        allowed: &'static str,
    },
    #[error("the cohort range is empty: --from {from} is after --to {to}")]
    EmptyRange { from: String, to: String },
    #[error("account {0} is not locked")]
    NotLocked(String),
    #[error("no staff account {0}")]
    UnknownStaff(String),
    #[error(transparent)]
    Summary(#[from] crate::report::summary::SummaryError),
    #[error(transparent)]
    Pdf(#[from] crate::report::pdf::PdfError),
    #[error("cannot write {0}: {1}")]
    Io(String, String),
    #[error(transparent)]
    File(#[from] crate::fsout::FileError),
    #[error("no entry {0}")]
    UnknownEntry(EntryId),
    #[error(
        "entry {id} was already corrected by entry {current}; amend or void entry {current} instead"
    )]
    NotCurrent { id: EntryId, current: EntryId },
    #[error("entry {0} is voided (entered in error); record a new entry instead")]
    Voided(EntryId),
    #[error("{who} is signed in as {role} and may not {what}: that needs the {needs} role")]
    Denied {
        who: String,
        role: Role,
        what: String,
        needs: Role,
    },
    #[error("sign-in failed: unknown staff id or wrong PIN")]
    BadSignIn,
    #[error("account {0} is locked after too many wrong PINs; ask a ward admin to unlock it")]
    Locked(String),
    #[error("account {0} is deactivated; ask a ward admin to reactivate it")]
    Inactive(String),
    #[error("account {0} is deactivated already; nothing changed")]
    AlreadyInactive(String),
    #[error("account {0} is active already; nothing changed")]
    AlreadyActive(String),
    #[error("account {id} has the {role} role already; nothing changed")]
    SameRole { id: String, role: Role },
    #[error(
        "{id} is the last active, unlocked admin and cannot be {what}: nobody could manage staff then; make another admin first (staff screen `S`, or `titrate staff role ID --role admin`)"
    )]
    LastAdmin { id: String, what: &'static str },
    #[error(
        "account {0} changed since it signed in (deactivated, locked, or its role or PIN changed); nothing was saved: sign in again"
    )]
    AccountChanged(String),
    #[error(
        "this patient's record changed since the form opened: {}. Nothing was saved; the form now shows the record as it stands: check it, then press Enter again to save",
        changes.join("; ")
    )]
    Stale {
        changes: Vec<String>,
        /// The record as it now stands, for the form to show and to be checked against next.
        now: Box<super::picture::Picture>,
    },
    #[error("the new PIN is the same as the current one; nothing was changed")]
    SamePin,
    #[error(
        "the current PIN is wrong; nothing was changed ({left} more wrong PINs lock the account)"
    )]
    WrongCurrentPin { left: u32 },
    #[error(
        "{0} cannot deactivate their own account: another admin does that, so that an admin is never locked out by a slip"
    )]
    SelfDeactivate(String),
    #[error(
        "the patient's details were changed at another terminal since this form opened (version {version} by {by} at {at}: {changes}); nothing was saved: the form now shows the details as they stand, make the correction again"
    )]
    PatientChangedSince {
        version: u32,
        by: String,
        at: String,
        changes: String,
    },
    #[error(
        "recover-admin is only for the owner of {path} (uid {owner}) or root, who can write the file anyway; this process runs as uid {uid}"
    )]
    RecoverNotOwner { path: String, owner: u32, uid: u32 },
    #[error(
        "recover-admin needs to write {path} and cannot: {why}; only someone who can write the database file may recover an admin"
    )]
    RecoverCannotWrite { path: String, why: String },
    #[error("no staff account {0}: give --name to create it as an admin (with a new PIN)")]
    RecoverNeedsName(String),
    #[error(
        "{0} is not an admin yet: give a new PIN for it (TITRATE_NEW_PIN, or --new-pin to be asked)"
    )]
    RecoverNeedsPin(String),
    #[error("{0} is an active, unlocked admin already; nothing changed (--new-pin sets a new PIN)")]
    NothingToRecover(String),
    #[error("{field} does not apply to a {kind} entry")]
    FieldNotForKind {
        field: &'static str,
        kind: &'static str,
    },
    #[error("nothing to amend: give the corrected field, e.g. --rate, --score or --at")]
    NothingToAmend,
    #[error("the amendment changes nothing: entry {0} already holds these values")]
    AmendSame(EntryId),
    #[error("course {course} has other entries; void them before voiding its start")]
    CourseNotEmpty { course: i64 },
    #[error("no staff id given: use --user ID or set TITRATE_USER")]
    NoUser,
    #[error("no PIN given: set TITRATE_PIN or type it at the prompt")]
    NoPin,
    #[error("no PIN given for the new PIN: set TITRATE_NEW_PIN or type it at the prompt")]
    NoNewPin,
    #[error("PIN hashing failed: {0}")]
    Hash(String),
    #[error(
        "protocol \"{name}\" in {file} (digest {digest}…) {standing}; new courses cannot start until an admin runs `titrate protocol approve`"
    )]
    ProtocolNotApproved {
        name: String,
        file: String,
        digest: String,
        /// "differs from the approved version 3: maximum 14 mg/h -> 20 mg/h", or why there
        /// is nothing to compare with.
        standing: String,
    },
    #[error(transparent)]
    NotAProtocol(#[from] crate::domain::protocol::NotAProtocol),
    #[error("protocol \"{name}\" in {file} is approved already, as version {id}")]
    ProtocolApprovedAlready { name: String, file: String, id: i64 },
    #[error(
        "--digest {given} is not the protocol in {file} now (digest {actual}…): it is not the version shown, or the file changed since; nothing was approved, look at it again"
    )]
    DigestMismatch {
        given: String,
        file: String,
        actual: String,
    },
    #[error(
        "nothing was approved: to approve exactly the version shown, run `titrate protocol approve --digest {digest}`"
    )]
    ApprovalNotConfirmed { digest: String },
    #[error(
        "another admin approved version {id} while this one was shown; nothing was approved, look at it again"
    )]
    ApprovedMeanwhile { id: i64 },
    #[error("no protocol version {0}; `titrate protocol list` shows them")]
    UnknownProtocol(String),
}

impl From<crate::domain::patient::PatientError> for WardError {
    fn from(e: crate::domain::patient::PatientError) -> WardError {
        use crate::domain::patient::PatientError;
        match e {
            PatientError::Value(e) => WardError::Value(e),
            PatientError::Time(e) => WardError::Time(e),
            PatientError::Rule(e) => WardError::Rule(e),
        }
    }
}

impl WardError {
    /// The database was busy: nothing was stored, and trying again may succeed.
    pub fn is_busy(&self) -> bool {
        matches!(self, WardError::Store(e) if e.is_busy())
    }
}
