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
            Location::Server(url) => without_password(url),
        }
    }
}

fn is_server_url(s: &str) -> bool {
    let lower = s.get(..13).unwrap_or(s).to_ascii_lowercase();
    lower.starts_with("postgresql://") || lower.starts_with("postgres://")
}

/// `postgresql://user:secret@host/db` as `postgresql://user:***@host/db`, and a `password=`
/// parameter likewise: a connection string is printed in messages, a password never.
pub fn without_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let authority = match authority.rfind('@') {
        Some(at) => match authority[..at].find(':') {
            Some(colon) => format!("{}:***{}", &authority[..colon], &authority[at..]),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let tail = &rest[authority_end..];
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{}{authority}{tail}", &url[..scheme_end])
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
        assert_eq!(
            Location::parse("postgresql.db"),
            Location::File("postgresql.db".into())
        );
    }

    #[test]
    fn a_password_is_never_shown() {
        assert_eq!(
            without_password("postgresql://app:s3cret@db1,db2/titrate?sslmode=require"),
            "postgresql://app:***@db1,db2/titrate?sslmode=require"
        );
        assert_eq!(
            without_password("postgresql:///titrate?host=/tmp/s&password=s3cret&user=app"),
            "postgresql:///titrate?host=/tmp/s&password=***&user=app"
        );
        assert_eq!(
            without_password("postgresql://app@h/titrate"),
            "postgresql://app@h/titrate"
        );
    }
}
