#!/usr/bin/env bash
# charts/skiff rendered by a real template engine: helm-render (e2e/node/helm-render: Go's
# text/template + sprig + Helm's functions and value rules, built offline from Debian's Go
# packages; no Helm binary can be installed here).
#   1. the renderer itself on fixtures/render-chart (what Helm's functions and value rules yield,
#      and that template, YAML and kubeVersion errors fail);
#   2. the chart with its defaults against manifests/*.yaml and, with uninstall.enabled=true,
#      against manifests/uninstall/ (chart-check.py: object set, RuntimeClass, DaemonSet mounts,
#      privileged init container, installer flags, agent container, ConfigMap);
#   3. the chart with fixtures/chart-values.yaml plus --set/--set-string overrides (hub, keys,
#      credentials Secret, size budget, keep_generations, k3s, restart mode, prefetch, GPU,
#      nodeSelector, tolerations), an existing Secret, RKE2;
#   4. every rendered node config accepted by `skiff node install --config-json` (the init
#      container's own validation), and the rendered install command run (--dry-run) against a
#      temp host root holding the flavour's containerd config;
#   5. wrong values fail the render with a message naming the value and the template line.
# usage: e2e/node/test_chart.sh   env: SKIFF (default build-k8s/bin/skiff), KEEP_TMP=1
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/common.sh
source "$here/../lib/common.sh"
SKIFF=${SKIFF:-$E2E_REPO/build-k8s/bin/skiff}
PY=/usr/bin/python3
CHART=$E2E_REPO/charts/skiff
[[ -x $SKIFF ]] || die "no skiff binary at $SKIFF (build the skiff target)"
build=$(cd "$(dirname "$SKIFF")/.." && pwd)
tmp=$(mktemp -d /tmp/skc.XXXXXX)
export E2E_RESULTS=${E2E_RESULTS:-$tmp/results}
: >"$E2E_RESULTS"
cleanup() { [[ ${KEEP_TMP:-0} == 1 ]] && diag "kept $tmp" || rm -rf "$tmp"; }
trap cleanup EXIT

# report < <(chart-check.py ...): its `ok|not ok<TAB>desc[<TAB>detail]` lines as TAP (not in a
# pipeline: the failure count must stay in this shell).
report() {
  local status desc detail n=0
  while IFS=$'\t' read -r status desc detail; do
    n=$((n + 1))
    if [[ $status == ok ]]; then ok "$desc"; else not_ok "$desc" "$detail"; fi
  done
  ((n > 0)) || not_ok "chart-check.py reported nothing"
}

t0=$(now_ms)
if R=$("$here/helm-render/build.sh" "$build" 2>"$tmp/build.log"); then
  ok "helm-render builds offline from Debian's Go packages ($(($(now_ms) - t0)) ms)"
else
  not_ok "helm-render builds" "$(cat "$tmp/build.log")"
  echo "1..$(wc -l <"$E2E_RESULTS")"
  exit 1
fi

# render NAME ARGS...: renders into $tmp/NAME.yaml (stderr in $tmp/NAME.err); ok/not ok.
render() {
  local name=$1
  shift
  if "$R" "$@" >"$tmp/$name.yaml" 2>"$tmp/$name.err"; then
    ok "render $name"
  else
    not_ok "render $name" "$(cat "$tmp/$name.err")"
  fi
}

# render_fails DESC MESSAGE LOCATION_REGEX ARGS...: the render fails, stderr names MESSAGE and a
# template location.
render_fails() {
  local desc=$1 msg=$2 loc=$3 out rc=0
  shift 3
  out=$("$R" "$@" 2>&1 >/dev/null) || rc=$?
  if ((rc == 0)); then
    not_ok "$desc" "the render succeeded"
  elif [[ $out != *"$msg"* ]]; then
    not_ok "$desc" "no \`$msg\` in: $out"
  elif [[ -n $loc && ! $out =~ $loc ]]; then
    not_ok "$desc" "no location /$loc/ in: $out"
  else
    ok "$desc"
  fi
}

# ---- 1. the renderer ----------------------------------------------------------------------------
probe=$here/fixtures/render-chart
render probe --name rel --namespace ns --kube-version 1.27.4 --set setNum=3 \
  --set nested.drop=null --set-string setString=3 --notes "$tmp/probe-notes.txt" "$probe"
report < <("$PY" "$here/chart-check.py" probe "$tmp/probe.yaml" "$tmp/probe-notes.txt")
render_fails "helm-render: --strict fails on a missing key" 'map has no entry for key "setNum"' \
  'render-probe/templates/probe\.yaml:[0-9]+:[0-9]+' --strict "$probe"
render_fails "helm-render: env is not available (as in Helm)" 'function "env" not defined' \
  'render-probe/templates/probe\.yaml:[0-9]+' --set tryEnv=true "$probe"
render_fails "helm-render: a document that is not YAML fails, naming the template" \
  'YAML parse error on render-probe/templates/probe.yaml' '' --set badYaml=true "$probe"
render_fails "helm-render: Chart.yaml kubeVersion is enforced" \
  'chart requires kubeVersion: >=1.20.0-0 which is incompatible with Kubernetes v1.19.0' '' \
  --kube-version 1.19.0 "$probe"
mkdir -p "$tmp/broken"
cp -r "$probe/." "$tmp/broken/"
printf 'x: {{ .Values.name | nosuchfunc }}\n' >"$tmp/broken/templates/z.yaml"
render_fails "helm-render: a template parse error names file and line" \
  'function "nosuchfunc" not defined' 'render-probe/templates/z\.yaml:1' "$tmp/broken"

# ---- 2. defaults against manifests/ ---------------------------------------------------------------
render default --name skiff --namespace skiff-system --set namespace.create=true \
  --notes "$tmp/notes.txt" "$CHART"
render uninstall --name skiff --namespace skiff-system --set namespace.create=true \
  --set uninstall.enabled=true "$CHART"
report < <("$PY" "$here/chart-check.py" manifests "$tmp/default.yaml" "$tmp/uninstall.yaml" \
  "$E2E_REPO/manifests" "$tmp")
assert_contains "NOTES.txt names the release and the RuntimeClass" "$(cat "$tmp/notes.txt")" \
  "rollout status ds/skiff-node"

# ---- 3. overrides -----------------------------------------------------------------------------------
sets=(node.keepGenerations=7)
render overrides --name edge --namespace kube-system -f "$here/fixtures/chart-values.yaml" \
  --set "${sets[0]}" --set-string image.tag=2024.1 "$CHART"
report < <("$PY" "$here/chart-check.py" overrides "$tmp/overrides.yaml" "$tmp/default.yaml" \
  "$here/fixtures/chart-values.yaml" "$tmp" "${sets[@]}" image.tag=2024.1)
render existing --set credentials.existingSecret=skiff-config-from-vault "$CHART"
report < <("$PY" "$here/chart-check.py" existing-secret "$tmp/existing.yaml" skiff-config-from-vault)
render rke2 --set containerd.flavor=rke2 "$CHART"
report < <("$PY" "$here/chart-check.py" rke2 "$tmp/rke2.yaml")

# ---- 4. skiff accepts what the chart renders --------------------------------------------------------
mkdir -p "$tmp/src"
: >"$tmp/src/skiff"
: >"$tmp/src/containerd-shim-skiff-v2" # --dry-run reads them; the content does not matter
# validate NAME FILE: `skiff node install --config-json` (what the init container runs) accepts it.
validate() {
  local out rc=0
  mkdir -p "$tmp/vroot-$1"
  out=$("$SKIFF" node install --dry-run --host-root "$tmp/vroot-$1" --restart none --no-image \
    --no-label --source-dir "$tmp/src" --config-json "$2" 2>&1) || rc=$?
  if ((rc == 0)) && [[ $out == *'would write `/etc/skiff/config.json`'* ]]; then
    ok "$1: skiff accepts the node config"
  else
    not_ok "$1: skiff accepts the node config" "$out"$'\n'"$(cat "$2")"
  fi
}
validate defaults "$tmp/default-config.json"
validate manifests "$tmp/manifest-config.json"
validate overrides "$tmp/override-config.json"
# ... and can refuse one: a wrong type slipped in through node.extraConfig.
render badcfg --set-string node.extraConfig.keep_generations=three "$CHART"
"$PY" -c 'import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "ConfigMap": open(sys.argv[2], "w").write(d["data"]["config.json"])' \
  "$tmp/badcfg.yaml" "$tmp/badcfg.json"
out=$("$SKIFF" node install --dry-run --host-root "$tmp/vroot-defaults" --restart none --no-image \
  --no-label --source-dir "$tmp/src" --config-json "$tmp/badcfg.json" 2>&1)
rc=$?
assert_ne "skiff refuses a rendered config with a wrong type" 0 "$rc"
assert_contains "... naming the key" "$out" "keep_generations"

# installer ROOT ARGSFILE CONFIG: the rendered install command with the host root, config and
# restart mode of this machine, as a dry run.
installer() {
  local root=$1 args=() a
  while IFS= read -r a; do
    case $a in
    --host-root=*) a=--host-root=$root ;;
    --config-json=*) a=--config-json=$3 ;;
    --restart=*) a=--restart=none ;;
    esac
    args+=("$a")
  done <"$2"
  "$SKIFF" "${args[@]:1}" --dry-run --no-image --no-label --source-dir "$tmp/src" 2>&1
}
r=$tmp/host-debian
mkdir -p "$r/etc/containerd"
cp "$here/fixtures/debian/config.toml" "$r/etc/containerd/"
out=$(installer "$r" "$tmp/default-install.args" "$tmp/default-config.json")
rc=$?
assert_eq "defaults: the rendered install command runs (dry run)" 0 "$rc"
assert_contains "... and registers the runtime in Debian's config" "$out" \
  'would write `/etc/containerd/conf.d/skiff.toml`'
assert_contains "... as containerd version 2" "$out" '(containerd, version 2)'
r=$tmp/host-k3s
mkdir -p "$r/var/lib/rancher/k3s/agent/etc/containerd"
cp "$here/fixtures/k3s/config.toml" "$r/var/lib/rancher/k3s/agent/etc/containerd/"
out=$(installer "$r" "$tmp/override-install.args" "$tmp/override-config.json")
rc=$?
assert_eq "overrides: the rendered install command runs (dry run)" 0 "$rc"
assert_contains "... and writes k3s's config.toml.tmpl" "$out" \
  'would write `/var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl`'
assert_contains "... as k3s" "$out" '(k3s, version 2)'
assert_contains "... installing into installDir" "$out" \
  'would write `/opt/skiff/bin/containerd-shim-skiff-v2`'

# ---- 5. wrong values fail the render ------------------------------------------------------------------
H='skiff/templates/_helpers\.tpl:[0-9]+:[0-9]+'
render_fails "image.repository empty: required fails" "image.repository is required" "$H" \
  --set image.repository= "$CHART"
render_fails "runtimeClass.handler empty: required fails" "runtimeClass.handler is required" \
  'skiff/templates/runtimeclass\.yaml:[0-9]+:[0-9]+' --set runtimeClass.handler= "$CHART"
render_fails "node.keepGenerations a string: refused" \
  'node.keepGenerations must be a whole number, not string "three"' "$H" \
  --set node.keepGenerations=three "$CHART"
printf 'node:\n  keepGenerations: 2.5\n' >"$tmp/frac.yaml"
render_fails "node.keepGenerations a fraction (values file): refused" \
  'node.keepGenerations must be a whole number >= 0, not 2.5' "$H" -f "$tmp/frac.yaml" "$CHART"
render_fails "containerd.flavor unknown: refused" \
  'containerd.flavor must be containerd, k3s or rke2, not "docker"' "$H" \
  --set containerd.flavor=docker "$CHART"
render_fails "containerd.restart unknown: refused" 'containerd.restart must be systemd' "$H" \
  --set containerd.restart=reboot "$CHART"
render_fails "tolerations not a list: refused" 'tolerations must be a list, not string "oops"' \
  "$H" --set tolerations=oops "$CHART"
render_fails "nodeSelector not a map: refused" 'nodeSelector must be a map' "$H" \
  --set nodeSelector=gpu "$CHART"
render_fails "installDir relative: refused" 'installDir must be an absolute path' "$H" \
  --set installDir=usr/bin "$CHART"
render_fails "storeSizeBudget not a size: refused" 'storeSizeBudget must be a size' "$H" \
  --set storeSizeBudget=lots "$CHART"
render_fails "Kubernetes older than Chart.yaml's kubeVersion: refused" \
  'incompatible with Kubernetes v1.25.0' '' --kube-version 1.25.0 "$CHART"

echo "1..$(wc -l <"$E2E_RESULTS")"
((E2E_FAILURES == 0))
