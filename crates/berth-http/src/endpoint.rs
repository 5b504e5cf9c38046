//! Request paths parsed into typed endpoints before anything else happens.
//!
//! Repository names contain slashes, so `/v2/{*rest}` is parsed here from the end of the
//! path: the trailing segments say which endpoint it is, everything before is the name.

use berth_auth::{Access, Action};
use berth_oci::{Digest, OciError, Reference, RepoName, UploadId};

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
            | Endpoint::Events => "GET, HEAD",
            Endpoint::Scrub => "POST",
            Endpoint::Manifest { .. } => "GET, HEAD, PUT, DELETE",
            Endpoint::Blob { .. } => "GET, HEAD, DELETE",
            Endpoint::Uploads { .. } => "POST",
            Endpoint::CollectGarbage => "GET, HEAD, POST",
            Endpoint::Token => "GET, POST",
            Endpoint::Upload { .. } => "GET, HEAD, PATCH, PUT, DELETE",
        }
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
    pub fn accesses(&self, method: &http::Method, _query: &Query) -> Vec<Access> {
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
            | Endpoint::Token => Vec::new(),
            Endpoint::Catalog => vec![Access::catalog()],
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
mod tests {
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
}
