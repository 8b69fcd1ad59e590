//! What titrate prints: status, history, cohort table. Pure functions of loaded records.

pub mod cohort;
pub mod history;
pub mod status;

use chrono::SecondsFormat;
use chrono_tz::Tz;

use crate::domain::time::Instant;

/// RFC 3339 in the ward's zone, with its offset: unambiguous and readable.
pub fn rfc3339_local(t: Instant, zone: Tz) -> String {
    t.with_timezone(&zone)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

pub fn date_local(t: Instant, zone: Tz) -> String {
    t.with_timezone(&zone).format("%Y-%m-%d").to_string()
}

/// "30/48 (62.5%)": a proportion always with its denominator.
pub fn fraction(part: usize, whole: usize) -> String {
    if whole == 0 {
        format!("{part}/{whole}")
    } else {
        format!(
            "{part}/{whole} ({:.1}%)",
            part as f64 * 100.0 / whole as f64
        )
    }
}

/// Two decimals, trailing zeros dropped: 6, 6.5, 6.25.
pub fn num(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}
