//! Path parsing and the access each endpoint needs.

use super::*;

const DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn repo(s: &str) -> RepoName {
    s.parse().unwrap()
}

#[test]
fn parses_every_endpoint() {
    assert_eq!(Endpoint::parse("/v2/"), Ok(Endpoint::ApiVersion));
    assert_eq!(Endpoint::parse("/v2"), Ok(Endpoint::ApiVersion));
    assert_eq!(Endpoint::parse("/v2/_catalog"), Ok(Endpoint::Catalog));
    assert_eq!(
        Endpoint::parse("/v2/a/b/tags/list"),
        Ok(Endpoint::Tags { repo: repo("a/b") })
    );
    assert_eq!(
        Endpoint::parse("/v2/a/manifests/latest"),
        Ok(Endpoint::Manifest {
            repo: repo("a"),
            reference: Ok("latest".parse().unwrap())
        })
    );
    assert_eq!(
        Endpoint::parse(&format!("/v2/x/blobs/y/blobs/{DIGEST}")),
        Ok(Endpoint::Blob {
            repo: repo("x/blobs/y"),
            digest: DIGEST.parse().unwrap()
        })
    );
    assert_eq!(
        Endpoint::parse("/v2/a/blobs/uploads/"),
        Ok(Endpoint::Uploads { repo: repo("a") })
    );
    assert_eq!(
        Endpoint::parse("/v2/a/blobs/uploads"),
        Ok(Endpoint::Uploads { repo: repo("a") })
    );
    let id = "0b1e5cfa-3f6b-4a3c-9f0e-2d3c4b5a6978";
    assert_eq!(
        Endpoint::parse(&format!("/v2/a/blobs/uploads/{id}")),
        Ok(Endpoint::Upload {
            repo: repo("a"),
            id: id.parse().unwrap()
        })
    );
    let encoded = DIGEST.replace(':', "%3A");
    assert!(matches!(
        Endpoint::parse(&format!("/v2/a/blobs/{encoded}")),
        Ok(Endpoint::Blob { .. })
    ));
}

#[test]
fn parses_administration_endpoints() {
    assert_eq!(
        Endpoint::parse("/berth/v1/gc"),
        Ok(Endpoint::CollectGarbage)
    );
    assert_eq!(Endpoint::parse("/berth/v1/status"), Ok(Endpoint::Status));
    assert_eq!(Endpoint::parse("/berth/v1/scrub"), Ok(Endpoint::Scrub));
    assert_eq!(Endpoint::Scrub.allowed_methods(), "POST");
    assert_eq!(Endpoint::parse("/berth/v1/usage"), Ok(Endpoint::Usage));
    assert_eq!(Endpoint::Usage.allowed_methods(), "GET, HEAD");
    assert_eq!(Endpoint::parse("/berth/v1/events"), Ok(Endpoint::Events));
    assert_eq!(Endpoint::Events.allowed_methods(), "GET, HEAD");
    assert_eq!(Endpoint::Status.allowed_methods(), "GET, HEAD");
    assert_eq!(
        Endpoint::parse("/berth/v1/status/"),
        Err(EndpointError::NotFound)
    );
}

#[test]
fn parses_extension_endpoints() {
    assert_eq!(
        Endpoint::parse("/v2/_oci/ext/discover"),
        Ok(Endpoint::Discover)
    );
    assert_eq!(
        Endpoint::parse("/v2/a/b/_oci/ext/discover"),
        Ok(Endpoint::Discover)
    );
    assert_eq!(
        Endpoint::parse("/v2/a/b/_oras/artifacts/referrers"),
        Ok(Endpoint::OrasReferrers {
            repo: repo("a/b"),
            digest: None
        })
    );
    assert_eq!(
        Endpoint::parse(&format!(
            "/oras/artifacts/v1/a/b/manifests/{DIGEST}/referrers"
        )),
        Ok(Endpoint::OrasReferrers {
            repo: repo("a/b"),
            digest: Some(DIGEST.parse().unwrap())
        })
    );
    assert_eq!(
        Endpoint::parse(&format!("/v2/a/_berth/referrers-graph/{DIGEST}")),
        Ok(Endpoint::ReferrersGraph {
            repo: repo("a"),
            digest: DIGEST.parse().unwrap()
        })
    );
    assert_eq!(
        Endpoint::parse(&format!("/v2/a/referrers/{DIGEST}")),
        Ok(Endpoint::Referrers {
            repo: repo("a"),
            digest: DIGEST.parse().unwrap()
        })
    );
}

#[test]
fn rejects_bad_paths_with_the_right_error() {
    assert_eq!(Endpoint::parse("/v1/"), Err(EndpointError::NotFound));
    assert_eq!(
        Endpoint::parse("/v2/a/unknown/thing"),
        Err(EndpointError::NotFound)
    );
    assert_eq!(
        Endpoint::parse("/v2/manifests/latest"),
        Err(EndpointError::NotFound)
    );
    assert!(matches!(
        Endpoint::parse("/v2/../etc/manifests/latest"),
        Err(EndpointError::Invalid(OciError::NameInvalid(..)))
    ));
    assert!(matches!(
        Endpoint::parse("/v2/A/manifests/latest"),
        Err(EndpointError::Invalid(OciError::NameInvalid(..)))
    ));
    assert!(matches!(
        Endpoint::parse("/v2/a%2F..%2Fb/tags/list"),
        Err(EndpointError::Invalid(OciError::NameInvalid(..)))
    ));
    assert!(matches!(
        Endpoint::parse("/v2/a/blobs/sha256:xyz"),
        Err(EndpointError::Invalid(OciError::DigestInvalid(_)))
    ));
    assert!(matches!(
        Endpoint::parse("/v2/a/manifests/-bad"),
        Ok(Endpoint::Manifest {
            reference: Err(OciError::TagInvalid(_)),
            ..
        })
    ));
    assert!(matches!(
        Endpoint::parse("/v2/a/manifests/sha256:short"),
        Err(EndpointError::Invalid(OciError::DigestInvalid(_)))
    ));
    assert_eq!(
        Endpoint::parse("/v2/a/blobs/uploads/../../x"),
        Err(EndpointError::NotFound)
    );
    assert_eq!(
        Endpoint::parse("/v2/a/blobs/uploads/not-a-uuid"),
        Err(EndpointError::UploadIdInvalid)
    );
}

#[test]
fn endpoints_say_which_access_they_need() {
    use http::Method;
    let none = Query::default();
    let access =
        |path: &str, method: Method| Endpoint::parse(path).unwrap().accesses(&method, &none);
    let repo_access = |name: &str, action| vec![Access::repository(repo(name), action)];
    let manifest = "/v2/a/b/manifests/latest";
    assert_eq!(
        access(manifest, Method::GET),
        repo_access("a/b", Action::Pull)
    );
    assert_eq!(
        access(manifest, Method::HEAD),
        repo_access("a/b", Action::Pull)
    );
    assert_eq!(
        access(manifest, Method::PUT),
        repo_access("a/b", Action::Push)
    );
    assert_eq!(
        access(manifest, Method::DELETE),
        repo_access("a/b", Action::Delete)
    );
    let blob = format!("/v2/a/blobs/{DIGEST}");
    assert_eq!(access(&blob, Method::GET), repo_access("a", Action::Pull));
    assert_eq!(
        access(&blob, Method::DELETE),
        repo_access("a", Action::Delete)
    );
    assert_eq!(
        access("/v2/a/tags/list", Method::GET),
        repo_access("a", Action::Pull)
    );
    assert_eq!(
        access(&format!("/v2/a/referrers/{DIGEST}"), Method::GET),
        repo_access("a", Action::Pull)
    );
    assert_eq!(
        access(
            &format!("/v2/a/_berth/referrers-graph/{DIGEST}"),
            Method::GET
        ),
        repo_access("a", Action::Pull)
    );
    assert_eq!(
        access("/v2/a/_oras/artifacts/referrers", Method::GET),
        repo_access("a", Action::Pull)
    );
    assert_eq!(
        access("/v2/a/blobs/uploads/", Method::POST),
        repo_access("a", Action::Push)
    );
    let upload = "/v2/a/blobs/uploads/0b1e5cfa-3f6b-4a3c-9f0e-2d3c4b5a6978";
    assert_eq!(access(upload, Method::GET), repo_access("a", Action::Push));
    assert_eq!(
        access(upload, Method::DELETE),
        repo_access("a", Action::Push)
    );
    assert_eq!(access("/v2/_catalog", Method::GET), vec![Access::catalog()]);
    assert_eq!(
        access("/berth/v1/gc", Method::GET),
        vec![Access::admin(Action::Pull)]
    );
    assert_eq!(
        access("/berth/v1/scrub", Method::POST),
        vec![Access::admin(Action::Push)]
    );
    assert_eq!(
        access("/berth/v1/usage", Method::GET),
        vec![Access::admin(Action::Pull)]
    );
    assert_eq!(
        access("/berth/v1/gc", Method::POST),
        vec![Access::admin(Action::Push)]
    );
    assert_eq!(
        access("/berth/v1/status", Method::GET),
        vec![Access::admin(Action::Pull)]
    );
    assert_eq!(
        access("/berth/v1/events", Method::GET),
        vec![Access::admin(Action::Pull)]
    );
    for open in [
        "/v2/",
        "/v2/_oci/ext/discover",
        "/v2/a/_oci/ext/discover",
        GRAPH_DOC_PATH,
    ] {
        assert_eq!(access(open, Method::GET), Vec::new(), "{open}");
    }
}

#[test]
fn a_mount_needs_pull_on_its_source_only_optionally() {
    use http::Method;
    let uploads = Endpoint::parse("/v2/a/blobs/uploads/").unwrap();
    let mount = Query::parse(Some(&format!("mount={DIGEST}&from=b/c")));
    assert_eq!(
        uploads.accesses(&Method::POST, &mount),
        vec![Access::repository(repo("a"), Action::Push)]
    );
    assert_eq!(
        uploads.mount_source(&Method::POST, &mount),
        Some(Access::repository(repo("b/c"), Action::Pull))
    );
    let no_from = Query::parse(Some(&format!("mount={DIGEST}")));
    assert_eq!(uploads.mount_source(&Method::POST, &no_from), None);
    assert_eq!(uploads.mount_source(&Method::POST, &Query::default()), None);
    let bad_from = Query::parse(Some(&format!("mount={DIGEST}&from=UPPER")));
    assert_eq!(uploads.mount_source(&Method::POST, &bad_from), None);
}

#[test]
fn parses_the_browse_endpoints() {
    for (path, endpoint) in [
        ("/berth/v1/session", Endpoint::Session),
        ("/berth/v1/repositories", Endpoint::BrowseRepositories),
        ("/berth/v1/tags", Endpoint::BrowseTags),
        ("/berth/v1/manifest", Endpoint::BrowseManifest),
        ("/berth/v1/deletion-preview", Endpoint::DeletionPreview),
        (OPENAPI_PATH, Endpoint::OpenApi),
    ] {
        assert_eq!(Endpoint::parse(path), Ok(endpoint.clone()), "{path}");
        assert_eq!(endpoint.allowed_methods(), "GET, HEAD");
    }
    for path in [
        "/berth/v1/tags/",
        "/berth/v1/manifests",
        "/berth/v1/",
        "/berth/v1",
    ] {
        assert_eq!(
            Endpoint::parse(path),
            Err(EndpointError::NotFound),
            "{path}"
        );
    }
}

#[test]
fn browse_endpoints_need_pull_on_the_repository_of_their_query() {
    use http::Method;
    let access = |path: &str, query: &str| {
        Endpoint::parse(path)
            .unwrap()
            .accesses(&Method::GET, &Query::parse(Some(query)))
    };
    let pull = |name: &str| vec![Access::repository(repo(name), Action::Pull)];
    for path in [
        "/berth/v1/tags",
        "/berth/v1/manifest",
        "/berth/v1/deletion-preview",
    ] {
        assert_eq!(access(path, "repository=a/b&reference=v1"), pull("a/b"));
        assert_eq!(access(path, "repository=a%2Fb"), pull("a/b"));
        // No valid name: nothing is needed, and the handler refuses the request.
        for bad in [
            "",
            "repository=",
            "repository=UPPER",
            "repository=a&repository=b",
        ] {
            assert_eq!(access(path, bad), Vec::new(), "{path}?{bad}");
            assert!(
                browse_repository(&Query::parse(Some(bad))).is_err(),
                "{bad}"
            );
        }
    }
    assert_eq!(
        access("/berth/v1/repositories", "q=a"),
        vec![Access::catalog()]
    );
    assert_eq!(access("/berth/v1/session", ""), Vec::new());
    assert_eq!(access(OPENAPI_PATH, ""), Vec::new());
    assert_eq!(
        browse_repository(&Query::parse(Some("repository=team/app"))).unwrap(),
        repo("team/app")
    );
}
