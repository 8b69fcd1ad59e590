//! `titrate history`: every entry with its versions, late and voided marks.

use chrono_tz::Tz;

use crate::domain::entry::Versions;
use crate::domain::patient::differences_text;
use crate::domain::record::PatientRecord;
use crate::domain::time::local_text;

pub fn text(rec: &PatientRecord, zone: Tz) -> String {
    let p = &rec.patient.data;
    let mut out = format!("{} (MRN {}), born {}\n", p.name, p.mrn, p.birth_date);
    out.push_str(&corrections(rec, zone));
    if rec.entries.is_empty() {
        out.push_str("no entries\n");
        return out;
    }
    let versions = Versions::new(&rec.entries);
    let mut entries: Vec<_> = rec.entries.iter().collect();
    entries.sort_by_key(|e| (e.happened_at, e.id));
    out.push_str("entry  happened          recorded          by     course  what\n");
    for e in entries {
        let mut marks = Vec::new();
        if e.late {
            marks.push("LATE".to_string());
        }
        if let Some(prev) = e.supersedes {
            marks.push(format!(
                "amends {prev}: {}",
                e.amend_reason.as_deref().unwrap_or("")
            ));
        }
        if !versions.is_current(e.id) {
            marks.push("SUPERSEDED".to_string());
        }
        if let Some(v) = &e.void {
            marks.push(format!(
                "VOIDED by {} at {}: {}",
                v.voided_by,
                local_text(v.voided_at, zone),
                v.reason
            ));
        }
        let course = e.course_id.map_or("-".to_string(), |c| c.to_string());
        out.push_str(&format!(
            "{:<6} {}  {}  {:<6} {:<7} {}",
            e.id,
            local_text(e.happened_at, zone),
            local_text(e.recorded_at, zone),
            e.recorded_by,
            course,
            e.data.describe()
        ));
        if !marks.is_empty() {
            out.push_str(&format!("  [{}]", marks.join("; ")));
        }
        out.push('\n');
    }
    out
}

/// The patient's details as first recorded and each correction, old and new values side by
/// side with who, when and why. Empty when the details were never corrected.
pub fn corrections(rec: &PatientRecord, zone: Tz) -> String {
    let mut out = String::new();
    for (old, new) in rec.corrections() {
        if out.is_empty() {
            let first = &rec.versions[0];
            out.push_str(&format!(
                "details first recorded by {} at {}\n",
                first.recorded_by,
                local_text(first.recorded_at, zone)
            ));
        }
        out.push_str(&format!(
            "details version {} by {} at {}: {} [reason: {}]\n",
            new.version,
            new.recorded_by,
            local_text(new.recorded_at, zone),
            differences_text(&old.data, &new.data),
            new.reason.as_deref().unwrap_or_default()
        ));
    }
    out
}
