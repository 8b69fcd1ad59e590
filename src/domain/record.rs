//! A patient's record as loaded from the store, and what follows from it: each course's
//! state, rates, dose, timepoints and responder status. Pure: the store hands the rows in.

use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;

use super::dose::{DoseSummary, RatePoint, summarise};
use super::entry::{CourseId, Entry, EntryData, EntryKind, PatientId, effective_sorted};
use super::marks::{CourseMarks, Report};
use super::outcome::{Responder, Score, Timepoints, Window};
use super::protocol::Protocol;
use super::rules::Span;
use super::time::Instant;
use super::values::{CrpsType, Role, Sex};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Staff {
    pub id: String,
    pub name: String,
    pub role: Role,
    #[serde(skip)]
    pub pin_hash: String,
    pub active: bool,
    pub failed_pins: u32,
    pub locked: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewPatient {
    pub mrn: String,
    pub name: String,
    pub birth_date: chrono::NaiveDate,
    pub sex: Sex,
    pub weight_kg: Option<f64>,
    pub crps_type: Option<CrpsType>,
    pub crps_onset: Option<chrono::NaiveDate>,
    pub limb: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Patient {
    pub id: PatientId,
    #[serde(flatten)]
    pub data: NewPatient,
    pub created_at: Instant,
    pub created_by: String,
}

/// One version of a patient's details: version 0 is the patient as first recorded, each
/// correction adds the next with every detail as it then stood.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PatientVersion {
    pub version: u32,
    #[serde(flatten)]
    pub data: NewPatient,
    /// Why it was corrected; `None` for version 0.
    pub reason: Option<String>,
    pub recorded_at: Instant,
    pub recorded_by: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Course {
    pub id: CourseId,
    pub patient_id: PatientId,
    pub protocol_id: i64,
    pub protocol: Arc<Protocol>,
    pub created_at: Instant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CourseState {
    Active,
    Ended,
    /// Its start was voided: entered in error.
    Cancelled,
}

impl CourseState {
    /// A course without an effective start was entered in error; with a start and no end
    /// it runs.
    pub fn of(started: bool, ended: bool) -> CourseState {
        match (started, ended) {
            (false, _) => CourseState::Cancelled,
            (true, false) => CourseState::Active,
            (true, true) => CourseState::Ended,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CourseState::Active => "active",
            CourseState::Ended => "ended",
            CourseState::Cancelled => "cancelled",
        }
    }
}

/// One course with its effective entries.
#[derive(Clone, Debug)]
pub struct CourseView<'a> {
    pub course: &'a Course,
    pub start: Option<&'a Entry>,
    pub end: Option<&'a Entry>,
    pub rates: Vec<&'a Entry>,
    pub side_effects: Vec<&'a Entry>,
    pub successes: Vec<&'a Entry>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CourseOutcome {
    pub timepoints: Timepoints,
    pub t1: Responder,
    pub t2: Responder,
    pub t2_window: Option<Window>,
    pub t2_planned: Option<Instant>,
}

impl<'a> CourseView<'a> {
    pub fn protocol(&self) -> &'a Protocol {
        &self.course.protocol
    }

    pub fn state(&self) -> CourseState {
        CourseState::of(self.start.is_some(), self.end.is_some())
    }

    /// The bed the course's start names, if any.
    pub fn bed(&self) -> Option<&str> {
        match self.start.map(|e| &e.data) {
            Some(EntryData::CourseStart { bed }) => bed.as_deref(),
            _ => None,
        }
    }

    pub fn started_at(&self) -> Option<Instant> {
        self.start.map(|e| e.happened_at)
    }

    pub fn ended_at(&self) -> Option<Instant> {
        self.end.map(|e| e.happened_at)
    }

    pub fn span(&self) -> Option<Span> {
        Some(Span {
            start: self.started_at()?,
            end: self.ended_at(),
        })
    }

    pub fn rate_points(&self) -> Vec<RatePoint> {
        self.rates
            .iter()
            .filter_map(|e| match e.data {
                EntryData::Rate { rate, .. } => Some(RatePoint {
                    at: e.happened_at,
                    rate,
                }),
                _ => None,
            })
            .collect()
    }

    /// Dose figures up to the end, or up to `now` while the course runs.
    pub fn dose(&self, now: Instant) -> Option<DoseSummary> {
        let start = self.started_at()?;
        let until = self.ended_at().unwrap_or(now);
        Some(summarise(
            &self.rate_points(),
            start,
            until,
            self.protocol().max_rate_mg_h,
        ))
    }

    /// What its outcome is computed from.
    pub fn marks(&self) -> CourseMarks {
        CourseMarks {
            course_id: self.course.id,
            protocol: Arc::clone(&self.course.protocol),
            start: self.started_at(),
            end: self.ended_at(),
            reports: self
                .successes
                .iter()
                .filter_map(|e| match e.data {
                    EntryData::Success {
                        timepoint,
                        successful,
                    } => Some(Report {
                        id: e.id,
                        at: e.happened_at,
                        timepoint,
                        successful,
                    }),
                    _ => None,
                })
                .collect(),
        }
    }

    /// Timepoints and responder status, read from the patient's scores.
    pub fn outcome(&self, scores: &[Score]) -> Option<CourseOutcome> {
        self.marks().outcome(scores)
    }
}

/// A patient with every course and every version of every entry.
#[derive(Clone, Debug)]
pub struct PatientRecord {
    /// The details as they now stand.
    pub patient: Patient,
    /// Every version of the details, oldest first (version 0 first).
    pub versions: Vec<PatientVersion>,
    pub courses: Vec<Course>,
    pub entries: Vec<Entry>,
}

impl PatientRecord {
    /// Courses oldest first, each with its effective entries.
    pub fn views(&self) -> Vec<CourseView<'_>> {
        let effective = effective_sorted(&self.entries);
        self.courses
            .iter()
            .map(|c| {
                let of = |k: EntryKind| -> Vec<&Entry> {
                    effective
                        .iter()
                        .copied()
                        .filter(|e| e.course_id == Some(c.id) && e.kind() == k)
                        .collect()
                };
                CourseView {
                    course: c,
                    start: of(EntryKind::CourseStart).last().copied(),
                    end: of(EntryKind::CourseEnd).last().copied(),
                    rates: of(EntryKind::Rate),
                    side_effects: of(EntryKind::SideEffect),
                    successes: of(EntryKind::Success),
                }
            })
            .collect()
    }

    /// The course entry commands act on: the newest that was not entered in error.
    pub fn latest_course(&self) -> Option<CourseView<'_>> {
        self.views()
            .into_iter()
            .filter(|v| v.state() != CourseState::Cancelled)
            .max_by_key(|v| v.started_at())
    }

    pub fn course(&self, id: CourseId) -> Option<CourseView<'_>> {
        self.views().into_iter().find(|v| v.course.id == id)
    }

    /// The patient's effective pain scores, in time order.
    pub fn scores(&self) -> Vec<Score> {
        effective_sorted(&self.entries)
            .into_iter()
            .filter_map(|e| match e.data {
                EntryData::Nrs { score, timepoint } => Some(Score {
                    id: e.id,
                    at: e.happened_at,
                    score,
                    tag: timepoint,
                }),
                _ => None,
            })
            .collect()
    }

    /// Disease duration in years at `at` (from CRPS onset), if the onset is known.
    pub fn disease_years(&self, at: Instant) -> Option<f64> {
        self.patient.disease_years(at)
    }

    /// The corrections of the patient's details: (version before, version after).
    pub fn corrections(&self) -> impl Iterator<Item = (&PatientVersion, &PatientVersion)> {
        self.versions.windows(2).map(|w| (&w[0], &w[1]))
    }
}

impl Patient {
    /// Disease duration in years at `at` (from CRPS onset), if the onset is known.
    pub fn disease_years(&self, at: Instant) -> Option<f64> {
        Some(disease_years(self.data.crps_onset?, at))
    }
}

/// Years from CRPS onset to `at`.
pub fn disease_years(onset: NaiveDate, at: Instant) -> f64 {
    let days = (at.date_naive() - onset).num_days();
    days as f64 / 365.25
}

/// Age in whole years on a date.
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> i32 {
    use chrono::Datelike;
    let mut years = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years
}
