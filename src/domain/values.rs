//! Small validated values: what a form or an argument becomes before the domain sees it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("\"{given}\" is not an NRS pain score: give a whole number from 0 to 10")]
    Nrs { given: String },
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} is {len} characters long; at most {max} are allowed")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error(
        "{what} contains a control character or an invisible one ({code}, such as a terminal escape or a direction mark); type plain text"
    )]
    Control { what: &'static str, code: String },
    #[error("\"{given}\" is not a valid {what}: {allowed}")]
    Choice {
        what: &'static str,
        given: String,
        allowed: String,
    },
    #[error("MRN \"{0}\" is not valid: use 1 to 32 letters, digits or '-'")]
    Mrn(String),
    #[error("staff id \"{0}\" is not valid: use 1 to 12 letters or digits (e.g. initials)")]
    StaffId(String),
    #[error("a PIN is 4 to 12 digits")]
    Pin,
    #[error("weight \"{0}\" is not valid: give kilograms from 20 to 400, e.g. 72.5")]
    Weight(String),
}

/// What was typed, as a message may quote it: printable, at most 40 characters.
pub(crate) fn shown(s: &str) -> String {
    printable(&s.chars().take(40).collect::<String>())
}

/// Characters that change what a terminal, a PDF or a spreadsheet shows without showing
/// themselves: Unicode's format characters (category Cf: bidirectional marks and overrides,
/// zero-width spaces and joiners, the soft hyphen, word joiners and invisible operators, tag
/// characters), the other default-ignorable code points (variation selectors, fillers), and
/// the line and paragraph separators. A name holding one can look like another name, print
/// reversed, or hide text.
pub fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{0600}'..='\u{0605}' | '\u{06DD}' | '\u{070F}'
        | '\u{0890}'..='\u{0891}' | '\u{08E2}' | '\u{115F}'..='\u{1160}' | '\u{17B4}'..='\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{2800}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFFB}' | '\u{110BD}' | '\u{110CD}' | '\u{13430}'..='\u{1343F}'
        | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Whether `c` may appear in stored or shown text: no control and no invisible character.
pub fn is_hidden(c: char) -> bool {
    c.is_control() || is_invisible_format(c)
}

/// The first hidden character of `s`, as "U+001B", for a message that says what to remove.
pub fn first_hidden(s: &str) -> Option<String> {
    s.chars()
        .find(|&c| is_hidden(c))
        .map(|c| format!("U+{:04X}", u32::from(c)))
}

/// Text made safe to print on a terminal: control and invisible format characters become '?'.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if is_hidden(c) { '?' } else { c })
        .collect()
}

/// NRS pain score, 0 to 10 (LOINC 72514-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Nrs(u8);

impl Nrs {
    pub fn new(v: i64) -> Result<Nrs, ValueError> {
        if (0..=10).contains(&v) {
            Ok(Nrs(v as u8))
        } else {
            Err(ValueError::Nrs {
                given: v.to_string(),
            })
        }
    }
    pub fn get(self) -> u8 {
        self.0
    }
}

impl FromStr for Nrs {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Nrs, ValueError> {
        let t = s.trim();
        let err = || ValueError::Nrs { given: shown(t) };
        if t.is_empty() || t.len() > 3 || !t.chars().all(|c| c.is_ascii_digit()) {
            return Err(err());
        }
        let v: i64 = t.parse().map_err(|_| err())?;
        Nrs::new(v).map_err(|_| err())
    }
}

impl fmt::Display for Nrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Free text typed by staff: names, reasons, beds. Printable only, so that nothing stored
/// can later drive a terminal.
pub fn text(what: &'static str, raw: &str, max: usize) -> Result<String, ValueError> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(ValueError::Empty { what });
    }
    let len = t.chars().count();
    if len > max {
        return Err(ValueError::TooLong { what, len, max });
    }
    if let Some(code) = first_hidden(t) {
        return Err(ValueError::Control { what, code });
    }
    Ok(t.to_string())
}

pub fn mrn(raw: &str) -> Result<String, ValueError> {
    let t = raw.trim();
    let ok =
        (1..=32).contains(&t.len()) && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(t.to_string())
    } else {
        Err(ValueError::Mrn(shown(t)))
    }
}

/// Staff ids are initials; stored upper-case so "ab" and "AB" are one person.
pub fn staff_id(raw: &str) -> Result<String, ValueError> {
    let t = raw.trim();
    let ok = (1..=12).contains(&t.len()) && t.chars().all(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(t.to_ascii_uppercase())
    } else {
        Err(ValueError::StaffId(shown(t)))
    }
}

pub fn pin(raw: &str) -> Result<String, ValueError> {
    let ok = (4..=12).contains(&raw.len()) && raw.chars().all(|c| c.is_ascii_digit());
    if ok {
        Ok(raw.to_string())
    } else {
        Err(ValueError::Pin)
    }
}

pub fn weight_kg(raw: &str) -> Result<f64, ValueError> {
    let t = raw.trim();
    let ok_chars = !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.');
    match t.parse::<f64>() {
        Ok(w) if ok_chars && (20.0..=400.0).contains(&w) => Ok((w * 10.0).round() / 10.0),
        _ => Err(ValueError::Weight(shown(t))),
    }
}

/// An enum that is typed as one of a few fixed words.
macro_rules! choice {
    ($name:ident, $what:literal, { $($variant:ident = $word:literal),+ $(,)? }) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $word)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
            pub fn allowed() -> String {
                [$($word),+].join(", ")
            }
        }

        impl FromStr for $name {
            type Err = ValueError;
            fn from_str(s: &str) -> Result<$name, ValueError> {
                let t = s.trim().to_ascii_lowercase().replace('_', "-");
                match t.as_str() {
                    $($word => Ok($name::$variant),)+
                    _ => Err(ValueError::Choice {
                        what: $what,
                        given: shown(s.trim()),
                        allowed: format!("one of {}", $name::allowed()),
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

choice!(Sex, "sex", { Female = "female", Male = "male", Other = "other" });
choice!(Timepoint, "timepoint", { T0 = "t0", T1 = "t1", T2 = "t2" });
choice!(Severity, "severity", { Mild = "mild", Moderate = "moderate", Severe = "severe" });
choice!(Action, "action", {
    None = "none",
    RateLowered = "rate-lowered",
    Paused = "paused",
    Stopped = "stopped",
    MedicationGiven = "medication-given",
});

impl Action {
    /// The actions that change the rate: recorded with their new rate, in one step.
    pub fn sets_rate(self) -> bool {
        matches!(self, Action::RateLowered | Action::Paused | Action::Stopped)
    }
}
choice!(EndReason, "end reason", {
    Completed = "completed",
    SideEffects = "side-effects",
    PatientRequest = "patient-request",
    Other = "other",
});
choice!(Role, "role", { Nurse = "nurse", Physician = "physician", Admin = "admin" });
choice!(CrpsType, "CRPS type", { One = "1", Two = "2" });
choice!(YesNo, "answer", { Yes = "yes", No = "no" });

impl YesNo {
    pub fn as_bool(self) -> bool {
        self == YesNo::Yes
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn nrs_is_a_whole_number_from_0_to_10() {
        assert_eq!("7".parse::<Nrs>().unwrap().get(), 7);
        assert_eq!(" 0 ".parse::<Nrs>().unwrap().get(), 0);
        for bad in [
            "11",
            "7.5",
            "",
            "-1",
            "ten",
            "1e1",
            "0x5",
            "100000000000000000000",
        ] {
            let e = bad.parse::<Nrs>().unwrap_err();
            assert!(e.to_string().contains("0 to 10"), "{bad}: {e}");
        }
    }

    #[test]
    fn text_refuses_escapes_and_length() {
        assert!(text("name", "Jan \u{1b}[31mRed", 100).is_err());
        assert!(text("name", "Jan \u{202e}Red", 100).is_err());
        assert_eq!(printable("a\u{1b}[31mb\u{202e}"), "a?[31mb?");
        // One of each kind that hides itself: every one is refused and shown as '?'.
        for c in [
            '\u{0}',
            '\u{7}',
            '\u{1b}',
            '\u{7f}',
            '\u{85}',
            '\u{ad}',
            '\u{34f}',
            '\u{61c}',
            '\u{180e}',
            '\u{200b}',
            '\u{200d}',
            '\u{2028}',
            '\u{2029}',
            '\u{2060}',
            '\u{2061}',
            '\u{2062}',
            '\u{2063}',
            '\u{2064}',
            '\u{2066}',
            '\u{feff}',
            '\u{fe0f}',
            '\u{e0001}',
            '\u{e0041}',
            '\u{e007f}',
            '\u{e0100}',
        ] {
            let typed = format!("Jan{c}sen");
            let e = text("name", &typed, 100).unwrap_err().to_string();
            assert!(e.contains(&format!("U+{:04X}", u32::from(c))), "{e}");
            assert_eq!(printable(&typed), "Jan?sen");
        }
        // Letters of other scripts are text, not hidden characters.
        for ok in ["דוד כהן", "محمد", "Zoë", "Ærøskøbing", "李小龙", "Đặng"] {
            assert_eq!(text("name", ok, 100).unwrap(), ok);
        }
        assert!(text("name", "  ", 100).is_err());
        assert!(text("name", &"x".repeat(101), 100).is_err());
        assert_eq!(text("name", " Zoë O'Brien ", 100).unwrap(), "Zoë O'Brien");
        assert_eq!(
            text("name", "Robert'); DROP TABLE patient;--", 100)
                .unwrap()
                .len(),
            31
        );
    }

    #[test]
    fn choices_list_what_is_allowed() {
        let e = "severe-ish".parse::<Severity>().unwrap_err().to_string();
        assert!(e.contains("mild, moderate, severe"), "{e}");
        assert_eq!(
            "Rate_Lowered".parse::<Action>().unwrap(),
            Action::RateLowered
        );
    }

    #[test]
    fn identifiers() {
        assert_eq!(staff_id("ab").unwrap(), "AB");
        assert!(staff_id("a b").is_err());
        assert!(mrn("123-45").is_ok());
        assert!(mrn("12 45").is_err());
        assert!(pin("12a4").is_err());
        assert!(pin("123").is_err());
        assert_eq!(weight_kg("72.56").unwrap(), 72.6);
        assert!(weight_kg("7000").is_err());
        assert!(weight_kg("NaN").is_err());
    }
}
