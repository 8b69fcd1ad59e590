//! The staff screen: every account with its role, state and lock, the highlight on one.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, TableState, Wrap};

use super::{Theme, safe};
use crate::tui::app::App;
use crate::tui::staff::{lock, state};

pub fn draw(f: &mut Frame, body: Rect, app: &App, theme: &Theme) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(crate::strings::STAFF_TITLE);
    if app.staff.rows.is_empty() {
        f.render_widget(
            Paragraph::new(Line::from("No accounts."))
                .wrap(Wrap { trim: true })
                .block(block),
            body,
        );
        return;
    }
    let rows: Vec<Row> = app
        .staff
        .rows
        .iter()
        .map(|s| {
            let row = Row::new(vec![
                safe(&s.id),
                safe(&s.name),
                s.role.as_str().to_string(),
                state(s).to_string(),
                lock(s),
            ]);
            if !s.active {
                row.style(theme.dim())
            } else if s.locked {
                row.style(theme.alert())
            } else {
                row
            }
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(12),
            Constraint::Fill(1),
            Constraint::Length(9),
            Constraint::Length(11),
            Constraint::Length(12),
        ],
    )
    .header(Row::new(vec!["ID", "NAME", "ROLE", "STATE", "LOCK"]).style(theme.title()))
    .row_highlight_style(theme.selected())
    .highlight_symbol("▶ ")
    .block(block);
    let mut st = TableState::default().with_selected(Some(app.staff.sel));
    f.render_stateful_widget(table, body, &mut st);
}
