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

pub fn draw(f: &mut Frame, body: Rect, app: &App) {
    let shown: Vec<Line> = lines(app)
        .into_iter()
        .skip(app.handover_scroll)
        .map(|(bold, l)| {
            let style = if bold {
                Style::new().add_modifier(Modifier::BOLD)
            } else {
                Style::new()
            };
            Line::styled(safe(&l), style)
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
