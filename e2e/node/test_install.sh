#!/usr/bin/env bash
# `skiff node install` / `uninstall` against real containerd config files in temporary host roots:
# Debian's containerd 1.6 default config, a version-3 config, 2.1's conf.d default, k3s with and
# without a config.toml.tmpl, NVIDIA's drop-in, a conflicting late CRI drop-in, a missing config.
# Each: install -> the real containerd 1.6.20 accepts the result (`containerd config dump` shows the
# skiff runtime and keeps the original CRI settings; version 3 is checked structurally with
# tomllib) -> install again changes nothing -> uninstall leaves the files byte-identical.
# Then a real containerd is started on the Debian config: install waits until CRI Status lists
# the `skiff` handler (and fails while containerd still runs the old config) and imports the stub
# image into k8s.io.
#
# usage: e2e/node/test_install.sh   env: SKIFF (default build-k8s/bin/skiff), KEEP_TMP=1
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/common.sh
source "$here/../lib/common.sh"
SKIFF=${SKIFF:-$E2E_REPO/build-k8s/bin/skiff}
CONTAINERD=${CONTAINERD:-/usr/bin/containerd}
PY=/usr/bin/python3
[[ -x $SKIFF ]] || die "no skiff binary at $SKIFF (build the skiff target)"
bindir=$(dirname "$SKIFF")
[[ -x $bindir/containerd-shim-skiff-v2 ]] || die "no shim next to $SKIFF"
fx=$here/fixtures
tmp=$(mktemp -d /tmp/skn.XXXXXX)
export E2E_RESULTS=${E2E_RESULTS:-$tmp/results}
: >"$E2E_RESULTS"
ctrd_pid=
cleanup() {
  [[ -n $ctrd_pid ]] && kill "$ctrd_pid" 2>/dev/null && wait "$ctrd_pid" 2>/dev/null
  [[ ${KEEP_TMP:-0} == 1 ]] && diag "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

# Files (with content hashes) and symlinks under a root; directories are not compared.
snap() { (cd "$1" && find . \( -type f -o -type l \) -print0 | sort -z | xargs -0r sha256sum); }

install() { "$SKIFF" node install --restart none --no-image --no-label --source-dir "$bindir" "$@"; }
uninstall() { "$SKIFF" node uninstall --restart none --no-label "$@"; }

# tomlq FILE EXPR: evaluates a Python expression over the parsed TOML document `d`.
tomlq() {
  "$PY" -c 'import sys, tomllib; d = tomllib.load(open(sys.argv[1], "rb")); print(eval(sys.argv[2]))' "$1" "$2"
}

# lifecycle NAME ROOT CONFIGDIR [install args...]: the common install/idempotence/uninstall checks;
# calls "verify_NAME ROOT" after the first install.
lifecycle() {
  local name=$1 root=$2 cfgdir=$3 before out s1 s2 after rc=0
  shift 3
  before=$(snap "$root")
  out=$(install --host-root "$root" "$@" 2>&1) || rc=$?
  if ((rc != 0)); then
    not_ok "$name: install" "$out"
    return
  fi
  ok "$name: install"
  [[ -x $root/usr/local/bin/containerd-shim-skiff-v2 && -x $root/usr/local/bin/skiff ]] &&
    ok "$name: binaries installed" || not_ok "$name: binaries installed" "$(ls -la "$root/usr/local/bin")"
  "verify_$name" "$root" "$cfgdir"
  s1=$(snap "$root")
  out=$(install --host-root "$root" "$@" 2>&1) || rc=$?
  s2=$(snap "$root")
  assert_eq "$name: second install changes nothing (byte-identical tree)" "$s1" "$s2"
  assert_contains "$name: second install reports the runtime as registered" "$out" "already registers"
  assert_not_contains "$name: second install writes nothing" "$out" "wrote"
  out=$(uninstall --host-root "$root" "$@" 2>&1) || rc=$?
  ((rc == 0)) && ok "$name: uninstall" || not_ok "$name: uninstall" "$out"
  after=$(snap "$root")
  assert_eq "$name: uninstall leaves the files byte-identical to the original" "$before" "$after"
}

dump() { "$CONTAINERD" --config "$1" config dump 2>&1; }

# ---- Debian's default containerd 1.6 config (version 2) ---------------------------------------
verify_debian() {
  local root=$1 cfg=$2/config.toml d
  assert_contains "debian: import added after version" "$(sed -n 2p "$cfg")" 'imports = ["conf.d/skiff.toml"]'
  check "debian: backup is the original" cmp "$cfg.skiff-backup" "$fx/debian/config.toml"
  d=$(dump "$cfg")
  assert_contains "debian: containerd 1.6 loads the skiff runtime" "$d" \
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.skiff]'
  assert_contains "debian: runtime_type is the absolute shim path" "$d" \
    'runtime_type = "/usr/local/bin/containerd-shim-skiff-v2"'
  assert_contains "debian: pod annotations are passed" "$d" 'pod_annotations = ["skiff.dev/*"]'
  assert_contains "debian: the main config's CRI settings survive the import" "$d" 'bin_dir = "/usr/lib/cni"'
  assert_contains "debian: the default runc runtime is still there" "$d" \
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]'
}
r=$tmp/debian
mkdir -p "$r/etc/containerd"
cp "$fx/debian/config.toml" "$r/etc/containerd/config.toml"
lifecycle debian "$r" "$r/etc/containerd"

# ---- NVIDIA's drop-in already imported (it carries the whole CRI section) ---------------------
verify_nvidia() {
  local cfg=$2/config.toml d
  assert_contains "nvidia: skiff's import goes last" "$(grep '^imports' "$cfg")" \
    'imports = ["conf.d/99-nvidia.toml", "conf.d/skiff.toml"]'
  assert_contains "nvidia: the drop-in copies NVIDIA's CRI section" "$(cat "$2/conf.d/skiff.toml")" \
    '# containerd 1.6/1.7 let an imported file replace'
  d=$(dump "$cfg")
  assert_contains "nvidia: skiff runtime loaded" "$d" '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.skiff]'
  assert_contains "nvidia: nvidia runtime still loaded" "$d" '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]'
  assert_contains "nvidia: nvidia stays the default runtime" "$d" 'default_runtime_name = "nvidia"'
  assert_contains "nvidia: sandbox image kept" "$d" 'sandbox_image = "registry.k8s.io/pause:3.9"'
  check "nvidia: NVIDIA's drop-in untouched" cmp "$2/conf.d/99-nvidia.toml" "$fx/nvidia/conf.d/99-nvidia.toml"
}
r=$tmp/nvidia
mkdir -p "$r/etc"
cp -r "$fx/nvidia" "$r/etc/containerd"
lifecycle nvidia "$r" "$r/etc/containerd"

# ---- version 3 (containerd 2.x) ---------------------------------------------------------------
verify_v3() {
  local cfg=$2/config.toml drop=$2/conf.d/skiff.toml rt
  assert_eq "v3: main config imports the drop-in" "['conf.d/skiff.toml']" "$(tomlq "$cfg" 'd["imports"]')"
  assert_eq "v3: main config keeps runc" "io.containerd.runc.v2" \
    "$(tomlq "$cfg" 'd["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]["runc"]["runtime_type"]')"
  rt='d["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]["skiff"]'
  assert_eq "v3: drop-in is version 3" 3 "$(tomlq "$drop" 'd["version"]')"
  assert_eq "v3: runtime_type" io.containerd.skiff.v2 "$(tomlq "$drop" "$rt[\"runtime_type\"]")"
  assert_eq "v3: runtime_path" /usr/local/bin/containerd-shim-skiff-v2 "$(tomlq "$drop" "$rt[\"runtime_path\"]")"
  assert_eq "v3: annotations" "['skiff.dev/*'] ['skiff.dev/*']" \
    "$(tomlq "$drop" "' '.join(map(str, ($rt['pod_annotations'], $rt['container_annotations'])))")"
  assert_eq "v3: drop-in holds nothing else (2.x merges imports deeply)" "['version', 'plugins']" \
    "$(tomlq "$drop" 'list(d)')"
}
r=$tmp/v3
mkdir -p "$r/etc/containerd"
cp "$fx/v3/config.toml" "$r/etc/containerd/config.toml"
lifecycle v3 "$r" "$r/etc/containerd"

verify_v3confd() {
  check "v3-confd: main config untouched (its conf.d glob covers the drop-in)" \
    cmp "$2/config.toml" "$fx/v3-confd/config.toml"
  [[ ! -e $2/config.toml.skiff-backup ]] && ok "v3-confd: no backup needed" || not_ok "v3-confd: no backup needed"
  assert_eq "v3-confd: drop-in written" 3 "$(tomlq "$2/conf.d/skiff.toml" 'd["version"]')"
}
r=$tmp/v3confd
mkdir -p "$r/etc/containerd"
cp "$fx/v3-confd/config.toml" "$r/etc/containerd/config.toml"
lifecycle v3confd "$r" "$r/etc/containerd"

# ---- k3s: the template (created from "base", or appended to) ----------------------------------
K3S_DIR=var/lib/rancher/k3s/agent/etc/containerd
# render_k3s DIR: what k3s would write: the template with "base" expanded to the generated file.
render_k3s() {
  "$PY" - "$1" <<'EOF'
import sys
d = sys.argv[1]
base = open(d + "/config.toml").read()
tmpl = open(d + "/config.toml.tmpl").read()
open(d + "/rendered.toml", "w").write(tmpl.replace('{{ template "base" . }}', base))
EOF
}
verify_k3s() {
  local d
  check "k3s: template created with the base template" grep -qx '{{ template "base" . }}' "$2/config.toml.tmpl"
  check "k3s: generated config.toml untouched" cmp "$2/config.toml" "$fx/k3s/config.toml"
  render_k3s "$2"
  d=$(dump "$2/rendered.toml")
  rm -f "$2/rendered.toml"
  assert_contains "k3s: rendered config loads the skiff runtime" "$d" \
    'runtime_type = "/usr/local/bin/containerd-shim-skiff-v2"'
  assert_contains "k3s: rendered config keeps k3s's settings" "$d" 'sandbox_image = "rancher/mirrored-pause:3.6"'
}
r=$tmp/k3s
mkdir -p "$r/$K3S_DIR"
cp "$fx/k3s/config.toml" "$r/$K3S_DIR/"
lifecycle k3s "$r" "$r/$K3S_DIR"

verify_k3stmpl() {
  local d
  check "k3s-tmpl: template backed up" cmp "$2/config.toml.tmpl.skiff-backup" "$fx/k3s-tmpl/config.toml.tmpl"
  render_k3s "$2"
  d=$(dump "$2/rendered.toml")
  rm -f "$2/rendered.toml"
  assert_contains "k3s-tmpl: skiff runtime appended" "$d" '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.skiff]'
  assert_contains "k3s-tmpl: the template's nvidia runtime kept" "$d" 'BinaryName = "/usr/bin/nvidia-container-runtime"'
}
r=$tmp/k3stmpl
mkdir -p "$r/$K3S_DIR"
cp "$fx/k3s-tmpl/"* "$r/$K3S_DIR/"
lifecycle k3stmpl "$r" "$r/$K3S_DIR" --flavor auto

# ---- a missing main config is created, and removed again ---------------------------------------
verify_missing() {
  assert_eq "missing: minimal version 2 config created" $'version = 2\nimports = ["conf.d/skiff.toml"]' "$(cat "$2/config.toml")"
  assert_contains "missing: containerd loads it" "$(dump "$2/config.toml")" 'runtimes.skiff]'
}
r=$tmp/missing
mkdir -p "$r/etc/containerd"
lifecycle missing "$r" "$r/etc/containerd"
[[ ! -e $r/etc/containerd/config.toml ]] && ok "missing: uninstall removes the created config" ||
  not_ok "missing: uninstall removes the created config"

# ---- refusals, dry run, edits after install ----------------------------------------------------
r=$tmp/late
mkdir -p "$r/etc"
cp -r "$fx/late-cri" "$r/etc/containerd"
before=$(snap "$r")
out=$(install --host-root "$r" 2>&1)
rc=$?
assert_ne "late-cri: install refuses" 0 "$rc"
assert_contains "late-cri: the error names the conflicting drop-in" "$out" "zz-registry.toml\` is imported after"
assert_eq "late-cri: nothing written to the containerd config" "$before" "$(snap "$r" | grep -v usr/local)"

r=$tmp/v1
mkdir -p "$r/etc/containerd"
printf '[plugins.cri]\n  sandbox_image = "x"\n' >"$r/etc/containerd/config.toml"
out=$(install --host-root "$r" 2>&1)
assert_contains "version 1: refused with advice" "$out" 'add `version = 2`'

r=$tmp/dry
mkdir -p "$r/etc/containerd"
cp "$fx/debian/config.toml" "$r/etc/containerd/config.toml"
before=$(snap "$r")
out=$(install --host-root "$r" --dry-run 2>&1)
assert_eq "dry run: nothing changes" "$before" "$(snap "$r")"
assert_contains "dry run: reports the drop-in" "$out" 'would write `/etc/containerd/conf.d/skiff.toml`'

r=$tmp/edited
mkdir -p "$r/etc/containerd"
cp "$fx/debian/config.toml" "$r/etc/containerd/config.toml"
install --host-root "$r" >/dev/null 2>&1
printf '\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n' >>"$r/etc/containerd/config.toml"
out=$(uninstall --host-root "$r" 2>&1)
assert_contains "edited: uninstall notices the edit" "$out" "was edited after install"
assert_eq "edited: only skiff's import line is removed" \
  "$(cat "$fx/debian/config.toml"; printf '\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n')" \
  "$(cat "$r/etc/containerd/config.toml")"
[[ ! -e $r/etc/containerd/config.toml.skiff-backup && ! -e $r/etc/containerd/conf.d/skiff.toml ]] &&
  ok "edited: backup and drop-in removed" || not_ok "edited: backup and drop-in removed"

r=$tmp/cfgjson
mkdir -p "$r/etc/containerd"
cp "$fx/debian/config.toml" "$r/etc/containerd/config.toml"
printf '{"keep_generations": "three"}' >"$tmp/bad.json"
out=$(install --host-root "$r" --config-json "$tmp/bad.json" 2>&1)
assert_contains "config-json: invalid node config refused" "$out" "keep_generations"
printf '{"keep_generations": 5, "substituters": ["file:///srv/cache"]}' >"$tmp/good.json"
install --host-root "$r" --config-json "$tmp/good.json" >/dev/null 2>&1
check "config-json: node config installed" cmp "$tmp/good.json" "$r/etc/skiff/config.json"
assert_eq "config-json: mode 0600" 600 "$(stat -c %a "$r/etc/skiff/config.json")"

# ---- a real containerd: wait for the CRI handler, import the stub image ------------------------
r=$tmp/live
mkdir -p "$r/etc/containerd" "$r/run/containerd" "$tmp/ctrd"
cp "$fx/debian/config.toml" "$r/etc/containerd/config.toml"
sock=$r/run/containerd/containerd.sock
start_containerd() {
  "$CONTAINERD" --config "$r/etc/containerd/config.toml" --root "$tmp/ctrd/root" \
    --state "$tmp/ctrd/state" --address "$sock" >>"$tmp/ctrd/log" 2>&1 &
  ctrd_pid=$!
  retry_until 20 ctr --connect-timeout 1s -a "$sock" version >/dev/null 2>&1
}
stop_containerd() {
  kill "$ctrd_pid" && wait "$ctrd_pid" 2>/dev/null
  ctrd_pid=
}
stub=${STUB_IMAGE:-$E2E_REPO/build-k8s/image/stub-image.tar}
if ! start_containerd; then
  not_ok "live: containerd starts" "$(tail -20 "$tmp/ctrd/log")"
else
  ok "live: containerd 1.6 starts on Debian's config"
  out=$(install --host-root "$r" --wait-socket /run/containerd/containerd.sock --wait-timeout 3 2>&1)
  rc=$?
  assert_ne "live: install fails while containerd still runs the old config" 0 "$rc"
  assert_contains "live: ... saying the handler is missing" "$out" 'does not list runtime handler `skiff`'
  stop_containerd
  start_containerd
  args=(--host-root "$r" --wait-socket /run/containerd/containerd.sock --host-exec local)
  if [[ -r $stub ]]; then
    out=$("$SKIFF" node install --restart none --no-label --source-dir "$bindir" "${args[@]}" --stub-image "$stub" 2>&1)
  else
    out=$(install "${args[@]}" 2>&1)
  fi
  rc=$?
  assert_eq "live: install succeeds after the restart" 0 "$rc"
  assert_contains "live: CRI Status lists the skiff handler" "$out" 'serves runtime handler `skiff`'
  if [[ -r $stub ]]; then
    assert_contains "live: stub image imported into k8s.io" \
      "$(ctr -a "$sock" -n k8s.io images ls -q)" "skiff.dev/empty:1"
  else
    skip "live: stub image imported into k8s.io" "no $stub (run manifests/image/build.sh --build-dir build-k8s)"
  fi
  stop_containerd
fi

echo "1..$(wc -l <"$E2E_RESULTS")"
((E2E_FAILURES == 0))
