//! Every key of the current screen, from the same tables that dispatch them.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::centered;
use crate::tui::app::{App, Screen};
use crate::tui::keys::{self, Action};

pub fn draw(f: &mut Frame, body: Rect, app: &App) {
    let table = match app.screen {
        Screen::Overview => keys::OVERVIEW,
        Screen::Detail => keys::DETAIL,
        Screen::Search => keys::SEARCH,
        Screen::Cohort => keys::COHORT,
        Screen::Handover => keys::HANDOVER,
        Screen::Staff => keys::STAFF,
        Screen::SignIn | Screen::Setup => &[],
    };
    // At 80x24 every line counts: up and down share one, and "? all keys" is this list.
    let mut lines: Vec<Line> = Vec::new();
    let mut rows = table.iter().filter(|b| b.action != Action::Help).peekable();
    while let Some(b) = rows.next() {
        match rows.peek() {
            Some(next) if b.action == Action::Up && next.action == Action::Down => {
                let label = format!("{} {}", b.label, next.label);
                lines.push(Line::from(format!(
                    " {label:<8} {} · {}",
                    b.what, next.what
                )));
                rows.next();
            }
            _ => lines.push(Line::from(format!(" {:<8} {}", b.label, b.what))),
        }
    }
    lines.push(Line::from(format!(
        " {:<8} quit (asks first if a form has unsaved input)",
        "Ctrl-C"
    )));
    // The form keys on as few lines as the width allows, so that help fits at 80x24.
    let in_form = if app.screen == Screen::Staff {
        keys::PANEL
    } else {
        keys::FORM
    };
    let form: Vec<String> = in_form
        .iter()
        .map(|(k, what)| format!("{k} {what}"))
        .collect();
    let width = body.width.saturating_sub(4).min(78);
    let mut line = String::from(" In a form:");
    for item in form {
        if line.chars().count() + item.chars().count() + 3 > usize::from(width.saturating_sub(2)) {
            lines.push(Line::from(std::mem::take(&mut line)));
            line.push_str("           ");
        }
        line.push_str(&format!(" {item} ·"));
    }
    lines.push(Line::from(line.trim_end_matches(" ·").to_string()));
    let area = centered(body, width, lines.len() as u16 + 2);
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
