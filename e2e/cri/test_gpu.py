#!/usr/bin/python3
"""GPU pods through CRI (issue 6), run by e2e/tests/45-gpu.sh.

Imageless pods (the empty stub image + an environment holding a glibc, busybox and the probes of
e2e/gpu, built by lib/gpufix.sh) on the skiff runtime, with host networking. On a node with an
NVIDIA driver (/proc/driver/nvidia/version) the GPU scenarios run the probes; elsewhere they
check that the same requests fail CreateContainer (surfacing at StartContainer) with a clear
error. Non-GPU pods are checked to be untouched everywhere.

Environment: SOCK, GPUFIX (fixture dir), GPUFIX_PK, SKIFF_NODE_CONFIG, EMPTY_IMAGE, E2E_RESULTS,
GPU_ID (the device the "device plugin" allocates, default 0), GPU_TIMING_N (default 7),
GPU_LOG (a file that receives the scenario output too), CRI_ONLY (comma separated scenarios).
"""
import json
import os
import re
import statistics
import sys
import time
import uuid

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cri import Cri, pb, security  # noqa: E402
from tap import Tap  # noqa: E402

SOCK = os.environ["SOCK"]
FIX = os.environ["GPUFIX"]
NODE_CONFIG = os.environ["SKIFF_NODE_CONFIG"]
EMPTY = os.environ.get("EMPTY_IMAGE", "skiff.dev/empty:1")
GPU_ID = os.environ.get("GPU_ID", "0")
TIMING_N = int(os.environ.get("GPU_TIMING_N", "7"))
LOG = open(os.environ["GPU_LOG"], "a") if os.environ.get("GPU_LOG") else None
GLIBC, PROBES, SHELL = open(os.path.join(FIX, "paths")).read().split()
HAS_DRIVER = os.path.exists("/proc/driver/nvidia/version")
CDI_DIR = os.path.join(FIX, "cdi")
TAP = Tap("gpu", log=LOG, detail_lines=30, detail_always=True)
say, record, check = TAP.say, TAP.record, TAP.check


def write_config():
    cfg = {
        "store_root": os.path.join(FIX, "node"),
        "hub": "file://" + os.path.join(FIX, "hub"),
        "substituters": ["file://" + os.path.join(FIX, "cache")],
        "trusted_public_keys": [os.environ["GPUFIX_PK"]],
        "realize_timeout": 60,
        "gpu": {"cdi_dirs": [CDI_DIR]},
    }
    os.makedirs(os.path.dirname(NODE_CONFIG), exist_ok=True)
    with open(NODE_CONFIG + ".tmp", "w") as f:
        json.dump(cfg, f)
    os.rename(NODE_CONFIG + ".tmp", NODE_CONFIG)


def write_cdi_spec():
    """What the NVIDIA device plugin writes with --device-list-strategy=cdi-annotations: one
    device per GPU plus the control nodes; containerd 1.6 leaves the annotation to us."""
    os.makedirs(CDI_DIR, exist_ok=True)
    common = [{"path": p} for p in ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools")
              if os.path.exists(p) or not HAS_DRIVER]
    spec = {
        "cdiVersion": "0.5.0",
        "kind": "k8s.device-plugin.nvidia.com/gpu",
        "devices": [{"name": GPU_ID,
                     "containerEdits": {"deviceNodes": [{"path": "/dev/nvidia%s" % GPU_ID}]}}],
        "containerEdits": {"deviceNodes": common},
    }
    with open(os.path.join(CDI_DIR, "k8s-device-plugin.json"), "w") as f:
        json.dump(spec, f)


cri = Cri(SOCK, handler="skiff")
SLEEP = ["sh", "-c", "env >/tmp/init-env; exec sleep 3600"]
# The device plugin's volume-mounts strategy (gpu.md §5).
PLUGIN_ENV = {"NVIDIA_VISIBLE_DEVICES": "/var/run/nvidia-container-devices"}
PLUGIN_MOUNTS = [pb.Mount(container_path="/var/run/nvidia-container-devices/" + GPU_ID,
                          host_path="/dev/null")]


class Pod:
    def __init__(self, name, gen=1):
        self.id, self.cfg = cri.run_pod(name, host_network=True, annotations={
            "skiff.dev/environment": "acme/cuda@%d" % gen})

    def container(self, name, env=None, mounts=(), annotations=None, start=True, sec=None):
        cid = cri.create_container(self.id, self.cfg, name, EMPTY, SLEEP, env=env, mounts=mounts,
                                   annotations=annotations, security=sec)
        if start:
            cri.start(cid)
        return cid

    def close(self):
        cri.destroy_pod(self.id)


def start_error(pod, name, **kw):
    cid = pod.container(name, start=False, **kw)
    try:
        cri.start(cid)
    except grpc.RpcError as e:
        return e.details()
    return None


def sh(cid, script, timeout=30):
    rc, out, err = cri.exec_sync(cid, ["sh", "-c", script], timeout=timeout)
    return rc, out + err


def nvidia_nodes(cid):
    _, out = sh(cid, "ls /dev")
    return sorted(n for n in out.split() if n.startswith("nvidia"))


def check_untouched(what, cid):
    rc, out = sh(cid, "test -e /run/opengl-driver && echo present || echo absent")
    check("%s: no /run/opengl-driver" % what, out.strip() == "absent", out)
    nodes = nvidia_nodes(cid)
    check("%s: no /dev/nvidia*" % what, nodes == [], nodes)
    rc, out = sh(cid, "cat /tmp/init-env; echo ---; env")
    lines = out.split("\n")
    check("%s: no GPU variables in the init's or an exec's environment" % what,
          not any(l.startswith(("CONDA_OVERRIDE_CUDA=", "NVIDIA_DRIVER_CAPABILITIES="))
                  for l in lines) and "/run/opengl-driver" not in out and
          lines.count("LD_LIBRARY_PATH=%s/lib" % GLIBC) == 2, out)
    rc, out = sh(cid, "cuprobe")
    check("%s: cuprobe cannot load libcuda" % what, rc != 0 and "dlopen:" in out, out)
    # CAP_MKNOD is in the default set: the device cgroup is the boundary (gpu.md §1.4).
    rc, out = sh(cid, "mknod /dev/probe-ctl c 195 255 && head -c1 /dev/probe-ctl")
    check("%s: a mknod'ed nvidiactl cannot be opened" % what,
          rc != 0 and "Operation not permitted" in out, out)


def scenario_untouched():
    pod = Pod("gpu-none")
    try:
        check_untouched("no request", pod.container("app"))
        check_untouched("pod-set NVIDIA_VISIBLE_DEVICES=all",
                        pod.container("app2", env={"NVIDIA_VISIBLE_DEVICES": "all"}))
    finally:
        pod.close()


def check_gpu(what, cid, as_nobody=False):
    """The positive checks of gpu.md §10.3 inside a running GPU container."""
    nodes = nvidia_nodes(cid)
    host = sorted(n for n in os.listdir("/dev") if n.startswith("nvidia"))
    want = sorted(n for n in ("nvidia" + GPU_ID, "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools")
                  if n in host)
    check("%s: exactly the allocated GPU's nodes %s (host has %s)" % (what, want, host),
          nodes == want, nodes)
    rc, out = sh(cid, "grep ModifyDeviceFiles /proc/driver/nvidia/params; ls /proc/driver/nvidia;"
                      " ls /proc/driver/nvidia/gpus | wc -l")
    check("%s: /proc/driver/nvidia masked (ModifyDeviceFiles 0, one GPU entry)" % what,
          rc == 0 and "ModifyDeviceFiles: 0" in out and out.strip().endswith("1"), out)
    rc, out = sh(cid, "nvidia-smi -L")
    check("%s: nvidia-smi -L lists the GPU (PATH has /run/opengl-driver/bin)" % what,
          rc == 0 and out.startswith("GPU %s: NVIDIA" % GPU_ID) and "(UUID: GPU-" in out, out)
    rc, out = sh(cid, "CUDA_CACHE_DISABLE=1 cuprobe")
    check("%s: cuprobe: cuInit, alloc, PTX-JIT kernel reads back 42 (CUDA_CACHE_DISABLE=1)"
          % what, rc == 0 and "cuInit=0 count=1(rc0)" in out and "ptxjit=0" in out and
          "value=42" in out, out)
    want_ptx = os.environ.get("GPUFIX_PTX", "builtin")
    check("%s: the kernel's PTX came from the fixture's compiler (%s)" % (what, want_ptx),
          ("ptx=%s" % want_ptx) in out, out)
    rc, out = sh(cid, "nvmlprobe")
    check("%s: nvmlprobe returns the GPU name" % what, rc == 0 and "name=NVIDIA" in out, out)
    rc, out = sh(cid, "cat /tmp/init-env; echo ---; env; id -u")
    init, _, ex = out.partition("---")
    ok = all("LD_LIBRARY_PATH=/run/opengl-driver/lib:%s/lib" % GLIBC in part and
             "CONDA_OVERRIDE_CUDA=" in part for part in (init, ex))
    check("%s: init and exec env: LD_LIBRARY_PATH, CONDA_OVERRIDE_CUDA" % what, ok, out)
    if as_nobody:
        check("%s: runs as uid 65534" % what, out.strip().endswith("65534"), out)


def scenario_mounts():
    pod = Pod("gpu-mounts")
    try:
        if not HAS_DRIVER:
            err = start_error(pod, "app", env=PLUGIN_ENV, mounts=PLUGIN_MOUNTS) or ""
            check("mounts, no driver: the start fails naming the channel and the driver",
                  "skiff: gpu: container requests GPUs (via mounts)" in err and
                  "no NVIDIA driver" in err, err)
            return
        check_gpu("mounts (root)", pod.container("app", env=PLUGIN_ENV, mounts=PLUGIN_MOUNTS))
        check_gpu("mounts (uid 65534)",
                  pod.container("nobody", env=PLUGIN_ENV, mounts=PLUGIN_MOUNTS,
                                sec=security(run_as_user=65534, run_as_group=65534)),
                  as_nobody=True)
    finally:
        pod.close()


def scenario_cdi():
    pod = Pod("gpu-cdi")
    ann = {"cdi.k8s.io/nvidia-device-plugin_%s" % uuid.uuid4():
           "k8s.device-plugin.nvidia.com/gpu=" + GPU_ID}
    try:
        if not HAS_DRIVER:
            err = start_error(pod, "app", annotations=ann) or ""
            check("cdi, no driver: the start fails naming the channel and the driver",
                  "(via cdi)" in err and "no NVIDIA driver" in err, err)
            return
        cid = pod.container("app", annotations=ann)
        nodes = nvidia_nodes(cid)
        check("cdi annotation: the spec's device nodes", "nvidia" + GPU_ID in nodes and
              "nvidiactl" in nodes, nodes)
        rc, out = sh(cid, "nvidia-smi -L; CUDA_CACHE_DISABLE=1 cuprobe")
        check("cdi annotation: nvidia-smi -L and cuprobe work", rc == 0 and "value=42" in out,
              out)
    finally:
        pod.close()


def scenario_requires():
    pod = Pod("gpu-future", gen=2)
    try:
        err = start_error(pod, "app", env=PLUGIN_ENV, mounts=PLUGIN_MOUNTS) or ""
        if HAS_DRIVER:
            m = re.search(r"Kernel Module.*?\s(\d+\.\d+(?:\.\d+)?)\s",
                          open("/proc/driver/nvidia/version").read())
            check("requires.cuda >=99.0 refuses the start naming both versions",
                  "skiff: gpu: environment requires CUDA >=99.0, but the driver " in err and
                  " supports CUDA " in err, err)
            check("the refusal names the host driver's version",
                  m is not None and ("the driver %s " % m.group(1)) in err, m and m.group(1))
        else:
            check("requires.cuda, no driver: the start fails with the driver error",
                  "no NVIDIA driver" in err, err)
        # The same environment without a GPU request starts: the requirement is a GPU one.
        cid = pod.container("plain")
        rc, _ = sh(cid, "true")
        check("requires.cuda does not concern containers without GPUs", rc == 0)
    finally:
        pod.close()


def timed_pod(name, gpu):
    t0 = time.monotonic()
    pod = Pod(name)
    t1 = time.monotonic()
    try:
        kw = {"env": PLUGIN_ENV, "mounts": PLUGIN_MOUNTS} if gpu else {}
        cid = pod.container("app", start=False, **kw)
        t2 = time.monotonic()
        cri.start(cid)
        t3 = time.monotonic()
        return (t1 - t0) * 1000, (t3 - t1) * 1000, (t3 - t2) * 1000, (t3 - t0) * 1000
    finally:
        pod.close()


def scenario_timing():
    kinds = [False, True] if HAS_DRIVER else [False]
    res = {k: [] for k in kinds}
    timed_pod("gpu-warm", False)  # realize the environment once
    for i in range(TIMING_N):
        for k in kinds:
            res[k].append(timed_pod("gpu-t%d-%s" % (i, "gpu" if k else "plain"), k))
    for k in kinds:
        cols = list(zip(*res[k]))
        med = [statistics.median(c) for c in cols]
        say("# timing %s n=%d median ms: RunPodSandbox %.1f, CreateContainer+StartContainer %.1f "
            "(StartContainer = shim Create+Start %.1f), total %.1f; totals %s" %
            ("gpu  " if k else "plain", TIMING_N, med[0], med[1], med[2], med[3],
             " ".join("%.0f" % c for c in cols[3])))
    check("timing: %d pods of each kind created and started" % TIMING_N,
          all(len(v) == TIMING_N for v in res.values()))


SCENARIOS = [scenario_untouched, scenario_mounts, scenario_cdi, scenario_requires,
             scenario_timing]

if __name__ == "__main__":
    write_config()
    write_cdi_spec()
    say("# gpu e2e: driver %s, GPU %s" % ("present" if HAS_DRIVER else "absent", GPU_ID))
    TAP.run(SCENARIOS)
