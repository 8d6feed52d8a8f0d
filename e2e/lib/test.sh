# shellcheck shell=bash
# Sourced by every tests/NN-*.sh: loads the libraries and installs the
# cleanup trap. run.sh exports E2E_TMP, SOCK, RUNTIME, E2E_RESULTS, ...
_E2E_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$_E2E_LIB/common.sh"
# shellcheck source=containerd.sh
source "$_E2E_LIB/containerd.sh"
# shellcheck source=images.sh
source "$_E2E_LIB/images.sh"
[[ -n ${E2E_TMP:-} && -n ${RUNTIME:-} ]] || die "run the tests through e2e/run.sh"
install_traps
# shellcheck disable=SC2034 # used by the tests
PTYRUN=("${PYTHON:-/usr/bin/python3}" "$_E2E_LIB/ptyrun.py")
# shellcheck disable=SC2034 # used by the tests
BB=$BUSYBOX_IMAGE
