//! Patient detail: header, rate and NRS charts, the entry timeline.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph};

use super::{Theme, safe};
use crate::domain::record::age_on;
use crate::domain::time::local_text;
use crate::report::num;
use crate::tui::app::App;
use crate::tui::view::DetailView;

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(d) = &app.detail else { return };
    let chart_h = if area.height >= 30 { 12 } else { 7 };
    // Each header line is a list of parts; a line breaks only between parts, so that
    // "disease 6.9 y" is never cut in two.
    let width = usize::from(area.width.max(1));
    let head_lines: Vec<(usize, String)> = header_lines(app, d)
        .into_iter()
        .enumerate()
        .flat_map(|(i, parts)| pack(&parts, width).into_iter().map(move |l| (i, l)))
        .collect();
    let [head, charts, timeline] = Layout::vertical([
        Constraint::Length(head_lines.len() as u16),
        Constraint::Length(chart_h),
        Constraint::Min(3),
    ])
    .areas(area);
    let lines: Vec<Line> = head_lines
        .into_iter()
        .map(|(i, l)| {
            if i == 0 {
                Line::from(Span::styled(l, theme.title()))
            } else {
                Line::from(l)
            }
        })
        .collect();
    f.render_widget(Paragraph::new(lines), head);
    let [rate_area, nrs_area] =
        Layout::horizontal([Constraint::Percentage(66), Constraint::Percentage(34)]).areas(charts);
    rate_chart(f, rate_area, d, theme);
    nrs_chart(f, nrs_area, d);
    entries(f, timeline, app, d, theme);
}

/// Parts joined by " · " into lines of at most `width` columns; a line that follows starts
/// with "  · ", and a part wider than a whole line is wrapped at its words.
pub fn pack(parts: &[String], width: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for part in parts.iter().filter(|p| !p.is_empty()) {
        if line.is_empty() {
            line = part.clone();
        } else if line.width() + 3 + part.width() <= width {
            line.push_str(" · ");
            line.push_str(part);
        } else {
            lines.push(std::mem::take(&mut line));
            line = format!("  · {part}");
        }
        if line.width() > width {
            let mut w = super::wrap_words(&line, width, 4);
            line = w.pop().unwrap_or_default();
            lines.extend(w);
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn header_lines(app: &App, d: &DetailView) -> Vec<Vec<String>> {
    let p = &d.record.patient.data;
    let today = app.now.with_timezone(&app.cfg.timezone).date_naive();
    let mut l1 = vec![
        safe(&p.name),
        format!("MRN {}", safe(&p.mrn)),
        format!("{} y", age_on(p.birth_date, today)),
        p.sex.to_string(),
    ];
    if let Some(w) = p.weight_kg {
        l1.push(format!("{} kg", num(w)));
    }
    if let Some(t) = p.crps_type {
        l1.push(format!("CRPS {t}"));
    }
    if let Some(l) = &p.limb {
        l1.push(safe(l));
    }
    if let Some(y) = d.record.disease_years(app.now) {
        l1.push(format!("disease {} y", num((y * 10.0).round() / 10.0)));
    }
    let (l2, l3) = match &d.status {
        Some(s) => {
            let mut l2 = vec![format!("Course {} {}", s.course_id, s.state)];
            // "day N of M" by the course's own protocol version, not config.toml's.
            let days = d.record.latest_course().map(|c| c.protocol().duration_days);
            if let (Some(w), Some(days)) = (d.watch.as_ref(), days) {
                l2.push(format!("day {}/{days}", w.day));
            }
            l2.extend([
                format!(
                    "rate {} mg/h (max {})",
                    num(s.current_rate_mg_h),
                    num(s.protocol_max_rate_mg_h)
                ),
                format!("dose {} mg", num(s.total_dose_mg)),
                format!("{} h at max", num(s.hours_at_max)),
                format!("side effects {}", s.side_effects),
            ]);
            let o = |v: Option<u8>| v.map_or("-".to_string(), |v| v.to_string());
            let r = |v: Option<bool>| match v {
                Some(true) => "responder",
                Some(false) => "non-responder",
                None => "unknown",
            };
            let mut l3 = vec![
                format!("NRS T0 {}", o(s.nrs_t0)),
                format!("T1 {}", o(s.nrs_t1)),
                format!("T2 {}", o(s.nrs_t2)),
                format!("T1 {}", r(s.t1_responder)),
                format!("T2 {}", r(s.t2_responder)),
            ];
            if let (Some(w), None) = (&s.t2_window, s.t2_responder) {
                l3.push(format!("T2 visit {} to {}", w.from, w.to));
            }
            (l2, l3)
        }
        None => (vec!["No course yet (c starts one).".to_string()], vec![]),
    };
    vec![l1, l2, l3]
}

fn rate_chart(f: &mut Frame, area: Rect, d: &DetailView, theme: &Theme) {
    let x_max = d.span_hours.max(1.0);
    let max_line = [(0.0, d.max_rate), (x_max, d.max_rate)];
    let datasets = vec![
        // The maximum is dotted so that it stays distinct from the rate without colour.
        Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Line)
            .style(theme.alert())
            .data(&max_line),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.ok())
            .data(&d.rate_line),
    ];
    let chart = Chart::new(datasets)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title("Rate mg/h, ··· maximum (hours since start)"),
        )
        .x_axis(
            Axis::default()
                .bounds([0.0, x_max])
                .labels(vec![Span::raw("0"), Span::raw(format!("{x_max:.0}"))]),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, d.max_rate + 1.0])
                .labels(vec![Span::raw("0"), Span::raw(num(d.max_rate))]),
        );
    f.render_widget(chart, area);
}

fn nrs_chart(f: &mut Frame, area: Rect, d: &DetailView) {
    let x_max = d.span_hours.max(1.0);
    let datasets = vec![
        Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .data(&d.nrs_points),
    ];
    let chart = Chart::new(datasets)
        .block(Block::default().borders(Borders::ALL).title("NRS"))
        .x_axis(
            Axis::default()
                .bounds([0.0, x_max])
                .labels(vec![Span::raw("0"), Span::raw(format!("{x_max:.0}"))]),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, 10.0])
                .labels(vec![Span::raw("0"), Span::raw("10")]),
        );
    f.render_widget(chart, area);
}

/// The timeline, newest first. A row longer than the screen is cut at a word and ends in
/// "…"; the highlighted row shows all of it, wrapped under its description.
fn entries(f: &mut Frame, area: Rect, app: &App, d: &DetailView, theme: &Theme) {
    use unicode_width::UnicodeWidthStr;
    let width = usize::from(area.width.max(1));
    let inner_h = area.height.saturating_sub(1) as usize;
    let row_text = |row: &crate::tui::view::TimelineRow| {
        let e = &row.entry;
        let mut marks = Vec::new();
        if e.late {
            marks.push("LATE".to_string());
        }
        if let Some(prev) = e.supersedes {
            marks.push(format!("amends {prev}"));
        }
        if !row.current {
            marks.push("superseded".into());
        }
        if let Some(v) = &e.void {
            marks.push(format!("VOIDED: {}", safe(&v.reason)));
        }
        let head = format!(
            "{:>5} {} {:<4} ",
            e.id,
            local_text(e.happened_at, app.cfg.timezone),
            safe(&e.recorded_by),
        );
        let what = format!(
            "{}{}",
            safe(&e.data.describe()),
            if marks.is_empty() {
                String::new()
            } else {
                format!("  [{}]", marks.join("; "))
            }
        );
        super::hang(&head, &what, width)
    };
    let selected_rows = d
        .timeline
        .get(app.detail_sel)
        .map_or(1, |r| row_text(r).len())
        .min(inner_h.max(1));
    let start = app
        .detail_sel
        .saturating_sub(inner_h.saturating_sub(selected_rows));
    let mut lines = Vec::new();
    for (i, row) in d.timeline.iter().enumerate().skip(start) {
        if lines.len() >= inner_h {
            break;
        }
        let e = &row.entry;
        let mut style = Style::new();
        if e.void.is_some() {
            style = style.add_modifier(Modifier::CROSSED_OUT).patch(theme.dim());
        } else if !row.current {
            style = style.patch(theme.dim());
        }
        if i == app.detail_sel {
            style = style.patch(theme.selected());
        }
        let mut wrapped = row_text(row);
        if i != app.detail_sel && wrapped.len() > 1 {
            let mut first = wrapped.swap_remove(0);
            while first.width() + 2 > width {
                match first.rsplit_once(' ') {
                    Some((head, _)) => first = head.to_string(),
                    None => break,
                }
            }
            first.push_str(" …");
            wrapped = vec![first];
        }
        for l in wrapped {
            if lines.len() < inner_h {
                lines.push(Line::from(Span::styled(l, style)));
            }
        }
    }
    let title = format!("Entries ({}), newest first", d.timeline.len());
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::TOP).title(title)),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::pack;

    #[test]
    fn parts_are_never_cut() {
        let parts: Vec<String> = ["Bram Jansen", "MRN 100871", "61 y", "disease 10.8 y"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            pack(&parts, 40),
            ["Bram Jansen · MRN 100871 · 61 y", "  · disease 10.8 y"]
        );
        assert_eq!(pack(&parts, 80).len(), 1);
    }
}
