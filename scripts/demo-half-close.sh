#!/usr/bin/env bash
# Half-close: a client sends its request and then EOF (shutdown of its write half), and still
# receives the whole answer. The proxy passes the EOF on to the server and keeps the other direction
# open (docs/design.md, "Half-close"). A proxy that closed both sides at the first EOF would cut the answer short.
#
# Usage: scripts/demo-half-close.sh [--big-size BYTES]     (default 8 MiB)

source "$(dirname "$0")/lib.sh"
SIZE=${2:-$((8 * 1024 * 1024))}
[ "${1:-}" = "--big-size" ] || [ -z "${1:-}" ] || { echo "usage: $0 [--big-size BYTES]" >&2; exit 2; }
need_binaries

start_demo_server --big-size "$SIZE" 0
start_proxy "$DEMO_PORT" --timeout 5 -v

step "GET /~rtm/BIG, then EOF at once (demo-client --half-close)"
"$BIN_DIR/demo-client" --send "GET /~rtm/BIG" --half-close 127.0.0.1 "$PROXY_PORT" >"$WORK/body" 2>"$WORK/client.err" ||
    fail "the client failed: $(cat "$WORK/client.err")"
sed 's/^/    /' "$WORK/client.err"
got=$(file_size "$WORK/body")
[ "$got" -eq "$SIZE" ] || fail "received $got of $SIZE bytes after half-closing"
say "last line received:"
tail -n 1 "$WORK/body" | sed 's/^/    /'
wait_for 'grep -q "closed: client EOF+server EOF" "$PROXY_LOG"' 5 || fail "no 'client EOF+server EOF' in the log"
say "the proxy's log:"
grep 'closed:' "$PROXY_LOG" | sed 's/^.*) /    /'
say "PASS: the whole body ($SIZE bytes) arrived after the client's EOF"
