//! The Markdown of a discharge summary as lines for a box `width` columns wide: headings
//! bold without their `#`, tables as aligned columns whose cells wrap inside their column
//! (no `|`), paragraphs and list items wrapped at word boundaries. Pure, so the preview
//! can lay itself out again for any window size.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    pub bold: bool,
}

fn line(text: impl Into<String>, bold: bool) -> Line {
    Line {
        text: text.into(),
        bold,
    }
}

/// A summary shown after it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    pub title: String,
    pub markdown: String,
    /// The first line shown.
    pub scroll: usize,
}

/// The inner size of the preview box in a body of `w` x `h` (the box leaves one column each
/// side and draws a border).
pub fn preview_inner(w: u16, h: u16) -> (usize, usize) {
    (
        usize::from(w.saturating_sub(4)).max(10),
        usize::from(h.saturating_sub(2)).max(1),
    )
}

/// `**bold**` markers and backslash escapes removed: the screen shows the words.
fn inline(s: &str) -> String {
    s.replace("**", "").replace("\\|", "|")
}

/// Words of `s` in lines of at most `width` columns; a word wider than that is cut.
pub fn wrap(s: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in s.split_whitespace() {
        let w = word.width();
        let cw = cur.width();
        if cw > 0 && cw + 1 + w <= width {
            cur.push(' ');
            cur.push_str(word);
            continue;
        }
        if cw > 0 {
            out.push(std::mem::take(&mut cur));
        }
        if w <= width {
            cur.push_str(word);
            continue;
        }
        for ch in word.chars() {
            let chw = ch.width().unwrap_or(0);
            if cur.width() + chw > width {
                out.push(std::mem::take(&mut cur));
            }
            cur.push(ch);
        }
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
}

fn cells(row: &str) -> Vec<String> {
    let t = row.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = t.strip_suffix('|').unwrap_or(t);
    t.split('|').map(|c| inline(c.trim())).collect()
}

fn is_separator(row: &str) -> bool {
    let t = row.trim();
    t.starts_with('|') && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// The widest cell and the widest word of each column.
fn measure(rows: &[Vec<String>]) -> (Vec<usize>, Vec<usize>) {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let col = |i: usize| rows.iter().filter_map(move |r| r.get(i));
    let natural = (0..n)
        .map(|i| col(i).map(|c| c.width()).max().unwrap_or(0).max(1))
        .collect();
    let word = (0..n)
        .map(|i| {
            col(i)
                .flat_map(|c| c.split_whitespace())
                .map(UnicodeWidthStr::width)
                .max()
                .unwrap_or(0)
                .max(1)
        })
        .collect();
    (natural, word)
}

/// Column widths that fit `width` with two spaces between columns, or None when even the
/// widest word of each column does not fit. Every column gets its widest word, so that no
/// word is cut; what is left goes in equal shares to the columns whose cells still wrap.
fn column_widths(rows: &[Vec<String>], width: usize) -> Option<Vec<usize>> {
    let (natural, word) = measure(rows);
    let n = natural.len();
    let avail = width.checked_sub(2 * n.saturating_sub(1))?;
    if natural.iter().sum::<usize>() <= avail {
        return Some(natural);
    }
    let mut out = word;
    let mut left = avail.checked_sub(out.iter().sum())?;
    loop {
        let open: Vec<usize> = (0..n).filter(|&i| out[i] < natural[i]).collect();
        if open.is_empty() || left == 0 {
            return Some(out);
        }
        let share = (left / open.len()).max(1);
        for i in open {
            let add = share.min(natural[i] - out[i]).min(left);
            out[i] += add;
            left -= add;
        }
    }
}

fn table(rows: &[Vec<String>], header: bool, width: usize, out: &mut Vec<Line>) {
    let Some(widths) = column_widths(rows, width) else {
        // Too narrow for the columns without cutting words: each row as "header: value"
        // lines, readable in any width.
        let (names, body) = match rows.split_first() {
            Some((first, rest)) if header => (first.clone(), rest),
            _ => (vec![], rows),
        };
        for (k, row) in body.iter().enumerate() {
            if k > 0 {
                out.push(line("", false));
            }
            for (i, cell) in row.iter().enumerate() {
                let text = match names.get(i) {
                    Some(name) => format!("{name}: {cell}"),
                    None => cell.clone(),
                };
                for (j, w) in wrap(&text, width.saturating_sub(2)).into_iter().enumerate() {
                    out.push(line(if j == 0 { w } else { format!("  {w}") }, false));
                }
            }
        }
        return;
    };
    for (r, row) in rows.iter().enumerate() {
        let wrapped: Vec<Vec<String>> = widths
            .iter()
            .enumerate()
            .map(|(i, &w)| wrap(row.get(i).map_or("", String::as_str), w))
            .collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        for k in 0..height {
            let mut text = String::new();
            for (i, col) in wrapped.iter().enumerate() {
                let cell = col.get(k).map_or("", String::as_str);
                text.push_str(cell);
                if i + 1 < wrapped.len() {
                    text.push_str(&" ".repeat(widths[i] - cell.width() + 2));
                }
            }
            out.push(line(text.trim_end(), header && r == 0));
        }
    }
}

/// The lines of `md` for a box `width` columns wide.
pub fn format(md: &str, width: usize) -> Vec<Line> {
    let width = width.max(10);
    let mut out: Vec<Line> = Vec::new();
    let src: Vec<&str> = md.lines().collect();
    let mut i = 0;
    let blank = |out: &mut Vec<Line>| {
        if out.last().is_some_and(|l| !l.text.is_empty()) {
            out.push(line("", false));
        }
    };
    while i < src.len() {
        let l = src[i].trim_end();
        let t = l.trim_start();
        if t.is_empty() {
            blank(&mut out);
            i += 1;
        } else if t.starts_with('#') {
            let text = inline(t.trim_start_matches('#').trim());
            blank(&mut out);
            for w in wrap(&text, width) {
                out.push(line(w, true));
            }
            // The top heading is underlined, as it would print.
            if t.starts_with("# ") {
                out.push(line("═".repeat(text.width().min(width)), true));
            }
            i += 1;
        } else if t.starts_with('|') {
            let mut rows = Vec::new();
            let mut header = false;
            while i < src.len() && src[i].trim_start().starts_with('|') {
                if is_separator(src[i]) {
                    header = rows.len() == 1;
                } else {
                    rows.push(cells(src[i]));
                }
                i += 1;
            }
            table(&rows, header, width, &mut out);
        } else if let Some(item) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
            for (k, w) in wrap(&inline(item), width.saturating_sub(2))
                .into_iter()
                .enumerate()
            {
                out.push(line(
                    format!("{}{w}", if k == 0 { "• " } else { "  " }),
                    false,
                ));
            }
            i += 1;
        } else {
            // A paragraph runs to the next blank line or block.
            let mut para = String::new();
            while i < src.len() {
                let p = src[i].trim();
                if p.is_empty()
                    || p.starts_with('#')
                    || p.starts_with('|')
                    || p.starts_with("- ")
                    || (!para.is_empty() && p.starts_with("* "))
                {
                    break;
                }
                if !para.is_empty() {
                    para.push(' ');
                }
                para.push_str(p);
                i += 1;
            }
            let bold = para.starts_with("**") && para.ends_with("**") && para.len() > 4;
            for w in wrap(&inline(&para), width) {
                out.push(line(w, bold));
            }
        }
    }
    while out.last().is_some_and(|l| l.text.is_empty()) {
        out.pop();
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MD: &str = "**DRAFT: the course is still running.**\n\n# Discharge summary\n\nUMC · Pain ward\n\n## Patient\n\n| Item | Value |\n|---|---|\n| Name | Jan Jansen |\n| Birth date | 1970-05-01 |\n\n## Side effects\n\n| Side effect | Severity | First | Last | Times | Rate at first | Action |\n|---|---|---|---|---|---|---|\n| nausea | mild | 2026-03-09 10:00 | 2026-03-09 12:00 | 2 | 4 mg/h | rate-lowered, paused |\n\n## Corrections\n\n- entry 12 amended by NU: rate 4 -> 6 mg/h because the pump showed another value than typed\n";

    fn texts(lines: &[Line]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn headings_are_bold_without_hashes_and_no_pipe_remains() {
        let out = format(MD, 76);
        let h = out.iter().find(|l| l.text == "Patient").unwrap();
        assert!(h.bold);
        assert!(out.iter().any(|l| l.text == "Discharge summary" && l.bold));
        for l in &out {
            assert!(!l.text.contains('|'), "{l:?}");
            assert!(!l.text.contains('#'), "{l:?}");
            assert!(!l.text.contains("**"), "{l:?}");
            assert!(!l.text.contains("---"), "{l:?}");
        }
        assert!(out[0].bold, "a paragraph in ** is bold: {:?}", out[0]);
        assert_eq!(out[0].text, "DRAFT: the course is still running.");
    }

    #[test]
    fn a_table_that_fits_is_aligned_in_columns_with_a_bold_header() {
        let out = format(MD, 76);
        let t = texts(&out);
        let i = t.iter().position(|l| l.starts_with("Item")).unwrap();
        assert!(out[i].bold);
        assert_eq!(t[i], "Item        Value");
        assert_eq!(t[i + 1], "Name        Jan Jansen");
        assert_eq!(t[i + 2], "Birth date  1970-05-01");
        assert!(!out[i + 1].bold);
    }

    #[test]
    fn a_wide_table_wraps_its_cells_inside_the_width_and_keeps_columns_aligned() {
        // Too narrow for seven columns without cutting a word: "header: value" lines.
        let out = format(MD, 40);
        let t = texts(&out);
        assert!(t.contains(&"Severity: mild"), "{}", t.join("\n"));
        assert!(t.contains(&"Rate at first: 4 mg/h"), "{}", t.join("\n"));
        let out = format(MD, 60);
        assert!(texts(&out).contains(&"Severity: mild"));
        for width in [76, 116] {
            let out = format(MD, width);
            for l in &out {
                assert!(l.text.width() <= width, "{width}: {l:?}");
            }
            let t = texts(&out);
            let head = t.iter().position(|l| l.contains("Sever")).unwrap();
            // Every row's second column starts where the header's does.
            let col = |s: &str| s.find("mild").or_else(|| s.find("Sev"));
            let at = col(t[head]).unwrap();
            let row = t[head..].iter().find(|l| l.starts_with("nausea")).unwrap();
            assert_eq!(col(row), Some(at), "{width}:\n{}", t.join("\n"));
            // Nothing of the row is lost, and no word is cut.
            let all = t.join(" ");
            for word in ["rate-lowered,", "paused", "mg/h", "2026-03-09", "Severity"] {
                assert!(all.contains(word), "{width}: {word}");
            }
        }
    }

    #[test]
    fn paragraphs_and_list_items_wrap_at_words() {
        let out = format(MD, 40);
        let t = texts(&out);
        let i = t.iter().position(|l| l.starts_with("• entry 12")).unwrap();
        assert!(t[i + 1].starts_with("  "), "{t:?}");
        for l in &t {
            assert!(l.width() <= 40);
            // No word is cut: every word of the source line is whole somewhere.
        }
        let joined = t[i..].join(" ");
        assert!(joined.contains("because the pump showed"), "{joined}");
    }

    #[test]
    fn wrap_cuts_only_a_word_longer_than_the_line() {
        assert_eq!(wrap("one two three", 7), ["one two", "three"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), [""]);
    }

    #[test]
    fn column_widths_share_what_is_left_after_the_narrow_columns() {
        let long = |w: &str| [w; 10].join(" ");
        let rows = vec![vec!["ab".to_string(), long("xxxx"), long("yyyyy")]];
        let w = column_widths(&rows, 40).unwrap();
        assert_eq!(w[0], 2);
        assert_eq!(w.iter().sum::<usize>() + 4, 40);
        assert_eq!(column_widths(&rows, 200), Some(vec![2, 49, 59]));
        // A word wider than its share: no table at all rather than a cut word.
        let rows = vec![vec!["a".to_string(), "x".repeat(30), "y".repeat(30)]];
        assert_eq!(column_widths(&rows, 40), None);
    }
}
