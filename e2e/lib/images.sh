# shellcheck shell=bash
# Offline, deterministic OCI images for the e2e tests.
#
#   busybox  docker.io/library/busybox:e2e    busybox-static + applet links
#   pause    registry.k8s.io/pause:skiff-e2e   static C pause (lib/pause.c)
#   empty    skiff.dev/empty:1                 a few empty directories
#
# Each image is an OCI layout (oci-layout, index.json, blobs/sha256) tarred
# deterministically; tarballs are cached in $E2E_BUILD/images keyed by the
# hash of their inputs.
#
# Requires common.sh (and containerd.sh for images_import).

E2E_IMAGES_DIR=${E2E_IMAGES_DIR:-$E2E_BUILD/images}
BUSYBOX_BIN=${BUSYBOX_BIN:-/bin/busybox}
IMAGE_PATH_ENV="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Deterministic tar of the contents of DIR to stdout.
_det_tar() {
  tar -C "$1" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    --format=gnu -cf - .
}

_sha256() {
  sha256sum "$1" | cut -d' ' -f1
}

# _blob_add LAYOUT FILE: move FILE into LAYOUT/blobs/sha256; print digest.
_blob_add() {
  local d
  d=$(_sha256 "$2")
  mv "$2" "$1/blobs/sha256/$d"
  echo "$d"
}

_size() {
  stat -c %s "$1"
}

# _oci_layout LAYOUT_DIR IMAGE_NAME CONFIG_JSON_FRAGMENT ROOTFS_DIR...
# One gzip layer per ROOTFS_DIR, in order (gzip level GZIP_LEVEL, default 9). CONFIG_JSON_FRAGMENT
# is the content of the image config's "config" object.
_oci_layout() {
  local layout=$1 name=$2 cfg=$3 rootfs size digest
  local raw="$layout/layer.tar" gz="$layout/layer.tar.gz"
  local diffs="" layers="" config config_size manifest manifest_size
  mkdir -p "$layout/blobs/sha256"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"

  for rootfs in "${@:4}"; do
    _det_tar "$rootfs" >"$raw"
    diffs+="${diffs:+,}\"sha256:$(_sha256 "$raw")\""
    gzip -n "-${GZIP_LEVEL:-9}" -c "$raw" >"$gz"
    rm -f "$raw"
    size=$(_size "$gz")
    digest=$(_blob_add "$layout" "$gz")
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$digest\",\"size\":$size}"
  done

  printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":[%s]},"history":[{"created_by":"skiff e2e images.sh"}]}' \
    "$cfg" "$diffs" >"$layout/config.json"
  config_size=$(_size "$layout/config.json")
  config=$(_blob_add "$layout" "$layout/config.json")

  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[%s]}' \
    "$config" "$config_size" "$layers" >"$layout/manifest.json"
  manifest_size=$(_size "$layout/manifest.json")
  manifest=$(_blob_add "$layout" "$layout/manifest.json")

  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest" "$manifest_size" "$name" "${name##*:}" >"$layout/index.json"
}

_rootfs_busybox() {
  local r=$1 a
  mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home/user,proc,sys,dev,run,var/tmp}
  chmod 1777 "$r/tmp" "$r/var/tmp"
  chmod 0700 "$r/root"
  install -m 0755 "$BUSYBOX_BIN" "$r/bin/busybox"
  for a in $("$BUSYBOX_BIN" --list); do
    [[ $a == busybox || -e $r/bin/$a ]] || ln -s busybox "$r/bin/$a"
  done
  cat >"$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
  cat >"$r/etc/group" <<'EOF'
root:x:0:
user:x:1000:
nogroup:x:65534:
EOF
  : >"$r/etc/hosts"
  : >"$r/etc/resolv.conf"
  echo e2e >"$r/etc/hostname"
  chmod -R u+rwX,go+rX,go-w "$r/etc"
}

_rootfs_pause() {
  local r=$1
  mkdir -p "$r"/{proc,sys,dev,etc,tmp}
  gcc -static -O2 -s -o "$r/pause" "$E2E_DIR/lib/pause.c"
}

_rootfs_empty() {
  local r=$1
  mkdir -p "$r"/{etc,tmp,proc,sys,dev}
  chmod 1777 "$r/tmp"
}

# _image_key KIND: hash of everything the image depends on.
_image_key() {
  {
    echo "$1"
    cat "$E2E_DIR/lib/images.sh"
    case $1 in
      busybox) _sha256 "$BUSYBOX_BIN" ;;
      pause)
        cat "$E2E_DIR/lib/pause.c"
        gcc --version | head -n1
        ;;
    esac
  } | sha256sum | cut -c1-16
}

# image_build KIND NAME CONFIG: print the path of the cached tarball, building
# it when missing. With E2E_IMAGES_PREBUILT=1 the one KIND-*.tar already in
# $E2E_IMAGES_DIR is used as it is (no key, no gcc or busybox needed; a
# machine that only got the tarballs, see e2e/device/run.sh).
image_build() {
  local kind=$1 name=$2 cfg=$3 key out work
  if [[ ${E2E_IMAGES_PREBUILT:-0} == 1 ]]; then
    out=$(compgen -G "$E2E_IMAGES_DIR/$kind-*.tar" | head -n1) || true
    [[ -s $out ]] || die "E2E_IMAGES_PREBUILT=1 but no $kind-*.tar in $E2E_IMAGES_DIR"
    echo "$out"
    return 0
  fi
  key=$(_image_key "$kind")
  out="$E2E_IMAGES_DIR/$kind-$key.tar"
  if [[ ! -s $out ]]; then
    mkdir -p "$E2E_IMAGES_DIR"
    work=$(mktemp -d "$E2E_IMAGES_DIR/.build-$kind.XXXXXX")
    (
      umask 022
      "_rootfs_$kind" "$work/rootfs"
      _oci_layout "$work/layout" "$name" "$cfg" "$work/rootfs"
      _det_tar "$work/layout" >"$work/image.tar"
    )
    # Keep the rootfs next to the tarball: tests use it with --rootfs/--config.
    rm -rf "$E2E_IMAGES_DIR/$kind-$key.rootfs"
    mv "$work/rootfs" "$E2E_IMAGES_DIR/$kind-$key.rootfs"
    mv "$work/image.tar" "$out"
    rm -rf "$work"
    # Drop the builds of older inputs.
    find "$E2E_IMAGES_DIR" -maxdepth 1 -name "$kind-*" ! -name "$kind-$key.*" -exec rm -rf {} +
  fi
  echo "$out"
}

# images_build: build (or reuse) all three tarballs; sets BUSYBOX_TAR,
# PAUSE_TAR, EMPTY_TAR and BUSYBOX_ROOTFS.
images_build() {
  BUSYBOX_TAR=$(image_build busybox "$BUSYBOX_IMAGE" \
    "{\"Env\":[\"$IMAGE_PATH_ENV\"],\"Cmd\":[\"sh\"],\"WorkingDir\":\"/\"}")
  PAUSE_TAR=$(image_build pause "$PAUSE_IMAGE" \
    "{\"Env\":[\"$IMAGE_PATH_ENV\"],\"Entrypoint\":[\"/pause\"]}")
  EMPTY_TAR=$(image_build empty "$EMPTY_IMAGE" "{\"Env\":[\"$IMAGE_PATH_ENV\"]}")
  BUSYBOX_ROOTFS=${BUSYBOX_TAR%.tar}.rootfs
  export BUSYBOX_TAR PAUSE_TAR EMPTY_TAR BUSYBOX_ROOTFS
}

# images_import [NAMESPACES...]: import the tarballs (unpacked for overlayfs)
# into each namespace (default: e2e and k8s.io).
images_import() {
  local ns t nss=("$@")
  ((${#nss[@]})) || nss=(e2e k8s.io)
  for ns in "${nss[@]}"; do
    for t in "$BUSYBOX_TAR" "$PAUSE_TAR" "$EMPTY_TAR"; do
      if ! "$CTR_BIN" -a "$SOCK" -n "$ns" images import --snapshotter overlayfs \
        "$t" >/dev/null; then
        ctrd_dump_log 40
        die "import of $t into $ns failed"
      fi
    done
  done
}
