//! Cross-repository blob mounts: `POST /v2/<name>/blobs/uploads/?mount=<digest>[&from=<repo>]`.

use super::*;

/// Asks to mount `digest` (which may be malformed) into `target`, from `from` if given.
async fn mount(app: &TestApp, digest: impl Display, from: Option<&str>) -> Reply {
    let from = from.map(|repo| format!("&from={repo}")).unwrap_or_default();
    app.post(&format!("/v2/target/blobs/uploads/?mount={digest}{from}"))
        .await
}

/// A 201 that mounted `digest` into `repo`.
fn assert_mounted(reply: &Reply, repo: &str, digest: &Digest) {
    reply.assert_status(StatusCode::CREATED);
    assert_eq!(
        reply.header("location"),
        format!("/v2/{repo}/blobs/{digest}")
    );
}

#[tokio::test]
async fn mount_from_a_repository_holding_the_blob_is_201() {
    let app = TestApp::new().await;
    let digest = app.push_blob("source/repo", b"shared layer").await;
    let reply = mount(&app, &digest, Some("source/repo")).await;
    assert_mounted(&reply, "target", &digest);
    assert_eq!(reply.header("docker-content-digest"), digest.as_str());
    app.assert_blob("target", &digest, b"shared layer").await;
    app.assert_blob("source/repo", &digest, b"shared layer")
        .await;
}

#[tokio::test]
async fn mount_of_an_unknown_blob_starts_an_upload_session_that_works() {
    let app = TestApp::new().await;
    app.push_blob("source", b"something").await;
    let digest = Digest::sha256_of(b"not pushed yet");
    let reply = mount(&app, &digest, Some("source")).await;
    reply.assert_session_started("target");
    let uri = format!("{}?digest={digest}", reply.header("location"));
    let put = app
        .send(Method::PUT, &uri, &[], &b"not pushed yet"[..])
        .await;
    put.assert_status(StatusCode::CREATED);
    app.assert_blob("target", &digest, b"not pushed yet").await;
}

#[tokio::test]
async fn mount_from_a_repository_without_the_blob_starts_an_upload_session() {
    let app = TestApp::new().await;
    let digest = app.push_blob("holder", b"held elsewhere").await;
    app.push_blob("source", b"other").await;
    let reply = mount(&app, &digest, Some("source")).await;
    reply.assert_session_started("target");
    app.assert_blob_unknown("target", &digest).await;
}

#[tokio::test]
async fn mount_without_from_finds_any_repository_holding_the_blob() {
    let app = TestApp::new().await;
    let digest = app.push_blob("somewhere/else", b"findable").await;
    let reply = mount(&app, &digest, None).await;
    assert_mounted(&reply, "target", &digest);
    app.assert_blob("target", &digest, b"findable").await;
}

#[tokio::test]
async fn mount_without_from_of_an_unknown_blob_starts_an_upload_session() {
    let app = TestApp::new().await;
    let digest = Digest::sha256_of(b"nowhere");
    let reply = mount(&app, &digest, None).await;
    reply.assert_session_started("target");
}

#[tokio::test]
async fn mount_with_an_invalid_digest_or_source_name_is_rejected() {
    let app = TestApp::new().await;
    let digest = app.push_blob("source", b"valid").await;
    let reply = mount(&app, "sha256:short", Some("source")).await;
    reply.assert_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
    let reply = mount(&app, &digest, Some("Bad/../Name")).await;
    reply.assert_error(StatusCode::BAD_REQUEST, "NAME_INVALID");
    app.assert_blob_unknown("target", &digest).await;
}

#[tokio::test]
async fn mounted_blob_survives_deletion_from_the_source() {
    let app = TestApp::new().await;
    let digest = app.push_blob("source", b"outlives its source").await;
    let reply = mount(&app, &digest, Some("source")).await;
    assert_mounted(&reply, "target", &digest);
    app.delete_blob("source", &digest).await;
    app.assert_blob_unknown("source", &digest).await;
    app.assert_blob("target", &digest, b"outlives its source")
        .await;
}
