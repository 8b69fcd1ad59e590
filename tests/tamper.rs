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

/// Runs `sql` on a copy of the fixture, as the sqlite3 shell would (triggers dropped first),
/// and returns what `audit verify` says and its exit status.
fn tampered(sql: &str) -> (bool, String) {
    let w = fixture();
    {
        let conn = Connection::open(w.path()).unwrap();
        let triggers: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        for t in triggers {
            conn.execute_batch(&format!("DROP TRIGGER {t}")).unwrap();
        }
        conn.execute_batch(sql).unwrap();
    }
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
