//! The rate step function of a course and what follows from it: total dose, time at the
//! maximum, highest rate, steps.

use chrono::Duration;
use serde::Serialize;

use super::rate::Rate;
use super::time::Instant;

/// One point of the step function: from `at` on, `rate` runs (until the next point).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RatePoint {
    pub at: Instant,
    pub rate: Rate,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DoseSummary {
    pub total_dose_mg: f64,
    pub hours_at_max: f64,
    pub highest: Rate,
    pub highest_first_at: Option<Instant>,
    pub current: Rate,
    pub starting_rate: Option<Rate>,
    pub step_ups: u32,
    pub step_downs: u32,
}

/// The rate running at `t` (0 before the first entry). `points` sorted by time.
pub fn rate_at(points: &[RatePoint], t: Instant) -> Rate {
    points
        .iter()
        .take_while(|p| p.at <= t)
        .last()
        .map_or(Rate::ZERO, |p| p.rate)
}

/// Integrates the step function over [start, until]. `points` sorted by time; points outside
/// the span are clamped to it. The first non-zero rate is the starting rate, not a step.
pub fn summarise(points: &[RatePoint], start: Instant, until: Instant, max: Rate) -> DoseSummary {
    let until = until.max(start);
    // centi-mg/h x seconds: exact integer arithmetic; 14 mg/h for 30 days fits easily.
    let mut centi_seconds: i128 = 0;
    let mut seconds_at_max: i64 = 0;
    let mut highest = Rate::ZERO;
    let mut highest_first_at = None;
    let mut step_ups = 0;
    let mut step_downs = 0;
    let mut starting_rate = None;
    let mut prev = Rate::ZERO;

    for (i, p) in points.iter().enumerate() {
        let from = p.at.clamp(start, until);
        let to = points
            .get(i + 1)
            .map_or(until, |n| n.at.clamp(start, until));
        let secs = (to - from).num_seconds().max(0);
        centi_seconds += i128::from(p.rate.centi()) * i128::from(secs);
        if p.rate == max && !max.is_zero() {
            seconds_at_max += secs;
        }
        if p.rate > highest {
            highest = p.rate;
            highest_first_at = Some(p.at);
        }
        if starting_rate.is_none() {
            if !p.rate.is_zero() {
                starting_rate = Some(p.rate);
            }
        } else if p.rate > prev {
            step_ups += 1;
        } else if p.rate < prev {
            step_downs += 1;
        }
        prev = p.rate;
    }
    DoseSummary {
        total_dose_mg: centi_seconds as f64 / 100.0 / 3600.0,
        hours_at_max: seconds_at_max as f64 / 3600.0,
        highest,
        highest_first_at,
        current: prev,
        starting_rate,
        step_ups,
        step_downs,
    }
}

/// The corners of the rate step line for a chart: (hours since `start`, mg/h), flat between
/// changes, down to 0 at `until` when the course has ended.
pub fn step_line(
    points: &[RatePoint],
    start: Instant,
    until: Instant,
    ended: bool,
) -> Vec<(f64, f64)> {
    let hours = |t: Instant| (t - start).num_seconds() as f64 / 3600.0;
    let mut line = vec![(0.0, 0.0)];
    let mut prev = 0.0;
    for p in points {
        let x = hours(p.at).max(0.0);
        if line.last() != Some(&(x, prev)) {
            line.push((x, prev));
        }
        line.push((x, p.rate.mg_h()));
        prev = p.rate.mg_h();
    }
    let end_x = hours(until).max(0.0);
    line.push((end_x, prev));
    if ended && prev != 0.0 {
        line.push((end_x, 0.0));
    }
    line
}

/// The time of the last step up before `t` (a rise from any lower rate, including from 0).
pub fn last_step_up_before(points: &[RatePoint], t: Instant) -> Option<Instant> {
    let mut prev = Rate::ZERO;
    let mut last = None;
    for p in points.iter().take_while(|p| p.at <= t) {
        if p.rate > prev {
            last = Some(p.at);
        }
        prev = p.rate;
    }
    last
}

pub fn hours(d: Duration) -> f64 {
    d.num_seconds() as f64 / 3600.0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t(h: i64) -> Instant {
        chrono::Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap() + Duration::hours(h)
    }
    fn p(h: i64, mg: u32) -> RatePoint {
        RatePoint {
            at: t(h),
            rate: Rate::from_centi(mg * 100),
        }
    }
    const MAX: Rate = Rate::from_centi(1400);

    #[test]
    fn seven_days_at_two_then_fourteen() {
        // 2 mg/h for 24 h, 14 mg/h for the remaining 144 h.
        let pts = [p(0, 2), p(24, 14)];
        let s = summarise(&pts, t(0), t(168), MAX);
        assert_eq!(s.total_dose_mg, 2.0 * 24.0 + 14.0 * 144.0);
        assert_eq!(s.hours_at_max, 144.0);
        assert_eq!(s.highest, MAX);
        assert_eq!(s.highest_first_at, Some(t(24)));
        assert_eq!(s.starting_rate, Some(Rate::from_centi(200)));
        assert_eq!((s.step_ups, s.step_downs), (1, 0));
    }

    #[test]
    fn pauses_and_steps() {
        let pts = [p(1, 2), p(3, 4), p(5, 0), p(6, 4), p(7, 2), p(8, 2)];
        let s = summarise(&pts, t(0), t(10), MAX);
        // 2x2 + 4x2 + 0 + 4x1 + 2x3 = 22
        assert_eq!(s.total_dose_mg, 22.0);
        assert_eq!((s.step_ups, s.step_downs), (2, 2));
        assert_eq!(s.current, Rate::from_centi(200));
        assert_eq!(rate_at(&pts, t(0)), Rate::ZERO);
        assert_eq!(rate_at(&pts, t(5)), Rate::ZERO);
        assert_eq!(rate_at(&pts, t(6)), Rate::from_centi(400));
        assert_eq!(last_step_up_before(&pts, t(7)), Some(t(6)));
    }

    #[test]
    fn the_chart_line_is_a_step_function() {
        let pts = [p(0, 2), p(4, 4)];
        assert_eq!(
            step_line(&pts, t(0), t(24), true),
            vec![
                (0.0, 0.0),
                (0.0, 2.0),
                (4.0, 2.0),
                (4.0, 4.0),
                (24.0, 4.0),
                (24.0, 0.0)
            ]
        );
        assert_eq!(
            step_line(&pts, t(0), t(10), false).last(),
            Some(&(10.0, 4.0))
        );
    }

    #[test]
    fn a_running_course_counts_up_to_now() {
        let pts = [p(0, 3)];
        assert_eq!(summarise(&pts, t(0), t(2), MAX).total_dose_mg, 6.0);
        assert_eq!(summarise(&[], t(0), t(2), MAX).total_dose_mg, 0.0);
    }

    proptest! {
        /// The integral equals the sum over hours of the rate running in that hour when every
        /// change falls on a whole hour; it never exceeds max x duration.
        #[test]
        fn integral_matches_hourly_sum(changes in proptest::collection::vec((0i64..168, 0u32..=1400), 0..40)) {
            let mut pts: Vec<RatePoint> = changes.iter().map(|(h, c)| RatePoint { at: t(*h), rate: Rate::from_centi(*c) }).collect();
            pts.sort_by_key(|p| p.at);
            let s = summarise(&pts, t(0), t(168), MAX);
            let mut expected = 0.0;
            for h in 0..168 {
                expected += rate_at(&pts, t(h)).mg_h();
            }
            prop_assert!((s.total_dose_mg - expected).abs() < 1e-6, "{} vs {}", s.total_dose_mg, expected);
            prop_assert!(s.total_dose_mg <= 14.0 * 168.0 + 1e-9);
            prop_assert!(s.hours_at_max <= 168.0);
        }
    }
}
