//! Helpers for tests that drive the real binary.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{DateTime, Duration, DurationRound, Utc};

pub mod pg;
pub mod tui;

pub struct Ward {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
}

/// `patient add` of a woman born 1975-06-15, 70 kg, CRPS type 1 of the right leg since
/// 2020-02-01: the full set of details, as the course tests add their patient.
pub fn patient_add<'a>(mrn: &'a str, name: &'a str) -> [&'a str; 18] {
    [
        "patient",
        "add",
        "--mrn",
        mrn,
        "--name",
        name,
        "--birth-date",
        "1975-06-15",
        "--sex",
        "female",
        "--weight-kg",
        "70",
        "--crps-type",
        "1",
        "--crps-onset",
        "2020-02-01",
        "--limb",
        "right leg",
    ]
}

pub const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml");

impl Ward {
    /// A new database with admin AB (PIN 1234).
    pub fn new() -> Ward {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ward.db");
        let w = Ward { dir, db };
        let out = w.run_with(
            "AB",
            "1234",
            &[("TITRATE_NEW_PIN", "1234")],
            &["init", "--admin", "AB", "--name", "Anna Boer"],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        w
    }

    pub fn command(&self, user: &str, pin: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_titrate"));
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TITRATE_DB", &self.db)
            .env("TITRATE_CONFIG", CONFIG)
            .env("TITRATE_USER", user)
            .env("TITRATE_PIN", pin)
            .current_dir(self.dir.path());
        c
    }

    pub fn run_with(&self, user: &str, pin: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut c = self.command(user, pin);
        for (k, v) in env {
            c.env(k, v);
        }
        c.args(args).output().unwrap()
    }

    /// Runs as AB; panics unless it succeeds.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run_with("AB", "1234", &[], args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Runs as AB; panics unless it is refused. Returns stderr.
    pub fn refused(&self, args: &[&str]) -> String {
        let out = self.run_with("AB", "1234", &[], args);
        assert!(
            !out.status.success(),
            "{args:?} was accepted: {}",
            text(&out.stdout)
        );
        text(&out.stderr)
    }

    /// The id printed by an entry command: the first number on the first line.
    pub fn entry(&self, args: &[&str]) -> i64 {
        first_number(&self.ok(args))
    }

    pub fn path(&self) -> &Path {
        &self.db
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn first_number(s: &str) -> i64 {
    let line = s.lines().next().unwrap_or_default();
    let digits: String = line
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().unwrap()
}

/// A whole hour well in the past, so that a course and its follow-up fit before now.
pub fn hours_ago(h: i64) -> DateTime<Utc> {
    Utc::now().duration_trunc(Duration::hours(1)).unwrap() - Duration::hours(h)
}

pub fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Every row of every table, for "nothing changed" comparisons.
pub fn dump(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut out = Vec::new();
    for t in [
        "staff",
        "protocol",
        "patient",
        "course",
        "entry",
        "void",
        "audit",
        "audit_head",
        "pseudonym",
        "patient_version",
        "protocol_approval",
        "pseudonym_time",
        "letter_advice",
    ] {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {t} ORDER BY 1"))
            .unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                let mut s = format!("{t}:");
                for i in 0..n {
                    s.push_str(&format!("{:?}|", r.get_ref(i)?));
                }
                Ok(s)
            })
            .unwrap();
        out.extend(rows.map(|r| r.unwrap()));
    }
    out
}
