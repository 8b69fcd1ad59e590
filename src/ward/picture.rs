//! What a form was opened on. A form at the ward terminal stays open while the nurse is
//! interrupted; another terminal or the command line may record for the same patient in
//! the meantime. The form keeps the picture it showed, and its save compares that picture
//! with the record as it stands inside the write transaction: any difference refuses the
//! save with what changed, who changed it and when, so nothing is saved on a stale picture.

use std::collections::BTreeMap;

use chrono_tz::Tz;

use super::WardError;
use crate::domain::entry::{CourseId, EntryId, PatientId};
use crate::domain::record::PatientRecord;
use crate::domain::time::local_text;
use crate::store::Reader;

/// The patient, their latest course and every entry version and void of their record, as a
/// form showed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    pub patient: PatientId,
    /// The MRN, name and bed the form's title shows.
    pub mrn: String,
    pub name: String,
    pub bed: Option<String>,
    /// The course the form acts on: the latest one when it opened.
    pub course: Option<CourseId>,
    /// How many versions of the details there were.
    details: usize,
    /// Every entry version, and whether it was voided.
    entries: BTreeMap<EntryId, bool>,
}

impl Picture {
    /// The picture of a full record (entries of every course, details with their versions).
    pub fn of(rec: &PatientRecord) -> Picture {
        let latest = rec.latest_course();
        let bed = latest.as_ref().and_then(|v| v.bed().map(str::to_string));
        Picture {
            patient: rec.patient.id,
            mrn: rec.patient.data.mrn.clone(),
            name: rec.patient.data.name.clone(),
            bed,
            course: latest.map(|v| v.course.id),
            details: rec.versions.len(),
            entries: rec
                .entries
                .iter()
                .map(|e| (e.id, e.void.is_some()))
                .collect(),
        }
    }

    /// "Bram Jansen · MRN 1002 · bed 3", for a form's title.
    pub fn label(&self) -> String {
        crate::strings::patient_label(&self.name, &self.mrn, self.bed.as_deref())
    }

    /// What changed between this picture and `now`, in words: empty when nothing did.
    pub fn changes(&self, now: &PatientRecord, r: &dyn Reader, zone: Tz) -> Vec<String> {
        let who = |id: &str| match r.staff(id) {
            Ok(Some(s)) => format!("{} ({id})", s.name),
            _ => id.to_string(),
        };
        let mut out = Vec::new();
        if now.patient.id != self.patient {
            out.push(crate::strings::stale_other_patient(&self.mrn));
            return out;
        }
        for v in now.versions.iter().skip(self.details) {
            out.push(crate::strings::stale_details(
                &who(&v.recorded_by),
                &local_text(v.recorded_at, zone),
            ));
        }
        let latest = now.latest_course().map(|v| v.course.id);
        if latest != self.course {
            out.push(crate::strings::STALE_COURSE.to_string());
        }
        for e in &now.entries {
            match self.entries.get(&e.id) {
                None => out.push(crate::strings::stale_entry(
                    &e.data.describe(),
                    &local_text(e.happened_at, zone),
                    e.supersedes,
                    &who(&e.recorded_by),
                    &local_text(e.recorded_at, zone),
                )),
                Some(false) => {
                    if let Some(v) = &e.void {
                        out.push(crate::strings::stale_void(
                            e.id,
                            &e.data.describe(),
                            &who(&v.voided_by),
                            &local_text(v.voided_at, zone),
                        ));
                    }
                }
                Some(true) => {}
            }
        }
        out
    }
}

/// The patient's full record as it stands, by id: what a picture is compared with.
pub fn current(r: &dyn Reader, patient: PatientId) -> Result<PatientRecord, WardError> {
    let p = r
        .patient(patient)?
        .ok_or_else(|| WardError::UnknownMrn(format!("(patient {patient})")))?;
    super::load_record_of(r, p)
}

/// Refuses with every change since `picture` was taken, or returns the record as it stands.
/// Called inside the write transaction, so that nothing can come between the comparison and
/// the save.
pub fn check(r: &dyn Reader, picture: &Picture, zone: Tz) -> Result<(), WardError> {
    let now = current(r, picture.patient)?;
    let changes = picture.changes(&now, r, zone);
    if changes.is_empty() {
        Ok(())
    } else {
        Err(WardError::Stale {
            changes,
            now: Box::new(Picture::of(&now)),
        })
    }
}
