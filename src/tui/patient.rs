//! The patient-details screen: corrections of the open patient's demographics through the
//! trust issue's amendment (`Session::amend_patient_seen`), with the reason asked. The form
//! remembers the version it showed; a correction made elsewhere since is refused by the
//! operation, and the form is shown again with the details as they now stand.

use super::app::App;
use super::panel::{Input, Panel, PanelKind};
use crate::domain::patient::PatientChanges;
use crate::domain::record::{NewPatient, PatientRecord};
use crate::domain::rules::{Permission, RuleError, allowed};
use crate::domain::values::ValueError;
use crate::strings;
use crate::ward::WardError;

/// The form's fields as the details read now; the first key in a field replaces its value.
fn fields(p: &NewPatient, reason: &str) -> Vec<Input> {
    let opt = |v: Option<String>| v.unwrap_or_default();
    vec![
        Input::text("name", "Name", &p.name, ""),
        Input::text(
            "birth",
            "Birth date",
            &p.birth_date.to_string(),
            "YYYY-MM-DD",
        ),
        Input::choice("sex", "Sex", &["female", "male", "other"], p.sex.as_str()),
        Input::text(
            "weight",
            "Weight kg",
            &opt(p.weight_kg.map(|w| w.to_string())),
            "20 to 400, e.g. 72.5",
        ),
        Input::choice(
            "crps",
            "CRPS type",
            &["", "1", "2"],
            p.crps_type.map_or("", |c| c.as_str()),
        ),
        Input::text(
            "onset",
            "CRPS onset",
            &opt(p.crps_onset.map(|d| d.to_string())),
            "YYYY-MM-DD",
        ),
        Input::text("limb", "Limb", &opt(p.limb.clone()), ""),
        Input::text("mrn", "MRN", &p.mrn, "letters, digits, '-'"),
        Input::text(
            "reason",
            "Reason",
            reason,
            "why the details are corrected (kept)",
        ),
    ]
}

/// The bed of the patient's running course, if it has one.
fn bed(record: &PatientRecord) -> Option<String> {
    let views = record.views();
    let v = views.last().filter(|v| v.end.is_none())?;
    match v.start.map(|e| &e.data) {
        Some(crate::domain::entry::EntryData::CourseStart { bed }) => bed.clone(),
        _ => None,
    }
}

fn panel_for(record: &PatientRecord, reason: &str) -> Panel {
    let p = &record.patient.data;
    let seen = record.versions.last().map_or(0, |v| v.version);
    let mut panel = Panel::new(
        PanelKind::Patient {
            patient: record.patient.id,
            mrn: p.mrn.clone(),
            seen,
            was: p.clone(),
        },
        strings::patient_form_title(&p.name, &p.mrn, bed(record).as_deref()),
        fields(p, reason),
    );
    panel.context.push(strings::PATIENT_FORM_CONTEXT.into());
    panel
}

/// The field a refusal belongs next to.
fn field_for(e: &WardError, panel: &Panel) -> &'static str {
    let date_bad = |k: &str| crate::cli::Edge::date(panel.value(k)).is_err();
    match e {
        WardError::Value(ValueError::Mrn(_))
        | WardError::Store(crate::store::StoreError::DuplicateMrn(_)) => "mrn",
        WardError::Value(ValueError::Weight(_)) => "weight",
        WardError::Value(
            ValueError::Empty { what }
            | ValueError::TooLong { what, .. }
            | ValueError::Control { what, .. },
        ) => match *what {
            "name" => "name",
            "limb" => "limb",
            "reason" => "reason",
            _ => "",
        },
        WardError::Time(_) if date_bad("birth") => "birth",
        WardError::Time(_) => "onset",
        WardError::Rule(RuleError::BirthOutOfRange(_)) => "birth",
        WardError::Rule(RuleError::OnsetInFuture | RuleError::OnsetBeforeBirth) => "onset",
        _ => "",
    }
}

impl App {
    /// `D` on the detail screen: the form, prefilled with the details as they stand.
    pub(super) fn open_patient_form(&mut self) {
        let (Some(user), Some(d)) = (self.user.clone(), &self.detail) else {
            return;
        };
        if !allowed(user.role, Permission::AmendPatient) {
            let denied =
                crate::ward::access::deny(&mut self.db, &user, Permission::AmendPatient, self.now);
            return self.error(denied.err().map(|e| e.to_string()).unwrap_or_default());
        }
        self.panel = Some(panel_for(&d.record, ""));
    }

    pub(super) fn submit_patient(&mut self) {
        let (Some(mut panel), Some(user)) = (self.panel.take(), self.user.clone()) else {
            return;
        };
        let PanelKind::Patient {
            patient,
            mrn,
            seen,
            was,
        } = panel.kind.clone()
        else {
            return;
        };
        let shown = fields(&was, "");
        let changed = |key: &str| -> Option<String> {
            let now = panel.value(key);
            let before = shown.iter().find(|f| f.key == key).map_or("", |f| &f.value);
            (now.trim() != before).then(|| now.trim().to_string())
        };
        let values: Vec<(&str, Option<String>)> = [
            "mrn", "name", "birth", "sex", "weight", "crps", "onset", "limb",
        ]
        .into_iter()
        .map(|k| (k, changed(k)))
        .collect();
        let get = |k: &str| {
            values
                .iter()
                .find(|(key, _)| *key == k)
                .and_then(|(_, v)| v.as_deref())
        };
        let changes = PatientChanges {
            mrn: get("mrn"),
            name: get("name"),
            birth_date: get("birth"),
            sex: get("sex"),
            weight_kg: get("weight"),
            crps_type: get("crps"),
            crps_onset: get("onset"),
            limb: get("limb"),
        };
        if changes.is_empty() {
            panel.refuse("", strings::PATIENT_NOTHING_CHANGED);
            self.panel = Some(panel);
            return;
        }
        // The correction checks the details' version it showed (`seen`) itself.
        let mut s = self.session(&user);
        match s.amend_patient_seen(patient, seen, panel.value("reason"), &changes) {
            Ok(c) => {
                self.info(strings::patient_corrected(c.version, &c.changes));
                self.reopen_patient(&c.mrn);
            }
            Err(e @ WardError::PatientChangedSince { .. }) => {
                // Shown again with the details as they now stand; nothing typed is saved.
                let now_mrn = mrn_now(&mut self.db, patient).unwrap_or(mrn);
                self.reopen_patient(&now_mrn);
                let reason = panel.value("reason").to_string();
                if let Some(d) = &self.detail {
                    let mut fresh = panel_for(&d.record, &reason);
                    fresh.refuse("", e.to_string());
                    self.panel = Some(fresh);
                }
            }
            Err(e) => {
                let key = field_for(&e, &panel);
                panel.refuse(key, e.to_string());
                self.panel = Some(panel);
            }
        }
    }

    /// The detail screen again, for the patient's MRN as it now is.
    fn reopen_patient(&mut self, mrn: &str) {
        match super::view::load_detail(&mut self.db, &self.cfg, mrn, self.now) {
            Ok(d) => self.detail = Some(d),
            Err(e) => self.error(e.to_string()),
        }
    }
}

fn mrn_now(db: &mut crate::store::Db, patient: crate::domain::entry::PatientId) -> Option<String> {
    db.read(|r| r.patient(patient))
        .ok()
        .flatten()
        .map(|p| p.data.mrn)
}
