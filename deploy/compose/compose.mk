# deploy/compose/compose.mk: images, the compose stack and its end-to-end
# test. Included by the top Makefile (which defines GO, BIN, COMPOSE and
# the `static` target); run from the repository root.

# Whatever was the default goal before this file stays so (restored at the end).
COMPOSE_SAVED_GOAL := $(.DEFAULT_GOAL)

COMPOSE_DIR     := deploy/compose
COMPOSE_PROJECT ?= wsheal
# How many gateways `make up` and `make scale` run (one scaled service).
GATEWAYS        ?= 3
# TLS=1 adds docker-compose.tls.yml: TLS on every NATS connection and route.
TLS             ?=
CA_BUNDLE       ?= /etc/ssl/certs/ca-certificates.crt
# The end-to-end test sets its own context directory and tag, so that two
# runs at once never share a build directory or retag a running stack's images.
WSHEAL_IMAGE_CTX       ?= $(COMPOSE_DIR)/build
export WSHEAL_TAG        ?= local
export WSHEAL_DOCKER_GID ?= $(shell stat -c %g /var/run/docker.sock 2>/dev/null || stat -f %g /var/run/docker.sock 2>/dev/null || echo 0)
COMPOSE_FILES   = -f $(COMPOSE_DIR)/docker-compose.yml $(if $(TLS),-f $(COMPOSE_DIR)/docker-compose.tls.yml)
DC              = $(COMPOSE) -p $(COMPOSE_PROJECT) $(COMPOSE_FILES)

.PHONY: images secrets certs up scale upgrade demo down ps logs e2e compose-e2e-notice lb-image haproxy-tool compose-tool

# The current Docker Compose, built once from its Go module (this machine's
# Debian has docker-compose 1.29 only): the compose file's tests render the
# deployment with it too, so the file stays valid for both tools.
COMPOSE_VERSION   ?= v5.6.0
COMPOSE_TOOL_DIR  ?= $(HOME)/.cache/wsheal/compose/$(COMPOSE_VERSION)
export WSHEAL_COMPOSE_V2 := $(COMPOSE_TOOL_DIR)/docker-compose
test: compose-tool
compose-tool: ## build the current Docker Compose once into COMPOSE_TOOL_DIR (the compose file's tests use it beside docker-compose 1.29)
	@GO=$(GO) COMPOSE_VERSION=$(COMPOSE_VERSION) nice -n 10 $(COMPOSE_DIR)/build-compose.sh $(COMPOSE_TOOL_DIR)

# `make test` says loudly when the compose end-to-end test will skip
# (go test shows a skip message only with -v).
test: compose-e2e-notice
compose-e2e-notice:
	@docker version >/dev/null 2>&1 || echo "SKIP compose e2e: no Docker engine answers: deploy/compose TestComposeE2E will skip (make e2e where Docker runs)"

images: static ## FROM-scratch images wsheal:local, wsheal-tools:local (bench, chaos), wsheal-nats:local and wsheal-lb:local (HAProxy; no registry needed)
	@test -s $(CA_BUNDLE) || { echo "no CA bundle at $(CA_BUNDLE): set CA_BUNDLE"; exit 1; }
	rm -rf $(WSHEAL_IMAGE_CTX)/wsheal $(WSHEAL_IMAGE_CTX)/wsheal-tools $(WSHEAL_IMAGE_CTX)/nats $(WSHEAL_IMAGE_CTX)/probe
	mkdir -p $(WSHEAL_IMAGE_CTX)/wsheal/data $(WSHEAL_IMAGE_CTX)/wsheal-tools/data $(WSHEAL_IMAGE_CTX)/nats/data
	cd $(COMPOSE_DIR) && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(abspath $(WSHEAL_IMAGE_CTX))/probe ./probe
	for d in wsheal nats; do \
		cp $(COMPOSE_DIR)/image/passwd $(COMPOSE_DIR)/image/group $(WSHEAL_IMAGE_CTX)/$$d/ && \
		cp $(CA_BUNDLE) $(WSHEAL_IMAGE_CTX)/$$d/ca-certificates.crt && \
		cp $(COMPOSE_DIR)/image/$$d.Dockerfile $(WSHEAL_IMAGE_CTX)/$$d/Dockerfile && \
		cp $(WSHEAL_IMAGE_CTX)/probe $(WSHEAL_IMAGE_CTX)/$$d/ || exit 1; \
	done
	cp $(BIN)/static/wsheal $(WSHEAL_IMAGE_CTX)/wsheal/
	cp $(BIN)/static/nats-server $(WSHEAL_IMAGE_CTX)/nats/
	cp $(COMPOSE_DIR)/image/passwd $(COMPOSE_DIR)/image/group $(BIN)/static/wsheal-tools $(WSHEAL_IMAGE_CTX)/wsheal-tools/
	cp $(CA_BUNDLE) $(WSHEAL_IMAGE_CTX)/wsheal-tools/ca-certificates.crt
	cp $(COMPOSE_DIR)/image/wsheal-tools.Dockerfile $(WSHEAL_IMAGE_CTX)/wsheal-tools/Dockerfile
	docker build -q -t wsheal:$(WSHEAL_TAG) $(WSHEAL_IMAGE_CTX)/wsheal
	docker build -q -t wsheal-tools:$(WSHEAL_TAG) $(WSHEAL_IMAGE_CTX)/wsheal-tools
	docker build -q -t wsheal-nats:$(WSHEAL_TAG) $(WSHEAL_IMAGE_CTX)/nats
	$(MAKE) --no-print-directory lb-image

# The load balancer: Debian's haproxy (installed when missing and possible)
# with the shared libraries ldd lists, in a FROM-scratch image.
HAPROXY ?= $(shell command -v haproxy 2>/dev/null || echo /usr/sbin/haproxy)
lb-image: haproxy-tool
	rm -rf $(WSHEAL_IMAGE_CTX)/lb && mkdir -p $(WSHEAL_IMAGE_CTX)/lb/root/usr/sbin
	cp $(HAPROXY) $(WSHEAL_IMAGE_CTX)/lb/root/usr/sbin/haproxy
	for lib in $$(ldd $(HAPROXY) | grep -o '/[^ ]*'); do \
		mkdir -p $(WSHEAL_IMAGE_CTX)/lb/root$$(dirname $$lib) && cp -L $$lib $(WSHEAL_IMAGE_CTX)/lb/root$$lib || exit 1; \
	done
	cp $(COMPOSE_DIR)/image/passwd $(COMPOSE_DIR)/image/group $(WSHEAL_IMAGE_CTX)/probe $(WSHEAL_IMAGE_CTX)/lb/
	cp $(COMPOSE_DIR)/image/lb.Dockerfile $(WSHEAL_IMAGE_CTX)/lb/Dockerfile
	docker build -q -t wsheal-lb:$(WSHEAL_TAG) $(WSHEAL_IMAGE_CTX)/lb

haproxy-tool: ## Debian's haproxy, for the load balancer image and the browser test
	@command -v haproxy >/dev/null 2>&1 || test -x /usr/sbin/haproxy || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null); } || \
		{ echo "no haproxy and it cannot be installed here: apt-get install -y haproxy"; exit 1; }

secrets: ## deploy/compose/secrets/*.env with random passwords, when absent
	cd $(COMPOSE_DIR) && $(GO) run ./setup secrets -dir secrets

certs: ## a local CA and NATS server certificate in deploy/compose/tls (for TLS=1)
	cd $(COMPOSE_DIR) && $(GO) run ./setup certs -dir tls

up: images secrets $(if $(TLS),certs) ## start the compose stack and wait until healthy (TLS=1: NATS over TLS; GATEWAYS=N gateways, 3 by default)
	$(DC) up -d --remove-orphans --scale gateway=$(GATEWAYS)
	$(COMPOSE_DIR)/wait-healthy.sh $(COMPOSE_PROJECT) 180

# Replicas added join the balancer's rotation once ready; replicas removed
# get SIGTERM and drain their clients to the others (stop_grace_period).
scale: ## run GATEWAYS gateways on the running stack (added ones join, removed ones drain first)
	$(DC) up -d --no-deps --no-recreate --scale gateway=$(GATEWAYS) gateway
	$(COMPOSE_DIR)/wait-healthy.sh $(COMPOSE_PROJECT) 180

# The rolling upgrade: new images, then every gateway replaced one at a
# time by `wsheal rollout` (a replacement started and healthy first, the
# old node drained to it at a pace, stopped cleanly and removed, the
# healer's hands off it meanwhile), then each control-plane replica
# recreated on the new image one at a time (its twin carries on). The
# NATS servers and the load balancer are left as they are: restarting
# the balancer would cut every client's socket at once.
upgrade: images ## rolling upgrade of a running stack onto freshly built images: gateways one at a time, no loss, no incident
	set -a; . $(COMPOSE_DIR)/secrets/operator.env; set +a; \
	NATS_URL=nats://127.0.0.1:$${WSHEAL_NATS1_PORT:-4222},nats://127.0.0.1:$${WSHEAL_NATS2_PORT:-4223},nats://127.0.0.1:$${WSHEAL_NATS3_PORT:-4224} \
		$(BIN)/static/wsheal rollout --label $${WSHEAL_NODE_LABEL:-io.wsheal.node} $(ROLLOUT_ARGS)
	for s in monitor healer notifier; do for r in $$s $$s-2; do \
		$(DC) up -d --no-deps $$r && $(COMPOSE_DIR)/wait-healthy.sh $(COMPOSE_PROJECT) 180 || exit 1; \
	done; done

demo: up ## the stack plus the `demo` profile: wsheal bench load (the wsheal-tools image) through the gateways
	$(DC) --profile demo up -d bench

down: ## stop the compose stack and remove its containers and volumes
	$(DC) --profile demo --profile observability down -v --remove-orphans -t 10

ps: ## the compose stack's containers and their health
	$(DC) ps

logs: ## follow the compose stack's logs
	$(DC) logs -f --tail 50

e2e: ## the compose end-to-end test: images, stack, faults, healing checks (needs Docker)
	cd $(COMPOSE_DIR) && WSHEAL_E2E=1 $(GO) test -count=1 -v -timeout 15m -run 'TestCompose' .

# Restore the default goal: when this file is included before the first
# target of the Makefile, an empty value lets that target become it.
.DEFAULT_GOAL := $(COMPOSE_SAVED_GOAL)
