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

/// The screen drawn at `w` x `h`, as text: one line per row.
pub fn screen(app: &App, w: u16, h: u16) -> String {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    t.draw(|f| titrate::tui::ui::draw(f, app)).unwrap();
    let buf = t.backend().buffer();
    let mut s = String::new();
    for y in 0..h {
        for x in 0..w {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}
