//! Sign-in, and the first-admin set-up of a new database.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::{Theme, centered, safe};
use crate::tui::app::{App, Screen};

pub fn draw(f: &mut Frame, body: Rect, app: &App, theme: &Theme) {
    let setup = app.screen == Screen::Setup;
    let labels: &[&str] = if setup {
        &["New admin id", "Full name", "PIN", "PIN again"]
    } else {
        &["Staff id", "PIN"]
    };
    let mut lines = Vec::new();
    if setup {
        lines.push(Line::from(
            "This database has no staff yet. Create the first admin:",
        ));
    } else {
        lines.push(Line::from(format!(
            "Sign in to {}",
            safe(&app.cfg.ward_name)
        )));
    }
    lines.push(Line::from(""));
    for (i, label) in labels.iter().enumerate() {
        let raw = &app.creds.fields[i];
        let secret = label.starts_with("PIN");
        let shown = if secret {
            "•".repeat(raw.chars().count())
        } else {
            safe(raw)
        };
        let focused = app.creds.focus == i;
        lines.push(Line::from(vec![
            Span::raw(format!(
                "{}{:<13}",
                if focused { "▶ " } else { "  " },
                label
            )),
            Span::styled(
                format!("{shown}{}", if focused { "▏" } else { "" }),
                if focused {
                    theme.selected()
                } else {
                    theme.dim()
                },
            ),
        ]));
    }
    if let Some(e) = &app.creds.error {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(safe(e), theme.alert())));
    }
    if let Some(hint) = &app.demo_hint {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(safe(hint), theme.warn())));
    }
    let area = centered(body, 64, lines.len() as u16 + 4);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(" titrate ")),
        area,
    );
}
