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
    nurse(&common::patient_add("M-9001", "Maria Smit"));
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

    // The next migration completes, while a nurse keeps writing to the file: the copy is
    // one consistent state of it (every copied row with its audit row, the head on the
    // last of them), and what was written after that state is not in it.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mrn = mrns(&file).remove(0);
    let writer = {
        let (stop, f, d, mrn) = (stop.clone(), f.to_string(), d.to_path_buf(), mrn.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                let at = rfc(hours_ago(1 + n));
                ok(
                    &f,
                    "N1",
                    "1234",
                    &d,
                    &["nrs", "--mrn", &mrn, "--score", "4", "--at", &at],
                );
            }
            n
        })
    };
    let out = ok(f, "GEN", "0000", d, &["migrate", "--to", &url]);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let written = writer.join().unwrap();
    assert!(out.contains("in one transaction"), "{out}");
    verified(&url, d);
    let mut src = Db::open_read_only(f).unwrap();
    let mut dst = Db::open_read_only(url.as_str()).unwrap();
    let audit_src = src.read(|r| r.audit_rows()).unwrap();
    let audit_dst = dst.read(|r| r.audit_rows()).unwrap();
    assert!(
        audit_src.len() > audit_dst.len(),
        "no entry of the {written} written meanwhile came after the copied state"
    );
    assert!(
        audit_src[..audit_dst.len()] == audit_dst[..],
        "the copied audit rows are not the file's first ones"
    );
    let copied_entries: i64 = cluster
        .psql("big", "SELECT count(*) FROM entry")
        .parse()
        .unwrap();
    let conn = rusqlite::Connection::open(&file).unwrap();
    let file_entries: i64 = conn
        .query_row(
            &format!(
                "SELECT count(*) FROM entry WHERE id IN (SELECT CAST(row_key AS INTEGER) FROM audit WHERE tbl = 'entry' AND seq <= {})",
                audit_dst.len()
            ),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(copied_entries, file_entries);
}

/// psql as `user`, reading `sql` from stdin (so that the printed set-up with its `\connect`
/// runs as a DBA would run the file), ON_ERROR_STOP.
fn psql_as(cluster: &Cluster, user: &str, db: &str, sql: &str) -> Output {
    use std::io::Write as _;
    let psql = common::pg::bin_dir().join("psql");
    let mut c = if rustix::process::geteuid().is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(psql);
        c
    } else {
        Command::new(psql)
    };
    c.current_dir("/")
        .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
        .arg(cluster.socket_dir())
        .arg("-p")
        .arg(cluster.port().to_string())
        .args(["-U", user, "-d", db, "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(sql.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn url_as(cluster: &Cluster, user: &str, db: &str) -> String {
    cluster.url(db).replace("postgres@", &format!("{user}@"))
}

#[test]
fn the_printed_set_up_gives_an_owner_that_creates_and_migrates_and_an_app_role_that_only_adds() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let nowhere = d.join("none.db");
    let nowhere = nowhere.to_str().unwrap();

    // It only prints, and says so without --print; names that are not plain SQL names are
    // refused before anything is printed.
    let e = refused(nowhere, "AB", "1234", d, &["pg-setup"]);
    assert!(e.contains("only prints SQL and runs nothing"), "{e}");
    assert!(e.contains("psql -v ON_ERROR_STOP=1 -f setup.sql"), "{e}");
    for bad in [
        &["--owner", "Titrate"][..],
        &["--app", "app; DROP DATABASE x"],
        &["--database", "ward\"x"],
        &["--owner", "pg_owner"],
        &["--owner", "1owner"],
        &["--owner", ""],
    ] {
        let mut args = vec!["pg-setup", "--print"];
        args.extend_from_slice(bad);
        let out = run(nowhere, "AB", "1234", d, &args);
        assert!(!out.status.success(), "{bad:?} accepted");
        assert!(out.stdout.is_empty(), "{bad:?} printed SQL");
        assert!(
            text(&out.stderr).contains("is not a plain SQL name"),
            "{}",
            text(&out.stderr)
        );
    }

    let e = refused(
        nowhere,
        "AB",
        "1234",
        d,
        &["pg-setup", "--print", "--owner", "same", "--app", "same"],
    );
    assert!(e.contains("they must be two roles"), "{e}");
    let sql = ok(nowhere, "AB", "1234", d, &["pg-setup", "--print"]);
    assert!(sql.contains("CREATE ROLE \"titrate_owner\""), "{sql}");
    let out = psql_as(&cluster, "postgres", "postgres", &sql);
    assert!(
        out.status.success(),
        "the printed SQL failed: {}",
        text(&out.stderr)
    );

    // The owner creates the record through the CLI; the terminals use the app role.
    let owner = url_as(&cluster, "titrate_owner", "titrate");
    let app = url_as(&cluster, "titrate_app", "titrate");
    let init = titrate(&owner, "AB", "1234", d)
        .env("TITRATE_NEW_PIN", "1234")
        .args(["init", "--admin", "AB", "--name", "Anna Boer"])
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", text(&init.stderr));
    // The app role reads it whole.
    let e = {
        let out = titrate(&app, "AB", "1234", d)
            .args(["check"])
            .output()
            .unwrap();
        text(&out.stdout) + &text(&out.stderr)
    };
    assert!(e.contains("sound"), "{e}");
    ok(
        &app,
        "AB",
        "1234",
        d,
        &[
            "patient",
            "add",
            "--mrn",
            "S-1",
            "--name",
            "Jan Jansen",
            "--birth-date",
            "1970-05-01",
            "--sex",
            "male",
        ],
    );
    let staff = titrate(&app, "AB", "1234", d)
        .env("TITRATE_NEW_PIN", "5678")
        .args([
            "staff", "add", "--id", "NU", "--name", "Nina Udo", "--role", "nurse",
        ])
        .output()
        .unwrap();
    assert!(staff.status.success(), "{}", text(&staff.stderr));
    ok(
        &app,
        "NU",
        "5678",
        d,
        &[
            "nrs",
            "--mrn",
            "S-1",
            "--score",
            "6",
            "--at",
            &rfc(hours_ago(2)),
        ],
    );
    // A wrong PIN counts (an update of the staff counters the app role may make).
    let e = refused(&app, "NU", "0000", d, &["status", "--mrn", "S-1"]);
    assert!(e.to_lowercase().contains("pin"), "{e}");
    verified_as(&app, d, "AB", "1234");

    // As the app role, with psql: nothing of the record or the log can be changed, removed
    // or unprotected.
    let count = |sql: &str| cluster.psql("titrate", sql);
    let before = (
        count("SELECT count(*) FROM titrate.entry"),
        count("SELECT count(*) FROM titrate.audit"),
    );
    for (sql, why) in [
        ("UPDATE titrate.entry SET score = 0", "permission denied"),
        ("DELETE FROM titrate.entry", "permission denied"),
        (
            "UPDATE titrate.audit SET content = '{}'",
            "permission denied",
        ),
        ("DELETE FROM titrate.audit", "permission denied"),
        (
            "DROP TRIGGER entry_no_update ON titrate.entry",
            "must be owner",
        ),
        (
            "DROP TRIGGER audit_no_delete ON titrate.audit",
            "must be owner",
        ),
        (
            "ALTER TABLE titrate.entry ADD COLUMN x text",
            "must be owner",
        ),
        (
            "ALTER TABLE titrate.audit DISABLE TRIGGER audit_no_update",
            "must be owner",
        ),
    ] {
        let out = psql_as(&cluster, "titrate_app", "titrate", sql);
        assert!(!out.status.success(), "the app role may: {sql}");
        assert!(
            text(&out.stderr).contains(why),
            "{sql}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(
        (
            count("SELECT count(*) FROM titrate.entry"),
            count("SELECT count(*) FROM titrate.audit"),
        ),
        before
    );

    // A second set-up of other names, and a ward migrated into it by its owner: the app role
    // of that set-up then writes to the migrated record (the grants came with the copy).
    let sql = ok(
        nowhere,
        "AB",
        "1234",
        d,
        &[
            "pg-setup",
            "--print",
            "--owner",
            "w2_owner",
            "--app",
            "w2_app",
            "--database",
            "ward2",
        ],
    );
    let out = psql_as(&cluster, "postgres", "postgres", &sql);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let file = demo(d, "ward.db", 5);
    let f = file.to_str().unwrap();
    let app2 = url_as(&cluster, "w2_app", "ward2");
    let e = refused(f, "GEN", "0000", d, &["migrate", "--to", &app2]);
    assert!(
        e.contains("connect as the role that owns titrate's schema"),
        "{e}"
    );
    assert_eq!(
        cluster.psql(
            "ward2",
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'titrate'::regnamespace"
        ),
        "0"
    );
    let owner2 = url_as(&cluster, "w2_owner", "ward2");
    ok(f, "GEN", "0000", d, &["migrate", "--to", &owner2]);
    let mrn = mrns(&file).pop().unwrap();
    ok(
        &app2,
        "N1",
        "1234",
        d,
        &[
            "nrs",
            "--mrn",
            &mrn,
            "--score",
            "3",
            "--at",
            &rfc(hours_ago(1)),
        ],
    );
    verified_as(&app2, d, "GEN", "0000");
    let out = psql_as(&cluster, "w2_app", "ward2", "DELETE FROM titrate.audit");
    assert!(
        !out.status.success(),
        "the app role may delete the migrated log"
    );
}

fn verified_as(db: &str, dir: &Path, user: &str, pin: &str) {
    let v = ok(db, user, pin, dir, &["audit", "verify"]);
    assert!(v.contains("audit chain sound"), "{v}");
    let c = ok(db, user, pin, dir, &["check"]);
    assert!(c.contains("sound: the database"), "{c}");
}
