#!/usr/bin/env bash
# Installs every Debian 12 package skiff needs to build and to run its tests (idempotent; skips
# apt entirely when everything is present). Run as root.
set -euo pipefail

PKGS=(
  # build
  build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
  libseccomp-dev libcap-dev libyajl-dev libcurl4-openssl-dev libuv1-dev
  libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev libzstd-dev liblzma-dev libssl-dev
  libbz2-dev libbrotli-dev zlib1g-dev
  libcriterion-dev
  # end to end
  containerd runc crun containernetworking-plugins nix-bin docker-registry skopeo
  python3-grpcio python3-grpc-tools python3-yaml python3-cryptography busybox-static iproute2 util-linux procps psmisc
  ca-certificates curl git xz-utils zstd file
  # e2e/node/helm-render (renders the Helm chart: Go text/template + sprig, built offline)
  golang-1.19-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v2-dev
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
