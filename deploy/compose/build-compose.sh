#!/usr/bin/env bash
# deploy/compose/build-compose.sh DIR: build the Docker Compose CLI (v2 and
# later, the `docker compose` plugin, which also runs standalone) from its
# Go module into DIR/docker-compose (a cache outside git), once. The compose
# file's tests render the deployment with every compose tool they find, so
# that the file stays valid for this machine's docker-compose 1.29 and for
# the current Compose alike. Compose's go.mod has exclude directives, so
# `go install` refuses it: its module is copied and built as the main module.
set -euo pipefail

DIR=${1:?usage: build-compose.sh DIR}
GO=${GO:-go}
COMPOSE_VERSION=${COMPOSE_VERSION:-v5.6.0}

[ -x "$DIR/docker-compose" ] && exit 0
echo "building docker compose $COMPOSE_VERSION into $DIR (once; a few minutes cold)"
export GOFLAGS=-mod=mod GOWORK=off
src=$($GO mod download -json "github.com/docker/compose/v5@$COMPOSE_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "github.com/docker/compose/v5@$COMPOSE_VERSION: no module directory"; exit 1; }
rm -rf "$DIR/src"
mkdir -p "$DIR"
cp -r "$src" "$DIR/src"
chmod -R u+w "$DIR/src"
cd "$DIR/src"
$GO build -trimpath -ldflags "-X github.com/docker/compose/v5/internal.Version=$COMPOSE_VERSION" -o "$DIR/docker-compose.tmp" ./cmd
mv "$DIR/docker-compose.tmp" "$DIR/docker-compose"
rm -rf "$DIR/src"
