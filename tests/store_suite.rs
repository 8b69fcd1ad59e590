//! The store's contract, run against every store titrate has (SQLite in memory, an SQLite file,
//! a database on a throwaway PostgreSQL cluster): each case is one function over
//! the store interface, and `on_every_store!` makes it a test on each backend.
#![allow(clippy::unwrap_used)]

use chrono::{Duration, TimeZone, Utc};
mod common;

use titrate::config::Config;
use titrate::domain::entry::{EntryData, EntryKind, effective};
use titrate::domain::rate::Rate;
use titrate::domain::record::Staff;
use titrate::domain::time::Instant;
use titrate::domain::values::{Action, EndReason, Nrs, Role, Severity, Sex, Timepoint};
use titrate::store::sqlite::{migrations, schema_version};
use titrate::store::{Db, NewEntry, NewPatient, SchemaProblem, ScoreWindow, StoreError, audit};

fn t(h: i64) -> Instant {
    Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap() + Duration::hours(h)
}

/// A store the suite runs against, with what keeps it alive (its folder, its server).
struct Fixture {
    db: Db,
    _keep: Option<Box<dyn std::any::Any>>,
}

impl Fixture {
    fn memory() -> Fixture {
        Fixture {
            db: Db::open_in_memory().unwrap(),
            _keep: None,
        }
    }

    /// A fresh database on this test process's one throwaway cluster (the cluster's
    /// watchdog stops it when the process ends).
    fn postgres() -> Fixture {
        static CLUSTER: std::sync::OnceLock<common::pg::Cluster> = std::sync::OnceLock::new();
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let cluster = CLUSTER.get_or_init(common::pg::Cluster::start);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let url = cluster.create_database(&format!("suite_{n}"));
        Fixture {
            db: Db::create(url.as_str()).unwrap(),
            _keep: None,
        }
    }

    fn file() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        Fixture {
            db: Db::create(dir.path().join("suite.db")).unwrap(),
            _keep: Some(Box::new(dir)),
        }
    }
}

/// SQL run past titrate, as someone with the sqlite3 shell or psql would.
fn raw_sql(db: &mut Db, sql: &str) -> Result<(), String> {
    if let Some(pg) = db.postgres() {
        return pg.raw_client().batch_execute(sql).map_err(|e| {
            use std::error::Error;
            e.source().map_or_else(|| e.to_string(), |s| s.to_string())
        });
    }
    let raw = db.sqlite().unwrap().raw_connection();
    raw.execute_batch(sql).map_err(|e| e.to_string())
}

/// Every case below, as one test per store: a failure names the store it failed on.
macro_rules! on_every_store {
    ($($case:ident),* $(,)?) => {
        mod sqlite_in_memory {
            $(#[test]
            fn $case() {
                super::$case(super::Fixture::memory())
            })*
        }
        mod sqlite_file {
            $(#[test]
            fn $case() {
                super::$case(super::Fixture::file())
            })*
        }
        mod postgres {
            $(#[test]
            fn $case() {
                super::$case(super::Fixture::postgres())
            })*
        }
    };
}

on_every_store!(
    the_schema_is_exactly_what_the_migrations_create,
    every_entry_kind_round_trips,
    a_failed_transaction_leaves_nothing,
    one_version_supersedes_another_once_and_voids_are_single,
    rate_points_are_the_effective_rates_of_the_course_in_time_order,
    duplicates_are_named,
    a_protocol_is_stored_once_and_a_changed_one_again,
    staff_changes_are_audited,
    the_ward_reads_only_patients_with_running_or_recent_courses,
    a_course_and_the_bounds_of_all_courses_are_read_on_their_own,
    the_bounds_of_every_course_of_every_patient_are_read_with_beds_and_voids,
    patient_corrections_are_versions_read_as_the_current_details,
    letter_advice_is_appended_read_back_newest_last_and_never_changed,
    marks_move_with_every_write_and_name_exactly_the_patients_changed,
    raw_rows_give_each_table_as_stored_in_key_order,
    entries_of_several_patients_are_each_patients_entries_as_read_alone,
    changed_unaudited_and_missing_rows_are_each_named_once_in_key_order,
    a_table_whose_columns_changed_is_named_and_its_rows_are_not_blamed,
);

fn staff(id: &str, role: Role) -> Staff {
    Staff {
        id: id.into(),
        name: format!("{id} name"),
        role,
        pin_hash: "hash".into(),
        active: true,
        failed_pins: 0,
        locked: false,
    }
}

fn patient(mrn: &str) -> NewPatient {
    NewPatient {
        mrn: mrn.into(),
        name: "Test Patient".into(),
        birth_date: chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap(),
        sex: Sex::Other,
        weight_kg: Some(70.5),
        crps_type: None,
        crps_onset: None,
        limb: Some("left hand".into()),
    }
}

/// A patient with a course; returns (patient id, course id).
fn seeded(db: &mut Db) -> (i64, i64) {
    db.write("AB", t(0), |w| {
        w.insert_staff(&staff("AB", Role::Admin), "staff-add")?;
        let p = w.insert_patient(&patient("1"))?;
        let proto = w.protocol_id(&Config::defaults().protocol)?;
        let c = w.insert_course(p, proto)?;
        Ok::<_, StoreError>((p, c))
    })
    .unwrap()
}

fn entry(p: i64, c: Option<i64>, h: i64, data: EntryData) -> NewEntry {
    NewEntry {
        patient_id: p,
        course_id: c,
        happened_at: t(h),
        late: false,
        supersedes: None,
        amend_reason: None,
        data,
    }
}

#[test]
fn schema_is_migrated_and_versioned() {
    let ms = migrations();
    assert!(!ms.is_empty());
    let statements = |sql: &str| {
        sql.lines()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
            .count()
    };
    for (i, (n, sql)) in ms.iter().enumerate() {
        assert_eq!(*n, i as i64 + 1, "migrations are numbered 1, 2, ...");
        // A migration changes the schema, or is this backend's half of a change the other
        // backend needed, and says so.
        assert!(
            sql.contains("CREATE") || sql.contains("ALTER") || sql.contains("nothing changes here"),
            "migration {n}"
        );
        assert!(
            statements(sql) > 0 || sql.contains("nothing changes here"),
            "migration {n} is empty without saying why"
        );
    }
    // Both backends know the same versions, numbered alike.
    let pg: Vec<i64> = titrate::store::postgres::migrations()
        .iter()
        .map(|(n, _)| *n)
        .collect();
    let lite: Vec<i64> = ms.iter().map(|(n, _)| *n).collect();
    assert_eq!(pg, lite);
    for (n, sql) in titrate::store::postgres::migrations() {
        assert!(statements(&sql) > 0, "PostgreSQL migration {n} is empty");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = titrate::store::sqlite::SqliteDb::create_file(&dir.path().join("v.db")).unwrap();
    assert_eq!(file.user_version().unwrap(), schema_version());
}

fn the_schema_is_exactly_what_the_migrations_create(fx: Fixture) {
    let Fixture { mut db, _keep } = fx;
    assert_eq!(db.read(|r| r.schema_differences()).unwrap(), vec![]);
}

fn every_entry_kind_round_trips(fx: Fixture) {
    let Fixture { mut db, _keep } = fx;
    let (p, c) = seeded(&mut db);
    let kinds = vec![
        entry(
            p,
            Some(c),
            0,
            EntryData::CourseStart {
                bed: Some("4".into()),
            },
        ),
        entry(
            p,
            Some(c),
            0,
            EntryData::Rate {
                rate: Rate::from_centi(250),
                confirmed: true,
                confirm_reason: Some("why".into()),
            },
        ),
        entry(
            p,
            None,
            1,
            EntryData::Nrs {
                score: Nrs::new(7).unwrap(),
                timepoint: Some(Timepoint::T0),
            },
        ),
        entry(
            p,
            Some(c),
            2,
            EntryData::SideEffect {
                effect: "other".into(),
                detail: Some("itching".into()),
                severity: Severity::Moderate,
                action: Action::MedicationGiven,
                rate_at: Rate::from_centi(250),
            },
        ),
        entry(
            p,
            Some(c),
            3,
            EntryData::Success {
                timepoint: Timepoint::T1,
                successful: false,
            },
        ),
        entry(
            p,
            Some(c),
            4,
            EntryData::CourseEnd {
                reason: EndReason::PatientRequest,
            },
        ),
    ];
    for e in kinds {
        let id = db.write("AB", t(5), |w| w.insert_entry(&e)).unwrap();
        let back = db.read(|r| r.entry(id)).unwrap().unwrap();
        assert_eq!(back.data, e.data);
        assert_eq!(back.happened_at, e.happened_at);
        assert_eq!(back.recorded_at, t(5));
        assert_eq!(back.recorded_by, "AB");
        assert_eq!(back.course_id, e.course_id);
    }
    let all = db.read(|r| r.entries_of(p)).unwrap();
    assert_eq!(all.len(), 6);
    // The outcome reads: marks and scores from their indexes, windows inclusive.
    let marks = db.read(|r| r.outcome_marks()).unwrap();
    let mut kinds: Vec<_> = marks.iter().map(|m| format!("{:?}", m.what)).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "End",
            "Report { timepoint: T1, successful: false }",
            "Start"
        ],
        "{marks:?}"
    );
    let window = |patient, from, to| ScoreWindow {
        patient,
        from: t(from),
        to: t(to),
    };
    let mut scores = |w: &[ScoreWindow]| db.read(|r| r.scores_in(w)).unwrap();
    let inside = scores(&[window(p, 0, 1)]);
    assert_eq!(inside.len(), 1);
    assert_eq!((inside[0].0, inside[0].1.score.get()), (p, 7));
    assert_eq!(inside[0].1.tag, Some(Timepoint::T0));
    assert!(scores(&[window(p, 2, 3)]).is_empty());
    assert!(scores(&[window(p + 1, 0, 9)]).is_empty());
    assert_eq!(scores(&[window(p, 1, 1), window(p, 0, 5)]).len(), 2);
    // A window reaching beyond any time that can be stored still finds what is inside it.
    let wide = ScoreWindow {
        patient: p,
        from: t(0) - chrono::Duration::days(4_000_000),
        to: t(0) + chrono::Duration::days(4_000_000),
    };
    assert_eq!(scores(&[wide]).len(), 1);
    assert!(db.read(|r| r.retired_entries()).unwrap().is_empty());
    assert!(db.read(|r| audit::verify(r)).unwrap().is_sound());
}

fn entries_of_several_patients_are_each_patients_entries_as_read_alone(fx: Fixture) {
    let Fixture { mut db, _keep } = fx;
    let (p, c) = seeded(&mut db);
    let (q, none) = db
        .write("AB", t(1), |w| {
            let q = w.insert_patient(&patient("2"))?;
            let none = w.insert_patient(&patient("3"))?;
            Ok::<_, StoreError>((q, none))
        })
        .unwrap();
    let nrs = |s| EntryData::Nrs {
        score: Nrs::new(s).unwrap(),
        timepoint: None,
    };
    for (who, h, s) in [(p, 2, 5), (q, 3, 6), (p, 4, 7), (q, 5, 8), (p, 6, 2)] {
        db.write("AB", t(h), |w| w.insert_entry(&entry(who, None, h, nrs(s))))
            .unwrap();
    }
    let started = db
        .write("AB", t(7), |w| {
            w.insert_entry(&entry(p, Some(c), 7, EntryData::CourseStart { bed: None }))
        })
        .unwrap();
    db.write("AB", t(8), |w| w.insert_void(started, "wrong patient"))
        .unwrap();
    let unknown = none + 100;
    let all = db
        .read(|r| r.entries_of_patients(&[q, p, none, unknown]))
        .unwrap();
    for who in [p, q, none, unknown] {
        let alone = db.read(|r| r.entries_of(who)).unwrap();
        assert_eq!(all.get(&who), Some(&alone), "patient {who}");
    }
    assert_eq!(all[&p].len(), 4);
    assert!(
        all[&p].iter().any(|e| e.void.is_some()),
        "the void comes along"
    );
    assert_eq!(all.len(), 4);
}

fn a_failed_transaction_leaves_nothing(fx: Fixture) {
    let Fixture { mut db, _keep } = fx;
    let (p, c) = seeded(&mut db);
    let before = db.read(|r| r.audit_rows()).unwrap().len();
    let res: Result<(), StoreError> = db.write("AB", t(1), |w| {
        w.insert_entry(&entry(p, Some(c), 1, EntryData::CourseStart { bed: None }))?;
        Err(StoreError::Corrupt("the domain refused".into()))
    });
    assert!(res.is_err());
    assert_eq!(db.read(|r| r.audit_rows()).unwrap().len(), before);
    assert!(db.read(|r| r.entries_of(p)).unwrap().is_empty());
}

fn one_version_supersedes_another_once_and_voids_are_single(fx: Fixture) {
    let Fixture { mut db, _keep } = fx;
    let (p, c) = seeded(&mut db);
    let rate = |r| EntryData::Rate {
        rate: Rate::from_centi(r),
        confirmed: false,
        confirm_reason: None,
    };
    let first = db
        .write("AB", t(1), |w| {
            w.insert_entry(&entry(p, Some(c), 1, rate(200)))
        })
        .unwrap();
    let mut amend = entry(p, Some(c), 1, rate(300));
    amend.supersedes = Some(first);
    amend.amend_reason = Some("typo".into());
    let second = db.write("AB", t(2), |w| w.insert_entry(&amend)).unwrap();
    assert_eq!(
        db.read(|r| r.entry_superseded_by(first)).unwrap(),
        Some(second)
    );
    // A second amendment of the same version (two terminals at once) is a conflict.
    let e = db
        .write("AB", t(2), |w| w.insert_entry(&amend))
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(id) if id == first));
    db.write("AB", t(3), |w| w.insert_void(second, "wrong patient"))
        .unwrap();
    assert!(matches!(
        db.write("AB", t(3), |w| w.insert_void(second, "again")),
        Err(StoreError::Conflict(_))
    ));
    let v = db.read(|r| r.entry(second)).unwrap().unwrap().void.unwrap();
    assert_eq!(v.reason, "wrong patient");
    assert!(db.read(|r| audit::verify(r)).unwrap().is_sound());
}

/// What a new rate is checked against, read from the index: the latest version of each rate,
/// voided ones left out, in time order (then entry order); other courses' rates not mixed in.
fn rate_points_are_the_effective_rates_of_the_course_in_time_order(fx: Fixture) {
    let Fixture { mut db, _keep } = fx;
    let (p, c) = seeded(&mut db);
    let other = db.write("AB", t(0), |w| w.insert_course(p, 1)).unwrap();
    let rate = |r| EntryData::Rate {
        rate: Rate::from_centi(r),
        confirmed: false,
        confirm_reason: None,
    };
    let mut ins = |e: NewEntry| db.write("AB", t(9), |w| w.insert_entry(&e)).unwrap();
    ins(entry(p, Some(c), 3, rate(600)));
    let typo = ins(entry(p, Some(c), 1, rate(2000)));
    let mut fix = entry(p, Some(c), 2, rate(400));
    fix.supersedes = Some(typo);
    fix.amend_reason = Some("typo".into());
    ins(fix);
    ins(entry(p, Some(c), 0, rate(200)));
    let twice = ins(entry(p, Some(c), 3, rate(800)));
    let wrong = ins(entry(p, Some(c), 4, rate(1000)));
    ins(entry(p, Some(other), 1, rate(1400)));
    db.write("AB", t(9), |w| w.insert_void(wrong, "wrong patient"))
        .unwrap();
    let got: Vec<(i64, u32)> = db
        .read(|r| r.rate_versions_of(c).map(effective))
        .unwrap()
        .iter()
        .map(|p| ((p.at - t(0)).num_hours(), p.rate.centi()))
        .collect();
    assert_eq!(
        got,
        [(0, 200), (2, 400), (3, 600), (3, 800)],
        "twice = {twice}"
    );
}

fn duplicates_are_named(fx: Fixture) {
    let Fixture { mut db, _keep } = fx;
    seeded(&mut db);
    let e = db
        .write("AB", t(1), |w| w.insert_patient(&patient("1")))
        .unwrap_err();
    assert!(matches!(e, StoreError::DuplicateMrn(_)), "{e}");
    let e = db
        .write("AB", t(1), |w| {
            w.insert_staff(&staff("AB", Role::Nurse), "staff-add")
        })
        .unwrap_err();
    assert!(matches!(e, StoreError::DuplicateStaff(_)), "{e}");
}

fn a_protocol_is_stored_once_and_a_changed_one_again(fx: Fixture) {
    let Fixture { mut db, _keep } = fx;
    seeded(&mut db);
    let mut p = Config::defaults().protocol;
    let a = db.write("AB", t(1), |w| w.protocol_id(&p)).unwrap();
    assert_eq!(a, db.write("AB", t(1), |w| w.protocol_id(&p)).unwrap());
    p.max_rate_mg_h = Rate::from_centi(1200);
    let b = db.write("AB", t(1), |w| w.protocol_id(&p)).unwrap();
    assert_ne!(a, b);
    let courses_protocols: Vec<_> = db
        .read(|r| r.all_courses())
        .unwrap()
        .into_iter()
        .map(|c| c.protocol)
        .collect();
    assert_eq!(
        courses_protocols[0].max_rate_mg_h,
        Rate::from_centi(1400),
        "the course keeps its protocol"
    );
}

fn staff_changes_are_audited(fx: Fixture) {
    let Fixture { mut db, _keep } = fx;
    seeded(&mut db);
    db.write("AB", t(1), |w| {
        let mut s = w.staff("AB")?.unwrap();
        s.failed_pins = 2;
        w.update_staff(&s, "signin-fail")
    })
    .unwrap();
    assert_eq!(db.read(|r| r.staff("AB")).unwrap().unwrap().failed_pins, 2);
    let v = db.read(|r| audit::verify(r)).unwrap();
    assert!(v.is_sound(), "{:?}", v.problems);
    let rows = db.read(|r| r.audit_rows()).unwrap();
    assert_eq!(rows.last().unwrap().action, "signin-fail");
    assert!(
        !rows.iter().any(|r| r.content.contains("\"pin_hash\"")),
        "the PIN hash stays out of the log"
    );
}

#[cfg(unix)]
#[test]
fn database_files_are_private_and_newer_versions_refused_untouched() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let mut db = Db::create(&path).unwrap();
    seeded(&mut db);
    drop(db);
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(Db::create(&path).is_err(), "create never reuses a file");

    let newer = dir.path().join("newer.db");
    {
        let c = rusqlite::Connection::open(&newer).unwrap();
        c.execute_batch("CREATE TABLE x (a); PRAGMA user_version = 999;")
            .unwrap();
    }
    let bytes = std::fs::read(&newer).unwrap();
    let e = Db::open(&newer).err().unwrap();
    assert!(matches!(e, StoreError::TooNew { found: 999, .. }), "{e}");
    assert!(e.to_string().contains("newer titrate"));
    assert_eq!(
        std::fs::read(&newer).unwrap(),
        bytes,
        "a newer database is not touched"
    );
    assert!(Db::open(dir.path().join("missing.db")).is_err());
}

fn the_ward_reads_only_patients_with_running_or_recent_courses(fx: Fixture) {
    let Fixture { mut db, _keep } = fx;
    let (p, c) = seeded(&mut db);
    // A second patient whose only course ended long ago.
    let (old_p, old_c) = db
        .write("AB", t(0), |w| {
            let q = w.insert_patient(&patient("2"))?;
            let proto = w.protocol_id(&Config::defaults().protocol)?;
            let k = w.insert_course(q, proto)?;
            Ok::<_, StoreError>((q, k))
        })
        .unwrap();
    db.write("AB", t(1), |w| {
        w.insert_entry(&entry(p, Some(c), 0, EntryData::CourseStart { bed: None }))?;
        w.insert_entry(&entry(
            old_p,
            Some(old_c),
            0,
            EntryData::CourseStart { bed: None },
        ))?;
        w.insert_entry(&entry(
            old_p,
            Some(old_c),
            1,
            EntryData::CourseEnd {
                reason: EndReason::Completed,
            },
        ))
    })
    .unwrap();
    let ids = |since: Instant, db: &mut Db| -> Vec<i64> {
        db.read(|r| r.ward_patients(since))
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect()
    };
    assert_eq!(
        ids(t(100), &mut db),
        vec![p],
        "an old ended course is not read"
    );
    assert_eq!(ids(t(0), &mut db), vec![p, old_p], "a recent end is");
    // The old end entered in error: the course runs again and must be on the ward.
    let end = db
        .read(|r| r.course_bounds_of(old_p))
        .unwrap()
        .into_iter()
        .find(|e| matches!(e.data, EntryData::CourseEnd { .. }))
        .unwrap()
        .id;
    db.write("AB", t(2), |w| w.insert_void(end, "wrong patient"))
        .unwrap();
    assert_eq!(
        ids(t(100), &mut db),
        vec![p, old_p],
        "a voided end does not end the course"
    );
}

fn a_course_and_the_bounds_of_all_courses_are_read_on_their_own(fx: Fixture) {
    let Fixture { mut db, _keep } = fx;
    let (p, c) = seeded(&mut db);
    let rate = EntryData::Rate {
        rate: Rate::from_centi(200),
        confirmed: false,
        confirm_reason: None,
    };
    db.write("AB", t(3), |w| {
        w.insert_entry(&entry(p, Some(c), 0, EntryData::CourseStart { bed: None }))?;
        w.insert_entry(&entry(p, Some(c), 1, rate.clone()))?;
        w.insert_entry(&entry(
            p,
            None,
            1,
            EntryData::Nrs {
                score: Nrs::new(5).unwrap(),
                timepoint: None,
            },
        ))?;
        w.insert_entry(&entry(
            p,
            Some(c),
            2,
            EntryData::CourseEnd {
                reason: EndReason::Completed,
            },
        ))
    })
    .unwrap();
    let course = db.read(|r| r.entries_of_course(c)).unwrap();
    assert_eq!(
        course.iter().map(|e| e.kind()).collect::<Vec<_>>(),
        vec![
            EntryKind::CourseStart,
            EntryKind::Rate,
            EntryKind::CourseEnd
        ]
    );
    let bounds = db.read(|r| r.course_bounds_of(p)).unwrap();
    assert_eq!(
        bounds.iter().map(|e| e.kind()).collect::<Vec<_>>(),
        vec![EntryKind::CourseStart, EntryKind::CourseEnd]
    );
}

fn the_bounds_of_every_course_of_every_patient_are_read_with_beds_and_voids(fx: Fixture) {
    let Fixture { mut db, _keep } = fx;
    let (p, c) = seeded(&mut db);
    let (q, d, start_q) = db
        .write("AB", t(1), |w| {
            w.insert_entry(&entry(
                p,
                Some(c),
                0,
                EntryData::CourseStart {
                    bed: Some("Bed 4".into()),
                },
            ))?;
            w.insert_entry(&entry(
                p,
                Some(c),
                1,
                EntryData::Rate {
                    rate: Rate::from_centi(200),
                    confirmed: false,
                    confirm_reason: None,
                },
            ))?;
            let q = w.insert_patient(&patient("2"))?;
            let proto = w.protocol_id(&Config::defaults().protocol)?;
            let d = w.insert_course(q, proto)?;
            let start_q = w.insert_entry(&entry(
                q,
                Some(d),
                1,
                EntryData::CourseStart {
                    bed: Some("bed 4".into()),
                },
            ))?;
            let end_q = w.insert_entry(&entry(
                q,
                Some(d),
                2,
                EntryData::CourseEnd {
                    reason: EndReason::Completed,
                },
            ))?;
            w.insert_void(end_q, "not ended")?;
            Ok::<_, StoreError>((q, d, start_q))
        })
        .unwrap();
    let all = db.read(|r| r.all_course_bounds()).unwrap();
    let seen: Vec<_> = all
        .iter()
        .map(|e| (e.patient_id, e.course_id, e.kind(), e.void.is_some()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (p, Some(c), EntryKind::CourseStart, false),
            (q, Some(d), EntryKind::CourseStart, false),
            (q, Some(d), EntryKind::CourseEnd, true),
        ],
        "starts and ends of both patients, rates left out, the void kept"
    );
    let q_start = all.iter().find(|e| e.id == start_q).unwrap();
    assert_eq!(
        q_start.data,
        EntryData::CourseStart {
            bed: Some("bed 4".into())
        }
    );
}

fn patient_corrections_are_versions_read_as_the_current_details(fx: Fixture) {
    use titrate::store::NewPatientVersion;
    let Fixture { mut db, _keep } = fx;
    let (p, c) = seeded(&mut db);
    // A course that runs, so the patient is on the ward.
    db.write("AB", t(1), |w| {
        w.insert_entry(&entry(p, Some(c), 1, EntryData::CourseStart { bed: None }))
    })
    .unwrap();
    let other = db
        .write("AB", t(1), |w| w.insert_patient(&patient("2")))
        .unwrap();
    let mut fixed = patient("1-B");
    fixed.weight_kg = Some(80.0);
    let version = |n: u32, data: &NewPatient| NewPatientVersion {
        patient_id: p,
        version: n,
        data: data.clone(),
        reason: "typo".into(),
    };
    db.write("AB", t(2), |w| {
        w.insert_patient_version(&version(1, &fixed))
    })
    .unwrap();
    // Built on version 0 again, or on one that does not exist: a conflict.
    for n in [1, 3] {
        let e = db
            .write("AB", t(3), |w| {
                w.insert_patient_version(&version(n, &fixed))
            })
            .unwrap_err();
        assert!(matches!(e, StoreError::PatientConflict { .. }), "{e}");
    }
    // Another patient's MRN, current or former, is refused; so is a new patient's.
    for mrn in ["1", "1-B"] {
        let e = db
            .write("AB", t(3), |w| {
                w.insert_patient_version(&NewPatientVersion {
                    patient_id: other,
                    version: 1,
                    data: patient(mrn),
                    reason: "x".into(),
                })
            })
            .unwrap_err();
        assert!(matches!(e, StoreError::DuplicateMrn(_)), "{e}");
    }
    for mrn in ["1", "1-B"] {
        let e = db
            .write("AB", t(3), |w| w.insert_patient(&patient(mrn)))
            .unwrap_err();
        assert!(matches!(e, StoreError::DuplicateMrn(_)), "{e}");
    }
    db.read(|r| {
        let now = r.patient(p)?.unwrap();
        assert_eq!(now.data, fixed);
        assert_eq!(r.patient_by_mrn("1-B")?.unwrap(), now);
        assert!(r.patient_by_mrn("1")?.is_none());
        assert_eq!(r.mrn_owner("1")?, Some(p));
        assert_eq!(r.mrn_owner("1-B")?, Some(p));
        assert_eq!(r.mrn_owner("9")?, None);
        assert!(r.patients()?.contains(&now));
        assert_eq!(r.ward_patients(t(0))?, vec![now.clone()]);
        let v = r.patient_versions(p)?;
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].version, v[1].version), (0, 1));
        assert_eq!(v[0].data, patient("1"));
        assert_eq!(v[0].reason, None);
        assert_eq!((v[1].recorded_by.as_str(), v[1].recorded_at), ("AB", t(2)));
        assert_eq!(v[1].reason.as_deref(), Some("typo"));
        let m = r.marks()?;
        assert!(r.changed_patients(&m)?.is_empty());
        let before = titrate::store::Marks {
            patient_version: 0,
            ..m
        };
        assert_eq!(r.changed_patients(&before)?, vec![p]);
        assert!(audit::verify(r)?.is_sound());
        Ok::<_, StoreError>(())
    })
    .unwrap();
}

/// The change feed a terminal refreshes by: every kind of write moves the marks, and exactly
/// the patients written to since a mark are named.
fn marks_move_with_every_write_and_name_exactly_the_patients_changed(fx: Fixture) {
    use titrate::store::NewPatientVersion;
    let Fixture { mut db, _keep } = fx;
    let (p, c) = seeded(&mut db);
    let changed = |db: &mut Db, since| db.read(|r| r.changed_patients(&since)).unwrap();
    let start = db.read(|r| r.marks()).unwrap();
    assert_eq!(
        changed(&mut db, start),
        Vec::<i64>::new(),
        "nothing since now"
    );
    let nrs = EntryData::Nrs {
        score: Nrs::new(5).unwrap(),
        timepoint: None,
    };
    let e = db
        .write("AB", t(1), |w| w.insert_entry(&entry(p, Some(c), 1, nrs)))
        .unwrap();
    let after_entry = db.read(|r| r.marks()).unwrap();
    assert_ne!(after_entry, start);
    assert_eq!(changed(&mut db, start), vec![p]);
    assert_eq!(changed(&mut db, after_entry), Vec::<i64>::new());

    db.write("AB", t(2), |w| w.insert_void(e, "wrong patient"))
        .unwrap();
    let after_void = db.read(|r| r.marks()).unwrap();
    assert_ne!(after_void, after_entry);
    assert_eq!(changed(&mut db, after_entry), vec![p]);

    let q = db
        .write("AB", t(3), |w| w.insert_patient(&patient("2")))
        .unwrap();
    let after_patient = db.read(|r| r.marks()).unwrap();
    assert_eq!(changed(&mut db, after_void), vec![q]);

    let mut fixed = patient("2");
    fixed.name = "Corrected Name".into();
    db.write("AB", t(4), |w| {
        w.insert_patient_version(&NewPatientVersion {
            patient_id: q,
            version: 1,
            data: fixed.clone(),
            reason: "typo".into(),
        })
    })
    .unwrap();
    assert_eq!(changed(&mut db, after_patient), vec![q]);
    // Everything since the start, each patient once.
    assert_eq!(changed(&mut db, start), vec![p, q]);
}

/// What `migrate` copies: every row of every table as stored, a secret as it is, in key
/// order, and the audit log with it.
fn raw_rows_give_each_table_as_stored_in_key_order(fx: Fixture) {
    use titrate::store::{Value, copy};
    let Fixture { mut db, _keep } = fx;
    let (p, c) = seeded(&mut db);
    db.write("AB", t(1), |w| {
        w.insert_entry(&entry(p, Some(c), 0, EntryData::CourseStart { bed: None }))?;
        w.insert_patient(&patient("2"))
    })
    .unwrap();
    let text = |v: &Value| match v {
        Value::Text(t) => String::from_utf8_lossy(t).into_owned(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => r.to_string(),
        Value::Null => "NULL".into(),
        other => format!("{other:?}"),
    };
    let mut counts = Vec::new();
    for table in copy::tables() {
        let mut rows: Vec<Vec<String>> = Vec::new();
        let n = db
            .read(|r| {
                r.raw_rows(&table, &mut |values| {
                    assert_eq!(values.len(), table.columns.len(), "{}", table.table);
                    rows.push(values.iter().map(text).collect());
                    Ok(())
                })
            })
            .unwrap();
        assert_eq!(n as usize, rows.len());
        counts.push((table.table, n));
        if table.table == "staff" {
            let pin = table
                .columns
                .iter()
                .position(|c| c.name == "pin_hash")
                .unwrap();
            assert_eq!(rows[0][pin], "hash", "a secret is read as it is stored");
        }
        if table.table == "patient" {
            let mrn = table.columns.iter().position(|c| c.name == "mrn").unwrap();
            let got: Vec<&str> = rows.iter().map(|r| r[mrn].as_str()).collect();
            assert_eq!(got, ["1", "2"], "in key order");
        }
    }
    let audit = db.read(|r| r.audit_rows()).unwrap().len() as u64;
    assert!(counts.contains(&("audit", audit)), "{counts:?}");
    assert!(counts.contains(&("entry", 1)), "{counts:?}");
}

fn letter_advice_is_appended_read_back_newest_last_and_never_changed(fx: Fixture) {
    use titrate::store::NewLetterAdvice;
    let Fixture { mut db, _keep } = fx;
    let (p, c) = seeded(&mut db);
    let advice = |supersedes: Option<i64>, text: &str| NewLetterAdvice {
        patient_id: p,
        course_id: c,
        supersedes,
        responsible: "AB".into(),
        advice: text.into(),
    };
    assert_eq!(db.read(|r| r.letter_advice(c)).unwrap(), vec![]);
    let first = db
        .write("AB", t(2), |w| {
            w.insert_letter_advice(&advice(None, "first"))
        })
        .unwrap();
    // A second advice written from "none stored" would hide the first: refused.
    let e = db
        .write("AB", t(3), |w| {
            w.insert_letter_advice(&advice(None, "stale"))
        })
        .unwrap_err();
    assert!(
        matches!(e, StoreError::AdviceConflict { course } if course == c),
        "{e}"
    );
    let second = db
        .write("AB", t(3), |w| {
            w.insert_letter_advice(&advice(Some(first), "second"))
        })
        .unwrap();
    let e = db
        .write("AB", t(4), |w| {
            w.insert_letter_advice(&advice(Some(first), "from the first again"))
        })
        .unwrap_err();
    assert!(matches!(e, StoreError::AdviceConflict { .. }), "{e}");
    let all = db.read(|r| r.letter_advice(c)).unwrap();
    let texts: Vec<_> = all.iter().map(|a| a.advice.as_str()).collect();
    assert_eq!(texts, ["first", "second"], "the earlier one stays");
    assert_eq!(all[1].id, second);
    assert_eq!(all[1].supersedes, Some(first));
    assert_eq!(all[1].recorded_at, t(3));
    assert_eq!(all[1].recorded_by, "AB");
    assert_eq!(all[1].responsible, "AB");
    // Another course reads none of them.
    assert_eq!(db.read(|r| r.letter_advice(c + 1)).unwrap(), vec![]);
    let v = db.read(|r| audit::verify(r)).unwrap();
    assert!(v.is_sound(), "{:?}", v.problems);
    let rows = db.read(|r| r.audit_rows()).unwrap();
    assert_eq!(
        rows.iter()
            .filter(|r| r.tbl.as_deref() == Some("letter_advice"))
            .count(),
        2
    );
    for sql in [
        "UPDATE letter_advice SET advice = 'x'",
        "DELETE FROM letter_advice",
    ] {
        let e = raw_sql(&mut db, sql).unwrap_err();
        assert!(e.contains("letter advice is never"), "{e}");
    }
}

/// SQL run past titrate with a table's triggers out of the way, as someone who owns the
/// database could: on PostgreSQL switched off and on again, on SQLite dropped and made again
/// from their own text (so the schema is as titrate made it afterwards).
fn past_triggers(db: &mut Db, table: &str, triggers: &[&str], sql: &str) {
    if db.postgres().is_some() {
        let off: Vec<String> = triggers
            .iter()
            .map(|t| format!("ALTER TABLE {table} DISABLE TRIGGER {t};"))
            .collect();
        let on: Vec<String> = triggers
            .iter()
            .map(|t| format!("ALTER TABLE {table} ENABLE TRIGGER {t};"))
            .collect();
        raw_sql(db, &format!("{} {sql} {}", off.concat(), on.concat())).unwrap();
        return;
    }
    let made: Vec<String> = triggers
        .iter()
        .map(|t| {
            db.sqlite()
                .unwrap()
                .raw_connection()
                .query_row(
                    "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?1",
                    [t],
                    |r| r.get(0),
                )
                .unwrap()
        })
        .collect();
    let drop: Vec<String> = triggers
        .iter()
        .map(|t| format!("DROP TRIGGER {t};"))
        .collect();
    let again: Vec<String> = made.iter().map(|m| format!("{m};")).collect();
    raw_sql(db, &format!("{} {sql} {}", drop.concat(), again.concat())).unwrap();
}

/// Keys whose order as text differs from their order as numbers (9 < 10 < 100, but "10" <
/// "100" < "9"): the comparison pairs each row with its own audit rows and names each
/// changed, added and deleted row once, changed and added ones in the table's key order,
/// deleted ones in the order they were written.
fn changed_unaudited_and_missing_rows_are_each_named_once_in_key_order(fx: Fixture) {
    let Fixture { mut db, _keep } = fx;
    db.write("AB", t(0), |w| {
        w.insert_staff(&staff("AB", Role::Admin), "staff-add")?;
        w.insert_staff(&staff("CD", Role::Nurse), "staff-add")?;
        for n in 1..=100 {
            w.insert_patient(&patient(&n.to_string()))?;
        }
        Ok::<_, StoreError>(())
    })
    .unwrap();
    // CD's row is written again: what it is compared with is the newer audit row.
    db.write("AB", t(1), |w| {
        let mut s = w.staff("CD")?.unwrap();
        s.failed_pins = 1;
        w.update_staff(&s, "signin-fail")
    })
    .unwrap();
    assert!(db.read(|r| audit::verify(r)).unwrap().is_sound());
    let rows = db.read(|r| r.audit_rows()).unwrap();
    let seq_of = |table: &str, key: &str| {
        rows.iter()
            .filter(|r| r.tbl.as_deref() == Some(table) && r.row_key.as_deref() == Some(key))
            .map(|r| r.seq)
            .max()
            .unwrap()
    };
    past_triggers(
        &mut db,
        "patient",
        &["patient_no_update", "patient_no_delete"],
        "UPDATE patient SET weight_kg = 95 WHERE id IN (9, 10, 100);
         DELETE FROM patient WHERE id IN (2, 20, 11);",
    );
    raw_sql(
        &mut db,
        "INSERT INTO patient (id, mrn, name, birth_date, sex, weight_kg, crps_type, crps_onset, limb, created_at, created_by) \
         SELECT n, 'X' || n, name, birth_date, sex, weight_kg, crps_type, crps_onset, limb, created_at, created_by \
         FROM patient, (SELECT 1000 AS n UNION ALL SELECT 200 UNION ALL SELECT 101) k WHERE id = 1;
         UPDATE staff SET name = 'Someone Else' WHERE id = 'CD';
         INSERT INTO staff (id, name, role, pin_hash, active, failed_pins, locked, created_at, created_by) \
         SELECT 'B', name, role, pin_hash, active, failed_pins, locked, created_at, created_by FROM staff WHERE id = 'AB';",
    )
    .unwrap();
    let problems = db.read(|r| audit::verify(r)).unwrap().problems;
    let changed = |table: &str, key: &str| audit::Problem::RowChanged {
        table: table.into(),
        key: key.into(),
        audit_seq: seq_of(table, key),
    };
    let unaudited = |table: &str, key: &str| audit::Problem::RowUnaudited {
        table: table.into(),
        key: key.into(),
    };
    let missing = |key: &str| audit::Problem::RowMissing {
        table: "patient".into(),
        key: key.into(),
        audit_seq: seq_of("patient", key),
    };
    assert_eq!(
        problems,
        vec![
            unaudited("staff", "B"),
            changed("staff", "CD"),
            changed("patient", "9"),
            changed("patient", "10"),
            changed("patient", "100"),
            unaudited("patient", "101"),
            unaudited("patient", "200"),
            unaudited("patient", "1000"),
            missing("2"),
            missing("11"),
            missing("20"),
        ]
    );
}

/// A column renamed behind titrate's back changes how every row of its table reads, not
/// what anyone recorded: `check` names the table's change and says its rows were not
/// compared, rather than calling each of them changed. The other tables are still compared,
/// and a row changed in one of them is still found.
fn a_table_whose_columns_changed_is_named_and_its_rows_are_not_blamed(fx: Fixture) {
    let Fixture { mut db, _keep } = fx;
    db.write("AB", t(0), |w| {
        w.insert_staff(&staff("AB", Role::Admin), "staff-add")?;
        for n in 1..=3 {
            w.insert_patient(&patient(&n.to_string()))?;
        }
        Ok::<_, StoreError>(())
    })
    .unwrap();
    let seq_of_patient_2 = db
        .read(|r| r.audit_rows())
        .unwrap()
        .iter()
        .filter(|r| r.tbl.as_deref() == Some("patient") && r.row_key.as_deref() == Some("2"))
        .map(|r| r.seq)
        .max()
        .unwrap();
    raw_sql(&mut db, "ALTER TABLE staff RENAME COLUMN name TO full_name").unwrap();
    past_triggers(
        &mut db,
        "patient",
        &["patient_no_update"],
        "UPDATE patient SET weight_kg = 95 WHERE id = 2;",
    );
    let problems = db.read(|r| audit::verify(r)).unwrap().problems;
    assert!(
        problems.iter().any(|p| matches!(p,
            audit::Problem::Schema(SchemaProblem::Object(d)) if d.kind == "table" && d.name == "staff")),
        "{problems:?}"
    );
    let rows: Vec<&audit::Problem> = problems
        .iter()
        .filter(|p| !matches!(p, audit::Problem::Schema(_)))
        .collect();
    assert_eq!(
        rows,
        vec![
            &audit::Problem::NotCompared {
                table: "staff".into()
            },
            &audit::Problem::RowChanged {
                table: "patient".into(),
                key: "2".into(),
                audit_seq: seq_of_patient_2,
            },
        ]
    );
}
