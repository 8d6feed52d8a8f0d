# shellcheck shell=bash
# Helpers shared by e2e/device/run.sh and e2e/device/bench.sh (sourced; they run on the device
# machine: no Debian tools, maybe no xz(1)).

# dev_unpack ARCHIVE DIR: empties DIR and unpacks the .tar.xz ARCHIVE into it, with xz(1) or,
# where that is missing, Python's tarfile; then writes DIR/.unpacked (the archive's size and
# mtime, see dev_unpacked). Returns non-zero on failure.
dev_unpack() {
  local archive=$1 dir=$2
  rm -rf "$dir"
  mkdir -p "$dir"
  if command -v xz >/dev/null; then
    tar -C "$dir" -xJf "$archive"
  else
    python3 - "$archive" "$dir" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1], "r:xz") as t:
    kw = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
    t.extractall(sys.argv[2], **kw)
PY
  fi || return 1
  stat -c '%s %Y' "$archive" >"$dir/.unpacked"
}

# dev_unpacked ARCHIVE DIR: DIR holds what dev_unpack made of this ARCHIVE (same size and mtime).
dev_unpacked() {
  [[ -f $2/.unpacked && $(stat -c '%s %Y' "$1" 2>/dev/null) == "$(cat "$2/.unpacked")" ]]
}

# dev_python DEV ROOT: sets DEV_PY to the first of $PYTHON, python3, /usr/bin/python3,
# /opt/torch/.venv/bin/python3 that imports grpc, protobuf and the CRI modules (ROOT/e2e/cri with
# the generated ones in DEV/py); failing that, the first that does with protobuf's pure-Python
# implementation (then PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python is exported and DEV_PY_NOTE
# says so); failing that, python3 with DEV_PY_NOTE a warning, and returns 1.
# shellcheck disable=SC2034 # DEV_PY and DEV_PY_NOTE are for the caller
dev_python() {
  local dev=$1 root=$2 p
  DEV_PY='' DEV_PY_NOTE=''
  _dev_py_ok() { SKIFF_CRI_PY=$dev/py PYTHONPATH=$root/e2e/cri "$1" -c 'import cri' >/dev/null 2>&1; }
  for p in ${PYTHON:-} python3 /usr/bin/python3 /opt/torch/.venv/bin/python3; do
    if command -v "$p" >/dev/null && _dev_py_ok "$p"; then
      DEV_PY=$(command -v "$p")
      return 0
    fi
  done
  for p in ${PYTHON:-} python3 /usr/bin/python3 /opt/torch/.venv/bin/python3; do
    if command -v "$p" >/dev/null && PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python _dev_py_ok "$p"; then
      DEV_PY=$(command -v "$p")
      export PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python
      DEV_PY_NOTE="note: the CRI modules import only with PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python"
      return 0
    fi
  done
  DEV_PY=$(command -v python3 || echo /usr/bin/python3)
  DEV_PY_NOTE="warning: no python imports grpc + protobuf + the CRI modules; using $DEV_PY"
  return 1
}
