//! The referrers API: subject indexing on push, listing, filters, paging, deletes.

use std::collections::BTreeSet;

use super::*;

const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";

/// An artifact manifest (OCI image manifest form) about `subject`.
fn artifact(
    app_blob: &Digest,
    artifact_type: Option<&str>,
    subject: &Digest,
    subject_type: &str,
    note: &str,
) -> Vec<u8> {
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": EMPTY_CONFIG, "digest": app_blob.as_str(), "size": 2},
        "layers": [],
        "subject": {"mediaType": subject_type, "digest": subject.as_str(), "size": 1},
        "annotations": {"org.example.note": note},
    });
    if let Some(t) = artifact_type {
        m["artifactType"] = json!(t);
    }
    serde_json::to_vec(&m).unwrap()
}

async fn push_artifact(app: &TestApp, repo: &str, body: &[u8]) -> Digest {
    let digest = Digest::sha256_of(body);
    let reply = app
        .put_manifest(repo, digest.as_str(), OCI_MANIFEST, body)
        .await;
    reply.assert_status(StatusCode::CREATED);
    digest
}

fn listed(reply: &Reply) -> Vec<Value> {
    reply.assert_status(StatusCode::OK);
    assert_eq!(reply.header("content-type"), OCI_INDEX);
    let index = reply.json();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["mediaType"], OCI_INDEX);
    index["manifests"].as_array().cloned().unwrap()
}

#[tokio::test]
async fn referrers_are_listed_with_their_descriptors_even_before_the_subject() {
    let app = TestApp::new().await;
    let empty = app.push_blob("app", b"{}").await;
    let future_subject = Digest::sha256_of(b"an image pushed later");
    let body = artifact(
        &empty,
        Some("application/vnd.example.sig"),
        &future_subject,
        OCI_MANIFEST,
        "early",
    );
    let digest = Digest::sha256_of(&body);
    let reply = app
        .put_manifest("app", digest.as_str(), OCI_MANIFEST, &body)
        .await;
    reply.assert_status(StatusCode::CREATED);
    assert_eq!(reply.header("oci-subject"), future_subject.as_str());
    let manifests = listed(
        &app.get(&format!("/v2/app/referrers/{future_subject}"))
            .await,
    );
    assert_eq!(
        manifests,
        vec![json!({
            "mediaType": OCI_MANIFEST,
            "digest": digest.as_str(),
            "size": body.len(),
            "artifactType": "application/vnd.example.sig",
            "annotations": {"org.example.note": "early"},
        })]
    );
}

#[tokio::test]
async fn artifact_type_falls_back_to_the_config_media_type() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "base").await;
    let empty = app.push_blob("app", b"{}").await;
    push_artifact(
        &app,
        "app",
        &artifact(&empty, None, &image.digest, OCI_MANIFEST, "x"),
    )
    .await;
    let manifests = listed(
        &app.get(&format!("/v2/app/referrers/{}", image.digest))
            .await,
    );
    assert_eq!(manifests[0]["artifactType"], EMPTY_CONFIG);
}

#[tokio::test]
async fn nothing_refers_to_a_digest_gives_an_empty_index_and_bad_digests_are_400() {
    let app = TestApp::new().await;
    app.push_image("app", "v1", "base").await;
    let unknown = Digest::sha256_of(b"nobody");
    assert!(listed(&app.get(&format!("/v2/app/referrers/{unknown}")).await).is_empty());
    app.get("/v2/app/referrers/sha256:nothex")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
    app.get(&format!("/v2/never/pushed/referrers/{unknown}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "NAME_UNKNOWN");
}

#[tokio::test]
async fn filters_by_zero_one_and_several_artifact_types() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "base").await;
    let empty = app.push_blob("app", b"{}").await;
    for (kind, note) in [("sig", "a"), ("sbom", "b"), ("sig", "c"), ("scan", "d")] {
        let t = format!("application/vnd.example.{kind}");
        push_artifact(
            &app,
            "app",
            &artifact(&empty, Some(&t), &image.digest, OCI_MANIFEST, note),
        )
        .await;
    }
    let base = format!("/v2/app/referrers/{}", image.digest);
    let all = app.get(&base).await;
    assert_eq!(listed(&all).len(), 4);
    assert!(all.headers.get("oci-filters-applied").is_none());
    let sigs = app
        .get(&format!("{base}?artifactType=application/vnd.example.sig"))
        .await;
    assert_eq!(sigs.header("oci-filters-applied"), "artifactType");
    assert!(listed(&sigs)
        .iter()
        .all(|d| d["artifactType"] == "application/vnd.example.sig"));
    assert_eq!(listed(&sigs).len(), 2);
    let two = app
        .get(&format!("{base}?artifactType=application/vnd.example.sig&artifactType=application/vnd.example.scan"))
        .await;
    assert_eq!(listed(&two).len(), 3);
    let none = app
        .get(&format!("{base}?artifactType=application/vnd.example.none"))
        .await;
    assert!(listed(&none).is_empty());
}

#[tokio::test]
async fn chains_and_index_subjects_are_indexed() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "base").await;
    let index = index_manifest(OCI_INDEX, OCI_MANIFEST, &[&image.digest]);
    let reply = app.put_manifest("app", "multi", OCI_INDEX, &index).await;
    reply.assert_status(StatusCode::CREATED);
    let index_digest = Digest::sha256_of(&index);
    let empty = app.push_blob("app", b"{}").await;
    let sbom = push_artifact(
        &app,
        "app",
        &artifact(
            &empty,
            Some("application/spdx+json"),
            &index_digest,
            OCI_INDEX,
            "sbom",
        ),
    )
    .await;
    let signature = push_artifact(
        &app,
        "app",
        &artifact(
            &empty,
            Some("application/vnd.example.sig"),
            &sbom,
            OCI_MANIFEST,
            "sig",
        ),
    )
    .await;
    let on_index = listed(&app.get(&format!("/v2/app/referrers/{index_digest}")).await);
    assert_eq!(on_index[0]["digest"], sbom.as_str());
    let on_sbom = listed(&app.get(&format!("/v2/app/referrers/{sbom}")).await);
    assert_eq!(on_sbom[0]["digest"], signature.as_str());
}

#[tokio::test]
async fn legacy_artifact_manifests_are_indexed() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "base").await;
    let blob = app.push_blob("app", b"signature bytes").await;
    for media_type in [
        "application/vnd.oci.artifact.manifest.v1+json",
        "application/vnd.cncf.oras.artifact.manifest.v1+json",
    ] {
        let body = serde_json::to_vec(&json!({
            "mediaType": media_type,
            "artifactType": "application/vnd.cncf.notary.signature",
            "blobs": [{"mediaType": "application/octet-stream", "digest": blob.as_str(), "size": 15}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": image.digest.as_str(), "size": image.body.len()},
        }))
        .unwrap();
        let digest = Digest::sha256_of(&body);
        let reply = app
            .put_manifest("app", digest.as_str(), media_type, &body)
            .await;
        reply.assert_status(StatusCode::CREATED);
        assert_eq!(reply.header("oci-subject"), image.digest.as_str());
    }
    let manifests = listed(
        &app.get(&format!("/v2/app/referrers/{}", image.digest))
            .await,
    );
    let types: BTreeSet<_> = manifests
        .iter()
        .map(|d| d["mediaType"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types.len(), 2);
}

#[tokio::test]
async fn deleting_a_referrer_unlists_it_and_deleting_the_subject_does_not() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "base").await;
    let empty = app.push_blob("app", b"{}").await;
    let kept = push_artifact(
        &app,
        "app",
        &artifact(&empty, Some("a/b"), &image.digest, OCI_MANIFEST, "kept"),
    )
    .await;
    let gone = push_artifact(
        &app,
        "app",
        &artifact(&empty, Some("a/b"), &image.digest, OCI_MANIFEST, "gone"),
    )
    .await;
    app.delete(&format!("/v2/app/manifests/{gone}"))
        .await
        .assert_status(StatusCode::ACCEPTED);
    let base = format!("/v2/app/referrers/{}", image.digest);
    let manifests = listed(&app.get(&base).await);
    assert_eq!(manifests.len(), 1);
    assert_eq!(manifests[0]["digest"], kept.as_str());
    app.delete(&format!("/v2/app/manifests/{}", image.digest))
        .await
        .assert_status(StatusCode::ACCEPTED);
    assert_eq!(listed(&app.get(&base).await).len(), 1);
}

#[tokio::test]
async fn pages_through_many_referrers_while_others_come_and_go() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "base").await;
    let empty = app.push_blob("app", b"{}").await;
    let mut expected = BTreeSet::new();
    for i in 0..1000 {
        let body = artifact(
            &empty,
            Some("a/b"),
            &image.digest,
            OCI_MANIFEST,
            &format!("r{i}"),
        );
        expected.insert(push_artifact(&app, "app", &body).await.to_string());
    }
    let mut seen = Vec::new();
    let mut next = Some(format!("/v2/app/referrers/{}?n=100", image.digest));
    let mut pages = 0;
    let mut deleted = BTreeSet::new();
    while let Some(uri) = next {
        let reply = app.get(&uri).await;
        let page = listed(&reply);
        assert!(page.len() <= 100);
        seen.extend(
            page.iter()
                .map(|d| d["digest"].as_str().unwrap().to_owned()),
        );
        next = next_link(&reply);
        pages += 1;
        // Between pages: one referrer added and one of the original ones deleted.
        let late = artifact(
            &empty,
            Some("a/b"),
            &image.digest,
            OCI_MANIFEST,
            &format!("late{pages}"),
        );
        push_artifact(&app, "app", &late).await;
        let victim = expected.iter().nth(pages * 7).cloned().unwrap();
        app.delete(&format!("/v2/app/manifests/{victim}"))
            .await
            .assert_status(StatusCode::ACCEPTED);
        deleted.insert(victim);
    }
    let unique: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no duplicates");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, seen, "a stable order");
    // Every original referrer is listed unless it was deleted while paging: no gaps.
    let missing: Vec<_> = expected.iter().filter(|d| !unique.contains(*d)).collect();
    assert!(
        missing.iter().all(|d| deleted.contains(*d)),
        "gaps: {missing:?}"
    );
    assert!(pages >= 10);
}

#[tokio::test]
async fn extensions_are_announced_and_the_oras_apis_list_referrers() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "base").await;
    let empty = app.push_blob("app", b"{}").await;
    let sig = push_artifact(
        &app,
        "app",
        &artifact(
            &empty,
            Some("signature/example"),
            &image.digest,
            OCI_MANIFEST,
            "s",
        ),
    )
    .await;
    push_artifact(
        &app,
        "app",
        &artifact(
            &empty,
            Some("sbom/example"),
            &image.digest,
            OCI_MANIFEST,
            "b",
        ),
    )
    .await;
    let discover = app.get("/v2/app/_oci/ext/discover").await;
    discover.assert_status(StatusCode::OK);
    let names: Vec<_> = discover.json()["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].clone())
        .collect();
    assert_eq!(names, [json!("_oras"), json!("_berth")]);
    let current = app
        .get(&format!(
            "/v2/app/_oras/artifacts/referrers?digest={}",
            image.digest
        ))
        .await;
    current.assert_status(StatusCode::OK);
    assert_eq!(current.header("oras-api-version"), "oras/1.0");
    assert_eq!(current.json()["referrers"].as_array().unwrap().len(), 2);
    let filtered = app
        .get(&format!(
            "/v2/app/_oras/artifacts/referrers?digest={}&artifactType=signature%2Fexample",
            image.digest
        ))
        .await;
    assert_eq!(filtered.json()["referrers"][0]["digest"], sig.as_str());
    assert_eq!(filtered.json()["referrers"].as_array().unwrap().len(), 1);
    let paged = app
        .get(&format!(
            "/v2/app/_oras/artifacts/referrers?digest={}&n=1",
            image.digest
        ))
        .await;
    assert_eq!(paged.json()["referrers"].as_array().unwrap().len(), 1);
    let second = app.get(&next_link(&paged).expect("a next page")).await;
    assert_eq!(second.json()["referrers"].as_array().unwrap().len(), 1);
    let legacy = app
        .get(&format!(
            "/oras/artifacts/v1/app/manifests/{}/referrers",
            image.digest
        ))
        .await;
    assert_eq!(legacy.json()["referrers"].as_array().unwrap().len(), 2);
    app.get("/v2/app/_oras/artifacts/referrers")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
}

#[tokio::test]
async fn the_graph_extension_returns_referrers_of_referrers_to_a_depth() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "base").await;
    let empty = app.push_blob("app", b"{}").await;
    let sbom = push_artifact(
        &app,
        "app",
        &artifact(
            &empty,
            Some("application/spdx+json"),
            &image.digest,
            OCI_MANIFEST,
            "sbom",
        ),
    )
    .await;
    let sig = push_artifact(
        &app,
        "app",
        &artifact(
            &empty,
            Some("application/vnd.example.sig"),
            &sbom,
            OCI_MANIFEST,
            "sig",
        ),
    )
    .await;
    let graph = app
        .get(&format!("/v2/app/_berth/referrers-graph/{}", image.digest))
        .await;
    graph.assert_status(StatusCode::OK);
    let body = graph.json();
    assert_eq!(body["subject"], image.digest.as_str());
    assert_eq!(body["referrers"][0]["digest"], sbom.as_str());
    assert_eq!(body["referrers"][0]["referrers"][0]["digest"], sig.as_str());
    assert_eq!(body["referrers"][0]["referrers"][0]["referrers"], json!([]));
    let shallow = app
        .get(&format!(
            "/v2/app/_berth/referrers-graph/{}?depth=1",
            image.digest
        ))
        .await;
    assert_eq!(shallow.json()["referrers"][0]["referrers"], json!([]));
}

#[tokio::test]
async fn an_index_pushed_under_the_referrers_tag_schema_leaves_the_api_complete() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "base").await;
    let empty = app.push_blob("app", b"{}").await;
    let body = artifact(
        &empty,
        Some("application/vnd.example.sig"),
        &image.digest,
        OCI_MANIFEST,
        "copied",
    );
    let sig = push_artifact(&app, "app", &body).await;
    // What a copy from a registry without the API pushes next: the tag-schema index.
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": sig.as_str(), "size": body.len(), "artifactType": "application/vnd.example.sig"}],
    }))
    .unwrap();
    let tag = format!("sha256-{}", image.digest.hex());
    app.put_manifest("app", &tag, OCI_INDEX, &index)
        .await
        .assert_status(StatusCode::CREATED);
    let manifests = listed(
        &app.get(&format!("/v2/app/referrers/{}", image.digest))
            .await,
    );
    assert_eq!(manifests.len(), 1);
    assert_eq!(manifests[0]["digest"], sig.as_str());
}

#[tokio::test]
async fn an_index_referrer_without_artifact_type_is_listed_without_one() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "base").await;
    let child = app.push_image("app", "child", "child").await;
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": child.digest.as_str(), "size": child.body.len()}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": image.digest.as_str(), "size": image.body.len()},
    }))
    .unwrap();
    let digest = Digest::sha256_of(&index);
    let reply = app
        .put_manifest("app", digest.as_str(), OCI_INDEX, &index)
        .await;
    reply.assert_status(StatusCode::CREATED);
    assert_eq!(reply.header("oci-subject"), image.digest.as_str());
    let manifests = listed(
        &app.get(&format!("/v2/app/referrers/{}", image.digest))
            .await,
    );
    assert_eq!(
        manifests,
        vec![json!({"mediaType": OCI_INDEX, "digest": digest.as_str(), "size": index.len()})]
    );
}

#[tokio::test]
async fn artifact_manifests_need_their_blobs() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "base").await;
    let missing = Digest::sha256_of(b"never uploaded");
    let body = serde_json::to_vec(&json!({
        "mediaType": "application/vnd.oci.artifact.manifest.v1+json",
        "artifactType": "application/vnd.example.sig",
        "blobs": [{"mediaType": "application/octet-stream", "digest": missing.as_str(), "size": 3}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": image.digest.as_str(), "size": image.body.len()},
    }))
    .unwrap();
    let reply = app
        .put_manifest(
            "app",
            "sig",
            "application/vnd.oci.artifact.manifest.v1+json",
            &body,
        )
        .await;
    reply.assert_error(StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN");
    assert!(listed(
        &app.get(&format!("/v2/app/referrers/{}", image.digest))
            .await
    )
    .is_empty());
}
