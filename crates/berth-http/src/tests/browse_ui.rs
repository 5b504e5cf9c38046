//! The web UI's routes (on and off) and the OpenAPI document: it parses, and the router
//! answers every path it names.

use super::*;

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
                   script-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
                   form-action 'self'";

fn assert_ui_headers(reply: &Reply) {
    assert_eq!(reply.header("content-security-policy"), CSP);
    assert_eq!(reply.header("x-content-type-options"), "nosniff");
    assert_eq!(reply.header("cache-control"), "no-cache");
    assert_eq!(reply.header("referrer-policy"), "same-origin");
}

#[tokio::test]
async fn the_ui_is_served_as_a_single_page_app() {
    let app = TestApp::new().await;
    let index = app.get("/ui/").await;
    index.assert_status(StatusCode::OK);
    assert_eq!(index.header("content-type"), "text/html; charset=utf-8");
    assert_ui_headers(&index);
    assert!(
        String::from_utf8_lossy(&index.body).contains("<html"),
        "{index:?}"
    );
    // A path that names no file is the app's route: the same page, whatever it holds (the
    // page reports what it cannot read); none reaches a file outside the embedded ones.
    for route in [
        "/ui/repositories/team/app",
        "/ui/no-such-file.js",
        "/ui/%ff%fe",
        "/ui/a%80b",
        "/ui/%2e%2e/Cargo.toml",
        "/ui/..%2fCargo.toml",
    ] {
        let reply = app.get(route).await;
        reply.assert_status(StatusCode::OK);
        assert_eq!(reply.body, index.body, "{route}");
        assert_ui_headers(&reply);
    }
    // Every other embedded file with the type of its extension.
    for name in crate::ui::files().filter(|f| f != "index.html") {
        let reply = app.get(&format!("/ui/{name}")).await;
        reply.assert_status(StatusCode::OK);
        assert_ui_headers(&reply);
        let expected = match name.rsplit_once('.').map(|(_, e)| e) {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("svg") => "image/svg+xml",
            Some("html") => "text/html; charset=utf-8",
            _ => continue,
        };
        assert_eq!(reply.header("content-type"), expected, "{name}");
        assert_ne!(reply.body, index.body, "{name}");
    }
    // Revalidation: the ETag answers 304.
    let etag = index.header("etag").to_owned();
    let again = app
        .send(
            Method::GET,
            "/ui/",
            &[("if-none-match", &etag)],
            Bytes::new(),
        )
        .await;
    again.assert_status(StatusCode::NOT_MODIFIED);
    let head = app.head("/ui/").await;
    head.assert_status(StatusCode::OK);
    for (path, to) in [("/", "/ui/"), ("/ui", "/ui/")] {
        let reply = app.get(path).await;
        reply.assert_status(StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(reply.header("location"), to);
    }
    let post = app.post("/ui/").await;
    post.assert_error(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED");
}

#[tokio::test]
async fn browse_answers_are_never_stored_by_caches() {
    let app = TestApp::new().await;
    for path in ["/berth/v1/session", "/berth/v1/repositories"] {
        let reply = app.get(path).await;
        reply.assert_status(StatusCode::OK);
        assert_eq!(reply.header("cache-control"), "no-store", "{path}");
        assert_eq!(reply.header("x-content-type-options"), "nosniff", "{path}");
    }
    let missing = app.get("/berth/v1/tags?repository=no/such").await;
    assert_eq!(missing.header("cache-control"), "no-store");
}

#[tokio::test]
async fn the_ui_needs_no_authorization_but_its_api_does() {
    let app = TestApp::with_auth(super::auth::auth_in).await;
    let index = app.get("/ui/").await;
    index.assert_status(StatusCode::OK);
    app.get("/ui/anything").await.assert_status(StatusCode::OK);
    let tags = app.get("/berth/v1/tags?repository=team/app").await;
    tags.assert_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
}

#[tokio::test]
async fn with_the_ui_off_its_paths_are_404() {
    let options = crate::RouterOptions {
        metrics: None,
        ui: false,
    };
    let app = TestApp::configured(RegistryConfig::default(), options).await;
    for path in ["/", "/ui", "/ui/", "/ui/app.js", "/ui/repositories/x"] {
        app.get(path)
            .await
            .assert_error(StatusCode::NOT_FOUND, "UNSUPPORTED");
    }
    // The API stays.
    app.get("/berth/v1/session")
        .await
        .assert_status(StatusCode::OK);
}

/// A value for a path parameter of the document.
fn example(parameter: &str) -> String {
    match parameter {
        "name" => "library".into(),
        "digest" => Digest::sha256_of(b"anything").to_string(),
        other => panic!("the test has no example for the path parameter {other}"),
    }
}

#[tokio::test]
async fn the_openapi_document_parses_and_names_only_answered_paths() {
    let app = TestApp::new().await;
    let reply = app.get("/berth/v1/openapi.json").await;
    reply.assert_status(StatusCode::OK);
    assert_eq!(reply.header("content-type"), "application/json");
    let document = reply.json();
    assert_eq!(document["openapi"], "3.0.3");
    let served: Value = serde_json::from_str(include_str!("../handlers/openapi.json")).unwrap();
    assert_eq!(document, served);
    let paths = document["paths"].as_object().unwrap();
    for expected in [
        "/berth/v1/session",
        "/berth/v1/repositories",
        "/berth/v1/tags",
        "/berth/v1/manifest",
        "/berth/v1/deletion-preview",
        "/berth/v1/openapi.json",
        "/v2/{name}/_berth/referrers-graph/{digest}",
    ] {
        assert!(paths.contains_key(expected), "{expected} is documented");
    }
    for (template, operations) in paths {
        let mut path = template.clone();
        while let Some(start) = path.find('{') {
            let end = path[start..].find('}').unwrap() + start;
            let value = example(&path[start + 1..end]);
            path.replace_range(start..=end, &value);
        }
        for method in operations.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let reply = app.send_empty(method.clone(), &path).await;
            let unknown = reply.status == StatusCode::NOT_FOUND
                && reply.json()["errors"][0]["message"] == "no such endpoint";
            assert!(
                !unknown,
                "{method} {path} is documented but no endpoint answers it"
            );
            assert_ne!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
        }
    }
    // Every `$ref` names a component that exists.
    let text = serde_json::to_string(&document).unwrap();
    for reference in text.split("\"$ref\":\"#/").skip(1) {
        let pointer = reference.split('"').next().unwrap();
        assert!(
            document.pointer(&format!("/{pointer}")).is_some(),
            "{pointer} is referenced but not defined"
        );
    }
}
