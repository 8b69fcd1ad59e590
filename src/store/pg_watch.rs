//! Live refresh on PostgreSQL: a connection of its own that LISTENs on channel `titrate`
//! (every audit insert NOTIFYs it, see schema-postgres.sql) and tells the terminal's
//! [`Watch`] at once. After a lost connection it connects again (through every host of the
//! URL, so after a failover to the promoted replica), listens again and tells the watch, so
//! that the terminal re-reads whatever it missed meanwhile. The terminal's tick still polls
//! `data_version`, so even a listener that cannot connect only slows the refresh.

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;

use super::Watch;

/// How long one wait for a notification lasts before the listener looks whether anyone
/// still watches.
const WAIT: Duration = Duration::from_millis(500);
/// The longest pause between two attempts to connect again.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Starts the listener for `url`; it ends once nobody holds `watch` but itself.
pub fn spawn(url: String, watch: Watch) {
    let spawned = std::thread::Builder::new()
        .name("titrate-listen".into())
        .spawn(move || listen(&url, &watch));
    // Without the thread the tick's poll still refreshes the screen.
    drop(spawned);
}

fn listen(url: &str, watch: &Watch) {
    let mut backoff = Duration::from_millis(100);
    while watch.watched() {
        let mut client = match super::pg_tls::connect(url) {
            Ok(c) => c,
            Err(_) => {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        if client.batch_execute("LISTEN titrate").is_err() {
            std::thread::sleep(backoff);
            continue;
        }
        backoff = Duration::from_millis(100);
        // Whatever was committed while nobody listened is read now.
        watch.tell();
        while watch.watched() {
            let mut notes = client.notifications();
            let next = notes.timeout_iter(WAIT).next();
            match next {
                Ok(Some(_)) => {
                    // One re-read covers every commit so far.
                    while let Ok(Some(_)) = notes.iter().next() {}
                    watch.tell();
                }
                Ok(None) => {}
                Err(_) => break,
            }
        }
        // Lost: the terminal re-reads (and learns whether the server is there).
        watch.tell();
    }
}
