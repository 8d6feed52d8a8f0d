"""Minimal CRI v1 client for skiff's end-to-end tests.

Drives containerd's CRI socket the way the kubelet does (RunPodSandbox, CreateContainer,
StartContainer, ExecSync, ...). The project's own proto subset (cri.proto) is compiled on first
use with Debian's grpc_tools into a cache directory. Run with /usr/bin/python3 (Debian's grpcio).
"""
import hashlib
import importlib
import os
import sys
import tempfile
import time
import uuid

import grpc

_HERE = os.path.dirname(os.path.abspath(__file__))


def _load_proto():
    pre = os.environ.get("SKIFF_CRI_PY")  # a directory with pre-generated cri_pb2*.py
    if pre:
        sys.path.insert(0, pre)
        return importlib.import_module("cri_pb2"), importlib.import_module("cri_pb2_grpc")
    src = os.path.join(_HERE, "cri.proto")
    digest = hashlib.sha256(open(src, "rb").read()).hexdigest()[:16]
    out = os.path.join(tempfile.gettempdir(), "skiff-cri-py-" + digest)
    if not os.path.exists(os.path.join(out, "cri_pb2_grpc.py")):
        from grpc_tools import protoc  # Debian python3-grpc-tools

        tmp = out + ".tmp.%d" % os.getpid()
        os.makedirs(tmp, exist_ok=True)
        rc = protoc.main(["protoc", "-I" + _HERE, "--python_out=" + tmp,
                          "--grpc_python_out=" + tmp, src])
        if rc != 0:
            raise RuntimeError("protoc failed for %s" % src)
        try:
            os.rename(tmp, out)
        except OSError:
            pass  # another process won the race
    if out not in sys.path:
        sys.path.insert(0, out)
    return importlib.import_module("cri_pb2"), importlib.import_module("cri_pb2_grpc")


pb, pb_grpc = _load_proto()


class CriError(Exception):
    pass


class Cri:
    """A CRI client bound to one containerd socket and one runtime handler."""

    def __init__(self, socket, handler="skiff", timeout=60):
        self.channel = grpc.insecure_channel("unix://" + socket)
        self.rt = pb_grpc.RuntimeServiceStub(self.channel)
        self.img = pb_grpc.ImageServiceStub(self.channel)
        self.handler = handler
        self.timeout = timeout
        self.log_root = tempfile.mkdtemp(prefix="skiff-cri-logs-")

    def call(self, method, req, timeout=None, service=None):
        stub = service or self.rt
        return getattr(stub, method)(req, timeout=timeout or self.timeout)

    # --- sandboxes -------------------------------------------------------------------------
    def sandbox_config(self, name, host_network=False, annotations=None, share_pid=False,
                       host_pid=False, host_ipc=False, sysctls=None, cgroup_parent="",
                       privileged=False):
        uid = uuid.uuid4().hex[:12]
        ns = pb.NamespaceOption(
            network=pb.NODE if host_network else pb.POD,
            pid=pb.NODE if host_pid else (pb.POD if share_pid else pb.CONTAINER),
            ipc=pb.NODE if host_ipc else pb.POD)
        logdir = os.path.join(self.log_root, "%s_%s" % (name, uid))
        os.makedirs(logdir, exist_ok=True)
        return pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, uid=uid, namespace="e2e", attempt=0),
            hostname="" if host_network else name,
            log_directory=logdir,
            annotations=annotations or {},
            labels={"e2e": "skiff"},
            linux=pb.LinuxPodSandboxConfig(
                cgroup_parent=cgroup_parent,
                sysctls=sysctls or {},
                security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns,
                                                                privileged=privileged)))

    def run_pod(self, name, handler=None, **kw):
        cfg = self.sandbox_config(name, **kw)
        r = self.call("RunPodSandbox", pb.RunPodSandboxRequest(
            config=cfg, runtime_handler=self.handler if handler is None else handler))
        return r.pod_sandbox_id, cfg

    def stop_pod(self, pod_id):
        self.call("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=pod_id))

    def remove_pod(self, pod_id):
        self.call("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=pod_id))

    def destroy_pod(self, pod_id):
        for fn in (self.stop_pod, self.remove_pod):
            try:
                fn(pod_id)
            except grpc.RpcError:
                pass

    # --- containers ------------------------------------------------------------------------
    def create_container(self, pod_id, sandbox_cfg, name, image, command, args=(), env=None,
                         annotations=None, security=None, resources=None, tty=False,
                         stdin=False, working_dir="", mounts=()):
        cfg = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name, attempt=0),
            image=pb.ImageSpec(image=image),
            command=list(command), args=list(args), working_dir=working_dir,
            envs=[pb.KeyValue(key=k, value=v) for k, v in (env or {}).items()],
            annotations=annotations or {},
            log_path="%s.log" % name, tty=tty, stdin=stdin,
            mounts=list(mounts),
            linux=pb.LinuxContainerConfig(
                security_context=security or pb.LinuxContainerSecurityContext(),
                resources=resources or pb.LinuxContainerResources()))
        r = self.call("CreateContainer", pb.CreateContainerRequest(
            pod_sandbox_id=pod_id, config=cfg, sandbox_config=sandbox_cfg))
        return r.container_id

    def start(self, cid):
        self.call("StartContainer", pb.ContainerIdRequest(container_id=cid))

    def stop(self, cid, timeout=0):
        self.call("StopContainer", pb.StopContainerRequest(container_id=cid, timeout=timeout))

    def remove(self, cid):
        self.call("RemoveContainer", pb.ContainerIdRequest(container_id=cid))

    def status(self, cid, verbose=False):
        return self.call("ContainerStatus", pb.ContainerStatusRequest(
            container_id=cid, verbose=verbose))

    def wait_exit(self, cid, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = self.status(cid).status
            if st.state == pb.CONTAINER_EXITED:
                return st
            time.sleep(0.05)
        raise CriError("container %s did not exit within %ss" % (cid, timeout))

    def exec_sync(self, cid, cmd, timeout=10):
        r = self.call("ExecSync", pb.ExecSyncRequest(container_id=cid, cmd=list(cmd),
                                                      timeout=timeout),
                      timeout=timeout + 30)
        return r.exit_code, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")

    def update_resources(self, cid, **res):
        self.call("UpdateContainerResources", pb.UpdateContainerResourcesRequest(
            container_id=cid, linux=pb.LinuxContainerResources(**res)))

    def stats(self, cid):
        return self.call("ContainerStats", pb.ContainerIdRequest(container_id=cid)).stats

    def list_stats(self, pod_id=""):
        return self.call("ListContainerStats", pb.ListContainerStatsRequest(
            filter=pb.ContainerStatsFilter(pod_sandbox_id=pod_id))).stats

    def list_containers(self, pod_id=""):
        return self.call("ListContainers", pb.ListContainersRequest(
            filter=pb.ContainerFilter(pod_sandbox_id=pod_id))).containers

    def exec_url(self, cid, cmd, tty=False, stdin=False):
        return self.call("Exec", pb.ExecRequest(container_id=cid, cmd=list(cmd), tty=tty,
                                                stdin=stdin, stdout=True,
                                                stderr=not tty)).url

    def version(self):
        return self.call("Version", pb.VersionRequest(version="v1"))


def security(**kw):
    """Builds a LinuxContainerSecurityContext: run_as_user=1000, readonly_rootfs=True,
    drop=["ALL"], add=[...], seccomp="RuntimeDefault"|"Unconfined"|"localhost/<path>",
    privileged=True, no_new_privs=True, share_pid=True, host_pid=True, host_ipc=True,
    masked_paths=[...], readonly_paths=[...]."""
    sc = pb.LinuxContainerSecurityContext()
    if "run_as_user" in kw:
        sc.run_as_user.value = kw["run_as_user"]
    if "run_as_group" in kw:
        sc.run_as_group.value = kw["run_as_group"]
    if kw.get("supplemental_groups"):
        sc.supplemental_groups.extend(kw["supplemental_groups"])
    sc.readonly_rootfs = kw.get("readonly_rootfs", False)
    sc.privileged = kw.get("privileged", False)
    sc.no_new_privs = kw.get("no_new_privs", False)
    if "drop" in kw or "add" in kw:
        sc.capabilities.drop_capabilities.extend(kw.get("drop", []))
        sc.capabilities.add_capabilities.extend(kw.get("add", []))
    if "masked_paths" in kw:
        sc.masked_paths.extend(kw["masked_paths"])
    if "readonly_paths" in kw:
        sc.readonly_paths.extend(kw["readonly_paths"])
    seccomp = kw.get("seccomp")
    if seccomp == "RuntimeDefault":
        sc.seccomp.profile_type = pb.SecurityProfile.RuntimeDefault
    elif seccomp == "Unconfined" or seccomp is None:
        sc.seccomp.profile_type = pb.SecurityProfile.Unconfined
    elif seccomp.startswith("localhost/"):
        sc.seccomp.profile_type = pb.SecurityProfile.Localhost
        sc.seccomp.localhost_ref = seccomp[len("localhost/"):]
    ns = pb.NamespaceOption(network=pb.POD, ipc=pb.POD,
                            pid=pb.POD if kw.get("share_pid") else pb.CONTAINER)
    if kw.get("host_network"):
        ns.network = pb.NODE
    if kw.get("host_pid"):
        ns.pid = pb.NODE
    if kw.get("host_ipc"):
        ns.ipc = pb.NODE
    sc.namespace_options.CopyFrom(ns)
    return sc


if __name__ == "__main__":
    c = Cri(sys.argv[1] if len(sys.argv) > 1 else "/run/containerd/containerd.sock")
    print(c.version())
