#!/usr/bin/env bash
# `make install` into a temporary root: every file where packagers and systemd look for it, the
# binary stripped, the man page renders (its SYNOPSIS names the three arguments, no word split
# mid-word), the completions parse and offer the values of --log-format and --send-proxy, and the
# service runs the installed binary.
#
# Usage: scripts/install-test.sh     (runs `make install DESTDIR=<temp> PREFIX=/usr/local`)

source "$(dirname "$0")/lib.sh"
PREFIX=/usr/local
DEST=$WORK/root
TOP=$DEST$PREFIX

step "make install DESTDIR=$DEST PREFIX=$PREFIX"
${MAKE:-make} -C "$ROOT" install DESTDIR="$DEST" PREFIX="$PREFIX" >"$WORK/make.out" 2>&1 ||
    fail "make install failed: $(tail -n 5 "$WORK/make.out")"
for file in bin/tcpproxy share/man/man1/tcpproxy.1 \
    share/bash-completion/completions/tcpproxy share/zsh/site-functions/_tcpproxy \
    share/fish/vendor_completions.d/tcpproxy.fish \
    lib/systemd/system/tcpproxy@.service lib/systemd/system/tcpproxy@.socket \
    share/doc/tcpproxy/example.conf; do
    [ -s "$TOP/$file" ] || fail "make install did not install $PREFIX/$file"
    say "    $PREFIX/$file"
done
[ -x "$TOP/bin/tcpproxy" ] || fail "$PREFIX/bin/tcpproxy is not executable"
"$TOP/bin/tcpproxy" --version >"$WORK/version.out" 2>&1 || fail "the installed tcpproxy --version failed"
# The release build keeps line tables for perf (debug = 1): 14 MB. What is installed has none
# (.debug_gdb_scripts, a loaded section naming gdb's pretty-printers, is not debug info).
if readelf -SW "$TOP/bin/tcpproxy" | grep -E '\.debug_' | grep -qv '\.debug_gdb_scripts'; then
    fail "the installed tcpproxy carries debug info ($(du -h "$TOP/bin/tcpproxy" | cut -f1)): install -s"
fi
say "    bin/tcpproxy stripped: $(du -h "$TOP/bin/tcpproxy" | cut -f1) (the build's: $(du -h "$ROOT/target/release/tcpproxy" | cut -f1))"
"$TOP/bin/tcpproxy" --help >"$WORK/help.out"
! grep -q 'default:.*default:' "$WORK/help.out" || fail "--help prints a default twice: $(grep 'default:.*default:' "$WORK/help.out")"
count=$(find "$DEST" -type f | wc -l)
[ "$count" -eq 8 ] || fail "make install wrote $count files, not those 8: $(cd "$DEST" && find . -type f)"

step "man -l renders the installed page"
command -v man >/dev/null || fail "man is missing: 'make test-deps' installs it (Debian's man-db)"
MANWIDTH=100 man -l "$TOP/share/man/man1/tcpproxy.1" >"$WORK/man.txt" 2>"$WORK/man.err" ||
    fail "man -l failed: $(cat "$WORK/man.err")"
grep -q 'tcpproxy' "$WORK/man.txt" || fail "the rendered page does not name tcpproxy"
grep -q -- '--timeout' "$WORK/man.txt" || fail "the rendered page has no --timeout"
sed -n '/^NAME/,/^$/p' "$WORK/man.txt" | sed -e '/^$/d' -e 's/^/    /'
synopsis=$(sed -n '/^SYNOPSIS/{n;p}' "$WORK/man.txt" | sed 's/^ *//')
[ "$synopsis" = "tcpproxy [OPTIONS] DESTINATION_HOST DESTINATION_PORT LISTEN_PORT" ] ||
    fail "the SYNOPSIS says '$synopsis'"
say "    SYNOPSIS: $synopsis"
# man hyphenates filled text at the line's end with U+2010 ("sec‐ onds", "--ac‐ cept-proxy"),
# at any width: 80 columns, a terminal's default, shows it most.
MANWIDTH=80 man -l "$TOP/share/man/man1/tcpproxy.1" >"$WORK/man80.txt" 2>/dev/null
! grep -q '‐' "$WORK/man80.txt" || fail "the page splits a word: $(grep -m1 '‐' "$WORK/man80.txt")"
grep -q -- '  SIGUSR1 ' "$WORK/man.txt" || fail "the signal table is not a table: $(grep SIGUSR1 "$WORK/man.txt")"

step "The completions parse; the service runs $PREFIX/bin/tcpproxy"
bash -n "$TOP/share/bash-completion/completions/tcpproxy" || fail "bash -n rejects the bash completion"
say "    bash -n: ok"
# What bash offers after --log-format, --send-proxy and --balance: their values, not file names.
for option in log-format:"text json" send-proxy:"v1 v2" balance:"first round-robin least-conn"; do
    offered=$(bash -c 'source "$1"; COMP_WORDS=(tcpproxy "--$2" ""); COMP_CWORD=2; _tcpproxy tcpproxy "" "--$2"; echo "${COMPREPLY[*]}"' \
        _ "$TOP/share/bash-completion/completions/tcpproxy" "${option%%:*}")
    [ "$offered" = "${option#*:}" ] || fail "bash completes --${option%%:*} with '$offered'"
    say "    bash: --${option%%:*} <TAB> offers $offered"
done
grep -q "FORMAT:(text json)" "$TOP/share/zsh/site-functions/_tcpproxy" || fail "zsh does not offer text json"
grep -q -- '-l log-format .* -a "text' "$TOP/share/fish/vendor_completions.d/tcpproxy.fish" ||
    fail "fish does not offer text json"
# The other shells check theirs only where they are installed.
if command -v zsh >/dev/null; then
    zsh -n "$TOP/share/zsh/site-functions/_tcpproxy" || fail "zsh -n rejects the zsh completion"
    say "    zsh -n: ok"
fi
if command -v fish >/dev/null; then
    fish -n "$TOP/share/fish/vendor_completions.d/tcpproxy.fish" || fail "fish -n rejects the fish completion"
    say "    fish -n: ok"
fi
service=$TOP/lib/systemd/system/tcpproxy@.service
exec_start=$(grep '^ExecStart=' "$service")
[ "$exec_start" = "ExecStart=$PREFIX/bin/tcpproxy \$ARGS" ] ||
    fail "the installed service says '$exec_start', not ExecStart=$PREFIX/bin/tcpproxy \$ARGS"
! grep -q '@bindir@' "$service" || fail "the installed service still says @bindir@"
say "    $exec_start"
cmp -s "$TOP/lib/systemd/system/tcpproxy@.socket" "$ROOT/scripts/systemd/tcpproxy@.socket" ||
    fail "the installed socket unit differs from scripts/systemd/tcpproxy@.socket"
say "PASS: make install put the proxy, its man page, completions and units under $DEST$PREFIX"
