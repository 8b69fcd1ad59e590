//! An entry form as a pop-up over the screen.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use unicode_width::UnicodeWidthStr;

use super::{Theme, centered, safe};
use crate::tui::form::{FieldKind, Form};

pub fn draw(f: &mut Frame, body: Rect, form: &Form, theme: &Theme) {
    let mut lines: Vec<Line> = Vec::new();
    let width = body.width.saturating_sub(4).min(96);
    let title = format!(" {} ", safe(&form.title()));
    // The patient once more inside the box when the title is cut at the border.
    if let Some(p) = &form.picture {
        if title.width() + 2 > usize::from(width) {
            lines.push(Line::from(Span::styled(safe(&p.label()), theme.title())));
        }
    } else if !form.mrn.is_empty() {
        lines.push(Line::from(Span::styled(
            format!("{} · MRN {}", safe(&form.patient_name), safe(&form.mrn)),
            theme.title(),
        )));
    }
    for c in &form.context {
        lines.push(Line::from(Span::styled(safe(c), theme.dim())));
    }
    if let Some(step) = form.proposed_step() {
        lines.push(Line::from(Span::styled(step, theme.warn())));
    }
    if let Some(("", msg)) = form.error.as_ref().map(|(k, m)| (*k, m.as_str())) {
        lines.push(Line::from(Span::styled(safe(msg), theme.alert())));
    }
    for (i, field) in form.fields.iter().enumerate() {
        let focused = i == form.focus;
        let value = match &field.kind {
            FieldKind::Text => safe(&field.value),
            FieldKind::Choice(_) => format!(
                "‹ {} ›",
                if field.value.is_empty() {
                    "none"
                } else {
                    field.value.as_str()
                }
            ),
        };
        let cursor = if focused && field.kind == FieldKind::Text {
            "▏"
        } else {
            ""
        };
        let label_style = if focused {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        let spans = vec![
            Span::styled(
                format!("{}{:<11}", if focused { "▶ " } else { "  " }, field.label),
                label_style,
            ),
            Span::styled(
                format!("{value}{cursor}"),
                if focused {
                    theme.selected()
                } else {
                    Style::new()
                },
            ),
        ];
        lines.push(Line::from(spans));
        // The hint gets a line of its own under the field, so that it never wraps into
        // the label column.
        if focused && !field.hint.is_empty() {
            lines.push(Line::from(Span::styled(
                format!("{:13}{}", "", field.hint),
                theme.dim(),
            )));
        }
        if let Some((_, msg)) = form.error.as_ref().filter(|(key, _)| *key == field.key) {
            lines.push(Line::from(Span::styled(
                format!("    ✗ {}", safe(msg)),
                theme.alert(),
            )));
        }
    }
    // Long messages wrap: count the rows each line takes inside the borders.
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let height = (rows as u16 + 2).min(body.height);
    let area = centered(body, width, height);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(title)),
        area,
    );
}
