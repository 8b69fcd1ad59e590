//! The discharge summary as an A4 PDF: text laid out with the embedded DejaVu Sans (so a
//! machine without fonts makes the same file), the chart drawn as vector paths, selectable
//! text throughout. Layout first builds a list of drawing operations per page; rendering
//! then paints them, so the footer can say "page 2 of 3".

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke, StrokeDash};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use skrifa::MetadataProvider;
use skrifa::instance::{LocationRef, Size};

use super::num;
use super::summary::{Chart, Summary};

static REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 50.0;
const BOTTOM: f32 = PAGE_H - 60.0;
const BODY: f32 = 9.5;
const LINE: f32 = 13.0;

type Colour = (u8, u8, u8);
const BLACK: Colour = (0, 0, 0);
const GREY: Colour = (110, 110, 110);
const LIGHT: Colour = (215, 215, 215);
const RED: Colour = (190, 30, 30);
const BLUE: Colour = (25, 80, 170);
const WHITE: Colour = (255, 255, 255);
/// The line joining the pain scores: lighter than their black marks.
const NRS_LINE: Colour = (120, 150, 205);
/// Width of the NRS chart's follow-up slot, right of the course, where T2 is drawn.
const FOLLOW_UP_SLOT: f32 = 56.0;

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("the embedded font could not be read")]
    Font,
    #[error("the PDF could not be written: {0}")]
    Write(String),
}

#[derive(Debug, Clone)]
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        colour: Colour,
        text: String,
    },
    Line {
        pts: Vec<(f32, f32)>,
        width: f32,
        colour: Colour,
        dashed: bool,
    },
    Square {
        x: f32,
        y: f32,
        side: f32,
        colour: Colour,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        colour: Colour,
    },
    /// A filled polygon.
    Polygon {
        pts: Vec<(f32, f32)>,
        colour: Colour,
    },
}

/// Text width in points, from the font's own advance widths.
fn width(bold: bool, text: &str, size: f32) -> f32 {
    let Ok(font) = skrifa::FontRef::new(if bold { BOLD } else { REGULAR }) else {
        return text.chars().count() as f32 * size * 0.6;
    };
    let charmap = font.charmap();
    let metrics = font.glyph_metrics(Size::new(size), LocationRef::default());
    text.chars()
        .map(|c| {
            charmap
                .map(c)
                .and_then(|g| metrics.advance_width(g))
                .unwrap_or(size * 0.6)
        })
        .sum()
}

/// Greedy word wrap to `max` points. A word wider than a line is broken between
/// characters, so that nothing runs off the page.
fn wrap(bold: bool, text: &str, size: f32, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text
        .split_whitespace()
        .flat_map(|w| break_word(bold, w, size, max))
    {
        let candidate = if cur.is_empty() {
            word.clone()
        } else {
            format!("{cur} {word}")
        };
        if width(bold, &candidate, size) <= max || cur.is_empty() {
            cur = candidate;
        } else {
            lines.push(std::mem::take(&mut cur));
            cur = word;
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

/// `word` in pieces each at most `max` points wide (one character at the least).
fn break_word(bold: bool, word: &str, size: f32, max: f32) -> Vec<String> {
    if width(bold, word, size) <= max {
        return vec![word.to_string()];
    }
    let mut pieces = Vec::new();
    let mut cur = String::new();
    for c in word.chars() {
        cur.push(c);
        if width(bold, &cur, size) > max && cur.chars().count() > 1 {
            cur.pop();
            pieces.push(std::mem::replace(&mut cur, c.to_string()));
        }
    }
    if !cur.is_empty() {
        pieces.push(cur);
    }
    pieces
}

/// Hebrew, Arabic and the other right-to-left scripts (with their presentation forms).
fn is_rtl(c: char) -> bool {
    matches!(c as u32, 0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF)
}

/// A line cut into runs drawn left to right: each run of right-to-left text (its words and
/// the spaces and punctuation between them, not digits) is shaped right to left on its own,
/// the rest left to right. krilla's simple text shapes one string in one direction and has
/// no bidirectional algorithm: this is the part of it a line of labels with a name needs.
fn runs(text: &str) -> Vec<(bool, String)> {
    let mut out: Vec<(bool, String)> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if is_rtl(chars[i]) {
            // Extend over neutrals as long as another right-to-left letter follows.
            let mut end = i + 1;
            let mut j = i + 1;
            while j < chars.len() {
                let c = chars[j];
                if is_rtl(c) {
                    end = j + 1;
                } else if c.is_alphanumeric() {
                    break;
                }
                j += 1;
            }
            out.push((true, chars[i..end].iter().collect()));
            i = end;
        } else {
            let start = i;
            while i < chars.len() && !is_rtl(chars[i]) {
                i += 1;
            }
            out.push((false, chars[start..i].iter().collect()));
        }
    }
    out
}

struct Layout {
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl Layout {
    fn new() -> Layout {
        Layout {
            pages: vec![vec![]],
            y: MARGIN,
        }
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(vec![]);
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn ensure(&mut self, h: f32) {
        if self.y + h > BOTTOM {
            self.pages.push(vec![]);
            self.y = MARGIN + 10.0;
        }
    }

    fn text(&mut self, x: f32, size: f32, bold: bool, colour: Colour, text: &str) {
        let y = self.y;
        self.ops().push(Op::Text {
            x,
            y,
            size,
            bold,
            colour,
            text: text.to_string(),
        });
    }

    /// A section heading, kept on the same page as the first `keep` points that follow it.
    fn heading(&mut self, t: &str, keep: f32) {
        self.ensure(LINE * 2.0 + 14.0 + keep);
        self.y += 8.0;
        self.text(MARGIN, 11.5, true, BLACK, t);
        self.y += 4.0;
        let y = self.y;
        self.ops().push(Op::Line {
            pts: vec![(MARGIN, y), (PAGE_W - MARGIN, y)],
            width: 0.5,
            colour: LIGHT,
            dashed: false,
        });
        self.y += LINE;
    }

    fn paragraph(&mut self, t: &str, colour: Colour) {
        for line in wrap(false, t, BODY, PAGE_W - 2.0 * MARGIN) {
            self.ensure(LINE);
            self.text(MARGIN, BODY, false, colour, &line);
            self.y += LINE;
        }
    }

    /// Two columns: a bold label and a wrapped value.
    fn pairs(&mut self, rows: &[(String, String)]) {
        let label_w = 150.0;
        let value_w = PAGE_W - 2.0 * MARGIN - label_w;
        for (k, v) in rows {
            let lines = wrap(false, v, BODY, value_w);
            self.ensure(LINE * lines.len() as f32);
            self.text(MARGIN, BODY, true, BLACK, k);
            for l in lines {
                self.text(MARGIN + label_w, BODY, false, BLACK, &l);
                self.y += LINE;
            }
        }
    }

    /// A table with a header row; cells wrap inside their column.
    fn table(&mut self, header: &[&str], widths: &[f32], rows: &[Vec<String>]) {
        let draw_row = |me: &mut Layout, cells: &[String], bold: bool| {
            let wrapped: Vec<Vec<String>> = cells
                .iter()
                .zip(widths)
                .map(|(c, w)| wrap(bold, c, BODY - 0.5, w - 4.0))
                .collect();
            let h = wrapped.iter().map(Vec::len).max().unwrap_or(1) as f32 * (LINE - 1.0);
            me.ensure(h + 2.0);
            let mut x = MARGIN;
            let top = me.y;
            for (lines, w) in wrapped.iter().zip(widths) {
                me.y = top;
                for l in lines {
                    me.text(x, BODY - 0.5, bold, BLACK, l);
                    me.y += LINE - 1.0;
                }
                x += w;
            }
            me.y = top + h;
            let y = me.y - LINE + 4.0;
            me.ops().push(Op::Line {
                pts: vec![(MARGIN, y), (PAGE_W - MARGIN, y)],
                width: 0.3,
                colour: LIGHT,
                dashed: false,
            });
        };
        let head: Vec<String> = header.iter().map(|s| s.to_string()).collect();
        draw_row(self, &head, true);
        for r in rows {
            draw_row(self, r, false);
        }
    }

    fn chart(&mut self, c: &Chart) {
        let panel_h = 115.0;
        let nrs_h = 50.0;
        let total = panel_h + nrs_h + 50.0;
        self.ensure(total);
        let x0 = MARGIN + 34.0;
        let x1 = PAGE_W - MARGIN - 10.0;
        // The course's time axis; T2, weeks later, gets a slot of its own at the right.
        let xc = if c.follow_up.is_some() {
            x1 - FOLLOW_UP_SLOT
        } else {
            x1
        };
        let span = c.span_hours.max(1.0);
        let sx = |h: f64| x0 + (h.clamp(0.0, span) / span) as f32 * (xc - x0);
        // Rate panel.
        let top = self.y + 4.0;
        let bottom = top + panel_h;
        let y_max = (c.max_rate + 2.0).max(2.0);
        let sy = |v: f64| bottom - (v / y_max) as f32 * panel_h;
        self.text(MARGIN, 8.0, true, BLACK, "Rate (mg/h)");
        if !c.side_effects.is_empty() {
            let label = crate::strings::CHART_SIDE_EFFECT_LEGEND;
            let lx = xc - width(false, label, 7.0);
            let ly = self.y;
            self.ops().push(triangle(lx - 7.0, ly - 2.5));
            self.ops().push(Op::Text {
                x: lx,
                y: ly,
                size: 7.0,
                bold: false,
                colour: GREY,
                text: label.into(),
            });
        }
        let mut v = 0.0;
        while v <= y_max {
            let y = sy(v);
            self.ops().push(Op::Line {
                pts: vec![(x0, y), (xc, y)],
                width: 0.25,
                colour: LIGHT,
                dashed: false,
            });
            self.ops().push(Op::Text {
                x: MARGIN,
                y: y + 3.0,
                size: 7.0,
                bold: false,
                colour: GREY,
                text: num(v),
            });
            v += 2.0;
        }
        let my = sy(c.max_rate);
        self.ops().push(Op::Line {
            pts: vec![(x0, my), (xc, my)],
            width: 0.8,
            colour: RED,
            dashed: true,
        });
        self.ops().push(Op::Text {
            x: xc - 80.0,
            y: my - 3.0,
            size: 7.0,
            bold: false,
            colour: RED,
            text: format!("maximum {} mg/h", num(c.max_rate)),
        });
        let pts: Vec<(f32, f32)> = c.rate.iter().map(|(h, r)| (sx(*h), sy(*r))).collect();
        if pts.len() > 1 {
            self.ops().push(Op::Line {
                pts,
                width: 1.3,
                colour: BLUE,
                dashed: false,
            });
        }
        // Each side effect at its time, on the rate that was running.
        for (h, r) in &c.side_effects {
            self.ops().push(triangle(sx(*h), sy(*r)));
        }
        self.ops().push(Op::Line {
            pts: vec![(x0, top), (x0, bottom), (xc, bottom)],
            width: 0.6,
            colour: BLACK,
            dashed: false,
        });
        // NRS panel.
        let ntop = bottom + 18.0;
        let nbottom = ntop + nrs_h;
        let ny = |v: f64| nbottom - (v / 10.0) as f32 * nrs_h;
        self.ops().push(Op::Text {
            x: MARGIN,
            y: ntop - 4.0,
            size: 8.0,
            bold: true,
            colour: BLACK,
            text: "NRS".into(),
        });
        for v in [0.0, 5.0, 10.0] {
            let y = ny(v);
            self.ops().push(Op::Line {
                pts: vec![(x0, y), (x1, y)],
                width: 0.25,
                colour: LIGHT,
                dashed: false,
            });
            self.ops().push(Op::Text {
                x: MARGIN,
                y: y + 3.0,
                size: 7.0,
                bold: false,
                colour: GREY,
                text: num(v),
            });
        }
        // T0 is taken before the start and T1 just after the end: they are drawn at the
        // chart's edges (sx clamps) rather than left out. The scores are joined in time
        // order by a line lighter than their marks, so each score still reads as a point.
        let line: Vec<(f32, f32)> = c.nrs.iter().map(|(h, s)| (sx(*h), ny(*s))).collect();
        if line.len() > 1 {
            self.ops().push(Op::Line {
                pts: line.clone(),
                width: 1.0,
                colour: NRS_LINE,
                dashed: false,
            });
        }
        let t2 = c
            .follow_up
            .as_ref()
            .map(|f| (x1 - FOLLOW_UP_SLOT / 2.0, ny(f.score)));
        if let (Some(last), Some(t2)) = (line.last(), t2) {
            // Dashed: weeks pass between the end of the infusion and T2.
            self.ops().push(Op::Line {
                pts: vec![*last, t2],
                width: 1.0,
                colour: NRS_LINE,
                dashed: true,
            });
        }
        for (x, y) in line.iter().chain(t2.iter()) {
            self.ops().push(Op::Square {
                x: x - 1.8,
                y: y - 1.8,
                side: 3.6,
                colour: BLACK,
            });
        }
        let mut labels: Vec<(f32, f32, f32, &str)> = c
            .timepoints
            .iter()
            .map(|(h, s, l)| (sx(*h), ny(*s), xc, l.as_str()))
            .collect();
        if let Some((x, y)) = t2 {
            labels.push((x, y, x1, "T2"));
        }
        for (x, y, limit, label) in labels {
            self.point_label(x, y, limit, label);
        }
        self.ops().push(Op::Line {
            pts: vec![(x0, ntop), (x0, nbottom), (x1, nbottom)],
            width: 0.6,
            colour: BLACK,
            dashed: false,
        });
        // Days on the shared x axis.
        let days = (span / 24.0).ceil() as i64;
        for d in 0..=days {
            let x = sx(d as f64 * 24.0);
            self.ops().push(Op::Line {
                pts: vec![(x, nbottom), (x, nbottom + 3.0)],
                width: 0.5,
                colour: BLACK,
                dashed: false,
            });
            if d < days {
                let label = format!("day {}", d + 1);
                let lx = sx(d as f64 * 24.0 + 12.0) - width(false, &label, 7.0) / 2.0;
                self.ops().push(Op::Text {
                    x: lx,
                    y: nbottom + 12.0,
                    size: 7.0,
                    bold: false,
                    colour: GREY,
                    text: label,
                });
            }
        }
        if let (Some(f), Some((x, _))) = (&c.follow_up, t2) {
            let label = crate::strings::chart_follow_up(f.days_after_end);
            let lx = (x - width(false, &label, 7.0) / 2.0).min(x1 - width(false, &label, 7.0));
            self.ops().push(Op::Text {
                x: lx,
                y: nbottom + 12.0,
                size: 7.0,
                bold: false,
                colour: GREY,
                text: label,
            });
            // The break in the time axis between the course and the follow-up.
            let bx = xc + 6.0;
            self.ops().push(Op::Line {
                pts: vec![(bx - 2.0, nbottom + 3.0), (bx + 2.0, nbottom - 3.0)],
                width: 0.6,
                colour: BLACK,
                dashed: false,
            });
            self.ops().push(Op::Line {
                pts: vec![(bx + 1.0, nbottom + 3.0), (bx + 5.0, nbottom - 3.0)],
                width: 0.6,
                colour: BLACK,
                dashed: false,
            });
        }
        self.y = nbottom + 22.0;
    }

    /// A timepoint's label beside its mark, on the mark's own height (so that mark and
    /// label read as one), right of it unless that passes `limit`; on a white ground so
    /// that the line through the point does not run through the letters.
    fn point_label(&mut self, x: f32, y: f32, limit: f32, label: &str) {
        let size = 7.0;
        let w = width(true, label, size);
        let lx = if x + 4.0 + w <= limit {
            x + 4.0
        } else {
            x - 4.0 - w
        };
        self.ops().push(Op::Rect {
            x: lx - 1.0,
            y: y - 3.6,
            w: w + 2.0,
            h: 7.2,
            colour: WHITE,
        });
        self.ops().push(Op::Text {
            x: lx,
            y: y + 2.5,
            size,
            bold: true,
            colour: BLACK,
            text: label.to_string(),
        });
    }
}

/// A small filled triangle centred on (x, y): a side effect on the rate chart.
fn triangle(x: f32, y: f32) -> Op {
    Op::Polygon {
        pts: vec![(x - 3.0, y + 2.6), (x + 3.0, y + 2.6), (x, y - 2.6)],
        colour: RED,
    }
}

fn layout(s: &Summary) -> Vec<Vec<Op>> {
    let mut l = Layout::new();
    for line in wrap(
        false,
        &format!("{} · {}", s.hospital, s.ward),
        8.5,
        PAGE_W - 2.0 * MARGIN,
    ) {
        l.text(MARGIN, 8.5, false, GREY, &line);
        l.y += 11.0;
    }
    l.y += 9.0;
    l.text(
        MARGIN,
        16.0,
        true,
        BLACK,
        "Discharge summary: S-ketamine infusion",
    );
    l.y += 16.0;
    let ids = format!("MRN {} · course {} · {}", s.mrn, s.course_id, s.zone_note);
    let ids = wrap(false, &ids, 9.0, PAGE_W - 2.0 * MARGIN);
    let last = ids.len().saturating_sub(1);
    for (i, line) in ids.iter().enumerate() {
        l.text(MARGIN, 9.0, false, GREY, line);
        if i < last {
            l.y += 11.0;
        }
    }
    for line in wrap(true, &s.responsible_line(), 9.5, PAGE_W - 2.0 * MARGIN) {
        l.y += 13.0;
        l.text(MARGIN, 9.5, true, BLACK, &line);
    }
    l.y += 6.0;
    if s.draft {
        l.y += 8.0;
        l.paragraph(
            "DRAFT: the course is still running; figures are up to the time of generation.",
            RED,
        );
    }
    l.heading("Patient", LINE * 3.0);
    l.pairs(&s.patient);
    l.heading(crate::strings::ADVICE_HEADING, LINE * 2.0);
    match &s.letter {
        Some(letter) => {
            l.paragraph(&letter.advice, BLACK);
            l.y += 3.0;
            l.paragraph(&format!("({})", letter.written), GREY);
        }
        None => l.paragraph(crate::strings::NO_ADVICE, GREY),
    }
    l.heading("Treatment", LINE * 3.0);
    l.pairs(&s.treatment);
    l.heading("Pain", LINE * 3.0);
    l.pairs(&s.pain);
    l.heading("Rate and pain over the course", 215.0);
    l.chart(&s.chart);
    l.heading("Side effects", LINE * 2.0);
    if s.side_effects.is_empty() {
        l.paragraph("None recorded.", BLACK);
    } else {
        let rows: Vec<Vec<String>> = s
            .side_effects
            .iter()
            .map(|r| {
                vec![
                    r.kind.clone(),
                    r.severity.clone(),
                    r.first.clone(),
                    r.last.clone(),
                    r.count.to_string(),
                    r.rate.clone(),
                    r.action.clone(),
                ]
            })
            .collect();
        l.table(
            &[
                "Side effect",
                "Severity",
                "First",
                "Last",
                "Times",
                "Rate at first",
                "Action",
            ],
            &[70.0, 50.0, 88.0, 88.0, 34.0, 52.0, 113.0],
            &rows,
        );
    }
    l.heading("Follow-up", LINE * 2.0);
    l.pairs(&s.follow_up);
    l.heading("Corrections in the record", LINE);
    if s.corrections.is_empty() {
        l.paragraph("No entry of this course was amended or voided.", BLACK);
    } else {
        for c in &s.corrections {
            l.paragraph(&format!("• {c}"), BLACK);
        }
    }
    l.y += 10.0;
    l.paragraph(
        &format!(
            "Generated by {} on {} with titrate.",
            s.generated_by, s.generated_at
        ),
        GREY,
    );
    l.pages
}

fn colour((r, g, b): Colour) -> krilla::paint::Paint {
    rgb::Color::new(r, g, b).into()
}

fn paint(surface: &mut Surface, op: &Op, fonts: &(Font, Font)) {
    match op {
        Op::Text {
            x,
            y,
            size,
            bold,
            colour: c,
            text,
        } => {
            surface.set_stroke(None);
            surface.set_fill(Some(Fill {
                paint: colour(*c),
                ..Default::default()
            }));
            let font = if *bold {
                fonts.1.clone()
            } else {
                fonts.0.clone()
            };
            let mut x = *x;
            for (rtl, run) in runs(text) {
                let direction = if rtl {
                    TextDirection::RightToLeft
                } else {
                    TextDirection::LeftToRight
                };
                surface.draw_text(
                    Point::from_xy(x, *y),
                    font.clone(),
                    *size,
                    &run,
                    false,
                    direction,
                );
                x += width(*bold, &run, *size);
            }
        }
        Op::Line {
            pts,
            width,
            colour: c,
            dashed,
        } => {
            let mut pb = PathBuilder::new();
            for (i, (x, y)) in pts.iter().enumerate() {
                if i == 0 {
                    pb.move_to(*x, *y)
                } else {
                    pb.line_to(*x, *y)
                }
            }
            if let Some(path) = pb.finish() {
                surface.set_fill(None);
                surface.set_stroke(Some(Stroke {
                    paint: colour(*c),
                    width: *width,
                    dash: dashed.then(|| StrokeDash {
                        array: vec![4.0, 3.0],
                        offset: 0.0,
                    }),
                    ..Default::default()
                }));
                surface.draw_path(&path);
            }
        }
        Op::Square {
            x,
            y,
            side,
            colour: c,
        } => fill_rect(surface, *x, *y, *side, *side, *c),
        Op::Rect {
            x,
            y,
            w,
            h,
            colour: c,
        } => fill_rect(surface, *x, *y, *w, *h, *c),
        Op::Polygon { pts, colour: c } => {
            let mut pb = PathBuilder::new();
            for (i, (x, y)) in pts.iter().enumerate() {
                if i == 0 {
                    pb.move_to(*x, *y)
                } else {
                    pb.line_to(*x, *y)
                }
            }
            pb.close();
            if let Some(path) = pb.finish() {
                surface.set_stroke(None);
                surface.set_fill(Some(Fill {
                    paint: colour(*c),
                    ..Default::default()
                }));
                surface.draw_path(&path);
            }
        }
    }
}

fn fill_rect(surface: &mut Surface, x: f32, y: f32, w: f32, h: f32, c: Colour) {
    let mut pb = PathBuilder::new();
    if let Some(r) = Rect::from_xywh(x, y, w, h) {
        pb.push_rect(r);
    }
    if let Some(path) = pb.finish() {
        surface.set_stroke(None);
        surface.set_fill(Some(Fill {
            paint: colour(c),
            ..Default::default()
        }));
        surface.draw_path(&path);
    }
}

/// The summary as PDF bytes. The same summary gives the same bytes.
pub fn render(s: &Summary) -> Result<Vec<u8>, PdfError> {
    let fonts = (
        Font::new(REGULAR.to_vec().into(), 0).ok_or(PdfError::Font)?,
        Font::new(BOLD.to_vec().into(), 0).ok_or(PdfError::Font)?,
    );
    let pages = layout(s);
    let n = pages.len();
    let mut doc = Document::new();
    doc.set_metadata(
        krilla::metadata::Metadata::new()
            .title(format!(
                "Discharge summary, MRN {}, course {}",
                s.mrn, s.course_id
            ))
            .creator("titrate".to_string())
            .language("en".to_string()),
    );
    for (i, ops) in pages.iter().enumerate() {
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
            .ok_or_else(|| PdfError::Write("page size".into()))?;
        let mut page = doc.start_page_with(settings);
        let mut surface = page.surface();
        if s.draft {
            // A pale band in the top margin, where no text is laid out: the mark is seen on
            // every page and hides nothing (a diagonal mark across the body covered figures).
            surface.set_fill(Some(Fill {
                paint: colour((245, 215, 215)),
                opacity: NormalizedF32::ONE,
                ..Default::default()
            }));
            let mut pb = PathBuilder::new();
            if let Some(r) = Rect::from_xywh(0.0, 8.0, PAGE_W, 24.0) {
                pb.push_rect(r);
            }
            if let Some(path) = pb.finish() {
                surface.draw_path(&path);
            }
            surface.set_fill(Some(Fill {
                paint: colour(RED),
                opacity: NormalizedF32::ONE,
                ..Default::default()
            }));
            surface.draw_text(
                Point::from_xy(MARGIN, 25.0),
                fonts.1.clone(),
                12.0,
                "DRAFT: the course is still running",
                false,
                TextDirection::Auto,
            );
        }
        for op in ops {
            paint(&mut surface, op, &fonts);
        }
        let footer = format!(
            "{}MRN {} · course {} · generated {} · page {} of {}",
            if s.draft { "DRAFT · " } else { "" },
            s.mrn,
            s.course_id,
            s.generated_at,
            i + 1,
            n
        );
        // The patient on every page, so a loose page still belongs to someone.
        let who = format!(
            "{} · born {} · MRN {}",
            s.name.replace(['\n', '\r'], " "),
            s.birth_date,
            s.mrn
        );
        for line in wrap(false, &who, 7.5, PAGE_W - 2.0 * MARGIN).iter().take(1) {
            paint(
                &mut surface,
                &Op::Text {
                    x: MARGIN,
                    y: PAGE_H - 41.0,
                    size: 7.5,
                    bold: false,
                    colour: GREY,
                    text: line.clone(),
                },
                &fonts,
            );
        }
        paint(
            &mut surface,
            &Op::Text {
                x: MARGIN,
                y: PAGE_H - 30.0,
                size: 7.5,
                bold: s.draft,
                colour: if s.draft { RED } else { GREY },
                text: footer,
            },
            &fonts,
        );
        surface.finish();
        page.finish();
    }
    doc.finish().map_err(|e| PdfError::Write(format!("{e:?}")))
}

// The sheet helpers for other reports are appended after these tests.
#[allow(clippy::items_after_test_module)]
#[cfg(test)]
mod wrap_tests {
    use super::*;

    #[test]
    fn a_word_wider_than_the_line_is_broken_to_fit() {
        let word = "W".repeat(100);
        let max = 200.0;
        let lines = wrap(false, &format!("before {word} after"), BODY, max);
        assert!(lines.len() > 2, "{lines:?}");
        for line in &lines {
            assert!(width(false, line, BODY) <= max, "{line}");
        }
        assert_eq!(
            lines.concat().replace(' ', ""),
            format!("before{word}after")
        );
    }

    #[test]
    fn right_to_left_words_are_runs_of_their_own() {
        assert_eq!(
            runs("Name: דוד כהן, MRN 12"),
            vec![
                (false, "Name: ".to_string()),
                (true, "דוד כהן".to_string()),
                (false, ", MRN 12".to_string()),
            ]
        );
        assert_eq!(runs("محمد علي"), vec![(true, "محمد علي".to_string())]);
        assert_eq!(runs("plain"), vec![(false, "plain".to_string())]);
    }
}

// ---- helpers for other A4 sheets (the shift handover lays out its own pages) ----

/// One piece of text on a page of another sheet, at (x, y) from the top left, in points.
pub struct SheetText {
    pub x: f32,
    pub y: f32,
    pub size: f32,
    pub bold: bool,
    pub grey: bool,
    pub text: String,
}

/// `text` broken into lines no wider than `max` points at `size`, with the embedded font.
pub fn wrap_lines(bold: bool, text: &str, size: f32, max: f32) -> Vec<String> {
    wrap(bold, text, size, max)
}

/// A4 pages of text with the embedded fonts, and a thin rule under each `rules` y.
pub fn render_sheet(
    title: &str,
    pages: &[(Vec<SheetText>, Vec<f32>)],
) -> Result<Vec<u8>, PdfError> {
    let fonts = (
        Font::new(REGULAR.to_vec().into(), 0).ok_or(PdfError::Font)?,
        Font::new(BOLD.to_vec().into(), 0).ok_or(PdfError::Font)?,
    );
    let mut doc = Document::new();
    doc.set_metadata(
        krilla::metadata::Metadata::new()
            .title(title.to_string())
            .creator("titrate".to_string())
            .language("en".to_string()),
    );
    for (texts, rules) in pages {
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
            .ok_or_else(|| PdfError::Write("page size".into()))?;
        let mut page = doc.start_page_with(settings);
        let mut surface = page.surface();
        for y in rules {
            let op = Op::Line {
                pts: vec![(MARGIN, *y), (PAGE_W - MARGIN, *y)],
                width: 0.6,
                colour: LIGHT,
                dashed: false,
            };
            paint(&mut surface, &op, &fonts);
        }
        for t in texts {
            let op = Op::Text {
                x: t.x,
                y: t.y,
                size: t.size,
                bold: t.bold,
                colour: if t.grey { GREY } else { BLACK },
                text: t.text.clone(),
            };
            paint(&mut surface, &op, &fonts);
        }
        surface.finish();
        page.finish();
    }
    doc.finish().map_err(|e| PdfError::Write(format!("{e:?}")))
}
