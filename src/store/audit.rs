//! The audit log's hash chain, and the check that the record still matches it.

use std::collections::HashMap;
use std::fmt;

use sha2::{Digest, Sha256};

use super::schema::shown;
use super::{AuditRow, Reader, SchemaProblem, StoreError, audited_tables};

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
    for (table, key, column) in r.invalid_text()? {
        problems.push(Problem::InvalidText { table, key, column });
    }
    let rows = r.audit_rows()?;
    let mut prev = GENESIS.to_string();
    let mut expected_seq = 1;
    for row in &rows {
        if row.seq != expected_seq {
            problems.push(Problem::ChainGap {
                expected: expected_seq,
                found: row.seq,
            });
        }
        if row.prev_hash != prev {
            problems.push(Problem::BadLink { seq: row.seq });
        }
        if row_hash(row) != row.hash {
            problems.push(Problem::BadHash { seq: row.seq });
        }
        prev = row.hash.clone();
        expected_seq = row.seq + 1;
    }
    let last_seq = rows.last().map_or(0, |r| r.seq);
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

    // The latest content the log holds for each row.
    let mut latest: HashMap<(&str, &str), (&str, i64)> = HashMap::new();
    for row in &rows {
        if let (Some(t), Some(k)) = (&row.tbl, &row.row_key) {
            latest.insert((t.as_str(), k.as_str()), (row.content.as_str(), row.seq));
        }
    }
    for spec in audited_tables() {
        let table = &spec.table;
        let current = r.table_rows(table)?;
        let mut present = std::collections::HashSet::new();
        for (key, content) in &current {
            present.insert(key.as_str());
            match latest.get(&(*table, key.as_str())) {
                None => problems.push(Problem::RowUnaudited {
                    table: table.to_string(),
                    key: key.clone(),
                }),
                Some((logged, seq)) if *logged != content.as_str() => {
                    problems.push(Problem::RowChanged {
                        table: table.to_string(),
                        key: key.clone(),
                        audit_seq: *seq,
                    })
                }
                Some(_) => {}
            }
        }
        let mut missing: Vec<_> = latest
            .iter()
            .filter(|((t, k), _)| t == table && !present.contains(k))
            .map(|((_, k), (_, seq))| (*seq, k.to_string()))
            .collect();
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
