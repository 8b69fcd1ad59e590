//! `titrate migrate --to URL` and `titrate pg-setup --print` through the real binary, against
//! throwaway clusters: a ward file comes across whole (every row, every audit row, the same
//! answers from every command), the chain continues after it, a migration killed in the
//! middle leaves the target empty, a target that holds anything is refused unchanged, and
//! the printed set-up gives an owner that can `init` and migrate and an application role
//! that can write the record but not change or remove it.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::pg::Cluster;
use common::{CONFIG, first_number, hours_ago, rfc, text};
use titrate::store::{Db, Reader, Value, copy};

/// The binary with a clean environment, on `db` (a file or a URL), signed in as `user`.
fn titrate(db: &str, user: &str, pin: &str, dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_titrate"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TITRATE_DB", db)
        .env("TITRATE_CONFIG", CONFIG)
        .env("TITRATE_USER", user)
        .env("TITRATE_PIN", pin)
        .current_dir(dir);
    c
}

fn run(db: &str, user: &str, pin: &str, dir: &Path, args: &[&str]) -> Output {
    titrate(db, user, pin, dir).args(args).output().unwrap()
}

fn ok(db: &str, user: &str, pin: &str, dir: &Path, args: &[&str]) -> String {
    let out = run(db, user, pin, dir, args);
    assert!(
        out.status.success(),
        "{args:?} on {db} failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn refused(db: &str, user: &str, pin: &str, dir: &Path, args: &[&str]) -> String {
    let out = run(db, user, pin, dir, args);
    assert!(
        !out.status.success(),
        "{args:?} on {db} was accepted: {}",
        text(&out.stdout)
    );
    text(&out.stderr)
}

/// A generated ward (staff N1-N3, P1-P2 with PIN 1234, admin GEN with PIN 0000).
fn demo(dir: &Path, name: &str, courses: usize) -> PathBuf {
    let file = dir.join(name);
    let f = file.to_str().unwrap();
    ok(
        f,
        "GEN",
        "0000",
        dir,
        &[
            "demo",
            "--courses",
            &courses.to_string(),
            "--seed",
            "1",
            "--db",
            f,
        ],
    );
    file
}

/// What a copy must keep: every row of every copied table, each value as stored (the PIN
/// hash as it is), in key order; and the audit head.
type Record = (Vec<(String, Vec<String>)>, Option<(i64, String)>);

fn raw_record(at: &str) -> Record {
    let mut db = Db::open_read_only(at).unwrap();
    db.read(|r: &dyn Reader| {
        let mut out = Vec::new();
        for t in copy::tables() {
            let mut rows = Vec::new();
            r.raw_rows(&t, &mut |values: &[Value]| {
                rows.push(format!("{values:?}"));
                Ok(())
            })?;
            out.push((t.table.to_string(), rows));
        }
        Ok::<_, titrate::store::StoreError>((out, r.audit_head()?))
    })
    .unwrap()
}

fn mrns(file: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(file).unwrap();
    let mut stmt = conn
        .prepare("SELECT mrn FROM patient_current ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn verified(db: &str, dir: &Path) -> String {
    let v = ok(db, "GEN", "0000", dir, &["audit", "verify"]);
    assert!(v.contains("audit chain sound"), "{v}");
    let c = ok(db, "GEN", "0000", dir, &["check"]);
    assert!(c.contains("sound: the"), "{c}");
    v
}

/// Entries of every kind, an amendment, a void, a patient correction, letter advice and a
/// pseudonymised export on the file: every table gets rows beyond what `demo` writes.
fn write_by_hand(f: &str, dir: &Path) {
    let nurse = |args: &[&str]| ok(f, "N1", "1234", dir, args);
    let physician = |args: &[&str]| ok(f, "P1", "1234", dir, args);
    nurse(&[
        "patient",
        "add",
        "--mrn",
        "M-9001",
        "--name",
        "Maria Smit",
        "--birth-date",
        "1975-06-15",
        "--sex",
        "female",
        "--weight-kg",
        "70",
        "--crps-type",
        "1",
        "--crps-onset",
        "2020-02-01",
        "--limb",
        "right leg",
    ]);
    let start = hours_ago(45 * 24);
    let at = |h: i64| rfc(start + chrono::Duration::hours(h));
    nurse(&[
        "nrs",
        "--mrn",
        "M-9001",
        "--score",
        "8",
        "--at",
        &at(-2),
        "--timepoint",
        "t0",
    ]);
    physician(&[
        "course",
        "start",
        "--mrn",
        "M-9001",
        "--at",
        &at(0),
        "--bed",
        "9",
    ]);
    nurse(&["dose", "--mrn", "M-9001", "--rate", "2", "--at", &at(0)]);
    let typo = first_number(&nurse(&[
        "dose",
        "--mrn",
        "M-9001",
        "--rate",
        "4",
        "--at",
        &at(4),
    ]));
    nurse(&[
        "amend",
        &typo.to_string(),
        "--reason",
        "typed 4 for 3",
        "--rate",
        "3",
    ]);
    let twice = first_number(&nurse(&[
        "dose",
        "--mrn",
        "M-9001",
        "--rate",
        "4",
        "--at",
        &at(8),
    ]));
    nurse(&["void", &twice.to_string(), "--reason", "recorded twice"]);
    nurse(&[
        "side-effect",
        "--mrn",
        "M-9001",
        "--kind",
        "nausea",
        "--severity",
        "mild",
        "--action",
        "none",
        "--at",
        &at(10),
        "--detail",
        "a \\ backslash, \"quotes\" and übelkeit",
    ]);
    physician(&["course", "end", "--mrn", "M-9001", "--at", &at(168)]);
    physician(&[
        "success",
        "--mrn",
        "M-9001",
        "--timepoint",
        "t1",
        "--value",
        "yes",
        "--at",
        &at(170),
    ]);
    nurse(&[
        "patient",
        "amend",
        "--mrn",
        "M-9001",
        "--reason",
        "weighed again",
        "--weight-kg",
        "72.5",
    ]);
    let letter = dir.join("letter.md");
    physician(&[
        "summary",
        "--mrn",
        "M-9001",
        "--format",
        "markdown",
        "--out",
        letter.to_str().unwrap(),
        "--advice",
        "Taper the co-analgesics over two weeks.",
    ]);
    let export = dir.join("export");
    physician(&[
        "export",
        "--out",
        export.to_str().unwrap(),
        "--pseudonymize",
    ]);
}

#[test]
fn a_ward_comes_across_whole_gives_the_same_answers_and_its_chain_continues() {
    let cluster = Cluster::start();
    cluster.create_database("ward");
    // With a password, which the audit row of the migration must not hold (local
    // connections are trusted, so the server never asks for it).
    let url = cluster
        .url("ward")
        .replace("postgres@", "postgres:s3cret-pw@");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = demo(d, "ward.db", 40);
    let f = file.to_str().unwrap();
    write_by_hand(f, d);

    // Only an admin may copy the whole record: a physician is refused, and the refusal is
    // audited in the file (and so comes across too).
    let e = refused(f, "P1", "1234", d, &["migrate", "--to", &url]);
    assert!(
        e.contains("copy the whole record to a PostgreSQL server"),
        "{e}"
    );
    assert_eq!(
        cluster.psql(
            "ward",
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        ),
        "0"
    );

    let out = ok(f, "GEN", "0000", d, &["migrate", "--to", &url]);
    assert!(out.contains("in one transaction"), "{out}");
    assert!(!out.contains("s3cret"), "{out}");

    // Every table has rows, and every row and every audit row came across as it is.
    let (source, source_head) = raw_record(f);
    let (target, target_head) = raw_record(&url);
    for (table, rows) in &source {
        assert!(!rows.is_empty(), "the test wrote no row to {table}");
    }
    assert_eq!(source.len(), target.len());
    for ((table, a), (_, b)) in source.iter().zip(&target) {
        assert_eq!(a.len(), b.len(), "{table}: row counts differ");
        assert!(a == b, "{table}: the rows differ");
    }
    assert_eq!(source_head, target_head);
    let mut src = Db::open_read_only(f).unwrap();
    let mut dst = Db::open_read_only(url.as_str()).unwrap();
    let audit_src = src.read(|r| r.audit_rows()).unwrap();
    let audit_dst = dst.read(|r| r.audit_rows()).unwrap();
    assert!(audit_src == audit_dst, "the audit rows differ");
    // The migration is the file's own record, naming the server without the password.
    let event = audit_src
        .iter()
        .rev()
        .find(|a| a.action == "migrate")
        .expect("the migration is audited in the file");
    assert_eq!(event.actor, "GEN");
    assert!(event.content.contains("ward"), "{}", event.content);
    assert!(!event.content.contains("s3cret"), "{}", event.content);
    assert!(
        audit_src
            .iter()
            .any(|a| a.action == "denied" && a.actor == "P1"),
        "the physician's refused migration is not audited"
    );
    drop((src, dst));

    // Every command answers the same on both.
    let patients = mrns(&file);
    assert!(patients.len() > 30, "{patients:?}");
    for mrn in &patients {
        let a = ok(f, "N1", "1234", d, &["status", "--mrn", mrn, "--json"]);
        let b = ok(&url, "N1", "1234", d, &["status", "--mrn", mrn, "--json"]);
        assert_eq!(a, b, "status of {mrn} differs");
    }
    let a = ok(f, "P1", "1234", d, &["cohort", "--json"]);
    let b = ok(&url, "P1", "1234", d, &["cohort", "--json"]);
    assert_eq!(a, b, "cohort differs");
    let a = ok(f, "N1", "1234", d, &["history", "--mrn", "M-9001"]);
    let b = ok(&url, "N1", "1234", d, &["history", "--mrn", "M-9001"]);
    assert_eq!(a, b, "history differs");

    // The chain verifies on the server, and the next write continues it and the ids.
    let v = verified(&url, d);
    let head = target_head.unwrap();
    assert!(v.contains(&head.1), "{v}");
    let next_entry: i64 = cluster
        .psql("ward", "SELECT max(id) + 1 FROM entry")
        .parse()
        .unwrap();
    let new = first_number(&ok(
        &url,
        "N1",
        "1234",
        d,
        &[
            "nrs",
            "--mrn",
            "M-9001",
            "--score",
            "2",
            "--at",
            &rfc(hours_ago(1)),
        ],
    ));
    assert_eq!(new, next_entry, "the ids do not continue");
    let next_patient: i64 = cluster
        .psql("ward", "SELECT max(id) + 1 FROM patient")
        .parse()
        .unwrap();
    let added = ok(
        &url,
        "N1",
        "1234",
        d,
        &[
            "patient",
            "add",
            "--mrn",
            "M-9002",
            "--name",
            "Jan Jansen",
            "--birth-date",
            "1970-05-01",
            "--sex",
            "male",
        ],
    );
    assert_eq!(first_number(&added), next_patient, "{added}");
    verified(&url, d);
    // The first row written on the server is chained to the last one copied.
    assert_eq!(
        cluster.psql(
            "ward",
            &format!("SELECT prev_hash FROM audit WHERE seq = {}", head.0 + 1)
        ),
        head.1
    );
    let seq: i64 = cluster
        .psql("ward", "SELECT seq FROM audit_head")
        .parse()
        .unwrap();
    assert!(seq > head.0, "the head did not move on: {seq}");

    // The target holds a record now: a second migration is refused and changes nothing.
    let before = cluster.psql("ward", "SELECT seq, hash FROM audit_head");
    let e = refused(f, "GEN", "0000", d, &["migrate", "--to", &url]);
    assert!(
        e.contains("copies a record only into an empty schema"),
        "{e}"
    );
    assert!(e.contains("nothing was changed"), "{e}");
    assert_eq!(
        cluster.psql("ward", "SELECT seq, hash FROM audit_head"),
        before
    );
}

#[test]
fn a_target_that_holds_anything_or_is_no_server_is_refused_and_left_as_it_was() {
    let cluster = Cluster::start();
    let url = cluster.create_database("busy");
    cluster.psql(
        "busy",
        "CREATE TABLE notes (t text); INSERT INTO notes VALUES ('keep me')",
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = demo(d, "ward.db", 3);
    let f = file.to_str().unwrap();
    let audit_rows = || {
        let conn = rusqlite::Connection::open(&file).unwrap();
        conn.query_row("SELECT count(*) FROM audit", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    let before = audit_rows();
    let e = refused(f, "GEN", "0000", d, &["migrate", "--to", &url]);
    assert!(e.contains("holds the table notes already"), "{e}");
    assert!(e.contains("nothing was changed"), "{e}");
    assert_eq!(cluster.psql("busy", "SELECT t FROM notes"), "keep me");
    assert_eq!(
        cluster.psql("busy", "SELECT string_agg(relname, ',') FROM pg_class WHERE relnamespace = 'public'::regnamespace"),
        "notes"
    );
    // A refused target is refused before the file records a migration.
    assert_eq!(audit_rows(), before);

    // Only a function there is just as refused.
    let url2 = cluster.create_database("fn");
    cluster.psql(
        "fn",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    );
    let e = refused(f, "GEN", "0000", d, &["migrate", "--to", &url2]);
    assert!(e.contains("holds the function f already"), "{e}");

    // The target must be a server, and the source a file.
    let e = refused(f, "GEN", "0000", d, &["migrate", "--to", "other.db"]);
    assert!(e.contains("is not a PostgreSQL database"), "{e}");
    let empty = cluster.create_database("empty");
    let e = refused(&empty, "GEN", "0000", d, &["migrate", "--to", &empty]);
    assert!(e.contains("copies a database file into PostgreSQL"), "{e}");
    assert_eq!(
        cluster.psql(
            "empty",
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        ),
        "0"
    );
}

fn titrate_objects(cluster: &Cluster, db: &str) -> String {
    cluster.psql(
        db,
        "SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace) \
         || ' ' || (SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace)",
    )
}

/// Whether a `COPY` of the migration is running on the server right now.
fn copying(cluster: &Cluster, db: &str) -> bool {
    cluster.psql(
        "postgres",
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' \
             AND state = 'active' AND query LIKE 'COPY %'"
        ),
    ) != "0"
}

#[test]
fn a_migration_killed_while_it_copies_leaves_the_target_empty_and_the_next_one_completes() {
    let cluster = Cluster::start();
    let url = cluster.create_database("big");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = demo(d, "big.db", 300);
    let f = file.to_str().unwrap();

    let mut child = titrate(f, "GEN", "0000", d)
        .args(["migrate", "--to", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !copying(&cluster, "big") {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the migration ended before it was seen copying"
        );
        assert!(t0.elapsed() < Duration::from_secs(120), "no COPY seen");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Tables are made and rows are going in, in the transaction nobody else sees yet.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the migration finished before the kill");
    // The server ends the dead client's session and rolls its transaction back.
    let t0 = Instant::now();
    while cluster.psql(
        "postgres",
        "SELECT count(*) FROM pg_stat_activity WHERE datname = 'big'",
    ) != "0"
    {
        assert!(t0.elapsed() < Duration::from_secs(30), "the session stays");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        titrate_objects(&cluster, "big"),
        "0 0",
        "the target is not empty"
    );

    let out = ok(f, "GEN", "0000", d, &["migrate", "--to", &url]);
    assert!(out.contains("in one transaction"), "{out}");
    let (source, source_head) = raw_record(f);
    let (target, target_head) = raw_record(&url);
    assert!(source == target, "the second migration's rows differ");
    assert_eq!(source_head, target_head);
    verified(&url, d);
}
