#!/usr/bin/python3
"""More CRI scenarios of issue 3 (namespaces, security context, cpu resources and a pod cgroup
parent, streaming exec, one shim per pod), run by e2e/tests/30-cri.sh after test_cri.py.

Same environment and result format as test_cri.py (it is imported for its client and helpers);
CRI_ONLY selects scenarios by name here too. CTRD_STATE (containerd's state directory) locates
the task bundles.
"""
import json
import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_cri as base  # noqa: E402
from cri import pb, security  # noqa: E402
from wsexec import exec_stream  # noqa: E402

check, Pod, LONG = base.check, base.Pod, base.LONG
cri = base.cri
CTRD_STATE = os.environ.get("CTRD_STATE", "")


def sandbox_pid(pod_id):
    info = cri.call("PodSandboxStatus", pb.PodSandboxStatusRequest(
        pod_sandbox_id=pod_id, verbose=True)).info.get("info", "{}")
    return int(json.loads(info).get("pid", 0))


def ns_of(pid, ns):
    return os.readlink("/proc/%d/ns/%s" % (pid, ns))


def host_ns(ns):
    return os.readlink("/proc/self/ns/%s" % ns)


def out_of(cid, cmd):
    rc, out, err = cri.exec_sync(cid, cmd)
    return out.strip() if rc == 0 else "rc=%d %s" % (rc, err.strip())


def status_field(cid, field):
    out = out_of(cid, ["grep", "^%s:" % field, "/proc/self/status"])
    m = re.match(r"%s:\s+(\S+)" % field, out)
    return m.group(1) if m else out


def init_field(cid, field):
    """A /proc/<pid>/status field of the container's init, read on the host (the init path of
    the runtime, where exec_sync checks cover exec'd processes)."""
    m = re.search(r"^%s:\s+(.*)$" % field, read("/proc/%d/status" % base.container_pid(cid)),
                  re.M)
    return m.group(1).strip() if m else None


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        return "<%s>" % e.strerror


def cgroup_v2_host():
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def knob(pid, v1_ctrl, v1_name, v2_name):
    """(path, content) of a cgroup knob of pid: the v1 file on a v1/hybrid host when the
    controller is mounted as v1, else the unified file."""
    path = base.cgroup_file(pid, v1_ctrl, v2_name if cgroup_v2_host() else v1_name)
    return path, read(path) if path else "<no cgroup for %s>" % v1_ctrl


def wait_gone(pid, timeout=10):
    deadline = time.time() + timeout
    while base.is_alive(pid) and time.time() < deadline:
        time.sleep(0.1)
    return not base.is_alive(pid)


def host_pids_of(cmdline):
    """Live host pids whose command line (spaces for NULs) is cmdline."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if cmd == cmdline and base.is_alive(int(d)):
            found.append(int(d))
    return found


def bundle(cid):
    return os.path.join(CTRD_STATE, "io.containerd.runtime.v2.task", "k8s.io", cid)


# --- namespaces ---------------------------------------------------------------------------
def scenario_namespaces():
    pod = Pod("nsshare")
    try:
        a = pod.run("a", ["sleep", "31338"])
        b = pod.run("b", LONG, security=security())
        spid, pa, pbid = sandbox_pid(pod.id), base.container_pid(a), base.container_pid(b)
        for ns in ("net", "ipc", "uts"):
            links = {ns_of(p, ns) for p in (spid, pa, pbid)}
            check("namespaces: containers share the sandbox's %s namespace" % ns,
                  len(links) == 1 and host_ns(ns) not in links,
                  "sandbox %s a %s b %s host %s" % (ns_of(spid, ns), ns_of(pa, ns),
                                                    ns_of(pbid, ns), host_ns(ns)))
        check("namespaces: pid=CONTAINER -> own PID namespace",
              ns_of(pbid, "pid") not in (ns_of(spid, "pid"), host_ns("pid")) and
              "31338" not in out_of(b, ["ps", "-o", "pid,args"]),
              (ns_of(pbid, "pid"), ns_of(spid, "pid")))
    finally:
        pod.close()

    pod = Pod("sharepid", share_pid=True)
    try:
        a = pod.run("a", ["sleep", "31337"], security=security(share_pid=True))
        b = pod.run("b", LONG, security=security(share_pid=True))
        spid, pbid = sandbox_pid(pod.id), base.container_pid(b)
        ps = out_of(b, ["ps", "-o", "pid,args"])
        check("namespaces: shared PID namespace -> a container sees the other's processes",
              "sleep 31337" in ps, ps)
        comm1 = out_of(b, ["cat", "/proc/1/comm"])
        nspid = re.search(r"NSpid:\s+(.*)", read("/proc/%d/status" % spid))
        check("namespaces: shared PID namespace -> the pause process is PID 1",
              comm1 == base.comm_of(spid) and nspid and nspid.group(1).split()[-1] == "1" and
              ns_of(pbid, "pid") == ns_of(spid, "pid"),
              (comm1, base.comm_of(spid), nspid and nspid.group(1)))
        o = pod.run("orphan", ["sh", "-c", "sleep 31339 & sleep 1; exit 6"],
                    security=security(share_pid=True))
        st = cri.wait_exit(o)
        deadline, left = time.time() + 10, [None]
        while left and time.time() < deadline:
            left = [p for p in host_pids_of("sleep 31339")]
            time.sleep(0.1)
        check("namespaces: shared PID namespace -> a container's exit is reported and its "
              "orphaned processes are killed", st.exit_code == 6 and not left,
              (st.exit_code, left))
    finally:
        pod.close()

    pod = Pod("hostpid", host_pid=True)
    try:
        c = pod.run("c", LONG, security=security(host_pid=True))
        link = out_of(c, ["readlink", "/proc/self/ns/pid"])
        me = out_of(c, ["cat", "/proc/%d/cmdline" % os.getpid()])
        check("namespaces: host PID pod sees host processes",
              link == host_ns("pid") and "test_cri" in me, (link, host_ns("pid"), me))
        o = pod.run("orphan", ["sh", "-c", "sleep 31343 & sleep 1; exit 9"],
                    security=security(host_pid=True))
        st = cri.wait_exit(o)
        deadline, left = time.time() + 10, [None]
        while left and time.time() < deadline:
            left = host_pids_of("sleep 31343")
            time.sleep(0.1)
        check("namespaces: host PID pod -> a container's exit is reported and its orphaned "
              "processes are killed", st.exit_code == 9 and not left, (st.exit_code, left))
    finally:
        pod.close()

    pod = Pod("hostipc", host_ipc=True)
    try:
        c = pod.run("c", LONG, security=security(host_ipc=True))
        link = out_of(c, ["readlink", "/proc/self/ns/ipc"])
        net = out_of(c, ["readlink", "/proc/self/ns/net"])
        check("namespaces: host IPC pod shares the host IPC namespace",
              link == host_ns("ipc") and net != host_ns("net"), (link, host_ns("ipc"), net))
    finally:
        pod.close()


# --- security context -----------------------------------------------------------------------
SECCOMP_DENY_MKDIR = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
}


def scenario_security_context():
    tmp = tempfile.mkdtemp(prefix="skiff-cri-seccomp-")
    pod = Pod("sec2")
    try:
        def one(name, sc, cmd):
            cid = pod.run(name, LONG, security=sc)
            return cid, cri.exec_sync(cid, cmd)

        ids, (rc, out, _) = one("ids", security(run_as_user=1000, run_as_group=3000,
                                                supplemental_groups=[4000, 5000]), ["id"])
        m = re.search(r"uid=(\d+).*gid=(\d+).*groups=([\d,()a-z]*)", out)
        groups = set(re.findall(r"\d+", m.group(3))) if m else set()
        check("security: runAsGroup 3000 + supplementalGroups 4000,5000 -> id",
              m is not None and (m.group(1), m.group(2)) == ("1000", "3000") and
              {"3000", "4000", "5000"} <= groups, out)
        got = (init_field(ids, "Uid"), init_field(ids, "Gid"), init_field(ids, "Groups"))
        check("security: the container's init runs as 1000:3000 with groups 4000,5000",
              got[0].split()[0] == "1000" and got[1].split()[0] == "3000" and
              {"4000", "5000"} <= set(got[2].split()), got)

        nocaps, _ = one("nocaps", security(drop=["ALL"]), ["true"])
        rc0, _, err0 = cri.exec_sync(nocaps, ["ip", "link", "set", "lo", "mtu", "1280"])
        netadm, (rc, out, err) = one("netadmin", security(drop=["ALL"], add=["NET_ADMIN"]),
                                     ["ip", "link", "set", "lo", "mtu", "1280"])
        capeff = status_field(netadm, "CapEff")
        icap = (init_field(netadm, "CapEff"), init_field(netadm, "CapBnd"))
        check("security: drop ALL + add NET_ADMIN -> CapEff is CAP_NET_ADMIN only",
              capeff == "%016x" % (1 << 12) and icap == (capeff, capeff), (capeff, icap))
        check("security: add NET_ADMIN -> changing a link works (and fails without it)",
              rc == 0 and rc0 != 0 and "Operation not permitted" in err0, (rc, err, rc0, err0))

        nr, (rc, out, err) = one("nonroot-netadmin", security(
            run_as_user=1000, drop=["ALL"], add=["NET_ADMIN"]),
            ["ip", "link", "set", "lo", "mtu", "1300"])
        # A non-root process keeps across execve (no file capabilities) only its ambient set:
        # effective = the spec's ambient set, bounding = the spec's bounding set.
        caps = json.load(open(os.path.join(bundle(nr), "config.json")))["process"]["capabilities"]
        want = ["%016x" % ((1 << 12) if "CAP_NET_ADMIN" in (caps.get(k) or []) else 0)
                for k in ("ambient", "ambient", "bounding")]
        got = [status_field(nr, "CapEff"), init_field(nr, "CapEff"), init_field(nr, "CapBnd")]
        check("security: runAsUser 1000 + add NET_ADMIN -> in the bounding set, not effective",
              got == want and "1000" in init_field(nr, "Uid").split()[:1] and
              (rc == 0) == (want[0] != "0" * 16), (got, want, rc, err))

        profile = os.path.join(tmp, "deny-mkdir.json")
        with open(profile, "w") as f:
            json.dump(SECCOMP_DENY_MKDIR, f)
        loc, (rc, out, err) = one("localhost", security(seccomp="localhost/" + profile),
                                  ["mkdir", "/tmp/d"])
        rc2, _, err2 = cri.exec_sync(loc, ["touch", "/tmp/f"])
        check("security: seccomp Localhost profile denying mkdir -> EPERM (touch still works)",
              rc != 0 and "Operation not permitted" in err and rc2 == 0, (rc, err, rc2, err2))
        check("security: seccomp Localhost -> Seccomp: 2 (exec and init)",
              (status_field(loc, "Seccomp"), init_field(loc, "Seccomp")) == ("2", "2"),
              (status_field(loc, "Seccomp"), init_field(loc, "Seccomp")))
        unc, _ = one("unconfined", security(seccomp="Unconfined"), ["true"])
        rtd, _ = one("rtdefault", security(seccomp="RuntimeDefault"), ["true"])
        got = (status_field(unc, "Seccomp"), init_field(unc, "Seccomp"),
               status_field(rtd, "Seccomp"), init_field(rtd, "Seccomp"))
        check("security: seccomp Unconfined -> Seccomp: 0 (RuntimeDefault: 2)",
              got == ("0", "0", "2", "2"), got)

        plain = pod.run("plain", LONG)
        masked = pod.run("masked", LONG, security=security(
            masked_paths=["/proc/cpuinfo", "/home"], readonly_paths=["/tmp"]))
        cpuinfo = cri.exec_sync(masked, ["cat", "/proc/cpuinfo"])
        home = cri.exec_sync(masked, ["ls", "-A", "/home"])
        check("security: masked_paths hide a file and a directory",
              cpuinfo[:2] == (0, "") and home[:2] == (0, "") and
              "processor" in cri.exec_sync(plain, ["cat", "/proc/cpuinfo"])[1] and
              "user" in cri.exec_sync(plain, ["ls", "-A", "/home"])[1], (cpuinfo, home))
        ro = cri.exec_sync(masked, ["touch", "/tmp/x"])
        rw = cri.exec_sync(masked, ["touch", "/x"])
        check("security: readonly_paths make /tmp read-only (the rootfs stays writable)",
              ro[0] != 0 and "Read-only file system" in ro[2] and rw[0] == 0 and
              cri.exec_sync(plain, ["touch", "/tmp/x"])[0] == 0, (ro, rw))
    finally:
        pod.close()
        shutil.rmtree(tmp, ignore_errors=True)

    # Host network: sysfs instances are per network namespace, and in the pod's own one the
    # (non-privileged) pause container has already mounted it read-only.
    ppod = Pod("priv2", privileged=True, host_network=True)
    try:
        cid = ppod.run("priv", LONG, security=security(privileged=True, host_network=True))
        plain = ppod.run("plain", LONG, security=security(host_network=True))
        sysro = out_of(plain, ["grep", " /sys ", "/proc/mounts"])
        # Every capability up to cap_last_cap that this node's root has (here root may lack
        # CAP_SYS_RESOURCE); the default set is much smaller.
        last = int(read("/proc/sys/kernel/cap_last_cap"))
        bnd = int(re.search(r"CapBnd:\s+(\S+)", read("/proc/self/status")).group(1), 16)
        capeff = status_field(cid, "CapEff")
        check("security: privileged -> CapEff has every capability up to cap_last_cap",
              capeff == "%016x" % (((1 << (last + 1)) - 1) & bnd) and bin(bnd).count("1") > 30
              and init_field(cid, "CapEff") == capeff,
              (capeff, init_field(cid, "CapEff"), last, "%x" % bnd))
        sysmnt = out_of(cid, ["grep", " /sys ", "/proc/mounts"])
        spec = [m for m in json.load(open(os.path.join(bundle(cid), "config.json")))["mounts"]
                if m["destination"] == "/sys"]
        check("security: privileged -> sysfs is writable (read-only otherwise)",
              re.search(r" sysfs (rw|\S*,rw)[, ]", sysmnt) is not None and
              re.search(r" sysfs (ro|\S*,ro)[, ]", sysro) is not None, (sysmnt, sysro, spec))
        check("security: privileged -> no seccomp", status_field(cid, "Seccomp") == "0",
              status_field(cid, "Seccomp"))
    finally:
        ppod.close()

    host_port = read("/proc/sys/net/ipv4/ip_unprivileged_port_start")
    host_shm = read("/proc/sys/kernel/shm_rmid_forced")
    want = {"net.ipv4.ip_unprivileged_port_start": "0" if host_port != "0" else "1000",
            "kernel.shm_rmid_forced": "1" if host_shm != "1" else "0"}
    spod = Pod("sysctl", sysctls=want)
    try:
        cid = spod.run("c", LONG)
        got = {k: out_of(cid, ["cat", "/proc/sys/" + k.replace(".", "/")]) for k in want}
        check("security: namespaced pod sysctls are visible in the container", got == want,
              (got, want))
        check("security: pod sysctls leave the host's values alone",
              (read("/proc/sys/net/ipv4/ip_unprivileged_port_start"),
               read("/proc/sys/kernel/shm_rmid_forced")) == (host_port, host_shm))
    finally:
        spod.close()


# --- cpu resources, pod cgroup parent -----------------------------------------------------
def cpu_weight(shares):
    return str(1 + ((shares - 2) * 9999) // 262142)


def scenario_cpu_resources():
    pod = Pod("cpu")
    v2 = cgroup_v2_host()
    try:
        cpus = "1" if os.cpu_count() > 1 else "0"
        cid = pod.run("c", LONG, resources=pb.LinuxContainerResources(
            cpu_shares=512, cpu_quota=50000, cpu_period=100000, cpuset_cpus=cpus))
        pid = base.container_pid(cid)
        if v2:
            got = (knob(pid, "cpu", "", "cpu.weight"), knob(pid, "cpu", "", "cpu.max"))
            ok = [g[1] for g in got] == [cpu_weight(512), "50000 100000"]
        else:
            got = (knob(pid, "cpu", "cpu.shares", ""), knob(pid, "cpu", "cpu.cfs_quota_us", ""),
                   knob(pid, "cpu", "cpu.cfs_period_us", ""))
            ok = [g[1] for g in got] == ["512", "50000", "100000"]
        check("resources: cpu shares/quota/period land in the container's cgroup", ok, got)
        cs = knob(pid, "cpuset", "cpuset.cpus", "cpuset.cpus")
        allowed = status_field(cid, "Cpus_allowed_list")
        check("resources: cpuset lands in the cgroup and the process's affinity",
              cs[1] == cpus and allowed == cpus, (cs, allowed))
        cri.update_resources(cid, cpu_quota=20000, cpu_period=100000, cpu_shares=256)
        if v2:
            got = (knob(pid, "cpu", "", "cpu.max"), knob(pid, "cpu", "", "cpu.weight"))
            ok = [g[1] for g in got] == ["20000 100000", cpu_weight(256)]
        else:
            got = (knob(pid, "cpu", "cpu.cfs_quota_us", ""), knob(pid, "cpu", "cpu.shares", ""))
            ok = [g[1] for g in got] == ["20000", "256"]
        check("resources: UpdateContainerResources applies cpu quota/shares live", ok, got)
        cpus2 = "0-1" if cpus == "1" else "0"
        cri.update_resources(cid, cpuset_cpus=cpus2, cpu_quota=20000, cpu_period=100000)
        cs = knob(pid, "cpuset", "cpuset.cpus", "cpuset.cpus")
        allowed = init_field(cid, "Cpus_allowed_list")
        check("resources: UpdateContainerResources applies cpuset live",
              cs[1] == cpus2 and allowed == cpus2, (cs, allowed))
    finally:
        pod.close()

    # No CRI field carries a pids limit: the kubelet puts it on the pod's cgroup parent.
    name = "skiff-e2e-pids-%d" % os.getpid()
    if v2:
        top = "/sys/fs/cgroup"
        ctrl_dirs = [top]
    else:
        top = "/sys/fs/cgroup/pids"
        ctrl_dirs = [d for d in ("/sys/fs/cgroup/%s" % c for c in
                                 ("pids", "memory", "cpu", "cpuset", "freezer", "devices",
                                  "blkio")) if os.path.isdir(d)]
    parent = os.path.join(top, name)
    os.makedirs(parent, exist_ok=True)
    pod = None
    try:
        with open(os.path.join(parent, "pids.max"), "w") as f:
            f.write("16")
        pod = Pod("pids", cgroup_parent="/" + name)
        cid = pod.run("c", LONG)
        pid = base.container_pid(cid)
        path = base.cgroup_file(pid, "pids", "pids.current") or ""
        rc, out, err = cri.exec_sync(cid, [
            "sh", "-c", "i=0; while [ $i -lt 30 ]; do sleep 60 >/dev/null 2>&1 & "
            "i=$((i+1)); done; echo done"], timeout=30)
        check("resources: a pod cgroup parent's pids.max limits the container",
              path.startswith(parent + "/") and ("fork" in err or "unavailable" in err),
              (path, rc, out, err[-300:]))
        pod.close()
        pod = None
        left = []
        for d in ctrl_dirs:
            p = os.path.join(d, name)
            if os.path.isdir(p):
                left += [os.path.join(p, e) for e in os.listdir(p)
                         if os.path.isdir(os.path.join(p, e))]
        check("resources: no cgroup is left under the pod's cgroup parent after removal",
              not left, left)
    finally:
        if pod:
            pod.close()
        for d in ctrl_dirs:
            try:
                os.rmdir(os.path.join(d, name))
            except OSError:
                pass


# --- streaming exec -------------------------------------------------------------------------
def scenario_exec_stream():
    pod = Pod("wsexec")
    try:
        cid = pod.run("c", LONG, env={"SKIFF_E2E": "from-spec"}, working_dir="/home")
        rc, out, err = cri.exec_sync(cid, ["sh", "-c", "echo $SKIFF_E2E $(pwd)"])
        check("exec: an exec'd process gets the container's env and working directory",
              out == "from-spec /home\n", (rc, out, err))
        big = 3 << 20
        rc, out, err = cri.exec_sync(cid, ["sh", "-c", "head -c %d /dev/zero | tr '\\0' a; "
                                           "echo end >&2" % big], timeout=30)
        check("exec: ExecSync returns 3 MiB of stdout intact",
              rc == 0 and len(out) == big and out.strip("a") == "" and err == "end\n",
              (rc, len(out), err))
        msg = base.rpc_error(cri.exec_sync, cid, ["/no/such/binary"])
        check("exec: ExecSync of a missing binary fails naming it",
              msg is not None and "/no/such/binary" in msg, msg)
        url = cri.exec_url(cid, ["sh", "-c", "echo hi; echo oops >&2; exit 3"])
        m = re.match(r"http://127\.0\.0\.1:(\d+)/exec/", url)
        check("exec: CRI Exec returns a URL on the streaming server with a real port",
              m is not None and int(m.group(1)) > 0, url)
        r = exec_stream(url)
        check("exec: websocket v4.channel.k8s.io -> stdout, stderr and exit code 3",
              (r["protocol"], r["stdout"], r["stderr"], r["exit_code"]) ==
              ("v4.channel.k8s.io", b"hi\n", b"oops\n", 3), r)
        r = exec_stream(cri.exec_url(cid, ["sh", "-c", "echo ok"]))
        check("exec: websocket exit 0 -> status Success",
              r["stdout"] == b"ok\n" and r["exit_code"] == 0 and
              (r["status"] or {}).get("status") == "Success", r)
        url = cri.exec_url(cid, ["sh", "-c", "read x; echo got $x; exit 5"], stdin=True)
        r = exec_stream(url, stdin=b"abc\n")
        check("exec: websocket stdin reaches the process",
              r["stdout"] == b"got abc\n" and r["exit_code"] == 5, r)
        r = exec_stream(cri.exec_url(cid, ["sh", "-c", "echo hi; exit 3"]),
                        protocols=("channel.k8s.io",))
        check("exec: websocket channel.k8s.io (v1) -> stdout and an exit code error",
              r["protocol"] == "channel.k8s.io" and r["stdout"] == b"hi\n" and
              b"exit code 3" in r["error"], r)
        r = exec_stream(cri.exec_url(cid, ["sh", "-c", "head -c %d /dev/zero | tr '\\0' b"
                                           % big]))
        check("exec: websocket streams 3 MiB of stdout intact",
              len(r["stdout"]) == big and r["stdout"].strip(b"b") == b"" and r["exit_code"] == 0,
              (len(r["stdout"]), r["status"]))
        script = ('i=0; while [ $i -lt 50 ]; do s=$(stty size); [ "$s" = "37 101" ] && break; '
                  'sleep 0.1; i=$((i+1)); done; echo "size $s"; tty; exit 2')
        r = exec_stream(cri.exec_url(cid, ["sh", "-c", script], tty=True, stdin=True),
                        resize=(101, 37))
        check("exec: websocket tty exec -> a pty, the resize applies, exit code 2",
              b"size 37 101" in r["stdout"] and b"/dev/pts/" in r["stdout"] and
              r["exit_code"] == 2, r)
    finally:
        pod.close()


# --- one shim per pod -----------------------------------------------------------------------
def scenario_one_shim():
    pod = Pod("oneshim")
    closed = False
    try:
        a = pod.run("a", LONG)
        b = pod.run("b", LONG)
        spid, pa, pbid = sandbox_pid(pod.id), base.container_pid(a), base.container_pid(b)
        shim = base.ppid_of(spid)
        addr = read(os.path.join(bundle(pod.id), "address"))
        sock = addr[len("unix://"):] if addr.startswith("unix://") else ""
        a_cg = base.cgroup_file(pa, "memory", "")
        b_cg = base.cgroup_file(pbid, "memory", "")
        check("one shim: sandbox and both containers are children of one shim",
              {base.ppid_of(pa), base.ppid_of(pbid)} == {shim} and os.path.exists(sock),
              (shim, base.ppid_of(pa), base.ppid_of(pbid), addr))
        cri.stop(a, 0)
        cri.remove(a)
        pod.cids.remove(a)
        rc, out, _ = cri.exec_sync(b, ["echo", "still"])
        check("one shim: after removing one container the shim serves the other",
              base.is_alive(shim) and base.ppid_of(pbid) == shim and out == "still\n",
              (base.is_alive(shim), rc, out))
        check("one shim: delete cleans only its id (bundle and cgroup)",
              not os.path.exists(bundle(a)) and os.path.isdir(bundle(b)) and
              os.path.isdir(bundle(pod.id)) and bool(a_cg) and not wait_gone_path(a_cg) and
              os.path.isdir(b_cg or "/nonexistent") and not base.is_alive(pa),
              (os.path.exists(bundle(a)), a_cg, os.path.exists(a_cg or ""), b_cg))
        pod.close()
        closed = True
        gone = wait_gone(shim)
        check("one shim: after RemovePodSandbox the shim process and its socket are gone",
              gone and not os.path.exists(sock) and not base.is_alive(pbid) and
              not base.is_alive(spid) and not os.path.exists(bundle(pod.id)),
              (gone, sock, os.path.exists(sock)))
        ids = (pod.id, a, b)
        leaked = [l for l in open("/proc/self/mountinfo") if any(i in l for i in ids)]
        check("one shim: no mount or cgroup of the pod remains",
              not leaked and not os.path.exists(b_cg), ("".join(leaked[:3]), b_cg))
    finally:
        if not closed:
            pod.close()


def wait_gone_path(path, timeout=5):
    """True while path still exists after timeout."""
    deadline = time.time() + timeout
    while path and os.path.exists(path) and time.time() < deadline:
        time.sleep(0.1)
    return bool(path) and os.path.exists(path)


def scenario_shim_kill():
    """SIGKILL of the shim of a pod with two containers: all of them are reported exited and
    nothing of the pod remains once it is removed."""
    pod = Pod("shimkill", share_pid=True)
    closed = False
    try:
        a = pod.run("a", LONG, security=security(share_pid=True))
        b = pod.run("b", ["sh", "-c", "sleep 31340 & exec sleep 31341"],
                    security=security(share_pid=True))
        spid, pa, pbid = sandbox_pid(pod.id), base.container_pid(a), base.container_pid(b)
        shim = base.ppid_of(spid)
        os.kill(shim, 9)
        deadline = time.time() + 20
        states = []
        while time.time() < deadline:
            states = [cri.status(c).status.state for c in (a, b)]
            if states == [pb.CONTAINER_EXITED] * 2:
                break
            time.sleep(0.2)
        check("shim kill: both containers of the pod are reported exited",
              states == [pb.CONTAINER_EXITED] * 2, states)
        left = [p for p in (spid, pa, pbid) if not wait_gone(p, 5)]
        left += host_pids_of("sleep 31340") + host_pids_of("sleep 31341")
        check("shim kill: no process of the pod remains", not left and not base.is_alive(shim),
              left)
        pod.close()
        closed = True
        ids = (pod.id, a, b)
        leaked = [l for l in open("/proc/self/mountinfo") if any(i in l for i in ids)]
        check("shim kill: no mount of the pod remains after removal", not leaked,
              "".join(leaked[:3]))
    finally:
        if not closed:
            pod.close()


SCENARIOS = [scenario_namespaces, scenario_security_context, scenario_cpu_resources,
             scenario_exec_stream, scenario_one_shim, scenario_shim_kill]

if __name__ == "__main__":
    base.TAP.run(SCENARIOS)
