# skiff nar dump == nix-store --dump; skiff nar restore round trip; skiff cache add yields the
# path nix-store --add yields, and nix copy accepts the cache (checking our signature and hash).
source "$(dirname "$0")/../lib.sh"

"$FIXTURES/mktree.sh" "$T/fixture-tree"
nix-store --dump "$T/fixture-tree" >"$T/ref.nar"
"$SKIFF" nar dump "$T/fixture-tree" >"$T/ours.nar"
check "nar dump equals nix-store --dump" cmp -s "$T/ref.nar" "$T/ours.nar"
"$SKIFF" nar restore "$T/restored" <"$T/ref.nar" >"$T/restore.out"
check "nar restore prints the NAR hash" grep -q "^sha256:$(nix-hash --type sha256 --flat --base32 "$T/ref.nar") $(stat -c %s "$T/ref.nar")\$" "$T/restore.out"
check "restored tree re-dumps identically" bash -c "nix-store --dump '$T/restored' | cmp -s - '$T/ref.nar'"
check "nar restore refuses an existing target" bash -c "! '$SKIFF' nar restore '$T/restored' <'$T/ref.nar' 2>/dev/null"

"$SKIFF" cache keygen e2e-key --secret-file "$T/sk" --public-file "$T/pk"
check "keygen writes Nix-format keys" grep -qE '^e2e-key:[A-Za-z0-9+/]{43}=$' "$T/pk"
want=$(nix-store --add "$T/fixture-tree")
got=$("$SKIFF" cache add "$T/fixture-tree" --to "file://$T/cache" --key "$T/sk")
check "cache add path equals nix-store --add ($want)" test "$got" = "$want"
mkdir -p "$T/empty-dir"
want2=$(nix-store --add "$T/empty-dir")
got2=$("$SKIFF" cache add "$T/empty-dir" --to "file://$T/cache" --key "$T/sk")
check "cache add of an empty directory equals nix-store --add" test "$got2" = "$want2"

pk=$(cat "$T/pk")
check "nix copy accepts the cache with our key" \
  nix copy --from "file://$T/cache" --to "$T/chroot1" --option trusted-public-keys "$pk" "$got" "$got2"
check "nix copy recreated the same tree" bash -c "nix-store --dump '$T/chroot1$got' | cmp -s - '$T/ref.nar'"
# Without the CA field nix can only trust the path through our signature.
sed -i '/^CA:/d' "$T"/cache/*.narinfo
check "nix copy checks our signature (accepted without CA)" \
  nix copy --from "file://$T/cache" --to "$T/chroot2" --option trusted-public-keys "$pk" "$got"
check "nix copy rejects it under another key" bash -c \
  "! nix copy --from 'file://$T/cache' --to '$T/chroot3' --option trusted-public-keys 'e2e-key:Yro8jE3UwCfpvC0XfuK04jfclubFaWrG5Z1G2+QrtuQ=' '$got' 2>/dev/null"
finish
