//! Proof that the promises of clinical record keeping hold when things go wrong: writers
//! killed with SIGKILL at random moments, a backup killed half-way, eight terminals writing
//! at once while two backups are taken, tampering with the pseudonym table, an upgrade from
//! schema version 1 (and one killed half-way), a database from a newer titrate, and what
//! files titrate leaves behind and what its refusals say.
//!
//! Every test fails with the numbers that broke the promise. Run with `--nocapture` to see
//! the tallies (how many kills landed before the commit, after it, and so on).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};
use common::{CONFIG, Ward, dump, first_number, hours_ago, rfc, text};
use rusqlite::{Connection, OpenFlags};
use titrate::store::sqlite::schema_version;

const BIN: &str = env!("CARGO_BIN_EXE_titrate");

/// Courses in the generated record whose backups are killed.
const BACKUP_KILL_COURSES: usize = 4;
const FIXTURE_V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/schema-v1.db");

/// The tables of schema version 1.
const V1_TABLES: [&str; 8] = [
    "staff",
    "protocol",
    "patient",
    "course",
    "entry",
    "void",
    "audit",
    "audit_head",
];

/// A small seeded generator (xorshift64*): the same kill moments on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Chooses kill moments. Half of them are spread evenly over the life of the process
/// (start-up, sign-in, transaction, commit, printing); the other half aim at the moment the
/// work is stored, which is a few milliseconds long: every outcome moves the aim a step later
/// (the kill came before the work was stored) or earlier (it came after), so the aim settles
/// where half the kills land before and half after, that is, on the commit itself.
struct KillMoments {
    rng: Rng,
    span: u64,
    aim: i64,
    draws: u64,
}

impl KillMoments {
    fn new(seed: u64, span: u64, aim: u64) -> KillMoments {
        KillMoments {
            rng: Rng(seed),
            span,
            aim: aim as i64,
            draws: 0,
        }
    }

    fn next(&mut self) -> u64 {
        self.draws += 1;
        if self.draws <= 6 || self.draws.is_multiple_of(2) {
            self.rng.below(self.span + 1)
        } else {
            (self.aim + self.rng.below(7) as i64 - 3).max(0) as u64
        }
    }

    /// Whether the kill came after the work was stored.
    fn learn(&mut self, after: bool) {
        let step = (self.span as i64 / 20).max(2);
        self.aim += if after { -step } else { step };
    }
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn both(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// `titrate check FILE`: exit code and everything it printed.
fn check_file(w: &Ward, file: &Path) -> (Option<i32>, String) {
    let out = w.run_with("AB", "1234", &[], &["check", &file.to_string_lossy()]);
    (code(&out), both(&out))
}

fn assert_check_sound(w: &Ward, file: &Path, when: &str) {
    let (c, out) = check_file(w, file);
    assert!(
        c == Some(0) && out.contains("sound: the file is intact"),
        "{when}: `titrate check {}` exit {c:?}, not sound:\n{out}",
        file.display()
    );
}

fn assert_audit_sound(w: &Ward, when: &str) {
    let out = w.run_with("AB", "1234", &[], &["audit", "verify"]);
    assert!(
        out.status.success() && text(&out.stdout).contains("audit chain sound"),
        "{when}: `titrate audit verify` exit {:?}:\n{}",
        code(&out),
        both(&out)
    );
}

fn integrity(path: &Path) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn.prepare("PRAGMA integrity_check").unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

fn count(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> i64 {
    conn.query_row(sql, p, |r| r.get(0)).unwrap()
}

/// Every row of the given tables, read without writing anything.
fn dump_tables(db: &Path, tables: &[&str]) -> Vec<String> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut out = Vec::new();
    for t in tables {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {t} ORDER BY 1"))
            .unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                let mut s = format!("{t}:");
                for i in 0..n {
                    s.push_str(&format!("{:?}|", r.get_ref(i)?));
                }
                Ok(s)
            })
            .unwrap();
        out.extend(rows.map(|r| r.unwrap()));
    }
    out
}

fn user_version(db: &Path) -> i64 {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    count(&conn, "PRAGMA user_version", [])
}

fn has_table(db: &Path, table: &str) -> bool {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    count(
        &conn,
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
    ) == 1
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Names in a folder, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Every file and folder below `dir`, as paths relative to it.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            if p.is_dir() {
                todo.push(p);
            }
        }
    }
    out.sort();
    out
}

fn add_patient(w: &Ward, mrn: &str, name: &str) {
    w.ok(&[
        "patient",
        "add",
        "--mrn",
        mrn,
        "--name",
        name,
        "--birth-date",
        "1975-05-05",
        "--sex",
        "female",
        "--weight-kg",
        "70",
    ]);
}

/// A patient with a running course that started `start`, on 2 mg/h from the start.
fn running_course(w: &Ward, mrn: &str, start: DateTime<Utc>) {
    add_patient(w, mrn, "Reliable Patient");
    w.ok(&["course", "start", "--mrn", mrn, "--at", &rfc(start)]);
    w.ok(&["dose", "--mrn", mrn, "--rate", "2", "--at", &rfc(start)]);
}

/// One entry command that protocol rules never refuse on a course running at 2 mg/h:
/// the same-rate hourly check, a pain score, or a mild side effect.
fn entry_args(kind: &str, mrn: &str, at: &str, n: u64) -> Vec<String> {
    let mut a: Vec<String> = match kind {
        "rate" => vec!["dose".into(), "--rate".into(), "2".into()],
        "nrs" => vec!["nrs".into(), "--score".into(), format!("{}", n % 11)],
        _ => vec![
            "side-effect".into(),
            "--kind".into(),
            "nausea".into(),
            "--severity".into(),
            "mild".into(),
            "--action".into(),
            "none".into(),
        ],
    };
    a.extend(["--mrn".into(), mrn.into(), "--at".into(), at.into()]);
    a
}

/// The id in "entry N saved", if the process got that far.
fn acknowledged(stdout: &str) -> Option<i64> {
    let line = stdout.lines().find(|l| l.starts_with("entry "))?;
    line.contains(" saved").then(|| first_number(line))
}

// ------------------------------------------------------------------------------------------
// 1. Crashes
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Landed {
    /// The process had exited before the kill was sent.
    Finished,
    /// Killed; its entry was not stored.
    BeforeCommit,
    /// Killed after the commit, before it printed the id.
    AfterCommitUnacknowledged,
    /// Killed after it printed the id.
    AfterAcknowledgement,
}

struct Attempt {
    kind: &'static str,
    at: String,
    id: Option<i64>,
    landed: Landed,
    delay_ms: u64,
}

/// After every kill: the record is sound, and every acknowledged entry is there once.
fn assert_after_kill(w: &Ward, attempts: &[Attempt], base_entries: i64, when: &str) {
    // Read-only first, as a ward would after a crash.
    assert_check_sound(w, w.path(), when);
    let ic = integrity(w.path());
    assert_eq!(ic, vec!["ok".to_string()], "{when}: PRAGMA integrity_check");
    let conn = Connection::open(w.path()).unwrap();
    let mut committed = 0;
    for (n, a) in attempts.iter().enumerate() {
        let same = count(
            &conn,
            "SELECT COUNT(*) FROM entry WHERE kind = ?1 AND happened_at = ?2",
            [a.kind, a.at.as_str()],
        );
        assert!(
            same <= 1,
            "{when}: attempt {n} ({} at {}) is stored {same} times",
            a.kind,
            a.at
        );
        committed += same;
        if let Some(id) = a.id {
            let rows = count(
                &conn,
                "SELECT COUNT(*) FROM entry WHERE id = ?1 AND kind = ?2 AND happened_at = ?3",
                rusqlite::params![id, a.kind, a.at],
            );
            assert_eq!(
                rows, 1,
                "{when}: acknowledged entry {id} ({} at {}, attempt {n}, killed {} ms after spawn, {:?}) is present {rows} times",
                a.kind, a.at, a.delay_ms, a.landed
            );
        }
    }
    let total = count(&conn, "SELECT COUNT(*) FROM entry", []);
    assert_eq!(
        total,
        base_entries + committed,
        "{when}: {total} entries stored, expected {base_entries} from the set-up and {committed} from the attempts: an entry no attempt made"
    );
    // No half entry: every entry row has its audit row, and the head is the newest row.
    let orphans = count(
        &conn,
        "SELECT COUNT(*) FROM entry e WHERE NOT EXISTS \
         (SELECT 1 FROM audit a WHERE a.tbl = 'entry' AND a.row_key = CAST(e.id AS TEXT))",
        [],
    );
    assert_eq!(orphans, 0, "{when}: entries without an audit row");
    let head = count(&conn, "SELECT seq FROM audit_head", []);
    let newest = count(&conn, "SELECT MAX(seq) FROM audit", []);
    assert_eq!(
        head, newest,
        "{when}: audit head at {head}, newest audit row {newest}"
    );
    drop(conn);
    assert_audit_sound(w, when);
}

fn spawn_titrate(w: &Ward, args: &[String]) -> std::process::Child {
    w.command("AB", "1234")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Sends SIGKILL `delay_ms` after spawning; tells whether the process was still running.
fn kill_after(mut child: std::process::Child, delay_ms: u64) -> (bool, Output) {
    std::thread::sleep(std::time::Duration::from_millis(delay_ms));
    let finished = child.try_wait().unwrap().is_some();
    if !finished {
        // It may exit between the two calls; then the kill finds nothing to do.
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    let killed = out.status.signal() == Some(9);
    (killed, out)
}

#[test]
fn writers_killed_at_random_moments_lose_nothing_acknowledged() {
    let w = Ward::new();
    let start = hours_ago(30);
    running_course(&w, "6001", start);
    let base_entries = 2;
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut minute = 0;
    let kinds = ["rate", "nrs", "side-effect"];

    // How long one write takes here, so that the kill moments cover the whole life of a
    // writer: start-up, sign-in (argon2), the transaction, the commit and the printing.
    let mut lifetimes = Vec::new();
    for kind in kinds {
        minute += 1;
        let at = rfc(start + Duration::minutes(minute));
        let t = std::time::Instant::now();
        let out = w.ok(&entry_args(kind, "6001", &at, minute as u64)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>());
        lifetimes.push(t.elapsed().as_millis() as u64);
        attempts.push(Attempt {
            kind,
            at,
            id: Some(acknowledged(&out).unwrap()),
            landed: Landed::Finished,
            delay_ms: 0,
        });
    }
    let mut sorted = lifetimes.clone();
    sorted.sort();
    let life = sorted[1];
    let span = (life * 6 / 5).max(40);

    let mut rng = Rng(0x5EED_0001_C0FF_EE11);
    let mut moments = KillMoments::new(0x0DE1_A7ED_0000_0001, span, life.saturating_sub(2));
    let mut kills = 0;
    while kills < 36 && attempts.len() < 150 {
        minute += 1;
        let kind = kinds[rng.below(3) as usize];
        let at = rfc(start + Duration::minutes(minute));
        let delay_ms = moments.next();
        let child = spawn_titrate(&w, &entry_args(kind, "6001", &at, minute as u64));
        let (killed, out) = kill_after(child, delay_ms);
        let stdout = text(&out.stdout);
        let id = acknowledged(&stdout);
        if !killed {
            assert!(
                out.status.success(),
                "a writer that was not killed failed: {}",
                both(&out)
            );
        }
        let stored = {
            let conn = Connection::open(w.path()).unwrap();
            count(
                &conn,
                "SELECT COUNT(*) FROM entry WHERE kind = ?1 AND happened_at = ?2",
                [kind, at.as_str()],
            ) > 0
        };
        let landed = match (killed, id, stored) {
            (false, _, _) => Landed::Finished,
            (true, Some(_), _) => Landed::AfterAcknowledgement,
            (true, None, true) => Landed::AfterCommitUnacknowledged,
            (true, None, false) => Landed::BeforeCommit,
        };
        moments.learn(landed != Landed::BeforeCommit);
        kills += usize::from(killed);
        attempts.push(Attempt {
            kind,
            at,
            id,
            landed,
            delay_ms,
        });
        let when = format!(
            "after attempt {} ({kind}, killed {delay_ms} ms after spawn, {landed:?})",
            attempts.len() - 1
        );
        assert_after_kill(&w, &attempts, base_entries, &when);
    }
    let mut tally: BTreeMap<Landed, usize> = BTreeMap::new();
    for a in &attempts[3..] {
        *tally.entry(a.landed).or_default() += 1;
    }
    eprintln!(
        "crash: {} attempts, {kills} SIGKILLs, delays 0..={span} ms and around the commit (one write takes {lifetimes:?} ms, the aim ended at {} ms): {tally:?}; acknowledged {} all present once",
        attempts.len() - 3,
        moments.aim,
        attempts.iter().filter(|a| a.id.is_some()).count()
    );
    assert!(
        kills >= 30,
        "only {kills} of {} attempts were still running when killed",
        attempts.len() - 3
    );
    // The record still takes entries after all that.
    minute += 1;
    w.ok(&[
        "nrs",
        "--mrn",
        "6001",
        "--score",
        "4",
        "--at",
        &rfc(start + Duration::minutes(minute)),
    ]);
    assert_audit_sound(&w, "after the crash series and one more entry");
}

#[test]
fn backup_killed_midway_leaves_the_record_sound_and_no_copy_that_passes_for_whole() {
    // A record of some size (generated through the store, every row with its audit row), so
    // that copying it takes long enough for kills to land in the middle of the copy.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    let generated = titrate::generate::generate(
        &db,
        &titrate::config::Config::defaults(),
        BACKUP_KILL_COURSES,
        7,
        Utc::now(),
    )
    .unwrap();
    let w = Ward { dir, db };
    let out = w.run_with(
        "GEN",
        "0000",
        &[("TITRATE_NEW_PIN", "1234")],
        &[
            "staff",
            "add",
            "--id",
            "AB",
            "--name",
            "Anna Boer",
            "--role",
            "admin",
        ],
    );
    assert!(out.status.success(), "{}", both(&out));
    let dir = w.dir.path().to_path_buf();
    // The shortest of three backups: the life of an unhurried one.
    let mut life = u64::MAX;
    for k in 0..3 {
        let t = std::time::Instant::now();
        let out = w.ok(&[
            "backup",
            &dir.join(format!("calibrate-{k}.db")).to_string_lossy(),
        ]);
        assert!(out.contains("sound: the file is intact"), "{out}");
        life = life.min(t.elapsed().as_millis() as u64);
    }
    let span = (life * 13 / 10).max(40);

    // The copy is made after the sign-in, near the end.
    let mut moments = KillMoments::new(0xBAC0_0000_0000_0B0B, span, life.saturating_sub(4));
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut kills = 0;
    let mut messages = BTreeSet::new();
    let mut journals = Vec::new();
    let mut n = 0;
    while kills < 12 && n < 40 {
        n += 1;
        let file = dir.join(format!("killed-{n}.db"));
        let delay_ms = moments.next();
        let child = spawn_titrate(&w, &["backup".into(), file.to_string_lossy().into()]);
        let (killed, out) = kill_after(child, delay_ms);
        if !killed {
            assert!(out.status.success(), "backup {n} failed: {}", both(&out));
        }
        kills += usize::from(killed);
        moments.learn(file.exists());
        let when = format!("backup {n} killed {delay_ms} ms after spawn (killed: {killed})");
        assert_check_sound(&w, w.path(), &when);
        assert_eq!(integrity(w.path()), vec!["ok".to_string()], "{when}");
        assert_audit_sound(&w, &when);
        let journal = PathBuf::from(format!("{}-journal", file.display()));
        let journal_bytes = std::fs::metadata(&journal).map(|m| m.len()).ok();
        let mut outcome = classify_copy(&w, &file, &when, &mut messages);
        if let Some(bytes) = journal_bytes {
            // SQLite's rollback journal of the unfinished copy is left beside it. Whoever
            // opens the copy for writing next (the sqlite3 shell, a restore) rolls it back:
            // what is the copy then?
            if file.exists() {
                let c = Connection::open(&file).unwrap();
                let _ = c.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| {
                    r.get::<_, i64>(0)
                });
            }
            let again = classify_copy(&w, &file, &when, &mut messages);
            journals.push(format!(
                "killed-{n}.db-journal ({bytes} bytes): the copy read-only: {outcome}; after a read-write open: {again}"
            ));
            outcome = format!("{outcome}, journal left");
        }
        *seen.entry(outcome).or_default() += 1;
    }
    eprintln!(
        "backup kills: a record of {} entries, {} bytes; {n} backups, {kills} SIGKILLs, delays 0..={span} ms and around the copy (aim ended at {} ms): {seen:?}; partial copies said {messages:?}; journals: {journals:?}",
        generated.entries,
        std::fs::metadata(w.path()).unwrap().len(),
        moments.aim,
    );
    assert!(
        kills >= 5,
        "only {kills} backups were still running when killed"
    );
    // A backup after all that works.
    let last = dir.join("after.db");
    w.ok(&["backup", &last.to_string_lossy()]);
    assert_check_sound(&w, &last, "the backup after the kills");
}

/// What a backup file left by a killed `titrate backup` is: absent, the whole record and
/// sound, or failing `titrate check` with a clear message. A file that passes the check but
/// is not the whole record fails the test.
fn classify_copy(w: &Ward, file: &Path, when: &str, messages: &mut BTreeSet<String>) -> String {
    if !file.exists() {
        return "absent".into();
    }
    assert_eq!(mode(file), 0o600, "{when}: backup mode");
    let (c, said) = check_file(w, file);
    if c == Some(0) {
        assert_eq!(
            dump(file),
            dump(w.path()),
            "{when}: the copy passes `titrate check` but differs from the record"
        );
        "complete and sound".into()
    } else {
        assert!(
            said.contains("NOT SOUND") || said.contains("cannot open"),
            "{when}: `titrate check` on the partial copy exit {c:?} but says nothing clear:\n{said}"
        );
        let last = said.lines().last().unwrap_or_default().to_string();
        messages.insert(format!("exit {c:?}: {last}"));
        format!(
            "partial ({} bytes), check fails",
            std::fs::metadata(file).unwrap().len()
        )
    }
}

// ------------------------------------------------------------------------------------------
// 2. Concurrency
// ------------------------------------------------------------------------------------------

struct Written {
    id: i64,
    kind: &'static str,
    mrn: &'static str,
    at: String,
}

#[test]
fn eight_writers_two_patients_three_kinds_and_two_backups_at_once() {
    let w = Ward::new();
    let start = hours_ago(30);
    let mrns = ["6201", "6202"];
    for m in mrns {
        running_course(&w, m, start);
    }
    let base_entries = 4;
    let writers = 8;
    let per_writer = 9;
    let total = writers * per_writer;
    let acked = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let db = w.path().to_path_buf();
    let dir = w.dir.path().to_path_buf();

    let mut handles = Vec::new();
    for p in 0..writers {
        let jobs: Vec<(&'static str, &'static str, String)> = (0..per_writer)
            .map(|i| {
                // Each writer alternates patients, so at any moment several write to the same
                // one; every entry has its own minute, so no rate check is a step.
                let mrn = mrns[(p + i) % 2];
                let kind = ["rate", "nrs", "side-effect"][(p + i) % 3];
                let at = rfc(start + Duration::minutes((1 + p * 20 + i) as i64));
                (kind, mrn, at)
            })
            .collect();
        let (db, dir, acked, done) = (db.clone(), dir.clone(), acked.clone(), done.clone());
        handles.push(std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut problems = Vec::new();
            for (i, (kind, mrn, at)) in jobs.into_iter().enumerate() {
                let out = Command::new(BIN)
                    .env_clear()
                    .env("TITRATE_DB", &db)
                    .env("TITRATE_CONFIG", CONFIG)
                    .env("TITRATE_USER", "AB")
                    .env("TITRATE_PIN", "1234")
                    .current_dir(&dir)
                    .args(entry_args(kind, mrn, &at, (p + i) as u64))
                    .output()
                    .unwrap();
                let err = text(&out.stderr).to_lowercase();
                if err.contains("locked") || err.contains("busy") || !out.status.success() {
                    problems.push(format!(
                        "writer {p} {kind} {mrn} {at}: exit {:?}: {}",
                        code(&out),
                        both(&out)
                    ));
                    continue;
                }
                match acknowledged(&text(&out.stdout)) {
                    Some(id) => {
                        acked.fetch_add(1, Ordering::SeqCst);
                        got.push(Written { id, kind, mrn, at });
                    }
                    None => {
                        problems.push(format!("writer {p}: no id printed: {}", text(&out.stdout)))
                    }
                }
            }
            done.fetch_add(1, Ordering::SeqCst);
            (got, problems)
        }));
    }

    // Two backups while they write: one after about a sixth of the entries, one after half.
    let mut copies = Vec::new();
    let mut while_writing = Vec::new();
    for (k, after) in [(1, total / 6), (2, total / 2)] {
        while acked.load(Ordering::SeqCst) < after && done.load(Ordering::SeqCst) < writers {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let copy = dir.join(format!("during-{k}.db"));
        let before = acked.load(Ordering::SeqCst);
        let out = w.run_with("AB", "1234", &[], &["backup", &copy.to_string_lossy()]);
        let after_n = acked.load(Ordering::SeqCst);
        let err = text(&out.stderr).to_lowercase();
        assert!(
            out.status.success() && !err.contains("locked") && !err.contains("busy"),
            "backup {k} while writing: exit {:?}: {}",
            code(&out),
            both(&out)
        );
        while_writing.push((before, after_n, done.load(Ordering::SeqCst)));
        copies.push(copy);
    }

    let mut written = Vec::new();
    let mut problems = Vec::new();
    for h in handles {
        let (got, p) = h.join().unwrap();
        written.extend(got);
        problems.extend(p);
    }
    assert!(
        problems.is_empty(),
        "{} of {total} writes failed or saw a lock:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(written.len(), total, "acknowledged entries");
    let ids: HashSet<i64> = written.iter().map(|x| x.id).collect();
    assert_eq!(ids.len(), total, "every acknowledged id is distinct");

    let conn = Connection::open(w.path()).unwrap();
    for x in &written {
        let n = count(
            &conn,
            "SELECT COUNT(*) FROM entry e JOIN patient p ON p.id = e.patient_id \
             WHERE e.id = ?1 AND e.kind = ?2 AND p.mrn = ?3 AND e.happened_at = ?4",
            rusqlite::params![x.id, x.kind, x.mrn, x.at],
        );
        assert_eq!(
            n, 1,
            "acknowledged entry {} ({} for {} at {}) present {n} times",
            x.id, x.kind, x.mrn, x.at
        );
    }
    let stored = count(&conn, "SELECT COUNT(*) FROM entry", []);
    assert_eq!(
        stored,
        base_entries + total as i64,
        "entries stored vs acknowledged + set-up"
    );
    drop(conn);
    assert_audit_sound(&w, "after eight writers");
    assert_check_sound(&w, w.path(), "after eight writers");

    // Each copy is sound and is one consistent earlier state of this record: its rows are
    // rows of the record as it is now, and its audit log is a beginning of the record's.
    let now_rows: HashSet<String> = dump(w.path()).into_iter().collect();
    let mut sizes = Vec::new();
    for copy in &copies {
        assert_eq!(mode(copy), 0o600, "{}: mode", copy.display());
        assert_check_sound(&w, copy, "a backup taken while eight writers wrote");
        let rows = dump(copy);
        for r in &rows {
            if r.starts_with("audit_head:") || r.starts_with("staff:") {
                continue; // the head moves on; staff counters may change with sign-ins
            }
            assert!(
                now_rows.contains(r),
                "{}: a row that is not in the record: {r}",
                copy.display()
            );
        }
        let c = Connection::open(copy).unwrap();
        sizes.push(count(&c, "SELECT COUNT(*) FROM entry", []));
    }
    eprintln!(
        "concurrency: {writers} writers x {per_writer} = {total} entries, all present once; backups taken with (acknowledged before, after, writers done) = {while_writing:?}, holding {sizes:?} of {stored} entries"
    );
}

// ------------------------------------------------------------------------------------------
// 3. Tampering with the pseudonym table
// ------------------------------------------------------------------------------------------

/// A ward with one pseudonym, made by a pseudonymised export.
fn ward_with_pseudonym() -> Ward {
    let w = Ward::new();
    running_course(&w, "6301", hours_ago(30));
    let out = w.dir.path().join("export");
    w.ok(&["export", "--out", &out.to_string_lossy(), "--pseudonymize"]);
    let conn = Connection::open(w.path()).unwrap();
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM pseudonym", []), 1);
    drop(conn);
    assert_audit_sound(&w, "after the pseudonymised export");
    w
}

fn tamper(w: &Ward, sql: &str) {
    let conn = Connection::open(w.path()).unwrap();
    let triggers: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for t in triggers {
        conn.execute_batch(&format!("DROP TRIGGER {t}")).unwrap();
    }
    let changed = conn.execute(sql, []).unwrap();
    assert_eq!(changed, 1, "{sql}: rows changed");
}

#[test]
fn tampering_with_a_pseudonym_is_reported_naming_the_table() {
    {
        // The triggers refuse it from any connection that has not dropped them.
        let w = ward_with_pseudonym();
        let conn = Connection::open(w.path()).unwrap();
        for sql in [
            "UPDATE pseudonym SET day_offset = day_offset + 1",
            "DELETE FROM pseudonym",
        ] {
            assert!(conn.execute_batch(sql).is_err(), "{sql} was allowed");
        }
    }
    for sql in [
        "UPDATE pseudonym SET day_offset = CASE WHEN day_offset = 1 THEN 2 ELSE 1 END",
        "UPDATE pseudonym SET study_id = 'S99999'",
        "DELETE FROM pseudonym",
    ] {
        let w = ward_with_pseudonym();
        tamper(&w, sql);
        let out = w.run_with("AB", "1234", &[], &["audit", "verify"]);
        let said = text(&out.stdout);
        assert_eq!(
            code(&out),
            Some(3),
            "{sql}: audit verify exit; it said:\n{said}"
        );
        assert!(
            said.contains("BROKEN") && said.contains("pseudonym"),
            "{sql}: not named:\n{said}"
        );
        let (c, said) = check_file(&w, w.path());
        assert_eq!(c, Some(3), "{sql}: titrate check exit; it said:\n{said}");
        assert!(
            said.contains("NOT SOUND") && said.contains("pseudonym"),
            "{sql}: {said}"
        );
    }
}

#[test]
fn tampering_with_a_second_offset_is_reported_naming_the_table() {
    {
        let w = ward_with_pseudonym();
        let conn = Connection::open(w.path()).unwrap();
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM pseudonym_time", []), 1);
        for sql in [
            "UPDATE pseudonym_time SET second_offset = second_offset + 1",
            "DELETE FROM pseudonym_time",
            "INSERT INTO pseudonym_time (patient_id, second_offset, created_at, created_by) \
             VALUES ((SELECT id FROM patient), 5, '2026-01-01T00:00:00Z', 'AB')",
        ] {
            assert!(conn.execute_batch(sql).is_err(), "{sql} was allowed");
        }
    }
    for sql in [
        "UPDATE pseudonym_time SET second_offset = CASE WHEN second_offset = 1 THEN 2 ELSE 1 END",
        "DELETE FROM pseudonym_time",
    ] {
        let w = ward_with_pseudonym();
        tamper(&w, sql);
        let out = w.run_with("AB", "1234", &[], &["audit", "verify"]);
        let said = text(&out.stdout);
        assert_eq!(code(&out), Some(3), "{sql}: it said:\n{said}");
        assert!(
            said.contains("BROKEN") && said.contains("pseudonym_time"),
            "{sql}: not named:\n{said}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// 4. Upgrades
// ------------------------------------------------------------------------------------------

/// A copy of the schema-v1 fixture in a folder of its own.
fn v1_ward() -> Ward {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    std::fs::copy(FIXTURE_V1, &db).unwrap();
    Ward { dir, db }
}

fn backups_beside(w: &Ward) -> Vec<PathBuf> {
    names(w.dir.path())
        .into_iter()
        .filter(|n| n.starts_with("ward.db.schema-v1-") && n.ends_with(".bak"))
        .map(|n| w.dir.path().join(n))
        .collect()
}

fn assert_fixture_status(w: &Ward) {
    let out = w.ok(&["status", "--mrn", "7001", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["total_dose_mg"].as_f64(), Some(824.0), "{out}");
    assert_eq!(v["nrs_t0"].as_i64(), Some(8), "{out}");
    assert_eq!(v["nrs_t1"].as_i64(), Some(5), "{out}");
    assert_eq!(v["t1_responder"].as_bool(), Some(true), "{out}");
}

#[test]
fn a_schema_v1_database_is_backed_up_then_migrated_keeping_every_row() {
    let w = v1_ward();
    let v1_rows = dump_tables(&w.db, &V1_TABLES);
    assert_eq!(user_version(&w.db), 1);
    let audit_rows_v1 = v1_rows.iter().filter(|r| r.starts_with("audit:")).count();

    // `titrate check` reads it as it is and changes nothing.
    let bytes = std::fs::read(&w.db).unwrap();
    let (c, said) = check_file(&w, &w.db);
    assert_eq!(c, Some(0), "{said}");
    assert!(
        said.contains("SQLite integrity check: ok")
            && said.contains(&format!("audit chain: sound, {audit_rows_v1} rows")),
        "{said}"
    );
    assert!(
        std::fs::read(&w.db).unwrap() == bytes,
        "`titrate check` changed the v1 file"
    );
    assert_eq!(names(w.dir.path()), vec!["ward.db"], "check left files");
    assert_eq!(user_version(&w.db), 1);

    // Any command opens it: a backup beside it, then the migration.
    assert_fixture_status(&w);
    let baks = backups_beside(&w);
    assert_eq!(baks.len(), 1, "backups beside: {:?}", names(w.dir.path()));
    let bak = &baks[0];
    assert_eq!(mode(bak), 0o600, "{}", bak.display());
    assert_check_sound(&w, bak, "the pre-upgrade backup");
    assert_eq!(user_version(bak), 1, "the backup is of version 1");
    assert_eq!(
        dump_tables(bak, &V1_TABLES),
        v1_rows,
        "the backup holds the v1 rows"
    );

    assert_eq!(user_version(&w.db), schema_version());
    assert!(has_table(&w.db, "pseudonym"));
    let after = dump_tables(&w.db, &V1_TABLES);
    // The upgrade appends audit rows (the approvals of the protocols courses ran under), so
    // the head moves with them; `audit verify` below checks it.
    let (audit_after, rest_after): (Vec<_>, Vec<_>) = after
        .iter()
        .filter(|r| !r.starts_with("audit_head:"))
        .partition(|r| r.starts_with("audit:"));
    let (audit_before, rest_before): (Vec<_>, Vec<_>) = v1_rows
        .iter()
        .filter(|r| !r.starts_with("audit_head:"))
        .partition(|r| r.starts_with("audit:"));
    assert_eq!(
        rest_after, rest_before,
        "rows of the v1 tables changed in the upgrade"
    );
    assert!(
        audit_after.len() >= audit_before.len()
            && audit_after[..audit_before.len()] == audit_before[..],
        "the audit log was rewritten: {} rows before, {} after",
        audit_before.len(),
        audit_after.len()
    );
    assert_audit_sound(&w, "after the upgrade");
    assert_check_sound(&w, &w.db, "after the upgrade");

    // Opened again: no second backup, same figures.
    assert_fixture_status(&w);
    assert_eq!(backups_beside(&w).len(), 1, "a second backup was written");
    eprintln!(
        "upgrade: v1 -> v2, {} v1 rows kept, audit {} -> {} rows, backup {}",
        rest_before.len(),
        audit_before.len(),
        audit_after.len(),
        bak.file_name().unwrap().to_string_lossy()
    );
}

#[test]
fn an_upgrade_killed_midway_is_all_or_nothing() {
    let calibrate = v1_ward();
    let mut life = u64::MAX;
    for _ in 0..2 {
        let w = v1_ward();
        let t = std::time::Instant::now();
        assert_fixture_status(&w);
        life = life.min(t.elapsed().as_millis() as u64);
    }
    let span = (life * 13 / 10).max(40);
    let v1_rows = dump_tables(&calibrate.db, &V1_TABLES)
        .into_iter()
        .filter(|r| !r.starts_with("audit"))
        .collect::<Vec<_>>();
    // The upgrade happens on opening, before the sign-in: aim early at first.
    let mut moments = KillMoments::new(0x0071_6A7E_0000_0001, span, life / 4);
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    let mut check_refused = Vec::new();
    let mut partial_said = BTreeSet::new();
    let mut kills = 0;
    let mut n = 0;
    while kills < 12 && n < 40 {
        n += 1;
        let w = v1_ward();
        let original = dump_tables(&w.db, &V1_TABLES);
        let delay_ms = moments.next();
        let child = spawn_titrate(&w, &["status".into(), "--mrn".into(), "7001".into()]);
        let (killed, out) = kill_after(child, delay_ms);
        if !killed {
            assert!(out.status.success(), "{}", both(&out));
        }
        kills += usize::from(killed);
        let when = format!("upgrade {n} killed {delay_ms} ms after spawn (killed: {killed})");
        // `titrate check` first, on the file as the kill left it. The one way it is known to
        // fail is a rollback journal left by a kill while the database was still in rollback
        // mode (see `check_reads_a_database_whose_writer_was_killed_mid_transaction`): that
        // is tallied here, anything else fails the test.
        let journal = w.dir.path().join("ward.db-journal");
        let journal_left = journal.exists();
        // Hot: a journal whose header was synced, so the next writer must roll it back.
        let journal_hot = std::fs::read(&journal)
            .ok()
            .and_then(|b| b.first().copied())
            .is_some_and(|b| b != 0);
        let (c, said) = check_file(&w, &w.db);
        if c != Some(0) || !said.contains("sound: the file is intact") {
            assert!(
                journal_hot,
                "{when}: `titrate check` exit {c:?} with no hot journal left:\n{said}"
            );
            check_refused.push(format!(
                "{when}: {} bytes of journal left; check exit {c:?}: {}",
                std::fs::metadata(&journal).unwrap().len(),
                said.trim()
            ));
        }
        if journal_left {
            // What the next titrate to open it does: roll the unfinished transaction back.
            let conn = Connection::open(&w.db).unwrap();
            count(&conn, "SELECT COUNT(*) FROM sqlite_master", []);
            drop(conn);
            assert_check_sound(&w, &w.db, &format!("{when}, after the rollback"));
        }
        let v = user_version(&w.db);
        moments.learn(v == schema_version());
        let pseudonym = has_table(&w.db, "pseudonym");
        assert!(
            (v == 1 && !pseudonym) || (v == schema_version() && pseudonym),
            "{when}: half migrated: user_version {v}, pseudonym table {pseudonym}"
        );
        // Only the audit log grows (the upgrade's approval rows), and only at its end.
        let now_rows = dump_tables(&w.db, &V1_TABLES);
        let (audit_now, rest_now): (Vec<_>, Vec<_>) =
            now_rows.iter().partition(|r| r.starts_with("audit"));
        let (audit_was, rest_was): (Vec<_>, Vec<_>) =
            original.iter().partition(|r| r.starts_with("audit"));
        assert_eq!(rest_now, rest_was, "{when}: v1 rows changed");
        let log = |v: &[&String]| {
            v.iter()
                .filter(|r| r.starts_with("audit:"))
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
        };
        let (log_now, log_was) = (log(&audit_now), log(&audit_was));
        assert!(
            log_now.len() >= log_was.len() && log_now[..log_was.len()] == log_was[..],
            "{when}: the audit log was rewritten"
        );
        if v == 1 {
            assert_eq!(audit_now, audit_was, "{when}: audit changed, not migrated");
        }
        // Partial backups left beside it by the kill.
        let mut partial = 0;
        for bak in backups_beside(&w) {
            let (c, said) = check_file(&w, &bak);
            if c == Some(0) {
                let rows: Vec<String> = dump_tables(&bak, &V1_TABLES)
                    .into_iter()
                    .filter(|r| !r.starts_with("audit"))
                    .collect();
                assert_eq!(
                    rows, v1_rows,
                    "{when}: a sound backup that is not the v1 record"
                );
            } else {
                partial += 1;
                partial_said.insert(format!(
                    "{} bytes, exit {c:?}: {}",
                    std::fs::metadata(&bak).unwrap().len(),
                    said.lines().last().unwrap_or_default()
                ));
            }
        }
        // The next open finishes the job.
        assert_fixture_status(&w);
        assert_eq!(user_version(&w.db), schema_version(), "{when}");
        assert_audit_sound(&w, &when);
        let sound_baks = backups_beside(&w)
            .iter()
            .filter(|b| check_file(&w, b).0 == Some(0))
            .count();
        assert!(
            sound_baks >= 1,
            "{when}: migrated without a sound backup beside it: {:?}",
            names(w.dir.path())
        );
        let key = format!(
            "killed={killed} version-after-kill={v} journal-left={journal_left} hot={journal_hot} partial-backups-left={partial}"
        );
        *tally.entry(key).or_default() += 1;
    }
    eprintln!(
        "upgrade kills: {n} runs, {kills} SIGKILLs, delays 0..={span} ms and around the upgrade (aim ended at {} ms): {tally:?}; partial pre-upgrade backups left beside the database (a sound one is written on the next open) said {partial_said:?}; `titrate check` refused {} file(s) left by a kill: {check_refused:#?}",
        moments.aim,
        check_refused.len()
    );
    assert!(
        kills >= 5,
        "only {kills} upgrades were still running when killed"
    );
}

/// Run as a separate process by `check_reads_a_database_whose_writer_was_killed_mid_transaction`:
/// opens the database named in `RELIABILITY_HOLD_DB`, writes inside a transaction, says so
/// and waits to be killed. Does nothing when run on its own.
#[test]
#[ignore = "helper process, started by check_reads_a_database_whose_writer_was_killed_mid_transaction"]
fn helper_hold_a_write_transaction() {
    let Some(db) = std::env::var_os("RELIABILITY_HOLD_DB") else {
        return;
    };
    let conn = Connection::open(db).unwrap();
    // More changed pages than the page cache holds: SQLite syncs the journal and starts
    // writing into the database file before the commit, as in any large transaction.
    conn.execute_batch(
        "PRAGMA cache_size = 10; BEGIN IMMEDIATE; CREATE TABLE unfinished (x); \
         WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 500) \
         INSERT INTO unfinished SELECT randomblob(1000) FROM c;",
    )
    .unwrap();
    println!("HOLDING-WRITE-TRANSACTION");
    std::thread::sleep(std::time::Duration::from_secs(60));
}

#[test]
fn check_reads_a_database_whose_writer_was_killed_mid_transaction() {
    // Exactly what a titrate killed while opening a schema-v1 file (during the switch to WAL)
    // leaves: the file in rollback mode and a hot journal beside it. Made deterministically
    // here by a helper process that is killed while it holds a write transaction.
    let w = v1_ward();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "helper_hold_a_write_transaction",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RELIABILITY_HOLD_DB", &w.db)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::BufRead;
        let stdout = child.stdout.take().unwrap();
        let holding = std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.contains("HOLDING-WRITE-TRANSACTION"));
        assert!(holding, "the helper did not start its transaction");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let journal = w.dir.path().join("ward.db-journal");
    let journal_bytes = std::fs::read(&journal).unwrap_or_default();
    assert!(
        journal_bytes.first().is_some_and(|b| *b != 0),
        "no hot journal left: {:?}",
        names(w.dir.path())
    );
    let bytes = std::fs::read(&w.db).unwrap();

    let (c, said) = check_file(&w, &w.db);
    assert!(
        std::fs::read(&w.db).unwrap() == bytes && journal.exists(),
        "`titrate check` changed the file or removed the journal"
    );
    let sound = c == Some(0) && said.contains("sound: the file is intact");
    let clear = c != Some(0)
        && !said.contains("not a titrate database")
        && (said.contains("journal") || said.contains("unfinished"));
    assert!(
        sound || clear,
        "`titrate check` on a sound database left by a killed writer (a {} byte journal beside it) exit {c:?}:\n{said}",
        std::fs::metadata(&journal).unwrap().len()
    );
}

#[test]
fn a_database_from_a_newer_titrate_is_refused_untouched() {
    let w = v1_ward();
    {
        let conn = Connection::open(&w.db).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let bytes = std::fs::read(&w.db).unwrap();
    let listing = names(w.dir.path());
    let bak = w.dir.path().join("copy.db");
    for args in [
        vec!["status", "--mrn", "7001", "--json"],
        vec![
            "nrs",
            "--mrn",
            "7001",
            "--score",
            "3",
            "--at",
            "2025-01-20 10:00",
        ],
        vec!["audit", "verify"],
        vec!["check"],
        vec!["backup", bak.to_str().unwrap()],
    ] {
        let out = w.run_with("AB", "1234", &[], &args);
        assert!(!out.status.success(), "{args:?} accepted: {}", both(&out));
        assert!(
            text(&out.stderr).contains("newer"),
            "{args:?}: {}",
            both(&out)
        );
        assert!(
            std::fs::read(&w.db).unwrap() == bytes,
            "{args:?} changed the file"
        );
        assert_eq!(names(w.dir.path()), listing, "{args:?} left files");
    }
    assert_eq!(user_version(&w.db), 99);
}

// ------------------------------------------------------------------------------------------
// 5. Access
// ------------------------------------------------------------------------------------------

const SECRET_MRN: &str = "QX8675309";
const SECRET_NAME: &str = "Zwaantje Quirijnsdochter";

/// A ward in `root/work`, run with a permissive umask (000) and a home and temp folder of
/// its own, so that any file titrate makes and any log it might write can be seen.
struct Session {
    root: tempfile::TempDir,
}

impl Session {
    fn work(&self) -> PathBuf {
        self.root.path().join("work")
    }

    fn db(&self) -> PathBuf {
        self.work().join("ward.db")
    }

    fn run(&self, user: &str, pin: &str, new_pin: Option<&str>, args: &[&str]) -> Output {
        let home = self.root.path().join("home");
        let mut c = Command::new("sh");
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("TMPDIR", self.root.path().join("tmp"))
            .env("TITRATE_DB", self.db())
            .env("TITRATE_CONFIG", CONFIG)
            .env("TITRATE_USER", user)
            .env("TITRATE_PIN", pin)
            .current_dir(self.work())
            .arg("-c")
            .arg("umask 000 && exec \"$0\" \"$@\"")
            .arg(BIN)
            .args(args);
        if let Some(p) = new_pin {
            c.env("TITRATE_NEW_PIN", p);
        }
        c.output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run("AB", "1234", None, args);
        assert!(out.status.success(), "{args:?}: {}", both(&out));
        text(&out.stdout)
    }
}

fn session() -> Session {
    let root = tempfile::tempdir().unwrap();
    for d in ["work", "home", "tmp"] {
        std::fs::create_dir(root.path().join(d)).unwrap();
    }
    let s = Session { root };
    let out = s.run(
        "AB",
        "1234",
        Some("1234"),
        &["init", "--admin", "AB", "--name", "Anna Boer"],
    );
    assert!(out.status.success(), "{}", both(&out));
    s.ok(&[
        "patient",
        "add",
        "--mrn",
        SECRET_MRN,
        "--name",
        SECRET_NAME,
        "--birth-date",
        "1968-02-29",
        "--sex",
        "female",
    ]);
    for (id, role, pin) in [("NU", "nurse", "5678"), ("NV", "nurse", "8765")] {
        let out = s.run(
            "AB",
            "1234",
            Some(pin),
            &[
                "staff",
                "add",
                "--id",
                id,
                "--name",
                "Night Nurse",
                "--role",
                role,
            ],
        );
        assert!(out.status.success(), "{}", both(&out));
    }
    s
}

#[test]
fn a_session_leaves_only_private_files_it_was_asked_for() {
    let s = session();
    let start = hours_ago(30);
    let at = |m: i64| rfc(start + Duration::minutes(m));
    s.ok(&["course", "start", "--mrn", SECRET_MRN, "--at", &at(0)]);
    s.ok(&["dose", "--mrn", SECRET_MRN, "--rate", "2", "--at", &at(0)]);
    s.ok(&["nrs", "--mrn", SECRET_MRN, "--score", "6", "--at", &at(30)]);
    s.ok(&[
        "side-effect",
        "--mrn",
        SECRET_MRN,
        "--kind",
        "dizziness",
        "--severity",
        "mild",
        "--at",
        &at(45),
    ]);
    s.ok(&["status", "--mrn", SECRET_MRN]);
    s.ok(&["history", "--mrn", SECRET_MRN]);
    s.ok(&["cohort"]);
    s.ok(&["audit", "verify"]);
    s.ok(&["check"]);
    s.ok(&["backup", "backup.db"]);
    s.ok(&["export", "--out", "export", "--pseudonymize"]);
    s.ok(&["export", "--out", "export-named"]);
    s.ok(&[
        "summary",
        "--mrn",
        SECRET_MRN,
        "--format",
        "markdown",
        "--draft",
        "--out",
        "summary.md",
    ]);
    // A few refusals too: they must not leave anything behind either.
    let out = s.run("NU", "0000", None, &["status", "--mrn", SECRET_MRN]);
    assert!(!out.status.success());
    let out = s.run("NU", "5678", None, &["export", "--out", "nurse-export"]);
    assert!(!out.status.success());

    let work = s.work();
    // Database and backup: 0600, even with umask 000.
    assert_eq!(mode(&s.db()), 0o600, "database mode");
    assert_eq!(mode(&work.join("backup.db")), 0o600, "backup mode");
    assert_eq!(mode(&work.join("summary.md")), 0o600, "summary mode");
    for side in ["ward.db-wal", "ward.db-shm"] {
        let p = work.join(side);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{side} mode");
        }
    }
    for folder in ["export", "export-named"] {
        let d = work.join(folder);
        assert_eq!(mode(&d), 0o700, "{folder} folder mode");
        let files = names(&d);
        assert!(!files.is_empty(), "{folder} is empty");
        for f in files {
            assert_eq!(mode(&d.join(&f)), 0o600, "{folder}/{f} mode");
        }
    }
    // Nothing else: no log, no temporary file, no summaries folder.
    let allowed = |p: &Path| {
        let s = p.to_string_lossy();
        matches!(
            s.as_ref(),
            "ward.db" | "ward.db-wal" | "ward.db-shm" | "backup.db" | "summary.md"
        ) || s.starts_with("export/")
            || s.starts_with("export-named/")
            || s == "export"
            || s == "export-named"
    };
    let all = tree(&work);
    let extra: Vec<_> = all.iter().filter(|p| !allowed(p)).collect();
    assert!(
        extra.is_empty(),
        "files titrate was not asked for: {extra:?}"
    );
    let home = tree(&s.root.path().join("home"));
    assert!(home.is_empty(), "files in HOME: {home:?}");
    let tmp = tree(&s.root.path().join("tmp"));
    assert!(tmp.is_empty(), "files in TMPDIR: {tmp:?}");
}

#[test]
fn refusals_that_are_not_about_the_patient_name_no_patient() {
    let s = session();
    let start = hours_ago(30);
    let at = |m: i64| rfc(start + Duration::minutes(m));
    s.ok(&["course", "start", "--mrn", SECRET_MRN, "--at", &at(0)]);
    let dose = first_number(&s.ok(&["dose", "--mrn", SECRET_MRN, "--rate", "2", "--at", &at(0)]));
    let nrs = first_number(&s.ok(&["nrs", "--mrn", SECRET_MRN, "--score", "6", "--at", &at(30)]));
    let leaks = |out: &Output| -> Vec<&str> {
        let all = both(out);
        [SECRET_MRN, "8675309", "Zwaantje", "Quirijnsdochter"]
            .into_iter()
            .filter(|s| all.contains(s))
            .collect()
    };
    let mut cases: Vec<(String, Output)> = Vec::new();
    let dose_s = dose.to_string();
    let nrs_s = nrs.to_string();
    let at60 = at(60);
    let at_end = at(120);
    let wrong_pin: Vec<Vec<&str>> = vec![
        vec!["status", "--mrn", SECRET_MRN],
        vec!["history", "--mrn", SECRET_MRN],
        vec!["nrs", "--mrn", SECRET_MRN, "--score", "5", "--at", &at60],
        vec!["status", "--mrn", SECRET_MRN, "--json"],
        // the fifth wrong PIN locks the account
        vec!["dose", "--mrn", SECRET_MRN, "--rate", "2", "--at", &at60],
    ];
    for args in &wrong_pin {
        let out = s.run("NU", "0000", None, args);
        cases.push((format!("wrong PIN: {args:?}"), out));
    }
    for args in [
        vec!["status", "--mrn", SECRET_MRN],
        vec!["nrs", "--mrn", SECRET_MRN, "--score", "5", "--at", &at60],
        vec![
            "summary", "--mrn", SECRET_MRN, "--format", "markdown", "--draft", "--out", "x.md",
        ],
    ] {
        let out = s.run("NU", "5678", None, &args);
        assert!(
            both(&out).contains("locked"),
            "NU is not locked after 5 wrong PINs: {}",
            both(&out)
        );
        cases.push((format!("locked account: {args:?}"), out));
    }
    let out = s.run("ZZ", "1234", None, &["status", "--mrn", SECRET_MRN]);
    cases.push(("unknown staff id".into(), out));
    for args in [
        vec!["course", "end", "--mrn", SECRET_MRN, "--at", &at_end],
        vec![
            "success",
            "--mrn",
            SECRET_MRN,
            "--timepoint",
            "t1",
            "--value",
            "yes",
            "--at",
            &at_end,
        ],
        vec!["export", "--out", "nurse-export"],
        vec!["backup", "nurse-backup.db"],
        vec!["amend", &nrs_s, "--reason", "typo", "--score", "3"],
        vec![
            "amend", &dose_s, "--reason", "typo", "--rate", "2", "--at", &at60,
        ],
        vec!["void", &nrs_s, "--reason", "not mine"],
        vec![
            "staff", "add", "--id", "XX", "--name", "X", "--role", "admin",
        ],
    ] {
        let out = s.run("NV", "8765", None, &args);
        cases.push((format!("nurse NV denied: {args:?}"), out));
    }
    let mut leaked = Vec::new();
    for (what, out) in &cases {
        assert!(!out.status.success(), "{what} was accepted: {}", both(out));
        let l = leaks(out);
        if !l.is_empty() {
            leaked.push(format!("{what}: shows {l:?} in: {}", both(out).trim()));
        }
    }
    assert!(
        leaked.is_empty(),
        "{} of {} refusals name the patient:\n{}",
        leaked.len(),
        cases.len(),
        leaked.join("\n")
    );
    eprintln!(
        "access: {} refusals (wrong PIN, locked, unknown id, denied role), none names the patient",
        cases.len()
    );
}
