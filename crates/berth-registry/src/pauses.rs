//! Named pause points, compiled only in this crate's tests: a test parks a collection at a
//! point, pushes or deletes while it stands there, then lets it go on. Outside tests
//! `Registry::pause_at` does nothing.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::oneshot;

/// The collection's side of an armed point: it signals arrival, then waits to go on.
type Armed = (oneshot::Sender<()>, oneshot::Receiver<()>);

/// The points a test armed, each firing once.
#[derive(Default)]
pub(crate) struct Pauses {
    armed: Mutex<HashMap<&'static str, Armed>>,
}

/// A test's side of an armed point.
pub(crate) struct Pause {
    reached: oneshot::Receiver<()>,
    resume: oneshot::Sender<()>,
}

impl Pauses {
    /// Makes the next pass through `point` wait for `Pause::resume`.
    pub(crate) fn arm(&self, point: &'static str) -> Pause {
        let (reached_tx, reached) = oneshot::channel();
        let (resume, resume_rx) = oneshot::channel();
        self.armed
            .lock()
            .expect("pause points lock")
            .insert(point, (reached_tx, resume_rx));
        Pause { reached, resume }
    }

    /// Waits at `point` if a test armed it.
    pub(crate) async fn hit(&self, point: &str) {
        let armed = self.armed.lock().expect("pause points lock").remove(point);
        if let Some((reached, resume)) = armed {
            let _ = reached.send(());
            let _ = resume.await;
        }
    }
}

impl Pause {
    /// Returns once the collection stands at the point.
    pub(crate) async fn reached(&mut self) {
        (&mut self.reached)
            .await
            .expect("the collection reaches the point");
    }

    /// Lets the collection go on.
    pub(crate) fn resume(self) {
        let _ = self.resume.send(());
    }
}
