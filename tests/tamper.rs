//! Someone with the sqlite3 shell changes or deletes a row behind titrate's back:
//! `titrate audit verify` must fail and name the place, for every table.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::Duration;
use common::{Ward, hours_ago, rfc, text};
use rusqlite::Connection;

/// A record with at least one row in every table.
fn fixture() -> Ward {
    let w = Ward::new();
    w.ok(&[
        "patient",
        "add",
        "--mrn",
        "4001",
        "--name",
        "Els Vos",
        "--birth-date",
        "1980-03-03",
        "--sex",
        "female",
        "--weight-kg",
        "65",
    ]);
    let start = hours_ago(30);
    let at = |h: i64| rfc(start + Duration::hours(h));
    w.ok(&["nrs", "--mrn", "4001", "--score", "7", "--at", &at(-1)]);
    w.ok(&["course", "start", "--mrn", "4001", "--at", &at(0)]);
    w.ok(&["dose", "--mrn", "4001", "--rate", "2", "--at", &at(0)]);
    let wrong = w.entry(&["dose", "--mrn", "4001", "--rate", "4", "--at", &at(3)]);
    w.ok(&["void", &wrong.to_string(), "--reason", "wrong time"]);
    w.ok(&["dose", "--mrn", "4001", "--rate", "4", "--at", &at(4)]);
    assert!(w.ok(&["audit", "verify"]).contains("sound"));
    w
}

/// Runs `sql` as the sqlite3 shell would, with the triggers dropped first and put back
/// exactly as they were afterwards, so that only the rows differ (and not the schema).
fn behind_the_back(db: &std::path::Path, sql: &str) {
    let conn = Connection::open(db).unwrap();
    let triggers: Vec<(String, String)> = conn
        .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for (t, _) in &triggers {
        conn.execute_batch(&format!("DROP TRIGGER {t}")).unwrap();
    }
    conn.execute_batch(sql).unwrap();
    for (_, create) in &triggers {
        conn.execute_batch(create).unwrap();
    }
}

/// Runs `sql` on a copy of the fixture behind titrate's back and returns what `audit verify`
/// says and its exit status.
fn tampered(sql: &str) -> (bool, String) {
    let w = fixture();
    behind_the_back(w.path(), sql);
    let out = w.run_with("AB", "1234", &[], &["audit", "verify"]);
    (out.status.success(), text(&out.stdout))
}

#[test]
fn triggers_refuse_changes_to_the_record() {
    let w = fixture();
    let conn = Connection::open(w.path()).unwrap();
    for sql in [
        "UPDATE entry SET rate_centi = 1500 WHERE kind = 'rate'",
        "DELETE FROM entry",
        "UPDATE patient SET name = 'x'",
        "DELETE FROM void",
        "UPDATE audit SET actor = 'ZZ'",
        "DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)",
        "DELETE FROM course",
        "UPDATE protocol SET snapshot = '{}'",
        "DELETE FROM staff",
        "DELETE FROM audit_head",
    ] {
        assert!(conn.execute_batch(sql).is_err(), "{sql} was allowed");
    }
}

#[test]
fn every_table_change_is_named() {
    let cases: &[(&str, &str)] = &[
        (
            "UPDATE entry SET rate_centi = 1500 WHERE id = (SELECT MAX(id) FROM entry WHERE kind = 'rate')",
            "entry row",
        ),
        (
            "UPDATE entry SET happened_at = '2020-01-01T00:00:00Z' WHERE kind = 'nrs'",
            "entry row",
        ),
        (
            "DELETE FROM entry WHERE id = (SELECT MAX(id) FROM entry)",
            "is missing: it was deleted",
        ),
        (
            "UPDATE patient SET name = 'Someone Else'",
            "patient row 1 differs",
        ),
        ("DELETE FROM void", "void row 1"),
        ("UPDATE void SET reason = 'nothing'", "void row 1 differs"),
        ("UPDATE course SET patient_id = patient_id", ""), // a no-op change must not be reported
        (
            "UPDATE protocol SET snapshot = replace(snapshot, '14.0', '15.0')",
            "protocol row 1 differs",
        ),
        (
            "UPDATE staff SET role = 'admin', locked = 0 WHERE id = 'AB'",
            "",
        ), // same values: no-op
        (
            "UPDATE staff SET failed_pins = 0, name = 'Mallory' WHERE id = 'AB'",
            "staff row AB differs",
        ),
        (
            "UPDATE staff SET pin_hash = 'x' WHERE id = 'AB'",
            "staff row AB differs",
        ),
        (
            "INSERT INTO staff (id, name, role, pin_hash, created_at, created_by) VALUES ('EV', 'Eve', 'admin', 'x', '2026-01-01T00:00:00Z', 'AB')",
            "staff row EV has no audit row",
        ),
        (
            "UPDATE audit SET content = replace(content, '\"score\":7', '\"score\":3') WHERE content LIKE '%\"score\":7%'",
            "was changed after it was written",
        ),
        ("DELETE FROM audit WHERE seq = 3", "audit row 3 is missing"),
        (
            "DELETE FROM audit WHERE seq >= (SELECT MAX(seq) - 1 FROM audit)",
            "the newest rows were removed",
        ),
        (
            "UPDATE audit_head SET seq = seq - 1",
            "its head records row",
        ),
    ];
    for (sql, expect) in cases {
        let (ok, out) = tampered(sql);
        if expect.is_empty() {
            assert!(
                ok,
                "{sql}: a change that changes nothing was reported: {out}"
            );
        } else {
            assert!(!ok, "{sql}: not detected: {out}");
            assert!(out.contains(expect), "{sql}: expected {expect:?} in {out}");
        }
    }
}

#[test]
fn the_newest_rows_and_their_audit_rows_removed_together_are_found() {
    // The head still records the removed audit row. (Rewriting the head as well defeats any
    // chain kept inside the same file: that is why `audit verify` prints the head hash, to
    // be noted down elsewhere.)
    let (ok, out) = tampered(
        "DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit); \
         DELETE FROM entry WHERE id = (SELECT MAX(id) FROM entry);",
    );
    assert!(!ok, "{out}");
    assert!(out.contains("head"), "{out}");
}

// ------------------------------------------------------------------------------------------
// The schema itself changed behind titrate's back
// ------------------------------------------------------------------------------------------

/// The fixture with a pseudonym as well: a row in every table.
fn full_fixture() -> Ward {
    let w = fixture();
    // A correction of the patient's details, so that patient_version has a row too.
    w.ok(&[
        "patient",
        "amend",
        "--mrn",
        "4001",
        "--reason",
        "limb was misheard",
        "--limb",
        "right leg",
    ]);
    let out = w.dir.path().join("export");
    w.ok(&["export", "--out", &out.to_string_lossy(), "--pseudonymize"]);
    // An advice for the discharge letter, so that letter_advice has a row too.
    let o = w.run_with(
        "AB",
        "1234",
        &[("TITRATE_NEW_PIN", "1234")],
        &[
            "staff",
            "add",
            "--id",
            "PH",
            "--name",
            "Pieter Hofman",
            "--role",
            "physician",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let letter = w.dir.path().join("letter.md");
    w.ok(&[
        "summary",
        "--mrn",
        "4001",
        "--format",
        "markdown",
        "--out",
        &letter.to_string_lossy(),
        "--draft",
        "--advice",
        "Follow up in 3 months.",
        "--responsible",
        "PH",
    ]);
    assert!(w.ok(&["audit", "verify"]).contains("sound"));
    w
}

/// A copy of `w`'s database in a ward folder of its own (far cheaper than a new fixture).
fn copy_of(w: &Ward) -> Ward {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    // Folds the WAL in, so that the file alone is the whole database.
    Connection::open(w.path())
        .unwrap()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    std::fs::copy(w.path(), &db).unwrap();
    Ward { dir, db }
}

struct Said {
    check: (Option<i32>, String),
    verify: (Option<i32>, String),
}

fn check_and_verify(w: &Ward) -> Said {
    let c = w.run_with("AB", "1234", &[], &["check"]);
    let v = w.run_with("AB", "1234", &[], &["audit", "verify"]);
    Said {
        check: (c.status.code(), text(&c.stdout) + &text(&c.stderr)),
        verify: (v.status.code(), text(&v.stdout) + &text(&v.stderr)),
    }
}

fn assert_named(said: &Said, what: &str, expect: &str) {
    for (cmd, (code, out)) in [("check", &said.check), ("audit verify", &said.verify)] {
        assert_eq!(*code, Some(3), "{what}: {cmd} exit; it said:\n{out}");
        assert!(
            out.contains(expect),
            "{what}: {cmd} did not say {expect:?}:\n{out}"
        );
    }
}

#[test]
fn every_kind_of_schema_object_added_dropped_or_changed_is_named_and_blocks_writing() {
    let base = full_fixture();
    let at = rfc(hours_ago(1));
    let newest_said = format!(
        "the recorded schema version is 2, but the schema is that of version {}",
        titrate::store::sqlite::schema_version()
    );
    let cases: &[(&str, &str)] = &[
        // tables
        ("CREATE TABLE notes (x TEXT)", "table notes was added"),
        ("DROP TABLE pseudonym", "table pseudonym is missing"),
        (
            "PRAGMA writable_schema = ON; \
             UPDATE sqlite_master SET sql = replace(sql, 'rate_centi <= 5000', 'rate_centi <= 50000') WHERE name = 'entry'",
            "table entry differs from what titrate created: its constraints",
        ),
        (
            "DROP TABLE pseudonym; CREATE VIEW pseudonym AS SELECT 1 AS patient_id",
            "table pseudonym differs from what titrate created: it is now a view",
        ),
        // columns
        (
            "ALTER TABLE patient ADD COLUMN note TEXT",
            "table patient differs from what titrate created: column note was added",
        ),
        ("ALTER TABLE entry DROP COLUMN bed", "column bed is missing"),
        (
            "ALTER TABLE entry RENAME COLUMN detail TO details",
            "column detail is missing; column details was added",
        ),
        (
            "PRAGMA writable_schema = ON; \
             UPDATE sqlite_master SET sql = replace(sql, 'limb        TEXT', 'limb        BLOB') WHERE name = 'patient'",
            "column limb is declared BLOB (titrate created TEXT)",
        ),
        // indexes
        (
            "CREATE INDEX by_name ON patient (name)",
            "index by_name was added",
        ),
        ("DROP INDEX entry_course", "index entry_course is missing"),
        (
            "DROP INDEX entry_course; CREATE INDEX entry_course ON entry (course_id)",
            "index entry_course differs from what titrate created",
        ),
        // triggers
        (
            "CREATE TRIGGER evil AFTER INSERT ON entry BEGIN SELECT 1; END",
            "trigger evil was added",
        ),
        (
            "DROP TRIGGER void_no_delete",
            "trigger void_no_delete is missing",
        ),
        (
            "DROP TRIGGER audit_no_update; \
             CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit WHEN 0 BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
            "trigger audit_no_update differs from what titrate created",
        ),
        // views and virtual tables
        (
            "CREATE VIEW everyone AS SELECT name FROM patient",
            "view everyone was added",
        ),
        (
            "CREATE VIRTUAL TABLE search USING fts5(name)",
            "virtual table search was added",
        ),
        (
            "PRAGMA writable_schema = ON; \
             INSERT INTO sqlite_master VALUES ('table', 'ghost', 'ghost', 0, 'CREATE VIRTUAL TABLE ghost USING nosuchmodule(x)')",
            "virtual table ghost was added",
        ),
        // the version number
        ("PRAGMA user_version = 2", &newest_said),
    ];
    for (sql, expect) in cases {
        let w = copy_of(&base);
        {
            let conn = Connection::open(w.path()).unwrap();
            conn.execute_batch(sql).unwrap();
        }
        let before = std::fs::read(w.path()).unwrap();
        assert_named(&check_and_verify(&w), sql, expect);
        // A write on such a file would run whatever was planted: it is refused, and says so.
        let out = w.run_with(
            "AB",
            "1234",
            &[],
            &["nrs", "--mrn", "4001", "--score", "5", "--at", &at],
        );
        let err = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{sql}: a write was not refused: {err}"
        );
        assert!(
            err.contains("changed behind titrate's back") && err.contains("titrate check"),
            "{sql}: the refusal does not say why: {err}"
        );
        // Nothing written: the file as it was and no frame in its write-ahead log.
        assert!(
            before == std::fs::read(w.path()).unwrap(),
            "{sql}: the file changed"
        );
        let wal = w.path().with_extension("db-wal");
        let wal_len = std::fs::metadata(&wal).map_or(0, |m| m.len());
        assert_eq!(
            wal_len, 0,
            "{sql}: the refused write left frames in the WAL"
        );
        let leftovers: Vec<_> = std::fs::read_dir(w.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".bak"))
            .collect();
        assert!(leftovers.is_empty(), "{sql}: copies made: {leftovers:?}");
    }
}

#[test]
fn the_planted_trigger_that_doubled_a_rate_is_found_and_cannot_double_another() {
    // Seen: after DROP TRIGGER entry_no_update and a planted AFTER INSERT trigger, a rate of
    // 10 mg/h was stored as 20 mg/h, and check and audit verify said "sound".
    let w = fixture();
    {
        let conn = Connection::open(w.path()).unwrap();
        conn.execute_batch(
            "DROP TRIGGER entry_no_update; \
             CREATE TRIGGER double_it AFTER INSERT ON entry WHEN new.kind = 'rate' \
             BEGIN UPDATE entry SET rate_centi = rate_centi * 2 WHERE id = new.id; END;",
        )
        .unwrap();
    }
    let rates = |w: &Ward| -> Vec<i64> {
        let conn = Connection::open(w.path()).unwrap();
        conn.prepare("SELECT rate_centi FROM entry WHERE kind = 'rate' ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    let before = rates(&w);
    let err = w.refused(&[
        "dose",
        "--mrn",
        "4001",
        "--rate",
        "10",
        "--at",
        &rfc(hours_ago(1)),
    ]);
    assert!(
        err.contains("trigger entry_no_update is missing")
            && err.contains("trigger double_it was added"),
        "{err}"
    );
    assert_eq!(rates(&w), before, "the rate was written");
    let said = check_and_verify(&w);
    assert_named(&said, "check", "trigger entry_no_update is missing");
    assert_named(
        &said,
        "check",
        "trigger double_it was added behind titrate's back",
    );
    assert!(!said.check.1.contains("\nsound"), "{}", said.check.1);

    // Had a rate been doubled before the trigger was noticed (an older titrate wrote through
    // it), its audit row holds the doubled value too: the schema is what gives it away.
    behind_the_back(
        w.path(),
        "UPDATE entry SET rate_centi = 2000 WHERE id = (SELECT MAX(id) FROM entry WHERE kind = 'rate')",
    );
    assert_named(
        &check_and_verify(&w),
        "after",
        "trigger double_it was added",
    );
}

#[test]
fn check_runs_nothing_of_the_files_own_making() {
    // A view over a function with side effects, and triggers on every table: check and
    // audit verify only read, through a read-only connection, so neither runs.
    let w = fixture();
    {
        let conn = Connection::open(w.path()).unwrap();
        conn.execute_batch(
            "CREATE TABLE fired (n INTEGER); \
             CREATE TRIGGER f1 AFTER INSERT ON audit BEGIN INSERT INTO fired VALUES (1); END; \
             CREATE TRIGGER f2 AFTER UPDATE ON audit_head BEGIN INSERT INTO fired VALUES (2); END;",
        )
        .unwrap();
    }
    let said = check_and_verify(&w);
    assert_named(&said, "planted", "trigger f1 was added");
    // A sign-in that fails writes a failed-PIN count and an audit row: not on this file.
    let out = w.run_with("AB", "0000", &[], &["status"]);
    assert!(!out.status.success());
    let conn = Connection::open(w.path()).unwrap();
    let fired: i64 = conn
        .query_row("SELECT COUNT(*) FROM fired", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fired, 0, "a planted trigger ran");
}

#[test]
fn a_rewritten_comment_or_spacing_in_the_stored_schema_is_not_a_change() {
    let w = fixture();
    {
        let conn = Connection::open(w.path()).unwrap();
        conn.execute_batch(
            "PRAGMA writable_schema = ON; \
             UPDATE sqlite_master SET sql = replace(sql, '-- initials, upper case', '/* initials */   ') WHERE name = 'staff'",
        )
        .unwrap();
    }
    let out = w.ok(&["check"]);
    assert!(out.contains("\nsound"), "{out}");
}

// ------------------------------------------------------------------------------------------
// Text that is not UTF-8
// ------------------------------------------------------------------------------------------

#[test]
fn invalid_utf8_in_any_text_column_of_any_table_is_named() {
    let base = full_fixture();
    let text_columns: Vec<(String, String)> = {
        let conn = Connection::open(base.path()).unwrap();
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let mut out = Vec::new();
        for t in tables {
            let mut stmt = conn
                .prepare("SELECT name FROM pragma_table_info(?1) WHERE type = 'TEXT'")
                .unwrap();
            for c in stmt.query_map([&t], |r| r.get::<_, String>(0)).unwrap() {
                out.push((t.clone(), c.unwrap()));
            }
        }
        out
    };
    assert!(text_columns.len() > 40, "{text_columns:?}");
    for table in [
        "staff",
        "protocol",
        "patient",
        "course",
        "entry",
        "void",
        "audit",
        "audit_head",
        "pseudonym",
        "patient_version",
        "protocol_approval",
        "letter_advice",
    ] {
        assert!(
            text_columns.iter().any(|(t, _)| t == table),
            "no text column found in {table}"
        );
    }
    // A table without rows would have nothing to damage: the case would prove nothing.
    {
        let conn = Connection::open(base.path()).unwrap();
        for (table, _) in &text_columns {
            let n: i64 = conn
                .query_row(&format!("SELECT COUNT(*) FROM \"{table}\""), [], |r| {
                    r.get(0)
                })
                .unwrap();
            assert!(n > 0, "the fixture has no row in {table}");
        }
    }
    for (table, column) in &text_columns {
        let w = copy_of(&base);
        // The row's value with one byte made 0xFF (NULL becomes a lone 0xFF), as a disk error
        // or a hex editor would leave it; CHECK constraints off, as the shell allows.
        behind_the_back(
            w.path(),
            &format!(
                "PRAGMA ignore_check_constraints = ON; PRAGMA foreign_keys = OFF; \
                 UPDATE \"{table}\" SET \"{column}\" = CAST(coalesce(CAST(\"{column}\" AS BLOB), X'') || X'FF' AS TEXT) \
                 WHERE rowid = (SELECT MIN(rowid) FROM \"{table}\")"
            ),
        );
        let said = check_and_verify(&w);
        assert_named(
            &said,
            &format!("{table}.{column}"),
            &format!("column {column} holds text that is not valid UTF-8"),
        );
        assert!(
            said.check.1.contains(&format!("{table} row ")),
            "{table}.{column}: the table is not named:\n{}",
            said.check.1
        );
    }
}

#[test]
fn the_name_byte_changed_to_0xff_is_found_with_its_place() {
    // Seen: a name byte changed to 0xFF passed check; history and cohort then failed.
    let w = fixture();
    behind_the_back(
        w.path(),
        "UPDATE patient SET name = CAST(X'456CFF7320566F73' AS TEXT) WHERE mrn = '4001'",
    );
    let said = check_and_verify(&w);
    assert_named(
        &said,
        "name",
        "patient row 1: column name holds text that is not valid UTF-8",
    );
    assert_named(&said, "name", "patient row 1 differs from what audit row");
}
