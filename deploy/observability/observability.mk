# deploy/observability/observability.mk: the images of the compose profile
# `observability` (Prometheus and Alertmanager next to the stack). Included
# by the top Makefile; run from the repository root.

# Whatever was the default goal before this file stays so (restored at the end).
OBS_SAVED_GOAL := $(.DEFAULT_GOAL)

OBS_DIR       := deploy/observability
OBS_IMAGE_CTX ?= $(COMPOSE_DIR)/build/observability
PROMETHEUS_BIN   ?= $(shell command -v prometheus)
ALERTMANAGER_BIN ?= $(shell command -v prometheus-alertmanager || command -v alertmanager)

.PHONY: observability-images observability-up

# Each binary goes in FROM scratch with exactly the shared libraries ldd
# lists for it (Debian builds them against libc; a static binary needs none).
observability-images: ## Prometheus and Alertmanager images FROM scratch (wsheal-prometheus, wsheal-alertmanager), from Debian's packages
	@test -x "$(PROMETHEUS_BIN)" && test -x "$(ALERTMANAGER_BIN)" || { echo "need Debian's prometheus and prometheus-alertmanager: apt-get install prometheus prometheus-alertmanager"; exit 1; }
	rm -rf $(OBS_IMAGE_CTX)
	for img in prometheus alertmanager; do \
		mkdir -p $(OBS_IMAGE_CTX)/$$img/data $(OBS_IMAGE_CTX)/$$img/lib && \
		cp $(COMPOSE_DIR)/image/passwd $(COMPOSE_DIR)/image/group $(OBS_DIR)/image/$$img.Dockerfile $(OBS_IMAGE_CTX)/$$img/ || exit 1; \
		mv $(OBS_IMAGE_CTX)/$$img/$$img.Dockerfile $(OBS_IMAGE_CTX)/$$img/Dockerfile; \
	done
	cd $(COMPOSE_DIR) && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(abspath $(OBS_IMAGE_CTX))/probe ./probe
	cp $(OBS_IMAGE_CTX)/probe $(OBS_IMAGE_CTX)/prometheus/ && cp $(OBS_IMAGE_CTX)/probe $(OBS_IMAGE_CTX)/alertmanager/
	cp $(PROMETHEUS_BIN) $(OBS_IMAGE_CTX)/prometheus/prometheus
	cp $(ALERTMANAGER_BIN) $(OBS_IMAGE_CTX)/alertmanager/alertmanager
	for img in prometheus alertmanager; do \
		for lib in $$(ldd $(OBS_IMAGE_CTX)/$$img/$$img 2>/dev/null | grep -o '/[^ ]*' || true); do \
			cp --parents -L $$lib $(OBS_IMAGE_CTX)/$$img/lib/ || exit 1; \
		done; \
	done
	cp -r /usr/share/prometheus/web $(OBS_IMAGE_CTX)/prometheus/web 2>/dev/null || mkdir -p $(OBS_IMAGE_CTX)/prometheus/web
	cp $(OBS_DIR)/prometheus.yml $(OBS_IMAGE_CTX)/prometheus/
	mkdir -p $(OBS_IMAGE_CTX)/prometheus/rules && cp $(OBS_DIR)/rules/wsheal.yml $(OBS_IMAGE_CTX)/prometheus/rules/
	mkdir -p $(OBS_IMAGE_CTX)/alertmanager/share && cp -r /usr/share/prometheus/alertmanager/. $(OBS_IMAGE_CTX)/alertmanager/share/ 2>/dev/null || true
	cp $(OBS_DIR)/alertmanager.yml $(OBS_IMAGE_CTX)/alertmanager/
	docker build -q -t wsheal-prometheus:$(WSHEAL_TAG) $(OBS_IMAGE_CTX)/prometheus
	docker build -q -t wsheal-alertmanager:$(WSHEAL_TAG) $(OBS_IMAGE_CTX)/alertmanager

observability-up: up observability-images ## the compose stack plus Prometheus (127.0.0.1:9090) and Alertmanager (:9093): profile observability; the notifier pushes incidents to it
	$(DC) -f $(COMPOSE_DIR)/docker-compose.observability.yml --profile observability up -d
	$(COMPOSE_DIR)/wait-healthy.sh $(COMPOSE_PROJECT) 120

# Restore the default goal (see compose.mk).
.DEFAULT_GOAL := $(OBS_SAVED_GOAL)
