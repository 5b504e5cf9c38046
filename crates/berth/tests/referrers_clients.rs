//! End-to-end tests of the referrers APIs on the real `berth` binary, driven by real clients:
//! the ORAS Python SDK (PyPI `oras`, script in `tests/oras/`), the `oci-client` crate, and raw
//! HTTP (reqwest), which also checks what the clients left behind: the OCI referrers index,
//! its `artifactType` filter and paging, the `_oras` listing and the `_berth` graph.

mod support;

use std::collections::BTreeMap;

use bytes::Bytes;
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::{
    OciDescriptor, OciImageManifest, OciManifest, IMAGE_CONFIG_MEDIA_TYPE, IMAGE_LAYER_MEDIA_TYPE,
    OCI_IMAGE_INDEX_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE,
};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::http::{
    assert_log_clean, digest_of, header, next_link_target, pseudo_random, require_python_oras,
    run_oras_script, Image, Registry, OCI_INDEX, OCI_MANIFEST,
};
use support::TestServer;

const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";
/// The types the ORAS script uses (see `tests/oras/push_referrers.py`).
const ORAS_SIGNATURE_TYPE: &str = "application/vnd.example.signature.v1+json";
const ORAS_SBOM_TYPE: &str = "application/spdx+json";
/// The same, percent-encoded for a query (a bare `+` is a space there).
const ORAS_SIGNATURE_QUERY: &str = "application%2Fvnd.example.signature.v1%2Bjson";
const ORAS_SBOM_QUERY: &str = "application%2Fspdx%2Bjson";

// ---------------------------------------------------------------------------------------------
// Raw-HTTP views of the referrers APIs.
// ---------------------------------------------------------------------------------------------

/// One page of `GET /v2/<repo>/referrers/<digest><query>`, checked to be an OCI image index.
struct Listing {
    manifests: Vec<Value>,
    filters_applied: Option<String>,
    next: Option<String>,
}

async fn referrers(registry: &Registry, repo: &str, subject: &str, query: &str) -> Listing {
    referrers_at(registry, &format!("/v2/{repo}/referrers/{subject}{query}")).await
}

async fn referrers_at(registry: &Registry, path: &str) -> Listing {
    let response = registry
        .http
        .get(registry.url(path))
        .send()
        .await
        .expect("referrers GET");
    let status = response.status();
    let content_type = header(&response, "content-type");
    let filters_applied = header(&response, "oci-filters-applied");
    let next = header(&response, "link").map(|link| next_link_target(&link));
    let body = response.bytes().await.expect("referrers body");
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, StatusCode::OK, "GET {path}: {text}");
    assert_eq!(
        content_type.as_deref(),
        Some(OCI_INDEX),
        "GET {path}: content type"
    );
    let index: Value = serde_json::from_slice(&body).expect("referrers index is JSON");
    assert_eq!(index["schemaVersion"], 2, "GET {path}: {text}");
    assert_eq!(index["mediaType"], OCI_INDEX, "GET {path}: {text}");
    let manifests = index["manifests"]
        .as_array()
        .unwrap_or_else(|| panic!("GET {path}: no manifests array: {text}"))
        .clone();
    Listing {
        manifests,
        filters_applied,
        next,
    }
}

/// `GET` of a JSON document; asserts 200.
async fn get_json(registry: &Registry, path: &str) -> (reqwest::header::HeaderMap, Value) {
    let response = registry
        .http
        .get(registry.url(path))
        .send()
        .await
        .expect("GET");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("body");
    assert_eq!(
        status,
        StatusCode::OK,
        "GET {path}: {}",
        String::from_utf8_lossy(&body)
    );
    let value = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "GET {path}: not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    });
    (headers, value)
}

/// The `_oras` listing: `{"referrers": [...]}`.
async fn oras_referrers(registry: &Registry, repo: &str, subject: &str, extra: &str) -> Vec<Value> {
    let path = format!("/v2/{repo}/_oras/artifacts/referrers?digest={subject}{extra}");
    let (headers, value) = get_json(registry, &path).await;
    assert_eq!(
        headers
            .get("oras-api-version")
            .and_then(|v| v.to_str().ok()),
        Some("oras/1.0"),
        "GET {path}: ORAS API version header"
    );
    value["referrers"]
        .as_array()
        .unwrap_or_else(|| panic!("GET {path}: no referrers array: {value}"))
        .clone()
}

/// The `_berth` graph of `subject` to `depth` (the server's default when `None`).
async fn graph(registry: &Registry, repo: &str, subject: &str, depth: Option<u32>) -> Value {
    let query = depth.map(|d| format!("?depth={d}")).unwrap_or_default();
    let path = format!("/v2/{repo}/_berth/referrers-graph/{subject}{query}");
    let (_, value) = get_json(registry, &path).await;
    assert_eq!(value["subject"], subject, "GET {path}: subject: {value}");
    value
}

/// The digests of a list of descriptors, sorted.
fn digests(descriptors: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = descriptors
        .iter()
        .map(|d| {
            d["digest"]
                .as_str()
                .unwrap_or_else(|| panic!("descriptor without a digest: {d}"))
                .to_owned()
        })
        .collect();
    out.sort();
    out
}

/// The descriptor with `digest` among `descriptors`.
fn find<'a>(descriptors: &'a [Value], digest: &str) -> &'a Value {
    descriptors
        .iter()
        .find(|d| d["digest"] == digest)
        .unwrap_or_else(|| panic!("{digest} is not listed: {descriptors:?}"))
}

/// A graph node without its children: the plain descriptor.
fn without_children(node: &Value) -> Value {
    let mut node = node.clone();
    node.as_object_mut()
        .expect("graph node is an object")
        .remove("referrers");
    node
}

/// Descriptors sorted by digest, to compare sets.
fn by_digest(mut descriptors: Vec<Value>) -> Vec<Value> {
    descriptors.sort_by_key(|d| d["digest"].as_str().unwrap_or_default().to_owned());
    descriptors
}

fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items
}

// ---------------------------------------------------------------------------------------------
// 1. The ORAS Python SDK.
// ---------------------------------------------------------------------------------------------

fn field<'a>(result: &'a Value, artifact: &str, key: &str) -> &'a Value {
    let value = &result[artifact][key];
    assert!(!value.is_null(), "RESULT has no {artifact}.{key}: {result}");
    value
}

fn digest_in(result: &Value, artifact: &str) -> String {
    field(result, artifact, "digest")
        .as_str()
        .expect("digest string")
        .to_owned()
}

#[tokio::test]
async fn oras_python_sdk_pushes_referrers_that_every_api_lists() {
    let version = require_python_oras();
    let server = TestServer::start();
    let registry = Registry::new(server.url());
    let repo = "oras/app";
    let workdir = tempfile::tempdir().expect("work dir");
    let result = run_oras_script(&server, "oras/push_referrers.py", repo, workdir.path());

    let image = digest_in(&result, "image");
    let signature = digest_in(&result, "signature");
    let sbom = digest_in(&result, "sbom");
    let sbom_signature = digest_in(&result, "sbom_signature");

    // The pushes of manifests with a subject were answered with OCI-Subject.
    assert_eq!(
        result["image"]["subject_header"],
        Value::Null,
        "oras {version}: {result}"
    );
    for (artifact, subject) in [
        ("signature", &image),
        ("sbom", &image),
        ("sbom_signature", &sbom),
    ] {
        assert_eq!(
            field(&result, artifact, "subject_header"),
            subject.as_str(),
            "OCI-Subject of the {artifact} push"
        );
    }
    assert_eq!(
        result["pulled"],
        json!({
            "image": ["layer.tar"],
            "signature": ["image.sig"],
            "sbom": ["sbom.spdx.json"],
            "sbom_signature": ["sbom.sig"],
        }),
        "what the SDK pulled back"
    );

    // The OCI referrers API: both artifacts with full descriptors.
    let size = |artifact: &str| field(&result, artifact, "size").clone();
    let expected_signature = json!({
        "mediaType": OCI_MANIFEST,
        "digest": signature,
        "size": size("signature"),
        // No artifactType in the manifest: the config media type stands in for it.
        "artifactType": ORAS_SIGNATURE_TYPE,
        "annotations": {"org.example.kind": "signature", "org.example.signer": "alice"},
    });
    let expected_sbom = json!({
        "mediaType": OCI_MANIFEST,
        "digest": sbom,
        "size": size("sbom"),
        "artifactType": ORAS_SBOM_TYPE,
        "annotations": {"org.example.kind": "sbom", "org.example.format": "spdx"},
    });
    let expected_sbom_signature = json!({
        "mediaType": OCI_MANIFEST,
        "digest": sbom_signature,
        "size": size("sbom_signature"),
        "artifactType": ORAS_SIGNATURE_TYPE,
        "annotations": {"org.example.kind": "signature", "org.example.signer": "bob"},
    });
    let all = referrers(&registry, repo, &image, "").await;
    assert_eq!(all.filters_applied, None, "no filter was asked for");
    assert_eq!(all.next, None, "two referrers fit one page");
    assert_eq!(
        digests(&all.manifests),
        sorted(vec![signature.clone(), sbom.clone()]),
        "referrers of the image (the SBOM's signature is not one)"
    );
    assert_eq!(find(&all.manifests, &signature), &expected_signature);
    assert_eq!(find(&all.manifests, &sbom), &expected_sbom);

    // Each listed size is the size of the manifest as served.
    for descriptor in &all.manifests {
        let digest = descriptor["digest"].as_str().expect("digest");
        let reply = registry
            .get_manifest(repo, digest)
            .await
            .expect("manifest GET");
        assert_eq!(reply.status, StatusCode::OK, "GET listed manifest {digest}");
        assert_eq!(descriptor["size"], reply.body.len(), "size of {digest}");
        assert_eq!(digest_of(&reply.body), digest);
        let manifest: Value = serde_json::from_slice(&reply.body).expect("manifest JSON");
        assert_eq!(manifest["subject"]["digest"], image.as_str());
    }

    // Filtering by artifactType, one type and two.
    let sboms = referrers(
        &registry,
        repo,
        &image,
        &format!("?artifactType={ORAS_SBOM_QUERY}"),
    )
    .await;
    assert_eq!(sboms.filters_applied.as_deref(), Some("artifactType"));
    assert_eq!(sboms.manifests, vec![expected_sbom.clone()]);
    let signatures = referrers(
        &registry,
        repo,
        &image,
        &format!("?artifactType={ORAS_SIGNATURE_QUERY}"),
    )
    .await;
    assert_eq!(signatures.filters_applied.as_deref(), Some("artifactType"));
    assert_eq!(signatures.manifests, vec![expected_signature.clone()]);
    let both = referrers(
        &registry,
        repo,
        &image,
        &format!("?artifactType={ORAS_SBOM_QUERY}&artifactType={ORAS_SIGNATURE_QUERY}"),
    )
    .await;
    assert_eq!(digests(&both.manifests), digests(&all.manifests));
    let none = referrers(
        &registry,
        repo,
        &image,
        "?artifactType=application/vnd.example.none",
    )
    .await;
    assert_eq!(none.filters_applied.as_deref(), Some("artifactType"));
    assert!(none.manifests.is_empty(), "{:?}", none.manifests);

    // Paging one at a time through the Link header gives both, once each.
    let first = referrers(&registry, repo, &image, "?n=1").await;
    assert_eq!(first.manifests.len(), 1);
    let next = first.next.clone().expect("a next page after one of two");
    let second = referrers_at(&registry, &next).await;
    assert_eq!(second.manifests.len(), 1);
    let mut paged = first.manifests.clone();
    paged.extend(second.manifests.clone());
    assert_eq!(digests(&paged), digests(&all.manifests));
    if let Some(third) = second.next {
        assert!(referrers_at(&registry, &third).await.manifests.is_empty());
    }

    // The SBOM's own referrer.
    let on_sbom = referrers(&registry, repo, &sbom, "").await;
    assert_eq!(on_sbom.manifests, vec![expected_sbom_signature.clone()]);
    let on_signature = referrers(&registry, repo, &signature, "").await;
    assert!(on_signature.manifests.is_empty());

    // Discovery and the ORAS listing.
    let (_, discover) = get_json(&registry, &format!("/v2/{repo}/_oci/ext/discover")).await;
    let names: Vec<&Value> = discover["extensions"]
        .as_array()
        .unwrap_or_else(|| panic!("discover has no extensions: {discover}"))
        .iter()
        .map(|e| &e["name"])
        .collect();
    assert_eq!(names, [&json!("_oras"), &json!("_berth")]);
    let oras = oras_referrers(&registry, repo, &image, "").await;
    assert_eq!(digests(&oras), digests(&all.manifests));
    assert_eq!(find(&oras, &signature), &expected_signature);
    assert_eq!(find(&oras, &sbom), &expected_sbom);
    let oras_sboms = oras_referrers(
        &registry,
        repo,
        &image,
        &format!("&artifactType={ORAS_SBOM_QUERY}"),
    )
    .await;
    assert_eq!(oras_sboms, vec![expected_sbom.clone()]);

    // The graph: image -> {signature, SBOM -> SBOM signature}.
    let deep = graph(&registry, repo, &image, None).await;
    let top = deep["referrers"].as_array().expect("graph referrers");
    assert_eq!(digests(top), digests(&all.manifests), "graph: {deep}");
    let sbom_node = find(top, &sbom);
    assert_eq!(without_children(sbom_node), expected_sbom);
    let under_sbom = sbom_node["referrers"].as_array().expect("SBOM children");
    assert_eq!(under_sbom.len(), 1, "graph: {deep}");
    assert_eq!(without_children(&under_sbom[0]), expected_sbom_signature);
    assert_eq!(under_sbom[0]["referrers"], json!([]), "graph: {deep}");
    let signature_node = find(top, &signature);
    assert_eq!(without_children(signature_node), expected_signature);
    assert_eq!(signature_node["referrers"], json!([]), "graph: {deep}");
    let depth_two = graph(&registry, repo, &image, Some(2)).await;
    assert_eq!(depth_two, deep, "depth 2 is the whole graph");
    let shallow = graph(&registry, repo, &image, Some(1)).await;
    let shallow_top = shallow["referrers"].as_array().expect("graph referrers");
    assert_eq!(digests(shallow_top), digests(&all.manifests));
    for node in shallow_top {
        assert_eq!(node["referrers"], json!([]), "depth 1 stops: {shallow}");
    }
    let from_sbom = graph(&registry, repo, &sbom, None).await;
    assert_eq!(from_sbom["referrers"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        without_children(&from_sbom["referrers"][0]),
        expected_sbom_signature
    );

    assert_log_clean(&server.log());
}

// ---------------------------------------------------------------------------------------------
// 2. The `oci-client` crate.
// ---------------------------------------------------------------------------------------------

fn oci_client() -> Client {
    Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..Default::default()
    })
}

fn oci_descriptor(media_type: &str, data: &[u8]) -> OciDescriptor {
    OciDescriptor {
        media_type: media_type.to_owned(),
        digest: digest_of(data),
        size: data.len() as i64,
        ..Default::default()
    }
}

#[tokio::test]
async fn oci_client_pushes_an_artifact_with_a_subject_and_pulls_it_back() {
    const ATTESTATION: &str = "application/vnd.example.attestation.v1+json";
    let server = TestServer::start();
    let registry = Registry::new(server.url());
    let client = oci_client();
    let auth = RegistryAuth::Anonymous;
    let repo = "rust/app";
    let host = server.host();
    let by_digest = |digest: &str| Reference::with_digest(host.clone(), repo.into(), digest.into());

    // The subject: an image pushed with oci-client.
    let layer = pseudo_random(7, 10_000);
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
    }))
    .expect("config JSON");
    let image_ref = Reference::with_tag(host.clone(), repo.into(), "v1".into());
    client
        .push(
            &image_ref,
            &[ImageLayer::new(
                layer.to_vec(),
                IMAGE_LAYER_MEDIA_TYPE.into(),
                None,
            )],
            Config::new(config, IMAGE_CONFIG_MEDIA_TYPE.into(), None),
            &auth,
            None,
        )
        .await
        .expect("oci-client pushes the image");
    let (image_bytes, image_digest) = client
        .pull_manifest_raw(&image_ref, &auth, &[OCI_IMAGE_MEDIA_TYPE])
        .await
        .expect("image manifest pulls");
    assert_eq!(image_digest, digest_of(&image_bytes));

    // The artifact: a payload layer, the empty config, a subject and an artifactType.
    let payload = Bytes::from(
        serde_json::to_vec(
            &json!({"predicateType": "https://example.com/attest", "subject": image_digest}),
        )
        .expect("payload JSON"),
    );
    let empty = Bytes::from_static(b"{}");
    for blob in [&payload, &empty] {
        client
            .push_blob(&image_ref, blob.clone(), &digest_of(blob))
            .await
            .expect("oci-client pushes a blob");
    }
    let annotations = BTreeMap::from([
        ("org.example.kind".to_owned(), "attestation".to_owned()),
        (
            "org.opencontainers.image.created".to_owned(),
            "2024-01-02T03:04:05Z".to_owned(),
        ),
    ]);
    let manifest = OciImageManifest {
        schema_version: 2,
        media_type: Some(OCI_IMAGE_MEDIA_TYPE.to_owned()),
        config: oci_descriptor(EMPTY_CONFIG, &empty),
        layers: vec![oci_descriptor(ATTESTATION, &payload)],
        subject: Some(oci_descriptor(OCI_IMAGE_MEDIA_TYPE, &image_bytes)),
        artifact_type: Some(ATTESTATION.to_owned()),
        annotations: Some(annotations.clone()),
    };
    let artifact_ref = Reference::with_tag(host.clone(), repo.into(), "attestation".into());
    let url = client
        .push_manifest(&artifact_ref, &OciManifest::Image(manifest.clone()))
        .await
        .expect("oci-client pushes the artifact manifest");
    let (artifact_bytes, artifact_digest) = client
        .pull_manifest_raw(&artifact_ref, &auth, &[OCI_IMAGE_MEDIA_TYPE])
        .await
        .expect("artifact manifest pulls by tag");
    assert_eq!(artifact_digest, digest_of(&artifact_bytes));
    assert!(
        url.ends_with(&format!("/v2/{repo}/manifests/{artifact_digest}")),
        "push_manifest answered {url}, not the manifest's digest URL"
    );
    let stored: OciImageManifest =
        serde_json::from_slice(&artifact_bytes).expect("stored manifest parses");
    assert_eq!(
        serde_json::to_value(&stored).expect("manifest to JSON"),
        serde_json::to_value(&manifest).expect("manifest to JSON"),
        "the manifest comes back as pushed"
    );
    assert_eq!(
        stored.subject.as_ref().map(|s| s.digest.as_str()),
        Some(image_digest.as_str())
    );

    // The same bytes PUT again by digest: the reply names the subject.
    let again = registry
        .put_manifest(repo, &artifact_digest, OCI_MANIFEST, artifact_bytes.clone())
        .await
        .expect("manifest PUT");
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(
        header(&again, "oci-subject").as_deref(),
        Some(image_digest.as_str())
    );
    assert_eq!(
        header(&again, "docker-content-digest").as_deref(),
        Some(artifact_digest.as_str())
    );

    // Listed by the raw API, with the client's artifactType and annotations.
    let expected = json!({
        "mediaType": OCI_MANIFEST,
        "digest": artifact_digest,
        "size": artifact_bytes.len(),
        "artifactType": ATTESTATION,
        "annotations": annotations,
    });
    let listing = referrers(&registry, repo, &image_digest, "").await;
    assert_eq!(listing.manifests, vec![expected.clone()]);
    let filtered = referrers(
        &registry,
        repo,
        &image_digest,
        "?artifactType=application/vnd.example.attestation.v1%2Bjson",
    )
    .await;
    assert_eq!(filtered.manifests, vec![expected]);
    assert_eq!(filtered.filters_applied.as_deref(), Some("artifactType"));

    // And by oci-client's own referrers call.
    let index = client
        .pull_referrers(&by_digest(&image_digest), None)
        .await
        .expect("oci-client lists referrers");
    assert_eq!(
        index.media_type.as_deref(),
        Some(OCI_IMAGE_INDEX_MEDIA_TYPE)
    );
    assert_eq!(index.manifests.len(), 1, "{index:?}");
    assert_eq!(index.manifests[0].digest, artifact_digest);
    assert_eq!(index.manifests[0].size, artifact_bytes.len() as i64);
    assert_eq!(
        index.manifests[0].artifact_type.as_deref(),
        Some(ATTESTATION)
    );
    assert_eq!(index.manifests[0].annotations.as_ref(), Some(&annotations));
    let attestations = client
        .pull_referrers(&by_digest(&image_digest), Some(ATTESTATION))
        .await
        .expect("oci-client lists filtered referrers");
    assert_eq!(attestations.manifests.len(), 1, "{attestations:?}");
    assert_eq!(attestations.manifests[0].digest, artifact_digest);
    let other = client
        .pull_referrers(
            &by_digest(&image_digest),
            Some("application/vnd.example.other"),
        )
        .await
        .expect("oci-client lists filtered referrers");
    assert!(other.manifests.is_empty(), "{other:?}");

    // Pulled back byte-exact: the manifest by digest, then its payload blob.
    let (by_digest_bytes, by_digest_digest) = client
        .pull_manifest_raw(&by_digest(&artifact_digest), &auth, &[OCI_IMAGE_MEDIA_TYPE])
        .await
        .expect("artifact manifest pulls by digest");
    assert_eq!(by_digest_bytes, artifact_bytes);
    assert_eq!(by_digest_digest, artifact_digest);
    let mut pulled = Vec::new();
    client
        .pull_blob(&by_digest(&artifact_digest), &stored.layers[0], &mut pulled)
        .await
        .expect("payload pulls");
    assert!(pulled == payload[..], "the payload comes back byte-exact");

    assert_log_clean(&server.log());
}

// ---------------------------------------------------------------------------------------------
// 3. Raw HTTP: lifecycle of referrers and subjects.
// ---------------------------------------------------------------------------------------------

/// An artifact manifest about `subject` (`size` bytes), with the empty config.
fn artifact(subject: &str, size: usize, artifact_type: &str, note: &str) -> Bytes {
    Bytes::from(
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": {"mediaType": EMPTY_CONFIG, "digest": digest_of(b"{}"), "size": 2},
            "layers": [{"mediaType": EMPTY_CONFIG, "digest": digest_of(b"{}"), "size": 2}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": size},
            "annotations": {"org.example.note": note},
        }))
        .expect("artifact JSON"),
    )
}

/// PUTs an artifact by digest; asserts 201, the digest and the OCI-Subject header.
async fn push_artifact(registry: &Registry, repo: &str, body: &Bytes, subject: &str) -> String {
    let digest = digest_of(body);
    let response = registry
        .put_manifest(repo, &digest, OCI_MANIFEST, body.clone())
        .await
        .expect("artifact PUT");
    let status = response.status();
    let subject_header = header(&response, "oci-subject");
    let digest_header = header(&response, "docker-content-digest");
    let text = response.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::CREATED, "artifact PUT: {text}");
    assert_eq!(digest_header.as_deref(), Some(digest.as_str()));
    assert_eq!(subject_header.as_deref(), Some(subject), "OCI-Subject");
    digest
}

async fn delete_manifest(registry: &Registry, repo: &str, digest: &str) {
    let response = registry
        .http
        .delete(registry.url(&format!("/v2/{repo}/manifests/{digest}")))
        .send()
        .await
        .expect("manifest DELETE");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::ACCEPTED, "DELETE {digest}: {text}");
}

fn descriptor_of(body: &Bytes, artifact_type: &str, note: &str) -> Value {
    json!({
        "mediaType": OCI_MANIFEST,
        "digest": digest_of(body),
        "size": body.len(),
        "artifactType": artifact_type,
        "annotations": {"org.example.note": note},
    })
}

#[tokio::test]
async fn referrers_outlive_their_subject_and_go_when_deleted() {
    const SIG: &str = "application/vnd.example.sig";
    const SBOM: &str = "application/spdx+json";
    let server = TestServer::start();
    let registry = Registry::new(server.url());
    let repo = "raw/app";
    let image = Image::new(repo, "v1", 11, &[3000, 500]);
    registry.push_blob(repo, &Bytes::from_static(b"{}")).await;

    // Before its subject exists, an artifact is accepted and listed.
    let early = artifact(&image.digest, image.manifest.len(), SIG, "early");
    let early_digest = push_artifact(&registry, repo, &early, &image.digest).await;
    registry
        .assert_manifest_absent(repo, &image.digest, "subject not pushed yet")
        .await;
    let listing = referrers(&registry, repo, &image.digest, "").await;
    assert_eq!(listing.manifests, vec![descriptor_of(&early, SIG, "early")]);
    assert_eq!(
        oras_referrers(&registry, repo, &image.digest, "").await,
        vec![descriptor_of(&early, SIG, "early")]
    );

    // The subject arrives; the early referrer stays listed and a later one joins it.
    registry.push_image(&image).await;
    registry.assert_image(&image, "subject pushed").await;
    let late = artifact(&image.digest, image.manifest.len(), SBOM, "late");
    let late_digest = push_artifact(&registry, repo, &late, &image.digest).await;
    let extra = artifact(&image.digest, image.manifest.len(), SIG, "extra");
    let extra_digest = push_artifact(&registry, repo, &extra, &image.digest).await;
    // A referrer of a referrer, for the graph.
    let nested = artifact(&late_digest, late.len(), SIG, "nested");
    let nested_digest = push_artifact(&registry, repo, &nested, &late_digest).await;
    let listing = referrers(&registry, repo, &image.digest, "").await;
    assert_eq!(
        digests(&listing.manifests),
        sorted(vec![
            early_digest.clone(),
            late_digest.clone(),
            extra_digest.clone()
        ])
    );
    assert_eq!(
        find(&listing.manifests, &late_digest),
        &descriptor_of(&late, SBOM, "late")
    );

    // Deleting a referrer unlists it at once, from every API.
    delete_manifest(&registry, repo, &extra_digest).await;
    registry
        .assert_manifest_absent(repo, &extra_digest, "deleted referrer")
        .await;
    let listing = referrers(&registry, repo, &image.digest, "").await;
    assert_eq!(
        digests(&listing.manifests),
        sorted(vec![early_digest.clone(), late_digest.clone()]),
        "the deleted referrer is still listed"
    );
    let sigs = referrers(
        &registry,
        repo,
        &image.digest,
        &format!("?artifactType={SIG}"),
    )
    .await;
    assert_eq!(sigs.manifests, vec![descriptor_of(&early, SIG, "early")]);
    assert_eq!(
        digests(&oras_referrers(&registry, repo, &image.digest, "").await),
        sorted(vec![early_digest.clone(), late_digest.clone()])
    );
    let tree = graph(&registry, repo, &image.digest, None).await;
    assert_eq!(
        digests(tree["referrers"].as_array().expect("graph referrers")),
        sorted(vec![early_digest.clone(), late_digest.clone()])
    );

    // Deleting the subject leaves its referrers listed, in every API.
    delete_manifest(&registry, repo, &image.digest).await;
    registry
        .assert_manifest_absent(repo, &image.digest, "deleted subject")
        .await;
    let listing = referrers(&registry, repo, &image.digest, "").await;
    assert_eq!(
        by_digest(listing.manifests),
        by_digest(vec![
            descriptor_of(&early, SIG, "early"),
            descriptor_of(&late, SBOM, "late"),
        ]),
        "referrers of a deleted subject"
    );
    assert_eq!(
        digests(&oras_referrers(&registry, repo, &image.digest, "").await),
        sorted(vec![early_digest.clone(), late_digest.clone()])
    );
    let tree = graph(&registry, repo, &image.digest, None).await;
    let top = tree["referrers"].as_array().expect("graph referrers");
    assert_eq!(
        digests(top),
        sorted(vec![early_digest.clone(), late_digest.clone()])
    );
    let late_node = find(top, &late_digest);
    assert_eq!(
        digests(late_node["referrers"].as_array().expect("children")),
        vec![nested_digest.clone()]
    );
    // The referrers themselves are still readable.
    registry
        .assert_manifest(repo, &early_digest, &early, "referrer of a deleted subject")
        .await;
    registry
        .assert_manifest(repo, &late_digest, &late, "referrer of a deleted subject")
        .await;

    assert_log_clean(&server.log());
}
