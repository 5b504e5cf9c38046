//! Repository names and paths: traversal, percent-escapes, case, stray slashes, length limits
//! and hostile mount sources.

use crate::fixture::*;
use crate::support::http::*;
use crate::support::TestServer;
use serde_json::json;

/// What a hostile request carries; its Content-Type follows from it.
enum Carries {
    Nothing,
    Manifest,
    Blob,
}
use Carries::*;

/// The digest of no bytes: a well-formed digest, so only the name is wrong.
const EMPTY_DIGEST: &str =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

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

/// Requests naming a repository through a hostile or invalid path; `m` is the marker a
/// traversal would create, `blob_digest` the digest of the blob sent. One request a line reads
/// best, so rustfmt is kept off.
#[rustfmt::skip]
fn hostile_name_cases(
    fx: &Fixture,
    m: &str,
    blob_digest: &str,
) -> Vec<(&'static str, String, Carries)> {
    let long = "a".repeat(300);
    let long_slashed = vec!["ab"; 100].join("/");
    let over_limit = "b".repeat(256);
    vec![
        ("GET", "/v2/../../etc/passwd/manifests/x".into(), Nothing),
        ("HEAD", "/v2/../../etc/passwd/manifests/x".into(), Nothing),
        ("DELETE", "/v2/../../etc/passwd/manifests/x".into(), Nothing),
        ("PUT", "/v2/../../etc/passwd/manifests/x".into(), Manifest),
        ("PUT", format!("/v2/../../../../../../tmp/{m}/manifests/latest"), Manifest),
        ("GET", "/v2/%2e%2e/%2e%2e/etc/passwd/manifests/x".into(), Nothing),
        ("PUT", format!("/v2/%2e%2e/%2e%2e/tmp/{m}/manifests/latest"), Manifest),
        ("GET", "/v2/%2E%2E/%2E%2E/etc/tags/list".into(), Nothing),
        ("GET", "/v2/..%2f..%2fetc%2fpasswd/tags/list".into(), Nothing),
        ("GET", "/v2/acme/app/../../../etc/passwd/manifests/x".into(), Nothing),
        ("GET", "/v2/acme/app/../app/manifests/v1".into(), Nothing),
        ("GET", "/v2/./acme/app/manifests/v1".into(), Nothing),
        ("GET", "/v2/acme%2Fapp/manifests/v1".into(), Nothing),
        ("GET", "/v2/acme/app%00/manifests/v1".into(), Nothing),
        ("POST", format!("/v2/../../tmp/{m}/blobs/uploads/"), Nothing),
        ("POST", format!("/v2/%2e%2e/%2e%2e/tmp/{m}/blobs/uploads/?digest={blob_digest}"), Blob),
        ("POST", format!("/v2/acme/..%2f..%2f{m}/blobs/uploads/?digest={blob_digest}"), Blob),
        ("GET", format!("/v2/../../etc/passwd/blobs/{EMPTY_DIGEST}"), Nothing),
        ("GET", "/v2/acme/app/blobs/../../../../etc/passwd".into(), Nothing),
        ("GET", format!("/v2/acme/app/blobs/uploads/../../../../tmp/{m}"), Nothing),
        ("PATCH", format!("/v2/acme/app/blobs/uploads/../../../../tmp/{m}"), Blob),
        // Uppercase.
        ("GET", "/v2/Acme/App/manifests/v1".into(), Nothing),
        ("GET", "/v2/ACME/app/tags/list".into(), Nothing),
        ("PUT", "/v2/Acme/app/manifests/v1".into(), Manifest),
        ("POST", "/v2/acme/App/blobs/uploads/".into(), Nothing),
        ("POST", format!("/v2/Acme/app/blobs/uploads/?digest={blob_digest}"), Blob),
        // Trailing, doubled and leading slashes.
        ("GET", "/v2/acme/app/manifests/v1/".into(), Nothing),
        ("GET", "/v2/acme/app/".into(), Nothing),
        ("GET", "/v2/acme/app/tags/list/".into(), Nothing),
        ("GET", "/v2/acme/app//manifests/v1".into(), Nothing),
        ("GET", "/v2//acme/app/manifests/v1".into(), Nothing),
        ("PUT", "/v2/acme/app//manifests/v1".into(), Manifest),
        ("PUT", "/v2/acme/app/manifests/v1/".into(), Manifest),
        ("GET", format!("/v2/acme/app/blobs/{}/", digest_of(&fx.image.config)), Nothing),
        ("POST", "/v2/acme/app//blobs/uploads/".into(), Nothing),
        // Names over the length limit.
        ("GET", format!("/v2/{long}/manifests/v1"), Nothing),
        ("GET", format!("/v2/{long}/tags/list"), Nothing),
        ("PUT", format!("/v2/{long}/manifests/v1"), Manifest),
        ("POST", format!("/v2/{long}/blobs/uploads/"), Nothing),
        ("POST", format!("/v2/{long}/blobs/uploads/?digest={blob_digest}"), Blob),
        ("GET", format!("/v2/{long_slashed}/tags/list"), Nothing),
        ("POST", format!("/v2/{over_limit}/blobs/uploads/"), Nothing),
    ]
}

/// A mount from a hostile source name: refused, or an ordinary upload session instead (which
/// the spec allows when the source cannot be used), but never a mount.
async fn refuse_hostile_mount(fx: &Fixture, layer_digest: &str, from: &str) {
    let what = format!("mount from {from:?}");
    let target = format!("/v2/acme/app/blobs/uploads/?mount={layer_digest}&from={from}");
    let reply = fx.raw("POST", &target, &[], &[]).await;
    assert_ne!(reply.status, 201, "{what}: mounted");
    if reply.status == 202 {
        let location = reply
            .header("location")
            .expect("Location of the started session");
        fx.cancel(location, &format!("{what}: the started session"))
            .await;
    } else {
        reply.expect_error(&what, &[400], &["NAME_INVALID"]);
    }
    fx.intact(&what).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn path_traversal_and_invalid_repository_names_are_refused() {
    let fx = Fixture::start().await;
    let m = marker();
    let passwd_before = std::fs::read("/etc/passwd").ok();
    let passwd_mtime = std::fs::metadata("/etc/passwd")
        .and_then(|md| md.modified())
        .ok();
    let blob = pseudo_random(77, 1000);
    let blob_digest = digest_of(&blob);

    for (method, target, carries) in hostile_name_cases(&fx, &m, &blob_digest) {
        let what = format!("{method} {}", &target[..target.len().min(120)]);
        let (headers, body): (Headers, &[u8]) = match carries {
            Nothing => (vec![], &[]),
            Manifest => (
                vec![("Content-Type", OCI_MANIFEST.to_owned())],
                &fx.image.manifest,
            ),
            Blob => (vec![octet()], &blob),
        };
        let reply = fx.raw(method, &target, &headers, body).await;
        if method == "HEAD" {
            assert_head_refused(&what, &reply);
        } else {
            expect_invalid_or_missing(&reply, &what, &["NAME_INVALID"], NOT_FOUND_CODES);
        }
        fx.intact(&what).await;
    }

    let layer_digest = digest_of(&fx.image.layers[0]);
    let long = "a".repeat(300);
    for from in [
        "..%2F..%2Fetc",
        "acme%2F..%2F..%2Facme%2Fapp",
        "Acme/App",
        "acme/app/",
        long.as_str(),
    ] {
        refuse_hostile_mount(&fx, &layer_digest, from).await;
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
        !fx.data_dir()
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
