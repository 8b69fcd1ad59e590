//! Pseudonyms for research exports.

use std::collections::{HashMap, HashSet};

use password_hash::rand_core::{OsRng, RngCore};

use super::WardError;
use super::access::authorize;
use crate::domain::entry::PatientId;
use crate::domain::record::Staff;
use crate::domain::rules::Permission;
use crate::domain::time::Instant;
use crate::report::export::{Pseudonymise, Pseudonyms};
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

/// A random offset below a day, in seconds (1 to 86,399), added to the day offset: whole
/// days alone would keep every time of day, so entries of two patients recorded in the same
/// second would show it, and times of day would give the order of recording across patients.
fn random_second_offset() -> i64 {
    1 + i64::from(OsRng.next_u32() % 86_399)
}

/// A random study id ("S" and at least six digits) not yet taken. Not a counter: a
/// sequential id would tell in which order patients were added (or first exported), and
/// with it the order of their courses across the ward. The space is kept at least twice
/// as large as the ids taken, so that a draw seldom collides.
fn random_study_id(taken: &HashSet<String>) -> String {
    let mut digits: u32 = 6;
    while (taken.len() as u64).saturating_mul(2) >= 10u64.saturating_pow(digits) {
        digits += 1;
    }
    let space = 10u64.saturating_pow(digits);
    loop {
        let sid = format!(
            "S{:0width$}",
            OsRng.next_u64() % space,
            width = digits as usize
        );
        if !taken.contains(&sid) {
            return sid;
        }
    }
}

/// What a pseudonymised export needs besides the record: every patient's study id and date
/// shift (whole days and a part of a day), making those that do not exist yet (in one transaction, audited; existing ones are
/// never changed, so re-exports agree), each staff member's role (written instead of their
/// id) and the ward's side-effect kinds (the only words a side-effect value may be).
pub fn pseudonymisation(
    db: &mut Db,
    who: &Staff,
    side_effect_kinds: &[String],
    now: Instant,
) -> Result<Pseudonymise, WardError> {
    authorize(db, who, Permission::Export, now)?;
    db.write(&who.id, now, |w| {
        let seconds: HashMap<PatientId, i64> = w.pseudonym_times()?.into_iter().collect();
        let mut known: HashMap<PatientId, (String, i64)> = w
            .pseudonyms()?
            .into_iter()
            .map(|(p, s, d)| (p, (s, d)))
            .collect();
        let mut taken: HashSet<String> = known.values().map(|(s, _)| s.clone()).collect();
        let mut made = Pseudonyms::new();
        for p in w.patients()? {
            let (sid, days) = match known.remove(&p.id) {
                Some(k) => k,
                None => {
                    let sid = random_study_id(&taken);
                    taken.insert(sid.clone());
                    let days = random_offset();
                    w.insert_pseudonym(p.id, &sid, days)?;
                    (sid, days)
                }
            };
            // Patients pseudonymised before the offset below a day existed get theirs now.
            let secs = match seconds.get(&p.id) {
                Some(s) => *s,
                None => {
                    let s = random_second_offset();
                    w.insert_pseudonym_time(p.id, s)?;
                    s
                }
            };
            made.insert(p.id, (sid, days, secs));
        }
        let roles = w
            .staff_list()?
            .into_iter()
            .map(|s| (s.id, s.role))
            .collect();
        Ok(Pseudonymise {
            pseudonyms: made,
            roles,
            side_effect_kinds: side_effect_kinds.to_vec(),
        })
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    #[test]
    fn offsets_are_within_a_year_and_never_zero() {
        for _ in 0..10_000 {
            let o = super::random_offset();
            assert!((30..=365).contains(&o.abs()), "{o}");
        }
    }

    #[test]
    fn second_offsets_are_below_a_day_never_zero_and_spread() {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let s = super::random_second_offset();
            assert!((1..=86_399).contains(&s), "{s}");
            seen.insert(s / 3600);
        }
        // Every hour of the day is drawn: the time of day tells nothing.
        assert_eq!(seen.len(), 24);
    }

    #[test]
    fn study_ids_are_random_distinct_and_do_not_count_up() {
        let mut taken = HashSet::new();
        let mut made = Vec::new();
        for _ in 0..2_000 {
            let sid = super::random_study_id(&taken);
            assert!(
                sid.len() >= 7
                    && sid.starts_with('S')
                    && sid[1..].bytes().all(|b| b.is_ascii_digit()),
                "{sid}"
            );
            assert!(taken.insert(sid.clone()), "{sid} twice");
            made.push(sid);
        }
        // Made in this order, they are not in this order: of 1,999 neighbours, a counter
        // would put every one up; random ids put about half.
        let up = made.windows(2).filter(|w| w[0] < w[1]).count();
        assert!(
            (800..1200).contains(&up),
            "{up} of 1999 ids follow the one before"
        );
    }

    #[test]
    fn study_ids_grow_a_digit_before_the_space_fills() {
        // 500,000 taken of 1,000,000 six-digit ids: the next has seven digits.
        let taken: HashSet<String> = (0..500_000).map(|n| format!("S{n:06}")).collect();
        assert_eq!(super::random_study_id(&taken).len(), 8);
    }
}
