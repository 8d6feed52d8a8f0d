#!/bin/sh
# bundle-libs.sh BINARY DESTDIR: copies every shared library BINARY needs that is not part of
# glibc into DESTDIR (the binary finds them through its $ORIGIN/../lib/skiff RPATH), so the
# binary plus DESTDIR need nothing from a host but glibc.
set -eu
bin=$1
dest=$2
mkdir -p "$dest"
rm -f "$dest"/*.so*
ldd "$bin" | awk '/=> \// { print $1, $3 }' | while read -r name path; do
  case $name in
  libc.so.* | libm.so.* | libdl.so.* | libpthread.so.* | librt.so.* | libresolv.so.* | \
    libutil.so.* | ld-linux*.so.* | libanl.so.* | libnsl.so.*) continue ;;
  esac
  case $path in
  "$dest"/*) continue ;;
  esac
  cp -L "$path" "$dest/$name"
done
