//! Issue 11 §3 "typing like in any other program": the editing keys of a form's text field,
//! the one rule for pre-filled values, errors that clear when their field changes, times
//! typed as HH:MM, and the side-effect kinds filtered by typing. Keys go into `App::update`;
//! no terminal.
#![allow(clippy::unwrap_used)]

use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Modifier;
use titrate::config::Config;
use titrate::domain::entry::{Entry, EntryData};
use titrate::domain::time::to_db;
use titrate::store::{Db, StoreError};
use titrate::tui::app::{App, Msg, Screen};
use titrate::tui::form::FormKind;

mod common;
use common::tui::{ctrl, now, press, typ};

struct Ward {
    _dir: tempfile::TempDir,
    app: App,
}

fn signed_in() -> Ward {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.db");
    drop(titrate::demo::create(&path, &Config::defaults(), now()).unwrap());
    let mut app = App::new(Config::defaults(), Db::open(&path).unwrap(), now());
    app.update(Msg::Tick(now()));
    press(&mut app, KeyCode::Esc);
    typ(&mut app, "DEMO");
    press(&mut app, KeyCode::Enter);
    typ(&mut app, "0000");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Overview);
    Ward { _dir: dir, app }
}

fn focused(app: &App) -> (&'static str, String, usize) {
    let f = app.form.as_ref().expect("a form is open");
    let x = &f.fields[f.focus];
    (x.key, x.value.clone(), x.cursor_at())
}

fn focus_field(app: &mut App, key: &str) {
    for _ in 0..20 {
        if focused(app).0 == key {
            return;
        }
        press(app, KeyCode::Tab);
    }
    panic!("no field {key}");
}

fn error(app: &App) -> Option<(&'static str, String)> {
    app.form.as_ref().unwrap().error.clone()
}

fn entries(app: &mut App, mrn: &str) -> Vec<Entry> {
    app.db
        .read(|r| {
            let p = r.patient_by_mrn(mrn)?.unwrap();
            r.entries_of(p.id)
        })
        .map_err(|e: StoreError| e)
        .unwrap()
}

fn screen(app: &App, w: u16, h: u16) -> (String, ratatui::buffer::Buffer) {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| titrate::tui::ui::draw(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    let mut text = String::new();
    for y in 0..h {
        for x in 0..w {
            text.push_str(buf[(x, y)].symbol());
        }
        text.push('\n');
    }
    (text, buf)
}

/// The rate form on Bram (the first row), its reason field focused and empty.
fn reason_field(w: &mut Ward) {
    press(&mut w.app, KeyCode::Char('r'));
    assert_eq!(w.app.form.as_ref().unwrap().kind, FormKind::Rate);
    focus_field(&mut w.app, "reason");
}

#[test]
fn left_right_home_end_move_the_cursor_and_typing_inserts_there() {
    let mut w = signed_in();
    reason_field(&mut w);
    let app = &mut w.app;
    typ(app, "pump alarm");
    assert_eq!(focused(app), ("reason", "pump alarm".into(), 10));
    press(app, KeyCode::Left);
    press(app, KeyCode::Left);
    assert_eq!(focused(app).2, 8);
    typ(app, "XY");
    assert_eq!(focused(app), ("reason", "pump alaXYrm".into(), 10));
    press(app, KeyCode::Home);
    typ(app, ">");
    assert_eq!(focused(app), ("reason", ">pump alaXYrm".into(), 1));
    press(app, KeyCode::Right);
    assert_eq!(focused(app).2, 2);
    press(app, KeyCode::End);
    typ(app, "!");
    assert_eq!(focused(app), ("reason", ">pump alaXYrm!".into(), 14));
    // Right at the end and Left at the start stay where they are.
    press(app, KeyCode::Right);
    assert_eq!(focused(app).2, 14);
    press(app, KeyCode::Home);
    press(app, KeyCode::Left);
    assert_eq!(focused(app).2, 0);
}

#[test]
fn backspace_and_delete_work_at_the_cursor() {
    let mut w = signed_in();
    reason_field(&mut w);
    let app = &mut w.app;
    typ(app, "abcdef");
    press(app, KeyCode::Left);
    press(app, KeyCode::Left);
    press(app, KeyCode::Backspace);
    assert_eq!(focused(app), ("reason", "abcef".into(), 3));
    press(app, KeyCode::Delete);
    assert_eq!(focused(app), ("reason", "abcf".into(), 3));
    press(app, KeyCode::Home);
    press(app, KeyCode::Backspace);
    assert_eq!(focused(app), ("reason", "abcf".into(), 0), "nothing before");
    press(app, KeyCode::Delete);
    assert_eq!(focused(app), ("reason", "bcf".into(), 0));
}

#[test]
fn ctrl_u_clears_to_the_start_and_ctrl_w_deletes_the_word_before() {
    let mut w = signed_in();
    reason_field(&mut w);
    let app = &mut w.app;
    typ(app, "pain not controlled");
    ctrl(app, 'w');
    assert_eq!(focused(app), ("reason", "pain not ".into(), 9));
    ctrl(app, 'w');
    assert_eq!(focused(app).1, "pain ");
    typ(app, "unchanged");
    press(app, KeyCode::Left);
    press(app, KeyCode::Left);
    ctrl(app, 'u');
    assert_eq!(focused(app), ("reason", "ed".into(), 0));
    // Ctrl-U and Ctrl-W are editing keys, not letters: nothing typed "u" or "w".
    assert!(!focused(app).1.contains(['u', 'w']));
}

#[test]
fn the_first_key_replaces_a_prefilled_value_after_every_focus_change() {
    let mut w = signed_in();
    let app = &mut w.app;
    press(app, KeyCode::Char('r'));
    assert_eq!(focused(app), ("rate", "14".into(), 2), "Bram runs at 14");
    typ(app, "12");
    assert_eq!(focused(app).1, "12", "not 1412");
    // Away and back: the value is pre-filled again, and the first key replaces it.
    press(app, KeyCode::Tab);
    press(app, KeyCode::BackTab);
    typ(app, "10");
    assert_eq!(focused(app).1, "10", "not 1210");
    press(app, KeyCode::Down);
    press(app, KeyCode::Up);
    press(app, KeyCode::Backspace);
    assert_eq!(focused(app).1, "", "Backspace on a fresh value clears it");
    // Cursor keys count as editing: after Left or Home the next character inserts.
    press(app, KeyCode::Tab);
    press(app, KeyCode::BackTab);
    typ(app, "14");
    press(app, KeyCode::Tab);
    press(app, KeyCode::BackTab);
    press(app, KeyCode::Left);
    typ(app, "0");
    assert_eq!(focused(app).1, "104");
    press(app, KeyCode::Tab);
    press(app, KeyCode::BackTab);
    press(app, KeyCode::Home);
    typ(app, "1");
    assert_eq!(focused(app).1, "1104");
    press(app, KeyCode::Tab);
    press(app, KeyCode::BackTab);
    press(app, KeyCode::End);
    typ(app, "5");
    assert_eq!(focused(app).1, "11045");
}

/// The "Seen": after a refusal, typing appended, giving `01-05-19701970-05-01`.
#[test]
fn the_first_key_replaces_the_value_after_a_refused_save() {
    let mut w = signed_in();
    let app = &mut w.app;
    press(app, KeyCode::Char('a'));
    assert_eq!(app.form.as_ref().unwrap().kind, FormKind::AddPatient);
    typ(app, "555001");
    press(app, KeyCode::Tab);
    typ(app, "Test Person");
    press(app, KeyCode::Tab);
    typ(app, "01-05-1970");
    // Sex has no default: chosen, so that the birth date is what is refused.
    press(app, KeyCode::Tab);
    press(app, KeyCode::Right);
    press(app, KeyCode::Enter);
    let (key, msg) = error(app).expect("refused");
    assert_eq!(key, "birth", "{msg}");
    assert_eq!(focused(app).0, "birth");
    typ(app, "1970-05-01");
    assert_eq!(focused(app).1, "1970-05-01");
    assert_eq!(
        error(app),
        None,
        "the error went with the value it was about"
    );
    press(app, KeyCode::Enter);
    assert!(
        app.form.is_none(),
        "{:?}",
        app.form.as_ref().map(|f| &f.error)
    );
}

#[test]
fn an_error_clears_when_its_field_changes_and_only_then() {
    let mut w = signed_in();
    let app = &mut w.app;
    press(app, KeyCode::Char('r'));
    typ(app, "140");
    press(app, KeyCode::Enter);
    assert_eq!(error(app).map(|e| e.0), Some("rate"));
    // Another field changing leaves the rate's error standing.
    focus_field(app, "reason");
    typ(app, "x");
    assert_eq!(error(app).map(|e| e.0), Some("rate"));
    // The Seen: the 140 error stayed after the field read 1,5.
    focus_field(app, "rate");
    typ(app, "1,5");
    assert_eq!(error(app), None);
    // Any editing key counts, not only a character.
    press(app, KeyCode::Enter);
    assert!(error(app).is_some());
    press(app, KeyCode::Left);
    assert!(error(app).is_some(), "moving the cursor changes nothing");
    press(app, KeyCode::Delete);
    assert_eq!(error(app), None);
    // An error about the whole form clears on any change.
    app.form.as_mut().unwrap().error = Some(("", "the whole form".into()));
    focus_field(app, "time");
    typ(app, "1");
    assert_eq!(error(app), None);
}

#[test]
fn left_and_right_on_a_choice_keep_cycling_it() {
    let mut w = signed_in();
    let app = &mut w.app;
    press(app, KeyCode::Char('s'));
    focus_field(app, "severity");
    assert_eq!(focused(app).1, "mild");
    press(app, KeyCode::Right);
    assert_eq!(focused(app).1, "moderate");
    press(app, KeyCode::Left);
    press(app, KeyCode::Left);
    assert_eq!(focused(app).1, "severe");
}

#[test]
fn a_time_typed_as_hh_mm_is_the_latest_that_has_passed_and_is_shown_before_saving() {
    let mut w = signed_in();
    let app = &mut w.app;
    let bram = "100871";
    press(app, KeyCode::Char('n'));
    typ(app, "5");
    focus_field(app, "time");
    typ(app, "12:30");
    let (text, _) = screen(app, 80, 24);
    assert!(text.contains("= Tue 10 Mar 12:30"), "{text}");
    // Later than now (13:00): yesterday's, and the form says so before it is saved.
    for _ in 0..5 {
        press(app, KeyCode::Backspace);
    }
    typ(app, "13:30");
    let (text, _) = screen(app, 80, 24);
    assert!(text.contains("= Mon 9 Mar 13:30"), "{text}");
    // Half typed: the refusal in a nurse's words, never "RFC 3339".
    press(app, KeyCode::Backspace);
    let (text, _) = screen(app, 120, 40);
    assert!(text.contains("write a time like 14:05"), "{text}");
    assert!(!text.to_lowercase().contains("rfc"), "{text}");
    typ(app, "0");
    press(app, KeyCode::Enter);
    assert!(
        app.form.is_none(),
        "{:?}",
        app.form.as_ref().map(|f| &f.error)
    );
    let e = entries(app, bram).into_iter().max_by_key(|e| e.id).unwrap();
    assert!(matches!(e.data, EntryData::Nrs { .. }), "{e:?}");
    assert_eq!(to_db(e.happened_at), "2026-03-09T12:30:00Z");
}

#[test]
fn typing_filters_the_side_effect_kinds() {
    let mut w = signed_in();
    let app = &mut w.app;
    press(app, KeyCode::Char('s'));
    assert_eq!(focused(app).0, "kind");
    typ(app, "vis");
    let f = &app.form.as_ref().unwrap().fields[0];
    assert_eq!(f.filter, "vis");
    assert_eq!(f.matches(), vec!["blurred-vision", "double-vision"]);
    assert_eq!(f.value, "blurred-vision");
    let (text, _) = screen(app, 80, 24);
    assert!(text.contains("blurred-vision · double-vision"), "{text}");
    assert!(!text.contains("nausea"), "{text}");
    press(app, KeyCode::Right);
    assert_eq!(focused(app).1, "double-vision");
    // A letter no kind has is refused; Backspace widens.
    typ(app, "q");
    assert_eq!(app.form.as_ref().unwrap().fields[0].filter, "vis");
    press(app, KeyCode::Backspace);
    press(app, KeyCode::Backspace);
    let f = &app.form.as_ref().unwrap().fields[0];
    assert_eq!(f.filter, "v");
    assert_eq!(f.matches().len(), 5, "{:?}", f.matches());
    assert_eq!(
        f.value, "double-vision",
        "widening keeps the highlighted kind"
    );
    // Tab takes the highlighted kind and moves on.
    press(app, KeyCode::Tab);
    let f = app.form.as_ref().unwrap();
    assert_eq!(f.value("kind"), "double-vision");
    assert_eq!(f.fields[0].filter, "");
    assert_eq!(focused(app).0, "detail");
    // Enter on a filter takes the match and does not save; the next Enter saves.
    press(app, KeyCode::BackTab);
    typ(app, "naus");
    press(app, KeyCode::Enter);
    let f = app.form.as_ref().expect("still open");
    assert_eq!(f.value("kind"), "nausea");
    press(app, KeyCode::Enter);
    assert!(app.form.is_none(), "saved");
    let e = entries(app, "100871")
        .into_iter()
        .max_by_key(|e| e.id)
        .unwrap();
    assert!(
        matches!(&e.data, EntryData::SideEffect { effect, .. } if effect == "nausea"),
        "{e:?}"
    );
}

#[test]
fn the_cursor_cell_is_drawn_in_reverse_video() {
    let mut w = signed_in();
    reason_field(&mut w);
    let app = &mut w.app;
    typ(app, "abc");
    press(app, KeyCode::Left);
    let (text, buf) = screen(app, 80, 24);
    let (y, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("▶ Reason"))
        .unwrap();
    let x = line.chars().position(|c| c == 'c').unwrap();
    let cell = |x: usize| buf[(x as u16, y as u16)].modifier;
    assert!(cell(x).contains(Modifier::REVERSED), "the cursor is on c");
    assert!(!cell(x - 1).contains(Modifier::REVERSED));
}

// ---------------------------------------------------------------------------------------
// The fit at 80x24 (and 120x40), and the screen below it.

fn snap(app: &App, name: &str) {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| titrate::tui::ui::draw(f, app)).unwrap();
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
    }
}

/// No row of the screen ends inside a word: where text reaches the last column, the cell
/// before is not a letter followed by a letter on the next row's start.
fn assert_no_word_cut(text: &str, w: usize) {
    let rows: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
    for pair in rows.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.len() == w && b.first().is_some_and(|c| c.is_alphanumeric()) {
            assert!(!a[w - 1].is_alphanumeric(), "cut mid-word:\n{text}");
        }
    }
}

#[test]
fn below_80_by_24_the_screen_says_how_large_it_must_be() {
    let w = signed_in();
    for (cw, ch) in [(60, 20), (79, 24), (80, 23)] {
        let (text, _) = screen(&w.app, cw, ch);
        assert!(
            text.contains(&format!(
                "make the window at least 80 x 24; it is {cw} x {ch}"
            )),
            "{text}"
        );
        assert!(!text.contains("Bram"), "nothing else is drawn:\n{text}");
    }
    let (text, _) = screen(&w.app, 80, 24);
    assert!(text.contains("Bram Jansen"));
    let mut t = Terminal::new(TestBackend::new(60, 20)).unwrap();
    t.draw(|f| titrate::tui::ui::draw(f, &w.app)).unwrap();
    insta::assert_snapshot!("too_small_60x20", t.backend());
}

#[test]
fn the_header_never_runs_together_and_the_footer_keeps_help() {
    let mut w = signed_in();
    w.app.cfg.ward_name = "Department of Anaesthesiology, Pain Medicine and Palliative Care".into();
    for width in [80u16, 100, 120] {
        let (text, _) = screen(&w.app, width, 24);
        let header = text.lines().next().unwrap();
        assert!(header.contains("DEMO"), "{header}");
        assert!(header.contains("13:00"), "{header}");
        assert!(
            header.contains("Care   ") || header.contains("…   "),
            "{header}"
        );
        let footer = text.lines().last().unwrap();
        assert!(footer.contains("? help"), "{footer}");
    }
    let (text, _) = screen(&w.app, 80, 24);
    // At 80 columns the ward's name is cut at a word, and marked.
    let header = text.lines().next().unwrap().to_string();
    assert!(header.contains("and Palliative …   "), "{header}");
    assert!(header.ends_with("DEMO · 13:00 "), "{header}");
}

#[test]
fn snap_detail_with_a_long_timeline_row_and_message() {
    let mut w = signed_in();
    let app = &mut w.app;
    press(app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Detail);
    press(app, KeyCode::Char('v'));
    typ(
        app,
        "duplicate entry made by mistake at the wrong bed while the pump alarmed twice",
    );
    press(app, KeyCode::Enter);
    assert!(
        app.form.is_none(),
        "{:?}",
        app.form.as_ref().map(|f| &f.error)
    );
    let (text, _) = screen(app, 80, 24);
    assert_no_word_cut(&text, 80);
    assert!(
        text.contains("twice]"),
        "the highlighted row in full:\n{text}"
    );
    snap(app, "detail_voided_row");
    // Another row highlighted: the voided one is cut at a word, with "…".
    press(app, KeyCode::Char('j'));
    let (text, _) = screen(app, 80, 24);
    assert_no_word_cut(&text, 80);
    assert!(text.contains(" …"), "{text}");
    assert!(!text.contains("alarmed twice"), "{text}");
}

#[test]
fn snap_a_long_message_after_a_save() {
    let mut w = signed_in();
    let app = &mut w.app;
    press(app, KeyCode::Char('j'));
    press(app, KeyCode::Char('r'));
    assert!(app.form.as_ref().unwrap().patient_name.contains("Anouk"));
    typ(app, "10");
    focus_field(app, "reason");
    typ(
        app,
        "pain unchanged after two hours, ordered by the physician on call by telephone",
    );
    press(app, KeyCode::Enter);
    assert!(
        app.form.is_none(),
        "{:?}",
        app.form.as_ref().map(|f| &f.error)
    );
    let text = &app.message.as_ref().unwrap().text;
    assert!(text.chars().count() > 80, "{text}");
    let (screen80, _) = screen(app, 80, 24);
    assert_no_word_cut(&screen80, 80);
    assert!(screen80.contains("increment of 2 mg/h"), "{screen80}");
    snap(app, "message_after_save");
}

#[test]
fn snap_forms_while_typing() {
    let mut w = signed_in();
    let app = &mut w.app;
    press(app, KeyCode::Char('n'));
    typ(app, "5");
    focus_field(app, "time");
    typ(app, "14:05");
    snap(app, "form_nrs_hh_mm");
    for _ in 0..3 {
        press(app, KeyCode::Backspace);
    }
    typ(app, "h");
    snap(app, "form_nrs_bad_time");
    press(app, KeyCode::Esc);
    press(app, KeyCode::Char('y'));
    press(app, KeyCode::Char('s'));
    typ(app, "vis");
    snap(app, "form_side_effect_filtered");
    // Many matches wrap between kinds, under the field's column.
    for _ in 0..3 {
        press(app, KeyCode::Backspace);
    }
    typ(app, "h");
    let (text, _) = screen(app, 80, 24);
    assert!(text.contains("│             headache"), "{text}");
    snap(app, "form_side_effect_filtered_many");
}

#[test]
fn snap_cohort() {
    let mut w = signed_in();
    press(&mut w.app, KeyCode::Char('t'));
    assert_eq!(w.app.screen, Screen::Cohort);
    let (text, _) = screen(&w.app, 80, 24);
    assert_no_word_cut(&text, 80);
    snap(&w.app, "cohort");
}

/// Below 80x24 nothing but the "make it larger" screen is drawn, so no key acts on a form
/// or a row nobody can see; back at 80x24 the keys work again. Ctrl-C still asks to quit.
#[test]
fn keys_do_nothing_while_the_window_is_too_small() {
    let mut w = signed_in();
    let app = &mut w.app;
    app.update(Msg::Resize(60, 20));
    typ(app, "r");
    assert!(app.form.is_none(), "a hidden form opened");
    press(app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Overview, "a hidden patient opened");
    app.update(Msg::Resize(80, 24));
    typ(app, "r");
    assert_eq!(
        app.form.as_ref().map(|f| f.kind.clone()),
        Some(FormKind::Rate)
    );
    app.update(Msg::Resize(70, 24));
    typ(app, "9");
    press(app, KeyCode::Enter);
    app.update(Msg::Resize(80, 24));
    let f = app.form.as_ref().expect("the form is still open, unsaved");
    assert_ne!(f.value("rate"), "9", "typed into while hidden");
    app.update(Msg::Resize(60, 20));
    ctrl(app, 'c');
    assert!(app.pending.is_some() || app.quit, "Ctrl-C is still heard");
}

/// Ctrl-U clears the search box as it clears a form field.
#[test]
fn ctrl_u_clears_the_search() {
    let mut w = signed_in();
    let app = &mut w.app;
    press(app, KeyCode::Char('/'));
    typ(app, "x1");
    ctrl(app, 'u');
    typ(app, "Anouk");
    assert_eq!(app.query, "Anouk");
}
