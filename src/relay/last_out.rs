//! The last thread out closes the pair: no thread waits for the other to say "done".
//!
//! A pair's two threads finish in no fixed order, and one of them must then count the pair, close
//! its sockets and write its one log line. Waiting for a message from the other thread would cost a
//! wake-up, a futex and (in crossbeam's spin-then-yield) a `sched_yield` per pair: the thread that
//! finished first would sleep only to be woken for bookkeeping. Instead each thread holds a
//! [`Share`] of the work's state, and whichever drops the last share runs [`Finish::finish`] on the
//! spot. The count of threads still working is the `Arc`'s own reference count: its decrement is
//! atomic, and exactly one thread sees it reach zero.
//!
//! A share is dropped also when its thread unwinds from a panic (a bug). Then it first calls
//! [`Finish::on_panic`] (the pair ends it, which wakes the other thread), so a panicking pump still
//! lets the pair be closed, counted and logged, and its ticket dropped, by whichever thread is last.
//!
//! Nothing here blocks.

use std::ops::Deref;
use std::sync::Arc;
use std::thread;

/// What the last share-holder does.
pub trait Finish {
    /// A holder is unwinding from a panic; called before its share is dropped.
    fn on_panic(&self);
    /// Every share is gone: run once, on the thread that dropped the last one.
    fn finish(self);
}

/// One thread's hold on the state `T`; clone it for each thread that works on `T`.
pub struct Share<T: Finish>(Arc<Last<T>>);

/// The state itself, finished when the `Arc` holding it is dropped for the last time.
struct Last<T: Finish>(Option<T>);

impl<T: Finish> Share<T> {
    pub fn new(state: T) -> Self {
        Share(Arc::new(Last(Some(state))))
    }
}

impl<T: Finish> Clone for Share<T> {
    fn clone(&self) -> Self {
        Share(Arc::clone(&self.0))
    }
}

impl<T: Finish> Deref for Share<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // Only `Last::drop` takes the state out, and no share exists by then.
        self.0 .0.as_ref().expect("state is present while shared")
    }
}

impl<T: Finish> Drop for Share<T> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.on_panic();
        }
        // Then the `Arc` field drops: if this was the last share, `Last::drop` runs below.
    }
}

impl<T: Finish> Drop for Last<T> {
    fn drop(&mut self) {
        if let Some(state) = self.0.take() {
            state.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::mpsc;

    /// Records which thread finished, and whether a holder panicked first.
    struct Probe {
        finished_on: mpsc::Sender<(thread::ThreadId, bool)>,
        panicked: AtomicBool,
        panics: Arc<AtomicUsize>,
    }

    impl Finish for Probe {
        fn on_panic(&self) {
            self.panicked.store(true, Ordering::Relaxed);
            self.panics.fetch_add(1, Ordering::Relaxed);
        }
        fn finish(self) {
            let panicked = self.panicked.load(Ordering::Relaxed);
            self.finished_on
                .send((thread::current().id(), panicked))
                .unwrap();
        }
    }

    fn probe() -> (Share<Probe>, mpsc::Receiver<(thread::ThreadId, bool)>) {
        let (finished_on, finished) = mpsc::channel();
        let share = Share::new(Probe {
            finished_on,
            panicked: AtomicBool::new(false),
            panics: Arc::new(AtomicUsize::new(0)),
        });
        (share, finished)
    }

    #[test]
    fn whichever_thread_lets_go_last_finishes_once() {
        let (first, finished) = probe();
        let second = first.clone();
        let (go, wait) = mpsc::channel::<()>();
        let late = thread::spawn(move || {
            wait.recv().unwrap(); // hold on until the first share is gone
            drop(second);
            thread::current().id()
        });
        drop(first);
        assert!(finished.try_recv().is_err(), "one share is still held");
        go.send(()).unwrap();
        let late_id = late.join().unwrap();
        assert_eq!(finished.recv().unwrap(), (late_id, false));
        assert!(finished.try_recv().is_err(), "finished exactly once");
    }

    #[test]
    fn a_panicking_holder_says_so_and_the_last_one_still_finishes() {
        let (share, finished) = probe();
        let panics = Arc::clone(&share.panics);
        let doomed = share.clone();
        let outcome = thread::spawn(move || {
            let _held = doomed;
            panic!("a bug in a pump");
        })
        .join();
        assert!(outcome.is_err());
        assert_eq!(panics.load(Ordering::Relaxed), 1);
        assert!(
            finished.try_recv().is_err(),
            "the other share is still held"
        );
        drop(share);
        let (on, panicked) = finished.recv().unwrap();
        assert_eq!(on, thread::current().id());
        assert!(panicked, "the finisher learns that a holder panicked");
    }

    #[test]
    fn a_panicking_last_holder_finishes_while_unwinding() {
        let (share, finished) = probe();
        let outcome = thread::spawn(move || {
            let _held = share;
            panic::panic_any("the last pump panics");
        })
        .join();
        assert!(outcome.is_err());
        let (_, panicked) = finished.recv().unwrap();
        assert!(panicked);
    }
}
