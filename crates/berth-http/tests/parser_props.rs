//! Property tests of the request parsers the handlers use: endpoint paths, query strings,
//! `Range` on blob reads and `Content-Range` on upload chunks. The fuzz targets in
//! `fuzz/fuzz_targets/{endpoint,range}.rs` explore the same functions without bounds.

use berth_blobstore::ByteRange;
use berth_http::endpoint::{Endpoint, EndpointError};
use berth_http::error::RequestError;
use berth_http::query::Query;
use berth_http::range::{choose, content_range, RangeChoice};
use berth_oci::{Digest, Reference, RepoName};
use proptest::prelude::*;

/// Valid repository names: one to four components, each alphanumeric runs joined by one
/// separator at a time.
fn repo_name() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,8}(([._]|__|-{1,2})[a-z0-9]{1,8})?(/[a-z0-9]{1,8}(([._]|__|-{1,2})[a-z0-9]{1,8})?){0,3}"
}

fn tag() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_][a-zA-Z0-9._-]{0,40}"
}

fn digest() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-f]{64}".prop_map(|hex| format!("sha256:{hex}")),
        "[0-9a-f]{128}".prop_map(|hex| format!("sha512:{hex}")),
    ]
}

fn uuid() -> impl Strategy<Value = String> {
    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
}

fn name(text: &str) -> RepoName {
    text.parse().expect("the strategy makes valid names")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn manifest_paths_name_their_repository_and_reference(
        repo in repo_name(),
        by_digest in any::<bool>(),
        tag in tag(),
        digest in digest(),
        encode_colon in any::<bool>(),
    ) {
        let reference = if by_digest { digest.clone() } else { tag };
        let in_path = match encode_colon {
            true => reference.replace(':', "%3A"),
            false => reference.clone(),
        };
        let parsed = Endpoint::parse(&format!("/v2/{repo}/manifests/{in_path}"));
        let expected = Endpoint::Manifest {
            repo: name(&repo),
            reference: Ok(reference.parse::<Reference>().unwrap()),
        };
        prop_assert_eq!(parsed, Ok(expected));
    }

    #[test]
    fn blob_upload_tag_and_referrer_paths_round_trip(
        repo in repo_name(),
        digest in digest(),
        id in uuid(),
    ) {
        let repo_name = name(&repo);
        let parsed_digest: Digest = digest.parse().unwrap();
        let cases = [
            (format!("/v2/{repo}/blobs/{digest}"),
             Endpoint::Blob { repo: repo_name.clone(), digest: parsed_digest.clone() }),
            (format!("/v2/{repo}/referrers/{digest}"),
             Endpoint::Referrers { repo: repo_name.clone(), digest: parsed_digest.clone() }),
            (format!("/v2/{repo}/tags/list"), Endpoint::Tags { repo: repo_name.clone() }),
            (format!("/v2/{repo}/blobs/uploads/"), Endpoint::Uploads { repo: repo_name.clone() }),
            (format!("/v2/{repo}/blobs/uploads/{id}"),
             Endpoint::Upload { repo: repo_name.clone(), id: id.parse().unwrap() }),
        ];
        for (path, expected) in cases {
            prop_assert_eq!(Endpoint::parse(&path), Ok(expected), "{}", path);
        }
    }

    #[test]
    fn upper_case_or_empty_components_are_refused(
        repo in repo_name(),
        upper in "[A-Z]{1,4}",
        tag in tag(),
    ) {
        for bad in [format!("{repo}/{upper}"), format!("{repo}//x"), format!("/{repo}")] {
            let parsed = Endpoint::parse(&format!("/v2/{bad}/manifests/{tag}"));
            prop_assert!(matches!(parsed, Err(EndpointError::Invalid(_))), "{:?}", parsed);
        }
    }

    #[test]
    fn arbitrary_paths_never_panic_and_name_only_valid_repositories(
        path in prop_oneof![
            any::<String>(),
            "/v2/[a-z/._%:A-Z0-9-]{0,60}",
            "/oras/artifacts/v1/[a-z/._%:0-9-]{0,60}",
        ],
        query in proptest::option::of(any::<String>()),
    ) {
        let query = Query::parse(query.as_deref());
        if let Ok(endpoint) = Endpoint::parse(&path) {
            for method in [http::Method::GET, http::Method::PUT, http::Method::POST] {
                let _ = endpoint.accesses(&method, &query);
                let _ = endpoint.mount_source(&method, &query);
            }
            if let Endpoint::Tags { repo } | Endpoint::Manifest { repo, .. }
                | Endpoint::Blob { repo, .. } = &endpoint
            {
                prop_assert!(repo.as_str().parse::<RepoName>().is_ok());
                prop_assert!(path.contains(repo.as_str()));
            }
        }
    }

    #[test]
    fn satisfiable_ranges_lie_within_the_blob(
        size in prop_oneof![0u64..1000, any::<u64>()],
        first in prop_oneof![0u64..1200, any::<u64>()],
        length in prop_oneof![0u64..1200, any::<u64>()],
    ) {
        let last = first.saturating_add(length);
        let expected = match first < size {
            true => RangeChoice::Part(ByteRange { start: first, end: last.saturating_add(1).min(size) }),
            false => RangeChoice::Unsatisfiable,
        };
        prop_assert_eq!(choose(Some(&format!("bytes={first}-{last}")), size), expected);
        let open = match first < size {
            true => RangeChoice::Part(ByteRange { start: first, end: size }),
            false => RangeChoice::Unsatisfiable,
        };
        prop_assert_eq!(choose(Some(&format!("bytes={first}-")), size), open);
        let suffix = match (length, size) {
            (0, _) | (_, 0) => RangeChoice::Unsatisfiable,
            (n, size) => RangeChoice::Part(ByteRange { start: size - n.min(size), end: size }),
        };
        prop_assert_eq!(choose(Some(&format!("bytes=-{length}")), size), suffix);
    }

    #[test]
    fn arbitrary_range_headers_never_serve_outside_the_blob(
        header in prop_oneof![any::<String>(), "bytes=[0-9,-]{0,30}", "[a-z]{0,6}=?[0-9 ,-]{0,30}"],
        size in prop_oneof![0u64..100, any::<u64>()],
    ) {
        if let RangeChoice::Part(part) = choose(Some(&header), size) {
            prop_assert!(part.start < part.end && part.end <= size, "{:?} {:?}", header, part);
        }
    }

    #[test]
    fn content_ranges_give_their_start_and_length(
        start in prop_oneof![0u64..10_000, any::<u64>()],
        extra in 0u64..10_000,
        form in 0usize..4,
        declared in any::<bool>(),
    ) {
        let end = start.saturating_add(extra);
        let length = end - start + 1;
        let text = match form {
            0 => format!("{start}-{end}"),
            1 => format!("bytes {start}-{end}/*"),
            2 => format!("bytes={start}-{end}"),
            _ => format!(" {start}-{end}/{}", end.saturating_add(1)),
        };
        let bounds = content_range(&text, declared.then_some(length)).unwrap();
        prop_assert_eq!((bounds.start, bounds.len), (Some(start), Some(length)));
        let mismatch = content_range(&text, Some(length + 1));
        let is_mismatch = matches!(mismatch, Err(RequestError::LengthMismatch { .. }));
        prop_assert!(is_mismatch);
        if start > 0 {
            let backwards = content_range(&format!("{end}-{}", start - 1), None);
            let is_invalid = matches!(backwards, Err(RequestError::ContentRangeInvalid(_)));
            prop_assert!(is_invalid);
        }
    }

    #[test]
    fn arbitrary_content_ranges_never_panic_or_overflow(
        text in prop_oneof![any::<String>(), "(bytes[ =])?[0-9]{0,21}-[0-9]{0,21}(/[0-9*]{0,5})?"],
        declared in proptest::option::of(any::<u64>()),
    ) {
        if let Ok(bounds) = content_range(&text, declared) {
            let (start, len) = (bounds.start.unwrap(), bounds.len.unwrap());
            prop_assert!(len >= 1 && start.checked_add(len - 1).is_some());
            prop_assert!(declared.is_none_or(|d| d == len));
        }
    }
}
