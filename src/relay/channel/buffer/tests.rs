//! The buffer pool's tests: slots are distinct and come back, warm ones are reused first, and
//! memory beyond the warm part and the warm set goes back to the kernel.

use super::*;

/// Write `byte` at the start of `buffer` as a read would, touching only that much.
fn write_first(buffer: &mut PoolBuffer, byte: u8) {
    buffer
        .fill_with(|slot| {
            slot[0] = byte;
            Ok(1)
        })
        .unwrap();
}

#[test]
fn fresh_slots_are_zeroed_writable_sized_and_distinct() {
    let pool = BufferPool::new(2, 65536).unwrap();
    let mut first = pool.take().unwrap();
    let mut second = pool.take().unwrap();
    assert!(pool.take().is_none(), "only two slots");
    assert_eq!(first.len(), 65536);
    assert!(first.iter().all(|&b| b == 0));
    first[65535] = 7;
    second[0] = 9;
    assert_eq!((first[65535], second[0], second[65535]), (7, 9, 0));
}

#[test]
fn the_slot_freed_last_comes_back_first_and_warm() {
    let pool = BufferPool::new(3, 65536).unwrap();
    let mut older = pool.take().unwrap();
    let mut newer = pool.take().unwrap();
    write_first(&mut older, 1);
    write_first(&mut newer, 2);
    let newer_at = newer.as_ptr();
    drop(older);
    drop(newer);
    let again = pool.take().unwrap();
    assert_eq!(again.as_ptr(), newer_at, "last in, first out");
    assert_eq!(
        again[0], 2,
        "a warm slot keeps its pages: no fault, no system call"
    );
}

#[test]
fn pages_beyond_the_warm_part_are_released_on_return() {
    let pool = BufferPool::new(1, 65536).unwrap();
    let mut buffer = pool.take().unwrap();
    buffer[0] = 5;
    buffer[WARM_BYTES] = 6; // `DerefMut` counts the whole slot as touched
    buffer[65535] = 7;
    drop(buffer);
    let again = pool.take().unwrap();
    assert_eq!(again[0], 5, "the warm part stays");
    assert!(
        again[WARM_BYTES..].iter().all(|&b| b == 0),
        "the rest was released"
    );
}

#[test]
fn a_slot_pushed_out_of_the_warm_set_is_released_whole() {
    let pool = BufferPool::new(WARM_SLOTS + 1, 4096 * 8).unwrap();
    let mut taken: Vec<PoolBuffer> = (0..=WARM_SLOTS).map(|_| pool.take().unwrap()).collect();
    for buffer in &mut taken {
        write_first(buffer, 3);
    }
    let first_freed = taken[0].as_ptr();
    drop(taken); // in order: the first one freed falls off the bottom of the warm set
    let again: Vec<PoolBuffer> = (0..=WARM_SLOTS).map(|_| pool.take().unwrap()).collect();
    let cold = again.last().unwrap();
    assert_eq!(
        cold.as_ptr(),
        first_freed,
        "warm slots are handed out before cold ones"
    );
    assert_eq!(cold[0], 0, "released: its page is gone");
    assert!(
        again[..WARM_SLOTS].iter().all(|b| b[0] == 3),
        "the warm ones kept theirs"
    );
}

#[test]
fn every_slot_can_be_taken_once_and_comes_back() {
    let pool = BufferPool::new(3, 4096).unwrap();
    let taken: Vec<PoolBuffer> = (0..3).map(|_| pool.take().unwrap()).collect();
    let mut starts: Vec<*const u8> = taken.iter().map(|b| b.as_ptr()).collect();
    starts.dedup();
    assert_eq!(starts.len(), 3, "three distinct slots");
    assert!(pool.take().is_none());
    drop(taken);
    assert!((0..3).all(|_| pool.take().is_some()), "all three came back");
}

#[test]
fn an_impossible_size_is_an_error_not_a_panic() {
    let err = BufferPool::new(usize::MAX, 4096).err().unwrap();
    assert!(err.to_string().contains("cannot size a pool"), "{err}");
    assert!(BufferPool::new(0, 4096).is_err());
}
