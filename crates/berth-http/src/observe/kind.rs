//! The low-cardinality name of what a request asks for (the `endpoint` label of the HTTP
//! metrics and the access log's `endpoint` field), and its repository for the access log.

use berth_oci::RepoName;

use crate::endpoint::Endpoint;

/// Where Berth serves its metrics in the Prometheus text format.
pub const METRICS_PATH: &str = "/metrics";
/// Answers 200 whenever the process answers at all.
pub const LIVEZ_PATH: &str = "/livez";
/// Answers 200 only while both stores can serve, else 503.
pub const READYZ_PATH: &str = "/readyz";

impl Endpoint {
    /// The kind of request: `base` (`/v2/`), `catalog`, `tags`, `manifest`, `blob`,
    /// `blob_upload`, `referrers` (the OCI, ORAS and graph listings), `extension`
    /// (discovery and its documentation, the OpenAPI document), `admin`, `token`, `browse`
    /// (the web UI's JSON API).
    pub fn kind(&self) -> &'static str {
        match self {
            Endpoint::ApiVersion => "base",
            Endpoint::Catalog => "catalog",
            Endpoint::Tags { .. } => "tags",
            Endpoint::Manifest { .. } => "manifest",
            Endpoint::Blob { .. } => "blob",
            Endpoint::Uploads { .. } | Endpoint::Upload { .. } => "blob_upload",
            Endpoint::Referrers { .. }
            | Endpoint::OrasReferrers { .. }
            | Endpoint::ReferrersGraph { .. } => "referrers",
            Endpoint::Discover | Endpoint::ExtensionDoc | Endpoint::OpenApi => "extension",
            Endpoint::CollectGarbage
            | Endpoint::Status
            | Endpoint::Scrub
            | Endpoint::Usage
            | Endpoint::Events => "admin",
            Endpoint::Token => "token",
            Endpoint::Session
            | Endpoint::BrowseRepositories
            | Endpoint::BrowseTags
            | Endpoint::BrowseManifest
            | Endpoint::DeletionPreview => "browse",
        }
    }

    /// The repository the request names in its path, when it names one (the browse API names
    /// it in the query: see [`crate::endpoint::browse_repository`]).
    pub fn repository(&self) -> Option<&RepoName> {
        match self {
            Endpoint::Tags { repo }
            | Endpoint::Manifest { repo, .. }
            | Endpoint::Blob { repo, .. }
            | Endpoint::Uploads { repo }
            | Endpoint::Upload { repo, .. }
            | Endpoint::Referrers { repo, .. }
            | Endpoint::OrasReferrers { repo, .. }
            | Endpoint::ReferrersGraph { repo, .. } => Some(repo),
            Endpoint::ApiVersion
            | Endpoint::Catalog
            | Endpoint::Discover
            | Endpoint::ExtensionDoc
            | Endpoint::CollectGarbage
            | Endpoint::Status
            | Endpoint::Scrub
            | Endpoint::Usage
            | Endpoint::Events
            | Endpoint::Token
            | Endpoint::Session
            | Endpoint::BrowseRepositories
            | Endpoint::BrowseTags
            | Endpoint::BrowseManifest
            | Endpoint::DeletionPreview
            | Endpoint::OpenApi => None,
        }
    }
}

/// The kind and repository of a request for `path`: an [`Endpoint`]'s, else `metrics`,
/// `health` (`/livez`, `/readyz`), `ui` (the web UI's files under `/ui`, and `/`) or `other`
/// (what no endpoint answers).
pub(crate) fn of_path(path: &str) -> (&'static str, Option<String>) {
    match Endpoint::parse(path) {
        Ok(endpoint) => (
            endpoint.kind(),
            endpoint.repository().map(|r| r.as_str().to_owned()),
        ),
        Err(_) => match path {
            METRICS_PATH => ("metrics", None),
            LIVEZ_PATH | READYZ_PATH => ("health", None),
            "/" | crate::ui::UI_PATH => ("ui", None),
            _ if path.starts_with(crate::ui::UI_PREFIX) => ("ui", None),
            _ => ("other", None),
        },
    }
}

/// The `method` label: the methods of the distribution API by name, anything else `other`,
/// so that a client inventing methods cannot add time series.
pub(crate) fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::HEAD => "HEAD",
        http::Method::PUT => "PUT",
        http::Method::POST => "POST",
        http::Method::PATCH => "PATCH",
        http::Method::DELETE => "DELETE",
        http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_kinds_and_repositories() {
        let cases = [
            ("/v2/", "base", None),
            ("/v2/_catalog", "catalog", None),
            ("/v2/a/b/tags/list", "tags", Some("a/b")),
            ("/v2/a/manifests/latest", "manifest", Some("a")),
            ("/v2/a/blobs/uploads/", "blob_upload", Some("a")),
            ("/v2/a/referrers/sha256:0000000000000000000000000000000000000000000000000000000000000000", "referrers", Some("a")),
            ("/berth/v1/gc", "admin", None),
            ("/berth/v1/token", "token", None),
            ("/berth/v1/tags", "browse", None),
            ("/berth/v1/session", "browse", None),
            ("/berth/v1/openapi.json", "extension", None),
            ("/ui/", "ui", None),
            ("/ui/app.js", "ui", None),
            ("/ui", "ui", None),
            ("/", "ui", None),
            ("/uix", "other", None),
            ("/metrics", "metrics", None),
            ("/readyz", "health", None),
            ("/livez", "health", None),
            ("/favicon.ico", "other", None),
            ("/v2/A/manifests/x", "other", None),
        ];
        for (path, kind, repo) in cases {
            assert_eq!(of_path(path), (kind, repo.map(str::to_owned)), "{path}");
        }
        assert_eq!(
            method_label(&http::Method::from_bytes(b"BREW").unwrap()),
            "other"
        );
    }
}
