//! Drawing: reads the app state, never changes it, never touches the store.

mod cohort;
mod handover;
pub use handover::lines as handover_lines;
mod detail;
mod form;
mod help;
mod overview;
mod search;
mod signin;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::{App, Level, Pending, Screen};
use super::keys;
use crate::domain::time::local_text;

/// Text from the record, made safe for a terminal: no control characters or escapes.
pub fn safe(s: &str) -> String {
    crate::domain::values::printable(s)
}

pub struct Theme {
    pub colour: bool,
}

impl Theme {
    pub fn alert(&self) -> Style {
        if self.colour {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        }
    }
    pub fn warn(&self) -> Style {
        if self.colour {
            Style::new().fg(Color::Yellow)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }
    pub fn dim(&self) -> Style {
        if self.colour {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    pub fn ok(&self) -> Style {
        if self.colour {
            Style::new().fg(Color::Green)
        } else {
            Style::new()
        }
    }
}

pub fn draw(f: &mut Frame, app: &App) {
    let theme = Theme { colour: app.colour };
    let [header, body, message, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    draw_header(f, header, app, &theme);
    match app.screen {
        Screen::SignIn | Screen::Setup => signin::draw(f, body, app, &theme),
        Screen::Overview => overview::draw(f, body, app, &theme),
        Screen::Detail => detail::draw(f, body, app, &theme),
        Screen::Search => search::draw(f, body, app, &theme),
        Screen::Cohort => cohort::draw(f, body, app),
        Screen::Handover => handover::draw(f, body, app),
    }
    if let Some(m) = &app.message {
        let style = if m.level == Level::Error {
            theme.alert()
        } else {
            theme.ok()
        };
        f.render_widget(
            Paragraph::new(Line::from(Span::styled(safe(&m.text), style))),
            message,
        );
    }
    draw_footer(f, footer, app, &theme);
    if let Some(form) = &app.form {
        form::draw(f, body, form, &theme, (app.cfg.timezone, app.now));
    }
    if let Some((title, lines, scroll)) = &app.preview {
        let area = centered(body, body.width.saturating_sub(2), body.height);
        let text: Vec<Line> = lines
            .iter()
            .skip(*scroll)
            .map(|l| Line::from(safe(l)))
            .collect();
        f.render_widget(Clear, area);
        f.render_widget(
            Paragraph::new(text)
                .block(Block::default().borders(Borders::ALL).title(title.as_str())),
            area,
        );
    }
    if app.help {
        help::draw(f, body, app);
    }
    if let Some(p) = app.pending {
        let text = match p {
            Pending::CloseForm => "Discard the unsaved form? y / n",
            Pending::SignOut => "Sign out and discard the unsaved form? y / n",
            Pending::Quit => "Quit and discard the unsaved form? y / n",
        };
        let area = centered(body, 50, 3);
        f.render_widget(Clear, area);
        f.render_widget(
            Paragraph::new(text)
                .block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title("Unsaved input"),
                )
                .style(theme.warn()),
            area,
        );
    }
}

fn draw_header(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let who = app.user.as_ref().map_or("not signed in".to_string(), |u| {
        format!("{} · {}", u.id, u.role)
    });
    let left = format!(" titrate · {}", safe(&app.cfg.ward_name));
    let right = format!("{} · {} ", who, local_text(app.now, app.cfg.timezone));
    let pad = (area.width as usize).saturating_sub(left.chars().count() + right.chars().count());
    let line = Line::from(vec![
        Span::styled(left, theme.title()),
        Span::raw(" ".repeat(pad)),
        Span::raw(right),
    ]);
    f.render_widget(
        Paragraph::new(line).style(Style::new().add_modifier(Modifier::REVERSED)),
        area,
    );
}

fn draw_footer(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let pairs: Vec<(&str, &str)> = if app.form.is_some() {
        keys::FORM.to_vec()
    } else {
        let table = match app.screen {
            Screen::Overview => keys::OVERVIEW,
            Screen::Detail => keys::DETAIL,
            Screen::Search => keys::SEARCH,
            Screen::Cohort => keys::COHORT,
            Screen::Handover => keys::HANDOVER,
            Screen::SignIn | Screen::Setup => &[],
        };
        if table.is_empty() {
            vec![
                ("Tab", "next field"),
                (
                    "Enter",
                    if app.screen == Screen::Setup {
                        "create"
                    } else {
                        "sign in"
                    },
                ),
                ("Ctrl-C", "quit"),
            ]
        } else {
            table
                .iter()
                .filter_map(|b| b.footer.map(|short| (b.label, short)))
                .collect()
        }
    };
    let mut spans = Vec::new();
    for (k, what) in pairs {
        spans.push(Span::styled(format!(" {k}"), theme.title()));
        spans.push(Span::styled(format!(" {what} "), theme.dim()));
    }
    f.render_widget(
        Paragraph::new(Line::from(spans)).wrap(Wrap { trim: true }),
        area,
    );
}

/// A rectangle of at most `w` x `h` in the middle of `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// "35 min", "3 h", "2 d": how long ago, short.
pub fn ago(d: chrono::Duration) -> String {
    let m = d.num_minutes();
    if m < 0 {
        "now".into()
    } else if m < 60 {
        format!("{m} min")
    } else if m < 48 * 60 {
        format!("{} h", m / 60)
    } else {
        format!("{} d", m / (24 * 60))
    }
}

/// Word-wraps `text` into lines of at most `width` columns, breaking only at spaces (a word
/// longer than a whole line is split). Every line after the first starts with `indent`
/// spaces, so that a wrapped message stays beside its mark.
pub fn wrap_words(text: &str, width: usize, indent: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let width = width.max(indent + 8);
    let mut lines = Vec::new();
    // Leading spaces (a field's column) are kept as they are.
    let lead = text.len() - text.trim_start_matches(' ').len();
    let mut line = " ".repeat(lead);
    let mut used = lead;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let w = word.width();
        let sep = usize::from(!line.trim().is_empty());
        if used + sep + w <= width {
            if sep == 1 {
                line.push(' ');
            }
            line.push_str(word);
            used += sep + w;
            continue;
        }
        if !line.trim().is_empty() {
            lines.push(std::mem::take(&mut line));
            line = " ".repeat(indent);
            used = indent;
        }
        // A word that fits no line: split it by characters.
        let mut rest = word;
        while used + rest.width() > width {
            let mut cut = 0;
            let mut cw = 0;
            for (i, ch) in rest.char_indices() {
                let chw = unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0);
                if used + cw + chw > width {
                    break;
                }
                cw += chw;
                cut = i + ch.len_utf8();
            }
            if cut == 0 {
                break;
            }
            line.push_str(&rest[..cut]);
            lines.push(std::mem::take(&mut line));
            line = " ".repeat(indent);
            used = indent;
            rest = &rest[cut..];
        }
        line.push_str(rest);
        used += rest.width();
    }
    if !line.trim().is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod wrap_tests {
    use super::wrap_words;

    #[test]
    fn wraps_at_spaces_with_a_hanging_indent() {
        let l = wrap_words("140 is above the maximum of 14 mg/h: write a rate", 20, 2);
        assert_eq!(
            l,
            [
                "140 is above the",
                "  maximum of 14",
                "  mg/h: write a rate"
            ]
        );
        assert!(l.iter().all(|x| x.chars().count() <= 20));
    }

    #[test]
    fn a_long_word_is_split_and_short_text_kept() {
        assert_eq!(wrap_words("abc", 10, 0), ["abc"]);
        assert_eq!(wrap_words("   abc def", 8, 0), ["   abc", "def"]);
        assert_eq!(wrap_words("", 10, 0), [""]);
        let l = wrap_words("x 0123456789abcdef", 10, 0);
        assert_eq!(l, ["x", "0123456789", "abcdef"]);
    }
}
