//! Group commit for the single writer connection.
//!
//! Write jobs queue up; the writer runs every job that is waiting in one transaction and
//! answers every job after the commit has made the whole batch durable. Concurrent writers
//! thus share one fsync instead of paying one each, and no answer is sent before its data is
//! on disk.
//!
//! A job may refuse (`MissingBlob`, `MissingChild`) only before it writes anything, so a
//! refusal needs no rollback and the rest of the batch commits. Any other failure rolls the
//! whole batch back and every job in it fails.

use async_trait::async_trait;
use futures::future::BoxFuture;
use sqlx::{Executor, SqliteConnection};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error};

use crate::error::{MetadataError, Result};

/// Most jobs committed together.
const MAX_BATCH: usize = 256;

#[async_trait]
trait Job: Send {
    /// Runs the job's statements; false when the failure breaks the batch.
    async fn run(&mut self, conn: &mut SqliteConnection) -> bool;
    /// Answers the caller once the batch's fate is known.
    fn finish(self: Box<Self>, commit: std::result::Result<(), String>);
}

struct TypedJob<T, F> {
    work: Option<F>,
    result: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

#[async_trait]
impl<T, F> Job for TypedJob<T, F>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
{
    async fn run(&mut self, conn: &mut SqliteConnection) -> bool {
        let work = self.work.take().expect("a job runs once");
        let result = work(conn).await;
        let batch_intact = matches!(
            result,
            Ok(_) | Err(MetadataError::MissingBlob(_) | MetadataError::MissingChild(_))
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

/// Handle to the writer task; cheap to clone.
#[derive(Debug, Clone)]
pub struct Writer {
    jobs: mpsc::UnboundedSender<Box<dyn Job>>,
}

impl std::fmt::Debug for dyn Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl Writer {
    /// Starts the writer task that owns `conn`.
    pub fn start(conn: SqliteConnection) -> Writer {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run_batches(conn, queue));
        Writer { jobs }
    }

    /// Runs `work` in the next batch and returns its result once the batch is committed.
    pub async fn run<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = TypedJob {
            work: Some(work),
            result: None,
            reply,
        };
        self.jobs
            .send(Box::new(job))
            .map_err(|_| MetadataError::CommitFailed("metadata writer stopped".into()))?;
        answer
            .await
            .map_err(|_| MetadataError::CommitFailed("metadata writer stopped".into()))?
    }
}

async fn run_batches(mut conn: SqliteConnection, mut queue: mpsc::UnboundedReceiver<Box<dyn Job>>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        debug!(jobs = batch.len(), "metadata batch");
        let commit = run_batch(&mut conn, &mut batch).await.map_err(|e| {
            error!(error = %e, jobs = batch.len(), "metadata batch failed");
            e.to_string()
        });
        for job in batch {
            job.finish(commit.clone());
        }
    }
}

async fn run_batch(
    conn: &mut SqliteConnection,
    batch: &mut [Box<dyn Job>],
) -> std::result::Result<(), sqlx::Error> {
    conn.execute("BEGIN IMMEDIATE").await?;
    let outcome = run_jobs(conn, batch).await;
    let outcome = match outcome {
        Ok(()) => conn.execute("COMMIT").await.map(|_| ()),
        Err(e) => Err(e),
    };
    if outcome.is_err() {
        let _ = conn.execute("ROLLBACK").await;
    }
    outcome
}

async fn run_jobs(
    conn: &mut SqliteConnection,
    batch: &mut [Box<dyn Job>],
) -> std::result::Result<(), sqlx::Error> {
    for job in batch.iter_mut() {
        if !job.run(conn).await {
            return Err(sqlx::Error::Protocol("a job in the batch failed".into()));
        }
    }
    Ok(())
}
