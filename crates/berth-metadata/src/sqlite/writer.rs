//! Group commit on the single writer connection, owned by a dedicated thread.
//!
//! Write jobs queue up; the writer runs every job that is waiting in one transaction and
//! answers every job after the commit has made the whole batch durable. Concurrent writers
//! thus share one fsync instead of paying one each, and no answer is sent before its data is
//! on disk. Jobs run synchronously on the thread, so a statement costs microseconds instead of
//! a round trip to an async driver.
//!
//! A job may refuse (`MissingBlob`, `MissingChild`, `MissingSubject`, `PreconditionFailed`)
//! only before it writes anything, so a refusal needs no rollback and the rest of the batch
//! commits. Any other failure rolls the whole batch back and every job in it fails.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error};

use crate::error::{MetadataError, Result};

/// Most jobs committed together.
const MAX_BATCH: usize = 256;

trait Job: Send {
    /// Runs the job's statements; false when the failure breaks the batch.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the batch's fate is known.
    fn finish(self: Box<Self>, commit: std::result::Result<(), String>);
}

struct TypedJob<T, F> {
    work: Option<F>,
    result: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T> + Send + 'static,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let work = self.work.take().expect("a job runs once");
        let result = work(conn);
        let batch_intact = matches!(
            result,
            Ok(_)
                | Err(MetadataError::MissingBlob(_)
                    | MetadataError::MissingChild(_)
                    | MetadataError::MissingSubject(_)
                    | MetadataError::PreconditionFailed(_))
        );
        self.result = Some(result);
        batch_intact
    }

    fn finish(self: Box<Self>, commit: std::result::Result<(), String>) {
        let answer = match (self.result, commit) {
            (Some(Err(job_error)), _) => Err(job_error),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(commit_error)) => Err(MetadataError::CommitFailed(commit_error)),
            (None, Ok(())) => Err(MetadataError::CommitFailed("job did not run".into())),
        };
        let _ = self.reply.send(answer);
    }
}

/// Handle to the writer thread; cheap to clone. The thread ends when every handle is gone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::UnboundedSender<Box<dyn Job>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    /// Opens the writer connection on the (already migrated) database and starts its thread.
    pub fn start(path: &Path) -> Result<Writer> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(Duration::from_secs(30))?;
        let (jobs, queue) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("berth-metadata-writer".into())
            .spawn(move || run_batches(conn, queue))
            .map_err(|e| MetadataError::CommitFailed(format!("starting the writer: {e}")))?;
        Ok(Writer { jobs })
    }

    /// Runs `work` in the next batch and returns its result once the batch is committed.
    pub async fn run<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = TypedJob {
            work: Some(work),
            result: None,
            reply,
        };
        let stopped = || MetadataError::CommitFailed("metadata writer stopped".into());
        self.jobs.send(Box::new(job)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn run_batches(conn: Connection, mut queue: mpsc::UnboundedReceiver<Box<dyn Job>>) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let commit = run_batch(&conn, &mut batch).map_err(|e| {
            error!(error = %e, jobs = batch.len(), "metadata batch failed");
            e
        });
        let took = started.elapsed();
        crate::stats::batch_committed("sqlite", took);
        debug!(
            jobs = batch.len(),
            micros = took.as_micros() as u64,
            "metadata batch"
        );
        for job in batch {
            job.finish(commit.clone());
        }
    }
}

fn run_batch(conn: &Connection, batch: &mut [Box<dyn Job>]) -> std::result::Result<(), String> {
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| e.to_string())?;
    let outcome = if batch.iter_mut().all(|job| job.run(conn)) {
        conn.execute_batch("COMMIT").map_err(|e| e.to_string())
    } else {
        Err("a write in the batch failed".to_owned())
    };
    if outcome.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    outcome
}
