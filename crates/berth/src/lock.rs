//! One process owns a data directory at a time. `berth serve`, and a `berth gc` that collects
//! directly, hold an exclusive advisory lock (`flock`) on `DIR/berth.lock` for as long as they
//! run; the OS releases it when the process ends, `kill -9` included, so a lock is never left
//! behind. The file also names its owner (pid, command, listen address), so that a refused
//! process can say who holds the directory and `berth gc` can find the server to ask.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "berth.lock";

/// Who holds a data directory, as its lock file says (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// The owning process's id.
    pub pid: u32,
    /// `serve`, or `gc` for a collection run directly on the directory.
    pub command: String,
    /// Where a serving owner answers HTTP, once it is listening.
    pub listen: Option<SocketAddr>,
    /// The certificate file of a serving owner that serves HTTPS (an absolute path): `berth
    /// gc` trusts exactly the certificate in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
}

impl Owner {
    /// This process, running `command`, not listening (yet).
    pub fn this_process(command: &str) -> Owner {
        Owner {
            pid: std::process::id(),
            command: command.to_owned(),
            listen: None,
            tls_cert: None,
        }
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`berth {}` (pid {})", self.command, self.pid)?;
        match (self.listen, &self.tls_cert) {
            (Some(address), None) => write!(f, " listening on {address}"),
            (Some(address), Some(_)) => write!(f, " listening on {address} (HTTPS)"),
            (None, _) => Ok(()),
        }
    }
}

/// The exclusive lock on a data directory, held until dropped (or the process ends).
///
/// Two OS locks are held: one on the directory itself, which cannot be deleted from under a
/// live owner the way a file can (removing `berth.lock` by hand must not let a second server
/// in), and one on `berth.lock`, which names the owner for the refusal message.
#[derive(Debug)]
pub struct DataDirLock {
    _dir: File,
    file: File,
    path: PathBuf,
}

/// Why a data directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another live process holds it; `None` when it has not written its name yet.
    #[error("{} is in use by {}", .dir.display(), describe(.owner))]
    Held { dir: PathBuf, owner: Option<Owner> },
    /// The lock file could not be opened, locked or written.
    #[error("locking {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
}

fn describe(owner: &Option<Owner>) -> String {
    match owner {
        Some(owner) => owner.to_string(),
        None => "another process that is still starting".to_owned(),
    }
}

impl DataDirLock {
    /// Takes the lock on `dir` (which must exist) for `owner`, without waiting: fails with
    /// `LockError::Held` naming the process that has it.
    pub fn acquire(dir: &Path, owner: &Owner) -> Result<DataDirLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let io_error = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let directory = File::open(dir).map_err(|source| LockError::Io {
            path: dir.to_owned(),
            source,
        })?;
        match fs4::FileExt::try_lock(&directory) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                let owner = File::open(&path).ok().and_then(|f| read_owner(&f));
                return Err(LockError::Held {
                    dir: dir.to_owned(),
                    owner,
                });
            }
            Err(fs4::TryLockError::Error(e)) => return Err(io_error(e)),
        }
        // Opened without truncating: the holder's name must survive a refused attempt.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_error)?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    dir: dir.to_owned(),
                    owner: read_owner(&file),
                })
            }
            Err(fs4::TryLockError::Error(e)) => return Err(io_error(e)),
        }
        let mut lock = DataDirLock {
            _dir: directory,
            file,
            path: path.clone(),
        };
        lock.announce(owner).map_err(io_error)?;
        Ok(lock)
    }

    /// Rewrites the owner the lock file names, e.g. once the server listens.
    pub fn announce(&mut self, owner: &Owner) -> io::Result<()> {
        let text = serde_json::to_vec(owner).map_err(io::Error::other)?;
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(&text)?;
        self.file.sync_data()
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DataDirLock {
    /// Clears the owner's name before the lock goes with the file; the file itself stays, so
    /// that every process locks the same one.
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
    }
}

/// The owner a held lock file names, when it can be read.
fn read_owner(mut file: &File) -> Option<Owner> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_with_the_owner_until_the_first_goes() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = DataDirLock::acquire(dir.path(), &Owner::this_process("serve")).unwrap();
        let listening = Owner {
            listen: Some("127.0.0.1:5123".parse().unwrap()),
            ..Owner::this_process("serve")
        };
        first.announce(&listening).unwrap();
        match DataDirLock::acquire(dir.path(), &Owner::this_process("gc")) {
            Err(LockError::Held { owner, .. }) => assert_eq!(owner, Some(listening.clone())),
            other => panic!("expected Held, got {other:?}"),
        }
        let message = DataDirLock::acquire(dir.path(), &Owner::this_process("gc"))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("is in use by `berth serve` (pid")
                && message.contains("listening on 127.0.0.1:5123"),
            "{message}"
        );
        drop(first);
        let second = DataDirLock::acquire(dir.path(), &Owner::this_process("gc")).unwrap();
        assert_eq!(
            read_owner(&File::open(second.path()).unwrap()),
            Some(Owner::this_process("gc"))
        );
    }

    #[test]
    fn deleting_the_lock_file_does_not_free_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path(), &Owner::this_process("serve")).unwrap();
        std::fs::remove_file(first.path()).unwrap();
        assert!(matches!(
            DataDirLock::acquire(dir.path(), &Owner::this_process("serve")),
            Err(LockError::Held { .. })
        ));
        drop(first);
        DataDirLock::acquire(dir.path(), &Owner::this_process("serve")).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent");
        assert!(matches!(
            DataDirLock::acquire(&missing, &Owner::this_process("gc")),
            Err(LockError::Io { .. })
        ));
    }
}
