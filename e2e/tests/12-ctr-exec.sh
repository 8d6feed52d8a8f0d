#!/usr/bin/env bash
# ctr task exec: output, stdin, exit codes, user/cwd, exec ids, detached execs.
set -euo pipefail
# shellcheck source=../lib/test.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test.sh"
RT=(--runtime "$RUNTIME")

id=$(uniq_name exec)
on_exit ctr_cleanup "$id"
check "start a detached container" c run -d "${RT[@]}" "$BB" "$id" sh -c 'echo state > /tmp/marker; exec sleep 1000' </dev/null
wait_task_status "$id" RUNNING 10 || true

out=$(c task exec --exec-id e1 "$id" cat /tmp/marker </dev/null 2>&1) || true
assert_eq "exec sees the container's filesystem" state "$out"

for code in 0 5 77; do
  rc=0
  c task exec --exec-id "code$code" "$id" sh -c "exit $code" </dev/null >/dev/null 2>&1 || rc=$?
  assert_eq "exec exit code $code propagates" "$code" "$rc"
done

rc=0
out=$(c task exec --exec-id e2 "$id" sh -c 'echo out; echo err >&2; exit 2' </dev/null 2>/dev/null) || rc=$?
assert_eq "exec stdout only on stdout" out "$out"
assert_eq "exec stdout/stderr: exit code" 2 "$rc"
err=$(c task exec --exec-id e3 "$id" sh -c 'echo out; echo err >&2' </dev/null 2>&1 >/dev/null) || true
assert_eq "exec stderr only on stderr" err "$err"

out=$(printf 'abc\n' | c task exec --exec-id e4 "$id" sh -c 'read -r x; echo "in:$x"' 2>&1) || true
assert_eq "exec stdin reaches the process" "in:abc" "$out"

out=$(c task exec --exec-id e5 --user 1000 --cwd /tmp "$id" sh -c 'echo "$(id -u):$(pwd)"' </dev/null 2>&1) || true
assert_eq "exec --user 1000 --cwd /tmp" "1000:/tmp" "$out"

# A large output is delivered completely.
out=$(c task exec --exec-id e6 "$id" sh -c 'head -c 1048576 /dev/zero | tr "\0" x' </dev/null 2>/dev/null | wc -c) || true
assert_eq "exec: 1 MiB of output arrives intact" 1048576 "$out"

check_fails "exec of a missing binary fails" c task exec --exec-id e7 "$id" /does/not/exist

# Detached exec, duplicate exec id, ps, killing one exec.
c task exec -d --exec-id bg "$id" sleep 1000 </dev/null >/dev/null 2>&1 || true
check_fails "exec with a running exec's id is refused" c task exec --exec-id bg "$id" true
npids=$(task_pids "$id" | wc -l)
if ((npids >= 2)); then
  ok "task ps lists init and the detached exec ($npids pids)"
else
  not_ok "task ps lists init and the detached exec" "$(c task ps "$id" 2>&1)"
fi
check "kill --exec-id of a detached exec" c task kill --exec-id bg -s SIGKILL "$id"
gone() { (($(task_pids "$id" | wc -l) < npids)); }
if retry_until 10 gone; then
  ok "killed exec disappears from task ps"
else
  not_ok "killed exec disappears from task ps" "$(c task ps "$id" 2>&1)"
fi
assert_eq "container still RUNNING after its exec died" RUNNING "$(task_status "$id")"
out=$(c task exec --exec-id e1 "$id" echo reused </dev/null 2>&1) || true
assert_eq "exec id of a finished (deleted) exec can be reused" reused "$out"
