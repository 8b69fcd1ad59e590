//! The small forms of the staff, own-PIN and patient-details screens: text, masked PIN and
//! choice fields with the usual editing keys. They store nothing themselves: the app hands
//! their values to the ward operations (`staff.rs`, `patient.rs`).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::domain::entry::PatientId;
use crate::domain::record::NewPatient;

#[derive(Debug, Clone, PartialEq)]
pub enum PanelKind {
    AddStaff,
    ResetPin {
        id: String,
    },
    Role {
        id: String,
    },
    OwnPin,
    /// Corrects the details of `patient`, as the form showed them at version `seen`.
    Patient {
        patient: PatientId,
        mrn: String,
        seen: u32,
        was: NewPatient,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum InputKind {
    Text,
    /// A PIN: drawn as dots, never shown.
    Masked,
    Choice(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub key: &'static str,
    pub label: &'static str,
    pub value: String,
    /// In characters.
    pub cursor: usize,
    pub kind: InputKind,
    pub hint: &'static str,
    /// A prefilled value not yet edited: the first key typed replaces it.
    pub fresh: bool,
}

impl Input {
    pub fn text(key: &'static str, label: &'static str, value: &str, hint: &'static str) -> Input {
        Input {
            key,
            label,
            value: value.to_string(),
            cursor: value.chars().count(),
            kind: InputKind::Text,
            hint,
            fresh: !value.is_empty(),
        }
    }

    pub fn masked(key: &'static str, label: &'static str, hint: &'static str) -> Input {
        Input {
            kind: InputKind::Masked,
            ..Input::text(key, label, "", hint)
        }
    }

    pub fn choice(key: &'static str, label: &'static str, options: &[&str], value: &str) -> Input {
        let options: Vec<String> = options.iter().map(|o| o.to_string()).collect();
        let value = if options.iter().any(|o| o == value) {
            value.to_string()
        } else {
            options.first().cloned().unwrap_or_default()
        };
        Input {
            key,
            label,
            value,
            cursor: 0,
            kind: InputKind::Choice(options),
            hint: "←/→ to choose",
            fresh: false,
        }
    }

    /// What the screen shows of the value (a PIN as dots).
    pub fn shown(&self) -> String {
        match &self.kind {
            InputKind::Masked => "•".repeat(self.value.chars().count()),
            InputKind::Text => self.value.clone(),
            InputKind::Choice(_) => format!(
                "‹ {} ›",
                if self.value.is_empty() {
                    "none"
                } else {
                    &self.value
                }
            ),
        }
    }

    fn cycle(&mut self, forward: bool) {
        if let InputKind::Choice(opts) = &self.kind
            && !opts.is_empty()
        {
            let n = opts.len();
            let i = opts.iter().position(|o| *o == self.value).unwrap_or(0);
            self.value = opts[if forward {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            }]
            .clone();
        }
    }

    /// One editing key; true if the value changed.
    fn edit(&mut self, k: &KeyEvent) -> bool {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        if let InputKind::Choice(opts) = &self.kind {
            return match k.code {
                KeyCode::Left | KeyCode::Right => {
                    self.cycle(k.code == KeyCode::Right);
                    true
                }
                KeyCode::Char(' ') => {
                    self.cycle(true);
                    true
                }
                KeyCode::Char(c) if !ctrl => {
                    let lower = c.to_lowercase().to_string();
                    match opts
                        .iter()
                        .find(|o| o.starts_with(&lower) && **o != self.value)
                    {
                        Some(o) => {
                            self.value = o.clone();
                            true
                        }
                        None => false,
                    }
                }
                _ => false,
            };
        }
        // Text and PIN fields edit as the entry forms' fields do (`input`).
        use super::input::{Edit, edit_at, insert_at};
        let (v, c, f) = (&mut self.value, &mut self.cursor, &mut self.fresh);
        let e = match k.code {
            KeyCode::Left => Edit::Left,
            KeyCode::Right => Edit::Right,
            KeyCode::Home => Edit::Home,
            KeyCode::End => Edit::End,
            KeyCode::Char('u') if ctrl => Edit::ClearToStart,
            KeyCode::Char('w') if ctrl => Edit::DeleteWord,
            KeyCode::Backspace => Edit::Backspace,
            KeyCode::Delete => Edit::Delete,
            KeyCode::Char(ch) if !ctrl && !ch.is_control() => return insert_at(v, c, f, ch),
            _ => return false,
        };
        edit_at(v, c, f, e)
    }
}

/// What a key did to a panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Stay,
    Submit,
    Cancel,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub kind: PanelKind,
    pub title: String,
    /// Shown above the fields.
    pub context: Vec<String>,
    pub fields: Vec<Input>,
    pub focus: usize,
    /// (field key, message); key "" is the panel as a whole.
    pub error: Option<(&'static str, String)>,
    /// Something was typed: Esc, sign-out and quit ask before throwing it away.
    pub dirty: bool,
}

impl Panel {
    pub fn new(kind: PanelKind, title: String, fields: Vec<Input>) -> Panel {
        Panel {
            kind,
            title,
            context: vec![],
            fields,
            focus: 0,
            error: None,
            dirty: false,
        }
    }

    pub fn value(&self, key: &str) -> &str {
        self.fields
            .iter()
            .find(|f| f.key == key)
            .map_or("", |f| f.value.as_str())
    }

    /// The message goes next to `key` (or above the fields for ""), and the cursor there.
    pub fn refuse(&mut self, key: &'static str, msg: impl Into<String>) {
        if let Some(i) = self.fields.iter().position(|f| f.key == key) {
            self.focus = i;
        }
        self.error = Some((key, msg.into()));
    }

    pub fn clear(&mut self, key: &str) {
        if let Some(f) = self.fields.iter_mut().find(|f| f.key == key) {
            f.value.clear();
            f.cursor = 0;
            f.fresh = false;
        }
    }

    pub fn key(&mut self, k: &KeyEvent) -> Outcome {
        let n = self.fields.len().max(1);
        let shift = k.modifiers.contains(KeyModifiers::SHIFT);
        match k.code {
            KeyCode::Esc => return Outcome::Cancel,
            KeyCode::Enter => {
                // As at sign-in: Enter moves on to an empty next field, and sends the
                // panel once the rest is filled in.
                let next = self.focus + 1;
                if next < self.fields.len() && self.fields[next].value.is_empty() {
                    self.focus = next;
                    return Outcome::Stay;
                }
                return Outcome::Submit;
            }
            KeyCode::Tab if !shift => self.focus = (self.focus + 1) % n,
            KeyCode::Down => self.focus = (self.focus + 1) % n,
            KeyCode::BackTab | KeyCode::Up | KeyCode::Tab => self.focus = (self.focus + n - 1) % n,
            _ => {
                let key = self.fields.get(self.focus).map(|f| f.key);
                let changed = self.fields.get_mut(self.focus).is_some_and(|f| f.edit(k));
                self.dirty |= changed;
                // An error clears when its field changes.
                if changed && self.error.as_ref().is_some_and(|(e, _)| Some(*e) == key) {
                    self.error = None;
                }
            }
        }
        Outcome::Stay
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn press(p: &mut Panel, code: KeyCode) -> Outcome {
        p.key(&KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn ctrl(p: &mut Panel, c: char) {
        p.key(&KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL));
    }

    fn panel(value: &str) -> Panel {
        Panel::new(
            PanelKind::OwnPin,
            "t".into(),
            vec![
                Input::text("a", "A", value, ""),
                Input::masked("b", "B", ""),
            ],
        )
    }

    #[test]
    fn the_first_key_replaces_a_prefilled_value_and_the_cursor_edits_inside() {
        let mut p = panel("Jan Jansen");
        press(&mut p, KeyCode::Char('X'));
        assert_eq!(p.value("a"), "X");
        let mut p = panel("Jan Jansen");
        press(&mut p, KeyCode::Home);
        press(&mut p, KeyCode::Right);
        press(&mut p, KeyCode::Right);
        press(&mut p, KeyCode::Right);
        press(&mut p, KeyCode::Char('s'));
        assert_eq!(p.value("a"), "Jans Jansen");
        press(&mut p, KeyCode::Delete);
        assert_eq!(p.value("a"), "JansJansen");
        press(&mut p, KeyCode::End);
        ctrl(&mut p, 'w');
        assert_eq!(p.value("a"), "");
        let mut p = panel("a bc de");
        press(&mut p, KeyCode::End);
        ctrl(&mut p, 'w');
        assert_eq!(p.value("a"), "a bc ");
        press(&mut p, KeyCode::Left);
        ctrl(&mut p, 'u');
        assert_eq!(p.value("a"), " ");
    }

    #[test]
    fn enter_moves_to_an_empty_next_field_then_submits_and_a_pin_is_never_shown() {
        let mut p = panel("x");
        assert_eq!(press(&mut p, KeyCode::Enter), Outcome::Stay);
        assert_eq!(p.focus, 1);
        for c in "1234".chars() {
            press(&mut p, KeyCode::Char(c));
        }
        assert_eq!(p.fields[1].shown(), "••••");
        assert_eq!(p.value("b"), "1234");
        assert_eq!(press(&mut p, KeyCode::Enter), Outcome::Submit);
        assert_eq!(press(&mut p, KeyCode::Esc), Outcome::Cancel);
    }

    #[test]
    fn an_error_clears_when_its_field_changes() {
        let mut p = panel("x");
        p.refuse("b", "wrong");
        assert_eq!(p.focus, 1);
        press(&mut p, KeyCode::Tab);
        press(&mut p, KeyCode::Char('y'));
        assert!(p.error.is_some(), "another field's edit keeps it");
        press(&mut p, KeyCode::Tab);
        press(&mut p, KeyCode::Char('1'));
        assert!(p.error.is_none());
    }

    #[test]
    fn choices_cycle_and_jump_by_letter() {
        let mut p = Panel::new(
            PanelKind::AddStaff,
            "t".into(),
            vec![Input::choice(
                "role",
                "Role",
                &["nurse", "physician", "admin"],
                "nurse",
            )],
        );
        press(&mut p, KeyCode::Right);
        assert_eq!(p.value("role"), "physician");
        press(&mut p, KeyCode::Left);
        press(&mut p, KeyCode::Left);
        assert_eq!(p.value("role"), "admin");
        press(&mut p, KeyCode::Char('n'));
        assert_eq!(p.value("role"), "nurse");
    }
}
