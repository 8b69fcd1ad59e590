//! The audit log's hash chain, and the check that the record still matches it.

use std::fmt;

use sha2::{Digest, Sha256};

use super::schema::shown;
use super::{AuditRow, ColumnType, Compared, Reader, SchemaProblem, StoreError, audited_tables};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub fn sha256_hex(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of one audit row: its fields and the previous row's hash, separated by a byte that
/// cannot occur in any field (fields are JSON or printable text).
pub fn row_hash(r: &AuditRow) -> String {
    let mut buf = String::new();
    for part in [
        r.seq.to_string().as_str(),
        &r.at,
        &r.actor,
        &r.action,
        r.tbl.as_deref().unwrap_or(""),
        r.row_key.as_deref().unwrap_or(""),
        &r.content,
        &r.prev_hash,
    ] {
        buf.push_str(part);
        buf.push('\u{1f}');
    }
    sha256_hex(buf.as_bytes())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Schema(SchemaProblem),
    InvalidText {
        table: String,
        key: String,
        column: String,
    },
    /// The record could not be read far enough to compare it (a table replaced by something
    /// else, for example); what was found before is reported with it.
    Unreadable(String),
    ChainGap {
        expected: i64,
        found: i64,
    },
    BadLink {
        seq: i64,
    },
    BadHash {
        seq: i64,
    },
    HeadMismatch {
        head_seq: i64,
        last_seq: i64,
    },
    HeadMissing,
    RowChanged {
        table: String,
        key: String,
        audit_seq: i64,
    },
    RowMissing {
        table: String,
        key: String,
        audit_seq: i64,
    },
    RowUnaudited {
        table: String,
        key: String,
    },
    /// The table itself differs from what titrate created (a column renamed or retyped, row
    /// security, ...): its rows read differently whether or not anyone changed them, so they
    /// are not compared with the log, and no row is blamed for the schema's change.
    NotCompared {
        table: String,
    },
    /// The log itself (`audit` or `audit_head`) is not as titrate created it (a table that
    /// inherits from it, a column changed): its rows read differently, so the chain is not
    /// walked and no table is compared with it.
    LogNotRead {
        table: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Schema(p) => write!(f, "{p}"),
            Problem::InvalidText { table, key, column } => write!(
                f,
                "{table} row {}: column {column} holds text that is not valid UTF-8 (changed behind titrate's back or damaged)",
                shown(key)
            ),
            Problem::Unreadable(why) => {
                write!(f, "the record could not be read to compare it: {why}")
            }
            Problem::ChainGap { expected, found } => write!(
                f,
                "audit row {expected} is missing (the log jumps from {} to {found})",
                expected - 1
            ),
            Problem::BadLink { seq } => write!(
                f,
                "audit row {seq} does not follow from the row before it (a row before it was changed or removed)"
            ),
            Problem::BadHash { seq } => {
                write!(f, "audit row {seq} was changed after it was written")
            }
            Problem::HeadMismatch { head_seq, last_seq } => write!(
                f,
                "the audit log ends at row {last_seq} but its head records row {head_seq}: the newest rows were removed or the head was altered"
            ),
            Problem::HeadMissing => write!(f, "the audit head is missing"),
            Problem::RowChanged {
                table,
                key,
                audit_seq,
            } => write!(
                f,
                "{table} row {} differs from what audit row {audit_seq} recorded: it was changed behind titrate's back",
                shown(key)
            ),
            Problem::RowMissing {
                table,
                key,
                audit_seq,
            } => write!(
                f,
                "{table} row {} (written at audit row {audit_seq}) is missing: it was deleted",
                shown(key)
            ),
            Problem::RowUnaudited { table, key } => write!(
                f,
                "{table} row {} has no audit row: it was added behind titrate's back",
                shown(key)
            ),
            Problem::LogNotRead { table } => write!(
                f,
                "the audit log was not read, so its chain was not checked and no table was compared with it: {table} is not as titrate created it (above), and its rows would read differently whether or not anyone changed them; put the table back as it was and check again"
            ),
            Problem::NotCompared { table } => write!(
                f,
                "the rows of {table} were not compared with the audit log: the table is not as titrate created it (above), so they would differ from what the log recorded whether or not anyone changed them; put the table back as it was and check again"
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub rows: i64,
    /// The hash of the last row: noted elsewhere, it shows later whether rows were cut off.
    pub head_hash: String,
    pub problems: Vec<Problem>,
}

impl Verification {
    pub fn is_sound(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Compares the schema with what titrate's migrations create and looks at every text value;
/// then recomputes the chain from the first row, compares its end with the head, and
/// compares every audited table with the latest content the log recorded for each row.
pub fn verify(r: &dyn Reader) -> Result<Verification, StoreError> {
    let mut problems: Vec<Problem> = r
        .schema_differences()?
        .into_iter()
        .map(Problem::Schema)
        .collect();
    match verify_record(r, &mut problems) {
        Ok(v) => Ok(v),
        // A schema changed so far that the record cannot be read: say what changed.
        Err(e) if !problems.is_empty() => {
            problems.push(Problem::Unreadable(e.to_string()));
            Ok(Verification {
                rows: 0,
                head_hash: String::new(),
                problems,
            })
        }
        Err(e) => Err(e),
    }
}

fn verify_record(r: &dyn Reader, problems: &mut Vec<Problem>) -> Result<Verification, StoreError> {
    // The audited tables the schema comparison found different in themselves.
    let changed_tables: std::collections::HashSet<String> = problems
        .iter()
        .filter_map(|p| match p {
            Problem::Schema(SchemaProblem::Object(d)) if d.kind == "table" => Some(d.name.clone()),
            _ => None,
        })
        .collect();
    let changed_logs: Vec<Problem> = ["audit", "audit_head"]
        .into_iter()
        .filter(|log| changed_tables.contains(*log))
        .map(|log| Problem::LogNotRead {
            table: log.to_string(),
        })
        .collect();
    if !changed_logs.is_empty() {
        problems.extend(changed_logs);
        return Ok(Verification {
            rows: 0,
            head_hash: String::new(),
            problems: std::mem::take(problems),
        });
    }
    for (table, key, column) in r.invalid_text()? {
        problems.push(Problem::InvalidText { table, key, column });
    }
    // The chain, one row at a time: only the previous row's hash is kept.
    let mut prev = GENESIS.to_string();
    let mut expected_seq = 1;
    let mut last_seq = 0;
    r.each_audit_row(&mut |row| {
        if row.seq != expected_seq {
            problems.push(Problem::ChainGap {
                expected: expected_seq,
                found: row.seq,
            });
        }
        if row.prev_hash != prev {
            problems.push(Problem::BadLink { seq: row.seq });
        }
        if row_hash(&row) != row.hash {
            problems.push(Problem::BadHash { seq: row.seq });
        }
        prev = row.hash;
        expected_seq = row.seq + 1;
        last_seq = row.seq;
        Ok(())
    })?;
    match r.audit_head()? {
        None => problems.push(Problem::HeadMissing),
        Some((seq, ref hash)) => {
            if seq != last_seq || *hash != prev {
                problems.push(Problem::HeadMismatch {
                    head_seq: seq,
                    last_seq,
                });
            }
        }
    }

    // Every audited table beside the latest content the log holds for each of its rows, as
    // the backend pairs them: only what differs is kept, then put in the order the table's
    // rows have (changed and unaudited rows) and the order they were written (missing ones).
    for spec in audited_tables() {
        let table = spec.table;
        if changed_tables.contains(table) {
            problems.push(Problem::NotCompared {
                table: table.to_string(),
            });
            continue;
        }
        let mut differing: Vec<Problem> = Vec::new();
        let mut missing: Vec<(i64, String)> = Vec::new();
        r.compare_table(table, &mut |c| {
            match c {
                Compared::Row {
                    key, logged: None, ..
                } => differing.push(Problem::RowUnaudited {
                    table: table.to_string(),
                    key,
                }),
                Compared::Row {
                    key,
                    content,
                    logged: Some((seq, logged)),
                } => {
                    if logged != content {
                        differing.push(Problem::RowChanged {
                            table: table.to_string(),
                            key,
                            audit_seq: seq,
                        });
                    }
                }
                Compared::Missing { key, seq } => missing.push((seq, key)),
            }
            Ok(())
        })?;
        let integer_key = spec
            .columns
            .iter()
            .any(|c| c.name == spec.key && c.ty == ColumnType::Integer);
        differing.sort_by(|a, b| key_order(integer_key, row_key(a), row_key(b)));
        problems.extend(differing);
        missing.sort();
        for (seq, key) in missing {
            problems.push(Problem::RowMissing {
                table: table.to_string(),
                key,
                audit_seq: seq,
            });
        }
    }
    Ok(Verification {
        rows: last_seq,
        head_hash: prev,
        problems: std::mem::take(problems),
    })
}

fn row_key(p: &Problem) -> &str {
    match p {
        Problem::RowChanged { key, .. }
        | Problem::RowMissing { key, .. }
        | Problem::RowUnaudited { key, .. }
        | Problem::InvalidText { key, .. } => key,
        _ => "",
    }
}

/// The order of a table's rows by key: as numbers where the key is an integer column (a key
/// that does not read as one, which only a changed file can hold, before every number), as
/// bytes where it is text (SQLite's BINARY, PostgreSQL's "C").
fn key_order(integer: bool, a: &str, b: &str) -> std::cmp::Ordering {
    if integer {
        let n = |k: &str| k.parse::<i64>().ok();
        n(a).cmp(&n(b)).then_with(|| a.cmp(b))
    } else {
        a.cmp(b)
    }
}
