#!/usr/bin/env bash
# The imageless pod benchmark (e2e/bench/imageless.sh, issue 5) on the device machine (Ubuntu
# 24.04, cgroup v2, no network, no skopeo / docker-registry / runc / crun / nix), from the payload
# that e2e/device/prepare.sh wrote into .dev/ here, plus .dev/registry.tar.xz
# (`WITH_REGISTRY=only e2e/device/prepare.sh`). Run from the repository root THERE, with .dev
# carried:
#
#   bash e2e/device/bench.sh
#
# Unpacks .dev/payload.tar.xz into SKIFF_DEV_DIR (default /tmp/skiff-dev) unless that already
# holds this payload (e2e/device/run.sh or an earlier bench.sh unpacked it), and
# .dev/registry.tar.xz into SKIFF_DEV_DIR/registry unless REGISTRY_BIN is set or docker-registry
# is on PATH; picks the Python with grpcio as run.sh does; runs the image's pod with the skiff
# handler unless runc and containerd-shim-runc-v2 are on PATH (the payload has neither). Prints
# the result tables; with OUT set also writes bench.md (the tables), bench.log (everything) and,
# on failure, containerd.log and registry.log there.
#
# Environment: PHASES (default cold; rollback and delta need nothing more, warm needs runc and
# crun; store runs e2e/bench/store.sh first, for each of STORE_FIXTURES (default "real random"),
# STORE_N rounds (default 11), STORE_MIB (default 200), against the Nix bundle in .dev/nix.tar.xz
# from `WITH_NIX=1 e2e/device/prepare.sh`), COLD_N (default 7), BIG_MIB (default 100), N (rounds of rollback, default 20), REG_PORT,
# IMAGE_HANDLER, REGISTRY_BIN, PYTHON, SKIFF_DEV_DIR, BENCH_TMPFS=1 (the work directory on a
# tmpfs; default a directory under /tmp, on disk as in the build machine's runs), BENCH_TIMEOUT
# (seconds, default 540), OUT.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
source e2e/device/lib.sh
DEV=${SKIFF_DEV_DIR:-/tmp/skiff-dev}
PHASES=${PHASES:-cold}
die() {
  echo "bench.sh: $*" >&2
  exit 1
}

[[ -f .dev/payload.tar.xz ]] || die "no .dev/payload.tar.xz (run e2e/device/prepare.sh, carry .dev)"
if dev_unpacked .dev/payload.tar.xz "$DEV"; then
  echo "payload: already unpacked in $DEV"
else
  echo "payload: unpacking .dev/payload.tar.xz into $DEV"
  dev_unpack .dev/payload.tar.xz "$DEV" || die "could not unpack the payload"
fi
for b in containerd ctr containerd-shim-skiff-v2 skiff busybox; do
  [[ -x $DEV/bin/$b ]] || die "the payload lacks bin/$b"
done
export PATH=$DEV/bin:$PATH

if [[ " $PHASES " == *" cold "* && -z ${REGISTRY_BIN:-} ]]; then
  if ! REGISTRY_BIN=$(command -v docker-registry); then
    [[ -f .dev/registry.tar.xz ]] ||
      die "no docker-registry: carry .dev/registry.tar.xz (WITH_REGISTRY=only e2e/device/prepare.sh) or set REGISTRY_BIN"
    if ! dev_unpacked .dev/registry.tar.xz "$DEV/registry"; then
      dev_unpack .dev/registry.tar.xz "$DEV/registry" || die "could not unpack .dev/registry.tar.xz"
    fi
    REGISTRY_BIN=$DEV/registry/bin/docker-registry
  fi
fi
if [[ -n ${REGISTRY_BIN:-} ]]; then
  "$REGISTRY_BIN" --version || die "$REGISTRY_BIN does not run"
fi

if [[ " $PHASES " == *" store "* ]]; then
  [[ -f .dev/nix.tar.xz ]] || die "PHASES has store: carry .dev/nix.tar.xz (WITH_NIX=1 e2e/device/prepare.sh)"
  if ! dev_unpacked .dev/nix.tar.xz "$DEV/nixb"; then
    dev_unpack .dev/nix.tar.xz "$DEV/nixb" || die "could not unpack .dev/nix.tar.xz"
  fi
  PATH=$DEV/nixb/nix/bin:$PATH nix --version || die "the Nix bundle does not run"
  for fx in ${STORE_FIXTURES:-real random}; do
    echo "#### store benchmark, FIXTURE=$fx"
    PATH=$DEV/nixb/nix/bin:$PATH FIXTURE=$fx SKIFF=$DEV/bin/skiff \
      bash e2e/bench/store.sh "${STORE_N:-11}" "${STORE_MIB:-200}" | tee -a "${OUT:-/tmp}/store.md" ||
      die "e2e/bench/store.sh FIXTURE=$fx failed"
  done
  PHASES=$(tr ' ' '\n' <<<"$PHASES" | { grep -vx store || true; } | tr '\n' ' ')
  [[ -n ${PHASES// /} ]] || exit 0
fi

export SKIFF_CRI_PY=$DEV/py
dev_python "$DEV" "$ROOT" || die "$DEV_PY_NOTE"
[[ -z $DEV_PY_NOTE ]] || echo "$DEV_PY_NOTE"
echo "python: $DEV_PY ($("$DEV_PY" -c 'import grpc, google.protobuf as p; print("grpcio", grpc.__version__, "protobuf", p.__version__)' 2>&1 | tail -n1))"

if [[ -z ${IMAGE_HANDLER:-} ]]; then
  IMAGE_HANDLER=skiff
  if command -v runc >/dev/null && command -v containerd-shim-runc-v2 >/dev/null; then
    IMAGE_HANDLER=runc
  fi
fi
echo "image pod handler: $IMAGE_HANDLER"

WORK=$(mktemp -d /tmp/skiff-bench-work.XXXXXX)
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  awk -v d="$WORK" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
    sort -r | while IFS= read -r mp; do umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null; done
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
if [[ ${BENCH_TMPFS:-0} == 1 ]]; then
  mount -t tmpfs -o size=16g,mode=1777 skiff-bench "$WORK" || die "cannot mount a tmpfs at $WORK"
fi
echo "work directory: $WORK ($(stat -fc %T "$WORK")); $(nproc) cpus; kernel $(uname -r)"
mkdir -p /run/containerd/s

LOGDIR=${OUT:-$WORK/out}
mkdir -p "$LOGDIR"
rc=0
TMPDIR=$WORK E2E_KEEP_TMP=1 CTRD_BIN=$DEV/bin/containerd CTR_BIN=$DEV/bin/ctr CNI_BIN_DIR=$DEV/cni \
  SKIFF_SHIM=$DEV/bin/containerd-shim-skiff-v2 BUSYBOX_BIN=$DEV/bin/busybox \
  E2E_BUILD=$DEV E2E_IMAGES_PREBUILT=1 PYTHON=$DEV_PY REGISTRY_BIN=${REGISTRY_BIN:-} \
  IMAGE_HANDLER=$IMAGE_HANDLER PHASES=$PHASES COLD_N=${COLD_N:-7} BIG_MIB=${BIG_MIB:-100} \
  timeout -k 20 "${BENCH_TIMEOUT:-540}" bash e2e/bench/imageless.sh \
  2> >(tee -a "$LOGDIR/bench.log" >&2) | tee "$LOGDIR/bench.md" || rc=$?
cat "$LOGDIR/bench.md" >>"$LOGDIR/bench.log"
if ((rc != 0)); then
  tmpd=$(find "$WORK" -maxdepth 1 -name 'skiff-e2e.*' | head -n1)
  if [[ -n $tmpd ]]; then
    tail -n 30 "$tmpd/ctrd/containerd.log" 2>/dev/null | sed 's/^/containerd.log: /' || true
    if [[ -n ${OUT:-} ]]; then
      cp "$tmpd/ctrd/containerd.log" "$OUT/containerd.log" 2>/dev/null || true
      cp "$tmpd/registry/log" "$OUT/registry.log" 2>/dev/null || true
    fi
  fi
  echo "bench.sh: e2e/bench/imageless.sh failed (rc $rc$( ((rc == 124)) && echo ', timed out'))" >&2
fi
exit "$rc"
