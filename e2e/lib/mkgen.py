#!/usr/bin/python3
"""Writes a signed generation document (skiff.dev/generation/v1) into a file:// hub, for tests.

Used by the imageless e2e tests when `skiff publish` is not available. The closure comes from the
narinfo files of a file:// binary cache (as written by `skiff cache add`): every package and
everything it references, with url/compression/fileHash/fileSize, so nodes need no narinfo
request.

usage: mkgen.py --hub DIR --cache DIR [--cache DIR]... --key SECRET_KEY_FILE --env owner/name --gen N
                [--pkg NAME=STORE_PATH[:PRIORITY]]... [--var K=V]... [--hook SCRIPT]
                [--live] [--no-closure] [--description TEXT] [--require NAME=CONSTRAINT]...
                [--ref STORE_PATH=REFERENCED_STORE_PATH]... [--system SYSTEM]

Signs with Python's `cryptography` when it is installed, otherwise with `skiff cache sign` (the
binary in $SKIFF_BIN, else `skiff` on PATH): the device machine's Python lacks `cryptography`.
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time

try:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
except ImportError:
    Ed25519PrivateKey = None


def sign(keyfile, data):
    """Returns the Nix-format signature line `name:base64` of data."""
    keytext = open(keyfile).read().strip()
    kname, _, kb64 = keytext.partition(":")
    if Ed25519PrivateKey is not None:
        seed = base64.b64decode(kb64)[:32]
        sig = Ed25519PrivateKey.from_private_bytes(seed).sign(data)
        return "%s:%s" % (kname, base64.b64encode(sig).decode())
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        out = subprocess.run([os.environ.get("SKIFF_BIN", "skiff"), "cache", "sign", f.name,
                              "--key", keyfile], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def read_narinfo(caches, base):
    path = None
    for cache in caches:
        path = os.path.join(cache, base[:32] + ".narinfo")
        if os.path.exists(path):
            break
    info = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition(": ")
            info[k] = v
    return info


def closure(cache, store_dir, roots, extra_refs=None):
    seen, todo, out = set(), list(roots), []
    extra_refs = extra_refs or {}
    while todo:
        p = todo.pop()
        base = os.path.basename(p)
        if base in seen:
            continue
        seen.add(base)
        ni = read_narinfo(cache, base)
        refs = [store_dir + "/" + r for r in ni.get("References", "").split() if r]
        refs += [r for r in extra_refs.get(store_dir + "/" + base, []) if r not in refs]
        out.append({
            "path": store_dir + "/" + base,
            "narHash": ni["NarHash"],
            "narSize": int(ni["NarSize"]),
            "references": sorted(refs),
            "url": ni["URL"],
            "compression": ni.get("Compression", "bzip2"),
            "fileHash": ni["FileHash"],
            "fileSize": int(ni["FileSize"]),
        })
        todo.extend(refs)
    return sorted(out, key=lambda e: e["path"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hub", required=True)
    ap.add_argument("--cache", action="append", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--env", required=True)
    ap.add_argument("--gen", type=int, required=True)
    ap.add_argument("--pkg", action="append", default=[])
    ap.add_argument("--var", action="append", default=[])
    ap.add_argument("--require", action="append", default=[])
    ap.add_argument("--hook")
    ap.add_argument("--ref", action="append", default=[],
                    help="PATH=REF: PATH references REF (`skiff cache add` records none)")
    ap.add_argument("--live", action="store_true")
    ap.add_argument("--no-closure", action="store_true")
    ap.add_argument("--description", default="")
    ap.add_argument("--store-dir", default="/nix/store")
    ap.add_argument("--system", default="x86_64-linux" if os.uname().machine == "x86_64"
                    else "aarch64-linux")
    a = ap.parse_args()

    pkgs = []
    for spec in a.pkg:
        name, _, rest = spec.partition("=")
        path, _, prio = rest.partition(":")
        pkgs.append({"name": name, "path": path, "priority": int(prio or 5)})
    system = {"store_dir": a.store_dir, "packages": pkgs}
    if not a.no_closure:
        extra = {}
        for r in a.ref:
            path, _, ref = r.partition("=")
            extra.setdefault(path, []).append(ref)
        system["closure"] = closure(a.cache, a.store_dir, [p["path"] for p in pkgs], extra)
    doc = {
        "schema": "skiff.dev/generation/v1",
        "environment": a.env,
        "generation": a.gen,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "systems": {a.system: system},
    }
    if a.description:
        doc["description"] = a.description
    if a.var:
        doc["vars"] = dict(v.split("=", 1) for v in a.var)
    if a.require:
        doc["requires"] = dict(r.split("=", 1) for r in a.require)
    if a.hook:
        doc["hook"] = {"on_activate": a.hook}
    data = (json.dumps(doc, indent=2, sort_keys=False) + "\n").encode()

    sigline = sign(a.key, data)

    d = os.path.join(a.hub, "skiff", "v1", a.env)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "%d.json" % a.gen), "wb") as f:
        f.write(data)
    with open(os.path.join(d, "%d.json.sig" % a.gen), "w") as f:
        f.write(sigline + "\n")
    if a.live:
        with open(os.path.join(d, "live"), "w") as f:
            f.write("%d\n" % a.gen)
    print(os.path.join(d, "%d.json" % a.gen))


if __name__ == "__main__":
    sys.exit(main())
