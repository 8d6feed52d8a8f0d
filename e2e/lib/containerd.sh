# shellcheck shell=bash
# A private containerd 1.6 instance for the e2e tests.
#
# Everything lives under $CTRD_DIR (default $E2E_TMP/ctrd): config.toml, root,
# state, the gRPC socket, the CNI config and containerd.log. Shim sockets still
# go to /run/containerd/s (compiled into the shims), and runc's state to
# /run/containerd/runc/<ns>; both are keyed by our socket path / namespace.
#
# Requires common.sh.

SKIFF_SHIM=${SKIFF_SHIM:-$E2E_REPO/build/bin/containerd-shim-skiff-v2}
CTRD_BIN=${CTRD_BIN:-/usr/bin/containerd}
CTR_BIN=${CTR_BIN:-/usr/bin/ctr}
CNI_BIN_DIR=${CNI_BIN_DIR:-/usr/lib/cni}
PAUSE_IMAGE=${PAUSE_IMAGE:-registry.k8s.io/pause:skiff-e2e}
BUSYBOX_IMAGE=${BUSYBOX_IMAGE:-docker.io/library/busybox:e2e}
EMPTY_IMAGE=${EMPTY_IMAGE:-skiff.dev/empty:1}
# CNI_SUBNET / CNI_BRIDGE: default to a random 10.231.N.0/24 and bridge
# ske2e-N per instance, so that concurrent runs on one machine do not share
# a bridge or hand out the same addresses.

_ctrd_paths() {
  CTRD_DIR=${CTRD_DIR:-$E2E_TMP/ctrd}
  SOCK=${SOCK:-$CTRD_DIR/containerd.sock}
  CTRD_ROOT=$CTRD_DIR/root
  CTRD_STATE=$CTRD_DIR/state
  CTRD_CONFIG=$CTRD_DIR/config.toml
  CTRD_LOG=$CTRD_DIR/containerd.log
  CTRD_PIDFILE=$CTRD_DIR/containerd.pid
  export CTRD_DIR SOCK CTRD_ROOT CTRD_STATE CTRD_CONFIG CTRD_LOG CTRD_PIDFILE
}

# c ARGS...: ctr against the private containerd, namespace $NS (default e2e).
c() {
  "$CTR_BIN" --connect-timeout 10s -a "$SOCK" -n "${NS:-e2e}" "$@"
}

# ctrd_alive: containerd runs and answers.
ctrd_alive() {
  local pid
  pid=$(ctrd_pid) || return 1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null &&
    "$CTR_BIN" --connect-timeout 2s -a "$SOCK" version >/dev/null 2>&1
}

# Bundle directory of a task.
ctrd_bundle() {
  echo "$CTRD_STATE/io.containerd.runtime.v2.task/${NS:-e2e}/$1"
}

ctrd_write_config() {
  local cri='plugins."io.containerd.grpc.v1.cri"' n=$((RANDOM % 254 + 1))
  CNI_SUBNET=${CNI_SUBNET:-10.231.$n.0/24}
  CNI_BRIDGE=${CNI_BRIDGE:-ske2e-$n}
  mkdir -p "$CTRD_DIR/net.d" "$CTRD_DIR/cni-ipam" "$CTRD_ROOT" "$CTRD_STATE"
  cat >"$CTRD_DIR/net.d/10-skiff-e2e.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "skiff-e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CNI_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$CTRD_DIR/cni-ipam",
        "ranges": [[{ "subnet": "$CNI_SUBNET" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    }
  ]
}
EOF
  {
    cat <<EOF
version = 2
root = "$CTRD_ROOT"
state = "$CTRD_STATE"
oom_score = 0
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = "$SOCK"

[ttrpc]
  address = "$SOCK.ttrpc"

[debug]
  level = "${CTRD_LOG_LEVEL:-info}"

[$cri]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true

[$cri.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[$cri.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[$cri.containerd.runtimes.runc.options]
  SystemdCgroup = false

[$cri.containerd.runtimes.crun]
  runtime_type = "io.containerd.runc.v2"

[$cri.containerd.runtimes.crun.options]
  SystemdCgroup = false
  BinaryName = "/usr/bin/crun"
EOF
    if [[ -x $SKIFF_SHIM ]]; then
      cat <<EOF

[$cri.containerd.runtimes.skiff]
  runtime_type = "$SKIFF_SHIM"
  pod_annotations = ["skiff.dev/*"]
  container_annotations = ["skiff.dev/*", "cdi.k8s.io/*"]

[$cri.containerd.runtimes.skiff.options]
  ConfigPath = "${SKIFF_NODE_CONFIG:-$CTRD_DIR/skiff-config.json}"
EOF
    fi
    cat <<EOF

[$cri.cni]
  bin_dir = "$CNI_BIN_DIR"
  conf_dir = "$CTRD_DIR/net.d"
  max_conf_num = 1
EOF
  } >"$CTRD_CONFIG"
}

ctrd_pid() {
  [[ -f $CTRD_PIDFILE ]] && cat "$CTRD_PIDFILE"
}

ctrd_dump_log() {
  diag "---- tail of $CTRD_LOG ----"
  [[ -f $CTRD_LOG ]] && diag "$(tail -n "${1:-40}" "$CTRD_LOG")"
  return 0
}

# ctrd_start: generate the config (first time) and start containerd; wait
# until it answers `ctr version`.
ctrd_start() {
  _ctrd_paths
  local lines=0
  mkdir -p "$CTRD_DIR"
  [[ -f $CTRD_CONFIG ]] || ctrd_write_config
  [[ -f $CTRD_LOG ]] && lines=$(wc -l <"$CTRD_LOG")
  # Own session: a ^C or a signal to the test's process group must not
  # take containerd down behind the cleanup's back.
  setsid "$CTRD_BIN" --config "$CTRD_CONFIG" >>"$CTRD_LOG" 2>&1 </dev/null &
  echo $! >"$CTRD_PIDFILE"
  if ! retry_until 20 "$CTR_BIN" --connect-timeout 1s -a "$SOCK" version; then
    ctrd_dump_log 40
    die "containerd did not become ready (pid $(ctrd_pid))"
  fi
  if ! kill -0 "$(ctrd_pid)" 2>/dev/null; then
    ctrd_dump_log 40
    die "containerd exited right after start"
  fi
  # The CRI plugin answers "server is not initialized yet" until it has
  # recovered its state; it logs "Start streaming server" just before that.
  if ! retry_until 20 _ctrd_log_after "$lines" "Start streaming server"; then
    diag "warning: the CRI plugin did not start (see $CTRD_LOG)"
  fi
}

_ctrd_log_after() {
  tail -n +"$(($1 + 1))" "$CTRD_LOG" | grep -q "$2"
}

# ctrd_stop: stop containerd only (shims keep running).
ctrd_stop() {
  _ctrd_paths
  local pid i
  pid=$(ctrd_pid) || return 0
  [[ -n $pid ]] || return 0
  if kill -TERM "$pid" 2>/dev/null; then
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      diag "containerd $pid ignored SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
  rm -f "$CTRD_PIDFILE"
}

# ctrd_restart: stop containerd (leaving shims alive) and start it again with
# the same config.
ctrd_restart() {
  ctrd_stop
  echo "---- restart ----" >>"$CTRD_LOG"
  ctrd_start
}

# Pids of shim processes started by our containerd (their -address is $SOCK).
ctrd_shim_pids() {
  _ctrd_paths
  local p cmd
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    if [[ $cmd == *"-address $SOCK "* ]]; then
      echo "${p#/proc/}"
    fi
  done
}

# ctrd_remove_everything: remove all tasks and containers in every namespace
# of our containerd (best effort).
ctrd_remove_everything() {
  _ctrd_paths
  local ns id
  ctrd_alive || return 0
  for ns in $("$CTR_BIN" --connect-timeout 5s -a "$SOCK" namespaces ls -q 2>/dev/null); do
    for id in $(NS=$ns c task ls -q 2>/dev/null); do
      NS=$ns c task kill -a -s SIGKILL "$id" >/dev/null 2>&1 || true
    done
    for id in $(NS=$ns c task ls -q 2>/dev/null); do
      retry_until 5 _ctrd_task_stopped "$ns" "$id" || true
      NS=$ns timeout -s KILL 20 "$CTR_BIN" -a "$SOCK" -n "$ns" task rm -f "$id" >/dev/null 2>&1 || true
    done
    for id in $(NS=$ns c containers ls -q 2>/dev/null); do
      NS=$ns timeout -s KILL 20 "$CTR_BIN" -a "$SOCK" -n "$ns" containers rm "$id" >/dev/null 2>&1 || true
    done
  done
}

_ctrd_task_stopped() {
  NS=$1 c task ls 2>/dev/null | awk -v id="$2" '$1 == id { print $3 }' | grep -qx STOPPED
}

# ctrd_teardown: remove containers, stop containerd, kill leftover shims,
# unmount everything below $CTRD_DIR and delete the CNI bridge.
ctrd_teardown() {
  _ctrd_paths
  local p ns id bridge
  [[ -d $CTRD_DIR ]] || return 0
  # A dead containerd cannot clean up its shims: start it again if needed.
  if ! ctrd_alive && [[ -f $CTRD_CONFIG ]] && [[ -n $(ctrd_shim_pids) ]]; then
    ctrd_stop
    (ctrd_start) || true
  fi
  ctrd_remove_everything
  ctrd_stop
  for p in $(ctrd_shim_pids); do
    diag "killing leftover shim $p"
    kill -KILL "$p" 2>/dev/null || true
  done
  # runc containers whose bundle is ours (left by killed shims).
  for ns in /run/containerd/runc/*/; do
    [[ -d $ns ]] || continue
    for id in $(runc --root "$ns" list -q 2>/dev/null); do
      if runc --root "$ns" state "$id" 2>/dev/null | grep -q "\"bundle\": \"$CTRD_STATE/"; then
        diag "removing leftover runc container $id"
        runc --root "$ns" delete -f "$id" >/dev/null 2>&1 || true
      fi
    done
  done
  umount_under "$CTRD_DIR"
  # Our bridge, unless something is still attached to it.
  bridge=$(sed -n 's/.*"bridge": "\([^"]*\)".*/\1/p' "$CTRD_DIR/net.d/10-skiff-e2e.conflist" 2>/dev/null)
  if [[ -n $bridge ]] && ip link show "$bridge" >/dev/null 2>&1 &&
    [[ -z $(ip -o link show master "$bridge" 2>/dev/null) ]]; then
    ip link del "$bridge" 2>/dev/null || true
  fi
}

# ---------------------------------------------------------------------------
# Task helpers for tests.

# task_status ID: RUNNING, STOPPED, PAUSED, CREATED... or empty.
task_status() {
  { c task ls 2>/dev/null || true; } | awk -v id="$1" '$1 == id { print $3 }'
}

# task_pid ID: host pid of the task's init process.
task_pid() {
  { c task ls 2>/dev/null || true; } | awk -v id="$1" '$1 == id { print $2 }'
}

# task_pids ID: pids listed by `ctr task ps`, one a line.
task_pids() {
  { c task ps "$1" 2>/dev/null || true; } | awk 'NR > 1 { print $1 }'
}

_task_status_is() {
  [[ $(task_status "$1") == "$2" ]]
}

# wait_task_status ID STATUS [TIMEOUT_S]
wait_task_status() {
  retry_until "${3:-10}" _task_status_is "$1" "$2"
}

# ppid_of PID
ppid_of() {
  [[ -n $1 ]] || return 0
  awk '{ print $4 }' "/proc/$1/stat" 2>/dev/null || true
}

# cgroup_v2: the host has the unified hierarchy only (cgroup v2 at /sys/fs/cgroup).
cgroup_v2() {
  [[ -f /sys/fs/cgroup/cgroup.controllers ]]
}

# cgroup_dir PID CTRL: the cgroup v1 directory of PID for controller CTRL; on a
# cgroup v2 host the unified directory of PID (CTRL ignored).
cgroup_dir() {
  local rel
  [[ -n $1 ]] || return 0
  if cgroup_v2; then
    rel=$(awk -F: '$1 == "0" && $2 == "" { print $3 }' "/proc/$1/cgroup" 2>/dev/null) || return 0
    echo "/sys/fs/cgroup$rel"
    return 0
  fi
  rel=$(awk -F: -v c="$2" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' \
    "/proc/$1/cgroup" 2>/dev/null) || return 0
  echo "/sys/fs/cgroup/$2$rel"
}

# ctr_cleanup ID...: best-effort removal of tasks and containers.
ctr_cleanup() {
  local id
  for id in "$@"; do
    ctrd_alive || return 0
    if [[ -n $(task_status "$id") ]]; then
      c task kill -a -s SIGKILL "$id" >/dev/null 2>&1 || true
      retry_until 5 _task_status_is "$id" STOPPED || true
      timeout -s KILL 20 "$CTR_BIN" -a "$SOCK" -n "${NS:-e2e}" task rm -f "$id" >/dev/null 2>&1 || true
    fi
    timeout -s KILL 20 "$CTR_BIN" -a "$SOCK" -n "${NS:-e2e}" containers rm "$id" >/dev/null 2>&1 || true
  done
}

# events_start FILE: run `ctr events` in the background writing to FILE;
# sets EVENTS_PID. Stop with events_stop.
events_start() {
  c events >"$1" 2>&1 &
  EVENTS_PID=$!
  # ctr events subscribes asynchronously; give it a moment.
  sleep 0.3
}

events_stop() {
  if [[ -n ${EVENTS_PID:-} ]]; then
    kill "$EVENTS_PID" 2>/dev/null || true
    wait "$EVENTS_PID" 2>/dev/null || true
    EVENTS_PID=
  fi
}

# Lines of `ctr events` look like
#   2026-11-22 17:14:47.68 +0000 UTC NS /tasks/exit {"container_id":"ID",...}

# events_topics FILE ID: the topics of task events about container ID, in order.
events_topics() {
  awk -v k="\"container_id\":\"$2\"" 'index($0, k) { print $6 }' "$1"
}

# events_json FILE ID TOPIC: the JSON payloads of TOPIC events about ID.
events_json() {
  awk -v k="\"container_id\":\"$2\"" -v t="$3" 'index($0, k) && $6 == t { print $7 }' "$1"
}

# events_exit_status FILE ID: exit_status of the init's /tasks/exit event
# (proto3 JSON omits a zero status); empty if there is no such event.
events_exit_status() {
  local j
  j=$(events_json "$1" "$2" /tasks/exit | grep -F "\"id\":\"$2\"" | tail -n1)
  [[ -n $j ]] || return 0
  if [[ $j =~ \"exit_status\":([0-9]+) ]]; then
    echo "${BASH_REMATCH[1]}"
  else
    echo 0
  fi
}

_ctrd_paths_if_tmp() {
  if [[ -n ${E2E_TMP:-} ]]; then
    _ctrd_paths
  fi
}
_ctrd_paths_if_tmp
