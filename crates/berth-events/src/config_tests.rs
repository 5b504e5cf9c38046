use super::*;

fn event(kind: &str, repository: Option<&str>) -> StoredEvent {
    StoredEvent {
        seq: 1,
        id: "id".into(),
        kind: kind.into(),
        repository: repository.map(str::to_owned),
        subject: None,
        time: 0,
        data: "{}".into(),
    }
}

fn endpoint(events: &[&str], repositories: &[&str]) -> EndpointSettings {
    EndpointSettings {
        name: "hook".into(),
        url: "http://127.0.0.1:9/hook".into(),
        events: events.iter().map(|s| s.to_string()).collect(),
        repositories: repositories.iter().map(|s| s.to_string()).collect(),
        ..EndpointSettings::default()
    }
}

#[test]
fn filters_by_type_and_repository_glob() {
    let checked = endpoint(&["dev.berth.tag.moved"], &["prod/*", "team/**"])
        .check()
        .unwrap();
    assert!(checked.accepts(&event("dev.berth.tag.moved", Some("prod/app"))));
    assert!(checked.accepts(&event("dev.berth.tag.moved", Some("team/a/b/c"))));
    assert!(!checked.accepts(&event("dev.berth.tag.moved", Some("prod/app/sub"))));
    assert!(!checked.accepts(&event("dev.berth.tag.moved", Some("dev/app"))));
    assert!(!checked.accepts(&event("dev.berth.manifest.pushed", Some("prod/app"))));
    let all = endpoint(&[], &["prod/*"]).check().unwrap();
    assert!(all.accepts(&event("dev.berth.collection.completed", None)));
    assert!(all.accepts(&event("dev.berth.manifest.deleted", Some("prod/x"))));
}

#[test]
fn refuses_what_would_fail_later() {
    let mut bad = vec![
        endpoint(&["dev.berth.manifest.pulled"], &[]),
        endpoint(&[], &["prod/[a"]),
        EndpointSettings {
            url: "ftp://example.com".into(),
            ..endpoint(&[], &[])
        },
        EndpointSettings {
            name: "has space".into(),
            ..endpoint(&[], &[])
        },
        EndpointSettings {
            max_attempts: Some(0),
            ..endpoint(&[], &[])
        },
        EndpointSettings {
            timeout: Some("soon".into()),
            ..endpoint(&[], &[])
        },
        EndpointSettings {
            secret_env: Some("BERTH_EVENTS_TEST_SURELY_UNSET".into()),
            ..endpoint(&[], &[])
        },
    ];
    for settings in bad.drain(..) {
        let checked = NotificationSettings {
            endpoints: vec![settings.clone()],
            ..Default::default()
        }
        .check();
        assert!(checked.is_err(), "{settings:?} is refused");
    }
    let twice = NotificationSettings {
        endpoints: vec![endpoint(&[], &[]), endpoint(&[], &[])],
        ..Default::default()
    };
    assert!(twice.check().is_err());
}

#[test]
fn backoff_doubles_up_to_its_ceiling() {
    let checked = EndpointSettings {
        backoff: Some("1s".into()),
        max_backoff: Some("5s".into()),
        ..endpoint(&[], &[])
    }
    .check()
    .unwrap();
    let waits: Vec<u64> = (1..=5)
        .map(|a| checked.backoff_after(a).as_secs())
        .collect();
    assert_eq!(waits, [1, 2, 4, 5, 5]);
}

#[test]
fn debug_output_hides_the_secret() {
    let settings = EndpointSettings {
        secret: Some("hunter2".into()),
        ..endpoint(&[], &[])
    };
    assert!(!format!("{settings:?}").contains("hunter2"));
}

#[test]
fn batches_are_bounded_and_a_wait_needs_a_batch() {
    let batched = |size: Option<u32>, wait: Option<&str>| {
        EndpointSettings {
            batch_size: size,
            batch_wait: wait.map(str::to_owned),
            ..endpoint(&[], &[])
        }
        .check()
    };
    let single = batched(None, None).unwrap();
    assert_eq!((single.batch_size, single.batch_wait), (1, Duration::ZERO));
    let busy = batched(Some(100), Some("250ms")).unwrap();
    assert_eq!(
        (busy.batch_size, busy.batch_wait),
        (100, Duration::from_millis(250))
    );
    assert!(batched(Some(MAX_BATCH_SIZE), None).is_ok());
    for (size, wait, said) in [
        (Some(0), None, "batch_size 0 must be between 1 and 1000"),
        (
            Some(1001),
            None,
            "batch_size 1001 must be between 1 and 1000",
        ),
        (None, Some("1s"), "batch_wait needs a batch_size above 1"),
        (
            Some(10),
            Some("2s"),
            "batch_wait \"2s\" is longer than the longest, 1s",
        ),
        (
            Some(10),
            Some("soon"),
            "batch_wait \"soon\" is not a duration",
        ),
    ] {
        let error = batched(size, wait).unwrap_err().to_string();
        assert!(error.contains(said), "{error}");
    }
}

#[test]
fn a_zero_timeout_and_an_empty_secret_are_refused() {
    let zero = EndpointSettings {
        timeout: Some("0s".into()),
        ..endpoint(&[], &[])
    };
    let error = zero.check().unwrap_err().to_string();
    assert!(error.contains("timeout must be longer than 0s"), "{error}");
    // A timeout past any deadline the clock can hold would fail every attempt later.
    let endless = EndpointSettings {
        timeout: Some("10000000000000000000s".into()),
        ..endpoint(&[], &[])
    };
    let error = endless.check().unwrap_err().to_string();
    assert!(error.contains("timeout must be at most 1h"), "{error}");
    let empty = EndpointSettings {
        secret: Some(String::new()),
        ..endpoint(&[], &[])
    };
    let error = empty.check().unwrap_err().to_string();
    assert!(error.contains("secret is empty"), "{error}");
}

#[test]
fn the_effective_settings_write_the_defaults_in_and_check_the_same() {
    let written = NotificationSettings {
        endpoints: vec![endpoint(&[], &[])],
        ..Default::default()
    };
    let effective = written.effective();
    let shown = &effective.endpoints[0];
    assert_eq!(effective.source.as_deref(), Some("berth"));
    assert_eq!(effective.retention.as_deref(), Some("7d"));
    assert_eq!(
        (
            shown.timeout.as_deref(),
            shown.max_attempts,
            shown.backoff.as_deref()
        ),
        (Some("10s"), Some(8), Some("1s"))
    );
    assert_eq!(
        (
            shown.max_backoff.as_deref(),
            shown.batch_size,
            shown.batch_wait.as_deref()
        ),
        (Some("5m"), Some(1), Some("0s"))
    );
    let (a, b) = (written.check().unwrap(), effective.check().unwrap());
    let a = &a.endpoints[0];
    let b = &b.endpoints[0];
    assert_eq!(
        (
            a.timeout,
            a.max_attempts,
            a.backoff,
            a.max_backoff,
            a.batch_size,
            a.batch_wait
        ),
        (
            b.timeout,
            b.max_attempts,
            b.backoff,
            b.max_backoff,
            b.batch_size,
            b.batch_wait
        )
    );
    assert_eq!(
        written.check().unwrap().retention,
        effective.check().unwrap().retention
    );
}

#[test]
fn a_refused_url_is_named_without_its_credentials() {
    for url in [
        "http://user:sekrit2@host:99999/x?q=qs2",
        "ftp://user:sekrit2@example.com/",
        "http://example.com:99999/x?token=sekrit2",
    ] {
        let settings = EndpointSettings {
            url: url.into(),
            ..endpoint(&[], &[])
        };
        let error = settings.check().unwrap_err().to_string();
        assert!(error.contains("is not an http(s) URL"), "{error}");
        assert!(
            !error.contains("sekrit2") && !error.contains("qs2"),
            "{error}"
        );
    }
    let long = EndpointSettings {
        url: format!("ftp://{}.example/", "a".repeat(300)),
        ..endpoint(&[], &[])
    };
    let error = long.check().unwrap_err().to_string();
    assert!(error.len() < 300, "{error}");
    let plain = EndpointSettings {
        url: "ftp://example.com/hook".into(),
        ..endpoint(&[], &[])
    };
    let error = plain.check().unwrap_err().to_string();
    assert!(error.contains("\"ftp://example.com/hook\""), "{error}");
}

#[test]
fn logs_show_the_url_without_credentials_query_or_fragment() {
    let settings = EndpointSettings {
        url: "https://hook:pw-1@receiver.example/in?code=tok-2#part".into(),
        ..endpoint(&[], &[])
    };
    let checked = settings.check().unwrap();
    assert_eq!(
        checked.url_for_logs(),
        "https://receiver.example/in?<redacted>"
    );
    let plain = EndpointSettings {
        url: "http://127.0.0.1:9000/hook".into(),
        ..endpoint(&[], &[])
    };
    assert_eq!(
        plain.check().unwrap().url_for_logs(),
        "http://127.0.0.1:9000/hook"
    );
}
