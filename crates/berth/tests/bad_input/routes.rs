//! Requests the routes do not serve: methods an endpoint lacks, bad query values, paths that
//! name nothing, and a read range outside the blob.

use crate::fixture::*;
use crate::support::http::*;

/// The statuses and codes a refusal may come with.
type Refusal = (&'static [u16], &'static [&'static str]);

const NOT_ALLOWED: Refusal = (&[404, 405], &["UNSUPPORTED"]);
const BAD_NUMBER: Refusal = (&[400], &["UNSUPPORTED", "PAGINATION_NUMBER_INVALID"]);
const NOTHING_THERE: Refusal = (&[404], NOT_FOUND_CODES);

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_methods_and_bad_queries_get_error_bodies() {
    let fx = Fixture::start().await;
    let config_digest = digest_of(&fx.image.config);
    let nope = digest_of(b"nope");
    let cases: Vec<(&str, String, Refusal)> = vec![
        ("POST", "/v2/acme/app/manifests/v1".into(), NOT_ALLOWED),
        ("PATCH", "/v2/acme/app/manifests/v1".into(), NOT_ALLOWED),
        (
            "PUT",
            format!("/v2/acme/app/blobs/{config_digest}"),
            NOT_ALLOWED,
        ),
        ("POST", "/v2/acme/app/tags/list".into(), NOT_ALLOWED),
        ("DELETE", "/v2/_catalog".into(), NOT_ALLOWED),
        ("GET", "/v2/acme/app/tags/list?n=abc".into(), BAD_NUMBER),
        ("GET", "/v2/acme/app/tags/list?n=-1".into(), BAD_NUMBER),
        (
            "GET",
            "/v2/_catalog?n=99999999999999999999".into(),
            BAD_NUMBER,
        ),
        ("GET", "/v3/".into(), NOTHING_THERE),
        // `/` redirects to the web UI; a path nothing serves is 404.
        ("GET", "/nothing".into(), NOTHING_THERE),
        (
            "GET",
            "/v2/nothing/here/tags/list".into(),
            (&[404], &["NAME_UNKNOWN"]),
        ),
        (
            "GET",
            "/v2/acme/app/manifests/nope".into(),
            (&[404], &["MANIFEST_UNKNOWN"]),
        ),
        (
            "GET",
            format!("/v2/acme/app/blobs/{nope}"),
            (&[404], &["BLOB_UNKNOWN"]),
        ),
        (
            "DELETE",
            format!("/v2/acme/app/blobs/{nope}"),
            (&[404, 405], &["BLOB_UNKNOWN", "UNSUPPORTED"]),
        ),
        (
            "DELETE",
            "/v2/acme/app/manifests/nope".into(),
            (&[404, 405], &["MANIFEST_UNKNOWN", "UNSUPPORTED"]),
        ),
    ];
    for (method, target, (statuses, codes)) in cases {
        let what = format!("{method} {target}");
        let reply = fx.raw(method, &target, &[], &[]).await;
        reply.expect_error(&what, statuses, codes);
        fx.intact(&what).await;
    }
    // A range outside the blob: 416, never a 5xx, and the blob stays readable.
    let response = fx
        .reg
        .http
        .get(fx.reg.url(&format!("/v2/acme/app/blobs/{config_digest}")))
        .header("range", "bytes=100000000-")
        .send()
        .await
        .unwrap();
    let codes = [
        "BLOB_UNKNOWN",
        "RANGE_INVALID",
        "BLOB_UPLOAD_INVALID",
        "SIZE_INVALID",
    ];
    expect_error("range beyond the blob", response, &[416], &codes).await;
    fx.intact("bad ranges").await;
    fx.finish();
}
