#!/usr/bin/env bash
# GPU checks for a machine with a real NVIDIA GPU and driver (the H100 test machine: driver under
# /usr/local/nvidia, no network, no containerd needed). Uses a bundle made by e2e/gpu/bundle.sh.
#
#   e2e/gpu/h100.sh [BUNDLE]        default: build-gpu/h100-bundle (or $SKIFF_GPU_BUNDLE)
#
# Environment: DRIVER_ROOT (default /usr/local/nvidia if it has lib64/, else /), GPU (the
# NVIDIA_VISIBLE_DEVICES value to allocate, default 0), OUT (a directory for logs; optional).
# Prints TAP-style lines; exit status 0 only if every check passed.
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
BUNDLE=${1:-${SKIFF_GPU_BUNDLE:-build-gpu/h100-bundle}}
BUNDLE=$(cd "$BUNDLE" && pwd)
SKIFF=$BUNDLE/bin/skiff
if [[ -z ${DRIVER_ROOT:-} ]]; then
  DRIVER_ROOT=/
  [[ -d /usr/local/nvidia/lib64 ]] && DRIVER_ROOT=/usr/local/nvidia
fi
GPU=${GPU:-0}
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
section() { printf '\n==== %s ====\n' "$*"; }
# check DESCRIPTION EXPECTED_REGEX COMMAND...: runs COMMAND, shows its output, matches it.
check() {
  local what=$1 re=$2 out rc
  shift 2
  echo "\$ $*"
  out=$("$@" 2>&1)
  rc=$?
  printf '%s\n' "$out"
  if [[ $out =~ $re ]]; then ok "$what"; else not_ok "$what (rc $rc, wanted /$re/)"; fi
}
# check_rc DESCRIPTION WANT_RC COMMAND...
check_rc() {
  local what=$1 want=$2 rc
  shift 2
  echo "\$ $*"
  "$@" 2>&1
  rc=$?
  if [[ $rc == "$want" ]]; then ok "$what"; else not_ok "$what (rc $rc, wanted $want)"; fi
}

section "host facts"
cat /proc/driver/nvidia/version 2>&1
cat /sys/module/nvidia/version 2>&1
grep -i nvidia /proc/devices
ls -l /dev/nvidia* /dev/nvidia-caps 2>&1
ls /proc/driver/nvidia/gpus 2>&1
command -v nvidia-smi >/dev/null && nvidia-smi -L
[[ -x $DRIVER_ROOT/bin/nvidia-smi ]] && "$DRIVER_ROOT/bin/nvidia-smi" -L
echo "driver root: $DRIVER_ROOT"
grep ModifyDeviceFiles /proc/driver/nvidia/params

section "discovery"
check "discover finds the driver, its CUDA version and a GPU" 'cuda version: +[0-9]+\.[0-9]+ \(note\).*gpu 0: +GPU-' \
  "$SKIFF" gpu discover --driver-root "$DRIVER_ROOT" --probe-cuda
if [[ -f /etc/ld.so.cache ]]; then
  check "our ld.so.cache reader agrees with ldconfig on the host cache" "libs found in cache" \
    "$SKIFF" gpu ldcache /etc/ld.so.cache
  ours=$("$SKIFF" gpu ldcache /etc/ld.so.cache | head -1 | awk '{print $1}')
  theirs=$(ldconfig -p | head -1 | awk '{print $1}')
  [[ $ours == "$theirs" ]] && ok "entry count $ours = ldconfig's" || not_ok "entry count $ours != ldconfig's $theirs"
fi

section "plan"
PLAN=(--driver-root "$DRIVER_ROOT" --allow-env --env "NVIDIA_VISIBLE_DEVICES=$GPU")
check "plan for GPU $GPU" '"active": true.*"/dev/nvidia-uvm c' "$SKIFF" gpu plan "${PLAN[@]}" \
  --requires-cuda '>=12.4' --write-ldcache /tmp/skiff-gpu-ld.so.cache
check "ldconfig reads our generated cache" 'libcuda\.so\.1 \(libc6,x86-64\) => /run/opengl-driver/lib/libcuda\.so\.1' \
  ldconfig -p -C /tmp/skiff-gpu-ld.so.cache
check "requires.cuda >=99.0 is refused naming both versions" 'environment requires CUDA >=99\.0, but the driver [0-9.]+ supports CUDA [0-9.]+' \
  "$SKIFF" gpu plan "${PLAN[@]}" --requires-cuda '>=99.0'
check "NVIDIA_REQUIRE_CUDA=cuda>=99.0 is refused" 'unsatisfied condition: cuda>=99\.0' \
  "$SKIFF" gpu plan "${PLAN[@]}" --env 'NVIDIA_REQUIRE_CUDA=cuda>=99.0'
check "a pod-set NVIDIA_VISIBLE_DEVICES=all gets nothing by default" '"active": false' \
  "$SKIFF" gpu plan --driver-root "$DRIVER_ROOT" --env NVIDIA_VISIBLE_DEVICES=all
check "the device plugin's mount channel is trusted" '"source": "mounts"' \
  "$SKIFF" gpu plan --driver-root "$DRIVER_ROOT" --bundle "$(
    b=$(mktemp -d)
    printf '{"ociVersion":"1.1.0","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/","env":[]},"mounts":[{"destination":"/var/run/nvidia-container-devices/%s","source":"/dev/null","type":"bind","options":["bind"]}]}' "$GPU" >"$b/config.json"
    echo "$b"
  )"

section "injection into a chroot (skiff gpu exec)"
# A rootfs holding the probes, a static busybox and a copy of the host glibc at FHS paths (the
# stand-in for an environment's glibc; nvidia-smi needs /lib64/ld-linux-x86-64.so.2).
R=$(mktemp -d /tmp/skiff-gpu-root.XXXXXX)
mkdir -p "$R/bin" "$R/lib64" "$R/tmp"
cp "$BUNDLE/bin/cuprobe" "$BUNDLE/bin/cuprobe-rpath" "$BUNDLE/bin/nvmlprobe" "$BUNDLE/bin/busybox" "$R/bin/"
for a in sh env ls cat grep head readlink stat true; do ln -s busybox "$R/bin/$a"; done
for so in $(ldd "$BUNDLE/bin/cuprobe" | awk '/=> \//{print $3}') /lib/x86_64-linux-gnu/libm.so.6 \
  /lib/x86_64-linux-gnu/libpthread.so.0 /lib/x86_64-linux-gnu/librt.so.1 /lib/x86_64-linux-gnu/libdl.so.2; do
  [[ -e $so ]] || continue
  mkdir -p "$R$(dirname "$so")"
  cp -L "$so" "$R$so"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$R/lib64/"
EXEC=("$SKIFF" gpu exec "${PLAN[@]}" --env CUDA_CACHE_DISABLE=1 --env PATH=/bin --rootfs "$R" --)
check "inside: only the allocated GPU node, ctl and uvm" "nvidia${GPU}" "${EXEC[@]}" /bin/sh -c 'ls -l /dev/nvidia*'
check "inside: /proc/driver/nvidia is masked (ModifyDeviceFiles 0, one GPU dir)" 'ModifyDeviceFiles: 0' \
  "${EXEC[@]}" /bin/sh -c 'grep ModifyDeviceFiles /proc/driver/nvidia/params; ls /proc/driver/nvidia/gpus'
check "inside: nvidia-smi -L lists the GPU" 'GPU 0: .*\(UUID: GPU-' "${EXEC[@]}" /run/opengl-driver/bin/nvidia-smi -L
check "inside: cuprobe (cuInit, alloc, PTX JIT kernel, read back 42)" 'cuInit=0 count=1\(rc0\).*ptxjit=0.*value=42' \
  "${EXEC[@]}" /bin/cuprobe
check "inside: nvmlprobe returns the GPU name" 'init=0 .*name=NVIDIA' "${EXEC[@]}" /bin/nvmlprobe
check "inside: the generated /etc/ld.so.cache serves FHS programs without LD_LIBRARY_PATH" 'ptxjit=0.*value=42' \
  "${EXEC[@]}" /bin/env -u LD_LIBRARY_PATH /bin/cuprobe
# Like a Nix program (RUNPATH /run/opengl-driver/lib, no loader cache): libcuda loads, but its own
# dlopen of the PTX JIT compiler fails without LD_LIBRARY_PATH (gpu.md 7.2) - why we set it.
NOCACHE=("$SKIFF" gpu exec "${PLAN[@]}" --no-ldcache --env CUDA_CACHE_DISABLE=1 --rootfs "$R" --)
check "inside, no cache: RUNPATH alone gives PTX JIT 221" 'cuInit=0.*ptxjit=221' \
  "${NOCACHE[@]}" /bin/env -u LD_LIBRARY_PATH /bin/cuprobe-rpath
check "inside, no cache: with our LD_LIBRARY_PATH the JIT works" 'ptxjit=0.*value=42' \
  "${NOCACHE[@]}" /bin/cuprobe-rpath
check "inside: CONDA_OVERRIDE_CUDA is the driver's CUDA version" 'CONDA_OVERRIDE_CUDA=[0-9]+\.[0-9]+' "${EXEC[@]}" /bin/env
NONE=("$SKIFF" gpu exec --driver-root "$DRIVER_ROOT" --allow-env --env NVIDIA_VISIBLE_DEVICES=none --env CUDA_CACHE_DISABLE=1 --rootfs "$R" --)
check "NVIDIA_VISIBLE_DEVICES=none: libraries but no GPU (cuInit 100)" 'cuInit=100' "${NONE[@]}" /bin/cuprobe

section "timing: plan + injection (median of 10, ms)"
times=()
for _ in $(seq 10); do
  s=$(date +%s%N)
  "${EXEC[@]}" /bin/true >/dev/null 2>&1
  e=$(date +%s%N)
  times+=($(((e - s) / 1000000)))
done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print "median " a[int((NR+1)/2)] " ms (n=" NR ")"}'
rm -rf "$R"

section "unit tests"
SRC=$(sed -n 's/^source dir of the fixtures baked into the tests: //p' "$BUNDLE/SOURCE_DIR" 2>/dev/null)
if [[ -n $SRC && ! -e $SRC ]]; then
  mkdir -p "$(dirname "$SRC")" && ln -s "$REPO" "$SRC" && echo "linked $SRC -> $REPO (fixtures)"
fi
for t in "$BUNDLE"/tests/test_*; do
  [[ -x $t ]] || continue
  if LD_LIBRARY_PATH=$BUNDLE/lib "$t" --jobs 1 >/tmp/skiff-gpu-unit.log 2>&1; then
    ok "$(basename "$t"): $(tail -1 /tmp/skiff-gpu-unit.log)"
  else
    cat /tmp/skiff-gpu-unit.log
    not_ok "$(basename "$t")"
  fi
done

printf '\n%d checks, %d failed\n' "$n" "$failed"
((failed == 0))
