#!/usr/bin/env bash
# Recovery: the shim daemon is SIGKILLed; containerd restarts under a
# running container.
set -euo pipefail
# shellcheck source=../lib/test.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test.sh"
RT=(--runtime "$RUNTIME")
CONTROLLERS=(memory cpu cpuacct pids freezer devices blkio cpuset)
cgroup_v2 && CONTROLLERS=(unified) # one directory; cgroup_dir ignores the controller

# alive PID...: print the pids that still run (zombies count as gone: this
# machine's PID 1 may not reap orphans quickly).
alive() {
  local p
  for p in "$@"; do
    if [[ -e /proc/$p ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null; then
      echo "$p"
    fi
  done
}

# --- 1. SIGKILL of the shim daemon.
id=$(uniq_name rec)
on_exit ctr_cleanup "$id"
ev=$E2E_TMP/events-$id
events_start "$ev"
on_exit events_stop
check "start a container with 3 processes" c run -d "${RT[@]}" "$BB" "$id" sh -c 'sleep 1000 & sleep 1000 & wait' </dev/null
wait_task_status "$id" RUNNING 20 || true
three() { (($(task_pids "$id" | wc -l) >= 3)); }
retry_until 5 three || true
init=$(task_pid "$id")
read -r -a pids <<<"$(task_pids "$id" | tr '\n' ' ')" || true
shim=$(ppid_of "$init")
bundle=$(ctrd_bundle "$id")
cgdirs=()
for ctl in "${CONTROLLERS[@]}"; do
  d=$(cgroup_dir "$init" "$ctl")
  [[ -d $d && $d != "/sys/fs/cgroup/$ctl/" && $d != /sys/fs/cgroup/ ]] && cgdirs+=("$d")
done
shim_cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$shim/cmdline" || true)
assert_contains "the task's parent is a shim serving our containerd" "$shim_cmd" "-address $SOCK"
if ((${#cgdirs[@]} > 0)); then ok "container cgroups found (${#cgdirs[@]})"; else not_ok "container cgroups found"; fi
assert_contains "rootfs is mounted before the shim dies" "$(cat /proc/self/mountinfo)" " $bundle/rootfs "

if [[ -n $shim ]] && ((shim > 1)); then kill -KILL "$shim"; fi
gone_task() { [[ -z $(task_status "$id") ]]; }
if retry_until 15 gone_task; then
  ok "containerd notices the dead shim and drops the task"
else
  not_ok "containerd notices the dead shim and drops the task" "status: $(task_status "$id")"
  c task rm -f "$id" >/dev/null 2>&1 || true
fi
check "container rm after the shim died" c containers rm "$id"
no_procs() { [[ -z $(alive "${pids[@]}") ]]; }
retry_until 10 no_procs || true
assert_eq "no process of the container remains" "" "$(alive "${pids[@]}" | tr '\n' ' ')"
assert_eq "no mount under the bundle remains" "" "$(awk -v b="$bundle" 'index($5, b) == 1 { print $5 }' /proc/self/mountinfo)"
left=
for d in "${cgdirs[@]}"; do
  [[ -d $d ]] && left+="$d "
done
assert_eq "no cgroup directory of the container remains" "" "$left"
assert_eq "the bundle directory is removed" "" "$(ls -d "$bundle" 2>/dev/null || true)"
assert_eq "the shim process is gone" "" "$(alive "$shim")"
sleep 0.3
events_stop
topics=$(events_topics "$ev" "$id" | tr '\n' ' ')
assert_match "events after the shim died: /tasks/exit then /tasks/delete" "$topics" "/tasks/exit /tasks/delete"
assert_eq "dead-shim /tasks/exit carries exit_status 137" 137 "$(events_exit_status "$ev" "$id")"

# --- 2. containerd restarts while a container runs.
id=$(uniq_name rec)
on_exit ctr_cleanup "$id"
check "start a container that traps SIGTERM" c run -d "${RT[@]}" "$BB" "$id" \
  sh -c 'trap "exit 0" TERM; while :; do sleep 1 & wait $!; done' </dev/null
wait_task_status "$id" RUNNING 20 || true
init=$(task_pid "$id")
shim=$(ppid_of "$init")
ctrd_restart
assert_eq "after containerd restart: task is RUNNING" RUNNING "$(task_status "$id")"
assert_same "after containerd restart: same init pid" "$init" "$(task_pid "$id")"
assert_same "after containerd restart: same shim process" "$shim" "$(ppid_of "$init")"
out=$(c task exec --exec-id after-restart "$id" echo exec-ok </dev/null 2>&1) || true
assert_eq "after containerd restart: exec works" exec-ok "$out"
rc=0
c task exec --exec-id after-restart-rc "$id" sh -c 'exit 4' </dev/null >/dev/null 2>&1 || rc=$?
assert_eq "after containerd restart: exec exit code" 4 "$rc"
npids=$(task_pids "$id" | wc -l)
if ((npids >= 1)); then ok "after containerd restart: task ps works"; else not_ok "after containerd restart: task ps works"; fi
ev=$E2E_TMP/events-$id
events_start "$ev"
check "after containerd restart: kill SIGTERM" c task kill "$id"
if wait_task_status "$id" STOPPED 10; then
  ok "after containerd restart: exit is reported (STOPPED)"
else
  not_ok "after containerd restart: exit is reported (STOPPED)" "status: $(task_status "$id")"
fi
sleep 0.3
assert_eq "after containerd restart: /tasks/exit with status 0" 0 "$(events_exit_status "$ev" "$id")"
check "after containerd restart: task rm" c task rm "$id"
check "after containerd restart: container rm" c containers rm "$id"
events_stop

# --- 3. The task exits while containerd is down: found STOPPED afterwards.
id=$(uniq_name rec)
on_exit ctr_cleanup "$id"
check "start a container that exits on a marker" c run -d "${RT[@]}" "$BB" "$id" \
  sh -c 'until [ -e /tmp/go ]; do sleep 0.1; done; exit 12' </dev/null
wait_task_status "$id" RUNNING 20 || true
ctrd_stop
touch "$(ctrd_bundle "$id")/rootfs/tmp/go" 2>/dev/null || true
sleep 1
ctrd_start
if wait_task_status "$id" STOPPED 10; then
  ok "exit during containerd downtime: task is STOPPED after restart"
else
  not_ok "exit during containerd downtime: task is STOPPED after restart" "status: $(task_status "$id")"
fi
out=$(c task rm "$id" 2>&1) || true
assert_eq "exit during downtime: task rm succeeds" "" "$(task_status "$id")"
check "exit during downtime: container rm" c containers rm "$id"
