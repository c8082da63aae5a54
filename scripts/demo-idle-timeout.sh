#!/usr/bin/env bash
# The idle rule: a client that connects and says nothing is cut after the timeout, so it cannot
# hold a pair (two threads, two sockets) forever (docs/design.md, "The hang rule").
#
# Usage: scripts/demo-idle-timeout.sh [TIMEOUT]     (default 2 s)

source "$(dirname "$0")/lib.sh"
TIMEOUT=${1:-2}
need_binaries

start_demo_server 0
start_proxy "$DEMO_PORT" --timeout "$TIMEOUT"

step "A client connects and sends nothing (the proxy's hang timeout is ${TIMEOUT} s)"
started=$(now)
"$BIN_DIR/demo-client" 127.0.0.1 "$PROXY_PORT" >/dev/null 2>"$WORK/client.err"
took=$(elapsed "$started")
sed 's/^/    /' "$WORK/client.err"
at_most "$TIMEOUT" "$took" || fail "closed after ${took} s, before the ${TIMEOUT} s timeout"
at_most "$took" "$(awk -v t="$TIMEOUT" 'BEGIN { print t + 1.5 }')" || fail "closed only after ${took} s"
wait_for 'grep -q "closed: idle timeout" "$PROXY_LOG"' 2 || fail "the log does not say 'idle timeout'"
grep 'closed:' "$PROXY_LOG" | sed 's/^.*) /    /'
say "PASS: the silent client was cut after ${took} s"
