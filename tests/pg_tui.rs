//! The ward terminal on PostgreSQL when its server goes away and comes back: it says that it
//! is reconnecting, saves nothing meanwhile, and carries on with the record as it then stands.
#![allow(clippy::unwrap_used)]

mod common;

use common::pg::Cluster;
use common::tui::{now, press, screen, typ};
use crossterm::event::KeyCode;
use titrate::config::Config;
use titrate::store::Db;
use titrate::tui::app::{App, Msg, Screen};
use titrate::ward::access;

/// A record with one admin on a fresh database of `cluster`, and a terminal signed in to it.
fn signed_in(cluster: &Cluster) -> (String, App) {
    let url = cluster.create_database("ward");
    let mut db = Db::create(url.as_str()).unwrap();
    let cfg = Config::defaults();
    access::first_admin(&mut db, "AB", "Anna Boer", "2468", &cfg.protocol, now()).unwrap();
    drop(db);
    let mut app = App::new(cfg, Db::open(url.as_str()).unwrap(), now());
    app.update(Msg::Tick(now()));
    press(&mut app, KeyCode::Esc);
    typ(&mut app, "AB");
    press(&mut app, KeyCode::Enter);
    typ(&mut app, "2468");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Overview, "{:?}", app.creds.error);
    (url, app)
}

#[test]
fn the_terminal_says_it_is_reconnecting_and_carries_on_when_the_server_is_back() {
    let cluster = Cluster::start();
    let (_url, mut app) = signed_in(&cluster);
    assert!(!screen(&app, 100, 30).contains("does not answer"));

    assert!(cluster.stop_immediate());
    app.update(Msg::Tick(now()));
    let away = screen(&app, 100, 30);
    assert!(away.contains("does not answer"), "{away}");
    assert!(away.contains("reconnecting"), "{away}");
    cluster.start_again();
    // The terminal finds the server again within a few ticks.
    let mut back = String::new();
    for _ in 0..50 {
        app.update(Msg::Tick(now()));
        back = screen(&app, 100, 30);
        if !back.contains("does not answer") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!back.contains("does not answer"), "{back}");
    assert!(back.contains("answers again"), "{back}");
    assert_eq!(app.user.as_ref().map(|u| u.id.as_str()), Some("AB"));
}
