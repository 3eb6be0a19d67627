//! The byte budget of the PDF pipeline's read-ahead: how much prepared image data may wait
//! for the writer.

use std::sync::{Condvar, Mutex, MutexGuard};

pub struct Budget {
    limit: usize,
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    /// Bytes of images admitted and not yet written.
    held: usize,
    /// The image the writer needs next: always admitted, so the pipeline cannot stall.
    next: usize,
    /// The writer stopped: nothing more is wanted.
    closed: bool,
}

impl Budget {
    pub fn new(limit: usize) -> Budget {
        Budget {
            limit,
            state: Mutex::new(State {
                held: 0,
                next: 0,
                closed: false,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves only counters: their values stay usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits, before image `index` is read, until the images waiting to be written hold
    /// less than the budget (the image the writer needs next never waits). `false`: the
    /// writer stopped.
    pub fn room_for(&self, index: usize) -> bool {
        let mut state = self.lock();
        while !state.closed && index != state.next && state.held >= self.limit {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        !state.closed
    }

    /// A prepared image holding `bytes` now waits to be written.
    pub fn hold(&self, bytes: usize) {
        self.lock().held += bytes;
    }

    /// Image `index`, held with `bytes`, is written: its bytes are free and the next image
    /// is needed.
    pub fn written(&self, index: usize, bytes: usize) {
        let mut state = self.lock();
        state.held = state.held.saturating_sub(bytes);
        state.next = index + 1;
        self.changed.notify_all();
    }

    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[test]
    fn reading_waits_while_the_budget_is_full_and_goes_on_when_bytes_are_written() {
        let budget = Arc::new(Budget::new(100));
        assert!(budget.room_for(0));
        budget.hold(150);
        // Image 1 is the writer's next but one: it is not read until image 0 is written.
        let admitted = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (budget, admitted) = (budget.clone(), admitted.clone());
            std::thread::spawn(move || {
                let ok = budget.room_for(2);
                admitted.store(true, Ordering::SeqCst);
                ok
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!admitted.load(Ordering::SeqCst), "read past the budget");
        budget.written(0, 150);
        // The image the writer needs next is never held back, however full the budget.
        budget.hold(500);
        assert!(budget.room_for(1));
        budget.written(1, 500);
        assert!(waiter.join().unwrap());
    }

    #[test]
    fn closing_releases_the_readers_that_wait() {
        let budget = Arc::new(Budget::new(10));
        budget.hold(1000);
        let waiter = {
            let budget = budget.clone();
            std::thread::spawn(move || budget.room_for(4))
        };
        std::thread::sleep(Duration::from_millis(20));
        budget.close();
        assert!(!waiter.join().unwrap());
    }
}
