#!/usr/bin/python3
"""CRI end-to-end scenarios (issue 3), run by e2e/tests/30-cri.sh.

Environment: SOCK (containerd gRPC socket), CRI_HANDLER (runtime handler: skiff, runc, crun),
BUSYBOX_IMAGE, E2E_RESULTS (TAP result file shared with the shell harness), CRI_ONLY (comma
separated scenario names to run).
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cri import Cri, pb, security  # noqa: E402
from tap import Tap  # noqa: E402

SOCK = os.environ["SOCK"]
HANDLER = os.environ.get("CRI_HANDLER", "skiff")
IMAGE = os.environ.get("BUSYBOX_IMAGE", "docker.io/library/busybox:e2e")
TAP = Tap("cri/%s" % HANDLER)
record, check = TAP.record, TAP.check


def rpc_error(fn, *a, **kw):
    try:
        fn(*a, **kw)
    except grpc.RpcError as e:
        return e.details() or str(e)
    return None


cri = Cri(SOCK, handler=HANDLER)
LONG = ["sh", "-c", "echo started; trap 'exit 0' TERM; while :; do sleep 1; done"]


def container_pid(cid):
    info = cri.status(cid, verbose=True).info.get("info", "{}")
    return int(json.loads(info).get("pid", 0))


def ppid_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def comm_of(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().strip()


def is_alive(pid):
    """True while pid exists and is not a zombie (this machine's PID 1 may not reap orphans)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cgroup_file(pid, v1_ctrl, name):
    """Host path of a cgroup knob of pid's cgroup (v1 controller or the unified hierarchy)."""
    with open("/proc/%d/cgroup" % pid) as f:
        lines = f.read().splitlines()
    for line in lines:
        hid, ctrls, path = line.split(":", 2)
        if v1_ctrl in ctrls.split(","):
            return "/sys/fs/cgroup/%s%s/%s" % (v1_ctrl, path, name)
    for line in lines:
        hid, ctrls, path = line.split(":", 2)
        if hid == "0" and os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            return "/sys/fs/cgroup%s/%s" % (path, name)
    return None


class Pod:
    def __init__(self, name, **kw):
        self.id, self.cfg = cri.run_pod(name, **kw)
        self.cids = []

    def run(self, name, command, start=True, **kw):
        cid = cri.create_container(self.id, self.cfg, name, IMAGE, command, **kw)
        self.cids.append(cid)
        if start:
            cri.start(cid)
        return cid

    def close(self):
        for cid in self.cids:
            try:
                cri.stop(cid, 0)
            except grpc.RpcError:
                pass
            try:
                cri.remove(cid)
            except grpc.RpcError:
                pass
        cri.destroy_pod(self.id)


def scenario_bridge_pod():
    pod = Pod("bridge")
    try:
        cid = pod.run("main", LONG)
        rc, out, err = cri.exec_sync(cid, ["sh", "-c", "echo hi; echo oops >&2; exit 4"])
        check("bridge pod: ExecSync stdout/stderr/exit code",
              (rc, out, err) == (4, "hi\n", "oops\n"), (rc, out, err))
        rc, out, _ = cri.exec_sync(cid, ["ip", "-4", "addr", "show", "eth0"])
        check("bridge pod: container has an eth0 address", rc == 0 and "inet " in out, out)
        cid2 = pod.run("exits", ["sh", "-c", "exit 7"])
        st = cri.wait_exit(cid2)
        check("bridge pod: ContainerStatus reports exit code 7", st.exit_code == 7, st)
        pids = [container_pid(cid)]
        sandbox_info = cri.call("PodSandboxStatus", pb.PodSandboxStatusRequest(
            pod_sandbox_id=pod.id, verbose=True)).info.get("info", "{}")
        spid = int(json.loads(sandbox_info).get("pid", 0))
        parents = {ppid_of(p) for p in pids + [spid]}
        check("bridge pod: sandbox and containers are children of one shim process",
              len(parents) == 1 and "shim" in comm_of(parents.pop()),
              "pids %s sandbox %s" % (pids, spid))
        logpath = os.path.join(pod.cfg.log_directory, "main.log")
        deadline = time.time() + 5
        content = ""
        while time.time() < deadline:
            content = open(logpath).read() if os.path.exists(logpath) else ""
            if "started" in content:
                break
            time.sleep(0.1)
        check("bridge pod: stdout reaches the CRI log file", "stdout F started" in content,
              content[-500:])
        t0 = time.time()
        try:
            rc, out, _ = cri.exec_sync(cid, ["sleep", "30"], timeout=1)
            timed_out = False
        except grpc.RpcError as e:
            timed_out = e.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        check("bridge pod: ExecSync timeout is enforced", timed_out and time.time() - t0 < 15,
              time.time() - t0)
    finally:
        pod.close()


def scenario_host_network():
    pod = Pod("hostnet", host_network=True)
    try:
        cid = pod.run("main", LONG)
        rc, out, _ = cri.exec_sync(cid, ["hostname"])
        check("host-network pod: hostname is the node's", out.strip() == os.uname().nodename,
              out)
        host_ns = os.readlink("/proc/self/ns/net")
        rc2, out2, _ = cri.exec_sync(cid, ["readlink", "/proc/self/ns/net"])
        check("host-network pod: container is in the host network namespace",
              out2.strip() == host_ns, (out2, host_ns))
    finally:
        pod.close()


def scenario_security():
    pod = Pod("sec")
    try:
        def one(name, sc, cmd):
            cid = pod.run(name, LONG, security=sc)
            return cri.exec_sync(cid, cmd)

        rc, out, _ = one("uid", security(run_as_user=1000), ["id", "-u"])
        check("security: runAsUser 1000 -> id -u prints 1000", out.strip() == "1000", out)
        rc, out, err = one("ro", security(readonly_rootfs=True), ["touch", "/x"])
        check("security: readOnlyRootFilesystem -> EROFS",
              rc != 0 and "Read-only file system" in err, (rc, err))
        rc, out, err = one("nocaps", security(drop=["ALL"]),
                           ["sh", "-c", "touch /tmp/f && chown 1:1 /tmp/f"])
        check("security: drop ALL capabilities -> chown fails",
              rc != 0 and "Operation not permitted" in err, (rc, err))
        rc, out, err = one("seccomp", security(seccomp="RuntimeDefault"), ["unshare", "-U", "true"])
        check("security: RuntimeDefault seccomp -> unshare fails with EPERM",
              rc != 0 and "Operation not permitted" in err, (rc, err))
        rc, out, _ = one("nnp", security(no_new_privs=True), ["grep", "NoNewPrivs",
                                                              "/proc/self/status"])
        check("security: allowPrivilegeEscalation=false -> NoNewPrivs: 1",
              re.search(r"NoNewPrivs:\s+1", out) is not None, out)
        msg = rpc_error(pod.run, "badcap", LONG, security=security(add=["CAP_BOGUS"]))
        check("bad input: unknown capability fails CreateContainer naming it",
              msg is not None and "CAP_BOGUS" in msg, msg)
    finally:
        pod.close()
    ppod = Pod("priv", privileged=True)
    try:
        cid = ppod.run("priv", LONG, security=security(privileged=True))
        rc, out, err = cri.exec_sync(cid, ["sh", "-c", "ls /dev/kmsg /dev/loop-control"])
        check("security: privileged -> /dev has host devices",
              rc == 0 and "/dev/kmsg" in out, (rc, out, err))
    finally:
        ppod.close()
    msg = None
    pod = None
    try:
        pod = Pod("badsysctl", sysctls={"net.ipv4.bogus_knob": "1"})
        msg = rpc_error(pod.run, "c", LONG)
    except grpc.RpcError as e:
        msg = e.details()
    finally:
        if pod:
            pod.close()
    check("bad input: impossible sysctl fails naming it",
          msg is not None and "net.ipv4.bogus_knob" in msg.replace("/", "."), msg)


def scenario_resources():
    pod = Pod("res")
    try:
        limit = 48 << 20
        cid = pod.run("oom", ["sh", "-c", "x=a; while :; do x=$x$x$x$x; done"],
                      resources=pb.LinuxContainerResources(memory_limit_in_bytes=limit))
        st = cri.wait_exit(cid, timeout=60)
        check("resources: over the memory limit -> reason OOMKilled", st.reason == "OOMKilled",
              "reason=%r exit=%d" % (st.reason, st.exit_code))
        cid = pod.run("upd", LONG,
                      resources=pb.LinuxContainerResources(memory_limit_in_bytes=limit))
        pid = container_pid(cid)
        path = cgroup_file(pid, "memory", "memory.limit_in_bytes") or ""
        if path and not os.path.exists(path):
            path = cgroup_file(pid, "memory", "memory.max") or ""
        before = open(path).read().strip() if path and os.path.exists(path) else None
        cri.update_resources(cid, memory_limit_in_bytes=2 * limit)
        after = open(path).read().strip() if path and os.path.exists(path) else None
        check("resources: UpdateContainerResources changes the cgroup memory limit",
              before == str(limit) and after == str(2 * limit), (path, before, after))
        cri.exec_sync(cid, ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"])
        s = cri.stats(cid)
        check("stats: ContainerStats reports non-zero memory and CPU",
              s.memory.working_set_bytes.value > 0 and s.cpu.usage_core_nano_seconds.value > 0,
              s)
        ls = cri.list_stats(pod.id)
        check("stats: ListContainerStats lists the pod's containers",
              cid in {x.attributes.id for x in ls}, [x.attributes.id for x in ls])
    finally:
        pod.close()


def ctrd_restart():
    subprocess.run(["bash", "-c", "source $E2E_DIR/lib/common.sh; "
                    "source $E2E_DIR/lib/containerd.sh; _ctrd_paths; ctrd_restart"],
                   check=True)


def scenario_recovery():
    pods = []
    try:
        for i in range(10):
            p = Pod("rec%d" % i)
            p.run("main", LONG)
            pods.append(p)
        ctrd_restart()
        global cri
        cri = Cri(SOCK, handler=HANDLER)
        running = sum(1 for p in pods
                      if cri.status(p.cids[0]).status.state == pb.CONTAINER_RUNNING)
        check("recovery: 10 pods RUNNING after a containerd restart", running == 10, running)
        rc, out, _ = cri.exec_sync(pods[3].cids[0], ["echo", "alive"])
        check("recovery: exec works after the restart", out == "alive\n", (rc, out))
        cri.stop(pods[4].cids[0], 5)
        st = cri.status(pods[4].cids[0]).status
        check("recovery: a later exit is reported", st.state == pb.CONTAINER_EXITED, st)
        victim = pods[5]
        pid = container_pid(victim.cids[0])
        shim = ppid_of(pid)
        os.kill(shim, signal.SIGKILL)
        deadline = time.time() + 20
        st = None
        while time.time() < deadline:
            st = cri.status(victim.cids[0]).status
            if st.state == pb.CONTAINER_EXITED:
                break
            time.sleep(0.2)
        check("recovery: after SIGKILL of a pod's shim its container is reported exited",
              st is not None and st.state == pb.CONTAINER_EXITED, st)
        deadline = time.time() + 10
        alive = is_alive(pid)
        while alive and time.time() < deadline:
            time.sleep(0.1)
            alive = is_alive(pid)
        check("recovery: no process of the killed shim's container remains", not alive, pid)
        victim.close()
        pods.remove(victim)
        leaked = [l for l in open("/proc/self/mountinfo") if victim.cids[0] in l]
        check("recovery: no mount of the killed pod's container remains", not leaked,
              "".join(leaked[:3]))
    finally:
        for p in pods:
            p.close()


SCENARIOS = [scenario_bridge_pod, scenario_host_network, scenario_security,
             scenario_resources, scenario_recovery]

if __name__ == "__main__":
    TAP.run(SCENARIOS)
