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
    assert!(tags
        .header("www-authenticate")
        .contains("insufficient_scope"));

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

/// Repositories an anonymous caller and the reader may not pull, around the two they may:
/// `public/x` after 2,000 hidden names and `team/app` after 1,000 more.
fn spread_out_repositories() -> Vec<String> {
    let hidden = |prefix: &str, count: usize| {
        (0..count)
            .map(|i| format!("{prefix}/{i:04}"))
            .collect::<Vec<_>>()
    };
    let mut names = hidden("a", 2000);
    names.push("public/x".into());
    names.extend(hidden("q", 1000));
    names.push(REPO.into());
    names.push("zzz/hidden".into());
    names
}

/// Pushes a one-blob image under tag `v1` in each of `names`, through `registry` itself (the
/// same blob, mounted), which is much quicker than thousands of requests.
async fn push_images(registry: &Registry, names: &[String]) {
    let config = b"{}";
    let digest = Digest::sha256_of(config);
    let manifest = Bytes::from(image_manifest(&digest, &[]));
    let mut first: Option<berth_oci::RepoName> = None;
    for name in names {
        let repo: berth_oci::RepoName = name.parse().unwrap();
        match &first {
            None => {
                let body = futures::stream::iter([Ok(Bytes::from_static(config))]);
                registry
                    .upload_monolithic(&repo, &digest, Some(2), Box::pin(body))
                    .await
                    .unwrap();
                first = Some(repo.clone());
            }
            Some(from) => {
                let mounted = registry.mount_blob(&repo, &digest, Some(from)).await;
                assert!(
                    matches!(mounted, Ok(berth_registry::MountOutcome::Mounted)),
                    "{mounted:?}"
                );
            }
        }
        let target = berth_registry::ManifestTarget {
            reference: berth_oci::Reference::Tag("v1".parse().unwrap()),
            extra_tags: Vec::new(),
            precondition: None,
        };
        registry
            .put_manifest(&repo, target, Some(OCI_MANIFEST), manifest.clone())
            .await
            .unwrap();
    }
}

/// Follows a listing from `uri` page by page, as `role`: the names of every page in order
/// (`names` reads them from a page) and the `last` each page's `Link` gave, if any. Checks
/// that no page holds more than `n` and that the browse API's `next` agrees with `Link`.
async fn follow_pages(
    app: &TestApp,
    role: Role,
    uri: &str,
    n: usize,
    names: impl Fn(&Value) -> Vec<String>,
) -> Vec<(Vec<String>, Option<String>)> {
    let mut pages = Vec::new();
    let mut uri = Some(uri.to_owned());
    while let Some(current) = uri {
        assert!(pages.len() < 100, "the pages never end: {pages:?}");
        let reply = app.get_as(role, &current).await;
        reply.assert_status(StatusCode::OK);
        let body = reply.json();
        let listed = names(&body);
        assert!(listed.len() <= n, "{current}: {listed:?}");
        uri = next_link(&reply);
        let last = uri.as_ref().map(|link| {
            let (_, last) = link.split_once("last=").unwrap();
            last.replace("%2F", "/")
        });
        if let Some(next) = body.get("next") {
            assert_eq!(next.as_str(), last.as_deref(), "{current}: {body}");
        }
        pages.push((listed, last));
    }
    pages
}

fn catalog_names(body: &Value) -> Vec<String> {
    serde_json::from_value(body["repositories"].clone()).unwrap()
}

fn browse_names(body: &Value) -> Vec<String> {
    body["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn filtered_listings_examine_a_bounded_number_of_names_per_request() {
    // The names a filtered listing examines per request in tests (`LISTING_BUDGET` of
    // `handlers::discovery`; 10,000 outside tests).
    let budget = 1_000;
    let app = secured_app().await;
    let dir = app._dir.path();
    let blobs = FsBlobStore::open(dir.join("blobs")).await.unwrap();
    let meta = SqliteMetadataStore::open(&dir.join("meta.db"))
        .await
        .unwrap();
    let registry = Registry::new(Arc::new(blobs), Arc::new(meta), RegistryConfig::default());
    let all = spread_out_repositories();
    push_images(&registry, &all).await;
    // The same repositories without access control.
    let open = TestApp {
        _dir: tempfile::tempdir().unwrap(),
        router: crate::observed_router(
            registry,
            test_status(),
            Auth::open(),
            crate::RouterOptions::default(),
        ),
    };

    for (path, names) in [
        ("/v2/_catalog", catalog_names as fn(&Value) -> Vec<String>),
        ("/berth/v1/repositories", browse_names),
    ] {
        let paged = |n: usize| format!("{path}?n={n}");
        // Anonymous: `public/x` alone. Each request stops after `budget` names: the first
        // two pages are empty but go on from the last name they examined.
        let pages = follow_pages(&app, Role::Anonymous, &paged(10), 10, names).await;
        assert_eq!(all[budget - 1], "a/0999");
        let expected = [
            (vec![], Some(all[budget - 1].clone())),
            (vec![], Some(all[2 * budget - 1].clone())),
            (
                vec!["public/x".to_owned()],
                Some(all[3 * budget - 1].clone()),
            ),
            (vec![], None),
        ];
        assert_eq!(pages, expected, "{path}");

        // The reader: `public/x` and `team/app`, in order, however the pages fall, also one
        // repository a page.
        for n in [10, 1] {
            let pages = follow_pages(&app, Role::Reader, &paged(n), n, names).await;
            let seen: Vec<String> = pages.iter().flat_map(|(n, _)| n.clone()).collect();
            assert_eq!(seen, ["public/x", REPO], "{path} n={n}: {pages:?}");
            assert!(pages.iter().any(|(n, last)| n.is_empty() && last.is_some()));
            assert!(pages.len() <= all.len() / budget + 2, "{pages:?}");
        }

        // Whoever may see everything gets full pages, the admin as an open registry does.
        for (app, role) in [(&app, Role::Admin), (&open, Role::Anonymous)] {
            let pages = follow_pages(app, role, &paged(1000), 1000, names).await;
            let sizes: Vec<usize> = pages.iter().map(|(n, _)| n.len()).collect();
            assert_eq!(sizes, [1000, 1000, 1000, 3], "{path} as {role:?}");
            let seen: Vec<String> = pages.into_iter().flat_map(|(n, _)| n).collect();
            assert_eq!(seen, all, "{path} as {role:?}");
        }
    }
    // The whole catalog in one page, without access control.
    let whole = open.get("/v2/_catalog").await;
    assert_eq!(catalog_names(&whole.json()), all);
    assert_eq!(next_link(&whole), None);
}
