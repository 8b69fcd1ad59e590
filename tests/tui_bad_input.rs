//! A corpus of bad inputs typed into the ward terminal's forms, through `App::update` with no
//! terminal. Every case must be refused where it is typed: the form stays open with what was
//! typed, an error names the field it concerns and says what is wrong (a case-specific
//! fragment), and the database is left exactly as it was (every row of every table). The
//! one exception, tested separately: a permission refusal adds one 'denied' audit row.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{Duration, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use titrate::config::Config;
use titrate::domain::entry::EntryData;
use titrate::domain::time::{Instant, local_text};
use titrate::store::Db;
use titrate::tui::app::{App, Msg, Screen};
use titrate::tui::form::FieldKind;

/// November, so that both 2026 DST changes in Europe/Amsterdam lie in the past.
fn now() -> Instant {
    Utc.with_ymd_and_hms(2026, 11, 10, 12, 0, 0).unwrap()
}

fn local(t: Instant) -> String {
    local_text(t, Config::defaults().timezone)
}

const TABLES: [&str; 9] = [
    "staff",
    "protocol",
    "patient",
    "course",
    "entry",
    "void",
    "audit",
    "audit_head",
    "pseudonym",
];

const ANOUK: &str = "100234";
const BRAM: &str = "100871";
const DIRK: &str = "102090";
const GREET: &str = "103377";

// ---------------------------------------------------------------------------------------
// The ward and the app

/// The demo database is made once per test run and copied for each case.
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

fn ward() -> Ward {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ward.db");
    std::fs::write(&path, demo_bytes()).unwrap();
    Ward { _dir: dir, path }
}

fn signed_in(w: &Ward, id: &str, pin: &str) -> App {
    let mut app = App::new(Config::defaults(), Db::open(&w.path).unwrap(), now());
    app.update(Msg::Tick(now()));
    esc(&mut app);
    typ(&mut app, id);
    enter(&mut app);
    typ(&mut app, pin);
    enter(&mut app);
    assert_eq!(app.screen, Screen::Overview, "{:?}", app.creds.error);
    app
}

fn press(app: &mut App, code: KeyCode) {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn ch(app: &mut App, c: char) {
    press(app, KeyCode::Char(c));
}

fn typ(app: &mut App, text: &str) {
    for c in text.chars() {
        ch(app, c);
    }
}

fn enter(app: &mut App) {
    press(app, KeyCode::Enter);
}

fn esc(app: &mut App) {
    press(app, KeyCode::Esc);
}

// ---------------------------------------------------------------------------------------
// A logical dump of every table

type Dump = BTreeMap<&'static str, (Vec<String>, Vec<Vec<Value>>)>;

fn dump(db: &Path) -> Dump {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut out = Dump::new();
    for t in TABLES {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {t} ORDER BY 1"))
            .unwrap();
        let cols: Vec<String> = stmt.column_names().map(str::to_string).collect();
        let n = cols.len();
        let rows = stmt
            .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
            .unwrap()
            .collect::<Result<Vec<Vec<Value>>, _>>()
            .unwrap();
        out.insert(t, (cols, rows));
    }
    out
}

/// The tables that differ, with their row counts before and after.
fn changed(before: &Dump, after: &Dump) -> Vec<String> {
    TABLES
        .iter()
        .filter(|t| before[*t] != after[*t])
        .map(|t| format!("{t} ({} -> {} rows)", before[*t].1.len(), after[*t].1.len()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// The corpus

/// Where a form is opened, and with which key.
#[derive(Clone, Debug)]
enum Open {
    /// On the overview, the active row of this MRN.
    Row(&'static str, char),
    /// On the patient's detail, reached by search (`/`, the MRN, Enter).
    Patient(&'static str, char),
    /// On the patient's detail, with the newest current entry of this kind selected.
    Entry(&'static str, &'static str, char),
    /// The add-patient form (`a` on the overview).
    AddPatient,
    /// The cohort screen's range form (`t`, then `r`).
    Range,
}

/// A value put into one field: typed key by key, or (`inject`) placed in the field as a
/// paste or any path around the keyboard filter would, to test the validation behind it.
#[derive(Clone, Debug)]
struct Fill {
    field: &'static str,
    value: String,
    inject: bool,
}

#[derive(Clone, Debug)]
struct Case {
    name: String,
    open: Open,
    /// Valid values first, the bad one last; the last is checked to be kept.
    fills: Vec<Fill>,
    /// The field keys the error may be attached to ("" = the form as a whole); none: the
    /// key itself is refused and no form opens.
    keys: &'static [&'static str],
    frag: String,
    /// A known defect of the app: the case runs only in the ignored test below.
    bug: Option<&'static str>,
}

fn typed(field: &'static str, value: impl Into<String>) -> Fill {
    Fill {
        field,
        value: value.into(),
        inject: false,
    }
}

fn injected(field: &'static str, value: impl Into<String>) -> Fill {
    Fill {
        field,
        value: value.into(),
        inject: true,
    }
}

fn case(
    name: impl Into<String>,
    open: Open,
    fills: Vec<Fill>,
    keys: &'static [&'static str],
    frag: impl Into<String>,
) -> Case {
    Case {
        name: name.into(),
        open,
        fills,
        keys,
        frag: frag.into(),
        bug: None,
    }
}

/// Bugs found by this corpus (see the ignored test).
const BUG_TEXT_KEY: &str = "a refused free-text value (empty, too long, control character) is \
    shown at the top of the form (key \"\"), not next to its field: Form::field_for does not \
    map ValueError::Empty/TooLong/Control";
const BUG_DATE_KEY: &str = "a refused birth date or CRPS onset is shown at the top of the form \
    (key \"\"), not next to its field: Form::field_for maps TimeError and \
    BirthOutOfRange/Onset* only to \"time\", which the add-patient form does not have";

fn corpus() -> Vec<Case> {
    let mut v = Vec::new();
    let n = now();
    let future = local(n + Duration::hours(2));
    // Bram's course started 100 h before now; Anouk's 30 h.
    let before_bram = local(n - Duration::days(5));
    let before_anouk = local(n - Duration::hours(40));

    // Rates, typed over the prefilled current rate of Bram (14 mg/h, the maximum).
    for (bad, frag) in [
        ("1,5", "comma"),
        ("140", "above the protocol maximum of 14 mg/h"),
        ("14.01", "above the protocol maximum of 14 mg/h"),
        ("-1", "negative"),
        ("NaN", "is not a rate"),
        ("inf", "is not a rate"),
        ("1e308", "is not a rate"),
        ("14.0001", "more than 2 decimals"),
        ("", "no rate given"),
        ("   ", "no rate given"),
        ("abc", "is not a rate"),
        ("4 mg/h", "is not a rate"),
        ("0x10", "is not a rate"),
        ("1.2.3", "is not a rate"),
        ("99999999999999999999", "far above any protocol maximum"),
    ] {
        v.push(case(
            format!("rate {bad:?}"),
            Open::Row(BRAM, 'r'),
            vec![typed("rate", bad)],
            &["rate"],
            frag,
        ));
    }
    // A step up larger than the increment (2 mg/h) is a soft limit: it needs a reason.
    v.push(case(
        "step 6 -> 10 without a reason",
        Open::Row(ANOUK, 'r'),
        vec![typed("rate", "10"), typed("reason", "")],
        &["reason"],
        "give a reason",
    ));
    v.push(case(
        "step 2 -> 8 without a reason (blank)",
        Open::Row(DIRK, 'r'),
        vec![typed("rate", "8"), typed("reason", "   ")],
        &["reason"],
        "give a reason",
    ));

    // Times of an hourly check (the prefilled 14 mg/h kept).
    for (bad, frag) in [
        ("2026-02-30 08:00", "not a date on the calendar"),
        ("tomorrow", "is not a time"),
        ("25:00", "is not a time"),
        ("2026-11-10 25:00", "is not a time"),
        ("10-11-2026 12:00", "is not a time"),
        ("", "is not a time"),
        (future.as_str(), "in the future"),
        (before_bram.as_str(), "before the course started"),
        ("2026-03-29 02:30", "the clocks went forward"),
        ("2026-10-25 02:30", "happened twice"),
    ] {
        v.push(case(
            format!("rate time {bad:?}"),
            Open::Row(BRAM, 'r'),
            vec![typed("time", bad)],
            &["time"],
            frag,
        ));
    }

    // Pain scores.
    for bad in [
        "11",
        "7.5",
        "",
        "-1",
        "ten",
        "1e1",
        "0x5",
        "100000000000000000000",
    ] {
        v.push(case(
            format!("NRS {bad:?}"),
            Open::Row(BRAM, 'n'),
            vec![typed("score", bad)],
            &["score"],
            "0 to 10",
        ));
    }
    v.push(case(
        "NRS tagged t0 during the course",
        Open::Row(BRAM, 'n'),
        vec![typed("score", "5"), typed("timepoint", "t0")],
        &["", "timepoint", "time"],
        "a t0 score is the baseline before the course starts",
    ));
    v.push(case(
        "NRS 2 hours in the future",
        Open::Row(ANOUK, 'n'),
        vec![typed("score", "5"), typed("time", future.clone())],
        &["time"],
        "in the future",
    ));
    v.push(case(
        "NRS at a time that does not exist",
        Open::Row(ANOUK, 'n'),
        vec![typed("score", "5"), typed("time", "2026-03-29 02:00")],
        &["time"],
        "does not exist",
    ));

    // Side effects.
    v.push(case(
        "side effect other without detail",
        Open::Row(BRAM, 's'),
        vec![
            typed("kind", "other"),
            typed("severity", "mild"),
            typed("detail", ""),
        ],
        &["detail"],
        "needs a description",
    ));
    v.push(case(
        "side effect other with a blank detail",
        Open::Row(BRAM, 's'),
        vec![
            typed("kind", "other"),
            typed("severity", "mild"),
            typed("detail", "    "),
        ],
        &["detail"],
        "needs a description",
    ));
    let mut c = case(
        "side effect detail with an escape sequence",
        Open::Row(BRAM, 's'),
        vec![
            typed("kind", "other"),
            typed("severity", "mild"),
            injected("detail", "rash \u{1b}[31mred\u{1b}[0m"),
        ],
        &["detail"],
        "control character",
    );
    c.bug = Some(BUG_TEXT_KEY);
    v.push(c);
    let mut c = case(
        "side effect detail with a bidi override",
        Open::Row(BRAM, 's'),
        vec![
            typed("kind", "other"),
            typed("severity", "mild"),
            typed("detail", "rash \u{202e}der"),
        ],
        &["detail"],
        "control character",
    );
    c.bug = Some(BUG_TEXT_KEY);
    v.push(c);
    let mut c = case(
        "side effect detail of 600 characters",
        Open::Row(BRAM, 's'),
        vec![
            typed("kind", "other"),
            typed("severity", "mild"),
            injected("detail", "x".repeat(600)),
        ],
        &["detail"],
        "at most 500",
    );
    c.bug = Some(BUG_TEXT_KEY);
    v.push(c);
    v.push(case(
        "side effect at a time before the course",
        Open::Row(ANOUK, 's'),
        vec![
            typed("kind", "nausea"),
            typed("severity", "mild"),
            typed("time", before_anouk.clone()),
        ],
        &["time"],
        "before the course started",
    ));

    // Add patient: valid values, then the bad one.
    let base = || {
        vec![
            typed("mrn", "200001"),
            typed("name", "Test Patient"),
            typed("birth", "1980-01-01"),
            // Sex has no default (issue 11 §2).
            typed("sex", "female"),
        ]
    };
    let add = |name: String, bad: Fill, keys: &'static [&'static str], frag: &str| {
        let mut fills = base();
        fills.push(bad);
        case(name, Open::AddPatient, fills, keys, frag)
    };
    for (bad, frag) in [
        ("12 34", "is not valid"),
        ("1'; DROP TABLE entry;--", "is not valid"),
        ("", "is not valid"),
        ("100234/1", "is not valid"),
        ("1002345678901234567890123456789012", "is not valid"),
        (ANOUK, "already belongs to another patient"),
    ] {
        v.push(add(
            format!("add patient MRN {bad:?}"),
            typed("mrn", bad),
            &["mrn"],
            frag,
        ));
    }
    for (bad, frag) in [
        ("2026-02-30", "not a date on the calendar"),
        ("2027-01-01", "not plausible"),
        ("2026-11-11", "not plausible"),
        ("1800-01-01", "not plausible"),
        ("", "not a date"),
        ("01-02-1980", "not a date"),
    ] {
        let mut c = add(
            format!("add patient birth {bad:?}"),
            typed("birth", bad),
            &["birth"],
            frag,
        );
        c.bug = Some(BUG_DATE_KEY);
        v.push(c);
    }
    for bad in ["abc", "0", "1000", "-70", "72,5", "19.9"] {
        v.push(add(
            format!("add patient weight {bad:?}"),
            typed("weight", bad),
            &["weight"],
            "weight",
        ));
    }
    for (bad, fill, frag) in [
        (
            "an escape sequence",
            injected("name", "Jan \u{1b}[31mRed"),
            "control character",
        ),
        (
            "a bidi override",
            typed("name", "Jan \u{202e}deR"),
            "control character",
        ),
        ("nothing", typed("name", ""), "name is empty"),
        ("blanks", typed("name", "   "), "name is empty"),
        (
            "101 characters",
            typed("name", "n".repeat(101)),
            "at most 100",
        ),
    ] {
        let mut c = add(
            format!("add patient name with {bad}"),
            fill,
            &["name"],
            frag,
        );
        c.bug = Some(BUG_TEXT_KEY);
        v.push(c);
    }
    for (bad, frag) in [
        ("2027-01-01", "onset cannot be in the future"),
        ("1970-01-01", "before the birth date"),
        ("2026-02-30", "not a date on the calendar"),
    ] {
        let mut c = add(
            format!("add patient onset {bad:?}"),
            typed("onset", bad),
            &["onset"],
            frag,
        );
        c.bug = Some(BUG_DATE_KEY);
        v.push(c);
    }
    let mut c = add(
        "add patient limb with an escape sequence".into(),
        injected("limb", "left \u{1b}]0;pwned\u{7}hand"),
        &["limb"],
        "control character",
    );
    c.bug = Some(BUG_TEXT_KEY);
    v.push(c);

    // Courses.
    for mrn in [ANOUK, BRAM] {
        v.push(case(
            format!("course start on {mrn}, which has an active course"),
            Open::Patient(mrn, 'c'),
            vec![],
            // Refused at the key: no form opens.
            &[],
            "already has an active course",
        ));
    }
    for (bad, frag) in [
        ("tomorrow", "is not a time"),
        (future.as_str(), "in the future"),
        ("2026-03-29 02:15", "the clocks went forward"),
        ("2026-10-25 02:30", "happened twice"),
    ] {
        v.push(case(
            format!("course start at {bad:?}"),
            Open::Patient(GREET, 'c'),
            vec![typed("time", bad)],
            &["time"],
            frag,
        ));
    }
    v.push(case(
        "course start in a bed another patient's running course holds",
        Open::Patient(GREET, 'c'),
        vec![typed("bed", " 1 ")],
        &["bed"],
        "(MRN 100234), whose course is running",
    ));
    let mut c = case(
        "course start with a 9-character bed",
        Open::Patient(GREET, 'c'),
        vec![typed("bed", "b".repeat(9))],
        &["bed"],
        "at most 8",
    );
    c.bug = Some(BUG_TEXT_KEY);
    v.push(c);
    v.push(case(
        "course end before the course start",
        Open::Row(BRAM, 'e'),
        vec![
            typed("reason", "side-effects"),
            typed("time", before_bram.clone()),
        ],
        &["time"],
        "before the course started",
    ));
    v.push(case(
        "course end before the last rate",
        Open::Row(BRAM, 'e'),
        vec![
            typed("reason", "side-effects"),
            typed("time", local(n - Duration::hours(10))),
        ],
        &["time"],
        "the last rate entry is at",
    ));
    v.push(case(
        "course end on a date that does not exist",
        Open::Row(BRAM, 'e'),
        vec![
            typed("reason", "side-effects"),
            typed("time", "2026-11-31 08:00"),
        ],
        &["time"],
        "not a date on the calendar",
    ));

    // Amend Anouk's newest rate entry (6 mg/h).
    let mut c = case(
        "amend without a reason",
        Open::Entry(ANOUK, "rate", 'm'),
        vec![typed("rate", "4"), typed("why", "")],
        &["why"],
        "reason is empty",
    );
    c.bug = Some(BUG_TEXT_KEY);
    v.push(c);
    for (bad, frag) in [
        ("140", "above the protocol maximum of 14 mg/h"),
        ("1,5", "comma"),
        ("abc", "is not a rate"),
    ] {
        v.push(case(
            format!("amend the rate to {bad:?}"),
            Open::Entry(ANOUK, "rate", 'm'),
            vec![typed("why", "typo"), typed("rate", bad)],
            &["rate"],
            frag,
        ));
    }
    v.push(case(
        "amend the time into the future",
        Open::Entry(ANOUK, "rate", 'm'),
        vec![typed("why", "typo"), typed("time", future.clone())],
        &["time"],
        "in the future",
    ));
    v.push(case(
        "amend the NRS to 11",
        Open::Entry(ANOUK, "nrs", 'm'),
        vec![typed("why", "typo"), typed("score", "11")],
        &["score"],
        "0 to 10",
    ));

    // Void.
    for (bad, fill) in [
        ("nothing", typed("why", "")),
        ("blanks", typed("why", "   ")),
        ("an escape sequence", injected("why", "oops\u{1b}[2J")),
    ] {
        let frag = if bad == "an escape sequence" {
            "control character"
        } else {
            "reason is empty"
        };
        let mut c = case(
            format!("void with a reason of {bad}"),
            Open::Entry(ANOUK, "rate", 'v'),
            vec![fill],
            &["why"],
            frag,
        );
        c.bug = Some(BUG_TEXT_KEY);
        v.push(c);
    }

    // The cohort range.
    v.push(case(
        "cohort range from after to",
        Open::Range,
        vec![typed("from", "2026-05-01"), typed("to", "2026-04-01")],
        &["to"],
        "the range is empty",
    ));
    v.push(case(
        "cohort range from 2026-13-01",
        Open::Range,
        vec![typed("from", "2026-13-01")],
        &["from"],
        "not a date",
    ));
    v.push(case(
        "cohort range to \"yesterday\"",
        Open::Range,
        vec![typed("to", "yesterday")],
        &["to"],
        "not a date",
    ));
    v
}

// ---------------------------------------------------------------------------------------
// Running a case

/// Moves the form's focus to the field with this key.
fn focus_field(app: &mut App, key: &str) -> Result<(), String> {
    for _ in 0..20 {
        let f = app.form.as_ref().ok_or("the form closed")?;
        if f.fields[f.focus].key == key {
            return Ok(());
        }
        press(app, KeyCode::Tab);
    }
    Err(format!("the form has no field {key}"))
}

fn fill(app: &mut App, f: &Fill) -> Result<(), String> {
    focus_field(app, f.field)?;
    let form = app.form.as_mut().unwrap();
    let i = form.focus;
    if f.inject {
        form.fields[i].value = f.value.clone();
        form.fields[i].fresh = false;
        form.dirty = true;
        return Ok(());
    }
    if matches!(form.fields[i].kind, FieldKind::Choice(_)) {
        for _ in 0..40 {
            if app.form.as_ref().unwrap().fields[i].value == f.value {
                return Ok(());
            }
            press(app, KeyCode::Right);
        }
        return Err(format!("{} has no option {:?}", f.field, f.value));
    }
    // A prefilled value is replaced by the first typed character; an empty value (or one
    // already edited) is cleared with Backspace.
    if !form.fields[i].fresh || f.value.is_empty() {
        let n = form.fields[i].value.chars().count();
        for _ in 0..n {
            press(app, KeyCode::Backspace);
        }
    }
    typ(app, &f.value);
    let got = app.form.as_ref().unwrap().fields[i].value.clone();
    if got != f.value {
        return Err(format!(
            "typed {:?} into {}, it holds {got:?}",
            f.value, f.field
        ));
    }
    Ok(())
}

fn open_patient(app: &mut App, mrn: &str) -> Result<(), String> {
    ch(app, '/');
    typ(app, mrn);
    enter(app);
    let open = app
        .detail
        .as_ref()
        .map(|d| d.record.patient.data.mrn.as_str());
    if app.screen != Screen::Detail || open != Some(mrn) {
        return Err(format!("search did not open {mrn}: {:?}", app.screen));
    }
    Ok(())
}

fn navigate(app: &mut App, open: &Open) -> Result<(), String> {
    match open {
        Open::Row(mrn, _) => {
            let i = app
                .ward
                .active
                .iter()
                .position(|r| r.mrn == *mrn)
                .ok_or(format!("{mrn} is not on the active tab"))?;
            for _ in 0..i {
                ch(app, 'j');
            }
            if app.ward.active[app.selected].mrn != *mrn {
                return Err(format!("could not select {mrn}"));
            }
        }
        Open::Patient(mrn, _) => open_patient(app, mrn)?,
        Open::Entry(mrn, kind, _) => {
            open_patient(app, mrn)?;
            let d = app.detail.as_ref().unwrap();
            let i = d
                .timeline
                .iter()
                .position(|r| {
                    r.current
                        && r.entry.void.is_none()
                        && match r.entry.data {
                            EntryData::Rate { .. } => *kind == "rate",
                            EntryData::Nrs { .. } => *kind == "nrs",
                            _ => false,
                        }
                })
                .ok_or(format!("{mrn} has no current {kind} entry"))?;
            for _ in 0..i {
                ch(app, 'j');
            }
        }
        Open::AddPatient => {}
        Open::Range => {
            ch(app, 't');
            if app.screen != Screen::Cohort {
                return Err("t did not open the cohort".into());
            }
        }
    }
    Ok(())
}

fn open_form(app: &mut App, open: &Open) {
    let key = match open {
        Open::Row(_, k) | Open::Patient(_, k) | Open::Entry(_, _, k) => *k,
        Open::AddPatient => 'a',
        Open::Range => 'r',
    };
    ch(app, key);
}

/// Runs one case on a fresh copy of the demo ward; returns what went wrong.
fn run(c: &Case) -> Result<(), String> {
    let w = ward();
    let mut app = signed_in(&w, "DEMO", "0000");
    navigate(&mut app, &c.open)?;
    let before = dump(&w.path);
    open_form(&mut app, &c.open);
    if c.keys.is_empty() {
        // A refusal at the key: no form, the reason at once, nothing stored.
        let mut problems = Vec::new();
        if app.form.is_some() {
            problems.push("a form opened".to_string());
        }
        match &app.message {
            Some(m) if m.text.contains(&c.frag) => {}
            m => problems.push(format!("the message lacks {:?}: {m:?}", c.frag)),
        }
        let diff = changed(&before, &dump(&w.path));
        if !diff.is_empty() {
            problems.push(format!("the database changed: {diff:?}"));
        }
        return if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        };
    }
    if app.form.is_none() {
        return Err(format!("no form opened; message {:?}", app.message));
    }
    for f in &c.fills {
        fill(&mut app, f)?;
    }
    enter(&mut app);
    let mut problems = Vec::new();
    match app.form.as_ref() {
        None => problems.push(format!("the form closed; message {:?}", app.message)),
        Some(form) => {
            match &form.error {
                None => problems.push("no error is shown".into()),
                Some((key, msg)) => {
                    if !c.keys.contains(key) {
                        problems.push(format!(
                            "error attached to {key:?}, expected one of {:?}: {msg}",
                            c.keys
                        ));
                    }
                    if !msg.contains(&c.frag) {
                        problems.push(format!("error lacks {:?}: {msg}", c.frag));
                    }
                    if msg.contains('\u{1b}') || msg.contains('\u{202e}') {
                        problems.push(format!("error echoes a control character: {msg:?}"));
                    }
                }
            }
            if form.waiting {
                problems.push("the form is waiting for the database".into());
            }
            if let Some(last) = c.fills.last() {
                let kept = form.value(last.field);
                if kept != last.value {
                    problems.push(format!(
                        "{} holds {kept:?}, not what was typed {:?}",
                        last.field, last.value
                    ));
                }
            }
        }
    }
    let diff = changed(&before, &dump(&w.path));
    if !diff.is_empty() {
        problems.push(format!("the database changed: {diff:?}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn run_all(cases: &[Case]) -> Vec<String> {
    cases
        .iter()
        .filter_map(|c| run(c).err().map(|e| format!("{}: {e}", c.name)))
        .collect()
}

#[test]
fn the_corpus_is_large_enough() {
    let all = corpus();
    assert!(all.len() >= 60, "{} cases", all.len());
    let mut names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all.len(), "case names are unique");
}

#[test]
fn bad_input_is_refused_in_the_form_and_stores_nothing() {
    let cases: Vec<Case> = corpus().into_iter().filter(|c| c.bug.is_none()).collect();
    let failures = run_all(&cases);
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The same checks for the cases that find a known bug. Apart from where the message is
/// attached, they are refused correctly (see `known_bug_cases_are_otherwise_refused`).
#[test]
fn bad_input_is_shown_next_to_its_field() {
    let cases: Vec<Case> = corpus().into_iter().filter(|c| c.bug.is_some()).collect();
    let failures = run_all(&cases);
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// The keyboard filter and the permission refusal

/// An escape character never gets into a field by typing: it is dropped, so the rest of the
/// sequence is harmless text. Typing stops at 500 characters.
#[test]
fn control_characters_are_not_typed_and_fields_stop_at_500() {
    let w = ward();
    let mut app = signed_in(&w, "DEMO", "0000");
    ch(&mut app, 's');
    fill(&mut app, &typed("kind", "other")).unwrap();
    focus_field(&mut app, "detail").unwrap();
    typ(&mut app, "a\u{1b}[31mb\u{7}c\u{0}d\u{9b}e");
    assert_eq!(app.form.as_ref().unwrap().value("detail"), "a[31mbcde");
    typ(&mut app, &"y".repeat(600));
    assert_eq!(
        app.form.as_ref().unwrap().value("detail").chars().count(),
        500
    );
}

/// A nurse may not end a course: the key is refused at once with the role it needs, no
/// form opens, and the only change to the database is one 'denied' audit row (and the
/// audit head moving to it).
#[test]
fn a_nurse_ending_a_course_is_denied_and_only_audited() {
    let w = ward();
    let mut app = signed_in(&w, "NU", "1111");
    navigate(&mut app, &Open::Row(BRAM, 'e')).unwrap();
    let before = dump(&w.path);
    ch(&mut app, 'e');
    assert!(app.form.is_none(), "a nurse got the end-course form");
    let msg = app
        .message
        .as_ref()
        .expect("the refusal is shown")
        .text
        .clone();
    assert!(msg.contains("needs the physician role"), "{msg}");
    assert!(msg.contains("NU"), "{msg}");
    let after = dump(&w.path);
    let tables: Vec<&str> = TABLES
        .into_iter()
        .filter(|t| before[t] != after[t])
        .collect();
    assert_eq!(
        tables,
        ["audit", "audit_head"],
        "only the audit trail changes: {:?}",
        changed(&before, &after)
    );
    let (cols, rows) = &after["audit"];
    let (_, old) = &before["audit"];
    assert_eq!(rows.len(), old.len() + 1, "exactly one audit row is added");
    assert_eq!(
        &rows[..old.len()],
        &old[..],
        "earlier audit rows are untouched"
    );
    let new = rows.last().unwrap();
    let action = cols.iter().position(|c| c == "action").unwrap();
    assert_eq!(new[action], Value::Text("denied".into()));
    let (hcols, head) = &after["audit_head"];
    assert_eq!(head.len(), 1);
    let seq = hcols.iter().position(|c| c == "seq").unwrap();
    assert_eq!(head[0][seq], new[0], "the audit head points at the new row");
}

/// A correction that passes a soft limit (here: Anouk's last rate of 6 mg/h was really
/// 12 mg/h, a step up of 6 from the previous 6 mg/h) is refused with "confirm it and give a
/// reason"; as in the rate form, a reason of its own confirms it, and that reason (not the
/// correction's "why", nor a confirmation of the corrected version) is kept with the rate.
#[test]
fn an_amendment_past_a_soft_limit_can_be_confirmed() {
    let w = ward();
    let mut app = signed_in(&w, "DEMO", "0000");
    navigate(&mut app, &Open::Entry(ANOUK, "rate", 'm')).unwrap();
    ch(&mut app, 'm');
    let form = app.form.as_ref().expect("the amend form is open");
    assert_eq!(
        form.value("confirm"),
        "",
        "a confirmation does not carry over from the corrected version"
    );
    fill(&mut app, &typed("rate", "12")).unwrap();
    fill(&mut app, &typed("why", "the pump ran at 12 mg/h")).unwrap();
    enter(&mut app);
    let form = app.form.as_ref().expect("a soft limit keeps the form open");
    let (key, msg) = form.error.clone().expect("the soft limit is explained");
    assert!(msg.contains("give a reason"), "{msg}");
    assert_eq!(key, "confirm", "the message sits next to the confirm field");
    fill(&mut app, &typed("confirm", "physician ordered 12")).unwrap();
    enter(&mut app);
    assert!(app.form.is_none(), "{:?}", app.form.as_ref().unwrap().error);
    let conn = rusqlite::Connection::open(&w.path).unwrap();
    let (rate, reason, why): (i64, Option<String>, Option<String>) = conn
        .query_row(
            "SELECT rate_centi, confirm_reason, amend_reason FROM entry ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(rate, 1200);
    assert_eq!(reason.as_deref(), Some("physician ordered 12"));
    assert_eq!(why.as_deref(), Some("the pump ran at 12 mg/h"));
}
