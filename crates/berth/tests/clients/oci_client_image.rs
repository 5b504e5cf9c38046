//! `oci-client` pushing a single-platform image (with a chunked layer) and pulling it back,
//! then tagging and listing tags.

use std::collections::BTreeMap;

use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::{
    OciImageManifest, IMAGE_CONFIG_MEDIA_TYPE, IMAGE_LAYER_GZIP_MEDIA_TYPE, IMAGE_LAYER_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
};
use oci_client::secrets::RegistryAuth;
use oci_client::Reference;
use serde_json::Value;

use crate::content::{image_config, random_bytes, sha256, tar, tar_gz_layer};
use crate::oci_helpers::{oci_client, pull_blob, push_manifest, sorted, OrServerLog as _};
use crate::served::{assert_served_blob, assert_served_manifest, header, http_tags};
use crate::support::TestServer;

#[tokio::test]
async fn oci_client_pushes_and_pulls_an_image() {
    let server = TestServer::start();
    let client = oci_client(false);
    let auth = RegistryAuth::Anonymous;
    let repo = "e2e/oci-client";
    let image = Reference::with_tag(server.host(), repo.into(), "v1".into());

    // A small gzip'd layer and a plain tar layer larger than the client's 4 MiB chunk size,
    // so that it is pushed as several PATCH requests.
    let (small, small_diff_id) = tar_gz_layer("etc/hello.txt", 3_000);
    let big = tar(&[("opt/big.bin", &random_bytes(5 * 1024 * 1024 + 17))]);
    let layers = vec![
        ImageLayer::new(small.clone(), IMAGE_LAYER_GZIP_MEDIA_TYPE.to_string(), None),
        ImageLayer::new(big.clone(), IMAGE_LAYER_MEDIA_TYPE.to_string(), None),
    ];
    let config_bytes = image_config("amd64", &[small_diff_id, sha256(&big)]);
    let config = Config::new(
        config_bytes.clone(),
        IMAGE_CONFIG_MEDIA_TYPE.to_string(),
        None,
    );
    let annotations = BTreeMap::from([(
        "org.opencontainers.image.title".to_string(),
        "berth e2e".to_string(),
    )]);
    let manifest = OciImageManifest::build(&layers, &config, Some(annotations));
    assert_eq!(manifest.layers[0].digest, sha256(&small));
    assert_eq!(manifest.layers[1].digest, sha256(&big));

    let pushed = client
        .push(&image, &layers, config, &auth, Some(manifest.clone()))
        .await
        .or_log(&server, "oci-client push");
    assert!(
        pushed
            .config_url
            .ends_with(&format!("/v2/{repo}/blobs/{}", sha256(&config_bytes))),
        "config url {}",
        pushed.config_url
    );

    // The manifest as stored: the raw bytes hash to the digest the registry reports, and say
    // exactly what was pushed.
    let (raw, digest) = client
        .pull_manifest_raw(&image, &auth, &[OCI_IMAGE_MEDIA_TYPE])
        .await
        .expect("pull raw manifest");
    assert_eq!(digest, sha256(&raw));
    assert!(
        pushed
            .manifest_url
            .ends_with(&format!("/v2/{repo}/manifests/{digest}")),
        "manifest url {} (digest {digest})",
        pushed.manifest_url
    );
    let raw_json: Value = serde_json::from_slice(&raw).expect("manifest JSON");
    assert_eq!(raw_json, serde_json::to_value(&manifest).unwrap());
    assert_eq!(
        client
            .fetch_manifest_digest(&image, &auth)
            .await
            .expect("HEAD digest"),
        digest
    );

    // A full pull gives back every byte.
    let pulled = client
        .pull(
            &image,
            &auth,
            vec![IMAGE_LAYER_MEDIA_TYPE, IMAGE_LAYER_GZIP_MEDIA_TYPE],
        )
        .await
        .or_log(&server, "oci-client pull");
    assert_eq!(pulled.digest.as_deref(), Some(digest.as_str()));
    assert_eq!(pulled.config.data.as_ref(), config_bytes.as_slice());
    assert_eq!(pulled.config.media_type, IMAGE_CONFIG_MEDIA_TYPE);
    let layers = sorted(
        pulled
            .layers
            .iter()
            .map(|l| (l.sha256_digest(), l.data.as_ref(), l.media_type.as_str()))
            .collect(),
    );
    let expected = sorted(vec![
        (
            sha256(&small),
            small.as_slice(),
            IMAGE_LAYER_GZIP_MEDIA_TYPE,
        ),
        (sha256(&big), big.as_slice(), IMAGE_LAYER_MEDIA_TYPE),
    ]);
    assert!(
        layers == expected,
        "pulled layers differ from the pushed ones"
    );
    let pulled_manifest = pulled.manifest.expect("pull returns the manifest");
    assert_eq!(
        serde_json::to_value(&pulled_manifest).unwrap(),
        serde_json::to_value(&manifest).unwrap()
    );

    // Blobs one by one, through the client (which verifies the digest) and raw HTTP.
    for (descriptor, expected) in manifest.layers.iter().zip([&small, &big]) {
        let out = pull_blob(&client, &image, descriptor).await;
        assert!(&out == expected, "pull_blob {} differs", descriptor.digest);
        assert_served_blob(&server, repo, expected).await;
    }
    assert_served_blob(&server, repo, &config_bytes).await;
    assert!(client
        .blob_exists(&image, &sha256(&big))
        .await
        .expect("HEAD blob"));
    assert!(!client
        .blob_exists(&image, &sha256(b"never pushed"))
        .await
        .expect("HEAD blob"));

    // Raw HTTP sees the same manifest, by tag and by digest.
    assert_served_manifest(&server, repo, "v1", OCI_IMAGE_MEDIA_TYPE, &raw).await;
    assert_served_manifest(&server, repo, &digest, OCI_IMAGE_MEDIA_TYPE, &raw).await;

    // A second tag on the same manifest, then tag listing with and without pagination.
    let v2 = Reference::with_tag(server.host(), repo.into(), "v2".into());
    let url = push_manifest(&client, &server, &v2, &raw, OCI_IMAGE_MEDIA_TYPE, "tag v2").await;
    assert!(url.ends_with(&digest), "tagging returned {url}");
    let tags = client
        .list_tags(&image, &auth, None, None)
        .await
        .expect("list tags");
    assert_eq!(tags.name, repo);
    assert_eq!(tags.tags, ["v1", "v2"]);
    let first = client
        .list_tags(&image, &auth, Some(1), None)
        .await
        .expect("first page");
    assert_eq!(first.tags, ["v1"]);
    let rest = client
        .list_tags(&image, &auth, Some(1), Some("v1"))
        .await
        .expect("second page");
    assert_eq!(rest.tags, ["v2"]);
    let link = reqwest::get(format!("{}/v2/{repo}/tags/list?n=1", server.url()))
        .await
        .expect("tags page");
    assert_eq!(
        header(link.headers(), "link"),
        format!("</v2/{repo}/tags/list?n=1&last=v1>; rel=\"next\"")
    );
    assert_eq!(http_tags(&server, repo).await, ["v1", "v2"]);
    let (raw_v2, digest_v2) = client
        .pull_manifest_raw(&v2, &auth, &[OCI_IMAGE_MEDIA_TYPE])
        .await
        .expect("pull v2");
    assert_eq!((raw_v2, digest_v2), (raw, digest));
}
