//! Running the `skopeo` CLI against the test server: copies, raw inspection and tag listing,
//! each failing with skopeo's output and the server log.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::layout::OciLayout;
use crate::support::TestServer;

/// The skopeo binary; the test fails (never skips) without it.
fn skopeo_path() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("skopeo"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/bin/skopeo")])
        .find(|p| p.is_file())
        .expect("skopeo is not installed, and these tests need it: install it with `apt-get install -y skopeo`")
}

/// Runs skopeo and returns its stdout; panics with its output and the server log on failure.
fn run(server: &TestServer, args: &[&str]) -> Vec<u8> {
    let output = Command::new(skopeo_path())
        .arg("--insecure-policy")
        .args(args)
        .output()
        .expect("skopeo runs");
    if !output.status.success() {
        panic!(
            "skopeo {} failed ({}):\n--- stdout\n{}\n--- stderr\n{}\n--- server log\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            server.log()
        );
    }
    output.stdout
}

/// Every platform, digests unchanged: the options of a byte-exact copy.
pub const ALL_AS_IS: &[&str] = &["--all", "--preserve-digests"];

/// `docker://<server>/<name>`, where `name` is a repository with an optional tag or digest.
pub fn docker(server: &TestServer, name: &str) -> String {
    format!("docker://{}/{name}", server.host())
}

/// What every skopeo test starts from: a fresh server, a fresh OCI layout to copy from, and
/// the `docker://` reference of `repo:tag` on the server to copy it to.
pub fn start(repo: &str, tag: &str) -> (TestServer, OciLayout, String) {
    let server = TestServer::start();
    let remote = docker(&server, &format!("{repo}:{tag}"));
    (server, OciLayout::build(), remote)
}

/// `skopeo copy <options> <src> <dest>`, never retrying (a retry would hide a failed request)
/// and without TLS on whichever side is berth.
pub fn copy(server: &TestServer, options: &[&str], src: &str, dest: &str) {
    let mut args = vec!["copy"];
    args.extend_from_slice(options);
    args.extend(["--retry-times", "0"]);
    if src.starts_with("docker://") {
        args.push("--src-tls-verify=false");
    }
    if dest.starts_with("docker://") {
        args.push("--dest-tls-verify=false");
    }
    args.extend([src, dest]);
    run(server, &args);
}

/// The manifest bytes at `reference`, as `skopeo inspect --raw` sees them.
pub fn inspect_raw(server: &TestServer, reference: &str) -> Vec<u8> {
    run(
        server,
        &["inspect", "--raw", "--tls-verify=false", reference],
    )
}

/// `skopeo list-tags` of `repo` on the server, as JSON.
pub fn list_tags(server: &TestServer, repo: &str) -> Value {
    let listed = run(
        server,
        &["list-tags", "--tls-verify=false", &docker(server, repo)],
    );
    serde_json::from_slice(&listed).expect("list-tags JSON")
}
