#!/usr/bin/env bash
# One run of skiff's checks on the device machine (the H100 test machine: Ubuntu 24.04, pure
# cgroup v2, root, no network, no containerd), from the payload that e2e/device/prepare.sh wrote
# into .dev/ here. Run from the repository root THERE, with .dev carried:
#
#   bash e2e/device/run.sh
#
# Phases (each under its own time limit, all together well inside 9 minutes):
#   1. facts: kernel, cgroup mode, nvidia-smi -L, python, overlay/bridge support
#   2. the criterion tests of the payload (cgroups, container, mounts, task service, gpu)
#   3. the e2e suite (e2e/run.sh) against containerd 1.6.20 and CNI plugins from the payload
#   4. e2e/gpu/h100.sh with the payload's GPU bundle, when both exist
# Writes summary.txt, system.txt, unit.log, e2e.log, e2e-tmp.tar.gz, gpu.log, gpu-out.tar.gz into
# $OUT (the device tool brings back at most 8 files) or into a temporary directory. Exit status 0
# only when every phase passed.
#
# Environment: OUT, SKIFF_DEV_DIR (where the payload is unpacked, default /tmp/skiff-dev),
# PYTHON (an interpreter with grpcio and protobuf; default: the first that works of python3,
# /usr/bin/python3, /opt/torch/.venv/bin/python3), BUDGET (seconds for the whole run, 500),
# UNIT_TIMEOUT (per test binary, 60), UNIT_BUDGET (all of them, 120), E2E_TIMEOUT (240),
# GPU_TIMEOUT (110), E2E_PATTERNS (arguments for e2e/run.sh), SKIP_UNIT=1, SKIP_E2E=1,
# SKIP_GPU=1, E2E_TMPFS=0 (do not put the e2e work directory on a tmpfs).
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
source e2e/device/lib.sh
START=$SECONDS
LOGDIR=${OUT:-}
[[ -n $LOGDIR ]] || LOGDIR=$(mktemp -d /tmp/skiff-device-out.XXXXXX)
mkdir -p "$LOGDIR"
DEV=${SKIFF_DEV_DIR:-/tmp/skiff-dev}
SUMMARY=$LOGDIR/summary.txt
: >"$SUMMARY"
overall=0

BUDGET=${BUDGET:-500}
# limit WANT: WANT seconds, or what is left of BUDGET (less 15 s for the cleanup), at least 5.
limit() {
  local want=$1 rem=$((BUDGET - (SECONDS - START) - 15))
  ((rem < want)) && want=$rem
  ((want < 5)) && want=5
  echo "$want"
}
say() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }
phase() { printf '\n==== %s (t=%ds) ====\n' "$*" $((SECONDS - START)); }
fail() {
  overall=1
  say "FAIL: $*"
}

# ---------------------------------------------------------------------------------------------
phase "facts"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "uname: $(uname -a)"
  grep -E '^(PRETTY_NAME)=' /etc/os-release 2>/dev/null
  echo "cpus: $(nproc)  mem: $(awk '/MemTotal/ { print $2 " kB" }' /proc/meminfo)"
  echo "repo: $ROOT"
  fstype=$(stat -fc %T /sys/fs/cgroup 2>/dev/null)
  if [[ $fstype == cgroup2fs ]]; then
    echo "cgroup mode: v2 (unified; /sys/fs/cgroup is cgroup2fs)"
  elif [[ -d /sys/fs/cgroup/unified ]]; then
    echo "cgroup mode: v1 hybrid (/sys/fs/cgroup is $fstype, cgroup2 at /sys/fs/cgroup/unified)"
  else
    echo "cgroup mode: v1 legacy (/sys/fs/cgroup is $fstype)"
  fi
  echo "cgroup.controllers: $(cat /sys/fs/cgroup/cgroup.controllers 2>&1)"
  echo "cgroup.subtree_control: $(cat /sys/fs/cgroup/cgroup.subtree_control 2>&1)"
  echo "/proc/self/cgroup: $(tr '\n' ' ' </proc/self/cgroup)"
  echo "filesystems: $(grep -Eo 'overlay|tmpfs|cgroup2?$' /proc/filesystems | sort -u | tr '\n' ' ')"
  echo "/tmp is $(stat -fc %T /tmp)"
  if ip link add skiffprobe0 type bridge 2>/dev/null; then
    echo "bridge links: yes"
    ip link del skiffprobe0 2>/dev/null
  else
    echo "bridge links: NO (CNI bridge will fail)"
  fi
  if ip link add skiffprobe1 type veth peer name skiffprobe2 2>/dev/null; then
    echo "veth links: yes"
    ip link del skiffprobe1 2>/dev/null
  else
    echo "veth links: NO"
  fi
  echo "apparmor: $(cat /sys/module/apparmor/parameters/enabled 2>/dev/null || echo absent)"
  echo "ip: $(command -v ip || echo none)  runuser: $(command -v runuser || echo none)"
  echo "xz: $(command -v xz || echo none)  busybox: $(command -v busybox || echo none)"
  echo "python3: $(command -v python3) $(python3 --version 2>&1)"
  echo "/usr/bin/python3: $(/usr/bin/python3 --version 2>&1)"
  smi=$(command -v nvidia-smi || echo /usr/local/nvidia/bin/nvidia-smi)
  echo "nvidia-smi -L ($smi):"
  "$smi" -L 2>&1 | sed 's/^/  /'
  head -n1 /proc/driver/nvidia/version 2>/dev/null
} 2>&1 | tee "$LOGDIR/system.txt"
grep -E '^(uname|cgroup mode|nvidia-smi|  GPU)' "$LOGDIR/system.txt" >>"$SUMMARY"

# ---------------------------------------------------------------------------------------------
phase "unpack .dev/payload.tar.xz into $DEV"
if [[ ! -f .dev/payload.tar.xz ]]; then
  fail "no .dev/payload.tar.xz (run e2e/device/prepare.sh and carry .dev)"
  exit 1
fi
dev_unpack .dev/payload.tar.xz "$DEV" || {
  fail "could not unpack the payload"
  exit 1
}
cat "$DEV/VERSIONS" 2>/dev/null
export PATH=$DEV/bin:$PATH
for b in containerd ctr containerd-shim-skiff-v2 skiff busybox; do
  [[ -x $DEV/bin/$b ]] || fail "payload lacks bin/$b"
done
"$DEV/bin/containerd" --version || fail "containerd from the payload does not run"
# The criterion tests read /bin/busybox and fixtures under the source dir compiled into them.
if [[ ! -x /bin/busybox ]]; then
  install -m 0755 "$DEV/bin/busybox" /bin/busybox && echo "installed /bin/busybox from the payload"
fi
src=$(sed -n 's/^SKIFF_SOURCE_DIR=//p' "$DEV/SOURCE_DIR" 2>/dev/null)
if [[ -n $src && $src != "$ROOT" && ! -e $src ]]; then
  mkdir -p "$(dirname "$src")" && ln -s "$ROOT" "$src" && echo "linked $src -> $ROOT (fixtures)"
fi

# Python for the CRI scenarios: grpcio + protobuf + the pre-generated modules must import.
export SKIFF_CRI_PY=$DEV/py
py_rc=0
dev_python "$DEV" "$ROOT" || py_rc=$?
PY=$DEV_PY
[[ -n $DEV_PY_NOTE ]] && say "$DEV_PY_NOTE"
if ((py_rc != 0)); then
  SKIFF_CRI_PY=$DEV/py PYTHONPATH=$ROOT/e2e/cri "$PY" -c 'import cri' 2>&1 | tail -n 3
fi
say "python for e2e: $PY ($("$PY" -c 'import grpc, google.protobuf as p; print("grpcio", grpc.__version__, "protobuf", p.__version__)' 2>&1 | tail -n1))"

# ---------------------------------------------------------------------------------------------
if [[ ${SKIP_UNIT:-0} != 1 ]]; then
  phase "criterion tests"
  : >"$LOGDIR/unit.log"
  unit_end=$((SECONDS + ${UNIT_BUDGET:-120}))
  for t in "$DEV"/test/test_*; do
    [[ -x $t ]] || continue
    name=$(basename "$t")
    tl=$(limit "${UNIT_TIMEOUT:-60}")
    ((unit_end - SECONDS < tl)) && tl=$((unit_end - SECONDS))
    if ((tl < 5)); then
      fail "unit        $name: not run (UNIT_BUDGET spent)"
      continue
    fi
    echo "---- $name" >>"$LOGDIR/unit.log"
    rc=0
    (cd "$DEV" && LD_LIBRARY_PATH=$DEV/lib timeout -k 5 "$tl" "$t" --jobs 1 --verbose) \
      >"$LOGDIR/.unit-$name.log" 2>&1 || rc=$?
    cat "$LOGDIR/.unit-$name.log" >>"$LOGDIR/unit.log"
    synth=$(grep -a 'Synthesis:' "$LOGDIR/.unit-$name.log" | tail -n1 | sed 's/.*Synthesis: //')
    nskip=$(grep -ac '\[SKIP\]' "$LOGDIR/.unit-$name.log")
    if ((rc == 0)); then
      say "unit ok     $name: $synth, skipped $nskip"
    else
      fail "unit        $name: rc $rc: ${synth:-no synthesis (crash or timeout)}, skipped $nskip"
      grep -aE '\[(FAIL|----)\]|\[SKIP\]' "$LOGDIR/.unit-$name.log" | head -n 20 | sed 's/^/    /' |
        tee -a "$SUMMARY"
    fi
    grep -a '\[SKIP\]' "$LOGDIR/.unit-$name.log" | head -n 8 | sed 's/^/    /' >>"$SUMMARY"
    rm -f "$LOGDIR/.unit-$name.log"
  done
fi

# ---------------------------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/skiff-device-work.XXXXXX)
if [[ ${E2E_TMPFS:-1} == 1 ]] && mount -t tmpfs -o size=16g,mode=1777 skiff-e2e "$WORK" 2>/dev/null; then
  echo "e2e work directory: tmpfs at $WORK"
else
  echo "e2e work directory: $WORK ($(stat -fc %T "$WORK"))"
fi
mkdir -p /run/containerd/s 2>/dev/null

if [[ ${SKIP_E2E:-0} != 1 ]]; then
  phase "e2e suite (containerd $("$DEV/bin/containerd" --version 2>/dev/null | awk '{ print $3 }'))"
  rc=0
  # shellcheck disable=SC2086 # E2E_PATTERNS is a word list
  TMPDIR=$WORK E2E_KEEP_TMP=1 \
    CTRD_BIN=$DEV/bin/containerd CTR_BIN=$DEV/bin/ctr CNI_BIN_DIR=$DEV/cni \
    SKIFF_SHIM=$DEV/bin/containerd-shim-skiff-v2 BUSYBOX_BIN=$DEV/bin/busybox \
    E2E_BUILD=$DEV E2E_IMAGES_PREBUILT=1 PYTHON=$PY SKIFF_CRI_PY=$DEV/py \
    timeout -k 30 "$(limit "${E2E_TIMEOUT:-240}")" bash e2e/run.sh ${E2E_PATTERNS:-} >"$LOGDIR/e2e.log" 2>&1 || rc=$?
  res=$(find "$WORK" -maxdepth 2 -name results -path '*skiff-e2e.*' | head -n1)
  if [[ -n $res ]]; then
    npass=$(grep -c '^ok' "$res")
    nfail=$(grep -c '^not ok' "$res")
    nskip=$(grep -c '^skip' "$res")
  else
    npass=0 nfail=0 nskip=0
  fi
  if ((rc == 0)); then
    say "e2e ok      $npass passed, $nfail failed, $nskip skipped"
  else
    fail "e2e         rc $rc$( ((rc == 124)) && echo ' (timed out)'): $npass passed, $nfail failed, $nskip skipped"
  fi
  [[ -n $res ]] && grep '^not ok' "$res" | cut -f2 | sed 's/^/    not ok: /' | tee -a "$SUMMARY"
  grep -E '^(# runtime|# containerd|Bail out)' "$LOGDIR/e2e.log" | sed 's/^/    /' >>"$SUMMARY"
  # Logs of the run (containerd.log, events, results, configs), not roots, stores or images.
  tmpd=$(dirname "${res:-/nonexistent/x}")
  if [[ -d $tmpd ]]; then
    (cd "$tmpd" && find . \( -path ./ctrd/root -o -path ./ctrd/state -o -name 'rootfs*' \
      -o -name store -o -name nar \) -prune -o -type f -size -4M \( -name '*.log' -o -name results \
      -o -name 'events-*' -o -name '*.toml' -o -name '*.json' -o -name '*.conflist' \) -print0 |
      tar -czf "$LOGDIR/e2e-tmp.tar.gz" --null -T - 2>/dev/null)
  fi
fi

# ---------------------------------------------------------------------------------------------
if [[ ${SKIP_GPU:-0} != 1 && -f e2e/gpu/h100.sh ]]; then
  phase "GPU checks (e2e/gpu/h100.sh)"
  if [[ -d $DEV/gpu-bundle ]]; then
    gout=$(mktemp -d /tmp/skiff-gpu-out.XXXXXX)
    rc=0
    OUT=$gout SKIFF_GPU_BUNDLE=$DEV/gpu-bundle timeout -k 10 "$(limit "${GPU_TIMEOUT:-110}")" \
      bash e2e/gpu/h100.sh "$DEV/gpu-bundle" >"$LOGDIR/gpu.log" 2>&1 || rc=$?
    summ=$(grep -E '^[0-9]+ checks, [0-9]+ failed' "$LOGDIR/gpu.log" | tail -n1)
    if ((rc == 0)); then
      say "gpu ok      ${summ:-rc 0}"
    else
      fail "gpu         rc $rc: ${summ:-no summary}"
      grep '^not ok' "$LOGDIR/gpu.log" | sed 's/^/    /' | tee -a "$SUMMARY"
    fi
    if [[ -n $(ls -A "$gout") ]]; then tar -C "$gout" -czf "$LOGDIR/gpu-out.tar.gz" .; fi
    rm -rf "$gout"
  else
    fail "gpu         the payload has no gpu-bundle (e2e/gpu/bundle.sh missing or failed in prepare.sh)"
  fi
fi

# ---------------------------------------------------------------------------------------------
phase "cleanup"
# Whatever the e2e run left mounted below the work directory, deepest first, then the tmpfs.
awk -v d="$WORK" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
  while IFS= read -r mp; do umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null; done
rm -rf --one-file-system "$WORK"
say "elapsed: $((SECONDS - START)) s; logs in $LOGDIR"
if ((overall == 0)); then say "RESULT: PASS"; else say "RESULT: FAIL"; fi
printf '\n==== summary ====\n'
cat "$SUMMARY"
exit "$overall"
