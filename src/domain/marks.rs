//! What outcome figures are computed from, and no more: each course's protocol, effective
//! start and end, its success reports, and the patient's pain scores. A full record gives
//! these through `CourseView::marks`; the cohort reads them from the store directly, so
//! that twenty years of hourly rates are never loaded to count responders.

use std::sync::Arc;

use super::entry::{CourseId, EntryId};
use super::outcome::{
    Responder, Score, Window, responder, t0_window, t1_window, t2_planned, t2_window, timepoints,
};
use super::protocol::Protocol;
use super::record::{CourseOutcome, CourseState, Patient, PatientRecord};
use super::time::Instant;
use super::values::Timepoint;

/// One effective success report.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Report {
    pub id: EntryId,
    pub at: Instant,
    pub timepoint: Timepoint,
    pub successful: bool,
}

/// One course as outcome figures see it.
#[derive(Clone, Debug, PartialEq)]
pub struct CourseMarks {
    pub course_id: CourseId,
    /// Shared with the course it came from: thousands of courses run under one protocol.
    pub protocol: Arc<Protocol>,
    pub start: Option<Instant>,
    pub end: Option<Instant>,
    pub reports: Vec<Report>,
}

impl CourseMarks {
    /// A course from its effective marks (superseded and voided versions already left out).
    /// Of several effective starts or ends the latest by (time, id) counts, the same choice
    /// `PatientRecord::views` makes.
    pub fn from_marks(course_id: CourseId, protocol: Arc<Protocol>, marks: &[Mark]) -> CourseMarks {
        let latest = |k: MarkKind| {
            marks
                .iter()
                .filter(|m| m.what == k)
                .max_by_key(|m| (m.at, m.id))
                .map(|m| m.at)
        };
        CourseMarks {
            course_id,
            protocol,
            start: latest(MarkKind::Start),
            end: latest(MarkKind::End),
            reports: marks
                .iter()
                .filter_map(|m| match m.what {
                    MarkKind::Report {
                        timepoint,
                        successful,
                    } => Some(Report {
                        id: m.id,
                        at: m.at,
                        timepoint,
                        successful,
                    }),
                    _ => None,
                })
                .collect(),
        }
    }

    pub fn state(&self) -> CourseState {
        CourseState::of(self.start.is_some(), self.end.is_some())
    }

    /// The latest effective success report for a timepoint.
    pub fn reported(&self, tp: Timepoint) -> Option<bool> {
        self.reports
            .iter()
            .filter(|r| r.timepoint == tp)
            .max_by_key(|r| (r.at, r.id))
            .map(|r| r.successful)
    }

    /// The windows `outcome` reads scores from: T0 once started, T1 and T2 once ended.
    pub fn score_windows(&self) -> Vec<Window> {
        let p = &*self.protocol;
        let mut out = Vec::new();
        if let Some(start) = self.start {
            out.push(t0_window(p, start));
            if let Some(end) = self.end {
                out.push(t1_window(p, end));
                out.push(t2_window(p, end));
            }
        }
        out
    }

    /// Timepoints and responder status, read from the patient's scores; None for a course
    /// whose start was entered in error.
    pub fn outcome(&self, scores: &[Score]) -> Option<CourseOutcome> {
        let p = &*self.protocol;
        let start = self.start?;
        let end = self.end;
        let tp = timepoints(p, scores, start, end);
        let nrs = |s: Option<Score>| s.map(|s| s.score);
        let th = p.responder_threshold;
        let (t1, t2) = if end.is_some() {
            (
                responder(nrs(tp.t0), nrs(tp.t1), self.reported(Timepoint::T1), th),
                responder(nrs(tp.t0), nrs(tp.t2), self.reported(Timepoint::T2), th),
            )
        } else {
            (Responder::Unknown, Responder::Unknown)
        };
        Some(CourseOutcome {
            timepoints: tp,
            t1,
            t2,
            t2_window: end.map(|e| t2_window(p, e)),
            t2_planned: end.map(|e| t2_planned(p, e)),
        })
    }
}

/// A patient as outcome figures see them. `scores` are effective and in time order; they
/// hold at least every score inside each course's windows, which is all `outcome` reads.
#[derive(Clone, Debug, PartialEq)]
pub struct OutcomeRecord {
    pub patient: Patient,
    /// Oldest first, like `PatientRecord::views`.
    pub courses: Vec<CourseMarks>,
    pub scores: Vec<Score>,
}

impl From<&PatientRecord> for OutcomeRecord {
    fn from(rec: &PatientRecord) -> OutcomeRecord {
        OutcomeRecord {
            patient: rec.patient.clone(),
            courses: rec.views().iter().map(|v| v.marks()).collect(),
            scores: rec.scores(),
        }
    }
}

/// One version of a course's start, end or success report, as the store's outcome index
/// holds it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mark {
    pub id: EntryId,
    pub course_id: CourseId,
    pub at: Instant,
    pub what: MarkKind,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MarkKind {
    Start,
    End,
    Report {
        timepoint: Timepoint,
        successful: bool,
    },
}
