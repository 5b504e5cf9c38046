//! `berth gc` end to end: through the server that owns the data directory, and directly on the
//! directory once no server owns it; each reports what it deleted and leaves tagged images whole. And the
//! collection policy as a config file sets it, per repository pattern.

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

async fn delete(registry: &Registry, repo: &str, reference: &str) {
    let response = client()
        .delete(registry.url(&format!("/v2/{repo}/manifests/{reference}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "DELETE {repo}:{reference}");
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
    delete(&registry, "gc/app", &doomed.digest).await;
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

    // Once the server is gone (kill -9 frees its directory), the same command works directly.
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

/// `[gc]` keeps orphaned referrers for a day and untagged manifests for good; a retention
/// entry for `ci/*` overrides both. Two repositories with the same content then differ in
/// exactly what the policy says.
#[tokio::test]
async fn a_config_file_sets_the_policy_per_repository_pattern() {
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("berth.toml");
    std::fs::write(
        &config,
        "[gc]\ninterval = \"0s\"\ngrace = \"0s\"\norphaned_referrers = \"1d\"\n\n\
         [[gc.retention]]\nrepositories = \"ci/*\"\nuntagged = \"delete\"\norphaned_referrers = \"delete\"\n",
    )
    .unwrap();
    let server = TestServer::start_with(&["--config", config.to_str().unwrap()]);
    let registry = Registry::new(server.url());
    let mut expected = Vec::new();
    for (seed, repo) in [(10, "ci/build"), (20, "team/app")] {
        let signed = Image::new(repo, "signed", seed, &[512]);
        let loose = Image::new(repo, "loose", seed + 1, &[256]);
        registry.push_image(&signed).await;
        registry.push_image(&loose).await;
        let sig = signature(&signed, repo);
        registry.push_manifest(repo, &digest_of(&sig), &sig).await;
        delete(&registry, repo, &signed.digest).await;
        delete(&registry, repo, "loose").await;
        if repo == "ci/build" {
            expected.push(json!({"repository": repo, "digest": loose.digest}));
            expected.push(json!({"repository": repo, "digest": digest_of(&sig)}));
        }
        registry
            .assert_manifest(
                repo,
                &loose.digest,
                &loose.manifest,
                "untagged, not yet collected",
            )
            .await;
    }
    let report = berth_gc(&server, &[]);
    let mut deleted = report["manifests"].as_array().unwrap().clone();
    deleted.sort_by_key(|m| m["digest"].as_str().unwrap().to_owned());
    expected.sort_by_key(|m| m["digest"].as_str().unwrap().to_owned());
    assert_eq!(
        deleted, expected,
        "only ci/build's untagged image and orphan"
    );
    let team_signed = Image::new("team/app", "signed", 20, &[512]);
    assert_eq!(
        referrers(&registry, "team/app", &team_signed.digest).await,
        1,
        "team/app keeps its orphaned signature for a day"
    );
    let team_loose = Image::new("team/app", "loose", 21, &[256]);
    registry
        .assert_manifest(
            "team/app",
            &team_loose.digest,
            &team_loose.manifest,
            "team/app keeps untagged manifests",
        )
        .await;
}
