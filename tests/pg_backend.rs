//! The PostgreSQL store against a throwaway cluster of its own: the same writes give the same
//! record and byte-identical audit rows as SQLite, the conflicts, the change feed across
//! commits out of id order, the application role's refusals, and the schema comparison.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use chrono::{Duration, TimeZone, Utc};
use titrate::config::Config;
use titrate::domain::entry::EntryData;
use titrate::domain::rate::Rate;
use titrate::domain::record::Staff;
use titrate::domain::time::Instant;
use titrate::domain::values::{Action, CrpsType, EndReason, Nrs, Role, Severity, Sex, Timepoint};
use titrate::store::Store as _;
use titrate::store::postgres::{PgDb, setup_sql};
use titrate::store::schema::Change;
use titrate::store::{
    AUDITED_TABLES, Db, NewEntry, NewLetterAdvice, NewPatient, NewPatientVersion, ReadAhead,
    Reader, SchemaProblem, ScoreWindow, StoreError, Writer, audit, pg_schema,
};

/// The tests' throwaway cluster (`tests/common/pg.rs`: its own folder and socket, run as
/// `postgres` under root, stopped when dropped or when the test process dies), with the few
/// calls these tests make of it.
struct Cluster(common::pg::Cluster);

impl Cluster {
    fn start() -> Cluster {
        Cluster(common::pg::Cluster::start())
    }

    fn url(&self, user: &str, db: &str) -> String {
        format!(
            "postgresql://{user}@/{db}?host={}&port={}",
            self.0.socket_dir().display(),
            self.0.port()
        )
    }

    /// A new empty database, as the superuser.
    fn database(&self, name: &str) -> String {
        self.0.create_database(name)
    }

    fn psql(&self, db: &str, sql: &str) -> String {
        self.0.psql(db, sql)
    }

    /// A script with psql's own commands (`\connect`), as a DBA runs it.
    fn psql_file(&self, db: &str, sql: &str) {
        let file = self.0.socket_dir().join("setup.sql");
        std::fs::write(&file, sql).unwrap();
        self.0.psql(db, &format!("\\i {}", file.display()));
    }

    fn raw(&self, url: &str) -> postgres::Client {
        postgres::Client::connect(url, postgres::NoTls).unwrap()
    }
}

fn t(h: i64) -> Instant {
    Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap() + Duration::hours(h)
}

fn staff(id: &str, role: Role) -> Staff {
    Staff {
        id: id.into(),
        name: format!("{id} name"),
        role,
        pin_hash: "argon2-hash".into(),
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
        sex: Sex::Female,
        weight_kg: Some(70.0),
        crps_type: Some(CrpsType::One),
        crps_onset: chrono::NaiveDate::from_ymd_opt(2024, 5, 1),
        limb: Some("left hand".into()),
    }
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

fn rate(centi: u32) -> EntryData {
    EntryData::Rate {
        rate: Rate::from_centi(centi),
        confirmed: centi > 1000,
        confirm_reason: (centi > 1000).then(|| "above the usual".into()),
    }
}

/// Either store, driven the same way.
trait Store {
    fn write_with(
        &mut self,
        actor: &str,
        now: Instant,
        f: &mut dyn FnMut(&mut dyn Writer) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    fn read_with(
        &mut self,
        f: &mut dyn FnMut(&dyn Reader) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

impl Store for Db {
    fn write_with(
        &mut self,
        actor: &str,
        now: Instant,
        f: &mut dyn FnMut(&mut dyn Writer) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.write(actor, now, |w| f(w))
    }
    fn read_with(
        &mut self,
        f: &mut dyn FnMut(&dyn Reader) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.read(|r| f(r))
    }
}

impl Store for PgDb {
    fn write_with(
        &mut self,
        actor: &str,
        now: Instant,
        f: &mut dyn FnMut(&mut dyn Writer) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.write(actor, now, |w| f(w))
    }
    fn read_with(
        &mut self,
        f: &mut dyn FnMut(&dyn Reader) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.read(|r| f(r))
    }
}

/// One write's work, for a list of them.
type WriteStep = dyn Fn(&mut dyn Writer) -> Result<(), StoreError>;

/// Every writer method once, and every conflict a writer reports; the errors in order.
fn scenario(s: &mut dyn Store) -> Vec<String> {
    let mut errors = Vec::new();
    let mut note = |r: Result<(), StoreError>| {
        if let Err(e) = r {
            errors.push(format!("{e:?}"));
        }
    };
    note(s.write_with("AB", t(0), &mut |w| {
        w.insert_staff(&staff("AB", Role::Admin), "staff-add")?;
        w.insert_staff(&staff("CD", Role::Physician), "staff-add")?;
        let p = w.insert_patient(&patient("1001"))?;
        let proto = w.protocol_id(&Config::defaults().protocol)?;
        assert_eq!(w.protocol_id(&Config::defaults().protocol)?, proto);
        w.insert_protocol_approval(proto)?;
        let c = w.insert_course(p, proto)?;
        w.insert_entry(&entry(
            p,
            Some(c),
            0,
            EntryData::CourseStart {
                bed: Some("4".into()),
            },
        ))?;
        let r = w.insert_entry(&entry(p, Some(c), 0, rate(250)))?;
        w.insert_entry(&entry(p, Some(c), 1, rate(1400)))?;
        w.insert_entry(&entry(
            p,
            None,
            1,
            EntryData::Nrs {
                score: Nrs::new(7).unwrap(),
                timepoint: Some(Timepoint::T0),
            },
        ))?;
        w.insert_entry(&entry(
            p,
            Some(c),
            2,
            EntryData::SideEffect {
                effect: "nausea".into(),
                detail: Some("after lunch".into()),
                severity: Severity::Moderate,
                action: Action::MedicationGiven,
                rate_at: Rate::from_centi(1400),
            },
        ))?;
        w.insert_entry(&entry(
            p,
            Some(c),
            3,
            EntryData::Success {
                timepoint: Timepoint::T1,
                successful: true,
            },
        ))?;
        let mut amend = entry(p, Some(c), 0, rate(300));
        amend.supersedes = Some(r);
        amend.amend_reason = Some("typo".into());
        amend.late = true;
        w.insert_entry(&amend)?;
        w.insert_entry(&entry(
            p,
            Some(c),
            5,
            EntryData::CourseEnd {
                reason: EndReason::Completed,
            },
        ))?;
        Ok(())
    }));
    note(s.write_with("CD", t(6), &mut |w| {
        w.insert_void(4, "wrong patient")?;
        let mut cd = staff("CD", Role::Physician);
        cd.failed_pins = 2;
        cd.name = "C. Dee".into();
        w.update_staff(&cd, "staff-pin-failed")?;
        w.insert_patient_version(&NewPatientVersion {
            patient_id: 1,
            version: 1,
            data: NewPatient {
                weight_kg: Some(71.25),
                mrn: "1001-B".into(),
                ..patient("1001")
            },
            reason: "new label".into(),
        })?;
        let a = w.insert_letter_advice(&NewLetterAdvice {
            patient_id: 1,
            course_id: 1,
            supersedes: None,
            responsible: "CD".into(),
            advice: "continue".into(),
        })?;
        w.insert_letter_advice(&NewLetterAdvice {
            patient_id: 1,
            course_id: 1,
            supersedes: Some(a),
            responsible: "CD".into(),
            advice: "continue, lower".into(),
        })?;
        w.insert_pseudonym(1, "S-0001", -17)?;
        w.insert_pseudonym_time(1, 4242)?;
        w.audit_event(
            "sign-in-failed",
            &serde_json::json!({"staff": "XY", "why": "pin"}),
        )?;
        w.set_clock("AB", t(7));
        w.insert_patient(&patient("2002"))?;
        Ok(())
    }));
    // Each conflict in a write of its own, which then stores nothing.
    let conflicts: Vec<Box<WriteStep>> = vec![
        Box::new(|w| w.insert_patient(&patient("1001")).map(|_| ())),
        Box::new(|w| w.insert_patient(&patient("1001-B")).map(|_| ())),
        Box::new(|w| w.insert_staff(&staff("AB", Role::Nurse), "staff-add")),
        Box::new(|w| {
            let mut again = entry(1, Some(1), 0, rate(350));
            again.supersedes = Some(2);
            again.amend_reason = Some("second correction of the same version".into());
            w.insert_entry(&again).map(|_| ())
        }),
        Box::new(|w| w.insert_void(4, "again")),
        Box::new(|w| {
            w.insert_patient_version(&NewPatientVersion {
                patient_id: 1,
                version: 1,
                data: patient("1001"),
                reason: "stale".into(),
            })
            .map(|_| ())
        }),
        Box::new(|w| {
            w.insert_patient_version(&NewPatientVersion {
                patient_id: 2,
                version: 1,
                data: patient("1001-B"),
                reason: "taken".into(),
            })
            .map(|_| ())
        }),
        Box::new(|w| {
            w.insert_letter_advice(&NewLetterAdvice {
                patient_id: 1,
                course_id: 1,
                supersedes: Some(1),
                responsible: "CD".into(),
                advice: "from an old one".into(),
            })
            .map(|_| ())
        }),
        // A write that goes on after a refused insert: the transaction stays usable.
        Box::new(|w| {
            assert!(matches!(
                w.insert_staff(&staff("AB", Role::Nurse), "staff-add"),
                Err(StoreError::DuplicateStaff(_))
            ));
            w.insert_staff(&staff("EF", Role::Nurse), "staff-add")
        }),
    ];
    for f in &conflicts {
        note(s.write_with("AB", t(8), &mut |w| f(w)));
    }
    errors
}

/// Everything a reader can say about the record, as text.
fn everything(r: &dyn Reader) -> Result<Vec<String>, StoreError> {
    let mut out = vec![
        format!("{:?}", r.staff("CD")?),
        format!("{:?}", r.staff_list()?),
        format!("{:?}", r.patient_by_mrn("1001-B")?),
        format!("{:?}", r.patient_by_mrn("1001")?),
        format!("{:?}", r.patient(1)?),
        format!("{:?}", r.patients()?),
        format!("{:?}", r.patient_versions(1)?),
        format!("{:?}", r.mrn_owner("1001")?),
        format!("{:?}", r.ward_patients(t(0))?),
        format!("{:?}", r.ward_patients(t(10))?),
        format!("{:?}", r.courses_of(1)?),
        format!("{:?}", r.all_courses()?.len()),
        format!("{:?}", r.protocols()?),
        format!("{:?}", r.protocol_versions()?),
        format!("{:?}", r.entries_of(1)?),
        format!("{:?}", r.entries_of_course(1)?),
        format!("{:?}", r.course_bounds_of(1)?),
        format!("{:?}", r.all_course_bounds()?),
        format!("{:?}", r.entry(3)?),
        format!("{:?}", r.entry_superseded_by(2)?),
        format!("{:?}", r.letter_advice(1)?),
        format!("{:?}", r.audit_head()?),
        format!("{:?}", r.pseudonyms()?),
        format!("{:?}", r.pseudonym_times()?),
        format!("{:?}", r.changed_patients(&Default::default())?),
        format!("{:?}", r.marks()?),
        format!("{:?}", r.invalid_text()?),
    ];
    let mut marks = r.outcome_marks()?;
    marks.sort_by_key(|m| m.id);
    out.push(format!("{marks:?}"));
    let mut rates = r.rate_versions_of(1)?;
    rates.sort_by_key(|v| v.id);
    out.push(format!("{rates:?}"));
    let mut retired: Vec<_> = r.retired_entries()?.into_iter().collect();
    retired.sort_unstable();
    out.push(format!("{retired:?}"));
    let windows = [
        ScoreWindow {
            patient: 1,
            from: t(0),
            to: t(2),
        },
        ScoreWindow {
            patient: 1,
            from: t(1),
            to: t(1),
        },
    ];
    // In no promised order: as a list sorted by patient, time and id.
    let mut scores = r.scores_in(&windows)?;
    scores.sort_by_key(|(p, s)| (*p, s.at, s.id));
    out.push(format!("{scores:?}"));
    for spec in AUDITED_TABLES {
        out.push(format!("{} {:?}", spec.table, r.table_rows(spec.table)?));
    }
    Ok(out)
}

#[test]
fn the_same_writes_give_the_same_record_and_byte_identical_audit_rows() {
    let cluster = Cluster::start();
    let url = cluster.database("same");
    let mut pg = PgDb::create(&url).unwrap();
    let mut lite = Db::open_in_memory().unwrap();
    let pg_errors = scenario(&mut pg);
    let lite_errors = scenario(&mut lite);
    assert_eq!(pg_errors, lite_errors);
    assert_eq!(
        pg_errors,
        vec![
            "DuplicateMrn(\"1001\")",
            "DuplicateMrn(\"1001-B\")",
            "DuplicateStaff(\"AB\")",
            "Conflict(2)",
            "Conflict(4)",
            "PatientConflict { patient: 1, version: 1 }",
            "DuplicateMrn(\"1001-B\")",
            "AdviceConflict { course: 1 }",
        ]
    );
    let read = |s: &mut dyn Store| {
        let mut out = (Vec::new(), Vec::new(), None);
        s.read_with(&mut |r| {
            out = (everything(r)?, r.audit_rows()?, Some(audit::verify(r)?));
            Ok(())
        })
        .unwrap();
        out
    };
    let (pg_all, pg_audit, pg_verify) = read(&mut pg);
    let (lite_all, lite_audit, _) = read(&mut lite);
    for (a, b) in pg_all.iter().zip(&lite_all) {
        assert_eq!(a, b);
    }
    assert_eq!(pg_all.len(), lite_all.len());
    assert!(pg_audit.len() > 20, "{}", pg_audit.len());
    assert_eq!(pg_audit, lite_audit);
    assert!(
        pg_audit
            .iter()
            .any(|r| r.content.contains("\"weight_kg\":70.0"))
    );
    let v = pg_verify.unwrap();
    assert!(v.is_sound(), "{:?}", v.problems);
    assert_eq!(pg.data_version().unwrap(), pg_audit.len() as i64);
}

#[test]
fn create_refuses_a_used_schema_and_connect_refuses_a_missing_or_newer_one() {
    let cluster = Cluster::start();
    let url = cluster.database("lifecycle");
    let missing = PgDb::connect(&url).err().unwrap();
    assert!(
        matches!(&missing, StoreError::Open { why, .. } if why.contains("`titrate init` creates one")),
        "{missing}"
    );
    let db = PgDb::create(&url).unwrap();
    drop(db);
    let again = PgDb::create(&url).err().unwrap();
    assert!(
        matches!(&again, StoreError::Open { why, .. } if why.contains("already")),
        "{again}"
    );
    let mut db = PgDb::connect(&url).unwrap();
    let clean = db.read(|r| r.schema_differences()).unwrap();
    assert_eq!(clean, vec![]);
    db.write("AB", t(0), |w| {
        w.audit_event("probe", &serde_json::json!({}))
    })
    .unwrap();
    cluster.psql("lifecycle", "UPDATE schema_version SET version = 99");
    let newer = db
        .write("AB", t(0), |w| {
            w.audit_event("probe", &serde_json::json!({}))
        })
        .err()
        .unwrap();
    assert!(
        matches!(newer, StoreError::TooNew { found: 99, .. }),
        "{newer}"
    );
    let newer = PgDb::connect(&url).err().unwrap();
    assert!(
        matches!(newer, StoreError::TooNew { found: 99, .. }),
        "{newer}"
    );
    // A database that would keep any bytes as text.
    cluster.psql(
        "postgres",
        "CREATE DATABASE ascii ENCODING 'SQL_ASCII' TEMPLATE template0",
    );
    let ascii = PgDb::create(&cluster.url("postgres", "ascii"))
        .err()
        .unwrap();
    assert!(
        matches!(&ascii, StoreError::Open { why, .. } if why.contains("SQL_ASCII")),
        "{ascii}"
    );
    // No server at all.
    let nowhere = PgDb::connect(&format!(
        "postgresql://postgres@/x?host={}&port=1",
        cluster.0.socket_dir().display()
    ))
    .err()
    .unwrap();
    assert!(matches!(nowhere, StoreError::Unavailable(_)), "{nowhere:?}");
}

#[test]
fn an_older_schema_is_migrated_and_its_approvals_audited() {
    let cluster = Cluster::start();
    let url = cluster.database("older");
    let mut raw = cluster.raw(&url);
    // As the owner's migrations run: titrate's schema alone on the search path.
    raw.batch_execute("SET search_path = public").unwrap();
    for (n, sql) in titrate::store::postgres::migrations() {
        if n <= 4 {
            raw.batch_execute(&sql).unwrap();
        }
    }
    raw.batch_execute(
        "UPDATE schema_version SET version = 4;
         INSERT INTO staff (id, name, role, pin_hash, created_at, created_by)
             VALUES ('AB', 'A B', 'admin', 'h', '2026-01-01T00:00:00Z', 'AB');
         INSERT INTO protocol (name, digest, snapshot, created_at, created_by)
             VALUES ('p', 'd', '{}', '2026-01-01T00:00:00Z', 'AB');
         INSERT INTO patient (mrn, name, birth_date, sex, created_at, created_by)
             VALUES ('1', 'P', '1970-01-01', 'other', '2026-01-01T00:00:00Z', 'AB');
         INSERT INTO course (patient_id, protocol_id, created_at, created_by)
             VALUES (1, 1, '2026-01-01T00:00:00Z', 'AB');",
    )
    .unwrap();
    let mut db = PgDb::connect(&url).unwrap();
    let version: i64 = raw
        .query_one("SELECT version FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, titrate::store::postgres::schema_version());
    let rows = db.read(|r| r.audit_rows()).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].action, "protocol-approve-upgrade");
    assert_eq!(rows[0].tbl.as_deref(), Some("protocol_approval"));
    assert_eq!(db.read(|r| r.schema_differences()).unwrap(), vec![]);
}

#[test]
fn the_change_feed_misses_no_commit_made_out_of_id_order() {
    let cluster = Cluster::start();
    let url = cluster.database("feed");
    let mut a = PgDb::create(&url).unwrap();
    let (p1, p2, c1, c2) = a
        .write("AB", t(0), |w| {
            w.insert_staff(&staff("AB", Role::Admin), "staff-add")?;
            let p1 = w.insert_patient(&patient("1"))?;
            let p2 = w.insert_patient(&patient("2"))?;
            let proto = w.protocol_id(&Config::defaults().protocol)?;
            let c1 = w.insert_course(p1, proto)?;
            let c2 = w.insert_course(p2, proto)?;
            Ok::<_, StoreError>((p1, p2, c1, c2))
        })
        .unwrap();
    // Each session takes a block of ids from the sequence, as a server with sequence caching
    // (or any writer holding an id before it commits) hands them out: ids no longer follow
    // commit order.
    cluster.psql(
        "feed",
        "ALTER SEQUENCE entry_id_seq CACHE 20; ALTER SEQUENCE void_id_seq CACHE 20",
    );
    let mut a = PgDb::connect(&url).unwrap();
    let mut b = PgDb::connect(&url).unwrap();
    let mut terminal = PgDb::connect(&url).unwrap();
    let first = a
        .write("AB", t(1), |w| {
            w.insert_entry(&entry(p1, Some(c1), 1, rate(200)))
        })
        .unwrap();
    let second = b
        .write("AB", t(1), |w| {
            w.insert_entry(&entry(p2, Some(c2), 1, rate(200)))
        })
        .unwrap();
    let seen = terminal.read(|r| r.marks()).unwrap();
    assert_eq!(seen.entry, second);
    // Writer a commits after b, with a smaller id.
    let third = a
        .write("AB", t(2), |w| {
            w.insert_entry(&entry(p1, Some(c1), 2, rate(300)))
        })
        .unwrap();
    assert!(first < third && third < second, "{first} {third} {second}");
    let changed = terminal.read(|r| r.changed_patients(&seen)).unwrap();
    assert_eq!(changed, vec![p1]);
    // And a void with a smaller id, the same way.
    let seen = terminal.read(|r| r.marks()).unwrap();
    b.write("AB", t(3), |w| w.insert_void(second, "wrong"))
        .unwrap();
    let seen_b = terminal.read(|r| r.marks()).unwrap();
    a.write("AB", t(3), |w| w.insert_void(first, "wrong"))
        .unwrap();
    assert_eq!(
        terminal.read(|r| r.changed_patients(&seen)).unwrap(),
        vec![p1, p2]
    );
    assert_eq!(
        terminal.read(|r| r.changed_patients(&seen_b)).unwrap(),
        vec![p1]
    );
    let now = terminal.read(|r| r.marks()).unwrap();
    assert_eq!(
        terminal.read(|r| r.changed_patients(&now)).unwrap(),
        Vec::<i64>::new()
    );
}

#[test]
fn the_application_role_can_write_the_record_but_not_change_or_remove_it() {
    let cluster = Cluster::start();
    cluster.psql_file(
        "postgres",
        &setup_sql("titrate_owner", "titrate_app", "ward"),
    );
    let owner = cluster.url("titrate_owner", "ward");
    let app = cluster.url("titrate_app", "ward");
    let db = PgDb::create(&owner).unwrap();
    assert_eq!(db.schema_name(), "titrate");
    drop(db);
    let mut db = PgDb::connect(&app).unwrap();
    db.write("AB", t(0), |w| {
        w.insert_staff(&staff("AB", Role::Admin), "staff-add")?;
        let mut ab = staff("AB", Role::Admin);
        ab.failed_pins = 1;
        w.update_staff(&ab, "staff-pin-failed")?;
        let p = w.insert_patient(&patient("1"))?;
        let proto = w.protocol_id(&Config::defaults().protocol)?;
        let c = w.insert_course(p, proto)?;
        w.insert_entry(&entry(p, Some(c), 0, rate(200)))?;
        Ok::<_, StoreError>(())
    })
    .unwrap();
    assert!(db.read(|r| audit::verify(r)).unwrap().is_sound());
    let raw = db.raw_client();
    for (sql, expect) in [
        ("UPDATE entry SET rate_centi = 100", "permission denied"),
        ("DELETE FROM entry", "permission denied"),
        ("DELETE FROM audit", "permission denied"),
        ("UPDATE audit SET content = '{}'", "permission denied"),
        ("TRUNCATE audit", "permission denied"),
        ("UPDATE staff SET created_by = 'XY'", "permission denied"),
        ("DROP TRIGGER entry_no_update ON entry", "must be owner"),
        (
            "ALTER TABLE entry DISABLE TRIGGER entry_no_update",
            "must be owner",
        ),
        ("ALTER TABLE entry ADD COLUMN x text", "must be owner"),
        ("DROP TABLE audit", "must be owner"),
        ("CREATE TABLE mine (x int)", "permission denied"),
        ("CREATE TEMP TABLE entry (x int)", "permission denied"),
        ("UPDATE audit_head SET seq = 0", "only moves forward"),
        ("UPDATE audit_head SET seq = seq + 1", "only moves forward"),
    ] {
        let err = raw
            .batch_execute(sql)
            .err()
            .unwrap_or_else(|| panic!("{sql} was allowed"));
        let words = err
            .as_db_error()
            .map(|d| d.message().to_string())
            .unwrap_or_default();
        assert!(words.contains(expect), "{sql}: {words}");
    }
    // The owner, who may, is refused by the triggers.
    let mut owner_client = cluster.raw(&owner);
    for (sql, expect) in [
        (
            "UPDATE entry SET rate_centi = 100",
            "entries are never changed",
        ),
        ("DELETE FROM audit", "append-only"),
        ("TRUNCATE audit", "append-only"),
        ("DELETE FROM staff", "never deleted"),
    ] {
        let err = owner_client.batch_execute(sql).err().unwrap();
        let words = err
            .as_db_error()
            .map(|d| d.message().to_string())
            .unwrap_or_default();
        assert!(words.contains(expect), "{sql}: {words}");
    }
}

#[test]
fn schema_differences_name_a_planted_trigger_and_a_dropped_index_and_writes_are_refused() {
    let cluster = Cluster::start();
    let url = cluster.database("tamper");
    let mut db = PgDb::create(&url).unwrap();
    db.write("AB", t(0), |w| {
        w.insert_staff(&staff("AB", Role::Admin), "staff-add")
    })
    .unwrap();
    cluster.psql(
        "tamper",
        "CREATE FUNCTION quiet() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
         CREATE TRIGGER planted BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION quiet();
         DROP INDEX entry_patient;",
    );
    let diffs = db.read(|r| r.schema_differences()).unwrap();
    let named: Vec<(String, String, Change)> = diffs
        .iter()
        .map(|d| match d {
            SchemaProblem::Object(d) => (d.kind.clone(), d.name.clone(), d.change.clone()),
            other => panic!("{other}"),
        })
        .collect();
    assert!(
        named.contains(&("trigger".into(), "planted on audit".into(), Change::Added)),
        "{named:?}"
    );
    assert!(
        named.contains(&("function".into(), "quiet()".into(), Change::Added)),
        "{named:?}"
    );
    assert!(
        named.contains(&("index".into(), "entry_patient".into(), Change::Missing)),
        "{named:?}"
    );
    assert_eq!(named.len(), 3, "{named:?}");
    let refused = db
        .write("AB", t(1), |w| w.insert_patient(&patient("1")))
        .err()
        .unwrap();
    assert!(
        matches!(&refused, StoreError::SchemaChanged(why) if why.contains("planted on audit")),
        "{refused}"
    );
    // A disabled trigger differs too.
    cluster.psql(
        "tamper",
        "DROP TRIGGER planted ON audit; DROP FUNCTION quiet(); CREATE INDEX entry_patient ON entry (patient_id, happened_at);
         ALTER TABLE entry DISABLE TRIGGER entry_no_update;",
    );
    let diffs = db.read(|r| r.schema_differences()).unwrap();
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert!(
        diffs[0].to_string().contains("entry_no_update on entry"),
        "{}",
        diffs[0]
    );
    let refused = db
        .write("AB", t(1), |w| w.insert_patient(&patient("1")))
        .err()
        .unwrap();
    assert!(
        matches!(&refused, StoreError::SchemaChanged(why) if why.contains("entry_no_update")),
        "{refused}"
    );
    cluster.psql(
        "tamper",
        "ALTER TABLE entry ENABLE TRIGGER entry_no_update;",
    );
    db.write("AB", t(1), |w| {
        w.audit_event("probe", &serde_json::json!({}))
    })
    .unwrap();
    // A trigger's function replaced by one that lets everything through.
    cluster.psql(
        "tamper",
        "CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END; $$;",
    );
    let refused = db
        .write("AB", t(1), |w| w.insert_patient(&patient("1")))
        .err()
        .unwrap();
    assert!(
        matches!(&refused, StoreError::SchemaChanged(why) if why.contains("refuse_change()")),
        "{refused}"
    );
    cluster.psql(
        "tamper",
        &format!(
            "CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $${}$$;",
            refuse_body()
        ),
    );
    assert_eq!(db.read(|r| r.schema_differences()).unwrap(), vec![]);
    db.write("AB", t(1), |w| w.insert_patient(&patient("1")))
        .unwrap();
    assert!(db.read(|r| audit::verify(r)).unwrap().is_sound());
    // Rows changed by someone who switched the triggers off: the audit check names them.
    cluster.psql(
        "tamper",
        "UPDATE staff SET name = 'Someone Else';
         ALTER TABLE patient DISABLE TRIGGER patient_no_update;
         UPDATE patient SET weight_kg = 95;
         ALTER TABLE patient ENABLE TRIGGER patient_no_update;",
    );
    let problems = db.read(|r| audit::verify(r)).unwrap().problems;
    assert_eq!(
        problems,
        vec![
            audit::Problem::RowChanged {
                table: "staff".into(),
                key: "AB".into(),
                audit_seq: 1
            },
            audit::Problem::RowChanged {
                table: "patient".into(),
                key: "1".into(),
                audit_seq: 3
            },
        ]
    );
}

/// The body of refuse_change as schema-postgres.sql writes it.
fn refuse_body() -> String {
    let sql = titrate::store::postgres::SCHEMA;
    let start = sql.find("CREATE FUNCTION refuse_change()").unwrap();
    let body = &sql[start..];
    let open = body.find("$$").unwrap() + 2;
    let close = open + body[open..].find("$$").unwrap();
    body[open..close].to_string()
}

/// The description of every version, made by the migrations in fresh schemas.
fn described_versions(cluster: &Cluster) -> String {
    let url = cluster.database("describe");
    let mut raw = cluster.raw(&url);
    let mut out = String::new();
    for (version, _) in titrate::store::postgres::migrations() {
        let schema = format!("v{version}");
        raw.batch_execute(&format!("CREATE SCHEMA {schema}"))
            .unwrap();
        let mut tx = raw.transaction().unwrap();
        tx.batch_execute(&format!("SET LOCAL search_path = {schema}"))
            .unwrap();
        for (n, sql) in titrate::store::postgres::migrations() {
            if n <= version {
                tx.batch_execute(&sql).unwrap();
            }
        }
        let d = pg_schema::describe(&mut tx, &schema).unwrap();
        tx.commit().unwrap();
        out.push_str(&format!("== version {version}\n"));
        out.push_str(&pg_schema::render(&d));
    }
    out
}

#[test]
fn the_checked_in_description_is_what_the_migrations_create() {
    let cluster = Cluster::start();
    let made = described_versions(&cluster);
    if std::env::var_os("TITRATE_BLESS_PG_SCHEMA").is_some() {
        std::fs::write(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/pg_schema.txt"),
            &made,
        )
        .unwrap();
    }
    let first_difference = pg_schema::EXPECTED
        .lines()
        .zip(made.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b);
    assert!(
        pg_schema::EXPECTED == made,
        "src/store/pg_schema.txt is not what the migrations create (first difference {:?}; the file has {} lines, the migrations make {}): rerun with TITRATE_BLESS_PG_SCHEMA=1 after adding a migration",
        first_difference.map(|(n, (a, b))| (n + 1, a, b)),
        pg_schema::EXPECTED.lines().count(),
        made.lines().count()
    );
    // A schema that is exactly an older version's, claiming the newest: said as the version.
    let all = pg_schema::expected_all();
    let newest = titrate::store::postgres::schema_version();
    assert_eq!(all.len() as i64, newest);
    assert_eq!(
        pg_schema::problems(&all[&(newest - 1)], newest),
        vec![SchemaProblem::Version {
            found: newest,
            holds: newest - 1
        }]
    );
}

#[test]
fn the_schema_mark_a_write_reads_stands_still_under_writes_and_moves_with_the_catalog() {
    let cluster = Cluster::start();
    let url = cluster.database("speed");
    let mut db = PgDb::create(&url).unwrap();
    let (p, c) = db
        .write("AB", t(0), |w| {
            w.insert_staff(&staff("AB", Role::Admin), "staff-add")?;
            let p = w.insert_patient(&patient("1"))?;
            let proto = w.protocol_id(&Config::defaults().protocol)?;
            let c = w.insert_course(p, proto)?;
            Ok::<_, StoreError>((p, c))
        })
        .unwrap();
    // A write compares the whole schema only when this mark moved (its cost is the bench's
    // to measure): it must stand still under writes and move with a change of the catalog.
    let mut raw = cluster.raw(&url);
    let ns: u32 = raw
        .query_one("SELECT oid FROM pg_namespace WHERE nspname = 'public'", &[])
        .unwrap()
        .get(0);
    let rels: Vec<u32> = raw
        .query_one(pg_schema::RELATIONS_SQL, &[&ns])
        .unwrap()
        .get(0);
    let funcs: Vec<u32> = raw
        .query_one(pg_schema::FUNCTIONS_SQL, &[&rels, &ns])
        .unwrap()
        .get(0);
    let mark = |raw: &mut postgres::Client| -> Option<String> {
        raw.query_one(pg_schema::FINGERPRINT_SQL, &[&rels, &funcs])
            .unwrap()
            .get(0)
    };
    let before = mark(&mut raw);
    assert!(before.is_some());
    for i in 0..20 {
        db.write("AB", t(1), |w| {
            w.insert_entry(&entry(p, Some(c), 1 + i, rate(200)))
        })
        .unwrap();
    }
    assert_eq!(mark(&mut raw), before, "writes leave the mark where it was");
    raw.batch_execute(
        "CREATE FUNCTION public.planted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$; \
         CREATE TRIGGER planted BEFORE INSERT ON entry FOR EACH ROW EXECUTE FUNCTION public.planted()",
    )
    .unwrap();
    assert_ne!(mark(&mut raw), before, "a planted trigger moves it");
    let e = db
        .write("AB", t(2), |w| {
            w.insert_entry(&entry(p, Some(c), 30, rate(200)))
        })
        .unwrap_err();
    assert!(matches!(e, StoreError::SchemaChanged(_)), "{e}");
    raw.batch_execute("DROP TRIGGER planted ON entry; DROP FUNCTION public.planted()")
        .unwrap();
    db.write("AB", t(2), |w| {
        w.insert_entry(&entry(p, Some(c), 31, rate(200)))
    })
    .unwrap();
    // Changes that touch only a column's own catalog row move it too, and stop the next
    // write with what changed, before a weakened table takes a row.
    for (change, undo) in [
        (
            "ALTER TABLE entry ALTER COLUMN recorded_by DROP NOT NULL",
            "ALTER TABLE entry ALTER COLUMN recorded_by SET NOT NULL",
        ),
        (
            "ALTER TABLE entry RENAME COLUMN amend_reason TO why",
            "ALTER TABLE entry RENAME COLUMN why TO amend_reason",
        ),
    ] {
        let still = mark(&mut raw);
        raw.batch_execute(change).unwrap();
        assert_ne!(mark(&mut raw), still, "{change} moves the mark");
        let e = db.write("AB", t(3), |w| {
            w.insert_entry(&entry(p, Some(c), 32, rate(200)))
        });
        assert!(
            matches!(e, Err(StoreError::SchemaChanged(_))),
            "{change}: {e:?}"
        );
        raw.batch_execute(undo).unwrap();
    }
    // A column change that alters nothing the record relies on moves the mark too; the
    // write then compares the whole schema, finds it as it should be, and goes on.
    let still = mark(&mut raw);
    raw.batch_execute("ALTER TABLE entry ALTER COLUMN bed SET STORAGE EXTERNAL")
        .unwrap();
    assert_ne!(mark(&mut raw), still);
    db.write("AB", t(3), |w| {
        w.insert_entry(&entry(p, Some(c), 33, rate(200)))
    })
    .unwrap();
}

#[test]
fn writers_at_once_queue_on_the_head_and_each_commit_is_announced() {
    let cluster = Cluster::start();
    let url = cluster.database("busy");
    let mut db = PgDb::create(&url).unwrap();
    let (p, c) = db
        .write("AB", t(0), |w| {
            w.insert_staff(&staff("AB", Role::Admin), "staff-add")?;
            let p = w.insert_patient(&patient("1"))?;
            let proto = w.protocol_id(&Config::defaults().protocol)?;
            let c = w.insert_course(p, proto)?;
            Ok::<_, StoreError>((p, c))
        })
        .unwrap();
    let mut listener = cluster.raw(&url);
    listener.batch_execute("LISTEN titrate").unwrap();
    let before = db.data_version().unwrap();
    let threads: Vec<_> = (0..4)
        .map(|k| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut db = PgDb::connect(&url).unwrap();
                for i in 0..20 {
                    db.write("AB", t(1), |w| {
                        w.insert_entry(&entry(p, Some(c), k * 100 + i, rate(200)))
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    assert_eq!(db.data_version().unwrap(), before + 80);
    // A writer that holds the head longer than another waits: that one is busy, nothing
    // of it stored, and the same write goes through once the head is free.
    let mut holder = cluster.raw(&url);
    let mut hold = holder.transaction().unwrap();
    hold.execute("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE", &[])
        .unwrap();
    db.set_busy_timeout(std::time::Duration::from_millis(200))
        .unwrap();
    let busy = db
        .write("AB", t(2), |w| {
            w.insert_entry(&entry(p, Some(c), 500, rate(200)))
        })
        .err()
        .unwrap();
    assert!(busy.is_busy(), "{busy:?}");
    hold.rollback().unwrap();
    db.write("AB", t(2), |w| {
        w.insert_entry(&entry(p, Some(c), 500, rate(200)))
    })
    .unwrap();
    assert_eq!(db.data_version().unwrap(), before + 81);
    let v = db.read(|r| audit::verify(r)).unwrap();
    assert!(v.is_sound(), "{:?}", v.problems);
    assert_eq!(db.read(|r| r.entries_of(p)).unwrap().len(), 81);
    use postgres::fallible_iterator::FallibleIterator;
    let mut heard: Vec<i64> = Vec::new();
    let mut n = listener.notifications();
    let mut it = n.timeout_iter(std::time::Duration::from_secs(5));
    while heard.len() < 81 {
        let note = it
            .next()
            .unwrap()
            .unwrap_or_else(|| panic!("heard only {heard:?}"));
        assert_eq!(note.channel(), "titrate");
        heard.push(note.payload().parse().unwrap());
    }
    heard.sort_unstable();
    assert_eq!(heard, ((before + 1)..=(before + 81)).collect::<Vec<_>>());
}

#[test]
fn a_server_that_takes_no_writes_is_unavailable_and_an_old_schema_needs_its_owner() {
    let cluster = Cluster::start();
    let url = cluster.database("standby");
    let db = PgDb::create(&url).unwrap();
    cluster.psql(
        "postgres",
        "ALTER DATABASE standby SET default_transaction_read_only = on",
    );
    let mut db2 = PgDb::connect(&url).unwrap();
    let refused = db2
        .write("AB", t(0), |w| {
            w.insert_staff(&staff("AB", Role::Admin), "staff-add")
        })
        .err()
        .unwrap();
    assert!(
        matches!(&refused, StoreError::Unavailable(why) if why.contains("takes no writes")),
        "{refused:?}"
    );
    assert!(db2.read(|r| r.staff_list()).unwrap().is_empty());
    drop(db);
    drop(db2);

    // A schema one version behind, and a login that does not own it.
    cluster.psql_file("postgres", &setup_sql("own", "app", "ward"));
    let mut raw = cluster.raw(&cluster.url("own", "ward"));
    raw.batch_execute("SET search_path = titrate").unwrap();
    let newest = titrate::store::postgres::schema_version();
    for (n, sql) in titrate::store::postgres::migrations() {
        if n < newest {
            raw.batch_execute(&sql).unwrap();
        }
    }
    raw.execute("UPDATE schema_version SET version = $1", &[&(newest - 1)])
        .unwrap();
    let refused = PgDb::connect(&cluster.url("app", "ward")).err().unwrap();
    assert!(
        matches!(&refused, StoreError::Open { why, .. } if why.contains("only the role that owns the schema")),
        "{refused}"
    );
    PgDb::connect(&cluster.url("own", "ward")).unwrap();
    let mut app = PgDb::connect(&cluster.url("app", "ward")).unwrap();
    assert_eq!(app.read(|r| r.schema_differences()).unwrap(), vec![]);
}

/// What the write's first round trip read, as the write's own reads would give it: for
/// the staff, the patient by MRN, their courses, course bounds and each course's rates.
fn reads_of(r: &dyn Reader, mrn: &str) -> Result<Vec<String>, StoreError> {
    let mut out = vec![
        format!("{:?}", r.staff("AB")?),
        format!("{:?}", r.staff("ZZ")?),
    ];
    let p = r.patient_by_mrn(mrn)?;
    out.push(format!("{p:?}"));
    if let Some(p) = p {
        let courses = r.courses_of(p.id)?;
        out.push(format!("{courses:?}"));
        out.push(format!("{:?}", r.course_bounds_of(p.id)?));
        for c in &courses {
            out.push(format!("{:?}", r.rate_versions_of(c.id)?));
        }
    }
    Ok(out)
}

#[test]
fn the_reads_sent_with_the_lock_answer_as_the_reads_do_until_the_write_changes_something() {
    let cluster = Cluster::start();
    let url = cluster.database("ahead");
    let mut db = PgDb::create(&url).unwrap();
    let proto = Config::defaults().protocol;
    let (pid, course, voided) = db
        .write("AB", t(0), |w| {
            w.insert_staff(&staff("AB", Role::Admin), "staff-add")?;
            // A weight that text must carry exactly.
            let p = w.insert_patient(&NewPatient {
                weight_kg: Some(70.1 + 1e-13),
                ..patient("1001")
            })?;
            let id = w.protocol_id(&proto)?;
            let c1 = w.insert_course(p, id)?;
            w.insert_entry(&entry(p, Some(c1), 0, EntryData::CourseStart { bed: None }))?;
            w.insert_entry(&entry(p, Some(c1), 1, rate(250)))?;
            w.insert_entry(&entry(
                p,
                Some(c1),
                2,
                EntryData::CourseEnd {
                    reason: EndReason::Completed,
                },
            ))?;
            let c2 = w.insert_course(p, id)?;
            w.insert_entry(&entry(
                p,
                Some(c2),
                3,
                EntryData::CourseStart {
                    bed: Some("it's 4".into()),
                },
            ))?;
            let v = w.insert_entry(&entry(p, Some(c2), 3, rate(1400)))?;
            w.insert_void(v, "entered in error")?;
            w.insert_entry(&entry(p, Some(c2), 4, rate(300)))?;
            Ok::<_, StoreError>((p, c2, v))
        })
        .unwrap();
    let ahead = |mrn: &str| ReadAhead {
        staff: Some("AB".into()),
        patient_mrn: Some(mrn.into()),
        rates: true,
    };
    for mrn in ["1001", "no such MRN", "quote ' and \\ backslash"] {
        let plain = db.read(|r| reads_of(r, mrn)).unwrap();
        let sent = db
            .write_ahead("AB", t(5), &ahead(mrn), |w| reads_of(&*w, mrn))
            .unwrap();
        assert_eq!(sent, plain, "{mrn}");
    }
    let plain = db.read(|r| reads_of(r, "1001")).unwrap();
    let weight = format!("weight_kg: Some({:?})", 70.1 + 1e-13_f64);
    assert!(weight.len() > "weight_kg: Some(70.1)".len());
    assert!(plain[2].contains(&weight), "{}", plain[2]);
    assert!(
        plain.iter().any(|l| l.contains("voided: true")),
        "{plain:?}"
    );
    // A change in the write is seen by the reads after it, as without the read-ahead.
    db.write_ahead("AB", t(5), &ahead("1001"), |w| {
        let before = w.rate_versions_of(course)?.len();
        w.insert_entry(&entry(pid, Some(course), 5, rate(350)))?;
        assert_eq!(w.rate_versions_of(course)?.len(), before + 1);
        let courses = w.courses_of(pid)?;
        w.insert_course(pid, courses[0].protocol_id)?;
        assert_eq!(w.courses_of(pid)?.len(), courses.len() + 1);
        let mut off = staff("AB", Role::Admin);
        off.failed_pins = 3;
        w.update_staff(&off, "pin-failed")?;
        assert_eq!(w.staff("AB")?.map(|s| s.failed_pins), Some(3));
        Ok::<_, StoreError>(())
    })
    .unwrap();
    let after = db.read(|r| r.rate_versions_of(course)).unwrap();
    assert_eq!(after.len(), 3);
    assert!(after.iter().any(|v| v.id == voided && v.voided));
}

#[test]
fn a_write_that_reads_ahead_is_refused_by_a_changed_schema_as_any_write_is() {
    let cluster = Cluster::start();
    let url = cluster.database("aheadtamper");
    let mut db = PgDb::create(&url).unwrap();
    db.write("AB", t(0), |w| {
        w.insert_staff(&staff("AB", Role::Admin), "staff-add")?;
        w.insert_patient(&patient("1001"))
    })
    .unwrap();
    let ahead = ReadAhead {
        staff: Some("AB".into()),
        patient_mrn: Some("1001".into()),
        rates: true,
    };
    let nrs = |w: &mut dyn Writer| {
        let p = w.patient_by_mrn("1001")?.unwrap();
        w.insert_entry(&entry(
            p.id,
            None,
            1,
            EntryData::Nrs {
                score: Nrs::new(3).unwrap(),
                timepoint: None,
            },
        ))
    };
    db.write_ahead("AB", t(1), &ahead, nrs).unwrap();
    // A trigger planted: the write stops before anything of it runs into it.
    cluster.psql(
        "aheadtamper",
        "CREATE FUNCTION quiet() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
         CREATE TRIGGER planted BEFORE INSERT ON entry FOR EACH ROW EXECUTE FUNCTION quiet();",
    );
    let refused = db.write_ahead("AB", t(2), &ahead, nrs).err().unwrap();
    assert!(
        matches!(&refused, StoreError::SchemaChanged(why) if why.contains("planted on entry")),
        "{refused}"
    );
    cluster.psql(
        "aheadtamper",
        "DROP TRIGGER planted ON entry; DROP FUNCTION quiet();",
    );
    db.write_ahead("AB", t(2), &ahead, nrs).unwrap();
    let n = db
        .read(|r| r.entries_of(r.patient_by_mrn("1001")?.unwrap().id))
        .unwrap()
        .len();
    assert_eq!(n, 2);
    // A column a read-ahead statement names, renamed (and one added): that statement
    // fails, and the write still says what changed rather than the statement's error, as
    // a write without the read-ahead does.
    cluster.psql(
        "aheadtamper",
        "ALTER TABLE staff RENAME COLUMN name TO full_name; ALTER TABLE staff ADD COLUMN x bigint;",
    );
    let refused = db.write_ahead("AB", t(3), &ahead, nrs).err().unwrap();
    assert!(
        matches!(&refused, StoreError::SchemaChanged(why) if why.contains("staff")),
        "{refused}"
    );
    let plain = db.write("AB", t(3), nrs).err().unwrap();
    assert_eq!(format!("{plain:?}"), format!("{refused:?}"));
    let n = db
        .read(|r| r.entries_of(r.patient_by_mrn("1001")?.unwrap().id))
        .unwrap()
        .len();
    assert_eq!(n, 2);
}

/// The same body as schema-postgres.sql's append_audit, one statement more: a replaced
/// function, as a DBA (or an intruder) would replace it.
const APPEND_AUDIT_REPLACED: &str = "CREATE OR REPLACE FUNCTION append_audit(p_seq bigint, p_at text, \
     p_actor text, p_action text, p_tbl text, p_row_key text, p_content text, p_prev_hash text, \
     p_hash text) RETURNS void LANGUAGE plpgsql SET search_path FROM CURRENT AS $$ \
     BEGIN \
       PERFORM 1; \
       INSERT INTO audit (seq, at, actor, action, tbl, row_key, content, prev_hash, hash) \
       VALUES (p_seq, p_at, p_actor, p_action, p_tbl, p_row_key, p_content, p_prev_hash, p_hash); \
       UPDATE audit_head SET seq = p_seq, hash = p_hash WHERE id = 1; \
     END $$";

/// A change to the schema that another session has made and not yet committed, holding the
/// lock of a table a write is about to write: the write waits for that lock, the change
/// commits while it waits, and the write then runs into it. Whatever the change (a trigger
/// that raises the rate, one that only watches, a NOT NULL dropped, the audit function
/// replaced), the write is refused as a changed schema and nothing of it is stored, with
/// and without the reads sent with the lock. The change undone, the next write is saved.
#[test]
fn a_schema_change_committed_while_a_write_waits_for_a_lock_is_refused_and_nothing_is_saved() {
    let cluster = Cluster::start();
    let url = cluster.database("race");
    let mut db = PgDb::create(&url).unwrap();
    let (p, c) = db
        .write("AB", t(0), |w| {
            w.insert_staff(&staff("AB", Role::Admin), "staff-add")?;
            let p = w.insert_patient(&patient("1001"))?;
            let proto = w.protocol_id(&Config::defaults().protocol)?;
            let c = w.insert_course(p, proto)?;
            Ok::<_, StoreError>((p, c))
        })
        .unwrap();
    let changes = [
        (
            "CREATE FUNCTION public.raise() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN NEW.rate_centi := 5000; NEW.score := 10; RETURN NEW; END $$; \
             CREATE TRIGGER raise BEFORE INSERT ON entry FOR EACH ROW EXECUTE FUNCTION public.raise()",
            "DROP TRIGGER raise ON entry; DROP FUNCTION public.raise()",
        ),
        (
            "CREATE FUNCTION public.watch() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RETURN NEW; END $$; \
             CREATE TRIGGER watch AFTER INSERT ON entry FOR EACH ROW EXECUTE FUNCTION public.watch()",
            "DROP TRIGGER watch ON entry; DROP FUNCTION public.watch()",
        ),
        (
            "ALTER TABLE entry ALTER COLUMN recorded_by DROP NOT NULL",
            "ALTER TABLE entry ALTER COLUMN recorded_by SET NOT NULL",
        ),
        (
            // A table of another schema that inherits from entry: its rows are read with
            // entry's (it takes no lock a write waits for; this one holds entry's too).
            "LOCK TABLE entry IN SHARE ROW EXCLUSIVE MODE; CREATE SCHEMA x; \
             CREATE TABLE x.e () INHERITS (entry)",
            "DROP SCHEMA x CASCADE",
        ),
        (
            // No table lock keeps a replaced function waiting: this one holds entry's.
            &format!("LOCK TABLE entry IN SHARE ROW EXCLUSIVE MODE; {APPEND_AUDIT_REPLACED}"),
            "", // undone below, from the migration's own text
        ),
    ];
    let original_append: String = cluster
        .raw(&url)
        .query_one("SELECT pg_get_functiondef('append_audit'::regproc)", &[])
        .unwrap()
        .get(0);
    let ahead = ReadAhead {
        staff: Some("AB".into()),
        patient_mrn: Some("1001".into()),
        rates: true,
    };
    let mut hour = 1;
    for (change, undo) in &changes {
        for reads_ahead in [false, true] {
            hour += 1;
            let h = hour;
            // The writer, on a connection that has written before (its mark is known).
            let mut writer = PgDb::connect(&url).unwrap();
            writer
                .write("AB", t(h), |w| {
                    w.insert_entry(&entry(p, Some(c), h, rate(200)))
                })
                .unwrap();
            let before = db.read(|r| r.entries_of(p)).unwrap().len();
            let mut ddl = cluster.raw(&url);
            ddl.batch_execute(&format!("BEGIN; {change}")).unwrap();
            let ahead = ahead.clone();
            let write = std::thread::spawn(move || {
                let at = t(h) + Duration::minutes(30);
                let each = |w: &mut dyn Writer| -> Result<i64, StoreError> {
                    let found = w.patient_by_mrn("1001")?.unwrap();
                    w.insert_entry(&NewEntry {
                        happened_at: at,
                        ..entry(found.id, Some(c), h, rate(200))
                    })?;
                    w.insert_entry(&NewEntry {
                        happened_at: at,
                        ..entry(
                            found.id,
                            Some(c),
                            h,
                            EntryData::Nrs {
                                score: Nrs::new(2).unwrap(),
                                timepoint: None,
                            },
                        )
                    })
                };
                if reads_ahead {
                    writer.write_ahead("AB", at, &ahead, each)
                } else {
                    writer.write("AB", at, each)
                }
            });
            // The writer waits for the change's lock; then the change commits.
            let mut watcher = cluster.raw(&url);
            let mut waited = 0;
            loop {
                let waiting: i64 = watcher
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity \
                         WHERE datname = 'race' AND wait_event_type = 'Lock'",
                        &[],
                    )
                    .unwrap()
                    .get(0);
                if waiting > 0 || write.is_finished() {
                    break;
                }
                waited += 1;
                assert!(
                    waited < 6000,
                    "the write never waited for the lock of: {change}"
                );
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            assert!(!write.is_finished(), "the write did not wait for: {change}");
            ddl.batch_execute("COMMIT").unwrap();
            let outcome = write.join().unwrap();
            assert!(
                matches!(&outcome, Err(StoreError::SchemaChanged(_))),
                "{change} (reads ahead: {reads_ahead}): {outcome:?}"
            );
            let after = db.read(|r| r.entries_of(p)).unwrap();
            assert_eq!(
                after.len(),
                before,
                "{change}: nothing of the write is stored"
            );
            let found = db.read(|r| audit::verify(r)).unwrap();
            assert!(
                found.problems.iter().all(|p| matches!(
                    p,
                    audit::Problem::Schema(_)
                        | audit::Problem::NotCompared { .. }
                        | audit::Problem::LogNotRead { .. }
                )),
                "{change}: the record and its log still agree: {:?}",
                found.problems
            );
            if undo.is_empty() {
                ddl.batch_execute(&original_append).unwrap();
            } else {
                ddl.batch_execute(undo).unwrap();
            }
            assert!(
                db.read(|r| audit::verify(r)).unwrap().is_sound(),
                "{change} undone"
            );
        }
    }
    // Nothing changed under it: the same write is saved.
    db.write_ahead("AB", t(20), &ahead, |w| {
        w.insert_entry(&entry(p, Some(c), 20, rate(200)))
    })
    .unwrap();
}

/// A database (or role) set to `session_replication_role = replica` fires no ordinary
/// trigger in the sessions it starts: the record's refusals of UPDATE and DELETE would be
/// silent. A write there is refused, and `check` names the setting.
#[test]
fn a_session_in_which_no_trigger_fires_is_refused_and_named() {
    let cluster = Cluster::start();
    let url = cluster.database("replica_role");
    let mut db = PgDb::create(&url).unwrap();
    db.write("AB", t(0), |w| {
        w.insert_staff(&staff("AB", Role::Admin), "staff-add")
    })
    .unwrap();
    cluster.psql(
        "replica_role",
        "ALTER DATABASE replica_role SET session_replication_role = replica",
    );
    let mut quiet = PgDb::connect(&url).unwrap();
    let refused = quiet
        .write("AB", t(1), |w| w.insert_patient(&patient("1001")))
        .unwrap_err();
    assert!(
        matches!(&refused, StoreError::SchemaChanged(why) if why.contains("session_replication_role")),
        "{refused}"
    );
    let found = quiet.read(|r| audit::verify(r)).unwrap();
    assert!(
        found
            .problems
            .iter()
            .any(|p| p.to_string().contains("session_replication_role")),
        "{:?}",
        found.problems
    );
    assert!(db.read(|r| r.patient_by_mrn("1001")).unwrap().is_none());
    cluster.psql(
        "replica_role",
        "ALTER DATABASE replica_role RESET session_replication_role",
    );
    let mut fine = PgDb::connect(&url).unwrap();
    fine.write("AB", t(1), |w| w.insert_patient(&patient("1001")))
        .unwrap();
    assert!(fine.read(|r| audit::verify(r)).unwrap().is_sound());
}

/// A table anywhere that inherits from one of titrate's has its rows read with the parent's:
/// rows no write of titrate's made, which a rule would believe (a planted rate that lets a
/// step through unconfirmed) and a look-up would find (a planted MRN that sends an entry to
/// another patient). It is named as a change of the parent, the parent's rows are not
/// compared, and every write is refused until it is gone: also a second child after a
/// first one was dropped (the parent's catalog row then stays as it was), and an existing
/// table attached with INHERIT.
#[test]
fn a_table_that_inherits_from_the_record_is_named_and_writes_are_refused() {
    let cluster = Cluster::start();
    let url = cluster.database("inherit");
    let mut db = PgDb::create(&url).unwrap();
    db.write("AB", t(0), |w| {
        w.insert_staff(&staff("AB", Role::Admin), "staff-add")?;
        w.insert_patient(&patient("1001"))?;
        w.insert_patient(&patient("1002"))
    })
    .unwrap();
    let mut raw = cluster.raw(&url);
    let plant = [
        "CREATE SCHEMA x; CREATE TABLE x.v () INHERITS (patient_version); \
         INSERT INTO x.v (id, patient_id, version, mrn, name, birth_date, sex, reason, recorded_at, recorded_by) \
         VALUES (900001, 2, 1, '1001', 'Someone Else', '1970-05-01', 'male', 'r', '2026-03-01T08:00:00Z', 'AB')",
        "CREATE SCHEMA x; CREATE TABLE x.e () INHERITS (entry)",
        "CREATE SCHEMA x; CREATE TABLE x.s (LIKE staff INCLUDING CONSTRAINTS); ALTER TABLE x.s INHERIT staff",
        // The log itself: a child of audit with a row, a child of audit_head with a second head.
        "CREATE SCHEMA x; CREATE TABLE x.a () INHERITS (audit); \
         INSERT INTO x.a SELECT seq + 1000, at, actor, action, tbl, row_key, content, prev_hash, hash FROM audit",
        "CREATE SCHEMA x; CREATE TABLE x.h () INHERITS (audit_head); INSERT INTO x.h SELECT * FROM audit_head",
    ];
    for (i, sql) in plant.iter().chain(plant.iter()).enumerate() {
        raw.batch_execute(sql).unwrap();
        let refused = db
            .write("AB", t(1), |w| {
                w.insert_patient(&patient(&format!("20{i}")))
            })
            .unwrap_err();
        assert!(
            matches!(&refused, StoreError::SchemaChanged(why) if why.contains("inherited by x.")),
            "{sql}: {refused}"
        );
        let found = db.read(|r| audit::verify(r)).unwrap();
        let said: Vec<String> = found.problems.iter().map(ToString::to_string).collect();
        assert!(
            said.iter().any(|p| p.contains("inherited by x.")),
            "{sql}: {said:?}"
        );
        let log = sql.contains("(audit") || sql.contains("audit_head");
        assert!(
            found.problems.iter().any(|p| if log {
                matches!(p, audit::Problem::LogNotRead { .. })
            } else {
                matches!(p, audit::Problem::NotCompared { .. })
            }),
            "{sql}: {said:?}"
        );
        if log {
            // Nothing is said of rows or links the child's rows would seem to break.
            assert!(
                found.problems.iter().all(|p| matches!(
                    p,
                    audit::Problem::Schema(_) | audit::Problem::LogNotRead { .. }
                )),
                "{sql}: {said:?}"
            );
        }
        raw.batch_execute("DROP SCHEMA x CASCADE").unwrap();
        assert!(
            db.read(|r| audit::verify(r)).unwrap().is_sound(),
            "{sql} undone"
        );
        db.write("AB", t(1), |w| {
            w.insert_patient(&patient(&format!("30{i}")))
        })
        .unwrap();
    }
}

/// An id sequence set back behind titrate's back hands out ids already used: the write is
/// refused as exactly that, not as an MRN that belongs to someone else or a change at
/// another terminal, and nothing is saved.
#[test]
fn a_sequence_set_back_is_named_not_taken_for_a_duplicate_or_a_conflict() {
    let cluster = Cluster::start();
    let url = cluster.database("rewound");
    let mut db = PgDb::create(&url).unwrap();
    let (p, c) = db
        .write("AB", t(0), |w| {
            w.insert_staff(&staff("AB", Role::Admin), "staff-add")?;
            let p = w.insert_patient(&patient("1001"))?;
            w.insert_patient(&patient("1002"))?;
            let proto = w.protocol_id(&Config::defaults().protocol)?;
            let c = w.insert_course(p, proto)?;
            for h in 1..=3 {
                w.insert_entry(&entry(p, Some(c), h, rate(200)))?;
            }
            Ok::<_, StoreError>((p, c))
        })
        .unwrap();
    let first = db.read(|r| r.entries_of(p)).unwrap()[0].id;
    cluster.psql(
        "rewound",
        "SELECT setval('patient_id_seq', 1); SELECT setval('entry_id_seq', 1)",
    );
    let before = db.read(|r| audit::verify(r)).unwrap().rows;
    let e = db
        .write("AB", t(4), |w| w.insert_patient(&patient("1003")))
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Corrupt(why) if why.contains("patient_id_seq was set back")),
        "{e}"
    );
    let e = db
        .write("AB", t(4), |w| {
            w.insert_entry(&entry(p, Some(c), 4, rate(200)))
        })
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Corrupt(why) if why.contains("entry_id_seq was set back")),
        "{e}"
    );
    let e = db
        .write("AB", t(4), |w| {
            w.insert_entry(&NewEntry {
                supersedes: Some(first),
                amend_reason: Some("typo".into()),
                ..entry(p, Some(c), 1, rate(300))
            })
        })
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Corrupt(why) if why.contains("entry_id_seq was set back")),
        "{e}"
    );
    assert_eq!(db.read(|r| audit::verify(r)).unwrap().rows, before);
    assert!(db.read(|r| r.patient_by_mrn("1003")).unwrap().is_none());
}
