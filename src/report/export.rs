//! The research export: long-format CSV files that R, SPSS and pandas read without
//! hand-editing, a codebook, and a data-quality list. Optionally pseudonymised: study ids
//! instead of names and MRNs, age instead of birth date, every date of a patient shifted by
//! that patient's secret offset (kept in the database, so intervals stay exact and
//! re-exports agree).

use std::collections::HashMap;

use chrono::Duration;

use crate::domain::entry::{EntryData, Versions};
use crate::domain::outcome::t2_window;
use crate::domain::record::{CourseState, PatientRecord, age_on};
use crate::domain::time::{Instant, to_db};

/// How missing values are written: what R and pandas read as missing by default.
pub const NA: &str = "NA";

/// (study id, day offset) per patient id, for a pseudonymised export.
pub type Pseudonyms = HashMap<i64, (String, i64)>;

pub struct Files {
    pub events: String,
    pub courses: String,
    pub codebook: String,
    pub data_quality: String,
}

/// RFC 4180: quote a field holding a comma, quote or line break.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn row(cells: &[String]) -> String {
    let mut line = cells.iter().map(|c| field(c)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or(NA.to_string(), |v| v.to_string())
}

fn num(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn bool01(v: Option<bool>) -> String {
    opt(v.map(u8::from))
}

struct Who<'a> {
    id: String,
    shift: Duration,
    rec: &'a PatientRecord,
    /// Free text (reasons, descriptions) may name people or dates: left out when pseudonymised.
    free_text: bool,
}

impl Who<'_> {
    fn text(&self, s: &str) -> String {
        if self.free_text {
            s.to_string()
        } else {
            "[free text left out]".to_string()
        }
    }
}

impl Who<'_> {
    fn time(&self, t: Instant) -> String {
        to_db(t + self.shift)
    }
}

const EVENT_COLUMNS: &[(&str, &str, &str, &str)] = &[
    (
        "course_id",
        "integer",
        "",
        "titrate's course number; NA for a pain score outside any course",
    ),
    (
        "patient",
        "text",
        "",
        "MRN, or the study id in a pseudonymised export",
    ),
    (
        "event",
        "text",
        "",
        "course-start, rate, nrs, side-effect, success, course-end",
    ),
    (
        "happened_at",
        "datetime",
        "UTC",
        "when it happened, ISO 8601 (shifted per patient when pseudonymised)",
    ),
    (
        "recorded_at",
        "datetime",
        "UTC",
        "when it was recorded (shifted likewise)",
    ),
    (
        "value",
        "text",
        "see unit",
        "rate in mg/h; NRS 0-10; side-effect kind; success yes/no; end reason",
    ),
    (
        "unit",
        "text",
        "",
        "mg/h for rates, NRS for scores, else NA",
    ),
    (
        "details",
        "text",
        "",
        "timepoint tag, severity/action, confirmation reason, bed",
    ),
    ("entry_id", "integer", "", "this version's id"),
    (
        "version",
        "integer",
        "",
        "1 for the first version of an entry, 2 for its first amendment, ...",
    ),
    (
        "supersedes",
        "integer",
        "",
        "the entry id this version corrects, NA for a first version",
    ),
    (
        "current",
        "0/1",
        "",
        "1 for the latest version of the entry",
    ),
    ("voided", "0/1", "", "1 when marked entered in error"),
    (
        "late",
        "0/1",
        "",
        "1 when recorded more than the check interval after it happened",
    ),
    ("recorded_by", "text", "", "staff id"),
];

const COURSE_COLUMNS: &[(&str, &str, &str, &str)] = &[
    ("course_id", "integer", "", "titrate's course number"),
    (
        "patient",
        "text",
        "",
        "MRN, or the study id when pseudonymised",
    ),
    (
        "birth_date",
        "date",
        "",
        "YYYY-MM-DD; NA when pseudonymised",
    ),
    (
        "age_at_start",
        "integer",
        "years",
        "age at the start of the course",
    ),
    ("sex", "text", "", "female, male, other"),
    ("weight_kg", "number", "kg", "weight"),
    ("crps_type", "integer", "", "1 or 2"),
    (
        "disease_years",
        "number",
        "years",
        "CRPS onset to course start",
    ),
    ("protocol", "text", "", "the protocol the course ran under"),
    ("state", "text", "", "active, ended, cancelled"),
    (
        "started_at",
        "datetime",
        "UTC",
        "course start (shifted when pseudonymised)",
    ),
    (
        "ended_at",
        "datetime",
        "UTC",
        "course end, NA while running",
    ),
    (
        "end_reason",
        "text",
        "",
        "completed, side-effects, patient-request, other",
    ),
    (
        "duration_h",
        "number",
        "h",
        "start to end (or to the export while running)",
    ),
    ("nrs_t0", "integer", "NRS", "baseline score"),
    ("nrs_t1", "integer", "NRS", "score at the end of infusion"),
    (
        "nrs_t2",
        "integer",
        "NRS",
        "follow-up score, day 21-42 after the end",
    ),
    (
        "t1_responder",
        "0/1",
        "",
        "NRS drop >= threshold or reported successful; NA unknown",
    ),
    ("t2_responder", "0/1", "", "as t1_responder, at T2"),
    (
        "total_dose_mg",
        "number",
        "mg",
        "integral of the rate over the course",
    ),
    (
        "highest_rate_mg_h",
        "number",
        "mg/h",
        "highest rate reached",
    ),
    (
        "hours_at_max",
        "number",
        "h",
        "time at the protocol maximum",
    ),
    (
        "step_ups",
        "integer",
        "",
        "rate increases after the starting rate",
    ),
    ("step_downs", "integer", "", "rate decreases"),
    ("side_effects", "integer", "", "side effects recorded"),
];

const QUALITY_COLUMNS: &[(&str, &str, &str, &str)] = &[
    ("course_id", "integer", "", "the course concerned"),
    ("patient", "text", "", "MRN or study id"),
    (
        "issue",
        "text",
        "",
        "missing_t0, missing_t1, missing_t2, t2_outside_window, late_entry, voided_entry",
    ),
    (
        "entry_id",
        "integer",
        "",
        "the entry concerned, NA for a missing timepoint",
    ),
    ("details", "text", "", "what and when"),
];

fn header(cols: &[(&str, &str, &str, &str)]) -> String {
    row(&cols.iter().map(|c| c.0.to_string()).collect::<Vec<_>>())
}

pub fn export(records: &[PatientRecord], pseudo: Option<&Pseudonyms>, now: Instant) -> Files {
    let mut events = header(EVENT_COLUMNS);
    let mut courses = header(COURSE_COLUMNS);
    let mut quality = header(QUALITY_COLUMNS);
    for rec in records {
        let pid = rec.patient.id;
        let who = match pseudo.and_then(|p| p.get(&pid)) {
            Some((sid, days)) => Who {
                id: sid.clone(),
                shift: Duration::days(*days),
                rec,
                free_text: false,
            },
            None if pseudo.is_some() => continue, // every exported patient has a pseudonym
            None => Who {
                id: rec.patient.data.mrn.clone(),
                shift: Duration::zero(),
                rec,
                free_text: true,
            },
        };
        write_events(&who, &mut events, &mut quality);
        write_courses(&who, pseudo.is_some(), now, &mut courses, &mut quality);
    }
    let mut codebook = row(&["file", "column", "type", "unit", "description"].map(String::from));
    for (file, cols) in [
        ("events.csv", EVENT_COLUMNS),
        ("courses.csv", COURSE_COLUMNS),
        ("data_quality.csv", QUALITY_COLUMNS),
    ] {
        for (name, ty, unit, what) in cols {
            codebook.push_str(&row(&[
                file.into(),
                name.to_string(),
                ty.to_string(),
                unit.to_string(),
                what.to_string(),
            ]));
        }
    }
    codebook.push_str(&row(&[
        "all".into(),
        "*".into(),
        "".into(),
        "".into(),
        format!("Missing values are written {NA}; files are UTF-8 CSV with a header row, comma separated, CRLF line ends"),
    ]));
    Files {
        events,
        courses,
        codebook,
        data_quality: quality,
    }
}

fn write_events(who: &Who, out: &mut String, quality: &mut String) {
    let rec = who.rec;
    let versions = Versions::new(&rec.entries);
    let mut version_of: HashMap<i64, usize> = HashMap::new();
    let mut entries: Vec<_> = rec.entries.iter().collect();
    entries.sort_by_key(|e| e.id);
    for e in entries {
        let v = e
            .supersedes
            .and_then(|s| version_of.get(&s).copied())
            .map_or(1, |p| p + 1);
        version_of.insert(e.id, v);
        let (value, unit, details) = match &e.data {
            EntryData::CourseStart { bed } => (
                NA.to_string(),
                NA.to_string(),
                bed.clone().map_or(NA.to_string(), |b| format!("bed {b}")),
            ),
            EntryData::Rate {
                rate,
                confirmed,
                confirm_reason,
            } => (
                rate.to_string(),
                "mg/h".to_string(),
                if *confirmed {
                    format!(
                        "confirmed: {}",
                        who.text(confirm_reason.as_deref().unwrap_or_default())
                    )
                } else {
                    NA.to_string()
                },
            ),
            EntryData::Nrs { score, timepoint } => (
                score.to_string(),
                "NRS".to_string(),
                opt(timepoint.map(|t| t.as_str())),
            ),
            EntryData::SideEffect {
                effect,
                detail,
                severity,
                action,
                rate_at,
            } => (
                effect.clone(),
                NA.to_string(),
                format!(
                    "severity {severity}; action {action}; rate {rate_at} mg/h{}",
                    detail
                        .as_ref()
                        .map_or(String::new(), |d| format!("; {}", who.text(d)))
                ),
            ),
            EntryData::Success {
                timepoint,
                successful,
            } => (
                if *successful { "yes" } else { "no" }.to_string(),
                NA.to_string(),
                timepoint.to_string(),
            ),
            EntryData::CourseEnd { reason } => (reason.to_string(), NA.to_string(), NA.to_string()),
        };
        out.push_str(&row(&[
            opt(e.course_id),
            who.id.clone(),
            e.kind().as_str().to_string(),
            who.time(e.happened_at),
            who.time(e.recorded_at),
            value,
            unit,
            details,
            e.id.to_string(),
            v.to_string(),
            opt(e.supersedes),
            u8::from(versions.is_current(e.id)).to_string(),
            u8::from(e.void.is_some()).to_string(),
            u8::from(e.late).to_string(),
            e.recorded_by.clone(),
        ]));
        if e.late {
            quality.push_str(&row(&[
                opt(e.course_id),
                who.id.clone(),
                "late_entry".into(),
                e.id.to_string(),
                format!(
                    "{} happened {} recorded {}",
                    e.kind().as_str(),
                    who.time(e.happened_at),
                    who.time(e.recorded_at)
                ),
            ]));
        }
        if let Some(void) = &e.void {
            quality.push_str(&row(&[
                opt(e.course_id),
                who.id.clone(),
                "voided_entry".into(),
                e.id.to_string(),
                format!("{}: {}", e.kind().as_str(), who.text(&void.reason)),
            ]));
        }
    }
}

fn write_courses(
    who: &Who,
    pseudonymised: bool,
    now: Instant,
    out: &mut String,
    quality: &mut String,
) {
    let rec = who.rec;
    let p = &rec.patient.data;
    let scores = rec.scores();
    for v in rec.views() {
        let id = v.course.id;
        let start = v.started_at();
        let end = v.ended_at();
        let dose = v.dose(now);
        let outcome = v.outcome(&scores);
        let tp = outcome.as_ref().map(|o| o.timepoints);
        let score = |s: Option<crate::domain::outcome::Score>| opt(s.map(|s| s.score.get()));
        out.push_str(&row(&[
            id.to_string(),
            who.id.clone(),
            if pseudonymised {
                NA.to_string()
            } else {
                p.birth_date.to_string()
            },
            opt(start.map(|s| age_on(p.birth_date, s.date_naive()))),
            p.sex.to_string(),
            opt(p.weight_kg.map(num)),
            opt(p.crps_type.map(|c| c.to_string())),
            opt(start.and_then(|s| rec.disease_years(s)).map(num)),
            v.protocol().name.clone(),
            v.state().as_str().to_string(),
            opt(start.map(|t| who.time(t))),
            opt(end.map(|t| who.time(t))),
            opt(v.end.and_then(|e| match &e.data {
                EntryData::CourseEnd { reason } => Some(reason.to_string()),
                _ => None,
            })),
            opt(start.map(|s| num((end.unwrap_or(now) - s).num_seconds() as f64 / 3600.0))),
            score(tp.and_then(|t| t.t0)),
            score(tp.and_then(|t| t.t1)),
            score(tp.and_then(|t| t.t2)),
            bool01(outcome.as_ref().and_then(|o| o.t1.is_responder())),
            bool01(outcome.as_ref().and_then(|o| o.t2.is_responder())),
            opt(dose.as_ref().map(|d| num(d.total_dose_mg))),
            opt(dose.as_ref().map(|d| d.highest.to_string())),
            opt(dose.as_ref().map(|d| num(d.hours_at_max))),
            opt(dose.as_ref().map(|d| d.step_ups)),
            opt(dose.as_ref().map(|d| d.step_downs)),
            v.side_effects.len().to_string(),
        ]));
        if v.state() == CourseState::Cancelled {
            continue;
        }
        let mut missing = |what: &str, details: String| {
            quality.push_str(&row(&[
                id.to_string(),
                who.id.clone(),
                what.to_string(),
                NA.to_string(),
                details,
            ]));
        };
        if tp.and_then(|t| t.t0).is_none() {
            missing(
                "missing_t0",
                "no score in the T0 window before the start".into(),
            );
        }
        if let Some(end) = end {
            if tp.and_then(|t| t.t1).is_none() {
                missing(
                    "missing_t1",
                    "no score within the T1 window around the end".into(),
                );
            }
            let window = t2_window(v.protocol(), end);
            if tp.and_then(|t| t.t2).is_none() && now > window.to {
                missing(
                    "missing_t2",
                    format!(
                        "no score from {} to {}",
                        who.time(window.from),
                        who.time(window.to)
                    ),
                );
            }
            // Follow-up scores taken in the weeks after the course, but outside the T2 window:
            // the visit was early or late.
            let weeks = |d: i64| end + Duration::days(d);
            for s in scores
                .iter()
                .filter(|s| s.at > weeks(7) && s.at < weeks(90) && !window.contains(s.at))
            {
                {
                    quality.push_str(&row(&[
                        id.to_string(),
                        who.id.clone(),
                        "t2_outside_window".into(),
                        s.id.to_string(),
                        format!(
                            "NRS {} at {}, window {} to {}",
                            s.score,
                            who.time(s.at),
                            who.time(window.from),
                            who.time(window.to)
                        ),
                    ]));
                }
            }
        }
    }
}
