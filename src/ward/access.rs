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
use crate::store::{Db, Writer};

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
    path: &Path,
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
    let mut db = Db::create(path)?;
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

/// Checks a PIN. Every failure is written to the audit log and counts toward the lockout;
/// a success after failures resets the count (also audited).
pub fn sign_in(
    db: &mut Db,
    cfg: &Config,
    id: &str,
    pin: &str,
    now: Instant,
) -> Result<Staff, WardError> {
    let id_ok = values::staff_id(id);
    let key = id_ok.clone().unwrap_or_else(|_| "?".to_string());
    let staff = match &id_ok {
        Ok(k) => db.read(|r| r.staff(k))?,
        Err(_) => None,
    };
    let Some(staff) = staff else {
        // Same cost as a real check, so a probe cannot tell unknown ids from wrong PINs.
        let _ = pin_matches(pin, DUMMY_HASH);
        db.write(&key, now, |w| {
            w.audit_event(
                "signin-fail",
                &json!({ "staff": key, "why": "unknown staff id" }),
            )
        })?;
        return Err(WardError::BadSignIn);
    };
    if !staff.active {
        db.write(&staff.id, now, |w| {
            w.audit_event(
                "signin-fail",
                &json!({ "staff": staff.id, "why": "deactivated" }),
            )
        })?;
        return Err(WardError::Inactive(staff.id));
    }
    if staff.locked {
        db.write(&staff.id, now, |w| {
            w.audit_event(
                "signin-fail",
                &json!({ "staff": staff.id, "why": "locked" }),
            )
        })?;
        return Err(WardError::Locked(staff.id));
    }
    if pin_matches(pin, &staff.pin_hash) {
        if staff.failed_pins > 0 {
            db.write(&staff.id, now, |w| {
                let Some(mut s) = w.staff(&staff.id)? else {
                    return Ok::<_, WardError>(());
                };
                s.failed_pins = 0;
                w.update_staff(&s, "signin-reset")?;
                Ok(())
            })?;
        }
        return Ok(staff);
    }
    let max = cfg.max_pin_failures;
    let locked = db.write(&staff.id, now, |w| {
        // Re-read inside the write lock: two terminals failing at once both count.
        let Some(mut s) = w.staff(&staff.id)? else {
            return Ok::<_, WardError>(false);
        };
        s.failed_pins = s.failed_pins.saturating_add(1);
        if s.failed_pins >= max {
            s.locked = true;
        }
        w.update_staff(&s, "signin-fail")?;
        Ok(s.locked)
    })?;
    if locked {
        Err(WardError::Locked(staff.id))
    } else {
        Err(WardError::BadSignIn)
    }
}

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

pub fn staff_unlock(db: &mut Db, who: &Staff, id: &str, now: Instant) -> Result<String, WardError> {
    let id = values::staff_id(id)?;
    authorize(db, who, Permission::ManageStaff, now)?;
    db.write(&who.id, now, |w| {
        let mut s = w
            .staff(&id)?
            .ok_or_else(|| WardError::UnknownStaff(id.clone()))?;
        if !s.locked && s.failed_pins == 0 {
            return Err(WardError::NotLocked(id.clone()));
        }
        s.failed_pins = 0;
        s.locked = false;
        w.update_staff(&s, "staff-unlock")?;
        Ok::<_, WardError>(())
    })?;
    Ok(id)
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
