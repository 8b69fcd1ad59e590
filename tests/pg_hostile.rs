//! What an outside look at the PostgreSQL store found, kept found.
#![allow(clippy::unwrap_used)]

mod common;

use common::pg::Cluster;
use titrate::store::Db;

/// "Saved" means on disk (and on a synchronous replica): a connection string, a role or a
/// database that turns `synchronous_commit` off is overruled for titrate's sessions.
#[test]
fn a_weaker_synchronous_commit_from_the_url_or_the_role_is_raised_to_on() {
    let cluster = Cluster::start();
    let url = cluster.create_database("ward");
    drop(Db::create(url.as_str()).unwrap());
    // The database's own setting, then the role's in that database (which wins over it).
    cluster.psql("ward", "ALTER DATABASE ward SET synchronous_commit = off");
    let mut db = Db::open(url.as_str()).unwrap();
    let level: String = db
        .postgres()
        .unwrap()
        .raw_client()
        .query_one("SHOW synchronous_commit", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        level, "on",
        "ALTER DATABASE ... SET synchronous_commit = off"
    );
    drop(db);
    cluster.psql(
        "ward",
        "ALTER ROLE postgres IN DATABASE ward SET synchronous_commit = off",
    );
    for url in [
        url.clone(),
        format!("{url}&options=-csynchronous_commit%3Dlocal"),
    ] {
        let mut db = Db::open(url.as_str()).unwrap();
        let pg = db.postgres().unwrap();
        let level: String = pg
            .raw_client()
            .query_one("SHOW synchronous_commit", &[])
            .unwrap()
            .get(0);
        assert_eq!(level, "on", "{url}");
    }
    // A stronger one is kept.
    cluster.psql(
        "ward",
        "ALTER ROLE postgres IN DATABASE ward SET synchronous_commit = remote_apply",
    );
    let mut db = Db::open(url.as_str()).unwrap();
    let level: String = db
        .postgres()
        .unwrap()
        .raw_client()
        .query_one("SHOW synchronous_commit", &[])
        .unwrap()
        .get(0);
    assert_eq!(level, "remote_apply");
}

/// A ward file (admin AB, PIN 1234) with one patient, migrated by AB to `url`.
fn migrate(w: &common::Ward, url: &str) -> std::process::Output {
    w.run_with("AB", "1234", &[], &["migrate", "--to", url])
}

fn ward_with_a_patient() -> common::Ward {
    let w = common::Ward::new();
    w.ok(&[
        "patient",
        "add",
        "--mrn",
        "100871",
        "--name",
        "Bram Jansen",
        "--birth-date",
        "1970-01-02",
        "--sex",
        "male",
    ]);
    w
}

/// A file whose chain is broken is not carried onto the server: the server would start
/// from a record that no check there could call sound.
#[test]
fn a_file_with_a_broken_audit_trail_is_not_migrated() {
    let cluster = Cluster::start();
    let url = cluster.create_database("ward");
    let w = ward_with_a_patient();
    {
        let c = rusqlite::Connection::open(w.path()).unwrap();
        c.execute_batch(
            "DROP TRIGGER patient_no_update; UPDATE patient SET name = 'Someone Else'; \
             CREATE TRIGGER patient_no_update BEFORE UPDATE ON patient \
             BEGIN SELECT RAISE(ABORT, 'patient rows are never changed'); END;",
        )
        .unwrap();
    }
    let audit_before: i64 = rusqlite::Connection::open(w.path())
        .unwrap()
        .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .unwrap();
    let out = migrate(&w, &url);
    assert!(!out.status.success());
    let said = common::text(&out.stderr);
    assert!(said.contains("audit trail is not sound"), "{said}");
    assert_eq!(
        cluster.psql("ward", "SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"),
        "0",
        "nothing was made on the server"
    );
    let audit_after: i64 = rusqlite::Connection::open(w.path())
        .unwrap()
        .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .unwrap();
    assert_eq!(audit_after, audit_before, "nor in the file");
}

/// A schema that holds only a type or a domain is not empty: the copy would be refused by
/// every write afterwards.
#[test]
fn a_target_holding_a_type_or_a_domain_is_refused() {
    let cluster = Cluster::start();
    let w = ward_with_a_patient();
    for (db, sql) in [
        ("withdomain", "CREATE DOMAIN public.d AS int"),
        ("withenum", "CREATE TYPE public.e AS ENUM ('a')"),
    ] {
        let url = cluster.create_database(db);
        cluster.psql(db, sql);
        let out = migrate(&w, &url);
        assert!(!out.status.success(), "{db}");
        let said = common::text(&out.stderr);
        assert!(said.contains("holds the type"), "{said}");
        assert!(said.contains("nothing was changed"), "{said}");
    }
}

/// What takes the server's second layer away, or the crash safety of a table, is a change
/// of the schema: `check` names it and no write goes through.
#[test]
fn unlogged_tables_another_owner_and_wider_grants_are_named_and_block_writes() {
    let cluster = Cluster::start();
    cluster.psql("postgres", "CREATE ROLE intruder LOGIN");
    for (n, change, named) in [
        (0, "ALTER TABLE audit_head SET UNLOGGED", "unlogged"),
        (
            1,
            "ALTER TABLE entry OWNER TO intruder",
            "owned by intruder",
        ),
        (
            2,
            "GRANT UPDATE, DELETE ON entry TO intruder",
            "grants DELETE to intruder",
        ),
    ] {
        let db_name = format!("ward{n}");
        let url = cluster.create_database(&db_name);
        drop(Db::create(url.as_str()).unwrap());
        cluster.psql(&db_name, change);
        let mut db = Db::open(url.as_str()).unwrap();
        let diffs = db.read(|r| r.schema_differences()).unwrap();
        let said = format!("{diffs:?}");
        assert!(said.contains(named), "{change}: {said}");
        let e = probe(&mut db).unwrap_err();
        assert!(
            matches!(e, titrate::store::StoreError::SchemaChanged(_)),
            "{change}: {e}"
        );
    }
}

/// An audit row put in beside the head (by anyone who may insert into the log) would take
/// the next writer's seq and stop every write for good: it is refused at its COMMIT.
#[test]
fn an_audit_row_added_without_moving_the_head_is_refused_and_writing_goes_on() {
    let cluster = Cluster::start();
    let url = cluster.create_database("ward");
    let mut db = Db::create(url.as_str()).unwrap();
    probe(&mut db).unwrap();
    let out = cluster
        .psql_command(
            "ward",
            "INSERT INTO audit (seq, at, actor, action, content, prev_hash, hash) \
             SELECT seq + 1, 'x', 'x', 'x', '{}', hash, 'x' FROM audit_head",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = common::text(&out.stderr);
    assert!(
        said.contains("only with the audit head moved onto it"),
        "{said}"
    );
    probe(&mut db).unwrap();
    let v = db.read(|r| titrate::store::audit::verify(r)).unwrap();
    assert!(v.is_sound(), "{:?}", v.problems);
    assert_eq!(v.rows, 2);
}

/// A statement timeout set on the role (or the database) that cancels the write's first
/// statement, the lock on the audit head, is a refusal that says nothing was saved, and
/// nothing was.
#[test]
fn a_statement_timeout_that_cancels_the_lock_says_nothing_was_saved() {
    let cluster = Cluster::start();
    let url = cluster.create_database("ward");
    let mut db = Db::create(url.as_str()).unwrap();
    probe(&mut db).unwrap();
    drop(db);
    cluster.psql(
        "ward",
        "ALTER ROLE postgres IN DATABASE ward SET statement_timeout = '300ms'",
    );
    // Someone holds the head's lock longer than the timeout.
    let mut holder = Db::open(url.as_str()).unwrap();
    holder
        .postgres()
        .unwrap()
        .raw_client()
        .batch_execute("BEGIN; SELECT 1 FROM audit_head FOR UPDATE")
        .unwrap();
    let mut db = Db::open(url.as_str()).unwrap();
    let e = probe(&mut db).unwrap_err();
    let said = e.to_string();
    assert!(said.contains("statement timeout"), "{said}");
    assert!(said.contains("nothing was saved"), "{said}");
    holder
        .postgres()
        .unwrap()
        .raw_client()
        .batch_execute("ROLLBACK")
        .unwrap();
    let v = db.read(|r| titrate::store::audit::verify(r)).unwrap();
    assert!(v.is_sound(), "{:?}", v.problems);
    assert_eq!(v.rows, 1, "the refused write left no row");
}

/// The smallest write there is: one audit event.
fn probe(db: &mut Db) -> Result<(), titrate::store::StoreError> {
    db.write("AB", chrono::Utc::now(), |w| {
        w.audit_event("probe", &serde_json::json!({}))
    })
}
