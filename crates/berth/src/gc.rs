//! `berth gc`: one collection of one data directory. When a server owns the directory (holds
//! its lock), the collection runs through that server, so that its locks and caches stay in
//! charge; otherwise it runs directly on the directory, holding the lock meanwhile so that no
//! server starts on it.
//!
//! It never acts on a server that serves another directory: the server's status names the
//! directory it owns, and `berth gc` checks it before asking for anything.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use berth_http::ServerStatus;
use berth_registry::gc::{GcOptions, GcReport};

use crate::backends::describe_stores;
use crate::cli::GcArgs;
use crate::credentials::Credentials;
use crate::lock::{DataDirLock, LockError, Owner};
use crate::serve::{init_logging, open_registry};
use crate::settings::{GcSettings, Settings};

/// Where a collection ran.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// Through the server at this address, which owns the directory.
    Server {
        address: SocketAddr,
        data_dir: PathBuf,
    },
    /// Directly on the directory, which no server owned, and on the stores the settings name
    /// beyond it ([`describe_stores`]).
    Direct {
        data_dir: PathBuf,
        stores: Option<String>,
    },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Server { address, data_dir } => write!(
                f,
                "through the server at {address}, which serves {}",
                data_dir.display()
            ),
            Target::Direct {
                data_dir,
                stores: None,
            } => write!(f, "directly on {} (no server owns it)", data_dir.display()),
            Target::Direct {
                data_dir,
                stores: Some(stores),
            } => write!(
                f,
                "directly on {stores} (no server owns {})",
                data_dir.display()
            ),
        }
    }
}

pub fn run(args: &GcArgs) -> anyhow::Result<()> {
    let loaded = Settings::load_for_gc(args)?;
    let credentials = Credentials::from_args(args)?;
    init_logging(&loaded.settings.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let (report, target) = runtime.block_on(collect(args, &loaded, credentials))?;
    // stdout holds the report alone (JSON with --json); where it ran goes to stderr.
    eprintln!("berth gc: collected {target}");
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let verb = if report.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        println!(
            "{verb} {} manifests, {} tags, {} blobs ({} bytes), {} blob links; {} uploads expired; {} ms",
            report.manifests_deleted,
            report.tags_deleted,
            report.blobs_deleted,
            report.bytes_freed,
            report.links_removed,
            report.uploads_expired,
            report.duration_ms
        );
    }
    Ok(())
}

async fn collect(
    args: &GcArgs,
    loaded: &GcSettings,
    credentials: Option<Credentials>,
) -> anyhow::Result<(GcReport, Target)> {
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
    match DataDirLock::acquire(&data_dir, &Owner::this_process("gc")) {
        Ok(_held_while_collecting) => {
            let registry = open_registry(&loaded.settings).await?;
            let options = GcOptions {
                dry_run: args.dry_run,
                ..loaded.settings.gc.clone()
            };
            let report = registry.gc(&options).await?;
            let settings = &loaded.settings;
            let stores = describe_stores(&settings.storage, &settings.metadata, &data_dir);
            Ok((report, Target::Direct { data_dir, stores }))
        }
        Err(LockError::Held { owner, .. }) => {
            let address = match (loaded.listen, owner.as_ref().and_then(|o| o.listen)) {
                (Some(given), _) => given,
                (None, Some(announced)) => announced,
                (None, None) => bail!(
                    "refusing to collect directly: {} is in use by {}",
                    data_dir.display(),
                    match &owner {
                        Some(o) if o.command == "serve" => format!(
                            "{o}, which is starting and not listening yet; try again in a moment"
                        ),
                        Some(o) => format!(
                            "{o}, which does not serve HTTP; run `berth gc` again once it has \
                             finished"
                        ),
                        None => "a process that is starting; try again in a moment".to_owned(),
                    }
                ),
            };
            let tls_cert = owner.as_ref().and_then(|o| o.tls_cert.clone());
            let owner = owner.map_or("a server".to_owned(), |o| o.to_string());
            let server = Server {
                address,
                owner,
                tls_cert,
                credentials,
            };
            let report = through_server(&server, &data_dir, args).await?;
            Ok((report, Target::Server { address, data_dir }))
        }
        Err(e) => Err(e.into()),
    }
}

/// The server that owns a data directory, as its lock file (and `--listen`) name it.
pub(crate) struct Server {
    pub(crate) address: SocketAddr,
    /// How the lock file names the owner, for messages.
    pub(crate) owner: String,
    /// The certificate file it serves HTTPS with, if it does.
    pub(crate) tls_cert: Option<PathBuf>,
    /// Sent with every request when given; a server with access control needs an admin's.
    pub(crate) credentials: Option<Credentials>,
}

impl Server {
    /// Its base URL and a client for it: over HTTPS trusting exactly the certificate in its
    /// certificate file, else plain HTTP.
    fn client(&self) -> anyhow::Result<(String, reqwest::Client)> {
        let builder = reqwest::Client::builder().connect_timeout(Duration::from_secs(2));
        let address = reachable(self.address);
        Ok(match &self.tls_cert {
            None => (format!("http://{address}"), builder.build()?),
            Some(cert) => (
                format!("https://{address}"),
                builder
                    .use_preconfigured_tls(crate::pinned::trusting_only(cert)?)
                    .build()?,
            ),
        })
    }

    /// `request` with the credentials, when there are any.
    pub(crate) fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.credentials {
            Some(credentials) => credentials.apply(request),
            None => request,
        }
    }

    /// Why the server refused a request with `status`, when access control is the reason.
    pub(crate) fn refusal(&self, status: reqwest::StatusCode) -> Option<String> {
        let address = self.address;
        match (status.as_u16(), &self.credentials) {
            (401, None) => Some(format!(
                "the server at {address} has access control: give an admin's user name with \
                 --username and the password in {} or on standard input with --password-stdin",
                crate::credentials::PASSWORD_ENV
            )),
            (401, Some(c)) => Some(format!(
                "the server at {address} did not accept the password of {}",
                c.username
            )),
            (403, Some(c)) => Some(format!(
                "the server at {address} allows collections to admins only, and {} is not one",
                c.username
            )),
            (429, _) => Some(format!(
                "the server at {address} refuses logins from here for a while after repeated \
                 wrong passwords; try again later"
            )),
            _ => None,
        }
    }
}

/// Asks the server to collect, once its status says it serves `data_dir`; the policy flags
/// given to `berth gc` go along and replace the server's for this run.
async fn through_server(
    server: &Server,
    data_dir: &Path,
    args: &GcArgs,
) -> anyhow::Result<GcReport> {
    let (base, client) = serving(server, data_dir, "collect").await?;
    let address = server.address;
    let response = server
        .authorized(client.post(format!("{base}/berth/v1/gc")))
        .query(&policy_query(args))
        .send()
        .await
        .with_context(|| format!("asking the server at {address} to collect"))?;
    if !response.status().is_success() {
        let code = response.status();
        let body = response.text().await.unwrap_or_default();
        bail!("the server at {address} refused the collection: {code} {body}");
    }
    response
        .json()
        .await
        .with_context(|| format!("reading the report of the server at {address}"))
}

/// The server's base URL and a client for it, once its status says it serves `data_dir`;
/// `verb` (e.g. `collect`) names what is refused otherwise.
pub(crate) async fn serving(
    server: &Server,
    data_dir: &Path,
    verb: &str,
) -> anyhow::Result<(String, reqwest::Client)> {
    let (address, owner) = (server.address, &server.owner);
    let (base, client) = server.client()?;
    let response = server
        .authorized(client.get(format!("{base}/berth/v1/status")))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .with_context(|| {
            format!(
                "refusing to {verb} directly: {} is in use by {owner}, and asking the server at \
                 {address} which data directory it serves failed{}",
                data_dir.display(),
                match &server.tls_cert {
                    Some(cert) => format!(
                        " (over HTTPS, trusting only the certificate in {}; if it was just \
                         replaced, the server takes it within seconds: try again)",
                        cert.display()
                    ),
                    None => String::new(),
                }
            )
        })?;
    if let Some(refusal) = server.refusal(response.status()) {
        bail!("{refusal}");
    }
    if !response.status().is_success() {
        bail!(
            "the server at {address} does not say which data directory it serves (it answered \
             {}); refusing to {verb} through it",
            response.status()
        );
    }
    let status: ServerStatus = response
        .json()
        .await
        .with_context(|| format!("reading the status of the server at {address}"))?;
    let expected = data_dir.to_string_lossy();
    match status.data_dir.as_deref() {
        Some(served) if served == expected => Ok((base, client)),
        served => bail!(
            "the server at {address} serves {}, not {expected}; refusing to {verb} through it \
             (leave out --listen, or give the address of the server that owns {expected})",
            served.unwrap_or("no local data directory")
        ),
    }
}

/// `dry_run` and the policy flags given, as `POST /berth/v1/gc` takes them.
fn policy_query(args: &GcArgs) -> Vec<(&'static str, String)> {
    let mut query = vec![("dry_run", args.dry_run.to_string())];
    if let Some(grace) = args.gc_grace {
        query.push(("grace", crate::config_view::format_duration(grace)));
    }
    if let Some(untagged) = &args.gc_untagged {
        query.push(("untagged", untagged.clone()));
    }
    if let Some(orphans) = &args.gc_orphaned_referrers {
        query.push(("orphaned_referrers", orphans.clone()));
    }
    query
}

/// An address to connect to for one a server listens on: the wildcard address is reached
/// through loopback.
fn reachable(address: SocketAddr) -> SocketAddr {
    match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), address.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), address.port())
        }
        _ => address,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_policy_flags_given_are_sent() {
        let args = GcArgs {
            dry_run: true,
            gc_grace: Some(std::time::Duration::from_secs(5400)),
            gc_orphaned_referrers: Some("7d".into()),
            ..GcArgs::default()
        };
        assert_eq!(
            policy_query(&args),
            vec![
                ("dry_run", "true".to_owned()),
                ("grace", "1h 30m".to_owned()),
                ("orphaned_referrers", "7d".to_owned()),
            ]
        );
        assert_eq!(
            policy_query(&GcArgs::default()),
            vec![("dry_run", "false".to_owned())]
        );
    }

    #[test]
    fn a_wildcard_listen_address_is_reached_through_loopback() {
        let reach = |a: &str| reachable(a.parse().unwrap()).to_string();
        assert_eq!(reach("0.0.0.0:5000"), "127.0.0.1:5000");
        assert_eq!(reach("[::]:5000"), "[::1]:5000");
        assert_eq!(reach("127.0.0.2:5000"), "127.0.0.2:5000");
    }
}
