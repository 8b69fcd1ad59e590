//! titrate's benchmarks (issue 6): a plain bench binary, run with
//!
//!     cargo bench --bench titrate_bench -- --courses 1000
//!
//! Options: --courses N (default 1000), --seed S (default 7), --db FILE (an existing
//! `titrate demo` file, copied before use so it is never changed), --reps N (default 15),
//! --writers N (default 16), --per-writer N (default 10), --tmp DIR (default the system's
//! temporary folder), --bin PATH (the titrate binary; default the one cargo built for this
//! bench), --pg-writers N and --pg-per-writer N (section 7's CLI writers on PostgreSQL;
//! default 50 and 100), --pg-conf 'LINE' (section 8: a line added to its cluster's
//! postgresql.conf after the tests' settings, e.g. 'shared_buffers = 2GB'; repeatable),
//! --only 1,7 (sections to run). Section 7 starts a throwaway
//! PostgreSQL cluster of its own (tests/common/pg.rs; the server binaries under
//! /usr/lib/postgresql/*/bin). Every figure is a median of repeated runs measured in this run, with its baseline
//! in the same run; nothing here asserts or compares against a stored figure. The budgets
//! printed beside the medians are those of issue 6.
//!
//! Section 8, hospital scale (issue 12 §5), runs only when named (`--only 8`, or with
//! others, `--only 2,8`); the default run leaves it out, since at 50,000 courses it takes
//! a quarter of an hour:
//!
//!     titrate demo --courses 50000 --seed 1 --db /work/data/w50k.db     # once, ~4-12 min
//!     cargo bench --bench titrate_bench -- --only 8 --db /work/data/w50k.db
//!
//! It takes the record the other sections use (the copy of --db, or --courses N generated
//! with --seed S, with the 40 active courses added), starts a throwaway cluster (as
//! section 7, plus any --pg-conf lines), and copies the record into it with
//! `TITRATE_USER=GEN TITRATE_PIN=0000 titrate --db FILE migrate --to URL`, timed as a
//! whole process; one cohort read is timed right after it, then `VACUUM (ANALYZE)` and
//! `CHECKPOINT` (what autovacuum would soon do on its own) are run and timed. Then, on the
//! SQLite file and on the server in turn (SQLite, PostgreSQL, SQLite, …), so that both
//! meet the same load: section 2's in-process first frame (open, argon2 sign-in, reload,
//! draw, total, total without the PIN; and Enter → overview after the idle read), up to
//! min(reps, 9) rounds; the binary in a pseudo-terminal (`--db FILE` or `--db URL`: spawn →
//! sign-in screen, PIN Enter → overview), up to min(reps, 7); section 4's cohort in process
//! (`load_outcomes` + `cohort`), up to min(reps, 9); and `titrate cohort --json` as a
//! process less a `titrate staff list` process (both signed in as GEN), up to min(reps, 9)
//! rounds. Each kind stops after 3 rounds once 150 s have passed. Budgets: 50 ms for the
//! first frame and the overview after the PIN, 250 ms for the cohort; the baseline of each
//! PostgreSQL row is the file's figure from the same run, and of each file row the sqlite3
//! shell's overview query (section 2's baseline) or the cohort's breakdown.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, Read, Write};
use std::num::NonZeroU16;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as Clock, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use chrono::Utc;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use titrate::config::Config;
use titrate::domain::entry::{EntryData, effective};
use titrate::domain::rate::Rate;
use titrate::domain::record::Staff;
use titrate::domain::values::{CrpsType, Nrs, Sex, Timepoint};
use titrate::report::cohort::{Range, cohort};
use titrate::store::{Db, Location, NewEntry, NewPatient};
use titrate::tui::app::{App, Msg, Screen};
use titrate::tui::view;
use titrate::ward::access::sign_in;
use titrate::ward::entries::Session;
use titrate::ward::picture::Picture;
use titrate::ward::{WardError, load_course_bounds, load_outcomes, load_record};

/// Throwaway PostgreSQL clusters, the same as the tests use.
#[path = "../tests/common/pg.rs"]
mod pg;

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml");
const BIN: &str = env!("CARGO_BIN_EXE_titrate");
/// Active courses added to the generated record (which holds finished courses only).
const ACTIVE: usize = 40;
const COLS: u16 = 120;
const ROWS: u16 = 40;

// ---------------------------------------------------------------------------------------------
// Arguments

struct Args {
    courses: usize,
    seed: u64,
    db: Option<PathBuf>,
    reps: usize,
    writers: usize,
    per_writer: usize,
    tmp: PathBuf,
    bin: PathBuf,
    /// Sections to run (1, 2, 3, 4, 6, 7, 8; 5 comes with 2); empty runs all but 8.
    only: Vec<u32>,
    /// Section 7: CLI writer processes at once on PostgreSQL, and entries each.
    pg_writers: usize,
    pg_per_writer: usize,
    /// Section 8: lines added to the throwaway cluster's postgresql.conf (`--pg-conf`,
    /// repeatable), after the tests' settings.
    pg_conf: Vec<String>,
}

impl Args {
    /// Section 8 (a migrate of the whole record and every measurement on both backends,
    /// minutes at 50,000 courses) runs only when named in --only.
    fn runs(&self, section: u32) -> bool {
        if section == 8 {
            return self.only.contains(&8);
        }
        self.only.is_empty() || self.only.contains(&section)
    }
}

fn args() -> Result<Args> {
    let mut a = Args {
        courses: 1000,
        seed: 7,
        db: None,
        reps: 15,
        writers: 16,
        per_writer: 10,
        tmp: std::env::temp_dir(),
        bin: PathBuf::from(std::env::var("TITRATE_BIN").unwrap_or_else(|_| BIN.to_string())),
        only: Vec::new(),
        pg_writers: 50,
        pg_per_writer: 100,
        pg_conf: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().ok_or_else(|| anyhow!("{k} needs a value"));
        match k.as_str() {
            "--courses" => a.courses = val()?.parse()?,
            "--seed" => a.seed = val()?.parse()?,
            "--db" => a.db = Some(PathBuf::from(val()?)),
            "--reps" => a.reps = val()?.parse::<usize>()?.max(3),
            "--writers" => a.writers = val()?.parse()?,
            "--per-writer" => a.per_writer = val()?.parse()?,
            "--tmp" => a.tmp = PathBuf::from(val()?),
            "--bin" => a.bin = PathBuf::from(val()?),
            "--pg-writers" => a.pg_writers = val()?.parse()?,
            "--pg-per-writer" => a.pg_per_writer = val()?.parse()?,
            "--pg-conf" => a.pg_conf.push(val()?),
            "--only" => {
                a.only = val()?
                    .split(',')
                    .map(|n| n.trim().parse())
                    .collect::<Result<_, _>>()?
            }
            // cargo bench passes --bench; libtest-style filters are ignored too.
            _ => {}
        }
    }
    Ok(a)
}

// ---------------------------------------------------------------------------------------------
// Statistics

#[derive(Clone, Default)]
struct Samples(Vec<f64>); // milliseconds

impl Samples {
    fn push(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64() * 1000.0);
    }
    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v
    }
    fn pct(&self, p: f64) -> f64 {
        let v = self.sorted();
        if v.is_empty() {
            return f64::NAN;
        }
        let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
        v[i.min(v.len() - 1)]
    }
    fn median(&self) -> f64 {
        let v = self.sorted();
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }
    fn line(&self) -> String {
        format!(
            "median {} (min {}, p90 {}, n={})",
            ms(self.median()),
            ms(self.pct(0.0)),
            ms(self.pct(90.0)),
            self.0.len()
        )
    }
}

fn ms(v: f64) -> String {
    if v.is_nan() {
        "n/a".into()
    } else if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 1.0 {
        format!("{v:.2} ms")
    } else {
        format!("{:.0} µs", v * 1000.0)
    }
}

/// Runs `f` at least 3 and at most `reps` times, stopping early once `limit` has passed
/// (a 10,000-course load takes seconds).
fn repeat(
    reps: usize,
    limit: Duration,
    mut f: impl FnMut() -> Result<Duration>,
) -> Result<Samples> {
    let mut s = Samples::default();
    let began = Clock::now();
    for i in 0..reps {
        s.push(f()?);
        if i >= 2 && began.elapsed() > limit {
            break;
        }
    }
    Ok(s)
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Clock::now();
    let out = f();
    (out, t.elapsed())
}

// ---------------------------------------------------------------------------------------------
// Result table

struct Row {
    what: String,
    measured: String,
    baseline: String,
    budget: String,
    verdict: &'static str,
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

// ---------------------------------------------------------------------------------------------
// Setup

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or("?".into(), |kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {cpu}, {mem} RAM")
}

fn staff(db: &mut Db, id: &str) -> Result<Staff> {
    db.read(|r| r.staff(id))?
        .ok_or_else(|| anyhow!("no staff {id} in the generated database"))
}

/// 40 patients on the ward now, their courses started 2 to 160 hours ago, with hourly rate
/// entries stepping up by the protocol's increment, an NRS every 4 hours and a T0 score.
fn add_active_courses(db: &mut Db, cfg: &Config) -> Result<()> {
    let now = Utc::now();
    let p = cfg.protocol.clone();
    for i in 0..ACTIVE {
        let hours = 2 + (i as i64 * 158) / (ACTIVE as i64 - 1);
        let start = now - chrono::Duration::hours(hours) - chrono::Duration::minutes(30);
        db.write("P1", now, |w| {
            let pid = w.insert_patient(&NewPatient {
                mrn: format!("{}", 9_000_000 + i),
                name: format!("Ward Patient {i:02}"),
                birth_date: chrono::NaiveDate::from_ymd_opt(1960 + (i as i32 % 40), 3, 1)
                    .unwrap_or_default(),
                sex: if i % 3 == 0 { Sex::Male } else { Sex::Female },
                weight_kg: Some(70.0),
                crps_type: Some(CrpsType::One),
                crps_onset: chrono::NaiveDate::from_ymd_opt(2020, 1, 1),
                limb: Some("left hand".into()),
            })?;
            let proto = w.protocol_id(&p)?;
            let course = w.insert_course(pid, proto)?;
            let e = |course_id, at, data| NewEntry {
                patient_id: pid,
                course_id,
                happened_at: at,
                late: false,
                supersedes: None,
                amend_reason: None,
                data,
            };
            w.insert_entry(&e(
                None,
                start - chrono::Duration::hours(2),
                EntryData::Nrs {
                    score: Nrs::new(7).map_err(|e| anyhow!("{e}"))?,
                    timepoint: Some(Timepoint::T0),
                },
            ))?;
            w.insert_entry(&e(
                Some(course),
                start,
                EntryData::CourseStart {
                    bed: Some(format!("{:02}", i + 1)),
                },
            ))?;
            let mut rate: u32 = 200;
            let step_h = p.min_step_interval().num_hours().max(1);
            for h in 0..=hours {
                if h > 0 && h % step_h == 0 {
                    rate = (rate + p.increment_mg_h.centi()).min(p.max_rate_mg_h.centi());
                }
                let at = start + chrono::Duration::hours(h);
                w.insert_entry(&e(
                    Some(course),
                    at,
                    EntryData::Rate {
                        rate: Rate::from_centi(rate),
                        confirmed: false,
                        confirm_reason: None,
                    },
                ))?;
                if h % 4 == 2 {
                    w.insert_entry(&e(
                        None,
                        at,
                        EntryData::Nrs {
                            score: Nrs::new(5).map_err(|e| anyhow!("{e}"))?,
                            timepoint: None,
                        },
                    ))?;
                }
            }
            Ok::<_, anyhow::Error>(())
        })?;
    }
    Ok(())
}

/// The MRN of a patient whose latest course ran the full protocol and was completed.
fn full_course_mrn(db: &Db) -> Result<String> {
    Ok(db
        .sqlite()
        .expect("an SQLite file")
        .raw_connection()
        .query_row(
            "SELECT p.mrn FROM course c JOIN patient p ON p.id = c.patient_id
           JOIN entry e ON e.course_id = c.id AND e.kind = 'course-end'
                       AND e.end_reason = 'completed'
          WHERE c.id = (SELECT MAX(id) FROM course c2 WHERE c2.patient_id = c.patient_id)
            AND (SELECT COUNT(*) FROM entry r WHERE r.course_id = c.id AND r.kind = 'rate') >= 168
          ORDER BY c.id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )?)
}

/// The overview's content as SQL: active courses with bed, latest rate, last check and T0;
/// ended courses of the last 70 days (recent list and T2 follow-up window) with T1/T2.
const OVERVIEW_SQL: &str = "
SELECT p.mrn, p.name,
  (SELECT s.bed FROM entry s WHERE s.course_id = c.id AND s.kind = 'course-start') AS bed,
  (SELECT r.rate_centi FROM entry r WHERE r.course_id = c.id AND r.kind = 'rate'
     ORDER BY r.happened_at DESC LIMIT 1) AS rate,
  (SELECT MAX(r.happened_at) FROM entry r WHERE r.course_id = c.id AND r.kind = 'rate') AS last_check,
  (SELECT n.score FROM entry n WHERE n.patient_id = p.id AND n.kind = 'nrs' AND n.timepoint = 't0'
     ORDER BY n.happened_at DESC LIMIT 1) AS t0
FROM course c CROSS JOIN patient p ON p.id = c.patient_id
WHERE NOT EXISTS (SELECT 1 FROM entry e WHERE e.course_id = c.id AND e.kind = 'course-end')
ORDER BY bed;
SELECT p.mrn, p.name, e.happened_at AS ended,
  (SELECT n.score FROM entry n WHERE n.patient_id = p.id AND n.kind = 'nrs' AND n.timepoint = 't1'
     AND n.happened_at >= e.happened_at ORDER BY n.happened_at LIMIT 1) AS t1,
  (SELECT n.score FROM entry n WHERE n.patient_id = p.id AND n.kind = 'nrs' AND n.timepoint = 't2'
     AND n.happened_at >= e.happened_at ORDER BY n.happened_at LIMIT 1) AS t2
FROM course c CROSS JOIN patient p ON p.id = c.patient_id
CROSS JOIN entry e ON e.course_id = c.id AND e.kind = 'course-end'
WHERE e.happened_at >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-70 days')
ORDER BY e.happened_at DESC;
";

// ---------------------------------------------------------------------------------------------
// 1. Durable entry

const BARE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entry (
    id INTEGER PRIMARY KEY, patient_id INTEGER NOT NULL, course_id INTEGER,
    kind TEXT NOT NULL, supersedes INTEGER UNIQUE, amend_reason TEXT,
    happened_at TEXT NOT NULL, recorded_at TEXT NOT NULL, recorded_by TEXT NOT NULL,
    late INTEGER NOT NULL, rate_centi INTEGER, confirmed INTEGER, confirm_reason TEXT,
    score INTEGER, timepoint TEXT, effect TEXT, detail TEXT, severity TEXT, action TEXT,
    successful INTEGER, end_reason TEXT, bed TEXT);
CREATE INDEX IF NOT EXISTS entry_patient ON entry (patient_id, happened_at);
CREATE INDEX IF NOT EXISTS entry_course ON entry (course_id, kind, happened_at, rate_centi, supersedes);
CREATE INDEX IF NOT EXISTS entry_score ON entry (patient_id, kind, happened_at, score, timepoint)
    WHERE kind = 'nrs';
CREATE INDEX IF NOT EXISTS entry_mark ON entry (course_id, kind, happened_at, timepoint, successful)
    WHERE kind IN ('course-start', 'course-end', 'success');
";

fn bare_insert(conn: &mut rusqlite::Connection, i: i64) -> Result<Duration> {
    let at = Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let t = Clock::now();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.prepare_cached(
        "INSERT INTO entry (patient_id, course_id, kind, happened_at, recorded_at, recorded_by,
                            late, score) VALUES (?1, NULL, 'nrs', ?2, ?2, 'N1', 0, ?3)",
    )?
    .execute(rusqlite::params![i % 1000, at, i % 11])?;
    tx.commit()?;
    Ok(t.elapsed())
}

struct EntryResult {
    nrs: Samples,
    rate: Samples,
    store_only: Samples,
    rate_reads: Samples,
    /// record_rate as the ward terminal's form saves it: with the picture of the record the
    /// form was opened on, compared inside the write (`ward::picture`).
    rate_from_form: Samples,
    bare: Samples,
    errors: Vec<String>,
}

fn bench_entry(
    work: &Path,
    dir: &Path,
    cfg: &Config,
    mrn: &str,
    reps: usize,
) -> Result<EntryResult> {
    let n = (reps * 10).max(100);
    let mut db = Db::open(work)?;
    let who = staff(&mut db, "N1")?;
    let bare_path = dir.join("bare.db");
    let mut bare = rusqlite::Connection::open(&bare_path)?;
    let mode: String = bare.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        bail!("bare database not in WAL mode");
    }
    bare.execute_batch("PRAGMA synchronous=FULL;")?;
    bare.execute_batch(BARE_SCHEMA)?;
    let active_mrn = format!("{}", 9_000_000 + ACTIVE - 1);
    let active_rate: u32 = {
        let rec = db.read(|r| load_record(r, &active_mrn))?;
        rec.entries
            .iter()
            .filter_map(|e| match e.data {
                EntryData::Rate { rate, .. } => Some((e.happened_at, rate)),
                _ => None,
            })
            .max_by_key(|(t, _)| *t)
            .map_or(200, |(_, r)| r.centi())
    };
    let mut r = EntryResult {
        nrs: Samples::default(),
        rate: Samples::default(),
        store_only: Samples::default(),
        rate_reads: Samples::default(),
        rate_from_form: Samples::default(),
        bare: Samples::default(),
        errors: vec![],
    };
    // Warm-up: both paths, a few times.
    for i in 0..5 {
        bare_insert(&mut bare, i)?;
        let now = Utc::now();
        let mut s = Session {
            db: &mut db,
            cfg,
            who: &who,
            now,
            expect: None,
        };
        s.record_nrs(mrn, now, Nrs::new(4).map_err(|e| anyhow!("{e}"))?, None)?;
    }
    // Interleaved, so that both see the same disk and cache conditions.
    for i in 0..n as i64 {
        r.bare.push(bare_insert(&mut bare, i)?);

        let now = Utc::now();
        let score = Nrs::new(i % 11).map_err(|e| anyhow!("{e}"))?;
        let t = Clock::now();
        let out = Session {
            db: &mut db,
            cfg,
            who: &who,
            now,
            expect: None,
        }
        .record_nrs(mrn, now, score, None);
        let d = t.elapsed();
        match out {
            Ok(_) => r.nrs.push(d),
            Err(e) => r.errors.push(format!("record_nrs: {e}")),
        }

        let now = Utc::now();
        let t = Clock::now();
        let out = Session {
            db: &mut db,
            cfg,
            who: &who,
            now,
            expect: None,
        }
        .record_rate(&active_mrn, now, Rate::from_centi(active_rate), None);
        let d = t.elapsed();
        match out {
            Ok(_) => r.rate.push(d),
            Err(e) => r.errors.push(format!("record_rate: {e}")),
        }

        // The same save from a ward-terminal form: the picture is taken when the form
        // opens (not timed), the save compares it inside its write.
        let picture =
            db.read(|rd| Ok::<_, WardError>(Picture::of(&load_record(rd, &active_mrn)?)))?;
        let now = Utc::now();
        let t = Clock::now();
        let out = Session {
            db: &mut db,
            cfg,
            who: &who,
            now,
            expect: Some(picture),
        }
        .record_rate(&active_mrn, now, Rate::from_centi(active_rate), None);
        let d = t.elapsed();
        match out {
            Ok(_) => r.rate_from_form.push(d),
            Err(e) => r.errors.push(format!("record_rate from a form: {e}")),
        }

        // The store's own part: one transaction with the entry and its audit row, no
        // permission check, no record loaded, no rule checked.
        let now = Utc::now();
        let pid: i64 = db
            .sqlite()
            .expect("an SQLite file")
            .raw_connection()
            .query_row("SELECT id FROM patient WHERE mrn = ?1", [mrn], |r| r.get(0))?;
        let t = Clock::now();
        db.write("N1", now, |w| {
            w.insert_entry(&NewEntry {
                patient_id: pid,
                course_id: None,
                happened_at: now,
                late: false,
                supersedes: None,
                amend_reason: None,
                data: EntryData::Nrs {
                    score,
                    timepoint: None,
                },
            })?;
            Ok::<_, WardError>(())
        })?;
        r.store_only.push(t.elapsed());

        // What record_rate reads before it writes: the course bounds and the course's rates.
        let (res, d) = time(|| {
            db.read(|rd| {
                let rec = load_course_bounds(rd, &active_mrn)?;
                let course = rec.latest_course().map(|v| v.course.id).unwrap_or_default();
                effective(rd.rate_versions_of(course)?);
                Ok::<_, WardError>(())
            })
        });
        res?;
        r.rate_reads.push(d);
    }
    Ok(r)
}

// ---------------------------------------------------------------------------------------------
// 2 and 5. The binary in a pseudo-terminal

struct PtyRun {
    to_signin: Duration,
    to_overview: Duration,
    vm_hwm_kb: u64,
    vm_rss_kb: u64,
}

fn proc_status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The ward terminal on `db` (a file path or a PostgreSQL URL, as `--db` takes it).
fn pty_run(bin: &Path, db: &str, dir: &Path) -> Result<PtyRun> {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: ROWS,
            cols: COLS,
            pixel_width: 0,
            pixel_height: 0,
        })
        .map_err(|e| anyhow!("openpty: {e}"))?;
    let mut cmd = CommandBuilder::new(bin);
    cmd.args(["--config", CONFIG, "--db", db]);
    cmd.env_clear();
    cmd.env("TERM", "xterm-256color");
    cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.env("LANG", "C.UTF-8");
    cmd.cwd(dir);
    let parser = Arc::new(Mutex::new(vt100::Parser::new(
        NonZeroU16::new(ROWS).context("rows")?,
        NonZeroU16::new(COLS).context("cols")?,
        0,
    )));
    let mut reader = pair.master.try_clone_reader().map_err(|e| anyhow!("{e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let p = Arc::clone(&parser);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut buf = [0u8; 16384];
            while !stop.load(Ordering::Relaxed) {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => p.lock().unwrap().process(&buf[..n]),
                }
            }
        });
    }
    let mut writer = pair.master.take_writer().map_err(|e| anyhow!("{e}"))?;
    let wait_for = |text: &str, from: Clock| -> Result<Duration> {
        loop {
            if parser.lock().unwrap().screen().contents().contains(text) {
                return Ok(from.elapsed());
            }
            if from.elapsed() > Duration::from_secs(300) {
                bail!(
                    "no {text:?} after 300 s; screen:\n{}",
                    parser.lock().unwrap().screen().contents()
                );
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    };
    let t0 = Clock::now();
    let mut child = pair
        .slave
        .spawn_command(cmd)
        .map_err(|e| anyhow!("spawn: {e}"))?;
    let result = (|| {
        let to_signin = wait_for("Staff id", t0)?;
        let pid = child.process_id().context("pid")?;
        // A person takes more than a tick to reach the keyboard and type; the sign-in
        // screen reads the ward in that idle time. Timed from the Enter after the PIN.
        std::thread::sleep(Duration::from_millis(500));
        writer.write_all(b"N1\r1234")?;
        writer.flush()?;
        std::thread::sleep(Duration::from_millis(100));
        let t1 = Clock::now();
        writer.write_all(b"\r")?;
        writer.flush()?;
        let to_overview = wait_for("Active courses", t1)?;
        // One more tick of the loop, so the overview has been drawn and any per-tick work done.
        std::thread::sleep(Duration::from_millis(600));
        Ok(PtyRun {
            to_signin,
            to_overview,
            vm_hwm_kb: proc_status_kb(pid, "VmHWM:"),
            vm_rss_kb: proc_status_kb(pid, "VmRSS:"),
        })
    })();
    stop.store(true, Ordering::Relaxed);
    let _ = child.kill();
    let _ = child.wait();
    drop(pair.slave);
    result
}

// ---------------------------------------------------------------------------------------------
// 2. In-process first frame

struct FirstFrame {
    open_app: Samples,
    sign_in: Samples,
    reload: Samples,
    draw: Samples,
    total: Samples,
    total_without_pin: Samples,
    /// The idle read of the ward while the sign-in screen waits (nobody waits on it).
    idle_read: Samples,
    /// Enter → overview drawn, when the sign-in screen had waited one idle tick first.
    after_wait: Samples,
    /// The first message the app showed after the cold sign-in, if any (printed: an error
    /// there would make the figures those of an error screen).
    note: Option<String>,
}

impl FirstFrame {
    fn new() -> FirstFrame {
        FirstFrame {
            open_app: Samples::default(),
            sign_in: Samples::default(),
            reload: Samples::default(),
            draw: Samples::default(),
            total: Samples::default(),
            total_without_pin: Samples::default(),
            idle_read: Samples::default(),
            after_wait: Samples::default(),
            note: None,
        }
    }
}

/// Section 2's in-process first frame, repeated up to `reps` times (at least 3, about a
/// minute at most), on an SQLite file or a PostgreSQL URL.
fn bench_first_frame(at: &Location, cfg: &Config, reps: usize) -> Result<FirstFrame> {
    let mut f = FirstFrame::new();
    let began = Clock::now();
    for _ in 0..reps {
        first_frame_once(at, cfg, &mut f)?;
        if began.elapsed() > Duration::from_secs(60) && f.total.0.len() >= 3 {
            break;
        }
    }
    Ok(f)
}

/// One cold first frame (open → signed in → overview drawn, nothing read before) and one
/// after the sign-in screen's idle wait, each on a connection of its own, added to `f`.
fn first_frame_once(at: &Location, cfg: &Config, f: &mut FirstFrame) -> Result<()> {
    let began = Clock::now();
    let now = Utc::now();
    let db = Db::open(at)?;
    let mut app = App::new(cfg.clone(), db, now);
    let open_app = began.elapsed();
    // What App's sign-in does on Enter: check the PIN, switch screen, reload.
    let (staff, pin) = time(|| sign_in(&mut app.db, &app.cfg, "N1", "1234", now));
    app.user = Some(staff?);
    app.screen = Screen::Overview;
    let (_, reload) = time(|| app.reload());
    let mut term = Terminal::new(TestBackend::new(COLS, ROWS))?;
    let (r, draw) = time(|| term.draw(|fr| titrate::tui::ui::draw(fr, &app)).map(|_| ()));
    r?;
    let total = began.elapsed();
    if let Some(m) = &app.message
        && f.note.is_none()
    {
        f.note = Some(m.text.clone());
    }
    f.open_app.push(open_app);
    f.sign_in.push(pin);
    f.reload.push(reload);
    f.draw.push(draw);
    f.total.push(total);
    f.total_without_pin.push(total - pin);
    drop(app);

    // The same once the sign-in screen has waited a tick with no key, as it does
    // before anyone types: the TUI reads the ward then.
    let now = Utc::now();
    let mut app = App::new(cfg.clone(), Db::open(at)?, now);
    let (_, idle) = time(|| app.update(Msg::Idle));
    let t = Clock::now();
    app.user = Some(sign_in(&mut app.db, &app.cfg, "N1", "1234", now)?);
    app.screen = Screen::Overview;
    app.reload();
    term.draw(|fr| titrate::tui::ui::draw(fr, &app))?;
    f.after_wait.push(t.elapsed());
    f.idle_read.push(idle);
    Ok(())
}

fn bench_shell(work: &Path, reps: usize) -> Result<(Samples, String)> {
    let shell = Command::new("sqlite3").arg("-version").output();
    let mut s = Samples::default();
    if shell.as_ref().is_ok_and(|o| o.status.success()) {
        let mut rows = 0;
        for _ in 0..reps {
            let t = Clock::now();
            let out = Command::new("sqlite3")
                .arg("-readonly")
                .arg(work)
                .arg(OVERVIEW_SQL)
                .stdin(Stdio::null())
                .output()?;
            s.push(t.elapsed());
            if !out.status.success() {
                bail!("sqlite3: {}", String::from_utf8_lossy(&out.stderr));
            }
            rows = out.stdout.lines().count();
        }
        let v = String::from_utf8_lossy(&shell?.stdout).trim().to_string();
        Ok((
            s,
            format!(
                "sqlite3 shell {} ({rows} rows)",
                v.split(' ').next().unwrap_or("")
            ),
        ))
    } else {
        // No shell: the same SQL through rusqlite, in process (no process start counted).
        for _ in 0..reps {
            let t = Clock::now();
            let c = rusqlite::Connection::open(work)?;
            for stmt in OVERVIEW_SQL.split(';').filter(|s| !s.trim().is_empty()) {
                let mut st = c.prepare(stmt)?;
                let n = st.column_count();
                let mut q = st.query([])?;
                while let Some(row) = q.next()? {
                    for i in 0..n {
                        let _: rusqlite::types::Value = row.get(i)?;
                    }
                }
            }
            s.push(t.elapsed());
        }
        Ok((s, "rusqlite (NO sqlite3 shell found), same SQL".into()))
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Screens

struct Screens {
    active_rows: usize,
    ov_reload: Samples,
    ov_draw: Samples,
    ov_both: Samples,
    de_reload: Samples,
    de_draw: Samples,
    de_both: Samples,
    ov_clock: Samples,
    ward_patients: usize,
    co_open: Samples,
    co_both: Samples,
    load_ward: Samples,
    load_detail: Samples,
    timeline_rows: usize,
}

fn bench_screens(work: &Path, cfg: &Config, mrn: &str, reps: usize) -> Result<Screens> {
    let now = Utc::now();
    let mut db = Db::open(work)?;
    let who = staff(&mut db, "N1")?;
    let mut app = App::new(cfg.clone(), db, now);
    app.user = Some(who);
    app.screen = Screen::Overview;
    app.reload();
    let mut term = Terminal::new(TestBackend::new(COLS, ROWS))?;
    let limit = Duration::from_secs(60);
    let mut draw = |app: &App| -> Result<Duration> {
        let t = Clock::now();
        term.draw(|f| titrate::tui::ui::draw(f, app))?;
        Ok(t.elapsed())
    };
    // A refresh follows a write at another terminal (untimed): one NRS on an active course,
    // through a second connection, as a nurse elsewhere would record it.
    let mut other = Db::open(work)?;
    let nurse = staff(&mut other, "N2")?;
    let active_mrn = app
        .ward
        .active
        .first()
        .map(|r| r.mrn.clone())
        .unwrap_or_default();
    let mut k = 0;
    let mut write_elsewhere = || -> Result<()> {
        k += 1;
        let at = Utc::now() - chrono::Duration::seconds(k);
        Session {
            db: &mut other,
            cfg,
            who: &nurse,
            now: Utc::now(),
            expect: None,
        }
        .record_nrs(&active_mrn, at, Nrs::new(5)?, None)?;
        Ok(())
    };
    let ov_reload = repeat(reps, limit, || {
        write_elsewhere()?;
        Ok(time(|| app.reload()).1)
    })?;
    let ov_draw = repeat(reps * 4, limit, || draw(&app))?;
    let ov_both = repeat(reps, limit, || {
        write_elsewhere()?;
        let t = Clock::now();
        app.reload();
        draw(&app)?;
        Ok(t.elapsed())
    })?;
    let active_rows = app.ward.active.len();
    // Every 30 s every row is brought up to the clock (a check may have fallen due).
    let ov_clock = repeat(reps, limit, || {
        let t = Clock::now();
        let now = Utc::now();
        app.ward_cache.recompute(now);
        app.ward = app.ward_cache.view(now);
        draw(&app)?;
        Ok(t.elapsed())
    })?;
    let ward_patients = app.ward_cache.patients();
    // The cohort screen: opened once (the whole record's outcomes), then following
    // entries made elsewhere.
    app.screen = Screen::Cohort;
    let co_open = repeat(3, limit, || {
        app.cohort_cache = Default::default();
        let t = Clock::now();
        app.reload();
        draw(&app)?;
        Ok(t.elapsed())
    })?;
    let co_both = repeat(reps, limit, || {
        write_elsewhere()?;
        let t = Clock::now();
        app.reload();
        draw(&app)?;
        Ok(t.elapsed())
    })?;
    app.screen = Screen::Overview;
    let load_ward = repeat(reps, limit, || {
        let (r, d) = time(|| view::load_ward(&mut app.db, now));
        r?;
        Ok(d)
    })?;
    let load_detail = repeat(reps, limit, || {
        let (r, d) = time(|| view::load_detail(&mut app.db, cfg, mrn, now));
        r?;
        Ok(d)
    })?;
    app.detail = Some(view::load_detail(&mut app.db, cfg, mrn, now)?);
    app.screen = Screen::Detail;
    let timeline_rows = app.detail.as_ref().map_or(0, |d| d.timeline.len());
    let de_reload = repeat(reps, limit, || Ok(time(|| app.reload()).1))?;
    let de_draw = repeat(reps * 4, limit, || draw(&app))?;
    let de_both = repeat(reps, limit, || {
        let t = Clock::now();
        app.reload();
        draw(&app)?;
        Ok(t.elapsed())
    })?;
    if let Some(m) = &app.message {
        eprintln!("note: the app reported: {}", m.text);
    }
    Ok(Screens {
        active_rows,
        ov_reload,
        ov_draw,
        ov_both,
        de_reload,
        de_draw,
        de_both,
        ov_clock,
        ward_patients,
        co_open,
        co_both,
        load_ward,
        load_detail,
        timeline_rows,
    })
}

// ---------------------------------------------------------------------------------------------
// 4. Cohort and PDF

struct Reports {
    load: Samples,
    compute: Samples,
    total: Samples,
    courses: usize,
    pdf_build: Samples,
    pdf_render: Samples,
    pdf_total: Samples,
    pdf_bytes: usize,
}

/// What `titrate cohort` and the cohort screen do over the whole record: the outcomes read,
/// then the cohort computed. Returns the read's time, the computation's and the courses.
fn cohort_once(db: &mut Db, cfg: &Config) -> Result<(Duration, Duration, usize)> {
    let t = Clock::now();
    let records = db.read(load_outcomes)?;
    let l = t.elapsed();
    let (c, d) = time(|| cohort(&records, Range::default(), cfg.timezone));
    Ok((l, d, c.courses))
}

fn bench_reports(work: &Path, cfg: &Config, mrn: &str, reps: usize) -> Result<Reports> {
    let mut db = Db::open(work)?;
    let limit = Duration::from_secs(90);
    let mut load = Samples::default();
    let mut compute = Samples::default();
    let mut courses = 0;
    let total = repeat(reps, limit, || {
        let t = Clock::now();
        let (l, d, n) = cohort_once(&mut db, cfg)?;
        courses = n;
        load.push(l);
        compute.push(d);
        Ok(t.elapsed())
    })?;
    let rec = db.read(|r| load_record(r, mrn))?;
    let now = Utc::now();
    let req = titrate::report::summary::Request {
        course: None,
        draft: false,
        hospital: &cfg.hospital,
        ward: &cfg.ward_name,
        zone: cfg.timezone,
        generated_by: "Bench (P1)",
        now,
    };
    let mut pdf_build = Samples::default();
    let mut pdf_render = Samples::default();
    let mut pdf_bytes = 0;
    let pdf_total = repeat(reps, limit, || {
        let t = Clock::now();
        let s = titrate::report::summary::build(&rec, &req)?;
        let b = t.elapsed();
        let (pdf, r) = time(|| titrate::report::pdf::render(&s));
        pdf_bytes = pdf?.len();
        pdf_build.push(b);
        pdf_render.push(r);
        Ok(t.elapsed())
    })?;
    Ok(Reports {
        load,
        compute,
        total,
        courses,
        pdf_build,
        pdf_render,
        pdf_total,
        pdf_bytes,
    })
}

// ---------------------------------------------------------------------------------------------
// 6. Concurrent writers

struct Writers {
    label: String,
    ok: usize,
    failed: usize,
    lock_errors: usize,
    wall: Duration,
    latency: Samples,
    sample_error: Option<String>,
}

fn is_lock_error(s: &str) -> bool {
    let s = s.to_ascii_lowercase();
    s.contains("locked") || s.contains("busy")
}

/// `writers` threads, each running `per` titrate commands one after the other.
fn writers_cli(bin: &Path, work: &Path, writers: usize, per: usize) -> Result<Writers> {
    let began = Clock::now();
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let bin = bin.to_path_buf();
            let work = work.to_path_buf();
            std::thread::spawn(move || {
                let mut out = Vec::new();
                for i in 0..per {
                    let at = Utc::now().format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
                    let t = Clock::now();
                    let o = Command::new(&bin)
                        .args(["--config", CONFIG, "--db"])
                        .arg(&work)
                        .args(["--user", "N1", "nrs", "--mrn"])
                        .arg(format!("{}", 1_000_000 + w))
                        .args(["--score", &format!("{}", i % 11), "--at", &at])
                        .env("TITRATE_PIN", "1234")
                        .stdin(Stdio::null())
                        .output();
                    let d = t.elapsed();
                    out.push(match o {
                        Ok(o) => (
                            d,
                            o.status.success(),
                            String::from_utf8_lossy(&o.stderr).to_string(),
                        ),
                        Err(e) => (d, false, e.to_string()),
                    });
                }
                out
            })
        })
        .collect();
    collect(
        format!("{writers} titrate CLI processes × {per} `nrs`"),
        began,
        handles,
    )
}

fn collect(
    label: String,
    began: Clock,
    handles: Vec<std::thread::JoinHandle<Vec<(Duration, bool, String)>>>,
) -> Result<Writers> {
    let mut w = Writers {
        label,
        ok: 0,
        failed: 0,
        lock_errors: 0,
        wall: Duration::ZERO,
        latency: Samples::default(),
        sample_error: None,
    };
    for h in handles {
        for (d, ok, err) in h.join().map_err(|_| anyhow!("writer thread panicked"))? {
            if ok {
                w.ok += 1;
                w.latency.push(d);
            } else {
                w.failed += 1;
                if w.sample_error.is_none() {
                    w.sample_error = Some(err.trim().chars().take(200).collect());
                }
            }
            if is_lock_error(&err) {
                w.lock_errors += 1;
            }
        }
    }
    w.wall = began.elapsed();
    Ok(w)
}

/// `writers` processes of this bench binary, each opening the database once and recording
/// `per` entries through Session::record_nrs; each reports every entry's latency.
fn writers_inproc(work: &Path, writers: usize, per: usize) -> Result<Writers> {
    let exe = std::env::current_exe()?;
    // All start at the same moment, after every process has opened its connection.
    let start_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() + 1500;
    let children: Vec<_> = (0..writers)
        .map(|w| {
            Command::new(&exe)
                .args(["--writer-child"])
                .arg(work)
                .arg(format!("{}", 1_000_000 + w))
                .arg(per.to_string())
                .arg(start_ms.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    let mut w = Writers {
        label: format!("{writers} processes × {per} Session::record_nrs (one connection each)"),
        ok: 0,
        failed: 0,
        lock_errors: 0,
        wall: Duration::ZERO,
        latency: Samples::default(),
        sample_error: None,
    };
    let mut first: Option<u128> = None;
    let mut last: u128 = 0;
    for c in children {
        let out = c.wait_with_output()?;
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        if !out.status.success() {
            w.failed += 1;
            w.sample_error
                .get_or_insert(err.chars().take(200).collect());
        }
        for line in out.stdout.lines() {
            let line = line?;
            let mut f = line.splitn(3, ' ');
            match (f.next(), f.next(), f.next()) {
                (Some("ok"), Some(us), _) => {
                    w.ok += 1;
                    w.latency.push(Duration::from_micros(us.parse()?));
                }
                (Some("err"), Some(_), msg) => {
                    let msg = msg.unwrap_or("");
                    w.failed += 1;
                    if is_lock_error(msg) {
                        w.lock_errors += 1;
                    }
                    w.sample_error
                        .get_or_insert(msg.chars().take(200).collect());
                }
                (Some("span"), Some(a), Some(b)) => {
                    let a: u128 = a.parse()?;
                    let b: u128 = b.parse()?;
                    first = Some(first.map_or(a, |f| f.min(a)));
                    last = last.max(b);
                }
                _ => {}
            }
        }
        if is_lock_error(&err) {
            w.lock_errors += 1;
        }
    }
    w.wall = Duration::from_micros(u64::try_from(last.saturating_sub(first.unwrap_or(last)))?);
    Ok(w)
}

fn writer_child(mut a: impl Iterator<Item = String>) -> Result<()> {
    let work = PathBuf::from(a.next().context("db")?);
    let mrn = a.next().context("mrn")?;
    let per: usize = a.next().context("per")?.parse()?;
    let start_ms: u128 = a.next().context("start")?.parse()?;
    let cfg = Config::load(Some(Path::new(CONFIG)))?;
    let mut db = Db::open(&work)?;
    let who = staff(&mut db, "N1")?;
    while SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() < start_ms {
        std::thread::sleep(Duration::from_millis(1));
    }
    let micros = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros())
    };
    let began = micros();
    let stdout = std::io::stdout();
    let mut lines = Vec::new();
    for i in 0..per {
        let now = Utc::now();
        let score = Nrs::new((i % 11) as i64).map_err(|e| anyhow!("{e}"))?;
        let t = Clock::now();
        let r = Session {
            db: &mut db,
            cfg: &cfg,
            who: &who,
            now,
            expect: None,
        }
        .record_nrs(&mrn, now, score, None);
        let d = t.elapsed().as_micros();
        lines.push(match r {
            Ok(_) => format!("ok {d}"),
            Err(e) => format!("err {d} {}", e.to_string().replace('\n', " ")),
        });
    }
    let ended = micros();
    let mut o = stdout.lock();
    for l in lines {
        writeln!(o, "{l}")?;
    }
    writeln!(o, "span {began} {ended}")?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 7. PostgreSQL (issue 12 §5): a throwaway cluster of its own, fsync on, Unix socket only

/// The ward on a fresh PostgreSQL database: admin AB, nurses N1 N2, physician P1 (PIN 1234
/// for all), the 40 active courses of the SQLite sections, and one patient per CLI writer.
fn pg_ward(url: &str, cfg: &Config, writers: usize) -> Result<Db> {
    let now = Utc::now();
    let began = now - chrono::Duration::days(30);
    let mut db = titrate::ward::access::init(url, "AB", "Anna Boer", "1234", &cfg.protocol, began)?;
    let admin = sign_in(&mut db, cfg, "AB", "1234", began)?;
    for (id, role) in [
        ("N1", titrate::domain::values::Role::Nurse),
        ("N2", titrate::domain::values::Role::Nurse),
        ("P1", titrate::domain::values::Role::Physician),
    ] {
        titrate::ward::access::staff_add(
            &mut db,
            &admin,
            id,
            &format!("Staff {id}"),
            role,
            "1234",
            began,
        )?;
    }
    add_active_courses(&mut db, cfg)?;
    db.write("P1", now, |w| {
        for i in 0..writers {
            w.insert_patient(&writer_patient(i))?;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(db)
}

fn writer_patient(i: usize) -> NewPatient {
    NewPatient {
        mrn: format!("{}", 1_000_000 + i),
        name: format!("Writer Patient {i:02}"),
        birth_date: chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default(),
        sex: Sex::Female,
        weight_kg: Some(70.0),
        crps_type: Some(CrpsType::One),
        crps_onset: chrono::NaiveDate::from_ymd_opt(2020, 1, 1),
        limb: Some("left hand".into()),
    }
}

struct PgEntry {
    rate: Samples,
    nrs: Samples,
    /// `Db::write` with one `insert_entry`: the entry and its audit row, nothing read or
    /// checked before.
    store_only: Samples,
    /// One `SELECT 1` over the same socket: what each round trip costs.
    round_trip: Samples,
    bare_tx: Samples,
    bare_auto: Samples,
    errors: Vec<String>,
}

/// Session::record_rate and record_nrs on PostgreSQL, interleaved with a bare
/// BEGIN; INSERT; COMMIT (and a single autocommitted INSERT) of the same row over the same
/// kind of connection (the cluster's Unix socket, through titrate's own connect). The bare
/// table is titrate's `entry` as the migrations left it (`LIKE … INCLUDING ALL`: the same
/// columns, types, CHECKs, identity and indexes), in a schema of its own, without the
/// foreign keys and append-only triggers, and without an audit row.
fn bench_pg_entry(url: &str, cfg: &Config, reps: usize) -> Result<PgEntry> {
    let n = (reps * 10).max(100);
    let mut db = Db::open(url)?;
    let who = staff(&mut db, "N1")?;
    let schema = db
        .postgres()
        .context("a PostgreSQL store")?
        .schema_name()
        .to_string();
    let mut bare = titrate::store::pg_tls::connect(url)?;
    bare.batch_execute(&format!(
        "CREATE SCHEMA bare; CREATE TABLE bare.entry (LIKE \"{schema}\".entry INCLUDING ALL)"
    ))?;
    let insert = bare.prepare(
        "INSERT INTO bare.entry (patient_id, course_id, kind, happened_at, recorded_at, recorded_by,
                            late, rate_centi, confirmed) VALUES ($1, $2, 'rate', $3, $3, 'N1', 0, $4, 0)",
    )?;
    let active_mrn = format!("{}", 9_000_000 + ACTIVE - 1);
    let rec = db.read(|r| load_record(r, &active_mrn))?;
    let (pid, course) = (
        rec.patient.id,
        rec.latest_course().map(|v| v.course.id).unwrap_or_default(),
    );
    let active_rate: u32 = rec
        .entries
        .iter()
        .filter_map(|e| match e.data {
            EntryData::Rate { rate, .. } => Some((e.happened_at, rate)),
            _ => None,
        })
        .max_by_key(|(t, _)| *t)
        .map_or(200, |(_, r)| r.centi());
    let nrs_mrn = format!("{}", 9_000_000);
    let bare_tx = |client: &mut postgres::Client| -> Result<Duration> {
        let at = Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let t = Clock::now();
        let mut tx = client.transaction()?;
        tx.execute(&insert, &[&pid, &course, &at, &i64::from(active_rate)])?;
        tx.commit()?;
        Ok(t.elapsed())
    };
    let bare_auto = |client: &mut postgres::Client| -> Result<Duration> {
        let at = Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let t = Clock::now();
        client.execute(&insert, &[&pid, &course, &at, &i64::from(active_rate)])?;
        Ok(t.elapsed())
    };
    let mut r = PgEntry {
        rate: Samples::default(),
        nrs: Samples::default(),
        bare_tx: Samples::default(),
        bare_auto: Samples::default(),
        store_only: Samples::default(),
        round_trip: Samples::default(),
        errors: vec![],
    };
    let nrs_pid = db.read(|r| load_record(r, "9000000"))?.patient.id;
    let store_only = |db: &mut Db| -> Result<Duration> {
        let now = Utc::now();
        let t = Clock::now();
        db.write("N1", now, |w| {
            w.insert_entry(&NewEntry {
                patient_id: nrs_pid,
                course_id: None,
                happened_at: now,
                late: false,
                supersedes: None,
                amend_reason: None,
                data: EntryData::Nrs {
                    score: Nrs::new(3)?,
                    timepoint: None,
                },
            })?;
            Ok::<_, anyhow::Error>(())
        })?;
        Ok(t.elapsed())
    };
    let session = |db: &mut Db, rate: bool| -> Result<Duration, WardError> {
        let now = Utc::now();
        let mut s = Session {
            db,
            cfg,
            who: &who,
            now,
            expect: None,
        };
        let t = Clock::now();
        if rate {
            s.record_rate(&active_mrn, now, Rate::from_centi(active_rate), None)?;
        } else {
            s.record_nrs(&nrs_mrn, now, Nrs::new(4)?, None)?;
        }
        Ok(t.elapsed())
    };
    for _ in 0..5 {
        bare_tx(&mut bare)?;
        bare_auto(&mut bare)?;
        session(&mut db, true)?;
        session(&mut db, false)?;
    }
    // Interleaved, so that all of them see the same disk, WAL and cache conditions.
    for _ in 0..n {
        r.bare_tx.push(bare_tx(&mut bare)?);
        match session(&mut db, true) {
            Ok(d) => r.rate.push(d),
            Err(e) => r.errors.push(format!("record_rate: {e}")),
        }
        r.bare_auto.push(bare_auto(&mut bare)?);
        match session(&mut db, false) {
            Ok(d) => r.nrs.push(d),
            Err(e) => r.errors.push(format!("record_nrs: {e}")),
        }
        r.store_only.push(store_only(&mut db)?);
        let t = Clock::now();
        bare.query_one("SELECT 1", &[])?;
        r.round_trip.push(t.elapsed());
    }
    Ok(r)
}

struct PgWriters {
    w: Writers,
    entries: i64,
    distinct: i64,
    per_patient_ok: bool,
    verify: String,
}

/// `writers` threads, each running `per` titrate CLI processes one after the other
/// (TITRATE_DB = the URL), all at once on one server, each on a patient of its own from the
/// `first` writer patient on; then every entry is looked for.
fn bench_pg_writers(
    bin: &Path,
    db: &mut Db,
    url: &str,
    first: usize,
    writers: usize,
    per: usize,
) -> Result<PgWriters> {
    // Distinct times in the last hours, one per entry: (patient, time) names each entry.
    let base = Utc::now() - chrono::Duration::seconds(per as i64 + 3600);
    let began = Clock::now();
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let bin = bin.to_path_buf();
            let url = url.to_string();
            std::thread::spawn(move || {
                let mut out = Vec::new();
                for i in 0..per {
                    let at = (base + chrono::Duration::seconds(i as i64))
                        .format("%Y-%m-%dT%H:%M:%SZ")
                        .to_string();
                    let t = Clock::now();
                    let o = Command::new(&bin)
                        .args(["--config", CONFIG, "nrs", "--mrn"])
                        .arg(format!("{}", 1_000_000 + first + w))
                        .args(["--score", &format!("{}", i % 11), "--at", &at])
                        .env("TITRATE_DB", &url)
                        .env("TITRATE_USER", "N1")
                        .env("TITRATE_PIN", "1234")
                        .stdin(Stdio::null())
                        .output();
                    let d = t.elapsed();
                    out.push(match o {
                        Ok(o) => (
                            d,
                            o.status.success(),
                            String::from_utf8_lossy(&o.stderr).to_string(),
                        ),
                        Err(e) => (d, false, e.to_string()),
                    });
                }
                out
            })
        })
        .collect();
    let w = collect(
        format!("{writers} titrate CLI processes × {per} `nrs` on PostgreSQL"),
        began,
        handles,
    )?;
    let client = db.postgres().context("a PostgreSQL store")?.raw_client();
    let lo = (1_000_000 + first).to_string();
    let hi = (1_000_000 + first + writers.max(1) - 1).to_string();
    let row = client.query_one(
        "SELECT COUNT(*), COUNT(DISTINCT (e.patient_id, e.happened_at))
           FROM entry e JOIN patient p ON p.id = e.patient_id
          WHERE e.kind = 'nrs' AND p.mrn BETWEEN $1 AND $2",
        &[&lo, &hi],
    )?;
    let (entries, distinct): (i64, i64) = (row.get(0), row.get(1));
    let counts = client.query(
        "SELECT COUNT(e.id) FROM patient p LEFT JOIN entry e ON e.patient_id = p.id AND e.kind = 'nrs'
          WHERE p.mrn BETWEEN $1 AND $2 GROUP BY p.id",
        &[&lo, &hi],
    )?;
    let per_patient_ok =
        counts.len() == writers && counts.iter().all(|r| r.get::<_, i64>(0) == per as i64);
    let v = Command::new(bin)
        .args(["--config", CONFIG, "audit", "verify"])
        .env("TITRATE_DB", url)
        .stdin(Stdio::null())
        .output()?;
    let verify = format!(
        "{}{}",
        if v.status.success() { "" } else { "FAILED: " },
        String::from_utf8_lossy(if v.status.success() {
            &v.stdout
        } else {
            &v.stderr
        })
        .lines()
        .next()
        .unwrap_or("")
    );
    Ok(PgWriters {
        w,
        entries,
        distinct,
        per_patient_ok,
        verify,
    })
}

/// The ward terminal's wait between two frames, as `tui::next_event` does it when no key
/// comes: up to one tick, ended early when the watch was told of a commit (it looks every
/// 10 ms, `WATCH_SLICE` there; a terminal without a watch waits the whole tick).
fn wait_like_next_event(watch: Option<&titrate::store::Watch>) {
    let tick = titrate::tui::TICK;
    let Some(watch) = watch else {
        std::thread::sleep(tick);
        return;
    };
    let until = Clock::now() + tick;
    loop {
        let left = until.saturating_duration_since(Clock::now());
        std::thread::sleep(left.min(Duration::from_millis(10)));
        if watch.changed() || left.is_zero() {
            return;
        }
    }
}

/// Another connection starts a course for a new patient; the time from the start of that
/// write until the patient's row is in the overview of a terminal on the same database,
/// which runs the event loop's steps (draw, wait as next_event, Tick, Idle) on an `App`.
/// With `push` the terminal uses `db.watch()` as the TUI does; without it only the tick's
/// poll of `data_version` (the baseline).
fn bench_pg_refresh(
    url: &str,
    cfg: &Config,
    reps: usize,
    push: bool,
    tag: &str,
) -> Result<Samples> {
    let mut db = Db::open(url)?;
    let who = staff(&mut db, "N1")?;
    let watch = if push { db.watch() } else { None };
    if push && watch.is_none() {
        bail!("a PostgreSQL store gave no watch");
    }
    let mut app = App::new(cfg.clone(), db, Utc::now());
    app.user = Some(who);
    app.screen = Screen::Overview;
    app.reload();
    let mut term = Terminal::new(TestBackend::new(COLS, ROWS))?;
    let (to_app, from_writer) = std::sync::mpsc::channel::<(String, Clock)>();
    let (to_writer, seen) = std::sync::mpsc::channel::<()>();
    let url2 = url.to_string();
    let cfg2 = cfg.clone();
    let tag = tag.to_string();
    let writer = std::thread::spawn(move || -> Result<()> {
        let mut other = Db::open(url2.as_str())?;
        let physician = staff(&mut other, "P1")?;
        for k in 0..reps {
            let mrn = format!("77{tag}{k:04}");
            let mut p = writer_patient(k);
            p.mrn = mrn.clone();
            p.name = format!("Refresh {tag} {k}");
            let now = Utc::now();
            Session {
                db: &mut other,
                cfg: &cfg2,
                who: &physician,
                now,
                expect: None,
            }
            .add_patient(&p)?;
            // Let the terminal take in the new patient, then commit at a random point of
            // its tick.
            let jitter = (SystemTime::now()
                .duration_since(UNIX_EPOCH)?
                .subsec_micros()
                % 250) as u64;
            std::thread::sleep(Duration::from_millis(400 + jitter));
            let t0 = Clock::now();
            to_app.send((mrn.clone(), t0))?;
            let now = Utc::now();
            Session {
                db: &mut other,
                cfg: &cfg2,
                who: &physician,
                now,
                expect: None,
            }
            .start_course(&mrn, now, Some(format!("R{tag}-{k}")))?;
            if seen.recv_timeout(Duration::from_secs(10)).is_err() {
                bail!("the terminal did not show {mrn} within 10 s");
            }
        }
        Ok(())
    });
    let mut s = Samples::default();
    let mut waiting: Option<(String, Clock)> = None;
    while s.0.len() < reps {
        term.draw(|f| titrate::tui::ui::draw(f, &app))?;
        if waiting.is_none() {
            waiting = from_writer.try_recv().ok();
        }
        wait_like_next_event(watch.as_ref());
        app.update(Msg::Tick(Utc::now()));
        app.update(Msg::Idle);
        if waiting.is_none() {
            waiting = from_writer.try_recv().ok();
        }
        if let Some((mrn, t0)) = &waiting
            && app.ward.active.iter().any(|r| &r.mrn == mrn)
        {
            term.draw(|f| titrate::tui::ui::draw(f, &app))?;
            s.push(t0.elapsed());
            waiting = None;
            to_writer.send(())?;
        }
        if writer.is_finished() && s.0.len() < reps {
            break;
        }
    }
    writer
        .join()
        .map_err(|_| anyhow!("the writer thread panicked"))??;
    if let Some(m) = &app.message {
        eprintln!("note: the terminal reported: {}", m.text);
    }
    Ok(s)
}

fn bench_postgres(a: &Args, cfg: &Config, rows: &mut Vec<Row>) -> Result<()> {
    println!("\n[7] PostgreSQL ...");
    let (cluster, d) = time(pg::Cluster::start);
    println!(
        "  throwaway cluster (fsync on, synchronous_commit on, Unix socket {}) started in {:.1} s",
        cluster.socket_dir().display(),
        d.as_secs_f64()
    );
    let version = cluster.psql("postgres", "SHOW server_version");
    let url = cluster.create_database("titrate");
    // One more patient than writers: the lone writer's baseline.
    let mut db = pg_ward(&url, cfg, a.pg_writers + 1)?;

    let e = bench_pg_entry(&url, cfg, a.reps)?;
    println!("  titrate record_rate          {}", e.rate.line());
    println!("  titrate record_nrs           {}", e.nrs.line());
    println!("  bare BEGIN; INSERT; COMMIT   {}", e.bare_tx.line());
    println!("  bare INSERT (autocommit)     {}", e.bare_auto.line());
    println!("  store only (entry + audit)   {}", e.store_only.line());
    println!("  one round trip (SELECT 1)    {}", e.round_trip.line());
    if let Some(x) = e.errors.first() {
        println!("  {} errors, first: {x}", e.errors.len());
    }
    let bare = e.bare_tx.median();
    for (name, s) in [("record_rate", &e.rate), ("record_nrs", &e.nrs)] {
        let ratio = s.median() / bare;
        rows.push(Row {
            what: format!("7. PostgreSQL durable entry, Session::{name}"),
            measured: ms(s.median()),
            baseline: format!(
                "bare BEGIN+INSERT+COMMIT {} → {ratio:.2}x (autocommit INSERT {} → {:.2}x)",
                ms(bare),
                ms(e.bare_auto.median()),
                s.median() / e.bare_auto.median()
            ),
            budget: "≤ 1.5x".into(),
            verdict: verdict(ratio <= 1.5 && e.errors.is_empty()),
        });
    }

    let alone = bench_pg_writers(&a.bin, &mut db, &url, a.pg_writers, 1, 10)?;
    println!(
        "  1 CLI writer alone: per entry {}; {} failed",
        alone.w.latency.line(),
        alone.w.failed
    );
    rows.push(Row {
        what: "7. (breakdown) PostgreSQL store only: Db::write with one entry + its audit row"
            .into(),
        measured: ms(e.store_only.median()),
        baseline: format!(
            "{:.2}x bare; one round trip (SELECT 1) {}",
            e.store_only.median() / bare,
            ms(e.round_trip.median())
        ),
        budget: "—".into(),
        verdict: "info",
    });
    let p = bench_pg_writers(&a.bin, &mut db, &url, 0, a.pg_writers, a.pg_per_writer)?;
    let want = (a.pg_writers * a.pg_per_writer) as i64;
    let rate = p.w.ok as f64 / p.w.wall.as_secs_f64();
    println!(
        "  {}: {} ok, {} failed, {:.1} s, {rate:.1} entries/s, p50 {} p99 {}",
        p.w.label,
        p.w.ok,
        p.w.failed,
        p.w.wall.as_secs_f64(),
        ms(p.w.latency.median()),
        ms(p.w.latency.pct(99.0))
    );
    if let Some(x) = &p.w.sample_error {
        println!("    first error: {x}");
    }
    println!(
        "  in the database: {} entries, {} distinct (patient, time), {want} expected, every patient {} × once: {}; audit verify: {}",
        p.entries, p.distinct, a.pg_per_writer, p.per_patient_ok, p.verify
    );
    let all_once = p.entries == want && p.distinct == want && p.per_patient_ok;
    rows.push(Row {
        what: format!("7. {}", p.w.label),
        measured: format!(
            "p50 {} p99 {} per entry (a whole CLI process: start, sign-in, write); {rate:.0} entries/s",
            ms(p.w.latency.median()),
            ms(p.w.latency.pct(99.0))
        ),
        baseline: format!(
            "1 writer alone p50 {}; {} of {want} present once, {} failed; audit verify {}",
            ms(alone.w.latency.median()),
            p.distinct,
            p.w.failed,
            if p.verify.starts_with("FAILED") { "FAILED" } else { "ok" }
        ),
        budget: "every entry once, 0 errors".into(),
        verdict: verdict(all_once && p.w.failed == 0 && !p.verify.starts_with("FAILED")),
    });
    drop(db);

    let reps = a.reps.max(20);
    let push = bench_pg_refresh(&url, cfg, reps, true, "1")?;
    let poll = bench_pg_refresh(&url, cfg, a.reps.min(10), false, "2")?;
    println!(
        "  live refresh, LISTEN/NOTIFY watch {}, p95 {}",
        push.line(),
        ms(push.pct(95.0))
    );
    println!(
        "  live refresh, tick poll only      {}, p95 {}",
        poll.line(),
        ms(poll.pct(95.0))
    );
    rows.push(Row {
        what: "7. PostgreSQL live refresh: another connection's course start → in this terminal's overview".into(),
        measured: format!("median {} p95 {}", ms(push.median()), ms(push.pct(95.0))),
        baseline: format!(
            "tick poll alone (no watch): median {} p95 {}",
            ms(poll.median()),
            ms(poll.pct(95.0))
        ),
        budget: "≤ 100 ms".into(),
        verdict: verdict(push.median() <= 100.0 && push.pct(95.0) <= 100.0),
    });
    println!("  server: PostgreSQL {version}");
    drop(cluster);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 8. Hospital scale (issue 12 §5): the same record on the SQLite file and on PostgreSQL

/// One backend of section 8: where the record is and what was measured on it.
struct Side {
    name: &'static str,
    at: Location,
    /// `--db` as the binary takes it: the file's path or the URL.
    arg: String,
    ff: FirstFrame,
    to_signin: Samples,
    to_overview: Samples,
    hwm_kb: Vec<u64>,
    co_load: Samples,
    co_compute: Samples,
    co_total: Samples,
    courses: usize,
    cli_cohort: Samples,
    cli_staff: Samples,
}

impl Side {
    fn new(name: &'static str, arg: String) -> Side {
        Side {
            name,
            at: Location::parse(&arg),
            arg,
            ff: FirstFrame::new(),
            to_signin: Samples::default(),
            to_overview: Samples::default(),
            hwm_kb: Vec::new(),
            co_load: Samples::default(),
            co_compute: Samples::default(),
            co_total: Samples::default(),
            courses: 0,
            cli_cohort: Samples::default(),
            cli_staff: Samples::default(),
        }
    }

    /// `cohort --json` less `staff list`, both whole processes: the cohort's own part.
    fn cli_less_baseline(&self) -> f64 {
        self.cli_cohort.median() - self.cli_staff.median()
    }

    fn hwm_mb(&self) -> f64 {
        let mut v = self.hwm_kb.clone();
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(0) as f64 / 1024.0
    }
}

/// One `titrate` process on `db`, signed in as the generator's admin (GEN, PIN 0000), its
/// output thrown away: the wall time from spawn to exit.
fn cli_run(bin: &Path, db: &str, args: &[&str]) -> Result<Duration> {
    let t = Clock::now();
    let out = Command::new(bin)
        .args(["--config", CONFIG, "--db", db])
        .args(args)
        .env("TITRATE_USER", "GEN")
        .env("TITRATE_PIN", "0000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    let d = t.elapsed();
    if !out.status.success() {
        bail!(
            "titrate {} on {db}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(d)
}

/// `rounds` rounds of `step` on each side in turn (SQLite, then PostgreSQL), so that both
/// meet the same load; at least 3 rounds, none begun after `limit`.
fn interleaved(
    sides: &mut [Side; 2],
    rounds: usize,
    limit: Duration,
    mut step: impl FnMut(&mut Side) -> Result<()>,
) -> Result<()> {
    let began = Clock::now();
    for i in 0..rounds {
        for s in sides.iter_mut() {
            step(s)?;
        }
        if i >= 2 && began.elapsed() > limit {
            break;
        }
    }
    Ok(())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

/// Section 8: the record of the other sections (`--db FILE` or `--courses N`, with the 40
/// active courses) copied with `titrate migrate --to URL` into a throwaway cluster, then
/// the first frame, the overview after the PIN and the cohort measured on the file and on
/// the server, interleaved; the file's figures are the baseline.
fn bench_hospital(
    a: &Args,
    cfg: &Config,
    work: &Path,
    dir: &Path,
    courses: usize,
    rows: &mut Vec<Row>,
) -> Result<()> {
    let load_before = load_average();
    println!(
        "\n[8] hospital scale: {courses} courses on the SQLite file and on PostgreSQL (load average {load_before}) ..."
    );
    let setup = pg::Setup {
        conf: a.pg_conf.clone(),
        ..Default::default()
    };
    let (cluster, d) = time(|| pg::Cluster::start_with(&setup));
    let version = cluster.psql("postgres", "SHOW server_version");
    let shared = cluster.psql("postgres", "SHOW shared_buffers");
    println!(
        "  throwaway cluster (PostgreSQL {version}, shared_buffers {shared}, fsync on, Unix socket {}) started in {:.1} s",
        cluster.socket_dir().display(),
        d.as_secs_f64()
    );
    let url = cluster.create_database("titrate");

    // The copy: titrate's own migrate, as a ward moving to the server would make it.
    println!("  migrate --to the server ...");
    let t = Clock::now();
    let out = Command::new(&a.bin)
        .args(["--config", CONFIG, "--db"])
        .arg(work)
        .args(["migrate", "--to", &url])
        .env("TITRATE_USER", "GEN")
        .env("TITRATE_PIN", "0000")
        .stdin(Stdio::null())
        .output()?;
    let migrate = t.elapsed();
    if !out.status.success() {
        bail!(
            "titrate migrate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let said = String::from_utf8_lossy(&out.stdout);
    let said = said.lines().next().unwrap_or("").to_string();
    println!("  {said}");
    println!("  migrate process: {:.1} s", migrate.as_secs_f64());
    // "FILE copied to URL in 12.3 s: N rows in 11 tables and M audit rows, in one
    // transaction": the copy's own time and what it copied, for the table.
    let copied = said
        .rsplit_once(": ")
        .map(|(head, rows)| {
            let secs = head.rsplit_once(" in ").map_or("?", |(_, t)| t);
            format!("the copy itself {secs}: {rows}")
        })
        .unwrap_or_else(|| said.clone());

    // What a terminal meets in the first minute after the migrate, before autovacuum has
    // set the visibility map: one cohort read, not a budget figure.
    let mut pg_db = Db::open(url.as_str())?;
    let (fresh, _) = time(|| cohort_once(&mut pg_db, cfg));
    let (fresh_load, _, _) = fresh?;
    drop(pg_db);
    println!(
        "  cohort read just after the migrate (before VACUUM): {}",
        ms(fresh_load.as_secs_f64() * 1000.0)
    );
    // What autovacuum does on its own soon after a bulk load of this size; done here at
    // once so that the measurements below do not share the cores with it.
    let (_, vacuum) = time(|| cluster.psql("titrate", "VACUUM (ANALYZE)"));
    cluster.psql("titrate", "CHECKPOINT");
    let pg_bytes: i64 = cluster
        .psql("titrate", "SELECT pg_database_size(current_database())")
        .parse()?;
    let file_bytes = std::fs::metadata(work)?.len();
    std::fs::File::open(work)?.sync_all()?;
    println!(
        "  VACUUM (ANALYZE) + CHECKPOINT {:.1} s; database {:.0} MB (the file {:.0} MB)",
        vacuum.as_secs_f64(),
        pg_bytes as f64 / 1e6,
        file_bytes as f64 / 1e6
    );

    let mut sides = [
        Side::new("SQLite file", work.display().to_string()),
        Side::new("PostgreSQL", url.clone()),
    ];
    let limit = Duration::from_secs(150);
    let (shell, shell_label) = bench_shell(work, a.reps.min(9))?;
    println!("  {shell_label} on the file: {}", shell.line());

    println!("  first frame in process ...");
    interleaved(&mut sides, a.reps.min(9), limit, |s| {
        first_frame_once(&s.at, cfg, &mut s.ff)
    })?;
    println!("  ward terminal in a pseudo-terminal ...");
    interleaved(&mut sides, a.reps.min(7), limit, |s| {
        let r = pty_run(&a.bin, &s.arg, dir)?;
        s.to_signin.push(r.to_signin);
        s.to_overview.push(r.to_overview);
        s.hwm_kb.push(r.vm_hwm_kb);
        Ok(())
    })?;
    println!("  cohort in process ...");
    let mut dbs = [Db::open(&sides[0].at)?, Db::open(&sides[1].at)?];
    let began = Clock::now();
    for i in 0..a.reps.min(9) {
        for (s, db) in sides.iter_mut().zip(dbs.iter_mut()) {
            let t = Clock::now();
            let (l, c, n) = cohort_once(db, cfg)?;
            s.co_total.push(t.elapsed());
            s.co_load.push(l);
            s.co_compute.push(c);
            s.courses = n;
        }
        if i >= 2 && began.elapsed() > limit {
            break;
        }
    }
    drop(dbs);
    println!("  cohort --json and staff list as processes ...");
    interleaved(&mut sides, a.reps.min(9), limit, |s| {
        s.cli_staff
            .push(cli_run(&a.bin, &s.arg, &["staff", "list"])?);
        s.cli_cohort
            .push(cli_run(&a.bin, &s.arg, &["cohort", "--json"])?);
        Ok(())
    })?;
    let load_after = load_average();

    for s in &sides {
        println!("  {}:", s.name);
        println!(
            "    in-process Db::open + App::new   {}",
            s.ff.open_app.line()
        );
        println!(
            "    in-process sign_in (argon2)      {}",
            s.ff.sign_in.line()
        );
        println!(
            "    in-process app.reload()          {}",
            s.ff.reload.line()
        );
        println!("    in-process first draw            {}", s.ff.draw.line());
        println!("    in-process total                 {}", s.ff.total.line());
        println!(
            "    in-process total without PIN     {}",
            s.ff.total_without_pin.line()
        );
        println!(
            "    in-process idle read of the ward {}",
            s.ff.idle_read.line()
        );
        println!(
            "    in-process Enter → overview after the wait {}",
            s.ff.after_wait.line()
        );
        if let Some(m) = &s.ff.note {
            println!("    note: the app reported: {m}");
        }
        println!(
            "    pty: spawn → sign-in screen      {}",
            s.to_signin.line()
        );
        println!(
            "    pty: PIN Enter → overview shown  {}",
            s.to_overview.line()
        );
        println!("    pty: VmHWM median {:.1} MB", s.hwm_mb());
        println!("    cohort load_outcomes             {}", s.co_load.line());
        println!(
            "    cohort compute                   {}",
            s.co_compute.line()
        );
        println!(
            "    cohort total ({} courses)     {}",
            s.courses,
            s.co_total.line()
        );
        println!(
            "    process `staff list`             {}",
            s.cli_staff.line()
        );
        println!(
            "    process `cohort --json`          {}",
            s.cli_cohort.line()
        );
    }
    println!("  load average {load_before} at the start, {load_after} at the end");

    let [file, server] = &sides;
    let sh = shell.median();
    rows.push(Row {
        what: format!(
            "8. `titrate migrate --to URL` of the whole record ({courses} courses + {ACTIVE} active)"
        ),
        measured: format!("{:.1} s", migrate.as_secs_f64()),
        baseline: format!(
            "whole process (sign-in, audit verify of the file, copy); {copied}; then VACUUM (ANALYZE) + CHECKPOINT {:.1} s; file {:.0} MB → database {:.0} MB",
            vacuum.as_secs_f64(),
            file_bytes as f64 / 1e6,
            pg_bytes as f64 / 1e6
        ),
        budget: "—".into(),
        verdict: "info",
    });
    // One row per backend: the server's against the file's, the file's against the shell.
    let both = |rows: &mut Vec<Row>,
                what: &str,
                f: &dyn Fn(&Side) -> f64,
                file_baseline: String,
                budget: f64| {
        let (x, y) = (f(server), f(file));
        rows.push(Row {
            what: format!("8. {what}, PostgreSQL"),
            measured: ms(x),
            baseline: format!(
                "SQLite file, same data, same run: {} → {:.2}x",
                ms(y),
                x / y
            ),
            budget: format!("≤ {budget:.0} ms"),
            verdict: verdict(x <= budget),
        });
        rows.push(Row {
            what: format!("8. {what}, SQLite file"),
            measured: ms(y),
            baseline: file_baseline,
            budget: format!("≤ {budget:.0} ms"),
            verdict: verdict(y <= budget),
        });
    };
    let vs_shell = |t: f64| format!("{shell_label} {} → {:.2}x", ms(sh), t / sh);
    both(
        rows,
        "first frame in process: open → signed in → overview drawn, nothing read before (cold)",
        &|s| s.ff.total.median(),
        vs_shell(file.ff.total.median()),
        50.0,
    );
    both(
        rows,
        "same, without the argon2 PIN check",
        &|s| s.ff.total_without_pin.median(),
        vs_shell(file.ff.total_without_pin.median()),
        50.0,
    );
    for s in [server, file] {
        rows.push(Row {
            what: format!("8. (breakdown) first frame in process, {}", s.name),
            measured: ms(s.ff.total.median()),
            baseline: format!(
                "open + App::new {}, sign-in (argon2) {}, reload {}, draw {}",
                ms(s.ff.open_app.median()),
                ms(s.ff.sign_in.median()),
                ms(s.ff.reload.median()),
                ms(s.ff.draw.median())
            ),
            budget: "—".into(),
            verdict: "info",
        });
    }
    both(
        rows,
        "pty: spawn → sign-in screen drawn",
        &|s| s.to_signin.median(),
        vs_shell(file.to_signin.median()),
        50.0,
    );
    both(
        rows,
        "pty: PIN Enter → overview drawn (incl. argon2; ward read while the sign-in screen waited)",
        &|s| s.to_overview.median(),
        vs_shell(file.to_overview.median()),
        50.0,
    );
    both(
        rows,
        "in process: PIN Enter → overview drawn, ward read during the idle wait",
        &|s| s.ff.after_wait.median(),
        format!(
            "{}; the idle read took {}",
            vs_shell(file.ff.after_wait.median()),
            ms(file.ff.idle_read.median())
        ),
        50.0,
    );
    both(
        rows,
        &format!(
            "cohort in process: load_outcomes + cohort (n = {} courses)",
            server.courses
        ),
        &|s| s.co_total.median(),
        format!(
            "load {} + compute {}",
            ms(file.co_load.median()),
            ms(file.co_compute.median())
        ),
        250.0,
    );
    let n = rows.len();
    rows[n - 2].baseline.push_str(&format!(
        "; PostgreSQL load {} + compute {}",
        ms(server.co_load.median()),
        ms(server.co_compute.median())
    ));
    both(
        rows,
        "`titrate cohort --json` process less a `titrate staff list` process",
        &Side::cli_less_baseline,
        format!(
            "cohort --json {} − staff list {}",
            ms(file.cli_cohort.median()),
            ms(file.cli_staff.median())
        ),
        250.0,
    );
    let n = rows.len();
    rows[n - 2].baseline.push_str(&format!(
        "; PostgreSQL cohort --json {} − staff list {}",
        ms(server.cli_cohort.median()),
        ms(server.cli_staff.median())
    ));
    rows.push(Row {
        what: "8. (info) PostgreSQL cohort read just after the migrate, before VACUUM (one run)"
            .into(),
        measured: ms(fresh_load.as_secs_f64() * 1000.0),
        baseline: format!(
            "after VACUUM (ANALYZE): load {}",
            ms(server.co_load.median())
        ),
        budget: "—".into(),
        verdict: "info",
    });
    rows.push(Row {
        what: "8. (info) TUI peak RSS (VmHWM) after the overview".into(),
        measured: format!("PostgreSQL {:.1} MB", server.hwm_mb()),
        baseline: format!("SQLite file {:.1} MB", file.hwm_mb()),
        budget: "≤ 40 MB".into(),
        verdict: verdict(server.hwm_mb() > 0.0 && server.hwm_mb() <= 40.0),
    });
    rows.push(Row {
        what: "8. (info) machine load during section 8 (1, 5, 15 min load average)".into(),
        measured: format!("{load_before} → {load_after}"),
        baseline: format!(
            "{}; PostgreSQL {version}, shared_buffers {shared}",
            machine()
        ),
        budget: "—".into(),
        verdict: "info",
    });
    drop(cluster);
    Ok(())
}

// ---------------------------------------------------------------------------------------------

fn main() -> Result<()> {
    let mut raw = std::env::args().skip(1);
    if std::env::args().nth(1).as_deref() == Some("--writer-child") {
        raw.next();
        return writer_child(raw);
    }
    let a = args()?;
    let cfg = Config::load(Some(Path::new(CONFIG)))?;
    if !a.bin.is_file() {
        bail!(
            "no titrate binary at {} (cargo build --release, or --bin PATH)",
            a.bin.display()
        );
    }
    println!("titrate benchmarks: {}", machine());
    println!("binary: {}", a.bin.display());
    let dir = tempfile::Builder::new()
        .prefix("titrate-bench-")
        .tempdir_in(&a.tmp)?;
    let work = dir.path().join("work.db");
    let mut rows: Vec<Row> = Vec::new();

    if a.runs(7) {
        bench_postgres(&a, &cfg, &mut rows)?;
        if !a.only.is_empty() && a.only.iter().all(|s| *s == 7) {
            print_rows(&rows, "PostgreSQL section only");
            return Ok(());
        }
    }

    // The record.
    let courses;
    if let Some(src) = &a.db {
        let (r, d) = time(|| std::fs::copy(src, &work));
        r.with_context(|| format!("copying {}", src.display()))?;
        courses = Db::open(&work)?
            .sqlite()
            .expect("an SQLite file")
            .raw_connection()
            .query_row("SELECT COUNT(*) FROM course", [], |r| r.get::<_, i64>(0))?
            as usize;
        println!(
            "database: copy of {} ({courses} courses) in {:.1} s",
            src.display(),
            d.as_secs_f64()
        );
    } else {
        println!("generating {} courses (seed {}) ...", a.courses, a.seed);
        let t = Clock::now();
        let out = Command::new(&a.bin)
            .args(["--config", CONFIG, "--db"])
            .arg(&work)
            .args([
                "demo",
                "--courses",
                &a.courses.to_string(),
                "--seed",
                &a.seed.to_string(),
            ])
            .output()?;
        let d = t.elapsed();
        if !out.status.success() {
            bail!(
                "titrate demo failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        print!("{}", String::from_utf8_lossy(&out.stdout));
        courses = a.courses;
        let per_10k = d.as_secs_f64() * 10_000.0 / a.courses.max(1) as f64;
        rows.push(Row {
            what: format!("0. generate {} courses (`titrate demo`)", a.courses),
            measured: format!(
                "{:.1} s (one run, {:.0} courses/s)",
                d.as_secs_f64(),
                a.courses as f64 / d.as_secs_f64()
            ),
            baseline: format!("≈ {per_10k:.0} s per 10,000 (linear)"),
            budget: "10,000 in < 60 s".into(),
            verdict: verdict(per_10k < 60.0),
        });
    }
    let size = std::fs::metadata(&work)?.len();
    {
        let mut db = Db::open(&work)?;
        add_active_courses(&mut db, &cfg)?;
    }
    let (entries, patients): (i64, i64) = Db::open(&work)?
        .sqlite()
        .expect("an SQLite file")
        .raw_connection()
        .query_row(
            "SELECT (SELECT COUNT(*) FROM entry), (SELECT COUNT(*) FROM patient)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
    let mrn = full_course_mrn(&Db::open(&work)?)?;
    // Generating or copying leaves up to gigabytes of dirty pages; their writeback would
    // slow every fsync measured below. Flushed here, before any timing.
    std::fs::File::open(&work)?.sync_all()?;
    println!(
        "database: {courses} generated courses + {ACTIVE} active, {patients} patients, {entries} entries, {:.0} MB; full course: MRN {mrn}",
        size as f64 / 1e6
    );

    let mut hwm: Vec<(u64, u64)> = Vec::new();
    if a.runs(1) {
        // 1.
        println!("\n[1] durable entry ...");
        let e = bench_entry(&work, dir.path(), &cfg, &mrn, a.reps)?;
        println!("  titrate record_nrs      {}", e.nrs.line());
        println!("  titrate record_rate     {}", e.rate.line());
        println!("  store only (insert+audit){}", e.store_only.line());
        println!("  record_rate's reads     {}", e.rate_reads.line());
        println!("  record_rate from a form {}", e.rate_from_form.line());
        println!("  bare rusqlite INSERT    {}", e.bare.line());
        if let Some(x) = e.errors.first() {
            println!("  {} errors, first: {x}", e.errors.len());
        }
        let bare = e.bare.median();
        for (name, s) in [("record_nrs", &e.nrs), ("record_rate", &e.rate)] {
            let ratio = s.median() / bare;
            rows.push(Row {
                what: format!("1. durable entry, Session::{name}"),
                measured: ms(s.median()),
                baseline: format!("bare INSERT+COMMIT {} → {ratio:.2}x", ms(bare)),
                budget: "≤ 1.5x".into(),
                verdict: verdict(ratio <= 1.5),
            });
        }
        rows.push(Row {
            what: "1. (breakdown) store only: entry + audit row".into(),
            measured: ms(e.store_only.median()),
            baseline: format!("{:.2}x bare", e.store_only.median() / bare),
            budget: "—".into(),
            verdict: "info",
        });
        rows.push(Row {
            what: "1. record_rate from a ward-terminal form (stale check in the write)".into(),
            measured: ms(e.rate_from_form.median()),
            baseline: format!(
                "{:.2}x record_rate, {:.2}x bare",
                e.rate_from_form.median() / e.rate.median(),
                e.rate_from_form.median() / bare
            ),
            budget: "—".into(),
            verdict: "info",
        });
        rows.push(Row {
            what: "1. (breakdown) record_rate's reads: course bounds + the course's rates".into(),
            measured: ms(e.rate_reads.median()),
            baseline: format!("{:.2}x bare", e.rate_reads.median() / bare),
            budget: "—".into(),
            verdict: "info",
        });
    }
    if a.runs(2) {
        // 2 and 5.
        println!("\n[2] first frame ...");
        let (shell, shell_label) = bench_shell(&work, a.reps)?;
        println!("  {shell_label}: {}", shell.line());
        let mut signin = Samples::default();
        let mut overview = Samples::default();
        let pty_reps = a.reps.min(7);
        let began = Clock::now();
        for i in 0..pty_reps {
            match pty_run(&a.bin, &work.display().to_string(), dir.path()) {
                Ok(r) => {
                    signin.push(r.to_signin);
                    overview.push(r.to_overview);
                    hwm.push((r.vm_hwm_kb, r.vm_rss_kb));
                }
                Err(e) => println!("  pty run failed: {e:#}"),
            }
            if i >= 2 && began.elapsed() > Duration::from_secs(120) {
                break;
            }
        }
        println!("  pty: spawn → sign-in screen      {}", signin.line());
        println!("  pty: PIN Enter → overview shown  {}", overview.line());
        let ff = bench_first_frame(&Location::from(&work), &cfg, a.reps.min(9))?;
        println!("  in-process Db::open + App::new   {}", ff.open_app.line());
        println!("  in-process sign_in (argon2)      {}", ff.sign_in.line());
        println!("  in-process app.reload()          {}", ff.reload.line());
        println!("  in-process first draw            {}", ff.draw.line());
        println!("  in-process total                 {}", ff.total.line());
        println!(
            "  in-process total without PIN     {}",
            ff.total_without_pin.line()
        );
        println!("  in-process idle read of the ward {}", ff.idle_read.line());
        println!(
            "  in-process Enter → overview after the wait {}",
            ff.after_wait.line()
        );
        if let Some(m) = &ff.note {
            println!("  note: the app reported: {m}");
        }
        let sh = shell.median();
        rows.push(Row {
            what: "2. pty: spawn → sign-in screen drawn".into(),
            measured: ms(signin.median()),
            baseline: format!("shell {} → {:.2}x", ms(sh), signin.median() / sh),
            budget: "≤ 50 ms, ≤ 3x".into(),
            verdict: verdict(signin.median() <= 50.0 && signin.median() <= 3.0 * sh),
        });
        rows.push(Row {
            what: "2. pty: PIN Enter → overview drawn (incl. argon2; ward read while the sign-in screen waited)".into(),
            measured: ms(overview.median()),
            baseline: format!("shell {} → {:.2}x", ms(sh), overview.median() / sh),
            budget: "≤ 50 ms, ≤ 3x".into(),
            verdict: verdict(overview.median() <= 50.0 && overview.median() <= 3.0 * sh),
        });
        let t = ff.total.median();
        rows.push(Row {
            what: "2. in-process open → signed in → overview drawn, nothing read before (cold)"
                .into(),
            measured: ms(t),
            baseline: format!("shell {} → {:.2}x", ms(sh), t / sh),
            budget: "≤ 50 ms, ≤ 3x".into(),
            verdict: verdict(t <= 50.0 && t <= 3.0 * sh),
        });
        let t = ff.total_without_pin.median();
        rows.push(Row {
            what: "2. same, without the argon2 PIN check".into(),
            measured: ms(t),
            baseline: format!("shell {} → {:.2}x", ms(sh), t / sh),
            budget: "≤ 50 ms, ≤ 3x".into(),
            verdict: verdict(t <= 50.0 && t <= 3.0 * sh),
        });
        let t = ff.after_wait.median();
        rows.push(Row {
            what: "2. in-process PIN Enter → overview drawn, ward read during the idle wait".into(),
            measured: ms(t),
            baseline: format!(
                "shell {} → {:.2}x; the idle read took {}",
                ms(sh),
                t / sh,
                ms(ff.idle_read.median())
            ),
            budget: "≤ 50 ms, ≤ 3x".into(),
            verdict: verdict(t <= 50.0 && t <= 3.0 * sh),
        });
    }
    if a.runs(3) {
        // 3.
        println!("\n[3] screens ...");
        let s = bench_screens(&work, &cfg, &mrn, a.reps)?;
        println!("  overview: {} active rows", s.active_rows);
        println!("  overview reload()        {}", s.ov_reload.line());
        println!("  overview draw            {}", s.ov_draw.line());
        println!("  overview reload+draw     {}", s.ov_both.line());
        println!(
            "  overview up to the clock ({} patients held) + draw {}",
            s.ward_patients,
            s.ov_clock.line()
        );
        println!("  view::load_ward          {}", s.load_ward.line());
        println!("  view::load_detail        {}", s.load_detail.line());
        println!(
            "  detail ({} timeline rows) reload() {}",
            s.timeline_rows,
            s.de_reload.line()
        );
        println!("  detail draw              {}", s.de_draw.line());
        println!("  cohort screen opened     {}", s.co_open.line());
        println!("  cohort screen refresh+draw {}", s.co_both.line());
        println!("  detail reload+draw       {}", s.de_both.line());
        for (what, x) in [
            (
                format!(
                    "3. overview ({} active) refresh after an entry elsewhere + draw",
                    s.active_rows
                ),
                &s.ov_both,
            ),
            ("3. overview draw only (every tick)".to_string(), &s.ov_draw),
            (
                format!(
                    "3. overview brought up to the clock (every 30 s; {} patients held) + draw",
                    s.ward_patients
                ),
                &s.ov_clock,
            ),
            (
                "3. cohort screen: refresh after an entry elsewhere + draw".to_string(),
                &s.co_both,
            ),
            (
                format!(
                    "3. detail, 168-h course ({} rows) reload + draw",
                    s.timeline_rows
                ),
                &s.de_both,
            ),
            ("3. detail draw only (every tick)".to_string(), &s.de_draw),
        ] {
            rows.push(Row {
                what,
                measured: ms(x.median()),
                baseline: "—".into(),
                budget: "≤ 2 ms".into(),
                verdict: verdict(x.median() <= 2.0),
            });
        }
    }
    if a.runs(4) {
        // 4.
        println!("\n[4] reports ...");
        let r = bench_reports(&work, &cfg, &mrn, a.reps.min(9))?;
        println!("  cohort load_outcomes     {}", r.load.line());
        println!("  cohort compute           {}", r.compute.line());
        println!("  cohort total ({} courses) {}", r.courses, r.total.line());
        println!("  pdf summary::build       {}", r.pdf_build.line());
        println!(
            "  pdf render ({} bytes)  {}",
            r.pdf_bytes,
            r.pdf_render.line()
        );
        println!("  pdf total                {}", r.pdf_total.line());
        rows.push(Row {
            what: format!(
                "4. cohort over all records (n = {} courses in the table)",
                r.courses
            ),
            measured: ms(r.total.median()),
            baseline: format!(
                "load {} + compute {}",
                ms(r.load.median()),
                ms(r.compute.median())
            ),
            budget: "≤ 250 ms".into(),
            verdict: verdict(r.total.median() <= 250.0),
        });
        rows.push(Row {
            what: "4. PDF discharge summary, full course".into(),
            measured: ms(r.pdf_total.median()),
            baseline: format!(
                "build {} + render {}",
                ms(r.pdf_build.median()),
                ms(r.pdf_render.median())
            ),
            budget: "≤ 100 ms".into(),
            verdict: verdict(r.pdf_total.median() <= 100.0),
        });
    }
    if !hwm.is_empty() {
        // 5.
        let peak = hwm.iter().map(|h| h.0).max().unwrap_or(0) as f64 / 1024.0;
        let mut hwms: Vec<u64> = hwm.iter().map(|h| h.0).collect();
        hwms.sort_unstable();
        let med = hwms.get(hwms.len() / 2).copied().unwrap_or(0) as f64 / 1024.0;
        let rss = hwm.iter().map(|h| h.1).max().unwrap_or(0) as f64 / 1024.0;
        println!(
            "\n[5] TUI memory after sign-in + overview: VmHWM median {med:.1} MB, max {peak:.1} MB; VmRSS max {rss:.1} MB"
        );
        rows.push(Row {
            what: "5. TUI peak RSS (VmHWM) after overview".into(),
            measured: format!("{med:.1} MB"),
            baseline: format!("VmRSS then {rss:.1} MB"),
            budget: "≤ 40 MB".into(),
            verdict: verdict(med > 0.0 && med <= 40.0),
        });
    }
    if a.runs(6) {
        // 6.
        println!("\n[6] concurrent writers ...");
        let single = writers_cli(&a.bin, &work, 1, 5)?;
        println!("  1 CLI writer: per command {}", single.latency.line());
        let runs = [
            writers_cli(&a.bin, &work, a.writers, a.per_writer)?,
            writers_inproc(&work, a.writers, a.per_writer * 5)?,
        ];
        for w in &runs {
            let rate = w.ok as f64 / w.wall.as_secs_f64();
            println!(
                "  {}: {} ok, {} failed, {} lock errors, {:.1} s, {rate:.1} entries/s, p50 {} p99 {}",
                w.label,
                w.ok,
                w.failed,
                w.lock_errors,
                w.wall.as_secs_f64(),
                ms(w.latency.median()),
                ms(w.latency.pct(99.0))
            );
            if let Some(e) = &w.sample_error {
                println!("    first error: {e}");
            }
            rows.push(Row {
                what: format!("6. {}", w.label),
                measured: format!(
                    "{rate:.0} entries/s; p50 {} p99 {}",
                    ms(w.latency.median()),
                    ms(w.latency.pct(99.0))
                ),
                baseline: format!(
                    "{} lock errors, {} failed of {}",
                    w.lock_errors,
                    w.failed,
                    w.ok + w.failed
                ),
                budget: "0 lock errors".into(),
                verdict: verdict(w.lock_errors == 0 && w.failed == 0),
            });
        }
        let n = rows.len();
        rows[n - 2].baseline.push_str(&format!(
            "; 1 writer alone {} per command",
            ms(single.latency.median())
        ));
    }
    if a.runs(8) {
        bench_hospital(&a, &cfg, &work, dir.path(), courses, &mut rows)?;
    }
    print_rows(&rows, &format!("{courses} courses"));
    Ok(())
}

fn print_rows(rows: &[Row], what: &str) {
    println!(
        "\n## Results ({what}, {})\n",
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    println!("| measurement | median | baseline / breakdown | budget | |");
    println!("|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.what, r.measured, r.baseline, r.budget, r.verdict
        );
    }
}
