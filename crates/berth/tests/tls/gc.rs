//! `berth gc` on the data directory of a server that serves HTTPS collects through it, trusting
//! exactly the certificate in the server's certificate file, which the lock file names.

use std::process::Command;

use crate::pki::{https_url, replace, trusting, CertFiles, TestCa};
use crate::support::http::{Image, Registry};

/// `berth gc --dry-run --json` on `data_dir`, without `BERTH_*` settings from the environment:
/// (success, stdout, stderr).
fn gc_dry_run(data_dir: &std::path::Path) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
    command
        .args(["gc", "--dry-run", "--json", "--data-dir"])
        .arg(data_dir)
        .current_dir(std::env::temp_dir())
        .env("BERTH_LOG", "warn");
    for (name, _) in std::env::vars() {
        if name.starts_with("BERTH_") && name != "BERTH_LOG" {
            command.env_remove(name);
        }
    }
    let output = command.output().expect("berth gc runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn gc_collects_through_a_server_that_serves_https() {
    let ca = TestCa::new("Berth test CA");
    let first = ca.issue("berth gc", 1);
    let files = CertFiles::new(&first);
    let server = files.start_server();
    let registry = Registry {
        http: trusting(&ca.pem()).build().unwrap(),
        base: https_url(&server, "localhost"),
    };
    registry
        .push_image(&Image::new("tls/gc", "v1", 3, &[1_000]))
        .await;
    let lock = std::fs::read_to_string(server.data_dir().join("berth.lock")).unwrap();
    assert!(lock.contains("\"tls_cert\""), "{lock}");

    let (success, stdout, stderr) = gc_dry_run(&server.data_dir());
    assert!(success, "{stderr}\nserver log:\n{}", server.log());
    assert!(
        stderr.contains("collected through the server at"),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
    assert_eq!(report["dry_run"], true, "{report}");

    // A certificate file whose certificate the server does not present (its key is not in the
    // key file, so the server keeps the first): gc refuses to trust the server.
    replace(
        &files.cert,
        ca.issue("berth gc other", 2).cert_pem.as_bytes(),
    );
    let (success, _, stderr) = gc_dry_run(&server.data_dir());
    assert!(!success, "gc trusted a certificate other than the file's");
    assert!(
        stderr.contains("trusting only the certificate in"),
        "{stderr}"
    );

    // With the file holding what the server presents, gc goes through again.
    replace(&files.cert, first.cert_pem.as_bytes());
    let (success, _, stderr) = gc_dry_run(&server.data_dir());
    assert!(success, "{stderr}");
}
