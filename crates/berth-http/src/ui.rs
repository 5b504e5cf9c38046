//! The web UI: the files of `crates/berth-http/ui/`, embedded at compile time, served under
//! `/ui/` as a single-page app (a path that names no file answers `index.html`, so that the
//! app routes it). Loading the UI needs no authorization; the API requests it makes are
//! authorized as usual. Every answer carries a strict Content-Security-Policy.

use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;
use http::{header, HeaderMap, HeaderValue, StatusCode};

use crate::error::{ApiError, RequestError};

/// Where the UI lives; `/` and this path redirect to [`UI_PREFIX`].
pub const UI_PATH: &str = "/ui";
/// The prefix of every UI file's path.
pub const UI_PREFIX: &str = "/ui/";

/// The page every app route answers.
const INDEX: &str = "index.html";

/// Scripts, styles and images only from this origin (images also as `data:` URLs), no inline
/// code, never framed, no `<base>` and no form posting elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'self'";

#[derive(rust_embed::Embed)]
#[folder = "ui/"]
struct Assets;

/// The UI's routes: `/` and `/ui` redirect to `/ui/`, which answers `index.html`; `/ui/<path>`
/// answers the file, or `index.html` when there is none.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", only_get(get(to_ui)))
        .route(UI_PATH, only_get(get(to_ui)))
        .route(UI_PREFIX, only_get(get(index)))
        .route("/ui/{*path}", only_get(get(file)))
}

/// A GET route that answers other methods (HEAD is GET's) with the registry's 405.
fn only_get<S: Clone + Send + Sync + 'static>(route: MethodRouter<S>) -> MethodRouter<S> {
    route.fallback(|| async {
        ApiError::from(RequestError::MethodNotAllowed { allow: "GET, HEAD" }).into_response()
    })
}

async fn to_ui() -> Redirect {
    Redirect::temporary(UI_PREFIX)
}

async fn index(headers: HeaderMap) -> Response {
    serve(INDEX, &headers)
}

/// The file a path names, matched on the path as sent: the embedded names need no decoding,
/// and a page address (`/ui/r/<repository>`) may hold escapes that are not UTF-8 text, which
/// the page itself reports.
async fn file(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().strip_prefix(UI_PREFIX).unwrap_or("");
    if Assets::get(path).is_some() {
        serve(path, &headers)
    } else {
        serve(INDEX, &headers)
    }
}

/// The `Content-Type` of a file, by its extension.
fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map_or("", |(_, e)| e);
    match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// One embedded file, revalidated on every use (`Cache-Control: no-cache`: the names carry no
/// version, so a cached copy must not outlive an upgrade), with its hash as the `ETag`.
fn serve(path: &str, request: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        // Only when the UI was built without an index.html.
        return ApiError::from(crate::endpoint::EndpointError::NotFound).into_response();
    };
    let hash: String = file
        .metadata
        .sha256_hash()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let etag = format!("\"{hash}\"");
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, content_type(path))],
            file.data.into_owned(),
        )
            .into_response()
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Addresses in the UI name repositories: they stay on this origin.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// The paths of the embedded files, relative to `/ui/`.
#[cfg(test)]
pub(crate) fn files() -> impl Iterator<Item = String> {
    Assets::iter().map(|f| f.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_typed_by_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("a/b/style.CSS"), "text/css; charset=utf-8");
        assert_eq!(content_type("icon.svg"), "image/svg+xml");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }

    #[test]
    fn the_ui_has_an_index() {
        assert!(Assets::get(INDEX).is_some(), "ui/index.html is embedded");
    }
}
