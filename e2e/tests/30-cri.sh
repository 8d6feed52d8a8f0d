#!/usr/bin/env bash
# CRI scenarios (pods through containerd's CRI plugin) on the runtime handler under test:
# `skiff` by default; RUNTIME=io.containerd.runc.v2 runs them on the `runc` handler.
set -euo pipefail
source "$E2E_DIR/lib/common.sh"
source "$E2E_DIR/lib/containerd.sh"
_ctrd_paths
handler=${CRI_HANDLER:-}
if [[ -z $handler ]]; then
  case $RUNTIME in
  io.containerd.runc.v2) handler=runc ;;
  *) handler=skiff ;;
  esac
fi
CRI_HANDLER=$handler SOCK=$SOCK BUSYBOX_IMAGE=$BUSYBOX_IMAGE "${PYTHON:-/usr/bin/python3}" "$E2E_DIR/cri/test_cri.py"
