//! Rules about where an entry may fall in a patient's courses: pure, like the rest of the
//! domain, so that the command line, the terminal and an amendment all apply the same ones.

use chrono::Duration;
use chrono_tz::Tz;

use std::collections::BTreeMap;

use super::dose::rate_at;
use super::entry::{CourseId, Entry, EntryData, EntryId, EntryKind, PatientId, effective_sorted};
use super::outcome::{Score, pick, t1_window};
use super::rate::Rate;
use super::record::{CourseState, CourseView, PatientRecord};
use super::rules::RuleError;
use super::time::{Instant, local_text};
use super::values::{Action, EndReason, Timepoint};

/// A new course: no other course running, and not starting inside an earlier one.
/// The longest bed label a new course takes: a label as on the ward's board ("12", "3A",
/// "K12-3"), short enough for the overview to show whole at 80 columns, where it is how
/// the nurse finds the patient. Older, longer labels are shown cut with "…".
pub const BED_MAX: usize = 8;

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

/// When a course is planned to end: its start plus the duration of its own protocol version.
pub fn planned_end(view: &CourseView) -> Option<Instant> {
    Some(view.started_at()? + view.protocol().duration())
}

/// How long before its planned end a course ending at `at` ends; None when it is not early.
/// An end within one check interval of the planned end is on time: the end is recorded at
/// the last hourly check, not to the minute of the start.
pub fn early_by(view: &CourseView, at: Instant) -> Option<Duration> {
    let planned = planned_end(view)?;
    let early = planned - at;
    (early > view.protocol().check_interval()).then_some(early)
}

/// Whole hours, at least 1, for "18 h early".
pub fn whole_hours(d: Duration) -> i64 {
    ((d.num_minutes() + 30) / 60).max(1)
}

/// A course that ends before its planned end did not complete: "completed" is refused, and
/// the message names how early it is and the reasons that fit.
pub fn check_end_reason(
    view: &CourseView,
    at: Instant,
    reason: EndReason,
    zone: Tz,
) -> Result<(), RuleError> {
    let (Some(early), Some(planned)) = (early_by(view, at), planned_end(view)) else {
        return Ok(());
    };
    if reason != EndReason::Completed {
        return Ok(());
    }
    Err(RuleError::EarlyEndCompleted {
        at: local_text(at, zone),
        planned: local_text(planned, zone),
        hours: whole_hours(early),
        allowed: EndReason::ALL
            .iter()
            .filter(|r| **r != EndReason::Completed)
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// What a course ending at `at` still lacks, for the confirmation before it ends.
#[derive(Clone, Debug, PartialEq)]
pub struct EndGaps {
    /// No baseline: no NRS counts as the course's T0 (a score tagged t0 after a back-dated
    /// start does not).
    pub no_t0: bool,
    /// No NRS in the T1 window around this end.
    pub no_t1: bool,
    /// The rate running at the end; not 0 means no stop was recorded.
    pub rate: Rate,
    pub planned_end: Instant,
    /// How long before the planned end (None: on time or later).
    pub early: Option<Duration>,
}

pub fn end_gaps(view: &CourseView, scores: &[Score], at: Instant) -> Option<EndGaps> {
    let p = view.protocol();
    Some(EndGaps {
        no_t0: view
            .outcome(scores)
            .is_none_or(|o| o.timepoints.t0.is_none()),
        no_t1: pick(scores, Timepoint::T1, t1_window(p, at), None).is_none(),
        rate: rate_at(&view.rate_points(), at),
        planned_end: planned_end(view)?,
        early: early_by(view, at),
    })
}

/// A side effect whose action changes the rate brings the new rate with it: rate-lowered a
/// rate below `current`, paused and stopped 0. Other actions bring none.
pub fn check_side_effect_rate(
    action: Action,
    current: Rate,
    new: Option<Rate>,
) -> Result<(), RuleError> {
    let what = match action {
        Action::RateLowered => "a rate below the current one",
        Action::Paused | Action::Stopped => "0",
        Action::None | Action::MedicationGiven => {
            return match new {
                Some(_) => Err(RuleError::RateWithoutRateAction {
                    action: action.as_str(),
                }),
                None => Ok(()),
            };
        }
    };
    let Some(new) = new else {
        return Err(RuleError::SideEffectNeedsRate {
            action: action.as_str(),
            what,
        });
    };
    match action {
        Action::RateLowered if new >= current => Err(RuleError::RateNotLowered {
            current,
            given: new,
        }),
        Action::Paused | Action::Stopped if !new.is_zero() => Err(RuleError::PauseNotZero {
            action: action.as_str(),
            given: new,
        }),
        _ => Ok(()),
    }
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
    fn entry(id: i64, at: Instant, data: EntryData) -> Entry {
        Entry {
            id,
            patient_id: 1,
            course_id: Some(1),
            happened_at: at,
            recorded_at: at,
            recorded_by: "AB".into(),
            supersedes: None,
            amend_reason: None,
            late: false,
            void: None,
            data,
        }
    }

    fn course(duration_days: u32) -> crate::domain::record::Course {
        let mut p = crate::config::Config::defaults().protocol;
        p.duration_days = duration_days;
        crate::domain::record::Course {
            id: 1,
            patient_id: 1,
            protocol_id: 1,
            protocol: std::sync::Arc::new(p),
            created_at: day(0),
        }
    }

    #[test]
    fn an_early_end_is_not_completed() {
        let z = chrono_tz::Europe::Amsterdam;
        let c = course(7);
        let start = entry(1, day(0), EntryData::CourseStart { bed: None });
        let rate = entry(
            2,
            day(0),
            EntryData::Rate {
                rate: "4".parse().unwrap(),
                confirmed: false,
                confirm_reason: None,
            },
        );
        let v = CourseView {
            course: &c,
            start: Some(&start),
            end: None,
            rates: vec![&rate],
            side_effects: vec![],
            successes: vec![],
        };
        // The planned end is the start plus this course's own protocol duration.
        assert_eq!(planned_end(&v), Some(day(7)));
        // The Seen case: 18 h early as "completed".
        let at = day(7) - Duration::hours(18);
        let e = check_end_reason(&v, at, EndReason::Completed, z).unwrap_err();
        let t = e.to_string();
        assert!(t.contains("18 h early"), "{t}");
        assert!(t.contains("side-effects, patient-request, other"), "{t}");
        assert!(!t.contains("completed, "), "{t}");
        for r in [
            EndReason::SideEffects,
            EndReason::PatientRequest,
            EndReason::Other,
        ] {
            assert!(check_end_reason(&v, at, r, z).is_ok(), "{r}");
        }
        // On time, within one check interval of the planned end, and late: completed.
        for at in [
            day(7),
            day(7) - Duration::minutes(50),
            day(7) + Duration::hours(5),
        ] {
            assert!(check_end_reason(&v, at, EndReason::Completed, z).is_ok());
        }
        // Past the check interval it is early again.
        let e = check_end_reason(&v, day(7) - Duration::minutes(90), EndReason::Completed, z)
            .unwrap_err();
        assert!(e.to_string().contains("2 h early"), "{e}");
        // A course under a 5-day version is planned by its own version, not config's 7.
        let short = course(5);
        let v5 = CourseView {
            course: &short,
            ..v.clone()
        };
        assert!(check_end_reason(&v5, day(5), EndReason::Completed, z).is_ok());
        assert!(check_end_reason(&v, day(5), EndReason::Completed, z).is_err());

        // What the confirmation lists: no T1 yet, a rate still running, 18 h early.
        let g = end_gaps(&v, &[], at).unwrap();
        assert!(g.no_t1);
        assert_eq!(g.rate, "4".parse().unwrap());
        assert_eq!(g.early.map(whole_hours), Some(18));
        let t1 = Score {
            id: 9,
            at: at - Duration::hours(1),
            score: crate::domain::values::Nrs::new(3).unwrap(),
            tag: None,
        };
        assert!(!end_gaps(&v, &[t1], at).unwrap().no_t1);
    }

    #[test]
    fn a_side_effect_that_changes_the_rate_brings_it() {
        let r = |s: &str| -> Rate { s.parse().unwrap() };
        let cur = r("6");
        assert!(check_side_effect_rate(Action::RateLowered, cur, Some(r("4"))).is_ok());
        for bad in [None, Some(r("6")), Some(r("8"))] {
            assert!(check_side_effect_rate(Action::RateLowered, cur, bad).is_err());
        }
        let e = check_side_effect_rate(Action::RateLowered, cur, Some(r("6"))).unwrap_err();
        assert!(e.to_string().contains("below the current 6 mg/h"), "{e}");
        for a in [Action::Paused, Action::Stopped] {
            assert!(check_side_effect_rate(a, cur, Some(Rate::ZERO)).is_ok());
            assert!(check_side_effect_rate(a, cur, Some(r("2"))).is_err());
            let e = check_side_effect_rate(a, cur, None).unwrap_err();
            assert!(e.to_string().contains("--rate"), "{e}");
        }
        for a in [Action::None, Action::MedicationGiven] {
            assert!(check_side_effect_rate(a, cur, None).is_ok());
            assert!(check_side_effect_rate(a, cur, Some(r("4"))).is_err());
        }
    }
}
