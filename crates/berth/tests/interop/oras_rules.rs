//! The ORAS Python SDK meeting the artifact-manifest fixes (`oras_rules.py` pushes with
//! `client.upload_manifest`): an ORAS artifact manifest needs its subject in the repository,
//! an image-spec rc2 artifact manifest may omit `artifactType`, and the `_oras` listing is
//! newest first by `io.cncf.oras.artifact.created`. Raw HTTP then reads what was stored.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::http::*;
use crate::support::TestServer;

const ORAS_ARTIFACT: &str = "application/vnd.cncf.oras.artifact.manifest.v1+json";
const RC2_ARTIFACT: &str = "application/vnd.oci.artifact.manifest.v1+json";
/// The types `oras_rules.py` gives its artifacts.
const SIGNATURE: &str = "application/vnd.example.signature.v1+json";
const SBOM_QUERY: &str = "application%2Fspdx%2Bjson";

/// A server after `oras_rules.py` ran against `repo` on it, and the script's `RESULT`.
struct Pushed {
    server: TestServer,
    registry: Registry,
    repo: &'static str,
    result: Value,
}

fn pushed() -> Pushed {
    require_python_oras();
    let server = TestServer::start();
    let registry = Registry::new(server.url());
    let repo = "oras/rules";
    let workdir = tempfile::tempdir().expect("work dir");
    let result = run_oras_script(&server, "interop/oras_rules.py", repo, workdir.path());
    Pushed {
        server,
        registry,
        repo,
        result,
    }
}

impl Pushed {
    /// `RESULT[key]`, which must be there.
    fn get(&self, key: &str) -> &Value {
        let value = &self.result[key];
        assert!(!value.is_null(), "RESULT has no {key}: {}", self.result);
        value
    }

    fn digest(&self, key: &str) -> String {
        str_of(&self.get(key)["digest"])
    }

    /// `GET path` answered 200: headers and JSON body.
    async fn get_json(&self, path: &str) -> (reqwest::header::HeaderMap, Value) {
        let response = self
            .registry
            .http
            .get(self.registry.url(path))
            .send()
            .await
            .expect("GET");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("body");
        let text = String::from_utf8_lossy(&body);
        assert_eq!(status, StatusCode::OK, "GET {path}: {text}");
        let value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
        (headers, value)
    }

    /// The OCI referrers listing of `subject` with `query`: headers and descriptors.
    async fn referrers(
        &self,
        subject: &str,
        query: &str,
    ) -> (reqwest::header::HeaderMap, Vec<Value>) {
        let path = format!("/v2/{}/referrers/{subject}{query}", self.repo);
        let (headers, index) = self.get_json(&path).await;
        assert_eq!(index["mediaType"], OCI_INDEX, "{path}: {index}");
        (headers, array(&index["manifests"], &path))
    }
}

fn str_of(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .to_owned()
}

fn array(value: &Value, what: &str) -> Vec<Value> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{what}: not an array: {value}"))
        .clone()
}

fn digests(descriptors: &[Value]) -> Vec<String> {
    descriptors.iter().map(|d| str_of(&d["digest"])).collect()
}

#[tokio::test]
async fn oras_artifact_with_an_absent_subject_is_refused_and_with_a_pushed_one_stored() {
    let p = pushed();
    let image = p.digest("image");

    // (a) The subject is the digest of "absent": refused, nothing stored, nothing listed.
    let absent = p.get("absent_subject");
    assert_eq!(absent["status"], 400, "{absent}");
    assert_eq!(absent["code"], "MANIFEST_BLOB_UNKNOWN", "{absent}");
    assert!(
        str_of(&absent["message"]).contains("subject"),
        "the refusal does not say it is about the subject: {absent}"
    );
    assert_eq!(
        absent["get_status"], 404,
        "GET of the refused manifest: {absent}"
    );
    let refused = str_of(&absent["digest"]);
    p.registry
        .assert_manifest_absent(p.repo, &refused, "refused ORAS artifact")
        .await;
    let (_, on_absent) = p.referrers(&digest_of(b"absent"), "").await;
    assert!(
        on_absent.is_empty(),
        "a refused artifact is listed: {on_absent:?}"
    );

    // (b) The same kind of manifest about a pushed image: stored and listed.
    let present = p.get("present_subject");
    assert_eq!(present["status"], 201, "{present}");
    assert_eq!(
        present["subject_header"],
        image.as_str(),
        "OCI-Subject: {present}"
    );
    assert_eq!(
        present["get_exact"], true,
        "read back byte-exact: {present}"
    );
    assert_eq!(present["get_content_type"], ORAS_ARTIFACT, "{present}");
    let (_, listed) = p.referrers(&image, "").await;
    let stored = listed
        .iter()
        .find(|d| d["digest"] == present["digest"])
        .unwrap_or_else(|| panic!("the ORAS artifact is not listed: {listed:?}"));
    assert_eq!(
        stored,
        &json!({
            "mediaType": ORAS_ARTIFACT,
            "digest": present["digest"],
            "size": present["size"],
            "artifactType": SIGNATURE,
            "annotations": {"org.example.case": "present"},
        })
    );
    assert!(!digests(&listed).contains(&refused));
    assert_log_clean(&p.server.log());
}

#[tokio::test]
async fn rc2_artifact_without_artifact_type_is_stored_byte_exact_and_listed_without_one() {
    let p = pushed();
    let image = p.digest("image");
    let rc2 = p.get("rc2");
    assert_eq!(rc2["status"], 201, "{rc2}");
    assert_eq!(rc2["subject_header"], image.as_str(), "OCI-Subject: {rc2}");
    assert_eq!(
        rc2["get_exact"], true,
        "the SDK read back other bytes: {rc2}"
    );
    let digest = str_of(&rc2["digest"]);

    // Raw: the stored bytes hash to the digest, with the rc2 media type.
    let reply = p.registry.get_manifest(p.repo, &digest).await.expect("GET");
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type.as_deref(), Some(RC2_ARTIFACT));
    assert_eq!(digest_of(&reply.body), digest);
    assert_eq!(rc2["size"], reply.body.len());
    let manifest: Value = serde_json::from_slice(&reply.body).expect("manifest JSON");
    assert!(manifest.get("artifactType").is_none(), "{manifest}");

    // Listed as a referrer of the image, without an artifactType field (not null, not "").
    let (_, listed) = p.referrers(&image, "").await;
    assert_eq!(
        digests(&listed).len(),
        2,
        "the ORAS artifact and the rc2 one: {listed:?}"
    );
    let descriptor = listed
        .iter()
        .find(|d| d["digest"] == digest.as_str())
        .unwrap_or_else(|| panic!("the rc2 artifact is not listed: {listed:?}"));
    assert_eq!(
        descriptor,
        &json!({
            "mediaType": RC2_ARTIFACT,
            "digest": digest,
            "size": rc2["size"],
            "annotations": {"org.example.case": "rc2"},
        })
    );
    assert_log_clean(&p.server.log());
}

#[tokio::test]
async fn oras_listing_pages_newest_first_with_undated_artifacts_last() {
    let p = pushed();
    let subject = p.digest("dated_subject");
    let dated = array(p.get("dated"), "dated");
    assert_eq!(dated.len(), 6);
    for artifact in &dated {
        assert_eq!(artifact["status"], 201, "{artifact}");
    }
    // Newest first by the time the annotation names (not its text); undated ones after.
    let mut newest_first: Vec<&Value> = dated.iter().filter(|a| a["created_ms"].is_i64()).collect();
    newest_first.sort_by_key(|a| std::cmp::Reverse(a["created_ms"].as_i64()));
    let dated_order: Vec<String> = newest_first.iter().map(|a| str_of(&a["digest"])).collect();
    let mut undated: Vec<String> = dated
        .iter()
        .filter(|a| a["created_ms"].is_null())
        .map(|a| str_of(&a["digest"]))
        .collect();
    undated.sort();
    assert_eq!((dated_order.len(), undated.len()), (4, 2));
    let mut by_digest = digests(&dated);
    by_digest.sort();
    // The fixture tells the orders apart: neither digest order nor the annotations' text
    // order is newest first.
    let mut dated_by_digest = dated_order.clone();
    dated_by_digest.sort();
    assert_ne!(
        dated_order, dated_by_digest,
        "fixture: digest order is newest first"
    );
    newest_first.sort_by_key(|a| std::cmp::Reverse(str_of(&a["created"])));
    let by_text: Vec<String> = newest_first.iter().map(|a| str_of(&a["digest"])).collect();
    assert_ne!(dated_order, by_text, "fixture: text order is newest first");

    // Two at a time, following the Link header.
    let mut listed = Vec::new();
    let mut next = Some(format!(
        "/v2/{}/_oras/artifacts/referrers?digest={subject}&n=2",
        p.repo
    ));
    let mut pages = 0;
    while let Some(path) = next.take() {
        pages += 1;
        assert!(pages <= 4, "the listing does not end");
        let (headers, body) = p.get_json(&path).await;
        assert_eq!(
            header_value(&headers, "oras-api-version").as_deref(),
            Some("oras/1.0")
        );
        let page = array(&body["referrers"], &path);
        assert!(page.len() <= 2, "{path}: {} on a page of 2", page.len());
        listed.extend(digests(&page));
        next = header_value(&headers, "link").map(|link| next_link_target(&link));
        if let Some(target) = &next {
            assert!(target.contains("nextToken="), "{target}");
        }
    }
    assert_eq!(listed.len(), 6, "{listed:?}");
    assert_eq!(&listed[..4], dated_order, "dated artifacts, newest first");
    let mut tail = listed[4..].to_vec();
    tail.sort();
    assert_eq!(tail, undated, "undated artifacts last");

    // An empty artifactType is no filter: everything, without OCI-Filters-Applied.
    let (headers, all) = p.referrers(&subject, "?artifactType=").await;
    assert_eq!(
        digests(&all),
        by_digest,
        "the OCI listing keeps digest order"
    );
    assert!(header_value(&headers, "oci-filters-applied").is_none());
    let (headers, sboms) = p
        .referrers(&subject, &format!("?artifactType={SBOM_QUERY}"))
        .await;
    assert_eq!(sboms.len(), 2, "{sboms:?}");
    assert_eq!(
        header_value(&headers, "oci-filters-applied").as_deref(),
        Some("artifactType")
    );
    let path = format!(
        "/v2/{}/_oras/artifacts/referrers?digest={subject}&artifactType=",
        p.repo
    );
    let (_, body) = p.get_json(&path).await;
    assert_eq!(digests(&array(&body["referrers"], &path)), listed);
    assert_log_clean(&p.server.log());
}
