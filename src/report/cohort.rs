//! The study's cohort table: one course per patient (the first ended one), NRS at T0/T1/T2,
//! Wilcoxon T0-T1, responders at T1 and T2, McNemar T1 x T2.

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::Serialize;

use super::{fraction, num};
use crate::domain::marks::OutcomeRecord;
use crate::domain::record::{CourseOutcome, CourseState, disease_years};
use crate::domain::time::Instant;
use crate::stats::{Quartiles, mcnemar_exact, mean, quartiles, wilcoxon_signed_rank};

#[derive(Debug, Clone, Copy, Default)]
pub struct Range {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{to} is before {from}: the range is empty")]
pub struct EmptyRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Range {
    /// Courses started from `from` to `to`, both optional; an empty range is refused.
    pub fn new(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<Range, EmptyRange> {
        match (from, to) {
            (Some(from), Some(to)) if from > to => Err(EmptyRange { from, to }),
            _ => Ok(Range { from, to }),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NrsStat {
    pub n: usize,
    pub median: Option<f64>,
    pub q1: Option<f64>,
    pub q3: Option<f64>,
    pub iqr: Option<f64>,
}

impl NrsStat {
    fn of(values: &[f64]) -> NrsStat {
        let q: Option<Quartiles> = quartiles(values);
        NrsStat {
            n: values.len(),
            median: q.map(|q| q.median),
            q1: q.map(|q| q.q1),
            q3: q.map(|q| q.q3),
            iqr: q.map(|q| q.iqr()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Nrs {
    pub t0: NrsStat,
    pub t1: NrsStat,
    pub t2: NrsStat,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiseaseDuration {
    pub n: usize,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub q1: Option<f64>,
    pub q3: Option<f64>,
    pub iqr: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WilcoxonOut {
    pub n: usize,
    pub z: Option<f64>,
    pub p: Option<f64>,
    pub w_plus: f64,
    pub w_minus: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Count {
    pub responders: usize,
    pub known: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Responders {
    pub t1: Count,
    pub t2: Count,
}

#[derive(Debug, Clone, Serialize)]
pub struct McNemarOut {
    pub lost: u64,
    pub gained: u64,
    /// None when no patient is known at both T1 and T2: there is nothing to test.
    pub p: Option<f64>,
    /// Both responders / both non-responders, to complete the 2x2 table.
    pub kept: u64,
    pub never: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Excluded {
    pub patients_without_ended_course: usize,
    pub still_running: usize,
    pub cancelled_only: usize,
    pub no_course: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Missing {
    pub t0: usize,
    pub t1: usize,
    pub t2: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cohort {
    pub from: Option<String>,
    pub to: Option<String>,
    pub courses: usize,
    pub disease_duration_years: DiseaseDuration,
    pub nrs: Nrs,
    pub wilcoxon_t0_t1: WilcoxonOut,
    pub responders: Responders,
    pub mcnemar_t1_t2: McNemarOut,
    pub excluded: Excluded,
    pub missing: Missing,
}

/// What the cohort table takes from one course.
#[derive(Clone, Debug, PartialEq)]
struct CourseFacts {
    start: Option<Instant>,
    state: CourseState,
    outcome: Option<CourseOutcome>,
}

/// What the cohort table takes from one patient: each course's start, state and outcome,
/// and the CRPS onset. Small enough to keep for a whole hospital while the cohort screen
/// is open, and to recompute for just the patients another terminal changed.
#[derive(Clone, Debug, PartialEq)]
pub struct PatientOutcomes {
    crps_onset: Option<NaiveDate>,
    courses: Vec<CourseFacts>,
}

impl From<&OutcomeRecord> for PatientOutcomes {
    fn from(rec: &OutcomeRecord) -> PatientOutcomes {
        PatientOutcomes {
            crps_onset: rec.patient.data.crps_onset,
            courses: rec
                .courses
                .iter()
                .map(|c| CourseFacts {
                    start: c.start,
                    state: c.state(),
                    outcome: c.outcome(&rec.scores),
                })
                .collect(),
        }
    }
}

/// One course per patient: the first ended course that started inside the range.
pub fn cohort(records: &[OutcomeRecord], range: Range, zone: Tz) -> Cohort {
    let patients: Vec<PatientOutcomes> = records.iter().map(PatientOutcomes::from).collect();
    cohort_of(&patients, range, zone)
}

/// The same, from each patient's outcomes.
pub fn cohort_of<'a>(
    patients: impl IntoIterator<Item = &'a PatientOutcomes>,
    range: Range,
    zone: Tz,
) -> Cohort {
    let mut t0s = Vec::new();
    let mut t1s = Vec::new();
    let mut t2s = Vec::new();
    let mut pairs = Vec::new();
    let mut years = Vec::new();
    let (mut r1, mut k1, mut r2, mut k2) = (0, 0, 0, 0);
    let (mut lost, mut gained, mut kept, mut never) = (0u64, 0u64, 0u64, 0u64);
    let mut courses = 0;
    let mut excluded = Excluded {
        patients_without_ended_course: 0,
        still_running: 0,
        cancelled_only: 0,
        no_course: 0,
    };
    let mut missing = Missing {
        t0: 0,
        t1: 0,
        t2: 0,
    };
    let in_range =
        |d: NaiveDate| range.from.is_none_or(|f| d >= f) && range.to.is_none_or(|t| d <= t);
    let unbounded = range.from.is_none() && range.to.is_none();

    for rec in patients {
        let views = &rec.courses;
        // No list per patient: this runs for every patient of twenty years on each refresh
        // of the cohort screen.
        let candidates = || {
            views.iter().filter(|v| {
                v.start
                    .is_some_and(|s| unbounded || in_range(s.with_timezone(&zone).date_naive()))
            })
        };
        if candidates().next().is_none()
            && views.iter().all(|v| v.start.is_some())
            && !views.is_empty()
        {
            continue; // every course lies outside the range: not part of this cohort at all
        }
        let first_ended = candidates()
            .filter(|v| v.state == CourseState::Ended)
            .min_by_key(|v| v.start);
        let Some(v) = first_ended else {
            if views.is_empty() {
                excluded.no_course += 1;
                continue;
            }
            excluded.patients_without_ended_course += 1;
            if candidates().any(|v| v.state == CourseState::Active) {
                excluded.still_running += 1;
            } else {
                excluded.cancelled_only += 1;
            }
            continue;
        };
        let Some(out) = &v.outcome else {
            continue;
        };
        courses += 1;
        let val = |s: Option<crate::domain::outcome::Score>| s.map(|s| f64::from(s.score.get()));
        let (a, b, c) = (
            val(out.timepoints.t0),
            val(out.timepoints.t1),
            val(out.timepoints.t2),
        );
        match a {
            Some(x) => t0s.push(x),
            None => missing.t0 += 1,
        }
        match b {
            Some(x) => t1s.push(x),
            None => missing.t1 += 1,
        }
        match c {
            Some(x) => t2s.push(x),
            None => missing.t2 += 1,
        }
        if let (Some(a), Some(b)) = (a, b) {
            pairs.push((a, b));
        }
        if let Some(y) = v
            .start
            .zip(rec.crps_onset)
            .map(|(s, o)| disease_years(o, s))
        {
            years.push(y);
        }
        let (s1, s2) = (out.t1.is_responder(), out.t2.is_responder());
        if let Some(x) = s1 {
            k1 += 1;
            r1 += usize::from(x);
        }
        if let Some(x) = s2 {
            k2 += 1;
            r2 += usize::from(x);
        }
        match (s1, s2) {
            (Some(true), Some(false)) => lost += 1,
            (Some(false), Some(true)) => gained += 1,
            (Some(true), Some(true)) => kept += 1,
            (Some(false), Some(false)) => never += 1,
            _ => {}
        }
    }
    let w = wilcoxon_signed_rank(&pairs);
    let m = mcnemar_exact(lost, gained);
    let dq = quartiles(&years);
    Cohort {
        from: range.from.map(|d| d.to_string()),
        to: range.to.map(|d| d.to_string()),
        courses,
        disease_duration_years: DiseaseDuration {
            n: years.len(),
            mean: mean(&years),
            median: dq.map(|q| q.median),
            q1: dq.map(|q| q.q1),
            q3: dq.map(|q| q.q3),
            iqr: dq.map(|q| q.iqr()),
        },
        nrs: Nrs {
            t0: NrsStat::of(&t0s),
            t1: NrsStat::of(&t1s),
            t2: NrsStat::of(&t2s),
        },
        wilcoxon_t0_t1: WilcoxonOut {
            n: w.n,
            z: w.z,
            p: w.p,
            w_plus: w.w_plus,
            w_minus: w.w_minus,
        },
        responders: Responders {
            t1: Count {
                responders: r1,
                known: k1,
            },
            t2: Count {
                responders: r2,
                known: k2,
            },
        },
        mcnemar_t1_t2: McNemarOut {
            lost: m.lost,
            gained: m.gained,
            p: (kept + never + m.lost + m.gained > 0).then_some(m.p),
            kept,
            never,
        },
        excluded,
        missing,
    }
}

fn median_iqr(s: &NrsStat) -> String {
    match (s.median, s.iqr) {
        (Some(m), Some(i)) => format!("{} (IQR {}), n = {}", num(m), num(i), s.n),
        _ => format!("-, n = {}", s.n),
    }
}

fn p_text(p: Option<f64>) -> String {
    match p {
        None => "-".to_string(),
        Some(p) if p < 0.001 => "p < 0.001".to_string(),
        Some(p) => format!("p = {p:.3}"),
    }
}

/// The table as plain text (markdown = false) or as a Markdown table for a paper draft.
pub fn table(c: &Cohort, markdown: bool) -> String {
    let range = match (&c.from, &c.to) {
        (None, None) => "all courses".to_string(),
        (f, t) => format!(
            "courses started {} to {}",
            f.as_deref().unwrap_or("the first"),
            t.as_deref().unwrap_or("now")
        ),
    };
    let d = &c.disease_duration_years;
    let duration = match (d.mean, d.median, d.iqr) {
        (Some(mean), Some(med), Some(iqr)) => format!(
            "mean {}, median {} (IQR {}), n = {}",
            num(mean),
            num(med),
            num(iqr),
            d.n
        ),
        _ => format!("-, n = {}", d.n),
    };
    let w = &c.wilcoxon_t0_t1;
    let wil = match w.z {
        Some(z) => format!("z = {:.2}, {}, n = {} non-zero pairs", z, p_text(w.p), w.n),
        None => "no pairs with a change".to_string(),
    };
    let m = &c.mcnemar_t1_t2;
    let rows: Vec<(String, String)> = vec![
        (
            "Courses (first ended course per patient)".into(),
            c.courses.to_string(),
        ),
        ("Disease duration, years".into(), duration),
        ("NRS T0, median".into(), median_iqr(&c.nrs.t0)),
        ("NRS T1, median".into(), median_iqr(&c.nrs.t1)),
        ("NRS T2, median".into(), median_iqr(&c.nrs.t2)),
        ("Wilcoxon T0 vs T1".into(), wil),
        (
            "Responders T1".into(),
            fraction(c.responders.t1.responders, c.responders.t1.known),
        ),
        (
            "Responders T2".into(),
            fraction(c.responders.t2.responders, c.responders.t2.known),
        ),
        (
            "T1 x T2 (known at both)".into(),
            format!(
                "responder both {}, lost {}, gained {}, neither {}",
                m.kept, m.lost, m.gained, m.never
            ),
        ),
        (
            "McNemar T1 vs T2 (exact)".into(),
            match m.p {
                Some(p) => p_text(Some(p)),
                None => "no patient known at both T1 and T2".into(),
            },
        ),
        (
            "Missing in included courses".into(),
            format!(
                "T0 {}, T1 {}, T2 {}",
                c.missing.t0, c.missing.t1, c.missing.t2
            ),
        ),
        (
            "Patients excluded".into(),
            format!(
                "{} still running, {} only cancelled courses, {} without a course",
                c.excluded.still_running, c.excluded.cancelled_only, c.excluded.no_course
            ),
        ),
    ];
    let mut out = String::new();
    if markdown {
        out.push_str(&format!(
            "Cohort: {range}\n\n| Measure | Value |\n|---|---|\n"
        ));
        for (k, v) in rows {
            out.push_str(&format!("| {k} | {v} |\n"));
        }
    } else {
        out.push_str(&format!("Cohort: {range}\n"));
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in rows {
            out.push_str(&format!("  {k:<width$}  {v}\n"));
        }
    }
    out
}
