# Helpers for the store end-to-end tests (no containerd needed). Sourced by NN-*.sh.
set -euo pipefail
STORE_E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$STORE_E2E_DIR/../.." && pwd)
SKIFF=${SKIFF:-$REPO/build-store/bin/skiff}
FIXTURES=$REPO/test/fixtures/store
export NIX_CONFIG=$'substituters =\nexperimental-features = nix-command\nsandbox = false\nbuild-users-group ='
PY=/usr/bin/python3
T=$(mktemp -d /tmp/skiff-e2e-store.XXXXXX)
_pids=()
cleanup() {
  # serve() runs in $(...), a subshell: its servers are listed in $T/servers, not in _pids.
  if [[ -f $T/servers ]]; then mapfile -t -O "${#_pids[@]}" _pids <"$T/servers"; fi
  for p in "${_pids[@]:-}"; do [[ -n $p ]] && kill "$p" 2>/dev/null || true; done
  chmod -R u+w "$T" 2>/dev/null || true
  [[ ${KEEP_TMP:-0} == 1 ]] || rm -rf "$T"
}
trap cleanup EXIT
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }
check() { # check "description" cmd...
  local d=$1
  shift
  if "$@"; then ok "$d"; else notok "$d"; fi
}
finish() {
  echo "1..$n"
  [[ $fails == 0 ]]
}
# Serves directory $1 over HTTP on 127.0.0.1; prints the port. Requests are logged to $1.log.
serve() {
  local dir=$1 portf=$T/port.$RANDOM
  $PY "$STORE_E2E_DIR/httpd.py" "$dir" "$portf" >"$dir.log" 2>&1 &
  echo $! >>"$T/servers"
  for _ in $(seq 100); do [[ -s $portf ]] && break; sleep 0.05; done
  cat "$portf"
}
