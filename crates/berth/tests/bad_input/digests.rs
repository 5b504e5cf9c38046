//! Blob digests: malformed ones in every place a digest goes, and bytes that do not match the
//! digest they claim.

use bytes::Bytes;
use reqwest::StatusCode;

use crate::fixture::*;
use crate::support::http::*;

/// Codes for a digest that does not parse or is not supported.
const DIGEST_CODES: &[&str] = &["DIGEST_INVALID", "UNSUPPORTED"];

/// Digests that do not parse, in every place a digest goes.
fn malformed_digests() -> Vec<String> {
    let hex64 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    vec![
        "sha256:xyz".into(),
        format!("sha256:{}", &hex64[..63]),
        format!("sha256:{hex64}0"),
        format!("sha256:{}", hex64.to_uppercase()),
        format!("sha256:{}", "g".repeat(64)),
        format!("SHA256:{hex64}"),
        format!("sha512:{hex64}"),
        "md5:d41d8cd98f00b204e9800998ecf8427e".into(),
        format!("foo:{hex64}"),
        "sha256".into(),
        "sha256:".into(),
        format!(":{hex64}"),
        "sha256:..%2F..%2F..%2Fetc%2Fpasswd".into(),
        format!("sha256%3A{}", &hex64[..10]),
    ]
}

/// `bad` as a read, a monolithic push, the end of a chunked push and a mount source; `data`
/// is what the pushes send, and must be stored under no digest.
async fn refuse_malformed_digest(fx: &Fixture, bad: &str, data: &Bytes) {
    let actual = digest_of(data);
    // Reads: 400 DIGEST_INVALID, or a plain 404.
    for (method, target) in [
        ("GET", format!("/v2/acme/app/blobs/{bad}")),
        ("DELETE", format!("/v2/acme/app/blobs/{bad}")),
        ("GET", format!("/v2/acme/app/manifests/{bad}")),
    ] {
        let what = format!("{method} {target}");
        let reply = fx.raw(method, &target, &[], &[]).await;
        let invalid = &[
            "DIGEST_INVALID",
            "UNSUPPORTED",
            "MANIFEST_INVALID",
            "TAG_INVALID",
        ];
        expect_invalid_or_missing(&reply, &what, invalid, NOT_FOUND_CODES);
        fx.intact(&what).await;
    }
    let what = format!("HEAD blob {bad}");
    let reply = fx
        .raw("HEAD", &format!("/v2/acme/app/blobs/{bad}"), &[], &[])
        .await;
    assert_head_refused(&what, &reply);
    fx.intact(&what).await;

    // Monolithic upload with the bad digest.
    let what = format!("POST ?digest={bad}");
    let target = format!("/v2/acme/app/blobs/uploads/?digest={bad}");
    let reply = fx.raw("POST", &target, &[octet()], data).await;
    reply.expect_error(&what, &[400], DIGEST_CODES);
    fx.reg.assert_blob_absent("acme/app", &actual, &what).await;
    fx.intact(&what).await;

    // Chunked upload finished with the bad digest; then without any digest.
    let location = fx
        .start_with_chunk("acme/app", data.clone(), &format!("chunk for {bad}"))
        .await;
    let path = fx.path_of(&location);
    for (what, target, statuses, codes) in [
        (
            format!("PUT upload ?digest={bad}"),
            format!("{path}?digest={bad}"),
            &[400][..],
            DIGEST_CODES,
        ),
        (
            "PUT upload without ?digest=".to_owned(),
            path.clone(),
            &[400, 404][..],
            &["DIGEST_INVALID", "BLOB_UPLOAD_UNKNOWN"][..],
        ),
    ] {
        let reply = fx.raw("PUT", &target, &[], &[]).await;
        reply.expect_error(&what, statuses, codes);
        fx.reg.assert_blob_absent("acme/app", &actual, &what).await;
        fx.intact(&what).await;
    }
    let cancelled = fx.reg.http.delete(&location).send().await.unwrap();
    assert!(
        matches!(cancelled.status().as_u16(), 204 | 404),
        "cancel after bad digests: {}",
        cancelled.status()
    );

    // Mount of a bad digest.
    let what = format!("POST ?mount={bad}&from=acme/app");
    let target = format!("/v2/other/repo/blobs/uploads/?mount={bad}&from=acme/app");
    let reply = fx.raw("POST", &target, &[], &[]).await;
    reply.expect_error(&what, &[400], DIGEST_CODES);
    fx.intact(&what).await;
}

/// `data` pushed to `repo` claiming `claim`, monolithically and in chunks (the last chunk in
/// the PATCH or in the PUT): refused, and readable under neither digest.
async fn refuse_wrong_claim(fx: &Fixture, repo: &str, claim: &str, data: &Bytes) {
    let actual = digest_of(data);
    // The fixture's own layer stays readable in its repository; anywhere else it must not be.
    let own_layer = repo == "acme/app" && claim == digest_of(&fx.image.layers[0]);
    let absent = if own_layer {
        vec![actual.as_str()]
    } else {
        vec![actual.as_str(), claim]
    };

    let what = format!("monolithic push to {repo} claiming {claim}");
    let response = fx
        .reg
        .http
        .post(
            fx.reg
                .url(&format!("/v2/{repo}/blobs/uploads/?digest={claim}")),
        )
        .header("content-type", "application/octet-stream")
        .body(data.clone())
        .send()
        .await
        .unwrap();
    expect_error(&what, response, &[400], &["DIGEST_INVALID"]).await;
    fx.assert_blobs_absent(repo, &absent, &what).await;
    fx.intact(&what).await;

    for final_chunk in [false, true] {
        let what =
            format!("chunked push to {repo} claiming {claim} (final chunk in PUT: {final_chunk})");
        let split = if final_chunk { 1000 } else { data.len() };
        let location = fx.start_with_chunk(repo, data.slice(..split), &what).await;
        let mut put = fx.reg.http.put(Registry::with_digest(&location, claim));
        put = if final_chunk {
            put.header("content-range", format!("{split}-{}", data.len() - 1))
                .header("content-type", "application/octet-stream")
                .body(data.slice(split..))
        } else {
            put.header("content-length", "0")
        };
        let response = put.send().await.unwrap();
        expect_error(&what, response, &[400], &["DIGEST_INVALID"]).await;
        fx.assert_blobs_absent(repo, &absent, &what).await;
        // The session may be kept for a retry or discarded, but never commits anything.
        let status = fx.reg.upload_status(&location).await.unwrap();
        if status.status() == StatusCode::NO_CONTENT {
            fx.cancel(&location, &what).await;
        } else {
            let what = format!("{what}: session status");
            expect_error(&what, status, &[404], &["BLOB_UPLOAD_UNKNOWN"]).await;
        }
        fx.intact(&what).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_and_wrong_digests_are_refused_and_store_nothing() {
    let fx = Fixture::start().await;
    let data = pseudo_random(5, 4096);
    let actual = digest_of(&data);
    for bad in malformed_digests() {
        refuse_malformed_digest(&fx, &bad, &data).await;
    }

    // Content that does not match the claimed digest: DIGEST_INVALID, and the bytes are
    // readable under neither the claimed nor the actual digest.
    let claimed = digest_of(&pseudo_random(6, 4096));
    let layer_digest = digest_of(&fx.image.layers[0]);
    for (repo, claim) in [
        ("acme/app", claimed.clone()),
        ("acme/app", format!("sha512:{}", "ab".repeat(64))),
        // Claiming a digest that exists in this repository must not overwrite its bytes ...
        ("acme/app", layer_digest.clone()),
        // ... nor make it readable in another repository.
        ("evil/repo", layer_digest),
    ] {
        refuse_wrong_claim(&fx, repo, &claim, &data).await;
    }
    // A manifest cannot reference the bytes that failed verification.
    let what = "manifest referencing an unverified blob";
    let manifest = image_manifest(&fx.image.config, std::slice::from_ref(&data), &[]);
    let codes = &["MANIFEST_BLOB_UNKNOWN"];
    fx.refuse_put_manifest(what, "unverified", OCI_MANIFEST, &manifest, &[400], codes)
        .await;
    fx.assert_manifests_absent(&["unverified"], what).await;

    assert_eq!(
        staged_uploads(&fx.data_dir()),
        Vec::<String>::new(),
        "refused uploads left staged files"
    );
    let on_disk = assert_committed_blobs_valid(&fx.data_dir());
    assert!(
        !on_disk.contains(&actual) && !on_disk.contains(&claimed),
        "unverified bytes were committed: {on_disk:?}"
    );
    fx.intact("all digest cases").await;
    fx.finish();
}
