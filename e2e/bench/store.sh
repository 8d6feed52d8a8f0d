#!/usr/bin/env bash
# Benchmark: realize a ~200 MiB closure from a zstd cache served on 127.0.0.1 with skiff vs
# `nix copy --from` into a fresh store, and raw NAR unpack (skiff nar restore vs
# nix-store --restore) of every NAR of the closure, one after another. Interleaved, N runs (default 5), everything
# on tmpfs. Prints a markdown table of medians. usage: e2e/bench/store.sh [N] [MIB]
# env: SKIFF (binary); FIXTURE:
#   real (default)  PKGS (default 8) store paths of real software copied from this machine by
#                   e2e/lib/realtree.py (REAL_ROOTS: its roots, default /usr/lib /usr/share
#                   /usr/bin /usr/libexec); compresses like real environments (about 3x here);
#   random          one path holding MIB MiB of random bytes plus two small paths (the
#                   incompressible worst case: every byte is received, hashed twice, written);
#   nix             the random shape built by nix-build from test/fixtures/store.
# Caches are written by `skiff cache add` (real, random; the store paths `nix-store --add`
# computes) or `nix copy --to` (nix). TMP (default /dev/shm); SKIFF_B (a second skiff binary,
# e.g. an older build: adds an interleaved "skiff B" realize row).
set -euo pipefail
N=${1:-5}
MIB=${2:-200}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SKIFF=${SKIFF:-$REPO/build-store/bin/skiff}
FIXTURE=${FIXTURE:-real}
export NIX_CONFIG=$'substituters =\nexperimental-features = nix-command\nsandbox = false\nbuild-users-group ='
W=$(mktemp -d "${TMP:-/dev/shm}/skiff-bench.XXXXXX")
srv=
trap '[[ -n $srv ]] && kill $srv 2>/dev/null; chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
if [[ $FIXTURE == nix ]]; then
  "$REPO/test/fixtures/store/mkcache.sh" "$W/fx" "bench$MIB" "$MIB" >/dev/null 2>&1
  root=$(cat "$W/fx/root")
else
  src=$W/fx/src
  if [[ $FIXTURE == real ]]; then
    # shellcheck disable=SC2086
    /usr/bin/python3 "$REPO/e2e/lib/realtree.py" "$src" "$MIB" "${PKGS:-8}" ${REAL_ROOTS:-} >/dev/null
  else
    mkdir -p "$src/bench-lib-bench$MIB/lib/deep/a/b/c" "$src/bench-app/bin" "$src/bench-env/bin"
    head -c $((MIB * 1048576)) /dev/urandom >"$src/bench-lib-bench$MIB/lib/big"
    head -c 600000 /dev/urandom >"$src/bench-lib-bench$MIB/lib/deep/a/b/c/small"
    echo hello >"$src/bench-lib-bench$MIB/lib/hello.txt"
    printf '#!/bin/sh\necho app\n' >"$src/bench-app/bin/app"
    chmod 755 "$src/bench-app/bin/app"
    ln -s ../../bench-app/bin/app "$src/bench-env/bin/app"
  fi
  "$SKIFF" cache keygen "skiff-bench-$MIB" --secret-file "$W/fx/sk" --public-file "$W/fx/pk"
  for c in zstd none; do
    root=$("$SKIFF" cache add "$src"/* --to "file://$W/fx/cache-$c" --key "$W/fx/sk" \
      --compression "$c" | tr '\n' ' ')
  done
  rm -rf "$src"
  tr " " "\n" <<<"$root" | grep . >"$W/fx/closure"
fi
pk=$(cat "$W/fx/pk")
/usr/bin/python3 "$REPO/e2e/store/httpd.py" "$W/fx" "$W/port" >/dev/null 2>&1 &
srv=$!
for _ in $(seq 100); do [[ -s $W/port ]] && break; sleep 0.05; done
port=$(cat "$W/port")
url=http://127.0.0.1:$port/cache-zstd
nar_bytes=$(awk '/^NarSize:/ {s += $2} END {print s}' "$W"/fx/cache-zstd/*.narinfo)
file_bytes=$(awk '/^FileSize:/ {s += $2} END {print s}' "$W"/fx/cache-zstd/*.narinfo)
# The closure's uncompressed NARs, for the raw unpack rows (each restored into its own directory).
nars=$(awk '/^URL:/ {print $2}' "$W"/fx/cache-none/*.narinfo | sed "s|^|$W/fx/cache-none/|" | tr '\n' ' ')
nnars=$(wc -w <<<"$nars")
unpack() { # unpack TOOL OUTDIR
  local k=0 f
  mkdir -p "$2"
  for f in $nars; do
    k=$((k + 1))
    # shellcheck disable=SC2086 # TOOL is a command line
    $1 "$2/$k" <"$f" || return 1
  done
}

ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }
declare -A R
for i in $(seq "$N"); do
  echo "{\"store_root\": \"$W/s$i\", \"substituters\": [\"$url\"], \"trusted_public_keys\": [\"$pk\"]}" >"$W/c$i.json"
  R[skiff_realize]+="$(ms "$SKIFF" realize --config "$W/c$i.json" $root) "
  if [[ -n ${SKIFF_B:-} ]]; then
    echo "{\"store_root\": \"$W/b$i\", \"substituters\": [\"$url\"], \"trusted_public_keys\": [\"$pk\"]}" >"$W/cb$i.json"
    R[skiffb_realize]+="$(ms "$SKIFF_B" realize --config "$W/cb$i.json" $root) "
  fi
  R[nix_copy]+="$(ms nix copy --from "$url" --to "$W/n$i" --option trusted-public-keys "$pk" $root) "
  R[skiff_restore]+="$(ms unpack "$SKIFF nar restore" "$W/r$i") "
  R[nix_restore]+="$(ms unpack "nix-store --restore" "$W/q$i") "
  # Keep tmpfs usage bounded.
  chmod -R u+w "$W/s$i" "$W/b$i" "$W/n$i" "$W/r$i" "$W/q$i" 2>/dev/null || true
  rm -rf "$W/s$i" "$W/b$i" "$W/n$i" "$W/r$i" "$W/q$i"
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
m() { echo "${R[$1]}" | median; }
sr=$(m skiff_realize) nc=$(m nix_copy) sx=$(m skiff_restore) nx=$(m nix_restore)
echo
echo "Closure ($FIXTURE): $(wc -l <"$W/fx/closure") paths, $((nar_bytes / 1048576)) MiB NAR, $((file_bytes / 1048576)) MiB zstd, http://127.0.0.1 (e2e/store/httpd.py), tmpfs, n=$N (medians, ms)"
echo
echo "| operation | skiff | nix | skiff / nix |"
echo "|---|---|---|---|"
echo "| realize closure from zstd cache (skiff realize vs nix copy --from) | $sr | $nc | $(awk "BEGIN {printf \"%.2f\", $sr/$nc}") |"
if [[ -n ${SKIFF_B:-} ]]; then
  sb=$(m skiffb_realize)
  echo "| realize, skiff B ($SKIFF_B) | $sb | $nc | $(awk "BEGIN {printf \"%.2f\", $sb/$nc}") |"
fi
echo "| unpack the closure's $nnars NARs, $((nar_bytes / 1048576)) MiB (skiff nar restore vs nix-store --restore) | $sx | $nx | $(awk "BEGIN {printf \"%.2f\", $sx/$nx}") |"
echo
echo "raw: skiff_realize=[${R[skiff_realize]}] skiffb_realize=[${R[skiffb_realize]:-}] nix_copy=[${R[nix_copy]}] skiff_restore=[${R[skiff_restore]}] nix_restore=[${R[nix_restore]}]"
