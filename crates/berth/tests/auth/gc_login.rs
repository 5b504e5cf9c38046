//! `berth gc` through a server with access control: it collects as an admin whose password
//! comes from the environment or standard input, and says plainly why when it may not.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::{AuthServer, BOB_PW, ROOT_PW};

/// What `berth gc --json` on the server's data directory printed, run with `extra` arguments,
/// `env` added to a clean environment, and `stdin` as its standard input.
fn gc(auth: &AuthServer, extra: &[&str], env: &[(&str, &str)], stdin: &str) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
    command
        .args(["gc", "--json", "--data-dir"])
        .arg(auth.server.data_dir())
        .args(extra)
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars() {
        if name.starts_with("BERTH_") {
            command.env_remove(name);
        }
    }
    command.env("BERTH_LOG", "warn").envs(env.iter().copied());
    let mut child = command.spawn().expect("berth gc starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

fn assert_refused((success, said): (bool, String), expected: &str) {
    assert!(!success, "expected a refusal: {said}");
    assert!(said.contains(expected), "expected {expected:?} in: {said}");
}

#[tokio::test]
async fn gc_collects_through_the_server_as_an_admin_and_explains_refusals() {
    let auth = AuthServer::start();
    let last = format!("{}/berth/v1/gc", auth.url());
    let client = reqwest::Client::new();

    assert_refused(gc(&auth, &[], &[], ""), "has access control");
    assert_refused(
        gc(&auth, &["--username", "root"], &[], ""),
        "needs a password",
    );
    assert_refused(
        gc(
            &auth,
            &["--username", "bob"],
            &[("BERTH_PASSWORD", BOB_PW)],
            "",
        ),
        "bob is not one",
    );
    assert_refused(
        gc(
            &auth,
            &["--username", "root"],
            &[("BERTH_PASSWORD", "not-the-password")],
            "",
        ),
        "did not accept the password of root",
    );
    // None of the refusals ran a collection on the server.
    let never = client
        .get(&last)
        .basic_auth("root", Some(ROOT_PW))
        .send()
        .await
        .unwrap();
    assert_eq!(never.status(), 404);

    // The admin's password from the environment, then from standard input.
    let (success, said) = gc(
        &auth,
        &["--username", "root"],
        &[("BERTH_PASSWORD", ROOT_PW)],
        "",
    );
    assert!(success, "{said}");
    assert!(said.contains("collected through the server"), "{said}");
    let (success, said) = gc(
        &auth,
        &["--username", "root", "--password-stdin"],
        &[],
        &format!("{ROOT_PW}\n"),
    );
    assert!(success, "{said}");
    assert!(!said.contains(ROOT_PW), "the password was printed: {said}");
    let report: serde_json::Value = serde_json::from_str(
        said.split("berth gc: collected")
            .next()
            .expect("the report comes first"),
    )
    .unwrap_or_else(|e| panic!("{e}: {said}"));
    assert_eq!(report["dry_run"], false, "{report}");

    // The server ran them: its last collection is on record.
    let ran = client
        .get(&last)
        .basic_auth("root", Some(ROOT_PW))
        .send()
        .await
        .unwrap();
    assert_eq!(ran.status(), 200);
}
