//! The tests' public key infrastructure: a CA made with rcgen, server certificates it issues
//! for `localhost` and `127.0.0.1`, the PEM files `berth serve` reads, and HTTPS clients that
//! trust the CA (or not) and report the certificate the server presented.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SerialNumber,
};
use reqwest::tls::TlsInfo;
use reqwest::{Certificate, Client, ClientBuilder, Response};

use crate::support::TestServer;

/// A certificate authority of the test's own.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server certificate and its key, as PEM, with the certificate's DER to compare with what
/// a server presents.
#[derive(Clone)]
pub struct ServerCert {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        TestCa {
            issuer: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    /// The CA certificate, as PEM.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for `localhost` and `127.0.0.1` named `subject`, with serial `serial`.
    pub fn issue(&self, subject: &str, serial: u64) -> ServerCert {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("server params");
        params.distinguished_name.push(DnType::CommonName, subject);
        params.serial_number = Some(SerialNumber::from(serial));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("server key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("server certificate");
        ServerCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

/// Where the server reads its certificate and key; the test rewrites them to rotate.
pub struct CertFiles {
    _dir: tempfile::TempDir,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertFiles {
    pub fn new(initial: &ServerCert) -> CertFiles {
        let dir = tempfile::tempdir().expect("temp dir");
        let files = CertFiles {
            cert: dir.path().join("server.crt"),
            key: dir.path().join("server.key"),
            _dir: dir,
        };
        files.install(initial);
        files
    }

    /// Replaces both files, each by an atomic rename, the key first.
    pub fn install(&self, cert: &ServerCert) {
        replace(&self.key, cert.key_pem.as_bytes());
        replace(&self.cert, cert.cert_pem.as_bytes());
    }

    /// `berth serve` options naming these files.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--tls-cert".to_owned(),
            self.cert.display().to_string(),
            "--tls-key".to_owned(),
            self.key.display().to_string(),
        ]
    }

    /// A server on a fresh data directory serving HTTPS with these files.
    pub fn start_server(&self) -> TestServer {
        let args = self.args();
        TestServer::start_with(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }
}

/// Writes `bytes` beside `path`, then renames it over `path`.
pub fn replace(path: &Path, bytes: &[u8]) {
    let staged = path.with_extension("new");
    std::fs::write(&staged, bytes).expect("write staged file");
    std::fs::rename(&staged, path).expect("rename into place");
}

/// `https://<host>:<port>` of the server.
pub fn https_url(server: &TestServer, host: &str) -> String {
    format!("https://{host}:{}", server.port)
}

/// A client that trusts only `ca_pem` and records the server's certificate.
pub fn trusting(ca_pem: &str) -> ClientBuilder {
    Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(Certificate::from_pem(ca_pem.as_bytes()).expect("CA PEM"))
        .tls_info(true)
        .timeout(Duration::from_secs(60))
        .connect_timeout(Duration::from_secs(10))
}

/// The certificate the server presented on the connection that answered `response`.
pub fn presented(response: &Response) -> Vec<u8> {
    response
        .extensions()
        .get::<TlsInfo>()
        .and_then(TlsInfo::peer_certificate)
        .expect("the response came over TLS with a server certificate")
        .to_vec()
}

/// The certificate a new connection to the server sees (a new client: no pooled connection).
pub async fn certificate_seen(server: &TestServer, ca_pem: &str) -> Vec<u8> {
    let client = trusting(ca_pem).build().expect("client");
    let response = client
        .get(format!("{}/v2/", https_url(server, "localhost")))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET /v2/ over TLS: {e:?}\nserver log:\n{}", server.log()));
    assert_eq!(response.status(), 200);
    presented(&response)
}

/// The whole chain of an error, for matching its cause.
pub fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
