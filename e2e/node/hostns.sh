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

# imageless_pod_check NAME CONFIG LOG: imports the pause and stub images with the caller's
# import_images (CONFIG is the containerd config it reads), runs e2e/node/pods.py's imageless pod
# on $SOCK and reports it under NAME; on failure shows pods.py's output and the end of LOG.
# Needs PY, PAUSE_TAR and EMPTY_TAR.
imageless_pod_check() {
  local out rc=0
  import_images "$2" "$PAUSE_TAR" "$EMPTY_TAR" || not_ok "$1: images imported"
  out=$("$PY" "$E2E_DIR/node/pods.py" imageless "$SOCK" /usr/local/bin/containerd-shim-skiff-v2 2>&1) ||
    rc=$?
  assert_eq "$1: imageless pod with handler skiff runs acme/hello@1" 0 "$rc"
  ((rc == 0)) || diag "$out"$'\n'"$(tail -40 "$3")"
}
