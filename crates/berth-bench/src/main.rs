//! `cargo run --release -p berth-bench`: starts Berth and CNCF distribution side by side on
//! loopback, runs the same workloads against both, alternating, and prints one table of
//! figures with the ratio Berth/distribution.

mod data;
mod process;
mod receiver;
mod report;
mod servers;
mod workloads;

use anyhow::Context;

use report::Table;
use servers::{Kind, Server};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::from_args()?;
    let kinds = if options.scale_out() {
        servers::check_scale_out_environment()?;
        [Kind::Berth, Kind::BerthScaleOut, Kind::DistributionS3].as_slice()
    } else if options.observability() {
        [Kind::Berth, Kind::BerthObserved, Kind::BerthObservedBatched].as_slice()
    } else if options.browse() {
        [Kind::Berth].as_slice()
    } else {
        [Kind::Berth, Kind::Distribution].as_slice()
    };
    let _berth_binary = servers::prepare().await.context("preparing the servers")?;
    let mut table = Table::default();
    let mut servers = Vec::new();
    for &kind in kinds {
        let server = Server::start(kind).await?;
        table.record(
            "start-up to first 200 on /v2/",
            "ms",
            kind,
            server.startup.as_secs_f64() * 1e3,
            report::Better::Lower,
        );
        servers.push(server);
    }
    let outcome = run(&servers, &mut table, &options).await;
    drop(servers);
    outcome?;
    println!("{}", table.render());
    Ok(())
}

async fn run(servers: &[Server], table: &mut Table, options: &Options) -> anyhow::Result<()> {
    workloads::run_all(servers, table, options).await?;
    if options.observability() {
        // Deliveries trail the pushes by up to the dispatcher's poll; what arrived by the end
        // shows the endpoint was live during the workloads.
        let receiver = servers::webhook_receiver()?;
        for (kind, batched) in [
            (Kind::BerthObserved, false),
            (Kind::BerthObservedBatched, true),
        ] {
            let received = receiver.received(Kind::webhook_path(batched));
            anyhow::ensure!(
                received.events > 0,
                "the webhook receiver got no notification from {}",
                kind.label()
            );
            table.record(
                "webhook notifications received",
                "events",
                kind,
                received.events as f64,
                report::Better::Higher,
            );
            table.record(
                "webhook requests received",
                "requests",
                kind,
                received.requests as f64,
                report::Better::Lower,
            );
        }
    }
    for server in servers {
        let peak = server.process().peak_rss_mib()?;
        table.record(
            "peak resident memory",
            "MiB",
            server.kind,
            peak,
            report::Better::Lower,
        );
    }
    Ok(())
}

/// Sizes of the run; the defaults are the documented benchmark.
#[derive(Debug, Clone)]
pub struct Options {
    pub blob_mib: usize,
    /// Size of each PATCH in the chunked upload.
    pub chunk_mib: usize,
    pub manifests: usize,
    pub tags: usize,
    pub load_seconds: u32,
    /// Manifests in the collection workload, and in its comparison with distribution.
    pub gc_manifests: usize,
    pub gc_comparable: usize,
    /// Repository sizes at which the `scale-out` group measures the referrers API.
    pub referrer_sizes: Vec<usize>,
    /// Run only the workload group named here (`blobs`, `manifests`, `referrers`, `auth` or
    /// `gc`), or the `scale-out`, `observability` or `browse` group, which run only when named.
    pub only: Option<String>,
}

/// What `--help` prints.
const USAGE: &str = "usage: berth-bench [--OPTION VALUE]...
  --blob-mib N         size of the uploaded blob (default 1024)
  --chunk-mib N        chunk size of the chunked upload (default 16)
  --manifests N        manifests pushed per concurrency level (default 1000)
  --tags N             tags created and listed (default 10000)
  --load-seconds N     seconds of each wrk load (default 10); the manifest GET load runs
                       in rounds of 2 s, at least 5
  --gc-manifests N     manifests in the collection workload (default 100000)
  --gc-comparable N    manifests in the collection compared with distribution (default 2000)
  --referrer-sizes L   repository sizes of the scale-out referrers figures (default 1000,10000,100000)
  --only GROUP         blobs, manifests, referrers, auth or gc; or scale-out, observability
                       or browse, which run only when named";

impl Options {
    fn from_args() -> anyhow::Result<Options> {
        let mut options = Options {
            blob_mib: 1024,
            chunk_mib: 16,
            manifests: 1000,
            tags: 10_000,
            load_seconds: 10,
            gc_manifests: 100_000,
            gc_comparable: 2_000,
            referrer_sizes: vec![1_000, 10_000, 100_000],
            only: None,
        };
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.iter().any(|a| a == "--help" || a == "-h") {
            println!("{USAGE}");
            std::process::exit(0);
        }
        for pair in args.chunks(2) {
            let value = pair.get(1).context("every option takes a value")?;
            match pair[0].as_str() {
                "--blob-mib" => options.blob_mib = value.parse()?,
                "--chunk-mib" => options.chunk_mib = value.parse()?,
                "--manifests" => options.manifests = value.parse()?,
                "--tags" => options.tags = value.parse()?,
                "--load-seconds" => options.load_seconds = value.parse()?,
                "--only" => options.only = Some(value.clone()),
                "--gc-manifests" => options.gc_manifests = value.parse()?,
                "--gc-comparable" => options.gc_comparable = value.parse()?,
                "--referrer-sizes" => {
                    options.referrer_sizes =
                        value.split(',').map(str::parse).collect::<Result<_, _>>()?;
                    anyhow::ensure!(
                        options.referrer_sizes.is_sorted() && options.referrer_sizes[0] >= 1_000,
                        "--referrer-sizes: rising sizes of at least 1000, e.g. 1000,10000"
                    );
                }
                other => anyhow::bail!("unknown option {other}\n{USAGE}"),
            }
        }
        Ok(options)
    }

    /// Whether the `observability` group was asked for: the manifest workloads on Berth with
    /// metrics and the JSON access log on (`servers::observed_config`) and with them off.
    pub fn observability(&self) -> bool {
        self.only.as_deref() == Some("observability")
    }

    /// Whether the `browse` group was asked for: the web UI's API calls and assets on Berth.
    pub fn browse(&self) -> bool {
        self.only.as_deref() == Some("browse")
    }

    /// Whether the `scale-out` group was asked for.
    pub fn scale_out(&self) -> bool {
        self.only.as_deref() == Some("scale-out")
    }
}
