# shellcheck shell=bash
# Requires common.sh (diag, on_exit).
# crun 1.8.1 refuses hybrid cgroups while cgroup2 holds hugetlb: mount
# hugetlb as a v1 hierarchy for the duration of the benchmark. That is only
# possible while no cgroup2 subtree_control enables hugetlb; if the root's
# does (something on the machine enabled it), disable it and restore it on
# exit.
HUGETLB_DIR=/sys/fs/cgroup/hugetlb
UNIFIED=/sys/fs/cgroup/unified
hugetlb_mount() {
  local created=0 disabled=0
  if mountpoint -q "$HUGETLB_DIR"; then
    return 0
  fi
  if ! grep -qw hugetlb "$UNIFIED/cgroup.controllers" 2>/dev/null; then
    return 0
  fi
  if grep -qw hugetlb "$UNIFIED/cgroup.subtree_control"; then
    if echo -hugetlb >"$UNIFIED/cgroup.subtree_control" 2>/dev/null; then
      disabled=1
    fi
  fi
  if [[ ! -d $HUGETLB_DIR ]]; then
    mkdir "$HUGETLB_DIR"
    created=1
  fi
  if mount -t cgroup -o hugetlb cgroup "$HUGETLB_DIR"; then
    diag "mounted hugetlb v1 hierarchy at $HUGETLB_DIR (for crun)"
    on_exit hugetlb_umount "$created" "$disabled"
  else
    diag "could not mount hugetlb v1; crun may fail"
    hugetlb_umount "$created" "$disabled"
  fi
}
hugetlb_umount() {
  local d
  if mountpoint -q "$HUGETLB_DIR"; then
    # A v1 hierarchy that still has child cgroups survives its umount and
    # keeps hugetlb away from cgroup2: remove the (empty) children first,
    # and stay mounted if some are in use.
    while IFS= read -r d; do
      rmdir "$d" 2>/dev/null || true
    done < <(find "$HUGETLB_DIR" -mindepth 1 -depth -type d)
    if [[ -n $(find "$HUGETLB_DIR" -mindepth 1 -type d -print -quit) ]]; then
      diag "warning: $HUGETLB_DIR has cgroups in use; leaving it mounted"
      return 0
    fi
    umount "$HUGETLB_DIR" 2>/dev/null || true
    diag "unmounted $HUGETLB_DIR"
  fi
  if [[ $1 == 1 ]]; then
    rmdir "$HUGETLB_DIR" 2>/dev/null || true
  fi
  if [[ $2 == 1 ]]; then
    # The v1 hierarchy is destroyed asynchronously after the umount.
    retry_until 5 sh -c "echo +hugetlb > $UNIFIED/cgroup.subtree_control" ||
      diag "warning: could not re-enable hugetlb in $UNIFIED/cgroup.subtree_control"
  fi
}
