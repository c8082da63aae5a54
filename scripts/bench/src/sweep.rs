//! `--sweep`: where thread-per-pair stops keeping up. Pingers (each a 64 B ping every 100 ms)
//! through direct and tcpproxy, 500 more at each step, until tcpproxy answers fewer than 95 % of
//! what direct does. Each step's pairs are made afresh, and each step first waits until the proxy
//! has retired the last step's threads, so direct is not measured beside a proxy still tearing
//! down thousands of pairs. The host's steal is printed per step: direct's own p99 goes from under
//! a millisecond to over ten when the host takes a tenth of the CPUs (see `steal`).

use std::io;
use std::process::Child;

use crate::measure::pingers;
use crate::steal;
use crate::target::Target;
use crate::usage::settled_usage;
use crate::Lengths;

/// The counts tried, in order; the sweep ends with the first at which tcpproxy falls short.
const COUNTS: [usize; 8] = [500, 1000, 1500, 2000, 2500, 3000, 3500, 4000];

/// Print one table row per count: direct's and tcpproxy's answered pings a second and p99, the
/// proxy's CPU and the host's steal meanwhile.
pub(crate) fn sweep(direct: &Target, proxy: &Target, lengths: &Lengths) -> io::Result<()> {
    println!(
        "\nPingers every 100 ms, direct and through {}.\n",
        proxy.name
    );
    println!(
        "| pingers | offered pings/s | direct answered/s | direct p99 (ms) | {0} answered/s \
         | vs direct | {0} p99 (ms) | {0} CPU (% of one core) | steal (%) |",
        proxy.name
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let pid = proxy.process.as_ref().map(Child::id);
    for count in COUNTS {
        if let Some(pid) = pid {
            settled_usage(pid);
        }
        let began = steal::now();
        let (direct_p99, direct_rate, _) = pingers(direct.addr, count, None, lengths)?;
        let (p99, rate, cpu) = pingers(proxy.addr, count, pid, lengths)?;
        let stolen = began.steal_percent_until(steal::now()).unwrap_or(f64::NAN);
        let ratio = rate / direct_rate;
        println!(
            "| {count} | {} | {direct_rate:.0} | {direct_p99:.2} | {rate:.0} | {ratio:.2}× | \
             {p99:.2} | {:.0} | {stolen:.2} |",
            count * 10,
            cpu.unwrap_or(f64::NAN)
        );
        if ratio < 0.95 {
            break;
        }
    }
    Ok(())
}
