# shellcheck shell=bash
# Fixture environments for the GPU pod tests (e2e/tests/45-gpu.sh), built offline like
# lib/imageless.sh: store paths made with `skiff cache add` into a file:// binary cache and
# generations published with `skiff publish` into a file:// hub. Everything is built on the machine
# that runs the tests (the H100 machine included), with nothing but the skiff CLI, a C compiler
# and, when there is one, the CUDA toolkit's nvcc.
#
#   glibc       this machine's glibc (loader, libc, libm, libdl, libpthread, librt): the stand-in
#               for a Nix glibc; it gives the GPU layer a loader to link at /lib64 (nvidia-smi)
#   gpu-probes  e2e/gpu/cuprobe.c and nvmlprobe.c built against that glibc (PT_INTERP and
#               RUNPATH in the store, like Nix binaries, plus /run/opengl-driver/lib). With nvcc
#               (GPUFIX_NVCC, default: `nvcc` on PATH or /usr/local/cuda/bin/nvcc; GPUFIX_NVCC=none
#               disables it) the probe's kernel is e2e/gpu/store42.cu compiled to PTX by nvcc and
#               the probes are built by nvcc's host compiler driver; cuprobe then prints ptx=nvcc.
#   shell       busybox-static
#
#   acme/cuda@1   shell + glibc + probes, requires.cuda ">=12.0"
#   acme/cuda@2   the same, requires.cuda ">=99.0" (no driver satisfies it)
# The documents set LD_LIBRARY_PATH=<glibc>/lib: a Nix glibc searches its own lib directory by
# default, Debian's (the stand-in) does not, and the host's nvidia-smi needs libc.so.6.
#
# gpufix_build DIR SKIFF: builds everything under DIR (skipped when DIR/paths exists) and sets
# GPUFIX_GLIBC GPUFIX_PROBES GPUFIX_SHELL GPUFIX_PK GPUFIX_PTX (nvcc or builtin).

gpufix_build() {
  local dir=$1 skiff=$2 repo=${E2E_DIR:-$(dirname "${BASH_SOURCE[0]}")/..}/..
  local nvcc=${GPUFIX_NVCC:-}
  if [[ -z $nvcc ]]; then
    nvcc=$(command -v nvcc || true)
    [[ -n $nvcc || ! -x /usr/local/cuda/bin/nvcc ]] || nvcc=/usr/local/cuda/bin/nvcc
  fi
  [[ $nvcc != none ]] || nvcc=
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
      local ld=$glibc/lib/ld-linux-x86-64.so.2 rpath=$glibc/lib:/run/opengl-driver/lib
      if [[ -n $nvcc ]]; then
        # The kernel: CUDA C++ compiled to PTX by this machine's nvcc, embedded as a C string.
        "$nvcc" -ptx -arch=compute_90 -o store42.ptx "$repo/e2e/gpu/store42.cu"
        { echo 'static const char ptx[] ='
          sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$/\\n"/' store42.ptx
          echo ';'; } >store42.ptx.h
        for p in cuprobe nvmlprobe; do
          "$nvcc" -cudart none -O2 -Xcompiler -Wall -DCUPROBE_PTX_INC="\"$PWD/store42.ptx.h\"" \
            -o "src/gpu-probes/bin/$p" "$repo/e2e/gpu/$p.c" -ldl \
            -Xlinker "--dynamic-linker=$ld" -Xlinker "-rpath=$rpath"
        done
        echo nvcc >ptx-source
      else
        for p in cuprobe nvmlprobe; do
          gcc -O2 -Wall -o "src/gpu-probes/bin/$p" "$repo/e2e/gpu/$p.c" -ldl \
            -Wl,--dynamic-linker="$ld" -Wl,-rpath,"$rpath"
        done
        echo builtin >ptx-source
      fi
      probes=$("$skiff" cache add src/gpu-probes --to "file://$dir/cache" --key sk)
      cp "${BUSYBOX_BIN:-/bin/busybox}" src/shell/bin/busybox
      for a in sh env ls cat echo id sleep grep head mknod test true tr wc; do
        ln -s busybox "src/shell/bin/$a"
      done
      shell=$("$skiff" cache add src/shell --to "file://$dir/cache" --key sk)
      for req in '>=12.0' '>=99.0'; do # generations 1 and 2
        "$skiff" publish acme/cuda --hub "$dir/hub" --key sk --cache "file://$dir/cache" \
          --trusted-key pk --paths "$shell" "$glibc" "$probes" \
          --var "LD_LIBRARY_PATH=$glibc/lib" --requires "cuda=$req" >/dev/null
      done
      printf '%s\n' "$glibc" "$probes" "$shell" >paths.tmp
      mv paths.tmp paths
    ) || return 1
  fi
  local p
  mapfile -t p <"$dir/paths"
  GPUFIX_GLIBC=${p[0]} GPUFIX_PROBES=${p[1]} GPUFIX_SHELL=${p[2]}
  GPUFIX_PK=$(cat "$dir/pk")
  GPUFIX_PTX=$(cat "$dir/ptx-source" 2>/dev/null || echo builtin)
  export GPUFIX_GLIBC GPUFIX_PROBES GPUFIX_SHELL GPUFIX_PK GPUFIX_PTX
}
