# shellcheck shell=bash
# A docker-registry (Debian's `docker-registry`, or REGISTRY_BIN) on 127.0.0.1:$REG_PORT for the
# benchmarks and critest, with its data under $E2E_TMP/registry; stopped by the on_exit traps of
# lib/common.sh. Needs PY (a python3) and REGPUSH (e2e/lib/regpush.py) for the readiness ping.
# registry_start: dies when the port is taken or the registry does not answer; sets REG_PID.
registry_start() {
  # Anything answering a connect on the port means it is taken.
  if (exec 3<>"/dev/tcp/127.0.0.1/$REG_PORT") 2>/dev/null; then
    die "port $REG_PORT is in use (set REG_PORT)"
  fi
  mkdir -p "$E2E_TMP/registry"
  cat >"$E2E_TMP/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $E2E_TMP/registry/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REG_PORT
EOF
  setsid "${REGISTRY_BIN:-docker-registry}" serve "$E2E_TMP/registry/config.yml" \
    >"$E2E_TMP/registry/log" 2>&1 </dev/null &
  REG_PID=$!
  on_exit kill "$REG_PID"
  if ! retry_until 20 "$PY" "$REGPUSH" --ping "127.0.0.1:$REG_PORT"; then
    diag "$(tail -n 20 "$E2E_TMP/registry/log")"
    die "docker-registry did not start (${REGISTRY_BIN:-docker-registry})"
  fi
}
