#!/usr/bin/env bash
# `make` while ./tcpproxy is running: the build must succeed and the running proxy must go on
# serving. Linux refuses to write over the file of a running program ("Text file busy"), so the
# Makefile writes the new binary beside ./tcpproxy and renames it over the old one; the running
# process keeps its old file, now unlinked.
#
# Usage: scripts/make-while-running.sh     (runs `make build`: cargo's part is quick once built)

source "$(dirname "$0")/lib.sh"
need_binaries
[ -x "$ROOT/tcpproxy" ] || fail "$ROOT/tcpproxy is missing: run 'make' first"

start_demo_server 0
# The proxy from the repo root, ./tcpproxy, the file `make` replaces (start_proxy runs
# $BIN_DIR/tcpproxy; the assignment holds for this call only).
BIN_DIR=$ROOT start_proxy "$DEMO_PORT"
[ "$(readlink "/proc/$PROXY_PID/exe")" = "$ROOT/tcpproxy" ] || fail "the proxy is not $ROOT/tcpproxy"

step "make build while ./tcpproxy (pid $PROXY_PID) serves on 127.0.0.1:$PROXY_PORT"
${MAKE:-make} -C "$ROOT" build >"$WORK/make.out" 2>&1 ||
    fail "make failed while ./tcpproxy ran: $(tail -n 3 "$WORK/make.out")"
grep -E '^(cp|mv) ' "$WORK/make.out" | sed 's/^/    /'
cmp -s "$ROOT/tcpproxy" "$BIN_DIR/tcpproxy" || fail "./tcpproxy is not the build's tcpproxy"
[ ! -e "$ROOT/.tcpproxy.new" ] || fail "make left $ROOT/.tcpproxy.new behind"

step "The running proxy kept its old, now unlinked, file and still serves"
kill -0 "$PROXY_PID" 2>/dev/null || fail "the proxy (pid $PROXY_PID) is gone"
exe=$(readlink "/proc/$PROXY_PID/exe")
[ "$exe" = "$ROOT/tcpproxy (deleted)" ] || fail "the proxy runs '$exe', not the replaced file"
say "    /proc/$PROXY_PID/exe -> $exe"
reply=$("$BIN_DIR/demo-client" --send "GET /~rtm/ok" 127.0.0.1 "$PROXY_PORT" 2>/dev/null)
[ "$reply" = "You were able to fetch the data." ] || fail "through the proxy after make: '$reply'"
say "    $reply"
say "PASS: make replaced ./tcpproxy while it ran, and the proxy served on"
