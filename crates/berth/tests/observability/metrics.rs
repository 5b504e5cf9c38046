//! `/metrics` moves by exactly what was done: requests by endpoint kind, method and status,
//! body bytes each way, content gauges, collection counters, cache lookups and metadata write
//! batches, on both deployments.

use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::deployment::Deployment;
use crate::scrape::{delta, Metrics};
use crate::support::http::{descriptor, digest_of, Image, Registry, OCI_MANIFEST};

const ARTIFACT_TYPE: &str = "application/vnd.example.signature";
const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";

/// A referrer of `subject`: an artifact manifest with `ARTIFACT_TYPE` and the empty config.
fn referrer_of(subject: &Image) -> Bytes {
    Bytes::from(
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": ARTIFACT_TYPE,
            "config": descriptor(EMPTY_CONFIG, b"{}"),
            "layers": [],
            "subject": descriptor(OCI_MANIFEST, &subject.manifest),
        }))
        .expect("manifest serialises"),
    )
}

#[tokio::test]
async fn metrics_follow_a_push_a_pull_a_delete_and_a_collection_on_the_embedded_default() {
    metrics_follow_the_lifecycle(Deployment::Embedded).await;
}

#[tokio::test]
async fn metrics_follow_a_push_a_pull_a_delete_and_a_collection_on_postgres_and_s3() {
    metrics_follow_the_lifecycle(Deployment::ScaleOut).await;
}

async fn metrics_follow_the_lifecycle(deployment: Deployment) {
    let deployed = deployment.start("", &[]).await;
    let registry = Registry::new(deployed.server.url());
    let image = Image::new("obs/app", "v1", 7, &[40_000]);
    registry.push_image(&image).await;
    registry
        .push_blob("obs/app", &Bytes::from_static(b"{}"))
        .await;
    let referrer = referrer_of(&image);
    registry
        .push_manifest("obs/app", &digest_of(&referrer), &referrer)
        .await;
    let stored_bytes = (image.config.len() + image.layers[0].len() + 2) as f64;

    // The first scrape reads the content from metadata.
    let before = Metrics::of(&registry).await;
    let what = format!(
        "{deployment:?}; config:\n{}\nlog:\n{}",
        deployed.config,
        deployed.server.log()
    );
    assert_eq!(before.sum("berth_manifests", &[]), 2.0, "{what}");
    assert_eq!(before.sum("berth_blobs", &[]), 3.0, "{what}");
    assert_eq!(before.sum("berth_blob_bytes", &[]), stored_bytes, "{what}");
    assert_eq!(
        before.sum("berth_referrers", &[("artifact_type", ARTIFACT_TYPE)]),
        1.0
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(before.sum("berth_build_info", &[("version", version)]), 1.0);
    let backend = [("backend", deployment.metadata_backend())];
    assert!(
        before.sum("berth_metadata_write_batches_total", &backend) >= 1.0,
        "{what}"
    );
    assert!(before.sum("berth_metadata_commit_duration_seconds_count", &backend) >= 1.0);
    // Three blob uploads (config, layer, empty config) and two manifests were received.
    let posts = [
        ("endpoint", "blob_upload"),
        ("method", "POST"),
        ("status", "201"),
    ];
    assert_eq!(
        before.sum("berth_http_requests_total", &posts),
        3.0,
        "{what}"
    );
    assert_eq!(
        before.sum(
            "berth_http_received_bytes_total",
            &[("endpoint", "blob_upload")]
        ),
        stored_bytes
    );
    let manifest_bytes = (image.manifest.len() + referrer.len()) as f64;
    assert_eq!(
        before.sum(
            "berth_http_received_bytes_total",
            &[("endpoint", "manifest")]
        ),
        manifest_bytes
    );

    // A pull by tag, twice (the second served from the cache on the embedded default), and
    // of the layer.
    for _ in 0..2 {
        registry
            .assert_manifest("obs/app", "v1", &image.manifest, "pull")
            .await;
    }
    let layer = digest_of(&image.layers[0]);
    let (status, body) = registry.get_blob("obs/app", &layer).await.unwrap();
    assert_eq!(
        (status, body.len()),
        (StatusCode::OK, image.layers[0].len())
    );
    let pulled = Metrics::of(&registry).await;
    let gets = |endpoint| [("endpoint", endpoint), ("method", "GET"), ("status", "200")];
    assert_eq!(
        delta(
            &before,
            &pulled,
            "berth_http_requests_total",
            &gets("manifest")
        ),
        2.0
    );
    assert_eq!(
        delta(&before, &pulled, "berth_http_requests_total", &gets("blob")),
        1.0
    );
    assert_eq!(
        delta(
            &before,
            &pulled,
            "berth_http_sent_bytes_total",
            &[("endpoint", "blob")]
        ),
        image.layers[0].len() as f64
    );
    assert_eq!(
        delta(
            &before,
            &pulled,
            "berth_http_sent_bytes_total",
            &[("endpoint", "manifest")]
        ),
        2.0 * image.manifest.len() as f64
    );
    let durations = [("endpoint", "blob"), ("method", "GET")];
    assert_eq!(
        delta(
            &before,
            &pulled,
            "berth_http_request_duration_seconds_count",
            &durations
        ),
        1.0
    );
    let cache = |result| [("cache", "manifest_by_tag"), ("result", result)];
    let (hits, misses) = (
        delta(
            &before,
            &pulled,
            "berth_cache_requests_total",
            &cache("hit"),
        ),
        delta(
            &before,
            &pulled,
            "berth_cache_requests_total",
            &cache("miss"),
        ),
    );
    match deployment {
        Deployment::Embedded => assert_eq!((hits, misses), (1.0, 1.0)),
        // A shared store is read through every time (no cache, no lookups).
        Deployment::ScaleOut => assert_eq!((hits, misses), (0.0, 0.0)),
    }

    // A delete, then a collection that takes the orphaned referrer and every blob.
    let deleted = registry
        .http
        .delete(registry.manifest_url("obs/app", &image.digest))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    let collected = registry
        .http
        .post(registry.url("/berth/v1/gc?grace=0s"))
        .send()
        .await
        .unwrap();
    assert_eq!(collected.status(), StatusCode::OK);
    let report: Value = collected.json().await.unwrap();
    let after = Metrics::of(&registry).await;
    let deletes = [
        ("endpoint", "manifest"),
        ("method", "DELETE"),
        ("status", "202"),
    ];
    assert_eq!(
        delta(&pulled, &after, "berth_http_requests_total", &deletes),
        1.0
    );
    let admin = [("endpoint", "admin"), ("method", "POST"), ("status", "200")];
    assert_eq!(
        delta(&pulled, &after, "berth_http_requests_total", &admin),
        1.0
    );
    assert_eq!(delta(&pulled, &after, "berth_gc_runs_total", &[]), 1.0);
    assert_eq!(
        delta(&pulled, &after, "berth_gc_duration_seconds_count", &[]),
        1.0
    );
    assert_eq!(report["blobs_deleted"], 3, "{report}");
    assert_eq!(report["manifests_deleted"], 1, "{report}");
    for (kind, field) in [
        ("manifests", "manifests_deleted"),
        ("tags", "tags_deleted"),
        ("blobs", "blobs_deleted"),
        ("links", "links_removed"),
    ] {
        assert_eq!(
            delta(&pulled, &after, "berth_gc_deleted_total", &[("kind", kind)]),
            report[field].as_f64().unwrap(),
            "{kind}: {report}"
        );
    }
    assert_eq!(
        delta(&pulled, &after, "berth_gc_freed_bytes_total", &[]),
        stored_bytes
    );
    // No label names a repository or a digest.
    for name in ["berth_http_requests_total", "berth_http_sent_bytes_total"] {
        for label in ["repository", "repo", "digest"] {
            assert!(after.label_values(name, label).is_empty(), "{name} {label}");
        }
    }
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let deployed = Deployment::Embedded.start("metrics = false", &[]).await;
    let registry = Registry::new(deployed.server.url());
    let response = registry
        .http
        .get(registry.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
