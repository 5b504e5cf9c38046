//! Request targets as the router sees them: `Endpoint::parse` on the URI's path,
//! `Query::parse` on its query, then what the auth layer asks of the endpoint for a method.
//! Nothing may panic, and every name an endpoint carries must be a valid one.

#![no_main]

use arbitrary::Arbitrary;
use berth_http::endpoint::Endpoint;
use berth_http::query::Query;
use http::Method;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    method: u8,
    /// The request target, `path?query`, as it arrives on the request line.
    target: String,
}

const METHODS: [Method; 8] = [
    Method::GET,
    Method::HEAD,
    Method::PUT,
    Method::POST,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
    Method::TRACE,
];

fuzz_target!(|input: Input| {
    let method = &METHODS[usize::from(input.method) % METHODS.len()];
    // The raw text, as if a path reached the parser undecoded by `http`.
    check(method, &input.target, None);
    // The path and query `http` splits a valid request target into, as the server does.
    if let Ok(uri) = input.target.parse::<http::Uri>() {
        check(method, uri.path(), uri.query());
    }
});

fn check(method: &Method, path: &str, query: Option<&str>) {
    let query = Query::parse(query);
    let Ok(endpoint) = Endpoint::parse(path) else {
        return;
    };
    assert!(!endpoint.allowed_methods().is_empty());
    for access in endpoint.accesses(method, &query) {
        let _ = access.to_string();
    }
    let _ = endpoint.mount_source(method, &query);
    let repo = match &endpoint {
        Endpoint::Tags { repo }
        | Endpoint::Manifest { repo, .. }
        | Endpoint::Blob { repo, .. }
        | Endpoint::Uploads { repo }
        | Endpoint::Upload { repo, .. }
        | Endpoint::Referrers { repo, .. }
        | Endpoint::OrasReferrers { repo, .. }
        | Endpoint::ReferrersGraph { repo, .. } => repo,
        _ => return,
    };
    // A parsed name is one the parser accepts again, unchanged, and one the path contains.
    assert_eq!(
        repo.as_str().parse::<berth_oci::RepoName>().as_ref(),
        Ok(repo)
    );
    assert!(path.contains(repo.as_str()), "{path:?} names {repo}");
}
