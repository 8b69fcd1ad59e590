//! Editing a form field as in any other program: a cursor (Left, Right, Home, End), Delete
//! and Backspace at the cursor, Ctrl-U and Ctrl-W. The editing itself is `tui-input`'s
//! (grapheme-aware, cursor counted in chars); the field keeps its value as a plain `String`
//! and the cursor beside it, so that the rest of the form reads values as before.
//!
//! One rule for pre-filled values: a field that has not been edited since it got focus is
//! "fresh", and the first key typed into it replaces the whole value; Backspace and Delete
//! clear it. Cursor keys count as editing: after Left or Home the next character inserts.
//!
//! A choice with many options (the side-effect kind) is filtered by typing: the letters
//! typed narrow the options to those containing them, Backspace widens again.

use tui_input::{Input, InputRequest};

use super::form::{Field, FieldKind};

/// The longest text a form field takes.
pub const MAX_FIELD_CHARS: usize = 500;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edit {
    Left,
    Right,
    Home,
    End,
    Backspace,
    Delete,
    /// Ctrl-U: everything before the cursor.
    ClearToStart,
    /// Ctrl-W: the word before the cursor.
    DeleteWord,
}

/// One request on a text and its cursor (in chars), done by `tui-input`.
fn handle(value: &mut String, cursor: &mut usize, req: InputRequest) -> bool {
    let mut input = Input::new(std::mem::take(value)).with_cursor(*cursor);
    let changed = input.handle(req).is_some_and(|r| r.value);
    *value = input.value().to_string();
    *cursor = input.cursor();
    changed
}

/// Types one character at the cursor of a text; a fresh text is replaced by it. The one
/// editing rule of every field at the terminal: the entry forms' and the small panels'
/// (`panel.rs`). True when the value changed.
pub fn insert_at(value: &mut String, cursor: &mut usize, fresh: &mut bool, ch: char) -> bool {
    if *fresh {
        value.clear();
        *cursor = 0;
        *fresh = false;
    }
    if value.chars().count() >= MAX_FIELD_CHARS {
        return false;
    }
    handle(value, cursor, InputRequest::InsertChar(ch))
}

/// A cursor or deletion key on a text: Backspace or Delete clear a fresh one, any other
/// key makes it edited. True when the value changed.
pub fn edit_at(value: &mut String, cursor: &mut usize, fresh: &mut bool, e: Edit) -> bool {
    if *fresh && matches!(e, Edit::Backspace | Edit::Delete) {
        *fresh = false;
        let had = !value.is_empty();
        value.clear();
        *cursor = 0;
        return had;
    }
    *fresh = false;
    handle(
        value,
        cursor,
        match e {
            Edit::Left => InputRequest::GoToPrevChar,
            Edit::Right => InputRequest::GoToNextChar,
            Edit::Home => InputRequest::GoToStart,
            Edit::End => InputRequest::GoToEnd,
            Edit::Backspace => InputRequest::DeletePrevChar,
            Edit::Delete => InputRequest::DeleteNextChar,
            Edit::ClearToStart => InputRequest::DeleteFromStart,
            Edit::DeleteWord => InputRequest::DeletePrevWord,
        },
    )
}

impl Field {
    /// The cursor as a char index that is inside the value, whatever set the value.
    pub fn cursor_at(&self) -> usize {
        self.cursor.min(self.value.chars().count())
    }

    /// Sets a value from outside (a pre-fill): cursor at its end, replaced by the first key.
    pub fn set_value(&mut self, v: impl Into<String>) {
        self.value = v.into();
        self.cursor = self.value.chars().count();
        self.fresh = !self.value.is_empty();
        self.filter.clear();
    }

    /// The field got focus (or a save was refused on it): the next key typed replaces it.
    pub fn focused_again(&mut self) {
        self.filter.clear();
        if self.kind == FieldKind::Text {
            self.cursor = self.value.chars().count();
            self.fresh = !self.value.is_empty();
        }
    }

    /// Types one character at the cursor. True when the value changed.
    pub fn insert(&mut self, ch: char) -> bool {
        insert_at(&mut self.value, &mut self.cursor, &mut self.fresh, ch)
    }

    /// A cursor or deletion key on a text field. True when the value changed.
    pub fn edit(&mut self, e: Edit) -> bool {
        if self.kind != FieldKind::Text {
            return false;
        }
        edit_at(&mut self.value, &mut self.cursor, &mut self.fresh, e)
    }

    /// Whether typing letters filters this choice's options (a long list: the kind).
    pub fn filterable(&self) -> bool {
        matches!(&self.kind, FieldKind::Choice(o) if self.key == "kind" && o.len() > 1)
    }

    /// The options that contain the filter typed so far (all of them when none is typed).
    pub fn matches(&self) -> Vec<&str> {
        let FieldKind::Choice(opts) = &self.kind else {
            return vec![];
        };
        let f = self.filter.to_lowercase();
        opts.iter()
            .map(String::as_str)
            .filter(|o| o.to_lowercase().contains(&f))
            .collect()
    }

    /// Adds a letter to the filter if some option still matches (else the letter is refused
    /// and nothing changes); the highlighted option becomes the first that starts with the
    /// filter, or else the first that contains it. True when the value changed.
    pub fn filter_push(&mut self, ch: char) -> bool {
        self.filter.push(ch);
        if self.matches().is_empty() {
            self.filter.pop();
            return false;
        }
        self.pick_match()
    }

    /// Backspace on a filtered choice: one letter less, more options. The highlighted
    /// option matched the longer filter, so it matches this one and stays.
    pub fn filter_pop(&mut self) -> bool {
        self.filter.pop();
        false
    }

    fn pick_match(&mut self) -> bool {
        let f = self.filter.to_lowercase();
        let m = self.matches();
        if m.iter().any(|o| *o == self.value) && self.value.to_lowercase().starts_with(&f) {
            return false;
        }
        let pick = m
            .iter()
            .find(|o| o.to_lowercase().starts_with(&f))
            .or(m.first())
            .map(|o| o.to_string());
        match pick {
            Some(p) if p != self.value => {
                self.value = p;
                true
            }
            _ => false,
        }
    }

    /// Left/Right on a choice: the next option, among the matches while a filter is typed.
    pub fn cycle(&mut self, forward: bool) {
        let opts: Vec<String> = self.matches().iter().map(|s| s.to_string()).collect();
        if opts.is_empty() {
            return;
        }
        let i = opts.iter().position(|o| *o == self.value).unwrap_or(0);
        let n = opts.len();
        let j = if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        };
        self.value = opts[j].clone();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn text(v: &str) -> Field {
        let mut f = Field {
            key: "t",
            label: "T",
            value: String::new(),
            kind: FieldKind::Text,
            hint: "",
            fresh: false,
            cursor: 0,
            filter: String::new(),
        };
        f.set_value(v);
        f
    }

    fn kinds() -> Field {
        Field {
            key: "kind",
            label: "Kind",
            value: "nausea".into(),
            kind: FieldKind::Choice(
                [
                    "hallucinations",
                    "nausea",
                    "vomiting",
                    "blurred-vision",
                    "double-vision",
                    "headache",
                    "other",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            ),
            hint: "",
            fresh: false,
            cursor: 0,
            filter: String::new(),
        }
    }

    #[test]
    fn first_key_replaces_a_prefilled_value() {
        let mut f = text("14");
        assert!(f.fresh);
        f.insert('8');
        assert_eq!((f.value.as_str(), f.cursor), ("8", 1));
        f.insert('6');
        assert_eq!(f.value, "86");
    }

    #[test]
    fn cursor_keys_count_as_editing() {
        let mut f = text("14");
        f.edit(Edit::Home);
        f.insert('1');
        assert_eq!(f.value, "114");
        let mut f = text("14");
        f.edit(Edit::Left);
        f.insert('.');
        assert_eq!(f.value, "1.4");
        f.edit(Edit::End);
        f.insert('5');
        assert_eq!(f.value, "1.45");
        f.edit(Edit::Right);
        assert_eq!(f.cursor, 4, "Right at the end stays");
    }

    #[test]
    fn backspace_and_delete_at_the_cursor() {
        let mut f = text("2026-03-10 13:00");
        assert!(f.edit(Edit::Backspace), "fresh: clears");
        assert_eq!(f.value, "");
        f.set_value("abcd");
        f.edit(Edit::Left);
        f.edit(Edit::Left);
        assert!(f.edit(Edit::Backspace));
        assert_eq!((f.value.as_str(), f.cursor), ("acd", 1));
        assert!(f.edit(Edit::Delete));
        assert_eq!((f.value.as_str(), f.cursor), ("ad", 1));
        f.edit(Edit::End);
        assert!(!f.edit(Edit::Delete), "nothing after the cursor");
    }

    #[test]
    fn ctrl_u_and_ctrl_w() {
        let mut f = text("2026-03-10 13:00");
        f.edit(Edit::Left);
        f.edit(Edit::Left);
        assert!(f.edit(Edit::ClearToStart));
        assert_eq!((f.value.as_str(), f.cursor), ("00", 0));
        let mut f = text("pump alarm again");
        f.fresh = false;
        assert!(f.edit(Edit::DeleteWord));
        assert_eq!(f.value, "pump alarm ");
        f.edit(Edit::DeleteWord);
        assert_eq!(f.value, "pump ");
    }

    #[test]
    fn unicode_is_edited_by_characters() {
        let mut f = text("Jérôme");
        f.edit(Edit::Left);
        f.edit(Edit::Left);
        f.edit(Edit::Backspace);
        assert_eq!(f.value, "Jérme");
        f.insert('ô');
        assert_eq!((f.value.as_str(), f.cursor), ("Jérôme", 4));
    }

    #[test]
    fn the_length_is_capped() {
        let mut f = text("");
        for _ in 0..MAX_FIELD_CHARS + 3 {
            f.insert('x');
        }
        assert_eq!(f.value.chars().count(), MAX_FIELD_CHARS);
    }

    #[test]
    fn typing_filters_the_kinds() {
        let mut f = kinds();
        assert!(f.filterable());
        assert!(f.filter_push('v'));
        assert_eq!(
            f.matches(),
            vec!["vomiting", "blurred-vision", "double-vision"]
        );
        assert_eq!(f.value, "vomiting", "the first that starts with it");
        assert!(f.filter_push('i'));
        // "vi": vomiting drops out; none starts with it, so the first that has it.
        assert_eq!(f.matches(), vec!["blurred-vision", "double-vision"]);
        assert_eq!(f.value, "blurred-vision");
        f.cycle(true);
        assert_eq!(f.value, "double-vision");
        f.cycle(true);
        assert_eq!(f.value, "blurred-vision", "cycles within the matches");
        assert!(!f.filter_push('q'), "a letter nothing has is refused");
        assert_eq!(f.filter, "vi");
        f.filter_pop();
        assert_eq!(f.matches().len(), 3, "Backspace widens");
        f.filter_pop();
        assert_eq!(f.matches().len(), 7, "and back to all");
        f.filter_push('N');
        assert_eq!(f.value, "nausea", "starts-with first, any case");
    }
}
