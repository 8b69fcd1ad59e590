//! The hospital's failover on a real engine: a primary with a synchronous streaming replica,
//! writers at work, the primary killed (`pg_ctl stop -m immediate`) and the replica
//! promoted. Every entry reported saved is on the new primary once, every entry reported not
//! saved is absent, and the audit chain verifies. Unix sockets only: no network address.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::pg::Pair;
use common::{CONFIG, first_number, hours_ago, rfc, text};
use titrate::domain::entry::EntryData;
use titrate::domain::values::Nrs;
use titrate::store::{Db, NewEntry, StoreError};

/// The titrate binary on a database URL, signed in as `AB`.
fn titrate(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_titrate"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TITRATE_DB", url)
        .env("TITRATE_CONFIG", CONFIG)
        .env("TITRATE_USER", "AB")
        .env("TITRATE_PIN", "1234")
        .env("TITRATE_NEW_PIN", "1234")
        .current_dir(std::env::temp_dir())
        .args(args)
        .output()
        .unwrap()
}

fn ok(url: &str, args: &[&str]) -> String {
    let out = titrate(url, args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn add_patient(url: &str, mrn: &str) -> i64 {
    first_number(&ok(url, &common::patient_add(mrn, "Maria Smit")))
}

/// What the writer was told about one entry.
#[derive(Clone, Debug, PartialEq)]
enum Told {
    /// Saved, as entry this id.
    Saved(i64),
    /// Clearly not saved.
    NotSaved(String),
    /// Not known whether it was saved.
    Unknown(String),
}

/// What a failed entry's words say; anything else is a failure of the test.
fn told_by(words: &str) -> Told {
    if words.contains("not known whether it was saved") {
        assert!(
            !words.contains("nothing was saved"),
            "both saved and unknown: {words}"
        );
        Told::Unknown(words.to_string())
    } else if words.contains("nothing was saved") {
        Told::NotSaved(words.to_string())
    } else {
        panic!("a failed entry says neither that nothing was saved nor that it is unknown: {words}")
    }
}

/// Each entry of a writer is an NRS at its own minute, so the record shows which one it is.
fn minute(base: DateTime<Utc>, writer: usize, n: usize) -> DateTime<Utc> {
    base + chrono::Duration::minutes((writer * 10_000 + n) as i64)
}

/// (happened_at, how many) of one patient's NRS entries on the server that takes writes.
fn stored_times(db: &mut Db, patient: i64) -> BTreeMap<String, usize> {
    let entries = db
        .read(|r| r.entries_of(patient))
        .unwrap_or_else(|e| panic!("reading the new primary: {e}"));
    let mut out = BTreeMap::new();
    for e in entries {
        *out.entry(rfc(e.happened_at)).or_insert(0) += 1;
    }
    out
}

#[test]
fn writers_carry_on_through_a_failover_and_every_entry_reported_saved_is_there_once() {
    let pair = Pair::start();
    let url = pair.create_database("ward");
    ok(&url, &["init", "--admin", "AB", "--name", "Anna Boer"]);
    let base = hours_ago(24 * 30);

    // Writers: command-line processes (as a script or a second terminal would enter), and
    // long-lived connections in this process (as a terminal holds one), each on the URL
    // that lists both servers with target_session_attrs=read-write.
    const CLI_WRITERS: usize = 3;
    const DB_WRITERS: usize = 2;
    let patients: Vec<i64> = (0..CLI_WRITERS + DB_WRITERS)
        .map(|i| add_patient(&url, &format!("70{i:02}")))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let told: Arc<Mutex<Vec<(usize, String, Told)>>> = Arc::default();
    let mut threads = Vec::new();
    for w in 0..CLI_WRITERS {
        let (url, stop, told) = (url.clone(), stop.clone(), told.clone());
        let mrn = format!("70{w:02}");
        threads.push(std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let at = rfc(minute(base, w, n));
                let out = titrate(&url, &["nrs", "--mrn", &mrn, "--score", "5", "--at", &at]);
                let t = if out.status.success() {
                    let said = text(&out.stdout);
                    assert!(said.contains("saved"), "{said}");
                    Told::Saved(first_number(&said))
                } else {
                    told_by(&text(&out.stderr))
                };
                told.lock().unwrap().push((w, at, t));
                n += 1;
            }
        }));
    }
    for k in 0..DB_WRITERS {
        let w = CLI_WRITERS + k;
        let (url, stop, told) = (url.clone(), stop.clone(), told.clone());
        let patient = patients[w];
        threads.push(std::thread::spawn(move || {
            let mut db = Db::open(url.as_str()).unwrap();
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let at = minute(base, w, n);
                let e = NewEntry {
                    patient_id: patient,
                    course_id: None,
                    happened_at: at,
                    late: false,
                    supersedes: None,
                    amend_reason: None,
                    data: EntryData::Nrs {
                        score: Nrs::new(4).unwrap(),
                        timepoint: None,
                    },
                };
                let r = db.write("AB", Utc::now(), |w| w.insert_entry(&e));
                let t = match r {
                    Ok(id) => Told::Saved(id),
                    Err(e @ StoreError::OutcomeUnknown(_)) => Told::Unknown(e.to_string()),
                    Err(e @ StoreError::Unavailable(_)) => told_by(&e.to_string()),
                    Err(e) => panic!("writer {w}: an error other than the server's absence: {e}"),
                };
                told.lock().unwrap().push((w, rfc(at), t));
                n += 1;
                // A lost connection is retried at once; a pause keeps the log readable.
                std::thread::sleep(Duration::from_millis(5));
            }
        }));
    }
    let count_told = |told: &Mutex<Vec<(usize, String, Told)>>| told.lock().unwrap().len();

    std::thread::sleep(Duration::from_millis(1500));
    let before = count_told(&told);
    assert!(before > 10, "only {before} entries before the failover");
    pair.kill_primary();

    // The primary is dead and nothing is promoted: no server takes writes. A command-line
    // entry says so, exits non-zero, and saves nothing.
    let lonely_at = rfc(minute(base, 99, 0));
    // With a password in the string (the test servers trust the socket and ignore it).
    let with_password = url.replacen("postgres@", "postgres:Secret-Pw@", 1);
    let out = titrate(
        &with_password,
        &["nrs", "--mrn", "7000", "--score", "7", "--at", &lonely_at],
    );
    assert!(!out.status.success(), "an entry without a writable server");
    let words = text(&out.stderr);
    assert!(
        words.contains("no writable database server could be reached")
            && words.contains("nothing was saved")
            && words.contains("takes no writes"),
        "{words}"
    );
    assert!(!words.contains("Secret-Pw"), "{words}");
    eprintln!("an entry with no writable server: {words}");
    // `status` (a read) against the same: non-zero, in the same words.
    let out = titrate(&url, &["status", "--mrn", "7000"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no writable database server could be reached"),
        "{}",
        text(&out.stderr)
    );

    std::thread::sleep(Duration::from_millis(1000));
    pair.promote_replica();
    let promoted = count_told(&told);
    // Every writer carries on on the new primary: the command-line ones connect afresh, the
    // long-lived connections connect again by themselves.
    let t0 = std::time::Instant::now();
    loop {
        let after = told.lock().unwrap()[promoted..].to_vec();
        let all_carry_on = (0..CLI_WRITERS + DB_WRITERS).all(|w| {
            after
                .iter()
                .filter(|(x, _, t)| *x == w && matches!(t, Told::Saved(_)))
                .count()
                >= 3
        });
        if all_carry_on {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "not every writer carries on after the promotion: {after:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }

    // The record on the new primary, read through the same two-host URL.
    let told = told.lock().unwrap().clone();
    let mut db = Db::open(url.as_str()).unwrap();
    let (mut saved, mut not_saved, mut unknown) = (0, 0, 0);
    for (w, &patient) in patients.iter().enumerate() {
        let stored = stored_times(&mut db, patient);
        let mine: Vec<&(usize, String, Told)> = told.iter().filter(|(x, _, _)| *x == w).collect();
        for (_, at, t) in &mine {
            let n = stored.get(at).copied().unwrap_or(0);
            match t {
                Told::Saved(_) => {
                    saved += 1;
                    assert_eq!(n, 1, "writer {w}'s entry at {at} was reported saved");
                }
                Told::NotSaved(why) => {
                    not_saved += 1;
                    assert_eq!(
                        n, 0,
                        "writer {w}'s entry at {at} was reported not saved: {why}"
                    );
                }
                Told::Unknown(_) => {
                    unknown += 1;
                    assert!(n <= 1, "writer {w}'s entry at {at} is there {n} times");
                }
            }
        }
        // Nothing on the record that no writer asked for.
        for at in stored.keys() {
            assert!(
                mine.iter().any(|(_, a, _)| a == at),
                "writer {w}: an entry at {at} nobody entered"
            );
        }
        // Each id reported is the entry at its minute.
        for (_, at, t) in &mine {
            if let Told::Saved(id) = t {
                let e = db.read(|r| r.entry(*id)).unwrap().unwrap();
                assert_eq!(&rfc(e.happened_at), at);
                assert_eq!(e.patient_id, patient);
            }
        }
    }
    assert!(
        !stored_times(&mut db, patients[0]).contains_key(&lonely_at),
        "the entry made while no server took writes is on the record"
    );
    eprintln!(
        "failover: {saved} entries reported saved, {not_saved} not saved, {unknown} unknown ({} before the kill)",
        before
    );
    assert!(not_saved + unknown > 0, "no writer noticed the failover");

    // The new primary is the replica, and its audit chain verifies.
    assert_eq!(
        pair.replica.psql("postgres", "SELECT pg_is_in_recovery()"),
        "f"
    );
    let v = ok(&url, &["audit", "verify"]);
    assert!(v.contains("sound"), "{v}");
}

/// A database on `pair` with admin AB and one patient; its URL and the patient's id.
fn ward_on(pair: &Pair) -> (String, i64) {
    let url = pair.create_database("ward");
    ok(&url, &["init", "--admin", "AB", "--name", "Anna Boer"]);
    let patient = add_patient(&url, "8001");
    (url, patient)
}

fn nrs_at(patient: i64, at: DateTime<Utc>) -> NewEntry {
    NewEntry {
        patient_id: patient,
        course_id: None,
        happened_at: at,
        late: false,
        supersedes: None,
        amend_reason: None,
        data: EntryData::Nrs {
            score: Nrs::new(6).unwrap(),
            timepoint: None,
        },
    }
}

/// Starts a write of an NRS at `at` on a connection of its own, and waits until its COMMIT
/// is under way on the primary, waiting for the synchronous replica (which cannot answer).
fn commit_in_flight(
    pair: &Pair,
    url: &str,
    patient: i64,
    at: DateTime<Utc>,
) -> std::thread::JoinHandle<Result<i64, StoreError>> {
    let mut db = Db::open(url).unwrap();
    let e = nrs_at(patient, at);
    let writer = std::thread::spawn(move || db.write("AB", Utc::now(), |w| w.insert_entry(&e)));
    let t0 = std::time::Instant::now();
    loop {
        let waiting = pair.primary.psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'",
        );
        if waiting == "1" {
            return writer;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the write's commit does not wait for the replica"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count_at(db: &mut Db, patient: i64, at: DateTime<Utc>) -> usize {
    stored_times(db, patient)
        .get(&rfc(at))
        .copied()
        .unwrap_or(0)
}

#[test]
fn a_commit_whose_answer_was_lost_is_found_saved_once_it_is_on_the_replica() {
    let pair = Pair::start();
    let (url, patient) = ward_on(&pair);
    let at = hours_ago(5);
    // The primary waits for a standby that is not there: the COMMIT hangs on the server,
    // committed on the primary's disk, not yet acknowledged.
    pair.primary.psql(
        "postgres",
        "ALTER SYSTEM SET synchronous_standby_names = 'nobody'",
    );
    pair.primary.psql("postgres", "SELECT pg_reload_conf()");
    let writer = commit_in_flight(&pair, &url, patient, at);
    // The writer's connection ends while its COMMIT waits: it never hears the outcome.
    pair.primary.psql(
        "postgres",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'",
    );
    // It looks for its audit row; the look-up's own commit waits for the replica as well,
    // so it answers only once the replica is the synchronous standby again.
    std::thread::sleep(Duration::from_millis(500));
    assert!(!writer.is_finished(), "answered before the replica has it");
    pair.primary.psql(
        "postgres",
        "ALTER SYSTEM SET synchronous_standby_names = '*'",
    );
    pair.primary.psql("postgres", "SELECT pg_reload_conf()");
    let id = writer
        .join()
        .unwrap()
        .unwrap_or_else(|e| panic!("a write that is on the server was not reported saved: {e}"));
    let mut db = Db::open(url.as_str()).unwrap();
    let e = db.read(|r| r.entry(id)).unwrap().unwrap();
    assert_eq!(e.happened_at, at);
    assert_eq!(count_at(&mut db, patient, at), 1);
    // On the replica too (a synchronous commit is on its disk; it shows once replayed).
    let t0 = std::time::Instant::now();
    while pair.replica.psql(
        "ward",
        &format!("SELECT count(*) FROM entry WHERE id = {id}"),
    ) != "1"
    {
        assert!(t0.elapsed() < Duration::from_secs(10), "not on the replica");
        std::thread::sleep(Duration::from_millis(20));
    }
    let v = ok(&url, &["audit", "verify"]);
    assert!(v.contains("sound"), "{v}");
}

#[test]
fn a_commit_lost_with_the_primary_before_the_replica_had_it_is_reported_not_saved() {
    let pair = Pair::start();
    let (url, patient) = ward_on(&pair);
    let at = hours_ago(5);
    // The replica is down: the primary's COMMIT waits for it, and the replica never
    // receives the commit.
    assert!(pair.replica.stop_immediate());
    let writer = commit_in_flight(&pair, &url, patient, at);
    pair.kill_primary();
    // The writer looks for a writable server; the replica comes back and is promoted
    // within its wait.
    std::thread::sleep(Duration::from_millis(500));
    assert!(!writer.is_finished(), "answered with no server to ask");
    pair.replica.start_again();
    pair.promote_replica();
    match writer.join().unwrap() {
        Err(e @ StoreError::Unavailable(_)) => {
            assert!(!e.is_busy());
            let s = e.to_string();
            assert!(s.contains("nothing was saved"), "{s}");
            assert!(s.contains("while the write was being committed"), "{s}");
            eprintln!("a commit lost with the primary: {s}");
        }
        other => panic!("a write the new primary does not have: {other:?}"),
    }
    let mut db = Db::open(url.as_str()).unwrap();
    assert_eq!(count_at(&mut db, patient, at), 0);
    // The same entry, entered again, is saved once.
    let id = db
        .write("AB", Utc::now(), |w| w.insert_entry(&nrs_at(patient, at)))
        .unwrap();
    assert!(id > 0);
    assert_eq!(count_at(&mut db, patient, at), 1);
    let v = ok(&url, &["audit", "verify"]);
    assert!(v.contains("sound"), "{v}");
}

#[test]
fn a_commit_lost_with_no_server_to_ask_is_reported_unknown_not_saved() {
    let pair = Pair::start();
    let (url, patient) = ward_on(&pair);
    let at = hours_ago(5);
    assert!(pair.replica.stop_immediate());
    let writer = commit_in_flight(&pair, &url, patient, at);
    let t0 = std::time::Instant::now();
    pair.kill_primary();
    let r = writer.join().unwrap();
    let waited = t0.elapsed();
    match r {
        Err(e @ StoreError::OutcomeUnknown(_)) => {
            // Not busy: a terminal's form retries only a busy write, never this one.
            assert!(!e.is_busy());
            let s = e.to_string();
            assert!(s.contains("not known whether it was saved"), "{s}");
            assert!(
                s.contains("look at the record before entering it again"),
                "{s}"
            );
            assert!(!s.contains("nothing was saved"), "{s}");
            eprintln!("a commit with no server to ask: {s}");
        }
        other => panic!("a write nobody can say anything about: {other:?}"),
    }
    // It waited for a promotion before it gave up.
    assert!(
        waited >= Duration::from_secs(25),
        "gave up after {waited:?}"
    );
    pair.replica.start_again();
    pair.promote_replica();
    let mut db = Db::open(url.as_str()).unwrap();
    assert_eq!(count_at(&mut db, patient, at), 0);
}

/// The last audit row of a write travels as SQL literals together with COMMIT: quotes,
/// backslashes and any other character arrive byte for byte, whatever the server's
/// standard_conforming_strings says.
#[test]
fn the_audit_row_sent_with_commit_arrives_byte_for_byte() {
    let cluster = common::pg::Cluster::start();
    let url = cluster.create_database("ward");
    ok(&url, &["init", "--admin", "AB", "--name", "Anna Boer"]);
    let mut db = Db::open(url.as_str()).unwrap();
    let odd = "O'Brien \\ \\\\ '' \" $$ $x$ E'\\n' \n\t é 💉 ; COMMIT; --";
    for conforming in ["on", "off"] {
        db.postgres()
            .unwrap()
            .raw_client()
            .batch_execute(&format!("SET standard_conforming_strings = {conforming}"))
            .unwrap();
        let content = serde_json::json!({ "note": odd, "conforming": conforming });
        db.write("AB", Utc::now(), |w| w.audit_event("test-odd", &content))
            .unwrap();
        let last = db.read(|r| r.audit_rows()).unwrap().pop().unwrap();
        assert_eq!(last.action, "test-odd");
        assert_eq!(last.content, content.to_string());
        // An audited row's content, made from the row as stored, equals its audit row.
        let mrn = format!("9{}", conforming.len());
        let id = db
            .write("AB", Utc::now(), |w| {
                w.insert_patient(&titrate::store::NewPatient {
                    mrn: mrn.clone(),
                    name: odd.to_string(),
                    birth_date: chrono::NaiveDate::from_ymd_opt(1975, 6, 15).unwrap(),
                    sex: titrate::domain::values::Sex::Female,
                    weight_kg: Some(70.5),
                    crps_type: None,
                    crps_onset: None,
                    limb: Some(odd.to_string()),
                })
            })
            .unwrap();
        let stored = db.read(|r| r.patient(id)).unwrap().unwrap();
        assert_eq!(stored.data.name, odd);
    }
    let v = ok(&url, &["audit", "verify"]);
    assert!(v.contains("sound"), "{v}");
}
