//! The discharge letter a referring physician reads (issue 11 §5), through the binary:
//! the patient on every page, the success reports, "never reached" and "no change" in place
//! of figures that read as measured, and a DRAFT mark that hides no text.
//!
//! Needs `pdftotext` (poppler-utils); a missing tool fails the test with a message.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use chrono::Duration;
use common::{Ward, hours_ago, rfc, text};

fn pdf_text(path: &Path) -> String {
    let o = Command::new("pdftotext")
        .args(["-layout", path.to_str().unwrap(), "-"])
        .output()
        .unwrap_or_else(|e| panic!("pdftotext could not be run ({e}): install poppler-utils"));
    assert!(o.status.success(), "pdftotext: {}", text(&o.stderr));
    text(&o.stdout)
}

/// One patient, a 2-day course that never reaches 14 mg/h, NRS 6 at T0 and at T1 (no
/// change); `end` ends it, `success` adds a T1 success report.
fn course(w: &Ward, mrn: &str, end: bool, success: bool) {
    w.ok(&[
        "patient",
        "add",
        "--mrn",
        mrn,
        "--name",
        "Sara Lindqvist",
        "--birth-date",
        "1968-04-09",
        "--sex",
        "female",
    ]);
    let start = hours_ago(48);
    let at = |h: i64| rfc(start + Duration::hours(h));
    w.ok(&[
        "nrs",
        "--mrn",
        mrn,
        "--score",
        "6",
        "--at",
        &at(-1),
        "--timepoint",
        "t0",
    ]);
    w.ok(&["course", "start", "--mrn", mrn, "--at", &at(0)]);
    w.ok(&["dose", "--mrn", mrn, "--rate", "2", "--at", &at(0)]);
    w.ok(&["dose", "--mrn", mrn, "--rate", "4", "--at", &at(4)]);
    if end {
        // A day's course ends early: not "completed" (issue 11 §2).
        w.ok(&[
            "course",
            "end",
            "--mrn",
            mrn,
            "--at",
            &at(24),
            "--reason",
            "patient-request",
        ]);
        w.ok(&[
            "nrs",
            "--mrn",
            mrn,
            "--score",
            "6",
            "--at",
            &at(25),
            "--timepoint",
            "t1",
        ]);
        if success {
            w.ok(&[
                "success",
                "--mrn",
                mrn,
                "--timepoint",
                "t1",
                "--value",
                "yes",
                "--at",
                &at(26),
            ]);
        }
    }
}

fn letter(w: &Ward, mrn: &str, format: &str, name: &str, extra: &[&str]) -> String {
    let out = w.dir.path().join(name);
    let mut args = vec![
        "summary",
        "--mrn",
        mrn,
        "--format",
        format,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    w.ok(&args);
    if format == "pdf" {
        pdf_text(&out)
    } else {
        std::fs::read_to_string(&out).unwrap()
    }
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn every_page_names_the_patient_with_page_n_of_m() {
    let w = Ward::new();
    course(&w, "3001", true, true);
    let t = letter(&w, "3001", "pdf", "a.pdf", &[]);
    let pages: Vec<&str> = t.split('\u{c}').filter(|p| !p.trim().is_empty()).collect();
    assert!(!pages.is_empty());
    let n = pages.len();
    for (i, p) in pages.iter().enumerate() {
        let p = squash(p);
        assert!(
            p.contains("Sara Lindqvist · born 1968-04-09 · MRN 3001"),
            "page {} lacks the patient: {p}",
            i + 1
        );
        assert!(
            p.contains(&format!("page {} of {n}", i + 1)),
            "page {}: {p}",
            i + 1
        );
    }
}

#[test]
fn a_reported_success_appears_in_markdown_and_pdf() {
    let w = Ward::new();
    course(&w, "3002", true, true);
    let md = letter(&w, "3002", "markdown", "a.md", &[]);
    assert!(
        md.contains("| Success reported at T1 | yes, reported by AB on "),
        "{md}"
    );
    let pdf = squash(&letter(&w, "3002", "pdf", "a.pdf", &[]));
    assert!(
        pdf.contains("Success reported at T1 yes, reported by AB on"),
        "{pdf}"
    );
}

#[test]
fn a_course_without_success_reports_says_so() {
    let w = Ward::new();
    course(&w, "3003", true, false);
    let md = letter(&w, "3003", "markdown", "a.md", &[]);
    assert!(
        md.contains("| Success reported | no report at T1 or T2 |"),
        "{md}"
    );
    // A running course: a draft, no T1 at all.
    course(&w, "3004", false, false);
    let md = letter(&w, "3004", "markdown", "b.md", &["--draft"]);
    assert!(
        md.contains("| Success reported | no report at T1 or T2 |"),
        "{md}"
    );
    assert!(
        md.contains("| NRS T1 (end of infusion) | not recorded |"),
        "{md}"
    );
}

#[test]
fn zero_differences_and_an_unused_maximum_read_in_words() {
    let w = Ward::new();
    course(&w, "3005", true, true);
    for (fmt, name) in [("markdown", "a.md"), ("pdf", "a.pdf")] {
        let t = squash(&letter(&w, "3005", fmt, name, &[]));
        assert!(t.contains("never reached (14 mg/h)"), "{fmt}: {t}");
        assert!(!t.contains("0 h 00 min"), "{fmt}: {t}");
        assert!(
            t.contains("Change T0 to T1") && t.contains("no change"),
            "{fmt}: {t}"
        );
        assert!(!t.contains("+0"), "{fmt}: {t}");
    }
}

#[test]
fn the_draft_mark_is_in_the_margin_and_readable() {
    let w = Ward::new();
    course(&w, "3006", false, false);
    let t = letter(&w, "3006", "pdf", "d.pdf", &["--draft"]);
    let first = t.split('\u{c}').next().unwrap();
    // The mark is the first line of the page, above the hospital line: it overlays nothing.
    let first_line = first.lines().find(|l| !l.trim().is_empty()).unwrap();
    assert!(
        first_line.contains("DRAFT: the course is still running"),
        "{first_line}"
    );
}

#[test]
fn an_existing_out_file_is_still_refused() {
    let w = Ward::new();
    course(&w, "3007", true, false);
    let out = w.dir.path().join("there.pdf");
    std::fs::write(&out, b"keep me").unwrap();
    let o = w.run_with(
        "AB",
        "1234",
        &[],
        &[
            "summary",
            "--mrn",
            "3007",
            "--format",
            "pdf",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
}
