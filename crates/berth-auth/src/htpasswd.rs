//! The htpasswd file: `user:bcrypt-hash` lines, parsed and checked as a whole.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::AuthError;

/// The parsed content of an htpasswd file: user names and their bcrypt hashes.
///
/// Lines are `user:hash`; blank lines and lines starting with `#` are skipped, surrounding
/// whitespace and a trailing `\r` are ignored. Only bcrypt hashes (`$2a$`, `$2b$`, `$2y$`) are
/// accepted; MD5 (`$apr1$`, `$1$`), SHA-1 (`{SHA}`), SHA-crypt, DES crypt and plain-text
/// entries are refused, so a weak hash can never be verified by mistake.
#[derive(Debug, Clone)]
pub struct UserFile {
    path: PathBuf,
    hashes: HashMap<String, String>,
}

impl UserFile {
    /// Reads and parses the file at `path`.
    ///
    /// Errors: [`AuthError::Io`] when it cannot be read, [`AuthError::HtpasswdMalformed`] for a
    /// line that is not `user:hash`, a repeated user or a damaged bcrypt hash, and
    /// [`AuthError::HtpasswdUnsupportedHash`] naming the file, line, user and hash kind for any
    /// hash that is not bcrypt.
    pub fn load(path: &Path) -> Result<UserFile, AuthError> {
        let bytes = std::fs::read(path).map_err(|e| AuthError::io(path, e))?;
        UserFile::parse(path, &bytes)
    }

    /// Parses `bytes` as the content of `path` (which only names the file in errors).
    /// Never panics, whatever the input.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<UserFile, AuthError> {
        let mut hashes = HashMap::new();
        let mut first_line: HashMap<String, usize> = HashMap::new();
        for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let line = index + 1;
            let malformed = |problem: String| AuthError::HtpasswdMalformed {
                path: path.to_owned(),
                line,
                problem,
            };
            let text = std::str::from_utf8(raw)
                .map_err(|_| malformed("the line is not UTF-8".into()))?
                .trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let (user, hash) = text
                .split_once(':')
                .ok_or_else(|| malformed("expected user:hash".into()))?;
            if user.is_empty() {
                return Err(malformed("the user name is empty".into()));
            }
            if let Some(kind) = refused_kind(hash) {
                return Err(AuthError::HtpasswdUnsupportedHash {
                    path: path.to_owned(),
                    line,
                    user: user.to_owned(),
                    kind,
                });
            }
            if !is_usable_bcrypt(hash) {
                return Err(malformed(format!(
                    "user {user:?} has a damaged bcrypt hash"
                )));
            }
            if let Some(first) = first_line.insert(user.to_owned(), line) {
                return Err(malformed(format!(
                    "user {user:?} appears again (first on line {first})"
                )));
            }
            hashes.insert(user.to_owned(), hash.to_owned());
        }
        Ok(UserFile {
            path: path.to_owned(),
            hashes,
        })
    }

    /// The file this table was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The bcrypt hash of `user`, if the file lists them.
    pub fn hash_of(&self, user: &str) -> Option<&str> {
        self.hashes.get(user).map(String::as_str)
    }

    /// Whether the file lists `user`.
    pub fn contains(&self, user: &str) -> bool {
        self.hashes.contains_key(user)
    }

    /// How many users the file lists.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether the file lists no user.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The bcrypt cost most entries use (the higher on a tie; 10 for an empty file), so that
    /// checking a password of an unknown user costs what checking a real one does.
    pub(crate) fn typical_cost(&self) -> u32 {
        let mut counts: HashMap<u32, usize> = HashMap::new();
        for hash in self.hashes.values() {
            if let Ok(parts) = hash.parse::<bcrypt::HashParts>() {
                *counts.entry(parts.get_cost()).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .max_by_key(|&(cost, count)| (count, cost))
            .map_or(10, |(cost, _)| cost)
    }
}

/// The bcrypt prefixes whose hashes `bcrypt::verify` checks correctly.
const BCRYPT_PREFIXES: [&str; 3] = ["$2a$", "$2b$", "$2y$"];

/// Bcrypt costs the `bcrypt` crate accepts.
const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=31;

/// What kind of refused hash `hash` is, or `None` for a bcrypt hash.
fn refused_kind(hash: &str) -> Option<&'static str> {
    if BCRYPT_PREFIXES.iter().any(|p| hash.starts_with(p)) {
        return None;
    }
    let prefixes: [(&str, &'static str); 8] = [
        ("$2x$", "pre-2011 bcrypt ($2x$)"),
        ("$apr1$", "MD5 ($apr1$)"),
        ("$1$", "MD5-crypt ($1$)"),
        ("$5$", "SHA-256-crypt ($5$)"),
        ("$6$", "SHA-512-crypt ($6$)"),
        ("$argon2", "Argon2"),
        ("{SHA}", "SHA-1 ({SHA})"),
        ("$", "unknown ($...$)"),
    ];
    if let Some((_, kind)) = prefixes.iter().find(|(p, _)| hash.starts_with(p)) {
        return Some(kind);
    }
    let is_des_crypt = hash.len() == 13
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/');
    Some(if is_des_crypt {
        "DES crypt"
    } else {
        "plain-text"
    })
}

/// Whether `hash` is a well-formed bcrypt hash with a cost `bcrypt::verify` accepts.
fn is_usable_bcrypt(hash: &str) -> bool {
    hash.parse::<bcrypt::HashParts>()
        .is_ok_and(|parts| BCRYPT_COSTS.contains(&parts.get_cost()))
}
