//! config.toml -> a typed, checked `Config`. Nothing else reads the file.

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;

use crate::domain::protocol::{Protocol, StartUnit};
use crate::domain::rate::Rate;
use crate::domain::values;
use crate::store::Location;

/// The shipped file; also the built-in defaults when no config.toml is found.
pub const DEFAULT_CONFIG: &str = include_str!("../config.toml");

/// No real low-dose protocol comes near this; a higher maximum is a typo (140 for 14). The
/// same ceiling holds for any protocol an admin may approve.
pub const SANE_MAX_RATE_MG_H: f64 = crate::domain::protocol::CEILING_MG_H;

#[derive(Debug, Clone)]
pub struct Config {
    pub source: String,
    pub ward_name: String,
    pub hospital: String,
    pub timezone: Tz,
    /// Where the record is: `database.url` when set, else the file `database.path`.
    pub db: Location,
    pub reports_dir: PathBuf,
    pub protocol: Protocol,
    pub side_effect_kinds: Vec<String>,
    pub max_pin_failures: u32,
    pub idle_signout_min: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file} is not read as a configuration: {why}")]
    NotAFile { file: String, why: String },
    #[error("{file}: {key} = {value}: {why}")]
    Invalid {
        file: String,
        key: &'static str,
        value: String,
        why: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    ward: Ward,
    database: Database,
    protocol: ProtocolSection,
    checks: Checks,
    outcome: Outcome,
    reports: Reports,
    side_effects: SideEffects,
    security: Security,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ward {
    name: String,
    hospital: String,
    timezone: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Database {
    path: PathBuf,
    /// A PostgreSQL server instead of the file (libpq URL); wins over `path` when set.
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProtocolSection {
    name: String,
    drug: String,
    atc_code: String,
    route: String,
    start_rate: f64,
    start_rate_unit: StartUnit,
    increment_mg_h: f64,
    min_step_interval_min: u32,
    max_rate_mg_h: f64,
    end_point: String,
    duration_days: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Checks {
    check_interval_min: u32,
    nrs_interval_min: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Outcome {
    responder_threshold: u8,
    t0_window_days: u32,
    t1_window_hours: u32,
    t2_planned_day: u32,
    t2_from_day: u32,
    t2_to_day: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reports {
    folder: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SideEffects {
    kinds: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Security {
    max_pin_failures: u32,
    idle_signout_min: u32,
}

impl Config {
    /// `path` given: that file must exist. Not given: ./config.toml if present, else the
    /// built-in defaults (which equal the shipped file).
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let (file, text) = match path {
            Some(p) => (p.display().to_string(), read(p)?),
            None => {
                let p = Path::new("config.toml");
                if p.exists() {
                    ("config.toml".to_string(), read(p)?)
                } else {
                    ("built-in defaults".to_string(), DEFAULT_CONFIG.to_string())
                }
            }
        };
        Config::parse(&text, &file)
    }

    pub fn defaults() -> Config {
        // The shipped file is tested to parse, so this cannot fail at run time.
        match Config::parse(DEFAULT_CONFIG, "built-in defaults") {
            Ok(c) => c,
            Err(e) => panic!("the built-in config.toml is invalid: {e}"),
        }
    }

    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let raw: File = toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: file.to_string(),
            message: e.to_string().trim_end().replace('\n', "\n  "),
        })?;
        let bad = |key: &'static str, value: String, why: &str| ConfigError::Invalid {
            file: file.to_string(),
            key,
            value,
            why: why.to_string(),
        };
        let p = &raw.protocol;
        let rate = |key: &'static str, v: f64| {
            Rate::from_mg_h(v).map_err(|e| bad(key, v.to_string(), &e.to_string()))
        };
        let max = rate("protocol.max_rate_mg_h", p.max_rate_mg_h)?;
        if max.is_zero() || p.max_rate_mg_h > SANE_MAX_RATE_MG_H {
            return Err(bad(
                "protocol.max_rate_mg_h",
                p.max_rate_mg_h.to_string(),
                &format!("must be above 0 and at most {SANE_MAX_RATE_MG_H} mg/h"),
            ));
        }
        let increment = rate("protocol.increment_mg_h", p.increment_mg_h)?;
        if increment.is_zero() || increment > max {
            return Err(bad(
                "protocol.increment_mg_h",
                p.increment_mg_h.to_string(),
                &format!("must be above 0 and not larger than max_rate_mg_h ({max})"),
            ));
        }
        if !p.start_rate.is_finite() || p.start_rate <= 0.0 {
            return Err(bad(
                "protocol.start_rate",
                p.start_rate.to_string(),
                "must be a number above 0",
            ));
        }
        if p.start_rate_unit == StartUnit::MgPerH && p.start_rate > max.mg_h() {
            return Err(bad(
                "protocol.start_rate",
                p.start_rate.to_string(),
                &format!("is above max_rate_mg_h ({max})"),
            ));
        }
        if p.start_rate_unit == StartUnit::MgPerKgPerH && p.start_rate > 1.0 {
            return Err(bad(
                "protocol.start_rate",
                p.start_rate.to_string(),
                "is above 1 mg/kg/h, far beyond any low-dose protocol",
            ));
        }
        if !(1..=30).contains(&p.duration_days) {
            return Err(bad(
                "protocol.duration_days",
                p.duration_days.to_string(),
                "must be 1 to 30 days",
            ));
        }
        if p.min_step_interval_min > 24 * 60 {
            return Err(bad(
                "protocol.min_step_interval_min",
                p.min_step_interval_min.to_string(),
                "must be at most 1440 minutes (one day)",
            ));
        }
        for (key, v) in [
            ("protocol.name", &p.name),
            ("protocol.drug", &p.drug),
            ("protocol.atc_code", &p.atc_code),
            ("protocol.route", &p.route),
            ("protocol.end_point", &p.end_point),
            ("ward.name", &raw.ward.name),
        ] {
            if v.trim().is_empty() {
                return Err(bad(key, "\"\"".into(), "must not be empty"));
            }
        }
        // Every text of the file ends up on screens, in letters and in the stored protocol:
        // none may carry a terminal escape or an invisible character.
        let paths = [
            ("database.path", raw.database.path.to_string_lossy()),
            ("reports.folder", raw.reports.folder.to_string_lossy()),
        ];
        let texts = [
            ("protocol.name", p.name.as_str()),
            ("protocol.drug", &p.drug),
            ("protocol.atc_code", &p.atc_code),
            ("protocol.route", &p.route),
            ("protocol.end_point", &p.end_point),
            ("ward.name", &raw.ward.name),
            ("ward.hospital", &raw.ward.hospital),
            ("ward.timezone", &raw.ward.timezone),
        ]
        .into_iter()
        .chain(paths.iter().map(|(k, v)| (*k, v.as_ref())))
        .chain(
            raw.database
                .url
                .iter()
                .map(|u| ("database.url", u.as_str())),
        )
        .chain(
            raw.side_effects
                .kinds
                .iter()
                .map(|k| ("side_effects.kinds", k.as_str())),
        );
        for (key, v) in texts {
            if let Some(code) = values::first_hidden(v) {
                return Err(bad(
                    key,
                    format!("\"{}\"", values::printable(v)),
                    &format!("holds a control or invisible character ({code}); write plain text"),
                ));
            }
            if v.chars().count() > MAX_TEXT_CHARS {
                return Err(bad(
                    key,
                    format!("{} characters", v.chars().count()),
                    &format!("is longer than {MAX_TEXT_CHARS} characters"),
                ));
            }
        }
        let c = &raw.checks;
        if !(1..=24 * 60).contains(&c.check_interval_min) {
            return Err(bad(
                "checks.check_interval_min",
                c.check_interval_min.to_string(),
                "must be 1 to 1440 minutes",
            ));
        }
        if !(1..=7 * 24 * 60).contains(&c.nrs_interval_min) {
            return Err(bad(
                "checks.nrs_interval_min",
                c.nrs_interval_min.to_string(),
                "must be 1 to 10080 minutes",
            ));
        }
        let o = &raw.outcome;
        if !(1..=10).contains(&o.responder_threshold) {
            return Err(bad(
                "outcome.responder_threshold",
                o.responder_threshold.to_string(),
                "must be 1 to 10 NRS points",
            ));
        }
        if !(1..=90).contains(&o.t0_window_days) {
            return Err(bad(
                "outcome.t0_window_days",
                o.t0_window_days.to_string(),
                "must be 1 to 90 days",
            ));
        }
        if !(1..=168).contains(&o.t1_window_hours) {
            return Err(bad(
                "outcome.t1_window_hours",
                o.t1_window_hours.to_string(),
                "must be 1 to 168 hours",
            ));
        }
        if !(o.t2_from_day <= o.t2_planned_day && o.t2_planned_day <= o.t2_to_day) {
            return Err(bad(
                "outcome.t2_planned_day",
                o.t2_planned_day.to_string(),
                "must lie within t2_from_day ..= t2_to_day",
            ));
        }
        if o.t2_to_day > 365 || o.t2_from_day == 0 {
            return Err(bad(
                "outcome.t2_to_day",
                o.t2_to_day.to_string(),
                "the T2 window must lie between day 1 and day 365 after the end",
            ));
        }
        let timezone: Tz = raw.ward.timezone.parse().map_err(|_| {
            bad(
                "ward.timezone",
                format!("\"{}\"", raw.ward.timezone),
                "is not an IANA time zone name (e.g. \"Europe/Amsterdam\")",
            )
        })?;
        let kinds = &raw.side_effects.kinds;
        if kinds.is_empty() || !kinds.iter().any(|k| k == "other") {
            return Err(bad(
                "side_effects.kinds",
                format!("{kinds:?}"),
                "must list the kinds, including \"other\"",
            ));
        }
        for k in kinds {
            let ok = !k.is_empty()
                && k.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-');
            if !ok {
                return Err(bad(
                    "side_effects.kinds",
                    format!("\"{k}\""),
                    "kinds are lowercase words joined by '-', e.g. \"blurred-vision\"",
                ));
            }
        }
        let s = &raw.security;
        if !(1..=20).contains(&s.max_pin_failures) {
            return Err(bad(
                "security.max_pin_failures",
                s.max_pin_failures.to_string(),
                "must be 1 to 20",
            ));
        }
        if !(1..=240).contains(&s.idle_signout_min) {
            return Err(bad(
                "security.idle_signout_min",
                s.idle_signout_min.to_string(),
                "must be 1 to 240 minutes",
            ));
        }
        if raw.database.path.as_os_str().is_empty() {
            return Err(bad("database.path", "\"\"".into(), "must name a file"));
        }
        let db = match &raw.database.url {
            None => Location::File(raw.database.path.clone()),
            Some(url) => match Location::parse(url) {
                Location::Server(u) => Location::Server(u),
                Location::File(_) => {
                    return Err(bad(
                        "database.url",
                        format!("\"{}\"", crate::store::pg_tls::redact(url)),
                        "must be a PostgreSQL URL (postgresql://…); a file goes in database.path",
                    ));
                }
            },
        };
        if raw.reports.folder.as_os_str().is_empty() {
            return Err(bad("reports.folder", "\"\"".into(), "must name a folder"));
        }
        Ok(Config {
            source: file.to_string(),
            ward_name: raw.ward.name.clone(),
            hospital: raw.ward.hospital.clone(),
            timezone,
            db,
            reports_dir: raw.reports.folder.clone(),
            protocol: Protocol {
                name: p.name.clone(),
                drug: p.drug.clone(),
                atc_code: p.atc_code.clone(),
                route: p.route.clone(),
                start_rate: p.start_rate,
                start_rate_unit: p.start_rate_unit,
                increment_mg_h: increment,
                min_step_interval_min: p.min_step_interval_min,
                max_rate_mg_h: max,
                end_point: p.end_point.clone(),
                duration_days: p.duration_days,
                check_interval_min: c.check_interval_min,
                nrs_interval_min: c.nrs_interval_min,
                responder_threshold: o.responder_threshold,
                t0_window_days: o.t0_window_days,
                t1_window_hours: o.t1_window_hours,
                t2_planned_day: o.t2_planned_day,
                t2_from_day: o.t2_from_day,
                t2_to_day: o.t2_to_day,
            },
            side_effect_kinds: kinds.clone(),
            max_pin_failures: s.max_pin_failures,
            idle_signout_min: s.idle_signout_min,
        })
    }
}

/// The largest config.toml titrate reads; the shipped file is about 4 KiB.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// The longest single text in it (a ward name, an end point).
const MAX_TEXT_CHARS: usize = 500;

/// Reads config.toml only from a regular file of at most [`MAX_CONFIG_BYTES`]: a device
/// (`/dev/zero`) would be read forever, a FIFO would hang the start.
fn read(p: &Path) -> Result<String, ConfigError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = p.display().to_string();
    let refuse = |why: String| ConfigError::NotAFile {
        file: file.clone(),
        why,
    };
    let io_err = |source| ConfigError::Read {
        file: file.clone(),
        source,
    };
    // Opened without blocking, so that a FIFO returns at once instead of waiting for a
    // writer; what was opened is then checked, not what the name pointed to before.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(p)
        .map_err(io_err)?;
    let meta = f.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return Err(refuse(
            "it is not a regular file (a folder, device or pipe)".into(),
        ));
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(refuse(format!(
            "it is {} bytes; a configuration is at most {MAX_CONFIG_BYTES} bytes",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    f.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(refuse(format!(
            "it grew past {MAX_CONFIG_BYTES} bytes while being read"
        )));
    }
    String::from_utf8(bytes).map_err(|_| refuse("it is not UTF-8 text".into()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn with(from: &str, to: &str) -> Result<Config, ConfigError> {
        assert!(DEFAULT_CONFIG.contains(from), "{from}");
        Config::parse(&DEFAULT_CONFIG.replacen(from, to, 1), "test.toml")
    }

    #[test]
    fn shipped_file_parses_with_the_protocol_maximum() {
        let c = Config::defaults();
        assert_eq!(c.protocol.max_rate_mg_h, Rate::from_centi(1400));
        assert_eq!(c.protocol.duration_days, 7);
        assert_eq!(c.protocol.responder_threshold, 2);
        assert_eq!(c.timezone, chrono_tz::Europe::Amsterdam);
    }

    #[test]
    fn each_mistake_names_its_key_and_file() {
        let cases = [
            (
                "max_rate_mg_h = 14.0",
                "max_rate_mg_h = 140.0",
                "protocol.max_rate_mg_h",
            ),
            (
                "max_rate_mg_h = 14.0",
                "max_rate_mg_h = \"14\"",
                "max_rate_mg_h",
            ),
            (
                "increment_mg_h = 2.0",
                "increment_mg_h = 20.0",
                "protocol.increment_mg_h",
            ),
            (
                "increment_mg_h = 2.0",
                "increment_mg_h = 0.001",
                "protocol.increment_mg_h",
            ),
            (
                "duration_days = 7",
                "duration_days = 7\ncolour = 1",
                "colour",
            ),
            ("duration_days = 7\n", "", "duration_days"),
            (
                "responder_threshold = 2",
                "responder_threshold = 0",
                "outcome.responder_threshold",
            ),
            (
                "t2_planned_day = 28",
                "t2_planned_day = 50",
                "outcome.t2_planned_day",
            ),
            ("\"Europe/Amsterdam\"", "\"Mars/Olympus\"", "ward.timezone"),
            (
                "\"liver-enzymes-raised\", \"other\",",
                "\"liver-enzymes-raised\",",
                "side_effects.kinds",
            ),
            (
                "start_rate_unit = \"mg/h\"",
                "start_rate_unit = \"mg/min\"",
                "start_rate_unit",
            ),
            (
                "check_interval_min = 60",
                "check_interval_min = -60",
                "check_interval_min",
            ),
        ];
        for (from, to, key) in cases {
            let e = with(from, to).unwrap_err().to_string();
            assert!(e.contains(key), "{to:?}: {e}");
            assert!(e.contains("test.toml"), "{to:?}: {e}");
        }
    }

    #[test]
    fn weight_based_start() {
        let c = with(
            "start_rate = 2.0\nstart_rate_unit = \"mg/h\"",
            "start_rate = 0.05\nstart_rate_unit = \"mg/kg/h\"",
        )
        .unwrap();
        assert_eq!(
            c.protocol.start_rate_for(Some(70.0)),
            Some(Rate::from_centi(350))
        );
        assert_eq!(c.protocol.start_rate_for(None), None);
    }
}
