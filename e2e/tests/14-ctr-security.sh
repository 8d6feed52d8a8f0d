#!/usr/bin/env bash
# Security and resources: seccomp, capabilities, read-only root, masked and
# read-only paths, no_new_privs, memory limit + OOM, and a full custom OCI
# spec passed with `ctr run --config`.
set -euo pipefail
# shellcheck source=../lib/test.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test.sh"
RT=(--runtime "$RUNTIME")

# run1 [CTR_RUN_FLAGS...] -- CMD...: run a one-shot container; sets OUT
# (stdout and stderr).
run1() {
  local flags=() id
  while [[ $1 != -- ]]; do
    flags+=("$1")
    shift
  done
  shift
  id=$(uniq_name sec)
  on_exit ctr_cleanup "$id"
  OUT=$(c run --rm "${RT[@]}" "${flags[@]}" "$BB" "$id" "$@" </dev/null 2>&1) || true
}

# --- seccomp: a profile that makes mkdir/mkdirat fail with EPERM.
profile=$E2E_TMP/seccomp-deny-mkdir.json
cat >"$profile" <<'JSON'
{
  "defaultAction": "SCMP_ACT_ALLOW",
  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  "syscalls": [
    { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }
  ]
}
JSON
run1 -- sh -c 'mkdir /tmp/d && echo created'
assert_eq "control: mkdir works without seccomp" created "$OUT"
run1 --seccomp --seccomp-profile "$profile" -- sh -c 'mkdir /tmp/d && echo created; grep Seccomp: /proc/self/status'
assert_contains "seccomp profile: mkdir fails with EPERM" "$OUT" "Operation not permitted"
assert_not_contains "seccomp profile: directory not created" "$OUT" created
assert_match "seccomp profile: Seccomp mode 2 (filter)" "$OUT" 'Seccomp:[[:space:]]+2'

# --- capabilities.
run1 -- sh -c 'touch /tmp/f && chown 1000:1000 /tmp/f && echo chowned'
assert_eq "control: chown works with default caps" chowned "$OUT"
run1 --cap-drop CAP_CHOWN -- sh -c 'touch /tmp/f && chown 1000:1000 /tmp/f && echo chowned'
assert_contains "cap-drop CAP_CHOWN: chown fails with EPERM" "$OUT" "Operation not permitted"
assert_not_contains "cap-drop CAP_CHOWN: not chowned" "$OUT" chowned
run1 --cap-drop CAP_CHOWN -- sh -c 'grep CapEff /proc/self/status'
eff=$(awk '{ print $2 }' <<<"$OUT")
if [[ $eff =~ ^[0-9a-f]+$ ]] && (((16#$eff & 1) == 0)); then
  ok "cap-drop CAP_CHOWN: bit 0 clear in CapEff ($eff)"
else
  not_ok "cap-drop CAP_CHOWN: bit 0 clear in CapEff" "$OUT"
fi

# --- read-only root.
run1 -- sh -c 'touch /etc/x && echo written'
assert_eq "control: root is writable" written "$OUT"
run1 --read-only -- sh -c 'touch /etc/x && echo written'
assert_contains "--read-only: write fails with EROFS" "$OUT" "Read-only file system"
assert_not_contains "--read-only: nothing written" "$OUT" written

# --- masked and read-only paths, no_new_privs (ctr defaults).
# Which masked paths exist depends on the kernel (this one has no /proc/kcore):
# test the files and directories of ctr's default list that the host has.
for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/latency_stats; do
  [[ -f $f ]] || continue
  run1 -- sh -c "[ -c $f ] && echo masked; wc -c < $f"
  assert_eq "masked $f is /dev/null (char device, empty)" $'masked\n0' "$OUT"
done
for d in /proc/acpi /proc/scsi /sys/firmware; do
  [[ -d $d ]] || continue
  run1 -- sh -c "ls -A $d | wc -l; touch $d/x 2>&1"
  assert_match "masked $d is an empty read-only directory" "$OUT" $'^0\n.*Read-only file system'
done
run1 -- sh -c 'echo x > /proc/sys/kernel/domainname'
assert_contains "read-only path /proc/sys: write fails" "$OUT" "Read-only file system"
run1 -- sh -c 'grep NoNewPrivs /proc/self/status'
assert_match "no_new_privs set by default" "$OUT" 'NoNewPrivs:[[:space:]]+1'
run1 --allow-new-privs -- sh -c 'grep NoNewPrivs /proc/self/status'
assert_match "--allow-new-privs clears no_new_privs" "$OUT" 'NoNewPrivs:[[:space:]]+0'
run1 -- sh -c 'hostname; cat /proc/1/cmdline | tr "\0" " "'
assert_contains "own pid namespace: PID 1 is the container's process" "$OUT" "sh -c hostname"

# --- memory limit and OOM.
limit=$((32 * 1024 * 1024))
id=$(uniq_name mem)
on_exit ctr_cleanup "$id"
check "start a container with --memory-limit" c run -d "${RT[@]}" --memory-limit "$limit" "$BB" "$id" sleep 1000 </dev/null
wait_task_status "$id" RUNNING 20 || true
HOG='x=$(head -c 200000000 /dev/zero | tr "\0" a); echo survived ${#x}'
memcg=$(cgroup_dir "$(task_pid "$id")" memory)
if cgroup_v2; then
  got=$(cat "$memcg/memory.max" 2>&1) || true
  assert_eq "v2: memory limit applied to the cgroup (memory.max)" "$limit" "$got"
else
  got=$(cat "$memcg/memory.limit_in_bytes" 2>&1) || true
  assert_eq "memory limit applied to the cgroup" "$limit" "$got"
fi
# An exec'd hog in the limited cgroup is OOM-killed and the kernel counts it (oom_kill in
# memory.events on v2, in memory.oom_control on v1).
rc=0
timeout -s KILL 60 "$CTR_BIN" -a "$SOCK" -n "${NS:-e2e}" task exec --exec-id hog "$id" sh -c "$HOG" \
  </dev/null >/dev/null 2>&1 || rc=$?
assert_eq "memory hog exec is OOM-killed: exit status 137" 137 "$rc"
oomf=memory.oom_control
cgroup_v2 && oomf=memory.events
assert_match "the cgroup's $oomf counts the OOM kill" "$(cat "$memcg/$oomf" 2>&1 || true)" \
  $'(^|\n)oom_kill [1-9]'
ctr_cleanup "$id"
id=$(uniq_name oom)
on_exit ctr_cleanup "$id"
rc=0
out=$(timeout -s KILL 60 "$CTR_BIN" -a "$SOCK" -n "${NS:-e2e}" run --rm "${RT[@]}" --memory-limit "$limit" \
  --env "HOG=$HOG" "$BB" "$id" sh -c 'eval "$HOG"' </dev/null 2>&1) || rc=$?
assert_eq "memory hog as PID 1 is OOM-killed: exit status 137" 137 "$rc"
assert_not_contains "memory hog as PID 1 did not survive" "$out" survived

# The hog runs as a child and PID 1 lingers, so that the cgroup still exists
# when the OOM notification is processed (runc's shim drops the event if the
# cgroup is already gone).
id=$(uniq_name oom)
on_exit ctr_cleanup "$id"
ev=$E2E_TMP/events-$id
events_start "$ev"
on_exit events_stop
rc=0
out=$(timeout -s KILL 60 "$CTR_BIN" -a "$SOCK" -n "${NS:-e2e}" run --rm "${RT[@]}" --memory-limit "$limit" \
  --env "HOG=$HOG" "$BB" "$id" sh -c 'sh -c "$HOG"; rc=$?; echo "child:$rc"; sleep 2; exit $rc' </dev/null 2>&1) || rc=$?
assert_line "memory hog child is OOM-killed (SIGKILL)" "$out" "child:137"
assert_eq "PID 1 passes the child's 137 on" 137 "$rc"
retry_until 5 sh -c "grep -q '/tasks/delete.*\"$id\"' '$ev'" || true
events_stop
topics=$(events_topics "$ev" "$id" | tr '\n' ' ')
assert_contains "/tasks/oom event published" "$topics" "/tasks/oom"
assert_match "/tasks/oom comes before /tasks/exit" "$topics" "/tasks/oom .*/tasks/exit"

# --- a complete custom spec through `ctr run --config`.
id=$(uniq_name spec)
rootfs=$E2E_TMP/rootfs-$id
cp -a "$BUSYBOX_ROOTFS" "$rootfs"
echo secret >"$rootfs/etc/secret"
spec=$E2E_TMP/spec-$id.json
"$CTR_BIN" oci spec >"$spec.default"
"${PYTHON:-/usr/bin/python3}" - "$spec.default" "$spec" "$rootfs" "$id" "${NS:-e2e}" <<'PY'
import json, sys
src, dst, rootfs, cid, ns = sys.argv[1:]
s = json.load(open(src))
s["root"] = {"path": rootfs, "readonly": True}
s["process"]["terminal"] = False
s["process"]["env"] = ["PATH=/bin", "SPEC=custom"]
s["process"]["args"] = ["sh", "-c",
    "echo env=$SPEC; mkdir /tmp/d 2>&1; touch /dev/shm/f; chown 1 /dev/shm/f 2>&1; touch /x 2>&1; "
    "cat /etc/secret; echo hostname=$(hostname); exit 9"]
for k in s["process"]["capabilities"]:
    s["process"]["capabilities"][k] = [c for c in s["process"]["capabilities"][k] if c != "CAP_CHOWN"]
s["hostname"] = "custom-spec"
s["linux"]["maskedPaths"].append("/etc/secret")
s["linux"]["cgroupsPath"] = "/%s/%s" % (ns, cid)
s["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64"],
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
s.setdefault("annotations", {})["skiff.dev/e2e"] = "custom"
# /tmp is on the read-only rootfs: seccomp must refuse mkdir before the
# file system does (EACCES, not EROFS).
json.dump(s, open(dst, "w"), indent=1)
PY
on_exit ctr_cleanup "$id"
rc=0
out=$(c run --rm "${RT[@]}" --config "$spec" "$id" </dev/null 2>&1) || rc=$?
assert_eq "--config spec: exit status 9" 9 "$rc"
assert_line "--config spec: process env" "$out" "env=custom"
assert_contains "--config spec: seccomp errnoRet 13 (EACCES) on mkdir" "$out" "Permission denied"
assert_match "--config spec: CAP_CHOWN dropped" "$out" "chown: /dev/shm/f: Operation not permitted"
assert_contains "--config spec: read-only root" "$out" "touch: /x: Read-only file system"
assert_not_contains "--config spec: masked file is empty" "$out" "secret"
assert_line "--config spec: hostname" "$out" "hostname=custom-spec"
