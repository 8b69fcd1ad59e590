//! User-facing wording that belongs to no error type: the start of the one catalogue that
//! the Dutch translation will fill (gitui's `strings.rs`). New wording goes here.

/// Started as the ward terminal, but stdin or stdout is not a terminal.
pub const NO_TERMINAL: &str = "titrate: the ward terminal needs a terminal to draw on (stdin and stdout are not one); run it in a terminal window or over `ssh -t`, or give a command (see titrate --help)";

pub fn ask_new_database(path: &str) -> String {
    format!(
        "There is no titrate database at {path}.\nA mistyped --db would show an empty ward: check the path.\nType yes to create a new, empty ward database there; anything else quits: "
    )
}

pub const NEW_DATABASE_DECLINED: &str = "Nothing was created.";

pub fn no_such_folder(path: &str) -> String {
    format!(
        "there is no titrate database at {path}, and its folder does not exist: check the path (--db, TITRATE_DB or database.path)"
    )
}

/// The highlighted patient is no longer on the list (their course ended elsewhere): the
/// highlight now stands on someone else, which the nurse must know before the next key.
pub const SELECTED_PATIENT_LEFT: &str =
    "the patient you had selected is no longer on this list: check the highlighted row";

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
