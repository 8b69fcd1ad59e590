//! Rules about where an entry may fall in a patient's courses: pure, like the rest of the
//! domain, so that the command line, the terminal and an amendment all apply the same ones.

use chrono_tz::Tz;

use super::entry::{CourseId, EntryData, EntryId};
use super::record::{CourseState, CourseView, PatientRecord};
use super::rules::RuleError;
use super::time::{Instant, local_text};

/// A new course: no other course running, and not starting inside an earlier one.
pub fn check_new_course(rec: &PatientRecord, at: Instant, zone: Tz) -> Result<(), RuleError> {
    for v in rec.views() {
        match v.state() {
            CourseState::Active => return Err(RuleError::AlreadyActive(v.course.id)),
            CourseState::Ended => {
                let inside = v.started_at().is_some_and(|s| s <= at);
                if let Some(end) = v.ended_at().filter(|e| inside && at < *e) {
                    return Err(RuleError::OverlapsPrevious {
                        at: local_text(at, zone),
                        end: local_text(end, zone),
                    });
                }
            }
            CourseState::Cancelled => {}
        }
    }
    // A back-dated start before an earlier course would run into it.
    let mut spans = spans_with(rec, CourseId::MIN, None);
    spans.push(CourseSpan {
        course: None,
        start: at,
        end: None,
    });
    check_courses_apart(&spans, zone)
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
        .chain(view.successes.iter())
        .map(|e| e.happened_at)
        .min();
    if let Some(first) = first.filter(|f| at > *f) {
        return Err(RuleError::BeforeStart {
            what: "the first entry",
            at: local_text(first, zone),
            start: local_text(at, zone),
        });
    }
    check_courses_apart(
        &spans_with(rec, view.course.id, Some((at, view.ended_at()))),
        zone,
    )
}

/// One course's time on the ward; `course` None is a course about to be started.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CourseSpan {
    pub course: Option<CourseId>,
    pub start: Instant,
    pub end: Option<Instant>,
}

/// The patient's courses that count (not cancelled), with one course's bounds as a change
/// would leave them: `Some((start, end))` replaces them, `None` drops the course.
pub fn spans_with(
    rec: &PatientRecord,
    course: CourseId,
    bounds: Option<(Instant, Option<Instant>)>,
) -> Vec<CourseSpan> {
    let mut out: Vec<CourseSpan> = rec
        .views()
        .iter()
        .filter(|v| v.course.id != course)
        .filter_map(|v| {
            Some(CourseSpan {
                course: Some(v.course.id),
                start: v.started_at()?,
                end: v.ended_at(),
            })
        })
        .collect();
    if let Some((start, end)) = bounds {
        out.push(CourseSpan {
            course: Some(course),
            start,
            end,
        });
    }
    out
}

/// A patient's courses follow one another: none overlaps another, so at most one (the
/// latest) runs. Every change of a course's bounds (a start, a back-dated start, an amended
/// start or end, a voided end) is checked with this against the record it would leave.
pub fn check_courses_apart(spans: &[CourseSpan], zone: Tz) -> Result<(), RuleError> {
    let mut sorted = spans.to_vec();
    sorted.sort_by_key(|s| (s.start, s.course));
    for pair in sorted.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if a.end.is_none_or(|end| end > b.start) {
            return Err(RuleError::CoursesOverlap {
                first: span_text(a, zone),
                second: span_text(b, zone),
            });
        }
    }
    Ok(())
}

fn span_text(s: CourseSpan, zone: Tz) -> String {
    let name = match s.course {
        Some(id) => format!("course {id}"),
        None => "the new course".to_string(),
    };
    match s.end {
        Some(end) => format!(
            "{name} ({} to {})",
            local_text(s.start, zone),
            local_text(end, zone)
        ),
        None => format!("{name} (from {}, running)", local_text(s.start, zone)),
    }
}

/// A bed name as compared: "Bed 4 " and "bed  4" are the same bed.
pub fn bed_key(bed: &str) -> String {
    bed.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A bed taken by a running course.
#[derive(Clone, Debug, PartialEq)]
pub struct Occupant {
    pub bed: String,
    pub name: String,
    pub mrn: String,
}

/// The running courses of `records` and the beds they occupy.
pub fn occupants(records: &[PatientRecord]) -> Vec<Occupant> {
    records
        .iter()
        .flat_map(|rec| {
            rec.views().into_iter().filter_map(|v| {
                if v.state() != CourseState::Active {
                    return None;
                }
                match &v.start?.data {
                    EntryData::CourseStart { bed: Some(bed) } => Some(Occupant {
                        bed: bed.clone(),
                        name: rec.patient.data.name.clone(),
                        mrn: rec.patient.data.mrn.clone(),
                    }),
                    _ => None,
                }
            })
        })
        .collect()
}

/// One running course per bed: a course starts, runs again or moves only into a bed no
/// other patient's running course holds. `others`: the occupants apart from the patient.
pub fn check_bed_free(bed: Option<&str>, others: &[Occupant]) -> Result<(), RuleError> {
    let Some(bed) = bed else { return Ok(()) };
    let key = bed_key(bed);
    match others.iter().find(|o| bed_key(&o.bed) == key) {
        Some(o) => Err(RuleError::BedOccupied {
            bed: o.bed.clone(),
            name: o.name.clone(),
            mrn: o.mrn.clone(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn day(n: i64) -> Instant {
        chrono::Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap() + Duration::days(n)
    }
    fn span(id: i64, s: i64, e: Option<i64>) -> CourseSpan {
        CourseSpan {
            course: Some(id),
            start: day(s),
            end: e.map(day),
        }
    }

    #[test]
    fn courses_follow_one_another() {
        let z = chrono_tz::Europe::Amsterdam;
        let ok = |v: &[CourseSpan]| check_courses_apart(v, z).is_ok();
        assert!(ok(&[span(1, 0, Some(7)), span(2, 9, Some(16))]));
        // Touching is not overlapping: a course may start when the last one ended.
        assert!(ok(&[span(1, 0, Some(7)), span(2, 7, None)]));
        // The Seen case: 1-12 Nov and 10-17 Nov.
        let e = check_courses_apart(&[span(1, 0, Some(11)), span(2, 9, Some(16))], z).unwrap_err();
        assert!(e.to_string().contains("course 1 (2026-11-01 10:00"), "{e}");
        // A running course behind a later one, in either order given.
        assert!(!ok(&[span(2, 9, Some(16)), span(1, 0, None)]));
        // Two running courses.
        assert!(!ok(&[span(1, 0, None), span(2, 9, None)]));
        // One inside another.
        assert!(!ok(&[span(1, 0, Some(20)), span(2, 9, Some(16))]));
        assert!(ok(&[span(1, 0, None)]));
    }

    #[test]
    fn beds_compare_trimmed_and_caseless() {
        let others = [Occupant {
            bed: "Bed 4".into(),
            name: "Jan Jansen".into(),
            mrn: "1001".into(),
        }];
        for same in ["bed 4", " BED  4 ", "Bed\t4"] {
            let e = check_bed_free(Some(same), &others).unwrap_err();
            assert!(e.to_string().contains("Jan Jansen (MRN 1001)"), "{e}");
        }
        assert!(check_bed_free(Some("bed 40"), &others).is_ok());
        assert!(check_bed_free(None, &others).is_ok());
    }
}
