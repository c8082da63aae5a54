//! A direction that finishes: EOF passed on as a half-close, every byte delivered in order.

use std::io::{Read, Write};
use std::net::Shutdown;

use super::rig::{read_all, Rig, Trickle, PATIENCE};
use crate::relay::accounting::activity::State;
use crate::relay::pump::{pump, Flow};

#[test]
fn eof_after_the_bytes_finishes_and_passes_the_eof_on() {
    let mut rig = Rig::new(10_000, 10_000);
    rig.source_peer.write_all(b"hello, pump").unwrap();
    rig.source_peer.shutdown(Shutdown::Write).unwrap();
    assert!(matches!(rig.pump_with_buffer(), Flow::Finished));
    assert_eq!(read_all(&mut rig.sink_peer), b"hello, pump");
    assert_eq!(rig.activity.delivered(), 11);
    assert_eq!(rig.activity.snapshot(0).state, State::HalfClosed);
    assert!(
        !rig.ending.has_ended(),
        "a finished direction does not end the pair"
    );
}

#[test]
fn half_close_shuts_only_the_write_half() {
    let mut rig = Rig::new(10_000, 10_000);
    rig.source_peer.shutdown(Shutdown::Write).unwrap();
    assert!(matches!(rig.pump_with_buffer(), Flow::Finished));
    assert_eq!(
        read_all(&mut rig.sink_peer),
        b"",
        "the sink's peer sees EOF"
    );
    // The other way through the same sockets is still open: the sink's peer can answer, and the
    // source's peer can still be written to.
    rig.sink_peer.write_all(b"answer").unwrap();
    let mut answer = [0u8; 6];
    rig.sink.set_read_timeout(Some(PATIENCE)).unwrap();
    rig.sink.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"answer");
    (&rig.source).write_all(b"back").unwrap();
    let mut back = [0u8; 4];
    rig.source_peer.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"back");
}

#[test]
fn short_writes_deliver_everything_in_order() {
    let mut rig = Rig::new(10_000, 10_000);
    let message: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    rig.source_peer.write_all(&message).unwrap();
    rig.source_peer.shutdown(Shutdown::Write).unwrap();
    let trickle = Trickle { held: Vec::new() };
    assert!(matches!(pump(&rig.lane(), trickle, None), Flow::Finished));
    assert_eq!(read_all(&mut rig.sink_peer), message);
    assert_eq!(rig.activity.delivered(), 1000);
}

#[test]
fn an_eof_toward_a_sink_that_already_left_is_still_a_finish() {
    let mut rig = Rig::new(10_000, 10_000);
    let doomed = std::mem::replace(&mut rig.sink_peer, super::rig::connected().1);
    socket2::SockRef::from(&doomed)
        .set_linger(Some(std::time::Duration::ZERO))
        .unwrap();
    drop(doomed);
    // Once a read sees the reset, the sink socket is closed: shutting its write half finds it
    // not connected, which means the sink left, not that the pump failed.
    rig.sink.set_read_timeout(Some(PATIENCE)).unwrap();
    assert!((&rig.sink).read(&mut [0u8; 1]).is_err());
    rig.source_peer.shutdown(Shutdown::Write).unwrap();
    assert!(matches!(rig.pump_with_buffer(), Flow::Finished));
}
