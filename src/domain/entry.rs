//! Entries of the record and their versions.
//!
//! Nothing is changed in place: an amendment is a new entry that supersedes the old one, and a
//! mistake is voided by a separate void row. What counts is the latest version of each chain,
//! unless that version is voided.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::rate::Rate;
use super::time::Instant;
use super::values::{Action, EndReason, Nrs, Severity, Timepoint};

pub type EntryId = i64;
pub type PatientId = i64;
pub type CourseId = i64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    CourseStart,
    Rate,
    Nrs,
    SideEffect,
    Success,
    CourseEnd,
}

impl EntryKind {
    pub const ALL: [EntryKind; 6] = [
        EntryKind::CourseStart,
        EntryKind::Rate,
        EntryKind::Nrs,
        EntryKind::SideEffect,
        EntryKind::Success,
        EntryKind::CourseEnd,
    ];

    /// The word stored in the database and printed in history.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::CourseStart => "course-start",
            EntryKind::Rate => "rate",
            EntryKind::Nrs => "nrs",
            EntryKind::SideEffect => "side-effect",
            EntryKind::Success => "success",
            EntryKind::CourseEnd => "course-end",
        }
    }

    pub fn parse(s: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EntryData {
    CourseStart {
        bed: Option<String>,
    },
    Rate {
        rate: Rate,
        /// Set when a soft limit was overridden, or the user confirmed anyway.
        confirmed: bool,
        confirm_reason: Option<String>,
    },
    Nrs {
        score: Nrs,
        timepoint: Option<Timepoint>,
    },
    SideEffect {
        effect: String,
        detail: Option<String>,
        severity: Severity,
        action: Action,
        /// The rate running when it happened, taken from the record.
        rate_at: Rate,
    },
    Success {
        timepoint: Timepoint,
        successful: bool,
    },
    CourseEnd {
        reason: EndReason,
    },
}

impl EntryData {
    pub fn kind(&self) -> EntryKind {
        match self {
            EntryData::CourseStart { .. } => EntryKind::CourseStart,
            EntryData::Rate { .. } => EntryKind::Rate,
            EntryData::Nrs { .. } => EntryKind::Nrs,
            EntryData::SideEffect { .. } => EntryKind::SideEffect,
            EntryData::Success { .. } => EntryKind::Success,
            EntryData::CourseEnd { .. } => EntryKind::CourseEnd,
        }
    }

    /// One line for history and timelines.
    pub fn describe(&self) -> String {
        match self {
            EntryData::CourseStart { bed } => match bed {
                Some(b) => format!("course started, bed {b}"),
                None => "course started".to_string(),
            },
            EntryData::Rate {
                rate,
                confirmed,
                confirm_reason,
            } => {
                let mut s = format!("rate {rate} mg/h");
                if *confirmed {
                    s.push_str(" (confirmed");
                    if let Some(r) = confirm_reason {
                        s.push_str(": ");
                        s.push_str(r);
                    }
                    s.push(')');
                }
                s
            }
            EntryData::Nrs { score, timepoint } => match timepoint {
                Some(t) => format!("NRS {score} ({t})"),
                None => format!("NRS {score}"),
            },
            EntryData::SideEffect {
                effect,
                detail,
                severity,
                action,
                rate_at,
            } => {
                let what = match detail {
                    Some(d) => format!("{effect} ({d})"),
                    None => effect.clone(),
                };
                format!("side effect {what}, {severity}, action {action}, at {rate_at} mg/h")
            }
            EntryData::Success {
                timepoint,
                successful,
            } => format!(
                "treatment reported {} at {timepoint}",
                if *successful {
                    "successful"
                } else {
                    "not successful"
                }
            ),
            EntryData::CourseEnd { reason } => format!("course ended ({reason})"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Void {
    pub reason: String,
    pub voided_at: Instant,
    pub voided_by: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    pub id: EntryId,
    pub patient_id: PatientId,
    pub course_id: Option<CourseId>,
    pub happened_at: Instant,
    pub recorded_at: Instant,
    pub recorded_by: String,
    pub supersedes: Option<EntryId>,
    pub amend_reason: Option<String>,
    pub late: bool,
    pub void: Option<Void>,
    pub data: EntryData,
}

impl Entry {
    pub fn kind(&self) -> EntryKind {
        self.data.kind()
    }
}

/// An entry is late when it was recorded more than the check interval after it happened.
pub fn is_late(happened: Instant, recorded: Instant, check_interval: chrono::Duration) -> bool {
    recorded - happened > check_interval
}

/// The version chains of a set of entries.
pub struct Versions<'a> {
    by_id: HashMap<EntryId, &'a Entry>,
    superseded: HashSet<EntryId>,
}

impl<'a> Versions<'a> {
    pub fn new(entries: &'a [Entry]) -> Versions<'a> {
        Versions {
            by_id: entries.iter().map(|e| (e.id, e)).collect(),
            superseded: entries.iter().filter_map(|e| e.supersedes).collect(),
        }
    }

    pub fn is_current(&self, id: EntryId) -> bool {
        !self.superseded.contains(&id)
    }

    /// The versions from `id` back to the first one of its chain, newest first.
    pub fn back_from(&self, id: EntryId) -> Vec<&'a Entry> {
        let mut out = Vec::new();
        let mut cur = self.by_id.get(&id).copied();
        // The bound guards against a corrupt cycle, as in `root`.
        while let Some(e) = cur.filter(|_| out.len() <= self.by_id.len()) {
            out.push(e);
            cur = e.supersedes.and_then(|p| self.by_id.get(&p).copied());
        }
        out
    }

    /// The first version of the chain `id` belongs to.
    pub fn root(&self, id: EntryId) -> EntryId {
        let mut cur = id;
        // A chain is never longer than the record; the bound guards against a corrupt cycle.
        for _ in 0..=self.by_id.len() {
            match self.by_id.get(&cur).and_then(|e| e.supersedes) {
                Some(prev) if self.by_id.contains_key(&prev) => cur = prev,
                _ => break,
            }
        }
        cur
    }
}

/// One version of an entry, as a read that does not decode whole entries gives it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Version<T> {
    pub id: EntryId,
    pub supersedes: Option<EntryId>,
    pub voided: bool,
    pub at: Instant,
    pub item: T,
}

/// The effective items among every version of some chains: the latest version of each,
/// unless voided (what every figure is computed from), ordered by when they happened (then
/// by id, so a later-recorded entry for the same minute wins).
pub fn effective<T>(versions: Vec<Version<T>>) -> Vec<T> {
    // No id map as `Versions` builds for `root`: screens call this for every patient on
    // the ward, and every outcome reads it.
    let superseded: HashSet<EntryId> = versions.iter().filter_map(|v| v.supersedes).collect();
    let mut out: Vec<Version<T>> = versions
        .into_iter()
        .filter(|v| !v.voided && !superseded.contains(&v.id))
        .collect();
    out.sort_by_key(|v| (v.at, v.id));
    out.into_iter().map(|v| v.item).collect()
}

/// The effective entries, in time order.
pub fn effective_sorted(entries: &[Entry]) -> Vec<&Entry> {
    effective(
        entries
            .iter()
            .map(|e| Version {
                id: e.id,
                supersedes: e.supersedes,
                voided: e.void.is_some(),
                at: e.happened_at,
                item: e,
            })
            .collect(),
    )
}
