//! Rules about where an entry may fall in a patient's courses: pure, like the rest of the
//! domain, so that the command line, the terminal and an amendment all apply the same ones.

use chrono_tz::Tz;

use super::entry::EntryId;
use super::record::{CourseState, CourseView, PatientRecord};
use super::rules::RuleError;
use super::time::{Instant, local_text};

/// A new course: no other course running, and not starting inside an earlier one.
pub fn check_new_course(rec: &PatientRecord, at: Instant, zone: Tz) -> Result<(), RuleError> {
    for v in rec.views() {
        match v.state() {
            CourseState::Active => return Err(RuleError::AlreadyActive(v.course.id)),
            CourseState::Ended => {
                if let Some(end) = v.ended_at().filter(|e| at < *e) {
                    return Err(RuleError::OverlapsPrevious {
                        at: local_text(at, zone),
                        end: local_text(end, zone),
                    });
                }
            }
            CourseState::Cancelled => {}
        }
    }
    Ok(())
}

/// Rates are recorded on a running course only.
pub fn check_open_for_rates(view: &CourseView, zone: Tz) -> Result<(), RuleError> {
    match (view.state(), view.ended_at()) {
        (CourseState::Ended, Some(end)) => Err(RuleError::RateOnEndedCourse {
            end: local_text(end, zone),
        }),
        _ => Ok(()),
    }
}

/// A side effect is one of the ward's kinds; "other" needs a description.
pub fn check_side_effect_kind(
    kinds: &[String],
    effect: &str,
    detail: &Option<String>,
) -> Result<(), RuleError> {
    if !kinds.iter().any(|k| k == effect) {
        return Err(RuleError::UnknownSideEffect {
            given: effect.chars().take(40).collect(),
            allowed: kinds.join(", "),
        });
    }
    if effect == "other" && detail.is_none() {
        return Err(RuleError::OtherNeedsDetail);
    }
    Ok(())
}

/// A success report belongs to the course: not before it started.
pub fn check_success_time(view: &CourseView, at: Instant, zone: Tz) -> Result<(), RuleError> {
    let start = view.started_at().ok_or(RuleError::NoCourse)?;
    if at < start {
        return Err(RuleError::BeforeStart {
            what: "the success report",
            at: local_text(at, zone),
            start: local_text(start, zone),
        });
    }
    Ok(())
}

/// A course ends after its start and after its last rate entry and side effect (`skip`: the
/// end being amended is not one of them).
pub fn check_end(
    view: &CourseView,
    skip: Option<EntryId>,
    at: Instant,
    zone: Tz,
) -> Result<(), RuleError> {
    let start = view.started_at().ok_or(RuleError::NoCourse)?;
    if at < start {
        return Err(RuleError::BeforeStart {
            what: "the course end",
            at: local_text(at, zone),
            start: local_text(start, zone),
        });
    }
    let last = view
        .rates
        .iter()
        .chain(view.side_effects.iter())
        .filter(|e| Some(e.id) != skip)
        .map(|e| e.happened_at)
        .max();
    if let Some(last) = last.filter(|l| at < *l) {
        return Err(RuleError::EndBeforeLastRate {
            at: local_text(at, zone),
            last: local_text(last, zone),
        });
    }
    Ok(())
}

/// A moved course start must still precede the course's entries and not fall inside
/// another course.
pub fn check_start(
    rec: &PatientRecord,
    view: &CourseView,
    at: Instant,
    zone: Tz,
) -> Result<(), RuleError> {
    let first = view
        .rates
        .iter()
        .chain(view.side_effects.iter())
        .map(|e| e.happened_at)
        .min();
    if let Some(first) = first.filter(|f| at > *f) {
        return Err(RuleError::BeforeStart {
            what: "the first entry",
            at: local_text(first, zone),
            start: local_text(at, zone),
        });
    }
    for v in rec.views() {
        if v.course.id == view.course.id {
            continue;
        }
        if let (Some(s), Some(e)) = (v.started_at(), v.ended_at())
            && s < at
            && at < e
        {
            return Err(RuleError::OverlapsPrevious {
                at: local_text(at, zone),
                end: local_text(e, zone),
            });
        }
    }
    Ok(())
}
