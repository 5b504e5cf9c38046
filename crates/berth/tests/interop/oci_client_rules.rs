//! `oci-client` meeting the fixes: referrers of a repository that does not exist (an empty
//! index from the native endpoint, so the client never falls back to the tag schema), the
//! catalog once every manifest of a repository is deleted, and a blob download resumed from
//! an offset (206 inside the blob, 416 naming the size past its end).

use bytes::Bytes;
use futures::TryStreamExt;
use oci_client::client::{
    BlobResponse, ClientConfig, ClientProtocol, Config, ImageLayer, SizedStream,
};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::{
    OciDescriptor, IMAGE_CONFIG_MEDIA_TYPE, IMAGE_LAYER_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::relay::Relay;
use crate::support::http::*;
use crate::support::TestServer;

const SIGNATURE: &str = "application/vnd.example.signature.v1+json";

fn oci_client() -> Client {
    Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..Default::default()
    })
}

/// Pushes a one-layer image to `registry/repo:v1` with oci-client; returns its digest.
async fn push_image(client: &Client, registry: &str, repo: &str, layer: &Bytes) -> String {
    let reference = Reference::with_tag(registry.into(), repo.into(), "v1".into());
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "config": {"Labels": {"repo": repo}},
        "rootfs": {"type": "layers", "diff_ids": []},
    }))
    .expect("config JSON");
    client
        .push(
            &reference,
            &[ImageLayer::new(
                layer.to_vec(),
                IMAGE_LAYER_MEDIA_TYPE.into(),
                None,
            )],
            Config::new(config, IMAGE_CONFIG_MEDIA_TYPE.into(), None),
            &RegistryAuth::Anonymous,
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("oci-client pushes {repo}:v1: {e}"));
    let (bytes, digest) = client
        .pull_manifest_raw(
            &reference,
            &RegistryAuth::Anonymous,
            &[OCI_IMAGE_MEDIA_TYPE],
        )
        .await
        .unwrap_or_else(|e| panic!("oci-client pulls {repo}:v1: {e}"));
    assert_eq!(digest, digest_of(&bytes));
    digest
}

async fn collect(stream: SizedStream) -> Vec<u8> {
    let chunks: Vec<Bytes> = stream.stream.try_collect().await.expect("blob stream");
    chunks.concat()
}

#[tokio::test]
async fn oci_client_gets_an_empty_referrers_index_for_a_repository_that_does_not_exist() {
    let server = TestServer::start();
    let registry = Registry::new(server.url());
    let relay = Relay::start(server.host()).await;
    let client = oci_client();
    let repo = "ghost/app";
    let subject = digest_of(b"absent");
    let reference = Reference::with_digest(relay.host.clone(), repo.into(), subject.clone());

    for filter in [None, Some(SIGNATURE)] {
        let index = client
            .pull_referrers(&reference, filter)
            .await
            .unwrap_or_else(|e| panic!("pull_referrers {filter:?}: {e}"));
        assert_eq!(index.schema_version, 2, "{filter:?}: {index:?}");
        assert_eq!(
            index.media_type.as_deref(),
            Some(OCI_IMAGE_INDEX_MEDIA_TYPE)
        );
        assert!(index.manifests.is_empty(), "{filter:?}: {index:?}");
    }
    // The client asked the native endpoint only: a 404 there would have sent it on to the
    // referrers tag schema (`GET /v2/<repo>/manifests/sha256-<hex>`).
    let filter_query = "artifactType=application%2Fvnd.example.signature.v1%2Bjson";
    assert_eq!(
        relay.requests(),
        [
            format!("GET /v2/{repo}/referrers/{subject} HTTP/1.1"),
            format!("GET /v2/{repo}/referrers/{subject}?{filter_query} HTTP/1.1"),
        ],
        "the requests oci-client made"
    );

    // What it was answered, raw: 200 and an empty image index, with and without a filter.
    for (query, filtered) in [(String::new(), false), (format!("?{filter_query}"), true)] {
        let path = format!("/v2/{repo}/referrers/{subject}{query}");
        let response = registry
            .http
            .get(registry.url(&path))
            .send()
            .await
            .expect("referrers GET");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("referrers body");
        let text = String::from_utf8_lossy(&body);
        assert_eq!(status, StatusCode::OK, "{path}: {text}");
        assert_eq!(
            header_value(&headers, "content-type").as_deref(),
            Some(OCI_INDEX),
            "{path}"
        );
        assert_eq!(
            header_value(&headers, "oci-filters-applied").as_deref(),
            filtered.then_some("artifactType"),
            "{path}"
        );
        assert!(header_value(&headers, "link").is_none(), "{path}");
        let index: Value = serde_json::from_slice(&body).expect("referrers index is JSON");
        assert_eq!(
            index,
            json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}),
            "{path}"
        );
    }

    // Asking did not make the repository exist.
    let tags = registry
        .http
        .get(registry.url(&format!("/v2/{repo}/tags/list")))
        .send()
        .await
        .expect("tags GET");
    expect_error(
        "tags of the missing repository",
        tags,
        &[404],
        &["NAME_UNKNOWN"],
    )
    .await;
    assert_eq!(registry.catalog().await, Vec::<String>::new());
    assert_log_clean(&server.log());
}

#[tokio::test]
async fn oci_client_catalog_drops_a_repository_whose_manifests_were_all_deleted() {
    let server = TestServer::start();
    let registry = Registry::new(server.url());
    let client = oci_client();
    let auth = RegistryAuth::Anonymous;
    let host = server.host();
    let anywhere = Reference::with_tag(host.clone(), "team/kept".into(), "v1".into());
    let kept_layer = pseudo_random(1, 3_000);
    let kept = push_image(&client, &host, "team/kept", &kept_layer).await;
    let gone = push_image(&client, &host, "team/gone", &pseudo_random(2, 2_000)).await;

    let before = client
        .catalog(&anywhere, &auth, None, None)
        .await
        .expect("oci-client catalog");
    assert_eq!(before.repositories, ["team/gone", "team/kept"]);

    let response = registry
        .http
        .delete(registry.manifest_url("team/gone", &gone))
        .send()
        .await
        .expect("manifest DELETE");
    assert_status(response, StatusCode::ACCEPTED, "DELETE team/gone@digest").await;
    registry
        .assert_manifest_absent("team/gone", &gone, "deleted manifest")
        .await;

    let after = client
        .catalog(&anywhere, &auth, None, None)
        .await
        .expect("oci-client catalog");
    assert_eq!(
        after.repositories,
        ["team/kept"],
        "a repository without manifests is still listed"
    );
    // Paged by the client, the catalog agrees.
    let first = client
        .catalog(&anywhere, &auth, Some(1), None)
        .await
        .expect("oci-client catalog page");
    assert_eq!(first.repositories, ["team/kept"]);
    let rest = client
        .catalog(&anywhere, &auth, Some(1), Some("team/kept"))
        .await
        .expect("oci-client catalog page");
    assert!(rest.repositories.is_empty(), "{:?}", rest.repositories);

    // The other repository is untouched.
    let (bytes, digest) = client
        .pull_manifest_raw(&anywhere, &auth, &[OCI_IMAGE_MEDIA_TYPE])
        .await
        .expect("kept image pulls");
    assert_eq!(digest, kept);
    registry
        .assert_manifest("team/kept", "v1", &bytes, "kept image")
        .await;
    registry
        .assert_blob("team/kept", &kept_layer, "kept layer")
        .await;
    assert_log_clean(&server.log());
}

#[tokio::test]
async fn oci_client_resumes_a_blob_download_and_is_refused_past_its_end() {
    const SIZE: usize = 10_000;
    let server = TestServer::start();
    let registry = Registry::new(server.url());
    let client = oci_client();
    let repo = "resume/app";
    let layer = pseudo_random(3, SIZE);
    push_image(&client, &server.host(), repo, &layer).await;
    let reference = Reference::with_tag(server.host(), repo.into(), "v1".into());
    let descriptor = OciDescriptor {
        media_type: IMAGE_LAYER_MEDIA_TYPE.into(),
        digest: digest_of(&layer),
        size: SIZE as i64,
        ..Default::default()
    };

    // From an offset inside the blob: the rest of it, as a partial response.
    for (offset, length, expected) in [
        (4_321u64, None, &layer[4_321..]),
        (100, Some(50u64), &layer[100..150]),
        (SIZE as u64 - 1, None, &layer[SIZE - 1..]),
    ] {
        let what = format!("offset {offset}, length {length:?}");
        let reply = client
            .pull_blob_stream_partial(&reference, &descriptor, offset, length)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let BlobResponse::Partial(stream) = reply else {
            panic!("{what}: a full response to a range request");
        };
        assert_eq!(stream.content_length, Some(expected.len() as u64), "{what}");
        assert!(collect(stream).await == expected, "{what}: other bytes");
    }

    // From the end of the blob or past it: an error, not the whole blob.
    for offset in [SIZE as u64, SIZE as u64 + 1_000] {
        match client
            .pull_blob_stream_partial(&reference, &descriptor, offset, None)
            .await
        {
            Err(OciDistributionError::RegistryError { .. })
            | Err(OciDistributionError::ServerError { code: 416, .. }) => {}
            Err(other) => panic!("offset {offset}: unexpected error {other}"),
            Ok(BlobResponse::Full(_)) => panic!("offset {offset}: answered the whole blob"),
            Ok(BlobResponse::Partial(_)) => panic!("offset {offset}: answered a part"),
        }
        // Raw: 416 with the size the client can resume against.
        let range = format!("bytes={offset}-");
        let response = registry
            .http
            .get(registry.blob_url(repo, &descriptor.digest))
            .header("range", &range)
            .send()
            .await
            .expect("blob GET");
        assert_eq!(
            response.status(),
            StatusCode::RANGE_NOT_SATISFIABLE,
            "{range}"
        );
        assert_eq!(
            header(&response, "content-range"),
            Some(format!("bytes */{SIZE}")),
            "{range}"
        );
    }

    // Inside the blob, raw: 206 naming the part and the size.
    let response = registry
        .http
        .get(registry.blob_url(repo, &descriptor.digest))
        .header("range", "bytes=4321-")
        .send()
        .await
        .expect("blob GET");
    assert_eq!(
        header(&response, "content-range"),
        Some(format!("bytes 4321-{}/{SIZE}", SIZE - 1))
    );
    assert_status(response, StatusCode::PARTIAL_CONTENT, "bytes=4321-").await;
    assert_log_clean(&server.log());
}
