//! `GET /berth/v1/openapi.json`: the OpenAPI 3.0.3 document of the browse API, the session
//! and the `_berth` referrers-graph extension, written by hand in `openapi.json` and served
//! as it is.

use axum::response::{IntoResponse, Response};
use http::header;

/// The document's text, embedded at compile time.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub fn document() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT).into_response()
}
