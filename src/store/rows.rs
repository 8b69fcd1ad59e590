//! Rows to domain values and back, and the canonical text of a row for the audit log.

use rusqlite::Row;
use rusqlite::types::ValueRef;

use super::audit::sha256_hex;
use super::{Column, ColumnType, NewPatient, Patient, PatientVersion, Staff, StoreError};
use crate::domain::entry::{Entry, EntryData, EntryKind, Void};
use crate::domain::marks::{Mark, MarkKind};
use crate::domain::outcome::Score;
use crate::domain::rate::Rate;
use crate::domain::time::{Instant, from_db, to_db};
use crate::domain::values::Nrs;

fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}

/// A text column without copying it: reports decode hundreds of thousands of rows.
fn text_at<'r>(row: &'r Row, i: usize) -> Result<Option<&'r str>, StoreError> {
    match row.get_ref(i)? {
        ValueRef::Null => Ok(None),
        ValueRef::Text(t) => std::str::from_utf8(t)
            .map(Some)
            .map_err(|_| corrupt(format!("column {i} is not UTF-8"))),
        _ => Err(corrupt(format!("column {i} is not text"))),
    }
}

/// A stored time in column `i`.
pub fn instant_at(row: &Row, i: usize) -> Result<Instant, StoreError> {
    instant(text_at(row, i)?.ok_or_else(|| corrupt(format!("time missing in column {i}")))?)
}

pub fn instant(s: &str) -> Result<Instant, StoreError> {
    from_db(s).ok_or_else(|| corrupt(format!("\"{s}\" is not a stored time")))
}

pub(super) fn word<T: std::str::FromStr>(s: &str) -> Result<T, StoreError> {
    s.parse()
        .map_err(|_| corrupt(format!("unexpected value \"{s}\"")))
}

pub(super) fn opt_word<T: std::str::FromStr>(s: Option<String>) -> Result<Option<T>, StoreError> {
    s.map(|v| word(&v)).transpose()
}

pub(super) fn date(s: &str) -> Result<chrono::NaiveDate, StoreError> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| corrupt(format!("\"{s}\" is not a stored date")))
}

pub const STAFF_COLUMNS: &str = "id, name, role, pin_hash, active, failed_pins, locked";

pub fn staff(row: &Row) -> Result<Staff, StoreError> {
    Ok(Staff {
        id: row.get(0)?,
        name: row.get(1)?,
        role: word(&row.get::<_, String>(2)?)?,
        pin_hash: row.get(3)?,
        active: row.get::<_, i64>(4)? == 1,
        failed_pins: u32::try_from(row.get::<_, i64>(5)?).unwrap_or(u32::MAX),
        locked: row.get::<_, i64>(6)? == 1,
    })
}

pub const PATIENT_COLUMNS: &str = "id, mrn, name, birth_date, sex, weight_kg, crps_type, crps_onset, limb, created_at, created_by";

pub fn patient(row: &Row) -> Result<Patient, StoreError> {
    Ok(Patient {
        id: row.get(0)?,
        data: details(row)?,
        created_at: instant_at(row, 9)?,
        created_by: row.get(10)?,
    })
}

/// The columns of `patient_version` that `patient_version` decodes; the patient row as
/// version 0 is selected into the same shape.
pub const PATIENT_VERSION_COLUMNS: &str = "version, mrn, name, birth_date, sex, weight_kg, crps_type, crps_onset, limb, reason, recorded_at, recorded_by";

/// A patient's details in columns 1 to 8 (mrn to limb): the shape both the patient row and
/// each of its versions are selected into.
fn details(row: &Row) -> Result<NewPatient, StoreError> {
    Ok(NewPatient {
        mrn: row.get(1)?,
        name: row.get(2)?,
        birth_date: date(&row.get::<_, String>(3)?)?,
        sex: word(&row.get::<_, String>(4)?)?,
        weight_kg: row.get(5)?,
        crps_type: opt_word(row.get(6)?)?,
        crps_onset: row
            .get::<_, Option<String>>(7)?
            .map(|s| date(&s))
            .transpose()?,
        limb: row.get(8)?,
    })
}

pub fn patient_version(row: &Row) -> Result<PatientVersion, StoreError> {
    Ok(PatientVersion {
        version: u32::try_from(row.get::<_, i64>(0)?)
            .map_err(|_| corrupt("patient version out of range"))?,
        data: details(row)?,
        reason: row.get(9)?,
        recorded_at: instant_at(row, 10)?,
        recorded_by: row.get(11)?,
    })
}

/// What `entry` decodes, from `entry e LEFT JOIN void v`.
pub const ENTRY_COLUMNS: &str = "e.id, e.patient_id, e.course_id, e.kind, e.supersedes, \
     e.amend_reason, e.happened_at, e.recorded_at, e.recorded_by, e.late, e.rate_centi, \
     e.confirmed, e.confirm_reason, e.score, e.timepoint, e.effect, e.detail, e.severity, \
     e.action, e.successful, e.end_reason, e.bed, v.reason, v.voided_at, v.voided_by";

pub fn entry_select() -> String {
    format!("SELECT {ENTRY_COLUMNS} FROM entry e LEFT JOIN void v ON v.entry_id = e.id")
}

pub fn entry(row: &Row) -> Result<Entry, StoreError> {
    let kind_text: String = row.get(3)?;
    let kind = EntryKind::parse(&kind_text)
        .ok_or_else(|| corrupt(format!("unknown entry kind \"{kind_text}\"")))?;
    let rate = || rate(row.get(10)?);
    let need = |s: Option<String>, what: &str| s.ok_or_else(|| corrupt(format!("{what} missing")));
    let data = match kind {
        EntryKind::CourseStart => EntryData::CourseStart { bed: row.get(21)? },
        EntryKind::Rate => EntryData::Rate {
            rate: rate()?,
            confirmed: row.get::<_, Option<i64>>(11)? == Some(1),
            confirm_reason: row.get(12)?,
        },
        EntryKind::Nrs => {
            let s: i64 = row.get(13)?;
            EntryData::Nrs {
                score: Nrs::new(s).map_err(|e| corrupt(e.to_string()))?,
                timepoint: opt_word(row.get(14)?)?,
            }
        }
        EntryKind::SideEffect => EntryData::SideEffect {
            effect: need(row.get(15)?, "side effect kind")?,
            detail: row.get(16)?,
            severity: word(&need(row.get(17)?, "severity")?)?,
            action: word(&need(row.get(18)?, "action")?)?,
            rate_at: rate()?,
        },
        EntryKind::Success => EntryData::Success {
            timepoint: word(&need(row.get(14)?, "timepoint")?)?,
            successful: row.get::<_, Option<i64>>(19)? == Some(1),
        },
        EntryKind::CourseEnd => EntryData::CourseEnd {
            reason: word(&need(row.get(20)?, "end reason")?)?,
        },
    };
    let void = match row.get::<_, Option<String>>(22)? {
        Some(reason) => Some(Void {
            reason,
            voided_at: instant_at(row, 23)?,
            voided_by: row.get(24)?,
        }),
        None => None,
    };
    Ok(Entry {
        id: row.get(0)?,
        patient_id: row.get(1)?,
        course_id: row.get(2)?,
        supersedes: row.get(4)?,
        amend_reason: row.get(5)?,
        happened_at: instant_at(row, 6)?,
        recorded_at: instant_at(row, 7)?,
        recorded_by: row.get(8)?,
        late: row.get::<_, i64>(9)? == 1,
        void,
        data,
    })
}

/// One stored value as any backend reads it, for the canonical content: what SQLite's
/// dynamic types can hold, and a value of a type titrate never declares (a PostgreSQL column
/// whose type was changed behind titrate's back), named by that type and given as text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
    Other { kind: &'a str, text: &'a str },
}

impl<'a> From<ValueRef<'a>> for Value<'a> {
    fn from(v: ValueRef<'a>) -> Value<'a> {
        match v {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(r) => Value::Real(r),
            ValueRef::Text(t) => Value::Text(t),
            ValueRef::Blob(b) => Value::Blob(b),
        }
    }
}

/// A row as canonical JSON: `columns` (the row's columns, in that order) as an object with
/// its keys sorted by byte, each value written from its declared type (see
/// [`ColumnType`]). A column added later is left out while it is NULL. The PIN hash is
/// reduced to its digest so that the audit log, which staff may read, never holds it.
pub fn canonical(row: &Row, columns: &[Column]) -> Result<String, StoreError> {
    let mut values = Vec::with_capacity(columns.len());
    for i in 0..columns.len() {
        values.push(Value::from(row.get_ref(i)?));
    }
    Ok(canonical_values(&values, columns))
}

/// The canonical content of one row from its values, `values[i]` being column `columns[i]`:
/// the one formatter every backend uses, so that the same row gives the same bytes.
pub fn canonical_values(values: &[Value], columns: &[Column]) -> String {
    let mut fields: Vec<(String, String)> = Vec::with_capacity(columns.len());
    for (col, v) in columns.iter().zip(values.iter().copied()) {
        if col.later && v == Value::Null {
            continue;
        }
        let (name, value) = match col.ty {
            ColumnType::Secret => {
                let digest = match v {
                    Value::Text(t) => sha256_hex(t),
                    _ => String::new(),
                };
                (format!("{}_sha256", col.name), json_string(&digest))
            }
            ty => (col.name.to_string(), canonical_value(ty, v)),
        };
        fields.push((name, value));
    }
    fields.sort();
    let mut out = String::from("{");
    for (n, (name, value)) in fields.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(&json_string(name));
        out.push(':');
        out.push_str(value);
    }
    out.push('}');
    out
}

fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn json_real(v: f64) -> String {
    serde_json::Value::from(v).to_string()
}

fn canonical_value(ty: ColumnType, v: Value) -> String {
    match (ty, v) {
        (_, Value::Null) => "null".into(),
        (ColumnType::Integer, Value::Integer(i)) => i.to_string(),
        (ColumnType::Real, Value::Real(r)) => json_real(r),
        // SQLite may keep a whole real as an integer on disk; another backend holds a double.
        #[allow(clippy::cast_precision_loss)]
        (ColumnType::Real, Value::Integer(i)) => json_real(i as f64),
        (ColumnType::Text | ColumnType::Secret, Value::Text(t)) => {
            json_string(&String::from_utf8_lossy(t))
        }
        (_, other) => {
            let (kind, value) = match other {
                Value::Integer(i) => ("integer", i.to_string()),
                Value::Real(r) => ("real", json_real(r)),
                Value::Text(t) => ("text", json_string(&String::from_utf8_lossy(t))),
                Value::Blob(b) => ("blob", json_string(&sha256_hex(b))),
                Value::Other { kind, text } => (kind, json_string(text)),
                Value::Null => ("null", "null".into()),
            };
            format!("{{\"stored_as\":{},\"value\":{value}}}", json_string(kind))
        }
    }
}

/// A stored rate in hundredths of a mg/h.
pub fn rate(centi: i64) -> Result<Rate, StoreError> {
    u32::try_from(centi)
        .map(Rate::from_centi)
        .map_err(|_| corrupt(format!("rate {centi} out of range")))
}

/// id, course_id, kind, happened_at, timepoint, successful of a start, end or success entry.
pub fn mark(row: &Row) -> Result<Mark, StoreError> {
    let what = match text_at(row, 2)?.unwrap_or_default() {
        "course-start" => MarkKind::Start,
        "course-end" => MarkKind::End,
        "success" => MarkKind::Report {
            timepoint: word(text_at(row, 4)?.ok_or_else(|| corrupt("timepoint missing"))?)?,
            successful: row.get::<_, Option<i64>>(5)? == Some(1),
        },
        other => return Err(corrupt(format!("\"{other}\" is not a course mark"))),
    };
    Ok(Mark {
        id: row.get(0)?,
        course_id: row.get(1)?,
        at: instant_at(row, 3)?,
        what,
    })
}

/// id, happened_at, score, timepoint of a pain score, from column `first` on.
pub fn score(row: &Row, first: usize) -> Result<Score, StoreError> {
    let s: i64 = row.get(first + 2)?;
    Ok(Score {
        id: row.get(first)?,
        at: instant_at(row, first + 1)?,
        score: Nrs::new(s).map_err(|e| corrupt(e.to_string()))?,
        tag: text_at(row, first + 3)?.map(word).transpose()?,
    })
}

/// An entry's kind-specific columns as every backend stores them: each kind fills its own,
/// the rest stay NULL.
#[derive(Debug, Default)]
pub struct EntryColumns<'a> {
    pub rate_centi: Option<i64>,
    pub confirmed: Option<i64>,
    pub confirm_reason: Option<&'a str>,
    pub score: Option<i64>,
    pub timepoint: Option<&'a str>,
    pub effect: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub severity: Option<&'a str>,
    pub action: Option<&'a str>,
    pub successful: Option<i64>,
    pub end_reason: Option<&'a str>,
    pub bed: Option<&'a str>,
}

impl<'a> EntryColumns<'a> {
    pub fn of(data: &'a EntryData) -> EntryColumns<'a> {
        let mut c = EntryColumns::default();
        match data {
            EntryData::CourseStart { bed } => c.bed = bed.as_deref(),
            EntryData::Rate {
                rate,
                confirmed,
                confirm_reason,
            } => {
                c.rate_centi = Some(i64::from(rate.centi()));
                c.confirmed = Some(i64::from(*confirmed));
                c.confirm_reason = confirm_reason.as_deref();
            }
            EntryData::Nrs { score, timepoint } => {
                c.score = Some(i64::from(score.get()));
                c.timepoint = timepoint.map(|t| t.as_str());
            }
            EntryData::SideEffect {
                effect,
                detail,
                severity,
                action,
                rate_at,
            } => {
                c.effect = Some(effect);
                c.detail = detail.as_deref();
                c.severity = Some(severity.as_str());
                c.action = Some(action.as_str());
                c.rate_centi = Some(i64::from(rate_at.centi()));
            }
            EntryData::Success {
                timepoint,
                successful,
            } => {
                c.timepoint = Some(timepoint.as_str());
                c.successful = Some(i64::from(*successful));
            }
            EntryData::CourseEnd { reason } => c.end_reason = Some(reason.as_str()),
        }
        c
    }
}

/// A window bound in the stored form, always 20 characters. Every stored time is one, so a
/// bound beyond the years 0000-9999 is clamped to that range without changing what a window
/// finds.
pub fn window_bound(t: Instant) -> String {
    let s = to_db(t);
    match s.len() {
        20 => s,
        _ if s.starts_with('-') => "0000-01-01T00:00:00Z".to_string(),
        _ => "9999-12-31T23:59:59Z".to_string(),
    }
}

#[cfg(test)]
mod window_bound_tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn window_bounds_are_twenty_characters_and_clamp_beyond_the_stored_years() {
        let t = chrono::Utc.with_ymd_and_hms(2026, 3, 1, 7, 0, 0).unwrap();
        assert_eq!(window_bound(t), "2026-03-01T07:00:00Z");
        let early = chrono::Utc.with_ymd_and_hms(999, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(window_bound(early), "0999-01-02T03:04:05Z");
        let before = chrono::Utc.with_ymd_and_hms(-5, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(window_bound(before), "0000-01-01T00:00:00Z");
        let after = chrono::Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(window_bound(after), "9999-12-31T23:59:59Z");
        for b in [before, early, t, after].map(window_bound) {
            assert_eq!(b.len(), 20, "{b}");
        }
    }
}
