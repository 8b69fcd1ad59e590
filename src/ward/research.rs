//! Pseudonyms for research exports.

use password_hash::rand_core::{OsRng, RngCore};

use super::WardError;
use super::access::authorize;
use crate::domain::record::Staff;
use crate::domain::rules::Permission;
use crate::domain::time::Instant;
use crate::report::export::Pseudonyms;
use crate::store::Db;

/// A random shift of 30 to 365 days, earlier or later: a shift of a day or two would
/// hardly hide a date.
fn random_offset() -> i64 {
    let magnitude = 30 + i64::from(OsRng.next_u32() % 336);
    if OsRng.next_u32().is_multiple_of(2) {
        magnitude
    } else {
        -magnitude
    }
}

/// Every patient's study id and date shift, making those that do not exist yet (in one
/// transaction, audited). Existing ones are never changed, so re-exports agree.
pub fn pseudonyms(db: &mut Db, who: &Staff, now: Instant) -> Result<Pseudonyms, WardError> {
    authorize(db, who, Permission::Export, now)?;
    db.write(&who.id, now, |w| {
        let mut known: Pseudonyms = w
            .pseudonyms()?
            .into_iter()
            .map(|(p, s, d)| (p, (s, d)))
            .collect();
        let mut next = known.len() + 1;
        for p in w.patients()? {
            if known.contains_key(&p.id) {
                continue;
            }
            let sid = format!("S{next:05}");
            next += 1;
            let offset = random_offset();
            w.insert_pseudonym(p.id, &sid, offset)?;
            known.insert(p.id, (sid, offset));
        }
        Ok(known)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn offsets_are_within_a_year_and_never_zero() {
        for _ in 0..10_000 {
            let o = super::random_offset();
            assert!((30..=365).contains(&o.abs()), "{o}");
        }
    }
}
