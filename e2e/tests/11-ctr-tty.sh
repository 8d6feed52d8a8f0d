#!/usr/bin/env bash
# Terminals: ctr run -t / ctr task exec -t get a pty that follows resizes.
set -euo pipefail
# shellcheck source=../lib/test.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test.sh"
RT=(--runtime "$RUNTIME")
CTR=("$CTR_BIN" -a "$SOCK" -n "${NS:-e2e}")

# ctr starts the task and only then sends the first Resize, so the pty is
# 0x0 for a moment (busybox `stty size` then prints an error, with status 0):
# wait until it has a size.
WAIT_SIZE='until s=$(stty size 2>/dev/null) && [ -n "$s" ] && [ "$s" != "0 0" ]; do sleep 0.05; done'

id=$(uniq_name tty)
on_exit ctr_cleanup "$id"
rc=0
out=$("${PTYRUN[@]}" --timeout 30 --size 40x100 -- "${CTR[@]}" run -t --rm "${RT[@]}" "$BB" "$id" \
  sh -c "$WAIT_SIZE; tty; stty size; exit 7") || rc=$?
assert_match "run -t: tty is /dev/pts/N" "$out" $'(^|\n)/dev/pts/[0-9]+(\n|$)'
assert_line "run -t: stty size is the outer terminal's (40 100)" "$out" "40 100"
assert_eq "run -t: exit code propagates" 7 "$rc"

# Resize while running: the outer pty changes size, ctr gets SIGWINCH and
# sends ResizePty.
id=$(uniq_name tty)
on_exit ctr_cleanup "$id"
rc=0
out=$("${PTYRUN[@]}" --timeout 30 --size 40x100 expect:'40 100' resize:50x132 sleep:1 send:'\n' -- \
  "${CTR[@]}" run -t --rm "${RT[@]}" "$BB" "$id" \
  sh -c "$WAIT_SIZE; stty size; read -r x; stty size") || rc=$?
assert_eq "run -t resize: exit status" 0 "$rc"
assert_line "run -t resize: size after SIGWINCH is 50 132" "$out" "50 132"

# Input typed on the terminal reaches the container, echoed by the pty.
id=$(uniq_name tty)
on_exit ctr_cleanup "$id"
rc=0
out=$("${PTYRUN[@]}" --timeout 30 expect:'READY' send:'hello-tty\r' -- \
  "${CTR[@]}" run -t --rm "${RT[@]}" "$BB" "$id" \
  sh -c 'echo READY; read -r x; echo "got:$x"') || rc=$?
assert_eq "run -t input: exit status" 0 "$rc"
assert_contains "run -t input: line read by the container" "$out" "got:hello-tty"

# exec -t into a running container.
id=$(uniq_name tty)
on_exit ctr_cleanup "$id"
check "start a detached container for exec -t" c run -d "${RT[@]}" "$BB" "$id" sleep 1000 </dev/null
rc=0
out=$("${PTYRUN[@]}" --timeout 30 --size 30x90 expect:'30 90' resize:33x77 sleep:1 send:'\n' -- \
  "${CTR[@]}" task exec -t --exec-id ex1 "$id" \
  sh -c "$WAIT_SIZE; tty; stty size; read -r x; stty size; exit 6") || rc=$?
assert_match "exec -t: tty is /dev/pts/N" "$out" $'(^|\n)/dev/pts/[0-9]+(\n|$)'
assert_line "exec -t: initial size 30 90" "$out" "30 90"
assert_line "exec -t: size after resize 33 77" "$out" "33 77"
assert_eq "exec -t: exit code propagates" 6 "$rc"

# The init process of a -d container without -t has no tty.
out=$(c task exec --exec-id ex2 "$id" sh -c 'tty || true' </dev/null 2>&1) || true
assert_eq "exec without -t: no tty" "not a tty" "$out"
