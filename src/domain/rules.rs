//! The protocol's rules for what may be recorded, as pure functions.

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;

use super::dose::{RatePoint, last_step_up_before, rate_at};
use super::entry::{EntryId, EntryKind};
use super::protocol::Protocol;
use super::rate::Rate;
use super::time::{Instant, local_text};
use super::values::{Role, Timepoint};

#[derive(Debug, Clone, PartialEq)]
pub enum SoftLimit {
    LargeStep {
        step: Rate,
        increment: Rate,
    },
    TooSoon {
        minutes: i64,
        min_interval_min: u32,
    },
    /// Back-dated before the course's first rate entry: it would become the start.
    BeforeFirstRate {
        minutes: i64,
        first: Rate,
    },
    /// A starting rate above the protocol's.
    AboveStartRate {
        rate: Rate,
        start: Rate,
    },
    /// A limit that a later rate entry passes only because of this change (an entry put
    /// before it, moved, corrected or voided changes the step into it).
    Later {
        id: EntryId,
        rate: Rate,
        limit: Box<SoftLimit>,
    },
}

impl std::fmt::Display for SoftLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SoftLimit::LargeStep { step, increment } => write!(
                f,
                "a step up of {step} mg/h is larger than the protocol increment of {increment} mg/h"
            ),
            SoftLimit::TooSoon {
                minutes,
                min_interval_min,
            } => write!(
                f,
                "a step up {minutes} min after the last one is sooner than the protocol interval of {min_interval_min} min"
            ),
            SoftLimit::BeforeFirstRate { minutes, first } => write!(
                f,
                "a rate entry {minutes} min before the course's first rate entry ({first} mg/h) becomes the course's start"
            ),
            SoftLimit::AboveStartRate { rate, start } => write!(
                f,
                "a starting rate of {rate} mg/h is above the protocol's starting rate of {start} mg/h"
            ),
            SoftLimit::Later { id, rate, limit } => write!(
                f,
                "the later rate entry {id} ({rate} mg/h) would then be {}",
                limit.as_later()
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    #[error("rate {rate} mg/h is above the protocol maximum of {max} mg/h: it cannot be recorded")]
    AboveMax { rate: Rate, max: Rate },
    #[error("{}; to record it anyway, confirm it and give a reason", join(.0))]
    NeedsConfirmation(Vec<SoftLimit>),
    #[error("a confirmation needs a reason")]
    ConfirmWithoutReason,
    #[error("the patient has no course; a physician starts one first")]
    NoCourse,
    #[error("{what} at {at} is before the course started ({start})")]
    BeforeStart {
        what: &'static str,
        at: String,
        start: String,
    },
    #[error("{what} at {at} is after the course ended ({end})")]
    AfterEnd {
        what: &'static str,
        at: String,
        end: String,
    },
    #[error(
        "the course ended at {end}; rates can no longer be added (amend an entry, or a physician voids the end)"
    )]
    RateOnEndedCourse { end: String },
    #[error(
        "the course ended at {end}; a side effect during it is recorded late with its time on the command line (titrate side-effect --at TIME)"
    )]
    SideEffectOnEndedCourse { end: String },
    #[error("the patient already has an active course (course {0}); end it first")]
    AlreadyActive(i64),
    #[error("the course already ended at {0}")]
    AlreadyEnded(String),
    #[error("the new course starts at {at}, before the previous course ended ({end})")]
    OverlapsPrevious { at: String, end: String },
    #[error(
        "{first} and {second} would overlap: a patient's courses follow one another, and only the latest may run"
    )]
    CoursesOverlap { first: String, second: String },
    #[error(
        "bed {bed} is taken by {name} (MRN {mrn}), whose course is running (since {since}); a bed holds one patient at a time: choose another bed or end that course first"
    )]
    BedOccupied {
        bed: String,
        name: String,
        mrn: String,
        since: String,
    },
    #[error(
        "bed {bed} was taken by {who} {when}, which this course's time in it ({ours}) overlaps; a bed holds one patient at a time: choose another bed or other times"
    )]
    BedHeld {
        bed: String,
        /// "name (MRN m)"
        who: String,
        /// "from X to Y"
        when: String,
        ours: String,
    },
    #[error("voiding entry {id}: {}; to void it anyway, confirm it and give a reason (--confirm --confirm-reason TEXT)", join(.limits))]
    VoidPassesLimit { id: EntryId, limits: Vec<SoftLimit> },
    #[error("the course cannot end at {at}: the last rate entry is at {last}")]
    EndBeforeLastRate { at: String, last: String },
    #[error("a success report is given at t1 or t2, not t0")]
    SuccessAtT0,
    #[error("side effect \"{given}\" is not in the ward's list: {allowed}")]
    UnknownSideEffect { given: String, allowed: String },
    #[error("side effect \"other\" needs a description")]
    OtherNeedsDetail,
    #[error(
        "the course is planned to end at {planned}; ending it at {at} is {hours} h early, which is not \"completed\": give the reason it ended early ({allowed})"
    )]
    EarlyEndCompleted {
        at: String,
        planned: String,
        hours: i64,
        allowed: String,
    },
    #[error(
        "a side effect with action \"{action}\" records the new rate in the same step: give the new rate, {what} (--rate on the command line)"
    )]
    SideEffectNeedsRate {
        action: &'static str,
        what: &'static str,
    },
    #[error(
        "a correction cannot make a side effect \"{action}\": that action records its new rate in the same step; void this side effect and record it again with its new rate (the side-effect form, or titrate side-effect ... --rate R)"
    )]
    AmendIntoRateAction { action: &'static str },
    #[error(
        "a new rate is recorded with a side effect only when its action is rate-lowered, paused or stopped (this one is \"{action}\"); record the rate on its own"
    )]
    RateWithoutRateAction { action: &'static str },
    #[error(
        "\"rate-lowered\" needs a rate below the current {current} mg/h; {given} mg/h is not lower"
    )]
    RateNotLowered { current: Rate, given: Rate },
    #[error(
        "\"{action}\" means the rate is 0 mg/h; {given} mg/h was given (to lower it, choose rate-lowered)"
    )]
    PauseNotZero { action: &'static str, given: Rate },
    #[error("birth date {0} is not plausible: give a date from 1900-01-01 up to today")]
    BirthOutOfRange(String),
    #[error("a CRPS onset cannot be in the future")]
    OnsetInFuture,
    #[error("the CRPS onset cannot be before the birth date")]
    OnsetBeforeBirth,
    #[error("{at} is before the patient's birth date ({birth})")]
    BeforeBirth { at: String, birth: String },
    #[error(
        "a t0 score is the baseline before the course starts ({start}); record this score without a timepoint"
    )]
    T0DuringCourse { start: String },
    #[error("a {tp} score needs a course; record it without a timepoint")]
    TagWithoutCourse { tp: &'static str },
    #[error("a t2 score is the follow-up after the course ended; {why}")]
    T2TooEarly { why: String },
}

impl SoftLimit {
    /// The limit as said of another entry ("a step up of 4 mg/h ...").
    fn as_later(&self) -> String {
        match self {
            SoftLimit::Later { limit, .. } => limit.as_later(),
            other => other.to_string(),
        }
    }
}

fn join(limits: &[SoftLimit]) -> String {
    limits
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join("; and ")
}

/// The time span of a course as far as it is known.
#[derive(Clone, Copy, Debug)]
pub struct Span {
    pub start: Instant,
    pub end: Option<Instant>,
}

impl Span {
    /// Rate entries and side effects must fall inside the course.
    pub fn check_inside(&self, what: &'static str, at: Instant, zone: Tz) -> Result<(), RuleError> {
        if at < self.start {
            return Err(RuleError::BeforeStart {
                what,
                at: local_text(at, zone),
                start: local_text(self.start, zone),
            });
        }
        if let Some(end) = self.end.filter(|end| at > *end) {
            return Err(RuleError::AfterEnd {
                what,
                at: local_text(at, zone),
                end: local_text(end, zone),
            });
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Start,
    Up,
    Down,
    /// The hourly check: the pump runs at the recorded rate.
    Same,
    Stop,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RateCheck {
    pub step: Step,
    pub previous: Rate,
    /// Soft limits this entry passes (only with a confirmation).
    pub overridden: Vec<SoftLimit>,
    pub warnings: Vec<String>,
}

/// Checks a rate entry against the course's protocol and the rates recorded before it.
/// `points` are the course's other effective rate entries, sorted by time.
pub fn check_rate(
    protocol: &Protocol,
    weight_kg: Option<f64>,
    points: &[RatePoint],
    at: Instant,
    rate: Rate,
    confirmed: bool,
) -> Result<RateCheck, RuleError> {
    let max = protocol.max_rate_mg_h;
    if rate > max {
        return Err(RuleError::AboveMax { rate, max });
    }
    let previous = rate_at(points, at);
    let first = !points.iter().any(|p| p.at <= at && !p.rate.is_zero());
    let mut warnings = Vec::new();
    let step = if rate.is_zero() {
        if previous.is_zero() {
            Step::Same
        } else {
            Step::Stop
        }
    } else if first {
        Step::Start
    } else if rate > previous {
        Step::Up
    } else if rate < previous {
        Step::Down
    } else {
        Step::Same
    };

    let mut soft = Vec::new();
    // Back-dating cannot make a start of a step silently: the course's first entry so far
    // would no longer be its first.
    if let Some(first) = points.first().filter(|p| at < p.at) {
        soft.push(SoftLimit::BeforeFirstRate {
            minutes: (first.at - at).num_minutes(),
            first: first.rate,
        });
    }
    match step {
        Step::Start => {
            if let Some(expected) = protocol.start_rate_for(weight_kg) {
                if rate > expected {
                    soft.push(SoftLimit::AboveStartRate {
                        rate,
                        start: expected,
                    });
                } else if expected != rate {
                    warnings.push(format!(
                        "the protocol's starting rate is {expected} mg/h ({}); {rate} mg/h recorded",
                        protocol.start_rate_text()
                    ));
                }
            } else {
                warnings.push(format!(
                    "the protocol's starting rate is {} and the patient's weight is not recorded",
                    protocol.start_rate_text()
                ));
            }
        }
        Step::Up => {
            let increase = rate.saturating_sub(previous);
            if increase > protocol.increment_mg_h {
                soft.push(SoftLimit::LargeStep {
                    step: increase,
                    increment: protocol.increment_mg_h,
                });
            }
            if let Some(last) = last_step_up_before(points, at) {
                let since = at - last;
                if since < protocol.min_step_interval() {
                    soft.push(SoftLimit::TooSoon {
                        minutes: since.num_minutes(),
                        min_interval_min: protocol.min_step_interval_min,
                    });
                }
            }
        }
        Step::Down | Step::Same | Step::Stop => {}
    }
    if !soft.is_empty() && !confirmed {
        return Err(RuleError::NeedsConfirmation(soft));
    }
    Ok(RateCheck {
        step,
        previous,
        overridden: soft,
        warnings,
    })
}

/// A rate entry of a course, with its id: what a change to the course's rates is checked
/// against.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateEntry {
    pub id: EntryId,
    pub at: Instant,
    pub rate: Rate,
}

/// A change to a course's rates: a new entry (`removed` None), an amendment (one entry
/// replaced by another) or a void (`added` None).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateChange {
    pub removed: Option<EntryId>,
    pub added: Option<(Instant, Rate)>,
}

/// What a change to a course's rates passes: the rate it adds checked as an entry of the
/// course without the one it removes, and every later entry whose step into it changes.
/// Steps depend on the entries before them, so a rate put between two others, moved, or
/// removed changes the step (and the interval since the last step up, and which entry is
/// the start) of the entries after it: a soft limit one of them passes only because of the
/// change needs the change's own confirmation. `current`: the course's effective rates,
/// in time order.
pub fn check_rate_change(
    protocol: &Protocol,
    weight_kg: Option<f64>,
    current: &[RateEntry],
    change: RateChange,
    confirmed: bool,
) -> Result<(Option<RateCheck>, Vec<SoftLimit>), RuleError> {
    let others: Vec<RateEntry> = current
        .iter()
        .copied()
        .filter(|e| Some(e.id) != change.removed)
        .collect();
    let points = |list: &[RateEntry]| -> Vec<RatePoint> {
        list.iter()
            .map(|e| RatePoint {
                at: e.at,
                rate: e.rate,
            })
            .collect()
    };
    let mut soft = Vec::new();
    let mut check = None;
    let mut after = others.clone();
    if let Some((at, rate)) = change.added {
        let c = check_rate(protocol, weight_kg, &points(&others), at, rate, true)?;
        soft.extend(c.overridden.iter().cloned());
        check = Some(c);
        // A new version sorts after entries of the same minute (it has the highest id).
        let pos = after.partition_point(|e| e.at <= at);
        after.insert(
            pos,
            RateEntry {
                id: EntryId::MAX,
                at,
                rate,
            },
        );
    }
    let from = [
        change.added.map(|(at, _)| at),
        change
            .removed
            .and_then(|id| current.iter().find(|e| e.id == id).map(|e| e.at)),
    ]
    .into_iter()
    .flatten()
    .min();
    if let Some(from) = from {
        soft.extend(later_limits(protocol, weight_kg, current, &after, from));
    }
    if !soft.is_empty() && !confirmed {
        return Err(RuleError::NeedsConfirmation(soft));
    }
    if let Some(c) = check.as_mut() {
        c.overridden = soft.clone();
    }
    Ok((check, soft))
}

/// The soft limits entries of `after` (from `from` on) pass that they did not pass in
/// `before`.
fn later_limits(
    protocol: &Protocol,
    weight_kg: Option<f64>,
    before: &[RateEntry],
    after: &[RateEntry],
    from: Instant,
) -> Vec<SoftLimit> {
    let limits_in = |list: &[RateEntry], id: EntryId| -> Option<Vec<SoftLimit>> {
        let i = list.iter().position(|e| e.id == id)?;
        let prior: Vec<RatePoint> = list[..i]
            .iter()
            .map(|e| RatePoint {
                at: e.at,
                rate: e.rate,
            })
            .collect();
        let e = list[i];
        check_rate(protocol, weight_kg, &prior, e.at, e.rate, true)
            .ok()
            .map(|c| c.overridden)
    };
    let mut out = Vec::new();
    for e in after
        .iter()
        .filter(|e| e.at >= from && e.id != EntryId::MAX)
    {
        let now = limits_in(after, e.id).unwrap_or_default();
        let was = limits_in(before, e.id).unwrap_or_default();
        for limit in now {
            let kind = std::mem::discriminant(&limit);
            if !was.iter().any(|w| std::mem::discriminant(w) == kind) {
                out.push(SoftLimit::Later {
                    id: e.id,
                    rate: e.rate,
                    limit: Box::new(limit),
                });
            }
        }
    }
    out
}

/// Plausible patient dates: born from 1900 up to today, onset between birth and today.
pub fn check_patient_dates(
    birth: NaiveDate,
    onset: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<(), RuleError> {
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN);
    if birth < earliest || birth > today {
        return Err(RuleError::BirthOutOfRange(birth.to_string()));
    }
    match onset {
        Some(o) if o > today => Err(RuleError::OnsetInFuture),
        Some(o) if o < birth => Err(RuleError::OnsetBeforeBirth),
        _ => Ok(()),
    }
}

/// A pain score cannot predate the patient, and a timepoint tag must fit the course:
/// t0 is taken before the start, t2 after the end.
pub fn check_score(
    at: Instant,
    birth: NaiveDate,
    tag: Option<Timepoint>,
    course: Option<Span>,
    zone: Tz,
) -> Result<(), RuleError> {
    if at.with_timezone(&zone).date_naive() < birth {
        return Err(RuleError::BeforeBirth {
            at: local_text(at, zone),
            birth: birth.to_string(),
        });
    }
    match (tag, course) {
        (Some(Timepoint::T0), Some(span))
            if at > span.start && span.end.is_none_or(|e| at <= e) =>
        {
            Err(RuleError::T0DuringCourse {
                start: local_text(span.start, zone),
            })
        }
        (Some(tp @ (Timepoint::T1 | Timepoint::T2)), None) => {
            Err(RuleError::TagWithoutCourse { tp: tp.as_str() })
        }
        (Some(Timepoint::T2), Some(Span { end: None, .. })) => Err(RuleError::T2TooEarly {
            why: "the course is still running".into(),
        }),
        (Some(Timepoint::T2), Some(Span { end: Some(end), .. })) if at < end => {
            Err(RuleError::T2TooEarly {
                why: format!("the course ended at {}", local_text(end, zone)),
            })
        }
        _ => Ok(()),
    }
}

/// What a role may do. Roles are cumulative: a physician may do all a nurse may, an admin all
/// a physician may, so that the first admin of a small ward can also work clinically.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    Record(EntryKind),
    AddPatient,
    /// Correct a patient's details (a new version, with a reason).
    AmendPatient,
    AmendOthers,
    ManageStaff,
    /// A research export holds every patient's record.
    Export,
    /// A protocol version becomes usable for new courses.
    ApproveProtocol,
    /// The discharge letter's responsible physician and advice to the referring physician.
    WriteLetterAdvice,
    /// The whole record, PIN hashes too, copied to a PostgreSQL server (`titrate migrate`).
    Migrate,
}

impl Permission {
    pub fn needs(self) -> Role {
        match self {
            Permission::Record(EntryKind::Rate | EntryKind::Nrs | EntryKind::SideEffect)
            | Permission::AddPatient
            | Permission::AmendPatient => Role::Nurse,
            Permission::Record(
                EntryKind::CourseStart | EntryKind::CourseEnd | EntryKind::Success,
            )
            | Permission::AmendOthers
            | Permission::Export
            | Permission::WriteLetterAdvice => Role::Physician,
            Permission::ManageStaff | Permission::ApproveProtocol | Permission::Migrate => {
                Role::Admin
            }
        }
    }

    pub fn describe(self) -> String {
        match self {
            Permission::Record(k) => format!("record a {} entry", k.as_str()),
            Permission::AddPatient => "add a patient".into(),
            Permission::AmendPatient => "correct a patient's details".into(),
            Permission::AmendOthers => "amend or void another person's entry".into(),
            Permission::ManageStaff => "manage staff accounts".into(),
            Permission::Export => "copy or export the whole record".into(),
            Permission::ApproveProtocol => "approve a protocol version".into(),
            Permission::Migrate => "copy the whole record to a PostgreSQL server".into(),
            Permission::WriteLetterAdvice => {
                "write the advice to the referring physician in a discharge letter".into()
            }
        }
    }
}

fn level(r: Role) -> u8 {
    match r {
        Role::Nurse => 1,
        Role::Physician => 2,
        Role::Admin => 3,
    }
}

pub fn allowed(role: Role, p: Permission) -> bool {
    level(role) >= level(p.needs())
}

/// What changing (amending or voiding) an entry version needs beyond recording its kind:
/// nothing when `who` recorded that version and every version before it, otherwise
/// `AmendOthers`. A nurse may so correct her own entry, but not a physician's correction
/// of it, nor an entry she corrected while she had a physician's role.
pub fn change_needs<'a>(
    who: &str,
    mut authors: impl Iterator<Item = &'a str>,
) -> Option<Permission> {
    if authors.all(|a| a == who) {
        None
    } else {
        Some(Permission::AmendOthers)
    }
}

/// Hours and minutes, e.g. "2 h 05 min".
pub fn duration_text(d: Duration) -> String {
    let m = d.num_minutes();
    format!("{} h {:02} min", m / 60, m % 60)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Config;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t(min: i64) -> Instant {
        chrono::Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap() + Duration::minutes(min)
    }
    fn rate(s: &str) -> Rate {
        s.parse().unwrap()
    }
    fn pts(list: &[(i64, &str)]) -> Vec<RatePoint> {
        list.iter()
            .map(|(m, r)| RatePoint {
                at: t(*m),
                rate: rate(r),
            })
            .collect()
    }

    #[test]
    fn hard_maximum_cannot_be_confirmed_away() {
        let p = Config::defaults().protocol;
        for r in ["14.01", "15", "140"] {
            let e = check_rate(&p, None, &[], t(0), rate(r), true).unwrap_err();
            assert!(matches!(e, RuleError::AboveMax { .. }), "{r}");
            assert!(
                e.to_string()
                    .contains("above the protocol maximum of 14 mg/h"),
                "{e}"
            );
        }
        let at_max = pts(&[
            (0, "2"),
            (600, "4"),
            (1200, "6"),
            (1800, "8"),
            (2400, "10"),
            (3000, "12"),
        ]);
        assert!(check_rate(&p, None, &at_max, t(3600), rate("14"), false).is_ok());
    }

    #[test]
    fn first_rate_warns_when_it_differs_from_the_start_rate() {
        let p = Config::defaults().protocol;
        let c = check_rate(&p, None, &[], t(0), rate("2"), false).unwrap();
        assert_eq!(c.step, Step::Start);
        assert!(c.warnings.is_empty());
        let c = check_rate(&p, None, &[], t(0), rate("1"), false).unwrap();
        assert_eq!(c.warnings.len(), 1);
        // Above the starting rate is a soft limit, not a warning.
        let e = check_rate(&p, None, &[], t(0), rate("3"), false).unwrap_err();
        assert!(
            e.to_string()
                .contains("above the protocol's starting rate of 2 mg/h"),
            "{e}"
        );
        let c = check_rate(&p, None, &[], t(0), rate("3"), true).unwrap();
        assert_eq!(c.overridden.len(), 1);
    }

    fn entries(list: &[(i64, i64, &str)]) -> Vec<RateEntry> {
        list.iter()
            .map(|(id, m, r)| RateEntry {
                id: *id,
                at: t(*m),
                rate: rate(r),
            })
            .collect()
    }

    #[test]
    fn a_change_is_checked_on_both_sides() {
        let p = Config::defaults().protocol;
        let cur = entries(&[(1, 0, "2"), (2, 240, "4")]);
        let add = |at: i64, r: &str| RateChange {
            removed: None,
            added: Some((t(at), rate(r))),
        };
        // Before the first rate: it would become the start.
        let e = check_rate_change(&p, None, &cur, add(-30, "2"), false).unwrap_err();
        assert!(e.to_string().contains("becomes the course's start"), "{e}");
        // Between: the step into entry 2 comes one hour after a step up.
        let e = check_rate_change(&p, None, &cur, add(180, "3"), false).unwrap_err();
        assert!(e.to_string().contains("later rate entry 2"), "{e}");
        // An hourly check at the running rate changes nothing after it.
        assert!(check_rate_change(&p, None, &cur, add(120, "2"), false).is_ok());
        // Appending after the last entry looks at nothing later.
        assert!(check_rate_change(&p, None, &cur, add(480, "6"), false).is_ok());
        // A void of the first entry makes entry 2 a start above the starting rate.
        let (_, limits) = check_rate_change(
            &p,
            None,
            &cur,
            RateChange {
                removed: Some(1),
                added: None,
            },
            true,
        )
        .unwrap();
        assert!(
            matches!(&limits[..], [SoftLimit::Later { id: 2, limit, .. }] if matches!(**limit, SoftLimit::AboveStartRate { .. })),
            "{limits:?}"
        );
        // A limit the later entry already passed (and was confirmed for) is not asked again.
        let cur = entries(&[(1, 0, "2"), (2, 240, "8")]);
        assert!(check_rate_change(&p, None, &cur, add(120, "2"), false).is_ok());
    }

    #[test]
    fn soft_limits_need_confirmation() {
        let p = Config::defaults().protocol; // increment 2 mg/h, interval 120 min
        let h = pts(&[(0, "2")]);
        // Too large: 2 -> 6.
        let e = check_rate(&p, None, &h, t(180), rate("6"), false).unwrap_err();
        assert!(
            matches!(&e, RuleError::NeedsConfirmation(v) if v.len() == 1),
            "{e}"
        );
        // Too soon: 2 -> 4 after 60 min.
        let e = check_rate(&p, None, &h, t(60), rate("4"), false).unwrap_err();
        assert!(
            e.to_string()
                .contains("sooner than the protocol interval of 120 min"),
            "{e}"
        );
        // Both.
        let e = check_rate(&p, None, &h, t(60), rate("8"), false).unwrap_err();
        assert!(matches!(&e, RuleError::NeedsConfirmation(v) if v.len() == 2));
        // Confirmed: stored with what was overridden.
        let c = check_rate(&p, None, &h, t(60), rate("8"), true).unwrap();
        assert_eq!(c.overridden.len(), 2);
        // Allowed step, after the interval, no confirmation needed; confirmation accepted anyway.
        assert_eq!(
            check_rate(&p, None, &h, t(120), rate("4"), false)
                .unwrap()
                .step,
            Step::Up
        );
        assert!(
            check_rate(&p, None, &h, t(120), rate("4"), true)
                .unwrap()
                .overridden
                .is_empty()
        );
        // Step downs, checks and stops are never limited.
        assert_eq!(
            check_rate(&p, None, &h, t(1), rate("1"), false)
                .unwrap()
                .step,
            Step::Down
        );
        assert_eq!(
            check_rate(&p, None, &h, t(1), rate("2"), false)
                .unwrap()
                .step,
            Step::Same
        );
        assert_eq!(
            check_rate(&p, None, &h, t(1), rate("0"), false)
                .unwrap()
                .step,
            Step::Stop
        );
    }

    #[test]
    fn span() {
        let s = Span {
            start: t(0),
            end: Some(t(100)),
        };
        let z = chrono_tz::Europe::Amsterdam;
        assert!(s.check_inside("rate", t(-1), z).is_err());
        assert!(s.check_inside("rate", t(0), z).is_ok());
        assert!(s.check_inside("rate", t(100), z).is_ok());
        assert!(s.check_inside("rate", t(101), z).is_err());
    }

    #[test]
    fn scores_and_their_tags() {
        let z = chrono_tz::Europe::Amsterdam;
        let birth = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let running = Some(Span {
            start: t(0),
            end: None,
        });
        let ended = Some(Span {
            start: t(0),
            end: Some(t(100)),
        });
        assert!(check_score(t(-10), birth, Some(Timepoint::T0), running, z).is_ok());
        assert!(check_score(t(10), birth, Some(Timepoint::T0), running, z).is_err());
        assert!(check_score(t(10), birth, None, running, z).is_ok());
        assert!(check_score(t(10), birth, Some(Timepoint::T2), running, z).is_err());
        assert!(check_score(t(50), birth, Some(Timepoint::T2), ended, z).is_err());
        assert!(check_score(t(200), birth, Some(Timepoint::T2), ended, z).is_ok());
        assert!(check_score(t(200), birth, Some(Timepoint::T1), None, z).is_err());
        let unborn = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        assert!(check_score(t(0), unborn, None, None, z).is_err());
        let today = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        assert!(
            check_patient_dates(NaiveDate::from_ymd_opt(1800, 1, 1).unwrap(), None, today).is_err()
        );
        assert!(
            check_patient_dates(
                birth,
                Some(NaiveDate::from_ymd_opt(1960, 1, 1).unwrap()),
                today
            )
            .is_err()
        );
        assert!(
            check_patient_dates(
                birth,
                Some(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()),
                today
            )
            .is_err()
        );
        assert!(
            check_patient_dates(
                birth,
                Some(NaiveDate::from_ymd_opt(2020, 1, 1).unwrap()),
                today
            )
            .is_ok()
        );
    }

    #[test]
    fn roles() {
        assert!(allowed(Role::Nurse, Permission::Record(EntryKind::Rate)));
        assert!(!allowed(
            Role::Nurse,
            Permission::Record(EntryKind::CourseEnd)
        ));
        assert!(!allowed(Role::Nurse, Permission::AmendOthers));
        assert!(!allowed(Role::Nurse, Permission::ManageStaff));
        assert!(allowed(
            Role::Physician,
            Permission::Record(EntryKind::Success)
        ));
        assert!(!allowed(Role::Physician, Permission::ManageStaff));
        assert!(allowed(Role::Admin, Permission::ManageStaff));
    }

    proptest! {
        /// Whatever order entries are added, moved and voided in, every change accepted
        /// without a confirmation leaves a course in which each rate passes its own check
        /// unconfirmed: no path makes a step past a soft limit without a confirmation.
        #[test]
        fn no_unconfirmed_soft_limit_survives_any_change(ops in proptest::collection::vec((0u8..3, 0i64..1500, 0u32..=8, 0usize..20), 1..40)) {
            let p = Config::defaults().protocol;
            let mut cur: Vec<RateEntry> = Vec::new();
            let mut next_id = 1;
            for (op, m, r, pick) in ops {
                let target = (!cur.is_empty()).then(|| cur[pick % cur.len()].id);
                let added = Some((t(m), Rate::from_centi(r * 100)));
                let change = match op {
                    0 => RateChange { removed: None, added },
                    1 => RateChange { removed: target, added },
                    _ => RateChange { removed: target, added: None },
                };
                let ok = check_rate_change(&p, None, &cur, change, false).is_ok();
                if !ok {
                    continue;
                }
                cur.retain(|e| Some(e.id) != change.removed);
                if let Some((at, rate)) = change.added {
                    cur.push(RateEntry { id: next_id, at, rate });
                    next_id += 1;
                }
                cur.sort_by_key(|e| (e.at, e.id));
                for i in 0..cur.len() {
                    let prior: Vec<RatePoint> = cur[..i].iter().map(|e| RatePoint { at: e.at, rate: e.rate }).collect();
                    prop_assert!(
                        check_rate(&p, None, &prior, cur[i].at, cur[i].rate, false).is_ok(),
                        "entry {:?} passes a soft limit unconfirmed in {:?}", cur[i], cur
                    );
                }
            }
        }

        #[test]
        fn nothing_above_the_maximum_is_ever_accepted(c in 0u32..100_000, confirmed in any::<bool>(), hist in proptest::collection::vec((0i64..10_000, 0u32..=1400), 0..10)) {
            let p = Config::defaults().protocol;
            let mut h: Vec<RatePoint> = hist.iter().map(|(m, r)| RatePoint { at: t(*m), rate: Rate::from_centi(*r) }).collect();
            h.sort_by_key(|p| p.at);
            let r = Rate::from_centi(c);
            let res = check_rate(&p, None, &h, t(5000), r, confirmed);
            if r > p.max_rate_mg_h {
                prop_assert!(res.is_err());
            }
        }
    }
}
