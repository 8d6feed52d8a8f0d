#!/usr/bin/env bash
# The node-side tests of issue 7, one TAP stream: chart/manifest lint (python3-yaml), the chart
# rendered by a real template engine and compared with manifests/ (test_chart.sh, helm-render built
# with Debian's Go), the agent (test_agent.sh), the installer against real containerd configs
# (test_install.sh) and pods on the installed configs, k3s's rendered template included, plus the
# simulated DaemonSet flow (test_pods.sh, root only); config version 3 on a real containerd 2.x
# (test_v3.sh: skipped unless CONTAINERD2 is set, see README.md).
# usage: e2e/node/run.sh   env: SKIFF (default build/bin/skiff), CONTAINERD2, CTR2
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
export SKIFF=${SKIFF:-$repo/build/bin/skiff}
failed=()
if [[ -z ${STUB_IMAGE:-} ]]; then # test_install.sh imports the stub image built by build.sh
  img=$(mktemp -d /tmp/skimg.XXXXXX)
  trap 'rm -rf "$img"' EXIT
  "$repo/manifests/image/build.sh" --build-dir "$(dirname "$(dirname "$SKIFF")")" --out "$img" \
    >/dev/null || failed+=(image/build.sh)
  export STUB_IMAGE=$img/stub-image.tar
fi
echo "# ---- chart-lint.py"
/usr/bin/python3 "$here/chart-lint.py" || failed+=(chart-lint)
for t in test_chart.sh test_agent.sh test_install.sh test_pods.sh test_v3.sh; do
  echo "# ---- $t"
  E2E_RESULTS='' bash "$here/$t" || failed+=("$t")
done
if ((${#failed[@]})); then
  echo "# FAILED: ${failed[*]}" >&2
  exit 1
fi
