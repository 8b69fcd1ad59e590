//! What staff do, as operations: each reads the record, applies the domain rules and writes
//! inside one store transaction. The command line and the TUI both call these; neither holds
//! a rule of its own.

pub mod access;
pub mod entries;
mod error;
pub mod letters;
pub mod patients;
pub mod picture;
pub mod protocols;
pub mod research;

pub use error::WardError;

use crate::domain::entry::{CourseId, EntryId, EntryKind, PatientId};
use crate::domain::marks::{CourseMarks, Mark, OutcomeRecord};
use crate::domain::outcome::Score;
use crate::domain::record::PatientRecord;
use crate::store::{Reader, ScoreWindow};

/// What a successful write reports back.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    pub id: EntryId,
    /// Printed with the confirmation, e.g. a starting rate that differs from the protocol.
    pub warnings: Vec<String>,
    pub summary: String,
}

pub fn load_record(r: &dyn Reader, mrn: &str) -> Result<PatientRecord, WardError> {
    load_record_of(r, patient_by_mrn(r, mrn)?)
}

/// The patient whose current MRN this is. A former MRN is refused with what it became, so
/// that an old label leads to the right record knowingly, never silently.
pub fn patient_by_mrn(
    r: &dyn Reader,
    mrn: &str,
) -> Result<crate::domain::record::Patient, WardError> {
    if let Some(p) = r.patient_by_mrn(mrn)? {
        return Ok(p);
    }
    let unknown = || WardError::UnknownMrn(mrn.to_string());
    let owner = r.mrn_owner(mrn)?.ok_or_else(unknown)?;
    let versions = r.patient_versions(owner)?;
    let (Some(change), Some(now)) = (
        crate::domain::patient::mrn_change(&versions, mrn),
        versions.last(),
    ) else {
        return Err(unknown());
    };
    Err(WardError::MrnChanged {
        old: mrn.to_string(),
        new: now.data.mrn.clone(),
        on: change.recorded_at.format("%Y-%m-%d").to_string(),
        why: format!(
            "by {}: {}",
            change.recorded_by,
            change.reason.as_deref().unwrap_or_default()
        ),
    })
}

/// What a new entry is checked against: the starts and ends of every course of the patient
/// (to know which course is the latest and whether it runs) and everything of the latest
/// course. Not the patient's whole history, which a write would otherwise read while it
/// holds the lock.
pub fn load_for_entry(r: &dyn Reader, mrn: &str) -> Result<PatientRecord, WardError> {
    let rec = load_course_bounds(r, mrn)?;
    with_latest_course(r, rec)
}

/// The patient with only the starts and ends of their courses: enough to know the latest
/// course, whether it runs, and its protocol (a pain score needs no more).
pub fn load_course_bounds(r: &dyn Reader, mrn: &str) -> Result<PatientRecord, WardError> {
    let patient = patient_by_mrn(r, mrn)?;
    Ok(PatientRecord {
        courses: r.courses_of(patient.id)?,
        entries: r.course_bounds_of(patient.id)?,
        // An entry is checked against the details as they now stand; the history of their
        // corrections is for history and letters, which read the full record.
        versions: Vec::new(),
        patient,
    })
}

fn with_latest_course(r: &dyn Reader, bounds: PatientRecord) -> Result<PatientRecord, WardError> {
    let latest = bounds.latest_course().map(|v| v.course.id);
    let mut rec = bounds;
    if let Some(course) = latest {
        let inner = r.entries_of_course(course)?;
        rec.entries.extend(
            inner
                .into_iter()
                .filter(|e| !matches!(e.kind(), EntryKind::CourseStart | EntryKind::CourseEnd)),
        );
    }
    Ok(rec)
}

/// Every patient's record, in full.
pub fn load_all(r: &dyn Reader) -> Result<Vec<PatientRecord>, WardError> {
    r.patients()?
        .into_iter()
        .map(|p| load_record_of(r, p))
        .collect()
}

/// Every patient with what their outcomes are computed from, and no more: each course's
/// protocol, effective start, end and success reports, and the effective pain scores inside
/// each course's T0/T1/T2 windows. Read from two covering indexes: the hourly rates and the
/// scores between the windows are never touched. `OutcomeRecord::from(&PatientRecord)`
/// gives the same figures from a full record; a test holds the two together.
pub fn load_outcomes(r: &dyn Reader) -> Result<Vec<OutcomeRecord>, WardError> {
    use std::collections::HashMap;
    let retired = r.retired_entries()?;
    let mut marks: HashMap<CourseId, Vec<Mark>> = HashMap::new();
    for m in r.outcome_marks()? {
        if !retired.contains(&m.id) {
            marks.entry(m.course_id).or_default().push(m);
        }
    }
    let mut courses: HashMap<PatientId, Vec<CourseMarks>> = HashMap::new();
    for c in r.all_courses()? {
        let m = marks.remove(&c.id).unwrap_or_default();
        courses
            .entry(c.patient_id)
            .or_default()
            .push(CourseMarks::from_marks(c.id, c.protocol, &m));
    }
    let mut records: Vec<OutcomeRecord> = r
        .patients()?
        .into_iter()
        .map(|patient| OutcomeRecord {
            courses: courses.remove(&patient.id).unwrap_or_default(),
            scores: Vec::new(),
            patient,
        })
        .collect();
    let windows: Vec<ScoreWindow> = records
        .iter()
        .flat_map(|rec| {
            rec.courses.iter().flat_map(|c| {
                c.score_windows().into_iter().map(|w| ScoreWindow {
                    patient: rec.patient.id,
                    from: w.from,
                    to: w.to,
                })
            })
        })
        .collect();
    let mut scores: HashMap<PatientId, Vec<Score>> = HashMap::new();
    for (patient, s) in r.scores_in(&windows)? {
        if !retired.contains(&s.id) {
            scores.entry(patient).or_default().push(s);
        }
    }
    for rec in &mut records {
        if let Some(mut s) = scores.remove(&rec.patient.id) {
            s.sort_by_key(|s| (s.at, s.id));
            s.dedup_by_key(|s| s.id);
            rec.scores = s;
        }
    }
    Ok(records)
}

/// `load_record_of` for several patients, their entries in one read.
pub fn load_records_of(
    r: &dyn Reader,
    patients: Vec<crate::domain::record::Patient>,
) -> Result<Vec<PatientRecord>, WardError> {
    let ids: Vec<PatientId> = patients.iter().map(|p| p.id).collect();
    let mut entries = r.entries_of_patients(&ids)?;
    patients
        .into_iter()
        .map(|patient| {
            Ok(PatientRecord {
                courses: r.courses_of(patient.id)?,
                entries: entries.remove(&patient.id).unwrap_or_default(),
                versions: r.patient_versions(patient.id)?,
                patient,
            })
        })
        .collect()
}

pub fn load_record_of(
    r: &dyn Reader,
    patient: crate::domain::record::Patient,
) -> Result<PatientRecord, WardError> {
    Ok(PatientRecord {
        courses: r.courses_of(patient.id)?,
        entries: r.entries_of(patient.id)?,
        versions: r.patient_versions(patient.id)?,
        patient,
    })
}
