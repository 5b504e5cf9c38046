//! The access log as JSON lines: one line per request with its id, method, endpoint kind,
//! repository, status, bytes each way, duration and user; and never a secret (a password, a
//! token, an `Authorization` header, a query string) anywhere in the output.

use base64::Engine;
use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::http::{digest_of, pseudo_random, Registry};
use crate::support::TestServer;

const PASSWORD: &str = "alice-very-secret-pw";
const WRONG_PASSWORD: &str = "not-alices-pw-guess";

/// A server with `alice` (push and pull on `team/*`), logging JSON.
fn start(dir: &tempfile::TempDir) -> TestServer {
    let htpasswd = dir.path().join("htpasswd");
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    std::fs::write(&htpasswd, format!("alice:{hash}\n")).unwrap();
    let config = format!(
        "log_format = \"json\"\n\n[auth]\nhtpasswd = {:?}\nservice = \"berth-obs\"\n\n\
         [[auth.policy.rules]]\nrepositories = \"team/*\"\nusers = [\"alice\"]\n\
         actions = [\"pull\", \"push\"]\n",
        htpasswd.display().to_string()
    );
    TestServer::start_with_config(&config, &[])
}

/// The access lines (target `berth::access`) of a log whose every line must be JSON.
fn access_lines(log: &str) -> Vec<Value> {
    log.lines()
        .map(|line| {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"))
        })
        .filter(|line| line["target"] == "berth::access")
        .map(|line| line["fields"].clone())
        .collect()
}

#[tokio::test]
async fn json_access_lines_say_who_did_what_and_hold_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(&dir);
    let registry = Registry::new(server.url());
    let http = &registry.http;

    // Anonymous: challenged.
    let base = http.get(registry.url("/v2/")).send().await.unwrap();
    assert_eq!(base.status(), StatusCode::UNAUTHORIZED);
    // A failed and a good login at the token endpoint.
    let token_url =
        registry.url("/berth/v1/token?service=berth-obs&scope=repository:team/app:pull,push");
    let refused = http
        .get(&token_url)
        .basic_auth("alice", Some(WRONG_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let login = http
        .get(&token_url)
        .basic_auth("alice", Some(PASSWORD))
        .header("x-request-id", "login-1")
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(login.headers()["x-request-id"], "login-1");
    let token = login.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // A push and a pull with the token; an id the server will not take.
    let blob = pseudo_random(5, 3_000);
    let digest = digest_of(&blob);
    let pushed = http
        .post(registry.url(&format!("/v2/team/app/blobs/uploads/?digest={digest}")))
        .bearer_auth(&token)
        .header("x-request-id", "push-1")
        .header("content-type", "application/octet-stream")
        .body(Bytes::clone(&blob))
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), StatusCode::CREATED);
    assert_eq!(pushed.headers()["x-request-id"], "push-1");
    let pulled = http
        .get(registry.blob_url("team/app", &digest))
        .bearer_auth(&token)
        .header("x-request-id", "not a sane id")
        .send()
        .await
        .unwrap();
    assert_eq!(pulled.status(), StatusCode::OK);
    let pull_id = pulled.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        pull_id.len(),
        32,
        "a generated id replaced the client's: {pull_id}"
    );
    assert_eq!(pulled.bytes().await.unwrap(), blob);
    // A token in a query string is not logged either (the path is, without the query).
    let listed = http
        .get(registry.url(&format!("/v2/team/app/tags/list?access_token={token}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(listed.status().is_success() || listed.status() == StatusCode::NOT_FOUND);

    // Every line is out once the server has stopped.
    let status = server.terminate();
    assert!(status.success(), "{}", server.log());
    let log = server.log();
    let lines = access_lines(&log);
    let by_id = |id: &str| {
        lines
            .iter()
            .find(|l| l["request_id"] == id)
            .unwrap_or_else(|| panic!("no access line for {id}:\n{log}"))
            .clone()
    };
    let push = by_id("push-1");
    assert_eq!(push["method"], "POST");
    assert_eq!(push["endpoint"], "blob_upload");
    assert_eq!(push["repository"], "team/app");
    assert_eq!(push["path"], "/v2/team/app/blobs/uploads/");
    assert_eq!(push["status"], 201);
    assert_eq!(push["bytes_in"], blob.len());
    assert_eq!(push["user"], "alice");
    assert!(push["duration_ms"].as_f64().unwrap() >= 0.0);
    let pull = by_id(&pull_id);
    assert_eq!(pull["method"], "GET");
    assert_eq!(pull["endpoint"], "blob");
    assert_eq!(pull["status"], 200);
    assert_eq!(pull["bytes_out"], blob.len());
    assert_eq!(pull["bytes_in"], 0);
    let login = by_id("login-1");
    assert_eq!(login["endpoint"], "token");
    assert_eq!(login["user"], "alice");
    let anonymous = lines
        .iter()
        .find(|l| l["endpoint"] == "base")
        .expect("the anonymous /v2/ line");
    assert_eq!(anonymous["user"], "anonymous");
    assert_eq!(anonymous["status"], 401);
    assert!(
        lines.iter().any(|l| l["path"] == "/v2/team/app/tags/list"),
        "the listing's path is logged without its query:\n{log}"
    );
    assert!(lines.len() >= 6, "one line per request:\n{log}");

    let basic = base64::engine::general_purpose::STANDARD.encode(format!("alice:{PASSWORD}"));
    for secret in [
        PASSWORD,
        WRONG_PASSWORD,
        token.as_str(),
        basic.as_str(),
        "access_token",
    ] {
        assert!(!log.contains(secret), "{secret:?} is in the log:\n{log}");
    }
    assert!(!log.to_ascii_lowercase().contains("authorization"), "{log}");
}

#[tokio::test]
async fn a_request_abandoned_before_its_answer_is_logged_as_499() {
    let server = TestServer::start_with_config("log_format = \"json\"\n", &[]);
    let registry = Registry::new(server.url());
    // A 3 MiB blob that a scrub at 1 MiB/s takes about three seconds to hash.
    let blob = pseudo_random(9, 3 << 20);
    let digest = digest_of(&blob);
    let pushed = registry
        .http
        .post(registry.url(&format!("/v2/slow/app/blobs/uploads/?digest={digest}")))
        .body(blob)
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), StatusCode::CREATED);
    let abandoned = registry
        .http
        .post(registry.url("/berth/v1/scrub?rate=1"))
        .header("x-request-id", "walked-away-1")
        .timeout(std::time::Duration::from_millis(300))
        .send()
        .await;
    assert!(abandoned.unwrap_err().is_timeout());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let line = loop {
        let found = access_lines(&server.log())
            .into_iter()
            .find(|line| line["request_id"] == "walked-away-1");
        if let Some(line) = found {
            break line;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no access line for the abandoned request: {}",
            server.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(line["status"], 499, "{line}");
    assert_eq!(line["endpoint"], "admin", "{line}");
    assert_eq!(line["path"], "/berth/v1/scrub", "{line}");
}

/// Waits until `server`'s log holds `needle`; panics with the log after 10 s.
async fn wait_for_log(server: &TestServer, needle: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let log = server.log();
        if log.contains(needle) {
            return log;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{needle:?} never logged:\n{log}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_filter_naming_berth_access_turns_access_lines_off_and_leaves_the_rest() {
    // Both log text lines at INFO; one filter silences the access log alone.
    let quiet = TestServer::start_with(&["--log", "info,berth::access=off"]);
    let loud = TestServer::start_with(&["--log", "info"]);
    for (server, id) in [(&quiet, "quiet-probe-1"), (&loud, "loud-probe-1")] {
        let registry = Registry::new(server.url());
        let base = registry
            .http
            .get(registry.url("/v2/"))
            .header("x-request-id", id)
            .send()
            .await
            .unwrap();
        assert_eq!(base.status(), StatusCode::OK);
    }
    let loud_log = wait_for_log(&loud, "request_id=\"loud-probe-1\"").await;
    let line = loud_log
        .lines()
        .find(|line| line.contains("loud-probe-1"))
        .unwrap();
    assert!(line.contains("INFO berth::access: request"), "{line}");
    assert!(line.contains("endpoint=\"base\""), "{line}");
    assert!(line.contains("status=200"), "{line}");
    // The loud server's line was written, so the quiet one's would have been by now (both
    // write within the same interval); its other INFO lines still are.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let quiet_log = quiet.log();
    assert!(quiet_log.contains("berth listening"), "{quiet_log}");
    assert!(!quiet_log.contains("berth::access"), "{quiet_log}");
    assert!(!quiet_log.contains("quiet-probe-1"), "{quiet_log}");
}
