#!/usr/bin/env bash
# shellcheck disable=SC2317  # the image mutators are called indirectly (push_image NAME CFG FN)
# Runs the CRI validation suite (critest, kubernetes-sigs/cri-tools) against a private containerd
# 1.6 with the runtime handlers skiff and runc, fully offline: the images critest pulls are built
# locally (busybox-static based stand-ins), pushed to a docker-registry on 127.0.0.1 and served to
# containerd through a certs.d mirror for registry.k8s.io, gcr.io and docker.io.
#
# usage: e2e/cri/critest.sh [HANDLER...]          (default: skiff runc)
# env:   CRITEST (critest binary; default /tmp/critools/build/critest, see CRITEST.md),
#        CRITEST_VERSION (for the log header; default v1.31.1),
#        SKIFF_SHIM (default <repo>/build/bin/containerd-shim-skiff-v2),
#        REG_PORT (default 5000), CRITEST_FOCUS / CRITEST_SKIP (ginkgo regexps; CRITEST_SKIP
#        replaces the default skip list), CRITEST_ARGS (extra critest flags),
#        RESULTS (output directory; default e2e/cri/results), E2E_KEEP_TMP=1 keep logs.
# (critest runs the specs serially by default; passing --parallel, even 1, makes ginkgo refuse.)
set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export E2E_DIR
# shellcheck source=../lib/common.sh
source "$E2E_DIR/lib/common.sh"
# shellcheck source=../lib/containerd.sh
source "$E2E_DIR/lib/containerd.sh"
# shellcheck source=../lib/images.sh
source "$E2E_DIR/lib/images.sh"
# shellcheck source=../lib/registry.sh
source "$E2E_DIR/lib/registry.sh"

CRITEST=${CRITEST:-/tmp/critools/build/critest}
REG_PORT=${REG_PORT:-5000}
REGISTRY_BIN=${REGISTRY_BIN:-$(command -v docker-registry || echo docker-registry)}
PY=${PYTHON:-/usr/bin/python3}
REGPUSH=$E2E_DIR/lib/regpush.py
RESULTS=${RESULTS:-$E2E_DIR/cri/results}
HANDLERS=("$@")
((${#HANDLERS[@]})) || HANDLERS=(skiff runc)

# Specs that cannot run here:
#  - test-image-digest@sha256:9700...: a pinned digest of the upstream image, not reproducible.
#  - AppArmor/SELinux: disabled in this containerd (disable_apparmor, no SELinux).
#  - Benchmarks and Windows specs are not part of the Linux run.
DEFAULT_SKIP='digest|[Aa]pp[Aa]rmor|SELinux|[Bb]enchmark|[Ww]indows'
CRITEST_SKIP=${CRITEST_SKIP-$DEFAULT_SKIP}

[[ -x $CRITEST ]] || die "no critest at $CRITEST (see e2e/cri/CRITEST.md)"
[[ -x $REGISTRY_BIN ]] || die "no docker-registry ($REGISTRY_BIN)"
[[ $(id -u) == 0 ]] || die "needs root"

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export NO_PROXY=127.0.0.1,localhost,::1 no_proxy=127.0.0.1,localhost,::1
tmp_init
install_traps
on_exit ctrd_teardown
_ctrd_paths
images_build

# ---------------------------------------------------------------------------
# Test images: a copy of the busybox rootfs, changed by a function, pushed as REPO:TAG.

IMAGES_WORK=$E2E_TMP/critest-images
mkdir -p "$IMAGES_WORK"

# push_image NAME CONFIG_FRAGMENT [MUTATOR]: NAME is the path:tag in the registry.
push_image() {
  local name=$1 cfg=$2 mut=${3:-} w
  "$PY" -c 'import json, sys; json.loads(sys.argv[1])' "$cfg" || die "bad image config for $name: $cfg"
  w=$(mktemp -d "$IMAGES_WORK/img.XXXXXX")
  if [[ ! -d $IMAGES_WORK/base ]]; then
    cp -a "$BUSYBOX_ROOTFS" "$IMAGES_WORK/base"
    _tools "$IMAGES_WORK/base"
  fi
  cp -a "$IMAGES_WORK/base" "$w/rootfs"
  [[ -z $mut ]] || "$mut" "$w/rootfs"
  (umask 022 && _oci_layout "$w/layout" "$name" "$cfg" "$w/rootfs")
  "$PY" "$REGPUSH" "$w/layout" "127.0.0.1:$REG_PORT/$name" >/dev/null ||
    die "pushing $name failed"
  rm -rf "$w"
}

_web_root() {
  mkdir -p "$1/usr/share/nginx/html" "$1/var/run" "$1/usr/sbin"
  echo '<html><body>Welcome to nginx (skiff critest stand-in)</body></html>' \
    >"$1/usr/share/nginx/html/index.html"
  # A copy of busybox named nginx: comm is "nginx" (pidof nginx), argv[0] picks the httpd applet.
  install -m 0755 "$BUSYBOX_BIN" "$1/usr/sbin/nginx"
  mkdir -p "$1/etc/nginx"
  : >"$1/etc/nginx/master process.conf"
}
# Tools the specs exec that Debian's busybox-static lacks: pgrep (a /proc stand-in, matches
# comm against an ERE like pgrep without -f) and ipcs (the host's util-linux binary + its libc).
_tools() {
  mkdir -p "$1/usr/bin" "$1/lib/x86_64-linux-gnu" "$1/lib64"
  cat >"$1/usr/bin/pgrep" <<'EOS'
#!/bin/sh
# pgrep PATTERN (stand-in): pids whose comm matches the extended regexp PATTERN.
rc=1
for d in /proc/[0-9]*; do
  c=$(cat "$d/comm" 2>/dev/null) || continue
  if echo "$c" | grep -qE -- "$1"; then echo "${d#/proc/}"; rc=0; fi
done
exit $rc
EOS
  chmod 0755 "$1/usr/bin/pgrep"
  # Applets as hard links, like the upstream busybox images: a bind mount over a symlink (e.g.
  # MaskedPaths ["/bin/ls"]) would land on /bin/busybox itself.
  local a
  while IFS= read -r a; do
    rm -f "$a" && ln "$1/bin/busybox" "$a"
  done < <(find "$1/bin" -maxdepth 1 -type l -lname busybox)
  install -m 0755 /usr/bin/ipcs "$1/usr/bin/ipcs"
  install -m 0755 /lib/x86_64-linux-gnu/libc.so.6 "$1/lib/x86_64-linux-gnu/libc.so.6"
  install -m 0755 /lib64/ld-linux-x86-64.so.2 "$1/lib64/ld-linux-x86-64.so.2"
}
_www_data() {
  echo 'www-data:x:33:33:www-data:/var/www:/bin/false' >>"$1/etc/passwd"
  echo 'www-data:x:33:' >>"$1/etc/group"
}
_predefined_group() {
  echo 'default-user:x:1000:1000::/home/default-user:/bin/sh' >>"$1/etc/passwd"
  sed -i '/^user:/d' "$1/etc/passwd" "$1/etc/group"
  echo 'default-user:x:1000:' >>"$1/etc/group"
  echo 'group-defined-in-image:x:50000:default-user' >>"$1/etc/group"
}
# nonewprivs: a setuid-root program printing its effective uid (as the upstream image does).
_nonewprivs() {
  printf '#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf("Effective uid: %%d\\n", (int)geteuid()); return 0; }\n' >"$IMAGES_WORK/nnp.c"
  gcc -static -O2 -s -o "$1/nnp" "$IMAGES_WORK/nnp.c"
  chown 0:0 "$1/nnp"
  chmod 4755 "$1/nnp"
}
_marker() { : >"$1/$MARKER"; }

push_all() {
  local env="\"Env\":[\"$IMAGE_PATH_ENV\"]" web t u img
  push_image e2e-test-images/busybox:1.29-2 "{$env,\"Cmd\":[\"sh\"]}"
  # The config file's name puts "master process" in /proc/1/cmdline (spec ContainerPID greps it).
  web='echo $$ >/var/run/nginx.pid; exec -a httpd /usr/sbin/nginx -f -p %s -h /usr/share/nginx/html -c \\\"/etc/nginx/master process.conf\\\"'
  # shellcheck disable=SC2059
  push_image e2e-test-images/nginx:1.14-2 \
    "{$env,\"Entrypoint\":[\"/bin/sh\",\"-c\",\"$(printf "$web" 80)\"],\"ExposedPorts\":{\"80/tcp\":{}}}" _web_root
  # shellcheck disable=SC2059
  push_image k8s-staging-cri-tools/hostnet-nginx-amd64:latest \
    "{$env,\"Entrypoint\":[\"/bin/sh\",\"-c\",\"$(printf "$web" 12003)\"]}" _web_root
  push_image e2e-test-images/httpd:2.4.39-4 \
    "{$env,\"Entrypoint\":[\"/bin/sh\",\"-c\",\"echo \\\"AH00094: Command line: 'httpd -D FOREGROUND'\\\"; exec httpd -f -p 80 -h /usr/share/nginx/html\"]}" _web_root
  push_image e2e-test-images/nonewprivs:1.3 "{$env,\"Entrypoint\":[\"/nnp\"]}" _nonewprivs
  for u in test-image-user-uid=1002 test-image-user-username=www-data \
    test-image-user-uid-group=1003:1004 test-image-user-username-group=www-data:1004; do
    push_image "k8s-staging-cri-tools/${u%%=*}:latest" "{$env,\"Cmd\":[\"sh\"],\"User\":\"${u#*=}\"}" _www_data
  done
  push_image k8s-staging-cri-tools/test-image-predefined-group:latest \
    "{$env,\"Cmd\":[\"sh\"],\"User\":\"1000\"}" _predefined_group
  for img in test-image-1:latest test-image-2:latest test-image-3:latest \
    test-image-latest:latest test-image-tag:test test-image-tag:all; do
    MARKER=${img%%:*}-${img#*:} push_image "k8s-staging-cri-tools/$img" "{$env,\"Cmd\":[\"sh\"]}" _marker
  done
  for t in 1 2 3; do
    MARKER=same-image push_image "k8s-staging-cri-tools/test-image-tags:$t" "{$env,\"Cmd\":[\"sh\"]}" _marker
  done
}

registry_start
push_all

# ---------------------------------------------------------------------------
# containerd: every registry the specs name is mirrored to the local one.
ctrd_write_config
# Host ports (spec "port mapping with host port"): add the portmap plugin to the bridge network.
"$PY" - "$CTRD_DIR/net.d/10-skiff-e2e.conflist" <<'EOP'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["plugins"].append({"type": "portmap", "capabilities": {"portMappings": True}})
json.dump(c, open(p, "w"), indent=2)
EOP
for r in registry.k8s.io gcr.io docker.io "127.0.0.1:$REG_PORT"; do
  mkdir -p "$CTRD_DIR/certs.d/$r"
  cat >"$CTRD_DIR/certs.d/$r/hosts.toml" <<EOF
server = "http://127.0.0.1:$REG_PORT"

[host."http://127.0.0.1:$REG_PORT"]
  capabilities = ["pull", "resolve"]
EOF
done
cat >>"$CTRD_CONFIG" <<EOF

[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "$CTRD_DIR/certs.d"
EOF
# critest needs the sandbox image; the default one is registry.k8s.io/pause:<version>, ours is
# imported under $PAUSE_IMAGE (sandbox_image).
ctrd_start
images_import k8s.io >/dev/null
CTRD_VERSION=$("$CTR_BIN" -a "$SOCK" version 2>/dev/null | awk '/Server:/ { s = 1 } s && /Version:/ { print $2; exit }')
diag "containerd $CTRD_VERSION, socket $SOCK, tmp $E2E_TMP"

mkdir -p "$RESULTS"
rc_all=0
for h in "${HANDLERS[@]}"; do
  out=$RESULTS/critest-$h.log
  cmd=("$CRITEST" --runtime-endpoint "unix://$SOCK" --image-endpoint "unix://$SOCK"
    --runtime-handler "$h" -ginkgo.no-color -ginkgo.v)
  [[ -z $CRITEST_SKIP ]] || cmd+=("-ginkgo.skip=$CRITEST_SKIP")
  [[ -z ${CRITEST_FOCUS:-} ]] || cmd+=("-ginkgo.focus=$CRITEST_FOCUS")
  # shellcheck disable=SC2206
  cmd+=(${CRITEST_ARGS:-})
  {
    echo "# critest ${CRITEST_VERSION:-v1.31.1} (cri-tools, built from source with go test -c; $CRITEST)"
    echo "# containerd $CTRD_VERSION, runtime handler $h, shim $SKIFF_SHIM"
    echo "# date $(date -u '+%F %T UTC'), kernel $(uname -r)"
    echo "# command: ${cmd[*]}"
    echo
  } >"$out"
  diag "running critest with handler $h -> $out"
  rc=0
  (cd "$E2E_TMP" && "${cmd[@]}") >>"$out" 2>&1 || rc=$?
  echo "# critest exit status $rc" >>"$out"
  grep -E '^(Ran |FAIL!|SUCCESS!|PASS|FAIL)' "$out" | tail -n 3 | sed "s/^/# $h: /" >&2 || true
  xz -9 -c "$CTRD_LOG" >"$RESULTS/containerd-$h.log.xz" 2>/dev/null || true
  ((rc == 0)) || rc_all=1
done
exit "$rc_all"
