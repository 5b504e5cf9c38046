//! One delivery attempt: `POST` the envelope to the endpoint and judge the answer.

use berth_metadata::events::StoredEvent;

use crate::config::NotifyEndpoint;
use crate::envelope::body;
use crate::signature::{sign, SIGNATURE_HEADER};

/// `error` and its sources, `: `-separated (reqwest's own message alone says only "error
/// sending request").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Sends `events` to `endpoint` once, in one request: a single event in structured mode when
/// the endpoint's `batch_size` is 1, otherwise a batch. `Ok` when it answered 2xx; otherwise
/// why not (`HTTP 503`, or the connection or timeout error), for the log and the dead letter.
/// Every other answer is retried: a receiver that refuses an event today may accept it after
/// a fix.
pub(crate) async fn attempt(
    client: &reqwest::Client,
    endpoint: &NotifyEndpoint,
    source: &str,
    events: &[&StoredEvent],
) -> Result<(), String> {
    let (body, content_type) = body(events, source, endpoint.batch_size > 1);
    let mut request = client
        .post(endpoint.url.clone())
        .timeout(endpoint.timeout)
        .header(reqwest::header::CONTENT_TYPE, content_type);
    if let Some(secret) = &endpoint.secret {
        request = request.header(SIGNATURE_HEADER, sign(secret, body.as_bytes()));
    }
    match request.body(body).send().await {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!("HTTP {}", response.status().as_u16())),
        Err(e) if e.is_timeout() => Err(format!("timed out after {:?}", endpoint.timeout)),
        // Without the URL, which may hold a password or token (logged and shown in dead letters).
        Err(e) => Err(format!("request failed: {}", error_chain(&e.without_url()))),
    }
}
