//! `titrate patient amend`: corrections of a patient's details through the real binary.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Ward, dump, hours_ago, rfc, text};

fn add(w: &Ward, mrn: &str) {
    w.ok(&[
        "patient",
        "add",
        "--mrn",
        mrn,
        "--name",
        "Jan Jansen",
        "--birth-date",
        "1970-05-01",
        "--sex",
        "male",
        "--weight-kg",
        "70",
        "--crps-type",
        "1",
        "--crps-onset",
        "2020-01-01",
        "--limb",
        "left hand",
    ]);
}

fn amend(w: &Ward, mrn: &str, reason: &str, fields: &[&str]) -> String {
    let mut a = vec!["patient", "amend", "--mrn", mrn, "--reason", reason];
    a.extend_from_slice(fields);
    w.ok(&a)
}

fn sound(w: &Ward) {
    let v = w.ok(&["audit", "verify"]);
    assert!(v.contains("audit chain sound"), "{v}");
    let c = w.ok(&["check"]);
    assert!(c.contains("sound"), "{c}");
}

#[test]
fn every_field_is_corrected_with_who_when_and_why() {
    let w = Ward::new();
    add(&w, "1001");
    let fields: [(&str, &str, &str, &str); 8] = [
        ("--name", "Jan Janssen", "Jan Jansen", "Jan Janssen"),
        ("--birth-date", "1971-05-01", "1970-05-01", "1971-05-01"),
        ("--sex", "other", "male", "other"),
        ("--weight-kg", "82.5", "70 kg", "82.5 kg"),
        ("--crps-type", "2", "1", "2"),
        ("--crps-onset", "2021-02-03", "2020-01-01", "2021-02-03"),
        ("--limb", "right foot", "left hand", "right foot"),
        ("--new-mrn", "1001-B", "1001", "1001-B"),
    ];
    let mut mrn = "1001".to_string();
    for (i, (flag, value, old, new)) in fields.iter().enumerate() {
        let reason = format!("typo number {i}");
        let out = amend(&w, &mrn, &reason, &[flag, value]);
        assert!(out.contains(&format!("version {}", i + 1)), "{out}");
        assert!(out.contains(&format!("{old} -> {new}")), "{out}");
        if *flag == "--new-mrn" {
            mrn = value.to_string();
        }
        let h = w.ok(&["history", "--mrn", &mrn]);
        let line = h
            .lines()
            .find(|l| l.starts_with(&format!("details version {} ", i + 1)))
            .unwrap_or_else(|| panic!("no version {} in\n{h}", i + 1));
        assert!(line.contains("by AB at "), "{line}");
        assert!(line.contains(&format!("{old} -> {new}")), "{line}");
        assert!(line.contains(&format!("[reason: {reason}]")), "{line}");
    }
    // The current details everywhere: history's header and the status.
    let h = w.ok(&["history", "--mrn", "1001-B"]);
    assert!(
        h.starts_with("Jan Janssen (MRN 1001-B), born 1971-05-01"),
        "{h}"
    );
    assert!(h.contains("details first recorded by AB"), "{h}");
    sound(&w);
    // Eight corrections, eight audit rows of the new table.
    let conn = rusqlite::Connection::open(w.path()).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM audit WHERE tbl = 'patient_version' AND action = 'amend'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 8);
    // The patient row itself is as first recorded.
    let name: String = conn
        .query_row("SELECT name FROM patient WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(name, "Jan Jansen");
}

#[test]
fn an_old_mrn_says_what_it_became_and_is_nobody_else_s() {
    let w = Ward::new();
    add(&w, "1001");
    add(&w, "2002");
    amend(&w, "1001", "wrong label", &["--new-mrn", "1003"]);
    for cmd in [
        vec!["history", "--mrn", "1001"],
        vec!["status", "--mrn", "1001"],
        vec![
            "patient",
            "amend",
            "--mrn",
            "1001",
            "--reason",
            "x",
            "--weight-kg",
            "80",
        ],
        vec![
            "nrs",
            "--mrn",
            "1001",
            "--score",
            "5",
            "--at",
            &rfc(hours_ago(2)),
        ],
    ] {
        let e = w.refused(&cmd);
        assert!(
            e.contains("MRN 1001 was changed to 1003 on ")
                && e.contains("by AB: wrong label")
                && e.contains("use MRN 1003"),
            "{cmd:?}: {e}"
        );
    }
    let before = dump(w.path());
    // Neither a new patient nor another patient's correction may take a current or a
    // former MRN.
    for mrn in ["1001", "1003", "2002"] {
        let e = w.refused(&[
            "patient",
            "add",
            "--mrn",
            mrn,
            "--name",
            "Els",
            "--birth-date",
            "1980-01-01",
            "--sex",
            "female",
        ]);
        assert!(
            e.contains(&format!("MRN {mrn} already belongs to another patient")),
            "{e}"
        );
    }
    for mrn in ["1001", "1003"] {
        let e = w.refused(&[
            "patient",
            "amend",
            "--mrn",
            "2002",
            "--reason",
            "x",
            "--new-mrn",
            mrn,
        ]);
        assert!(
            e.contains(&format!("MRN {mrn} already belongs to another patient")),
            "{e}"
        );
    }
    assert_eq!(
        before,
        dump(w.path()),
        "a refused write changed the database"
    );
    // A patient may take back their own former MRN (the change itself was the mistake).
    amend(
        &w,
        "1003",
        "the old label was right",
        &["--new-mrn", "1001"],
    );
    let h = w.ok(&["history", "--mrn", "1001"]);
    assert!(h.contains("MRN 1003 -> 1001"), "{h}");
    let e = w.refused(&["history", "--mrn", "1003"]);
    assert!(e.contains("MRN 1003 was changed to 1001"), "{e}");
    sound(&w);
}

#[test]
fn the_summary_shows_the_current_details_and_the_correction() {
    let w = Ward::new();
    add(&w, "1001");
    w.ok(&[
        "course",
        "start",
        "--mrn",
        "1001",
        "--at",
        &rfc(hours_ago(30)),
    ]);
    w.ok(&[
        "dose",
        "--mrn",
        "1001",
        "--rate",
        "2",
        "--at",
        &rfc(hours_ago(30)),
    ]);
    amend(&w, "1001", "weighed again", &["--weight-kg", "76"]);
    for format in ["markdown", "pdf"] {
        let out = w.dir.path().join(format!("s.{format}"));
        w.ok(&[
            "summary",
            "--mrn",
            "1001",
            "--format",
            format,
            "--out",
            out.to_str().unwrap(),
            "--draft",
        ]);
        if format == "markdown" {
            let md = std::fs::read_to_string(&out).unwrap();
            assert!(md.contains("76 kg"), "{md}");
            assert!(
                md.contains("Patient details were corrected by AB on ")
                    && md.contains("weight 70 kg -> 76 kg: weighed again"),
                "{md}"
            );
        } else {
            assert!(std::fs::read(&out).unwrap().starts_with(b"%PDF"));
        }
    }
    let s = w.ok(&["status", "--mrn", "1001", "--json"]);
    assert!(s.contains("\"mrn\": \"1001\""), "{s}");
    sound(&w);
}

/// A ward whose protocol starts at 0.05 mg/kg/h.
fn per_kg_ward() -> Ward {
    let w = Ward::new();
    let cfg = std::fs::read_to_string(common::CONFIG).unwrap();
    let cfg = cfg
        .replace("start_rate = 2.0", "start_rate = 0.05")
        .replace(
            "start_rate_unit = \"mg/h\"",
            "start_rate_unit = \"mg/kg/h\"",
        );
    assert!(cfg.contains("mg/kg/h"));
    std::fs::write(w.dir.path().join("perkg.toml"), cfg).unwrap();
    // A protocol version of its own: an admin approves it before courses use it.
    let o = per_kg(&w, &["protocol", "approve", "--yes"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    w
}

fn per_kg(w: &Ward, args: &[&str]) -> std::process::Output {
    let mut c = w.command("AB", "1234");
    c.env("TITRATE_CONFIG", w.dir.path().join("perkg.toml"));
    c.args(args).output().unwrap()
}

#[test]
fn a_weight_correction_feeds_the_starting_rate_from_then_on() {
    let w = per_kg_ward();
    add(&w, "1001");
    // Course 1 (ended) was checked against 70 kg: 3.5 mg/h is the starting rate.
    let start = rfc(hours_ago(200));
    let run = |args: &[&str]| {
        let o = per_kg(&w, args);
        assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
        text(&o.stdout)
    };
    run(&["course", "start", "--mrn", "1001", "--at", &start]);
    let first = run(&["dose", "--mrn", "1001", "--rate", "3.5", "--at", &start]);
    assert!(!first.contains("warning"), "{first}");
    run(&[
        "course",
        "end",
        "--mrn",
        "1001",
        "--at",
        &rfc(hours_ago(190)),
        // Ended early: not "completed" (issue 11 §2).
        "--reason",
        "patient-request",
    ]);
    amend(&w, "1001", "scale was wrong", &["--weight-kg", "80"]);
    // Every check made after the correction uses 80 kg (4 mg/h), even for a course whose
    // start is entered afterwards for a time before the correction.
    let start2 = rfc(hours_ago(1));
    run(&["course", "start", "--mrn", "1001", "--at", &start2]);
    let old = run(&["dose", "--mrn", "1001", "--rate", "3.5", "--at", &start2]);
    assert!(
        old.contains(
            "warning: the protocol's starting rate is 4 mg/h (0.05 mg/kg/h); 3.5 mg/h recorded"
        ),
        "{old}"
    );
    // The hard maximum stays 14 mg/h whatever the weight.
    amend(&w, "1001", "heavier", &["--weight-kg", "300"]);
    let o = per_kg(
        &w,
        &[
            "dose",
            "--mrn",
            "1001",
            "--rate",
            "14.5",
            "--at",
            &rfc(hours_ago(0)),
        ],
    );
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("above the protocol maximum of 14 mg/h"));
}

#[test]
fn parallel_corrections_of_one_patient_form_one_chain() {
    let w = Ward::new();
    add(&w, "1001");
    let children: Vec<_> = (0..8)
        .map(|i| {
            let mut c = w.command("AB", "1234");
            c.args([
                "patient",
                "amend",
                "--mrn",
                "1001",
                "--reason",
                &format!("terminal {i}"),
                "--weight-kg",
                &format!("{}", 71 + i),
            ]);
            c.spawn().unwrap()
        })
        .collect();
    let mut saved = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        if out.status.success() {
            saved += 1;
        } else {
            let e = text(&out.stderr);
            assert!(
                e.contains("at the same moment") || e.contains("busy") || e.contains("locked"),
                "{e}"
            );
        }
    }
    assert!(saved >= 1);
    let conn = rusqlite::Connection::open(w.path()).unwrap();
    let versions: Vec<i64> = conn
        .prepare("SELECT version FROM patient_version WHERE patient_id = 1 ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(versions, (1..=saved).collect::<Vec<i64>>());
    // Each is based on the one before: its old weight is the previous version's new one.
    let h = w.ok(&["history", "--mrn", "1001"]);
    let lines: Vec<&str> = h
        .lines()
        .filter(|l| l.starts_with("details version"))
        .collect();
    assert_eq!(lines.len() as i64, saved, "{h}");
    let mut was = "70 kg".to_string();
    for l in lines {
        let change = l.split(": weight ").nth(1).unwrap();
        let (old, rest) = change.split_once(" -> ").unwrap();
        assert_eq!(old, was, "{h}");
        was = rest.split(" [").next().unwrap().to_string();
    }
    sound(&w);
}

#[test]
fn the_version_table_refuses_change_and_a_second_version_n() {
    let w = Ward::new();
    add(&w, "1001");
    add(&w, "2002");
    amend(
        &w,
        "1001",
        "typo",
        &["--name", "Jan Janssen", "--new-mrn", "1001-B"],
    );
    let conn = rusqlite::Connection::open(w.path()).unwrap();
    for sql in [
        // The MRN triggers hold even for a writer that is not titrate.
        "INSERT INTO patient_version (patient_id, version, mrn, name, birth_date, sex, reason, \
         recorded_at, recorded_by) VALUES (2, 1, '1001', 'X', '1970-01-01', 'male', 'r', \
         '2026-01-01T00:00:00Z', 'AB')",
        "INSERT INTO patient (mrn, name, birth_date, sex, created_at, created_by) \
         VALUES ('1001-B', 'X', '1970-01-01', 'male', '2026-01-01T00:00:00Z', 'AB')",
        "UPDATE patient_version SET weight_kg = 90",
        "DELETE FROM patient_version",
        "INSERT INTO patient_version (patient_id, version, mrn, name, birth_date, sex, reason, \
         recorded_at, recorded_by) VALUES (1, 1, '1001-B', 'X', '1970-01-01', 'male', 'r', \
         '2026-01-01T00:00:00Z', 'AB')",
    ] {
        assert!(conn.execute(sql, []).is_err(), "{sql} was allowed");
    }
    sound(&w);
}

#[test]
fn a_correction_changed_behind_titrate_s_back_is_found() {
    let w = Ward::new();
    add(&w, "1001");
    amend(&w, "1001", "typo", &["--weight-kg", "80"]);
    let conn = rusqlite::Connection::open(w.path()).unwrap();
    conn.execute_batch(
        "DROP TRIGGER patient_version_no_update; UPDATE patient_version SET weight_kg = 140;",
    )
    .unwrap();
    drop(conn);
    let out = w.run_with("AB", "1234", &[], &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    let report = text(&out.stdout) + &text(&out.stderr);
    assert!(report.contains("patient_version row 1 differs"), "{report}");
}
