//! A full 7-day course driven through the command line, checked against figures computed here
//! from the schedule itself.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::Duration;
use common::{Ward, first_number, hours_ago, rfc};

/// (hour, rate mg/h) of every rate change; between them the hourly check repeats the rate.
const STEPS: &[(i64, f64)] = &[
    (0, 2.0),
    (4, 4.0),
    (8, 6.0),
    (12, 8.0),
    (30, 6.0), // nausea: stepped down
    (48, 8.0),
    (52, 10.0),
    (56, 12.0),
    (60, 14.0),
    (100, 0.0),  // paused two hours
    (102, 14.0), // resumed at the maximum: a large step, confirmed
];

fn rate_at_hour(h: i64) -> f64 {
    STEPS
        .iter()
        .take_while(|(s, _)| *s <= h)
        .last()
        .map_or(0.0, |(_, r)| *r)
}

#[test]
fn a_seven_day_course_end_to_end() {
    let w = Ward::new();
    for (id, name, role, pin) in [
        ("NU", "Nina Udo", "nurse", "5678"),
        ("PH", "Piet Hein", "physician", "4321"),
    ] {
        let out = w.run_with(
            "AB",
            "1234",
            &[("TITRATE_NEW_PIN", pin)],
            &["staff", "add", "--id", id, "--name", name, "--role", role],
        );
        assert!(out.status.success(), "{}", common::text(&out.stderr));
    }
    w.ok(&common::patient_add("2001", "Maria Smit"));

    // Start 45 days ago, so that the T2 visit (day 28 after the end) lies in the past.
    let start = hours_ago(45 * 24);
    let at = |h: i64| rfc(start + Duration::hours(h));
    w.entry(&[
        "nrs",
        "--mrn",
        "2001",
        "--score",
        "8",
        "--at",
        &at(-2),
        "--timepoint",
        "t0",
    ]);
    let course_start = w.ok(&[
        "course",
        "start",
        "--mrn",
        "2001",
        "--at",
        &at(0),
        "--bed",
        "3",
    ]);
    assert!(course_start.starts_with("entry "), "{course_start}");

    // The nurse records every rate change and every hourly check.
    let nurse = |args: &[&str]| {
        let o = w.run_with("NU", "5678", &[], args);
        assert!(o.status.success(), "{args:?}: {}", common::text(&o.stderr));
        first_number(&common::text(&o.stdout))
    };
    let mut ids = Vec::new();
    for h in 0..168 {
        let r = rate_at_hour(h);
        let rate = format!("{r}");
        let time = at(h);
        let mut args = vec![
            "dose",
            "--mrn",
            "2001",
            "--rate",
            rate.as_str(),
            "--at",
            time.as_str(),
        ];
        if h == 102 {
            // 0 -> 14 is larger than the increment: refused, then confirmed with a reason.
            let o = w.run_with("NU", "5678", &[], &args);
            assert!(!o.status.success());
            assert!(common::text(&o.stderr).contains("larger than the protocol increment"));
            args.extend([
                "--confirm",
                "--reason",
                "resume after pause, physician order",
            ]);
        }
        if h == 30 {
            nurse(&[
                "side-effect",
                "--mrn",
                "2001",
                "--kind",
                "nausea",
                "--severity",
                "moderate",
                "--at",
                &time,
                "--action",
                "rate-lowered",
                // The step down is recorded with the side effect that caused it, in one
                // step (issue 11 §2): no separate dose entry for this hour.
                "--rate",
                rate.as_str(),
            ]);
            continue;
        }
        ids.push(nurse(&args));
    }
    // One hourly check recorded twice by mistake, voided by the nurse who made it.
    let dup = nurse(&["dose", "--mrn", "2001", "--rate", "14", "--at", &at(150)]);
    assert!(
        w.run_with(
            "NU",
            "5678",
            &[],
            &["void", &dup.to_string(), "--reason", "recorded twice"]
        )
        .status
        .success()
    );
    // A nurse may not end the course.
    let o = w.run_with(
        "NU",
        "5678",
        &[],
        &["course", "end", "--mrn", "2001", "--at", &at(168)],
    );
    assert!(!o.status.success());
    assert!(
        common::text(&o.stderr).contains("physician"),
        "{}",
        common::text(&o.stderr)
    );

    // A wrong PIN is refused; the right one ends the course.
    let o = w.run_with(
        "PH",
        "9999",
        &[],
        &["course", "end", "--mrn", "2001", "--at", &at(168)],
    );
    assert!(common::text(&o.stderr).contains("sign-in failed"));
    let o = w.run_with(
        "PH",
        "4321",
        &[],
        &["course", "end", "--mrn", "2001", "--at", &at(168)],
    );
    assert!(o.status.success(), "{}", common::text(&o.stderr));
    w.entry(&[
        "nrs",
        "--mrn",
        "2001",
        "--score",
        "5",
        "--at",
        &at(169),
        "--timepoint",
        "t1",
    ]);
    w.entry(&[
        "success",
        "--mrn",
        "2001",
        "--timepoint",
        "t1",
        "--value",
        "yes",
        "--at",
        &at(170),
    ]);
    let t2_at = start + Duration::hours(168) + Duration::days(28);
    w.entry(&["nrs", "--mrn", "2001", "--score", "6", "--at", &rfc(t2_at)]);

    // Independently: the integral of the schedule.
    let expected_dose: f64 = (0..168).map(rate_at_hour).sum();
    let expected_at_max = (0..168).filter(|h| rate_at_hour(*h) == 14.0).count() as f64;

    let json = w.ok(&["status", "--mrn", "2001", "--json"]);
    let s: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(s["state"], "ended");
    assert_eq!(s["total_dose_mg"].as_f64().unwrap(), expected_dose);
    assert_eq!(s["hours_at_max"].as_f64().unwrap(), expected_at_max);
    assert_eq!(s["max_rate_mg_h"].as_f64().unwrap(), 14.0);
    assert_eq!(s["current_rate_mg_h"].as_f64().unwrap(), 0.0);
    assert_eq!(s["nrs_t0"], 8);
    assert_eq!(s["nrs_t1"], 5);
    assert_eq!(s["nrs_t2"], 6);
    assert_eq!(s["t1_responder"], true);
    assert_eq!(s["t2_responder"], true, "8 -> 6 is a drop of 2");
    assert_eq!(s["side_effects"], 1);
    let end_date = (start + Duration::hours(168)).with_timezone(&chrono_tz::Europe::Amsterdam);
    assert_eq!(
        s["t2_window"]["from"],
        (end_date + Duration::days(21))
            .format("%Y-%m-%d")
            .to_string()
    );
    assert_eq!(
        s["t2_window"]["to"],
        (end_date + Duration::days(42))
            .format("%Y-%m-%d")
            .to_string()
    );
    assert!(s["course_id"].as_i64().unwrap() > 0);

    // History shows the confirmation, the void and the late marks.
    let h = w.ok(&["history", "--mrn", "2001"]);
    assert!(h.contains("confirmed: resume after pause"), "{h}");
    assert!(h.contains("VOIDED by NU"), "{h}");
    assert!(h.contains("LATE"));

    // The cohort of one.
    let c: serde_json::Value = serde_json::from_str(&w.ok(&["cohort", "--json"])).unwrap();
    assert_eq!(c["courses"], 1);
    assert_eq!(c["responders"]["t1"]["responders"], 1);
    assert_eq!(c["responders"]["t2"]["known"], 1);
    let v = w.ok(&["audit", "verify"]);
    assert!(v.lines().next().unwrap().contains("sound"), "{v}");
    assert!(v.contains("head hash "), "{v}");
}

#[test]
fn amendments_change_figures_and_keep_history() {
    let w = Ward::new();
    w.ok(&[
        "patient",
        "add",
        "--mrn",
        "3001",
        "--name",
        "Kees Bos",
        "--birth-date",
        "1960-01-01",
        "--sex",
        "male",
    ]);
    let start = hours_ago(10);
    let at = |h: i64| rfc(start + Duration::hours(h));
    w.ok(&["course", "start", "--mrn", "3001", "--at", &at(0)]);
    let first = w.entry(&["dose", "--mrn", "3001", "--rate", "2", "--at", &at(0)]);
    let up = w.entry(&["dose", "--mrn", "3001", "--rate", "4", "--at", &at(4)]);
    // Correct the step: it was 3, not 4.
    let amended = w.entry(&[
        "amend",
        &up.to_string(),
        "--reason",
        "pump showed 3",
        "--rate",
        "3",
    ]);
    assert!(amended > up);
    // The old version cannot be amended again; the message names the current one.
    let e = w.refused(&["amend", &up.to_string(), "--reason", "again", "--rate", "2"]);
    assert!(e.contains(&format!("amend or void entry {amended}")), "{e}");
    // Amending to above the maximum is refused like any entry.
    assert!(
        w.refused(&[
            "amend",
            &amended.to_string(),
            "--reason",
            "x",
            "--rate",
            "140"
        ])
        .contains("maximum")
    );
    let s: serde_json::Value =
        serde_json::from_str(&w.ok(&["status", "--mrn", "3001", "--json"])).unwrap();
    assert_eq!(s["state"], "active");
    assert_eq!(s["current_rate_mg_h"].as_f64().unwrap(), 3.0);
    let h = w.ok(&["history", "--mrn", "3001"]);
    assert!(h.contains("SUPERSEDED"), "{h}");
    assert!(h.contains(&format!("amends {up}: pump showed 3")), "{h}");
    // Voiding the first rate: the course ran at 0 until the (amended) step, which then is
    // a start above the protocol's starting rate: the void confirms it.
    let e = w.refused(&[
        "void",
        &first.to_string(),
        "--reason",
        "entered on the wrong patient",
    ]);
    assert!(e.contains("above the protocol's starting rate"), "{e}");
    w.ok(&[
        "void",
        &first.to_string(),
        "--reason",
        "entered on the wrong patient",
        "--confirm",
        "--confirm-reason",
        "started at 3 mg/h",
    ]);
    let s: serde_json::Value =
        serde_json::from_str(&w.ok(&["status", "--mrn", "3001", "--json"])).unwrap();
    let dose = s["total_dose_mg"].as_f64().unwrap();
    let hours_since_step =
        (chrono::Utc::now() - (start + Duration::hours(4))).num_seconds() as f64 / 3600.0;
    assert!(
        (dose - 3.0 * hours_since_step).abs() < 0.05,
        "{dose} vs {}",
        3.0 * hours_since_step
    );
    assert!(w.ok(&["audit", "verify"]).contains("sound"));
}
