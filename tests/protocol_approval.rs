//! Protocol versions are approved, like a pump's drug library: through the real binary.
//! A config.toml that holds a protocol no admin approved starts no course; courses already
//! running keep the version they started under.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{CONFIG, Ward, dump, hours_ago, rfc, text};
use rusqlite::Connection;

const FIXTURE_V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/schema-v1.db");

fn shipped() -> String {
    std::fs::read_to_string(CONFIG).unwrap()
}

/// The shipped config.toml with one edit, written into the ward's folder.
fn edited(w: &Ward, name: &str, from: &str, to: &str) -> PathBuf {
    let s = shipped();
    assert!(s.contains(from), "config.toml has no {from:?}");
    let path = w.dir.path().join(name);
    std::fs::write(&path, s.replacen(from, to, 1)).unwrap();
    path
}

fn with_config(w: &Ward, user: &str, pin: &str, config: &Path, args: &[&str]) -> Output {
    w.run_with(
        user,
        pin,
        &[("TITRATE_CONFIG", &config.to_string_lossy())],
        args,
    )
}

fn both(o: &Output) -> String {
    format!("{}{}", text(&o.stdout), text(&o.stderr))
}

fn ward_with_staff() -> Ward {
    let w = Ward::new();
    for (id, role) in [("PH", "physician"), ("NU", "nurse")] {
        w.run_with(
            "AB",
            "1234",
            &[("TITRATE_NEW_PIN", "1234")],
            &[
                "staff", "add", "--id", id, "--name", "Some One", "--role", role,
            ],
        );
    }
    w
}

fn add_patient(w: &Ward, mrn: &str) {
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
    ]);
}

fn start_args(mrn: &str, hours: i64) -> Vec<String> {
    [
        "course",
        "start",
        "--mrn",
        mrn,
        "--at",
        &rfc(hours_ago(hours)),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn approvals(db: &Path) -> Vec<(i64, i64, String, String)> {
    let c = Connection::open(db).unwrap();
    let mut s = c
        .prepare(
            "SELECT id, protocol_id, approved_by, approved_at FROM protocol_approval ORDER BY id",
        )
        .unwrap();
    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

fn assert_sound(w: &Ward, when: &str) {
    let out = w.run_with("AB", "1234", &[], &["audit", "verify"]);
    assert!(
        out.status.success() && text(&out.stdout).contains("audit chain sound"),
        "{when}: {}",
        both(&out)
    );
    let out = w.run_with("AB", "1234", &[], &["check"]);
    assert!(
        out.status.success() && text(&out.stdout).contains("sound"),
        "{when}: {}",
        both(&out)
    );
}

/// The digest `protocol approve` shows for a config, read from its output.
fn shown_digest(out: &Output) -> String {
    let s = text(&out.stdout);
    s.lines()
        .find_map(|l| l.trim().strip_prefix("digest "))
        .map(|d| d.trim().to_string())
        .unwrap_or_else(|| panic!("no digest shown: {}", both(out)))
}

fn approve(w: &Ward, config: &Path) -> Output {
    let shown = with_config(w, "AB", "1234", config, &["protocol", "approve"]);
    assert!(!shown.status.success(), "approved without a confirmation");
    let digest = shown_digest(&shown);
    let out = with_config(
        w,
        "AB",
        "1234",
        config,
        &["protocol", "approve", "--digest", &digest],
    );
    assert!(out.status.success(), "{}", both(&out));
    out
}

#[test]
fn init_approves_the_protocol_in_force_as_the_first_admins_act() {
    let w = Ward::new();
    let a = approvals(&w.db);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].2, "AB");
    let c = Connection::open(&w.db).unwrap();
    let staff_at: String = c
        .query_row("SELECT created_at FROM staff WHERE id = 'AB'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(a[0].3, staff_at, "approved in the admin's own transaction");
    let list = w.ok(&["protocol", "list"]);
    assert!(list.contains("approved by AB"), "{list}");
    assert!(list.contains("is version 1, approved"), "{list}");
    add_patient(&w, "1001");
    let out = w.ok(&refs(&start_args("1001", 3)));
    assert!(out.contains("(version 1)"), "{out}");
    assert_sound(&w, "after init and a course");
}

#[test]
fn an_edited_protocol_is_refused_at_course_start_naming_each_change() {
    let w = Ward::new();
    add_patient(&w, "1001");
    let cases = [
        (
            "max_rate_mg_h = 14.0",
            "max_rate_mg_h = 20.0",
            "maximum 14 mg/h -> 20 mg/h",
        ),
        (
            "max_rate_mg_h = 14.0",
            "max_rate_mg_h = 12.0",
            "maximum 14 mg/h -> 12 mg/h",
        ),
        (
            "increment_mg_h = 2.0",
            "increment_mg_h = 1.0",
            "increment 2 mg/h -> 1 mg/h",
        ),
        (
            "duration_days = 7",
            "duration_days = 8",
            "duration 7 days -> 8 days",
        ),
        (
            "start_rate = 2.0",
            "start_rate = 3.0",
            "starting rate 2 mg/h -> 3 mg/h",
        ),
        (
            "responder_threshold = 2",
            "responder_threshold = 3",
            "responder threshold 2 points -> 3 points",
        ),
        (
            "t2_from_day = 21",
            "t2_from_day = 20",
            "T2 window from day 21 -> day 20",
        ),
        (
            "check_interval_min = 60",
            "check_interval_min = 30",
            "check interval 60 min -> 30 min",
        ),
    ];
    for (i, (from, to, change)) in cases.iter().enumerate() {
        let cfg = edited(&w, &format!("edit{i}.toml"), from, to);
        let before = dump(&w.db);
        let out = with_config(&w, "AB", "1234", &cfg, &refs(&start_args("1001", 3)));
        let err = text(&out.stderr);
        assert!(
            !out.status.success(),
            "{to}: course started: {}",
            both(&out)
        );
        for needed in [
            "protocol \"S-ketamine CRPS 7-day, 2019\"",
            &cfg.to_string_lossy(),
            "differs from the approved version 1",
            change,
            "titrate protocol approve",
        ] {
            assert!(err.contains(needed), "{to}: {needed:?} not in: {err}");
        }
        assert_eq!(dump(&w.db), before, "{to}: a refusal changed the database");
    }
    // Two fields at once: both are named.
    let s = shipped()
        .replacen("max_rate_mg_h = 14.0", "max_rate_mg_h = 10.0", 1)
        .replacen(
            "name = \"S-ketamine CRPS 7-day, 2019\"",
            "name = \"Other\"",
            1,
        );
    let cfg = w.dir.path().join("two.toml");
    std::fs::write(&cfg, s).unwrap();
    let err = text(&with_config(&w, "AB", "1234", &cfg, &refs(&start_args("1001", 3))).stderr);
    assert!(
        err.contains("name \"S-ketamine CRPS 7-day, 2019\" -> \"Other\"")
            && err.contains("maximum 14 mg/h -> 10 mg/h"),
        "{err}"
    );
}

#[test]
fn a_maximum_above_the_ceiling_is_not_a_protocol_at_all() {
    let w = Ward::new();
    for to in ["50.0", "25.01", "140.0"] {
        let cfg = edited(
            &w,
            "fifty.toml",
            "max_rate_mg_h = 14.0",
            &format!("max_rate_mg_h = {to}"),
        );
        let out = with_config(&w, "AB", "1234", &cfg, &["protocol", "approve", "--yes"]);
        assert!(!out.status.success(), "{to}: {}", both(&out));
        let err = text(&out.stderr);
        assert!(
            err.contains("protocol.max_rate_mg_h") && err.contains("at most 25 mg/h"),
            "{to}: {err}"
        );
    }
    assert_eq!(approvals(&w.db).len(), 1);
    // The ceiling itself is allowed, and needs approval like any version.
    let cfg = edited(
        &w,
        "ceiling.toml",
        "max_rate_mg_h = 14.0",
        "max_rate_mg_h = 25.0",
    );
    approve(&w, &cfg);
    assert_eq!(approvals(&w.db).len(), 2);
}

#[test]
fn only_an_admin_approves_and_only_what_was_shown() {
    let w = ward_with_staff();
    add_patient(&w, "1001");
    let cfg = edited(
        &w,
        "max12.toml",
        "max_rate_mg_h = 14.0",
        "max_rate_mg_h = 12.0",
    );
    for user in ["PH", "NU"] {
        for args in [
            &["protocol", "approve", "--yes"][..],
            &["protocol", "approve"][..],
        ] {
            let out = with_config(&w, user, "1234", &cfg, args);
            assert!(!out.status.success(), "{user}: {}", both(&out));
            let err = text(&out.stderr);
            assert!(
                err.contains("may not approve a protocol version") && err.contains("admin"),
                "{user}: {err}"
            );
        }
    }
    assert_eq!(approvals(&w.db).len(), 1, "a non-admin approved");
    let c = Connection::open(&w.db).unwrap();
    let denied: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM audit WHERE action = 'denied' AND content LIKE '%approve a protocol%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(denied, 4, "each denial is audited");

    // Without a terminal and without --digest or --yes: shown, not approved.
    let shown = with_config(&w, "AB", "1234", &cfg, &["protocol", "approve"]);
    assert!(!shown.status.success());
    let out = text(&shown.stdout);
    assert!(
        out.contains("maximum") && out.contains("14 mg/h -> 12 mg/h"),
        "{out}"
    );
    assert!(
        text(&shown.stderr).contains("--digest"),
        "{}",
        text(&shown.stderr)
    );
    let digest = shown_digest(&shown);
    assert_eq!(approvals(&w.db).len(), 1);

    // config.toml edited again after it was shown: that digest no longer approves it.
    let other = edited(
        &w,
        "max10.toml",
        "max_rate_mg_h = 14.0",
        "max_rate_mg_h = 10.0",
    );
    for given in [digest.as_str(), &digest[..12], "0123456789ab", "f3", ""] {
        let out = with_config(
            &w,
            "AB",
            "1234",
            &other,
            &["protocol", "approve", "--digest", given],
        );
        assert!(!out.status.success(), "{given}: {}", both(&out));
        assert!(
            text(&out.stderr).contains("nothing was approved"),
            "{given}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(approvals(&w.db).len(), 1);
    // The course still cannot start under the shown version...
    assert!(
        !with_config(&w, "PH", "1234", &cfg, &refs(&start_args("1001", 3)))
            .status
            .success()
    );
    // ...until the admin approves exactly it, by its short digest as shown.
    let out = with_config(
        &w,
        "AB",
        "1234",
        &cfg,
        &["protocol", "approve", "--digest", &digest[..12]],
    );
    assert!(out.status.success(), "{}", both(&out));
    assert!(text(&out.stdout).contains("approved as version 2 by AB"));
    let a = approvals(&w.db);
    assert_eq!(a.len(), 2);
    assert_eq!((a[1].1, a[1].2.as_str()), (2, "AB"));
    let out = with_config(&w, "PH", "1234", &cfg, &refs(&start_args("1001", 3)));
    assert!(out.status.success(), "{}", both(&out));
    assert!(text(&out.stdout).contains("(version 2)"));
    // Approving again changes nothing and says so.
    let out = with_config(&w, "AB", "1234", &cfg, &["protocol", "approve", "--yes"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("approved already, as version 2"));
    assert_eq!(approvals(&w.db).len(), 2);
    assert_sound(&w, "after approvals");
}

#[test]
fn list_and_show_name_every_version_its_approval_and_its_courses() {
    let w = Ward::new();
    add_patient(&w, "1001");
    add_patient(&w, "1002");
    w.ok(&refs(&start_args("1001", 5)));
    let cfg = edited(
        &w,
        "max12.toml",
        "max_rate_mg_h = 14.0",
        "max_rate_mg_h = 12.0",
    );
    // Before approval, list says the config's version is new and not approved.
    let list = text(&with_config(&w, "AB", "1234", &cfg, &["protocol", "list"]).stdout);
    assert!(list.contains("is a new version, NOT APPROVED"), "{list}");
    approve(&w, &cfg);
    let out = with_config(&w, "AB", "1234", &cfg, &refs(&start_args("1002", 4)));
    assert!(out.status.success(), "{}", both(&out));

    let list = text(&with_config(&w, "AB", "1234", &cfg, &["protocol", "list"]).stdout);
    let lines: Vec<&str> = list.lines().collect();
    assert!(
        lines[1].starts_with("1 ") && lines[1].contains("approved by AB"),
        "{list}"
    );
    assert!(
        lines[2].starts_with("2 ") && lines[2].contains("approved by AB"),
        "{list}"
    );
    assert!(lines[2].contains("latest approved") && !lines[1].contains("latest"));
    assert!(list.contains("is version 2, approved"), "{list}");
    // Any signed-in person may read them.
    let show = w.ok(&["protocol", "show", "1"]);
    assert!(show.contains("maximum                14 mg/h"), "{show}");
    assert!(show.contains("approved by AB"), "{show}");
    assert!(show.contains("courses under this version: 1"), "{show}");
    assert!(
        show.contains("MRN 1001") && !show.contains("MRN 1002"),
        "{show}"
    );
    let show = w.ok(&["protocol", "show", "2"]);
    assert!(show.contains("maximum                12 mg/h"), "{show}");
    assert!(
        show.contains("MRN 1002") && !show.contains("MRN 1001"),
        "{show}"
    );
    for bad in ["3", "0", "-1", "x", "1; DROP TABLE protocol"] {
        let err = w.refused(&["protocol", "show", bad]);
        assert!(err.contains("no protocol version"), "{bad}: {err}");
    }
}

#[test]
fn a_running_course_keeps_the_version_it_started_under() {
    let w = Ward::new();
    add_patient(&w, "1001");
    add_patient(&w, "1002");
    w.ok(&refs(&start_args("1001", 16)));
    // The "Seen": a config with a higher maximum is read. Nothing it allows reaches the
    // running course, and no course starts under it.
    let wide = edited(
        &w,
        "max20.toml",
        "max_rate_mg_h = 14.0",
        "max_rate_mg_h = 20.0",
    );
    let dose = |cfg: &Path, mrn: &str, rate: &str, h: i64| {
        with_config(
            &w,
            "AB",
            "1234",
            cfg,
            &[
                "dose",
                "--mrn",
                mrn,
                "--rate",
                rate,
                "--at",
                &rfc(hours_ago(h)),
                "--confirm",
                "--reason",
                "order",
            ],
        )
    };
    let out = dose(&wide, "1001", "20", 15);
    assert!(!out.status.success(), "20 mg/h accepted: {}", both(&out));
    assert!(
        text(&out.stderr).contains("14 mg/h"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !with_config(&w, "AB", "1234", &wide, &refs(&start_args("1002", 10)))
            .status
            .success()
    );

    // A narrower version approved later: the running course keeps 14 mg/h, a new course
    // gets 12 mg/h.
    let narrow = edited(
        &w,
        "max12.toml",
        "max_rate_mg_h = 14.0",
        "max_rate_mg_h = 12.0",
    );
    approve(&w, &narrow);
    let out = dose(&narrow, "1001", "14", 14);
    assert!(out.status.success(), "{}", both(&out));
    let out = with_config(&w, "AB", "1234", &narrow, &refs(&start_args("1002", 10)));
    assert!(out.status.success(), "{}", both(&out));
    let out = dose(&narrow, "1002", "14", 9);
    assert!(!out.status.success(), "14 mg/h under the 12 mg/h version");
    assert!(
        text(&out.stderr).contains("12 mg/h"),
        "{}",
        text(&out.stderr)
    );
    // Under the shipped config again (version 1, still approved), nothing moves.
    let s1 = w.ok(&["status", "--mrn", "1001", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&s1).unwrap();
    assert_eq!(v["protocol_max_rate_mg_h"].as_f64(), Some(14.0), "{s1}");
    assert_eq!(v["protocol_version"].as_i64(), Some(1), "{s1}");
    let s2 = w.ok(&["status", "--mrn", "1002", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&s2).unwrap();
    assert_eq!(v["protocol_max_rate_mg_h"].as_f64(), Some(12.0), "{s2}");
    assert_eq!(v["protocol_version"].as_i64(), Some(2), "{s2}");
    let text = w.ok(&["status", "--mrn", "1002"]);
    assert!(text.contains("version 2)"), "{text}");
    assert_sound(&w, "after two versions");
}

#[test]
fn approvals_are_append_only_and_audited() {
    let w = Ward::new();
    let c = Connection::open(&w.db).unwrap();
    for sql in [
        "UPDATE protocol_approval SET approved_by = 'XX'",
        "DELETE FROM protocol_approval",
    ] {
        let e = c.execute(sql, []).unwrap_err().to_string();
        assert!(e.contains("never"), "{sql}: {e}");
    }
    // Behind titrate's back, triggers dropped: audit verify names the row.
    c.execute_batch(
        "DROP TRIGGER protocol_approval_no_update; \
         UPDATE protocol_approval SET approved_at = '2020-01-01T00:00:00Z' WHERE id = 1;",
    )
    .unwrap();
    drop(c);
    let out = w.run_with("AB", "1234", &[], &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        text(&out.stdout).contains("protocol_approval row 1"),
        "{}",
        text(&out.stdout)
    );
    // An approval planted without titrate is found as well.
    let w = Ward::new();
    let cfg = edited(
        &w,
        "max12.toml",
        "max_rate_mg_h = 14.0",
        "max_rate_mg_h = 12.0",
    );
    let out = with_config(&w, "AB", "1234", &cfg, &["protocol", "approve", "--yes"]);
    assert!(out.status.success(), "{}", both(&out));
    let c = Connection::open(&w.db).unwrap();
    c.execute(
        "INSERT INTO protocol (name, digest, snapshot, created_at, created_by) \
         SELECT name, 'planted', snapshot, created_at, created_by FROM protocol WHERE id = 1",
        [],
    )
    .unwrap();
    c.execute(
        "INSERT INTO protocol_approval (protocol_id, approved_at, approved_by) \
         VALUES (3, '2026-01-01T00:00:00Z', 'AB')",
        [],
    )
    .unwrap();
    drop(c);
    let out = w.run_with("AB", "1234", &[], &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        text(&out.stdout).contains("protocol_approval row 3 has no audit row"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn parallel_approvals_of_one_version_approve_it_once() {
    let w = Ward::new();
    w.run_with(
        "AB",
        "1234",
        &[("TITRATE_NEW_PIN", "1234")],
        &[
            "staff", "add", "--id", "AC", "--name", "Ad Min", "--role", "admin",
        ],
    );
    let cfg = edited(
        &w,
        "max12.toml",
        "max_rate_mg_h = 14.0",
        "max_rate_mg_h = 12.0",
    );
    let children: Vec<_> = (0..6)
        .map(|i| {
            let mut c = w.command(if i % 2 == 0 { "AB" } else { "AC" }, "1234");
            c.env("TITRATE_CONFIG", &cfg)
                .args(["protocol", "approve", "--yes"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let approved = outs
        .iter()
        .filter(|o| text(&o.stdout).contains("approved as version 2"))
        .count();
    for o in &outs {
        assert!(o.status.success(), "{}", both(o));
    }
    assert_eq!(approved, 1, "approved more than once");
    assert_eq!(approvals(&w.db).len(), 2);
    assert_sound(&w, "after parallel approvals");
}

#[test]
fn generated_and_demo_wards_approve_their_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("trial.db");
    let w = Ward { dir, db };
    let out = w.run_with(
        "GEN",
        "0000",
        &[],
        &["demo", "--courses", "12", "--seed", "3"],
    );
    assert!(out.status.success(), "{}", both(&out));
    let a = approvals(&w.db);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].2, "GEN");
    let list = text(&w.run_with("GEN", "0000", &[], &["protocol", "list"]).stdout);
    assert!(list.contains("is version 1, approved"), "{list}");
    let verify = w.run_with("GEN", "0000", &[], &["audit", "verify"]);
    assert!(verify.status.success(), "{}", both(&verify));

    // The demo ward (the one --demo opens) is seeded the same way.
    let path = w.dir.path().join("demo.db");
    let cfg = titrate::config::Config::defaults();
    drop(titrate::demo::create(&path, &cfg, chrono::Utc::now()).unwrap());
    let a = approvals(&path);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].2, titrate::demo::DEMO_USER);
}

#[test]
fn a_v1_database_counts_the_protocol_its_courses_ran_under_as_approved() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    std::fs::copy(FIXTURE_V1, &db).unwrap();
    let w = Ward { dir, db };
    let c = Connection::open(&w.db).unwrap();
    let (pid, at, by): (i64, String, String) = c
        .query_row("SELECT id, created_at, created_by FROM protocol", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    drop(c);
    let list = w.ok(&["protocol", "list"]);
    assert!(list.contains(&format!("approved by {by}")), "{list}");
    let a = approvals(&w.db);
    assert_eq!(a, vec![(1, pid, by.clone(), at.clone())]);
    let c = Connection::open(&w.db).unwrap();
    let (actor, action): (String, String) = c
        .query_row(
            "SELECT actor, action FROM audit WHERE tbl = 'protocol_approval'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (actor.as_str(), action.as_str()),
        ("upgrade", "protocol-approve-upgrade")
    );
    drop(c);
    assert_sound(&w, "after the upgrade");
    // The shipped config is that version: a new course starts under it.
    add_patient(&w, "9001");
    let out = w.ok(&refs(&start_args("9001", 3)));
    assert!(out.contains(&format!("(version {pid})")), "{out}");
    // An edited one is refused, compared with it.
    let cfg = edited(
        &w,
        "max12.toml",
        "max_rate_mg_h = 14.0",
        "max_rate_mg_h = 12.0",
    );
    add_patient(&w, "9002");
    let out = with_config(&w, "AB", "1234", &cfg, &refs(&start_args("9002", 3)));
    assert!(
        text(&out.stderr).contains(&format!(
            "differs from the approved version {pid}: maximum 14 mg/h -> 12 mg/h"
        )),
        "{}",
        both(&out)
    );
    assert_sound(&w, "after a course on the upgraded file");
}

/// A database with staff but no approved version (as an upgraded one whose courses never
/// started): course start says so, and approve shows the whole protocol.
#[test]
fn with_no_approved_version_course_start_says_so_and_approve_shows_all_fields() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    {
        let mut d = titrate::store::Db::create(&db).unwrap();
        let hash = titrate::ward::access::hash_pin("1234").unwrap();
        d.write("AB", chrono::Utc::now(), |w| {
            w.insert_staff(
                &titrate::domain::record::Staff {
                    id: "AB".into(),
                    name: "Anna Boer".into(),
                    role: titrate::domain::values::Role::Admin,
                    pin_hash: hash,
                    active: true,
                    failed_pins: 0,
                    locked: false,
                },
                "staff-add",
            )
        })
        .unwrap();
    }
    let w = Ward { dir, db };
    add_patient(&w, "1001");
    let err = w.refused(&refs(&start_args("1001", 3)));
    assert!(
        err.contains("is not approved, and no version is approved in this database yet")
            && err.contains("titrate protocol approve"),
        "{err}"
    );
    let out = w.run_with("AB", "1234", &[], &["protocol", "approve"]);
    let shown = text(&out.stdout);
    assert!(shown.contains("no version is approved yet"), "{shown}");
    assert!(shown.contains("maximum                14 mg/h"), "{shown}");
    let digest = shown_digest(&out);
    w.ok(&["protocol", "approve", "--digest", &digest]);
    let out = w.ok(&refs(&start_args("1001", 3)));
    assert!(out.contains("(version 1)"), "{out}");
    assert_sound(&w, "after the first approval");
}
