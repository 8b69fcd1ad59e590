//! The discharge summary of one course: its content, built once from the record, then
//! written as Markdown (for the electronic record) or PDF (to file and send).

use std::collections::BTreeMap;

use chrono_tz::Tz;

use super::{date_local, num};
use crate::domain::entry::{EntryData, EntryKind};
use crate::domain::record::{CourseState, CourseView, PatientRecord, age_on};
use crate::domain::rules::duration_text;
use crate::domain::time::{Instant, local_text};
use crate::domain::values::Severity;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SummaryError {
    #[error("the patient has no course to summarise")]
    NoCourse,
    #[error("course {0} is not a course of this patient")]
    NotThisPatient(i64),
    #[error("course {0} was entered in error (its start is voided); there is nothing to summarise")]
    Cancelled(i64),
    #[error(
        "course {0} is still running; a summary of a running course is only made as a draft (--draft)"
    )]
    Running(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SideEffectRow {
    pub kind: String,
    pub severity: String,
    pub first: String,
    pub last: String,
    pub count: usize,
    pub rate: String,
    pub action: String,
}

/// The chart's data: hours since the start on x.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chart {
    /// Step line corners (hours, mg/h).
    pub rate: Vec<(f64, f64)>,
    pub max_rate: f64,
    pub span_hours: f64,
    /// Pain scores around the course, in time order (hours, NRS): drawn as one line.
    pub nrs: Vec<(f64, f64)>,
    /// The timepoint scores among them, labelled on the chart: (hours, NRS, "T0").
    pub timepoints: Vec<(f64, f64, String)>,
    /// T2, weeks after the end, is drawn in a follow-up slot right of the course rather
    /// than on a time axis that would squeeze the course into a corner.
    pub follow_up: Option<FollowUpPoint>,
    /// Side effects at their time, on the rate line (hours, mg/h running then).
    pub side_effects: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FollowUpPoint {
    pub score: f64,
    /// Whole days from the end of the infusion to the score.
    pub days_after_end: i64,
}

/// The letter's own words, stored apart from the record (`ward::letters`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    /// "Name (ID)".
    pub responsible: String,
    pub advice: String,
    /// "written by Name (ID) on 2026-03-08 10:00".
    pub written: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub hospital: String,
    pub ward: String,
    pub mrn: String,
    /// Name and birth date as every page's footer prints them, beside the MRN.
    pub name: String,
    pub birth_date: String,
    pub course_id: i64,
    pub draft: bool,
    pub patient: Vec<(String, String)>,
    pub treatment: Vec<(String, String)>,
    pub pain: Vec<(String, String)>,
    pub side_effects: Vec<SideEffectRow>,
    pub follow_up: Vec<(String, String)>,
    pub corrections: Vec<String>,
    pub chart: Chart,
    pub generated_by: String,
    pub generated_at: String,
    /// "Times are local time in Europe/Amsterdam."
    pub zone_note: String,
    /// The responsible physician and the advice, when a physician wrote them.
    pub letter: Option<Letter>,
}

impl Summary {
    /// The summary with the letter's stored words.
    pub fn with_letter(self, letter: Option<Letter>) -> Summary {
        Summary { letter, ..self }
    }

    /// "Responsible physician: Name (ID)", or that none is recorded.
    pub fn responsible_line(&self) -> String {
        crate::strings::responsible_line(self.letter.as_ref().map(|l| l.responsible.as_str()))
    }
}

fn kv(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

pub struct Request<'a> {
    pub course: Option<i64>,
    pub draft: bool,
    pub hospital: &'a str,
    pub ward: &'a str,
    pub zone: Tz,
    pub generated_by: &'a str,
    pub now: Instant,
}

/// The course asked for, or the patient's latest.
pub fn pick_course<'r>(
    rec: &'r PatientRecord,
    course: Option<i64>,
) -> Result<CourseView<'r>, SummaryError> {
    match course {
        Some(id) => rec.course(id).ok_or(SummaryError::NotThisPatient(id)),
        None => rec.latest_course().ok_or(SummaryError::NoCourse),
    }
}

pub fn build(rec: &PatientRecord, req: &Request) -> Result<Summary, SummaryError> {
    let v = pick_course(rec, req.course)?;
    let id = v.course.id;
    match v.state() {
        CourseState::Cancelled => return Err(SummaryError::Cancelled(id)),
        CourseState::Active if !req.draft => return Err(SummaryError::Running(id)),
        _ => {}
    }
    let zone = req.zone;
    let t = |i: Instant| local_text(i, zone);
    let p = &rec.patient.data;
    let proto = v.protocol();
    let start = v.started_at().unwrap_or(req.now);
    let end = v.ended_at();
    let until = end.unwrap_or(req.now);
    let dose = v
        .dose(req.now)
        .unwrap_or_else(|| crate::domain::dose::summarise(&[], start, start, proto.max_rate_mg_h));
    let scores = rec.scores();
    let outcome = v.outcome(&scores);

    let mut patient = vec![
        kv("Name", p.name.clone()),
        kv("MRN", p.mrn.clone()),
        kv(
            "Birth date",
            format!(
                "{} (age {} at the start)",
                p.birth_date,
                age_on(p.birth_date, start.with_timezone(&zone).date_naive())
            ),
        ),
        kv("Sex", p.sex.as_str()),
        kv(
            "Weight",
            p.weight_kg
                .map_or("not recorded".into(), |w| format!("{} kg", num(w))),
        ),
        kv(
            "CRPS type",
            p.crps_type
                .map_or("not recorded".into(), |c| format!("type {c}")),
        ),
        kv(
            "Affected limb",
            p.limb.clone().unwrap_or_else(|| "not recorded".into()),
        ),
    ];
    patient.push(kv(
        "Disease duration",
        rec.disease_years(start)
            .map_or("onset not recorded".into(), |y| {
                format!(
                    "{} years at the start (onset {})",
                    num((y * 10.0).round() / 10.0),
                    p.crps_onset.map(|d| d.to_string()).unwrap_or_default()
                )
            }),
    ));

    let end_reason = v.end.and_then(|e| match &e.data {
        EntryData::CourseEnd { reason } => Some(reason.to_string()),
        _ => None,
    });
    let mut treatment = vec![
        kv("Drug", format!("{} (ATC {})", proto.drug, proto.atc_code)),
        kv("Route", proto.route.clone()),
        kv("Start", t(start)),
        kv("End", end.map_or("still running".into(), t)),
        kv("Duration", {
            let d = until - start;
            format!(
                "{} d {} h{}",
                d.num_days(),
                d.num_hours() % 24,
                if end.is_none() { " so far" } else { "" }
            )
        }),
        kv(
            "Reason for ending",
            end_reason.unwrap_or_else(|| "-".into()),
        ),
        kv(
            "Starting rate",
            dose.starting_rate
                .map_or("-".into(), |r| format!("{r} mg/h")),
        ),
        kv(
            "Highest rate",
            match dose.highest_first_at {
                Some(at) => format!("{} mg/h, first reached {}", dose.highest, t(at)),
                None => "-".into(),
            },
        ),
        kv("Time at maximum", {
            let secs = (dose.hours_at_max * 3600.0).round() as i64;
            // "0 h 00 min (14 mg/h)" reads as a measured time; the maximum was simply not used.
            if secs <= 0 {
                format!("never reached ({} mg/h)", proto.max_rate_mg_h)
            } else {
                format!(
                    "{} ({} mg/h)",
                    duration_text(chrono::Duration::seconds(secs)),
                    proto.max_rate_mg_h
                )
            }
        }),
        kv(
            "Steps",
            format!("{} up, {} down", dose.step_ups, dose.step_downs),
        ),
        kv("Total dose", format!("{} mg", num(dose.total_dose_mg))),
    ];
    treatment.push(kv(
        "Protocol",
        format!(
            "\"{}\" (version {}), maximum {} mg/h, increment {} mg/h",
            proto.name,
            &crate::store::audit::sha256_hex(proto.snapshot().as_bytes())[..12],
            proto.max_rate_mg_h,
            proto.increment_mg_h
        ),
    ));

    let mut pain = Vec::new();
    let mut follow_up = Vec::new();
    if let Some(o) = &outcome {
        let show = |s: Option<crate::domain::outcome::Score>| {
            s.map_or("not recorded".to_string(), |s| {
                format!("{} ({})", s.score, t(s.at))
            })
        };
        pain.push(kv("NRS T0 (baseline)", show(o.timepoints.t0)));
        pain.push(kv("NRS T1 (end of infusion)", show(o.timepoints.t1)));
        if let (Some(a), Some(b)) = (o.timepoints.t0, o.timepoints.t1) {
            pain.push(kv(
                "Change T0 to T1",
                signed_change(i16::from(b.score.get()) - i16::from(a.score.get())),
            ));
        }
        if o.timepoints.t2.is_some() {
            pain.push(kv("NRS T2 (follow-up)", show(o.timepoints.t2)));
        }
        pain.push(kv("Responder at T1", o.t1.explain()));
        // The clinician's own success reports, beside the computed responder status: a
        // referring physician reads both, and a reported success appeared nowhere before.
        for e in &v.successes {
            if let EntryData::Success {
                timepoint,
                successful,
            } = &e.data
            {
                pain.push(kv(
                    &format!(
                        "Success reported at {}",
                        timepoint.to_string().to_uppercase()
                    ),
                    format!(
                        "{}, reported by {} on {}",
                        if *successful { "yes" } else { "no" },
                        e.recorded_by,
                        t(e.happened_at)
                    ),
                ));
            }
        }
        if v.successes.is_empty() {
            pain.push(kv("Success reported", "no report at T1 or T2"));
        }
        match (end, o.t2_window) {
            // Before the visit window has closed, "unknown" would read as a missing result.
            (Some(_), Some(w)) if o.t2.is_responder().is_none() && req.now <= w.to => {
                pain.push(kv(
                    "Responder at T2",
                    format!(
                        "not yet known: follow-up visit {} to {}",
                        date_local(w.from, zone),
                        date_local(w.to, zone)
                    ),
                ))
            }
            (Some(_), _) => pain.push(kv("Responder at T2", o.t2.explain())),
            (None, _) => {}
        }
        match (o.timepoints.t2, o.t2_window, o.t2_planned) {
            (Some(s), _, _) => {
                follow_up.push(kv("T2 result", format!("NRS {} on {}", s.score, t(s.at))))
            }
            (None, Some(w), Some(planned)) => {
                follow_up.push(kv("T2 visit planned", date_local(planned, zone)));
                follow_up.push(kv(
                    "T2 window",
                    format!("{} to {}", date_local(w.from, zone), date_local(w.to, zone)),
                ));
            }
            _ => follow_up.push(kv("T2 visit", "planned once the infusion has ended")),
        }
    }

    // Side effects grouped by kind and severity, in order of first occurrence.
    let points = v.rate_points();
    let mut groups: BTreeMap<(Instant, String, String), SideEffectRow> = BTreeMap::new();
    let mut first_of: BTreeMap<(String, String), Instant> = BTreeMap::new();
    for e in &v.side_effects {
        if let EntryData::SideEffect {
            effect,
            detail,
            severity,
            action,
            rate_at,
        } = &e.data
        {
            let kind = match detail {
                Some(d) => format!("{effect} ({d})"),
                None => effect.clone(),
            };
            let sev = severity_word(*severity).to_string();
            let first = *first_of
                .entry((kind.clone(), sev.clone()))
                .or_insert(e.happened_at);
            let row = groups
                .entry((first, kind.clone(), sev.clone()))
                .or_insert_with(|| SideEffectRow {
                    kind: kind.clone(),
                    severity: sev.clone(),
                    first: t(e.happened_at),
                    last: t(e.happened_at),
                    count: 0,
                    rate: format!("{rate_at} mg/h"),
                    action: String::new(),
                });
            row.count += 1;
            row.last = t(e.happened_at);
            let a = action.as_str();
            if !row.action.split(", ").any(|x| x == a) {
                if !row.action.is_empty() {
                    row.action.push_str(", ");
                }
                row.action.push_str(a);
            }
        }
    }

    // Amended and voided entries of this course, and of the scores its timepoints read.
    let window_from = start - chrono::Duration::days(i64::from(proto.t0_window_days));
    let window_to = until + chrono::Duration::days(i64::from(proto.t2_to_day));
    let mut corrections = Vec::new();
    let mut sorted: Vec<_> = rec.entries.iter().collect();
    sorted.sort_by_key(|e| e.id);
    for e in sorted {
        let ours = e.course_id == Some(id)
            || (e.kind() == EntryKind::Nrs
                && e.happened_at >= window_from
                && e.happened_at <= window_to);
        if !ours {
            continue;
        }
        if let Some(prev) = e.supersedes {
            let was = rec
                .entries
                .iter()
                .find(|x| x.id == prev)
                .map_or(String::new(), |x| {
                    format!(" ({} at {})", x.data.describe(), t(x.happened_at))
                });
            corrections.push(format!(
                "Entry {prev}{was} was amended by {} on {}, now entry {} ({} at {}): {}",
                e.recorded_by,
                t(e.recorded_at),
                e.id,
                e.data.describe(),
                t(e.happened_at),
                e.amend_reason.clone().unwrap_or_default()
            ));
        }
        if let Some(void) = &e.void {
            corrections.push(format!(
                "Entry {} ({}) was voided by {} on {}: {}",
                e.id,
                e.data.describe(),
                void.voided_by,
                t(void.voided_at),
                void.reason
            ));
        }
    }

    // Corrections of the patient's details: every one, whichever course (the details are
    // the patient's, and this summary prints them as they now stand).
    for (old, new) in rec.corrections() {
        corrections.push(format!(
            "Patient details were corrected by {} on {} (version {}): {}: {}",
            new.recorded_by,
            t(new.recorded_at),
            new.version,
            crate::domain::patient::differences_text(&old.data, &new.data),
            new.reason.clone().unwrap_or_default()
        ));
    }

    let line = crate::domain::dose::step_line(&points, start, until, end.is_some());
    let hours = |i: Instant| (i - start).num_seconds() as f64 / 3600.0;
    let span = hours(until).max(f64::from(proto.duration_days) * 24.0);
    // The timepoint scores are always on the chart, even a T0 taken days before the start.
    let tps = outcome.as_ref().map(|o| o.timepoints);
    let is_tp = |sc: &crate::domain::outcome::Score| {
        tps.is_some_and(|t| [t.t0, t.t1].iter().flatten().any(|x| x.id == sc.id))
    };
    let t2_id = tps.and_then(|t| t.t2).map(|t| t.id);
    let mut near: Vec<_> = scores
        .iter()
        .filter(|s| Some(s.id) != t2_id)
        .filter(|s| {
            is_tp(s)
                || (s.at >= start - chrono::Duration::days(1)
                    && s.at <= until + chrono::Duration::days(1))
        })
        .collect();
    near.sort_by_key(|s| (s.at, s.id));
    let nrs = near
        .iter()
        .map(|s| (hours(s.at), f64::from(s.score.get())))
        .collect();
    let mut timepoints = Vec::new();
    if let Some(t) = tps {
        for (label, sc) in [("T0", t.t0), ("T1", t.t1)] {
            if let Some(sc) = sc {
                timepoints.push((hours(sc.at), f64::from(sc.score.get()), label.to_string()));
            }
        }
    }
    let t2_point = match (tps.and_then(|t| t.t2), end) {
        (Some(t2), Some(end)) => Some(FollowUpPoint {
            score: f64::from(t2.score.get()),
            days_after_end: (t2.at - end).num_days(),
        }),
        _ => None,
    };
    let side_effect_marks = v
        .side_effects
        .iter()
        .filter_map(|e| match &e.data {
            EntryData::SideEffect { rate_at, .. } => Some((hours(e.happened_at), rate_at.mg_h())),
            _ => None,
        })
        .collect();

    Ok(Summary {
        hospital: req.hospital.to_string(),
        ward: req.ward.to_string(),
        mrn: p.mrn.clone(),
        name: p.name.clone(),
        birth_date: p.birth_date.to_string(),
        course_id: id,
        draft: v.state() == CourseState::Active,
        patient,
        treatment,
        pain,
        side_effects: groups.into_values().collect(),
        follow_up,
        corrections,
        chart: Chart {
            rate: line,
            max_rate: proto.max_rate_mg_h.mg_h(),
            span_hours: span,
            nrs,
            timepoints,
            follow_up: t2_point,
            side_effects: side_effect_marks,
        },
        generated_by: req.generated_by.to_string(),
        generated_at: t(req.now),
        zone_note: format!("Times are local time in {}.", zone.name()),
        letter: None,
    })
}

/// A difference in words: "no change" rather than "+0", which reads as a figure left out.
pub fn signed_change(d: i16) -> String {
    if d == 0 {
        "no change".into()
    } else {
        format!("{d:+}")
    }
}

fn severity_word(s: Severity) -> &'static str {
    s.as_str()
}

/// Table cells cannot hold a pipe or a line break.
fn cell(s: &str) -> String {
    s.replace('|', "/").replace(['\n', '\r'], " ")
}

pub fn markdown(s: &Summary) -> String {
    let mut out = String::new();
    if s.draft {
        out.push_str(
            "**DRAFT: the course is still running; figures are up to the time of generation.**\n\n",
        );
    }
    out.push_str(&format!(
        "# Discharge summary: S-ketamine infusion\n\n{} · {}\n\n{}\n\n",
        cell(&s.hospital),
        cell(&s.ward),
        s.zone_note
    ));
    let table = |out: &mut String, title: &str, rows: &[(String, String)]| {
        out.push_str(&format!("## {title}\n\n| Item | Value |\n|---|---|\n"));
        for (k, v) in rows {
            out.push_str(&format!("| {} | {} |\n", cell(k), cell(v)));
        }
        out.push('\n');
    };
    out.push_str(&format!("{}\n\n", cell(&s.responsible_line())));
    table(&mut out, "Patient", &s.patient);
    out.push_str(&format!("## {}\n\n", crate::strings::ADVICE_HEADING));
    match &s.letter {
        Some(l) => out.push_str(&format!(
            "{}\n\n({})\n\n",
            cell(&l.advice),
            cell(&l.written)
        )),
        None => out.push_str(&format!("{}\n\n", crate::strings::NO_ADVICE)),
    }
    table(&mut out, "Treatment", &s.treatment);
    table(&mut out, "Pain", &s.pain);
    out.push_str("## Side effects\n\n");
    if s.side_effects.is_empty() {
        out.push_str("None recorded.\n\n");
    } else {
        out.push_str("| Side effect | Severity | First | Last | Times | Rate at first | Action |\n|---|---|---|---|---|---|---|\n");
        for r in &s.side_effects {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                cell(&r.kind),
                r.severity,
                r.first,
                r.last,
                r.count,
                r.rate,
                cell(&r.action)
            ));
        }
        out.push('\n');
    }
    table(&mut out, "Follow-up", &s.follow_up);
    out.push_str("## Corrections in the record\n\n");
    if s.corrections.is_empty() {
        out.push_str("No entry of this course was amended or voided.\n\n");
    } else {
        for c in &s.corrections {
            out.push_str(&format!("- {}\n", cell(c)));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "Generated by {} on {} with titrate.\n",
        cell(&s.generated_by),
        s.generated_at
    ));
    out
}
