#!/usr/bin/env bash
# Benchmark: `ctr run --rm busybox /bin/true` wall time and shim memory, for
#   skiff          (if $SKIFF_SHIM is built)
#   runc           io.containerd.runc.v2 with runc
#   crun           io.containerd.runc.v2 with --runc-binary /usr/bin/crun
# Runs are interleaved round-robin (rotating the order every round); medians
# are printed as a markdown table on stdout. Progress goes to stderr.
#
# env: N (default 20) timed runs per runtime; MEM_N (default 10) memory
#      samples per runtime; RUNTIMES (default "skiff runc crun").
set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export E2E_DIR
# shellcheck source=../lib/common.sh
source "$E2E_DIR/lib/common.sh"
# shellcheck source=../lib/containerd.sh
source "$E2E_DIR/lib/containerd.sh"
# shellcheck source=../lib/images.sh
source "$E2E_DIR/lib/images.sh"

N=${N:-20}
MEM_N=${MEM_N:-10}
RUNTIMES=${RUNTIMES:-"skiff runc crun"}
export NS=bench

tmp_init
install_traps
on_exit ctrd_teardown
_ctrd_paths

# runtime_args NAME: ctr run flags selecting the runtime.
runtime_args() {
  case $1 in
    skiff) echo "--runtime $SKIFF_SHIM" ;;
    runc) echo "--runtime io.containerd.runc.v2 --runc-binary /usr/sbin/runc" ;;
    crun) echo "--runtime io.containerd.runc.v2 --runc-binary /usr/bin/crun" ;;
    *) die "unknown runtime $1" ;;
  esac
}

# shellcheck source=../lib/hugetlb.sh
source "$E2E_DIR/lib/hugetlb.sh"

# shim_of PID: the nearest ancestor of PID that is a shim of our containerd.
shim_of() {
  local p=$1 cmd
  while [[ -n $p && $p != 0 && $p != 1 ]]; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || return 1
    if [[ $cmd == *"-address $SOCK "* ]]; then
      echo "$p"
      return 0
    fi
    p=$(ppid_of "$p")
  done
  return 1
}

seq_id=0
# time_run NAME: one timed `ctr run --rm`; prints milliseconds.
time_run() {
  local args t0 t1 id
  read -r -a args <<<"$(runtime_args "$1")"
  seq_id=$((seq_id + 1))
  id="bench-$1-$seq_id"
  t0=$(date +%s%N)
  c run --rm "${args[@]}" "$BUSYBOX_IMAGE" "$id" /bin/true </dev/null >/dev/null 2>&1 ||
    {
      ctr_cleanup "$id"
      return 1
    }
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) / 1e6 }'
}

# mem_sample NAME: start a sleeping container; print "RSS_kB PSS_kB" of its shim.
mem_sample() {
  local args id pid shim rss pss
  read -r -a args <<<"$(runtime_args "$1")"
  seq_id=$((seq_id + 1))
  id="bench-mem-$1-$seq_id"
  c run -d "${args[@]}" "$BUSYBOX_IMAGE" "$id" sleep 1000 </dev/null >/dev/null 2>&1 || return 1
  pid=$(task_pid "$id")
  shim=$(shim_of "$pid") || {
    ctr_cleanup "$id"
    return 1
  }
  sleep 0.5
  rss=$(awk '$1 == "Rss:" { print $2 }' "/proc/$shim/smaps_rollup")
  pss=$(awk '$1 == "Pss:" { print $2 }' "/proc/$shim/smaps_rollup")
  ctr_cleanup "$id"
  echo "$rss $pss"
}

images_build
ctrd_start
images_import "$NS"

active=()
for r in $RUNTIMES; do
  if [[ $r == skiff && ! -x $SKIFF_SHIM ]]; then
    diag "skiff: $SKIFF_SHIM not built; skipped"
    continue
  fi
  [[ $r == crun ]] && hugetlb_mount
  # Smoke run (also a warm-up).
  if time_run "$r" >/dev/null && time_run "$r" >/dev/null; then
    active+=("$r")
  else
    diag "$r: ctr run failed; skipped (see $CTRD_LOG)"
  fi
done
((${#active[@]})) || die "no runtime works"

declare -A T M_RSS M_PSS FAILS
for r in "${active[@]}"; do
  T[$r]=""
  M_RSS[$r]=""
  M_PSS[$r]=""
  FAILS[$r]=0
done

diag "timing ${active[*]}: n=$N interleaved"
k=${#active[@]}
for ((i = 0; i < N; i++)); do
  for ((j = 0; j < k; j++)); do
    r=${active[(i + j) % k]}
    if ms=$(time_run "$r"); then
      T[$r]+="$ms "
    else
      FAILS[$r]=$((FAILS[$r] + 1))
    fi
  done
done

diag "shim memory: n=$MEM_N interleaved"
for ((i = 0; i < MEM_N; i++)); do
  for ((j = 0; j < k; j++)); do
    r=${active[(i + j) % k]}
    if m=$(mem_sample "$r"); then
      M_RSS[$r]+="${m% *} "
      M_PSS[$r]+="${m#* } "
    else
      FAILS[$r]=$((FAILS[$r] + 1))
    fi
  done
done

# stats "WORDS": "median min max n" of whitespace-separated numbers.
stats() {
  local -a v
  read -r -a v <<<"$1"
  if ((${#v[@]} == 0)); then
    echo "n/a n/a n/a 0"
    return 0
  fi
  printf '%s\n' "${v[@]}" | sort -g | awk -v m="$(median "${v[@]}")" \
    'NR == 1 { min = $1 } { max = $1; n++ } END { printf "%s %s %s %d\n", m, min, max, n }'
}
kb_to_mb() {
  awk -v k="$1" 'BEGIN { if (k == "n/a") print "n/a"; else printf "%.1f\n", k / 1024 }'
}

echo
echo "### ctr run --rm busybox /bin/true and shim memory ($(uname -r), containerd $(containerd --version | awk '{ print $3 }'), $(date -u +%Y-%m-%d))"
echo
echo "| runtime | ctr run median (ms) | min | max | n | shim RSS median (MB) | shim PSS median (MB) | failures |"
echo "|---|---|---|---|---|---|---|---|"
for r in "${active[@]}"; do
  read -r med min max n <<<"$(stats "${T[$r]}")"
  read -r rss _ <<<"$(stats "${M_RSS[$r]}")"
  read -r pss _ <<<"$(stats "${M_PSS[$r]}")"
  rss=$(kb_to_mb "$rss")
  pss=$(kb_to_mb "$pss")
  echo "| $r | $med | $min | $max | $n | $rss | $pss | ${FAILS[$r]} |"
done
