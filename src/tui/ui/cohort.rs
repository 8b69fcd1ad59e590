//! The study's cohort table, as `titrate cohort` prints it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::safe;
use crate::tui::app::App;

pub fn draw(f: &mut Frame, body: Rect, app: &App) {
    let lines: Vec<Line> = app
        .cohort
        .iter()
        .skip(app.cohort_scroll)
        .map(|l| Line::from(safe(l)))
        .collect();
    let title = " Cohort: one course per patient, the first ended one (r: date range) ";
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(title)),
        body,
    );
}
