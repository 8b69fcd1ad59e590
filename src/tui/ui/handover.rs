//! The shift handover on screen: the blocks `report::handover::build` made, as the sheet
//! prints them (w writes that sheet).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::safe;
use crate::report::handover;
use crate::tui::app::App;

/// The screen's lines, titles bold: also what scrolling counts.
pub fn lines(app: &App) -> Vec<(bool, String)> {
    let Some(h) = &app.handover else {
        return vec![];
    };
    let mut out = Vec::new();
    if h.blocks.is_empty() {
        out.push((false, crate::strings::HANDOVER_EMPTY.to_string()));
    }
    for b in &h.blocks {
        out.push((true, handover::title(b)));
        for l in handover::lines(b) {
            out.push((false, format!("  {l}")));
        }
        out.push((false, String::new()));
    }
    if !h.follow_up.is_empty() {
        out.push((true, "Follow-up due".into()));
        for f in &h.follow_up {
            out.push((false, format!("  {} · MRN {} · {}", f.name, f.mrn, f.what)));
        }
    }
    out
}

/// A date and the time after it ("2026-12-03 14:56") joined by a no-break space, so that a
/// wrap never puts them on two lines.
fn keep_times_together(s: &str) -> String {
    let b = s.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let date_at = |i: usize| {
        (0..4).all(|k| digit(i + k))
            && b.get(i + 4) == Some(&b'-')
            && digit(i + 5)
            && digit(i + 6)
            && b.get(i + 7) == Some(&b'-')
            && digit(i + 8)
            && digit(i + 9)
    };
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if date_at(i) && b.get(i + 10) == Some(&b' ') && digit(i + 11) && digit(i + 12) {
            out.push_str(&s[i..i + 10]);
            out.push('\u{a0}');
            i += 11;
            continue;
        }
        let ch = s[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

pub fn draw(f: &mut Frame, body: Rect, app: &App) {
    // Wrapped at words inside the borders, continuation lines indented under their block.
    let inner = usize::from(body.width.saturating_sub(2)).max(1);
    let shown: Vec<Line> = lines(app)
        .into_iter()
        .skip(app.handover_scroll)
        .flat_map(|(bold, l)| {
            let style = if bold {
                Style::new().add_modifier(Modifier::BOLD)
            } else {
                Style::new()
            };
            super::wrap_words(&keep_times_together(&safe(&l)), inner, 4)
                .into_iter()
                // Back to a plain space on the screen, once the wrap has kept them together.
                .map(move |w| Line::styled(w.replace('\u{a0}', " "), style))
        })
        .collect();
    let title = match &app.handover {
        Some(h) => format!(
            " Shift handover at {}, next {} h (w: write sheet) ",
            h.at, h.hours
        ),
        None => " Shift handover ".to_string(),
    };
    f.render_widget(
        Paragraph::new(shown)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(title)),
        body,
    );
}

#[cfg(test)]
mod tests {
    use super::keep_times_together;

    #[test]
    fn a_date_and_its_time_stay_together() {
        assert_eq!(
            keep_times_together("NRS 2026-12-03 14:56 (from 7)"),
            "NRS 2026-12-03\u{a0}14:56 (from 7)"
        );
        assert_eq!(
            keep_times_together("day 2 of 7 · 14:56"),
            "day 2 of 7 · 14:56"
        );
        assert_eq!(keep_times_together("ends 2026-12-03"), "ends 2026-12-03");
    }
}
