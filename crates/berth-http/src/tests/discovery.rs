//! Content discovery: tag lists and the catalog, with `n`/`last` pagination and `Link`.

use super::*;

/// Tags in the order the spec asks for: lexical, case-insensitive.
const SORTED_TAGS: [&str; 5] = ["alpha", "Beta", "latest", "v1", "V2"];

/// `app` with one manifest under every tag of `SORTED_TAGS`, pushed out of order.
async fn tagged_repository() -> TestApp {
    let app = TestApp::new().await;
    let image = app.push_image("app", "latest", "tags").await;
    for tag in ["V2", "v1", "alpha", "Beta"] {
        app.push_manifest("app", tag, OCI_MANIFEST, &image.body)
            .await;
    }
    app
}

/// Follows `Link` headers from `uri`; returns every page's entries under `key`.
async fn all_pages(app: &TestApp, uri: &str, key: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut next = Some(uri.to_owned());
    while let Some(uri) = next {
        let reply = app.get(&uri).await;
        reply.assert_status(StatusCode::OK);
        let page = serde_json::from_value(reply.json()[key].clone()).unwrap();
        pages.push(page);
        next = next_link(&reply);
        assert!(pages.len() <= 10, "pagination does not end");
    }
    pages
}

#[tokio::test]
async fn tags_are_listed_in_lexical_order() {
    let app = tagged_repository().await;
    let reply = app.get("/v2/app/tags/list").await;
    reply.assert_status(StatusCode::OK);
    assert_eq!(reply.header("content-type"), "application/json");
    assert_eq!(reply.json(), json!({"name": "app", "tags": SORTED_TAGS}));
    assert!(reply.headers.get(header::LINK).is_none());
}

#[tokio::test]
async fn tags_of_a_nested_repository_carry_its_full_name() {
    let app = TestApp::new().await;
    app.push_image("team/project/app", "v1", "nested").await;
    let reply = app.get("/v2/team/project/app/tags/list").await;
    assert_eq!(
        reply.json(),
        json!({"name": "team/project/app", "tags": ["v1"]})
    );
}

#[tokio::test]
async fn tags_n_limits_the_page_and_link_continues_the_listing() {
    let app = tagged_repository().await;
    let first = app.get("/v2/app/tags/list?n=2").await;
    assert_eq!(first.json()["tags"], json!(["alpha", "Beta"]));
    assert_eq!(
        next_link(&first).as_deref(),
        Some("/v2/app/tags/list?n=2&last=Beta")
    );
    let pages = all_pages(&app, "/v2/app/tags/list?n=2", "tags").await;
    assert_eq!(
        pages,
        [vec!["alpha", "Beta"], vec!["latest", "v1"], vec!["V2"]]
    );
}

#[tokio::test]
async fn tags_page_that_reaches_the_end_has_no_link() {
    let app = tagged_repository().await;
    for n in [5, 6, 1000] {
        let reply = app.get(&format!("/v2/app/tags/list?n={n}")).await;
        assert_eq!(reply.json()["tags"], json!(SORTED_TAGS), "n={n}");
        assert!(reply.headers.get(header::LINK).is_none(), "n={n}");
    }
    let reply = app.get("/v2/app/tags/list?n=4").await;
    assert_eq!(reply.json()["tags"], json!(&SORTED_TAGS[..4]));
    assert!(next_link(&reply).is_some());
}

#[tokio::test]
async fn tags_n_zero_is_an_empty_list_without_link() {
    let app = tagged_repository().await;
    let reply = app.get("/v2/app/tags/list?n=0").await;
    reply.assert_status(StatusCode::OK);
    assert_eq!(reply.json(), json!({"name": "app", "tags": []}));
    assert!(reply.headers.get(header::LINK).is_none());
}

#[tokio::test]
async fn tags_last_starts_after_the_given_tag() {
    let app = tagged_repository().await;
    let reply = app.get("/v2/app/tags/list?last=Beta").await;
    assert_eq!(reply.json()["tags"], json!(["latest", "v1", "V2"]));
    let reply = app.get("/v2/app/tags/list?n=1&last=latest").await;
    assert_eq!(reply.json()["tags"], json!(["v1"]));
    assert_eq!(
        next_link(&reply).as_deref(),
        Some("/v2/app/tags/list?n=1&last=v1")
    );
    let reply = app.get("/v2/app/tags/list?last=V2").await;
    assert_eq!(reply.json()["tags"], json!([]));
}

#[tokio::test]
async fn repository_with_blobs_only_has_an_empty_tag_list() {
    let app = TestApp::new().await;
    app.push_blob("app", b"blob").await;
    let reply = app.get("/v2/app/tags/list").await;
    reply.assert_status(StatusCode::OK);
    assert_eq!(reply.json(), json!({"name": "app", "tags": []}));
}

#[tokio::test]
async fn tags_of_an_unknown_repository_is_name_unknown() {
    let app = tagged_repository().await;
    let reply = app.get("/v2/ghost/tags/list").await;
    reply.assert_error(StatusCode::NOT_FOUND, "NAME_UNKNOWN");
}

#[tokio::test]
async fn invalid_n_is_400() {
    let app = tagged_repository().await;
    for n in ["abc", "-1", "1.5", "99999999999"] {
        for uri in [
            format!("/v2/app/tags/list?n={n}"),
            format!("/v2/_catalog?n={n}"),
        ] {
            let reply = app.get(&uri).await;
            reply.assert_error(StatusCode::BAD_REQUEST, "UNSUPPORTED");
            let message = reply.json()["errors"][0]["message"].clone();
            assert!(
                message.as_str().unwrap().contains("is not a whole number"),
                "{uri}: {message}"
            );
        }
    }
}

#[tokio::test]
async fn catalog_lists_repositories_in_order_with_pagination() {
    let app = TestApp::new().await;
    for repo in ["b", "a/x", "c/d/e", "a"] {
        app.push_image(repo, "v1", repo).await;
    }
    let reply = app.get("/v2/_catalog").await;
    reply.assert_status(StatusCode::OK);
    assert_eq!(reply.header("content-type"), "application/json");
    assert_eq!(
        reply.json(),
        json!({"repositories": ["a", "a/x", "b", "c/d/e"]})
    );
    assert!(reply.headers.get(header::LINK).is_none());

    let first = app.get("/v2/_catalog?n=2").await;
    assert_eq!(
        next_link(&first).as_deref(),
        Some("/v2/_catalog?n=2&last=a%2Fx")
    );
    let pages = all_pages(&app, "/v2/_catalog?n=2", "repositories").await;
    assert_eq!(pages, [vec!["a", "a/x"], vec!["b", "c/d/e"]]);

    let reply = app.get("/v2/_catalog?last=a/x").await;
    assert_eq!(reply.json()["repositories"], json!(["b", "c/d/e"]));
    let reply = app.get("/v2/_catalog?n=0").await;
    assert_eq!(reply.json(), json!({"repositories": []}));
    assert!(reply.headers.get(header::LINK).is_none());
}

#[tokio::test]
async fn empty_registry_has_an_empty_catalog() {
    let app = TestApp::new().await;
    let reply = app.get("/v2/_catalog").await;
    reply.assert_status(StatusCode::OK);
    assert_eq!(reply.json(), json!({"repositories": []}));
}

#[tokio::test]
async fn tags_and_catalog_answer_head_like_get_without_a_body() {
    let app = tagged_repository().await;
    for uri in ["/v2/app/tags/list?n=2", "/v2/_catalog"] {
        let get = app.get(uri).await;
        let head = app.head(uri).await;
        head.assert_status(StatusCode::OK);
        assert!(head.body.is_empty());
        assert_eq!(head.header("content-type"), "application/json");
        assert_eq!(
            head.headers.get(header::LINK),
            get.headers.get(header::LINK),
            "{uri}"
        );
    }
    let reply = app.head("/v2/ghost/tags/list").await;
    reply.assert_error(StatusCode::NOT_FOUND, "NAME_UNKNOWN");
}

#[tokio::test]
async fn extension_urls_are_absolute_and_served() {
    let app = TestApp::new().await;
    for (headers, base) in [
        (
            vec![("host", "registry.example:5000")],
            "http://registry.example:5000",
        ),
        (
            vec![
                ("host", "10.0.0.7:5000"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "registry.example"),
            ],
            "https://registry.example",
        ),
    ] {
        let reply = app
            .send(Method::GET, "/v2/_oci/ext/discover", &headers, Bytes::new())
            .await;
        reply.assert_status(StatusCode::OK);
        let extensions = reply.json()["extensions"].clone();
        for extension in extensions.as_array().unwrap() {
            let url = extension["url"].as_str().unwrap();
            assert!(
                url.starts_with("https://") || url.starts_with("http://"),
                "{url}"
            );
            if extension["name"] == "_berth" {
                let path = url.strip_prefix(base).unwrap_or_else(|| panic!("{url}"));
                let doc = app.get(path).await;
                doc.assert_status(StatusCode::OK);
                assert!(doc.header("content-type").starts_with("text/markdown"));
                assert!(String::from_utf8_lossy(&doc.body).contains("_berth/referrers-graph"));
            }
        }
    }
}

/// The `_berth` extension's URL as `discover` answers `request`.
async fn graph_doc_url(app: &TestApp, request: Request<Body>) -> String {
    let reply = app.request(request).await;
    reply.assert_status(StatusCode::OK);
    let extensions = reply.json()["extensions"].clone();
    extensions
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "_berth")
        .and_then(|e| e["url"].as_str())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn extension_urls_follow_tls_and_http2_authorities() {
    let app = TestApp::new().await;
    let doc = "/berth/v1/extensions/referrers-graph";
    // HTTP/1.1 over TLS: the server marks the request, the client sends `Host`.
    let mut request = Request::get("/v2/_oci/ext/discover")
        .header("host", "registry.example:5443")
        .body(Body::empty())
        .unwrap();
    request.extensions_mut().insert(crate::ServedOverTls);
    assert_eq!(
        graph_doc_url(&app, request).await,
        format!("https://registry.example:5443{doc}")
    );
    // HTTP/2: scheme and authority in the URI, no `Host` header.
    let request = Request::get("https://registry.example:5443/v2/_oci/ext/discover")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        graph_doc_url(&app, request).await,
        format!("https://registry.example:5443{doc}")
    );
}

#[tokio::test]
async fn a_repository_whose_manifests_are_all_deleted_leaves_the_catalog() {
    let app = TestApp::new().await;
    let kept = app.push_image("kept", "v1", "k").await;
    let gone = app.push_image("gone", "v1", "g").await;
    assert_eq!(
        app.get("/v2/_catalog").await.json(),
        json!({"repositories": ["gone", "kept"]})
    );
    app.delete_manifest("gone", gone.digest.as_str()).await;
    assert_eq!(
        app.get("/v2/_catalog").await.json(),
        json!({"repositories": ["kept"]})
    );
    app.assert_image_intact("kept", "v1", &kept).await;
}

#[tokio::test]
async fn a_name_invalid_error_says_what_is_wrong() {
    let app = TestApp::new().await;
    for (uri, reason) in [
        (
            "/v2/Demo/UPPER/tags/list",
            "\\\"Demo\\\" contains upper-case letters",
        ),
        ("/v2/a__-b/tags/list", "one separator at a time"),
        ("/v2/a%20b/tags/list", "contains the character"),
    ] {
        let reply = app.get(uri).await;
        reply.assert_error(StatusCode::BAD_REQUEST, "NAME_INVALID");
        let message = reply.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        let reason = reason.replace("\\\"", "\"");
        assert!(message.contains(&reason), "{uri}: {message}");
        assert!(
            message.contains("lower-case letters and digits"),
            "{message}"
        );
    }
}
