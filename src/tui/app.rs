//! The terminal's state and its one `update` function. Keys and ticks come in as messages;
//! only `update` changes state; drawing reads it.

use chrono::Duration;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::form::{CourseFacts, Edit, FieldKind, Form, FormContext, FormKind};
use super::keys::{self, Action};
use super::view::{self, DetailView, PatientHit, WardView};
use crate::config::Config;
use crate::domain::dose::rate_at;
use crate::domain::entry::Entry;
use crate::domain::entry::{EntryId, PatientId};
use crate::domain::record::PatientRecord;
use crate::domain::record::Staff;
use crate::domain::rules::Permission;
use crate::domain::time::Instant;
use crate::store::Db;
use crate::ward::WardError;
use crate::ward::access;
use crate::ward::entries::{Intent, Session};
use crate::ward::picture::Picture;

mod letter;

/// How often the overview's flags are recomputed when nothing is written: well inside the
/// hourly check interval, cheap because it reads no database.
pub const WARD_RECOMPUTE_SECS: i64 = 30;

#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    /// The clock moved on: idle sign-out, "data changed elsewhere", overdue flags.
    Tick(Instant),
    /// A whole tick passed without a key: time for work nobody is waiting on.
    Idle,
    /// The window's size (columns, rows): the preview lays itself out for it.
    Resize(u16, u16),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    SignIn,
    /// No staff yet: create the first admin.
    Setup,
    Overview,
    Detail,
    Search,
    /// The study's cohort table.
    Cohort,
    /// The shift handover of the whole ward.
    Handover,
    /// Staff accounts (admins only).
    Staff,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Active,
    FollowUp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub level: Level,
    pub text: String,
}

/// What waits for a yes/no because it would throw away a half-filled form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pending {
    CloseForm,
    SignOut,
    Quit,
}

#[derive(Debug, Default, Clone)]
pub struct Credentials {
    pub fields: [String; 4],
    pub focus: usize,
    pub error: Option<String>,
}

pub struct App {
    pub cfg: Config,
    pub db: Db,
    pub now: Instant,
    pub screen: Screen,
    pub user: Option<Staff>,
    /// Sign-in: id, PIN. Setup: id, name, PIN, PIN again.
    pub creds: Credentials,
    pub ward: WardView,
    /// The records behind `ward`, refreshed patient by patient. Emptied at sign-out; the
    /// sign-in screen reads it again while it waits (never drawing it).
    pub ward_cache: view::WardCache,
    /// The cohort screen's per-patient outcomes; emptied at sign-out.
    pub cohort_cache: view::CohortCache,
    pub tab: Tab,
    /// The highlighted row, re-found after every change of the list from the patient it
    /// shows (`selected_patient`): a re-sort must never move an entry to another patient.
    pub selected: usize,
    pub selected_patient: Option<PatientId>,
    /// The patient the other tab was left on, for Tab back.
    pub other_tab_patient: Option<PatientId>,
    /// The highlighted patient left the list (their course ended elsewhere): no row is
    /// selected until the user moves, so no key acts on whoever took their row.
    pub selection_lost: bool,
    pub detail: Option<DetailView>,
    /// Likewise the highlighted timeline row follows its entry (`detail_entry`).
    pub detail_sel: usize,
    pub detail_entry: Option<EntryId>,
    pub query: String,
    pub hits: Vec<PatientHit>,
    pub hit_sel: usize,
    /// The highlighted hit's patient left the results: no hit is selected until a move.
    pub hit_lost: bool,
    pub form: Option<Form>,
    /// A form left open at an idle sign-out, kept for the same person.
    pub stash: Option<(String, Form)>,
    pub help: bool,
    pub pending: Option<Pending>,
    pub message: Option<Message>,
    pub last_input: Instant,
    pub data_version: i64,
    pub quit: bool,
    pub demo_hint: Option<String>,
    /// Set while the database server does not answer: the line that says so.
    pub offline: Option<String>,
    /// The cohort table's lines and range, computed when the screen opens or data changes.
    pub cohort: Vec<String>,
    pub cohort_range: crate::report::cohort::Range,
    pub cohort_scroll: usize,
    /// The shift handover, built when the screen opens or data changes (report::handover).
    pub handover: Option<crate::report::handover::Handover>,
    pub handover_scroll: usize,
    /// A discharge summary shown after it was written, formatted for the window.
    pub preview: Option<super::markdown::Preview>,
    /// The staff screen's list (`staff.rs`).
    pub staff: super::staff::StaffList,
    /// A small form of the staff, own-PIN or patient-details screens (`panel.rs`).
    pub panel: Option<super::panel::Panel>,
    /// A staff change waiting for y / n.
    pub confirm: Option<super::staff::Confirm>,
    /// The window's size, from the last resize (80x24 until one arrives).
    pub size: (u16, u16),
    /// False under NO_COLOR: meaning is then carried by text and bold/reverse only.
    pub colour: bool,
}

impl App {
    pub fn new(cfg: Config, mut db: Db, now: Instant) -> App {
        let has_staff = db
            .read(|r| r.staff_list())
            .map(|s| !s.is_empty())
            .unwrap_or(true);
        let data_version = db.data_version().unwrap_or(0);
        // A short wait for another terminal's write lock: the loop retries, so the screen
        // never freezes behind someone else's save.
        let _ = db.set_busy_timeout(std::time::Duration::from_millis(200));
        App {
            cfg,
            db,
            now,
            screen: if has_staff {
                Screen::SignIn
            } else {
                Screen::Setup
            },
            user: None,
            creds: Credentials::default(),
            ward: WardView::default(),
            ward_cache: view::WardCache::default(),
            cohort_cache: view::CohortCache::default(),
            tab: Tab::Active,
            selected: 0,
            selected_patient: None,
            other_tab_patient: None,
            selection_lost: false,
            detail: None,
            detail_sel: 0,
            detail_entry: None,
            query: String::new(),
            hits: vec![],
            hit_sel: 0,
            hit_lost: false,
            form: None,
            stash: None,
            help: false,
            pending: None,
            message: None,
            last_input: now,
            data_version,
            quit: false,
            demo_hint: None,
            offline: None,
            cohort: vec![],
            cohort_range: crate::report::cohort::Range::default(),
            cohort_scroll: 0,
            handover: None,
            handover_scroll: 0,
            preview: None,
            staff: super::staff::StaffList::default(),
            panel: None,
            confirm: None,
            size: (80, 24),
            colour: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    pub(super) fn info(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            level: Level::Info,
            text: text.into(),
        });
    }

    pub(super) fn error(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            level: Level::Error,
            text: text.into(),
        });
    }

    pub fn update(&mut self, msg: Msg) {
        match msg {
            Msg::Tick(now) => self.tick(now),
            Msg::Idle => self.idle(),
            Msg::Resize(w, h) => self.size = (w, h),
            Msg::Key(k) => {
                self.last_input = self.now;
                // Below the smallest window only the "make it larger" screen is drawn: a key
                // must not act on a form, a row or a question nobody can see. Ctrl-C still
                // quits (and asks first, answered once the window is large enough).
                if self.too_small() && !keys::is_ctrl_c(&k) {
                    return;
                }
                self.key(k);
            }
        }
    }

    /// The ward's operations as `who`, at the terminal's clock. A form's own picture of
    /// the record, if any, is set on it by the form (`Form::submit`).
    pub(crate) fn session<'a>(&'a mut self, who: &'a Staff) -> Session<'a> {
        Session {
            db: &mut self.db,
            cfg: &self.cfg,
            who,
            now: self.now,
            expect: None,
        }
    }

    /// The window is smaller than the screens are laid out for (`ui::MIN_WIDTH` x
    /// `ui::MIN_HEIGHT`).
    pub fn too_small(&self) -> bool {
        self.size.0 < crate::tui::ui::MIN_WIDTH || self.size.1 < crate::tui::ui::MIN_HEIGHT
    }

    /// While the sign-in screen waits for someone, the ward is read into memory and kept
    /// current (it is not drawn before a sign-in), so the overview follows the PIN check at
    /// once. The first read takes tens of milliseconds at hospital scale; later ones read
    /// only the patients with a new entry. A failed read is left for the sign-in's own read
    /// to report.
    fn idle(&mut self) {
        if self.user.is_none() && self.screen == Screen::SignIn {
            let _ = self.ward_cache.refresh(&mut self.db, self.now);
        }
    }

    fn tick(&mut self, now: Instant) {
        self.now = now;
        if self.user.is_some()
            && now - self.last_input > Duration::minutes(i64::from(self.cfg.idle_signout_min))
        {
            self.sign_out(true);
            self.info("signed out after inactivity");
            return;
        }
        if let Some(f) = self.form.as_mut() {
            f.follow_clock(now, self.cfg.timezone);
        }
        // Not while the user is being asked whether to discard this very form.
        if self.pending.is_none() && self.form.as_ref().is_some_and(|f| f.waiting) {
            self.submit();
        }
        match self.db.data_version() {
            Ok(_) if self.offline.is_some() => {
                self.offline = None;
                self.reload();
                self.info(crate::strings::RECONNECTED);
            }
            Ok(v) if v != self.data_version => self.reload(),
            Ok(_) => {}
            Err(e) if e.is_unavailable() => {
                if self.offline.is_none() {
                    let since = now.with_timezone(&self.cfg.timezone).format("%H:%M");
                    self.offline = Some(crate::strings::reconnecting(&since.to_string()));
                }
            }
            Err(_) => {}
        }
        if self.user.is_some()
            && self.screen == Screen::Overview
            && self
                .ward_cache
                .stale(now, Duration::seconds(WARD_RECOMPUTE_SECS))
        {
            // Time passed, written to or not: a check may have become overdue.
            self.ward_cache.recompute(now);
            self.ward = self.ward_cache.view(now);
            self.follow_selection();
        }
    }

    /// Re-reads what the current screen shows.
    pub fn reload(&mut self) {
        self.data_version = self.db.data_version().unwrap_or(self.data_version);
        if self.user.is_none() {
            return;
        }
        // Only what is on the screen is read again: another terminal's entry should cost a
        // detail screen one patient, not the whole ward.
        if self.screen == Screen::Overview {
            match self.ward_cache.refresh(&mut self.db, self.now) {
                Ok(()) => {
                    // Read while the sign-in screen waited, perhaps long ago.
                    if self
                        .ward_cache
                        .stale(self.now, Duration::seconds(WARD_RECOMPUTE_SECS))
                    {
                        self.ward_cache.recompute(self.now);
                    }
                    self.ward = self.ward_cache.view(self.now);
                }
                Err(e) => self.error(format!("could not read the ward: {e}")),
            }
            self.follow_selection();
        }
        if let Some(mrn) = self
            .detail
            .as_ref()
            .map(|d| d.record.patient.data.mrn.clone())
        {
            match view::load_detail(&mut self.db, &self.cfg, &mrn, self.now) {
                Ok(d) => {
                    self.detail_sel = self.detail_sel.min(d.timeline.len().saturating_sub(1));
                    if let Some(i) = self
                        .detail_entry
                        .and_then(|id| d.timeline.iter().position(|r| r.entry.id == id))
                    {
                        self.detail_sel = i;
                    }
                    self.detail_entry = d.timeline.get(self.detail_sel).map(|r| r.entry.id);
                    self.detail = Some(d);
                }
                Err(e) => self.error(format!("could not read the patient: {e}")),
            }
        }
        if self.screen == Screen::Search {
            self.run_search();
        }
        if self.screen == Screen::Cohort {
            self.compute_cohort();
        }
        if self.screen == Screen::Handover {
            self.compute_handover();
        }
        if self.screen == Screen::Staff {
            self.load_staff();
        }
    }

    fn compute_handover(&mut self) {
        match self.db.read(crate::ward::load_all) {
            Ok(records) => {
                self.handover = Some(crate::report::handover::build(
                    &records,
                    self.now,
                    crate::report::handover::HOURS_DEFAULT,
                    self.cfg.timezone,
                ));
            }
            Err(e) => self.error(format!("could not build the handover: {e}")),
        }
    }

    /// The handover on screen, written as Markdown and PDF to the reports folder through
    /// the summary's writer: the sheet is the screen's blocks.
    fn write_handover(&mut self) {
        self.compute_handover();
        let (Some(h), Some(user)) = (&self.handover, &self.user) else {
            return;
        };
        let by = format!("{} ({})", user.name, user.id);
        let md = crate::report::handover::markdown(h, &self.cfg.ward_name, &by);
        let base = format!(
            "handover-{}",
            self.now
                .with_timezone(&self.cfg.timezone)
                .format("%Y-%m-%d-%H%M")
        );
        let dir = self.cfg.reports_dir.clone();
        let written = crate::report::handover_pdf::render(h, &self.cfg.ward_name, &by)
            .map_err(|e| e.to_string())
            .and_then(|pdf| {
                crate::report::write_pair(&dir, &base, md.as_bytes(), &pdf, &self.db.protected())
                    .map_err(|e| e.to_string())
            });
        match written {
            Ok(base) => self.info(crate::strings::handover_written(
                &dir.join(format!("{base}.md / .pdf")).display().to_string(),
            )),
            Err(e) => self.error(format!(
                "could not write the handover to {}: {e}",
                dir.display()
            )),
        }
    }

    fn compute_cohort(&mut self) {
        let range = self.cohort_range;
        let zone = self.cfg.timezone;
        match self.cohort_cache.refresh(&mut self.db) {
            Ok(()) => {
                let c = self.cohort_cache.cohort(range, zone);
                self.cohort = crate::report::cohort::table(&c, false)
                    .lines()
                    .map(str::to_string)
                    .collect();
            }
            Err(e) => self.error(format!("could not compute the cohort: {e}")),
        }
    }

    /// Builds the discharge summary of the open patient's latest course, writes it as
    /// Markdown and PDF to the reports folder, and shows the Markdown.
    fn write_summary(&mut self) {
        let (Some(d), Some(user)) = (&self.detail, &self.user) else {
            return;
        };
        let req = crate::report::summary::Request {
            course: None,
            draft: true,
            hospital: &self.cfg.hospital,
            ward: &self.cfg.ward_name,
            zone: self.cfg.timezone,
            generated_by: &format!("{} ({})", user.name, user.id),
            now: self.now,
        };
        let s = match crate::report::summary::build(&d.record, &req) {
            Ok(s) => s,
            Err(e) => return self.error(e.to_string()),
        };
        let zone = self.cfg.timezone;
        let s = match self
            .db
            .read(|r| crate::ward::letters::letter_of(r, s.course_id, zone))
        {
            Ok(letter) => s.with_letter(letter),
            Err(e) => return self.error(e.to_string()),
        };
        let md = crate::report::summary::markdown(&s);
        let base = format!(
            "{}-course-{}{}",
            s.mrn,
            s.course_id,
            if s.draft { "-DRAFT" } else { "" }
        );
        let dir = self.cfg.reports_dir.clone();
        let written = crate::report::pdf::render(&s)
            .map_err(|e| e.to_string())
            .and_then(|pdf| {
                crate::report::write_pair(&dir, &base, md.as_bytes(), &pdf, &self.db.protected())
                    .map_err(|e| e.to_string())
            });
        match written {
            Ok(base) => {
                self.info(format!(
                    "summary written: {}",
                    dir.join(format!("{base}.md / .pdf")).display()
                ));
                self.preview = Some(super::markdown::Preview {
                    title: crate::strings::preview_title(&base),
                    markdown: md,
                    scroll: 0,
                });
            }
            Err(e) => self.error(format!(
                "could not write the summary to {}: {e}",
                dir.display()
            )),
        }
    }

    fn rows(&self) -> usize {
        match self.tab {
            Tab::Active => self.ward.active.len(),
            Tab::FollowUp => self.ward.follow_up.len() + self.ward.recent.len(),
        }
    }

    /// The patient shown in row `i` of the current tab.
    fn row_patient(&self, i: usize) -> Option<PatientId> {
        match self.tab {
            Tab::Active => self.ward.active.get(i).map(|r| r.patient),
            Tab::FollowUp => self
                .ward
                .follow_up
                .iter()
                .chain(self.ward.recent.iter())
                .nth(i)
                .map(|r| r.patient),
        }
    }

    /// Puts the highlight back on the patient it was on, wherever the list now shows them.
    /// If they left the list (their course ended elsewhere), the highlight stays in place on
    /// another patient, and the screen says so.
    fn follow_selection(&mut self) {
        let n = self.rows();
        let found = self
            .selected_patient
            .and_then(|p| (0..n).find(|&i| self.row_patient(i) == Some(p)));
        match found {
            Some(i) => self.selected = i,
            None => {
                self.selected = self.selected.min(n.saturating_sub(1));
                if self.selected_patient.is_some() && n > 0 {
                    // No other patient inherits the highlight: the next key must not open
                    // a form for whoever now stands in that row.
                    self.selection_lost = true;
                    self.info(crate::strings::SELECTED_PATIENT_LEFT);
                }
            }
        }
        self.selected_patient = if self.selection_lost {
            None
        } else {
            self.row_patient(self.selected)
        };
    }

    /// The highlight on patient `p`, on whichever list shows them (switching tabs); on
    /// neither, no row is selected: the old highlight is not who was just looked at.
    fn select_anywhere(&mut self, p: PatientId) {
        for _ in 0..2 {
            let n = self.rows();
            if let Some(i) = (0..n).find(|&i| self.row_patient(i) == Some(p)) {
                self.selected = i;
                self.selected_patient = Some(p);
                self.selection_lost = false;
                return;
            }
            let leaving = self.selected_patient;
            self.tab = match self.tab {
                Tab::Active => Tab::FollowUp,
                Tab::FollowUp => Tab::Active,
            };
            self.other_tab_patient = leaving;
        }
        // Back on the list it started from, with nothing selected.
        self.selection_lost = true;
        self.selected_patient = None;
    }

    fn selected_mrn(&self) -> Option<String> {
        match self.screen {
            Screen::Detail => self
                .detail
                .as_ref()
                .map(|d| d.record.patient.data.mrn.clone()),
            Screen::Search if self.hit_lost => None,
            Screen::Search => self.hits.get(self.hit_sel).map(|h| h.mrn.clone()),
            _ if self.selection_lost => None,
            _ => match self.tab {
                Tab::Active => self.ward.active.get(self.selected).map(|r| r.mrn.clone()),
                Tab::FollowUp => self
                    .ward
                    .follow_up
                    .iter()
                    .chain(self.ward.recent.iter())
                    .nth(self.selected)
                    .map(|r| r.mrn.clone()),
            },
        }
    }

    fn key(&mut self, k: KeyEvent) {
        if let Some(p) = self.pending {
            match k.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    self.pending = None;
                    match p {
                        Pending::CloseForm => {
                            self.form = None;
                            self.panel = None;
                        }
                        Pending::SignOut => {
                            self.form = None;
                            self.sign_out(false);
                        }
                        Pending::Quit => self.quit = true,
                    }
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => self.pending = None,
                _ => {}
            }
            return;
        }
        if keys::is_ctrl_c(&k) {
            self.request(Pending::Quit);
            return;
        }
        if self.help {
            self.help = false;
            return;
        }
        if self.preview.is_some() {
            return self.preview_key(k);
        }
        if self.confirm.is_some() {
            return self.confirm_key(k);
        }
        if self.panel.is_some() {
            return self.panel_key(k);
        }
        if self.form.is_some() {
            self.form_key(k);
            return;
        }
        match self.screen {
            Screen::SignIn | Screen::Setup => self.creds_key(k),
            Screen::Overview => {
                if let Some(a) = keys::lookup(keys::OVERVIEW, &k) {
                    self.act(a);
                }
            }
            Screen::Detail => {
                if let Some(a) = keys::lookup(keys::DETAIL, &k) {
                    self.act(a);
                }
            }
            Screen::Search => self.search_key(k),
            Screen::Cohort => {
                if let Some(a) = keys::lookup(keys::COHORT, &k) {
                    self.act(a);
                }
            }
            Screen::Handover => {
                if let Some(a) = keys::lookup(keys::HANDOVER, &k) {
                    self.act(a);
                }
            }
            Screen::Staff => {
                if let Some(a) = keys::lookup(keys::STAFF, &k) {
                    self.act(a);
                }
            }
        }
    }

    /// ↑↓ and PgUp/PgDn scroll the summary preview, as far as its last line in this
    /// window; any other key closes it.
    fn preview_key(&mut self, k: KeyEvent) {
        let Some(p) = &mut self.preview else { return };
        // The body is the window less header, message and footer.
        let (w, h) = super::markdown::preview_inner(self.size.0, self.size.1.saturating_sub(3));
        let last = super::markdown::format(&p.markdown, w)
            .len()
            .saturating_sub(h);
        let page = h.saturating_sub(1).max(1);
        p.scroll = match k.code {
            KeyCode::Down | KeyCode::Char('j') => p.scroll + 1,
            KeyCode::Up | KeyCode::Char('k') => p.scroll.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => p.scroll + page,
            KeyCode::PageUp => p.scroll.saturating_sub(page),
            KeyCode::Home => 0,
            KeyCode::End => last,
            _ => {
                self.preview = None;
                return;
            }
        }
        .min(last);
    }

    /// Quit and sign-out ask first when a form holds unsaved input.
    fn request(&mut self, p: Pending) {
        let dirty = self.form.as_ref().is_some_and(|f| f.dirty)
            || self.panel.as_ref().is_some_and(|p| p.dirty);
        if dirty {
            self.pending = Some(p);
            return;
        }
        match p {
            Pending::CloseForm => {
                self.form = None;
                self.panel = None;
            }
            Pending::SignOut => self.sign_out(false),
            Pending::Quit => self.quit = true,
        }
    }

    pub(super) fn sign_out(&mut self, idle: bool) {
        if let (true, Some(form), Some(user)) = (idle, self.form.take(), &self.user) {
            self.stash = Some((user.id.clone(), form));
        }
        self.form = None;
        self.pending = None;
        self.user = None;
        self.detail = None;
        self.help = false;
        self.ward = WardView::default();
        self.ward_cache = view::WardCache::default();
        self.cohort_cache = view::CohortCache::default();
        // Nothing another person looked at stays for the sign-in screen: a summary shown
        // in the preview would otherwise be drawn over it.
        self.preview = None;
        // PINs typed into a panel never outlive the session.
        self.panel = None;
        self.confirm = None;
        self.staff = super::staff::StaffList::default();
        self.hits.clear();
        self.query.clear();
        self.cohort.clear();
        self.handover = None;
        self.creds = Credentials::default();
        self.screen = Screen::SignIn;
        self.message = None;
    }

    fn act(&mut self, a: Action) {
        // A message belongs to the screen it was said on: moving to another screen or list
        // leaves it behind, so that it never stands beside another patient.
        if matches!(
            a,
            Action::Open
                | Action::Back
                | Action::NextTab
                | Action::Search
                | Action::Cohort
                | Action::Handover
                | Action::Staff
        ) {
            self.message = None;
        }
        match a {
            Action::Up if self.screen == Screen::Cohort => {
                self.cohort_scroll = self.cohort_scroll.saturating_sub(1)
            }
            Action::Down if self.screen == Screen::Cohort => {
                self.cohort_scroll =
                    (self.cohort_scroll + 1).min(self.cohort.len().saturating_sub(1));
            }
            Action::Up if self.screen == Screen::Staff => self.staff_move(-1),
            Action::Down if self.screen == Screen::Staff => self.staff_move(1),
            Action::Staff => self.open_staff(),
            Action::StaffAdd
            | Action::StaffDeactivate
            | Action::StaffReactivate
            | Action::StaffRole
            | Action::StaffResetPin
            | Action::StaffUnlock => self.staff_action(a),
            Action::OwnPin => self.open_own_pin(),
            Action::PatientDetails => self.open_patient_form(),
            Action::Up if self.screen == Screen::Handover => {
                self.handover_scroll = self.handover_scroll.saturating_sub(1)
            }
            Action::Down if self.screen == Screen::Handover => {
                let n = crate::tui::ui::handover_lines(self).len();
                self.handover_scroll = (self.handover_scroll + 1).min(n.saturating_sub(1));
            }
            Action::Handover => {
                self.screen = Screen::Handover;
                self.handover_scroll = 0;
                self.compute_handover();
            }
            Action::HandoverWrite => self.write_handover(),
            Action::Up => self.move_sel(-1),
            Action::Down => self.move_sel(1),
            Action::Summary => self.open_letter(),
            Action::Cohort => {
                self.screen = Screen::Cohort;
                self.cohort_scroll = 0;
                self.compute_cohort();
            }
            Action::CohortRange => {
                let ctx = FormContext {
                    cfg: &self.cfg,
                    now: self.now,
                    mrn: "",
                    patient_name: "",
                    current_rate: None,
                    course: None,
                };
                let mut f = Form::new(FormKind::CohortRange, &ctx);
                for field in &mut f.fields {
                    let v = if field.key == "from" {
                        self.cohort_range.from
                    } else {
                        self.cohort_range.to
                    };
                    field.set_value(v.map(|d| d.to_string()).unwrap_or_default());
                }
                self.form = Some(f);
            }
            Action::Open => match self.selected_mrn() {
                Some(mrn) => self.open_patient(&mrn),
                None if self.selection_lost || self.hit_lost => {
                    self.error(crate::strings::SELECTED_PATIENT_LEFT)
                }
                None => {}
            },
            Action::Back => {
                // Back on the ward, the highlight is on the patient just looked at (opened
                // from a search, say) when the list shows them.
                if let Some(p) = self.detail.take().map(|d| d.record.patient.id) {
                    self.screen = Screen::Overview;
                    self.reload();
                    self.select_anywhere(p);
                    return;
                }
                self.screen = Screen::Overview;
                self.reload();
            }
            Action::Quit => self.request(Pending::Quit),
            Action::Help => self.help = true,
            Action::Search => {
                self.screen = Screen::Search;
                self.query.clear();
                self.hit_sel = 0;
                self.hits.clear();
                self.hit_lost = false;
                self.run_search();
            }
            Action::SignOut => self.request(Pending::SignOut),
            Action::NextTab => {
                self.tab = if self.tab == Tab::Active {
                    Tab::FollowUp
                } else {
                    Tab::Active
                };
                // Back on a list, the patient it was left on; else the same patient if this
                // list shows them too; else its first row.
                let leaving = self.selected_patient;
                let n = self.rows();
                let at = |p: Option<PatientId>| {
                    p.and_then(|p| (0..n).find(|&i| self.row_patient(i) == Some(p)))
                };
                let found = at(self.other_tab_patient).or(at(leaving));
                self.selected = found.unwrap_or(0);
                // A selection lost stays lost: the first row does not inherit it.
                if found.is_some() {
                    self.selection_lost = false;
                }
                self.other_tab_patient = leaving;
                self.selected_patient = self.row_patient(self.selected);
            }
            Action::Rate => self.open_form(FormKind::Rate),
            Action::Nrs => self.open_form(FormKind::Nrs),
            Action::SideEffect => self.open_form(FormKind::SideEffect),
            Action::Success => self.open_form(FormKind::Success),
            Action::StartCourse => self.open_form(FormKind::CourseStart),
            Action::EndCourse => self.open_form(FormKind::CourseEnd),
            Action::AddPatient => {
                let Some(user) = self.user.clone() else {
                    return;
                };
                // Refused at the key, audited as at the save.
                if let Err(e) =
                    access::authorize(&mut self.db, &user, Permission::AddPatient, self.now)
                {
                    return self.error(e.to_string());
                }
                let ctx = FormContext {
                    cfg: &self.cfg,
                    now: self.now,
                    mrn: "",
                    patient_name: "",
                    current_rate: None,
                    course: None,
                };
                self.form = Some(Form::new(FormKind::AddPatient, &ctx));
            }
            Action::Amend | Action::Void => {
                let Some(d) = &self.detail else { return };
                let Some(row) = d.timeline.get(self.detail_sel) else {
                    return;
                };
                if !row.current || row.entry.void.is_some() {
                    self.error("select the current, not voided version of an entry");
                    return;
                }
                let id = row.entry.id;
                let Some(rec) = self.selected_record() else {
                    return;
                };
                // The entry as it stands now: another terminal may have corrected it.
                let Some(entry) = rec.entries.iter().find(|e| e.id == id).cloned() else {
                    return self.error(WardError::UnknownEntry(id).to_string());
                };
                if entry.void.is_some() {
                    return self.error(crate::strings::ENTRY_VOIDED_MEANWHILE);
                }
                if let Some(by) = rec.entries.iter().find(|e| e.supersedes == Some(id)) {
                    return self.error(crate::strings::entry_corrected_meanwhile(id, by.id));
                }
                if !self.may_begin(Intent::Change(id), &rec) {
                    return;
                }
                let kind = if a == Action::Amend {
                    FormKind::Amend {
                        id,
                        kind: entry.kind(),
                    }
                } else {
                    FormKind::Void { id }
                };
                self.message = None;
                self.form = Some(self.bound_form(kind, &rec, Some(&entry)));
            }
        }
    }

    fn move_sel(&mut self, by: i64) {
        let (sel, len) = match self.screen {
            Screen::Detail => (
                &mut self.detail_sel,
                self.detail.as_ref().map_or(0, |d| d.timeline.len()),
            ),
            Screen::Search => (&mut self.hit_sel, self.hits.len()),
            _ => {
                let n = self.rows();
                (&mut self.selected, n)
            }
        };
        if len == 0 {
            *sel = 0;
            return;
        }
        let next = (*sel as i64 + by).clamp(0, len as i64 - 1);
        // The first move after the selected patient left the list picks the row it lands
        // on: the highlighted row again, or the one above or below.
        if self.screen == Screen::Search {
            self.hit_lost = false;
        }
        let lost = !matches!(self.screen, Screen::Detail | Screen::Search)
            && std::mem::take(&mut self.selection_lost);
        let next = if lost {
            (*sel as i64).clamp(0, len as i64 - 1) as usize
        } else {
            next as usize
        };
        *sel = next;
        self.selected_patient = self.row_patient(self.selected);
        self.detail_entry = self
            .detail
            .as_ref()
            .and_then(|d| d.timeline.get(self.detail_sel))
            .map(|r| r.entry.id);
    }

    fn open_patient(&mut self, mrn: &str) {
        match view::load_detail(&mut self.db, &self.cfg, mrn, self.now) {
            Ok(d) => {
                self.detail_entry = d.timeline.first().map(|r| r.entry.id);
                self.detail = Some(d);
                self.detail_sel = 0;
                self.screen = Screen::Detail;
            }
            Err(e) => self.error(e.to_string()),
        }
    }

    /// The selected patient's record as it stands now, not as the overview last read it:
    /// what a form shows and is bound to.
    fn selected_record(&mut self) -> Option<PatientRecord> {
        let Some(mrn) = self.selected_mrn() else {
            self.error(if self.selection_lost {
                crate::strings::SELECTED_PATIENT_LEFT
            } else {
                "select a patient first"
            });
            return None;
        };
        match self.db.read(|r| crate::ward::load_record(r, &mrn)) {
            Ok(rec) => Some(rec),
            Err(e) => {
                self.error(e.to_string());
                None
            }
        }
    }

    /// Asks the ward whether the signed-in person may begin `intent` on `rec`; a refusal is
    /// shown at once, before any form opens.
    fn may_begin(&mut self, intent: Intent, rec: &PatientRecord) -> bool {
        let Some(user) = self.user.clone() else {
            return false;
        };
        let mut s = self.session(&user);
        match s.may_begin(intent, rec) {
            Ok(()) => true,
            Err(e) => {
                self.error(e.to_string());
                false
            }
        }
    }

    /// A form for the selected patient, bound to their record as it stands.
    fn open_form(&mut self, kind: FormKind) {
        let Some(rec) = self.selected_record() else {
            return;
        };
        let Some(entry_kind) = kind.entry_kind() else {
            return;
        };
        if !self.may_begin(Intent::Record(entry_kind), &rec) {
            return;
        }
        // A message about what came before (another patient, say) does not stand beside
        // this patient's form.
        self.message = None;
        self.form = Some(self.bound_form(kind, &rec, None));
    }

    /// A form of `kind` for `rec`: the lines above the fields from the record as it stands,
    /// and the record's picture, which the save is checked against.
    fn bound_form(&self, kind: FormKind, rec: &PatientRecord, entry: Option<&Entry>) -> Form {
        let picture = Picture::of(rec);
        let rate = rec
            .latest_course()
            .filter(|v| v.ended_at().is_none())
            .map(|v| rate_at(&v.rate_points(), self.now));
        // The course the form is about, with its own protocol version: an entry's own
        // course (an NRS belongs to none: the latest); a new course's start form has none
        // (it gets config's).
        let course = match (&kind, entry) {
            (FormKind::CourseStart, _) => None,
            (_, Some(e)) => e
                .course_id
                .and_then(|c| rec.course(c))
                .map(|v| CourseFacts::of(rec, &v))
                .or_else(|| CourseFacts::latest(rec)),
            _ => CourseFacts::latest(rec),
        };
        let ctx = FormContext {
            cfg: &self.cfg,
            now: self.now,
            mrn: &picture.mrn,
            patient_name: &picture.name,
            current_rate: rate,
            course,
        };
        let mut f = match (&kind, entry) {
            (FormKind::Amend { .. }, Some(e)) => Form::amend(e, &ctx),
            (FormKind::Void { .. }, Some(e)) => {
                let mut f = Form::new(kind.clone(), &ctx);
                f.context.push(format!(
                    "Entry {}: {} at {}",
                    e.id,
                    e.data.describe(),
                    crate::domain::time::local_text(e.happened_at, self.cfg.timezone)
                ));
                f
            }
            _ => Form::new(kind.clone(), &ctx),
        };
        f.picture = Some(picture);
        f
    }

    /// After a stale save: the lines above the fields again from the record as it now
    /// stands, the typed values kept.
    fn rebuild_context(&mut self, form: &mut Form) {
        form.rebound = false;
        let Some(picture) = form.picture.clone() else {
            return;
        };
        let read = self
            .db
            .read(|r| crate::ward::picture::current(r, picture.patient));
        let Ok(rec) = read else { return };
        // An amend or void follows its entry to the version that now stands: corrected
        // elsewhere, the form acts on the correction, and the fields nobody touched take
        // its values, so that saving does not quietly undo the other terminal's change.
        let find = |id| rec.entries.iter().find(|e| e.id == id).cloned();
        let mut entry = None;
        if let FormKind::Amend { id, .. } | FormKind::Void { id } = form.kind {
            let mut now_id = id;
            while let Some(next) = rec.entries.iter().find(|e| e.supersedes == Some(now_id)) {
                now_id = next.id;
            }
            entry = find(now_id);
            if now_id != id
                && let (Some(old), Some(new)) = (find(id), entry.as_ref())
            {
                let kind = |id| match form.kind {
                    FormKind::Amend { kind, .. } => FormKind::Amend { id, kind },
                    _ => FormKind::Void { id },
                };
                let was = self.bound_form(kind(id), &rec, Some(&old));
                let now = self.bound_form(kind(now_id), &rec, Some(new));
                for f in &mut form.fields {
                    if f.value == was.value(f.key) {
                        f.set_value(now.value(f.key).to_string());
                    }
                }
                form.kind = kind(now_id);
            }
        }
        let fresh = self.bound_form(form.kind.clone(), &rec, entry.as_ref());
        // A rate left as it was prefilled meant "the rate as it stands": it follows the
        // record, so that Enter again records a check, not a step back to the old rate.
        if let (Some(old), Some(new)) = (form.current_rate, fresh.current_rate)
            && form.value("rate") == old.to_string()
            && let Some(f) = form.fields.iter_mut().find(|f| f.key == "rate")
        {
            f.set_value(new.to_string());
        }
        form.context = fresh.context;
        form.current_rate = fresh.current_rate;
        form.max_rate = fresh.max_rate;
    }

    /// Whether the signed-in role may end a course: otherwise Enter saves at once, and the
    /// save is refused (and audited) with the role it needs.
    fn may_end_course(&self) -> bool {
        self.user.as_ref().is_some_and(|u| {
            crate::domain::rules::allowed(
                u.role,
                crate::domain::rules::Permission::Record(
                    crate::domain::entry::EntryKind::CourseEnd,
                ),
            )
        })
    }

    /// Enter on the end-course form: the confirmation of what is still missing, or the
    /// refusal next to its field.
    fn confirm_end(&mut self) {
        let Some(form) = self.form.as_mut() else {
            return;
        };
        match super::confirm::end_course(form, &mut self.db, &self.cfg, self.now) {
            Ok(lines) => {
                form.error = None;
                form.confirm = Some(lines);
            }
            Err((key, msg)) => {
                if let Some(i) = form.fields.iter().position(|f| f.key == key) {
                    form.focus = i;
                }
                form.error = Some((key, msg));
            }
        }
    }

    fn form_key(&mut self, k: KeyEvent) {
        let may_end = self.may_end_course();
        let Some(form) = self.form.as_mut() else {
            return;
        };
        if form.confirm.is_some() {
            match k.code {
                KeyCode::Enter | KeyCode::Char('y') | KeyCode::Char('Y') => self.submit(),
                KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('N') => form.confirm = None,
                _ => {}
            }
            return;
        }
        let shift = k.modifiers.contains(KeyModifiers::SHIFT);
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let choice = form
            .focused()
            .is_some_and(|f| matches!(f.kind, FieldKind::Choice(_)));
        match k.code {
            KeyCode::Esc => self.request(Pending::CloseForm),
            // On a filtered choice Enter takes the highlighted option; a second Enter saves.
            KeyCode::Enter if form.take_match() => {}
            KeyCode::Enter if form.kind == FormKind::CourseEnd && may_end => self.confirm_end(),
            KeyCode::Enter => self.submit(),
            KeyCode::Tab if !shift => form.move_focus(true),
            KeyCode::Down => form.move_focus(true),
            KeyCode::BackTab | KeyCode::Up => form.move_focus(false),
            KeyCode::Tab => form.move_focus(false),
            KeyCode::Left | KeyCode::Right if choice => form.cycle(k.code == KeyCode::Right),
            KeyCode::Left => form.edit(Edit::Left),
            KeyCode::Right => form.edit(Edit::Right),
            KeyCode::Home => form.edit(Edit::Home),
            KeyCode::End => form.edit(Edit::End),
            KeyCode::Delete => form.edit(Edit::Delete),
            KeyCode::Backspace => form.backspace(),
            KeyCode::Char('u') if ctrl => form.edit(Edit::ClearToStart),
            KeyCode::Char('w') if ctrl => form.edit(Edit::DeleteWord),
            KeyCode::Char(c) if !ctrl => form.type_char(c),
            _ => {}
        }
    }

    fn submit(&mut self) {
        if let Some(FormKind::CohortRange) = self.form.as_ref().map(|f| f.kind.clone()) {
            return self.submit_range();
        }
        if let Some(FormKind::Letter { .. }) = self.form.as_ref().map(|f| f.kind.clone()) {
            return self.submit_letter();
        }
        let (Some(mut form), Some(user)) = (self.form.take(), self.user.clone()) else {
            return;
        };
        let mut s = self.session(&user);
        match form.submit(&mut s) {
            Some(saved) => {
                let mut text = if matches!(form.kind, FormKind::AddPatient | FormKind::Void { .. })
                {
                    format!("saved: {}", saved.summary)
                } else {
                    format!("entry {} saved: {}", saved.id, saved.summary)
                };
                for w in &saved.warnings {
                    text.push_str(&format!(" · {w}"));
                }
                self.info(text.clone());
                self.reload();
                // Ending a course here takes the patient off the active list: that is the
                // save's doing, and its confirmation is what the user needs to read.
                let left = self
                    .message
                    .as_ref()
                    .is_some_and(|m| m.text == crate::strings::SELECTED_PATIENT_LEFT);
                if form.kind == FormKind::CourseEnd && left {
                    self.info(text);
                }
                if form.kind == FormKind::AddPatient {
                    // The new patient's screen, where c starts the course for them.
                    let mrn = form.value("mrn").trim().to_string();
                    self.open_patient(&mrn);
                }
            }
            None => {
                if form.rebound {
                    self.rebuild_context(&mut form);
                }
                self.form = Some(form);
            }
        }
    }

    /// The cohort's date range: not a record entry, so it is read here and stored nowhere.
    fn submit_range(&mut self) {
        let Some(form) = self.form.as_mut() else {
            return;
        };
        let parse = |key: &'static str,
                     f: &Form|
         -> Result<Option<chrono::NaiveDate>, (&'static str, String)> {
            let v = f.value(key).trim();
            if v.is_empty() {
                return Ok(None);
            }
            crate::cli::Edge::date(v)
                .map(Some)
                .map_err(|e| (key, e.to_string()))
        };
        let range = parse("from", form).and_then(|from| {
            crate::report::cohort::Range::new(from, parse("to", form)?)
                .map_err(|e| ("to", e.to_string()))
        });
        match range {
            Ok(range) => {
                self.cohort_range = range;
                self.form = None;
                self.cohort_scroll = 0;
                self.compute_cohort();
            }
            Err((key, msg)) => form.refuse(key, msg),
        }
    }

    fn creds_key(&mut self, k: KeyEvent) {
        let n = if self.screen == Screen::Setup { 4 } else { 2 };
        let c = &mut self.creds;
        match k.code {
            KeyCode::Tab | KeyCode::Down => c.focus = (c.focus + 1) % n,
            KeyCode::BackTab | KeyCode::Up => c.focus = (c.focus + n - 1) % n,
            KeyCode::Backspace => {
                c.fields[c.focus].pop();
            }
            KeyCode::Esc => {
                *c = Credentials::default();
            }
            KeyCode::Enter => {
                if c.focus + 1 < n && c.fields[c.focus + 1].is_empty() {
                    c.focus += 1;
                } else if self.screen == Screen::Setup {
                    self.setup();
                } else {
                    self.sign_in();
                }
            }
            KeyCode::Char(ch) if !ch.is_control() && c.fields[c.focus].chars().count() < 100 => {
                c.fields[c.focus].push(ch)
            }
            _ => {}
        }
    }

    fn sign_in(&mut self) {
        let id = self.creds.fields[0].trim().to_string();
        let pin = std::mem::take(&mut self.creds.fields[1]);
        // The same sign-in as the command line: one write transaction per try. Other
        // terminals' sign-ins queue for the write lock for an argon2 check each, so this
        // waits longer than a form's save does; a sign-in is a deliberate key press.
        let _ = self.db.set_busy_timeout(std::time::Duration::from_secs(3));
        let result = access::sign_in(&mut self.db, &self.cfg, &id, &pin, self.now);
        let _ = self
            .db
            .set_busy_timeout(std::time::Duration::from_millis(200));
        match result {
            Err(e) if e.is_busy() => {
                // Nothing was checked or counted: the PIN stays for another Enter.
                self.creds.fields[1] = pin;
                self.creds.focus = 1;
                self.creds.error = Some(
                    "the database is busy at another terminal; nothing was checked: press Enter to try again"
                        .into(),
                );
            }
            Ok(staff) => {
                self.creds = Credentials::default();
                self.screen = Screen::Overview;
                self.tab = Tab::Active;
                self.selected = 0;
                self.selected_patient = None;
                // Only its author gets a stashed form back; it waits for them otherwise.
                let restored = match self.stash.take() {
                    Some((owner, form)) if owner == staff.id => Some(form),
                    other => {
                        self.stash = other;
                        None
                    }
                };
                self.info(format!("signed in as {} ({})", staff.name, staff.role));
                if restored.is_some() {
                    self.info("your unsaved form was kept while you were signed out");
                }
                self.form = restored;
                self.user = Some(staff);
                self.reload();
            }
            Err(e) => {
                self.creds.focus = 1;
                self.creds.error = Some(e.to_string());
            }
        }
    }

    fn setup(&mut self) {
        let [id, name, pin, again] = self.creds.fields.clone();
        if pin != again {
            self.creds.error = Some("the two PINs differ".into());
            self.creds.fields[2].clear();
            self.creds.fields[3].clear();
            self.creds.focus = 2;
            return;
        }
        let made =
            access::first_admin(&mut self.db, &id, &name, &pin, &self.cfg.protocol, self.now);
        match made {
            Ok(sid) => {
                self.creds = Credentials::default();
                self.creds.fields[0] = sid;
                self.creds.focus = 1;
                self.screen = Screen::SignIn;
                self.info("first admin created: sign in");
            }
            Err(e) => self.creds.error = Some(e.to_string()),
        }
    }

    fn search_key(&mut self, k: KeyEvent) {
        if let Some(a) = keys::lookup(keys::SEARCH, &k) {
            match a {
                Action::Back => {
                    self.screen = if self.detail.is_some() {
                        Screen::Detail
                    } else {
                        Screen::Overview
                    };
                    self.reload();
                }
                other => self.act(other),
            }
            return;
        }
        match k.code {
            KeyCode::Backspace => {
                self.query.pop();
            }
            // As in the form fields: Ctrl-U clears what was typed.
            KeyCode::Char('u') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                self.query.clear();
            }
            KeyCode::Char(c)
                if !c.is_control()
                    && !k.modifiers.contains(KeyModifiers::CONTROL)
                    && self.query.len() < 60 =>
            {
                self.query.push(c);
            }
            _ => return,
        }
        // New results for what was typed: the first hit, not a followed one.
        self.hit_sel = 0;
        self.hits.clear();
        self.hit_lost = false;
        self.run_search();
    }

    /// The hits for the query. When the results change under the highlight (another
    /// terminal renamed a patient, say), the highlight follows its patient; if they left
    /// the results, no hit is selected until the user moves.
    fn run_search(&mut self) {
        let q = self.query.clone();
        let was = (!self.hit_lost)
            .then(|| self.hits.get(self.hit_sel).map(|h| h.patient))
            .flatten();
        match self.db.read(|r| view::search(r, &q)) {
            Ok(h) => self.hits = h,
            Err(e) => self.error(e.to_string()),
        }
        match was.map(|p| self.hits.iter().position(|h| h.patient == p)) {
            Some(Some(i)) => self.hit_sel = i,
            Some(None) if !self.hits.is_empty() => {
                self.hit_lost = true;
                self.info(crate::strings::SELECTED_PATIENT_LEFT);
            }
            _ => {}
        }
        self.hit_sel = self.hit_sel.min(self.hits.len().saturating_sub(1));
    }
}
