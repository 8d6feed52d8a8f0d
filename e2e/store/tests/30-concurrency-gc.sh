# 8 concurrent realizers download every NAR exactly once; kill -9 at 20 random moments never
# leaves the store inconsistent; GC removes exactly the unreachable paths and a realization
# running during GC completes.
source "$(dirname "$0")/../lib.sh"

FX=$T/fx
"$FIXTURES/mkcache.sh" "$FX" conc 24 >/dev/null 2>&1
root=$(cat "$FX/root")
pk=$(cat "$FX/pk")
port=$(serve "$FX")
mkcfg() {
  echo "{\"store_root\": \"$T/$1\", \"substituters\": [\"http://127.0.0.1:$port/cache-zstd\"], \"trusted_public_keys\": [\"$pk\"]}" >"$T/$1.json"
}
mkcfg st8
: >"$FX.log"
pids=()
for i in 1 2 3 4 5 6 7 8; do
  "$SKIFF" realize --config "$T/st8.json" "$root" >"$T/r$i.out" 2>&1 &
  pids+=($!)
done
allok=1
for p in "${pids[@]}"; do wait "$p" || allok=0; done
check "8 concurrent realizers all succeed" test $allok = 1
nars=$(grep -c '^GET /cache-zstd/nar/' "$FX.log" || true)
uniq=$(grep '^GET /cache-zstd/nar/' "$FX.log" | sort -u | wc -l)
check "each NAR downloaded exactly once ($nars requests, $uniq NARs, closure $(wc -l <"$FX/closure"))" \
  test "$nars" = "$(wc -l <"$FX/closure")" -a "$uniq" = "$nars"
check "store verify clean after concurrent realization" "$SKIFF" store verify --config "$T/st8.json"

# kill -9 at random moments, then rerun.
mkcfg stk
bad=0
for i in $(seq 20); do
  "$SKIFF" realize --config "$T/stk.json" "$root" >/dev/null 2>&1 &
  p=$!
  sleep "0.$((RANDOM % 40))"
  kill -9 "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  if ! "$SKIFF" realize --config "$T/stk.json" "$root" >/dev/null 2>"$T/k.err"; then bad=$((bad + 1)); cat "$T/k.err"; fi
  "$SKIFF" store verify --config "$T/stk.json" >"$T/k.verify" || { bad=$((bad + 1)); cat "$T/k.verify"; }
  [[ -z $(ls "$T/stk/store/.partial") ]] || { bad=$((bad + 1)); echo "partial left"; }
  # Start over half of the time so kills land in different phases.
  if ((RANDOM % 2)); then chmod -R u+w "$T/stk"; rm -rf "$T/stk"; fi
done
check "20 kill -9 + rerun cycles: reruns complete, verify clean, no partials" test $bad = 0

# GC: root the env closure under one name, add an unrelated path, collect.
mkcfg stg
"$SKIFF" realize --config "$T/stg.json" --root pods/a "$root" >/dev/null
"$FIXTURES/mkcache.sh" "$FX" conc 24 >/dev/null 2>&1 # same closure, same paths
mkdir -p "$T/junk-src"
echo junk >"$T/junk-src/f"
"$SKIFF" cache add "$T/junk-src" --to "file://$FX/cache-zstd" --key "$FX/sk" >"$T/junk.path"
junk=$(cat "$T/junk.path")
"$SKIFF" realize --config "$T/stg.json" "$junk" >/dev/null
lib=$(grep -- -lib- "$FX/closure")
"$SKIFF" gc --config "$T/stg.json" --dry-run >"$T/gc.dry"
check "gc --dry-run lists only the unrooted path" bash -c "grep -q 'would delete $junk' '$T/gc.dry' && [[ \$(grep -c 'would delete' '$T/gc.dry') == 1 ]] && [[ -d '$T/stg/store/$(basename "$junk")' ]]"
"$SKIFF" gc --config "$T/stg.json" >"$T/gc.out"
check "gc removes exactly the unreachable path" bash -c "[[ ! -e '$T/stg/store/$(basename "$junk")' ]] && diff <('$SKIFF' store ls --config '$T/stg.json') <(sort '$FX/closure')"
"$SKIFF" store root remove pods/a --config "$T/stg.json"
"$SKIFF" gc --config "$T/stg.json" --keep "$lib" >"$T/gc2.out"
check "gc keeps --keep paths and drops the rest" bash -c "diff <('$SKIFF' store ls --config '$T/stg.json') <(echo '$lib')"
# GC concurrent with realization: both finish, the rooted closure is complete afterwards.
"$SKIFF" realize --config "$T/stg.json" --root pods/b "$root" >/dev/null 2>"$T/cr.err" &
rp=$!
sleep 0.05
"$SKIFF" gc --config "$T/stg.json" >/dev/null 2>"$T/cg.err"
gcrc=$?
wait $rp
rrc=$?
check "realization during gc completes and gc succeeds" test $rrc = 0 -a $gcrc = 0
check "closure complete and verified after concurrent gc" bash -c "diff <('$SKIFF' store ls --config '$T/stg.json') <(sort '$FX/closure') && '$SKIFF' store verify --config '$T/stg.json' >/dev/null"
finish
