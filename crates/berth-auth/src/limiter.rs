//! Failed-login limiter: too many wrong passwords for one user from one client pause that
//! user's logins from it; too many from one client across all user names (a password spray, or
//! bcrypt work forced with made-up names) pause every login from it.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use quick_cache::sync::{Cache, EntryAction, EntryResult};
use sha2::{Digest, Sha256};

/// Tuning of [`LoginLimiter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginLimiterOptions {
    /// Failures for one user from one client within a window before that user's logins from
    /// it are refused. Default 5.
    pub max_failures: u32,
    /// Failures from one client, whatever the user names, within a window before every login
    /// from it is refused. Default 30.
    pub max_client_failures: u32,
    /// The window, counted from its first failure. Default 1 minute.
    pub window: Duration,
    /// Most (client, user) pairs remembered; the least useful are evicted. Default 10 000.
    pub capacity: usize,
}

impl Default for LoginLimiterOptions {
    fn default() -> LoginLimiterOptions {
        LoginLimiterOptions {
            max_failures: 5,
            max_client_failures: 30,
            window: Duration::from_secs(60),
            capacity: 10_000,
        }
    }
}

/// Logins for a (client, user) pair are paused; try again after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginBlocked {
    /// Time left until the window that holds the failures ends (the `Retry-After` header).
    pub retry_after: Duration,
}

/// Counts failed logins per (client address, user name) in fixed windows that start at the
/// first failure. After `max_failures` failures, [`LoginLimiter::check`] refuses until the
/// window ends; successful logins are not counted. Memory is bounded: pairs are kept in a
/// cache of `capacity` fixed-size entries (SHA-256 of the pair, a time and a count).
///
/// Call `check` before verifying a password, and `record_failure` when it was wrong.
pub struct LoginLimiter {
    options: LoginLimiterOptions,
    windows: Cache<[u8; 32], Window>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl LoginLimiter {
    /// A limiter with `options`.
    pub fn new(options: LoginLimiterOptions) -> LoginLimiter {
        LoginLimiter {
            windows: Cache::new(options.capacity.max(1)),
            options,
        }
    }

    /// How many (client, user) pairs are remembered; at most about `capacity`.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// Whether no pair is remembered.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// Whether `user` may try a password from `client` now.
    pub fn check(&self, client: IpAddr, user: &str) -> Result<(), LoginBlocked> {
        self.check_at(client, user, Instant::now())
    }

    /// Counts a wrong password for `user` from `client` now.
    pub fn record_failure(&self, client: IpAddr, user: &str) {
        self.record_failure_at(client, user, Instant::now())
    }

    /// [`LoginLimiter::check`] at the instant `now`.
    pub fn check_at(&self, client: IpAddr, user: &str, now: Instant) -> Result<(), LoginBlocked> {
        let pair = self.blocked(&pair_key(client, user), self.options.max_failures, now);
        let any = self.blocked(&client_key(client), self.options.max_client_failures, now);
        match (pair, any) {
            (Some(a), Some(b)) => Err(if a.retry_after >= b.retry_after { a } else { b }),
            (Some(blocked), None) | (None, Some(blocked)) => Err(blocked),
            (None, None) => Ok(()),
        }
    }

    /// [`LoginLimiter::record_failure`] at the instant `now`: counted for the pair and for the
    /// client.
    pub fn record_failure_at(&self, client: IpAddr, user: &str, now: Instant) {
        self.count(pair_key(client, user), now);
        self.count(client_key(client), now);
    }

    /// The pause of the window under `key`, when it holds `max` failures or more.
    fn blocked(&self, key: &[u8; 32], max: u32, now: Instant) -> Option<LoginBlocked> {
        let window = self.windows.get(key)?;
        let ends = window.started + self.options.window;
        (now < ends && window.failures >= max).then(|| LoginBlocked {
            retry_after: ends - now,
        })
    }

    /// One more failure in the window under `key`, or a new window if it ended.
    fn count(&self, key: [u8; 32], now: Instant) {
        let fresh = Window {
            started: now,
            failures: 1,
        };
        let length = self.options.window;
        let result = self.windows.entry(&key, None, |_, window| {
            if now >= window.started + length {
                *window = fresh;
            } else {
                window.failures = window.failures.saturating_add(1);
            }
            EntryAction::Retain(())
        });
        if let EntryResult::Vacant(guard) = result {
            let _ = guard.insert(fresh);
        }
    }
}

/// The client as counted: an IPv6 client as its /64 (one host usually holds the whole
/// prefix), an IPv4-mapped address as its IPv4 address.
fn hash_client(hasher: &mut Sha256, client: IpAddr) {
    match client.to_canonical() {
        IpAddr::V4(v4) => hasher.update(v4.octets()),
        IpAddr::V6(v6) => hasher.update(&v6.octets()[..8]),
    }
}

/// SHA-256 of the client and the user name: fixed-size keys whatever the name's length.
fn pair_key(client: IpAddr, user: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hash_client(&mut hasher, client);
    hasher.update([0]);
    hasher.update(user.as_bytes());
    hasher.finalize().into()
}

/// SHA-256 of the client alone, marked by 0xFF where a pair has 0: no pair's key can equal it.
fn client_key(client: IpAddr) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hash_client(&mut hasher, client);
    hasher.update([0xFF]);
    hasher.finalize().into()
}
