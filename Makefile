# tcpproxy: `make` builds ./tcpproxy (as in the lab), `make demo` runs the lab's BIG/ok test,
# `make test` runs every test.
#
# The build needs only a Rust toolchain (cargo, with rustfmt and clippy); crates come from crates.io.
# The script tests also use telnet, HAProxy, man, systemd-analyze, Prometheus and Chromium, which
# `make test` installs from Debian's packages if missing. `make install` also installs the man
# page, the shell completions (`make docs`) and the systemd units (scripts/systemd/).

CARGO  ?= cargo
PREFIX ?= /usr/local
BIN    := target/release/tcpproxy
DOCS   := target/docs
UNITDIR ?= $(PREFIX)/lib/systemd/system

.PHONY: all build docs demo watch test test-deps lint soak bench bench-deps clean install

all: build

# Cargo decides what is stale, so this always asks it. It builds the whole workspace: tcpproxy, the
# demo's helpers (target/release/demo-server, demo-client; scripts/demo/) and the benchmark
# (target/release/bench; scripts/bench/), and the examples, which a plain build leaves out: the
# lab's answer in 150 lines (target/release/examples/lab; examples/lab.rs). The copy keeps
# ./tcpproxy current: written beside it, then renamed over it, so a running ./tcpproxy keeps its old
# file (writing over it fails: Text file busy).
build:
	$(CARGO) build --release --locked --workspace --bins --examples
	cp $(BIN) ./.tcpproxy.new && mv -f ./.tcpproxy.new ./tcpproxy

# The man page and the bash, zsh and fish completions, generated from the clap definition by
# target/release/tcpproxy-docgen (scripts/docgen/) into target/docs/{man,completions}/.
docs: build
	target/release/tcpproxy-docgen $(DOCS)

# The lab's acceptance test with its 10-second timeout, narrated (see scripts/README.md).
demo: build
	scripts/big-ok-test.sh

# The same test, watched: the status page on http://127.0.0.1:$(WATCH_PORT)/ shows the frozen pair
# blocked for the whole timeout, then cut (see docs/operating.md, "The status page").
WATCH_PORT ?= 9999
watch: build
	scripts/big-ok-test.sh --watch $(WATCH_PORT)

# Lint first: it is the fastest way to fail. Then unit and integration tests against the release
# build (the binary users run; it also keeps the data-heavy tests quick), then the scripts.
# Most integration tests wait: for a timeout to fire, a peer to answer, a process to stop. So they
# run six at a time on two cores (the whole suite: about 55 s, against 125 s at cargo's default of
# one per core); their timing bounds are set for a loaded machine (make test beside two busy
# loops passes). TEST_THREADS=1 for a quiet run.
TEST_THREADS ?= 6
test: lint build test-deps
	$(CARGO) test --release --locked --workspace -- --test-threads $(TEST_THREADS)
	scripts/test-scripts.sh

# The lab test runs real telnet, and the PROXY protocol test checks our headers against a real
# HAProxy (`accept-proxy`); the install test renders the man page with man (man-db), and the unit
# test runs systemd-analyze (systemd, which also has systemd-socket-activate); the metrics tests run
# promtool and a real prometheus server (both in Debian's prometheus); the status page is loaded
# by headless Chromium (Debian's chromium, at /usr/bin/chromium); a stop on a host whose loopback
# has no IPv6 runs in a network namespace of the test's own (unshare, and ip from iproute2). Install
# each (Debian packages) so those paths are always tested.
test-deps:
	@missing=""; \
	command -v telnet >/dev/null || missing="$$missing telnet"; \
	command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing="$$missing haproxy"; \
	command -v man >/dev/null || missing="$$missing man-db"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	{ command -v promtool >/dev/null && command -v prometheus >/dev/null; } || missing="$$missing prometheus"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v ip >/dev/null || [ -x /usr/sbin/ip ] || missing="$$missing iproute2"; \
	[ -z "$$missing" ] || { \
	    echo "installing$$missing (Debian packages) for the tests"; \
	    { apt-get update -qq && apt-get install -y -qq $$missing; } >/dev/null || \
	    { echo "cannot install$$missing: run 'apt-get install$$missing' as root"; exit 1; }; }

# Speed, as ratios to a direct loopback connection measured in the same run (see
# docs/performance.md). `make bench BENCH_ARGS=--quick` for a one-minute look.
BENCH_ARGS ?=
bench: build
	scripts/bench.sh $(BENCH_ARGS)

# What `make bench BENCH_ARGS=--peers` compares with (Debian packages; not needed otherwise): the
# peer proxies, and the real clients with their servers (redis-benchmark against redis-server, wrk
# against nginx). The bench starts each itself on loopback; none is enabled as a service.
bench-deps:
	apt-get update -qq && apt-get install -y -qq socat haproxy nginx libnginx-mod-stream rinetd \
	    redis-server redis-tools wrk >/dev/null

# Ten minutes of mixed load with random faults against the release build; one summary line.
# Not part of `make test`. `make soak SOAK_SECONDS=60` for a shorter run.
SOAK_SECONDS ?= 600
soak: build
	SOAK_SECONDS=$(SOAK_SECONDS) $(CARGO) test --release --locked --test proxy soak:: -- --ignored --nocapture

# The structure check: no import cycle between modules or rooms, no src file of 300 lines or more
# (scripts/check-structure.sh says how).
lint:
	scripts/check-structure.sh
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --locked --workspace --all-targets -- -D warnings

# Only the proxy, its man page, completions and systemd units: the demo, the benchmark and the
# docs generator are workspace members, not part of the product. The binary is stripped on the
# way (install -s): the build keeps line tables for perf (debug = 1, 14 MB); the installed one
# needs none (about 2 MB). The service's ExecStart names
# the installed binary: scripts/systemd/tcpproxy@.service says @bindir@, replaced here.
install: build docs
	install -D -s -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/tcpproxy
	install -D -m 0644 $(DOCS)/man/tcpproxy.1 $(DESTDIR)$(PREFIX)/share/man/man1/tcpproxy.1
	install -D -m 0644 $(DOCS)/completions/tcpproxy.bash \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions/tcpproxy
	install -D -m 0644 $(DOCS)/completions/_tcpproxy $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_tcpproxy
	install -D -m 0644 $(DOCS)/completions/tcpproxy.fish \
	    $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/tcpproxy.fish
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|@bindir@|$(PREFIX)/bin|g' scripts/systemd/tcpproxy@.service >$(DESTDIR)$(UNITDIR)/tcpproxy@.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tcpproxy@.service
	install -m 0644 scripts/systemd/tcpproxy@.socket $(DESTDIR)$(UNITDIR)/tcpproxy@.socket
	install -D -m 0644 scripts/systemd/example.conf $(DESTDIR)$(PREFIX)/share/doc/tcpproxy/example.conf

clean:
	$(CARGO) clean
	rm -f ./tcpproxy ./.tcpproxy.new
