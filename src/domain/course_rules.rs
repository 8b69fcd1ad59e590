//! Rules about where an entry may fall in a patient's courses: pure, like the rest of the
//! domain, so that the command line, the terminal and an amendment all apply the same ones.

use chrono_tz::Tz;

use std::collections::BTreeMap;

use super::entry::{CourseId, Entry, EntryData, EntryId, EntryKind, PatientId, effective_sorted};
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

/// One course's time in a bed: its effective start (with the bed it names) to its
/// effective end (None: still running).
#[derive(Clone, Debug, PartialEq)]
pub struct BedStay {
    pub patient: PatientId,
    pub course: CourseId,
    pub bed: String,
    pub start: Instant,
    pub end: Option<Instant>,
}

/// The stays in a bed of every course, from the course-start and course-end entries of all
/// courses (every version, with voids: the effective ones are picked here, as a course view
/// picks them).
pub fn bed_stays(bounds: &[Entry]) -> Vec<BedStay> {
    let mut by_course: BTreeMap<CourseId, (Option<&Entry>, Option<&Entry>)> = BTreeMap::new();
    for e in effective_sorted(bounds) {
        let Some(c) = e.course_id else { continue };
        let slot = by_course.entry(c).or_default();
        match e.kind() {
            EntryKind::CourseStart => slot.0 = Some(e),
            EntryKind::CourseEnd => slot.1 = Some(e),
            _ => {}
        }
    }
    by_course
        .into_iter()
        .filter_map(|(course, (start, end))| {
            let start = start?;
            let EntryData::CourseStart { bed: Some(bed) } = &start.data else {
                return None;
            };
            Some(BedStay {
                patient: start.patient_id,
                course,
                bed: bed.clone(),
                start: start.happened_at,
                end: end.map(|e| e.happened_at),
            })
        })
        .collect()
}

/// A bed holds one patient at any moment: the first stay of another patient in `bed`
/// (compared as [`bed_key`] compares) that overlaps `[start, end)` (end None: open). Touching
/// is not overlapping: a course may start in a bed at the minute the last one there ended.
pub fn bed_clash<'a>(
    stays: &'a [BedStay],
    patient: PatientId,
    bed: &str,
    start: Instant,
    end: Option<Instant>,
) -> Option<&'a BedStay> {
    let key = bed_key(bed);
    stays.iter().find(|s| {
        s.patient != patient
            && bed_key(&s.bed) == key
            && end.is_none_or(|e| s.start < e)
            && s.end.is_none_or(|se| start < se)
    })
}

/// The refusal for a clash, naming the other patient and the time they hold the bed.
pub fn bed_taken(
    stay: &BedStay,
    name: &str,
    mrn: &str,
    ours: (Instant, Option<Instant>),
    zone: Tz,
) -> RuleError {
    match stay.end {
        None => RuleError::BedOccupied {
            bed: stay.bed.clone(),
            name: name.to_string(),
            mrn: mrn.to_string(),
            since: local_text(stay.start, zone),
        },
        Some(end) => RuleError::BedHeld {
            bed: stay.bed.clone(),
            who: format!("{name} (MRN {mrn})"),
            when: format!(
                "from {} to {}",
                local_text(stay.start, zone),
                local_text(end, zone)
            ),
            ours: match ours.1 {
                Some(e) => format!("{} to {}", local_text(ours.0, zone), local_text(e, zone)),
                None => format!("from {}, running", local_text(ours.0, zone)),
            },
        },
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

    fn stay(patient: i64, bed: &str, s: i64, e: Option<i64>) -> BedStay {
        BedStay {
            patient,
            course: patient,
            bed: bed.into(),
            start: day(s),
            end: e.map(day),
        }
    }

    #[test]
    fn a_bed_holds_one_patient_at_any_moment() {
        let stays = [stay(1, "Bed 4", 0, Some(7)), stay(2, "Bed 5", 3, None)];
        // The same bed however it is typed, at any moment of the stay.
        for same in ["bed 4", " BED  4 ", "Bed\t4"] {
            assert!(bed_clash(&stays, 9, same, day(3), None).is_some());
        }
        assert!(bed_clash(&stays, 9, "Bed 4", day(-3), Some(day(1))).is_some());
        assert!(bed_clash(&stays, 9, "Bed 4", day(1), Some(day(2))).is_some());
        assert!(bed_clash(&stays, 9, "Bed 5", day(10), Some(day(11))).is_some());
        // Touching is not overlapping; other beds and the patient's own stays do not clash.
        assert!(bed_clash(&stays, 9, "Bed 4", day(7), None).is_none());
        assert!(bed_clash(&stays, 9, "Bed 4", day(-3), Some(day(0))).is_none());
        assert!(bed_clash(&stays, 9, "Bed 5", day(0), Some(day(3))).is_none());
        assert!(bed_clash(&stays, 9, "bed 40", day(3), None).is_none());
        assert!(bed_clash(&stays, 1, "Bed 4", day(3), None).is_none());
        let z = chrono_tz::Europe::Amsterdam;
        let e = bed_taken(&stays[0], "Jan Jansen", "1001", (day(3), None), z).to_string();
        assert!(
            e.contains("Jan Jansen (MRN 1001) from 2026-11-01 10:00"),
            "{e}"
        );
    }
}
