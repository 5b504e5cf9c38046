//! skopeo converting OCI images to Docker schema 2 (a single image and a manifest list) on the
//! way into berth, and copying them out again unchanged.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::content::{hex_of, sha256};
use crate::layout::{assert_dir_holds_blobs, read_dir_files, PlatformImage};
use crate::served::{assert_served_blob, assert_served_manifest};
use crate::skopeo::{copy, docker, inspect_raw, list_tags, start, ALL_AS_IS};
use crate::support::TestServer;

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Checks a Docker schema 2 manifest converted by skopeo from `image`: media types are Docker's,
/// digests and sizes are the OCI originals.
fn assert_docker_conversion(manifest: &[u8], image: &PlatformImage) {
    let parsed: Value = serde_json::from_slice(manifest).expect("manifest JSON");
    assert_eq!(parsed["schemaVersion"], 2);
    assert_eq!(parsed["mediaType"], DOCKER_MANIFEST, "{parsed}");
    assert_eq!(parsed["config"]["mediaType"], DOCKER_CONFIG);
    assert_eq!(parsed["config"]["digest"], sha256(&image.config));
    assert_eq!(parsed["config"]["size"], image.config.len());
    let layers = parsed["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), image.layers.len());
    for (layer, bytes) in layers.iter().zip(&image.layers) {
        assert_eq!(layer["mediaType"], DOCKER_LAYER_GZIP);
        assert_eq!(layer["digest"], sha256(bytes));
        assert_eq!(layer["size"], bytes.len());
    }
}

/// Copies `remote` out of berth into a fresh `dir:` copy with `options`, checks that its
/// `manifest.json` is `manifest` (the `what` berth served) byte for byte, and returns its
/// files by name.
fn copy_out_to_dir(
    server: &TestServer,
    options: &[&str],
    remote: &str,
    manifest: &[u8],
    what: &str,
) -> BTreeMap<String, Vec<u8>> {
    let out = tempfile::tempdir().expect("temp dir");
    let out_dir = out.path().join("image");
    copy(
        server,
        options,
        remote,
        &format!("dir:{}", out_dir.display()),
    );
    let files = read_dir_files(&out_dir);
    assert!(
        files["manifest.json"] == manifest,
        "the {what} copied out differs from the one served"
    );
    files
}

#[tokio::test]
async fn skopeo_round_trips_a_docker_schema2_image_through_berth() {
    let repo = "e2e/skopeo-docker";
    let (server, layout, remote) = start(repo, "v2s2");
    let image = &layout.images[0];

    // skopeo converts the single-platform OCI image to Docker schema 2 on the way in.
    copy(
        &server,
        &["--format", "v2s2"],
        &layout.reference("single"),
        &remote,
    );
    let manifest = inspect_raw(&server, &remote);
    assert_docker_conversion(&manifest, image);
    assert_served_manifest(&server, repo, "v2s2", DOCKER_MANIFEST, &manifest).await;
    let digest = sha256(&manifest);
    assert_served_manifest(&server, repo, &digest, DOCKER_MANIFEST, &manifest).await;
    for blob in image.blobs() {
        assert_served_blob(&server, repo, blob).await;
    }

    // And out again, untouched, into a `dir:` copy.
    let options = ["--preserve-digests"];
    let files = copy_out_to_dir(&server, &options, &remote, &manifest, "manifest");
    assert_dir_holds_blobs(&files, image);
    assert_eq!(list_tags(&server, repo)["Tags"], json!(["v2s2"]));
}

#[tokio::test]
async fn skopeo_round_trips_a_docker_manifest_list_through_berth() {
    let repo = "e2e/skopeo-docker-list";
    let (server, layout, remote) = start(repo, "list");

    // The OCI index and both images become a Docker manifest list of schema 2 manifests.
    copy(
        &server,
        &["--all", "--format", "v2s2"],
        &layout.reference("multi"),
        &remote,
    );
    let list = inspect_raw(&server, &remote);
    let parsed: Value = serde_json::from_slice(&list).expect("list JSON");
    assert_eq!(parsed["mediaType"], DOCKER_MANIFEST_LIST, "{parsed}");
    let entries = parsed["manifests"].as_array().expect("manifests");
    assert_eq!(entries.len(), 2);
    assert_served_manifest(&server, repo, "list", DOCKER_MANIFEST_LIST, &list).await;

    let mut instances = Vec::new();
    for (entry, image) in entries.iter().zip(&layout.images) {
        assert_eq!(entry["mediaType"], DOCKER_MANIFEST);
        assert_eq!(entry["platform"]["architecture"], image.arch);
        assert_eq!(entry["platform"]["os"], "linux");
        let digest = entry["digest"].as_str().expect("digest").to_owned();
        let manifest = inspect_raw(&server, &docker(&server, &format!("{repo}@{digest}")));
        assert_eq!(
            sha256(&manifest),
            digest,
            "{} manifest does not match its digest",
            image.arch
        );
        assert_eq!(entry["size"], manifest.len());
        assert_docker_conversion(&manifest, image);
        assert_served_manifest(&server, repo, &digest, DOCKER_MANIFEST, &manifest).await;
        instances.push((digest, manifest));
    }

    // Out again with every instance, unchanged.
    let files = copy_out_to_dir(&server, ALL_AS_IS, &remote, &list, "manifest list");
    for (digest, manifest) in &instances {
        let name = format!("{}.manifest.json", hex_of(digest));
        assert!(
            files.get(&name) == Some(manifest),
            "instance manifest {name} differs after the round trip"
        );
    }
    for image in &layout.images {
        assert_dir_holds_blobs(&files, image);
    }
}
