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
