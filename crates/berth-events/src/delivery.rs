//! One delivery attempt: `POST` the envelope to the endpoint and judge the answer; and the
//! HTTP client that carries it.

use std::time::Duration;

use base64::Engine;
use berth_metadata::events::StoredEvent;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::config::NotifyEndpoint;
use crate::envelope::body;
use crate::signature::{sign, SIGNATURE_HEADER};

/// The longest an answer's body is waited for once its status is in: the body decides
/// nothing, and a receiver that stalls it would otherwise cost every event the whole timeout.
const DRAIN_WAIT: Duration = Duration::from_millis(100);

/// The most of an answer's body that is read (and thrown away) so that its connection can
/// carry the next event; a longer body closes the connection instead.
const DRAIN_LIMIT: usize = 64 * 1024;

/// The client every dispatcher sends with: hyper's pooled client, HTTP/1.1 over TCP or over
/// rustls (ring, with Mozilla's root certificates), keeping connections alive between events.
///
/// It follows no redirect: a redirect is an answer, retried like any other that is not 2xx,
/// since following it would send the signed body to a host the endpoint was not configured
/// for (or, on 301-303, turn the POST into a bodiless GET that "succeeds"). It uses no proxy.
#[derive(Clone)]
pub(crate) struct WebhookClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl WebhookClient {
    /// A client with its own connection pool.
    ///
    /// Errors: rustls refused its default protocol versions (never, with ring).
    pub(crate) fn new() -> Result<Self, String> {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(WebhookClient { client })
    }
}

/// Where an endpoint's requests go, worked out once from its configured URL: the request URI
/// without user information or fragment, and the `Authorization: Basic` header the user
/// information stands for (RFC 7617; percent-decoded, as browsers and HTTP clients send it).
#[derive(Clone)]
pub(crate) struct Target {
    uri: Uri,
    authorization: Option<HeaderValue>,
}

impl Target {
    /// Errors: the URL has no host, or is not a valid HTTP request URI.
    pub(crate) fn of(url: &url::Url) -> Result<Target, String> {
        let decode = |part: &str| percent_encoding::percent_decode_str(part).collect::<Vec<u8>>();
        let authorization = if url.username().is_empty() && url.password().is_none() {
            None
        } else {
            let mut credentials = decode(url.username());
            credentials.push(b':');
            credentials.extend(decode(url.password().unwrap_or("")));
            let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
            let mut value = HeaderValue::try_from(format!("Basic {encoded}"))
                .map_err(|e| format!("user information: {e}"))?;
            value.set_sensitive(true);
            Some(value)
        };
        let mut bare = url.clone();
        let _ = bare.set_username("");
        let _ = bare.set_password(None);
        bare.set_fragment(None);
        let uri: Uri = bare.as_str().parse().map_err(|e| format!("{e}"))?;
        if uri.host().is_none_or(str::is_empty) {
            return Err("no host".to_owned());
        }
        Ok(Target { uri, authorization })
    }
}

/// `error` and its sources, `: `-separated (hyper's own message alone says only "client
/// error (Connect)").
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
/// the endpoint's `batch_size` is 1, otherwise a batch. `Ok` when it answered 2xx within the
/// endpoint's timeout (connecting included); otherwise why not (`HTTP 503`, or the connection
/// or timeout error; never the URL, which may hold a password or token), for the log and the
/// dead letter. Every other answer is retried: a receiver that refuses an event today may
/// accept it after a fix.
pub(crate) async fn attempt(
    client: &WebhookClient,
    endpoint: &NotifyEndpoint,
    source: &str,
    events: &[&StoredEvent],
) -> Result<(), String> {
    let (body, content_type) = body(events, source, endpoint.batch_size > 1);
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(endpoint.target.uri.clone())
        .header(
            USER_AGENT,
            HeaderValue::from_static(concat!("berth/", env!("CARGO_PKG_VERSION"))),
        )
        .header(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(authorization) = &endpoint.target.authorization {
        request = request.header(AUTHORIZATION, authorization.clone());
    }
    if let Some(secret) = &endpoint.secret {
        request = request.header(SIGNATURE_HEADER, sign(secret, body.as_bytes()));
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("request refused: {e}"))?;
    let deadline = tokio::time::Instant::now() + endpoint.timeout;
    let response = match tokio::time::timeout_at(deadline, client.client.request(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => return Err(format!("request failed: {}", error_chain(&e))),
        Err(_) => return Err(format!("timed out after {:?}", endpoint.timeout)),
    };
    let status = response.status();
    // The answer counts once its status is in; the body is read only to keep the connection,
    // which is closed instead when the body is long or slow.
    let _ = tokio::time::timeout_at(
        deadline.min(tokio::time::Instant::now() + DRAIN_WAIT),
        Limited::new(response.into_body(), DRAIN_LIMIT).collect(),
    )
    .await;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", status.as_u16()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        Target::of(&url::Url::parse(url).unwrap()).unwrap()
    }

    #[test]
    fn user_information_becomes_basic_authorization_and_leaves_the_uri() {
        let t = target("https://hook%40ci:p%3Ass@receiver.example:8443/in?token=x#frag");
        assert_eq!(
            t.uri.to_string(),
            "https://receiver.example:8443/in?token=x"
        );
        // base64("hook@ci:p:ss")
        let value = t.authorization.unwrap();
        assert_eq!(value, "Basic aG9va0BjaTpwOnNz");
        assert!(value.is_sensitive());
    }

    #[test]
    fn a_url_without_user_information_sends_no_authorization() {
        let t = target("http://127.0.0.1:9000/hook");
        assert_eq!(t.uri.to_string(), "http://127.0.0.1:9000/hook");
        assert!(t.authorization.is_none());
        let t = target("http://user@[::1]/");
        assert_eq!(t.uri.to_string(), "http://[::1]/");
        assert_eq!(t.authorization.unwrap(), "Basic dXNlcjo=");
    }
}
