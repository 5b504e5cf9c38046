//! Password checks against the htpasswd file: reloading it when it changes, caching results.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::{AuthError, Groups, Identity, UserFile};

/// Tuning of [`Users`].
#[derive(Debug, Clone)]
pub struct UsersOptions {
    /// How long a verified user/password pair is trusted without bcrypt. Default 60 s.
    pub cache_ttl: Duration,
    /// Most verified pairs remembered; the cache evicts beyond it. Default 1024.
    pub cache_capacity: usize,
    /// Least time between two looks at the file's modification time and size. Default 1 s.
    pub reload_interval: Duration,
}

impl Default for UsersOptions {
    fn default() -> UsersOptions {
        UsersOptions {
            cache_ttl: Duration::from_secs(60),
            cache_capacity: 1024,
            reload_interval: Duration::from_secs(1),
        }
    }
}

/// The users of an htpasswd file, checked by password.
///
/// The file is looked at again (modification time, size, inode) at most once per
/// `reload_interval`, on use; when it changed it is parsed anew and replaces the table only if
/// it is valid, otherwise the previous table stays and the reason is logged. Verified pairs are
/// cached for `cache_ttl`, keyed by SHA-256 of `user \0 password` (never the password itself);
/// a reload empties the cache. An unknown user still costs one bcrypt verification against a
/// dummy hash of the file's typical cost, so timing does not tell which users exist.
///
/// `verify` runs bcrypt on the calling thread (tens of milliseconds at cost 10): call it from
/// a blocking-capable thread (`tokio::task::spawn_blocking`).
pub struct Users {
    path: PathBuf,
    groups: Groups,
    options: UsersOptions,
    table: RwLock<Arc<Table>>,
    reload: Mutex<ReloadState>,
    cache: quick_cache::sync::Cache<[u8; 32], Cached>,
    #[cfg(test)]
    pub(crate) bcrypt_calls: std::sync::atomic::AtomicUsize,
}

/// One generation of the file's content.
struct Table {
    file: UserFile,
    /// A bcrypt hash of a random password at the file's typical cost, for unknown users.
    dummy_hash: String,
    /// Increases with every reload; cache entries of older generations are ignored.
    generation: u64,
}

struct ReloadState {
    checked_at: Instant,
    /// What the file looked like when last read, whether or not that content was valid.
    seen: Option<FileStamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

#[derive(Clone)]
struct Cached {
    /// Shared, so that a cache hit (which clones the entry) allocates nothing.
    user: Arc<str>,
    verified_at: Instant,
    generation: u64,
}

impl Users {
    /// Loads the htpasswd file at `path`; `groups` supplies the groups of the identities that
    /// [`Users::verify`] returns.
    ///
    /// Errors: whatever [`UserFile::load`] refuses; at start-up an invalid file is fatal.
    pub fn open(
        path: impl Into<PathBuf>,
        groups: Groups,
        options: UsersOptions,
    ) -> Result<Users, AuthError> {
        let path = path.into();
        let seen = stamp(&path).ok();
        let file = UserFile::load(&path)?;
        let table = Table::new(file, 0)?;
        Ok(Users {
            cache: quick_cache::sync::Cache::new(options.cache_capacity.max(1)),
            path,
            groups,
            options,
            table: RwLock::new(Arc::new(table)),
            reload: Mutex::new(ReloadState {
                checked_at: Instant::now(),
                seen,
            }),
            #[cfg(test)]
            bcrypt_calls: Default::default(),
        })
    }

    /// The identity of `user` when `password` is theirs, else `None`.
    pub fn verify(&self, user: &str, password: &str) -> Option<Identity> {
        self.reload_if_changed();
        let table = self.current();
        let key = cache_key(user, password);
        if self.cached(&table, &key, user) {
            return Some(self.groups.identity(user));
        }
        let verified = match table.file.hash_of(user) {
            Some(hash) => self.bcrypt_verify(password, hash),
            None => {
                self.bcrypt_verify(password, &table.dummy_hash);
                false
            }
        };
        if !verified {
            return None;
        }
        let cached = Cached {
            user: Arc::from(user),
            verified_at: Instant::now(),
            generation: table.generation,
        };
        self.cache.insert(key, cached);
        Some(self.groups.identity(user))
    }

    /// The identity of `user` when this pair was verified within `cache_ttl` (and the file
    /// has not changed since), else `None`: then [`Users::verify`] must decide. No bcrypt
    /// runs, so this may be called on an async thread, sparing the hand-off to a blocking
    /// thread that would otherwise cost more than serving a cached manifest.
    pub fn verify_cached(&self, user: &str, password: &str) -> Option<Identity> {
        self.reload_if_changed();
        let table = self.current();
        self.cached(&table, &cache_key(user, password), user)
            .then(|| self.groups.identity(user))
    }

    /// Whether `key` (of `user` and a password) holds a fresh verification of this table's
    /// generation; a stale entry is dropped.
    fn cached(&self, table: &Table, key: &[u8; 32], user: &str) -> bool {
        if let Some(hit) = self.cache.get(key) {
            let fresh = hit.verified_at.elapsed() < self.options.cache_ttl;
            if fresh && hit.generation == table.generation && *hit.user == *user {
                return true;
            }
            self.cache.remove(key);
        }
        false
    }

    /// The identity of `user` if the file (reloaded if it changed) still lists them; for
    /// grants that rest on an earlier login, such as a refresh token.
    pub fn identity(&self, user: &str) -> Option<Identity> {
        self.reload_if_changed();
        self.current()
            .file
            .contains(user)
            .then(|| self.groups.identity(user))
    }

    /// A stamp of `user`'s current password entry (22 characters of base64url, SHA-256 of the
    /// stored bcrypt hash): what a refresh token is bound to, so that a new password, or a
    /// user removed and added again, revokes every refresh token issued before. `None` when
    /// the file (reloaded if it changed) does not list `user`. The stamp says nothing usable
    /// about the password: it is a digest of a salted, slow hash.
    pub fn credential_stamp(&self, user: &str) -> Option<String> {
        self.reload_if_changed();
        let table = self.current();
        let hash = table.file.hash_of(user)?;
        let digest = Sha256::digest(hash.as_bytes());
        Some(URL_SAFE_NO_PAD.encode(&digest[..16]))
    }

    /// The file these users come from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many users the current table holds.
    pub fn len(&self) -> usize {
        self.current().file.len()
    }

    /// Whether the current table holds no user.
    pub fn is_empty(&self) -> bool {
        self.current().file.is_empty()
    }

    fn current(&self) -> Arc<Table> {
        Arc::clone(&self.table.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn bcrypt_verify(&self, password: &str, hash: &str) -> bool {
        #[cfg(test)]
        self.bcrypt_calls
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        bcrypt::verify(password, hash).unwrap_or(false)
    }

    /// Re-reads the file when `reload_interval` has passed and its stamp changed. A thread
    /// that finds another one reloading goes on with the current table.
    fn reload_if_changed(&self) {
        let Ok(mut state) = self.reload.try_lock() else {
            return;
        };
        if state.checked_at.elapsed() < self.options.reload_interval {
            return;
        }
        state.checked_at = Instant::now();
        let now_seen = match stamp(&self.path) {
            Ok(stamp) => stamp,
            Err(error) => {
                if state.seen.take().is_some() {
                    tracing::warn!(path = %self.path.display(), %error,
                        "htpasswd file unreadable; keeping the previous users");
                }
                return;
            }
        };
        if state.seen == Some(now_seen) {
            return;
        }
        state.seen = Some(now_seen);
        let generation = self.current().generation + 1;
        match UserFile::load(&self.path).and_then(|file| Table::new(file, generation)) {
            Ok(table) => {
                let users = table.file.len();
                *self.table.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(table);
                self.cache.clear();
                tracing::info!(path = %self.path.display(), users, "htpasswd file reloaded");
            }
            Err(error) => {
                tracing::warn!(path = %self.path.display(), %error,
                    "htpasswd file changed but is invalid; keeping the previous users");
            }
        }
    }
}

impl Table {
    fn new(file: UserFile, generation: u64) -> Result<Table, AuthError> {
        let dummy_password = uuid::Uuid::new_v4().to_string();
        let dummy_hash = bcrypt::hash(dummy_password, file.typical_cost())
            .map_err(|e| AuthError::Config(format!("cannot make the dummy hash: {e}")))?;
        Ok(Table {
            file,
            dummy_hash,
            generation,
        })
    }
}

/// SHA-256 of `user \0 password`: the cache never holds a password.
fn cache_key(user: &str, password: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(user.as_bytes());
    hasher.update([0]);
    hasher.update(password.as_bytes());
    hasher.finalize().into()
}

fn stamp(path: &Path) -> std::io::Result<FileStamp> {
    let meta = std::fs::metadata(path)?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Ok(FileStamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode,
    })
}

#[cfg(test)]
#[path = "users_tests.rs"]
mod tests;
