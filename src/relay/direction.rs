//! The two sides of a pair and the two directions bytes flow between them.
//!
//! Small vocabulary types shared by the pump, the hang rule and the log line, so that "which way"
//! is always said the same way: `c->s` carries what the client sends to the server (upload), `s->c`
//! what the server sends back (download).

use std::fmt;

/// One end of a pair: the client that connected to us, or the destination server we connected to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// One direction of a pair; each has its own thread and its own buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    pub const BOTH: [Direction; 2] = [Direction::ClientToServer, Direction::ServerToClient];

    /// The side this direction reads from.
    pub fn source(self) -> Side {
        match self {
            Direction::ClientToServer => Side::Client,
            Direction::ServerToClient => Side::Server,
        }
    }

    /// The side this direction writes to.
    pub fn sink(self) -> Side {
        match self {
            Direction::ClientToServer => Side::Server,
            Direction::ServerToClient => Side::Client,
        }
    }

    /// A small index, for per-direction arrays of counters.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The short name used in thread names and logs.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::ClientToServer => "c->s",
            Direction::ServerToClient => "s->c",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Client => "client",
            Side::Server => "server",
        })
    }
}
