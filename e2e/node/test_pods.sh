#!/usr/bin/env bash
# After `skiff node install`, a real containerd 1.6 started on the installed config runs an
# imageless pod with handler `skiff` through CRI:
#   1. per config variant (Debian's default config; a config that already imports NVIDIA's
#      drop-in): install into a temp host root, start containerd on ROOT/etc/containerd/config.toml,
#      CRI Status lists `skiff`, an imageless pod prints acme/hello@1's text; the same for k3s
#      (a config.toml.tmpl created by the installer, and an existing one with an nvidia runtime):
#      install --flavor k3s, then config.toml.tmpl rendered as k3s renders it (Go text/template,
#      `{{ template "base" . }}` = fixtures/k3s-base.toml, a k3s-style default config on the
#      harness's paths; helm-render k3s) into config.toml, containerd started on that, the pod;
#      then uninstall restores the template byte for byte and a re-render has no skiff runtime;
#   2. the DaemonSet flow without a cluster: the node image (manifests/image/build.sh) imported
#      into k8s.io, the init container of manifests/40-daemonset.yaml run through CRI with the runc
#      handler (privileged, hostPID, its hostPath mounts mapped into the temp host root, its
#      command), containerd restarted by this script (the command's --restart=systemd becomes
#      --restart=none: no systemd here), then an imageless pod served by the shim the installer
#      copied.
# The "host" is simulated in a private mount and PID namespace (unshare): the temp root's
# usr/local, etc/skiff, var/lib/skiff and run/containerd are bind-mounted over the real paths
# there, so the drop-in's absolute shim path, the shim's default /etc/skiff/config.json, the
# default CRI socket and hostPID's "PID 1 mount namespace" (where the installer runs `ctr`) all
# resolve into the temp root; nothing outside the temp directory is touched (empty mount points
# /etc/skiff and /var/lib/skiff are created when missing and removed afterwards). Pods use the host
# network (no CNI config). usage: e2e/node/test_pods.sh   env: SKIFF (default build/bin/skiff),
# KEEP_TMP=1
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/common.sh
source "$here/../lib/common.sh"
SKIFF=${SKIFF:-$E2E_REPO/build/bin/skiff}
SKIFF=$(realpath "$SKIFF")
PY=/usr/bin/python3
[[ $(id -u) == 0 ]] || die "needs root"

if [[ -z ${SKIFF_PODS_NS:-} ]]; then
  made=()
  for d in /etc/skiff /var/lib/skiff; do
    [[ -d $d ]] || { mkdir -p "$d" && made+=("$d"); }
  done
  rc=0
  SKIFF_PODS_NS=1 SKIFF=$SKIFF unshare --mount --pid --fork --mount-proc --propagation private \
    "$0" "$@" || rc=$?
  for d in "${made[@]}"; do rmdir "$d" 2>/dev/null; done
  exit "$rc"
fi

source "$E2E_DIR/node/hostns.sh"
hostns_init skp

# ---- shared inputs: images, the imageless fixture, the node image ----------------------------
source "$E2E_DIR/lib/containerd.sh"
source "$E2E_DIR/lib/images.sh"
source "$E2E_DIR/lib/imageless.sh"
images_build
imageless_fixture "$tmp/fix" "$SKIFF" >/dev/null 2>&1 || die "building the imageless fixture failed"
"$E2E_REPO/manifests/image/build.sh" --build-dir "$(dirname "$bindir")" --out "$tmp/image" \
  >"$tmp/image.log" 2>&1 || die "manifests/image/build.sh failed: $(cat "$tmp/image.log")"
node_ref=$(sed -n 's/^node image  //p' "$tmp/image.log")

# ---- the node image is pushable with skopeo: OCI layout -> a docker-registry on 127.0.0.1 ------
if command -v skopeo >/dev/null && command -v docker-registry >/dev/null; then
  reg_port=$((20000 + RANDOM % 20000))
  mkdir -p "$tmp/registry"
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$tmp/registry/data" "$reg_port" >"$tmp/registry/config.yml"
  docker-registry serve "$tmp/registry/config.yml" >"$tmp/registry/log" 2>&1 &
  reg_pid=$!
  retry_until 20 curl -sf "http://127.0.0.1:$reg_port/v2/" >/dev/null
  node_tag=${node_ref##*:}
  dest=docker://127.0.0.1:$reg_port/skiff/skiff-node:$node_tag
  check "node image: skopeo copies the OCI layout to a registry" \
    skopeo copy -q --dest-tls-verify=false "oci:$tmp/image/skiff-node:$node_tag" "$dest"
  local_digest=$(skopeo inspect --format '{{.Digest}}' "oci:$tmp/image/skiff-node:$node_tag" 2>&1)
  remote_digest=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "$dest" 2>&1)
  assert_same "node image: the registry serves the layout's manifest digest" "$local_digest" "$remote_digest"
  kill "$reg_pid" 2>/dev/null
  wait "$reg_pid" 2>/dev/null
else
  diag "skip: skopeo or docker-registry missing (the node image push check)"
fi

# host_mount ROOT: make ROOT the host for containerd, its shims and hostPID's PID 1.
host_mount() {
  local root=$1 p
  for p in usr/local etc/skiff var/lib/skiff run/containerd; do
    mkdir -p "$root/$p"
    mount --bind "$root/$p" "/$p" || return 1
    mounted+=("/$p")
  done
}

# start_containerd ROOT [CONFIG]: containerd on the host's config (default
# ROOT/etc/containerd/config.toml), its root under $tmp (state and socket are the defaults,
# /run/containerd, i.e. ROOT/run/containerd).
start_containerd() {
  local root=$1 config=${2:-$1/etc/containerd/config.toml}
  containerd --config "$config" --root "$(dirname "$root")/ctrd-root" \
    >>"$root.containerd.log" 2>&1 &
  ctrd_pid=$!
  retry_until 30 ctr --connect-timeout 1s -a "$SOCK" version &&
    retry_until 30 grep -q "Start streaming server" "$root.containerd.log"
}

# import_images: pause as the config's sandbox_image (the sandbox needs one; no registry here).
import_images() { # import_images CONFIG TARBALL...
  local sandbox t
  sandbox=$(containerd --config "$1" config dump 2>/dev/null |
    sed -n 's/^ *sandbox_image = "\(.*\)"/\1/p')
  case $sandbox in # CRI looks the image up by its normalized name (k3s: rancher/mirrored-pause)
  */*) [[ ${sandbox%%/*} == *[.:]* || ${sandbox%%/*} == localhost ]] || sandbox=docker.io/$sandbox ;;
  *) sandbox=docker.io/library/$sandbox ;;
  esac
  for t in "${@:2}"; do
    ctr -a "$SOCK" -n k8s.io images import --snapshotter overlayfs "$t" >/dev/null || return 1
  done
  ctr -a "$SOCK" -n k8s.io images tag --force "$PAUSE_IMAGE" "$sandbox" >/dev/null
}

node_config() { # node_config FILE: the fixture's hub and cache, a store in $tmp
  imageless_config "$1" "$tmp/store-$RANDOM" "file://$tmp/fix/hub" "file://$tmp/fix/cache"
}

# ---- 1. install, then containerd on the installed config runs an imageless pod ----------------
variant() {
  local name=$1 fixture=$2 root=$tmp/$1/host out rc=0
  mkdir -p "$root/etc"
  cp -r "$fixture" "$root/etc/containerd"
  node_config "$tmp/$name/config.json"
  out=$("$SKIFF" node install --host-root "$root" --restart none --no-label --no-image \
    --source-dir "$bindir" --config-json "$tmp/$name/config.json" 2>&1) || rc=$?
  ((rc == 0)) && ok "$name: install into the temp root" || { not_ok "$name: install" "$out"; return; }
  host_mount "$root" || { not_ok "$name: bind mounts" ; unmount_host; return; }
  if ! start_containerd "$root"; then
    not_ok "$name: containerd starts on the installed config" "$(tail -20 "$root.containerd.log")"
  else
    ok "$name: containerd starts on the installed config"
    # install again: changes nothing, and its CRI RuntimeService/Status call sees the handler
    out=$("$SKIFF" node install --host-root "$root" --restart none --no-label --no-image \
      --source-dir "$bindir" --config-json "$tmp/$name/config.json" \
      --wait-socket "$SOCK" --wait-timeout 10 2>&1)
    assert_contains "$name: CRI Status lists the skiff handler" "$out" 'serves runtime handler `skiff`'
    assert_not_contains "$name: installing again writes nothing" "$out" "wrote"
    imageless_pod_check "$name" "$root/etc/containerd/config.toml" "$root.containerd.log"
  fi
  stop_containerd
  kill_shims
  unmount_host
}
variant debian "$here/fixtures/debian"
variant imports "$here/fixtures/nvidia"

# k3s: the installer edits config.toml.tmpl; k3s renders it into config.toml on start.
K3S_DIR=var/lib/rancher/k3s/agent/etc/containerd
render_k3s() { # render_k3s ROOT: config.toml.tmpl -> config.toml, as k3s does on start
  "$RENDER" k3s --base "$here/fixtures/k3s-base.toml" --set "Root=$1" \
    -o "$1/$K3S_DIR/config.toml" "$1/$K3S_DIR/config.toml.tmpl"
}
variant_k3s() { # variant_k3s NAME FIXTURE_DIR (config.toml, maybe config.toml.tmpl)
  local name=$1 fixture=$2 root=$tmp/$1/host out rc=0 d dump
  d=$root/$K3S_DIR
  mkdir -p "$d"
  cp "$fixture"/* "$d/"
  node_config "$tmp/$name/config.json"
  k3s_install() {
    "$SKIFF" node install --host-root "$root" --flavor k3s --restart none --no-label --no-image \
      --source-dir "$bindir" --config-json "$tmp/$name/config.json" "$@" 2>&1
  }
  out=$(k3s_install) || rc=$?
  ((rc == 0)) && ok "$name: install --flavor k3s into the temp root" ||
    { not_ok "$name: install --flavor k3s" "$out"; return; }
  assert_contains "$name: the installer edited config.toml.tmpl" "$out" "config.toml.tmpl"
  out=$(render_k3s "$root" 2>&1) || rc=$?
  ((rc == 0)) && ok "$name: config.toml.tmpl renders with Go text/template (base = k3s-style default)" ||
    { not_ok "$name: config.toml.tmpl renders" "$out"$'\n'"$(cat "$d/config.toml.tmpl")"; return; }
  dump=$(containerd --config "$d/config.toml" config dump 2>&1)
  assert_contains "$name: the rendered config has the skiff runtime" "$dump" \
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.skiff]'
  assert_contains "$name: ... and k3s's base settings" "$dump" 'enable_unprivileged_ports = true'
  host_mount "$root" || { not_ok "$name: bind mounts"; unmount_host; return; }
  if ! start_containerd "$root" "$d/config.toml"; then
    not_ok "$name: containerd starts on the rendered config" "$(tail -20 "$root.containerd.log")"
  else
    ok "$name: containerd starts on the rendered config"
    out=$(k3s_install --wait-socket "$SOCK" --wait-timeout 10)
    assert_contains "$name: CRI Status lists the skiff handler" "$out" 'serves runtime handler `skiff`'
    assert_not_contains "$name: installing again writes nothing" "$out" "wrote"
    imageless_pod_check "$name" "$d/config.toml" "$root.containerd.log"
  fi
  stop_containerd
  kill_shims
  unmount_host
  out=$("$SKIFF" node uninstall --host-root "$root" --flavor k3s --restart none --no-label 2>&1) &&
    ok "$name: uninstall --flavor k3s" || not_ok "$name: uninstall --flavor k3s" "$out"
  if [[ -e $fixture/config.toml.tmpl ]]; then
    check "$name: uninstall restores config.toml.tmpl byte for byte" \
      cmp "$fixture/config.toml.tmpl" "$d/config.toml.tmpl"
    if render_k3s "$root" >/dev/null 2>&1; then
      dump=$(containerd --config "$d/config.toml" config dump 2>&1)
      assert_not_contains "$name: re-rendered after uninstall: no skiff runtime" "$dump" 'runtimes.skiff]'
      assert_contains "$name: ... the template's nvidia runtime still there" "$dump" 'runtimes.nvidia]'
    else
      not_ok "$name: the restored template renders"
    fi
  else
    [[ ! -e $d/config.toml.tmpl ]] && ok "$name: uninstall removes the config.toml.tmpl it created" ||
      not_ok "$name: uninstall removes the config.toml.tmpl it created" "$(cat "$d/config.toml.tmpl")"
  fi
  out=$(ls "$d")
  assert_not_contains "$name: no backup or marker left" "$out" "skiff-"
}
if RENDER=$("$here/helm-render/build.sh" "$(dirname "$bindir")" 2>"$tmp/render-build.log"); then
  variant_k3s k3s "$here/fixtures/k3s"
  variant_k3s k3s-tmpl "$here/fixtures/k3s-tmpl"
else
  not_ok "k3s: helm-render builds (renders config.toml.tmpl)" "$(cat "$tmp/render-build.log")"
fi

# ---- 2. the DaemonSet flow ------------------------------------------------------------------------
root=$tmp/ds/host
mkdir -p "$root/etc/containerd" "$tmp/ds/config"
# Debian's config plus restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, so runc cannot
# give the sandbox its negative oom_score_adj (the skiff shim tolerates that; runc does not).
sed '/^  \[plugins."io.containerd.grpc.v1.cri"\]$/a\    restrict_oom_score_adj = true' \
  "$here/fixtures/debian/config.toml" >"$root/etc/containerd/config.toml"
node_config "$tmp/ds/config/config.json"
: >"$tmp/ds/config/prefetch.txt"
host_mount "$root" || die "bind mounts"
if ! start_containerd "$root"; then
  not_ok "daemonset: containerd starts on Debian's config" "$(tail -20 "$root.containerd.log")"
else
  ok "daemonset: containerd starts on Debian's config (no skiff handler yet)"
  import_images "$root/etc/containerd/config.toml" "$PAUSE_TAR" ||
    not_ok "daemonset: pause image imported"
  ds_image=$(sed -n 's/^ *image: \(.*skiff-node.*\)/\1/p' "$E2E_REPO/manifests/40-daemonset.yaml" | head -n1)
  assert_eq "daemonset: build.sh names the image the DaemonSet uses" "$ds_image" "$node_ref"
  out=$(ctr -a "$SOCK" -n k8s.io images import --snapshotter overlayfs "$tmp/image/skiff-node.tar" 2>&1)
  check "daemonset: node image imported into k8s.io" ctr -a "$SOCK" -n k8s.io images check "name==$ds_image"
  # The install container waits for CRI to serve `skiff` (120 s): restart containerd, as
  # `--restart systemd` would, once the drop-in appears.
  (
    retry_until 120 test -s "$root/etc/containerd/conf.d/skiff.toml" || exit 1
    sleep 0.5
    echo restart >"$tmp/ds/restart-requested"
  ) &
  watcher=$!
  t0=$(now_ms)
  "$PY" "$here/pods.py" install "$SOCK" "$root" "$ds_image" "$tmp/ds/config" \
    "$E2E_REPO/manifests/40-daemonset.yaml" >"$tmp/ds/install.log" 2>&1 &
  inst=$!
  wait "$watcher"
  if [[ -f $tmp/ds/restart-requested ]]; then
    stop_containerd # the install pod's runc shim keeps running, as under systemd's KillMode=process
    start_containerd "$root" || not_ok "daemonset: containerd restarts"
  fi
  rc=0
  wait "$inst" || rc=$?
  diag "install container took $(($(now_ms) - t0)) ms"
  out=$(cat "$tmp/ds/install.log")
  assert_eq "daemonset: install container exits 0" 0 "$rc"
  ((rc == 0)) || diag "$out"
  assert_contains "daemonset: install waited until CRI served the skiff handler" "$out" 'serves runtime handler `skiff`'
  assert_contains "daemonset: the stub image was imported (host ctr via hostPID)" \
    "$(ctr -a "$SOCK" -n k8s.io images ls -q)" "skiff.dev/empty:1"
  check "daemonset: node config installed into the host" cmp "$tmp/ds/config/config.json" "$root/etc/skiff/config.json"
  check "daemonset: the installed shim is the node image's" cmp "$bindir/containerd-shim-skiff-v2" "$root/usr/local/bin/containerd-shim-skiff-v2"
  out=$("$PY" "$here/pods.py" imageless "$SOCK" /usr/local/bin/containerd-shim-skiff-v2 2>&1)
  rc=$?
  assert_eq "daemonset: imageless pod runs with the shim the installer copied" 0 "$rc"
  ((rc == 0)) || diag "$out"$'\n'"$(tail -20 "$root.containerd.log")"
fi

echo "1..$(wc -l <"$E2E_RESULTS")"
((E2E_FAILURES == 0))
