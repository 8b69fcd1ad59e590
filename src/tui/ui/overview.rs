//! The ward overview: one row per active course, what needs attention first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, Tabs};
use unicode_width::UnicodeWidthStr;

use super::{Theme, ago, safe};
use crate::domain::outcome::Responder;
use crate::domain::time::local_text;
use crate::tui::app::{App, Tab};
use crate::tui::view::{ActiveRow, FollowRow};

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let [tabs, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(area);
    let titles = vec![
        format!("Active courses ({})", app.ward.active.len()),
        format!(
            "Follow-up & ended ({})",
            app.ward.follow_up.len() + app.ward.recent.len()
        ),
    ];
    let sel = if app.tab == Tab::Active { 0 } else { 1 };
    f.render_widget(
        Tabs::new(titles)
            .select(sel)
            .highlight_style(theme.selected()),
        tabs,
    );
    match app.tab {
        Tab::Active => active(f, body, app, theme),
        Tab::FollowUp => follow_up(f, body, app, theme),
    }
}

fn flags(r: &ActiveRow, wide: bool) -> Vec<&'static str> {
    let w = &r.watch;
    let mut v = Vec::new();
    if w.check_overdue {
        v.push(if wide { "CHECK OVERDUE" } else { "CHECK" });
    }
    if w.nrs_due {
        v.push(if wide { "NRS DUE" } else { "NRS" });
    }
    if w.at_max {
        v.push(if wide { "AT MAX" } else { "MAX" });
    }
    if w.ends_within_24h {
        v.push(if wide { "ENDS <24H" } else { "END" });
    }
    let pick = |(long, short): (&'static str, &'static str)| if wide { long } else { short };
    if r.t0.is_none() {
        v.push(pick(crate::strings::FLAG_NO_T0));
    }
    if r.no_rate {
        v.push(pick(crate::strings::FLAG_NO_RATE));
    }
    v
}

fn active(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    if app.ward.active.is_empty() {
        f.render_widget(
            Paragraph::new("No active courses. Press / to find a patient, a to add one.")
                .block(Block::default().borders(Borders::TOP)),
            area,
        );
        return;
    }
    let wide = area.width >= 110;
    // The bed column as wide as the longest bed (a bed is how the nurse finds the patient:
    // "Bed 12" and "Bed 13" must not both read "Bed"), up to a cap; the name column gets
    // what is left. Whatever is still too long ends in "…", never cut without a mark.
    let bed_w = app
        .ward
        .active
        .iter()
        .map(|r| safe(&r.bed).width())
        .max()
        .unwrap_or(3)
        .clamp(3, if wide { 12 } else { 8 });
    let fixed: [usize; 9] = if wide {
        [1, bed_w, 0, 5, 6, 11, 11, 3, 3]
    } else {
        [1, bed_w, 0, 4, 5, 10, 11, 2, 2]
    };
    let flags_w = if wide { 36 } else { 15 };
    let spacing = fixed.len();
    let name_w = usize::from(area.width)
        .saturating_sub(fixed.iter().sum::<usize>() + flags_w + spacing)
        .max(8);
    let same_name = |name: &str| app.ward.active.iter().filter(|r| r.name == name).count() > 1;
    let header = Row::new(vec![
        "",
        "Bed",
        "Patient",
        "Day",
        "Left",
        "Rate mg/h",
        "NRS",
        "T0",
        "SE",
        "Flags",
    ])
    .style(theme.title());
    let rows: Vec<Row> = app
        .ward
        .active
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let w = &r.watch;
            let attention = w.needs_attention();
            let name = if wide {
                format!("{} · {}", safe(&r.name), safe(&r.mrn))
            } else {
                safe(&r.name)
            };
            // Two patients of one name on the ward are told apart by their MRN, kept
            // whole when the name is cut.
            let name = if !wide && same_name(&r.name) {
                let mrn = format!(" · {}", safe(&r.mrn));
                format!("{}{mrn}", clip(&name, name_w.saturating_sub(mrn.width())))
            } else {
                clip(&name, name_w)
            };
            let nrs = w.last_nrs.map_or("-".into(), |s| {
                format!("{} ({})", s.score, ago(app.now - s.at))
            });
            let left = if w.hours_left >= 0.0 {
                format!("{:.0} h", w.hours_left)
            } else {
                "over".into()
            };
            let mut style = if attention {
                theme.alert()
            } else {
                Style::new()
            };
            if i == app.selected && !app.selection_lost {
                style = style.patch(theme.selected());
            }
            Row::new(vec![
                Cell::from(if attention { "!" } else { " " }),
                Cell::from(clip(&safe(&r.bed), bed_w)),
                Cell::from(name),
                Cell::from(format!("{}/{}", w.day, r.days)),
                Cell::from(left),
                Cell::from(format!("{} ({:.0}%)", w.rate, w.share_of_max * 100.0)),
                Cell::from(nrs),
                Cell::from(r.t0.map_or("-".into(), |v| v.to_string())),
                Cell::from(w.side_effects_24h.to_string()),
                Cell::from(flags(r, wide).join(" ")),
            ])
            .style(style)
        })
        .collect();
    let mut widths: Vec<Constraint> = fixed
        .iter()
        .map(|&w| Constraint::Length(w as u16))
        .collect();
    widths[2] = Constraint::Min(name_w as u16);
    widths.push(Constraint::Length(flags_w as u16));
    f.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        area,
    );
}

fn status_word(r: Responder) -> &'static str {
    match r.is_responder() {
        Some(true) => "responder",
        Some(false) => "non-responder",
        None => "unknown",
    }
}

fn follow_up(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let zone = app.cfg.timezone;
    let date = |t| local_text(t, zone).chars().take(10).collect::<String>();
    let mut lines: Vec<Line> = vec![Line::from(Span::styled(
        "T2 follow-up due (window open or passed)",
        theme.title(),
    ))];
    let row = |r: &FollowRow, extra: String, i: usize| {
        let text = format!(
            "{:<22} {:<10} ended {}  {}",
            clip(&safe(&r.name), 22),
            clip(&safe(&r.mrn), 10),
            date(r.ended),
            extra
        );
        let mut style = Style::new();
        if i == app.selected && !app.selection_lost {
            style = theme.selected();
        }
        (text, style)
    };
    let mut i = 0;
    if app.ward.follow_up.is_empty() {
        lines.push(Line::from("  none"));
    }
    for r in &app.ward.follow_up {
        let overdue = app.now > r.t2_to;
        let extra = format!(
            "T2 {} to {}{}",
            date(r.t2_from),
            date(r.t2_to),
            if overdue { "  OVERDUE" } else { "" }
        );
        let (t, mut s) = row(r, extra, i);
        if overdue {
            s = s.patch(theme.alert());
        }
        lines.push(Line::from(Span::styled(t, s)));
        i += 1;
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Ended in the last 14 days",
        theme.title(),
    )));
    if app.ward.recent.is_empty() {
        lines.push(Line::from("  none"));
    }
    for r in &app.ward.recent {
        let (t, s) = row(r, format!("T1 {}", status_word(r.t1)), i);
        lines.push(Line::from(Span::styled(t, s)));
        i += 1;
    }
    f.render_widget(Paragraph::new(lines), area);
}

/// `s` in at most `w` columns: whole, or cut with "…" as its last column.
fn clip(s: &str, w: usize) -> String {
    if s.width() <= w {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in s.chars() {
        let cw = unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0);
        if used + cw + 1 > w {
            break;
        }
        out.push(ch);
        used += cw;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::clip;

    #[test]
    fn a_cut_value_ends_in_an_ellipsis() {
        assert_eq!(clip("Bram Jansen", 20), "Bram Jansen");
        assert_eq!(clip("Maximiliaan Alexander", 12), "Maximiliaan…");
        assert_eq!(clip("Bed 12 window side", 8), "Bed 12 …");
    }
}
