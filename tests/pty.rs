//! The real ward terminal in a pseudo-terminal, driven key by key as a nurse would, with the
//! screen read back through a terminal emulator (vt100). What is checked is what a person at
//! the terminal sees, and what ends up in the database.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml");
const BIN: &str = env!("CARGO_BIN_EXE_titrate");

/// Every wait for the screen: generous, for debug builds on a loaded machine.
const WAIT: Duration = Duration::from_secs(10);

const ENTER: &str = "\r";
const BACKSPACE: &str = "\x7f";
const ESC: &str = "\x1b";

/// Bed 2 in the demo ward: day 5, at the protocol maximum of 14 mg/h, hourly check overdue.
/// Attention rows sort first, so it is the first row of the overview.
const BRAM: &str = "100871";

/// A demo ward database in its own folder.
struct Ward {
    dir: tempfile::TempDir,
    db: PathBuf,
}

impl Ward {
    fn new() -> Ward {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ward.db");
        titrate::demo::create(
            &db,
            &titrate::config::Config::defaults(),
            chrono::Utc::now(),
        )
        .unwrap();
        Ward { dir, db }
    }

    fn conn(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.db).unwrap()
    }

    fn count(&self, sql: &str) -> i64 {
        self.conn().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn entries(&self) -> i64 {
        self.count("SELECT COUNT(*) FROM entry")
    }
}

/// The titrate binary running in a pseudo-terminal, its output parsed into a screen.
struct Tui {
    child: Box<dyn Child + Send + Sync>,
    /// `None` once the terminal has been hung up (see `hang_up`).
    master: Option<Box<dyn MasterPty + Send>>,
    writer: Option<Box<dyn Write + Send>>,
    /// Asks the reader thread to let go of its copy of the master at its next read.
    reader_stop: Arc<AtomicBool>,
    parser: Arc<Mutex<vt100::Parser>>,
    reader_done: Receiver<()>,
}

impl Tui {
    fn spawn(ward: &Ward, cols: u16, rows: u16) -> Tui {
        let args = ["--config", CONFIG, "--db", ward.db.to_str().unwrap()];
        Tui::spawn_with(&args, ward.dir.path(), cols, rows)
    }

    /// titrate with these arguments, in `dir` (also its TMPDIR).
    fn spawn_with(args: &[&str], dir: &Path, cols: u16, rows: u16) -> Tui {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(BIN);
        cmd.args(args);
        // Nothing from the developer's shell (TITRATE_*, NO_COLOR) leaks in.
        cmd.env_clear();
        cmd.env("TERM", "xterm-256color");
        cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
        cmd.env("LANG", "C.UTF-8");
        cmd.env("TMPDIR", dir);
        cmd.cwd(dir);
        let child = pair.slave.spawn_command(cmd).unwrap();
        // Only the child holds the slave now: when it exits, reading the master ends.
        drop(pair.slave);

        let parser = Arc::new(Mutex::new(vt100::Parser::new(
            NonZeroU16::new(rows).unwrap(),
            NonZeroU16::new(cols).unwrap(),
            0,
        )));
        let mut reader = pair.master.try_clone_reader().unwrap();
        let (tx, reader_done) = mpsc::channel();
        let p = Arc::clone(&parser);
        let reader_stop = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&reader_stop);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => p.lock().unwrap().process(&buf[..n]),
                }
                if stop.load(Ordering::SeqCst) {
                    break;
                }
            }
            drop(reader);
            let _ = tx.send(());
        });
        let writer = pair.master.take_writer().unwrap();
        Tui {
            child,
            master: Some(pair.master),
            writer: Some(writer),
            reader_stop,
            parser,
            reader_done,
        }
    }

    /// The screen as text, one line per row.
    fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// The rows drawn in reverse video across most of their width: the highlight.
    fn highlighted(&self) -> Vec<String> {
        let p = self.parser.lock().unwrap();
        let screen = p.screen();
        let (rows, cols) = screen.size();
        let (rows, cols) = (rows.get(), cols.get());
        // Below the header, which is drawn in reverse too.
        (1..rows)
            .filter(|&r| {
                let inverse = (0..cols)
                    .filter(|&c| screen.cell(r, c).is_some_and(|x| x.inverse()))
                    .count();
                inverse * 2 > usize::from(cols)
            })
            .map(|r| screen.contents_between(r, 0, r, cols))
            .collect()
    }

    fn alternate_screen(&self) -> bool {
        self.parser.lock().unwrap().screen().alternate_screen()
    }

    fn cursor_hidden(&self) -> bool {
        self.parser.lock().unwrap().screen().hide_cursor()
    }

    fn send(&mut self, keys: &str) {
        let w = self.writer.as_mut().expect("the terminal was hung up");
        w.write_all(keys.as_bytes()).unwrap();
        w.flush().unwrap();
    }

    /// Polls the screen until `pred` holds; panics with the screen after `timeout`.
    fn wait_until(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if start.elapsed() > timeout {
                panic!(
                    "waited {timeout:?} for {what}; the screen shows:\n{}\n{}\n{}",
                    "-".repeat(40),
                    s,
                    "-".repeat(40)
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn wait_for(&self, text: &str, timeout: Duration) -> String {
        self.wait_until(&format!("{text:?} on screen"), timeout, |s| {
            s.contains(text)
        })
    }

    /// Types id and PIN and waits for the ward overview.
    fn sign_in(&mut self, id: &str, pin: &str) {
        self.wait_for("Staff id", WAIT);
        self.send(&format!("{id}{ENTER}{pin}{ENTER}"));
        self.wait_for("Active courses", WAIT);
    }

    /// Waits for the process to end; panics with the screen if it does not.
    fn wait_exit(&mut self, timeout: Duration) -> portable_pty::ExitStatus {
        let start = Instant::now();
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if start.elapsed() > timeout {
                panic!(
                    "titrate still running after {timeout:?}; the screen shows:\n{}",
                    self.screen()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        };
        // Let the reader take in the last bytes the program wrote (terminal restore).
        let _ = self.reader_done.recv_timeout(Duration::from_secs(3));
        status
    }

    /// What a person sees after titrate has gone: their shell's normal screen with a cursor,
    /// and a terminal back in cooked mode (line editing, echo).
    fn assert_restored(&self) {
        assert!(
            !self.alternate_screen(),
            "the terminal was left on the alternate screen:\n{}",
            self.screen()
        );
        assert!(
            !self.cursor_hidden(),
            "the cursor was left hidden; screen:\n{}",
            self.screen()
        );
        assert_eq!(
            self.raw_mode(),
            Some(false),
            "the terminal was left in raw mode (no line editing, no echo)"
        );
    }

    /// Whether the pty is in raw mode (no canonical input, no echo); `None` when the pty
    /// cannot tell. Read through the master, which reports the slave's settings.
    fn raw_mode(&self) -> Option<bool> {
        let flags = format!("{:?}", self.master.as_ref()?.get_termios()?.local_flags);
        let has = |f: &str| {
            flags
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|w| w == f)
        };
        Some(!has("ICANON") && !has("ECHO"))
    }

    /// The terminal goes away, as when an SSH connection drops: every handle on the master
    /// is closed and the kernel hangs up the child's terminal (SIGHUP to its session).
    fn hang_up(&mut self) {
        self.reader_stop.store(true, Ordering::SeqCst);
        // The reader is blocked in a read: a key that changes the screen (the next row on the
        // overview, a letter in a form) makes titrate draw, which wakes it up to see the flag.
        self.send("j");
        self.reader_done
            .recv_timeout(WAIT)
            .expect("the reader thread did not let go of the terminal");
        self.writer = None;
        self.master = None;
    }

    fn pid(&self) -> u32 {
        self.child.process_id().unwrap()
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        // A failed test must not leave a titrate running.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The first screen row that contains `text`.
fn row_with<'a>(screen: &'a str, text: &str) -> Option<&'a str> {
    screen.lines().find(|l| l.contains(text))
}

fn rate_entries_by(db: &Path, who: &str, mrn: &str, centi: i64) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM entry e JOIN patient p ON p.id = e.patient_id
             WHERE e.kind = 'rate' AND e.recorded_by = ?1 AND p.mrn = ?2 AND e.rate_centi = ?3",
            rusqlite::params![who, mrn, centi],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn nurse_records_an_hourly_check_and_quits_cleanly() {
    let ward = Ward::new();
    let before = ward.entries();
    let mut tui = Tui::spawn(&ward, 80, 24);
    tui.sign_in("NU", "1111");
    let s = tui.wait_for("Bram Jansen", WAIT);
    assert!(
        row_with(&s, "Bram Jansen").is_some_and(|r| r.contains("CHECK")),
        "the overdue check should be flagged on the first row:\n{s}"
    );
    assert!(tui.alternate_screen() && tui.cursor_hidden(), "{s}");
    assert_eq!(tui.raw_mode(), Some(true), "the TUI reads keys in raw mode");

    tui.send("r");
    tui.wait_for("Rate change / hourly check", WAIT);
    tui.wait_for("hourly check, same rate", WAIT);
    // Clear the prefilled rate and type the running one, as a nurse checking the pump would.
    tui.send(&BACKSPACE.repeat(4));
    tui.wait_until("an empty rate field", WAIT, |s| {
        !s.contains("hourly check, same rate")
    });
    tui.send("14");
    tui.wait_for("hourly check, same rate", WAIT);
    tui.send(ENTER);
    let s = tui.wait_for("saved: rate 14 mg/h", WAIT);
    assert!(
        !s.contains("Rate change / hourly check"),
        "the form should close after saving:\n{s}"
    );
    // The overdue flag goes as soon as the check is recorded.
    let s = tui.wait_until("the CHECK flag to go", WAIT, |s| {
        row_with(s, "Bram Jansen").is_some_and(|r| !r.contains("CHECK"))
    });
    assert!(s.contains("Active courses"), "{s}");

    tui.send("q");
    let status = tui.wait_exit(WAIT);
    assert!(status.success(), "titrate exited with {status:?}");
    tui.assert_restored();

    assert_eq!(rate_entries_by(&ward.db, "NU", BRAM, 1400), 1);
    assert_eq!(ward.entries(), before + 1, "exactly one entry was recorded");
}

#[test]
fn a_rate_above_the_maximum_is_refused_on_screen() {
    let ward = Ward::new();
    let before = ward.entries();
    let mut tui = Tui::spawn(&ward, 80, 24);
    tui.sign_in("NU", "1111");
    tui.wait_for("Bram Jansen", WAIT);

    tui.send("r");
    tui.wait_for("hourly check, same rate", WAIT);
    tui.send(&BACKSPACE.repeat(4));
    tui.send("140");
    tui.wait_for("140 mg/h is above the maximum of 14 mg/h", WAIT);
    tui.send(ENTER);
    let s = tui.wait_for("above the protocol maximum of 14 mg/h", WAIT);
    assert!(
        s.contains("Rate change / hourly check"),
        "the form stays open with what was typed:\n{s}"
    );
    assert!(s.contains("140"), "the typed value is kept:\n{s}");
    assert!(!s.contains("saved"), "{s}");

    // Esc on a form with input asks before throwing it away. Esc goes alone: sent together
    // with the next key, a terminal reads the pair as Alt+key.
    tui.send(ESC);
    tui.wait_for("Discard", WAIT);
    tui.send("y");
    tui.wait_until("the form to close", WAIT, |s| {
        !s.contains("Rate change / hourly check") && s.contains("Active courses")
    });
    tui.send("q");
    let status = tui.wait_exit(WAIT);
    assert!(status.success(), "titrate exited with {status:?}");
    tui.assert_restored();

    assert_eq!(
        ward.count("SELECT COUNT(*) FROM entry WHERE rate_centi = 14000"),
        0
    );
    assert_eq!(ward.entries(), before, "the refusal recorded nothing");
}

/// A half-filled form, then the signal: titrate must leave promptly, hand the terminal back
/// in a usable state, and write nothing from the form.
fn signal_with_form_open(signal: &str) {
    let ward = Ward::new();
    let before = ward.entries();
    let mut tui = Tui::spawn(&ward, 80, 24);
    half_filled_form(&mut tui);
    assert!(
        tui.alternate_screen(),
        "the TUI runs on the alternate screen"
    );

    let out = std::process::Command::new("kill")
        .args([signal, &tui.pid().to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "kill {signal} failed: {out:?}");
    // titrate polls its stop flag every 250 ms; its own watchdog gives up after 600 ms.
    tui.wait_exit(Duration::from_secs(3));
    tui.assert_restored();
    assert_eq!(
        ward.entries(),
        before,
        "the half-filled form must not be saved on {signal}"
    );
}

#[test]
fn sigterm_restores_the_terminal_and_saves_nothing() {
    signal_with_form_open("-TERM");
}

#[test]
fn sighup_restores_the_terminal_and_saves_nothing() {
    signal_with_form_open("-HUP");
}

#[test]
fn an_entry_from_another_terminal_shows_up_without_a_key() {
    let ward = Ward::new();
    let mut tui = Tui::spawn(&ward, 80, 24);
    tui.sign_in("NU", "1111");
    let s = tui.wait_for("Bram Jansen", WAIT);
    let row = row_with(&s, "Bram Jansen").unwrap();
    assert!(row.contains("14 (100%)"), "{s}");
    assert!(row.contains("CHECK"), "{s}");

    // The nurse at the bedside steps the rate down on another terminal (the command line).
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let out = std::process::Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TITRATE_USER", "NU")
        .env("TITRATE_PIN", "1111")
        .current_dir(ward.dir.path())
        .args(["--config", CONFIG, "--db", ward.db.to_str().unwrap()])
        .args(["dose", "--mrn", BRAM, "--rate", "12", "--at", &at])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dose failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The requirement is 2 s; 4 s here tolerates a loaded CI machine without letting a
    // refresh that never comes (or only on a key press) pass. No key is sent meanwhile.
    let s = tui.wait_until(
        "Bram Jansen's row to show 12 mg/h without CHECK",
        Duration::from_secs(4),
        |s| {
            row_with(s, "Bram Jansen")
                .is_some_and(|r| r.contains("12 (86%)") && !r.contains("CHECK"))
        },
    );
    assert!(!s.contains("14 (100%)"), "{s}");

    tui.send("q");
    tui.wait_exit(WAIT);
    tui.assert_restored();
    assert_eq!(rate_entries_by(&ward.db, "NU", BRAM, 1200), 1);
}

#[test]
fn a_larger_terminal_shows_the_wide_overview() {
    let ward = Ward::new();
    let mut tui = Tui::spawn(&ward, 120, 40);
    tui.sign_in("NU", "1111");
    let s = tui.wait_for("Bram Jansen · 100871", WAIT);
    let row = row_with(&s, "Bram Jansen").unwrap();
    assert!(
        row.contains("CHECK OVERDUE") && row.contains("AT MAX"),
        "wide flags on a 120-column terminal:\n{s}"
    );
    for name in ["Anouk de Vries", "Carla Bakker", "Dirk Visser"] {
        assert!(s.contains(name), "{name} missing:\n{s}");
    }
    tui.send("q");
    tui.wait_exit(WAIT);
    tui.assert_restored();
}

#[test]
fn a_resized_terminal_is_redrawn() {
    let ward = Ward::new();
    let mut tui = Tui::spawn(&ward, 80, 24);
    tui.sign_in("NU", "1111");
    let s = tui.wait_for("Bram Jansen", WAIT);
    assert!(
        !s.contains("CHECK OVERDUE"),
        "narrow flags at 80 columns:\n{s}"
    );

    // The window is made larger: the program learns it from SIGWINCH, with no key pressed.
    tui.parser
        .lock()
        .unwrap()
        .set_size(NonZeroU16::new(40).unwrap(), NonZeroU16::new(120).unwrap());
    tui.master
        .as_ref()
        .unwrap()
        .resize(PtySize {
            rows: 40,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    tui.wait_for("CHECK OVERDUE", WAIT);
    tui.send("q");
    tui.wait_exit(WAIT);
    tui.assert_restored();
}

/// Signs NU in and opens the rate form on the first row with a half-typed rate.
fn half_filled_form(tui: &mut Tui) {
    tui.sign_in("NU", "1111");
    tui.wait_for("Bram Jansen", WAIT);
    tui.send("r");
    tui.wait_for("hourly check, same rate", WAIT);
    tui.send(&BACKSPACE.repeat(4));
    tui.send("1");
    tui.wait_for("14 -> 1 mg/h", WAIT);
}

/// The terminal goes away under a half-filled form (an SSH connection drops). Returns how
/// titrate ended; panics if it is still running 3 s later or saved anything.
fn hang_up_with_form_open() -> portable_pty::ExitStatus {
    let ward = Ward::new();
    let before = ward.entries();
    let mut tui = Tui::spawn(&ward, 80, 24);
    half_filled_form(&mut tui);
    tui.hang_up();
    // Nobody can see a screen any more; what matters is that no titrate is left spinning on
    // a dead terminal (its watchdog gives up 600 ms after the hang-up) and nothing was saved.
    let start = Instant::now();
    let status = loop {
        if let Some(status) = tui.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "titrate still running 3 s after its terminal went away"
        );
        std::thread::sleep(Duration::from_millis(25));
    };
    assert_eq!(
        ward.entries(),
        before,
        "the half-filled form must not be saved"
    );
    status
}

#[test]
fn a_dropped_connection_ends_titrate_and_saves_nothing() {
    hang_up_with_form_open();
}

/// Known bug: on a hang-up titrate's watchdog calls `ratatui::restore()`, which fails (the
/// terminal is gone) and prints "Failed to restore terminal" to stderr, which is that same
/// dead terminal: the print panics, the panic hook restores (and prints) again, and the
/// panic inside the panic aborts the process (SIGABRT, a core dump where enabled) instead of
/// the intended exit status 129.
#[test]
fn a_dropped_connection_ends_titrate_without_a_crash() {
    let status = hang_up_with_form_open();
    assert_eq!(
        status.signal(),
        None,
        "titrate should exit, not be killed by a signal: {status:?}"
    );
}

/// A signal while titrate is stuck inside a save, waiting for another program's write lock
/// (its SQLite busy timeout is 30 s): the event loop cannot see the stop flag, so the
/// watchdog restores the terminal and exits. Returns the terminal after the exit.
fn signal_while_waiting_for_the_database() -> Tui {
    let ward = Ward::new();
    let before = ward.entries();
    let mut tui = Tui::spawn(&ward, 80, 24);
    half_filled_form(&mut tui);
    let lock = ward.conn();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    tui.send(ENTER);
    // Let titrate get into the save, then ask it to stop.
    std::thread::sleep(Duration::from_millis(500));
    let out = std::process::Command::new("kill")
        .args(["-TERM", &tui.pid().to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "kill failed: {out:?}");
    let status = tui.wait_exit(Duration::from_secs(3));
    lock.execute_batch("ROLLBACK").unwrap();
    assert_eq!(
        status.exit_code(),
        128 + 15,
        "the watchdog's exit: {status:?}"
    );
    assert_eq!(ward.entries(), before, "the interrupted save wrote nothing");
    assert!(
        !tui.alternate_screen(),
        "left on the alternate screen:\n{}",
        tui.screen()
    );
    assert_eq!(tui.raw_mode(), Some(false), "left in raw mode");
    tui
}

#[test]
fn a_signal_during_a_save_waiting_for_the_database_ends_titrate() {
    signal_while_waiting_for_the_database();
}

/// Known bug: the watchdog's path (`ratatui::restore()` then `process::exit`) never shows
/// the cursor again: `restore()` only leaves the alternate screen and raw mode, and the
/// cursor is otherwise shown by the Terminal's Drop, which `process::exit` skips.
#[test]
fn a_signal_during_a_save_waiting_for_the_database_shows_the_cursor_again() {
    let tui = signal_while_waiting_for_the_database();
    tui.assert_restored();
}

#[test]
fn ctrl_c_asks_before_discarding_a_form_then_quits() {
    let ward = Ward::new();
    let before = ward.entries();
    let mut tui = Tui::spawn(&ward, 80, 24);
    half_filled_form(&mut tui);
    tui.send("\x03");
    tui.wait_for("Quit and discard the unsaved form?", WAIT);
    tui.send("n");
    let s = tui.wait_until("the question to go", WAIT, |s| {
        !s.contains("Quit and discard")
    });
    assert!(s.contains("14 -> 1 mg/h"), "the form is still there:\n{s}");
    tui.send("\x03");
    tui.wait_for("Quit and discard the unsaved form?", WAIT);
    tui.send("y");
    let status = tui.wait_exit(WAIT);
    assert!(status.success(), "{status:?}");
    tui.assert_restored();
    assert_eq!(ward.entries(), before);
}

#[test]
fn ctrl_c_on_the_sign_in_screen_quits() {
    let ward = Ward::new();
    let mut tui = Tui::spawn(&ward, 80, 24);
    let s = tui.wait_for("Staff id", WAIT);
    assert!(
        s.contains("Ctrl-C quit"),
        "the footer names the way out:\n{s}"
    );
    tui.send("\x03");
    let status = tui.wait_exit(WAIT);
    assert!(status.success(), "{status:?}");
    tui.assert_restored();
}

/// Another program holds the write lock while a nurse saves an hourly check: the form stays,
/// says it is waiting for the database, keeps taking keys, and is saved by itself, exactly
/// once, as soon as the lock is released.
#[test]
fn a_save_waits_for_a_locked_database_then_saves_once() {
    let ward = Ward::new();
    let before = ward.entries();
    let mut tui = Tui::spawn(&ward, 80, 24);
    tui.sign_in("NU", "1111");
    tui.wait_for("Bram Jansen", WAIT);

    let lock = ward.conn();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    tui.send("r");
    tui.wait_for("hourly check, same rate", WAIT);
    // The prefilled rate is the running one: Enter records the hourly check.
    tui.send(ENTER);
    let s = tui.wait_for("waiting for the database", WAIT);
    assert!(
        s.contains("Rate change / hourly check"),
        "the form stays:\n{s}"
    );
    assert!(!s.contains("saved"), "{s}");

    // Keys still work while the save waits: text typed into the reason field is echoed, and
    // taken back out again (an hourly check carries no reason).
    tui.send("\t\t");
    tui.send("zqx");
    tui.wait_for("zqx", WAIT);
    tui.send(&BACKSPACE.repeat(3));
    let s = tui.wait_until("the typed text to go", WAIT, |s| !s.contains("zqx"));
    assert!(
        s.contains("waiting for the database"),
        "still waiting:\n{s}"
    );
    assert_eq!(
        ward.entries(),
        before,
        "nothing is stored while the lock is held"
    );

    lock.execute_batch("ROLLBACK").unwrap();
    let s = tui.wait_for("saved: rate 14 mg/h", WAIT);
    assert!(
        !s.contains("Rate change / hourly check"),
        "the form closes once saved:\n{s}"
    );
    // A few more retries' worth of time: a waiting form must not be sent twice.
    std::thread::sleep(Duration::from_millis(1000));
    tui.send("q");
    let status = tui.wait_exit(WAIT);
    assert!(status.success(), "titrate exited with {status:?}");
    tui.assert_restored();
    assert_eq!(rate_entries_by(&ward.db, "NU", BRAM, 1400), 1);
    assert_eq!(
        ward.entries(),
        before + 1,
        "the entry is stored exactly once"
    );
}

/// A ward whose database path does not exist yet (a mistyped --db, or a new site).
fn ward_without_database() -> Ward {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("typo.db");
    Ward { dir, db }
}

fn nothing_at(db: &Path) -> bool {
    let name = db.file_name().unwrap().to_str().unwrap().to_string();
    std::fs::read_dir(db.parent().unwrap())
        .unwrap()
        .all(|e| !e.unwrap().file_name().to_str().unwrap().starts_with(&name))
}

#[test]
fn a_missing_database_is_created_only_when_the_user_says_yes() {
    for answer in ["", "no", "y", "YES please"] {
        let ward = ward_without_database();
        let mut tui = Tui::spawn(&ward, 80, 24);
        tui.wait_for("There is no titrate database at", WAIT);
        tui.send(&format!("{answer}{ENTER}"));
        let status = tui.wait_exit(WAIT);
        assert!(status.success(), "answer {answer:?}: {status:?}");
        assert!(
            nothing_at(&ward.db),
            "answer {answer:?} created a database file"
        );
    }
    let ward = ward_without_database();
    let mut tui = Tui::spawn(&ward, 80, 24);
    tui.wait_for("There is no titrate database at", WAIT);
    tui.send(&format!("yes{ENTER}"));
    tui.wait_for("Create the first admin", WAIT);
    assert!(ward.db.exists());
    tui.send("\x03");
    tui.wait_exit(WAIT);
    tui.assert_restored();
    // Left before a first admin was made: the empty database goes again, so that nobody
    // later becomes its admin just by opening the terminal.
    assert!(nothing_at(&ward.db), "a database without staff was left");
}

#[test]
fn the_ward_terminal_without_a_terminal_says_so_in_one_line_and_creates_nothing() {
    let ward = ward_without_database();
    for with_db in [false, true] {
        if with_db {
            titrate::demo::create(
                &ward.db,
                &titrate::config::Config::defaults(),
                chrono::Utc::now(),
            )
            .unwrap();
        }
        let before = std::fs::read(&ward.db).ok();
        let out = std::process::Command::new(BIN)
            .args(["--config", CONFIG, "--db", ward.db.to_str().unwrap()])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains("needs a terminal"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(out.stdout.is_empty());
        if with_db {
            assert_eq!(std::fs::read(&ward.db).ok(), before, "the database changed");
        } else {
            assert!(nothing_at(&ward.db), "a database was created");
        }
    }
}

#[test]
fn the_demo_ward_is_removed_when_titrate_quits_unless_kept() {
    for keep in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["--config", CONFIG, "--demo"];
        if keep {
            args.push("--keep");
        }
        let mut tui = Tui::spawn_with(&args, dir.path(), 80, 24);
        tui.sign_in("DEMO", "0000");
        let files = || -> Vec<String> {
            std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("titrate-demo-"))
                .collect()
        };
        assert!(!files().is_empty(), "the demo database is in TMPDIR");
        tui.send("q");
        tui.send("y");
        let status = tui.wait_exit(WAIT);
        assert!(status.success(), "{status:?}");
        if keep {
            assert!(files().iter().any(|f| f.ends_with(".db")), "{:?}", files());
        } else {
            assert_eq!(files(), Vec::<String>::new(), "demo files left behind");
        }
    }
}

/// titrate's command line on the ward's database, as the nurse at the bedside would use it.
fn cli(ward: &Ward, user: &str, pin: &str, args: &[&str]) {
    let out = std::process::Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TITRATE_USER", user)
        .env("TITRATE_PIN", pin)
        .current_dir(ward.dir.path())
        .args(["--config", CONFIG, "--db", ward.db.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn entries_of_kind(db: &Path, mrn: &str, kind: &str) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM entry e JOIN patient p ON p.id = e.patient_id
             WHERE e.kind = ?1 AND p.mrn = ?2",
            rusqlite::params![kind, mrn],
            |r| r.get(0),
        )
        .unwrap()
}

/// The Seen case of issue 11: the cursor on `! 2 Bram Jansen`, `r Enter` and `n 5 Enter`
/// take his flags away and move him down the list; the highlight moves with him, and the
/// next form is his.
#[test]
fn the_highlight_moves_with_the_patient_when_the_list_re_sorts() {
    let ward = Ward::new();
    let mut tui = Tui::spawn(&ward, 80, 24);
    tui.sign_in("NU", "1111");
    let s = tui.wait_for("Bram Jansen", WAIT);
    let hl = tui.highlighted();
    assert!(
        hl.len() == 1 && hl[0].contains("Bram Jansen") && hl[0].starts_with('!'),
        "Bram's flagged row should be highlighted first: {hl:?}\n{s}"
    );
    let rates = entries_of_kind(&ward.db, BRAM, "rate");
    let scores = entries_of_kind(&ward.db, BRAM, "nrs");
    tui.send("r");
    tui.wait_for("Rate change / hourly check · Bram Jansen", WAIT);
    tui.send(ENTER);
    tui.wait_for("saved: rate 14 mg/h", WAIT);
    tui.send("n");
    tui.wait_for("Pain score (NRS 0-10) · Bram Jansen", WAIT);
    tui.send("5");
    tui.send(ENTER);
    let s = tui.wait_for("saved: NRS 5", WAIT);
    let bram_row = s.lines().position(|l| l.contains("Bram Jansen")).unwrap();
    let first_row = s
        .lines()
        .position(|l| l.contains("Anouk de Vries"))
        .unwrap();
    assert!(first_row < bram_row, "Bram should have moved down:\n{s}");
    let hl = tui.highlighted();
    assert!(
        hl.len() == 1 && hl[0].contains("Bram Jansen"),
        "the highlight should have moved with Bram: {hl:?}\n{s}"
    );
    tui.send("r");
    let s = tui.wait_for("Rate change / hourly check ·", WAIT);
    assert!(
        s.contains("Rate change / hourly check · Bram Jansen · MRN 100871"),
        "the next form is Bram's:\n{s}"
    );
    tui.send(ESC);
    // Apart, or the terminal reads ESC q as Alt-q.
    tui.wait_until("the form to close", WAIT, |s| !s.contains("Rate change"));
    tui.send("q");
    tui.wait_exit(WAIT);
    tui.assert_restored();
    assert_eq!(entries_of_kind(&ward.db, BRAM, "rate"), rates + 1);
    assert_eq!(entries_of_kind(&ward.db, BRAM, "nrs"), scores + 1);
}

/// A form opened at 14 mg/h; the bedside nurse then steps the rate down to 12 on the
/// command line. The form's save is sent back with what changed, who and when, saves
/// nothing, and the form now proposes from 12; the next Enter saves on that picture.
#[test]
fn a_form_made_stale_by_the_command_line_is_sent_back_and_saves_nothing() {
    let ward = Ward::new();
    let mut tui = Tui::spawn(&ward, 120, 40);
    tui.sign_in("DEMO", "0000");
    tui.wait_for("Bram Jansen", WAIT);
    tui.send("r");
    tui.wait_for("hourly check, same rate", WAIT);
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    cli(
        &ward,
        "NU",
        "1111",
        &["dose", "--mrn", BRAM, "--rate", "12", "--at", &at],
    );
    let before = ward.entries();
    let demo_14 = rate_entries_by(&ward.db, "DEMO", BRAM, 1400);
    let demo_12 = rate_entries_by(&ward.db, "DEMO", BRAM, 1200);
    // Still the stale picture on screen; Enter is what would have saved "14 (check)".
    tui.send(ENTER);
    let s = tui.wait_for("changed since the form opened", WAIT);
    assert!(s.contains("rate 12 mg/h"), "what changed:\n{s}");
    assert!(s.contains("(NU)"), "who changed it:\n{s}");
    assert!(
        s.contains("Proposed 12 -> 12 mg/h (hourly check"),
        "the form as it now stands:\n{s}"
    );
    assert_eq!(
        ward.entries(),
        before,
        "nothing was saved on the stale picture"
    );
    tui.send(ENTER);
    tui.wait_for("saved: rate 12 mg/h (check)", WAIT);
    assert_eq!(ward.entries(), before + 1);
    assert_eq!(rate_entries_by(&ward.db, "DEMO", BRAM, 1400), demo_14);
    assert_eq!(rate_entries_by(&ward.db, "DEMO", BRAM, 1200), demo_12 + 1);
    tui.send("q");
    tui.wait_exit(WAIT);
    tui.assert_restored();
}
