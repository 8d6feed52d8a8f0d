# shellcheck shell=bash
# Fixture environments for the imageless tests and the demo, built offline:
#   store paths made with `skiff cache add` into a file:// binary cache, generation documents
#   (signed) written into a hub directory with lib/mkgen.py.
#
#   acme/hello@1  shell (busybox-static, bin/sh) + hello (prints "hello from generation 1")
#                 vars GREETING=gen1, TEST_MODE=document
#   acme/hello@2  shell + hello v2 (prints "hello from generation 2")
#   acme/bad@1    shell + a path whose NAR in the cache was tampered with
#   acme/slow@1   shell + a 4 MiB path whose NAR lives only in $FIX/slowcache (served slowly)
#
# imageless_fixture DIR SKIFF: builds everything under DIR (idempotent per DIR) and sets
# FIX_SHELL FIX_HELLO1 FIX_HELLO2 FIX_BAD FIX_BIG FIX_PK.

imageless_fixture() {
  local dir=$1 skiff=$2 gen=${E2E_DIR:-$(dirname "${BASH_SOURCE[0]}")/..}/lib/mkgen.py
  local py=${PYTHON:-/usr/bin/python3}
  mkdir -p "$dir/src"
  (
    set -e
    cd "$dir"
    [[ -f sk ]] || "$skiff" cache keygen skiff-e2e-1 --secret-file sk --public-file pk
    rm -rf src/* cache slowcache hub
    mkdir -p src/shell/bin src/hello1/bin src/hello2/bin src/bad/bin src/big/share
    cp "${BUSYBOX_BIN:-/bin/busybox}" src/shell/bin/busybox
    for a in sh env ls cat echo id sleep touch grep mount readlink test true; do
      ln -s busybox "src/shell/bin/$a"
    done
    shell=$("$skiff" cache add src/shell --to "file://$dir/cache" --key sk)
    for g in 1 2; do
      printf '#!%s/bin/sh\necho "hello from generation %s ($GREETING)"\n' "$shell" "$g" \
        >"src/hello$g/bin/hello"
      chmod 755 "src/hello$g/bin/hello"
    done
    hello1=$("$skiff" cache add src/hello1 --to "file://$dir/cache" --key sk)
    hello2=$("$skiff" cache add src/hello2 --to "file://$dir/cache" --key sk)
    printf '#!/bin/sh\necho bad\n' >src/bad/bin/bad
    chmod 755 src/bad/bin/bad
    bad=$("$skiff" cache add src/bad --to "file://$dir/cache" --key sk --compression none)
    head -c 4194304 /dev/urandom >src/big/share/blob
    big=$("$skiff" cache add src/big --to "file://$dir/slowcache" --key sk --compression none)

    "$py" "$gen" --hub "$dir/hub" --cache "$dir/cache" --key sk --env acme/hello --gen 1 \
      --pkg "shell=$shell" --pkg "hello=$hello1" --var GREETING=gen1 \
      --var TEST_MODE=document --description "first" >/dev/null
    "$py" "$gen" --hub "$dir/hub" --cache "$dir/cache" --key sk --env acme/hello --gen 2 \
      --pkg "shell=$shell" --pkg "hello=$hello2" --var GREETING=gen2 --live >/dev/null
    "$py" "$gen" --hub "$dir/hub" --cache "$dir/cache" --key sk --env acme/bad --gen 1 \
      --pkg "shell=$shell" --pkg "bad=$bad" --live >/dev/null
    # Tamper with the bad path's NAR (uncompressed): flip bytes in the middle.
    url=$(awk '/^URL:/ { print $2 }' "cache/$(basename "$bad" | cut -c1-32).narinfo")
    printf 'XXXX' | dd of="cache/$url" bs=1 seek=200 conv=notrunc status=none
    "$py" "$gen" --hub "$dir/hub" --cache "$dir/cache" --cache "$dir/slowcache" --key sk \
      --env acme/slow --gen 1 --pkg "shell=$shell" --pkg "big=$big" --live >/dev/null
    printf '%s\n' "$shell" "$hello1" "$hello2" "$bad" "$big" >paths
  ) || return 1
  local p
  mapfile -t p <"$dir/paths"
  FIX_SHELL=${p[0]} FIX_HELLO1=${p[1]} FIX_HELLO2=${p[2]} FIX_BAD=${p[3]} FIX_BIG=${p[4]}
  FIX_PK=$(cat "$dir/pk")
  export FIX_SHELL FIX_HELLO1 FIX_HELLO2 FIX_BAD FIX_BIG FIX_PK
}

# imageless_config FILE STORE_ROOT HUB_URL SUBSTITUTER...: writes a node config.
imageless_config() {
  local file=$1 root=$2 hub=$3 subs="" s
  shift 3
  for s in "$@"; do subs+="${subs:+,}\"$s\""; done
  mkdir -p "$(dirname "$file")"
  cat >"$file.tmp" <<EOF
{
  "store_root": "$root",
  "hub": "$hub",
  "substituters": [$subs],
  "trusted_public_keys": ["$FIX_PK"],
  "realize_timeout": 60,
  "keep_generations": 3,
  "connect_timeout": 2,
  "retries": 0
}
EOF
  mv "$file.tmp" "$file"
}
