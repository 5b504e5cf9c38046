//! skopeo logging in with `--dest-creds` and `--src-creds`: alice pushes an OCI layout to
//! `team/app`, bob copies it back byte for byte, bob's push and an anonymous copy are refused.

use std::process::{Command, Output};

use crate::content::{hex_of, sha256};
use crate::layout::{assert_dir_holds_blobs, read_dir_files, OciLayout};
use crate::{AuthServer, ALICE_PW, BOB_PW};

/// Runs `skopeo --insecure-policy <args>` and returns its output.
fn skopeo(args: &[&str]) -> Output {
    Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .expect("skopeo is installed (apt-get install -y skopeo)")
}

fn succeeds(auth: &AuthServer, args: &[&str]) -> Vec<u8> {
    let output = skopeo(args);
    assert!(
        output.status.success(),
        "skopeo {} failed:\n{}\n--- server log\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr),
        auth.server.log()
    );
    output.stdout
}

fn fails(args: &[&str]) -> String {
    let output = skopeo(args);
    assert!(
        !output.status.success(),
        "skopeo {} should have been refused",
        args.join(" ")
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn refused(stderr: &str) -> bool {
    let e = stderr.to_ascii_lowercase();
    [
        "401",
        "403",
        "unauthorized",
        "denied",
        "authentication required",
    ]
    .iter()
    .any(|w| e.contains(w))
}

#[test]
fn skopeo_copies_with_credentials_and_is_refused_without_access() {
    let auth = AuthServer::start();
    let layout = OciLayout::build();
    let image = &layout.images[0];
    let remote = format!("docker://{}/team/app", auth.server.host());
    let alice = format!("alice:{ALICE_PW}");
    let bob = format!("bob:{BOB_PW}");
    let src = layout.reference("single");
    let common = ["--retry-times", "0", "--preserve-digests"];

    // alice pushes.
    let dest = format!("{remote}:v1");
    let mut args = vec!["copy"];
    args.extend(common);
    args.extend([
        "--dest-tls-verify=false",
        "--dest-creds",
        &alice,
        &src,
        &dest,
    ]);
    succeeds(&auth, &args);

    // bob pulls it back into a `dir:`, byte for byte.
    let out = tempfile::tempdir().expect("temp dir");
    let out_ref = format!("dir:{}", out.path().display());
    let mut args = vec!["copy"];
    args.extend(common);
    args.extend([
        "--src-tls-verify=false",
        "--src-creds",
        &bob,
        &dest,
        &out_ref,
    ]);
    succeeds(&auth, &args);
    let files = read_dir_files(out.path());
    assert!(
        files.get("manifest.json") == Some(&image.manifest),
        "the manifest differs after the round trip"
    );
    assert_eq!(
        sha256(&files["manifest.json"]),
        sha256(&image.manifest),
        "manifest digest"
    );
    assert_dir_holds_blobs(&files, image);
    assert!(files.contains_key(hex_of(&sha256(&image.config))));

    // bob may not push: skopeo fails and no tag appears.
    let bob_dest = format!("{remote}:bob");
    let mut args = vec!["copy"];
    args.extend(common);
    args.extend([
        "--dest-tls-verify=false",
        "--dest-creds",
        &bob,
        &src,
        &bob_dest,
    ]);
    let stderr = fails(&args);
    assert!(refused(&stderr), "{stderr}");
    let tags = succeeds(
        &auth,
        &[
            "list-tags",
            "--tls-verify=false",
            "--creds",
            &alice,
            &remote,
        ],
    );
    let tags: serde_json::Value = serde_json::from_slice(&tags).expect("list-tags JSON");
    assert_eq!(tags["Tags"], serde_json::json!(["v1"]));

    // Without credentials team/app is closed, both ways.
    let stderr = fails(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--no-creds",
        &dest,
    ]);
    assert!(refused(&stderr), "{stderr}");
    let anon_out = tempfile::tempdir().expect("temp dir");
    let anon_ref = format!("dir:{}", anon_out.path().display());
    let stderr = fails(&[
        "copy",
        "--retry-times",
        "0",
        "--src-tls-verify=false",
        "--src-no-creds",
        &dest,
        &anon_ref,
    ]);
    assert!(refused(&stderr), "{stderr}");
    let anon_dest = format!("{remote}:anon");
    let stderr = fails(&[
        "copy",
        "--retry-times",
        "0",
        "--dest-tls-verify=false",
        "--dest-no-creds",
        &src,
        &anon_dest,
    ]);
    assert!(refused(&stderr), "{stderr}");
    let tags = succeeds(
        &auth,
        &[
            "list-tags",
            "--tls-verify=false",
            "--creds",
            &alice,
            &remote,
        ],
    );
    let tags: serde_json::Value = serde_json::from_slice(&tags).expect("list-tags JSON");
    assert_eq!(tags["Tags"], serde_json::json!(["v1"]));
    // Every authenticated write left one audit line naming who pushed; no secret was logged.
    let log = auth.server.log();
    let audited: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("authenticated write"))
        .collect();
    assert!(
        audited.iter().any(|l| l.contains("user=\"alice\"")
            && l.contains("method=PUT")
            && l.contains("status=201")),
        "{log}"
    );
    assert!(
        !audited
            .iter()
            .any(|l| l.contains("user=\"bob\"") && l.contains("status=201")),
        "{log}"
    );
    for secret in [ALICE_PW, BOB_PW] {
        assert!(!log.contains(secret), "a password was logged: {log}");
    }
}
