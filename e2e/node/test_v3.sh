#!/usr/bin/env bash
# Config version 3 with a real containerd 2.x (manual, not in CI: Debian 12 ships containerd 1.6;
# e2e/node/README.md says how to build 2.x from source here). Skipped unless CONTAINERD2 names a
# containerd 2.x binary (CTR2: its ctr, default: the ctr next to it). Per variant:
#   v3-default  containerd 2.x's own `containerd config default` (it has `imports = []`);
#   v3-imports  that config importing an NVIDIA-style version-3 drop-in by absolute path
#               (nvidia-ctk's layout for 2.x: `nvidia` runtime, default_runtime_name = 'nvidia');
#   v3-confd    2.1's packaged default: `imports = ['/etc/containerd/conf.d/*.toml']`, main config
#               left alone;
# install into a temp host root -> `containerd config dump` (2.x) has the skiff runtime under
# plugins.'io.containerd.cri.v1.runtime' and keeps what was there -> containerd 2.x started on the
# installed config -> install again: CRI Status lists `skiff`, nothing written, tree byte-identical
# -> `ctr plugins ls` shows the CRI runtime plugin ok -> an imageless pod with handler `skiff`
# prints acme/hello@1's text, served by the installed shim -> containerd stopped, uninstall --purge
# -> every file under the host root's etc/ and usr/ byte-identical to before the install.
# The host is simulated as in test_pods.sh (private mount + PID namespace; usr/local, etc/skiff,
# var/lib/skiff, run/containerd and, here, etc/containerd of the temp root bind-mounted over the
# real paths, so the drop-in's absolute shim path and absolute imports resolve into the temp root).
# usage: CONTAINERD2=/tmp/ctrd2/bin/containerd e2e/node/test_v3.sh
#   env: SKIFF (default build/bin/skiff), CTR2, KEEP_TMP=1
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/common.sh
source "$here/../lib/common.sh"
if [[ -z ${CONTAINERD2:-} ]]; then
  echo "# skip test_v3.sh: set CONTAINERD2 (and CTR2) to a containerd 2.x build (e2e/node/README.md)"
  echo "1..0 # SKIP no containerd 2.x"
  exit 0
fi
CONTAINERD2=$(realpath "$CONTAINERD2")
CTR2=$(realpath "${CTR2:-$(dirname "$CONTAINERD2")/ctr}")
SKIFF=$(realpath "${SKIFF:-$E2E_REPO/build/bin/skiff}")
PY=/usr/bin/python3
[[ $(id -u) == 0 ]] || die "needs root"
[[ -x $CTR2 ]] || die "no ctr at $CTR2 (set CTR2)"
ver=$("$CONTAINERD2" --version) || die "$CONTAINERD2 --version failed"
[[ $ver =~ \ v?2\.[0-9]+ ]] || die "CONTAINERD2 is not containerd 2.x: $ver"

if [[ -z ${SKIFF_V3_NS:-} ]]; then
  made=()
  for d in /etc/skiff /var/lib/skiff /etc/containerd; do
    [[ -d $d ]] || { mkdir -p "$d" && made+=("$d"); }
  done
  rc=0
  SKIFF_V3_NS=1 SKIFF=$SKIFF CONTAINERD2=$CONTAINERD2 CTR2=$CTR2 \
    unshare --mount --pid --fork --mount-proc --propagation private "$0" "$@" || rc=$?
  for d in "${made[@]}"; do rmdir "$d" 2>/dev/null; done
  exit "$rc"
fi

diag "$ver"
source "$E2E_DIR/node/hostns.sh"
hostns_init skv3

source "$E2E_DIR/lib/containerd.sh"
source "$E2E_DIR/lib/images.sh"
source "$E2E_DIR/lib/imageless.sh"
images_build
imageless_fixture "$tmp/fix" "$SKIFF" >/dev/null 2>&1 || die "building the imageless fixture failed"

host_mount() { # host_mount ROOT: ROOT's paths over the real ones (this mount namespace only)
  local root=$1 p
  for p in usr/local etc/skiff var/lib/skiff run/containerd etc/containerd; do
    mkdir -p "$root/$p"
    mount --bind "$root/$p" "/$p" || return 1
    mounted+=("/$p")
  done
}

start_containerd() { # start_containerd ROOT: 2.x on ROOT/etc/containerd/config.toml
  local root=$1
  "$CONTAINERD2" --config "$root/etc/containerd/config.toml" --root "$(dirname "$root")/ctrd-root" \
    >>"$root.containerd.log" 2>&1 &
  ctrd_pid=$!
  retry_until 30 "$CTR2" --connect-timeout 1s -a "$SOCK" version &&
    retry_until 30 grep -q "Start streaming server" "$root.containerd.log"
}

# import_images CONFIG TARBALL...: the pause image tagged as the config's sandbox image (2.x:
# plugins.'io.containerd.cri.v1.images'.pinned_images.sandbox, no registry here).
import_images() {
  local sandbox t
  sandbox=$("$CONTAINERD2" --config "$1" config dump 2>/dev/null |
    sed -n "s/^ *sandbox = ['\"]\(.*\)['\"]$/\1/p" | head -n1)
  [[ -n $sandbox ]] || return 1
  case $sandbox in
  */*) [[ ${sandbox%%/*} == *[.:]* || ${sandbox%%/*} == localhost ]] || sandbox=docker.io/$sandbox ;;
  *) sandbox=docker.io/library/$sandbox ;;
  esac
  for t in "${@:2}"; do
    "$CTR2" -a "$SOCK" -n k8s.io images import --snapshotter overlayfs "$t" >/dev/null || return 1
  done
  "$CTR2" -a "$SOCK" -n k8s.io images tag --force "$PAUSE_IMAGE" "$sandbox" >/dev/null
}

# snap ROOT: the files (content hashes) and symlinks under ROOT's etc/ and usr/, where install writes.
snap() {
  (cd "$1" && find etc usr \( -type f -o -type l \) -print0 2>/dev/null | sort -z | xargs -0r sha256sum)
}

install() {
  "$SKIFF" node install --host-root "$1" --restart none --no-label --no-image \
    --source-dir "$bindir" --config-json "$2" "${@:3}" 2>&1
}

# variant NAME: ROOT/etc/containerd prepared by setup_NAME ROOT; verify_NAME ROOT DUMP after the
# first install (DUMP: containerd 2.x's `config dump` of the installed config).
variant() {
  local name=$1 root=$tmp/$1/host out rc=0 before s1 s2 dump
  mkdir -p "$root/etc/containerd"
  "setup_$name" "$root"
  before=$(snap "$root")
  imageless_config "$tmp/$name/config.json" "$tmp/store-$name" "file://$tmp/fix/hub" "file://$tmp/fix/cache"
  out=$(install "$root" "$tmp/$name/config.json") || rc=$?
  ((rc == 0)) && ok "$name: install into the temp root" || { not_ok "$name: install" "$out"; return; }
  assert_contains "$name: detected as version 3" "$out" "version 3"
  host_mount "$root" || { not_ok "$name: bind mounts"; unmount_host; return; }
  dump=$("$CONTAINERD2" --config "$root/etc/containerd/config.toml" config dump 2>&1)
  assert_contains "$name: containerd 2.x loads the skiff runtime" "$dump" \
    "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.skiff]"
  assert_contains "$name: ... with the installed shim as runtime_path" "$dump" \
    "runtime_path = '/usr/local/bin/containerd-shim-skiff-v2'"
  assert_contains "$name: ... and pod annotations" "$dump" "pod_annotations = ['skiff.dev/*']"
  assert_contains "$name: the runc runtime is still there" "$dump" \
    "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]"
  "verify_$name" "$root" "$dump"
  if ! start_containerd "$root"; then
    not_ok "$name: containerd 2.x starts on the installed config" "$(tail -20 "$root.containerd.log")"
  else
    ok "$name: containerd 2.x starts on the installed config"
    s1=$(snap "$root")
    out=$(install "$root" "$tmp/$name/config.json" --wait-socket "$SOCK" --wait-timeout 10)
    s2=$(snap "$root")
    assert_contains "$name: CRI Status lists the skiff handler" "$out" 'serves runtime handler `skiff`'
    assert_not_contains "$name: installing again writes nothing" "$out" "wrote"
    assert_eq "$name: installing again leaves etc/ and usr/ byte-identical" "$s1" "$s2"
    out=$("$CTR2" -a "$SOCK" plugins ls 2>&1)
    assert_match "$name: ctr plugins ls: the CRI runtime plugin is ok" "$out" \
      'io\.containerd\.cri\.v1[[:space:]]+runtime[[:space:]]+[^[:space:]]+[[:space:]]+ok'
    imageless_pod_check "$name" "$root/etc/containerd/config.toml" "$root.containerd.log"
  fi
  stop_containerd
  kill_shims
  unmount_host
  out=$("$SKIFF" node uninstall --host-root "$root" --restart none --no-label --purge 2>&1) &&
    ok "$name: uninstall --purge" || not_ok "$name: uninstall --purge" "$out"
  assert_eq "$name: uninstall leaves etc/ and usr/ byte-identical to before the install" "$before" \
    "$(snap "$root")"
}

setup_v3-default() { "$CONTAINERD2" config default >"$1/etc/containerd/config.toml"; }
verify_v3-default() {
  assert_eq "v3-default: the empty imports array now holds the drop-in" "['conf.d/skiff.toml']" \
    "$("$PY" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["imports"])' \
      "$1/etc/containerd/config.toml")"
  assert_contains "v3-default: the default config's CRI settings survive" "$2" \
    "sandbox = 'registry.k8s.io/pause:3.10'"
}

NVIDIA_DROPIN=/etc/containerd/conf.d/99-nvidia.toml
setup_v3-imports() {
  "$CONTAINERD2" config default |
    sed "s|^imports = \[\]$|imports = ['$NVIDIA_DROPIN']|" >"$1/etc/containerd/config.toml"
  mkdir -p "$1/etc/containerd/conf.d"
  cat >"$1$NVIDIA_DROPIN" <<'EOF'
version = 3

[plugins."io.containerd.cri.v1.runtime".containerd]
  default_runtime_name = "nvidia"

  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.nvidia]
    runtime_type = "io.containerd.runc.v2"
    privileged_without_host_devices = false

    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.nvidia.options]
      BinaryName = "/usr/bin/nvidia-container-runtime"
EOF
  cp "$1$NVIDIA_DROPIN" "$tmp/99-nvidia.toml"
}
verify_v3-imports() {
  assert_eq "v3-imports: the existing import is kept, skiff's goes last" \
    "['$NVIDIA_DROPIN', 'conf.d/skiff.toml']" \
    "$("$PY" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["imports"])' \
      "$1/etc/containerd/config.toml")"
  assert_contains "v3-imports: the nvidia runtime is still loaded" "$2" \
    "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.nvidia]"
  assert_contains "v3-imports: nvidia stays the default runtime" "$2" "default_runtime_name = 'nvidia'"
  check "v3-imports: NVIDIA's drop-in untouched" cmp "$tmp/99-nvidia.toml" "$1$NVIDIA_DROPIN"
}

setup_v3-confd() { cp "$here/fixtures/v3-confd/config.toml" "$1/etc/containerd/config.toml"; }
verify_v3-confd() {
  check "v3-confd: main config untouched (its conf.d glob covers the drop-in)" \
    cmp "$here/fixtures/v3-confd/config.toml" "$1/etc/containerd/config.toml"
  [[ ! -e $1/etc/containerd/config.toml.skiff-backup ]] && ok "v3-confd: no backup needed" ||
    not_ok "v3-confd: no backup needed"
}

for v in ${V3_VARIANTS:-v3-default v3-imports v3-confd}; do
  variant "$v"
done

echo "1..$(wc -l <"$E2E_RESULTS")"
((E2E_FAILURES == 0))
