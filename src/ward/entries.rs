//! Clinical entries: course start and end, rates, pain scores, side effects, success reports,
//! amendments and voids.

use chrono_tz::Tz;

use super::access::authorize;
use super::{Saved, WardError, load_course_bounds, load_for_entry};
use crate::config::Config;
use crate::domain::course_rules::{
    bed_clash, bed_stays, bed_taken, check_courses_apart, check_end, check_end_reason,
    check_new_course, check_open_for_rates, check_side_effect_kind, check_side_effect_rate,
    check_start, check_success_time, spans_with,
};
use crate::domain::dose::rate_at;
use crate::domain::entry::{
    Entry, EntryData, EntryId, EntryKind, Version, Versions, effective, is_late,
};
use crate::domain::protocol::Protocol;
use crate::domain::rate::Rate;
use crate::domain::record::{CourseView, PatientRecord, Staff};
use crate::domain::rules::{
    Permission, RateChange, RateEntry, RuleError, Step, change_needs, check_rate_change,
    check_score,
};
use crate::domain::time::{Instant, check_not_future, local_text, whole_seconds};
use crate::domain::values::{Action, EndReason, Nrs, Severity, Timepoint};
use crate::store::{Db, NewEntry, ReadAhead, Writer};

/// A signed-in person at a terminal, acting at `now`.
pub struct Session<'a> {
    pub db: &'a mut Db,
    pub cfg: &'a Config,
    pub who: &'a Staff,
    pub now: Instant,
    /// What the form being saved showed: a write checks it first, inside its transaction,
    /// and refuses with what changed since (`picture::check`). `None` on the command line,
    /// whose one command reads the record as it stands.
    pub expect: Option<super::picture::Picture>,
}

/// What a person is about to do, asked before a form opens (`Session::may_begin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Record(EntryKind),
    /// Amend or void this entry version.
    Change(EntryId),
}

#[derive(Debug, Clone)]
pub struct SideEffectInput {
    pub effect: String,
    pub detail: Option<String>,
    pub severity: Severity,
    pub action: Action,
}

/// The fields an amendment may correct; `None` keeps the old value.
#[derive(Debug, Clone, Default)]
pub struct Amendment {
    pub at: Option<Instant>,
    pub rate: Option<Rate>,
    pub score: Option<Nrs>,
    pub timepoint: Option<Timepoint>,
    pub effect: Option<String>,
    pub detail: Option<String>,
    pub severity: Option<Severity>,
    pub action: Option<Action>,
    pub successful: Option<bool>,
    pub end_reason: Option<EndReason>,
    pub bed: Option<String>,
    /// Confirms a soft limit the corrected rate passes, with the reason kept with it. A
    /// confirmation of the version it corrects does not carry over.
    pub confirm: Option<String>,
}

impl Amendment {
    fn is_empty(&self) -> bool {
        self.at.is_none()
            && self.rate.is_none()
            && self.score.is_none()
            && self.timepoint.is_none()
            && self.effect.is_none()
            && self.detail.is_none()
            && self.severity.is_none()
            && self.action.is_none()
            && self.successful.is_none()
            && self.end_reason.is_none()
            && self.bed.is_none()
    }
}

fn zone(cfg: &Config) -> Tz {
    cfg.timezone
}

/// The course an entry command acts on.
fn latest<'r>(rec: &'r PatientRecord) -> Result<CourseView<'r>, WardError> {
    rec.latest_course()
        .ok_or(WardError::Rule(RuleError::NoCourse))
}

fn late_for(p: &Protocol, at: Instant, recorded: Instant) -> bool {
    is_late(at, recorded, p.check_interval())
}

/// A first version of an entry, recorded now by the transaction's actor.
fn fresh(
    rec: &PatientRecord,
    course: Option<i64>,
    at: Instant,
    p: &Protocol,
    recorded: Instant,
    data: EntryData,
) -> NewEntry {
    NewEntry {
        patient_id: rec.patient.id,
        course_id: course,
        happened_at: at,
        late: late_for(p, at, recorded),
        supersedes: None,
        amend_reason: None,
        data,
    }
}

/// A course's effective rate entries, in time order.
fn rate_entries(view: &CourseView) -> Vec<RateEntry> {
    view.rates
        .iter()
        .filter_map(|e| match e.data {
            EntryData::Rate { rate, .. } => Some(RateEntry {
                id: e.id,
                at: e.happened_at,
                rate,
            }),
            _ => None,
        })
        .collect()
}

/// Checks a change to a course's rates: the rate it adds must fall inside the course and
/// pass the protocol, and the entries after it must not pass a soft limit unconfirmed.
/// Returns the step of the added rate and warnings for the confirmation message.
fn validate_rate(
    cfg: &Config,
    rec: &PatientRecord,
    view: &CourseView,
    current: &[RateEntry],
    change: RateChange,
    confirmed: bool,
) -> Result<(Step, Vec<String>), WardError> {
    let span = view.span().ok_or(RuleError::NoCourse)?;
    if let Some((at, _)) = change.added {
        span.check_inside("the rate entry", at, zone(cfg))?;
    }
    let (check, _) = check_rate_change(
        view.protocol(),
        // The weight as it now stands: a correction made before this check applies to it,
        // whatever time the entry is for (README, "Correcting a patient's details").
        rec.patient.data.weight_kg,
        current,
        change,
        confirmed,
    )?;
    let Some(check) = check else {
        return Ok((Step::Same, vec![]));
    };
    let mut warnings = check.warnings;
    for s in &check.overridden {
        warnings.push(format!("confirmed: {s}"));
    }
    Ok((check.step, warnings))
}

/// A bed holds one patient at any moment: the course of `patient` in `bed` from `start` to
/// `end` (None: running) overlaps no other patient's stay in that bed, past or running. Read
/// in the write transaction: the bounds of every course, one index lookup per course (course
/// starts and bed changes are rare).
fn check_bed(
    w: &dyn Writer,
    patient: crate::domain::entry::PatientId,
    bed: Option<&str>,
    (start, end): (Instant, Option<Instant>),
    zone: Tz,
) -> Result<(), WardError> {
    let Some(bed) = bed else { return Ok(()) };
    let stays = bed_stays(&w.all_course_bounds()?);
    let Some(stay) = bed_clash(&stays, patient, bed, start, end) else {
        return Ok(());
    };
    let (name, mrn) = match w.patient(stay.patient)? {
        Some(p) => (p.data.name, p.data.mrn),
        None => (format!("patient {}", stay.patient), "?".to_string()),
    };
    Err(bed_taken(stay, &name, &mrn, (start, end), zone).into())
}

fn step_word(step: Step) -> &'static str {
    match step {
        Step::Start => "start",
        Step::Up => "step up",
        Step::Down => "step down",
        Step::Same => "check",
        Step::Stop => "stop",
    }
}

/// A rate entry on the patient's latest course, checked against the protocol, inside the
/// caller's write transaction: `record_rate` and a side effect that sets a rate share it.
fn insert_rate(
    w: &mut dyn Writer,
    cfg: &Config,
    mrn: &str,
    at: Instant,
    rate: Rate,
    confirm: Option<String>,
) -> Result<Saved, WardError> {
    let rec = load_course_bounds(w, mrn)?;
    let view = latest(&rec)?;
    check_open_for_rates(&view, cfg.timezone)?;
    let current = effective(
        w.rate_versions_of(view.course.id)?
            .into_iter()
            .map(|v| Version {
                item: RateEntry {
                    id: v.id,
                    at: v.item.at,
                    rate: v.item.rate,
                },
                id: v.id,
                supersedes: v.supersedes,
                voided: v.voided,
                at: v.at,
            })
            .collect(),
    );
    let change = RateChange {
        removed: None,
        added: Some((at, rate)),
    };
    let (step, warnings) = validate_rate(cfg, &rec, &view, &current, change, confirm.is_some())?;
    let id = w.insert_entry(&fresh(
        &rec,
        Some(view.course.id),
        at,
        view.protocol(),
        w.now(),
        EntryData::Rate {
            rate,
            confirmed: confirm.is_some(),
            confirm_reason: confirm,
        },
    ))?;
    Ok(Saved {
        id,
        warnings,
        summary: format!("rate {rate} mg/h ({})", step_word(step)),
    })
}

impl Session<'_> {
    pub(super) fn authorize(&mut self, p: Permission) -> Result<(), WardError> {
        authorize(self.db, self.who, p, self.now)
    }

    pub(super) fn write<T>(
        &mut self,
        f: impl FnOnce(&mut dyn Writer, &Config) -> Result<T, WardError>,
    ) -> Result<T, WardError> {
        self.write_about(None, false, f)
    }

    /// A write that begins with the signed-in account's re-read and, for `mrn`, the
    /// patient's course bounds (and `rates`: their courses' rates): a server store reads
    /// them with the write's lock, in one round trip.
    fn write_about<T>(
        &mut self,
        mrn: Option<&str>,
        rates: bool,
        f: impl FnOnce(&mut dyn Writer, &Config) -> Result<T, WardError>,
    ) -> Result<T, WardError> {
        let cfg = self.cfg;
        let who = self.who;
        let expect = self.expect.as_ref();
        let ahead = ReadAhead {
            staff: Some(who.id.clone()),
            patient_mrn: mrn.map(str::to_string),
            rates,
        };
        self.db.write_ahead(&who.id, self.now, &ahead, |w| {
            super::access::still_signed_in(w, who)?;
            if let Some(p) = expect {
                super::picture::check(&*w, p, cfg.timezone)?;
            }
            f(w, cfg)
        })
    }

    fn check_time(&self, at: Instant) -> Result<Instant, WardError> {
        check_not_future(at, self.now, zone(self.cfg))?;
        Ok(whole_seconds(at))
    }

    /// Whether `who` may begin `intent` on `rec` as it stands now: the role first (a refusal
    /// is audited like any other), then the course's state. A terminal asks this when the
    /// key is pressed, so that nobody fills in a form the save would refuse anyway; the save
    /// checks everything again.
    pub fn may_begin(&mut self, intent: Intent, rec: &PatientRecord) -> Result<(), WardError> {
        // An account deactivated, locked or given another role at another terminal is told
        // so now, not after the form is filled in.
        let who = self.who;
        self.db.read(|r| super::access::still_signed_in(r, who))?;
        let kind = match intent {
            Intent::Change(id) => {
                self.authorize_change(id)?;
                return Ok(());
            }
            Intent::Record(kind) => kind,
        };
        self.authorize(Permission::Record(kind))?;
        let zone = zone(self.cfg);
        let latest = rec.latest_course();
        match kind {
            EntryKind::Nrs => Ok(()),
            EntryKind::CourseStart => Ok(check_new_course(rec, self.now, zone)?),
            EntryKind::Rate => Ok(check_open_for_rates(
                &latest.ok_or(RuleError::NoCourse)?,
                zone,
            )?),
            EntryKind::CourseEnd => match latest.ok_or(RuleError::NoCourse)?.ended_at() {
                Some(end) => Err(RuleError::AlreadyEnded(local_text(end, zone)).into()),
                None => Ok(()),
            },
            // A form's time starts at now, which is after an ended course: the late entry
            // of a side effect during it takes its time on the command line.
            EntryKind::SideEffect => match latest.ok_or(RuleError::NoCourse)?.ended_at() {
                Some(end) => Err(RuleError::SideEffectOnEndedCourse {
                    end: local_text(end, zone),
                }
                .into()),
                None => Ok(()),
            },
            // A success report at T2 comes after the end.
            EntryKind::Success => {
                latest.ok_or(RuleError::NoCourse)?;
                Ok(())
            }
        }
    }

    pub fn add_patient(&mut self, p: &crate::store::NewPatient) -> Result<i64, WardError> {
        let today = self.now.with_timezone(&self.cfg.timezone).date_naive();
        crate::domain::patient::check(p, today)?;
        self.authorize(Permission::AddPatient)?;
        self.write(|w, _| Ok(w.insert_patient(p)?))
    }

    pub fn start_course(
        &mut self,
        mrn: &str,
        at: Instant,
        bed: Option<String>,
    ) -> Result<Saved, WardError> {
        self.authorize(Permission::Record(EntryKind::CourseStart))?;
        let at = self.check_time(at)?;
        // The bed label's length is the ward's rule, whichever path brings it.
        let bed = bed
            .map(|b| crate::domain::values::text("bed", &b, crate::domain::course_rules::BED_MAX))
            .transpose()?;
        self.write(|w, cfg| {
            let rec = load_for_entry(w, mrn)?;
            check_new_course(&rec, at, cfg.timezone)?;
            check_bed(w, rec.patient.id, bed.as_deref(), (at, None), cfg.timezone)?;
            let protocol_id = super::protocols::for_new_course(w, cfg)?;
            let course = w.insert_course(rec.patient.id, protocol_id)?;
            let id = w.insert_entry(&fresh(
                &rec,
                Some(course),
                at,
                &cfg.protocol,
                w.now(),
                EntryData::CourseStart { bed },
            ))?;
            Ok(Saved {
                id,
                warnings: vec![],
                summary: format!(
                    "course {course} started under protocol \"{}\" (version {protocol_id})",
                    cfg.protocol.name
                ),
            })
        })
    }

    pub fn record_rate(
        &mut self,
        mrn: &str,
        at: Instant,
        rate: Rate,
        confirm: Option<String>,
    ) -> Result<Saved, WardError> {
        self.authorize(Permission::Record(EntryKind::Rate))?;
        let at = self.check_time(at)?;
        self.write_about(Some(mrn), true, |w, cfg| {
            insert_rate(w, cfg, mrn, at, rate, confirm)
        })
    }

    pub fn record_nrs(
        &mut self,
        mrn: &str,
        at: Instant,
        score: Nrs,
        timepoint: Option<Timepoint>,
    ) -> Result<Saved, WardError> {
        self.authorize(Permission::Record(EntryKind::Nrs))?;
        let at = self.check_time(at)?;
        self.write_about(Some(mrn), false, |w, cfg| {
            let rec = load_course_bounds(w, mrn)?;
            let latest = rec.latest_course();
            check_score(
                at,
                rec.patient.data.birth_date,
                timepoint,
                latest.as_ref().and_then(|v| v.span()),
                cfg.timezone,
            )?;
            let protocol = latest.as_ref().map_or(&cfg.protocol, |v| v.protocol());
            let id = w.insert_entry(&fresh(
                &rec,
                None,
                at,
                protocol,
                w.now(),
                EntryData::Nrs { score, timepoint },
            ))?;
            Ok(Saved {
                id,
                warnings: vec![],
                summary: format!("NRS {score}"),
            })
        })
    }

    /// A side effect. One whose action changes the rate (rate-lowered, paused, stopped) is
    /// refused here: it brings its new rate, through `record_side_effect_with_rate`.
    pub fn record_side_effect(
        &mut self,
        mrn: &str,
        at: Instant,
        input: SideEffectInput,
    ) -> Result<Saved, WardError> {
        self.side_effect(mrn, at, input, None)
    }

    /// A side effect and the rate its action set, in one write transaction: both are stored
    /// or neither. The rate is checked as `record_rate` checks it (the same code), and
    /// against the action: rate-lowered below the rate running then, paused and stopped 0.
    pub fn record_side_effect_with_rate(
        &mut self,
        mrn: &str,
        at: Instant,
        input: SideEffectInput,
        rate: Rate,
    ) -> Result<Saved, WardError> {
        self.side_effect(mrn, at, input, Some(rate))
    }

    fn side_effect(
        &mut self,
        mrn: &str,
        at: Instant,
        input: SideEffectInput,
        rate: Option<Rate>,
    ) -> Result<Saved, WardError> {
        self.authorize(Permission::Record(EntryKind::SideEffect))?;
        if rate.is_some() {
            self.authorize(Permission::Record(EntryKind::Rate))?;
        }
        let at = self.check_time(at)?;
        check_side_effect_kind(&self.cfg.side_effect_kinds, &input.effect, &input.detail)?;
        self.write(|w, cfg| {
            let rec = load_for_entry(w, mrn)?;
            let view = latest(&rec)?;
            let span = view.span().ok_or(RuleError::NoCourse)?;
            span.check_inside("the side effect", at, cfg.timezone)?;
            let rate_then = rate_at(&view.rate_points(), at);
            check_side_effect_rate(input.action, rate_then, rate)?;
            let id = w.insert_entry(&fresh(
                &rec,
                Some(view.course.id),
                at,
                view.protocol(),
                w.now(),
                EntryData::SideEffect {
                    effect: input.effect.clone(),
                    detail: input.detail.clone(),
                    severity: input.severity,
                    action: input.action,
                    rate_at: rate_then,
                },
            ))?;
            let mut summary = format!(
                "side effect {} ({}) at {rate_then} mg/h",
                input.effect, input.severity
            );
            let mut warnings = vec![];
            if let Some(rate) = rate {
                // After the side effect, so that it keeps the rate it happened at.
                let r = insert_rate(w, cfg, mrn, at, rate, None)?;
                summary.push_str(&format!(" · entry {}: {}", r.id, r.summary));
                warnings = r.warnings;
            }
            Ok(Saved {
                id,
                warnings,
                summary,
            })
        })
    }

    pub fn record_success(
        &mut self,
        mrn: &str,
        at: Instant,
        timepoint: Timepoint,
        successful: bool,
    ) -> Result<Saved, WardError> {
        self.authorize(Permission::Record(EntryKind::Success))?;
        if timepoint == Timepoint::T0 {
            return Err(RuleError::SuccessAtT0.into());
        }
        let at = self.check_time(at)?;
        self.write(|w, cfg| {
            let rec = load_course_bounds(w, mrn)?;
            let view = latest(&rec)?;
            check_success_time(&view, at, cfg.timezone)?;
            let id = w.insert_entry(&fresh(
                &rec,
                Some(view.course.id),
                at,
                view.protocol(),
                w.now(),
                EntryData::Success {
                    timepoint,
                    successful,
                },
            ))?;
            Ok(Saved {
                id,
                warnings: vec![],
                summary: format!(
                    "treatment reported {} at {timepoint}",
                    if successful {
                        "successful"
                    } else {
                        "not successful"
                    }
                ),
            })
        })
    }

    pub fn end_course(
        &mut self,
        mrn: &str,
        at: Instant,
        reason: EndReason,
    ) -> Result<Saved, WardError> {
        self.authorize(Permission::Record(EntryKind::CourseEnd))?;
        let at = self.check_time(at)?;
        self.write(|w, cfg| {
            let rec = load_for_entry(w, mrn)?;
            let view = latest(&rec)?;
            if let Some(end) = view.ended_at() {
                return Err(RuleError::AlreadyEnded(local_text(end, cfg.timezone)).into());
            }
            check_end(&view, None, at, cfg.timezone)?;
            check_end_reason(&view, at, reason, cfg.timezone)?;
            let id = w.insert_entry(&fresh(
                &rec,
                Some(view.course.id),
                at,
                view.protocol(),
                w.now(),
                EntryData::CourseEnd { reason },
            ))?;
            Ok(Saved {
                id,
                warnings: vec![],
                summary: format!("course {} ended ({reason})", view.course.id),
            })
        })
    }

    /// Who may change an entry version: whoever recorded it and every version before it, or
    /// a physician (`rules::change_needs`).
    fn authorize_change(&mut self, id: EntryId) -> Result<Entry, WardError> {
        let (entry, needs) = self.db.read(|r| {
            let e = r.entry(id)?.ok_or(WardError::UnknownEntry(id))?;
            let chain = r.entries_of(e.patient_id)?;
            let v = Versions::new(&chain);
            let back = v.back_from(id);
            let needs = change_needs(&self.who.id, back.iter().map(|c| c.recorded_by.as_str()));
            Ok::<_, WardError>((e, needs))
        })?;
        self.authorize(Permission::Record(entry.kind()))?;
        if let Some(p) = needs {
            self.authorize(p)?;
        }
        Ok(entry)
    }

    pub fn amend(&mut self, id: EntryId, reason: &str, a: &Amendment) -> Result<Saved, WardError> {
        let reason = crate::domain::values::text("reason", reason, 500)?;
        if a.is_empty() {
            return Err(WardError::NothingToAmend);
        }
        self.authorize_change(id)?;
        let new_at = a.at.map(|t| self.check_time(t)).transpose()?;
        self.write(|w, cfg| {
            let old = current_version(w, id)?;
            let data = apply(&old.data, a)?;
            let at = new_at.unwrap_or(old.happened_at);
            if data == old.data && at == old.happened_at {
                return Err(WardError::AmendSame(id));
            }
            let patient = w
                .patient(old.patient_id)?
                .ok_or(WardError::UnknownEntry(id))?;
            let rec = super::load_record_of(w, patient)?;
            let view = old.course_id.and_then(|c| rec.course(c));
            let mut warnings = vec![];
            let data = match (data, &view) {
                (EntryData::Rate { rate, .. }, Some(v)) => {
                    // Checked as the entry it becomes, in the course as it would be: its own
                    // confirmation or none, never the corrected version's.
                    let change = RateChange {
                        removed: Some(old.id),
                        added: Some((at, rate)),
                    };
                    let (_, warn) =
                        validate_rate(cfg, &rec, v, &rate_entries(v), change, a.confirm.is_some())?;
                    warnings = warn;
                    EntryData::Rate {
                        rate,
                        confirmed: a.confirm.is_some(),
                        confirm_reason: a.confirm.clone(),
                    }
                }
                (
                    EntryData::SideEffect {
                        effect,
                        detail,
                        severity,
                        action,
                        ..
                    },
                    Some(v),
                ) => {
                    check_side_effect_kind(&cfg.side_effect_kinds, &effect, &detail)?;
                    v.span().ok_or(RuleError::NoCourse)?.check_inside(
                        "the side effect",
                        at,
                        cfg.timezone,
                    )?;
                    let rate_at = rate_at(&v.rate_points(), at);
                    EntryData::SideEffect {
                        effect,
                        detail,
                        severity,
                        action,
                        rate_at,
                    }
                }
                (d @ EntryData::Nrs { timepoint, .. }, _) => {
                    let span = rec.latest_course().and_then(|v| v.span());
                    check_score(
                        at,
                        rec.patient.data.birth_date,
                        timepoint,
                        span,
                        cfg.timezone,
                    )?;
                    d
                }
                (d @ EntryData::CourseEnd { reason }, Some(v)) => {
                    check_end(v, Some(old.id), at, cfg.timezone)?;
                    check_end_reason(v, at, reason, cfg.timezone)?;
                    let start = v.started_at().ok_or(RuleError::NoCourse)?;
                    check_courses_apart(
                        &spans_with(&rec, v.course.id, Some((start, Some(at)))),
                        cfg.timezone,
                    )?;
                    // A later end keeps the bed longer.
                    check_bed(w, rec.patient.id, v.bed(), (start, Some(at)), cfg.timezone)?;
                    d
                }
                (EntryData::CourseStart { bed }, Some(v)) => {
                    check_start(&rec, v, at, cfg.timezone)?;
                    // A moved start or another bed: the course's whole time, ended or not.
                    let span = (at, v.ended_at());
                    check_bed(w, rec.patient.id, bed.as_deref(), span, cfg.timezone)?;
                    EntryData::CourseStart { bed }
                }
                (d @ EntryData::Success { .. }, Some(v)) => {
                    check_success_time(v, at, cfg.timezone)?;
                    d
                }
                (d, _) => d,
            };
            let protocol = view.as_ref().map_or(&cfg.protocol, |v| v.protocol());
            let chain = rec.entries.clone();
            let versions = Versions::new(&chain);
            let root = chain
                .iter()
                .find(|e| e.id == versions.root(old.id))
                .unwrap_or(&old);
            let new_id = w.insert_entry(&NewEntry {
                patient_id: old.patient_id,
                course_id: old.course_id,
                happened_at: at,
                late: late_for(protocol, at, root.recorded_at),
                supersedes: Some(old.id),
                amend_reason: Some(reason.clone()),
                data,
            })?;
            Ok(Saved {
                id: new_id,
                warnings,
                summary: format!("amends entry {}", old.id),
            })
        })
    }

    pub fn void(&mut self, id: EntryId, reason: &str) -> Result<Saved, WardError> {
        self.void_confirmed(id, reason, None)
    }

    /// A void, confirming (with a reason kept in the void's reason) a soft limit a later
    /// rate passes once the voided rate is gone.
    pub fn void_confirmed(
        &mut self,
        id: EntryId,
        reason: &str,
        confirm: Option<String>,
    ) -> Result<Saved, WardError> {
        let mut reason = crate::domain::values::text("reason", reason, 500)?;
        self.authorize_change(id)?;
        self.write(|w, cfg| {
            let old = current_version(w, id)?;
            let patient = w
                .patient(old.patient_id)?
                .ok_or(WardError::UnknownEntry(id))?;
            let rec = super::load_record_of(w, patient)?;
            let view = old.course_id.and_then(|c| rec.course(c));
            match old.kind() {
                EntryKind::CourseStart => {
                    let course = old.course_id.unwrap_or_default();
                    let others = rec.course(course).is_some_and(|v| {
                        v.end.is_some()
                            || !v.rates.is_empty()
                            || !v.side_effects.is_empty()
                            || !v.successes.is_empty()
                    });
                    if others {
                        return Err(WardError::CourseNotEmpty { course });
                    }
                }
                EntryKind::CourseEnd => {
                    // The course runs again: it must be the patient's latest, in a free bed.
                    if let Some(v) = &view {
                        let start = v.started_at().ok_or(RuleError::NoCourse)?;
                        check_courses_apart(
                            &spans_with(&rec, v.course.id, Some((start, None))),
                            cfg.timezone,
                        )?;
                        check_bed(w, rec.patient.id, v.bed(), (start, None), cfg.timezone)?;
                    }
                }
                EntryKind::Rate => {
                    // The entries after it step from the one before it now.
                    if let Some(v) = &view {
                        let change = RateChange {
                            removed: Some(old.id),
                            added: None,
                        };
                        let (_, limits) = check_rate_change(
                            v.protocol(),
                            rec.patient.data.weight_kg,
                            &rate_entries(v),
                            change,
                            true,
                        )?;
                        if !limits.is_empty() {
                            let Some(why) = &confirm else {
                                return Err(
                                    RuleError::VoidPassesLimit { id: old.id, limits }.into()
                                );
                            };
                            // The void row holds one reason: the confirmation is kept in it, as
                            // a rate keeps its own, naming what was passed.
                            reason = format!(
                                "{reason} (confirmed: {why}; {})",
                                limits
                                    .iter()
                                    .map(|l| l.to_string())
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            );
                        }
                    }
                }
                _ => {}
            }
            w.insert_void(old.id, &reason)?;
            Ok(Saved {
                id: old.id,
                warnings: vec![],
                summary: format!("entry {} voided (entered in error)", old.id),
            })
        })
    }
}

/// The entry if it is the latest, not voided version of its chain.
fn current_version(w: &dyn Writer, id: EntryId) -> Result<Entry, WardError> {
    let e = w.entry(id)?.ok_or(WardError::UnknownEntry(id))?;
    if let Some(next) = w.entry_superseded_by(id)? {
        let mut current = next;
        while let Some(n) = w.entry_superseded_by(current)? {
            current = n;
        }
        return Err(WardError::NotCurrent { id, current });
    }
    if e.void.is_some() {
        return Err(WardError::Voided(id));
    }
    Ok(e)
}

/// The old values with the amended fields applied; a field that does not belong to the kind
/// is an error rather than silently ignored.
fn apply(old: &EntryData, a: &Amendment) -> Result<EntryData, WardError> {
    let kind = old.kind().as_str();
    let not_for = |field: &'static str| WardError::FieldNotForKind { field, kind };
    let mut d = old.clone();
    match &mut d {
        EntryData::Rate { rate, .. } => {
            if let Some(r) = a.rate {
                *rate = r;
            }
        }
        EntryData::Nrs { score, timepoint } => {
            if let Some(s) = a.score {
                *score = s;
            }
            if let Some(t) = a.timepoint {
                *timepoint = Some(t);
            }
        }
        EntryData::SideEffect {
            effect,
            detail,
            severity,
            action,
            ..
        } => {
            if let Some(v) = &a.effect {
                *effect = v.clone();
            }
            if let Some(v) = &a.detail {
                *detail = Some(v.clone());
            }
            if let Some(v) = a.severity {
                *severity = v;
            }
            if let Some(v) = a.action {
                // Its rate would be missing: the action is recorded with the rate or not
                // at all (`check_side_effect_rate`).
                if v != *action && v.sets_rate() {
                    return Err(RuleError::AmendIntoRateAction { action: v.as_str() }.into());
                }
                *action = v;
            }
        }
        EntryData::Success {
            timepoint,
            successful,
        } => {
            if let Some(t) = a.timepoint {
                if t == Timepoint::T0 {
                    return Err(RuleError::SuccessAtT0.into());
                }
                *timepoint = t;
            }
            if let Some(s) = a.successful {
                *successful = s;
            }
        }
        EntryData::CourseEnd { reason } => {
            if let Some(r) = a.end_reason {
                *reason = r;
            }
        }
        EntryData::CourseStart { bed } => {
            if let Some(b) = &a.bed {
                *bed = Some(crate::domain::values::text(
                    "bed",
                    b,
                    crate::domain::course_rules::BED_MAX,
                )?);
            }
        }
    }
    let k = old.kind();
    let checks: [(&'static str, bool, bool); 9] = [
        ("--rate", a.rate.is_some(), k == EntryKind::Rate),
        ("--score", a.score.is_some(), k == EntryKind::Nrs),
        (
            "--timepoint",
            a.timepoint.is_some(),
            matches!(k, EntryKind::Nrs | EntryKind::Success),
        ),
        ("--kind", a.effect.is_some(), k == EntryKind::SideEffect),
        ("--detail", a.detail.is_some(), k == EntryKind::SideEffect),
        (
            "--severity",
            a.severity.is_some(),
            k == EntryKind::SideEffect,
        ),
        ("--action", a.action.is_some(), k == EntryKind::SideEffect),
        ("--value", a.successful.is_some(), k == EntryKind::Success),
        (
            "--end-reason",
            a.end_reason.is_some(),
            k == EntryKind::CourseEnd,
        ),
    ];
    for (field, given, fits) in checks {
        if given && !fits {
            return Err(not_for(field));
        }
    }
    if a.bed.is_some() && k != EntryKind::CourseStart {
        return Err(not_for("--bed"));
    }
    Ok(d)
}
