//! skopeo copying a multi-platform OCI layout into berth, within berth and back out, with
//! every manifest and blob kept byte for byte.

use std::collections::BTreeMap;

use oci_client::manifest::OCI_IMAGE_INDEX_MEDIA_TYPE;
use serde_json::{json, Value};

use crate::content::{hex_of, sha256};
use crate::layout::{read_dir_files, REF_NAME};
use crate::served::{assert_served_image, assert_served_manifest, http_tags};
use crate::skopeo::{copy, docker, inspect_raw, list_tags, start, ALL_AS_IS};

#[tokio::test]
async fn skopeo_copies_a_multi_platform_oci_layout_through_berth_byte_exact() {
    let repo = "e2e/skopeo-oci";
    let (server, layout, remote) = start(repo, "multi");

    copy(&server, ALL_AS_IS, &layout.reference("multi"), &remote);

    // What berth now serves, seen by skopeo and by raw HTTP.
    let raw = inspect_raw(&server, &remote);
    assert!(
        raw == layout.index,
        "skopeo inspect --raw does not return the pushed index bytes:\n{}",
        String::from_utf8_lossy(&raw)
    );
    for image in &layout.images {
        let by_digest = docker(&server, &format!("{repo}@{}", image.digest()));
        assert!(
            inspect_raw(&server, &by_digest) == image.manifest,
            "{} manifest served by berth is not byte-exact",
            image.arch
        );
        assert_served_image(&server, repo, image).await;
    }
    assert_served_manifest(
        &server,
        repo,
        "multi",
        OCI_IMAGE_INDEX_MEDIA_TYPE,
        &layout.index,
    )
    .await;
    let listed = list_tags(&server, repo);
    assert_eq!(
        listed["Tags"],
        json!(["multi"]),
        "skopeo list-tags: {listed}"
    );
    assert_eq!(listed["Repository"], format!("{}/{repo}", server.host()));

    // Pushing again under a second tag finds every blob already there and keeps the digest.
    let again = docker(&server, &format!("{repo}:again"));
    copy(&server, ALL_AS_IS, &layout.reference("multi"), &again);
    assert_served_manifest(
        &server,
        repo,
        "again",
        OCI_IMAGE_INDEX_MEDIA_TYPE,
        &layout.index,
    )
    .await;
    assert_eq!(http_tags(&server, repo).await, ["again", "multi"]);

    // Registry to registry, into another repository (skopeo may mount the blobs across).
    let mirror_repo = "e2e/skopeo-oci-mirror";
    let mirror = docker(&server, &format!("{mirror_repo}:multi"));
    copy(&server, ALL_AS_IS, &remote, &mirror);
    let raw = inspect_raw(&server, &mirror);
    assert!(raw == layout.index, "the mirrored index is not byte-exact");
    for image in &layout.images {
        assert_served_image(&server, mirror_repo, image).await;
    }

    // Back out into a fresh layout: the same index and the same blobs, byte for byte.
    let out = tempfile::tempdir().expect("temp dir");
    let out_layout = out.path().join("layout");
    let out_reference = format!("oci:{}:multi", out_layout.display());
    copy(&server, ALL_AS_IS, &remote, &out_reference);
    let index_json: Value = serde_json::from_slice(
        &std::fs::read(out_layout.join("index.json")).expect("output index.json"),
    )
    .expect("index.json JSON");
    let entries = index_json["manifests"].as_array().expect("manifests");
    assert_eq!(entries.len(), 1, "output index.json: {index_json}");
    assert_eq!(entries[0]["digest"], sha256(&layout.index));
    assert_eq!(entries[0]["mediaType"], OCI_IMAGE_INDEX_MEDIA_TYPE);
    assert_eq!(entries[0]["size"], layout.index.len());
    assert_eq!(entries[0]["annotations"][REF_NAME], "multi");

    let expected: BTreeMap<String, Vec<u8>> = read_dir_files(&layout.blobs_dir());
    let actual = read_dir_files(&out_layout.join("blobs/sha256"));
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the output layout does not hold exactly the input blobs"
    );
    for (name, bytes) in &expected {
        assert!(
            &actual[name] == bytes,
            "blob {name} differs after the round trip"
        );
        assert_eq!(hex_of(&sha256(&actual[name])), name.as_str());
    }
}
