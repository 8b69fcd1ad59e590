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
    let head_lines = header_lines(app, d);
    // Each header line takes as many rows as it wraps to at this width.
    let width = usize::from(area.width.max(1));
    let head_rows: usize = head_lines
        .iter()
        .map(|l| {
            l.chars()
                .count()
                .max(1)
                .div_ceil(width.saturating_sub(6).max(1))
        })
        .sum();
    let [head, charts, timeline] = Layout::vertical([
        Constraint::Length(head_rows as u16),
        Constraint::Length(chart_h),
        Constraint::Min(3),
    ])
    .areas(area);
    let lines: Vec<Line> = head_lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                Line::from(Span::styled(l, theme.title()))
            } else {
                Line::from(l)
            }
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: true }),
        head,
    );
    let [rate_area, nrs_area] =
        Layout::horizontal([Constraint::Percentage(66), Constraint::Percentage(34)]).areas(charts);
    rate_chart(f, rate_area, d, theme);
    nrs_chart(f, nrs_area, d);
    entries(f, timeline, app, d, theme);
}

fn header_lines(app: &App, d: &DetailView) -> Vec<String> {
    let p = &d.record.patient.data;
    let today = app.now.with_timezone(&app.cfg.timezone).date_naive();
    let mut l1 = format!(
        "{} · MRN {} · {} y · {}",
        safe(&p.name),
        safe(&p.mrn),
        age_on(p.birth_date, today),
        p.sex
    );
    if let Some(w) = p.weight_kg {
        l1.push_str(&format!(" · {} kg", num(w)));
    }
    if let Some(t) = p.crps_type {
        l1.push_str(&format!(" · CRPS {t}"));
    }
    if let Some(l) = &p.limb {
        l1.push_str(&format!(" · {}", safe(l)));
    }
    if let Some(y) = d.record.disease_years(app.now) {
        l1.push_str(&format!(" · disease {} y", num((y * 10.0).round() / 10.0)));
    }
    let (l2, l3) = match &d.status {
        Some(s) => {
            // "day N of M" by the course's own protocol version, not config.toml's.
            let days = d.record.latest_course().map(|c| c.protocol().duration_days);
            let day = match (&d.watch, days) {
                (Some(w), Some(days)) => format!(" · day {}/{days}", w.day),
                _ => String::new(),
            };
            let l2 = format!(
                "Course {} {}{} · rate {} mg/h (max {}) · dose {} mg · {} h at max · side effects {}",
                s.course_id,
                s.state,
                day,
                num(s.current_rate_mg_h),
                num(s.protocol_max_rate_mg_h),
                num(s.total_dose_mg),
                num(s.hours_at_max),
                s.side_effects
            );
            let o = |v: Option<u8>| v.map_or("-".to_string(), |v| v.to_string());
            let r = |v: Option<bool>| match v {
                Some(true) => "responder",
                Some(false) => "non-responder",
                None => "unknown",
            };
            let mut l3 = format!(
                "NRS T0 {} · T1 {} · T2 {} · T1 {} · T2 {}",
                o(s.nrs_t0),
                o(s.nrs_t1),
                o(s.nrs_t2),
                r(s.t1_responder),
                r(s.t2_responder)
            );
            if let (Some(w), None) = (&s.t2_window, s.t2_responder) {
                l3.push_str(&format!(" · T2 visit {} to {}", w.from, w.to));
            }
            (l2, l3)
        }
        None => ("No course yet (c starts one).".to_string(), String::new()),
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

fn entries(f: &mut Frame, area: Rect, app: &App, d: &DetailView, theme: &Theme) {
    let inner_h = area.height.saturating_sub(1) as usize;
    let start = app.detail_sel.saturating_sub(inner_h.saturating_sub(1));
    let mut lines = Vec::new();
    for (i, row) in d.timeline.iter().enumerate().skip(start).take(inner_h) {
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
        let text = format!(
            "{:>5} {} {:<4} {}{}",
            e.id,
            local_text(e.happened_at, app.cfg.timezone),
            safe(&e.recorded_by),
            safe(&e.data.describe()),
            if marks.is_empty() {
                String::new()
            } else {
                format!("  [{}]", marks.join("; "))
            }
        );
        let mut style = Style::new();
        if e.void.is_some() {
            style = style.add_modifier(Modifier::CROSSED_OUT).patch(theme.dim());
        } else if !row.current {
            style = style.patch(theme.dim());
        }
        if i == app.detail_sel {
            style = style.patch(theme.selected());
        }
        lines.push(Line::from(Span::styled(text, style)));
    }
    let title = format!("Entries ({}), newest first", d.timeline.len());
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::TOP).title(title)),
        area,
    );
}
