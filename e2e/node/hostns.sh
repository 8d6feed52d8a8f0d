# shellcheck shell=bash
# Shared by test_pods.sh and test_v3.sh once they run inside their private mount + PID namespace
# (`unshare --mount --pid --fork --mount-proc`): temp dir, results file, the containerd/shim/
# host-mount bookkeeping and the cleanup trap. Needs SKIFF, E2E_REPO and lib/common.sh.
#
# hostns_init PREFIX: sets bindir (skiff's, with the shim next to it), tmp (/tmp/PREFIX.XXXXXX),
# SOCK, ctrd_pid, mounted (paths to unmount, last first); exports E2E_RESULTS and E2E_BUILD.

stop_containerd() {
  [[ -n $ctrd_pid ]] || return 0
  kill "$ctrd_pid" 2>/dev/null
  wait "$ctrd_pid" 2>/dev/null
  ctrd_pid=
}

kill_shims() { # shims outlive containerd; this PID namespace only holds ours
  local p
  for p in $(pgrep -f 'containerd-shim-'); do kill -KILL "$p" 2>/dev/null; done
}

unmount_host() {
  local m
  for ((m = ${#mounted[@]} - 1; m >= 0; m--)); do umount -l "${mounted[m]}" 2>/dev/null; done
  mounted=()
}

hostns_cleanup() {
  stop_containerd
  kill_shims
  unmount_host
  umount_under "$tmp"
  [[ ${KEEP_TMP:-0} == 1 ]] && diag "kept $tmp" || rm -rf "$tmp"
}

hostns_init() {
  bindir=$(dirname "$SKIFF")
  [[ -x $bindir/containerd-shim-skiff-v2 ]] || die "no shim next to $SKIFF"
  tmp=$(mktemp -d "/tmp/$1.XXXXXX")
  export E2E_RESULTS=${E2E_RESULTS:-$tmp/results}
  [[ -f $E2E_RESULTS ]] || : >"$E2E_RESULTS"
  export E2E_BUILD=${E2E_BUILD:-$E2E_REPO/build-e2e}
  SOCK=/run/containerd/containerd.sock
  ctrd_pid=
  mounted=()
  trap hostns_cleanup EXIT
}
