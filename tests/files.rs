//! Every file titrate writes, through the real binary: summaries (Markdown and PDF), the
//! export folder, backups, the demo database and the copy made before a migration. Each is
//! tried against an existing file, the open database and its companions, another database,
//! symbolic links at the target and at every name the old writer used for its temporary
//! file, a read-only folder, a full disk and a killed backup.
//!
//! Read-only folders and full disks are real: a tmpfs mounted read-only or 64 KiB small
//! (these tests run as root, where permission bits do not stop a write). Where mounting is
//! not permitted the test says so on stderr and checks the wording of the error through
//! `/dev/full` and `fsout::classify` instead.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{Ward, dump, hours_ago, rfc, text};

const FIXTURE_V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/schema-v1.db");

/// A ward with one running course (MRN 1001), so a draft summary can be written.
fn ward() -> Ward {
    let w = Ward::new();
    w.ok(&[
        "patient",
        "add",
        "--mrn",
        "1001",
        "--name",
        "Jan Jansen",
        "--birth-date",
        "1970-05-01",
        "--sex",
        "male",
        "--weight-kg",
        "80",
    ]);
    let at = rfc(hours_ago(3));
    w.ok(&["course", "start", "--mrn", "1001", "--at", &at]);
    w.ok(&["dose", "--mrn", "1001", "--rate", "2", "--at", &at]);
    w
}

/// The writing commands, each as the arguments that write `target`.
#[derive(Clone, Copy, Debug)]
enum Cmd {
    SummaryMd,
    SummaryPdf,
    Backup,
    Demo,
}

const CMDS: [Cmd; 4] = [Cmd::SummaryMd, Cmd::SummaryPdf, Cmd::Backup, Cmd::Demo];

impl Cmd {
    fn args(self, target: &Path, force: bool) -> Vec<String> {
        let t = target.to_string_lossy().into_owned();
        let mut a: Vec<String> = match self {
            Cmd::SummaryMd => vec![
                "summary", "--mrn", "1001", "--format", "markdown", "--draft", "--out", &t,
            ],
            Cmd::SummaryPdf => vec![
                "summary", "--mrn", "1001", "--format", "pdf", "--draft", "--out", &t,
            ],
            Cmd::Backup => vec!["backup", &t],
            Cmd::Demo => vec!["--db", &t, "demo", "--courses", "2"],
        }
        .into_iter()
        .map(str::to_string)
        .collect();
        if force {
            a.push("--force".into());
        }
        a
    }

    fn run(self, w: &Ward, target: &Path, force: bool) -> Output {
        let args = self.args(target, force);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        w.run_with("AB", "1234", &[], &args)
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn temp_names(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.contains(".tmp") || n.contains(".partial"))
        .collect()
}

fn refused(out: &Output, what: &str) -> String {
    assert!(
        !out.status.success(),
        "{what} was accepted: {}",
        text(&out.stdout)
    );
    let said = text(&out.stderr);
    assert!(!said.contains("not a titrate database"), "{what}: {said}");
    said
}

fn ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what} failed: {}", text(&out.stderr));
}

fn is_sqlite(p: &Path) -> bool {
    std::fs::read(p).is_ok_and(|b| b.starts_with(b"SQLite format 3\0"))
}

#[test]
fn every_writing_command_refuses_an_existing_file_unless_forced() {
    let w = ward();
    let dir = w.dir.path().to_path_buf();
    for cmd in CMDS {
        let target = dir.join(format!("{cmd:?}.out"));
        std::fs::write(&target, b"an unrelated file\n").unwrap();
        let said = refused(
            &cmd.run(&w, &target, false),
            &format!("{cmd:?} over a file"),
        );
        assert!(
            said.contains("already exists (use --force to replace it)"),
            "{cmd:?}: {said}"
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"an unrelated file\n");
        ok(&cmd.run(&w, &target, true), &format!("{cmd:?} --force"));
        let bytes = std::fs::read(&target).unwrap();
        match cmd {
            Cmd::SummaryMd => assert!(bytes.starts_with(b"**DRAFT"), "{cmd:?}"),
            Cmd::SummaryPdf => assert!(bytes.starts_with(b"%PDF"), "{cmd:?}"),
            Cmd::Backup | Cmd::Demo => assert!(is_sqlite(&target), "{cmd:?}"),
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{cmd:?}");
        assert_eq!(temp_names(&dir), Vec::<String>::new(), "{cmd:?}");
    }
    // A new name needs no --force.
    for cmd in CMDS {
        ok(
            &cmd.run(&w, &dir.join(format!("new-{cmd:?}")), false),
            "new",
        );
    }
}

#[test]
fn the_database_its_companions_and_any_database_are_refused_even_with_force() {
    let w = ward();
    let dir = w.dir.path().to_path_buf();
    w.ok(&["backup", &dir.join("other.db").to_string_lossy()]);
    std::fs::hard_link(&w.db, dir.join("alias.md")).unwrap();
    let before = dump(&w.db);
    let db_bytes = std::fs::read(&w.db).unwrap();
    let other = std::fs::read(dir.join("other.db")).unwrap();
    let protected = [
        ("ward.db", "is the database titrate has open"),
        ("ward.db-wal", "belongs to the database titrate has open"),
        ("ward.db-shm", "belongs to the database titrate has open"),
        (
            "ward.db-journal",
            "belongs to the database titrate has open",
        ),
        ("alias.md", "is the database titrate has open"),
        ("other.db", "is a titrate database; it is never overwritten"),
    ];
    for cmd in CMDS {
        for (name, says) in protected {
            // The demo writes no open database: there the file's first bytes decide.
            if matches!(cmd, Cmd::Demo) && name.starts_with("ward.db-") {
                continue;
            }
            let says = if matches!(cmd, Cmd::Demo) {
                "is a titrate database; it is never overwritten"
            } else {
                says
            };
            for force in [false, true] {
                let what = format!("{cmd:?} --out {name} (force {force})");
                let said = refused(&cmd.run(&w, &dir.join(name), force), &what);
                assert!(said.contains(says), "{what}: {said}");
            }
        }
    }
    // Through a path that names the same file another way.
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let roundabout = sub.join("..").join("ward.db");
    let said = refused(&Cmd::SummaryMd.run(&w, &roundabout, true), "sub/../ward.db");
    assert!(said.contains("is the database titrate has open"), "{said}");
    assert_eq!(dump(&w.db), before, "the record changed");
    assert_eq!(std::fs::read(dir.join("other.db")).unwrap(), other);
    let out = w.run_with("AB", "1234", &[], &["check"]);
    assert!(
        text(&out.stdout).contains("sound:"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        std::fs::metadata(&w.db).unwrap().len(),
        db_bytes.len() as u64
    );
    for n in ["ward.db-wal", "ward.db-shm", "ward.db-journal"] {
        // SQLite's own, if any; never a summary, a PDF, a backup or a demo.
        let b = std::fs::read(dir.join(n)).unwrap_or_default();
        assert!(
            !(b.starts_with(b"**DRAFT") || b.starts_with(b"%PDF") || b.starts_with(b"SQLite")),
            "{n} was written"
        );
    }
    assert_eq!(temp_names(&dir), Vec::<String>::new());
}

#[test]
fn the_export_folder_refuses_existing_csv_files_all_or_nothing_and_keeps_other_files() {
    let w = ward();
    let out = w.dir.path().join("export");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), b"mine").unwrap();
    std::fs::write(out.join("courses.csv"), b"old").unwrap();
    let o = w.run_with(
        "AB",
        "1234",
        &[],
        &["export", "--out", &out.to_string_lossy()],
    );
    let said = refused(&o, "export over courses.csv");
    assert!(
        said.contains("courses.csv already exists (use --force"),
        "{said}"
    );
    assert_eq!(
        names(&out),
        vec!["courses.csv", "notes.txt"],
        "a file was written"
    );
    assert_eq!(std::fs::read(out.join("courses.csv")).unwrap(), b"old");
    // An open database, a link or another database among the four names: never, even forced.
    std::fs::hard_link(&w.db, out.join("events.csv")).unwrap();
    let args = ["export", "--out", &out.to_string_lossy(), "--force"];
    let said = refused(&w.run_with("AB", "1234", &[], &args), "export over the db");
    assert!(said.contains("is the database titrate has open"), "{said}");
    std::fs::remove_file(out.join("events.csv")).unwrap();
    std::os::unix::fs::symlink(out.join("notes.txt"), out.join("codebook.csv")).unwrap();
    let said = refused(&w.run_with("AB", "1234", &[], &args), "export over a link");
    assert!(said.contains("is a symbolic link"), "{said}");
    assert_eq!(std::fs::read(out.join("notes.txt")).unwrap(), b"mine");
    std::fs::remove_file(out.join("codebook.csv")).unwrap();
    ok(&w.run_with("AB", "1234", &[], &args), "export --force");
    assert_eq!(
        names(&out),
        vec![
            "codebook.csv",
            "courses.csv",
            "data_quality.csv",
            "events.csv",
            "notes.txt"
        ]
    );
    assert_eq!(std::fs::read(out.join("notes.txt")).unwrap(), b"mine");
    assert_ne!(std::fs::read(out.join("courses.csv")).unwrap(), b"old");
    // A file or a link where the folder should be.
    let said = refused(
        &w.run_with(
            "AB",
            "1234",
            &[],
            &["export", "--out", &out.join("notes.txt").to_string_lossy()],
        ),
        "export into a file",
    );
    assert!(said.contains("is a file, not a folder"), "{said}");
    let link = w.dir.path().join("export-link");
    std::os::unix::fs::symlink(&out, &link).unwrap();
    let said = refused(
        &w.run_with(
            "AB",
            "1234",
            &[],
            &["export", "--out", &link.to_string_lossy(), "--force"],
        ),
        "export into a link",
    );
    assert!(said.contains("is a symbolic link"), "{said}");
}

#[test]
fn a_summary_out_naming_a_folder_is_refused() {
    let w = ward();
    for target in [w.dir.path().to_path_buf(), w.dir.path().join("sub/")] {
        std::fs::create_dir_all(&target).unwrap();
        let said = refused(&Cmd::SummaryMd.run(&w, &target, true), "a folder");
        assert!(said.contains("is a folder; give a file name"), "{said}");
    }
}

/// The pid the next process is likely to get.
fn next_pid() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(std::process::id())
        + 1
}

#[test]
fn a_symlink_at_the_target_or_at_any_predictable_name_is_never_followed() {
    let w = ward();
    let dir = w.dir.path().to_path_buf();
    let victim = dir.join("victim.txt");
    std::fs::write(&victim, b"do not touch").unwrap();
    for cmd in CMDS {
        // At the target itself: refused, forced or not; the link and its file stay.
        let target = dir.join(format!("link-{cmd:?}"));
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        for force in [false, true] {
            let said = refused(&cmd.run(&w, &target, force), &format!("{cmd:?} link"));
            assert!(said.contains("is a symbolic link"), "{cmd:?}: {said}");
        }
        // A dangling link at the target: refused too, and nothing made where it points.
        let dangling = dir.join(format!("dangling-{cmd:?}"));
        let nowhere = dir.join(format!("nowhere-{cmd:?}"));
        std::os::unix::fs::symlink(&nowhere, &dangling).unwrap();
        let said = refused(&cmd.run(&w, &dangling, true), "dangling link");
        assert!(said.contains("is a symbolic link"), "{cmd:?}: {said}");
        assert!(!nowhere.exists(), "{cmd:?} wrote through a dangling link");
        // At every temporary name the old writers used, for the next few hundred pids.
        let name = format!("planted-{cmd:?}.out");
        let target = dir.join(&name);
        let pid = next_pid();
        for p in pid..pid + 300 {
            let _ = std::os::unix::fs::symlink(&victim, dir.join(format!(".{name}.tmp-{p}")));
        }
        let _ = std::os::unix::fs::symlink(&victim, dir.join(format!("{name}.partial")));
        ok(
            &cmd.run(&w, &target, false),
            &format!("{cmd:?} beside planted links"),
        );
        assert!(std::fs::symlink_metadata(&target).unwrap().is_file());
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"do not touch");
    assert!(
        names(&dir).iter().all(|n| !n.starts_with(".titrate-")),
        "temporary files left: {:?}",
        names(&dir)
    );
}

/// A tmpfs mounted at a new folder, unmounted when dropped. None where mounting is not
/// permitted (then the caller says so and tests the wording another way).
struct Mount {
    dir: tempfile::TempDir,
}

impl Mount {
    fn new(options: &str) -> Option<Mount> {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir.path())
            .output()
            .ok()?;
        out.status.success().then_some(Mount { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .output();
    }
}

/// Where no tmpfs can be mounted: the same wording, from a real ENOSPC.
fn full_disk_wording_without_a_mount(what: &str) {
    eprintln!("{what}: tmpfs cannot be mounted here; checking the wording via /dev/full instead");
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let e = f
        .write_all(&[0; 4096])
        .and_then(|()| f.flush())
        .unwrap_err();
    let said = titrate::fsout::classify(&e, Path::new("x"), Path::new(".")).to_string();
    assert!(said.contains("the disk is full"), "{said}");
}

fn export_args(out: &Path) -> Vec<String> {
    vec![
        "export".into(),
        "--out".into(),
        out.to_string_lossy().into(),
    ]
}

#[test]
fn a_read_only_folder_gets_a_clear_message_and_nothing_is_left() {
    let Some(m) = Mount::new("ro,size=64k") else {
        eprintln!(
            "read-only folder: tmpfs cannot be mounted; the mapping of EROFS is tested in fsout::tests"
        );
        let e = std::io::Error::from_raw_os_error(30);
        let said = titrate::fsout::classify(&e, Path::new("x"), Path::new("d")).to_string();
        assert!(said.contains("the folder d is read-only"), "{said}");
        return;
    };
    let w = ward();
    for cmd in CMDS {
        let said = refused(
            &cmd.run(&w, &m.path().join("out"), false),
            &format!("{cmd:?}"),
        );
        assert!(
            said.contains(&format!("the folder {} is read-only", m.path().display())),
            "{cmd:?}: {said}"
        );
    }
    let args = export_args(&m.path().join("export"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let said = refused(&w.run_with("AB", "1234", &[], &args), "export");
    assert!(said.contains("is read-only"), "{said}");
    assert_eq!(names(m.path()), Vec::<String>::new());
}

#[test]
fn a_full_disk_gets_a_clear_message_and_no_temporary_file_is_left() {
    let Some(m) = Mount::new("size=64k") else {
        return full_disk_wording_without_a_mount("full disk");
    };
    // Fill it to the last byte.
    let filler = m.path().join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        while f.write_all(&[0u8; 512]).is_ok() {}
    }
    let w = ward();
    let filled = names(m.path());
    for cmd in CMDS {
        let said = refused(
            &cmd.run(&w, &m.path().join("out"), false),
            &format!("{cmd:?}"),
        );
        assert!(said.contains("the disk is full"), "{cmd:?}: {said}");
        assert_eq!(names(m.path()), filled, "{cmd:?} left files");
    }
    let args = export_args(&m.path().join("export"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let said = refused(&w.run_with("AB", "1234", &[], &args), "export");
    assert!(said.contains("the disk is full"), "{said}");
    // The folder may have been made; no CSV or temporary file is in it.
    let export = m.path().join("export");
    if export.exists() {
        assert_eq!(names(&export), Vec::<String>::new());
    }
}

#[test]
fn a_migration_copy_on_a_full_disk_leaves_the_database_unmigrated_and_nothing_else() {
    let Some(m) = Mount::new("size=256k") else {
        return full_disk_wording_without_a_mount("migration copy");
    };
    let db = m.path().join("ward.db");
    std::fs::copy(FIXTURE_V1, &db).unwrap();
    // Room for SQLite's WAL of a read, not for a whole copy.
    let room = 256 * 1024 - std::fs::metadata(&db).unwrap().len() as usize - 40 * 1024;
    std::fs::write(m.path().join("filler"), vec![0u8; room]).unwrap();
    let w = Ward {
        dir: tempfile::tempdir().unwrap(),
        db: db.clone(),
    };
    let out = w.run_with("AB", "1234", &[], &["status", "--mrn", "7001"]);
    let said = refused(&out, "a migration on a full disk");
    assert!(
        said.contains("before upgrading") && said.contains("the disk is full"),
        "{said}"
    );
    let version: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 1, "the database was migrated without its copy");
    let left: Vec<String> = names(m.path())
        .into_iter()
        .filter(|n| n.contains(".tmp") || n.ends_with(".bak"))
        .collect();
    assert_eq!(left, Vec::<String>::new());
}

#[test]
fn a_killed_backups_leftover_never_blocks_the_next_backup() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    titrate::generate::generate(
        &db,
        &titrate::config::Config::defaults(),
        60,
        3,
        chrono::Utc::now(),
    )
    .unwrap();
    let w = Ward { dir, db };
    let target: PathBuf = w.dir.path().join("bk.db");
    // What the old writer left at a kill, planted as a kill would leave it.
    std::fs::write(w.dir.path().join("bk.db.partial"), b"").unwrap();
    let mut killed_runs = 0;
    for delay_ms in [5u64, 20, 40, 80, 120, 200, 300] {
        let mut child = w
            .command("GEN", "0000")
            .args(["backup", &target.to_string_lossy()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        let _ = child.wait();
        killed_runs += usize::from(!finished);
        if target.exists() {
            // A backup that got to its name is whole.
            let out = w.run_with("GEN", "0000", &[], &["check", &target.to_string_lossy()]);
            assert!(
                text(&out.stdout).contains("sound:"),
                "a backup at its name is not whole: {}",
                text(&out.stdout)
            );
            std::fs::remove_file(&target).unwrap();
        }
        let out = w.run_with("GEN", "0000", &[], &["backup", &target.to_string_lossy()]);
        assert!(
            out.status.success(),
            "the backup after a kill at {delay_ms} ms failed: {}",
            text(&out.stderr)
        );
        std::fs::remove_file(&target).unwrap();
    }
    eprintln!("killed backups: {killed_runs} of 7 were still running when killed");
    assert!(killed_runs > 0, "no backup was killed while running");
}

#[test]
fn the_reports_folder_never_replaces_a_report_and_refuses_links() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let none = titrate::fsout::Protected::none();
    let a = titrate::report::write_pair(&reports, "1001-course-1", b"md1", b"pdf1", &none);
    assert_eq!(a.unwrap(), "1001-course-1");
    let b = titrate::report::write_pair(&reports, "1001-course-1", b"md2", b"pdf2", &none);
    assert_eq!(b.unwrap(), "1001-course-1-2");
    assert_eq!(
        std::fs::read(reports.join("1001-course-1.md")).unwrap(),
        b"md1"
    );
    assert_eq!(
        std::fs::read(reports.join("1001-course-1-2.pdf")).unwrap(),
        b"pdf2"
    );
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"keep").unwrap();
    std::os::unix::fs::symlink(&victim, reports.join("1002-course-1.md")).unwrap();
    let e = titrate::report::write_pair(&reports, "1002-course-1", b"x", b"y", &none);
    assert!(e.unwrap_err().to_string().contains("is a symbolic link"));
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    let link = dir.path().join("reports-link");
    std::os::unix::fs::symlink(&reports, &link).unwrap();
    let e = titrate::report::write_pair(&link, "1003-course-1", b"x", b"y", &none);
    assert!(e.unwrap_err().to_string().contains("is a symbolic link"));
}

/// A -wal, -shm or -journal left beside a target (a crash of another database, or planted)
/// would be read by SQLite into a database put there: every writer refuses, with or without
/// --force, and leaves the leftover and the folder as they were. `init` too, and a target
/// named like such a file is never written.
#[test]
fn a_leftover_wal_or_journal_beside_the_target_is_never_read_into_a_new_file() {
    let w = ward();
    let dir = w.dir.path().join("beside");
    std::fs::create_dir(&dir).unwrap();
    let planted = b"not really a wal, but SQLite would try it".to_vec();
    for (i, companion) in ["-wal", "-journal", "-shm"].iter().enumerate() {
        for cmd in CMDS {
            for force in [false, true] {
                let target = dir.join(format!("t{i}-{cmd:?}-{force}.out"));
                let mut side = target.clone().into_os_string();
                side.push(companion);
                let side = PathBuf::from(side);
                std::fs::write(&side, &planted).unwrap();
                let before = names(&dir);
                let said = refused(
                    &cmd.run(&w, &target, force),
                    &format!("{cmd:?} {companion}"),
                );
                assert!(said.contains("lies beside"), "{cmd:?} {companion}: {said}");
                assert_eq!(
                    names(&dir),
                    before,
                    "{cmd:?} {companion}: the folder changed"
                );
                assert_eq!(std::fs::read(&side).unwrap(), planted);
            }
        }
        let target = dir.join(format!("init{i}.db"));
        let mut side = target.clone().into_os_string();
        side.push(companion);
        std::fs::write(PathBuf::from(side), &planted).unwrap();
        let before = names(&dir);
        let mut c = w.command("AB", "1234");
        c.env("TITRATE_NEW_PIN", "2468").args([
            "--db",
            target.to_str().unwrap(),
            "init",
            "--admin",
            "ZZ",
            "--name",
            "Z",
        ]);
        let said = refused(&c.output().unwrap(), &format!("init {companion}"));
        assert!(said.contains("lies beside"), "init {companion}: {said}");
        assert_eq!(names(&dir), before);
    }
    for cmd in CMDS {
        for name in ["x.db-wal", "x.db-shm", "x.db-journal"] {
            let said = refused(
                &cmd.run(&w, &dir.join(name), true),
                &format!("{cmd:?} {name}"),
            );
            assert!(
                said.contains("never writes such a file"),
                "{cmd:?} {name}: {said}"
            );
        }
    }
}

/// A backup on read-only media is checked as it is, and a write to it says what is wrong in
/// plain words, never "not a titrate database".
#[test]
fn a_database_on_read_only_media_is_checked_and_named_read_only() {
    let Some(m) = Mount::new("size=8m") else {
        eprintln!("read-only media: tmpfs cannot be mounted here; not tried");
        return;
    };
    let w = ward();
    let copy = m.path().join("backup ü?#.db");
    ok(
        &w.run_with("AB", "1234", &[], &["backup", copy.to_str().unwrap()]),
        "backup",
    );
    let remount = std::process::Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(m.path())
        .status()
        .unwrap();
    assert!(remount.success());
    let out = w.run_with("AB", "1234", &[], &["check", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("sound"), "{}", text(&out.stdout));
    let mut c = w.command("AB", "1234");
    let at = rfc(hours_ago(1));
    c.args([
        "--db",
        copy.to_str().unwrap(),
        "nrs",
        "--mrn",
        "1001",
        "--score",
        "4",
        "--at",
        &at,
    ]);
    let said = refused(&c.output().unwrap(), "an entry on read-only media");
    assert!(said.contains("read-only"), "{said}");
    assert_eq!(names(m.path()), vec!["backup ü?#.db".to_string()]);
}

/// What a killed writer left (its process cannot clean up after a kill) is removed by the
/// next writer in that folder: only titrate's own temporary names, only when unwritten for
/// 15 minutes and held by no live process.
#[test]
fn the_next_writer_sweeps_what_a_killed_writer_left() {
    let w = ward();
    let dir = w.dir.path().join("sweep");
    std::fs::create_dir(&dir).unwrap();
    let old = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let fresh = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    let held = "cccccccccccccccccccccccccccccccc";
    let leftover = |hex: &str, suffix: &str| dir.join(format!(".titrate-{hex}.tmp{suffix}"));
    for hex in [old, fresh, held] {
        std::fs::write(leftover(hex, ""), b"SQLite format 3\0 patient data").unwrap();
        std::fs::write(leftover(hex, "-journal"), b"journal").unwrap();
    }
    let unrelated = dir.join(".titrate-notours.tmp");
    std::fs::write(&unrelated, b"x").unwrap();
    for hex in [old, held] {
        for suffix in ["", "-journal"] {
            let st = std::process::Command::new("touch")
                .args(["-d", "1 hour ago"])
                .arg(leftover(hex, suffix))
                .status()
                .unwrap();
            assert!(st.success());
        }
    }
    // A live writer holds its temporary file's lock.
    let mut holder = std::process::Command::new("flock")
        .arg(leftover(held, ""))
        .args(["sleep", "30"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    ok(
        &Cmd::SummaryMd.run(&w, &dir.join("s.md"), false),
        "a summary into the folder",
    );
    let _ = holder.kill();
    let _ = holder.wait();
    let left = names(&dir);
    for suffix in ["", "-journal"] {
        let n = |hex: &str| format!(".titrate-{hex}.tmp{suffix}");
        assert!(!left.contains(&n(old)), "the old leftover stayed: {left:?}");
        assert!(
            left.contains(&n(fresh)),
            "a recent file was removed: {left:?}"
        );
        assert!(left.contains(&n(held)), "a held file was removed: {left:?}");
    }
    assert!(unrelated.exists());
    assert!(dir.join("s.md").exists());
}

/// Standard output is a file too. A reader that went away (`titrate history | head -0`)
/// ends the command quietly with the closed-pipe status, not a panic; a full disk under
/// `> file` is said on stderr with status 1, never a truncated file with status 0. The
/// entry a command saved before its output failed stays saved.
#[test]
fn output_to_a_closed_pipe_or_a_full_disk_is_said_and_never_a_panic() {
    use std::process::Stdio;
    let w = ward();
    for args in [
        &["history", "--mrn", "1001"][..],
        &["cohort", "--json"][..],
        &[
            "nrs",
            "--mrn",
            "1001",
            "--score",
            "4",
            "--at",
            &rfc(hours_ago(1)),
        ][..],
    ] {
        // A pipe whose reading end is closed before titrate writes.
        let mut c = w.command("AB", "1234");
        c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(141), "{args:?}: {err}");
        // A full disk.
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut c = w.command("AB", "1234");
        let out = c.args(args).stdout(full).output().unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("the output could not be written") && err.contains("No space left"),
            "{args:?}: {err}"
        );
    }
    // Both NRS entries were saved though neither could say so.
    let history = w.ok(&["history", "--mrn", "1001"]);
    assert_eq!(history.matches("NRS 4").count(), 2, "{history}");
}
