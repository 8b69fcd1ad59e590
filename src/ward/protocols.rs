//! Protocol versions and their approval. Like a pump's drug library, a version of the
//! protocol (a new digest, e.g. after config.toml was edited) is used for new courses only
//! after an admin has seen how it differs from the version in use and approved it.
//! Courses already running keep the version they started under.

use super::WardError;
use super::access::authorize;
use crate::config::Config;
use crate::domain::protocol::{Protocol, ProtocolVersion, in_use};
use crate::domain::record::Staff;
use crate::domain::rules::Permission;
use crate::domain::time::Instant;
use crate::store::{Db, Reader};

/// How many hex digits of a digest are shown, and the fewest `--digest` accepts.
pub const SHORT_DIGEST: usize = 12;

pub fn short(digest: &str) -> &str {
    digest.get(..SHORT_DIGEST).unwrap_or(digest)
}

fn approved<'a>(versions: &'a [ProtocolVersion], digest: &str) -> Option<&'a ProtocolVersion> {
    versions
        .iter()
        .find(|v| v.digest == digest && v.approval.is_some())
}

/// The id of the approved version a new course starts under: the protocol in force, if an
/// admin approved it. Otherwise the refusal names what changed.
pub fn for_new_course<R: Reader + ?Sized>(r: &R, cfg: &Config) -> Result<i64, WardError> {
    let digest = cfg.protocol.digest();
    let versions = r.protocol_versions()?;
    if let Some(v) = approved(&versions, &digest) {
        return Ok(v.id);
    }
    let standing = match in_use(&versions) {
        Some(v) => {
            let changes: Vec<String> = cfg
                .protocol
                .changes_from(&v.protocol)
                .iter()
                .map(ToString::to_string)
                .collect();
            format!(
                "differs from the approved version {}: {}",
                v.id,
                changes.join("; ")
            )
        }
        None => "is not approved, and no version is approved in this database yet".into(),
    };
    Err(WardError::ProtocolNotApproved {
        name: cfg.protocol.name.clone(),
        file: cfg.source.clone(),
        digest: short(&digest).to_string(),
        standing,
    })
}

/// What an admin is asked to approve: the protocol in force, and the version in use it
/// replaces.
#[derive(Clone, Debug)]
pub struct Plan {
    pub protocol: Protocol,
    pub digest: String,
    pub source: String,
    pub against: Option<ProtocolVersion>,
}

/// The approval an admin is about to give; refused for anyone else, for a protocol that is
/// not a valid one, and for one approved already.
pub fn plan(db: &mut Db, who: &Staff, cfg: &Config, now: Instant) -> Result<Plan, WardError> {
    authorize(db, who, Permission::ApproveProtocol, now)?;
    cfg.protocol.check()?;
    let digest = cfg.protocol.digest();
    let versions = db.read(|r| r.protocol_versions())?;
    if let Some(v) = approved(&versions, &digest) {
        return Err(WardError::ProtocolApprovedAlready {
            name: cfg.protocol.name.clone(),
            file: cfg.source.clone(),
            id: v.id,
        });
    }
    Ok(Plan {
        protocol: cfg.protocol.clone(),
        digest,
        source: cfg.source.clone(),
        against: in_use(&versions).cloned(),
    })
}

impl Plan {
    /// `--digest` must name this version: a config edited after it was shown is not
    /// approved blindly.
    pub fn check_digest(&self, given: &str) -> Result<(), WardError> {
        let g = given.trim().trim_end_matches('…').to_ascii_lowercase();
        if g.len() >= SHORT_DIGEST && self.digest.starts_with(&g) {
            return Ok(());
        }
        Err(WardError::DigestMismatch {
            given: given.chars().take(64).collect(),
            file: self.source.clone(),
            actual: short(&self.digest).to_string(),
        })
    }
}

/// Approves the plan's version, by `who`, now. Inside the write it checks again that the
/// version in use is still the one the plan was compared with, so that two admins at once
/// never approve on a stale comparison. Returns the version's id.
pub fn approve(db: &mut Db, who: &Staff, plan: &Plan, now: Instant) -> Result<i64, WardError> {
    db.write(&who.id, now, |w| {
        let versions = w.protocol_versions()?;
        if let Some(v) = approved(&versions, &plan.digest) {
            return Err(WardError::ProtocolApprovedAlready {
                name: plan.protocol.name.clone(),
                file: plan.source.clone(),
                id: v.id,
            });
        }
        let now_in_use = in_use(&versions).map(|v| v.id);
        if now_in_use != plan.against.as_ref().map(|v| v.id) {
            return Err(WardError::ApprovedMeanwhile {
                id: now_in_use.unwrap_or_default(),
            });
        }
        let id = w.protocol_id(&plan.protocol)?;
        w.insert_protocol_approval(id)?;
        Ok(id)
    })
}

/// A version by the id `protocol list` shows.
pub fn version(r: &dyn Reader, id: &str) -> Result<ProtocolVersion, WardError> {
    let unknown = || WardError::UnknownProtocol(id.chars().take(20).collect());
    let n: i64 = id.trim().parse().map_err(|_| unknown())?;
    r.protocol_versions()?
        .into_iter()
        .find(|v| v.id == n)
        .ok_or_else(unknown)
}
