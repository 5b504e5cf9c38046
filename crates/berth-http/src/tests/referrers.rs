//! The referrers API: subject indexing on push, listing, filters, paging, deletes.

use std::collections::BTreeSet;

use super::*;

const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";
const LEGACY_ARTIFACT: &str = "application/vnd.oci.artifact.manifest.v1+json";

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

/// A legacy artifact manifest (`media_type`: OCI or ORAS) of one `blob`, about `subject`.
fn legacy_artifact(media_type: &str, artifact_type: &str, blob: Value, subject: &Image) -> Vec<u8> {
    let subject = descriptor(OCI_MANIFEST, &subject.digest, subject.body.len());
    let manifest = json!({
        "mediaType": media_type,
        "artifactType": artifact_type,
        "blobs": [blob],
        "subject": subject,
    });
    serde_json::to_vec(&manifest).unwrap()
}

/// An OCI index of one `entry`, with `subject` when it is a referrer itself.
fn index_of(entry: Value, subject: Option<&Image>) -> Vec<u8> {
    let mut index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]});
    if let Some(subject) = subject {
        index["subject"] = descriptor(OCI_MANIFEST, &subject.digest, subject.body.len());
    }
    serde_json::to_vec(&index).unwrap()
}

/// An app with an image at `app:v1` to refer to, and the empty config blob artifacts use.
async fn app_with_subject() -> (TestApp, Image, Digest) {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "base").await;
    let empty = app.push_blob("app", b"{}").await;
    (app, image, empty)
}

/// Pushes `body` to `app` by digest and asserts the 201 names `subject` in `OCI-Subject`.
async fn push_referrer(app: &TestApp, media_type: &str, body: &[u8], subject: &Digest) -> Digest {
    let digest = Digest::sha256_of(body);
    let reply = app
        .put_manifest("app", digest.as_str(), media_type, body)
        .await;
    reply.assert_manifest_created("app", body);
    assert_eq!(reply.header("oci-subject"), subject.as_str());
    digest
}

/// Pushes an artifact of `artifact_type` about the image manifest `subject`.
async fn push_artifact(
    app: &TestApp,
    empty: &Digest,
    artifact_type: &str,
    subject: &Digest,
    note: &str,
) -> Digest {
    let body = artifact(empty, Some(artifact_type), subject, OCI_MANIFEST, note);
    push_referrer(app, OCI_MANIFEST, &body, subject).await
}

/// The descriptors of a referrers reply, after asserting it is an OCI index.
fn listed(reply: &Reply) -> Vec<Value> {
    reply.assert_status(StatusCode::OK);
    assert_eq!(reply.header("content-type"), OCI_INDEX);
    let index = reply.json();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["mediaType"], OCI_INDEX);
    index["manifests"].as_array().cloned().unwrap()
}

/// What `GET /v2/app/referrers/<subject>` lists.
async fn referrers(app: &TestApp, subject: &Digest) -> Vec<Value> {
    listed(&app.get(&format!("/v2/app/referrers/{subject}")).await)
}

/// The `referrers` of a reply from the ORAS APIs, after asserting a 200.
fn oras_listed(reply: &Reply) -> Vec<Value> {
    reply.assert_status(StatusCode::OK);
    reply.json()["referrers"].as_array().cloned().unwrap()
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
    let digest = push_referrer(&app, OCI_MANIFEST, &body, &future_subject).await;
    assert_eq!(
        referrers(&app, &future_subject).await,
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
    let (app, image, empty) = app_with_subject().await;
    let body = artifact(&empty, None, &image.digest, OCI_MANIFEST, "x");
    push_referrer(&app, OCI_MANIFEST, &body, &image.digest).await;
    let manifests = referrers(&app, &image.digest).await;
    assert_eq!(manifests[0]["artifactType"], EMPTY_CONFIG);
}

#[tokio::test]
async fn nothing_refers_to_a_digest_gives_an_empty_index_and_bad_digests_are_400() {
    let app = TestApp::new().await;
    app.push_image("app", "v1", "base").await;
    let unknown = Digest::sha256_of(b"nobody");
    assert!(referrers(&app, &unknown).await.is_empty());
    app.get("/v2/app/referrers/sha256:nothex")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
}

/// "If the registry supports the referrers API, the registry MUST NOT return a 404 Not Found
/// to a referrers API request": not even for a repository that does not exist.
#[tokio::test]
async fn every_referrers_endpoint_answers_an_unknown_repository_with_an_empty_list() {
    let app = TestApp::new().await;
    let unknown = Digest::sha256_of(b"nobody");
    let oci = app
        .get(&format!("/v2/never/pushed/referrers/{unknown}"))
        .await;
    oci.assert_status(StatusCode::OK);
    assert_eq!(oci.header("content-type"), OCI_INDEX);
    assert_eq!(
        oci.json(),
        json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []})
    );
    let filtered = app
        .get(&format!(
            "/v2/never/pushed/referrers/{unknown}?artifactType=a%2Fb"
        ))
        .await;
    assert_eq!(filtered.json()["manifests"], json!([]));
    for uri in [
        format!("/v2/never/pushed/_oras/artifacts/referrers?digest={unknown}"),
        format!("/oras/artifacts/v1/never/pushed/manifests/{unknown}/referrers"),
    ] {
        let oras = app.get(&uri).await;
        oras.assert_status(StatusCode::OK);
        assert_eq!(oras.json(), json!({"referrers": []}), "{uri}");
        assert_eq!(oras.header("oras-api-version"), "oras/1.0");
    }
    let graph = app
        .get(&format!(
            "/v2/never/pushed/_berth/referrers-graph/{unknown}"
        ))
        .await;
    graph.assert_status(StatusCode::OK);
    assert_eq!(graph.json()["referrers"], json!([]));
}

#[tokio::test]
async fn filters_by_zero_one_and_several_artifact_types() {
    let (app, image, empty) = app_with_subject().await;
    for (kind, note) in [("sig", "a"), ("sbom", "b"), ("sig", "c"), ("scan", "d")] {
        let t = format!("application/vnd.example.{kind}");
        push_artifact(&app, &empty, &t, &image.digest, note).await;
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
    let index_digest = app.push_manifest("app", "multi", OCI_INDEX, &index).await;
    let empty = app.push_blob("app", b"{}").await;
    let body = artifact(
        &empty,
        Some("application/spdx+json"),
        &index_digest,
        OCI_INDEX,
        "sbom",
    );
    let sbom = push_referrer(&app, OCI_MANIFEST, &body, &index_digest).await;
    let signature = push_artifact(&app, &empty, "application/vnd.example.sig", &sbom, "sig").await;
    let on_index = referrers(&app, &index_digest).await;
    assert_eq!(on_index[0]["digest"], sbom.as_str());
    let on_sbom = referrers(&app, &sbom).await;
    assert_eq!(on_sbom[0]["digest"], signature.as_str());
}

#[tokio::test]
async fn legacy_artifact_manifests_are_indexed() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "base").await;
    let blob = app.push_blob("app", b"signature bytes").await;
    for media_type in [
        LEGACY_ARTIFACT,
        "application/vnd.cncf.oras.artifact.manifest.v1+json",
    ] {
        let blob = descriptor("application/octet-stream", &blob, 15);
        let body = legacy_artifact(
            media_type,
            "application/vnd.cncf.notary.signature",
            blob,
            &image,
        );
        push_referrer(&app, media_type, &body, &image.digest).await;
    }
    let types: BTreeSet<_> = referrers(&app, &image.digest)
        .await
        .iter()
        .map(|d| d["mediaType"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types.len(), 2);
}

#[tokio::test]
async fn deleting_a_referrer_unlists_it_and_deleting_the_subject_does_not() {
    let (app, image, empty) = app_with_subject().await;
    let kept = push_artifact(&app, &empty, "a/b", &image.digest, "kept").await;
    let gone = push_artifact(&app, &empty, "a/b", &image.digest, "gone").await;
    app.delete_manifest("app", gone.as_str()).await;
    let manifests = referrers(&app, &image.digest).await;
    assert_eq!(manifests.len(), 1);
    assert_eq!(manifests[0]["digest"], kept.as_str());
    app.delete_manifest("app", image.digest.as_str()).await;
    assert_eq!(referrers(&app, &image.digest).await.len(), 1);
}

#[tokio::test]
async fn pages_through_many_referrers_while_others_come_and_go() {
    let (app, image, empty) = app_with_subject().await;
    let mut expected = BTreeSet::new();
    for i in 0..1000 {
        let note = format!("r{i}");
        let digest = push_artifact(&app, &empty, "a/b", &image.digest, &note).await;
        expected.insert(digest.to_string());
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
        let late = format!("late{pages}");
        push_artifact(&app, &empty, "a/b", &image.digest, &late).await;
        let victim = expected.iter().nth(pages * 7).cloned().unwrap();
        app.delete_manifest("app", &victim).await;
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
    let (app, image, empty) = app_with_subject().await;
    let sig = push_artifact(&app, &empty, "signature/example", &image.digest, "s").await;
    push_artifact(&app, &empty, "sbom/example", &image.digest, "b").await;
    let discover = app.get("/v2/app/_oci/ext/discover").await;
    discover.assert_status(StatusCode::OK);
    let names: Vec<_> = discover.json()["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].clone())
        .collect();
    assert_eq!(names, [json!("_oras"), json!("_berth")]);
    let oras = format!("/v2/app/_oras/artifacts/referrers?digest={}", image.digest);
    let current = app.get(&oras).await;
    assert_eq!(oras_listed(&current).len(), 2);
    assert_eq!(current.header("oras-api-version"), "oras/1.0");
    let filtered = app
        .get(&format!("{oras}&artifactType=signature%2Fexample"))
        .await;
    let filtered = oras_listed(&filtered);
    assert_eq!(filtered[0]["digest"], sig.as_str());
    assert_eq!(filtered.len(), 1);
    let paged = app.get(&format!("{oras}&n=1")).await;
    assert_eq!(oras_listed(&paged).len(), 1);
    let second = app.get(&next_link(&paged).expect("a next page")).await;
    assert_eq!(oras_listed(&second).len(), 1);
    let legacy = app
        .get(&format!(
            "/oras/artifacts/v1/app/manifests/{}/referrers",
            image.digest
        ))
        .await;
    assert_eq!(oras_listed(&legacy).len(), 2);
    app.get("/v2/app/_oras/artifacts/referrers")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
}

#[tokio::test]
async fn the_graph_extension_returns_referrers_of_referrers_to_a_depth() {
    let (app, image, empty) = app_with_subject().await;
    let sbom = push_artifact(&app, &empty, "application/spdx+json", &image.digest, "sbom").await;
    let sig = push_artifact(&app, &empty, "application/vnd.example.sig", &sbom, "sig").await;
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
    let (app, image, empty) = app_with_subject().await;
    let body = artifact(
        &empty,
        Some("application/vnd.example.sig"),
        &image.digest,
        OCI_MANIFEST,
        "copied",
    );
    let sig = push_referrer(&app, OCI_MANIFEST, &body, &image.digest).await;
    // What a copy from a registry without the API pushes next: the tag-schema index.
    let mut entry = descriptor(OCI_MANIFEST, &sig, body.len());
    entry["artifactType"] = json!("application/vnd.example.sig");
    let tag = format!("sha256-{}", image.digest.hex());
    app.push_manifest("app", &tag, OCI_INDEX, &index_of(entry, None))
        .await;
    let manifests = referrers(&app, &image.digest).await;
    assert_eq!(manifests.len(), 1);
    assert_eq!(manifests[0]["digest"], sig.as_str());
}

#[tokio::test]
async fn an_index_referrer_without_artifact_type_is_listed_without_one() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "base").await;
    let child = app.push_image("app", "child", "child").await;
    let entry = descriptor(OCI_MANIFEST, &child.digest, child.body.len());
    let index = index_of(entry, Some(&image));
    let digest = push_referrer(&app, OCI_INDEX, &index, &image.digest).await;
    assert_eq!(
        referrers(&app, &image.digest).await,
        vec![json!({"mediaType": OCI_INDEX, "digest": digest.as_str(), "size": index.len()})]
    );
}

#[tokio::test]
async fn artifact_manifests_need_their_blobs() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "base").await;
    let missing = Digest::sha256_of(b"never uploaded");
    let blob = descriptor("application/octet-stream", &missing, 3);
    let body = legacy_artifact(LEGACY_ARTIFACT, "application/vnd.example.sig", blob, &image);
    let reply = app.put_manifest("app", "sig", LEGACY_ARTIFACT, &body).await;
    reply.assert_error(StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN");
    assert!(referrers(&app, &image.digest).await.is_empty());
}

#[tokio::test]
async fn n_zero_asks_for_an_empty_page_without_a_next_one() {
    let (app, image, empty) = app_with_subject().await;
    push_artifact(
        &app,
        &empty,
        "application/vnd.example.sig",
        &image.digest,
        "a",
    )
    .await;
    for uri in [
        format!("/v2/app/referrers/{}?n=0", image.digest),
        format!(
            "/v2/app/_oras/artifacts/referrers?digest={}&n=0",
            image.digest
        ),
    ] {
        let reply = app.get(&uri).await;
        reply.assert_status(StatusCode::OK);
        let body = reply.json();
        let listed = body.get("manifests").or(body.get("referrers")).unwrap();
        assert_eq!(listed, &json!([]), "{uri}");
        assert!(reply.headers.get(header::LINK).is_none(), "{uri}");
    }
}
