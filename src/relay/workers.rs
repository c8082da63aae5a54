//! Pair threads, started fresh or taken from those parked after their last pair.
//!
//! Starting an OS thread is not free: the kernel maps a stack and a signal stack, clones, and on
//! exit unmaps them again. Measured on this machine, a spawn and join of a 256 KiB-stack thread took
//! 70–110 µs, and every pair needs two — as much as the rest of a short connection's work. So a
//! pair thread that finishes does not exit at once: it parks, waiting up to [`KEEP_PARKED`] for the
//! next pair's work, and a burst of short connections reuses a handful of threads instead of
//! starting two per client.
//!
//! The design card still holds: every live pair has its own two OS threads, blocked in its own
//! calls. Parked threads hold no pair, no socket and no buffer, only a few pages of stack, and
//! they leave after `KEEP_PARKED` without work, so an idle proxy returns to its baseline.
//!
//! The hand-off: each parked thread lies in its own [`Bed`] (a slot for the next job and a
//! condition variable), and the beds are stacked. [`Workers::run`] takes the top bed — the thread
//! that parked most recently — or, if there is none, starts a new thread; no queue of waiting work
//! can build up behind busy threads. Last in, first out on purpose: the same few threads (their
//! stacks warm in the cache) serve a steady stream of pairs, and the surplus left at the bottom
//! after a burst times out and exits. The wake-up is one futex call each side, with no spinning:
//! a hand-off through a zero-capacity crossbeam channel cost the woken thread a `sched_yield` as
//! it waited for the message to land (measured: about one per pair thread, 2.2 per pair with the
//! old "done" message).
//!
//! Every line a pair thread logs carries the thread's current *label* (`pair 17 s->c`), and so do
//! `/proc/PID/task/*/comm`, `top -H` and `ps -L`. A std thread's name is fixed when it starts, but
//! these threads serve one pair after another, so the label is set each time a thread takes work
//! ([`set_thread_label`]) and read by the logger ([`with_thread_label`]). Parking renames only the
//! log's label (`parked`), not the kernel's: that would be one more `prctl` per thread per pair,
//! so /proc shows a parked thread under its last pair's name.
//!
//! Blocking: parked threads on their bed's condition variable; nothing else.

use std::cell::RefCell;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// Stack for each pair thread. The pump's buffer lives in the pool, and its deepest call (a trace
/// line being formatted) needs a few KiB: measured, a pump thread touches 8 KiB of its stack. The
/// reservation is address space, not memory, so 256 KiB (an eighth of the 2 MiB default) buys a
/// wide margin for free.
pub const PAIR_STACK_SIZE: usize = 256 * 1024;

thread_local! {
    static LABEL: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Name this thread `label` from now on: in the log, and in the kernel, which keeps the first
/// 15 bytes.
pub fn set_thread_label(label: String) {
    if let Ok(name) = std::ffi::CString::new(label.as_bytes()) {
        // Only cosmetic: a failure leaves the kernel's old name.
        let _ = nix::sys::prctl::set_name(&name);
    }
    set_log_label(label);
}

/// Name this thread `label` in the log only (no system call).
fn set_log_label(label: String) {
    LABEL.with(|current| *current.borrow_mut() = Some(label));
}

/// Call `f` with this thread's label, or its std name (`main`, `stats`) if it has none.
pub fn with_thread_label<R>(f: impl FnOnce(&str) -> R) -> R {
    LABEL.with(|label| {
        let label = label.borrow();
        let current = thread::current();
        f(label.as_deref().or(current.name()).unwrap_or("?"))
    })
}

/// How long a finished pair thread waits for new work before it exits.
pub const KEEP_PARKED: Duration = Duration::from_secs(2);

/// Work for a pair thread: one direction of one pair, and the name to run it under.
struct Job {
    label: String,
    work: Box<dyn FnOnce() + Send>,
}

/// Where one parked thread sleeps: the next job is left in `job`, then `wake` is signalled.
#[derive(Default)]
struct Bed {
    job: Mutex<Option<Job>>,
    wake: Condvar,
}

/// The beds of the threads parked right now, the most recently parked on top.
type Beds = Arc<Mutex<Vec<Arc<Bed>>>>;

/// The pool of pair threads: those running pairs and those parked.
pub struct Workers {
    beds: Beds,
    stack_size: usize,
}

/// Lock `mutex`, whether or not a thread panicked holding it: what it guards (a job slot, a list
/// of beds) is valid either way.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Workers {
    pub fn new(stack_size: usize) -> Arc<Self> {
        Arc::new(Workers {
            beds: Beds::default(),
            stack_size,
        })
    }

    /// Run `work` on a parked thread if one is waiting, else on a new one. `label` (`pair 17
    /// c->s`) names the thread in the log and in /proc while it runs the work.
    pub fn run(&self, label: String, work: impl FnOnce() + Send + 'static) -> io::Result<()> {
        let job = Job {
            label,
            work: Box::new(work),
        };
        let top = lock(&self.beds).pop();
        if let Some(bed) = top {
            // Off the stack, the bed is ours: its thread waits for exactly this job.
            *lock(&bed.job) = Some(job);
            bed.wake.notify_one();
            return Ok(());
        }
        let beds = Arc::clone(&self.beds);
        thread::Builder::new()
            .name("pair thread".into())
            .stack_size(self.stack_size)
            .spawn(move || work_then_park(job, &beds))
            .map(drop)
    }

    /// Threads parked right now, waiting for a pair.
    pub fn parked(&self) -> usize {
        lock(&self.beds).len()
    }
}

/// A pair thread's life: its first job, then whatever comes while it is parked.
fn work_then_park(first: Job, beds: &Beds) {
    let bed = Arc::new(Bed::default());
    let mut job = first;
    loop {
        set_thread_label(job.label);
        (job.work)();
        set_log_label("parked".into());
        match park(&bed, beds) {
            Some(next) => job = next,
            None => return, // no work for a while: give the memory back
        }
    }
}

/// Lie in `bed` on top of the stack until a job comes, or for [`KEEP_PARKED`]; `None` if none came.
fn park(bed: &Arc<Bed>, beds: &Beds) -> Option<Job> {
    lock(beds).push(Arc::clone(bed));
    let deadline = Instant::now() + KEEP_PARKED;
    let mut job = lock(&bed.job);
    loop {
        if let Some(next) = job.take() {
            return Some(next);
        }
        let now = Instant::now();
        if now >= deadline {
            // Leave, unless `run` has just taken this bed off the stack: then its job is coming.
            let mut stack = lock(beds);
            if let Some(at) = stack.iter().position(|b| Arc::ptr_eq(b, bed)) {
                stack.remove(at);
                return None;
            }
            drop(stack);
            job = bed
                .wake
                .wait_while(job, |j| j.is_none())
                .unwrap_or_else(PoisonError::into_inner);
            continue;
        }
        job = match bed.wake.wait_timeout(job, deadline - now) {
            Ok((job, _)) => job,
            Err(poisoned) => poisoned.into_inner().0,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::bounded;

    /// Wait until `workers` has `n` parked threads. Parking has no event of its own to wait for, so
    /// this looks every millisecond, for at most five seconds.
    fn wait_until_parked(workers: &Workers, n: usize) {
        for _ in 0..5000 {
            if workers.parked() >= n {
                return;
            }
            thread::sleep(Duration::from_millis(1));
        }
        panic!("no thread parked within 5 s");
    }

    #[test]
    fn a_finished_thread_parks_and_takes_the_next_job_under_its_label() {
        let workers = Workers::new(64 * 1024);
        let (done, finished) = bounded(2);
        let first = done.clone();
        workers
            .run("job 1".into(), move || {
                let label = with_thread_label(str::to_string);
                first.send((thread::current().id(), label)).unwrap();
            })
            .unwrap();
        let (first_thread, first_label) = finished.recv().unwrap();
        assert_eq!(first_label, "job 1");
        wait_until_parked(&workers, 1);
        workers
            .run("job 2".into(), move || {
                let label = with_thread_label(str::to_string);
                done.send((thread::current().id(), label)).unwrap();
            })
            .unwrap();
        assert_eq!(
            finished.recv().unwrap(),
            (first_thread, "job 2".to_string())
        );
    }

    #[test]
    fn with_nobody_parked_a_new_thread_starts() {
        let workers = Workers::new(64 * 1024);
        let (done, finished) = bounded(2);
        let (release, hold) = bounded::<()>(0);
        let first = done.clone();
        workers
            .run("busy".into(), move || {
                first.send(thread::current().id()).unwrap();
                let _ = hold.recv(); // stay busy until the second job has started
            })
            .unwrap();
        let busy_thread = finished.recv().unwrap();
        workers
            .run("second".into(), move || {
                done.send(thread::current().id()).unwrap();
            })
            .unwrap();
        assert_ne!(finished.recv().unwrap(), busy_thread);
        drop(release);
    }

    /// Start a job that reports its thread and then holds it until `release` is dropped.
    fn held_job(workers: &Workers) -> (thread::ThreadId, crossbeam_channel::Sender<()>) {
        let (started, thread_of) = bounded(1);
        let (release, hold) = bounded::<()>(0);
        workers
            .run("held".into(), move || {
                started.send(thread::current().id()).unwrap();
                let _ = hold.recv();
            })
            .unwrap();
        (thread_of.recv().unwrap(), release)
    }

    #[test]
    fn the_thread_parked_last_takes_the_next_job() {
        let workers = Workers::new(64 * 1024);
        let (first, release_first) = held_job(&workers);
        let (second, release_second) = held_job(&workers);
        assert_ne!(first, second);
        drop(release_first);
        wait_until_parked(&workers, 1);
        drop(release_second);
        wait_until_parked(&workers, 2);
        let (next, _release) = held_job(&workers);
        assert_eq!(next, second, "last in, first out");
        assert_eq!(workers.parked(), 1, "the other one still waits");
    }

    #[test]
    fn unlabelled_threads_go_by_their_std_name() {
        let name = thread::Builder::new()
            .name("stats".into())
            .spawn(|| with_thread_label(str::to_string))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(name, "stats");
    }
}
