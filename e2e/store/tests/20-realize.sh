# skiff realize from nix-copy caches (zstd, xz, none, bzip2, br, gzip) over file:// and http://: every realized
# tree's `nix-store --dump` hash equals its NarHash; the tamper matrix is refused with nothing
# new visible in store/.
source "$(dirname "$0")/../lib.sh"

FX=$T/fx
"$FIXTURES/mkcache.sh" "$FX" e2e >/dev/null 2>&1
root=$(cat "$FX/root")
pk=$(cat "$FX/pk")
mkcfg() { # mkcfg NAME SUBSTITUTER [extra json]
  echo "{\"store_root\": \"$T/$1\", \"substituters\": [\"$2\"], \"trusted_public_keys\": [\"$pk\"]${3:-}}" >"$T/$1.json"
}
tree_ok() { # every path in store/ re-dumps to its NarHash
  local st=$1 p b h
  for p in $(cat "$FX/closure"); do
    b=$(basename "$p")
    [[ -d $st/store/$b || -L $st/store/$b || -f $st/store/$b ]] || return 1
    h=$(nix-store --dump "$st/store/$b" | nix-hash --type sha256 --flat --base32 /dev/stdin)
    grep -q "^NarHash: sha256:$h\$" "$FX/cache-zstd/${b:0:32}.narinfo" || return 1
  done
}
port=$(serve "$FX")
for c in zstd xz none bzip2 br gzip; do
  for tr in file http; do
    if [[ $tr == file ]]; then url=file://$FX/cache-$c; else url=http://127.0.0.1:$port/cache-$c; fi
    mkcfg "st-$c-$tr" "$url"
    if "$SKIFF" realize --config "$T/st-$c-$tr.json" "$root" >/dev/null; then
      check "realize $c over $tr: trees match NarHash" tree_ok "$T/st-$c-$tr"
    else
      notok "realize $c over $tr"
    fi
  done
done
check "store verify is clean" "$SKIFF" store verify --config "$T/st-zstd-file.json"
mkcfg st-closure "file://$FX/cache-zstd"
check "realize --closure FILE" "$SKIFF" realize --config "$T/st-closure.json" --closure "$FX/closure"
check "store ls lists the closure" bash -c "diff <('$SKIFF' store ls --config '$T/st-closure.json') <(sort '$FX/closure')"

# --- tamper matrix --------------------------------------------------------------------------
lib=$(grep -- -lib- "$FX/closure")
libh=$(basename "$lib" | cut -c1-32)
tamper() { # tamper NAME DESCRIPTION EXPECTED-SUBSTRING [extra-json] ; edits $T/$NAME-cache before
  local name=$1 desc=$2 want=$3 extra=${4:-}
  mkcfg "st-$name" "file://$T/$name-cache" "$extra"
  if "$SKIFF" realize --config "$T/st-$name.json" "$lib" 2>"$T/$name.err"; then
    notok "$desc: accepted"
  elif ! grep -q "$want" "$T/$name.err" || ! grep -q "$lib" "$T/$name.err"; then
    notok "$desc: message lacks path/reason: $(cat "$T/$name.err")"
  elif [[ -n $(ls "$T/st-$name/store") ]]; then
    notok "$desc: something appeared in store/"
  else
    ok "$desc refused: $(cut -c1-150 "$T/$name.err")"
  fi
}
mkc() { rm -rf "$T/$1-cache"; cp -r "$FX/cache-none" "$T/$1-cache"; }
flip() { # flip KEY FILE: changes the last character of a hash line
  sed -i -E "/^$1: /{s/0\$/X/;t a;s/.\$/0/;b;:a;s/X\$/1/}" "$2"
}
mkc narhash; flip NarHash "$T/narhash-cache/$libh.narinfo"
tamper narhash "wrong NarHash" "signature" # the signature covers NarHash
mkc narhash2; flip NarHash "$T/narhash2-cache/$libh.narinfo"
tamper narhash2 "wrong NarHash (signatures off)" "NarHash mismatch" ', "require_signatures": false'
mkc filehash; flip FileHash "$T/filehash-cache/$libh.narinfo"
tamper filehash "wrong FileHash" "FileHash mismatch"
mkc trunc; f=$T/trunc-cache/$(grep ^URL: "$T/trunc-cache/$libh.narinfo" | cut -d' ' -f2); head -c 1000 "$f" >"$f.t"; mv "$f.t" "$f"
tamper trunc "truncated transfer" "truncated"
mkc badsig; sed -i 's/^Sig: \([^:]*\):./Sig: \1:A/' "$T/badsig-cache/$libh.narinfo"
tamper badsig "bad signature" "no valid signature"
mkc unsigned; sed -i '/^Sig:/d' "$T/unsigned-cache/$libh.narinfo"
tamper unsigned "unsigned narinfo while signatures are required" "no valid signature"
# NARs with bad entries, hashes consistent (signatures off: the NAR reader is what is tested).
for kind in dotdot slash nul unsorted duplicate symlink-below oversize; do
  mkc "nar-$kind"
  /usr/bin/python3 "$STORE_E2E_DIR/badnar.py" "$kind" "$T/nar-$kind-cache" "$libh"
  case $kind in
    dotdot) want='`..`' ;; slash) want='contains `/`' ;; nul) want='NUL' ;;
    unsorted) want='not sorted' ;; duplicate | symlink-below) want='duplicate entry' ;;
    oversize) want='exceeds the limit' ;;
  esac
  tamper "nar-$kind" "NAR with $kind entry" "$want" ', "require_signatures": false'
done
check "nothing written outside the store by the symlink case" test ! -e /tmp/skiff-e2e-escape/b
finish
