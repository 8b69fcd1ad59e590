//! User-facing wording that belongs to no error type: the start of the one catalogue that
//! the Dutch translation will fill (gitui's `strings.rs`). New wording goes here.

/// Said (with the system's reason) when standard output cannot be written, other than a
/// closed pipe.
pub const OUTPUT_FAILED: &str =
    "titrate: the output could not be written (nothing that was saved is undone)";

/// Started as the ward terminal, but stdin or stdout is not a terminal.
pub const NO_TERMINAL: &str = "titrate: the ward terminal needs a terminal to draw on (stdin and stdout are not one); run it in a terminal window or over `ssh -t`, or give a command (see titrate --help)";

pub fn ask_new_database(path: &str) -> String {
    format!(
        "There is no titrate database at {path}.\nA mistyped --db would show an empty ward: check the path.\nType yes to create a new, empty ward database there; anything else quits: "
    )
}

pub const NEW_DATABASE_DECLINED: &str = "Nothing was created.";

/// The sign-in screen of `--demo`: who to sign in as, and where the throwaway ward is.
pub fn demo_hint(
    admin: (&str, &str),
    nurse: (&str, &str),
    doctor: (&str, &str),
    db: &str,
) -> String {
    format!(
        "Demo ward: sign in as {} with PIN {} (nurse: {} / {}, physician: {} / {}). Demo database: {db}",
        admin.0, admin.1, nurse.0, nurse.1, doctor.0, doctor.1
    )
}

pub fn no_such_folder(path: &str) -> String {
    format!(
        "there is no titrate database at {path}, and its folder does not exist: check the path (--db, TITRATE_DB or database.path)"
    )
}

/// The highlighted patient is no longer on the list (their course ended elsewhere): the
/// highlight now stands on someone else, which the nurse must know before the next key.
pub const SELECTED_PATIENT_LEFT: &str =
    "the patient you had selected is no longer on this list: choose a patient with ↑/↓ first";

// ---- handover (issue 11 §4) ----

pub fn handover_written(path: &str) -> String {
    format!("handover sheet written: {path}")
}

pub const HANDOVER_EMPTY: &str = "No course is running on the ward.";

// ---- forms bound to their patient (issue 11 §1) ----

/// A form's title names its patient: "Bram Jansen · MRN 1002 · bed 3".
pub fn patient_label(name: &str, mrn: &str, bed: Option<&str>) -> String {
    match bed {
        Some(b) => format!("{name} · MRN {mrn} · bed {b}"),
        None => format!("{name} · MRN {mrn}"),
    }
}

/// The stale-form refusal's items: what changed, who changed it and when.
pub fn stale_other_patient(mrn: &str) -> String {
    format!("MRN {mrn} now belongs to another patient")
}

pub fn stale_details(who: &str, when: &str) -> String {
    format!("the patient's details were corrected by {who} at {when}")
}

pub const STALE_COURSE: &str = "the patient's latest course is another one now";

pub fn stale_entry(
    what: &str,
    at: &str,
    corrects: Option<crate::domain::entry::EntryId>,
    who: &str,
    when: &str,
) -> String {
    match corrects {
        Some(id) => format!("entry {id} corrected to {what} at {at} by {who} at {when}"),
        None => format!("{what} at {at} recorded by {who} at {when}"),
    }
}

pub fn stale_void(id: crate::domain::entry::EntryId, what: &str, who: &str, when: &str) -> String {
    format!("entry {id} ({what}) voided by {who} at {when}")
}

/// Amend or void pressed on a timeline row that another terminal changed meanwhile.
pub const ENTRY_VOIDED_MEANWHILE: &str =
    "this entry was voided at another terminal meanwhile: nothing to change";

pub fn entry_corrected_meanwhile(
    id: crate::domain::entry::EntryId,
    by: crate::domain::entry::EntryId,
) -> String {
    format!(
        "entry {id} was corrected at another terminal meanwhile (now entry {by}): select the current version"
    )
}
// ---- actions that finish what they start (issue 11 §2) ----

/// A choice with no preselected value, shown until one is chosen.
/// The line the ward terminal shows while its database server does not answer.
pub fn reconnecting(since: &str) -> String {
    format!(
        "The database server does not answer (since {since}): reconnecting… Entries cannot be saved until it is back; nothing shown as saved is lost."
    )
}
pub const RECONNECTED: &str =
    "The database server answers again; the screen shows the record as it now stands.";

pub const NOT_CHOSEN: &str = "choose one";
pub const CHOOSE_REASON: &str = "choose a reason: left/right or the first letter";
pub const CHOOSE_SEX: &str = "choose the sex: left/right or the first letter";
pub const CHOOSE_KIND: &str =
    "choose the kind of side effect: type letters to find it, or left/right";
pub const CHOOSE_TIMEPOINT: &str =
    "choose the timepoint: t1 (end of the infusion) or t2 (follow-up), with left/right";
pub const CHOOSE_SUCCESS: &str =
    "choose whether the patient reports the treatment successful: yes or no, with left/right";

pub const END_CONFIRM_TITLE: &str = "End course: confirm";
pub const END_CONFIRM_KEYS: &str = "Enter or y: end the course · Esc or n: back to the form";
pub const END_NOTHING_MISSING: &str =
    "Nothing is missing: T0 and T1 NRS recorded, rate 0, on time.";

pub fn end_confirm_head(at: &str, reason: &str) -> String {
    format!("End the course at {at}, reason \"{reason}\"?")
}

pub const END_STILL_MISSING: &str = "Still missing:";
pub const END_NO_T0: &str = "· no T0: no pain score before the start counts as the baseline (a score after the start does not)";
pub const END_NO_T1: &str = "· no T1 NRS in the window around this end";

pub fn end_rate_not_zero(rate: &str) -> String {
    format!("· the rate is {rate} mg/h, not 0: no stop at 0 has been recorded")
}

pub fn end_early(hours: i64, planned: &str) -> String {
    format!("· {hours} h before the protocol's planned end ({planned})")
}

pub fn side_effect_context(current: &str) -> String {
    format!(
        "Current rate {current} mg/h · rate-lowered, paused and stopped record the new rate with the side effect"
    )
}

pub fn first_rate_context(start: &str, name: &str, max: &str, step: &str) -> String {
    format!(
        "No rate recorded yet: pre-filled with the starting rate of \"{name}\", {start} mg/h · maximum {max} mg/h · steps of up to {step} mg/h without confirmation"
    )
}

pub fn first_rate_unknown(start: &str, name: &str, max: &str) -> String {
    format!(
        "No rate recorded yet: \"{name}\" starts at {start}, and the patient has no weight recorded · maximum {max} mg/h"
    )
}

pub fn proposed_start(rate: &str) -> String {
    format!("Proposed start at {rate} mg/h")
}

/// The overview's flags for a running course without a baseline or a first rate.
pub const FLAG_NO_T0: (&str, &str) = ("NO T0", "T0?");
pub const FLAG_NO_RATE: (&str, &str) = ("NO RATE", "RATE?");

pub fn patient_added(mrn: &str, may_start: bool) -> String {
    if may_start {
        format!("patient {mrn} added · press c to start the course")
    } else {
        format!("patient {mrn} added · a physician starts the course (c on this screen)")
    }
}
// ---- typing in forms (issue 11 §3) ----

/// The hint under a side-effect kind.
pub const KIND_FILTER_HINT: &str =
    "type letters to find a kind; left/right to choose; Enter takes the highlighted one";

/// Above the options that match what was typed into a filtered choice.
pub fn kind_filter(typed: &str) -> String {
    format!("\"{typed}\" (Backspace widens):")
}

/// What a time will be stored as, shown under the time field while it is typed; `days_ago`
/// names today and yesterday, so that a 14:05 that went to yesterday is seen to.
pub fn time_resolved(when: &str, days_ago: i64) -> String {
    match days_ago {
        0 => format!("= {when} (today)"),
        1 => format!("= {when} (yesterday)"),
        _ => format!("= {when}"),
    }
}

/// The window is smaller than the screens are laid out for.
pub fn too_small(w: u16, h: u16) -> String {
    format!("make the window at least 80 x 24; it is {w} x {h}")
}

/// Under a form's time field.
pub const TIME_HINT: &str = "late entry? 14:05 (the last one passed) or 2026-03-01 14:05";
// ---- staff screen, own PIN, patient details, summary preview (issue 11 §4) ----

pub const STAFF_TITLE: &str = " Staff accounts ";
pub const STAFF_ADD_TITLE: &str = "Add a staff account";
pub const STAFF_ADD_CONTEXT: &str =
    "The person signs in with this id and PIN; they can change the PIN themselves (P).";
pub const NO_STAFF_SELECTED: &str = "no account is highlighted";
pub const STAFF_RESET_CONTEXT: &str =
    "The new PIN replaces the old one and unlocks the account; tell it to the person.";
pub const OWN_PIN_CONTEXT: &str =
    "Type your current PIN, then the new one twice. Wrong current PINs count towards the lock.";
pub const NOTHING_CHANGED: &str = "nothing was changed";
pub const OWN_PIN_CHANGED: &str = "your PIN was changed: use the new one from the next sign-in";
pub const OWN_ACCOUNT_CHANGED: &str =
    "your own account was changed: sign in again with its new role or PIN";

pub fn wrong_pins(n: u32) -> String {
    format!("{n} wrong PIN{}", if n == 1 { "" } else { "s" })
}

pub fn staff_role_title(id: &str) -> String {
    format!("Change the role of {id}")
}

pub fn staff_reset_title(id: &str) -> String {
    format!("New PIN for {id}")
}

pub fn staff_who(name: &str, role: &str) -> String {
    format!("{name}, now {role}")
}

pub fn own_pin_title(id: &str) -> String {
    format!("Change your own PIN ({id})")
}

pub fn staff_added(id: &str, role: &str) -> String {
    format!("staff {id} added as {role}: they can sign in now")
}

pub fn confirm_deactivate(id: &str, name: &str) -> String {
    format!(
        "Deactivate {id} ({name})? They can no longer sign in; their entries keep their name. y / n"
    )
}

pub fn confirm_role(id: &str, name: &str, was: &str, new: &str) -> String {
    format!("Change the role of {id} ({name}) from {was} to {new}? y / n")
}

pub fn patient_form_title(name: &str, mrn: &str, bed: Option<&str>) -> String {
    match bed {
        Some(b) => format!("Correct the details of {name} · MRN {mrn} · bed {b}"),
        None => format!("Correct the details of {name} · MRN {mrn}"),
    }
}

pub const PATIENT_FORM_CONTEXT: &str =
    "Change what is wrong and say why; the old values stay in the history and the summary.";
pub const PATIENT_NOTHING_CHANGED: &str =
    "nothing to correct: change a detail first (the form shows them as they stand)";

pub fn patient_corrected(version: u32, changes: &str) -> String {
    format!("details corrected (version {version}): {changes}")
}

pub fn preview_title(base: &str) -> String {
    format!(" {base} (↑↓ PgUp/PgDn scroll, any other key closes) ")
}

// ---- discharge letter (issue 11 §5) ----

pub const ADVICE_HEADING: &str = "Advice to the referring physician";

pub const NO_ADVICE: &str =
    "No advice was written for this letter (titrate summary --advice, or p in the ward terminal).";

pub fn responsible_line(who: Option<&str>) -> String {
    format!("Responsible physician: {}", who.unwrap_or("not recorded"))
}

pub fn advice_saved(course: i64, responsible: &str) -> String {
    format!("advice for the letter of course {course} saved (responsible physician {responsible})")
}

pub const LETTER_FORM_TITLE: &str = "Discharge letter";
pub const LETTER_FORM_CONTEXT: &str = "The advice and the responsible physician are stored with the course and printed in the letter.";

/// The legend of the side-effect marks on the letter's rate chart.
pub const CHART_SIDE_EFFECT_LEGEND: &str = "side effect (see the table)";

/// Under the T2 point of the letter's NRS chart: how long after the infusion it was taken.
pub fn chart_follow_up(days_after_end: i64) -> String {
    format!("T2, {days_after_end} d after")
}

pub const LETTER_ADVICE_LABEL: &str = "Advice";
pub const LETTER_ADVICE_HINT: &str = "to the referring physician; kept with the course";
pub const LETTER_RESPONSIBLE_LABEL: &str = "Physician";
pub const LETTER_RESPONSIBLE_HINT: &str = "staff id of the physician responsible for the course";
pub const LETTER_ADVICE_KEPT: &str =
    "a stored advice cannot be emptied: write the advice as it should now read";
pub const LETTER_NO_COURSE: &str = "the patient has no course to write a letter for";

pub fn letter_advice_changed(msg: &str) -> String {
    format!("{msg} (Enter saves yours over it, Esc keeps it)")
}
