//! A direction that is stopped: the hang rule while blocked, a stop while blocked, a peer's
//! reset, and a signal that interrupts a blocked call without stopping anything.

use std::io::Write;
use std::net::Shutdown;
use std::thread;
use std::time::Duration;

use nix::libc;
use socket2::SockRef;

use super::rig::{connected, flood, read_all, Rig};
use crate::relay::accounting::activity::State;
use crate::relay::close::CloseReason;
use crate::relay::direction::Side;
use crate::relay::hang::Hang;
use crate::relay::pump::Flow;

#[test]
fn a_sink_that_stops_reading_is_cut_as_a_stall() {
    let rig = Rig::new(300, 0);
    rig.shrink_sink_buffers();
    let flow = thread::scope(|s| {
        s.spawn(|| flood(&rig.source_peer, 64 << 20));
        rig.pump_with_buffer()
    });
    assert!(
        matches!(
            flow,
            Flow::Stopped(CloseReason::Hang(Hang::StallToward(Side::Server)))
        ),
        "{flow:?}"
    );
    assert!(rig.activity.delivered() > 0, "bytes moved before the stall");
    assert_eq!(rig.activity.snapshot(0).state, State::Done);
}

#[test]
fn a_quiet_pair_is_cut_as_idle_while_blocked_in_read() {
    let rig = Rig::new(0, 200);
    let flow = rig.pump_with_buffer();
    assert!(
        matches!(flow, Flow::Stopped(CloseReason::Hang(Hang::Idle))),
        "{flow:?}"
    );
}

#[test]
fn progress_the_other_way_keeps_a_quiet_direction_alive() {
    let mut rig = Rig::new(0, 300);
    let flow = thread::scope(|s| {
        s.spawn(|| {
            // The other direction moves a byte every 100 ms for a second, then this one ends.
            for _ in 0..10 {
                thread::sleep(Duration::from_millis(100)); // the traffic under test
                rig.clock.progress(rig.clock.now());
            }
            rig.source_peer.shutdown(Shutdown::Write).unwrap();
        });
        rig.pump_with_buffer()
    });
    assert!(matches!(flow, Flow::Finished), "{flow:?}");
    assert_eq!(read_all(&mut rig.sink_peer), b"");
}

#[test]
fn a_stop_while_blocked_in_read_aborts() {
    let rig = Rig::new(0, 0);
    let flow = thread::scope(|s| {
        s.spawn(|| {
            // Wait until the pump is inside `read`, as its activity says.
            while rig.activity.snapshot(0).state != State::Reading {
                thread::yield_now();
            }
            assert!(rig.ending.record(CloseReason::Shutdown));
            rig.source.shutdown(Shutdown::Both).unwrap();
        });
        rig.pump_with_buffer()
    });
    assert!(matches!(flow, Flow::Aborted), "{flow:?}");
    assert_eq!(rig.activity.snapshot(0).state, State::Done);
}

#[test]
fn a_stop_while_blocked_in_write_aborts() {
    let rig = Rig::new(0, 0);
    rig.shrink_sink_buffers();
    let flow = thread::scope(|s| {
        s.spawn(|| flood(&rig.source_peer, 64 << 20));
        s.spawn(|| {
            while rig.activity.snapshot(0).state != State::Writing {
                thread::yield_now();
            }
            // Held bytes and a full sink: the pump is (or is about to be) asleep in `write`.
            assert!(rig.ending.record(CloseReason::Shutdown));
            rig.sink.shutdown(Shutdown::Both).unwrap();
            rig.source.shutdown(Shutdown::Both).unwrap();
        });
        rig.pump_with_buffer()
    });
    assert!(matches!(flow, Flow::Aborted), "{flow:?}");
}

#[test]
fn a_source_that_resets_stops_the_pair_naming_it() {
    let mut rig = Rig::new(0, 0);
    let doomed = std::mem::replace(&mut rig.source_peer, connected().1);
    SockRef::from(&doomed)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(doomed); // closing with SO_LINGER 0 sends a reset, not a FIN
    let flow = rig.pump_with_buffer();
    assert!(
        matches!(flow, Flow::Stopped(CloseReason::Reset(Side::Client))),
        "{flow:?}"
    );
}

/// Wait (at most ten seconds) until the pump's activity says `state`.
fn wait_for_state(rig: &Rig, state: State) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while rig.activity.snapshot(0).state != state {
        assert!(std::time::Instant::now() < deadline, "never {state:?}");
        thread::yield_now();
    }
}

#[test]
fn a_sink_that_resets_while_we_write_stops_the_pair_naming_it() {
    let mut rig = Rig::new(5_000, 0);
    rig.shrink_sink_buffers();
    let doomed = std::mem::replace(&mut rig.sink_peer, connected().1);
    let flow = thread::scope(|s| {
        s.spawn(|| flood(&rig.source_peer, 64 << 20));
        s.spawn(|| {
            wait_for_state(&rig, State::Writing);
            SockRef::from(&doomed)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            drop(doomed);
        });
        rig.pump_with_buffer()
    });
    // A reset is not a slow reader: it stops the pair at once, not when the stall rule fires.
    assert!(
        matches!(flow, Flow::Stopped(CloseReason::Reset(Side::Server))),
        "{flow:?}"
    );
}

extern "C" fn do_nothing(_: libc::c_int) {}

/// Interrupt `thread`'s blocking call with a signal, ten times over a tenth of a second. The
/// handler does nothing, and without `SA_RESTART` the call returns `EINTR`, as a socket call
/// with a timeout does even with it (signal(7)). Pacing the signals is the point of the sleep:
/// some land while the call is blocked.
fn interrupt(thread: libc::pthread_t) {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet};
    let action = SigAction::new(
        SigHandler::Handler(do_nothing),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler does nothing, so it is safe to run at any point of any thread.
    unsafe { sigaction(nix::sys::signal::SIGUSR2, &action) }.unwrap();
    for _ in 0..10 {
        // SAFETY: `thread` is the pump's, alive until the scope that runs it ends.
        assert_eq!(unsafe { libc::pthread_kill(thread, libc::SIGUSR2) }, 0);
        thread::sleep(Duration::from_millis(10));
    }
}

/// Run the pump on a thread of its own; its pthread id comes back first, for [`interrupt`].
fn pump_on_a_thread<'s>(
    s: &'s thread::Scope<'s, '_>,
    rig: &'s Rig,
) -> (libc::pthread_t, thread::ScopedJoinHandle<'s, Flow>) {
    let (id_sender, id) = crossbeam_channel::bounded(1);
    let pumping = s.spawn(move || {
        // SAFETY: pthread_self has no preconditions.
        id_sender.send(unsafe { libc::pthread_self() }).unwrap();
        rig.pump_with_buffer()
    });
    (id.recv().unwrap(), pumping)
}

#[test]
fn a_signal_that_interrupts_a_blocked_read_is_not_an_error() {
    let mut rig = Rig::new(0, 0);
    let flow = thread::scope(|s| {
        let (pump_thread, pumping) = pump_on_a_thread(s, &rig);
        wait_for_state(&rig, State::Reading);
        interrupt(pump_thread);
        (&rig.source_peer).write_all(b"after the signals").unwrap();
        rig.source_peer.shutdown(Shutdown::Write).unwrap();
        pumping.join().unwrap()
    });
    assert!(matches!(flow, Flow::Finished), "{flow:?}");
    assert_eq!(read_all(&mut rig.sink_peer), b"after the signals");
}

#[test]
fn a_signal_that_interrupts_a_blocked_write_is_not_an_error() {
    let rig = Rig::new(0, 0);
    // More than the kernel buffers between the pump and a peer that is not reading yet, so the
    // pump blocks in `write` (tiny buffers would do it too, but move a megabyte in 20 s).
    let message = vec![b'w'; 32 << 20];
    let flow = thread::scope(|s| {
        s.spawn(|| {
            (&rig.source_peer).write_all(&message).unwrap();
            rig.source_peer.shutdown(Shutdown::Write).unwrap();
        });
        let (pump_thread, pumping) = pump_on_a_thread(s, &rig);
        wait_for_state(&rig, State::Writing);
        interrupt(pump_thread);
        let received = read_all(&mut rig.sink_peer.try_clone().unwrap());
        assert_eq!(received.len(), message.len());
        pumping.join().unwrap()
    });
    assert!(matches!(flow, Flow::Finished), "{flow:?}");
    assert_eq!(rig.activity.delivered(), 32 << 20);
}
