# wsheal — build, run, test, bench, images, deploy.
# `make run` starts the whole system on this machine; `make test` tests everything.

SHELL       := /bin/bash
GO          ?= go
# A SemVer (NATS micro services refuse anything else): the tag on HEAD,
# else 0.1.0-dev+<commit>[.dirty].
VERSION     ?= $(shell v=$$(git describe --tags --exact-match 2>/dev/null | sed 's/^v//'); \
	if [ -n "$$v" ]; then echo "$$v"; else echo "0.1.0-dev+$$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$$(git diff --quiet HEAD 2>/dev/null || echo .dirty)"; fi)
LDFLAGS     := -s -w -X github.com/wsheal/wsheal/pkg/events.Version=$(VERSION)
BIN         := bin
MODULES     := $(shell $(GO) list -m -f '{{.Dir}}' 2>/dev/null)
GOBIN       ?= $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck
STATICCHECK_VERSION ?= v0.8.2
RUN_ARGS    ?=
BENCH_ROUNDS ?= 3
BENCH_TIME  ?= 100ms
TEST_FLAGS  ?= -race -count=1 -timeout 20m
# docker compose v2 where installed, else the standalone docker-compose.
COMPOSE     ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)

.PHONY: all build tools-bin run test soak bench lint fmt fuzz static clean help readme js-size

# images, up, down and the compose end-to-end test live beside the compose file.
-include deploy/compose/compose.mk
-include deploy/observability/observability.mk
-include deploy/kubernetes/kubernetes.mk

all: build

help: ## this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/wsheal (every service, the CLI and `wsheal dev` in one binary)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/wsheal ./cmd/wsheal

# The load and chaos tools are a binary of their own (module tools/), so
# that the production binary and image hold no bench code: `wsheal bench`
# and `wsheal chaos` run bin/wsheal-tools, found beside bin/wsheal.
tools-bin: ## build bin/wsheal-tools (bench, the side-by-side suite, chaos), which `wsheal bench` and `wsheal chaos` run
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/wsheal-tools ./tools/cmd/wsheal-tools

run: build tools-bin ## the whole system on an embedded NATS server, with demo clients (Ctrl-C stops it)
	$(BIN)/wsheal dev $(RUN_ARGS)

# Modules whose packages run one at a time: their tests start whole stacks
# and judge healing by latency (wsheal-tools' chaos runs) or run hundreds of
# clients against three nodes (the gateway's randomized data-plane run), so
# another package's load test beside them would be a noisy neighbour the
# test did not ask for.
SERIAL_MODULES ?= cmd/wsheal services/gateway tools

test: ## every module's tests with -race (compose end-to-end too when Docker runs)
	@failed=""; for m in $(MODULES); do \
		echo "=== $$m"; p=""; \
		for s in $(SERIAL_MODULES); do case $$m in */$$s) p="-p 1";; esac; done; \
		(cd $$m && $(GO) test $(TEST_FLAGS) $$p ./...) || failed="$$failed $$m"; \
	done; \
	if [ -n "$$failed" ]; then echo "FAILED:$$failed"; exit 1; fi; echo "all modules passed"

# The real tools the tests drive, from Debian's packages: Chromium (the
# dashboard and wsheal.js browser tests), HAProxy (the load balancer),
# Node and tsc (wsheal.js against the conformance table, its declarations),
# Prometheus, promtool and Alertmanager (the observability tests). Missing
# ones are installed when this runs as root with apt-get; otherwise the
# tests that need them skip and this says which.
TEST_TOOLS := chromium:chromium haproxy:haproxy node:nodejs tsc:node-typescript \
	promtool:prometheus prometheus:prometheus prometheus-alertmanager:prometheus-alertmanager
.PHONY: tools
test: tools
tools: ## install the Debian packages the tests drive, when missing and possible
	@missing=""; for t in $(TEST_TOOLS); do \
		command -v $${t%%:*} >/dev/null 2>&1 || [ -x /usr/sbin/$${t%%:*} ] || case " $$missing " in *" $${t#*:} "*) ;; *) missing="$$missing $${t#*:}";; esac; \
	done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing$$missing"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) || true; \
	fi; \
	for t in $(TEST_TOOLS); do \
		command -v $${t%%:*} >/dev/null 2>&1 || [ -x /usr/sbin/$${t%%:*} ] || echo "SKIP: no $${t%%:*} (apt-get install $${t#*:}): the tests that drive it will skip"; \
	done

SOAK        ?= 10m
soak: ## the randomized data-plane run at soak size (240 clients, 120 channels, gaps to 50,000) for SOAK (default 10m); WSHEAL_E2E_SEED replays a run
	cd services/gateway && WSHEAL_SOAK=$(SOAK) $(GO) test -count=1 -timeout 2h -run '^TestRandomizedDataPlane$$' -v ./conformance/

bench: build tools-bin centrifugo ## the side-by-side suite (wsheal vs raw gws, NATS's WebSocket listener, Centrifugo and the floor), saved in results/; then the Go benchmarks, briefly
	$(BIN)/wsheal bench --suite --rounds $(BENCH_ROUNDS) --out results --centrifugo $(CENTRIFUGO)
	@for m in $(MODULES); do \
		out=$$(cd $$m && $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCH_TIME) ./... 2>&1) || { echo "$$out"; exit 1; }; \
		echo "$$out" | grep -Ev '^(PASS|ok|\?)' || true; \
	done

# Centrifugo, the suite's third reference, from its Go module at a pinned
# release, built once into a cache outside git (a few minutes cold).
CENTRIFUGO_VERSION ?= v6.9.1
CENTRIFUGO_DIR     ?= $(HOME)/.cache/wsheal/centrifugo/$(CENTRIFUGO_VERSION)
CENTRIFUGO         := $(CENTRIFUGO_DIR)/centrifugo
.PHONY: centrifugo
centrifugo: $(CENTRIFUGO) ## build Centrifugo (a reference of make bench) once into ~/.cache/wsheal
$(CENTRIFUGO):
	@mkdir -p $(CENTRIFUGO_DIR)
	cd $(CENTRIFUGO_DIR) && GOWORK=off GOBIN=$(CENTRIFUGO_DIR) $(GO) install -trimpath \
		-ldflags '-s -w -X github.com/centrifugal/centrifugo/v6/internal/build.Version=$(CENTRIFUGO_VERSION:v%=%)' \
		github.com/centrifugal/centrifugo/v6@$(CENTRIFUGO_VERSION)

fuzz: ## run every fuzz target for FUZZTIME (default 10s each)
	@set -e; for m in $(MODULES); do \
		for pkg in $$(cd $$m && $(GO) list ./...); do \
			for f in $$(cd $$m && $(GO) test -list 'Fuzz.*' $$pkg | grep ^Fuzz); do \
				echo "=== $$pkg $$f"; \
				(cd $$m && $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-10s} $$pkg); \
			done; \
		done; \
	done

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(STATICCHECK) ## go vet and staticcheck on every module; gofmt check
	@set -e; for m in $(MODULES); do \
		echo "=== $$m"; \
		(cd $$m && $(GO) vet ./... && $(STATICCHECK) ./...); \
	done
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed: make fmt"; exit 1; }

fmt: ## gofmt every Go file
	gofmt -w $$(git ls-files '*.go')

# The browser client, wsheal.js: its size as served, minified (a Go
# minifier run from the module proxy, no dependency of any service) and
# gzipped.
MINIFY_VERSION ?= v2.25.0
js-size: ## wsheal.js bytes: as served, minified, minified+gzip
	@src=services/gateway/webclient/wsheal.js; min=$$(mktemp); \
	$(GO) run github.com/tdewolff/minify/v2/cmd/minify@$(MINIFY_VERSION) --type js $$src > $$min && \
	echo "wsheal.js: $$(wc -c < $$src) bytes, $$(gzip -9c $$src | wc -c) gzipped; minified $$(wc -c < $$min), $$(gzip -9c $$min | wc -c) gzipped"; \
	rm -f $$min

static: ## static linux binaries for the images: wsheal, wsheal-tools and nats-server
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/static/wsheal ./cmd/wsheal
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/static/wsheal-tools ./tools/cmd/wsheal-tools
	cd pkg/natskit && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o ../../$(BIN)/static/nats-server github.com/nats-io/nats-server/v2

clean: ## remove build output
	rm -rf $(BIN)

readme: build ## rewrite the README's configuration tables from the code
	@{ sed -n '1,/<!-- config:start -->/p' README.md; $(BIN)/wsheal config; sed -n '/<!-- config:end -->/,$$p' README.md; } > README.md.new && mv README.md.new README.md
