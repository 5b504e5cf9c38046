//! The destination of `berth serve`'s access lines: a buffer in memory that a thread of its own
//! turns into lines (its `render` step) and writes to stderr every `FLUSH_INTERVAL`, or sooner
//! once `FLUSH_AT` bytes are waiting.
//!
//! A request logs one access line. Writing it to stderr on the spot is a system call per
//! request; handing it to a writer thread through a channel still wakes that thread per line.
//! On a busy server either costs more than serving a cached manifest. Appending to a shared
//! buffer costs a lock and a copy, and the writer wakes a few dozen times a second at most.
//! What is appended are records of the lines' fields, whole (each with one call), so they
//! never interleave; the writer formats them many at a time, off the requests' path. Nothing
//! is dropped: a writer that falls behind by `MAX_PENDING` bytes makes loggers wait for it.
//! (A batch whose `render` panics is the exception: it is lost, and the loss logged, so that
//! the writer lives on and loggers never wait on a thread that is gone.)

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// Longest a line waits in memory before it is written.
const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
/// Bytes waiting that wake the writer before its interval.
const FLUSH_AT: usize = 256 * 1024;
/// Bytes waiting past which loggers wait for the writer.
const MAX_PENDING: usize = 16 * 1024 * 1024;

#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    pending: Mutex<Pending>,
    /// Signalled when the writer should write now (enough bytes, or closing).
    wake: Condvar,
    /// Signalled after every write, for loggers waiting for room.
    written: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A logger that panicked mid-append left whole lines or a torn last one; keep going.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A handle loggers append records to, one whole with each call; cheap to clone.
#[derive(Clone)]
pub struct BatchWriter(Arc<Shared>);

/// Stops the writer thread when dropped, after it has written every line appended so far.
#[must_use = "dropping the guard stops the log writer"]
pub struct BatchGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the writer thread over `out`; it writes what `render` makes of what was appended
/// (`render(appended, output)`: whole appends in, whole lines out). Errors: the thread could not
/// be started.
pub fn start(
    out: impl Write + Send + 'static,
    render: impl FnMut(&[u8], &mut Vec<u8>) + Send + 'static,
) -> std::io::Result<(BatchWriter, BatchGuard)> {
    let shared = Arc::new(Shared::default());
    let thread = std::thread::Builder::new()
        .name("berth-log".to_owned())
        .spawn({
            let shared = shared.clone();
            move || write_until_closed(&shared, out, render)
        })?;
    Ok((
        BatchWriter(shared.clone()),
        BatchGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

fn write_until_closed(
    shared: &Shared,
    mut out: impl Write,
    mut render: impl FnMut(&[u8], &mut Vec<u8>),
) {
    let mut batch = Vec::new();
    let mut rendered = Vec::new();
    loop {
        let closed = {
            let mut pending = shared.lock();
            if !pending.closed && pending.lines.len() < FLUSH_AT {
                pending = shared
                    .wake
                    .wait_timeout(pending, FLUSH_INTERVAL)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            std::mem::swap(&mut batch, &mut pending.lines);
            pending.closed
        };
        if !batch.is_empty() {
            // A render that panics loses its batch, not the writer: with the thread gone,
            // loggers would wait for room forever once `MAX_PENDING` bytes had gathered, and
            // every request with them.
            let rendering = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                render(&batch, &mut rendered)
            }));
            if rendering.is_err() {
                rendered.clear();
                // Through the subscriber, so that it is a line in the log's own format.
                tracing::error!(
                    target: "berth::log",
                    bytes = batch.len(),
                    "a batch of access lines could not be formatted and is lost"
                );
            }
            // Nowhere to report a failing stderr; the lines are dropped, the server goes on.
            let _ = out.write_all(&rendered).and_then(|()| out.flush());
            batch.clear();
            rendered.clear();
        }
        shared.written.notify_all();
        if closed && shared.lock().lines.is_empty() {
            return;
        }
    }
}

impl BatchWriter {
    /// Appends `line` as it is, waiting while `MAX_PENDING` bytes are. Only the tests' renders
    /// take raw lines; the server's takes records, which its loggers encode in place.
    #[cfg(test)]
    pub fn append(&self, line: &[u8]) {
        self.append_with(|pending| pending.extend_from_slice(line));
    }

    /// Appends what `write` appends to the buffer it is handed (one whole record, written in
    /// place rather than copied in), waiting first while `MAX_PENDING` bytes are. The buffer
    /// is locked for the call, so `write` must only append.
    pub fn append_with(&self, write: impl FnOnce(&mut Vec<u8>)) {
        let mut pending = self.0.lock();
        while pending.lines.len() >= MAX_PENDING && !pending.closed {
            pending = self
                .0
                .written
                .wait(pending)
                .unwrap_or_else(|e| e.into_inner());
        }
        write(&mut pending.lines);
        if pending.lines.len() >= FLUSH_AT {
            self.0.wake.notify_one();
        }
    }
}

impl Drop for BatchGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders appended lines as they are.
    fn as_is(appended: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(appended);
    }

    /// Collects what the writer thread writes.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_from_every_thread_is_written_whole_by_the_time_the_guard_drops() {
        let sink = Sink::default();
        let (writer, guard) = start(sink.clone(), as_is).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000 {
                        writer
                            .append(format!("thread {t} line {i} {}\n", "x".repeat(40)).as_bytes());
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        drop(guard);
        let written = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = written.lines().collect();
        assert_eq!(lines.len(), 80_000);
        for t in 0..4 {
            let mine: Vec<usize> = lines
                .iter()
                .filter(|l| l.starts_with(&format!("thread {t} ")))
                .map(|l| {
                    assert!(l.ends_with(&"x".repeat(40)), "torn line: {l}");
                    l.split(' ').nth(3).unwrap().parse().unwrap()
                })
                .collect();
            assert_eq!(mine, (0..20_000).collect::<Vec<_>>(), "thread {t} in order");
        }
    }

    #[test]
    fn a_render_that_panics_loses_its_batch_and_the_writer_goes_on() {
        let sink = Sink::default();
        let render = |appended: &[u8], out: &mut Vec<u8>| {
            assert!(!appended.starts_with(b"poison"), "a render that fails");
            out.extend_from_slice(appended);
        };
        let (writer, guard) = start(sink.clone(), render).unwrap();
        writer.append(b"poison\n");
        // More than `MAX_PENDING`: with the writer gone, this would wait forever.
        let line = vec![b'x'; 1024 * 1024];
        for _ in 0..2 * MAX_PENDING / line.len() {
            writer.append(&line);
        }
        writer.append(b"after\n");
        drop(guard);
        let written = sink.0.lock().unwrap().clone();
        assert!(written.ends_with(b"after\n"));
        assert!(!written.windows(6).any(|w| w == b"poison"));
    }

    #[test]
    fn a_line_is_written_within_the_interval_without_more_coming() {
        let sink = Sink::default();
        let (writer, _guard) = start(sink.clone(), as_is).unwrap();
        writer.append(b"one line\n");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while sink.0.lock().unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "never written");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(&*sink.0.lock().unwrap(), b"one line\n");
    }
}
