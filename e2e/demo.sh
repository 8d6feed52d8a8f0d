#!/usr/bin/env bash
# The skiff demo, on a fresh Debian 12 machine as root: installs dependencies, builds skiff,
# starts a private containerd 1.6.20 with the `skiff` runtime handler, publishes an environment
# (acme/hello@1 and @2: busybox + a `hello` package, made offline with `skiff cache add`) into a
# local hub, and runs an imageless pod through CRI (the kubelet's path): the pod names
# `skiff.dev/environment: acme/hello@1` on the empty stub image, containerd-shim-skiff-v2
# realizes the environment and mounts it — no image pull, no runc. Then it rolls out @2 and rolls
# back to @1 with the hub gone. Everything is torn down at the end.
set -euo pipefail
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$E2E_DIR/.." && pwd)
export E2E_DIR

"$REPO/.ci/deps.sh"
cmake -S "$REPO" -B "$REPO/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$REPO/build" -j"$(nproc)" --target containerd-shim-skiff-v2 skiff >/dev/null
export SKIFF_SHIM=$REPO/build/bin/containerd-shim-skiff-v2

source "$E2E_DIR/lib/common.sh"
source "$E2E_DIR/lib/containerd.sh"
source "$E2E_DIR/lib/images.sh"
source "$E2E_DIR/lib/imageless.sh"
tmp_init
install_traps
on_exit ctrd_teardown
_ctrd_paths
export SKIFF_NODE_CONFIG=$CTRD_DIR/skiff-config.json
images_build >/dev/null
ctrd_start
images_import e2e k8s.io >/dev/null

FIX=$E2E_TMP/demo-env
imageless_fixture "$FIX" "$REPO/build/bin/skiff"
imageless_config "$SKIFF_NODE_CONFIG" "$FIX/node" "file://$FIX/hub" "file://$FIX/cache"
echo "== containerd $("$CTR_BIN" -a "$SOCK" version | awk '/Server:/{s=1} s&&/Version:/{print $2; exit}') with runtime handler skiff -> $SKIFF_SHIM"
echo "== hub file://$FIX/hub: acme/hello generations $(ls "$FIX/hub/skiff/v1/acme/hello" | grep -c '^[0-9]*\.json$'), node config $SKIFF_NODE_CONFIG"
SOCK=$SOCK EMPTY_IMAGE=$EMPTY_IMAGE FIX=$FIX /usr/bin/python3 - <<'PY'
import json, os, sys, time
sys.path.insert(0, os.path.join(os.environ["E2E_DIR"], "cri"))
from cri import Cri, pb, security

cri = Cri(os.environ["SOCK"], handler="skiff")
image = os.environ["EMPTY_IMAGE"]
config = os.environ["SKIFF_NODE_CONFIG"]


def pod_at(gen, name):
    t0 = time.perf_counter()
    pod, cfg = cri.run_pod(name, annotations={"skiff.dev/environment": "acme/hello@%d" % gen})
    cid = cri.create_container(pod, cfg, "hello", image,
                               ["sh", "-c", "hello; exec sleep 3600"],
                               security=security(run_as_user=1000, seccomp="RuntimeDefault"))
    cri.start(cid)
    ms = (time.perf_counter() - t0) * 1000
    time.sleep(0.3)
    log = open(os.path.join(cfg.log_directory, "hello.log")).read().strip().split(" ", 3)[-1]
    print("pod %s at acme/hello@%d up in %.0f ms on image %s; it says: %s"
          % (pod[:12], gen, ms, image, log))
    return pod, cid


pod, cid = pod_at(1, "demo")
for cmd in (["ls", "/nix/store"], ["sh", "-c", "echo PATH=$PATH; echo SKIFF_ENV_REF=$SKIFF_ENV_REF"],
            ["ls", "/run/skiff/env/bin"]):
    rc, out, err = cri.exec_sync(cid, cmd)
    print("$ %s\n%s" % (" ".join(cmd), out.rstrip()))
cri.stop(cid, 0); cri.remove(cid); cri.stop_pod(pod); cri.remove_pod(pod)

pod, cid = pod_at(2, "demo-v2")
cri.stop(cid, 0); cri.remove(cid); cri.stop_pod(pod); cri.remove_pod(pod)

cfg = json.load(open(config))
cfg["hub"] = "http://127.0.0.1:9/unreachable"
json.dump(cfg, open(config, "w"))
print("hub is now unreachable; rolling back")
pod, cid = pod_at(1, "demo-undo")
cri.stop(cid, 0); cri.remove(cid); cri.stop_pod(pod); cri.remove_pod(pod)
print("pods removed")
PY
