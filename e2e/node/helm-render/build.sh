#!/usr/bin/env bash
# Builds helm-render offline (Go in GOPATH mode against Debian's packaged sources, no module
# download) into BUILD_DIR/helm-render/helm-render unless that binary is newer than main.go; prints
# its path. Needs golang-1.19-go, golang-github-masterminds-sprig-dev and
# golang-gopkg-yaml.v2-dev (.ci/deps.sh installs them).
# usage: e2e/node/helm-render/build.sh BUILD_DIR   env: GO (default /usr/lib/go-1.19/bin/go)
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ $# == 1 ]] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
GO=${GO:-/usr/lib/go-1.19/bin/go}
dir=$(mkdir -p "$1/helm-render" && cd "$1/helm-render" && pwd) # GOCACHE must be absolute
out=$dir/helm-render
if [[ ! -x $out || $src/main.go -nt $out ]]; then
  [[ -x $GO ]] || { echo "helm-render: no Go toolchain at $GO (run .ci/deps.sh)" >&2; exit 1; }
  [[ -d /usr/share/gocode/src/github.com/Masterminds/sprig ]] ||
    { echo "helm-render: no sprig sources in /usr/share/gocode (run .ci/deps.sh)" >&2; exit 1; }
  (cd "$src" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$dir/go-cache" \
    GOFLAGS='' "$GO" build -o "$out.tmp" .) >&2
  mv "$out.tmp" "$out"
fi
echo "$out"
