//! The staff screen (admins) and everyone's own PIN, from the ward terminal. Every change
//! goes through the same operations as `titrate staff ...` and `titrate pin change`
//! (`ward::access`), which decide inside their write transaction; the screen only asks.

use crossterm::event::{KeyCode, KeyEvent};

use super::app::{App, Screen};
use super::keys::Action;
use super::panel::{Input, Outcome, Panel, PanelKind};
use crate::domain::record::Staff;
use crate::domain::rules::Permission;
use crate::domain::values::{self, Role};
use crate::strings;
use crate::ward::WardError;
use crate::ward::access::{self, StaffChange};

/// The list on the staff screen; the highlight follows the account, not the row.
#[derive(Debug, Default, Clone)]
pub struct StaffList {
    pub rows: Vec<Staff>,
    pub sel: usize,
    pub sel_id: Option<String>,
}

impl StaffList {
    pub fn selected(&self) -> Option<&Staff> {
        self.rows.get(self.sel)
    }
}

/// A change that waits for y / n.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirm {
    Deactivate { id: String },
    Role { id: String, role: Role },
}

/// The state of an account as the list shows it.
pub fn state(s: &Staff) -> &'static str {
    if s.active { "active" } else { "deactivated" }
}

pub fn lock(s: &Staff) -> String {
    match (s.locked, s.failed_pins) {
        (true, _) => "LOCKED".into(),
        (false, 0) => String::new(),
        (false, n) => strings::wrong_pins(n),
    }
}

impl App {
    /// `S`: refused at once, with the reason, unless the signed-in role manages staff.
    pub(super) fn open_staff(&mut self) {
        let Some(user) = self.user.clone() else {
            return;
        };
        // The operation's own check: the refusal is worded and audited as on the CLI.
        if let Err(e) = access::authorize(&mut self.db, &user, Permission::ManageStaff, self.now) {
            return self.error(e.to_string());
        }
        self.screen = Screen::Staff;
        self.staff = StaffList::default();
        self.load_staff();
    }

    pub(super) fn load_staff(&mut self) {
        match self.db.read(|r| r.staff_list()) {
            Ok(rows) => {
                let l = &mut self.staff;
                l.rows = rows;
                if let Some(i) = l
                    .sel_id
                    .as_ref()
                    .and_then(|id| l.rows.iter().position(|s| &s.id == id))
                {
                    l.sel = i;
                }
                l.sel = l.sel.min(l.rows.len().saturating_sub(1));
                l.sel_id = l.rows.get(l.sel).map(|s| s.id.clone());
            }
            Err(e) => self.error(format!("could not read the staff list: {e}")),
        }
    }

    pub(super) fn staff_move(&mut self, by: i64) {
        let l = &mut self.staff;
        if l.rows.is_empty() {
            return;
        }
        l.sel = (l.sel as i64 + by).clamp(0, l.rows.len() as i64 - 1) as usize;
        l.sel_id = l.rows.get(l.sel).map(|s| s.id.clone());
    }

    pub(super) fn staff_action(&mut self, a: Action) {
        if a == Action::StaffAdd {
            let mut p = Panel::new(
                PanelKind::AddStaff,
                strings::STAFF_ADD_TITLE.into(),
                vec![
                    Input::text(
                        "id",
                        "Staff id",
                        "",
                        "1 to 12 letters or digits, e.g. initials",
                    ),
                    Input::text("name", "Name", "", "as it appears on entries"),
                    Input::choice("role", "Role", &["nurse", "physician", "admin"], "nurse"),
                    Input::masked("pin", "PIN", "4 to 12 digits; tell it to the person"),
                    Input::masked("again", "PIN again", ""),
                ],
            );
            p.context.push(strings::STAFF_ADD_CONTEXT.into());
            self.panel = Some(p);
            return;
        }
        let Some(s) = self.staff.selected().cloned() else {
            return self.error(strings::NO_STAFF_SELECTED);
        };
        match a {
            Action::StaffDeactivate => self.confirm = Some(Confirm::Deactivate { id: s.id }),
            Action::StaffReactivate => self.apply_staff(&s.id, StaffChange::Reactivate),
            Action::StaffUnlock => self.apply_staff(&s.id, StaffChange::Unlock),
            Action::StaffRole => {
                let mut p = Panel::new(
                    PanelKind::Role { id: s.id.clone() },
                    strings::staff_role_title(&s.id),
                    vec![Input::choice(
                        "role",
                        "New role",
                        &["nurse", "physician", "admin"],
                        s.role.as_str(),
                    )],
                );
                p.context.push(strings::staff_who(&s.name, s.role.as_str()));
                self.panel = Some(p);
            }
            Action::StaffResetPin => {
                let mut p = Panel::new(
                    PanelKind::ResetPin { id: s.id.clone() },
                    strings::staff_reset_title(&s.id),
                    vec![
                        Input::masked("pin", "New PIN", "4 to 12 digits; tell it to the person"),
                        Input::masked("again", "PIN again", ""),
                    ],
                );
                p.context.push(strings::staff_who(&s.name, s.role.as_str()));
                p.context.push(strings::STAFF_RESET_CONTEXT.into());
                self.panel = Some(p);
            }
            _ => {}
        }
    }

    /// `P`: the signed-in person's own PIN, the current one asked again.
    pub(super) fn open_own_pin(&mut self) {
        let Some(user) = &self.user else { return };
        let mut p = Panel::new(
            PanelKind::OwnPin,
            strings::own_pin_title(&user.id),
            vec![
                Input::masked("current", "Current PIN", "the PIN you signed in with"),
                Input::masked("pin", "New PIN", "4 to 12 digits"),
                Input::masked("again", "New PIN again", ""),
            ],
        );
        p.context.push(strings::OWN_PIN_CONTEXT.into());
        self.panel = Some(p);
    }

    pub(super) fn confirm_key(&mut self, k: KeyEvent) {
        let Some(c) = self.confirm.clone() else {
            return;
        };
        match k.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                self.confirm = None;
                match c {
                    Confirm::Deactivate { id } => self.apply_staff(&id, StaffChange::Deactivate),
                    Confirm::Role { id, role } => self.apply_staff(&id, StaffChange::Role(role)),
                }
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                self.confirm = None;
                self.info(strings::NOTHING_CHANGED);
            }
            _ => {}
        }
    }

    /// The text of the y / n question.
    pub fn confirm_text(&self) -> Option<String> {
        let c = self.confirm.as_ref()?;
        let name = |id: &str| {
            self.staff
                .rows
                .iter()
                .find(|s| s.id == id)
                .map_or(String::new(), |s| s.name.clone())
        };
        Some(match c {
            Confirm::Deactivate { id } => strings::confirm_deactivate(id, &name(id)),
            Confirm::Role { id, role } => {
                let was = self
                    .staff
                    .rows
                    .iter()
                    .find(|s| &s.id == id)
                    .map_or("", |s| s.role.as_str());
                strings::confirm_role(id, &name(id), was, role.as_str())
            }
        })
    }

    fn apply_staff(&mut self, id: &str, change: StaffChange) {
        let Some(user) = self.user.clone() else {
            return;
        };
        let done = match &change {
            StaffChange::Unlock => "unlocked",
            StaffChange::Deactivate => "deactivated: can no longer sign in",
            StaffChange::Reactivate => "reactivated",
            StaffChange::Role(_) => "given a new role",
            StaffChange::ResetPin(_) => "given a new PIN (unlocked)",
        };
        let changed = access::change_staff(&mut self.db, &user, id, change, self.now);
        match changed {
            Ok(s) => {
                self.load_staff();
                if s.id == user.id {
                    // The account this terminal signed in with changed: every later write
                    // would be refused, so it is signed in again now.
                    self.sign_out(false);
                    self.info(strings::OWN_ACCOUNT_CHANGED);
                } else {
                    self.info(format!("staff {} ({}) {done}", s.id, s.role));
                }
            }
            Err(e) => self.error(e.to_string()),
        }
    }

    /// A key in an open panel: editing, Esc, or Enter to send it.
    pub(super) fn panel_key(&mut self, k: KeyEvent) {
        let Some(p) = self.panel.as_mut() else {
            return;
        };
        match p.key(&k) {
            Outcome::Stay => {}
            // As for an entry form: typed input is not thrown away without a question.
            Outcome::Cancel if p.dirty => self.pending = Some(super::app::Pending::CloseForm),
            Outcome::Cancel => {
                self.panel = None;
                self.info(strings::NOTHING_CHANGED);
            }
            Outcome::Submit => self.submit_panel(),
        }
    }

    fn submit_panel(&mut self) {
        let (Some(mut p), Some(user)) = (self.panel.take(), self.user.clone()) else {
            return;
        };
        if let PanelKind::Patient { .. } = p.kind {
            self.panel = Some(p);
            return self.submit_patient();
        }
        if matches!(
            p.kind,
            PanelKind::AddStaff | PanelKind::ResetPin { .. } | PanelKind::OwnPin
        ) && p.value("pin") != p.value("again")
        {
            p.clear("again");
            p.refuse("again", WardError::PinsDiffer.to_string());
            self.panel = Some(p);
            return;
        }
        let now = self.now;
        match p.kind.clone() {
            PanelKind::AddStaff => {
                let added = p
                    .value("role")
                    .parse::<Role>()
                    .map_err(WardError::from)
                    .and_then(|role| {
                        access::staff_add(
                            &mut self.db,
                            &user,
                            p.value("id").trim(),
                            p.value("name"),
                            role,
                            p.value("pin"),
                            now,
                        )
                    });
                match added {
                    Ok(id) => {
                        self.staff.sel_id = Some(id.clone());
                        self.load_staff();
                        self.info(strings::staff_added(&id, p.value("role")));
                    }
                    Err(e) => {
                        let key = match &e {
                            WardError::Value(values::ValueError::StaffId(_))
                            | WardError::Store(crate::store::StoreError::DuplicateStaff(_)) => "id",
                            WardError::Value(values::ValueError::Pin) => "pin",
                            WardError::Value(_) => "name",
                            _ => "",
                        };
                        if key == "pin" {
                            p.clear("pin");
                            p.clear("again");
                        }
                        p.refuse(key, e.to_string());
                        self.panel = Some(p);
                    }
                }
            }
            PanelKind::ResetPin { id } => {
                let hash = values::pin(p.value("pin"))
                    .map_err(WardError::from)
                    .and_then(|pin| access::hash_pin(&pin));
                match hash {
                    Ok(h) => self.apply_staff(&id, StaffChange::ResetPin(h)),
                    Err(e) => {
                        p.clear("pin");
                        p.clear("again");
                        p.refuse("pin", e.to_string());
                        self.panel = Some(p);
                    }
                }
            }
            PanelKind::Role { id } => match p.value("role").parse::<Role>() {
                Ok(role) => self.confirm = Some(Confirm::Role { id, role }),
                Err(e) => {
                    p.refuse("role", e.to_string());
                    self.panel = Some(p);
                }
            },
            PanelKind::OwnPin => {
                let _ = self.db.set_busy_timeout(std::time::Duration::from_secs(3));
                let changed = access::change_own_pin(
                    &mut self.db,
                    &self.cfg,
                    &user,
                    p.value("current"),
                    p.value("pin"),
                    now,
                );
                let _ = self
                    .db
                    .set_busy_timeout(std::time::Duration::from_millis(200));
                match changed {
                    Ok(()) => {
                        // The session's account now has the new PIN's hash: without it,
                        // every later write would find the account changed.
                        match self.db.read(|r| r.staff(&user.id)) {
                            Ok(Some(s)) => self.user = Some(s),
                            _ => self.sign_out(false),
                        }
                        self.info(strings::OWN_PIN_CHANGED);
                    }
                    Err(WardError::Locked(_) | WardError::Inactive(_)) => {
                        let e = changed.err().map(|e| e.to_string()).unwrap_or_default();
                        self.sign_out(false);
                        self.creds.error = Some(e);
                    }
                    Err(e) => {
                        let key = match &e {
                            WardError::WrongCurrentPin { .. } => "current",
                            WardError::Value(values::ValueError::Pin) | WardError::SamePin => "pin",
                            _ => "",
                        };
                        // What was refused is typed again; the rest is kept.
                        let refused: &[&str] = match key {
                            "current" => &["current"],
                            "pin" => &["pin", "again"],
                            _ => &[],
                        };
                        for k in refused {
                            p.clear(k);
                        }
                        p.refuse(key, e.to_string());
                        self.panel = Some(p);
                    }
                }
            }
            PanelKind::Patient { .. } => {}
        }
    }
}
