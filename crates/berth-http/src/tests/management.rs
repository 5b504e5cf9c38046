//! Content management: deleting tags, manifests and blobs.

use super::*;

/// An image under `v1` and `v2` in `app`.
async fn image_with_two_tags(app: &TestApp) -> Image {
    let image = app.push_image("app", "v1", "deletable").await;
    app.push_manifest("app", "v2", OCI_MANIFEST, &image.body)
        .await;
    image
}

async fn tags(app: &TestApp, repo: &str) -> Value {
    let reply = app.get(&format!("/v2/{repo}/tags/list")).await;
    reply.assert_status(StatusCode::OK);
    reply.json()["tags"].clone()
}

#[tokio::test]
async fn deleting_a_tag_is_202_and_keeps_the_manifest_and_other_tags() {
    let app = TestApp::new().await;
    let image = image_with_two_tags(&app).await;
    app.delete_manifest("app", "v1").await;
    let gone = app.get("/v2/app/manifests/v1").await;
    gone.assert_error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
    app.assert_manifest("app", image.digest.as_str(), &image.body, OCI_MANIFEST)
        .await;
    app.assert_manifest("app", "v2", &image.body, OCI_MANIFEST)
        .await;
    assert_eq!(tags(&app, "app").await, json!(["v2"]));
}

#[tokio::test]
async fn deleting_a_manifest_by_digest_is_202_and_removes_it_with_its_tags() {
    let app = TestApp::new().await;
    let image = image_with_two_tags(&app).await;
    app.delete_manifest("app", image.digest.as_str()).await;
    for reference in [image.digest.as_str(), "v1", "v2"] {
        app.assert_manifest_unknown("app", reference).await;
    }
    assert_eq!(tags(&app, "app").await, json!([]));
    // Blobs are removed separately (or by the garbage collector).
    app.blob_bytes("app", &image.layer).await;
}

#[tokio::test]
async fn deleted_manifest_can_be_pushed_again() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "again").await;
    app.delete_manifest("app", image.digest.as_str()).await;
    app.push_manifest("app", "v1", OCI_MANIFEST, &image.body)
        .await;
    app.assert_image_intact("app", "v1", &image).await;
}

#[tokio::test]
async fn deleting_in_one_repository_leaves_another_untouched() {
    let app = TestApp::new().await;
    let a = app.push_image("a", "v1", "same").await;
    let b = app.push_image("b", "v1", "same").await;
    assert_eq!(a.digest, b.digest);
    app.delete_manifest("a", a.digest.as_str()).await;
    app.delete_blob("a", &a.layer).await;
    app.assert_image_intact("b", "v1", &b).await;
}

#[tokio::test]
async fn deleting_an_unknown_manifest_or_tag_is_manifest_unknown() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "kept").await;
    let missing = Digest::sha256_of(b"never pushed");
    for reference in ["nope", missing.as_str()] {
        let reply = app.delete(&format!("/v2/app/manifests/{reference}")).await;
        reply.assert_error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
    }
    app.delete_manifest("app", "v1").await;
    let again = app.delete("/v2/app/manifests/v1").await;
    again.assert_error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
    app.assert_manifest("app", image.digest.as_str(), &image.body, OCI_MANIFEST)
        .await;
}

#[tokio::test]
async fn deleting_a_manifest_in_an_unknown_repository_is_name_unknown() {
    let app = TestApp::new().await;
    app.push_image("app", "v1", "kept").await;
    let digest = Digest::sha256_of(b"anything");
    for reference in ["v1", digest.as_str()] {
        let reply = app
            .delete(&format!("/v2/ghost/manifests/{reference}"))
            .await;
        reply.assert_error(StatusCode::NOT_FOUND, "NAME_UNKNOWN");
    }
}

#[tokio::test]
async fn deleting_a_blob_is_202_and_then_it_is_unknown() {
    let app = TestApp::new().await;
    let digest = app.push_blob("app", b"to delete").await;
    let kept = app.push_blob("app", b"to keep").await;
    app.delete_blob("app", &digest).await;
    app.assert_blob_unknown("app", &digest).await;
    let again = app.delete(&format!("/v2/app/blobs/{digest}")).await;
    again.assert_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN");
    app.assert_blob("app", &kept, b"to keep").await;
}

#[tokio::test]
async fn deleting_an_unknown_blob_is_blob_unknown() {
    let app = TestApp::new().await;
    let digest = app.push_blob("app", b"present").await;
    let missing = Digest::sha256_of(b"absent");
    for uri in [
        format!("/v2/app/blobs/{missing}"),
        format!("/v2/ghost/blobs/{digest}"),
    ] {
        app.delete(&uri)
            .await
            .assert_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN");
    }
    app.blob_bytes("app", &digest).await;
}

#[tokio::test]
async fn deleted_blob_can_be_pushed_again() {
    let app = TestApp::new().await;
    let digest = app.push_blob("app", b"comes back").await;
    app.delete_blob("app", &digest).await;
    app.push_blob("app", b"comes back").await;
    app.assert_blob("app", &digest, b"comes back").await;
}

#[tokio::test]
async fn the_admin_endpoint_collects_and_reports_the_last_collection() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "kept").await;
    app.get("/berth/v1/gc")
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let dry = app.post("/berth/v1/gc?dry_run=true").await;
    dry.assert_status(StatusCode::OK);
    let report = dry.json();
    assert_eq!(report["dry_run"], true);
    for field in ["manifests_deleted", "blobs_deleted", "bytes_freed"] {
        assert!(report[field].is_u64(), "{field} in {report}");
    }
    app.get("/berth/v1/gc")
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let real = app.post("/berth/v1/gc").await;
    real.assert_status(StatusCode::OK);
    assert_eq!(real.json()["dry_run"], false);
    let last = app.get("/berth/v1/gc").await;
    last.assert_status(StatusCode::OK);
    assert_eq!(
        last.json(),
        real.json(),
        "the last real collection's report, not the dry run's"
    );
    assert!(real.json()["finished_at"].as_str().unwrap().ends_with('Z'));
    app.send_empty(Method::DELETE, "/berth/v1/gc")
        .await
        .assert_error(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED");
    app.post("/berth/v1/gc?dry_run=maybe")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "UNSUPPORTED");
    app.assert_image_intact("app", "v1", &image).await;
}

/// A signature-like manifest about `subject`, sharing the subject's config.
fn signature_of(subject: &Image) -> Vec<u8> {
    let mut body: Value = serde_json::from_slice(&image_manifest(&subject.config, &[])).unwrap();
    body["subject"] = json!({"mediaType": OCI_MANIFEST, "digest": subject.digest.as_str(), "size": subject.body.len()});
    serde_json::to_vec(&body).unwrap()
}

/// The `(repository, digest)` pairs a report lists as deleted.
fn deleted(report: &Value) -> Vec<(String, String)> {
    report["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let field = |name: &str| m[name].as_str().unwrap().to_owned();
            (field("repository"), field("digest"))
        })
        .collect()
}

#[tokio::test]
async fn policy_overrides_in_the_query_apply_to_that_collection_only() {
    let app = TestApp::new().await;
    let kept = app.push_image("app", "v1", "kept").await;
    let loose = app.push_image("app", "loose", "untagged").await;
    app.delete_manifest("app", "loose").await;
    let subject = app.push_image("app", "v2", "subject").await;
    let body = signature_of(&subject);
    let signature = Digest::sha256_of(&body);
    app.push_manifest("app", signature.as_str(), OCI_MANIFEST, &body)
        .await;
    app.delete_manifest("app", subject.digest.as_str()).await;
    let entry = |d: &Digest| ("app".to_owned(), d.to_string());
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let configured = app.post("/berth/v1/gc?dry_run=true").await;
    configured.assert_status(StatusCode::OK);
    assert!(
        deleted(&configured.json()).is_empty(),
        "the configured hour of grace keeps everything"
    );
    let no_grace = app.post("/berth/v1/gc?dry_run=true&grace=0s").await;
    no_grace.assert_status(StatusCode::OK);
    assert_eq!(
        deleted(&no_grace.json()),
        vec![entry(&signature)],
        "untagged manifests are kept by default; orphans go"
    );
    let all = app
        .post("/berth/v1/gc?dry_run=true&grace=0s&untagged=delete&orphaned_referrers=keep")
        .await;
    all.assert_status(StatusCode::OK);
    assert_eq!(deleted(&all.json()), vec![entry(&loose.digest)]);
    let delayed = app
        .post("/berth/v1/gc?dry_run=true&grace=0s&orphaned_referrers=1h")
        .await;
    assert!(
        deleted(&delayed.json()).is_empty(),
        "the orphan waits an hour"
    );

    let real = app.post("/berth/v1/gc?grace=0s&untagged=delete").await;
    real.assert_status(StatusCode::OK);
    let mut expected = vec![entry(&loose.digest), entry(&signature)];
    expected.sort();
    assert_eq!(deleted(&real.json()), expected);
    app.assert_manifest_unknown("app", signature.as_str()).await;
    app.assert_image_intact("app", "v1", &kept).await;
    assert_eq!(app.get("/berth/v1/gc").await.json(), real.json());
}

#[tokio::test]
async fn bad_policy_overrides_are_400_naming_the_parameter_and_collect_nothing() {
    let app = TestApp::new().await;
    app.push_image("app", "v1", "kept").await;
    for (query, expected) in [
        (
            "grace=soon",
            "invalid query parameter grace: \"soon\" is not a duration",
        ),
        ("grace=-1s", "invalid query parameter grace"),
        (
            "untagged=sometimes",
            "invalid query parameter untagged: untagged must be \"keep\" or \"delete\"",
        ),
        (
            "orphaned_referrers=later",
            "orphaned_referrers must be \"delete\", \"keep\" or a delay such as \"7d\"",
        ),
        ("dry_run=true&grace=0s&untagged=Keep", "untagged must be"),
        (
            "grace=0s&untaged=delete",
            "unknown query parameter \"untaged\"; this endpoint takes dry_run, grace",
        ),
    ] {
        let reply = app.post(&format!("/berth/v1/gc?{query}")).await;
        reply.assert_error(StatusCode::BAD_REQUEST, "UNSUPPORTED");
        let message = reply.json()["errors"][0]["message"].clone();
        assert!(
            message.as_str().unwrap().contains(expected),
            "{query}: {message}"
        );
    }
    app.get("/berth/v1/gc")
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn the_status_endpoint_says_which_server_this_is() {
    let app = TestApp::new().await;
    let reply = app.get("/berth/v1/status").await;
    reply.assert_status(StatusCode::OK);
    assert_eq!(reply.header("content-type"), "application/json");
    assert_eq!(
        reply.json(),
        json!({"data_dir": "/srv/berth-test", "pid": 4242, "version": "0.0.0-test"})
    );
    app.head("/berth/v1/status")
        .await
        .assert_status(StatusCode::OK);
    app.post("/berth/v1/status")
        .await
        .assert_error(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED");
}

#[tokio::test]
async fn an_enormous_grace_keeps_everything_instead_of_wrapping_to_none() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "untagged soon").await;
    app.delete_manifest("app", "v1").await;
    let report = |query: &'static str| {
        let app = &app;
        async move {
            let reply = app
                .post(&format!(
                    "/berth/v1/gc?dry_run=true&untagged=delete&{query}"
                ))
                .await;
            reply.assert_status(StatusCode::OK);
            reply.json()
        }
    };
    for forever in ["grace=300000000y", "grace=10000000000000000s"] {
        assert_eq!(report(forever).await["manifests_deleted"], 0, "{forever}");
    }
    let now = report("grace=0s").await;
    assert_eq!(now["manifests"][0]["digest"], image.digest.as_str());
}
