#!/usr/bin/env bash
# Signals, ps, pause/resume, metrics.
set -euo pipefail
# shellcheck source=../lib/test.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test.sh"
RT=(--runtime "$RUNTIME")

# SIGTERM reaches a PID 1 that traps it; the exit status is the handler's.
id=$(uniq_name sig)
on_exit ctr_cleanup "$id"
c run --rm "${RT[@]}" "$BB" "$id" \
  sh -c 'trap "exit 0" TERM; while :; do sleep 1 & wait $!; done' </dev/null >/dev/null 2>&1 &
runpid=$!
wait_task_status "$id" RUNNING 20 || true
sleep 0.3 # let sh install its trap
check "task kill (default SIGTERM) is accepted" c task kill "$id"
rc=0
wait "$runpid" || rc=$?
assert_eq "SIGTERM trapped by PID 1: exit status 0" 0 "$rc"

# PID 1 without a handler ignores SIGTERM: the shim must not escalate.
id=$(uniq_name sig)
on_exit ctr_cleanup "$id"
check "start a detached sleep" c run -d "${RT[@]}" "$BB" "$id" sleep 1000 </dev/null
wait_task_status "$id" RUNNING 20 || true
c task kill -s SIGTERM "$id" || true
sleep 1
assert_eq "SIGTERM to a PID 1 without handler: still RUNNING" RUNNING "$(task_status "$id")"
check "SIGKILL by name" c task kill -s SIGKILL "$id"
if wait_task_status "$id" STOPPED 10; then ok "SIGKILL stops the task"; else not_ok "SIGKILL stops the task"; fi
ctr_cleanup "$id"

# kill -a reaches every process; ps lists them all.
id=$(uniq_name sig)
on_exit ctr_cleanup "$id"
c run --rm "${RT[@]}" "$BB" "$id" \
  sh -c 'sleep 1000 & sleep 1000 & wait' </dev/null >/dev/null 2>&1 &
runpid=$!
wait_task_status "$id" RUNNING 20 || true
three() { (($(task_pids "$id" | wc -l) >= 3)); }
retry_until 5 three || true
pids=$(task_pids "$id")
init=$(task_pid "$id")
if (($(wc -w <<<"$pids") >= 3)); then ok "task ps lists the 3 processes"; else not_ok "task ps lists the 3 processes" "$pids"; fi
assert_line "task ps includes the init pid ${init:-?}" "$pids" "${init:-?}"
check "task kill -a -s SIGKILL" c task kill -a -s SIGKILL "$id"
rc=0
wait "$runpid" || rc=$?
assert_eq "kill -a: ctr run exits 137" 137 "$rc"
left=
for p in $pids; do
  if [[ -e /proc/$p ]] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; then
    left+=" $p"
  fi
done
assert_eq "kill -a: no process of the container is left" "" "$left"

# pause / resume: the container stops making progress while PAUSED.
id=$(uniq_name sig)
on_exit ctr_cleanup "$id"
ev=$E2E_TMP/events-$id
events_start "$ev"
on_exit events_stop
check "start a detached counter" c run -d "${RT[@]}" "$BB" "$id" \
  sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/n.new; mv /tmp/n.new /tmp/n; sleep 0.05; done' \
  </dev/null
wait_task_status "$id" RUNNING 20 || true
counter=$(ctrd_bundle "$id")/rootfs/tmp/n
retry_until 5 test -s "$counter" || true
check "task pause" c task pause "$id"
assert_eq "status PAUSED after pause" PAUSED "$(task_status "$id")"
if cgroup_v2; then
  cg=$(cgroup_dir "$(task_pid "$id")" unified)
  assert_eq "v2: cgroup.freeze is 1" 1 "$(cat "$cg/cgroup.freeze" 2>&1 || true)"
  retry_until 2 grep -qx 'frozen 1' "$cg/cgroup.events" || true
  assert_line "v2: cgroup.events says frozen 1" "$(cat "$cg/cgroup.events" 2>&1 || true)" "frozen 1"
else
  freezer=$(cgroup_dir "$(task_pid "$id")" freezer)/freezer.state
  assert_eq "freezer.state is FROZEN" FROZEN "$(cat "$freezer" 2>&1 || true)"
fi
a=$(cat "$counter" 2>&1) || true
sleep 0.5
b=$(cat "$counter" 2>&1) || true
assert_eq "no progress while paused" "$a" "$b"
check "task resume" c task resume "$id"
assert_eq "status RUNNING after resume" RUNNING "$(task_status "$id")"
sleep 0.5
c2=$(cat "$counter" 2>&1) || true
if [[ $c2 =~ ^[0-9]+$ && $b =~ ^[0-9]+$ ]] && ((c2 > b)); then ok "progress after resume ($b -> $c2)"; else not_ok "progress after resume" "$b -> $c2"; fi

# metrics: ctr prints the v1 or v2 table after the type of the shim's metrics.
out=$(c task metrics "$id" 2>&1) || true
keys=(memory.usage_in_bytes memory.limit_in_bytes cpuacct.usage pids.current)
cgroup_v2 && keys=(memory.usage memory.usage_limit cpu.usage_usec pids.current)
for k in "${keys[@]}"; do
  v=$(awk -v k="$k" '$1 == k { print $2 }' <<<"$out")
  assert_match "metrics: $k present" "$v" '^[0-9]+$'
done
usage=$(awk -v k="${keys[0]}" '$1 == k { print $2 }' <<<"$out")
if [[ $usage =~ ^[0-9]+$ ]] && ((usage > 0)); then ok "metrics: memory usage > 0"; else not_ok "metrics: memory usage > 0" "$out"; fi
pidsc=$(awk '$1 == "pids.current" { print $2 }' <<<"$out")
if [[ $pidsc =~ ^[0-9]+$ ]] && ((pidsc >= 1)); then ok "metrics: pids.current >= 1"; else not_ok "metrics: pids.current >= 1" "$out"; fi
c task kill -s SIGKILL "$id" || true
wait_task_status "$id" STOPPED 10 || true
sleep 0.3
events_stop
topics=$(events_topics "$ev" "$id" | tr '\n' ' ')
assert_contains "events: /tasks/paused then /tasks/resumed" "$topics" "/tasks/paused /tasks/resumed "
