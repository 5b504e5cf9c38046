//! What a manifest body holds: too many bytes, bytes that are not a manifest, and manifest
//! kinds the registry does not take.

use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fixture::*;
use crate::support::http::*;

/// A valid manifest referencing the fixture's blobs, padded with an annotation to exactly
/// `size` bytes.
fn padded_manifest(image: &Image, size: usize) -> Bytes {
    let build = |pad: usize| {
        let value = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, &image.config),
            "layers": image.layers.iter().map(|l| descriptor(OCI_LAYER, l)).collect::<Vec<_>>(),
            "annotations": {"pad": "x".repeat(pad)},
        });
        serde_json::to_vec(&value).unwrap()
    };
    let base = build(0).len();
    let body = build(size - base);
    assert_eq!(body.len(), size);
    Bytes::from(body)
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_manifests_are_refused_with_413() {
    let fx = Fixture::start().await;
    const LIMIT: usize = 4 * 1024 * 1024;
    let too_codes: &[&str] = &["MANIFEST_INVALID", "SIZE_INVALID", "MANIFEST_TOO_LARGE"];
    // Sent over a bare socket that writes the whole body before reading the reply: the server
    // may answer 413 as soon as it sees the size and close, which some clients (hyper's) report
    // as a broken pipe instead of reading the reply.
    for (size, chunked) in [
        (LIMIT + 1, false),
        (LIMIT + 1, true),
        (LIMIT + 4096, false),
        (16 * 1024 * 1024, true),
        (16 * 1024 * 1024, false),
    ] {
        let body = padded_manifest(&fx.image, size);
        let digest = digest_of(&body);
        let what = format!("manifest of {size} bytes (chunked: {chunked})");
        let mut headers = vec![("Content-Type", OCI_MANIFEST.to_owned())];
        let wire = if chunked {
            headers.push(("Transfer-Encoding", "chunked".to_owned()));
            chunked_encoding(&body, 256 * 1024)
        } else {
            body.to_vec()
        };
        let target = "/v2/acme/app/manifests/huge";
        let reply = fx
            .raw_as(&what, "PUT", target, &headers, &wire, false)
            .await;
        reply.expect_error(&what, &[413], too_codes);
        fx.assert_manifests_absent(&["huge", &digest], &what).await;
        fx.intact(&what).await;
    }
    fx.assert_only_original_tag("oversized manifests created no tag")
        .await;

    // Exactly at the limit is accepted and pulled back byte-exact.
    let body = padded_manifest(&fx.image, LIMIT);
    fx.reg.push_manifest("acme/app", "limit", &body).await;
    fx.reg
        .assert_manifest("acme/app", "limit", &body, "manifest at the size limit")
        .await;
    fx.intact("manifest at the limit").await;
    fx.finish();
}

/// A refused manifest: what is wrong, the Content-Type it is sent with, its body, the codes.
type Case = (&'static str, &'static str, Vec<u8>, &'static [&'static str]);

const INVALID: &[&str] = &["MANIFEST_INVALID"];
const UNSUPPORTED: &[&str] = &["MANIFEST_INVALID", "UNSUPPORTED"];

/// `value` serialised as a manifest body.
fn to_vec(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// `good` with `field` set to `value`, or removed when `value` is `None`, so that each case
/// differs from an accepted manifest by one field.
fn variant(good: &Value, field: &str, value: Option<Value>) -> Vec<u8> {
    let mut manifest = good.clone();
    let fields = manifest.as_object_mut().expect("a manifest is an object");
    match value {
        Some(value) => fields.insert(field.to_owned(), value),
        None => fields.remove(field),
    };
    to_vec(&manifest)
}

/// Bodies that are not well-formed JSON manifests at all.
fn not_manifests(good: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
    let deep_object = format!("{}1{}", "{\"a\":".repeat(50_000), "}".repeat(50_000)).into_bytes();
    vec![
        ("not JSON", b"not json".to_vec()),
        ("empty body", Vec::new()),
        ("JSON array", b"[]".to_vec()),
        ("JSON null", b"null".to_vec()),
        ("unterminated object", b"{".to_vec()),
        ("truncated manifest", good[..good.len() / 2].to_vec()),
        ("trailing garbage", [good, b"}}garbage"].concat()),
        ("invalid UTF-8", vec![0xff, 0xfe, 0x7b, 0x80, 0x7d]),
        ("deeply nested arrays", deep),
        ("deeply nested objects", deep_object),
    ]
}

/// OCI manifests with one field missing or wrong.
fn field_defects(good: &Value, first_layer: &str) -> Vec<(&'static str, Vec<u8>)> {
    let with = |field: &str, value: Value| variant(good, field, Some(value));
    let without = |field: &str| variant(good, field, None);
    let bad_config = json!({"mediaType": OCI_CONFIG, "digest": "sha256:abc", "size": 1});
    let negative = json!([{"mediaType": OCI_LAYER, "digest": first_layer, "size": -1}]);
    vec![
        ("no config", without("config")),
        ("no layers", without("layers")),
        ("layers not an array", with("layers", json!({}))),
        ("schemaVersion 3", with("schemaVersion", json!(3))),
        ("schemaVersion as string", with("schemaVersion", json!("2"))),
        ("no schemaVersion", without("schemaVersion")),
        ("config with a malformed digest", with("config", bad_config)),
        ("layer with a negative size", with("layers", negative)),
        (
            "layer without a digest",
            with("layers", json!([{"mediaType": OCI_LAYER, "size": 1}])),
        ),
    ]
}

/// Bodies sent under a Content-Type they do not match, and manifest kinds the registry does
/// not take.
fn wrong_kinds(good: &Value) -> Vec<Case> {
    let docker_v2 = "application/vnd.docker.distribution.manifest.v2+json";
    let schema1 = "application/vnd.docker.distribution.manifest.v1+json";
    let schema1_signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    let bad_child = json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": "sha256:zz", "size": 1}]});
    let schema1_body = json!({"schemaVersion": 1, "name": "acme/app", "tag": "bad",
        "architecture": "amd64", "fsLayers": [], "history": []});
    let mut signed = schema1_body.clone();
    signed["signatures"] = json!([]);
    let bare_schema1 =
        json!({"schemaVersion": 1, "name": "acme/app", "tag": "bad", "fsLayers": []});
    vec![
        (
            "body mediaType differs from Content-Type",
            OCI_INDEX,
            to_vec(good),
            INVALID,
        ),
        (
            "Docker Content-Type on an OCI manifest",
            docker_v2,
            to_vec(good),
            INVALID,
        ),
        (
            "unknown body mediaType",
            OCI_MANIFEST,
            variant(good, "mediaType", Some(json!("text/plain"))),
            UNSUPPORTED,
        ),
        (
            "index with a malformed child digest",
            OCI_INDEX,
            to_vec(&bad_child),
            INVALID,
        ),
        (
            "schema 1 manifest",
            schema1,
            to_vec(&schema1_body),
            UNSUPPORTED,
        ),
        (
            "signed schema 1 manifest",
            schema1_signed,
            to_vec(&signed),
            UNSUPPORTED,
        ),
        (
            "schema 1 body without Content-Type hint",
            OCI_MANIFEST,
            to_vec(&bare_schema1),
            UNSUPPORTED,
        ),
        (
            "schema 2 body under the schema 1 Content-Type",
            schema1,
            variant(good, "mediaType", None),
            UNSUPPORTED,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_and_unsupported_manifests_are_refused() {
    let fx = Fixture::start().await;
    let config = descriptor(OCI_CONFIG, &fx.image.config);
    let layers: Vec<_> = fx
        .image
        .layers
        .iter()
        .map(|l| descriptor(OCI_LAYER, l))
        .collect();
    let good_value =
        json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers});
    let good = to_vec(&good_value);
    let first_layer = digest_of(&fx.image.layers[0]);

    let malformed = not_manifests(&good)
        .into_iter()
        .chain(field_defects(&good_value, &first_layer))
        .map(|(what, body)| (what, OCI_MANIFEST, body, INVALID));
    for (what, content_type, body, codes) in malformed.chain(wrong_kinds(&good_value)) {
        let what = format!("manifest: {what}");
        let body = Bytes::from(body);
        fx.refuse_manifest(&what, "bad", content_type, &body, &[400], codes)
            .await;
    }
    fx.assert_only_original_tag("refused manifests created no tag")
        .await;
    // The well-formed variant is accepted, so the refusals were about the defects.
    let response = fx
        .reg
        .put_manifest("acme/app", "good", OCI_MANIFEST, Bytes::from(good))
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "the well-formed manifest"
    );
    fx.intact("malformed manifests").await;
    fx.finish();
}
