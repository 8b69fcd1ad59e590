#![allow(clippy::unwrap_used)]
//! `titrate cohort --json` against statistics computed independently, on cohorts with known
//! answers.
//!
//! Every expected figure below is printed by `tests/reference/cohort_reference.py`
//! (numpy 2.4.6, scipy 1.17.1, statsmodels 0.15.0), which holds the same cohorts as data:
//! - quartiles: `numpy.percentile(values, [25, 50, 75], method="weibull")` (Hyndman-Fan 6);
//! - Wilcoxon T0 vs T1: `scipy.stats.wilcoxon(t0, t1, zero_method="wilcox",
//!   correction=False, method="asymptotic")` (`.zstatistic`, `.pvalue`); `n` = non-zero
//!   pairs; `w_plus`/`w_minus` = sums of `scipy.stats.rankdata(|d|)` over d > 0 / d < 0;
//! - McNemar T1 vs T2: `statsmodels.stats.contingency_tables.mcnemar([[kept, lost],
//!   [gained, never]], exact=True).pvalue`;
//! - responder: drop >= 2 from T0 or reported successful (domain.md).
//!
//! Each cohort is recorded through the library (`titrate::ward`) into a fresh database, then
//! the cohort table is computed both in-process and by the real binary (`titrate cohort
//! --json`), and both JSON outputs are checked against the same expectations.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{Duration, TimeZone, Utc};
use serde_json::Value;
use tempfile::TempDir;

use titrate::config::Config;
use titrate::domain::marks::OutcomeRecord;
use titrate::domain::outcome::Responder;
use titrate::domain::rate::Rate;
use titrate::domain::record::{NewPatient, PatientRecord, Staff};
use titrate::domain::time::Instant;
use titrate::domain::values::{EndReason, Nrs, Sex, Timepoint};
use titrate::report::cohort::{Range, cohort};
use titrate::store::Db;
use titrate::ward::entries::Amendment;
use titrate::ward::entries::Session;
use titrate::ward::{WardError, access, load_all, load_outcomes, load_record_of};

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml");
const REL_TOL: f64 = 1e-9;

/// One patient as the windows resolve it: (T0, T1, T2, reported at T1, reported at T2).
/// The same tuples as in cohort_reference.py (None there is None here).
type Pt = (
    Option<u8>,
    Option<u8>,
    Option<u8>,
    Option<bool>,
    Option<bool>,
);

const N: Option<u8> = None;
const fn s(v: u8) -> Option<u8> {
    Some(v)
}
const Y: Option<bool> = Some(true);
const NO: Option<bool> = Some(false);
const U: Option<bool> = None;

// ---------------------------------------------------------------------------------------
// The cohorts (copied from tests/reference/cohort_reference.py).

/// Shaped like the seed study: 48 patients; median NRS T0 8 (IQR 2), T1 6 (IQR 4);
/// 30/48 responders at T1, 20/42 at T2; 12 lost and 3 gained between T1 and T2.
const SEED: [Pt; 48] = [
    // kept: responder at T1 and at T2 (17)
    (s(8), s(4), s(5), U, U),
    (s(9), s(5), s(6), U, U),
    (s(10), s(6), s(7), U, U),
    (s(7), s(3), s(4), U, U),
    (s(8), s(4), s(5), U, U),
    (s(9), s(4), s(3), U, U),
    (s(10), s(5), s(6), U, U),
    (s(8), s(2), s(4), U, U),
    (s(7), s(4), s(5), U, U),
    (s(9), s(6), s(6), U, U),
    (s(8), s(6), s(6), NO, U), // a drop of 2 makes a responder even against a "no" report
    (s(10), s(8), s(7), U, U),
    (s(9), s(3), s(2), U, U),
    (s(8), s(7), s(6), Y, U), // T1 rescued by a report: a drop of 1 only
    (s(6), s(4), N, U, Y),    // no T2 score, but reported successful at T2
    (s(9), s(7), s(8), U, Y), // T2 rescued by a report: a drop of 1 only
    (s(10), s(4), s(5), U, U),
    // lost: responder at T1, non-responder at T2 (12)
    (s(8), s(4), s(8), U, U),
    (s(9), s(6), s(9), U, U),
    (s(7), s(5), s(7), U, U),
    (s(10), s(7), s(10), U, U),
    (s(8), s(6), s(8), U, U),
    (s(9), s(7), s(9), U, U),
    (s(8), s(4), s(7), U, U),
    (s(9), s(8), s(9), Y, U), // T1 rescued by a report
    (s(7), s(6), s(7), Y, U), // T1 rescued by a report
    (s(10), s(6), N, U, NO),  // no T2 score, reported not successful at T2
    (s(8), s(3), s(8), U, U),
    (s(9), s(4), s(10), U, U),
    // gained: non-responder at T1, responder at T2 (3)
    (s(8), s(8), s(5), U, U),
    (s(7), s(7), s(5), U, U),
    (s(9), s(9), s(6), U, U),
    // never: non-responder at T1 and at T2 (10)
    (s(8), s(8), s(8), U, U),
    (s(9), s(9), s(9), U, U),
    (s(7), s(8), s(7), U, U),
    (s(6), s(6), s(6), U, U),
    (s(10), s(10), s(9), U, U),
    (s(8), s(9), s(8), U, U),
    (s(5), s(5), s(5), U, U),
    (s(9), s(8), s(8), NO, NO),
    (s(7), s(7), s(7), U, U),
    (s(8), s(8), s(9), U, U),
    // unknown at T2 (6)
    (N, s(5), s(5), Y, U), // no T0: responder at T1 by report only, unknown at T2
    (s(8), s(8), N, U, U),
    (s(9), s(9), N, U, U),
    (s(7), s(7), N, U, U),
    (s(10), s(10), N, U, U),
    (s(6), s(7), N, U, U),
];

/// Small, with tied |differences| and zero differences at T0 -> T1.
const TIES: [Pt; 12] = [
    (s(5), s(5), s(5), U, U),
    (s(6), s(5), s(4), U, U),
    (s(7), s(8), s(7), Y, U),
    (s(8), s(6), s(8), U, U),
    (s(9), s(7), s(6), U, Y),
    (s(10), s(7), s(9), U, NO),
    (s(4), s(4), s(2), U, U),
    (s(3), s(0), s(3), U, U),
    (s(6), s(2), N, U, U),
    (s(7), s(8), s(5), U, U),
    (s(8), s(8), N, U, NO),
    (s(8), s(6), s(9), U, U),
];

// ---------------------------------------------------------------------------------------
// Expected figures (printed by cohort_reference.py).

struct Stat {
    n: u64,
    /// (q1, median, q3); None when there are no values.
    q: Option<(f64, f64, f64)>,
}

struct Expected {
    courses: u64,
    t0: Stat,
    t1: Stat,
    t2: Stat,
    missing: [u64; 3],
    wilcoxon_n: u64,
    /// (z, p); None when no pair has a non-zero difference.
    wilcoxon_zp: Option<(f64, f64)>,
    w_plus: f64,
    w_minus: f64,
    /// (responders, known)
    responders_t1: (u64, u64),
    responders_t2: (u64, u64),
    /// lost, gained, kept, never
    table: [u64; 4],
    mcnemar_p: f64,
}

fn expected_seed() -> Expected {
    Expected {
        courses: 48,
        t0: Stat {
            n: 47,
            q: Some((7.0, 8.0, 9.0)),
        },
        t1: Stat {
            n: 48,
            q: Some((4.0, 6.0, 8.0)),
        },
        t2: Stat {
            n: 41,
            q: Some((5.0, 7.0, 8.0)),
        },
        missing: [1, 0, 7],
        wilcoxon_n: 33,
        wilcoxon_zp: Some((-4.818712017342331, 1.444879306567028e-06)),
        w_plus: 549.0,
        w_minus: 12.0,
        responders_t1: (30, 48),
        responders_t2: (20, 42),
        table: [12, 3, 17, 10],
        mcnemar_p: 0.03515625,
    }
}

fn expected_ties() -> Expected {
    Expected {
        courses: 12,
        t0: Stat {
            n: 12,
            q: Some((5.25, 7.0, 8.0)),
        },
        t1: Stat {
            n: 12,
            q: Some((4.25, 6.0, 7.75)),
        },
        t2: Stat {
            n: 10,
            q: Some((3.75, 5.5, 8.25)),
        },
        missing: [0, 0, 2],
        wilcoxon_n: 9,
        wilcoxon_zp: Some((-2.2092013058981688, 0.02716064210717801)),
        w_plus: 41.0,
        w_minus: 4.0,
        responders_t1: (7, 12),
        responders_t2: (4, 11),
        table: [5, 3, 1, 2],
        mcnemar_p: 0.7265625,
    }
}

/// EDGE in cohort_reference.py: the edge-case database resolves to
/// (9,4,5), (7,6,-,yes,-), (8,8,6), (10,5,4), (7,-,6), (8,7,-).
fn expected_edge() -> Expected {
    Expected {
        courses: 6,
        t0: Stat {
            n: 6,
            q: Some((7.0, 8.0, 9.25)),
        },
        t1: Stat {
            n: 5,
            q: Some((4.5, 6.0, 7.5)),
        },
        t2: Stat {
            n: 4,
            q: Some((4.25, 5.5, 6.0)),
        },
        missing: [0, 1, 2],
        wilcoxon_n: 4,
        wilcoxon_zp: Some((-1.8569533817705188, 0.0633177868300456)),
        w_plus: 10.0,
        w_minus: 0.0,
        responders_t1: (3, 5),
        responders_t2: (3, 4),
        table: [0, 1, 2, 0],
        mcnemar_p: 1.0,
    }
}

fn expected_empty() -> Expected {
    let none = || Stat { n: 0, q: None };
    Expected {
        courses: 0,
        t0: none(),
        t1: none(),
        t2: none(),
        missing: [0, 0, 0],
        wilcoxon_n: 0,
        wilcoxon_zp: None,
        w_plus: 0.0,
        w_minus: 0.0,
        responders_t1: (0, 0),
        responders_t2: (0, 0),
        table: [0, 0, 0, 0],
        mcnemar_p: 1.0,
    }
}

// ---------------------------------------------------------------------------------------
// Checking a cohort table (in-process or from the binary, both as JSON).

fn close(what: &str, got: f64, want: f64) {
    let tol = REL_TOL * got.abs().max(want.abs());
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got:?}, expected {want:?} (relative tolerance {REL_TOL})"
    );
}

fn uint(v: &Value, path: &[&str]) -> u64 {
    at(v, path).as_u64().unwrap_or_else(|| {
        panic!(
            "{}: not an unsigned integer: {}",
            path.join("."),
            at(v, path)
        )
    })
}

fn float(v: &Value, path: &[&str]) -> Option<f64> {
    let x = at(v, path);
    if x.is_null() {
        return None;
    }
    Some(
        x.as_f64()
            .unwrap_or_else(|| panic!("{}: not a number: {x}", path.join("."))),
    )
}

fn at<'v>(v: &'v Value, path: &[&str]) -> &'v Value {
    let mut x = v;
    for k in path {
        x = x
            .get(k)
            .unwrap_or_else(|| panic!("no {} in the cohort JSON: {v}", path.join(".")));
    }
    x
}

fn check(label: &str, got: &Value, e: &Expected) {
    let l = |what: &str| format!("{label}: {what}");
    assert_eq!(uint(got, &["courses"]), e.courses, "{}", l("courses"));
    for (tp, stat, missing) in [
        ("t0", &e.t0, e.missing[0]),
        ("t1", &e.t1, e.missing[1]),
        ("t2", &e.t2, e.missing[2]),
    ] {
        assert_eq!(
            uint(got, &["nrs", tp, "n"]),
            stat.n,
            "{}",
            l(&format!("{tp} n"))
        );
        assert_eq!(
            uint(got, &["missing", tp]),
            missing,
            "{}",
            l(&format!("missing {tp}"))
        );
        let fields = ["q1", "median", "q3", "iqr"];
        match stat.q {
            Some((q1, med, q3)) => {
                for (f, want) in fields.iter().zip([q1, med, q3, q3 - q1]) {
                    let g = float(got, &["nrs", tp, f])
                        .unwrap_or_else(|| panic!("{}", l(&format!("{tp} {f} is null"))));
                    close(&l(&format!("{tp} {f}")), g, want);
                }
            }
            None => {
                for f in fields {
                    assert!(
                        float(got, &["nrs", tp, f]).is_none(),
                        "{}",
                        l(&format!("{tp} {f} should be null"))
                    );
                }
            }
        }
    }

    let wf = |f: &'static str| ["wilcoxon_t0_t1", f];
    assert_eq!(uint(got, &wf("n")), e.wilcoxon_n, "{}", l("wilcoxon n"));
    let (z, p) = (float(got, &wf("z")), float(got, &wf("p")));
    match e.wilcoxon_zp {
        Some((ez, ep)) => {
            let z = z.unwrap_or_else(|| panic!("{}", l("wilcoxon z is null")));
            let p = p.unwrap_or_else(|| panic!("{}", l("wilcoxon p is null")));
            // The sign of z is a convention (scipy: from min(W+, W-)); compare |z|.
            close(&l("wilcoxon |z|"), z.abs(), ez.abs());
            close(&l("wilcoxon p"), p, ep);
        }
        None => {
            assert!(z.is_none(), "{}", l("wilcoxon z should be null"));
            assert!(p.is_none(), "{}", l("wilcoxon p should be null"));
        }
    }
    close(
        &l("wilcoxon w_plus"),
        float(got, &wf("w_plus")).unwrap(),
        e.w_plus,
    );
    close(
        &l("wilcoxon w_minus"),
        float(got, &wf("w_minus")).unwrap(),
        e.w_minus,
    );

    for (tp, (r, k)) in [("t1", e.responders_t1), ("t2", e.responders_t2)] {
        let got_rk = (
            uint(got, &["responders", tp, "responders"]),
            uint(got, &["responders", tp, "known"]),
        );
        assert_eq!(got_rk, (r, k), "{}", l(&format!("responders {tp}")));
    }

    let m = |f: &str| uint(got, &["mcnemar_t1_t2", f]);
    assert_eq!(
        [m("lost"), m("gained"), m("kept"), m("never")],
        e.table,
        "{}",
        l("McNemar table [lost, gained, kept, never]")
    );
    let p = float(got, &["mcnemar_t1_t2", "p"]);
    if e.table.iter().all(|&x| x == 0) {
        // No patient known at both: no test, so no p-value beside "0/0".
        assert_eq!(p, None, "{}", l("McNemar p with no pairs"));
    } else {
        close(&l("McNemar p"), p.unwrap(), e.mcnemar_p);
    }
}

fn check_excluded(label: &str, got: &Value, without_ended: u64, running: u64, cancelled: u64) {
    let x = |f: &str| uint(got, &["excluded", f]);
    assert_eq!(
        [
            x("patients_without_ended_course"),
            x("still_running"),
            x("cancelled_only"),
            x("no_course")
        ],
        [without_ended, running, cancelled, 1],
        "{label}: excluded [without ended course, still running, cancelled only, no course]"
    );
}

// ---------------------------------------------------------------------------------------
// A ward database built through the library.

struct Ward {
    dir: TempDir,
    db: Db,
    cfg: Config,
    staff: Staff,
    now: Instant,
}

impl Ward {
    fn new() -> Ward {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let cfg = Config::defaults();
        let mut db = access::init(
            db_path(dir.path()),
            "AB",
            "Anna",
            "1234",
            &cfg.protocol,
            now,
        )
        .unwrap();
        let staff = access::sign_in(&mut db, &cfg, "AB", "1234", now).unwrap();
        Ward {
            dir,
            db,
            cfg,
            staff,
            now,
        }
    }

    fn session(&mut self) -> Session<'_> {
        Session {
            db: &mut self.db,
            cfg: &self.cfg,
            who: &self.staff,
            now: self.now,
            expect: None,
        }
    }

    fn patient(&mut self, mrn: &str) {
        self.session()
            .add_patient(&NewPatient {
                mrn: mrn.to_string(),
                name: format!("Patient {mrn}"),
                birth_date: chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap(),
                sex: Sex::Female,
                weight_kg: Some(70.0),
                crps_type: None,
                crps_onset: None,
                limb: None,
            })
            .unwrap();
    }

    fn nrs(&mut self, mrn: &str, at: Instant, v: u8, tag: Option<Timepoint>) -> i64 {
        let score = Nrs::new(i64::from(v)).unwrap();
        self.session().record_nrs(mrn, at, score, tag).unwrap().id
    }

    /// Starts a course with one rate entry (the protocol's starting rate, 2 mg/h).
    fn start(&mut self, mrn: &str, at: Instant) -> i64 {
        let id = self.session().start_course(mrn, at, None).unwrap().id;
        self.session()
            .record_rate(mrn, at, Rate::from_centi(200), None)
            .unwrap();
        id
    }

    /// A course start with no other entry, so that it may be voided.
    fn start_bare(&mut self, mrn: &str, at: Instant) -> i64 {
        self.session().start_course(mrn, at, None).unwrap().id
    }

    /// Most of these courses are short: an early end is not "completed" (issue 11 §2).
    fn end(&mut self, mrn: &str, at: Instant) {
        self.session()
            .end_course(mrn, at, EndReason::Other)
            .unwrap();
    }

    fn report(&mut self, mrn: &str, at: Instant, tp: Timepoint, ok: bool) -> i64 {
        self.session().record_success(mrn, at, tp, ok).unwrap().id
    }

    fn void(&mut self, id: i64) {
        self.session().void(id, "entered in error").unwrap();
    }

    /// One 7-day course whose timepoints resolve to `p`. `i` moves each score around inside
    /// its window (edges included) and tags some of them, so both ways of picking a score
    /// are exercised.
    fn course(&mut self, mrn: &str, start: Instant, p: Pt, i: i64) {
        let (t0, t1, t2, rep1, rep2) = p;
        let end = start + Duration::days(7);
        let tag = |every: i64, off: i64, tp| (i % every == off).then_some(tp);
        if let Some(v) = t0 {
            // 0 to 7 days before the start: both ends of the T0 window.
            let at = start - Duration::days(i % 8);
            self.nrs(mrn, at, v, tag(3, 0, Timepoint::T0));
        }
        self.start(mrn, start);
        self.end(mrn, end);
        if let Some(v) = t1 {
            // 20 h before to 20 h after the end (the T1 window is 24 h either side).
            let at = end + Duration::hours((i % 9 - 4) * 5);
            self.nrs(mrn, at, v, tag(4, 1, Timepoint::T1));
        }
        if let Some(ok) = rep1 {
            self.report(mrn, end + Duration::hours(1), Timepoint::T1, ok);
        }
        // Day 21 to day 42 after the end: both ends of the T2 window.
        let t2_at = end + Duration::days(21 + i % 22);
        if let Some(v) = t2 {
            self.nrs(mrn, t2_at, v, tag(5, 2, Timepoint::T2));
        }
        if let Some(ok) = rep2 {
            self.report(mrn, t2_at, Timepoint::T2, ok);
        }
    }

    /// Each patient of a cohort with one course, courses 29 days apart from January 2019.
    fn cohort_of(pts: &[Pt]) -> Ward {
        let mut w = Ward::new();
        let first = day(2019, 1, 7);
        for (i, p) in pts.iter().enumerate() {
            let i = i as i64;
            let mrn = format!("P{i:03}");
            w.patient(&mrn);
            w.course(&mrn, first + Duration::days(29 * i), *p, i);
        }
        w
    }

    /// The cohort table computed in-process, as JSON.
    fn cohort_json(&mut self) -> Value {
        let records = self
            .db
            .read(|r| {
                r.patients()?
                    .into_iter()
                    .map(|p| load_record_of(r, p))
                    .collect::<Result<Vec<PatientRecord>, WardError>>()
            })
            .unwrap();
        let records: Vec<OutcomeRecord> = records.iter().map(OutcomeRecord::from).collect();
        serde_json::to_value(cohort(&records, Range::default(), self.cfg.timezone)).unwrap()
    }

    /// Closes the database and runs `titrate cohort --json` on it.
    fn binary_json(self) -> Value {
        let Ward { dir, db, .. } = self;
        drop(db);
        let out = Command::new(env!("CARGO_BIN_EXE_titrate"))
            .args(["--config", CONFIG, "cohort", "--json"])
            .env("TITRATE_DB", db_path(dir.path()))
            .env("TITRATE_USER", "AB")
            .env("TITRATE_PIN", "1234")
            .env_remove("TITRATE_CONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "titrate cohort --json failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }
}

fn db_path(dir: &Path) -> PathBuf {
    dir.join("ward.db")
}

/// 08:00 UTC on a date.
fn day(y: i32, m: u32, d: u32) -> Instant {
    Utc.with_ymd_and_hms(y, m, d, 8, 0, 0).unwrap()
}

// ---------------------------------------------------------------------------------------

#[test]
fn seed_shaped_cohort_matches_numpy_scipy_statsmodels() {
    let mut w = Ward::cohort_of(&SEED);
    let e = expected_seed();
    let inproc = w.cohort_json();
    check("seed, in-process", &inproc, &e);
    let bin = w.binary_json();
    check("seed, titrate cohort --json", &bin, &e);
    assert_eq!(inproc, bin, "the binary prints what the library computes");
}

#[test]
fn ties_and_zero_differences_match_scipy() {
    let mut w = Ward::cohort_of(&TIES);
    let e = expected_ties();
    check("ties, in-process", &w.cohort_json(), &e);
    check("ties, titrate cohort --json", &w.binary_json(), &e);
}

#[test]
fn no_ended_course_gives_an_empty_table_with_null_statistics() {
    let mut w = Ward::new();
    // A course still running, with a baseline score and a rate.
    w.patient("RUN");
    w.nrs("RUN", day(2025, 3, 2), 8, None);
    w.start("RUN", day(2025, 3, 3));
    // A course entered in error (its start voided).
    w.patient("CANCEL");
    let start = w.start_bare("CANCEL", day(2024, 5, 6));
    w.void(start);
    // A patient without a course.
    w.patient("NONE");
    w.nrs("NONE", day(2024, 1, 1), 7, None);

    let e = expected_empty();
    let inproc = w.cohort_json();
    check("empty, in-process", &inproc, &e);
    check_excluded("empty, in-process", &inproc, 2, 1, 1);
    let bin = w.binary_json();
    check("empty, titrate cohort --json", &bin, &e);
    check_excluded("empty, titrate cohort --json", &bin, 2, 1, 1);
    let nulls: [&[&str]; 5] = [
        &["nrs", "t0", "median"],
        &["nrs", "t1", "iqr"],
        &["wilcoxon_t0_t1", "z"],
        &["wilcoxon_t0_t1", "p"],
        &["mcnemar_t1_t2", "p"],
    ];
    for path in nulls {
        assert!(
            at(&bin, path).is_null(),
            "{} should be null",
            path.join(".")
        );
    }
}

#[test]
fn first_ended_course_windows_and_voided_entries() {
    let mut w = Ward::new();
    let d = Duration::days;
    let h = Duration::hours;

    // Two ended courses: only the first counts -> (9, 4, 5).
    w.patient("TWO");
    let s1 = day(2020, 3, 2);
    w.nrs("TWO", s1 - d(1), 9, None);
    w.start("TWO", s1);
    w.nrs("TWO", s1 + d(7) - h(2), 4, None);
    w.end("TWO", s1 + d(7));
    w.nrs("TWO", s1 + d(35), 5, None);
    let s2 = day(2021, 3, 1);
    w.nrs("TWO", s2 - d(1), 8, None);
    w.start("TWO", s2);
    w.nrs("TWO", s2 + d(7) - h(2), 8, None);
    w.end("TWO", s2 + d(7));
    w.report("TWO", s2 + d(7), Timepoint::T1, true);
    w.nrs("TWO", s2 + d(35), 8, None);

    // The first course entered in error (start voided), the second ended -> (7, 6, -, yes).
    w.patient("CANCEL2");
    let id = w.start_bare("CANCEL2", day(2020, 5, 4));
    w.void(id);
    let s = day(2020, 6, 1);
    w.nrs("CANCEL2", s - d(1), 7, None);
    w.start("CANCEL2", s);
    w.nrs("CANCEL2", s + d(7) - h(1), 6, None);
    w.end("CANCEL2", s + d(7));
    w.report("CANCEL2", s + d(7), Timepoint::T1, true);

    // First course ended, the second still running with its own scores and report
    // -> (8, 8, 6).
    w.patient("RUN2");
    let s = day(2022, 2, 7);
    w.nrs("RUN2", s - d(1), 8, None);
    w.start("RUN2", s);
    w.nrs("RUN2", s + d(7), 8, None);
    w.end("RUN2", s + d(7));
    w.nrs("RUN2", s + d(35), 6, None);
    let s = day(2025, 1, 6);
    w.nrs("RUN2", s - d(1), 3, None);
    w.start("RUN2", s);
    w.report("RUN2", s + d(1), Timepoint::T1, true);

    // Decoys outside every window -> (10, 5, 4).
    w.patient("WIN");
    let s = day(2023, 1, 9);
    let e = s + d(7);
    w.nrs("WIN", s - d(8), 6, None); // before the T0 window
    w.nrs("WIN", s - d(6), 10, Some(Timepoint::T0)); // T0: tagged wins...
    w.nrs("WIN", s - d(1), 8, None); // ...over a later untagged score
    w.start("WIN", s);
    // A score tagged t0 during the infusion is refused at entry: T0 is the baseline.
    let refused =
        w.session()
            .record_nrs("WIN", s + d(3), Nrs::new(3).unwrap(), Some(Timepoint::T0));
    assert!(
        refused.is_err(),
        "a t0 score during the course was accepted"
    );
    w.nrs("WIN", s + d(3), 3, None); // untagged, during the infusion: no timepoint
    w.nrs("WIN", e - h(25), 1, None); // just before the T1 window
    w.nrs("WIN", e - h(23), 5, None); // T1
    w.end("WIN", e);
    w.nrs("WIN", e + h(25), 9, None); // just after the T1 window
    w.nrs("WIN", e + d(20), 2, None); // before the T2 window
    w.nrs("WIN", e + d(22), 7, None); // in the T2 window, 6 days from day 28
    w.nrs("WIN", e + d(30), 4, None); // T2: 2 days from day 28
    w.nrs("WIN", e + d(43), 1, Some(Timepoint::T2)); // tagged t2 but after the window

    // Voided entries -> (7, -, 6): T0 9, the only T1 score and a T2 report of success are
    // entered in error.
    w.patient("VOID");
    let s = day(2023, 6, 5);
    let e = s + d(7);
    w.nrs("VOID", s - d(2), 7, None);
    let t0 = w.nrs("VOID", s - d(1), 9, None);
    w.void(t0);
    w.start("VOID", s);
    let t1 = w.nrs("VOID", e - h(1), 3, None);
    w.void(t1);
    w.end("VOID", e);
    w.nrs("VOID", e + d(28), 6, None);
    let rep = w.report("VOID", e + d(28), Timepoint::T2, true);
    w.void(rep);

    // T1 tagged wins over a later untagged score; T2 only on day 45 -> (8, 7, -).
    w.patient("TAG1");
    let s = day(2024, 2, 5);
    let e = s + d(7);
    w.nrs("TAG1", s - d(1), 8, None);
    w.start("TAG1", s);
    w.end("TAG1", e);
    w.nrs("TAG1", e + h(20), 7, Some(Timepoint::T1));
    w.nrs("TAG1", e + h(23), 4, None);
    w.nrs("TAG1", e + d(45), 5, None);

    // Not in the cohort: a running course only, a cancelled course only, no course.
    w.patient("RUNNING");
    w.nrs("RUNNING", day(2025, 3, 2), 8, None);
    w.start("RUNNING", day(2025, 3, 3));
    w.patient("CANCELONLY");
    let id = w.start_bare("CANCELONLY", day(2024, 5, 6));
    w.void(id);
    w.patient("NOCOURSE");
    w.nrs("NOCOURSE", day(2024, 1, 1), 7, None);

    let e = expected_edge();
    let inproc = w.cohort_json();
    check("edge, in-process", &inproc, &e);
    check_excluded("edge, in-process", &inproc, 2, 1, 1);
    let bin = w.binary_json();
    check("edge, titrate cohort --json", &bin, &e);
    check_excluded("edge, titrate cohort --json", &bin, 2, 1, 1);
}

/// Each course's marks and outcome, one line per course, in patient and course order.
fn outcome_lines(records: &[OutcomeRecord]) -> Vec<String> {
    records
        .iter()
        .flat_map(|r| {
            r.courses.iter().map(move |c| {
                let mut c = c.clone();
                c.reports.sort_by_key(|x| x.id);
                format!(
                    "patient {} course {}: {:?} {:?} {:?} -> {:?}",
                    r.patient.id,
                    c.course_id,
                    c.start,
                    c.end,
                    c.reports,
                    c.outcome(&r.scores)
                )
            })
        })
        .collect()
}

/// The first course whose outcome differs, rather than two whole records.
fn assert_same_outcomes(lean: &[OutcomeRecord], full: &[OutcomeRecord]) {
    let (a, b) = (outcome_lines(lean), outcome_lines(full));
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "read from the indexes / from the full record");
    }
    assert_eq!(a.len(), b.len(), "number of courses");
}

/// The cohort reads only what outcomes are computed from (course marks and the scores inside
/// each course's windows, from two indexes). Checked against the full records, with every
/// kind of correction that moves a figure: a generated record (typed-over T1 scores, T2
/// visits first put on the wrong day, voided checks) and corrections made through the ward's
/// own amend and void.
#[test]
fn outcomes_read_from_the_indexes_equal_outcomes_of_full_records() {
    let mut w = Ward::new();
    let d = Duration::days;
    let h = Duration::hours;
    let amend =
        |w: &mut Ward, id: i64, a: Amendment| w.session().amend(id, "corrected", &a).unwrap().id;

    // The end put a day late, then corrected: both windows move with it.
    w.patient("END");
    let s = day(2024, 9, 2);
    w.nrs("END", s - d(1), 8, None);
    w.start("END", s);
    w.nrs("END", s + d(6) - h(3), 3, None); // T1 only with the corrected end
    let end = w
        .session()
        // Put a day early for its start, so not "completed" (issue 11 §2).
        .end_course("END", s + d(7), EndReason::Other)
        .unwrap()
        .id;
    amend(
        &mut w,
        end,
        Amendment {
            at: Some(s + d(6)),
            ..Default::default()
        },
    );
    w.nrs("END", s + d(6) + d(21) + h(1), 4, None); // T2 only with the corrected end

    // A T1 score moved out of the window, a T0 score corrected twice, a report flipped and
    // another voided.
    w.patient("FIX");
    let s = day(2024, 11, 4);
    let e = s + d(7);
    let t0 = w.nrs("FIX", s - d(1), 5, None);
    let t0 = amend(
        &mut w,
        t0,
        Amendment {
            score: Some(Nrs::new(9).unwrap()),
            ..Default::default()
        },
    );
    amend(
        &mut w,
        t0,
        Amendment {
            score: Some(Nrs::new(8).unwrap()),
            ..Default::default()
        },
    );
    w.start("FIX", s);
    w.nrs("FIX", e - h(30), 6, None);
    let t1 = w.nrs("FIX", e - h(2), 2, None);
    w.end("FIX", e);
    amend(
        &mut w,
        t1,
        Amendment {
            at: Some(e - h(26)),
            ..Default::default()
        },
    );
    let rep = w.report("FIX", e + h(1), Timepoint::T1, true);
    amend(
        &mut w,
        rep,
        Amendment {
            successful: Some(false),
            ..Default::default()
        },
    );
    let rep2 = w.report("FIX", e + d(28), Timepoint::T2, true);
    w.void(rep2);

    let full: Vec<OutcomeRecord> =
        w.db.read(load_all)
            .unwrap()
            .iter()
            .map(OutcomeRecord::from)
            .collect();
    let lean = w.db.read(load_outcomes).unwrap();
    assert_same_outcomes(&lean, &full);
    // FIX: T0 is the last correction (8); the T1 score moved out of the window; the T1
    // report was corrected to "not successful"; the T2 report was voided.
    let fix = lean.iter().find(|r| r.patient.data.mrn == "FIX").unwrap();
    let out = fix.courses[0].outcome(&fix.scores).unwrap();
    assert_eq!(out.timepoints.t0.map(|s| s.score.get()), Some(8));
    assert_eq!(out.timepoints.t1, None);
    assert_eq!(out.t1, Responder::NotByReport);
    assert_eq!(out.t2, Responder::Unknown);
    // END: the corrected end finds the T1 and T2 scores.
    let end = lean.iter().find(|r| r.patient.data.mrn == "END").unwrap();
    let out = end.courses[0].outcome(&end.scores).unwrap();
    let got = |s: Option<titrate::domain::outcome::Score>| s.map(|s| s.score.get());
    assert_eq!(
        (got(out.timepoints.t1), got(out.timepoints.t2)),
        (Some(3), Some(4))
    );
    let table = |r: &[OutcomeRecord]| {
        serde_json::to_value(cohort(r, Range::default(), w.cfg.timezone)).unwrap()
    };
    assert_eq!(table(&lean), table(&full));

    // A generated record of 80 courses, with its own corrections and voids.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let cfg = Config::defaults();
    titrate::generate::generate(&path, &cfg, 80, 5, Utc::now()).unwrap();
    let mut db = Db::open(&path).unwrap();
    let records = db.read(load_all).unwrap();
    let amended = records
        .iter()
        .flat_map(|r| &r.entries)
        .filter(|e| e.supersedes.is_some());
    assert!(
        amended.count() > 0,
        "the generated record has no corrections"
    );
    let full: Vec<OutcomeRecord> = records.iter().map(OutcomeRecord::from).collect();
    let lean = db.read(load_outcomes).unwrap();
    assert_same_outcomes(&lean, &full);
    let range = Range::new(Some(day(2015, 1, 1).date_naive()), None).unwrap();
    for r in [Range::default(), range] {
        assert_eq!(
            serde_json::to_value(cohort(&lean, r, cfg.timezone)).unwrap(),
            serde_json::to_value(cohort(&full, r, cfg.timezone)).unwrap()
        );
    }
}
