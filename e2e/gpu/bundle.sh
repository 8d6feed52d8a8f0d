#!/usr/bin/env bash
# Builds a self-contained directory for the GPU machine (which has no network, no criterion and
# another distribution): the `skiff` CLI with its private libraries, the gpu unit tests with
# every non-glibc shared library they need, the probes (cuprobe, nvmlprobe) and a static busybox.
#
#   e2e/gpu/bundle.sh [BUILD_DIR [OUT_DIR]]    defaults: build-gpu, BUILD_DIR/h100-bundle
#
# BUILD_DIR must hold bin/skiff (with lib/skiff/) and test/test_*; build it with
#   cmake -S . -B build-gpu && cmake --build build-gpu -j2
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build-gpu}
OUT=${2:-$BUILD/h100-bundle}
CLI_BUILD=${CLI_BUILD:-$BUILD} # where bin/skiff comes from, if not BUILD
rm -rf "$OUT"
mkdir -p "$OUT"/{bin,lib,tests}

cp "$CLI_BUILD/bin/skiff" "$OUT/bin/"
if [[ -d $CLI_BUILD/lib/skiff ]]; then
  mkdir -p "$OUT/lib/skiff"
  cp -L "$CLI_BUILD"/lib/skiff/* "$OUT/lib/skiff/"
fi
# skiff finds its private libraries through $ORIGIN/../lib/skiff.
tests=(test_ldcache test_elf test_nvenv test_cdi test_discover test_require test_plan test_inject
  test_gpu_container)
for t in "${tests[@]}"; do
  [[ -x $BUILD/test/$t ]] && cp "$BUILD/test/$t" "$OUT/tests/"
done
# Shared libraries of the tests except glibc's own (the target's glibc is newer).
for f in "$OUT"/tests/*; do
  ldd "$f" | awk '/=> \//{print $3}'
done | sort -u | while read -r so; do
  case $(basename "$so") in
  libc.so.* | libm.so.* | libdl.so.* | libpthread.so.* | librt.so.* | libresolv.so.* | ld-linux*) ;;
  *) cp -L "$so" "$OUT/lib/" ;;
  esac
done
gcc -O2 -Wall -Wextra -o "$OUT/bin/cuprobe" e2e/gpu/cuprobe.c -ldl
gcc -O2 -Wall -Wextra -o "$OUT/bin/cuprobe-rpath" e2e/gpu/cuprobe.c -ldl \
  -Wl,-rpath,/run/opengl-driver/lib
gcc -O2 -Wall -Wextra -o "$OUT/bin/nvmlprobe" e2e/gpu/nvmlprobe.c -ldl
cp /bin/busybox "$OUT/bin/busybox"
echo "source dir of the fixtures baked into the tests: $(pwd)" >"$OUT/SOURCE_DIR"
du -sh "$OUT"
