#!/usr/bin/env bash
# End-to-end tests for skiff against a private containerd 1.6.
#
# usage: e2e/run.sh [PATTERN...]
#   PATTERN: run only tests/NN-*.sh whose file name contains one of them.
# env:
#   RUNTIME     runtime for the ctr tests (default: $SKIFF_SHIM); e.g.
#               RUNTIME=io.containerd.runc.v2 to validate against runc.
#   SKIFF_SHIM  absolute path of containerd-shim-skiff-v2
#               (default: <repo>/build/bin/containerd-shim-skiff-v2).
#   E2E_BUILD   cache directory for images (default: <repo>/build-e2e).
#   E2E_KEEP_TMP=1 keep the temporary directory (logs) after the run.
#   CTRD_LOG_LEVEL  containerd log level (default: info).
#   CTRD_BIN, CTR_BIN, CNI_BIN_DIR  containerd, ctr and the CNI plugin directory
#               (default: /usr/bin/containerd, /usr/bin/ctr, /usr/lib/cni).
#   E2E_IMAGES_PREBUILT=1  use the image tarballs in $E2E_BUILD/images as they are.
#   PYTHON      interpreter for the Python helpers and CRI scenarios (default:
#               /usr/bin/python3); SKIFF_CRI_PY: directory of pre-generated
#               cri_pb2*.py (default: compiled with grpc_tools on first use).
set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export E2E_DIR
# shellcheck source=lib/common.sh
source "$E2E_DIR/lib/common.sh"
# shellcheck source=lib/containerd.sh
source "$E2E_DIR/lib/containerd.sh"
# shellcheck source=lib/images.sh
source "$E2E_DIR/lib/images.sh"

RUNTIME=${RUNTIME:-$SKIFF_SHIM}
export RUNTIME SKIFF_SHIM E2E_REPO E2E_BUILD

if [[ $RUNTIME == /* && ! -x $RUNTIME ]]; then
  echo "Bail out! runtime $RUNTIME is not built (set RUNTIME=io.containerd.runc.v2 to test runc)"
  exit 1
fi
[[ $(id -u) == 0 ]] || {
  echo "Bail out! the e2e tests need root"
  exit 1
}

# Every test talks only to 127.0.0.1 and to namespaces it creates: a proxy from the environment
# would swallow the loopback requests of skiff's fetcher (libcurl honours these variables).
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export NO_PROXY=127.0.0.1,localhost,::1 no_proxy=127.0.0.1,localhost,::1
tmp_init
install_traps
on_exit ctrd_teardown
_ctrd_paths
E2E_RESULTS=$E2E_TMP/results
: >"$E2E_RESULTS"
export E2E_RESULTS

diag "runtime: $RUNTIME"
diag "tmp: $E2E_TMP"
images_build
ctrd_start
images_import e2e k8s.io
diag "containerd $("$CTR_BIN" -a "$SOCK" version 2>/dev/null | awk '/Server:/ { s = 1 } s && /Version:/ { print $2; exit }') pid $(ctrd_pid)"

selected() {
  local name=$1 p
  (($# > 1)) || return 0
  shift
  for p in "$@"; do
    [[ $name == *"$p"* ]] && return 0
  done
  return 1
}

for t in "$E2E_DIR"/tests/[0-9][0-9]-*.sh; do
  name=$(basename "$t")
  selected "$name" "$@" || continue
  echo "# ---- $name"
  rc=0
  bash "$t" || rc=$?
  if ((rc != 0)); then
    not_ok "$name exited with status $rc"
    ctrd_dump_log 20
  fi
  # A test that kills containerd must leave it running for the next one.
  if ! "$CTR_BIN" -a "$SOCK" version >/dev/null 2>&1; then
    not_ok "containerd is down after $name; restarting"
    ctrd_start
  fi
done

total=$(wc -l <"$E2E_RESULTS")
failed=$(grep -c '^not ok' "$E2E_RESULTS" || true)
skipped=$(grep -c '^skip' "$E2E_RESULTS" || true)
echo "1..$total"
diag "runtime $RUNTIME: $((total - failed - skipped)) passed, $failed failed, $skipped skipped"
if ((failed > 0)); then
  grep '^not ok' "$E2E_RESULTS" | cut -f2 | sed 's/^/# FAILED: /' >&2
  exit 1
fi
