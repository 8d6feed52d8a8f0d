#!/usr/bin/env bash
# Imageless pods (issue 5): a pod annotated skiff.dev/environment on the empty stub image runs
# in its environment; rollout/rollback with the hub down; tampered NAR; realize-timeout.
# Fixture: lib/imageless.sh (offline); scenarios: cri/test_imageless.py.
set -euo pipefail
source "$E2E_DIR/lib/common.sh"
source "$E2E_DIR/lib/containerd.sh"
source "$E2E_DIR/lib/imageless.sh"
_ctrd_paths
if [[ ${RUNTIME:-$SKIFF_SHIM} != "$SKIFF_SHIM" ]]; then
  skip "imageless pods need the skiff runtime"
  exit 0
fi
SKIFF_BIN=${SKIFF_BIN:-$(dirname "$SKIFF_SHIM")/skiff}
[[ -x $SKIFF_BIN ]] || die "no skiff binary next to the shim ($SKIFF_BIN)"
FIX=$E2E_TMP/imageless
imageless_fixture "$FIX" "$SKIFF_BIN" || die "building the imageless fixture failed"
SOCK=$SOCK FIX=$FIX SKIFF_BIN=$SKIFF_BIN \
  SKIFF_NODE_CONFIG=${SKIFF_NODE_CONFIG:-$CTRD_DIR/skiff-config.json} \
  EMPTY_IMAGE=$EMPTY_IMAGE BUSYBOX_IMAGE=$BUSYBOX_IMAGE \
  "${PYTHON:-/usr/bin/python3}" "$E2E_DIR/cri/test_imageless.py"
