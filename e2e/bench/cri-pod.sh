#!/usr/bin/env bash
# CRI pod benchmark wrapper: starts a private containerd 1.6.20 with the skiff, runc and crun
# handlers, imports the offline images and runs cri-pod.py (pod up / teardown medians, shim PSS
# per pod). env: N (rounds, default 20), HANDLERS (default "skiff runc crun").
set -euo pipefail
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export E2E_DIR
source "$E2E_DIR/lib/common.sh"
source "$E2E_DIR/lib/containerd.sh"
source "$E2E_DIR/lib/images.sh"
tmp_init
install_traps
on_exit ctrd_teardown
_ctrd_paths
source "$E2E_DIR/lib/hugetlb.sh"
hugetlb_mount
images_build >/dev/null
ctrd_start
images_import e2e k8s.io >/dev/null
echo "### CRI pod up / teardown ($(uname -r), containerd 1.6.20, $(date -u +%F))"
echo
# shellcheck disable=SC2086
SOCK=$SOCK BUSYBOX_IMAGE=$BUSYBOX_IMAGE N=${N:-20} /usr/bin/python3 "$E2E_DIR/bench/cri-pod.py" ${HANDLERS:-skiff runc crun}
