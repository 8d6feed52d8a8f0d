#!/usr/bin/env bash
# Bundles Debian's nix-bin (the reference the store benchmark compares against) so that it runs
# on a machine without Nix or network (the device machine): OUT/lib holds /usr/bin/nix's loader
# and every shared library it needs; OUT/bin/{nix,nix-store,nix-build} are wrappers that start it
# through that loader with --argv0 (nix is a multi-call binary that dispatches on its name).
#   usage: e2e/bench/nix-bundle.sh OUT      then: PATH=OUT/bin:$PATH nix --version
set -euo pipefail
out=${1:?usage: nix-bundle.sh OUT}
nix=$(readlink -f "$(command -v nix)")
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/libexec"
cp "$nix" "$out/libexec/nix"
ldd "$nix" | awk '/=> \// {print $3} /^\t\/.*ld-linux/ {print $1}' | while read -r so; do
  cp -L "$so" "$out/lib/"
done
[[ -f $out/lib/ld-linux-x86-64.so.2 ]] || cp -L /lib64/ld-linux-x86-64.so.2 "$out/lib/"
for name in nix nix-store nix-build; do
  cat >"$out/bin/$name" <<EOF
#!/bin/sh
d=\$(dirname "\$(readlink -f "\$0")")/..
exec "\$d/lib/ld-linux-x86-64.so.2" --library-path "\$d/lib" --argv0 $name "\$d/libexec/nix" "\$@"
EOF
  chmod 755 "$out/bin/$name"
done
"$out/bin/nix" --version
