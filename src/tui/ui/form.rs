//! An entry form as a pop-up over the screen.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::{Theme, centered, safe, wrap_words};
use crate::domain::time::Instant;
use crate::strings;
use crate::tui::form::{Field, FieldKind, Form};
use chrono_tz::Tz;
use unicode_width::UnicodeWidthStr;

pub fn draw(f: &mut Frame, body: Rect, form: &Form, theme: &Theme, clock: (Tz, Instant)) {
    let width = body.width.saturating_sub(4).min(96);
    // Inside the borders: messages are wrapped here at words, with their mark kept clear.
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let mut lines: Vec<Line> = Vec::new();
    let wrapped = |lines: &mut Vec<Line>, text: &str, indent: usize, style: Style| {
        for l in wrap_words(text, inner, indent) {
            lines.push(Line::from(Span::styled(l, style)));
        }
    };
    let title = match (&form.confirm, &form.picture) {
        (Some(_), Some(p)) => format!(" {} · {} ", strings::END_CONFIRM_TITLE, p.label()),
        (Some(_), None) => format!(" {} ", strings::END_CONFIRM_TITLE),
        (None, _) => format!(" {} ", form.title()),
    };
    let title = safe(&title);
    // The patient once more inside the box when the title is cut at the border.
    if let Some(p) = &form.picture {
        if title.width() + 2 > usize::from(width) {
            wrapped(&mut lines, &safe(&p.label()), 2, theme.title());
        }
    } else if !form.mrn.is_empty() {
        let who = format!("{} · MRN {}", safe(&form.patient_name), safe(&form.mrn));
        wrapped(&mut lines, &who, 2, theme.title());
    }
    for c in &form.context {
        wrapped(&mut lines, &safe(c), 2, theme.dim());
    }
    if let Some(step) = form.proposed_step() {
        wrapped(&mut lines, &step, 2, theme.warn());
    }
    if let Some(("", msg)) = form.error.as_ref().map(|(k, m)| (*k, m.as_str())) {
        wrapped(&mut lines, &format!("✗ {}", safe(msg)), 2, theme.alert());
    }
    if let Some(confirm) = &form.confirm {
        // The question replaces the fields until it is answered.
        let last = confirm.len().saturating_sub(1);
        for (i, c) in confirm.iter().enumerate() {
            let style = if i == 0 || i == last {
                theme.title()
            } else if c.starts_with('·') {
                theme.warn()
            } else {
                Style::new()
            };
            wrapped(&mut lines, &safe(c), 2, style);
        }
    } else {
        fields(&mut lines, form, theme, clock, inner);
    }
    let para = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(Block::default().borders(Borders::ALL).title(title));
    let height = u16::try_from(para.line_count(inner as u16))
        .unwrap_or(u16::MAX)
        .min(body.height);
    let area = centered(body, width, height);
    f.render_widget(Clear, area);
    f.render_widget(para, area);
}

fn fields(lines: &mut Vec<Line>, form: &Form, theme: &Theme, clock: (Tz, Instant), inner: usize) {
    let wrapped = |lines: &mut Vec<Line>, text: &str, indent: usize, style: Style| {
        for l in wrap_words(text, inner, indent) {
            lines.push(Line::from(Span::styled(l, style)));
        }
    };
    for (i, field) in form.fields.iter().enumerate() {
        // A side effect's new rate only for the actions that set one.
        if !form.shown(i) {
            continue;
        }
        let focused = i == form.focus;
        let label_style = if focused {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        let mut spans = vec![Span::styled(
            format!("{}{:<11}", if focused { "▶ " } else { "  " }, field.label),
            label_style,
        )];
        match &field.kind {
            FieldKind::Text if focused => spans.extend(text_with_cursor(field, theme)),
            FieldKind::Text => spans.push(Span::raw(safe(&field.value))),
            FieldKind::Choice(_) => spans.push(Span::styled(
                format!(
                    "‹ {} ›",
                    if field.value.is_empty() {
                        if form.required_choice(field.key) {
                            strings::NOT_CHOSEN
                        } else {
                            "none"
                        }
                    } else {
                        field.value.as_str()
                    }
                ),
                if focused {
                    theme.selected()
                } else {
                    Style::new()
                },
            )),
        }
        lines.push(Line::from(spans));
        if focused && !field.filter.is_empty() {
            lines.extend(filter_lines(field, inner, theme));
        }
        // The hint gets a line of its own under the field, so that it never wraps into
        // the label column.
        if focused && !field.hint.is_empty() && field.filter.is_empty() {
            let hint = if field.filterable() {
                strings::KIND_FILTER_HINT
            } else {
                field.hint
            };
            wrapped(lines, &format!("{:13}{hint}", ""), 13, theme.dim());
        }
        // What a time will be stored as: while it is typed, or when it is not written out
        // in full (14:05 alone), or when it will be refused.
        if field.key == "time"
            && let Some(shown) = form.time_preview(clock.0, clock.1)
            && (focused || !shown.starts_with('=') || !is_full_time(&field.value))
            // A refusal already shown under the field is not said twice.
            && !(form.error.as_ref().is_some_and(|(k, m)| *k == field.key && *m == shown))
        {
            let style = if shown.starts_with('=') {
                theme.ok()
            } else {
                theme.warn()
            };
            wrapped(lines, &format!("{:13}{shown}", ""), 15, style);
        }
        if let Some((_, msg)) = form.error.as_ref().filter(|(key, _)| *key == field.key) {
            wrapped(lines, &format!("    ✗ {}", safe(msg)), 6, theme.alert());
        }
    }
}

/// A focused text field: the cell at the cursor in reverse video (a space past the end). A
/// value the next key replaces is shown all in reverse, as selected text is elsewhere.
fn text_with_cursor<'a>(field: &Field, theme: &Theme) -> Vec<Span<'a>> {
    if field.fresh {
        return vec![Span::styled(safe(&field.value), theme.selected())];
    }
    let at = field.cursor_at();
    let before: String = field.value.chars().take(at).collect();
    let mut rest = field.value.chars().skip(at);
    let under = rest.next().map_or(" ".to_string(), |c| c.to_string());
    let after: String = rest.collect();
    vec![
        Span::raw(safe(&before)),
        Span::styled(safe(&under), theme.selected()),
        Span::raw(safe(&after)),
    ]
}

/// Under a choice being filtered: what was typed, and the options that still match, the one
/// Enter takes highlighted; wrapped between options, under the field's column.
fn filter_lines<'a>(field: &Field, inner: usize, theme: &Theme) -> Vec<Line<'a>> {
    use unicode_width::UnicodeWidthStr;
    const COLUMN: usize = 13;
    let head = format!("{:COLUMN$}{} ", "", strings::kind_filter(&field.filter));
    let mut used = head.width();
    let mut lines = Vec::new();
    let mut spans = vec![Span::styled(head, theme.dim())];
    for (i, o) in field.matches().into_iter().enumerate() {
        let sep = if i > 0 { " · " } else { "" };
        if i > 0 && used + sep.width() + o.width() > inner {
            lines.push(Line::from(std::mem::take(&mut spans)));
            spans.push(Span::raw(" ".repeat(COLUMN)));
            used = COLUMN;
        } else if !sep.is_empty() {
            spans.push(Span::raw(sep));
            used += sep.width();
        }
        let style = if o == field.value {
            theme.selected()
        } else {
            Style::new()
        };
        used += o.width();
        spans.push(Span::styled(o.to_string(), style));
    }
    lines.push(Line::from(spans));
    lines
}

/// "2026-03-01 14:05": a time that already says its date.
fn is_full_time(v: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(v.trim(), "%Y-%m-%d %H:%M").is_ok()
}
