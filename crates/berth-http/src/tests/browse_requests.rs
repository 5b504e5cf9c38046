//! The browse API without access control: repository pages, deletion previews, the session,
//! and the 400s and 404s of every endpoint.

use super::browse::{push_referrer, repository_names, spdx_document, COSIGN_SIGNATURE, SPDX};
use super::*;

#[tokio::test]
async fn repositories_are_listed_filtered_and_paged() {
    let app = TestApp::new().await;
    let image = app.push_image("zeta/app", "v1", "z").await;
    for repo in ["alpha/one", "alpha/two", "beta/one"] {
        app.push_image(repo, "latest", repo).await;
    }
    // Blobs alone do not make a repository listed.
    app.push_blob("gamma/blobs", b"lonely").await;
    let reply = app.get("/berth/v1/repositories").await;
    reply.assert_status(StatusCode::OK);
    let page = reply.json();
    assert_eq!(
        repository_names(&reply),
        ["alpha/one", "alpha/two", "beta/one", "zeta/app"]
    );
    assert_eq!(page["next"], Value::Null);
    let zeta = &page["repositories"][3];
    assert_eq!(
        (zeta["tags"].as_u64(), zeta["manifests"].as_u64()),
        (Some(1), Some(1))
    );
    let blob_bytes = "config z".len() + "layer z".len();
    assert_eq!(zeta["sizeBytes"], blob_bytes + image.body.len());
    assert!(zeta["lastPush"].as_str().unwrap().ends_with('Z'));

    let filtered = app.get("/berth/v1/repositories?q=ONE").await;
    assert_eq!(
        repository_names(&filtered),
        ["alpha/one", "beta/one"],
        "case-insensitive substring"
    );
    let none = app.get("/berth/v1/repositories?q=%00%25").await.json();
    assert_eq!(none["repositories"], json!([]));

    let first = app.get("/berth/v1/repositories?q=a&n=2").await;
    let first_json = first.json();
    assert_eq!(first_json["next"], "alpha/two");
    let link = next_link(&first).unwrap();
    assert_eq!(link, "/berth/v1/repositories?q=a&n=2&last=alpha%2Ftwo");
    let second = app.get(&link).await;
    assert_eq!(repository_names(&second), ["beta/one", "zeta/app"]);
    assert_eq!(next_link(&second), None);
}

#[tokio::test]
async fn a_deletion_preview_names_tags_and_referrers_with_the_policy() {
    let app = TestApp::new().await;
    let image = app.push_image("doomed", "v1", "d").await;
    app.push_manifest("doomed", "also", OCI_MANIFEST, &image.body)
        .await;
    let (sbom, sbom_body) = push_referrer(
        &app,
        "doomed",
        SPDX,
        (SPDX, &spdx_document(1)),
        (&image.digest, &image.body, OCI_MANIFEST),
    )
    .await;
    let (signature, _) = push_referrer(
        &app,
        "doomed",
        COSIGN_SIGNATURE,
        ("application/vnd.dev.cosign.simplesigning.v1+json", b"{}"),
        (&sbom, &sbom_body, OCI_MANIFEST),
    )
    .await;
    let preview = app
        .get("/berth/v1/deletion-preview?repository=doomed&reference=v1")
        .await;
    preview.assert_status(StatusCode::OK);
    assert_eq!(
        preview.json(),
        json!({
            "digest": image.digest.as_str(),
            "tags": ["also", "v1"],
            "manifestGoes": true,
            "referrers": [
                {"digest": sbom.as_str(), "artifactType": SPDX, "depth": 1, "goes": true},
                {"digest": signature.as_str(), "artifactType": COSIGN_SIGNATURE, "depth": 2, "goes": true},
            ],
            "policy": "delete-with-subject",
        })
    );
    let by_digest = app
        .get(&format!(
            "/berth/v1/deletion-preview?repository=doomed&reference={}",
            image.digest
        ))
        .await;
    assert_eq!(by_digest.json(), preview.json());
    let tag_only = app
        .get("/berth/v1/deletion-preview?repository=doomed&reference=also&scope=tag")
        .await;
    assert_eq!(
        tag_only.json(),
        json!({
            "digest": image.digest.as_str(),
            "tags": ["also"],
            "manifestGoes": false,
            "referrers": [],
            "policy": "delete-with-subject",
        })
    );
    app.get(&format!(
        "/berth/v1/deletion-preview?repository=doomed&reference={}&scope=tag",
        image.digest
    ))
    .await
    .assert_error(StatusCode::BAD_REQUEST, "UNSUPPORTED");

    // A registry whose policy keeps orphaned referrers says so.
    let mut config = RegistryConfig::default();
    config.gc.orphaned_referrers = berth_registry::gc::OrphanedReferrers::Keep;
    let keeping = TestApp::configured(config, crate::RouterOptions::default()).await;
    keeping.push_image("kept", "v1", "k").await;
    let preview = keeping
        .get("/berth/v1/deletion-preview?repository=kept&reference=v1")
        .await;
    assert_eq!(preview.json()["policy"], "keep");
}

/// `image` tagged `img` with an SBOM tagged `sbom-tagged` and an untagged signature, both
/// referring to it; returns (image, sbom, signature).
async fn image_with_a_tagged_and_an_untagged_referrer(app: &TestApp) -> (Digest, Digest, Digest) {
    let image = app.push_image("app", "img", "i").await;
    let subject = (&image.digest, image.body.as_slice(), OCI_MANIFEST);
    let (sbom, sbom_body) =
        push_referrer(app, "app", SPDX, (SPDX, &spdx_document(1)), subject).await;
    app.push_manifest("app", "sbom-tagged", OCI_MANIFEST, &sbom_body)
        .await;
    let signature_layer = (
        "application/vnd.dev.cosign.simplesigning.v1+json",
        &b"{}"[..],
    );
    let (signature, _) =
        push_referrer(app, "app", COSIGN_SIGNATURE, signature_layer, subject).await;
    (image.digest, sbom, signature)
}

/// The digests a preview says go (`goes`), sorted.
fn going(preview: &Value) -> Vec<String> {
    let mut going: Vec<String> = preview["referrers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["goes"].as_bool().unwrap())
        .map(|r| r["digest"].as_str().unwrap().to_owned())
        .collect();
    going.sort();
    going
}

/// The digests a collection (grace 0, the configured policies) deletes, sorted.
async fn collected(app: &TestApp) -> Vec<String> {
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let report = app.post("/berth/v1/gc?grace=0s").await;
    report.assert_status(StatusCode::OK);
    let mut deleted: Vec<String> = report.json()["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_owned())
        .collect();
    deleted.sort();
    deleted
}

#[tokio::test]
async fn a_deletion_preview_keeps_tagged_referrers_as_a_collection_does() {
    let app = TestApp::new().await;
    let (image, sbom, signature) = image_with_a_tagged_and_an_untagged_referrer(&app).await;
    let preview = app
        .get("/berth/v1/deletion-preview?repository=app&reference=img")
        .await;
    preview.assert_status(StatusCode::OK);
    let preview = preview.json();
    assert_eq!(preview["manifestGoes"], true);
    assert_eq!(preview["policy"], "delete-with-subject");
    let goes = |digest: &Digest| {
        let referrers = preview["referrers"].as_array().unwrap();
        let referrer = referrers.iter().find(|r| r["digest"] == digest.as_str());
        referrer.expect("listed")["goes"].clone()
    };
    assert_eq!(goes(&sbom), false, "the SBOM has a tag of its own");
    assert_eq!(goes(&signature), true, "the signature is orphaned");
    assert_eq!(going(&preview), vec![signature.to_string()]);

    app.delete_manifest("app", image.as_str()).await;
    assert_eq!(
        collected(&app).await,
        going(&preview),
        "a collection deletes exactly what the preview said goes"
    );
    app.get(&format!("/v2/app/manifests/{sbom}"))
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn a_deletion_preview_under_a_policy_that_keeps_orphans_says_nothing_goes() {
    let mut config = RegistryConfig::default();
    config.gc.orphaned_referrers = berth_registry::gc::OrphanedReferrers::Keep;
    let app = TestApp::configured(config, crate::RouterOptions::default()).await;
    let (image, _, _) = image_with_a_tagged_and_an_untagged_referrer(&app).await;
    let preview = app
        .get("/berth/v1/deletion-preview?repository=app&reference=img")
        .await
        .json();
    assert_eq!(preview["policy"], "keep");
    assert_eq!(preview["referrers"].as_array().unwrap().len(), 2);
    assert!(going(&preview).is_empty(), "{preview}");
    app.delete_manifest("app", image.as_str()).await;
    assert!(collected(&app).await.is_empty());
}

/// The preview of deleting only `tag` in `app`.
async fn tag_preview(app: &TestApp, tag: &str) -> Value {
    let uri = format!("/berth/v1/deletion-preview?repository=app&reference={tag}&scope=tag");
    let reply = app.get(&uri).await;
    reply.assert_status(StatusCode::OK);
    reply.json()
}

#[tokio::test]
async fn a_tag_preview_says_when_the_manifest_goes_with_its_last_tag() {
    let mut config = RegistryConfig::default();
    config.gc.untagged = berth_registry::gc::Untagged::Delete;
    let app = TestApp::configured(config, crate::RouterOptions::default()).await;
    let (image, sbom, signature) = image_with_a_tagged_and_an_untagged_referrer(&app).await;
    app.push_manifest(
        "app",
        "also",
        OCI_MANIFEST,
        &app.get("/v2/app/manifests/img").await.body,
    )
    .await;
    let preview = tag_preview(&app, "also").await;
    assert_eq!(
        (&preview["manifestGoes"], &preview["referrers"]),
        (&json!(false), &json!([])),
        "the tag img keeps the manifest"
    );
    app.delete_manifest("app", "also").await;
    let preview = tag_preview(&app, "img").await;
    assert_eq!(preview["manifestGoes"], true, "{preview}");
    assert_eq!(preview["referrers"].as_array().unwrap().len(), 2);
    assert_eq!(going(&preview), vec![signature.to_string()]);

    app.delete_manifest("app", "img").await;
    let mut expected = vec![image.to_string(), signature.to_string()];
    expected.sort();
    assert_eq!(collected(&app).await, expected);
    app.get(&format!("/v2/app/manifests/{sbom}"))
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn a_preview_keeps_what_a_tagged_index_lists_as_a_collection_does() {
    let mut config = RegistryConfig::default();
    config.gc.untagged = berth_registry::gc::Untagged::Delete;
    let app = TestApp::configured(config, crate::RouterOptions::default()).await;
    let (image, sbom, signature) = image_with_a_tagged_and_an_untagged_referrer(&app).await;
    let multi = index_manifest(OCI_INDEX, OCI_MANIFEST, &[&image]);
    app.push_manifest("app", "multi", OCI_INDEX, &multi).await;
    let preview = tag_preview(&app, "img").await;
    assert_eq!(
        (&preview["manifestGoes"], &preview["referrers"]),
        (&json!(false), &json!([])),
        "the index tagged multi keeps the manifest: {preview}"
    );

    // The index listing the image does not hold the image's referrers once it is deleted.
    let uri = format!("/berth/v1/deletion-preview?repository=app&reference={image}");
    let preview = app.get(&uri).await.json();
    assert_eq!(going(&preview), vec![signature.to_string()], "{preview}");

    // An index that lists the signature keeps it when its subject goes.
    let bundle = index_manifest(OCI_INDEX, OCI_MANIFEST, &[&signature]);
    app.push_manifest("app", "bundle", OCI_INDEX, &bundle).await;
    let preview = app.get(&uri).await.json();
    assert_eq!(
        preview["referrers"].as_array().unwrap().len(),
        2,
        "{preview}"
    );
    assert!(going(&preview).is_empty(), "{preview}");
    app.delete_manifest("app", image.as_str()).await;
    assert!(collected(&app).await.is_empty());

    // Untagged, the index goes, and so does the signature it held.
    app.delete_manifest("app", "bundle").await;
    let collected = collected(&app).await;
    assert_eq!(collected.len(), 2, "{collected:?} sig {signature}");
    assert!(collected.contains(&signature.to_string()));
    app.get(&format!("/v2/app/manifests/{sbom}"))
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn unknown_repositories_and_manifests_are_404() {
    let app = TestApp::new().await;
    app.push_image("known", "v1", "k").await;
    let absent = Digest::sha256_of(b"absent");
    for uri in [
        "/berth/v1/tags?repository=unknown".to_owned(),
        "/berth/v1/manifest?repository=unknown&reference=v1".to_owned(),
        "/berth/v1/deletion-preview?repository=unknown&reference=v1".to_owned(),
    ] {
        app.get(&uri)
            .await
            .assert_error(StatusCode::NOT_FOUND, "NAME_UNKNOWN");
    }
    for uri in [
        "/berth/v1/manifest?repository=known&reference=v2".to_owned(),
        format!("/berth/v1/manifest?repository=known&reference={absent}"),
        "/berth/v1/deletion-preview?repository=known&reference=v2".to_owned(),
        "/berth/v1/deletion-preview?repository=known&reference=v2&scope=tag".to_owned(),
    ] {
        app.get(&uri)
            .await
            .assert_error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
    }
}

#[tokio::test]
async fn bad_parameters_are_400_with_the_registry_error_body() {
    let app = TestApp::new().await;
    app.push_image("known", "v1", "k").await;
    let cases = [
        ("/berth/v1/tags", "UNSUPPORTED"),
        (
            "/berth/v1/tags?repository=known&repository=other",
            "UNSUPPORTED",
        ),
        ("/berth/v1/tags?repository=Known", "NAME_INVALID"),
        ("/berth/v1/tags?repository=known&n=0", "UNSUPPORTED"),
        ("/berth/v1/tags?repository=known&n=1001", "UNSUPPORTED"),
        ("/berth/v1/tags?repository=known&n=many", "UNSUPPORTED"),
        ("/berth/v1/tags?repository=known&sort=size", "UNSUPPORTED"),
        ("/berth/v1/tags?repository=known&last=v1", "UNSUPPORTED"),
        ("/berth/v1/tags?repository=known&last=x~v1", "UNSUPPORTED"),
        ("/berth/v1/tags?repository=known&color=blue", "UNSUPPORTED"),
        ("/berth/v1/repositories?n=0", "UNSUPPORTED"),
        ("/berth/v1/repositories?last=NOT%20A%20NAME", "UNSUPPORTED"),
        ("/berth/v1/manifest?repository=known", "UNSUPPORTED"),
        (
            "/berth/v1/manifest?repository=known&reference=-bad",
            "MANIFEST_INVALID",
        ),
        (
            "/berth/v1/manifest?repository=known&reference=sha256:xyz",
            "DIGEST_INVALID",
        ),
        (
            "/berth/v1/deletion-preview?repository=known&reference=v1&scope=all",
            "UNSUPPORTED",
        ),
    ];
    for (uri, code) in cases {
        let reply = app.get(uri).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}: {reply:?}");
        assert_eq!(reply.json()["errors"][0]["code"], code, "{uri}");
    }
    let reply = app.post("/berth/v1/tags?repository=known").await;
    reply.assert_error(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED");
    assert_eq!(reply.header("allow"), "GET, HEAD");
}

#[tokio::test]
async fn the_session_without_access_control_is_an_anonymous_admin() {
    let app = TestApp::new().await;
    let reply = app.get("/berth/v1/session").await;
    reply.assert_status(StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"user": null, "admin": true, "authEnabled": false, "tokenUrl": null})
    );
}
