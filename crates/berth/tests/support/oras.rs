//! Running the ORAS Python SDK (PyPI `oras`) scripts that live beside the test targets: a
//! check that Python can import the SDK, and a runner that returns the script's `RESULT`.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::TestServer;

/// Checks that `python3` runs and imports `oras`; fails the test with a clear message if not.
/// Returns the SDK's version.
pub fn require_python_oras() -> String {
    let output = Command::new("python3")
        .arg("-c")
        .arg("import oras, oras.client, oras.oci; print(getattr(oras, '__version__', 'unknown'))")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "python3 cannot be run ({e}); these tests need Python 3 with the `oras` package: \
                 run ./scripts/test.sh, which installs it into target/python-venv"
            )
        });
    assert!(
        output.status.success(),
        "python3 cannot import the `oras` package: run ./scripts/test.sh, which installs it into \
         target/python-venv and puts that first on PATH: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Runs `tests/<script>` (relative to the crate's `tests/`) as `script HOST REPO WORKDIR`
/// against the server and returns the JSON of its last `RESULT <json>` line. A failing script
/// fails the test with its output and the server log.
pub fn run_oras_script(server: &TestServer, script: &str, repo: &str, workdir: &Path) -> Value {
    let workdir = workdir.to_str().expect("a UTF-8 work directory");
    run_python_script(server, script, &[&server.host(), repo, workdir])
}

/// Runs `tests/<script>` with `args` and returns the JSON of its last `RESULT <json>` line; a
/// failing script fails the test with its output and the log of `server`.
pub fn run_python_script(server: &TestServer, script: &str, args: &[&str]) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    let output = Command::new("python3")
        .arg(&path)
        .args(args)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| panic!("python3 runs {script}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver log:\n{}",
        output.status,
        server.log()
    );
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("{script} printed no RESULT line:\n{stdout}\n{stderr}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{script}: RESULT is not JSON ({e})"))
}
