//! Keys to actions, one small table per screen. Help and the footer are drawn from the same
//! tables, so they can never disagree with what a key does.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    Open,
    Back,
    Quit,
    Help,
    Search,
    SignOut,
    NextTab,
    Rate,
    Nrs,
    SideEffect,
    Success,
    StartCourse,
    EndCourse,
    AddPatient,
    Amend,
    Void,
    Summary,
    Cohort,
    CohortRange,
    Handover,
    HandoverWrite,
    /// The staff screen (admins) and what it does to the highlighted account.
    Staff,
    StaffAdd,
    StaffDeactivate,
    StaffReactivate,
    StaffRole,
    StaffResetPin,
    StaffUnlock,
    /// The signed-in person's own PIN.
    OwnPin,
    /// Correct the open patient's details.
    PatientDetails,
}

pub struct Binding {
    pub keys: &'static [KeyCode],
    pub label: &'static str,
    pub what: &'static str,
    pub action: Action,
    /// The footer's short word for it; `None` shows it only in help.
    pub footer: Option<&'static str>,
}

const fn b(
    keys: &'static [KeyCode],
    label: &'static str,
    what: &'static str,
    action: Action,
    footer: Option<&'static str>,
) -> Binding {
    Binding {
        keys,
        label,
        what,
        action,
        footer,
    }
}

use KeyCode::Char as C;

pub const OVERVIEW: &[Binding] = &[
    b(
        &[KeyCode::Up, C('k')],
        "↑/k",
        "previous patient",
        Action::Up,
        None,
    ),
    b(
        &[KeyCode::Down, C('j')],
        "↓/j",
        "next patient",
        Action::Down,
        None,
    ),
    b(
        &[KeyCode::Enter],
        "Enter",
        "open the patient",
        Action::Open,
        Some("open"),
    ),
    b(
        &[C('r')],
        "r",
        "rate change / hourly check",
        Action::Rate,
        Some("rate"),
    ),
    b(&[C('n')], "n", "pain score (NRS)", Action::Nrs, Some("NRS")),
    b(
        &[C('s')],
        "s",
        "side effect",
        Action::SideEffect,
        Some("side effect"),
    ),
    b(&[C('e')], "e", "end the course", Action::EndCourse, None),
    b(&[C('a')], "a", "add a patient", Action::AddPatient, None),
    b(
        &[C('t')],
        "t",
        "cohort table (study figures)",
        Action::Cohort,
        None,
    ),
    b(
        &[C('H')],
        "H",
        "shift handover (screen and printable sheet)",
        Action::Handover,
        // Help only: at 80 columns the footer has no room left for it without cutting "sign out".
        None,
    ),
    b(
        &[C('S')],
        "S",
        "staff accounts (admins): add, deactivate, role, PIN, unlock",
        Action::Staff,
        None,
    ),
    b(&[C('P')], "P", "change your own PIN", Action::OwnPin, None),
    b(
        &[KeyCode::Tab],
        "Tab",
        "active courses / follow-ups",
        Action::NextTab,
        Some("tab"),
    ),
    b(
        &[C('/')],
        "/",
        "find a patient",
        Action::Search,
        Some("find"),
    ),
    b(&[C('?')], "?", "all keys", Action::Help, Some("help")),
    b(
        &[C('o')],
        "o",
        "sign out",
        Action::SignOut,
        Some("sign out"),
    ),
    b(&[C('q')], "q", "quit", Action::Quit, None),
];

pub const DETAIL: &[Binding] = &[
    b(
        &[KeyCode::Up, C('k')],
        "↑/k",
        "previous entry",
        Action::Up,
        None,
    ),
    b(
        &[KeyCode::Down, C('j')],
        "↓/j",
        "next entry",
        Action::Down,
        None,
    ),
    b(
        &[C('r')],
        "r",
        "rate change / hourly check",
        Action::Rate,
        Some("rate"),
    ),
    b(&[C('n')], "n", "pain score (NRS)", Action::Nrs, Some("NRS")),
    b(
        &[C('s')],
        "s",
        "side effect",
        Action::SideEffect,
        Some("side effect"),
    ),
    b(&[C('u')], "u", "success report", Action::Success, None),
    b(&[C('c')], "c", "start a course", Action::StartCourse, None),
    b(&[C('e')], "e", "end the course", Action::EndCourse, None),
    b(
        &[C('m')],
        "m",
        "amend the selected entry",
        Action::Amend,
        Some("amend"),
    ),
    b(
        &[C('v')],
        "v",
        "void the selected entry",
        Action::Void,
        Some("void"),
    ),
    b(
        &[C('p')],
        "p",
        "discharge letter: advice (physician), then write .md and .pdf",
        Action::Summary,
        Some("summary"),
    ),
    b(
        &[C('D')],
        "D",
        "correct the patient's details (name, birth date, weight, MRN)",
        Action::PatientDetails,
        None,
    ),
    b(&[C('P')], "P", "change your own PIN", Action::OwnPin, None),
    b(
        &[KeyCode::Esc],
        "Esc",
        "back to the ward",
        Action::Back,
        Some("back"),
    ),
    b(&[C('/')], "/", "find a patient", Action::Search, None),
    b(&[C('?')], "?", "all keys", Action::Help, Some("help")),
    b(&[C('o')], "o", "sign out", Action::SignOut, None),
    b(&[C('q')], "q", "quit", Action::Quit, None),
];

pub const COHORT: &[Binding] = &[
    b(&[KeyCode::Up, C('k')], "↑/k", "scroll up", Action::Up, None),
    b(
        &[KeyCode::Down, C('j')],
        "↓/j",
        "scroll down",
        Action::Down,
        None,
    ),
    b(
        &[C('r')],
        "r",
        "choose the date range",
        Action::CohortRange,
        Some("range"),
    ),
    b(
        &[KeyCode::Esc],
        "Esc",
        "back to the ward",
        Action::Back,
        Some("back"),
    ),
    b(&[C('?')], "?", "all keys", Action::Help, Some("help")),
    b(&[C('q')], "q", "quit", Action::Quit, None),
];

pub const HANDOVER: &[Binding] = &[
    b(&[KeyCode::Up, C('k')], "↑/k", "scroll up", Action::Up, None),
    b(
        &[KeyCode::Down, C('j')],
        "↓/j",
        "scroll down",
        Action::Down,
        None,
    ),
    b(
        &[C('w')],
        "w",
        "write the printable sheet (.md and .pdf) to the reports folder",
        Action::HandoverWrite,
        Some("write sheet"),
    ),
    b(
        &[KeyCode::Esc],
        "Esc",
        "back to the ward",
        Action::Back,
        Some("back"),
    ),
    b(&[C('?')], "?", "all keys", Action::Help, Some("help")),
    b(&[C('q')], "q", "quit", Action::Quit, None),
];

pub const STAFF: &[Binding] = &[
    b(
        &[KeyCode::Up, C('k')],
        "↑/k",
        "previous account",
        Action::Up,
        None,
    ),
    b(
        &[KeyCode::Down, C('j')],
        "↓/j",
        "next account",
        Action::Down,
        None,
    ),
    b(
        &[C('a')],
        "a",
        "add an account",
        Action::StaffAdd,
        Some("add"),
    ),
    b(
        &[C('d')],
        "d",
        "deactivate (can no longer sign in; asks first)",
        Action::StaffDeactivate,
        Some("deactivate"),
    ),
    b(
        &[C('r')],
        "r",
        "reactivate",
        Action::StaffReactivate,
        Some("reactivate"),
    ),
    b(
        &[C('c')],
        "c",
        "change the role (asks first)",
        Action::StaffRole,
        Some("role"),
    ),
    b(
        &[C('n')],
        "n",
        "give a new PIN (also unlocks)",
        Action::StaffResetPin,
        Some("new PIN"),
    ),
    b(
        &[C('u')],
        "u",
        "unlock after wrong PINs",
        Action::StaffUnlock,
        Some("unlock"),
    ),
    b(
        &[KeyCode::Esc],
        "Esc",
        "back to the ward",
        Action::Back,
        Some("back"),
    ),
    b(&[C('?')], "?", "all keys", Action::Help, Some("help")),
    b(&[C('q')], "q", "quit", Action::Quit, None),
];

pub const SEARCH: &[Binding] = &[
    b(&[KeyCode::Up], "↑", "previous", Action::Up, None),
    b(&[KeyCode::Down], "↓", "next", Action::Down, None),
    b(
        &[KeyCode::Enter],
        "Enter",
        "open the patient",
        Action::Open,
        Some("open"),
    ),
    b(&[KeyCode::Esc], "Esc", "back", Action::Back, Some("back")),
];

/// Keys while a form asks for confirmation (ending a course).
pub const CONFIRM: &[(&str, &str)] = &[("Enter/y", "confirm"), ("Esc/n", "back to the form")];

/// Keys inside a form (handled by the form itself; listed for help and the footer).
pub const FORM: &[(&str, &str)] = &[
    ("Enter", "save"),
    ("Esc", "cancel"),
    ("Tab/↓", "next field"),
    ("Shift-Tab/↑", "previous"),
    ("←/→", "choose"),
];

/// Keys inside a staff, PIN or patient-details form (`tui::panel`).
pub const PANEL: &[(&str, &str)] = &[
    ("Enter", "next / save"),
    ("Esc", "cancel"),
    ("Tab/↓", "next field"),
    ("←/→", "move / choose"),
];

pub fn lookup(table: &[Binding], key: &KeyEvent) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::CONTROL) || key.modifiers.contains(KeyModifiers::ALT) {
        return None;
    }
    table
        .iter()
        .find(|b| b.keys.contains(&key.code))
        .map(|b| b.action)
}

pub fn is_ctrl_c(key: &KeyEvent) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL) && key.code == C('c')
}
