# deploy/kubernetes/kubernetes.mk: the real Kubernetes tools the tests of
# deploy/kubernetes run (kube-apiserver, kube-controller-manager, kubectl,
# etcd), built once from their Go modules into a cache outside git, and
# the secrets of the kustomize base. Included by the top Makefile; run from
# the repository root.

KUBE_SAVED_GOAL := $(.DEFAULT_GOAL)

KUBE_VERSION         ?= v1.37.2
KUBE_STAGING_VERSION ?= v0.37.2
ETCD_VERSION         ?= v3.7.0
KUBE_TOOLS_DIR       ?= $(HOME)/.cache/wsheal/kube/$(KUBE_VERSION)
export WSHEAL_KUBE_TOOLS := $(KUBE_TOOLS_DIR)

.PHONY: kube-tools kube-secrets kube-test

# `make test` runs the Kubernetes tests against these, so it builds them
# first when they are missing (once: ~10+ minutes cold, then cached).
test: kube-tools

kube-tools: ## build kube-apiserver, kube-controller-manager, kubectl and etcd once into KUBE_TOOLS_DIR
	@GO=$(GO) KUBE_VERSION=$(KUBE_VERSION) KUBE_STAGING_VERSION=$(KUBE_STAGING_VERSION) ETCD_VERSION=$(ETCD_VERSION) \
		nice -n 10 deploy/kubernetes/build-tools.sh $(KUBE_TOOLS_DIR)

kube-secrets: ## deploy/kubernetes/secrets/*.env with random passwords, when absent (kubectl apply -k deploy/kubernetes reads them)
	deploy/kubernetes/secrets.sh

kube-test: kube-tools ## the manifests and the healer's Kubernetes executor against a real kube-apiserver
	cd deploy/kubernetes && $(GO) test $(TEST_FLAGS) -v .

.DEFAULT_GOAL := $(KUBE_SAVED_GOAL)
