//! The ward terminal. One loop: draw, wait for one event (a key or a tick), update.

pub mod app;
pub mod confirm;
pub mod form;
pub mod input;
pub mod keys;
pub mod markdown;
pub mod panel;
mod patient;
pub mod staff;
pub mod ui;
pub mod view;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use anyhow::Context;
use crossterm::event::{self, Event, KeyEventKind};

use app::{App, Msg};

/// How often the clock and "changed elsewhere" are checked: well inside the 2 s in which
/// another terminal's entry must appear.
pub const TICK: Duration = Duration::from_millis(250);

/// Runs the terminal until the user quits or a signal (SIGTERM, SIGHUP when an SSH
/// connection drops, SIGINT) arrives, and returns the signal's number if one ended it. The
/// terminal is restored on every way out, panics included (ratatui's init installs that hook).
pub fn run(mut app: App) -> anyhow::Result<Option<i32>> {
    let signal = Arc::new(AtomicI32::new(0));
    let done = Arc::new(AtomicBool::new(false));
    watch_signals(Arc::clone(&signal), Arc::clone(&done))?;
    let mut terminal = ratatui::init();
    let result = event_loop(&mut terminal, &mut app, &signal);
    restore_quietly();
    // Dropping the terminal shows the cursor again and reports a failure with eprintln!,
    // which panics on a terminal that has gone away; the cursor is already shown above.
    std::mem::forget(terminal);
    done.store(true, Ordering::SeqCst);
    let sig = signal.load(Ordering::SeqCst);
    if sig != 0 {
        // After a hang-up, drawing fails on the dead terminal: that is the signal's doing,
        // not an error to report (there is nowhere left to report it).
        return Ok(Some(sig));
    }
    result.map(|()| None)
}

/// Leaves raw mode and the alternate screen and shows the cursor, ignoring every error: the
/// terminal may be gone (a dropped SSH connection), and reporting that on the same dead
/// terminal would panic.
pub fn restore_quietly() {
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = crossterm::execute!(
        std::io::stdout(),
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// On SIGTERM, SIGHUP or SIGINT the loop is asked to stop. When the terminal is gone,
/// crossterm's poll can spin without returning, and a save may be waiting for the database
/// lock; then, after a grace period, this thread restores what it can and exits. Nothing is
/// lost by that: every entry is one database transaction, and an unsaved form was never written.
fn watch_signals(signal: Arc<AtomicI32>, done: Arc<AtomicBool>) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT])
        .context("installing signal handlers")?;
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            signal.store(sig, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(600));
            if !done.load(Ordering::SeqCst) {
                restore_quietly();
                std::process::exit(128 + sig);
            }
        }
    });
    Ok(())
}

/// How often a terminal with a pushed change feed looks whether a push came in.
const WATCH_SLICE: Duration = Duration::from_millis(10);

/// A key or resize within one tick, or None at the tick (or as soon as another terminal's
/// commit is pushed, so that it is on this screen within milliseconds).
fn next_event(watch: Option<&crate::store::Watch>) -> anyhow::Result<Option<Event>> {
    let Some(watch) = watch else {
        return Ok(if event::poll(TICK)? {
            Some(event::read()?)
        } else {
            None
        });
    };
    let until = std::time::Instant::now() + TICK;
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if event::poll(left.min(WATCH_SLICE))? {
            return Ok(Some(event::read()?));
        }
        if watch.changed() || left.is_zero() {
            return Ok(None);
        }
    }
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    signal: &AtomicI32,
) -> anyhow::Result<()> {
    app.update(Msg::Tick(chrono::Utc::now()));
    if let Ok(size) = terminal.size() {
        app.update(Msg::Resize(size.width, size.height));
    }
    let watch = app.db.watch();
    while !app.quit && signal.load(Ordering::Relaxed) == 0 {
        terminal.draw(|f| ui::draw(f, app))?;
        let event = next_event(watch.as_ref())?;
        app.update(Msg::Tick(chrono::Utc::now()));
        if event.is_none() {
            app.update(Msg::Idle);
        }
        // Only presses: terminals that report releases would otherwise type twice.
        if let Some(Event::Resize(w, h)) = event {
            app.update(Msg::Resize(w, h));
        }
        if let Some(Event::Key(k)) = event
            && k.kind == KeyEventKind::Press
        {
            app.update(Msg::Key(k));
        }
    }
    Ok(())
}
