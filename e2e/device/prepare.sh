#!/usr/bin/env bash
# Prepares one self-contained run of skiff's cgroup v2 / GPU checks on the device machine (the H100
# test machine: Ubuntu 24.04, pure cgroup v2, no network, no containerd). Run HERE, as root, from
# anywhere; e2e/device/run.sh runs THERE from the repository root.
#
#   e2e/device/prepare.sh
#
# Builds the project (Release, in $BUILD_DIR, default build-dev) and writes .dev/ at the repository
# root (listed in .git/info/exclude; the device call names it in `carry`):
#   .dev/payload.tar.xz   containerd + ctr 1.6.20 (Debian), CNI bridge/host-local/loopback,
#                         busybox-static, the shim, the skiff CLI (+ lib/skiff), the criterion tests
#                         that matter for cgroup v2 and GPUs with every non-glibc library they need
#                         (lib/), the prebuilt e2e image tarballs and rootfs, the generated Python
#                         CRI modules (py/), the GPU bundle of e2e/gpu/bundle.sh when it exists
#   .dev/MANIFEST.txt     what is in the payload, sizes, versions
#   .dev/registry.tar.xz  with WITH_REGISTRY=1 (or =only: that file alone, nothing built): Debian's
#                         docker-registry (bin/docker-registry, linked to glibc only), which
#                         e2e/device/bench.sh unpacks for the imageless cold-start benchmark
#   .dev/nix.tar.xz       with WITH_NIX=1 (or =only): Debian's nix-bin bundled by
#                         e2e/bench/nix-bundle.sh, the reference of the store benchmark that
#                         e2e/device/bench.sh runs for PHASES=store
# The payload is compressed because containerd and ctr alone are 71 MB and the whole working tree
# plus carried paths may not exceed 64 MiB.
#
# Environment: BUILD_DIR (default build-dev), JOBS (default nproc), DEBS (a directory that already
# holds the .deb files; default: apt-get download into a temporary directory), WITH_REGISTRY
# (0, 1 or only; default 0), WITH_NIX (0, 1 or only; default 0), REGISTRY_SRC (the docker-registry binary; default: the one on PATH).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build-dev}
JOBS=${JOBS:-$(nproc)}
DEV=$ROOT/.dev
STAGE=$ROOT/$BUILD_DIR/device-stage
LIMIT=$((64 * 1024 * 1024))

step() { printf '\n==== %s ====\n' "$*"; }
die() {
  echo "prepare.sh: $*" >&2
  exit 1
}
[[ $(id -u) == 0 ]] || die "run as root (the e2e image build and dpkg -x expect it)"

step "exclude .dev from git"
gitdir=$(git rev-parse --git-dir 2>/dev/null || echo .git)
mkdir -p "$gitdir/info"
grep -qxF '/.dev/' "$gitdir/info/exclude" 2>/dev/null || echo '/.dev/' >>"$gitdir/info/exclude"
git check-ignore -q .dev/x || die ".dev is not ignored by git"

# sizes: the working tree plus .dev must stay below the device tool's 64 MiB.
sizes() {
  step "sizes"
  [[ -d $STAGE ]] && du -sh "$STAGE" | sed 's/^/uncompressed stage: /'
  ls -l "$DEV"
  tree_bytes=$(git ls-files -co --exclude-standard -z | xargs -0 stat -c %s 2>/dev/null |
    awk '{ s += $1 } END { print s + 0 }')
  dev_bytes=$(du -sb "$DEV" | cut -f1)
  total=$((tree_bytes + dev_bytes))
  printf 'working tree %d bytes + .dev %d bytes = %d bytes (%d%% of the 64 MiB limit)\n' \
    "$tree_bytes" "$dev_bytes" "$total" $((total * 100 / LIMIT))
  ((total < LIMIT)) || die "too big for the device tool"
}

# pack_registry: .dev/registry.tar.xz with bin/docker-registry and VERSION.
pack_registry() {
  step "docker-registry (.dev/registry.tar.xz, for e2e/device/bench.sh)"
  local src=${REGISTRY_SRC:-$(command -v docker-registry || true)} d extra
  [[ -n $src && -x $src ]] ||
    die "no docker-registry (apt-get install docker-registry, or set REGISTRY_SRC)"
  # The device has another (newer) glibc and nothing else of Debian's.
  extra=$({ ldd "$src" 2>/dev/null || true; } | awk '/=> / { print $1 }' |
    grep -vE '^(libc|libpthread|libdl|libm|libresolv|librt)\.so' | tr '\n' ' ' || true)
  [[ -z $extra ]] || die "$src needs libraries besides glibc: $extra"
  d=$(mktemp -d)
  chmod 0755 "$d"
  mkdir -p "$d/bin" "$DEV"
  install -m 0755 "$src" "$d/bin/docker-registry"
  (cd "$d" && bin/docker-registry --version) | tee "$d/VERSION"
  tar -C "$d" --sort=name --owner=0 --group=0 --numeric-owner -cf - . |
    xz -T"$JOBS" -9 -c >"$DEV/registry.tar.xz"
  rm -rf "$d"
  ls -l "$DEV/registry.tar.xz"
}

pack_nix() {
  step "nix-bin bundle (.dev/nix.tar.xz)"
  local d
  d=$(mktemp -d)
  bash e2e/bench/nix-bundle.sh "$d/nix"
  mkdir -p "$DEV"
  tar -C "$d" --sort=name --owner=0 --group=0 --numeric-owner -cf - nix |
    xz -T"$JOBS" -9 -c >"$DEV/nix.tar.xz"
  rm -rf "$d"
  ls -l "$DEV/nix.tar.xz"
}

if [[ ${WITH_REGISTRY:-0} == only || ${WITH_NIX:-0} == only ]]; then
  [[ ${WITH_REGISTRY:-0} == 0 ]] || pack_registry
  [[ ${WITH_NIX:-0} == 0 ]] || pack_nix
  sizes
  exit 0
fi

step "build ($BUILD_DIR, Release)"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j"$JOBS"

rm -rf "$STAGE"
mkdir -p "$STAGE"/{bin,lib,cni,test,py,images} "$DEV"

step "Debian packages: containerd, containernetworking-plugins, busybox-static"
debs=${DEBS:-}
if [[ -z $debs ]]; then
  debs=$(mktemp -d)
  trap 'rm -rf "$debs"' EXIT
  chmod 0755 "$debs" # apt's _apt user downloads into it
  (cd "$debs" && apt-get download containerd containernetworking-plugins busybox-static \
    protobuf-compiler libprotoc32 libprotobuf32 >/dev/null)
fi
x=$(mktemp -d)
for p in containerd containernetworking-plugins busybox-static protobuf-compiler libprotoc32 libprotobuf32; do
  f=$(compgen -G "$debs/${p}_*.deb" | head -n1) || true
  [[ -f $f ]] || die "no ${p}_*.deb in $debs"
  dpkg -x "$f" "$x"
  basename "$f" >>"$STAGE/VERSIONS"
done
install -m 0755 "$x/usr/bin/containerd" "$x/usr/bin/ctr" "$STAGE/bin/"
for p in bridge host-local loopback; do install -m 0755 "$x/usr/lib/cni/$p" "$STAGE/cni/"; done
install -m 0755 "$x/bin/busybox" "$STAGE/bin/busybox"
PROTOC=$STAGE/.protoc
mkdir -p "$PROTOC"
cp -a "$x/usr/bin/protoc" "$x"/usr/lib/x86_64-linux-gnu/libproto* "$PROTOC/"
rm -rf "$x"
# Debian's Go binaries are already stripped; strip again is a no-op but keeps them honest.
strip "$STAGE"/bin/containerd "$STAGE"/bin/ctr "$STAGE"/cni/* 2>/dev/null || true
"$STAGE/bin/containerd" --version | tee -a "$STAGE/VERSIONS"
"$STAGE/bin/ctr" --version >/dev/null

step "skiff binaries"
install -m 0755 "$BUILD_DIR/bin/containerd-shim-skiff-v2" "$BUILD_DIR/bin/skiff" "$STAGE/bin/"
mkdir -p "$STAGE/lib/skiff"
cp -L "$BUILD_DIR"/lib/skiff/* "$STAGE/lib/skiff/" 2>/dev/null || true
"$STAGE/bin/skiff" --help >/dev/null 2>&1 || "$STAGE/bin/skiff" help >/dev/null 2>&1 ||
  echo "warning: $STAGE/bin/skiff did not answer --help"

step "criterion tests and their libraries"
tests=(test_cgroups test_container test_mounts test_task_service)
for f in test/gpu/test_*.c; do tests+=("$(basename "$f" .c)"); done
for t in "${tests[@]}"; do
  if [[ -x $BUILD_DIR/test/$t ]]; then
    install -m 0755 "$BUILD_DIR/test/$t" "$STAGE/test/"
  else
    echo "warning: $BUILD_DIR/test/$t was not built"
  fi
done
# Every non-glibc library (same rule as cmake/bundle-libs.sh); run with LD_LIBRARY_PATH=lib.
for f in "$STAGE"/test/*; do ldd "$f"; done | awk '/=> \// { print $1, $3 }' | sort -u |
  while read -r name path; do
    case $name in
    libc.so.* | libm.so.* | libdl.so.* | libpthread.so.* | librt.so.* | libresolv.so.* | \
      libutil.so.* | ld-linux*.so.* | libanl.so.* | libnsl.so.*) continue ;;
    esac
    cp -L "$path" "$STAGE/lib/$name"
  done
echo "SKIFF_SOURCE_DIR=$ROOT" >"$STAGE/SOURCE_DIR"

step "e2e images (busybox, pause, empty)"
E2E_BUILD=$STAGE/e2e BUSYBOX_BIN=$STAGE/bin/busybox bash -c '
  set -euo pipefail
  E2E_DIR=$1/e2e
  source "$E2E_DIR/lib/common.sh"
  source "$E2E_DIR/lib/containerd.sh"
  source "$E2E_DIR/lib/images.sh"
  images_build
  echo "$BUSYBOX_TAR"; echo "$PAUSE_TAR"; echo "$EMPTY_TAR"' _ "$ROOT"
mv "$STAGE"/e2e/images/* "$STAGE/images/"
rm -rf "$STAGE/e2e"
# The pause binary must be static (the device has another libc).
file "$STAGE"/images/pause-*.rootfs/pause | grep -q 'statically linked' || die "pause is not static"

step "Python CRI modules (protoc 3.21 + grpc_tools)"
# cri_pb2.py from Debian's protoc 3.21: its builder-style code (no runtime version check) imports
# on protobuf 3.20 through 6.x, unlike grpc_tools' bundled protoc 3.5, whose descriptor-style
# code the upb runtime of protobuf >= 4.21 refuses. The stubs (cri_pb2_grpc.py) only use
# channel.unary_unary and come from grpc_tools.
LD_LIBRARY_PATH=$PROTOC "$PROTOC/protoc" --version
LD_LIBRARY_PATH=$PROTOC "$PROTOC/protoc" -Ie2e/cri --python_out="$STAGE/py" e2e/cri/cri.proto
/usr/bin/python3 -m grpc_tools.protoc -Ie2e/cri --grpc_python_out="$STAGE/py" e2e/cri/cri.proto
rm -rf "$PROTOC"
sha256sum e2e/cri/cri.proto | cut -c1-16 >"$STAGE/py/cri.proto.sha256"
grep -q 'from google.protobuf.internal import builder' "$STAGE/py/cri_pb2.py" ||
  die "cri_pb2.py does not use the protobuf builder API"
if grep -q ValidateProtobufRuntimeVersion "$STAGE/py/cri_pb2.py"; then
  die "cri_pb2.py checks the protobuf runtime version"
fi
SKIFF_CRI_PY=$STAGE/py PYTHONPATH=e2e/cri /usr/bin/python3 -c '
import cri
c = cri.pb.PodSandboxConfig(hostname="h", metadata=cri.pb.PodSandboxMetadata(name="n"))
assert cri.pb.PodSandboxConfig.FromString(c.SerializeToString()) == c
print("cri modules import and round-trip with protobuf", cri.pb.DESCRIPTOR.__class__.__module__)'

if [[ -x e2e/gpu/bundle.sh ]]; then
  step "GPU bundle (e2e/gpu/bundle.sh)"
  if ! e2e/gpu/bundle.sh "$BUILD_DIR" "$STAGE/gpu-bundle"; then
    echo "warning: e2e/gpu/bundle.sh failed; the GPU checks will not run"
    rm -rf "$STAGE/gpu-bundle"
  fi
fi

step "pack .dev/payload.tar.xz"
# Identical files (skiff, its libraries, tests and busybox appear in the GPU bundle and the image
# rootfs too) become hard links, which tar stores once.
(cd "$STAGE" && find . -type f -size +64k -print0 | xargs -0 sha256sum | sort) |
  awk '{ if ($1 == h) print first "\t" $2; else { h = $1; first = $2 } }' |
  while IFS=$'\t' read -r keep dup; do ln -f "$STAGE/$keep" "$STAGE/$dup"; done
rm -f "$DEV"/payload.tar.* "$DEV/MANIFEST.txt"
tar -C "$STAGE" --sort=name --owner=0 --group=0 --numeric-owner -cf - . |
  xz -T"$JOBS" -6 -c >"$DEV/payload.tar.xz"
{
  echo "# .dev/payload.tar.xz made by e2e/device/prepare.sh on $(date -u +%FT%TZ)"
  cat "$STAGE/VERSIONS"
  echo "# contents (bytes, uncompressed)"
  (cd "$STAGE" && find . -type f -printf '%s %p\n' | sort -k2)
} >"$DEV/MANIFEST.txt"

[[ ${WITH_REGISTRY:-0} == 1 ]] && pack_registry
[[ ${WITH_NIX:-0} == 1 ]] && pack_nix
sizes
