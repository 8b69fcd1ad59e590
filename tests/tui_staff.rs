//! Issue 11 §4: the staff screen and everyone's own PIN, from the ward terminal without a
//! terminal: keys go into `App::update`, the file is read back, screens are drawn into
//! ratatui's `TestBackend`.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use titrate::config::Config;
use titrate::domain::record::Staff;
use titrate::store::Db;
use titrate::tui::app::{App, Level, Msg, Pending, Screen};
use titrate::tui::panel::PanelKind;

mod common;
use common::tui::{now, press, screen, typ};

struct Ward {
    _dir: tempfile::TempDir,
    path: PathBuf,
    app: App,
}

fn demo() -> Ward {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.db");
    drop(titrate::demo::create(&path, &Config::defaults(), now()).unwrap());
    let mut app = App::new(Config::defaults(), Db::open(&path).unwrap(), now());
    app.update(Msg::Tick(now()));
    Ward {
        _dir: dir,
        path,
        app,
    }
}

fn sign_in(app: &mut App, id: &str, pin: &str) {
    press(app, KeyCode::Esc);
    typ(app, id);
    press(app, KeyCode::Enter);
    typ(app, pin);
    press(app, KeyCode::Enter);
}

fn sign_out(app: &mut App) {
    if app.screen != Screen::Overview {
        press(app, KeyCode::Esc);
    }
    press(app, KeyCode::Char('o'));
    assert_eq!(app.screen, Screen::SignIn);
}

fn staff(w: &Ward, id: &str) -> Staff {
    let mut db = Db::open(&w.path).unwrap();
    db.read(|r| r.staff(id)).unwrap().unwrap()
}

fn message(app: &App) -> (Level, String) {
    let m = app.message.clone().expect("a message");
    (m.level, m.text)
}

fn snap(app: &App, name: &str) {
    for (cols, rows) in [(80, 24), (120, 40)] {
        let mut t = Terminal::new(TestBackend::new(cols, rows)).unwrap();
        t.draw(|f| titrate::tui::ui::draw(f, app)).unwrap();
        insta::assert_snapshot!(format!("{name}_{cols}x{rows}"), t.backend());
    }
}

/// Highlights the account `id` on the staff screen.
fn highlight(app: &mut App, id: &str) {
    for _ in 0..20 {
        press(app, KeyCode::Up);
    }
    for _ in 0..20 {
        if app.staff.selected().is_some_and(|s| s.id == id) {
            return;
        }
        press(app, KeyCode::Down);
    }
    panic!("no account {id} on the staff screen");
}

fn admin() -> Ward {
    let mut w = demo();
    sign_in(&mut w.app, "DEMO", "0000");
    assert_eq!(w.app.screen, Screen::Overview);
    w
}

/// Adds an account through the staff screen's form.
fn add(app: &mut App, id: &str, name: &str, role_rights: usize, pin: &str) {
    press(app, KeyCode::Char('a'));
    typ(app, id);
    press(app, KeyCode::Tab);
    typ(app, name);
    press(app, KeyCode::Tab);
    for _ in 0..role_rights {
        press(app, KeyCode::Right);
    }
    press(app, KeyCode::Tab);
    typ(app, pin);
    press(app, KeyCode::Enter);
    typ(app, pin);
    press(app, KeyCode::Enter);
}

#[test]
fn a_nurse_pressing_s_is_refused_at_once_with_the_reason_and_no_screen_opens() {
    let mut w = demo();
    sign_in(&mut w.app, "NU", "1111");
    assert_eq!(w.app.screen, Screen::Overview);
    press(&mut w.app, KeyCode::Char('S'));
    assert_eq!(w.app.screen, Screen::Overview);
    assert!(w.app.panel.is_none() && w.app.staff.rows.is_empty());
    let (level, text) = message(&w.app);
    assert_eq!(level, Level::Error);
    assert!(text.contains("may not manage staff accounts"), "{text}");
    assert!(text.contains("needs the admin role"), "{text}");
    // At 80 columns the refusal wraps onto a second row instead of losing its end.
    let shown = screen(&w.app, 80, 24);
    let rows: Vec<&str> = shown.lines().collect();
    let bottom = rows[rows.len() - 3..rows.len() - 1]
        .iter()
        .flat_map(|r| r.split_whitespace())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(bottom.contains("that needs the admin role"), "{shown}");
    snap(&w.app, "staff_refused_nurse");
    // The staff screen's keys do nothing on the overview: no form to fill first.
    press(&mut w.app, KeyCode::Char('u'));
    assert!(w.app.panel.is_none() && w.app.confirm.is_none());
}

#[test]
fn the_admin_sees_every_account_and_help_lists_the_keys() {
    let mut w = admin();
    press(&mut w.app, KeyCode::Char('?'));
    let help = screen(&w.app, 80, 24);
    assert!(help.contains("staff accounts (admins)"), "{help}");
    assert!(help.contains("change your own PIN"), "{help}");
    assert!(
        help.contains("│ q        quit"),
        "help is cut at 80x24:\n{help}"
    );
    press(&mut w.app, KeyCode::Char('?'));
    press(&mut w.app, KeyCode::Char('S'));
    assert_eq!(w.app.screen, Screen::Staff);
    let ids: Vec<_> = w.app.staff.rows.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["DEMO", "DR", "NU"]);
    let text = screen(&w.app, 80, 24);
    for s in ["DEMO", "Demo Physician", "admin", "NU", "nurse", "active"] {
        assert!(text.contains(s), "{s}:\n{text}");
    }
    snap(&w.app, "staff_list");
    press(&mut w.app, KeyCode::Char('?'));
    let help = screen(&w.app, 80, 24);
    for s in ["add an account", "deactivate", "give a new PIN", "unlock"] {
        assert!(help.contains(s), "{s}:\n{help}");
    }
    press(&mut w.app, KeyCode::Char('?'));
    press(&mut w.app, KeyCode::Esc);
    assert_eq!(w.app.screen, Screen::Overview);
}

#[test]
fn an_added_nurse_signs_in_and_changes_her_own_pin_checked_against_the_old_one() {
    let mut w = admin();
    press(&mut w.app, KeyCode::Char('S'));
    press(&mut w.app, KeyCode::Char('a'));
    typ(&mut w.app, "KV");
    press(&mut w.app, KeyCode::Tab);
    typ(&mut w.app, "Kim Visser");
    press(&mut w.app, KeyCode::Tab);
    press(&mut w.app, KeyCode::Tab);
    typ(&mut w.app, "2468");
    press(&mut w.app, KeyCode::Enter);
    typ(&mut w.app, "2469");
    let text = screen(&w.app, 80, 24);
    assert!(text.contains("••••"), "{text}");
    assert!(
        !text.contains("2468") && !text.contains("2469"),
        "a PIN shows:\n{text}"
    );
    snap(&w.app, "staff_add");
    // The two PINs differ: refused in the form, nothing stored.
    press(&mut w.app, KeyCode::Enter);
    let p = w.app.panel.as_ref().expect("the form stays");
    assert_eq!(p.error.as_ref().unwrap().0, "again");
    assert!(p.error.as_ref().unwrap().1.contains("the two PINs differ"));
    typ(&mut w.app, "2468");
    press(&mut w.app, KeyCode::Enter);
    assert!(w.app.panel.is_none(), "{:?}", w.app.panel);
    let (level, text) = message(&w.app);
    assert_eq!(level, Level::Info, "{text}");
    assert!(text.contains("staff KV added as nurse"), "{text}");
    assert_eq!(w.app.staff.selected().unwrap().id, "KV");
    let kv = staff(&w, "KV");
    assert_eq!(
        (kv.name.as_str(), kv.role.as_str(), kv.active),
        ("Kim Visser", "nurse", true)
    );

    // A duplicate id is refused next to the id.
    add(&mut w.app, "KV", "Other", 0, "1357");
    let p = w.app.panel.as_ref().unwrap();
    assert_eq!(p.error.as_ref().unwrap().0, "id");
    // Typed input is not thrown away without a question.
    press(&mut w.app, KeyCode::Esc);
    assert_eq!(w.app.pending, Some(Pending::CloseForm));
    assert!(screen(&w.app, 80, 24).contains("Discard the unsaved form?"));
    press(&mut w.app, KeyCode::Char('n'));
    assert!(w.app.panel.is_some());
    press(&mut w.app, KeyCode::Esc);
    press(&mut w.app, KeyCode::Char('y'));
    assert!(w.app.panel.is_none());
    // An untouched form closes at once.
    press(&mut w.app, KeyCode::Char('a'));
    press(&mut w.app, KeyCode::Esc);
    assert!(w.app.panel.is_none() && w.app.pending.is_none());

    sign_out(&mut w.app);
    sign_in(&mut w.app, "KV", "2468");
    assert_eq!(w.app.screen, Screen::Overview, "{:?}", w.app.creds.error);
    // A nurse may change her own PIN: P opens three masked fields.
    press(&mut w.app, KeyCode::Char('P'));
    assert_eq!(w.app.panel.as_ref().unwrap().kind, PanelKind::OwnPin);
    typ(&mut w.app, "9999");
    press(&mut w.app, KeyCode::Enter);
    typ(&mut w.app, "1357");
    press(&mut w.app, KeyCode::Enter);
    typ(&mut w.app, "1357");
    snap(&w.app, "own_pin");
    press(&mut w.app, KeyCode::Enter);
    // The wrong current PIN is refused and counted, like a wrong PIN at sign-in.
    let p = w.app.panel.as_ref().expect("the form stays");
    let (key, msg) = p.error.clone().unwrap();
    assert_eq!(key, "current");
    assert!(msg.contains("the current PIN is wrong"), "{msg}");
    assert!(msg.contains("4 more wrong PINs lock the account"), "{msg}");
    assert_eq!(p.value("current"), "", "the wrong PIN is cleared");
    let kv = staff(&w, "KV");
    assert_eq!(kv.failed_pins, 1);
    assert!(
        titrate::ward::access::sign_in(
            &mut Db::open(&w.path).unwrap(),
            &Config::defaults(),
            "KV",
            "2468",
            now()
        )
        .is_ok()
    );
    typ(&mut w.app, "2468");
    press(&mut w.app, KeyCode::Enter);
    assert!(w.app.panel.is_none(), "{:?}", w.app.panel);
    let (level, text) = message(&w.app);
    assert_eq!(level, Level::Info, "{text}");
    assert!(text.contains("your PIN was changed"), "{text}");
    // The session goes on with the new PIN: a save is not refused as "account changed".
    press(&mut w.app, KeyCode::Char('n'));
    typ(&mut w.app, "4");
    press(&mut w.app, KeyCode::Enter);
    let (level, text) = message(&w.app);
    assert_eq!(level, Level::Info, "{text}");
    assert!(text.contains("saved"), "{text}");

    sign_out(&mut w.app);
    sign_in(&mut w.app, "KV", "2468");
    assert_eq!(w.app.screen, Screen::SignIn, "the old PIN still works");
    sign_in(&mut w.app, "KV", "1357");
    assert_eq!(w.app.screen, Screen::Overview, "{:?}", w.app.creds.error);
}

#[test]
fn wrong_current_pins_lock_the_account_and_sign_the_terminal_out() {
    let mut w = demo();
    sign_in(&mut w.app, "NU", "1111");
    press(&mut w.app, KeyCode::Char('P'));
    typ(&mut w.app, "9999");
    press(&mut w.app, KeyCode::Tab);
    typ(&mut w.app, "1357");
    press(&mut w.app, KeyCode::Tab);
    typ(&mut w.app, "1357");
    press(&mut w.app, KeyCode::Enter);
    for i in 1..5 {
        // The refusal clears the current PIN and puts the cursor there.
        let p = w.app.panel.as_ref().unwrap_or_else(|| panic!("try {i}"));
        assert_eq!((p.focus, p.value("current")), (0, ""));
        typ(&mut w.app, "9999");
        press(&mut w.app, KeyCode::Enter);
    }
    assert_eq!(w.app.screen, Screen::SignIn);
    let err = w.app.creds.error.clone().unwrap_or_default();
    assert!(err.contains("account NU is locked"), "{err}");
    let nu = staff(&w, "NU");
    assert!(nu.locked);
    assert_eq!(nu.failed_pins, 5);
    // The PIN was not changed by any of it.
    assert!(
        titrate::ward::access::sign_in(
            &mut Db::open(&w.path).unwrap(),
            &Config::defaults(),
            "NU",
            "1357",
            now()
        )
        .is_err()
    );
}

#[test]
fn the_new_pin_follows_the_policy_and_differs_from_the_current_one() {
    let mut w = demo();
    sign_in(&mut w.app, "NU", "1111");
    for (new, expect) in [
        ("12", "a PIN is 4 to 12 digits"),
        ("1111", "the same as the current"),
    ] {
        press(&mut w.app, KeyCode::Char('P'));
        typ(&mut w.app, "1111");
        press(&mut w.app, KeyCode::Enter);
        typ(&mut w.app, new);
        press(&mut w.app, KeyCode::Enter);
        typ(&mut w.app, new);
        press(&mut w.app, KeyCode::Enter);
        let p = w.app.panel.as_ref().expect("refused in the form");
        let (key, msg) = p.error.clone().unwrap();
        assert_eq!(key, "pin", "{msg}");
        assert!(msg.contains(expect), "{msg}");
        press(&mut w.app, KeyCode::Esc);
        press(&mut w.app, KeyCode::Char('y'));
        assert!(w.app.panel.is_none());
    }
    assert_eq!(
        staff(&w, "NU").failed_pins,
        0,
        "a right current PIN counts nothing"
    );
}

#[test]
fn deactivate_asks_first_and_the_operation_refuses_the_last_admin_and_oneself() {
    let mut w = admin();
    press(&mut w.app, KeyCode::Char('S'));
    highlight(&mut w.app, "NU");
    press(&mut w.app, KeyCode::Char('d'));
    assert!(w.app.confirm.is_some());
    let text = screen(&w.app, 80, 24);
    assert!(text.contains("Deactivate NU"), "{text}");
    snap(&w.app, "staff_confirm_deactivate");
    press(&mut w.app, KeyCode::Char('n'));
    assert!(staff(&w, "NU").active, "n changed something");
    press(&mut w.app, KeyCode::Char('d'));
    press(&mut w.app, KeyCode::Char('y'));
    assert!(!staff(&w, "NU").active);
    let (_, text) = message(&w.app);
    assert!(text.contains("NU (nurse) deactivated"), "{text}");
    assert_eq!(w.app.staff.selected().unwrap().id, "NU");
    assert!(screen(&w.app, 80, 24).contains("deactivated"));
    // Again: the operation's refusal, shown as it words it.
    press(&mut w.app, KeyCode::Char('d'));
    press(&mut w.app, KeyCode::Char('y'));
    let (level, text) = message(&w.app);
    assert_eq!(level, Level::Error);
    assert!(text.contains("deactivated already"), "{text}");
    press(&mut w.app, KeyCode::Char('r'));
    assert!(staff(&w, "NU").active);
    let (_, text) = message(&w.app);
    assert!(text.contains("reactivated"), "{text}");

    // The only admin: refused as the last one.
    highlight(&mut w.app, "DEMO");
    press(&mut w.app, KeyCode::Char('d'));
    press(&mut w.app, KeyCode::Char('y'));
    let (level, text) = message(&w.app);
    assert_eq!(level, Level::Error);
    assert!(text.contains("last active, unlocked admin"), "{text}");
    // With a second admin: still not oneself.
    add(&mut w.app, "AD2", "Second Admin", 2, "8642");
    assert_eq!(staff(&w, "AD2").role.as_str(), "admin");
    highlight(&mut w.app, "DEMO");
    press(&mut w.app, KeyCode::Char('d'));
    press(&mut w.app, KeyCode::Char('y'));
    let (level, text) = message(&w.app);
    assert_eq!(level, Level::Error);
    assert!(
        text.contains("cannot deactivate their own account"),
        "{text}"
    );
    assert!(staff(&w, "DEMO").active);
    assert_eq!(w.app.screen, Screen::Staff);
}

#[test]
fn a_role_change_is_chosen_then_confirmed() {
    let mut w = admin();
    press(&mut w.app, KeyCode::Char('S'));
    highlight(&mut w.app, "NU");
    press(&mut w.app, KeyCode::Char('c'));
    assert_eq!(w.app.panel.as_ref().unwrap().value("role"), "nurse");
    press(&mut w.app, KeyCode::Right);
    snap(&w.app, "staff_role");
    press(&mut w.app, KeyCode::Enter);
    let text = screen(&w.app, 80, 24);
    assert!(text.contains("from nurse to physician"), "{text}");
    press(&mut w.app, KeyCode::Esc);
    assert_eq!(staff(&w, "NU").role.as_str(), "nurse");
    press(&mut w.app, KeyCode::Char('c'));
    press(&mut w.app, KeyCode::Right);
    press(&mut w.app, KeyCode::Enter);
    press(&mut w.app, KeyCode::Char('y'));
    assert_eq!(staff(&w, "NU").role.as_str(), "physician");
    assert_eq!(w.app.staff.selected().unwrap().role.as_str(), "physician");
    // Demoting the only admin: the operation's refusal.
    highlight(&mut w.app, "DEMO");
    press(&mut w.app, KeyCode::Char('c'));
    press(&mut w.app, KeyCode::Char('n'));
    press(&mut w.app, KeyCode::Enter);
    press(&mut w.app, KeyCode::Char('y'));
    let (level, text) = message(&w.app);
    assert_eq!(level, Level::Error);
    assert!(text.contains("cannot be demoted"), "{text}");
    assert_eq!(staff(&w, "DEMO").role.as_str(), "admin");
}

#[test]
fn a_new_pin_unlocks_and_unlock_clears_the_wrong_pins() {
    let mut w = admin();
    // NU locks herself out at another terminal.
    {
        let mut db = Db::open(&w.path).unwrap();
        for _ in 0..5 {
            let _ =
                titrate::ward::access::sign_in(&mut db, &Config::defaults(), "NU", "0000", now());
        }
    }
    press(&mut w.app, KeyCode::Char('S'));
    highlight(&mut w.app, "NU");
    assert!(screen(&w.app, 80, 24).contains("LOCKED"));
    press(&mut w.app, KeyCode::Char('u'));
    let nu = staff(&w, "NU");
    assert!(!nu.locked && nu.failed_pins == 0);
    press(&mut w.app, KeyCode::Char('u'));
    let (level, text) = message(&w.app);
    assert_eq!(level, Level::Error);
    assert!(text.contains("is not locked"), "{text}");

    press(&mut w.app, KeyCode::Char('n'));
    typ(&mut w.app, "12");
    press(&mut w.app, KeyCode::Enter);
    typ(&mut w.app, "12");
    press(&mut w.app, KeyCode::Enter);
    let p = w.app.panel.as_ref().expect("refused in the form");
    assert!(p.error.as_ref().unwrap().1.contains("4 to 12 digits"));
    typ(&mut w.app, "97531");
    press(&mut w.app, KeyCode::Enter);
    typ(&mut w.app, "97531");
    snap(&w.app, "staff_reset_pin");
    press(&mut w.app, KeyCode::Enter);
    assert!(w.app.panel.is_none());
    let (_, text) = message(&w.app);
    assert!(text.contains("NU (nurse) given a new PIN"), "{text}");
    sign_out(&mut w.app);
    sign_in(&mut w.app, "NU", "97531");
    assert_eq!(w.app.screen, Screen::Overview, "{:?}", w.app.creds.error);
}

#[test]
fn a_role_taken_away_elsewhere_is_refused_by_the_operation() {
    let mut w = admin();
    press(&mut w.app, KeyCode::Char('S'));
    // Another admin demotes DEMO while this screen is open.
    {
        let mut db = Db::open(&w.path).unwrap();
        let cfg = Config::defaults();
        let demo = titrate::ward::access::sign_in(&mut db, &cfg, "DEMO", "0000", now()).unwrap();
        titrate::ward::access::staff_add(
            &mut db,
            &demo,
            "AD2",
            "Second",
            titrate::domain::values::Role::Admin,
            "8642",
            now(),
        )
        .unwrap();
        let ad2 = titrate::ward::access::sign_in(&mut db, &cfg, "AD2", "8642", now()).unwrap();
        titrate::ward::access::change_staff(
            &mut db,
            &ad2,
            "DEMO",
            titrate::ward::access::StaffChange::Role(titrate::domain::values::Role::Nurse),
            now(),
        )
        .unwrap();
    }
    highlight(&mut w.app, "NU");
    press(&mut w.app, KeyCode::Char('u'));
    let (level, text) = message(&w.app);
    assert_eq!(level, Level::Error);
    assert!(text.contains("changed since it signed in"), "{text}");
}

/// Every new screen and form draws in a small window without a panic (a window below 80x24
/// is the layout's to refuse, not a crash).
#[test]
fn the_new_screens_draw_in_small_windows() {
    let mut w = admin();
    press(&mut w.app, KeyCode::Char('S'));
    let sizes = [(60, 20), (40, 10), (20, 6)];
    for (cw, ch) in sizes {
        screen(&w.app, cw, ch);
    }
    press(&mut w.app, KeyCode::Char('a'));
    typ(&mut w.app, "X");
    for (cw, ch) in sizes {
        screen(&w.app, cw, ch);
    }
    press(&mut w.app, KeyCode::Esc);
    press(&mut w.app, KeyCode::Char('y'));
    press(&mut w.app, KeyCode::Char('d'));
    for (cw, ch) in sizes {
        screen(&w.app, cw, ch);
    }
    press(&mut w.app, KeyCode::Char('n'));
    press(&mut w.app, KeyCode::Esc);
    press(&mut w.app, KeyCode::Enter);
    press(&mut w.app, KeyCode::Char('D'));
    for (cw, ch) in sizes {
        screen(&w.app, cw, ch);
    }
}
