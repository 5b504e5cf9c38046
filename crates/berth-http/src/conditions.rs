//! Conditional requests (RFC 9110 section 13): `If-Match`, `If-None-Match`,
//! `If-Unmodified-Since` and `If-Modified-Since` on manifests and blobs, evaluated in the
//! RFC's order (13.2.2). Reads answer 304 or 412 here; a write carries the same evaluation into
//! its metadata transaction as a `Precondition`, so that of two writers racing on one tag with
//! `If-Match` exactly one wins.
//!
//! The entity tag of a manifest or blob is its digest in quotes (`"sha256:..."`), the same
//! value as `Docker-Content-Digest`; a manifest's `Last-Modified` is its push time, or for a
//! tag the time the tag last moved. Blobs have no `Last-Modified`: their date conditions are
//! ignored, as the RFC asks for a resource without a modification date.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_metadata::{CurrentState, Precondition};
use berth_oci::{Digest, Reference};
use headers::{ETag, HeaderMapExt, IfMatch, IfModifiedSince, IfNoneMatch, IfUnmodifiedSince};
use http::HeaderMap;

use crate::error::RequestError;

/// What a request's conditions decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Serve or perform the request.
    Proceed,
    /// 304 Not Modified (reads only).
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// The state of the target a request's conditions are evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub digest: &'a Digest,
    /// `None` for blobs, which carry no modification date.
    pub modified: Option<SystemTime>,
}

/// The conditional headers of one request, parsed.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    if_match: Option<IfMatch>,
    if_none_match: Option<IfNoneMatch>,
    if_unmodified_since: Option<IfUnmodifiedSince>,
    if_modified_since: Option<IfModifiedSince>,
}

/// An entity-tag condition (`If-Match`, `If-None-Match`), or `ConditionInvalid` naming it
/// when any of its values is neither `*` alone nor a list of quoted entity tags: a write whose
/// condition cannot be read must not go ahead as if it had none (the typed header alone
/// would drop the members it cannot read).
fn entity_tags<H: headers::Header>(headers: &HeaderMap) -> Result<Option<H>, RequestError> {
    let name = H::name();
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str())
        .collect::<Result<_, _>>()
        .map_err(|_| RequestError::ConditionInvalid(name.as_str().to_owned()))?;
    if values.is_empty() {
        return Ok(None);
    }
    let members: Vec<&str> = values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let valid = members == ["*"] || members.iter().all(|m| m.parse::<ETag>().is_ok());
    if !valid {
        return Err(RequestError::ConditionInvalid(name.as_str().to_owned()));
    }
    headers
        .typed_try_get::<H>()
        .map_err(|_| RequestError::ConditionInvalid(name.as_str().to_owned()))
}

/// A date condition; one whose value is not a valid HTTP date is ignored, as RFC 9110
/// (13.1.3, 13.1.4) requires.
fn date<H: headers::Header>(headers: &HeaderMap) -> Option<H> {
    headers.typed_try_get::<H>().ok().flatten()
}

impl Conditions {
    /// The request's conditions; `ConditionInvalid` for a malformed `If-Match` or
    /// `If-None-Match`.
    pub fn parse(headers: &HeaderMap) -> Result<Conditions, RequestError> {
        Ok(Conditions {
            if_match: entity_tags(headers)?,
            if_none_match: entity_tags(headers)?,
            if_unmodified_since: date(headers),
            if_modified_since: date(headers),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.if_match.is_none()
            && self.if_none_match.is_none()
            && self.if_unmodified_since.is_none()
            && self.if_modified_since.is_none()
    }

    /// Evaluates the conditions against the target's current state (`None`: it does not
    /// exist) for a read (`GET`/`HEAD`) or a write.
    pub fn evaluate(&self, current: Option<Target<'_>>, read: bool) -> Outcome {
        let etag = current.map(|c| entity_tag(c.digest));
        let modified = current.and_then(|c| c.modified);
        if let Some(if_match) = &self.if_match {
            if !etag
                .as_ref()
                .is_some_and(|e| if_match.precondition_passes(e))
            {
                return Outcome::Failed;
            }
        } else if let (Some(since), Some(modified)) = (&self.if_unmodified_since, modified) {
            if !since.precondition_passes(modified) {
                return Outcome::Failed;
            }
        }
        if let Some(if_none_match) = &self.if_none_match {
            if etag
                .as_ref()
                .is_some_and(|e| !if_none_match.precondition_passes(e))
            {
                return if read {
                    Outcome::NotModified
                } else {
                    Outcome::Failed
                };
            }
        } else if let (true, Some(since), Some(modified)) =
            (read, &self.if_modified_since, modified)
        {
            if !since.is_modified(modified) {
                return Outcome::NotModified;
            }
        }
        Outcome::Proceed
    }

    /// Decides a read of `target`: `Ok(true)` to answer 304 Not Modified, `Ok(false)` to
    /// serve it, `PreconditionFailed` (412) otherwise.
    pub fn not_modified(&self, target: Target<'_>) -> Result<bool, berth_registry::RegistryError> {
        match self.evaluate(Some(target), true) {
            Outcome::Proceed => Ok(false),
            Outcome::NotModified => Ok(true),
            Outcome::Failed => Err(berth_registry::RegistryError::PreconditionFailed(
                target.digest.to_string(),
            )),
        }
    }

    /// The conditions as a precondition on `target` for a write's transaction; none when the
    /// request has no conditions.
    pub fn precondition(&self, target: Reference) -> Option<Precondition> {
        if self.is_empty() {
            return None;
        }
        let conditions = self.clone();
        Some(Precondition {
            target,
            holds: Arc::new(move |current: Option<CurrentState<'_>>| {
                let current = current.map(|c| Target {
                    digest: c.digest,
                    modified: Some(system_time(c.modified_at)),
                });
                conditions.evaluate(current, false) == Outcome::Proceed
            }),
        })
    }
}

/// The strong entity tag of a manifest or blob: its digest, quoted.
pub fn entity_tag(digest: &Digest) -> ETag {
    format!("\"{digest}\"")
        .parse()
        .expect("a digest is a valid entity tag")
}

/// Unix milliseconds as a time.
pub fn system_time(millis: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(millis.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conditions(pairs: &[(&'static str, &str)]) -> Conditions {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, value.parse().unwrap());
        }
        Conditions::parse(&headers).unwrap()
    }

    #[test]
    fn conditions_follow_the_rfc_order() {
        let (a, b) = (Digest::sha256_of(b"a"), Digest::sha256_of(b"b"));
        let quoted = |d: &Digest| format!("\"{d}\"");
        let at = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let state = Some(Target {
            digest: &a,
            modified: Some(at),
        });
        let (before, after) = (
            httpdate_of(at - Duration::from_secs(10)),
            httpdate_of(at + Duration::from_secs(10)),
        );
        /// (headers, current state, is a read, expected outcome)
        type Case<'a> = (
            Vec<(&'static str, String)>,
            Option<Target<'a>>,
            bool,
            Outcome,
        );
        let table: Vec<Case> = vec![
            (vec![], state, true, Outcome::Proceed),
            (
                vec![("if-match", quoted(&a))],
                state,
                false,
                Outcome::Proceed,
            ),
            (
                vec![("if-match", quoted(&b))],
                state,
                false,
                Outcome::Failed,
            ),
            (vec![("if-match", "*".into())], None, false, Outcome::Failed),
            (
                vec![("if-match", "*".into())],
                state,
                false,
                Outcome::Proceed,
            ),
            (
                vec![("if-none-match", "*".into())],
                state,
                false,
                Outcome::Failed,
            ),
            (
                vec![("if-none-match", "*".into())],
                None,
                false,
                Outcome::Proceed,
            ),
            (
                vec![("if-none-match", quoted(&a))],
                state,
                true,
                Outcome::NotModified,
            ),
            (
                vec![("if-none-match", format!("W/{}", quoted(&a)))],
                state,
                true,
                Outcome::NotModified,
            ),
            (
                vec![("if-none-match", quoted(&b))],
                state,
                true,
                Outcome::Proceed,
            ),
            (
                vec![("if-unmodified-since", before.clone())],
                state,
                false,
                Outcome::Failed,
            ),
            (
                vec![("if-unmodified-since", after.clone())],
                state,
                false,
                Outcome::Proceed,
            ),
            (
                vec![("if-modified-since", after.clone())],
                state,
                true,
                Outcome::NotModified,
            ),
            (
                vec![("if-modified-since", before.clone())],
                state,
                true,
                Outcome::Proceed,
            ),
            // If-Modified-Since is for reads; If-None-Match takes precedence over it.
            (
                vec![("if-modified-since", after.clone())],
                state,
                false,
                Outcome::Proceed,
            ),
            (
                vec![
                    ("if-none-match", quoted(&b)),
                    ("if-modified-since", after.clone()),
                ],
                state,
                true,
                Outcome::Proceed,
            ),
            // If-Match takes precedence over If-Unmodified-Since.
            (
                vec![("if-match", quoted(&a)), ("if-unmodified-since", before)],
                state,
                false,
                Outcome::Proceed,
            ),
            // A blob has no date: date conditions are ignored.
            (
                vec![("if-modified-since", after)],
                Some(Target {
                    digest: &a,
                    modified: None,
                }),
                true,
                Outcome::Proceed,
            ),
        ];
        for (pairs, current, read, expected) in table {
            let pairs: Vec<(&'static str, &str)> =
                pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
            assert_eq!(
                conditions(&pairs).evaluate(current, read),
                expected,
                "{pairs:?} read={read}"
            );
        }
    }

    #[test]
    fn malformed_entity_tags_are_refused_and_unusable_dates_ignored() {
        let digest = Digest::sha256_of(b"a");
        let quoted = format!("\"{digest}\"");
        for (name, value) in [
            ("if-match", digest.to_string()),
            ("if-none-match", digest.to_string()),
            ("if-none-match", format!("\"{digest}")),
            ("if-none-match", "*, \"x\"".to_owned()),
            ("if-none-match", format!("W/{digest}")),
            ("if-none-match", String::new()),
            ("if-match", format!("{quoted}, garbage")),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(name, value.parse().unwrap());
            assert!(
                matches!(Conditions::parse(&headers), Err(RequestError::ConditionInvalid(n)) if n == name),
                "{name}: {value:?}"
            );
        }
        let mut twice = HeaderMap::new();
        twice.append("if-none-match", "*".parse().unwrap());
        twice.append("if-none-match", "*".parse().unwrap());
        assert!(Conditions::parse(&twice).is_err(), "`*, *` is not `*`");
        let mut listed = HeaderMap::new();
        listed.append("if-none-match", quoted.parse().unwrap());
        listed.append("if-none-match", "W/\"other\"".parse().unwrap());
        assert!(Conditions::parse(&listed).is_ok());
        for date in ["last tuesday", "Mon, 01 Jan 1900 00:00:00 GMT"] {
            let mut headers = HeaderMap::new();
            headers.insert("if-unmodified-since", date.parse().unwrap());
            headers.insert("if-modified-since", date.parse().unwrap());
            assert!(Conditions::parse(&headers).unwrap().is_empty(), "{date}");
        }
    }

    #[test]
    fn a_precondition_sees_the_transactions_state() {
        let (a, b) = (Digest::sha256_of(b"a"), Digest::sha256_of(b"b"));
        let tag = Reference::Tag("v1".parse().unwrap());
        let check = conditions(&[("if-match", &format!("\"{a}\""))])
            .precondition(tag.clone())
            .unwrap();
        let state = |d| {
            Some(CurrentState {
                digest: d,
                modified_at: 5,
            })
        };
        assert!(check.holds_for(state(&a)));
        assert!(!check.holds_for(state(&b)));
        assert!(!check.holds_for(None));
        assert!(conditions(&[]).precondition(tag).is_none());
    }

    fn httpdate_of(time: SystemTime) -> String {
        let mut headers = HeaderMap::new();
        headers.typed_insert(headers::LastModified::from(time));
        headers["last-modified"].to_str().unwrap().to_owned()
    }
}
