# halo — see README.md. `make run` starts the quick-start load balancer,
# `make test` runs every test (CI runs exactly that).
GO      ?= go
BIN     := bin/halo
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.Version=$(VERSION)
PREFIX  ?= /usr/local
FUZZTIME ?= 5m
SHORTFUZZ ?= 20000x

.PHONY: all build run test vet lint fuzz fuzz-short install deb conformance clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/halo

run: build
	./$(BIN) demo

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo 'gofmt needed on the files above' >&2; exit 1)

# staticcheck is pinned in go.mod (tool directive): nothing is installed.
lint:
	$(GO) tool staticcheck ./...

# The event loops are lock-free by design (one goroutine owns a loop's
# state; others reach it through Post): the race detector checks that on
# every run.
test: build vet lint
	$(GO) test -count=1 -timeout 20m ./...
	$(GO) test -count=1 -race ./proxy/evloop/
	$(MAKE) fuzz-short
	./scripts/conformance-ratchet
	./scripts/regtests-ratchet

# Every fuzz target, FUZZTIME each (make fuzz FUZZTIME=5m).
fuzz:
	./scripts/fuzz-all $(FUZZTIME)

fuzz-short:
	./scripts/fuzz-all $(SHORTFUZZ)

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/halo
	ln -sf halo $(DESTDIR)$(PREFIX)/bin/haproxy
	ln -sf halo $(DESTDIR)$(PREFIX)/bin/keepalived

# The Debian package that replaces haproxy and keepalived (dpkg-deb only):
# bin/halo_VERSION_ARCH.deb.
deb: build
	./packaging/deb/build bin

clean:
	rm -rf bin
