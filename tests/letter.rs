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

// ----- the responsible physician and the advice to the referring physician -----

const ADVICE: &str = "Ketamine may be repeated after 6 months if pain returns; please check liver enzymes in 4 weeks.";

fn add_staff(w: &Ward, id: &str, name: &str, role: &str) {
    let o = w.run_with(
        "AB",
        "1234",
        &[("TITRATE_NEW_PIN", "1234")],
        &["staff", "add", "--id", id, "--name", name, "--role", role],
    );
    assert!(o.status.success(), "staff add {id}: {}", text(&o.stderr));
}

/// `titrate summary` as `user`, writing `name` in the ward's folder.
fn letter_as(
    w: &Ward,
    user: &str,
    mrn: &str,
    format: &str,
    name: &str,
    extra: &[&str],
) -> std::process::Output {
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
    w.run_with(user, "1234", &[], &args)
}

fn advice_rows(db: &Path) -> Vec<(i64, Option<i64>, String, String, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT id, supersedes, responsible_staff_id, advice, recorded_by \
             FROM letter_advice ORDER BY id",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
    .map(|r| r.unwrap())
    .collect()
}

#[test]
fn the_letter_names_the_responsible_physician_and_the_advice_and_is_made_again_the_same() {
    let w = Ward::new();
    add_staff(&w, "PH", "Pieter Hofman", "physician");
    add_staff(&w, "PV", "Petra Vos", "physician");
    course(&w, "3101", true, true);
    let o = letter_as(
        &w,
        "PH",
        "3101",
        "pdf",
        "a.pdf",
        &["--advice", ADVICE, "--responsible", "PV"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("responsible physician PV"),
        "{}",
        text(&o.stdout)
    );
    let pdf = squash(&pdf_text(&w.dir.path().join("a.pdf")));
    assert!(
        pdf.contains("Responsible physician: Petra Vos (PV)"),
        "{pdf}"
    );
    assert!(pdf.contains("Advice to the referring physician"), "{pdf}");
    assert!(pdf.contains(ADVICE), "{pdf}");
    assert!(pdf.contains("written by Pieter Hofman (PH) on"), "{pdf}");

    // Made again without --advice, by someone else (a nurse may print it): the same words.
    add_staff(&w, "NU", "Nina Udo", "nurse");
    let o = letter_as(&w, "NU", "3101", "pdf", "b.pdf", &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let again = squash(&pdf_text(&w.dir.path().join("b.pdf")));
    assert!(
        again.contains("Responsible physician: Petra Vos (PV)"),
        "{again}"
    );
    assert!(again.contains(ADVICE), "{again}");
    let md = letter(&w, "3101", "markdown", "b.md", &[]);
    assert!(md.contains("Responsible physician: Petra Vos (PV)"), "{md}");
    assert!(md.contains("## Advice to the referring physician"), "{md}");
    assert!(md.contains(ADVICE), "{md}");
    assert_eq!(advice_rows(&w.db).len(), 1, "printing again stores nothing");

    // A later advice supersedes the first, which stays; without --responsible the stored
    // physician is kept.
    let o = letter_as(
        &w,
        "PH",
        "3101",
        "markdown",
        "c.md",
        &["--advice", "Follow up in 3 months."],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let md = std::fs::read_to_string(w.dir.path().join("c.md")).unwrap();
    assert!(md.contains("Follow up in 3 months."), "{md}");
    assert!(!md.contains(ADVICE), "{md}");
    assert!(md.contains("Responsible physician: Petra Vos (PV)"), "{md}");
    let rows = advice_rows(&w.db);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].3, ADVICE);
    assert_eq!(
        rows[1].1,
        Some(rows[0].0),
        "the new one names the one it replaces"
    );
    assert_eq!((rows[1].2.as_str(), rows[1].4.as_str()), ("PV", "PH"));
    let v = w.ok(&["audit", "verify"]);
    assert!(!v.contains("problem"), "{v}");
}

#[test]
fn a_letter_without_advice_says_so() {
    let w = Ward::new();
    course(&w, "3102", true, false);
    let md = letter(&w, "3102", "markdown", "a.md", &[]);
    assert!(md.contains("Responsible physician: not recorded"), "{md}");
    assert!(md.contains("No advice was written for this letter"), "{md}");
    let pdf = squash(&letter(&w, "3102", "pdf", "a.pdf", &[]));
    assert!(pdf.contains("Responsible physician: not recorded"), "{pdf}");
}

#[test]
fn advice_from_a_nurse_or_naming_a_non_physician_is_refused_and_stores_nothing() {
    let w = Ward::new();
    add_staff(&w, "PH", "Pieter Hofman", "physician");
    add_staff(&w, "NU", "Nina Udo", "nurse");
    add_staff(&w, "PX", "Paul Xander", "physician");
    course(&w, "3103", true, false);
    w.ok(&["staff", "deactivate", "PX"]);
    let before = common::dump(&w.db);
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        ("NU", vec!["--advice", ADVICE], "physician"),
        (
            "PH",
            vec!["--advice", ADVICE, "--responsible", "NU"],
            "NU is not an active physician",
        ),
        (
            "PH",
            vec!["--advice", ADVICE, "--responsible", "AB"],
            "AB is not an active physician",
        ),
        (
            "PH",
            vec!["--advice", ADVICE, "--responsible", "PX"],
            "PX is not an active physician",
        ),
        (
            "PH",
            vec!["--advice", ADVICE, "--responsible", "ZZ"],
            "ZZ is not an active physician",
        ),
        (
            "PH",
            vec!["--advice", "clear \u{1b}[2J screen"],
            "control character",
        ),
        ("PH", vec!["--advice", "   "], "is empty"),
        ("PH", vec!["--responsible", "PH"], "--advice"),
    ];
    let long = "a".repeat(3001);
    let mut cases = cases;
    cases.push(("PH", vec!["--advice", &long], "at most 3000"));
    // An admin names a physician, or there is nobody to name.
    cases.push((
        "AB",
        vec!["--advice", ADVICE],
        "name the responsible physician",
    ));
    for (i, (user, extra, said)) in cases.iter().enumerate() {
        let name = format!("refused{i}.pdf");
        let o = letter_as(&w, user, "3103", "pdf", &name, extra);
        assert!(!o.status.success(), "{user} {extra:?} was accepted");
        let err = text(&o.stderr);
        assert!(err.contains(said), "{user} {extra:?}: {err}");
        assert!(
            !w.dir.path().join(&name).exists(),
            "{user} {extra:?} wrote a letter"
        );
    }
    // Refusals leave the record as it was, apart from the denied attempt's audit row.
    let record = |d: Vec<String>| -> Vec<String> {
        d.into_iter().filter(|r| !r.starts_with("audit")).collect()
    };
    assert_eq!(record(common::dump(&w.db)), record(before.clone()));
    let conn = rusqlite::Connection::open(&w.db).unwrap();
    let logged = before.iter().filter(|r| r.starts_with("audit:")).count() as i64;
    let actions: Vec<String> = conn
        .prepare("SELECT action FROM audit WHERE seq > ?1 ORDER BY seq")
        .unwrap()
        .query_map([logged], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(actions, ["denied"], "only the nurse's attempt is logged");
    assert!(advice_rows(&w.db).is_empty());
    // An admin may write it, naming a physician.
    let o = letter_as(
        &w,
        "AB",
        "3103",
        "markdown",
        "ok.md",
        &["--advice", ADVICE, "--responsible", "PH"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn advice_is_stored_in_a_database_migrated_from_schema_version_1() {
    let w = Ward::new();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/schema-v1.db"),
        &w.db,
    )
    .unwrap();
    add_staff(&w, "PH", "Pieter Hofman", "physician");
    let o = letter_as(&w, "PH", "7001", "pdf", "old.pdf", &["--advice", ADVICE]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let pdf = squash(&pdf_text(&w.dir.path().join("old.pdf")));
    assert!(
        pdf.contains("Responsible physician: Pieter Hofman (PH)"),
        "{pdf}"
    );
    assert!(pdf.contains(ADVICE), "{pdf}");
    let o = letter_as(&w, "PH", "7001", "markdown", "again.md", &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        std::fs::read_to_string(w.dir.path().join("again.md"))
            .unwrap()
            .contains(ADVICE)
    );
    let v = w.ok(&["audit", "verify"]);
    assert!(!v.contains("problem"), "{v}");
    let check = w.ok(&["check"]);
    assert!(
        !check.contains("differs") && !check.contains("missing"),
        "{check}"
    );
}

// ----- the chart: a connected NRS line with T0, T1 and T2, side effects on the rate -----

/// Every word on the PDF's pages with its box (points from the top left), and each page's
/// width.
fn words(pdf: &Path) -> Vec<(usize, String, [f64; 4])> {
    let o = Command::new("pdftotext")
        .args(["-bbox", pdf.to_str().unwrap(), "-"])
        .output()
        .unwrap();
    assert!(o.status.success(), "pdftotext -bbox: {}", text(&o.stderr));
    let html = text(&o.stdout);
    let attr = |l: &str, name: &str| -> f64 {
        let k = format!("{name}=\"");
        let i = l.find(&k).unwrap() + k.len();
        l[i..i + l[i..].find('"').unwrap()].parse().unwrap()
    };
    let mut page = 0;
    let mut out = Vec::new();
    for l in html.lines().map(str::trim) {
        if l.starts_with("<page ") {
            page += 1;
        } else if l.starts_with("<word ") {
            let w = l[l.find('>').unwrap() + 1..l.rfind("</word>").unwrap()].to_string();
            let b = [
                attr(l, "xMin"),
                attr(l, "yMin"),
                attr(l, "xMax"),
                attr(l, "yMax"),
            ];
            out.push((page, w, b));
        }
    }
    out
}

/// Page `page` rendered in colour at 72 dpi (a pixel a point): (width, RGB bytes).
fn page_rgb(pdf: &Path, page: usize) -> (usize, Vec<u8>) {
    let prefix = pdf.with_extension("page");
    let n = page.to_string();
    let o = Command::new("pdftoppm")
        .args(["-r", "72", "-f", &n, "-l", &n, "-singlefile"])
        .arg(pdf)
        .arg(&prefix)
        .output()
        .unwrap_or_else(|e| panic!("pdftoppm could not be run ({e}): install poppler-utils"));
    assert!(o.status.success(), "pdftoppm: {}", text(&o.stderr));
    let ppm = std::fs::read(format!("{}.ppm", prefix.display())).unwrap();
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while ppm[i].is_ascii_whitespace() {
            i += 1;
        }
        let s = i;
        while !ppm[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&ppm[s..i]).into_owned());
    }
    assert_eq!(fields[0], "P6");
    (fields[1].parse().unwrap(), ppm[i + 1..].to_vec())
}

/// A 7-day course with T0 8, daily scores, T1 5 and T2 3, and (when `side_effect`) a
/// nausea at 6 h while 4 mg/h ran; its letter as PDF.
fn charted(w: &Ward, mrn: &str, side_effect: bool) -> std::path::PathBuf {
    w.ok(&[
        "patient",
        "add",
        "--mrn",
        mrn,
        "--name",
        "Ruud Smit",
        "--birth-date",
        "1971-02-03",
        "--sex",
        "male",
    ]);
    let start = hours_ago(40 * 24);
    let at = |h: i64| rfc(start + Duration::hours(h));
    let nrs = |score: &str, h: i64, tp: Option<&str>| {
        let t = at(h);
        let mut a = vec!["nrs", "--mrn", mrn, "--score", score, "--at", &t];
        if let Some(tp) = tp {
            a.extend(["--timepoint", tp]);
        }
        w.ok(&a);
    };
    nrs("8", -3, Some("t0"));
    w.ok(&["course", "start", "--mrn", mrn, "--at", &at(0)]);
    for (h, r) in [(0, "2"), (4, "4"), (8, "6")] {
        w.ok(&["dose", "--mrn", mrn, "--rate", r, "--at", &at(h)]);
    }
    if side_effect {
        w.ok(&[
            "side-effect",
            "--mrn",
            mrn,
            "--kind",
            "nausea",
            "--severity",
            "mild",
            "--at",
            &at(6),
        ]);
    }
    nrs("7", 24, None);
    nrs("6", 72, None);
    w.ok(&["course", "end", "--mrn", mrn, "--at", &at(168)]);
    nrs("5", 169, Some("t1"));
    nrs("3", 168 + 28 * 24, Some("t2"));
    let pdf = w.dir.path().join(format!("{mrn}.pdf"));
    w.ok(&[
        "summary",
        "--mrn",
        mrn,
        "--format",
        "pdf",
        "--out",
        pdf.to_str().unwrap(),
    ]);
    pdf
}

#[test]
fn the_nrs_chart_is_one_line_through_the_scores_with_t0_t1_and_t2_labelled() {
    let w = Ward::new();
    let pdf = charted(&w, "3201", true);
    let all = words(&pdf);
    let nrs = all
        .windows(2)
        .find(|p| p[0].1 == "NRS" && p[1].1 == "10")
        .map(|p| p[0].clone())
        .expect("no NRS panel");
    let (page, _, panel) = nrs;
    let day = all
        .iter()
        .find(|(p, w, b)| *p == page && w == "day" && b[1] > panel[3])
        .expect("no day labels")
        .2;
    let label = |name: &str| -> [f64; 4] {
        all.iter()
            .find(|(p, w, b)| *p == page && w == name && b[1] > panel[3] && b[3] < day[1])
            .unwrap_or_else(|| panic!("{name} is not labelled in the NRS panel"))
            .2
    };
    let (t0, t1, t2) = (label("T0"), label("T1"), label("T2"));
    // In time order left to right, and higher on the page for a higher score (8, 5, 3).
    assert!(t0[0] < t1[0] && t1[0] < t2[0], "{t0:?} {t1:?} {t2:?}");
    let mid = |b: [f64; 4]| (b[1] + b[3]) / 2.0;
    assert!(
        mid(t0) < mid(t1) && mid(t1) < mid(t2),
        "{t0:?} {t1:?} {t2:?}"
    );
    // T2 is in the follow-up slot, said under the axis.
    assert!(
        all.iter().any(|(p, w, _)| *p == page && w == "after"),
        "the follow-up slot is not named"
    );

    // The line: every column between T0 and T1 holds a pixel of the line's colour inside
    // the panel (or a score's black mark on it), so the scores are joined, not scattered.
    let (width, px) = page_rgb(&pdf, page);
    // Inside the panel, above its black axis.
    let rows = (panel[3] as usize + 2)..(day[1] as usize - 9);
    let line_at = |x: usize| {
        rows.clone().any(|y| {
            let i = (y * width + x) * 3;
            let (r, g, b) = (i32::from(px[i]), i32::from(px[i + 1]), i32::from(px[i + 2]));
            (b > 150 && b - r > 30) || r.max(g).max(b) < 80
        })
    };
    let from = t0[2] as usize + 4;
    let to = t1[0] as usize - 4;
    assert!(
        to > from + 100,
        "the course spans too few points: {from}..{to}"
    );
    let gaps: Vec<usize> = (from..to).filter(|x| !line_at(*x)).collect();
    assert!(gaps.is_empty(), "the NRS line breaks at x = {gaps:?}");
}

#[test]
fn side_effects_are_marked_on_the_rate_chart_with_a_legend() {
    let w = Ward::new();
    let red_below_the_maximum = |pdf: &Path| -> (bool, usize) {
        let all = words(pdf);
        // The chart's "maximum 14 mg/h" (the protocol row says "maximum 14 mg/h,").
        let (page, _, max) = all
            .windows(3)
            .find(|p| p[0].1 == "maximum" && p[2].1 == "mg/h")
            .expect("no maximum line")[0]
            .clone();
        let nrs = all
            .iter()
            .find(|(p, w, b)| *p == page && w == "NRS" && b[1] > max[3])
            .expect("no NRS panel")
            .2;
        let legend = all
            .windows(5)
            .any(|p| p[0].1 == "side" && p[1].1 == "effect" && p[4].1 == "table)");
        let (width, px) = page_rgb(pdf, page);
        let red = ((max[3] as usize + 5)..(nrs[1] as usize - 16))
            .flat_map(|y| (60..width - 40).map(move |x| (x, y)))
            .filter(|(x, y)| {
                let i = (y * width + x) * 3;
                px[i] > 150 && px[i + 1] < 100 && px[i + 2] < 100
            })
            .count();
        (legend, red)
    };
    let (legend, red) = red_below_the_maximum(&charted(&w, "3202", true));
    assert!(legend, "no legend for the side-effect marks");
    assert!(
        red > 5,
        "no side-effect mark on the rate chart ({red} red pixels)"
    );
    let (legend, red) = red_below_the_maximum(&charted(&w, "3203", false));
    assert!(!legend, "a legend without side effects");
    assert_eq!(red, 0, "a mark without a side effect");
}
