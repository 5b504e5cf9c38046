//! The browse API under access control: the repository listing shows only what the caller
//! may pull, `permissions` and the session follow the policy, and refused callers get the
//! usual 401 challenge or 403.

use super::*;

#[tokio::test]
async fn the_repository_listing_hides_what_the_caller_may_not_pull() {
    let app = secured_app().await;
    for repo in ["aaa/hidden", "other/repo", "public/x", REPO, "zzz/hidden"] {
        app.admin_image(repo).await;
    }
    let names = |role| {
        let app = &app;
        async move {
            let reply = app.get_as(role, "/berth/v1/repositories").await;
            reply.assert_status(StatusCode::OK);
            crate::tests::browse::repository_names(&reply)
        }
    };
    assert_eq!(names(Role::Anonymous).await, ["public/x"]);
    assert_eq!(names(Role::Reader).await, ["public/x", REPO]);
    assert_eq!(names(Role::OtherWriter).await, ["other/repo", "public/x"]);
    assert_eq!(names(Role::Writer).await, ["public/x", REPO]);
    assert_eq!(
        names(Role::Admin).await,
        ["aaa/hidden", "other/repo", "public/x", REPO, "zzz/hidden"]
    );
    // Pages count what the caller sees, however many hidden names lie between.
    let first = app.get_as(Role::Reader, "/berth/v1/repositories?n=1").await;
    assert_eq!(crate::tests::browse::repository_names(&first), ["public/x"]);
    let next = next_link(&first).unwrap();
    let second = app.get_as(Role::Reader, &next).await;
    assert_eq!(crate::tests::browse::repository_names(&second), [REPO]);
    assert_eq!(next_link(&second), None, "{second:?}");
    let filtered = app
        .get_as(Role::Reader, "/berth/v1/repositories?q=hidden")
        .await;
    assert_eq!(
        crate::tests::browse::repository_names(&filtered),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn permissions_come_from_the_policy() {
    let app = secured_app().await;
    app.admin_image(REPO).await;
    app.admin_image("public/x").await;
    let permissions = |role, repo: &'static str| {
        let app = &app;
        async move {
            let tags = app
                .get_as(role, &format!("/berth/v1/tags?repository={repo}"))
                .await;
            tags.assert_status(StatusCode::OK);
            let manifest = app
                .get_as(
                    role,
                    &format!("/berth/v1/manifest?repository={repo}&reference=v1"),
                )
                .await;
            assert_eq!(manifest.json()["permissions"], tags.json()["permissions"]);
            tags.json()["permissions"].clone()
        }
    };
    let only_pull = json!({"pull": true, "push": false, "delete": false});
    let all = json!({"pull": true, "push": true, "delete": true});
    assert_eq!(permissions(Role::Reader, REPO).await, only_pull);
    assert_eq!(permissions(Role::Writer, REPO).await, all);
    assert_eq!(permissions(Role::Admin, REPO).await, all);
    assert_eq!(permissions(Role::Anonymous, "public/x").await, only_pull);
    assert_eq!(permissions(Role::OtherWriter, "public/x").await, only_pull);
}

#[tokio::test]
async fn refused_callers_get_a_challenge_or_403() {
    let app = secured_app().await;
    app.admin_image(REPO).await;
    for uri in [
        format!("/berth/v1/tags?repository={REPO}"),
        format!("/berth/v1/manifest?repository={REPO}&reference=v1"),
        format!("/berth/v1/deletion-preview?repository={REPO}&reference=v1"),
    ] {
        let anonymous = app.get_as(Role::Anonymous, &uri).await;
        assert_challenge(&anonymous, Some(&format!("repository:{REPO}:pull")));
        app.get_as(Role::OtherWriter, &uri)
            .await
            .assert_error(StatusCode::FORBIDDEN, "DENIED");
        // A repository that does not exist is refused alike: its existence is not told.
        let hidden = uri.replace(REPO, "team/absent");
        app.get_as(Role::OtherWriter, &hidden)
            .await
            .assert_error(StatusCode::FORBIDDEN, "DENIED");
    }
    // A name that is no name needs no access: refused as a bad parameter.
    app.get_as(Role::Anonymous, "/berth/v1/tags?repository=NOT..A..NAME")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "NAME_INVALID");
}

#[tokio::test]
async fn the_session_says_who_the_caller_is() {
    let app = secured_app().await;
    let session = |role| {
        let app = &app;
        async move {
            let reply = app.get_as(role, "/berth/v1/session").await;
            reply.assert_status(StatusCode::OK);
            reply.json()
        }
    };
    let expected = |user: Option<&str>, admin: bool| json!({"user": user, "admin": admin, "authEnabled": true, "tokenUrl": "/berth/v1/token"});
    assert_eq!(session(Role::Anonymous).await, expected(None, false));
    assert_eq!(session(Role::Reader).await, expected(Some("reader"), false));
    assert_eq!(session(Role::Admin).await, expected(Some("admin"), true));
    // Wrong credentials are refused, so that a login can be checked with the session.
    let wrong = basic("reader", "not the password");
    let reply = app
        .send(
            Method::GET,
            "/berth/v1/session",
            &[("authorization", &wrong)],
            Bytes::new(),
        )
        .await;
    assert_challenge(&reply, None);
}
