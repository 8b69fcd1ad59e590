//! Timepoints T0/T1/T2 read from a patient's scores, and responder status.

use chrono::Duration;
use serde::Serialize;

use super::entry::EntryId;
use super::protocol::Protocol;
use super::time::Instant;
use super::values::{Nrs, Timepoint};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score {
    pub id: EntryId,
    pub at: Instant,
    pub score: Nrs,
    pub tag: Option<Timepoint>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Window {
    pub from: Instant,
    pub to: Instant,
}

impl Window {
    pub fn contains(&self, t: Instant) -> bool {
        self.from <= t && t <= self.to
    }
}

pub fn t0_window(p: &Protocol, start: Instant) -> Window {
    Window {
        from: start - Duration::days(i64::from(p.t0_window_days)),
        to: start,
    }
}

pub fn t1_window(p: &Protocol, end: Instant) -> Window {
    let h = Duration::hours(i64::from(p.t1_window_hours));
    Window {
        from: end - h,
        to: end + h,
    }
}

pub fn t2_window(p: &Protocol, end: Instant) -> Window {
    Window {
        from: end + Duration::days(i64::from(p.t2_from_day)),
        to: end + Duration::days(i64::from(p.t2_to_day)),
    }
}

pub fn t2_planned(p: &Protocol, end: Instant) -> Instant {
    end + Duration::days(i64::from(p.t2_planned_day))
}

/// Inside a window the latest score tagged with the timepoint wins. Without one, T0 and T1 take
/// the last untagged score in the window and T2 the untagged one closest to its planned day
/// (the later on a tie). A score tagged with another timepoint belongs to that one only.
pub fn pick(
    scores: &[Score],
    tp: Timepoint,
    window: Window,
    planned: Option<Instant>,
) -> Option<Score> {
    let inside = || scores.iter().filter(|s| window.contains(s.at));
    let latest = |it: &mut dyn Iterator<Item = &Score>| it.max_by_key(|s| (s.at, s.id)).copied();
    if let Some(s) = latest(&mut inside().filter(|s| s.tag == Some(tp))) {
        return Some(s);
    }
    let mut untagged = inside().filter(|s| s.tag.is_none());
    match (tp, planned) {
        (Timepoint::T2, Some(day)) => untagged
            .min_by_key(|s| {
                (
                    (s.at - day).num_seconds().abs(),
                    std::cmp::Reverse((s.at, s.id)),
                )
            })
            .copied(),
        _ => latest(&mut untagged),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Timepoints {
    pub t0: Option<Score>,
    pub t1: Option<Score>,
    pub t2: Option<Score>,
}

impl Serialize for Score {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.score.serialize(s)
    }
}

/// `end` is None while the course runs: T1 and T2 cannot be known yet.
pub fn timepoints(
    p: &Protocol,
    scores: &[Score],
    start: Instant,
    end: Option<Instant>,
) -> Timepoints {
    Timepoints {
        t0: pick(scores, Timepoint::T0, t0_window(p, start), None),
        t1: end.and_then(|e| pick(scores, Timepoint::T1, t1_window(p, e), None)),
        t2: end.and_then(|e| {
            pick(
                scores,
                Timepoint::T2,
                t2_window(p, e),
                Some(t2_planned(p, e)),
            )
        }),
    }
}

/// Why a patient is or is not a responder, for summaries and history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Responder {
    /// NRS dropped by at least the threshold.
    ByScore { t0: u8, tx: u8, threshold: u8 },
    /// Treatment reported successful at that timepoint.
    ByReport,
    /// Report "not successful" and no qualifying drop.
    NotByReport,
    /// Both scores known, the drop is below the threshold, and no successful report.
    NotByScore { t0: u8, tx: u8, threshold: u8 },
    /// No score pair and no report.
    Unknown,
}

impl Responder {
    /// true / false / None (unknown): the one answer every report uses.
    pub fn is_responder(self) -> Option<bool> {
        match self {
            Responder::ByScore { .. } | Responder::ByReport => Some(true),
            Responder::NotByReport | Responder::NotByScore { .. } => Some(false),
            Responder::Unknown => None,
        }
    }

    pub fn explain(self) -> String {
        match self {
            Responder::ByScore { t0, tx, threshold } => {
                format!(
                    "responder: NRS {t0} to {tx}, a drop of {}, at least {threshold}",
                    i16::from(t0) - i16::from(tx)
                )
            }
            Responder::ByReport => "responder: treatment reported successful".to_string(),
            Responder::NotByReport => {
                "non-responder: treatment reported not successful".to_string()
            }
            Responder::NotByScore { t0, tx, threshold } => format!(
                "non-responder: NRS {t0} to {tx}, a drop of {}, less than {threshold}, and no report of success",
                i16::from(t0) - i16::from(tx)
            ),
            Responder::Unknown => "unknown: no score at this timepoint and no report".to_string(),
        }
    }
}

/// Responder at T1 or T2 (domain.md): NRS drop >= threshold from T0, or reported successful.
pub fn responder(
    t0: Option<Nrs>,
    tx: Option<Nrs>,
    reported: Option<bool>,
    threshold: u8,
) -> Responder {
    if let (Some(a), Some(b)) = (t0, tx) {
        let (a, b) = (a.get(), b.get());
        if i16::from(a) - i16::from(b) >= i16::from(threshold) {
            return Responder::ByScore {
                t0: a,
                tx: b,
                threshold,
            };
        }
    }
    match (reported, t0, tx) {
        (Some(true), _, _) => Responder::ByReport,
        (Some(false), _, _) => Responder::NotByReport,
        (None, Some(a), Some(b)) => Responder::NotByScore {
            t0: a.get(),
            tx: b.get(),
            threshold,
        },
        _ => Responder::Unknown,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Config;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn n(v: i64) -> Nrs {
        Nrs::new(v).unwrap()
    }
    fn day(d: i64) -> Instant {
        chrono::Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap() + Duration::days(d)
    }
    fn s(id: i64, at: Instant, v: i64, tag: Option<Timepoint>) -> Score {
        Score {
            id,
            at,
            score: n(v),
            tag,
        }
    }

    #[test]
    fn responder_cases_from_domain_md() {
        assert_eq!(
            responder(Some(n(8)), Some(n(6)), None, 2).is_responder(),
            Some(true)
        );
        assert_eq!(
            responder(Some(n(8)), Some(n(7)), None, 2).is_responder(),
            Some(false)
        );
        assert_eq!(
            responder(Some(n(8)), Some(n(7)), Some(true), 2),
            Responder::ByReport
        );
        assert_eq!(
            responder(None, None, Some(false), 2),
            Responder::NotByReport
        );
        assert_eq!(responder(None, None, None, 2), Responder::Unknown);
        assert_eq!(responder(Some(n(8)), None, None, 2), Responder::Unknown);
        assert_eq!(responder(None, Some(n(2)), None, 2), Responder::Unknown);
        // A drop of 2 counts even when the report says otherwise: the definition is an "or".
        assert!(matches!(
            responder(Some(n(8)), Some(n(6)), Some(false), 2),
            Responder::ByScore { .. }
        ));
        // A rise in pain is not a response.
        assert_eq!(
            responder(Some(n(3)), Some(n(9)), None, 2).is_responder(),
            Some(false)
        );
        assert_eq!(
            responder(Some(n(8)), Some(n(5)), None, 3).is_responder(),
            Some(true)
        );
    }

    #[test]
    fn windows_pick_tagged_then_last_then_closest() {
        let p = Config::defaults().protocol;
        let start = day(0);
        let end = day(7);
        let scores = [
            s(1, day(-10), 9, None),                    // outside every window
            s(2, day(-2), 8, None),                     // T0 candidate
            s(3, day(-1), 7, None),                     // T0: last untagged
            s(4, day(6) + Duration::hours(1), 5, None), // inside T1 window (end - 23h)
            s(5, day(7) + Duration::hours(2), 4, None), // T1: last in window
            s(6, day(7 + 25), 6, None),                 // T2 candidates: day 25 after end
            s(7, day(7 + 31), 3, None), // day 31: closer to 28 is 25 (3 d) vs 31 (3 d): tie -> later
        ];
        let tp = timepoints(&p, &scores, start, Some(end));
        assert_eq!(tp.t0.unwrap().id, 3);
        assert_eq!(tp.t1.unwrap().id, 5);
        assert_eq!(tp.t2.unwrap().id, 7);

        let mut tagged = scores.to_vec();
        tagged.push(s(8, day(-3), 9, Some(Timepoint::T0)));
        tagged.push(s(9, day(7 + 22), 8, Some(Timepoint::T2)));
        let tp = timepoints(&p, &tagged, start, Some(end));
        assert_eq!(
            tp.t0.unwrap().id,
            8,
            "a tagged score wins over a later untagged one"
        );
        assert_eq!(tp.t2.unwrap().id, 9);
        let running = timepoints(&p, &tagged, start, None);
        assert!(running.t1.is_none() && running.t2.is_none());
    }

    #[test]
    fn a_score_tagged_outside_its_window_counts_for_nothing() {
        let p = Config::defaults().protocol;
        let scores = [s(1, day(-30), 8, Some(Timepoint::T0))];
        assert!(timepoints(&p, &scores, day(0), Some(day(7))).t0.is_none());
    }

    proptest! {
        #[test]
        fn responder_matches_its_definition(t0 in proptest::option::of(0i64..=10), tx in proptest::option::of(0i64..=10), rep in proptest::option::of(any::<bool>()), th in 1u8..=10) {
            let r = responder(t0.map(n), tx.map(n), rep, th).is_responder();
            let drop_ok = matches!((t0, tx), (Some(a), Some(b)) if a - b >= i64::from(th));
            let expected = if drop_ok || rep == Some(true) {
                Some(true)
            } else if rep == Some(false) || (t0.is_some() && tx.is_some()) {
                Some(false)
            } else {
                None
            };
            prop_assert_eq!(r, expected);
        }
    }
}
