#!/usr/bin/env bash
# Runs every script in scripts/ as a test (part of `make test`): the BIG/ok lab test with telnet,
# with the bash fallback client and with its status page (--watch), the same test against a proxy
# that serves one client at a time (it must say FAIL), each demo, `make` while ./tcpproxy runs, systemd-analyze verify on the units
# and `make install` into a temporary root. Ends with the line
# "N passed, M failed".
#
# Two lanes run at once: the lab and demo scripts (mostly waiting for timeouts), and the ones
# that run make or systemd's tools (mostly compiling). Within a lane, one script at a time; each
# script's result is printed in the order below once both lanes are done.

cd "$(dirname "$0")/.." || exit 1
LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tcpproxy-scripts.XXXXXX")

# check NAME EXPECTED_STATUS EXPECTED_TEXT COMMAND...: run it, and write its verdict beside its
# output ($LOG_DIR/NAME.verdict: "ok", or what went wrong).
check() {
    local name=$1 want_status=$2 want_text=$3 status
    shift 3
    "$@" >"$LOG_DIR/$name.out" 2>&1
    status=$?
    if [ "$status" -eq "$want_status" ] && grep -q "$want_text" "$LOG_DIR/$name.out"; then
        echo ok >"$LOG_DIR/$name.verdict"
    else
        echo "FAILED (status $status, wanted $want_status and \"$want_text\")" >"$LOG_DIR/$name.verdict"
    fi
}

command -v telnet >/dev/null || echo "telnet is not installed: 'make test' installs it (make test-deps)"
waiting_lane() {
    check big-ok-telnet 0 '^PASS' scripts/big-ok-test.sh --timeout 2 --client telnet
    check big-ok-fallback 0 '^PASS' scripts/big-ok-test.sh --timeout 2 --client fallback
    check big-ok-watch 0 '^PASS' scripts/big-ok-test.sh --timeout 2 --client fallback --watch 0
    check big-ok-fails-on-serial-proxy 1 '^FAIL: /~rtm/ok did not arrive' \
        scripts/big-ok-test.sh --timeout 2 --client fallback --proxy "python3 scripts/serial-proxy.py"
    check demo-half-close 0 '^PASS' scripts/demo-half-close.sh
    check demo-idle-timeout 0 '^PASS' scripts/demo-idle-timeout.sh 1
    check demo-destination-down 0 '^PASS' scripts/demo-destination-down.sh
    check demo-many-clients 0 '^PASS' scripts/demo-many-clients.sh 50
}
building_lane() {
    check make-while-running 0 '^PASS' scripts/make-while-running.sh
    check verify-units 0 '^PASS' scripts/verify-units.sh
    check install 0 '^PASS' scripts/install-test.sh
    check socket-restart 0 '^PASS' scripts/socket-restart.py
}
waiting_lane &
building_lane &
wait

passed=0
failed=0
for name in big-ok-telnet big-ok-fallback big-ok-watch big-ok-fails-on-serial-proxy \
    demo-half-close demo-idle-timeout demo-destination-down demo-many-clients \
    make-while-running verify-units install socket-restart; do
    verdict=$(cat "$LOG_DIR/$name.verdict" 2>/dev/null || echo "FAILED (it did not run)")
    printf 'script %-32s %s\n' "$name" "$verdict"
    if [ "$verdict" = ok ]; then
        passed=$((passed + 1))
    else
        echo "    its output:"
        sed 's/^/    /' "$LOG_DIR/$name.out" 2>/dev/null
        failed=$((failed + 1))
    fi
done
rm -rf "$LOG_DIR"
echo "scripts: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
