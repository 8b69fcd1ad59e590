//! Find a patient by name or MRN, with or without an active course.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::{Theme, safe};
use crate::tui::app::App;

pub fn draw(f: &mut Frame, body: Rect, app: &App, theme: &Theme) {
    let [input, list] = Layout::vertical([Constraint::Length(3), Constraint::Min(1)]).areas(body);
    f.render_widget(
        Paragraph::new(format!("{}▏", safe(&app.query))).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Find patient: name or MRN "),
        ),
        input,
    );
    let mut lines = Vec::new();
    if app.hits.is_empty() {
        lines.push(Line::from("  no patient matches"));
    }
    let h = list.height as usize;
    let start = app.hit_sel.saturating_sub(h.saturating_sub(1));
    for (i, hit) in app.hits.iter().enumerate().skip(start).take(h) {
        let text = format!(
            "{:<28} MRN {:<12} born {}  {}",
            safe(&hit.name).chars().take(28).collect::<String>(),
            safe(&hit.mrn),
            hit.birth,
            hit.state
        );
        let style = if i == app.hit_sel && !app.hit_lost {
            theme.selected()
        } else {
            Style::new()
        };
        lines.push(Line::from(Span::styled(text, style)));
    }
    f.render_widget(Paragraph::new(lines), list);
}
