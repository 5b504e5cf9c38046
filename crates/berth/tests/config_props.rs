//! Property tests of the config file parser, `Settings::from_toml` (the parsing and merging
//! `berth serve` does): any text is refused or accepted without a panic, and a generated
//! valid config file gives back every value it sets. The fuzz target
//! `fuzz/fuzz_targets/config.rs` explores the same parser.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use berth::settings::{Settings, TlsFiles};
use berth_registry::gc::{OrphanedReferrers, Untagged};
use proptest::prelude::*;

const KEYS: [&str; 24] = [
    "listen",
    "data_dir",
    "max_manifest_bytes",
    "max_page_entries",
    "referrers_page_size",
    "upload_expiry",
    "log",
    "open_registry",
    "interval",
    "grace",
    "untagged",
    "orphaned_referrers",
    "repositories",
    "keep_newest_tags",
    "keep_tags_matching",
    "expire_tags_after",
    "cert",
    "key",
    "htpasswd",
    "service",
    "token_ttl",
    "anonymous_pull",
    "actions",
    "unknown",
];

/// A value of any TOML type, leaning to what the keys above take, and to the edges of
/// durations and numbers.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (any::<u64>(), "(ns|us|ms|s|m|h|d|w|M|y|)").prop_map(|(n, u)| format!("\"{n}{u}\"")),
        (0u32..100, "(s|m|h|d)").prop_map(|(n, u)| format!("\"{n}{u}\"")),
        Just("\"keep\"".to_owned()),
        Just("\"delete\"".to_owned()),
        Just("\"127.0.0.1:5000\"".to_owned()),
        Just("\"[::1]:0\"".to_owned()),
        "\"[a-z*?\\[\\]{}!/.-]{0,12}\"",
        "\\[(\"[a-z*/]{0,6}\", ?){0,3}\\]",
        Just("true".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
        Just("{}".to_owned()),
        ".{0,10}",
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (proptest::sample::select(KEYS.to_vec()), value())
            .prop_map(|(k, v)| format!("{k} = {v}")),
        1 => proptest::sample::select(vec![
            "[gc]", "[[gc.retention]]", "[tls]", "[auth]", "[auth.policy]",
            "[[auth.policy.rules]]", "[[auth.trusted_issuers]]", "[other]",
        ])
        .prop_map(str::to_owned),
        1 => ".{0,20}",
    ]
}

fn toml_ish() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(line(), 0..12).prop_map(|lines| lines.join("\n")),
    ]
}

/// IPv4 and IPv6 addresses with a port (no IPv6 flow or scope, which TOML text cannot carry).
fn socket_address() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(SocketAddr::from),
        (any::<[u16; 8]>(), any::<u16>()).prop_map(SocketAddr::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_config_text_is_refused_or_accepted_without_a_panic(text in toml_ish()) {
        if let Ok(settings) = Settings::from_toml(&text) {
            prop_assert!(settings.max_page_entries >= 1);
            prop_assert!(settings.referrers_page_size >= 1);
            prop_assert!(settings.max_manifest_bytes >= 1);
        }
    }

    #[test]
    fn a_valid_config_gives_back_its_values(
        listen in socket_address(),
        data_dir in "/[a-z0-9_.-]{1,12}(/[a-z0-9_-]{1,8}){0,2}",
        max_manifest_bytes in 1usize..=(64 << 20),
        max_page_entries in 1u32..,
        referrers_page_size in 1u32..,
        upload_expiry_minutes in 0u64..100_000,
        log in "[a-z]{1,8}(,[a-z_]{1,8}=(debug|info|warn))?",
        open_registry in any::<bool>(),
        interval_secs in 0u64..1_000_000,
        grace_hours in 0u64..10_000,
        delete_untagged in any::<bool>(),
        orphans in prop_oneof![
            Just(("delete".to_owned(), OrphanedReferrers::Delete)),
            Just(("keep".to_owned(), OrphanedReferrers::Keep)),
            (1u64..1000).prop_map(|d| (format!("{d}d"), OrphanedReferrers::After(Duration::from_secs(d * 86_400)))),
        ],
        tls in any::<bool>(),
        keep_newest_tags in proptest::option::of(0usize..1000),
    ) {
        let untagged = if delete_untagged { "delete" } else { "keep" };
        let mut text = format!(
            "listen = \"{listen}\"\ndata_dir = \"{data_dir}\"\n\
             max_manifest_bytes = {max_manifest_bytes}\nmax_page_entries = {max_page_entries}\n\
             referrers_page_size = {referrers_page_size}\nupload_expiry = \"{upload_expiry_minutes}m\"\n\
             log = \"{log}\"\nopen_registry = {open_registry}\n\n\
             [gc]\ninterval = \"{interval_secs}s\"\ngrace = \"{grace_hours}h\"\n\
             untagged = \"{untagged}\"\norphaned_referrers = \"{}\"\n",
            orphans.0
        );
        if let Some(keep) = keep_newest_tags {
            text.push_str(&format!("\n[[gc.retention]]\nrepositories = \"team/*\"\nkeep_newest_tags = {keep}\n"));
        }
        if tls {
            text.push_str("\n[tls]\ncert = \"/etc/berth/tls.crt\"\nkey = \"/etc/berth/tls.key\"\n");
        }
        let settings = Settings::from_toml(&text).unwrap();
        prop_assert_eq!(settings.listen, listen);
        prop_assert_eq!(&settings.data_dir, &PathBuf::from(&data_dir));
        prop_assert_eq!(settings.max_manifest_bytes, max_manifest_bytes);
        prop_assert_eq!(settings.max_page_entries, max_page_entries);
        prop_assert_eq!(settings.referrers_page_size, referrers_page_size);
        prop_assert_eq!(settings.upload_expiry, Duration::from_secs(upload_expiry_minutes * 60));
        prop_assert_eq!(&settings.log, &log);
        prop_assert_eq!(settings.open_registry, open_registry);
        prop_assert_eq!(settings.gc_interval, Duration::from_secs(interval_secs));
        prop_assert_eq!(settings.gc.grace, Duration::from_secs(grace_hours * 3600));
        let expected_untagged = if delete_untagged { Untagged::Delete } else { Untagged::Keep };
        prop_assert_eq!(settings.gc.untagged, expected_untagged);
        prop_assert_eq!(settings.gc.orphaned_referrers, orphans.1);
        prop_assert_eq!(settings.gc.retention.len(), usize::from(keep_newest_tags.is_some()));
        if let Some(rule) = settings.gc.retention.first() {
            prop_assert_eq!(rule.keep_newest_tags, keep_newest_tags);
            prop_assert!(rule.repositories.matches("team/app"));
        }
        let expected_tls = tls.then(|| TlsFiles {
            cert: "/etc/berth/tls.crt".into(),
            key: "/etc/berth/tls.key".into(),
        });
        prop_assert_eq!(settings.tls, expected_tls);
        prop_assert_eq!(settings.auth, None);
    }
}

#[test]
fn an_empty_config_gives_the_defaults() {
    assert_eq!(Settings::from_toml("").unwrap(), Settings::default());
    assert!(Settings::from_toml("max_page_entries = 0").is_err());
    assert!(Settings::from_toml("listn = \"x\"").is_err());
}
