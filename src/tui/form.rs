//! Entry forms: fields of text, validated on submit by the same parsers and operations as the
//! command line. A failed submit keeps what was typed and puts the message next to the field.

use crate::cli::Edge;
use crate::config::Config;
use crate::domain::entry::{Entry, EntryData, EntryId, EntryKind};
use crate::domain::patient::PatientText;
use crate::domain::protocol::Protocol;
use crate::domain::rate::Rate;
use crate::domain::record::{CourseView, PatientRecord};
use crate::domain::rules::RuleError;
use crate::domain::time::{Instant, local_text};
use crate::domain::values::{self, Action, EndReason, Severity, Timepoint, YesNo};
use crate::ward::entries::{Amendment, Session, SideEffectInput};
use crate::ward::picture::Picture;
use crate::ward::{Saved, WardError};

pub use super::input::Edit;

#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    Text,
    /// Cycled with left/right or space; the first option may be "" for "none".
    Choice(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub key: &'static str,
    pub label: &'static str,
    pub value: String,
    pub kind: FieldKind,
    pub hint: &'static str,
    /// A prefilled value not yet edited: the first character typed replaces it, so that
    /// typing "2" over a prefilled "1" gives 2, not 12.
    pub fresh: bool,
    /// Where the cursor stands, in chars (src/tui/input.rs).
    pub cursor: usize,
    /// On a filterable choice: the letters typed so far.
    pub filter: String,
}

impl Field {
    pub(crate) fn text(
        key: &'static str,
        label: &'static str,
        value: impl Into<String>,
        hint: &'static str,
    ) -> Field {
        let value: String = value.into();
        Field {
            key,
            label,
            fresh: !value.is_empty(),
            cursor: value.chars().count(),
            filter: String::new(),
            value,
            kind: FieldKind::Text,
            hint,
        }
    }

    fn choice(key: &'static str, label: &'static str, options: Vec<String>, value: &str) -> Field {
        let value = if options.iter().any(|o| o == value) {
            value.to_string()
        } else {
            options.first().cloned().unwrap_or_default()
        };
        Field {
            key,
            label,
            value,
            kind: FieldKind::Choice(options),
            hint: "left/right to choose",
            fresh: false,
            cursor: 0,
            filter: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum FormKind {
    Rate,
    Nrs,
    SideEffect,
    Success,
    CourseStart,
    CourseEnd,
    AddPatient,
    Amend {
        id: EntryId,
        kind: EntryKind,
    },
    Void {
        id: EntryId,
    },
    /// The cohort screen's date range (stores nothing).
    CohortRange,
    /// The discharge letter's advice and responsible physician for `course`, as the form
    /// found them (`seen`: the stored advice it shows); fields made by `app::letter`.
    Letter {
        course: i64,
        seen: Option<i64>,
    },
}

impl FormKind {
    /// The kind of entry a form of this kind records as a new entry.
    pub fn entry_kind(&self) -> Option<EntryKind> {
        Some(match self {
            FormKind::Rate => EntryKind::Rate,
            FormKind::Nrs => EntryKind::Nrs,
            FormKind::SideEffect => EntryKind::SideEffect,
            FormKind::Success => EntryKind::Success,
            FormKind::CourseStart => EntryKind::CourseStart,
            FormKind::CourseEnd => EntryKind::CourseEnd,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub kind: FormKind,
    pub mrn: String,
    pub patient_name: String,
    pub fields: Vec<Field>,
    pub focus: usize,
    /// (field key, message); key "" is the form as a whole.
    pub error: Option<(&'static str, String)>,
    pub dirty: bool,
    /// Shown above the fields: current rate, maximum, ...
    pub context: Vec<String>,
    /// For the rate form: the rate running now, to show the proposed step as it is typed.
    pub current_rate: Option<Rate>,
    /// The hard maximum of the course's protocol, for the same line.
    pub max_rate: Rate,
    /// A save found the database busy and is retried on each tick.
    pub waiting: bool,
    /// The record the form was opened on (or last sent back with): the save is refused with
    /// what changed if the record no longer matches it. `None` for forms of no patient.
    pub picture: Option<Picture>,
    /// A save was sent back stale and `picture` replaced: the lines above the fields are
    /// to be rebuilt from the record as it stands (the app does, then clears this).
    pub rebound: bool,
    /// The time field's text while it follows the clock (`follow_clock`); a field changed
    /// by hand no longer equals it and is saved as typed.
    pub clock_time: Option<String>,
    /// Asked before the save (ending a course): what is still missing. Enter or y saves,
    /// Esc or n goes back to the fields.
    pub confirm: Option<Vec<String>>,
}

fn opts(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub struct FormContext<'a> {
    pub cfg: &'a Config,
    pub now: Instant,
    pub mrn: &'a str,
    pub patient_name: &'a str,
    pub current_rate: Option<Rate>,
    /// The course the form is about; None: a new course (config's protocol, the one it
    /// will get) or no course.
    pub course: Option<CourseFacts>,
}

/// What a form's context lines read from the course itself, never from config.toml: its
/// own protocol version, and whether a rate was recorded yet.
#[derive(Clone, Debug, PartialEq)]
pub struct CourseFacts {
    pub protocol: std::sync::Arc<Protocol>,
    pub no_rate_yet: bool,
    pub weight_kg: Option<f64>,
}

impl CourseFacts {
    pub fn of(rec: &PatientRecord, view: &CourseView) -> CourseFacts {
        CourseFacts {
            protocol: std::sync::Arc::clone(&view.course.protocol),
            no_rate_yet: view.rates.is_empty(),
            weight_kg: rec.patient.data.weight_kg,
        }
    }

    /// The patient's latest course, started or not.
    pub fn latest(rec: &PatientRecord) -> Option<CourseFacts> {
        rec.latest_course().map(|v| CourseFacts::of(rec, &v))
    }
}

/// Side-effect actions that set a new rate, recorded with the side effect.
pub fn sets_rate(action: &str) -> bool {
    Edge::choice::<Action>(action).is_ok_and(Action::sets_rate)
}

impl Form {
    /// The kind of entry this form records, for a form of a new entry.
    pub fn entry_kind(&self) -> Option<EntryKind> {
        self.kind.entry_kind()
    }

    /// The form's name and, for a form of one patient, who it is: name, MRN and bed.
    pub fn title(&self) -> String {
        match &self.picture {
            Some(p) => format!("{} · {}", self.kind_title(), p.label()),
            None => self.kind_title(),
        }
    }

    fn kind_title(&self) -> String {
        match &self.kind {
            FormKind::Rate => "Rate change / hourly check".into(),
            FormKind::Nrs => "Pain score (NRS 0-10)".into(),
            FormKind::SideEffect => "Side effect".into(),
            FormKind::Success => "Treatment success report".into(),
            FormKind::CourseStart => "Start course".into(),
            FormKind::CourseEnd => "End course".into(),
            FormKind::AddPatient => "Add patient".into(),
            FormKind::Amend { id, .. } => format!("Amend entry {id}"),
            FormKind::Void { id } => format!("Void entry {id} (entered in error)"),
            FormKind::CohortRange => "Cohort: courses started in".into(),
            FormKind::Letter { course, .. } => {
                format!("{} · course {course}", crate::strings::LETTER_FORM_TITLE)
            }
        }
    }

    pub fn new(kind: FormKind, c: &FormContext) -> Form {
        let now = local_text(c.now, c.cfg.timezone);
        let time = || Field::text("time", "Time", now.clone(), crate::strings::TIME_HINT);
        // The course's own protocol version; a new course gets config's.
        let p: &Protocol = c.course.as_ref().map_or(&c.cfg.protocol, |f| &f.protocol);
        let first_rate = c.course.as_ref().is_some_and(|f| f.no_rate_yet);
        let mut context = Vec::new();
        let fields = match &kind {
            FormKind::Rate => {
                let cur = c.current_rate.unwrap_or(Rate::ZERO);
                let start = p.start_rate_for(c.course.as_ref().and_then(|f| f.weight_kg));
                let prefill = match (first_rate, start) {
                    (true, Some(start)) => {
                        context.push(crate::strings::first_rate_context(
                            &start.to_string(),
                            &p.name,
                            &p.max_rate_mg_h.to_string(),
                            &p.increment_mg_h.to_string(),
                        ));
                        start.to_string()
                    }
                    (true, None) => {
                        context.push(crate::strings::first_rate_unknown(
                            &p.start_rate_text(),
                            &p.name,
                            &p.max_rate_mg_h.to_string(),
                        ));
                        String::new()
                    }
                    (false, _) => {
                        context.push(format!(
                            "Current rate {cur} mg/h · maximum {} mg/h · steps of up to {} mg/h without confirmation",
                            p.max_rate_mg_h, p.increment_mg_h
                        ));
                        cur.to_string()
                    }
                };
                vec![
                    Field::text(
                        "rate",
                        "Rate mg/h",
                        prefill,
                        "same rate = hourly check; 0 = paused",
                    ),
                    time(),
                    Field::text("reason", "Reason", "", "only to confirm a soft limit"),
                ]
            }
            FormKind::Nrs => vec![
                Field::text("score", "NRS 0-10", "", "whole number 0 to 10"),
                time(),
                Field::choice("timepoint", "Timepoint", opts(&["", "t0", "t1", "t2"]), ""),
            ],
            FormKind::SideEffect => {
                context.push(crate::strings::side_effect_context(
                    &c.current_rate.unwrap_or(Rate::ZERO).to_string(),
                ));
                vec![
                    // No kind preselected: a stray Enter records no side effect.
                    Field::choice(
                        "kind",
                        "Kind",
                        std::iter::once(String::new())
                            .chain(c.cfg.side_effect_kinds.iter().cloned())
                            .collect(),
                        "",
                    ),
                    Field::text("detail", "Detail", "", "required for \"other\""),
                    Field::choice(
                        "severity",
                        "Severity",
                        opts(&["mild", "moderate", "severe"]),
                        "mild",
                    ),
                    Field::choice(
                        "action",
                        "Action",
                        Action::ALL.iter().map(|a| a.as_str().to_string()).collect(),
                        "none",
                    ),
                    Field::text(
                        "rate",
                        "New rate",
                        "",
                        "mg/h: below the current rate; paused and stopped are 0",
                    ),
                    time(),
                ]
            }
            FormKind::Success => vec![
                // Nothing preselected: an outcome is chosen, never taken by a stray Enter.
                Field::choice("timepoint", "Timepoint", opts(&["", "t1", "t2"]), ""),
                Field::choice("value", "Successful", opts(&["", "yes", "no"]), ""),
                time(),
            ],
            FormKind::CourseStart => {
                context.push(format!(
                    "Protocol \"{}\": max {} mg/h, {} days",
                    p.name, p.max_rate_mg_h, p.duration_days
                ));
                vec![time(), Field::text("bed", "Bed", "", "optional")]
            }
            FormKind::CourseEnd => vec![
                time(),
                // No reason is preselected: "" is "not chosen", refused on save.
                Field::choice(
                    "reason",
                    "Reason",
                    std::iter::once(String::new())
                        .chain(EndReason::ALL.iter().map(|r| r.as_str().to_string()))
                        .collect(),
                    "",
                ),
            ],
            FormKind::AddPatient => vec![
                Field::text("mrn", "MRN", "", "letters, digits, '-'"),
                Field::text("name", "Name", "", ""),
                Field::text("birth", "Birth date", "", "YYYY-MM-DD"),
                Field::choice("sex", "Sex", opts(&["", "female", "male", "other"]), ""),
                Field::text("weight", "Weight kg", "", "optional"),
                Field::choice("crps", "CRPS type", opts(&["", "1", "2"]), ""),
                Field::text("onset", "CRPS onset", "", "YYYY-MM-DD, optional"),
                Field::text("limb", "Limb", "", "optional"),
            ],
            FormKind::Void { .. } => vec![
                Field::text("why", "Reason", "", "why it was entered in error"),
                Field::text(
                    "confirm",
                    "Confirm reason",
                    "",
                    "only if a later rate then passes a soft limit",
                ),
            ],
            FormKind::Amend { .. } | FormKind::Letter { .. } => vec![],
            FormKind::CohortRange => vec![
                Field::text("from", "From", "", "YYYY-MM-DD, empty for the first course"),
                Field::text("to", "To", "", "YYYY-MM-DD, empty for today"),
            ],
        };
        Form {
            // A first rate is a start, not a step from 0.
            current_rate: (kind == FormKind::Rate && !first_rate)
                .then(|| c.current_rate.unwrap_or(Rate::ZERO)),
            max_rate: p.max_rate_mg_h,
            waiting: false,
            picture: None,
            rebound: false,
            clock_time: fields.iter().any(|f| f.key == "time").then_some(now),
            confirm: None,
            kind,
            mrn: c.mrn.to_string(),
            patient_name: c.patient_name.to_string(),
            fields,
            focus: 0,
            error: None,
            dirty: false,
            context,
        }
    }

    /// An amendment form prefilled with the entry's values.
    pub fn amend(entry: &Entry, c: &FormContext) -> Form {
        let time = Field::text(
            "time",
            "Time",
            local_text(entry.happened_at, c.cfg.timezone),
            "when it happened",
        );
        let mut fields = match &entry.data {
            EntryData::Rate { rate, .. } => vec![
                Field::text("rate", "Rate mg/h", rate.to_string(), ""),
                // As in the rate form: a reason confirms a soft limit. The corrected
                // version's confirmation does not carry over, so this starts empty.
                Field::text(
                    "confirm",
                    "Confirm reason",
                    "",
                    "only to confirm a soft limit (kept with the rate)",
                ),
            ],
            EntryData::Nrs { score, timepoint } => vec![
                Field::text("score", "NRS 0-10", score.to_string(), ""),
                Field::choice(
                    "timepoint",
                    "Timepoint",
                    opts(&["", "t0", "t1", "t2"]),
                    timepoint.map_or("", |t| t.as_str()),
                ),
            ],
            EntryData::SideEffect {
                effect,
                detail,
                severity,
                action,
                ..
            } => vec![
                Field::choice("kind", "Kind", c.cfg.side_effect_kinds.clone(), effect),
                Field::text("detail", "Detail", detail.clone().unwrap_or_default(), ""),
                Field::choice(
                    "severity",
                    "Severity",
                    opts(&["mild", "moderate", "severe"]),
                    severity.as_str(),
                ),
                Field::choice(
                    "action",
                    "Action",
                    Action::ALL.iter().map(|a| a.as_str().to_string()).collect(),
                    action.as_str(),
                ),
            ],
            EntryData::Success {
                timepoint,
                successful,
            } => vec![
                Field::choice(
                    "timepoint",
                    "Timepoint",
                    opts(&["t1", "t2"]),
                    timepoint.as_str(),
                ),
                Field::choice(
                    "value",
                    "Successful",
                    opts(&["yes", "no"]),
                    if *successful { "yes" } else { "no" },
                ),
            ],
            EntryData::CourseEnd { reason } => vec![Field::choice(
                "reason",
                "End reason",
                EndReason::ALL
                    .iter()
                    .map(|r| r.as_str().to_string())
                    .collect(),
                reason.as_str(),
            )],
            EntryData::CourseStart { bed } => vec![Field::text(
                "bed",
                "Bed",
                bed.clone().unwrap_or_default(),
                "",
            )],
        };
        fields.push(time);
        fields.push(Field::text(
            "why",
            "Why",
            "",
            "reason for the correction (kept)",
        ));
        Form {
            kind: FormKind::Amend {
                id: entry.id,
                kind: entry.kind(),
            },
            mrn: c.mrn.to_string(),
            patient_name: c.patient_name.to_string(),
            fields,
            focus: 0,
            error: None,
            dirty: false,
            context: vec![format!(
                "Was: {} at {}",
                entry.data.describe(),
                local_text(entry.happened_at, c.cfg.timezone)
            )],
            current_rate: None,
            max_rate: c
                .course
                .as_ref()
                .map_or(c.cfg.protocol.max_rate_mg_h, |f| f.protocol.max_rate_mg_h),
            waiting: false,
            picture: None,
            rebound: false,
            clock_time: None,
            confirm: None,
        }
    }

    /// "Proposed 6 -> 8 mg/h (step up 2)" while a rate is typed; None when it does not parse.
    pub fn proposed_step(&self) -> Option<String> {
        if self.kind != FormKind::Rate {
            return None;
        }
        let new: Rate = self.value("rate").parse().ok()?;
        if new > self.max_rate {
            return Some(format!(
                "{new} mg/h is above the maximum of {} mg/h",
                self.max_rate
            ));
        }
        let Some(cur) = self.current_rate else {
            return Some(crate::strings::proposed_start(&new.to_string()));
        };
        let what = if new > cur {
            format!("step up {}", new.saturating_sub(cur))
        } else if new < cur {
            format!("step down {}", cur.saturating_sub(new))
        } else {
            "hourly check, same rate".to_string()
        };
        Some(format!("Proposed {cur} -> {new} mg/h ({what})"))
    }

    /// Under the time field: "= Wed 2 Dec 14:05", what the typed time will be stored as, or
    /// why it will be refused. None when the form has no time field.
    pub fn time_preview(&self, zone: chrono_tz::Tz, now: Instant) -> Option<String> {
        let raw = self.fields.iter().find(|f| f.key == "time")?.value.as_str();
        let shown = crate::domain::time::parse_time_at(raw, zone, now)
            .and_then(|t| {
                crate::domain::time::check_not_future(t, now, zone)?;
                Ok(t)
            })
            .map(|t| {
                let day = |i: Instant| i.with_timezone(&zone).date_naive();
                crate::strings::time_resolved(
                    &crate::domain::time::spoken(t, zone, now),
                    (day(now) - day(t)).num_days(),
                )
            });
        Some(shown.unwrap_or_else(|e| e.to_string()))
    }

    pub fn value(&self, key: &str) -> &str {
        self.fields
            .iter()
            .find(|f| f.key == key)
            .map_or("", |f| f.value.as_str())
    }

    fn original(&self, key: &str, was: &Form) -> bool {
        self.value(key) == was.value(key)
    }

    pub fn focused(&mut self) -> Option<&mut Field> {
        self.fields.get_mut(self.focus)
    }

    pub fn move_focus(&mut self, forward: bool) {
        let n = self.fields.len().max(1);
        // The next field that is on the form (a side effect's rate only for the actions
        // that set one).
        let mut to = self.focus;
        for _ in 0..n {
            to = if forward {
                (to + 1) % n
            } else {
                (to + n - 1) % n
            };
            if self.shown(to) {
                break;
            }
        }
        self.focus_on(to);
    }

    /// Whether field `i` is on the form now: a side effect's new rate only for the actions
    /// that set one.
    pub fn shown(&self, i: usize) -> bool {
        match self.fields.get(i) {
            Some(f) if f.key == "rate" && self.kind == FormKind::SideEffect => {
                sets_rate(self.value("action"))
            }
            Some(_) => true,
            None => false,
        }
    }

    /// After a choice changed: paused and stopped mean 0, so the new rate is filled with it
    /// (the first key typed replaces it); rate-lowered wants a rate typed.
    pub fn choice_changed(&mut self) {
        if self.kind != FormKind::SideEffect {
            return;
        }
        let action = self.value("action").to_string();
        if let Some(f) = self.fields.iter_mut().find(|f| f.key == "rate") {
            match action.as_str() {
                "paused" | "stopped" => f.set_value("0"),
                _ if f.fresh => f.set_value(""),
                _ => {}
            }
        }
    }

    /// A required choice left at "not chosen": the field and what to say.
    fn unchosen(&self) -> Option<(&'static str, &'static str)> {
        match self.kind {
            FormKind::CourseEnd if self.value("reason").is_empty() => {
                Some(("reason", crate::strings::CHOOSE_REASON))
            }
            FormKind::AddPatient if self.value("sex").is_empty() => {
                Some(("sex", crate::strings::CHOOSE_SEX))
            }
            FormKind::SideEffect if self.value("kind").is_empty() => {
                Some(("kind", crate::strings::CHOOSE_KIND))
            }
            FormKind::Success if self.value("timepoint").is_empty() => {
                Some(("timepoint", crate::strings::CHOOSE_TIMEPOINT))
            }
            FormKind::Success if self.value("value").is_empty() => {
                Some(("value", crate::strings::CHOOSE_SUCCESS))
            }
            _ => None,
        }
    }

    /// Whether a choice field must be chosen (it has no "none").
    pub fn required_choice(&self, key: &str) -> bool {
        matches!(
            (&self.kind, key),
            (FormKind::CourseEnd, "reason")
                | (FormKind::AddPatient, "sex")
                | (FormKind::Success, "timepoint" | "value")
                | (FormKind::SideEffect, "kind")
        )
    }

    /// Refuses a required choice left unchosen, as a save would; true when it was.
    pub fn refuse_unchosen(&mut self) -> bool {
        let Some((key, msg)) = self.unchosen() else {
            return false;
        };
        if let Some(i) = self.fields.iter().position(|f| f.key == key) {
            self.focus_on(i);
        }
        self.error = Some((key, msg.to_string()));
        true
    }

    /// Focus on field `i`: the first key typed there replaces its value.
    pub fn focus_on(&mut self, i: usize) {
        if let Some(f) = self.fields.get_mut(self.focus) {
            f.filter.clear();
        }
        self.focus = i.min(self.fields.len().saturating_sub(1));
        if let Some(f) = self.focused() {
            f.focused_again();
        }
    }

    /// The focused field's value changed: the form is dirty, and an error about that field
    /// (or about the whole form) no longer describes what is there.
    fn changed(&mut self) {
        self.dirty = true;
        if self.waiting {
            return;
        }
        let key = self.fields.get(self.focus).map_or("", |f| f.key);
        if self
            .error
            .as_ref()
            .is_some_and(|(k, _)| k.is_empty() || *k == key)
        {
            self.error = None;
        }
        // A side effect's action sets or clears its new rate.
        if self
            .fields
            .get(self.focus)
            .is_some_and(|f| f.key == "action")
        {
            self.choice_changed();
        }
    }

    pub fn type_char(&mut self, ch: char) {
        if ch.is_control() {
            return;
        }
        let Some(f) = self.focused() else { return };
        let changed = match f.kind {
            FieldKind::Text => f.insert(ch),
            FieldKind::Choice(_) if f.filterable() && !(ch == ' ' && f.filter.is_empty()) => {
                f.filter_push(ch)
            }
            FieldKind::Choice(_) if ch == ' ' => {
                f.cycle(true);
                true
            }
            FieldKind::Choice(ref opts) => {
                // Typing a letter jumps to the next option starting with it.
                let lower = ch.to_ascii_lowercase();
                match opts
                    .iter()
                    .find(|o| o.starts_with(lower) && **o != f.value)
                    .cloned()
                {
                    Some(o) => {
                        f.value = o;
                        true
                    }
                    None => false,
                }
            }
        };
        if changed {
            self.changed();
        }
    }

    pub fn backspace(&mut self) {
        let Some(f) = self.focused() else { return };
        let changed = if f.filterable() {
            f.filter_pop()
        } else {
            f.edit(Edit::Backspace)
        };
        if changed {
            self.changed();
        }
    }

    /// A cursor or deletion key on the focused text field.
    pub fn edit(&mut self, e: Edit) {
        if self.focused().is_some_and(|f| f.edit(e)) {
            self.changed();
        }
    }

    /// Left/Right on a choice field.
    pub fn cycle(&mut self, forward: bool) {
        if let Some(f) = self
            .focused()
            .filter(|f| matches!(f.kind, FieldKind::Choice(_)))
        {
            f.cycle(forward);
            self.changed();
        }
    }

    /// Enter or Tab on a choice being filtered takes the highlighted option (and ends the
    /// filter). False when no filter was typed, so that Enter saves as usual.
    pub fn take_match(&mut self) -> bool {
        match self.focused() {
            Some(f) if !f.filter.is_empty() => {
                f.filter.clear();
                true
            }
            _ => false,
        }
    }

    /// A refused save: the message goes next to its field, which gets the focus, and the
    /// first key typed there replaces what was refused.
    pub fn refuse(&mut self, key: &'static str, msg: String) {
        if let Some(i) = self.fields.iter().position(|f| f.key == key) {
            self.focus = i;
        }
        let i = self.focus;
        self.focus_on(i);
        self.error = Some((key, msg));
    }

    /// The field a refusal belongs next to.
    fn field_for(&self, e: &WardError) -> &'static str {
        let has = |k: &str| self.fields.iter().any(|f| f.key == k);
        let pick = |k: &'static str| if has(k) { k } else { "" };
        match e {
            WardError::Rate(_)
            | WardError::Rule(
                RuleError::AboveMax { .. }
                | RuleError::SideEffectNeedsRate { .. }
                | RuleError::RateNotLowered { .. }
                | RuleError::PauseNotZero { .. }
                | RuleError::RateWithoutRateAction { .. },
            ) => pick("rate"),
            WardError::Rule(RuleError::EarlyEndCompleted { .. }) => pick("reason"),
            WardError::Rule(
                RuleError::NeedsConfirmation(_) | RuleError::VoidPassesLimit { .. },
            ) => {
                if has("confirm") {
                    "confirm"
                } else {
                    pick("reason")
                }
            }
            // The add-patient form has two dates and no time: the one that does not parse.
            WardError::Time(_) if has("birth") => {
                if Edge::date(self.value("birth")).is_err() {
                    "birth"
                } else {
                    pick("onset")
                }
            }
            WardError::Rule(RuleError::BirthOutOfRange(_)) => pick("birth"),
            WardError::Rule(RuleError::OnsetInFuture | RuleError::OnsetBeforeBirth) => {
                pick("onset")
            }
            WardError::Value(
                values::ValueError::Empty { what }
                | values::ValueError::TooLong { what, .. }
                | values::ValueError::Control { what, .. },
            ) => match *what {
                "reason" if has("why") => "why",
                "confirm reason" => pick("confirm"),
                "name" => pick("name"),
                "detail" => pick("detail"),
                "bed" => pick("bed"),
                "limb" => pick("limb"),
                "reason" => pick("reason"),
                _ => "",
            },
            WardError::Time(_)
            | WardError::Rule(
                RuleError::BeforeStart { .. }
                | RuleError::AfterEnd { .. }
                | RuleError::OverlapsPrevious { .. }
                | RuleError::CoursesOverlap { .. }
                | RuleError::EndBeforeLastRate { .. },
            ) => pick("time"),
            WardError::Rule(RuleError::BedOccupied { .. } | RuleError::BedHeld { .. }) => {
                pick("bed")
            }
            WardError::Value(values::ValueError::Nrs { .. }) => pick("score"),
            WardError::Value(values::ValueError::Mrn(_)) => pick("mrn"),
            WardError::Value(values::ValueError::Weight(_)) => pick("weight"),
            WardError::Rule(RuleError::OtherNeedsDetail) => pick("detail"),
            WardError::Store(crate::store::StoreError::DuplicateMrn(_)) => pick("mrn"),
            _ => "",
        }
    }

    /// Validates and saves. On a refusal the form keeps its values and shows the message
    /// next to the field it concerns. When another terminal holds the database, the form is
    /// marked waiting: nothing was stored, and the app tries again on its next tick.
    pub fn submit(&mut self, s: &mut Session) -> Option<Saved> {
        // Someone whose role may not end a course is told that first, not to choose a reason.
        let may_end = crate::domain::rules::allowed(
            s.who.role,
            crate::domain::rules::Permission::Record(EntryKind::CourseEnd),
        );
        if (may_end || self.kind != FormKind::CourseEnd) && self.refuse_unchosen() {
            self.confirm = None;
            return None;
        }
        s.expect = self.picture.clone();
        let result = self.try_submit(s);
        s.expect = None;
        match result {
            Ok(saved) => Some(saved),
            Err(e @ WardError::Stale { .. }) => {
                // Sent back on the record as it stands: the next Enter is checked against
                // it, and the app rebuilds the lines above the fields from it.
                self.waiting = false;
                self.confirm = None;
                self.error = Some(("", e.to_string()));
                if let WardError::Stale { now, .. } = e {
                    self.mrn = now.mrn.clone();
                    self.patient_name = now.name.clone();
                    self.picture = Some(*now);
                    self.rebound = true;
                }
                None
            }
            Err(e) if e.is_busy() => {
                self.waiting = true;
                self.error = Some(("", "waiting for the database: another terminal is saving; this form is kept and sent again by itself (Esc cancels)".into()));
                None
            }
            Err(e) => {
                self.waiting = false;
                // Back to the fields, with the message next to the one it concerns.
                self.confirm = None;
                let key = self.field_for(&e);
                self.refuse(key, e.to_string());
                None
            }
        }
    }

    /// The time the entry is for: the moment of the save while the time field still shows
    /// the clock (the nurse did not change it), else what was typed.
    pub fn time_at(&self, edge: &Edge, now: Instant) -> Result<Instant, WardError> {
        let typed = self.value("time");
        if self.clock_time.as_deref() == Some(typed) {
            return Ok(now);
        }
        edge.time(typed)
    }

    /// Keeps an untouched time field on the clock, so that a form left open for a while
    /// shows, and saves, the time it is saved at.
    pub fn follow_clock(&mut self, now: Instant, zone: chrono_tz::Tz) {
        let Some(shown) = self.clock_time.clone() else {
            return;
        };
        let text = local_text(now, zone);
        // Only when the minute turns: a cursor placed in the field stays where it is.
        if text == shown {
            return;
        }
        if let Some(f) = self.fields.iter_mut().find(|f| f.key == "time")
            && f.value == shown
        {
            f.set_value(text.clone());
            self.clock_time = Some(text);
        }
    }

    fn opt(&self, key: &str) -> Option<String> {
        let v = self.value(key).trim();
        (!v.is_empty()).then(|| v.to_string())
    }

    fn try_submit(&self, s: &mut Session) -> Result<Saved, WardError> {
        let edge = Edge {
            zone: s.cfg.timezone,
            now: s.now,
        };
        let mrn = self.mrn.clone();
        match &self.kind {
            FormKind::Rate => {
                let rate = Edge::rate(self.value("rate"))?;
                let at = self.time_at(&edge, s.now)?;
                let confirm = self
                    .opt("reason")
                    .map(|r| Edge::text("reason", &r, 500))
                    .transpose()?;
                s.record_rate(&mrn, at, rate, confirm)
            }
            FormKind::Nrs => {
                let score = Edge::nrs(self.value("score"))?;
                let at = self.time_at(&edge, s.now)?;
                let tp = self
                    .opt("timepoint")
                    .map(|t| Edge::choice::<Timepoint>(&t))
                    .transpose()?;
                s.record_nrs(&mrn, at, score, tp)
            }
            FormKind::SideEffect => {
                let input = SideEffectInput {
                    effect: self.value("kind").to_string(),
                    detail: self
                        .opt("detail")
                        .map(|d| Edge::text("detail", &d, 500))
                        .transpose()?,
                    severity: Edge::choice::<Severity>(self.value("severity"))?,
                    action: Edge::choice::<Action>(self.value("action"))?,
                };
                let at = self.time_at(&edge, s.now)?;
                // The new rate only for the actions that set one; without it the save is
                // refused with what to give.
                let rate = if sets_rate(self.value("action")) {
                    self.opt("rate").map(|r| Edge::rate(&r)).transpose()?
                } else {
                    None
                };
                match rate {
                    Some(rate) => s.record_side_effect_with_rate(&mrn, at, input, rate),
                    None => s.record_side_effect(&mrn, at, input),
                }
            }
            FormKind::Success => {
                let tp = Edge::choice::<Timepoint>(self.value("timepoint"))?;
                let v = Edge::choice::<YesNo>(self.value("value"))?;
                let at = self.time_at(&edge, s.now)?;
                s.record_success(&mrn, at, tp, v.as_bool())
            }
            FormKind::CourseStart => {
                let at = self.time_at(&edge, s.now)?;
                let bed = self
                    .opt("bed")
                    .map(|b| Edge::text("bed", &b, crate::domain::course_rules::BED_MAX))
                    .transpose()?;
                s.start_course(&mrn, at, bed)
            }
            FormKind::CourseEnd => {
                let at = self.time_at(&edge, s.now)?;
                if self.value("reason").is_empty() {
                    // Only someone who may not end a course gets here (`submit` asks the
                    // others to choose): the role's refusal, audited, comes first.
                    crate::ward::access::authorize(
                        s.db,
                        s.who,
                        crate::domain::rules::Permission::Record(EntryKind::CourseEnd),
                        s.now,
                    )?;
                    return Err(values::ValueError::Empty { what: "end reason" }.into());
                }
                s.end_course(&mrn, at, Edge::choice::<EndReason>(self.value("reason"))?)
            }
            FormKind::AddPatient => {
                let (weight, crps, onset, limb) = (
                    self.opt("weight"),
                    self.opt("crps"),
                    self.opt("onset"),
                    self.opt("limb"),
                );
                let p = PatientText {
                    mrn: self.value("mrn"),
                    name: self.value("name"),
                    birth_date: self.value("birth"),
                    sex: self.value("sex"),
                    weight_kg: weight.as_deref(),
                    crps_type: crps.as_deref(),
                    crps_onset: onset.as_deref(),
                    limb: limb.as_deref(),
                }
                .parse()?;
                let id = s.add_patient(&p)?;
                let may_start = crate::domain::rules::allowed(
                    s.who.role,
                    crate::domain::rules::Permission::Record(EntryKind::CourseStart),
                );
                Ok(Saved {
                    id,
                    warnings: vec![],
                    summary: crate::strings::patient_added(&p.mrn, may_start),
                })
            }
            FormKind::Void { id } => {
                let confirm = self
                    .opt("confirm")
                    .map(|r| Edge::text("confirm reason", &r, 500))
                    .transpose()?;
                s.void_confirmed(*id, self.value("why"), confirm)
            }
            // Handled by the app: a range is not an entry, nor is a letter's advice.
            FormKind::CohortRange | FormKind::Letter { .. } => Err(WardError::NothingToAmend),
            FormKind::Amend { id, .. } => {
                let was = Form::amend(
                    &s.db
                        .read(|r| r.entry(*id))?
                        .ok_or(WardError::UnknownEntry(*id))?,
                    &FormContext {
                        cfg: s.cfg,
                        now: s.now,
                        mrn: &self.mrn,
                        patient_name: &self.patient_name,
                        current_rate: None,
                        course: None,
                    },
                );
                let changed =
                    |k: &str| (!self.original(k, &was)).then(|| self.value(k).to_string());
                let a = Amendment {
                    at: changed("time").map(|t| edge.time(&t)).transpose()?,
                    rate: changed("rate").map(|r| Edge::rate(&r)).transpose()?,
                    score: changed("score").map(|v| Edge::nrs(&v)).transpose()?,
                    timepoint: changed("timepoint")
                        .filter(|t| !t.is_empty())
                        .map(|t| Edge::choice::<Timepoint>(&t))
                        .transpose()?,
                    effect: changed("kind"),
                    detail: changed("detail")
                        .filter(|d| !d.trim().is_empty())
                        .map(|d| Edge::text("detail", &d, 500))
                        .transpose()?,
                    severity: changed("severity")
                        .map(|v| Edge::choice::<Severity>(&v))
                        .transpose()?,
                    action: changed("action")
                        .map(|v| Edge::choice::<Action>(&v))
                        .transpose()?,
                    successful: changed("value")
                        .map(|v| Edge::choice::<YesNo>(&v))
                        .transpose()?
                        .map(YesNo::as_bool),
                    end_reason: changed("reason")
                        .map(|v| Edge::choice::<EndReason>(&v))
                        .transpose()?,
                    bed: changed("bed")
                        .map(|b| Edge::text("bed", &b, crate::domain::course_rules::BED_MAX))
                        .transpose()?,
                    // A corrected rate past a soft limit is confirmed by a reason of its own.
                    confirm: self
                        .opt("confirm")
                        .map(|r| Edge::text("confirm reason", &r, 500))
                        .transpose()?,
                };
                s.amend(*id, self.value("why"), &a)
            }
        }
    }
}
