//! Several terminals writing at once: every acknowledged entry is stored exactly once and no
//! "database is locked" reaches anyone.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;

use chrono::Duration;
use common::{Ward, first_number, hours_ago, rfc, text};

#[test]
fn eight_processes_write_at_once() {
    let w = Ward::new();
    for mrn in ["5001", "5002"] {
        w.ok(&[
            "patient",
            "add",
            "--mrn",
            mrn,
            "--name",
            "Parallel Patient",
            "--birth-date",
            "1990-01-01",
            "--sex",
            "other",
        ]);
        w.ok(&["course", "start", "--mrn", mrn, "--at", &rfc(hours_ago(20))]);
    }
    let per_process = 5;
    let mut children = Vec::new();
    for p in 0..8 {
        // Half write to the same patient, half to another.
        let mrn = if p % 2 == 0 { "5001" } else { "5002" };
        let script: Vec<Vec<String>> = (0..per_process)
            .map(|i| {
                let at = rfc(hours_ago(10) + Duration::minutes(p * 10 + i));
                vec![
                    "nrs".into(),
                    "--mrn".into(),
                    mrn.into(),
                    "--score".into(),
                    format!("{}", (p + i) % 11),
                    "--at".into(),
                    at,
                ]
            })
            .collect();
        let db = w.path().to_path_buf();
        let dir = w.dir.path().to_path_buf();
        children.push(std::thread::spawn(move || {
            let mut ids = Vec::new();
            for args in script {
                let out = std::process::Command::new(env!("CARGO_BIN_EXE_titrate"))
                    .env_clear()
                    .env("TITRATE_DB", &db)
                    .env("TITRATE_CONFIG", common::CONFIG)
                    .env("TITRATE_USER", "AB")
                    .env("TITRATE_PIN", "1234")
                    .current_dir(&dir)
                    .args(&args)
                    .output()
                    .unwrap();
                let err = text(&out.stderr);
                assert!(!err.contains("locked"), "{err}");
                assert!(out.status.success(), "{err}");
                ids.push(first_number(&text(&out.stdout)));
            }
            ids
        }));
    }
    let ids: Vec<i64> = children
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert_eq!(ids.len(), 8 * per_process as usize);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "every id is distinct"
    );
    let conn = rusqlite::Connection::open(w.path()).unwrap();
    let stored: i64 = conn
        .query_row("SELECT COUNT(*) FROM entry WHERE kind = 'nrs'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(stored, ids.len() as i64);
    for id in &ids {
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM entry WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, 1, "entry {id}");
    }
    assert!(w.ok(&["audit", "verify"]).contains("sound"));
}
