#!/usr/bin/python3
"""Imageless pod benchmarks (issue 5), run by e2e/bench/imageless.sh. Prints markdown tables.

Phases (argv, default all, in this order because `cold` wipes the node store):
  warm      pod up (RunPodSandbox + CreateContainer + StartContainer, host network) of an
            imageless pod (stub image, environment already realized) vs runc and crun with the
            busybox image; interleaved round-robin, N rounds.
  rollback  pod at @1 after a pod at @2 with the hub server stopped vs the same pod with the hub
            up (warm start); interleaved, N rounds.
  delta     bytes and requests at the server when gen 2 of a 10-package environment (one package
            changed) is realized after gen 1.
  cold      cold start of a ~500 MiB environment from a zstd cache on 127.0.0.1 (node store wiped
            before every run) vs CRI PullImage + pod up of an equivalent image from a local
            docker-registry (image removed from every containerd namespace before every pull),
            the image's pod run by the IMAGE_HANDLER runtime handler; interleaved, COLD_N rounds.

Environment: SOCK, FIX (fixture dir: hub/, cache/, sk, paths, ten.json), SKIFF_NODE_CONFIG,
FIX_PK, EMPTY_IMAGE, BUSYBOX_IMAGE, BIG_IMAGE (registry reference, plain http), CTR,
IMAGE_HANDLER (default runc), N (default 20), COLD_N (default 5).
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.parse

_E2E = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(_E2E, "cri"))
sys.path.insert(0, os.path.join(_E2E, "lib"))
from cri import Cri  # noqa: E402
import regpush  # noqa: E402

SOCK = os.environ["SOCK"]
FIX = os.environ["FIX"]
NODE_CONFIG = os.environ["SKIFF_NODE_CONFIG"]
EMPTY = os.environ.get("EMPTY_IMAGE", "skiff.dev/empty:1")
BUSYBOX = os.environ.get("BUSYBOX_IMAGE", "docker.io/library/busybox:e2e")
BIG_IMAGE = os.environ.get("BIG_IMAGE", "")
CTR = os.environ.get("CTR", "/usr/bin/ctr")
IMAGE_HANDLER = os.environ.get("IMAGE_HANDLER", "runc")
N = int(os.environ.get("N", "20"))
COLD_N = int(os.environ.get("COLD_N", "5"))
STORE_ROOT = os.path.join(FIX, "node")
CMD = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]


class Server:
    """Static file server on 127.0.0.1 (fixed port across restarts) counting GETs and bytes.

    It is e2e/store/httpd.py in its own process, so stop() is a real server going away (the
    listening socket closes with the process) and no server thread shares the harness's
    interpreter while pods are timed."""

    def __init__(self, root):
        self.root = root
        self.port = 0
        self.proc = None
        self.log = os.path.join(root, ".httpd.log")
        open(self.log, "w").close()
        self.reset()
        self.start()

    def _lines(self):
        with open(self.log) as f:
            return [ln.split(" ", 1)[1].strip() for ln in f if ln.startswith("GET ")]

    def reset(self):
        self.skip = len(self._lines())

    @property
    def requests(self):
        """(path, bytes) of every GET since the last reset()."""
        out = []
        for path in self._lines()[self.skip:]:
            f = os.path.join(self.root, urllib.parse.unquote(path.split("?", 1)[0]).lstrip("/"))
            out.append((path, os.path.getsize(f) if os.path.isfile(f) else 0))
        return out

    def start(self):
        portfile = os.path.join(self.root, ".httpd.port")
        if os.path.exists(portfile):
            os.unlink(portfile)
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, os.path.join(_E2E, "store", "httpd.py"), self.root, portfile,
                 str(self.port)], stdout=log, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists(portfile):
                break
            if self.proc.poll() is not None:
                sys.exit("imageless.py: the cache server exited (port %d)" % self.port)
            time.sleep(0.025)
        else:
            sys.exit("imageless.py: the cache server did not start")
        self.port = int(open(portfile).read())
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def write_config(hub, subs):
    cfg = {
        "store_root": STORE_ROOT,
        "hub": hub,
        "substituters": subs,
        "trusted_public_keys": [os.environ["FIX_PK"]],
        "realize_timeout": 120,
        "keep_generations": 3,
        "connect_timeout": 2,
        "retries": 0,
    }
    os.makedirs(os.path.dirname(NODE_CONFIG), exist_ok=True)
    with open(NODE_CONFIG + ".tmp", "w") as f:
        json.dump(cfg, f)
    os.rename(NODE_CONFIG + ".tmp", NODE_CONFIG)


LAST_SPLIT = [0.0, 0.0, 0.0]  # RunPodSandbox, CreateContainer, StartContainer of the last pod_up


def pod_up(cri, image, env=None):
    ann = {"skiff.dev/environment": env} if env else None
    t0 = time.perf_counter()
    pid, cfg = cri.run_pod("bench", host_network=True, annotations=ann)
    t1 = time.perf_counter()
    cid = cri.create_container(pid, cfg, "c", image, CMD)
    t2 = time.perf_counter()
    cri.start(cid)
    t3 = time.perf_counter()
    LAST_SPLIT[:] = [(t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000]
    return pid, cid, (t3 - t0) * 1000


def teardown(cri, pid, cid):
    cri.stop(cid, 0)
    cri.remove(cid)
    cri.stop_pod(pid)
    cri.remove_pod(pid)


def once(cri, image, env=None):
    p, c, ms = pod_up(cri, image, env)
    teardown(cri, p, c)
    return ms


def med(xs):
    return statistics.median(xs)


def row(*cells):
    print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


def phase_warm(srv):
    write_config(srv.url + "/hub", [srv.url + "/cache"])
    cl = {h: Cri(SOCK, handler=h) for h in ("skiff", "runc", "crun")}
    kinds = [("skiff (imageless, acme/hello@1, stub image)", "skiff", EMPTY, "acme/hello@1"),
             ("runc (busybox image)", "runc", BUSYBOX, None),
             ("crun (busybox image)", "crun", BUSYBOX, None)]
    for _, h, img, env in kinds:  # warm up: realizes the environment once
        once(cl[h], img, env)
    res = {k[0]: [] for k in kinds}
    for _ in range(N):
        for name, h, img, env in kinds:
            res[name].append(once(cl[h], img, env))
    print("\n#### 1. Warm pod up (host network)\n")
    row("pod", "pod up median (ms)", "min", "max", "n")
    print("|---|---|---|---|---|")
    for name, _, _, _ in kinds:
        xs = res[name]
        row(name, "%.1f" % med(xs), "%.1f" % min(xs), "%.1f" % max(xs), len(xs))
    s, r, c = (med(res[k[0]]) for k in kinds)
    print("\nskiff / runc = %.2f (target <= 0.5); skiff / crun = %.2f" % (s / r, s / c))
    return s


def phase_rollback(srv):
    write_config(srv.url + "/hub", [srv.url + "/cache"])
    cri = Cri(SOCK, handler="skiff")
    once(cri, EMPTY, "acme/hello@1")
    once(cri, EMPTY, "acme/hello@2")
    warm, down, settled, back, reqs = [], [], [], [], 0
    splits = {"hub stopped": [], "closed port": [], "warm": [], "control": []}
    for _ in range(N):
        once(cri, EMPTY, "acme/hello@2")      # the rollout
        srv.stop()                            # the hub goes away
        down.append(once(cri, EMPTY, "acme/hello@1"))
        splits["hub stopped"].append(list(LAST_SPLIT))
        srv.start()
        # The same rollback with the hub unreachable another way: the server keeps running and
        # the node config names a closed port (tells the hub's absence from the harness's).
        write_config("http://127.0.0.1:9/hub", ["http://127.0.0.1:9/cache"])
        once(cri, EMPTY, "acme/hello@2")
        settled.append(once(cri, EMPTY, "acme/hello@1"))
        splits["closed port"].append(list(LAST_SPLIT))
        write_config(srv.url + "/hub", [srv.url + "/cache"])
        before = len(srv.requests)
        warm.append(once(cri, EMPTY, "acme/hello@1"))
        splits["warm"].append(list(LAST_SPLIT))
        reqs += len(srv.requests) - before
        once(cri, EMPTY, "acme/hello@2")      # control: the same rollback with the hub up
        back.append(once(cri, EMPTY, "acme/hello@1"))
        splits["control"].append(list(LAST_SPLIT))
    print("\n#### 4. Rollback with the hub down vs warm start (host network)\n")
    row("pod", "pod up median (ms)", "min", "max", "n")
    print("|---|---|---|---|---|")
    row("acme/hello@1 after @2, hub server stopped", "%.1f" % med(down), "%.1f" % min(down),
        "%.1f" % max(down), len(down))
    row("acme/hello@1 after @2, config names a closed port", "%.1f" % med(settled),
        "%.1f" % min(settled), "%.1f" % max(settled), len(settled))
    row("acme/hello@1 warm, hub up", "%.1f" % med(warm), "%.1f" % min(warm),
        "%.1f" % max(warm), len(warm))
    row("acme/hello@1 after @2, hub up (control)", "%.1f" % med(back), "%.1f" % min(back),
        "%.1f" % max(back), len(back))
    print("\nhub down / warm = %.2f (target: equal); requests to the server during the %d warm "
          "@1 pods: %d" % (med(down) / med(warm), N, reqs))
    for name, xs in (("hub stopped", down), ("closed port", settled), ("warm", warm),
                     ("control", back)):
        print("\nraw %s (ms, in order): %s" % (name, " ".join("%.0f" % x for x in xs)))
    print("\nmedian split RunPodSandbox / CreateContainer / StartContainer (ms): " + "; ".join(
        "%s %s" % (k, " / ".join("%.1f" % med([x[i] for x in v]) for i in range(3)))
        for k, v in splits.items()))


def phase_delta(srv):
    write_config(srv.url + "/hub", [srv.url + "/cache"])
    ten = json.load(open(os.path.join(FIX, "ten.json")))
    cri = Cri(SOCK, handler="skiff")
    srv.reset()
    once(cri, EMPTY, "acme/ten@1")
    g1 = list(srv.requests)
    srv.reset()
    once(cri, EMPTY, "acme/ten@2")
    g2 = list(srv.requests)
    changed = ten["changed_nar"]  # cache-relative NAR URL of the changed package in gen 2
    print("\n#### 3. Bytes fetched when one package of a 10-package environment changes\n")
    row("realize", "requests", "NAR requests", "bytes fetched", "NAR bytes")
    print("|---|---|---|---|---|")
    for name, rq in (("acme/ten@1 (fresh node)", g1), ("acme/ten@2 after @1", g2)):
        nars = [r for r in rq if "/nar/" in r[0]]
        row(name, len(rq), len(nars), sum(b for _, b in rq), sum(b for _, b in nars))
    print("\ngen 2 requests: " + ", ".join("`%s` (%d B)" % r for r in g2))
    nars2 = sorted(p for p, _ in g2 if "/nar/" in p)
    ok = nars2 == ["/cache/" + changed]
    print("\nchanged package NAR: `%s` (%d B); gen 2 fetched only that NAR: %s" % (
        changed, os.path.getsize(os.path.join(FIX, "cache", changed)), "yes" if ok else "NO"))


def wipe_store():
    if os.path.isdir(STORE_ROOT):
        subprocess.run(["chmod", "-R", "u+w", STORE_ROOT], check=False)
        shutil.rmtree(STORE_ROOT)


def ctr(ns, *args):
    return subprocess.run([CTR, "-a", SOCK, "-n", ns] + list(args), capture_output=True,
                          text=True)


def _ld(field, data):
    """A length-delimited protobuf field."""
    n, out = len(data), bytearray([field << 3 | 2])
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out) + data


def image_call(cri, method, ref, timeout=300):
    """CRI ImageService PullImage / RemoveImage (request: field 1 = ImageSpec{1: image}),
    encoded here because e2e/cri/cri.proto carries only ListImages."""
    fn = cri.channel.unary_unary("/runtime.v1.ImageService/" + method,
                                 request_serializer=None, response_deserializer=None)
    return fn(_ld(1, _ld(1, ref.encode())), timeout=timeout)


def remove_image_everywhere(cri, ref):
    try:
        image_call(cri, "RemoveImage", ref)
    except Exception:  # noqa: BLE001 - not present
        pass
    for ns in ctr("default", "namespaces", "ls", "-q").stdout.split():
        names = ctr(ns, "images", "ls", "-q").stdout.split()
        gone = [n for n in names if n.startswith(ref.rsplit(":", 1)[0])]
        if gone:
            ctr(ns, "images", "rm", "--sync", *gone)


def layer_digests():
    base, name, tag = regpush.split_ref(BIG_IMAGE)
    manifest = regpush.Registry(base, name).get_manifest(tag)
    return [layer["digest"].split(":")[1] for layer in manifest["layers"]]


def content_left(digests):
    left = 0
    for ns in ctr("default", "namespaces", "ls", "-q").stdout.split():
        have = ctr(ns, "content", "ls", "-q").stdout
        left += sum(1 for d in digests if d in have)
    return left


def phase_cold(srv):
    write_config(srv.url + "/hub", [srv.url + "/cache"])
    sk = Cri(SOCK, handler="skiff", timeout=300)
    rc = Cri(SOCK, handler=IMAGE_HANDLER, timeout=300)
    digests = layer_digests()
    env_ms, img_ms, pull_ms, env_bytes, leftovers = [], [], [], [], 0
    for _ in range(COLD_N):
        wipe_store()
        srv.reset()
        env_ms.append(once(sk, EMPTY, "acme/big@1"))
        env_bytes.append(sum(b for _, b in srv.requests))
        remove_image_everywhere(rc, BIG_IMAGE)
        leftovers += content_left(digests)
        t0 = time.perf_counter()
        image_call(rc, "PullImage", BIG_IMAGE)
        t1 = time.perf_counter()
        ms = once(rc, BIG_IMAGE)
        pull_ms.append((t1 - t0) * 1000)
        img_ms.append((t1 - t0) * 1000 + ms)
    remove_image_everywhere(rc, BIG_IMAGE)
    wipe_store()
    print("\n#### 2. Cold start: ~500 MiB environment vs ~500 MiB image (host network)\n")
    row("path", "cold start median (ms)", "min", "max", "n")
    print("|---|---|---|---|---|")
    row("skiff: pod up of acme/big@1, store wiped (realize from zstd cache on 127.0.0.1)",
        "%.0f" % med(env_ms), "%.0f" % min(env_ms), "%.0f" % max(env_ms), len(env_ms))
    who = "skiff (image, no environment)" if IMAGE_HANDLER == "skiff" else IMAGE_HANDLER
    row("%s: CRI PullImage (registry on %s) + pod up" % (who, BIG_IMAGE.split("/")[0]),
        "%.0f" % med(img_ms),
        "%.0f" % min(img_ms), "%.0f" % max(img_ms), len(img_ms))
    row("(of which PullImage)", "%.0f" % med(pull_ms), "%.0f" % min(pull_ms),
        "%.0f" % max(pull_ms), len(pull_ms))
    print("\nskiff / image = %.2f (target <= 0.35); bytes served per skiff cold start: %.1f MiB; "
          "image layer blobs found in any namespace before a pull: %d" % (
              med(env_ms) / med(img_ms), med(env_bytes) / 1048576, leftovers))


def main():
    phases = sys.argv[1:] or ["warm", "rollback", "delta", "cold"]
    srv = Server(FIX)
    for ph in phases:
        globals()["phase_" + ph](srv)
    srv.stop()


if __name__ == "__main__":
    main()
