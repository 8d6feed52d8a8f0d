#!/usr/bin/env bash
# Imageless pods (issue 5): a pod annotated skiff.dev/environment on the empty stub image runs
# in its environment; rollout/rollback with the hub down; tampered NAR; realize-timeout; a dynamic
# hello through its store glibc; layers; hook/PID 1/SIGTERM; bad inputs; 20 concurrent pods.
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
rc=0
imageless_fixture "$FIX" "$SKIFF_BIN" || die "building the imageless fixture failed"
imageless_fixture_more "$FIX" "$SKIFF_BIN" || die "building the imageless fixture failed"
SOCK=$SOCK FIX=$FIX SKIFF_BIN=$SKIFF_BIN \
  SKIFF_NODE_CONFIG=${SKIFF_NODE_CONFIG:-$CTRD_DIR/skiff-config.json} \
  EMPTY_IMAGE=$EMPTY_IMAGE BUSYBOX_IMAGE=$BUSYBOX_IMAGE \
  "${PYTHON:-/usr/bin/python3}" "$E2E_DIR/cri/test_imageless.py" || rc=$?

# skiff run: the same view without containerd, as root and unprivileged.
imageless_config "$FIX/run/config.json" "$FIX/run/root" "file://$FIX/hub" "file://$FIX/cache"
out=$("$SKIFF_BIN" run --config "$FIX/run/config.json" acme/hello@1 -- \
  sh -c 'hello; ls /nix/store; echo "$SKIFF_ENV_REF"; touch /nix/store/x 2>/dev/null || echo ro' 2>&1) || true
assert_eq "skiff run (root): hello runs" "hello from generation 1 (gen1)" "$(sed -n 1p <<<"$out")"
assert_eq "skiff run (root): /nix/store shows the closure" \
  "$(printf '%s\n' "$(basename "$FIX_SHELL")" "$(basename "$FIX_HELLO1")" | sort | tr '\n' ' ')" \
  "$(sed -n 2,3p <<<"$out" | sort | tr '\n' ' ')"
assert_eq "skiff run (root): variables set, store read-only" "acme/hello@1 ro " \
  "$(sed -n 4,5p <<<"$out" | tr '\n' ' ')"
out=$("$SKIFF_BIN" run --config "$FIX/run/config.json" --view store acme/hello@1 -- ls /nix/store 2>&1) || true
assert_contains "skiff run --view store shows the node store" "$out" "$(basename "$FIX_HELLO1")"

if id nobody >/dev/null 2>&1 && [[ $(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 0) != 0 ]]; then
  urun=$FIX/urun
  mkdir -p "$urun/root"
  chown nobody "$urun/root"
  chmod o+x "$E2E_TMP"
  chmod 755 "$FIX" "$urun"
  chmod -R a+rX "$FIX/hub" "$FIX/cache"
  imageless_config "$urun/config.json" "$urun/root" "file://$FIX/hub" "file://$FIX/cache"
  chmod 644 "$urun/config.json"
  out=$(cd / && runuser -u nobody -- "$SKIFF_BIN" run --config "$urun/config.json" acme/hello@2 -- \
    sh -c 'hello; id -u' 2>&1) || true
  assert_eq "skiff run (unprivileged user namespace): hello runs, caller mapped to root" \
    "$(printf 'hello from generation 2 (gen2)\n0')" "$out"
else
  skip "skiff run unprivileged: no nobody user or no user namespaces"
fi
exit "$rc"
