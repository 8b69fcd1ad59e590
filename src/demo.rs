//! A demo ward: a living record made through the same operations staff use, dated relative
//! to now, so that a newcomer sees running courses, overdue checks, side effects and a
//! follow-up that is due.

use std::path::Path;

use chrono::{Duration, DurationRound, NaiveDate};

use crate::config::Config;
use crate::domain::rate::Rate;
use crate::domain::record::Staff;
use crate::domain::time::Instant;
use crate::domain::values::{Action, CrpsType, EndReason, Nrs, Role, Severity, Sex, Timepoint};
use crate::store::{Db, NewPatient};
use crate::ward::WardError;
use crate::ward::access::{init, sign_in, staff_add};
use crate::ward::entries::{Session, SideEffectInput};

pub const DEMO_USER: &str = "DEMO";
pub const DEMO_PIN: &str = "0000";
pub const DEMO_NURSE: &str = "NU";
pub const DEMO_NURSE_PIN: &str = "1111";
/// A physician: the responsible physician a discharge letter names (DEMO is an admin).
pub const DEMO_DOCTOR: &str = "DR";
pub const DEMO_DOCTOR_PIN: &str = "2222";

/// MRN, name, birth date, sex, weight, year of CRPS onset, affected limb.
type Person = (
    &'static str,
    &'static str,
    (i32, u32, u32),
    Sex,
    f64,
    i32,
    &'static str,
);

struct Seeder<'a> {
    db: &'a mut Db,
    cfg: &'a Config,
    who: Staff,
}

impl Seeder<'_> {
    /// Each entry is recorded a few minutes after it happened, as on a real ward.
    fn at(&mut self, t: Instant) -> Session<'_> {
        Session {
            db: self.db,
            cfg: self.cfg,
            who: &self.who,
            now: t + Duration::minutes(3),
            expect: None,
        }
    }

    fn patient(&mut self, person: &Person, t: Instant) -> Result<(), WardError> {
        let (mrn, name, (y, m, d), sex, weight, onset_year, limb) = *person;
        let p = NewPatient {
            mrn: mrn.into(),
            name: name.into(),
            birth_date: NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default(),
            sex,
            weight_kg: Some(weight),
            crps_type: Some(if onset_year % 2 == 0 {
                CrpsType::One
            } else {
                CrpsType::Two
            }),
            crps_onset: NaiveDate::from_ymd_opt(onset_year, 3, 1),
            limb: Some(limb.into()),
        };
        self.at(t).add_patient(&p)?;
        Ok(())
    }

    /// A course from `start` (hours before now) following `steps` (hour, mg/h), with hourly
    /// checks until `checked_until` hours after the start. The step at hour `lowered.0` is
    /// recorded with the side effect `lowered.1` that lowered the rate, in one step.
    fn course(
        &mut self,
        mrn: &str,
        bed: &str,
        start: Instant,
        steps: &[(i64, &str)],
        checked_until: i64,
        t0: i64,
    ) -> Result<(), WardError> {
        self.course_lowered(mrn, bed, start, steps, checked_until, t0, None)
    }

    #[allow(clippy::too_many_arguments)]
    fn course_lowered(
        &mut self,
        mrn: &str,
        bed: &str,
        start: Instant,
        steps: &[(i64, &str)],
        checked_until: i64,
        t0: i64,
        lowered: Option<(i64, SideEffectInput)>,
    ) -> Result<(), WardError> {
        self.at(start - Duration::hours(2)).record_nrs(
            mrn,
            start - Duration::hours(2),
            nrs(t0),
            Some(Timepoint::T0),
        )?;
        self.at(start).start_course(mrn, start, Some(bed.into()))?;
        let mut current = "0";
        for h in 0..=checked_until {
            let at = start + Duration::hours(h);
            let step = steps.iter().find(|(sh, _)| *sh == h);
            if let Some((_, r)) = step {
                current = r;
            }
            // Early hours are checked every two hours in the demo, to keep it small.
            if step.is_none() && h < checked_until - 12 && h % 2 == 1 {
                continue;
            }
            let rate: Rate = current.parse()?;
            if let Some((_, input)) = lowered.as_ref().filter(|(lh, _)| *lh == h) {
                self.at(at)
                    .record_side_effect_with_rate(mrn, at, input.clone(), rate)?;
                continue;
            }
            self.at(at).record_rate(
                mrn,
                at,
                rate,
                Some("demo: protocol step".into()).filter(|_| step.is_some()),
            )?;
            if h % 6 == 3 {
                let score = (t0 - (h / 24)).clamp(2, 10);
                self.at(at).record_nrs(mrn, at, nrs(score), None)?;
            }
        }
        Ok(())
    }
}

/// Scores in the demo are clamped to 0..=10, so the conversion cannot fail.
fn nrs(v: i64) -> Nrs {
    match Nrs::new(v.clamp(0, 10)) {
        Ok(n) => n,
        Err(_) => unreachable!("a clamped score is valid"),
    }
}

/// Creates the demo database at `path` (which must not exist).
pub fn create(path: &Path, cfg: &Config, now: Instant) -> Result<Db, WardError> {
    let now = now.duration_trunc(Duration::minutes(1)).unwrap_or(now);
    let long_ago = now - Duration::days(120);
    let mut db = init(
        path,
        DEMO_USER,
        "Demo Physician",
        DEMO_PIN,
        &cfg.protocol,
        long_ago,
    )?;
    let who = sign_in(&mut db, cfg, DEMO_USER, DEMO_PIN, long_ago)?;
    staff_add(
        &mut db,
        &who,
        DEMO_NURSE,
        "Demo Nurse",
        Role::Nurse,
        DEMO_NURSE_PIN,
        long_ago,
    )?;
    staff_add(
        &mut db,
        &who,
        DEMO_DOCTOR,
        "Dr. Demo Arts",
        Role::Physician,
        DEMO_DOCTOR_PIN,
        long_ago,
    )?;
    let mut s = Seeder {
        db: &mut db,
        cfg,
        who,
    };
    let h = |n: i64| now - Duration::hours(n);

    let people: [Person; 7] = [
        (
            "100234",
            "Anouk de Vries",
            (1978, 4, 12),
            Sex::Female,
            64.0,
            2019,
            "left hand",
        ),
        (
            "100871",
            "Bram Jansen",
            (1965, 11, 2),
            Sex::Male,
            88.0,
            2016,
            "right foot",
        ),
        (
            "101455",
            "Carla Bakker",
            (1990, 7, 23),
            Sex::Female,
            58.5,
            2022,
            "right wrist",
        ),
        (
            "102090",
            "Dirk Visser",
            (1958, 1, 30),
            Sex::Male,
            79.0,
            2014,
            "left knee",
        ),
        (
            "099812",
            "Eva Mulder",
            (1983, 9, 9),
            Sex::Female,
            70.0,
            2018,
            "left ankle",
        ),
        (
            "098004",
            "Frank Smit",
            (1971, 5, 17),
            Sex::Male,
            92.0,
            2020,
            "right hand",
        ),
        (
            "103377",
            "Greet Meijer",
            (1949, 12, 1),
            Sex::Female,
            61.0,
            2023,
            "left foot",
        ),
    ];
    for person in &people {
        s.patient(person, long_ago)?;
    }

    // Bed 1: day 2, stepping up, checked on time.
    s.course("100234", "1", h(30), &[(0, "2"), (4, "4"), (8, "6")], 30, 8)?;
    // Bed 2: day 5 at the maximum; the last check was 3 hours ago (overdue).
    s.course(
        "100871",
        "2",
        h(100),
        &[
            (0, "2"),
            (3, "4"),
            (6, "6"),
            (9, "8"),
            (12, "10"),
            (15, "12"),
            (18, "14"),
        ],
        97,
        9,
    )?;
    // Bed 3: day 7, hallucinations led to a step down; ends within 24 hours.
    s.course_lowered(
        "101455",
        "3",
        h(150),
        &[(0, "2"), (4, "4"), (8, "6"), (12, "8"), (140, "6")],
        150,
        7,
        Some((
            140,
            SideEffectInput {
                effect: "hallucinations".into(),
                detail: None,
                severity: Severity::Moderate,
                action: Action::RateLowered,
            },
        )),
    )?;
    // Bed 4: just started.
    s.course("102090", "4", h(2), &[(0, "2")], 2, 8)?;

    // Ended 25 days ago: the T2 visit window is open.
    let start = now - Duration::days(32);
    s.course(
        "099812",
        "5",
        start,
        &[(0, "2"), (4, "4"), (8, "6"), (12, "8")],
        40,
        8,
    )?;
    let end = start + Duration::days(7);
    s.at(end).end_course("099812", end, EndReason::Completed)?;
    s.at(end + Duration::hours(1)).record_nrs(
        "099812",
        end + Duration::hours(1),
        nrs(5),
        Some(Timepoint::T1),
    )?;
    s.at(end + Duration::hours(2)).record_success(
        "099812",
        end + Duration::hours(2),
        Timepoint::T1,
        true,
    )?;

    // Ended three days ago, stopped early for side effects.
    let start = now - Duration::days(6);
    s.course("098004", "6", start, &[(0, "2"), (4, "4")], 60, 7)?;
    s.at(start + Duration::hours(61))
        .record_side_effect_with_rate(
            "098004",
            start + Duration::hours(61),
            SideEffectInput {
                effect: "nausea".into(),
                detail: None,
                severity: Severity::Severe,
                action: Action::Stopped,
            },
            Rate::ZERO,
        )?;
    let end = start + Duration::hours(62);
    s.at(end)
        .end_course("098004", end, EndReason::SideEffects)?;
    s.at(end + Duration::hours(1)).record_nrs(
        "098004",
        end + Duration::hours(1),
        nrs(7),
        Some(Timepoint::T1),
    )?;
    Ok(db)
}
