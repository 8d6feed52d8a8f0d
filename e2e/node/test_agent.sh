#!/usr/bin/env bash
# `skiff agent`: /healthz and /metrics over HTTP (format checked line by line), counters moving
# after a real realization from a file:// binary cache, prefetch from a list file (pinned as GC
# roots), GC under a size budget removing only unreferenced paths, and the HTTP server's limits.
# No containerd, no network. usage: e2e/node/test_agent.sh   env: SKIFF, KEEP_TMP=1
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/common.sh
source "$here/../lib/common.sh"
SKIFF=${SKIFF:-$E2E_REPO/build-k8s/bin/skiff}
[[ -x $SKIFF ]] || die "no skiff binary at $SKIFF"
tmp=$(mktemp -d /tmp/ska.XXXXXX)
export E2E_RESULTS=${E2E_RESULTS:-$tmp/results}
: >"$E2E_RESULTS"
agent_pid=
cleanup() {
  [[ -n $agent_pid ]] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
  [[ ${KEEP_TMP:-0} == 1 ]] && diag "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

# A file:// cache with three store paths (a, b, big), signed.
"$SKIFF" cache keygen test-1 --secret-file "$tmp/sk" --public-file "$tmp/pk" || die "keygen"
for n in a b; do mkdir -p "$tmp/src/$n" && echo "content $n" >"$tmp/src/$n/file"; done
mkdir -p "$tmp/src/big" && head -c 300000 /dev/urandom >"$tmp/src/big/blob"
mapfile -t paths < <("$SKIFF" cache add "$tmp/src/a" "$tmp/src/b" "$tmp/src/big" \
  --to "file://$tmp/cache" --key "$tmp/sk") || die "cache add"
((${#paths[@]} == 3)) || die "cache add printed ${#paths[@]} paths"
cat >"$tmp/config.json" <<EOF
{"store_root": "$tmp/store", "substituters": ["file://$tmp/cache"],
 "trusted_public_keys": ["$(cat "$tmp/pk")"]}
EOF
printf '# prefetched and pinned\n%s\n\n' "${paths[0]}" >"$tmp/prefetch"

"$SKIFF" agent --config "$tmp/config.json" --listen 127.0.0.1:0 --gc-interval 0 \
  --scan-interval 1s --prefetch-file "$tmp/prefetch" 2>"$tmp/agent.log" &
agent_pid=$!
retry_until 10 grep -q 'msg="agent started"' "$tmp/agent.log" || die "agent did not start: $(cat "$tmp/agent.log")"
port=$(sed -n 's/.*msg="agent started".* port=\([0-9]*\).*/\1/p' "$tmp/agent.log")
url=http://127.0.0.1:$port
ok "agent listens on 127.0.0.1:$port"

assert_eq "/healthz answers ok" "ok" "$(curl -sf "$url/healthz")"
assert_eq "unknown paths are 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$url/nope")"
assert_eq "POST is 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/metrics")"
assert_eq "HEAD works" 200 "$(curl -s -o /dev/null -w '%{http_code}' -I "$url/metrics")"
big=$(head -c 9000 /dev/zero | tr '\0' a)
assert_eq "oversized request heads are refused (431)" 431 \
  "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$url/metrics")"
# A client that never finishes its request must not block others.
exec 9<>/dev/tcp/127.0.0.1/"$port"
printf 'GET /metrics HTTP/1.1\r\n' >&9
assert_eq "a stalled client does not block the server" "ok" "$(curl -sf -m 3 "$url/healthz")"
exec 9>&-

metric() { # metric NAME{LABELS}: the value of one sample
  curl -sf "$url/metrics" | awk -v k="$1" '$1 == k {print $2}'
}
check_format() {
  "$PY" - "$1" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (-?[0-9.]+(e[+-]?[0-9]+)?|\+Inf|NaN)$')
typed = {}
for line in text.splitlines():
    if line.startswith("# TYPE "):
        _, _, name, kind = line.split(" ", 3)
        assert kind in ("counter", "gauge", "histogram"), line
        assert name not in typed, "duplicate TYPE " + name
        typed[name] = kind
        continue
    if line.startswith("# HELP "):
        continue
    m = sample.match(line)
    assert m, "bad sample line: " + repr(line)
    base = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
    assert m.group(1) in typed or base in typed, "sample without TYPE: " + line
    if typed.get(m.group(1)) == "counter":
        assert m.group(1).endswith("_total"), "counter without _total: " + line
buckets = [float(l.split()[-1]) for l in text.splitlines() if l.startswith("skiff_realization_duration_seconds_bucket")]
assert buckets == sorted(buckets), "buckets not cumulative"
assert text.endswith("\n")
EOF
}
PY=/usr/bin/python3
curl -sf "$url/metrics" >"$tmp/m0"
check "metrics are valid Prometheus text (format 0.0.4)" check_format "$tmp/m0"
for m in skiff_realizations_total skiff_fetched_bytes_total skiff_cache_hits_total \
  skiff_realization_duration_seconds skiff_store_size_bytes skiff_gc_runs_total skiff_errors_total; do
  assert_contains "metrics: $m present" "$(cat "$tmp/m0")" "# TYPE $m "
done

# The prefetch list is realized by a worker and pinned as a GC root.
retry_until 15 test -n "$(ls "$tmp/store/roots/prefetch" 2>/dev/null)" || true
assert_contains "prefetch: root created" "$(cat "$tmp"/store/roots/prefetch/* 2>/dev/null)" "${paths[0]}"
retry_until 10 grep -q 'msg=prefetched' "$tmp/agent.log"
assert_eq "prefetch: counted" 1 "$(metric 'skiff_prefetch_total{result="success"}')"
s0=$(metric 'skiff_realizations_total{result="success"}')
f0=$(metric skiff_fetched_bytes_total)
assert_eq "realization by the prefetch counted" 1 "$s0"

# A realization from outside the agent (what a shim does) moves the node-wide counters.
"$SKIFF" realize --config "$tmp/config.json" "${paths[1]}" "${paths[2]}" >/dev/null || die "realize"
"$SKIFF" realize --config "$tmp/config.json" "${paths[1]}" >/dev/null || die "realize again"
assert_eq "realizations_total moved" 3 "$(metric 'skiff_realizations_total{result="success"}')"
f1=$(metric skiff_fetched_bytes_total)
((f1 > f0 + 100000)) && ok "fetched bytes moved ($f0 -> $f1)" || not_ok "fetched bytes moved" "$f0 -> $f1"
assert_eq "cache hit counted" 1 "$(metric skiff_cache_hits_total)"
assert_eq "paths fetched" 3 "$(metric skiff_paths_fetched_total)"
assert_eq "histogram count" 3 "$(metric skiff_realization_duration_seconds_count)"
"$SKIFF" realize --config "$tmp/config.json" /nix/store/00000000000000000000000000000000-missing >/dev/null 2>&1
assert_eq "a failed realization is counted" 1 "$(metric 'skiff_realizations_total{result="failure"}')"
assert_eq "... with its reason" 1 "$(metric 'skiff_errors_total{source="realize",reason="not_found"}')"

# Store size and GC under a budget: restart the agent with a budget below the store size.
for _ in $(seq 50); do # the scan runs every second
  size=$(metric skiff_store_size_bytes)
  ((${size:-0} > 300000)) && break
  sleep 0.1
done
((size > 300000)) && ok "store size measured ($size bytes)" || not_ok "store size measured" "$size"
kill "$agent_pid" && wait "$agent_pid"
agent_pid=
"$SKIFF" agent --config "$tmp/config.json" --listen 127.0.0.1:0 --gc-interval 0 \
  --scan-interval 1s --max-size 1K 2>"$tmp/agent2.log" &
agent_pid=$!
retry_until 10 grep -q 'msg="gc finished"' "$tmp/agent2.log"
check "over budget: gc ran" grep -q 'msg="store over its size budget' "$tmp/agent2.log"
ls "$tmp/store/store" >"$tmp/left"
assert_contains "gc kept the rooted (prefetched) path" "$(cat "$tmp/left")" "$(basename "${paths[0]}")"
assert_not_contains "gc removed an unreferenced path" "$(cat "$tmp/left")" "$(basename "${paths[2]}")"
port=$(sed -n 's/.*msg="agent started".* port=\([0-9]*\).*/\1/p' "$tmp/agent2.log")
url=http://127.0.0.1:$port
assert_eq "gc run counted" 1 "$(metric 'skiff_gc_runs_total{result="success"}')"
# GC stops once the store fits, so how many of the two unrooted paths go depends on their order
# (oldest first); the counter must match what is gone from the store.
gone=0
for p in "${paths[1]}" "${paths[2]}"; do [[ -e $tmp/store/store/$(basename "$p") ]] || gone=$((gone + 1)); done
d=$(metric skiff_gc_deleted_paths_total)
((gone >= 1 && d == gone)) && ok "gc deletions counted ($d)" || not_ok "gc deletions counted" "counter $d, gone $gone"
check "logs are logfmt" "$PY" -c '
import re, sys
for l in open(sys.argv[1]):
    assert re.match(r"^time=\S+ level=(info|warning|error) msg=(\"([^\"\\]|\\.)*\"|\S+)( [a-z_]+=(\"([^\"\\]|\\.)*\"|\S*))*$", l), l
' "$tmp/agent2.log"
kill -TERM "$agent_pid"
wait "$agent_pid"
assert_eq "agent exits 0 on SIGTERM" 0 "$?"
agent_pid=
echo "1..$(wc -l <"$E2E_RESULTS")"
((E2E_FAILURES == 0))
