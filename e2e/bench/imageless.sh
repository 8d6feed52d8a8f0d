#!/usr/bin/env bash
# Imageless pod benchmarks (issue 5): starts a private containerd 1.6.20 with the skiff, runc and
# crun handlers (CRI registry config_path pointing at a certs.d that marks the local registry
# plain http), a docker-registry on 127.0.0.1, builds the offline fixtures (`skiff cache add`,
# generations written with `skiff publish`) and runs imageless.py (warm pod up vs runc/crun,
# rollback with the hub down vs warm, bytes fetched for a one-package change, cold start of a
# ~500 MiB environment vs pull + start of a ~500 MiB image, pushed to the registry with
# lib/regpush.py).
# env: N (rounds for the cheap phases, default 20), COLD_N (cold-start rounds, default 5),
#      BIG_MIB (size of each of the 5 data packages / image layers, default 100),
#      BIG_CONTENT (real: files of real software copied from this machine by lib/realtree.py,
#      REAL_ROOTS its roots; random: random bytes, the incompressible worst case; default real),
#      REG_PORT (registry port, default 5000), PHASES (default "warm rollback delta cold"),
#      SKIFF_SHIM (the shim; `skiff` is taken from the same directory),
#      PYTHON (with grpcio; default /usr/bin/python3), REGISTRY_BIN (default: docker-registry on
#      PATH), IMAGE_HANDLER (runtime handler of the image pod in `cold`, default runc).
# Needs docker-registry only for `cold`; runc and crun only for `warm` (and `cold` with
# IMAGE_HANDLER=runc). No skopeo, no nix, no Python modules beyond grpcio and protobuf.
set -euo pipefail
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export E2E_DIR
source "$E2E_DIR/lib/common.sh"
source "$E2E_DIR/lib/containerd.sh"
source "$E2E_DIR/lib/images.sh"
source "$E2E_DIR/lib/hugetlb.sh"
source "$E2E_DIR/lib/registry.sh"
PY=${PYTHON:-/usr/bin/python3}
SKIFF_BIN=${SKIFF_BIN:-$(dirname "$SKIFF_SHIM")/skiff}
[[ -x $SKIFF_SHIM && -x $SKIFF_BIN ]] || die "build the shim and skiff first ($SKIFF_SHIM)"
BIG_MIB=${BIG_MIB:-100}
REG_PORT=${REG_PORT:-5000}
PHASES=${PHASES:-warm rollback delta cold}
REGPUSH=$E2E_DIR/lib/regpush.py
has_phase() { [[ " $PHASES " == *" $1 "* ]]; }
if has_phase cold; then
  REGISTRY_BIN=${REGISTRY_BIN:-$(command -v docker-registry || echo docker-registry)}
  [[ -x $REGISTRY_BIN ]] || die "no docker-registry ($REGISTRY_BIN; set REGISTRY_BIN)"
fi
tmp_init
install_traps
on_exit ctrd_teardown
_ctrd_paths
hugetlb_mount
images_build >/dev/null

# rand_file FILE BYTES: random (incompressible) data.
rand_file() {
  if command -v openssl >/dev/null; then
    openssl rand -out "$1" "$2"
  else
    head -c "$2" /dev/urandom >"$1"
  fi
}

FIX=$E2E_TMP/imageless
mkdir -p "$FIX/src" "$FIX/data"
(
  set -e
  cd "$FIX"
  add() { "$SKIFF_BIN" cache add "$@" --to "file://$FIX/cache" --key sk; }
  # publish ENV ARGS...: the next generation of ENV (its store paths are named after the
  # packages: src/.../NAME). The conflict check realizes the closure into pubstore.
  publish() {
    "$SKIFF_BIN" publish "$1" --hub "$FIX/hub" --key sk --trusted-key pk \
      --cache "file://$FIX/cache" --work-store "$FIX/pubstore" "${@:2}" >/dev/null
  }
  "$SKIFF_BIN" cache keygen skiff-bench-1 --secret-file sk --public-file pk

  # acme/hello@1,2: shell (busybox) + hello, printing its generation.
  mkdir -p src/shell/bin
  cp "${BUSYBOX_BIN:-/bin/busybox}" src/shell/bin/busybox
  for a in sh env ls cat echo id sleep touch grep mount readlink test true; do
    ln -s busybox "src/shell/bin/$a"
  done
  shell=$(add src/shell)
  for g in 1 2; do
    mkdir -p "src/g$g/hello/bin"
    printf '#!%s/bin/sh\necho "hello from generation %s ($GREETING)"\n' "$shell" "$g" \
      >"src/g$g/hello/bin/hello"
    chmod 755 "src/g$g/hello/bin/hello"
  done
  hello1=$(add src/g1/hello)
  hello2=$(add src/g2/hello)
  publish acme/hello --paths "$shell" "$hello1" --var GREETING=gen1 --var TEST_MODE=document \
    --description first
  publish acme/hello --paths "$shell" "$hello2" --var GREETING=gen2 --live

  # acme/big@1: shell + 5 packages big1..big5 of BIG_MIB MiB each, zstd. The same files go
  # into the image below (data/big$i is layer i's /data/big$i), so both move the same bytes.
  if has_phase cold; then
    pkgs=("$shell")
    if [[ ${BIG_CONTENT:-real} == real ]]; then
      # shellcheck disable=SC2086
      /usr/bin/python3 "$E2E_DIR/lib/realtree.py" data/real $((5 * BIG_MIB)) 5 ${REAL_ROOTS:-} \
        >/dev/null
      for i in 1 2 3 4 5; do mv "data/real/pkg$i" "data/big$i"; done
    else
      for i in 1 2 3 4 5; do
        mkdir -p "data/big$i/share"
        rand_file "data/big$i/share/big$i.blob" $((BIG_MIB * 1048576))
      done
    fi
    for i in 1 2 3 4 5; do
      cp -al "data/big$i" "src/big$i"
      pkgs+=("$(add "src/big$i" --compression zstd)")
    done
    publish acme/big --paths "${pkgs[@]}" --live
  fi

  # acme/ten@1,2: shell + 9 packages ten1..ten9 of 1 MiB random each; gen 2 changes ten5 only.
  if has_phase delta; then
    pkgs=("$shell")
    for i in 1 2 3 4 5 6 7 8 9; do
      mkdir -p "src/ten$i/share"
      rand_file "src/ten$i/share/ten$i.blob" 1048576
      pkgs+=("$(add "src/ten$i" --compression zstd)")
    done
    publish acme/ten --paths "${pkgs[@]}"
    mkdir -p src/v2/ten5/share
    rand_file src/v2/ten5/share/ten5.blob 1048576
    p5=$(add src/v2/ten5 --compression zstd)
    pkgs[5]=$p5
    publish acme/ten --paths "${pkgs[@]}" --live
    url=$(awk '/^URL:/ { print $2 }' "cache/$(basename "$p5" | cut -c1-32).narinfo")
    printf '{"changed_path": "%s", "changed_nar": "%s"}\n' "$p5" "$url" >ten.json
  fi
  chmod -R u+w pubstore 2>/dev/null || true
  rm -rf pubstore
) || die "building the benchmark environments failed"
FIX_PK=$(cat "$FIX/pk")
# The generations imageless.py pins.
want="acme/hello/1 acme/hello/2"
has_phase cold && want+=" acme/big/1"
has_phase delta && want+=" acme/ten/1 acme/ten/2"
for g in $want; do
  [[ -f $FIX/hub/skiff/v1/${g%/*}/${g##*/}.json ]] || die "skiff publish did not write ${g%/*}@${g##*/}"
done

BIG_IMAGE=127.0.0.1:$REG_PORT/bench/big:1
if has_phase cold; then
  # The ~500 MiB image: 5 gzip layers (busybox + /data/big1, /data/big2 ... /data/big5), OCI
  # layout.
  L=$FIX/layout
  for i in 1 2 3 4 5; do
    r=$FIX/layers/r$i
    mkdir -p "$r/data"
    [[ $i == 1 ]] && cp -a "$BUSYBOX_ROOTFS/." "$r/"
    cp -al "$FIX/data/big$i" "$r/data/big$i"
  done
  GZIP_LEVEL=1 _oci_layout "$L" "$BIG_IMAGE" "{\"Env\":[\"$IMAGE_PATH_ENV\"],\"Cmd\":[\"sh\"]}" \
    "$FIX"/layers/r{1,2,3,4,5}
  rm -rf "$FIX/layers"

  registry_start
  "$PY" "$REGPUSH" "$L:1" "$BIG_IMAGE" >/dev/null || die "pushing the image to the registry failed"
  rm -rf "$L"
fi

# containerd with certs.d marking the registry plain http (CRI PullImage).
ctrd_write_config
mkdir -p "$CTRD_DIR/certs.d/127.0.0.1:$REG_PORT"
cat >"$CTRD_DIR/certs.d/127.0.0.1:$REG_PORT/hosts.toml" <<EOF
server = "http://127.0.0.1:$REG_PORT"

[host."http://127.0.0.1:$REG_PORT"]
  capabilities = ["pull", "resolve"]
EOF
cat >>"$CTRD_CONFIG" <<EOF

[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "$CTRD_DIR/certs.d"
EOF
ctrd_start
images_import k8s.io >/dev/null

echo "### Imageless pods (issue 5) ($(uname -r), containerd 1.6.20, $(date -u +%F), load $(cut -d' ' -f1-3 /proc/loadavg))"
# shellcheck disable=SC2086
SOCK=$SOCK FIX=$FIX FIX_PK=$FIX_PK SKIFF_NODE_CONFIG=${SKIFF_NODE_CONFIG:-$CTRD_DIR/skiff-config.json} \
  EMPTY_IMAGE=$EMPTY_IMAGE BUSYBOX_IMAGE=$BUSYBOX_IMAGE BIG_IMAGE=$BIG_IMAGE CTR=$CTR_BIN \
  IMAGE_HANDLER=${IMAGE_HANDLER:-runc} N=${N:-20} COLD_N=${COLD_N:-5} \
  "$PY" "$E2E_DIR/bench/imageless.py" $PHASES
echo
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
