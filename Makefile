# tcpproxy: `make` builds ./tcpproxy (as in the lab), `make test` runs every test.
#
# Everything the build and the tests need comes from cargo (crates.io); the Rust toolchain with
# rustfmt and clippy is the only prerequisite.

CARGO  ?= cargo
PREFIX ?= /usr/local
BIN    := target/release/tcpproxy

.PHONY: all build test unit lint clean install

all: build

# Cargo decides what is stale, so this always asks it; the copy keeps ./tcpproxy current.
build:
	$(CARGO) build --release --locked
	cp $(BIN) ./tcpproxy

# Lint first: it is the fastest way to fail. Then unit and integration tests against the release
# build (the binary users run; it also keeps the data-heavy tests quick).
test: lint build
	$(CARGO) test --release --locked

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --locked --all-targets -- -D warnings

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/tcpproxy

clean:
	$(CARGO) clean
	rm -f ./tcpproxy
