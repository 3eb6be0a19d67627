//! Blocking work (SQLite calls, file reads and writes, pixels) from async code.
//!
//! Elsewhere such work goes to the runtime's blocking pool, so a worker thread of the
//! runtime never stalls. A queue poller of `folio serve` runs on a thread of its own instead
//! (a current-thread runtime, see [`run_as_poller`]); there the work runs in place: the
//! thread has nothing else to do meanwhile, and the hand-off to the pool and back would cost
//! two thread switches per call, several per message.

use std::cell::Cell;
use std::future::Future;

thread_local! {
    static IN_PLACE: Cell<bool> = const { Cell::new(false) };
}

/// Why blocking work did not finish: it panicked (or the runtime is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("blocking work did not finish: {0}")]
pub struct Unfinished(String);

/// Runs `work` in place on a poller's thread, on the blocking pool elsewhere.
pub async fn run<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Unfinished> {
    if IN_PLACE.get() {
        return std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
            .map_err(|_| Unfinished("it panicked".to_string()));
    }
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Unfinished(e.to_string()))
}

/// Runs `poller` to its end on a thread of its own, with a current-thread runtime on which
/// [`run`] works in place. The returned handle ends when the poller does.
pub fn run_as_poller<F>(name: &str, poller: F) -> std::io::Result<tokio::task::JoinHandle<()>>
where
    F: Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (done, finished) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            IN_PLACE.set(true);
            runtime.block_on(poller);
            let _ = done.send(());
        })?;
    Ok(tokio::spawn(async move {
        let _ = finished.await;
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn here() -> std::thread::ThreadId {
        std::thread::current().id()
    }

    #[tokio::test]
    async fn work_runs_in_place_on_a_poller_thread_and_on_the_pool_elsewhere() {
        let caller = here();
        let elsewhere = run(here).await.expect("ran");
        assert_ne!(elsewhere, caller, "on the blocking pool");

        let (tx, rx) = tokio::sync::oneshot::channel();
        let poller = run_as_poller("test-poller", async move {
            let poller = here();
            let in_place = run(here).await.expect("ran");
            // A panic in place is an error of that call; the poller goes on.
            let panicked = run(|| panic!("a bug")).await;
            let _ = tx.send((poller, in_place, panicked.is_err()));
        })
        .expect("a thread");
        poller.await.expect("the poller ended");
        let (poller, in_place, panicked) = rx.await.expect("the poller reported");
        assert_eq!(in_place, poller);
        assert_ne!(poller, caller);
        assert!(panicked);
    }
}
