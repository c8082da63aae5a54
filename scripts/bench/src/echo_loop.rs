//! The backend's echo for the pingers (mode `P`): one epoll loop for all their connections, so
//! 4,000 pingers wake one backend thread per batch of pings instead of one thread per ping. The
//! backend's other modes stay blocking, a thread per connection; at 40,000 pings a second those
//! threads' wake-ups, not the proxy, would set direct's p99.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread;

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

/// Hands accepted pinger connections to the echo loop.
pub(crate) struct EchoLoop {
    epoll: Arc<Epoll>,
    handoff: Sender<TcpStream>,
}

impl EchoLoop {
    /// Start the loop's thread, which lives as long as the process (as the backend does).
    pub(crate) fn start() -> io::Result<EchoLoop> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)
            .map_err(|e| io::Error::other(format!("epoll_create: {e}")))?;
        let epoll = Arc::new(epoll);
        let (handoff, streams) = mpsc::channel();
        let looping = Arc::clone(&epoll);
        thread::Builder::new()
            .name("echo-loop".into())
            .spawn(move || run(&looping, &streams))?;
        Ok(EchoLoop { epoll, handoff })
    }

    /// Echo on `stream` from now on: registered while this thread still holds it, then handed
    /// over. An event that comes before the stream does finds nothing and stays pending (epoll is
    /// level-triggered), so the loop sees it again once the stream has arrived.
    pub(crate) fn add(&self, stream: TcpStream) -> io::Result<()> {
        stream.set_nonblocking(true)?;
        let event = EpollEvent::new(EpollFlags::EPOLLIN, stream.as_raw_fd() as u64);
        self.epoll
            .add(stream.as_fd(), event)
            .map_err(|e| io::Error::other(format!("epoll_ctl: {e}")))?;
        self.handoff
            .send(stream)
            .map_err(|_| io::Error::other("the echo loop has stopped"))
    }
}

/// Echo whatever each readable connection has, for the life of the process; each wake-up handles
/// at most one batch of events.
fn run(epoll: &Epoll, handed: &Receiver<TcpStream>) {
    let mut streams: HashMap<RawFd, TcpStream> = HashMap::new();
    let mut events = vec![EpollEvent::empty(); 1024];
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let ready = match epoll.wait(&mut events, EpollTimeout::NONE) {
            Ok(ready) => ready,
            Err(Errno::EINTR) => continue,
            Err(_) => return,
        };
        for event in &events[..ready] {
            let fd = event.data() as RawFd;
            if !streams.contains_key(&fd) {
                streams.extend(handed.try_iter().map(|s| (s.as_raw_fd(), s)));
            }
            let Some(stream) = streams.get_mut(&fd) else {
                continue;
            };
            if !echo(stream, &mut buffer) {
                streams.remove(&fd); // closing it also takes it out of the epoll set
            }
        }
    }
}

/// Echo what `stream` has; false once it is closed or broken. A pinger has one 64-byte ping in
/// flight, so the reply always fits the empty send buffer whole.
fn echo(stream: &mut TcpStream, buffer: &mut [u8]) -> bool {
    match stream.read(buffer) {
        Ok(0) => false,
        Ok(n) => matches!(stream.write(&buffer[..n]), Ok(w) if w == n),
        Err(e) => matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
        ),
    }
}
