//! The schema titrate's migrations create, compared with the schema a database file holds.
//!
//! The expected schema is not written down a second time: it is what the migrations in
//! schema.sql leave in a fresh in-memory database, so a later migration needs no code here.
//! Every object SQLite keeps in `sqlite_schema` is compared (tables, indexes, triggers,
//! views, virtual tables), by name, kind, table and normalised SQL.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use super::{SchemaProblem, StoreError};

/// One column as SQLite reports it (`PRAGMA table_xinfo`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct ColumnInfo {
    name: String,
    declared: String,
    not_null: bool,
    default: Option<String>,
    key: i64,
}

/// One entry of `sqlite_schema`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    pub kind: String,
    pub name: String,
    pub table: String,
    /// The CREATE statement without comments and with each run of white space made one
    /// space: a comment edited in schema.sql must not make every existing database differ.
    pub sql: Option<String>,
}

/// How one object differs from what titrate created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Added,
    Missing,
    /// What differs, as far as it can be said more precisely than "its SQL".
    Differs(Vec<String>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    pub kind: String,
    pub name: String,
    pub change: Change,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, name) = (shown(&self.kind), shown(&self.name));
        match &self.change {
            Change::Added => write!(f, "{kind} {name} was added behind titrate's back"),
            Change::Missing => write!(
                f,
                "{kind} {name} is missing (dropped behind titrate's back)"
            ),
            Change::Differs(details) if details.is_empty() => {
                write!(f, "{kind} {name} differs from what titrate created")
            }
            Change::Differs(details) => write!(
                f,
                "{kind} {name} differs from what titrate created: {}",
                details.join("; ")
            ),
        }
    }
}

/// A name read from a file someone else wrote, made safe to print: control and invisible
/// characters are shown escaped, never sent to the terminal.
pub fn shown(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{00ad}' | '\u{061c}' | '\u{e0000}'..='\u{e007f}') {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The schema's objects in the database `conn` holds, by name. SQLite's own statistics
/// tables are left out: `ANALYZE` or `PRAGMA optimize` by whoever looks after the server
/// only changes query plans, never what is stored.
pub fn objects(conn: &Connection) -> Result<BTreeMap<String, Object>, rusqlite::Error> {
    let mut stmt = conn.prepare("SELECT type, name, tbl_name, sql FROM main.sqlite_schema")?;
    let mut rows = stmt.query([])?;
    let mut out = BTreeMap::new();
    while let Some(row) = rows.next()? {
        let text = |i: usize| -> Result<Option<String>, rusqlite::Error> {
            Ok(match row.get_ref(i)? {
                ValueRef::Null => None,
                ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into()),
                ValueRef::Integer(v) => Some(v.to_string()),
                ValueRef::Real(v) => Some(v.to_string()),
            })
        };
        let name = text(1)?.unwrap_or_default();
        if name.starts_with("sqlite_stat") {
            continue;
        }
        let object = Object {
            kind: text(0)?.unwrap_or_default(),
            name: name.clone(),
            table: text(2)?.unwrap_or_default(),
            sql: text(3)?.map(|s| normalize(&s)),
        };
        out.insert(name, object);
    }
    Ok(out)
}

/// `sql` without comments, white space runs made one space; quoted text is kept as it is.
pub fn normalize(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut space = false;
    let push_space = |out: &mut String, space: &mut bool| {
        if *space && !out.is_empty() {
            out.push(' ');
        }
        *space = false;
    };
    while let Some(c) = chars.next() {
        match c {
            '-' if chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                space = true;
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for c in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
                space = true;
            }
            '\'' | '"' | '`' | '[' => {
                push_space(&mut out, &mut space);
                let close = if c == '[' { ']' } else { c };
                out.push(c);
                for c in chars.by_ref() {
                    out.push(c);
                    // A doubled quote inside is two quotes in a row: this closes and the
                    // next opens again, which copies the same characters.
                    if c == close {
                        break;
                    }
                }
            }
            c if c.is_whitespace() => space = true,
            c => {
                push_space(&mut out, &mut space);
                out.push(c);
            }
        }
    }
    out
}

fn columns(conn: &Connection, table: &str) -> Option<Vec<ColumnInfo>> {
    let mut stmt = conn
        .prepare("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_xinfo(?1)")
        .ok()?;
    let rows = stmt
        .query_map([table], |r| {
            Ok(ColumnInfo {
                name: r.get(0)?,
                declared: r.get(1)?,
                not_null: r.get::<_, i64>(2)? != 0,
                default: r.get(3)?,
                key: r.get(4)?,
            })
        })
        .ok()?;
    rows.collect::<Result<_, _>>().ok()
}

/// What migrations 1..=`version` create, made once per process for each version.
pub struct Expected {
    pub objects: BTreeMap<String, Object>,
    columns: BTreeMap<String, Vec<ColumnInfo>>,
}

type Cache = Mutex<Vec<(String, Arc<Expected>)>>;

pub fn expected(version: i64) -> Result<Arc<Expected>, StoreError> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let sql: String = super::sqlite::migrations()
        .into_iter()
        .filter(|(n, _)| *n <= version)
        .map(|(_, s)| s)
        .collect();
    let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
    if let Ok(c) = cache.lock()
        && let Some((_, e)) = c.iter().find(|(k, _)| *k == sql)
    {
        return Ok(Arc::clone(e));
    }
    let conn = Connection::open_in_memory()?;
    conn.execute_batch(&sql)?;
    let objects = objects(&conn)?;
    let columns = objects
        .values()
        .filter(|o| o.kind == "table")
        .filter_map(|o| columns(&conn, &o.name).map(|c| (o.name.clone(), c)))
        .collect();
    let e = Arc::new(Expected { objects, columns });
    if let Ok(mut c) = cache.lock() {
        c.push((sql, Arc::clone(&e)));
    }
    Ok(e)
}

/// Every difference between the schema in `conn` and what migrations 1..=`version` create.
pub fn differences(conn: &Connection, version: i64) -> Result<Vec<Difference>, StoreError> {
    let expected = expected(version)?;
    let actual = objects(conn)?;
    Ok(compare(&expected, &actual, conn))
}

fn compare(
    expected: &Expected,
    actual: &BTreeMap<String, Object>,
    conn: &Connection,
) -> Vec<Difference> {
    let mut out = Vec::new();
    for (name, want) in &expected.objects {
        match actual.get(name) {
            None => out.push(Difference {
                kind: want.kind.clone(),
                name: name.clone(),
                change: Change::Missing,
            }),
            Some(got) if got != want => {
                let mut details = Vec::new();
                if got.kind != want.kind {
                    details.push(format!("it is now a {}", shown(&got.kind)));
                } else if got.table != want.table {
                    details.push(format!("it is now on table {}", shown(&got.table)));
                } else if want.kind == "table"
                    && let (Some(w), Some(g)) = (expected.columns.get(name), columns(conn, name))
                {
                    details = column_changes(w, &g);
                }
                out.push(Difference {
                    kind: want.kind.clone(),
                    name: name.clone(),
                    change: Change::Differs(details),
                });
            }
            Some(_) => {}
        }
    }
    for (name, got) in actual {
        if !expected.objects.contains_key(name) {
            let virtual_table = got
                .sql
                .as_deref()
                .is_some_and(|s| s.to_ascii_uppercase().starts_with("CREATE VIRTUAL"));
            out.push(Difference {
                kind: if virtual_table {
                    "virtual table".into()
                } else {
                    got.kind.clone()
                },
                name: name.clone(),
                change: Change::Added,
            });
        }
    }
    out
}

fn column_changes(want: &[ColumnInfo], got: &[ColumnInfo]) -> Vec<String> {
    let mut out = Vec::new();
    for w in want {
        match got.iter().find(|g| g.name == w.name) {
            None => out.push(format!("column {} is missing", shown(&w.name))),
            Some(g) if g.declared != w.declared => out.push(format!(
                "column {} is declared {} (titrate created {})",
                shown(&g.name),
                shown(&g.declared),
                w.declared
            )),
            Some(g) if g != w => out.push(format!(
                "column {} has another NOT NULL, default or key",
                shown(&g.name)
            )),
            Some(_) => {}
        }
    }
    for g in got {
        if !want.iter().any(|w| w.name == g.name) {
            out.push(format!("column {} was added", shown(&g.name)));
        }
    }
    if out.is_empty() {
        out.push("its constraints or column order differ".into());
    }
    out
}

/// Every way the schema in `conn` differs from what migrations 1..=`version` create; a
/// schema that is exactly another version's is said as a changed version number.
pub fn problems(conn: &Connection, version: i64) -> Result<Vec<SchemaProblem>, StoreError> {
    let diffs = differences(conn, version)?;
    if diffs.is_empty() {
        return Ok(vec![]);
    }
    if let Some(holds) = version_holding(conn, version)? {
        return Ok(vec![SchemaProblem::Version {
            found: version,
            holds,
        }]);
    }
    Ok(diffs.into_iter().map(SchemaProblem::Object).collect())
}

impl fmt::Display for SchemaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaProblem::Object(d) => write!(f, "{d}"),
            SchemaProblem::Version { found, holds } => write!(
                f,
                "the recorded schema version is {found}, but the schema is that of version {holds}: the version number was changed behind titrate's back"
            ),
        }
    }
}

/// The version whose schema `conn` holds exactly, when it is not `claimed`: a changed
/// `PRAGMA user_version`. Only asked once the schema is known to differ. Of versions with
/// the same objects (a migration that changes only the other backend) the newest.
pub fn version_holding(conn: &Connection, claimed: i64) -> Result<Option<i64>, StoreError> {
    let actual = objects(conn)?;
    let mut holding = None;
    for (n, _) in super::sqlite::migrations() {
        if n != claimed && expected(n)?.objects == actual {
            holding = Some(n);
        }
    }
    Ok(holding)
}

/// The tables titrate created that `conn` still holds as tables: the only ones whose rows
/// are read. A view or virtual table in a table's place is not run.
pub fn own_tables(conn: &Connection, version: i64) -> Result<Vec<String>, StoreError> {
    let expected = expected(version)?;
    let actual = objects(conn)?;
    Ok(expected
        .objects
        .values()
        .filter(|o| o.kind == "table" && !o.name.starts_with("sqlite_"))
        .filter(|o| {
            actual.get(&o.name).is_some_and(|a| {
                a.kind == "table"
                    && !a
                        .sql
                        .as_deref()
                        .is_some_and(|s| s.to_ascii_uppercase().starts_with("CREATE VIRTUAL"))
            })
        })
        .map(|o| o.name.clone())
        .collect())
}

/// Column names of a table as it is in `conn`.
pub fn column_names(conn: &Connection, table: &str) -> Vec<String> {
    columns(conn, table)
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.name)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn normalising_drops_comments_and_spacing_but_keeps_quoted_text() {
        assert_eq!(
            normalize("CREATE TABLE t (\n  a TEXT, -- why\n  b /* x */ INT DEFAULT '--  x'\n)"),
            "CREATE TABLE t ( a TEXT, b INT DEFAULT '--  x' )"
        );
        assert_eq!(normalize("x 'it''s  -- no'  y"), "x 'it''s  -- no' y");
    }

    #[test]
    fn a_fresh_database_holds_exactly_the_expected_schema() {
        let conn = Connection::open_in_memory().unwrap();
        let v = super::super::sqlite::schema_version();
        let sql: String = super::super::sqlite::migrations()
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        conn.execute_batch(&sql).unwrap();
        assert_eq!(differences(&conn, v).unwrap(), vec![]);
        conn.execute_batch("DROP TRIGGER entry_no_update; CREATE VIEW v AS SELECT 1;")
            .unwrap();
        let d = differences(&conn, v).unwrap();
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(version_holding(&conn, v).unwrap(), None);
    }
}
