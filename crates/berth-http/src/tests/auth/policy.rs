//! The policy's finer points: the catalog filtered by pull access, mounts from a repository the
//! caller may not read, and the pause after repeated wrong passwords.

use super::*;

#[tokio::test]
async fn the_catalog_lists_only_what_the_caller_may_pull_and_pages_correctly() {
    let app = secured_app().await;
    for repo in [
        "aaa/hidden",
        "other/repo",
        "public/x",
        "team/app",
        "zzz/hidden",
    ] {
        app.admin_image(repo).await;
    }
    let names = |reply: &Reply| reply.json()["repositories"].clone();
    let all = app.get_as(Role::Admin, "/v2/_catalog").await;
    assert_eq!(
        names(&all),
        json!([
            "aaa/hidden",
            "other/repo",
            "public/x",
            "team/app",
            "zzz/hidden"
        ])
    );
    let anonymous = app.get("/v2/_catalog").await;
    assert_eq!(names(&anonymous), json!(["public/x"]));
    let reader = app.get_as(Role::Reader, "/v2/_catalog").await;
    assert_eq!(names(&reader), json!(["public/x", "team/app"]));

    let first = app.get_as(Role::Reader, "/v2/_catalog?n=1").await;
    assert_eq!(names(&first), json!(["public/x"]));
    let next = next_link(&first).unwrap();
    let second = app.get_as(Role::Reader, &next).await;
    assert_eq!(names(&second), json!(["team/app"]));
    assert_eq!(next_link(&second), None, "{second:?}");
}

#[tokio::test]
async fn a_mount_from_a_repository_the_caller_may_not_pull_is_an_upload() {
    let app = secured_app().await;
    let digest = app.admin_blob("other/repo", b"secret layer").await;
    let mount = format!("/v2/{REPO}/blobs/uploads/?mount={digest}&from=other/repo");
    let reply = app
        .send_as(Role::Writer, Method::POST, &mount, &[], Bytes::new())
        .await;
    reply.assert_session_started(REPO);
    let without_from = format!("/v2/{REPO}/blobs/uploads/?mount={digest}");
    let reply = app
        .send_as(Role::Writer, Method::POST, &without_from, &[], Bytes::new())
        .await;
    reply.assert_session_started(REPO);
    let blob = format!("/v2/{REPO}/blobs/{digest}");
    assert_eq!(
        app.get_as(Role::Writer, &blob).await.status,
        StatusCode::NOT_FOUND
    );
    // The admin may pull the source: the same request mounts.
    let reply = app
        .send_as(Role::Admin, Method::POST, &mount, &[], Bytes::new())
        .await;
    reply.assert_status(StatusCode::CREATED);
}

#[tokio::test]
async fn repeated_wrong_passwords_are_paused_with_retry_after() {
    let app = secured_app().await;
    let wrong = basic("reader", "wrong");
    let uri = format!("/v2/{REPO}/tags/list");
    for _ in 0..5 {
        let reply = app
            .send(
                Method::GET,
                &uri,
                &[("authorization", &wrong)],
                Bytes::new(),
            )
            .await;
        assert_challenge(&reply, None);
    }
    let right = basic("reader", &password("reader"));
    let reply = app
        .send(
            Method::GET,
            &uri,
            &[("authorization", &right)],
            Bytes::new(),
        )
        .await;
    reply.assert_error(StatusCode::TOO_MANY_REQUESTS, "TOOMANYREQUESTS");
    assert!(reply.header("retry-after").parse::<u64>().unwrap() >= 1);
    // Another user from the same client is not paused.
    let writer = app.get_as(Role::Writer, &uri).await;
    assert_ne!(writer.status, StatusCode::TOO_MANY_REQUESTS);
}
