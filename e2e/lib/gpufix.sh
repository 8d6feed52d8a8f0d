# shellcheck shell=bash
# Fixture environments for the GPU pod tests (e2e/tests/45-gpu.sh), built offline like
# lib/imageless.sh: store paths made with `skiff cache add` into a file:// binary cache and
# signed generation documents in a file:// hub.
#
#   glibc       this machine's glibc (loader, libc, libm, libdl, libpthread, librt): the stand-in
#               for a Nix glibc; it gives the GPU layer a loader to link at /lib64 (nvidia-smi)
#   gpu-probes  e2e/gpu/cuprobe.c and nvmlprobe.c built against that glibc (PT_INTERP and
#               RUNPATH in the store, like Nix binaries, plus /run/opengl-driver/lib)
#   shell       busybox-static
#
#   acme/cuda@1   shell + glibc + probes, requires.cuda ">=12.0"
#   acme/cuda@2   the same, requires.cuda ">=99.0" (no driver satisfies it)
# The documents set LD_LIBRARY_PATH=<glibc>/lib: a Nix glibc searches its own lib directory by
# default, Debian's (the stand-in) does not, and the host's nvidia-smi needs libc.so.6.
#
# gpufix_build DIR SKIFF: builds everything under DIR (skipped when DIR/paths exists) and sets
# GPUFIX_GLIBC GPUFIX_PROBES GPUFIX_SHELL GPUFIX_PK.

gpufix_build() {
  local dir=$1 skiff=$2 repo=${E2E_DIR:-$(dirname "${BASH_SOURCE[0]}")/..}/..
  local gen=$repo/e2e/lib/mkgen.py py=${PYTHON:-/usr/bin/python3}
  if [[ ! -f $dir/paths ]]; then
    (
      set -e
      mkdir -p "$dir"
      cd "$dir"
      rm -rf src cache hub
      mkdir -p src/glibc/lib src/gpu-probes/bin src/shell/bin
      "$skiff" cache keygen skiff-gpu-e2e-1 --secret-file sk --public-file pk
      for so in ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1; do
        cp -L "/lib/x86_64-linux-gnu/$so" src/glibc/lib/
      done
      glibc=$("$skiff" cache add src/glibc --to "file://$dir/cache" --key sk)
      for p in cuprobe nvmlprobe; do
        gcc -O2 -Wall -o "src/gpu-probes/bin/$p" "$repo/e2e/gpu/$p.c" -ldl \
          -Wl,--dynamic-linker="$glibc/lib/ld-linux-x86-64.so.2" \
          -Wl,-rpath,"$glibc/lib:/run/opengl-driver/lib"
      done
      probes=$("$skiff" cache add src/gpu-probes --to "file://$dir/cache" --key sk)
      cp "${BUSYBOX_BIN:-/bin/busybox}" src/shell/bin/busybox
      for a in sh env ls cat echo id sleep grep head mknod test true tr wc; do
        ln -s busybox "src/shell/bin/$a"
      done
      shell=$("$skiff" cache add src/shell --to "file://$dir/cache" --key sk)
      for g in 1:'>=12.0' 2:'>=99.0'; do
        "$py" "$gen" --hub "$dir/hub" --cache "$dir/cache" --key sk --env acme/cuda \
          --gen "${g%%:*}" --pkg "shell=$shell" --pkg "glibc=$glibc" --pkg "probes=$probes" \
          --var "LD_LIBRARY_PATH=$glibc/lib" --require "cuda=${g#*:}" >/dev/null
      done
      printf '%s\n' "$glibc" "$probes" "$shell" >paths.tmp
      mv paths.tmp paths
    ) || return 1
  fi
  local p
  mapfile -t p <"$dir/paths"
  GPUFIX_GLIBC=${p[0]} GPUFIX_PROBES=${p[1]} GPUFIX_SHELL=${p[2]}
  GPUFIX_PK=$(cat "$dir/pk")
  export GPUFIX_GLIBC GPUFIX_PROBES GPUFIX_SHELL GPUFIX_PK
}
