//! The protocol a course runs under: the titration order and the outcome rules.
//!
//! A course stores this as a snapshot when it starts, so later edits of config.toml never
//! change the limits or the results of a course already running or finished.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::rate::Rate;
use super::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StartUnit {
    #[serde(rename = "mg/h")]
    MgPerH,
    #[serde(rename = "mg/kg/h")]
    MgPerKgPerH,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocol {
    pub name: String,
    pub drug: String,
    pub atc_code: String,
    pub route: String,
    pub start_rate: f64,
    pub start_rate_unit: StartUnit,
    pub increment_mg_h: Rate,
    pub min_step_interval_min: u32,
    pub max_rate_mg_h: Rate,
    pub end_point: String,
    pub duration_days: u32,
    pub check_interval_min: u32,
    pub nrs_interval_min: u32,
    pub responder_threshold: u8,
    pub t0_window_days: u32,
    pub t1_window_hours: u32,
    pub t2_planned_day: u32,
    pub t2_from_day: u32,
    pub t2_to_day: u32,
}

impl Protocol {
    /// The starting rate for a patient, if it can be known (per-kg needs a weight).
    pub fn start_rate_for(&self, weight_kg: Option<f64>) -> Option<Rate> {
        match self.start_rate_unit {
            StartUnit::MgPerH => Rate::from_mg_h(self.start_rate).ok(),
            StartUnit::MgPerKgPerH => {
                let w = weight_kg?;
                Rate::from_mg_h((self.start_rate * w * 100.0).round() / 100.0).ok()
            }
        }
    }

    pub fn start_rate_text(&self) -> String {
        let unit = match self.start_rate_unit {
            StartUnit::MgPerH => "mg/h",
            StartUnit::MgPerKgPerH => "mg/kg/h",
        };
        format!("{} {unit}", self.start_rate)
    }

    pub fn duration(&self) -> Duration {
        Duration::days(i64::from(self.duration_days))
    }

    pub fn check_interval(&self) -> Duration {
        Duration::minutes(i64::from(self.check_interval_min))
    }

    pub fn nrs_interval(&self) -> Duration {
        Duration::minutes(i64::from(self.nrs_interval_min))
    }

    pub fn min_step_interval(&self) -> Duration {
        Duration::minutes(i64::from(self.min_step_interval_min))
    }

    /// The canonical text stored with a course; equal protocols give equal text.
    pub fn snapshot(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_snapshot(text: &str) -> Result<Protocol, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// The highest maximum any protocol may have. KetCRPS-2's per-kilogram maximum
/// (0.2 mg/kg/h) comes to 25 mg/h at 125 kg; the ward's protocol holds 14 mg/h. A higher
/// figure is a typo (140 for 14) or a different treatment, not a version of this one.
pub const CEILING_MG_H: f64 = 25.0;

/// One stored version of a protocol, with its approval if it has one.
#[derive(Clone, Debug, PartialEq)]
pub struct ProtocolVersion {
    pub id: i64,
    pub digest: String,
    pub protocol: Protocol,
    pub created_at: Instant,
    pub created_by: String,
    pub approval: Option<Approval>,
}

/// An admin's approval of a version for new courses. `seq` orders approvals: the latest
/// approved version is the one in use, against which a new one is compared.
#[derive(Clone, Debug, PartialEq)]
pub struct Approval {
    pub seq: i64,
    pub at: Instant,
    pub by: String,
}

/// The newest approved version: the one in use.
pub fn in_use(versions: &[ProtocolVersion]) -> Option<&ProtocolVersion> {
    versions
        .iter()
        .filter(|v| v.approval.is_some())
        .max_by_key(|v| v.approval.as_ref().map_or(0, |a| a.seq))
}

/// One field that differs between two versions, worded for the admin who approves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub field: &'static str,
    pub from: String,
    pub to: String,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} -> {}", self.field, self.from, self.to)
    }
}

/// A protocol that cannot be a version of this titration order at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the protocol cannot be approved: {0}")]
pub struct NotAProtocol(pub String);

impl Protocol {
    /// sha256 of the snapshot: the version's identity.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        Sha256::digest(self.snapshot().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The limits a protocol must keep before anyone may approve it (config.toml checks
    /// the same when it is read; this holds on any other path a protocol may come from).
    pub fn check(&self) -> Result<(), NotAProtocol> {
        let bad = |s: String| Err(NotAProtocol(s));
        let max = self.max_rate_mg_h;
        if max.is_zero() || max.mg_h() > CEILING_MG_H {
            return bad(format!(
                "maximum {max} mg/h must be above 0 and at most {CEILING_MG_H} mg/h"
            ));
        }
        if self.increment_mg_h.is_zero() || self.increment_mg_h > max {
            return bad(format!(
                "increment {} mg/h must be above 0 and not above the maximum {max} mg/h",
                self.increment_mg_h
            ));
        }
        let start_ok = self.start_rate.is_finite()
            && self.start_rate > 0.0
            && match self.start_rate_unit {
                StartUnit::MgPerH => self.start_rate <= max.mg_h(),
                StartUnit::MgPerKgPerH => self.start_rate <= 1.0,
            };
        if !start_ok {
            return bad(format!(
                "starting rate {} is not above 0 and within the maximum",
                self.start_rate_text()
            ));
        }
        if self.duration_days == 0 || self.check_interval_min == 0 || self.nrs_interval_min == 0 {
            return bad("duration and check intervals must be above 0".into());
        }
        if !(self.t2_from_day <= self.t2_planned_day && self.t2_planned_day <= self.t2_to_day) {
            return bad("the T2 window must hold its planned day".into());
        }
        Ok(())
    }

    /// Every field that differs from `old`, in the order of the titration order.
    pub fn changes_from(&self, old: &Protocol) -> Vec<Change> {
        old.fields()
            .into_iter()
            .zip(self.fields())
            .filter(|((_, from), (_, to))| from != to)
            .map(|((field, from), (_, to))| Change { field, from, to })
            .collect()
    }

    /// Every field as the admin reads it; the snapshot holds these and nothing else, so two
    /// versions with different digests differ in at least one line.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let q = |s: &str| format!("\"{s}\"");
        let mg_h = |r: Rate| format!("{r} mg/h");
        let min = |m: u32| format!("{m} min");
        let day = |d: u32| format!("day {d}");
        vec![
            ("name", q(&self.name)),
            ("drug", q(&self.drug)),
            ("ATC code", q(&self.atc_code)),
            ("route", q(&self.route)),
            ("starting rate", self.start_rate_text()),
            ("increment", mg_h(self.increment_mg_h)),
            ("minimum step interval", min(self.min_step_interval_min)),
            ("maximum", mg_h(self.max_rate_mg_h)),
            ("end point", q(&self.end_point)),
            ("duration", format!("{} days", self.duration_days)),
            ("check interval", min(self.check_interval_min)),
            ("NRS interval", min(self.nrs_interval_min)),
            (
                "responder threshold",
                format!("{} points", self.responder_threshold),
            ),
            ("T0 window", format!("{} days", self.t0_window_days)),
            ("T1 window", format!("{} h", self.t1_window_hours)),
            ("T2 planned", day(self.t2_planned_day)),
            ("T2 window from", day(self.t2_from_day)),
            ("T2 window to", day(self.t2_to_day)),
        ]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// Each field of the snapshot, changed alone, changes the digest and shows as exactly
    /// one named change: no edit of config.toml's protocol goes unseen.
    #[test]
    fn every_field_changed_alone_is_one_named_change() {
        let base = Config::defaults().protocol;
        type Edit = fn(&mut Protocol);
        let edits: Vec<(&str, Edit)> = vec![
            ("name", |p| p.name.push('x')),
            ("drug", |p| p.drug.push('x')),
            ("ATC code", |p| p.atc_code.push('x')),
            ("route", |p| p.route.push('x')),
            ("starting rate", |p| p.start_rate += 0.5),
            ("starting rate", |p| {
                p.start_rate_unit = StartUnit::MgPerKgPerH
            }),
            ("increment", |p| p.increment_mg_h = Rate::from_centi(150)),
            ("minimum step interval", |p| p.min_step_interval_min += 1),
            ("maximum", |p| p.max_rate_mg_h = Rate::from_centi(1399)),
            ("end point", |p| p.end_point.push('x')),
            ("duration", |p| p.duration_days += 1),
            ("check interval", |p| p.check_interval_min += 1),
            ("NRS interval", |p| p.nrs_interval_min += 1),
            ("responder threshold", |p| p.responder_threshold += 1),
            ("T0 window", |p| p.t0_window_days += 1),
            ("T1 window", |p| p.t1_window_hours += 1),
            ("T2 planned", |p| p.t2_planned_day += 1),
            ("T2 window from", |p| p.t2_from_day -= 1),
            ("T2 window to", |p| p.t2_to_day += 1),
        ];
        // Every field of the struct is edited above (the snapshot's keys).
        let keys =
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&base.snapshot())
                .unwrap()
                .len();
        assert_eq!(keys, edits.len());
        for (field, edit) in edits {
            let mut p = base.clone();
            edit(&mut p);
            assert_ne!(p.digest(), base.digest(), "{field}");
            let changes = p.changes_from(&base);
            assert_eq!(changes.len(), 1, "{field}: {changes:?}");
            assert_eq!(changes[0].field, field);
        }
        assert!(base.changes_from(&base).is_empty());
        let mut p = base.clone();
        p.max_rate_mg_h = Rate::from_centi(2000);
        assert_eq!(
            p.changes_from(&base)[0].to_string(),
            "maximum 14 mg/h -> 20 mg/h"
        );
    }

    #[test]
    fn a_protocol_beyond_the_limits_cannot_be_approved() {
        let base = Config::defaults().protocol;
        assert!(base.check().is_ok());
        let bad: Vec<fn(&mut Protocol)> = vec![
            |p| p.max_rate_mg_h = Rate::from_centi(2501),
            |p| p.max_rate_mg_h = Rate::from_centi(5000),
            |p| p.max_rate_mg_h = Rate::ZERO,
            |p| p.increment_mg_h = Rate::ZERO,
            |p| p.increment_mg_h = Rate::from_centi(1401),
            |p| p.start_rate = 14.5,
            |p| p.start_rate = 0.0,
            |p| p.start_rate = f64::NAN,
            |p| p.duration_days = 0,
            |p| p.t2_planned_day = 50,
        ];
        for edit in bad {
            let mut p = base.clone();
            edit(&mut p);
            assert!(p.check().is_err(), "{p:?}");
        }
        let mut p = base.clone();
        p.max_rate_mg_h = Rate::from_centi(2500);
        assert!(p.check().is_ok());
    }
}
