//! The study's cohort table, as `titrate cohort` prints it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::{hang, safe};
use crate::tui::app::App;

pub fn draw(f: &mut Frame, body: Rect, app: &App) {
    // A value that does not fit wraps under its own column, never under the labels.
    let inner = usize::from(body.width.saturating_sub(2)).max(1);
    let lines: Vec<Line> = app
        .cohort
        .iter()
        .skip(app.cohort_scroll)
        .flat_map(|l| {
            let l = safe(l);
            let (label, value) = split_label(&l);
            hang(label, value, inner)
        })
        .map(Line::from)
        .collect();
    let title = " Cohort: one course per patient, the first ended one (r: date range) ";
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(title)),
        body,
    );
}

/// "  Label      value": the label with its padding, and the value after the run of spaces
/// that pads it. A line with no such column is all value.
fn split_label(l: &str) -> (&str, &str) {
    let body = l.trim_start();
    match body.find("  ") {
        Some(i) => {
            let lead = l.len() - body.len();
            let after = &body[i..];
            let value = after.trim_start();
            l.split_at(lead + i + (after.len() - value.len()))
        }
        None => ("", l),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn labels_and_values_are_told_apart() {
        assert_eq!(
            super::split_label("  NRS T0, median    7.5 (IQR 1)"),
            ("  NRS T0, median    ", "7.5 (IQR 1)")
        );
        assert_eq!(super::split_label("Cohort: all"), ("", "Cohort: all"));
    }
}
