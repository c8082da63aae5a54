#!/usr/bin/env bash
# Many clients at once: 50 fetch BIG through the proxy at the same time, each on its own pair of
# threads, and every one receives every byte (compared with a direct fetch).
#
# Usage: scripts/demo-many-clients.sh [CLIENTS]     (default 50)

source "$(dirname "$0")/lib.sh"
CLIENTS=${1:-50}
SIZE=$((2 * 1024 * 1024))
need_binaries

start_demo_server --big-size "$SIZE" 0
start_proxy "$DEMO_PORT" --timeout 10

"$BIN_DIR/demo-client" --send "GET /~rtm/BIG" 127.0.0.1 "$DEMO_PORT" >"$WORK/direct" 2>/dev/null ||
    fail "direct fetch failed"
step "$CLIENTS clients fetch $SIZE bytes each through the proxy, all at once"
started=$(now)
pids=()
for i in $(seq 1 "$CLIENTS"); do
    "$BIN_DIR/demo-client" --send "GET /~rtm/BIG" 127.0.0.1 "$PROXY_PORT" >"$WORK/c$i" 2>"$WORK/c$i.err" &
    pids+=("$!")
done
STARTED_PIDS+=("${pids[@]}")
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
took=$(elapsed "$started")
[ "$failed" -eq 0 ] || fail "$failed clients failed"
for i in $(seq 1 "$CLIENTS"); do
    cmp -s "$WORK/direct" "$WORK/c$i" || fail "client $i received different bytes ($(file_size "$WORK/c$i") bytes)"
done
say "all $CLIENTS bodies identical to the direct fetch, in ${took} s"
wait_for '[ "$(grep -c "client EOF+server EOF" "$PROXY_LOG")" -ge "$CLIENTS" ]' 5 ||
    fail "not every pair ended with both EOFs"
say "PASS: $CLIENTS pairs, $((CLIENTS * SIZE)) bytes, every byte right"
