#!/usr/bin/env bash
# Store end-to-end tests (nix-bin as the reference; no containerd). usage: e2e/store/run.sh [PATTERN]
# env: SKIFF (default build-store/bin/skiff), KEEP_TMP=1.
set -uo pipefail
dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rc=0
for t in "$dir"/tests/[0-9][0-9]-*.sh; do
  [[ -n ${1:-} && $t != *"$1"* ]] && continue
  echo "# $(basename "$t")"
  bash "$t" || rc=1
done
exit $rc
