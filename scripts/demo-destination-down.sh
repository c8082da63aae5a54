#!/usr/bin/env bash
# A destination that is down: each client is closed at once with a warning in the log, the proxy
# keeps accepting, and once the destination comes up the next client is served.
#
# Usage: scripts/demo-destination-down.sh

source "$(dirname "$0")/lib.sh"
need_binaries

DEST_PORT=$(free_port)
start_proxy "$DEST_PORT" --timeout 5

step "The destination (127.0.0.1:$DEST_PORT) is down; a client connects"
started=$(now)
"$BIN_DIR/demo-client" --send "GET /~rtm/ok" 127.0.0.1 "$PROXY_PORT" >/dev/null 2>"$WORK/client.err"
took=$(elapsed "$started")
sed 's/^/    /' "$WORK/client.err"
at_most "$took" 1 || fail "the client waited ${took} s to be closed"
wait_for 'grep -q "connect failed" "$PROXY_LOG"' 2 || fail "no 'connect failed' warning in the log"
grep 'connect failed' "$PROXY_LOG" | sed 's/^.*) /    /'

step "The destination comes up; the next client is served"
start_demo_server "$DEST_PORT"
reply=$("$BIN_DIR/demo-client" --send "GET /~rtm/ok" 127.0.0.1 "$PROXY_PORT" 2>/dev/null)
[ "$reply" = "You were able to fetch the data." ] || fail "got '$reply'"
say "    $reply"
say "PASS: closed in ${took} s while down, served once up"
