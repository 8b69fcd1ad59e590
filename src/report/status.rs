//! `titrate status`: the patient's latest course at a glance.

use chrono_tz::Tz;
use serde::Serialize;

use super::{date_local, num, rfc3339_local};
use crate::domain::record::PatientRecord;
use crate::domain::time::Instant;

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub mrn: String,
    pub name: String,
    pub course_id: i64,
    pub state: &'static str,
    pub protocol: String,
    /// The stored version (`titrate protocol show ID`) the course runs under.
    pub protocol_version: i64,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub end_reason: Option<String>,
    pub current_rate_mg_h: f64,
    /// The highest rate reached in the course.
    pub max_rate_mg_h: f64,
    pub highest_rate_first_at: Option<String>,
    pub protocol_max_rate_mg_h: f64,
    pub total_dose_mg: f64,
    pub hours_at_max: f64,
    pub step_ups: u32,
    pub step_downs: u32,
    pub side_effects: usize,
    pub nrs_t0: Option<u8>,
    pub nrs_t1: Option<u8>,
    pub nrs_t2: Option<u8>,
    pub t1_responder: Option<bool>,
    pub t2_responder: Option<bool>,
    pub t1_basis: String,
    pub t2_basis: String,
    pub t2_window: Option<DateWindow>,
    pub t2_planned: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DateWindow {
    pub from: String,
    pub to: String,
}

/// None when the patient has no course.
pub fn status(rec: &PatientRecord, now: Instant, zone: Tz) -> Option<Status> {
    let v = rec.latest_course()?;
    let dose = v.dose(now)?;
    let scores = rec.scores();
    let out = v.outcome(&scores)?;
    let end_reason = v.end.and_then(|e| match &e.data {
        crate::domain::entry::EntryData::CourseEnd { reason } => Some(reason.to_string()),
        _ => None,
    });
    let round2 = |x: f64| (x * 100.0).round() / 100.0;
    Some(Status {
        mrn: rec.patient.data.mrn.clone(),
        name: rec.patient.data.name.clone(),
        course_id: v.course.id,
        state: v.state().as_str(),
        protocol: v.protocol().name.clone(),
        protocol_version: v.course.protocol_id,
        started_at: v.started_at().map(|t| rfc3339_local(t, zone)),
        ended_at: v.ended_at().map(|t| rfc3339_local(t, zone)),
        end_reason,
        current_rate_mg_h: if v.ended_at().is_some() {
            0.0
        } else {
            dose.current.mg_h()
        },
        max_rate_mg_h: dose.highest.mg_h(),
        highest_rate_first_at: dose.highest_first_at.map(|t| rfc3339_local(t, zone)),
        protocol_max_rate_mg_h: v.protocol().max_rate_mg_h.mg_h(),
        total_dose_mg: round2(dose.total_dose_mg),
        hours_at_max: round2(dose.hours_at_max),
        step_ups: dose.step_ups,
        step_downs: dose.step_downs,
        side_effects: v.side_effects.len(),
        nrs_t0: out.timepoints.t0.map(|s| s.score.get()),
        nrs_t1: out.timepoints.t1.map(|s| s.score.get()),
        nrs_t2: out.timepoints.t2.map(|s| s.score.get()),
        t1_responder: out.t1.is_responder(),
        t2_responder: out.t2.is_responder(),
        t1_basis: out.t1.explain(),
        t2_basis: out.t2.explain(),
        t2_window: out.t2_window.map(|w| DateWindow {
            from: date_local(w.from, zone),
            to: date_local(w.to, zone),
        }),
        t2_planned: out.t2_planned.map(|t| date_local(t, zone)),
    })
}

pub fn text(s: &Status) -> String {
    let opt = |v: Option<u8>| v.map_or("-".to_string(), |v| v.to_string());
    let yes_no = |v: Option<bool>| match v {
        Some(true) => "responder",
        Some(false) => "non-responder",
        None => "unknown",
    };
    let mut out = String::new();
    out.push_str(&format!("{} (MRN {})\n", s.name, s.mrn));
    out.push_str(&format!(
        "course {}: {} (protocol \"{}\", version {})\n",
        s.course_id, s.state, s.protocol, s.protocol_version
    ));
    out.push_str(&format!(
        "  started   {}\n",
        s.started_at.as_deref().unwrap_or("-")
    ));
    if let Some(e) = &s.ended_at {
        out.push_str(&format!(
            "  ended     {e} ({})\n",
            s.end_reason.as_deref().unwrap_or("-")
        ));
    }
    out.push_str(&format!(
        "  rate      now {} mg/h, highest {} mg/h, protocol maximum {} mg/h\n",
        num(s.current_rate_mg_h),
        num(s.max_rate_mg_h),
        num(s.protocol_max_rate_mg_h)
    ));
    out.push_str(&format!(
        "  dose      {} mg total, {} h at maximum, {} steps up, {} down\n",
        num(s.total_dose_mg),
        num(s.hours_at_max),
        s.step_ups,
        s.step_downs
    ));
    out.push_str(&format!("  side effects {}\n", s.side_effects));
    out.push_str(&format!(
        "  NRS       T0 {}  T1 {}  T2 {}\n",
        opt(s.nrs_t0),
        opt(s.nrs_t1),
        opt(s.nrs_t2)
    ));
    out.push_str(&format!(
        "  T1        {} ({})\n",
        yes_no(s.t1_responder),
        s.t1_basis
    ));
    out.push_str(&format!(
        "  T2        {} ({})\n",
        yes_no(s.t2_responder),
        s.t2_basis
    ));
    if let Some(w) = &s.t2_window {
        out.push_str(&format!(
            "  T2 visit  planned {}, window {} to {}\n",
            s.t2_planned.as_deref().unwrap_or("-"),
            w.from,
            w.to
        ));
    }
    out
}
