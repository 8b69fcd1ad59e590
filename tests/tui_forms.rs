//! Issue 11 "forms": key handling of the entry forms without a terminal.
#![allow(clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use titrate::config::Config;
use titrate::domain::time::Instant;
use titrate::store::Db;
use titrate::tui::app::{App, Msg, Screen};
use titrate::tui::form::FormKind;

fn now() -> Instant {
    Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
}

fn key(app: &mut App, code: KeyCode) {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn typ(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

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
