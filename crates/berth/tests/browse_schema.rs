//! The browse API against its own OpenAPI document: the real `berth` binary with access
//! control, filled with images, an index and a referrer chain, is served the document it
//! publishes (`/berth/v1/openapi.json`) and probed by `schemathesis` (PyPI), bounded in time.
//! Every answer must conform to the document (status, content type, body schema) and none may
//! be a server error; once as an anonymous caller and once as a user who may push.

mod support;

use std::path::Path;
use std::process::Command;

use bytes::Bytes;
use serde_json::{json, Value};
use support::http::{descriptor, digest_of, Image, Registry, OCI_INDEX, OCI_MANIFEST};
use support::TestServer;

const ALICE_PW: &str = "alice-secret";

/// Seconds each schemathesis run may take; the phases repeat until it is spent.
const RUN_SECONDS: u32 = 40;

/// Checks that `schemathesis` runs; fails the test with a clear message if not.
fn require_schemathesis() -> String {
    let output = Command::new("schemathesis")
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "schemathesis cannot be run ({e}): run ./scripts/test.sh, which installs it into \
                 target/python-venv and puts that first on PATH"
            )
        });
    assert!(output.status.success(), "schemathesis --version failed");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A server where `alice` may push, pull and delete `team/*`, anyone may pull `public/*`.
fn start_server(dir: &Path) -> TestServer {
    let alice = bcrypt::hash(ALICE_PW, 4).expect("bcrypt");
    let htpasswd = dir.join("htpasswd");
    std::fs::write(&htpasswd, format!("alice:{alice}\n")).expect("htpasswd");
    let config = dir.join("berth.toml");
    std::fs::write(
        &config,
        format!(
            r#"[auth]
htpasswd = "{}"

[auth.policy]
anonymous_pull = ["public/*"]

[[auth.policy.rules]]
repositories = "team/*"
users = ["alice"]
actions = ["pull", "push", "delete"]

[[auth.policy.rules]]
repositories = "public/*"
users = ["alice"]
actions = ["pull", "push"]
"#,
            htpasswd.display()
        ),
    )
    .expect("config");
    TestServer::start_with(&["--config", config.to_str().expect("utf-8 path")])
}

/// What the test pushed that the document's examples name.
struct Seeded {
    image: String,
}

/// Pushes an image, an index over two platform images, an SPDX SBOM on the image, a signature
/// on the SBOM, and a public image.
async fn seed(registry: &Registry) -> Seeded {
    let image = Image::new("team/app", "v1", 1, &[300, 200]);
    registry.push_image(&image).await;
    let mut children = Vec::new();
    for (seed, arch) in [(2, "amd64"), (3, "arm64")] {
        let child = Image::new("team/app", &format!("v1-{arch}"), seed, &[100]);
        registry.push_image(&child).await;
        let mut d = descriptor(OCI_MANIFEST, &child.manifest);
        d["platform"] = json!({"os": "linux", "architecture": arch});
        children.push(d);
    }
    let index = Bytes::from(
        serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children,
        }))
        .unwrap(),
    );
    let response = registry
        .put_manifest("team/app", "multi", OCI_INDEX, index)
        .await
        .expect("index PUT");
    assert_eq!(response.status(), 201, "index PUT");

    let empty = Bytes::from_static(b"{}");
    registry.push_blob("team/app", &empty).await;
    let spdx = Bytes::from(
        serde_json::to_vec(&json!({
            "spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "app",
            "packages": [{"name": "openssl", "SPDXID": "SPDXRef-1"},
                         {"name": "zlib", "SPDXID": "SPDXRef-2"}],
        }))
        .unwrap(),
    );
    registry.push_blob("team/app", &spdx).await;
    let artifact = |artifact_type: &str, layer: Value, subject: Value| {
        Bytes::from(
            serde_json::to_vec(&json!({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
                "config": descriptor("application/vnd.oci.empty.v1+json", b"{}"),
                "layers": [layer], "subject": subject,
            }))
            .unwrap(),
        )
    };
    let sbom = artifact(
        "application/spdx+json",
        descriptor("application/spdx+json", &spdx),
        descriptor(OCI_MANIFEST, &image.manifest),
    );
    let sbom_digest = registry
        .push_manifest("team/app", &digest_of(&sbom), &sbom)
        .await;
    let signature_payload = Bytes::from_static(b"{\"critical\":{}}");
    registry.push_blob("team/app", &signature_payload).await;
    let signature = artifact(
        "application/vnd.dev.cosign.artifact.sig.v1+json",
        descriptor(
            "application/vnd.dev.cosign.simplesigning.v1+json",
            &signature_payload,
        ),
        json!({"mediaType": OCI_MANIFEST, "digest": sbom_digest, "size": sbom.len()}),
    );
    registry
        .push_manifest("team/app", &digest_of(&signature), &signature)
        .await;
    registry
        .push_image(&Image::new("public/tool", "latest", 4, &[64]))
        .await;
    Seeded {
        image: image.digest,
    }
}

/// The server's OpenAPI document with every parameter named `repository` or `name`, and
/// `reference` or `digest`, given an example of what the test pushed, so that schemathesis
/// reaches the answers that hold content and not only the 404s of invented names.
fn with_examples(mut document: Value, seeded: &Seeded) -> Value {
    let examples = [
        ("repository", json!("team/app")),
        ("name", json!("team/app")),
        ("reference", json!("v1")),
        ("digest", json!(seeded.image)),
    ];
    let Some(paths) = document["paths"].as_object_mut() else {
        panic!("the OpenAPI document has no paths");
    };
    for operation in paths.values_mut().filter_map(Value::as_object_mut) {
        for method in operation.values_mut() {
            let Some(parameters) = method["parameters"].as_array_mut() else {
                continue;
            };
            for parameter in parameters {
                let name = parameter["name"].as_str().unwrap_or_default().to_owned();
                if let Some((_, example)) = examples.iter().find(|(n, _)| *n == name) {
                    parameter["example"] = example.clone();
                }
            }
        }
    }
    document
}

/// Runs schemathesis over `document` against `base` with extra arguments; fails the test with
/// its report when any check failed.
fn run_schemathesis(document: &Path, base: &str, extra: &[&str], server: &TestServer) {
    let output = Command::new("schemathesis")
        .arg("run")
        .arg(document)
        .args(["--url", base])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance",
        ])
        .args(["--max-time", &RUN_SECONDS.to_string()])
        .args(["--workers", "1", "--request-timeout", "10"])
        .args(["--suppress-health-check", "all"])
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis found answers that break the document ({}):\n{stdout}\n{stderr}\n\
         server log:\n{}",
        output.status,
        server.log()
    );
    assert!(
        !server.log().contains("panicked"),
        "the server panicked:\n{}",
        server.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_api_conforms_to_its_openapi_document() {
    require_schemathesis();
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path());
    let registry = Registry::with_basic(server.url(), "alice", ALICE_PW);
    let seeded = seed(&registry).await;

    let document: Value = reqwest::get(format!("{}/berth/v1/openapi.json", server.url()))
        .await
        .expect("GET openapi.json")
        .json()
        .await
        .expect("the OpenAPI document is JSON");
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with('3')),
        "an OpenAPI 3 document: {document}"
    );
    let file = dir.path().join("openapi.json");
    std::fs::write(
        &file,
        serde_json::to_vec_pretty(&with_examples(document, &seeded)).unwrap(),
    )
    .unwrap();

    run_schemathesis(&file, &server.url(), &[], &server);
    run_schemathesis(
        &file,
        &server.url(),
        &["--auth", &format!("alice:{ALICE_PW}")],
        &server,
    );
}
