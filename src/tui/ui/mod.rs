//! Drawing: reads the app state, never changes it, never touches the store.

mod cohort;
mod handover;
pub use handover::lines as handover_lines;
mod detail;
mod form;
mod help;
mod overview;
mod panel;
mod preview;
mod search;
mod signin;
mod staff;

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
    // A message longer than the window (a refusal in the operation's words) takes the rows
    // it needs, up to three, wrapped at words rather than cut.
    let message_rows = app.message.as_ref().map_or(1, |m| {
        let width = usize::from(f.area().width).max(1);
        crate::tui::markdown::wrap(&safe(&m.text), width)
            .len()
            .clamp(1, 3) as u16
    });
    let [header, body, message, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(message_rows),
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
        Screen::Staff => staff::draw(f, body, app, &theme),
    }
    if let Some(m) = &app.message {
        let style = if m.level == Level::Error {
            theme.alert()
        } else {
            theme.ok()
        };
        f.render_widget(
            Paragraph::new(Line::from(Span::styled(safe(&m.text), style)))
                .wrap(Wrap { trim: true }),
            message,
        );
    }
    draw_footer(f, footer, app, &theme);
    if let Some(form) = &app.form {
        form::draw(f, body, form, &theme);
    }
    if let Some(p) = &app.panel {
        panel::draw(f, body, p, &theme);
    }
    if let Some(text) = app.confirm_text() {
        panel::draw_confirm(f, body, &text, &theme);
    }
    if let Some(p) = &app.preview {
        preview::draw(f, body, p);
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
    let pairs: Vec<(&str, &str)> = if app.confirm.is_some() {
        vec![("y", "yes"), ("n", "no")]
    } else if app.panel.is_some() {
        keys::PANEL.to_vec()
    } else if app.form.is_some() {
        keys::FORM.to_vec()
    } else {
        let table = match app.screen {
            Screen::Overview => keys::OVERVIEW,
            Screen::Detail => keys::DETAIL,
            Screen::Search => keys::SEARCH,
            Screen::Cohort => keys::COHORT,
            Screen::Handover => keys::HANDOVER,
            Screen::Staff => keys::STAFF,
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
