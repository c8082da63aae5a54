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
//! The hand-off is a zero-capacity crossbeam channel: `try_send` succeeds only if a parked thread is
//! blocked in `recv` at that moment, and otherwise fails at once — then we start a new thread. No
//! queue of waiting work can build up behind busy threads.
//!
//! Every line a pair thread logs carries the thread's current *label* (`pair 17 s->c`), and so do
//! `/proc/PID/task/*/comm`, `top -H` and `ps -L`. A std thread's name is fixed when it starts, but
//! these threads serve one pair after another, so the label is set each time a thread takes work
//! ([`set_thread_label`]) and read by the logger ([`with_thread_label`]).
//!
//! Blocking: parked threads in `recv_timeout`; nothing else.

use std::cell::RefCell;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

thread_local! {
    static LABEL: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Name this thread `label` from now on: in the log, and in the kernel, which keeps the first
/// 15 bytes.
pub fn set_thread_label(label: &str) {
    LABEL.with(|current| *current.borrow_mut() = Some(label.to_string()));
    if let Ok(name) = std::ffi::CString::new(label) {
        // Only cosmetic: a failure leaves the kernel's old name.
        let _ = nix::sys::prctl::set_name(&name);
    }
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

/// The pool of pair threads: those running pairs and those parked.
pub struct Workers {
    handoff: Sender<Job>,
    parked_queue: Receiver<Job>,
    stack_size: usize,
    parked: Arc<AtomicUsize>,
}

impl Workers {
    pub fn new(stack_size: usize) -> Arc<Self> {
        let (handoff, parked_queue) = bounded(0);
        Arc::new(Workers {
            handoff,
            parked_queue,
            stack_size,
            parked: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Run `work` on a parked thread if one is waiting, else on a new one. `label` (`pair 17
    /// c->s`) names the thread in the log and in /proc while it runs the work.
    pub fn run(&self, label: String, work: impl FnOnce() + Send + 'static) -> io::Result<()> {
        let job = Job {
            label,
            work: Box::new(work),
        };
        let job = match self.handoff.try_send(job) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => job,
        };
        let parked_queue = self.parked_queue.clone();
        let parked = Arc::clone(&self.parked);
        thread::Builder::new()
            .name("pair thread".into())
            .stack_size(self.stack_size)
            .spawn(move || work_then_park(job, &parked_queue, &parked))
            .map(drop)
    }

    /// Threads parked right now, waiting for a pair.
    pub fn parked(&self) -> usize {
        self.parked.load(Ordering::Relaxed)
    }
}

/// A pair thread's life: its first job, then whatever comes while it is parked.
fn work_then_park(first: Job, queue: &Receiver<Job>, parked: &AtomicUsize) {
    let mut job = first;
    loop {
        set_thread_label(&job.label);
        (job.work)();
        set_thread_label("parked");
        parked.fetch_add(1, Ordering::Relaxed);
        let next = queue.recv_timeout(KEEP_PARKED);
        parked.fetch_sub(1, Ordering::Relaxed);
        match next {
            Ok(next) => job = next,
            Err(_) => return, // no work for a while: give the memory back
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wait until `workers` has a parked thread. The counter rises just before `recv_timeout`,
    /// which has no event of its own to wait for, so this looks every millisecond, for at most
    /// five seconds.
    fn wait_until_parked(workers: &Workers) {
        for _ in 0..5000 {
            if workers.parked() > 0 {
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
        wait_until_parked(&workers);
        // The thread counted itself parked just before it blocks in `recv_timeout`; a hand-off
        // in between fails over to a new thread, which is correct but not what this test wants.
        thread::sleep(Duration::from_millis(50));
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
