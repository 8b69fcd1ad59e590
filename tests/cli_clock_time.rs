//! Issue 11 §3: on the command line, `--at 14:05` is the latest 14:05 (ward time) that is
//! not in the future; a full date and time works as before; a bad time is explained in a
//! nurse's words.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{DurationRound, TimeZone, Utc};
use common::Ward;

const ZONE: chrono_tz::Tz = chrono_tz::Europe::Amsterdam;

fn last_happened_at(w: &Ward) -> String {
    let conn = rusqlite::Connection::open(w.path()).unwrap();
    conn.query_row(
        "SELECT happened_at FROM entry ORDER BY id DESC LIMIT 1",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

fn ward_with_patient() -> Ward {
    let w = Ward::new();
    w.ok(&[
        "patient",
        "add",
        "--mrn",
        "2001",
        "--name",
        "Maria Smit",
        "--birth-date",
        "1975-06-15",
        "--sex",
        "female",
    ]);
    w
}

#[test]
fn a_clock_time_on_the_command_line() {
    let w = ward_with_patient();
    let now = Utc::now()
        .duration_trunc(chrono::Duration::minutes(1))
        .unwrap();
    // Half an hour ago: today's (or, just after midnight, yesterday's) wall time.
    let past = now - chrono::Duration::minutes(30);
    let hm = past.with_timezone(&ZONE).format("%H:%M").to_string();
    w.entry(&["nrs", "--mrn", "2001", "--score", "5", "--at", &hm]);
    assert_eq!(last_happened_at(&w), common::rfc(past), "--at {hm}");

    // Half an hour ahead: not yet today, so yesterday's.
    let ahead = (now + chrono::Duration::minutes(30)).with_timezone(&ZONE);
    let hm = ahead.format("%H:%M").to_string();
    let yesterday = ZONE
        .from_local_datetime(&(ahead.date_naive().pred_opt().unwrap()).and_time(ahead.time()))
        .earliest()
        .unwrap();
    w.entry(&["nrs", "--mrn", "2001", "--score", "6", "--at", &hm]);
    assert_eq!(
        last_happened_at(&w),
        common::rfc(yesterday.with_timezone(&Utc)),
        "--at {hm}"
    );

    // A full local date and time, and RFC 3339 with an offset, work as before.
    w.entry(&[
        "nrs",
        "--mrn",
        "2001",
        "--score",
        "4",
        "--at",
        "2026-01-05 08:00",
    ]);
    assert_eq!(last_happened_at(&w), "2026-01-05T07:00:00Z");
    w.entry(&[
        "nrs",
        "--mrn",
        "2001",
        "--score",
        "4",
        "--at",
        "2026-01-05T09:00:00+01:00",
    ]);
    assert_eq!(last_happened_at(&w), "2026-01-05T08:00:00Z");
}

#[test]
fn a_bad_time_is_explained_without_rfc_3339() {
    let w = ward_with_patient();
    let err = w.refused(&["nrs", "--mrn", "2001", "--score", "5", "--at", "14.05"]);
    assert!(
        err.contains("\"14.05\" is not a time: write a time like 14:05 or 2026-03-01 14:05"),
        "{err}"
    );
    assert!(!err.to_lowercase().contains("rfc"), "{err}");
    let help = w.ok(&["--help"]);
    assert!(help.contains("like 14:05"), "{help}");
}
