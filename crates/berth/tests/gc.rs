//! `berth gc` end to end: through the running server, and directly on the data directory when
//! no server answers; each reports what it deleted and leaves tagged images whole.

mod support;

use std::process::Command;

use bytes::Bytes;
use serde_json::{json, Value};
use support::http::{client, digest_of, Image, Registry};
use support::TestServer;

/// A signature-like artifact about `subject`, sharing the image's config blob.
fn signature(image: &Image, note: &str) -> Bytes {
    let body = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.sig",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest_of(&image.config), "size": image.config.len()},
        "layers": [],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image.digest, "size": image.manifest.len()},
        "annotations": {"note": note},
    });
    Bytes::from(serde_json::to_vec(&body).unwrap())
}

fn berth_gc(server: &TestServer, extra: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["gc", "--json", "--listen", &server.host(), "--data-dir"])
        .arg(server.data_dir())
        .args(extra)
        .output()
        .expect("berth gc runs");
    assert!(
        output.status.success(),
        "berth gc failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("a JSON report")
}

async fn referrers(registry: &Registry, repo: &str, digest: &str) -> usize {
    let response = client()
        .get(registry.url(&format!("/v2/{repo}/referrers/{digest}")))
        .send()
        .await
        .unwrap();
    let index: Value = response.json().await.unwrap();
    index["manifests"].as_array().unwrap().len()
}

#[tokio::test]
async fn berth_gc_collects_through_the_server_and_directly() {
    let mut server = TestServer::start_with(&["--gc-grace", "0s", "--gc-interval", "0s"]);
    let registry = Registry::new(server.url());
    let kept = Image::new("gc/app", "kept", 1, &[2048]);
    let doomed = Image::new("gc/app", "doomed", 2, &[4096]);
    registry.push_image(&kept).await;
    registry.push_image(&doomed).await;
    let kept_sig = signature(&kept, "k");
    registry
        .push_manifest("gc/app", &digest_of(&kept_sig), &kept_sig)
        .await;
    let doomed_sig = signature(&doomed, "d");
    registry
        .push_manifest("gc/app", &digest_of(&doomed_sig), &doomed_sig)
        .await;
    let response = client()
        .delete(registry.url(&format!("/v2/gc/app/manifests/{}", doomed.digest)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(
        referrers(&registry, "gc/app", &doomed.digest).await,
        1,
        "listed until collected"
    );

    let dry = berth_gc(&server, &["--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["manifests_deleted"], 1);
    let report = berth_gc(&server, &[]);
    assert_eq!(
        report["manifests"], dry["manifests"],
        "the dry run reported exactly this"
    );
    assert_eq!(report["manifests_deleted"], 1);
    assert_eq!(referrers(&registry, "gc/app", &doomed.digest).await, 0);
    assert_eq!(
        report["blobs_deleted"], 2,
        "the deleted image's config and layer"
    );
    assert_eq!(report["bytes_freed"], 4096 + doomed.config.len() as u64);
    registry
        .assert_image(&kept, "kept image after collection")
        .await;
    assert_eq!(referrers(&registry, "gc/app", &kept.digest).await, 1);
    registry
        .assert_manifest("gc/app", &digest_of(&kept_sig), &kept_sig, "kept signature")
        .await;

    // Without a server, the same command works on the data directory.
    server.kill();
    let direct = berth_gc(&server, &["--gc-grace", "0s"]);
    assert_eq!(direct["dry_run"], false);
    assert_eq!(direct["manifests_deleted"], 0, "nothing left to collect");
    server.restart();
    let registry = Registry::new(server.url());
    registry
        .assert_image(&kept, "kept image after a direct collection")
        .await;
}
