//! The PostgreSQL store: the same `Reader` and `Writer` as the SQLite store, on a server.
//!
//! Reads run in one REPEATABLE READ READ ONLY transaction each, so a screen or report sees
//! one state. Writes run in one READ COMMITTED transaction that first locks the audit head
//! row (SELECT ... FOR UPDATE): writers are serialised exactly as SQLite's BEGIN IMMEDIATE
//! serialises them, every statement after the lock sees every earlier commit, so the checks
//! a write makes still hold when it commits, and the audit log's seq follows commit order
//! (which the change feed reads; sequence-made ids do not follow it).
//!
//! Ids come from identity sequences, which a refused or rolled-back insert does not give
//! back: after one, the ids of later rows have a gap where SQLite would reuse the number.
//! The audit content of a row is the same bytes on both backends; only the numbering of
//! rows written after a rolled-back insert can differ.
//!
//! # A server that goes away (failover)
//!
//! A read or write on a connection that was lost connects again first, through the whole
//! connection string: with several hosts and `target_session_attrs=read-write` that finds a
//! promoted replica. The new session is told what the old one was (lock timeout, read-only,
//! bulk load), prepares its statements afresh and checks the whole schema at its first
//! write. What a write answers when its connection fails:
//!
//! - before COMMIT was sent: `Unavailable`, saying nothing was saved (the server rolls an
//!   unfinished transaction back);
//! - while COMMIT was under way: the outcome is not known, so the write finds it out. Every
//!   write appends audit rows, and the last one's (seq, hash) is on the server exactly when
//!   the write was saved. The write connects again (waiting up to [`OUTCOME_WAIT`] for a
//!   writable server, long enough for a promotion) and looks it up under the audit head's
//!   lock, which a commit still under way on the server holds until it ends. Found: `Ok`,
//!   as if COMMIT had answered (the look-up's own commit waits for the synchronous replica,
//!   so the entry is on the replica too). Not found: `Unavailable`, nothing was saved. No
//!   writable server within the wait: `OutcomeUnknown`, which tells the user to look at the
//!   record before entering it again. Neither is busy, so nothing above retries them.
//!
//! # Round trips of a write
//!
//! BEGIN and the lock of the audit head (with the catalog mark, a statement prepared once
//! per session) travel in one simple query; each insert is one; the last audit row travels
//! with COMMIT (`append_audit` as literals, then COMMIT, one simple query). A write that
//! names the reads it begins with ([`ReadAhead`]: the signed-in account's re-read, the
//! patient's course bounds and rates that a rule checks) has them travel in the first
//! round trip too, each a statement of its own after the lock (so each sees every commit
//! made before the lock was granted), and its reads are answered from them until its first
//! change. An entry is then three round trips, as a bare BEGIN, INSERT, COMMIT is.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use postgres::types::ToSql;
use postgres::{Client, GenericClient, Row, Statement};

use super::audit::row_hash;
use super::rows::{self, Value, canonical_values};
use super::{
    AuditRow, Audited, Column, ColumnType, Compared, Course, LetterAdvice, Location, Marks,
    NewEntry, NewLetterAdvice, NewPatient, NewPatientVersion, Patient, PatientVersion, ReadAhead,
    Reader, SchemaProblem, ScoreWindow, Staff, Store, StoreError, Writer, audited_table,
    audited_tables, pg_schema,
};
use crate::domain::dose::RatePoint;
use crate::domain::entry::{
    CourseId, Entry, EntryData, EntryId, EntryKind, PatientId, Version, Void,
};
use crate::domain::marks::{Mark, MarkKind};
use crate::domain::outcome::Score;
use crate::domain::protocol::{Approval, Protocol, ProtocolVersion};
use crate::domain::time::{Instant, to_db, whole_seconds};
use crate::domain::values::Nrs;

/// The PostgreSQL schema, split into migrations at its "-- migration N" lines.
pub const SCHEMA: &str = include_str!("../../schema-postgres.sql");

/// How long a write waits for another terminal's hold on the audit head, as SQLite's busy
/// timeout: then it is refused as busy (nothing written) and may be tried again.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// The numbered migrations in schema-postgres.sql, in order.
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
    out
}

pub fn schema_version() -> i64 {
    migrations().last().map_or(0, |(n, _)| *n)
}

/// The connection: libpq's URL forms, several hosts, TLS as `sslmode` asks.
fn client(url: &str) -> Result<Client, StoreError> {
    super::pg_tls::connect(url)
}

/// The database a URL names, for messages: never its password.
pub fn shown_url(url: &str) -> String {
    let Ok(c) = postgres::Config::from_str(url) else {
        return "the PostgreSQL database given".into();
    };
    let hosts: Vec<String> = c
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    format!(
        "PostgreSQL database {} on {} as {}",
        c.get_dbname().unwrap_or("(default)"),
        if hosts.is_empty() {
            "the default host".into()
        } else {
            hosts.join(", ")
        },
        c.get_user().unwrap_or("(default user)")
    )
}

/// How long a read that found no server waits before it connects again (a write always
/// tries at once: someone pressed Enter).
const RETRY_READS_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

pub struct PgDb {
    client: Client,
    /// The connection string, to connect again (the listener, a failover).
    url: String,
    shown: String,
    /// The live-refresh listener's flag, once a terminal asked for it.
    watch: Option<super::Watch>,
    /// Titrate's schema: the first on the role's search_path when it connected.
    schema: String,
    namespace: u32,
    statements: HashMap<String, Statement>,
    /// The catalog fingerprint when this connection last found the schema to be titrate's,
    /// and the relations it follows: a write describes the schema again only when it moved.
    schema_seen: Option<String>,
    relations: Vec<u32>,
    functions: Vec<u32>,
    /// The session's settings, set again on a new connection after a lost one.
    session: Session,
    /// When a reconnection for a read last failed, and why: a terminal's tick does not try
    /// again for [`RETRY_READS_AFTER`], so that its screen answers keys between attempts.
    read_gave_up: Option<(std::time::Instant, StoreError)>,
    /// Whether this connection has the write's lock statement prepared (`LOCK_SQL`), and
    /// (below) the read-ahead statements ([`ahead_sql`]).
    lock_prepared: bool,
    /// A write's read-ahead failed on this connection (a schema changed under a prepared
    /// statement): its writes read as they go, and so meet the schema check first.
    ahead_off: bool,
    ahead_prepared: bool,
}

/// What a connection was told after it connected; a reconnection tells the new one again.
#[derive(Clone, Copy, Debug)]
struct Session {
    lock_timeout: std::time::Duration,
    read_only: bool,
    bulk: bool,
}

impl Default for Session {
    fn default() -> Session {
        Session {
            lock_timeout: BUSY_TIMEOUT,
            read_only: false,
            bulk: false,
        }
    }
}

/// How long a write whose COMMIT got no answer looks for a writable server to learn whether
/// it was saved: long enough for a replica's promotion to finish.
const OUTCOME_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The server refused the write's first statements (the lock, the schema look): a
/// statement timeout or cancel, a privilege taken away. Nothing of it ran, and the words say so.
fn not_begun(e: StoreError) -> StoreError {
    match e {
        StoreError::Database(why) if !why.contains("nothing was saved") => StoreError::Database(
            format!("{why} (the write was not begun: nothing was saved)"),
        ),
        other => other,
    }
}

/// No server (that takes writes) answered a connection: the words say which database, and
/// (for what may write) that nothing was saved.
fn unanswered(e: StoreError, shown: &str, writing: bool) -> StoreError {
    match e {
        StoreError::Unavailable(why) => StoreError::Unavailable(format!(
            "{shown}{} ({why})",
            if writing { ": nothing was saved" } else { "" }
        )),
        other => other,
    }
}

/// A connection checked as every one is: UTF8, titrate's schema first on the search path
/// (which is then pinned), durable commits; with that schema's name and oid and the
/// database as messages name it.
pub(crate) fn checked_client(url: &str) -> Result<(Client, String, u32, String), StoreError> {
    let shown = shown_url(url);
    let mut c = client(url).map_err(|e| unanswered(e, &shown, true))?;
    refuse_other_encoding(&mut c, &shown)?;
    let (schema, namespace) = titrate_schema(&mut c, &shown)?;
    pin_search_path(&mut c, &schema)?;
    Ok((c, schema, namespace, shown))
}

/// What the connection finds: titrate's schema name and its oid.
fn titrate_schema(c: &mut Client, shown: &str) -> Result<(String, u32), StoreError> {
    let row = c.query_one(
        "SELECT current_schema()::text, (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = current_schema())",
        &[],
    )?;
    match (row.try_get::<_, Option<String>>(0)?, row.try_get::<_, Option<u32>>(1)?) {
        (Some(s), Some(oid)) => Ok((s, oid)),
        _ => Err(StoreError::Open {
            path: shown.to_string(),
            why: "no schema of the role's search_path exists: create one (see `titrate pg-setup --print`)"
                .into(),
        }),
    }
}

/// Text is stored and read as UTF-8 only when the database's encoding is UTF8: in an
/// SQL_ASCII database the server checks nothing and any bytes would come back.
fn refuse_other_encoding(c: &mut Client, shown: &str) -> Result<(), StoreError> {
    let encoding: String = c
        .query_one("SELECT pg_catalog.current_setting('server_encoding')", &[])?
        .try_get(0)?;
    if encoding != "UTF8" {
        return Err(StoreError::Open {
            path: shown.to_string(),
            why: format!(
                "the database's encoding is {encoding}; titrate needs a UTF8 database (CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0)"
            ),
        });
    }
    Ok(())
}

/// Only the catalog and titrate's schema are searched (built-in names first, so nothing
/// can stand in for them), the session's temporary tables last: nothing made elsewhere can stand in for one of titrate's tables. And a wait for a
/// lock ends after [`BUSY_TIMEOUT`].
fn pin_search_path(c: &mut Client, schema: &str) -> Result<(), StoreError> {
    let quoted: String = c
        .query_one("SELECT pg_catalog.quote_ident($1)", &[&schema])?
        .try_get(0)?;
    c.batch_execute(&format!(
        "SET search_path = pg_catalog, {quoted}, pg_temp; SET lock_timeout = '{}ms'",
        BUSY_TIMEOUT.as_millis()
    ))?;
    require_durable_commits(c)
}

/// "Saved" is printed only after COMMIT returned, so COMMIT must wait for the disk (and for a
/// synchronous replica where one is configured): a weaker `synchronous_commit`, from the
/// connection string's options, the role, the database or postgresql.conf, is raised to
/// `on` for this session. `remote_apply`, which waits longer still, is kept.
fn require_durable_commits(c: &mut Client) -> Result<(), StoreError> {
    let level: String = c.query_one("SHOW synchronous_commit", &[])?.try_get(0)?;
    if !matches!(level.as_str(), "on" | "remote_apply") {
        c.batch_execute("SET synchronous_commit = on")?;
    }
    Ok(())
}

fn table_exists(c: &mut impl GenericClient, ns: u32, name: &str) -> Result<bool, StoreError> {
    Ok(c.query_opt(
        "SELECT 1 FROM pg_catalog.pg_class WHERE relnamespace = $1 AND relname = $2 AND relkind = 'r'",
        &[&ns, &name],
    )?
    .is_some())
}

/// The stored version, None when the schema has no version table.
fn stored_version(c: &mut impl GenericClient, ns: u32) -> Result<Option<i64>, StoreError> {
    if !table_exists(c, ns, "schema_version")? {
        return Ok(None);
    }
    let row = c.query_opt("SELECT version FROM schema_version WHERE id = 1", &[])?;
    Ok(Some(match row {
        Some(r) => r.try_get(0)?,
        None => 0,
    }))
}

/// Any of titrate's tables in the schema.
fn any_titrate_table(c: &mut impl GenericClient, ns: u32) -> Result<Option<String>, StoreError> {
    let mut names: Vec<&str> = audited_tables().iter().map(|a| a.table).collect();
    names.extend(["audit", "audit_head", "schema_version"]);
    for n in names {
        if table_exists(c, ns, n)? {
            return Ok(Some(n.to_string()));
        }
    }
    Ok(None)
}

impl PgDb {
    /// Connects to a database that holds titrate's schema, migrating an older one in one
    /// transaction. A database without it is refused: only `create` makes one.
    pub fn connect(url: &str) -> Result<PgDb, StoreError> {
        PgDb::connect_as(url, true)
    }

    /// Connects only to read (`titrate check`, `audit verify` of a changed schema): no
    /// migration, and the session itself refuses every write.
    pub fn connect_read_only(url: &str) -> Result<PgDb, StoreError> {
        let mut db = PgDb::connect_as(url, false)?;
        db.client
            .batch_execute("SET default_transaction_read_only = on")?;
        db.session.read_only = true;
        Ok(db)
    }

    fn connect_as(url: &str, migrate: bool) -> Result<PgDb, StoreError> {
        let (mut c, schema, namespace, shown) = checked_client(url)?;
        let Some(version) = stored_version(&mut c, namespace)? else {
            let why = match any_titrate_table(&mut c, namespace)? {
                Some(t) => format!(
                    "schema {schema} holds titrate's table {t} but no schema version: it is not a complete titrate database; nothing was changed"
                ),
                None => {
                    format!("schema {schema} holds no titrate database; `titrate init` creates one")
                }
            };
            return Err(StoreError::Open { path: shown, why });
        };
        if version > schema_version() {
            return Err(StoreError::TooNew {
                found: version,
                known: schema_version(),
            });
        }
        let mut db = PgDb::on(c, url, shown, schema, namespace);
        if migrate && version < schema_version() {
            db.migrate().map_err(|e| match e {
                StoreError::Database(why) if why.contains("permission denied") || why.contains("must be owner") => {
                    StoreError::Open {
                        path: db.shown.clone(),
                        why: format!(
                            "it holds titrate's schema version {version} and needs version {}, which only the role that owns the schema may apply: connect once as that role (as `titrate init` does); nothing was changed ({why})",
                            schema_version()
                        ),
                    }
                }
                other => other,
            })?;
        }
        Ok(db)
    }

    /// Creates titrate's schema in an empty schema (what `titrate init` does): refused when
    /// any of titrate's tables is there already.
    pub fn create(url: &str) -> Result<PgDb, StoreError> {
        let (mut c, schema, namespace, shown) = checked_client(url)?;
        if let Some(t) = any_titrate_table(&mut c, namespace)? {
            return Err(StoreError::Open {
                path: shown,
                why: format!(
                    "schema {schema} holds titrate's table {t} already: `titrate init` only creates a new record in an empty schema; nothing was changed"
                ),
            });
        }
        let mut db = PgDb::on(c, url, shown, schema, namespace);
        db.migrate()?;
        Ok(db)
    }

    /// A store on a connection just made and checked.
    fn on(client: Client, url: &str, shown: String, schema: String, namespace: u32) -> PgDb {
        PgDb {
            client,
            url: url.to_string(),
            watch: None,
            shown,
            schema,
            namespace,
            statements: HashMap::new(),
            schema_seen: None,
            relations: Vec::new(),
            functions: Vec::new(),
            session: Session::default(),
            read_gave_up: None,
            lock_prepared: false,
            ahead_off: false,
            ahead_prepared: false,
        }
    }

    /// The connection string it was opened with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Told of every commit by anyone, through LISTEN/NOTIFY on a connection of its own.
    pub fn watch(&mut self) -> super::Watch {
        if let Some(w) = &self.watch {
            return w.clone();
        }
        let w = super::Watch::default();
        super::pg_watch::spawn(self.url.clone(), w.clone());
        self.watch = Some(w.clone());
        w
    }

    /// Every table and index of titrate's schema read from end to end, each problem a line
    /// ("ok" when all read): a damaged page (with data checksums on) or a lost file shows.
    pub fn integrity_check(&mut self) -> Result<Vec<String>, StoreError> {
        let tables: Vec<String> = self
            .client
            .query(
                "SELECT pg_catalog.quote_ident(c.relname) FROM pg_catalog.pg_class c \
                 WHERE c.relnamespace = $1::oid AND c.relkind = 'r' ORDER BY c.relname",
                &[&self.namespace],
            )?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let mut problems = Vec::new();
        for t in tables {
            if let Err(e) = self
                .client
                .batch_execute(&format!("SELECT count(*) FROM (SELECT * FROM {t}) x"))
            {
                problems.push(format!("table {t}: {}", StoreError::from(e)));
            }
        }
        if problems.is_empty() {
            problems.push("ok".into());
        }
        Ok(problems)
    }

    /// For the data generator: a generated record needs no wait for the disk on every
    /// commit (the server stays crash-safe; only the newest commits may be lost).
    pub fn bulk_load_mode(&mut self) -> Result<(), StoreError> {
        self.client.batch_execute("SET synchronous_commit = off")?;
        self.session.bulk = true;
        Ok(())
    }

    pub fn finish_bulk_load(&mut self) -> Result<(), StoreError> {
        self.client.batch_execute("SET synchronous_commit = on")?;
        self.session.bulk = false;
        Ok(())
    }

    /// The database, as messages name it (no password).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Titrate's schema on the server.
    pub fn schema_name(&self) -> &str {
        &self.schema
    }

    /// Applies every migration newer than the database, all in one transaction, holding
    /// the version row and the audit head so that no other terminal writes meanwhile.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let quoted: String = self
            .client
            .query_one("SELECT pg_catalog.quote_ident($1)", &[&self.schema])?
            .try_get(0)?;
        let ns = self.namespace;
        let schema = self.schema.clone();
        self.client.batch_execute("BEGIN")?;
        match migrate_in(&mut self.client, ns, &schema, &quoted) {
            Ok(()) => Ok(self.client.batch_execute("COMMIT")?),
            Err(e) => {
                let _ = self.client.batch_execute("ROLLBACK");
                Err(e)
            }
        }
    }

    /// A connection that is known to be lost is made again before it is used.
    fn ensure_connected(&mut self, writing: bool) -> Result<(), StoreError> {
        if self.client.is_closed() {
            self.reconnect(writing)?;
        }
        Ok(())
    }

    /// Connects again through the whole connection string (so that of several hosts the
    /// one that now takes writes is found), tells the new session what the old one was told,
    /// and forgets the old one's prepared statements and schema mark.
    fn reconnect(&mut self, writing: bool) -> Result<(), StoreError> {
        if !writing
            && let Some((at, why)) = &self.read_gave_up
            && at.elapsed() < RETRY_READS_AFTER
        {
            return Err(StoreError::Unavailable(why.to_string()));
        }
        let done = self
            .connect_again()
            .map_err(|e| unanswered(e, &self.shown, writing));
        match &done {
            Err(StoreError::Unavailable(why)) if !writing => {
                self.read_gave_up = Some((
                    std::time::Instant::now(),
                    StoreError::Unavailable(why.clone()),
                ));
            }
            _ => self.read_gave_up = None,
        }
        done
    }

    fn connect_again(&mut self) -> Result<(), StoreError> {
        let mut c = client(&self.url)?;
        let (schema, namespace) = titrate_schema(&mut c, &self.shown)?;
        if schema != self.schema {
            return Err(StoreError::Open {
                path: self.shown.clone(),
                why: format!(
                    "after a lost connection the server's first schema is {schema}, not {}: the connection string reaches another database; nothing was changed",
                    self.schema
                ),
            });
        }
        pin_search_path(&mut c, &schema)?;
        let s = self.session;
        let mut set = format!(
            "SET lock_timeout = '{}ms'",
            s.lock_timeout.as_millis().max(1)
        );
        if s.read_only {
            set.push_str("; SET default_transaction_read_only = on");
        }
        if s.bulk {
            set.push_str("; SET synchronous_commit = off");
        }
        c.batch_execute(&set)?;
        self.client = c;
        self.namespace = namespace;
        self.statements.clear();
        self.lock_prepared = false;
        self.ahead_off = false;
        self.ahead_prepared = false;
        // Another server (a promoted replica) is checked in full at the next write.
        self.schema_seen = None;
        Ok(())
    }

    fn head_seq(&mut self) -> Result<Option<i64>, StoreError> {
        let stmt = cached(
            &mut self.statements,
            &mut self.client,
            "SELECT seq FROM audit_head WHERE id = 1",
        )?;
        let row = self.client.query_opt(&stmt, &[])?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Begins a write: BEGIN and the lock of the audit head in one round trip, then (only
    /// when the catalog mark moved) the full schema check, all under the lock. The head as
    /// locked. On an error nothing is left open.
    fn begin_write(&mut self, ahead: &ReadAhead) -> Result<((i64, String), Ahead), StoreError> {
        let wanted = !self.ahead_off && ahead.wants_any();
        let r = self.lock_and_check(if wanted { ahead } else { &NO_AHEAD });
        if r.is_err() && !self.client.is_closed() {
            let _ = self.client.batch_execute("ROLLBACK");
        }
        match r {
            // A read-ahead statement failed (a table changed under it, say): the write
            // begins again reading as it goes, so the schema check comes first and says
            // what changed.
            Err(e)
                if wanted && !self.client.is_closed() && matches!(e, StoreError::Database(_)) =>
            {
                self.ahead_off = true;
                self.begin_write(&NO_AHEAD)
            }
            other => other,
        }
    }

    fn lock_and_check(&mut self, ahead: &ReadAhead) -> Result<((i64, String), Ahead), StoreError> {
        if !self.lock_prepared {
            self.client.batch_execute(&format!(
                "PREPARE titrate_lock (oid[], oid[]) AS SELECT seq, hash, ({}) FROM audit_head WHERE id = 1 FOR UPDATE; \
                 PREPARE titrate_mark_check (oid[], oid[], text) AS {}",
                pg_schema::FINGERPRINT_SQL,
                pg_schema::mark_check_sql()
            ))?;
            self.lock_prepared = true;
        }
        // Once per connection, and only for a write that reads ahead: a schema that lost
        // what they read fails here, and the write goes on without them.
        if ahead.wants_any() && !self.ahead_prepared {
            let each: Vec<String> = ahead_sql()
                .into_iter()
                .map(|(name, params, sql)| format!("PREPARE {name} {params} AS {sql}"))
                .collect();
            self.client.batch_execute(&each.join("; "))?;
            self.ahead_prepared = true;
        }
        let mut sql = format!(
            "BEGIN; EXECUTE titrate_lock ({}, {})",
            oid_array(&self.relations),
            oid_array(&self.functions)
        );
        // The reads after the lock, each a statement of its own (so each sees every commit
        // made before the lock was granted), in the same round trip. A NUL cannot travel
        // in a simple query: that read is made when it is asked for.
        let staff = ahead.staff.as_deref().filter(|s| !s.contains('\0'));
        let mrn = ahead.patient_mrn.as_deref().filter(|s| !s.contains('\0'));
        if let Some(id) = staff {
            sql.push_str(&format!("; EXECUTE titrate_ahead_staff ({})", literal(id)));
        }
        if let Some(mrn) = mrn {
            sql.push_str(&format!(
                "; SET LOCAL extra_float_digits = 3; EXECUTE titrate_ahead_patient ({}); \
                 EXECUTE titrate_ahead_courses; EXECUTE titrate_ahead_bounds",
                literal(mrn)
            ));
            if ahead.rates {
                sql.push_str("; EXECUTE titrate_ahead_rates");
            }
        }
        let answer = self.client.simple_query(&sql)?;
        // The rows of each statement, in order.
        let mut results: Vec<Vec<&postgres::SimpleQueryRow>> = vec![Vec::new()];
        for m in &answer {
            match m {
                postgres::SimpleQueryMessage::Row(r) => {
                    if let Some(last) = results.last_mut() {
                        last.push(r);
                    }
                }
                postgres::SimpleQueryMessage::CommandComplete(_) => results.push(Vec::new()),
                _ => {}
            }
        }
        let mut results = results.into_iter().skip(1); // BEGIN
        let Some(lock) = results.next().and_then(|r| r.first().copied()) else {
            return Err(StoreError::Corrupt("the audit head is missing".into()));
        };
        let mut read = Ahead::default();
        if let Some(id) = staff {
            let rows = results.next().unwrap_or_default();
            let found = rows.first().map(|r| staff_of(*r)).transpose()?;
            read.staff = Some((id.to_string(), found));
        }
        if let Some(mrn) = mrn {
            let _set = results.next();
            let patient = results
                .next()
                .unwrap_or_default()
                .first()
                .map(|r| patient_of(*r))
                .transpose()?;
            let mut parsed = HashMap::new();
            let courses: Vec<Course> = results
                .next()
                .unwrap_or_default()
                .into_iter()
                .map(|r| course_of(r, 0, &mut parsed))
                .collect::<Result<_, _>>()?;
            let bounds: Vec<Entry> = results
                .next()
                .unwrap_or_default()
                .into_iter()
                .map(entry_of)
                .collect::<Result<_, _>>()?;
            let rates = if ahead.rates {
                let mut by_course: HashMap<CourseId, Vec<Version<RatePoint>>> =
                    courses.iter().map(|c| (c.id, Vec::new())).collect();
                for r in results.next().unwrap_or_default() {
                    let course = int_of(r, 0)?;
                    by_course
                        .get_mut(&course)
                        .ok_or_else(|| corrupt(format!("a rate of course {course}, not read")))?
                        .push(rate_version_of(r, 1)?);
                }
                Some(by_course)
            } else {
                None
            };
            if let Some(p) = &patient {
                read.of_patient = Some(OfPatient {
                    id: p.id,
                    courses,
                    bounds,
                    rates,
                });
            }
            read.patient = Some((mrn.to_string(), patient));
        }
        let seq: i64 = lock
            .get(0)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| corrupt("the audit head's seq is not a number"))?;
        let hash = lock
            .get(1)
            .ok_or_else(|| corrupt("the audit head has no hash"))?
            .to_string();
        // Inside the lock: a trigger added behind titrate's back would run inside this very
        // write. Only a moved fingerprint costs a full description.
        let fingerprint: Option<String> = lock.get(2).map(str::to_string);
        if fingerprint.is_none() || self.schema_seen != fingerprint {
            self.check_schema_in_full()?;
        }
        Ok(((seq, hash), read))
    }

    /// The whole schema compared with what the migrations make, and the relations,
    /// functions and mark kept for the next writes. The mark is taken first: a change
    /// committed between the two is then either in the comparison or moves the mark again.
    fn check_schema_in_full(&mut self) -> Result<(), StoreError> {
        let c = &mut self.client;
        let relations: Vec<u32> = c
            .query_one(pg_schema::RELATIONS_SQL, &[&self.namespace])?
            .try_get(0)?;
        let functions: Vec<u32> = c
            .query_one(pg_schema::FUNCTIONS_SQL, &[&relations, &self.namespace])?
            .try_get(0)?;
        let mark: Option<String> = c
            .query_one(pg_schema::FINGERPRINT_SQL, &[&relations, &functions])?
            .try_get(0)?;
        let version = stored_version(c, self.namespace)?.unwrap_or(0);
        // A newer titrate migrated the database since this one connected.
        if version > schema_version() {
            return Err(StoreError::TooNew {
                found: version,
                known: schema_version(),
            });
        }
        refuse_changed_schema(c, &self.schema, version)?;
        self.relations = relations;
        self.functions = functions;
        self.schema_seen = mark;
        Ok(())
    }

    /// What a failed read or write was up against, when that was a schema changed while it
    /// ran (a trigger that took its row, a column retyped under a statement, a function
    /// replaced): the change, rather than the statement's own error ("error deserializing
    /// column 1"). `mark_moved` says the failure was the write's check before COMMIT; a
    /// change found harmless then asks for the write again. None when the schema is as the
    /// last write found it.
    fn changed_under(&mut self, mark_moved: bool) -> Option<StoreError> {
        if self.client.is_closed() {
            return None;
        }
        let seen = self.schema_seen.clone();
        let now: Result<Option<String>, StoreError> = (|| {
            let c = &mut self.client;
            let relations: Vec<u32> = c
                .query_one(pg_schema::RELATIONS_SQL, &[&self.namespace])?
                .try_get(0)?;
            let functions: Vec<u32> = c
                .query_one(pg_schema::FUNCTIONS_SQL, &[&relations, &self.namespace])?
                .try_get(0)?;
            Ok(
                c.query_one(pg_schema::FINGERPRINT_SQL, &[&relations, &functions])?
                    .try_get(0)?,
            )
        })();
        match now {
            Ok(mark) if mark == seen && !mark_moved => None,
            Ok(_) | Err(_) => match self.check_schema_in_full() {
                Err(e @ (StoreError::SchemaChanged(_) | StoreError::TooNew { .. })) => Some(e),
                Ok(()) if mark_moved => Some(StoreError::Busy(
                    "the schema's catalog was touched while this write was under way, though nothing titrate relies on changed"
                        .into(),
                )),
                _ => None,
            },
        }
    }

    /// Whether a write whose COMMIT got no answer was saved: its last audit row (`seq`
    /// with `hash`) is on the writable server exactly when it was. Waits up to
    /// [`OUTCOME_WAIT`] for a writable server (a replica being promoted), then gives up as
    /// `OutcomeUnknown`.
    fn resolve_outcome(&mut self, seq: i64, hash: &str) -> Result<bool, StoreError> {
        let deadline = std::time::Instant::now() + OUTCOME_WAIT;
        loop {
            // In words of their own: "try again" is what this answer must not say.
            let why = match self.connect_again().and_then(|()| self.look_up(seq, hash)) {
                Ok(found) => return Ok(found),
                Err(StoreError::Unavailable(why)) => why,
                Err(StoreError::Busy(_)) => {
                    "another write held the record's audit head for as long as this one waits"
                        .to_string()
                }
                // Its own words may say "nothing was written", which is not known here.
                Err(e) => {
                    let why = match e {
                        StoreError::SchemaChanged(_) => {
                            "its schema was changed behind titrate's back"
                        }
                        StoreError::TooNew { .. } => "a newer titrate upgraded it meanwhile",
                        StoreError::Corrupt(_) => "it reports damage",
                        _ => "it answered the look-up with an error",
                    };
                    return Err(StoreError::OutcomeUnknown(format!(
                        "{}: the record could not be read to find out ({why})",
                        self.shown
                    )));
                }
            };
            if std::time::Instant::now() >= deadline {
                return Err(StoreError::OutcomeUnknown(format!(
                    "{} did not answer within {} s: {why}",
                    self.shown,
                    OUTCOME_WAIT.as_secs()
                )));
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// Looks for the audit row under the head's lock: a write still under way on the server
    /// (its connection lost, its COMMIT waiting for the replica) holds that lock, so the
    /// answer is given only once it has ended one way or the other. This transaction's own
    /// COMMIT waits for the synchronous replica like any write's, so a row found is on the
    /// replica too when it answers.
    fn look_up(&mut self, seq: i64, hash: &str) -> Result<bool, StoreError> {
        self.client.batch_execute("BEGIN")?;
        let found = (|| -> Result<bool, StoreError> {
            self.client
                .query_one("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE", &[])?;
            let row = self
                .client
                .query_opt("SELECT hash FROM audit WHERE seq = $1", &[&seq])?;
            Ok(row
                .map(|r| r.try_get::<_, String>(0))
                .transpose()?
                .as_deref()
                == Some(hash))
        })();
        match found {
            Ok(found) => {
                self.client.batch_execute("COMMIT")?;
                Ok(found)
            }
            Err(e) => {
                let _ = self.client.batch_execute("ROLLBACK");
                Err(e)
            }
        }
    }

    /// `Store::write`, with the reads `ahead` names sent with the lock (see [`ReadAhead`]).
    pub fn write_ahead<T, E: From<StoreError>>(
        &mut self,
        actor: &str,
        now: Instant,
        ahead: &ReadAhead,
        f: impl FnOnce(&mut dyn Writer) -> Result<T, E>,
    ) -> Result<T, E> {
        self.ensure_connected(true).map_err(not_begun)?;
        let (head, read) = match self.begin_write(ahead) {
            // Nothing of the write was done yet: a connection that died while idle (or the
            // server behind it, replaced by a promoted replica) is made again.
            Err(StoreError::Unavailable(_)) => {
                self.reconnect(true).map_err(|e| match e {
                    StoreError::Unavailable(why) => {
                        StoreError::Unavailable(format!("{why}; nothing was saved"))
                    }
                    other => other,
                })?;
                self.begin_write(ahead).map_err(|e| match e {
                    StoreError::Unavailable(why) => {
                        StoreError::Unavailable(format!("{why}; nothing was saved"))
                    }
                    other => not_begun(other),
                })?
            }
            other => other.map_err(not_begun)?,
        };
        let mut w = PgTx::new(
            &mut self.client,
            &mut self.statements,
            &self.shown,
            self.namespace,
            &self.schema,
            true,
        );
        w.actor = actor.to_string();
        w.now = whole_seconds(now);
        w.head = Some(head.clone());
        *w.ahead.get_mut() = read;
        w.mark_check = Some(format!(
            "EXECUTE titrate_mark_check ({}, {}, {})",
            oid_array(&self.relations),
            oid_array(&self.functions),
            opt_literal(self.schema_seen.as_deref())
        ));
        let out = match f(&mut w) {
            Ok(out) => out,
            Err(e) => {
                drop(w); // rolls back
                return Err(self.changed_under(false).map_or(e, E::from));
            }
        };
        let committed = match w.commit(head.0) {
            Ok(c) => c,
            Err(e) => {
                let moved =
                    matches!(&e, StoreError::Database(m) if m.contains(pg_schema::MARK_MOVED));
                return Err(self.changed_under(moved).unwrap_or(e).into());
            }
        };
        match committed {
            Committed::Yes => Ok(out),
            Committed::Unknown { seq, hash } => {
                if self.resolve_outcome(seq, &hash)? {
                    Ok(out)
                } else {
                    Err(StoreError::Unavailable(format!(
                        "the connection to {} was lost while the write was being committed, and the writable server does not have it: nothing was saved",
                        self.shown
                    ))
                    .into())
                }
            }
        }
    }

    /// The connection, for tests that play the part of someone with psql.
    pub fn raw_client(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// The migrations, inside the transaction `migrate` began on `c`.
fn migrate_in(c: &mut Client, ns: u32, schema: &str, quoted: &str) -> Result<(), StoreError> {
    // Functions made with SET search_path FROM CURRENT keep titrate's schema alone.
    c.batch_execute(&format!("SET LOCAL search_path = {quoted}"))?;
    let version = if table_exists(c, ns, "schema_version")? {
        c.query_one(
            "SELECT version FROM schema_version WHERE id = 1 FOR UPDATE",
            &[],
        )?
        .try_get::<_, i64>(0)?
    } else {
        0
    };
    if version > schema_version() {
        return Err(StoreError::TooNew {
            found: version,
            known: schema_version(),
        });
    }
    if version > 0 {
        // A trigger planted in an older schema would run inside the migration's writes.
        c.query_one("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE", &[])?;
        refuse_changed_schema(c, schema, version)?;
    }
    for (n, sql) in migrations().into_iter().filter(|(n, _)| *n > version) {
        let had_approvals = table_exists(c, ns, "protocol_approval")?;
        c.batch_execute(&sql)?;
        if !had_approvals && table_exists(c, ns, "protocol_approval")? {
            audit_approvals_made_by_upgrade(c)?;
        }
        c.execute("UPDATE schema_version SET version = $1 WHERE id = 1", &[&n])?;
    }
    grant_app_updates(c)
}

fn cached(
    cache: &mut HashMap<String, Statement>,
    c: &mut impl GenericClient,
    sql: &str,
) -> Result<Statement, StoreError> {
    if let Some(s) = cache.get(sql) {
        return Ok(s.clone());
    }
    let s = c.prepare(sql)?;
    cache.insert(sql.to_string(), s.clone());
    Ok(s)
}

/// Refuses to write to a schema that is not exactly what titrate's migrations up to
/// `version` create, naming what differs.
fn refuse_changed_schema(
    c: &mut impl GenericClient,
    schema: &str,
    version: i64,
) -> Result<(), StoreError> {
    let actual = pg_schema::describe(c, schema)?;
    let diffs = pg_schema::problems(&actual, version);
    if diffs.is_empty() {
        return Ok(());
    }
    let mut said: Vec<String> = diffs.iter().take(5).map(ToString::to_string).collect();
    if diffs.len() > 5 {
        said.push(format!("and {} more", diffs.len() - 5));
    }
    Err(StoreError::SchemaChanged(said.join("; ")))
}

/// Whoever may append to the audit log (the application role, given SELECT and INSERT by
/// the default privileges `titrate pg-setup` sets) may also change staff rows' counters and
/// move the audit head (directly or through append_audit), and nothing else: column-level
/// UPDATE on those two tables only.
/// Default privileges cannot name single tables, so the owner grants these here, after
/// every migration.
fn grant_app_updates(tx: &mut impl GenericClient) -> Result<(), StoreError> {
    let grantees: Vec<String> = tx
        .query(
            "SELECT DISTINCT a.grantee::regrole::text FROM pg_catalog.pg_class c, \
             aclexplode(c.relacl) a \
             WHERE c.oid = 'audit'::regclass AND a.privilege_type = 'INSERT' \
               AND a.grantee <> c.relowner AND a.grantee <> 0",
            &[],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    for g in grantees {
        tx.batch_execute(&format!(
            "GRANT UPDATE (name, role, pin_hash, active, failed_pins, locked) ON staff TO {g}; \
             GRANT UPDATE (seq, hash) ON audit_head TO {g}; \
             GRANT EXECUTE ON FUNCTION append_audit(bigint, text, text, text, text, text, text, text, text) TO {g};"
        ))?;
    }
    Ok(())
}

/// The migration that creates protocol_approval writes a row for each version courses
/// already ran under; each gets its audit row here, in the migration's transaction.
fn audit_approvals_made_by_upgrade(tx: &mut Client) -> Result<(), StoreError> {
    let ids: Vec<i64> = tx
        .query("SELECT id FROM protocol_approval ORDER BY id", &[])?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Ok(());
    }
    let head = tx.query_one(
        "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
        &[],
    )?;
    let head = (head.try_get(0)?, head.try_get(1)?);
    let mut statements = HashMap::new();
    // Inside the migration's transaction, which `migrate` ends.
    let mut w = PgTx::new(tx, &mut statements, "", 0, "", true);
    w.open.set(false);
    w.actor = "upgrade".to_string();
    w.now = whole_seconds(chrono::Utc::now());
    w.head = Some(head);
    for id in ids {
        w.audit_row_write(
            "protocol-approve-upgrade",
            "protocol_approval",
            &id.to_string(),
        )?;
    }
    w.flush_audit()?;
    Ok(())
}

/// PostgreSQL's failures as the store's own kinds.
impl Store for PgDb {
    fn open(at: &Location) -> Result<PgDb, StoreError> {
        PgDb::connect(url_of(at)?)
    }

    fn create(at: &Location) -> Result<PgDb, StoreError> {
        PgDb::create(url_of(at)?)
    }

    /// A consistent read of the record: one REPEATABLE READ READ ONLY transaction. A
    /// connection found lost before the read began is made again first.
    fn read<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&dyn Reader) -> Result<T, E>,
    ) -> Result<T, E> {
        const BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
        self.ensure_connected(false)?;
        if let Err(e) = self.client.batch_execute(BEGIN) {
            // Nothing was read yet: a connection that died while idle is made again.
            let e = StoreError::from(e);
            if !matches!(e, StoreError::Unavailable(_)) {
                return Err(e.into());
            }
            self.reconnect(false)?;
            self.client.batch_execute(BEGIN).map_err(StoreError::from)?;
        }
        let view = PgTx::new(
            &mut self.client,
            &mut self.statements,
            &self.shown,
            self.namespace,
            &self.schema,
            false,
        );
        let out = match f(&view) {
            Ok(out) => out,
            Err(e) => {
                drop(view); // ends the read
                return Err(self.changed_under(false).map_or(e, E::from));
            }
        };
        view.finish_read()?;
        Ok(out)
    }

    /// One write transaction. It first locks the audit head row, so writers queue as they do
    /// on SQLite and the checks `f` makes still hold when it commits; on any error nothing
    /// of it is stored.
    ///
    /// A connection found lost before the write began is made again (through the whole
    /// connection string, so a promoted replica is found). One lost before COMMIT was sent
    /// saved nothing: `Unavailable`. One lost while COMMIT was under way leaves the outcome
    /// to be found out: the write looks for its last audit row on a writable server (waiting
    /// up to [`OUTCOME_WAIT`] for one) and answers as the commit would have, or
    /// `OutcomeUnknown` when no server answers.
    fn write<T, E: From<StoreError>>(
        &mut self,
        actor: &str,
        now: Instant,
        f: impl FnOnce(&mut dyn Writer) -> Result<T, E>,
    ) -> Result<T, E> {
        self.write_ahead(actor, now, &NO_AHEAD, f)
    }

    /// How long a write waits for another terminal's write before giving up as busy.
    fn set_busy_timeout(&mut self, d: std::time::Duration) -> Result<(), StoreError> {
        // Kept for a new connection after a lost one, which is told it again.
        self.session.lock_timeout = d;
        self.client
            .batch_execute(&format!("SET lock_timeout = '{}ms'", d.as_millis().max(1)))?;
        Ok(())
    }

    /// Changes whenever anyone commits a write: the audit head's seq (every write appends to
    /// the log). Outside any transaction, so it sees the newest commit.
    fn data_version(&mut self) -> Result<i64, StoreError> {
        self.ensure_connected(false)?;
        let row = match self.head_seq() {
            Err(StoreError::Unavailable(_)) => {
                self.reconnect(false)?;
                self.head_seq()?
            }
            other => other?,
        };
        match row {
            Some(r) => Ok(r),
            None => Err(StoreError::Corrupt("the audit head is missing".into())),
        }
    }
}

fn url_of(at: &Location) -> Result<&str, StoreError> {
    match at {
        Location::Server(url) => Ok(url),
        Location::File(p) => Err(StoreError::Open {
            path: p.display().to_string(),
            why: "the PostgreSQL store opens servers, not files".into(),
        }),
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> StoreError {
        use postgres::error::SqlState as S;
        if let Some(db) = e.as_db_error() {
            let code = db.code();
            let words = db.message().to_string();
            return if *code == S::T_R_SERIALIZATION_FAILURE
                || *code == S::T_R_DEADLOCK_DETECTED
                || *code == S::LOCK_NOT_AVAILABLE
            {
                StoreError::Busy(words)
            } else if *code == S::DISK_FULL {
                StoreError::DiskFull
            } else if *code == S::READ_ONLY_SQL_TRANSACTION {
                StoreError::Unavailable(format!(
                    "the server takes no writes (it is a standby, or read-only): {words}"
                ))
            } else if code.code().starts_with("08")
                || *code == S::ADMIN_SHUTDOWN
                || *code == S::CRASH_SHUTDOWN
                || *code == S::CANNOT_CONNECT_NOW
            {
                StoreError::Unavailable(format!("the server ended the connection: {words}"))
            } else if code.code().starts_with("28") {
                StoreError::Unavailable(format!("the server refused the login: {words}"))
            } else if *code == S::DATA_CORRUPTED || *code == S::INDEX_CORRUPTED {
                StoreError::Corrupt(format!("the server reports damaged data: {words}"))
            } else {
                StoreError::Database(words)
            };
        }
        if e.is_closed() {
            return StoreError::Unavailable(
                "the connection to the database server was lost".into(),
            );
        }
        let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        let text = e.to_string();
        if io || text.contains("error connecting") {
            return StoreError::Unavailable(format!(
                "the database server could not be reached: {text}"
            ));
        }
        StoreError::Database(text)
    }
}

struct PgTx<'a> {
    client: RefCell<&'a mut Client>,
    statements: RefCell<&'a mut HashMap<String, Statement>>,
    /// The database as messages name it.
    shown: &'a str,
    schema: &'a str,
    namespace: u32,
    actor: String,
    now: Instant,
    /// The audit head as this write holds it locked: (seq, hash), the newest row appended.
    head: Option<(i64, String)>,
    /// A write (a lost connection then says that nothing was saved), not a read.
    writing: bool,
    /// The newest audit row, not yet sent: it goes with the next statement, or in COMMIT's
    /// round trip.
    pending: RefCell<Option<AuditRow>>,
    /// A statement failed: the server's transaction is aborted and would not commit.
    failed: Cell<bool>,
    /// The reads the write's first round trip made, until its first change.
    ahead: RefCell<Ahead>,
    /// This value began the transaction and has not ended it: dropping it rolls back.
    open: Cell<bool>,
    /// The statement that checks the schema mark once more just before COMMIT
    /// ([`pg_schema::mark_check_sql`]), for a write begun by [`PgDb::write_ahead`].
    mark_check: Option<String>,
}

/// No reads ahead: what `Store::write` sends.
const NO_AHEAD: ReadAhead = ReadAhead {
    staff: None,
    patient_mrn: None,
    rates: false,
};

impl ReadAhead {
    fn wants_any(&self) -> bool {
        self.staff.is_some() || self.patient_mrn.is_some()
    }
}

/// The patient whose MRN `patient_by_mrn` is given `$1`, as that read finds them.
const PATIENT_BY_MRN: &str = "FROM patient_current WHERE id IN ( \
       SELECT id FROM patient WHERE mrn = $1 \
       UNION SELECT patient_id FROM patient_version WHERE mrn = $1) \
     AND mrn = $1";

/// The patient found by the read-ahead, for the statements after it in the same round trip
/// (a setting local to the write's transaction; empty when no patient was found).
const AHEAD_PATIENT: &str = "NULLIF(current_setting('titrate.ahead_patient', true), '')::bigint";

/// The read-ahead statements (name, parameters, SQL), prepared with the lock statement:
/// each is the same query as the `Reader` method it stands for, the patient's found by
/// MRN once, and the rates of each of the patient's courses in one read.
fn ahead_sql() -> Vec<(&'static str, &'static str, String)> {
    vec![
        (
            "titrate_ahead_staff",
            "(text)",
            format!("SELECT {} FROM staff WHERE id = $1", rows::STAFF_COLUMNS),
        ),
        (
            "titrate_ahead_patient",
            "(text)",
            format!(
                "SELECT {PATIENT_COLUMNS}, set_config('titrate.ahead_patient', id::text, true) \
                 {PATIENT_BY_MRN}"
            ),
        ),
        (
            "titrate_ahead_courses",
            "",
            format!(
                "SELECT c.id, c.patient_id, c.protocol_id, p.snapshot, c.created_at \
                 FROM course c JOIN protocol p ON p.id = c.protocol_id \
                 WHERE c.patient_id = {AHEAD_PATIENT} ORDER BY c.id"
            ),
        ),
        (
            "titrate_ahead_bounds",
            "",
            format!(
                "SELECT {} FROM course c \
                 JOIN entry e ON e.course_id = c.id AND e.kind IN ('course-start', 'course-end') \
                 LEFT JOIN void v ON v.entry_id = e.id WHERE c.patient_id = {AHEAD_PATIENT} \
                 ORDER BY e.id",
                rows::ENTRY_COLUMNS
            ),
        ),
        (
            "titrate_ahead_rates",
            "",
            format!(
                "SELECT e.course_id, e.id, e.supersedes, e.happened_at, e.rate_centi, \
                        v.id IS NOT NULL \
                 FROM entry e LEFT JOIN void v ON v.entry_id = e.id \
                 WHERE e.course_id IN (SELECT id FROM course WHERE patient_id = {AHEAD_PATIENT}) \
                   AND e.kind = 'rate' ORDER BY e.id"
            ),
        ),
    ]
}

/// What a write's first round trip read after the lock, each with what it answers; empty
/// once the write changed anything.
#[derive(Default)]
struct Ahead {
    /// `staff` of this id.
    staff: Option<(String, Option<Staff>)>,
    /// `patient_by_mrn` of this MRN.
    patient: Option<(String, Option<Patient>)>,
    of_patient: Option<OfPatient>,
}

/// `courses_of` and `course_bounds_of` the patient `id`, and (when read) `rate_versions_of`
/// each of their courses.
struct OfPatient {
    id: PatientId,
    courses: Vec<Course>,
    bounds: Vec<Entry>,
    rates: Option<HashMap<CourseId, Vec<Version<RatePoint>>>>,
}

/// How a write's COMMIT went.
enum Committed {
    Yes,
    /// The connection failed while COMMIT was under way: the write's last audit row (seq,
    /// hash) is on the server exactly when the write was saved.
    Unknown {
        seq: i64,
        hash: String,
    },
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if self.open.get() {
            // An error (or a panic) left the transaction open: nothing of it is kept.
            let _ = self.client.get_mut().batch_execute("ROLLBACK");
        }
    }
}

/// A COMMIT (with the audit row before it) that the server answered with an ERROR was
/// rolled back: PostgreSQL reports nothing worse than a WARNING once the commit record is
/// written (a cancelled wait for the replica is a warning, and the commit stands). A FATAL
/// or PANIC (a shutdown, a terminated session) ends the session without saying how the
/// commit went, as does a lost connection: those are unknown.
fn rolled_back_for_sure(e: &postgres::Error) -> bool {
    use postgres::error::Severity;
    let Some(db) = e.as_db_error() else {
        return false;
    };
    // Class 08 (connection) and 57 (shutdown, crash) say the session is going, whatever
    // the severity a server reports them with.
    let class = &db.code().code()[..2];
    db.parsed_severity() == Some(Severity::Error) && !matches!(class, "08" | "57")
}

/// A new row of `table` refused because the id its sequence gave is taken: the sequence was
/// set back behind titrate's back (nothing else that is unique was taken, which was looked
/// at first).
fn id_taken(table: &str) -> StoreError {
    corrupt(format!(
        "the id the server gave a new {table} row is taken already: {table}_id_seq was set back behind titrate's back; nothing was saved (the database owner sets it past the highest id: SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table})))"
    ))
}

/// Oids as an array literal of a simple query.
fn oid_array(v: &[u32]) -> String {
    let each: Vec<String> = v.iter().map(u32::to_string).collect();
    format!("'{{{}}}'", each.join(","))
}

/// A text as an SQL literal that means the same whatever standard_conforming_strings says.
fn literal(s: &str) -> String {
    format!("E'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

fn opt_literal(s: Option<&str>) -> String {
    s.map_or_else(|| "NULL".to_string(), literal)
}

/// The audit row's append as one statement of a simple query (sent with COMMIT).
fn append_sql(row: &AuditRow) -> String {
    format!(
        "SELECT append_audit({}::bigint, {}::text, {}::text, {}::text, {}::text, {}::text, {}::text, {}::text, {}::text)",
        row.seq,
        literal(&row.at),
        literal(&row.actor),
        literal(&row.action),
        opt_literal(row.tbl.as_deref()),
        opt_literal(row.row_key.as_deref()),
        literal(&row.content),
        literal(&row.prev_hash),
        literal(&row.hash),
    )
}

const APPEND_SQL: &str = "SELECT append_audit($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// The SQL type a column of `ty` has in schema-postgres.sql.
fn pg_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Integer => "bigint",
        ColumnType::Real => "double precision",
        ColumnType::Text | ColumnType::Secret => "text",
    }
}

/// A text column's value as the canonical formatter takes it.
enum Owned {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Other(String, String),
}

impl Owned {
    fn value(&self) -> Value<'_> {
        match self {
            Owned::Null => Value::Null,
            Owned::Integer(i) => Value::Integer(*i),
            Owned::Real(r) => Value::Real(*r),
            Owned::Text(t) => Value::Text(t.as_bytes()),
            Owned::Other(kind, text) => Value::Other { kind, text },
        }
    }
}

/// Column `i` of `row`, read as the declared type `ty`; `other` names the stored type when
/// it is not the declared one (the column was then selected as text).
fn owned_at(row: &Row, i: usize, ty: ColumnType, other: Option<&str>) -> Result<Owned, StoreError> {
    if let Some(kind) = other {
        return Ok(match row.try_get::<_, Option<String>>(i)? {
            None => Owned::Null,
            Some(t) => Owned::Other(kind.to_string(), t),
        });
    }
    Ok(match ty {
        ColumnType::Integer => row
            .try_get::<_, Option<i64>>(i)?
            .map_or(Owned::Null, Owned::Integer),
        ColumnType::Real => row
            .try_get::<_, Option<f64>>(i)?
            .map_or(Owned::Null, Owned::Real),
        ColumnType::Text | ColumnType::Secret => row
            .try_get::<_, Option<String>>(i)?
            .map_or(Owned::Null, Owned::Text),
    })
}

fn canonical_of(row: &Row, first: usize, columns: &[Column]) -> Result<String, StoreError> {
    let owned: Vec<Owned> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| owned_at(row, first + i, c.ty, None))
        .collect::<Result<_, _>>()?;
    let values: Vec<Value> = owned.iter().map(Owned::value).collect();
    Ok(canonical_values(&values, columns))
}

fn column_list(columns: &[Column]) -> String {
    let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
    names.join(", ")
}

/// `RETURNING` the columns of `spec`, then whether the row as stored holds every value
/// `sql` (an `INSERT INTO t (columns) VALUES (values)` or an `UPDATE t SET c = v, ...
/// WHERE ...` of titrate's own) sent: a trigger or rule that changed a value on the way in
/// makes it false, and the write is refused before its audit row is made
/// ([`PgTx::audit_returned`]). The last statement before COMMIT finds such a trigger as a
/// moved mark too; this finds the row itself, whoever changed it.
fn returning_as_sent(spec: &Audited, sql: &str) -> Result<String, StoreError> {
    let unread = || StoreError::Database(format!("titrate cannot read its own statement: {sql}"));
    let list = |s: &str| -> Vec<String> { s.split(',').map(|x| x.trim().to_string()).collect() };
    let (columns, values) = if let Some(rest) = sql.strip_prefix("INSERT INTO ") {
        let open = rest.find('(').ok_or_else(unread)?;
        let close = rest.find(')').ok_or_else(unread)?;
        let values = rest.find(" VALUES (").ok_or_else(unread)? + " VALUES (".len();
        let end = rest.rfind(')').ok_or_else(unread)?;
        if !(open < close && close < values && values <= end) {
            return Err(unread());
        }
        (list(&rest[open + 1..close]), list(&rest[values..end]))
    } else if sql.starts_with("UPDATE ") {
        let set = sql.find(" SET ").ok_or_else(unread)? + " SET ".len();
        let end = sql.find(" WHERE ").ok_or_else(unread)?;
        let mut columns = Vec::new();
        let mut values = Vec::new();
        for pair in sql.get(set..end).ok_or_else(unread)?.split(',') {
            let (c, v) = pair.split_once('=').ok_or_else(unread)?;
            columns.push(c.trim().to_string());
            values.push(v.trim().to_string());
        }
        (columns, values)
    } else {
        return Err(unread());
    };
    if columns.len() != values.len() || columns.iter().any(String::is_empty) {
        return Err(unread());
    }
    Ok(format!(
        " RETURNING {}, ROW({}) IS NOT DISTINCT FROM ROW({})",
        column_list(spec.columns),
        columns.join(", "),
        values.join(", ")
    ))
}

/// The key of an audited row as the audit log writes it.
fn key_at(row: &Row, i: usize, ty: ColumnType) -> Result<String, StoreError> {
    Ok(match ty {
        ColumnType::Integer => row.try_get::<_, i64>(i)?.to_string(),
        _ => row.try_get::<_, String>(i)?,
    })
}

fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}

/// A row's columns by position: a typed row (the extended protocol's binary values) or a
/// text row of a simple query (what the write's first round trip brings back), so that one
/// decoder reads both.
trait Cells {
    fn text(&self, i: usize) -> Result<Option<&str>, StoreError>;
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError>;
    fn real(&self, i: usize) -> Result<Option<f64>, StoreError>;
    fn boolean(&self, i: usize) -> Result<Option<bool>, StoreError>;
}

impl Cells for Row {
    fn text(&self, i: usize) -> Result<Option<&str>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn real(&self, i: usize) -> Result<Option<f64>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn boolean(&self, i: usize) -> Result<Option<bool>, StoreError> {
        Ok(self.try_get(i)?)
    }
}

/// Text as PostgreSQL writes it: bigint in decimal, double precision in the shortest form
/// that reads back exactly (the write sets extra_float_digits for it), boolean as t or f.
impl Cells for postgres::SimpleQueryRow {
    fn text(&self, i: usize) -> Result<Option<&str>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.text(i)?
            .map(|t| {
                t.parse()
                    .map_err(|_| corrupt(format!("column {i}: \"{t}\" is not an integer")))
            })
            .transpose()
    }
    fn real(&self, i: usize) -> Result<Option<f64>, StoreError> {
        self.text(i)?
            .map(|t| {
                t.parse()
                    .map_err(|_| corrupt(format!("column {i}: \"{t}\" is not a number")))
            })
            .transpose()
    }
    fn boolean(&self, i: usize) -> Result<Option<bool>, StoreError> {
        match self.text(i)? {
            None => Ok(None),
            Some("t") => Ok(Some(true)),
            Some("f") => Ok(Some(false)),
            Some(t) => Err(corrupt(format!("column {i}: \"{t}\" is not a boolean"))),
        }
    }
}

fn need<T>(v: Option<T>, i: usize) -> Result<T, StoreError> {
    v.ok_or_else(|| corrupt(format!("column {i} is empty (NULL)")))
}

fn text_of(row: &(impl Cells + ?Sized), i: usize) -> Result<String, StoreError> {
    Ok(need(row.text(i)?, i)?.to_string())
}

fn opt_text(row: &(impl Cells + ?Sized), i: usize) -> Result<Option<String>, StoreError> {
    Ok(row.text(i)?.map(str::to_string))
}

fn int_of(row: &(impl Cells + ?Sized), i: usize) -> Result<i64, StoreError> {
    need(row.int(i)?, i)
}

fn instant_at(row: &(impl Cells + ?Sized), i: usize) -> Result<Instant, StoreError> {
    rows::instant(need(row.text(i)?, i)?)
}

fn flag(row: &(impl Cells + ?Sized), i: usize) -> Result<bool, StoreError> {
    Ok(row.int(i)? == Some(1))
}

fn staff_of(row: &(impl Cells + ?Sized)) -> Result<Staff, StoreError> {
    Ok(Staff {
        id: text_of(row, 0)?,
        name: text_of(row, 1)?,
        role: rows::word(need(row.text(2)?, 2)?)?,
        pin_hash: text_of(row, 3)?,
        active: flag(row, 4)?,
        failed_pins: u32::try_from(int_of(row, 5)?).unwrap_or(u32::MAX),
        locked: flag(row, 6)?,
    })
}

/// A patient's details in columns 1 to 8 (mrn to limb).
fn details_of(row: &(impl Cells + ?Sized)) -> Result<NewPatient, StoreError> {
    Ok(NewPatient {
        mrn: text_of(row, 1)?,
        name: text_of(row, 2)?,
        birth_date: rows::date(need(row.text(3)?, 3)?)?,
        sex: rows::word(need(row.text(4)?, 4)?)?,
        weight_kg: row.real(5)?,
        crps_type: rows::opt_word(opt_text(row, 6)?)?,
        crps_onset: row.text(7)?.map(rows::date).transpose()?,
        limb: opt_text(row, 8)?,
    })
}

fn patient_of(row: &(impl Cells + ?Sized)) -> Result<Patient, StoreError> {
    Ok(Patient {
        id: int_of(row, 0)?,
        data: details_of(row)?,
        created_at: instant_at(row, 9)?,
        created_by: text_of(row, 10)?,
    })
}

fn patient_version_of(row: &Row) -> Result<PatientVersion, StoreError> {
    Ok(PatientVersion {
        version: u32::try_from(row.try_get::<_, i64>(0)?)
            .map_err(|_| corrupt("patient version out of range"))?,
        data: details_of(row)?,
        reason: row.try_get(9)?,
        recorded_at: instant_at(row, 10)?,
        recorded_by: row.try_get(11)?,
    })
}

fn entry_of(row: &(impl Cells + ?Sized)) -> Result<Entry, StoreError> {
    let kind_text = need(row.text(3)?, 3)?;
    let kind = EntryKind::parse(kind_text)
        .ok_or_else(|| corrupt(format!("unknown entry kind \"{kind_text}\"")))?;
    let rate = || -> Result<_, StoreError> {
        rows::rate(row.int(10)?.ok_or_else(|| corrupt("rate missing"))?)
    };
    let need = |s: Option<String>, what: &str| s.ok_or_else(|| corrupt(format!("{what} missing")));
    let data = match kind {
        EntryKind::CourseStart => EntryData::CourseStart {
            bed: opt_text(row, 21)?,
        },
        EntryKind::Rate => EntryData::Rate {
            rate: rate()?,
            confirmed: flag(row, 11)?,
            confirm_reason: opt_text(row, 12)?,
        },
        EntryKind::Nrs => {
            let s: i64 = row.int(13)?.ok_or_else(|| corrupt("score missing"))?;
            EntryData::Nrs {
                score: Nrs::new(s).map_err(|e| corrupt(e.to_string()))?,
                timepoint: rows::opt_word(opt_text(row, 14)?)?,
            }
        }
        EntryKind::SideEffect => EntryData::SideEffect {
            effect: need(opt_text(row, 15)?, "side effect kind")?,
            detail: opt_text(row, 16)?,
            severity: rows::word(&need(opt_text(row, 17)?, "severity")?)?,
            action: rows::word(&need(opt_text(row, 18)?, "action")?)?,
            rate_at: rate()?,
        },
        EntryKind::Success => EntryData::Success {
            timepoint: rows::word(&need(opt_text(row, 14)?, "timepoint")?)?,
            successful: flag(row, 19)?,
        },
        EntryKind::CourseEnd => EntryData::CourseEnd {
            reason: rows::word(&need(opt_text(row, 20)?, "end reason")?)?,
        },
    };
    let void = match opt_text(row, 22)? {
        Some(reason) => Some(Void {
            reason,
            voided_at: instant_at(row, 23)?,
            voided_by: text_of(row, 24)?,
        }),
        None => None,
    };
    Ok(Entry {
        id: int_of(row, 0)?,
        patient_id: int_of(row, 1)?,
        course_id: row.int(2)?,
        supersedes: row.int(4)?,
        amend_reason: opt_text(row, 5)?,
        happened_at: instant_at(row, 6)?,
        recorded_at: instant_at(row, 7)?,
        recorded_by: text_of(row, 8)?,
        late: flag(row, 9)?,
        void,
        data,
    })
}

/// A course in columns `first` to `first + 4` (id, patient, protocol id, the protocol's
/// snapshot, created at), each protocol parsed once per read (`parsed`).
fn course_of(
    row: &(impl Cells + ?Sized),
    first: usize,
    parsed: &mut HashMap<i64, Arc<Protocol>>,
) -> Result<Course, StoreError> {
    let protocol_id = int_of(row, first + 2)?;
    let protocol = match parsed.get(&protocol_id) {
        Some(p) => Arc::clone(p),
        None => {
            let p = Arc::new(protocol_of(need(row.text(first + 3)?, first + 3)?)?);
            parsed.insert(protocol_id, Arc::clone(&p));
            p
        }
    };
    Ok(Course {
        id: int_of(row, first)?,
        patient_id: int_of(row, first + 1)?,
        protocol_id,
        protocol,
        created_at: instant_at(row, first + 4)?,
    })
}

/// A rate version in columns `first` to `first + 4` (id, supersedes, happened at, rate,
/// voided).
fn rate_version_of(
    row: &(impl Cells + ?Sized),
    first: usize,
) -> Result<Version<RatePoint>, StoreError> {
    let at = instant_at(row, first + 2)?;
    Ok(Version {
        id: int_of(row, first)?,
        supersedes: row.int(first + 1)?,
        voided: need(row.boolean(first + 4)?, first + 4)?,
        at,
        item: RatePoint {
            at,
            rate: rows::rate(int_of(row, first + 3)?)?,
        },
    })
}

fn mark_of(row: &Row) -> Result<Mark, StoreError> {
    let kind: String = row.try_get(2)?;
    let what = match kind.as_str() {
        "course-start" => MarkKind::Start,
        "course-end" => MarkKind::End,
        "success" => MarkKind::Report {
            timepoint: rows::word(
                &row.try_get::<_, Option<String>>(4)?
                    .ok_or_else(|| corrupt("timepoint missing"))?,
            )?,
            successful: flag(row, 5)?,
        },
        other => return Err(corrupt(format!("\"{other}\" is not a course mark"))),
    };
    Ok(Mark {
        id: row.try_get(0)?,
        course_id: row.try_get(1)?,
        at: instant_at(row, 3)?,
        what,
    })
}

fn score_of(row: &Row, first: usize) -> Result<Score, StoreError> {
    let s: i64 = row.try_get(first + 2)?;
    Ok(Score {
        id: row.try_get(first)?,
        at: instant_at(row, first + 1)?,
        score: Nrs::new(s).map_err(|e| corrupt(e.to_string()))?,
        tag: row
            .try_get::<_, Option<String>>(first + 3)?
            .map(|t| rows::word(&t))
            .transpose()?,
    })
}

fn protocol_of(snapshot: &str) -> Result<Protocol, StoreError> {
    Protocol::from_snapshot(snapshot).map_err(|e| corrupt(format!("protocol snapshot: {e}")))
}

const PATIENT_COLUMNS: &str = rows::PATIENT_COLUMNS;

impl<'a> PgTx<'a> {
    fn new(
        client: &'a mut Client,
        statements: &'a mut HashMap<String, Statement>,
        shown: &'a str,
        namespace: u32,
        schema: &'a str,
        writing: bool,
    ) -> PgTx<'a> {
        PgTx {
            client: RefCell::new(client),
            statements: RefCell::new(statements),
            shown,
            schema,
            namespace,
            actor: String::new(),
            now: chrono::Utc::now(),
            head: None,
            writing,
            pending: RefCell::new(None),
            failed: Cell::new(false),
            ahead: RefCell::new(Ahead::default()),
            open: Cell::new(true),
            mark_check: None,
        }
    }
}

impl PgTx<'_> {
    /// The server's failure, in the store's words: a write that loses its connection before
    /// COMMIT saved nothing, and says so.
    fn error(&self, e: postgres::Error) -> StoreError {
        self.failed.set(true);
        match StoreError::from(e) {
            StoreError::Unavailable(why) if self.writing => StoreError::Unavailable(format!(
                "{why}, before the write was committed ({}): nothing was saved",
                self.shown
            )),
            // The server refused a statement of the write (a statement timeout, a changed
            // table): its transaction is aborted and can only roll back.
            StoreError::Database(why) if self.writing => StoreError::Database(format!(
                "{why} (the write was rolled back: nothing was saved)"
            )),
            other => other,
        }
    }

    fn stmt(&self, sql: &str) -> Result<Statement, StoreError> {
        let mut cache = self.statements.borrow_mut();
        if let Some(s) = cache.get(sql) {
            return Ok(s.clone());
        }
        let s = self
            .client
            .borrow_mut()
            .prepare(sql)
            .map_err(|e| self.error(e))?;
        cache.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    /// A change: from here on the write's reads see it, and what was read ahead may not.
    fn forget_ahead(&self) {
        self.ahead.take();
    }

    /// Sends the audit row that waits for a round trip, before a statement that may read it.
    fn flush_audit(&self) -> Result<(), StoreError> {
        let Some(row) = self.pending.borrow_mut().take() else {
            return Ok(());
        };
        let s = self.stmt(APPEND_SQL)?;
        self.client
            .borrow_mut()
            .execute(
                &s,
                &[
                    &row.seq,
                    &row.at,
                    &row.actor,
                    &row.action,
                    &row.tbl,
                    &row.row_key,
                    &row.content,
                    &row.prev_hash,
                    &row.hash,
                ],
            )
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    fn query(&self, sql: &str, p: Params) -> Result<Vec<Row>, StoreError> {
        self.flush_audit()?;
        let s = self.stmt(sql)?;
        let r = self.client.borrow_mut().query(&s, p);
        r.map_err(|e| self.error(e))
    }

    fn query_opt(&self, sql: &str, p: Params) -> Result<Option<Row>, StoreError> {
        self.flush_audit()?;
        let s = self.stmt(sql)?;
        let r = self.client.borrow_mut().query_opt(&s, p);
        r.map_err(|e| self.error(e))
    }

    /// Ends a read.
    fn finish_read(self) -> Result<(), StoreError> {
        self.open.set(false);
        let r = self.client.borrow_mut().batch_execute("COMMIT");
        r.map_err(|e| self.error(e))
    }

    /// Commits a write: the last audit row and COMMIT in one round trip.
    fn commit(self, began_at: i64) -> Result<Committed, StoreError> {
        if self.failed.get() {
            // The server refuses everything after a failed statement; COMMIT would only
            // roll back. Dropping self rolls back.
            return Err(StoreError::Database(
                "a statement of the write failed, so the write was rolled back: nothing was saved"
                    .into(),
            ));
        }
        let pending = self.pending.borrow_mut().take();
        // The schema mark once more, after the write's last statement and before COMMIT:
        // a change committed while the write waited for a table's lock is found here, and
        // COMMIT is then not run (the rest of a simple query is skipped after an error).
        // The deferred triggers (audit_follows_head) fire first, so that nothing of the
        // schema's runs after that look: a trigger function replaced in between would
        // otherwise run at COMMIT unseen.
        let commit = match &self.mark_check {
            Some(check) => format!("SET CONSTRAINTS ALL IMMEDIATE; {check}; COMMIT"),
            None => "COMMIT".to_string(),
        };
        let sql = match &pending {
            // A NUL cannot travel in a simple query: that row goes on its own (and is refused
            // by the server, which takes no NUL in text).
            Some(row) if append_sql(row).contains('\0') => {
                *self.pending.borrow_mut() = Some(row.clone());
                self.flush_audit()?;
                commit
            }
            Some(row) => format!("{}; {commit}", append_sql(row)),
            None => commit,
        };
        let r = self.client.borrow_mut().batch_execute(&sql);
        let Err(e) = r else {
            self.open.set(false);
            return Ok(Committed::Yes);
        };
        if rolled_back_for_sure(&e) {
            // The server answered with an error: the transaction is aborted (or ended);
            // dropping self rolls back what is left of it.
            return Err(self.error(e));
        }
        self.open.set(false);
        match &self.head {
            Some((seq, hash)) if *seq > began_at => Ok(Committed::Unknown {
                seq: *seq,
                hash: hash.clone(),
            }),
            // No audit row, so no row: the write had nothing to save.
            _ => Ok(Committed::Yes),
        }
    }

    /// Inserts one row of an audited table and appends its audit row, the content made from
    /// the row as the server stored it (RETURNING, one round trip). None when a UNIQUE
    /// constraint refused the row (ON CONFLICT DO NOTHING: the transaction stays usable, as
    /// SQLite's does after a constraint error).
    fn insert_audited(
        &mut self,
        table: &str,
        insert: &str,
        p: Params,
        action: &str,
    ) -> Result<Option<String>, StoreError> {
        let spec = audited_table(table)
            .ok_or_else(|| corrupt(format!("{table} is not an audited table")))?;
        let sql = format!(
            "{insert} ON CONFLICT DO NOTHING{}",
            returning_as_sent(spec, insert)?
        );
        let Some(row) = self.query_opt(&sql, p)? else {
            return Ok(None);
        };
        let key = self.audit_returned(spec, &row, action)?;
        Ok(Some(key))
    }

    /// The audit row of a row just returned by an INSERT or UPDATE of `spec`'s columns.
    fn audit_returned(
        &mut self,
        spec: &Audited,
        row: &Row,
        action: &str,
    ) -> Result<String, StoreError> {
        let key_index = spec
            .columns
            .iter()
            .position(|c| c.name == spec.key)
            .ok_or_else(|| corrupt(format!("{} has no key column", spec.table)))?;
        let key = key_at(row, key_index, spec.columns[key_index].ty)?;
        // `returning_as_sent`'s last column: the row holds what titrate sent and checked.
        if !row.try_get::<_, bool>(spec.columns.len())? {
            return Err(StoreError::SchemaChanged(format!(
                "the {} row was stored with other values than titrate sent (a trigger or rule changed it on the way in)",
                spec.table
            )));
        }
        let content = canonical_of(row, 0, spec.columns)?;
        self.append_audit(action, Some(spec.table), Some(&key), content)?;
        Ok(key)
    }

    fn audit_row_write(&mut self, action: &str, table: &str, key: &str) -> Result<(), StoreError> {
        let spec = audited_table(table)
            .ok_or_else(|| corrupt(format!("{table} is not an audited table")))?;
        let sql = format!(
            "SELECT {} FROM {table} WHERE {} = $1",
            column_list(spec.columns),
            spec.key
        );
        let key_ty = spec
            .columns
            .iter()
            .find(|c| c.name == spec.key)
            .map_or(ColumnType::Text, |c| c.ty);
        let row = match key_ty {
            ColumnType::Integer => {
                let k: i64 = key
                    .parse()
                    .map_err(|_| corrupt(format!("{table} key {key} is not a number")))?;
                self.query_opt(&sql, &[&k])?
            }
            _ => self.query_opt(&sql, &[&key])?,
        };
        let row = row.ok_or_else(|| corrupt(format!("{table} row {key} vanished")))?;
        let content = canonical_of(&row, 0, spec.columns)?;
        self.append_audit(action, Some(table), Some(key), content)
    }

    fn append_audit(
        &mut self,
        action: &str,
        tbl: Option<&str>,
        row_key: Option<&str>,
        content: String,
    ) -> Result<(), StoreError> {
        let (head_seq, head_hash) = self
            .head
            .clone()
            .ok_or_else(|| StoreError::Database("an audit row outside a write".into()))?;
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
        self.forget_ahead();
        // The audit row and the head's move in one call (schema-postgres.sql), sent with the
        // next statement's round trip or with COMMIT's.
        self.flush_audit()?;
        self.head = Some((row.seq, row.hash.clone()));
        *self.pending.borrow_mut() = Some(row);
        Ok(())
    }

    fn query_entries(&self, where_sql: &str, p: Params) -> Result<Vec<Entry>, StoreError> {
        let select = rows::entry_select();
        self.collect_entries(&format!("{select} {where_sql} ORDER BY e.id"), p)
    }

    fn collect_entries(&self, sql: &str, p: Params) -> Result<Vec<Entry>, StoreError> {
        self.query(sql, p)?.iter().map(entry_of).collect()
    }

    fn query_courses(&self, where_sql: &str, p: Params) -> Result<Vec<Course>, StoreError> {
        let sql = format!(
            "SELECT c.id, c.patient_id, c.protocol_id, p.snapshot, c.created_at \
             FROM course c JOIN protocol p ON p.id = c.protocol_id {where_sql} ORDER BY c.id"
        );
        let mut parsed: HashMap<i64, Arc<Protocol>> = HashMap::new();
        self.query(&sql, p)?
            .iter()
            .map(|row| course_of(row, 0, &mut parsed))
            .collect()
    }

    /// Every course: the protocol snapshots travel once each, not once per course (the
    /// cohort reads tens of thousands of courses under a handful of protocols).
    fn every_course(&self) -> Result<Vec<Course>, StoreError> {
        let rows = self.query(
            "SELECT c.id, c.patient_id, c.protocol_id, c.created_at FROM course c ORDER BY c.id",
            &[],
        )?;
        // Every protocol version the record holds: a handful, however many courses.
        let mut parsed: HashMap<i64, Arc<Protocol>> = HashMap::new();
        for row in self.query("SELECT id, snapshot FROM protocol", &[])? {
            let snapshot: String = row.try_get(1)?;
            parsed.insert(row.try_get(0)?, Arc::new(protocol_of(&snapshot)?));
        }
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let (id, protocol_id): (i64, i64) = (row.try_get(0)?, row.try_get(2)?);
            let protocol = parsed.get(&protocol_id).cloned().ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "course {id} names protocol {protocol_id}, which is not there"
                ))
            })?;
            out.push(Course {
                id,
                patient_id: row.try_get(1)?,
                protocol_id,
                protocol,
                created_at: instant_at(&row, 3)?,
            });
        }
        Ok(out)
    }

    fn version(&self) -> Result<i64, StoreError> {
        self.flush_audit()?;
        let mut c = self.client.borrow_mut();
        Ok(stored_version(&mut **c, self.namespace)?.unwrap_or(0))
    }

    /// (name, type) of the table's columns as they are now, None when it is not a table.
    fn present_columns(&self, table: &str) -> Result<Option<Vec<(String, String)>>, StoreError> {
        self.flush_audit()?;
        if !table_exists(&mut **self.client.borrow_mut(), self.namespace, table)? {
            return Ok(None);
        }
        let rows = self.query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) \
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
             WHERE c.relnamespace = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
            &[&self.namespace, &table],
        )?;
        Ok(Some(
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, StoreError>>()?,
        ))
    }
}

impl PgTx<'_> {
    /// Each row of a query given to `f` as the server sends it (`query_raw`: the driver
    /// does not gather the result), inside this transaction.
    fn each_raw(
        &self,
        sql: &str,
        p: Params,
        f: &mut dyn FnMut(&Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.flush_audit()?;
        let s = self.stmt(sql)?;
        let mut client = self.client.borrow_mut();
        let mut rows = client
            .query_raw(&s, p.iter().copied())
            .map_err(|e| self.error(e))?;
        while let Some(row) = postgres::fallible_iterator::FallibleIterator::next(&mut rows)
            .map_err(|e| self.error(e))?
        {
            f(&row)?;
        }
        Ok(())
    }

    /// How an audited table's rows are read as `table_rows` gives them, or None when it is
    /// not a table (missing, or a view in its place) or has no key column: then nothing of
    /// it is read.
    fn table_read(&self, table: &str) -> Result<Option<TableRead>, StoreError> {
        let spec = audited_table(table)
            .ok_or_else(|| corrupt(format!("{table} is not an audited table")))?;
        let Some(present) = self.present_columns(table)? else {
            return Ok(None);
        };
        // The columns the table has; a column titrate created and someone dropped is
        // missing from the content, which then differs from its audit rows. A column whose
        // type was changed is read as text and written as "stored_as" that type.
        let mut columns: Vec<Column> = Vec::new();
        let mut selects: Vec<String> = Vec::new();
        let mut others: Vec<Option<String>> = Vec::new();
        for c in spec.columns {
            let Some((_, ty)) = present.iter().find(|(n, _)| n == c.name) else {
                continue;
            };
            columns.push(*c);
            if ty == pg_type(c.ty) {
                selects.push(format!("t.{}", c.name));
                others.push(None);
            } else {
                selects.push(format!("t.{}::text", c.name));
                others.push(Some(ty.clone()));
            }
        }
        let Some((_, key_ty)) = present.iter().find(|(n, _)| n == spec.key) else {
            return Ok(None);
        };
        let key_is_int = key_ty == "bigint";
        // Qualified: the key as text is an output column of the same name.
        let order = if key_is_int {
            format!("t.{}", spec.key)
        } else {
            format!("t.{} COLLATE \"C\"", spec.key)
        };
        Ok(Some(TableRead {
            key: spec.key,
            columns,
            selects,
            others,
            order,
        }))
    }
}

/// See [`PgTx::table_read`].
struct TableRead {
    key: &'static str,
    columns: Vec<Column>,
    /// The select expression of each of `columns`, over the table as `t`.
    selects: Vec<String>,
    /// The type a column now has where it is not the one titrate gave it.
    others: Vec<Option<String>>,
    order: String,
}

impl TableRead {
    /// The canonical content of a row whose `columns` start at column `first`.
    fn canonical(&self, row: &Row, first: usize) -> Result<String, StoreError> {
        let owned: Vec<Owned> = self
            .columns
            .iter()
            .zip(&self.others)
            .enumerate()
            .map(|(i, (c, other))| owned_at(row, first + i, c.ty, other.as_deref()))
            .collect::<Result<_, _>>()?;
        let values: Vec<Value> = owned.iter().map(Owned::value).collect();
        Ok(canonical_values(&values, &self.columns))
    }
}

impl Reader for PgTx<'_> {
    fn staff(&self, id: &str) -> Result<Option<Staff>, StoreError> {
        if let Some((k, found)) = &self.ahead.borrow().staff
            && k == id
        {
            return Ok(found.clone());
        }
        let sql = format!("SELECT {} FROM staff WHERE id = $1", rows::STAFF_COLUMNS);
        self.query_opt(&sql, &[&id])?
            .as_ref()
            .map(staff_of)
            .transpose()
    }

    fn staff_list(&self) -> Result<Vec<Staff>, StoreError> {
        // Byte order, as SQLite sorts, whatever the database's collation.
        let sql = format!(
            "SELECT {} FROM staff ORDER BY id COLLATE \"C\"",
            rows::STAFF_COLUMNS
        );
        self.query(&sql, &[])?.iter().map(staff_of).collect()
    }

    fn patient_by_mrn(&self, mrn: &str) -> Result<Option<Patient>, StoreError> {
        if let Some((k, found)) = &self.ahead.borrow().patient
            && k == mrn
        {
            return Ok(found.clone());
        }
        let sql = format!("SELECT {PATIENT_COLUMNS} {PATIENT_BY_MRN}");
        self.query_opt(&sql, &[&mrn])?
            .as_ref()
            .map(patient_of)
            .transpose()
    }

    fn patient(&self, id: PatientId) -> Result<Option<Patient>, StoreError> {
        let sql = format!("SELECT {PATIENT_COLUMNS} FROM patient_current WHERE id = $1");
        self.query_opt(&sql, &[&id])?
            .as_ref()
            .map(patient_of)
            .transpose()
    }

    fn patients(&self) -> Result<Vec<Patient>, StoreError> {
        let sql = format!("SELECT {PATIENT_COLUMNS} FROM patient_current ORDER BY id");
        self.query(&sql, &[])?.iter().map(patient_of).collect()
    }

    fn patient_versions(&self, patient: PatientId) -> Result<Vec<PatientVersion>, StoreError> {
        let sql = format!(
            "SELECT 0::bigint, mrn, name, birth_date, sex, weight_kg, crps_type, crps_onset, limb, \
                    NULL::text, created_at, created_by FROM patient WHERE id = $1 \
             UNION ALL SELECT {} FROM patient_version WHERE patient_id = $1 \
             ORDER BY 1",
            rows::PATIENT_VERSION_COLUMNS
        );
        self.query(&sql, &[&patient])?
            .iter()
            .map(patient_version_of)
            .collect()
    }

    fn mrn_owner(&self, mrn: &str) -> Result<Option<PatientId>, StoreError> {
        let row = self.query_opt(
            "SELECT id FROM patient WHERE mrn = $1 \
             UNION SELECT patient_id FROM patient_version WHERE mrn = $1 LIMIT 1",
            &[&mrn],
        )?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    fn ward_patients(&self, ended_since: Instant) -> Result<Vec<Patient>, StoreError> {
        let cols = PATIENT_COLUMNS
            .split(", ")
            .map(|c| format!("p.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        const VOIDED: &str = "(SELECT entry_id FROM void)";
        let sql = format!(
            "SELECT {cols} FROM patient_current p WHERE p.id IN ( \
               SELECT c.patient_id FROM course c WHERE c.id IN ( \
                 SELECT course_id FROM entry \
                 WHERE kind IN ('course-start', 'course-end', 'success') \
                 GROUP BY course_id \
                 HAVING max(CASE WHEN kind = 'course-end' AND id NOT IN {VOIDED} THEN 1 ELSE 0 END) = 0 \
                     OR max(CASE WHEN kind = 'course-end' AND id NOT IN {VOIDED} THEN happened_at END) >= $1)) \
             ORDER BY p.id"
        );
        self.query(&sql, &[&to_db(ended_since)])?
            .iter()
            .map(patient_of)
            .collect()
    }

    fn marks(&self) -> Result<Marks, StoreError> {
        let row = self.query_opt(
            "SELECT (SELECT seq FROM audit_head WHERE id = 1), \
                    (SELECT max(id) FROM entry), (SELECT max(id) FROM void), \
                    (SELECT max(id) FROM patient), (SELECT max(id) FROM patient_version)",
            &[],
        )?;
        let row = row.ok_or_else(|| corrupt("no marks"))?;
        let get = |i: usize| -> Result<i64, StoreError> {
            Ok(row.try_get::<_, Option<i64>>(i)?.unwrap_or(0))
        };
        Ok(Marks {
            audit: get(0)?,
            entry: get(1)?,
            void: get(2)?,
            patient: get(3)?,
            patient_version: get(4)?,
        })
    }

    fn changed_patients(&self, seen: &Marks) -> Result<Vec<PatientId>, StoreError> {
        // Ids are not handed out in commit order: an entry with a smaller id can commit after
        // one with a larger id was seen. The audit log's seq does follow commit order (every
        // writer holds the head's lock until it commits), so what is new is what the audit
        // rows after `seen.audit` name. The id ranges are read as well, so that marks from
        // before (or made by hand) still find everything above them.
        let rows = self.query(
            "WITH a AS MATERIALIZED ( \
               SELECT tbl, row_key::bigint AS k FROM audit \
               WHERE seq > $1 AND tbl IN ('entry', 'void', 'patient', 'patient_version') \
                 AND row_key ~ '^[0-9]{1,18}$') \
             SELECT e.patient_id FROM a JOIN entry e ON a.tbl = 'entry' AND e.id = a.k \
             UNION SELECT e.patient_id FROM a JOIN void v ON a.tbl = 'void' AND v.id = a.k \
                   JOIN entry e ON e.id = v.entry_id \
             UNION SELECT p.id FROM a JOIN patient p ON a.tbl = 'patient' AND p.id = a.k \
             UNION SELECT pv.patient_id FROM a JOIN patient_version pv \
                   ON a.tbl = 'patient_version' AND pv.id = a.k \
             UNION SELECT patient_id FROM entry WHERE id > $2 \
             UNION SELECT e.patient_id FROM void v JOIN entry e ON e.id = v.entry_id WHERE v.id > $3 \
             UNION SELECT id FROM patient WHERE id > $4 \
             UNION SELECT patient_id FROM patient_version WHERE id > $5 \
             ORDER BY 1",
            &[
                &seen.audit,
                &seen.entry,
                &seen.void,
                &seen.patient,
                &seen.patient_version,
            ],
        )?;
        rows.iter()
            .map(|r| Ok(r.try_get::<_, PatientId>(0)?))
            .collect()
    }

    fn courses_of(&self, patient: PatientId) -> Result<Vec<Course>, StoreError> {
        if let Some(of) = &self.ahead.borrow().of_patient
            && of.id == patient
        {
            return Ok(of.courses.clone());
        }
        self.query_courses("WHERE c.patient_id = $1", &[&patient])
    }

    fn all_courses(&self) -> Result<Vec<Course>, StoreError> {
        self.every_course()
    }

    fn protocols(&self) -> Result<Vec<Protocol>, StoreError> {
        self.query("SELECT snapshot FROM protocol ORDER BY id", &[])?
            .iter()
            .map(|r| protocol_of(&r.try_get::<_, String>(0)?))
            .collect()
    }

    fn protocol_versions(&self) -> Result<Vec<ProtocolVersion>, StoreError> {
        let rows = self.query(
            "SELECT p.id, p.digest, p.snapshot, p.created_at, p.created_by, \
                    a.id, a.approved_at, a.approved_by \
             FROM protocol p LEFT JOIN protocol_approval a ON a.protocol_id = p.id ORDER BY p.id",
            &[],
        )?;
        let mut out = Vec::new();
        for row in rows {
            let approval = match row.try_get::<_, Option<i64>>(5)? {
                Some(seq) => Some(Approval {
                    seq,
                    at: instant_at(&row, 6)?,
                    by: row.try_get(7)?,
                }),
                None => None,
            };
            out.push(ProtocolVersion {
                id: row.try_get(0)?,
                digest: row.try_get(1)?,
                protocol: protocol_of(&row.try_get::<_, String>(2)?)?,
                created_at: instant_at(&row, 3)?,
                created_by: row.try_get(4)?,
                approval,
            });
        }
        Ok(out)
    }

    fn entries_of(&self, patient: PatientId) -> Result<Vec<Entry>, StoreError> {
        self.query_entries("WHERE e.patient_id = $1", &[&patient])
    }

    fn entries_of_patients(
        &self,
        patients: &[PatientId],
    ) -> Result<HashMap<PatientId, Vec<Entry>>, StoreError> {
        // One statement for all of them: per patient, each read paid a round trip and a
        // pass over the voids.
        let mut out: HashMap<PatientId, Vec<Entry>> =
            patients.iter().map(|p| (*p, Vec::new())).collect();
        for e in self.query_entries("WHERE e.patient_id = ANY($1)", &[&patients])? {
            out.entry(e.patient_id).or_default().push(e);
        }
        Ok(out)
    }

    fn outcome_marks(&self) -> Result<Vec<Mark>, StoreError> {
        self.query(
            "SELECT id, course_id, kind, happened_at, timepoint, successful FROM entry \
             WHERE kind IN ('course-start', 'course-end', 'success')",
            &[],
        )?
        .iter()
        .map(mark_of)
        .collect()
    }

    fn scores_in(&self, windows: &[ScoreWindow]) -> Result<Vec<(PatientId, Score)>, StoreError> {
        let pids: Vec<i64> = windows.iter().map(|w| w.patient).collect();
        let los: Vec<String> = windows.iter().map(|w| rows::window_bound(w.from)).collect();
        let his: Vec<String> = windows.iter().map(|w| rows::window_bound(w.to)).collect();
        // The windows travel as three arrays, so the whole read is one statement: for each
        // window a range on the entry_score index.
        let rows = self.query(
            "SELECT e.patient_id, e.id, e.happened_at, e.score, e.timepoint \
             FROM unnest($1::bigint[], $2::text[], $3::text[]) AS w (pid, lo, hi) \
             JOIN entry e ON e.patient_id = w.pid AND e.kind = 'nrs' \
                 AND e.happened_at BETWEEN w.lo AND w.hi",
            &[&pids, &los, &his],
        )?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, score_of(r, 1)?)))
            .collect()
    }

    fn retired_entries(&self) -> Result<HashSet<EntryId>, StoreError> {
        let rows = self.query(
            "SELECT supersedes FROM entry WHERE supersedes IS NOT NULL \
             UNION ALL SELECT entry_id FROM void",
            &[],
        )?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    fn entries_of_course(&self, course: CourseId) -> Result<Vec<Entry>, StoreError> {
        self.query_entries("WHERE e.course_id = $1", &[&course])
    }

    fn rate_versions_of(&self, course: CourseId) -> Result<Vec<Version<RatePoint>>, StoreError> {
        if let Some(rates) = self
            .ahead
            .borrow()
            .of_patient
            .as_ref()
            .and_then(|of| of.rates.as_ref())
            .and_then(|r| r.get(&course))
        {
            return Ok(rates.clone());
        }
        let rows = self.query(
            "SELECT e.id, e.supersedes, e.happened_at, e.rate_centi, v.id IS NOT NULL \
             FROM entry e LEFT JOIN void v ON v.entry_id = e.id \
             WHERE e.course_id = $1 AND e.kind = 'rate' ORDER BY e.id",
            &[&course],
        )?;
        rows.iter().map(|row| rate_version_of(row, 0)).collect()
    }

    fn course_bounds_of(&self, patient: PatientId) -> Result<Vec<Entry>, StoreError> {
        if let Some(of) = &self.ahead.borrow().of_patient
            && of.id == patient
        {
            return Ok(of.bounds.clone());
        }
        let sql = format!(
            "SELECT {} FROM course c \
             JOIN entry e ON e.course_id = c.id AND e.kind IN ('course-start', 'course-end') \
             LEFT JOIN void v ON v.entry_id = e.id WHERE c.patient_id = $1 ORDER BY e.id",
            rows::ENTRY_COLUMNS
        );
        self.collect_entries(&sql, &[&patient])
    }

    fn all_course_bounds(&self) -> Result<Vec<Entry>, StoreError> {
        let sql = format!(
            "SELECT {} FROM course c \
             JOIN entry e ON e.course_id = c.id AND e.kind IN ('course-start', 'course-end') \
             LEFT JOIN void v ON v.entry_id = e.id ORDER BY e.id",
            rows::ENTRY_COLUMNS
        );
        self.collect_entries(&sql, &[])
    }

    fn entry(&self, id: EntryId) -> Result<Option<Entry>, StoreError> {
        Ok(self.query_entries("WHERE e.id = $1", &[&id])?.pop())
    }

    fn entry_superseded_by(&self, id: EntryId) -> Result<Option<EntryId>, StoreError> {
        let row = self.query_opt("SELECT id FROM entry WHERE supersedes = $1", &[&id])?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    fn letter_advice(&self, course: CourseId) -> Result<Vec<LetterAdvice>, StoreError> {
        let rows = self.query(
            "SELECT id, patient_id, course_id, supersedes, responsible_staff_id, advice, \
             recorded_at, recorded_by FROM letter_advice WHERE course_id = $1 ORDER BY id",
            &[&course],
        )?;
        rows.iter()
            .map(|r| {
                Ok(LetterAdvice {
                    id: r.try_get(0)?,
                    patient_id: r.try_get(1)?,
                    course_id: r.try_get(2)?,
                    supersedes: r.try_get(3)?,
                    responsible: r.try_get(4)?,
                    advice: r.try_get(5)?,
                    recorded_at: instant_at(r, 6)?,
                    recorded_by: r.try_get(7)?,
                })
            })
            .collect()
    }

    fn each_audit_row(
        &self,
        f: &mut dyn FnMut(AuditRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // Streamed: the driver hands over each row as the server sends it, never the whole
        // log at once.
        self.each_raw(
            "SELECT seq, at, actor, action, tbl, row_key, content, prev_hash, hash \
             FROM audit ORDER BY seq",
            &[],
            &mut |r| {
                f(AuditRow {
                    seq: r.try_get(0)?,
                    at: r.try_get(1)?,
                    actor: r.try_get(2)?,
                    action: r.try_get(3)?,
                    tbl: r.try_get(4)?,
                    row_key: r.try_get(5)?,
                    content: r.try_get(6)?,
                    prev_hash: r.try_get(7)?,
                    hash: r.try_get(8)?,
                })
            },
        )
    }

    fn audit_head(&self) -> Result<Option<(i64, String)>, StoreError> {
        let row = self.query_opt("SELECT seq, hash FROM audit_head WHERE id = 1", &[])?;
        row.map(|r| Ok::<_, StoreError>((r.try_get(0)?, r.try_get(1)?)))
            .transpose()
    }

    fn pseudonyms(&self) -> Result<Vec<(PatientId, String, i64)>, StoreError> {
        self.query(
            "SELECT patient_id, study_id, day_offset FROM pseudonym ORDER BY patient_id",
            &[],
        )?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
    }

    fn pseudonym_times(&self) -> Result<Vec<(PatientId, i64)>, StoreError> {
        self.query(
            "SELECT patient_id, second_offset FROM pseudonym_time ORDER BY patient_id",
            &[],
        )?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
    }

    fn table_rows(&self, table: &str) -> Result<Vec<(String, String)>, StoreError> {
        let Some(read) = self.table_read(table)? else {
            return Ok(vec![]);
        };
        let sql = format!(
            "SELECT t.{}::text, {} FROM {table} t ORDER BY {}",
            read.key,
            read.selects.join(", "),
            read.order
        );
        let rows = self.query(&sql, &[])?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let key: String = row.try_get(0)?;
            out.push((key, read.canonical(&row, 1)?));
        }
        Ok(out)
    }

    fn compare_table(
        &self,
        table: &str,
        f: &mut dyn FnMut(Compared) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let read = self.table_read(table)?;
        // The latest audit row of each key the log holds for the table.
        let latest = "SELECT DISTINCT ON (row_key) row_key, seq, content FROM audit \
                      WHERE tbl = $1 AND row_key IS NOT NULL ORDER BY row_key, seq DESC";
        let Some(read) = read else {
            // No such table: every key logged for it is missing.
            return self.each_raw(latest, &[&table], &mut |row| {
                f(Compared::Missing {
                    key: row.try_get(0)?,
                    seq: row.try_get(1)?,
                })
            });
        };
        // One join on the server, keys matched as text (as `table_rows` gives them); the
        // server sorts or hashes within work_mem and spills to disk beyond it, and the rows
        // come over one at a time: nothing here grows with the record. Column 0 says
        // whether the table has the row.
        let inner: Vec<String> = read
            .selects
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{s} AS c{i}"))
            .collect();
        let outer: Vec<String> = (0..inner.len()).map(|i| format!("r.c{i}")).collect();
        let sql = format!(
            "SELECT r.here, r.k, {}, l.row_key, l.seq, l.content \
             FROM (SELECT true AS here, t.{}::text AS k, {} FROM {table} t) r \
             FULL JOIN ({latest}) l ON l.row_key = r.k",
            outer.join(", "),
            read.key,
            inner.join(", "),
        );
        let after = 2 + read.columns.len();
        self.each_raw(&sql, &[&table], &mut |row| {
            let here: Option<bool> = row.try_get(0)?;
            if here.is_none() {
                return f(Compared::Missing {
                    key: row.try_get(after)?,
                    seq: row.try_get(after + 1)?,
                });
            }
            let seq: Option<i64> = row.try_get(after + 1)?;
            let logged = match seq {
                Some(seq) => Some((seq, row.try_get(after + 2)?)),
                None => None,
            };
            f(Compared::Row {
                key: row.try_get(1)?,
                content: read.canonical(row, 2)?,
                logged,
            })
        })
    }

    fn schema_differences(&self) -> Result<Vec<SchemaProblem>, StoreError> {
        let version = self.version()?;
        let actual = pg_schema::describe(&mut **self.client.borrow_mut(), self.schema)?;
        Ok(pg_schema::problems(&actual, version))
    }

    fn invalid_text(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        // A PostgreSQL text value is always valid in the database's encoding, checked by the
        // server on every input; titrate connects only to UTF8 databases
        // (`refuse_other_encoding`) and the driver reads with client_encoding UTF8. A value
        // that is not valid UTF-8 cannot be stored, so there is nothing to list.
        Ok(vec![])
    }

    fn raw_rows(
        &self,
        table: &Audited,
        f: &mut dyn FnMut(&[Value]) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        if !super::copy::is_copied(table) {
            return Err(corrupt(format!("{} is not a copied table", table.table)));
        }
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {}",
            column_list(table.columns),
            table.table,
            table.key
        );
        self.flush_audit()?;
        let mut client = self.client.borrow_mut();
        let mut rows = client.query_raw(sql.as_str(), std::iter::empty::<i64>())?;
        let mut n = 0;
        while let Some(row) = postgres::fallible_iterator::FallibleIterator::next(&mut rows)? {
            let owned: Vec<Owned> = table
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| owned_at(&row, i, c.ty, None))
                .collect::<Result<_, _>>()?;
            let values: Vec<Value> = owned.iter().map(Owned::value).collect();
            f(&values)?;
            n += 1;
        }
        Ok(n)
    }
}

impl Writer for PgTx<'_> {
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
        self.forget_ahead();
        let (active, failed, locked) = (
            i64::from(s.active),
            i64::from(s.failed_pins),
            i64::from(s.locked),
        );
        let (now, actor) = (to_db(self.now), self.actor.clone());
        let done = self.insert_audited(
            "staff",
            "INSERT INTO staff (id, name, role, pin_hash, active, failed_pins, locked, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[&s.id, &s.name, &s.role.as_str(), &s.pin_hash, &active, &failed, &locked, &now, &actor],
            action,
        )?;
        match done {
            Some(_) => Ok(()),
            None => Err(StoreError::DuplicateStaff(s.id.clone())),
        }
    }

    fn update_staff(&mut self, s: &Staff, action: &str) -> Result<(), StoreError> {
        self.forget_ahead();
        let spec = audited_table("staff").ok_or_else(|| corrupt("staff is not audited"))?;
        let (active, failed, locked) = (
            i64::from(s.active),
            i64::from(s.failed_pins),
            i64::from(s.locked),
        );
        let sent = "UPDATE staff SET name = $2, role = $3, pin_hash = $4, active = $5, failed_pins = $6, \
             locked = $7 WHERE id = $1";
        let sql = format!("{sent}{}", returning_as_sent(spec, sent)?);
        let row = self.query_opt(
            &sql,
            &[
                &s.id,
                &s.name,
                &s.role.as_str(),
                &s.pin_hash,
                &active,
                &failed,
                &locked,
            ],
        )?;
        match row {
            Some(row) => self.audit_returned(spec, &row, action).map(|_| ()),
            // As SQLite: an update of nobody changes nothing, and the audit row says so by
            // the row it cannot read.
            None => Err(corrupt(format!("staff row {} vanished", s.id))),
        }
    }

    fn insert_patient(&mut self, p: &NewPatient) -> Result<PatientId, StoreError> {
        self.forget_ahead();
        if self.mrn_owner(&p.mrn)?.is_some() {
            return Err(StoreError::DuplicateMrn(p.mrn.clone()));
        }
        let birth = p.birth_date.format("%Y-%m-%d").to_string();
        let onset = p.crps_onset.map(|d| d.format("%Y-%m-%d").to_string());
        let (now, actor) = (to_db(self.now), self.actor.clone());
        let done = self.insert_audited(
            "patient",
            "INSERT INTO patient (mrn, name, birth_date, sex, weight_kg, crps_type, crps_onset, limb, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[&p.mrn, &p.name, &birth, &p.sex.as_str(), &p.weight_kg, &p.crps_type.map(|t| t.as_str()), &onset, &p.limb, &now, &actor],
            "create",
        )?;
        match done {
            Some(key) => key.parse().map_err(|_| corrupt("patient id")),
            // The MRN was looked up above, under the write lock: the id was taken.
            None => Err(id_taken("patient")),
        }
    }

    fn insert_patient_version(&mut self, v: &NewPatientVersion) -> Result<i64, StoreError> {
        self.forget_ahead();
        if self
            .mrn_owner(&v.data.mrn)?
            .is_some_and(|owner| owner != v.patient_id)
        {
            return Err(StoreError::DuplicateMrn(v.data.mrn.clone()));
        }
        let newest: i64 = self
            .query_opt(
                "SELECT coalesce(max(version), 0) FROM patient_version WHERE patient_id = $1",
                &[&v.patient_id],
            )?
            .ok_or_else(|| corrupt("no version count"))?
            .try_get(0)?;
        let conflict = StoreError::PatientConflict {
            patient: v.patient_id,
            version: v.version,
        };
        if i64::from(v.version) != newest + 1 {
            return Err(conflict);
        }
        let p = &v.data;
        let version = i64::from(v.version);
        let birth = p.birth_date.format("%Y-%m-%d").to_string();
        let onset = p.crps_onset.map(|d| d.format("%Y-%m-%d").to_string());
        let (now, actor) = (to_db(self.now), self.actor.clone());
        let done = self.insert_audited(
            "patient_version",
            "INSERT INTO patient_version (patient_id, version, mrn, name, birth_date, sex, \
             weight_kg, crps_type, crps_onset, limb, reason, recorded_at, recorded_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            &[
                &v.patient_id,
                &version,
                &p.mrn,
                &p.name,
                &birth,
                &p.sex.as_str(),
                &p.weight_kg,
                &p.crps_type.map(|t| t.as_str()),
                &onset,
                &p.limb,
                &v.reason,
                &now,
                &actor,
            ],
            "amend",
        )?;
        match done {
            Some(key) => key.parse().map_err(|_| corrupt("patient version id")),
            None => Err(conflict),
        }
    }

    fn protocol_id(&mut self, p: &Protocol) -> Result<i64, StoreError> {
        self.forget_ahead();
        let snapshot = p.snapshot();
        let digest = p.digest();
        if let Some(row) =
            self.query_opt("SELECT id FROM protocol WHERE digest = $1", &[&digest])?
        {
            return Ok(row.try_get(0)?);
        }
        let (now, actor) = (to_db(self.now), self.actor.clone());
        let done = self.insert_audited(
            "protocol",
            "INSERT INTO protocol (name, digest, snapshot, created_at, created_by) VALUES ($1, $2, $3, $4, $5)",
            &[&p.name, &digest, &snapshot, &now, &actor],
            "protocol",
        )?;
        // The digest was looked up under the write lock: a conflict is a damaged database.
        done.ok_or_else(|| corrupt("a protocol with this digest appeared during the write"))?
            .parse()
            .map_err(|_| corrupt("protocol id"))
    }

    fn insert_protocol_approval(&mut self, protocol_id: i64) -> Result<(), StoreError> {
        self.forget_ahead();
        let (now, actor) = (to_db(self.now), self.actor.clone());
        // Not ON CONFLICT: a second approval of one version is an error, as on SQLite.
        let spec = audited_table("protocol_approval")
            .ok_or_else(|| corrupt("protocol_approval is not audited"))?;
        let sent = "INSERT INTO protocol_approval (protocol_id, approved_at, approved_by) \
             VALUES ($1, $2, $3)";
        let sql = format!("{sent}{}", returning_as_sent(spec, sent)?);
        let row = self
            .query_opt(&sql, &[&protocol_id, &now, &actor])?
            .ok_or_else(|| corrupt("the approval was not stored"))?;
        self.audit_returned(spec, &row, "protocol-approve")
            .map(|_| ())
    }

    fn insert_course(
        &mut self,
        patient: PatientId,
        protocol_id: i64,
    ) -> Result<CourseId, StoreError> {
        self.forget_ahead();
        let (now, actor) = (to_db(self.now), self.actor.clone());
        let spec = audited_table("course").ok_or_else(|| corrupt("course is not audited"))?;
        let sent = "INSERT INTO course (patient_id, protocol_id, created_at, created_by) \
             VALUES ($1, $2, $3, $4)";
        let sql = format!("{sent}{}", returning_as_sent(spec, sent)?);
        let row = self
            .query_opt(&sql, &[&patient, &protocol_id, &now, &actor])?
            .ok_or_else(|| corrupt("the course was not stored"))?;
        self.audit_returned(spec, &row, "create")?
            .parse()
            .map_err(|_| corrupt("course id"))
    }

    fn insert_entry(&mut self, e: &NewEntry) -> Result<EntryId, StoreError> {
        self.forget_ahead();
        let c = rows::EntryColumns::of(&e.data);
        let kind = e.data.kind().as_str();
        let happened = to_db(e.happened_at);
        let (now, actor) = (to_db(self.now), self.actor.clone());
        let late = i64::from(e.late);
        let audit_action = if e.supersedes.is_some() {
            "amend"
        } else {
            "create"
        };
        let done = self.insert_audited(
            "entry",
            "INSERT INTO entry (patient_id, course_id, kind, supersedes, amend_reason, happened_at, \
             recorded_at, recorded_by, late, rate_centi, confirmed, confirm_reason, score, timepoint, \
             effect, detail, severity, action, successful, end_reason, bed) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
            &[
                &e.patient_id, &e.course_id, &kind, &e.supersedes, &e.amend_reason, &happened,
                &now, &actor, &late, &c.rate_centi, &c.confirmed, &c.confirm_reason, &c.score,
                &c.timepoint, &c.effect, &c.detail, &c.severity, &c.action, &c.successful,
                &c.end_reason, &c.bed,
            ],
            audit_action,
        )?;
        match (done, e.supersedes) {
            (Some(key), _) => key.parse().map_err(|_| corrupt("entry id")),
            (None, Some(old))
                if self
                    .query_opt("SELECT 1 FROM entry WHERE supersedes = $1", &[&old])?
                    .is_some() =>
            {
                Err(StoreError::Conflict(old))
            }
            (None, _) => Err(id_taken("entry")),
        }
    }

    fn insert_void(&mut self, entry: EntryId, reason: &str) -> Result<(), StoreError> {
        self.forget_ahead();
        let (now, actor) = (to_db(self.now), self.actor.clone());
        let done = self.insert_audited(
            "void",
            "INSERT INTO void (entry_id, reason, voided_at, voided_by) VALUES ($1, $2, $3, $4)",
            &[&entry, &reason, &now, &actor],
            "void",
        )?;
        match done {
            Some(_) => Ok(()),
            None if self
                .query_opt("SELECT 1 FROM void WHERE entry_id = $1", &[&entry])?
                .is_some() =>
            {
                Err(StoreError::Conflict(entry))
            }
            None => Err(id_taken("void")),
        }
    }

    fn insert_letter_advice(&mut self, a: &NewLetterAdvice) -> Result<i64, StoreError> {
        self.forget_ahead();
        let newest: Option<i64> = self
            .query_opt(
                "SELECT max(id) FROM letter_advice WHERE course_id = $1",
                &[&a.course_id],
            )?
            .ok_or_else(|| corrupt("no newest advice"))?
            .try_get(0)?;
        let conflict = StoreError::AdviceConflict {
            course: a.course_id,
        };
        if newest != a.supersedes {
            return Err(conflict);
        }
        let (now, actor) = (to_db(self.now), self.actor.clone());
        let done = self.insert_audited(
            "letter_advice",
            "INSERT INTO letter_advice (patient_id, course_id, supersedes, \
             responsible_staff_id, advice, recorded_at, recorded_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &a.patient_id,
                &a.course_id,
                &a.supersedes,
                &a.responsible,
                &a.advice,
                &now,
                &actor,
            ],
            "letter-advice",
        )?;
        match done {
            Some(key) => key.parse().map_err(|_| corrupt("letter advice id")),
            None => Err(conflict),
        }
    }

    fn insert_pseudonym(
        &mut self,
        patient: PatientId,
        study_id: &str,
        day_offset: i64,
    ) -> Result<(), StoreError> {
        self.forget_ahead();
        let (now, actor) = (to_db(self.now), self.actor.clone());
        let spec = audited_table("pseudonym").ok_or_else(|| corrupt("pseudonym is not audited"))?;
        let sent = "INSERT INTO pseudonym (patient_id, study_id, day_offset, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5)";
        let sql = format!("{sent}{}", returning_as_sent(spec, sent)?);
        let row = self
            .query_opt(&sql, &[&patient, &study_id, &day_offset, &now, &actor])?
            .ok_or_else(|| corrupt("the pseudonym was not stored"))?;
        self.audit_returned(spec, &row, "create").map(|_| ())
    }

    fn insert_pseudonym_time(
        &mut self,
        patient: PatientId,
        second_offset: i64,
    ) -> Result<(), StoreError> {
        self.forget_ahead();
        let (now, actor) = (to_db(self.now), self.actor.clone());
        let spec = audited_table("pseudonym_time")
            .ok_or_else(|| corrupt("pseudonym_time is not audited"))?;
        let sent = "INSERT INTO pseudonym_time (patient_id, second_offset, created_at, created_by) \
             VALUES ($1, $2, $3, $4)";
        let sql = format!("{sent}{}", returning_as_sent(spec, sent)?);
        let row = self
            .query_opt(&sql, &[&patient, &second_offset, &now, &actor])?
            .ok_or_else(|| corrupt("the pseudonym time was not stored"))?;
        self.audit_returned(spec, &row, "create").map(|_| ())
    }

    fn audit_event(&mut self, action: &str, content: &serde_json::Value) -> Result<(), StoreError> {
        self.forget_ahead();
        self.append_audit(action, None, None, content.to_string())
    }
}

/// The SQL a DBA runs once, as a superuser, with psql (`psql -v ON_ERROR_STOP=1 -f`): what
/// `titrate pg-setup --print` prints. `owner` owns titrate's schema and runs `titrate init`
/// and the migrations; `app` is the login the terminals use, with SELECT and INSERT on the
/// record and the audit log, UPDATE only of staff counters and the audit head, and nothing
/// it owns, so it can neither drop a trigger nor alter a table.
pub fn setup_sql(owner: &str, app: &str, database: &str) -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let (o, a, d) = (q(owner), q(app), q(database));
    format!(
        "-- titrate on PostgreSQL: roles, database and privileges. Run once as a superuser:
--   psql -v ON_ERROR_STOP=1 -f this-file.sql
-- then give both roles a password (\\password {owner} and \\password {app} in psql), run
-- `titrate init` as {owner}, and let the terminals connect as {app}.

-- The owner: owns titrate's schema and everything in it, creates it (`titrate init`) and
-- migrates it. Not a superuser: it cannot touch anything outside its database.
CREATE ROLE {o} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

-- The application: the login every terminal and command uses. It owns nothing, so it can
-- drop no trigger and alter no table; it is given only what titrate's writes need.
CREATE ROLE {a} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;

CREATE DATABASE {d} OWNER {o} ENCODING 'UTF8' TEMPLATE template0;
\\connect {d}

-- Nobody else may connect, nor make temporary tables (which would be searched before
-- titrate's own tables in their session) or objects in the public schema.
REVOKE ALL ON DATABASE {d} FROM PUBLIC;
GRANT CONNECT ON DATABASE {d} TO {o}, {a};
REVOKE ALL ON SCHEMA public FROM PUBLIC;

-- Titrate's schema, owned by the owner; both roles find titrate's tables there first.
CREATE SCHEMA titrate AUTHORIZATION {o};
GRANT USAGE ON SCHEMA titrate TO {a};
ALTER ROLE {o} IN DATABASE {d} SET search_path = titrate;
ALTER ROLE {a} IN DATABASE {d} SET search_path = titrate;

-- Every table the owner creates in it (now, and by later migrations) may be read and added
-- to by the application, and its identity sequences used: SELECT and INSERT, never UPDATE,
-- DELETE, TRUNCATE, REFERENCES or TRIGGER. The triggers refuse UPDATE and DELETE of the
-- record for the owner too; these privileges are the second layer.
ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA titrate
    GRANT SELECT, INSERT ON TABLES TO {a};
ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA titrate
    GRANT USAGE ON SEQUENCES TO {a};
-- Functions (the triggers' own) are not for calling directly.
ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA titrate
    REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Where titrate must update (a staff member's name, role, PIN and counters; the audit
-- head, which its trigger lets move forward only), `titrate init` and every migration
-- grant UPDATE of exactly those columns to each role that may INSERT into the audit log,
-- {a} here: default privileges cannot name single tables.
"
    )
}

/// For `titrate migrate`: every migration applied to an empty schema inside the caller's
/// transaction (the copy's, so that the schema and the rows commit together or not at all),
/// and the application role's column grants, as `create` makes them.
pub(crate) fn create_schema_in(
    tx: &mut impl GenericClient,
    schema: &str,
) -> Result<(), StoreError> {
    let quoted: String = tx
        .query_one("SELECT pg_catalog.quote_ident($1)", &[&schema])?
        .try_get(0)?;
    // Functions made with SET search_path FROM CURRENT keep titrate's schema alone.
    tx.batch_execute(&format!("SET LOCAL search_path = {quoted}"))?;
    for (n, sql) in migrations() {
        tx.batch_execute(&sql)?;
        tx.execute("UPDATE schema_version SET version = $1 WHERE id = 1", &[&n])?;
    }
    grant_app_updates(tx)?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_is_compared_column_by_column_with_what_it_sent() {
        let spec = audited_table("void").unwrap();
        let insert = "INSERT INTO void (entry_id, reason, voided_at, voided_by) \
                      VALUES ($1, $2, $3, $4)";
        let r = returning_as_sent(spec, insert).unwrap();
        assert!(
            r.ends_with(
                ", ROW(entry_id, reason, voided_at, voided_by) IS NOT DISTINCT FROM ROW($1, $2, $3, $4)"
            ),
            "{r}"
        );
        assert!(r.starts_with(&format!(" RETURNING {}", column_list(spec.columns))));
        let update = "UPDATE staff SET name = $2, role = $3 WHERE id = $1";
        let r = returning_as_sent(audited_table("staff").unwrap(), update).unwrap();
        assert!(
            r.ends_with("ROW(name, role) IS NOT DISTINCT FROM ROW($2, $3)"),
            "{r}"
        );
        // What it cannot read, it refuses rather than compare nothing.
        for bad in [
            "DELETE FROM void",
            "INSERT INTO void (a, b) VALUES ($1)",
            "UPDATE staff SET name WHERE id = $1",
        ] {
            assert!(returning_as_sent(spec, bad).is_err(), "{bad}");
        }
    }
}
