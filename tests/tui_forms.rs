//! Issue 11 "forms": key handling of the entry forms without a terminal.
#![allow(clippy::unwrap_used)]

use crossterm::event::KeyCode;
use titrate::config::Config;
use titrate::store::Db;
use titrate::tui::app::{App, Msg, Screen};
use titrate::tui::form::FormKind;

/// The rate form's context line names the increment as a step size, not as a rate.
#[test]
fn rate_form_says_steps_of_up_to_the_increment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.db");
    drop(titrate::demo::create(&path, &Config::defaults(), now()).unwrap());
    let mut app = App::new(Config::defaults(), Db::open(&path).unwrap(), now());
    app.update(Msg::Tick(now()));
    key(&mut app, KeyCode::Esc);
    typ(&mut app, "DEMO");
    key(&mut app, KeyCode::Enter);
    typ(&mut app, "0000");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Overview);
    key(&mut app, KeyCode::Char('r'));
    let f = app.form.as_ref().expect("rate form opens");
    assert_eq!(f.kind, FormKind::Rate);
    let line = f.context.join("\n");
    assert!(
        line.contains("steps of up to 2 mg/h without confirmation"),
        "{line}"
    );
    assert!(!line.contains("step up to"), "{line}");
}

// ---------------------------------------------------------------------------------------
// Issue 11 §2: actions that finish what they start.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use titrate::domain::entry::{Entry, EntryData};
use titrate::domain::rate::Rate;
use titrate::domain::values::Action;
use titrate::store::StoreError;

mod common;
use common::tui::press as key;
use common::tui::{now, typ};

struct Demo {
    _dir: tempfile::TempDir,
    app: App,
}

/// The demo ward under `cfg`, signed in as the demo physician.
fn demo_with(cfg: Config) -> Demo {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.db");
    drop(titrate::demo::create(&path, &Config::defaults(), now()).unwrap());
    let mut app = App::new(cfg, Db::open(&path).unwrap(), now());
    app.colour = true;
    app.update(Msg::Tick(now()));
    key(&mut app, KeyCode::Esc);
    typ(&mut app, "DEMO");
    key(&mut app, KeyCode::Enter);
    typ(&mut app, "0000");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Overview);
    Demo { _dir: dir, app }
}

fn select(app: &mut App, name: &str) {
    let i = app
        .ward
        .active
        .iter()
        .position(|r| r.name == name)
        .unwrap_or_else(|| panic!("{name} is not on the active tab"));
    for _ in 0..20 {
        key(app, KeyCode::Char('k'));
    }
    for _ in 0..i {
        key(app, KeyCode::Char('j'));
    }
    assert_eq!(app.ward.active[app.selected].name, name);
}

fn focus(app: &mut App, field: &str) {
    for _ in 0..20 {
        let f = app.form.as_ref().unwrap();
        if f.fields[f.focus].key == field {
            return;
        }
        key(app, KeyCode::Tab);
    }
    panic!("no field {field} to focus");
}

fn entries_of(app: &mut App, mrn: &str) -> Vec<Entry> {
    app.db
        .read(|r| {
            let p = r.patient_by_mrn(mrn)?.unwrap();
            r.entries_of(p.id)
        })
        .map_err(|e: StoreError| e)
        .unwrap()
}

fn screen_text(app: &App, w: u16, h: u16) -> (String, Terminal<TestBackend>) {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| titrate::tui::ui::draw(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    let text = (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n");
    (text, t)
}

const ANOUK: &str = "Anouk de Vries";

#[test]
fn ending_a_course_asks_first_and_names_what_is_missing() {
    let mut d = demo_with(Config::defaults());
    let app = &mut d.app;
    select(app, ANOUK);
    let mrn = app.ward.active[app.selected].mrn.clone();
    let before = entries_of(app, &mrn).len();
    key(app, KeyCode::Char('e'));
    let f = app.form.as_ref().unwrap();
    assert_eq!(f.kind, FormKind::CourseEnd);
    // No reason is preselected, and none is accepted.
    assert_eq!(f.value("reason"), "");
    key(app, KeyCode::Enter);
    let f = app.form.as_ref().unwrap();
    assert!(f.confirm.is_none());
    let (k, msg) = f.error.clone().unwrap();
    assert_eq!(
        (k, msg.as_str()),
        ("reason", titrate::strings::CHOOSE_REASON)
    );
    // "completed" on day 3 is refused before any question, with how early it is.
    focus(app, "reason");
    key(app, KeyCode::Right);
    assert_eq!(app.form.as_ref().unwrap().value("reason"), "completed");
    key(app, KeyCode::Enter);
    let f = app.form.as_ref().unwrap();
    assert!(f.confirm.is_none());
    let (k, msg) = f.error.clone().unwrap();
    assert_eq!(k, "reason");
    assert!(
        msg.contains("h early") && msg.contains("patient-request"),
        "{msg}"
    );
    // An early reason: the confirmation lists what is still missing.
    key(app, KeyCode::Right);
    assert_eq!(app.form.as_ref().unwrap().value("reason"), "side-effects");
    key(app, KeyCode::Enter);
    let lines = app
        .form
        .as_ref()
        .unwrap()
        .confirm
        .clone()
        .expect("asks first");
    let all = lines.join("\n");
    // Anouk's last NRS is inside the T1 window around this end: it counts as T1.
    assert!(!all.contains("no T1 NRS"), "{all}");
    assert!(
        !all.contains("no T0"),
        "the demo course has its baseline: {all}"
    );
    assert!(all.contains("not 0: no stop at 0"), "{all}");
    assert!(all.contains("h before the protocol's planned end"), "{all}");
    assert_eq!(entries_of(app, &mrn).len(), before, "nothing saved yet");
    let (text, t) = screen_text(app, 80, 24);
    assert!(text.contains("End course: confirm"), "{text}");
    insta::assert_snapshot!("end_course_confirm_80x24", t.backend());
    let (_, t) = screen_text(app, 120, 40);
    insta::assert_snapshot!("end_course_confirm_120x40", t.backend());
    // Esc goes back to the form, with what was chosen.
    key(app, KeyCode::Esc);
    let f = app.form.as_ref().expect("back to the form");
    assert!(f.confirm.is_none());
    assert_eq!(f.value("reason"), "side-effects");
    assert_eq!(entries_of(app, &mrn).len(), before);
    // Enter asks again; y ends it.
    key(app, KeyCode::Enter);
    assert!(app.form.as_ref().unwrap().confirm.is_some());
    key(app, KeyCode::Char('y'));
    assert!(
        app.form.is_none(),
        "{:?}",
        app.form.as_ref().map(|f| &f.error)
    );
    // The save's confirmation, not "the patient you had selected is no longer on this list".
    let m = app.message.clone().unwrap().text;
    assert!(m.contains("ended (side-effects)"), "{m}");
    let es = entries_of(app, &mrn);
    assert_eq!(es.len(), before + 1);
    assert!(matches!(
        es.last().unwrap().data,
        EntryData::CourseEnd { reason } if reason.as_str() == "side-effects"
    ));
}

#[test]
fn a_side_effect_that_lowers_the_rate_records_the_rate_with_it() {
    let mut d = demo_with(Config::defaults());
    let app = &mut d.app;
    let row = app
        .ward
        .active
        .iter()
        .find(|r| r.watch.rate >= "4".parse::<Rate>().unwrap())
        .unwrap()
        .clone();
    select(app, &row.name);
    let before = entries_of(app, &row.mrn).len();
    key(app, KeyCode::Char('s'));
    let f = app.form.as_ref().unwrap();
    assert_eq!(f.kind, FormKind::SideEffect);
    let rate_i = f.fields.iter().position(|x| x.key == "rate").unwrap();
    assert!(!f.shown(rate_i), "no rate field for action none");
    assert!(
        f.context
            .join(" ")
            .contains(&format!("Current rate {}", row.watch.rate))
    );
    // A kind is chosen: none is preselected.
    focus(app, "kind");
    key(app, KeyCode::Right);
    focus(app, "action");
    key(app, KeyCode::Right);
    let f = app.form.as_ref().unwrap();
    assert_eq!(f.value("action"), Action::RateLowered.as_str());
    assert!(f.shown(rate_i));
    assert_eq!(f.value("rate"), "");
    // Paused and stopped mean 0, filled in.
    key(app, KeyCode::Right);
    assert_eq!(app.form.as_ref().unwrap().value("action"), "paused");
    assert_eq!(app.form.as_ref().unwrap().value("rate"), "0");
    key(app, KeyCode::Left);
    assert_eq!(app.form.as_ref().unwrap().value("rate"), "");
    focus(app, "rate");
    typ(app, "2");
    let (text, t) = screen_text(app, 80, 24);
    assert!(text.contains("New rate   2"), "{text}");
    insta::assert_snapshot!("side_effect_with_rate_80x24", t.backend());
    let (_, t) = screen_text(app, 120, 40);
    insta::assert_snapshot!("side_effect_with_rate_120x40", t.backend());
    key(app, KeyCode::Backspace);
    // Without the rate: refused next to the rate field, nothing stored.
    key(app, KeyCode::Enter);
    let (k, msg) = app.form.as_ref().unwrap().error.clone().unwrap();
    assert_eq!(k, "rate", "{msg}");
    assert!(msg.contains("records the new rate"), "{msg}");
    // Not lower: refused, nothing stored (neither the side effect nor the rate).
    focus(app, "rate");
    typ(app, &row.watch.rate.to_string());
    key(app, KeyCode::Enter);
    let (k, msg) = app.form.as_ref().unwrap().error.clone().unwrap();
    assert_eq!(k, "rate", "{msg}");
    assert!(msg.contains("not lower"), "{msg}");
    assert_eq!(entries_of(app, &row.mrn).len(), before);
    for _ in 0..10 {
        key(app, KeyCode::Backspace);
    }
    typ(app, "2");
    key(app, KeyCode::Enter);
    assert!(
        app.form.is_none(),
        "{:?}",
        app.form.as_ref().map(|f| &f.error)
    );
    let es = entries_of(app, &row.mrn);
    assert_eq!(es.len(), before + 2, "the side effect and its rate");
    let new = &es[before..];
    assert!(matches!(
        new[0].data,
        EntryData::SideEffect { action: Action::RateLowered, rate_at, .. } if rate_at == row.watch.rate
    ));
    assert!(matches!(
        new[1].data,
        EntryData::Rate { rate, .. } if rate == "2".parse::<Rate>().unwrap()
    ));
    assert_eq!(new[0].happened_at, new[1].happened_at);
}

#[test]
fn a_new_patient_then_their_course_then_the_starting_rate() {
    let mut d = demo_with(Config::defaults());
    let app = &mut d.app;
    key(app, KeyCode::Char('a'));
    let f = app.form.as_ref().unwrap();
    assert_eq!(f.kind, FormKind::AddPatient);
    // Sex has no default.
    assert_eq!(f.value("sex"), "");
    typ(app, "555001");
    key(app, KeyCode::Tab);
    typ(app, "Nora Nieuw");
    key(app, KeyCode::Tab);
    typ(app, "1980-02-03");
    focus(app, "weight");
    typ(app, "70");
    key(app, KeyCode::Enter);
    let (k, msg) = app.form.as_ref().unwrap().error.clone().unwrap();
    assert_eq!((k, msg.as_str()), ("sex", titrate::strings::CHOOSE_SEX));
    key(app, KeyCode::Right);
    assert_eq!(app.form.as_ref().unwrap().value("sex"), "female");
    key(app, KeyCode::Enter);
    assert!(
        app.form.is_none(),
        "{:?}",
        app.form.as_ref().map(|f| &f.error)
    );
    // The new patient's screen, offering the course.
    assert_eq!(app.screen, Screen::Detail);
    assert_eq!(
        app.detail.as_ref().unwrap().record.patient.data.mrn,
        "555001"
    );
    let m = app.message.clone().unwrap().text;
    assert!(
        m.contains("patient 555001 added · press c to start the course"),
        "{m}"
    );
    key(app, KeyCode::Char('c'));
    let f = app.form.as_ref().unwrap();
    assert_eq!(f.kind, FormKind::CourseStart);
    assert_eq!(f.mrn, "555001");
    key(app, KeyCode::Enter);
    assert!(
        app.form.is_none(),
        "{:?}",
        app.form.as_ref().map(|f| &f.error)
    );
    // The first rate form starts at the protocol's starting rate, and says so.
    key(app, KeyCode::Char('r'));
    let p = Config::defaults().protocol;
    let start = p.start_rate_for(Some(70.0)).unwrap();
    let f = app.form.as_ref().unwrap();
    assert_eq!(f.kind, FormKind::Rate);
    assert_eq!(f.value("rate"), start.to_string());
    let ctx = f.context.join(" ");
    assert!(ctx.contains("No rate recorded yet"), "{ctx}");
    assert!(
        ctx.contains(&format!("starting rate of \"{}\", {start} mg/h", p.name)),
        "{ctx}"
    );
    let step = f.proposed_step().unwrap();
    assert_eq!(step, format!("Proposed start at {start} mg/h"));
    assert!(!step.contains("0 ->"), "{step}");
    key(app, KeyCode::Esc);
    // On the overview the course is flagged: no T0, no starting rate.
    key(app, KeyCode::Esc);
    assert_eq!(app.screen, Screen::Overview);
    let row = app.ward.active.iter().find(|r| r.mrn == "555001").unwrap();
    assert!(row.no_rate && row.t0.is_none());
    let (text, _) = screen_text(app, 80, 24);
    let line = text.lines().find(|l| l.contains("Nora")).unwrap();
    assert!(line.contains("T0?") && line.contains("RATE?"), "{line}");
    let (text, _) = screen_text(app, 120, 40);
    let line = text.lines().find(|l| l.contains("Nora")).unwrap();
    assert!(line.contains("NO T0") && line.contains("NO RATE"), "{line}");
    // Once it has a rate, that flag goes.
    key(app, KeyCode::Char('k'));
    select(app, "Nora Nieuw");
    key(app, KeyCode::Char('r'));
    key(app, KeyCode::Enter);
    assert!(
        app.form.is_none(),
        "{:?}",
        app.form.as_ref().map(|f| &f.error)
    );
    let row = app.ward.active.iter().find(|r| r.mrn == "555001").unwrap();
    assert!(!row.no_rate);
    // Ending it now: no T1 NRS, the rate is not 0, and days early.
    select(app, "Nora Nieuw");
    key(app, KeyCode::Char('e'));
    focus(app, "reason");
    for _ in 0..3 {
        key(app, KeyCode::Right);
    }
    assert_eq!(
        app.form.as_ref().unwrap().value("reason"),
        "patient-request"
    );
    key(app, KeyCode::Enter);
    let all = app
        .form
        .as_ref()
        .unwrap()
        .confirm
        .clone()
        .unwrap()
        .join("\n");
    assert!(all.contains("no T1 NRS"), "{all}");
    assert!(
        all.contains("no T0"),
        "a new patient's course has no baseline: {all}"
    );
    assert!(
        all.contains(&format!("the rate is {start} mg/h, not 0")),
        "{all}"
    );
    assert!(
        all.contains("168 h before the protocol's planned end"),
        "{all}"
    );
    key(app, KeyCode::Char('n'));
    assert!(app.form.as_ref().unwrap().confirm.is_none());
}

/// A course keeps the protocol version it started under: config.toml now says maximum 10
/// mg/h over 5 days, the demo's courses run under the 14 mg/h, 7-day version.
#[test]
fn context_lines_read_the_course_s_own_protocol_version() {
    let mut cfg = Config::defaults();
    cfg.protocol.max_rate_mg_h = "10".parse().unwrap();
    cfg.protocol.duration_days = 5;
    let mut d = demo_with(cfg);
    let app = &mut d.app;
    select(app, ANOUK);
    assert_eq!(app.ward.active[app.selected].days, 7);
    let (text, _) = screen_text(app, 120, 40);
    let line = text.lines().find(|l| l.contains(ANOUK)).unwrap();
    assert!(line.contains("/7"), "{line}");
    key(app, KeyCode::Char('r'));
    let f = app.form.as_ref().unwrap();
    let ctx = f.context.join(" ");
    assert!(ctx.contains("maximum 14 mg/h"), "{ctx}");
    assert!(!ctx.contains("maximum 10 mg/h"), "{ctx}");
    assert_eq!(f.max_rate, "14".parse().unwrap());
    key(app, KeyCode::Esc);
    // The detail screen: day N/7.
    key(app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Detail);
    let (text, _) = screen_text(app, 120, 40);
    assert!(text.contains("/7 ·"), "{text}");
    assert!(!text.contains("/5 ·"), "{text}");
    // A running course is not started again: refused at the key.
    key(app, KeyCode::Char('c'));
    assert!(app.form.is_none());
    // A new course's start form (Greet has none) names the protocol it will get: config's.
    key(app, KeyCode::Esc);
    key(app, KeyCode::Char('/'));
    typ(app, "Greet");
    key(app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Detail);
    key(app, KeyCode::Char('c'));
    let f = app.form.as_ref().unwrap();
    assert_eq!(f.kind, FormKind::CourseStart);
    let ctx = f.context.join(" ");
    assert!(ctx.contains("max 10 mg/h, 5 days"), "{ctx}");
}
