#!/usr/bin/env bash
# Runs every test of skiff: installs dependencies, builds (release, ASan+UBSan, fuzz), runs the
# criterion unit suites, a bounded fuzz pass per target, the clang-format check, and the end-to-end
# scenarios against a private Debian containerd 1.6.20. Exit status 0 only if everything passed.
#
# Environment: JOBS (build parallelism), FUZZ_SECONDS (per fuzz target, default 10),
# SKIP_E2E=1, SKIP_ASAN=1, SKIP_FUZZ=1 (local iteration only; CI runs everything).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
failures=()

step() { printf '\n==== %s ====\n' "$*"; }

step "dependencies"
.ci/deps.sh

step "format check"
if ! git ls-files -z '*.c' '*.h' | xargs -0 clang-format --dry-run --Werror; then
  failures+=("clang-format")
fi

step "build (release)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSKIFF_WERROR=ON >/dev/null
cmake --build build -j"$JOBS"

step "unit tests"
ctest --test-dir build --output-on-failure || failures+=("unit tests")

if [[ ${SKIP_ASAN:-0} != 1 ]]; then
  step "unit tests under ASan+UBSan"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSKIFF_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$JOBS"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure || failures+=("asan unit tests")
fi

if [[ ${SKIP_FUZZ:-0} != 1 ]]; then
  step "fuzz targets (${FUZZ_SECONDS}s each)"
  CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSKIFF_FUZZ=ON \
    -DSKIFF_SANITIZE=ON -DSKIFF_TESTS=OFF >/dev/null
  cmake --build build-fuzz -j"$JOBS"
  for f in build-fuzz/fuzz/fuzz_*; do
    name=$(basename "$f")
    corpus_src=test/fuzz/corpus/${name#fuzz_}
    work=$(mktemp -d)
    [[ -d $corpus_src ]] && cp -r "$corpus_src"/. "$work"/
    echo "fuzz: $name"
    # Crash inputs go to build-fuzz/artifacts/NAME/, never into the working tree.
    mkdir -p "build-fuzz/artifacts/$name"
    if ! "$f" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -print_final_stats=0 \
      -artifact_prefix="build-fuzz/artifacts/$name/" "$work" >"$work.log" 2>&1; then
      tail -40 "$work.log"
      failures+=("fuzz $name (input in build-fuzz/artifacts/$name/)")
    fi
    rm -rf "$work" "$work.log"
  done
fi

if [[ ${SKIP_E2E:-0} != 1 ]]; then
  step "end to end: node store against nix-bin (no containerd)"
  SKIFF=$ROOT/build/bin/skiff e2e/store/run.sh || failures+=("e2e store")

  step "end to end: node installer, agent, chart lint, DaemonSet flow (e2e/node)"
  SKIFF=$ROOT/build/bin/skiff e2e/node/run.sh || failures+=("e2e node")

  step "end to end (containerd 1.6.20)"
  SKIFF_SHIM=$ROOT/build/bin/containerd-shim-skiff-v2 SKIFF_BIN=$ROOT/build/bin/skiff \
    e2e/run.sh || failures+=("e2e")
fi

if ((${#failures[@]})); then
  printf '\nFAILED: %s\n' "${failures[*]}"
  exit 1
fi
printf '\nALL TESTS PASSED\n'
