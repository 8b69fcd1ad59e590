-- titrate: the whole database schema.
--
-- Read top to bottom this is the schema of the newest version. It is applied through
-- numbered migrations: each "-- migration N" section runs once, in one transaction, and
-- PRAGMA user_version records the last one applied. Migrations are only ever added.
--
-- Conventions, chosen so that the same shape ports to PostgreSQL:
--   * times are TEXT in UTC, RFC 3339 with a Z ("2026-03-01T07:00:00Z"): they sort as text;
--   * rates are INTEGER hundredths of a mg/h (rate_centi 1400 = 14 mg/h): exact;
--   * nothing in the clinical record is updated or deleted: a correction is a new entry
--     that supersedes the old one, a mistake is a row in "void". Triggers refuse UPDATE
--     and DELETE so that no code path can do it by accident;
--   * every write adds a row to "audit", whose hash chains it to the row before.

-- migration 1

-- Staff sign in per person; the PIN is an argon2 hash. The counters change (failed PINs,
-- lock, active), and every change is copied into the audit log.
CREATE TABLE staff (
    id          TEXT PRIMARY KEY,              -- initials, upper case
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('nurse', 'physician', 'admin')),
    pin_hash    TEXT NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    failed_pins INTEGER NOT NULL DEFAULT 0 CHECK (failed_pins >= 0),
    locked      INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL
);

-- Every protocol a course was started under, as a canonical JSON snapshot.
CREATE TABLE protocol (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    digest      TEXT NOT NULL UNIQUE,          -- sha256 of snapshot
    snapshot    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL REFERENCES staff (id)
);

CREATE TABLE patient (
    id          INTEGER PRIMARY KEY,
    mrn         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    birth_date  TEXT NOT NULL,                 -- YYYY-MM-DD
    sex         TEXT NOT NULL CHECK (sex IN ('female', 'male', 'other')),
    weight_kg   REAL CHECK (weight_kg IS NULL OR (weight_kg >= 20 AND weight_kg <= 400)),
    crps_type   TEXT CHECK (crps_type IS NULL OR crps_type IN ('1', '2')),
    crps_onset  TEXT,                          -- YYYY-MM-DD
    limb        TEXT,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL REFERENCES staff (id)
);

-- A course is an admission for one infusion. Its start, end and everything in it are
-- entries; the course row only ties them to the patient and the protocol.
CREATE TABLE course (
    id          INTEGER PRIMARY KEY,
    patient_id  INTEGER NOT NULL REFERENCES patient (id),
    protocol_id INTEGER NOT NULL REFERENCES protocol (id),
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL REFERENCES staff (id)
);
CREATE INDEX course_patient ON course (patient_id);

-- One row per version of a clinical entry. Which columns are filled depends on kind.
CREATE TABLE entry (
    id             INTEGER PRIMARY KEY,
    patient_id     INTEGER NOT NULL REFERENCES patient (id),
    course_id      INTEGER REFERENCES course (id),   -- NULL: a pain score outside a course
    kind           TEXT NOT NULL CHECK (kind IN
                   ('course-start', 'rate', 'nrs', 'side-effect', 'success', 'course-end')),
    supersedes     INTEGER UNIQUE REFERENCES entry (id), -- the version this one corrects
    amend_reason   TEXT,
    happened_at    TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,
    recorded_by    TEXT NOT NULL REFERENCES staff (id),
    late           INTEGER NOT NULL CHECK (late IN (0, 1)),
    -- rate: hundredths of a mg/h; the protocol maximum is checked before storing, this
    -- bound only guards against a wild value from outside titrate.
    rate_centi     INTEGER CHECK (rate_centi IS NULL OR (rate_centi >= 0 AND rate_centi <= 5000)),
    confirmed      INTEGER CHECK (confirmed IS NULL OR confirmed IN (0, 1)),
    confirm_reason TEXT,
    -- nrs
    score          INTEGER CHECK (score IS NULL OR (score >= 0 AND score <= 10)),
    timepoint      TEXT CHECK (timepoint IS NULL OR timepoint IN ('t0', 't1', 't2')),
    -- side-effect (rate_centi holds the rate running at the time)
    effect         TEXT,
    detail         TEXT,
    severity       TEXT CHECK (severity IS NULL OR severity IN ('mild', 'moderate', 'severe')),
    action         TEXT CHECK (action IS NULL OR action IN
                   ('none', 'rate-lowered', 'paused', 'stopped', 'medication-given')),
    -- success
    successful     INTEGER CHECK (successful IS NULL OR successful IN (0, 1)),
    -- course-end
    end_reason     TEXT CHECK (end_reason IS NULL OR end_reason IN
                   ('completed', 'side-effects', 'patient-request', 'other')),
    -- course-start
    bed            TEXT,
    CHECK (kind <> 'rate' OR (rate_centi IS NOT NULL AND confirmed IS NOT NULL)),
    CHECK (kind <> 'nrs' OR score IS NOT NULL),
    CHECK (kind <> 'side-effect' OR (effect IS NOT NULL AND severity IS NOT NULL
                                     AND action IS NOT NULL AND rate_centi IS NOT NULL)),
    CHECK (kind <> 'success' OR (successful IS NOT NULL AND timepoint IS NOT NULL)),
    CHECK (kind <> 'course-end' OR end_reason IS NOT NULL),
    CHECK (kind = 'nrs' OR course_id IS NOT NULL)
);
CREATE INDEX entry_patient ON entry (patient_id, happened_at);
CREATE INDEX entry_course ON entry (course_id, kind);

-- "Entered in error": the entry stays, marked by this row.
CREATE TABLE void (
    id         INTEGER PRIMARY KEY,
    entry_id   INTEGER NOT NULL UNIQUE REFERENCES entry (id),
    reason     TEXT NOT NULL,
    voided_at  TEXT NOT NULL,
    voided_by  TEXT NOT NULL REFERENCES staff (id)
);

-- One row per write. hash = sha256 over this row's fields and the previous row's hash,
-- so that a changed, inserted or removed row breaks the chain from there on.
CREATE TABLE audit (
    seq        INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    tbl        TEXT,                 -- the table written, NULL for events such as a failed sign-in
    row_key    TEXT,
    content    TEXT NOT NULL,        -- canonical JSON of the row as written, or of the event
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_row ON audit (tbl, row_key);

-- The chain's head, updated in the same transaction as each audit row: removing the newest
-- audit rows leaves the head pointing past the end of the log.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TRIGGER patient_no_update BEFORE UPDATE ON patient
BEGIN SELECT RAISE(ABORT, 'patient rows are never changed'); END;
CREATE TRIGGER patient_no_delete BEFORE DELETE ON patient
BEGIN SELECT RAISE(ABORT, 'patient rows are never deleted'); END;
CREATE TRIGGER protocol_no_update BEFORE UPDATE ON protocol
BEGIN SELECT RAISE(ABORT, 'protocol rows are never changed'); END;
CREATE TRIGGER protocol_no_delete BEFORE DELETE ON protocol
BEGIN SELECT RAISE(ABORT, 'protocol rows are never deleted'); END;
CREATE TRIGGER course_no_update BEFORE UPDATE ON course
BEGIN SELECT RAISE(ABORT, 'course rows are never changed'); END;
CREATE TRIGGER course_no_delete BEFORE DELETE ON course
BEGIN SELECT RAISE(ABORT, 'course rows are never deleted'); END;
CREATE TRIGGER entry_no_update BEFORE UPDATE ON entry
BEGIN SELECT RAISE(ABORT, 'entries are never changed: amend them'); END;
CREATE TRIGGER entry_no_delete BEFORE DELETE ON entry
BEGIN SELECT RAISE(ABORT, 'entries are never deleted: void them'); END;
CREATE TRIGGER void_no_update BEFORE UPDATE ON void
BEGIN SELECT RAISE(ABORT, 'void rows are never changed'); END;
CREATE TRIGGER void_no_delete BEFORE DELETE ON void
BEGIN SELECT RAISE(ABORT, 'void rows are never deleted'); END;
CREATE TRIGGER staff_no_delete BEFORE DELETE ON staff
BEGIN SELECT RAISE(ABORT, 'staff rows are never deleted: deactivate them'); END;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN SELECT RAISE(ABORT, 'the audit head is never deleted'); END;

-- migration 2

-- Pseudonyms for research exports: a study id and a secret date shift per patient, made on
-- the first pseudonymised export and kept, so that every export gives the same ids and
-- intervals stay exact. Like the record, never changed or deleted.
CREATE TABLE pseudonym (
    patient_id  INTEGER PRIMARY KEY REFERENCES patient (id),
    study_id    TEXT NOT NULL UNIQUE,
    day_offset  INTEGER NOT NULL CHECK (day_offset <> 0 AND day_offset BETWEEN -365 AND 365),
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL REFERENCES staff (id)
);
CREATE TRIGGER pseudonym_no_update BEFORE UPDATE ON pseudonym
BEGIN SELECT RAISE(ABORT, 'pseudonyms are never changed'); END;
CREATE TRIGGER pseudonym_no_delete BEFORE DELETE ON pseudonym
BEGIN SELECT RAISE(ABORT, 'pseudonyms are never deleted'); END;

-- migration 3

-- Outcome figures (T0/T1/T2, responders, the cohort table) need each course's start, end
-- and success reports, and the pain scores near each course: a few rows among the hourly
-- rates. These two partial indexes hold exactly the columns those figures read, so the
-- read is answered from the indexes alone and never walks the table's pages of rates.
CREATE INDEX entry_score ON entry (patient_id, kind, happened_at, score, timepoint)
    WHERE kind = 'nrs';
CREATE INDEX entry_mark ON entry (course_id, kind, happened_at, timepoint, successful)
    WHERE kind IN ('course-start', 'course-end', 'success');

-- A new rate is checked against the course's rates so far. The course index now carries
-- their time, rate and correction link, so that check reads the index and not the table.
DROP INDEX entry_course;
CREATE INDEX entry_course ON entry (course_id, kind, happened_at, rate_centi, supersedes);

-- migration 4

-- Corrections of a patient's details. The patient row holds the details as first recorded
-- and is never changed; each correction adds a row here with every detail as it now stands
-- (not only the changed ones), who made it, when and why. Version 1 corrects the patient
-- row, version N corrects version N-1: UNIQUE (patient_id, version) lets only one of two
-- corrections made from the same version be stored. The current details are the newest
-- version, or the patient row when there is none (view patient_current).
CREATE TABLE patient_version (
    id          INTEGER PRIMARY KEY,
    patient_id  INTEGER NOT NULL REFERENCES patient (id),
    version     INTEGER NOT NULL CHECK (version >= 1),
    mrn         TEXT NOT NULL,
    name        TEXT NOT NULL,
    birth_date  TEXT NOT NULL,                 -- YYYY-MM-DD
    sex         TEXT NOT NULL CHECK (sex IN ('female', 'male', 'other')),
    weight_kg   REAL CHECK (weight_kg IS NULL OR (weight_kg >= 20 AND weight_kg <= 400)),
    crps_type   TEXT CHECK (crps_type IS NULL OR crps_type IN ('1', '2')),
    crps_onset  TEXT,                          -- YYYY-MM-DD
    limb        TEXT,
    reason      TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL REFERENCES staff (id),
    UNIQUE (patient_id, version)
);
CREATE INDEX patient_version_mrn ON patient_version (mrn);

CREATE TRIGGER patient_version_no_update BEFORE UPDATE ON patient_version
BEGIN SELECT RAISE(ABORT, 'patient versions are never changed: add a correction'); END;
CREATE TRIGGER patient_version_no_delete BEFORE DELETE ON patient_version
BEGIN SELECT RAISE(ABORT, 'patient versions are never deleted'); END;

-- An MRN, current or former, names one patient only: an old label or letter must never
-- lead to somebody else. The store checks this first with a readable message; these
-- triggers hold it for any other writer.
CREATE TRIGGER patient_version_mrn_owned BEFORE INSERT ON patient_version
WHEN EXISTS (SELECT 1 FROM patient WHERE mrn = NEW.mrn AND id <> NEW.patient_id)
  OR EXISTS (SELECT 1 FROM patient_version WHERE mrn = NEW.mrn AND patient_id <> NEW.patient_id)
BEGIN SELECT RAISE(ABORT, 'this MRN belongs to another patient'); END;
CREATE TRIGGER patient_mrn_owned BEFORE INSERT ON patient
WHEN EXISTS (SELECT 1 FROM patient_version WHERE mrn = NEW.mrn)
BEGIN SELECT RAISE(ABORT, 'this MRN belongs to another patient'); END;

-- Each patient's details as they now stand.
CREATE VIEW patient_current AS
SELECT p.id,
       CASE WHEN v.id IS NULL THEN p.mrn ELSE v.mrn END AS mrn,
       CASE WHEN v.id IS NULL THEN p.name ELSE v.name END AS name,
       CASE WHEN v.id IS NULL THEN p.birth_date ELSE v.birth_date END AS birth_date,
       CASE WHEN v.id IS NULL THEN p.sex ELSE v.sex END AS sex,
       CASE WHEN v.id IS NULL THEN p.weight_kg ELSE v.weight_kg END AS weight_kg,
       CASE WHEN v.id IS NULL THEN p.crps_type ELSE v.crps_type END AS crps_type,
       CASE WHEN v.id IS NULL THEN p.crps_onset ELSE v.crps_onset END AS crps_onset,
       CASE WHEN v.id IS NULL THEN p.limb ELSE v.limb END AS limb,
       p.created_at, p.created_by
FROM patient p
LEFT JOIN patient_version v ON v.patient_id = p.id
    AND v.version = (SELECT max(version) FROM patient_version WHERE patient_id = p.id);

-- migration 5

-- Like a pump's drug library: a protocol version (a new digest, e.g. after config.toml was
-- edited) is used for new courses only after an admin approved it. One row per approved
-- version, never changed or deleted; the newest row names the version in use.
CREATE TABLE protocol_approval (
    id           INTEGER PRIMARY KEY,
    protocol_id  INTEGER NOT NULL UNIQUE REFERENCES protocol (id),
    approved_at  TEXT NOT NULL,
    approved_by  TEXT NOT NULL REFERENCES staff (id)
);
CREATE TRIGGER protocol_approval_no_update BEFORE UPDATE ON protocol_approval
BEGIN SELECT RAISE(ABORT, 'protocol approvals are never changed'); END;
CREATE TRIGGER protocol_approval_no_delete BEFORE DELETE ON protocol_approval
BEGIN SELECT RAISE(ABORT, 'protocol approvals are never deleted'); END;

-- A version that courses already ran under before approvals existed was in use: it counts
-- as approved by whoever first stored it, when they did. The store audits these rows in the
-- same transaction (they are the table's only rows when it is created).
INSERT INTO protocol_approval (protocol_id, approved_at, approved_by)
SELECT p.id, p.created_at, p.created_by FROM protocol p
WHERE EXISTS (SELECT 1 FROM course c WHERE c.protocol_id = p.id)
ORDER BY p.created_at, p.id;

-- migration 6

-- A secret offset below a day per patient, added to the day offset of `pseudonym` in every
-- pseudonymised export: whole days alone would keep each time of day as it was, so entries
-- of two patients recorded in the same second would keep the same time of day, and the
-- order of recording across patients could be read from the times. Made on the patient's
-- next pseudonymised export (those pseudonymised before this migration get theirs then)
-- and, like the pseudonym, never changed or deleted: re-exports give the same bytes.
CREATE TABLE pseudonym_time (
    patient_id     INTEGER PRIMARY KEY REFERENCES patient (id),
    second_offset  INTEGER NOT NULL CHECK (second_offset BETWEEN 1 AND 86399),
    created_at     TEXT NOT NULL,
    created_by     TEXT NOT NULL REFERENCES staff (id)
);
CREATE TRIGGER pseudonym_time_no_update BEFORE UPDATE ON pseudonym_time
BEGIN SELECT RAISE(ABORT, 'pseudonyms are never changed'); END;
CREATE TRIGGER pseudonym_time_no_delete BEFORE DELETE ON pseudonym_time
BEGIN SELECT RAISE(ABORT, 'pseudonyms are never deleted'); END;

-- migration 7

-- The discharge letter's words that are not in the record: the physician responsible for
-- the course and the advice to the referring physician, typed when the letter is made and
-- kept so that the same letter can be made again. A later advice for the course supersedes
-- the one it names in `supersedes` (UNIQUE: two advices written from the same one cannot
-- both be stored); every advice stays in the record, never changed or deleted.
CREATE TABLE letter_advice (
    id                    INTEGER PRIMARY KEY,
    patient_id            INTEGER NOT NULL REFERENCES patient (id),
    course_id             INTEGER NOT NULL REFERENCES course (id),
    supersedes            INTEGER UNIQUE REFERENCES letter_advice (id),
    responsible_staff_id  TEXT NOT NULL REFERENCES staff (id),
    advice                TEXT NOT NULL,
    recorded_at           TEXT NOT NULL,
    recorded_by           TEXT NOT NULL REFERENCES staff (id)
);
CREATE INDEX letter_advice_course ON letter_advice (course_id, id);
CREATE TRIGGER letter_advice_no_update BEFORE UPDATE ON letter_advice
BEGIN SELECT RAISE(ABORT, 'letter advice is never changed: write a new one'); END;
CREATE TRIGGER letter_advice_no_delete BEFORE DELETE ON letter_advice
BEGIN SELECT RAISE(ABORT, 'letter advice is never deleted'); END;

-- migration 8

-- PostgreSQL's outcome-mark index gains the entry id (its own migration 8), so that the
-- cohort's read of starts, ends and reports never visits the table. SQLite's entry_mark
-- carries the id already, as every SQLite index carries its rowid: nothing changes here,
-- and the number keeps the two schemas' versions in step.
