//! `berth scrub` and `berth usage`: like `berth gc`, they run through the server that owns the
//! data directory when one does (its admin endpoints), else directly on the stores, holding
//! the directory's lock meanwhile.

use std::path::PathBuf;

use anyhow::{bail, Context};
use berth_registry::scrub::{ScrubOptions, ScrubReport};
use berth_registry::{Registry, UsageReport};
use serde::de::DeserializeOwned;

use crate::backends::describe_stores;
use crate::cli::{RegistryArgs, ScrubArgs, UsageArgs};
use crate::credentials::Credentials;
use crate::gc::{serving, Server};
use crate::lock::{DataDirLock, LockError, Owner};
use crate::serve::{init_logging, open_registry};
use crate::settings::{GcSettings, Settings};

/// Where a command reached the registry.
enum Reached {
    /// The stores themselves; the directory's lock is held while this lives.
    Direct {
        registry: Registry,
        _lock: DataDirLock,
    },
    /// The server that owns the directory.
    Server { server: Server, data_dir: PathBuf },
}

/// Runs the scrub and prints its report; the exit status says what it found (see
/// `scrub_exit_code`).
pub fn scrub(args: &ScrubArgs) -> anyhow::Result<std::process::ExitCode> {
    let options = ScrubOptions {
        repair: args.repair,
        rate_mib_per_second: args.rate,
        restart: args.restart,
        max_blobs: args.max_blobs,
    };
    let mut query = vec![
        ("repair", args.repair.to_string()),
        ("restart", args.restart.to_string()),
    ];
    if let Some(rate) = args.rate {
        query.push(("rate", rate.to_string()));
    }
    if let Some(max) = args.max_blobs {
        query.push(("max_blobs", max.to_string()));
    }
    let report: ScrubReport = run(
        &args.registry,
        "scrub",
        |registry| async move { Ok(registry.scrub(&options).await?) },
        reqwest::Method::POST,
        "/berth/v1/scrub",
        &query,
    )?;
    if args.registry.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", scrub_text(&report));
    }
    let code = scrub_exit_code(&report);
    if code != 0 {
        eprintln!("berth scrub: {}", scrub_summary(&report));
    }
    Ok(std::process::ExitCode::from(code))
}

/// `berth scrub`'s exit status, for a timer to alert on: 0 nothing is wrong; 1 damage that
/// is not contained yet (a blob not quarantined, or a manifest damaged in itself: run
/// `--repair`, or look at the manifest); 2 every damaged blob is quarantined (by this run or
/// an earlier one) and no manifest is damaged in itself: content awaits a re-push. An error
/// also exits 1.
fn scrub_exit_code(report: &ScrubReport) -> u8 {
    if report.is_clean() {
        0
    } else if report.is_contained() {
        2
    } else {
        1
    }
}

/// One line: what is damaged, what is only affected, what is known from earlier.
fn scrub_summary(report: &ScrubReport) -> String {
    let damaged = report
        .manifests
        .iter()
        .filter(|m| m.problem.is_own_damage())
        .count();
    let affected: usize = report.affected.iter().map(|a| a.manifests.len()).sum();
    let earlier = match report.quarantined_earlier.len() {
        0 => String::new(),
        n => format!(" ({n} quarantined earlier, awaiting a re-push)"),
    };
    format!(
        "{} damaged blobs{earlier}, {damaged} damaged manifests, {affected} manifests affected",
        report.blobs.len(),
    )
}

pub fn usage(args: &UsageArgs) -> anyhow::Result<()> {
    let report: UsageReport = run(
        &args.registry,
        "usage",
        |registry| async move { Ok(registry.usage().await?) },
        reqwest::Method::GET,
        "/berth/v1/usage",
        &[],
    )?;
    if args.registry.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", usage_table(&report));
    }
    Ok(())
}

/// Runs `direct` on the stores, or asks the owning server with `method` on `path`.
fn run<T, F, Fut>(
    args: &RegistryArgs,
    command: &'static str,
    direct: F,
    method: reqwest::Method,
    path: &str,
    query: &[(&str, String)],
) -> anyhow::Result<T>
where
    T: DeserializeOwned,
    F: FnOnce(Registry) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let gc_args = args.as_gc_args();
    let loaded = Settings::load_for_gc(&gc_args)?;
    let credentials = Credentials::from_args(&gc_args)?;
    init_logging(&loaded.settings.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        match reach(command, &loaded, credentials).await? {
            Reached::Direct { registry, _lock } => {
                let settings = &loaded.settings;
                match describe_stores(&settings.storage, &settings.metadata, &settings.data_dir) {
                    Some(stores) => eprintln!(
                        "berth {command}: directly on {stores} (no server owns the data directory)"
                    ),
                    None => eprintln!(
                        "berth {command}: directly on the data directory (no server owns it)"
                    ),
                }
                direct(registry).await
            }
            Reached::Server { server, data_dir } => {
                let (base, client) = serving(&server, &data_dir, command).await?;
                eprintln!("berth {command}: through the server at {}", server.address);
                let response = server
                    .authorized(client.request(method, format!("{base}{path}")))
                    .query(query)
                    .send()
                    .await
                    .with_context(|| format!("asking the server at {}", server.address))?;
                if let Some(refusal) = server.refusal(response.status()) {
                    bail!("{refusal}");
                }
                if !response.status().is_success() {
                    let code = response.status();
                    let body = response.text().await.unwrap_or_default();
                    bail!("the server at {} refused: {code} {body}", server.address);
                }
                response.json().await.with_context(|| {
                    format!("reading the report of the server at {}", server.address)
                })
            }
        }
    })
}

/// The stores under the directory's lock, or the server that holds it.
async fn reach(
    command: &'static str,
    loaded: &GcSettings,
    credentials: Option<Credentials>,
) -> anyhow::Result<Reached> {
    let given = &loaded.settings.data_dir;
    if !given.is_dir() {
        bail!(
            "there is no data directory at {}; name the one `berth serve` uses with --data-dir \
             (or data_dir in --config)",
            given.display()
        );
    }
    let data_dir = given
        .canonicalize()
        .with_context(|| format!("resolving data directory {}", given.display()))?;
    match DataDirLock::acquire(&data_dir, &Owner::this_process(command)) {
        Ok(lock) => Ok(Reached::Direct {
            registry: open_registry(&loaded.settings).await?,
            _lock: lock,
        }),
        Err(LockError::Held { owner, .. }) => {
            let address = match (loaded.listen, owner.as_ref().and_then(|o| o.listen)) {
                (Some(given), _) => given,
                (None, Some(announced)) => announced,
                (None, None) => bail!(
                    "refusing to run directly: {} is in use by {}; try again once it serves \
                     HTTP or has finished",
                    data_dir.display(),
                    owner.map_or("a process that is starting".to_owned(), |o| o.to_string())
                ),
            };
            let tls_cert = owner.as_ref().and_then(|o| o.tls_cert.clone());
            let server = Server {
                address,
                owner: owner.map_or("a server".to_owned(), |o| o.to_string()),
                tls_cert,
                credentials,
            };
            Ok(Reached::Server { server, data_dir })
        }
        Err(e) => Err(e.into()),
    }
}

/// The scrub's report for a terminal: a summary, then one line per finding.
fn scrub_text(report: &ScrubReport) -> String {
    let mut out = format!(
        "checked {} blobs ({} bytes) and {} manifests{}{}; {} ms\n",
        report.blobs_checked,
        report.bytes_checked,
        report.manifests_checked,
        match &report.resumed_after {
            Some(after) => format!(", continuing after {after}"),
            None => String::new(),
        },
        if report.complete {
            ""
        } else {
            " (stopped at --max-blobs: run again to continue)"
        },
        report.duration_ms
    );
    for blob in &report.blobs {
        let state = if report.was_quarantined_earlier(&blob.digest) {
            " [quarantined by an earlier scrub: push it again]"
        } else {
            match (blob.quarantined, blob.bytes_deleted) {
                (true, true) => " [quarantined now, bytes deleted: push it again]",
                (true, false) => " [quarantined now: push it again]",
                _ => " [not quarantined: run with --repair]",
            }
        };
        out += &format!(
            "blob {} ({} bytes): {}{state}\n",
            blob.digest, blob.size, blob.problem
        );
    }
    // A manifest that only references a damaged blob is whole itself: affected, not damaged.
    for manifest in &report.manifests {
        let kind = if manifest.problem.is_own_damage() {
            "damaged"
        } else {
            "affected"
        };
        out += &format!(
            "{kind} manifest {}@{}: {}\n",
            manifest.repository, manifest.digest, manifest.problem
        );
    }
    for affected in &report.affected {
        out += &format!(
            "affected in {}: tags [{}], {} manifests, referrers [{}]\n",
            affected.repository,
            affected.tags.join(", "),
            affected.manifests.len(),
            affected.referrers.join(", ")
        );
    }
    for orphan in &report.orphaned_referrers {
        out += &format!(
            "info: referrer {}@{} has no subject {} in the repository\n",
            orphan.repository, orphan.referrer, orphan.subject
        );
    }
    if !report.is_clean() {
        out += &format!("{}\n", scrub_summary(report));
    }
    out
}

/// The usage report as an aligned table.
fn usage_table(report: &UsageReport) -> String {
    let header = [
        "REPOSITORY",
        "SIZE",
        "OWN",
        "SHARED",
        "BLOBS",
        "MANIFESTS",
        "TAGS",
    ];
    let rows: Vec<[String; 7]> = report
        .repositories
        .iter()
        .map(|r| {
            [
                r.repository.clone(),
                r.size.to_string(),
                r.own_bytes.to_string(),
                r.shared_bytes.to_string(),
                r.blobs.to_string(),
                r.manifests.to_string(),
                r.tags.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if i == 0 {
                text += &format!("{cell:<width$}");
            } else {
                text += &format!("  {cell:>width$}");
            }
        }
        text + "\n"
    };
    let mut out = line(header.to_vec());
    for row in &rows {
        out += &line(row.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_registry::RepositoryUsageRow;

    #[test]
    fn the_usage_table_aligns_its_columns() {
        let row = |name: &str, size, own| RepositoryUsageRow {
            repository: name.into(),
            size,
            blobs: 2,
            blob_bytes: size,
            own_bytes: own,
            shared_bytes: size - own,
            manifests: 1,
            manifest_bytes: 0,
            tags: 3,
        };
        let table = usage_table(&UsageReport {
            repositories: vec![row("a", 1030, 30), row("team/longer-name", 5, 5)],
        });
        assert_eq!(
            table,
            "REPOSITORY        SIZE  OWN  SHARED  BLOBS  MANIFESTS  TAGS\n\
             a                 1030   30    1000      2          1     3\n\
             team/longer-name     5    5       0      2          1     3\n"
        );
    }
}
