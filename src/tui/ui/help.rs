//! Every key of the current screen, from the same tables that dispatch them.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::centered;
use crate::tui::app::{App, Screen};
use crate::tui::keys;

pub fn draw(f: &mut Frame, body: Rect, app: &App) {
    let table = match app.screen {
        Screen::Overview => keys::OVERVIEW,
        Screen::Detail => keys::DETAIL,
        Screen::Search => keys::SEARCH,
        Screen::SignIn | Screen::Setup => &[],
    };
    let mut lines: Vec<Line> = table
        .iter()
        .map(|b| Line::from(format!(" {:<8} {}", b.label, b.what)))
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(" In a form:"));
    lines.extend(
        keys::FORM
            .iter()
            .map(|(k, what)| Line::from(format!(" {k:<12} {what}"))),
    );
    lines.push(Line::from(
        " Ctrl-C   quit (asks first if a form has unsaved input)",
    ));
    let area = centered(body, 60, lines.len() as u16 + 2);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Keys (any key closes) "),
        ),
        area,
    );
}
