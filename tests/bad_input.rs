#![allow(clippy::unwrap_used)]
//! A corpus of bad inputs run through the real `titrate` binary.
//!
//! Every case must be refused: a non-zero exit, a message on stderr that says what is wrong
//! (a case-specific fragment), nothing on stdout, and a database left exactly as it was
//! (every row of every table, and the bytes of the file). The one documented exception,
//! tested separately: a failed sign-in or a denied permission adds audit rows (and a failed
//! PIN updates `staff.failed_pins`, and `staff.locked` on the last one) and nothing else.
//!
//! Each group builds its fixture database once with the binary, keeps its bytes, and writes
//! those bytes to a fresh file before every case.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{DateTime, Duration, DurationRound, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_titrate");
const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml");
const TABLES: [&str; 11] = [
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
    "pseudonym_time",
];

// ---------------------------------------------------------------------------------------
// Running the binary

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn show(&self) -> String {
        format!(
            "exit {:?}\n  stdout: {:?}\n  stderr: {:?}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs titrate with a clean environment: PATH, HOME, the database, AB/1234 and
/// `--config` (the shipped file unless `config` is given); `env` overrides (None unsets).
fn titrate(
    db: &Path,
    config: Option<&Path>,
    env: &[(&str, Option<String>)],
    args: &[String],
) -> Out {
    let home = db.parent().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("TITRATE_DB", db)
        .env("TITRATE_USER", "AB")
        .env("TITRATE_PIN", "1234")
        .current_dir(home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.arg("--config").arg(config.unwrap_or(Path::new(CONFIG)));
    cmd.args(args);
    let out = cmd.output().unwrap();
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_string()).collect()
}

/// Runs a command that must succeed; returns its stdout.
fn ok(db: &Path, env: &[(&str, Option<String>)], args: &[&str]) -> String {
    let out = titrate(db, None, env, &strings(args));
    assert_eq!(out.code, Some(0), "setup {args:?} failed: {}", out.show());
    out.stdout
}

/// The id in "entry 12 saved: ..." or "entry 12 voided ...".
fn entry_id(stdout: &str) -> i64 {
    let rest = stdout
        .strip_prefix("entry ")
        .unwrap_or_else(|| panic!("no entry id in {stdout:?}"));
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

fn rfc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn wal_of(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

fn shm_of(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push("-shm");
    PathBuf::from(s)
}

// ---------------------------------------------------------------------------------------
// Logical dump of the database

#[derive(Debug, Clone, PartialEq)]
struct Table {
    cols: Vec<String>,
    rows: Vec<Vec<Value>>,
}

type Dump = BTreeMap<&'static str, Table>;

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
        out.insert(t, Table { cols, rows });
    }
    out
}

fn col(t: &Table, name: &str) -> usize {
    t.cols.iter().position(|c| c == name).unwrap()
}

/// The value of `column` in the staff row of `id`.
fn staff_value(d: &Dump, id: &str, column: &str) -> Value {
    let t = &d["staff"];
    let row = t
        .rows
        .iter()
        .find(|r| r[0] == Value::Text(id.into()))
        .unwrap();
    row[col(t, column)].clone()
}

/// Checks that `after` differs from `before` only as a refused sign-in or permission may
/// make it: audit rows appended (with one of `actions`), the head moved on, and in staff
/// only the columns in `staff_cols`. Returns the problems found.
fn only_audit_changes(
    before: &Dump,
    after: &Dump,
    staff_cols: &[&str],
    actions: &[&str],
) -> Vec<String> {
    let mut problems = Vec::new();
    for t in TABLES {
        if matches!(t, "audit" | "audit_head" | "staff") {
            continue;
        }
        if before[t] != after[t] {
            problems.push(format!("table {t} changed"));
        }
    }
    let (sb, sa) = (&before["staff"], &after["staff"]);
    let masked: Vec<usize> = staff_cols.iter().map(|c| col(sb, c)).collect();
    let mask = |t: &Table| -> Vec<Vec<Value>> {
        t.rows
            .iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        if masked.contains(&i) {
                            Value::Null
                        } else {
                            v.clone()
                        }
                    })
                    .collect()
            })
            .collect()
    };
    if mask(sb) != mask(sa) {
        problems.push(format!(
            "staff changed in columns other than {staff_cols:?}"
        ));
    }
    let (ab, aa) = (&before["audit"], &after["audit"]);
    if aa.rows.len() < ab.rows.len() || aa.rows[..ab.rows.len()] != ab.rows[..] {
        problems.push("existing audit rows changed".into());
    }
    let action = col(aa, "action");
    for r in aa.rows.iter().skip(ab.rows.len()) {
        match &r[action] {
            Value::Text(a) if actions.contains(&a.as_str()) => {}
            other => problems.push(format!("unexpected audit action {other:?}")),
        }
    }
    let head = &after["audit_head"].rows;
    let last = aa.rows.last().unwrap();
    if head.len() != 1 || head[0][1] != last[0] || head[0][2] != last[col(aa, "hash")] {
        problems.push(format!(
            "audit_head {head:?} does not point at the last row"
        ));
    }
    problems
}

// ---------------------------------------------------------------------------------------
// The fixture

/// Times and entry ids of the fixture database; the case lists are built from these.
#[derive(Clone)]
struct Ctx {
    /// now, to the minute
    now: DateTime<Utc>,
    /// start of the active course of MRN 1001 (three days ago, on the hour)
    start: DateTime<Utc>,
    /// end of the ended course of MRN 1002
    end2: DateTime<Utc>,
    /// course-start, first rate, current NRS, its superseded version, a voided NRS and a
    /// side effect of 1001; the course-end of 1002
    e_start: i64,
    e_rate: i64,
    e_nrs: i64,
    e_superseded: i64,
    e_voided: i64,
    e_se: i64,
    e_end2: i64,
}

impl Ctx {
    /// Only for counting the corpus without building a database.
    fn dummy() -> Ctx {
        let now = Utc::now();
        Ctx {
            now,
            start: now,
            end2: now,
            e_start: 1,
            e_rate: 2,
            e_nrs: 3,
            e_superseded: 4,
            e_voided: 5,
            e_se: 6,
            e_end2: 7,
        }
    }

    fn ago_h(&self, h: i64) -> String {
        rfc(self.now - Duration::hours(h))
    }
    fn in_h(&self, h: i64) -> String {
        rfc(self.now + Duration::hours(h))
    }
}

struct Fixture {
    dir: TempDir,
    ctx: Ctx,
    pristine: Vec<u8>,
    pristine_dump: Dump,
}

impl Fixture {
    fn build() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("fixture.db");
        let now = Utc::now().duration_trunc(Duration::minutes(1)).unwrap();
        let start = now.duration_trunc(Duration::hours(1)).unwrap() - Duration::days(3);
        let start2 = start - Duration::days(17);
        let end2 = start2 + Duration::days(7);
        let new_pin = |p: &str| vec![("TITRATE_NEW_PIN", Some(p.to_string()))];
        let h = |n: i64| rfc(start + Duration::hours(n));

        ok(
            &db,
            &new_pin("1234"),
            &["init", "--admin", "AB", "--name", "Anna"],
        );
        ok(
            &db,
            &new_pin("5678"),
            &[
                "staff", "add", "--id", "NU", "--name", "Nurse", "--role", "nurse",
            ],
        );
        ok(
            &db,
            &[],
            &[
                "patient",
                "add",
                "--mrn",
                "1001",
                "--name",
                "Jan Jansen",
                "--birth-date",
                "1970-05-01",
                "--sex",
                "male",
                "--weight-kg",
                "70",
                "--crps-type",
                "1",
            ],
        );
        ok(
            &db,
            &[],
            &[
                "nrs",
                "--mrn",
                "1001",
                "--score",
                "8",
                "--at",
                &h(-1),
                "--timepoint",
                "t0",
            ],
        );
        let e_start = entry_id(&ok(
            &db,
            &[],
            &[
                "course",
                "start",
                "--mrn",
                "1001",
                "--at",
                &h(0),
                "--bed",
                "3",
            ],
        ));
        let e_rate = entry_id(&ok(
            &db,
            &[],
            &["dose", "--mrn", "1001", "--rate", "2", "--at", &h(0)],
        ));
        let e_superseded = entry_id(&ok(
            &db,
            &[],
            &["nrs", "--mrn", "1001", "--score", "6", "--at", &h(2)],
        ));
        let e_nrs = entry_id(&ok(
            &db,
            &[],
            &[
                "amend",
                &e_superseded.to_string(),
                "--reason",
                "typo",
                "--score",
                "5",
            ],
        ));
        let e_se = entry_id(&ok(
            &db,
            &[],
            &[
                "side-effect",
                "--mrn",
                "1001",
                "--kind",
                "nausea",
                "--severity",
                "mild",
                "--at",
                &h(3),
            ],
        ));
        let e_voided = entry_id(&ok(
            &db,
            &[],
            &["nrs", "--mrn", "1001", "--score", "4", "--at", &h(5)],
        ));
        ok(
            &db,
            &[],
            &["void", &e_voided.to_string(), "--reason", "wrong patient"],
        );
        ok(
            &db,
            &[],
            &[
                "patient",
                "add",
                "--mrn",
                "1002",
                "--name",
                "Piet Pietersen",
                "--birth-date",
                "1960-01-01",
                "--sex",
                "female",
            ],
        );
        ok(
            &db,
            &[],
            &["course", "start", "--mrn", "1002", "--at", &rfc(start2)],
        );
        ok(
            &db,
            &[],
            &["dose", "--mrn", "1002", "--rate", "2", "--at", &rfc(start2)],
        );
        let e_end2 = entry_id(&ok(
            &db,
            &[],
            &["course", "end", "--mrn", "1002", "--at", &rfc(end2)],
        ));

        // The binary closes cleanly: the WAL is checkpointed and removed.
        assert!(!wal_of(&db).exists(), "a -wal file remained after setup");
        let pristine = fs::read(&db).unwrap();
        let pristine_dump = dump(&db);
        assert_eq!(fs::read(&db).unwrap(), pristine, "reading changed the file");
        assert_eq!(pristine_dump["patient"].rows.len(), 2);
        assert_eq!(pristine_dump["course"].rows.len(), 2);
        assert_eq!(pristine_dump["void"].rows.len(), 1);
        Fixture {
            dir,
            ctx: Ctx {
                now,
                start,
                end2,
                e_start,
                e_rate,
                e_nrs,
                e_superseded,
                e_voided,
                e_se,
                e_end2,
            },
            pristine,
            pristine_dump,
        }
    }

    /// A fresh copy of the fixture database, named `name`.
    fn fresh(&self, name: &str) -> PathBuf {
        let db = self.dir.path().join(name);
        for p in [wal_of(&db), shm_of(&db)] {
            if p.exists() {
                fs::remove_file(p).unwrap();
            }
        }
        fs::write(&db, &self.pristine).unwrap();
        db
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

// ---------------------------------------------------------------------------------------
// Cases

struct Case {
    name: String,
    args: Vec<String>,
    expect: Vec<String>,
    env: Vec<(&'static str, Option<String>)>,
    config: Option<PathBuf>,
}

fn case(name: &str, args: &[&str], expect: &str) -> Case {
    Case {
        name: name.to_string(),
        args: strings(args),
        expect: vec![expect.to_string()],
        env: Vec::new(),
        config: None,
    }
}

impl Case {
    /// One more fragment stderr must contain.
    fn and(mut self, fragment: &str) -> Case {
        self.expect.push(fragment.to_string());
        self
    }
    fn env(mut self, k: &'static str, v: &str) -> Case {
        self.env.push((k, Some(v.to_string())));
        self
    }
    fn unset(mut self, k: &'static str) -> Case {
        self.env.push((k, None));
        self
    }
    fn config(mut self, p: PathBuf) -> Case {
        self.config = Some(p);
        self
    }
}

/// Runs one refused case on a fresh copy; returns what was wrong, if anything.
fn check(fx: &Fixture, c: &Case) -> Option<String> {
    let db = fx.fresh("case.db");
    let out = titrate(&db, c.config.as_deref(), &c.env, &c.args);
    let mut problems = Vec::new();
    match out.code {
        Some(1 | 2) => {}
        Some(0) => problems.push("exit status 0: the input was accepted".to_string()),
        other => problems.push(format!("exit status {other:?} (1 or 2 expected)")),
    }
    if out.stderr.contains("panicked") {
        problems.push("panic".into());
    }
    for f in &c.expect {
        if !out.stderr.contains(f.as_str()) {
            problems.push(format!("stderr lacks {f:?}"));
        }
    }
    if !out.stdout.trim().is_empty() {
        problems.push("something on stdout".into());
    }
    if out
        .stderr
        .chars()
        .any(|ch| ch.is_control() && ch != '\n' && ch != '\t')
    {
        problems.push("stderr echoes a control character (terminal escape)".into());
    }
    if wal_of(&db).exists() && fs::metadata(wal_of(&db)).unwrap().len() > 0 {
        problems.push("a non-empty -wal file remained".into());
    }
    let bytes_changed = fs::read(&db).unwrap() != fx.pristine;
    let after = dump(&db);
    for t in TABLES {
        if after[t] != fx.pristine_dump[t] {
            problems.push(format!("table {t} changed"));
        }
    }
    if bytes_changed {
        problems.push("the bytes of the .db file changed".into());
    }
    if problems.is_empty() {
        None
    } else {
        Some(format!(
            "[{}] titrate {:?} (env {:?}):\n  {}\n  {}",
            c.name,
            c.args,
            c.env,
            problems.join("; "),
            out.show()
        ))
    }
}

/// Runs every case; panics listing all failures.
fn run_corpus(fx: &Fixture, cases: &[Case]) {
    let failures: Vec<String> = cases.iter().filter_map(|c| check(fx, c)).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

fn s(x: i64) -> String {
    x.to_string()
}

const MAX: &str = "above the protocol maximum of 14 mg/h";
const NOT_A_RATE: &str = "is not a rate: write the rate in mg/h as a plain number";
const NRS: &str = "is not an NRS pain score: give a whole number from 0 to 10";
const NOT_A_TIME: &str = "is not a time: write a time like 14:05 or 2026-03-01 14:05";
const FUTURE: &str = "minutes in the future";
const UNKNOWN_MRN: &str = "no patient with MRN 9999";
const NOT_AN_ID: &str = "is not an entry id";

fn rate_cases(x: &Ctx) -> Vec<Case> {
    let at = x.ago_h(1);
    let dose = |rate: &str| -> Vec<String> {
        strings(&["dose", "--mrn", "1001", "--rate", rate, "--at", &at])
    };
    let mut out: Vec<Case> = [
        ("1,5", "uses a comma: write the rate with a decimal point"),
        ("2,0", "uses a comma"),
        ("140", MAX),
        ("-1", "is negative: a rate is 0 (paused) or more mg/h"),
        ("-0.5", "is negative"),
        ("NaN", NOT_A_RATE),
        ("nan", NOT_A_RATE),
        ("inf", NOT_A_RATE),
        ("-inf", "\"-inf\""),
        ("Infinity", NOT_A_RATE),
        ("1e308", NOT_A_RATE),
        ("1e1", NOT_A_RATE),
        (
            "14.0001",
            "has more than 2 decimals: pumps are set in steps of 0.01 mg/h",
        ),
        ("1.234", "has more than 2 decimals"),
        (
            "14.01",
            "rate 14.01 mg/h is above the protocol maximum of 14 mg/h",
        ),
        (
            "15",
            "rate 15 mg/h is above the protocol maximum of 14 mg/h",
        ),
        ("50.01", MAX),
        ("99999999999999999999", "is far above any protocol maximum"),
        ("", "no rate given: write the rate in mg/h"),
        ("   ", "no rate given"),
        ("abc", NOT_A_RATE),
        ("0x10", NOT_A_RATE),
        ("4 mg/h", NOT_A_RATE),
        ("4mg", NOT_A_RATE),
        ("1.5.1", NOT_A_RATE),
        ("1 5", NOT_A_RATE),
        (".", NOT_A_RATE),
        ("\u{ff11}", NOT_A_RATE), // fullwidth digit one
        ("--1", NOT_A_RATE),
    ]
    .iter()
    .map(|(rate, expect)| Case {
        args: dose(rate),
        ..case(&format!("rate {rate:?}"), &[], expect)
    })
    .collect();
    out.extend([
        case(
            "step 2 -> 8 without --confirm",
            &["dose", "--mrn", "1001", "--rate", "8", "--at", &at],
            "a step up of 6 mg/h is larger than the protocol increment of 2 mg/h",
        )
        .and("--confirm --reason"),
        case(
            "--confirm without --reason",
            &[
                "dose",
                "--mrn",
                "1001",
                "--rate",
                "8",
                "--at",
                &at,
                "--confirm",
            ],
            "--confirm needs --reason",
        ),
        case(
            "--reason without --confirm",
            &[
                "dose", "--mrn", "1001", "--rate", "4", "--at", &at, "--reason", "pain",
            ],
            "--reason is only given with --confirm",
        ),
        case(
            "--confirm with an empty reason",
            &[
                "dose",
                "--mrn",
                "1001",
                "--rate",
                "8",
                "--at",
                &at,
                "--confirm",
                "--reason",
                "",
            ],
            "reason is empty",
        ),
        case(
            "--confirm with a blank reason",
            &[
                "dose",
                "--mrn",
                "1001",
                "--rate",
                "8",
                "--at",
                &at,
                "--confirm",
                "--reason",
                "   ",
            ],
            "reason is empty",
        ),
        case(
            "--confirm with an escape in the reason",
            &[
                "dose",
                "--mrn",
                "1001",
                "--rate",
                "8",
                "--at",
                &at,
                "--confirm",
                "--reason",
                "ok\u{1b}[2J",
            ],
            "reason contains a control character",
        ),
        case(
            "hard maximum cannot be confirmed away",
            &[
                "dose",
                "--mrn",
                "1001",
                "--rate",
                "14.01",
                "--at",
                &at,
                "--confirm",
                "--reason",
                "physician order",
            ],
            MAX,
        ),
        case(
            "140 confirmed is still above the maximum",
            &[
                "dose",
                "--mrn",
                "1001",
                "--rate",
                "140",
                "--at",
                &at,
                "--confirm",
                "--reason",
                "physician order",
            ],
            MAX,
        ),
        case(
            "dose on the ended course of 1002",
            &["dose", "--mrn", "1002", "--rate", "2", "--at", &at],
            "rates can no longer be added",
        ),
        case(
            "dose for an unknown MRN",
            &["dose", "--mrn", "9999", "--rate", "2", "--at", &at],
            UNKNOWN_MRN,
        ),
        case(
            "dose for an empty MRN",
            &["dose", "--mrn", "", "--rate", "2", "--at", &at],
            "MRN",
        ),
        case(
            "dose for an MRN with SQL",
            &[
                "dose",
                "--mrn",
                "1'; DROP TABLE entry;--",
                "--rate",
                "2",
                "--at",
                &at,
            ],
            "1'; DROP TABLE entry;--",
        ),
        case(
            "dose for an MRN with a terminal escape",
            &[
                "dose",
                "--mrn",
                "10\u{1b}[31m01",
                "--rate",
                "2",
                "--at",
                &at,
            ],
            "MRN",
        ),
    ]);
    out
}

fn score_and_time_cases(x: &Ctx) -> Vec<Case> {
    let at = x.ago_h(1);
    let mut out: Vec<Case> = [
        "11",
        "7.5",
        "",
        "-1",
        "ten",
        "1e1",
        "10.0",
        "0x5",
        "   ",
        "3,5",
        "100",
        "5/10",
        "99999999999999999999",
        "\u{0665}", // Arabic-Indic five
    ]
    .iter()
    .map(|score| Case {
        args: strings(&["nrs", "--mrn", "1001", "--score", score, "--at", &at]),
        ..case(&format!("NRS {score:?}"), &[], NRS)
    })
    .collect();
    out.push(case(
        "NRS timepoint t3",
        &[
            "nrs",
            "--mrn",
            "1001",
            "--score",
            "5",
            "--at",
            &at,
            "--timepoint",
            "t3",
        ],
        "\"t3\" is not a valid timepoint",
    ));
    out.push(case(
        "NRS for an unknown MRN",
        &["nrs", "--mrn", "9999", "--score", "5", "--at", &at],
        UNKNOWN_MRN,
    ));
    out.push(case(
        "NRS before the patient was born",
        &[
            "nrs",
            "--mrn",
            "1001",
            "--score",
            "5",
            "--at",
            "1960-01-01 08:00",
        ],
        "before the patient's birth date",
    ));
    out.push(case(
        "NRS labelled t0 three days into the infusion",
        &[
            "nrs",
            "--mrn",
            "1001",
            "--score",
            "5",
            "--at",
            &at,
            "--timepoint",
            "t0",
        ],
        "t0",
    ));
    out.push(case(
        "NRS labelled t2 during a running course",
        &[
            "nrs",
            "--mrn",
            "1001",
            "--score",
            "5",
            "--at",
            &at,
            "--timepoint",
            "t2",
        ],
        "t2",
    ));

    let future_rfc = x.in_h(1);
    let future_local = (x.now + Duration::hours(1))
        .with_timezone(&chrono_tz::Europe::Amsterdam)
        .format("%Y-%m-%d %H:%M")
        .to_string();
    let before_start = rfc(x.start - Duration::hours(1));
    let times: Vec<(&str, &str, &str)> = vec![
        (
            "2026-02-30 08:00",
            "\"2026-02-30\" is not a date on the calendar",
            "Feb 30",
        ),
        (
            "2026-13-01 08:00",
            "is not a date on the calendar",
            "month 13",
        ),
        ("tomorrow", NOT_A_TIME, "tomorrow"),
        ("25:00", NOT_A_TIME, "25:00"),
        ("2026-11-20 25:00", NOT_A_TIME, "hour 25"),
        ("2026-11-20 08:61", NOT_A_TIME, "minute 61"),
        ("", NOT_A_TIME, "empty"),
        ("1764000000", NOT_A_TIME, "epoch seconds"),
        ("20-11-2026 08:00", NOT_A_TIME, "day first"),
        ("2026-11-20T08:00:00+25:00", NOT_A_TIME, "offset +25:00"),
        ("now", NOT_A_TIME, "now"),
        (&future_rfc, FUTURE, "1 h in the future (RFC 3339)"),
        (&future_local, FUTURE, "1 h in the future (local)"),
        (
            "2026-10-25 02:30",
            "2026-10-25 02:30 happened twice in Europe/Amsterdam",
            "DST ambiguous",
        ),
        (
            "2026-03-29 02:30",
            "2026-03-29 02:30 does not exist in Europe/Amsterdam",
            "DST skipped",
        ),
    ];
    for (t, expect, what) in &times {
        out.push(Case {
            args: strings(&["dose", "--mrn", "1001", "--rate", "2", "--at", t]),
            ..case(&format!("dose at {what}"), &[], expect)
        });
        out.push(Case {
            args: strings(&[
                "side-effect",
                "--mrn",
                "1001",
                "--kind",
                "nausea",
                "--severity",
                "mild",
                "--at",
                t,
            ]),
            ..case(&format!("side effect at {what}"), &[], expect)
        });
    }
    for (t, expect, what) in times.iter().skip(11) {
        out.push(Case {
            args: strings(&["nrs", "--mrn", "1001", "--score", "5", "--at", t]),
            ..case(&format!("NRS at {what}"), &[], expect)
        });
    }
    out.extend([
        case(
            "dose before the course start",
            &[
                "dose",
                "--mrn",
                "1001",
                "--rate",
                "2",
                "--at",
                &before_start,
            ],
            "is before the course started",
        ),
        case(
            "side effect before the course start",
            &[
                "side-effect",
                "--mrn",
                "1001",
                "--kind",
                "nausea",
                "--severity",
                "mild",
                "--at",
                &before_start,
            ],
            "is before the course started",
        ),
        case(
            "side effect after the end of the course of 1002",
            &[
                "side-effect",
                "--mrn",
                "1002",
                "--kind",
                "nausea",
                "--severity",
                "mild",
                "--at",
                &at,
            ],
            "is after the course ended",
        ),
    ]);
    out
}

/// Each patient detail given wrong: (case, option, value, what stderr says). Used for a new
/// patient and for a correction alike, which share one parser.
fn patient_field_table(x: &Ctx) -> Vec<(&'static str, &'static str, String, &'static str)> {
    let tomorrow = (x.now + Duration::days(2)).format("%Y-%m-%d").to_string();
    let long = "x".repeat(10_000);
    let table: Vec<(&str, &str, &str, &str)> = vec![
        (
            "duplicate MRN",
            "--mrn",
            "1001",
            "MRN 1001 already belongs to another patient",
        ),
        (
            "duplicate MRN with spaces around",
            "--mrn",
            " 1001 ",
            "already belongs to another patient",
        ),
        (
            "MRN with a space",
            "--mrn",
            "10 01",
            "MRN \"10 01\" is not valid: use 1 to 32 letters, digits or '-'",
        ),
        (
            "MRN with SQL",
            "--mrn",
            "1'; DROP TABLE entry;--",
            "is not valid: use 1 to 32 letters, digits or '-'",
        ),
        (
            "empty MRN",
            "--mrn",
            "",
            "is not valid: use 1 to 32 letters",
        ),
        (
            "MRN of 33 characters",
            "--mrn",
            "123456789012345678901234567890123",
            "is not valid: use 1 to 32",
        ),
        (
            "MRN with an escape",
            "--mrn",
            "20\u{1b}[31m01",
            "is not valid: use 1 to 32",
        ),
        (
            "MRN with a slash",
            "--mrn",
            "2001/2",
            "is not valid: use 1 to 32",
        ),
        (
            "birth date 2026-02-30",
            "--birth-date",
            "2026-02-30",
            "\"2026-02-30\" is not a date on the calendar",
        ),
        (
            "birth date in the future",
            "--birth-date",
            &tomorrow,
            "is not plausible",
        ),
        (
            "birth date with slashes",
            "--birth-date",
            "1980/04/23",
            "is not a date: write YYYY-MM-DD",
        ),
        (
            "birth date day first",
            "--birth-date",
            "23-04-1980",
            "is not a date: write YYYY-MM-DD",
        ),
        (
            "empty birth date",
            "--birth-date",
            "",
            "is not a date: write YYYY-MM-DD",
        ),
        ("sex x", "--sex", "x", "\"x\" is not a valid sex"),
        ("empty sex", "--sex", "", "is not a valid sex"),
        ("sex with SQL", "--sex", "male'); --", "is not a valid sex"),
        (
            "weight abc",
            "--weight-kg",
            "abc",
            "weight \"abc\" is not valid: give kilograms from 20 to 400",
        ),
        ("weight 0", "--weight-kg", "0", "weight \"0\" is not valid"),
        (
            "weight 1000",
            "--weight-kg",
            "1000",
            "weight \"1000\" is not valid",
        ),
        (
            "weight NaN",
            "--weight-kg",
            "NaN",
            "weight \"NaN\" is not valid",
        ),
        (
            "weight inf",
            "--weight-kg",
            "inf",
            "weight \"inf\" is not valid",
        ),
        (
            "weight 19.9",
            "--weight-kg",
            "19.9",
            "weight \"19.9\" is not valid",
        ),
        (
            "weight 400.1",
            "--weight-kg",
            "400.1",
            "weight \"400.1\" is not valid",
        ),
        (
            "weight 70,5",
            "--weight-kg",
            "70,5",
            "weight \"70,5\" is not valid",
        ),
        (
            "weight empty",
            "--weight-kg",
            "",
            "is not valid: give kilograms",
        ),
        ("CRPS type 3", "--crps-type", "3", "\"3\" is not a valid"),
        ("CRPS type I", "--crps-type", "I", "\"I\" is not a valid"),
        ("CRPS type 0", "--crps-type", "0", "\"0\" is not a valid"),
        (
            "CRPS onset before birth",
            "--crps-onset",
            "1970-01-01",
            "the CRPS onset cannot be before the birth date",
        ),
        (
            "CRPS onset in the future",
            "--crps-onset",
            &tomorrow,
            "cannot be in the future",
        ),
        (
            "CRPS onset 2026-02-30",
            "--crps-onset",
            "2026-02-30",
            "is not a date on the calendar",
        ),
        (
            "name with an ANSI escape",
            "--name",
            "\u{1b}[31mJan",
            "name contains a control character",
        ),
        (
            "name with a newline",
            "--name",
            "Jan\nJansen",
            "name contains a control character",
        ),
        (
            "name with DEL",
            "--name",
            "Jan\u{7f}",
            "name contains a control character",
        ),
        (
            "name with a C1 CSI",
            "--name",
            "Jan\u{9b}31m",
            "name contains a control character",
        ),
        (
            "name of 10,000 characters",
            "--name",
            &long,
            "name is 10000 characters long; at most 100 are allowed",
        ),
        ("empty name", "--name", "", "name is empty"),
        ("blank name", "--name", "   ", "name is empty"),
        (
            "limb of 10,000 characters",
            "--limb",
            &long,
            "limb is 10000 characters long; at most 100",
        ),
        (
            "limb with an escape",
            "--limb",
            "left\u{1b}]0;x\u{7}",
            "limb contains a control character",
        ),
    ];
    table
        .into_iter()
        .map(|(n, k, v, e)| (n, k, v.to_string(), e))
        .collect()
}

fn patient_cases(x: &Ctx) -> Vec<Case> {
    let base = [
        ("--mrn", "2001"),
        ("--name", "Els de Vries"),
        ("--birth-date", "1980-04-23"),
        ("--sex", "female"),
    ];
    // patient add with one option replaced (or added)
    let add = |key: &str, value: &str| -> Vec<String> {
        let mut a = strings(&["patient", "add"]);
        let mut replaced = false;
        for (k, v) in base {
            a.push(k.to_string());
            if k == key {
                a.push(value.to_string());
                replaced = true;
            } else {
                a.push(v.to_string());
            }
        }
        if !replaced {
            a.push(key.to_string());
            a.push(value.to_string());
        }
        a
    };
    let table = patient_field_table(x);
    let mut out: Vec<Case> = table
        .iter()
        .map(|(name, k, v, expect)| Case {
            args: add(k, v),
            ..case(&format!("patient add: {name}"), &[], expect)
        })
        .collect();
    out.push(case(
        "patient add: name with a right-to-left override",
        &[],
        "name contains",
    ));
    out.last_mut().unwrap().args = add("--name", "Jan \u{202e}nesnaJ");
    out.push(Case {
        args: [add("--sex", "female"), strings(&["--weight-kg=-70"])].concat(),
        ..case(
            "patient add: weight=-70",
            &[],
            "weight \"-70\" is not valid",
        )
    });
    out.push(Case {
        args: add("--weight-kg", "-70"),
        ..case(
            "patient add: weight -70",
            &[],
            "weight \"-70\" is not valid",
        )
    });
    for (birth, what) in [("0001-01-01", "year 1"), ("1800-01-01", "1800")] {
        out.push(Case {
            args: add("--birth-date", birth),
            ..case(
                &format!("patient add: birth date {what}"),
                &[],
                "birth date",
            )
        });
    }
    out
}

/// `patient amend` refuses what `patient add` refuses, and a correction that is not one.
fn patient_amend_cases(x: &Ctx) -> Vec<Case> {
    let amend = |extra: &[&str]| -> Vec<String> {
        let mut a = strings(&["patient", "amend", "--mrn", "1001", "--reason", "typo"]);
        a.extend(strings(extra));
        a
    };
    let mut out: Vec<Case> = patient_field_table(x)
        .into_iter()
        .map(|(name, k, v, expect)| {
            let (k, v, expect) = match (k, v.trim()) {
                // Its own MRN is no change; another patient's is the duplicate.
                ("--mrn", "1001") => (
                    "--new-mrn",
                    "1002".to_string(),
                    "MRN 1002 already belongs to another patient",
                ),
                ("--mrn", _) => ("--new-mrn", v, expect),
                _ => (k, v, expect),
            };
            Case {
                args: amend(&[k, &v]),
                ..case(&format!("patient amend: {name}"), &[], expect)
            }
        })
        .collect();
    out.push(Case {
        args: amend(&["--weight-kg=-70"]),
        ..case(
            "patient amend: weight=-70",
            &[],
            "weight \"-70\" is not valid",
        )
    });
    let with_reason = |reason: &str, extra: &[&str]| -> Vec<String> {
        let mut a = strings(&["patient", "amend", "--mrn", "1001", "--reason", reason]);
        a.extend(strings(extra));
        a
    };
    for (name, args, expect) in [
        (
            "no field",
            amend(&[]),
            "nothing to correct: give the corrected detail",
        ),
        (
            "the weight it has",
            amend(&["--weight-kg", "70.0"]),
            "the correction changes nothing: MRN 1001 already holds these details",
        ),
        (
            "the name it has",
            amend(&["--name", " Jan Jansen "]),
            "changes nothing",
        ),
        (
            "one good field and one bad",
            amend(&["--weight-kg", "80", "--sex", "x"]),
            "\"x\" is not a valid sex",
        ),
        (
            "empty reason",
            with_reason("  ", &["--weight-kg", "80"]),
            "reason is empty",
        ),
        (
            "reason with an escape",
            with_reason("typo\u{1b}[2J", &["--weight-kg", "80"]),
            "reason contains a control character",
        ),
        (
            "reason of 10,000 characters",
            with_reason(&"x".repeat(10_000), &["--weight-kg", "80"]),
            "at most 500",
        ),
        (
            "unknown MRN",
            strings(&[
                "patient",
                "amend",
                "--mrn",
                "9999",
                "--reason",
                "typo",
                "--weight-kg",
                "80",
            ]),
            "no patient with MRN 9999",
        ),
    ] {
        out.push(Case {
            args,
            ..case(&format!("patient amend: {name}"), &[], expect)
        });
    }
    out
}

fn course_cases(x: &Ctx) -> Vec<Case> {
    let bidi = vec![case(
        "side effect: detail with a right-to-left override",
        &[
            "side-effect",
            "--mrn",
            "1001",
            "--kind",
            "other",
            "--severity",
            "mild",
            "--detail",
            "itch \u{202e}gnorw",
            "--at",
            &x.ago_h(1),
        ],
        "detail contains",
    )];
    let at = x.ago_h(1);
    let before_start = rfc(x.start - Duration::hours(1));
    let during2 = rfc(x.end2 - Duration::days(1));
    let se = |kind: &str, severity: &str, extra: &[&str]| -> Vec<String> {
        let mut a = strings(&[
            "side-effect",
            "--mrn",
            "1001",
            "--kind",
            kind,
            "--severity",
            severity,
            "--at",
            &at,
        ]);
        a.extend(strings(extra));
        a
    };
    let success = |tp: &str, value: &str| -> Vec<String> {
        strings(&[
            "success",
            "--mrn",
            "1001",
            "--timepoint",
            tp,
            "--value",
            value,
            "--at",
            &at,
        ])
    };
    let long = "y".repeat(501);
    let mut out = vec![
        case(
            "second course start for 1001",
            &["course", "start", "--mrn", "1001", "--at", &at],
            "the patient already has an active course",
        ),
        case(
            "course start for 1002 inside its ended course",
            &["course", "start", "--mrn", "1002", "--at", &during2],
            "before the previous course ended",
        ),
        case(
            "course start for 1002 in the future",
            &["course", "start", "--mrn", "1002", "--at", &x.in_h(1)],
            FUTURE,
        ),
        case(
            "course start for an unknown MRN",
            &["course", "start", "--mrn", "9999", "--at", &at],
            UNKNOWN_MRN,
        ),
        case(
            "course start with a bed of 10,000 characters",
            &[
                "course",
                "start",
                "--mrn",
                "1002",
                "--at",
                &at,
                "--bed",
                &"b".repeat(10_000),
            ],
            "bed is 10000 characters long; at most 8",
        ),
        case(
            "course start with an escape in the bed",
            &[
                "course",
                "start",
                "--mrn",
                "1002",
                "--at",
                &at,
                "--bed",
                "3\u{1b}[1A",
            ],
            "bed contains a control character",
        ),
        case(
            "course end before the start",
            &["course", "end", "--mrn", "1001", "--at", &before_start],
            "before",
        ),
        case(
            "course end of an ended course",
            &["course", "end", "--mrn", "1002", "--at", &at],
            "the course already ended at",
        ),
        case(
            "course end with reason bored",
            &[
                "course", "end", "--mrn", "1001", "--at", &at, "--reason", "bored",
            ],
            "\"bored\" is not a valid",
        ),
        case(
            "course end in the future",
            &["course", "end", "--mrn", "1001", "--at", &x.in_h(2)],
            FUTURE,
        ),
        case(
            "course end for an unknown MRN",
            &["course", "end", "--mrn", "9999", "--at", &at],
            UNKNOWN_MRN,
        ),
        case(
            "course end at a nonexistent local time",
            &["course", "end", "--mrn", "1001", "--at", "2026-03-29 02:30"],
            "does not exist in Europe/Amsterdam",
        ),
    ];
    let effects: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "kind sleepy",
            se("sleepy", "mild", &[]),
            "side effect \"sleepy\" is not in the ward's list",
        ),
        (
            "empty kind",
            se("", "mild", &[]),
            "is not in the ward's list",
        ),
        (
            "kind with SQL",
            se("nausea'; DELETE FROM entry; --", "mild", &[]),
            "is not in the ward's list",
        ),
        (
            "kind other without detail",
            se("other", "mild", &[]),
            "side effect \"other\" needs a description",
        ),
        (
            "kind other with an empty detail",
            se("other", "mild", &["--detail", ""]),
            "detail is empty",
        ),
        (
            "kind other with a blank detail",
            se("other", "mild", &["--detail", "  "]),
            "detail is empty",
        ),
        (
            "detail of 501 characters",
            se("other", "mild", &["--detail", &long]),
            "detail is 501 characters long; at most 500",
        ),
        (
            "detail with an escape",
            se("other", "mild", &["--detail", "itch\u{1b}[0m"]),
            "detail contains a control character",
        ),
        (
            "severity extreme",
            se("nausea", "extreme", &[]),
            "\"extreme\" is not a valid severity",
        ),
        (
            "empty severity",
            se("nausea", "", &[]),
            "is not a valid severity",
        ),
        (
            "action panic",
            se("nausea", "mild", &["--action", "panic"]),
            "\"panic\" is not a valid action",
        ),
        (
            "empty action",
            se("nausea", "mild", &["--action", ""]),
            "is not a valid action",
        ),
    ];
    for (name, args, expect) in effects {
        out.push(Case {
            args,
            ..case(&format!("side effect: {name}"), &[], expect)
        });
    }
    out.push(case(
        "side effect for an unknown MRN",
        &[
            "side-effect",
            "--mrn",
            "9999",
            "--kind",
            "nausea",
            "--severity",
            "mild",
            "--at",
            &at,
        ],
        UNKNOWN_MRN,
    ));
    let succ: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "timepoint t0",
            success("t0", "yes"),
            "a success report is given at t1 or t2, not t0",
        ),
        (
            "timepoint t3",
            success("t3", "yes"),
            "\"t3\" is not a valid timepoint",
        ),
        (
            "value maybe",
            success("t1", "maybe"),
            "\"maybe\" is not a valid",
        ),
        ("empty value", success("t1", ""), "is not a valid"),
        ("value 1", success("t1", "1"), "\"1\" is not a valid"),
    ];
    for (name, args, expect) in succ {
        out.push(Case {
            args,
            ..case(&format!("success: {name}"), &[], expect)
        });
    }
    out.push(case(
        "success for an unknown MRN",
        &[
            "success",
            "--mrn",
            "9999",
            "--timepoint",
            "t1",
            "--value",
            "yes",
            "--at",
            &at,
        ],
        UNKNOWN_MRN,
    ));
    out.extend(bidi);
    out.push(case(
        "success in the future",
        &[
            "success",
            "--mrn",
            "1001",
            "--timepoint",
            "t1",
            "--value",
            "yes",
            "--at",
            &x.in_h(1),
        ],
        FUTURE,
    ));
    out
}

fn amend_void_cases(x: &Ctx) -> Vec<Case> {
    let amend = |id: i64, extra: &[&str]| -> Vec<String> {
        let mut a = strings(&["amend", &s(id), "--reason", "correction"]);
        a.extend(strings(extra));
        a
    };
    let void =
        |id: &str, reason: &str| -> Vec<String> { strings(&["void", id, "--reason", reason]) };
    let mut table: Vec<(String, Vec<String>, String)> = vec![
        (
            "amend a nonexistent entry".into(),
            amend(99_999, &["--rate", "3"]),
            "no entry 99999".into(),
        ),
        (
            "amend --confirm without --confirm-reason".into(),
            amend(x.e_rate, &["--rate", "3", "--confirm"]),
            "--confirm needs --confirm-reason".into(),
        ),
        (
            "amend --confirm-reason without --confirm".into(),
            amend(x.e_rate, &["--rate", "3", "--confirm-reason", "x"]),
            "--confirm-reason is only given with --confirm".into(),
        ),
        (
            "amend --confirm with a blank confirm reason".into(),
            amend(
                x.e_rate,
                &["--rate", "3", "--confirm", "--confirm-reason", "  "],
            ),
            "confirm reason".into(),
        ),
        (
            "amend with no field".into(),
            amend(x.e_rate, &[]),
            "nothing to amend".into(),
        ),
        (
            "amend with only --confirm".into(),
            amend(x.e_rate, &["--confirm", "--confirm-reason", "x"]),
            "nothing to amend".into(),
        ),
        (
            "amend --score on a rate entry".into(),
            amend(x.e_rate, &["--score", "3"]),
            "does not apply to a rate entry".into(),
        ),
        (
            "amend --rate on an NRS entry".into(),
            amend(x.e_nrs, &["--rate", "3"]),
            "does not apply to a".into(),
        ),
        (
            "amend --kind on a rate entry".into(),
            amend(x.e_rate, &["--kind", "nausea"]),
            "does not apply to a rate entry".into(),
        ),
        (
            "amend --value on an NRS entry".into(),
            amend(x.e_nrs, &["--value", "yes"]),
            "does not apply to a".into(),
        ),
        (
            "amend --end-reason on a course start".into(),
            amend(x.e_start, &["--end-reason", "other"]),
            "does not apply to a".into(),
        ),
        (
            "amend --bed on a side effect".into(),
            amend(x.e_se, &["--bed", "4"]),
            "does not apply to a".into(),
        ),
        (
            "amend rate to 140".into(),
            amend(x.e_rate, &["--rate", "140"]),
            MAX.into(),
        ),
        (
            "amend rate to 14.01 confirmed".into(),
            amend(
                x.e_rate,
                &["--rate", "14.01", "--confirm", "--confirm-reason", "x"],
            ),
            MAX.into(),
        ),
        (
            "amend rate to 1,5".into(),
            amend(x.e_rate, &["--rate", "1,5"]),
            "uses a comma".into(),
        ),
        (
            "amend rate to -2".into(),
            amend(x.e_rate, &["--rate", "-2"]),
            "is negative".into(),
        ),
        (
            "amend rate to the same value".into(),
            amend(x.e_rate, &["--rate", "2"]),
            "the amendment changes nothing".into(),
        ),
        (
            "amend NRS to 11".into(),
            amend(x.e_nrs, &["--score", "11"]),
            NRS.into(),
        ),
        (
            "amend NRS to 4.5".into(),
            amend(x.e_nrs, &["--score", "4.5"]),
            NRS.into(),
        ),
        (
            "amend NRS timepoint t9".into(),
            amend(x.e_nrs, &["--timepoint", "t9"]),
            "\"t9\" is not a valid timepoint".into(),
        ),
        (
            "amend time into the future".into(),
            amend(x.e_nrs, &["--at", &x.in_h(1)]),
            FUTURE.into(),
        ),
        (
            "amend time to a nonexistent local time".into(),
            amend(x.e_nrs, &["--at", "2026-03-29 02:30"]),
            "does not exist in Europe/Amsterdam".into(),
        ),
        (
            "amend rate time before the course start".into(),
            amend(x.e_rate, &["--at", &rfc(x.start - Duration::hours(2))]),
            "before the course started".into(),
        ),
        (
            "amend side effect kind sleepy".into(),
            amend(x.e_se, &["--kind", "sleepy"]),
            "is not in the ward's list".into(),
        ),
        (
            "amend side effect kind other without detail".into(),
            amend(x.e_se, &["--kind", "other"]),
            "needs a description".into(),
        ),
        (
            "amend side effect severity extreme".into(),
            amend(x.e_se, &["--severity", "extreme"]),
            "\"extreme\" is not a valid severity".into(),
        ),
        (
            "amend side effect action panic".into(),
            amend(x.e_se, &["--action", "panic"]),
            "\"panic\" is not a valid action".into(),
        ),
        (
            "amend course-end reason bored".into(),
            amend(x.e_end2, &["--end-reason", "bored"]),
            "\"bored\" is not a valid".into(),
        ),
        (
            "amend bed with an escape".into(),
            amend(x.e_start, &["--bed", "\u{1b}[31m"]),
            "bed contains a control character".into(),
        ),
        (
            "amend a superseded version".into(),
            amend(x.e_superseded, &["--score", "4"]),
            format!(
                "entry {} was already corrected by entry {}",
                x.e_superseded, x.e_nrs
            ),
        ),
        (
            "amend a voided entry".into(),
            amend(x.e_voided, &["--score", "3"]),
            format!("entry {} is voided", x.e_voided),
        ),
        (
            "amend with an empty reason".into(),
            strings(&["amend", &s(x.e_nrs), "--reason", "", "--score", "3"]),
            "reason".into(),
        ),
        (
            "void an already voided entry".into(),
            void(&s(x.e_voided), "again"),
            format!("entry {} is voided", x.e_voided),
        ),
        (
            "void with an empty reason".into(),
            void(&s(x.e_nrs), ""),
            "reason is empty".into(),
        ),
        (
            "void with a blank reason".into(),
            void(&s(x.e_nrs), "   "),
            "reason is empty".into(),
        ),
        (
            "void with an escape in the reason".into(),
            void(&s(x.e_nrs), "oops\u{1b}[2J"),
            "reason contains a control character".into(),
        ),
        (
            "void with a reason of 10,000 characters".into(),
            void(&s(x.e_nrs), &"r".repeat(10_000)),
            "reason is 10000 characters long".into(),
        ),
        (
            "void a nonexistent entry".into(),
            void("99999", "mistake"),
            "no entry 99999".into(),
        ),
        (
            "void a superseded version".into(),
            void(&s(x.e_superseded), "mistake"),
            format!(
                "entry {} was already corrected by entry {}",
                x.e_superseded, x.e_nrs
            ),
        ),
        (
            "void a course start that has entries".into(),
            void(&s(x.e_start), "mistake"),
            "has other entries; void them before voiding its start".into(),
        ),
    ];
    for id in [
        "abc",
        "0",
        "",
        "1.5",
        "1e3",
        "3x",
        "0x10",
        "99999999999999999999999",
        "1;DROP TABLE entry",
    ] {
        table.push((
            format!("amend entry id {id:?}"),
            strings(&["amend", id, "--reason", "fix", "--rate", "3"]),
            NOT_AN_ID.into(),
        ));
        table.push((
            format!("void entry id {id:?}"),
            void(id, "mistake"),
            NOT_AN_ID.into(),
        ));
    }
    table.extend([
        (
            "amend entry id -5".into(),
            strings(&["amend", "-5", "--reason", "fix", "--rate", "3"]),
            "is not an entry id".into(),
        ),
        (
            "void entry id -5".into(),
            void("-5", "mistake"),
            "is not an entry id".into(),
        ),
        (
            "void entry id -5 after --".into(),
            strings(&["void", "--reason", "mistake", "--", "-5"]),
            format!("\"-5\" {NOT_AN_ID}"),
        ),
        (
            "amend entry id -5 after --".into(),
            strings(&["amend", "--reason", "fix", "--rate", "3", "--", "-5"]),
            format!("\"-5\" {NOT_AN_ID}"),
        ),
    ]);
    table
        .into_iter()
        .map(|(name, args, expect)| Case {
            args,
            ..case(&name, &[], &expect)
        })
        .collect()
}

fn report_staff_cli_cases(_x: &Ctx) -> Vec<Case> {
    let mut out = vec![
        case(
            "cohort --format xml",
            &["cohort", "--format", "xml"],
            "format \"xml\" is not known: use text, markdown or json",
        ),
        case(
            "cohort --format empty",
            &["cohort", "--format", ""],
            "use text, markdown or json",
        ),
        case(
            "cohort --from 2026-13-01",
            &["cohort", "--from", "2026-13-01"],
            "\"2026-13-01\" is not a date",
        ),
        case(
            "cohort --from 2026-02-30",
            &["cohort", "--from", "2026-02-30"],
            "\"2026-02-30\" is not a date on the calendar",
        ),
        case(
            "cohort --to yesterday",
            &["cohort", "--to", "yesterday"],
            "\"yesterday\" is not a date: write YYYY-MM-DD",
        ),
        case(
            "cohort --from after --to",
            &["cohort", "--from", "2026-12-01", "--to", "2026-01-01"],
            "--from",
        ),
        case(
            "staff unlock of an account that is not locked",
            &["staff", "unlock", "NU"],
            "not locked",
        ),
        case(
            "history of an unknown MRN",
            &["history", "--mrn", "9999"],
            UNKNOWN_MRN,
        ),
        case(
            "status of an unknown MRN",
            &["status", "--mrn", "9999"],
            UNKNOWN_MRN,
        ),
        case(
            "staff add with role boss",
            &[
                "staff", "add", "--id", "XY", "--name", "X", "--role", "boss",
            ],
            "\"boss\" is not a valid role",
        )
        .env("TITRATE_NEW_PIN", "2468"),
        case(
            "staff add with id \"a b\"",
            &[
                "staff", "add", "--id", "a b", "--name", "X", "--role", "nurse",
            ],
            "staff id \"a b\" is not valid: use 1 to 12 letters or digits",
        )
        .env("TITRATE_NEW_PIN", "2468"),
        case(
            "staff add with an empty id",
            &["staff", "add", "--id", "", "--name", "X", "--role", "nurse"],
            "is not valid: use 1 to 12 letters or digits",
        )
        .env("TITRATE_NEW_PIN", "2468"),
        case(
            "staff add with an id of 13 characters",
            &[
                "staff",
                "add",
                "--id",
                "ABCDEFGHIJKLM",
                "--name",
                "X",
                "--role",
                "nurse",
            ],
            "is not valid: use 1 to 12 letters or digits",
        )
        .env("TITRATE_NEW_PIN", "2468"),
        case(
            "staff add with a duplicate id",
            &[
                "staff", "add", "--id", "NU", "--name", "X", "--role", "nurse",
            ],
            "staff id NU already exists",
        )
        .env("TITRATE_NEW_PIN", "2468"),
        case(
            "staff add with a duplicate id in lower case",
            &[
                "staff", "add", "--id", "nu", "--name", "X", "--role", "nurse",
            ],
            "staff id NU already exists",
        )
        .env("TITRATE_NEW_PIN", "2468"),
        case(
            "staff add with an escape in the name",
            &[
                "staff",
                "add",
                "--id",
                "XY",
                "--name",
                "\u{1b}[31mX",
                "--role",
                "nurse",
            ],
            "name contains a control character",
        )
        .env("TITRATE_NEW_PIN", "2468"),
        case(
            "staff add with a PIN of 2 digits",
            &[
                "staff", "add", "--id", "XY", "--name", "X", "--role", "nurse",
            ],
            "a PIN is 4 to 12 digits",
        )
        .env("TITRATE_NEW_PIN", "12"),
        case(
            "staff add with a PIN of letters",
            &[
                "staff", "add", "--id", "XY", "--name", "X", "--role", "nurse",
            ],
            "a PIN is 4 to 12 digits",
        )
        .env("TITRATE_NEW_PIN", "abcd"),
        case(
            "staff add with a PIN of 13 digits",
            &[
                "staff", "add", "--id", "XY", "--name", "X", "--role", "nurse",
            ],
            "a PIN is 4 to 12 digits",
        )
        .env("TITRATE_NEW_PIN", "1234567890123"),
        case(
            "staff unlock of an unknown account",
            &["staff", "unlock", "ZZ"],
            "no staff account ZZ",
        ),
        case(
            "staff unlock with id \"a b\"",
            &["staff", "unlock", "a b"],
            "staff id \"a b\" is not valid",
        ),
        case(
            "init over an existing database",
            &["init", "--admin", "XY", "--name", "X"],
            "already exists",
        )
        .and("`titrate init` only creates a new one")
        .env("TITRATE_NEW_PIN", "2468"),
        case(
            "unknown subcommand",
            &["frobnicate"],
            "unrecognized subcommand 'frobnicate'",
        ),
        case(
            "unknown option",
            &["dose", "--mrn", "1001", "--rate-mg", "3", "--at", "now"],
            "unexpected argument '--rate-mg'",
        ),
        case(
            "missing --at",
            &["dose", "--mrn", "1001", "--rate", "3"],
            "the following required arguments were not provided",
        )
        .and("--at <TIME>"),
        case(
            "--rate given twice",
            &[
                "dose", "--mrn", "1001", "--rate", "2", "--rate", "3", "--at", "now",
            ],
            "cannot be used multiple times",
        ),
        case(
            "nrs --score without a value",
            &["nrs", "--mrn", "1001", "--at", "now", "--score"],
            "a value is required for '--score",
        ),
        case(
            "patient with no subcommand",
            &["patient"],
            "Usage: titrate patient",
        ),
        case(
            "no staff id",
            &["dose", "--mrn", "1001", "--rate", "2", "--at", "now"],
            "no staff id given: use --user ID or set TITRATE_USER",
        )
        .unset("TITRATE_USER"),
    ];
    if fs::File::open("/dev/tty").is_err() {
        // Without a terminal the PIN prompt fails at once (with one it would wait).
        out.push(
            case(
                "no PIN and no terminal",
                &["dose", "--mrn", "1001", "--rate", "2", "--at", "now"],
                "no PIN given: set TITRATE_PIN or type it at the prompt",
            )
            .unset("TITRATE_PIN"),
        );
        out.push(
            case(
                "staff add with no new PIN and no terminal",
                &[
                    "staff", "add", "--id", "XY", "--name", "X", "--role", "nurse",
                ],
                "no PIN given",
            )
            .unset("TITRATE_NEW_PIN"),
        );
    }
    out
}

/// config.toml mistakes: (file name, edit of the shipped text, key the message must name).
/// Turns the shipped config.toml text into a broken one.
type Edit = Box<dyn Fn(&str) -> String>;

fn config_edits() -> Vec<(&'static str, Edit, &'static str)> {
    fn replace(from: &'static str, to: &'static str) -> Edit {
        Box::new(move |t: &str| {
            assert!(t.contains(from), "config.toml has no {from:?}");
            t.replacen(from, to, 1)
        })
    }
    vec![
        (
            "max140.toml",
            replace("max_rate_mg_h = 14.0", "max_rate_mg_h = 140.0"),
            "protocol.max_rate_mg_h",
        ),
        (
            "max0.toml",
            replace("max_rate_mg_h = 14.0", "max_rate_mg_h = 0.0"),
            "protocol.max_rate_mg_h",
        ),
        (
            "maxneg.toml",
            replace("max_rate_mg_h = 14.0", "max_rate_mg_h = -14.0"),
            "protocol.max_rate_mg_h",
        ),
        (
            "maxprecise.toml",
            replace("max_rate_mg_h = 14.0", "max_rate_mg_h = 14.001"),
            "protocol.max_rate_mg_h",
        ),
        (
            "maxnan.toml",
            replace("max_rate_mg_h = 14.0", "max_rate_mg_h = nan"),
            "protocol.max_rate_mg_h",
        ),
        (
            "maxstring.toml",
            replace("max_rate_mg_h = 14.0", "max_rate_mg_h = \"14\""),
            "max_rate_mg_h",
        ),
        (
            "unknownkey.toml",
            replace(
                "duration_days = 7",
                "duration_days = 7\nmax_rate_per_kg = 0.2",
            ),
            "max_rate_per_kg",
        ),
        (
            "unknownsection.toml",
            Box::new(|t: &str| format!("{t}\n[pump]\nbrand = \"x\"\n")),
            "pump",
        ),
        (
            "missingkey.toml",
            replace("increment_mg_h = 2.0\n", ""),
            "increment_mg_h",
        ),
        (
            "missingsection.toml",
            Box::new(|t: &str| {
                let i = t.find("[security]").unwrap();
                t[..i].to_string()
            }),
            "security",
        ),
        (
            "wrongtype.toml",
            replace(
                "min_step_interval_min = 120",
                "min_step_interval_min = \"2h\"",
            ),
            "min_step_interval_min",
        ),
        (
            "wrongtypefloat.toml",
            replace(
                "min_step_interval_min = 120",
                "min_step_interval_min = 120.5",
            ),
            "min_step_interval_min",
        ),
        (
            "increment.toml",
            replace("increment_mg_h = 2.0", "increment_mg_h = 20.0"),
            "protocol.increment_mg_h",
        ),
        (
            "increment0.toml",
            replace("increment_mg_h = 2.0", "increment_mg_h = 0.0"),
            "protocol.increment_mg_h",
        ),
        (
            "startrate.toml",
            replace("start_rate = 2.0", "start_rate = 20.0"),
            "protocol.start_rate",
        ),
        (
            "startunit.toml",
            replace("start_rate_unit = \"mg/h\"", "start_rate_unit = \"mg/min\""),
            "start_rate_unit",
        ),
        (
            "timezone.toml",
            replace(
                "timezone = \"Europe/Amsterdam\"",
                "timezone = \"Mars/Base\"",
            ),
            "ward.timezone",
        ),
        (
            "duration.toml",
            replace("duration_days = 7", "duration_days = 0"),
            "protocol.duration_days",
        ),
        (
            "interval.toml",
            replace(
                "min_step_interval_min = 120",
                "min_step_interval_min = 2000",
            ),
            "protocol.min_step_interval_min",
        ),
        (
            "check.toml",
            replace("check_interval_min = 60", "check_interval_min = 0"),
            "checks.check_interval_min",
        ),
        (
            "threshold.toml",
            replace("responder_threshold = 2", "responder_threshold = 11"),
            "outcome.responder_threshold",
        ),
        (
            "thresholdneg.toml",
            replace("responder_threshold = 2", "responder_threshold = -1"),
            "responder_threshold",
        ),
        (
            "t2window.toml",
            replace("t2_from_day = 21", "t2_from_day = 35"),
            "outcome.t2_planned_day",
        ),
        (
            "kinds.toml",
            replace(
                "\"liver-enzymes-raised\", \"other\",",
                "\"liver-enzymes-raised\",",
            ),
            "side_effects.kinds",
        ),
        (
            "kindcase.toml",
            replace("\"blurred-vision\"", "\"Blurred Vision\""),
            "side_effects.kinds",
        ),
        (
            "pinfailures.toml",
            replace("max_pin_failures = 5", "max_pin_failures = 0"),
            "security.max_pin_failures",
        ),
        (
            "drugempty.toml",
            replace("drug = \"S-ketamine\"", "drug = \"  \""),
            "protocol.drug",
        ),
        (
            "duplicate.toml",
            replace("duration_days = 7", "duration_days = 7\nduration_days = 8"),
            "duration_days",
        ),
        (
            "syntax.toml",
            replace(
                "name = \"Pain Medicine Ward\"",
                "name = \"Pain Medicine Ward",
            ),
            "name",
        ),
    ]
}

fn config_cases(fx_dir: &Path, x: &Ctx) -> Vec<Case> {
    let shipped = fs::read_to_string(CONFIG).unwrap();
    let at = x.ago_h(1);
    let mut out: Vec<Case> = config_edits()
        .into_iter()
        .map(|(file, edit, key)| {
            let p = fx_dir.join(file);
            fs::write(&p, edit(&shipped)).unwrap();
            let shown = p.display().to_string();
            case(
                &format!("config {file}"),
                &["dose", "--mrn", "1001", "--rate", "4", "--at", &at],
                "configuration error, not starting",
            )
            .and(key)
            .and(&shown)
            .config(p)
        })
        .collect();
    let missing = fx_dir.join("no-such-config.toml");
    out.push(
        case(
            "config file missing",
            &["status", "--mrn", "1001"],
            "cannot read",
        )
        .and(&missing.display().to_string())
        .config(missing),
    );
    let empty = fx_dir.join("empty.toml");
    fs::write(&empty, "").unwrap();
    out.push(
        case("config file empty", &["status", "--mrn", "1001"], "missing")
            .and(&empty.display().to_string())
            .config(empty),
    );
    out.push(
        case(
            "config is a directory",
            &["status", "--mrn", "1001"],
            "configuration error, not starting",
        )
        .and(&fx_dir.display().to_string())
        .config(fx_dir.to_path_buf()),
    );
    out
}

/// Characters that hide themselves (controls, direction marks, zero-width and invisible
/// operators, the soft hyphen, tag characters, separators): each is refused in some text
/// field, and every text field refuses several of them.
const HIDDEN: [char; 24] = [
    '\u{0}',
    '\u{7}',
    '\u{1b}',
    '\u{85}',
    '\u{ad}',
    '\u{34f}',
    '\u{61c}',
    '\u{180e}',
    '\u{200b}',
    '\u{200e}',
    '\u{2028}',
    '\u{2029}',
    '\u{2060}',
    '\u{2061}',
    '\u{2062}',
    '\u{2063}',
    '\u{2064}',
    '\u{2067}',
    '\u{feff}',
    '\u{fe0f}',
    '\u{e0001}',
    '\u{e0041}',
    '\u{e007f}',
    '\u{e0100}',
];

fn hidden_text_cases(x: &Ctx) -> Vec<Case> {
    let at = x.ago_h(1);
    // (field, how to pass a value in it)
    type Make = Box<dyn Fn(&str) -> Vec<String>>;
    let at2 = at.clone();
    let at3 = at.clone();
    let e_nrs = x.e_nrs;
    let e_voided = x.e_se;
    let fields: Vec<(&str, Make)> = vec![
        (
            "name",
            Box::new(|v| {
                strings(&[
                    "patient",
                    "add",
                    "--mrn",
                    "2001",
                    "--name",
                    v,
                    "--birth-date",
                    "1970-01-01",
                    "--sex",
                    "male",
                ])
            }),
        ),
        (
            "limb",
            Box::new(|v| {
                strings(&[
                    "patient",
                    "add",
                    "--mrn",
                    "2002",
                    "--name",
                    "Jan",
                    "--birth-date",
                    "1970-01-01",
                    "--sex",
                    "male",
                    "--limb",
                    v,
                ])
            }),
        ),
        (
            "bed",
            Box::new(move |v| {
                strings(&["course", "start", "--mrn", "1002", "--at", &at2, "--bed", v])
            }),
        ),
        (
            "detail",
            Box::new(move |v| {
                strings(&[
                    "side-effect",
                    "--mrn",
                    "1001",
                    "--kind",
                    "other",
                    "--severity",
                    "mild",
                    "--detail",
                    v,
                    "--at",
                    &at3,
                ])
            }),
        ),
        (
            "reason",
            Box::new(move |v| strings(&["amend", &s(e_nrs), "--reason", v, "--score", "3"])),
        ),
        (
            "reason",
            Box::new(move |v| strings(&["void", &s(e_voided), "--reason", v])),
        ),
        (
            "name",
            Box::new(|v| strings(&["staff", "add", "--id", "ZZ", "--name", v, "--role", "nurse"])),
        ),
    ];
    let mut out = Vec::new();
    for (i, c) in HIDDEN.iter().enumerate() {
        // NUL cannot pass through an argument vector at all; it is tested in the unit tests.
        if *c == '\u{0}' {
            continue;
        }
        for f in [i % fields.len(), (i + 3) % fields.len()] {
            let (what, make) = &fields[f];
            let value = format!("Jan{c}sen");
            let mut k = case(
                &format!("{what} with U+{:04X}", u32::from(*c)),
                &[],
                &format!("{what} contains a control character"),
            )
            .and(&format!("U+{:04X}", u32::from(*c)))
            .env("TITRATE_NEW_PIN", "2468");
            k.args = make(&value);
            out.push(k);
        }
    }
    out
}

/// config.toml read only from a regular file of at most 1 MiB, and none of its texts may
/// hold a hidden character.
fn config_guard_cases(fx_dir: &Path) -> Vec<Case> {
    let shipped = fs::read_to_string(CONFIG).unwrap();
    let mut out = Vec::new();
    let status = ["status", "--mrn", "1001"];
    for (i, (from, key)) in [
        ("name = \"Pain", "ward.name"),
        ("hospital = \"", "ward.hospital"),
        ("name = \"S-ketamine", "protocol.name"),
        ("drug = \"", "protocol.drug"),
        ("route = \"", "protocol.route"),
        ("end_point = \"", "protocol.end_point"),
        ("\"nausea\"", "side_effects.kinds"),
        ("folder = \"", "reports.folder"),
        ("path = \"", "database.path"),
    ]
    .iter()
    .enumerate()
    {
        assert!(shipped.contains(from), "config.toml has no {from:?}");
        // TOML escapes, so that the file itself stays plain text.
        let esc = ["\\u001b[31m", "\\u2060", "\\u202e", "\\u00ad", "\\u0007"][i % 5];
        let edited = match *from {
            "\"nausea\"" => shipped.replacen(from, &format!("\"nau{esc}sea\""), 1),
            _ => shipped.replacen(from, &format!("{from}{esc}"), 1),
        };
        let p = fx_dir.join(format!("hidden-{i}.toml"));
        fs::write(&p, edited).unwrap();
        out.push(
            case(
                &format!("config: hidden character in {key}"),
                &status,
                "configuration error, not starting",
            )
            .and(key)
            .and("control or invisible character")
            .config(p),
        );
    }
    let big = fx_dir.join("big.toml");
    let mut text = shipped.clone();
    text.push_str(&format!("# {}\n", "x".repeat(1024 * 1024)));
    fs::write(&big, text).unwrap();
    out.push(
        case(
            "config of more than 1 MiB",
            &status,
            "at most 1048576 bytes",
        )
        .and("big.toml")
        .config(big),
    );
    out.push(case("config is a device", &status, "not a regular file").config("/dev/zero".into()));
    let fifo = fx_dir.join("config.fifo");
    if !fifo.exists() {
        let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success(), "mkfifo failed");
    }
    out.push(case("config is a FIFO", &status, "not a regular file").config(fifo));
    let latin1 = fx_dir.join("latin1.toml");
    let mut bytes = shipped.into_bytes();
    bytes.extend_from_slice(b"# caf\xe9\n");
    fs::write(&latin1, bytes).unwrap();
    out.push(case("config is not UTF-8", &status, "not UTF-8").config(latin1));
    out
}

fn leap_second_cases(x: &Ctx) -> Vec<Case> {
    // A leap second an hour ago, in each form of TIME.
    let base = x.now - Duration::hours(1);
    let local = base.with_timezone(&chrono_tz::Europe::Amsterdam);
    let forms = [
        base.format("%Y-%m-%dT%H:%M:60Z").to_string(),
        local.format("%Y-%m-%dT%H:%M:60%:z").to_string(),
        local.format("%Y-%m-%d %H:%M:60").to_string(),
    ];
    let mut out = Vec::new();
    for (i, t) in forms.iter().enumerate() {
        let args: Vec<&str> = match i {
            0 => vec!["nrs", "--mrn", "1001", "--score", "5", "--at", t],
            1 => vec!["dose", "--mrn", "1001", "--rate", "2", "--at", t],
            _ => vec![
                "side-effect",
                "--mrn",
                "1001",
                "--kind",
                "nausea",
                "--severity",
                "mild",
                "--at",
                t,
            ],
        };
        out.push(case(&format!("leap second {t}"), &args, "leap second"));
    }
    out.push(case(
        "amend to a leap second",
        &["amend", &s(x.e_nrs), "--reason", "time", "--at", &forms[0]],
        "leap second",
    ));
    out
}

// ---------------------------------------------------------------------------------------
// The tests

#[test]
fn corpus_has_at_least_150_cases() {
    let x = Ctx::dummy();
    let dir = tempfile::tempdir().unwrap();
    let n = rate_cases(&x).len()
        + score_and_time_cases(&x).len()
        + patient_cases(&x).len()
        + patient_amend_cases(&x).len()
        + course_cases(&x).len()
        + amend_void_cases(&x).len()
        + report_staff_cli_cases(&x).len()
        + config_cases(dir.path(), &x).len()
        + hidden_text_cases(&x).len()
        + config_guard_cases(dir.path()).len()
        + leap_second_cases(&x).len();
    assert!(n >= 150, "only {n} cases");
}

#[test]
fn bad_rates_and_steps_are_refused() {
    let fx = Fixture::build();
    run_corpus(&fx, &rate_cases(&fx.ctx));
}

#[test]
fn bad_scores_and_times_are_refused() {
    let fx = Fixture::build();
    run_corpus(&fx, &score_and_time_cases(&fx.ctx));
}

#[test]
fn bad_patients_are_refused() {
    let fx = Fixture::build();
    run_corpus(&fx, &patient_cases(&fx.ctx));
}

#[test]
fn bad_patient_corrections_are_refused() {
    let fx = Fixture::build();
    run_corpus(&fx, &patient_amend_cases(&fx.ctx));
}

#[test]
fn bad_course_side_effect_and_success_entries_are_refused() {
    let fx = Fixture::build();
    run_corpus(&fx, &course_cases(&fx.ctx));
}

#[test]
fn bad_amendments_voids_and_entry_ids_are_refused() {
    let fx = Fixture::build();
    run_corpus(&fx, &amend_void_cases(&fx.ctx));
}

#[test]
fn bad_report_staff_and_command_line_input_is_refused() {
    let fx = Fixture::build();
    run_corpus(&fx, &report_staff_cli_cases(&fx.ctx));
}

#[test]
fn hidden_characters_are_refused_in_every_text_field() {
    let fx = Fixture::build();
    run_corpus(&fx, &hidden_text_cases(&fx.ctx));
}

#[test]
fn config_is_read_only_from_a_small_regular_file_of_plain_text() {
    let fx = Fixture::build();
    let cases = config_guard_cases(fx.dir.path());
    run_corpus(&fx, &cases);
}

#[test]
fn leap_seconds_are_refused_on_every_entry_path() {
    let fx = Fixture::build();
    run_corpus(&fx, &leap_second_cases(&fx.ctx));
}

#[test]
fn config_mistakes_stop_titrate() {
    let fx = Fixture::build();
    let cases = config_cases(fx.dir.path(), &fx.ctx);
    run_corpus(&fx, &cases);
}

/// --db pointing at something that is not a titrate database: refused, and nothing is
/// created or written there.
#[test]
fn database_path_mistakes_touch_nothing() {
    let fx = Fixture::build();
    let args = strings(&["status", "--mrn", "1001"]);

    let missing = fx.path("missing.db");
    let out = titrate(&missing, None, &[], &args);
    assert_eq!(out.code, Some(1), "{}", out.show());
    assert!(
        out.stderr
            .contains("no such file; `titrate init` creates a new database"),
        "{}",
        out.show()
    );
    assert!(
        !missing.exists(),
        "a database was created at a mistyped path"
    );

    let text = fx.path("notes.txt");
    fs::write(&text, "not a database\n").unwrap();
    let out = titrate(&text, None, &[], &args);
    assert_eq!(out.code, Some(1), "{}", out.show());
    assert!(out.stderr.contains("is not a database"), "{}", out.show());
    assert_eq!(fs::read(&text).unwrap(), b"not a database\n");

    let out = titrate(fx.dir.path(), None, &[], &args);
    assert!(matches!(out.code, Some(1)), "{}", out.show());
    assert!(out.stdout.is_empty(), "{}", out.show());
}

#[test]
fn an_empty_file_is_not_a_database() {
    let fx = Fixture::build();
    let empty = fx.path("empty.db");
    fs::write(&empty, b"").unwrap();
    let out = titrate(&empty, None, &[], &strings(&["status", "--mrn", "1001"]));
    assert_eq!(out.code, Some(1), "{}", out.show());
    assert_eq!(
        fs::metadata(&empty).unwrap().len(),
        0,
        "the empty file was written to: {}",
        out.show()
    );
}

/// A wrong PIN (or an unknown user) is refused; the database changes only in the audit log
/// and the failed-PIN counter.
#[test]
fn wrong_pin_changes_only_audit_and_failed_pins() {
    let fx = Fixture::build();
    let at = fx.ctx.ago_h(1);
    let dose = strings(&["dose", "--mrn", "1001", "--rate", "4", "--at", &at]);
    let long_pin = "9".repeat(1000);
    let tries: Vec<(&str, &str, &str, Option<i64>)> = vec![
        ("AB", "0000", "wrong PIN", Some(1)),
        ("AB", "", "empty PIN", Some(1)),
        ("AB", "12345", "PIN with an extra digit", Some(1)),
        ("AB", &long_pin, "PIN of 1000 digits", Some(1)),
        ("NU", "1234", "another person's PIN", None),
        ("ZZ", "1234", "unknown staff id", None),
        ("a b", "1234", "malformed staff id", None),
        ("", "1234", "empty staff id", None),
        ("AB'--", "1234", "staff id with SQL", None),
    ];
    let mut failures = Vec::new();
    for (user, pin, what, ab_failed) in tries {
        let db = fx.fresh("pin.db");
        let env = [
            ("TITRATE_USER", Some(user.to_string())),
            ("TITRATE_PIN", Some(pin.to_string())),
        ];
        let out = titrate(&db, None, &env, &dose);
        let after = dump(&db);
        let mut problems = only_audit_changes(
            &fx.pristine_dump,
            &after,
            &["failed_pins"],
            &["signin-fail"],
        );
        if out.code != Some(1) {
            problems.push("exit status is not 1".into());
        }
        if !out
            .stderr
            .contains("sign-in failed: unknown staff id or wrong PIN")
        {
            problems.push("stderr does not say the sign-in failed".into());
        }
        if !out.stdout.is_empty() {
            problems.push("something on stdout".into());
        }
        if after["audit"].rows.len() != fx.pristine_dump["audit"].rows.len() + 1 {
            problems.push("not exactly one audit row added".into());
        }
        if let Some(n) = ab_failed
            && staff_value(&after, "AB", "failed_pins") != Value::Integer(n)
        {
            problems.push(format!("AB failed_pins is not {n}"));
        }
        if user == "NU" && staff_value(&after, "NU", "failed_pins") != Value::Integer(1) {
            problems.push("NU failed_pins is not 1".into());
        }
        let verify = titrate(&db, None, &[], &strings(&["audit", "verify"]));
        if verify.code != Some(0) {
            problems.push(format!("audit verify fails afterwards: {}", verify.show()));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "[{what}] {}\n  {}",
                problems.join("; "),
                out.show()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Five wrong PINs lock the account; the right PIN is then refused with a message that sends
/// the user to a ward admin (not to a command they cannot run); an admin unlocks it and the PIN
/// works again.
#[test]
fn five_wrong_pins_lock_the_account_until_an_admin_unlocks_it() {
    let fx = Fixture::build();
    let db = fx.fresh("lock.db");
    let at = fx.ctx.ago_h(1);
    let nrs = strings(&["nrs", "--mrn", "1001", "--score", "4", "--at", &at]);
    let as_nu = |pin: &str| {
        vec![
            ("TITRATE_USER", Some("NU".to_string())),
            ("TITRATE_PIN", Some(pin.to_string())),
        ]
    };
    for i in 1..=5 {
        let out = titrate(&db, None, &as_nu("0000"), &nrs);
        assert_eq!(out.code, Some(1), "try {i}: {}", out.show());
        assert!(out.stdout.is_empty(), "try {i}: {}", out.show());
        let expect = if i < 5 {
            "sign-in failed"
        } else {
            "account NU is locked"
        };
        assert!(out.stderr.contains(expect), "try {i}: {}", out.show());
    }
    let out = titrate(&db, None, &as_nu("5678"), &nrs);
    assert_eq!(out.code, Some(1), "{}", out.show());
    assert!(out.stdout.is_empty(), "{}", out.show());
    assert!(
        out.stderr
            .contains("account NU is locked after too many wrong PINs")
            && out.stderr.contains("ask a ward admin to unlock it")
            && !out.stderr.contains("titrate staff"),
        "{}",
        out.show()
    );
    let locked = dump(&db);
    let problems = only_audit_changes(
        &fx.pristine_dump,
        &locked,
        &["failed_pins", "locked"],
        &["signin-fail"],
    );
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(staff_value(&locked, "NU", "locked"), Value::Integer(1));
    assert_eq!(staff_value(&locked, "NU", "failed_pins"), Value::Integer(5));
    assert_eq!(
        locked["audit"].rows.len(),
        fx.pristine_dump["audit"].rows.len() + 6
    );

    // The locked nurse cannot unlock herself.
    let out = titrate(
        &db,
        None,
        &as_nu("5678"),
        &strings(&["staff", "unlock", "NU"]),
    );
    assert_eq!(out.code, Some(1), "{}", out.show());
    assert!(out.stderr.contains("is locked"), "{}", out.show());

    let out = titrate(&db, None, &[], &strings(&["staff", "unlock", "NU"]));
    assert_eq!(out.code, Some(0), "{}", out.show());
    assert!(out.stdout.contains("staff NU unlocked"), "{}", out.show());
    let unlocked = dump(&db);
    assert_eq!(staff_value(&unlocked, "NU", "locked"), Value::Integer(0));
    assert_eq!(
        staff_value(&unlocked, "NU", "failed_pins"),
        Value::Integer(0)
    );

    let out = titrate(&db, None, &as_nu("5678"), &nrs);
    assert_eq!(out.code, Some(0), "{}", out.show());
    assert!(out.stdout.contains("saved: NRS 4"), "{}", out.show());
    let out = titrate(&db, None, &[], &strings(&["audit", "verify"]));
    assert_eq!(out.code, Some(0), "{}", out.show());
}

/// A nurse may not do what needs a physician or an admin: refused with a message naming
/// the role, and only a "denied" audit row is added.
#[test]
fn a_nurse_is_denied_physician_and_admin_actions() {
    let fx = Fixture::build();
    let x = &fx.ctx;
    let at = x.ago_h(1);
    let nurse = vec![
        ("TITRATE_USER", Some("NU".to_string())),
        ("TITRATE_PIN", Some("5678".to_string())),
        ("TITRATE_NEW_PIN", Some("2468".to_string())),
    ];
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "course end",
            strings(&["course", "end", "--mrn", "1001", "--at", &at]),
            "that needs the physician role",
        ),
        (
            "course start",
            strings(&["course", "start", "--mrn", "1002", "--at", &at]),
            "that needs the physician role",
        ),
        (
            "success",
            strings(&[
                "success",
                "--mrn",
                "1001",
                "--timepoint",
                "t1",
                "--value",
                "yes",
                "--at",
                &at,
            ]),
            "that needs the physician role",
        ),
        (
            "staff add",
            strings(&[
                "staff", "add", "--id", "XY", "--name", "X", "--role", "admin",
            ]),
            "may not manage staff accounts: that needs the admin role",
        ),
        (
            "staff unlock",
            strings(&["staff", "unlock", "AB"]),
            "may not manage staff accounts: that needs the admin role",
        ),
        (
            "staff list",
            strings(&["staff", "list"]),
            "may not manage staff accounts: that needs the admin role",
        ),
        (
            "amend AB's rate",
            strings(&["amend", &s(x.e_rate), "--reason", "fix", "--rate", "3"]),
            "may not amend or void another person's entry: that needs the physician role",
        ),
        (
            "amend AB's NRS",
            strings(&["amend", &s(x.e_nrs), "--reason", "fix", "--score", "3"]),
            "may not amend or void another person's entry: that needs the physician role",
        ),
        (
            "amend AB's side effect",
            strings(&[
                "amend",
                &s(x.e_se),
                "--reason",
                "fix",
                "--severity",
                "moderate",
            ]),
            "that needs the physician role",
        ),
        (
            "void AB's NRS",
            strings(&["void", &s(x.e_nrs), "--reason", "mistake"]),
            "may not amend or void another person's entry: that needs the physician role",
        ),
        (
            "void AB's rate",
            strings(&["void", &s(x.e_rate), "--reason", "mistake"]),
            "that needs the physician role",
        ),
    ];
    let mut failures = Vec::new();
    for (what, args, expect) in cases {
        let db = fx.fresh("nurse.db");
        let out = titrate(&db, None, &nurse, &args);
        let after = dump(&db);
        let mut problems = only_audit_changes(&fx.pristine_dump, &after, &[], &["denied"]);
        if out.code != Some(1) {
            problems.push("exit status is not 1".into());
        }
        if !out.stderr.contains("NU is signed in as nurse and may not") {
            problems.push("stderr does not say the nurse may not".into());
        }
        if !out.stderr.contains(expect) {
            problems.push(format!("stderr lacks {expect:?}"));
        }
        if what.starts_with("staff") && !out.stderr.contains("admin") {
            problems.push("stderr does not name the admin role".into());
        }
        if !out.stdout.is_empty() {
            problems.push("something on stdout".into());
        }
        if after["audit"].rows.len() != fx.pristine_dump["audit"].rows.len() + 1 {
            problems.push("not exactly one audit row added".into());
        }
        if !problems.is_empty() {
            failures.push(format!(
                "[{what}] {}\n  {}",
                problems.join("; "),
                out.show()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn denial_message_names_the_admin_role_in_good_english() {
    let fx = Fixture::build();
    let db = fx.fresh("grammar.db");
    let env = [
        ("TITRATE_USER", Some("NU".to_string())),
        ("TITRATE_PIN", Some("5678".to_string())),
    ];
    let out = titrate(&db, None, &env, &strings(&["staff", "list"]));
    assert_eq!(out.code, Some(1), "{}", out.show());
    assert!(
        out.stderr.contains("that needs the admin role"),
        "{}",
        out.show()
    );
}

#[test]
fn a_file_that_is_not_a_database_is_named() {
    let fx = Fixture::build();
    let text = fx.path("notes.txt");
    fs::write(&text, "not a database\n").unwrap();
    let out = titrate(&text, None, &[], &strings(&["status", "--mrn", "1001"]));
    assert_eq!(out.code, Some(1), "{}", out.show());
    assert!(out.stderr.contains("notes.txt"), "{}", out.show());
}
