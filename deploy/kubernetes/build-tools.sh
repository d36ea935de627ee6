#!/usr/bin/env bash
# deploy/kubernetes/build-tools.sh DIR: build kube-apiserver,
# kube-controller-manager, kubectl and etcd from Go modules into DIR (a cache
# outside git), once. The tests of deploy/kubernetes and the healer's
# Kubernetes executor run them: a real API server, a real controller manager
# and a real etcd, no cluster needed.
#
# kube-apiserver and friends are built from a scratch module generated under
# DIR/src that requires k8s.io/kubernetes $KUBE_VERSION with its staging
# modules replaced to the published $KUBE_STAGING_VERSION (the same list as
# the replace block of kubernetes' own go.mod, which points at ./staging).
# etcd comes from go.etcd.io/etcd/server/v3 $ETCD_VERSION, also from a
# scratch module (its go.mod has replace directives, so `go install` refuses it).
set -euo pipefail

DIR=${1:?usage: build-tools.sh DIR}
GO=${GO:-go}
KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
KUBE_STAGING_VERSION=${KUBE_STAGING_VERSION:-v0.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.7.0}

tools="kube-apiserver kube-controller-manager kubectl etcd"
missing=""
for t in $tools; do [ -x "$DIR/$t" ] || missing="$missing $t"; done
[ -z "$missing" ] && exit 0
echo "building$missing into $DIR (once; kube-apiserver takes ~10 minutes cold)"

mkdir -p "$DIR/src/kube" "$DIR/src/etcd"
export GOFLAGS=-mod=mod GOWORK=off

if [ ! -x "$DIR/kube-apiserver" ] || [ ! -x "$DIR/kube-controller-manager" ] || [ ! -x "$DIR/kubectl" ]; then
	cd "$DIR/src/kube"
	# The staging modules kubernetes replaces with ./staging/src/k8s.io/*,
	# read from its own go.mod so that a new release brings its own list.
	gomod=$($GO mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
	staging=$(sed -n '/^replace (/,/^)/p' "$gomod" | awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}')
	[ -n "$staging" ] || { echo "no staging replace list in $gomod"; exit 1; }
	{
		echo "module wsheal.local/kubetools"
		echo
		echo "go $(sed -n 's/^go //p' "$gomod")"
		echo
		echo "require k8s.io/kubernetes $KUBE_VERSION"
		echo
		echo "replace ("
		for m in $staging; do echo "	$m => $m $KUBE_STAGING_VERSION"; done
		echo ")"
	} > go.mod
	cat > tools.go <<'GO'
//go:build tools

// Package kubetools pins the commands built from k8s.io/kubernetes.
package kubetools
GO
	$GO get k8s.io/kubernetes/cmd/kube-apiserver@"$KUBE_VERSION" \
		k8s.io/kubernetes/cmd/kube-controller-manager@"$KUBE_VERSION" \
		k8s.io/kubernetes/cmd/kubectl@"$KUBE_VERSION"
	major=${KUBE_VERSION#v}; major=${major%%.*}
	minor=${KUBE_VERSION#v*.}; minor=${minor%%.*}
	x=""
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		x="$x -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
		x="$x -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
	done
	mkdir -p "$DIR/out"
	CGO_ENABLED=0 $GO build -trimpath -ldflags "-s -w$x" -o "$DIR/out/" \
		k8s.io/kubernetes/cmd/kube-apiserver \
		k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kubectl
	mv "$DIR/out/kube-apiserver" "$DIR/out/kube-controller-manager" "$DIR/out/kubectl" "$DIR/"
fi

if [ ! -x "$DIR/etcd" ]; then
	cd "$DIR/src/etcd"
	gomod=$($GO mod download -json "go.etcd.io/etcd/server/v3@$ETCD_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
	{
		echo "module wsheal.local/etcdtool"
		echo
		echo "go $(sed -n 's/^go //p' "$gomod")"
		echo
		echo "require go.etcd.io/etcd/server/v3 $ETCD_VERSION"
	} > go.mod
	$GO get go.etcd.io/etcd/server/v3@"$ETCD_VERSION"
	mkdir -p "$DIR/out"
	CGO_ENABLED=0 $GO build -trimpath -ldflags "-s -w" -o "$DIR/out/etcd" go.etcd.io/etcd/server/v3
	mv "$DIR/out/etcd" "$DIR/"
fi
for t in $tools; do "$DIR/$t" --version 2>/dev/null | head -1 || "$DIR/$t" version --client 2>/dev/null | head -1 || true; done
