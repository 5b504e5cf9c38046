//! Cross-repository blob mounts: `POST /v2/<name>/blobs/uploads/?mount=<digest>[&from=<repo>]`.

use super::*;

async fn mount(app: &TestApp, repo: &str, query: &str) -> Reply {
    let uri = format!("/v2/{repo}/blobs/uploads/?{query}");
    app.send(Method::POST, &uri, &[], Bytes::new()).await
}

/// A 202 that opened an ordinary upload session in `repo`.
fn assert_session_started(reply: &Reply, repo: &str) {
    reply.assert_status(StatusCode::ACCEPTED);
    let location = reply.header("location");
    let id = location
        .strip_prefix(&format!("/v2/{repo}/blobs/uploads/"))
        .unwrap();
    assert_eq!(reply.header("docker-upload-uuid"), id);
    assert_eq!(reply.header("range"), "0-0");
}

#[tokio::test]
async fn mount_from_a_repository_holding_the_blob_is_201() {
    let app = TestApp::new().await;
    let digest = app.push_blob("source/repo", b"shared layer").await;
    let reply = mount(&app, "target", &format!("mount={digest}&from=source/repo")).await;
    reply.assert_status(StatusCode::CREATED);
    assert_eq!(
        reply.header("location"),
        format!("/v2/target/blobs/{digest}")
    );
    assert_eq!(reply.header("docker-content-digest"), digest.as_str());
    assert_eq!(
        &app.blob_bytes("target", &digest).await[..],
        b"shared layer"
    );
    assert_eq!(
        &app.blob_bytes("source/repo", &digest).await[..],
        b"shared layer"
    );
}

#[tokio::test]
async fn mount_of_an_unknown_blob_starts_an_upload_session_that_works() {
    let app = TestApp::new().await;
    app.push_blob("source", b"something").await;
    let digest = Digest::sha256_of(b"not pushed yet");
    let reply = mount(&app, "target", &format!("mount={digest}&from=source")).await;
    assert_session_started(&reply, "target");
    let uri = format!("{}?digest={digest}", reply.header("location"));
    let put = app
        .send(Method::PUT, &uri, &[], &b"not pushed yet"[..])
        .await;
    put.assert_status(StatusCode::CREATED);
    assert_eq!(
        &app.blob_bytes("target", &digest).await[..],
        b"not pushed yet"
    );
}

#[tokio::test]
async fn mount_from_a_repository_without_the_blob_starts_an_upload_session() {
    let app = TestApp::new().await;
    let digest = app.push_blob("holder", b"held elsewhere").await;
    app.push_blob("source", b"other").await;
    let reply = mount(&app, "target", &format!("mount={digest}&from=source")).await;
    assert_session_started(&reply, "target");
    let blob = format!("/v2/target/blobs/{digest}");
    app.get(&blob)
        .await
        .assert_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN");
}

#[tokio::test]
async fn mount_without_from_finds_any_repository_holding_the_blob() {
    let app = TestApp::new().await;
    let digest = app.push_blob("somewhere/else", b"findable").await;
    let reply = mount(&app, "target", &format!("mount={digest}")).await;
    reply.assert_status(StatusCode::CREATED);
    assert_eq!(
        reply.header("location"),
        format!("/v2/target/blobs/{digest}")
    );
    assert_eq!(&app.blob_bytes("target", &digest).await[..], b"findable");
}

#[tokio::test]
async fn mount_without_from_of_an_unknown_blob_starts_an_upload_session() {
    let app = TestApp::new().await;
    let digest = Digest::sha256_of(b"nowhere");
    assert_session_started(
        &mount(&app, "target", &format!("mount={digest}")).await,
        "target",
    );
}

#[tokio::test]
async fn mount_with_an_invalid_digest_or_source_name_is_rejected() {
    let app = TestApp::new().await;
    let digest = app.push_blob("source", b"valid").await;
    let reply = mount(&app, "target", "mount=sha256:short&from=source").await;
    reply.assert_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
    let reply = mount(&app, "target", &format!("mount={digest}&from=Bad/../Name")).await;
    reply.assert_error(StatusCode::BAD_REQUEST, "NAME_INVALID");
    let blob = format!("/v2/target/blobs/{digest}");
    app.get(&blob)
        .await
        .assert_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN");
}

#[tokio::test]
async fn mounted_blob_survives_deletion_from_the_source() {
    let app = TestApp::new().await;
    let digest = app.push_blob("source", b"outlives its source").await;
    mount(&app, "target", &format!("mount={digest}&from=source"))
        .await
        .assert_status(StatusCode::CREATED);
    let source = format!("/v2/source/blobs/{digest}");
    app.delete(&source)
        .await
        .assert_status(StatusCode::ACCEPTED);
    app.get(&source)
        .await
        .assert_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN");
    assert_eq!(
        &app.blob_bytes("target", &digest).await[..],
        b"outlives its source"
    );
}
