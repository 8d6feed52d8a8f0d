#!/usr/bin/env bash
# Builds the skiff node image (the DaemonSet's image) and the stub image skiff.dev/empty:1 as OCI
# image layouts and OCI archives, from an existing CMake build, without a Dockerfile toolchain:
#
#   manifests/image/build.sh [--build-dir DIR] [--out DIR] [--name REF]
#
#   --build-dir  CMake build tree with `skiff` and `containerd-shim-skiff-v2` built
#                (default: build)
#   --out        output directory (default: <build-dir>/image)
#   --name       image reference (default: ghcr.io/skiff-dev/skiff-node:<version>)
#
# Outputs, in --out:
#   skiff-node/            OCI layout (skopeo copy oci:skiff-node:<tag> docker://REGISTRY/...)
#   skiff-node.tar         the same as an archive (ctr -n k8s.io images import skiff-node.tar)
#   stub-image.tar         OCI archive of skiff.dev/empty:1 (also inside the node image at
#                          /usr/local/share/skiff/stub-image.tar, where `skiff node install` finds it)
#
# Image contents (one layer, deterministic: sorted, mtime 0, uid/gid 0):
#   /usr/local/bin/{skiff,containerd-shim-skiff-v2}   installed by `cmake --install`
#   /usr/local/lib/skiff/                             the CLI's private shared libraries (RUNPATH
#                                                     $ORIGIN/../lib/skiff); copied to the host too
#   /lib/x86_64-linux-gnu, /lib64 (or aarch64 paths)  glibc for running inside the container only
#   /usr/local/share/skiff/stub-image.tar             the stub image
#   /etc/ssl/certs/ca-certificates.crt                the build machine's CA bundle
# The shim links everything but glibc statically; `skiff` needs a host glibc at least as new as
# the build machine's (Debian 12: 2.36).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$repo/build
out=
name=
while (($#)); do
  case $1 in
    --build-dir) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
build=$(cd "$build" && pwd)
out=${out:-$build/image}
version=$(sed -n 's/^project(skiff VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
name=${name:-ghcr.io/skiff-dev/skiff-node:$version}
tag=${name##*:}
case $(uname -m) in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) echo "build.sh: unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
for b in skiff containerd-shim-skiff-v2; do
  [[ -x $build/bin/$b ]] || { echo "build.sh: $build/bin/$b missing; build it first" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 022

det_tar() { # det_tar DIR: deterministic tar of DIR's contents on stdout
  tar -C "$1" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu -cf - .
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
blob() { # blob LAYOUT FILE: move FILE into the layout's blobs; print its digest
  local d
  d=$(sha "$2")
  mv "$2" "$1/blobs/sha256/$d"
  echo "$d"
}

# oci_layout LAYOUT ROOTFS NAME CONFIG_OBJECT: one-layer image layout.
oci_layout() {
  local layout=$1 rootfs=$2 ref=$3 cfg=$4 diff layer lsize config csize manifest msize
  mkdir -p "$layout/blobs/sha256"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  det_tar "$rootfs" >"$work/layer.tar"
  diff=$(sha "$work/layer.tar")
  gzip -n -9 -c "$work/layer.tar" >"$work/layer.tar.gz"
  rm -f "$work/layer.tar"
  lsize=$(size "$work/layer.tar.gz")
  layer=$(blob "$layout" "$work/layer.tar.gz")
  printf '{"architecture":"%s","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"manifests/image/build.sh"}]}' \
    "$arch" "$cfg" "$diff" >"$work/config.json"
  csize=$(size "$work/config.json")
  config=$(blob "$layout" "$work/config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
    "$config" "$csize" "$layer" "$lsize" >"$work/manifest.json"
  msize=$(size "$work/manifest.json")
  manifest=$(blob "$layout" "$work/manifest.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"platform":{"architecture":"%s","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest" "$msize" "$arch" "$ref" "${ref##*:}" >"$layout/index.json"
}

path_env='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

# 1. The stub image: a few empty directories.
mkdir -p "$work/stub/rootfs"/{etc,tmp,proc,sys,dev}
chmod 1777 "$work/stub/rootfs/tmp"
oci_layout "$work/stub/layout" "$work/stub/rootfs" skiff.dev/empty:1 "{\"Env\":[\"$path_env\"]}"
mkdir -p "$out"
det_tar "$work/stub/layout" >"$out/stub-image.tar"

# 2. The node image's root.
root=$work/node
cmake --install "$build" --prefix "$root/usr/local" >/dev/null
mkdir -p "$root/usr/local/lib/skiff" "$root/usr/local/share/skiff" "$root/tmp" "$root/etc"
chmod 1777 "$root/tmp"
cp "$out/stub-image.tar" "$root/usr/local/share/skiff/stub-image.tar"
glibc_re='^(libc|libm|libdl|libpthread|librt|libresolv|libutil|ld-linux[^ ]*)\.so'
for b in "$root/usr/local/bin/skiff" "$root/usr/local/bin/containerd-shim-skiff-v2"; do
  # Resolve against the build tree's binary: the installed one has RUNPATH $ORIGIN/../lib/skiff.
  ldd "$build/bin/$(basename "$b")" | awk '/=> \// {print $1, $3} /^\t\/.*ld-linux/ {print $1, $1}' |
    while read -r soname path; do
      if [[ $soname =~ $glibc_re || $soname == /* ]]; then
        dest=$root$(dirname "$path")
        mkdir -p "$dest"
        cp -L "$path" "$dest/$(basename "$path")"
      else
        cp -L "$path" "$root/usr/local/lib/skiff/$soname"
      fi
    done
done
# CA certificates for HTTPS binary caches and hubs (libcurl's default bundle path).
if [[ -r /etc/ssl/certs/ca-certificates.crt ]]; then
  mkdir -p "$root/etc/ssl/certs"
  cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
fi
printf 'root:x:0:0:root:/root:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
oci_layout "$work/node-layout" "$root" "$name" \
  "{\"Env\":[\"$path_env\"],\"Entrypoint\":[\"/usr/local/bin/skiff\"],\"Cmd\":[\"agent\"],\"Labels\":{\"org.opencontainers.image.version\":\"$version\",\"org.opencontainers.image.title\":\"skiff-node\"}}"
rm -rf "$out/skiff-node"
cp -r "$work/node-layout" "$out/skiff-node"
det_tar "$out/skiff-node" >"$out/skiff-node.tar"
echo "node image  $name"
echo "  layout    $out/skiff-node   (skopeo inspect oci:$out/skiff-node:$tag)"
echo "  archive   $out/skiff-node.tar   (ctr -n k8s.io images import)"
echo "stub image  skiff.dev/empty:1   $out/stub-image.tar"
