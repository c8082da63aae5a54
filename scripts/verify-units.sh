#!/usr/bin/env bash
# systemd-analyze verify must accept scripts/systemd/'s units, as the instance tcpproxy@7000.
# It runs without systemd as PID 1 (in a container too): it loads the named unit files and the
# units they name (network-online.target, sockets.target...) from the host's unit directories.
#
# The copies are named as an instance (a template itself cannot be verified), and the service's
# @bindir@ becomes target/release (verify checks that ExecStart's program exists and is
# executable). Documentation=man:tcpproxy(1) is checked too: verify runs man, with MANPATH at a
# tree holding our generated page. --generators=no: generators make units from the host's fstab
# and such, nothing ours needs. --recursive-errors=no: the exit status counts only our two units.
#
# systemd-analyze says "Unknown key" and the like on a warning line but still exits 0, so every
# line it prints counts against us, except lines that start with the name or the path of another
# unit (a host unit our units pull in): those are shown and ignored.
#
# Usage: scripts/verify-units.sh

source "$(dirname "$0")/lib.sh"
command -v systemd-analyze >/dev/null ||
    fail "systemd-analyze is missing: 'make test-deps' installs it (Debian's systemd package)"
for b in tcpproxy tcpproxy-docgen; do
    [ -x "$BIN_DIR/$b" ] || fail "$BIN_DIR/$b is missing: run 'make' first"
done

UNITS=$WORK/units
mkdir -p "$UNITS" "$WORK/man/man1"
"$BIN_DIR/tcpproxy-docgen" "$WORK/docs" >/dev/null || fail "tcpproxy-docgen failed"
cp "$WORK/docs/man/tcpproxy.1" "$WORK/man/man1/"

# verify UNIT...: runs systemd-analyze verify in $UNITS; its output in $WORK/verify.out.
verify() {
    (cd "$UNITS" && MANPATH=$WORK/man systemd-analyze verify --generators=no \
        --recursive-errors=no "${@/#/./}") >"$WORK/verify.out" 2>&1
}

# complaints UNIT...: the lines of $WORK/verify.out that are not about another unit (those go to
# stderr, shown but not returned).
complaints() {
    local line name ours
    while IFS= read -r line; do
        # "/path/NAME.TYPE:LINE: ..." or "NAME.TYPE: ..." names the unit the line is about.
        name=$(printf '%s\n' "$line" | sed -nE 's|^(/[^: ]*/)?([^/: ]+\.[a-z]+)(:[0-9]+)?: .*|\2|p')
        ours=0
        for unit in "$@"; do [ "$name" = "$unit" ] && ours=1; done
        if [ -n "$name" ] && [ "$ours" = 0 ]; then
            say "    ignored (about $name, not ours): $line" >&2
        else
            printf '%s\n' "$line"
        fi
    done <"$WORK/verify.out"
}

step "The verifier must catch a broken unit (else a pass below would mean nothing)"
sed 's/^Backlog=/Backlogg=/' "$ROOT/scripts/systemd/tcpproxy@.socket" >"$UNITS/broken@7000.socket"
verify broken@7000.socket
bad=$(complaints broken@7000.socket)
[ -n "$bad" ] || fail "systemd-analyze said nothing about an unknown key: $(cat "$WORK/verify.out")"
printf '%s\n' "$bad" | sed 's/^/    /'
rm "$UNITS/broken@7000.socket"

step "systemd-analyze verify tcpproxy@7000.service tcpproxy@7000.socket"
sed "s|@bindir@|$BIN_DIR|g" "$ROOT/scripts/systemd/tcpproxy@.service" >"$UNITS/tcpproxy@7000.service"
cp "$ROOT/scripts/systemd/tcpproxy@.socket" "$UNITS/tcpproxy@7000.socket"
grep -q "^ExecStart=$BIN_DIR/tcpproxy " "$UNITS/tcpproxy@7000.service" ||
    fail "tcpproxy@.service has no ExecStart=@bindir@/tcpproxy line"
verify tcpproxy@7000.service tcpproxy@7000.socket
status=$?
bad=$(complaints tcpproxy@7000.service tcpproxy@7000.socket)
[ -z "$bad" ] || fail "systemd-analyze complained about our units:"$'\n'"$bad"
[ "$status" -eq 0 ] || fail "systemd-analyze verify exited $status: $(cat "$WORK/verify.out")"
say "    no complaint, exit status 0 ($(systemd-analyze --version | head -n 1))"
say "PASS: systemd-analyze verify accepts tcpproxy@.service and tcpproxy@.socket"
