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
            "referrers": [
                {"digest": sbom.as_str(), "artifactType": SPDX, "depth": 1},
                {"digest": signature.as_str(), "artifactType": COSIGN_SIGNATURE, "depth": 2},
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
        json!({"digest": image.digest.as_str(), "tags": ["also"], "referrers": [], "policy": "delete-with-subject"})
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
