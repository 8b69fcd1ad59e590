//! Issue 11 §4: the patient-details screen (D on the detail screen) and the formatted,
//! scrolling summary preview, without a terminal.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use titrate::config::Config;
use titrate::domain::patient::PatientChanges;
use titrate::store::Db;
use titrate::tui::app::{App, Level, Msg, Screen};
use titrate::tui::panel::PanelKind;

mod common;
use common::tui::{now, press, screen, typ};

struct Ward {
    _dir: tempfile::TempDir,
    _reports: tempfile::TempDir,
    path: PathBuf,
    app: App,
}

fn signed_in(id: &str, pin: &str) -> Ward {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.db");
    drop(titrate::demo::create(&path, &Config::defaults(), now()).unwrap());
    let reports = tempfile::tempdir().unwrap();
    let mut cfg = Config::defaults();
    cfg.reports_dir = reports.path().join("reports");
    let mut app = App::new(cfg, Db::open(&path).unwrap(), now());
    app.update(Msg::Tick(now()));
    press(&mut app, KeyCode::Esc);
    typ(&mut app, id);
    press(&mut app, KeyCode::Enter);
    typ(&mut app, pin);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Overview);
    Ward {
        _dir: dir,
        _reports: reports,
        path,
        app,
    }
}

fn snap(app: &App, name: &str) {
    for (cols, rows) in [(80, 24), (120, 40)] {
        let mut t = Terminal::new(TestBackend::new(cols, rows)).unwrap();
        t.draw(|f| titrate::tui::ui::draw(f, app)).unwrap();
        insta::assert_snapshot!(format!("{name}_{cols}x{rows}"), t.backend());
    }
}

/// Opens the first patient of the ward and moves to the field `key` of the details form.
fn open_details(app: &mut App) -> String {
    press(app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Detail);
    press(app, KeyCode::Char('D'));
    let p = app.panel.as_ref().expect("D opens the details form");
    let PanelKind::Patient { mrn, .. } = &p.kind else {
        panic!("{:?}", p.kind)
    };
    mrn.clone()
}

fn focus(app: &mut App, key: &str) {
    for _ in 0..12 {
        let p = app.panel.as_ref().unwrap();
        if p.fields[p.focus].key == key {
            return;
        }
        press(app, KeyCode::Tab);
    }
    panic!("no field {key}");
}

fn details(w: &Ward, mrn: &str) -> titrate::domain::record::PatientRecord {
    let mut db = Db::open(&w.path).unwrap();
    db.read(|r| titrate::ward::load_record(r, mrn)).unwrap()
}

#[test]
fn a_nurse_corrects_the_weight_with_a_reason_and_the_version_is_stored() {
    let mut w = signed_in("NU", "1111");
    let mrn = open_details(&mut w.app);
    let before = details(&w, &mrn);
    // Prefilled with the details as they stand.
    let p = w.app.panel.as_ref().unwrap();
    assert_eq!(p.value("name"), before.patient.data.name);
    assert_eq!(p.value("mrn"), mrn);
    assert_eq!(p.value("birth"), before.patient.data.birth_date.to_string());
    assert_eq!(p.value("reason"), "");
    // The form names its patient: name, MRN and bed.
    let bed = w.app.ward.active[0].bed.clone();
    assert_eq!(
        p.title,
        format!(
            "Correct the details of {} · MRN {mrn} · bed {bed}",
            before.patient.data.name
        )
    );
    snap(&w.app, "patient_form");

    // Nothing changed: refused, with what to do.
    press(&mut w.app, KeyCode::Enter);
    let p = w.app.panel.as_ref().expect("refused in the form");
    assert!(p.error.as_ref().unwrap().1.contains("nothing to correct"));

    focus(&mut w.app, "weight");
    typ(&mut w.app, "81.5");
    press(&mut w.app, KeyCode::Enter);
    // The reason is required: refused next to it, nothing stored.
    let p = w.app.panel.as_ref().expect("refused in the form");
    let (key, msg) = p.error.clone().unwrap();
    assert_eq!(key, "reason", "{msg}");
    assert!(msg.contains("reason is empty"), "{msg}");
    assert_eq!(details(&w, &mrn).versions.len(), before.versions.len());
    snap(&w.app, "patient_form_error");

    typ(&mut w.app, "weighed again on the ward");
    press(&mut w.app, KeyCode::Enter);
    assert!(w.app.panel.is_none(), "{:?}", w.app.panel);
    let m = w.app.message.clone().unwrap();
    assert_eq!(m.level, Level::Info, "{}", m.text);
    assert!(
        m.text.contains("details corrected (version 1)"),
        "{}",
        m.text
    );
    assert!(m.text.contains("-> 81.5 kg"), "{}", m.text);
    let after = details(&w, &mrn);
    assert_eq!(after.patient.data.weight_kg, Some(81.5));
    let v = after.versions.last().unwrap();
    assert_eq!(v.version, 1);
    assert_eq!(v.recorded_by, "NU");
    assert_eq!(v.reason.as_deref(), Some("weighed again on the ward"));
    // The detail screen shows the details as they now are.
    assert_eq!(
        w.app.detail.as_ref().unwrap().record.patient.data.weight_kg,
        Some(81.5)
    );
}

#[test]
fn a_bad_value_is_refused_next_to_its_field_and_a_new_mrn_reopens_the_patient() {
    let mut w = signed_in("DEMO", "0000");
    let mrn = open_details(&mut w.app);
    focus(&mut w.app, "birth");
    typ(&mut w.app, "1970-13-01");
    focus(&mut w.app, "reason");
    typ(&mut w.app, "typo");
    press(&mut w.app, KeyCode::Enter);
    let p = w.app.panel.as_ref().expect("refused");
    assert_eq!(p.error.as_ref().unwrap().0, "birth", "{:?}", p.error);
    focus(&mut w.app, "birth");
    // An error clears when its field changes.
    press(&mut w.app, KeyCode::Backspace);
    assert!(w.app.panel.as_ref().unwrap().error.is_none());
    for _ in 0..10 {
        press(&mut w.app, KeyCode::Backspace);
    }
    let was = details(&w, &mrn).patient.data.birth_date.to_string();
    typ(&mut w.app, &was);
    focus(&mut w.app, "mrn");
    typ(&mut w.app, "NEW-1");
    press(&mut w.app, KeyCode::Enter);
    assert!(w.app.panel.is_none(), "{:?}", w.app.panel);
    assert_eq!(
        w.app.detail.as_ref().unwrap().record.patient.data.mrn,
        "NEW-1"
    );
    assert_eq!(details(&w, "NEW-1").versions.len(), 2);
}

#[test]
fn a_correction_made_elsewhere_since_the_form_opened_is_refused_and_shown() {
    let mut w = signed_in("NU", "1111");
    let mrn = open_details(&mut w.app);
    let old_name = details(&w, &mrn).patient.data.name;
    focus(&mut w.app, "weight");
    typ(&mut w.app, "90");
    focus(&mut w.app, "reason");
    typ(&mut w.app, "scale");
    // Another terminal corrects the name meanwhile.
    {
        let mut db = Db::open(&w.path).unwrap();
        let cfg = Config::defaults();
        let who = titrate::ward::access::sign_in(&mut db, &cfg, "DEMO", "0000", now()).unwrap();
        let mut s = titrate::ward::entries::Session {
            db: &mut db,
            cfg: &cfg,
            who: &who,
            now: now(),
            expect: None,
        };
        s.amend_patient(
            &mrn,
            "spelling",
            &PatientChanges {
                name: Some("Someone Else"),
                ..PatientChanges::default()
            },
        )
        .unwrap();
    }
    press(&mut w.app, KeyCode::Enter);
    let p = w.app.panel.as_ref().expect("refused, the form stays");
    let (key, msg) = p.error.clone().unwrap();
    assert_eq!(key, "");
    assert!(msg.contains("changed at another terminal"), "{msg}");
    assert!(msg.contains("by DEMO"), "{msg}");
    assert!(
        msg.contains(&format!("name {old_name} -> Someone Else")),
        "{msg}"
    );
    // Reloaded with the details as they now stand; the reason is kept, nothing was saved.
    assert_eq!(p.value("name"), "Someone Else");
    assert_ne!(p.value("weight"), "90");
    assert_eq!(p.value("reason"), "scale");
    assert_eq!(details(&w, &mrn).versions.len(), 2);
    assert!(screen(&w.app, 120, 40).contains("changed at another terminal"));
    snap(&w.app, "patient_form_stale");
    // Sent again on the new picture, it is saved.
    focus(&mut w.app, "weight");
    typ(&mut w.app, "90");
    press(&mut w.app, KeyCode::Enter);
    assert!(w.app.panel.is_none(), "{:?}", w.app.panel);
    let after = details(&w, &mrn);
    assert_eq!(after.patient.data.weight_kg, Some(90.0));
    assert_eq!(after.patient.data.name, "Someone Else");
}

#[test]
fn d_and_p_are_listed_in_the_detail_help() {
    let mut w = signed_in("NU", "1111");
    press(&mut w.app, KeyCode::Enter);
    press(&mut w.app, KeyCode::Char('?'));
    let help = screen(&w.app, 80, 24);
    assert!(help.contains("correct the patient's details"), "{help}");
    assert!(help.contains("change your own PIN"), "{help}");
    assert!(
        help.contains("│ q        quit"),
        "help is cut at 80x24:\n{help}"
    );
}

#[test]
fn the_summary_preview_is_formatted_text_that_scrolls() {
    let mut w = signed_in("DEMO", "0000");
    // The patient with a side effect, so that the seven-column table is shown too.
    let row = w
        .app
        .ward
        .active
        .iter()
        .position(|r| r.name == "Carla Bakker")
        .unwrap();
    for _ in 0..row {
        press(&mut w.app, KeyCode::Down);
    }
    press(&mut w.app, KeyCode::Enter);
    press(&mut w.app, KeyCode::Char('p'));
    // An admin first sees the letter's advice form; Enter with nothing typed writes it.
    press(&mut w.app, KeyCode::Enter);
    let p = w.app.preview.clone().expect("the preview opens");
    assert!(
        p.markdown.contains("| Item | Value |"),
        "the source is Markdown"
    );
    for (cols, rows) in [(80u16, 24u16), (120, 40)] {
        w.app.update(Msg::Resize(cols, rows));
        let text = screen(&w.app, cols, rows);
        assert!(!text.contains("| "), "{text}");
        assert!(!text.contains("# "), "{text}");
        assert!(!text.contains("**"), "{text}");
        assert!(text.contains("Discharge summary"), "{text}");
    }
    // Every word of the side-effect table is somewhere in the formatted lines, whole.
    let (bw, _) = titrate::tui::markdown::preview_inner(80, 21);
    let all: Vec<String> = titrate::tui::markdown::format(&p.markdown, bw)
        .into_iter()
        .map(|l| l.text)
        .collect();
    let row = p
        .markdown
        .lines()
        .find(|l| l.starts_with("| ") && l.contains("mg/h |") && !l.contains("Item"))
        .expect("a side-effect row");
    let words: Vec<&str> = all.iter().flat_map(|l| l.split_whitespace()).collect();
    for cell in row.split('|').map(str::trim).filter(|c| !c.is_empty()) {
        for word in cell.split_whitespace() {
            assert!(
                words.contains(&word),
                "{word} of {row}:\n{}",
                all.join("\n")
            );
        }
    }
    w.app.update(Msg::Resize(80, 24));
    // The message names a temporary folder that differs on every run.
    let m = w.app.message.take().unwrap();
    assert!(m.text.contains("summary written"), "{}", m.text);
    snap(&w.app, "preview_top");
    press(&mut w.app, KeyCode::PageDown);
    let one_page = w.app.preview.as_ref().unwrap().scroll;
    assert!(one_page > 1, "PgDn moves a page: {one_page}");
    press(&mut w.app, KeyCode::PageUp);
    assert_eq!(w.app.preview.as_ref().unwrap().scroll, 0);
    press(&mut w.app, KeyCode::Down);
    assert_eq!(w.app.preview.as_ref().unwrap().scroll, 1);
    press(&mut w.app, KeyCode::Up);
    press(&mut w.app, KeyCode::Up);
    assert_eq!(w.app.preview.as_ref().unwrap().scroll, 0);
    // Scrolling stops with the last line at the bottom of the box.
    for _ in 0..200 {
        press(&mut w.app, KeyCode::PageDown);
    }
    let end = w.app.preview.as_ref().unwrap().scroll;
    let (bw, bh) = titrate::tui::markdown::preview_inner(80, 21);
    let lines = titrate::tui::markdown::format(&p.markdown, bw);
    assert_eq!(end, lines.len() - bh);
    let text = screen(&w.app, 80, 24);
    assert!(text.contains("Generated by"), "{text}");
    snap(&w.app, "preview_end");
    press(&mut w.app, KeyCode::Up);
    assert_eq!(w.app.preview.as_ref().unwrap().scroll, end - 1);
    // Small windows draw without a panic, and scrolling there stays inside the text.
    for (cw, ch) in [(60u16, 20u16), (40, 10), (20, 6)] {
        w.app.update(Msg::Resize(cw, ch));
        press(&mut w.app, KeyCode::End);
        screen(&w.app, cw, ch);
    }
    // Any other key closes it (at a size where keys are heard again).
    w.app.update(Msg::Resize(80, 24));
    press(&mut w.app, KeyCode::Char('x'));
    assert!(w.app.preview.is_none());
}
