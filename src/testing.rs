//! For the unit tests only: a connected pair of real loopback sockets, as a pump sees them.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// How long a test peer waits for anything before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A connected pair of loopback sockets: (the proxy's end, the peer's end). The peer's calls time
/// out after [`PATIENCE`], so a test that goes wrong fails instead of hanging.
pub fn connected() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (ours, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(PATIENCE)).unwrap();
    peer.set_write_timeout(Some(PATIENCE)).unwrap();
    (ours, peer)
}

/// A loopback address nothing listens on: a listener's, closed again, so a connect is refused.
pub fn closed_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}
