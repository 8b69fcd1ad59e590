//! `titrate migrate`: the whole record of a store copied into an empty PostgreSQL database.
//!
//! The source is read in one read transaction ([`Db::read`]), so the copy is one consistent
//! state while terminals keep writing to the file. The target is written in ONE transaction
//! on the server: titrate's schema (every migration), every row of every table with its own
//! ids and bytes, the audit head and the identity sequences. PostgreSQL rolls back an
//! uncommitted transaction when its client dies, so a migration stopped anywhere (killed,
//! lost connection, refused row) leaves the target as empty as it was; only the commit makes
//! the whole record appear at once.
//!
//! Rows are read backend-neutrally ([`Reader::raw_rows`], each column as a [`Value`], a
//! secret such as a PIN hash as it is) and written with COPY, the server's bulk load.

use std::io::Write;

use postgres::{Client, Transaction};

use super::{
    Audited, Column, ColumnType, Db, Reader, StoreError, Value, audited_tables, int, text,
};

/// The audit log itself, copied after every audited table (its rows are read as they are, so
/// the chain comes across byte for byte).
pub const AUDIT: Audited = Audited {
    table: "audit",
    key: "seq",
    columns: &[
        int("seq"),
        text("at"),
        text("actor"),
        text("action"),
        text("tbl"),
        text("row_key"),
        text("content"),
        text("prev_hash"),
        text("hash"),
    ],
};

/// Every table `migrate` copies, in an order that puts each row after the rows it refers to:
/// the audited tables as [`audited_tables`] lists them, then the audit log. (The audit head
/// is one row, set at the end; the schema version is the target's own.)
pub fn tables() -> Vec<Audited> {
    let mut t = audited_tables().to_vec();
    t.push(AUDIT);
    t
}

/// Whether `t` is one of [`tables`], exactly: what `raw_rows` reads and nothing else.
pub fn is_copied(t: &Audited) -> bool {
    tables()
        .iter()
        .any(|c| c.table == t.table && c.key == t.key && c.columns == t.columns)
}

/// What a migration copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copied {
    /// (table, rows), in the order copied; the audit log last.
    pub tables: Vec<(&'static str, u64)>,
    /// The audit head as it now stands on the target (and stood in the copied state).
    pub head: (i64, String),
}

impl Copied {
    pub fn rows(&self) -> u64 {
        self.tables
            .iter()
            .filter(|(t, _)| *t != AUDIT.table)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn audit_rows(&self) -> u64 {
        self.tables
            .iter()
            .filter(|(t, _)| *t == AUDIT.table)
            .map(|(_, n)| n)
            .sum()
    }
}

/// The target of a migration: connected, found empty, nothing written yet.
pub struct Target {
    client: Client,
    schema: String,
    namespace: u32,
    shown: String,
}

impl Target {
    /// Connects to `url` (as every connection does: UTF8, titrate's schema first on the
    /// search path) and refuses a schema that holds anything already.
    pub fn connect(url: &str) -> Result<Target, StoreError> {
        let (mut client, schema, namespace, shown) = super::postgres::checked_client(url)?;
        refuse_non_empty(&mut client, namespace, &schema, &shown)?;
        Ok(Target {
            client,
            schema,
            namespace,
            shown,
        })
    }

    /// The database, as messages name it (no password).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Copies everything `source` holds into the target, in one transaction on the server
    /// and one read of the source.
    pub fn copy_from(mut self, source: &mut Db) -> Result<Copied, StoreError> {
        source.read(|r| self.copy_all(r))
    }

    fn copy_all(&mut self, r: &dyn Reader) -> Result<Copied, StoreError> {
        let (schema, namespace, shown) = (self.schema.clone(), self.namespace, self.shown.clone());
        let mut tx = self.client.transaction()?;
        // Two migrations into the same database queue here; the second then finds the
        // first one's tables and is refused in words.
        tx.batch_execute("SELECT pg_catalog.pg_advisory_xact_lock(7235981641)")?;
        refuse_non_empty(&mut tx, namespace, &schema, &shown)?;
        super::postgres::create_schema_in(&mut tx, &schema).map_err(|e| owner_only(e, &shown))?;
        // Nobody can be listening to a database that does not exist yet: one notification per
        // copied audit row would only fill the server's queue; and the head is set once, at
        // the end of the copy, not row by row. Both back on before the commit.
        tx.batch_execute(
            "ALTER TABLE audit DISABLE TRIGGER audit_notify; \
             ALTER TABLE audit DISABLE TRIGGER audit_follows_head",
        )?;
        // Index builds after the load sort once instead of inserting row by row.
        tx.batch_execute("SET LOCAL maintenance_work_mem = '256MB'")?;
        let mut copied = Vec::new();
        for t in tables() {
            let aside = set_aside(&mut tx, t.table)?;
            let n = copy_table(r, &mut tx, &t)?;
            aside.restore(&mut tx, t.table)?;
            copied.push((t.table, n));
        }
        tx.batch_execute(
            "ALTER TABLE audit ENABLE TRIGGER audit_notify; \
             ALTER TABLE audit ENABLE TRIGGER audit_follows_head",
        )?;
        let head = r
            .audit_head()?
            .ok_or_else(|| StoreError::Corrupt("the audit head is missing".into()))?;
        set_head(&mut tx, &head)?;
        continue_identities(&mut tx, namespace)?;
        check_counts(&mut tx, &copied, &head)?;
        tx.commit()?;
        Ok(Copied {
            tables: copied,
            head,
        })
    }
}

/// Anything in the target's schema (a table, view, sequence, index or function, titrate's or
/// not) refuses the migration: it only ever copies into an empty schema, never merges.
fn refuse_non_empty(
    c: &mut impl postgres::GenericClient,
    namespace: u32,
    schema: &str,
    shown: &str,
) -> Result<(), StoreError> {
    let relation = c.query_opt(
        "SELECT c.relname::text, CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' \
         WHEN 'v' THEN 'view' WHEN 'm' THEN 'view' WHEN 'S' THEN 'sequence' \
         WHEN 'i' THEN 'index' ELSE 'relation' END \
         FROM pg_catalog.pg_class c WHERE c.relnamespace = $1 \
         ORDER BY c.relkind <> 'r', c.relname LIMIT 1",
        &[&namespace],
    )?;
    let found = match relation {
        Some(row) => Some(format!(
            "the {} {}",
            row.try_get::<_, String>(1)?,
            row.try_get::<_, String>(0)?
        )),
        None => c
            .query_opt(
                "SELECT p.proname::text FROM pg_catalog.pg_proc p WHERE p.pronamespace = $1 \
                 ORDER BY p.proname LIMIT 1",
                &[&namespace],
            )?
            .map(|row| {
                row.try_get::<_, String>(0)
                    .map(|f| format!("the function {f}"))
            })
            .transpose()?,
    };
    // A type or domain made there would be named by `check` as added behind titrate's back
    // and block every write to the copy. (A table's own row type is its table, above.)
    let found = match found {
        Some(f) => Some(f),
        None => c
            .query_opt(
                "SELECT t.typname::text FROM pg_catalog.pg_type t WHERE t.typnamespace = $1 \
                 AND t.typrelid = 0 AND t.typelem = 0 ORDER BY t.typname LIMIT 1",
                &[&namespace],
            )?
            .map(|row| row.try_get::<_, String>(0).map(|t| format!("the type {t}")))
            .transpose()?,
    };
    match found {
        None => Ok(()),
        Some(what) => Err(StoreError::Open {
            path: shown.to_string(),
            why: format!(
                "schema {schema} holds {what} already: `titrate migrate` copies a record only into an empty schema (a new database, as `titrate pg-setup --print` makes one), never into one that holds anything; nothing was changed"
            ),
        }),
    }
}

/// A table's plain indexes and foreign keys, as the migrations made them, taken off while its
/// rows are loaded and made again afterwards from their own definitions, as `pg_restore`
/// does: one sorted build and one check of every reference instead of one per row. Inside
/// the transaction, so nobody ever sees the table without them; `titrate check` compares
/// the result with what the migrations create.
struct Aside {
    indexes: Vec<(String, String)>,
    foreign_keys: Vec<(String, String)>,
}

fn set_aside(tx: &mut Transaction, table: &str) -> Result<Aside, StoreError> {
    let indexes: Vec<(String, String)> = tx
        .query(
            "SELECT pg_catalog.quote_ident(c.relname), pg_catalog.pg_get_indexdef(i.indexrelid) \
             FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid \
             WHERE i.indrelid = $1::text::regclass AND NOT i.indisprimary AND NOT i.indisunique \
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k \
                               WHERE k.conindid = i.indexrelid) \
             ORDER BY i.indexrelid",
            &[&table],
        )?
        .iter()
        .map(|r| Ok::<_, StoreError>((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, _>>()?;
    let foreign_keys: Vec<(String, String)> = tx
        .query(
            "SELECT pg_catalog.quote_ident(conname), pg_catalog.pg_get_constraintdef(oid) \
             FROM pg_catalog.pg_constraint WHERE conrelid = $1::text::regclass AND contype = 'f' \
             ORDER BY oid",
            &[&table],
        )?
        .iter()
        .map(|r| Ok::<_, StoreError>((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, _>>()?;
    for (name, _) in &indexes {
        tx.batch_execute(&format!("DROP INDEX {name}"))?;
    }
    for (name, _) in &foreign_keys {
        tx.batch_execute(&format!("ALTER TABLE {table} DROP CONSTRAINT {name}"))?;
    }
    Ok(Aside {
        indexes,
        foreign_keys,
    })
}

impl Aside {
    fn restore(self, tx: &mut Transaction, table: &str) -> Result<(), StoreError> {
        for (_, def) in &self.indexes {
            tx.batch_execute(def)?;
        }
        for (name, def) in &self.foreign_keys {
            tx.batch_execute(&format!("ALTER TABLE {table} ADD CONSTRAINT {name} {def}"))
                .map_err(|e| {
                    StoreError::Corrupt(format!(
                        "a row of table {table} refers to a row that is not there ({}); nothing was copied: run `titrate check` on the file",
                        StoreError::from(e)
                    ))
                })?;
        }
        Ok(())
    }
}

/// Only the owner of the target's schema may create titrate's tables in it.
fn owner_only(e: StoreError, shown: &str) -> StoreError {
    match e {
        StoreError::Database(why) if why.contains("permission denied") => StoreError::Open {
            path: shown.to_string(),
            why: format!(
                "this role may not create tables there ({why}): connect as the role that owns titrate's schema (the owner role of `titrate pg-setup --print`, as for `titrate init`); nothing was changed"
            ),
        },
        other => other,
    }
}

/// One table, with COPY: every row as the source holds it, the same ids and bytes.
fn copy_table(r: &dyn Reader, tx: &mut Transaction, t: &Audited) -> Result<u64, StoreError> {
    let names: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
    let sql = format!("COPY {} ({}) FROM STDIN", t.table, names.join(", "));
    let mut writer = tx.copy_in(&sql)?;
    let key = t.columns.iter().position(|c| c.name == t.key).unwrap_or(0);
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 4096);
    let sent = |w: &mut postgres::CopyInWriter, buf: &mut Vec<u8>| {
        w.write_all(buf).map_err(|e| copy_failed(t.table, &e))?;
        buf.clear();
        Ok::<_, StoreError>(())
    };
    let n = r.raw_rows(t, &mut |values| {
        encode_row(&mut buf, t, key, values)?;
        if buf.len() >= CHUNK {
            sent(&mut writer, &mut buf)?;
        }
        Ok(())
    })?;
    sent(&mut writer, &mut buf)?;
    let stored = writer.finish()?;
    if stored != n {
        return Err(StoreError::Database(format!(
            "table {}: {n} rows were read and {stored} stored; nothing was committed",
            t.table
        )));
    }
    Ok(n)
}

/// How much COPY data is gathered before it is sent.
const CHUNK: usize = 1 << 20;

fn copy_failed(table: &str, e: &std::io::Error) -> StoreError {
    StoreError::Unavailable(format!(
        "the copy of table {table} was cut off ({e}); nothing was committed"
    ))
}

/// One row in COPY's text format: tab between columns, `\N` for NULL, a line per row.
/// Each value must be of the column's declared kind: a value of another kind (which only a
/// file changed outside titrate can hold) would change what the audit content says of the
/// row, so the migration is refused rather than converting it.
fn encode_row(
    buf: &mut Vec<u8>,
    t: &Audited,
    key: usize,
    values: &[Value],
) -> Result<(), StoreError> {
    if values.len() != t.columns.len() {
        return Err(StoreError::Database(format!(
            "table {}: {} values read for {} columns",
            t.table,
            values.len(),
            t.columns.len()
        )));
    }
    for (i, (col, v)) in t.columns.iter().zip(values).enumerate() {
        if i > 0 {
            buf.push(b'\t');
        }
        match (col.ty, *v) {
            (_, Value::Null) => buf.extend_from_slice(b"\\N"),
            (ColumnType::Integer, Value::Integer(n)) => {
                buf.extend_from_slice(n.to_string().as_bytes());
            }
            // The shortest text that reads back as the same double.
            (ColumnType::Real, Value::Real(x)) => buf.extend_from_slice(x.to_string().as_bytes()),
            // SQLite keeps a whole real as an integer on disk; it is the same number.
            #[allow(clippy::cast_precision_loss)]
            (ColumnType::Real, Value::Integer(n)) => {
                buf.extend_from_slice((n as f64).to_string().as_bytes());
            }
            (ColumnType::Text | ColumnType::Secret, Value::Text(b)) => {
                if std::str::from_utf8(b).is_err() {
                    return Err(odd_value(t, key, values, col, "text that is not UTF-8"));
                }
                escape_into(buf, b);
            }
            (_, other) => {
                let kind = match other {
                    Value::Integer(_) => "an integer",
                    Value::Real(_) => "a real number",
                    Value::Text(_) => "text",
                    Value::Blob(_) => "a blob",
                    Value::Other { .. } | Value::Null => "a value of another type",
                };
                return Err(odd_value(t, key, values, col, kind));
            }
        }
    }
    buf.push(b'\n');
    Ok(())
}

fn odd_value(t: &Audited, key: usize, values: &[Value], col: &Column, kind: &str) -> StoreError {
    let key = match values.get(key) {
        Some(Value::Integer(n)) => n.to_string(),
        Some(Value::Text(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => "?".into(),
    };
    let declared = match col.ty {
        ColumnType::Integer => "an integer",
        ColumnType::Real => "a real number",
        ColumnType::Text | ColumnType::Secret => "UTF-8 text",
    };
    StoreError::Corrupt(format!(
        "{} {key}: column {} holds {kind} where titrate stores {declared}, which no titrate wrote; nothing was copied: run `titrate check` on the file and keep it for investigation",
        t.table, col.name
    ))
}

/// COPY text format's escapes: the backslash itself and the characters that end a column or
/// a row.
fn escape_into(buf: &mut Vec<u8>, text: &[u8]) {
    for &b in text {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
}

/// The head where the copied chain ends, so that the next write appends after it. Its
/// trigger moves it one row at a time only; the owner steps over it for this one update, in
/// this transaction (which nobody else sees before the commit).
fn set_head(tx: &mut Transaction, head: &(i64, String)) -> Result<(), StoreError> {
    tx.batch_execute("ALTER TABLE audit_head DISABLE TRIGGER audit_head_forward")?;
    let n = tx.execute(
        "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
        &[&head.0, &head.1],
    )?;
    tx.batch_execute("ALTER TABLE audit_head ENABLE TRIGGER audit_head_forward")?;
    if n != 1 {
        return Err(StoreError::Corrupt(
            "the new database has no audit head".into(),
        ));
    }
    Ok(())
}

/// Every identity sequence continues after the largest id copied, as SQLite's next rowid
/// does: the next patient, course or entry gets the number the file would have given it.
fn continue_identities(tx: &mut Transaction, namespace: u32) -> Result<(), StoreError> {
    let columns = tx.query(
        "SELECT pg_catalog.quote_ident(c.relname), pg_catalog.quote_ident(a.attname) \
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         WHERE c.relnamespace = $1 AND c.relkind = 'r' AND a.attidentity <> '' \
           AND NOT a.attisdropped ORDER BY 1",
        &[&namespace],
    )?;
    for row in columns {
        let (table, column): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        tx.batch_execute(&format!(
            "SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('{table}', '{column}'), \
             COALESCE((SELECT max({column}) FROM {table}), 0) + 1, false)"
        ))?;
    }
    Ok(())
}

/// Before the commit: the server holds as many rows of each table as were read, and the
/// head that was read.
fn check_counts(
    tx: &mut Transaction,
    copied: &[(&'static str, u64)],
    head: &(i64, String),
) -> Result<(), StoreError> {
    for (table, n) in copied {
        let stored: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])?
            .try_get(0)?;
        if u64::try_from(stored).ok() != Some(*n) {
            return Err(StoreError::Database(format!(
                "table {table}: {n} rows were copied but {stored} are there; nothing was committed"
            )));
        }
    }
    let row = tx.query_one("SELECT seq, hash FROM audit_head WHERE id = 1", &[])?;
    let stored: (i64, String) = (row.try_get(0)?, row.try_get(1)?);
    if &stored != head {
        return Err(StoreError::Database(
            "the audit head was not set as copied; nothing was committed".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const PATIENT: &[Column] = &[int("id"), text("name"), super::super::real("weight_kg")];
    const SEQ_ONLY: &[Column] = &[int("seq")];

    #[test]
    fn copy_text_escapes_what_ends_a_column_or_a_row() {
        let mut buf = Vec::new();
        escape_into(&mut buf, "a\\b\tc\nd\re ü".as_bytes());
        assert_eq!(buf, "a\\\\b\\tc\\nd\\re ü".as_bytes());
    }

    #[test]
    fn a_row_is_written_in_its_declared_kinds_and_an_odd_value_is_refused() {
        let t = Audited {
            table: "patient",
            key: "id",
            columns: PATIENT,
        };
        let mut buf = Vec::new();
        encode_row(
            &mut buf,
            &t,
            0,
            &[
                Value::Integer(7),
                Value::Text(b"An\tna"),
                Value::Real(70.25),
            ],
        )
        .unwrap();
        encode_row(
            &mut buf,
            &t,
            0,
            &[Value::Integer(8), Value::Null, Value::Integer(70)],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "7\tAn\\tna\t70.25\n8\t\\N\t70\n"
        );
        let e = encode_row(
            &mut Vec::new(),
            &t,
            0,
            &[Value::Integer(9), Value::Integer(3), Value::Null],
        )
        .unwrap_err();
        assert!(
            e.to_string().contains(
                "patient 9: column name holds an integer where titrate stores UTF-8 text"
            ),
            "{e}"
        );
        let e = encode_row(
            &mut Vec::new(),
            &t,
            0,
            &[Value::Integer(9), Value::Text(b"\xff"), Value::Null],
        )
        .unwrap_err();
        assert!(e.to_string().contains("not UTF-8"), "{e}");
    }

    #[test]
    fn every_table_is_copied_after_the_tables_it_refers_to() {
        let names: Vec<&str> = tables().iter().map(|t| t.table).collect();
        let at = |n: &str| names.iter().position(|t| *t == n).unwrap();
        for (child, parent) in [
            ("protocol", "staff"),
            ("patient", "staff"),
            ("course", "patient"),
            ("course", "protocol"),
            ("entry", "course"),
            ("void", "entry"),
            ("pseudonym", "patient"),
            ("patient_version", "patient"),
            ("protocol_approval", "protocol"),
            ("pseudonym_time", "patient"),
            ("letter_advice", "course"),
        ] {
            assert!(at(parent) < at(child), "{child} before {parent}");
        }
        assert_eq!(names.last(), Some(&"audit"));
        assert!(is_copied(&AUDIT));
        assert!(!is_copied(&Audited {
            table: "audit",
            key: "seq",
            columns: SEQ_ONLY
        }));
    }
}
