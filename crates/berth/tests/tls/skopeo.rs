//! skopeo, verifying TLS against the test CA (`--dest-cert-dir` / `--src-cert-dir` holding
//! `ca.crt`), copies a multi-platform image into berth and back out byte-exact, and refuses
//! the server when it is not given the CA.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::content::sha256;
use crate::layout::OciLayout;
use crate::pki::{https_url, trusting, CertFiles, TestCa};
use crate::support::TestServer;

/// The skopeo binary; the test fails (never skips) without it.
fn skopeo_path() -> PathBuf {
    std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("skopeo"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/bin/skopeo")])
        .find(|p| p.is_file())
        .expect("skopeo is not installed, and this test needs it: `apt-get install -y skopeo`")
}

fn skopeo(args: &[&str]) -> Output {
    Command::new(skopeo_path())
        .arg("--insecure-policy")
        .args(args)
        .output()
        .expect("skopeo runs")
}

/// Runs skopeo and returns its stdout; panics with its output and the server log on failure.
fn run(server: &TestServer, args: &[&str]) -> Vec<u8> {
    let output = skopeo(args);
    assert!(
        output.status.success(),
        "skopeo {} failed ({}):\n--- stdout\n{}\n--- stderr\n{}\n--- server log\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
    output.stdout
}

fn text(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

#[tokio::test]
async fn skopeo_copies_an_image_through_tls_verifying_the_test_ca() {
    let ca = TestCa::new("Berth test CA");
    let files = CertFiles::new(&ca.issue("berth skopeo", 1));
    let server = files.start_server();
    let certs = tempfile::tempdir().unwrap();
    std::fs::write(certs.path().join("ca.crt"), ca.pem()).unwrap();
    let certs = text(certs.path()).to_owned();
    let layout = OciLayout::build();
    let repo = "tls/skopeo";
    let remote = format!("docker://{}/{repo}:multi", server.host());

    run(
        &server,
        &[
            "copy",
            "--all",
            "--preserve-digests",
            "--retry-times",
            "0",
            "--dest-tls-verify=true",
            "--dest-cert-dir",
            &certs,
            &layout.reference("multi"),
            &remote,
        ],
    );

    // Verifying TLS without the CA, skopeo refuses the server.
    let refused = skopeo(&[
        "inspect",
        "--raw",
        "--retry-times",
        "0",
        "--tls-verify=true",
        &remote,
    ]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "skopeo trusted an unknown CA");
    assert!(
        stderr.contains("certificate") && stderr.contains("unknown authority"),
        "{stderr}"
    );

    // With it: the index as pushed, then the whole image back out into a fresh layout.
    let raw = run(
        &server,
        &[
            "inspect",
            "--raw",
            "--tls-verify=true",
            "--cert-dir",
            &certs,
            &remote,
        ],
    );
    assert!(
        raw == layout.index,
        "the index served over TLS is not byte-exact"
    );
    let out = tempfile::tempdir().unwrap();
    let out_layout = out.path().join("layout");
    run(
        &server,
        &[
            "copy",
            "--all",
            "--preserve-digests",
            "--retry-times",
            "0",
            "--src-tls-verify=true",
            "--src-cert-dir",
            &certs,
            &remote,
            &format!("oci:{}:multi", out_layout.display()),
        ],
    );
    let index_json: Value =
        serde_json::from_slice(&std::fs::read(out_layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(index_json["manifests"][0]["digest"], sha256(&layout.index));
    for image in &layout.images {
        for blob in image.blobs() {
            let hex = sha256(blob);
            let copied = std::fs::read(out_layout.join("blobs/sha256").join(&hex[7..]))
                .unwrap_or_else(|e| panic!("{} blob {hex} not copied out: {e}", image.arch));
            assert!(&copied == blob, "{} blob {hex} differs", image.arch);
        }
    }

    // And what berth holds, read over HTTPS by a client of its own.
    let client = trusting(&ca.pem()).build().unwrap();
    for image in &layout.images {
        let url = format!(
            "{}/v2/{repo}/manifests/{}",
            https_url(&server, "127.0.0.1"),
            image.digest()
        );
        let response = client
            .get(url)
            .header("accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.bytes().await.unwrap() == image.manifest);
    }
}
