//! The concurrency workload: thousands of persistent pairs, each sending one 64-byte ping every
//! interval, driven by a non-blocking epoll loop on `THREADS` thread(s), woken for the next turns
//! by a timerfd.
//!
//! A thread per pinger (the generator this replaced) spends the machine's two cores waking 40,000
//! threads a second, so at 4,000 pingers it measured its own scheduling: direct had a p99 of
//! 160–190 ms. One epoll loop wakes once per batch of replies instead, and direct stays well under
//! a millisecond (0.14–0.24 ms) while the host leaves the vCPUs alone (see `steal`), so the figure
//! says what the proxy adds.
//!
//! Each pinger has at most one ping in flight. When its turn comes and the previous reply has not
//! arrived, it skips that turn: a proxy that cannot keep up shows as a lower achieved rate (and the
//! replies it does deliver late, as the p99), not as a burst of catch-up pings.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

/// Generator threads. One loop keeps up with 40,000 pings a second on this machine, and one is
/// better than two: with two generator threads and the backend's echo on two cores, one of the
/// three often waits a scheduler slice for a core, which is the direct p99. Two interleaved
/// `bench --quick` runs each, 2026-12-03: direct at 4,000 pingers p99 1.76 and 1.06 ms with one
/// thread, 3.15 and 6.00 ms with two; the proxies' ratios did not move.
const THREADS: usize = 1;

/// How long replies still in flight when the sending stops may take before they count as lost.
const DRAIN: Duration = Duration::from_secs(1);

/// Pings due within this much of now go out together: each wake-up sends a few, not one (40,000
/// wake-ups a second for sends alone) nor a millisecond's worth (epoll's own timeout, whole
/// milliseconds, sent 40 at once, and the last of them waited behind the other 39 at the echo).
/// Two interleaved runs of each, 4,000 pingers direct, 2026-12-03: p99 0.14–0.24 ms batching
/// 100 µs, 0.37–0.42 ms batching 1 ms, 0.41–1.66 ms not batching; through tcpproxy no change.
const BATCH: Duration = Duration::from_micros(100);

const MESSAGE: [u8; 64] = [b's'; 64];

/// What one run of the pingers saw.
pub(crate) struct PingerRun {
    /// Every answered ping's round trip.
    pub(crate) rtts: Vec<Duration>,
    /// Turns a pinger skipped because its previous ping was still unanswered.
    pub(crate) skipped: usize,
    /// Pings still unanswered when the run ended.
    pub(crate) lost: usize,
}

/// Each of `streams` (established end to end, see `workloads::idle_connections`) sends a 64-byte
/// ping every `interval`, for `duration`.
pub(crate) fn slow_pingers(
    streams: Vec<TcpStream>,
    interval: Duration,
    duration: Duration,
) -> io::Result<PingerRun> {
    let pingers = streams.len();
    // Pinger i fires at i/pingers of each interval, so they do not all fire at once; thread t
    // drives pingers t, t + THREADS, ..., which keeps each thread's schedule evenly spread too.
    let start = Instant::now() + Duration::from_millis(10);
    let mut shares: Vec<Vec<Pinger>> = (0..THREADS).map(|_| Vec::new()).collect();
    for (i, stream) in streams.into_iter().enumerate() {
        stream.set_nonblocking(true)?;
        let due = start + interval.mul_f64(i as f64 / pingers.max(1) as f64);
        #[allow(clippy::modulo_one)] // THREADS is 1 today; the split stays for more
        shares[i % THREADS].push(Pinger {
            stream,
            due,
            sent_at: None,
            received: 0,
        });
    }
    let end = start + duration;
    let workers: Vec<_> = shares
        .into_iter()
        .map(|share| thread::spawn(move || drive(share, interval, end)))
        .collect();
    let mut run = PingerRun {
        rtts: Vec::new(),
        skipped: 0,
        lost: 0,
    };
    for worker in workers {
        let part = worker
            .join()
            .map_err(|_| io::Error::other("pinger thread panicked"))??;
        run.rtts.extend(part.rtts);
        run.skipped += part.skipped;
        run.lost += part.lost;
    }
    Ok(run)
}

struct Pinger {
    stream: TcpStream,
    /// When its next turn comes.
    due: Instant,
    /// When the ping in flight left, if one is.
    sent_at: Option<Instant>,
    /// Bytes of the reply in flight received so far.
    received: usize,
}

/// One thread's event loop over its pingers, sending until `end` and then draining the replies.
fn drive(mut pingers: Vec<Pinger>, interval: Duration, end: Instant) -> io::Result<PingerRun> {
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(with("epoll_create"))?;
    let alarm = Alarm::new(&epoll)?;
    for (i, pinger) in pingers.iter().enumerate() {
        let event = EpollEvent::new(EpollFlags::EPOLLIN, i as u64);
        epoll
            .add(pinger.stream.as_fd(), event)
            .map_err(with("epoll_ctl"))?;
    }
    let mut run = PingerRun {
        rtts: Vec::new(),
        skipped: 0,
        lost: 0,
    };
    let mut events = vec![EpollEvent::empty(); 1024];
    let mut next = 0; // the pingers' turns come round in order: `next` is the earliest due
    let mut in_flight = 0;
    let give_up = end + DRAIN;
    for _ in 0..wake_up_cap(pingers.len(), interval, end, give_up) {
        let now = Instant::now();
        let sending = now < end;
        if now >= give_up || (!sending && in_flight == 0) || pingers.is_empty() {
            break;
        }
        if sending {
            in_flight += send_what_is_due(&mut pingers, &mut next, now, interval, &mut run)?;
        }
        let wake = if sending {
            pingers[next].due.min(end)
        } else {
            give_up
        };
        let ready = match epoll.wait(&mut events, alarm.set_for(wake)?) {
            Ok(ready) => ready,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(with("epoll_wait")(e)),
        };
        let now = Instant::now();
        for event in &events[..ready] {
            if event.data() == Alarm::EVENT {
                alarm.clear();
                continue;
            }
            let pinger = &mut pingers[event.data() as usize];
            if let Some(rtt) = receive(pinger, now)? {
                run.rtts.push(rtt);
                in_flight -= 1;
            }
        }
    }
    run.lost = in_flight;
    Ok(run)
}

/// Every wake-up sends, receives, or is the alarm (at most one per BATCH), so a run needs at most
/// a few per ping and per BATCH; the cap only guards a spinning loop.
fn wake_up_cap(pingers: usize, interval: Duration, end: Instant, give_up: Instant) -> usize {
    let turns = pingers as f64 * (end.duration_since(Instant::now()).as_secs_f64() + 1.0)
        / interval.as_secs_f64().max(1e-3);
    let batches = give_up.duration_since(Instant::now()).as_micros() / BATCH.as_micros();
    4 * turns as usize + 4 * batches as usize
}

/// The turns due within [`BATCH`] of `now`, at most one full round: send each pinger's ping, or
/// count the turn skipped if its last reply has not come. How many pings went out.
fn send_what_is_due(
    pingers: &mut [Pinger],
    next: &mut usize,
    now: Instant,
    interval: Duration,
    run: &mut PingerRun,
) -> io::Result<usize> {
    let mut sent = 0;
    for _ in 0..pingers.len() {
        let pinger = &mut pingers[*next];
        if pinger.due > now + BATCH {
            break;
        }
        if pinger.sent_at.is_some() {
            run.skipped += 1;
        } else {
            send(pinger)?;
            sent += 1;
        }
        pinger.due += interval;
        *next = (*next + 1) % pingers.len();
    }
    Ok(sent)
}

/// Send one ping. Its previous reply has arrived, so the send buffer is empty and 64 bytes go in
/// whole without blocking.
fn send(pinger: &mut Pinger) -> io::Result<()> {
    pinger.sent_at = Some(Instant::now());
    pinger.received = 0;
    match pinger.stream.write(&MESSAGE) {
        Ok(n) if n == MESSAGE.len() => Ok(()),
        Ok(n) => Err(io::Error::other(format!(
            "a ping went out short: {n} bytes"
        ))),
        Err(e) => Err(io::Error::new(e.kind(), format!("sending a ping: {e}"))),
    }
}

/// Read what a readable pinger has; the round trip once its whole reply is in.
fn receive(pinger: &mut Pinger, now: Instant) -> io::Result<Option<Duration>> {
    let mut reply = [0u8; 64];
    // A 64-byte reply comes in one or a few segments; a few reads drain them, and the next
    // wake-up takes whatever is left.
    for _ in 0..4 {
        let Some(sent_at) = pinger.sent_at else {
            return Err(io::Error::other("bytes arrived with no ping in flight"));
        };
        match pinger.stream.read(&mut reply[pinger.received..]) {
            Ok(0) => return Err(io::Error::other("a pinger's connection closed")),
            Ok(n) => pinger.received += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io::Error::new(e.kind(), format!("reading a reply: {e}"))),
        }
        if pinger.received == MESSAGE.len() {
            pinger.sent_at = None;
            pinger.received = 0;
            return Ok(Some(now.duration_since(sent_at)));
        }
    }
    Ok(None)
}

/// A timerfd in the pingers' epoll set, for waking at the next turn to the microsecond (epoll's
/// own timeout counts whole milliseconds).
struct Alarm {
    timer: TimerFd,
}

impl Alarm {
    /// The epoll data that marks the alarm's event, never a pinger's index.
    const EVENT: u64 = u64::MAX;

    fn new(epoll: &Epoll) -> io::Result<Alarm> {
        let flags = TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC;
        let timer =
            TimerFd::new(ClockId::CLOCK_MONOTONIC, flags).map_err(with("timerfd_create"))?;
        let event = EpollEvent::new(EpollFlags::EPOLLIN, Alarm::EVENT);
        epoll.add(timer.as_fd(), event).map_err(with("epoll_ctl"))?;
        Ok(Alarm { timer })
    }

    /// Ring at `wake`; the timeout for the epoll wait that follows: none if `wake` has come (the
    /// loop goes round at once), else 100 ms, a guard in case the alarm is lost.
    fn set_for(&self, wake: Instant) -> io::Result<EpollTimeout> {
        let delay = wake.saturating_duration_since(Instant::now());
        if delay.is_zero() {
            return Ok(EpollTimeout::ZERO);
        }
        let once = Expiration::OneShot(TimeSpec::from(delay));
        self.timer
            .set(once, TimerSetTimeFlags::empty())
            .map_err(with("timerfd_settime"))?;
        Ok(EpollTimeout::from(100u16))
    }

    /// Read the expiry count, so the level-triggered event does not fire again; an alarm not yet
    /// rung (EAGAIN) is no error.
    fn clear(&self) {
        let _ = self.timer.wait();
    }
}

/// An `io::Error` naming the call that failed.
fn with(call: &'static str) -> impl Fn(Errno) -> io::Error {
    move |e| io::Error::other(format!("{call}: {e}"))
}
