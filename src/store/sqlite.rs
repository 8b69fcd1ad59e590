//! The SQLite store: one file, WAL, synchronous=FULL, one transaction per entry.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::audit::{GENESIS, row_hash};
use super::rows::{self, PATIENT_COLUMNS, PATIENT_VERSION_COLUMNS, STAFF_COLUMNS};
use super::schema;
use super::{
    AuditRow, Audited, Column, Compared, Course, LetterAdvice, NewEntry, NewLetterAdvice,
    NewPatient, NewPatientVersion, Patient, PatientVersion, Reader, SchemaProblem, ScoreWindow,
    Staff, Store, StoreError, Writer, audited_table,
};
use crate::domain::dose::RatePoint;
use crate::domain::entry::{CourseId, Entry, EntryId, PatientId, Version};
use crate::domain::marks::Mark;
use crate::domain::outcome::Score;
use crate::domain::protocol::{Approval, Protocol, ProtocolVersion};
use crate::domain::time::{Instant, to_db, whole_seconds};
use crate::store::Location;

/// The schema, split into migrations at its "-- migration N" lines.
pub const SCHEMA: &str = include_str!("../../schema.sql");

/// Room for every statement the store prepares (about 30); rusqlite keeps 16 by default.
const STATEMENT_CACHE: usize = 64;

/// Keeps prepared statements prepared. Without the query planner stability guarantee, this
/// SQLite re-plans a statement with a join (entry LEFT JOIN void, course JOIN protocol)
/// each time a parameter is bound to a new value: every read of an entry, a rate's check
/// included, was parsed and planned anew (`sqlite3Reprepare` under `sqlite3_step` in a
/// profile of the entry benchmark; the statement's reprepare counter equalled its run
/// counter). With it, a plan depends on the SQL alone, which is also what a clinical
/// system wants of its query plans.
fn stable_plans(conn: &Connection) -> Result<(), StoreError> {
    // rarray(): a read can take a list from Rust as a table (the cohort's score windows).
    rusqlite::vtab::array::load_module(conn)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// Long enough for a queue of terminals each holding the write lock for a few milliseconds.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct SqliteDb {
    conn: Connection,
    path: Option<PathBuf>,
    /// SQLite's schema cookie when this connection last found the schema to be titrate's:
    /// a write compares the schema again only when the cookie moved.
    schema_seen: Option<i64>,
}

/// The numbered migrations in schema.sql, in order.
pub fn migrations() -> Vec<(i64, String)> {
    let mut out: Vec<(i64, String)> = Vec::new();
    for line in SCHEMA.lines() {
        if let Some(n) = line
            .strip_prefix("-- migration ")
            .and_then(|n| n.trim().parse().ok())
        {
            out.push((n, String::new()));
        } else if let Some((_, sql)) = out.last_mut() {
            sql.push_str(line);
            sql.push('\n');
        }
    }
    #[cfg(test)]
    if let Some(m) = super::test_hook::MIGRATION.with(|m| m.borrow().clone()) {
        out.push(m);
    }
    out
}

pub fn schema_version() -> i64 {
    migrations().last().map_or(0, |(n, _)| *n)
}

impl SqliteDb {
    /// Opens an existing database, migrating an older one. A missing file is an error: only
    /// `create` makes a new one, so a mistyped path never silently starts an empty record.
    pub fn open_file(path: &Path) -> Result<SqliteDb, StoreError> {
        let refuse = |why: &str| StoreError::Open {
            path: path.display().to_string(),
            why: why.to_string(),
        };
        match std::fs::metadata(path) {
            Err(_) => {
                return Err(refuse(
                    "no such file; `titrate init` creates a new database",
                ));
            }
            Ok(m) if m.is_dir() => return Err(refuse("it is a folder, not a database file")),
            // An empty file would silently become a new database: only `init` makes one.
            Ok(m) if m.len() == 0 => {
                return Err(refuse("the file is empty, not a titrate database"));
            }
            Ok(_) => {}
        }
        let conn = Connection::open(path).map_err(|e| refuse(&error_words(&e)))?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| refuse(&error_words(&e)))?;
        if version == 0 {
            return Err(refuse("it is an SQLite file without the titrate schema"));
        }
        SqliteDb::configure(conn, Some(path.to_path_buf()))
    }

    /// Creates a new database file readable and writable by its owner only.
    pub fn create_file(path: &Path) -> Result<SqliteDb, StoreError> {
        let open_err = |why: String| StoreError::Open {
            path: path.display().to_string(),
            why,
        };
        // A -wal or -journal left beside the new file would be read into it.
        crate::fsout::refuse_leftover_beside(path)?;
        create_private_file(path).map_err(|e| open_err(e.to_string()))?;
        // The file just made exclusively, never a link put in its place since.
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                | rusqlite::OpenFlags::SQLITE_OPEN_NOFOLLOW
                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
                | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(|e| open_err(e.to_string()))?;
        SqliteDb::configure(conn, Some(path.to_path_buf()))
    }

    /// Opens any database file only to read it (for `titrate check`): no migration, no
    /// change of journal mode, nothing written.
    pub fn open_read_only(path: &Path) -> Result<SqliteDb, StoreError> {
        let refuse = |why: String| StoreError::Open {
            path: path.display().to_string(),
            why,
        };
        if !path.is_file() {
            return Err(refuse("no such file".into()));
        }
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn =
            Connection::open_with_flags(path, flags).map_err(|e| refuse(error_words(&e)))?;
        // A WAL database on read-only media (a backup disk, a read-only mount) cannot be read
        // the ordinary way: SQLite wants to create the -shm file beside it. Nobody can be
        // writing such a file, so it is read as immutable.
        if let Err(rusqlite::Error::SqliteFailure(e, _)) =
            conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            && matches!(
                e.code,
                rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly
            )
            && !hot_journal(path)
        {
            conn = Connection::open_with_flags(
                immutable_uri(path),
                flags | rusqlite::OpenFlags::SQLITE_OPEN_URI,
            )
            .map_err(|e| refuse(error_words(&e)))?;
        }
        conn.busy_timeout(BUSY_TIMEOUT)?;
        stable_plans(&conn)?;
        // Nothing of the file's own making runs while it is checked: a read-only connection
        // fires no trigger, and views may use no function with side effects.
        conn.execute_batch("PRAGMA trusted_schema=OFF")?;
        let version: i64 = match conn.query_row("PRAGMA user_version", [], |r| r.get(0)) {
            Ok(v) => v,
            // A writer killed mid-transaction left a rollback journal that a read-only
            // connection may not roll back.
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ReadOnly && hot_journal(path) =>
            {
                return Err(StoreError::HotJournal(path.display().to_string()));
            }
            Err(e) => return Err(refuse(error_words(&e))),
        };
        if version == 0 {
            return Err(refuse("it is not a titrate database".into()));
        }
        if version > schema_version() {
            return Err(StoreError::TooNew {
                found: version,
                known: schema_version(),
            });
        }
        Ok(SqliteDb {
            conn,
            path: Some(path.to_path_buf()),
            schema_seen: None,
        })
    }

    /// Copies the database to `dest` with SQLite's online backup, in one step so the copy is
    /// one consistent state even while other terminals write. Written through
    /// [`crate::fsout`]: 0600, at a temporary name beside `dest`, moved into place only when
    /// complete; an existing `dest` is refused unless `force`, and never when it is a
    /// database.
    pub fn backup_to(&self, dest: &Path, force: bool) -> Result<(), StoreError> {
        let pending = crate::fsout::prepare(dest, force, &self.protected())?;
        self.copy_into(&pending)?;
        pending.commit()?;
        Ok(())
    }

    /// What a file written beside this database may never replace.
    pub fn protected(&self) -> crate::fsout::Protected {
        match &self.path {
            Some(p) => crate::fsout::Protected::database(p),
            None => crate::fsout::Protected::none(),
        }
    }

    /// The whole database into `pending`'s temporary file, standing alone (no WAL beside it).
    pub fn copy_into(&self, pending: &crate::fsout::Pending) -> Result<(), StoreError> {
        let mine = pending.create_temp()?;
        let tmp = pending.temp_path();
        let copied = (|| -> Result<(), rusqlite::Error> {
            // Opened by name, as SQLite must, but never through a link and never created:
            // it is the empty file made exclusively above.
            let mut target = Connection::open_with_flags(
                &tmp,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                    | rusqlite::OpenFlags::SQLITE_OPEN_NOFOLLOW
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            {
                let backup = rusqlite::backup::Backup::new(&self.conn, &mut target)?;
                // All pages in one step: one read transaction, so one consistent state. A
                // writer's checkpoint can make it busy for a moment; then it tries again.
                let mut tries = 0;
                loop {
                    match backup.step(-1)? {
                        rusqlite::backup::StepResult::Done => break,
                        _ if tries < 600 => {
                            tries += 1;
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        _ => return Err(rusqlite::Error::InvalidQuery),
                    }
                }
            }
            // The copy stands alone: one file, no WAL beside it.
            target.query_row("PRAGMA journal_mode=DELETE", [], |_| Ok(()))?;
            target.close().map_err(|(_, e)| e)
        })();
        copied.map_err(|e| pending.store_error(&StoreError::from(e)))?;
        if !pending.temp_is(&mine) {
            return Err(crate::fsout::FileError::Other {
                path: pending.target().display().to_string(),
                why: "its temporary file was replaced while it was written".into(),
            }
            .into());
        }
        Ok(())
    }

    pub fn open_in_memory() -> Result<SqliteDb, StoreError> {
        SqliteDb::configure(Connection::open_in_memory()?, None)
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn configure(conn: Connection, path: Option<PathBuf>) -> Result<SqliteDb, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        stable_plans(&conn)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > schema_version() {
            return Err(StoreError::TooNew {
                found: version,
                known: schema_version(),
            });
        }
        if path.is_some() {
            let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Corrupt(format!(
                    "the database could not be switched to WAL mode (it is in {mode} mode)"
                )));
            }
        }
        conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;
        let mut db = SqliteDb {
            conn,
            path,
            schema_seen: None,
        };
        db.migrate()?;
        Ok(db)
    }

    /// For the data generator only: a generated file needs no durability, and fsync on
    /// every transaction would make 10,000 courses take many minutes.
    pub fn bulk_load_mode(&self) -> Result<(), StoreError> {
        Ok(self.conn.execute_batch("PRAGMA synchronous=OFF")?)
    }

    /// Back to the record's durability after a bulk load, with the WAL folded in.
    pub fn finish_bulk_load(&self) -> Result<(), StoreError> {
        self.conn.execute_batch("PRAGMA synchronous=FULL")?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    pub fn user_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Applies every migration newer than the file, all in one transaction.
    fn migrate(&mut self) -> Result<(), StoreError> {
        // Most opens find the schema current: check without taking the write lock, so that
        // terminals starting up do not queue behind each other.
        let found = self.user_version()?;
        if found == schema_version() {
            return Ok(());
        }
        if found > 0 {
            // Before the copy is made, so that a refused file gains no copy beside it.
            refuse_changed_schema(&self.conn, found)?;
            self.backup_before_upgrade(found)?;
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > schema_version() {
            return Err(StoreError::TooNew {
                found: version,
                known: schema_version(),
            });
        }
        let pending: Vec<_> = migrations()
            .into_iter()
            .filter(|(n, _)| *n > version)
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        // A trigger planted in an older file would run inside the migration's own writes.
        if version > 0 {
            refuse_changed_schema(&tx, version)?;
        }
        for (n, sql) in pending {
            let had_approvals = table_exists(&tx, "protocol_approval")?;
            tx.execute_batch(&sql)?;
            if !had_approvals && table_exists(&tx, "protocol_approval")? {
                audit_approvals_made_by_upgrade(&tx)?;
            }
            tx.pragma_update(None, "user_version", n)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A copy of an older database beside it, made before it is migrated: if an upgrade
    /// ever goes wrong, the ward still has the record as it was.
    fn backup_before_upgrade(&self, version: i64) -> Result<(), StoreError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let mut name = path.as_os_str().to_owned();
        name.push(format!(
            ".schema-v{version}-{stamp}-{}.bak",
            std::process::id()
        ));
        let backup = PathBuf::from(name);
        let fail = |why: String| StoreError::Open {
            path: path.display().to_string(),
            why: format!(
                "could not write the backup {} before upgrading, so it was not upgraded: {why}",
                backup.display()
            ),
        };
        // Through the one file writer: a temporary name beside it, moved into place when
        // complete, so that a copy cut off by a crash is never named like a real backup.
        let pending = crate::fsout::prepare(&backup, false, &self.protected())
            .map_err(|e| fail(e.to_string()))?;
        self.copy_into(&pending).map_err(|e| fail(e.to_string()))?;
        pending.commit().map_err(|e| fail(e.to_string()))?;
        Ok(())
    }

    pub fn integrity_check(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The connection, for tests that play the part of someone with the sqlite3 shell.
    pub fn raw_connection(&self) -> &Connection {
        &self.conn
    }
}

impl Store for SqliteDb {
    fn open(at: &Location) -> Result<SqliteDb, StoreError> {
        SqliteDb::open_file(file_of(at)?)
    }

    fn create(at: &Location) -> Result<SqliteDb, StoreError> {
        SqliteDb::create_file(file_of(at)?)
    }

    /// A consistent read of the record.
    fn read<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&dyn Reader) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(StoreError::from)?;
        let view = SqlTx {
            tx: &tx,
            actor: String::new(),
            now: chrono::Utc::now(),
        };
        let out = f(&view)?;
        drop(view);
        tx.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    /// One write transaction. It takes the write lock at once (BEGIN IMMEDIATE), so the checks
    /// `f` makes still hold when it commits; on any error nothing of it is stored.
    fn write<T, E: From<StoreError>>(
        &mut self,
        actor: &str,
        now: Instant,
        f: impl FnOnce(&mut dyn Writer) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        // Inside the write lock, so that the schema cannot change between this look and the
        // commit. A trigger added behind titrate's back would run inside this very write.
        let cookie: i64 = tx
            .prepare_cached("PRAGMA schema_version")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(StoreError::from)?;
        if self.schema_seen != Some(cookie) {
            let version: i64 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(StoreError::from)?;
            refuse_changed_schema(&tx, version)?;
            self.schema_seen = Some(cookie);
        }
        let mut w = SqlTx {
            tx: &tx,
            actor: actor.to_string(),
            now: whole_seconds(now),
        };
        let out = f(&mut w)?;
        drop(w);
        tx.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    /// How long a write waits for another terminal's lock before giving up (the terminal
    /// waits briefly and retries on its own tick, so that it never freezes).
    fn set_busy_timeout(&mut self, d: Duration) -> Result<(), StoreError> {
        Ok(self.conn.busy_timeout(d)?)
    }

    /// Changes whenever another connection commits: the cheap "has anything changed?" that
    /// lets a screen refresh without re-reading the record.
    fn data_version(&mut self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }
}

fn file_of(at: &Location) -> Result<&Path, StoreError> {
    at.file().ok_or_else(|| StoreError::Open {
        path: at.shown(),
        why: "the SQLite store opens files, not servers".into(),
    })
}

/// Refuses to write to a file whose schema is not exactly what titrate's migrations up to
/// `version` create, naming what differs.
fn refuse_changed_schema(conn: &Connection, version: i64) -> Result<(), StoreError> {
    let diffs = schema::problems(conn, version)?;
    if diffs.is_empty() {
        return Ok(());
    }
    let mut said: Vec<String> = diffs.iter().take(5).map(ToString::to_string).collect();
    if diffs.len() > 5 {
        said.push(format!("and {} more", diffs.len() - 5));
    }
    Err(StoreError::SchemaChanged(said.join("; ")))
}

fn table_exists(tx: &Transaction, name: &str) -> Result<bool, StoreError> {
    let n: i64 = tx.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// The migration that creates protocol_approval writes a row for each version courses
/// already ran under; each gets its audit row here, in the migration's transaction, so that
/// `audit verify` holds after the upgrade. The table is new, so these are all its rows.
fn audit_approvals_made_by_upgrade(tx: &Transaction) -> Result<(), StoreError> {
    let ids: Vec<i64> = {
        let mut stmt = tx.prepare("SELECT id FROM protocol_approval ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut w = SqlTx {
        tx,
        actor: "upgrade".to_string(),
        now: whole_seconds(chrono::Utc::now()),
    };
    for id in ids {
        w.audit_row_write(
            "protocol-approve-upgrade",
            "protocol_approval",
            &id.to_string(),
        )?;
    }
    Ok(())
}

/// What an SQLite error on opening a file means, in words: only a file that is not a
/// database is called one.
/// SQLite's failures as the store's own kinds: busy, full, read-only and damaged are told
/// apart, everything else is said in SQLite's words.
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        use rusqlite::ErrorCode as C;
        let code = match &e {
            rusqlite::Error::SqliteFailure(f, _) => f.code,
            _ => return StoreError::Database(e.to_string()),
        };
        match code {
            C::DatabaseBusy | C::DatabaseLocked => StoreError::Busy(e.to_string()),
            C::DiskFull => StoreError::DiskFull,
            C::ReadOnly | C::CannotOpen | C::PermissionDenied => {
                StoreError::ReadOnly(error_words(&e))
            }
            C::DatabaseCorrupt | C::NotADatabase => StoreError::Corrupt(error_words(&e)),
            _ => StoreError::Database(error_words(&e)),
        }
    }
}

pub(crate) fn error_words(e: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode as C;
    let code = match e {
        rusqlite::Error::SqliteFailure(f, _) => f.code,
        other => return other.to_string(),
    };
    match code {
        C::NotADatabase => "the file is not a database (not an SQLite file, so not a titrate database)".into(),
        C::ReadOnly | C::CannotOpen | C::PermissionDenied => "the file or its folder is read-only or not accessible for this user (SQLite must also write the -wal and -shm files beside it)".into(),
        C::DiskFull => "the disk is full".into(),
        C::SystemIoFailure => "the disk reported an input/output error: it may be full or failing".into(),
        C::DatabaseCorrupt => "the file is damaged: run `titrate check` on it".into(),
        _ => e.to_string(),
    }
}

/// `file:` URI of `path` opened as immutable (nothing writes it, nothing is created beside).
fn immutable_uri(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = String::from("file:");
    for b in abs.to_string_lossy().bytes() {
        match b {
            b'%' | b'?' | b'#' | 0x80..=0xFF => out.push_str(&format!("%{b:02X}")),
            _ => out.push(b as char),
        }
    }
    out.push_str("?immutable=1");
    out
}

fn hot_journal(path: &Path) -> bool {
    let mut j = path.as_os_str().to_owned();
    j.push("-journal");
    std::fs::metadata(PathBuf::from(j)).is_ok_and(|m| m.len() > 0)
}

/// A private copy of a database and its rollback journal in `dir`, opened so that SQLite
/// rolls the unfinished transaction back there: the file itself stays as it is.
pub fn rolled_back_copy(path: &Path, dir: &Path) -> Result<SqliteDb, StoreError> {
    let fail = |why: String| StoreError::Open {
        path: path.display().to_string(),
        why,
    };
    let copy = dir.join("check-copy.db");
    let mut journal = path.as_os_str().to_owned();
    journal.push("-journal");
    std::fs::copy(path, &copy).map_err(|e| fail(e.to_string()))?;
    std::fs::copy(PathBuf::from(journal), dir.join("check-copy.db-journal"))
        .map_err(|e| fail(e.to_string()))?;
    let conn = Connection::open(&copy).map_err(|e| fail(e.to_string()))?;
    conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map_err(|e| fail(e.to_string()))?;
    Ok(SqliteDb {
        conn,
        path: Some(copy),
        schema_seen: None,
    })
}

#[cfg(unix)]
fn create_private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(|_| ())
}

#[cfg(not(unix))]
fn create_private_file(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map(|_| ())
}

struct SqlTx<'a> {
    tx: &'a Transaction<'a>,
    actor: String,
    now: Instant,
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

impl SqlTx<'_> {
    fn canonical_row(&self, spec: &Audited, key: &str) -> Result<String, StoreError> {
        let (table, key_col) = (spec.table, spec.key);
        // Bound with its own type so the primary key index is used (a CAST would scan).
        let sql = format!(
            "SELECT {} FROM {table} WHERE {key_col} = ?1",
            column_list(spec.columns)
        );
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let value = key.parse::<i64>().map_or_else(
            |_| rusqlite::types::Value::Text(key.to_string()),
            rusqlite::types::Value::Integer,
        );
        let mut rows = stmt.query([value])?;
        match rows.next()? {
            Some(row) => rows::canonical(row, spec.columns),
            None => Err(StoreError::Corrupt(format!("{table} row {key} vanished"))),
        }
    }

    fn append_audit(
        &mut self,
        action: &str,
        tbl: Option<&str>,
        row_key: Option<&str>,
        content: String,
    ) -> Result<(), StoreError> {
        let (head_seq, head_hash): (i64, String) = self
            .tx
            .prepare_cached("SELECT seq, hash FROM audit_head WHERE id = 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or((0, GENESIS.to_string()));
        let mut row = AuditRow {
            seq: head_seq + 1,
            at: to_db(self.now),
            actor: self.actor.clone(),
            action: action.to_string(),
            tbl: tbl.map(str::to_string),
            row_key: row_key.map(str::to_string),
            content,
            prev_hash: head_hash,
            hash: String::new(),
        };
        row.hash = row_hash(&row);
        self.tx.prepare_cached("INSERT INTO audit (seq, at, actor, action, tbl, row_key, content, prev_hash, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")?.execute(params![
                row.seq,
                row.at,
                row.actor,
                row.action,
                row.tbl,
                row.row_key,
                row.content,
                row.prev_hash,
                row.hash
            ])?;
        let changed = self
            .tx
            .prepare_cached("UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1")?
            .execute(params![row.seq, row.hash])?;
        if changed != 1 {
            return Err(StoreError::Corrupt("the audit head is missing".into()));
        }
        Ok(())
    }

    fn audit_row_write(&mut self, action: &str, table: &str, key: &str) -> Result<(), StoreError> {
        let spec = audited_table(table)
            .ok_or_else(|| StoreError::Corrupt(format!("{table} is not an audited table")))?;
        let content = self.canonical_row(spec, key)?;
        self.append_audit(action, Some(table), Some(key), content)
    }

    fn query_entries(
        &self,
        where_sql: &str,
        p: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Entry>, StoreError> {
        let select = rows::entry_select();
        self.collect_entries(&format!("{select} {where_sql} ORDER BY e.id"), p)
    }

    fn collect_entries(
        &self,
        sql: &str,
        p: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Entry>, StoreError> {
        let mut stmt = self.tx.prepare_cached(sql)?;
        let mut rows = stmt.query(p)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(rows::entry(row)?);
        }
        Ok(out)
    }

    fn query_courses(
        &self,
        where_sql: &str,
        p: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Course>, StoreError> {
        let sql = format!(
            "SELECT c.id, c.patient_id, c.protocol_id, p.snapshot, c.created_at \
             FROM course c JOIN protocol p ON p.id = c.protocol_id {where_sql} ORDER BY c.id"
        );
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let mut rows = stmt.query(p)?;
        let mut out = Vec::new();
        // A handful of protocols serve thousands of courses: each snapshot is parsed once.
        let mut parsed: HashMap<i64, Arc<Protocol>> = HashMap::new();
        while let Some(row) = rows.next()? {
            let protocol_id: i64 = row.get(2)?;
            let protocol = match parsed.get(&protocol_id) {
                Some(p) => Arc::clone(p),
                None => {
                    let snapshot: String = row.get(3)?;
                    let p = Arc::new(
                        Protocol::from_snapshot(&snapshot)
                            .map_err(|e| StoreError::Corrupt(format!("protocol snapshot: {e}")))?,
                    );
                    parsed.insert(protocol_id, Arc::clone(&p));
                    p
                }
            };
            out.push(Course {
                id: row.get(0)?,
                patient_id: row.get(1)?,
                protocol_id,
                protocol,
                created_at: rows::instant_at(row, 4)?,
            });
        }
        Ok(out)
    }
}

impl Reader for SqlTx<'_> {
    fn staff(&self, id: &str) -> Result<Option<Staff>, StoreError> {
        let sql = format!("SELECT {STAFF_COLUMNS} FROM staff WHERE id = ?1");
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let mut rows = stmt.query([id])?;
        rows.next()?.map(rows::staff).transpose()
    }

    fn staff_list(&self) -> Result<Vec<Staff>, StoreError> {
        let sql = format!("SELECT {STAFF_COLUMNS} FROM staff ORDER BY id");
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(rows::staff(row)?);
        }
        Ok(out)
    }

    fn patient_by_mrn(&self, mrn: &str) -> Result<Option<Patient>, StoreError> {
        // The candidates from the two MRN indexes, then their current details.
        let sql = format!(
            "SELECT {PATIENT_COLUMNS} FROM patient_current WHERE id IN ( \
               SELECT id FROM patient WHERE mrn = ?1 \
               UNION SELECT patient_id FROM patient_version WHERE mrn = ?1) \
             AND mrn = ?1"
        );
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let mut rows = stmt.query([mrn])?;
        rows.next()?.map(rows::patient).transpose()
    }

    fn patient(&self, id: PatientId) -> Result<Option<Patient>, StoreError> {
        let sql = format!("SELECT {PATIENT_COLUMNS} FROM patient_current WHERE id = ?1");
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let mut rows = stmt.query([id])?;
        rows.next()?.map(rows::patient).transpose()
    }

    fn patients(&self) -> Result<Vec<Patient>, StoreError> {
        let sql = format!("SELECT {PATIENT_COLUMNS} FROM patient_current ORDER BY id");
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(rows::patient(row)?);
        }
        Ok(out)
    }

    fn ward_patients(&self, ended_since: Instant) -> Result<Vec<Patient>, StoreError> {
        let cols = PATIENT_COLUMNS
            .split(", ")
            .map(|c| format!("p.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        // One pass over the small entry_mark index (a few rows per course), rather than two
        // lookups per course in the table. Only ends are looked up among the voids (CASE
        // tests its condition lazily).
        const VOIDED: &str = "(SELECT entry_id FROM void)";
        let sql = format!(
            "SELECT {cols} FROM patient_current p WHERE p.id IN ( \
               SELECT c.patient_id FROM course c WHERE c.id IN ( \
                 SELECT course_id FROM entry \
                 WHERE kind IN ('course-start', 'course-end', 'success') \
                 GROUP BY course_id \
                 HAVING max(CASE WHEN kind = 'course-end' AND id NOT IN {VOIDED} THEN 1 ELSE 0 END) = 0 \
                     OR max(CASE WHEN kind = 'course-end' AND id NOT IN {VOIDED} THEN happened_at END) >= ?1)) \
             ORDER BY p.id"
        );
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let mut rows = stmt.query([to_db(ended_since)])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(rows::patient(row)?);
        }
        Ok(out)
    }

    fn patient_versions(&self, patient: PatientId) -> Result<Vec<PatientVersion>, StoreError> {
        let sql = format!(
            "SELECT 0, mrn, name, birth_date, sex, weight_kg, crps_type, crps_onset, limb, \
                    NULL, created_at, created_by FROM patient WHERE id = ?1 \
             UNION ALL SELECT {PATIENT_VERSION_COLUMNS} FROM patient_version WHERE patient_id = ?1 \
             ORDER BY 1"
        );
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let mut rows = stmt.query([patient])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(rows::patient_version(row)?);
        }
        Ok(out)
    }

    fn mrn_owner(&self, mrn: &str) -> Result<Option<PatientId>, StoreError> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT id FROM patient WHERE mrn = ?1 \
                 UNION SELECT patient_id FROM patient_version WHERE mrn = ?1 LIMIT 1",
            )?
            .query_row([mrn], |r| r.get(0))
            .optional()?)
    }

    fn marks(&self) -> Result<super::Marks, StoreError> {
        // Plain "SELECT max(id)" each: SQLite answers that from the end of the primary key,
        // while max() wrapped in another expression scans the whole table.
        let max = |table: &str| -> Result<i64, StoreError> {
            let sql = format!("SELECT max(id) FROM {table}");
            let v: Option<i64> = self.tx.prepare_cached(&sql)?.query_row([], |r| r.get(0))?;
            Ok(v.unwrap_or(0))
        };
        let audit: Option<i64> = self
            .tx
            .prepare_cached("SELECT seq FROM audit_head WHERE id = 1")?
            .query_row([], |r| r.get(0))
            .optional()?;
        Ok(super::Marks {
            audit: audit.unwrap_or(0),
            entry: max("entry")?,
            void: max("void")?,
            patient: max("patient")?,
            patient_version: max("patient_version")?,
        })
    }

    fn changed_patients(&self, seen: &super::Marks) -> Result<Vec<PatientId>, StoreError> {
        // Three primary-key range reads; joined with UNION in one statement the same reads
        // took milliseconds per thousand courses.
        let mut out = Vec::new();
        for (sql, mark) in [
            ("SELECT patient_id FROM entry WHERE id > ?1", seen.entry),
            (
                "SELECT e.patient_id FROM void v JOIN entry e ON e.id = v.entry_id WHERE v.id > ?1",
                seen.void,
            ),
            ("SELECT id FROM patient WHERE id > ?1", seen.patient),
            (
                "SELECT patient_id FROM patient_version WHERE id > ?1",
                seen.patient_version,
            ),
        ] {
            let mut stmt = self.tx.prepare_cached(sql)?;
            let rows = stmt.query_map([mark], |r| r.get::<_, PatientId>(0))?;
            for id in rows {
                out.push(id?);
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    fn courses_of(&self, patient: PatientId) -> Result<Vec<Course>, StoreError> {
        self.query_courses("WHERE c.patient_id = ?1", &[&patient])
    }

    fn protocol_versions(&self) -> Result<Vec<ProtocolVersion>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT p.id, p.digest, p.snapshot, p.created_at, p.created_by, \
                    a.id, a.approved_at, a.approved_by \
             FROM protocol p LEFT JOIN protocol_approval a ON a.protocol_id = p.id ORDER BY p.id",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let snapshot: String = row.get(2)?;
            let approval = match row.get::<_, Option<i64>>(5)? {
                Some(seq) => Some(Approval {
                    seq,
                    at: rows::instant_at(row, 6)?,
                    by: row.get(7)?,
                }),
                None => None,
            };
            out.push(ProtocolVersion {
                id: row.get(0)?,
                digest: row.get(1)?,
                protocol: Protocol::from_snapshot(&snapshot)
                    .map_err(|e| StoreError::Corrupt(format!("protocol snapshot: {e}")))?,
                created_at: rows::instant_at(row, 3)?,
                created_by: row.get(4)?,
                approval,
            });
        }
        Ok(out)
    }

    fn protocols(&self) -> Result<Vec<Protocol>, StoreError> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT snapshot FROM protocol ORDER BY id")?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let text: String = row.get(0)?;
            out.push(
                Protocol::from_snapshot(&text)
                    .map_err(|e| StoreError::Corrupt(format!("protocol snapshot: {e}")))?,
            );
        }
        Ok(out)
    }

    fn all_courses(&self) -> Result<Vec<Course>, StoreError> {
        self.query_courses("", &[])
    }

    fn entries_of(&self, patient: PatientId) -> Result<Vec<Entry>, StoreError> {
        self.query_entries("WHERE e.patient_id = ?1", &[&patient])
    }

    fn entries_of_course(&self, course: CourseId) -> Result<Vec<Entry>, StoreError> {
        self.query_entries("WHERE e.course_id = ?1", &[&course])
    }

    fn rate_versions_of(&self, course: CourseId) -> Result<Vec<Version<RatePoint>>, StoreError> {
        // A correction keeps its entry's course and kind, so every version of each rate
        // chain is among these rows.
        let mut stmt = self.tx.prepare_cached(
            "SELECT e.id, e.supersedes, e.happened_at, e.rate_centi, v.id IS NOT NULL \
             FROM entry e LEFT JOIN void v ON v.entry_id = e.id \
             WHERE e.course_id = ?1 AND e.kind = 'rate'",
        )?;
        let mut rows = stmt.query([course])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let at = rows::instant_at(row, 2)?;
            out.push(Version {
                id: row.get(0)?,
                supersedes: row.get(1)?,
                voided: row.get(4)?,
                at,
                item: RatePoint {
                    at,
                    rate: rows::rate(row.get(3)?)?,
                },
            });
        }
        Ok(out)
    }

    fn course_bounds_of(&self, patient: PatientId) -> Result<Vec<Entry>, StoreError> {
        // Through the patient's courses: a lookup on entry_course each, rather than a walk
        // through all of the patient's entries on entry_patient.
        let sql = format!(
            "SELECT {} FROM course c \
             CROSS JOIN entry e ON e.course_id = c.id AND e.kind IN ('course-start', 'course-end') \
             LEFT JOIN void v ON v.entry_id = e.id WHERE c.patient_id = ?1 ORDER BY e.id",
            rows::ENTRY_COLUMNS
        );
        self.collect_entries(&sql, &[&patient])
    }

    fn all_course_bounds(&self) -> Result<Vec<Entry>, StoreError> {
        // Course by course, a lookup on entry_course each: bounded by the number of courses,
        // not by the (much larger) number of rate entries.
        let sql = format!(
            "SELECT {} FROM course c \
             CROSS JOIN entry e ON e.course_id = c.id AND e.kind IN ('course-start', 'course-end') \
             LEFT JOIN void v ON v.entry_id = e.id ORDER BY e.id",
            rows::ENTRY_COLUMNS
        );
        self.collect_entries(&sql, &[])
    }

    fn outcome_marks(&self) -> Result<Vec<Mark>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT id, course_id, kind, happened_at, timepoint, successful FROM entry \
             WHERE kind IN ('course-start', 'course-end', 'success')",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(rows::mark(row)?);
        }
        Ok(out)
    }

    fn scores_in(&self, windows: &[ScoreWindow]) -> Result<Vec<(PatientId, Score)>, StoreError> {
        // The windows travel as one list (rarray), so the whole read is one statement: for
        // each window a range on the entry_score index. Each window is one text value, its
        // two bounds in the stored form (20 characters each) and then the patient id:
        // substr() takes it apart without parsing, where JSON cost more than the index
        // ranges themselves. CROSS JOIN keeps the windows as the outer loop.
        let list: Vec<rusqlite::types::Value> = windows
            .iter()
            .map(|w| {
                rusqlite::types::Value::Text(format!(
                    "{}{}{}",
                    rows::window_bound(w.from),
                    rows::window_bound(w.to),
                    w.patient
                ))
            })
            .collect();
        let mut stmt = self.tx.prepare_cached(
            "WITH w (pid, lo, hi) AS ( \
               SELECT CAST(substr(value, 41) AS INTEGER), substr(value, 1, 20), \
                      substr(value, 21, 20) FROM rarray(?1)) \
             SELECT e.patient_id, e.id, e.happened_at, e.score, e.timepoint FROM w \
             CROSS JOIN entry e ON e.patient_id = w.pid AND e.kind = 'nrs' \
                 AND e.happened_at BETWEEN w.lo AND w.hi",
        )?;
        let mut rows = stmt.query([std::rc::Rc::new(list)])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push((row.get(0)?, rows::score(row, 1)?));
        }
        Ok(out)
    }

    fn retired_entries(&self) -> Result<HashSet<EntryId>, StoreError> {
        let mut out = HashSet::new();
        for sql in [
            "SELECT supersedes FROM entry WHERE supersedes IS NOT NULL",
            "SELECT entry_id FROM void",
        ] {
            let mut stmt = self.tx.prepare_cached(sql)?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                out.insert(row.get(0)?);
            }
        }
        Ok(out)
    }

    fn entry(&self, id: EntryId) -> Result<Option<Entry>, StoreError> {
        Ok(self.query_entries("WHERE e.id = ?1", &[&id])?.pop())
    }

    fn entry_superseded_by(&self, id: EntryId) -> Result<Option<EntryId>, StoreError> {
        Ok(self
            .tx
            .query_row("SELECT id FROM entry WHERE supersedes = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?)
    }

    fn letter_advice(&self, course: CourseId) -> Result<Vec<LetterAdvice>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT id, patient_id, course_id, supersedes, responsible_staff_id, advice, \
             recorded_at, recorded_by FROM letter_advice WHERE course_id = ?1 ORDER BY id",
        )?;
        let mut found = stmt.query([course])?;
        let mut out = Vec::new();
        while let Some(r) = found.next()? {
            out.push(LetterAdvice {
                id: r.get(0)?,
                patient_id: r.get(1)?,
                course_id: r.get(2)?,
                supersedes: r.get(3)?,
                responsible: r.get(4)?,
                advice: r.get(5)?,
                recorded_at: rows::instant_at(r, 6)?,
                recorded_by: r.get(7)?,
            });
        }
        Ok(out)
    }

    fn each_audit_row(
        &self,
        f: &mut dyn FnMut(AuditRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare(
            "SELECT seq, at, actor, action, tbl, row_key, content, prev_hash, hash \
             FROM audit ORDER BY seq",
        )?;
        // Text that is not UTF-8 is read as it decodes: the row's hash then no longer
        // matches, and `invalid_text` names the column.
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            f(AuditRow {
                seq: r.get(0)?,
                at: lossy(r, 1)?.unwrap_or_default(),
                actor: lossy(r, 2)?.unwrap_or_default(),
                action: lossy(r, 3)?.unwrap_or_default(),
                tbl: lossy(r, 4)?,
                row_key: lossy(r, 5)?,
                content: lossy(r, 6)?.unwrap_or_default(),
                prev_hash: lossy(r, 7)?.unwrap_or_default(),
                hash: lossy(r, 8)?.unwrap_or_default(),
            })?;
        }
        Ok(())
    }

    fn audit_head(&self) -> Result<Option<(i64, String)>, StoreError> {
        Ok(self
            .tx
            .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?)
    }

    fn pseudonyms(&self) -> Result<Vec<(PatientId, String, i64)>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT patient_id, study_id, day_offset FROM pseudonym ORDER BY patient_id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn pseudonym_times(&self) -> Result<Vec<(PatientId, i64)>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT patient_id, second_offset FROM pseudonym_time ORDER BY patient_id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn table_rows(&self, table: &str) -> Result<Vec<(String, String)>, StoreError> {
        let spec = audited_table(table)
            .ok_or_else(|| StoreError::Corrupt(format!("{table} is not an audited table")))?;
        let version: i64 = self.tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if !schema::own_tables(self.tx, version)?
            .iter()
            .any(|t| t == table)
        {
            // A database from before this table was added (checked, not yet migrated), or
            // one where something else took the table's place: nothing of it is run.
            return Ok(vec![]);
        }
        // The columns this file has: a file from before a column was added lacks it, which
        // reads as NULL; a column titrate created and someone dropped is missing from the
        // content, which then differs from its audit rows.
        let present = schema::column_names(self.tx, table);
        let columns: Vec<Column> = spec
            .columns
            .iter()
            .filter(|c| present.iter().any(|p| p == c.name))
            .copied()
            .collect();
        let sql = format!(
            "SELECT {}, {key} FROM {table} ORDER BY {key}",
            column_list(&columns),
            key = spec.key
        );
        let mut stmt = self.tx.prepare(&sql)?;
        let key_index = columns.len();
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push((
                key_text(row.get_ref(key_index)?),
                rows::canonical(row, &columns)?,
            ));
        }
        Ok(out)
    }

    fn compare_table(
        &self,
        table: &str,
        f: &mut dyn FnMut(Compared) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let spec = audited_table(table)
            .ok_or_else(|| StoreError::Corrupt(format!("{table} is not an audited table")))?;
        let version: i64 = self.tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let here = schema::own_tables(self.tx, version)?
            .iter()
            .any(|t| t == table);
        let key = spec.key;
        // A row's key as `table_rows` gives it (an integer in decimal, text as it is) matches
        // an audit row_key of the same text; a key of any other kind, which only a changed
        // file holds, matches none. Both reads go by index, one row at a time: the table in
        // key order, each row's latest audit row found through audit_row (tbl, row_key,
        // seq); then the table's keys in the log, through the same index, each looked up in
        // the table. Nothing is sorted or gathered, so nothing grows with the record.
        let matches = |k: &str, row_key: &str| {
            format!("CAST({k} AS TEXT) = {row_key} AND typeof({k}) IN ('integer', 'text')")
        };
        if here {
            // As in `table_rows`: the columns this file has.
            let present = schema::column_names(self.tx, table);
            let columns: Vec<Column> = spec
                .columns
                .iter()
                .filter(|c| present.iter().any(|p| p == c.name))
                .copied()
                .collect();
            let qualified: Vec<String> = columns.iter().map(|c| format!("t.{}", c.name)).collect();
            let sql = format!(
                "SELECT {}, t.{key}, a.seq, a.content FROM {table} t \
                 LEFT JOIN audit a ON a.seq = (SELECT b.seq FROM audit b \
                   WHERE b.tbl = ?1 AND b.row_key = CAST(t.{key} AS TEXT) \
                     AND typeof(t.{key}) IN ('integer', 'text') \
                   ORDER BY b.seq DESC LIMIT 1) \
                 ORDER BY t.{key}",
                qualified.join(", "),
            );
            let mut stmt = self.tx.prepare(&sql)?;
            let key_index = columns.len();
            let mut rows = stmt.query([table])?;
            while let Some(row) = rows.next()? {
                let seq: Option<i64> = row.get(key_index + 1)?;
                let logged = match seq {
                    Some(seq) => Some((seq, lossy(row, key_index + 2)?.unwrap_or_default())),
                    None => None,
                };
                f(Compared::Row {
                    key: key_text(row.get_ref(key_index)?),
                    content: rows::canonical(row, &columns)?,
                    logged,
                })?;
            }
        }
        let absent = if here {
            format!(
                "HAVING NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{key} = a.row_key AND {})",
                matches(&format!("t.{key}"), "a.row_key")
            )
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT a.row_key, max(a.seq) FROM audit a \
             WHERE a.tbl = ?1 AND a.row_key IS NOT NULL GROUP BY a.row_key {absent}"
        );
        let mut stmt = self.tx.prepare(&sql)?;
        let mut rows = stmt.query([table])?;
        while let Some(row) = rows.next()? {
            f(Compared::Missing {
                key: lossy(row, 0)?.unwrap_or_default(),
                seq: row.get(1)?,
            })?;
        }
        Ok(())
    }

    fn schema_differences(&self) -> Result<Vec<SchemaProblem>, StoreError> {
        let version: i64 = self.tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        schema::problems(self.tx, version)
    }

    fn invalid_text(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let version: i64 = self.tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let mut out = Vec::new();
        for table in schema::own_tables(self.tx, version)? {
            let key = audited_table(&table).map_or("rowid", |a| a.key);
            let columns = schema::column_names(self.tx, &table);
            if columns.is_empty() {
                continue;
            }
            let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
            let sql = format!(
                "SELECT {key}, {} FROM \"{table}\" ORDER BY {key}",
                quoted.join(", ")
            );
            let mut stmt = self.tx.prepare(&sql)?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                for (i, column) in columns.iter().enumerate() {
                    if let rusqlite::types::ValueRef::Text(t) = row.get_ref(i + 1)?
                        && std::str::from_utf8(t).is_err()
                    {
                        out.push((table.clone(), key_text(row.get_ref(0)?), column.clone()));
                    }
                }
            }
        }
        Ok(out)
    }

    fn raw_rows(
        &self,
        table: &Audited,
        f: &mut dyn FnMut(&[rows::Value]) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        if !super::copy::is_copied(table) {
            return Err(StoreError::Corrupt(format!(
                "{} is not a copied table",
                table.table
            )));
        }
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {}",
            column_list(table.columns),
            table.table,
            table.key
        );
        let mut stmt = self.tx.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            let values: Vec<rows::Value> = (0..table.columns.len())
                .map(|i| row.get_ref(i).map(rows::Value::from))
                .collect::<Result<_, _>>()?;
            f(&values)?;
            n += 1;
        }
        Ok(n)
    }
}

fn column_list(columns: &[Column]) -> String {
    let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
    names.join(", ")
}

/// Text as it decodes (a value that is not UTF-8 included), a value of another kind as it
/// prints: how the audit log and its comparison read what could have been changed.
fn lossy(r: &rusqlite::Row, i: usize) -> rusqlite::Result<Option<String>> {
    Ok(match r.get_ref(i)? {
        rusqlite::types::ValueRef::Null => None,
        rusqlite::types::ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into()),
        _ => Some(
            r.get::<_, rusqlite::types::Value>(i)
                .map(|v| format!("{v:?}"))?,
        ),
    })
}

fn key_text(v: rusqlite::types::ValueRef) -> String {
    match v {
        rusqlite::types::ValueRef::Integer(i) => i.to_string(),
        rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        other => format!("{other:?}"),
    }
}

impl Writer for SqlTx<'_> {
    fn actor(&self) -> &str {
        &self.actor
    }

    fn now(&self) -> Instant {
        self.now
    }

    fn set_clock(&mut self, actor: &str, now: Instant) {
        self.actor = actor.to_string();
        self.now = whole_seconds(now);
    }

    fn insert_staff(&mut self, s: &Staff, action: &str) -> Result<(), StoreError> {
        let res = self.tx.prepare_cached("INSERT INTO staff (id, name, role, pin_hash, active, failed_pins, locked, created_at, created_by) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")?.execute(params![
                s.id,
                s.name,
                s.role.as_str(),
                s.pin_hash,
                i64::from(s.active),
                s.failed_pins,
                i64::from(s.locked),
                to_db(self.now),
                self.actor
            ]);
        match res {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::DuplicateStaff(s.id.clone()));
            }
            other => other?,
        };
        self.audit_row_write(action, "staff", &s.id)
    }

    fn update_staff(&mut self, s: &Staff, action: &str) -> Result<(), StoreError> {
        self.tx.prepare_cached("UPDATE staff SET name = ?2, role = ?3, pin_hash = ?4, active = ?5, failed_pins = ?6, locked = ?7 \
             WHERE id = ?1")?.execute(params![
                s.id,
                s.name,
                s.role.as_str(),
                s.pin_hash,
                i64::from(s.active),
                s.failed_pins,
                i64::from(s.locked)
            ])?;
        self.audit_row_write(action, "staff", &s.id)
    }

    fn insert_patient(&mut self, p: &NewPatient) -> Result<PatientId, StoreError> {
        if self.mrn_owner(&p.mrn)?.is_some() {
            return Err(StoreError::DuplicateMrn(p.mrn.clone()));
        }
        let res = self.tx.prepare_cached("INSERT INTO patient (mrn, name, birth_date, sex, weight_kg, crps_type, crps_onset, limb, created_at, created_by) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")?.execute(params![
                p.mrn,
                p.name,
                p.birth_date.format("%Y-%m-%d").to_string(),
                p.sex.as_str(),
                p.weight_kg,
                p.crps_type.map(|t| t.as_str()),
                p.crps_onset.map(|d| d.format("%Y-%m-%d").to_string()),
                p.limb,
                to_db(self.now),
                self.actor
            ]);
        match res {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::DuplicateMrn(p.mrn.clone()));
            }
            other => other?,
        };
        let id = self.tx.last_insert_rowid();
        self.audit_row_write("create", "patient", &id.to_string())?;
        Ok(id)
    }

    fn insert_patient_version(&mut self, v: &NewPatientVersion) -> Result<i64, StoreError> {
        // Checked inside the write transaction, so that two terminals giving one MRN to two
        // patients at the same moment cannot both succeed.
        if self
            .mrn_owner(&v.data.mrn)?
            .is_some_and(|owner| owner != v.patient_id)
        {
            return Err(StoreError::DuplicateMrn(v.data.mrn.clone()));
        }
        let newest: i64 = self
            .tx
            .prepare_cached(
                "SELECT coalesce(max(version), 0) FROM patient_version WHERE patient_id = ?1",
            )?
            .query_row([v.patient_id], |r| r.get(0))?;
        if i64::from(v.version) != newest + 1 {
            // Built on a version that is no longer the newest (or on none that exists).
            return Err(StoreError::PatientConflict {
                patient: v.patient_id,
                version: v.version,
            });
        }
        let p = &v.data;
        let res = self
            .tx
            .prepare_cached(
                "INSERT INTO patient_version (patient_id, version, mrn, name, birth_date, sex, \
                 weight_kg, crps_type, crps_onset, limb, reason, recorded_at, recorded_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?
            .execute(params![
                v.patient_id,
                v.version,
                p.mrn,
                p.name,
                p.birth_date.format("%Y-%m-%d").to_string(),
                p.sex.as_str(),
                p.weight_kg,
                p.crps_type.map(|t| t.as_str()),
                p.crps_onset.map(|d| d.format("%Y-%m-%d").to_string()),
                p.limb,
                v.reason,
                to_db(self.now),
                self.actor
            ]);
        match res {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::PatientConflict {
                    patient: v.patient_id,
                    version: v.version,
                });
            }
            other => other?,
        };
        let id = self.tx.last_insert_rowid();
        self.audit_row_write("amend", "patient_version", &id.to_string())?;
        Ok(id)
    }

    fn protocol_id(&mut self, p: &Protocol) -> Result<i64, StoreError> {
        let snapshot = p.snapshot();
        let digest = p.digest();
        let found: Option<i64> = self
            .tx
            .query_row(
                "SELECT id FROM protocol WHERE digest = ?1",
                [&digest],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = found {
            return Ok(id);
        }
        self.tx.prepare_cached("INSERT INTO protocol (name, digest, snapshot, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(params![p.name, digest, snapshot, to_db(self.now), self.actor])?;
        let id = self.tx.last_insert_rowid();
        self.audit_row_write("protocol", "protocol", &id.to_string())?;
        Ok(id)
    }

    fn insert_protocol_approval(&mut self, protocol_id: i64) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO protocol_approval (protocol_id, approved_at, approved_by) \
                 VALUES (?1, ?2, ?3)",
            )?
            .execute(params![protocol_id, to_db(self.now), self.actor])?;
        let id = self.tx.last_insert_rowid();
        self.audit_row_write("protocol-approve", "protocol_approval", &id.to_string())
    }

    fn insert_course(
        &mut self,
        patient: PatientId,
        protocol_id: i64,
    ) -> Result<CourseId, StoreError> {
        self.tx.prepare_cached("INSERT INTO course (patient_id, protocol_id, created_at, created_by) VALUES (?1, ?2, ?3, ?4)")?.execute(params![patient, protocol_id, to_db(self.now), self.actor])?;
        let id = self.tx.last_insert_rowid();
        self.audit_row_write("create", "course", &id.to_string())?;
        Ok(id)
    }

    fn insert_entry(&mut self, e: &NewEntry) -> Result<EntryId, StoreError> {
        let c = rows::EntryColumns::of(&e.data);
        let res = self.tx.prepare_cached("INSERT INTO entry (patient_id, course_id, kind, supersedes, amend_reason, happened_at, \
             recorded_at, recorded_by, late, rate_centi, confirmed, confirm_reason, score, timepoint, \
             effect, detail, severity, action, successful, end_reason, bed) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)")?.execute(params![
                e.patient_id,
                e.course_id,
                e.data.kind().as_str(),
                e.supersedes,
                e.amend_reason,
                to_db(e.happened_at),
                to_db(self.now),
                self.actor,
                i64::from(e.late),
                c.rate_centi,
                c.confirmed,
                c.confirm_reason,
                c.score,
                c.timepoint,
                c.effect,
                c.detail,
                c.severity,
                c.action,
                c.successful,
                c.end_reason,
                c.bed
            ]);
        match (res, e.supersedes) {
            (Err(err), Some(old)) if is_unique_violation(&err) => {
                return Err(StoreError::Conflict(old));
            }
            (other, _) => other?,
        };
        let id = self.tx.last_insert_rowid();
        let action = if e.supersedes.is_some() {
            "amend"
        } else {
            "create"
        };
        self.audit_row_write(action, "entry", &id.to_string())?;
        Ok(id)
    }

    fn insert_void(&mut self, entry: EntryId, reason: &str) -> Result<(), StoreError> {
        let res = self
            .tx
            .prepare_cached(
                "INSERT INTO void (entry_id, reason, voided_at, voided_by) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![entry, reason, to_db(self.now), self.actor]);
        match res {
            Err(e) if is_unique_violation(&e) => return Err(StoreError::Conflict(entry)),
            other => other?,
        };
        let id = self.tx.last_insert_rowid();
        self.audit_row_write("void", "void", &id.to_string())
    }

    fn insert_letter_advice(&mut self, a: &NewLetterAdvice) -> Result<i64, StoreError> {
        // Checked inside the write transaction: an advice written from an older one would
        // otherwise hide the advice another physician stored in between.
        let newest: Option<i64> = self
            .tx
            .prepare_cached("SELECT max(id) FROM letter_advice WHERE course_id = ?1")?
            .query_row([a.course_id], |r| r.get(0))?;
        if newest != a.supersedes {
            return Err(StoreError::AdviceConflict {
                course: a.course_id,
            });
        }
        let res = self
            .tx
            .prepare_cached(
                "INSERT INTO letter_advice (patient_id, course_id, supersedes, \
                 responsible_staff_id, advice, recorded_at, recorded_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                a.patient_id,
                a.course_id,
                a.supersedes,
                a.responsible,
                a.advice,
                to_db(self.now),
                self.actor
            ]);
        match res {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::AdviceConflict {
                    course: a.course_id,
                });
            }
            other => other?,
        };
        let id = self.tx.last_insert_rowid();
        self.audit_row_write("letter-advice", "letter_advice", &id.to_string())?;
        Ok(id)
    }

    fn insert_pseudonym(
        &mut self,
        patient: PatientId,
        study_id: &str,
        day_offset: i64,
    ) -> Result<(), StoreError> {
        self.tx.prepare_cached("INSERT INTO pseudonym (patient_id, study_id, day_offset, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(params![patient, study_id, day_offset, to_db(self.now), self.actor])?;
        self.audit_row_write("create", "pseudonym", &patient.to_string())
    }

    fn insert_pseudonym_time(
        &mut self,
        patient: PatientId,
        second_offset: i64,
    ) -> Result<(), StoreError> {
        self.tx.prepare_cached("INSERT INTO pseudonym_time (patient_id, second_offset, created_at, created_by) VALUES (?1, ?2, ?3, ?4)")?.execute(params![patient, second_offset, to_db(self.now), self.actor])?;
        self.audit_row_write("create", "pseudonym_time", &patient.to_string())
    }

    fn audit_event(&mut self, action: &str, content: &serde_json::Value) -> Result<(), StoreError> {
        self.append_audit(action, None, None, content.to_string())
    }
}
