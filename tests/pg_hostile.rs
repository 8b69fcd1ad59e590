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
