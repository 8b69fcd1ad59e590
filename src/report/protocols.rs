//! What `titrate protocol list / show / approve` print.

use chrono_tz::Tz;

use crate::domain::protocol::{Protocol, ProtocolVersion, in_use};
use crate::domain::record::{Course, Patient};
use crate::domain::time::local_text;
use crate::ward::protocols::{Plan, short};

fn approval_text(v: &ProtocolVersion, zone: Tz) -> String {
    match &v.approval {
        Some(a) => format!("approved by {} at {}", a.by, local_text(a.at, zone)),
        None => "NOT APPROVED".into(),
    }
}

/// Where the protocol in config.toml stands among the stored versions.
fn in_force_line(versions: &[ProtocolVersion], protocol: &Protocol, source: &str) -> String {
    let digest = protocol.digest();
    let standing = match versions.iter().find(|v| v.digest == digest) {
        Some(v) if v.approval.is_some() => format!("is version {}, approved", v.id),
        Some(v) => format!(
            "is version {}, NOT APPROVED: new courses are refused until an admin runs `titrate protocol approve`",
            v.id
        ),
        None => "is a new version, NOT APPROVED: new courses are refused until an admin runs `titrate protocol approve`".into(),
    };
    format!(
        "protocol \"{}\" in {source} (digest {}…) {standing}\n",
        protocol.name,
        short(&digest)
    )
}

pub fn list(
    versions: &[ProtocolVersion],
    courses: &[Course],
    protocol: &Protocol,
    source: &str,
    zone: Tz,
) -> String {
    let current = in_use(versions).map(|v| v.id);
    let mut out = format!(
        "{:<8} {:<13} {:>7}  {:<40} {}\n",
        "version", "digest", "courses", "approval", "name"
    );
    for v in versions {
        let n = courses.iter().filter(|c| c.protocol_id == v.id).count();
        let mark = if current == Some(v.id) {
            " (latest approved)"
        } else {
            ""
        };
        out.push_str(&format!(
            "{:<8} {:<13} {:>7}  {:<40} {}{mark}\n",
            v.id,
            short(&v.digest),
            n,
            approval_text(v, zone),
            v.protocol.name
        ));
    }
    out.push_str(&in_force_line(versions, protocol, source));
    out
}

pub fn show(v: &ProtocolVersion, courses: &[Course], patients: &[Patient], zone: Tz) -> String {
    let mut out = format!("protocol version {}: \"{}\"\n", v.id, v.protocol.name);
    out.push_str(&format!("  digest      {}\n", v.digest));
    out.push_str(&format!(
        "  stored      by {} at {}\n",
        v.created_by,
        local_text(v.created_at, zone)
    ));
    out.push_str(&format!("  approval    {}\n", approval_text(v, zone)));
    for (field, value) in v.protocol.fields() {
        out.push_str(&format!("  {field:<22} {value}\n"));
    }
    let under: Vec<&Course> = courses.iter().filter(|c| c.protocol_id == v.id).collect();
    out.push_str(&format!("courses under this version: {}\n", under.len()));
    for c in under {
        let mrn = patients
            .iter()
            .find(|p| p.id == c.patient_id)
            .map_or("?", |p| p.data.mrn.as_str());
        out.push_str(&format!(
            "  course {:<6} MRN {:<12} recorded {}\n",
            c.id,
            mrn,
            local_text(c.created_at, zone)
        ));
    }
    out
}

/// The difference an admin approves, field by field.
pub fn plan(p: &Plan, zone: Tz) -> String {
    let mut out = format!(
        "protocol \"{}\" in {}\n  digest {}\n",
        p.protocol.name, p.source, p.digest
    );
    match &p.against {
        Some(v) => {
            out.push_str(&format!(
                "differs from version {}, the latest approved ({}):\n",
                v.id,
                approval_text(v, zone)
            ));
            for c in p.protocol.changes_from(&v.protocol) {
                out.push_str(&format!("  {:<22} {} -> {}\n", c.field, c.from, c.to));
            }
        }
        None => {
            out.push_str("no version is approved yet; the whole protocol:\n");
            for (field, value) in p.protocol.fields() {
                out.push_str(&format!("  {field:<22} {value}\n"));
            }
        }
    }
    out
}
