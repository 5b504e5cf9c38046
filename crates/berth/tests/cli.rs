//! The `berth` command line as an operator meets it: what `--help` offers, and how a bad
//! configuration is reported.

use std::process::{Command, Output};

fn berth(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("BERTH_CONFIG")
        .output()
        .expect("berth runs")
}

/// The long options a `--help` text lists.
fn options(help: &str) -> Vec<String> {
    help.split_whitespace()
        .filter(|w| w.starts_with("--"))
        .map(|w| w.trim_end_matches([',', '.']).to_owned())
        .collect()
}

#[test]
fn a_config_error_is_one_line_without_a_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("berth.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:5000\"\nlisten_typo = 1\n").unwrap();
    for (args, cause) in [
        (
            vec!["serve", "--config", "/nonexistent/berth.toml"],
            "reading config file",
        ),
        (
            vec!["serve", "--config", config.to_str().unwrap()],
            "unknown field `listen_typo`",
        ),
    ] {
        let output = berth(
            &args,
            &[("RUST_BACKTRACE", "1"), ("RUST_LIB_BACKTRACE", "1")],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.starts_with("berth: "), "{stderr}");
        assert!(stderr.contains(cause), "{args:?}: {stderr}");
        assert!(!stderr.contains("backtrace"), "{stderr}");
        assert!(!stderr.contains("Stack"), "{stderr}");
    }
}

#[test]
fn gc_help_lists_only_what_gc_uses() {
    let output = berth(&["gc", "--help"], &[]);
    assert!(output.status.success());
    let listed = options(&String::from_utf8_lossy(&output.stdout));
    for used in [
        "--dry-run",
        "--json",
        "--data-dir",
        "--gc-grace",
        "--gc-untagged",
    ] {
        assert!(
            listed.iter().any(|o| o == used),
            "{used} missing: {listed:?}"
        );
    }
    for unused in [
        "--max-manifest-bytes",
        "--max-page-entries",
        "--referrers-page-size",
        "--gc-interval",
    ] {
        assert!(
            !listed.iter().any(|o| o == unused),
            "{unused} listed: {listed:?}"
        );
    }
    let serve = berth(&["serve", "--help"], &[]);
    let serve = options(&String::from_utf8_lossy(&serve.stdout));
    assert!(serve.iter().any(|o| o == "--max-page-entries"), "{serve:?}");
}
