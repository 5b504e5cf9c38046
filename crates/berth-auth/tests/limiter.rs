//! The failed-login limiter, driven with explicit instants (no sleeping, no timing).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use berth_auth::{LoginBlocked, LoginLimiter, LoginLimiterOptions};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn limiter() -> LoginLimiter {
    LoginLimiter::new(LoginLimiterOptions::default())
}

#[test]
fn five_failures_within_a_minute_block_until_the_window_ends() {
    let limiter = limiter();
    let start = Instant::now();
    let client = ip("192.0.2.7");
    for i in 0..5 {
        let at = start + Duration::from_secs(i * 5);
        assert_eq!(limiter.check_at(client, "alice", at), Ok(()), "attempt {i}");
        limiter.record_failure_at(client, "alice", at);
    }
    let at = start + Duration::from_secs(25);
    assert_eq!(
        limiter.check_at(client, "alice", at),
        Err(LoginBlocked {
            retry_after: Duration::from_secs(35)
        })
    );
    let later = start + Duration::from_secs(59);
    assert_eq!(
        limiter
            .check_at(client, "alice", later)
            .unwrap_err()
            .retry_after,
        Duration::from_secs(1)
    );
    assert_eq!(
        limiter.check_at(client, "alice", start + Duration::from_secs(60)),
        Ok(())
    );
}

#[test]
fn a_new_window_starts_counting_afresh() {
    let limiter = limiter();
    let start = Instant::now();
    let client = ip("192.0.2.7");
    for i in 0..5 {
        limiter.record_failure_at(client, "alice", start + Duration::from_millis(i));
    }
    let next = start + Duration::from_secs(61);
    limiter.record_failure_at(client, "alice", next);
    assert_eq!(
        limiter.check_at(client, "alice", next),
        Ok(()),
        "one failure in the new window"
    );
    for i in 1..4 {
        limiter.record_failure_at(client, "alice", next + Duration::from_secs(i));
    }
    assert_eq!(
        limiter.check_at(client, "alice", next + Duration::from_secs(5)),
        Ok(())
    );
    limiter.record_failure_at(client, "alice", next + Duration::from_secs(5));
    assert!(limiter
        .check_at(client, "alice", next + Duration::from_secs(6))
        .is_err());
}

#[test]
fn failures_spread_over_windows_never_block() {
    let limiter = limiter();
    let start = Instant::now();
    let client = ip("192.0.2.7");
    for i in 0..20 {
        let at = start + Duration::from_secs(i * 16);
        assert_eq!(limiter.check_at(client, "alice", at), Ok(()), "failure {i}");
        limiter.record_failure_at(client, "alice", at);
    }
}

#[test]
fn checks_and_successes_do_not_count() {
    let limiter = limiter();
    let start = Instant::now();
    for i in 0..100 {
        assert_eq!(
            limiter.check_at(ip("192.0.2.7"), "alice", start + Duration::from_millis(i)),
            Ok(())
        );
    }
    assert_eq!(limiter.check(ip("192.0.2.7"), "alice"), Ok(()));
}

#[test]
fn other_users_and_other_clients_are_not_blocked() {
    let limiter = limiter();
    let now = Instant::now();
    for _ in 0..5 {
        limiter.record_failure_at(ip("192.0.2.7"), "alice", now);
    }
    assert!(limiter.check_at(ip("192.0.2.7"), "alice", now).is_err());
    assert_eq!(limiter.check_at(ip("192.0.2.7"), "bob", now), Ok(()));
    assert_eq!(limiter.check_at(ip("192.0.2.8"), "alice", now), Ok(()));
    assert_eq!(limiter.check_at(ip("192.0.2.7"), "alice2", now), Ok(()));
}

#[test]
fn ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() {
    let limiter = limiter();
    let now = Instant::now();
    for i in 0..5 {
        limiter.record_failure_at(ip(&format!("2001:db8:1:2::{i}")), "alice", now);
    }
    assert!(limiter
        .check_at(ip("2001:db8:1:2:ffff::1"), "alice", now)
        .is_err());
    assert_eq!(
        limiter.check_at(ip("2001:db8:1:3::1"), "alice", now),
        Ok(())
    );
    for _ in 0..5 {
        limiter.record_failure_at(ip("::ffff:192.0.2.9"), "bob", now);
    }
    assert!(limiter.check_at(ip("192.0.2.9"), "bob", now).is_err());
}

#[test]
fn options_set_the_threshold_and_window() {
    let limiter = LoginLimiter::new(LoginLimiterOptions {
        max_failures: 2,
        max_client_failures: 3,
        window: Duration::from_secs(10),
        capacity: 16,
    });
    let now = Instant::now();
    limiter.record_failure_at(ip("192.0.2.1"), "u", now);
    assert_eq!(limiter.check_at(ip("192.0.2.1"), "u", now), Ok(()));
    limiter.record_failure_at(ip("192.0.2.1"), "u", now);
    let blocked = limiter.check_at(ip("192.0.2.1"), "u", now).unwrap_err();
    assert_eq!(blocked.retry_after, Duration::from_secs(10));
    // The third failure from the client, for another user, pauses every user from it.
    assert_eq!(limiter.check_at(ip("192.0.2.1"), "v", now), Ok(()));
    limiter.record_failure_at(ip("192.0.2.1"), "v", now);
    assert!(limiter.check_at(ip("192.0.2.1"), "w", now).is_err());
}

#[test]
fn a_password_spray_from_one_client_pauses_every_login_from_it_only() {
    let limiter = LoginLimiter::new(LoginLimiterOptions::default());
    let now = Instant::now();
    let spray = ip("203.0.113.7");
    for i in 0..29 {
        limiter.record_failure_at(spray, &format!("user{i}"), now);
    }
    // One failure per name: no pair is paused, and the client not yet.
    assert_eq!(limiter.check_at(spray, "alice", now), Ok(()));
    limiter.record_failure_at(spray, "user29", now);
    let blocked = limiter.check_at(spray, "alice", now).unwrap_err();
    assert_eq!(blocked.retry_after, Duration::from_secs(60));
    // Other clients log in as before, and the pause ends with the window.
    assert_eq!(limiter.check_at(ip("203.0.113.8"), "alice", now), Ok(()));
    let later = now + Duration::from_secs(60);
    assert_eq!(limiter.check_at(spray, "alice", later), Ok(()));
}

#[test]
fn memory_stays_bounded_under_a_flood_of_pairs() {
    let limiter = LoginLimiter::new(LoginLimiterOptions {
        capacity: 64,
        ..LoginLimiterOptions::default()
    });
    let now = Instant::now();
    let long_name = "x".repeat(10_000);
    for i in 0..5_000 {
        limiter.record_failure_at(ip("198.51.100.1"), &format!("{long_name}{i}"), now);
    }
    assert!(limiter.len() <= 64, "{}", limiter.len());
    assert!(!limiter.is_empty());
}
