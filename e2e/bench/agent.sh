#!/usr/bin/env bash
# Agent overhead and install time (issue 7's benchmark):
#   - `skiff agent` RSS idle (scheduled GC off, 5 samples of /proc/PID/status VmRSS over 5 s);
#   - RSS during GC of N (default 10000) tiny unreferenced store paths, realized from a file://
#     cache into a temp store: the agent started with a size budget below the store size
#     (--max-size 1, --scan-interval 1s) runs GC on its own; VmRSS sampled every 10 ms until
#     `gc finished` (the agent and its forked GC worker), then VmHWM; GC time from the log;
#   - `skiff node install` into a temp root holding Debian's containerd config (--restart none
#     --no-image --no-label: binaries, node config, drop-in, imports): first install, and a
#     second (idempotent) one, median of 5 each.
# Prints a Markdown table. usage: e2e/bench/agent.sh [N]   env: SKIFF (default build/bin/skiff)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
SKIFF=$(realpath "${SKIFF:-$repo/build/bin/skiff}")
N=${1:-10000}
tmp=$(mktemp -d /tmp/skb.XXXXXX)
agent=
trap '[[ -n $agent ]] && kill $agent 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
ms() { echo $(($(date +%s%N) / 1000000)); }
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

cd "$tmp"
"$SKIFF" cache keygen bench-1 --secret-file sk --public-file pk >/dev/null
mkdir src
for ((i = 0; i < N; i++)); do mkdir "src/p$i" && echo "$i" >"src/p$i/f"; done
t0=$(ms)
(cd src && printf '%s\0' p* | xargs -0 -n 2000 "$SKIFF" cache add --to "file://$tmp/cache" --key ../sk \
  --compression none) >paths
printf '{"store_root": "%s/store", "substituters": ["file://%s/cache"], "trusted_public_keys": ["%s"]}\n' \
  "$tmp" "$tmp" "$(cat pk)" >config.json
xargs -n 2000 "$SKIFF" realize --config config.json <paths >/dev/null
n=$(find store/store -mindepth 1 -maxdepth 1 | wc -l)
echo "# $n store paths made in $(($(ms) - t0)) ms" >&2
[[ $n -ge $N ]] || { echo "only $n store paths" >&2; exit 1; }

start_agent() { # start_agent LOG ARGS...
  local log=$1
  shift
  "$SKIFF" agent --config config.json --listen 127.0.0.1:0 "$@" 2>"$log" &
  agent=$!
  for ((i = 0; i < 100; i++)); do grep -q 'msg="agent started"' "$log" && return 0; sleep 0.1; done
  echo "agent did not start: $(cat "$log")" >&2
  exit 1
}

# Idle: GC off, a large scan interval.
start_agent idle.log --gc-interval 0 --scan-interval 1h
sleep 1
idle=()
for ((i = 0; i < 5; i++)); do idle+=("$(kb "$agent" VmRSS)"); sleep 1; done
idle_hwm=$(kb "$agent" VmHWM)
kill "$agent" && wait "$agent" 2>/dev/null || true
agent=

# GC of N unreferenced paths, started by the agent's size budget.
start_agent gc.log --gc-interval 0 --scan-interval 1s --max-size 1
# The agent runs GC in a forked worker: sample the agent and its children.
peak=0 wpeak=0 whwm=0 wseen=0
before=$(kb "$agent" VmRSS)
while ! grep -q 'msg="gc finished"' gc.log; do
  r=$(kb "$agent" VmRSS) || break
  ((r > peak)) && peak=$r
  for c in $(cat /proc/"$agent"/task/*/children 2>/dev/null); do
    r=$(kb "$c" VmRSS 2>/dev/null) || continue
    [[ -n $r ]] || continue
    wseen=$((wseen + 1))
    ((r > wpeak)) && wpeak=$r
    r=$(kb "$c" VmHWM 2>/dev/null) && [[ -n $r ]] && ((r > whwm)) && whwm=$r
  done
  sleep 0.01
done
gc_hwm=$(kb "$agent" VmHWM)
after=$(kb "$agent" VmRSS)
gcline=$(grep 'msg="gc finished"' gc.log | head -n1)
kill "$agent" && wait "$agent" 2>/dev/null || true
agent=
left=$(find store/store -mindepth 1 -maxdepth 1 | wc -l)

# Install time.
first=() again=()
for ((i = 0; i < 5; i++)); do
  r=$tmp/root$i
  mkdir -p "$r/etc/containerd"
  cp "$repo/e2e/node/fixtures/debian/config.toml" "$r/etc/containerd/config.toml"
  args=(node install --host-root "$r" --restart none --no-image --no-label
    --source-dir "$(dirname "$SKIFF")" --config-json config.json)
  t0=$(date +%s%N)
  "$SKIFF" "${args[@]}" >/dev/null
  first+=($((($(date +%s%N) - t0) / 1000000)))
  t0=$(date +%s%N)
  "$SKIFF" "${args[@]}" >/dev/null
  again+=($((($(date +%s%N) - t0) / 1000000)))
done

echo "| measure | value |"
echo "|---|---|"
echo "| agent VmRSS idle (5 samples, KiB) | ${idle[*]} (median $(median "${idle[@]}")); VmHWM $idle_hwm |"
echo "| agent VmRSS before GC (KiB) | $before |"
echo "| agent VmRSS peak sampled during GC of $n paths (10 ms, KiB) | $peak |"
echo "| GC worker (forked child) VmRSS peak sampled / last VmHWM seen (KiB; $wseen samples) | $wpeak / $whwm |"
echo "| agent VmHWM after GC (KiB) | $gc_hwm |"
echo "| agent VmRSS after GC (KiB) | $after |"
echo "| entries left in store/store after GC | $left |"
echo "| gc log line | \`${gcline//|/\\|}\` |"
echo "| \`skiff node install\` first, Debian config (ms, 5 runs) | ${first[*]} (median $(median "${first[@]}")) |"
echo "| \`skiff node install\` again, nothing to do (ms, 5 runs) | ${again[*]} (median $(median "${again[@]}")) |"
