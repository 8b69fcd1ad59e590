//! Issue 11 §4 "screens", without a terminal: keys go into `App::update`, screens are drawn
//! into ratatui's `TestBackend`.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::OnceLock;

use crossterm::event::KeyCode;
use titrate::config::Config;
use titrate::store::Db;
use titrate::tui::app::{App, Msg, Screen};

mod common;
use common::tui::{now, press, screen as render, typ};

fn demo_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo.db");
        let db = titrate::demo::create(&path, &Config::defaults(), now()).unwrap();
        drop(db);
        std::fs::read(&path).unwrap()
    })
}

struct Ward {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn demo() -> (Ward, App) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ward.db");
    std::fs::write(&path, demo_bytes()).unwrap();
    let mut app = App::new(Config::defaults(), Db::open(&path).unwrap(), now());
    app.update(Msg::Tick(now()));
    (Ward { _dir: dir, path }, app)
}

fn sign_in(app: &mut App, id: &str, pin: &str) {
    press(app, KeyCode::Esc);
    typ(app, id);
    press(app, KeyCode::Enter);
    typ(app, pin);
    press(app, KeyCode::Enter);
}

/// A locked account is told to ask a ward admin, at the sign-in screen, and never sent to a
/// command line a nurse at a shared terminal cannot use; the right PIN does not get in.
#[test]
fn the_lockout_message_sends_the_user_to_a_ward_admin() {
    let (w, mut app) = demo();
    for _ in 0..5 {
        sign_in(&mut app, "NU", "0000");
        assert_ne!(app.screen, Screen::Overview);
    }
    sign_in(&mut app, "NU", "1111");
    assert_ne!(app.screen, Screen::Overview, "a locked account signed in");
    let err = app.creds.error.clone().unwrap_or_default();
    assert!(err.contains("account NU is locked"), "{err}");
    assert!(err.contains("ask a ward admin to unlock it"), "{err}");
    assert!(
        !err.contains("titrate "),
        "the message names a command: {err}"
    );
    for (cw, ch) in [(80, 24), (120, 40)] {
        let screen = render(&app, cw, ch);
        assert!(!screen.contains("titrate staff"), "{screen}");
        insta::assert_snapshot!(format!("locked_signin_{cw}x{ch}"), screen);
    }
    // The account really is locked in the file, not only on this screen.
    let mut db = Db::open(&w.path).unwrap();
    let nu = db.read(|r| r.staff("NU")).unwrap().unwrap();
    assert!(nu.locked);
}
