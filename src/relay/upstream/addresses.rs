//! A destination's addresses: what its name resolves to now, and the one call that asks.
//!
//! An IP literal's address never changes, so it is kept as it is and read without a lock: the
//! one-destination path of the lab (`tcpproxy 127.0.0.1 80 3000`) pays nothing for names that
//! move. A name's addresses are an `Arc` swapped under a `Mutex`: the resolver thread
//! (`resolver.rs`) replaces them whole, and a pair about to connect holds the lock only to clone
//! the `Arc`, never while the resolver waits for an answer. A live pair keeps the addresses it
//! connected with; the next pairs get the new ones.
//!
//! Blocking: [`resolve`] blocks in `getaddrinfo`, on the main thread at start-up and on the
//! resolver thread after it, never on a pair's thread. The lock is held for a clone or a swap.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// What one name resolves to, in the resolver's order (the order pairs try them in).
pub type List = Arc<[SocketAddr]>;

/// A destination's addresses.
#[derive(Debug)]
pub enum Addresses {
    /// An IP literal's one address, or a name with `--resolve-interval 0`.
    Fixed(List),
    /// A name the resolver thread re-resolves.
    Moving(Mutex<List>),
}

/// The addresses a pair connects with: borrowed when fixed, a clone of the `Arc` when moving.
pub enum Current<'a> {
    Fixed(&'a [SocketAddr]),
    Moving(List),
}

impl Deref for Current<'_> {
    type Target = [SocketAddr];

    fn deref(&self) -> &[SocketAddr] {
        match self {
            Current::Fixed(list) => list,
            Current::Moving(list) => list,
        }
    }
}

impl Addresses {
    pub fn new(list: Vec<SocketAddr>, moving: bool) -> Self {
        let list: List = list.into();
        if moving {
            Addresses::Moving(Mutex::new(list))
        } else {
            Addresses::Fixed(list)
        }
    }

    pub fn current(&self) -> Current<'_> {
        match self {
            Addresses::Fixed(list) => Current::Fixed(list),
            Addresses::Moving(list) => Current::Moving(Arc::clone(&lock(list))),
        }
    }

    /// Use `list` from now on; the addresses it replaces, or `None` if they are the same set
    /// (a resolver that rotates its answers is not a move) or these addresses never move.
    pub fn replace(&self, list: Vec<SocketAddr>) -> Option<List> {
        let Addresses::Moving(current) = self else {
            return None;
        };
        let mut current = lock(current);
        if same_set(&current, &list) {
            return None;
        }
        Some(std::mem::replace(&mut *current, list.into()))
    }
}

/// The lock guards a plain `Arc`, consistent whatever a panicking holder did.
fn lock(list: &Mutex<List>) -> MutexGuard<'_, List> {
    list.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Ask the system's resolver (`getaddrinfo`: /etc/hosts, DNS, as nsswitch.conf says) what
/// `host` is; an IP literal is answered without asking anyone.
pub fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    Ok((host, port).to_socket_addrs()?.collect())
}

/// The same addresses, in whatever order.
fn same_set(a: &[SocketAddr], b: &[SocketAddr]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_unstable();
    a.dedup();
    b.sort_unstable();
    b.dedup();
    a == b
}

/// `127.0.0.2:5432, 127.0.0.3:5432`, for the log.
pub fn join(list: &[SocketAddr]) -> String {
    let words: Vec<String> = list.iter().map(ToString::to_string).collect();
    words.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &[&str]) -> Vec<SocketAddr> {
        text.iter().map(|t| t.parse().unwrap()).collect()
    }

    #[test]
    fn a_moving_list_is_replaced_only_by_a_different_set() {
        let a = list(&["127.0.0.2:5", "127.0.0.3:5"]);
        let addresses = Addresses::new(a.clone(), true);
        let rotated = list(&["127.0.0.3:5", "127.0.0.2:5"]);
        assert!(addresses.replace(rotated).is_none());
        assert_eq!(&*addresses.current(), &a[..]);
        let moved = list(&["127.0.0.4:5"]);
        let old = addresses.replace(moved.clone()).expect("a move");
        assert_eq!(&old[..], &a[..]);
        assert_eq!(&*addresses.current(), &moved[..]);
        assert_eq!(join(&addresses.current()), "127.0.0.4:5");
    }

    #[test]
    fn a_fixed_list_never_moves() {
        let a = list(&["[::1]:80"]);
        let addresses = Addresses::new(a.clone(), false);
        assert!(addresses.replace(list(&["127.0.0.1:80"])).is_none());
        assert_eq!(&*addresses.current(), &a[..]);
        assert_eq!(resolve("::1", 80).unwrap(), a);
    }
}
