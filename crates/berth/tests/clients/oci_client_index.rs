//! `oci-client` pushing a multi-platform image index blob by blob and pulling it back, raw,
//! parsed and through platform resolution.

use oci_client::client::linux_amd64_resolver;
use oci_client::manifest::{
    ImageIndexEntry, OciManifest, IMAGE_LAYER_GZIP_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
};
use oci_client::secrets::RegistryAuth;
use oci_client::Reference;

use crate::content::sha256;
use crate::layout::{image_index, PlatformImage};
use crate::oci_helpers::{
    assert_pulls_manifest, oci_client, pull_blob, push_manifest, resolving_client, sorted,
    OrServerLog as _,
};
use crate::served::assert_served_manifest;
use crate::support::TestServer;

#[tokio::test]
async fn oci_client_pushes_and_pulls_a_multi_platform_index() {
    let server = TestServer::start();
    let auth = RegistryAuth::Anonymous;
    let repo = "e2e/oci-client-index";
    let host = server.host();
    let tagged = Reference::with_tag(host.clone(), repo.into(), "multi".into());
    let by_digest = |digest: &str| Reference::with_digest(host.clone(), repo.into(), digest.into());

    // Blobs go up monolithically here (the image test covers chunked pushes).
    let pusher = oci_client(true);
    let images = [
        PlatformImage::build("amd64", 40_000),
        PlatformImage::build("arm64", 70_000),
    ];
    for image in &images {
        for blob in image.blobs() {
            let url = pusher
                .push_blob(&tagged, blob.clone(), &sha256(blob))
                .await
                .or_log(&server, "push_blob");
            assert!(
                url.ends_with(&format!("/v2/{repo}/blobs/{}", sha256(blob))),
                "blob url {url}"
            );
        }
        let url = push_manifest(
            &pusher,
            &server,
            &by_digest(&image.digest()),
            &image.manifest,
            OCI_IMAGE_MEDIA_TYPE,
            &format!("push {} manifest", image.arch),
        )
        .await;
        assert!(
            url.ends_with(&format!("/v2/{repo}/manifests/{}", image.digest())),
            "manifest url {url}"
        );
    }
    let index = image_index(&images);
    let index_digest = sha256(&index);
    let url = push_manifest(
        &pusher,
        &server,
        &tagged,
        &index,
        OCI_IMAGE_INDEX_MEDIA_TYPE,
        "push index",
    )
    .await;
    assert!(
        url.ends_with(&format!("/v2/{repo}/manifests/{index_digest}")),
        "index url {url}"
    );

    // The index, raw and parsed, by tag and by digest.
    let client = oci_client(false);
    let index_type = OCI_IMAGE_INDEX_MEDIA_TYPE;
    assert_pulls_manifest(&client, &tagged, index_type, &index, "index by tag").await;
    let index_by_digest = by_digest(&index_digest);
    assert_pulls_manifest(
        &client,
        &index_by_digest,
        index_type,
        &index,
        "index by digest",
    )
    .await;
    let (parsed, digest) = client
        .pull_manifest(&tagged, &auth)
        .await
        .expect("pull parsed index");
    assert_eq!(digest, index_digest);
    let OciManifest::ImageIndex(parsed) = parsed else {
        panic!("expected an image index, got {parsed}")
    };
    assert_eq!(
        parsed.media_type.as_deref(),
        Some(OCI_IMAGE_INDEX_MEDIA_TYPE)
    );
    assert_eq!(parsed.manifests.len(), 2);
    for (entry, image) in parsed.manifests.iter().zip(&images) {
        assert_eq!(entry.digest, image.digest());
        assert_eq!(entry.size, image.manifest.len() as i64);
        assert_eq!(entry.media_type, OCI_IMAGE_MEDIA_TYPE);
        let platform = entry.platform.as_ref().expect("platform");
        assert_eq!(
            (platform.os.to_string(), platform.architecture.to_string()),
            ("linux".to_string(), image.arch.to_string())
        );
    }

    // Every platform manifest by digest, byte-exact, and every blob it references.
    for image in &images {
        let reference = by_digest(&image.digest());
        let what = format!("{} manifest", image.arch);
        assert_pulls_manifest(
            &client,
            &reference,
            OCI_IMAGE_MEDIA_TYPE,
            &image.manifest,
            &what,
        )
        .await;
        for blob in image.blobs() {
            let out = pull_blob(&client, &reference, sha256(blob).as_str()).await;
            assert!(&out == blob, "{} blob {} differs", image.arch, sha256(blob));
        }
        assert_served_manifest(
            &server,
            repo,
            &image.digest(),
            OCI_IMAGE_MEDIA_TYPE,
            &image.manifest,
        )
        .await;
    }
    assert_served_manifest(&server, repo, "multi", OCI_IMAGE_INDEX_MEDIA_TYPE, &index).await;

    // Platform resolution through the index: the client picks linux/amd64 ...
    let (manifest, digest, list_digest) = resolving_client(linux_amd64_resolver)
        .pull_image_manifest_and_list_digest(&tagged, &auth)
        .await
        .expect("resolve amd64");
    assert_eq!(digest, images[0].digest());
    assert_eq!(list_digest.as_deref(), Some(index_digest.as_str()));
    assert_eq!(manifest.config.digest, sha256(&images[0].config));

    // ... or linux/arm64, and a full pull brings back that platform's bytes.
    let arm64_client = resolving_client(|entries: &[ImageIndexEntry]| {
        entries
            .iter()
            .find(|e| {
                e.platform
                    .as_ref()
                    .is_some_and(|p| p.architecture.to_string() == "arm64")
            })
            .map(|e| e.digest.clone())
    });
    let pulled = arm64_client
        .pull(&tagged, &auth, vec![IMAGE_LAYER_GZIP_MEDIA_TYPE])
        .await
        .or_log(&server, "pull arm64");
    assert_eq!(pulled.digest.as_deref(), Some(images[1].digest().as_str()));
    assert_eq!(pulled.config.data.as_ref(), images[1].config.as_slice());
    let layers = sorted(pulled.layers.iter().map(|l| l.data.as_ref()).collect());
    let expected = sorted(images[1].layers.iter().map(Vec::as_slice).collect());
    assert!(layers == expected, "arm64 layers differ");

    // Only the index is tagged.
    let tags = client
        .list_tags(&tagged, &auth, None, None)
        .await
        .expect("list tags");
    assert_eq!(tags.tags, ["multi"]);
}
