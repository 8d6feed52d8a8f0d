#!/usr/bin/python3
"""Checks of the chart's rendered output for e2e/node/test_chart.sh (renders by helm-render).

Each check prints one line, `ok<TAB>DESCRIPTION` or `not ok<TAB>DESCRIPTION<TAB>DETAIL`; the
shell script turns them into TAP. An exception (a missing object or field) is reported as a
failed check and exits 1.

  chart-check.py probe RENDERED NOTES
      the renderer itself, on e2e/node/fixtures/render-chart (rendered with --name rel
      --namespace ns --kube-version 1.27.4 --set setNum=3 --set nested.drop=null
      --set-string setString=3): what each Helm function and value rule yields.
  chart-check.py manifests DEFAULT UNINSTALL MANIFESTS_DIR OUTDIR
      the chart with its defaults (release `skiff` in skiff-system, namespace.create=true)
      against manifests/*.yaml, and with uninstall.enabled=true against
      manifests/uninstall/*.yaml; writes OUTDIR/default-config.json, OUTDIR/manifest-config.json
      and OUTDIR/default-install.args (the init container's command, one argument a line).
  chart-check.py overrides RENDERED DEFAULT VALUES_FILE OUTDIR [KEY=VALUE...]
      the chart rendered with VALUES_FILE and the --set KEY=VALUE overrides (applied here to
      VALUES_FILE's content to get what the render must show); writes
      OUTDIR/override-config.json and OUTDIR/override-install.args.
  chart-check.py existing-secret RENDERED SECRET
  chart-check.py rke2 RENDERED
"""
import json
import os
import re
import sys

import yaml


def say(good, desc, detail=""):
    if good:
        print("ok\t" + desc)
    else:
        print("not ok\t" + desc + "\t" + str(detail).replace("\n", " | ")[:2000])


def eq(desc, expected, actual):
    say(expected == actual, desc, "expected %r, got %r" % (expected, actual))


def load(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def index(docs):
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def find(docs, kind, name=None):
    for d in docs:
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name):
            return d
    return None


def pod_spec(ds):
    return ds["spec"]["template"]["spec"]


def container(spec, name, init=False):
    for c in spec.get("initContainers" if init else "containers") or []:
        if c["name"] == name:
            return c
    return None


def host_mounts(spec, c):
    """{mountPath: hostPath path} of c's hostPath volumes."""
    vols = {v["name"]: v for v in spec.get("volumes") or []}
    out = {}
    for m in c.get("volumeMounts") or []:
        v = vols.get(m["name"])
        if v and "hostPath" in v:
            out[m["mountPath"]] = v["hostPath"]["path"]
    return out


def config_files(spec, c, mount_path="/config"):
    """The file names c sees under mount_path from a configMap/secret/projected volume."""
    vols = {v["name"]: v for v in spec.get("volumes") or []}
    for m in c.get("volumeMounts") or []:
        if m["mountPath"] != mount_path:
            continue
        v = vols[m["name"]]
        sources = v["projected"]["sources"] if "projected" in v else [v]
        files = {}
        for s in sources:
            src = s.get("configMap") or s.get("secret")
            kind = "ConfigMap" if "configMap" in s else "Secret"
            name = src.get("name") or src.get("secretName")
            for it in src.get("items") or [{"key": "*", "path": "*"}]:
                files[it["path"]] = (kind, name, it["key"])
        return files
    return None


def flags(cmd):
    """--key=value arguments of a command as a dict (the rest under positional)."""
    out, pos = {}, []
    for a in cmd:
        m = re.fullmatch(r"--([a-z-]+)=(.*)", a)
        if m:
            out[m.group(1)] = m.group(2)
        else:
            pos.append(a)
    return out, pos


def cm_files(docs, kind, name):
    d = find(docs, kind, name)
    if not d:
        return None
    return d.get("data") or d.get("stringData") or {}


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


# ---- the renderer itself -----------------------------------------------------------------------
def probe(rendered, notes):
    docs = load(rendered)
    eq("render-probe: documents in Helm's kind order, comment-only and empty ones dropped",
       ["Namespace", "ConfigMap", "Deployment", "Zebra"], [d["kind"] for d in docs])
    with open(rendered) as f:
        sources = re.findall(r"(?m)^# Source: (.*)$", f.read())
    eq("render-probe: each document names its template",
       ["render-probe/templates/order.yaml", "render-probe/templates/probe.yaml"] +
       ["render-probe/templates/order.yaml"] * 2, sources)
    data = find(docs, "ConfigMap", "probe")["data"]
    expect = {
        "kindNum": "float64",  # values.yaml numbers go through JSON
        "kindSet": "int64",  # --set integers
        "kindSetString": "string",
        "big": "1e+06",  # Helm's well-known float64 formatting of large YAML numbers
        "nestedKeys": "deep,keep",  # --set nested.drop=null removed the default
        "deep": '{"a":1,"b":2}',
        "toYaml": "a:\n- 1\n- x\nb: 1",  # sorted keys, no trailing newline
        "include": "name: probe\nlist:\n  - b\n  - a",
        "tpl": "probe-render-probe",
        "required": "probe",
        "lookup": "0",
        "fromYaml": "[1,2]",
        "fromJson": "true",
        "missing": "",  # missingkey=zero, "<no value>" removed
        "chart": "render-probe 1.2.3 4.5",
        "release": "rel ns Helm true 1",
        "capabilities": "1 27 true false",
        "template": "render-probe/templates/probe.yaml render-probe/templates "
                    "render-probe/templates/probe.yaml",
        "file": "hello from a chart file",
    }
    for k, v in expect.items():
        eq("render-probe: %s" % k, v, data.get(k))
    with open(notes) as f:
        eq("render-probe: NOTES.txt rendered apart", "notes for rel: probe", f.read().strip())


# ---- defaults against manifests/ ------------------------------------------------------------------
def norm_name(kind, name, release):
    """Cluster-scoped objects carry `<release>-` in the chart, not in the manifests."""
    if kind in ("ClusterRole", "ClusterRoleBinding") and name.startswith(release + "-"):
        return name[len(release) + 1:]
    return name


# Known, intended differences between the chart's and the manifests' installer flags: the
# manifests use --flavor=auto (one file for every node), the chart names the flavour so that it
# can mount the flavour's host paths.
ALLOWED_FLAG_DIFF = {"flavor"}


def compare_daemonset(tag, chart_ds, man_ds, init_name):
    cs, ms = pod_spec(chart_ds), pod_spec(man_ds)
    for key in ("hostPID", "serviceAccountName", "priorityClassName", "nodeSelector"):
        eq("%s: spec.%s as in the manifest" % (tag, key), ms.get(key), cs.get(key))
    mt = [t for t in ms.get("tolerations") or []]
    say(all(t in (cs.get("tolerations") or []) for t in mt),
        "%s: the manifest's tolerations are in the chart's" % tag,
        "%r not in %r" % (mt, cs.get("tolerations")))
    ci, mi = container(cs, init_name, True), container(ms, init_name, True)
    if not ci or not mi:
        say(False, "%s: init container `%s` in both" % (tag, init_name), (ci, mi))
        return
    eq("%s: init container privileged as in the manifest" % tag,
       mi["securityContext"].get("privileged"), ci["securityContext"].get("privileged"))
    say(ci["securityContext"].get("privileged") is True, "%s: init container is privileged" % tag)
    eq("%s: init container hostPath mounts as in the manifest" % tag,
       host_mounts(ms, mi), host_mounts(cs, ci))
    hm = host_mounts(cs, ci)
    bad = {m: p for m, p in hm.items() if m != "/host" + p}
    say(hm and not bad, "%s: every init hostPath is mounted at /host<path>" % tag, bad)
    cf, mf = flags(ci["command"]), flags(mi["command"])
    eq("%s: installer command words as in the manifest" % tag, mf[1], cf[1])
    diff = {k: (v, cf[0].get(k)) for k, v in mf[0].items()
            if cf[0].get(k) != v and k not in ALLOWED_FLAG_DIFF}
    say(not diff, "%s: every installer flag of the manifest has the same value in the chart" % tag,
        diff)
    eq("%s: env as in the manifest" % tag, mi.get("env"), ci.get("env"))
    eq("%s: init container image as in the manifest" % tag, mi["image"], ci["image"])


def manifests(default, uninstall, mdir, outdir):
    release = "skiff"
    ddocs, udocs = load(default), load(uninstall)
    mdocs, udocs_m = [], []
    for f in sorted(os.listdir(mdir)):
        if f.endswith(".yaml"):
            mdocs += load(os.path.join(mdir, f))
    for f in sorted(os.listdir(os.path.join(mdir, "uninstall"))):
        if f.endswith(".yaml"):
            udocs_m += load(os.path.join(mdir, "uninstall", f))

    def objset(docs, chart):
        return sorted((d["kind"], norm_name(d["kind"], d["metadata"]["name"], release)
                       if chart else d["metadata"]["name"]) for d in docs)
    eq("defaults: the chart renders exactly the objects of manifests/*.yaml",
       objset(mdocs, False), objset(ddocs, True))
    base = [d for d in mdocs if d["kind"] != "DaemonSet"]
    eq("uninstall.enabled: the chart renders manifests/ without skiff-node, plus "
       "manifests/uninstall/", objset(base + udocs_m, False), objset(udocs, True))
    for d in ddocs:
        ns = d["metadata"].get("namespace")
        say(ns in (None, "skiff-system"), "defaults: %s/%s in the release namespace" %
            (d["kind"], d["metadata"]["name"]), ns)

    rc, mrc = find(ddocs, "RuntimeClass"), find(mdocs, "RuntimeClass")
    eq("RuntimeClass: handler as in the manifest", mrc["handler"], rc["handler"])
    eq("RuntimeClass: scheduling (the skiff.dev/enabled node label) as in the manifest",
       mrc["scheduling"], rc["scheduling"])
    eq("RuntimeClass: schedules onto skiff.dev/enabled=true", {"skiff.dev/enabled": "true"},
       rc["scheduling"]["nodeSelector"])

    nsd, mns = find(ddocs, "Namespace"), find(mdocs, "Namespace")
    eq("Namespace: pod security level as in the manifest",
       mns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
       nsd["metadata"]["labels"].get("pod-security.kubernetes.io/enforce"))
    cr, mcr = find(ddocs, "ClusterRole"), find(mdocs, "ClusterRole")
    eq("ClusterRole: rules as in the manifest", mcr["rules"], cr["rules"])
    crb = find(ddocs, "ClusterRoleBinding")
    eq("ClusterRoleBinding: binds the rendered ClusterRole", cr["metadata"]["name"],
       crb["roleRef"]["name"])
    eq("ClusterRoleBinding: subjects as in the manifest",
       find(mdocs, "ClusterRoleBinding")["subjects"], crb["subjects"])

    cm, mcm = find(ddocs, "ConfigMap", "skiff-node"), find(mdocs, "ConfigMap", "skiff-node")
    try:
        cfg = json.loads(cm["data"]["config.json"])
        mcfg = json.loads(mcm["data"]["config.json"])
        say(True, "ConfigMap: config.json is JSON")
    except (KeyError, ValueError) as e:
        say(False, "ConfigMap: config.json is JSON", e)
        cfg, mcfg = {}, {}
    diff = {k: (v, cfg.get(k)) for k, v in mcfg.items() if cfg.get(k) != v}
    say(mcfg and not diff, "ConfigMap: every key of the manifest's config.json has the same value",
        diff)
    eq("ConfigMap: prefetch.txt as in the manifest", mcm["data"]["prefetch.txt"],
       cm["data"]["prefetch.txt"])
    write(os.path.join(outdir, "default-config.json"), cm["data"].get("config.json", ""))
    write(os.path.join(outdir, "manifest-config.json"), mcm["data"]["config.json"])

    ds, mds = find(ddocs, "DaemonSet", "skiff-node"), find(mdocs, "DaemonSet", "skiff-node")
    compare_daemonset("DaemonSet skiff-node", ds, mds, "install")
    spec, mspec = pod_spec(ds), pod_spec(mds)
    sel = ds["spec"]["selector"]["matchLabels"]
    tl = ds["spec"]["template"]["metadata"]["labels"]
    say(all(tl.get(k) == v for k, v in sel.items()), "DaemonSet skiff-node: selector matches "
        "the pod template's labels", (sel, tl))
    eq("DaemonSet skiff-node: updateStrategy as in the manifest", mds["spec"]["updateStrategy"],
       ds["spec"]["updateStrategy"])
    ag, mag = container(spec, "agent"), container(mspec, "agent")
    for key in ("command", "ports", "livenessProbe", "readinessProbe", "resources",
                "securityContext", "volumeMounts", "image"):
        eq("DaemonSet skiff-node: agent container %s as in the manifest" % key, mag.get(key),
           ag.get(key))
    eq("DaemonSet skiff-node: agent's hostPath mounts as in the manifest",
       host_mounts(mspec, mag), host_mounts(spec, ag))
    files = config_files(spec, container(spec, "install", True))
    mfiles = config_files(mspec, container(mspec, "install", True))
    mnames = sorted(mcm["data"]) if mfiles == {"*": ("ConfigMap", "skiff-node", "*")} else mfiles
    eq("DaemonSet skiff-node: /config holds the files the manifest's ConfigMap volume does",
       mnames, sorted(files or {}))
    say(all(k == "ConfigMap" and n == "skiff-node" for k, n, _ in (files or {}).values()),
        "DaemonSet skiff-node: /config comes from the skiff-node ConfigMap", files)
    annotations = ds["spec"]["template"]["metadata"]["annotations"]
    eq("DaemonSet skiff-node: prometheus annotations as in the manifest",
       {k: v for k, v in mds["spec"]["template"]["metadata"]["annotations"].items()},
       {k: v for k, v in annotations.items() if k.startswith("prometheus.io/")})
    say(re.fullmatch(r"[0-9a-f]{64}", annotations.get("checksum/config", "")),
        "DaemonSet skiff-node: checksum/config annotation is a sha256", annotations)
    write(os.path.join(outdir, "default-install.args"),
          "\n".join(container(spec, "install", True)["command"]) + "\n")

    uds = find(udocs, "DaemonSet", "skiff-uninstall")
    muds = find(udocs_m, "DaemonSet", "skiff-uninstall")
    if not uds or not muds:
        say(False, "DaemonSet skiff-uninstall in the chart and in manifests/uninstall/", (uds, muds))
        return
    compare_daemonset("DaemonSet skiff-uninstall", uds, muds, "uninstall")
    eq("DaemonSet skiff-uninstall: no skiff-node DaemonSet next to it", None,
       find(udocs, "DaemonSet", "skiff-node"))
    say("skiff.dev/enabled" not in (pod_spec(uds).get("nodeSelector") or {}),
        "DaemonSet skiff-uninstall: not selected by the label uninstall removes",
        pod_spec(uds).get("nodeSelector"))


# ---- overrides --------------------------------------------------------------------------------------
def set_path(d, key, val):
    parts = key.split(".")
    for p in parts[:-1]:
        d = d.setdefault(p, {})
    d[parts[-1]] = int(val) if re.fullmatch(r"[1-9][0-9]*", val) else val


def overrides(rendered, default, values_file, outdir, sets):
    docs, ddocs = load(rendered), load(default)
    with open(values_file) as f:
        v = yaml.safe_load(f)
    for s in sets:
        k, _, val = s.partition("=")
        set_path(v, k, val)
    node, ctrd, gpu = v["node"], v["containerd"], v["gpu"]
    sec = find(docs, "Secret", "skiff-node-config")
    say(sec is not None, "overrides: credentials.hosts renders the node config as a Secret")
    cm = find(docs, "ConfigMap", "skiff-node")
    say("config.json" not in cm["data"], "overrides: ... and not into the ConfigMap",
        sorted(cm["data"]))
    lines = [l for l in cm["data"]["prefetch.txt"].splitlines() if l and not l.startswith("#")]
    eq("overrides: prefetch.txt lists the prefetch values", v["prefetch"], lines)
    try:
        cfg = json.loads((sec or {}).get("stringData", {}).get("config.json", ""))
    except ValueError as e:
        say(False, "overrides: the Secret's config.json is JSON", e)
        cfg = {}
    write(os.path.join(outdir, "override-config.json"),
          (sec or {}).get("stringData", {}).get("config.json", ""))
    eq("overrides: hub", node["hubURL"], cfg.get("hub"))
    eq("overrides: substituters", node["substituters"], cfg.get("substituters"))
    eq("overrides: trusted_public_keys", node["trustedPublicKeys"], cfg.get("trusted_public_keys"))
    eq("overrides: keep_generations (--set wins over the values file)",
       node["keepGenerations"], cfg.get("keep_generations"))
    eq("overrides: parallelism", node["parallelism"], cfg.get("parallelism"))
    eq("overrides: gc_max_size from storeSizeBudget", v["storeSizeBudget"], cfg.get("gc_max_size"))
    eq("overrides: credentials", v["credentials"]["hosts"], cfg.get("credentials"))
    for k, val in node["extraConfig"].items():
        eq("overrides: extraConfig `%s` merged" % k, val, cfg.get(k))
    eq("overrides: gpu settings", {"driver_root": gpu["driverRoot"],
                                   "accept_env_unprivileged": gpu["acceptEnvUnprivileged"],
                                   "cdi_dirs": gpu["cdiDirs"], "probe_cuda": gpu["probeCuda"]},
       cfg.get("gpu"))
    eq("overrides: defaults not overridden stay (store_root)", "/var/lib/skiff",
       cfg.get("store_root"))

    ds = find(docs, "DaemonSet", "skiff-node")
    spec = pod_spec(ds)
    init = container(spec, "install", True)
    f, _ = flags(init["command"])
    k3s_cfg = "/var/lib/rancher/k3s/agent/etc/containerd/config.toml"
    eq("overrides: installer --flavor", ctrd["flavor"], f.get("flavor"))
    eq("overrides: installer --restart", ctrd["restart"], f.get("restart"))
    eq("overrides: installer --containerd-config is k3s's", k3s_cfg, f.get("containerd-config"))
    eq("overrides: installer --wait-socket is k3s's", "/run/k3s/containerd/containerd.sock",
       f.get("wait-socket"))
    eq("overrides: installer --bin-dir", v["installDir"], f.get("bin-dir"))
    eq("overrides: installer --handler", v["runtimeClass"]["handler"], f.get("handler"))
    hm = host_mounts(spec, init)
    eq("overrides: hostPath mounts follow the flavour and the install dir", {
        "/host/var/lib/rancher/k3s/agent/etc/containerd": "/var/lib/rancher/k3s/agent/etc/containerd",
        "/host" + v["installDir"]: v["installDir"],
        "/host" + os.path.dirname(v["installDir"]) + "/lib/skiff":
            os.path.dirname(v["installDir"]) + "/lib/skiff",
        "/host/etc/skiff": "/etc/skiff",
        "/host/var/lib/skiff": "/var/lib/skiff",
        "/host/run/k3s/containerd": "/run/k3s/containerd"}, hm)
    files = config_files(spec, init)
    eq("overrides: /config/config.json comes from the Secret",
       ("Secret", "skiff-node-config", "config.json"), files.get("config.json"))
    eq("overrides: nodeSelector adds the values' selector",
       dict({"kubernetes.io/os": "linux"}, **v["nodeSelector"]), spec.get("nodeSelector"))
    eq("overrides: tolerations are the values' (no GPU taint toleration)", v["tolerations"],
       spec.get("tolerations"))
    img = init["image"]
    eq("overrides: image tag", "%s:%s" % (v["image"]["repository"], v["image"]["tag"]), img)
    agent = container(spec, "agent")
    port = v["agent"]["metricsPort"]
    say("--listen=0.0.0.0:%d" % port in agent["command"], "overrides: agent listens on metricsPort",
        agent["command"])
    eq("overrides: agent containerPort", port, agent["ports"][0]["containerPort"])
    eq("overrides: prometheus.io/port", str(port),
       ds["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"])
    dds = find(ddocs, "DaemonSet", "skiff-node")
    say(ds["spec"]["template"]["metadata"]["annotations"]["checksum/config"] !=
        dds["spec"]["template"]["metadata"]["annotations"]["checksum/config"],
        "overrides: checksum/config changes with the node config")
    rc = find(docs, "RuntimeClass")
    eq("overrides: RuntimeClass name", v["runtimeClass"]["name"], rc["metadata"]["name"])
    for d in docs:
        ns = d["metadata"].get("namespace")
        if ns is not None:
            eq("overrides: %s/%s in the release namespace" % (d["kind"], d["metadata"]["name"]),
               "kube-system", ns)
    write(os.path.join(outdir, "override-install.args"), "\n".join(init["command"]) + "\n")


def existing_secret(rendered, secret):
    docs = load(rendered)
    eq("existingSecret: no Secret rendered", None, find(docs, "Secret"))
    say("config.json" not in find(docs, "ConfigMap", "skiff-node")["data"],
        "existingSecret: no config.json in the ConfigMap")
    spec = pod_spec(find(docs, "DaemonSet", "skiff-node"))
    files = config_files(spec, container(spec, "install", True))
    eq("existingSecret: /config/config.json comes from the named Secret",
       ("Secret", secret, "config.json"), files.get("config.json"))
    eq("existingSecret: /config/prefetch.txt still from the ConfigMap",
       ("ConfigMap", "skiff-node", "prefetch.txt"), files.get("prefetch.txt"))


def rke2(rendered):
    spec = pod_spec(find(load(rendered), "DaemonSet", "skiff-node"))
    init = container(spec, "install", True)
    f, _ = flags(init["command"])
    eq("rke2: installer --containerd-config is RKE2's",
       "/var/lib/rancher/rke2/agent/etc/containerd/config.toml", f.get("containerd-config"))
    eq("rke2: the containerd config dir is mounted from RKE2's path",
       "/var/lib/rancher/rke2/agent/etc/containerd",
       host_mounts(spec, init).get("/host/var/lib/rancher/rke2/agent/etc/containerd"))
    eq("rke2: socket is /run/k3s/containerd", "/run/k3s/containerd/containerd.sock",
       f.get("wait-socket"))
    eq("rke2: ctr is RKE2's", "/var/lib/rancher/rke2/bin/ctr", f.get("ctr"))


if __name__ == "__main__":
    cmds = {"probe": probe, "manifests": manifests, "existing-secret": existing_secret,
            "rke2": rke2}
    if len(sys.argv) < 2 or sys.argv[1] not in list(cmds) + ["overrides"]:
        sys.exit(__doc__)
    try:
        if sys.argv[1] == "overrides":
            overrides(*sys.argv[2:6], sys.argv[6:])
        else:
            cmds[sys.argv[1]](*sys.argv[2:])
    except Exception:  # a missing object or field: a failed check, not a silent stop
        import traceback
        say(False, "chart-check.py %s completes" % sys.argv[1], traceback.format_exc())
        sys.exit(1)
