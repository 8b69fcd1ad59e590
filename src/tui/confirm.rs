//! What the terminal asks before a save that finishes something: ending a course. Read from
//! the record as it stands when Enter is pressed, with the time and reason the form holds.

use crate::cli::Edge;
use crate::config::Config;
use crate::domain::course_rules::{check_end, check_end_reason, end_gaps, whole_hours};
use crate::domain::rules::RuleError;
use crate::domain::time::{Instant, check_not_future, local_text};
use crate::domain::values::EndReason;
use crate::store::Db;
use crate::strings;
use crate::ward::{WardError, load_record};

use super::form::Form;

/// The lines of the end-course confirmation, or the refusal (field key, message) that sends
/// the user back to a field: no reason chosen, a time that does not parse, "completed" on an
/// early end.
pub fn end_course(
    form: &Form,
    db: &mut Db,
    cfg: &Config,
    now: Instant,
) -> Result<Vec<String>, (&'static str, String)> {
    let zone = cfg.timezone;
    let reason_text = form.value("reason");
    if reason_text.is_empty() {
        return Err(("reason", strings::CHOOSE_REASON.to_string()));
    }
    let reason = Edge::choice::<EndReason>(reason_text).map_err(|e| ("reason", e.to_string()))?;
    let at = form
        .time_at(&Edge { zone, now }, now)
        .map_err(|e| ("time", e.to_string()))?;
    let rec = db
        .read(|r| load_record(r, &form.mrn))
        .map_err(|e| ("", e.to_string()))?;
    let view = rec
        .latest_course()
        .ok_or_else(|| ("", WardError::from(RuleError::NoCourse).to_string()))?;
    // The refusals a save would give, before the question rather than after it.
    check_not_future(at, now, zone).map_err(|e| ("time", e.to_string()))?;
    if let Some(end) = view.ended_at() {
        let e = WardError::from(RuleError::AlreadyEnded(local_text(end, zone)));
        return Err(("", e.to_string()));
    }
    check_end(&view, None, at, zone).map_err(|e| ("time", e.to_string()))?;
    check_end_reason(&view, at, reason, zone).map_err(|e| ("reason", e.to_string()))?;
    let Some(gaps) = end_gaps(&view, &rec.scores(), at) else {
        return Err(("", WardError::from(RuleError::NoCourse).to_string()));
    };
    let mut lines = vec![strings::end_confirm_head(
        &local_text(at, zone),
        reason.as_str(),
    )];
    let mut missing = vec![];
    if gaps.no_t0 {
        missing.push(strings::END_NO_T0.to_string());
    }
    if gaps.no_t1 {
        missing.push(strings::END_NO_T1.to_string());
    }
    if !gaps.rate.is_zero() {
        missing.push(strings::end_rate_not_zero(&gaps.rate.to_string()));
    }
    if let Some(early) = gaps.early {
        missing.push(strings::end_early(
            whole_hours(early),
            &local_text(gaps.planned_end, zone),
        ));
    }
    if missing.is_empty() {
        lines.push(strings::END_NOTHING_MISSING.to_string());
    } else {
        lines.push(strings::END_STILL_MISSING.to_string());
        lines.extend(missing);
    }
    lines.push(strings::END_CONFIRM_KEYS.to_string());
    Ok(lines)
}
