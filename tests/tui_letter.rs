//! Issue 11 §5: the `p` key asks a physician for the letter's advice and responsible
//! physician, stores them, and writes the letter; key handling without a terminal.
#![allow(clippy::unwrap_used)]

use chrono::Duration;
use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use titrate::config::Config;
use titrate::domain::record::Staff;
use titrate::domain::values::Role;
use titrate::store::{Db, LetterAdvice, StoreError};
use titrate::tui::app::{App, Msg, Screen};
use titrate::tui::form::FormKind;
use titrate::ward::letters::{self, Base};

mod common;
use common::tui::{now, press, typ};

const ANOUK: &str = "Anouk de Vries";

struct Ward {
    _dir: tempfile::TempDir,
    reports: tempfile::TempDir,
    path: std::path::PathBuf,
}

/// The demo ward with a physician PH (PIN 2222) and a second physician PV (PIN 3333).
fn ward() -> Ward {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ward.db");
    let cfg = Config::defaults();
    let mut db = titrate::demo::create(&path, &cfg, now()).unwrap();
    let admin = titrate::ward::access::sign_in(&mut db, &cfg, "DEMO", "0000", now()).unwrap();
    for (id, name, pin) in [("PH", "Pieter Hofman", "2222"), ("PV", "Petra Vos", "3333")] {
        titrate::ward::access::staff_add(&mut db, &admin, id, name, Role::Physician, pin, now())
            .unwrap();
    }
    Ward {
        _dir: dir,
        reports: tempfile::tempdir().unwrap(),
        path,
    }
}

/// Signed in as `id`, on Anouk's detail screen.
fn on_anouk(w: &Ward, id: &str, pin: &str) -> App {
    let mut cfg = Config::defaults();
    cfg.reports_dir = w.reports.path().to_path_buf();
    let mut app = App::new(cfg, Db::open(&w.path).unwrap(), now());
    app.update(Msg::Tick(now()));
    press(&mut app, KeyCode::Esc);
    typ(&mut app, id);
    press(&mut app, KeyCode::Enter);
    typ(&mut app, pin);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Overview, "{:?}", app.creds.error);
    let i = app
        .ward
        .active
        .iter()
        .position(|r| r.name == ANOUK)
        .unwrap();
    for _ in 0..20 {
        press(&mut app, KeyCode::Char('k'));
    }
    for _ in 0..i {
        press(&mut app, KeyCode::Char('j'));
    }
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Detail);
    app
}

fn course_of(app: &mut App) -> i64 {
    let mrn = app.ward.active[app.selected].mrn.clone();
    app.db
        .read(|r| {
            let p = r.patient_by_mrn(&mrn)?.unwrap();
            Ok::<_, StoreError>(r.courses_of(p.id)?.last().unwrap().id)
        })
        .unwrap()
}

fn stored(app: &mut App, course: i64) -> Vec<LetterAdvice> {
    app.db.read(|r| r.letter_advice(course)).unwrap()
}

fn field(app: &App, key: &str) -> String {
    app.form.as_ref().unwrap().value(key).to_string()
}

fn letter_md(w: &Ward) -> String {
    let md = std::fs::read_dir(w.reports.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "md"))
        .expect("no letter written");
    std::fs::read_to_string(md).unwrap()
}

fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| titrate::tui::ui::draw(f, app)).unwrap();
    t
}

#[test]
fn a_physician_types_the_advice_which_is_stored_and_printed_and_offered_next_time() {
    let w = ward();
    let mut app = on_anouk(&w, "PH", "2222");
    let course = course_of(&mut app);
    press(&mut app, KeyCode::Char('p'));
    let f = app.form.as_ref().expect("p opens the letter form");
    assert_eq!(f.kind, FormKind::Letter { course, seen: None });
    assert!(app.preview.is_none(), "nothing is written before Enter");
    assert_eq!(field(&app, "advice"), "");
    assert_eq!(field(&app, "responsible"), "PH", "the signed-in physician");
    for (cw, ch) in [(80, 24), (120, 40)] {
        insta::assert_snapshot!(
            format!("letter_form_{cw}x{ch}"),
            render(&app, cw, ch).backend()
        );
    }
    typ(&mut app, "Repeat after 6 months if pain returns.");
    press(&mut app, KeyCode::Enter);
    assert!(
        app.form.is_none(),
        "{:?}",
        app.form.as_ref().map(|f| &f.error)
    );
    assert!(app.preview.is_some(), "the letter is shown");
    let s = stored(&mut app, course);
    assert_eq!(s.len(), 1);
    assert_eq!(
        (
            s[0].advice.as_str(),
            s[0].responsible.as_str(),
            s[0].recorded_by.as_str()
        ),
        ("Repeat after 6 months if pain returns.", "PH", "PH")
    );
    let md = letter_md(&w);
    assert!(
        md.contains("Responsible physician: Pieter Hofman (PH)"),
        "{md}"
    );
    assert!(
        md.contains("Repeat after 6 months if pain returns."),
        "{md}"
    );

    // Next time the form holds what is stored; Enter without a change stores nothing new.
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('p'));
    assert_eq!(
        field(&app, "advice"),
        "Repeat after 6 months if pain returns."
    );
    assert_eq!(
        app.form.as_ref().unwrap().kind,
        FormKind::Letter {
            course,
            seen: Some(s[0].id)
        }
    );
    press(&mut app, KeyCode::Enter);
    assert!(app.form.is_none());
    assert_eq!(stored(&mut app, course).len(), 1);

    // Another physician names a colleague: a second advice, the first kept.
    let mut other = on_anouk(&w, "PV", "3333");
    press(&mut other, KeyCode::Char('p'));
    assert_eq!(
        field(&other, "responsible"),
        "PH",
        "the stored physician, not PV"
    );
    press(&mut other, KeyCode::Tab);
    for _ in 0..2 {
        press(&mut other, KeyCode::Backspace);
    }
    typ(&mut other, "PV");
    press(&mut other, KeyCode::Enter);
    assert!(
        other.form.is_none(),
        "{:?}",
        other.form.as_ref().map(|f| &f.error)
    );
    let s = stored(&mut other, course);
    assert_eq!(s.len(), 2);
    assert_eq!(
        (s[1].responsible.as_str(), s[1].supersedes),
        ("PV", Some(s[0].id))
    );
}

#[test]
fn a_nurse_gets_the_letter_at_once_with_the_stored_advice_and_no_form() {
    let w = ward();
    let mut doc = on_anouk(&w, "PH", "2222");
    let course = course_of(&mut doc);
    let who = doc.user.clone().unwrap();
    let mrn = doc.ward.active[doc.selected].mrn.clone();
    titrate::ward::entries::Session {
        db: &mut doc.db,
        cfg: &Config::defaults(),
        who: &who,
        now: now(),
        expect: None,
    }
    .save_letter_advice(&mrn, Some(course), "Stored by PH.", None, Base::Newest)
    .unwrap();
    let mut app = on_anouk(&w, "NU", "1111");
    press(&mut app, KeyCode::Char('p'));
    assert!(app.form.is_none(), "a nurse is not asked for the advice");
    assert!(app.preview.is_some());
    let md = letter_md(&w);
    assert!(md.contains("Stored by PH."), "{md}");
    assert!(
        md.contains("Responsible physician: Pieter Hofman (PH)"),
        "{md}"
    );
}

#[test]
fn a_refused_field_is_named_and_nothing_is_stored() {
    let w = ward();
    let mut app = on_anouk(&w, "PH", "2222");
    let course = course_of(&mut app);
    press(&mut app, KeyCode::Char('p'));
    typ(&mut app, "Some advice.");
    press(&mut app, KeyCode::Tab);
    typ(&mut app, "NU");
    press(&mut app, KeyCode::Enter);
    let f = app.form.as_ref().expect("the form stays open");
    let (key, msg) = f.error.clone().unwrap();
    assert_eq!(key, "responsible");
    assert!(msg.contains("NU is not an active physician"), "{msg}");
    assert_eq!(
        field(&app, "advice"),
        "Some advice.",
        "what was typed is kept"
    );
    assert!(stored(&mut app, course).is_empty());
    assert!(app.preview.is_none(), "no letter with a refused advice");

    // An admin (DEMO) with no physician named, and nothing stored: asked to name one.
    let mut admin = on_anouk(&w, "DEMO", "0000");
    press(&mut admin, KeyCode::Char('p'));
    assert_eq!(field(&admin, "responsible"), "");
    typ(&mut admin, "Advice.");
    press(&mut admin, KeyCode::Enter);
    let (key, msg) = admin.form.as_ref().unwrap().error.clone().unwrap();
    assert_eq!(key, "responsible", "{msg}");
    // Empty, with nothing stored: the letter is written without advice.
    for _ in 0.."Advice.".len() {
        press(&mut admin, KeyCode::Backspace);
    }
    press(&mut admin, KeyCode::Enter);
    assert!(
        admin.form.is_none(),
        "{:?}",
        admin.form.as_ref().map(|f| &f.error)
    );
    assert!(letter_md(&w).contains("No advice was written for this letter"));
}

#[test]
fn an_advice_stored_elsewhere_after_the_form_opened_is_shown_before_saving_over_it() {
    let w = ward();
    let mut app = on_anouk(&w, "PH", "2222");
    let course = course_of(&mut app);
    let mrn = app.ward.active[app.selected].mrn.clone();
    press(&mut app, KeyCode::Char('p'));
    typ(&mut app, "Mine.");
    // Another terminal stores an advice for the same course meanwhile.
    let mut other = Db::open(&w.path).unwrap();
    let pv: Staff = other.read(|r| r.staff("PV")).unwrap().unwrap();
    let later = now() + Duration::minutes(1);
    titrate::ward::entries::Session {
        db: &mut other,
        cfg: &Config::defaults(),
        who: &pv,
        now: later,
        expect: None,
    }
    .save_letter_advice(&mrn, Some(course), "Theirs.", None, Base::Newest)
    .unwrap();
    press(&mut app, KeyCode::Enter);
    let f = app.form.as_ref().expect("asked again");
    let (key, msg) = f.error.clone().unwrap();
    assert_eq!(key, "");
    assert!(msg.contains("by PV") && msg.contains("Theirs."), "{msg}");
    assert_eq!(
        stored(&mut app, course).len(),
        1,
        "not saved over it unseen"
    );
    press(&mut app, KeyCode::Enter);
    assert!(
        app.form.is_none(),
        "{:?}",
        app.form.as_ref().map(|f| &f.error)
    );
    let s = stored(&mut app, course);
    assert_eq!(
        s.iter().map(|a| a.advice.as_str()).collect::<Vec<_>>(),
        ["Theirs.", "Mine."]
    );
    let current = app
        .db
        .read(|r| letters::current(r, course))
        .unwrap()
        .unwrap();
    assert_eq!(current.advice, "Mine.");
}

#[test]
fn a_course_entered_in_error_gets_no_advice() {
    let w = ward();
    let cfg = Config::defaults();
    let mut db = Db::open(&w.path).unwrap();
    let who = titrate::ward::access::sign_in(&mut db, &cfg, "PH", "2222", now()).unwrap();
    let mut s = titrate::ward::entries::Session {
        db: &mut db,
        cfg: &cfg,
        who: &who,
        now: now(),
        expect: None,
    };
    let p = titrate::domain::patient::PatientText {
        mrn: "9901",
        name: "Wim Wrong",
        birth_date: "1960-01-01",
        sex: "male",
        weight_kg: None,
        crps_type: None,
        crps_onset: None,
        limb: None,
    }
    .parse()
    .unwrap();
    s.add_patient(&p).unwrap();
    let start = s
        .start_course("9901", now() - Duration::hours(1), None)
        .unwrap();
    s.void_confirmed(start.id, "wrong patient", None).unwrap();
    let course =
        s.db.read(|r| r.entry(start.id))
            .unwrap()
            .unwrap()
            .course_id
            .unwrap();
    // Named, it is refused as entered in error; not named, the patient has no course.
    let e = s
        .save_letter_advice("9901", Some(course), "Advice.", None, Base::Newest)
        .unwrap_err();
    assert!(e.to_string().contains("entered in error"), "{e}");
    let e = s
        .save_letter_advice("9901", None, "Advice.", None, Base::Newest)
        .unwrap_err();
    assert!(e.to_string().contains("no course"), "{e}");
    assert!(db.read(|r| r.letter_advice(course)).unwrap().is_empty());
    drop(db);
    // On the screen: refused at the key, no form to fill first.
    let mut cfg = Config::defaults();
    cfg.reports_dir = w.reports.path().to_path_buf();
    let mut app = App::new(cfg, Db::open(&w.path).unwrap(), now());
    app.update(Msg::Tick(now()));
    press(&mut app, KeyCode::Esc);
    typ(&mut app, "PH");
    press(&mut app, KeyCode::Enter);
    typ(&mut app, "2222");
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Char('/'));
    typ(&mut app, "9901");
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        app.screen,
        Screen::Detail,
        "{:?}",
        app.message.as_ref().map(|m| &m.text)
    );
    press(&mut app, KeyCode::Char('p'));
    assert!(app.form.is_none(), "a form for a cancelled course");
    let said = app
        .message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default();
    assert!(said.contains("no course to write a letter for"), "{said}");
}
