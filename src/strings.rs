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
