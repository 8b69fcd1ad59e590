//! The shift handover: one block per bed at a moment, computed once from the loaded records
//! and read by the screen, the Markdown sheet and the PDF alike, so they cannot disagree.

use chrono::Duration;
use chrono_tz::Tz;
use serde::Serialize;

use crate::domain::entry::EntryData;
use crate::domain::record::{CourseState, PatientRecord};
use crate::domain::time::Instant;
use crate::domain::watch::watch;

/// The window in hours a handover looks back and ahead: a shift, up to a few days.
pub const HOURS_MIN: u32 = 1;
pub const HOURS_MAX: u32 = 72;
/// The screen's window and the command's default: one shift.
pub const HOURS_DEFAULT: u32 = 8;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Handover {
    pub at: String,
    pub hours: u32,
    pub blocks: Vec<Block>,
    pub follow_up: Vec<FollowUp>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Block {
    pub bed: Option<String>,
    pub name: String,
    pub mrn: String,
    pub birth_date: String,
    pub day: i64,
    pub days: u32,
    pub protocol: String,
    pub rate: String,
    /// When the running rate was set (the last change, not the last check); None before any.
    pub rate_since: Option<String>,
    pub nrs_now: Option<String>,
    /// "T0 7 → now 4 (falling over the shift)".
    pub nrs_trend: Option<String>,
    pub side_effects: Vec<String>,
    pub flags: Vec<String>,
    pub due: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FollowUp {
    pub name: String,
    pub mrn: String,
    pub what: String,
}

fn hm(t: Instant, zone: Tz) -> String {
    t.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string()
}

/// The handover of every active course at `now`, looking `hours` back and ahead.
pub fn build(records: &[PatientRecord], now: Instant, hours: u32, zone: Tz) -> Handover {
    let span = Duration::hours(i64::from(hours));
    let mut blocks = Vec::new();
    let mut follow_up = Vec::new();
    for rec in records {
        let Some(course) = rec.latest_course() else {
            continue;
        };
        let scores = rec.scores();
        let p = course.protocol();
        let name = rec.patient.data.name.clone();
        let mrn = rec.patient.data.mrn.clone();
        match course.state() {
            CourseState::Active => {
                let Some(w) = watch(&course, &scores, now) else {
                    continue;
                };
                let Some(start) = course.started_at() else {
                    continue;
                };
                let bed = match course.start.map(|e| &e.data) {
                    Some(EntryData::CourseStart { bed: Some(b) }) => Some(b.clone()),
                    _ => None,
                };
                let mut points = course.rate_points();
                points.retain(|r| r.at <= now);
                points.sort_by_key(|r| r.at);
                let mut since = None;
                let mut prev = None;
                for r in &points {
                    if prev != Some(r.rate) {
                        since = Some(r.at);
                        prev = Some(r.rate);
                    }
                }
                let t0 = course
                    .outcome(&scores)
                    .and_then(|o| o.timepoints.t0)
                    .map(|s| s.score.get());
                let mut past: Vec<_> = scores.iter().filter(|s| s.at <= now).copied().collect();
                past.sort_by_key(|s| (s.at, s.id));
                let nrs_now = w
                    .last_nrs
                    .map(|s| format!("{} at {}", s.score.get(), hm(s.at, zone)));
                let shift_first = past.iter().find(|s| s.at >= now - span);
                let nrs_trend = w.last_nrs.map(|last| {
                    let dir = match shift_first {
                        Some(f) if f.id != last.id => {
                            let d = match last.score.get().cmp(&f.score.get()) {
                                std::cmp::Ordering::Less => "falling",
                                std::cmp::Ordering::Greater => "rising",
                                std::cmp::Ordering::Equal => "no change",
                            };
                            format!("{d} over the last {hours} h, from {}", f.score.get())
                        }
                        Some(_) => format!("one score in the last {hours} h"),
                        None => format!("no score in the last {hours} h"),
                    };
                    format!(
                        "T0 {} → now {} ({dir})",
                        t0.map_or("-".into(), |v| v.to_string()),
                        last.score.get()
                    )
                });
                let side_effects = course
                    .side_effects
                    .iter()
                    .filter(|e| e.happened_at > now - span && e.happened_at <= now)
                    .filter_map(|e| match &e.data {
                        EntryData::SideEffect {
                            effect,
                            severity,
                            action,
                            ..
                        } => Some(format!(
                            "{} {effect} ({severity}, {action})",
                            hm(e.happened_at, zone)
                        )),
                        _ => None,
                    })
                    .collect();
                let mut flags = Vec::new();
                if w.check_overdue {
                    flags.push("hourly check overdue".to_string());
                }
                if w.nrs_due {
                    flags.push("NRS due".to_string());
                }
                if w.at_max {
                    flags.push(format!("at maximum {} mg/h", p.max_rate_mg_h));
                }
                if t0.is_none() {
                    flags.push("no T0".to_string());
                }
                if points.is_empty() {
                    flags.push("no starting rate".to_string());
                }
                let horizon = now + span;
                let mut due = Vec::new();
                let next_check = w.last_check.unwrap_or(start) + p.check_interval();
                if next_check <= horizon {
                    due.push(format!(
                        "hourly checks: next {}, then every {} min",
                        if next_check <= now {
                            "now (overdue)".to_string()
                        } else {
                            hm(next_check, zone)
                        },
                        p.check_interval_min
                    ));
                }
                let nrs_from = w.last_nrs.map_or(start, |s| s.at.max(start));
                let next_nrs = nrs_from + p.nrs_interval();
                if next_nrs <= horizon {
                    due.push(format!(
                        "NRS {}",
                        if next_nrs <= now {
                            "now (due)".to_string()
                        } else {
                            hm(next_nrs, zone)
                        }
                    ));
                }
                let end = start + p.duration();
                if end <= horizon {
                    due.push(format!("course end {} (T1 NRS at the end)", hm(end, zone)));
                }
                blocks.push(Block {
                    bed,
                    name,
                    mrn,
                    birth_date: rec.patient.data.birth_date.format("%Y-%m-%d").to_string(),
                    day: w.day,
                    days: p.duration_days,
                    protocol: format!("{} (version {})", p.name, course.course.protocol_id),
                    rate: format!("{} mg/h", w.rate),
                    rate_since: since.map(|t| hm(t, zone)),
                    nrs_now,
                    nrs_trend,
                    side_effects,
                    flags,
                    due,
                });
            }
            CourseState::Ended => {
                let Some(o) = course.outcome(&scores) else {
                    continue;
                };
                let Some(win) = o.t2_window else { continue };
                if o.t2.is_responder().is_some() || now > win.to {
                    continue;
                }
                if win.from <= now + span {
                    follow_up.push(FollowUp {
                        name,
                        mrn,
                        what: format!("T2 window {} to {}", hm(win.from, zone), hm(win.to, zone)),
                    });
                }
            }
            CourseState::Cancelled => {}
        }
    }
    // By bed, then those without a bed; the name settles ties.
    blocks.sort_by(|a, b| {
        (a.bed.is_none(), &a.bed, &a.name, &a.mrn).cmp(&(b.bed.is_none(), &b.bed, &b.name, &b.mrn))
    });
    follow_up.sort_by(|a, b| a.what.cmp(&b.what).then_with(|| a.mrn.cmp(&b.mrn)));
    Handover {
        at: hm(now, zone),
        hours,
        blocks,
        follow_up,
    }
}

/// A block as plain lines: the same text on the screen, in Markdown and in the PDF.
pub fn lines(b: &Block) -> Vec<String> {
    let mut out = vec![
        format!(
            "born {} · day {} of {} · {}",
            b.birth_date, b.day, b.days, b.protocol
        ),
        format!(
            "rate {} since {}",
            b.rate,
            b.rate_since.as_deref().unwrap_or("(no rate entered)")
        ),
        format!(
            "NRS now {}{}",
            b.nrs_now.as_deref().unwrap_or("none"),
            b.nrs_trend
                .as_ref()
                .map_or(String::new(), |t| format!(" · {t}"))
        ),
    ];
    if b.side_effects.is_empty() {
        out.push("side effects: none in this window".into());
    } else {
        out.push(format!("side effects: {}", b.side_effects.join("; ")));
    }
    out.push(format!(
        "flags: {}",
        if b.flags.is_empty() {
            "none".to_string()
        } else {
            b.flags.join(", ")
        }
    ));
    if b.due.is_empty() {
        out.push("due: nothing in this window".into());
    } else {
        out.push(format!("due: {}", b.due.join("; ")));
    }
    out
}

pub fn title(b: &Block) -> String {
    format!(
        "Bed {} · {} · MRN {}",
        b.bed.as_deref().unwrap_or("none"),
        b.name,
        b.mrn
    )
}

pub fn markdown(h: &Handover, ward: &str, generated_by: &str) -> String {
    let mut s = format!(
        "# Shift handover, {ward}\n\nAt {} · looking {} h back and ahead · generated by {generated_by}\n\n",
        h.at, h.hours
    );
    if h.blocks.is_empty() {
        s.push_str(crate::strings::HANDOVER_EMPTY);
        s.push_str("\n\n");
    }
    for b in &h.blocks {
        s.push_str(&format!("## {}\n\n", title(b)));
        for l in lines(b) {
            s.push_str(&format!("- {l}\n"));
        }
        s.push('\n');
    }
    if !h.follow_up.is_empty() {
        s.push_str("## Follow-up due\n\n");
        for f in &h.follow_up {
            s.push_str(&format!("- {} · MRN {} · {}\n", f.name, f.mrn, f.what));
        }
        s.push('\n');
    }
    s
}
