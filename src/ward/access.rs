//! Staff accounts, PINs, sign-in with lockout, and permission checks.

use std::path::Path;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use password_hash::rand_core::OsRng;
use serde_json::json;

use super::WardError;
use crate::config::Config;
use crate::domain::protocol::Protocol;
use crate::domain::record::Staff;
use crate::domain::rules::{Permission, allowed};
use crate::domain::time::Instant;
use crate::domain::values::{self, Role};
use crate::store::{Db, Location, StoreError, Writer};

pub fn hash_pin(pin: &str) -> Result<String, WardError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| WardError::Hash(e.to_string()))
}

fn pin_matches(pin: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(pin.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Creates the database and its first admin, who approves `protocol` (the one in force).
/// Refuses an existing file.
pub fn init(
    at: impl Into<Location>,
    id: &str,
    name: &str,
    pin: &str,
    protocol: &Protocol,
    now: Instant,
) -> Result<Db, WardError> {
    // Checked before the file is made, so that bad input leaves no file behind.
    values::staff_id(id)?;
    values::text("name", name, 100)?;
    values::pin(pin)?;
    protocol.check()?;
    let mut db = Db::create(at.into())?;
    first_admin(&mut db, id, name, pin, protocol, now)?;
    Ok(db)
}

/// The first admin of a database that has no staff yet (`titrate init`, and the terminal's
/// set-up screen). Refused once anyone exists: later accounts are an admin's to make. The
/// first admin's first act, in the same transaction, is approving the protocol in force.
pub fn first_admin(
    db: &mut Db,
    id: &str,
    name: &str,
    pin: &str,
    protocol: &Protocol,
    now: Instant,
) -> Result<String, WardError> {
    let id = values::staff_id(id)?;
    let name = values::text("name", name, 100)?;
    let pin = values::pin(pin)?;
    protocol.check()?;
    let hash = hash_pin(&pin)?;
    db.write(&id, now, |w| {
        if !w.staff_list()?.is_empty() {
            return Err(WardError::HasStaff);
        }
        w.insert_staff(
            &Staff {
                id: id.clone(),
                name,
                role: Role::Admin,
                pin_hash: hash,
                active: true,
                failed_pins: 0,
                locked: false,
            },
            "staff-add",
        )?;
        let protocol_id = w.protocol_id(protocol)?;
        w.insert_protocol_approval(protocol_id)?;
        Ok::<_, WardError>(id.clone())
    })
}

/// Checks a PIN. The account is read and the PIN checked against it outside any write (the
/// argon2 check, 30-150 ms, holds back nobody else's entry); the verdict is then decided in
/// a write that reads the account again and applies it only when the account is still
/// exactly as it was read. When it is not (another sign-in's verdict, an unlock, a new PIN
/// came first), the verdict is thrown away unsaid and the sign-in starts again. So the
/// verdicts that count are decided one after another, as if each had held the lock
/// throughout: at most `max_pin_failures` wrong PINs are ever decided before the account
/// locks, none after, and a locked or deactivated account has no PIN checked at all. Every
/// failure is written to the audit log; a success after failures resets the count (also
/// audited).
pub fn sign_in(
    db: &mut Db,
    cfg: &Config,
    id: &str,
    pin: &str,
    now: Instant,
) -> Result<Staff, WardError> {
    let id_ok = values::staff_id(id);
    let key = id_ok.clone().unwrap_or_else(|_| "?".to_string());
    let max = cfg.max_pin_failures;
    // Each new start means some other change of this account was saved in between; an
    // account changes only a few times before it locks, so this bound is never reached
    // but by a storm of admin changes.
    for _ in 0..SIGN_IN_ATTEMPTS {
        let seen = match &id_ok {
            Ok(k) => db.read(|r| r.staff(k))?,
            Err(_) => None,
        };
        let matches = match &seen {
            // Same cost as a real check, so a probe cannot tell unknown ids from wrong PINs.
            None => {
                let _ = pin_matches(pin, DUMMY_HASH);
                false
            }
            Some(s) if !s.active || s.locked => false,
            Some(s) => pin_matches(pin, &s.pin_hash),
        };
        // The refusal is returned inside Ok so that its audit row commits; None: the
        // account changed since it was read.
        let decided = db.write(&key, now, |w| {
            let staff = match &id_ok {
                Ok(k) => w.staff(k)?,
                Err(_) => None,
            };
            if staff != seen {
                return Ok::<_, WardError>(None);
            }
            let Some(mut s) = staff else {
                w.audit_event(
                    "signin-fail",
                    &json!({ "staff": key, "why": "unknown staff id" }),
                )?;
                return Ok(Some(Err(WardError::BadSignIn)));
            };
            if !s.active {
                w.audit_event(
                    "signin-fail",
                    &json!({ "staff": s.id, "why": "deactivated" }),
                )?;
                return Ok(Some(Err(WardError::Inactive(s.id))));
            }
            if s.locked {
                w.audit_event("signin-fail", &json!({ "staff": s.id, "why": "locked" }))?;
                return Ok(Some(Err(WardError::Locked(s.id))));
            }
            if matches {
                if s.failed_pins > 0 {
                    s.failed_pins = 0;
                    w.update_staff(&s, "signin-reset")?;
                }
                return Ok(Some(Ok(s)));
            }
            s.failed_pins = s.failed_pins.saturating_add(1);
            if s.failed_pins >= max {
                s.locked = true;
            }
            w.update_staff(&s, "signin-fail")?;
            Ok(Some(Err(if s.locked {
                WardError::Locked(s.id)
            } else {
                WardError::BadSignIn
            })))
        })?;
        if let Some(verdict) = decided {
            return verdict;
        }
    }
    Err(WardError::Store(StoreError::Busy(
        "the account was changed at another terminal at every try of this sign-in".into(),
    )))
}

/// How often a sign-in starts again because its account changed meanwhile.
const SIGN_IN_ATTEMPTS: usize = 64;

/// A hash of a random PIN, used only to spend the same time on unknown ids.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$1c2uJ4bFZ5wyx7sIFVDqMbd7pUWFrM2S3Iudy8C5Yy0";

/// Refuses an action the signed-in role does not allow, and leaves an audit row saying so.
pub fn authorize(db: &mut Db, who: &Staff, p: Permission, now: Instant) -> Result<(), WardError> {
    if allowed(who.role, p) {
        return Ok(());
    }
    deny(db, who, p, now)
}

pub fn deny(db: &mut Db, who: &Staff, p: Permission, now: Instant) -> Result<(), WardError> {
    db.write(&who.id, now, |w| {
        w.audit_event(
            "denied",
            &json!({ "staff": who.id, "role": who.role.as_str(), "tried": p.describe() }),
        )
    })?;
    Err(WardError::Denied {
        who: who.id.clone(),
        role: who.role,
        what: p.describe(),
        needs: p.needs(),
    })
}

pub fn staff_add(
    db: &mut Db,
    who: &Staff,
    id: &str,
    name: &str,
    role: Role,
    pin: &str,
    now: Instant,
) -> Result<String, WardError> {
    let id = values::staff_id(id)?;
    let name = values::text("name", name, 100)?;
    let pin = values::pin(pin)?;
    authorize(db, who, Permission::ManageStaff, now)?;
    let hash = hash_pin(&pin)?;
    db.write(&who.id, now, |w: &mut dyn Writer| {
        w.insert_staff(
            &Staff {
                id: id.clone(),
                name,
                role,
                pin_hash: hash,
                active: true,
                failed_pins: 0,
                locked: false,
            },
            "staff-add",
        )?;
        Ok::<_, WardError>(())
    })?;
    Ok(id)
}

/// What an admin changes about another account (or their own).
#[derive(Clone, Debug)]
pub enum StaffChange {
    Unlock,
    Deactivate,
    Reactivate,
    Role(Role),
    /// A new PIN (already hashed); it also clears the lock and the failure count.
    ResetPin(String),
}

impl StaffChange {
    fn action(&self) -> &'static str {
        match self {
            StaffChange::Unlock => "staff-unlock",
            StaffChange::Deactivate => "staff-deactivate",
            StaffChange::Reactivate => "staff-reactivate",
            StaffChange::Role(_) => "staff-role",
            StaffChange::ResetPin(_) => "staff-reset-pin",
        }
    }
}

pub fn staff_unlock(db: &mut Db, who: &Staff, id: &str, now: Instant) -> Result<String, WardError> {
    change_staff(db, who, id, StaffChange::Unlock, now).map(|s| s.id)
}

/// Applies one change to a staff account, audited. The admin's own account and the target
/// are re-read inside the write transaction, so two admins acting at once are decided one
/// after the other: the last active, unlocked admin is never deactivated or demoted, and an
/// admin demoted or locked a moment ago can no longer act.
pub fn change_staff(
    db: &mut Db,
    who: &Staff,
    id: &str,
    change: StaffChange,
    now: Instant,
) -> Result<Staff, WardError> {
    let id = values::staff_id(id)?;
    authorize(db, who, Permission::ManageStaff, now)?;
    db.write(&who.id, now, |w| {
        if let Err(e) = still_signed_in(w, who) {
            w.audit_event(
                "denied",
                &json!({ "staff": who.id, "tried": Permission::ManageStaff.describe(), "why": "account changed since sign-in" }),
            )?;
            return Ok(Err(e));
        }
        let mut s = w
            .staff(&id)?
            .ok_or_else(|| WardError::UnknownStaff(id.clone()))?;
        match &change {
            StaffChange::Unlock => {
                if !s.locked && s.failed_pins == 0 {
                    return Err(WardError::NotLocked(id.clone()));
                }
                s.failed_pins = 0;
                s.locked = false;
            }
            StaffChange::Deactivate => {
                if !s.active {
                    return Err(WardError::AlreadyInactive(id.clone()));
                }
                keeps_an_admin(w, &s, "deactivated")?;
                // Checked after the last-admin rule, whose message says more when both hold.
                if s.id == who.id {
                    return Err(WardError::SelfDeactivate(id.clone()));
                }
                s.active = false;
            }
            StaffChange::Reactivate => {
                if s.active {
                    return Err(WardError::AlreadyActive(id.clone()));
                }
                s.active = true;
            }
            StaffChange::Role(role) => {
                if s.role == *role {
                    return Err(WardError::SameRole {
                        id: id.clone(),
                        role: *role,
                    });
                }
                if *role != Role::Admin {
                    keeps_an_admin(w, &s, "demoted")?;
                }
                s.role = *role;
            }
            StaffChange::ResetPin(hash) => {
                s.pin_hash = hash.clone();
                s.failed_pins = 0;
                s.locked = false;
            }
        }
        w.update_staff(&s, change.action())?;
        Ok::<_, WardError>(Ok(s))
    })?
}

/// The signed-in person's account as it is now: still active, unlocked, with the role and
/// the PIN they signed in with. Every write checks it inside its transaction, so a terminal
/// signed in before an admin deactivated, demoted or re-PINned the account saves nothing.
pub fn still_signed_in(w: &dyn crate::store::Reader, who: &Staff) -> Result<(), WardError> {
    match w.staff(&who.id)? {
        Some(now)
            if now.active
                && !now.locked
                && now.role == who.role
                && now.pin_hash == who.pin_hash =>
        {
            Ok(())
        }
        _ => Err(WardError::AccountChanged(who.id.clone())),
    }
}

/// Whether an account can sign in and manage staff.
fn is_working_admin(s: &Staff) -> bool {
    s.role == Role::Admin && s.active && !s.locked
}

/// Refuses to take away the last active, unlocked admin: nobody could manage staff then.
fn keeps_an_admin(w: &dyn Writer, target: &Staff, what: &'static str) -> Result<(), WardError> {
    if !is_working_admin(target) {
        return Ok(());
    }
    let others = w
        .staff_list()?
        .iter()
        .filter(|s| s.id != target.id && is_working_admin(s))
        .count();
    if others == 0 {
        return Err(WardError::LastAdmin {
            id: target.id.clone(),
            what,
        });
    }
    Ok(())
}

/// The signed-in person changes their own PIN at a terminal that is already signed in, so
/// the current PIN is asked again and checked here. As at sign-in, the staff row is read,
/// the PIN checked and the failure counted inside one write transaction: a wrong current
/// PIN counts towards the lock, so this cannot be used to try PINs without limit. The new
/// one follows the PIN policy of a new account and must differ from the current one.
pub fn change_own_pin(
    db: &mut Db,
    cfg: &Config,
    who: &Staff,
    current_pin: &str,
    new_pin: &str,
    now: Instant,
) -> Result<(), WardError> {
    let new_pin = values::pin(new_pin)?;
    // Hashed before the write lock is taken; thrown away if the current PIN is wrong.
    let hash = hash_pin(&new_pin)?;
    let max = cfg.max_pin_failures;
    // A refusal that counted a failure is returned inside Ok so that its row commits.
    db.write(&who.id, now, |w| {
        let mut s = w
            .staff(&who.id)?
            .ok_or_else(|| WardError::UnknownStaff(who.id.clone()))?;
        if !s.active {
            return Ok(Err(WardError::Inactive(s.id)));
        }
        if s.locked {
            return Ok(Err(WardError::Locked(s.id)));
        }
        if !pin_matches(current_pin, &s.pin_hash) {
            s.failed_pins = s.failed_pins.saturating_add(1);
            if s.failed_pins >= max {
                s.locked = true;
            }
            w.update_staff(&s, "pin-change-fail")?;
            return Ok(Err(if s.locked {
                WardError::Locked(s.id)
            } else {
                WardError::WrongCurrentPin {
                    left: max.saturating_sub(s.failed_pins),
                }
            }));
        }
        // The account as signed in: not re-PINned, demoted or deactivated since.
        still_signed_in(w, who)?;
        if new_pin == current_pin {
            return Ok(Err(WardError::SamePin));
        }
        s.pin_hash = hash;
        s.failed_pins = 0;
        w.update_staff(&s, "pin-change")?;
        Ok::<_, WardError>(Ok(()))
    })?
}

/// The operating-system account that runs a recovery.
#[derive(Clone, Debug)]
pub struct OsUser {
    pub uid: u32,
    pub name: String,
}

impl OsUser {
    /// The audit log's actor for a recovery: nobody signed in, so the OS account is named.
    pub fn actor(&self) -> String {
        format!("os:{}(uid {})", self.name, self.uid)
    }
}

/// Who may recover an admin: someone who can already write the database file at the
/// operating-system level, and so could edit it with any SQLite tool anyway. Checked as
/// the file's owner (or root) and by opening the file for writing; the recovery's own write
/// transaction is the last check.
#[cfg(unix)]
pub fn os_writer_of(path: &Path) -> Result<OsUser, WardError> {
    use std::os::unix::fs::MetadataExt;
    let shown = path.display().to_string();
    let cannot = |why: String| WardError::RecoverCannotWrite {
        path: shown.clone(),
        why,
    };
    let meta = std::fs::metadata(path).map_err(|e| cannot(e.to_string()))?;
    if !meta.is_file() {
        return Err(cannot("it is not a regular file".into()));
    }
    let uid = rustix::process::geteuid().as_raw();
    if uid != 0 && uid != meta.uid() {
        return Err(WardError::RecoverNotOwner {
            path: shown,
            owner: meta.uid(),
            uid,
        });
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| cannot(e.to_string()))?;
    Ok(OsUser {
        uid,
        name: os_user_name(uid),
    })
}

#[cfg(not(unix))]
pub fn os_writer_of(path: &Path) -> Result<OsUser, WardError> {
    Err(WardError::RecoverCannotWrite {
        path: path.display().to_string(),
        why: "recovery is only supported on Unix systems".into(),
    })
}

/// The account name of `uid` from /etc/passwd, else the login name the environment gives.
#[cfg(unix)]
fn os_user_name(uid: u32) -> String {
    let from_passwd = std::fs::read_to_string("/etc/passwd").ok().and_then(|t| {
        t.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
        })
    });
    from_passwd
        .or_else(|| std::env::var("USER").ok())
        .map(|n| values::printable(&n).chars().take(32).collect())
        .unwrap_or_else(|| "unknown".into())
}

/// What a recovery asks for.
pub struct Recovery<'a> {
    pub id: &'a str,
    /// For an account that does not exist yet.
    pub name: Option<&'a str>,
    /// A new PIN; required unless the account is an admin already.
    pub pin: Option<&'a str>,
}

/// What a recovery did, for the message.
#[derive(Debug, Default)]
pub struct Recovered {
    pub id: String,
    pub done: Vec<&'static str>,
}

/// Makes `id` a working admin again when nobody can sign in to do it: unlocked, active, the
/// admin role, and a new PIN if one is given (required unless it is an admin already). For
/// a process that can already write the file (checked by the caller with `os_writer_of`),
/// audited with the OS account as the actor.
pub fn recover_admin(
    db: &mut Db,
    os: &OsUser,
    r: &Recovery,
    now: Instant,
) -> Result<Recovered, WardError> {
    let id = values::staff_id(r.id)?;
    let name = r.name.map(|n| values::text("name", n, 100)).transpose()?;
    let hash = r
        .pin
        .map(values::pin)
        .transpose()?
        .map(|p| hash_pin(&p))
        .transpose()?;
    db.write(&os.actor(), now, |w| {
        let mut done = Vec::new();
        let staff = match w.staff(&id)? {
            Some(s) => {
                if s.role != Role::Admin && hash.is_none() {
                    return Err(WardError::RecoverNeedsPin(id.clone()));
                }
                let mut s = s;
                if s.locked || s.failed_pins > 0 {
                    s.locked = false;
                    s.failed_pins = 0;
                    done.push("unlocked");
                }
                if !s.active {
                    s.active = true;
                    done.push("reactivated");
                }
                if s.role != Role::Admin {
                    s.role = Role::Admin;
                    done.push("made admin");
                }
                if let Some(h) = &hash {
                    s.pin_hash = h.clone();
                    done.push("new PIN set");
                }
                if done.is_empty() {
                    return Err(WardError::NothingToRecover(id.clone()));
                }
                w.update_staff(&s, "recover-admin")?;
                s
            }
            None => {
                let name = name
                    .clone()
                    .ok_or_else(|| WardError::RecoverNeedsName(id.clone()))?;
                let h = hash
                    .clone()
                    .ok_or_else(|| WardError::RecoverNeedsPin(id.clone()))?;
                let s = Staff {
                    id: id.clone(),
                    name,
                    role: Role::Admin,
                    pin_hash: h,
                    active: true,
                    failed_pins: 0,
                    locked: false,
                };
                w.insert_staff(&s, "recover-admin")?;
                done.push("created as admin");
                s
            }
        };
        w.audit_event(
            "recover-admin",
            &json!({ "staff": staff.id, "os_uid": os.uid, "os_user": os.name, "done": done }),
        )?;
        Ok(Recovered { id: staff.id, done })
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dummy_hash_is_a_valid_hash() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        let h = hash_pin("1234").unwrap();
        assert!(pin_matches("1234", &h));
        assert!(!pin_matches("1235", &h));
    }
}
