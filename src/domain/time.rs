//! Times as staff type them, and as the record stores them.
//!
//! The record keeps every instant in UTC ("2026-03-01T07:00:00Z", which sorts as text in any
//! database); the ward reads and types local time in the configured zone.

use chrono::{
    DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeZone, Utc,
};
use chrono_tz::Tz;

pub type Instant = DateTime<Utc>;

/// How far into the future an entry may claim to have happened (clocks of terminals differ).
pub const FUTURE_TOLERANCE_MIN: i64 = 5;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("\"{0}\" is not a time: write a time like 14:05 or 2026-03-01 14:05")]
    Format(String),
    #[error("\"{0}\" is not a date on the calendar")]
    NoSuchDate(String),
    #[error(
        "{time} does not exist in {zone}: the clocks went forward that night; give the time with its offset"
    )]
    Skipped { time: String, zone: String },
    #[error(
        "{time} happened twice in {zone} (the clocks went back): write it with its offset, {earlier} or {later}"
    )]
    Ambiguous {
        time: String,
        zone: String,
        earlier: String,
        later: String,
    },
    #[error(
        "{at} is more than {FUTURE_TOLERANCE_MIN} minutes in the future (now {now}): entries record what has happened"
    )]
    Future { at: String, now: String },
    #[error("\"{0}\" is not a date: write YYYY-MM-DD, e.g. 1980-04-23")]
    DateFormat(String),
    #[error(
        "\"{0}\" names a leap second (:60), which the record cannot hold: write :59 or the next minute"
    )]
    LeapSecond(String),
}

fn shown(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Parses TIME as the command line and the forms accept it.
pub fn parse_time(raw: &str, zone: Tz) -> Result<Instant, TimeError> {
    let s = raw.trim();
    let t = parse_time_any_second(s, zone)?;
    // chrono keeps a leap second as a nanosecond count past one second; stored, it would
    // read back as "23:59:60", which pandas, R and most databases refuse.
    if t.timestamp_subsec_nanos() >= 1_000_000_000 {
        return Err(TimeError::LeapSecond(shown(s)));
    }
    Ok(t)
}

/// Parses TIME as staff type it: like [`parse_time`], and also "14:05" alone, which is the
/// latest 14:05 (local) that is not in the future: today's, or yesterday's while today's is
/// still to come. "Not in the future" allows the same few minutes as [`check_not_future`],
/// so that a watch a minute ahead of the terminal does not move an entry a day back. A
/// 14:05 that the clocks skipped today, or that happened twice, is refused as with a date.
pub fn parse_time_at(raw: &str, zone: Tz, now: Instant) -> Result<Instant, TimeError> {
    let s = raw.trim();
    let Some(hm) = clock_time(s) else {
        return parse_time(s, zone);
    };
    let latest = now + chrono::Duration::minutes(FUTURE_TOLERANCE_MIN);
    let today = now.with_timezone(&zone).date_naive();
    let here = today.and_time(hm);
    let yesterday = || {
        today
            .pred_opt()
            .ok_or_else(|| TimeError::Format(shown(s)))
            .and_then(|d| local_to_utc(d.and_time(hm), zone))
    };
    match zone.from_local_datetime(&here) {
        LocalResult::Single(t) if t <= latest => Ok(t.with_timezone(&Utc)),
        LocalResult::Single(_) => yesterday(),
        // Skipped today: refused if the clock has passed it, else yesterday's.
        LocalResult::None if now.with_timezone(&zone).time() >= hm => local_to_utc(here, zone),
        LocalResult::None => yesterday(),
        // Both have passed: which one is meant cannot be told.
        LocalResult::Ambiguous(_, b) if b <= latest => local_to_utc(here, zone),
        LocalResult::Ambiguous(a, _) if a <= latest => Ok(a.with_timezone(&Utc)),
        LocalResult::Ambiguous(..) => yesterday(),
    }
}

/// "14:05" or "9:05" alone (no date, no seconds).
fn clock_time(s: &str) -> Option<NaiveTime> {
    let (h, m) = s.split_once(':')?;
    let digits = |t: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 1..=2) || !digits(m, 2..=2) {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

/// "Wed 2 Dec 14:05" (with the year when it is not this year's): a time as the form reads
/// it back before it is saved.
pub fn spoken(t: Instant, zone: Tz, now: Instant) -> String {
    let local = t.with_timezone(&zone);
    if chrono::Datelike::year(&local) == chrono::Datelike::year(&now.with_timezone(&zone)) {
        local.format("%a %-d %b %H:%M").to_string()
    } else {
        local.format("%a %-d %b %Y %H:%M").to_string()
    }
}

fn parse_time_any_second(s: &str, zone: Tz) -> Result<Instant, TimeError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok());
    let Some(naive) = naive else {
        return Err(classify_bad_time(s));
    };
    local_to_utc(naive, zone)
}

/// Tells a date that does not exist (2026-02-30) apart from text that is not a time at all.
fn classify_bad_time(s: &str) -> TimeError {
    let date_part = s.get(..10).unwrap_or(s);
    if looks_like_ymd(date_part) && NaiveDate::parse_from_str(date_part, "%Y-%m-%d").is_err() {
        TimeError::NoSuchDate(shown(date_part))
    } else {
        TimeError::Format(shown(s))
    }
}

fn looks_like_ymd(s: &str) -> bool {
    s.len() == 10
        && s.chars().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        })
}

pub fn local_to_utc(naive: NaiveDateTime, zone: Tz) -> Result<Instant, TimeError> {
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::None => Err(TimeError::Skipped {
            time: naive.format("%Y-%m-%d %H:%M").to_string(),
            zone: zone.name().to_string(),
        }),
        LocalResult::Ambiguous(a, b) => Err(TimeError::Ambiguous {
            time: naive.format("%Y-%m-%d %H:%M").to_string(),
            zone: zone.name().to_string(),
            earlier: a.to_rfc3339_opts(SecondsFormat::Secs, false),
            later: b.to_rfc3339_opts(SecondsFormat::Secs, false),
        }),
    }
}

pub fn parse_date(raw: &str) -> Result<NaiveDate, TimeError> {
    let s = raw.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        if looks_like_ymd(s) {
            TimeError::NoSuchDate(shown(s))
        } else {
            TimeError::DateFormat(shown(s))
        }
    })
}

/// Refuses entries that claim to have happened more than a few minutes from now.
pub fn check_not_future(at: Instant, now: Instant, zone: Tz) -> Result<(), TimeError> {
    if at > now + chrono::Duration::minutes(FUTURE_TOLERANCE_MIN) {
        return Err(TimeError::Future {
            at: local_text(at, zone),
            now: local_text(now, zone),
        });
    }
    Ok(())
}

/// The stored form: UTC, whole seconds, `Z`.
pub fn to_db(t: Instant) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn from_db(s: &str) -> Option<Instant> {
    stored_form(s).or_else(|| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// The exact form `to_db` writes ("2026-03-01T07:00:00Z"), read without a general parser:
/// reports read hundreds of thousands of them. Anything else (another offset, a fraction, a
/// leap second) is left to the RFC 3339 parser.
fn stored_form(s: &str) -> Option<Instant> {
    let b = s.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(num(0, 4)?).ok()?, num(5, 7)?, num(8, 10)?)?;
    let time = chrono::NaiveTime::from_hms_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?)?;
    Some(date.and_time(time).and_utc())
}

/// Drops sub-second precision so that what is stored equals what was validated.
pub fn whole_seconds(t: Instant) -> Instant {
    from_db(&to_db(t)).unwrap_or(t)
}

/// "2026-03-01 08:00" in the ward's zone.
pub fn local_text(t: Instant, zone: Tz) -> String {
    t.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    /// The fast path reads exactly what the RFC 3339 parser reads, and refuses what it
    /// refuses.
    #[test]
    fn stored_form_agrees_with_the_rfc3339_parser() {
        let chrono_way = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        };
        for s in [
            "2026-03-01T07:00:00Z",
            "1999-12-31T23:59:59Z",
            "2024-02-29T12:30:05Z",
            "2023-02-29T12:30:05Z",
            "2026-13-01T07:00:00Z",
            "2026-03-32T07:00:00Z",
            "2026-03-01T24:00:00Z",
            "2026-03-01T07:60:00Z",
            "2026-03-01T23:59:60Z",
            "2026-03-01T07:00:00+01:00",
            "2026-03-01T07:00:00.5Z",
            "2026-03-01 07:00:00Z",
            "2026-03-01T07:0a:00Z",
            "+026-03-01T07:00:00Z",
            "",
        ] {
            assert_eq!(from_db(s), chrono_way(s), "{s}");
            if let Some(t) = stored_form(s) {
                assert_eq!(to_db(t), s, "round trip");
            }
        }
        let mut t = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap();
        while chrono::Datelike::year(&t) < 2040 {
            let s = to_db(t);
            assert_eq!(stored_form(&s), chrono_way(&s), "{s}");
            t += chrono::Duration::seconds(86_400 * 3 + 3_601 * 5 + 7);
        }
    }

    use super::*;

    const AMS: Tz = chrono_tz::Europe::Amsterdam;

    #[test]
    fn local_and_offset_forms() {
        let a = parse_time("2026-03-01 08:00", AMS).unwrap();
        assert_eq!(to_db(a), "2026-03-01T07:00:00Z");
        let b = parse_time("2026-03-01T08:00:00+01:00", AMS).unwrap();
        assert_eq!(a, b);
        let c = parse_time("2026-03-01T07:00:00Z", AMS).unwrap();
        assert_eq!(a, c);
    }

    #[test]
    fn daylight_saving_gaps_and_overlaps_are_refused() {
        assert!(matches!(
            parse_time("2026-03-29 02:30", AMS),
            Err(TimeError::Skipped { .. })
        ));
        let e = parse_time("2026-10-25 02:30", AMS).unwrap_err();
        assert!(matches!(e, TimeError::Ambiguous { .. }));
        assert!(e.to_string().contains("+02:00"), "{e}");
        // With the offset the same wall time is accepted.
        assert!(parse_time("2026-10-25T02:30:00+01:00", AMS).is_ok());
    }

    #[test]
    fn impossible_dates_are_named() {
        assert!(matches!(
            parse_time("2026-02-30 08:00", AMS),
            Err(TimeError::NoSuchDate(_))
        ));
        assert!(matches!(
            parse_date("2026-02-30"),
            Err(TimeError::NoSuchDate(_))
        ));
        assert!(matches!(
            parse_date("30-02-2026"),
            Err(TimeError::DateFormat(_))
        ));
        assert!(matches!(
            parse_time("tomorrow", AMS),
            Err(TimeError::Format(_))
        ));
        assert!(matches!(parse_time("", AMS), Err(TimeError::Format(_))));
    }

    #[test]
    fn leap_seconds_are_refused_in_every_form() {
        let z = chrono_tz::Europe::Amsterdam;
        for s in [
            "2016-12-31T23:59:60Z",
            "2016-12-31T23:59:60.5Z",
            "2017-01-01T00:59:60+01:00",
            "2026-03-01 08:59:60",
            "2026-03-01T08:59:60",
        ] {
            assert!(
                matches!(parse_time(s, z), Err(TimeError::LeapSecond(_))),
                "{s}: {:?}",
                parse_time(s, z)
            );
        }
        assert!(parse_time("2026-03-01 08:59:59", z).is_ok());
    }

    #[test]
    fn future_tolerance() {
        let now = parse_time("2026-03-01 08:00", AMS).unwrap();
        let ok = now + chrono::Duration::minutes(5);
        let late = now + chrono::Duration::minutes(6);
        assert!(check_not_future(ok, now, AMS).is_ok());
        assert!(check_not_future(late, now, AMS).is_err());
    }

    fn at(s: &str) -> Instant {
        parse_time(s, AMS).unwrap()
    }

    #[test]
    fn a_clock_time_is_the_latest_that_has_passed() {
        let now = at("2026-12-02 15:00");
        assert_eq!(parse_time_at("14:05", AMS, now), Ok(at("2026-12-02 14:05")));
        assert_eq!(
            parse_time_at(" 9:05 ", AMS, now),
            Ok(at("2026-12-02 09:05"))
        );
        assert_eq!(parse_time_at("15:00", AMS, now), Ok(now));
        // Still to come today: yesterday's.
        assert_eq!(parse_time_at("16:30", AMS, now), Ok(at("2026-12-01 16:30")));
        // A few minutes ahead (another clock) is still today's.
        assert_eq!(parse_time_at("15:04", AMS, now), Ok(at("2026-12-02 15:04")));
        assert_eq!(parse_time_at("15:06", AMS, now), Ok(at("2026-12-01 15:06")));
        // A full date and time works as before.
        assert_eq!(
            parse_time_at("2026-11-30 16:30", AMS, now),
            Ok(at("2026-11-30 16:30"))
        );
        for bad in [
            "24:00", "14:5", "14:60", "1405", "114:05", "14:05:00", ":05",
        ] {
            assert!(parse_time_at(bad, AMS, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_clock_time_around_midnight() {
        let now = at("2026-12-03 00:10");
        assert_eq!(parse_time_at("23:55", AMS, now), Ok(at("2026-12-02 23:55")));
        assert_eq!(parse_time_at("00:05", AMS, now), Ok(at("2026-12-03 00:05")));
        assert_eq!(parse_time_at("00:15", AMS, now), Ok(at("2026-12-03 00:15")));
        assert_eq!(parse_time_at("00:20", AMS, now), Ok(at("2026-12-02 00:20")));
        // Just before midnight, a time just after it is yesterday's: 24 h back, never ahead.
        let now = at("2026-12-02 23:58");
        assert_eq!(parse_time_at("00:01", AMS, now), Ok(at("2026-12-02 00:01")));
        // The ward's midnight, not UTC's (Amsterdam is UTC+1 in December).
        let now = at("2026-12-03 00:30");
        assert_eq!(
            to_db(parse_time_at("23:40", AMS, now).unwrap()),
            "2026-12-02T22:40:00Z"
        );
    }

    #[test]
    fn a_clock_time_across_daylight_saving() {
        // Spring: 02:00-03:00 did not happen on 29 March 2026.
        let now = at("2026-03-29 04:00");
        assert!(matches!(
            parse_time_at("02:30", AMS, now),
            Err(TimeError::Skipped { .. })
        ));
        assert_eq!(parse_time_at("01:30", AMS, now), Ok(at("2026-03-29 01:30")));
        assert_eq!(parse_time_at("03:30", AMS, now), Ok(at("2026-03-29 03:30")));
        // Before the gap, 02:30 is yesterday's, which existed.
        let now = at("2026-03-29 01:00");
        assert_eq!(parse_time_at("02:30", AMS, now), Ok(at("2026-03-28 02:30")));
        // Autumn: 02:30 happened twice on 25 October 2026.
        let first = parse_time("2026-10-25T02:40:00+02:00", AMS).unwrap();
        assert_eq!(
            parse_time_at("02:30", AMS, first),
            parse_time("2026-10-25T02:30:00+02:00", AMS),
            "only the first 02:30 has passed"
        );
        let second = parse_time("2026-10-25T02:40:00+01:00", AMS).unwrap();
        assert!(matches!(
            parse_time_at("02:30", AMS, second),
            Err(TimeError::Ambiguous { .. })
        ));
        let early = parse_time("2026-10-25T01:00:00+02:00", AMS).unwrap();
        assert_eq!(
            parse_time_at("02:30", AMS, early),
            Ok(at("2026-10-24 02:30"))
        );
        // Yesterday's 12:00 is a wall-clock day back: 25 h on the day the clocks went back.
        let after = at("2026-10-25 12:00");
        assert_eq!(
            after - parse_time_at("12:00", AMS, at("2026-10-25 11:00")).unwrap(),
            chrono::Duration::hours(25)
        );
    }

    #[test]
    fn a_bad_time_is_explained_in_a_nurses_words() {
        let e = parse_time_at("14h05", AMS, at("2026-12-02 15:00")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"14h05\" is not a time: write a time like 14:05 or 2026-03-01 14:05"
        );
        assert!(!e.to_string().to_lowercase().contains("rfc"));
    }

    #[test]
    fn spoken_times() {
        let now = at("2026-12-03 09:00");
        assert_eq!(spoken(at("2026-12-02 14:05"), AMS, now), "Wed 2 Dec 14:05");
        assert_eq!(
            spoken(at("2025-12-31 23:00"), AMS, now),
            "Wed 31 Dec 2025 23:00"
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = parse_time(&s, AMS);
            let _ = parse_date(&s);
        }

        /// Whatever is accepted reads back from the stored form as the same instant.
        #[test]
        fn accepted_times_survive_the_stored_form(
            d in 1u32..=28, h in 0u32..=23, m in 0u32..=59, sec in 0u32..=60, z in 0usize..3
        ) {
            let s = [
                format!("2016-12-{d:02}T{h:02}:{m:02}:{sec:02}Z"),
                format!("2016-12-{d:02}T{h:02}:{m:02}:{sec:02}+05:30"),
                format!("2016-12-{d:02} {h:02}:{m:02}:{sec:02}"),
            ][z].clone();
            if let Ok(t) = parse_time(&s, AMS) {
                proptest::prop_assert_eq!(from_db(&to_db(t)), Some(whole_seconds(t)));
                proptest::prop_assert!(!to_db(t).contains(":60"));
            }
        }
    }
}
