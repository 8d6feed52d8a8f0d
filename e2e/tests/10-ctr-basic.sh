#!/usr/bin/env bash
# ctr run: output, stdin, exit codes, SIGKILL → 137, event order.
set -euo pipefail
# shellcheck source=../lib/test.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test.sh"
RT=(--runtime "$RUNTIME")

# Output of a one-shot container.
id=$(uniq_name basic)
on_exit ctr_cleanup "$id"
rc=0
out=$(c run --rm "${RT[@]}" "$BB" "$id" echo hello </dev/null 2>&1) || rc=$?
assert_eq "run --rm echo hello: exit status 0" 0 "$rc"
assert_eq "run --rm echo hello: output" hello "$out"
assert_eq "run --rm: container removed" "" "$(c containers ls -q | grep -x "$id" || true)"

# stdin reaches the container. (ctr 1.6 never sends CloseIO, so the
# container would not see EOF: read a fixed number of lines.)
id=$(uniq_name basic)
on_exit ctr_cleanup "$id"
rc=0
out=$(printf 'line1\nline2\n' | timeout -s KILL 30 "$CTR_BIN" -a "$SOCK" -n "${NS:-e2e}" \
  run --rm "${RT[@]}" "$BB" "$id" sh -c 'read -r a; read -r b; echo "$a"; echo "$b"; echo done' 2>&1) || rc=$?
assert_eq "run with piped stdin: exit status" 0 "$rc"
assert_eq "run with piped stdin: output" $'line1\nline2\ndone' "$out"

# stdout and stderr are separate streams.
id=$(uniq_name basic)
on_exit ctr_cleanup "$id"
out=$(c run --rm "${RT[@]}" "$BB" "$id" sh -c 'echo to-out; echo to-err >&2' </dev/null 2>/dev/null) || true
assert_eq "stderr is not mixed into stdout" to-out "$out"

# Exit codes propagate.
for code in 0 3 42; do
  id=$(uniq_name basic)
  on_exit ctr_cleanup "$id"
  rc=0
  c run --rm "${RT[@]}" "$BB" "$id" sh -c "exit $code" </dev/null >/dev/null 2>&1 || rc=$?
  assert_eq "exit code $code propagates through ctr run" "$code" "$rc"
done

# Environment and image config (Env PATH, Cmd default).
id=$(uniq_name basic)
on_exit ctr_cleanup "$id"
out=$(c run --rm "${RT[@]}" --env FOO=bar "$BB" "$id" sh -c 'echo "$FOO:$PATH:$(pwd)"' </dev/null 2>&1) || true
assert_eq "env and image PATH reach the process" "bar:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/" "$out"

# A task killed with SIGKILL reports 137, and the events arrive in order.
id=$(uniq_name basic)
on_exit ctr_cleanup "$id"
ev=$E2E_TMP/events-$id
events_start "$ev"
on_exit events_stop
c run --rm "${RT[@]}" "$BB" "$id" sleep 1000 </dev/null >/dev/null 2>&1 &
runpid=$!
if wait_task_status "$id" RUNNING 20; then
  ok "sleep task is RUNNING"
else
  not_ok "sleep task is RUNNING" "status: '$(task_status "$id")'"
fi
c task kill -s SIGKILL "$id" || true
rc=0
wait "$runpid" || rc=$?
assert_eq "SIGKILLed task: ctr run exits 137" 137 "$rc"
retry_until 5 grep -q "\"container_id\":\"$id\".*" "$ev" || true
sleep 0.5
retry_until 5 sh -c "grep -q '/tasks/delete.*\"$id\"' '$ev'" || true
events_stop
topics=$(events_topics "$ev" "$id" | tr '\n' ' ')
assert_eq "events in order: create start exit delete" \
  "/tasks/create /tasks/start /tasks/exit /tasks/delete " "$topics"
assert_contains "/tasks/exit carries exit_status 137" "$(events_json "$ev" "$id" /tasks/exit)" '"exit_status":137'
exit_at=$(events_json "$ev" "$id" /tasks/exit | sed -n 's/.*"exited_at":"\([^"]*\)".*/\1/p')
del_at=$(events_json "$ev" "$id" /tasks/delete | sed -n 's/.*"exited_at":"\([^"]*\)".*/\1/p')
assert_ne "/tasks/exit has exited_at" "" "$exit_at"
if [[ -n $exit_at && $exit_at == "$del_at" ]]; then
  ok "/tasks/delete has the same exited_at as /tasks/exit"
else
  not_ok "/tasks/delete has the same exited_at as /tasks/exit" "exit: '$exit_at' delete: '$del_at'"
fi
create_pid=$(events_json "$ev" "$id" /tasks/create | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
assert_match "/tasks/create carries a pid" "$create_pid" '^[1-9][0-9]*$'

# Detached run, then an explicit task rm after exit.
id=$(uniq_name basic)
on_exit ctr_cleanup "$id"
check "detached run of a task that exits" c run -d "${RT[@]}" "$BB" "$id" sh -c 'exit 5' </dev/null
if wait_task_status "$id" STOPPED 10; then
  ok "detached task that exits becomes STOPPED"
else
  not_ok "detached task that exits becomes STOPPED" "status: '$(task_status "$id")'"
fi
check "task rm of a stopped task" c task rm "$id"
assert_eq "no task after task rm" "" "$(task_status "$id")"
check "container rm after task rm" c containers rm "$id"
