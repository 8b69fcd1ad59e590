#![allow(clippy::unwrap_used)]
//! `titrate handover` through the real binary: the facts of each block in Markdown and in
//! the PDF read back with pdftotext, the refusals of --hours, --format and --out.

mod common;

use std::process::Command;

use common::{Ward, hours_ago, rfc, text};

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

/// Bed 2: Jan, started 30 h ago (day 2), T0 8, rate 2 → 4 mg/h 3 h ago, NRS 5 an hour
/// ago, nausea 2 h ago (inside 8 h) and a headache 20 h ago (outside). Bed 1: Carla, started
/// 7 days minus 3 h ago (ends within the window), no T0. Dirk: no bed, no rate yet.
fn ward() -> Ward {
    let w = Ward::new();
    patient(&w, "1001", "Jan Jansen");
    w.ok(&[
        "nrs",
        "--mrn",
        "1001",
        "--score",
        "8",
        "--at",
        &rfc(hours_ago(31)),
        "--timepoint",
        "t0",
    ]);
    w.ok(&[
        "course",
        "start",
        "--mrn",
        "1001",
        "--at",
        &rfc(hours_ago(30)),
        "--bed",
        "2",
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
    w.ok(&[
        "dose",
        "--mrn",
        "1001",
        "--rate",
        "4",
        "--at",
        &rfc(hours_ago(3)),
    ]);
    w.ok(&[
        "dose",
        "--mrn",
        "1001",
        "--rate",
        "4",
        "--at",
        &rfc(hours_ago(1)),
    ]);
    w.ok(&[
        "nrs",
        "--mrn",
        "1001",
        "--score",
        "7",
        "--at",
        &rfc(hours_ago(6)),
    ]);
    w.ok(&[
        "nrs",
        "--mrn",
        "1001",
        "--score",
        "5",
        "--at",
        &rfc(hours_ago(1)),
    ]);
    w.ok(&[
        "side-effect",
        "--mrn",
        "1001",
        "--kind",
        "nausea",
        "--severity",
        "mild",
        "--action",
        "medication-given",
        "--at",
        &rfc(hours_ago(2)),
    ]);
    w.ok(&[
        "side-effect",
        "--mrn",
        "1001",
        "--kind",
        "headache",
        "--severity",
        "mild",
        "--at",
        &rfc(hours_ago(20)),
    ]);
    patient(&w, "1002", "Carla Smit");
    w.ok(&[
        "course",
        "start",
        "--mrn",
        "1002",
        "--at",
        &rfc(hours_ago(7 * 24 - 3)),
        "--bed",
        "1",
    ]);
    w.ok(&[
        "dose",
        "--mrn",
        "1002",
        "--rate",
        "2",
        "--at",
        &rfc(hours_ago(7 * 24 - 3)),
    ]);
    patient(&w, "1003", "Dirk de Boer");
    w.ok(&[
        "course",
        "start",
        "--mrn",
        "1003",
        "--at",
        &rfc(hours_ago(2)),
    ]);
    w
}

fn block<'a>(md: &'a str, mrn: &str) -> &'a str {
    let start = md
        .find(&format!("MRN {mrn}\n"))
        .unwrap_or_else(|| panic!("{mrn}: {md}"));
    let rest = &md[md[..start].rfind("## ").unwrap()..];
    &rest[..rest[1..].find("\n## ").map_or(rest.len(), |i| i + 1)]
}

fn local(h: i64) -> String {
    let zone: chrono_tz::Tz = "Europe/Amsterdam".parse().unwrap();
    hours_ago(h)
        .with_timezone(&zone)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

#[test]
fn markdown_has_each_beds_facts_in_bed_order() {
    let w = ward();
    let md = w.ok(&["handover"]);
    // Bed order: 1, 2, then the patient without a bed.
    let (c, j, d) = (
        md.find("Carla").unwrap(),
        md.find("Jan Jansen").unwrap(),
        md.find("Dirk").unwrap(),
    );
    assert!(c < j && j < d, "{md}");
    let jan = block(&md, "1001");
    assert!(jan.contains("Bed 2 · Jan Jansen · MRN 1001"), "{jan}");
    assert!(jan.contains("born 1970-05-01"), "{jan}");
    assert!(jan.contains("day 2 of 7"), "{jan}");
    assert!(
        jan.contains(&format!("rate 4 mg/h since {}", local(3))),
        "{jan}"
    );
    assert!(jan.contains(&format!("NRS now 5 at {}", local(1))), "{jan}");
    assert!(jan.contains("T0 8 → now 5 (falling"), "{jan}");
    assert!(jan.contains("nausea"), "{jan}");
    // The action as the ward writes it, hyphen and all.
    assert!(jan.contains("nausea (mild, medication-given)"), "{jan}");
    assert!(!jan.contains("headache"), "outside the window: {jan}");
    assert!(jan.contains("hourly checks: next"), "{jan}");
    assert!(!jan.contains("course end"), "{jan}");
    let carla = block(&md, "1002");
    assert!(carla.contains("day 7 of 7"), "{carla}");
    assert!(
        carla.contains(&format!("course end {}", local(-3))),
        "{carla}"
    );
    assert!(carla.contains("no T0"), "{carla}");
    assert!(carla.contains("hourly check overdue"), "{carla}");
    let dirk = block(&md, "1003");
    assert!(dirk.contains("Bed none"), "{dirk}");
    assert!(dirk.contains("no starting rate"), "{dirk}");
    assert!(dirk.contains("(no rate entered)"), "{dirk}");
    // A window of 24 h takes the headache in.
    let md24 = w.ok(&["handover", "--hours", "24"]);
    assert!(block(&md24, "1001").contains("headache"), "{md24}");
}

#[test]
fn pdf_says_the_same_facts_and_has_a_header_per_page() {
    let w = ward();
    let out = w.dir.path().join("h.pdf");
    let said = w.ok(&[
        "handover",
        "--format",
        "pdf",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(said.contains("written to"), "{said}");
    let t = Command::new("pdftotext")
        .args(["-layout"])
        .arg(&out)
        .arg("-")
        .output()
        .unwrap();
    assert!(t.status.success());
    // Wrapped lines joined again: a fact may be broken across two lines.
    let t = text(&t.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for fact in [
        "Shift handover",
        "generated by Anna Boer (AB)",
        "page 1 of 1",
        "Jan Jansen · MRN 1001",
        "day 2 of 7",
        &format!("rate 4 mg/h since {}", local(3)),
        "nausea",
        "no T0",
        "no starting rate",
        &format!("course end {}", local(-3)),
    ] {
        assert!(t.contains(fact), "{fact:?} not in\n{t}");
    }
    assert!(!t.contains("headache"), "{t}");
}

#[test]
fn many_patients_and_a_long_name_give_whole_blocks_on_every_page() {
    let w = Ward::new();
    let long = "Maria Magdalena Wilhelmina Theodora van den Bergh-Oudshoorn de la Cour Ramírez y Castellanos";
    for i in 0..30 {
        let mrn = format!("2{i:03}");
        patient(&w, &mrn, if i == 7 { long } else { "Piet Klaassen" });
        let bed = format!("{:02}", i + 1);
        w.ok(&[
            "course",
            "start",
            "--mrn",
            &mrn,
            "--at",
            &rfc(hours_ago(5)),
            "--bed",
            &bed,
        ]);
        w.ok(&[
            "dose",
            "--mrn",
            &mrn,
            "--rate",
            "2",
            "--at",
            &rfc(hours_ago(5)),
        ]);
    }
    let out = w.dir.path().join("h.pdf");
    w.ok(&[
        "handover",
        "--format",
        "pdf",
        "--out",
        out.to_str().unwrap(),
    ]);
    let pages = Command::new("pdftotext")
        .arg(&out)
        .arg("-")
        .output()
        .unwrap();
    let t = text(&pages.stdout);
    let pages: Vec<&str> = t.split('\u{c}').filter(|p| !p.trim().is_empty()).collect();
    assert!(pages.len() >= 3, "{}", pages.len());
    let n = pages.len();
    let mut seen = 0;
    for (i, p) in pages.iter().enumerate() {
        assert!(p.contains(&format!("page {} of {n}", i + 1)), "{p}");
        assert!(p.contains("Shift handover"), "{p}");
        // A block is whole on its page: each title's MRN comes with its "due:" line.
        let titles = p.matches("MRN 2").count();
        assert_eq!(
            titles,
            p.matches("due:").count(),
            "split block on page {}:\n{p}",
            i + 1
        );
        seen += titles;
    }
    assert_eq!(seen, 30);
    // The long name wraps instead of running off the page: every word is there.
    let flat = t.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("Ramírez y Castellanos"), "{flat}");
}

#[test]
fn an_empty_ward_says_so() {
    let w = Ward::new();
    let md = w.ok(&["handover"]);
    assert!(md.contains("No course is running on the ward."), "{md}");
    let out = w.dir.path().join("e.pdf");
    w.ok(&[
        "handover",
        "--format",
        "pdf",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(std::fs::read(&out).unwrap().starts_with(b"%PDF"));
}

#[test]
fn bad_hours_format_and_targets_are_refused_with_the_reason() {
    let w = ward();
    for bad in ["0", "200", "x", "-1", "8.5", ""] {
        let e = w.refused(&["handover", "--hours", bad]);
        assert!(e.contains("from 1 to 72"), "{bad}: {e}");
    }
    let e = w.refused(&["handover", "--format", "docx"]);
    assert!(e.contains("markdown or pdf"), "{e}");
    let e = w.refused(&["handover", "--format", "pdf"]);
    assert!(e.contains("--out"), "{e}");
    // An existing file stays as it was without --force, and is replaced with it.
    let out = w.dir.path().join("taken.md");
    std::fs::write(&out, "keep me").unwrap();
    let e = w.refused(&["handover", "--out", out.to_str().unwrap()]);
    assert!(e.contains("exists") || e.contains("already"), "{e}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
    w.ok(&["handover", "--out", out.to_str().unwrap(), "--force"]);
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("Shift handover")
    );
    // A symlink at --out is refused even with --force; its target is untouched.
    let target = w.dir.path().join("target.txt");
    std::fs::write(&target, "untouched").unwrap();
    let link = w.dir.path().join("link.md");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let e = w.refused(&["handover", "--out", link.to_str().unwrap(), "--force"]);
    assert!(e.contains("link"), "{e}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
    // The database itself is never a target.
    let e = w.refused(&["handover", "--out", w.db.to_str().unwrap(), "--force"]);
    assert!(!e.is_empty());
}
