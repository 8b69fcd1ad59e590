//! The research export (`titrate export`), read back the way a researcher's tools read it:
//! a strict RFC 4180 reader written here, the database itself (rusqlite), and, when pandas is
//! installed, `tests/reference/export_check.py`.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::{Ward, hours_ago, rfc, text};

const FILES: [&str; 4] = [
    "events.csv",
    "courses.csv",
    "codebook.csv",
    "data_quality.csv",
];
const DATA_FILES: [&str; 3] = ["events.csv", "courses.csv", "data_quality.csv"];

// ---------------------------------------------------------------------------------------------
// A strict RFC 4180 reader: quoted fields, doubled quotes, commas and line breaks inside quotes,
// CRLF record ends. Anything else (a bare LF, a quote inside an unquoted field, text after a
// closing quote, a missing final CRLF) fails the test.

fn try_parse_csv(name: &str, s: &str) -> Result<Vec<Vec<String>>, String> {
    if !s.ends_with("\r\n") {
        return Err(format!("{name}: the last record must end with CRLF"));
    }
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = s.chars().peekable();
    let mut line = 1;
    loop {
        // At the start of a field.
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => {
                        if c == '\n' {
                            line += 1;
                        }
                        field.push(c);
                    }
                    None => return Err(format!("{name}:{line}: unterminated quoted field")),
                }
            }
            match chars.peek() {
                Some(',' | '\r') | None => {}
                Some(c) => return Err(format!("{name}:{line}: {c:?} after a closing quote")),
            }
        } else {
            while let Some(&c) = chars.peek() {
                match c {
                    ',' | '\r' => break,
                    '"' => return Err(format!("{name}:{line}: a quote inside an unquoted field")),
                    '\n' => {
                        return Err(format!("{name}:{line}: a bare LF (records end with CRLF)"));
                    }
                    _ => {
                        field.push(c);
                        chars.next();
                    }
                }
            }
        }
        record.push(std::mem::take(&mut field));
        match chars.next() {
            Some(',') => {}
            Some('\r') => {
                if chars.next() != Some('\n') {
                    return Err(format!("{name}:{line}: CR without LF"));
                }
                line += 1;
                records.push(std::mem::take(&mut record));
                if chars.peek().is_none() {
                    break;
                }
            }
            None => break,
            Some(c) => return Err(format!("{name}:{line}: unexpected {c:?}")),
        }
    }
    Ok(records)
}

fn parse_csv(name: &str, s: &str) -> Vec<Vec<String>> {
    try_parse_csv(name, s).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_reader_itself_follows_rfc_4180() {
    let t = "a,b,c\r\n\"x, \"\"y\"\"\",,\"two\r\nlines\"\r\nNA,\"\",3\r\n";
    assert_eq!(
        parse_csv("t", t),
        vec![
            vec!["a", "b", "c"],
            vec!["x, \"y\"", "", "two\r\nlines"],
            vec!["NA", "", "3"],
        ]
    );
    for bad in ["a,b\n", "a,b", "a\"b\r\n", "\"a\"b\r\n", "\"a\r\n"] {
        assert!(try_parse_csv("bad", bad).is_err(), "{bad:?} was accepted");
    }
}

/// One CSV file: header and rows, addressed by column name.
struct Table {
    name: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn read(dir: &Path, name: &str) -> Table {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let s = String::from_utf8(bytes).unwrap_or_else(|_| panic!("{name}: not UTF-8"));
        Table::parse(name, &s)
    }

    fn parse(name: &str, s: &str) -> Table {
        assert!(!s.starts_with('\u{feff}'), "{name}: a byte-order mark");
        let mut recs = parse_csv(name, s);
        let header = recs.remove(0);
        for (i, r) in recs.iter().enumerate() {
            assert_eq!(
                r.len(),
                header.len(),
                "{name} row {}: {} fields, header has {}: {r:?}",
                i + 2,
                r.len(),
                header.len()
            );
        }
        let unique: BTreeSet<_> = header.iter().collect();
        assert_eq!(unique.len(), header.len(), "{name}: duplicate column names");
        Table {
            name: name.into(),
            header,
            rows: recs,
        }
    }

    fn col(&self, c: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == c)
            .unwrap_or_else(|| panic!("{}: no column {c}", self.name))
    }

    fn get<'a>(&self, row: &'a [String], c: &str) -> &'a str {
        &row[self.col(c)]
    }

    fn column(&self, c: &str) -> Vec<&str> {
        let i = self.col(c);
        self.rows.iter().map(|r| r[i].as_str()).collect()
    }

    /// Rows by the value of a key column.
    fn by(&self, c: &str) -> BTreeMap<String, Vec<String>> {
        let i = self.col(c);
        let mut m = BTreeMap::new();
        for r in &self.rows {
            assert!(
                m.insert(r[i].clone(), r.clone()).is_none(),
                "{}: {c} {} twice",
                self.name,
                r[i]
            );
        }
        m
    }
}

struct Export {
    dir: PathBuf,
    events: Table,
    courses: Table,
    codebook: Table,
    quality: Table,
    /// Every file's whole text, for "appears nowhere" checks.
    raw: Vec<(String, String)>,
}

impl Export {
    fn read(dir: &Path) -> Export {
        for f in FILES {
            assert!(dir.join(f).is_file(), "{f} missing in {}", dir.display());
        }
        Export {
            dir: dir.to_path_buf(),
            events: Table::read(dir, "events.csv"),
            courses: Table::read(dir, "courses.csv"),
            codebook: Table::read(dir, "codebook.csv"),
            quality: Table::read(dir, "data_quality.csv"),
            raw: FILES
                .iter()
                .map(|f| (f.to_string(), std::fs::read_to_string(dir.join(f)).unwrap()))
                .collect(),
        }
    }

    fn table(&self, f: &str) -> &Table {
        match f {
            "events.csv" => &self.events,
            "courses.csv" => &self.courses,
            "data_quality.csv" => &self.quality,
            "codebook.csv" => &self.codebook,
            _ => unreachable!(),
        }
    }
}

fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

fn is_na(s: &str) -> bool {
    s == "NA"
}

// ---------------------------------------------------------------------------------------------
// The cohort.

const NURSE: (&str, &str) = ("NU", "5678");
const PHYSICIAN: (&str, &str) = ("PH", "4321");

struct Cohort {
    w: Ward,
    /// (MRN, name, birth date) of every patient.
    patients: Vec<(&'static str, &'static str, &'static str)>,
    voided: i64,
    amended: i64,
    amendment: i64,
    /// An entry recorded at the time it happened: not late.
    on_time: i64,
    /// The late T2 score at day 50 of the course that ended 57 days ago.
    day50: i64,
    ended_course: i64,
    running_course: i64,
    old_course: i64,
}

fn add_staff(w: &Ward, (id, pin): (&str, &str), role: &str) {
    let out = w.run_with(
        "AB",
        "1234",
        &[("TITRATE_NEW_PIN", pin)],
        &["staff", "add", "--id", id, "--name", id, "--role", role],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

fn course_id(w: &Ward, mrn: &str) -> i64 {
    let conn = rusqlite::Connection::open(w.path()).unwrap();
    conn.query_row(
        "SELECT c.id FROM course c JOIN patient p ON p.id = c.patient_id WHERE p.mrn = ?1
         ORDER BY c.id DESC LIMIT 1",
        [mrn],
        |r| r.get(0),
    )
    .unwrap()
}

fn cohort() -> Cohort {
    let w = Ward::new();
    add_staff(&w, NURSE, "nurse");
    add_staff(&w, PHYSICIAN, "physician");
    let patients = vec![
        ("3001", "Maria Smit", "1975-06-15"),
        ("3002", "O\"Brien, Jan", "1962-11-03"),
        ("3003", "Kees de Vries", "1988-02-29"),
        ("3004", "Lotte Jansen", "1990-07-21"),
    ];
    for (i, (mrn, name, birth)) in patients.iter().enumerate() {
        let mut args = vec![
            "patient",
            "add",
            "--mrn",
            mrn,
            "--name",
            name,
            "--birth-date",
            birth,
            "--sex",
            if i % 2 == 0 { "female" } else { "male" },
            "--crps-type",
            "1",
            "--crps-onset",
            "2021-03-01",
            "--limb",
            "left arm",
        ];
        if i != 1 {
            // One patient without a weight: NA in a number column.
            args.extend(["--weight-kg", "72.5"]);
        }
        w.ok(&args);
    }
    let at = |t: DateTime<Utc>, h: i64| rfc(t + Duration::hours(h));

    // 3001: a finished 7-day course with T0, T1 and T2, a side effect with a comma and quotes.
    let s1 = hours_ago(40 * 24);
    w.ok(&[
        "nrs",
        "--mrn",
        "3001",
        "--score",
        "8",
        "--at",
        &at(s1, -2),
        "--timepoint",
        "t0",
    ]);
    w.ok(&[
        "course",
        "start",
        "--mrn",
        "3001",
        "--at",
        &at(s1, 0),
        "--bed",
        "3",
    ]);
    for (h, r) in [(0, "2"), (4, "4"), (8, "6"), (30, "4")] {
        if h == 30 {
            // The step down comes with the side effect, in one step (issue 11 §2).
            w.ok(&[
                "side-effect",
                "--mrn",
                "3001",
                "--kind",
                "nausea",
                "--severity",
                "moderate",
                "--at",
                &at(s1, 30),
                "--action",
                "rate-lowered",
                "--detail",
                "felt \"odd\", then slept",
                "--rate",
                r,
            ]);
            continue;
        }
        w.ok(&["dose", "--mrn", "3001", "--rate", r, "--at", &at(s1, h)]);
    }
    let out = w.run_with(
        PHYSICIAN.0,
        PHYSICIAN.1,
        &[],
        &["course", "end", "--mrn", "3001", "--at", &at(s1, 168)],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ended_course = course_id(&w, "3001");
    w.ok(&[
        "nrs",
        "--mrn",
        "3001",
        "--score",
        "5",
        "--at",
        &at(s1, 169),
        "--timepoint",
        "t1",
    ]);
    w.ok(&[
        "success",
        "--mrn",
        "3001",
        "--timepoint",
        "t1",
        "--value",
        "yes",
        "--at",
        &at(s1, 170),
    ]);
    w.ok(&[
        "nrs",
        "--mrn",
        "3001",
        "--score",
        "4",
        "--at",
        &at(s1, 168 + 28 * 24),
        "--timepoint",
        "t2",
    ]);

    // 3002 (O"Brien, Jan): running, one voided and one amended entry, one entry on time.
    let s2 = hours_ago(24);
    w.ok(&[
        "nrs",
        "--mrn",
        "3002",
        "--score",
        "7",
        "--at",
        &at(s2, -1),
        "--timepoint",
        "t0",
    ]);
    w.ok(&["course", "start", "--mrn", "3002", "--at", &at(s2, 0)]);
    let running_course = course_id(&w, "3002");
    w.ok(&["dose", "--mrn", "3002", "--rate", "2", "--at", &at(s2, 0)]);
    w.ok(&["dose", "--mrn", "3002", "--rate", "4", "--at", &at(s2, 4)]);
    let voided = w.entry(&["dose", "--mrn", "3002", "--rate", "4", "--at", &at(s2, 5)]);
    w.ok(&[
        "void",
        &voided.to_string(),
        "--reason",
        "recorded twice, \"pump 2\"",
    ]);
    let amended = w.entry(&["nrs", "--mrn", "3002", "--score", "6", "--at", &at(s2, 6)]);
    let amendment = w.entry(&[
        "amend",
        &amended.to_string(),
        "--score",
        "5",
        "--reason",
        "typed 6, said 5",
    ]);
    let now = Utc::now() - Duration::minutes(1);
    let on_time = {
        let out = w.run_with(
            NURSE.0,
            NURSE.1,
            &[],
            &["dose", "--mrn", "3002", "--rate", "6", "--at", &rfc(now)],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        common::first_number(&text(&out.stdout))
    };

    // 3003: ended 57 days ago (the T2 window closed 15 days ago), no T2 in its window, a
    // T2-tagged score taken late, on day 50 after the end.
    let s3 = hours_ago(60 * 24);
    w.ok(&[
        "nrs",
        "--mrn",
        "3003",
        "--score",
        "6",
        "--at",
        &at(s3, -3),
        "--timepoint",
        "t0",
    ]);
    w.ok(&["course", "start", "--mrn", "3003", "--at", &at(s3, 0)]);
    let old_course = course_id(&w, "3003");
    w.ok(&["dose", "--mrn", "3003", "--rate", "2", "--at", &at(s3, 0)]);
    w.ok(&[
        "course",
        "end",
        "--mrn",
        "3003",
        "--at",
        &at(s3, 72),
        "--reason",
        "side-effects",
    ]);
    w.ok(&[
        "nrs",
        "--mrn",
        "3003",
        "--score",
        "3",
        "--at",
        &at(s3, 73),
        "--timepoint",
        "t1",
    ]);
    let day50_at = at(s3, 72 + 50 * 24);
    let out = w.run_with(
        "AB",
        "1234",
        &[],
        &[
            "nrs",
            "--mrn",
            "3003",
            "--score",
            "5",
            "--at",
            &day50_at,
            "--timepoint",
            "t2",
        ],
    );
    let day50 = if out.status.success() {
        common::first_number(&text(&out.stdout))
    } else {
        // A T2 tag outside the window may be refused; the score is then recorded untagged.
        w.entry(&["nrs", "--mrn", "3003", "--score", "5", "--at", &day50_at])
    };

    // 3004: no course, one pain score outside any course.
    w.ok(&[
        "nrs",
        "--mrn",
        "3004",
        "--score",
        "4",
        "--at",
        &rfc(hours_ago(5)),
    ]);

    Cohort {
        w,
        patients,
        voided,
        amended,
        amendment,
        on_time,
        day50,
        ended_course,
        running_course,
        old_course,
    }
}

impl Cohort {
    fn export(&self, who: (&str, &str), name: &str, pseudonymize: bool) -> Export {
        let dir = self.w.dir.path().join(name);
        let d = dir.to_str().unwrap();
        let mut args = vec!["export", "--out", d];
        if pseudonymize {
            args.push("--pseudonymize");
        }
        let out = self.w.run_with(who.0, who.1, &[], &args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        Export::read(&dir)
    }

    fn conn(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.w.path()).unwrap()
    }

    fn count(&self, sql: &str) -> i64 {
        self.conn().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// (study id, day offset) by MRN.
    fn pseudonyms(&self) -> BTreeMap<String, (String, i64)> {
        let conn = self.conn();
        let mut st = conn
            .prepare(
                "SELECT p.mrn, s.study_id, s.day_offset FROM pseudonym s
                 JOIN patient p ON p.id = s.patient_id",
            )
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }

    /// (study id, whole shift: days and seconds) by MRN.
    fn shifts(&self) -> BTreeMap<String, (String, Duration)> {
        let conn = self.conn();
        let mut st = conn
            .prepare(
                "SELECT p.mrn, s.study_id, s.day_offset, t.second_offset FROM pseudonym s
                 JOIN patient p ON p.id = s.patient_id
                 JOIN pseudonym_time t ON t.patient_id = s.patient_id",
            )
            .unwrap();
        st.query_map([], |r| {
            let (d, t): (i64, i64) = (r.get(2)?, r.get(3)?);
            Ok((
                r.get(0)?,
                (r.get(1)?, Duration::days(d) + Duration::seconds(t)),
            ))
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Structure: column counts, row counts against the database, versions, NA, types, codebook.

/// Column name -> codebook type, per data file; checks that the codebook lists every column of
/// every data file exactly once.
fn codebook_types(e: &Export) -> HashMap<(String, String), String> {
    let cb = &e.codebook;
    assert_eq!(
        cb.header,
        ["file", "column", "type", "unit", "description"],
        "codebook header"
    );
    let mut types = HashMap::new();
    let mut listed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &cb.rows {
        let (file, col, ty) = (cb.get(r, "file"), cb.get(r, "column"), cb.get(r, "type"));
        if file == "all" {
            continue; // the note on missing values and the file format
        }
        assert!(DATA_FILES.contains(&file), "codebook names {file:?}");
        assert!(
            types
                .insert((file.to_string(), col.to_string()), ty.to_string())
                .is_none(),
            "codebook lists {file} {col} twice"
        );
        assert!(
            ["integer", "number", "0/1", "text", "datetime", "date"].contains(&ty),
            "{file} {col}: type {ty:?}"
        );
        assert!(
            !cb.get(r, "description").is_empty(),
            "{file} {col}: no description"
        );
        listed.entry(file.into()).or_default().push(col.into());
    }
    for f in DATA_FILES {
        assert_eq!(
            listed.get(f).cloned().unwrap_or_default(),
            e.table(f).header,
            "the codebook must list every column of {f}, once, in file order"
        );
    }
    types
}

/// Every cell agrees with its codebook type; missing is written NA, never left empty.
fn check_types(e: &Export, types: &HashMap<(String, String), String>) {
    for f in DATA_FILES {
        let t = e.table(f);
        for (i, col) in t.header.iter().enumerate() {
            let ty = &types[&(f.to_string(), col.clone())];
            for r in &t.rows {
                let v = &r[i];
                assert!(
                    !v.is_empty(),
                    "{f} {col}: an empty cell (missing is NA): {r:?}"
                );
                assert_eq!(v.trim(), v, "{f} {col}: spaces around {v:?}");
                if is_na(v) {
                    continue;
                }
                let ok = match ty.as_str() {
                    "integer" => v.parse::<i64>().is_ok(),
                    "number" => v.parse::<f64>().is_ok_and(f64::is_finite),
                    "0/1" => v == "0" || v == "1",
                    "datetime" => DateTime::parse_from_rfc3339(v).is_ok(),
                    "date" => NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok(),
                    _ => true,
                };
                assert!(ok, "{f} {col} ({ty}): {v:?} in {r:?}");
            }
        }
    }
}

fn check_against_db(c: &Cohort, e: &Export) {
    let conn = c.conn();
    let n_entries = c.count("SELECT COUNT(*) FROM entry");
    assert_eq!(
        e.events.rows.len() as i64,
        n_entries,
        "one events row per entry version"
    );
    assert_eq!(
        e.courses.rows.len() as i64,
        c.count("SELECT COUNT(*) FROM course"),
        "one courses row per course"
    );
    let by_id = e.events.by("entry_id");
    assert_eq!(by_id.len() as i64, n_entries);
    let mut st = conn
        .prepare(
            "SELECT e.id, e.course_id, e.kind, e.supersedes, e.happened_at, e.recorded_at,
                    e.late, e.recorded_by, v.id IS NOT NULL,
                    EXISTS (SELECT 1 FROM entry n WHERE n.supersedes = e.id)
             FROM entry e LEFT JOIN void v ON v.entry_id = e.id ORDER BY e.id",
        )
        .unwrap();
    type Row = (
        i64,
        Option<i64>,
        String,
        Option<i64>,
        String,
        String,
        i64,
        String,
        bool,
        bool,
    );
    let rows: Vec<Row> = st
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
            ))
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let mut version: HashMap<i64, i64> = HashMap::new();
    let ev = &e.events;
    for (id, course, kind, sup, happened, recorded, late, by, voided, superseded) in rows {
        let v = sup.map_or(1, |s| version[&s] + 1);
        version.insert(id, v);
        let r = &by_id[&id.to_string()];
        let opt = |o: Option<i64>| o.map_or("NA".to_string(), |x| x.to_string());
        assert_eq!(ev.get(r, "course_id"), opt(course), "entry {id}");
        assert_eq!(ev.get(r, "event"), kind, "entry {id}");
        assert_eq!(ev.get(r, "supersedes"), opt(sup), "entry {id}");
        assert_eq!(ev.get(r, "version"), v.to_string(), "entry {id}");
        assert_eq!(
            ev.get(r, "current"),
            if superseded { "0" } else { "1" },
            "entry {id}"
        );
        assert_eq!(
            ev.get(r, "voided"),
            if voided { "1" } else { "0" },
            "entry {id}"
        );
        assert_eq!(ev.get(r, "late"), late.to_string(), "entry {id}");
        assert_eq!(ev.get(r, "recorded_by"), by, "entry {id}");
        assert_eq!(ts(ev.get(r, "happened_at")), ts(&happened), "entry {id}");
        assert_eq!(ts(ev.get(r, "recorded_at")), ts(&recorded), "entry {id}");
    }
}

#[test]
fn plain_export_is_rfc_4180_and_matches_the_record() {
    let c = cohort();
    // A physician (not only an admin) may export.
    let e = c.export(PHYSICIAN, "plain", false);
    let types = codebook_types(&e);
    check_types(&e, &types);
    check_against_db(&c, &e);
    assert_eq!(
        c.count("SELECT COUNT(*) FROM pseudonym"),
        0,
        "plain export made pseudonyms"
    );

    let ev = &e.events;
    let by_id = ev.by("entry_id");
    // Versions: the amended score and its correction.
    let old = &by_id[&c.amended.to_string()];
    let new = &by_id[&c.amendment.to_string()];
    assert_eq!(
        (
            ev.get(old, "version"),
            ev.get(old, "current"),
            ev.get(old, "supersedes")
        ),
        ("1", "0", "NA")
    );
    assert_eq!(
        (
            ev.get(new, "version"),
            ev.get(new, "current"),
            ev.get(new, "value")
        ),
        ("2", "1", "5")
    );
    assert_eq!(ev.get(new, "supersedes"), c.amended.to_string());
    assert_eq!(ev.get(old, "value"), "6");
    let v = &by_id[&c.voided.to_string()];
    assert_eq!((ev.get(v, "voided"), ev.get(v, "current")), ("1", "1"));
    assert_eq!(ev.get(&by_id[&c.on_time.to_string()], "late"), "0");
    // The comma and quotes of the side-effect detail survive the round trip.
    let se: Vec<_> = ev
        .rows
        .iter()
        .filter(|r| ev.get(r, "event") == "side-effect")
        .collect();
    assert_eq!(se.len(), 1);
    assert!(
        ev.get(se[0], "details")
            .contains("felt \"odd\", then slept"),
        "{:?}",
        ev.get(se[0], "details")
    );
    assert_eq!(ev.get(se[0], "value"), "nausea");
    // A pain score outside any course: course_id NA.
    let outside: Vec<_> = ev
        .rows
        .iter()
        .filter(|r| ev.get(r, "patient") == "3004")
        .collect();
    assert_eq!(outside.len(), 1);
    assert_eq!(ev.get(outside[0], "course_id"), "NA");
    // Units.
    for r in &ev.rows {
        let unit = ev.get(r, "unit");
        match ev.get(r, "event") {
            "rate" => assert_eq!(unit, "mg/h"),
            "nrs" => assert_eq!(unit, "NRS"),
            _ => assert_eq!(unit, "NA"),
        }
        if matches!(ev.get(r, "event"), "rate" | "nrs") {
            ev.get(r, "value").parse::<f64>().unwrap();
        }
    }

    // Courses: the finished one, the running one, the old one; no row for 3004.
    let co = &e.courses;
    let courses = co.by("course_id");
    assert_eq!(courses.len(), 3);
    assert!(!co.column("patient").contains(&"3004"));
    let done = &courses[&c.ended_course.to_string()];
    assert_eq!(co.get(done, "patient"), "3001");
    assert_eq!(co.get(done, "birth_date"), "1975-06-15");
    assert_eq!(co.get(done, "state"), "ended");
    assert_eq!(co.get(done, "end_reason"), "completed");
    assert_eq!(
        (
            co.get(done, "nrs_t0"),
            co.get(done, "nrs_t1"),
            co.get(done, "nrs_t2")
        ),
        ("8", "5", "4")
    );
    assert_eq!(co.get(done, "duration_h").parse::<f64>().unwrap(), 168.0);
    assert_eq!(co.get(done, "t1_responder"), "1");
    assert_eq!(
        co.get(done, "highest_rate_mg_h").parse::<f64>().unwrap(),
        6.0
    );
    assert_eq!(co.get(done, "step_ups"), "2");
    assert_eq!(co.get(done, "step_downs"), "1");
    assert_eq!(co.get(done, "side_effects"), "1");
    assert_eq!(co.get(done, "weight_kg").parse::<f64>().unwrap(), 72.5);
    // 2 mg/h for 4 h, 4 for 4 h, 6 for 22 h, 4 for 138 h.
    let dose = co.get(done, "total_dose_mg").parse::<f64>().unwrap();
    assert!((dose - (8.0 + 16.0 + 132.0 + 552.0)).abs() < 1e-6, "{dose}");
    let run = &courses[&c.running_course.to_string()];
    assert_eq!(co.get(run, "patient"), "3002");
    assert_eq!(co.get(run, "state"), "active");
    for col in ["ended_at", "end_reason", "nrs_t1", "nrs_t2", "t2_responder"] {
        assert_eq!(co.get(run, col), "NA", "running course, {col}");
    }
    assert_eq!(co.get(run, "nrs_t0"), "7");
    assert_eq!(co.get(run, "weight_kg"), "NA");
    let old = &courses[&c.old_course.to_string()];
    assert_eq!(co.get(old, "nrs_t2"), "NA", "a day-50 score is no T2");
    assert_eq!(co.get(old, "end_reason"), "side-effects");
    assert_eq!(co.get(old, "weight_kg"), "72.5");
    assert_eq!(co.get(old, "birth_date"), "1988-02-29");

    // Nothing that is not in the record: no names in a plain export either.
    for (f, s) in &e.raw {
        for (_, name, _) in &c.patients {
            assert!(!s.contains(name), "{f} holds the name {name}");
        }
    }
    run_pandas_check(&c, &e, None);
}

// ---------------------------------------------------------------------------------------------
// Data quality.

#[test]
fn data_quality_lists_late_voided_missing_t2_and_t2_outside_its_window() {
    let c = cohort();
    let e = c.export(("AB", "1234"), "plain", false);
    let q = &e.quality;
    let issues: BTreeSet<(String, String, String)> = q
        .rows
        .iter()
        .map(|r| {
            (
                q.get(r, "course_id").to_string(),
                q.get(r, "issue").to_string(),
                q.get(r, "entry_id").to_string(),
            )
        })
        .collect();
    let has = |course: i64, issue: &str, entry: &str| {
        issues.contains(&(course.to_string(), issue.to_string(), entry.to_string()))
    };
    assert!(
        has(c.running_course, "voided_entry", &c.voided.to_string()),
        "{issues:?}"
    );
    assert!(has(c.old_course, "missing_t2", "NA"), "{issues:?}");
    assert!(
        has(c.old_course, "t2_outside_window", &c.day50.to_string()),
        "{issues:?}"
    );
    // Every late entry, and only those, is listed as late.
    let ev = &e.events;
    let late: BTreeSet<String> = ev
        .rows
        .iter()
        .filter(|r| ev.get(r, "late") == "1")
        .map(|r| ev.get(r, "entry_id").to_string())
        .collect();
    let listed: BTreeSet<String> = q
        .rows
        .iter()
        .filter(|r| q.get(r, "issue") == "late_entry")
        .map(|r| q.get(r, "entry_id").to_string())
        .collect();
    assert_eq!(late, listed);
    assert!(!late.contains(&c.on_time.to_string()));
    assert!(late.contains(&c.day50.to_string()));
    // The voided one is listed with its reason (comma and quotes intact).
    let v = q
        .rows
        .iter()
        .find(|r| q.get(r, "issue") == "voided_entry")
        .unwrap();
    assert!(
        q.get(v, "details").contains("recorded twice, \"pump 2\""),
        "{v:?}"
    );
    // Nothing else is wrong with this cohort: the finished course is complete, the running
    // one has its T0 and is not yet due a T1 or T2.
    for (course, issue, _) in &issues {
        if issue == "late_entry" || issue == "voided_entry" {
            continue;
        }
        assert_eq!(
            course,
            &c.old_course.to_string(),
            "{issue} for course {course}"
        );
    }
    assert_eq!(
        issues.iter().filter(|(_, i, _)| i != "late_entry").count(),
        3,
        "{issues:?}"
    );
    // The issue names are the codebook's.
    for r in &q.rows {
        assert!(
            [
                "missing_t0",
                "missing_t1",
                "missing_t2",
                "t2_outside_window",
                "late_entry",
                "voided_entry"
            ]
            .contains(&q.get(r, "issue")),
            "{r:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Pseudonymised.

/// Every YYYY-MM-DD in a text.
fn dates_in(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    for i in 0..b.len().saturating_sub(9) {
        if !(s.is_char_boundary(i) && s.is_char_boundary(i + 10)) {
            continue;
        }
        let w = &s[i..i + 10];
        if b[i + 4] == b'-'
            && (i == 0 || !b[i - 1].is_ascii_digit())
            && NaiveDate::parse_from_str(w, "%Y-%m-%d").is_ok()
        {
            out.push(w.to_string());
        }
    }
    out
}

/// A time in the plain export and the same time in the pseudonymised one.
type Pair = (DateTime<Utc>, DateTime<Utc>);

/// Every RFC 3339 timestamp (as written by titrate: ...Z) in a text.
fn stamps_in(s: &str) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 20 <= s.len() {
        if s.is_char_boundary(i)
            && s.is_char_boundary(i + 20)
            && let Ok(t) = DateTime::parse_from_rfc3339(&s[i..i + 20])
        {
            out.push(t.with_timezone(&Utc));
            i += 20;
            continue;
        }
        i += 1;
    }
    out
}

#[test]
fn pseudonymised_export_hides_identity_keeps_intervals_and_is_stable() {
    let c = cohort();
    let n_patients = c.count("SELECT COUNT(*) FROM patient");
    assert_eq!(n_patients, 4);

    // A nurse is refused, naming the role needed, and nothing is written or made.
    for pseudo in [false, true] {
        let dir = c.w.dir.path().join(format!("nurse-{pseudo}"));
        let mut args = vec!["export", "--out", dir.to_str().unwrap()];
        if pseudo {
            args.push("--pseudonymize");
        }
        let out = c.w.run_with(NURSE.0, NURSE.1, &[], &args);
        assert!(!out.status.success(), "a nurse exported");
        assert!(
            text(&out.stderr).contains("physician"),
            "{}",
            text(&out.stderr)
        );
        assert!(!dir.exists(), "a refused export wrote {}", dir.display());
    }
    assert_eq!(c.count("SELECT COUNT(*) FROM pseudonym"), 0);

    let plain = c.export(("AB", "1234"), "plain", false);
    assert_eq!(c.count("SELECT COUNT(*) FROM pseudonym"), 0);
    let p1 = c.export(PHYSICIAN, "pseudo1", true);
    let made = c.pseudonyms();
    assert_eq!(made.len() as i64, n_patients, "one pseudonym per patient");
    let p2 = c.export(("AB", "1234"), "pseudo2", true);
    assert_eq!(c.pseudonyms(), made, "a re-export changed the pseudonyms");

    // Study ids: "S" and digits, random (the unit tests of ward::research show they do not
    // count up), distinct, never the MRN.
    let ids: BTreeSet<_> = made.values().map(|(s, _)| s.clone()).collect();
    assert_eq!(ids.len(), made.len());
    for (mrn, (sid, off)) in &made {
        assert!(
            sid.len() >= 7 && sid.starts_with('S') && sid[1..].parse::<u32>().is_ok(),
            "{sid}"
        );
        assert!(!sid.contains(mrn.as_str()));
        assert!(*off != 0 && off.abs() <= 365, "{off}");
    }

    // 3002's course runs: she is left out, with all her entries and courses, and the data
    // quality list says one patient was (a row of its own, patient NA).
    let kept = |t: &Table| {
        t.rows
            .iter()
            .filter(|r| t.get(r, "patient") != "3002")
            .count()
    };
    let (sid_3002, _) = &made["3002"];
    for e in [&p1, &p2] {
        let types = codebook_types(e);
        check_types(e, &types);
        assert_eq!(e.events.rows.len(), kept(&plain.events));
        assert_eq!(e.courses.rows.len(), kept(&plain.courses));
        assert_eq!(e.quality.rows.len(), kept(&plain.quality) + 1);
        let left: Vec<_> = e
            .quality
            .rows
            .iter()
            .filter(|r| e.quality.get(r, "issue") == "left_out_running")
            .collect();
        assert_eq!(left.len(), 1, "{:?}", e.quality.rows);
        assert!(is_na(e.quality.get(left[0], "patient")));
        assert!(is_na(e.quality.get(left[0], "course_id")));
        assert!(
            e.quality
                .get(left[0], "details")
                .starts_with("1 patient(s)"),
            "{left:?}"
        );
        for (f, text) in &e.raw {
            assert!(
                !text.contains(sid_3002.as_str()),
                "{f}: the running patient"
            );
        }
        for f in DATA_FILES {
            let t = e.table(f);
            for r in &t.rows {
                let v = t.get(r, "patient");
                if f == "data_quality.csv" && t.get(r, "issue") == "left_out_running" {
                    continue;
                }
                assert!(ids.contains(v), "{f}: patient {v:?} is not a study id");
            }
        }
        // Staff are their role, never their id.
        for v in e.events.column("recorded_by") {
            assert!(["nurse", "physician", "admin"].contains(&v), "{v}");
        }
        check_pseudonymised_ids(e);
    }

    // No name, MRN or birth date anywhere; no real date (of any patient) unless it is the
    // shifted image of one of that row's patient's own dates (a coincidence, checked below
    // field by field).
    let mut real_dates: BTreeSet<String> = BTreeSet::new();
    for (t, cols) in [
        (&plain.events, &["happened_at", "recorded_at"][..]),
        (&plain.courses, &["started_at", "ended_at"][..]),
    ] {
        for col in cols {
            for v in t.column(col) {
                if !is_na(v) {
                    real_dates.insert(v[..10].to_string());
                }
            }
        }
    }
    let offset_of_sid: HashMap<String, i64> = made.values().cloned().collect();
    let mut coincidences = Vec::new();
    for e in [&p1, &p2] {
        for (f, s) in &e.raw {
            for (mrn, name, birth) in &c.patients {
                assert!(!s.contains(name), "{f} holds the name {name}");
                assert!(!s.contains(birth), "{f} holds the birth date {birth}");
                for part in name.split([' ', ',', '"']).filter(|p| p.len() > 3) {
                    assert!(!s.contains(part), "{f} holds {part:?} of a name");
                }
                // The MRN as a whole field (numbers such as ages or doses may hold its digits).
                if f != "codebook.csv" {
                    let t = e.table(f);
                    for r in &t.rows {
                        assert!(!r.iter().any(|v| v == mrn), "{f} holds MRN {mrn}: {r:?}");
                        assert!(
                            !r.iter().any(|v| v.contains(&format!("MRN {mrn}"))),
                            "{f}: {r:?}"
                        );
                    }
                }
            }
            for typed in ["felt", "pump 2", "typed 6", "bed 3"] {
                assert!(
                    !s.contains(typed),
                    "{f}: free text {typed:?} in a pseudonymised export"
                );
            }
            if f == "codebook.csv" {
                assert!(dates_in(s).is_empty(), "a date in the codebook");
                continue;
            }
            let t = e.table(f);
            for r in &t.rows {
                let Some(&off) = offset_of_sid.get(t.get(r, "patient")) else {
                    assert_eq!(t.get(r, "issue"), "left_out_running", "{r:?}");
                    continue;
                };
                for cell in r {
                    for d in dates_in(cell) {
                        if real_dates.contains(&d) {
                            // The offset below a day may carry a time over midnight.
                            let back = NaiveDate::parse_from_str(&d, "%Y-%m-%d").unwrap()
                                - Duration::days(off);
                            let before = back - Duration::days(1);
                            assert!(
                                real_dates.contains(&back.to_string())
                                    || real_dates.contains(&before.to_string())
                                    || f == "data_quality.csv",
                                "{f}: the real date {d} in {r:?}"
                            );
                            coincidences.push(format!("{f} {d} (offset {off})"));
                        }
                    }
                }
            }
        }
    }
    if !coincidences.is_empty() {
        println!(
            "note: {} shifted date(s) happen to equal a real date of the cohort \
             (small or overlapping per-patient offsets): {:?}",
            coincidences.len(),
            &coincidences[..coincidences.len().min(5)]
        );
    }

    // Field by field. The ids are renumbered, so each plain row is found by what it holds:
    // its patient's study id, its times shifted by that patient's offset (days and seconds)
    // (no real time of an event is in its own row, every interval is exact), its event and
    // value. Exactly one pseudonymised row must match.
    let shifts = c.shifts();
    let sid_of_mrn: HashMap<&str, (&str, Duration)> = shifts
        .iter()
        .map(|(m, (s, o))| (m.as_str(), (s.as_str(), *o)))
        .collect();
    let role = |staff: &str| match staff {
        "AB" => "admin",
        "NU" => "nurse",
        "PH" => "physician",
        other => panic!("unknown staff {other}"),
    };
    let pev = &p1.events;
    let ev = &plain.events;
    let mut entry_map: HashMap<String, String> = HashMap::new();
    let mut course_map: HashMap<String, String> = HashMap::new();
    let mut times: BTreeMap<String, Vec<Pair>> = BTreeMap::new();
    let ev_rows: Vec<&Vec<String>> = ev
        .rows
        .iter()
        .filter(|r| ev.get(r, "patient") != "3002")
        .collect();
    for r in ev_rows.iter().copied() {
        let id = ev.get(r, "entry_id");
        let (sid, off) = sid_of_mrn[ev.get(r, "patient")];
        let shifted = |col: &str| ts(ev.get(r, col)) + off;
        let found: Vec<&Vec<String>> = pev
            .rows
            .iter()
            .filter(|p| {
                pev.get(p, "patient") == sid
                    && ts(pev.get(p, "happened_at")) == shifted("happened_at")
                    && ts(pev.get(p, "recorded_at")) == shifted("recorded_at")
                    && ["event", "value", "version"]
                        .iter()
                        .all(|c| pev.get(p, c) == ev.get(r, c))
            })
            .collect();
        assert_eq!(found.len(), 1, "entry {id}: {found:?}");
        let p = found[0];
        for col in ["happened_at", "recorded_at"] {
            assert_ne!(
                ts(ev.get(r, col)).date_naive(),
                ts(pev.get(p, col)).date_naive()
            );
        }
        assert!(
            entry_map
                .insert(id.to_string(), pev.get(p, "entry_id").to_string())
                .is_none()
        );
        let (a, b) = (ev.get(r, "course_id"), pev.get(p, "course_id"));
        assert_eq!(is_na(a), is_na(b), "entry {id} course");
        if !is_na(a) {
            let prev = course_map.insert(a.to_string(), b.to_string());
            assert!(
                prev.as_deref().is_none_or(|x| x == b),
                "course {a} is {b} and {prev:?}"
            );
        }
        times
            .entry(sid.to_string())
            .or_default()
            .push((ts(ev.get(r, "happened_at")), ts(pev.get(p, "happened_at"))));
        for col in ["unit", "current", "voided", "late"] {
            assert_eq!(ev.get(r, col), pev.get(p, col), "entry {id} {col}");
        }
        assert_eq!(pev.get(p, "recorded_by"), role(ev.get(r, "recorded_by")));
    }
    // Corrections point at the same versions, by their new ids.
    for r in ev_rows.iter().copied() {
        let p = &p1.events.by("entry_id")[&entry_map[ev.get(r, "entry_id")]];
        let sup = ev.get(r, "supersedes");
        let want = if is_na(sup) { "NA" } else { &entry_map[sup] };
        assert_eq!(pev.get(p, "supersedes"), want);
    }
    // The details keep coded parts only.
    for r in &pev.rows {
        let d = pev.get(r, "details");
        match pev.get(r, "event") {
            "course-start" | "course-end" => assert_eq!(d, "NA"),
            "rate" => assert!(d == "NA" || d == "confirmed", "{d}"),
            "nrs" | "success" => assert!(is_na(d) || ["t0", "t1", "t2"].contains(&d), "{d}"),
            "side-effect" => assert_eq!(d, "severity moderate; action rate-lowered; rate 6 mg/h"),
            other => panic!("{other}"),
        }
    }
    for (sid, ts) in &times {
        let mut ts = ts.clone();
        ts.sort();
        for w in ts.windows(2) {
            assert_eq!(
                w[1].0 - w[0].0,
                w[1].1 - w[0].1,
                "{sid}: an interval changed"
            );
        }
    }
    let pc = p1.courses.by("course_id");
    let co = &plain.courses;
    for r in co.rows.iter().filter(|r| co.get(r, "patient") != "3002") {
        let id = co.get(r, "course_id");
        let p = &pc[&course_map[id]];
        let (sid, off) = sid_of_mrn[co.get(r, "patient")];
        assert_eq!(p1.courses.get(p, "patient"), sid);
        for col in ["started_at", "ended_at"] {
            let (a, b) = (co.get(r, col), p1.courses.get(p, col));
            if is_na(a) {
                assert_eq!(b, "NA");
            } else {
                assert_eq!(ts(b) - ts(a), off, "course {id} {col}");
            }
        }
        assert!(
            p1.courses.get(p, "protocol").starts_with("sha256:"),
            "the protocol's name is typed text"
        );
        // One course each: the age at the first course is the age at this one.
        for col in [
            "age_at_start",
            "sex",
            "weight_kg",
            "crps_type",
            "disease_years",
            "state",
            "end_reason",
            "nrs_t0",
            "nrs_t1",
            "nrs_t2",
            "t1_responder",
            "t2_responder",
            "highest_rate_mg_h",
            "step_ups",
            "step_downs",
            "side_effects",
        ] {
            assert_eq!(co.get(r, col), p1.courses.get(p, col), "course {id} {col}");
        }
        if co.get(r, "state") == "ended" {
            for col in ["duration_h", "total_dose_mg", "hours_at_max"] {
                assert_eq!(co.get(r, col), p1.courses.get(p, col), "course {id} {col}");
            }
        }
    }
    // No running course is written, so none is measured to anything.
    assert!(
        p1.courses
            .column("state")
            .iter()
            .all(|s| *s != "active" && *s != "running"),
        "{:?}",
        p1.courses.column("state")
    );

    // Data quality: the same issues, their times shifted likewise, their ids renumbered.
    let q = &plain.quality;
    let pq = &p1.quality;
    for r in q.rows.iter().filter(|r| q.get(r, "patient") != "3002") {
        let (sid, off) = sid_of_mrn[q.get(r, "patient")];
        let course = q.get(r, "course_id");
        let course = if is_na(course) {
            "NA"
        } else {
            &course_map[course]
        };
        let entry = q.get(r, "entry_id");
        let entry = if is_na(entry) {
            "NA"
        } else {
            &entry_map[entry]
        };
        let found: Vec<_> = pq
            .rows
            .iter()
            .filter(|p| {
                pq.get(p, "patient") == sid
                    && pq.get(p, "course_id") == course
                    && pq.get(p, "issue") == q.get(r, "issue")
                    && pq.get(p, "entry_id") == entry
            })
            .collect();
        assert_eq!(found.len(), 1, "{r:?}: {found:?}");
        let p = found[0];
        let (a, b) = (
            stamps_in(q.get(r, "details")),
            stamps_in(pq.get(p, "details")),
        );
        assert_eq!(a.len(), b.len(), "{r:?} / {p:?}");
        for (a, b) in a.iter().zip(&b) {
            assert_eq!(*b - *a, off, "{r:?} / {p:?}");
        }
        if q.get(r, "issue") == "voided_entry" {
            assert_eq!(pq.get(p, "details"), "rate", "no void reason");
        }
    }

    // Re-export, seconds later in real time: every file is byte-identical (nothing is
    // measured to the real time of the export).
    for (a, b) in p1.raw.iter().zip(&p2.raw) {
        assert_eq!(a, b, "{} differs between exports", a.0);
    }

    // The audit trail is sound after all this.
    let v = c.w.ok(&["audit", "verify"]);
    assert!(v.contains("audit chain sound"), "{v}");
    run_pandas_check(&c, &p1, Some("3002"));
}

/// A pseudonymised export's ids are its own: entries and courses numbered 1, 2, ... in file
/// order; patients in study-id order, each patient's rows together and in time order. So
/// they follow neither the database's ids nor the order of recording across patients.
fn check_pseudonymised_ids(e: &Export) {
    let ev = &e.events;
    let ids: Vec<i64> = ev
        .column("entry_id")
        .iter()
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>(), "entry ids");
    let patients: Vec<&str> = ev.column("patient");
    let mut blocks = patients.clone();
    blocks.dedup();
    let mut sorted = blocks.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(blocks, sorted, "patients in study-id order, each once");
    for w in ev.rows.windows(2) {
        if ev.get(&w[0], "patient") == ev.get(&w[1], "patient") {
            assert!(
                ts(ev.get(&w[0], "happened_at")) <= ts(ev.get(&w[1], "happened_at")),
                "{w:?}"
            );
        }
    }
    let co = &e.courses;
    let ids: Vec<i64> = co
        .column("course_id")
        .iter()
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(
        ids,
        (1..=ids.len() as i64).collect::<Vec<_>>(),
        "course ids"
    );
    let mut course_patients = co.column("patient");
    let before = course_patients.clone();
    course_patients.sort();
    assert_eq!(before, course_patients, "courses in study-id order");
}

// ---------------------------------------------------------------------------------------------
// pandas, when installed.

/// `left_out`: the MRN of a patient the export leaves out (a running course, pseudonymised).
fn run_pandas_check(c: &Cohort, e: &Export, left_out: Option<&str>) {
    let has_pandas = std::process::Command::new("python3")
        .args(["-c", "import pandas"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_pandas {
        println!("note: python3 with pandas not found; the pandas read-back check is skipped");
        return;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/export_check.py"
    );
    let not_left = match left_out {
        Some(mrn) => format!("patient_id <> (SELECT id FROM patient WHERE mrn = '{mrn}')"),
        None => "1".to_string(),
    };
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(&e.dir)
        .args([
            "--events",
            &c.count(&format!("SELECT COUNT(*) FROM entry WHERE {not_left}"))
                .to_string(),
            "--courses",
            &c.count(&format!("SELECT COUNT(*) FROM course WHERE {not_left}"))
                .to_string(),
            "--quality",
            &e.quality.rows.len().to_string(),
        ])
        .output()
        .unwrap();
    println!("{}", text(&out.stdout));
    assert!(
        out.status.success(),
        "export_check.py failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// A pseudonymised export tells nothing it must hide. Rather than guess which column might
// give something away, these tests change what must stay secret and ask for the same bytes:
// the real time of the export, the real dates (with the secret shift changed to match, so
// the shifted dates stay), the database's ids and the order things were recorded in across
// patients, who recorded them, and every piece of typed text. A column that leaks any of
// these, now or added later, makes a file differ.

use titrate::config::Config;
use titrate::domain::record::PatientRecord;
use titrate::report::export::{Files, Pseudonymise, export};
use titrate::store::Db;
use titrate::ward::{load_all, research};

fn files(f: &Files) -> [(&'static str, &str); 4] {
    [
        ("events.csv", &f.events),
        ("courses.csv", &f.courses),
        ("codebook.csv", &f.codebook),
        ("data_quality.csv", &f.data_quality),
    ]
}

fn same(what: &str, a: &Files, b: &Files) {
    for ((name, x), (_, y)) in files(a).iter().zip(files(b)) {
        if *x != y {
            let line = x
                .lines()
                .zip(y.lines())
                .find(|(l, m)| l != m)
                .map(|(l, m)| format!("\n  {l}\n  {m}"))
                .unwrap_or_default();
            panic!("{what}: {name} differs{line}");
        }
    }
}

fn differs(what: &str, a: &Files, b: &Files) {
    assert!(
        files(a)
            .iter()
            .zip(files(b))
            .any(|((_, x), (_, y))| *x != y),
        "{what}: the change did not reach the plain export, so it proves nothing"
    );
}

/// Every real time and date of patient `i` moved by `-days`: what the record would hold
/// had everything happened that much earlier.
fn move_dates(rec: &mut PatientRecord, days: i64) {
    let d = Duration::days(days);
    let p = &mut rec.patient;
    p.created_at -= d;
    p.data.birth_date -= d;
    p.data.crps_onset = p.data.crps_onset.map(|o| o - d);
    for c in &mut rec.courses {
        c.created_at -= d;
    }
    for e in &mut rec.entries {
        e.happened_at -= d;
        e.recorded_at -= d;
        if let Some(v) = &mut e.void {
            v.voided_at -= d;
        }
    }
}

/// New database ids: patients, courses and entries numbered again with the patients taken
/// in reverse order, so that the order of recording across patients is turned round (within
/// a patient it stays: the record's own rules read it there).
fn renumber(records: &mut [PatientRecord], pz: &mut Pseudonymise) {
    let mut next = 5000;
    let mut take = || {
        next += 7;
        next
    };
    let mut pseudonyms = HashMap::new();
    for rec in records.iter_mut().rev() {
        let pid = take();
        pseudonyms.insert(pid, pz.pseudonyms[&rec.patient.id].clone());
        rec.patient.id = pid;
        let mut courses = HashMap::new();
        for c in &mut rec.courses {
            let id = take();
            courses.insert(c.id, id);
            c.id = id;
            c.patient_id = pid;
            c.protocol_id += 1000;
        }
        let mut sorted: Vec<i64> = rec.entries.iter().map(|e| e.id).collect();
        sorted.sort();
        let entries: HashMap<i64, i64> = sorted.into_iter().map(|id| (id, take())).collect();
        for e in &mut rec.entries {
            e.id = entries[&e.id];
            e.patient_id = pid;
            e.course_id = e.course_id.map(|c| courses[&c]);
            e.supersedes = e.supersedes.map(|s| entries[&s]);
        }
    }
    pz.pseudonyms = pseudonyms;
    // The store hands patients over in id order.
    records.reverse();
}

/// Other staff ids with the same roles.
fn rename_staff(records: &mut [PatientRecord], pz: &mut Pseudonymise) {
    let other = |id: &str| format!("Z{id}9");
    for rec in records.iter_mut() {
        rec.patient.created_by = other(&rec.patient.created_by);
        for e in &mut rec.entries {
            e.recorded_by = other(&e.recorded_by);
            if let Some(v) = &mut e.void {
                v.voided_by = other(&v.voided_by);
            }
        }
    }
    pz.roles = pz.roles.iter().map(|(id, r)| (other(id), *r)).collect();
}

/// Every piece of typed text replaced: names, MRNs, limbs, beds, reasons, descriptions.
fn retype(records: &mut [PatientRecord]) {
    use titrate::domain::entry::EntryData;
    let t = |s: &mut String| *s = format!("{} retyped, Maria J 12", s.len());
    for rec in records.iter_mut() {
        let p = &mut rec.patient.data;
        t(&mut p.name);
        t(&mut p.mrn);
        p.limb = Some("right leg".into());
        for e in &mut rec.entries {
            e.amend_reason = Some("another reason".into());
            if let Some(v) = &mut e.void {
                t(&mut v.reason);
            }
            match &mut e.data {
                EntryData::CourseStart { bed } => *bed = Some("Maria J 12".into()),
                EntryData::Rate { confirm_reason, .. } => {
                    *confirm_reason = confirm_reason.as_ref().map(|r| format!("{r} (by phone)"))
                }
                EntryData::SideEffect { detail, .. } => *detail = Some("said \"Jan\" twice".into()),
                _ => {}
            }
        }
    }
}

#[test]
fn pseudonymised_export_depends_on_nothing_it_must_hide() {
    let c = cohort();
    let cfg = Config::load(Some(Path::new(common::CONFIG))).unwrap();
    let mut db = Db::open(c.w.path()).unwrap();
    let admin = db.read(|r| r.staff("AB")).unwrap().unwrap();
    let now = Utc::now();
    let pz = research::pseudonymisation(&mut db, &admin, &cfg.side_effect_kinds, now).unwrap();
    let mut records = db.read(load_all).unwrap();
    assert_eq!(records.len(), 4);
    // 3001's course ended 33 days ago: without her T2 score, her T2 window (days 21 to 42)
    // is open now and closed in a week. Whether it has closed must not show.
    for rec in &mut records {
        if rec.patient.data.mrn == "3001" {
            rec.entries.retain(|e| {
                !matches!(
                    e.data,
                    titrate::domain::entry::EntryData::Nrs {
                        timepoint: Some(titrate::domain::values::Timepoint::T2),
                        ..
                    }
                )
            });
        }
    }
    let base = export(&records, Some(&pz), now);
    let plain = export(&records, None, now);
    let pz_again = || Pseudonymise {
        pseudonyms: pz.pseudonyms.clone(),
        roles: pz.roles.clone(),
        side_effect_kinds: pz.side_effect_kinds.clone(),
    };

    // 1. The real time of the export: a second, a year or three years later.
    for later in [
        Duration::seconds(1),
        Duration::days(400),
        Duration::days(1100),
    ] {
        same(
            &format!("exported {later} later"),
            &base,
            &export(&records, Some(&pz), now + later),
        );
        differs("export time", &plain, &export(&records, None, now + later));
    }

    // 2. The real dates, each patient by a different amount, the secret shift changed to
    // match. Whole four-year cycles keep every birthday on its calendar day, so the real
    // ages are the same; the weekday and the year of every real date change.
    let mut moved = records.clone();
    let mut pz2 = pz_again();
    for (i, rec) in moved.iter_mut().enumerate() {
        let days = 1461 * (i as i64 + 1) * if i % 2 == 0 { 1 } else { -1 };
        move_dates(rec, days);
        pz2.pseudonyms.get_mut(&rec.patient.id).unwrap().1 += days;
    }
    same("real dates moved", &base, &export(&moved, Some(&pz2), now));
    differs("real dates", &plain, &export(&moved, None, now));

    // 3. The database's ids and the order of recording across patients.
    let mut renumbered = records.clone();
    let mut pz3 = pz_again();
    renumber(&mut renumbered, &mut pz3);
    same(
        "ids and recording order",
        &base,
        &export(&renumbered, Some(&pz3), now),
    );
    differs("ids", &plain, &export(&renumbered, None, now));

    // 4. Who recorded it, with the same roles.
    let mut renamed = records.clone();
    let mut pz4 = pz_again();
    rename_staff(&mut renamed, &mut pz4);
    same("staff ids", &base, &export(&renamed, Some(&pz4), now));
    differs("staff ids", &plain, &export(&renamed, None, now));

    // 5. Every piece of typed text.
    let mut retyped = records.clone();
    retype(&mut retyped);
    same("typed text", &base, &export(&retyped, Some(&pz), now));
    differs("typed text", &plain, &export(&retyped, None, now));

    // All at once, at another time.
    let mut all = records.clone();
    let mut pz5 = pz_again();
    for (i, rec) in all.iter_mut().enumerate() {
        let days = -1461 * (i as i64 + 2);
        move_dates(rec, days);
        pz5.pseudonyms.get_mut(&rec.patient.id).unwrap().1 += days;
    }
    renumber(&mut all, &mut pz5);
    rename_staff(&mut all, &mut pz5);
    retype(&mut all);
    same(
        "everything secret changed",
        &base,
        &export(&all, Some(&pz5), now + Duration::days(77)),
    );

    // And what the binary writes is what this function gives, on another day.
    let e = c.export(PHYSICIAN, "pseudo", true);
    let records = db.read(load_all).unwrap();
    let later = export(&records, Some(&pz), now + Duration::days(30));
    for (name, text) in files(&later) {
        let written = &e.raw.iter().find(|(f, _)| f == name).unwrap().1;
        assert_eq!(written, text, "{name}: the binary's export differs");
    }
}

/// A second course for a patient, 200 days after the first with a birthday in between: the
/// ages of a pseudonymised export do not put the birthday between the two courses (with a
/// known birth date, that would narrow the shift to those 200 days).
#[test]
fn ages_do_not_date_a_birthday_between_courses() {
    let c = cohort();
    let cfg = Config::load(Some(Path::new(common::CONFIG))).unwrap();
    let mut db = Db::open(c.w.path()).unwrap();
    let admin = db.read(|r| r.staff("AB")).unwrap().unwrap();
    let now = Utc::now();
    let pz = research::pseudonymisation(&mut db, &admin, &cfg.side_effect_kinds, now).unwrap();
    let mut records = db.read(load_all).unwrap();
    // 3001's course started 40 days ago; give her a birthday 20 days later and a second
    // course (a copy of the first) 200 days after the first.
    let rec = records
        .iter_mut()
        .find(|r| r.patient.data.mrn == "3001")
        .unwrap();
    let first = rec
        .entries
        .iter()
        .filter(|e| e.kind() == titrate::domain::entry::EntryKind::CourseStart)
        .map(|e| e.happened_at)
        .min()
        .unwrap();
    use chrono::Datelike;
    let bday = (first + Duration::days(20)).date_naive();
    rec.patient.data.birth_date = bday.with_year(bday.year() - 40).unwrap();
    let mut copy = rec.clone();
    move_dates(&mut copy, -200);
    let course = copy.courses[0].clone();
    let max_entry = rec.entries.iter().map(|e| e.id).max().unwrap();
    for e in &mut copy.entries {
        e.id += max_entry;
        e.supersedes = e.supersedes.map(|s| s + max_entry);
        e.course_id = e.course_id.map(|_| course.id + 1000);
    }
    let mut course2 = course;
    course2.id += 1000;
    course2.created_at += Duration::days(200);
    rec.courses.push(course2);
    rec.entries.extend(copy.entries);
    let rec = records
        .iter()
        .find(|r| r.patient.data.mrn == "3001")
        .unwrap();
    assert_eq!(rec.views().len(), 2);

    let plain = export(&records, None, now);
    let p = Table::parse("courses.csv", &plain.courses);
    let ages: Vec<&str> = p
        .rows
        .iter()
        .filter(|r| p.get(r, "patient") == "3001")
        .map(|r| p.get(r, "age_at_start"))
        .collect();
    assert_eq!(
        ages,
        ["39", "40"],
        "the real ages: a birthday between the courses"
    );
    let pseudo = export(&records, Some(&pz), now);
    let sid = &pz.pseudonyms[&rec.patient.id].0;
    let t = Table::parse("courses.csv", &pseudo.courses);
    let ages: Vec<&str> = t
        .rows
        .iter()
        .filter(|r| t.get(r, "patient") == sid)
        .map(|r| t.get(r, "age_at_start"))
        .collect();
    assert_eq!(
        ages,
        ["39", "39"],
        "the first course's age and the whole years since"
    );
}

/// Every text field the command line takes, filled with a marker that is stored (checked in
/// the database), and none of it in any file of a pseudonymised export: not as typed, not
/// in part, not in any case.
#[test]
fn no_typed_text_reaches_a_pseudonymised_export() {
    let w = Ward::new();
    let nurse = w.run_with(
        "AB",
        "1234",
        &[("TITRATE_NEW_PIN", "5678")],
        &[
            "staff",
            "add",
            "--id",
            "QZNU",
            "--name",
            "Qzstaffname",
            "--role",
            "nurse",
        ],
    );
    assert!(nurse.status.success(), "{}", text(&nurse.stderr));
    w.ok(&[
        "patient",
        "add",
        "--mrn",
        "QZMRN-12",
        "--name",
        "Qzname Maria",
        "--birth-date",
        "1970-01-02",
        "--sex",
        "female",
        "--weight-kg",
        "70",
        "--crps-type",
        "2",
        "--crps-onset",
        "2020-05-05",
        "--limb",
        "Qzlimb left",
    ]);
    let s = hours_ago(30);
    let at = |h: i64| rfc(s + Duration::hours(h));
    fn m<'a>(args: &[&'a str]) -> Vec<&'a str> {
        let mut a = args.to_vec();
        a.extend(["--mrn", "QZMRN-12"]);
        a
    }
    w.ok(&m(&[
        "nrs",
        "--score",
        "7",
        "--timepoint",
        "t0",
        "--at",
        &at(-1),
    ]));
    let start = w.entry(&m(&[
        "course",
        "start",
        "--at",
        &at(0),
        "--bed",
        "Qzbed 12",
    ]));
    w.ok(&m(&["dose", "--rate", "2", "--at", &at(0)]));
    let confirmed = w.entry(&m(&[
        "dose",
        "--rate",
        "4",
        "--at",
        &at(1),
        "--confirm",
        "--reason",
        "Qzconfirm",
    ]));
    let effect = w.entry(&m(&[
        "side-effect",
        "--kind",
        "other",
        "--detail",
        "Qzdetail",
        "--severity",
        "mild",
        "--action",
        "none",
        "--at",
        &at(2),
    ]));
    w.ok(&[
        "amend",
        &effect.to_string(),
        "--detail",
        "Qzamenddetail",
        "--reason",
        "Qzamendreason one",
    ]);
    w.ok(&[
        "amend",
        &start.to_string(),
        "--bed",
        "Qzambed7",
        "--reason",
        "Qzamendreason two",
    ]);
    w.ok(&[
        "amend",
        &confirmed.to_string(),
        "--rate",
        "6",
        "--confirm",
        "--confirm-reason",
        "Qzamendconfirm",
        "--reason",
        "Qzamendreason three",
    ]);
    let twice = w.entry(&m(&["dose", "--rate", "6", "--at", &at(3)]));
    w.ok(&["void", &twice.to_string(), "--reason", "Qzvoid twice"]);
    let out = w.run_with(
        "QZNU",
        "5678",
        &[],
        &m(&["nrs", "--score", "5", "--at", &at(4)]),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    w.ok(&m(&["course", "end", "--at", &at(20), "--reason", "other"]));

    let markers = [
        "qzstaffname",
        "qzname",
        "qzmrn",
        "qzlimb",
        "qzbed",
        "qzconfirm",
        "qzdetail",
        "qzamenddetail",
        "qzamendreason",
        "qzambed",
        "qzamendconfirm",
        "qzvoid",
        "maria",
        "qznu",
    ];
    // Each is in the record: the test would prove nothing otherwise.
    let stored = stored_text(w.path()).to_lowercase();
    for mark in markers {
        assert!(stored.contains(mark), "{mark} is not in the database");
    }
    let dir = w.dir.path().join("pseudo");
    let out = w.run_with(
        "AB",
        "1234",
        &[],
        &["export", "--out", dir.to_str().unwrap(), "--pseudonymize"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let e = Export::read(&dir);
    for (f, s) in &e.raw {
        let s = s.to_lowercase();
        for mark in markers.iter().chain(&["qz", "anna", "boer"]) {
            assert!(!s.contains(mark), "{f} holds {mark:?}:\n{s}");
        }
    }
    assert!(!e.events.column("recorded_by").contains(&"AB"));
    let roles: BTreeSet<&str> = e.events.column("recorded_by").into_iter().collect();
    assert_eq!(roles, BTreeSet::from(["admin", "nurse"]));
    // The plain export does hold what it always held: the markers were there to leak.
    let plain = w.dir.path().join("plain");
    w.ok(&["export", "--out", plain.to_str().unwrap()]);
    let p = Export::read(&plain);
    let all: String = p.raw.iter().map(|(_, s)| s.to_lowercase()).collect();
    for mark in [
        "qzbed",
        "qzconfirm",
        "qzamenddetail",
        "qzvoid",
        "qzmrn",
        "qznu",
    ] {
        assert!(all.contains(mark), "the plain export lost {mark}");
    }
}

/// Every text value of every table, one after another.
fn stored_text(db: &Path) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let mut out = String::new();
    for t in tables {
        let mut st = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            for i in 0..n {
                if let rusqlite::types::ValueRef::Text(b) = r.get_ref(i).unwrap() {
                    out.push_str(&String::from_utf8_lossy(b));
                    out.push('\n');
                }
            }
        }
    }
    out
}

/// Every real time of `rec` moved by `-secs` seconds, and its dates (birth, onset) by the
/// calendar days its first course's start moved: what the record would hold had everything
/// happened that much earlier in the day.
fn move_seconds(rec: &mut PatientRecord, secs: i64) {
    let d = Duration::seconds(secs);
    // The export counts calendar days from birth and onset to the first course start
    // (then adds exact intervals), so the dates move by the days that start crossed.
    let first = rec.views().iter().filter_map(|v| v.started_at()).min();
    if let Some(first) = first {
        let days = first.date_naive() - (first - d).date_naive();
        let p = &mut rec.patient.data;
        p.birth_date -= days;
        p.crps_onset = p.crps_onset.map(|o| o - days);
    }
    rec.patient.created_at -= d;
    for c in &mut rec.courses {
        c.created_at -= d;
    }
    for e in &mut rec.entries {
        e.happened_at -= d;
        e.recorded_at -= d;
        if let Some(v) = &mut e.void {
            v.voided_at -= d;
        }
    }
}

/// `pz` with patient `id`'s shift made larger by `secs` seconds, carried into the days.
fn add_shift(pz: &mut Pseudonymise, id: i64, secs: i64) {
    let p = pz.pseudonyms.get_mut(&id).unwrap();
    let total = p.1 * 86_400 + p.2 + secs;
    p.1 = total.div_euclid(86_400);
    p.2 = total.rem_euclid(86_400);
}

/// The times of day of `col` in events.csv, by study id.
fn times_of_day(f: &Files, col: &str) -> BTreeMap<String, BTreeSet<String>> {
    let t = parse_csv("events.csv", &f.events);
    let (pi, ci) = (
        t[0].iter().position(|h| h == "patient").unwrap(),
        t[0].iter().position(|h| h == col).unwrap(),
    );
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &t[1..] {
        out.entry(r[pi].clone())
            .or_default()
            .insert(ts(&r[ci]).format("%H:%M:%S").to_string());
    }
    out
}

/// Whole days hide the date, not the time of day: each patient's times are also moved by a
/// secret offset below a day. Entries of patients recorded in the same real second do not
/// share a time of day; moving a patient's real times by any number of seconds (the secret
/// offsets moved to match) gives the same bytes; and the order of recording across patients
/// is what the offsets make it, not the real one.
#[test]
fn pseudonymised_times_of_day_hide_recording_together_and_order() {
    let c = cohort();
    let cfg = Config::load(Some(Path::new(common::CONFIG))).unwrap();
    let mut db = Db::open(c.w.path()).unwrap();
    let admin = db.read(|r| r.staff("AB")).unwrap().unwrap();
    let now = Utc::now();
    let pz = research::pseudonymisation(&mut db, &admin, &cfg.side_effect_kinds, now).unwrap();
    // One offset below a day per patient, stored and kept.
    let shifts = c.shifts();
    assert_eq!(shifts.len(), 4, "{shifts:?}");
    for (_, days, secs) in pz.pseudonyms.values() {
        assert!((1..86_400).contains(secs), "{secs}");
        assert!(*days != 0);
    }
    let again = research::pseudonymisation(&mut db, &admin, &cfg.side_effect_kinds, now).unwrap();
    assert_eq!(
        again.pseudonyms, pz.pseudonyms,
        "a re-export changed the offsets"
    );
    // 3002's course runs, so she is left out of any pseudonymised export; the others are
    // 3001, 3003 and 3004.
    let mut records = db.read(load_all).unwrap();
    records.retain(|r| r.patient.data.mrn != "3002");
    let pz_with = |secs: &dyn Fn(usize) -> i64| {
        let mut p = Pseudonymise {
            pseudonyms: pz.pseudonyms.clone(),
            roles: pz.roles.clone(),
            side_effect_kinds: pz.side_effect_kinds.clone(),
        };
        for (i, rec) in records.iter().enumerate() {
            p.pseudonyms.get_mut(&rec.patient.id).unwrap().2 = secs(i);
        }
        p
    };

    // 1. Every entry of every patient recorded in the same real second: with offsets of
    // 10, 20 and 30 seconds, no two patients share a time of day.
    let mut together = records.clone();
    let at = ts("2026-03-10T09:15:07Z");
    for rec in &mut together {
        for e in &mut rec.entries {
            e.recorded_at = at;
        }
    }
    let tod = times_of_day(
        &export(&together, Some(&pz_with(&|i| 10 * (i as i64 + 1))), now),
        "recorded_at",
    );
    assert_eq!(tod.len(), 3);
    let all: Vec<&String> = tod.values().flatten().collect();
    let distinct: BTreeSet<&String> = all.iter().copied().collect();
    assert_eq!(all.len(), distinct.len(), "a shared time of day: {tod:?}");
    assert_eq!(distinct.len(), 3, "{tod:?}");

    // 2. One patient's real times moved by seconds (not whole days), each by another
    // amount, the secret shift moved to match: the same bytes.
    let base = export(&records, Some(&pz), now);
    let plain = export(&records, None, now);
    for secs in [1, 59, 3_599, 43_201, 86_399, -7_777] {
        for i in 0..records.len() {
            let mut moved = records.clone();
            move_seconds(&mut moved[i], secs);
            let mut pz2 = pz_with(&|j| pz.pseudonyms[&records[j].patient.id].2);
            add_shift(&mut pz2, records[i].patient.id, secs);
            same(
                &format!("patient {i} moved {secs} s"),
                &base,
                &export(&moved, Some(&pz2), now),
            );
            differs("moved by seconds", &plain, &export(&moved, None, now));
        }
    }

    // 3. Three patients recorded interleaved within an hour, in the real order A, B, C
    // (ten minutes apart), with offsets that turn it round: the export is exactly what the
    // real order C, B, A with equal offsets gives. So the order of recorded_at across
    // patients, days removed, is set by the secret offsets, not by the real order.
    let t0 = ts("2026-03-10T14:00:00Z");
    let record_at = |recs: &mut Vec<PatientRecord>, slot: &dyn Fn(usize) -> i64| {
        for (i, rec) in recs.iter_mut().enumerate().take(3) {
            for (k, e) in rec.entries.iter_mut().enumerate() {
                e.recorded_at = t0 + Duration::seconds(slot(i) + k as i64);
            }
        }
    };
    let mut forward = records.clone();
    record_at(&mut forward, &|i| 600 * i as i64);
    let keep = |i: usize| pz.pseudonyms[&records[i].patient.id].2;
    let turned_by = |i: usize| 2_401 - 1_200 * i as i64;
    let turned = pz_with(&|i| if i < 3 { turned_by(i) } else { keep(i) });
    let equal = pz_with(&|i| if i < 3 { 1_201 } else { keep(i) });
    // The same record, its events (not their recording) that much later, recorded C, B, A.
    let mut backward = records.clone();
    for (i, rec) in backward.iter_mut().enumerate().take(3) {
        move_seconds(rec, 1_201 - turned_by(i));
    }
    record_at(&mut backward, &|i| 600 * (2 - i as i64));
    let a = export(&forward, Some(&turned), now);
    same(
        "recording order turned by the offsets",
        &a,
        &export(&backward, Some(&equal), now),
    );
    differs(
        "recording order",
        &export(&forward, None, now),
        &export(&backward, None, now),
    );
    // And the turned order shows: A's first recorded_at is now the latest of the day.
    let tod = times_of_day(&a, "recorded_at");
    let first_of = |i: usize| {
        let sid = &pz.pseudonyms[&records[i].patient.id].0;
        tod[sid].iter().next().unwrap().clone()
    };
    assert!(
        first_of(0) > first_of(1) && first_of(1) > first_of(2),
        "{tod:?}"
    );
}

/// A patient whose course runs is written up to the moment of the export: their latest
/// times, set against the export's own date, would bound their shift to hours. So a
/// pseudonymised export leaves such a patient out entirely (courses, entries, T0 score,
/// earlier courses), counts them in data_quality.csv, and takes them in once the course
/// has ended; nothing else changes, and no export time plays a part.
#[test]
fn a_patient_with_a_running_course_is_left_out_until_it_ends() {
    let c = cohort();
    let before = c.export(PHYSICIAN, "running", true);
    let sid = c.pseudonyms()["3002"].0.clone();
    for (f, text) in &before.raw {
        assert!(
            !text.contains(sid.as_str()),
            "{f} holds the running patient"
        );
    }
    let left = |e: &Export| {
        e.quality
            .rows
            .iter()
            .filter(|r| e.quality.get(r, "issue") == "left_out_running")
            .map(|r| e.quality.get(r, "details").to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(left(&before).len(), 1);
    assert!(
        left(&before)[0].starts_with("1 patient(s)"),
        "{:?}",
        left(&before)
    );
    // Her real times still reach the plain export: leaving her out is what hides them.
    let plain = c.export(PHYSICIAN, "running-plain", false);
    assert!(plain.events.column("patient").contains(&"3002"));

    // The course ends: she is in the next export, with every entry; the others are as they
    // were, byte for byte (their ids and rows do not depend on her).
    let out = c.w.run_with(
        PHYSICIAN.0,
        PHYSICIAN.1,
        &[],
        // Ended early: not "completed" (issue 11 §2).
        &[
            "course",
            "end",
            "--mrn",
            "3002",
            "--at",
            &rfc(Utc::now()),
            "--reason",
            "patient-request",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after = c.export(PHYSICIAN, "ended", true);
    assert!(left(&after).is_empty(), "{:?}", left(&after));
    let n = c.count(
        "SELECT COUNT(*) FROM entry WHERE patient_id = (SELECT id FROM patient WHERE mrn = '3002')",
    );
    let hers = after
        .events
        .column("patient")
        .iter()
        .filter(|p| **p == sid)
        .count() as i64;
    assert_eq!(hers, n);
    let others = |e: &Export| -> Vec<Vec<String>> {
        e.courses
            .rows
            .iter()
            .filter(|r| e.courses.get(r, "patient") != sid)
            .map(|r| r.iter().skip(1).cloned().collect())
            .collect()
    };
    assert_eq!(others(&before), others(&after));
}

/// A patient pseudonymised before the offset below a day existed (a pseudonym, no
/// pseudonym_time row) keeps study id and day offset and gets seconds at the next export,
/// once, audited.
#[test]
fn an_earlier_pseudonym_gets_its_seconds_at_the_next_export() {
    let c = cohort();
    let cfg = Config::load(Some(Path::new(common::CONFIG))).unwrap();
    let mut db = Db::open(c.w.path()).unwrap();
    let admin = db.read(|r| r.staff("AB")).unwrap().unwrap();
    let now = Utc::now();
    let id = c.count("SELECT id FROM patient WHERE mrn = '3001'");
    db.write("AB", now, |w| w.insert_pseudonym(id, "S00001", -40))
        .unwrap();
    assert_eq!(c.count("SELECT COUNT(*) FROM pseudonym_time"), 0);
    let pz = research::pseudonymisation(&mut db, &admin, &cfg.side_effect_kinds, now).unwrap();
    let (sid, days, secs) = &pz.pseudonyms[&id];
    assert_eq!((sid.as_str(), *days), ("S00001", -40));
    assert!((1..86_400).contains(secs));
    assert_eq!(
        c.count(&format!(
            "SELECT second_offset FROM pseudonym_time WHERE patient_id = {id}"
        )),
        *secs
    );
    assert_eq!(c.count("SELECT COUNT(*) FROM pseudonym_time"), 4);
    let again = research::pseudonymisation(&mut db, &admin, &cfg.side_effect_kinds, now).unwrap();
    assert_eq!(again.pseudonyms, pz.pseudonyms);
    assert_eq!(c.count("SELECT COUNT(*) FROM pseudonym_time"), 4);
    let v = c.w.ok(&["audit", "verify"]);
    assert!(v.contains("audit chain sound"), "{v}");
}
