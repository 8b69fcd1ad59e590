//! Keys for the ward terminal without a terminal: what a person types goes into
//! `App::update` as `Msg::Key`, one key at a time.

use chrono::{TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use titrate::domain::time::Instant;
use titrate::tui::app::{App, Msg};

/// The demo ward's clock in the terminal tests: a Tuesday in March, 13:00 in Amsterdam.
pub fn now() -> Instant {
    Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
}

pub fn press(app: &mut App, code: KeyCode) {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

pub fn ch(app: &mut App, c: char) {
    press(app, KeyCode::Char(c));
}

pub fn ctrl(app: &mut App, c: char) {
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::CONTROL,
    )));
}

/// Each character as its own key press.
pub fn typ(app: &mut App, text: &str) {
    for c in text.chars() {
        ch(app, c);
    }
}
