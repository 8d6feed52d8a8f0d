# shellcheck shell=bash
# Common helpers for the skiff end-to-end tests: TAP reporting, assertions,
# retries, temporary directories and cleanup traps.
#
# Results are appended to "$E2E_RESULTS" (one line per check) so that test
# scripts running as subprocesses share one TAP numbering and one failure
# count with run.sh.

E2E_DIR=${E2E_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
E2E_REPO=${E2E_REPO:-$(cd "$E2E_DIR/.." && pwd)}
E2E_BUILD=${E2E_BUILD:-$E2E_REPO/build-e2e}
E2E_FAILURES=${E2E_FAILURES:-0}

# Print to stderr as a TAP diagnostic.
diag() {
  local line
  while IFS= read -r line; do
    printf '# %s\n' "$line" >&2
  done <<<"$*"
}

die() {
  diag "FATAL: $*"
  exit 1
}

# Next TAP number: shared through the results file when one exists.
_tap_next() {
  if [[ -n ${E2E_RESULTS:-} && -f $E2E_RESULTS ]]; then
    echo $(($(wc -l <"$E2E_RESULTS") + 1))
  else
    _E2E_TAP_N=$((${_E2E_TAP_N:-0} + 1))
    echo "$_E2E_TAP_N"
  fi
}

_tap_record() {
  # $1 = ok|not ok|skip, $2 = description
  if [[ -n ${E2E_RESULTS:-} ]]; then
    printf '%s\t%s\n' "$1" "$2" >>"$E2E_RESULTS"
  fi
}

# ok DESC: report a passing check.
ok() {
  local n
  n=$(_tap_next)
  printf 'ok %d - %s\n' "$n" "$1"
  _tap_record ok "$1"
}

# not_ok DESC [DIAGNOSTIC...]: report a failing check.
not_ok() {
  local n desc=$1
  shift
  n=$(_tap_next)
  printf 'not ok %d - %s\n' "$n" "$desc"
  _tap_record "not ok" "$desc"
  E2E_FAILURES=$((E2E_FAILURES + 1))
  if (($# > 0)); then
    diag "$*"
  fi
  return 0
}

# skip DESC REASON
skip() {
  local n
  n=$(_tap_next)
  printf 'ok %d - %s # SKIP %s\n' "$n" "$1" "$2"
  _tap_record skip "$1"
}

# check DESC CMD...: ok when CMD succeeds.
check() {
  local desc=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  if ((rc == 0)); then
    ok "$desc"
  else
    not_ok "$desc" "command failed (rc=$rc): $*"$'\n'"$out"
  fi
}

# check_fails DESC CMD...: ok when CMD fails.
check_fails() {
  local desc=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  if ((rc != 0)); then
    ok "$desc"
  else
    not_ok "$desc" "command unexpectedly succeeded: $*"$'\n'"$out"
  fi
}

# assert_eq DESC EXPECTED ACTUAL
assert_eq() {
  if [[ $2 == "$3" ]]; then
    ok "$1"
  else
    not_ok "$1" "expected: '$2'"$'\n'"actual:   '$3'"
  fi
}

# assert_same DESC EXPECTED ACTUAL: equal and not empty.
assert_same() {
  if [[ -n $2 && $2 == "$3" ]]; then
    ok "$1"
  else
    not_ok "$1" "expected: '$2' (non-empty)"$'\n'"actual:   '$3'"
  fi
}

# assert_ne DESC UNEXPECTED ACTUAL
assert_ne() {
  if [[ $2 != "$3" ]]; then
    ok "$1"
  else
    not_ok "$1" "value must differ from '$2'"
  fi
}

# assert_contains DESC HAYSTACK NEEDLE
assert_contains() {
  if [[ $2 == *"$3"* ]]; then
    ok "$1"
  else
    not_ok "$1" "expected to contain: '$3'"$'\n'"actual: '$2'"
  fi
}

# assert_not_contains DESC HAYSTACK NEEDLE
assert_not_contains() {
  if [[ $2 != *"$3"* ]]; then
    ok "$1"
  else
    not_ok "$1" "expected NOT to contain: '$3'"$'\n'"actual: '$2'"
  fi
}

# assert_line DESC OUTPUT LINE: OUTPUT has a line equal to LINE.
assert_line() {
  local l
  while IFS= read -r l; do
    if [[ $l == "$3" ]]; then
      ok "$1"
      return 0
    fi
  done <<<"$2"
  not_ok "$1" "expected a line: '$3'"$'\n'"actual: '$2'"
}

# assert_match DESC STRING ERE
assert_match() {
  if [[ $2 =~ $3 ]]; then
    ok "$1"
  else
    not_ok "$1" "expected to match /$3/"$'\n'"actual: '$2'"
  fi
}

# retry_until TIMEOUT_S CMD...: run CMD every 0.1 s until it succeeds or the
# timeout elapses. Returns CMD's last status.
retry_until() {
  local timeout=$1 deadline rc
  shift
  deadline=$(($(date +%s%N) + timeout * 1000000000))
  while :; do
    rc=0
    "$@" >/dev/null 2>&1 || rc=$?
    if ((rc == 0)); then
      return 0
    fi
    if (($(date +%s%N) >= deadline)); then
      return "$rc"
    fi
    sleep 0.1
  done
}

# Milliseconds since the epoch.
now_ms() {
  echo $(($(date +%s%N) / 1000000))
}

# median of numbers given as arguments (integers or decimals).
median() {
  if (($# == 0)); then
    echo n/a
    return 0
  fi
  printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {
    if (NR == 0) { print "n/a"; exit }
    if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# Unique name for containers etc.: PREFIX-<pid>-<counter>.
_E2E_UNIQ=0
uniq_name() {
  _E2E_UNIQ=$((_E2E_UNIQ + 1))
  echo "${1:-e2e}-$$-${_E2E_UNIQ}-$RANDOM"
}

# ---------------------------------------------------------------------------
# Temporary directory and cleanup.

# tmp_init: create $E2E_TMP (unless already set by a parent) and arrange for
# it to be removed by the cleanup trap.
tmp_init() {
  if [[ -z ${E2E_TMP:-} ]]; then
    E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/skiff-e2e.XXXXXX")
    _E2E_OWN_TMP=1
  fi
  mkdir -p "$E2E_TMP"
  export E2E_TMP
}

# mktemp_in_e2e [NAME]: a fresh directory below $E2E_TMP.
e2e_mktemp() {
  mktemp -d "$E2E_TMP/${1:-t}.XXXXXX"
}

_E2E_CLEANUPS=()

# on_exit CMD...: register a cleanup command (run in reverse order).
on_exit() {
  _E2E_CLEANUPS+=("$(printf '%q ' "$@")")
}

# umount_under DIR: unmount everything mounted at or below DIR, deepest first.
umount_under() {
  local dir=$1 mp
  [[ -n $dir && -d $dir ]] || return 0
  dir=$(realpath "$dir")
  # Field 5 of mountinfo is the mount point (octal escapes for spaces).
  awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
    sort -r | while IFS= read -r mp; do
      umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true
    done
}

_e2e_run_cleanups() {
  local rc=$? i
  trap - EXIT INT TERM
  set +e
  for ((i = ${#_E2E_CLEANUPS[@]} - 1; i >= 0; i--)); do
    eval "${_E2E_CLEANUPS[i]}"
  done
  if [[ ${_E2E_OWN_TMP:-0} == 1 && -n ${E2E_TMP:-} && ${E2E_KEEP_TMP:-0} != 1 ]]; then
    umount_under "$E2E_TMP"
    rm -rf "$E2E_TMP"
  fi
  exit "$rc"
}

# install_traps: run the registered cleanups on exit and on INT/TERM.
install_traps() {
  trap _e2e_run_cleanups EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
