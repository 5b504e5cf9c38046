//! What a manifest is pushed under or points at: invalid tags, a digest the body does not
//! have, and blobs that belong to another repository.

use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::json;

use crate::fixture::*;
use crate::support::http::*;

/// Codes for a reference that is not a valid tag.
const TAG_CODES: &[&str] = &["TAG_INVALID", "MANIFEST_INVALID"];

/// Codes for a manifest pushed under a digest that is not its own.
const MISMATCH_CODES: &[&str] = &["DIGEST_INVALID", "MANIFEST_INVALID"];

/// PUT, GET and DELETE by an invalid tag: the PUT must be refused as invalid, the others may
/// also find nothing.
async fn refuse_tag(fx: &Fixture, tag: &str, manifest: &Bytes) {
    let target = format!("/v2/acme/app/manifests/{tag}");
    let ct = [("Content-Type", OCI_MANIFEST.to_owned())];
    let what = format!("PUT manifest to tag {tag:?}");
    let reply = fx.raw("PUT", &target, &ct, manifest).await;
    reply.expect_error(&what, &[400], TAG_CODES);
    fx.intact(&what).await;
    let what = format!("GET manifest by tag {tag:?}");
    let reply = fx.raw("GET", &target, &[], &[]).await;
    expect_invalid_or_missing(&reply, &what, TAG_CODES, &["MANIFEST_UNKNOWN"]);
    let what = format!("DELETE manifest by tag {tag:?}");
    let reply = fx.raw("DELETE", &target, &[], &[]).await;
    expect_invalid_or_missing(
        &reply,
        &what,
        TAG_CODES,
        &["MANIFEST_UNKNOWN", "UNSUPPORTED"],
    );
    fx.intact(&what).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_tags_are_refused() {
    let fx = Fixture::start().await;
    let other = image_manifest(&fx.image.config, &fx.image.layers, &[("variant", "other")]);
    let other_digest = digest_of(&other);
    let ct = [("Content-Type", OCI_MANIFEST.to_owned())];
    let long_tag = "t".repeat(129);
    for tag in [
        "-bad",
        ".hidden",
        &long_tag,
        "bad%20tag",
        "a%2Fb",
        "t%C3%A4g",
        "tag%00",
        "%2e%2e",
    ] {
        refuse_tag(&fx, tag, &other).await;
    }
    // A colon makes the reference a digest, which this is not.
    let reply = fx
        .raw("PUT", "/v2/acme/app/manifests/a:b", &ct, &other)
        .await;
    reply.expect_error(
        "PUT manifest to reference a:b",
        &[400],
        &["TAG_INVALID", "MANIFEST_INVALID", "DIGEST_INVALID"],
    );
    fx.intact("PUT to a:b").await;

    // Invalid `?tag=` values refuse the whole push: no manifest, no tag, not even the valid ones.
    for query in [
        "tag=-bad",
        "tag=good&tag=.bad",
        "tag=good&tag=a%2Fb",
        &format!("tag={}", "q".repeat(129)),
    ] {
        let what = format!("PUT manifest by digest with ?{query}");
        let target = format!("/v2/acme/app/manifests/{other_digest}?{query}");
        let reply = fx.raw("PUT", &target, &ct, &other).await;
        reply.expect_error(&what, &[400], TAG_CODES);
        fx.assert_manifests_absent(&[&other_digest, "good"], &what)
            .await;
        fx.intact(&what).await;
    }
    fx.assert_only_original_tag("invalid tags left the tag list unchanged")
        .await;

    // The longest valid tag (128 characters) is accepted.
    let longest = "L".repeat(128);
    fx.reg.push_manifest("acme/app", &longest, &other).await;
    fx.reg
        .assert_manifest("acme/app", &longest, &other, "longest tag")
        .await;
    let mut tags = fx.reg.tags("acme/app").await;
    tags.sort();
    assert_eq!(tags, vec![longest, "v1".to_owned()]);
    fx.intact("pushing the longest tag").await;
    fx.finish();
}

#[tokio::test(flavor = "multi_thread")]
async fn manifest_pushed_by_a_digest_it_does_not_have_is_refused() {
    let fx = Fixture::start().await;
    let second = image_manifest(&fx.image.config, &fx.image.layers, &[("variant", "second")]);
    let third = image_manifest(&fx.image.config, &fx.image.layers, &[("variant", "third")]);
    let second_digest = digest_of(&second);
    for (claim, label) in [
        (digest_of(&third), "another manifest's digest"),
        (
            fx.image.digest.clone(),
            "the digest of the manifest already stored",
        ),
        (format!("sha512:{}", "cd".repeat(64)), "a sha512 digest"),
        (digest_of(b"unrelated"), "an unrelated digest"),
    ] {
        let what = format!("PUT manifest by {label}");
        fx.refuse_put_manifest(&what, &claim, OCI_MANIFEST, &second, &[400], MISMATCH_CODES)
            .await;
        // The stored manifest stays readable under its own digest; no other claim may become one.
        let mut absent = vec![second_digest.as_str()];
        if claim != fx.image.digest {
            absent.push(&claim);
        }
        fx.assert_manifests_absent(&absent, &what).await;
        // With `?tag=` neither the tag is created.
        let tagged = format!("{claim}?tag=sneaky");
        let tagged_what = format!("{what} with ?tag=");
        fx.refuse_put_manifest(
            &tagged_what,
            &tagged,
            OCI_MANIFEST,
            &second,
            &[400],
            MISMATCH_CODES,
        )
        .await;
        fx.assert_manifests_absent(&["sneaky"], &what).await;
        fx.intact(&what).await;
    }
    fx.assert_only_original_tag("digest mismatches created no tag")
        .await;
    // The right digest is accepted.
    fx.reg
        .push_manifest("acme/app", &second_digest, &second)
        .await;
    fx.reg
        .assert_manifest(
            "acme/app",
            &second_digest,
            &second,
            "pushed by its own digest",
        )
        .await;
    fx.intact("digest mismatches").await;
    fx.finish();
}

#[tokio::test(flavor = "multi_thread")]
async fn manifest_referencing_a_blob_of_another_repository_is_refused() {
    let fx = Fixture::start().await;
    // Another repository holds its own image and a blob acme/app does not have.
    let foreign = Image::new("other/repo", "v1", 2, &[40_000]);
    fx.reg.push_image(&foreign).await;
    let foreign_layer = foreign.layers[0].clone();
    let foreign_digest = digest_of(&foreign_layer);
    fx.reg
        .assert_blob_absent("acme/app", &foreign_digest, "a blob of another repository")
        .await;

    let blob_codes: &[&str] = &["MANIFEST_BLOB_UNKNOWN"];
    let with_foreign_layer = image_manifest(
        &fx.image.config,
        &[fx.image.layers[0].clone(), foreign_layer],
        &[],
    );
    let index = Bytes::from(
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {"mediaType": OCI_MANIFEST, "digest": fx.image.digest, "size": fx.image.manifest.len()},
                {"mediaType": OCI_MANIFEST, "digest": foreign.digest, "size": foreign.manifest.len()},
            ],
        }))
        .unwrap(),
    );
    for (label, content_type, body, codes) in [
        (
            "a layer of another repository",
            OCI_MANIFEST,
            with_foreign_layer.clone(),
            blob_codes,
        ),
        (
            "a config of another repository",
            OCI_MANIFEST,
            image_manifest(&foreign.config, &fx.image.layers, &[]),
            blob_codes,
        ),
        (
            "a layer never pushed",
            OCI_MANIFEST,
            image_manifest(&fx.image.config, &[pseudo_random(99, 10)], &[]),
            blob_codes,
        ),
        (
            "an index naming a manifest of another repository",
            OCI_INDEX,
            index,
            &["MANIFEST_BLOB_UNKNOWN", "MANIFEST_UNKNOWN"][..],
        ),
    ] {
        let what = format!("manifest referencing {label}");
        fx.refuse_manifest(&what, "foreign", content_type, &body, &[400, 404], codes)
            .await;
    }
    fx.assert_only_original_tag("refused foreign references created no tag")
        .await;
    fx.reg
        .assert_blob_absent("acme/app", &foreign_digest, "after the refused manifests")
        .await;

    // Once mounted, the same manifest is accepted.
    let mount = fx
        .reg
        .http
        .post(fx.reg.url(&format!(
            "/v2/acme/app/blobs/uploads/?mount={foreign_digest}&from=other/repo"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(
        mount.status(),
        StatusCode::CREATED,
        "mounting the foreign layer"
    );
    fx.reg
        .push_manifest("acme/app", "foreign", &with_foreign_layer)
        .await;
    fx.reg
        .assert_manifest("acme/app", "foreign", &with_foreign_layer, "after mounting")
        .await;
    fx.reg.assert_image(&foreign, "the other repository").await;
    fx.intact("foreign references").await;
    fx.finish();
}
