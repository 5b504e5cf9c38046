//! The policy's finer points: the catalog filtered by pull access, mounts from a repository the
//! caller may not read, and the pause after repeated wrong passwords.

use berth_auth::{Access, Action};

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

/// The repositories two listings show to the bearer of `token`.
async fn listed_with_token(app: &TestApp, token: &str) -> (Value, Value) {
    let bearer = format!("Bearer {token}");
    let headers = [("authorization", bearer.as_str())];
    let catalog = app
        .send(Method::GET, "/v2/_catalog", &headers, Bytes::new())
        .await;
    catalog.assert_status(StatusCode::OK);
    let browse = app
        .send(
            Method::GET,
            "/berth/v1/repositories",
            &headers,
            Bytes::new(),
        )
        .await;
    browse.assert_status(StatusCode::OK);
    let names = browse.json()["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    (catalog.json()["repositories"].clone(), Value::Array(names))
}

#[tokio::test]
async fn a_catalog_token_of_this_registry_lists_what_the_policy_lets_its_subject_pull() {
    // Another issuer, trusted too, whose subjects the policy names the same way.
    let elsewhere_dir = tempfile::tempdir().unwrap();
    let key = SigningKey::load_or_generate(&elsewhere_dir.path().join("k")).unwrap();
    let elsewhere = TokenIssuer::new(IssuerConfig::new("elsewhere", SERVICE), key).unwrap();
    let trusted = elsewhere.trusted();
    let app = TestApp::with_auth(|dir| auth_trusting(dir, vec![trusted])).await;
    for repo in ["aaa/hidden", "public/x", REPO, "other/repo"] {
        app.admin_image(repo).await;
    }
    // The token names no repository: it was asked for the listing alone.
    let reply = app
        .get_as(Role::Reader, "/berth/v1/token?scope=registry:catalog:*")
        .await;
    reply.assert_status(StatusCode::OK);
    let token = reply.json()["token"].as_str().unwrap().to_owned();
    let expected = json!(["public/x", REPO]);
    assert_eq!(
        listed_with_token(&app, &token).await,
        (expected.clone(), expected)
    );

    // The token grants no repository, so reading one is still a matter of scopes.
    let bearer = format!("Bearer {token}");
    let tags = app
        .send(
            Method::GET,
            &format!("/v2/{REPO}/tags/list"),
            &[("authorization", &bearer)],
            Bytes::new(),
        )
        .await;
    tags.assert_error(StatusCode::FORBIDDEN, "DENIED");
    assert!(tags.header("www-authenticate").contains("insufficient_scope"));

    // The same subject's token from another issuer lists by its scopes alone.
    let catalog_and_public = [
        Access::catalog(),
        Access::repository("public/x".parse().unwrap(), Action::Pull),
    ];
    let foreign = elsewhere.issue("reader", &catalog_and_public).unwrap();
    let expected = json!(["public/x"]);
    assert_eq!(
        listed_with_token(&app, &foreign.token).await,
        (expected.clone(), expected)
    );
    // An admin's token of another issuer does not list everything either.
    let foreign_admin = elsewhere.issue("admin", &[Access::catalog()]).unwrap();
    assert_eq!(
        listed_with_token(&app, &foreign_admin.token).await,
        (json!([]), json!([]))
    );
    // This registry's admin token lists everything.
    let reply = app
        .get_as(Role::Admin, "/berth/v1/token?scope=registry:catalog:*")
        .await;
    let admin = reply.json()["token"].as_str().unwrap().to_owned();
    let all = json!(["aaa/hidden", "other/repo", "public/x", REPO]);
    assert_eq!(listed_with_token(&app, &admin).await, (all.clone(), all));
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
