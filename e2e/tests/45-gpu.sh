#!/usr/bin/env bash
# GPU pods (issue 6): imageless pods with the device plugin's mount channel and a CDI annotation.
# With an NVIDIA driver on this machine: nvidia-smi, cuprobe (PTX JIT), nvmlprobe, device nodes,
# /proc/driver/nvidia masking, requires.cuda refusal, create-time with vs without GPU. Without
# one: non-GPU pods untouched, GPU requests fail with a clear error.
# Fixture: lib/gpufix.sh (offline; GPUFIX=<dir> reuses a prebuilt one); scenarios: cri/test_gpu.py.
set -euo pipefail
source "$E2E_DIR/lib/common.sh"
source "$E2E_DIR/lib/containerd.sh"
source "$E2E_DIR/lib/gpufix.sh"
_ctrd_paths
if [[ ${RUNTIME:-$SKIFF_SHIM} != "$SKIFF_SHIM" ]]; then
  skip "GPU pods need the skiff runtime"
  exit 0
fi
SKIFF_BIN=${SKIFF_BIN:-$(dirname "$SKIFF_SHIM")/skiff}
[[ -x $SKIFF_BIN ]] || die "no skiff binary next to the shim ($SKIFF_BIN)"
FIX=${GPUFIX:-$E2E_TMP/gpufix}
gpufix_build "$FIX" "$SKIFF_BIN" || die "building the GPU fixture failed"
nvccver=$(sed -n 's|^// \(Cuda compilation tools.*\)|\1|p' "$FIX/store42.ptx" 2>/dev/null | head -1)
echo "# fixture $FIX (lib/gpufix.sh, on $(uname -n) unless GPUFIX was given): kernel PTX from" \
  "$GPUFIX_PTX${nvccver:+ ($nvccver)}"
echo "# store paths (skiff cache add): $GPUFIX_GLIBC $GPUFIX_PROBES $GPUFIX_SHELL"
echo "# generations (skiff publish): $(cd "$FIX/hub/skiff/v1" 2>/dev/null && ls acme/cuda/*.json | grep -v index | tr '\n' ' ')"
rc=0
SOCK=$SOCK GPUFIX=$FIX SKIFF_NODE_CONFIG=${SKIFF_NODE_CONFIG:-$CTRD_DIR/skiff-config.json} \
  EMPTY_IMAGE=$EMPTY_IMAGE GPU_LOG=${GPU_LOG:-$E2E_TMP/gpu-pods.log} \
  "${PYTHON:-/usr/bin/python3}" "$E2E_DIR/cri/test_gpu.py" || rc=$?
exit "$rc"
