//! Readiness: whether both stores can serve, for `GET /readyz`.

use std::time::Duration;

use serde::Serialize;

use crate::Registry;

/// Longest a store may take to answer the readiness check before it counts as unreachable:
/// a probe must answer well within a load balancer's own timeout.
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(3);

/// What each store answered; `ready()` when both did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// `ok`, or why the metadata store cannot serve (unreachable, schema behind).
    pub metadata: String,
    /// `ok`, or why the blob store cannot serve (unreachable, not writable).
    pub blobs: String,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.metadata == "ok" && self.blobs == "ok"
    }
}

impl Registry {
    /// Checks both stores at once, each within [`READINESS_TIMEOUT`].
    pub async fn readiness(&self) -> Readiness {
        let timed = |what: &'static str| {
            move |outcome: Result<Result<(), String>, tokio::time::error::Elapsed>| match outcome {
                Ok(Ok(())) => "ok".to_owned(),
                Ok(Err(e)) => e,
                Err(_) => format!("{what} did not answer within {READINESS_TIMEOUT:?}"),
            }
        };
        let (metadata, blobs) = tokio::join!(
            tokio::time::timeout(READINESS_TIMEOUT, async {
                self.meta.check_ready().await.map_err(|e| e.to_string())
            }),
            tokio::time::timeout(READINESS_TIMEOUT, async {
                self.blobs.check_ready().await.map_err(|e| e.to_string())
            }),
        );
        Readiness {
            metadata: timed("the metadata store")(metadata),
            blobs: timed("the blob store")(blobs),
        }
    }
}
