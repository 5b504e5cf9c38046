//! `berth serve` refuses to start on TLS settings it cannot serve, saying why in one line, and
//! takes its certificate from the environment and the config file as from the flags.

use std::process::{Command, Output};

use crate::pki::{certificate_seen, CertFiles, TestCa};
use crate::support::TestServer;

/// `berth serve` on a fresh data directory and a free port with `args`; expected to exit.
fn serve_refused(args: &[&str]) -> Output {
    let data = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path().join("data"))
        .args(args)
        .env_remove("BERTH_CONFIG")
        .env_remove("BERTH_TLS_CERT")
        .env_remove("BERTH_TLS_KEY")
        .output()
        .expect("berth runs")
}

#[test]
fn unservable_tls_settings_stop_the_start_with_the_reason() {
    let ca = TestCa::new("Berth test CA");
    let good = CertFiles::new(&ca.issue("berth", 1));
    let other = CertFiles::new(&ca.issue("berth other", 2));
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let missing = dir.path().join("missing.pem");
    let (cert, key) = (good.cert.to_str().unwrap(), good.key.to_str().unwrap());
    let other_key = other.key.to_str().unwrap();
    let (empty, missing) = (empty.to_str().unwrap(), missing.to_str().unwrap());
    for (args, reason) in [
        (
            vec!["--tls-cert", cert],
            "TLS needs a certificate and its key: the certificate",
        ),
        (
            vec!["--tls-key", key],
            "TLS needs a certificate and its key: the key",
        ),
        (
            vec!["--tls-cert", missing, "--tls-key", key],
            "reading the TLS certificate",
        ),
        (
            vec!["--tls-cert", cert, "--tls-key", missing],
            "reading the TLS key",
        ),
        (
            vec!["--tls-cert", empty, "--tls-key", key],
            "holds no PEM certificate",
        ),
        (
            vec!["--tls-cert", key, "--tls-key", key],
            "holds no PEM certificate",
        ),
        (
            vec!["--tls-cert", cert, "--tls-key", cert],
            "holds no PEM private key",
        ),
        (
            vec!["--tls-cert", cert, "--tls-key", other_key],
            "does not match the certificate",
        ),
    ] {
        let output = serve_refused(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.starts_with("berth: "), "{args:?}: {stderr}");
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn the_certificate_can_come_from_the_config_file() {
    let ca = TestCa::new("Berth test CA");
    let cert = ca.issue("berth from config", 5);
    let files = CertFiles::new(&cert);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("berth.toml");
    std::fs::write(
        &config,
        format!(
            "[tls]\ncert = {:?}\nkey = {:?}\n",
            files.cert.display().to_string(),
            files.key.display().to_string()
        ),
    )
    .unwrap();
    let server = TestServer::start_with(&["--config", config.to_str().unwrap()]);
    assert_eq!(certificate_seen(&server, &ca.pem()).await, cert.der);
}
