//! What needs attention on the ward: derived from a course and the clock, never stored.

use chrono::Duration;
use serde::Serialize;

use super::entry::EntryData;
use super::outcome::Score;
use super::rate::Rate;
use super::record::{CourseState, CourseView};
use super::time::Instant;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Watch {
    /// Day N of the planned duration, counting from 1.
    pub day: i64,
    pub hours_left: f64,
    pub rate: Rate,
    pub share_of_max: f64,
    pub last_check: Option<Instant>,
    pub last_nrs: Option<Score>,
    pub side_effects_24h: usize,
    pub check_overdue: bool,
    pub nrs_due: bool,
    pub at_max: bool,
    pub ends_within_24h: bool,
}

impl Watch {
    pub fn needs_attention(&self) -> bool {
        self.check_overdue || self.nrs_due
    }
}

/// Flags of an active course at `now`. The last rate entry (a change or the hourly check)
/// proves the pump was seen; the NRS reassessment counts from the last score or the start.
pub fn watch(view: &CourseView, scores: &[Score], now: Instant) -> Option<Watch> {
    if view.state() != CourseState::Active {
        return None;
    }
    let p = view.protocol();
    let start = view.started_at()?;
    let planned_end = start + p.duration();
    let points = view.rate_points();
    let rate = super::dose::rate_at(&points, now);
    let last_check = view.rates.iter().map(|e| e.happened_at).max();
    let last_nrs = scores
        .iter()
        .filter(|s| s.at <= now)
        .max_by_key(|s| (s.at, s.id))
        .copied();
    let since_check = now - last_check.unwrap_or(start);
    let nrs_from = last_nrs.map_or(start, |s| s.at.max(start));
    let max = p.max_rate_mg_h;
    Some(Watch {
        day: (now - start).num_days() + 1,
        hours_left: (planned_end - now).num_minutes() as f64 / 60.0,
        rate,
        share_of_max: if max.is_zero() {
            0.0
        } else {
            rate.mg_h() / max.mg_h()
        },
        last_check,
        last_nrs,
        side_effects_24h: view
            .side_effects
            .iter()
            .filter(|e| {
                e.happened_at > now - Duration::hours(24)
                    && matches!(e.data, EntryData::SideEffect { .. })
            })
            .count(),
        check_overdue: since_check > p.check_interval(),
        nrs_due: now - nrs_from > p.nrs_interval(),
        at_max: rate == max,
        ends_within_24h: planned_end - now <= Duration::hours(24),
    })
}
