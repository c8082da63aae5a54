//! A pair's one closing line: who, through which addresses, how many bytes, how long, and why it
//! ended.
//!
//! For people (`--log-format text`):
//!
//! ```text
//! pair 17 198.51.100.7:50312 -> 127.0.0.1:80 (via 127.0.0.1:41234) closed: client EOF+server EOF,
//!   up 1229 B (1.2 KiB), down 5557453 B (5.3 MiB), 2.41 s
//! ```
//!
//! (one line in the log). The `via` address is the proxy's own end of the destination connection:
//! what the destination's logs show as the client. Byte counts are exact, so a program can sum
//! them; the rounded form in brackets is for people. For programs (`--log-format json`) the same
//! facts are the `pair` event's fields, whose keys docs/reference.md lists as a stable contract. Nothing
//! here blocks.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::json::{self, Array, Object};
use crate::relay::close::CloseReason;
use crate::units::Bytes;

/// The facts of one finished pair.
pub struct PairReport {
    pub id: u64,
    pub client: SocketAddr,
    /// Our listening address the client connected to.
    pub listen: Option<SocketAddr>,
    /// Our end of the connection to the destination, if one was made.
    pub source: Option<SocketAddr>,
    /// The destination address connected to, or the name asked for if none answered.
    pub destination: String,
    /// The destination used (or the last one tried), HOST:PORT as the command line gave it.
    pub destination_name: Arc<str>,
    /// The destinations tried before it, each of which failed, HOST:PORT as given.
    pub failed_over: Vec<Arc<str>>,
    pub reason: CloseReason,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub duration: Duration,
}

impl PairReport {
    /// The `pair` event's fields.
    pub fn fields(&self, out: &mut Object) {
        out.u64("id", self.id)
            .str("client", self.client)
            .opt_str("listen", self.listen)
            .opt_str("source", self.source)
            .str("destination", &self.destination)
            .str("destination_name", &self.destination_name)
            .json("failed_over", self.failed_over_json())
            .u64("bytes_up", self.bytes_up)
            .u64("bytes_down", self.bytes_down)
            .f64("duration_s", self.duration.as_secs_f64())
            .str("reason", self.reason.code())
            .str("reason_text", &self.reason);
    }

    fn failed_over_json(&self) -> Array {
        let mut names = Array::default();
        for name in &self.failed_over {
            names.push(json::string(&**name));
        }
        names
    }

    /// What the line adds after the address: the name, when it says more than the address, and
    /// the destinations that failed first. `None` for the lab's one IP literal, reached at once.
    fn route(&self) -> Option<String> {
        let mut parts = Vec::new();
        if *self.destination_name != *self.destination {
            parts.push(self.destination_name.to_string());
        }
        if !self.failed_over.is_empty() {
            parts.push(format!("after {} failed", self.failed_over.join(", ")));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

impl fmt::Display for PairReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pair {} {} -> {}",
            self.id, self.client, self.destination
        )?;
        if let Some(route) = self.route() {
            write!(f, " ({route})")?;
        }
        if let Some(source) = self.source {
            write!(f, " (via {source})")?;
        }
        write!(
            f,
            " closed: {}, up {}, down {}, {:.2} s",
            self.reason,
            Bytes(self.bytes_up).exact(),
            Bytes(self.bytes_down).exact(),
            self.duration.as_secs_f64()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(reason: CloseReason) -> PairReport {
        PairReport {
            id: 17,
            client: "198.51.100.7:50312".parse().unwrap(),
            listen: Some("127.0.0.1:3000".parse().unwrap()),
            source: Some("127.0.0.1:41234".parse().unwrap()),
            destination: "127.0.0.1:80".into(),
            destination_name: "127.0.0.1:80".into(),
            failed_over: Vec::new(),
            reason,
            bytes_up: 1229,
            bytes_down: 5_557_453,
            duration: Duration::from_millis(2410),
        }
    }

    #[test]
    fn close_line_reads_as_documented() {
        assert_eq!(
            report(CloseReason::BothEof).to_string(),
            "pair 17 198.51.100.7:50312 -> 127.0.0.1:80 (via 127.0.0.1:41234) closed: \
             client EOF+server EOF, up 1229 B (1.2 KiB), down 5557453 B (5.3 MiB), 2.41 s"
        );
    }

    #[test]
    fn a_failover_and_a_name_are_told_after_the_address() {
        let mut moved = report(CloseReason::BothEof);
        moved.destination = "127.0.0.3:5432".into();
        moved.destination_name = "db:5432".into();
        moved.failed_over = vec!["127.0.0.2:5432".into(), "[::1]:5432".into()];
        let line = moved.to_string();
        let expected = "pair 17 198.51.100.7:50312 -> 127.0.0.3:5432 (db:5432, after \
                        127.0.0.2:5432, [::1]:5432 failed) (via 127.0.0.1:41234) closed: ";
        assert!(line.starts_with(expected), "{line}");
        let mut out = Object::new();
        moved.fields(&mut out);
        let text = out.finish();
        let keys = r#""destination_name":"db:5432","failed_over":["127.0.0.2:5432","[::1]:5432"]"#;
        assert!(text.contains(keys), "{text}");
    }

    #[test]
    fn json_fields_use_the_documented_keys() {
        let mut out = Object::new();
        report(CloseReason::BothEof).fields(&mut out);
        assert_eq!(
            out.finish(),
            r#"{"id":17,"client":"198.51.100.7:50312","listen":"127.0.0.1:3000","source":"127.0.0.1:41234","destination":"127.0.0.1:80","destination_name":"127.0.0.1:80","failed_over":[],"bytes_up":1229,"bytes_down":5557453,"duration_s":2.41,"reason":"both_eof","reason_text":"client EOF+server EOF"}"#
        );
    }
}
