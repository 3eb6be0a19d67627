//! FTP servers through `suppaftp`. The host goes through the URL guard (resolved once, the
//! connection made to an approved address); passive data connections go to that same
//! address whatever the server's `PASV` reply names, so a server cannot point Folio at a
//! third host. A server that offers `AUTH` gets explicit FTPS (certificates checked against
//! the system's roots and `FOLIO_FTP_CA_FILE`) before the password is sent.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use suppaftp::tokio::{AsyncRustlsConnector, AsyncRustlsFtpStream};
use suppaftp::tokio_rustls::{TlsConnector, rustls};
use suppaftp::types::FileType;
use suppaftp::{FtpError, Status};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::{Location, StorageError};
use crate::config::Config;
use crate::notify::url_guard;

type Ftp = AsyncRustlsFtpStream;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest one read or write may take, connection and transfer together (a pair's
/// whole run has the job worker's five minutes).
const SESSION_TIMEOUT: Duration = Duration::from_secs(120);

struct Server<'a> {
    host: &'a str,
    port: u16,
    path: &'a str,
    place: String,
}

fn server(at: &Location) -> Result<(Server<'_>, &str, &str), StorageError> {
    match at {
        Location::Ftp {
            host,
            port,
            path,
            username,
            password,
        } => Ok((
            Server {
                host,
                port: *port,
                path,
                place: at.describe(),
            },
            username,
            password.expose(),
        )),
        _ => Err(StorageError::Failed(format!(
            "{} is not on an FTP server",
            at.describe()
        ))),
    }
}

/// The system's root certificates, read once: they are the same for every session.
fn system_roots() -> &'static rustls::RootCertStore {
    static ROOTS: OnceLock<rustls::RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        roots
    })
}

/// The TLS settings of an FTPS session: the system's roots and those of the configuration's
/// `FOLIO_FTP_CA_FILE` (read with the session, as the configuration is per app).
fn tls(config: &Config) -> Result<Arc<rustls::ClientConfig>, StorageError> {
    let broken = |e: String| {
        tracing::error!(error = %e, "the FTPS settings could not be made");
        StorageError::Failed("Folio's FTPS settings are broken; see its logs".into())
    };
    let mut roots = system_roots().clone();
    if let Some(path) = &config.ftp_ca_file {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| broken(format!("FOLIO_FTP_CA_FILE {path}: {e}")))?;
        for cert in certs {
            let cert = cert.map_err(|e| broken(format!("FOLIO_FTP_CA_FILE {path}: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| broken(format!("FOLIO_FTP_CA_FILE {path}: {e}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
        .map_err(|e| broken(e.to_string()))
}

fn failed(server: &Server, e: FtpError) -> StorageError {
    StorageError::Unreachable(format!("{} failed: {e}", server.place))
}

/// A logged-in binary session.
async fn session(
    config: &Config,
    server: &Server<'_>,
    user: &str,
    password: &str,
) -> Result<Ftp, StorageError> {
    let (host, port) = (server.host, server.port);
    let addrs = url_guard::resolve_host(host, port, &config.allowed_private_networks)
        .await
        .map_err(|e| StorageError::Refused(format!("The FTP server {host} is refused: it {e}")))?;
    let mut last = String::from("no address");
    let mut tcp = None;
    for addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                tcp = Some(stream);
                break;
            }
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = "the connection timed out".into(),
        }
    }
    let tcp = tcp.ok_or_else(|| {
        StorageError::Unreachable(format!(
            "The FTP server {host}:{port} could not be reached: {last}"
        ))
    })?;
    let mut ftp = Ftp::connect_with_stream(tcp)
        .await
        .map_err(|e| failed(server, e))?;
    ftp.set_passive_nat_workaround(true);
    // A server without FEAT offers nothing: the session stays plain.
    let offers_tls = ftp
        .feat()
        .await
        .map(|features| features.contains_key("AUTH"))
        .unwrap_or(false);
    if offers_tls {
        let connector = AsyncRustlsConnector::from(TlsConnector::from(tls(config)?));
        ftp = ftp.into_secure(connector, host).await.map_err(|e| {
            StorageError::Failed(format!(
                "The FTP server {host} offers TLS, but the TLS session failed: {e}"
            ))
        })?;
    }
    ftp.login(user, password).await.map_err(|e| match e {
        FtpError::UnexpectedResponse(r) if r.status == Status::NotLoggedIn => {
            StorageError::Denied {
                place: server.place.clone(),
                reason: "the login was refused".into(),
            }
        }
        other => failed(server, other),
    })?;
    ftp.transfer_type(FileType::Binary)
        .await
        .map_err(|e| failed(server, e))?;
    Ok(ftp)
}

fn is_unavailable(e: &FtpError) -> bool {
    matches!(e, FtpError::UnexpectedResponse(r) if r.status == Status::FileUnavailable)
}

async fn within<T>(
    server: &Server<'_>,
    work: impl std::future::Future<Output = Result<T, StorageError>>,
) -> Result<T, StorageError> {
    tokio::time::timeout(SESSION_TIMEOUT, work)
        .await
        .map_err(|_| StorageError::Unreachable(format!("{} timed out", server.place)))?
}

pub async fn read(config: &Config, at: &Location, max_bytes: u64) -> Result<Vec<u8>, StorageError> {
    let (server, user, password) = server(at)?;
    within(&server, async {
        let mut ftp = session(config, &server, user, password).await?;
        if let Ok(size) = ftp.size(server.path).await
            && size as u64 > max_bytes
        {
            let _ = ftp.quit().await;
            return Err(StorageError::TooLarge { limit: max_bytes });
        }
        let mut stream = ftp.retr_as_stream(server.path).await.map_err(|e| {
            if is_unavailable(&e) {
                StorageError::NotFound(server.place.clone())
            } else {
                failed(&server, e)
            }
        })?;
        let mut bytes = Vec::new();
        let mut buffer = vec![0u8; 64 << 10];
        loop {
            let n = stream
                .read(&mut buffer)
                .await
                .map_err(|e| failed(&server, FtpError::ConnectionError(e)))?;
            if n == 0 {
                break;
            }
            if (bytes.len() + n) as u64 > max_bytes {
                let _ = ftp.abort(stream).await;
                return Err(StorageError::TooLarge { limit: max_bytes });
            }
            bytes.extend_from_slice(&buffer[..n]);
        }
        stream.finish().await.map_err(|e| failed(&server, e))?;
        let _ = ftp.quit().await;
        Ok(bytes)
    })
    .await
}

/// Whether a file has `path`: `SIZE` answers for a file and refuses (550) a missing one.
async fn exists(ftp: &mut Ftp, path: &str) -> bool {
    match ftp.size(path).await {
        Ok(_) => true,
        Err(e) if is_unavailable(&e) => false,
        // No SIZE: ask for a listing of that name.
        Err(_) => ftp
            .nlst(Some(path))
            .await
            .is_ok_and(|names| !names.is_empty()),
    }
}

/// Makes the folders of `dir` that are missing, one level at a time (from the root for an
/// absolute `dir`, else from the login folder).
async fn make_folders(ftp: &mut Ftp, dir: &str) {
    let mut at = if dir.starts_with('/') {
        String::from("/")
    } else {
        String::new()
    };
    for part in dir.split('/').filter(|p| !p.is_empty()) {
        at.push_str(part);
        // An existing folder answers 550: fine; a real failure shows in the upload.
        let _ = ftp.mkdir(&at).await;
        at.push('/');
    }
}

/// The bytes go to a temporary name in the same folder, then are renamed: the file at
/// `path` is whole or absent, never half written.
pub async fn write(
    config: &Config,
    at: &Location,
    bytes: Bytes,
    overwrite: bool,
) -> Result<(), StorageError> {
    let (server, user, password) = server(at)?;
    within(&server, async {
        let mut ftp = session(config, &server, user, password).await?;
        let path = server.path;
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..12];
        let temporary = match path.rsplit_once('/') {
            Some((dir, name)) => {
                make_folders(&mut ftp, dir).await;
                format!("{dir}/.{name}.{tag}.part")
            }
            None => format!(".{path}.{tag}.part"),
        };
        let exists_error = || StorageError::Exists(server.place.clone());
        if !overwrite && exists(&mut ftp, path).await {
            let _ = ftp.quit().await;
            return Err(exists_error());
        }
        let mut reader: &[u8] = &bytes;
        if let Err(e) = ftp.put_file(&temporary, &mut reader).await {
            let _ = ftp.rm(&temporary).await;
            return Err(failed(&server, e));
        }
        // Checked again at the last moment: FTP has no write-if-absent.
        if !overwrite && exists(&mut ftp, path).await {
            let _ = ftp.rm(&temporary).await;
            let _ = ftp.quit().await;
            return Err(exists_error());
        }
        let mut renamed = ftp.rename(temporary.as_str(), path).await;
        if renamed.is_err() && overwrite {
            // Some servers rename over nothing: the old file goes first.
            let _ = ftp.rm(path).await;
            renamed = ftp.rename(temporary.as_str(), path).await;
        }
        if let Err(e) = renamed {
            let _ = ftp.rm(&temporary).await;
            return Err(failed(&server, e));
        }
        let _ = ftp.quit().await;
        Ok(())
    })
    .await
}
