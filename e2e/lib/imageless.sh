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
    export SKIFF_BIN=$skiff # mkgen.py signs with `skiff cache sign` without Python's cryptography
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

# imageless_fixture_more DIR SKIFF: after imageless_fixture, adds (into DIR's cache and hub):
#   acme/dyn@1      shell + hello-dyn: a C hello whose ELF interpreter and RUNPATH point into a
#                   glibc store path copied from the host (declared as its reference)
#   acme/base@1     shell + pick-base-a (priority 2, bin/pick-a) + pick-base-b (priority 8,
#                   bin/pick-b), printing "base"
#   acme/app@3      pick-app-a (priority 6, bin/pick-a) + pick-app-b (priority 4, bin/pick-b),
#                   printing "app"
#   acme/hook@1     shell, with an on_activate hook writing /tmp/hook.out
#   acme/offline@1  shell + hello1, never fetched by the tests while the hub is up
#   acme/badsig@1   shell, its 1.json changed after signing
#   acme/nosys@1    shell, published for another system only
#   acme/lost@1     shell + a path whose NAR is only in DIR/lostcache (never a substituter)
#   acme/many@1     shell + two paths whose NARs are only in DIR/manycache
# Writes DIR/more (NAME=STORE_PATH lines: glibc hellodyn basea baseb appa appb lost manya manyb).
imageless_fixture_more() {
  local dir=$1 skiff=$2 gen=${E2E_DIR:-$(dirname "${BASH_SOURCE[0]}")/..}/lib/mkgen.py
  local py=${PYTHON:-/usr/bin/python3}
  (
    set -e
    export SKIFF_BIN=$skiff
    cd "$dir"
    shell=$(sed -n 1p paths)
    hello1=$(sed -n 2p paths)
    add() { "$skiff" cache add "$1" --to "file://$dir/${2:-cache}" --key sk; }
    mk() { "$py" "$gen" --hub "$dir/hub" --cache "$dir/cache" --key sk --live "$@" >/dev/null; }
    rm -rf more lostcache manycache src/glibc-x src/hello-dyn src/pick-* src/lost src/many-*
    mkdir -p src/glibc-x/lib src/hello-dyn/bin
    ldso=$(gcc -print-file-name=ld-linux-x86-64.so.2)
    [[ -e $ldso ]] || ldso=/lib64/ld-linux-x86-64.so.2
    cp -L "$ldso" src/glibc-x/lib/ld-linux-x86-64.so.2
    libc=$(gcc -print-file-name=libc.so.6)
    [[ -e $libc ]] || libc=/lib/x86_64-linux-gnu/libc.so.6
    cp -L "$libc" src/glibc-x/lib/libc.so.6
    glibc=$(add src/glibc-x)
    cat >src/hello.c <<'C'
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
        const char *g = getenv("GREETING");
        printf("hello from generation 1 (%s, dynamic)\n", g ? g : "");
        return 0;
}
C
    gcc -O2 -o src/hello-dyn/bin/hello-dyn src/hello.c \
      "-Wl,--dynamic-linker=$glibc/lib/ld-linux-x86-64.so.2" "-Wl,-rpath,$glibc/lib" \
      -Wl,--enable-new-dtags
    hellodyn=$(add src/hello-dyn)
    mk --env acme/dyn --gen 1 --pkg "shell=$shell" --pkg "hello=$hellodyn" \
      --ref "$hellodyn=$glibc" --var GREETING=gen1

    for p in base-a base-b app-a app-b; do
      mkdir -p "src/pick-$p/bin"
      printf '#!/bin/sh\necho %s\n' "${p%-*}" >"src/pick-$p/bin/pick-${p#*-}"
      chmod 755 "src/pick-$p/bin/pick-${p#*-}"
    done
    basea=$(add src/pick-base-a) baseb=$(add src/pick-base-b)
    appa=$(add src/pick-app-a) appb=$(add src/pick-app-b)
    mk --env acme/base --gen 1 --pkg "shell=$shell" --pkg "pick-a=$basea:2" \
      --pkg "pick-b=$baseb:8"
    mk --env acme/app --gen 3 --pkg "pick-a=$appa:6" --pkg "pick-b=$appb:4"

    mk --env acme/hook --gen 1 --pkg "shell=$shell" --hook 'echo "hook ran as $$" >/tmp/hook.out'
    mk --env acme/offline --gen 1 --pkg "shell=$shell" --pkg "hello=$hello1"
    mk --env acme/badsig --gen 1 --pkg "shell=$shell"
    sed -i 's/"generation": 1/"generation":  1/' hub/skiff/v1/acme/badsig/1.json
    mk --env acme/nosys --gen 1 --pkg "shell=$shell" --system riscv64-linux

    mkdir -p src/lost/share src/many-a/share src/many-b/share
    head -c 65536 /dev/urandom >src/lost/share/blob
    head -c 262144 /dev/urandom >src/many-a/share/blob-a
    head -c 262144 /dev/urandom >src/many-b/share/blob-b
    lost=$(add src/lost lostcache)
    manya=$(add src/many-a manycache) manyb=$(add src/many-b manycache)
    mk --cache "$dir/lostcache" --env acme/lost --gen 1 --pkg "shell=$shell" --pkg "lost=$lost"
    mk --cache "$dir/manycache" --env acme/many --gen 1 --pkg "shell=$shell" \
      --pkg "many-a=$manya" --pkg "many-b=$manyb"
    printf '%s\n' "glibc=$glibc" "hellodyn=$hellodyn" "basea=$basea" "baseb=$baseb" \
      "appa=$appa" "appb=$appb" "lost=$lost" "manya=$manya" "manyb=$manyb" >"$dir/more"
  )
}
