//! The protocol a course runs under: the titration order and the outcome rules.
//!
//! A course stores this as a snapshot when it starts, so later edits of config.toml never
//! change the limits or the results of a course already running or finished.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::rate::Rate;

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
