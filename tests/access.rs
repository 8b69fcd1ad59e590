//! Sign-in under parallel tries, the staff lifecycle, admin recovery and who may change an
//! entry, all through the real binary.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Output};
use std::sync::{Arc, Barrier};

use common::{Ward, hours_ago, rfc, text};
use serde_json::Value;

/// The lockout limit in the shipped config.toml.
const MAX: i64 = 5;

fn add_staff(w: &Ward, id: &str, role: &str, pin: &str) {
    let out = w.run_with(
        "AB",
        "1234",
        &[("TITRATE_NEW_PIN", pin)],
        &[
            "staff", "add", "--id", id, "--name", "Someone", "--role", role,
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

fn as_user(w: &Ward, user: &str, pin: &str, args: &[&str]) -> Output {
    w.run_with(user, pin, &[], args)
}

/// (seq, action, tbl, row_key, content) of every audit row after `after`.
fn audit_after(w: &Ward, after: i64) -> Vec<(i64, String, Option<String>, Value)> {
    let c = rusqlite::Connection::open(w.path()).unwrap();
    let mut stmt = c
        .prepare("SELECT seq, action, tbl, content FROM audit WHERE seq > ?1 ORDER BY seq")
        .unwrap();
    stmt.query_map([after], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            serde_json::from_str(&r.get::<_, String>(3)?).unwrap(),
        ))
    })
    .unwrap()
    .map(|r| r.unwrap())
    .collect()
}

fn last_seq(w: &Ward) -> i64 {
    let c = rusqlite::Connection::open(w.path()).unwrap();
    c.query_row("SELECT coalesce(max(seq), 0) FROM audit", [], |r| r.get(0))
        .unwrap()
}

fn staff_row(w: &Ward, id: &str) -> (String, i64, i64, i64) {
    let c = rusqlite::Connection::open(w.path()).unwrap();
    c.query_row(
        "SELECT role, active, failed_pins, locked FROM staff WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .unwrap()
}

fn assert_sound(w: &Ward) {
    // `check` needs no sign-in.
    let out = as_user(w, "", "", &["check"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
}

/// Starts all `pins` as `user` at once (each a separate process running `cohort --json`)
/// and returns (pin, output) in the order given.
fn burst(w: &Ward, user: &str, pins: &[String]) -> Vec<(String, Output)> {
    let barrier = Arc::new(Barrier::new(pins.len()));
    let handles: Vec<_> = pins
        .iter()
        .map(|pin| {
            let mut c: Command = w.command(user, pin);
            c.args(["cohort", "--json"]);
            let b = barrier.clone();
            let pin = pin.clone();
            std::thread::spawn(move || {
                b.wait();
                (pin, c.output().unwrap())
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// Many wrong PINs and the right one, sent at once in rounds of different sizes, with the
/// right PIN at different places and the account already holding some failures. Read back
/// from the audit log in its order: never more than the maximum wrong PINs evaluated in a
/// row, nothing evaluated after the lock, no success after the lock, and the counter in
/// every audit row and in the staff row exactly what the evaluated tries add up to.
#[test]
fn parallel_sign_ins_evaluate_at_most_the_maximum_and_nothing_after_the_lock() {
    // (number of tries, 1-based places of the right PIN, wrong PINs tried before the burst)
    let rounds: &[(usize, &[usize], i64)] = &[
        (24, &[17], 0),
        (24, &[17], 1),
        (24, &[1], 2),
        (24, &[24], 4),
        (12, &[6], 3),
        (24, &[3, 20], 1),
        (7, &[2, 7], 0),
        (16, &[], 0),
        (6, &[6], 4),
    ];
    for (round, &(n, rights, before)) in rounds.iter().enumerate() {
        let w = Ward::new();
        add_staff(&w, "NU", "nurse", "5678");
        for _ in 0..before {
            let out = as_user(&w, "NU", "0000", &["cohort"]);
            assert!(!out.status.success());
        }
        let start = last_seq(&w);
        let pins: Vec<String> = (1..=n)
            .map(|i| {
                if rights.contains(&i) {
                    "5678".to_string()
                } else {
                    // Wrong PINs of different lengths and values.
                    format!("{:0width$}", 1000 + i, width = 4 + i % 3)
                }
            })
            .collect();
        let results = burst(&w, "NU", &pins);
        let ctx = format!("round {round} ({n} tries, right at {rights:?}, {before} before)");

        // Replay the audit log in its order.
        let mut count = before;
        let mut locked = false;
        let mut wrong_evaluated = 0;
        let mut locked_refusals = 0;
        let mut resets = 0;
        let mut in_a_row = before;
        for (seq, action, tbl, content) in audit_after(&w, start) {
            let staff_row = tbl.as_deref() == Some("staff");
            match (action.as_str(), staff_row) {
                ("signin-fail", true) => {
                    assert!(
                        !locked,
                        "{ctx}: a wrong PIN evaluated after the lock (seq {seq})"
                    );
                    count += 1;
                    in_a_row += 1;
                    wrong_evaluated += 1;
                    assert!(
                        in_a_row <= MAX,
                        "{ctx}: more than {MAX} wrong PINs in a row"
                    );
                    assert_eq!(content["failed_pins"], count, "{ctx}: seq {seq}");
                    let lock_now = count >= MAX;
                    assert_eq!(content["locked"], i64::from(lock_now), "{ctx}: seq {seq}");
                    locked = lock_now;
                }
                ("signin-fail", false) => {
                    assert_eq!(content["why"], "locked", "{ctx}: seq {seq}: {content}");
                    assert!(
                        locked,
                        "{ctx}: refused as locked before the lock (seq {seq})"
                    );
                    locked_refusals += 1;
                }
                ("signin-reset", true) => {
                    assert!(!locked, "{ctx}: a success after the lock row (seq {seq})");
                    assert_eq!(content["failed_pins"], 0);
                    count = 0;
                    in_a_row = 0;
                    resets += 1;
                }
                other => panic!("{ctx}: unexpected audit row {other:?} {content}"),
            }
        }

        // Every try is in the log exactly once: evaluated, refused as locked, or a success
        // (a success without failures before it writes nothing).
        let successes = results.iter().filter(|(_, o)| o.status.success()).count();
        assert_eq!(
            wrong_evaluated + locked_refusals + successes,
            n,
            "{ctx}: tries and audit rows differ"
        );
        for (pin, out) in &results {
            let err = text(&out.stderr);
            if pin == "5678" {
                assert!(
                    out.status.success() || err.contains("account NU is locked"),
                    "{ctx}: right PIN: {err}"
                );
            } else {
                assert!(!out.status.success(), "{ctx}: wrong PIN {pin} accepted");
                assert!(
                    err.contains("sign-in failed") || err.contains("account NU is locked"),
                    "{ctx}: {err}"
                );
            }
        }
        // With failures before the burst, every success had to reset them: its place in
        // the log is known, and the replay above proved it came before any lock.
        if before > 0 {
            assert_eq!(successes, resets, "{ctx}: a success that reset nothing");
        } else {
            assert!(successes >= resets, "{ctx}");
        }
        let (_, _, failed, lock) = staff_row(&w, "NU");
        assert_eq!(failed, count, "{ctx}: failed_pins in the staff row");
        assert_eq!(lock, i64::from(locked), "{ctx}: locked in the staff row");
        // Where no success came between, the burst must have ended locked.
        if rights.is_empty() || successes == 0 {
            assert!(locked, "{ctx}: {n} wrong PINs and not locked");
        }
        // A locked account accepts its right PIN no more.
        if locked {
            let out = as_user(&w, "NU", "5678", &["cohort"]);
            assert!(!out.status.success(), "{ctx}");
            assert!(text(&out.stderr).contains("account NU is locked"), "{ctx}");
        }
        assert_sound(&w);
    }
}

/// Deactivation, reactivation, role changes and PIN resets: each audited, each refused with
/// a clear message when it would change nothing, and a deactivated person cannot sign in
/// while their past entries read exactly as before.
#[test]
fn staff_lifecycle_is_audited_and_a_deactivated_person_cannot_sign_in() {
    let w = Ward::new();
    add_staff(&w, "NU", "nurse", "5678");
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
    ]);
    w.ok(&[
        "course",
        "start",
        "--mrn",
        "1001",
        "--at",
        &rfc(hours_ago(5)),
    ]);
    let out = as_user(
        &w,
        "NU",
        "5678",
        &[
            "nrs",
            "--mrn",
            "1001",
            "--score",
            "6",
            "--at",
            &rfc(hours_ago(4)),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let history_before = w.ok(&["history", "--mrn", "1001"]);
    assert!(history_before.contains("NU"), "{history_before}");

    let seq = last_seq(&w);
    assert!(w.ok(&["staff", "deactivate", "NU"]).contains("deactivated"));
    let rows = audit_after(&w, seq);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1, "staff-deactivate");
    assert_eq!(rows[0].3["active"], 0);
    assert_eq!(staff_row(&w, "NU").1, 0);

    // Deactivated: the right PIN is refused, with a message saying so, and it is audited.
    let seq = last_seq(&w);
    let out = as_user(&w, "NU", "5678", &["cohort"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("account NU is deactivated"),
        "{}",
        text(&out.stderr)
    );
    let rows = audit_after(&w, seq);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].3["why"], "deactivated");
    // Her name and entries stay.
    assert_eq!(w.ok(&["history", "--mrn", "1001"]), history_before);
    let list = w.ok(&["staff", "list"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with("NU ") && l.contains("deactivated") && l.contains("Someone")),
        "{list}"
    );
    assert!(
        w.refused(&["staff", "deactivate", "NU"])
            .contains("deactivated already")
    );

    assert!(w.ok(&["staff", "reactivate", "NU"]).contains("reactivated"));
    assert!(
        w.refused(&["staff", "reactivate", "NU"])
            .contains("active already")
    );
    assert!(as_user(&w, "NU", "5678", &["cohort"]).status.success());

    // Roles.
    let out = w.ok(&["staff", "role", "NU", "--role", "physician"]);
    assert!(out.contains("NU is now physician"), "{out}");
    assert_eq!(staff_row(&w, "NU").0, "physician");
    assert!(
        w.refused(&["staff", "role", "NU", "--role", "physician"])
            .contains("has the physician role already")
    );
    let err = w.refused(&["staff", "role", "NU", "--role", "surgeon"]);
    assert!(err.contains("nurse") && err.contains("admin"), "{err}");
    w.ok(&["staff", "role", "NU", "--role", "nurse"]);

    // Reset PIN: from TITRATE_NEW_PIN, clears a lock, checked like a new PIN.
    for _ in 0..MAX {
        as_user(&w, "NU", "0000", &["cohort"]);
    }
    assert_eq!(staff_row(&w, "NU").3, 1);
    let bad = w.run_with(
        "AB",
        "1234",
        &[("TITRATE_NEW_PIN", "12")],
        &["staff", "reset-pin", "NU"],
    );
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("a PIN is 4 to 12 digits"));
    assert_eq!(
        staff_row(&w, "NU").3,
        1,
        "a refused reset changed the account"
    );
    let seq = last_seq(&w);
    let out = w.run_with(
        "AB",
        "1234",
        &[("TITRATE_NEW_PIN", "97531")],
        &["staff", "reset-pin", "NU"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows = audit_after(&w, seq);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1, "staff-reset-pin");
    let (_, _, failed, locked) = staff_row(&w, "NU");
    assert_eq!((failed, locked), (0, 0));
    assert!(!as_user(&w, "NU", "5678", &["cohort"]).status.success());
    assert!(as_user(&w, "NU", "97531", &["cohort"]).status.success());

    // None of these is a nurse's to do; unknown ids are named.
    for args in [
        vec!["staff", "deactivate", "AB"],
        vec!["staff", "reactivate", "AB"],
        vec!["staff", "role", "NU", "--role", "admin"],
        vec!["staff", "reset-pin", "AB"],
    ] {
        let out = w.run_with("NU", "97531", &[("TITRATE_NEW_PIN", "2222")], &args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            text(&out.stderr).contains("that needs the admin role"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(staff_row(&w, "NU").0, "nurse");
    assert!(
        w.refused(&["staff", "deactivate", "ZZ"])
            .contains("no staff account ZZ")
    );
    assert_sound(&w);
}

#[test]
fn pin_change_needs_the_current_pin_and_follows_the_pin_policy() {
    let w = Ward::new();
    add_staff(&w, "NU", "nurse", "5678");
    let change = |current: &str, new: &str| {
        w.run_with(
            "NU",
            current,
            &[("TITRATE_NEW_PIN", new)],
            &["pin", "change"],
        )
    };
    let wrong = change("0000", "2468");
    assert!(text(&wrong.stderr).contains("sign-in failed"));
    assert_eq!(staff_row(&w, "NU").2, 1);
    for (new, expect) in [
        ("12", "a PIN is 4 to 12 digits"),
        ("abcd", "a PIN is 4 to 12 digits"),
        ("1234567890123", "a PIN is 4 to 12 digits"),
        ("5678", "the same as the current one"),
    ] {
        let out = change("5678", new);
        assert!(!out.status.success(), "{new}");
        assert!(
            text(&out.stderr).contains(expect),
            "{new}: {}",
            text(&out.stderr)
        );
    }
    let seq = last_seq(&w);
    let out = change("5678", "24680");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows = audit_after(&w, seq);
    assert_eq!(
        rows.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
        ["pin-change"]
    );
    assert!(!as_user(&w, "NU", "5678", &["cohort"]).status.success());
    assert!(as_user(&w, "NU", "24680", &["cohort"]).status.success());
    // Without TITRATE_NEW_PIN and without a terminal, nothing is changed.
    let mut c = w.command("NU", "24680");
    c.args(["pin", "change"]);
    let out = c.output().unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("TITRATE_NEW_PIN"),
        "{}",
        text(&out.stderr)
    );
    assert_sound(&w);
}

/// The last active, unlocked admin cannot be deactivated or demoted, also not by two admins
/// acting on each other at the same moment.
#[test]
fn the_last_working_admin_stays_even_under_parallel_demotions() {
    let w = Ward::new();
    let err = w.refused(&["staff", "deactivate", "AB"]);
    assert!(
        err.contains("AB is the last active, unlocked admin"),
        "{err}"
    );
    let err = w.refused(&["staff", "role", "AB", "--role", "physician"]);
    assert!(err.contains("cannot be demoted"), "{err}");

    // A locked admin does not count as the one that remains.
    add_staff(&w, "CD", "admin", "4321");
    for _ in 0..MAX {
        as_user(&w, "CD", "0000", &["cohort"]);
    }
    let err = w.refused(&["staff", "role", "AB", "--role", "nurse"]);
    assert!(err.contains("last active, unlocked admin"), "{err}");
    w.ok(&["staff", "unlock", "CD"]);

    let actions: &[(&[&str], &[&str])] = &[
        (
            &["staff", "role", "CD", "--role", "nurse"],
            &["staff", "role", "AB", "--role", "nurse"],
        ),
        (
            &["staff", "deactivate", "CD"],
            &["staff", "deactivate", "AB"],
        ),
        (
            &["staff", "deactivate", "CD"],
            &["staff", "role", "AB", "--role", "physician"],
        ),
    ];
    for round in 0..6 {
        let (by_ab, by_cd) = actions[round % actions.len()];
        let barrier = Arc::new(Barrier::new(2));
        let mut handles = Vec::new();
        for (user, pin, args) in [("AB", "1234", by_ab), ("CD", "4321", by_cd)] {
            let mut c = w.command(user, pin);
            c.args(args);
            let b = barrier.clone();
            handles.push(std::thread::spawn(move || {
                b.wait();
                c.output().unwrap()
            }));
        }
        let outs: Vec<Output> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let working: Vec<&str> = ["AB", "CD"]
            .into_iter()
            .filter(|id| staff_row(&w, id) == ("admin".into(), 1, 0, 0))
            .collect();
        assert_eq!(
            working.len(),
            1,
            "round {round}: {:?}",
            outs.iter().map(|o| text(&o.stderr)).collect::<Vec<_>>()
        );
        assert_eq!(outs.iter().filter(|o| o.status.success()).count(), 1);
        for o in outs.iter().filter(|o| !o.status.success()) {
            let e = text(&o.stderr);
            assert!(
                e.contains("last active, unlocked admin")
                    || e.contains("changed since it signed in")
                    || e.contains("is deactivated")
                    || e.contains("needs the admin role"),
                "round {round}: {e}"
            );
        }
        // Put the other admin back for the next round, as the one that remains.
        let (keeper, kpin) = if working[0] == "AB" {
            ("AB", "1234")
        } else {
            ("CD", "4321")
        };
        let other = if keeper == "AB" { "CD" } else { "AB" };
        let (role, active, _, _) = staff_row(&w, other);
        if active == 0 {
            assert!(
                as_user(&w, keeper, kpin, &["staff", "reactivate", other])
                    .status
                    .success()
            );
        }
        if role != "admin" {
            let out = as_user(
                &w,
                keeper,
                kpin,
                &["staff", "role", other, "--role", "admin"],
            );
            assert!(out.status.success());
        }
    }
    assert_sound(&w);
}

/// When the only admin is locked out, whoever can write the database file recovers it; the
/// recovery is audited with the operating-system account.
#[test]
fn recover_admin_unlocks_the_only_admin_for_whoever_can_write_the_file() {
    let w = Ward::new();
    for _ in 0..MAX {
        as_user(&w, "AB", "0000", &["cohort"]);
    }
    let out = as_user(&w, "AB", "1234", &["staff", "unlock", "AB"]);
    assert!(text(&out.stderr).contains("account AB is locked"));

    let seq = last_seq(&w);
    let mut c = w.command("", "");
    c.env_remove("TITRATE_USER").env_remove("TITRATE_PIN");
    c.args(["recover-admin", "--id", "AB"]);
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("unlocked"),
        "{}",
        text(&out.stdout)
    );
    let rows = audit_after(&w, seq);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].1, "recover-admin");
    assert_eq!(rows[0].3["locked"], 0);
    let uid = rustix::process::geteuid().as_raw();
    assert_eq!(rows[1].3["os_uid"], uid);
    let c = rusqlite::Connection::open(w.path()).unwrap();
    let actor: String = c
        .query_row("SELECT actor FROM audit WHERE seq = ?1", [rows[1].0], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(
        actor.starts_with("os:") && actor.contains(&format!("uid {uid}")),
        "{actor}"
    );
    assert!(
        as_user(&w, "AB", "1234", &["staff", "list"])
            .status
            .success()
    );

    // A working admin is not "recovered" again; a new PIN can be set.
    let mut again = w.command("AB", "1234");
    again.args(["recover-admin", "--id", "AB"]);
    let out = again.output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("nothing changed"));
    let out = w.run_with(
        "AB",
        "1234",
        &[("TITRATE_NEW_PIN", "8642")],
        &["recover-admin", "--id", "AB"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        as_user(&w, "AB", "8642", &["staff", "list"])
            .status
            .success()
    );

    // A new id needs a name and a PIN; a nurse made admin needs a new PIN.
    let out = w.run_with("AB", "8642", &[], &["recover-admin", "--id", "EF"]);
    assert!(
        text(&out.stderr).contains("give --name"),
        "{}",
        text(&out.stderr)
    );
    let out = w.run_with(
        "AB",
        "8642",
        &[("TITRATE_NEW_PIN", "1357")],
        &["recover-admin", "--id", "EF", "--name", "Eva Fiets"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(staff_row(&w, "EF"), ("admin".into(), 1, 0, 0));
    let out = w.run_with(
        "AB",
        "8642",
        &[("TITRATE_NEW_PIN", "5678")],
        &[
            "staff", "add", "--id", "NU", "--name", "Nina", "--role", "nurse",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        as_user(&w, "AB", "8642", &["staff", "deactivate", "NU"])
            .status
            .success()
    );
    let out = w.run_with("AB", "8642", &[], &["recover-admin", "--id", "NU"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("new PIN"),
        "{}",
        text(&out.stderr)
    );
    let out = w.run_with(
        "AB",
        "8642",
        &[("TITRATE_NEW_PIN", "1122")],
        &["recover-admin", "--id", "NU"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(staff_row(&w, "NU"), ("admin".into(), 1, 0, 0));
    assert!(
        as_user(&w, "NU", "1122", &["staff", "list"])
            .status
            .success()
    );
    assert_sound(&w);
}

/// Someone who cannot write the database file cannot recover an admin: not another OS
/// account (run as `nobody` when the tests run as root), not over a read-only file.
#[cfg(unix)]
#[test]
fn recover_admin_is_refused_to_whoever_cannot_write_the_file() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let w = Ward::new();
    for _ in 0..MAX {
        as_user(&w, "AB", "0000", &["cohort"]);
    }
    let before = common::dump(w.path());
    let root = rustix::process::geteuid().is_root();
    // A copy of the binary beside the database, so that another account can run it
    // wherever the build folder lives.
    let bin = w.dir.path().join("titrate-copy");
    std::fs::copy(env!("CARGO_BIN_EXE_titrate"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = w.dir.path().join("config-copy.toml");
    std::fs::copy(common::CONFIG, &config).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let recover = |uid: Option<u32>| {
        let mut c = Command::new(&bin);
        c.env_clear()
            .env("TITRATE_DB", w.path())
            .env("TITRATE_CONFIG", &config)
            .current_dir(w.dir.path())
            .args(["recover-admin", "--id", "AB"]);
        if let Some(u) = uid {
            c.uid(u).gid(u);
        }
        c.output().unwrap()
    };
    let set_mode = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    let nobody = 65534;
    if root {
        // Another account that can read the file, and even write it: not its owner.
        set_mode(w.dir.path(), 0o777);
        for mode in [0o644, 0o666] {
            set_mode(w.path(), mode);
            let out = recover(Some(nobody));
            assert!(!out.status.success());
            let e = text(&out.stderr);
            assert!(
                e.contains("only for the owner of") && e.contains("uid 65534"),
                "{e}"
            );
            assert_eq!(common::dump(w.path()), before);
        }
        // Its owner, over a read-only file.
        std::os::unix::fs::chown(w.path(), Some(nobody), Some(nobody)).unwrap();
        for f in ["ward.db-wal", "ward.db-shm"] {
            let _ = std::os::unix::fs::chown(w.dir.path().join(f), Some(nobody), Some(nobody));
        }
        set_mode(w.path(), 0o400);
        let out = recover(Some(nobody));
        let e = text(&out.stderr);
        assert!(!out.status.success(), "{}", text(&out.stdout));
        assert!(e.contains("needs to write") && e.contains("ward.db"), "{e}");
    } else {
        set_mode(w.path(), 0o400);
        let out = recover(None);
        let e = text(&out.stderr);
        assert!(!out.status.success(), "{}", text(&out.stdout));
        assert!(e.contains("needs to write") && e.contains("ward.db"), "{e}");
    }
    set_mode(w.path(), 0o600);
    assert_eq!(common::dump(w.path()), before);
}

/// Who may change an entry is decided by everyone who recorded a version of it: a nurse
/// may correct her own entry, but not a physician's correction of it.
#[test]
fn a_nurse_cannot_amend_or_void_a_physicians_correction_of_her_entry() {
    let w = Ward::new();
    add_staff(&w, "NU", "nurse", "5678");
    add_staff(&w, "PH", "physician", "4321");
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
    ]);
    w.ok(&[
        "course",
        "start",
        "--mrn",
        "1001",
        "--at",
        &rfc(hours_ago(6)),
    ]);
    let nurse = |args: &[&str]| as_user(&w, "NU", "5678", args);
    let id_of = |o: &Output| common::first_number(&text(&o.stdout));
    let nrs = nurse(&[
        "nrs",
        "--mrn",
        "1001",
        "--score",
        "6",
        "--at",
        &rfc(hours_ago(5)),
    ]);
    assert!(nrs.status.success(), "{}", text(&nrs.stderr));
    let own = id_of(&nrs).to_string();
    // Her own entry, and her own correction of it.
    let a = nurse(&["amend", &own, "--reason", "typo", "--score", "5"]);
    assert!(a.status.success(), "{}", text(&a.stderr));
    let own2 = id_of(&a).to_string();
    // The physician corrects it.
    let p = as_user(
        &w,
        "PH",
        "4321",
        &["amend", &own2, "--reason", "asked again", "--score", "7"],
    );
    assert!(p.status.success(), "{}", text(&p.stderr));
    let phys = id_of(&p).to_string();
    let dump = common::dump(w.path());
    for args in [
        vec!["amend", phys.as_str(), "--reason", "back", "--score", "5"],
        vec!["void", phys.as_str(), "--reason", "mine"],
    ] {
        let out = nurse(&args);
        assert!(!out.status.success(), "{args:?} accepted");
        let e = text(&out.stderr);
        assert!(
            e.contains("may not amend or void another person's entry"),
            "{args:?}: {e}"
        );
        let after = common::dump(w.path());
        // Only the "denied" audit row (and its head) are new.
        let new: Vec<_> = after.iter().filter(|r| !dump.contains(r)).collect();
        assert!(
            new.iter()
                .all(|r| r.starts_with("audit:") || r.starts_with("audit_head:")),
            "{new:?}"
        );
    }
    // The physician's chain stays changeable by the physician, and the nurse's untouched
    // chain by the nurse.
    let v = as_user(
        &w,
        "PH",
        "4321",
        &["void", &phys, "--reason", "wrong patient"],
    );
    assert!(v.status.success(), "{}", text(&v.stderr));
    let nrs = nurse(&[
        "nrs",
        "--mrn",
        "1001",
        "--score",
        "4",
        "--at",
        &rfc(hours_ago(4)),
    ]);
    let mine = id_of(&nrs).to_string();
    assert!(
        nurse(&["void", &mine, "--reason", "double"])
            .status
            .success()
    );
    assert_sound(&w);
}

/// `staff list` lines its columns up whatever the ids and names hold.
#[test]
fn staff_list_columns_line_up() {
    use unicode_width::UnicodeWidthStr;
    let w = Ward::new();
    for (id, name, role) in [
        ("ABCDEFGHIJKL", "山田 太郎", "physician"),
        ("N1", "Émile Ångström-Łukasiewicz", "nurse"),
        ("Q", "עברית שם", "nurse"),
    ] {
        let out = w.run_with(
            "AB",
            "1234",
            &[("TITRATE_NEW_PIN", "5678")],
            &["staff", "add", "--id", id, "--name", name, "--role", role],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    w.ok(&["staff", "deactivate", "N1"]);
    let list = w.ok(&["staff", "list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 5, "{list}");
    // The screen column where ROLE, STATE and NAME start, read from the header.
    let col = |l: &str, byte: usize| UnicodeWidthStr::width(&l[..byte]);
    let header = lines[0];
    let starts: Vec<usize> = ["ROLE", "STATE", "NAME"]
        .iter()
        .map(|h| col(header, header.find(h).unwrap()))
        .collect();
    for l in &lines[1..] {
        for (i, &s) in starts.iter().enumerate() {
            // The character at that screen column starts a cell: a space before it.
            let mut width = 0;
            let byte = l
                .char_indices()
                .find(|(b, _)| {
                    width = col(l, *b);
                    width >= s
                })
                .map(|(b, _)| b)
                .unwrap_or(l.len());
            assert_eq!(width, s, "column {i} of {l:?}\n{list}");
            assert!(l[..byte].ends_with("  "), "column {i} of {l:?}\n{list}");
            assert!(!l[byte..].starts_with(' '), "column {i} of {l:?}\n{list}");
        }
    }
}

/// The ward terminal signs in through the same transaction: a deactivated person is refused
/// there too, and a sign-in that finds the database held by another terminal checks and
/// counts nothing, keeps the PIN and works on the next Enter.
#[test]
fn the_ward_terminal_signs_in_the_same_way() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use titrate::tui::app::{App, Msg, Screen};
    let w = Ward::new();
    add_staff(&w, "NU", "nurse", "5678");
    w.ok(&["staff", "deactivate", "NU"]);
    let now = chrono::Utc::now();
    let db = titrate::store::Db::open(w.path()).unwrap();
    let mut app = App::new(titrate::config::Config::defaults(), db, now);
    let key = |app: &mut App, code: KeyCode| {
        app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    };
    let sign_in = |app: &mut App, id: &str, pin: &str| {
        key(app, KeyCode::Esc);
        for c in id.chars() {
            key(app, KeyCode::Char(c));
        }
        key(app, KeyCode::Enter);
        for c in pin.chars() {
            key(app, KeyCode::Char(c));
        }
        key(app, KeyCode::Enter);
    };
    sign_in(&mut app, "NU", "5678");
    assert_eq!(app.screen, Screen::SignIn);
    let err = app.creds.error.clone().unwrap_or_default();
    assert!(err.contains("account NU is deactivated"), "{err}");

    // Another terminal holds the write lock.
    let other = rusqlite::Connection::open(w.path()).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let before = common::dump(w.path());
    sign_in(&mut app, "AB", "0000");
    assert_eq!(app.screen, Screen::SignIn);
    let err = app.creds.error.clone().unwrap_or_default();
    assert!(err.contains("busy at another terminal"), "{err}");
    assert_eq!(app.creds.fields[1], "0000", "the PIN is kept for the retry");
    other.execute_batch("ROLLBACK").unwrap();
    assert_eq!(
        common::dump(w.path()),
        before,
        "a busy sign-in counted something"
    );
    assert_eq!(staff_row(&w, "AB").2, 0);
    // The kept (wrong) PIN is checked on Enter once the lock is gone, and counts once.
    key(&mut app, KeyCode::Enter);
    assert_eq!(staff_row(&w, "AB").2, 1);
    sign_in(&mut app, "AB", "1234");
    assert_eq!(app.screen, Screen::Overview, "{:?}", app.creds.error);
    assert_eq!(staff_row(&w, "AB").2, 0);
}

/// A terminal signed in before its account was deactivated or demoted saves nothing more:
/// every write re-reads the account inside its transaction.
#[test]
fn a_session_signed_in_before_a_deactivation_or_demotion_saves_nothing() {
    use titrate::ward::entries::Session;
    let w = Ward::new();
    add_staff(&w, "NU", "nurse", "5678");
    add_staff(&w, "PH", "physician", "4321");
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
    ]);
    let cfg = titrate::config::Config::defaults();
    let now = chrono::Utc::now();
    let score: titrate::domain::values::Nrs = "5".parse().unwrap();
    for (id, pin, change) in [
        ("NU", "5678", vec!["staff", "deactivate", "NU"]),
        ("PH", "4321", vec!["staff", "role", "PH", "--role", "nurse"]),
    ] {
        let mut db = titrate::store::Db::open(w.path()).unwrap();
        let who = titrate::ward::access::sign_in(&mut db, &cfg, id, pin, now).unwrap();
        w.ok(&change);
        let before = common::dump(w.path());
        let mut s = Session {
            db: &mut db,
            cfg: &cfg,
            who: &who,
            now,
            expect: None,
        };
        let err = s
            .record_nrs("1001", now - chrono::Duration::hours(1), score, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("account {id} changed since it signed in")),
            "{err}"
        );
        assert_eq!(common::dump(w.path()), before);
    }
}
