//! What the screens show, loaded from the store in one read and computed by the domain.
//! Drawing code reads these and nothing else.

use crate::config::Config;
use crate::domain::entry::{Entry, PatientId, Versions};
use crate::domain::marks::OutcomeRecord;
use crate::domain::outcome::Responder;
use crate::domain::record::{CourseState, PatientRecord};
use crate::domain::time::Instant;
use crate::domain::watch::{Watch, watch};
use crate::report::cohort::{Cohort, PatientOutcomes, Range, cohort_of};
use crate::report::status::{Status, status};
use crate::store::{Db, Reader};
use crate::ward::{WardError, load_outcomes, load_record, load_record_of, load_records_of};

#[derive(Debug, Clone)]
pub struct ActiveRow {
    /// What the selection follows: rows move when the list re-sorts.
    pub patient: PatientId,
    pub mrn: String,
    pub name: String,
    pub bed: String,
    pub t0: Option<u8>,
    pub watch: Watch,
    /// The planned days of the course's own protocol version ("day N of M").
    pub days: u32,
    /// Started, but no rate entry yet.
    pub no_rate: bool,
}

#[derive(Debug, Clone)]
pub struct FollowRow {
    pub patient: PatientId,
    pub mrn: String,
    pub name: String,
    pub ended: Instant,
    pub t1: Responder,
    pub t2: Responder,
    pub t2_from: Instant,
    pub t2_to: Instant,
    /// T2 is known (score or report).
    pub t2_done: bool,
}

#[derive(Debug, Clone, Default)]
pub struct WardView {
    pub active: Vec<ActiveRow>,
    /// Courses whose T2 window is open or past without a result.
    pub follow_up: Vec<FollowRow>,
    /// Courses that ended in the last 14 days.
    pub recent: Vec<FollowRow>,
}

/// What one patient contributes to the overview at a moment: a row while their latest
/// course runs, or a follow-up row once it has ended.
#[derive(Debug, Clone, Default)]
struct PatientRows {
    active: Option<ActiveRow>,
    ended: Option<FollowRow>,
}

fn rows_of(rec: &PatientRecord, now: Instant) -> PatientRows {
    let mut out = PatientRows::default();
    let scores = rec.scores();
    let Some(course) = rec.latest_course() else {
        return out;
    };
    match course.state() {
        CourseState::Active => {
            if let Some(w) = watch(&course, &scores, now) {
                let t0 = course
                    .outcome(&scores)
                    .and_then(|o| o.timepoints.t0)
                    .map(|s| s.score.get());
                out.active = Some(ActiveRow {
                    patient: rec.patient.id,
                    mrn: rec.patient.data.mrn.clone(),
                    name: rec.patient.data.name.clone(),
                    bed: course.bed().unwrap_or("-").to_string(),
                    t0,
                    watch: w,
                    days: course.protocol().duration_days,
                    no_rate: course.rates.is_empty(),
                });
            }
        }
        CourseState::Ended => {
            if let (Some(o), Some(ended)) = (course.outcome(&scores), course.ended_at())
                && let Some(win) = o.t2_window
            {
                out.ended = Some(FollowRow {
                    patient: rec.patient.id,
                    mrn: rec.patient.data.mrn.clone(),
                    name: rec.patient.data.name.clone(),
                    ended,
                    t1: o.t1,
                    t2: o.t2,
                    t2_from: win.from,
                    t2_to: win.to,
                    t2_done: o.t2.is_responder().is_some(),
                });
            }
        }
        CourseState::Cancelled => {}
    }
    out
}

/// The overview from each patient's rows: which lists an ended course belongs on depends
/// only on the clock.
fn assemble<'a>(rows: impl IntoIterator<Item = &'a PatientRows>, now: Instant) -> WardView {
    let mut v = WardView::default();
    for r in rows {
        if let Some(a) = &r.active {
            v.active.push(a.clone());
        }
        if let Some(row) = &r.ended {
            if now - row.ended <= chrono::Duration::days(14) {
                v.recent.push(row.clone());
            }
            if now >= row.t2_from
                && !row.t2_done
                && now <= row.t2_to + chrono::Duration::days(i64::from(FOLLOW_UP_DAYS))
            {
                v.follow_up.push(row.clone());
            }
        }
    }
    // Rows that need attention first, then by bed.
    v.active.sort_by(|a, b| {
        b.watch
            .needs_attention()
            .cmp(&a.watch.needs_attention())
            .then_with(|| a.bed.cmp(&b.bed))
            .then_with(|| a.name.cmp(&b.name))
    });
    v.follow_up.sort_by_key(|r| r.t2_to);
    v.recent.sort_by_key(|r| std::cmp::Reverse(r.ended));
    v
}

/// The ward overview from scratch (the benchmarks' measure of a first frame).
pub fn load_ward(db: &mut Db, now: Instant) -> Result<WardView, WardError> {
    let mut cache = WardCache::default();
    cache.refresh(db, now)?;
    Ok(cache.view(now))
}

/// Values kept per patient between reads. The first read takes what `first` returns; later
/// ones read again only the patients with a new entry, void or record since, so another
/// terminal's entry costs one patient, not twenty years of record.
struct PerPatient<T> {
    values: std::collections::BTreeMap<i64, T>,
    marks: Option<crate::store::Marks>,
}

impl<T> Default for PerPatient<T> {
    fn default() -> Self {
        PerPatient {
            values: Default::default(),
            marks: None,
        }
    }
}

impl<T> PerPatient<T> {
    /// The ids read this time.
    fn refresh(
        &mut self,
        db: &mut Db,
        first: impl FnOnce(&dyn Reader) -> Result<Vec<(i64, T)>, WardError>,
        one: impl Fn(PatientRecord) -> T,
    ) -> Result<Vec<i64>, WardError> {
        let values = &mut self.values;
        let marks = &mut self.marks;
        db.read(|r| {
            let current = r.marks()?;
            let read = match marks {
                None => first(r)?,
                Some(seen) => {
                    let mut read = Vec::new();
                    for id in r.changed_patients(seen)? {
                        if let Some(p) = r.patient(id)? {
                            read.push((id, one(load_record_of(r, p)?)));
                        }
                    }
                    read
                }
            };
            *marks = Some(current);
            Ok(read
                .into_iter()
                .map(|(id, v)| {
                    values.insert(id, v);
                    id
                })
                .collect())
        })
    }
}

/// The records behind the overview, kept between refreshes, with each patient's rows. The
/// first refresh reads the patients with a running or recent course; later ones read only
/// the changed patients and recompute only their rows. `recompute` brings every row up to
/// the clock (a check turning overdue with nothing written).
#[derive(Default)]
pub struct WardCache {
    records: PerPatient<PatientRecord>,
    rows: std::collections::BTreeMap<i64, PatientRows>,
    /// When every row was last computed.
    all_at: Option<Instant>,
}

impl WardCache {
    pub fn refresh(&mut self, db: &mut Db, now: Instant) -> Result<(), WardError> {
        let changed = self.records.refresh(
            db,
            |r| {
                // Follow-ups stay on the screen until four weeks after their T2 window
                // closes; courses that ended before any window still open are not read.
                let longest = r
                    .protocols()?
                    .iter()
                    .map(|p| p.t2_to_day)
                    .max()
                    .unwrap_or(0);
                let horizon = now - chrono::Duration::days(i64::from(longest + FOLLOW_UP_DAYS));
                Ok(load_records_of(r, r.ward_patients(horizon)?)?
                    .into_iter()
                    .map(|rec| (rec.patient.id, rec))
                    .collect())
            },
            |rec| rec,
        )?;
        if self.all_at.is_none() {
            self.recompute(now);
        } else {
            for id in changed {
                if let Some(rec) = self.records.values.get(&id) {
                    self.rows.insert(id, rows_of(rec, now));
                }
            }
        }
        Ok(())
    }

    /// Some rows were computed more than `after` before `now`.
    pub fn stale(&self, now: Instant, after: chrono::Duration) -> bool {
        self.all_at.is_none_or(|t| now - t >= after)
    }

    /// How many patients' records are held.
    pub fn patients(&self) -> usize {
        self.records.values.len()
    }

    /// Every patient's rows again, at `now`.
    pub fn recompute(&mut self, now: Instant) {
        self.all_at = Some(now);
        self.rows = self
            .records
            .values
            .iter()
            .map(|(id, rec)| (*id, rows_of(rec, now)))
            .collect();
    }

    pub fn view(&self, now: Instant) -> WardView {
        assemble(self.rows.values(), now)
    }
}

/// The cohort screen's figures, kept while signed in: the first refresh reads the whole
/// record's outcomes (as `titrate cohort` does); later ones only the changed patients.
#[derive(Default)]
pub struct CohortCache {
    patients: PerPatient<PatientOutcomes>,
}

impl CohortCache {
    pub fn refresh(&mut self, db: &mut Db) -> Result<(), WardError> {
        self.patients.refresh(
            db,
            |r| {
                Ok(load_outcomes(r)?
                    .iter()
                    .map(|rec| (rec.patient.id, PatientOutcomes::from(rec)))
                    .collect())
            },
            |rec| PatientOutcomes::from(&OutcomeRecord::from(&rec)),
        )?;
        Ok(())
    }

    pub fn cohort(&self, range: Range, zone: chrono_tz::Tz) -> Cohort {
        cohort_of(self.patients.values.values(), range, zone)
    }
}

/// How long after its T2 window has closed an overdue follow-up stays listed.
const FOLLOW_UP_DAYS: u32 = 28;

/// One line of a patient's timeline.
#[derive(Debug, Clone)]
pub struct TimelineRow {
    pub entry: Entry,
    pub current: bool,
}

#[derive(Debug, Clone)]
pub struct DetailView {
    pub record: PatientRecord,
    pub status: Option<Status>,
    pub watch: Option<Watch>,
    /// Newest first.
    pub timeline: Vec<TimelineRow>,
    /// (hours since start, mg/h) of the step line, and the protocol maximum.
    pub rate_line: Vec<(f64, f64)>,
    pub nrs_points: Vec<(f64, f64)>,
    pub max_rate: f64,
    pub span_hours: f64,
}

pub fn detail_view(record: PatientRecord, cfg: &Config, now: Instant) -> DetailView {
    let st = status(&record, now, cfg.timezone);
    let scores = record.scores();
    let (watch_now, rate_line, nrs_points, max_rate, span_hours) = match record.latest_course() {
        Some(c) => {
            let start = c.started_at().unwrap_or(now);
            let until = c.ended_at().unwrap_or(now);
            let hours = |t: Instant| (t - start).num_seconds() as f64 / 3600.0;
            let line = crate::domain::dose::step_line(
                &c.rate_points(),
                start,
                until,
                c.ended_at().is_some(),
            );
            let nrs = scores
                .iter()
                .filter(|s| {
                    s.at >= start - chrono::Duration::days(1)
                        && s.at <= until + chrono::Duration::days(1)
                })
                // A baseline taken before the start is drawn at the start, on the shared axis.
                .map(|s| (hours(s.at).max(0.0), f64::from(s.score.get())))
                .collect();
            let span = hours(until).max(hours(start + c.protocol().duration()));
            (
                watch(&c, &scores, now),
                line,
                nrs,
                c.protocol().max_rate_mg_h.mg_h(),
                span,
            )
        }
        None => (
            None,
            vec![],
            vec![],
            cfg.protocol.max_rate_mg_h.mg_h(),
            168.0,
        ),
    };
    let versions = Versions::new(&record.entries);
    let mut timeline: Vec<TimelineRow> = record
        .entries
        .iter()
        .map(|e| TimelineRow {
            entry: e.clone(),
            current: versions.is_current(e.id),
        })
        .collect();
    timeline.sort_by_key(|r| std::cmp::Reverse((r.entry.happened_at, r.entry.id)));
    DetailView {
        status: st,
        watch: watch_now,
        timeline,
        rate_line,
        nrs_points,
        max_rate,
        span_hours,
        record,
    }
}

pub fn load_detail(
    db: &mut Db,
    cfg: &Config,
    mrn: &str,
    now: Instant,
) -> Result<DetailView, WardError> {
    let record = db.read(|r| load_record(r, mrn))?;
    Ok(detail_view(record, cfg, now))
}

#[derive(Debug, Clone)]
pub struct PatientHit {
    /// What the search's highlight follows when another terminal changes the results.
    pub patient: PatientId,
    pub mrn: String,
    pub name: String,
    pub birth: String,
    pub state: &'static str,
}

/// Patients whose name or MRN contains the query (case-insensitive), active courses first.
/// More matches than fit on any screen; typing more of the name narrows them.
pub const SEARCH_LIMIT: usize = 100;

pub fn search(r: &dyn Reader, query: &str) -> Result<Vec<PatientHit>, WardError> {
    let q = query.trim().to_lowercase();
    let mut hits = Vec::new();
    // Match on the patient list first; only the matches a screen can show are read further.
    let matches = r.patients()?.into_iter().filter(|p| {
        let d = &p.data;
        q.is_empty() || d.name.to_lowercase().contains(&q) || d.mrn.to_lowercase().contains(&q)
    });
    for p in matches.take(SEARCH_LIMIT) {
        let rec = load_record_of(r, p)?;
        let state = rec
            .latest_course()
            .map_or("no course", |c| c.state().as_str());
        hits.push(PatientHit {
            patient: rec.patient.id,
            mrn: rec.patient.data.mrn.clone(),
            name: rec.patient.data.name.clone(),
            birth: rec.patient.data.birth_date.to_string(),
            state,
        });
    }
    hits.sort_by(|a, b| {
        (a.state != "active")
            .cmp(&(b.state != "active"))
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(hits)
}
