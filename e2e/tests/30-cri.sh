#!/usr/bin/env bash
# CRI scenarios (pods through containerd's CRI plugin) on the runtime handler under test:
# `skiff` by default; RUNTIME=io.containerd.runc.v2 runs them on the `runc` handler.
# test_cri.py: pods, security, resources, recovery; test_cri_pod.py: namespaces, more of the
# security context, cpu resources, streaming exec, one shim per pod.
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
rc=0
for t in test_cri.py test_cri_pod.py; do
  CRI_HANDLER=$handler SOCK=$SOCK BUSYBOX_IMAGE=$BUSYBOX_IMAGE \
    "${PYTHON:-/usr/bin/python3}" "$E2E_DIR/cri/$t" || rc=$?
done
exit "$rc"
