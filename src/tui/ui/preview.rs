//! The discharge summary after it was written: its Markdown as formatted text that fits the
//! box and scrolls (`tui::markdown`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::{centered, safe};
use crate::tui::markdown::{self, Preview};

pub fn draw(f: &mut Frame, body: Rect, p: &Preview) {
    let area = centered(body, body.width.saturating_sub(2), body.height);
    let (w, h) = markdown::preview_inner(body.width, body.height);
    let lines = markdown::format(&p.markdown, w);
    let scroll = p.scroll.min(lines.len().saturating_sub(h));
    let more = lines.len() > scroll + h;
    let text: Vec<Line> = lines
        .iter()
        .skip(scroll)
        .take(h)
        .map(|l| {
            let style = if l.bold {
                Style::new().add_modifier(Modifier::BOLD)
            } else {
                Style::new()
            };
            Line::styled(safe(&l.text), style)
        })
        .collect();
    let mut block = Block::default()
        .borders(Borders::ALL)
        .title(p.title.as_str());
    if more || scroll > 0 {
        block = block.title_bottom(format!(
            " lines {}-{} of {} ",
            scroll + 1,
            (scroll + h).min(lines.len()),
            lines.len()
        ));
    }
    f.render_widget(Clear, area);
    f.render_widget(Paragraph::new(text).block(block), area);
}
