//! `berth migrate`: copies a registry on the embedded default (files and SQLite under a data
//! directory) into the backends a target config file names, typically an S3 bucket and a
//! PostgreSQL database, so that a team that outgrows one machine keeps its history.
//!
//! What is copied, repository by repository: every linked blob (verified against its digest
//! while it streams, before it becomes visible in the target), every manifest byte-exact with
//! the edges the registry derives from it (index children, subjects, artifact types), and
//! every tag. Upload sessions in progress are not: their clients start them again.
//!
//! Restartable: blobs the target already has are linked without being copied again, and every
//! metadata write is idempotent, so a run interrupted at any point (`kill -9` included) is
//! finished by running the same command again, which converges on the same final state.
//!
//! The source directory's lock is held for the whole run, so that no server writes the
//! registry while it is copied; a running server makes migrate refuse, naming it.

mod copy;
mod order;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use berth_blobstore::BlobStore;
use berth_metadata::MetadataStore;
use std::sync::Arc;

use crate::backends::{MetadataSettings, StorageSettings};
use crate::cli::{MigrateArgs, ServeArgs};
use crate::lock::{DataDirLock, Owner};
use crate::serve::init_logging;
use crate::settings::Settings;

pub use copy::Summary;
pub use order::dependency_order;

/// Runs `berth migrate`: progress on stderr, the summary on stdout.
///
/// Errors: the source is not an embedded registry or is in use, the target is the source, a
/// backend cannot be opened, or a copy fails (a blob whose bytes do not match its digest is
/// named; nothing of it is left visible in the target).
pub fn run(args: &MigrateArgs) -> anyhow::Result<()> {
    let target = Settings::load(&ServeArgs {
        config: Some(args.config.clone()),
        ..ServeArgs::default()
    })?;
    init_logging(args.log.as_deref().unwrap_or("warn"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let summary = runtime.block_on(migrate(&args.from_data_dir, &target))?;
    println!("{summary}");
    Ok(())
}

/// Copies the embedded registry in `source_dir` into `target`'s backends.
async fn migrate(source_dir: &Path, target: &Settings) -> anyhow::Result<Summary> {
    let source_dir = embedded_registry(source_dir)?;
    let target_dir = local_target_dir(target)?;
    if target_dir.as_deref() == Some(source_dir.as_path()) {
        bail!(
            "refusing to migrate {} into itself: the target config keeps blobs or metadata in the \
             same data directory; name other backends ([storage] backend = \"s3\", [metadata] \
             backend = \"postgres\") or another data_dir",
            source_dir.display()
        );
    }
    let owner = Owner::this_process("migrate");
    let _source_lock = DataDirLock::acquire(&source_dir, &owner).map_err(|e| {
        anyhow::anyhow!("refusing to migrate: {e}; stop it and run `berth migrate` again")
    })?;
    let _target_lock = match &target_dir {
        Some(dir) => Some(
            DataDirLock::acquire(dir, &owner)
                .map_err(|e| anyhow::anyhow!("refusing to migrate into {}: {e}", dir.display()))?,
        ),
        None => None,
    };
    let source = Stores {
        blobs: StorageSettings::default().open(&source_dir).await?,
        meta: MetadataSettings::default().open(&source_dir).await?,
    };
    let target_at = target_dir.unwrap_or_else(|| target.data_dir.clone());
    let target = Stores {
        blobs: target
            .storage
            .open(&target_at)
            .await
            .context("opening the target's blob storage")?,
        meta: target
            .metadata
            .open(&target_at)
            .await
            .context("opening the target's metadata")?,
    };
    eprintln!(
        "berth migrate: copying {} into the target's backends",
        source_dir.display()
    );
    copy::Copier::new(source, target).run().await
}

/// A blob store and a metadata store: one side of the migration.
pub struct Stores {
    pub blobs: Arc<dyn BlobStore>,
    pub meta: Arc<dyn MetadataStore>,
}

/// The canonical path of `dir` when it holds an embedded registry (`metadata.db`); an error
/// naming what is missing otherwise, so that a wrong path never opens an empty registry.
fn embedded_registry(dir: &Path) -> anyhow::Result<PathBuf> {
    if !dir.is_dir() {
        bail!(
            "there is no data directory at {}; name the one `berth serve` used with \
             --from-data-dir",
            dir.display()
        );
    }
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolving data directory {}", dir.display()))?;
    if !dir.join("metadata.db").is_file() {
        bail!(
            "{} holds no embedded registry (no metadata.db): nothing to migrate",
            dir.display()
        );
    }
    Ok(dir)
}

/// The target's data directory (created, canonical) when one of its backends keeps files
/// there, else `None`: an S3 + PostgreSQL target has no local state to protect.
fn local_target_dir(target: &Settings) -> anyhow::Result<Option<PathBuf>> {
    let local = matches!(target.storage, StorageSettings::Filesystem {})
        || matches!(target.metadata, MetadataSettings::Sqlite {});
    if !local {
        return Ok(None);
    }
    let dir = &target.data_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating target data directory {}", dir.display()))?;
    Ok(Some(dir.canonicalize().with_context(|| {
        format!("resolving target data directory {}", dir.display())
    })?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Settings {
        Settings::from_toml(text).unwrap()
    }

    #[test]
    fn a_scale_out_target_has_no_local_directory() {
        let target = settings(
            "[storage]\nbackend = \"s3\"\nbucket = \"b\"\n\
             [metadata]\nbackend = \"postgres\"\nurl = \"postgres://x/y\"\n",
        );
        assert_eq!(local_target_dir(&target).unwrap(), None);
    }

    #[tokio::test]
    async fn migrating_a_directory_into_itself_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("metadata.db"), b"").unwrap();
        let target = settings(&format!("data_dir = {:?}\n", dir.path()));
        let message = migrate(dir.path(), &target).await.unwrap_err().to_string();
        assert!(message.contains("into itself"), "{message}");
        // Half local (S3 blobs, SQLite metadata in the same directory) is the same place too.
        let target = settings(&format!(
            "data_dir = {:?}\n[storage]\nbackend = \"s3\"\nbucket = \"b\"\n",
            dir.path()
        ));
        let message = migrate(dir.path(), &target).await.unwrap_err().to_string();
        assert!(message.contains("into itself"), "{message}");
    }

    #[tokio::test]
    async fn a_directory_without_a_registry_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = settings("[storage]\nbackend = \"s3\"\nbucket = \"b\"\n");
        let message = migrate(dir.path(), &target).await.unwrap_err().to_string();
        assert!(message.contains("no metadata.db"), "{message}");
        let message = migrate(&dir.path().join("absent"), &target)
            .await
            .unwrap_err()
            .to_string();
        assert!(message.contains("there is no data directory"), "{message}");
    }

    #[tokio::test]
    async fn a_directory_a_server_holds_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("metadata.db"), b"").unwrap();
        let _server = DataDirLock::acquire(dir.path(), &Owner::this_process("serve")).unwrap();
        let target = settings(
            "[storage]\nbackend = \"s3\"\nbucket = \"b\"\n\
             [metadata]\nbackend = \"postgres\"\nurl = \"postgres://x/y\"\n",
        );
        let message = migrate(dir.path(), &target).await.unwrap_err().to_string();
        assert!(
            message.contains("refusing to migrate") && message.contains("`berth serve` (pid"),
            "{message}"
        );
    }
}
