//! Thin handlers: extract, call one domain method, build the response.

mod admin;
mod blobs;
mod browse;
mod discovery;
mod manifests;
mod openapi;
mod pull_commands;
mod referrers;
mod referrers_graph;
mod token;
mod uploads;

use std::io;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use berth_blobstore::ByteStream;
use berth_registry::Registry;
use futures::TryStreamExt;
use http::{HeaderMap, Method};

use crate::auth::{Auth, Authorized};
use crate::endpoint::Endpoint;
use crate::error::{ApiError, RequestError};
use crate::query::Query;
use crate::status::ServerStatus;

/// Routes a request to its handler by endpoint and method; `auth` is the server's access
/// control, which the session endpoint describes.
pub async fn handle(
    registry: &Registry,
    status: &ServerStatus,
    auth: &Auth,
    authorized: &Authorized,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let endpoint = Endpoint::parse(parts.uri.path())?;
    let query = Query::parse(parts.uri.query());
    let headers = &parts.headers;
    let head = parts.method == Method::HEAD;
    let allow = endpoint.allowed_methods();
    let browse = matches!(
        endpoint,
        Endpoint::Session
            | Endpoint::BrowseRepositories
            | Endpoint::BrowseTags
            | Endpoint::BrowseManifest
            | Endpoint::DeletionPreview
    );
    let response = match (endpoint, parts.method.clone()) {
        (Endpoint::ApiVersion, Method::GET | Method::HEAD) => Ok(discovery::api_version()),
        // Axum drops the body of a response to HEAD; every GET endpoint answers HEAD too.
        (Endpoint::Catalog, Method::GET | Method::HEAD) => {
            discovery::catalog(registry, &query, &authorized.caller).await
        }
        (Endpoint::Tags { repo }, Method::GET | Method::HEAD) => {
            discovery::tags(registry, &repo, &query).await
        }
        (Endpoint::Manifest { repo, reference }, Method::GET | Method::HEAD) => {
            manifests::get(registry, &repo, reference, headers, head).await
        }
        (Endpoint::Manifest { repo, reference }, Method::PUT) => {
            manifests::put(registry, &repo, reference, &query, headers, body).await
        }
        (Endpoint::Manifest { repo, reference }, Method::DELETE) => {
            manifests::delete(registry, &repo, reference, headers).await
        }
        (Endpoint::Blob { repo, digest }, Method::GET | Method::HEAD) => {
            blobs::get(registry, &repo, &digest, headers, head).await
        }
        (Endpoint::Blob { repo, digest }, Method::DELETE) => {
            blobs::delete(registry, &repo, &digest).await
        }
        (Endpoint::Uploads { repo }, Method::POST) if !authorized.mount_allowed => {
            // No pull on the mount's source: an ordinary upload, as if no mount was asked.
            let query = query.without(&["mount", "from"]);
            uploads::start(registry, &repo, &query, headers, body).await
        }
        (Endpoint::Uploads { repo }, Method::POST) => {
            uploads::start(registry, &repo, &query, headers, body).await
        }
        (Endpoint::Upload { repo, id }, Method::GET | Method::HEAD) => {
            uploads::status(registry, &repo, &id).await
        }
        (Endpoint::Upload { repo, id }, Method::PATCH) => {
            uploads::patch(registry, &repo, &id, headers, body).await
        }
        (Endpoint::Upload { repo, id }, Method::PUT) => {
            uploads::finish(registry, &repo, &id, &query, headers, body).await
        }
        (Endpoint::Upload { repo, id }, Method::DELETE) => {
            uploads::cancel(registry, &repo, &id).await
        }
        (Endpoint::Referrers { repo, digest }, Method::GET | Method::HEAD) => {
            referrers::list(registry, &repo, &digest, &query).await
        }
        (Endpoint::Discover, Method::GET | Method::HEAD) => Ok(referrers::discover(&parts)),
        (Endpoint::ExtensionDoc, Method::GET | Method::HEAD) => Ok(referrers::graph_doc()),
        (Endpoint::CollectGarbage, Method::POST) => admin::collect_garbage(registry, &query).await,
        (Endpoint::CollectGarbage, Method::GET | Method::HEAD) => admin::last_collection(registry),
        (Endpoint::Status, Method::GET | Method::HEAD) => Ok(admin::status(status)),
        (Endpoint::Scrub, Method::POST) => admin::scrub(registry, &query).await,
        (Endpoint::Usage, Method::GET | Method::HEAD) => admin::usage(registry).await,
        (Endpoint::Events, Method::GET | Method::HEAD) => {
            admin::event_deliveries(registry, &query).await
        }
        (Endpoint::Token, Method::GET) => token::get(&authorized.caller, &query).await,
        (Endpoint::Token, Method::POST) => token::post(&authorized.caller, &parts, body).await,
        (Endpoint::OrasReferrers { repo, digest }, Method::GET | Method::HEAD) => {
            referrers::list_oras(registry, &repo, digest.as_ref(), &query).await
        }
        (Endpoint::ReferrersGraph { repo, digest }, Method::GET | Method::HEAD) => {
            referrers_graph::graph(registry, &repo, &digest, &query).await
        }
        (Endpoint::Session, Method::GET | Method::HEAD) => {
            Ok(browse::session(auth, &authorized.caller))
        }
        (Endpoint::BrowseRepositories, Method::GET | Method::HEAD) => {
            browse::repositories(registry, &authorized.caller, &query).await
        }
        (Endpoint::BrowseTags, Method::GET | Method::HEAD) => {
            browse::tags(registry, &authorized.caller, &query).await
        }
        (Endpoint::BrowseManifest, Method::GET | Method::HEAD) => {
            browse::manifest(registry, &authorized.caller, &parts, &query).await
        }
        (Endpoint::DeletionPreview, Method::GET | Method::HEAD) => {
            browse::deletion_preview(registry, &query).await
        }
        (Endpoint::OpenApi, Method::GET | Method::HEAD) => Ok(openapi::document()),
        _ => Err(RequestError::MethodNotAllowed { allow }.into()),
    };
    if browse {
        // Errors too: a 404 may otherwise be cached heuristically.
        Ok(not_stored(response.unwrap_or_else(|e| e.into_response())))
    } else {
        response
    }
}

/// The browse API's answers depend on who asks and change with every push: no cache, shared
/// or private, keeps them.
fn not_stored(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        http::HeaderValue::from_static("nosniff"),
    );
    response
}

/// 304 Not Modified with the headers a 200 would carry (`ETag`, `Docker-Content-Digest`,
/// `Last-Modified`) and no body.
fn not_modified(builder: http::response::Builder) -> Response {
    builder
        .status(http::StatusCode::NOT_MODIFIED)
        .body(Body::empty())
        .expect("valid response")
}

/// A request body as a stream of chunks for the storage layer.
fn body_stream(body: Body) -> ByteStream {
    Box::pin(body.into_data_stream().map_err(io::Error::other))
}

/// `Content-Length`, when the client sent a valid one.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// `scheme://host` as the client addressed the registry, so that links are absolute: from
/// `X-Forwarded-Proto` and `X-Forwarded-Host` of a proxy in front of it, else from the request
/// (HTTP/2 sends scheme and authority in the URI and no `Host`; HTTP/1.1 sends `Host`, and the
/// server marks requests that came over TLS with `ServedOverTls`).
fn base_url(parts: &http::request::Parts) -> String {
    let (scheme, host) = client_origin(parts);
    format!("{scheme}://{host}")
}

/// The scheme and host (with port) of [`base_url`]. Each header is taken only when it holds
/// what it should: a scheme of `http` or `https`, a host of letters, digits, `.`, `-`, `_`,
/// `:` and IPv6 brackets (the first of a proxy chain's comma-separated hosts). Anything else
/// is skipped for the next source: these values go into links and into the pull commands the
/// UI offers to paste into a shell.
fn client_origin(parts: &http::request::Parts) -> (&str, &str) {
    let text = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = text("x-forwarded-proto")
        .map(|proto| proto.split(',').next().unwrap_or("").trim())
        .or(parts.uri.scheme_str())
        .filter(|scheme| matches!(*scheme, "http" | "https"))
        .unwrap_or(
            if parts.extensions.get::<crate::ServedOverTls>().is_some() {
                "https"
            } else {
                "http"
            },
        );
    let host = text("x-forwarded-host")
        .map(|hosts| hosts.split(',').next().unwrap_or("").trim())
        .filter(|host| plausible_host(host))
        .or_else(|| text(http::header::HOST.as_str()).filter(|host| plausible_host(host)))
        .or(parts.uri.authority().map(|a| a.as_str()))
        .filter(|host| plausible_host(host))
        .unwrap_or("localhost");
    (scheme, host)
}

/// Whether `host` looks like `name[:port]` or `[v6]:port` and nothing more.
fn plausible_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']')
        })
}

/// `Link: <path?params>; rel="next"` for a paginated listing: the request's own parameters
/// (`n`, filters) followed by the cursor of the next page (`last`, or the ORAS `nextToken`).
fn insert_next_link(
    headers: &mut HeaderMap,
    path: &str,
    params: &[(&str, String)],
    cursor: (&str, &str),
) {
    let mut target = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        target.append_pair(name, value);
    }
    target.append_pair(cursor.0, cursor.1);
    let link = format!("<{path}?{}>; rel=\"next\"", target.finish());
    if let Ok(value) = http::HeaderValue::from_str(&link) {
        headers.insert(http::header::LINK, value);
    }
}
