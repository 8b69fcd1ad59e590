//! The throwaway PostgreSQL clusters of tests/common/pg.rs do what the PostgreSQL tests
//! rely on: a server on its own socket, a synchronous replica, and a failover to it.
#![allow(clippy::unwrap_used)]

mod common;

use common::pg::{Cluster, Pair};
use postgres::{Client, NoTls};
use titrate::store::{StoreError, pg_tls};

#[test]
fn the_newest_server_version_is_found_and_none_is_a_failure_that_says_what_to_install() {
    let root = tempfile::tempdir().unwrap();
    for (v, with_initdb) in [("9", true), ("15", true), ("17", false)] {
        let bin = root.path().join(v).join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        if with_initdb {
            std::fs::write(bin.join("initdb"), "").unwrap();
        }
    }
    assert_eq!(
        common::pg::bin_dir_under(root.path()),
        root.path().join("15/bin")
    );
    let empty = tempfile::tempdir().unwrap();
    let why = std::panic::catch_unwind(|| common::pg::bin_dir_under(empty.path())).unwrap_err();
    let why = why.downcast_ref::<String>().unwrap();
    assert!(why.contains("apt-get install -y postgresql"), "{why}");
    assert!(why.contains("found none"), "{why}");
}

#[test]
fn a_cluster_takes_a_database_and_rows() {
    let c = Cluster::start();
    let url = c.create_database("ward one");
    assert!(
        url.starts_with("postgresql://postgres@/ward one?host=/"),
        "{url}"
    );
    let mut db = Client::connect(&url, NoTls).unwrap();
    db.batch_execute("CREATE TABLE t (id int PRIMARY KEY, note text NOT NULL)")
        .unwrap();
    db.execute("INSERT INTO t VALUES ($1, $2)", &[&7i32, &"seven"])
        .unwrap();
    let note: String = db
        .query_one("SELECT note FROM t WHERE id = $1", &[&7i32])
        .unwrap()
        .get(0);
    assert_eq!(note, "seven");
    // psql sees the same row, and the settings the tests rely on are in force.
    assert_eq!(c.psql("ward one", "SELECT note FROM t"), "seven");
    assert_eq!(c.psql("postgres", "SHOW listen_addresses"), "");
    assert_eq!(c.psql("postgres", "SHOW fsync"), "on");
    let max: i32 = c.psql("postgres", "SHOW max_connections").parse().unwrap();
    assert!(max >= 120, "max_connections {max}");
    assert!(
        c.socket_dir()
            .join(format!(".s.PGSQL.{}", c.port()))
            .exists()
    );
}

#[test]
fn two_clusters_at_once_are_separate_and_dropping_one_stops_and_removes_it() {
    let a = Cluster::start();
    let b = Cluster::start();
    a.psql("postgres", "CREATE TABLE only_a (x int)");
    let out = b
        .psql_command("postgres", "SELECT * FROM only_a")
        .output()
        .unwrap();
    assert!(!out.status.success(), "cluster b sees cluster a's table");
    let folder = a.folder().to_path_buf();
    let pid = postmaster_pid(&a);
    drop(a);
    assert!(!folder.exists(), "{} is still there", folder.display());
    wait_gone(pid);
    assert_eq!(b.psql("postgres", "SELECT 1"), "1");
}

#[test]
fn a_panicking_test_still_stops_its_cluster() {
    let folder = std::sync::Mutex::new(None);
    let r = std::panic::catch_unwind(|| {
        let c = Cluster::start();
        *folder.lock().unwrap() = Some(c.folder().to_path_buf());
        panic!("a failing test");
    });
    assert!(r.is_err());
    let folder = folder.lock().unwrap().take().unwrap();
    assert!(!folder.exists(), "{} is still there", folder.display());
}

#[test]
fn a_dead_test_process_leaves_no_server_behind() {
    let c = Cluster::start();
    let folder = c.folder().to_path_buf();
    let pid = postmaster_pid(&c);
    c.abandon();
    wait_gone(pid);
    let t0 = std::time::Instant::now();
    while folder.exists() {
        assert!(
            t0.elapsed().as_secs() < 20,
            "{} is still there",
            folder.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn postmaster_pid(c: &Cluster) -> u32 {
    std::fs::read_to_string(c.data_dir().join("postmaster.pid"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Waits until the process has gone or is a zombie (and panics after 20 s).
fn wait_gone(pid: u32) {
    let t0 = std::time::Instant::now();
    let running = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                !s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(false)
    };
    while running() {
        assert!(t0.elapsed().as_secs() < 20, "postmaster {pid} still runs");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn count(db: &mut Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).unwrap().get(0)
}

#[test]
fn a_pair_fails_over_to_its_replica_with_every_committed_row() {
    let pair = Pair::start();
    assert_eq!(
        pair.primary
            .psql("postgres", "SELECT sync_state FROM pg_stat_replication"),
        "sync"
    );
    assert_eq!(
        pair.primary.psql("postgres", "SHOW synchronous_commit"),
        "on"
    );
    let url = pair.create_database("ward");
    assert!(url.contains("target_session_attrs=read-write"), "{url}");
    let url = pair.conninfo("ward");

    // Before the failover the URL reaches the primary.
    let mut db = pg_tls::connect(&pair.url("ward")).unwrap();
    let r: bool = db
        .query_one("SELECT pg_is_in_recovery()", &[])
        .unwrap()
        .get(0);
    assert!(!r);
    let mut db = Client::connect(&url, NoTls).unwrap();
    db.batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .unwrap();
    for i in 0..20i32 {
        db.execute("INSERT INTO t VALUES ($1)", &[&i]).unwrap();
    }
    // A synchronous commit (synchronous_commit = on) is on the replica's disk when it
    // returns; the replica shows it once it has replayed it, a moment later. Even the new
    // database may not be there at the first try.
    let replica_url = pair.replica.url("ward");
    let t0 = std::time::Instant::now();
    let mut on_replica = loop {
        match Client::connect(&replica_url, NoTls) {
            Ok(c) => break c,
            Err(e) => assert!(t0.elapsed().as_secs() < 10, "replica: {e}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    while count(&mut on_replica, "SELECT count(*) FROM t") < 20 {
        assert!(
            t0.elapsed().as_secs() < 10,
            "the replica does not show the rows"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        on_replica
            .execute("INSERT INTO t VALUES (100)", &[])
            .is_err()
    );
    drop(on_replica);

    // The last commit before the crash.
    db.execute("INSERT INTO t VALUES (20)", &[]).unwrap();
    pair.kill_primary();
    assert!(db.execute("INSERT INTO t VALUES (21)", &[]).is_err());
    // With the primary dead and the replica still read-only, nobody takes writes; titrate's
    // connect says so for each of the two.
    assert!(Client::connect(&url, NoTls).is_err());
    match pg_tls::connect(&pair.url("ward")) {
        Ok(_) => panic!("a read-only standby was taken for a writable server"),
        Err(e) => {
            let s = e.to_string();
            assert!(matches!(e, StoreError::Unavailable(_)), "{s}");
            assert!(s.contains("takes no writes"), "{s}");
            let primary = pair.primary.socket_dir().display().to_string();
            assert!(s.contains(&format!("socket folder {primary} port")), "{s}");
        }
    }

    pair.promote_replica();
    // The same two-host URL now reaches the former replica, and it takes writes.
    let mut db = Client::connect(&url, NoTls).unwrap();
    let ids: Vec<i32> = db
        .query("SELECT id FROM t ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, (0..=20).collect::<Vec<_>>());
    db.execute("INSERT INTO t VALUES (21)", &[]).unwrap();
    assert_eq!(pair.replica.psql("ward", "SELECT max(id) FROM t"), "21");

    // The libpq URL (both socket folders in ?host=) through titrate's connect.
    let mut db = pg_tls::connect(&pair.url("ward")).unwrap();
    let r = db
        .query_one("SELECT pg_is_in_recovery(), count(*) FROM t", &[])
        .unwrap();
    let (recovering, n): (bool, i64) = (r.get(0), r.get(1));
    assert!(!recovering);
    assert_eq!(n, 22);
}
