//! The research export: long-format CSV files that R, SPSS and pandas read without
//! hand-editing, a codebook, and a data-quality list. Optionally pseudonymised: random study
//! ids instead of names and MRNs, age instead of birth date, every time of a patient shifted
//! by that patient's secret offset (kept in the database, so intervals stay exact and
//! re-exports agree), ids renumbered, staff written as their role.
//!
//! Every cell is built as a [`Cell`] that says what kind of value it holds. A pseudonymised
//! export writes only the kinds that can carry neither typed text nor a real time or id:
//! titrate's own words (`&'static str`), numbers, shifted times, renumbered ids, roles. That
//! is an allow-list: typed text (a bed, a reason, a description) can only enter a cell as
//! [`Cell::Text`], which a pseudonymised export leaves out, so a free-text field added later
//! is left out too unless someone decides otherwise. Nothing in a pseudonymised export is
//! measured against the real time of the export: the same record gives the same bytes on
//! any day.

use std::collections::HashMap;

use chrono::Duration;
use sha2::{Digest, Sha256};

use crate::domain::entry::{CourseId, Entry, EntryData, EntryId, Versions};
use crate::domain::outcome::t2_window;
use crate::domain::protocol::Protocol;
use crate::domain::rate::Rate;
use crate::domain::record::{CourseState, CourseView, PatientRecord, age_on};
use crate::domain::time::{Instant, to_db};
use crate::domain::values::Role;

/// How missing values are written: what R and pandas read as missing by default.
pub const NA: &str = "NA";

/// (study id, day offset, second offset) per patient id, for a pseudonymised export. Every
/// time of the patient is moved by both: the days hide the date, the seconds (1 to 86,399)
/// the time of day, so that neither entries recorded in the same second nor the order of
/// recording across patients can be read from the times.
pub type Pseudonyms = HashMap<i64, (String, i64, i64)>;

/// What a pseudonymised export needs besides the record.
pub struct Pseudonymise {
    pub pseudonyms: Pseudonyms,
    /// Each staff member's role: written instead of their id.
    pub roles: HashMap<String, Role>,
    /// The ward's side-effect kinds: the only words a side-effect value may be written as
    /// (anything else stored there is written NA).
    pub side_effect_kinds: Vec<String>,
}

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

fn num(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// One cell, by what it holds.
enum Cell<'a> {
    Na,
    /// One of titrate's own words or a fixed piece of wording. `&'static str`, so that
    /// nothing typed can be one.
    Code(&'static str),
    /// A side-effect kind: a word of the ward's configured list.
    Kind(&'a str),
    Int(i64),
    Num(f64),
    Rate(Rate),
    Flag(bool),
    /// Shifted by the patient's offset when pseudonymised.
    Time(Instant),
    /// Renumbered when pseudonymised; NA when the export does not hold it.
    Course(CourseId),
    Entry(EntryId),
    /// The MRN, or the study id.
    Patient,
    /// A staff id, or that person's role.
    Staff(&'a str),
    /// Its name, or (typed in config.toml) a digest of its content.
    Protocol(&'a Protocol),
    /// Typed by someone (a bed, a reason, a description): never in a pseudonymised export.
    Text(&'a str),
    /// Identifies the patient (a birth date): never in a pseudonymised export.
    Identifying(String),
    /// Pieces written one after another; a piece left out is skipped.
    Concat(Vec<Cell<'a>>),
    /// Pieces written together or not at all ("bed " and the bed).
    Group(Vec<Cell<'a>>),
}

fn opt<'a, T>(v: Option<T>, f: impl FnOnce(T) -> Cell<'a>) -> Cell<'a> {
    v.map_or(Cell::Na, f)
}

/// The ids an export writes: titrate's own in a plain export. In a pseudonymised one,
/// numbers from 1 given in the order the rows are written (patients by study id, then each
/// patient's courses and entries by time), so that they follow neither the database's ids
/// nor the order in which things were recorded across patients.
#[derive(Default)]
struct Ids {
    renumbered: bool,
    courses: HashMap<CourseId, i64>,
    entries: HashMap<EntryId, i64>,
}

impl Ids {
    fn renumber(patients: &[(&PatientRecord, String, Duration)]) -> Ids {
        let mut ids = Ids {
            renumbered: true,
            ..Ids::default()
        };
        for (rec, _, _) in patients {
            for v in course_order(rec, true) {
                let n = ids.courses.len() as i64 + 1;
                ids.courses.insert(v.course.id, n);
            }
            for e in entry_order(rec, true) {
                let n = ids.entries.len() as i64 + 1;
                ids.entries.insert(e.id, n);
            }
        }
        ids
    }

    fn get(&self, map: &HashMap<i64, i64>, id: i64) -> Option<String> {
        if self.renumbered {
            map.get(&id).map(i64::to_string)
        } else {
            Some(id.to_string())
        }
    }
}

/// A patient's entries in the order they are written: by id in a plain export; by time when
/// pseudonymised (the id only breaks ties within the patient).
fn entry_order(rec: &PatientRecord, pseudonymised: bool) -> Vec<&Entry> {
    let mut entries: Vec<&Entry> = rec.entries.iter().collect();
    if pseudonymised {
        entries.sort_by_key(|e| (e.happened_at, e.recorded_at, e.id));
    } else {
        entries.sort_by_key(|e| e.id);
    }
    entries
}

/// A patient's courses in the order they are written: oldest first; when pseudonymised by
/// the earliest time any of its entries happened.
fn course_order(rec: &PatientRecord, pseudonymised: bool) -> Vec<CourseView<'_>> {
    let mut views = rec.views();
    if pseudonymised {
        views.sort_by_key(|v| {
            let first = rec
                .entries
                .iter()
                .filter(|e| e.course_id == Some(v.course.id))
                .map(|e| e.happened_at)
                .min();
            (first.unwrap_or(v.course.created_at), v.course.id)
        });
    }
    views
}

/// The first 16 hex digits of the SHA-256 of the protocol's snapshot: the digest titrate
/// keeps each protocol version under.
fn protocol_code(p: &Protocol) -> String {
    let d = Sha256::digest(p.snapshot().as_bytes());
    let hex: String = d.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

struct Who<'a> {
    rec: &'a PatientRecord,
    /// MRN or study id.
    id: String,
    shift: Duration,
    ids: &'a Ids,
    pseudo: Option<&'a Pseudonymise>,
}

impl Who<'_> {
    fn pseudonymised(&self) -> bool {
        self.pseudo.is_some()
    }

    /// The cell as written; None when it is missing or left out.
    fn render(&self, cell: &Cell) -> Option<String> {
        let plain = self.pseudo.is_none();
        match cell {
            Cell::Na => None,
            Cell::Code(s) => Some(s.to_string()),
            Cell::Int(v) => Some(v.to_string()),
            Cell::Num(v) => Some(num(*v)),
            Cell::Rate(r) => Some(r.to_string()),
            Cell::Flag(b) => Some(u8::from(*b).to_string()),
            Cell::Time(t) => Some(to_db(*t + self.shift)),
            Cell::Course(id) => self.ids.get(&self.ids.courses, *id),
            Cell::Entry(id) => self.ids.get(&self.ids.entries, *id),
            Cell::Patient => Some(self.id.clone()),
            Cell::Kind(k) => match self.pseudo {
                None => Some(k.to_string()),
                Some(p) => p
                    .side_effect_kinds
                    .iter()
                    .any(|w| w == k)
                    .then(|| k.to_string()),
            },
            Cell::Staff(id) => match self.pseudo {
                None => Some(id.to_string()),
                Some(p) => p.roles.get(*id).map(|r| r.as_str().to_string()),
            },
            Cell::Protocol(p) => Some(if plain {
                p.name.clone()
            } else {
                protocol_code(p)
            }),
            Cell::Text(s) => plain.then(|| s.to_string()),
            Cell::Identifying(s) => plain.then(|| s.clone()),
            Cell::Concat(parts) => {
                let s: String = parts.iter().filter_map(|c| self.render(c)).collect();
                (!s.is_empty()).then_some(s)
            }
            Cell::Group(parts) => parts.iter().map(|c| self.render(c)).collect(),
        }
    }

    fn row(&self, cells: &[Cell]) -> String {
        row(&cells
            .iter()
            .map(|c| {
                self.render(c)
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| NA.to_string())
            })
            .collect::<Vec<_>>())
    }

    /// What a running course is measured to. In a plain export, the time of the export. In
    /// a pseudonymised one, the latest time in the patient's exported record: the real time
    /// of the export, set against shifted times, would give the shift away. (A patient with
    /// a running course is left out of a pseudonymised export; this is a second guard.)
    fn until(&self, now: Instant) -> Option<Instant> {
        if self.pseudonymised() {
            self.rec
                .entries
                .iter()
                .map(|e| e.happened_at.max(e.recorded_at))
                .max()
        } else {
            Some(now)
        }
    }
}

const EVENT_COLUMNS: &[(&str, &str, &str, &str)] = &[
    (
        "course_id",
        "integer",
        "",
        "titrate's course number (pseudonymised: numbered from 1 in each export, by study id then time); NA for a pain score outside any course",
    ),
    (
        "patient",
        "text",
        "",
        "MRN, or the (random) study id in a pseudonymised export",
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
        "rate in mg/h; NRS 0-10; side-effect kind (pseudonymised: NA for a kind not in the ward's list); success yes/no; end reason",
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
        "timepoint tag, severity/action, confirmation and its reason, bed; pseudonymised: coded parts only, never a bed, reason or description",
    ),
    (
        "entry_id",
        "integer",
        "",
        "this version's id (pseudonymised: numbered from 1 in each export, by study id then time)",
    ),
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
        "the entry_id this version corrects, NA for a first version",
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
    (
        "recorded_by",
        "text",
        "",
        "staff id; pseudonymised: that person's role (nurse, physician, admin)",
    ),
];

const COURSE_COLUMNS: &[(&str, &str, &str, &str)] = &[
    (
        "course_id",
        "integer",
        "",
        "titrate's course number (pseudonymised: as in events.csv)",
    ),
    (
        "patient",
        "text",
        "",
        "MRN, or the (random) study id when pseudonymised",
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
        "age at the start of the course; pseudonymised: age at the patient's first course plus the whole years since, so that no birthday falls between two courses",
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
    (
        "protocol",
        "text",
        "",
        "the protocol the course ran under: its name; pseudonymised: sha256: and the first 16 hex digits of its digest",
    ),
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
        "start to end; while running, to the export (pseudonymised: to the patient's latest entry)",
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
        "integral of the rate over the course (while running: up to what duration_h measures to)",
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
        "missing_t0, missing_t1, missing_t2, t2_outside_window, late_entry, voided_entry, left_out_running (pseudonymised only: how many patients with a running course are left out, course and patient NA); pseudonymised, missing_t2 is listed while the window may still be open, as the export's own date is not used",
    ),
    (
        "entry_id",
        "integer",
        "",
        "the entry_id concerned, NA for a missing timepoint",
    ),
    (
        "details",
        "text",
        "",
        "what and when (pseudonymised: never a reason)",
    ),
];

fn header(cols: &[(&str, &str, &str, &str)]) -> String {
    row(&cols.iter().map(|c| c.0.to_string()).collect::<Vec<_>>())
}

/// Whether a pseudonymised export leaves the patient out: while a course runs, its record
/// is being written up to the moment of the export, so its latest times, set against the
/// export's own date, would bound the patient's shift to hours; and a T0 score or earlier
/// course kept without it would still say "a course runs now". The whole patient is left
/// out until the course has ended; nothing in the rule looks at the clock, so the same
/// record gives the same bytes on any day.
pub fn left_out_while_running(rec: &PatientRecord) -> bool {
    rec.views().iter().any(|v| v.state() == CourseState::Active)
}

pub fn export(records: &[PatientRecord], pseudo: Option<&Pseudonymise>, now: Instant) -> Files {
    let running = match pseudo {
        Some(_) => records.iter().filter(|r| left_out_while_running(r)).count(),
        None => 0,
    };
    let mut patients: Vec<(&PatientRecord, String, Duration)> = records
        .iter()
        .filter(|rec| pseudo.is_none() || !left_out_while_running(rec))
        .filter_map(|rec| match pseudo {
            None => Some((rec, rec.patient.data.mrn.clone(), Duration::zero())),
            // Every exported patient has a pseudonym: one without is left out, never
            // written under its MRN.
            Some(p) => p.pseudonyms.get(&rec.patient.id).map(|(sid, days, secs)| {
                (
                    rec,
                    sid.clone(),
                    Duration::days(*days) + Duration::seconds(*secs),
                )
            }),
        })
        .collect();
    let ids = match pseudo {
        Some(_) => {
            patients.sort_by(|a, b| a.1.cmp(&b.1));
            Ids::renumber(&patients)
        }
        None => Ids::default(),
    };
    let mut events = header(EVENT_COLUMNS);
    let mut courses = header(COURSE_COLUMNS);
    let mut quality = header(QUALITY_COLUMNS);
    for (rec, id, shift) in patients {
        let who = Who {
            rec,
            id,
            shift,
            ids: &ids,
            pseudo,
        };
        write_events(&who, &mut events, &mut quality);
        write_courses(&who, now, &mut courses, &mut quality);
    }
    if running > 0 {
        quality.push_str(&row(&[
            NA.to_string(),
            NA.to_string(),
            "left_out_running".to_string(),
            NA.to_string(),
            format!(
                "{running} patient(s) with a running course left out, with all their courses and entries, until the course has ended"
            ),
        ]));
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

/// (value, unit, details) of an entry.
fn describe(data: &EntryData) -> [Cell<'_>; 3] {
    use Cell::{Code, Concat, Group, Na, Text};
    match data {
        EntryData::CourseStart { bed } => [
            Na,
            Na,
            opt(bed.as_deref(), |b| Group(vec![Code("bed "), Text(b)])),
        ],
        EntryData::Rate {
            rate,
            confirmed,
            confirm_reason,
        } => [
            Cell::Rate(*rate),
            Code("mg/h"),
            if *confirmed {
                Concat(vec![
                    Code("confirmed"),
                    opt(confirm_reason.as_deref(), |r| {
                        Group(vec![Code(": "), Text(r)])
                    }),
                ])
            } else {
                Na
            },
        ],
        EntryData::Nrs { score, timepoint } => [
            Cell::Int(i64::from(score.get())),
            Code("NRS"),
            opt(*timepoint, |t| Code(t.as_str())),
        ],
        EntryData::SideEffect {
            effect,
            detail,
            severity,
            action,
            rate_at,
        } => [
            Cell::Kind(effect),
            Na,
            Concat(vec![
                Code("severity "),
                Code(severity.as_str()),
                Code("; action "),
                Code(action.as_str()),
                Code("; rate "),
                Cell::Rate(*rate_at),
                Code(" mg/h"),
                opt(detail.as_deref(), |d| Group(vec![Code("; "), Text(d)])),
            ]),
        ],
        EntryData::Success {
            timepoint,
            successful,
        } => [
            Code(if *successful { "yes" } else { "no" }),
            Na,
            Code(timepoint.as_str()),
        ],
        EntryData::CourseEnd { reason } => [Code(reason.as_str()), Na, Na],
    }
}

/// 1 for the first version of an entry, 2 for its first amendment, ...: counted along the
/// chain of corrections, so that neither the ids nor the order rows are written in matter.
fn version_numbers(entries: &[Entry]) -> HashMap<EntryId, i64> {
    let supersedes: HashMap<EntryId, Option<EntryId>> =
        entries.iter().map(|e| (e.id, e.supersedes)).collect();
    entries
        .iter()
        .map(|e| {
            let mut v = 1;
            let mut cur = e.supersedes;
            // A chain is never longer than the record; the bound guards against a cycle.
            while let Some(prev) = cur {
                match supersedes.get(&prev) {
                    Some(next) if v <= entries.len() as i64 => {
                        v += 1;
                        cur = *next;
                    }
                    _ => break,
                }
            }
            (e.id, v)
        })
        .collect()
}

fn write_events(who: &Who, out: &mut String, quality: &mut String) {
    use Cell::{Code, Concat, Entry, Flag, Group, Patient, Text, Time};
    let rec = who.rec;
    let versions = Versions::new(&rec.entries);
    let version_of = version_numbers(&rec.entries);
    for e in entry_order(rec, who.pseudonymised()) {
        let course = || opt(e.course_id, Cell::Course);
        let kind = e.kind().as_str();
        let [value, unit, details] = describe(&e.data);
        out.push_str(&who.row(&[
            course(),
            Patient,
            Code(kind),
            Time(e.happened_at),
            Time(e.recorded_at),
            value,
            unit,
            details,
            Entry(e.id),
            opt(version_of.get(&e.id), |v| Cell::Int(*v)),
            opt(e.supersedes, Entry),
            Flag(versions.is_current(e.id)),
            Flag(e.void.is_some()),
            Flag(e.late),
            Cell::Staff(&e.recorded_by),
        ]));
        if e.late {
            quality.push_str(&who.row(&[
                course(),
                Patient,
                Code("late_entry"),
                Entry(e.id),
                Concat(vec![
                    Code(kind),
                    Code(" happened "),
                    Time(e.happened_at),
                    Code(" recorded "),
                    Time(e.recorded_at),
                ]),
            ]));
        }
        if let Some(void) = &e.void {
            quality.push_str(&who.row(&[
                course(),
                Patient,
                Code("voided_entry"),
                Entry(e.id),
                Concat(vec![
                    Code(kind),
                    Group(vec![Code(": "), Text(&void.reason)]),
                ]),
            ]));
        }
    }
}

fn write_courses(who: &Who, now: Instant, out: &mut String, quality: &mut String) {
    use Cell::{Code, Concat, Course, Entry, Flag, Int, Na, Num, Patient, Time};
    let rec = who.rec;
    let p = &rec.patient.data;
    let scores = rec.scores();
    let until = who.until(now);
    let views = course_order(rec, who.pseudonymised());
    let first_start = views.iter().filter_map(|v| v.started_at()).min();
    for v in &views {
        let id = v.course.id;
        let start = v.started_at();
        let end = v.ended_at();
        let dose = match (end, until) {
            (Some(_), _) => v.dose(now),
            (None, Some(until)) => v.dose(until),
            (None, None) => None,
        };
        let outcome = v.outcome(&scores);
        let tp = outcome.as_ref().map(|o| o.timepoints);
        let score =
            |s: Option<crate::domain::outcome::Score>| opt(s, |s| Int(i64::from(s.score.get())));
        let age = start.map(|s| {
            if who.pseudonymised() {
                // A real age at every course would put the birthday between two courses
                // whenever it changes; the first course's age and the (shift-free)
                // interval since tell no more than the shifted dates do.
                let first = first_start.unwrap_or(s);
                let since = (s - first).num_days() as f64 / 365.25;
                i64::from(age_on(p.birth_date, first.date_naive())) + since.floor() as i64
            } else {
                i64::from(age_on(p.birth_date, s.date_naive()))
            }
        });
        let duration = match (start, end.or(until)) {
            (Some(s), Some(e)) => Num((e - s).num_seconds() as f64 / 3600.0),
            _ => Na,
        };
        out.push_str(&who.row(&[
            Course(id),
            Patient,
            Cell::Identifying(p.birth_date.to_string()),
            opt(age, Int),
            Code(p.sex.as_str()),
            opt(p.weight_kg, Num),
            opt(p.crps_type, |c| Code(c.as_str())),
            opt(
                start.and_then(|s| {
                    if who.pseudonymised() {
                        // As for the age: a count of real calendar days at every course,
                        // set against the exact shifted interval between two courses,
                        // would tell on which side of midnight they started, and with it
                        // the offset below a day. The first course's value and the exact
                        // interval since tell no more than the shifted times do.
                        let first = first_start.unwrap_or(s);
                        let since = (s - first).num_seconds() as f64 / 86_400.0 / 365.25;
                        rec.disease_years(first).map(|y| y + since)
                    } else {
                        rec.disease_years(s)
                    }
                }),
                Num,
            ),
            Cell::Protocol(v.protocol()),
            Code(v.state().as_str()),
            opt(start, Time),
            opt(end, Time),
            opt(
                v.end.and_then(|e| match &e.data {
                    EntryData::CourseEnd { reason } => Some(*reason),
                    _ => None,
                }),
                |r| Code(r.as_str()),
            ),
            duration,
            score(tp.and_then(|t| t.t0)),
            score(tp.and_then(|t| t.t1)),
            score(tp.and_then(|t| t.t2)),
            opt(outcome.as_ref().and_then(|o| o.t1.is_responder()), Flag),
            opt(outcome.as_ref().and_then(|o| o.t2.is_responder()), Flag),
            opt(dose.as_ref(), |d| Num(d.total_dose_mg)),
            opt(dose.as_ref(), |d| Cell::Rate(d.highest)),
            opt(dose.as_ref(), |d| Num(d.hours_at_max)),
            opt(dose.as_ref(), |d| Int(i64::from(d.step_ups))),
            opt(dose.as_ref(), |d| Int(i64::from(d.step_downs))),
            Int(v.side_effects.len() as i64),
        ]));
        if v.state() == CourseState::Cancelled {
            continue;
        }
        let missing = |what: &'static str, details: Cell, quality: &mut String| {
            quality.push_str(&who.row(&[Course(id), Patient, Code(what), Na, details]));
        };
        if tp.and_then(|t| t.t0).is_none() {
            missing(
                "missing_t0",
                Code("no score in the T0 window before the start"),
                quality,
            );
        }
        if let Some(end) = end {
            if tp.and_then(|t| t.t1).is_none() {
                missing(
                    "missing_t1",
                    Code("no score within the T1 window around the end"),
                    quality,
                );
            }
            let window = t2_window(v.protocol(), end);
            // Pseudonymised, whether the window has closed is not asked: the answer would
            // set the real date of the export against the shifted window.
            let closed = who.pseudonymised() || now > window.to;
            if tp.and_then(|t| t.t2).is_none() && closed {
                missing(
                    "missing_t2",
                    Concat(vec![
                        Code("no score from "),
                        Time(window.from),
                        Code(" to "),
                        Time(window.to),
                    ]),
                    quality,
                );
            }
            // Follow-up scores taken in the weeks after the course, but outside the T2 window:
            // the visit was early or late.
            let weeks = |d: i64| end + Duration::days(d);
            for s in scores
                .iter()
                .filter(|s| s.at > weeks(7) && s.at < weeks(90) && !window.contains(s.at))
            {
                quality.push_str(&who.row(&[
                    Course(id),
                    Patient,
                    Code("t2_outside_window"),
                    Entry(s.id),
                    Concat(vec![
                        Code("NRS "),
                        Int(i64::from(s.score.get())),
                        Code(" at "),
                        Time(s.at),
                        Code(", window "),
                        Time(window.from),
                        Code(" to "),
                        Time(window.to),
                    ]),
                ]));
            }
        }
    }
}
