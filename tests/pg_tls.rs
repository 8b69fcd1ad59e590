//! `store::pg_tls::connect` against a real server with TLS on loopback: libpq's sslmodes,
//! a CA and a server certificate made at test time with the `openssl` command line.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::pg::{Cluster, Setup};
use titrate::store::StoreError;
use titrate::store::pg_tls::connect;

const PASSWORD: &str = "Ward7-s3cret";

/// A CA, a server certificate it signed for localhost and 127.0.0.1, and a second CA that
/// signed nothing of this server's.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .unwrap_or_else(|e| {
                    panic!("the TLS tests make their certificates with the openssl command ({e}): install it with `apt-get install -y openssl`")
                });
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        for ca in ["ca", "other-ca"] {
            let (key, crt, subj) = (
                format!("{ca}.key"),
                format!("{ca}.crt"),
                format!("/CN=titrate test {ca}"),
            );
            let mut a = vec!["req", "-x509", "-days", "2", "-subj", &subj];
            a.extend(ec);
            a.extend(["-keyout", &key, "-out", &crt]);
            a.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
            a.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
            openssl(&a);
        }
        let mut a = vec![
            "req",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ];
        a.extend(ec);
        openssl(&a);
        std::fs::write(
            dir.path().join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ]);
        Pki { dir }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A server that takes TLS on 127.0.0.1 only (`hostssl`, password login) and trusts its
/// own socket for set-up; a login role `nurse` with PASSWORD.
fn tls_cluster(pki: &Pki) -> Cluster {
    let c = Cluster::start_with(&Setup {
        tcp: true,
        conf: vec![
            "ssl = on".into(),
            "ssl_cert_file = 'server.crt'".into(),
            "ssl_key_file = 'server.key'".into(),
            "password_encryption = 'scram-sha-256'".into(),
        ],
        hba: Some("local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n".into()),
        files: vec![
            ("server.crt".into(), pki.file("server.crt")),
            ("server.key".into(), pki.file("server.key")),
        ],
    });
    c.psql(
        "postgres",
        &format!("CREATE ROLE nurse LOGIN PASSWORD '{PASSWORD}'"),
    );
    c
}

fn url(c: &Cluster, host: &str, params: &str) -> String {
    format!(
        "postgresql://nurse:{PASSWORD}@{host}:{}/postgres?{params}",
        c.port()
    )
}

/// Whether this connection is encrypted, as the server sees it.
fn encrypted(client: &mut postgres::Client) -> bool {
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0)
}

fn refused(url: &str) -> String {
    match connect(url) {
        Ok(_) => panic!("{url} connected"),
        Err(e @ StoreError::Unavailable(_)) => {
            let s = e.to_string();
            assert!(!s.contains(PASSWORD), "the password is in {s:?}");
            eprintln!("refused: {s}");
            s
        }
        Err(e) => panic!("{url}: not Unavailable: {e:?}"),
    }
}

fn ca_param(f: &Path) -> String {
    format!("sslrootcert={}", f.display())
}

#[test]
fn verify_full_checks_the_chain_and_the_name_and_verify_ca_the_chain_only() {
    let pki = Pki::new();
    let c = tls_cluster(&pki);
    let ca = ca_param(&pki.file("ca.crt"));
    let other = ca_param(&pki.file("other-ca.crt"));

    for host in ["localhost", "127.0.0.1"] {
        let mut db = connect(&url(&c, host, &format!("sslmode=verify-full&{ca}"))).unwrap();
        assert!(encrypted(&mut db), "{host}");
    }

    let why = refused(&url(
        &c,
        "localhost",
        &format!("sslmode=verify-full&{other}"),
    ));
    assert!(why.contains("not signed by the CA in"), "{why}");
    assert!(why.contains("other-ca.crt"), "{why}");
    assert!(why.contains(&format!("localhost:{}", c.port())), "{why}");
    let why = refused(&url(&c, "localhost", &format!("sslmode=verify-ca&{other}")));
    assert!(why.contains("not signed by the CA in"), "{why}");

    // A name the certificate does not carry, at the right address.
    let elsewhere = format!("sslmode=verify-full&{ca}&hostaddr=127.0.0.1");
    let why = refused(&url(&c, "ward-db.invalid", &elsewhere));
    assert!(why.contains("not made out to ward-db.invalid"), "{why}");
    let chain_only = format!("sslmode=verify-ca&{ca}&hostaddr=127.0.0.1");
    let mut db = connect(&url(&c, "ward-db.invalid", &chain_only)).unwrap();
    assert!(encrypted(&mut db));
}

#[test]
fn require_encrypts_without_a_ca_and_a_hostssl_server_refuses_plain() {
    let pki = Pki::new();
    let c = tls_cluster(&pki);
    // Not verified: even a name the certificate does not carry is accepted.
    for host in ["localhost", "ward-db.invalid"] {
        let mut db = connect(&url(&c, host, "sslmode=require&hostaddr=127.0.0.1")).unwrap();
        assert!(encrypted(&mut db), "{host}");
    }
    // prefer takes the TLS the server offers.
    let mut db = connect(&url(&c, "127.0.0.1", "sslmode=prefer")).unwrap();
    assert!(encrypted(&mut db));
    // require with a CA file checks the chain, as libpq does.
    let other = ca_param(&pki.file("other-ca.crt"));
    let why = refused(&url(&c, "localhost", &format!("sslmode=require&{other}")));
    assert!(why.contains("not signed"), "{why}");

    let why = refused(&url(&c, "127.0.0.1", "sslmode=disable"));
    assert!(why.contains("the server refused"), "{why}");
    assert!(why.contains("no encryption"), "{why}");
}

#[test]
fn the_password_logs_in_and_never_appears_in_a_message() {
    let pki = Pki::new();
    let c = tls_cluster(&pki);
    let ca = ca_param(&pki.file("ca.crt"));
    let mut db = connect(&url(&c, "localhost", &format!("sslmode=verify-full&{ca}"))).unwrap();
    let who: String = db
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(who, "nurse");
    // The same in key=value form, with the password in quotes.
    let kv = format!(
        "host=localhost port={} user=nurse password='{PASSWORD}' dbname=postgres sslmode=verify-full {ca}",
        c.port()
    );
    connect(&kv).unwrap();

    // A wrong password: the server's words, and neither password shown.
    let wrong = format!(
        "postgresql://nurse:{PASSWORD}-not@localhost:{}/postgres?sslmode=verify-full&{ca}",
        c.port()
    );
    let why = refused(&wrong);
    assert!(why.contains("password authentication failed"), "{why}");
    // An unknown setting is a bad string, shown without the password.
    let e = connect(&url(&c, "localhost", "sslmode=require&colour=red"))
        .err()
        .unwrap();
    let s = e.to_string();
    assert!(matches!(e, StoreError::Open { .. }), "{s}");
    assert!(s.contains("colour") && s.contains("nurse:***@"), "{s}");
    assert!(!s.contains(PASSWORD), "{s}");
    // A missing CA file.
    let e = connect(&url(
        &c,
        "localhost",
        "sslmode=verify-ca&sslrootcert=/nonexistent/ca.crt",
    ))
    .err()
    .unwrap();
    let s = e.to_string();
    assert!(
        s.contains("cannot read the CA file /nonexistent/ca.crt"),
        "{s}"
    );
    assert!(!s.contains(PASSWORD), "{s}");
}

#[test]
fn hosts_are_tried_in_order_and_every_failure_is_named() {
    let pki = Pki::new();
    let c = tls_cluster(&pki);
    let dead = common::pg::free_loopback_port();
    let ca = ca_param(&pki.file("ca.crt"));
    let both = format!(
        "postgresql://nurse:{PASSWORD}@127.0.0.1:{dead},localhost:{}/postgres?sslmode=verify-full&{ca}",
        c.port()
    );
    let mut db = connect(&both).unwrap();
    assert!(encrypted(&mut db));

    let nowhere = tempfile::tempdir().unwrap();
    let none = format!(
        "postgresql://nurse:{PASSWORD}@127.0.0.1:{dead}/postgres?host=127.0.0.1,{}&port={dead},5999&connect_timeout=3",
        nowhere.path().display()
    );
    let why = refused(&none);
    assert!(
        why.starts_with("no writable database server could be reached: tried"),
        "{why}"
    );
    assert!(
        why.contains(&format!("127.0.0.1:{dead}: nothing listens there")),
        "{why}"
    );
    assert!(
        why.contains(&format!(
            "socket folder {} port 5999: no server's socket is in that folder",
            nowhere.path().display()
        )),
        "{why}"
    );
}

#[test]
fn a_unix_socket_carries_no_tls_whatever_sslmode_says_as_with_libpq() {
    let c = Cluster::start();
    // No CA file exists, and none is read: TLS is never tried on a socket.
    let url = format!(
        "{}&sslmode=verify-full&sslrootcert=/nonexistent/ca.crt",
        c.url("postgres")
    );
    let mut db = connect(&url).unwrap();
    assert!(!encrypted(&mut db));
}

#[test]
fn a_server_that_accepts_and_says_nothing_is_given_up_on() {
    // A listener that never answers the start-up message.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let t0 = std::time::Instant::now();
    let why = refused(&format!(
        "postgresql://nurse@127.0.0.1:{port}/x?sslmode=disable&connect_timeout=1"
    ));
    assert!(t0.elapsed().as_secs() < 5, "{:?}", t0.elapsed());
    assert!(why.contains("no answer within 1 s"), "{why}");
}

#[test]
fn prefer_falls_back_to_plain_where_the_server_has_no_tls_and_require_refuses() {
    let c = Cluster::start_with(&Setup {
        tcp: true,
        hba: Some("local all all trust\nhost all all 127.0.0.1/32 trust\n".into()),
        ..Setup::default()
    });
    let plain = format!("postgresql://postgres@127.0.0.1:{}/postgres", c.port());
    let mut db = connect(&format!("{plain}?sslmode=prefer")).unwrap();
    assert!(!encrypted(&mut db));
    // prefer is the default, as in libpq.
    let mut db = connect(&plain).unwrap();
    assert!(!encrypted(&mut db));
    let why = refused(&format!("{plain}?sslmode=require"));
    assert!(
        why.contains("the server offers no TLS, and sslmode=require requires it"),
        "{why}"
    );
}
