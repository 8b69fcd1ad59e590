//! A patient's details as typed, parsed once for both a new patient and a correction, and
//! what the corrections of a patient leave behind: the versions of their details.
//!
//! The command line and the ward terminal's form both hand their strings to
//! [`PatientText::parse`] or [`PatientChanges::apply`]; the limits live only here and in
//! `values`.

use chrono::NaiveDate;

use super::record::{NewPatient, PatientVersion};
use super::rules::{RuleError, check_patient_dates};
use super::time::{TimeError, parse_date};
use super::values::{self, CrpsType, Sex, ValueError};

/// The longest name and limb text a patient's details hold.
pub const NAME_MAX: usize = 100;
pub const LIMB_MAX: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum PatientError {
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error(transparent)]
    Time(#[from] TimeError),
    #[error(transparent)]
    Rule(#[from] RuleError),
}

/// A new patient's details as typed; optional fields not given are `None`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PatientText<'a> {
    pub mrn: &'a str,
    pub name: &'a str,
    pub birth_date: &'a str,
    pub sex: &'a str,
    pub weight_kg: Option<&'a str>,
    pub crps_type: Option<&'a str>,
    pub crps_onset: Option<&'a str>,
    pub limb: Option<&'a str>,
}

fn name(s: &str) -> Result<String, ValueError> {
    values::text("name", s, NAME_MAX)
}

fn limb(s: &str) -> Result<String, ValueError> {
    values::text("limb", s, LIMB_MAX)
}

impl PatientText<'_> {
    /// Each field parsed into its value; the dates are checked against each other and `today`
    /// by [`check`].
    pub fn parse(&self) -> Result<NewPatient, PatientError> {
        Ok(NewPatient {
            mrn: values::mrn(self.mrn)?,
            name: name(self.name)?,
            birth_date: parse_date(self.birth_date)?,
            sex: self.sex.parse::<Sex>()?,
            weight_kg: self.weight_kg.map(values::weight_kg).transpose()?,
            crps_type: self.crps_type.map(str::parse::<CrpsType>).transpose()?,
            crps_onset: self.crps_onset.map(parse_date).transpose()?,
            limb: self.limb.map(limb).transpose()?,
        })
    }
}

/// What a new patient, and a patient's details after a correction, must hold together.
pub fn check(p: &NewPatient, today: NaiveDate) -> Result<(), PatientError> {
    Ok(check_patient_dates(p.birth_date, p.crps_onset, today)?)
}

/// The fields a correction gives; `None` keeps the value as it stands.
#[derive(Debug, Clone, Copy, Default)]
pub struct PatientChanges<'a> {
    pub mrn: Option<&'a str>,
    pub name: Option<&'a str>,
    pub birth_date: Option<&'a str>,
    pub sex: Option<&'a str>,
    pub weight_kg: Option<&'a str>,
    pub crps_type: Option<&'a str>,
    pub crps_onset: Option<&'a str>,
    pub limb: Option<&'a str>,
}

impl PatientChanges<'_> {
    pub fn is_empty(&self) -> bool {
        [
            self.mrn,
            self.name,
            self.birth_date,
            self.sex,
            self.weight_kg,
            self.crps_type,
            self.crps_onset,
            self.limb,
        ]
        .iter()
        .all(Option::is_none)
    }

    /// The details `current` becomes, each given field parsed as for a new patient.
    pub fn apply(&self, current: &NewPatient) -> Result<NewPatient, PatientError> {
        let mut p = current.clone();
        if let Some(s) = self.mrn {
            p.mrn = values::mrn(s)?;
        }
        if let Some(s) = self.name {
            p.name = name(s)?;
        }
        if let Some(s) = self.birth_date {
            p.birth_date = parse_date(s)?;
        }
        if let Some(s) = self.sex {
            p.sex = s.parse()?;
        }
        if let Some(s) = self.weight_kg {
            p.weight_kg = Some(values::weight_kg(s)?);
        }
        if let Some(s) = self.crps_type {
            p.crps_type = Some(s.parse()?);
        }
        if let Some(s) = self.crps_onset {
            p.crps_onset = Some(parse_date(s)?);
        }
        if let Some(s) = self.limb {
            p.limb = Some(limb(s)?);
        }
        Ok(p)
    }
}

fn opt_text<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "not recorded".to_string(), T::to_string)
}

/// (field, old value, new value) of every field that differs, in the order of the form.
pub fn differences(old: &NewPatient, new: &NewPatient) -> Vec<(&'static str, String, String)> {
    let weight = |w: &Option<f64>| w.map_or("not recorded".to_string(), |w| format!("{w} kg"));
    let all = [
        ("MRN", old.mrn.clone(), new.mrn.clone()),
        ("name", old.name.clone(), new.name.clone()),
        (
            "birth date",
            old.birth_date.to_string(),
            new.birth_date.to_string(),
        ),
        ("sex", old.sex.to_string(), new.sex.to_string()),
        ("weight", weight(&old.weight_kg), weight(&new.weight_kg)),
        (
            "CRPS type",
            opt_text(&old.crps_type),
            opt_text(&new.crps_type),
        ),
        (
            "CRPS onset",
            opt_text(&old.crps_onset),
            opt_text(&new.crps_onset),
        ),
        ("limb", opt_text(&old.limb), opt_text(&new.limb)),
    ];
    all.into_iter().filter(|(_, a, b)| a != b).collect()
}

/// "weight 70 kg -> 80 kg; limb left hand -> right hand"
pub fn differences_text(old: &NewPatient, new: &NewPatient) -> String {
    differences(old, new)
        .into_iter()
        .map(|(f, a, b)| format!("{f} {a} -> {b}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// When an MRN that is no longer the patient's own was last changed away: (the MRN it was
/// changed to then, when). `None` if the patient never had it.
pub fn mrn_change<'v>(versions: &'v [PatientVersion], mrn: &str) -> Option<&'v PatientVersion> {
    versions
        .windows(2)
        .rev()
        .find(|w| w[0].data.mrn == mrn && w[1].data.mrn != mrn)
        .map(|w| &w[1])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn text() -> PatientText<'static> {
        PatientText {
            mrn: "M-1",
            name: "Jan Jansen",
            birth_date: "1970-01-01",
            sex: "male",
            weight_kg: Some("70"),
            ..PatientText::default()
        }
    }

    fn version(n: u32, hour: u32, mrn: &str, weight: f64) -> PatientVersion {
        let mut data = text().parse().unwrap();
        data.mrn = mrn.into();
        data.weight_kg = Some(weight);
        PatientVersion {
            version: n,
            data,
            reason: None,
            recorded_at: chrono::Utc
                .with_ymd_and_hms(2026, 3, 1, hour, 0, 0)
                .unwrap(),
            recorded_by: "AB".into(),
        }
    }

    #[test]
    fn a_correction_is_parsed_like_a_new_patient() {
        let p = text().parse().unwrap();
        for (changes, needle) in [
            (
                PatientChanges {
                    weight_kg: Some("7000"),
                    ..Default::default()
                },
                "20 to 400",
            ),
            (
                PatientChanges {
                    mrn: Some("a b"),
                    ..Default::default()
                },
                "MRN",
            ),
            (
                PatientChanges {
                    sex: Some("x"),
                    ..Default::default()
                },
                "female, male, other",
            ),
            (
                PatientChanges {
                    name: Some("a\u{1b}[31m"),
                    ..Default::default()
                },
                "control",
            ),
            (
                PatientChanges {
                    birth_date: Some("1970-02-30"),
                    ..Default::default()
                },
                "calendar",
            ),
        ] {
            let e = changes.apply(&p).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
        let changed = PatientChanges {
            weight_kg: Some("80"),
            limb: Some("right foot"),
            ..Default::default()
        }
        .apply(&p)
        .unwrap();
        assert_eq!(
            differences_text(&p, &changed),
            "weight 70 kg -> 80 kg; limb not recorded -> right foot"
        );
        assert!(differences(&p, &p).is_empty());
    }

    #[test]
    fn an_old_mrn_names_the_change() {
        let v = [
            version(0, 8, "A", 70.0),
            version(1, 9, "B", 70.0),
            version(2, 10, "B", 75.0),
            version(3, 11, "C", 75.0),
        ];
        assert_eq!(mrn_change(&v, "A").unwrap().version, 1);
        assert_eq!(mrn_change(&v, "B").unwrap().version, 3);
        assert!(mrn_change(&v, "C").is_none());
        assert!(mrn_change(&v, "Z").is_none());
    }
}
