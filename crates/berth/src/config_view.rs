//! The effective settings as a TOML config file: what `berth config check` prints, in the form
//! an operator writes (keys as in the file, durations as `1h 30m`, globs as their patterns), so
//! that the output can be read against the file and pasted back into one.

use std::time::Duration;

use berth_registry::gc::{GcOptions, OrphanedReferrers, RetentionRule, Untagged};
use toml::{Table, Value};

use crate::settings::Settings;

/// What replaces a secret the settings hold.
pub const REDACTED: &str = "<redacted>";

/// `settings` as TOML text, with the values of notification endpoints' `secret` replaced by
/// [`REDACTED`] (other secrets, such as a password in a URL, are the caller's to redact).
pub fn to_toml(settings: &Settings) -> String {
    let mut root = Table::new();
    let mut put = |key: &str, value: Value| {
        root.insert(key.to_owned(), value);
    };
    put("listen", settings.listen.to_string().into());
    put("data_dir", path(&settings.data_dir));
    put("max_manifest_bytes", count(settings.max_manifest_bytes));
    put("max_page_entries", settings.max_page_entries.into());
    put("referrers_page_size", settings.referrers_page_size.into());
    put("upload_expiry", duration(settings.upload_expiry));
    put("log", settings.log.clone().into());
    put("log_format", serialized(&settings.log_format));
    put("metrics", settings.metrics.into());
    put("ui", settings.ui.into());
    put("shutdown_timeout", duration(settings.shutdown_timeout));
    put(
        "header_read_timeout",
        duration(settings.header_read_timeout),
    );
    put("open_registry", settings.open_registry.into());
    put("gc", gc(settings.gc_interval, &settings.gc));
    if let Some(tls) = &settings.tls {
        let mut table = Table::new();
        table.insert("cert".into(), path(&tls.cert));
        table.insert("key".into(), path(&tls.key));
        put("tls", Value::Table(table));
    }
    if let Some(auth) = &settings.auth {
        put("auth", serialized(auth));
    }
    put("storage", serialized(&settings.storage));
    put("metadata", serialized(&settings.metadata));
    let mut notifications = serialized(&settings.notifications.effective());
    if let Some(endpoints) = notifications
        .get_mut("endpoints")
        .and_then(Value::as_array_mut)
    {
        for endpoint in endpoints.iter_mut().filter_map(Value::as_table_mut) {
            if let Some(secret) = endpoint.get_mut("secret") {
                *secret = REDACTED.into();
            }
        }
    }
    put("notifications", notifications);
    toml::to_string(&root).expect("a TOML table serializes")
}

/// A duration as the README writes them and the parser reads them back: `0s`, `90ms`,
/// `1d 12h`, `1h 30m`.
pub fn format_duration(duration: Duration) -> String {
    const UNITS: [(&str, u128); 7] = [
        ("d", 86_400_000_000_000),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ];
    let mut rest = duration.as_nanos();
    let mut parts = Vec::new();
    for (unit, size) in UNITS {
        if rest >= size {
            parts.push(format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    if parts.is_empty() {
        "0s".to_owned()
    } else {
        parts.join(" ")
    }
}

fn gc(interval: Duration, options: &GcOptions) -> Value {
    let mut table = Table::new();
    table.insert("interval".into(), duration(interval));
    table.insert("grace".into(), duration(options.grace));
    table.insert("untagged".into(), untagged(options.untagged));
    table.insert(
        "orphaned_referrers".into(),
        orphaned(options.orphaned_referrers),
    );
    if !options.retention.is_empty() {
        let rules = options.retention.iter().map(retention).collect();
        table.insert("retention".into(), Value::Array(rules));
    }
    Value::Table(table)
}

fn retention(rule: &RetentionRule) -> Value {
    let mut table = Table::new();
    table.insert(
        "repositories".into(),
        rule.repositories.as_str().to_owned().into(),
    );
    if let Some(n) = rule.keep_newest_tags {
        table.insert("keep_newest_tags".into(), count(n));
    }
    if let Some(pattern) = &rule.keep_tags_matching {
        table.insert(
            "keep_tags_matching".into(),
            pattern.as_str().to_owned().into(),
        );
    }
    if let Some(after) = rule.expire_tags_after {
        table.insert("expire_tags_after".into(), duration(after));
    }
    if let Some(n) = rule.keep_newest_referrers {
        table.insert("keep_newest_referrers".into(), count(n));
    }
    if let Some(policy) = rule.untagged {
        table.insert("untagged".into(), untagged(policy));
    }
    if let Some(policy) = rule.orphaned_referrers {
        table.insert("orphaned_referrers".into(), orphaned(policy));
    }
    Value::Table(table)
}

fn untagged(policy: Untagged) -> Value {
    match policy {
        Untagged::Keep => "keep",
        Untagged::Delete => "delete",
    }
    .into()
}

fn orphaned(policy: OrphanedReferrers) -> Value {
    match policy {
        OrphanedReferrers::Delete => "delete".into(),
        OrphanedReferrers::Keep => "keep".into(),
        OrphanedReferrers::After(delay) => duration(delay),
    }
}

fn duration(duration: Duration) -> Value {
    format_duration(duration).into()
}

fn path(path: &std::path::Path) -> Value {
    path.display().to_string().into()
}

/// A count; TOML integers are 64-bit signed, and no limit comes near that.
fn count(n: usize) -> Value {
    Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

/// A config table as the file writes it (the same serde names it is read with).
fn serialized<T: serde::Serialize>(value: &T) -> Value {
    Value::try_from(value).expect("settings serialize to TOML")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_the_parser_reads_them() {
        for (text, printed) in [
            ("0s", "0s"),
            ("90s", "1m 30s"),
            ("24h", "1d"),
            ("1h 30m", "1h 30m"),
            ("2w", "14d"),
            ("250ms", "250ms"),
        ] {
            let parsed = humantime::parse_duration(text).unwrap();
            assert_eq!(format_duration(parsed), printed);
            assert_eq!(humantime::parse_duration(printed).unwrap(), parsed);
        }
    }

    #[test]
    fn the_view_reads_back_as_the_same_settings() {
        let text = "listen = \"0.0.0.0:5000\"\nopen_registry = true\nupload_expiry = \"90m\"\n\
            header_read_timeout = \"20s\"\n\
            [gc]\ngrace = \"2h\"\norphaned_referrers = \"7d\"\n\
            [[gc.retention]]\nrepositories = \"ci/*\"\nkeep_tags_matching = \"release-*\"\n\
            expire_tags_after = \"30d\"\nuntagged = \"delete\"\n\
            [storage]\nbackend = \"s3\"\nbucket = \"registry\"\npath_style = true\n\
            [metadata]\nbackend = \"postgres\"\npool_size = 4\n\
            [auth]\nrealm = \"https://r.example/berth/v1/token\"\n\
            [auth.policy]\nanonymous_pull = [\"public/*\"]\n\
            [[notifications.endpoints]]\nname = \"scanner\"\nurl = \"https://s.example/hook\"\n\
            secret = \"hmac-key\"\ntimeout = \"5s\"\n";
        let settings = Settings::from_toml(text).unwrap();
        let printed = to_toml(&settings);
        assert!(printed.contains("repositories = \"ci/*\""), "{printed}");
        assert!(printed.contains("upload_expiry = \"1h 30m\""), "{printed}");
        assert!(
            printed.contains("header_read_timeout = \"20s\""),
            "{printed}"
        );
        assert!(printed.contains("orphaned_referrers = \"7d\""), "{printed}");
        assert!(printed.contains("bucket = \"registry\""), "{printed}");
        assert!(!printed.contains("Pattern"), "{printed}");
        assert!(!printed.contains("hmac-key"), "{printed}");
        assert!(printed.contains("secret = \"<redacted>\""), "{printed}");
        let mut reread = Settings::from_toml(&printed).unwrap();
        reread.notifications.endpoints[0].secret = Some("hmac-key".into());
        // The view writes the notification defaults in; with them written, nothing differs.
        assert!(printed.contains("max_attempts = 8"), "{printed}");
        let mut expected = settings.clone();
        expected.notifications = expected.notifications.effective();
        assert_eq!(reread, expected);
    }
}
