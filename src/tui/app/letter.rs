//! The `p` key: the discharge letter. A physician or admin first sees a small form with the
//! advice to the referring physician and the responsible physician (prefilled with what is
//! stored, or the signed-in physician); Enter stores them when they changed and writes the
//! letter. Anyone else writes the letter at once, with the stored advice.

use super::App;
use crate::domain::rules::{Permission, allowed};
use crate::domain::values::Role;
use crate::strings;
use crate::tui::form::{Field, Form, FormContext, FormKind};
use crate::ward::WardError;
use crate::ward::letters::{self, Base};

impl App {
    pub(super) fn open_letter(&mut self) {
        let (Some(d), Some(user)) = (&self.detail, &self.user) else {
            return;
        };
        if !allowed(user.role, Permission::WriteLetterAdvice) {
            return self.write_summary();
        }
        // The latest course that was not entered in error, as the letter reads it.
        let Some(course) = d.record.latest_course().map(|v| v.course.id) else {
            return self.error(strings::LETTER_NO_COURSE);
        };
        let (mrn, name) = (
            d.record.patient.data.mrn.clone(),
            d.record.patient.data.name.clone(),
        );
        let own = if user.role == Role::Physician {
            user.id.clone()
        } else {
            String::new()
        };
        let stored = match self.db.read(|r| letters::current(r, course)) {
            Ok(s) => s,
            Err(e) => return self.error(e.to_string()),
        };
        let ctx = FormContext {
            cfg: &self.cfg,
            now: self.now,
            mrn: &mrn,
            patient_name: &name,
            current_rate: None,
            course: None,
        };
        let mut form = Form::new(
            FormKind::Letter {
                course,
                seen: stored.as_ref().map(|a| a.id),
            },
            &ctx,
        );
        let (advice, responsible) = stored
            .map(|a| (a.advice, a.responsible))
            .unwrap_or((String::new(), own));
        form.fields = vec![
            Field::text(
                "advice",
                strings::LETTER_ADVICE_LABEL,
                advice,
                strings::LETTER_ADVICE_HINT,
            ),
            Field::text(
                "responsible",
                strings::LETTER_RESPONSIBLE_LABEL,
                responsible,
                strings::LETTER_RESPONSIBLE_HINT,
            ),
        ];
        form.context = vec![strings::LETTER_FORM_CONTEXT.to_string()];
        self.form = Some(form);
    }

    /// Stores what changed (refused with the reason beside its field), then writes.
    pub(super) fn submit_letter(&mut self) {
        let (Some(form), Some(user)) = (self.form.as_ref(), self.user.clone()) else {
            return;
        };
        let FormKind::Letter { course, seen } = form.kind else {
            return;
        };
        let advice = form.value("advice").trim().to_string();
        let responsible = form.value("responsible").trim().to_string();
        let mrn = form.mrn.clone();
        let stored = match self.db.read(|r| letters::current(r, course)) {
            Ok(s) => s,
            Err(e) => return self.error(e.to_string()),
        };
        let unchanged = match &stored {
            Some(a) => a.advice == advice && a.responsible == responsible && Some(a.id) == seen,
            None => advice.is_empty(),
        };
        if !unchanged {
            if advice.is_empty() {
                return self.letter_error("advice", strings::LETTER_ADVICE_KEPT.into());
            }
            // The advice has its own check of what the form showed (`Base::Saw`).
            let mut s = self.session(&user);
            let given = (!responsible.is_empty()).then_some(responsible.as_str());
            match s.save_letter_advice(&mrn, Some(course), &advice, given, Base::Saw(seen)) {
                Ok(_) => {}
                Err(e @ WardError::AdviceChanged { .. }) => {
                    // Asked again: the next Enter stores this advice over the newer one.
                    let newest = stored.as_ref().map(|a| a.id);
                    if let Some(f) = self.form.as_mut() {
                        f.kind = FormKind::Letter {
                            course,
                            seen: newest,
                        };
                    }
                    return self.letter_error("", strings::letter_advice_changed(&e.to_string()));
                }
                Err(e @ (WardError::NotAPhysician(_) | WardError::NoResponsible)) => {
                    return self.letter_error("responsible", e.to_string());
                }
                Err(e @ WardError::Value(_)) => {
                    let key = if e.to_string().contains("staff id") {
                        "responsible"
                    } else {
                        "advice"
                    };
                    return self.letter_error(key, e.to_string());
                }
                Err(e) => return self.letter_error("", e.to_string()),
            }
        }
        self.form = None;
        self.write_summary();
    }

    fn letter_error(&mut self, key: &'static str, msg: String) {
        if let Some(f) = self.form.as_mut() {
            f.error = Some((key, msg));
        }
    }
}
