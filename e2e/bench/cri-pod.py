#!/usr/bin/python3
"""CRI pod benchmark: pod up (RunPodSandbox + CreateContainer + StartContainer) and teardown
(StopContainer + RemoveContainer + StopPodSandbox + RemovePodSandbox) for several runtime
handlers, bridge and host network, interleaved round-robin, N rounds; then shim PSS per pod with
1 and with 10 pods. Prints a markdown table.

usage: SOCK=... cri-pod.py [handler...]   (env N=20, BUSYBOX_IMAGE)
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cri"))
from cri import Cri, pb  # noqa: E402

SOCK = os.environ["SOCK"]
N = int(os.environ.get("N", "20"))
IMAGE = os.environ.get("BUSYBOX_IMAGE", "docker.io/library/busybox:e2e")
HANDLERS = sys.argv[1:] or ["skiff", "runc", "crun"]
CMD = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]


def pod_up(cri, host):
    t0 = time.perf_counter()
    pid, cfg = cri.run_pod("bench", host_network=host)
    cid = cri.create_container(pid, cfg, "c", IMAGE, CMD)
    cri.start(cid)
    t1 = time.perf_counter()
    return pid, cid, (t1 - t0) * 1000


def teardown(cri, pid, cid):
    t0 = time.perf_counter()
    cri.stop(cid, 0)
    cri.remove(cid)
    cri.stop_pod(pid)
    cri.remove_pod(pid)
    return (time.perf_counter() - t0) * 1000


def shim_pids():
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % p, "rb").read().split(b"\0")
        except OSError:
            continue
        if cmd and b"containerd-shim" in os.path.basename(cmd[0]) and \
                (b"-address" in cmd) and SOCK.encode() in cmd:
            out.append(int(p))
    return out


def pss_kb(pid):
    total = 0
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return total


def main():
    clients = {h: Cri(SOCK, handler=h) for h in HANDLERS}
    up = {(h, n): [] for h in HANDLERS for n in ("bridge", "host")}
    down = {(h, n): [] for h in HANDLERS for n in ("bridge", "host")}
    for h in HANDLERS:  # warm up each handler once
        p, c, _ = pod_up(clients[h], False)
        teardown(clients[h], p, c)
    for i in range(N):
        for net in ("bridge", "host"):
            for h in HANDLERS:
                p, c, ms = pod_up(clients[h], net == "host")
                up[(h, net)].append(ms)
                down[(h, net)].append(teardown(clients[h], p, c))
    print("| handler | network | pod up median (ms) | teardown median (ms) | n |")
    print("|---|---|---|---|---|")
    for net in ("bridge", "host"):
        for h in HANDLERS:
            print("| %s | %s | %.1f | %.1f | %d |" % (
                h, net, statistics.median(up[(h, net)]), statistics.median(down[(h, net)]), N))
    print()
    print("| handler | pods | shim processes | total shim PSS (kB) | PSS per pod (kB) |")
    print("|---|---|---|---|---|")
    for h in HANDLERS:
        for count in (1, 10):
            before = set(shim_pids())
            pods = [pod_up(clients[h], True) for _ in range(count)]
            time.sleep(0.5)
            new = [p for p in shim_pids() if p not in before]
            total = sum(pss_kb(p) for p in new)
            print("| %s | %d | %d | %d | %.0f |" % (h, count, len(new), total, total / count))
            for p, c, _ in pods:
                teardown(clients[h], p, c)


if __name__ == "__main__":
    main()
