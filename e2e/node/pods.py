#!/usr/bin/python3
"""CRI helpers for e2e/node/test_pods.sh.

  pods.py imageless SOCK SHIM_EXE   an imageless pod (handler `skiff`, acme/hello@1 from the
                                    lib/imageless.sh fixture) on skiff.dev/empty:1: prints what
                                    `hello` printed, then checks that the shim serving the pod runs
                                    from SHIM_EXE (its /proc/PID/exe); exit 0 when both hold.
  pods.py install SOCK HOSTROOT IMAGE CONFIGDIR DAEMONSET_YAML
                                    the DaemonSet's init container run through CRI (handler
                                    `runc`) as declared: its command (--restart=none
                                    --wait-socket=/run/containerd/containerd.sock: no systemd here), privileged, hostPID, its volumeMounts, each
                                    hostPath volume mapped to HOSTROOT/<path> and the ConfigMap
                                    volume to CONFIGDIR. Prints the container's log; exits with its
                                    exit code.
The pods use the host network: the CRI plugin has no CNI config here, and neither check needs a
network.
"""
import os
import sys
import time

import grpc
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cri"))
from cri import Cri, pb, security  # noqa: E402


def shim_exes(sock):
    out = set()
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % p, "rb").read().split(b"\0")
            exe = os.readlink("/proc/%s/exe" % p)
        except OSError:
            continue
        if b"-address" in cmd and sock.encode() in cmd and b"-id" in cmd:
            out.add(exe)
    return out


def imageless(sock, shim_exe):
    cri = Cri(sock, handler="skiff")
    pod, cfg = cri.run_pod("node-imageless", host_network=True,
                           annotations={"skiff.dev/environment": "acme/hello@1"})
    try:
        cid = cri.create_container(pod, cfg, "app", "skiff.dev/empty:1",
                                   ["sh", "-c", "hello >/tmp/hello.out 2>&1; exec sleep 3600"])
        cri.start(cid)
        out = ""
        deadline = time.time() + 20
        while time.time() < deadline:
            rc, out, _ = cri.exec_sync(cid, ["cat", "/tmp/hello.out"])
            if rc == 0 and out.strip():
                break
            time.sleep(0.1)
        print(out.strip())
        exes = shim_exes(sock)
        print("shim: " + " ".join(sorted(exes)))
        ok = out.strip() == "hello from generation 1 (gen1)" and exes == {shim_exe}
    finally:
        cri.destroy_pod(pod)
    return 0 if ok else 1


def install(sock, hostroot, image, configdir, ds_path):
    ds = next(d for d in yaml.safe_load_all(open(ds_path)) if d and d["kind"] == "DaemonSet")
    spec = ds["spec"]["template"]["spec"]
    init = next(c for c in spec["initContainers"] if c["name"] == "install")
    vols = {v["name"]: v for v in spec["volumes"]}
    mounts = []
    for m in init["volumeMounts"]:
        v = vols[m["name"]]
        if "hostPath" in v:
            host = os.path.join(hostroot, v["hostPath"]["path"].lstrip("/"))
            if v["hostPath"].get("type") == "DirectoryOrCreate":
                os.makedirs(host, exist_ok=True)
        elif "configMap" in v:
            host = configdir
        else:
            raise SystemExit("pods.py: volume %s: unsupported type" % m["name"])
        mounts.append(pb.Mount(container_path=m["mountPath"], host_path=host,
                               readonly=bool(m.get("readOnly"))))
    # --restart=systemd: no systemd here; the test restarts containerd itself and the installer
    # waits (as it does after a restart) until CRI serves the handler.
    cmd = [a for a in init["command"] if not a.startswith("--restart=")]
    cmd += ["--restart=none", "--wait-socket=/run/containerd/containerd.sock"]
    assert spec.get("hostPID") and init["securityContext"].get("privileged")
    cri = Cri(sock, handler="runc")
    pod, cfg = cri.run_pod("skiff-node-install", host_network=True, host_pid=True,
                           privileged=True)
    try:
        cid = cri.create_container(pod, cfg, "install", image, cmd, mounts=mounts,
                                   security=security(privileged=True, host_pid=True,
                                                     host_network=True))
        cri.start(cid)
        st = None
        deadline = time.time() + 180
        while time.time() < deadline:  # containerd restarts meanwhile: ride out UNAVAILABLE
            try:
                st = cri.status(cid).status
            except grpc.RpcError:
                time.sleep(0.2)
                continue
            if st.state == pb.CONTAINER_EXITED:
                break
            time.sleep(0.1)
        if st is None or st.state != pb.CONTAINER_EXITED:
            raise SystemExit("pods.py: the install container did not exit")
        log = os.path.join(cfg.log_directory, "install.log")
        for line in open(log, errors="replace"):
            # CRI log lines: TIMESTAMP STREAM TAG MESSAGE
            print(line.rstrip("\n").split(" ", 3)[-1])
        return st.exit_code
    finally:
        for _ in range(50):
            try:
                cri.stop_pod(pod)
                cri.remove_pod(pod)
                break
            except grpc.RpcError:
                time.sleep(0.2)


if __name__ == "__main__":
    if sys.argv[1] == "imageless":
        sys.exit(imageless(*sys.argv[2:4]))
    if sys.argv[1] == "install":
        sys.exit(install(*sys.argv[2:7]))
    sys.exit("usage: pods.py imageless|install ...")
