# Shared helpers for the scripts in scripts/: starting the demo server and the proxy on free
# loopback ports, lab clients, reading the kernel's socket tables, and cleaning up.
# Source it; it expects bash. Everything stays on 127.0.0.1.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR=${BIN_DIR:-$ROOT/target/release}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tcpproxy-demo.XXXXXX")
STARTED_PIDS=()
KEEP=0

say() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }
fail() {
    printf 'FAIL: %s\n' "$*"
    if [ -s "${PROXY_LOG:-}" ]; then
        echo "the proxy's log, last lines:"
        tail -n 5 "$PROXY_LOG" | sed 's/^/    /'
    fi
    exit 1
}

# Ends every process this script started (by pid), wakes a frozen client first, removes $WORK.
cleanup() {
    local pid
    if [ "$KEEP" = 1 ]; then
        say "--keep: leaving ${STARTED_PIDS[*]} running; stop them with: kill ${STARTED_PIDS[*]}"
        [ -n "${DEMO_PORT:-}" ] && say "    demo server: 127.0.0.1:$DEMO_PORT"
        [ -n "${PROXY_PORT:-}" ] && say "    proxy: 127.0.0.1:$PROXY_PORT (pid ${PROXY_PID:-?}), its log: ${PROXY_LOG:-none}"
        say "    try: telnet 127.0.0.1 ${PROXY_PORT:-PORT}, then type GET /~rtm/ok"
        return
    fi
    for pid in "${STARTED_PIDS[@]}"; do
        kill -CONT "$pid" 2>/dev/null
        kill "$pid" 2>/dev/null
    done
    for pid in "${STARTED_PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need_binaries() {
    local b
    for b in tcpproxy demo-server demo-client; do
        [ -x "$BIN_DIR/$b" ] || fail "$BIN_DIR/$b is missing: run 'make' first"
    done
}

# wait_for CONDITION-COMMAND SECONDS: evaluates the condition every 50 ms until it holds (status 0)
# or SECONDS (a whole number) have passed (status 1).
wait_for() {
    local deadline=$(( $(date +%s%N) + $2 * 1000000000 ))
    while [ "$(date +%s%N)" -lt "$deadline" ]; do
        eval "$1" && return 0
        sleep 0.05
    done
    return 1
}

# start_demo_server [ARGS...]: sets DEMO_PORT and DEMO_PID.
start_demo_server() {
    "$BIN_DIR/demo-server" "$@" >"$WORK/demo-server.out" 2>"$WORK/demo-server.log" &
    DEMO_PID=$!
    STARTED_PIDS+=("$DEMO_PID")
    wait_for 'grep -q "listening on" "$WORK/demo-server.out"' 5 || fail "demo-server did not start"
    DEMO_PORT=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$WORK/demo-server.out")
}

# start_proxy DEST_PORT [OPTIONS...]: our proxy on port 0; sets PROXY_PORT, PROXY_PID, PROXY_LOG.
start_proxy() {
    local dest_port=$1
    shift
    PROXY_LOG=$WORK/proxy.log
    "$BIN_DIR/tcpproxy" "$@" --bind 127.0.0.1 127.0.0.1 "$dest_port" 0 2>"$PROXY_LOG" &
    PROXY_PID=$!
    STARTED_PIDS+=("$PROXY_PID")
    wait_for 'grep -q "listening on" "$PROXY_LOG"' 5 || fail "tcpproxy did not start: $(cat "$PROXY_LOG")"
    PROXY_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$PROXY_LOG")
}

# free_port: a loopback port nobody listens on (for programs that cannot take port 0). It is drawn
# from below the kernel's ephemeral range, so no outgoing connection can be using it as its own.
free_port() {
    local low port tries=100
    low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    while [ "$tries" -gt 0 ]; do
        port=$(( 10000 + RANDOM % (low - 10000) ))
        if ! listening_on "$port" && [ "$(established_on "$port")" -eq 0 ]; then
            echo "$port"
            return 0
        fi
        tries=$((tries - 1))
    done
    fail "no free port found"
}

# The kernel's TCP tables, IPv4 and IPv6, for the sockets whose local or remote port is $1, one per
# line: "local_port remote_port state tx_queue rx_queue" (ports and queues in decimal; state as the
# kernel's hex code: 01 established, 0A listening). grep picks the lines first: after a test run the
# tables can hold thousands of TIME_WAIT sockets, too many to decode one by one in bash.
sockets_on() {
    local hex sl local_addr remote_addr state queues rest
    hex=$(printf '%04X' "$1")
    grep -h ":$hex " /proc/net/tcp /proc/net/tcp6 2>/dev/null |
        while read -r sl local_addr remote_addr state queues rest; do
            echo "$((16#${local_addr##*:})) $((16#${remote_addr##*:})) $state" \
                "$((16#${queues%%:*})) $((16#${queues##*:}))"
        done
}

listening_on() { sockets_on "$1" | awk -v p="$1" '$1 == p && $3 == "0A" { found = 1 } END { exit !found }'; }

# Bytes the proxy holds in its send queues toward clients of port $1 (established sockets only).
proxy_send_queue() { sockets_on "$1" | awk -v p="$1" '$1 == p && $3 == "01" { s += $4 } END { print s + 0 }'; }

# Established connections on the proxy's side of port $1.
established_on() { sockets_on "$1" | awk -v p="$1" '$1 == p && $3 == "01" { n++ } END { print n + 0 }'; }

# Where each thread of process $1 is sleeping in the kernel: "name<TAB>wchan" lines.
thread_waits() {
    local task
    for task in /proc/"$1"/task/*; do
        printf '%s\t%s\n' "$(cat "$task/comm" 2>/dev/null)" "$(cat "$task/wchan" 2>/dev/null)"
    done
}

# fallback_client PORT REQUEST OUTFILE: bash's /dev/tcp and a line-by-line reader, in the
# background; sets CLIENT_PID.
#
# The reader is a bash `read` loop, not `cat`: bash reads a socket a byte at a time, so it takes a
# few MB/s, about as fast as telnet printing to a terminal. `cat` took the whole 64 MiB BIG in well
# under the 50 ms between our looks at its output, so on a fast machine the download could finish
# before we froze it, and nothing backed up. The loop uses only builtins, so CLIENT_PID (the
# background subshell) is exactly the process that reads the socket and stopping it freezes the
# reader. Our copy of the socket is closed right after.
fallback_client() {
    local socket
    exec {socket}<>"/dev/tcp/127.0.0.1/$1" || fail "cannot connect to 127.0.0.1:$1"
    printf '%s\r\n' "$2" >&"$socket"
    # `|| [ -n "$line" ]` keeps a last line that has no newline (the ok page ends without one).
    while IFS= read -r line || [ -n "$line" ]; do
        printf '%s\n' "$line"
    done <&"$socket" >"$3" 2>>"$3.err" &
    CLIENT_PID=$!
    STARTED_PIDS+=("$CLIENT_PID")
    exec {socket}>&-
}

# telnet_client PORT REQUEST OUTFILE: real telnet, its input a FIFO we keep open (so it does not
# see EOF and quit); sets CLIENT_PID.
telnet_client() {
    local fifo
    fifo=$WORK/telnet-in.$RANDOM
    mkfifo "$fifo"
    telnet 127.0.0.1 "$1" <"$fifo" >"$3" 2>>"$3.err" &
    CLIENT_PID=$!
    STARTED_PIDS+=("$CLIENT_PID")
    exec {TELNET_FD}>"$fifo"
    printf '%s\r\n' "$2" >&"$TELNET_FD"
}

file_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# now: seconds since the epoch with milliseconds; elapsed FROM: seconds since FROM.
now() { date +%s.%3N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# at_most X Y: is X <= Y (decimals)?
at_most() { awk -v x="$1" -v y="$2" 'BEGIN { exit !(x <= y) }'; }
