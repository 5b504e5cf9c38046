//! Hostile and malformed requests against the real binary. Each must be answered with a 4xx
//! and an OCI error body (`{"errors":[{"code":..}]}`), never a 5xx, must touch nothing
//! outside the data directory, and must leave an image pushed before it byte-exact.

mod support;

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::json;
use support::http::*;
use support::TestServer;

/// 404 codes acceptable for a path that names nothing.
const NOT_FOUND_CODES: &[&str] = &[
    "NAME_UNKNOWN",
    "UNSUPPORTED",
    "NOT_FOUND",
    "BLOB_UNKNOWN",
    "MANIFEST_UNKNOWN",
    "BLOB_UPLOAD_UNKNOWN",
];

/// Request headers for `raw_request`.
type Headers = Vec<(&'static str, String)>;

/// A raw request: method, target, headers, body.
type RawCase = (&'static str, String, Headers, Vec<u8>);

/// A server with one image pushed, checked after every bad request.
struct Fixture {
    server: TestServer,
    reg: Registry,
    image: Image,
}

impl Fixture {
    async fn start() -> Fixture {
        let server = TestServer::start();
        let reg = Registry::new(server.url());
        let image = Image::new("acme/app", "v1", 1, &[70_000, 3_000]);
        reg.push_image(&image).await;
        reg.assert_image(&image, "freshly pushed").await;
        Fixture { server, reg, image }
    }

    fn addr(&self) -> String {
        self.server.host()
    }

    fn data_dir(&self) -> std::path::PathBuf {
        self.server.data_dir()
    }

    /// The previously pushed image still pulls back byte-exact, and its tag list is intact.
    async fn intact(&self, after: &str) {
        self.reg
            .assert_image(&self.image, &format!("after {after}"))
            .await;
    }

    /// Sends a raw request and returns the reply; a dropped connection is a failure.
    async fn raw(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> RawResponse {
        raw_request(&self.addr(), method, target, headers, body, false)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{method} {target}: no HTTP reply: {e}\nserver log:\n{}",
                    self.server.log()
                )
            })
    }

    /// Final checks: no internal error was logged and the data directory holds only what the
    /// layout allows.
    fn finish(&self) {
        assert_log_clean(&self.server.log());
        assert_data_dir_layout(&self.data_dir());
    }
}

/// The data directory holds only the metadata database, committed blobs and staged uploads.
fn assert_data_dir_layout(data_dir: &Path) {
    for path in files_under(data_dir) {
        let relative = path
            .strip_prefix(data_dir)
            .expect("under data dir")
            .to_string_lossy()
            .into_owned();
        let allowed = matches!(
            relative.as_str(),
            "metadata.db" | "metadata.db-wal" | "metadata.db-shm"
        ) || relative.starts_with("blobs/blobs/sha256/")
            || relative
                .strip_prefix("blobs/uploads/")
                .is_some_and(|id| id.len() == 36 && !id.contains('/'));
        assert!(allowed, "unexpected file in the data directory: {relative}");
    }
    assert_committed_blobs_valid(data_dir);
}

/// A unique name that hostile paths try to create, searched for afterwards.
fn marker() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("berthescape{}x{nanos}", std::process::id())
}

/// No file or directory whose name contains `marker` exists in the places a traversal could
/// reach from the server's working directory or data directory.
fn assert_marker_absent(marker: &str, server: &TestServer) {
    let mut roots = vec![
        server.path().to_path_buf(),
        std::env::temp_dir(),
        std::env::current_dir().expect("cwd"),
        std::path::PathBuf::from("/tmp"),
        std::path::PathBuf::from("/"),
    ];
    if let Some(parent) = server.path().parent() {
        roots.push(parent.to_path_buf());
    }
    for root in &roots {
        if let Ok(entries) = std::fs::read_dir(root) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                assert!(
                    !name.contains(marker),
                    "a hostile path created {}",
                    entry.path().display()
                );
            }
        }
    }
    for path in files_under(server.path()) {
        assert!(
            !path.to_string_lossy().contains(marker),
            "a hostile path created {}",
            path.display()
        );
    }
}

/// A reply to a request naming an invalid repository: 400 NAME_INVALID, or a 404.
fn check_bad_name(what: &str, reply: &RawResponse) {
    if reply.status == 400 {
        reply.expect_error(what, &[400], &["NAME_INVALID"]);
    } else {
        reply.expect_error(what, &[404], NOT_FOUND_CODES);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn path_traversal_and_invalid_repository_names_are_refused() {
    let fx = Fixture::start().await;
    let m = marker();
    let passwd_before = std::fs::read("/etc/passwd").ok();
    let passwd_mtime = std::fs::metadata("/etc/passwd")
        .and_then(|md| md.modified())
        .ok();
    let manifest = fx.image.manifest.to_vec();
    let blob = pseudo_random(77, 1000);
    let blob_digest = digest_of(&blob);
    let long = "a".repeat(300);
    let long_slashed = vec!["ab"; 100].join("/");
    let over_limit = "b".repeat(256);
    let ct = || vec![("Content-Type", OCI_MANIFEST.to_owned())];
    let octet = || vec![("Content-Type", "application/octet-stream".to_owned())];

    // (method, target, headers, body)
    let cases: Vec<RawCase> = vec![
        ("GET", "/v2/../../etc/passwd/manifests/x".into(), vec![], vec![]),
        ("HEAD", "/v2/../../etc/passwd/manifests/x".into(), vec![], vec![]),
        ("DELETE", "/v2/../../etc/passwd/manifests/x".into(), vec![], vec![]),
        ("PUT", "/v2/../../etc/passwd/manifests/x".into(), ct(), manifest.clone()),
        ("PUT", format!("/v2/../../../../../../tmp/{m}/manifests/latest"), ct(), manifest.clone()),
        ("GET", "/v2/%2e%2e/%2e%2e/etc/passwd/manifests/x".into(), vec![], vec![]),
        ("PUT", format!("/v2/%2e%2e/%2e%2e/tmp/{m}/manifests/latest"), ct(), manifest.clone()),
        ("GET", "/v2/%2E%2E/%2E%2E/etc/tags/list".into(), vec![], vec![]),
        ("GET", "/v2/..%2f..%2fetc%2fpasswd/tags/list".into(), vec![], vec![]),
        ("GET", "/v2/acme/app/../../../etc/passwd/manifests/x".into(), vec![], vec![]),
        ("GET", "/v2/acme/app/../app/manifests/v1".into(), vec![], vec![]),
        ("GET", "/v2/./acme/app/manifests/v1".into(), vec![], vec![]),
        ("GET", "/v2/acme%2Fapp/manifests/v1".into(), vec![], vec![]),
        ("GET", "/v2/acme/app%00/manifests/v1".into(), vec![], vec![]),
        ("POST", format!("/v2/../../tmp/{m}/blobs/uploads/"), vec![], vec![]),
        ("POST", format!("/v2/%2e%2e/%2e%2e/tmp/{m}/blobs/uploads/?digest={blob_digest}"), octet(), blob.to_vec()),
        ("POST", format!("/v2/acme/..%2f..%2f{m}/blobs/uploads/?digest={blob_digest}"), octet(), blob.to_vec()),
        ("GET", "/v2/../../etc/passwd/blobs/sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(), vec![], vec![]),
        ("GET", "/v2/acme/app/blobs/../../../../etc/passwd".into(), vec![], vec![]),
        ("GET", format!("/v2/acme/app/blobs/uploads/../../../../tmp/{m}"), vec![], vec![]),
        ("PATCH", format!("/v2/acme/app/blobs/uploads/../../../../tmp/{m}"), octet(), blob.to_vec()),
        // Uppercase.
        ("GET", "/v2/Acme/App/manifests/v1".into(), vec![], vec![]),
        ("GET", "/v2/ACME/app/tags/list".into(), vec![], vec![]),
        ("PUT", "/v2/Acme/app/manifests/v1".into(), ct(), manifest.clone()),
        ("POST", "/v2/acme/App/blobs/uploads/".into(), vec![], vec![]),
        ("POST", format!("/v2/Acme/app/blobs/uploads/?digest={blob_digest}"), octet(), blob.to_vec()),
        // Trailing, doubled and leading slashes.
        ("GET", "/v2/acme/app/manifests/v1/".into(), vec![], vec![]),
        ("GET", "/v2/acme/app/".into(), vec![], vec![]),
        ("GET", "/v2/acme/app/tags/list/".into(), vec![], vec![]),
        ("GET", "/v2/acme/app//manifests/v1".into(), vec![], vec![]),
        ("GET", "/v2//acme/app/manifests/v1".into(), vec![], vec![]),
        ("PUT", "/v2/acme/app//manifests/v1".into(), ct(), manifest.clone()),
        ("PUT", "/v2/acme/app/manifests/v1/".into(), ct(), manifest.clone()),
        ("GET", format!("/v2/acme/app/blobs/{}/", digest_of(&fx.image.config)), vec![], vec![]),
        ("POST", "/v2/acme/app//blobs/uploads/".into(), vec![], vec![]),
        // Names over the length limit.
        ("GET", format!("/v2/{long}/manifests/v1"), vec![], vec![]),
        ("GET", format!("/v2/{long}/tags/list"), vec![], vec![]),
        ("PUT", format!("/v2/{long}/manifests/v1"), ct(), manifest.clone()),
        ("POST", format!("/v2/{long}/blobs/uploads/"), vec![], vec![]),
        ("POST", format!("/v2/{long}/blobs/uploads/?digest={blob_digest}"), octet(), blob.to_vec()),
        ("GET", format!("/v2/{long_slashed}/tags/list"), vec![], vec![]),
        ("POST", format!("/v2/{over_limit}/blobs/uploads/"), vec![], vec![]),
    ];
    for (method, target, headers, body) in &cases {
        let what = format!("{method} {}", &target[..target.len().min(120)]);
        let reply = fx.raw(method, target, headers, body).await;
        if *method == "HEAD" {
            assert!(
                matches!(reply.status, 400 | 404),
                "{what}: status {}",
                reply.status
            );
        } else {
            check_bad_name(&what, &reply);
        }
        fx.intact(&what).await;
    }

    // A mount from a hostile source name: refused, or an ordinary upload session instead (which
    // the spec allows when the source cannot be used), but never a mount.
    let layer_digest = digest_of(&fx.image.layers[0]);
    for from in [
        "..%2F..%2Fetc",
        "acme%2F..%2F..%2Facme%2Fapp",
        "Acme/App",
        "acme/app/",
        long.as_str(),
    ] {
        let what = format!("mount from {from:?}");
        let target = format!("/v2/acme/app/blobs/uploads/?mount={layer_digest}&from={from}");
        let reply = fx.raw("POST", &target, &[], &[]).await;
        assert_ne!(reply.status, 201, "{what}: mounted");
        if reply.status == 202 {
            let location = reply
                .header("location")
                .expect("Location of the started session")
                .to_owned();
            let cancelled = fx
                .reg
                .http
                .delete(fx.reg.absolute(&location))
                .send()
                .await
                .unwrap();
            assert_eq!(
                cancelled.status(),
                StatusCode::NO_CONTENT,
                "{what}: cancel the started session"
            );
        } else {
            reply.expect_error(&what, &[400], &["NAME_INVALID"]);
        }
        fx.intact(&what).await;
    }

    // Nothing was created by the hostile names: no repository, no blob.
    let catalog: serde_json::Value = fx
        .reg
        .http
        .get(fx.reg.url("/v2/_catalog"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        catalog["repositories"],
        json!(["acme/app"]),
        "no repository was created by a hostile name"
    );
    assert_marker_absent(&m, &fx.server);
    assert_eq!(
        std::fs::read("/etc/passwd").ok(),
        passwd_before,
        "/etc/passwd changed"
    );
    assert_eq!(
        std::fs::metadata("/etc/passwd")
            .and_then(|md| md.modified())
            .ok(),
        passwd_mtime,
        "/etc/passwd touched"
    );
    assert!(
        !fx.server
            .data_dir()
            .join("blobs/blobs/sha256")
            .join(&blob_digest[7..9])
            .join(&blob_digest[7..])
            .exists(),
        "the blob sent with a hostile name was stored"
    );

    // The longest valid name (255 characters) works, so the limit is where it says.
    let longest = format!("{}/{}", "c".repeat(127), "d".repeat(127));
    assert_eq!(longest.len(), 255);
    fx.reg.push_blob(&longest, &blob).await;
    fx.reg
        .assert_blob(&longest, &blob, "blob in a 255-character repository")
        .await;
    fx.intact("pushing to the longest name").await;
    fx.finish();
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_tags_are_refused() {
    let fx = Fixture::start().await;
    let other = image_manifest(&fx.image.config, &fx.image.layers, &[("variant", "other")]);
    let other_digest = digest_of(&other);
    let ct = vec![("Content-Type", OCI_MANIFEST.to_owned())];
    let long_tag = "t".repeat(129);
    let bad_tags: Vec<String> = vec![
        "-bad".into(),
        ".hidden".into(),
        long_tag,
        "bad%20tag".into(),
        "a%2Fb".into(),
        "t%C3%A4g".into(),
        "tag%00".into(),
        "%2e%2e".into(),
    ];
    let tag_codes: &[&str] = &["TAG_INVALID", "MANIFEST_INVALID"];
    for tag in &bad_tags {
        let what = format!("PUT manifest to tag {tag:?}");
        let reply = fx
            .raw("PUT", &format!("/v2/acme/app/manifests/{tag}"), &ct, &other)
            .await;
        reply.expect_error(&what, &[400], tag_codes);
        fx.intact(&what).await;
        let what = format!("GET manifest by tag {tag:?}");
        let reply = fx
            .raw("GET", &format!("/v2/acme/app/manifests/{tag}"), &[], &[])
            .await;
        if reply.status == 400 {
            reply.expect_error(&what, &[400], tag_codes);
        } else {
            reply.expect_error(&what, &[404], &["MANIFEST_UNKNOWN"]);
        }
        let what = format!("DELETE manifest by tag {tag:?}");
        let reply = fx
            .raw("DELETE", &format!("/v2/acme/app/manifests/{tag}"), &[], &[])
            .await;
        if reply.status == 400 {
            reply.expect_error(&what, &[400], tag_codes);
        } else {
            reply.expect_error(&what, &[404], &["MANIFEST_UNKNOWN", "UNSUPPORTED"]);
        }
        fx.intact(&what).await;
    }
    // A colon makes the reference a digest, which this is not.
    let reply = fx
        .raw("PUT", "/v2/acme/app/manifests/a:b", &ct, &other)
        .await;
    reply.expect_error(
        "PUT manifest to reference a:b",
        &[400],
        &["TAG_INVALID", "MANIFEST_INVALID", "DIGEST_INVALID"],
    );
    fx.intact("PUT to a:b").await;

    // Invalid `?tag=` values refuse the whole push: no manifest, no tag, not even the valid ones.
    for query in [
        "tag=-bad",
        "tag=good&tag=.bad",
        "tag=good&tag=a%2Fb",
        &format!("tag={}", "q".repeat(129)),
    ] {
        let what = format!("PUT manifest by digest with ?{query}");
        let reply = fx
            .raw(
                "PUT",
                &format!("/v2/acme/app/manifests/{other_digest}?{query}"),
                &ct,
                &other,
            )
            .await;
        reply.expect_error(&what, &[400], tag_codes);
        fx.reg
            .assert_manifest_absent("acme/app", &other_digest, &what)
            .await;
        fx.reg
            .assert_manifest_absent("acme/app", "good", &what)
            .await;
        fx.intact(&what).await;
    }
    assert_eq!(
        fx.reg.tags("acme/app").await,
        vec!["v1".to_owned()],
        "invalid tags left the tag list unchanged"
    );

    // The longest valid tag (128 characters) is accepted.
    let longest = "L".repeat(128);
    fx.reg.push_manifest("acme/app", &longest, &other).await;
    fx.reg
        .assert_manifest("acme/app", &longest, &other, "longest tag")
        .await;
    let mut tags = fx.reg.tags("acme/app").await;
    tags.sort();
    assert_eq!(tags, vec![longest, "v1".to_owned()]);
    fx.intact("pushing the longest tag").await;
    fx.finish();
}

/// Digests that do not parse, in every place a digest goes.
fn malformed_digests() -> Vec<String> {
    let hex64 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    vec![
        "sha256:xyz".into(),
        format!("sha256:{}", &hex64[..63]),
        format!("sha256:{hex64}0"),
        format!("sha256:{}", hex64.to_uppercase()),
        format!("sha256:{}", "g".repeat(64)),
        format!("SHA256:{hex64}"),
        format!("sha512:{hex64}"),
        "md5:d41d8cd98f00b204e9800998ecf8427e".into(),
        format!("foo:{hex64}"),
        "sha256".into(),
        "sha256:".into(),
        format!(":{hex64}"),
        "sha256:..%2F..%2F..%2Fetc%2Fpasswd".into(),
        format!("sha256%3A{}", &hex64[..10]),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_and_wrong_digests_are_refused_and_store_nothing() {
    let fx = Fixture::start().await;
    let data = pseudo_random(5, 4096);
    let actual = digest_of(&data);
    let digest_codes: &[&str] = &["DIGEST_INVALID", "UNSUPPORTED"];
    let octet = || vec![("Content-Type", "application/octet-stream".to_owned())];

    for bad in malformed_digests() {
        // Reads: 400 DIGEST_INVALID, or a plain 404.
        for (method, target) in [
            ("GET", format!("/v2/acme/app/blobs/{bad}")),
            ("DELETE", format!("/v2/acme/app/blobs/{bad}")),
            ("GET", format!("/v2/acme/app/manifests/{bad}")),
        ] {
            let what = format!("{method} {target}");
            let reply = fx.raw(method, &target, &[], &[]).await;
            if reply.status == 400 {
                reply.expect_error(
                    &what,
                    &[400],
                    &[
                        "DIGEST_INVALID",
                        "UNSUPPORTED",
                        "MANIFEST_INVALID",
                        "TAG_INVALID",
                    ],
                );
            } else {
                reply.expect_error(&what, &[404], NOT_FOUND_CODES);
            }
            fx.intact(&what).await;
        }
        let reply = fx
            .raw("HEAD", &format!("/v2/acme/app/blobs/{bad}"), &[], &[])
            .await;
        assert!(
            matches!(reply.status, 400 | 404),
            "HEAD blob {bad}: {}",
            reply.status
        );
        fx.intact(&format!("HEAD blob {bad}")).await;

        // Monolithic upload with the bad digest.
        let what = format!("POST ?digest={bad}");
        let reply = fx
            .raw(
                "POST",
                &format!("/v2/acme/app/blobs/uploads/?digest={bad}"),
                &octet(),
                &data,
            )
            .await;
        reply.expect_error(&what, &[400], digest_codes);
        fx.reg.assert_blob_absent("acme/app", &actual, &what).await;
        fx.intact(&what).await;

        // Chunked upload finished with the bad digest; then without any digest.
        let location = fx.reg.start_upload("acme/app").await.unwrap();
        let patched = fx
            .reg
            .patch_chunk(&location, data.clone(), 0)
            .await
            .unwrap();
        assert_eq!(patched.status(), StatusCode::ACCEPTED);
        let path = location
            .strip_prefix(&fx.reg.base)
            .expect("same server")
            .to_owned();
        let what = format!("PUT upload ?digest={bad}");
        let reply = fx
            .raw("PUT", &format!("{path}?digest={bad}"), &[], &[])
            .await;
        reply.expect_error(&what, &[400], digest_codes);
        fx.reg.assert_blob_absent("acme/app", &actual, &what).await;
        fx.intact(&what).await;
        let reply = fx.raw("PUT", &path, &[], &[]).await;
        reply.expect_error(
            "PUT upload without ?digest=",
            &[400, 404],
            &["DIGEST_INVALID", "BLOB_UPLOAD_UNKNOWN"],
        );
        fx.reg
            .assert_blob_absent("acme/app", &actual, "PUT without digest")
            .await;
        fx.intact("PUT upload without ?digest=").await;
        let cancelled = fx.reg.http.delete(&location).send().await.unwrap();
        assert!(
            matches!(cancelled.status().as_u16(), 204 | 404),
            "cancel after bad digests: {}",
            cancelled.status()
        );

        // Mount of a bad digest.
        let what = format!("POST ?mount={bad}&from=acme/app");
        let reply = fx
            .raw(
                "POST",
                &format!("/v2/other/repo/blobs/uploads/?mount={bad}&from=acme/app"),
                &[],
                &[],
            )
            .await;
        reply.expect_error(&what, &[400], digest_codes);
        fx.intact(&what).await;
    }

    // Content that does not match the claimed digest: DIGEST_INVALID, and the bytes are
    // readable under neither the claimed nor the actual digest.
    let other = pseudo_random(6, 4096);
    let claimed = digest_of(&other);
    let sha512_claim = format!("sha512:{}", "ab".repeat(64));
    let layer_digest = digest_of(&fx.image.layers[0]);
    for (repo, claim) in [
        ("acme/app", claimed.clone()),
        ("acme/app", sha512_claim.clone()),
        // Claiming a digest that exists in this repository must not overwrite its bytes ...
        ("acme/app", layer_digest.clone()),
        // ... nor make it readable in another repository.
        ("evil/repo", layer_digest.clone()),
    ] {
        let what = format!("monolithic push to {repo} claiming {claim}");
        let response = fx
            .reg
            .http
            .post(
                fx.reg
                    .url(&format!("/v2/{repo}/blobs/uploads/?digest={claim}")),
            )
            .header("content-type", "application/octet-stream")
            .body(data.clone())
            .send()
            .await
            .unwrap();
        expect_error(&what, response, &[400], &["DIGEST_INVALID"]).await;
        fx.reg.assert_blob_absent(repo, &actual, &what).await;
        if claim != layer_digest || repo != "acme/app" {
            fx.reg.assert_blob_absent(repo, &claim, &what).await;
        }
        fx.intact(&what).await;

        for final_chunk in [false, true] {
            let what = format!(
                "chunked push to {repo} claiming {claim} (final chunk in PUT: {final_chunk})"
            );
            let location = fx.reg.start_upload(repo).await.unwrap();
            let split = if final_chunk { 1000 } else { data.len() };
            let patched = fx
                .reg
                .patch_chunk(&location, data.slice(..split), 0)
                .await
                .unwrap();
            assert_eq!(patched.status(), StatusCode::ACCEPTED, "{what}");
            let mut put = fx.reg.http.put(Registry::with_digest(&location, &claim));
            put = if final_chunk {
                put.header("content-range", format!("{split}-{}", data.len() - 1))
                    .header("content-type", "application/octet-stream")
                    .body(data.slice(split..))
            } else {
                put.header("content-length", "0")
            };
            expect_error(
                &what,
                put.send().await.unwrap(),
                &[400],
                &["DIGEST_INVALID"],
            )
            .await;
            fx.reg.assert_blob_absent(repo, &actual, &what).await;
            if claim != layer_digest || repo != "acme/app" {
                fx.reg.assert_blob_absent(repo, &claim, &what).await;
            }
            // The session may be kept for a retry or discarded, but never commits anything.
            let status = fx.reg.upload_status(&location).await.unwrap();
            match status.status().as_u16() {
                204 => {
                    let cancelled = fx.reg.http.delete(&location).send().await.unwrap();
                    assert_eq!(cancelled.status(), StatusCode::NO_CONTENT, "{what}: cancel");
                }
                _ => {
                    expect_error(
                        &format!("{what}: session status"),
                        status,
                        &[404],
                        &["BLOB_UPLOAD_UNKNOWN"],
                    )
                    .await;
                }
            }
            fx.intact(&what).await;
        }
    }
    // A manifest cannot reference the bytes that failed verification.
    let manifest = image_manifest(&fx.image.config, std::slice::from_ref(&data), &[]);
    let response = fx
        .reg
        .put_manifest("acme/app", "unverified", OCI_MANIFEST, manifest)
        .await
        .unwrap();
    expect_error(
        "manifest referencing an unverified blob",
        response,
        &[400],
        &["MANIFEST_BLOB_UNKNOWN"],
    )
    .await;
    fx.reg
        .assert_manifest_absent(
            "acme/app",
            "unverified",
            "manifest referencing an unverified blob",
        )
        .await;

    assert_eq!(
        staged_uploads(&fx.data_dir()),
        Vec::<String>::new(),
        "refused uploads left staged files"
    );
    let on_disk = assert_committed_blobs_valid(&fx.data_dir());
    assert!(
        !on_disk.contains(&actual) && !on_disk.contains(&claimed),
        "unverified bytes were committed: {on_disk:?}"
    );
    fx.intact("all digest cases").await;
    fx.finish();
}

#[tokio::test(flavor = "multi_thread")]
async fn content_length_and_content_range_mismatches_are_refused() {
    let fx = Fixture::start().await;
    let data = pseudo_random(9, 1000);
    let digest = digest_of(&data);
    let location = fx.reg.start_upload("acme/app").await.unwrap();
    let path = location
        .strip_prefix(&fx.reg.base)
        .expect("same server")
        .to_owned();
    let id = path.rsplit('/').next().unwrap().to_owned();
    let staged_len = || {
        std::fs::metadata(fx.data_dir().join("blobs/uploads").join(&id))
            .map(|m| m.len())
            .ok()
    };
    let octet = || ("Content-Type", "application/octet-stream".to_owned());
    let size_codes: &[&str] = &["SIZE_INVALID", "BLOB_UPLOAD_INVALID", "RANGE_INVALID"];

    // Refused before a byte is read: Content-Length disagrees with Content-Range, the range
    // does not start at the current end, or the range does not parse.
    let header_cases: Vec<(&str, Headers, Vec<u8>)> = vec![
        (
            "Content-Range 0-99 with 50 bytes",
            vec![octet(), ("Content-Range", "0-99".into())],
            data[..50].to_vec(),
        ),
        (
            "Content-Range 0-9 with 50 bytes",
            vec![octet(), ("Content-Range", "0-9".into())],
            data[..50].to_vec(),
        ),
        (
            "Content-Range 10-19 at offset 0",
            vec![octet(), ("Content-Range", "10-19".into())],
            data[10..20].to_vec(),
        ),
        (
            "Content-Range 5-2",
            vec![octet(), ("Content-Range", "5-2".into())],
            data[..4].to_vec(),
        ),
        (
            "Content-Range garbage",
            vec![octet(), ("Content-Range", "garbage".into())],
            data[..10].to_vec(),
        ),
        (
            "Content-Range -5",
            vec![octet(), ("Content-Range", "-5".into())],
            data[..6].to_vec(),
        ),
        (
            "Content-Range 0-",
            vec![octet(), ("Content-Range", "0-".into())],
            data[..10].to_vec(),
        ),
        (
            "Content-Range beyond u64",
            vec![
                octet(),
                ("Content-Range", "0-99999999999999999999999".into()),
            ],
            data[..10].to_vec(),
        ),
    ];
    for (what, headers, body) in &header_cases {
        let what = format!("PATCH with {what}");
        let reply = fx.raw("PATCH", &path, headers, body).await;
        reply.expect_error(&what, &[400, 416], size_codes);
        if reply.status == 416 {
            assert_eq!(
                reply.header("range"),
                Some("0-0"),
                "{what}: 416 reports the bytes received"
            );
        }
        assert_eq!(staged_len(), Some(0), "{what}: nothing may be staged");
        fx.intact(&what).await;
    }

    // A good first chunk.
    let ok = fx
        .reg
        .patch_chunk(&location, data.slice(..100), 0)
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&ok, "range").as_deref(), Some("0-99"));

    // A body shorter than its Content-Range (sent chunked, so only the range declares a size).
    let response = fx
        .reg
        .http
        .patch(&location)
        .header("content-type", "application/octet-stream")
        .header("content-range", "100-199")
        .body(slow_body(data.slice(100..150), 10, Duration::ZERO))
        .send()
        .await
        .unwrap();
    expect_error(
        "PATCH 100-199 with 50 bytes",
        response,
        &[400, 416],
        size_codes,
    )
    .await;
    fx.intact("short chunk").await;
    // A body longer than its Content-Range.
    let received = current_len(&fx.reg, &location, staged_len()).await;
    assert!(
        (100..=150).contains(&received),
        "after a short chunk the upload has {received} bytes"
    );
    let over = data.slice(received as usize..received as usize + 100);
    let response = fx
        .reg
        .http
        .patch(&location)
        .header("content-type", "application/octet-stream")
        .header("content-range", format!("{received}-{}", received + 49))
        .body(slow_body(over, 100, Duration::ZERO))
        .send()
        .await
        .unwrap();
    expect_error(
        "PATCH of 100 bytes declaring 50",
        response,
        &[400, 416],
        size_codes,
    )
    .await;
    fx.intact("long chunk").await;
    let before = received;
    let received = current_len(&fx.reg, &location, staged_len()).await;
    assert!(
        (before..=before + 50).contains(&received),
        "a chunk declaring 50 bytes but sending 100 grew the upload from {before} to {received} bytes"
    );

    // Finishing with a mismatching Content-Length/Content-Range, or at the wrong offset.
    let rest = &data[received as usize..];
    let finish_cases: Vec<(String, Headers, Vec<u8>, &[u16])> = vec![
        (
            "PUT with Content-Range longer than the body".into(),
            vec![
                octet(),
                (
                    "Content-Range",
                    format!("{received}-{}", received + rest.len() as u64),
                ),
            ],
            rest.to_vec(),
            &[400, 416],
        ),
        (
            "PUT with Content-Range at the wrong offset".into(),
            vec![
                octet(),
                (
                    "Content-Range",
                    format!("{}-{}", received + 1, received + rest.len() as u64),
                ),
            ],
            rest.to_vec(),
            &[400, 416],
        ),
        (
            "PUT with Content-Range 0-0 and a long body".into(),
            vec![octet(), ("Content-Range", "0-0".into())],
            rest.to_vec(),
            &[400, 416],
        ),
    ];
    for (what, headers, body, statuses) in &finish_cases {
        let reply = fx
            .raw("PUT", &format!("{path}?digest={digest}"), headers, body)
            .await;
        reply.expect_error(what, statuses, size_codes);
        assert_eq!(
            staged_len(),
            Some(received),
            "{what}: the staged bytes are unchanged"
        );
        fx.reg.assert_blob_absent("acme/app", &digest, what).await;
        fx.intact(what).await;
    }

    // After all those refusals the session resumes from where it stands and stores the right bytes.
    let response = fx
        .reg
        .http
        .put(Registry::with_digest(&location, &digest))
        .header("content-type", "application/octet-stream")
        .header("content-range", format!("{received}-{}", data.len() - 1))
        .body(Bytes::copy_from_slice(rest))
        .send()
        .await
        .unwrap();
    assert_created(
        response,
        &digest,
        "finishing the upload after refused chunks",
    )
    .await;
    fx.reg
        .assert_blob("acme/app", &data, "blob finished after refused chunks")
        .await;

    // Monolithic pushes whose body is shorter or longer than the Content-Length.
    let blob = pseudo_random(10, 2000);
    let full = digest_of(&blob);
    let half = digest_of(&blob[..1000]);
    // Shorter: the client half-closes after 1000 of 2000 declared bytes.
    let headers = vec![octet(), ("Content-Length", "2000".to_owned())];
    let reply = raw_request(
        &fx.addr(),
        "POST",
        &format!("/v2/acme/app/blobs/uploads/?digest={full}"),
        &headers,
        &blob[..1000],
        true,
    )
    .await;
    let reply = reply.expect("a reply to a body cut short");
    reply.expect_error(
        "POST with a body shorter than Content-Length",
        &[400],
        &["SIZE_INVALID", "BLOB_UPLOAD_INVALID", "DIGEST_INVALID"],
    );
    assert_eq!(
        staged_uploads(&fx.data_dir()),
        Vec::<String>::new(),
        "a refused monolithic body left staged bytes"
    );
    fx.reg
        .assert_blob_absent("acme/app", &full, "short monolithic body")
        .await;
    fx.reg
        .assert_blob_absent("acme/app", &half, "short monolithic body")
        .await;
    fx.intact("short monolithic body").await;
    // Longer: 2000 bytes after `Content-Length: 1000`; the server reads 1000, whose digest is
    // not the claimed one.
    let headers = vec![octet(), ("Content-Length", "1000".to_owned())];
    let reply = raw_request(
        &fx.addr(),
        "POST",
        &format!("/v2/acme/app/blobs/uploads/?digest={full}"),
        &headers,
        &blob,
        false,
    )
    .await
    .expect("reply");
    reply.expect_error(
        "POST with a body longer than Content-Length",
        &[400],
        &["DIGEST_INVALID", "SIZE_INVALID"],
    );
    fx.reg
        .assert_blob_absent("acme/app", &full, "long monolithic body")
        .await;
    fx.reg
        .assert_blob_absent("acme/app", &half, "long monolithic body")
        .await;
    fx.intact("long monolithic body").await;
    fx.finish();
}

/// Bytes received by an upload, from its status; the ambiguous `0-0` is settled by the staged
/// file's size.
async fn current_len(reg: &Registry, location: &str, staged: Option<u64>) -> u64 {
    let response = reg.upload_status(location).await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT, "upload status");
    let range = header(&response, "range").expect("Range on upload status");
    let len = range_len(&range).unwrap_or_else(|| staged.expect("staged file"));
    assert_eq!(
        Some(len),
        staged,
        "status Range {range} agrees with the staged bytes"
    );
    len
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_finished_and_invalid_upload_sessions_are_404() {
    let fx = Fixture::start().await;
    let data = pseudo_random(11, 3000);
    let digest = digest_of(&data);
    let octet = || ("Content-Type", "application/octet-stream".to_owned());

    // Every method on a session path must be refused in the same way.
    async fn all_methods_unknown(fx: &Fixture, path: &str, digest: &str, data: &[u8], what: &str) {
        let octet = ("Content-Type", "application/octet-stream".to_owned());
        let cases: Vec<(&str, String, Headers, &[u8])> = vec![
            ("GET", path.to_owned(), vec![], &[]),
            (
                "PATCH",
                path.to_owned(),
                vec![
                    octet.clone(),
                    ("Content-Range", format!("0-{}", data.len() - 1)),
                ],
                data,
            ),
            ("PATCH", path.to_owned(), vec![octet.clone()], data),
            ("PUT", format!("{path}?digest={digest}"), vec![], &[]),
            (
                "PUT",
                format!("{path}?digest={digest}"),
                vec![octet.clone()],
                data,
            ),
            ("DELETE", path.to_owned(), vec![], &[]),
        ];
        for (method, target, headers, body) in cases {
            let label = format!("{what}: {method} {target}");
            let reply = fx.raw(method, &target, &headers, body).await;
            reply.expect_error(&label, &[404], &["BLOB_UPLOAD_UNKNOWN"]);
            fx.intact(&label).await;
        }
    }

    // Never started.
    for id in [
        "0b1e5cfa-3f6b-4a3c-9f0e-2d3c4b5a6978",
        "00000000-0000-0000-0000-000000000000",
    ] {
        all_methods_unknown(
            &fx,
            &format!("/v2/acme/app/blobs/uploads/{id}"),
            &digest,
            &data,
            "unknown session",
        )
        .await;
    }
    fx.reg
        .assert_blob_absent("acme/app", &digest, "writes to unknown sessions")
        .await;

    // Not an upload id at all.
    for id in [
        "not-a-uuid",
        "0B1E5CFA-3F6B-4A3C-9F0E-2D3C4B5A6978",
        "0b1e5cfa3f6b4a3c9f0e2d3c4b5a6978",
        "0b1e5cfa-3f6b-4a3c-9f0e-2d3c4b5a69780",
        "..%2F..%2Fmetadata.db",
        "%2e%2e%2f%2e%2e%2fmetadata.db",
        "..",
        "metadata.db",
    ] {
        all_methods_unknown(
            &fx,
            &format!("/v2/acme/app/blobs/uploads/{id}"),
            &digest,
            &data,
            &format!("invalid id {id}"),
        )
        .await;
    }
    fx.reg
        .assert_blob_absent("acme/app", &digest, "writes to invalid sessions")
        .await;

    // Finished.
    let location = fx.reg.start_upload("acme/app").await.unwrap();
    let path = location.strip_prefix(&fx.reg.base).unwrap().to_owned();
    assert_eq!(
        fx.reg
            .patch_chunk(&location, data.clone(), 0)
            .await
            .unwrap()
            .status(),
        StatusCode::ACCEPTED
    );
    let done = fx
        .reg
        .http
        .put(Registry::with_digest(&location, &digest))
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_created(done, &digest, "finishing an upload").await;
    all_methods_unknown(&fx, &path, &digest, &data, "finished session").await;
    fx.reg
        .assert_blob("acme/app", &data, "blob of a finished session")
        .await;

    // Cancelled.
    let location = fx.reg.start_upload("acme/app").await.unwrap();
    let path = location.strip_prefix(&fx.reg.base).unwrap().to_owned();
    let other = pseudo_random(12, 500);
    assert_eq!(
        fx.reg
            .patch_chunk(&location, other.clone(), 0)
            .await
            .unwrap()
            .status(),
        StatusCode::ACCEPTED
    );
    let cancelled = fx.reg.http.delete(&location).send().await.unwrap();
    assert_eq!(
        cancelled.status(),
        StatusCode::NO_CONTENT,
        "cancelling a session"
    );
    all_methods_unknown(&fx, &path, &digest_of(&other), &other, "cancelled session").await;
    fx.reg
        .assert_blob_absent("acme/app", &digest_of(&other), "cancelled session")
        .await;

    // A session of another repository is unknown here, and survives the attempts.
    let location = fx.reg.start_upload("acme/app").await.unwrap();
    let id = location.rsplit('/').next().unwrap().to_owned();
    let third = pseudo_random(13, 800);
    let third_digest = digest_of(&third);
    all_methods_unknown(
        &fx,
        &format!("/v2/other/repo/blobs/uploads/{id}"),
        &third_digest,
        &third,
        "foreign session",
    )
    .await;
    let patched = fx
        .reg
        .patch_chunk(&location, third.clone(), 0)
        .await
        .unwrap();
    assert_eq!(
        patched.status(),
        StatusCode::ACCEPTED,
        "the session still works in its own repository"
    );
    let done = fx
        .reg
        .http
        .put(Registry::with_digest(&location, &third_digest))
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_created(done, &third_digest, "finishing after foreign attempts").await;
    fx.reg
        .assert_blob("acme/app", &third, "blob of the foreign-probed session")
        .await;
    fx.reg
        .assert_blob_absent("other/repo", &third_digest, "foreign repository")
        .await;

    // Other methods on the upload endpoints.
    let reply = fx.raw("GET", "/v2/acme/app/blobs/uploads/", &[], &[]).await;
    reply.expect_error(
        "GET on the uploads collection",
        &[404, 405],
        &["UNSUPPORTED", "BLOB_UPLOAD_UNKNOWN"],
    );
    let reply = fx
        .raw(
            "POST",
            &format!("/v2/acme/app/blobs/uploads/{id}"),
            &[octet()],
            &third,
        )
        .await;
    reply.expect_error(
        "POST on a session",
        &[404, 405],
        &["UNSUPPORTED", "BLOB_UPLOAD_UNKNOWN"],
    );
    assert_eq!(
        staged_uploads(&fx.data_dir()),
        Vec::<String>::new(),
        "no staged upload is left"
    );
    fx.intact("all session cases").await;
    fx.finish();
}

/// A valid manifest referencing the fixture's blobs, padded with an annotation to exactly
/// `size` bytes.
fn padded_manifest(image: &Image, size: usize) -> Bytes {
    let build = |pad: usize| {
        let value = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, &image.config),
            "layers": image.layers.iter().map(|l| descriptor(OCI_LAYER, l)).collect::<Vec<_>>(),
            "annotations": {"pad": "x".repeat(pad)},
        });
        serde_json::to_vec(&value).unwrap()
    };
    let base = build(0).len();
    let body = build(size - base);
    assert_eq!(body.len(), size);
    Bytes::from(body)
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_manifests_are_refused_with_413() {
    let fx = Fixture::start().await;
    const LIMIT: usize = 4 * 1024 * 1024;
    let too_codes: &[&str] = &["MANIFEST_INVALID", "SIZE_INVALID", "MANIFEST_TOO_LARGE"];
    // Sent over a bare socket that writes the whole body before reading the reply: the server
    // may answer 413 as soon as it sees the size and close, which some clients (hyper's) report
    // as a broken pipe instead of reading the reply.
    for (size, chunked) in [
        (LIMIT + 1, false),
        (LIMIT + 1, true),
        (LIMIT + 4096, false),
        (16 * 1024 * 1024, true),
        (16 * 1024 * 1024, false),
    ] {
        let body = padded_manifest(&fx.image, size);
        let digest = digest_of(&body);
        let what = format!("manifest of {size} bytes (chunked: {chunked})");
        let mut headers = vec![("Content-Type", OCI_MANIFEST.to_owned())];
        let wire = if chunked {
            headers.push(("Transfer-Encoding", "chunked".to_owned()));
            chunked_encoding(&body, 256 * 1024)
        } else {
            body.to_vec()
        };
        let reply = raw_request(
            &fx.addr(),
            "PUT",
            "/v2/acme/app/manifests/huge",
            &headers,
            &wire,
            false,
        )
        .await
        .unwrap_or_else(|e| panic!("{what}: no reply ({e}); server log:\n{}", fx.server.log()));
        reply.expect_error(&what, &[413], too_codes);
        fx.reg
            .assert_manifest_absent("acme/app", "huge", &what)
            .await;
        fx.reg
            .assert_manifest_absent("acme/app", &digest, &what)
            .await;
        fx.intact(&what).await;
    }
    assert_eq!(fx.reg.tags("acme/app").await, vec!["v1".to_owned()]);

    // Exactly at the limit is accepted and pulled back byte-exact.
    let body = padded_manifest(&fx.image, LIMIT);
    fx.reg.push_manifest("acme/app", "limit", &body).await;
    fx.reg
        .assert_manifest("acme/app", "limit", &body, "manifest at the size limit")
        .await;
    fx.intact("manifest at the limit").await;
    fx.finish();
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_and_unsupported_manifests_are_refused() {
    let fx = Fixture::start().await;
    let config = descriptor(OCI_CONFIG, &fx.image.config);
    let layers: Vec<_> = fx
        .image
        .layers
        .iter()
        .map(|l| descriptor(OCI_LAYER, l))
        .collect();
    let good = serde_json::to_vec(
        &json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers}),
    )
    .unwrap();
    let to_vec = |v: serde_json::Value| serde_json::to_vec(&v).unwrap();
    let invalid: &[&str] = &["MANIFEST_INVALID"];
    let unsupported: &[&str] = &["MANIFEST_INVALID", "UNSUPPORTED"];
    let docker_v2 = "application/vnd.docker.distribution.manifest.v2+json";
    let schema1 = "application/vnd.docker.distribution.manifest.v1+json";
    let schema1_signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
    let deep_object = format!("{}1{}", "{\"a\":".repeat(50_000), "}".repeat(50_000)).into_bytes();

    let cases: Vec<(&str, &str, Vec<u8>, &[&str])> = vec![
        ("not JSON", OCI_MANIFEST, b"not json".to_vec(), invalid),
        ("empty body", OCI_MANIFEST, Vec::new(), invalid),
        ("JSON array", OCI_MANIFEST, b"[]".to_vec(), invalid),
        ("JSON null", OCI_MANIFEST, b"null".to_vec(), invalid),
        ("unterminated object", OCI_MANIFEST, b"{".to_vec(), invalid),
        (
            "truncated manifest",
            OCI_MANIFEST,
            good[..good.len() / 2].to_vec(),
            invalid,
        ),
        (
            "trailing garbage",
            OCI_MANIFEST,
            [good.as_slice(), b"}}garbage"].concat(),
            invalid,
        ),
        (
            "invalid UTF-8",
            OCI_MANIFEST,
            vec![0xff, 0xfe, 0x7b, 0x80, 0x7d],
            invalid,
        ),
        ("deeply nested arrays", OCI_MANIFEST, deep, invalid),
        ("deeply nested objects", OCI_MANIFEST, deep_object, invalid),
        (
            "no config",
            OCI_MANIFEST,
            to_vec(json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": layers})),
            invalid,
        ),
        (
            "no layers",
            OCI_MANIFEST,
            to_vec(json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config})),
            invalid,
        ),
        (
            "layers not an array",
            OCI_MANIFEST,
            to_vec(
                json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": {}}),
            ),
            invalid,
        ),
        (
            "schemaVersion 3",
            OCI_MANIFEST,
            to_vec(
                json!({"schemaVersion": 3, "mediaType": OCI_MANIFEST, "config": config, "layers": layers}),
            ),
            invalid,
        ),
        (
            "schemaVersion as string",
            OCI_MANIFEST,
            to_vec(
                json!({"schemaVersion": "2", "mediaType": OCI_MANIFEST, "config": config, "layers": layers}),
            ),
            invalid,
        ),
        (
            "no schemaVersion",
            OCI_MANIFEST,
            to_vec(json!({"mediaType": OCI_MANIFEST, "config": config, "layers": layers})),
            invalid,
        ),
        (
            "config with a malformed digest",
            OCI_MANIFEST,
            to_vec(
                json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"mediaType": OCI_CONFIG, "digest": "sha256:abc", "size": 1}, "layers": layers}),
            ),
            invalid,
        ),
        (
            "layer with a negative size",
            OCI_MANIFEST,
            to_vec(
                json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [{"mediaType": OCI_LAYER, "digest": digest_of(&fx.image.layers[0]), "size": -1}]}),
            ),
            invalid,
        ),
        (
            "layer without a digest",
            OCI_MANIFEST,
            to_vec(
                json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [{"mediaType": OCI_LAYER, "size": 1}]}),
            ),
            invalid,
        ),
        (
            "body mediaType differs from Content-Type",
            OCI_INDEX,
            good.clone(),
            invalid,
        ),
        (
            "Docker Content-Type on an OCI manifest",
            docker_v2,
            good.clone(),
            invalid,
        ),
        (
            "unknown body mediaType",
            OCI_MANIFEST,
            to_vec(
                json!({"schemaVersion": 2, "mediaType": "text/plain", "config": config, "layers": layers}),
            ),
            unsupported,
        ),
        (
            "index with a malformed child digest",
            OCI_INDEX,
            to_vec(
                json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"mediaType": OCI_MANIFEST, "digest": "sha256:zz", "size": 1}]}),
            ),
            invalid,
        ),
        (
            "schema 1 manifest",
            schema1,
            to_vec(
                json!({"schemaVersion": 1, "name": "acme/app", "tag": "bad", "architecture": "amd64", "fsLayers": [], "history": []}),
            ),
            unsupported,
        ),
        (
            "signed schema 1 manifest",
            schema1_signed,
            to_vec(
                json!({"schemaVersion": 1, "name": "acme/app", "tag": "bad", "architecture": "amd64", "fsLayers": [], "history": [], "signatures": []}),
            ),
            unsupported,
        ),
        (
            "schema 1 body without Content-Type hint",
            OCI_MANIFEST,
            to_vec(json!({"schemaVersion": 1, "name": "acme/app", "tag": "bad", "fsLayers": []})),
            unsupported,
        ),
        (
            "schema 2 body under the schema 1 Content-Type",
            schema1,
            to_vec(json!({"schemaVersion": 2, "config": config, "layers": layers})),
            unsupported,
        ),
    ];
    for (what, content_type, body, codes) in &cases {
        let what = format!("manifest: {what}");
        let digest = digest_of(body);
        for reference in ["bad", digest.as_str()] {
            let response = fx
                .reg
                .put_manifest(
                    "acme/app",
                    reference,
                    content_type,
                    Bytes::from(body.clone()),
                )
                .await
                .unwrap();
            expect_error(
                &format!("{what} (PUT to {reference})"),
                response,
                &[400],
                codes,
            )
            .await;
            fx.intact(&format!("{what} (PUT to {reference})")).await;
        }
        fx.reg
            .assert_manifest_absent("acme/app", "bad", &what)
            .await;
        fx.reg
            .assert_manifest_absent("acme/app", &digest, &what)
            .await;
        fx.intact(&what).await;
    }
    assert_eq!(
        fx.reg.tags("acme/app").await,
        vec!["v1".to_owned()],
        "refused manifests created no tag"
    );
    // The well-formed variant is accepted, so the refusals were about the defects.
    let response = fx
        .reg
        .put_manifest("acme/app", "good", OCI_MANIFEST, Bytes::from(good.clone()))
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "the well-formed manifest"
    );
    fx.intact("malformed manifests").await;
    fx.finish();
}

#[tokio::test(flavor = "multi_thread")]
async fn manifest_pushed_by_a_digest_it_does_not_have_is_refused() {
    let fx = Fixture::start().await;
    let second = image_manifest(&fx.image.config, &fx.image.layers, &[("variant", "second")]);
    let third = image_manifest(&fx.image.config, &fx.image.layers, &[("variant", "third")]);
    let second_digest = digest_of(&second);
    let third_digest = digest_of(&third);
    let sha512_claim = format!("sha512:{}", "cd".repeat(64));
    for (claim, label) in [
        (third_digest.clone(), "another manifest's digest"),
        (
            fx.image.digest.clone(),
            "the digest of the manifest already stored",
        ),
        (sha512_claim.clone(), "a sha512 digest"),
        (digest_of(b"unrelated"), "an unrelated digest"),
    ] {
        let what = format!("PUT manifest by {label}");
        let response = fx
            .reg
            .put_manifest("acme/app", &claim, OCI_MANIFEST, second.clone())
            .await
            .unwrap();
        expect_error(
            &what,
            response,
            &[400],
            &["DIGEST_INVALID", "MANIFEST_INVALID"],
        )
        .await;
        fx.reg
            .assert_manifest_absent("acme/app", &second_digest, &what)
            .await;
        if claim != fx.image.digest {
            fx.reg
                .assert_manifest_absent("acme/app", &claim, &what)
                .await;
        }
        // With `?tag=` neither the tag is created.
        let response = fx
            .reg
            .http
            .put(
                fx.reg
                    .url(&format!("/v2/acme/app/manifests/{claim}?tag=sneaky")),
            )
            .header("content-type", OCI_MANIFEST)
            .body(second.clone())
            .send()
            .await
            .unwrap();
        expect_error(
            &format!("{what} with ?tag="),
            response,
            &[400],
            &["DIGEST_INVALID", "MANIFEST_INVALID"],
        )
        .await;
        fx.reg
            .assert_manifest_absent("acme/app", "sneaky", &what)
            .await;
        fx.intact(&what).await;
    }
    assert_eq!(fx.reg.tags("acme/app").await, vec!["v1".to_owned()]);
    // The right digest is accepted.
    fx.reg
        .push_manifest("acme/app", &second_digest, &second)
        .await;
    fx.reg
        .assert_manifest(
            "acme/app",
            &second_digest,
            &second,
            "pushed by its own digest",
        )
        .await;
    fx.intact("digest mismatches").await;
    fx.finish();
}

#[tokio::test(flavor = "multi_thread")]
async fn manifest_referencing_a_blob_of_another_repository_is_refused() {
    let fx = Fixture::start().await;
    // Another repository holds its own image and a blob acme/app does not have.
    let foreign = Image::new("other/repo", "v1", 2, &[40_000]);
    fx.reg.push_image(&foreign).await;
    let foreign_layer = foreign.layers[0].clone();
    let foreign_digest = digest_of(&foreign_layer);
    fx.reg
        .assert_blob_absent("acme/app", &foreign_digest, "a blob of another repository")
        .await;

    let blob_codes: &[&str] = &["MANIFEST_BLOB_UNKNOWN"];
    let with_foreign_layer = image_manifest(
        &fx.image.config,
        &[fx.image.layers[0].clone(), foreign_layer.clone()],
        &[],
    );
    let with_foreign_config = image_manifest(&foreign.config, &fx.image.layers, &[]);
    let never_pushed = image_manifest(&fx.image.config, &[pseudo_random(99, 10)], &[]);
    let index = Bytes::from(
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {"mediaType": OCI_MANIFEST, "digest": fx.image.digest, "size": fx.image.manifest.len()},
                {"mediaType": OCI_MANIFEST, "digest": foreign.digest, "size": foreign.manifest.len()},
            ],
        }))
        .unwrap(),
    );
    for (label, content_type, body, codes) in [
        (
            "a layer of another repository",
            OCI_MANIFEST,
            &with_foreign_layer,
            blob_codes,
        ),
        (
            "a config of another repository",
            OCI_MANIFEST,
            &with_foreign_config,
            blob_codes,
        ),
        (
            "a layer never pushed",
            OCI_MANIFEST,
            &never_pushed,
            blob_codes,
        ),
        (
            "an index naming a manifest of another repository",
            OCI_INDEX,
            &index,
            &["MANIFEST_BLOB_UNKNOWN", "MANIFEST_UNKNOWN"][..],
        ),
    ] {
        let what = format!("manifest referencing {label}");
        let digest = digest_of(body);
        for reference in ["foreign", digest.as_str()] {
            let response = fx
                .reg
                .put_manifest("acme/app", reference, content_type, body.clone())
                .await
                .unwrap();
            expect_error(
                &format!("{what} (PUT to {reference})"),
                response,
                &[400, 404],
                codes,
            )
            .await;
            fx.intact(&format!("{what} (PUT to {reference})")).await;
        }
        fx.reg
            .assert_manifest_absent("acme/app", "foreign", &what)
            .await;
        fx.reg
            .assert_manifest_absent("acme/app", &digest, &what)
            .await;
        fx.intact(&what).await;
    }
    assert_eq!(fx.reg.tags("acme/app").await, vec!["v1".to_owned()]);
    fx.reg
        .assert_blob_absent("acme/app", &foreign_digest, "after the refused manifests")
        .await;

    // Once mounted, the same manifest is accepted.
    let mount = fx
        .reg
        .http
        .post(fx.reg.url(&format!(
            "/v2/acme/app/blobs/uploads/?mount={foreign_digest}&from=other/repo"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(
        mount.status(),
        StatusCode::CREATED,
        "mounting the foreign layer"
    );
    fx.reg
        .push_manifest("acme/app", "foreign", &with_foreign_layer)
        .await;
    fx.reg
        .assert_manifest("acme/app", "foreign", &with_foreign_layer, "after mounting")
        .await;
    fx.reg.assert_image(&foreign, "the other repository").await;
    fx.intact("foreign references").await;
    fx.finish();
}

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_methods_and_bad_queries_get_error_bodies() {
    let fx = Fixture::start().await;
    let config_digest = digest_of(&fx.image.config);
    let cases: Vec<(&str, String, &[u16], &[&str])> = vec![
        (
            "POST",
            "/v2/acme/app/manifests/v1".into(),
            &[404, 405],
            &["UNSUPPORTED"],
        ),
        (
            "PATCH",
            "/v2/acme/app/manifests/v1".into(),
            &[404, 405],
            &["UNSUPPORTED"],
        ),
        (
            "PUT",
            format!("/v2/acme/app/blobs/{config_digest}"),
            &[404, 405],
            &["UNSUPPORTED"],
        ),
        (
            "POST",
            "/v2/acme/app/tags/list".into(),
            &[404, 405],
            &["UNSUPPORTED"],
        ),
        (
            "DELETE",
            "/v2/_catalog".into(),
            &[404, 405],
            &["UNSUPPORTED"],
        ),
        (
            "GET",
            "/v2/acme/app/tags/list?n=abc".into(),
            &[400],
            &["UNSUPPORTED", "PAGINATION_NUMBER_INVALID"],
        ),
        (
            "GET",
            "/v2/acme/app/tags/list?n=-1".into(),
            &[400],
            &["UNSUPPORTED", "PAGINATION_NUMBER_INVALID"],
        ),
        (
            "GET",
            "/v2/_catalog?n=99999999999999999999".into(),
            &[400],
            &["UNSUPPORTED", "PAGINATION_NUMBER_INVALID"],
        ),
        ("GET", "/v3/".into(), &[404], NOT_FOUND_CODES),
        ("GET", "/".into(), &[404], NOT_FOUND_CODES),
        (
            "GET",
            "/v2/nothing/here/tags/list".into(),
            &[404],
            &["NAME_UNKNOWN"],
        ),
        (
            "GET",
            "/v2/acme/app/manifests/nope".into(),
            &[404],
            &["MANIFEST_UNKNOWN"],
        ),
        (
            "GET",
            format!("/v2/acme/app/blobs/{}", digest_of(b"nope")),
            &[404],
            &["BLOB_UNKNOWN"],
        ),
        (
            "DELETE",
            format!("/v2/acme/app/blobs/{}", digest_of(b"nope")),
            &[404, 405],
            &["BLOB_UNKNOWN", "UNSUPPORTED"],
        ),
        (
            "DELETE",
            "/v2/acme/app/manifests/nope".into(),
            &[404, 405],
            &["MANIFEST_UNKNOWN", "UNSUPPORTED"],
        ),
    ];
    for (method, target, statuses, codes) in cases {
        let what = format!("{method} {target}");
        let reply = fx.raw(method, &target, &[], &[]).await;
        reply.expect_error(&what, statuses, codes);
        fx.intact(&what).await;
    }
    // A range outside the blob: 416, never a 5xx, and the blob stays readable.
    let response = fx
        .reg
        .http
        .get(fx.reg.url(&format!("/v2/acme/app/blobs/{config_digest}")))
        .header("range", "bytes=100000000-")
        .send()
        .await
        .unwrap();
    expect_error(
        "range beyond the blob",
        response,
        &[416],
        &[
            "BLOB_UNKNOWN",
            "RANGE_INVALID",
            "BLOB_UPLOAD_INVALID",
            "SIZE_INVALID",
        ],
    )
    .await;
    fx.intact("bad ranges").await;
    fx.finish();
}
