//! What titrate prints: status, history, cohort table. Pure functions of loaded records.

pub mod cohort;
pub mod export;
pub mod history;
pub mod pdf;
pub mod staff;
pub mod status;
pub mod summary;

use chrono::SecondsFormat;
use chrono_tz::Tz;

use crate::domain::time::Instant;

/// Writes a report file readable by its owner only (it holds patient data), through a
/// temporary file and a rename so that a reader never sees half a file.
pub fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

/// Creates a folder for report files, readable by its owner only.
pub fn create_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)
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
