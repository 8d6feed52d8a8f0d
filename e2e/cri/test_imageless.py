#!/usr/bin/python3
"""Imageless pods through CRI (issue 5), run by e2e/tests/40-imageless.sh.

Environment: SOCK, FIX (fixture dir from lib/imageless.sh: cache/, slowcache/, lostcache/,
manycache/, hub/, paths, more),
SKIFF_NODE_CONFIG (the node config path the skiff runtime's options name), FIX_PK (trusted
key), EMPTY_IMAGE, BUSYBOX_IMAGE, E2E_RESULTS, CRI_ONLY (comma separated scenario names).
"""
import json
import os
import sys
import threading
import time

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cri import Cri, pb, security  # noqa: E402
from tap import Tap  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import statichttp  # noqa: E402

SOCK = os.environ["SOCK"]
FIX = os.environ["FIX"]
NODE_CONFIG = os.environ["SKIFF_NODE_CONFIG"]
EMPTY = os.environ.get("EMPTY_IMAGE", "skiff.dev/empty:1")
BUSYBOX = os.environ.get("BUSYBOX_IMAGE", "docker.io/library/busybox:e2e")
PATHS = open(os.path.join(FIX, "paths")).read().split()
SHELL, HELLO1, HELLO2, BAD, BIG = PATHS
STORE_ROOT = os.path.join(FIX, "node")
TAP = Tap("imageless")
record, check = TAP.record, TAP.check


class Server:
    """A static file server on 127.0.0.1 that counts requests; delay_prefix requests sleep."""

    def __init__(self, root, delay=0.0, delay_prefix="/nar/"):
        self.count = 0
        self.paths = []
        self.lock = threading.Lock()
        outer = self

        class H(statichttp.Handler):
            def do_GET(self):
                with outer.lock:
                    outer.count += 1
                    outer.paths.append(self.path)
                if delay and self.path.startswith(delay_prefix):
                    time.sleep(delay)
                super().do_GET()

        self.httpd = statichttp.serve(H, root)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def write_config(hub, subs, **extra):
    cfg = {
        "store_root": STORE_ROOT,
        "hub": hub,
        "substituters": subs,
        "trusted_public_keys": [os.environ["FIX_PK"]],
        "realize_timeout": 60,
        "keep_generations": 3,
        "connect_timeout": 2,
        "retries": 0,
    }
    cfg.update(extra)
    os.makedirs(os.path.dirname(NODE_CONFIG), exist_ok=True)
    with open(NODE_CONFIG + ".tmp", "w") as f:
        json.dump(cfg, f)
    os.rename(NODE_CONFIG + ".tmp", NODE_CONFIG)


cri = Cri(SOCK, handler="skiff")
CACHE = "file://" + os.path.join(FIX, "cache")
LONG = ["sh", "-c", "hello >/tmp/hello.out 2>&1; exec sleep 3600"]


class Pod:
    def __init__(self, name, annotations):
        self.id, self.cfg = cri.run_pod(name, annotations=annotations)
        self.cids = []

    def container(self, name, image, cmd, env=None, start=True):
        cid = cri.create_container(self.id, self.cfg, name, image, cmd, env=env)
        self.cids.append(cid)
        if start:
            cri.start(cid)
        return cid

    def close(self):
        cri.destroy_pod(self.id)


def sh(cid, script):
    return cri.exec_sync(cid, ["sh", "-c", script])


def wait_output(cid, path="/tmp/hello.out", timeout=10, cat="cat"):
    deadline = time.time() + timeout
    out = ""
    while time.time() < deadline:
        rc, out, _ = cri.exec_sync(cid, [cat, path])
        if rc == 0 and out.strip():
            return out.strip()
        time.sleep(0.1)
    return out.strip()


def scenario_basic(hub):
    write_config(hub.url, [CACHE])
    pod = Pod("imageless-basic", {"skiff.dev/environment": "acme/hello@1",
                                  "skiff.dev/skip-containers": "side"})
    try:
        cid = pod.container("app", EMPTY, LONG, env={"TEST_MODE": "pod"})
        side = pod.container("side", BUSYBOX, ["sleep", "3600"])
        out = wait_output(cid)
        check("basic: the workload runs `hello` from the environment",
              out == "hello from generation 1 (gen1)", out)
        rc, out, err = cri.exec_sync(cid, ["ls", "/nix/store"])
        want = sorted(os.path.basename(p) for p in (SHELL, HELLO1))
        check("basic: /nix/store shows exactly the closure", sorted(out.split()) == want,
              "%r vs %r %s" % (out.split(), want, err))
        rc, _, _ = cri.exec_sync(cid, ["test", "-x", "/run/skiff/env/bin/hello"])
        check("basic: /run/skiff/env/bin/hello exists", rc == 0)
        rc, out, _ = sh(cid, 'echo "$PATH"')
        check("basic: PATH starts with /run/skiff/env/bin",
              out.startswith("/run/skiff/env/bin:"), out)
        rc, out, _ = sh(cid, 'echo "$SKIFF_ENV_REF"')
        check("basic: SKIFF_ENV_REF names the generation", out.strip() == "acme/hello@1", out)
        rc, out, _ = sh(cid, 'echo "$GREETING"')
        check("basic: exec sees the document's vars", out.strip() == "gen1", out)
        rc, out, _ = sh(cid, 'echo "$TEST_MODE"')
        check("basic: the pod spec's env wins over the document's vars", out.strip() == "pod",
              out)
        rc, out, _ = cri.exec_sync(cid, ["hello"])
        check("basic: exec runs in the environment",
              rc == 0 and out.strip() == "hello from generation 1 (gen1)", out)
        rc, out, err = cri.exec_sync(cid, ["touch", "/nix/store/x"])
        check("basic: /nix/store is read-only", rc != 0, out + err)
        rc, out, err = cri.exec_sync(cid, ["touch", "/nix/store/%s/x" %
                                           os.path.basename(SHELL)])
        check("basic: store paths are read-only", rc != 0, out + err)
        rc, out, _ = cri.exec_sync(cid, ["cat", "/etc/passwd"])
        check("basic: the skeleton provides /etc/passwd", out.startswith("root:x:0:0:"), out)
        rc, out, _ = sh(side, 'test -e /run/skiff && echo env || echo plain; '
                              'echo "${SKIFF_ENV:-none}"; ls /nix 2>&1 | head -1')
        check("basic: a skip-containers sidecar runs its own image untouched",
              out.split("\n")[:2] == ["plain", "none"], out)
        root = os.path.join(STORE_ROOT, "roots", "containers", "k8s.io", cid)
        check("basic: the container has a GC root", os.path.exists(root), root)
        cri.stop(cid)
        cri.remove(cid)
        deadline = time.time() + 5
        while os.path.exists(root) and time.time() < deadline:
            time.sleep(0.1)
        check("basic: the GC root goes with the container", not os.path.exists(root), root)
    finally:
        pod.close()


def scenario_skip_exec(hub):
    write_config(hub.url, [CACHE])
    pod = Pod("imageless-skipexec", {"skiff.dev/environment": "acme/hello@1",
                                     "skiff.dev/skip-exec": "app"})
    try:
        cid = pod.container("app", EMPTY, LONG)
        out = wait_output(cid, cat="/run/skiff/env/bin/cat")
        check("skip-exec: the workload still runs in the environment",
              out.startswith("hello from generation 1"), out)
        rc, out, err = cri.exec_sync(cid, ["/run/skiff/env/bin/sh", "-c",
                                           'echo "${SKIFF_ENV:-none}"'])
        check("skip-exec: an exec gets the plain environment", out.strip() == "none",
              out + err)
    finally:
        pod.close()


def run_hello(gen, name):
    pod = Pod(name, {"skiff.dev/environment": "acme/hello@%d" % gen})
    t0 = time.time()
    try:
        cid = pod.container("app", EMPTY, LONG)
        out = wait_output(cid)
        return out, time.time() - t0
    finally:
        pod.close()


def scenario_rollout(hub):
    write_config(hub.url, [CACHE])
    out, _ = run_hello(2, "imageless-up")
    check("rollout: a pod at @2 prints generation 2's text",
          out == "hello from generation 2 (gen2)", out)
    before = hub.count
    out, secs = run_hello(1, "imageless-undo")
    check("rollout: rolling back to @1 works", out.startswith("hello from generation 1"), out)
    check("rollout: the rollback made no request to the hub", hub.count == before,
          "%d requests" % (hub.count - before))
    hub.stop()
    out, secs = run_hello(1, "imageless-offline")
    check("rollout: @1 starts with the hub unreachable (%.2fs)" % secs,
          out.startswith("hello from generation 1"), out)
    gens = os.path.join(STORE_ROOT, "roots", "generations", "default", "acme", "hello")
    check("rollout: realized generations are kept as GC roots",
          sorted(os.listdir(gens)) == ["1", "2"], os.listdir(gens) if os.path.isdir(gens) else "")


def scenario_tampered(hub):
    write_config(hub.url, [CACHE])
    pod = Pod("imageless-bad", {"skiff.dev/environment": "acme/bad@1"})
    try:
        cid = pod.container("app", EMPTY, ["sh", "-c", "true"], start=False)
        err = None
        try:
            cri.start(cid)
        except grpc.RpcError as e:
            err = e.details()
        check("tampered: the container fails to start", err is not None)
        err = err or ""
        check("tampered: the error starts `skiff: environment acme/bad@1:`",
              "skiff: environment acme/bad@1:" in err, err)
        check("tampered: the error names the store path", os.path.basename(BAD) in err, err)
        check("tampered: nothing unverified is in the store",
              not os.path.exists(os.path.join(STORE_ROOT, "store", os.path.basename(BAD))))
    finally:
        pod.close()


def scenario_timeout(hub):
    slow = Server(os.path.join(FIX, "slowcache"), delay=6.0)
    try:
        write_config(hub.url, [CACHE, slow.url])
        pod = Pod("imageless-slow", {"skiff.dev/environment": "acme/slow@1",
                                     "skiff.dev/realize-timeout": "2"})
        try:
            cid = pod.container("app", EMPTY, ["sleep", "3600"], start=False)
            t0 = time.time()
            err = None
            try:
                cri.start(cid)
            except grpc.RpcError as e:
                err = e.details()
            secs = time.time() - t0
            check("timeout: the first start fails after the realize-timeout (%.1fs)" % secs,
                  err is not None and secs < 20, err)
            err = err or ""
            check("timeout: the error reports progress",
                  "skiff: environment acme/slow@1: still realizing (" in err and
                  "after 2s; retrying will continue" in err, err)
            try:
                cri.remove(cid)
            except grpc.RpcError:
                pass
            time.sleep(6)
            cid = cri.create_container(pod.id, pod.cfg, "app", EMPTY, ["sleep", "3600"])
            pod.cids.append(cid)
            err = None
            try:
                cri.start(cid)
            except grpc.RpcError as e:
                err = e.details()
            check("timeout: the retry succeeds", err is None, err)
            rc, out, _ = cri.exec_sync(cid, ["ls", "/nix/store"])
            check("timeout: the retried container sees the slow path",
                  sorted(out.split()) == sorted(os.path.basename(p) for p in (SHELL, BIG)),
                  out)
        finally:
            pod.close()
    finally:
        slow.stop()


MORE = dict(line.split("=", 1) for line in open(os.path.join(FIX, "more")).read().split())
B = {k: os.path.basename(v) for k, v in MORE.items()}


def scenario_dynamic(hub):
    doc = json.load(open(os.path.join(FIX, "hub", "skiff", "v1", "acme", "dyn", "1.json")))
    refs = [e["references"] for s in doc["systems"].values() for e in s.get("closure", [])
            if e["path"] == MORE["hellodyn"]]
    check("dynamic: the hello package references the glibc store path",
          refs and MORE["glibc"] in refs[0], refs)
    write_config(hub.url, [CACHE])
    pod = Pod("imageless-dyn", {"skiff.dev/environment": "acme/dyn@1"})
    try:
        cid = pod.container("app", EMPTY, ["sh", "-c", "hello-dyn >/tmp/hello.out 2>&1; "
                                                       "exec sleep 3600"])
        out = wait_output(cid)
        check("dynamic: hello-dyn runs through its store glibc and prints generation 1's text",
              out == "hello from generation 1 (gen1, dynamic)", out)
        rc, out, err = cri.exec_sync(cid, ["ls", "/nix/store"])
        want = sorted([os.path.basename(SHELL), B["hellodyn"], B["glibc"]])
        check("dynamic: /nix/store lists the closure, glibc included through the reference",
              sorted(out.split()) == want, "%r vs %r %s" % (out.split(), want, err))
        rc, out, err = sh(cid, "for f in /lib/x86_64-linux-gnu/libc.so.6 /lib/libc.so.6"
                               " /lib64/ld-linux-x86-64.so.2 /usr/lib/x86_64-linux-gnu/libc.so.6;"
                               " do test -e $f && echo $f; done; echo done")
        check("dynamic: the host's glibc is not visible in the container",
              rc == 0 and out.strip() == "done", out + err)
        rc, out, err = sh(cid, "mkdir -p /tmp/x && cp /nix/store/%s/bin/hello-dyn /tmp/x/h && "
                               "/tmp/x/h" % B["hellodyn"])
        check("dynamic: the binary's interpreter is the store glibc (a copy still runs)",
              rc == 0 and "dynamic" in out, out + err)
    finally:
        pod.close()


def scenario_layers(hub):
    write_config(hub.url, [CACHE])
    pod = Pod("imageless-layers", {"skiff.dev/environment": "acme/base@1, acme/app@3"})
    try:
        cid = pod.container("app", EMPTY, ["sleep", "3600"])
        rc, a, err = cri.exec_sync(cid, ["pick-a"])
        check("layers: pick-a from the first layer wins (priority 2 over 6)",
              a.strip() == "base", a + err)
        rc, b, err = cri.exec_sync(cid, ["pick-b"])
        check("layers: pick-b from the second layer wins (priority 4 over 8)",
              b.strip() == "app", b + err)
        links = [cri.exec_sync(cid, ["readlink", "/run/skiff/env/bin/" + f])[1].strip()
                 for f in ("pick-a", "pick-b")]
        check("layers: /run/skiff/env/bin links point into the winning store paths",
              B["basea"] in links[0] and B["appb"] in links[1], links)
        rc, out, err = cri.exec_sync(cid, ["ls", "/nix/store"])
        want = sorted([os.path.basename(SHELL)] + [B[k] for k in
                                                   ("basea", "baseb", "appa", "appb")])
        check("layers: /nix/store holds the union of both closures",
              sorted(out.split()) == want, "%r vs %r" % (out.split(), want))
        rc, out, _ = sh(cid, 'echo "$SKIFF_ENV_REF"')
        check("layers: SKIFF_ENV_REF names both layers",
              "acme/base@1" in out and "acme/app@3" in out, out)
    finally:
        pod.close()


def scenario_hook(hub):
    write_config(hub.url, [CACHE])
    outdir = os.path.join(FIX, "hookout")
    os.makedirs(outdir, exist_ok=True)
    for f in os.listdir(outdir):
        os.unlink(os.path.join(outdir, f))
    pod = Pod("imageless-hook", {"skiff.dev/environment": "acme/hook@1"})
    try:
        script = ('tr "\\0" " " </proc/1/cmdline >/out/cmdline; echo "$$" >/out/pid; '
                  'trap "echo term >/out/term; exit 0" TERM; '
                  'while :; do sleep 0.1; done')
        cid = cri.create_container(pod.id, pod.cfg, "app", EMPTY, ["sh", "-c", script],
                                   mounts=[pb.Mount(container_path="/out", host_path=outdir)],
                                   security=security())
        pod.cids.append(cid)
        cri.start(cid)
        pidf = os.path.join(outdir, "pid")
        deadline = time.time() + 10
        while time.time() < deadline and not (os.path.exists(pidf) and
                                              open(pidf).read().strip()):
            time.sleep(0.1)
        pid = open(pidf).read().strip() if os.path.exists(pidf) else ""
        check("hook: the workload is PID 1 in the pod's own PID namespace", pid == "1", pid)
        cmdf = os.path.join(outdir, "cmdline")
        cmdline = open(cmdf).read() if os.path.exists(cmdf) else ""
        check("hook: /proc/1/cmdline is the workload, not the hook shell",
              "trap" in cmdline and "on_activate" not in cmdline and "hook ran" not in cmdline,
              cmdline)
        rc, out, err = cri.exec_sync(cid, ["cat", "/tmp/hook.out"])
        check("hook: the hook ran, in the process the workload replaced",
              out.strip() == "hook ran as 1", out + err)
        t0 = time.time()
        cri.stop(cid, timeout=20)
        secs = time.time() - t0
        termf = os.path.join(outdir, "term")
        term = open(termf).read().strip() if os.path.exists(termf) else ""
        check("hook: the workload gets SIGTERM on StopContainer", term == "term", term)
        check("hook: StopContainer returns quickly (%.1fs)" % secs, secs < 10)
        st = cri.status(cid).status
        check("hook: the exit code is the trap's 0", st.exit_code == 0, st.exit_code)
    finally:
        pod.close()


def store_state():
    store = os.path.join(STORE_ROOT, "store")
    names = set(os.listdir(store)) if os.path.isdir(store) else set()
    partial = os.path.join(store, ".partial")
    parts = os.listdir(partial) if os.path.isdir(partial) else []
    return names - {".partial", ".links", ".lock"}, parts


def scenario_bad(hub):
    cases = [
        ("malformed annotation", "acme/hello@@1", None, ["skiff.dev/environment"]),
        ("unpinned reference", "acme/hello", None, ["acme/hello", "allow_unpinned"]),
        ("unknown environment", "acme/nosuch@1", None, ["acme/nosuch@1"]),
        ("unknown generation", "acme/hello@99", None, ["acme/hello@99"]),
        ("hub unreachable, no cached document", "acme/offline@1", "http://127.0.0.1:9",
         ["acme/offline@1"]),
        ("bad signature on 1.json", "acme/badsig@1", None, ["acme/badsig@1", "signature"]),
        ("system missing from the document", "acme/nosys@1", None,
         ["acme/nosys@1", os.uname().machine]),
        ("a closure path missing from every cache", "acme/lost@1", None,
         ["acme/lost@1", B["lost"]]),
    ]
    for desc, ref, hub_url, want in cases:
        write_config(hub_url or hub.url, [CACHE])
        before, _ = store_state()
        err = None
        pod = None
        try:
            pod = Pod("imageless-bad", {"skiff.dev/environment": ref})
            cid = pod.container("app", EMPTY, ["sleep", "3600"], start=False)
            cri.start(cid)
        except grpc.RpcError as e:
            err = e.details()
        finally:
            if pod:
                pod.close()
        check("bad input (%s): the container fails" % desc, err is not None)
        err = err or ""
        print("#   %s: %s" % (desc, err), flush=True)
        check("bad input (%s): the message names %s" % (desc, ", ".join(want)),
              all(w in err for w in want), err)
        after, parts = store_state()
        new = after - before - {os.path.basename(SHELL)}
        check("bad input (%s): no partial store state" % desc, not new and not parts,
              "new %r partial %r" % (sorted(new), parts))


def scenario_many(hub):
    srv = Server(os.path.join(FIX, "manycache"))
    pods = [None] * 20
    errs = [None] * 20
    try:
        write_config(hub.url, [srv.url, CACHE])
        have, _ = store_state()
        check("many: the environment is not realized yet",
              B["manya"] not in have and B["manyb"] not in have)

        def one(i):
            try:
                pod = Pod("imageless-many-%d" % i, {"skiff.dev/environment": "acme/many@1"})
                pods[i] = pod
                pod.container("app", EMPTY, ["sleep", "3600"])
            except Exception as e:  # noqa: BLE001
                errs[i] = e.details() if isinstance(e, grpc.RpcError) else repr(e)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        bad = [(i, e) for i, e in enumerate(errs) if e]
        check("many: 20 pods created at once all start", not bad, bad[:3])
        running = 0
        for p in pods:
            if p and p.cids:
                if cri.status(p.cids[0]).status.state == pb.CONTAINER_RUNNING:
                    running += 1
        check("many: 20 containers running", running == 20, running)
        urls = []
        for k in ("manya", "manyb"):
            ni = open(os.path.join(FIX, "manycache", B[k][:32] + ".narinfo")).read()
            urls += ["/" + ln.split(": ", 1)[1] for ln in ni.splitlines()
                     if ln.startswith("URL: ")]
        counts = {u: srv.paths.count(u) for u in urls}
        print("#   NAR requests: %r" % counts, flush=True)
        check("many: one download per path", len(urls) == 2 and
              all(c == 1 for c in counts.values()), "%r (all: %r)" % (counts, srv.paths[:40]))
    finally:
        ts = [threading.Thread(target=p.close) for p in pods if p]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        srv.stop()


SCENARIOS = [scenario_basic, scenario_skip_exec, scenario_tampered, scenario_timeout,
             scenario_dynamic, scenario_layers, scenario_hook, scenario_bad, scenario_many,
             scenario_rollout]

if __name__ == "__main__":
    TAP.run(SCENARIOS, Server(os.path.join(FIX, "hub")))
