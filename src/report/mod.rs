//! What titrate prints: status, history, cohort table. Pure functions of loaded records.

pub mod cohort;
pub mod export;
pub mod handover;
pub mod handover_pdf;
pub mod history;
pub mod pdf;
pub mod protocols;
pub mod staff;
pub mod status;
pub mod summary;

use chrono::SecondsFormat;
use chrono_tz::Tz;

use crate::domain::time::Instant;

/// Writes `base.md` and `base.pdf` into `dir` (made 0700 if missing) through the one file
/// writer, never over an existing report: when either name is taken, `base-2`, `base-3`...
/// Returns the base name used.
pub fn write_pair(
    dir: &std::path::Path,
    base: &str,
    md: &[u8],
    pdf: &[u8],
    protect: &crate::fsout::Protected,
) -> Result<String, crate::fsout::FileError> {
    use crate::fsout::{FileError, folder, prepare};
    folder(dir)?;
    for n in 1..1000 {
        let name = if n == 1 {
            base.to_string()
        } else {
            format!("{base}-{n}")
        };
        let pair = prepare(&dir.join(format!("{name}.md")), false, protect).and_then(|a| {
            prepare(&dir.join(format!("{name}.pdf")), false, protect).map(|b| (a, b))
        });
        let (a, b) = match pair {
            Ok(p) => p,
            Err(FileError::Exists(_)) => continue,
            Err(e) => return Err(e),
        };
        a.write_temp(md)?;
        b.write_temp(pdf)?;
        match a.commit().and_then(|()| b.commit()) {
            // Taken by another terminal between the check and the move: the next name.
            Err(FileError::Exists(_)) => continue,
            Err(e) => return Err(e),
            Ok(()) => return Ok(name),
        }
    }
    Err(FileError::Exists(
        dir.join(format!("{base}-999.md")).display().to_string(),
    ))
}

/// RFC 3339 in the ward's zone, with its offset: unambiguous and readable.
pub fn rfc3339_local(t: Instant, zone: Tz) -> String {
    t.with_timezone(&zone)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

pub fn date_local(t: Instant, zone: Tz) -> String {
    t.with_timezone(&zone).format("%Y-%m-%d").to_string()
}

/// "30/48 (62.5%)": a proportion always with its denominator.
pub fn fraction(part: usize, whole: usize) -> String {
    if whole == 0 {
        format!("{part}/{whole}")
    } else {
        format!(
            "{part}/{whole} ({:.1}%)",
            part as f64 * 100.0 / whole as f64
        )
    }
}

/// Two decimals, trailing zeros dropped: 6, 6.5, 6.25.
pub fn num(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}
