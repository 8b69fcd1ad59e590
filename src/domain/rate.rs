//! Pump rates, held exactly in hundredths of a mg/h so that "14.00" equals the maximum and no
//! floating-point rounding can let 14.000001 through.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate(u32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    #[error("no rate given: write the rate in mg/h, e.g. 4 or 4.5")]
    Empty,
    #[error("\"{0}\" uses a comma: write the rate with a decimal point, e.g. 1.5 (not 1,5)")]
    Comma(String),
    #[error("\"{0}\" is negative: a rate is 0 (paused) or more mg/h")]
    Negative(String),
    #[error("\"{0}\" has more than 2 decimals: pumps are set in steps of 0.01 mg/h")]
    TooPrecise(String),
    #[error("\"{0}\" is far above any protocol maximum")]
    TooLarge(String),
    #[error("\"{0}\" is not a rate: write the rate in mg/h as a plain number, e.g. 4 or 4.5")]
    NotANumber(String),
}

/// Larger than any conceivable infusion; keeps arithmetic far from overflow.
const LIMIT_CENTI: u64 = 10_000_000;

impl Rate {
    pub const ZERO: Rate = Rate(0);

    pub const fn from_centi(centi: u32) -> Rate {
        Rate(centi)
    }

    pub const fn centi(self) -> u32 {
        self.0
    }

    pub fn mg_h(self) -> f64 {
        f64::from(self.0) / 100.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// For values that come from config or JSON as floating point numbers.
    pub fn from_mg_h(value: f64) -> Result<Rate, RateError> {
        let text = value.to_string();
        if !value.is_finite() {
            return Err(RateError::NotANumber(text));
        }
        if value < 0.0 {
            return Err(RateError::Negative(text));
        }
        let centi = (value * 100.0).round();
        if (centi - value * 100.0).abs() > 1e-6 {
            return Err(RateError::TooPrecise(text));
        }
        if centi > LIMIT_CENTI as f64 {
            return Err(RateError::TooLarge(text));
        }
        Ok(Rate(centi as u32))
    }

    pub fn saturating_sub(self, other: Rate) -> Rate {
        Rate(self.0.saturating_sub(other.0))
    }
}

impl FromStr for Rate {
    type Err = RateError;

    fn from_str(raw: &str) -> Result<Rate, RateError> {
        let s = raw.trim();
        let shown = || s.chars().take(40).collect::<String>();
        if s.is_empty() {
            return Err(RateError::Empty);
        }
        if s.contains(',') {
            return Err(RateError::Comma(shown()));
        }
        if let Some(rest) = s.strip_prefix('-') {
            if rest
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit() || c == '.')
            {
                return Err(RateError::Negative(shown()));
            }
            return Err(RateError::NotANumber(shown()));
        }
        let s = s.strip_prefix('+').unwrap_or(s);
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
        if !digits(int) || !digits(frac) || (int.is_empty() && frac.is_empty()) {
            return Err(RateError::NotANumber(shown()));
        }
        if s.ends_with('.') && frac.is_empty() && int.is_empty() {
            return Err(RateError::NotANumber(shown()));
        }
        let frac_trimmed = frac.trim_end_matches('0');
        if frac_trimmed.len() > 2 {
            return Err(RateError::TooPrecise(shown()));
        }
        let int = int.trim_start_matches('0');
        if int.len() > 7 {
            return Err(RateError::TooLarge(shown()));
        }
        let whole: u64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| RateError::NotANumber(shown()))?
        };
        let mut hundredths: u64 = 0;
        for (i, c) in frac_trimmed.chars().enumerate() {
            let d = u64::from(c.to_digit(10).unwrap_or(0));
            hundredths += d * if i == 0 { 10 } else { 1 };
        }
        let centi = whole * 100 + hundredths;
        if centi > LIMIT_CENTI {
            return Err(RateError::TooLarge(shown()));
        }
        Ok(Rate(centi as u32))
    }
}

impl fmt::Display for Rate {
    /// "4", "4.5", "0.25": the way a nurse reads a pump.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 100;
        let frac = self.0 % 100;
        if frac == 0 {
            write!(f, "{whole}")
        } else if frac.is_multiple_of(10) {
            write!(f, "{whole}.{}", frac / 10)
        } else {
            write!(f, "{whole}.{frac:02}")
        }
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.mg_h())
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
        let v = f64::deserialize(d)?;
        Rate::from_mg_h(v).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn r(s: &str) -> Result<Rate, RateError> {
        s.parse()
    }

    #[test]
    fn parses_what_a_nurse_types() {
        assert_eq!(r("4").unwrap(), Rate(400));
        assert_eq!(r(" 4.5 ").unwrap(), Rate(450));
        assert_eq!(r("0.25").unwrap(), Rate(25));
        assert_eq!(r(".5").unwrap(), Rate(50));
        assert_eq!(r("14.00").unwrap(), Rate(1400));
        assert_eq!(r("14.000").unwrap(), Rate(1400));
        assert_eq!(r("0").unwrap(), Rate::ZERO);
        assert_eq!(r("140").unwrap(), Rate(14000));
    }

    #[test]
    fn refuses_what_is_not_a_rate() {
        assert!(matches!(r("1,5"), Err(RateError::Comma(_))));
        assert!(matches!(r("-1"), Err(RateError::Negative(_))));
        assert!(matches!(r("14.0001"), Err(RateError::TooPrecise(_))));
        assert!(matches!(r("1e308"), Err(RateError::NotANumber(_))));
        assert!(matches!(r("NaN"), Err(RateError::NotANumber(_))));
        assert!(matches!(r("inf"), Err(RateError::NotANumber(_))));
        assert!(matches!(r(""), Err(RateError::Empty)));
        assert!(matches!(r("."), Err(RateError::NotANumber(_))));
        assert!(matches!(r("4 mg/h"), Err(RateError::NotANumber(_))));
        assert!(matches!(
            r("99999999999999999999"),
            Err(RateError::TooLarge(_))
        ));
        assert!(matches!(r("--1"), Err(RateError::NotANumber(_))));
    }

    #[test]
    fn displays_without_trailing_zeros() {
        assert_eq!(Rate(1400).to_string(), "14");
        assert_eq!(Rate(450).to_string(), "4.5");
        assert_eq!(Rate(25).to_string(), "0.25");
        assert_eq!(Rate(5).to_string(), "0.05");
    }

    #[test]
    fn from_float_is_exact_or_refused() {
        assert_eq!(Rate::from_mg_h(14.0).unwrap(), Rate(1400));
        assert_eq!(Rate::from_mg_h(0.1).unwrap(), Rate(10));
        assert!(Rate::from_mg_h(f64::NAN).is_err());
        assert!(Rate::from_mg_h(-0.5).is_err());
        assert!(Rate::from_mg_h(0.001).is_err());
        assert!(Rate::from_mg_h(1e308).is_err());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = r(&s);
        }

        #[test]
        fn display_round_trips(c in 0u32..10_000_000) {
            proptest::prop_assert_eq!(r(&Rate(c).to_string()).unwrap(), Rate(c));
        }
    }
}
