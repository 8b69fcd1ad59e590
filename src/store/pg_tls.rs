//! Connecting to PostgreSQL as libpq would: a libpq-style URL or key=value string with one
//! or several hosts, Unix-socket folders, `target_session_attrs`, a password,
//! `connect_timeout`, and all of libpq's TLS modes with a CA file.
//!
//! # The connection string
//!
//! - `postgresql://user:password@host1:5432,host2:5433/dbname?sslmode=verify-full&sslrootcert=/etc/titrate/ca.pem`
//! - `postgresql://postgres@/titrate?host=/var/run/postgresql` (a Unix-socket folder)
//! - `host=db1,db2 port=5432 dbname=titrate user=titrate sslmode=require`
//!
//! As in libpq, `host` and `port` may list several servers separated by commas (also in a
//! URL's `?host=`, which tokio-postgres alone would take as one folder); a later setting
//! overrides an earlier one. The hosts are tried in the order written: the first that
//! answers (and, with `target_session_attrs=read-write`, takes writes) is used. Each try
//! waits at most `connect_timeout` seconds, 10 when the string does not say, so a dead
//! server does not hang a terminal. Without any host, titrate uses Debian's socket folder
//! `/var/run/postgresql`, as Debian's libpq does. Unlike libpq, the environment (`PGHOST`,
//! `PGPASSWORD`, …) and `~/.pgpass` are not read: the string says everything.
//!
//! # TLS (`sslmode`, `sslrootcert`)
//!
//! - `disable`: no TLS.
//! - `prefer` (libpq's default): TLS when the server offers it, otherwise plain.
//! - `require`: TLS or no connection. **Without a CA file the connection is encrypted but
//!   the server is not verified**: anyone who can intercept the traffic can pose as the
//!   server. With a CA file (`sslrootcert`, or `~/.postgresql/root.crt` when it exists)
//!   the chain is checked, as with `verify-ca` (libpq does the same).
//! - `verify-ca`: TLS, and the server's certificate must chain to a CA in the file; the
//!   host name is not checked.
//! - `verify-full`: TLS, the chain is checked, and the certificate must name the host
//!   that was asked for (`host`, also when `hostaddr` gives the address to connect to).
//!
//! `sslrootcert` is a PEM file with one or more CA certificates; by default
//! `~/.postgresql/root.crt`, as libpq. A verify mode without a readable CA file is refused
//! before any connection, naming the file. `sslrootcert=system` (libpq 16) is refused:
//! titrate carries no store of public CAs, and a hospital's database has its own CA.
//!
//! A Unix socket never carries TLS: the server does not offer it there, and libpq does not
//! ask for it, whatever `sslmode` says (libpq's documentation: "sslmode is ignored for Unix
//! domain socket communication"; the socket is a local file whose permissions guard it). titrate does the same, so a string with `sslmode=verify-full` and a socket
//! folder connects without TLS, and the CA file is read only when a TCP host is tried.
//!
//! # Why rustls
//!
//! TLS comes from rustls with the ring provider (through tokio-postgres-rustls): pure Rust
//! apart from ring's small C and assembly core, which builds with the C compiler the
//! machine already has. There is no system OpenSSL to find at build time or to keep in
//! step at run time, nothing is fetched while building, and rustls is well kept (a
//! Linux Foundation/ISRG project, audited, memory-safe, with a steady release history).
//!
//! # Errors
//!
//! A string that cannot be read, or a CA file that cannot, is `StoreError::Open`; no
//! server answering (or none taking writes, or all refusing the login or the certificate)
//! is `StoreError::Unavailable`, naming every host tried and why it failed. No message
//! ever contains the password: it is shown as `***`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use postgres::config::SslMode as PgSslMode;
use postgres::{Client, NoTls};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::StoreError;

/// How long one host may take to answer when the string gives no `connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The socket folder used when the string names no host (Debian's, as its libpq).
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// libpq's TLS modes (`allow` is not offered: it tries plain first, which a hospital
/// should not want).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<SslMode, String> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            "allow" => {
                return Err("sslmode=allow is not supported (it tries an unencrypted connection first): use disable, prefer, require, verify-ca or verify-full".into());
            }
            other => {
                return Err(format!(
                    "sslmode={other} is not a TLS mode: use disable, prefer, require, verify-ca or verify-full"
                ));
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Connects to the first host of `url` that answers (and takes writes, if
/// `target_session_attrs=read-write`), with the TLS `sslmode` asks for.
pub fn connect(url: &str) -> Result<Client, StoreError> {
    let target = Target::parse(url).map_err(|why| open_error(url, &why))?;
    let password = target.password.clone().unwrap_or_default();
    let scrub = |s: String| scrub(&s, &password);
    let any_tcp = target.hosts.iter().any(|h| !h.is_unix());
    let tls = if any_tcp && target.sslmode != SslMode::Disable {
        Some(Arc::new(
            target
                .tls_config()
                .map_err(|why| open_error(url, &scrub(why)))?,
        ))
    } else {
        None
    };
    let mut failures = Vec::new();
    for host in &target.hosts {
        let mut config: postgres::Config = target
            .conninfo_for(host)
            .parse()
            .map_err(|e| open_error(url, &scrub(describe(&e, &target, host))))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        let timeout = config
            .get_connect_timeout()
            .copied()
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let result = match (&tls, host.is_unix()) {
            (Some(tls), false) => {
                config.ssl_mode(match target.sslmode {
                    SslMode::Prefer => PgSslMode::Prefer,
                    _ => PgSslMode::Require,
                });
                let make = MakeRustlsConnect::new((**tls).clone());
                connect_within(config, timeout, move |c| c.connect(make))
            }
            _ => {
                config.ssl_mode(PgSslMode::Disable);
                connect_within(config, timeout, |c| c.connect(NoTls))
            }
        };
        match result {
            Ok(client) => return Ok(client),
            Err(why) => failures.push(format!("{}: {}", host.label(), scrub(why(&target, host)))),
        }
    }
    Err(StoreError::Unavailable(format!(
        "tried {}",
        failures.join("; ")
    )))
}

type Why = Box<dyn FnOnce(&Target, &Host) -> String + Send>;

/// Runs one connection attempt on a thread of its own and gives up after the timeout and
/// a little more: tokio-postgres's `connect_timeout` bounds only the socket's connect, not
/// a server that accepts and then says nothing. A thread given up on ends when its socket
/// does.
fn connect_within<F>(config: postgres::Config, timeout: Duration, f: F) -> Result<Client, Why>
where
    F: FnOnce(&postgres::Config) -> Result<Client, postgres::Error> + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("pg-connect".into())
        .spawn(move || {
            let _ = tx.send(f(&config));
        });
    if let Err(e) = spawned {
        return Err(Box::new(move |_, _| {
            format!("cannot start a thread to connect: {e}")
        }));
    }
    match rx.recv_timeout(timeout + Duration::from_secs(1)) {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(Box::new(move |t, h| describe(&e, t, h))),
        Err(_) => Err(Box::new(move |_, _| {
            format!(
                "no answer within {} s (connect_timeout)",
                timeout.as_secs_f64()
            )
        })),
    }
}

fn open_error(url: &str, why: &str) -> StoreError {
    StoreError::Open {
        path: redact(url),
        why: why.to_string(),
    }
}

/// One server to try.
#[derive(Clone, Debug, PartialEq)]
struct Host {
    host: String,
    port: String,
    hostaddr: Option<String>,
}

impl Host {
    fn is_unix(&self) -> bool {
        self.host.starts_with('/') && self.hostaddr.is_none()
    }

    fn label(&self) -> String {
        let port = if self.port.is_empty() {
            "5432"
        } else {
            &self.port
        };
        if self.is_unix() {
            format!("socket folder {} port {port}", self.host)
        } else if let Some(addr) = &self.hostaddr {
            format!("{} (address {addr}) port {port}", self.host)
        } else if self.host.contains(':') {
            format!("[{}]:{port}", self.host)
        } else {
            format!("{}:{port}", self.host)
        }
    }
}

/// A connection string taken apart.
#[derive(Debug)]
struct Target {
    /// Every other setting, for tokio-postgres, in order.
    rest: Vec<(String, String)>,
    hosts: Vec<Host>,
    sslmode: SslMode,
    sslrootcert: Option<String>,
    password: Option<String>,
}

impl Target {
    fn parse(s: &str) -> Result<Target, String> {
        let pairs = if s.starts_with("postgresql://") || s.starts_with("postgres://") {
            url_pairs(s)?
        } else {
            keyword_pairs(s)?
        };
        // Later settings override earlier ones, as in libpq.
        let mut last: Vec<(String, String)> = Vec::new();
        for (k, v) in pairs {
            last.retain(|(key, _)| *key != k);
            last.push((k, v));
        }
        let take = |key: &str, last: &mut Vec<(String, String)>| {
            let i = last.iter().position(|(k, _)| k == key)?;
            Some(last.remove(i).1)
        };
        let host = take("host", &mut last).filter(|h| !h.is_empty());
        let port = take("port", &mut last);
        let hostaddr = take("hostaddr", &mut last).filter(|h| !h.is_empty());
        let sslmode = match take("sslmode", &mut last) {
            Some(m) => SslMode::parse(&m)?,
            None => SslMode::Prefer,
        };
        let sslrootcert = take("sslrootcert", &mut last).filter(|f| !f.is_empty());
        let password = last
            .iter()
            .find(|(k, _)| k == "password")
            .map(|(_, v)| v.clone());

        let hosts: Vec<String> = match &host {
            Some(h) => h.split(',').map(str::to_string).collect(),
            None => vec![DEFAULT_SOCKET_DIR.to_string()],
        };
        let addrs: Vec<Option<String>> = match &hostaddr {
            None => vec![None; hosts.len()],
            Some(a) => a
                .split(',')
                .map(|x| Some(x.to_string()).filter(|x| !x.is_empty()))
                .collect(),
        };
        if addrs.len() != hosts.len() {
            return Err(format!(
                "{} hosts but {} hostaddr values: give one address per host",
                hosts.len(),
                addrs.len()
            ));
        }
        let ports: Vec<String> = match &port {
            Some(p) => p.split(',').map(str::to_string).collect(),
            None => vec![String::new()],
        };
        if ports.len() != 1 && ports.len() != hosts.len() {
            return Err(format!(
                "{} hosts but {} ports: give one port for all hosts or one per host",
                hosts.len(),
                ports.len()
            ));
        }
        for p in &ports {
            if !p.is_empty() && p.parse::<u16>().is_err() {
                return Err(format!("the port {p:?} is not a port number (1 to 65535)"));
            }
        }
        let hosts = hosts
            .into_iter()
            .zip(addrs)
            .enumerate()
            .map(|(i, (host, hostaddr))| Host {
                host: if host.is_empty() {
                    DEFAULT_SOCKET_DIR.to_string()
                } else {
                    host
                },
                port: ports.get(i).unwrap_or(&ports[0]).clone(),
                hostaddr,
            })
            .collect();
        Ok(Target {
            rest: last,
            hosts,
            sslmode,
            sslrootcert,
            password,
        })
    }

    /// The key=value string for one host, without the settings titrate handles itself.
    fn conninfo_for(&self, host: &Host) -> String {
        let mut out = format!("host={}", quote(&host.host));
        if !host.port.is_empty() {
            out.push_str(&format!(" port={}", quote(&host.port)));
        }
        if let Some(a) = &host.hostaddr {
            out.push_str(&format!(" hostaddr={}", quote(a)));
        }
        for (k, v) in &self.rest {
            out.push_str(&format!(" {k}={}", quote(v)));
        }
        out
    }

    /// The CA file: `sslrootcert`, or libpq's default `~/.postgresql/root.crt`. `None`
    /// when neither is given or exists.
    fn root_file(&self) -> Option<PathBuf> {
        if let Some(f) = &self.sslrootcert {
            return Some(PathBuf::from(f));
        }
        let home = std::env::var_os("HOME")?;
        let f = Path::new(&home).join(".postgresql/root.crt");
        f.exists().then_some(f)
    }

    fn tls_config(&self) -> Result<ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS cannot be set up: {e}"))?;
        let roots = match self.root_file() {
            Some(f) => Some(read_roots(&f)?),
            None if matches!(self.sslmode, SslMode::VerifyCa | SslMode::VerifyFull) => {
                return Err(format!(
                    "sslmode={} checks the server's certificate, but no CA file was given and ~/.postgresql/root.crt does not exist: add sslrootcert=FILE (the PEM file of the CA that signed the server's certificate)",
                    self.sslmode.name()
                ));
            }
            None => None,
        };
        let algorithms = provider.signature_verification_algorithms;
        let config = match (self.sslmode, roots) {
            (SslMode::VerifyFull, Some(roots)) => {
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            (_, Some(roots)) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly {
                    roots: Arc::new(roots),
                    algorithms,
                }))
                .with_no_client_auth(),
            (_, None) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unverified { algorithms }))
                .with_no_client_auth(),
        };
        Ok(config)
    }
}

fn read_roots(file: &Path) -> Result<RootCertStore, String> {
    if file.as_os_str() == "system" {
        return Err("sslrootcert=system (the system's public CAs) is not supported: give the PEM file of your database's CA".into());
    }
    let bytes = std::fs::read(file)
        .map_err(|e| format!("cannot read the CA file {}: {e}", file.display()))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert = cert.map_err(|e| {
            format!(
                "the CA file {} is not a PEM certificate file: {e}",
                file.display()
            )
        })?;
        roots.add(cert).map_err(|e| {
            format!(
                "the CA file {} holds a certificate that cannot be used as a CA: {e}",
                file.display()
            )
        })?;
    }
    if roots.is_empty() {
        return Err(format!(
            "the CA file {} holds no certificate (expected PEM, -----BEGIN CERTIFICATE-----)",
            file.display()
        ));
    }
    Ok(roots)
}

/// verify-ca: the chain must end at one of the CAs; the name in the certificate is not
/// looked at. The handshake's signatures are checked as always.
#[derive(Debug)]
struct ChainOnly {
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// prefer/require without a CA: encrypted, but any certificate is accepted (libpq's
/// behaviour). The handshake's signatures are still checked, so the session is bound to
/// the key of the certificate shown, whoever holds it.
#[derive(Debug)]
struct Unverified {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Why one host failed, in words: the server's own message, the certificate's fault, or
/// the socket's error.
fn describe(e: &postgres::Error, target: &Target, host: &Host) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("the server refused: {}", db.message());
        if let Some(d) = db.detail() {
            s.push_str(&format!(" ({d})"));
        }
        return s;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(tls) = rustls_error(err) {
            return describe_tls(tls, target, host);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            // tokio-postgres's own word for a server that is not read-write.
            if io.to_string().contains("database does not allow writes") {
                return READ_ONLY.into();
            }
            match (io.kind(), host.is_unix()) {
                (K::NotFound, true) => {
                    return "no server's socket is in that folder (is the server running, with this port?)".into();
                }
                (K::ConnectionRefused, _) => {
                    return "nothing listens there (connection refused: is the server running, with this port?)".into();
                }
                (K::PermissionDenied, true) => {
                    return format!(
                        "no permission to use the server's socket in that folder ({io})"
                    );
                }
                _ => {}
            }
        }
        source = err.source();
    }
    if e.to_string() == "timeout waiting for server" {
        return "no answer within connect_timeout".into();
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        let more = err.to_string();
        if !s.ends_with(&more) {
            s.push_str(": ");
            s.push_str(&more);
        }
        source = err.source();
    }
    if s.contains("database does not allow writes") {
        return READ_ONLY.into();
    }
    if s.contains("server does not support TLS") {
        return format!(
            "the server offers no TLS, and sslmode={} requires it",
            target.sslmode.name()
        );
    }
    s
}

const READ_ONLY: &str = "it takes no writes (a read-only standby), and target_session_attrs=read-write asks for the writable server";

fn rustls_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(r) = err.downcast_ref::<rustls::Error>() {
        return Some(r);
    }
    let io = err.downcast_ref::<std::io::Error>()?;
    io.get_ref()?.downcast_ref::<rustls::Error>()
}

fn describe_tls(e: &rustls::Error, target: &Target, host: &Host) -> String {
    use rustls::CertificateError as C;
    let ca = target
        .root_file()
        .map(|f| f.display().to_string())
        .unwrap_or_default();
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer | C::BadSignature => format!(
                "the server's certificate is not signed by the CA in {ca} (sslmode={})",
                target.sslmode.name()
            ),
            C::NotValidForName | C::NotValidForNameContext { .. } => format!(
                "the server's certificate is not made out to {}, the host asked for (sslmode=verify-full checks the name; verify-ca would not)",
                host.host
            ),
            C::Expired | C::ExpiredContext { .. } => {
                "the server's certificate has expired".to_string()
            }
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet (is the clock right?)".to_string()
            }
            C::Revoked => "the server's certificate has been revoked".to_string(),
            other => format!("the server's certificate was refused: {other:?}"),
        },
        other => format!("the TLS handshake failed: {other}"),
    }
}

/// A value for libpq's key=value syntax.
fn quote(v: &str) -> String {
    let mut s = String::from("'");
    for c in v.chars() {
        if c == '\'' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('\'');
    s
}

/// Every occurrence of the password replaced by `***`.
fn scrub(s: &str, password: &str) -> String {
    if password.is_empty() {
        s.to_string()
    } else {
        s.replace(password, "***")
    }
}

/// The connection string with its password (in a URL's user part, or any `password=`)
/// shown as `***`, for messages.
pub fn redact(s: &str) -> String {
    let mut out = s.to_string();
    if let Some(scheme_end) = out.find("://") {
        let start = scheme_end + 3;
        let auth_end = out[start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..auth_end].rfind('@') {
            let user = &out[start..start + at];
            if let Some(colon) = user.find(':') {
                out.replace_range(start + colon + 1..start + at, "***");
            }
        }
        // In a URL every setting after `?` is `key=value`, and a key is percent-decoded as
        // libpq decodes it (`pass%77ord` is `password`): each is looked at whole.
        if let Some(q) = out.find('?') {
            let (head, query) = out.split_at(q + 1);
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _))
                        if decode(k).is_ok_and(|k| k.trim().eq_ignore_ascii_case("password")) =>
                    {
                        format!("{k}=***")
                    }
                    _ => kv.to_string(),
                })
                .collect();
            return format!("{head}{}", query.join("&"));
        }
        return out;
    }
    // password=VALUE in a query string or a key=value string.
    let mut from = 0;
    while let Some(i) = out[from..].find("password") {
        let key_end = from + i + "password".len();
        let before_ok = from + i == 0
            || matches!(
                out.as_bytes()[from + i - 1],
                b'?' | b'&' | b' ' | b'\t' | b'\n'
            );
        let rest = &out[key_end..];
        let eq = rest.len() - rest.trim_start().len();
        if !before_ok || !rest[eq..].starts_with('=') {
            from = key_end;
            continue;
        }
        let vstart = key_end + eq + 1;
        let vstart = vstart + (out[vstart..].len() - out[vstart..].trim_start().len());
        let bytes = out.as_bytes();
        let vend = if bytes.get(vstart) == Some(&b'\'') {
            let mut j = vstart + 1;
            while j < bytes.len() && bytes[j] != b'\'' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            (j + 1).min(bytes.len())
        } else {
            out[vstart..]
                .find(['&', ' ', '\t', '\n'])
                .map_or(out.len(), |j| vstart + j)
        };
        out.replace_range(vstart..vend, "***");
        from = vstart + 3;
    }
    out
}

/// A libpq URL taken apart into settings: user, password, host, port, dbname, and the
/// query's settings, percent-decoded.
fn url_pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    let rest = s.split_once("://").map_or("", |(_, r)| r);
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (before_query, None),
    };
    let mut pairs = Vec::new();
    let hostlist = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                pairs.push(("user".to_string(), decode(user)?));
            }
            if let Some(p) = password {
                pairs.push(("password".to_string(), decode(p)?));
            }
            hosts
        }
        None => authority,
    };
    if !hostlist.is_empty() {
        let mut hosts = Vec::new();
        let mut ports = Vec::new();
        for chunk in hostlist.split(',') {
            let (host, port) = if let Some(v6) = chunk.strip_prefix('[') {
                let (h, after) = v6
                    .split_once(']')
                    .ok_or_else(|| format!("the host {chunk:?} lacks its closing ]"))?;
                let port = match after.strip_prefix(':') {
                    Some(p) => p,
                    None if after.is_empty() => "",
                    None => return Err(format!("cannot read the host {chunk:?}")),
                };
                (h, port)
            } else {
                chunk.split_once(':').unwrap_or((chunk, ""))
            };
            hosts.push(decode(host)?);
            ports.push(decode(port)?);
        }
        pairs.push(("host".to_string(), hosts.join(",")));
        if ports.iter().any(|p| !p.is_empty()) {
            pairs.push(("port".to_string(), ports.join(",")));
        }
    }
    if let Some(db) = path.filter(|p| !p.is_empty()) {
        pairs.push(("dbname".to_string(), decode(db)?));
    }
    for kv in query.unwrap_or("").split('&').filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            format!(
                "the setting {:?} has no value (write key=value)",
                redact(&format!("?{kv}")).trim_start_matches('?')
            )
        })?;
        pairs.push((decode(k)?, decode(v)?));
    }
    Ok(pairs)
}

fn decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a % in the URL is not followed by two hex digits (write %25 for %)")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the URL's %-escapes do not make UTF-8 text".to_string())
}

/// libpq's key=value syntax: `key = value`, a value in single quotes may hold spaces, and
/// a backslash escapes the next character.
fn keyword_pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(format!(
                "{key:?} has no value: a connection string is a postgresql:// URL or key=value settings"
            ));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(format!("the value of {key} lacks its closing quote")),
                    Some('\'') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn hosts(s: &str) -> Vec<Host> {
        Target::parse(s).unwrap().hosts
    }

    fn h(host: &str, port: &str) -> Host {
        Host {
            host: host.into(),
            port: port.into(),
            hostaddr: None,
        }
    }

    #[test]
    fn urls_with_several_hosts_and_socket_folders() {
        assert_eq!(
            hosts("postgresql://u@a:1,b,[::1]:3/db"),
            vec![h("a", "1"), h("b", ""), h("::1", "3")]
        );
        // libpq splits ?host= at commas; the later port list overrides.
        assert_eq!(
            hosts("postgresql://postgres@/titrate?host=/tmp/a,/tmp/b&port=5,6"),
            vec![h("/tmp/a", "5"), h("/tmp/b", "6")]
        );
        assert_eq!(
            hosts("postgresql://x@%2Fvar%2Frun%2Fpostgresql/db"),
            vec![h("/var/run/postgresql", "")]
        );
        assert_eq!(hosts("postgresql:///db"), vec![h(DEFAULT_SOCKET_DIR, "")]);
        assert_eq!(
            hosts("host=a,b port=7 dbname=x"),
            vec![h("a", "7"), h("b", "7")]
        );
        let t = Target::parse("postgresql://u:p%40ss@a/db?sslmode=verify-full&sslrootcert=/c.pem&target_session_attrs=read-write").unwrap();
        assert_eq!(t.password.as_deref(), Some("p@ss"));
        assert_eq!(t.sslmode, SslMode::VerifyFull);
        assert_eq!(t.sslrootcert.as_deref(), Some("/c.pem"));
        let ci = t.conninfo_for(&t.hosts[0]);
        assert!(
            !ci.contains("sslmode") && !ci.contains("sslrootcert"),
            "{ci}"
        );
        let c: postgres::Config = ci.parse().unwrap();
        assert_eq!(c.get_password(), Some(&b"p@ss"[..]));
        assert_eq!(c.get_dbname(), Some("db"));
        assert_eq!(
            c.get_target_session_attrs(),
            postgres::config::TargetSessionAttrs::ReadWrite
        );
    }

    #[test]
    fn key_value_strings_keep_quoted_values() {
        let t = Target::parse(r"host=a password='it''s' user = 'x y' dbname=d\ b").unwrap_err();
        assert!(t.contains("has no value") || t.contains("quote"), "{t}");
        let t = Target::parse(r"host=a password='it\'s \\ ok' user = 'x y' dbname=d\ b").unwrap();
        assert_eq!(t.password.as_deref(), Some(r"it's \ ok"));
        let c: postgres::Config = t.conninfo_for(&t.hosts[0]).parse().unwrap();
        assert_eq!(c.get_password(), Some(&br"it's \ ok"[..]));
        assert_eq!(c.get_user(), Some("x y"));
        assert_eq!(c.get_dbname(), Some("d b"));
    }

    #[test]
    fn bad_strings_say_what_is_wrong() {
        let e = Target::parse("postgresql://a/db?sslmode=verify").unwrap_err();
        assert!(e.contains("verify-full"), "{e}");
        let e = Target::parse("host=a,b,c port=1,2").unwrap_err();
        assert!(e.contains("3 hosts but 2 ports"), "{e}");
        let e = Target::parse("postgresql://a:99999/db").unwrap_err();
        assert!(e.contains("not a port number"), "{e}");
        let e = Target::parse("postgresql://a/db?%zz=1").unwrap_err();
        assert!(e.contains("hex"), "{e}");
    }

    #[test]
    fn the_password_is_never_shown() {
        assert_eq!(
            redact("postgresql://u:s3cret@h/db?x=1"),
            "postgresql://u:***@h/db?x=1"
        );
        assert_eq!(
            redact("postgresql://u@h/db?password=s3cret&sslmode=require"),
            "postgresql://u@h/db?password=***&sslmode=require"
        );
        assert_eq!(
            redact("host=h password = 'a b\\' c' user=u"),
            "host=h password = *** user=u"
        );
        assert_eq!(redact("host=h mypassword=x"), "host=h mypassword=x");
        // A key percent-encoded as libpq reads it, and a password given twice.
        assert_eq!(
            redact("postgresql://u@/db?host=/s&pass%77ord=s3cret&PASSWORD=two"),
            "postgresql://u@/db?host=/s&pass%77ord=***&PASSWORD=***"
        );
        match connect("postgresql://u@h/db?pass%77ord=s3cret&sslmode=bogus") {
            Err(StoreError::Open { path, why }) => {
                assert!(
                    !path.contains("s3cret") && !why.contains("s3cret"),
                    "{path} {why}"
                );
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("connected"),
        }
        match connect("postgresql://u:s3cret@h/db?sslmode=bogus") {
            Err(StoreError::Open { path, why }) => {
                assert!(!path.contains("s3cret") && !why.contains("s3cret"));
                assert!(why.contains("sslmode=bogus"), "{why}");
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("connected"),
        }
    }

    #[test]
    fn a_verify_mode_without_a_readable_ca_file_names_the_file() {
        let e = connect(
            "postgresql://u:pw0rd@127.0.0.1:1/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        )
        .err()
        .unwrap();
        let s = e.to_string();
        assert!(matches!(e, StoreError::Open { .. }), "{s}");
        assert!(
            s.contains("cannot read the CA file /nonexistent/ca.pem"),
            "{s}"
        );
        assert!(!s.contains("pw0rd"), "{s}");
    }
}
