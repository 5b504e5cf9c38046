//! Settings from flags, environment, config file text and defaults, and what is refused.

use super::*;
use berth_registry::gc::{OrphanedReferrers, Untagged};
use clap::Parser;

/// `berth serve ARGV...` as clap parses it, the environment's `BERTH_*` variables included.
fn serve_args(argv: &[&str]) -> ServeArgs {
    let argv = ["berth", "serve"].iter().chain(argv);
    match crate::cli::Cli::try_parse_from(argv).unwrap().command {
        crate::cli::Command::Serve(args) => args,
        other => panic!("{other:?}"),
    }
}

#[test]
fn page_sizes_of_zero_are_refused() {
    for args in [
        ServeArgs {
            referrers_page_size: Some(0),
            ..ServeArgs::default()
        },
        ServeArgs {
            max_page_entries: Some(0),
            ..ServeArgs::default()
        },
    ] {
        let error = Settings::merge(&args, FileSettings::default()).unwrap_err();
        assert!(error.to_string().contains("must be at least 1"), "{error}");
    }
}

#[test]
fn the_auth_table_and_open_registry_are_read() {
    let file: FileSettings = toml::from_str(
        "open_registry = true\n\
         [auth]\nhtpasswd = \"/etc/berth/htpasswd\"\nservice = \"registry.test\"\n\
         [auth.policy]\nanonymous_pull = [\"public/*\"]\n\
         [[auth.policy.rules]]\nrepositories = \"team/*\"\nusers = [\"alice\"]\n\
         actions = [\"pull\"]",
    )
    .unwrap();
    let settings = Settings::merge(&ServeArgs::default(), file).unwrap();
    assert!(settings.open_registry);
    let auth = settings.auth.unwrap();
    assert_eq!(auth.htpasswd, Some(PathBuf::from("/etc/berth/htpasswd")));
    assert_eq!(auth.service.as_deref(), Some("registry.test"));
    assert_eq!(auth.policy.anonymous_pull, vec!["public/*".to_owned()]);
    assert_eq!(auth.policy.rules.len(), 1);
    let typo = toml::from_str::<FileSettings>(
        "[auth]
htpassword = \"x\"",
    );
    assert!(typo.is_err());
}

#[test]
fn open_registry_is_only_an_explicit_opt_in() {
    let file = |text: &str| -> FileSettings { toml::from_str(text).unwrap() };
    let open = |argv: &[&str], text: &str| {
        Settings::merge(&serve_args(argv), file(text))
            .unwrap()
            .open_registry
    };
    // Neither the flag nor the file: closed.
    assert!(!open(&[], ""));
    assert!(!open(&[], "open_registry = false"));
    // The bare flag, or a true value, opens it; the file alone too.
    assert!(open(&["--open-registry"], ""));
    assert!(open(&["--open-registry", "true"], ""));
    assert!(open(&["--open-registry=yes"], ""));
    assert!(open(&[], "open_registry = true"));
    // An explicit false on the command line outranks the file's true.
    assert!(!open(&["--open-registry=false"], "open_registry = true"));
    // A value that is no boolean is refused, not taken as either.
    let refused = crate::cli::Cli::try_parse_from(["berth", "serve", "--open-registry=maybe"]);
    assert!(refused.is_err());
    // The bare flag takes no following argument as its value.
    let args = serve_args(&["--open-registry", "--listen", "0.0.0.0:5000"]);
    assert_eq!(args.open_registry, Some(true));
    assert_eq!(args.listen, Some("0.0.0.0:5000".parse().unwrap()));
}

#[test]
fn no_configuration_gives_the_embedded_default() {
    let settings = Settings::merge(&ServeArgs::default(), FileSettings::default()).unwrap();
    assert_eq!(settings, Settings::default());
    assert_eq!(settings.listen.to_string(), "127.0.0.1:5000");
}

#[test]
fn command_line_overrides_file_which_overrides_defaults() {
    let file: FileSettings = toml::from_str(
        "listen = \"0.0.0.0:6000\"\ndata_dir = \"/srv/berth\"\nupload_expiry = \"2h\"\nlog = \"debug\"",
    )
    .unwrap();
    let args = ServeArgs {
        listen: Some("127.0.0.1:7000".parse().unwrap()),
        ..ServeArgs::default()
    };
    let settings = Settings::merge(&args, file).unwrap();
    assert_eq!(settings.listen.to_string(), "127.0.0.1:7000");
    assert_eq!(settings.data_dir, PathBuf::from("/srv/berth"));
    assert_eq!(settings.upload_expiry, Duration::from_secs(7200));
    assert_eq!(settings.log, "debug");
}

#[test]
fn the_gc_table_sets_the_collection_policy() {
    let file: FileSettings = toml::from_str(
        "[gc]\ninterval = \"30m\"\ngrace = \"0s\"\nuntagged = \"delete\"\norphaned_referrers = \"keep\"",
    )
    .unwrap();
    let settings = Settings::merge(&ServeArgs::default(), file).unwrap();
    assert_eq!(settings.gc_interval, Duration::from_secs(1800));
    assert_eq!(settings.gc.grace, Duration::ZERO);
    assert_eq!(settings.gc.untagged, Untagged::Delete);
    assert_eq!(settings.gc.orphaned_referrers, OrphanedReferrers::Keep);
    let defaults = Settings::default();
    assert_eq!(
        defaults.gc.untagged,
        Untagged::Keep,
        "untagged manifests are kept by default"
    );
    assert_eq!(defaults.gc.orphaned_referrers, OrphanedReferrers::Delete);
    let rules: FileSettings = toml::from_str(
        "[[gc.retention]]\nrepositories = \"team/*\"\nkeep_newest_tags = 10\nkeep_tags_matching = \"v*\"\nexpire_tags_after = \"30d\"\n\n[[gc.retention]]\nkeep_newest_referrers = 3",
    )
    .unwrap();
    let settings = Settings::merge(&ServeArgs::default(), rules).unwrap();
    assert_eq!(settings.gc.retention.len(), 2);
    assert!(settings.gc.retention[0].repositories.matches("team/app"));
    assert_eq!(
        settings.gc.retention[0].expire_tags_after,
        Some(Duration::from_secs(30 * 86_400))
    );
    assert!(settings.gc.retention[1]
        .repositories
        .matches("anything/at/all"));
    assert_eq!(settings.gc.retention[1].keep_newest_referrers, Some(3));
    let bad: FileSettings = toml::from_str("[gc]\nuntagged = \"sometimes\"").unwrap();
    assert!(Settings::merge(&ServeArgs::default(), bad).is_err());
}

#[test]
fn orphans_can_wait_a_delay_and_patterns_override_the_policies() {
    let file: FileSettings = toml::from_str(
        "[gc]\norphaned_referrers = \"7d\"\n\n[[gc.retention]]\nrepositories = \"ci/*\"\nuntagged = \"delete\"\norphaned_referrers = \"keep\"",
    )
    .unwrap();
    let settings = Settings::merge(&ServeArgs::default(), file).unwrap();
    assert_eq!(
        settings.gc.orphaned_referrers,
        OrphanedReferrers::After(Duration::from_secs(7 * 86_400))
    );
    let rule = &settings.gc.retention[0];
    assert_eq!(rule.untagged, Some(Untagged::Delete));
    assert_eq!(rule.orphaned_referrers, Some(OrphanedReferrers::Keep));
    let bad: FileSettings =
        toml::from_str("[[gc.retention]]\norphaned_referrers = \"later\"").unwrap();
    let error = Settings::merge(&ServeArgs::default(), bad).unwrap_err();
    assert!(
        format!("{error:#}").contains("a delay such as"),
        "{error:#}"
    );
}

#[test]
fn gc_reads_the_config_file_and_knows_whether_an_address_was_given() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("berth.toml");
    std::fs::write(&config, "data_dir = \"/srv/berth\"\n[gc]\ngrace = \"5m\"").unwrap();
    let args = GcArgs {
        config: Some(config.clone()),
        gc_untagged: Some("delete".into()),
        ..GcArgs::default()
    };
    let loaded = Settings::load_for_gc(&args).unwrap();
    assert_eq!(loaded.listen, None, "only the default address applies");
    assert_eq!(loaded.settings.data_dir, PathBuf::from("/srv/berth"));
    assert_eq!(loaded.settings.gc.grace, Duration::from_secs(300));
    assert_eq!(loaded.settings.gc.untagged, Untagged::Delete);
    std::fs::write(&config, "listen = \"127.0.0.1:6000\"").unwrap();
    let loaded = Settings::load_for_gc(&args).unwrap();
    assert_eq!(loaded.listen, Some("127.0.0.1:6000".parse().unwrap()));
    let flag = GcArgs {
        listen: Some("127.0.0.1:7000".parse().unwrap()),
        ..args
    };
    let loaded = Settings::load_for_gc(&flag).unwrap();
    assert_eq!(loaded.listen, Some("127.0.0.1:7000".parse().unwrap()));
    let bad = GcArgs {
        gc_orphaned_referrers: Some("later".into()),
        ..GcArgs::default()
    };
    assert!(Settings::load_for_gc(&bad).is_err());
}

#[test]
fn tls_files_come_from_flags_over_the_environment_over_the_file() {
    let file = || -> FileSettings {
        toml::from_str("[tls]\ncert = \"/etc/berth/file.crt\"\nkey = \"/etc/berth/file.key\"")
            .unwrap()
    };
    let pair = |cert: &str, key: &str| {
        Some(TlsFiles {
            cert: PathBuf::from(cert),
            key: PathBuf::from(key),
        })
    };
    assert_eq!(Settings::default().tls, None, "plain HTTP by default");
    let settings = Settings::merge(&ServeArgs::default(), file()).unwrap();
    assert_eq!(
        settings.tls,
        pair("/etc/berth/file.crt", "/etc/berth/file.key")
    );

    // The environment reaches the same fields as the flags, through clap; no other test
    // reads these variables, so setting them here races with nothing.
    std::env::set_var("BERTH_TLS_CERT", "/env.crt");
    std::env::set_var("BERTH_TLS_KEY", "/env.key");
    let from_env = serve_args(&[]);
    let from_flag = serve_args(&["--tls-cert", "/flag.crt"]);
    std::env::remove_var("BERTH_TLS_CERT");
    std::env::remove_var("BERTH_TLS_KEY");
    let settings = Settings::merge(&from_env, file()).unwrap();
    assert_eq!(
        settings.tls,
        pair("/env.crt", "/env.key"),
        "environment over file"
    );
    let settings = Settings::merge(&from_flag, file()).unwrap();
    assert_eq!(
        settings.tls,
        pair("/flag.crt", "/env.key"),
        "flag over environment"
    );

    // Each file is layered on its own, but the result needs both.
    let key_only: FileSettings = toml::from_str("[tls]\nkey = \"/etc/berth/file.key\"").unwrap();
    let args = ServeArgs {
        tls_cert: Some("/flag.crt".into()),
        ..ServeArgs::default()
    };
    let settings = Settings::merge(&args, key_only).unwrap();
    assert_eq!(settings.tls, pair("/flag.crt", "/etc/berth/file.key"));
    let error = Settings::merge(&args, FileSettings::default()).unwrap_err();
    assert!(
        format!("{error:#}").contains("no key (--tls-key, BERTH_TLS_KEY"),
        "{error:#}"
    );
    let cert_missing: FileSettings = toml::from_str("[tls]\nkey = \"/k.pem\"").unwrap();
    let error = Settings::merge(&ServeArgs::default(), cert_missing).unwrap_err();
    assert!(
        format!("{error:#}").contains("the key /k.pem is given, but no certificate"),
        "{error:#}"
    );
    assert!(toml::from_str::<FileSettings>("[tls]\ncertificate = \"x\"").is_err());
}

#[test]
fn unknown_keys_and_bad_values_are_refused() {
    assert!(toml::from_str::<FileSettings>("listn = \"x\"").is_err());
    let file: FileSettings = toml::from_str("upload_expiry = \"soon\"").unwrap();
    assert!(Settings::merge(&ServeArgs::default(), file).is_err());
}

#[test]
fn storage_and_metadata_tables_choose_the_scale_out_backends() {
    let settings = Settings::from_toml(
        "[storage]\nbackend = \"s3\"\nbucket = \"registry\"\n\
         endpoint = \"http://127.0.0.1:3900\"\nregion = \"garage\"\npath_style = true\n\
         prefix = \"berth/\"\n\
         [metadata]\nbackend = \"postgres\"\nurl = \"postgres://db/berth\"\npool_size = 8",
    )
    .unwrap();
    assert_eq!(
        settings.storage,
        StorageSettings::S3 {
            bucket: "registry".into(),
            endpoint: Some("http://127.0.0.1:3900".into()),
            region: Some("garage".into()),
            path_style: true,
            prefix: Some("berth/".into()),
            redirect: None,
        }
    );
    assert_eq!(
        settings.metadata,
        MetadataSettings::Postgres {
            url: Some("postgres://db/berth".into()),
            pool_size: Some(8),
        }
    );
    let embedded = Settings::from_toml(
        "[storage]\nbackend = \"filesystem\"\n[metadata]\nbackend = \"sqlite\"",
    )
    .unwrap();
    assert_eq!(embedded.storage, StorageSettings::Filesystem {});
    assert_eq!(embedded.metadata, MetadataSettings::Sqlite {});
}

#[test]
fn storage_and_metadata_mistakes_are_refused() {
    for (text, says) in [
        ("[storage]\nbackend = \"s4\"", "unknown variant `s4`"),
        ("[storage]\nbackend = \"s3\"", "missing field `bucket`"),
        (
            "[storage]\nbackend = \"s3\"\nbucket = \"b\"\nbukket = \"c\"",
            "unknown field `bukket`",
        ),
        (
            "[metadata]\nbackend = \"postgres\"\npool_size = 0",
            "pool_size must be at least 1",
        ),
        (
            "[metadata]\nbackend = \"sqlite\"\nurl = \"x\"",
            "unknown field `url`",
        ),
    ] {
        let error = Settings::from_toml(text).unwrap_err();
        assert!(format!("{error:#}").contains(says), "{text}: {error:#}");
    }
}

#[test]
fn parse_errors_give_the_place_but_never_quote_the_file() {
    let text =
        "listen = \"127.0.0.1:5000\"\n[metadata]\nurl = \"postgres://u:hunter2@db/x\" trailing\n";
    let error = format!("{:#}", FileSettings::parse(text).unwrap_err());
    assert!(error.starts_with("line 3, column "), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
    let wrong_type = "# token_secret = \"s3cret\"\nmax_page_entries = \"many\"\n";
    let error = format!("{:#}", FileSettings::parse(wrong_type).unwrap_err());
    assert!(
        error.starts_with("line 2, column 20: invalid type"),
        "{error}"
    );
    assert!(!error.contains("s3cret"), "{error}");
}

#[test]
fn parse_errors_name_the_key_of_a_bad_value() {
    let error = format!(
        "{:#}",
        FileSettings::parse("listen = \"not an address\"\n").unwrap_err()
    );
    assert_eq!(
        error,
        "line 1, column 10: invalid socket address syntax (in `listen`)"
    );
    let in_table =
        "listen = \"127.0.0.1:5000\"\n\n[gc]  # collection\ninterval = \"1h\"\ngrace = 90\n";
    let error = format!("{:#}", FileSettings::parse(in_table).unwrap_err());
    assert!(error.starts_with("line 5, column 9: "), "{error}");
    assert!(error.ends_with(" (in `gc.grace`)"), "{error}");
    // A value inside an inline table or array names no key rather than quoting the line.
    let inline = "[metadata]\nbackend = \"postgres\"\npool_size = 4\n\
                  [auth]\nhtpasswd = \"/h\"\n[auth.policy]\nrules = [{ repositories = \"x\", \
                  users = \"alice\" }]\n";
    let error = format!("{:#}", FileSettings::parse(inline).unwrap_err());
    assert!(error.starts_with("line 7, column "), "{error}");
    assert!(
        !error.contains("(in ") && !error.contains("rules = "),
        "{error}"
    );
}

#[test]
fn the_web_ui_is_on_unless_the_file_turns_it_off() {
    let from = |text: &str| {
        let file: FileSettings = toml::from_str(text).unwrap();
        Settings::merge(&ServeArgs::default(), file).unwrap()
    };
    assert!(from("").ui);
    assert!(from("ui = true").ui);
    assert!(!from("ui = false").ui);
    assert!(toml::from_str::<FileSettings>("ui = \"off\"").is_err());
    let printed: toml::Table = crate::config_view::to_toml(&from("ui = false"))
        .parse()
        .unwrap();
    assert_eq!(printed["ui"], toml::Value::Boolean(false));
}
