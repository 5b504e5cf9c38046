//! The deployment files under `packaging/` and the Dockerfile, checked against the workspace,
//! and `berth config check` on the example config.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn berth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .env_remove("BERTH_CONFIG")
        .env_remove("BERTH_METADATA_URL")
        .output()
        .expect("berth runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The example config with the files it names (under `/etc/berth`) made in `dir`: `berth
/// config check` reads them as `berth serve` does.
fn example_in(dir: &Path) -> String {
    let etc = dir.join("etc");
    std::fs::create_dir_all(etc.join("tls")).unwrap();
    let hash = bcrypt::hash("pw", 4).unwrap();
    std::fs::write(etc.join("htpasswd"), format!("ops:{hash}\n")).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["registry.example.com".into()]).unwrap();
    std::fs::write(etc.join("tls/fullchain.pem"), cert.cert.pem()).unwrap();
    std::fs::write(
        etc.join("tls/privkey.pem"),
        cert.signing_key.serialize_pem(),
    )
    .unwrap();
    let example = workspace().join("packaging/berth.example.toml");
    std::fs::read_to_string(example)
        .unwrap()
        .replace("\"/etc/berth/", &format!("\"{}/", etc.display()))
        .replace("\"/var/lib/berth", &format!("\"{}/data", dir.display()))
}

#[test]
fn config_check_accepts_the_example_and_never_prints_its_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let example = dir.path().join("example.toml");
    std::fs::write(&example, example_in(dir.path())).unwrap();
    let output = berth(&["config", "check", example.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let printed = text(&output.stdout);
    for effective in [
        "0.0.0.0:5000",
        "bucket = \"registry\"",
        "pool_size = 16",
        "keep_tags_matching = \"release-*\"",
        "orphaned_referrers = \"7d\"",
        "htpasswd",
    ] {
        assert!(
            printed.contains(effective),
            "{effective} missing from:\n{printed}"
        );
    }

    // The same file with secrets written into it, as an operator might.
    let secret = "Sup3r-Secret-pw";
    let with_secrets = example_in(dir.path()).replace(
        "postgres://berth@db.internal.example",
        &format!("postgres://berth:{secret}@db.internal.example"),
    );
    assert!(with_secrets.contains(secret));
    let file = dir.path().join("berth.toml");
    std::fs::write(&file, with_secrets).unwrap();
    let output = berth(&["config", "check", file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let printed = text(&output.stdout) + &text(&output.stderr);
    assert!(!printed.contains(secret), "{printed}");
    assert!(
        printed.contains("postgres://berth:<redacted>@db.internal.example"),
        "{printed}"
    );
}

/// Files that parse but that `berth serve` refuses at start: the check refuses them too, with
/// the same problem named, because both run the same start-up checks.
#[test]
fn config_check_refuses_what_serve_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let htpasswd = dir.path().join("htpasswd");
    std::fs::write(&htpasswd, "alice:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/\n").unwrap();
    // Another issuer's public key, to trust under a name this server uses itself.
    let keys = tempfile::tempdir().unwrap();
    let other = berth_auth::SigningKey::load_or_generate(&keys.path().join("k")).unwrap();
    let other_pem = dir.path().join("other.pem");
    std::fs::write(&other_pem, other.public_key_pem()).unwrap();
    let cases = [
        (
            "[auth]\ntoken_ttl = \"10s\"\n".to_owned(),
            "token lifetime 10s is under the minimum of 60s",
        ),
        (
            format!(
                "[auth]\nservice = \"reg\"\n[[auth.trusted_issuers]]\nissuer = \"reg\"\n\
                 audience = \"reg\"\nkeys = [\"{}\"]\n",
                other_pem.display()
            ),
            "issuer \"reg\" is configured twice",
        ),
        ("listen = \"0.0.0.0:5000\"\n".to_owned(), "open_registry"),
        (
            "listen = \"0.0.0.0:5000\"\n[auth]\nservice = \"r\"\n".to_owned(),
            "auth.realm",
        ),
        (
            format!("[auth]\nhtpasswd = \"{}\"\n", htpasswd.display()),
            "MD5 ($apr1$)",
        ),
    ];
    for (content, problem) in cases {
        let file = dir.path().join("refused.toml");
        let content = format!("data_dir = \"{}\"\n{content}", data.display());
        std::fs::write(&file, &content).unwrap();
        let checked = berth(&["config", "check", file.to_str().unwrap()]);
        assert!(!checked.status.success(), "{content} was accepted");
        assert_eq!(checked.status.code(), Some(1));
        let message = text(&checked.stderr);
        assert!(message.contains("is not a valid config file"), "{message}");
        assert!(
            message.contains(problem),
            "{problem} not named in: {message}"
        );
        assert!(checked.stdout.is_empty());

        let served = berth(&["serve", "--config", file.to_str().unwrap()]);
        assert!(!served.status.success(), "serve started with {content}");
        let message = text(&served.stderr);
        assert!(
            message.contains(problem),
            "serve: {problem} not in {message}"
        );
    }
    assert!(
        !data.exists(),
        "a refused config touched its data directory"
    );
}

/// The example with every optional key the README's configuration table describes set.
fn everything_in(dir: &Path) -> String {
    example_in(dir).replace("# redirect = \"20m\"", "redirect = \"20m\"")
        + "\n[notifications]\nsource = \"https://registry.example.com\"\nretention = \"3d\"\n\
           [[notifications.endpoints]]\nname = \"scanner\"\nurl = \"https://hooks.example/x\"\n\
           secret = \"Hmac-Secret-1\"\nevents = [\"dev.berth.manifest.pushed\"]\n\
           repositories = [\"prod/**\"]\ntimeout = \"5s\"\nmax_attempts = 3\n\
           backoff = \"2s\"\nmax_backoff = \"1m\"\nbatch_size = 50\nbatch_wait = \"100ms\"\n"
}

/// `berth config check` prints TOML that reads back as the same settings, every secret
/// redacted, and the README's configuration table has a row for every key it prints.
#[test]
fn config_check_prints_toml_the_readme_describes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("berth.toml");
    std::fs::write(&file, everything_in(dir.path())).unwrap();
    let output = berth(&["config", "check", file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let printed = text(&output.stdout);
    assert!(!printed.contains("Hmac-Secret-1"), "{printed}");
    assert!(printed.contains("secret = \"<redacted>\""), "{printed}");
    assert!(printed.contains("redirect = \"20m\""), "{printed}");
    let effective: toml::Table = printed.parse().expect("the output is TOML");

    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let mut rows = Vec::new();
    for (key, value) in &effective {
        match value {
            toml::Value::Table(table) if key != "auth" => {
                for (inner, value) in table {
                    match value {
                        toml::Value::Array(items) if items.iter().all(|i| i.is_table()) => {
                            for item in items.iter().filter_map(|i| i.as_table()) {
                                // Retention rules are described under "Garbage collection".
                                if key == "gc" {
                                    continue;
                                }
                                for field in item.keys() {
                                    rows.push(format!("`[[{key}.{inner}]] {field}`"));
                                }
                            }
                        }
                        _ => rows.push(format!("`[{key}] {inner}`")),
                    }
                }
            }
            toml::Value::Table(_) => {} // [auth] is described under "Access control".
            _ => rows.push(format!("`{key}`")),
        }
    }
    // Every key the file above sets: 12 top-level, 4 of [gc], 2 of [tls], 7 of [storage], 3 of
    // [metadata], 2 of [notifications] and 11 of an endpoint (`secret_env` excludes `secret`).
    assert!(rows.len() >= 41, "{rows:?}");
    for row in rows {
        assert!(
            readme.contains(&format!("| {row} |")),
            "the README's configuration table has no row for {row}"
        );
    }
}

#[test]
fn config_check_rejects_a_broken_file_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    for (content, problem) in [
        ("listen = \"not an address\"\n", "listen"),
        ("[storage]\nbackend = \"s3\"\nbukket = \"x\"\n", "bukket"),
        ("[gc]\ngrace = \"soon\"\n", "gc.grace"),
        // A duration without a unit: the hint is the README's form, not the parser library's.
        ("[gc]\ngrace = \"90\"\n", "gc.grace \"90\" is not a duration"),
        ("upload_expiry = \"90\"\n", "units: ms, s, m, h, d, w"),
        (
            "[storage]\nbackend = \"s3\"\nbucket = \"b\"\nredirect = \"soon\"\n",
            "storage.redirect",
        ),
        // The variable's name is no secret: the error says which one to set.
        (
            "[[notifications.endpoints]]\nname = \"x\"\nurl = \"https://h.example/\"\n\
             secret_env = \"BERTH_SURELY_UNSET_HOOK_SECRET\"\n",
            "secret_env \"BERTH_SURELY_UNSET_HOOK_SECRET\" is not set",
        ),
        (
            "[metadata]\nbackend = \"postgres\"\nurl = \"postgres://u:leaked-pw@db/x\"\npool_size = 0\n",
            "pool_size",
        ),
        (
            "[metadata]\nbackend = \"postgres\"\nurl = \"postgres://u:leaked-pw@db/x\"\nbogus = 1\n",
            "bogus",
        ),
    ] {
        let file = dir.path().join("broken.toml");
        std::fs::write(&file, content).unwrap();
        let output = berth(&["config", "check", file.to_str().unwrap()]);
        assert!(!output.status.success(), "{content} was accepted");
        let message = text(&output.stderr);
        assert!(message.contains("is not a valid config file"), "{message}");
        assert!(message.contains(problem), "{problem} not named in: {message}");
        assert!(!message.contains("leaked-pw"), "{message}");
        assert!(output.stdout.is_empty());
    }
    let missing = berth(&["config", "check", "/nonexistent/berth.toml"]);
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("reading config file"));
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    if analyze.is_err() {
        panic!(
            "systemd-analyze is missing: install Debian's `systemd` package \
             (apt-get install systemd) to verify packaging/systemd/berth.service"
        );
    }
    let unit =
        std::fs::read_to_string(workspace().join("packaging/systemd/berth.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/berth serve"));
    // Verify checks that the binary exists: point it at the one just built.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("berth.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/local/bin/berth", env!("CARGO_BIN_EXE_berth")),
    )
    .unwrap();
    let output = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&copy)
        .output()
        .unwrap();
    let messages = text(&output.stderr) + &text(&output.stdout);
    assert!(
        output.status.success(),
        "systemd-analyze verify: {messages}"
    );
    let ours: Vec<&str> = messages
        .lines()
        .filter(|l| l.contains("berth.service"))
        .collect();
    assert!(
        ours.is_empty(),
        "systemd-analyze verify complains: {ours:?}"
    );
    // The config and the files it names are installed root:berth 0640: a static user reads
    // them (a dynamic one could not), and may bind port 443 with that one capability.
    assert!(unit.contains("useradd --system --home /var/lib/berth"));
    assert!(!unit.contains("DynamicUser=yes"));
    assert!(
        !unit.contains("Environment=BERTH_"),
        "outranks the config file"
    );
    for hardening in [
        "User=berth\n",
        "Group=berth\n",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE\n",
        "StateDirectory=berth",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "RestrictAddressFamilies=",
        "SystemCallFilter=@system-service",
        "MemoryDenyWriteExecute=yes",
        "LimitNOFILE=",
        "Restart=on-failure",
        "TimeoutStopSec=",
    ] {
        assert!(unit.contains(hardening), "the unit lacks {hardening:?}");
    }
    // systemd's SIGKILL must not cut the drain `berth serve` does after SIGTERM.
    let stop = unit
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .unwrap();
    let stop = humantime::parse_duration(stop).unwrap();
    let drain = berth::settings::Settings::default().shutdown_timeout;
    assert!(
        stop > drain,
        "TimeoutStopSec {stop:?} <= shutdown_timeout {drain:?}"
    );
}

/// The example config suits the unit: what it makes (the signing key) is under the state
/// directory, the only place the service may write.
#[test]
fn the_example_config_writes_only_under_the_state_directory() {
    let example =
        std::fs::read_to_string(workspace().join("packaging/berth.example.toml")).unwrap();
    let settings = berth::settings::Settings::from_toml(&example).unwrap();
    assert_eq!(settings.data_dir, Path::new("/var/lib/berth"));
    let key = settings.auth.unwrap().signing_key.unwrap();
    assert!(key.starts_with("/var/lib/berth/"), "{}", key.display());
}

#[test]
fn the_dockerfile_copies_what_exists_and_runs_berth_as_a_user() {
    let root = workspace();
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let lines: Vec<String> = dockerfile
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_owned)
        .collect();
    let stages: Vec<&String> = lines.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(stages.len(), 2, "multi-stage: {stages:?}");
    assert!(stages[0].starts_with("FROM rust:") && stages[0].contains("bookworm"));
    let image_rust = version(
        stages[0]
            .trim_start_matches("FROM rust:")
            .split('-')
            .next()
            .unwrap(),
    );
    let workspace_rust = workspace_rust_version(&root);
    assert!(
        image_rust >= workspace_rust,
        "{} builds with Rust {image_rust:?}, older than the workspace's rust-version \
         {workspace_rust:?}",
        stages[0]
    );
    for (package, needs) in locked_rust_versions(&root) {
        assert!(
            workspace_rust >= needs,
            "{package} needs Rust {needs:?}: raise the workspace rust-version \
             {workspace_rust:?} and the Dockerfile's image"
        );
    }
    assert_eq!(stages[1].as_str(), "FROM debian:bookworm-slim");

    // Every path the build stage copies from the context exists, and .dockerignore keeps it.
    let ignored = std::fs::read_to_string(root.join(".dockerignore")).unwrap();
    let mut copied = 0;
    for line in lines
        .iter()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let words: Vec<&str> = line.split_whitespace().skip(1).collect();
        for source in &words[..words.len() - 1] {
            assert!(
                root.join(source).exists(),
                "COPY {source}: not in the workspace"
            );
            assert!(
                !ignored.lines().any(|i| i.trim() == *source),
                "{source} is ignored"
            );
            copied += 1;
        }
    }
    assert!(copied >= 3);
    assert!(ignored.lines().any(|l| l.trim() == "target"));

    // It builds the `berth` binary of the `berth` crate and runs what it copied.
    let build = lines.iter().find(|l| l.contains("cargo build")).unwrap();
    assert!(
        build.contains("-p berth") && build.contains("--bin berth"),
        "{build}"
    );
    let manifest = std::fs::read_to_string(root.join("crates/berth/Cargo.toml")).unwrap();
    assert!(manifest.contains("[[bin]]\nname = \"berth\""));
    let installed = lines
        .iter()
        .find(|l| l.starts_with("COPY --from=build"))
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_owned();
    let entrypoint = lines.iter().find(|l| l.starts_with("ENTRYPOINT")).unwrap();
    assert!(
        entrypoint.contains(&format!("\"{installed}\"")),
        "{entrypoint}"
    );

    let user = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("USER "))
        .expect("a USER")
        .trim_start_matches("USER ")
        .to_owned();
    let name = user.split(':').next().unwrap();
    assert!(name != "root" && name != "0", "runs as {user}");
    assert!(lines.iter().any(|l| l == "VOLUME [\"/var/lib/berth\"]"));
    assert!(lines.iter().any(|l| l == "EXPOSE 5000"));

    // The settings are the default config's alone: a config mounted over it is obeyed as
    // written, no BERTH_* variable of the image outranking it.
    assert!(lines
        .iter()
        .any(|l| l == "COPY packaging/docker/berth.toml /etc/berth/berth.toml"));
    let env: Vec<&String> = lines.iter().filter(|l| l.starts_with("ENV ")).collect();
    assert_eq!(env, [&"ENV BERTH_CONFIG=/etc/berth/berth.toml".to_owned()]);
    let image = berth::settings::Settings::from_toml(
        &std::fs::read_to_string(root.join("packaging/docker/berth.toml")).unwrap(),
    )
    .unwrap();
    assert_eq!(image.listen.to_string(), "0.0.0.0:5000");
    assert_eq!(image.data_dir, Path::new("/var/lib/berth"));
    assert!(image.auth.is_none() && !image.open_registry);
}

/// What `docker run` does with the image's default config: refuses to serve it without
/// access control, and serves it for a trial with `-e BERTH_OPEN_REGISTRY=true`.
#[test]
fn the_image_config_serves_a_trial_only_when_asked_to() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("berth.toml");
    let image = std::fs::read_to_string(workspace().join("packaging/docker/berth.toml"))
        .unwrap()
        .replace("0.0.0.0:5000", "0.0.0.0:0")
        .replace(
            "\"/var/lib/berth\"",
            &format!("\"{}\"", dir.path().display()),
        );
    std::fs::write(&config, image).unwrap();
    let serve = |open: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
        command
            .arg("serve")
            .env("BERTH_CONFIG", &config)
            .env_remove("BERTH_LISTEN")
            .env_remove("BERTH_DATA_DIR")
            .env_remove("BERTH_OPEN_REGISTRY")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        if let Some(value) = open {
            command.env("BERTH_OPEN_REGISTRY", value);
        }
        command.spawn().unwrap()
    };

    let refused = serve(None).wait_with_output().unwrap();
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("BERTH_OPEN_REGISTRY=true"),
        "{}",
        text(&refused.stderr)
    );
    let refused = serve(Some("false")).wait_with_output().unwrap();
    assert!(!refused.status.success());

    let mut trial = serve(Some("true"));
    let stderr = std::io::BufReader::new(trial.stderr.take().unwrap());
    let listening = std::io::BufRead::lines(stderr)
        .map_while(Result::ok)
        .find(|line| line.contains("berth listening"));
    trial.kill().unwrap();
    trial.wait().unwrap();
    assert!(listening.is_some(), "the trial did not start");
}

/// `1.89` or `1.89.0` as numbers, a missing patch as 0.
fn version(text: &str) -> (u32, u32, u32) {
    let mut parts = text.split('.').map(|p| p.parse::<u32>().unwrap());
    let major = parts.next().unwrap();
    let minor = parts.next().unwrap_or(0);
    (major, minor, parts.next().unwrap_or(0))
}

/// `[workspace.package] rust-version`, which every member crate inherits.
fn workspace_rust_version(root: &Path) -> (u32, u32, u32) {
    let manifest: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let declared = manifest["workspace"]["package"]["rust-version"]
        .as_str()
        .unwrap();
    for member in std::fs::read_dir(root.join("crates")).unwrap() {
        let path = member.unwrap().path().join("Cargo.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("rust-version.workspace = true"),
            "{} does not inherit rust-version",
            path.display()
        );
    }
    version(declared)
}

/// The `rust-version` of every package in Cargo.lock that a Linux build of the workspace
/// compiles (normal, build and dev dependencies), from `cargo metadata`.
fn locked_rust_versions(root: &Path) -> Vec<(String, (u32, u32, u32))> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut found = Vec::new();
    for target in ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] {
        let output = Command::new(&cargo)
            .args(["metadata", "--format-version", "1", "--locked", "--offline"])
            .args(["--filter-platform", target])
            .current_dir(root)
            .output()
            .expect("cargo metadata runs");
        assert!(output.status.success(), "{}", text(&output.stderr));
        let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let packages: std::collections::HashMap<&str, &serde_json::Value> = metadata["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["id"].as_str().unwrap(), p))
            .collect();
        // The resolve graph holds only the dependencies this platform and these features use.
        for node in metadata["resolve"]["nodes"].as_array().unwrap() {
            let package = packages[node["id"].as_str().unwrap()];
            if let Some(needs) = package["rust_version"].as_str() {
                found.push((
                    format!("{} {}", package["name"], package["version"]),
                    version(needs),
                ));
            }
        }
    }
    assert!(!found.is_empty());
    found
}
