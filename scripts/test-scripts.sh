#!/usr/bin/env bash
# Runs every script in scripts/ as a test (part of `make test`): the BIG/ok lab test with telnet,
# with the bash fallback client and with its status page (--watch), the same test against a proxy
# that serves one client at a time (it must say FAIL), each demo, `make` while ./tcpproxy runs, systemd-analyze verify on the units
# and `make install` into a temporary root. Ends with the line
# "N passed, M failed".

cd "$(dirname "$0")/.." || exit 1
passed=0
failed=0
LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tcpproxy-scripts.XXXXXX")

# check NAME EXPECTED_STATUS EXPECTED_TEXT COMMAND...
check() {
    local name=$1 want_status=$2 want_text=$3 status
    shift 3
    "$@" >"$LOG_DIR/$name.out" 2>&1
    status=$?
    if [ "$status" -eq "$want_status" ] && grep -q "$want_text" "$LOG_DIR/$name.out"; then
        printf 'script %-32s ok\n' "$name"
        passed=$((passed + 1))
    else
        printf 'script %-32s FAILED (status %s, wanted %s and "%s"); its output:\n' \
            "$name" "$status" "$want_status" "$want_text"
        sed 's/^/    /' "$LOG_DIR/$name.out"
        failed=$((failed + 1))
    fi
}

command -v telnet >/dev/null || echo "telnet is not installed: 'make test' installs it (make test-deps)"
check big-ok-telnet 0 '^PASS' scripts/big-ok-test.sh --timeout 2 --client telnet
check big-ok-fallback 0 '^PASS' scripts/big-ok-test.sh --timeout 2 --client fallback
check big-ok-watch 0 '^PASS' scripts/big-ok-test.sh --timeout 2 --client fallback --watch 0
check big-ok-fails-on-serial-proxy 1 '^FAIL: /~rtm/ok did not arrive' \
    scripts/big-ok-test.sh --timeout 2 --client fallback --proxy "python3 scripts/serial-proxy.py"
check demo-half-close 0 '^PASS' scripts/demo-half-close.sh
check demo-idle-timeout 0 '^PASS' scripts/demo-idle-timeout.sh 1
check demo-destination-down 0 '^PASS' scripts/demo-destination-down.sh
check demo-many-clients 0 '^PASS' scripts/demo-many-clients.sh 50
check make-while-running 0 '^PASS' scripts/make-while-running.sh
check verify-units 0 '^PASS' scripts/verify-units.sh
check install 0 '^PASS' scripts/install-test.sh
check socket-restart 0 '^PASS' scripts/socket-restart.py
rm -rf "$LOG_DIR"
echo "scripts: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
