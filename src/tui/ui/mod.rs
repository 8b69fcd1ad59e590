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
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

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

/// The smallest window the screens are laid out for.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// The message line wraps to at most this many rows.
const MESSAGE_ROWS: usize = 3;

pub fn draw(f: &mut Frame, app: &App) {
    let theme = Theme { colour: app.colour };
    let full = f.area();
    if full.width < MIN_WIDTH || full.height < MIN_HEIGHT {
        return too_small(f, full, &theme);
    }
    // While the server is away, that comes first: whatever else is said is about it.
    let shown = match (&app.offline, &app.message) {
        (Some(o), Some(m)) if m.level == Level::Error => {
            Some((format!("{o} {}", m.text), Level::Error))
        }
        (Some(o), _) => Some((o.clone(), Level::Error)),
        (None, Some(m)) => Some((m.text.clone(), m.level)),
        (None, None) => None,
    };
    let message_rows = shown
        .as_ref()
        .map(|(text, _)| message_lines(&safe(text), usize::from(full.width)))
        .unwrap_or_default();
    let [header, body, message, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(message_rows.len().max(1) as u16),
        Constraint::Length(1),
    ])
    .areas(full);
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
    if let Some((_, level)) = &shown {
        let style = if *level == Level::Error {
            theme.alert()
        } else {
            theme.ok()
        };
        let lines: Vec<Line> = message_rows
            .into_iter()
            .map(|l| Line::from(Span::styled(l, style)))
            .collect();
        f.render_widget(Paragraph::new(lines), message);
    }
    draw_footer(f, footer, app, &theme);
    if let Some(form) = &app.form {
        form::draw(f, body, form, &theme, (app.cfg.timezone, app.now));
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

/// Below 80 x 24 the screens would be cut: only this is drawn, until the window grows.
fn too_small(f: &mut Frame, area: Rect, theme: &Theme) {
    let text = crate::strings::too_small(area.width, area.height);
    let lines: Vec<Line> = wrap_words(&text, usize::from(area.width.saturating_sub(2)), 0)
        .into_iter()
        .map(|l| Line::from(Span::styled(l, theme.warn())))
        .collect();
    let h = (lines.len() as u16).min(area.height);
    let rect = Rect {
        y: area.y + area.height.saturating_sub(h) / 2,
        height: h,
        ..area
    };
    f.render_widget(
        Paragraph::new(lines).alignment(ratatui::layout::Alignment::Center),
        rect,
    );
}

/// The message after a save, wrapped at words to at most [`MESSAGE_ROWS`] rows; a longer
/// one ends at a word with "…".
fn message_lines(text: &str, width: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let mut lines = wrap_words(text, width, 2);
    if lines.len() > MESSAGE_ROWS {
        lines.truncate(MESSAGE_ROWS);
        if let Some(last) = lines.last_mut() {
            while last.width() + 2 > width {
                match last.trim_end().rsplit_once(' ') {
                    Some((head, _)) if !head.trim().is_empty() => *last = head.to_string(),
                    _ => break,
                }
            }
            last.push_str(" …");
        }
    }
    lines
}

/// The header: ward on the left, who and when on the right, never running together. When
/// the width is short, parts are dropped or shortened, the ward's name last of all.
fn draw_header(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    use unicode_width::UnicodeWidthStr;
    let width = usize::from(area.width);
    let ward = safe(&app.cfg.ward_name);
    let local = app.now.with_timezone(&app.cfg.timezone);
    let long = local_text(app.now, app.cfg.timezone);
    let short = local.format("%H:%M").to_string();
    let (who, who_short) = app.user.as_ref().map_or_else(
        || ("not signed in".to_string(), "not signed in".to_string()),
        |u| (format!("{} · {}", u.id, u.role), u.id.clone()),
    );
    let candidates = [
        (format!(" titrate · {ward}"), format!("{who} · {long} ")),
        (format!(" titrate · {ward}"), format!("{who} · {short} ")),
        (format!(" {ward}"), format!("{who} · {short} ")),
        (format!(" {ward}"), format!("{who_short} · {short} ")),
    ];
    const GAP: usize = 3;
    let (left, right) = candidates
        .iter()
        .find(|(l, r)| l.width() + r.width() + GAP <= width)
        .cloned()
        .unwrap_or_else(|| {
            let right = format!("{who_short} · {short} ");
            let room = width.saturating_sub(right.width() + GAP + 3);
            // Cut at a word when one ends in the room, else inside it.
            let mut cut: String = ward.chars().take(room).collect();
            if cut.chars().count() < ward.chars().count()
                && let Some((head, _)) = cut.rsplit_once(' ')
                && !head.trim().is_empty()
            {
                cut = head.trim_end_matches([',', ';', ' ']).to_string();
            }
            (format!(" {cut} …"), right)
        });
    let pad = width.saturating_sub(left.width() + right.width());
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

/// The footer's key hints on one line. When they do not fit, hints are dropped from the
/// end, but "? help" always stays: it lists every key.
fn draw_footer(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    use unicode_width::UnicodeWidthStr;
    let pairs: Vec<(&str, &str)> = if app.confirm.is_some() {
        vec![("y", "yes"), ("n", "no")]
    } else if app.form.as_ref().is_some_and(|f| f.confirm.is_some()) {
        keys::CONFIRM.to_vec()
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
    let cost = |(k, what): &(&str, &str)| k.width() + what.width() + 3;
    let mut keep: Vec<(&str, &str)> = pairs.clone();
    while keep.iter().map(cost).sum::<usize>() > usize::from(area.width) {
        match keep.iter().rposition(|(k, _)| *k != "?") {
            Some(i) => {
                keep.remove(i);
            }
            None => break,
        }
    }
    let mut spans = Vec::new();
    for (i, (k, what)) in keep.into_iter().enumerate() {
        let lead = if i == 0 { "" } else { " " };
        spans.push(Span::styled(format!("{lead}{k}"), theme.title()));
        spans.push(Span::styled(format!(" {what} "), theme.dim()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
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

/// `prefix` and then `rest` wrapped at its words beside it: the lines after the first start
/// under `rest`. A line that fits is kept exactly as it is.
pub fn hang(prefix: &str, rest: &str, width: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let pw = prefix.width();
    if pw + rest.width() <= width {
        return vec![format!("{prefix}{rest}")];
    }
    let room = width.saturating_sub(pw).max(12);
    wrap_words(rest, room, 0)
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{prefix}{l}")
            } else {
                format!("{}{l}", " ".repeat(pw))
            }
        })
        .collect()
}

#[cfg(test)]
mod wrap_tests {
    use super::{hang, message_lines, wrap_words};

    #[test]
    fn a_hanging_line_wraps_beside_its_prefix() {
        assert_eq!(hang("  a   ", "b  c", 40), ["  a   b  c"]);
        assert_eq!(
            hang("label   ", "one two three four five", 20),
            ["label   one two", "        three four", "        five"]
        );
    }

    #[test]
    fn a_long_message_ends_at_a_word() {
        let text =
            "entry 12 saved: rate 4 mg/h (step down) · the NRS is due now · and more words to come";
        let l = message_lines(text, 20);
        assert_eq!(l.len(), 3);
        assert!(l[2].ends_with(" …"), "{l:?}");
        assert!(l.iter().all(|x| x.chars().count() <= 20), "{l:?}");
        assert_eq!(message_lines("saved", 20), ["saved"]);
    }

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
