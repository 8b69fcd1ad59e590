//! The command line and the ward terminal on PostgreSQL, end to end, against a throwaway
//! cluster of each test's own, reached through a URL with the Unix-socket folder as `?host=`
//! (postgresql://postgres@/DB?host=/tmp/…&port=N). The same command sequence on an SQLite
//! file and on PostgreSQL gives the same `status --json` and `cohort --json`.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration as Wait, Instant as Clock};

use chrono::{DateTime, Duration, Utc};
use crossterm::event::KeyCode;
use titrate::config::Config;
use titrate::store::Db;
use titrate::tui::app::{App, Msg, Screen};

use common::pg::Cluster;
use common::tui::{ch, press, screen, typ};
use common::{CONFIG, first_number, hours_ago, rfc, text};

/// A record at a location (a file path or a URL), driven through the titrate binary.
struct Rec {
    dir: tempfile::TempDir,
    db: String,
}

impl Rec {
    fn at(db: String) -> Rec {
        Rec {
            dir: tempfile::tempdir().unwrap(),
            db,
        }
    }

    fn file() -> Rec {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ward.db").display().to_string();
        Rec { dir, db }
    }

    fn folder(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, user: &str, pin: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_titrate"));
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TITRATE_DB", &self.db)
            .env("TITRATE_CONFIG", CONFIG)
            .env("TITRATE_USER", user)
            .env("TITRATE_PIN", pin)
            .current_dir(self.dir.path());
        for (k, v) in env {
            c.env(k, v);
        }
        c.args(args).output().unwrap()
    }

    /// Runs as `user`; panics unless it succeeds. Returns stdout.
    fn ok_as(&self, user: &str, pin: &str, args: &[&str]) -> String {
        let out = self.run(user, pin, &[], args);
        assert!(
            out.status.success(),
            "{args:?} as {user} on {} failed: {}",
            self.db,
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    fn ok(&self, args: &[&str]) -> String {
        self.ok_as("AB", "1234", args)
    }

    /// Runs as `user`; panics unless it is refused. Returns stderr.
    fn refused_as(&self, user: &str, pin: &str, args: &[&str]) -> String {
        let out = self.run(user, pin, &[], args);
        assert!(
            !out.status.success(),
            "{args:?} as {user} on {} was accepted: {}",
            self.db,
            text(&out.stdout)
        );
        text(&out.stderr)
    }

    fn init(&self) -> Output {
        self.run(
            "AB",
            "1234",
            &[("TITRATE_NEW_PIN", "1234")],
            &["init", "--admin", "AB", "--name", "Anna Boer"],
        )
    }

    fn staff(&self, id: &str, name: &str, role: &str, pin: &str) {
        let out = self.run(
            "AB",
            "1234",
            &[("TITRATE_NEW_PIN", pin)],
            &["staff", "add", "--id", id, "--name", name, "--role", role],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
}

/// How many rows the audit log and the entry table hold: a write that was refused must
/// leave both as they were.
trait Count {
    fn rows(&self) -> (i64, i64);
}

struct SqliteCount(PathBuf);

impl Count for SqliteCount {
    fn rows(&self) -> (i64, i64) {
        let c = rusqlite::Connection::open(&self.0).unwrap();
        c.query_row(
            "SELECT (SELECT COUNT(*) FROM audit), (SELECT COUNT(*) FROM entry)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    }
}

struct PgCount<'a>(&'a Cluster, &'a str);

impl Count for PgCount<'_> {
    fn rows(&self) -> (i64, i64) {
        let out = self.0.psql(
            self.1,
            "SELECT (SELECT COUNT(*) FROM audit) || ' ' || (SELECT COUNT(*) FROM entry)",
        );
        let mut it = out.split(' ').map(|n| n.parse::<i64>().unwrap());
        (it.next().unwrap(), it.next().unwrap())
    }
}

fn patient_add(r: &Rec, mrn: &str, name: &str) {
    r.ok(&common::patient_add(mrn, name));
}

/// The same ward story on any backend, with explicit times from `start` (a whole hour in
/// the past): a course of 2001 that ends, a running course of 2002, the refusals of bad
/// input with the record unchanged after each, and the reports.
fn story(r: &Rec, count: &dyn Count, start: DateTime<Utc>) {
    let at = |h: i64| rfc(start + Duration::hours(h));
    let out = r.init();
    assert!(
        out.status.success(),
        "init on {}: {}",
        r.db,
        text(&out.stderr)
    );
    // A second init is refused and changes nothing.
    let before = count.rows();
    let out = r.init();
    assert!(
        !out.status.success(),
        "a second init on {} was accepted",
        r.db
    );
    assert!(!text(&out.stderr).trim().is_empty());
    assert_eq!(count.rows(), before, "a refused init changed {}", r.db);

    r.staff("NU", "Nina Udo", "nurse", "5678");
    r.staff("PH", "Piet Hein", "physician", "4321");
    patient_add(r, "2001", "Maria Smit");
    patient_add(r, "2002", "Karel Bos");
    let nurse = |args: &[&str]| first_number(&r.ok_as("NU", "5678", args));
    let doctor = |args: &[&str]| r.ok_as("PH", "4321", args);

    nurse(&[
        "nrs",
        "--mrn",
        "2001",
        "--score",
        "8",
        "--at",
        &at(-2),
        "--timepoint",
        "t0",
    ]);
    doctor(&[
        "course",
        "start",
        "--mrn",
        "2001",
        "--at",
        &at(0),
        "--bed",
        "3",
    ]);
    for (h, rate) in [(0, "2"), (1, "2"), (4, "4"), (5, "4"), (8, "6")] {
        nurse(&["dose", "--mrn", "2001", "--rate", rate, "--at", &at(h)]);
    }

    // Bad input is refused and leaves the record as it was: above the protocol's maximum, a
    // comma for the decimal point, a time tomorrow.
    let tomorrow = rfc(Utc::now() + Duration::days(1));
    for (args, says) in [
        (
            vec!["dose", "--mrn", "2001", "--rate", "140", "--at", &at(9)],
            "140",
        ),
        (
            vec!["dose", "--mrn", "2001", "--rate", "1,5", "--at", &at(9)],
            "1,5",
        ),
        (
            vec!["dose", "--mrn", "2001", "--rate", "6", "--at", &tomorrow],
            "future",
        ),
    ] {
        let before = count.rows();
        let err = r.refused_as("NU", "5678", &args);
        assert!(
            err.contains(says),
            "{args:?} on {}: the refusal does not say {says:?}: {err}",
            r.db
        );
        assert_eq!(count.rows(), before, "{args:?} changed {}", r.db);
    }

    let score = nurse(&["nrs", "--mrn", "2001", "--score", "6", "--at", &at(9)]);
    nurse(&[
        "side-effect",
        "--mrn",
        "2001",
        "--kind",
        "nausea",
        "--severity",
        "mild",
        "--at",
        &at(10),
    ]);
    nurse(&[
        "amend",
        &score.to_string(),
        "--reason",
        "misheard",
        "--score",
        "5",
    ]);
    let twice = nurse(&["dose", "--mrn", "2001", "--rate", "6", "--at", &at(11)]);
    r.ok_as(
        "NU",
        "5678",
        &["void", &twice.to_string(), "--reason", "recorded twice"],
    );
    nurse(&["dose", "--mrn", "2001", "--rate", "6", "--at", &at(12)]);
    doctor(&[
        "course",
        "end",
        "--mrn",
        "2001",
        "--at",
        &at(13),
        "--reason",
        "side-effects",
    ]);
    nurse(&[
        "nrs",
        "--mrn",
        "2001",
        "--score",
        "4",
        "--at",
        &at(14),
        "--timepoint",
        "t1",
    ]);

    // 2002's course runs on.
    nurse(&[
        "nrs",
        "--mrn",
        "2002",
        "--score",
        "7",
        "--at",
        &at(20),
        "--timepoint",
        "t0",
    ]);
    doctor(&[
        "course",
        "start",
        "--mrn",
        "2002",
        "--at",
        &at(22),
        "--bed",
        "5",
    ]);
    nurse(&["dose", "--mrn", "2002", "--rate", "2", "--at", &at(22)]);

    // The reports run on the record.
    let handover = r.ok(&["handover"]);
    assert!(handover.contains("Karel Bos"), "{handover}");
    let letter = r.folder().join("letter.md");
    doctor(&[
        "summary",
        "--mrn",
        "2001",
        "--format",
        "markdown",
        "--out",
        letter.to_str().unwrap(),
    ]);
    let md = std::fs::read_to_string(&letter).unwrap();
    assert!(md.contains("Maria Smit"), "{md}");
    let export = r.folder().join("export");
    doctor(&["export", "--out", export.to_str().unwrap()]);
    let files = std::fs::read_dir(&export).unwrap().count();
    assert_eq!(files, 4, "the export wrote {files} files, not 4");
}

fn json(r: &Rec, args: &[&str]) -> serde_json::Value {
    let out = r.ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

/// The same commands on an SQLite file and on PostgreSQL give the same status of both
/// patients and the same cohort.
#[test]
fn the_same_commands_on_sqlite_and_postgresql_give_the_same_record() {
    let cluster = Cluster::start();
    let url = cluster.create_database("ward");
    assert!(url.contains("?host="), "{url}");
    let pg = Rec::at(url.clone());
    let file = Rec::file();
    // Long enough ago that the whole story lies in the past.
    let start = hours_ago(40);

    // Before init there is no schema; after it, there is.
    let tables = "SELECT COUNT(*) FROM information_schema.tables WHERE table_name IN ('entry', 'audit', 'patient', 'course')";
    assert_eq!(cluster.psql("ward", tables), "0");
    story(&pg, &PgCount(&cluster, "ward"), start);
    assert_eq!(cluster.psql("ward", tables), "4");
    story(&file, &SqliteCount(PathBuf::from(&file.db)), start);

    // Read one after the other within a second: the only times that move are "now".
    for mrn in ["2001", "2002"] {
        let a = json(&file, &["status", "--mrn", mrn, "--json"]);
        let b = json(&pg, &["status", "--mrn", mrn, "--json"]);
        assert_eq!(
            a, b,
            "status of {mrn} differs between SQLite and PostgreSQL"
        );
        assert_eq!(b["mrn"], mrn);
    }
    let a = json(&file, &["cohort", "--json"]);
    let b = json(&pg, &["cohort", "--json"]);
    assert_eq!(a, b, "the cohort differs between SQLite and PostgreSQL");
    let s = json(&pg, &["status", "--mrn", "2001", "--json"]);
    assert_eq!(s["state"], "ended", "{s}");
    assert_eq!(s["side_effects"], 1, "{s}");
    assert_eq!(s["max_rate_mg_h"], 6.0, "{s}");
    assert_eq!(s["nrs_t1"], 4, "{s}");
    // The amended score and the void are in the server's record as such.
    assert_eq!(
        cluster.psql(
            "ward",
            "SELECT COUNT(*) FROM entry WHERE supersedes IS NOT NULL"
        ),
        "1"
    );
    assert_eq!(cluster.psql("ward", "SELECT COUNT(*) FROM void"), "1");
}

/// `check` and `audit verify` on a URL: sound; then someone with the superuser's password
/// plants a trigger on the entry table. `check` says NOT SOUND and names it, and an entry is
/// refused without anything written.
#[test]
fn check_and_audit_verify_on_a_url_and_a_planted_trigger() {
    let cluster = Cluster::start();
    let url = cluster.create_database("ward");
    let r = Rec::at(url);
    assert!(r.init().status.success());
    r.staff("NU", "Nina Udo", "nurse", "5678");
    patient_add(&r, "3001", "Eva Smit");
    r.ok_as(
        "NU",
        "5678",
        &[
            "nrs",
            "--mrn",
            "3001",
            "--score",
            "5",
            "--at",
            &rfc(hours_ago(1)),
        ],
    );

    let check = r.ok(&["check"]);
    assert!(check.contains("sound: the database is intact"), "{check}");
    assert!(!check.contains("NOT SOUND"), "{check}");
    let verify = r.ok(&["audit", "verify"]);
    assert!(verify.contains("sound"), "{verify}");

    cluster.psql(
        "ward",
        "CREATE FUNCTION quietly_keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
         CREATE TRIGGER entry_copied_elsewhere BEFORE INSERT ON entry
             FOR EACH ROW EXECUTE FUNCTION quietly_keep();",
    );
    let count = PgCount(&cluster, "ward");
    let before = count.rows();
    let out = r.run("AB", "1234", &[], &["check"]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        !out.status.success(),
        "check passed a planted trigger: {said}"
    );
    assert!(said.contains("NOT SOUND"), "{said}");
    assert!(said.contains("entry_copied_elsewhere"), "{said}");

    let err = r.refused_as(
        "NU",
        "5678",
        &[
            "nrs",
            "--mrn",
            "3001",
            "--score",
            "4",
            "--at",
            &rfc(hours_ago(0)),
        ],
    );
    assert!(!err.trim().is_empty());
    assert_eq!(
        count.rows(),
        before,
        "an entry was written past a changed schema"
    );
}

/// The ward terminal on PostgreSQL: an `App` on the URL sees another connection's course
/// start once its watch fires (LISTEN/NOTIFY, well before the next tick's poll), and an NRS
/// saved from its form is in the record.
#[test]
fn the_ward_terminal_on_postgresql_follows_another_connection_and_saves_a_form() {
    let cluster = Cluster::start();
    let url = cluster.create_database("ward");
    let r = Rec::at(url.clone());
    assert!(r.init().status.success());
    r.staff("NU", "Nina Udo", "nurse", "5678");
    r.staff("PH", "Piet Hein", "physician", "4321");
    patient_add(&r, "4001", "Lotte Visser");
    patient_add(&r, "4002", "Joost Mulder");
    let start = rfc(hours_ago(3));
    r.ok_as(
        "PH",
        "4321",
        &[
            "course", "start", "--mrn", "4001", "--at", &start, "--bed", "1",
        ],
    );
    r.ok_as(
        "NU",
        "5678",
        &["dose", "--mrn", "4001", "--rate", "2", "--at", &start],
    );

    let cfg = Config::load(Some(Path::new(CONFIG))).unwrap();
    let mut app = App::new(cfg, Db::open(url.as_str()).unwrap(), Utc::now());
    app.update(Msg::Tick(Utc::now()));
    press(&mut app, KeyCode::Esc);
    typ(&mut app, "NU");
    press(&mut app, KeyCode::Enter);
    typ(&mut app, "5678");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Overview, "{:?}", app.creds.error);
    let shown = screen(&app, 120, 40);
    assert!(shown.contains("Lotte Visser"), "{shown}");
    assert!(!shown.contains("Joost Mulder"), "{shown}");

    let watch = app.db.watch().expect("a PostgreSQL terminal has a watch");
    // The listener has connected and told the watch once ("re-read what you missed").
    let t0 = Clock::now();
    while !watch.changed() {
        assert!(
            t0.elapsed() < Wait::from_secs(10),
            "the listener never started"
        );
        std::thread::sleep(Wait::from_millis(5));
    }
    app.update(Msg::Tick(Utc::now()));

    // Another connection (another process) starts Joost's course.
    r.ok_as(
        "PH",
        "4321",
        &[
            "course",
            "start",
            "--mrn",
            "4002",
            "--at",
            &rfc(Utc::now() - Duration::minutes(1)),
            "--bed",
            "2",
        ],
    );
    let t0 = Clock::now();
    while !watch.changed() {
        assert!(
            t0.elapsed() < Wait::from_millis(2000),
            "no notification of the other connection's commit within 2 s"
        );
        std::thread::sleep(Wait::from_millis(2));
    }
    app.update(Msg::Tick(Utc::now()));
    let shown = screen(&app, 120, 40);
    assert!(shown.contains("Joost Mulder"), "{shown}");

    // A form saved in this terminal: an NRS of 4 for Joost.
    let i = app
        .ward
        .active
        .iter()
        .position(|row| row.mrn == "4002")
        .unwrap();
    for _ in 0..10 {
        ch(&mut app, 'k');
    }
    for _ in 0..i {
        ch(&mut app, 'j');
    }
    assert_eq!(app.ward.active[app.selected].mrn, "4002");
    ch(&mut app, 'n');
    assert!(
        app.form.is_some(),
        "no NRS form: {:?}",
        app.message.as_ref().map(|m| &m.text)
    );
    typ(&mut app, "4");
    press(&mut app, KeyCode::Enter);
    assert!(
        app.form.is_none(),
        "the form was not saved: {:?}",
        app.form.as_ref().map(|f| &f.error)
    );
    assert_eq!(
        cluster.psql(
            "ward",
            "SELECT COUNT(*) FROM entry e JOIN patient p ON p.id = e.patient_id
              WHERE p.mrn = '4002' AND e.kind = 'nrs' AND e.score = 4 AND e.recorded_by = 'NU'"
        ),
        "1"
    );
    let verify = r.ok(&["audit", "verify"]);
    assert!(verify.contains("sound"), "{verify}");
}
