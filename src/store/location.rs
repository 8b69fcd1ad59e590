//! Where the record is: an SQLite file (the embedded default) or a PostgreSQL server.

use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// An SQLite database file.
    File(PathBuf),
    /// A PostgreSQL connection string (libpq URL, `postgresql://…` or `postgres://…`).
    Server(String),
}

impl Location {
    /// `--db`, `TITRATE_DB` and `database.url` name a server by its URL scheme; anything
    /// else is a file path.
    pub fn parse(s: &str) -> Location {
        if is_server_url(s) {
            Location::Server(s.to_string())
        } else {
            Location::File(PathBuf::from(s))
        }
    }

    pub fn file(&self) -> Option<&Path> {
        match self {
            Location::File(p) => Some(p),
            Location::Server(_) => None,
        }
    }

    /// For messages: the path, or the URL with any password left out.
    pub fn shown(&self) -> String {
        match self {
            Location::File(p) => p.display().to_string(),
            Location::Server(url) => super::pg_tls::redact(url),
        }
    }
}

fn is_server_url(s: &str) -> bool {
    let lower = s.get(..13).unwrap_or(s).to_ascii_lowercase();
    lower.starts_with("postgresql://") || lower.starts_with("postgres://") || is_keyword_string(s)
}

/// libpq's other form, `host=db1 dbname=titrate user=app`: settings of its own keys, never a
/// file name (whose "no such file" message would print a password given in it).
fn is_keyword_string(s: &str) -> bool {
    const KEYS: [&str; 7] = [
        "host", "hostaddr", "port", "dbname", "user", "password", "sslmode",
    ];
    s.split_once('=')
        .is_some_and(|(k, _)| KEYS.contains(&k.trim().to_ascii_lowercase().as_str()))
}

impl From<&Path> for Location {
    fn from(p: &Path) -> Location {
        Location::File(p.to_path_buf())
    }
}

impl From<&PathBuf> for Location {
    fn from(p: &PathBuf) -> Location {
        Location::File(p.clone())
    }
}

impl From<PathBuf> for Location {
    fn from(p: PathBuf) -> Location {
        Location::File(p)
    }
}

impl From<&Location> for Location {
    fn from(l: &Location) -> Location {
        l.clone()
    }
}

impl From<&str> for Location {
    fn from(s: &str) -> Location {
        Location::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_a_server_and_anything_else_a_file() {
        assert_eq!(
            Location::parse("postgresql://postgres@/titrate?host=/tmp/pgsock"),
            Location::Server("postgresql://postgres@/titrate?host=/tmp/pgsock".into())
        );
        assert!(matches!(
            Location::parse("POSTGRES://h/db"),
            Location::Server(_)
        ));
        assert_eq!(Location::parse("ward.db"), Location::File("ward.db".into()));
        assert!(matches!(
            Location::parse("host=/tmp/s dbname=titrate password=x"),
            Location::Server(_)
        ));
        assert!(matches!(
            Location::parse("dbname = titrate"),
            Location::Server(_)
        ));
        assert_eq!(
            Location::parse("hostel=1.db"),
            Location::File("hostel=1.db".into())
        );
        assert_eq!(
            Location::parse("postgresql.db"),
            Location::File("postgresql.db".into())
        );
    }

    #[test]
    fn a_server_is_shown_without_its_password() {
        let at = Location::parse("postgresql://app:s3cret@db1,db2/titrate?sslmode=require");
        assert_eq!(
            at.shown(),
            "postgresql://app:***@db1,db2/titrate?sslmode=require"
        );
        assert_eq!(Location::parse("ward.db").shown(), "ward.db");
        assert_eq!(
            Location::parse("host=/tmp/s password=s3cret").shown(),
            "host=/tmp/s password=***"
        );
    }
}
