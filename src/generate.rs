//! A realistic record at hospital scale, for benchmarks and the demo: patients over twenty
//! years, courses that follow the protocol (stepping up until relief or side effects,
//! stepping down on side effects), hourly checks, NRS every few hours, T0/T1/T2 and success
//! reports, a few amendments and voids, with a valid audit chain. Deterministic for a seed.
//!
//! It writes through the store's Writer (so every row has its audit row) but not through
//! the per-entry operations: one transaction per course, each entry stamped with the time
//! and person that would have recorded it, with synchronous=OFF, because a generated file
//! needs no durability and 10,000 courses must take under a minute.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Duration, DurationRound, NaiveDate};

use crate::config::Config;
use crate::domain::dose::RatePoint;
use crate::domain::entry::{EntryData, is_late};
use crate::domain::rate::Rate;
use crate::domain::rules::check_rate;
use crate::domain::time::Instant;
use crate::domain::values::{Action, CrpsType, EndReason, Nrs, Role, Severity, Sex, Timepoint};
use crate::store::{Db, NewEntry, NewPatient, Staff};
use crate::ward::WardError;
use crate::ward::access::{hash_pin, init};

/// SplitMix64: small, fast and the same on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in lo..=hi.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo + 1) as u64)) as i64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

const FIRST: &[&str] = &[
    "Anna", "Bram", "Carla", "Dirk", "Eva", "Frank", "Greet", "Hans", "Ilse", "Jan", "Karin",
    "Lars", "Mila", "Noah", "Olga", "Pieter", "Roos", "Sven", "Tess", "Wim",
];
const LAST: &[&str] = &[
    "de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot",
    "Bos", "Vos", "Peters", "Hendriks", "van Dijk", "Dekker",
];
const LIMBS: &[&str] = &[
    "left hand",
    "right hand",
    "left foot",
    "right foot",
    "left knee",
    "right wrist",
];
const EFFECTS: &[&str] = &[
    "nausea",
    "dizziness",
    "drowsiness",
    "hallucinations",
    "headache",
    "dissociation",
];

pub struct Generated {
    pub courses: usize,
    pub patients: usize,
    pub entries: usize,
}

/// Staff the generator writes as: (id, role).
const STAFF: &[(&str, Role)] = &[
    ("N1", Role::Nurse),
    ("N2", Role::Nurse),
    ("N3", Role::Nurse),
    ("P1", Role::Physician),
    ("P2", Role::Physician),
];

pub fn generate(
    path: &Path,
    cfg: &Config,
    courses: usize,
    seed: u64,
    now: Instant,
) -> Result<Generated, WardError> {
    let now = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    let begin = now - Duration::days(365 * 20);
    // GEN approves the protocol as its first act, as a ward's first admin does.
    let mut db = init(path, "GEN", "Generator", "0000", &cfg.protocol, begin)?;
    db.bulk_load_mode()?;
    let pin = hash_pin("1234")?;
    db.write("GEN", begin, |w| {
        for (id, role) in STAFF {
            w.insert_staff(
                &Staff {
                    id: (*id).into(),
                    name: format!("Staff {id}"),
                    role: *role,
                    pin_hash: pin.clone(),
                    active: true,
                    failed_pins: 0,
                    locked: false,
                },
                "staff-add",
            )?;
        }
        Ok::<_, WardError>(())
    })?;
    let mut rng = Rng::new(seed);
    let proto = cfg.protocol.clone();
    let protocol_id = db.write("GEN", begin, |w| Ok::<_, WardError>(w.protocol_id(&proto)?))?;
    // About one patient in five has a second course some years later.
    let patients = (courses * 5).div_ceil(6).max(1);
    let mut made = Generated {
        courses: 0,
        patients,
        entries: 0,
    };
    let span_days = (now - begin).num_days() - 120;
    let mut beds = Beds::default();
    for i in 0..patients {
        let created = begin + Duration::days(rng.range(0, span_days));
        let birth = NaiveDate::from_ymd_opt(
            rng.range(1940, 2000) as i32,
            rng.range(1, 12) as u32,
            rng.range(1, 28) as u32,
        )
        .unwrap_or_default();
        let onset = created.date_naive() - Duration::days(rng.range(200, 3650));
        let p = NewPatient {
            mrn: format!("{:07}", 1_000_000 + i),
            name: format!(
                "{} {}",
                FIRST[rng.range(0, 19) as usize],
                LAST[rng.range(0, 14) as usize]
            ),
            birth_date: birth,
            sex: if rng.chance(0.7) {
                Sex::Female
            } else {
                Sex::Male
            },
            weight_kg: Some(rng.range(50, 110) as f64),
            crps_type: Some(if rng.chance(0.9) {
                CrpsType::One
            } else {
                CrpsType::Two
            }),
            crps_onset: Some(onset.max(birth)),
            limb: Some(LIMBS[rng.range(0, 5) as usize].into()),
        };
        let pid = db.write("GEN", created, |w| {
            Ok::<_, WardError>(w.insert_patient(&p)?)
        })?;
        let n = if made.courses + (patients - i) < courses {
            2
        } else {
            1
        };
        let mut start = created + Duration::days(rng.range(1, 30));
        for _ in 0..n {
            if made.courses >= courses || start + Duration::days(60) > now {
                break;
            }
            made.entries += course(
                &mut db,
                (&mut rng, &mut beds),
                cfg,
                pid,
                protocol_id,
                start,
                now,
            )?;
            made.courses += 1;
            start += Duration::days(rng.range(200, 1500));
        }
    }
    db.finish_bulk_load()?;
    Ok(made)
}

/// The ward's beds over time, so that generated courses follow the rule the ward checks: a
/// bed holds one patient at any moment. Per bed, its stays by start (they never overlap).
#[derive(Default)]
struct Beds(Vec<BTreeMap<Instant, Instant>>);

impl Beds {
    /// The bed (1-based) for a stay from `start` to `end`: `preferred` if it is free then,
    /// else the first free one, else a new bed.
    fn take(&mut self, preferred: usize, start: Instant, end: Instant) -> usize {
        while self.0.len() < preferred {
            self.0.push(BTreeMap::new());
        }
        // Only the stay starting last before `end` can overlap, as stays in a bed do not.
        let free = |stays: &BTreeMap<Instant, Instant>| {
            stays
                .range(..end)
                .next_back()
                .is_none_or(|(_, e)| *e <= start)
        };
        let bed = if free(&self.0[preferred - 1]) {
            preferred - 1
        } else if let Some(i) = self.0.iter().position(free) {
            i
        } else {
            self.0.push(BTreeMap::new());
            self.0.len() - 1
        };
        self.0[bed].insert(start, end);
        bed + 1
    }
}

fn nrs(v: i64) -> Nrs {
    match Nrs::new(v.clamp(0, 10)) {
        Ok(n) => n,
        Err(_) => unreachable!("a clamped score is valid"),
    }
}

/// One course, hour by hour, in one transaction; each group of entries is stamped with
/// the time and the person that would have recorded it. Returns the entries written.
fn course(
    db: &mut Db,
    (rng, beds): (&mut Rng, &mut Beds),
    cfg: &Config,
    pid: i64,
    protocol_id: i64,
    start: Instant,
    now: Instant,
) -> Result<usize, WardError> {
    let p = &cfg.protocol;
    let staff = |rng: &mut Rng, nurse: bool| {
        if nurse {
            STAFF[rng.range(0, 2) as usize].0
        } else {
            STAFF[rng.range(3, 4) as usize].0
        }
    };
    let entry = |course: Option<i64>, at: Instant, recorded: Instant, data: EntryData| NewEntry {
        patient_id: pid,
        course_id: course,
        happened_at: at,
        late: is_late(at, recorded, p.check_interval()),
        supersedes: None,
        amend_reason: None,
        data,
    };
    db.write("GEN", start, |w| {
        let t0 = rng.range(5, 10);
        let relief_at = rng.range(4, 14) * 100; // centi-mg/h at which pain is reduced
        // Side effects above this rate, for about a third of the patients.
        let tolerance = if rng.chance(0.35) {
            rng.range(4, 12) * 100
        } else {
            i64::MAX
        };
        let early_stop = rng.chance(0.08);
        let hours = if early_stop {
            rng.range(24, 120)
        } else {
            i64::from(p.duration_days) * 24
        };
        let mut entries = 0;
        let bed = beds.take(
            1 + (pid % 12) as usize,
            start,
            start + Duration::hours(hours),
        );

        let t0_at = start - Duration::hours(rng.range(1, 20));
        w.set_clock(staff(rng, true), t0_at + Duration::minutes(5));
        w.insert_entry(&entry(
            None,
            t0_at,
            w.now(),
            EntryData::Nrs {
                score: nrs(t0),
                timepoint: Some(Timepoint::T0),
            },
        ))?;
        w.set_clock(staff(rng, false), start + Duration::minutes(4));
        let course_id = w.insert_course(pid, protocol_id)?;
        w.insert_entry(&entry(
            Some(course_id),
            start,
            w.now(),
            EntryData::CourseStart {
                bed: Some(bed.to_string()),
            },
        ))?;
        entries += 2;

        let mut points: Vec<RatePoint> = Vec::new();
        let mut rate: i64 = 200;
        let mut last_up = start - Duration::hours(24);
        let mut pain = t0;
        let mut side_effects = 0;
        for h in 0..hours {
            let at = start + Duration::hours(h);
            let late = if rng.chance(0.01) {
                Duration::hours(3)
            } else {
                Duration::zero()
            };
            let recorded = at + Duration::minutes(rng.range(1, 20)) + late;
            let mut new_rate = rate;
            let mut side: Option<(Severity, Action)> = None;
            if h > 0 && rate > tolerance && rng.chance(0.3) {
                let sev = if rng.chance(0.7) {
                    Severity::Mild
                } else {
                    Severity::Moderate
                };
                side = Some((sev, Action::RateLowered));
                new_rate = (rate - i64::from(p.increment_mg_h.centi())).max(100);
            } else if h > 0
                && rate < relief_at
                && at - last_up >= p.min_step_interval()
                && rate < i64::from(p.max_rate_mg_h.centi())
            {
                new_rate = (rate + i64::from(p.increment_mg_h.centi()))
                    .min(i64::from(p.max_rate_mg_h.centi()));
            }
            let r = Rate::from_centi(new_rate as u32);
            // The generated step must pass the protocol's own check, unconfirmed.
            check_rate(p, None, &points, at, r, false)?;
            if new_rate > rate || h == 0 {
                last_up = at;
            }
            pain = if new_rate < relief_at {
                pain.max(t0 - 1)
            } else {
                (t0 - rng.range(1, 5)).max(0)
            };
            w.set_clock(staff(rng, true), recorded);
            if let Some((severity, action)) = side {
                let effect = EFFECTS[(h as usize + pid as usize) % EFFECTS.len()];
                w.insert_entry(&entry(
                    Some(course_id),
                    at,
                    recorded,
                    EntryData::SideEffect {
                        effect: effect.into(),
                        detail: None,
                        severity,
                        action,
                        rate_at: Rate::from_centi(rate as u32),
                    },
                ))?;
                entries += 1;
                side_effects += 1;
            }
            let id = w.insert_entry(&entry(
                Some(course_id),
                at,
                recorded,
                EntryData::Rate {
                    rate: r,
                    confirmed: false,
                    confirm_reason: None,
                },
            ))?;
            entries += 1;
            if h % 4 == 2 {
                w.insert_entry(&entry(
                    None,
                    at,
                    recorded,
                    EntryData::Nrs {
                        score: nrs(pain),
                        timepoint: None,
                    },
                ))?;
                entries += 1;
            }
            let was_check = h > 0 && new_rate == rate;
            points.push(RatePoint { at, rate: r });
            rate = new_rate;
            // A rare hourly check entered in error, then voided (only a check: voiding a
            // step would move the step to the next hour and change the titration).
            if was_check && side.is_none() && rng.chance(0.004) {
                w.set_clock(
                    w.actor().to_string().as_str(),
                    recorded + Duration::minutes(30),
                );
                w.insert_void(id, "recorded twice")?;
                points.pop();
            }
        }
        let end = start + Duration::hours(hours);
        let reason = match (early_stop, side_effects > 0) {
            (false, _) => EndReason::Completed,
            (true, true) => EndReason::SideEffects,
            (true, false) => EndReason::PatientRequest,
        };
        let t1 = (pain + rng.range(-1, 1)).clamp(0, 10);
        let physician = staff(rng, false);
        w.set_clock(physician, end + Duration::minutes(20));
        w.insert_entry(&entry(
            Some(course_id),
            end,
            w.now(),
            EntryData::CourseEnd { reason },
        ))?;
        // Now and then the T1 score is typed wrong and corrected a few minutes later: the
        // correction is a new version that supersedes the first.
        let typo = rng.chance(0.03);
        let t1_id = w.insert_entry(&entry(
            None,
            end + Duration::minutes(10),
            w.now(),
            EntryData::Nrs {
                score: nrs(if typo { (t1 + 3) % 11 } else { t1 }),
                timepoint: Some(Timepoint::T1),
            },
        ))?;
        entries += 2;
        if typo {
            w.set_clock(physician, end + Duration::minutes(25));
            w.insert_entry(&NewEntry {
                supersedes: Some(t1_id),
                amend_reason: Some("typing error: wrong score".into()),
                ..entry(
                    None,
                    end + Duration::minutes(10),
                    w.now(),
                    EntryData::Nrs {
                        score: nrs(t1),
                        timepoint: Some(Timepoint::T1),
                    },
                )
            })?;
            entries += 1;
        }
        if rng.chance(0.3) {
            w.insert_entry(&entry(
                Some(course_id),
                end + Duration::minutes(15),
                w.now(),
                EntryData::Success {
                    timepoint: Timepoint::T1,
                    successful: t0 - t1 >= 1,
                },
            ))?;
            entries += 1;
        }
        let t2_at = end + Duration::days(rng.range(21, 42)) + Duration::hours(rng.range(8, 16));
        if t2_at + Duration::hours(1) < now && rng.chance(0.9) {
            let t2 = (t1 + rng.range(-1, 2)).clamp(0, 10);
            w.set_clock(physician, t2_at + Duration::minutes(30));
            // Now and then the follow-up visit is first recorded on the wrong day (a week
            // early) and its time corrected the same day.
            let wrong_day = rng.chance(0.03);
            let t2_entry = |at: Instant, now: Instant| {
                entry(
                    None,
                    at,
                    now,
                    EntryData::Nrs {
                        score: nrs(t2),
                        timepoint: Some(Timepoint::T2),
                    },
                )
            };
            let first_at = if wrong_day {
                t2_at - Duration::days(7)
            } else {
                t2_at
            };
            let t2_id = w.insert_entry(&t2_entry(first_at, w.now()))?;
            entries += 1;
            if wrong_day {
                w.set_clock(physician, t2_at + Duration::minutes(50));
                w.insert_entry(&NewEntry {
                    supersedes: Some(t2_id),
                    amend_reason: Some("wrong date".into()),
                    ..t2_entry(t2_at, w.now())
                })?;
                entries += 1;
            }
            if rng.chance(0.2) {
                w.insert_entry(&entry(
                    Some(course_id),
                    t2_at,
                    w.now(),
                    EntryData::Success {
                        timepoint: Timepoint::T2,
                        successful: t0 - t2 >= 2,
                    },
                ))?;
                entries += 1;
            }
        }
        Ok::<_, WardError>(entries)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::record::CourseState;
    use crate::store::audit;
    use crate::ward::load_all;

    /// The generator's output is a record titrate itself would accept: the audit chain
    /// verifies and every course's rate steps pass the protocol rules.
    #[test]
    fn generated_record_verifies_and_follows_the_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let cfg = Config::defaults();
        let now = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 3, 1, 12, 0, 0).unwrap();
        let g = generate(&path, &cfg, 40, 42, now).unwrap();
        assert_eq!(g.courses, 40);
        let mut db = Db::open(&path).unwrap();
        let v = db.read(|r| audit::verify(r)).unwrap();
        assert!(v.is_sound(), "{:?}", v.problems);
        let records = db.read(load_all).unwrap();
        let mut ended = 0;
        for rec in &records {
            for c in rec.views() {
                let points = c.rate_points();
                for (i, p) in points.iter().enumerate() {
                    check_rate(c.protocol(), None, &points[..i], p.at, p.rate, false).unwrap();
                    assert!(p.rate <= c.protocol().max_rate_mg_h);
                }
                ended += usize::from(c.state() == CourseState::Ended);
            }
        }
        assert_eq!(ended, 40);
        // Corrections and voids are part of a realistic record.
        let amended = records
            .iter()
            .flat_map(|r| &r.entries)
            .filter(|e| e.supersedes.is_some())
            .count();
        let voided = records
            .iter()
            .flat_map(|r| &r.entries)
            .filter(|e| e.void.is_some())
            .count();
        assert!(
            amended > 0 && voided > 0,
            "{amended} amended, {voided} voided"
        );
        // Deterministic for a seed.
        let path2 = dir.path().join("g2.db");
        let g2 = generate(&path2, &cfg, 40, 42, now).unwrap();
        assert_eq!(g2.entries, g.entries);
    }
}
