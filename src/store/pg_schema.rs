//! The schema titrate's PostgreSQL migrations create, compared with what a database holds.
//!
//! PostgreSQL keeps no CREATE statements: the schema is described from the catalogs, one
//! object at a time (tables with their columns, constraints and row security; indexes;
//! triggers with whether they are enabled; functions with their body and settings; views
//! with their definition; sequences; rules; policies; types), every name of titrate's own
//! schema left out so that the description does not depend on which schema holds the tables.
//!
//! The expected description of each version is checked in (`pg_schema.txt`), not made at run
//! time: the application role may not create anything (not even in a throwaway schema) and a
//! read runs in a READ ONLY transaction. The test `pg_backend::the_checked_in_description_is_what_the_migrations_create`
//! makes every version in a fresh schema of a throwaway cluster and compares it with the
//! file (`TITRATE_BLESS_PG_SCHEMA=1` rewrites it after a migration is added). The catalog
//! deparsers used here (`pg_get_indexdef` and the like) give the same text on the PostgreSQL
//! versions titrate supports (tested on 15); a server whose deparser words a definition
//! differently would show that object as differing, never hide a change.

use std::collections::BTreeMap;

use postgres::GenericClient;

use super::schema::{Change, Difference};
use super::{SchemaProblem, StoreError};

/// The expected description of every version, as the test made it.
pub const EXPECTED: &str = include_str!("pg_schema.txt");

/// One object: (kind, name) and the lines that describe it.
pub type Description = BTreeMap<(String, String), Vec<String>>;

/// The description of the schema whose namespace oid is `ns`, named `schema`.
pub fn describe(c: &mut impl GenericClient, schema: &str) -> Result<Description, StoreError> {
    let ns: u32 = c
        .query_one(
            "SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1",
            &[&schema],
        )?
        .try_get(0)?;
    let quoted: String = c
        .query_one("SELECT pg_catalog.quote_ident($1)", &[&schema])?
        .try_get(0)?;
    // The deparsers qualify a name only where the search path would not find it: the
    // description is made under one search path whoever asks, and the caller's restored.
    let before: String = c
        .query_one("SELECT pg_catalog.current_setting('search_path')", &[])?
        .try_get(0)?;
    c.query_one(
        "SELECT pg_catalog.set_config('search_path', $1, true)",
        &[&format!("pg_catalog, {quoted}, pg_temp")],
    )?;
    let out = describe_objects(c, schema, ns, &quoted)?;
    c.query_one(
        "SELECT pg_catalog.set_config('search_path', $1, true)",
        &[&before],
    )?;
    Ok(out)
}

fn describe_objects(
    c: &mut impl GenericClient,
    schema: &str,
    ns: u32,
    quoted: &str,
) -> Result<Description, StoreError> {
    // The schema's own name, wherever a deparser wrote it, is left out.
    let strip = |s: String| -> String {
        s.replace(&format!("{quoted}."), "")
            .replace(&format!("{schema}."), "")
    };
    let mut out: Description = BTreeMap::new();
    let mut put = |kind: &str, name: String, line: String| {
        out.entry((kind.to_string(), name)).or_default().push(line);
    };

    // Relations other than indexes, with their columns.
    for r in c.query(
        "SELECT c.oid, c.relname::text, c.relkind::text, c.relrowsecurity, c.relforcerowsecurity, \
                (SELECT count(*) FROM pg_catalog.pg_trigger t \
                 WHERE t.tgrelid = c.oid AND t.tgisinternal AND t.tgenabled = 'D'), \
                c.relpersistence::text, \
                CASE WHEN c.relowner = (SELECT v.relowner FROM pg_catalog.pg_class v \
                     WHERE v.relnamespace = c.relnamespace AND v.relname = 'schema_version') \
                     THEN NULL ELSE c.relowner::regrole::text END, \
                (SELECT string_agg(DISTINCT a.privilege_type || ' to ' || a.grantee::regrole::text, ', ' \
                        ORDER BY a.privilege_type || ' to ' || a.grantee::regrole::text) \
                 FROM pg_catalog.aclexplode(c.relacl) a \
                 WHERE a.grantee <> c.relowner \
                   AND a.privilege_type NOT IN ('SELECT', 'INSERT', 'USAGE')), \
                (SELECT string_agg(i.inhrelid::regclass::text, ', ' ORDER BY i.inhrelid::regclass::text) \
                 FROM pg_catalog.pg_inherits i WHERE i.inhparent = c.oid), \
                (SELECT string_agg(i.inhparent::regclass::text, ', ' ORDER BY i.inhparent::regclass::text) \
                 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid) \
         FROM pg_catalog.pg_class c \
         WHERE c.relnamespace = $1 AND c.relkind NOT IN ('i', 'I', 't') ORDER BY c.relname",
        &[&ns],
    )? {
        let oid: u32 = r.try_get(0)?;
        let name: String = r.try_get(1)?;
        let kind = match r.try_get::<_, String>(2)?.as_str() {
            "r" => "table",
            "v" => "view",
            "S" => "sequence",
            "m" => "materialized view",
            "f" => "foreign table",
            "p" => "partitioned table",
            "c" => "composite type",
            _ => "relation",
        };
        put(kind, name.clone(), kind.to_string());
        if r.try_get::<_, bool>(3)? {
            put(kind, name.clone(), "row level security enabled".into());
        }
        if r.try_get::<_, bool>(4)? {
            put(kind, name.clone(), "row level security forced".into());
        }
        let disabled: i64 = r.try_get(5)?;
        if disabled > 0 {
            put(
                kind,
                name.clone(),
                format!("{disabled} foreign key trigger(s) disabled"),
            );
        }
        // Unlogged, a table loses its rows in a crash and is never sent to the replica.
        match r.try_get::<_, String>(6)?.as_str() {
            "p" => {}
            "u" => put(kind, name.clone(), "unlogged".into()),
            other => put(kind, name.clone(), format!("persistence {other}")),
        }
        // Whoever owns a table may drop its triggers: one role owns all of titrate's.
        if let Some(owner) = r.try_get::<_, Option<String>>(7)? {
            put(
                kind,
                name.clone(),
                format!("owned by {owner}, not the owner of titrate's other tables"),
            );
        }
        // Beyond reading and adding rows, no one is granted anything on the record: an
        // UPDATE, DELETE, TRUNCATE or TRIGGER grant would undo the second layer.
        if let Some(grants) = r.try_get::<_, Option<String>>(8)? {
            put(kind, name.clone(), format!("grants {grants}"));
        }
        // A table anywhere that inherits from one of titrate's: every read of the parent
        // (that is, every read titrate makes) returns the child's rows too, rows no write
        // of titrate's made and no audit row covers. Named schema-qualified (regclass).
        if let Some(children) = r.try_get::<_, Option<String>>(9)? {
            put(kind, name.clone(), format!("inherited by {children}"));
        }
        if let Some(parents) = r.try_get::<_, Option<String>>(10)? {
            put(kind, name.clone(), format!("inherits from {parents}"));
        }
        if kind == "sequence" {
            for s in c.query(
                "SELECT format_type(seqtypid, NULL), seqincrement, seqcycle \
                 FROM pg_catalog.pg_sequence WHERE seqrelid = $1",
                &[&oid],
            )? {
                let ty: String = s.try_get(0)?;
                let inc: i64 = s.try_get(1)?;
                let cycle: bool = s.try_get(2)?;
                put(
                    kind,
                    name.clone(),
                    format!("{ty}, increment {inc}, cycle {cycle}"),
                );
            }
            continue;
        }
        for a in c.query(
            "SELECT a.attnum::bigint, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                    a.attnotnull, pg_catalog.pg_get_expr(d.adbin, d.adrelid), \
                    a.attidentity::text, a.attgenerated::text, \
                    (SELECT collname::text FROM pg_catalog.pg_collation WHERE oid = a.attcollation) \
             FROM pg_catalog.pg_attribute a \
             LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&oid],
        )? {
            let num: i64 = a.try_get(0)?;
            let col: String = a.try_get(1)?;
            let ty: String = a.try_get(2)?;
            let mut line = format!("column {num} {col} {ty}");
            if a.try_get::<_, bool>(3)? {
                line.push_str(" not null");
            }
            if let Some(d) = a.try_get::<_, Option<String>>(4)? {
                line.push_str(&format!(" default {}", strip(d)));
            }
            match a.try_get::<_, String>(5)?.as_str() {
                "a" => line.push_str(" generated always as identity"),
                "d" => line.push_str(" generated by default as identity"),
                _ => {}
            }
            if a.try_get::<_, String>(6)? == "s" {
                line.push_str(" generated stored");
            }
            if let Some(coll) = a.try_get::<_, Option<String>>(7)?
                && coll != "default"
            {
                line.push_str(&format!(" collate {coll}"));
            }
            put(kind, name.clone(), line);
        }
        for k in c.query(
            "SELECT conname::text, pg_catalog.pg_get_constraintdef(oid), convalidated \
             FROM pg_catalog.pg_constraint WHERE conrelid = $1 ORDER BY conname",
            &[&oid],
        )? {
            let cname: String = k.try_get(0)?;
            let def: String = strip(k.try_get(1)?);
            let valid = if k.try_get::<_, bool>(2)? {
                ""
            } else {
                " (not validated)"
            };
            put(
                kind,
                name.clone(),
                format!("constraint {cname}: {def}{valid}"),
            );
        }
        if kind == "view" || kind == "materialized view" {
            let def: String = c
                .query_one("SELECT pg_catalog.pg_get_viewdef($1::oid)", &[&oid])?
                .try_get(0)?;
            // On one line: the deparser's line breaks and indentation are layout only.
            let def = strip(def).split_whitespace().collect::<Vec<_>>().join(" ");
            put(kind, name.clone(), format!("as {def}"));
        }
    }

    for r in c.query(
        "SELECT i.relname::text, t.relname::text, pg_catalog.pg_get_indexdef(i.oid), x.indisvalid \
         FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid \
         JOIN pg_catalog.pg_class t ON t.oid = x.indrelid WHERE t.relnamespace = $1",
        &[&ns],
    )? {
        let name: String = r.try_get(0)?;
        let table: String = r.try_get(1)?;
        let def: String = strip(r.try_get(2)?);
        let valid = if r.try_get::<_, bool>(3)? {
            ""
        } else {
            " (invalid)"
        };
        put("index", name, format!("on {table}: {def}{valid}"));
    }

    // A session whose role or database says `session_replication_role = replica` (a
    // superuser's ALTER ROLE ... SET) fires no ordinary trigger: the record's refusals of
    // UPDATE and DELETE, and the audit log's checks, would all be silent.
    let replication: String = c
        .query_one(
            "SELECT pg_catalog.current_setting('session_replication_role')",
            &[],
        )?
        .try_get(0)?;
    put(
        "setting",
        "session_replication_role".into(),
        format!("is {replication}"),
    );

    for r in c.query(
        "SELECT t.tgname::text, c.relname::text, pg_catalog.pg_get_triggerdef(t.oid), t.tgenabled::text \
         FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid \
         WHERE c.relnamespace = $1 AND NOT t.tgisinternal",
        &[&ns],
    )? {
        let name: String = r.try_get(0)?;
        let table: String = r.try_get(1)?;
        let def: String = strip(r.try_get(2)?);
        let enabled = match r.try_get::<_, String>(3)?.as_str() {
            "O" => "enabled",
            "D" => "disabled",
            "R" => "enabled on replicas only",
            "A" => "enabled always",
            _ => "enabled in an unknown way",
        };
        put(
            "trigger",
            format!("{name} on {table}"),
            format!("{def} ({enabled})"),
        );
    }

    for r in c.query(
        "SELECT p.proname::text, pg_catalog.pg_get_function_identity_arguments(p.oid), \
                l.lanname::text, p.prokind::text, pg_catalog.pg_get_function_result(p.oid), \
                p.prosecdef, p.provolatile::text, coalesce(p.proconfig, '{}'), p.prosrc \
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang \
         WHERE p.pronamespace = $1",
        &[&ns],
    )? {
        let name: String = r.try_get(0)?;
        let args: String = r.try_get(1)?;
        let key = format!("{name}({})", strip(args));
        let lang: String = r.try_get(2)?;
        let prokind: String = r.try_get(3)?;
        let result: Option<String> = r.try_get(4)?;
        let secdef: bool = r.try_get(5)?;
        let volatile: String = r.try_get(6)?;
        let config: Vec<String> = r.try_get(7)?;
        let src: String = r.try_get(8)?;
        let config: Vec<String> = config
            .into_iter()
            .map(|item| match item.strip_prefix("search_path=") {
                Some(path) if path.trim_matches('"') == schema => {
                    "search_path=(titrate's schema)".to_string()
                }
                _ => item,
            })
            .collect();
        put(
            "function",
            key.clone(),
            format!(
                "kind {prokind}, language {lang}, returns {}, security definer {secdef}, volatility {volatile}, settings [{}]",
                strip(result.unwrap_or_default()),
                config.join(", ")
            ),
        );
        put("function", key, format!("body {src:?}"));
    }

    for r in c.query(
        "SELECT r.rulename::text, c.relname::text, pg_catalog.pg_get_ruledef(r.oid), r.ev_enabled::text \
         FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class \
         WHERE c.relnamespace = $1 AND r.rulename <> '_RETURN'",
        &[&ns],
    )? {
        let name: String = r.try_get(0)?;
        let table: String = r.try_get(1)?;
        let def: String = strip(r.try_get(2)?);
        let enabled: String = r.try_get(3)?;
        put(
            "rule",
            format!("{name} on {table}"),
            format!("{def} (enabled {enabled})"),
        );
    }

    for r in c.query(
        "SELECT p.polname::text, c.relname::text, p.polcmd::text, p.polpermissive, \
                coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), ''), \
                coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '') \
         FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid \
         WHERE c.relnamespace = $1",
        &[&ns],
    )? {
        let name: String = r.try_get(0)?;
        let table: String = r.try_get(1)?;
        let cmd: String = r.try_get(2)?;
        let permissive: bool = r.try_get(3)?;
        let qual: String = strip(r.try_get(4)?);
        let check: String = strip(r.try_get(5)?);
        put(
            "policy",
            format!("{name} on {table}"),
            format!("command {cmd}, permissive {permissive}, using ({qual}), check ({check})"),
        );
    }

    // Types of their own (domains, enums, ranges, base types), not the row types of
    // relations nor array types.
    for r in c.query(
        "SELECT t.typname::text, t.typtype::text FROM pg_catalog.pg_type t \
         WHERE t.typnamespace = $1 AND t.typrelid = 0 AND t.typcategory <> 'A' \
           AND t.typtype <> 'm'",
        &[&ns],
    )? {
        let name: String = r.try_get(0)?;
        let ty: String = r.try_get(1)?;
        put("type", name, format!("type kind {ty}"));
    }
    Ok(out)
}

/// A cheap mark of what a write runs into, for `$1` the oids of titrate's relations and `$2`
/// the functions of titrate's schema and those its triggers call ([`FUNCTIONS_SQL`]): the
/// identity and row version of the relations' own catalog rows, their triggers (an added,
/// dropped or disabled one), those functions (one replaced), their columns, tables that
/// inherit from them (anywhere: a child's rows are read with the parent's), their rules
/// and policies, constraints (a UNIQUE or CHECK dropped) and column defaults. Any DDL on
/// them writes one of these rows and so changes the mark; ANALYZE and VACUUM update
/// statistics in place and do not. The catalogs read are small, so a write pays a fraction
/// of a millisecond for it (a description of the whole schema, which the
/// write makes only when the mark moved, costs tens of milliseconds). What a write does not
/// run into (an index added or dropped, a table added) is found by the full comparison, in
/// `titrate check` and whenever the mark moved. The version row is part of it: a migration
/// by a newer titrate moves it, and the write then finds the database too new. So does the
/// session's `session_replication_role`, under which no ordinary trigger fires.
///
/// The rows are sorted bytewise (COLLATE "C": a sort by the database's own collation was
/// most of the cost, this one is too small to measure): the write computes the mark twice,
/// at its start and just before COMMIT ([`mark_check_sql`]), and two plans that read a
/// catalog in different orders must not give two marks.
pub const FINGERPRINT_SQL: &str = "SELECT md5(string_agg(x, ',' ORDER BY x COLLATE \"C\")) FROM ( \
    SELECT 'c' || c.oid || ':' || c.xmin FROM pg_catalog.pg_class c WHERE c.oid = ANY ($1) \
    UNION ALL SELECT 't' || t.oid || ':' || t.xmin FROM pg_catalog.pg_trigger t \
        WHERE t.tgrelid = ANY ($1) \
    UNION ALL SELECT 'p' || p.oid || ':' || p.xmin FROM pg_catalog.pg_proc p \
        WHERE p.oid = ANY ($2) \
    UNION ALL SELECT 'r' || r.oid || ':' || r.xmin FROM pg_catalog.pg_rewrite r \
        WHERE r.ev_class = ANY ($1) \
    UNION ALL SELECT 'o' || o.oid || ':' || o.xmin FROM pg_catalog.pg_policy o \
        WHERE o.polrelid = ANY ($1) \
    UNION ALL SELECT 'k' || k.oid || ':' || k.xmin FROM pg_catalog.pg_constraint k \
        WHERE k.conrelid = ANY ($1) \
    UNION ALL SELECT 'd' || d.oid || ':' || d.xmin FROM pg_catalog.pg_attrdef d \
        WHERE d.adrelid = ANY ($1) \
    UNION ALL SELECT 'a' || a.attrelid || '.' || a.attnum || ':' || a.xmin \
        FROM pg_catalog.pg_attribute a WHERE a.attrelid = ANY ($1) AND a.attnum > 0 \
    UNION ALL SELECT 'i' || i.inhrelid || '<' || i.inhparent || ':' || i.xmin \
        FROM pg_catalog.pg_inherits i WHERE i.inhparent = ANY ($1) OR i.inhrelid = ANY ($1) \
    UNION ALL SELECT 'v' || v.xmin FROM schema_version v \
    UNION ALL SELECT 's' || pg_catalog.current_setting('session_replication_role') \
) s (x)";

/// The functions the triggers of the relations `$1` call, and every function of titrate's
/// schema `$2` (a write calls `append_audit` itself, and no table lock keeps a
/// `CREATE OR REPLACE FUNCTION` waiting): `$2` of [`FINGERPRINT_SQL`]. A trigger added with
/// another function adds a pg_trigger row, which moves the mark anyway.
pub const FUNCTIONS_SQL: &str = "SELECT coalesce(array_agg(DISTINCT f ORDER BY f), '{}') FROM ( \
    SELECT tgfoid FROM pg_catalog.pg_trigger WHERE tgrelid = ANY ($1) \
    UNION ALL SELECT oid FROM pg_catalog.pg_proc WHERE pronamespace = $2) s (f)";

/// A statement that fails (SQLSTATE 22P02, its message holding [`MARK_MOVED`]) unless [`FINGERPRINT_SQL`] of
/// `$1` and `$2` is still `$3`: the last statement before a write's COMMIT. A DDL statement
/// that locked a table before the write reached it, and committed while the write waited
/// for that lock, changes what the write's later statements run into after the write's
/// first look at the mark; every such change has committed before this statement begins
/// (its snapshot is newer), and none can commit after it (the write holds its tables'
/// locks until it ends). The error is an expression of the catalog, so no plan folds it
/// away, and it needs no function of titrate's own, which could itself be replaced.
pub fn mark_check_sql() -> String {
    format!(
        "SELECT CASE WHEN f.m IS NOT DISTINCT FROM $3 THEN 0 \
         ELSE ('{MARK_MOVED} ' || coalesce(f.m, 'none'))::int END FROM ({FINGERPRINT_SQL}) f (m)"
    )
}

/// What the failure of [`mark_check_sql`] says.
pub const MARK_MOVED: &str = "titrate-mark-moved";

/// The oids of the relations in titrate's schema, which [`FINGERPRINT_SQL`] follows.
pub const RELATIONS_SQL: &str = "SELECT coalesce(array_agg(oid ORDER BY oid), '{}') \
    FROM pg_catalog.pg_class WHERE relnamespace = $1 AND relkind IN ('r', 'v', 'p', 'm', 'f')";

/// The description as the checked-in file writes it.
pub fn render(d: &Description) -> String {
    let mut out = String::new();
    for ((kind, name), lines) in d {
        out.push_str(&format!("{kind}\t{name}\n"));
        for l in lines {
            out.push_str(&format!("  {l}\n"));
        }
    }
    out
}

/// Every version's expected description, from the checked-in file.
pub fn expected_all() -> BTreeMap<i64, Description> {
    let mut out: BTreeMap<i64, Description> = BTreeMap::new();
    let mut version: Option<i64> = None;
    let mut current: Option<(String, String)> = None;
    for line in EXPECTED.lines() {
        if let Some(v) = line.strip_prefix("== version ") {
            version = v.trim().parse().ok();
            if let Some(v) = version {
                out.entry(v).or_default();
            }
            current = None;
        } else if let Some(detail) = line.strip_prefix("  ") {
            if let (Some(v), Some(key)) = (version, &current) {
                out.entry(v)
                    .or_default()
                    .entry(key.clone())
                    .or_default()
                    .push(detail.to_string());
            }
        } else if let Some((kind, name)) = line.split_once('\t') {
            let key = (kind.to_string(), name.to_string());
            if let Some(v) = version {
                out.entry(v).or_default().entry(key.clone()).or_default();
            }
            current = Some(key);
        }
    }
    out
}

/// Every difference between `actual` and `expected`, each object named.
pub fn compare(expected: &Description, actual: &Description) -> Vec<Difference> {
    let mut out = Vec::new();
    for ((kind, name), want) in expected {
        match actual.get(&(kind.clone(), name.clone())) {
            None => out.push(Difference {
                kind: kind.clone(),
                name: name.clone(),
                change: Change::Missing,
            }),
            Some(got) if got != want => {
                let mut details: Vec<String> = want
                    .iter()
                    .filter(|w| !got.contains(w))
                    .map(|w| format!("titrate created {w}"))
                    .collect();
                details.extend(
                    got.iter()
                        .filter(|g| !want.contains(g))
                        .map(|g| format!("it now has {g}")),
                );
                if details.is_empty() {
                    details.push("the order of its parts differs".into());
                }
                out.push(Difference {
                    kind: kind.clone(),
                    name: name.clone(),
                    change: Change::Differs(details),
                });
            }
            Some(_) => {}
        }
    }
    for (kind, name) in actual.keys() {
        // An object of another kind by the same name is named once, as differing kind.
        if !expected.contains_key(&(kind.clone(), name.clone())) {
            out.push(Difference {
                kind: kind.clone(),
                name: name.clone(),
                change: Change::Added,
            });
        }
    }
    out
}

/// Every way `actual` differs from what migrations 1..=`version` create; a schema that is
/// exactly another version's is said as a changed version number.
pub fn problems(actual: &Description, version: i64) -> Vec<SchemaProblem> {
    let all = expected_all();
    let empty = Description::new();
    let expected = all.get(&version).unwrap_or(&empty);
    let diffs = compare(expected, actual);
    if diffs.is_empty() {
        return vec![];
    }
    if let Some((holds, _)) = all
        .iter()
        .rev()
        .find(|(n, d)| **n != version && *d == actual)
    {
        return vec![SchemaProblem::Version {
            found: version,
            holds: *holds,
        }];
    }
    diffs.into_iter().map(SchemaProblem::Object).collect()
}
