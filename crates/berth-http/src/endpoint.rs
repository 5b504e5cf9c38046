//! Request paths parsed into typed endpoints before anything else happens.
//!
//! Repository names contain slashes, so `/v2/{*rest}` is parsed here from the end of the
//! path: the trailing segments say which endpoint it is, everything before is the name.

use berth_auth::{Access, Action};
use berth_oci::{Digest, OciError, Reference, RepoName, UploadId};

use crate::error::{ApiError, RequestError};
use crate::query::Query;

/// Where Berth serves the documentation of its `_berth` extension.
pub const GRAPH_DOC_PATH: &str = "/berth/v1/extensions/referrers-graph";

/// A distribution API endpoint with its parsed path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `/v2/`
    ApiVersion,
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/<name>/tags/list`
    Tags { repo: RepoName },
    /// `/v2/<name>/manifests/<reference>`. `reference` is `Err` for a string that is neither
    /// a tag nor a digest: no manifest can be named so, so reads and deletes find nothing
    /// (404) and pushes are refused (400). A malformed digest is refused at parsing.
    Manifest {
        repo: RepoName,
        reference: Result<Reference, OciError>,
    },
    /// `/v2/<name>/blobs/<digest>`
    Blob { repo: RepoName, digest: Digest },
    /// `/v2/<name>/blobs/uploads/`
    Uploads { repo: RepoName },
    /// `/v2/<name>/blobs/uploads/<id>`
    Upload { repo: RepoName, id: UploadId },
    /// `/v2/<name>/referrers/<digest>`
    Referrers { repo: RepoName, digest: Digest },
    /// `/v2/_oci/ext/discover` and `/v2/<name>/_oci/ext/discover`
    Discover,
    /// `/v2/<name>/_oras/artifacts/referrers?digest=` (the digest comes in the query), or
    /// `/oras/artifacts/v1/<name>/manifests/<digest>/referrers`
    OrasReferrers {
        repo: RepoName,
        digest: Option<Digest>,
    },
    /// `/v2/<name>/_berth/referrers-graph/<digest>`: the referrers of referrers, to a depth
    ReferrersGraph { repo: RepoName, digest: Digest },
    /// `/berth/v1/extensions/referrers-graph`: the documentation of the `_berth` extension,
    /// which `_oci/ext/discover` links to
    ExtensionDoc,
    /// `/berth/v1/gc`: run a garbage collection (POST, `?dry_run=true` to only report, policy
    /// overrides as `grace`, `untagged`, `orphaned_referrers`), or read the last one's report
    /// (GET)
    CollectGarbage,
    /// `/berth/v1/status`: which server this is and which data it serves (GET)
    Status,
    /// `/berth/v1/scrub`: check every blob and manifest against storage (POST; `repair`,
    /// `rate`, `restart`, `max_blobs` in the query)
    Scrub,
    /// `/berth/v1/usage`: storage usage per repository (GET)
    Usage,
    /// `/berth/v1/events`: the delivery state of every notification endpoint, its pending and
    /// dead events (GET)
    Events,
    /// `/berth/v1/token`: the token endpoint (GET with optional Basic credentials, POST with
    /// an OAuth2 form); it checks credentials itself and needs no access
    Token,
    /// `/berth/v1/session`: who the caller is and what they may do globally (GET)
    Session,
    /// `/berth/v1/repositories?q=&n=&last=`: the repositories the caller may pull, with what
    /// each holds (GET)
    BrowseRepositories,
    /// `/berth/v1/tags?repository=&n=&last=&sort=`: a page of tags with what their manifests
    /// are (GET); the repository is in the query (see [`browse_repository`])
    BrowseTags,
    /// `/berth/v1/manifest?repository=&reference=`: one manifest in detail (GET)
    BrowseManifest,
    /// `/berth/v1/deletion-preview?repository=&reference=&scope=`: what deleting a manifest
    /// or a tag would take with it (GET)
    DeletionPreview,
    /// `/berth/v1/openapi.json`: the OpenAPI document of the browse API and the `_berth`
    /// extension (GET)
    OpenApi,
}

/// Where the browse API's OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/berth/v1/openapi.json";

/// The repository a browse endpoint names in its `repository` query parameter: the one the
/// access check authorizes and the handler reads, parsed by this one function so that the two
/// cannot differ.
///
/// Errors (400): the parameter is missing or given more than once, or is not a valid name.
pub fn browse_repository(query: &Query) -> Result<RepoName, ApiError> {
    let mut values = query.all("repository");
    let (Some(name), None) = (values.next(), values.next()) else {
        return Err(RequestError::QueryInvalid {
            name: "repository",
            reason: "give exactly one repository name".into(),
        }
        .into());
    };
    Ok(name.parse::<RepoName>().map_err(EndpointError::from)?)
}

/// Where Berth's token endpoint answers.
pub const TOKEN_PATH: &str = "/berth/v1/token";

/// Why a path names no endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("no such endpoint")]
    NotFound,
    #[error(transparent)]
    Invalid(#[from] OciError),
    #[error("upload session id is not valid")]
    UploadIdInvalid,
}

impl Endpoint {
    /// Parses a request path such as `/v2/library/alpine/manifests/latest`.
    pub fn parse(path: &str) -> Result<Endpoint, EndpointError> {
        if path == "/berth/v1/gc" {
            return Ok(Endpoint::CollectGarbage);
        }
        if path == GRAPH_DOC_PATH {
            return Ok(Endpoint::ExtensionDoc);
        }
        if path == "/berth/v1/status" {
            return Ok(Endpoint::Status);
        }
        if path == "/berth/v1/scrub" {
            return Ok(Endpoint::Scrub);
        }
        if path == "/berth/v1/usage" {
            return Ok(Endpoint::Usage);
        }
        if path == "/berth/v1/events" {
            return Ok(Endpoint::Events);
        }
        if path == TOKEN_PATH {
            return Ok(Endpoint::Token);
        }
        if let Some(browse) = Endpoint::parse_browse(path) {
            return Ok(browse);
        }
        if let Some(rest) = path.strip_prefix("/oras/artifacts/v1/") {
            return Endpoint::parse_oras_v1(rest);
        }
        let rest = path.strip_prefix("/v2").ok_or(EndpointError::NotFound)?;
        if rest.is_empty() || rest == "/" {
            return Ok(Endpoint::ApiVersion);
        }
        let rest = rest.strip_prefix('/').ok_or(EndpointError::NotFound)?;
        if rest == "_catalog" {
            return Ok(Endpoint::Catalog);
        }
        if rest == "_oci/ext/discover" {
            return Ok(Endpoint::Discover);
        }
        let segments: Vec<&str> = rest.split('/').collect();
        let name = |n: usize| -> Result<RepoName, EndpointError> {
            if n == 0 {
                return Err(EndpointError::NotFound);
            }
            Ok(segments[..n].join("/").parse()?)
        };
        let len = segments.len();
        let tail = |k: usize| segments.get(len.wrapping_sub(k)).copied();
        match (tail(3), tail(2), tail(1)) {
            (Some("_oci"), Some("ext"), Some("discover")) => {
                name(len - 3)?;
                Ok(Endpoint::Discover)
            }
            (Some("_oras"), Some("artifacts"), Some("referrers")) => Ok(Endpoint::OrasReferrers {
                repo: name(len - 3)?,
                digest: None,
            }),
            (Some("_berth"), Some("referrers-graph"), Some(digest)) => {
                let repo = name(len - 3)?;
                Ok(Endpoint::ReferrersGraph {
                    repo,
                    digest: decode_colon(digest).parse()?,
                })
            }
            (_, Some("tags"), Some("list")) => Ok(Endpoint::Tags {
                repo: name(len - 2)?,
            }),
            (Some("blobs"), Some("uploads"), Some("")) => Ok(Endpoint::Uploads {
                repo: name(len - 3)?,
            }),
            (Some("blobs"), Some("uploads"), Some(id)) => {
                let repo = name(len - 3)?;
                let id = id.parse().map_err(|_| EndpointError::UploadIdInvalid)?;
                Ok(Endpoint::Upload { repo, id })
            }
            (_, Some("blobs"), Some("uploads")) => Ok(Endpoint::Uploads {
                repo: name(len - 2)?,
            }),
            (_, Some("blobs"), Some(digest)) => {
                let repo = name(len - 2)?;
                Ok(Endpoint::Blob {
                    repo,
                    digest: decode_colon(digest).parse()?,
                })
            }
            (_, Some("manifests"), Some(reference)) => {
                let repo = name(len - 2)?;
                let reference = match decode_colon(reference).parse::<Reference>() {
                    Err(digest @ OciError::DigestInvalid(_))
                    | Err(digest @ OciError::DigestAlgorithmUnsupported(_)) => {
                        return Err(digest.into())
                    }
                    parsed => parsed,
                };
                Ok(Endpoint::Manifest { repo, reference })
            }
            (_, Some("referrers"), Some(digest)) => {
                let repo = name(len - 2)?;
                Ok(Endpoint::Referrers {
                    repo,
                    digest: decode_colon(digest).parse()?,
                })
            }
            _ => Err(EndpointError::NotFound),
        }
    }

    /// The methods the endpoint answers, as the `Allow` header of a 405 lists them.
    pub fn allowed_methods(&self) -> &'static str {
        match self {
            Endpoint::ApiVersion
            | Endpoint::Catalog
            | Endpoint::Tags { .. }
            | Endpoint::Referrers { .. }
            | Endpoint::Discover
            | Endpoint::ExtensionDoc
            | Endpoint::OrasReferrers { .. }
            | Endpoint::ReferrersGraph { .. }
            | Endpoint::Status
            | Endpoint::Usage
            | Endpoint::Events
            | Endpoint::Session
            | Endpoint::BrowseRepositories
            | Endpoint::BrowseTags
            | Endpoint::BrowseManifest
            | Endpoint::DeletionPreview
            | Endpoint::OpenApi => "GET, HEAD",
            Endpoint::Scrub => "POST",
            Endpoint::Manifest { .. } => "GET, HEAD, PUT, DELETE",
            Endpoint::Blob { .. } => "GET, HEAD, DELETE",
            Endpoint::Uploads { .. } => "POST",
            Endpoint::CollectGarbage => "GET, HEAD, POST",
            Endpoint::Token => "GET, POST",
            Endpoint::Upload { .. } => "GET, HEAD, PATCH, PUT, DELETE",
        }
    }

    /// The browse API's endpoints and its OpenAPI document, under `/berth/v1/`.
    fn parse_browse(path: &str) -> Option<Endpoint> {
        Some(match path.strip_prefix("/berth/v1/")? {
            "session" => Endpoint::Session,
            "repositories" => Endpoint::BrowseRepositories,
            "tags" => Endpoint::BrowseTags,
            "manifest" => Endpoint::BrowseManifest,
            "deletion-preview" => Endpoint::DeletionPreview,
            "openapi.json" => Endpoint::OpenApi,
            _ => return None,
        })
    }

    /// `<name>/manifests/<digest>/referrers`, the ORAS referrers API of artifacts-spec rc.1.
    fn parse_oras_v1(rest: &str) -> Result<Endpoint, EndpointError> {
        let segments: Vec<&str> = rest.split('/').collect();
        match segments.as_slice() {
            [name @ .., "manifests", digest, "referrers"] if !name.is_empty() => {
                Ok(Endpoint::OrasReferrers {
                    repo: name.join("/").parse()?,
                    digest: Some(decode_colon(digest).parse()?),
                })
            }
            _ => Err(EndpointError::NotFound),
        }
    }

    /// Every access a request with `method` and `query` needs; all must be allowed.
    ///
    /// Repository endpoints need pull (GET, HEAD), delete (DELETE) or push (anything else) on
    /// their repository, uploads always push; `_catalog` needs [`Access::catalog`]; the
    /// administration endpoints need [`Access::admin`] (pull to read, push to run); `/v2/`,
    /// discovery and the extension documentation need nothing (the auth layer still challenges
    /// an anonymous `/v2/`, so that clients log in). The source of a cross-mount is
    /// not among them: see [`Endpoint::mount_source`].
    ///
    /// The browse API: a repository's tags, a manifest and a deletion preview need pull on the
    /// repository of the query (a deletion itself is a `DELETE` of the manifest, which needs
    /// delete); when that names no valid repository they need nothing, since the handler then
    /// refuses the request (400) before reading anything. The repository listing needs what
    /// the catalog does, and lists only what the caller may pull; the session and the OpenAPI
    /// document need nothing.
    pub fn accesses(&self, method: &http::Method, query: &Query) -> Vec<Access> {
        let action = match *method {
            http::Method::GET | http::Method::HEAD => Action::Pull,
            http::Method::DELETE => Action::Delete,
            _ => Action::Push,
        };
        let read_or_run = match *method {
            http::Method::GET | http::Method::HEAD => Action::Pull,
            _ => Action::Push,
        };
        match self {
            Endpoint::ApiVersion
            | Endpoint::Discover
            | Endpoint::ExtensionDoc
            | Endpoint::Token
            | Endpoint::Session
            | Endpoint::OpenApi => Vec::new(),
            Endpoint::Catalog | Endpoint::BrowseRepositories => vec![Access::catalog()],
            Endpoint::BrowseTags | Endpoint::BrowseManifest | Endpoint::DeletionPreview => {
                browse_repository(query)
                    .map(|repo| vec![Access::repository(repo, Action::Pull)])
                    .unwrap_or_default()
            }
            Endpoint::CollectGarbage
            | Endpoint::Status
            | Endpoint::Scrub
            | Endpoint::Usage
            | Endpoint::Events => {
                vec![Access::admin(read_or_run)]
            }
            Endpoint::Uploads { repo } | Endpoint::Upload { repo, .. } => {
                vec![Access::repository(repo.clone(), Action::Push)]
            }
            Endpoint::Tags { repo }
            | Endpoint::Referrers { repo, .. }
            | Endpoint::OrasReferrers { repo, .. }
            | Endpoint::ReferrersGraph { repo, .. }
            | Endpoint::Manifest { repo, .. }
            | Endpoint::Blob { repo, .. } => vec![Access::repository(repo.clone(), action)],
        }
    }

    /// The optional access of a cross-repository mount (`POST <name>/blobs/uploads/?mount=
    /// <digest>&from=<other>`): pull on `from`. Without it the request is not refused; it
    /// becomes an ordinary upload (distribution-spec, "Mounting a blob from another
    /// repository").
    pub fn mount_source(&self, method: &http::Method, query: &Query) -> Option<Access> {
        match self {
            Endpoint::Uploads { .. } if *method == http::Method::POST => {
                query.get("mount")?;
                let from: RepoName = query.get("from")?.parse().ok()?;
                Some(Access::repository(from, Action::Pull))
            }
            _ => None,
        }
    }
}

/// Some clients percent-encode the colon of a digest.
fn decode_colon(segment: &str) -> String {
    segment.replace("%3A", ":").replace("%3a", ":")
}

#[cfg(test)]
mod tests;
