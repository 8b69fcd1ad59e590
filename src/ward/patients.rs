//! Corrections of a patient's details: a new version with who, when and why.

use super::entries::Session;
use super::{WardError, patient_by_mrn};
use crate::domain::patient::{self, PatientChanges};
use crate::domain::rules::Permission;
use crate::store::NewPatientVersion;

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
        if changes.is_empty() {
            return Err(WardError::NothingToAmendPatient);
        }
        let reason = crate::domain::values::text("reason", reason, 500)?;
        let today = self.now.with_timezone(&self.cfg.timezone).date_naive();
        self.authorize(Permission::AmendPatient)?;
        self.write(|w, _| {
            let current = patient_by_mrn(w, mrn)?;
            let versions = w.patient_versions(current.id)?;
            let newest = versions.last().map_or(0, |v| v.version);
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
