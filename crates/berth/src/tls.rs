//! TLS for `berth serve`: the certificate chain and private key read from their PEM files into
//! a rustls configuration that offers HTTP/2 and HTTP/1.1 (ALPN), and re-read whenever either
//! file changes, swapping the configuration for new connections without a restart.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use sha2::{Digest as _, Sha256};
use tracing::{info, warn};

use crate::settings::TlsFiles;

/// How often the certificate and key files are checked for changes.
pub const RELOAD_POLL: Duration = Duration::from_secs(2);

/// Protocols offered in ALPN, preferred first.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Why a certificate and key could not be served.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    // The cause is in the message, not the error's source, so that a chain of errors printed
    // whole does not repeat it.
    #[error("reading the TLS {what} {}: {cause}", .path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        cause: io::Error,
    },
    #[error(
        "the TLS certificate file {} holds no PEM certificate (a `-----BEGIN CERTIFICATE-----` \
         block)",
        .0.display()
    )]
    NoCertificate(PathBuf),
    #[error(
        "the TLS key file {} holds no PEM private key (`PRIVATE KEY`, `RSA PRIVATE KEY` or `EC \
         PRIVATE KEY` block)",
        .0.display()
    )]
    NoKey(PathBuf),
    #[error("the TLS {what} file {} is not valid PEM: {cause}", .path.display())]
    Pem {
        what: &'static str,
        path: PathBuf,
        cause: pem::Error,
    },
    #[error(
        "the TLS key {} does not match the certificate {} (the first certificate in the file \
         must be the server's own, and the key its private key)",
        .key.display(),
        .cert.display()
    )]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error(
        "the TLS certificate {} and key {} cannot be served: {cause}",
        .cert.display(),
        .key.display()
    )]
    Unusable {
        cert: PathBuf,
        key: PathBuf,
        cause: rustls::Error,
    },
}

/// A certificate and key, ready to serve.
pub struct Loaded {
    pub config: Arc<ServerConfig>,
    /// SHA-256 of the server certificate (DER), hex: what `openssl x509 -fingerprint -sha256`
    /// prints, for the log.
    pub fingerprint: String,
}

/// Reads both files and builds the configuration; every failure names the file and the cause.
pub fn load(files: &TlsFiles) -> Result<Loaded, TlsError> {
    let read = |what, path: &Path| {
        std::fs::read(path).map_err(|cause| TlsError::Read {
            what,
            path: path.to_owned(),
            cause,
        })
    };
    let cert_pem = read("certificate", &files.cert)?;
    let key_pem = read("key", &files.key)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|cause| TlsError::Pem {
            what: "certificate",
            path: files.cert.clone(),
            cause,
        })?;
    let Some(leaf) = chain.first() else {
        return Err(TlsError::NoCertificate(files.cert.clone()));
    };
    let fingerprint = hex::encode(Sha256::digest(leaf));
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|source| match source {
        pem::Error::NoItemsFound => TlsError::NoKey(files.key.clone()),
        cause => TlsError::Pem {
            what: "key",
            path: files.key.clone(),
            cause,
        },
    })?;
    let config = server_config(chain, key).map_err(|source| match source {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            TlsError::KeyMismatch {
                cert: files.cert.clone(),
                key: files.key.clone(),
            }
        }
        cause => TlsError::Unusable {
            cert: files.cert.clone(),
            key: files.key.clone(),
            cause,
        },
    })?;
    Ok(Loaded {
        config: Arc::new(config),
        fingerprint,
    })
}

/// rustls with ring, its safe default protocol versions (TLS 1.3 and 1.2), no client
/// certificates, and HTTP/2 preferred over HTTP/1.1.
fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// What a file looked like when last checked: any write, replacement (rename over it, a
/// symlink swapped) or metadata change alters it. `None` when the file could not be looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    changed: (i64, i64),
    #[cfg(unix)]
    inode: (u64, u64),
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Some(Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            changed: (meta.ctime(), meta.ctime_nsec()),
            #[cfg(unix)]
            inode: (meta.dev(), meta.ino()),
        })
    }
}

/// The stamps of the certificate and key files, in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamps([Option<Stamp>; 2]);

impl Stamps {
    /// Taken before the files are read, so that a change made while they are read is seen at
    /// the next check.
    pub fn of(files: &TlsFiles) -> Stamps {
        Stamps([Stamp::of(&files.cert), Stamp::of(&files.key)])
    }
}

/// Checks the files every `RELOAD_POLL`; when either changed, reads both and serves them to
/// new connections from then on. A pair that cannot be served (half written, mismatched,
/// unreadable) leaves the current one in place. It is logged once the files have stayed as they
/// are for one more check, so that replacing the two files one after the other, which a check
/// may fall between, logs nothing.
pub async fn reload_on_change(config: RustlsConfig, files: TlsFiles, mut seen: Stamps) {
    let mut ticker = tokio::time::interval(RELOAD_POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut refused: Option<TlsError> = None;
    loop {
        ticker.tick().await;
        let now = Stamps::of(&files);
        if now == seen {
            if let Some(e) = refused.take() {
                warn!(
                    error = %e,
                    "TLS certificate files changed but cannot be served; the previous \
                     certificate stays in use"
                );
            }
            continue;
        }
        seen = now;
        let reading = files.clone();
        match tokio::task::spawn_blocking(move || load(&reading)).await {
            Ok(Ok(loaded)) => {
                refused = None;
                config.reload_from_config(loaded.config);
                info!(
                    cert = %files.cert.display(),
                    key = %files.key.display(),
                    sha256 = %loaded.fingerprint,
                    "TLS certificate reloaded"
                );
            }
            Ok(Err(e)) => refused = Some(e),
            Err(e) => warn!(error = %e, "reloading the TLS certificate failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate for `localhost` and its key, as PEM.
    fn self_signed() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn write(dir: &Path, cert: &str, key: &str) -> TlsFiles {
        let files = TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&files.cert, cert).unwrap();
        std::fs::write(&files.key, key).unwrap();
        files
    }

    fn error(files: &TlsFiles) -> String {
        match load(files) {
            Ok(_) => panic!("{files:?} loaded"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_matching_pair_offers_http2_then_http1() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed();
        let loaded = load(&write(dir.path(), &cert, &key)).unwrap();
        assert_eq!(loaded.config.alpn_protocols, [&b"h2"[..], b"http/1.1"]);
        assert_eq!(loaded.fingerprint.len(), 64);
    }

    #[test]
    fn every_start_up_error_names_its_file_and_cause() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed();
        let (_, other_key) = self_signed();

        let missing = TlsFiles {
            cert: dir.path().join("absent.pem"),
            key: dir.path().join("key.pem"),
        };
        let message = error(&missing);
        assert!(
            message.starts_with("reading the TLS certificate "),
            "{message}"
        );
        assert!(message.contains("absent.pem"), "{message}");

        let files = write(dir.path(), &key, &key);
        assert!(
            error(&files).contains("holds no PEM certificate"),
            "{}",
            error(&files)
        );
        let files = write(dir.path(), &cert, &cert);
        assert!(
            error(&files).contains("holds no PEM private key"),
            "{}",
            error(&files)
        );
        let files = write(dir.path(), &cert, &other_key);
        let message = error(&files);
        assert!(
            message.contains("does not match the certificate"),
            "{message}"
        );
        let files = write(
            dir.path(),
            "-----BEGIN CERTIFICATE-----\nnot base64!\n",
            &key,
        );
        assert!(
            error(&files).contains("is not valid PEM"),
            "{}",
            error(&files)
        );
    }

    #[test]
    fn rewriting_a_file_changes_its_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed();
        let files = write(dir.path(), &cert, &key);
        let before = Stamps::of(&files);
        assert_eq!(before, Stamps::of(&files));
        std::fs::write(&files.key, format!("{key}\n")).unwrap();
        assert_ne!(before, Stamps::of(&files));
        std::fs::remove_file(&files.cert).unwrap();
        assert_eq!(Stamps::of(&files).0[0], None);
    }
}
