//! The discharge letter's own words: the physician responsible for the course and the advice
//! to the referring physician. Typed when the letter is made, stored (append-only, audited)
//! so that the same letter can be made again, and read back by every later letter.

use super::access::authorize;
use super::entries::Session;
use super::{WardError, load_record};
use crate::domain::record::{CourseState, PatientRecord, Staff};
use crate::domain::rules::Permission;
use crate::domain::time::local_text;
use crate::domain::values::{self, Role};
use crate::report::summary::{Letter, SummaryError, pick_course};
use crate::store::{LetterAdvice, NewLetterAdvice, Reader, Writer};

/// The longest advice: about a page of the letter.
pub const ADVICE_MAX: usize = 3000;

/// Which stored advice a new one replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// Whatever is newest when it is stored (the command line, which showed nothing).
    Newest,
    /// The advice a form showed when it opened (None: there was none). If another was
    /// stored since, the save is refused with what it says now.
    Saw(Option<i64>),
}

/// The newest advice of a course.
pub fn current(r: &dyn Reader, course: i64) -> Result<Option<LetterAdvice>, WardError> {
    Ok(r.letter_advice(course)?.pop())
}

/// An active physician's staff record, or why the id cannot be the responsible physician.
pub fn responsible_physician(r: &dyn Reader, id: &str) -> Result<Staff, WardError> {
    let id = values::staff_id(id)?;
    match r.staff(&id)? {
        Some(s) if s.active && s.role == Role::Physician => Ok(s),
        _ => Err(WardError::NotAPhysician(id)),
    }
}

/// What the letter of `course` prints from the stored advice: the newest one, with the
/// responsible physician's name as it is now, and who wrote the advice when.
pub fn letter_of(
    r: &dyn Reader,
    course: i64,
    zone: chrono_tz::Tz,
) -> Result<Option<Letter>, WardError> {
    let Some(a) = current(r, course)? else {
        return Ok(None);
    };
    let name = |id: &str| -> Result<String, WardError> {
        Ok(r.staff(id)?.map_or_else(|| id.to_string(), |s| s.name))
    };
    Ok(Some(Letter {
        responsible: format!("{} ({})", name(&a.responsible)?, a.responsible),
        advice: a.advice.clone(),
        written: format!(
            "written by {} ({}) on {}",
            name(&a.recorded_by)?,
            a.recorded_by,
            local_text(a.recorded_at, zone)
        ),
    }))
}

impl Session<'_> {
    /// Stores the advice to the referring physician for the patient's course (`course`, or
    /// the latest), with the responsible physician: the one named, else the one stored for
    /// the course, else the signed-in physician. Physicians and admins only.
    pub fn save_letter_advice(
        &mut self,
        mrn: &str,
        course: Option<i64>,
        advice: &str,
        responsible: Option<&str>,
        base: Base,
    ) -> Result<LetterAdvice, WardError> {
        let advice = values::text("advice to the referring physician", advice, ADVICE_MAX)?;
        let responsible = responsible
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(values::staff_id)
            .transpose()?;
        authorize(self.db, self.who, Permission::WriteLetterAdvice, self.now)?;
        let who = self.who.clone();
        let zone = self.cfg.timezone;
        self.write(|w: &mut dyn Writer, _| {
            let rec: PatientRecord = load_record(w, mrn)?;
            let view = pick_course(&rec, course)?;
            let course_id = view.course.id;
            // A course entered in error has no letter to advise in.
            if view.state() == CourseState::Cancelled {
                return Err(SummaryError::Cancelled(course_id).into());
            }
            let newest = current(w, course_id)?;
            if let Base::Saw(seen) = base
                && seen != newest.as_ref().map(|a| a.id)
                && let Some(now) = &newest
            {
                return Err(WardError::AdviceChanged {
                    course: course_id,
                    by: now.recorded_by.clone(),
                    at: local_text(now.recorded_at, zone),
                    now: values::printable(&now.advice.chars().take(80).collect::<String>()),
                });
            }
            let responsible = match responsible {
                Some(id) => id,
                None => match &newest {
                    Some(a) => a.responsible.clone(),
                    None if who.role == Role::Physician => who.id.clone(),
                    None => return Err(WardError::NoResponsible),
                },
            };
            // Inside the write: an account deactivated a moment ago is not named.
            responsible_physician(w, &responsible)?;
            let new = NewLetterAdvice {
                patient_id: rec.patient.id,
                course_id,
                supersedes: newest.as_ref().map(|a| a.id),
                responsible,
                advice,
            };
            let id = w.insert_letter_advice(&new)?;
            Ok(LetterAdvice {
                id,
                patient_id: new.patient_id,
                course_id,
                supersedes: new.supersedes,
                responsible: new.responsible,
                advice: new.advice,
                recorded_at: w.now(),
                recorded_by: who.id.clone(),
            })
        })
    }
}
