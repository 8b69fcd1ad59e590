//! Corrections of a patient's details: a new version with who, when and why.

use super::entries::Session;
use super::{WardError, patient_by_mrn};
use crate::domain::entry::PatientId;
use crate::domain::patient::{self, PatientChanges};
use crate::domain::rules::Permission;
use crate::store::NewPatientVersion;

/// Whose details a correction changes: by current MRN (the command line), or the patient a
/// form showed, at the version it showed (the ward terminal).
#[derive(Clone, Copy)]
enum Which<'a> {
    Mrn(&'a str),
    Seen(PatientId, u32),
}

/// What a correction stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Corrected {
    pub patient_id: i64,
    pub version: u32,
    /// "weight 70 kg -> 80 kg; ..."
    pub changes: String,
    pub mrn: String,
}

impl Session<'_> {
    /// Corrects the details of the patient whose current MRN is `mrn`. The result is checked
    /// as a new patient is; a correction that changes nothing is refused. Read, checked and
    /// written in one write transaction, so that it is built on the version current then.
    pub fn amend_patient(
        &mut self,
        mrn: &str,
        reason: &str,
        changes: &PatientChanges,
    ) -> Result<Corrected, WardError> {
        self.correct_patient(Which::Mrn(mrn), reason, changes)
    }

    /// As [`Session::amend_patient`], for a form that showed version `seen` of patient
    /// `patient`'s details: refused, with what changed, who and when, if another terminal
    /// corrected them since. Decided inside the write, so no correction is built on a
    /// picture that is no longer true.
    pub fn amend_patient_seen(
        &mut self,
        patient: PatientId,
        seen: u32,
        reason: &str,
        changes: &PatientChanges,
    ) -> Result<Corrected, WardError> {
        self.correct_patient(Which::Seen(patient, seen), reason, changes)
    }

    fn correct_patient(
        &mut self,
        which: Which,
        reason: &str,
        changes: &PatientChanges,
    ) -> Result<Corrected, WardError> {
        if changes.is_empty() {
            return Err(WardError::NothingToAmendPatient);
        }
        let reason = crate::domain::values::text("reason", reason, 500)?;
        let today = self.now.with_timezone(&self.cfg.timezone).date_naive();
        let zone = self.cfg.timezone;
        self.authorize(Permission::AmendPatient)?;
        self.write(|w, _| {
            let current = match which {
                Which::Mrn(mrn) => patient_by_mrn(w, mrn)?,
                Which::Seen(id, _) => w
                    .patient(id)?
                    .ok_or_else(|| WardError::UnknownMrn(format!("(patient {id})")))?,
            };
            let versions = w.patient_versions(current.id)?;
            let newest = versions.last().map_or(0, |v| v.version);
            if let (Which::Seen(_, seen), Some(last)) = (which, versions.last())
                && last.version != seen
            {
                let was = versions
                    .iter()
                    .find(|v| v.version == seen)
                    .map_or(&current.data, |v| &v.data);
                return Err(WardError::PatientChangedSince {
                    version: last.version,
                    by: last.recorded_by.clone(),
                    at: crate::domain::time::local_text(last.recorded_at, zone),
                    changes: patient::differences_text(was, &last.data),
                });
            }
            let data = changes.apply(&current.data)?;
            patient::check(&data, today)?;
            if data == current.data {
                return Err(WardError::PatientUnchanged(current.data.mrn.clone()));
            }
            let version = newest + 1;
            w.insert_patient_version(&NewPatientVersion {
                patient_id: current.id,
                version,
                data: data.clone(),
                reason,
            })?;
            Ok(Corrected {
                patient_id: current.id,
                version,
                changes: patient::differences_text(&current.data, &data),
                mrn: data.mrn,
            })
        })
    }
}
