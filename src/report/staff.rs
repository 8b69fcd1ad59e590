//! `titrate staff list`: one line per account, in columns that line up whatever the ids and
//! names (wide East Asian characters, combining marks) hold.

use unicode_width::UnicodeWidthStr;

use crate::domain::record::Staff;
use crate::domain::values::printable;

fn state(s: &Staff) -> String {
    match (s.active, s.locked) {
        (false, _) => "deactivated".into(),
        (true, true) => "LOCKED".into(),
        (true, false) if s.failed_pins > 0 => format!("active ({} wrong PIN)", s.failed_pins),
        (true, false) => "active".into(),
    }
}

/// The table with a header; each column is as wide as its widest cell on screen, the name
/// last so that a long name never pushes another column.
pub fn table(staff: &[Staff]) -> String {
    let header = ["ID", "ROLE", "STATE", "NAME"];
    let rows: Vec<[String; 4]> = staff
        .iter()
        .map(|s| {
            [
                printable(&s.id),
                s.role.as_str().to_string(),
                state(s),
                printable(&s.name),
            ]
        })
        .collect();
    let mut widths = header.map(UnicodeWidthStr::width);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.width());
        }
    }
    let mut out = String::new();
    let header = header.map(str::to_string);
    for r in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < r.len() {
                line.push_str(&" ".repeat(widths[i] - cell.width() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::values::Role;

    fn s(id: &str, name: &str, role: Role) -> Staff {
        Staff {
            id: id.into(),
            name: name.into(),
            role,
            pin_hash: String::new(),
            active: true,
            failed_pins: 0,
            locked: false,
        }
    }

    #[test]
    fn columns_start_at_the_same_screen_column_on_every_line() {
        let mut locked = s("ABCDEFGHIJKL", "Émile Ångström", Role::Physician);
        locked.locked = true;
        let mut gone = s("X", "山田太郎", Role::Nurse);
        gone.active = false;
        let t = table(&[s("AB", "Anna Boer", Role::Admin), locked, gone]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4);
        // Where each column starts, in screen cells, must be the same on every line.
        let starts = |l: &str| -> Vec<usize> {
            let mut out = vec![];
            let mut col = 0;
            let mut prev_space = 0;
            for ch in l.chars() {
                if ch == ' ' {
                    prev_space += 1;
                } else {
                    if prev_space >= 2 || (col == 0 && out.is_empty()) {
                        out.push(col);
                    }
                    prev_space = 0;
                }
                col += UnicodeWidthStr::width(ch.to_string().as_str());
            }
            out
        };
        let first = starts(lines[0]);
        for l in &lines {
            assert_eq!(starts(l), first, "{t}");
        }
    }
}
