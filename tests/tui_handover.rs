//! The shift handover screen without a terminal: H from the overview, scrolling, w writes the
//! sheet through the summary's writer, and the same blocks as `report::handover::build`.
#![allow(clippy::unwrap_used)]

use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use titrate::config::Config;
use titrate::store::Db;
use titrate::tui::app::{App, Level, Msg, Screen};

mod common;
use common::tui::{ch, now, press, screen as screen_text};

struct Ward {
    _dir: tempfile::TempDir,
    reports: tempfile::TempDir,
    app: App,
}

fn signed_in() -> Ward {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.db");
    drop(titrate::demo::create(&path, &Config::defaults(), now()).unwrap());
    let reports = tempfile::tempdir().unwrap();
    let mut cfg = Config::defaults();
    cfg.reports_dir = reports.path().join("reports");
    let mut app = App::new(cfg, Db::open(&path).unwrap(), now());
    app.colour = true;
    app.update(Msg::Tick(now()));
    press(&mut app, KeyCode::Esc);
    for c in "DEMO".chars() {
        ch(&mut app, c);
    }
    press(&mut app, KeyCode::Enter);
    for c in "0000".chars() {
        ch(&mut app, c);
    }
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Overview);
    Ward {
        _dir: dir,
        reports,
        app,
    }
}

#[test]
fn h_opens_the_handover_with_every_active_course_in_bed_order() {
    let mut w = signed_in();
    let active = w.app.ward.active.len();
    assert!(active > 0);
    ch(&mut w.app, 'H');
    assert_eq!(w.app.screen, Screen::Handover);
    let h = w.app.handover.clone().unwrap();
    assert_eq!(h.blocks.len(), active);
    let beds: Vec<_> = h
        .blocks
        .iter()
        .map(|b| (b.bed.is_none(), b.bed.clone()))
        .collect();
    let mut sorted = beds.clone();
    sorted.sort();
    assert_eq!(beds, sorted);
    // The screen shows the first block's title and facts.
    let text = screen_text(&w.app, 120, 40);
    let first = &h.blocks[0];
    assert!(text.contains(&first.mrn), "{text}");
    assert!(
        text.contains(&format!("day {} of {}", first.day, first.days)),
        "{text}"
    );
    assert!(text.contains("write sheet"), "footer: {text}");
    // Esc goes back to the ward.
    press(&mut w.app, KeyCode::Esc);
    assert_eq!(w.app.screen, Screen::Overview);
}

#[test]
fn scrolling_stops_at_the_ends() {
    let mut w = signed_in();
    ch(&mut w.app, 'H');
    press(&mut w.app, KeyCode::Up);
    assert_eq!(w.app.handover_scroll, 0);
    for _ in 0..500 {
        press(&mut w.app, KeyCode::Down);
    }
    let n = titrate::tui::ui::handover_lines(&w.app).len();
    assert_eq!(w.app.handover_scroll, n - 1);
    ch(&mut w.app, 'k');
    assert_eq!(w.app.handover_scroll, n - 2);
}

#[test]
fn w_writes_the_markdown_and_pdf_pair_and_says_where() {
    let mut w = signed_in();
    ch(&mut w.app, 'H');
    ch(&mut w.app, 'w');
    let m = w.app.message.clone().unwrap();
    assert_eq!(m.level, Level::Info, "{}", m.text);
    assert!(m.text.contains("handover-2026-03-10-1300"), "{}", m.text);
    let dir = w.reports.path().join("reports");
    let md = std::fs::read_to_string(dir.join("handover-2026-03-10-1300.md")).unwrap();
    let h = w.app.handover.clone().unwrap();
    for b in &h.blocks {
        assert!(md.contains(&titrate::report::handover::title(b)), "{md}");
    }
    assert!(
        std::fs::read(dir.join("handover-2026-03-10-1300.pdf"))
            .unwrap()
            .starts_with(b"%PDF")
    );
    // A second press never overwrites: the next free name.
    ch(&mut w.app, 'w');
    assert!(dir.join("handover-2026-03-10-1300-2.md").exists());
    assert_eq!(
        std::fs::read_to_string(dir.join("handover-2026-03-10-1300.md")).unwrap(),
        md
    );
}

#[test]
fn a_reports_folder_that_cannot_be_written_is_an_error_not_a_silence() {
    let mut w = signed_in();
    // A file where the folder should be.
    std::fs::write(w.reports.path().join("reports"), "x").unwrap();
    ch(&mut w.app, 'H');
    ch(&mut w.app, 'w');
    let m = w.app.message.clone().unwrap();
    assert_eq!(m.level, Level::Error, "{}", m.text);
    assert!(
        m.text.contains("could not write the handover"),
        "{}",
        m.text
    );
}

#[test]
fn help_lists_the_handover_keys() {
    let mut w = signed_in();
    ch(&mut w.app, '?');
    let text = screen_text(&w.app, 120, 40);
    assert!(text.contains("shift handover"), "{text}");
    ch(&mut w.app, '?');
    ch(&mut w.app, 'H');
    ch(&mut w.app, '?');
    let text = screen_text(&w.app, 120, 40);
    assert!(text.contains("write the printable sheet"), "{text}");
}

#[test]
fn snap_handover() {
    let mut w = signed_in();
    ch(&mut w.app, 'H');
    for (cols, rows) in [(80, 24), (120, 40)] {
        let mut t = Terminal::new(TestBackend::new(cols, rows)).unwrap();
        t.draw(|f| titrate::tui::ui::draw(f, &w.app)).unwrap();
        insta::assert_snapshot!(format!("handover_{cols}x{rows}"), t.backend());
    }
}
