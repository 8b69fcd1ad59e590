//! The audited-table list against the schema, and a later migration that adds a column.
#![allow(clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use rusqlite::Connection;

use super::Store as _;
use super::audit::{Problem, verify};
use super::sqlite::{SqliteDb as Db, migrations, schema_version};
use super::{
    AUDITED_TABLES, Audited, ColumnType, NewPatient, Staff, audited, int, real, secret, test_hook,
    text,
};
use crate::domain::values::{Role, Sex};

/// A database holding migrations 1..=`version`.
fn at_version(version: i64) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    for (n, sql) in migrations() {
        if n <= version {
            conn.execute_batch(&sql).unwrap();
        }
    }
    conn
}

/// (name, declared type) of each column of `table`.
fn columns(conn: &Connection, table: &str) -> Vec<(String, String)> {
    conn.prepare("SELECT name, type FROM pragma_table_info(?1)")
        .unwrap()
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

#[test]
fn the_audited_list_names_every_column_of_every_record_table_with_its_type() {
    let newest = at_version(schema_version());
    let tables: Vec<String> = newest
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for table in &tables {
        // The audit log and its head are the chain itself, not rows mirrored in it.
        if table == "audit" || table == "audit_head" {
            continue;
        }
        let spec = AUDITED_TABLES
            .iter()
            .find(|a| a.table == table)
            .unwrap_or_else(|| panic!("table {table} is not in AUDITED_TABLES"));
        let have = columns(&newest, table);
        assert_eq!(
            spec.columns.len(),
            have.len(),
            "{table}: AUDITED_TABLES lists {:?}, the table has {have:?}",
            spec.columns.iter().map(|c| c.name).collect::<Vec<_>>()
        );
        // The version that created the table: its columns then are the original ones.
        let created = (1..=schema_version())
            .find(|v| !columns(&at_version(*v), table).is_empty())
            .unwrap();
        let original = columns(&at_version(created), table);
        for (name, declared) in &have {
            let col = spec
                .columns
                .iter()
                .find(|c| c.name == name)
                .unwrap_or_else(|| panic!("{table}.{name} is missing from AUDITED_TABLES"));
            let want = match col.ty {
                ColumnType::Integer => "INTEGER",
                ColumnType::Real => "REAL",
                ColumnType::Text | ColumnType::Secret => "TEXT",
            };
            assert_eq!(declared, want, "{table}.{name}: declared type");
            let is_original = original.iter().any(|(n, _)| n == name);
            assert_eq!(
                col.later, !is_original,
                "{table}.{name}: a column added after its table was created is marked .later(), and only such a column"
            );
        }
        assert!(
            spec.columns.iter().any(|c| c.name == spec.key),
            "{table}: key column"
        );
    }
    for spec in AUDITED_TABLES {
        assert!(
            tables.iter().any(|t| t == spec.table),
            "{} is no table",
            spec.table
        );
    }
}

fn admin() -> Staff {
    Staff {
        id: "AB".into(),
        name: "Anna Boer".into(),
        role: Role::Admin,
        pin_hash: "hash".into(),
        active: true,
        failed_pins: 0,
        locked: false,
    }
}

fn patient(mrn: &str) -> NewPatient {
    NewPatient {
        mrn: mrn.into(),
        name: "Test Patient".into(),
        birth_date: chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap(),
        sex: Sex::Female,
        weight_kg: Some(70.0),
        crps_type: None,
        crps_onset: None,
        limb: Some("left hand".into()),
    }
}

/// Plays a titrate one version newer, on this thread: migration N+1 adds `patient.nickname`
/// and the audited list carries it, as `later` or (to show why the rule is there) not.
fn newer_titrate(later: bool) {
    let n = schema_version() + 1;
    test_hook::MIGRATION.with(|m| {
        *m.borrow_mut() = Some((n, "ALTER TABLE patient ADD COLUMN nickname TEXT;\n".into()));
    });
    let nickname = if later {
        text("nickname").later()
    } else {
        text("nickname")
    };
    let mut tables: Vec<Audited> = AUDITED_TABLES.to_vec();
    let p = tables.iter_mut().find(|a| a.table == "patient").unwrap();
    let mut cols = p.columns.to_vec();
    cols.push(nickname);
    *p = audited("patient", "id", Box::leak(cols.into_boxed_slice()));
    test_hook::TABLES.with(|t| *t.borrow_mut() = Some(Box::leak(tables.into_boxed_slice())));
}

fn now() -> crate::domain::time::Instant {
    Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap()
}

#[test]
fn a_column_added_by_a_later_migration_keeps_old_rows_verified_and_covers_new_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ward.db");
    {
        let mut db = Db::create_file(&path).unwrap();
        db.write("AB", now(), |w| {
            w.insert_staff(&admin(), "staff add")?;
            w.insert_patient(&patient("1"))?;
            w.insert_patient(&patient("2"))
        })
        .unwrap();
    }
    let old_version = schema_version();
    newer_titrate(true);
    assert_eq!(schema_version(), old_version + 1);
    let mut db = Db::open_file(&path).unwrap();
    assert_eq!(db.user_version().unwrap(), old_version + 1);
    let v = db.read(|r| verify(r)).unwrap();
    assert!(
        v.is_sound(),
        "old rows after the migration: {:?}",
        v.problems
    );

    // Rows written by the newer titrate are audited with it too, NULL or not.
    db.write("AB", now(), |w| w.insert_patient(&patient("3")))
        .unwrap();
    let v = db.read(|r| verify(r)).unwrap();
    assert!(v.is_sound(), "{:?}", v.problems);

    // A value put into the new column behind titrate's back is caught, on an old row.
    db.raw_connection()
        .execute_batch(
            "DROP TRIGGER patient_no_update; \
             UPDATE patient SET nickname = 'Ellie' WHERE id = 1; \
             CREATE TRIGGER patient_no_update BEFORE UPDATE ON patient \
             BEGIN SELECT RAISE(ABORT, 'patient rows are never changed'); END;",
        )
        .unwrap();
    let v = db.read(|r| verify(r)).unwrap();
    assert_eq!(
        v.problems,
        vec![Problem::RowChanged {
            table: "patient".into(),
            key: "1".into(),
            audit_seq: 2
        }]
    );

    // Without the rule, every old row would fail: the rule is what keeps them.
    newer_titrate(false);
    let v = db.read(|r| verify(r)).unwrap();
    assert!(
        v.problems
            .iter()
            .filter(|p| matches!(p, Problem::RowChanged { .. }))
            .count()
            >= 2,
        "{:?}",
        v.problems
    );
}

#[test]
fn canonical_content_is_written_from_the_declared_type_not_the_stored_one() {
    // The same columns as the patient table, filled as SQLite might hold them: a whole
    // real kept as an integer, a number in a text column, a text in an integer column.
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE t (i, r, s, p); \
         INSERT INTO t VALUES (5, 70, 'x\"y', 'hash'); \
         INSERT INTO t VALUES ('5', 70.5, 12, X'00');",
    )
    .unwrap();
    let cols = [int("i"), real("r"), text("s"), secret("p")];
    let rows: Vec<String> = conn
        .prepare("SELECT i, r, s, p FROM t ORDER BY rowid")
        .unwrap()
        .query_map([], |r| Ok(super::rows::canonical(r, &cols).unwrap()))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let digest = super::audit::sha256_hex(b"hash");
    assert_eq!(
        rows[0],
        format!(r#"{{"i":5,"p_sha256":"{digest}","r":70.0,"s":"x\"y"}}"#)
    );
    assert_eq!(
        rows[1],
        r#"{"i":{"stored_as":"text","value":"5"},"p_sha256":"","r":70.5,"s":{"stored_as":"integer","value":12}}"#
    );
}
