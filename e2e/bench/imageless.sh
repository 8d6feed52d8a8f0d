#!/usr/bin/env bash
# Imageless pod benchmarks (issue 5): starts a private containerd 1.6.20 with the skiff, runc and
# crun handlers (CRI registry config_path pointing at a certs.d that marks the local registry
# plain http), a docker-registry on 127.0.0.1, builds the offline fixtures and runs
# imageless.py (warm pod up vs runc/crun, rollback with the hub down vs warm, bytes fetched for a
# one-package change, cold start of a ~500 MiB environment vs pull + start of a ~500 MiB image).
# env: N (rounds for the cheap phases, default 20), COLD_N (cold-start rounds, default 5),
#      BIG_MIB (size of each of the 5 data packages / image layers, default 100),
#      REG_PORT (registry port, default 5000), PHASES (default "warm rollback delta cold"),
#      SKIFF_SHIM (the shim; `skiff` is taken from the same directory).
set -euo pipefail
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export E2E_DIR
source "$E2E_DIR/lib/common.sh"
source "$E2E_DIR/lib/containerd.sh"
source "$E2E_DIR/lib/images.sh"
source "$E2E_DIR/lib/imageless.sh"
source "$E2E_DIR/lib/hugetlb.sh"
PY=${PYTHON:-/usr/bin/python3}
SKIFF_BIN=${SKIFF_BIN:-$(dirname "$SKIFF_SHIM")/skiff}
[[ -x $SKIFF_SHIM && -x $SKIFF_BIN ]] || die "build the shim and skiff first ($SKIFF_SHIM)"
BIG_MIB=${BIG_MIB:-100}
REG_PORT=${REG_PORT:-5000}
tmp_init
install_traps
on_exit ctrd_teardown
_ctrd_paths
hugetlb_mount
images_build >/dev/null

FIX=$E2E_TMP/imageless
imageless_fixture "$FIX" "$SKIFF_BIN" || die "building the imageless fixture failed"

# Random (incompressible) data shared by the environment and the image, so both move the same
# bytes.
mkdir -p "$FIX/data"
for i in 1 2 3 4 5; do
  openssl rand -out "$FIX/data/blob$i" $((BIG_MIB * 1048576))
done

# acme/big@1: shell + 5 packages of BIG_MIB MiB each, zstd.
(
  cd "$FIX"
  shell=$(sed -n 1p paths)
  pkgs=(--pkg "shell=$shell")
  for i in 1 2 3 4 5; do
    mkdir -p "src/big$i/share"
    ln "data/blob$i" "src/big$i/share/big$i.blob"
    p=$("$SKIFF_BIN" cache add "src/big$i" --to "file://$FIX/cache" --key sk --compression zstd)
    pkgs+=(--pkg "big$i=$p")
  done
  "$PY" "$E2E_DIR/lib/mkgen.py" --hub hub --cache cache --key sk --env acme/big --gen 1 \
    "${pkgs[@]}" --live >/dev/null

  # acme/ten@1,2: shell + 9 packages of 1 MiB random each; gen 2 changes pkg5 only.
  pkgs=(--pkg "shell=$shell")
  for i in 1 2 3 4 5 6 7 8 9; do
    mkdir -p "src/ten$i/share"
    openssl rand -out "src/ten$i/share/ten$i.blob" 1048576
    p=$("$SKIFF_BIN" cache add "src/ten$i" --to "file://$FIX/cache" --key sk --compression zstd)
    pkgs+=(--pkg "pkg$i=$p")
  done
  "$PY" "$E2E_DIR/lib/mkgen.py" --hub hub --cache cache --key sk --env acme/ten --gen 1 \
    "${pkgs[@]}" >/dev/null
  mkdir -p src/ten5b/share
  openssl rand -out src/ten5b/share/ten5.blob 1048576
  p5=$("$SKIFF_BIN" cache add src/ten5b --to "file://$FIX/cache" --key sk --compression zstd)
  pkgs[11]="pkg5=$p5"
  "$PY" "$E2E_DIR/lib/mkgen.py" --hub hub --cache cache --key sk --env acme/ten --gen 2 \
    "${pkgs[@]}" --live >/dev/null
  url=$(awk '/^URL:/ { print $2 }' "cache/$(basename "$p5" | cut -c1-32).narinfo")
  printf '{"changed_path": "%s", "changed_nar": "%s"}\n' "$p5" "$url" >ten.json
) || die "building the benchmark environments failed"

# The ~500 MiB image: 5 gzip layers (busybox + blob1, blob2 ... blob5), OCI layout.
BIG_IMAGE=127.0.0.1:$REG_PORT/bench/big:1
L=$FIX/layout
mkdir -p "$L/blobs/sha256" "$FIX/layers"
printf '{"imageLayoutVersion":"1.0.0"}' >"$L/oci-layout"
diffs="" layers=""
for i in 1 2 3 4 5; do
  r=$FIX/layers/r$i
  mkdir -p "$r/data"
  [[ $i == 1 ]] && cp -a "$BUSYBOX_ROOTFS/." "$r/"
  ln "$FIX/data/blob$i" "$r/data/blob$i"
  _det_tar "$r" >"$FIX/layers/l$i.tar"
  diffs+="${diffs:+,}\"sha256:$(_sha256 "$FIX/layers/l$i.tar")\""
  gzip -n -1 -c "$FIX/layers/l$i.tar" >"$FIX/layers/l$i.tar.gz"
  rm -f "$FIX/layers/l$i.tar"
  sz=$(_size "$FIX/layers/l$i.tar.gz")
  d=$(_blob_add "$L" "$FIX/layers/l$i.tar.gz")
  layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$d\",\"size\":$sz}"
done
printf '{"architecture":"amd64","os":"linux","config":{"Env":["%s"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
  "$IMAGE_PATH_ENV" "$diffs" >"$L/config.json"
csz=$(_size "$L/config.json")
cd_=$(_blob_add "$L" "$L/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[%s]}' \
  "$cd_" "$csz" "$layers" >"$L/manifest.json"
msz=$(_size "$L/manifest.json")
md=$(_blob_add "$L" "$L/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"1"}}]}' \
  "$md" "$msz" >"$L/index.json"
rm -rf "$FIX/layers"

# Local registry.
if ss -ltn "sport = :$REG_PORT" | grep -q LISTEN; then
  die "port $REG_PORT is in use (set REG_PORT)"
fi
mkdir -p "$E2E_TMP/registry"
cat >"$E2E_TMP/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $E2E_TMP/registry/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REG_PORT
EOF
setsid docker-registry serve "$E2E_TMP/registry/config.yml" >"$E2E_TMP/registry/log" 2>&1 </dev/null &
REG_PID=$!
on_exit kill "$REG_PID"
retry_until 20 curl -sf "http://127.0.0.1:$REG_PORT/v2/" >/dev/null || die "docker-registry did not start"
skopeo copy -q --dest-tls-verify=false "oci:$L:1" "docker://$BIG_IMAGE" >/dev/null ||
  die "skopeo copy to the registry failed"
rm -rf "$L"

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
  N=${N:-20} COLD_N=${COLD_N:-5} "$PY" "$E2E_DIR/bench/imageless.py" ${PHASES:-warm rollback delta cold}
echo
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
