//! Monitoring values (issue 13): vital signs, sedation and liver tests, the kinds a ward
//! records and the strict reading of a typed value. A value is kept as thousandths of its
//! unit (`value_milli`), so 37.2 °C is 37200 and nothing is rounded by a float.
//!
//! The limits here are plausibility limits, not clinical targets: a value outside them is a
//! typing mistake (140 for 14, 3.7 for 37) and is refused with the range that is allowed.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Vital,
    Sedation,
    Liver,
}

/// One kind of observation: its code on the command line and in the record, how it is shown,
/// what may be typed for it, and its LOINC code for export (none where no single code fits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub code: &'static str,
    pub name: &'static str,
    pub unit: &'static str,
    pub group: Group,
    pub min_milli: i64,
    pub max_milli: i64,
    /// Digits allowed after the decimal point.
    pub decimals: u32,
    pub loinc: Option<&'static str>,
    /// Upper limit of normal, for liver tests: a value above it is shown as raised.
    pub uln_milli: Option<i64>,
}

#[allow(clippy::too_many_arguments)] // one row of the table below
const fn kind(
    code: &'static str,
    name: &'static str,
    unit: &'static str,
    group: Group,
    (min, max): (i64, i64),
    decimals: u32,
    loinc: Option<&'static str>,
    uln: Option<i64>,
) -> Kind {
    Kind {
        code,
        name,
        unit,
        group,
        min_milli: min,
        max_milli: max,
        decimals,
        loinc,
        uln_milli: uln,
    }
}

const K: i64 = 1000;

#[rustfmt::skip]
pub const KINDS: &[Kind] = &[
    kind("systolic", "systolic blood pressure", "mmHg", Group::Vital, (40 * K, 300 * K), 0, Some("8480-6"), None),
    kind("diastolic", "diastolic blood pressure", "mmHg", Group::Vital, (20 * K, 200 * K), 0, Some("8462-4"), None),
    kind("heart-rate", "heart rate", "/min", Group::Vital, (20 * K, 250 * K), 0, Some("8867-4"), None),
    kind("spo2", "oxygen saturation", "%", Group::Vital, (50 * K, 100 * K), 0, Some("59408-5"), None),
    kind("resp-rate", "respiratory rate", "/min", Group::Vital, (2 * K, 60 * K), 0, Some("9279-1"), None),
    kind("temp", "body temperature", "°C", Group::Vital, (30 * K, 43 * K), 1, Some("8310-5"), None),
    kind("sedation", "sedation (RASS)", "", Group::Sedation, (-5 * K, 4 * K), 0, None, None),
    kind("alt", "ALT", "U/L", Group::Liver, (0, 10_000 * K), 0, Some("1742-6"), Some(45 * K)),
    kind("ast", "AST", "U/L", Group::Liver, (0, 10_000 * K), 0, Some("1920-8"), Some(40 * K)),
    kind("alp", "alkaline phosphatase", "U/L", Group::Liver, (0, 10_000 * K), 0, Some("6768-6"), Some(120 * K)),
    kind("ggt", "gamma-GT", "U/L", Group::Liver, (0, 10_000 * K), 0, Some("2324-2"), Some(55 * K)),
    kind("bilirubin", "total bilirubin", "µmol/L", Group::Liver, (0, 1_000 * K), 0, Some("14631-6"), Some(17 * K)),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObservationError {
    #[error("\"{given}\" is not an observation titrate records: use one of {allowed}")]
    Unknown { given: String, allowed: String },
    #[error("{name} \"{given}\" uses a comma: write it with a decimal point, e.g. 37.5 (not 37,5)")]
    Comma { name: &'static str, given: String },
    #[error("{name} \"{given}\" is not a number: {allowed}")]
    NotANumber {
        name: &'static str,
        given: String,
        allowed: String,
    },
    #[error("{name} {given} has too many decimals: {allowed}")]
    Decimals {
        name: &'static str,
        given: String,
        allowed: String,
    },
    #[error("{name} {given} is outside what can be right: {allowed}")]
    Range {
        name: &'static str,
        given: String,
        allowed: String,
    },
}

pub fn find(code: &str) -> Result<&'static Kind, ObservationError> {
    KINDS
        .iter()
        .find(|k| k.code == code)
        .ok_or_else(|| ObservationError::Unknown {
            given: super::values::shown(code),
            allowed: KINDS.iter().map(|k| k.code).collect::<Vec<_>>().join(", "),
        })
}

impl Kind {
    /// What may be typed, in words: "a whole number from 40 to 300 mmHg".
    pub fn allowed(&self) -> String {
        let what = if self.decimals == 0 {
            "a whole number".to_string()
        } else {
            format!("a number with at most {} decimal(s)", self.decimals)
        };
        let unit = if self.unit.is_empty() {
            String::new()
        } else {
            format!(" {}", self.unit)
        };
        format!(
            "give {what} from {} to {}{unit}",
            self.show(self.min_milli),
            self.show(self.max_milli)
        )
    }

    /// A stored value as typed: 37200 -> "37.2" for temperature, 120000 -> "120".
    pub fn show(&self, milli: i64) -> String {
        let sign = if milli < 0 { "-" } else { "" };
        let a = milli.unsigned_abs();
        let whole = a / 1000;
        if self.decimals == 0 {
            return format!("{sign}{whole}");
        }
        let frac = (a % 1000) / 10u64.pow(3 - self.decimals.min(3));
        format!(
            "{sign}{whole}.{frac:0width$}",
            width = self.decimals as usize
        )
    }

    /// Reads what was typed, strictly: digits, at most one decimal point, a sign only where
    /// the scale has negative values (RASS), no exponent, no comma, within the limits.
    pub fn parse(&self, raw: &str) -> Result<i64, ObservationError> {
        let t = raw.trim();
        let given = super::values::shown(t);
        if t.contains(',') {
            return Err(ObservationError::Comma {
                name: self.name,
                given,
            });
        }
        let nan = || ObservationError::NotANumber {
            name: self.name,
            given: given.clone(),
            allowed: self.allowed(),
        };
        let (negative, body) = match t.as_bytes().first() {
            Some(b'-') if self.min_milli < 0 => (true, &t[1..]),
            Some(b'+') if self.min_milli < 0 => (false, &t[1..]),
            _ => (false, t),
        };
        let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || whole.len() > 6 || !digits(whole) || !digits(frac) {
            return Err(nan());
        }
        if body.ends_with('.') {
            return Err(nan());
        }
        let significant = frac.trim_end_matches('0');
        if significant.len() > self.decimals as usize {
            return Err(ObservationError::Decimals {
                name: self.name,
                given,
                allowed: self.allowed(),
            });
        }
        let whole: i64 = whole.parse().map_err(|_| nan())?;
        let mut milli = whole * 1000;
        for (i, b) in significant.bytes().enumerate() {
            milli += i64::from(b - b'0') * 10i64.pow(2 - i as u32);
        }
        if negative {
            milli = -milli;
        }
        if milli < self.min_milli || milli > self.max_milli {
            return Err(ObservationError::Range {
                name: self.name,
                given,
                allowed: self.allowed(),
            });
        }
        Ok(milli)
    }

    /// For liver tests: how many times the upper limit of normal, one decimal (raised > 1.0).
    pub fn times_uln(&self, milli: i64) -> Option<f64> {
        self.uln_milli
            .filter(|u| *u > 0)
            .map(|u| (milli as f64 / u as f64 * 10.0).round() / 10.0)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: &str) -> &'static Kind {
        find(code).expect("a kind in KINDS")
    }

    #[test]
    fn codes_are_unique_and_limits_are_ordered() {
        for (i, a) in KINDS.iter().enumerate() {
            assert!(a.min_milli < a.max_milli, "{}", a.code);
            assert!(a.decimals <= 3, "{}", a.code);
            assert!(
                KINDS[i + 1..].iter().all(|b| b.code != a.code),
                "{}",
                a.code
            );
            assert_eq!(a.parse(&a.show(a.min_milli)), Ok(a.min_milli), "{}", a.code);
            assert_eq!(a.parse(&a.show(a.max_milli)), Ok(a.max_milli), "{}", a.code);
        }
    }

    #[test]
    fn typed_values_are_read_exactly() {
        assert_eq!(k("temp").parse("37.2"), Ok(37_200));
        assert_eq!(k("temp").parse(" 38 "), Ok(38_000));
        assert_eq!(k("temp").parse("37.20"), Ok(37_200));
        assert_eq!(k("systolic").parse("120"), Ok(120_000));
        assert_eq!(k("sedation").parse("-3"), Ok(-3_000));
        assert_eq!(k("sedation").parse("+2"), Ok(2_000));
        assert_eq!(k("sedation").parse("0"), Ok(0));
        assert_eq!(k("temp").show(37_200), "37.2");
        assert_eq!(k("sedation").show(-3_000), "-3");
    }

    #[test]
    fn a_tired_hand_is_refused_with_what_is_allowed() {
        let t = k("temp");
        assert!(matches!(
            t.parse("37,5"),
            Err(ObservationError::Comma { .. })
        ));
        assert!(matches!(
            t.parse("3.7"),
            Err(ObservationError::Range { .. })
        ));
        assert!(matches!(
            t.parse("372"),
            Err(ObservationError::Range { .. })
        ));
        assert!(matches!(
            t.parse("37.25"),
            Err(ObservationError::Decimals { .. })
        ));
        for bad in [
            "", ".", "37.", ".5", "1e2", "NaN", "inf", "-37", "37 .2", "٣٧", "0x25",
        ] {
            assert!(
                matches!(t.parse(bad), Err(ObservationError::NotANumber { .. })),
                "{bad:?} was read"
            );
        }
        let s = k("systolic");
        assert!(matches!(
            s.parse("1200"),
            Err(ObservationError::Range { .. })
        ));
        assert!(matches!(
            s.parse("120.5"),
            Err(ObservationError::Decimals { .. })
        ));
        assert!(matches!(
            s.parse("+120"),
            Err(ObservationError::NotANumber { .. })
        ));
        assert!(matches!(
            k("sedation").parse("-6"),
            Err(ObservationError::Range { .. })
        ));
        assert!(matches!(
            k("spo2").parse("101"),
            Err(ObservationError::Range { .. })
        ));
        let msg = t.parse("3.7").expect_err("3.7 °C is refused").to_string();
        assert!(msg.contains("from 30.0 to 43.0 °C"), "{msg}");
        let msg = find("bp").expect_err("bp is not a code").to_string();
        assert!(
            msg.contains("systolic") && msg.contains("bilirubin"),
            "{msg}"
        );
    }

    #[test]
    fn liver_tests_are_compared_with_the_upper_limit_of_normal() {
        assert_eq!(k("alt").times_uln(90_000), Some(2.0));
        assert_eq!(k("alt").times_uln(45_000), Some(1.0));
        assert_eq!(k("temp").times_uln(37_000), None);
    }
}
