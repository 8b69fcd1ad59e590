//! What staff do, as operations: each reads the record, applies the domain rules and writes
//! inside one store transaction. The command line and the TUI both call these; neither holds
//! a rule of its own.

pub mod access;
pub mod entries;
mod error;
pub mod research;

pub use error::WardError;

use crate::domain::entry::{EntryId, EntryKind};
use crate::domain::record::PatientRecord;
use crate::store::Reader;

/// What a successful write reports back.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    pub id: EntryId,
    /// Printed with the confirmation, e.g. a starting rate that differs from the protocol.
    pub warnings: Vec<String>,
    pub summary: String,
}

pub fn load_record(r: &dyn Reader, mrn: &str) -> Result<PatientRecord, WardError> {
    let patient = r
        .patient_by_mrn(mrn)?
        .ok_or_else(|| WardError::UnknownMrn(mrn.to_string()))?;
    load_record_of(r, patient)
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
    let patient = r
        .patient_by_mrn(mrn)?
        .ok_or_else(|| WardError::UnknownMrn(mrn.to_string()))?;
    Ok(PatientRecord {
        courses: r.courses_of(patient.id)?,
        entries: r.course_bounds_of(patient.id)?,
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

/// Every patient's record with only what outcomes are read from (course start and end,
/// pain scores, success reports): the cohort needs no rate entries, which are most rows.
pub fn load_outcomes(r: &dyn Reader) -> Result<Vec<PatientRecord>, WardError> {
    use std::collections::HashMap;
    let mut courses: HashMap<i64, Vec<crate::domain::record::Course>> = HashMap::new();
    for c in r.all_courses()? {
        courses.entry(c.patient_id).or_default().push(c);
    }
    let kinds = [
        EntryKind::CourseStart,
        EntryKind::CourseEnd,
        EntryKind::Nrs,
        EntryKind::Success,
    ];
    let mut entries: HashMap<i64, Vec<crate::domain::entry::Entry>> = HashMap::new();
    for e in r.entries_of_kinds(&kinds)? {
        entries.entry(e.patient_id).or_default().push(e);
    }
    Ok(r.patients()?
        .into_iter()
        .map(|patient| PatientRecord {
            courses: courses.remove(&patient.id).unwrap_or_default(),
            entries: entries.remove(&patient.id).unwrap_or_default(),
            patient,
        })
        .collect())
}

pub fn load_record_of(
    r: &dyn Reader,
    patient: crate::domain::record::Patient,
) -> Result<PatientRecord, WardError> {
    Ok(PatientRecord {
        courses: r.courses_of(patient.id)?,
        entries: r.entries_of(patient.id)?,
        patient,
    })
}
