//! Throwaway PostgreSQL clusters for the integration tests.
//!
//! Every cluster lives in a temp folder of its own: the data directory, the server log and
//! the Unix socket. The server listens on that socket only (`listen_addresses = ''`), so the
//! port number merely names the socket file and clusters in parallel tests cannot collide.
//! When the tests run as root (here and in CI), the folder belongs to the `postgres` OS user
//! and every server command runs as that user, because initdb refuses root.
//!
//! The server binaries are the newest under `/usr/lib/postgresql/*/bin`. Without them the
//! tests fail with a message that says what to install: they never pass by skipping.
//!
//! Clean-up: `Drop` stops the server (`pg_ctl stop -m immediate`) and removes the folder,
//! also when the test panicked. A test process that is killed outright runs no `Drop`; for
//! that each cluster has a watchdog shell (in a process group of its own, so a Ctrl-C does
//! not take it along) that waits for the end of a pipe held by the test process and then
//! stops the server and removes the folder.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// What to install when the server binaries are missing.
pub const INSTALL: &str = "apt-get install -y postgresql";

/// The folder with initdb, pg_ctl, postgres, pg_basebackup and psql: the newest version
/// under `/usr/lib/postgresql`. Panics, saying what to install, when there is none.
pub fn bin_dir() -> PathBuf {
    bin_dir_under(Path::new("/usr/lib/postgresql"))
}

/// The newest `VERSION/bin` with an initdb under `root`; panics, saying what to install,
/// when there is none.
pub fn bin_dir_under(root: &Path) -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "the PostgreSQL tests need the PostgreSQL server binaries (initdb, pg_ctl, postgres) \
             under {}/*/bin and found none: install them with `{INSTALL}` \
             (Debian/Ubuntu), then run the tests again",
            root.display()
        ),
    }
}

fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A command for a server binary, run as the `postgres` OS user when the tests run as root.
fn server_command(program: &str) -> Command {
    let program = bin_dir().join(program);
    let mut c = if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    // The postgres user may not enter the test's own folder; every path given is absolute.
    c.current_dir("/");
    c
}

fn run(mut c: Command, what: &str) -> Output {
    let out = c
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {c:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A port number for a new cluster's socket: spread over a range by process and count, so
/// that the servers' System V shared-memory keys (derived from the port) rarely meet, and
/// never one whose socket file exists in the folder.
fn socket_port(folder: &Path) -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed) as u32;
        let port = (20_000 + (std::process::id() * 97 + n * 7919) % 40_000) as u16;
        if !folder.join(format!(".s.PGSQL.{port}")).exists()
            && !folder.join(format!(".s.PGSQL.{port}.lock")).exists()
        {
            return port;
        }
    }
}

/// Extra settings for a cluster: lines for postgresql.conf and pg_hba.conf, and files to
/// copy into the data directory (server certificate and key, CA) before the first start.
#[derive(Clone, Debug, Default)]
pub struct Setup {
    pub conf: Vec<String>,
    /// Replaces the whole pg_hba.conf when given.
    pub hba: Option<String>,
    /// (name in the data directory, file to copy); copied with mode 0600 for the server.
    pub files: Vec<(String, PathBuf)>,
    /// Also listen on 127.0.0.1 (loopback only), on a free TCP port chosen at start; the
    /// socket then has the same port number.
    pub tcp: bool,
}

/// One running throwaway server.
pub struct Cluster {
    /// The cluster's folder: `data/`, `server.log` and the socket.
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    port: u16,
    watchdog: Option<Child>,
}

impl Cluster {
    /// A fresh cluster on a Unix socket; superuser `postgres`, local connections trusted.
    pub fn start() -> Cluster {
        Cluster::start_with(&Setup::default())
    }

    pub fn start_with(setup: &Setup) -> Cluster {
        let mut c = Cluster::init(setup, &[]);
        if !setup.tcp {
            c.pg_ctl_start();
            return c;
        }
        // A free loopback port: another process may take it between the look and the
        // server's bind, so a refused bind tries another.
        for _ in 0..5 {
            c.port = free_loopback_port();
            c.append_conf(&[
                "listen_addresses = '127.0.0.1'".into(),
                format!("port = {}", c.port),
            ]);
            if c.try_start().is_ok() {
                return c;
            }
            if !c.log().contains("could not bind") {
                break;
            }
        }
        c.pg_ctl_start();
        c
    }

    /// initdb in a new folder, with the settings written but the server not started.
    fn init(setup: &Setup, more_conf: &[String]) -> Cluster {
        let c = Cluster::new_folder();
        let mut initdb = server_command("initdb");
        initdb
            .args(["--auth=trust", "--username=postgres", "--encoding=UTF8"])
            // The initial files need no fsync of their own: the tests crash the server, not
            // the machine. The server itself runs with fsync on.
            .args(["--locale=C", "--no-instructions", "--no-sync", "-D"])
            .arg(c.data_dir());
        run(initdb, "initdb");
        let mut conf = c.base_conf();
        conf.extend(setup.conf.iter().cloned());
        conf.extend(more_conf.iter().cloned());
        c.append_conf(&conf);
        if let Some(hba) = &setup.hba {
            c.write_data_file("pg_hba.conf", hba.as_bytes());
        }
        for (name, from) in &setup.files {
            let bytes = std::fs::read(from)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", from.display()));
            c.write_data_file(name, &bytes);
        }
        c
    }

    /// A new folder for a cluster (owned by the server's user), its socket's port, and the
    /// watchdog that removes it should the test process die from here on.
    fn new_folder() -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("titrate-pg-")
            .tempdir()
            .unwrap();
        let path = dir.path().to_path_buf();
        if running_as_root() {
            chown_postgres(&path);
        }
        let port = socket_port(&path);
        let mut c = Cluster {
            dir: Some(dir),
            path,
            port,
            watchdog: None,
        };
        c.watchdog = Some(c.spawn_watchdog());
        c
    }

    /// The settings every test cluster has: its own socket only, small memory, enough
    /// connections for the 50-writer bench, and durable commits (fsync is what we test).
    fn base_conf(&self) -> Vec<String> {
        vec![
            "listen_addresses = ''".into(),
            format!("port = {}", self.port),
            format!("unix_socket_directories = '{}'", self.path.display()),
            "max_connections = 150".into(),
            "shared_buffers = 32MB".into(),
            "fsync = on".into(),
            "synchronous_commit = on".into(),
            "full_page_writes = on".into(),
            "max_wal_size = 256MB".into(),
            "logging_collector = off".into(),
            "log_min_messages = warning".into(),
        ]
    }

    fn append_conf(&self, lines: &[String]) {
        let conf = self.data_dir().join("postgresql.conf");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .unwrap();
        writeln!(f, "\n# titrate test cluster").unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
    }

    /// Writes a file into the data directory, owned by the server's user, mode 0600.
    pub fn write_data_file(&self, name: &str, bytes: &[u8]) {
        use std::os::unix::fs::PermissionsExt;
        let p = self.data_dir().join(name);
        std::fs::write(&p, bytes).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        if running_as_root() {
            chown_postgres(&p);
        }
    }

    /// A shell that waits for the end of a pipe this process holds, then stops the server
    /// and removes the folder: the clean-up for a test process that dies without `Drop`.
    fn spawn_watchdog(&self) -> Child {
        use std::os::unix::process::CommandExt;
        let pg_ctl = bin_dir().join("pg_ctl");
        let as_postgres = if running_as_root() {
            "runuser -u postgres -- "
        } else {
            ""
        };
        // Three rounds: an initdb, pg_basebackup or pg_ctl start that the dead test left
        // running may still create files or start the server just after the first.
        let script = format!(
            "trap '' INT HUP TERM; read -r _; for i in 1 2 3; do {as_postgres}'{}' -D '{}' stop -m immediate >/dev/null 2>&1; rm -rf '{}'; sleep 2; done",
            pg_ctl.display(),
            self.data_dir().display(),
            self.path.display()
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap()
    }

    fn pg_ctl_start(&self) {
        if let Err(why) = self.try_start() {
            panic!("{why}");
        }
    }

    fn try_start(&self) -> Result<(), String> {
        let mut c = server_command("pg_ctl");
        c.arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", "60", "start"]);
        let out = c.stdin(Stdio::null()).output().unwrap();
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "the test cluster in {} did not start:\n{}\n{}\nserver log:\n{}",
            self.path.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        ))
    }

    /// Starts the server again after a stop (the data directory as it was left).
    pub fn start_again(&self) {
        self.pg_ctl_start();
        self.wait_ready(Duration::from_secs(60));
    }

    /// `pg_ctl stop -m immediate`: the server dies as in a power cut (no checkpoint).
    /// Returns whether a server was running.
    pub fn stop_immediate(&self) -> bool {
        let mut c = server_command("pg_ctl");
        c.arg("-D")
            .arg(self.data_dir())
            .args(["-w", "stop", "-m", "immediate"]);
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    pub fn folder(&self) -> &Path {
        &self.path
    }

    /// The Unix-socket folder (the cluster's folder).
    pub fn socket_dir(&self) -> &Path {
        &self.path
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path.join("data")
    }

    pub fn log_file(&self) -> PathBuf {
        self.path.join("server.log")
    }

    /// The server log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    /// A libpq URL for database `db` as the superuser over the Unix socket.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgresql://postgres@/{db}?host={}&port={}",
            self.path.display(),
            self.port
        )
    }

    /// Creates a database and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        self.url(name)
    }

    /// Runs SQL with psql as the superuser; returns its output (unaligned, tuples only,
    /// trimmed). Panics when psql fails.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = run(self.psql_command(db, sql), "psql");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// psql as the superuser, without running it: for tests that look at a failure.
    pub fn psql_command(&self, db: &str, sql: &str) -> Command {
        let mut c = server_command("psql");
        c.args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.path)
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-U", "postgres", "-d", db, "-c", sql]);
        c
    }

    /// Waits until the server answers a query, for at most `limit`.
    fn wait_ready(&self, limit: Duration) {
        let t0 = Instant::now();
        loop {
            let ok = self
                .psql_command("postgres", "SELECT 1")
                .stdin(Stdio::null())
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if ok {
                return;
            }
            assert!(
                t0.elapsed() < limit,
                "the test cluster in {} does not answer after {limit:?}; server log:\n{}",
                self.path.display(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Cluster {
    /// What the death of the test process does: the watchdog's pipe closes and nothing else
    /// runs. The watchdog is then the only one to stop the server and remove the folder.
    pub fn abandon(mut self) {
        if let Some(mut w) = self.watchdog.take() {
            drop(w.stdin.take());
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.keep();
        }
        std::mem::forget(self);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_immediate();
        // The watchdog is for a test process that dies; this one does the clean-up itself.
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}

/// A TCP port on 127.0.0.1 that nobody listens on at the moment of asking.
pub fn free_loopback_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn chown_postgres(p: &Path) {
    let mut c = Command::new("chown");
    c.arg("postgres:postgres").arg(p);
    run(c, "chown to the postgres user");
}

/// A primary and a synchronous streaming replica, each with its own folder, socket and port.
/// A commit on the primary returns only once the replica has it.
pub struct Pair {
    pub primary: Cluster,
    pub replica: Cluster,
}

impl Pair {
    pub fn start() -> Pair {
        let primary = Cluster::init(
            &Setup::default(),
            &[
                "wal_level = replica".into(),
                "max_wal_senders = 5".into(),
                "synchronous_standby_names = '*'".into(),
                "synchronous_commit = on".into(),
            ],
        );
        primary.pg_ctl_start();

        // The replica's folder: no initdb, pg_basebackup fills its data directory.
        let replica = Cluster::new_folder();
        let mut bb = server_command("pg_basebackup");
        bb.arg("-D")
            .arg(replica.data_dir())
            .args([
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
                "-U",
                "postgres",
                "-h",
            ])
            .arg(primary.socket_dir())
            .arg("-p")
            .arg(primary.port().to_string());
        run(bb, "pg_basebackup");
        let mut conf = replica.base_conf();
        // Once promoted, the former replica has no standby of its own: it must not wait for one.
        conf.push("synchronous_standby_names = ''".into());
        conf.push("hot_standby = on".into());
        replica.append_conf(&conf);
        replica.pg_ctl_start();

        let pair = Pair { primary, replica };
        pair.wait_synchronous(Duration::from_secs(60));
        pair
    }

    /// Waits until the primary reports its replica as synchronous.
    fn wait_synchronous(&self, limit: Duration) {
        let t0 = Instant::now();
        loop {
            let state = self.primary.psql(
                "postgres",
                "SELECT string_agg(sync_state, ',') FROM pg_stat_replication",
            );
            if state == "sync" {
                return;
            }
            assert!(
                t0.elapsed() < limit,
                "the replica did not become synchronous within {limit:?} (state {state:?}); replica log:\n{}",
                self.replica.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A libpq URL that lists both servers and asks for the writable one.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgresql://postgres@/{db}?host={},{}&port={},{}&target_session_attrs=read-write",
            self.primary.socket_dir().display(),
            self.replica.socket_dir().display(),
            self.primary.port(),
            self.replica.port()
        )
    }

    /// The same in libpq's key=value form. tokio-postgres reads a URL's `?host=` as one
    /// folder (it does not split it at commas as libpq does), so a client that hands the
    /// string to `postgres::Config` directly needs this form; titrate's `pg_tls::connect`
    /// takes either.
    pub fn conninfo(&self, db: &str) -> String {
        format!(
            "user=postgres dbname={db} host={},{} port={},{} target_session_attrs=read-write",
            self.primary.socket_dir().display(),
            self.replica.socket_dir().display(),
            self.primary.port(),
            self.replica.port()
        )
    }

    /// Creates a database on the primary (it reaches the replica by replication); its URL.
    pub fn create_database(&self, name: &str) -> String {
        self.primary
            .psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        self.url(name)
    }

    /// The primary dies at once (`pg_ctl stop -m immediate`).
    pub fn kill_primary(&self) {
        assert!(
            self.primary.stop_immediate(),
            "the primary was not running; its log:\n{}",
            self.primary.log()
        );
    }

    /// Promotes the replica and waits until it takes writes.
    pub fn promote_replica(&self) {
        let mut c = server_command("pg_ctl");
        c.arg("-D")
            .arg(self.replica.data_dir())
            .args(["-w", "-t", "60", "promote"]);
        run(c, "pg_ctl promote");
        let t0 = Instant::now();
        loop {
            let r = self.replica.psql("postgres", "SELECT pg_is_in_recovery()");
            if r == "f" {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "the replica is still in recovery a minute after promotion; its log:\n{}",
                self.replica.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // Proof that it takes writes, not only that it left recovery.
        self.replica.psql(
            "postgres",
            "CREATE TEMP TABLE promoted (x int); INSERT INTO promoted VALUES (1)",
        );
        self.replica.wait_ready(Duration::from_secs(10));
    }
}
