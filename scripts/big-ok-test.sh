#!/usr/bin/env bash
# The lab's acceptance test (6.894 Lab 2), made local and self-checking.
#
#   1. fetch /~rtm/BIG through the proxy and watch the data go by;
#   2. freeze that client, as typing ^] in telnet does: it stops reading, data backs up;
#   3. fetch /~rtm/ok through a second client: "You were able to fetch the data." must
#      arrive within 2 s, because a frozen client may cost only its own pair;
#   4. wait for the hang rule: the frozen pair must be cut within T+1 s of backing up.
#
# Usage: scripts/big-ok-test.sh [--timeout T] [--client auto|telnet|fallback] [--keep]
#                               [--proxy CMD] [--big-size BYTES] [--trace] [--watch PORT]
#   --timeout T     the proxy's hang timeout (default 10, the lab's)
#   --client        telnet (fed through a FIFO, frozen with SIGSTOP), or fallback (bash's /dev/tcp
#                   and a bash read loop); auto uses telnet when installed
#   --keep          leave the demo server and proxy running afterwards, to explore
#   --trace         run tcpproxy with -vv and show what its threads did (see scripts/README.md,
#                   "Watch blocking I/O")
#   --watch PORT    serve the status page on http://127.0.0.1:PORT/ (`--metrics`; 0: any free
#                   port, printed) and pause before client 1 and after the cut, so a browser can
#                   watch pair 1 block, turn red and go (see docs/operating.md, "The status page")
#   --proxy CMD     test another proxy with the same interface: CMD DEST_HOST DEST_PORT LISTEN_PORT
#                   (it is told nothing of T; use --timeout to say what it should enforce)
# Exit status: 0 and PASS, or 1 and FAIL with the reason.

source "$(dirname "$0")/lib.sh"

TIMEOUT=10
CLIENT=auto
PROXY_CMD=
BIG_SIZE=$((64 * 1024 * 1024))
OK_DEADLINE=2
VERBOSITY=-v
WATCH_PORT=
# With --watch: time to open the page before client 1, and to see pair 1 gone after the cut.
WATCH_PAUSE=3
while [ $# -gt 0 ]; do
    case $1 in
        --timeout) TIMEOUT=$2; shift 2 ;;
        --client) CLIENT=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --proxy) PROXY_CMD=$2; shift 2 ;;
        --big-size) BIG_SIZE=$2; shift 2 ;;
        --trace) VERBOSITY=-vv; shift ;;
        --watch) WATCH_PORT=$2; shift 2 ;;
        -h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "big-ok-test.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done
case $CLIENT in
    auto) if command -v telnet >/dev/null; then CLIENT=telnet; else CLIENT=fallback; fi ;;
    telnet) command -v telnet >/dev/null || fail "--client telnet, but telnet is not installed" ;;
    fallback) ;;
    *) echo "big-ok-test.sh: --client must be auto, telnet or fallback" >&2; exit 2 ;;
esac
[ -n "$WATCH_PORT" ] && [ -n "$PROXY_CMD" ] && { echo "big-ok-test.sh: --watch needs our proxy, not --proxy" >&2; exit 2; }
need_binaries

# --watch: find the page's address in the log (port 0 picks one), check that it answers, print it.
watch_page() {
    local line answer reply=
    wait_for 'grep -q "status page on http://" "$PROXY_LOG"' 5 || fail "no status page line in the log"
    line=$(grep -m1 -o 'status page on http://[0-9.]*:[0-9]*/' "$PROXY_LOG")
    WATCH_PORT=${line##*:}; WATCH_PORT=${WATCH_PORT%/}
    # One GET of /pairs.json with bash's /dev/tcp: the page's data must be there before we invite.
    exec {answer}<>"/dev/tcp/127.0.0.1/$WATCH_PORT" || fail "the status page does not answer"
    printf 'GET /pairs.json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&"$answer"
    # Read to the server's close, for at most 5 s (read -d '' stops at EOF; its status then is 1).
    IFS= read -r -t 5 -d '' reply <&"$answer"
    case $reply in *'"pairs_live":0'*) ;; *) fail "/pairs.json does not say pairs_live 0: $reply" ;; esac
    exec {answer}>&-
    say "watch it: open http://127.0.0.1:$WATCH_PORT/ (the status page; it redraws every second)"
}

start_client() { # PORT REQUEST OUTFILE
    if [ "$CLIENT" = telnet ]; then telnet_client "$@"; else fallback_client "$@"; fi
}

step "Starting the demo server and the proxy (hang timeout ${TIMEOUT} s, client: $CLIENT)"
start_demo_server --big-size "$BIG_SIZE" 0
if [ -z "$PROXY_CMD" ]; then
    start_proxy "$DEMO_PORT" --timeout "$TIMEOUT" "$VERBOSITY" ${WATCH_PORT:+--metrics "127.0.0.1:$WATCH_PORT"}
    say "demo server on 127.0.0.1:$DEMO_PORT; tcpproxy (pid $PROXY_PID) on 127.0.0.1:$PROXY_PORT"
    [ -n "$WATCH_PORT" ] && watch_page
else
    PROXY_PORT=$(free_port)
    PROXY_LOG=$WORK/proxy.log
    $PROXY_CMD 127.0.0.1 "$DEMO_PORT" "$PROXY_PORT" >"$PROXY_LOG" 2>&1 &
    PROXY_PID=$!
    STARTED_PIDS+=("$PROXY_PID")
    wait_for 'listening_on "$PROXY_PORT"' 5 || fail "'$PROXY_CMD' did not listen on $PROXY_PORT"
    say "demo server on 127.0.0.1:$DEMO_PORT; '$PROXY_CMD' (pid $PROXY_PID) on 127.0.0.1:$PROXY_PORT"
fi

if [ -n "$WATCH_PORT" ]; then
    say "starting client 1 in $WATCH_PAUSE s: open the page now"
    sleep "$WATCH_PAUSE"
fi

step "Client 1: GET /~rtm/BIG through the proxy"
BIG_OUT=$WORK/big.out
start_client "$PROXY_PORT" "GET /~rtm/BIG" "$BIG_OUT"
FROZEN_PID=$CLIENT_PID
wait_for '[ "$(file_size "$BIG_OUT")" -gt 262144 ]' 10 ||
    fail "BIG did not start flowing through the proxy ($(file_size "$BIG_OUT") bytes in 10 s)"
say "the data goes by:"
grep -a 'BIG line' "$BIG_OUT" | head -n 2 | sed 's/^/    /'
say "    ..."

step "Freezing client 1 (SIGSTOP, as after ^] in telnet): it stops reading"
kill -STOP "$FROZEN_PID"
FROZEN_AT=$(now)
FROZEN_SIZE_AT_STOP=$(file_size "$BIG_OUT")
# Backed up = the proxy holds bytes for the client that do not move. Two equal non-zero readings
# 200 ms apart mean the client's receive window is shut and the proxy's write cannot progress.
READINGS=
backed_up() {
    local first second
    first=$(proxy_send_queue "$PROXY_PORT")
    sleep 0.2
    second=$(proxy_send_queue "$PROXY_PORT")
    READINGS="$READINGS $(elapsed "$FROZEN_AT"):$first/$second"
    [ "$first" -gt 0 ] && [ "$first" = "$second" ]
}
wait_for backed_up 10 || fail "freezing the client did not back data up in the proxy" \
    "(send queue toward it: $(proxy_send_queue "$PROXY_PORT") bytes; client 1 state:" \
    "$(awk '{ print $3 }' "/proc/$FROZEN_PID/stat" 2>/dev/null || echo gone);" \
    "readings, seconds after the freeze:send queue twice 0.2 s apart:$READINGS)"
BACKED_UP_AT=$(now)
say "the kernel queue of the proxy's socket toward client 1 holds $(proxy_send_queue "$PROXY_PORT") bytes that client 1 does not take"
if [ -z "$PROXY_CMD" ]; then
    say "the pair's threads, and where each sleeps in the kernel:"
    thread_waits "$PROXY_PID" | awk -F'\t' '
        $1 ~ /s->c/ { printf "    %-12s in write() toward client 1, its buffer full (wait channel %s)\n", $1, $2 }
        $1 ~ /c->s/ { printf "    %-12s in read() from client 1, which sends nothing (wait channel %s)\n", $1, $2 }'
fi

step "Client 2: GET /~rtm/ok through the proxy, while client 1 is frozen"
OK_OUT=$WORK/ok.out
OK_STARTED=$(now)
start_client "$PROXY_PORT" "GET /~rtm/ok" "$OK_OUT"
if ! wait_for 'grep -q "You were able to fetch the data." "$OK_OUT"' "$OK_DEADLINE"; then
    fail "/~rtm/ok did not arrive within ${OK_DEADLINE} s: the frozen client hangs the proxy"
fi
OK_TOOK=$(elapsed "$OK_STARTED")
grep -a -v -e '^Trying' -e '^Connected' -e '^Escape' "$OK_OUT" | sed 's/^/    /'
say "ok arrived in ${OK_TOOK} s: the proxy is not hung by the frozen client"

if [ -z "$PROXY_CMD" ]; then
    # Later in the freeze, so the blocked time is worth reading; still well before the cut.
    STATS_AT=$(awk -v t="$TIMEOUT" 'BEGIN { printf "%.2f", t * 0.7 }')
    wait_for '! at_most "$(elapsed "$BACKED_UP_AT")" "$STATS_AT"' $((${TIMEOUT%.*} + 2))
    step "The proxy's own view, ${STATS_AT} s after the data backed up: kill -USR1 $PROXY_PID"
    kill -USR1 "$PROXY_PID"
    wait_for 'grep -q "stats: " "$PROXY_LOG"' 2 || fail "no stats table in the log after SIGUSR1"
    # Every line of the table carries the `stats` marker, so one grep keeps the whole table.
    STATS=$(grep -a '(signals *) stats' "$PROXY_LOG" | sed 's/^.*(signals *) //; s/^/    /')
    say "$STATS"
    printf '%s\n' "$STATS" | grep -Eq '^ +stats +1 .*reading .*writing, blocked [0-9.]+ s, .* pending' ||
        fail "the table does not show pair 1 reading from client 1 and blocked writing to it"
    say "pair 1: its c->s thread waits in read() for client 1, its s->c thread is blocked in"
    say "write() toward client 1, holding the bytes client 1 does not take; pair 2 (ok) is long gone"
fi

step "Waiting for the hang rule to cut the frozen pair (timeout ${TIMEOUT} s)"
LIMIT=$(awk -v t="$TIMEOUT" 'BEGIN { print t + 1 }')
wait_for '[ "$(established_on "$PROXY_PORT")" -eq 0 ]' $((${TIMEOUT%.*} + 5)) ||
    fail "the frozen pair was never cut"
CUT_AFTER=$(elapsed "$BACKED_UP_AT")
at_most "$CUT_AFTER" "$LIMIT" ||
    fail "the frozen pair was cut ${CUT_AFTER} s after it backed up; the rule allows ${LIMIT} s"
say "the frozen pair was cut ${CUT_AFTER} s after its data backed up (allowed: ${LIMIT} s)"
if [ -z "$PROXY_CMD" ]; then
    wait_for 'grep -q "stall timeout toward client" "$PROXY_LOG"' 2 ||
        fail "the proxy's log does not say 'stall timeout toward client'"
    grep 'stall timeout toward client' "$PROXY_LOG" | sed 's/^.*) /    /'
fi
say "client 1 had received $FROZEN_SIZE_AT_STOP bytes when it froze"
if [ -n "$WATCH_PORT" ]; then
    say "the page now shows no live pair and 'stall toward client 1'; stopping in $WATCH_PAUSE s"
    sleep "$WATCH_PAUSE"
fi

if [ "$VERBOSITY" = -vv ] && [ -z "$PROXY_CMD" ]; then
    step "The trace (tcpproxy -vv): each line is [thread] what it did"
    trace() { sed 's/^[^ ]* \[[A-Z]*\] (\(.*\)) /    [\1] /'; }
    say "pair 1, client 1's BIG download, first lines:"
    grep -E 'pair 1 (c->s|s->c|open|connected)|\(main' "$PROXY_LOG" | head -n 8 | trace
    say "pair 1, from its last bytes to the cut (both threads asleep, waking only to check the clock):"
    grep -E '\(pair 1 ' "$PROXY_LOG" | sed -n '/wrote [0-9]* bytes to client/h; /wrote [0-9]* bytes to client/!H; ${x;p}' | trace
    say "pair 2, client 2's ok, meanwhile:"
    grep -E '\(pair 2 |pair 2 open' "$PROXY_LOG" | trace
fi

step "Result"
say "PASS: ok arrived in ${OK_TOOK} s (limit ${OK_DEADLINE} s); frozen pair cut after ${CUT_AFTER} s (limit ${LIMIT} s)"
