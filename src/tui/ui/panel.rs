//! The staff, own-PIN and patient-details forms as a pop-up, and the y / n question of a
//! staff change.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::{Theme, centered, safe};
use crate::tui::markdown::wrap;
use crate::tui::panel::{InputKind, Panel};

pub fn draw(f: &mut Frame, body: Rect, p: &Panel, theme: &Theme) {
    let width = body.width.saturating_sub(4).min(96);
    let mut lines: Vec<Line> = Vec::new();
    for c in &p.context {
        lines.push(Line::from(Span::styled(safe(c), theme.dim())));
    }
    if let Some(("", msg)) = p.error.as_ref().map(|(k, m)| (*k, m.as_str())) {
        lines.push(Line::from(Span::styled(safe(msg), theme.alert())));
    }
    for (i, field) in p.fields.iter().enumerate() {
        let focused = i == p.focus;
        let shown = safe(&field.shown());
        let value = if focused && field.kind != InputKind::Masked {
            // The cursor where the next key goes.
            if let InputKind::Choice(_) = field.kind {
                shown
            } else {
                let at = field.cursor.min(shown.chars().count());
                let (a, b): (String, String) = (
                    shown.chars().take(at).collect(),
                    shown.chars().skip(at).collect(),
                );
                format!("{a}▏{b}")
            }
        } else if focused {
            format!("{shown}▏")
        } else {
            shown
        };
        let label_style = if focused {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("{}{:<14}", if focused { "▶ " } else { "  " }, field.label),
                label_style,
            ),
            Span::styled(
                value,
                if focused {
                    theme.selected()
                } else {
                    Style::new()
                },
            ),
        ]));
        if focused && !field.hint.is_empty() {
            lines.push(Line::from(Span::styled(
                format!("{:16}{}", "", field.hint),
                theme.dim(),
            )));
        }
        if let Some((_, msg)) = p.error.as_ref().filter(|(key, _)| *key == field.key) {
            // Wrapped here, so that the message's later lines keep its indent.
            let inner = usize::from(width.saturating_sub(2)).max(12);
            for (i, part) in wrap(&safe(msg), inner - 6).into_iter().enumerate() {
                let mark = if i == 0 { "    ✗ " } else { "      " };
                lines.push(Line::from(Span::styled(
                    format!("{mark}{part}"),
                    theme.alert(),
                )));
            }
        }
    }
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let height = (rows as u16 + 2).min(body.height);
    let area = centered(body, width, height);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" {} ", safe(&p.title))),
        ),
        area,
    );
}

pub fn draw_confirm(f: &mut Frame, body: Rect, text: &str, theme: &Theme) {
    let width = body.width.saturating_sub(4).min(70);
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let rows = crate::tui::markdown::wrap(text, inner).len() as u16;
    let area = centered(body, width, rows + 2);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(safe(text))
            .wrap(Wrap { trim: true })
            .block(Block::default().borders(Borders::ALL).title(" Confirm "))
            .style(theme.warn()),
        area,
    );
}
