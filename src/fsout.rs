//! The one way titrate writes a file: summaries, exports, backups, the reports folder, the
//! demo database and the copy made before a migration all go through [`prepare`] and
//! [`Pending::commit`] (or [`write`], which does both).
//!
//! - The target is checked first: an existing file is refused unless `force`; the open
//!   database, its `-wal`, `-shm` and `-journal` (by name and by file identity), any SQLite
//!   database or journal (by its first bytes, not its name), a symbolic link, a folder and
//!   anything that is not a regular file are refused even with `force`.
//! - The bytes go to a temporary file in the target's folder: an unpredictable name
//!   (`.titrate-<32 hex>.tmp`), created exclusively (`O_CREAT|O_EXCL|O_NOFOLLOW`, 0600), every
//!   step relative to one open handle on the folder.
//! - It is synced, the target checked again, and then moved into place: without `force` with
//!   an atomic no-replace rename (`renameat2(RENAME_NOREPLACE)`, else a hard link, which also
//!   refuses an existing name), with `force` with a rename, which replaces a link planted at
//!   the target after the check by the file, never the file the link points to. The folder is
//!   synced before success is reported.
//! - On any error the temporary file (and the journal SQLite may have made beside it) is
//!   removed by a guard. A kill cannot be cleaned up; what it leaves is named as above, holds
//!   no name anyone else writes to, and never blocks a later write.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Every way writing a file can fail, said as what happened.
#[derive(Clone, Debug, thiserror::Error)]
pub enum FileError {
    #[error("{0} already exists (use --force to replace it)")]
    Exists(String),
    #[error("{0} is the database titrate has open; it is never overwritten, not even with --force")]
    OpenDatabase(String),
    #[error(
        "{0} belongs to the database titrate has open (its journal or shared memory); it is never overwritten, not even with --force"
    )]
    OpenDatabasePart(String),
    #[error("{0} is a titrate database; it is never overwritten, not even with --force")]
    Database(String),
    #[error(
        "{0} is the journal of an SQLite database; it is never overwritten, not even with --force"
    )]
    DatabaseJournal(String),
    #[error(
        "{0} is a symbolic link; titrate never writes through a link, not even with --force: give the real path"
    )]
    Symlink(String),
    #[error(
        "{0} is named like the journal or shared memory of an SQLite database (-wal, -shm, -journal); titrate never writes such a file, not even with --force"
    )]
    DatabasePartName(String),
    #[error(
        "{companion} lies beside {path}: it is left from another SQLite database and SQLite would read it into the new file; move it away first (nothing was written)"
    )]
    Companion { path: String, companion: String },
    #[error("{0} is a folder; give a file name")]
    Folder(String),
    #[error("{0} is a file, not a folder; give a folder for the export")]
    NotAFolder(String),
    #[error(
        "{0} is not a regular file (a device, pipe or socket); titrate writes only regular files"
    )]
    NotRegular(String),
    #[error("cannot write {path}: the folder {dir} does not exist")]
    NoFolder { path: String, dir: String },
    #[error("cannot write {path}: the disk is full; nothing was written")]
    DiskFull { path: String },
    #[error("cannot write {path}: the disk quota is used up; nothing was written")]
    Quota { path: String },
    #[error("cannot write {path}: the folder {dir} is read-only; nothing was written")]
    ReadOnly { path: String, dir: String },
    #[error(
        "cannot write {path}: the folder {dir} is read-only for this user (no permission to write in it); nothing was written"
    )]
    Denied { path: String, dir: String },
    #[error("cannot write {path}: {why}; nothing was written")]
    Other { path: String, why: String },
}

/// The files SQLite keeps beside a database.
pub const COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

const ENOENT: i32 = 2;
const EACCES: i32 = 13;
const EPERM: i32 = 1;
const EEXIST: i32 = 17;
const ENOTDIR: i32 = 20;
const ENOSPC: i32 = 28;
const EROFS: i32 = 30;
#[cfg(target_os = "linux")]
const EDQUOT: i32 = 122;
#[cfg(not(target_os = "linux"))]
const EDQUOT: i32 = 69;
const ELOOP: i32 = 40;

/// An OS error on a write to `path` in `dir`, in plain words.
pub fn classify(e: &std::io::Error, path: &Path, dir: &Path) -> FileError {
    let path_s = path.display().to_string();
    let dir_s = dir.display().to_string();
    match e.raw_os_error() {
        Some(ENOSPC) => FileError::DiskFull { path: path_s },
        Some(EDQUOT) => FileError::Quota { path: path_s },
        Some(EROFS) => FileError::ReadOnly {
            path: path_s,
            dir: dir_s,
        },
        Some(EACCES | EPERM) => FileError::Denied {
            path: path_s,
            dir: dir_s,
        },
        Some(ENOENT | ENOTDIR) => FileError::NoFolder {
            path: path_s,
            dir: dir_s,
        },
        Some(ELOOP) => FileError::Symlink(path_s),
        Some(EEXIST) => FileError::Exists(path_s),
        _ => match e.kind() {
            std::io::ErrorKind::StorageFull => FileError::DiskFull { path: path_s },
            std::io::ErrorKind::ReadOnlyFilesystem => FileError::ReadOnly {
                path: path_s,
                dir: dir_s,
            },
            std::io::ErrorKind::PermissionDenied => FileError::Denied {
                path: path_s,
                dir: dir_s,
            },
            _ => FileError::Other {
                path: path_s,
                why: e.to_string(),
            },
        },
    }
}

/// A database failure while writing a copy of the database to `path`, in plain words.
pub fn classify_store(e: &crate::store::StoreError, path: &Path, dir: &Path) -> FileError {
    use crate::store::StoreError;
    let path_s = path.display().to_string();
    match e {
        StoreError::DiskFull => FileError::DiskFull { path: path_s },
        StoreError::ReadOnly(_) => FileError::ReadOnly {
            path: path_s,
            dir: dir.display().to_string(),
        },
        StoreError::File(f) => f.clone(),
        _ => FileError::Other {
            path: path_s,
            why: e.to_string(),
        },
    }
}

/// The files no write may replace, even with `--force`: the open database and its
/// companions, by name and (where they exist) by file identity.
#[derive(Clone, Debug, Default)]
pub struct Protected {
    db: Option<PathBuf>,
    names: Vec<(PathBuf, bool)>,
    ids: Vec<((u64, u64), bool)>,
}

/// A database file and the files SQLite keeps beside it.
const DB_COMPANIONS: [&str; 4] = ["", COMPANIONS[0], COMPANIONS[1], COMPANIONS[2]];

/// Refuses a new database at `path` while a `-wal`, `-shm` or `-journal` lies beside it:
/// SQLite would read that leftover into the new file.
pub fn refuse_leftover_beside(path: &Path) -> Result<(), FileError> {
    for c in COMPANIONS {
        let mut beside = path.as_os_str().to_owned();
        beside.push(c);
        let beside = PathBuf::from(beside);
        if std::fs::symlink_metadata(&beside).is_ok() {
            return Err(FileError::Companion {
                path: path.display().to_string(),
                companion: beside.display().to_string(),
            });
        }
    }
    Ok(())
}

/// Removes a database titrate made and no longer wants (the demo ward, a first-run database
/// left without an admin), with whatever SQLite kept beside it.
pub fn remove_database(path: &Path) {
    for suffix in DB_COMPANIONS {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

impl Protected {
    pub fn none() -> Protected {
        Protected::default()
    }

    /// The database at `db` (as given and as its links resolve) with its -wal, -shm and
    /// -journal files.
    pub fn database(db: &Path) -> Protected {
        let mut p = Protected {
            db: Some(db.to_path_buf()),
            ..Protected::default()
        };
        let mut bases = vec![absolute(db)];
        if let Ok(c) = std::fs::canonicalize(db) {
            bases.push(c);
        }
        for base in bases {
            for suffix in DB_COMPANIONS {
                let mut n = base.as_os_str().to_owned();
                n.push(suffix);
                let n = PathBuf::from(n);
                if let Some(id) = file_id(&n) {
                    p.ids.push((id, suffix.is_empty()));
                }
                p.names.push((n, suffix.is_empty()));
            }
        }
        p
    }

    /// Whether `target` (absolute, or with identity `id`) is one of these files.
    fn refuses(&self, target: &Path, id: Option<(u64, u64)>, shown: &str) -> Option<FileError> {
        let shown = shown.to_string();
        let hit = self
            .names
            .iter()
            .find(|(n, _)| n == target)
            .map(|(_, main)| *main)
            .or_else(|| id.and_then(|id| self.ids.iter().find(|(i, _)| *i == id).map(|(_, m)| *m)));
        match hit {
            Some(true) => Some(FileError::OpenDatabase(shown)),
            Some(false) => Some(FileError::OpenDatabasePart(shown)),
            None => None,
        }
    }

    pub fn database_path(&self) -> Option<&Path> {
        self.db.as_deref()
    }
}

#[cfg(unix)]
fn file_id(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(_: &Path) -> Option<(u64, u64)> {
    None
}

/// `p` made absolute through its folder's real path (the file itself need not exist).
fn absolute(p: &Path) -> PathBuf {
    let dir = folder_of(p);
    match (std::fs::canonicalize(dir), p.file_name()) {
        (Ok(d), Some(n)) => d.join(n),
        _ => std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()),
    }
}

fn folder_of(p: &Path) -> &Path {
    p.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// What the first bytes of a file say it is.
fn sqlite_kind(head: &[u8]) -> Option<bool> {
    const DB: &[u8] = b"SQLite format 3\0";
    const JOURNAL: &[u8] = &[0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];
    const WAL: [&[u8]; 2] = [&[0x37, 0x7f, 0x06, 0x82], &[0x37, 0x7f, 0x06, 0x83]];
    if head.starts_with(DB) {
        Some(true)
    } else if head.starts_with(JOURNAL) || WAL.iter().any(|m| head.starts_with(m)) {
        Some(false)
    } else {
        None
    }
}

/// A file about to be written: its target checked, its temporary name chosen. Dropped
/// without [`Pending::commit`], it removes whatever it wrote.
pub struct Pending {
    #[cfg(unix)]
    dir: std::os::fd::OwnedFd,
    dir_path: PathBuf,
    name: OsString,
    target: PathBuf,
    tmp: OsString,
    force: bool,
    protect: Protected,
    done: bool,
}

/// Checks `target` and chooses a temporary name beside it; nothing is written yet.
pub fn prepare(target: &Path, force: bool, protect: &Protected) -> Result<Pending, FileError> {
    let shown = target.display().to_string();
    let Some(name) = target.file_name().map(OsStr::to_owned) else {
        return Err(FileError::Folder(shown));
    };
    if target.as_os_str().to_string_lossy().ends_with('/') {
        return Err(FileError::Folder(shown));
    }
    let dir_path = folder_of(target).to_path_buf();
    let p = Pending {
        #[cfg(unix)]
        dir: open_dir(&dir_path).map_err(|e| classify(&e, target, &dir_path))?,
        dir_path,
        name,
        target: target.to_path_buf(),
        tmp: OsString::from(format!(".titrate-{}.tmp", random_hex())),
        force,
        protect: protect.clone(),
        done: false,
    };
    p.check_target()?;
    #[cfg(unix)]
    sweep_leftovers(&p.dir);
    Ok(p)
}

/// How long a temporary file must have gone unwritten before a sweep may take it for the
/// leftover of a writer that was killed (a backup or a generated database in progress writes
/// to its file far more often).
#[cfg(unix)]
const LEFTOVER_AFTER: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Removes what killed writers left in this folder: titrate's own temporary names only
/// (`.titrate-<32 hex>.tmp` and SQLite's files beside one), and only when no process holds
/// the file's lock and it has not been written for [`LEFTOVER_AFTER`]. A kill cannot be
/// handled by the process that is killed; the next writer in the folder handles it.
#[cfg(unix)]
fn sweep_leftovers(dir: &std::os::fd::OwnedFd) {
    use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags, flock, openat, unlinkat};
    let Ok(entries) = rustix::fs::Dir::read_from(dir) else {
        return;
    };
    let ours = |n: &str| -> bool {
        n.strip_prefix(".titrate-")
            .and_then(|r| r.strip_suffix(".tmp"))
            .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !ours(&name) {
            continue;
        }
        let Ok(fd) = openat(
            dir,
            name.as_str(),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        ) else {
            continue;
        };
        let Ok(st) = rustix::fs::fstat(&fd) else {
            continue;
        };
        let idle = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|now| now.as_secs().saturating_sub(st.st_mtime as u64))
            .unwrap_or(0);
        let is_file =
            rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile;
        if !is_file || idle < LEFTOVER_AFTER.as_secs() {
            continue;
        }
        if flock(&fd, FlockOperation::NonBlockingLockExclusive).is_err() {
            continue;
        }
        for suffix in DB_COMPANIONS {
            let _ = unlinkat(dir, format!("{name}{suffix}").as_str(), AtFlags::empty());
        }
    }
}

/// Writes `bytes` to `target` through a [`Pending`].
pub fn write(
    target: &Path,
    bytes: &[u8],
    force: bool,
    protect: &Protected,
) -> Result<(), FileError> {
    let p = prepare(target, force, protect)?;
    p.write_temp(bytes)?;
    p.commit()
}

/// A new folder (0700, with its parents), or an existing one that is not a link.
pub fn folder(path: &Path) -> Result<(), FileError> {
    let shown = path.display().to_string();
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(FileError::Symlink(shown)),
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(FileError::NotAFolder(shown)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            b.create(path)
                .map_err(|e| classify(&e, path, folder_of(path)))
        }
        Err(e) => Err(classify(&e, path, folder_of(path))),
    }
}

/// A new folder under the system's temporary folder, 0700, created exclusively with an
/// unpredictable name (`.titrate-<32 hex>.tmpdir`). The caller removes it.
pub fn private_temp_dir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(".titrate-{}.tmpdir", random_hex()));
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(&dir)?;
    Ok(dir)
}

fn random_hex() -> String {
    use password_hash::rand_core::{OsRng, RngCore};
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Pending {
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The temporary file's path, for SQLite, which opens files by name. It does not exist
    /// until [`Pending::create_temp`] (or `Db::create`) makes it.
    pub fn temp_path(&self) -> PathBuf {
        self.dir_path.join(&self.tmp)
    }

    pub fn io_error(&self, e: &std::io::Error) -> FileError {
        classify(e, &self.target, &self.dir_path)
    }

    pub fn store_error(&self, e: &crate::store::StoreError) -> FileError {
        classify_store(e, &self.target, &self.dir_path)
    }

    /// Creates the temporary file: exclusively, 0600, never through a link.
    pub fn create_temp(&self) -> Result<std::fs::File, FileError> {
        #[cfg(unix)]
        {
            use rustix::fs::{Mode, OFlags, openat};
            let fd = openat(
                &self.dir,
                self.tmp.as_os_str(),
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
            .map_err(|e| self.io_error(&e.into()))?;
            // Held while this process lives: a later writer's sweep leaves the file alone.
            let _ = rustix::fs::flock(&fd, rustix::fs::FlockOperation::NonBlockingLockExclusive);
            Ok(std::fs::File::from(fd))
        }
        #[cfg(not(unix))]
        {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(self.temp_path())
                .map_err(|e| self.io_error(&e))
        }
    }

    /// Makes and removes the temporary file: a folder that cannot be written is said so
    /// before a long job (generating a database) starts.
    pub fn probe(&self) -> Result<(), FileError> {
        drop(self.create_temp()?);
        #[cfg(unix)]
        let _ = rustix::fs::unlinkat(
            &self.dir,
            self.tmp.as_os_str(),
            rustix::fs::AtFlags::empty(),
        );
        #[cfg(not(unix))]
        let _ = std::fs::remove_file(self.temp_path());
        Ok(())
    }

    /// Writes the whole temporary file and syncs it.
    pub fn write_temp(&self, bytes: &[u8]) -> Result<(), FileError> {
        let mut f = self.create_temp()?;
        f.write_all(bytes).map_err(|e| self.io_error(&e))?;
        f.sync_all().map_err(|e| self.io_error(&e))
    }

    /// Whether the file SQLite wrote at the temporary name is the one this made.
    pub fn temp_is(&self, f: &std::fs::File) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let (Ok(a), Ok(b)) = (f.metadata(), std::fs::symlink_metadata(self.temp_path())) else {
                return false;
            };
            b.file_type().is_file() && a.dev() == b.dev() && a.ino() == b.ino()
        }
        #[cfg(not(unix))]
        {
            let _ = f;
            true
        }
    }

    /// Refuses what must not be replaced; see the module's comment.
    fn check_target(&self) -> Result<(), FileError> {
        let shown = self.target.display().to_string();
        let abs = absolute(&self.target);
        let meta = self.lstat(&self.name);
        let id = meta.as_ref().ok().and_then(|m| m.id());
        if let Some(e) = self.protect.refuses(&abs, id, &shown) {
            return Err(e);
        }
        let name = self.name.to_string_lossy();
        if COMPANIONS.iter().any(|c| name.ends_with(c)) {
            return Err(FileError::DatabasePartName(shown));
        }
        // A -wal left beside the target (a crash, or planted) would be replayed into a
        // database put there, and a -journal rolled back into it: whatever the target is,
        // nothing is put beside such a file.
        for c in COMPANIONS {
            let mut companion = self.name.clone();
            companion.push(c);
            if self.lstat(&companion).is_ok() {
                let mut p = self.target.clone().into_os_string();
                p.push(c);
                return Err(FileError::Companion {
                    path: shown,
                    companion: PathBuf::from(p).display().to_string(),
                });
            }
        }
        let m = match meta {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(self.io_error(&e)),
        };
        if m.symlink {
            return Err(FileError::Symlink(shown));
        }
        if m.dir {
            return Err(FileError::Folder(shown));
        }
        if !m.file {
            return Err(FileError::NotRegular(shown));
        }
        match self.head().map(|h| sqlite_kind(&h)) {
            Ok(Some(true)) => return Err(FileError::Database(shown)),
            Ok(Some(false)) => return Err(FileError::DatabaseJournal(shown)),
            Ok(None) => {}
            // A file that cannot be read cannot be told apart from a database: left alone.
            Err(_) if !self.force => {}
            Err(e) => return Err(self.io_error(&e)),
        }
        if !self.force {
            return Err(FileError::Exists(shown));
        }
        Ok(())
    }

    #[cfg(unix)]
    fn lstat(&self, name: &OsStr) -> std::io::Result<Meta> {
        use rustix::fs::{AtFlags, FileType, statat};
        let st = statat(&self.dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
        let ft = FileType::from_raw_mode(st.st_mode);
        Ok(Meta {
            symlink: ft == FileType::Symlink,
            dir: ft == FileType::Directory,
            file: ft == FileType::RegularFile,
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
        })
    }

    #[cfg(not(unix))]
    fn lstat(&self, name: &OsStr) -> std::io::Result<Meta> {
        let m = std::fs::symlink_metadata(self.dir_path.join(name))?;
        Ok(Meta {
            symlink: m.file_type().is_symlink(),
            dir: m.is_dir(),
            file: m.is_file(),
            dev: 0,
            ino: 0,
        })
    }

    /// The target's first bytes, read without following a link or waiting on a pipe.
    fn head(&self) -> std::io::Result<Vec<u8>> {
        #[cfg(unix)]
        let mut f = {
            use rustix::fs::{Mode, OFlags, openat};
            std::fs::File::from(openat(
                &self.dir,
                self.name.as_os_str(),
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                Mode::empty(),
            )?)
        };
        #[cfg(not(unix))]
        let mut f = std::fs::File::open(self.dir_path.join(&self.name))?;
        let mut head = Vec::with_capacity(16);
        (&mut f).take(16).read_to_end(&mut head)?;
        Ok(head)
    }

    /// Moves the finished temporary file into place; see the module's comment.
    pub fn commit(mut self) -> Result<(), FileError> {
        self.sync_temp()?;
        self.check_target()?;
        self.place()?;
        self.done = true;
        self.sync_dir()
    }

    #[cfg(unix)]
    fn sync_temp(&self) -> Result<(), FileError> {
        use rustix::fs::{Mode, OFlags, openat};
        let fd = openat(
            &self.dir,
            self.tmp.as_os_str(),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| self.io_error(&e.into()))?;
        let f = std::fs::File::from(fd);
        if !f.metadata().is_ok_and(|m| m.is_file()) {
            return Err(FileError::NotRegular(
                self.temp_path().display().to_string(),
            ));
        }
        f.sync_all().map_err(|e| self.io_error(&e))
    }

    #[cfg(not(unix))]
    fn sync_temp(&self) -> Result<(), FileError> {
        std::fs::File::open(self.temp_path())
            .and_then(|f| f.sync_all())
            .map_err(|e| self.io_error(&e))
    }

    #[cfg(unix)]
    fn place(&self) -> Result<(), FileError> {
        use rustix::fs::{AtFlags, linkat, renameat, unlinkat};
        let (tmp, name) = (self.tmp.as_os_str(), self.name.as_os_str());
        if self.force {
            return renameat(&self.dir, tmp, &self.dir, name).map_err(|e| self.io_error(&e.into()));
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        match rustix::fs::renameat_with(
            &self.dir,
            tmp,
            &self.dir,
            name,
            rustix::fs::RenameFlags::NOREPLACE,
        ) {
            Ok(()) => return Ok(()),
            Err(e) if e == rustix::io::Errno::EXIST => return Err(self.taken()),
            // A file system without RENAME_NOREPLACE: a hard link refuses an existing
            // name just as atomically.
            Err(e)
                if e == rustix::io::Errno::INVAL
                    || e == rustix::io::Errno::NOSYS
                    || e == rustix::io::Errno::OPNOTSUPP => {}
            Err(e) => return Err(self.io_error(&e.into())),
        }
        match linkat(&self.dir, tmp, &self.dir, name, AtFlags::empty()) {
            Ok(()) => {
                let _ = unlinkat(&self.dir, tmp, AtFlags::empty());
                Ok(())
            }
            Err(e) if e == rustix::io::Errno::EXIST => Err(self.taken()),
            Err(e) => Err(self.io_error(&e.into())),
        }
    }

    #[cfg(not(unix))]
    fn place(&self) -> Result<(), FileError> {
        let target = self.dir_path.join(&self.name);
        if self.force {
            return std::fs::rename(self.temp_path(), &target).map_err(|e| self.io_error(&e));
        }
        std::fs::hard_link(self.temp_path(), &target).map_err(|e| self.io_error(&e))?;
        let _ = std::fs::remove_file(self.temp_path());
        Ok(())
    }

    /// The target appeared between the check and the move: say what it is now.
    fn taken(&self) -> FileError {
        match self.check_target() {
            Err(e) => e,
            Ok(()) => FileError::Exists(self.target.display().to_string()),
        }
    }

    #[cfg(unix)]
    fn sync_dir(&self) -> Result<(), FileError> {
        rustix::fs::fsync(&self.dir).map_err(|e| self.io_error(&e.into()))
    }

    #[cfg(not(unix))]
    fn sync_dir(&self) -> Result<(), FileError> {
        Ok(())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // The temporary file and whatever SQLite made beside it: names only this made.
        for suffix in DB_COMPANIONS {
            let mut n = self.tmp.clone();
            n.push(suffix);
            #[cfg(unix)]
            let _ = rustix::fs::unlinkat(&self.dir, n.as_os_str(), rustix::fs::AtFlags::empty());
            #[cfg(not(unix))]
            let _ = std::fs::remove_file(self.dir_path.join(n));
        }
    }
}

struct Meta {
    symlink: bool,
    dir: bool,
    file: bool,
    dev: u64,
    ino: u64,
}

impl Meta {
    fn id(&self) -> Option<(u64, u64)> {
        cfg!(unix).then_some((self.dev, self.ino))
    }
}

#[cfg(unix)]
fn open_dir(dir: &Path) -> std::io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags, open};
    Ok(open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn err(code: i32) -> String {
        classify(
            &std::io::Error::from_raw_os_error(code),
            Path::new("/x/out.md"),
            Path::new("/x"),
        )
        .to_string()
    }

    #[test]
    fn os_errors_are_said_in_plain_words() {
        assert_eq!(
            err(ENOSPC),
            "cannot write /x/out.md: the disk is full; nothing was written"
        );
        assert!(
            err(EROFS).contains("the folder /x is read-only"),
            "{}",
            err(EROFS)
        );
        assert!(err(EACCES).contains("the folder /x is read-only for this user"));
        assert!(err(EPERM).contains("read-only for this user"));
        assert!(err(EDQUOT).contains("the disk quota is used up"));
        assert!(err(ENOENT).contains("the folder /x does not exist"));
        for code in [ENOSPC, EROFS, EACCES, EDQUOT, ENOENT, 5] {
            assert!(!err(code).contains("not a titrate database"));
        }
    }

    #[test]
    fn full_and_read_only_are_said_in_plain_words() {
        use crate::store::StoreError;
        let e =
            |e: StoreError| classify_store(&e, Path::new("/x/b.db"), Path::new("/x")).to_string();
        assert!(e(StoreError::DiskFull).contains("the disk is full"));
        assert!(e(StoreError::ReadOnly("no".into())).contains("the folder /x is read-only"));
    }

    #[test]
    fn the_first_bytes_say_what_a_file_is() {
        assert_eq!(sqlite_kind(b"SQLite format 3\0rest"), Some(true));
        assert_eq!(sqlite_kind(&[0x37, 0x7f, 0x06, 0x82, 0]), Some(false));
        assert_eq!(sqlite_kind(b"# Summary"), None);
        assert_eq!(sqlite_kind(b"SQLite format 3"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_full_device_is_reported_as_a_full_disk() {
        // /dev/full answers every write with ENOSPC, as a full disk does.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let e = f
            .write_all(b"patient data")
            .and_then(|()| f.sync_all())
            .unwrap_err();
        let said = classify(&e, Path::new("/dev/full"), Path::new("/dev")).to_string();
        assert!(said.contains("the disk is full"), "{said}");
    }
}
