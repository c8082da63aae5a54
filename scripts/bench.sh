#!/usr/bin/env bash
# make bench: measure tcpproxy against a direct loopback connection (and, with --peers, the bare
# relay built beside the bench, then socat, HAProxy, nginx's stream proxy and rinetd, those
# installed: `make bench-deps`; then redis-benchmark and wrk through each), and print markdown
# tables headed by the date and the machine.
#
# Usage: scripts/bench.sh [--quick] [--rounds N] [--peers] | --sweep | --scale N
#   default: 3 interleaved rounds, under 5 minutes; --quick: 1 short round, under a minute
#   (each peer adds about a third). --sweep: more pingers a step until tcpproxy falls behind;
#   --scale N: N idle pairs at once (both instead of the table).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/release/bench ] && [ -x target/release/tcpproxy ] || { echo "run 'make' first" >&2; exit 1; }
model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "## tcpproxy benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "Machine: $(nproc) cores (${model:-unknown CPU}), $(free -g | awk '/^Mem:/ { print $2 }') GiB, Linux $(uname -r)."
echo "Load generator, backend and proxy share these cores; compare ratios within one run only."
# The workloads open thousands of connections; give the benchmark the whole open-file budget.
ulimit -n "$(ulimit -Hn)"
exec target/release/bench --proxy target/release/tcpproxy "$@"
