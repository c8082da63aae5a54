//! The `tcpproxy` command: parse the command line, run the proxy, map the outcome to an exit
//! status. Everything else is in the library (`src/lib.rs`).
//!
//! Exit status: 0 after a clean stop (SIGINT/SIGTERM, or an upgrade's handover to the new
//! process), 1 if the proxy cannot start (with one line on stderr saying what and why), 2 for a
//! bad command line (clap prints the usage), 130 after a second signal.

use std::process::ExitCode;

use clap::Parser;

use tcpproxy::cli::Options;
use tcpproxy::signals::stops;

/// Exit status for a fatal start-up error; clap itself exits 2 for a bad command line.
const EXIT_STARTUP_FAILED: u8 = 1;

fn main() -> ExitCode {
    let options = Options::parse();
    match tcpproxy::run(&options) {
        // A second signal exits 130 from the `signals` thread; the main thread may finish first.
        Ok(()) if stops::exiting_on_a_second_signal() => {
            ExitCode::from(stops::EXIT_ON_SECOND_SIGNAL as u8)
        }
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            tcpproxy::operator::announce::failure(&why);
            ExitCode::from(EXIT_STARTUP_FAILED)
        }
    }
}
