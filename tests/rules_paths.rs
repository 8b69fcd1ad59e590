//! The protocol's rules hold on every path to a rate, a course's bounds and a bed: a new
//! entry, an amendment and a void, through the real binary. Each refusal leaves the
//! database exactly as it was.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{Ward, dump, first_number, hours_ago, rfc};

fn at(t: DateTime<Utc>) -> String {
    rfc(t)
}

fn patient(w: &Ward, mrn: &str, name: &str) {
    w.ok(&[
        "patient",
        "add",
        "--mrn",
        mrn,
        "--name",
        name,
        "--birth-date",
        "1970-05-01",
        "--sex",
        "female",
        "--weight-kg",
        "70",
    ]);
}

fn start(w: &Ward, mrn: &str, t: DateTime<Utc>, bed: &str) -> i64 {
    w.entry(&[
        "course",
        "start",
        "--mrn",
        mrn,
        "--at",
        &at(t),
        "--bed",
        bed,
    ])
}

fn dose(w: &Ward, mrn: &str, rate: &str, t: DateTime<Utc>) -> i64 {
    w.entry(&["dose", "--mrn", mrn, "--rate", rate, "--at", &at(t)])
}

/// Refused, with `needle` in the message, and nothing in the database changed.
fn refused_unchanged(w: &Ward, args: &[&str], needle: &str) -> String {
    let before = dump(w.path());
    let msg = w.refused(args);
    assert!(msg.contains(needle), "{args:?}: {msg}");
    assert_eq!(before, dump(w.path()), "{args:?} changed the database");
    msg
}

fn history(w: &Ward, mrn: &str) -> String {
    w.ok(&["history", "--mrn", mrn])
}

/// The history line of one entry id.
fn line_of(h: &str, id: i64) -> String {
    h.lines()
        .find(|l| l.split_whitespace().any(|word| word == id.to_string()))
        .unwrap_or_else(|| panic!("entry {id} not in history:\n{h}"))
        .to_string()
}

#[test]
fn an_amendment_is_checked_as_the_entry_it_becomes_and_confirms_for_itself() {
    let w = Ward::new();
    patient(&w, "1001", "Jan Jansen");
    let t0 = hours_ago(30);
    start(&w, "1001", t0, "1");
    dose(&w, "1001", "2", t0);
    let six = w.entry(&[
        "dose",
        "--mrn",
        "1001",
        "--rate",
        "6",
        "--at",
        &at(t0 + Duration::hours(3)),
        "--confirm",
        "--reason",
        "order 6",
    ]);
    let id = six.to_string();
    // The Seen case: the old confirmation does not cover the corrected rate.
    let msg = refused_unchanged(
        &w,
        &["amend", &id, "--reason", "pump showed 14", "--rate", "14"],
        "--confirm-reason",
    );
    assert!(msg.contains("larger than the protocol increment"), "{msg}");
    // Moving the confirmed step leaves it a step past a soft limit: confirm again.
    refused_unchanged(
        &w,
        &[
            "amend",
            &id,
            "--reason",
            "wrong time",
            "--at",
            &at(t0 + Duration::hours(4)),
        ],
        "confirm",
    );
    // The flags go together.
    refused_unchanged(
        &w,
        &["amend", &id, "--reason", "r", "--rate", "14", "--confirm"],
        "--confirm needs --confirm-reason",
    );
    refused_unchanged(
        &w,
        &[
            "amend",
            &id,
            "--reason",
            "r",
            "--rate",
            "14",
            "--confirm-reason",
            "x",
        ],
        "only given with --confirm",
    );
    // The hard maximum cannot be confirmed away on an amendment either.
    refused_unchanged(
        &w,
        &[
            "amend",
            &id,
            "--reason",
            "r",
            "--rate",
            "14.5",
            "--confirm",
            "--confirm-reason",
            "x",
        ],
        "above the protocol maximum",
    );
    let fourteen = first_number(&w.ok(&[
        "amend",
        &id,
        "--reason",
        "pump showed 14",
        "--rate",
        "14",
        "--confirm",
        "--confirm-reason",
        "physician order 14",
    ]));
    let h = history(&w, "1001");
    let l = line_of(&h, fourteen);
    assert!(
        l.contains("rate 14 mg/h (confirmed: physician order 14)"),
        "{l}"
    );
    assert!(!l.contains("order 6"), "{l}");
    // A correction that passes no soft limit stores no confirmation.
    let four = first_number(&w.ok(&[
        "amend",
        &fourteen.to_string(),
        "--reason",
        "it was 4",
        "--rate",
        "4",
    ]));
    let l = line_of(&history(&w, "1001"), four);
    assert!(l.contains("rate 4 mg/h") && !l.contains("confirmed"), "{l}");
}

#[test]
fn back_dating_cannot_turn_a_step_into_a_start() {
    let w = Ward::new();
    patient(&w, "1001", "Jan Jansen");
    let t0 = hours_ago(30);
    start(&w, "1001", t0, "1");
    dose(&w, "1001", "2", t0 + Duration::hours(1));
    // The Seen case: 14 mg/h put before the first rate.
    let msg = refused_unchanged(
        &w,
        &[
            "dose",
            "--mrn",
            "1001",
            "--rate",
            "14",
            "--at",
            &at(t0 + Duration::minutes(30)),
        ],
        "before the course's first rate entry",
    );
    assert!(
        msg.contains("above the protocol's starting rate of 2 mg/h"),
        "{msg}"
    );
    // Even the protocol's starting rate, back-dated, needs a confirmation.
    refused_unchanged(
        &w,
        &[
            "dose",
            "--mrn",
            "1001",
            "--rate",
            "2",
            "--at",
            &at(t0 + Duration::minutes(30)),
        ],
        "becomes the course's start",
    );
    // Moving a later rate before the first one is the same change.
    let four = dose(&w, "1001", "4", t0 + Duration::hours(4));
    refused_unchanged(
        &w,
        &[
            "amend",
            &four.to_string(),
            "--reason",
            "wrong time",
            "--at",
            &at(t0 + Duration::minutes(10)),
        ],
        "before the course's first rate entry",
    );
    // Confirmed with a reason, it is recorded, and the confirmation is kept.
    let id = w.entry(&[
        "dose",
        "--mrn",
        "1001",
        "--rate",
        "2",
        "--at",
        &at(t0 + Duration::minutes(30)),
        "--confirm",
        "--reason",
        "pump started early",
    ]);
    assert!(line_of(&history(&w, "1001"), id).contains("confirmed: pump started early"));
}

#[test]
fn a_first_rate_above_the_starting_rate_needs_a_confirmation() {
    let w = Ward::new();
    patient(&w, "1001", "Jan Jansen");
    let t0 = hours_ago(30);
    start(&w, "1001", t0, "1");
    // 0.05 mg/kg/h or 2 mg/h: config.toml says 2 mg/h.
    let msg = refused_unchanged(
        &w,
        &["dose", "--mrn", "1001", "--rate", "4", "--at", &at(t0)],
        "above the protocol's starting rate",
    );
    assert!(msg.contains("--confirm --reason"), "{msg}");
    // Below the starting rate is allowed, with a warning.
    let one = dose(&w, "1001", "1", t0);
    // Amending the start above the starting rate is the same limit.
    refused_unchanged(
        &w,
        &[
            "amend",
            &one.to_string(),
            "--reason",
            "was 6",
            "--rate",
            "6",
        ],
        "above the protocol's starting rate",
    );
    // A void that makes a later rate the start is refused too: 1 then 4 two hours on.
    dose(&w, "1001", "3", t0 + Duration::hours(2));
    refused_unchanged(
        &w,
        &["void", &one.to_string(), "--reason", "wrong patient"],
        "above the protocol's starting rate",
    );
    // A confirmed void is saved, the confirmation kept in its reason.
    w.ok(&[
        "void",
        &one.to_string(),
        "--reason",
        "wrong patient",
        "--confirm",
        "--confirm-reason",
        "started at 3 mg/h",
    ]);
    let h = history(&w, "1001");
    assert!(
        h.contains("wrong patient (confirmed: started at 3 mg/h; the later rate entry"),
        "{h}"
    );
}

#[test]
fn a_rate_put_between_two_others_is_checked_on_both_sides() {
    let w = Ward::new();
    patient(&w, "1001", "Jan Jansen");
    let t0 = hours_ago(40);
    start(&w, "1001", t0, "1");
    dose(&w, "1001", "2", t0);
    let four = dose(&w, "1001", "4", t0 + Duration::hours(4));
    // 3 mg/h at +3 h is a fine step itself, but makes 4 mg/h at +4 h a step up one hour
    // after the last one.
    let msg = refused_unchanged(
        &w,
        &[
            "dose",
            "--mrn",
            "1001",
            "--rate",
            "3",
            "--at",
            &at(t0 + Duration::hours(3)),
        ],
        &format!("the later rate entry {four} (4 mg/h) would then be a step up 60 min"),
    );
    assert!(msg.contains("--confirm --reason"), "{msg}");
    // A stop put before it makes it a step from 0 to 4.
    refused_unchanged(
        &w,
        &[
            "dose",
            "--mrn",
            "1001",
            "--rate",
            "0",
            "--at",
            &at(t0 + Duration::hours(3)),
        ],
        "larger than the protocol increment",
    );
    let six = dose(&w, "1001", "6", t0 + Duration::hours(8));
    // Moving 4 mg/h after 6 mg/h makes 6 mg/h a step of 4 from 2.
    refused_unchanged(
        &w,
        &[
            "amend",
            &four.to_string(),
            "--reason",
            "wrong time",
            "--at",
            &at(t0 + Duration::hours(9)),
        ],
        &format!("the later rate entry {six} (6 mg/h)"),
    );
    // Lowering it does the same.
    refused_unchanged(
        &w,
        &[
            "amend",
            &four.to_string(),
            "--reason",
            "was 2",
            "--rate",
            "2",
        ],
        &format!("the later rate entry {six}"),
    );
    // Voiding it does too, unless the void is confirmed.
    let msg = refused_unchanged(
        &w,
        &["void", &four.to_string(), "--reason", "entered in error"],
        "--confirm --confirm-reason",
    );
    assert!(msg.contains(&format!("later rate entry {six}")), "{msg}");
    refused_unchanged(
        &w,
        &[
            "void",
            &four.to_string(),
            "--reason",
            "entered in error",
            "--confirm",
        ],
        "--confirm needs --confirm-reason",
    );
    // The amendment confirmed: saved, with its own reason.
    let id = first_number(&w.ok(&[
        "amend",
        &four.to_string(),
        "--reason",
        "was 2",
        "--rate",
        "2",
        "--confirm",
        "--confirm-reason",
        "step to 6 ordered",
    ]));
    assert!(line_of(&history(&w, "1001"), id).contains("confirmed: step to 6 ordered"));
    // Inserting an hourly check at the running rate changes no step: no confirmation.
    dose(&w, "1001", "2", t0 + Duration::hours(5));
}

/// Course 1 ran days 20 to 13 ago, course 2 days 10 to 3 ago.
fn two_courses(w: &Ward) -> (i64, i64, i64, i64) {
    patient(w, "1001", "Jan Jansen");
    let d = |n: i64| hours_ago(24 * n);
    let s1 = start(w, "1001", d(20), "1");
    let e1 = w.entry(&[
        "course",
        "end",
        "--mrn",
        "1001",
        "--at",
        &at(d(13)),
        "--reason",
        "completed",
    ]);
    let s2 = start(w, "1001", d(10), "1");
    let e2 = w.entry(&[
        "course",
        "end",
        "--mrn",
        "1001",
        "--at",
        &at(d(3)),
        "--reason",
        "completed",
    ]);
    (s1, e1, s2, e2)
}

#[test]
fn courses_never_overlap_on_any_path() {
    let w = Ward::new();
    let (s1, e1, s2, e2) = two_courses(&w);
    let d = |n: i64| at(hours_ago(24 * n));
    let amend_at = |id: i64, t: &str| -> Vec<String> {
        [
            "amend",
            &id.to_string(),
            "--reason",
            "wrong date",
            "--at",
            t,
        ]
        .map(String::from)
        .to_vec()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        // The Seen case, either way round.
        (amend_at(e1, &d(9)), "would overlap"),
        (amend_at(s2, &d(14)), "would overlap"),
        // A start moved before the whole earlier course.
        (amend_at(s2, &d(21)), "would overlap"),
        (amend_at(s1, &d(8)), "would overlap"),
        // Reopening course 1 behind course 2.
        (
            ["void", &e1.to_string(), "--reason", "not ended"]
                .map(String::from)
                .to_vec(),
            "only the latest may run",
        ),
        // New courses back-dated into, between and before the earlier ones.
        (
            ["course", "start", "--mrn", "1001", "--at", &d(15)]
                .map(String::from)
                .to_vec(),
            "before the previous course ended",
        ),
        (
            ["course", "start", "--mrn", "1001", "--at", &d(12)]
                .map(String::from)
                .to_vec(),
            "would overlap",
        ),
        (
            ["course", "start", "--mrn", "1001", "--at", &d(25)]
                .map(String::from)
                .to_vec(),
            "would overlap",
        ),
    ];
    for (args, needle) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused_unchanged(&w, &args, needle);
    }
    // Rates stay inside their course: an end moved before the last rate is refused.
    // Voiding course 2's end reopens the latest course: allowed, and it takes rates.
    w.ok(&["void", &e2.to_string(), "--reason", "still running"]);
    let t = hours_ago(2);
    dose(&w, "1001", "2", t);
    refused_unchanged(
        &w,
        &[
            "course",
            "end",
            "--mrn",
            "1001",
            "--at",
            &at(t - Duration::hours(1)),
            "--reason",
            "completed",
        ],
        "the last rate entry is at",
    );
    refused_unchanged(
        &w,
        &[
            "amend",
            &s2.to_string(),
            "--reason",
            "r",
            "--at",
            &at(t + Duration::minutes(30)),
        ],
        "before the course started",
    );
    // Moving bounds where no course is crossed is allowed, and the patient is never stuck.
    w.ok(&[
        "amend",
        &e1.to_string(),
        "--reason",
        "ended later",
        "--at",
        &d(11),
    ]);
    w.ok(&[
        "course",
        "end",
        "--mrn",
        "1001",
        "--at",
        &at(hours_ago(1)),
        // Ended early: not "completed" (issue 11 §2).
        "--reason",
        "patient-request",
    ]);
    start(&w, "1001", hours_ago(0) - Duration::minutes(30), "1");
}

#[test]
fn one_running_course_per_bed_on_every_path() {
    let w = Ward::new();
    patient(&w, "1001", "Jan Jansen");
    patient(&w, "1002", "Els Bakker");
    patient(&w, "1003", "Wim Mulder");
    start(&w, "1001", hours_ago(30), "4a");
    // The same bed however it is typed.
    for bed in ["4a", " 4A ", "4A"] {
        let msg = refused_unchanged(
            &w,
            &[
                "course",
                "start",
                "--mrn",
                "1002",
                "--at",
                &at(hours_ago(5)),
                "--bed",
                bed,
            ],
            "bed 4a is taken by Jan Jansen (MRN 1001)",
        );
        assert!(msg.contains("choose another bed"), "{msg}");
    }
    let s2 = start(&w, "1002", hours_ago(5), "5");
    // Moving a running course into the occupied bed.
    refused_unchanged(
        &w,
        &[
            "amend",
            &s2.to_string(),
            "--reason",
            "wrong bed",
            "--bed",
            "4A",
        ],
        "taken by Jan Jansen (MRN 1001)",
    );
    // A void of an end that would reopen a course in a bed taken since.
    let e2 = w.entry(&[
        "course",
        "end",
        "--mrn",
        "1002",
        "--at",
        &at(hours_ago(3)),
        "--reason",
        "other",
    ]);
    start(&w, "1003", hours_ago(2), "5");
    refused_unchanged(
        &w,
        &["void", &e2.to_string(), "--reason", "not ended"],
        "bed 5 is taken by Wim Mulder (MRN 1003)",
    );
    // An ended course frees its bed; its own bed may be corrected.
    w.ok(&[
        "course",
        "end",
        "--mrn",
        "1001",
        "--at",
        &at(hours_ago(1)),
        // Ended early: not "completed" (issue 11 §2).
        "--reason",
        "patient-request",
    ]);
    start(&w, "1002", hours_ago(0) - Duration::minutes(30), "4A");
    w.ok(&[
        "amend",
        &s2.to_string(),
        "--reason",
        "bed was 6",
        "--bed",
        "6",
    ]);
}

/// These courses end before their planned 7 days: not "completed" (issue 11 §2).
fn end(w: &Ward, mrn: &str, t: DateTime<Utc>) -> i64 {
    w.entry(&[
        "course",
        "end",
        "--mrn",
        mrn,
        "--at",
        &at(t),
        "--reason",
        "patient-request",
    ])
}

/// A bed holds one patient at any moment, past stays included: a start (back-dated too), an
/// amended start, bed or end and a voided end are each checked against every other
/// patient's time in that bed. Touching is allowed: a stay may begin when the last ended.
#[test]
fn a_bed_holds_one_patient_at_any_moment_on_every_path() {
    let w = Ward::new();
    let base = hours_ago(24 * 40);
    let d = |n: i64| base + Duration::days(n);
    for (mrn, name) in [
        ("3001", "Ann Ames"),
        ("3002", "Bob Brink"),
        ("3003", "Zed Zwart"),
        ("3004", "Wim Wolf"),
        ("3005", "Cor Claes"),
    ] {
        patient(&w, mrn, name);
    }
    // The first reproduction: Ann in Bed 55 from day 0 to 7, ended; Bob back-dated into it.
    let ann = start(&w, "3001", d(0), "Bed 55");
    end(&w, "3001", d(7));
    for (t, bed) in [(d(2), "Bed 55"), (d(6), " bed  55"), (d(-3), "BED 55")] {
        let args = [
            "course",
            "start",
            "--mrn",
            "3002",
            "--at",
            &at(t),
            "--bed",
            bed,
        ];
        let msg = refused_unchanged(&w, &args, "was taken by Ann Ames (MRN 3001) from");
        assert!(msg.contains("choose another bed"), "{msg}");
    }
    // Back to back: Bob may start at the minute Ann's stay ended.
    start(&w, "3002", d(7), "Bed 55");
    end(&w, "3002", d(10));

    // The second reproduction: Zed in Bed 57 from day 12 to 19, Wim from day 20.
    start(&w, "3003", d(12), "Bed 57");
    let zed_end = end(&w, "3003", d(19));
    start(&w, "3004", d(20), "Bed 57");
    let later_end = |t: DateTime<Utc>| {
        [
            "amend".to_string(),
            zed_end.to_string(),
            "--reason".into(),
            "ended later".into(),
            "--at".into(),
            at(t),
        ]
    };
    let args = later_end(d(22));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    refused_unchanged(
        &w,
        &args,
        "bed Bed 57 is taken by Wim Wolf (MRN 3004), whose course is running",
    );
    // Up to the minute Wim came is fine; Wim's stay then ends, and a void of Zed's end
    // (Zed's course open again) would run into it.
    let args = later_end(d(20));
    let zed_end = w.entry(&args.iter().map(String::as_str).collect::<Vec<_>>());
    end(&w, "3004", d(25));
    refused_unchanged(
        &w,
        &["void", &zed_end.to_string(), "--reason", "not ended"],
        "was taken by Wim Wolf (MRN 3004) from",
    );

    // A start amended earlier into another's stay: Cor in Bed 55 from day 12.
    let cor = start(&w, "3005", d(12), "Bed 55");
    let amend_at = |id: i64, t: DateTime<Utc>| {
        vec![
            "amend".to_string(),
            id.to_string(),
            "--reason".into(),
            "started earlier".into(),
            "--at".into(),
            at(t),
        ]
    };
    let args = amend_at(cor, d(9));
    refused_unchanged(
        &w,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        "was taken by Bob Brink (MRN 3002) from",
    );
    let args = amend_at(cor, d(10));
    let cor = w.entry(&args.iter().map(String::as_str).collect::<Vec<_>>());
    // Another bed held during the course's time (Zed's Bed 57, days 12 to 20), typed any way.
    let msg = refused_unchanged(
        &w,
        &[
            "amend",
            &cor.to_string(),
            "--reason",
            "wrong bed",
            "--bed",
            "bed 57",
        ],
        "Zed Zwart (MRN 3003)",
    );
    assert!(msg.contains("a bed holds one patient at a time"), "{msg}");
    // A bed free all that time is accepted, and a bed used only before or after a course's
    // time may be given to it: Ann's days 0 to 7 in Bed 57 clash with no one.
    w.ok(&[
        "amend",
        &cor.to_string(),
        "--reason",
        "wrong bed",
        "--bed",
        "Bed 59",
    ]);
    w.ok(&[
        "amend",
        &ann.to_string(),
        "--reason",
        "was in 57",
        "--bed",
        "Bed 57",
    ]);
    // A different bed while others run; and Bed 57 again once Wim's stay has ended.
    start(&w, "3001", d(26), "Bed 57");
    refused_unchanged(
        &w,
        &[
            "course",
            "start",
            "--mrn",
            "3002",
            "--at",
            &at(d(30)),
            "--bed",
            "Bed 59",
        ],
        "bed Bed 59 is taken by Cor Claes (MRN 3005), whose course is running",
    );
    start(&w, "3002", d(30), "Bed 60");
}

/// Issue 11 §2: a course that ends before its protocol's planned end did not complete, on
/// every path: `course end` (its default reason too) and an amended end.
#[test]
fn an_early_end_is_not_completed_on_any_path() {
    let w = Ward::new();
    patient(&w, "1001", "Jan Jansen");
    let s = hours_ago(30);
    start(&w, "1001", s, "1");
    dose(&w, "1001", "2", s);
    let t = at(hours_ago(1));
    for args in [
        vec!["course", "end", "--mrn", "1001", "--at", &t],
        vec![
            "course",
            "end",
            "--mrn",
            "1001",
            "--at",
            &t,
            "--reason",
            "completed",
        ],
    ] {
        let msg = refused_unchanged(&w, &args, "139 h early");
        assert!(msg.contains("not \"completed\""), "{msg}");
        assert!(
            msg.contains("side-effects, patient-request, other"),
            "{msg}"
        );
    }
    let end = w.entry(&[
        "course",
        "end",
        "--mrn",
        "1001",
        "--at",
        &t,
        "--reason",
        "patient-request",
    ]);
    // Amending the reason to "completed", or the time of a completed end to an early one.
    refused_unchanged(
        &w,
        &[
            "amend",
            &end.to_string(),
            "--reason",
            "typo",
            "--end-reason",
            "completed",
        ],
        "h early",
    );
    // A course that did run its 7 days ends as completed; moving that end 30 h earlier
    // makes it an early end, refused as "completed".
    patient(&w, "1002", "Els de Wit");
    let s = hours_ago(200);
    start(&w, "1002", s, "2");
    dose(&w, "1002", "2", s);
    let done = w.entry(&[
        "course",
        "end",
        "--mrn",
        "1002",
        "--at",
        &at(s + Duration::hours(168)),
    ]);
    let msg = refused_unchanged(
        &w,
        &[
            "amend",
            &done.to_string(),
            "--reason",
            "ended earlier",
            "--at",
            &at(s + Duration::hours(138)),
        ],
        "30 h early",
    );
    assert!(msg.contains("not \"completed\""), "{msg}");
    // With the reason it ended early, the same correction is taken.
    w.ok(&[
        "amend",
        &done.to_string(),
        "--reason",
        "ended earlier",
        "--at",
        &at(s + Duration::hours(138)),
        "--end-reason",
        "side-effects",
    ]);
}

/// Issue 11 §2: a side effect whose action changes the rate brings the new rate, and both are
/// stored in one transaction: a rate the protocol refuses leaves no side effect either.
#[test]
fn a_side_effect_that_changes_the_rate_stores_both_or_neither() {
    let w = Ward::new();
    patient(&w, "1001", "Jan Jansen");
    let s = hours_ago(10);
    start(&w, "1001", s, "1");
    dose(&w, "1001", "2", s);
    dose(&w, "1001", "4", s + Duration::hours(3));
    dose(&w, "1001", "6", s + Duration::hours(6));
    let t = at(hours_ago(1));
    let se = |action: &str, rate: Option<&str>| {
        let mut v: Vec<String> = [
            "side-effect",
            "--mrn",
            "1001",
            "--kind",
            "nausea",
            "--severity",
            "moderate",
            "--at",
            &t,
            "--action",
            action,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(r) = rate {
            v.extend(["--rate".to_string(), r.to_string()]);
        }
        v
    };
    let cases: [(&str, Option<&str>, &str); 7] = [
        (
            "rate-lowered",
            None,
            "records the new rate in the same step",
        ),
        ("paused", None, "give the new rate, 0 (--rate"),
        ("rate-lowered", Some("6"), "below the current 6 mg/h"),
        ("rate-lowered", Some("8"), "not lower"),
        ("stopped", Some("2"), "means the rate is 0 mg/h"),
        ("none", Some("4"), "record the rate on its own"),
        ("rate-lowered", Some("abc"), "abc"),
    ];
    for (action, rate, needle) in cases {
        let args = se(action, rate);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused_unchanged(&w, &args, needle);
    }
    let args = se("rate-lowered", Some("4"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = w.ok(&args);
    assert!(
        out.contains("side effect nausea (moderate) at 6 mg/h"),
        "{out}"
    );
    assert!(out.contains("rate 4 mg/h (step down)"), "{out}");
    let side = first_number(&out);
    let h = history(&w, "1001");
    // The side effect, at the rate it happened at, then its rate: one after the other.
    let row = |id: i64| {
        h.lines()
            .find(|l| l.split_whitespace().next() == Some(&id.to_string()))
            .unwrap_or_else(|| panic!("entry {id} not in history:\n{h}"))
            .to_string()
    };
    assert!(
        row(side).contains("nausea, moderate, action rate-lowered, at 6 mg/h"),
        "{h}"
    );
    assert!(row(side + 1).contains("rate 4 mg/h"), "{h}");
    // A correction cannot make a side effect one that changes the rate: its rate would be
    // missing. Recorded with the rate, or not at all.
    let args = se("none", None);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let plain = first_number(&w.ok(&args)).to_string();
    for action in ["rate-lowered", "paused", "stopped"] {
        let msg = refused_unchanged(
            &w,
            &[
                "amend",
                &plain,
                "--reason",
                "it was paused",
                "--action",
                action,
            ],
            "records its new rate in the same step",
        );
        assert!(msg.contains("void this side effect"), "{msg}");
    }
    // Its other details can still be corrected.
    w.ok(&["amend", &plain, "--reason", "worse", "--severity", "severe"]);
}
