//! What one node stores, the other serves: blobs pushed monolithic and chunked, image
//! manifests and an index pushed through A pull byte-exact through B; a tag moved on one node
//! reads moved on the other at the very next request.

use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::json;

use crate::cluster::Cluster;
use crate::support::http::{descriptor, digest_of, header, pseudo_random, Image, OCI_INDEX};

/// An OCI index over `images`.
fn index_of(images: &[&Image]) -> Bytes {
    let manifests: Vec<_> = images
        .iter()
        .map(|image| descriptor(crate::support::http::OCI_MANIFEST, &image.manifest))
        .collect();
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
    Bytes::from(serde_json::to_vec(&index).expect("index serialises"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_through_one_node_pulls_byte_exact_through_the_other() {
    let cluster = Cluster::start(&[]).await;
    let (a, b) = cluster.registries();
    let repo = "scale/app";

    // Config monolithic, a large layer in odd-sized chunks, a small layer monolithic.
    let amd64 = Image::with_layers(
        repo,
        "v1",
        1,
        vec![pseudo_random(11, 700_001), pseudo_random(12, 3_000)],
    );
    a.push_blob(repo, &amd64.config).await;
    a.push_blob_chunked(repo, &amd64.layers[0], 65_537).await;
    a.push_blob(repo, &amd64.layers[1]).await;
    a.push_manifest(repo, &amd64.tag, &amd64.manifest).await;
    // A second image, all chunked, and an index over both under its own tag.
    let arm64 = Image::new(repo, "v1-arm64", 2, &[250_000]);
    for blob in arm64.blobs() {
        a.push_blob_chunked(repo, &blob, 40_000).await;
    }
    a.push_manifest(repo, &arm64.tag, &arm64.manifest).await;
    let index = index_of(&[&amd64, &arm64]);
    let response = a
        .put_manifest(repo, "multi", OCI_INDEX, index.clone())
        .await
        .expect("index PUT");
    crate::support::http::assert_created(response, &digest_of(&index), "index PUT on A").await;

    for (node, reg) in [("B", &b), ("A", &a)] {
        let what = format!("pushed through A, pulled through {node}");
        reg.assert_image(&amd64, &what).await;
        reg.assert_image(&arm64, &what).await;
        reg.assert_manifest(repo, "multi", &index, &what).await;
        reg.assert_manifest(repo, &digest_of(&index), &index, &what)
            .await;
        let reply = reg.get_manifest(repo, "multi").await.expect("index GET");
        assert_eq!(reply.content_type.as_deref(), Some(OCI_INDEX), "{what}");
        // A range of the chunked layer, as a resuming client reads it.
        let range = reg
            .http
            .get(reg.blob_url(repo, &digest_of(&amd64.layers[0])))
            .header("range", "bytes=65000-200000")
            .send()
            .await
            .expect("ranged GET");
        assert_eq!(range.status(), StatusCode::PARTIAL_CONTENT, "{what}: range");
        assert_eq!(
            header(&range, "content-range").as_deref(),
            Some("bytes 65000-200000/700001"),
            "{what}: range"
        );
        let body = range.bytes().await.expect("range body");
        assert!(
            body[..] == amd64.layers[0][65_000..=200_000],
            "{what}: range"
        );
        let mut tags = reg.tags(repo).await;
        tags.sort();
        assert_eq!(tags, ["multi", "v1", "v1-arm64"], "{what}: tags");
        assert!(
            reg.catalog().await.contains(&repo.to_owned()),
            "{what}: catalog"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_moved_on_one_node_reads_moved_on_the_other_at_once() {
    let cluster = Cluster::start(&[]).await;
    let (a, b) = cluster.registries();
    let repo = "scale/moving";
    let layer = pseudo_random(99, 10_000);
    for round in 0..6u64 {
        // Even rounds move the tag on A and read on B, odd rounds the other way round.
        let (writer, reader, names) = if round % 2 == 0 {
            (&a, &b, "A to B")
        } else {
            (&b, &a, "B to A")
        };
        let image = Image::with_layers(repo, "latest", 100 + round, vec![layer.clone()]);
        // The reader reads the tag first (as a cache would keep it), then the writer moves it.
        if round > 0 {
            let before = reader.get_manifest(repo, "latest").await.expect("GET");
            assert_eq!(before.status, StatusCode::OK, "round {round}: before");
            assert_ne!(before.digest.as_deref(), Some(image.digest.as_str()));
        }
        writer.push_image(&image).await;
        let what = format!("round {round}, moved {names}");
        reader
            .assert_manifest(repo, "latest", &image.manifest, &what)
            .await;
        let head = reader
            .http
            .head(reader.manifest_url(repo, "latest"))
            .header("accept", crate::support::http::OCI_MANIFEST)
            .send()
            .await
            .expect("HEAD");
        assert_eq!(head.status(), StatusCode::OK, "{what}: HEAD");
        assert_eq!(
            header(&head, "docker-content-digest").as_deref(),
            Some(image.digest.as_str()),
            "{what}: HEAD digest"
        );
        assert_eq!(reader.tags(repo).await, ["latest"], "{what}: tags");
    }
}
