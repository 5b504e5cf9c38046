//! Certificate rotation without a restart: the server re-reads its certificate and key files
//! when they change, new connections get the new certificate, and a pair that cannot be
//! served leaves the current one in place. Every wait is a bounded poll.

use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::StatusCode;

use crate::pki::{certificate_seen, https_url, replace, trusting, CertFiles, TestCa};
use crate::support::http::Registry;
use crate::support::TestServer;

/// How long a change may take to be seen before the test gives up; the server checks the
/// files every few seconds.
const WAIT: Duration = Duration::from_secs(60);

/// Polls new connections until they are presented `expected`.
async fn wait_for_certificate(server: &TestServer, ca_pem: &str, expected: &[u8], what: &str) {
    let deadline = Instant::now() + WAIT;
    while certificate_seen(server, ca_pem).await != expected {
        assert!(
            Instant::now() < deadline,
            "{what}: new connections still see another certificate after {WAIT:?}; log:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The log line of a pair that was not taken.
const NOT_TAKEN: &str = "the previous certificate stays in use";

/// Polls the server log until it holds `count` lines saying a pair was not taken, the last
/// one naming `cause`.
async fn wait_for_refusal(server: &TestServer, count: usize, cause: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = server.log();
        let refusals: Vec<&str> = log.lines().filter(|l| l.contains(NOT_TAKEN)).collect();
        if refusals.len() >= count {
            assert!(
                refusals[count - 1].contains(cause),
                "refusal {count} does not say {cause:?}; log:\n{log}"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no refusal {count} ({cause}) after {WAIT:?}; log:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn new_connections_get_a_replaced_certificate_without_a_restart() {
    let ca = TestCa::new("Berth test CA");
    let first = ca.issue("berth first", 1);
    let second = ca.issue("berth second", 2);
    assert_ne!(first.der, second.der);
    let files = CertFiles::new(&first);
    let server = files.start_server();
    let pid = server.pid();
    assert_eq!(certificate_seen(&server, &ca.pem()).await, first.der);

    // A client whose connection was opened with the first certificate.
    let before = Registry {
        http: trusting(&ca.pem()).build().unwrap(),
        base: https_url(&server, "localhost"),
    };
    let early = before
        .push_blob("tls/rotation", &Bytes::from_static(b"before"))
        .await;

    files.install(&second);
    wait_for_certificate(&server, &ca.pem(), &second.der, "after rotation").await;
    assert_eq!(server.pid(), pid, "the same process serves on");
    assert!(
        server.log().contains("TLS certificate reloaded"),
        "{}",
        server.log()
    );

    // Connections old and new keep working with the registry.
    before
        .assert_blob(
            "tls/rotation",
            b"before",
            "after rotation, on the early client",
        )
        .await;
    let after = Registry {
        http: trusting(&ca.pem()).build().unwrap(),
        base: https_url(&server, "127.0.0.1"),
    };
    let late = after
        .push_blob("tls/rotation", &Bytes::from_static(b"after"))
        .await;
    let response = after
        .http
        .get(after.blob_url("tls/rotation", &early))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(crate::pki::presented(&response), second.der);
    before
        .assert_blob(
            "tls/rotation",
            b"after",
            &format!("{late} pushed after rotation"),
        )
        .await;
}

#[tokio::test]
async fn a_pair_that_cannot_be_served_keeps_the_current_certificate() {
    let ca = TestCa::new("Berth test CA");
    let first = ca.issue("berth first", 1);
    let second = ca.issue("berth second", 2);
    let third = ca.issue("berth third", 3);
    let files = CertFiles::new(&first);
    let server = files.start_server();
    assert_eq!(certificate_seen(&server, &ca.pem()).await, first.der);

    let still_first = |what: &'static str| {
        let server = &server;
        let ca = ca.pem();
        let first = first.der.clone();
        async move {
            for _ in 0..3 {
                assert_eq!(
                    certificate_seen(server, &ca).await,
                    first,
                    "{what}: the first certificate is still served"
                );
            }
        }
    };

    // A new certificate without its key: the key file still holds the first one's.
    replace(&files.cert, second.cert_pem.as_bytes());
    wait_for_refusal(&server, 1, "does not match the certificate").await;
    still_first("certificate and key mismatched").await;

    // No certificate in the file at all.
    replace(&files.cert, b"this is not a certificate\n");
    wait_for_refusal(&server, 2, "holds no PEM certificate").await;
    still_first("no certificate").await;

    // A key file that is gone.
    replace(&files.cert, first.cert_pem.as_bytes());
    std::fs::remove_file(&files.key).unwrap();
    wait_for_refusal(&server, 3, "reading the TLS key").await;
    still_first("no key file").await;

    // A good pair again is taken.
    files.install(&third);
    wait_for_certificate(&server, &ca.pem(), &third.der, "after a good pair").await;
}
